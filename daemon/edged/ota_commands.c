/* The OTA control commands and their JSON shapes (proto/control-protocol.md:
 * models.*, ota.*; the "ota" blocks of status and device). */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edge_time.h"
#include "edged.h"
#include "ota_internal.h"
#include "targets.h"

/* Largest file models.add reads: the largest head plus the largest model. */
#define OTA_PKG_FILE_MAX \
	((size_t)EDGE_OTA_HEADER_SIZE + EDGE_OTA_MANIFEST_MAX + EDGE_OTA_SIG_BLOCK_MAX + \
	 EDGE_OTA_MODEL_MAX)

static void put(json_t *obj, const char *key, json_t *value, bool *ok)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		*ok = false;
}

static json_t *finish_obj(json_t *o, bool ok)
{
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int oom(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "out of memory");
	return EDGE_CTL_E_INTERNAL;
}

/* The service, or why not: `unavailable` while it is missing or stopping. */
static struct edged_ota *service(void *ud, char *msg, size_t msglen)
{
	struct edged *d = ud;

	if (!d->ota || d->ota->stopping) {
		snprintf(msg, msglen, "the OTA service is not running");
		return NULL;
	}
	return d->ota;
}

/* ---- JSON shapes ---- */

json_t *ota_model_json(const struct edge_ota_model *m)
{
	const struct edge_ota_manifest *f = &m->manifest;
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	put(o, "digest", json_string(m->digest), &ok);
	put(o, "name", json_string(f->name), &ok);
	put(o, "version", json_string(f->version), &ok);
	put(o, "counter", json_integer((json_int_t)f->counter), &ok);
	put(o, "size", json_integer((json_int_t)f->size), &ok);
	put(o, "sha256", json_string(f->sha256), &ok);
	put(o, "pkg_size", json_integer((json_int_t)m->pkg_size), &ok);
	put(o, "added_ms", json_integer((json_int_t)m->added_ms), &ok);
	put(o, "runtime", json_string(f->runtime), &ok);
	put(o, "arena_bytes", json_integer((json_int_t)f->arena_bytes), &ok);
	put(o, "n_ops", json_integer(f->n_ops), &ok);
	put(o, "expires_ms", json_integer((json_int_t)f->expires_ms), &ok);
	put(o, "signers", json_integer(m->n_signers), &ok);
	return finish_obj(o, ok);
}

static json_t *tensors_json(const struct edge_ota_tensor *t, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++) {
		json_t *shape = json_array();
		json_t *e;

		for (unsigned k = 0; shape && k < t[i].rank; k++)
			if (json_array_append_new(shape, json_integer(t[i].shape[k])) < 0) {
				json_decref(shape);
				shape = NULL;
			}
		e = shape ? json_pack("{s:s, s:o, s:f, s:I}", "type", t[i].type, "shape", shape,
				      "scale", t[i].scale, "zero_point",
				      (json_int_t)t[i].zero_point)
			  : NULL;
		if (!e || json_array_append_new(a, e) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *manifest_json(const struct edge_ota_manifest *f)
{
	json_t *o = json_object(), *ops = json_array();
	bool ok = o && ops;

	for (unsigned i = 0; ok && i < f->n_ops; i++)
		if (json_array_append_new(ops, json_string(f->ops[i])) < 0)
			ok = false;
	if (!ok) {
		json_decref(o);
		json_decref(ops);
		return NULL;
	}
	put(o, "name", json_string(f->name), &ok);
	put(o, "version", json_string(f->version), &ok);
	put(o, "counter", json_integer((json_int_t)f->counter), &ok);
	put(o, "size", json_integer((json_int_t)f->size), &ok);
	put(o, "sha256", json_string(f->sha256), &ok);
	put(o, "runtime", json_string(f->runtime), &ok);
	put(o, "ops", ops, &ok);
	put(o, "arena_bytes", json_integer((json_int_t)f->arena_bytes), &ok);
	put(o, "inputs", tensors_json(f->inputs, f->n_inputs), &ok);
	put(o, "outputs", tensors_json(f->outputs, f->n_outputs), &ok);
	put(o, "expires_ms", json_integer((json_int_t)f->expires_ms), &ok);
	put(o, "selftest", json_pack("{s:I, s:s}", "seed", (json_int_t)f->selftest_seed,
				     "output_sha256", f->selftest_output_sha256), &ok);
	return finish_obj(o, ok);
}

json_t *ota_node_json(const struct edge_ota_node_status *st, uint32_t chunk_size,
		      uint64_t model_size, uint64_t now_wall_ms)
{
	uint64_t held = (uint64_t)st->chunks_held * chunk_size, end, rate = 0;
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	if (held > model_size)
		held = model_size; /* the last chunk is short */
	end = st->finished_ms ? st->finished_ms : now_wall_ms;
	if (st->started_ms && end > st->started_ms)
		rate = held * 1000 / (end - st->started_ms);
	put(o, "id", json_string(st->id), &ok);
	put(o, "state", json_string(edge_ota_node_state_name((enum edge_ota_node_state)st->state)),
	    &ok);
	put(o, "reason", json_string(edge_ota_reason_name((enum edge_ota_reason)st->reason)), &ok);
	put(o, "chunks_held", json_integer(st->chunks_held), &ok);
	put(o, "n_chunks", json_integer(st->n_chunks), &ok);
	put(o, "bytes_held", json_integer((json_int_t)held), &ok);
	put(o, "rate_bps", json_integer((json_int_t)rate), &ok);
	put(o, "unicast_chunks", json_integer(st->unicast_chunks), &ok);
	put(o, "retransmits", json_integer(st->retransmits), &ok);
	put(o, "offers", json_integer(st->offers), &ok);
	put(o, "srtt_ms", json_integer(st->srtt_ms), &ok);
	put(o, "rto_ms", json_integer(st->rto_ms), &ok);
	put(o, "started_ms", json_integer((json_int_t)st->started_ms), &ok);
	put(o, "updated_ms", json_integer((json_int_t)st->updated_ms), &ok);
	put(o, "finished_ms", json_integer((json_int_t)st->finished_ms), &ok);
	put(o, "output_sha256", json_string(st->output_sha256), &ok);
	put(o, "detail", json_string(st->detail), &ok);
	return finish_obj(o, ok);
}

struct nodes_ctx {
	const struct ota_xfer *x;
	json_t *arr;
	uint64_t wall;
	bool ok;
};

static int add_node_json(const struct edge_ota_node_status *st, void *ud)
{
	struct nodes_ctx *c = ud;
	json_t *n = ota_node_json(st, c->x->row.chunk_size, c->x->model.manifest.size, c->wall);

	if (!n || json_array_append_new(c->arr, n) < 0) {
		c->ok = false;
		return 1;
	}
	return 0;
}

json_t *ota_transfer_json(const struct edged_ota *o, const struct ota_xfer *x,
			  const char *state)
{
	const struct edge_ota_manifest *m = &x->model.manifest;
	struct edge_ota_sender_stats ss;
	struct nodes_ctx c = { .x = x, .arr = json_array(), .wall = ota_wall_ms(), .ok = true };
	json_t *t = json_object(), *counts = json_object();
	bool ok = t && counts && c.arr;

	(void)o;
	if (!ok) {
		json_decref(t);
		json_decref(counts);
		json_decref(c.arr);
		return NULL;
	}
	edge_ota_sender_get_stats(x->sender, &ss);
	edge_ota_sender_foreach(x->sender, add_node_json, &c);
	for (int i = 0; i < EDGE_OTA_N_STATE_COUNT; i++)
		put(counts, edge_ota_node_state_name((enum edge_ota_node_state)i),
		    json_integer(ss.by_state[i]), &ok);
	put(t, "transfer", json_integer(x->row.id), &ok);
	put(t, "model", json_pack("{s:s, s:s, s:s, s:s}", "name", m->name, "version", m->version,
				  "digest", x->row.digest, "sha256", m->sha256), &ok);
	put(t, "chunk_size", json_integer(x->row.chunk_size), &ok);
	put(t, "n_chunks", json_integer(edge_ota_sender_n_chunks(x->sender)), &ok);
	put(t, "campaign", json_boolean(x->row.campaign), &ok);
	put(t, "state", json_string(state), &ok);
	put(t, "created_ms", json_integer((json_int_t)x->row.created_ms), &ok);
	put(t, "finished_ms", json_integer((json_int_t)x->row.finished_ms), &ok);
	put(t, "counts", counts, &ok);
	put(t, "stats", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "campaign_chunks",
				  (json_int_t)ss.campaign_chunks, "campaign_bytes",
				  (json_int_t)ss.campaign_bytes, "unicast_chunks",
				  (json_int_t)ss.unicast_chunks, "unicast_bytes",
				  (json_int_t)ss.unicast_bytes, "retransmits",
				  (json_int_t)ss.retransmits, "offers", (json_int_t)ss.offers), &ok);
	if (!c.ok)
		ok = false;
	put(t, "nodes", c.arr, &ok);
	return finish_obj(t, ok);
}

json_t *edged_ota_status_json(const struct edged_ota *o)
{
	struct edged_ota_stats st = { 0 };
	json_t *j = json_object(), *reasons = json_object();
	bool ok = j && reasons;

	if (!ok) {
		json_decref(j);
		json_decref(reasons);
		return NULL;
	}
	if (o)
		edged_ota_get_stats(o, &st);
	/* Every reason, zero or not: scripts can rely on the keys. */
	for (int i = 0; i < EDGE_OTA_R_COUNT; i++)
		put(reasons, edge_ota_reason_name((enum edge_ota_reason)i),
		    json_integer((json_int_t)st.reasons[i]), &ok);
	put(j, "trusted_keys", json_integer(o && o->trust ? o->trust->t.n : 0), &ok);
	put(j, "models", json_integer(st.models), &ok);
	put(j, "transfers_open", json_integer(st.transfers_open), &ok);
	put(j, "transfers_total", json_integer((json_int_t)st.transfers_total), &ok);
	put(j, "nodes_activated", json_integer((json_int_t)st.nodes_activated), &ok);
	put(j, "nodes_reverted", json_integer((json_int_t)st.nodes_reverted), &ok);
	put(j, "reverts_sent", json_integer((json_int_t)st.reverts_sent), &ok);
	put(j, "nodes_failed", json_integer((json_int_t)st.nodes_failed), &ok);
	put(j, "nodes_denied", json_integer((json_int_t)st.nodes_denied), &ok);
	put(j, "nodes_cancelled", json_integer((json_int_t)st.nodes_cancelled), &ok);
	put(j, "bad_answers", json_integer((json_int_t)st.bad_answers), &ok);
	put(j, "frames_lost", json_integer((json_int_t)st.frames_lost), &ok);
	put(j, "store_failures", json_integer((json_int_t)st.store_failures), &ok);
	put(j, "reasons", reasons, &ok);
	return finish_obj(j, ok);
}

static json_t *model_ref_json(const char *name, const char *version, const char *sha256)
{
	if (!name[0])
		return json_null();
	return json_pack("{s:s, s:s, s:s}", "name", name, "version", version, "sha256", sha256);
}

json_t *edged_ota_device_json(const struct edged_ota *o, const char *id)
{
	const struct edge_ota_device_row *r = o ? ota_dev_find(o, id) : NULL;
	static const struct edge_ota_device_row none;

	if (!r)
		r = &none;
	return json_pack("{s:o, s:o, s:I, s:s?, s:s?}", "active",
			 model_ref_json(r->active_name, r->active_version, r->active_sha256),
			 "previous",
			 model_ref_json(r->previous_name, r->previous_version, r->previous_sha256),
			 "last_transfer", (json_int_t)r->last_transfer, "last_outcome",
			 r->last_outcome[0] ? r->last_outcome : NULL, "last_reason",
			 r->last_reason[0] ? r->last_reason : NULL);
}

/* ---- model references ---- */

static const struct edge_ota_model *resolve_model(struct edged_ota *o, json_t *args, int *code,
						  char *msg, size_t msglen)
{
	json_t *jref = json_object_get(args, "model");
	const struct edge_ota_model *m;
	bool ambiguous = false;

	if (!json_is_string(jref) || json_string_length(jref) == 0) {
		snprintf(msg, msglen, "missing model reference (args.model): a digest or sha256 "
			 "prefix, name@version or name");
		*code = EDGE_CTL_E_BAD_ARGS;
		return NULL;
	}
	m = edge_ota_catalog_find(o->catalog, json_string_value(jref), &ambiguous);
	if (!m) {
		snprintf(msg, msglen, ambiguous ? "'%.80s' matches several models: give more digits"
						: "no stored model '%.80s'",
			 json_string_value(jref));
		*code = ambiguous ? EDGE_CTL_E_AMBIGUOUS : EDGE_CTL_E_NOT_FOUND;
	}
	return m;
}

/* ---- models.list, models.show ---- */

int edged_ota_cmd_models_list(void *ud, json_t *args, json_t **result, char *msg,
			      size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	const struct edge_ota_model **v;
	unsigned n;
	json_t *list;

	(void)args;
	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	n = edge_ota_catalog_count(o->catalog);
	v = malloc((n ? n : 1) * sizeof *v);
	list = json_array();
	if (!v || !list) {
		free(v);
		json_decref(list);
		return oom(msg, msglen);
	}
	for (unsigned i = 0; i < n; i++)
		v[i] = edge_ota_catalog_at(o->catalog, i);
	/* Name, then counter (insertion sort: a catalog holds a few models). */
	for (unsigned i = 1; i < n; i++) {
		const struct edge_ota_model *k = v[i];
		unsigned j = i;

		while (j > 0) {
			int c = strcmp(v[j - 1]->manifest.name, k->manifest.name);

			if (c < 0 || (c == 0 && v[j - 1]->manifest.counter <= k->manifest.counter))
				break;
			v[j] = v[j - 1];
			j--;
		}
		v[j] = k;
	}
	for (unsigned i = 0; i < n; i++)
		if (json_array_append_new(list, ota_model_json(v[i])) < 0) {
			free(v);
			json_decref(list);
			return oom(msg, msglen);
		}
	free(v);
	*result = json_pack("{s:o}", "models", list);
	return *result ? 0 : oom(msg, msglen);
}

int edged_ota_cmd_models_show(void *ud, json_t *args, json_t **result, char *msg,
			      size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	const struct edge_ota_model *m;
	json_t *j, *signers, *transfers, *mj;
	int code = 0;
	bool ok = true;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	m = resolve_model(o, args, &code, msg, msglen);
	if (!m)
		return code;
	j = json_object();
	signers = json_array();
	transfers = json_array();
	if (!j || !signers || !transfers) {
		json_decref(j);
		json_decref(signers);
		json_decref(transfers);
		return oom(msg, msglen);
	}
	/* MODEL with its whole manifest inside. */
	mj = ota_model_json(m);
	if (mj)
		put(mj, "manifest", manifest_json(&m->manifest), &ok);
	put(j, "model", mj, &ok);
	for (unsigned i = 0; ok && i < m->n_signers; i++) {
		char hex[2 * EDGE_OTA_KEY_ID_LEN + 1];
		const struct edge_ota_key *k =
			o->trust ? edge_ota_trust_find(&o->trust->t, m->signers[i]) : NULL;

		json_t *sj = json_object();

		edge_ota_hex(m->signers[i], EDGE_OTA_KEY_ID_LEN, hex);
		if (!sj) {
			ok = false;
			break;
		}
		put(sj, "key_id", json_string(hex), &ok);
		put(sj, "alg", json_string(k ? edge_ota_alg_name(edge_ota_key_alg(k)) : "unknown"),
		    &ok);
		put(sj, "trusted", json_boolean(k != NULL), &ok);
		if (json_array_append_new(signers, sj) < 0)
			ok = false;
	}
	for (const struct ota_xfer *x = o->xfers; ok && x; x = x->next)
		if (strcmp(x->row.digest, m->digest) == 0 &&
		    json_array_append_new(transfers, json_integer(x->row.id)) < 0)
			ok = false;
	put(j, "signers", signers, &ok);
	put(j, "transfers", transfers, &ok);
	if (!ok) {
		json_decref(j);
		return oom(msg, msglen);
	}
	*result = j;
	return 0;
}

/* ---- models.add ---- */

struct add_job {
	uv_work_t work;
	struct edged_ota *o;
	struct edged_ctl_call *call;
	struct ota_trust *trust;
	unsigned threshold;
	uint64_t wall_ms;
	char path[EDGE_CONFIG_PATH_MAX];
	char dir[EDGE_CONFIG_PATH_MAX];
	/* results of the pool stage */
	int code;                       /* enum edge_ctl_error, 0: verified and written */
	char msg[2 * EDGE_CONFIG_PATH_MAX + 512];
	const char *reason;             /* refused: the verdict's name */
	uint8_t *buf;
	size_t len;
	const uint8_t *manifest;        /* into buf */
	size_t manifest_len;
	struct edge_ota_model model;
	struct edge_ota_verify_result vr;
};

static void add_job_free(struct add_job *j)
{
	ota_trust_unref(j->trust);
	free(j->buf);
	free(j);
}

/* Reads at most OTA_PKG_FILE_MAX bytes of path. 0, or a ctl code with msg. */
static int read_package(struct add_job *j)
{
	struct stat sb;
	size_t got = 0;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(j->msg, sizeof j->msg, "cannot open %s: %s", j->path, strerror(errno));
		return EDGE_CTL_E_IO;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(j->msg, sizeof j->msg, "%s: %s", j->path,
			 S_ISREG(sb.st_mode) ? strerror(errno) : "not a regular file");
		close(fd);
		return EDGE_CTL_E_IO;
	}
	if ((uint64_t)sb.st_size > OTA_PKG_FILE_MAX) {
		snprintf(j->msg, sizeof j->msg, "%s: %lld bytes, a package has at most %zu",
			 j->path, (long long)sb.st_size, OTA_PKG_FILE_MAX);
		close(fd);
		return EDGE_CTL_E_TOO_LARGE;
	}
	j->buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!j->buf) {
		close(fd);
		snprintf(j->msg, sizeof j->msg, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, j->buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(j->msg, sizeof j->msg, "read %s: %s", j->path,
				 n < 0 ? strerror(errno) : "file shrank while read");
			close(fd);
			return EDGE_CTL_E_IO;
		}
		got += (size_t)n;
	}
	close(fd);
	j->len = got;
	return 0;
}

/* On libuv's pool: read, verify, hash, write content-addressed. */
static void add_work(uv_work_t *w)
{
	struct add_job *j = w->data;
	struct edge_ota_container c;
	struct edge_msg_error perr = { 0 };
	uint8_t digest[32];
	int rc;

	j->code = read_package(j);
	if (j->code)
		return;
	rc = edge_ota_verify(j->buf, j->len, &j->trust->t, j->threshold, j->wall_ms, &j->vr);
	if (rc < 0) {
		snprintf(j->msg, sizeof j->msg, "verification could not run: %s", edge_strerror(rc));
		j->code = EDGE_CTL_E_INTERNAL;
		return;
	}
	if (j->vr.verdict != EDGE_OTA_OK) {
		j->reason = edge_ota_verdict_name(j->vr.verdict);
		snprintf(j->msg, sizeof j->msg, "%s refused: %s%s%s", j->path, j->reason,
			 j->vr.detail[0] ? ": " : "", j->vr.detail);
		j->code = EDGE_CTL_E_REFUSED;
		return;
	}
	/* Verified: the container parses. */
	if (edge_ota_container_parse(j->buf, j->len, &c, &perr) < 0 ||
	    edge_ota_sha256(j->buf, j->len, digest) < 0) {
		snprintf(j->msg, sizeof j->msg, "%s: cannot hash the package", j->path);
		j->code = EDGE_CTL_E_INTERNAL;
		return;
	}
	j->manifest = c.manifest;
	j->manifest_len = c.manifest_len;
	edge_ota_hex(digest, sizeof digest, j->model.digest);
	j->model.manifest = j->vr.manifest;
	j->model.pkg_size = j->len;
	j->model.added_ms = (int64_t)j->wall_ms;
	j->model.n_signers = c.n_sigs;
	for (unsigned i = 0; i < c.n_sigs && i < EDGE_OTA_SIGS_MAX; i++)
		memcpy(j->model.signers[i], c.sigs[i].key_id, EDGE_OTA_KEY_ID_LEN);
}

/* The second pool stage, once the catalog took no objection: the file,
 * content-addressed. */
static void add_write_work(uv_work_t *w)
{
	struct add_job *j = w->data;
	char err[256] = "";
	int rc = edge_ota_store_write_file(j->dir, j->model.digest, j->buf, j->len, err,
					  sizeof err);

	if (rc < 0) {
		snprintf(j->msg, sizeof j->msg, "cannot store the package in %s: %s", j->dir,
			 err[0] ? err : strerror(-rc));
		j->code = EDGE_CTL_E_IO;
	}
}

static void add_finish(struct add_job *j, int code, const char *msg)
{
	json_t *extra = NULL;

	if (code == 0) {
		edge_log(EDGE_LOG_NOTICE, "ota", "model %s@%s (counter %llu, %s) added",
			 j->model.manifest.name, j->model.manifest.version,
			 (unsigned long long)j->model.manifest.counter, j->model.digest);
		edged_ctl_call_finish(j->call, 0, json_pack("{s:o}", "model",
							    ota_model_json(&j->model)), NULL);
		return;
	}
	if (code == EDGE_CTL_E_REFUSED && j->reason)
		extra = json_pack("{s:s}", "reason", j->reason);
	edge_log(EDGE_LOG_NOTICE, "ota", "models.add %s: %s", j->path, msg);
	edged_ctl_call_finish(j->call, code, extra, msg);
}

/* Removing a package file (unlink and the directory's fsync) on the pool:
 * on an SD card either can take long. A failure leaves an orphan file,
 * logged; nothing refers to it. */
struct unlink_job {
	uv_work_t work;
	struct edged_ota *o;
	struct edged_ctl_call *call;    /* answered once the file is gone, or NULL */
	json_t *result;                 /* its answer (owned) */
	char dir[EDGE_CONFIG_PATH_MAX];
	char digest[EDGE_OTA_DIGEST_HEX + 1];
	int rc;
};

static void unlink_work(uv_work_t *w)
{
	struct unlink_job *j = w->data;

	j->rc = edge_ota_store_unlink_file(j->dir, j->digest);
}

static void unlink_after(uv_work_t *w, int status)
{
	struct unlink_job *j = w->data;

	if (status == 0 && j->rc < 0)
		edge_log(EDGE_LOG_WARNING, "ota", "package %s/%s.pkg not removed: %s", j->dir,
			 j->digest, edge_strerror(j->rc));
	j->o->unlinks--;
	if (j->call)
		edged_ctl_call_finish(j->call, 0, j->result, NULL);
	(void)ota_job_end(j->o);
	free(j);
}

/* Remove digest's file on the pool; then answer call (may be NULL) with
 * result (owned). */
static void unlink_later(struct edged_ota *o, const char *digest, struct edged_ctl_call *call,
			 json_t *result)
{
	struct unlink_job *j = calloc(1, sizeof(*j));

	if (j) {
		j->o = o;
		j->call = call;
		j->result = result;
		j->work.data = j;
		snprintf(j->dir, sizeof j->dir, "%s", o->models_dir);
		snprintf(j->digest, sizeof j->digest, "%s", digest);
	}
	if (!j || uv_queue_work(o->loop, &j->work, unlink_work, unlink_after) != 0) {
		/* The file stays (an orphan nothing refers to). */
		free(j);
		if (call)
			edged_ctl_call_finish(call, 0, result, NULL);
		else
			json_decref(result);
		return;
	}
	o->unlinks++;
	ota_job_begin(o);
}

/* A stored file no model refers to (the insert was refused). */
static void drop_orphan(struct edged_ota *o, const char *digest)
{
	if (!edge_ota_catalog_find(o->catalog, digest, NULL))
		unlink_later(o, digest, NULL, NULL);
}

/* Answer a refusal of the catalog or the store. */
static void add_finish_refusal(struct add_job *j, int rc)
{
	struct edged_ota *o = j->o;
	char msg[512];

	if (rc == -EEXIST) {
		snprintf(msg, sizeof msg, "model %s@%s (or this very package) is stored already",
			 j->model.manifest.name, j->model.manifest.version);
		add_finish(j, EDGE_CTL_E_EXISTS, msg);
	} else if (rc == EDGE_OTA_EROLLBACK) {
		snprintf(msg, sizeof msg, "counter %llu of %s is below the accepted counter %llu",
			 (unsigned long long)j->model.manifest.counter, j->model.manifest.name,
			 (unsigned long long)edge_ota_catalog_counter(o->catalog,
								       j->model.manifest.name));
		add_finish(j, EDGE_CTL_E_ROLLBACK, msg);
	} else {
		snprintf(msg, sizeof msg, "model not stored: %s", edge_strerror(rc));
		add_finish(j, rc == EDGE_ELIMIT ? EDGE_CTL_E_BUSY : EDGE_CTL_E_INTERNAL, msg);
	}
}

/* A refusal after the file was written: it goes too. */
static void add_refusal(struct add_job *j, int rc)
{
	add_finish_refusal(j, rc);
	drop_orphan(j->o, j->model.digest);
}

static int add_op_run(edge_store_conn *conn, void *ud)
{
	struct add_job *j = ud;

	return edge_ota_store_add_op(conn, &j->model, j->manifest, j->manifest_len);
}

static void add_op_done(int result, void *ud)
{
	struct add_job *j = ud;
	int rc;

	if (result == 0) {
		rc = edge_ota_catalog_add(j->o->catalog, &j->model);
		if (rc < 0) {
			/* Stored, but not visible until the next start. */
			add_finish(j, EDGE_CTL_E_INTERNAL, "model stored, catalog not updated: out "
				   "of memory");
		} else {
			add_finish(j, 0, NULL);
		}
	} else {
		add_refusal(j, result);
	}
	add_job_free(j);
}

static void add_write_after(uv_work_t *w, int status);

/* After a pool stage: true when the job ends here (its pool work failed or
 * was cancelled, or edged is stopping), answered. */
static bool add_stage_ended(struct add_job *j, int status)
{
	if (status < 0 && !j->code) {
		j->code = EDGE_CTL_E_UNAVAILABLE;
		snprintf(j->msg, sizeof j->msg, "cancelled");
	}
	if (j->code) {
		add_finish(j, j->code, j->msg);
		return true;
	}
	if (j->o->stopping) {
		add_finish(j, EDGE_CTL_E_UNAVAILABLE, "edged is stopping");
		return true;
	}
	return false;
}

static void add_after(uv_work_t *w, int status)
{
	struct add_job *j = w->data;
	struct edged_ota *o = j->o;
	int rc;

	if (add_stage_ended(j, status))
		goto out;
	/* Before anything is written: a refusal here leaves no file. */
	rc = edge_ota_catalog_check_add(o->catalog, &j->model);
	if (rc < 0) {
		add_finish_refusal(j, rc);
		goto out;
	}
	rc = uv_queue_work(o->loop, &j->work, add_write_work, add_write_after);
	if (rc < 0) {
		add_finish(j, EDGE_CTL_E_INTERNAL, "cannot queue the package's write");
		goto out;
	}
	return; /* the job (and its ota_job_begin) goes on in add_write_after */
out:
	add_job_free(j);
	(void)ota_job_end(o);
}

static void add_write_after(uv_work_t *w, int status)
{
	struct add_job *j = w->data;
	struct edged_ota *o = j->o;
	int rc;

	if (add_stage_ended(j, status)) {
		if (!j->code)
			drop_orphan(o, j->model.digest);  /* written, never inserted */
		goto out;
	}
	rc = edge_store_submit(o->store, add_op_run, add_op_done, j);
	if (rc < 0) {
		add_refusal(j, rc);
		goto out;
	}
	(void)ota_job_end(o);
	return; /* add_op_done finishes it */
out:
	add_job_free(j);
	(void)ota_job_end(o);
}

int edged_ota_cmd_models_add(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			     size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	json_t *jpath = json_object_get(args, "path");
	struct add_job *j;
	int rc;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (!json_is_string(jpath) || json_string_value(jpath)[0] != '/' ||
	    json_string_length(jpath) >= sizeof j->path) {
		snprintf(msg, msglen, "args.path must be the absolute path of a package file");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (!o->trust) {
		snprintf(msg, msglen, "no trusted model-signing key (ota.trust_dir): packages "
			 "cannot be verified");
		return EDGE_CTL_E_NO_TRUST;
	}
	if (o->unlinks > 0) {
		/* A removed or refused package's file is being deleted: the
		 * same file written now could be deleted after it. */
		snprintf(msg, msglen, "a package file is being removed; try again");
		return EDGE_CTL_E_BUSY;
	}
	j = calloc(1, sizeof *j);
	if (!j)
		return oom(msg, msglen);
	j->work.data = j;
	j->o = o;
	j->call = call;
	j->trust = ota_trust_ref(o->trust);
	j->threshold = o->threshold;
	j->wall_ms = ota_wall_ms();
	snprintf(j->path, sizeof j->path, "%s", json_string_value(jpath));
	snprintf(j->dir, sizeof j->dir, "%s", o->models_dir);
	rc = uv_queue_work(o->loop, &j->work, add_work, add_after);
	if (rc < 0) {
		add_job_free(j);
		snprintf(msg, msglen, "%s", uv_strerror(rc));
		return EDGE_CTL_E_INTERNAL;
	}
	ota_job_begin(o);
	return 0;
}

/* ---- models.remove ---- */

struct remove_op {
	struct edged_ota *o;
	struct edged_ctl_call *call;
	char digest[EDGE_OTA_DIGEST_HEX + 1];
};

static int remove_op_run(edge_store_conn *conn, void *ud)
{
	struct remove_op *op = ud;

	return edge_ota_store_remove_op(conn, op->digest);
}

static void remove_op_done(int result, void *ud)
{
	struct remove_op *op = ud;
	struct edged_ota *o = op->o;
	char msg[256];

	if (result < 0 && result != EDGE_ENOTFOUND) {
		snprintf(msg, sizeof msg, "model not removed: %s", edge_strerror(result));
		edged_ctl_call_finish(op->call, EDGE_CTL_E_INTERNAL, NULL, msg);
	} else {
		edge_ota_catalog_remove(o->catalog, op->digest);
		edge_log(EDGE_LOG_NOTICE, "ota", "model %s removed", op->digest);
		/* answered once the file is gone: a models.add that follows
		 * never races the deletion */
		unlink_later(o, op->digest, op->call, json_pack("{s:s}", "removed", op->digest));
	}
	free(op);
}

int edged_ota_cmd_models_remove(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
				size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	const struct edge_ota_model *m;
	struct remove_op *op;
	int code = 0, rc;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	m = resolve_model(o, args, &code, msg, msglen);
	if (!m)
		return code;
	if (ota_digest_in_use(o, m->digest) || o->sends_pending) {
		snprintf(msg, msglen, "model %s@%s is being sent (ota.status); cancel first",
			 m->manifest.name, m->manifest.version);
		return EDGE_CTL_E_IN_USE;
	}
	op = calloc(1, sizeof *op);
	if (!op)
		return oom(msg, msglen);
	op->o = o;
	op->call = call;
	snprintf(op->digest, sizeof op->digest, "%s", m->digest);
	rc = edge_store_submit(o->store, remove_op_run, remove_op_done, op);
	if (rc < 0) {
		free(op);
		snprintf(msg, msglen, "%s", rc == EDGE_ELIMIT ? "the database queue is full; try again"
							      : edge_strerror(rc));
		return rc == EDGE_ELIMIT ? EDGE_CTL_E_BUSY : EDGE_CTL_E_INTERNAL;
	}
	return 0;
}

/* ---- models.fit ---- */

struct fit_ctx {
	const struct edge_ota_model *m;
	const char *tag; /* only nodes with this tag; NULL: all */
	json_t *fit, *unfit;
	bool ok;
};

static int fit_node(const struct edge_node_info *node, void *ud)
{
	struct fit_ctx *c = ud;
	char detail[256] = "";
	enum edge_ota_reason r;
	int rc;

	if (c->tag && !edge_registry_has_tag(node, c->tag))
		return 0;
	r = edge_ota_fit(&c->m->manifest, node, detail, sizeof detail);
	if (r == EDGE_OTA_R_OK)
		rc = json_array_append_new(c->fit, json_string(node->id));
	else
		rc = json_array_append_new(c->unfit,
					   json_pack("{s:s, s:s, s:s}", "id", node->id, "reason",
						     edge_ota_reason_name(r), "detail", detail));
	if (rc < 0) {
		c->ok = false;
		return 1;
	}
	return 0;
}

int edged_ota_cmd_models_fit(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	struct fit_ctx c = { .ok = true };
	int code = 0;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	code = edged_tag_filter_arg(args, &c.tag, msg, msglen);
	if (code)
		return code;
	c.m = resolve_model(o, args, &code, msg, msglen);
	if (!c.m)
		return code;
	c.fit = json_array();
	c.unfit = json_array();
	if (c.fit && c.unfit)
		(void)edge_registry_foreach(o->registry,
					    EDGE_NODE_MASK_ALL & ~EDGE_NODE_MASK(EDGE_NODE_REVOKED),
					    fit_node, &c);
	if (!c.fit || !c.unfit || !c.ok) {
		json_decref(c.fit);
		json_decref(c.unfit);
		return oom(msg, msglen);
	}
	*result = json_pack("{s:o, s:o}", "fit", c.fit, "unfit", c.unfit);
	return *result ? 0 : oom(msg, msglen);
}

/* ---- ota.send ---- */

struct send_job {
	uv_work_t work;
	struct edged_ota *o;
	struct edged_ctl_call *call;
	struct edge_ota_model model;
	struct edge_ota_sender_config cfg;
	char dir[EDGE_CONFIG_PATH_MAX];
	char (*ids)[EDGE_OTA_NODE_ID_MAX + 1];
	unsigned n_ids, cap_ids;
	json_t *skipped;
	/* the package read on the pool */
	uint8_t *buf;
	size_t len;
	int rc;
	char err[256];
};

static void send_job_free(struct send_job *j)
{
	json_decref(j->skipped);
	free(j->ids);
	free(j->buf);
	free(j);
}

static int skip(struct send_job *j, const char *id, enum edge_ota_reason r, const char *name,
		const char *detail)
{
	return json_array_append_new(j->skipped,
				     json_pack("{s:s, s:s, s:s}", "id", id, "reason",
					       name ? name : edge_ota_reason_name(r), "detail",
					       detail ? detail : ""));
}

/* Decide one target the resolver (targets.h) found: a registered node that
 * is not revoked, named once. Added to ids, or to skipped with its reason. */
static int consider_target(struct send_job *j, const char *id)
{
	struct edged_ota *o = j->o;
	struct edge_node_info node;
	struct ota_xfer *busy;
	char detail[256] = "";
	enum edge_ota_reason r;
	int rc = edge_registry_get(o->registry, id, &node);

	_Static_assert(EDGE_OTA_NODE_ID_MAX >= EDGE_REGISTRY_ID_MAX, "a node id fits");
	/* resolved in this same loop turn: nothing can have changed */
	assert(rc == 0 && node.state != EDGE_NODE_REVOKED);
	if (rc < 0)
		return skip(j, id, EDGE_OTA_R_OK, "unknown_node", "not registered");
	busy = ota_xfer_of_node(o, id);
	if (busy) {
		snprintf(detail, sizeof detail, "in transfer %u", busy->row.id);
		return skip(j, id, EDGE_OTA_R_BUSY, NULL, detail);
	}
	r = edge_ota_fit(&j->model.manifest, &node, detail, sizeof detail);
	if (r != EDGE_OTA_R_OK)
		return skip(j, id, r, NULL, detail);
	if (j->n_ids == j->cap_ids) {
		unsigned cap = j->cap_ids ? 2 * j->cap_ids : 16;
		void *n = realloc(j->ids, cap * sizeof j->ids[0]);

		if (!n)
			return -ENOMEM;
		j->ids = n;
		j->cap_ids = cap;
	}
	snprintf(j->ids[j->n_ids++], sizeof j->ids[0], "%s", id);
	return 0;
}

/* Everything is checked again here: the package read took time. */
static void send_start(struct send_job *j, struct ota_pkg *pkg)
{
	struct edged_ota *o = j->o;
	struct ota_xfer *x;
	json_t *nodes;
	char msg[256];
	unsigned k = 0;
	int rc;

	for (unsigned i = 0; i < j->n_ids; i++) {
		struct ota_xfer *busy = ota_xfer_of_node(o, j->ids[i]);

		if (busy) {
			snprintf(msg, sizeof msg, "in transfer %u", busy->row.id);
			(void)skip(j, j->ids[i], EDGE_OTA_R_BUSY, NULL, msg);
			continue;
		}
		memmove(j->ids[k++], j->ids[i], sizeof j->ids[0]);
	}
	j->n_ids = k;
	if (j->n_ids == 0) {
		edged_ctl_call_finish(j->call, EDGE_CTL_E_NO_TARGET,
				      json_pack("{s:O}", "skipped", j->skipped),
				      "no node left to send to (see skipped)");
		return;
	}
	if (o->n_open >= o->max_transfers) {
		snprintf(msg, sizeof msg, "%u transfers running (ota.max_transfers)", o->n_open);
		edged_ctl_call_finish(j->call, EDGE_CTL_E_BUSY, NULL, msg);
		return;
	}
	if (!edge_ota_catalog_find(o->catalog, j->model.digest, NULL)) {
		edged_ctl_call_finish(j->call, EDGE_CTL_E_NOT_FOUND, NULL,
				      "the model was removed meanwhile");
		return;
	}
	rc = ota_xfer_start(o, &j->model, pkg, &j->cfg, j->ids, j->n_ids, &x);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "transfer not started: %s", edge_strerror(rc));
		edged_ctl_call_finish(j->call, EDGE_CTL_E_INTERNAL, NULL, msg);
		return;
	}
	nodes = json_array();
	for (unsigned i = 0; nodes && i < j->n_ids; i++)
		(void)json_array_append_new(nodes, json_string(j->ids[i]));
	edged_ctl_call_finish(j->call, 0,
			      json_pack("{s:I, s:o, s:O}", "transfer", (json_int_t)x->row.id,
					"nodes", nodes ? nodes : json_array(), "skipped",
					j->skipped),
			      NULL);
}

static void send_work(uv_work_t *w)
{
	struct send_job *j = w->data;

	j->rc = edge_ota_store_read_file(j->dir, j->model.digest, (size_t)j->model.pkg_size,
					 &j->buf, &j->len, j->err, sizeof j->err);
}

static void send_after(uv_work_t *w, int status)
{
	struct send_job *j = w->data;
	struct edged_ota *o = j->o;
	struct ota_pkg *pkg;
	char msg[512];

	assert(o->sends_pending > 0);
	o->sends_pending--;
	if (status < 0 || o->stopping || o->freeing) {
		edged_ctl_call_finish(j->call, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
		goto out;
	}
	if (j->rc < 0) {
		snprintf(msg, sizeof msg, "cannot read the stored package: %s",
			 j->err[0] ? j->err : edge_strerror(j->rc));
		edged_ctl_call_finish(j->call, EDGE_CTL_E_IO, NULL, msg);
		goto out;
	}
	/* Another send may have read the same package meanwhile. */
	pkg = ota_pkg_find(o, j->model.digest);
	if (!pkg) {
		pkg = ota_pkg_add(o, j->model.digest, j->buf, j->len);
		j->buf = NULL;
		if (!pkg) {
			edged_ctl_call_finish(j->call, EDGE_CTL_E_INTERNAL, NULL, "out of memory");
			goto out;
		}
	}
	pkg->refs++; /* held across send_start */
	send_start(j, pkg);
	ota_pkg_unref(o, pkg);
out:
	send_job_free(j);
	(void)ota_job_end(o);
}

static int get_uint(json_t *args, const char *key, uint32_t lo, uint32_t hi, uint32_t *v,
		    char *msg, size_t msglen)
{
	json_t *j = json_object_get(args, key);

	if (!j)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi) {
		snprintf(msg, msglen, "args.%s must be an integer in %u..%u", key, lo, hi);
		return EDGE_CTL_E_BAD_ARGS;
	}
	*v = (uint32_t)json_integer_value(j);
	return 0;
}

int edged_ota_cmd_send(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		       size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	const struct edge_ota_model *m;
	json_t *to = json_object_get(args, "to"), *jc = json_object_get(args, "campaign");
	struct edged_targets targets;
	struct send_job *j;
	struct ota_pkg *pkg;
	int code = 0, rc = 0;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (!o->trust) {
		snprintf(msg, msglen, "no trusted model-signing key (ota.trust_dir)");
		return EDGE_CTL_E_NO_TRUST;
	}
	m = resolve_model(o, args, &code, msg, msglen);
	if (!m)
		return code;
	if (jc && !json_is_boolean(jc)) {
		snprintf(msg, msglen, "args.campaign must be true or false");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (o->n_open + o->sends_pending >= o->max_transfers) {
		snprintf(msg, msglen, "%u transfers running (ota.max_transfers)", o->n_open);
		return EDGE_CTL_E_BUSY;
	}
	code = edged_targets_resolve(o->registry, to, &targets, msg, msglen);
	if (code) {
		edged_targets_release(&targets);
		return code;
	}
	j = calloc(1, sizeof *j);
	if (!j) {
		edged_targets_release(&targets);
		return oom(msg, msglen);
	}
	/* unknown and revoked nodes first, then what consider_target finds */
	j->skipped = json_incref(targets.problems);
	j->work.data = j;
	j->o = o;
	j->call = call;
	j->model = *m;
	j->cfg = o->cfg;
	snprintf(j->dir, sizeof j->dir, "%s", o->models_dir);
	if (jc)
		j->cfg.campaign = json_is_true(jc);
	if ((code = get_uint(args, "chunk_size", EDGE_OTA_CHUNK_MIN, EDGE_OTA_CHUNK_MAX,
			     &j->cfg.chunk_size, msg, msglen)) ||
	    (code = get_uint(args, "window", 1, EDGE_OTA_WINDOW_MAX, &j->cfg.window, msg,
			     msglen))) {
		edged_targets_release(&targets);
		send_job_free(j);
		return code;
	}
	for (unsigned i = 0; i < targets.n && rc == 0; i++)
		rc = consider_target(j, targets.ids[i]);
	edged_targets_release(&targets);
	if (rc != 0) {
		send_job_free(j);
		return oom(msg, msglen);
	}
	if (j->n_ids == 0) {
		edged_ctl_call_finish(call, EDGE_CTL_E_NO_TARGET,
				      json_pack("{s:O}", "skipped", j->skipped),
				      "no node left to send to (see skipped)");
		send_job_free(j);
		return 0;
	}
	pkg = ota_pkg_find(o, m->digest);
	if (pkg) {
		/* Another open transfer holds the bytes already. */
		pkg->refs++;
		send_start(j, pkg);
		ota_pkg_unref(o, pkg);
		send_job_free(j);
		return 0;
	}
	rc = uv_queue_work(o->loop, &j->work, send_work, send_after);
	if (rc < 0) {
		send_job_free(j);
		snprintf(msg, msglen, "%s", uv_strerror(rc));
		return EDGE_CTL_E_INTERNAL;
	}
	o->sends_pending++;
	ota_job_begin(o);
	return 0;
}

/* ---- ota.status, ota.cancel ---- */

/* t's copy with only device's node rows; NULL when it has none. */
static json_t *only_device(json_t *t, const char *device)
{
	json_t *nodes = json_object_get(t, "nodes"), *keep, *v, *c;
	size_t i;

	keep = json_array();
	if (!keep)
		return NULL;
	json_array_foreach(nodes, i, v) {
		json_t *id = json_object_get(v, "id");

		if (json_is_string(id) && strcmp(json_string_value(id), device) == 0)
			json_array_append(keep, v);
	}
	if (json_array_size(keep) == 0) {
		json_decref(keep);
		return NULL;
	}
	c = json_copy(t);
	if (!c || json_object_set_new(c, "nodes", keep) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

int edged_ota_cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	json_t *jt = json_object_get(args, "transfer"), *jd = json_object_get(args, "device");
	json_t *list;
	const char *device = NULL;
	uint32_t want = 0;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (jt && (!json_is_integer(jt) || json_integer_value(jt) < 1 ||
		   json_integer_value(jt) > UINT32_MAX)) {
		snprintf(msg, msglen, "args.transfer must be a transfer id");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (jd && !json_is_string(jd)) {
		snprintf(msg, msglen, "args.device must be a node id");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (jt)
		want = (uint32_t)json_integer_value(jt);
	if (jd)
		device = json_string_value(jd);
	list = json_array();
	if (!list)
		return oom(msg, msglen);
	/* Open ones (newest first: the list is kept so), then the finished
	 * ones, newest first. */
	for (const struct ota_xfer *x = o->xfers; x; x = x->next) {
		json_t *t;

		if (want && x->row.id != want)
			continue;
		if (device && !ota_xfer_has_node(x, device))
			continue;
		t = ota_transfer_json(o, x, "running");
		if (t && device) {
			json_t *f = only_device(t, device);

			json_decref(t);
			t = f;
		}
		if (!t || json_array_append_new(list, t) < 0) {
			json_decref(list);
			return oom(msg, msglen);
		}
	}
	for (unsigned i = o->fin_n; i-- > 0;) {
		json_t *t = o->finished[(o->fin_head + i) % OTA_FINISHED_KEEP];

		if (want && json_integer_value(json_object_get(t, "transfer")) != want)
			continue;
		if (device) {
			t = only_device(t, device);
			if (!t)
				continue;
		} else {
			json_incref(t);
		}
		if (json_array_append_new(list, t) < 0) {
			json_decref(list);
			return oom(msg, msglen);
		}
	}
	if (want && json_array_size(list) == 0) {
		json_decref(list);
		snprintf(msg, msglen, "no transfer %u (open or among the last %d finished)", want,
			 OTA_FINISHED_KEEP);
		return EDGE_CTL_E_NOT_FOUND;
	}
	*result = json_pack("{s:o}", "transfers", list);
	return *result ? 0 : oom(msg, msglen);
}

struct cancel_ctx {
	unsigned open_nodes;
};

static int count_open(const struct edge_ota_node_status *st, void *ud)
{
	struct cancel_ctx *c = ud;

	if (!edge_ota_node_state_final((enum edge_ota_node_state)st->state))
		c->open_nodes++;
	return 0;
}

int edged_ota_cmd_cancel(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_ota *o = service(ud, msg, msglen);
	json_t *jt = json_object_get(args, "transfer"), *jd = json_object_get(args, "device");
	struct cancel_ctx before = { 0 }, after = { 0 };
	const char *device = NULL;
	struct ota_xfer *x;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (!json_is_integer(jt) || json_integer_value(jt) < 1 ||
	    json_integer_value(jt) > UINT32_MAX) {
		snprintf(msg, msglen, "args.transfer must be a transfer id");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (jd && !json_is_string(jd)) {
		snprintf(msg, msglen, "args.device must be a node id");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (jd)
		device = json_string_value(jd);
	x = ota_xfer_find(o, (uint32_t)json_integer_value(jt));
	if (!x) {
		snprintf(msg, msglen, "transfer %lld is not open",
			 (long long)json_integer_value(jt));
		return EDGE_CTL_E_NOT_FOUND;
	}
	if (device && !ota_xfer_has_node(x, device)) {
		snprintf(msg, msglen, "node '%.64s' is not in transfer %u", device, x->row.id);
		return EDGE_CTL_E_NOT_FOUND;
	}
	edge_ota_sender_foreach(x->sender, count_open, &before);
	edge_ota_sender_cancel(x->sender, device, ota_wall_ms(), edge_time_monotonic_ms());
	edge_ota_sender_foreach(x->sender, count_open, &after);
	if (!device)
		x->cancelled = true;
	edge_log(EDGE_LOG_NOTICE, "ota", "transfer %u: %u node%s cancelled by the operator%s%s",
		 x->row.id, before.open_nodes - after.open_nodes,
		 before.open_nodes - after.open_nodes == 1 ? "" : "s", device ? ": " : "",
		 device ? device : "");
	ota_kick(o);
	*result = json_pack("{s:i}", "cancelled", (int)(before.open_nodes - after.open_nodes));
	return *result ? 0 : oom(msg, msglen);
}
