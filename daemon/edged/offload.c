/* The offload service (offload.h): enabled models, requests and responses,
 * shadow verification. Loop thread; lib/offload's workers run the models. */
#include "offload.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer_msg.h"
#include "edge_log.h"
#include "edge_offload_pool.h"
#include "edge_offload_store.h"
#include "edge_ota_keys.h"
#include "edge_time.h"
#include "edged.h"
#include "offload_internal.h"
#include "ota_internal.h"
#include "router.h"

static_assert((int)EDGE_INFER_S_OK == (int)EDGE_OFFLOAD_OK &&
		      (int)EDGE_INFER_S_UNKNOWN_MODEL == (int)EDGE_OFFLOAD_UNKNOWN_MODEL &&
		      (int)EDGE_INFER_S_NOT_OFFLOADABLE == (int)EDGE_OFFLOAD_NOT_OFFLOADABLE &&
		      (int)EDGE_INFER_S_BAD_INPUT == (int)EDGE_OFFLOAD_BAD_INPUT &&
		      (int)EDGE_INFER_S_BUSY == (int)EDGE_OFFLOAD_BUSY &&
		      (int)EDGE_INFER_S_DEADLINE_EXCEEDED == (int)EDGE_OFFLOAD_DEADLINE_EXCEEDED &&
		      (int)EDGE_INFER_S_INTERNAL == (int)EDGE_OFFLOAD_INTERNAL,
	      "the pool's statuses are the wire's");

/* ---- models ---- */

struct off_model *off_model_by_digest(struct edged_offload *o, const char *digest)
{
	for (unsigned i = 0; i < o->n_models; i++)
		if (strcmp(o->models[i].digest, digest) == 0)
			return &o->models[i];
	return NULL;
}

/* The enabled model a request names (kind SHA-256: the .tflite's hash;
 * kind name: NAME@VERSION), or NULL. */
static struct off_model *model_of_ref(struct edged_offload *o, const struct edge_infer_ref *ref)
{
	char want[EDGE_MSG_SHA256_HEX + EDGE_INFER_REF_MAX + 1];

	if (ref->kind == EDGE_INFER_REF_SHA256) {
		edge_offload_sha256_format(ref->ref, want);
		for (unsigned i = 0; i < o->n_models; i++)
			if (strcmp(o->models[i].sha, want) == 0)
				return &o->models[i];
		return NULL;
	}
	memcpy(want, ref->ref, ref->length);
	want[ref->length] = '\0';
	for (unsigned i = 0; i < o->n_models; i++) {
		char nv[2 * EDGE_MSG_TOKEN_CAP + 2];

		snprintf(nv, sizeof nv, "%s@%s", o->models[i].name, o->models[i].version);
		if (strcmp(nv, want) == 0)
			return &o->models[i];
	}
	return NULL;
}

/* A stored model (not enabled) the ref names: for not_offloadable vs
 * unknown_model. */
static bool stored_ref(const struct edged_offload *o, const struct edge_infer_ref *ref)
{
	const struct edge_ota_catalog *c = o->ota->catalog;
	char want[EDGE_MSG_SHA256_HEX + EDGE_INFER_REF_MAX + 1];

	if (ref->kind == EDGE_INFER_REF_SHA256)
		edge_offload_sha256_format(ref->ref, want);
	else {
		memcpy(want, ref->ref, ref->length);
		want[ref->length] = '\0';
	}
	for (unsigned i = 0; i < edge_ota_catalog_count(c); i++) {
		const struct edge_ota_manifest *m = &edge_ota_catalog_at(c, i)->manifest;
		char nv[2 * EDGE_MSG_TOKEN_CAP + 2];

		snprintf(nv, sizeof nv, "%s@%s", m->name, m->version);
		if (strcmp(ref->kind == EDGE_INFER_REF_SHA256 ? m->sha256 : nv, want) == 0)
			return true;
	}
	return false;
}

struct load_job {
	uv_work_t work;
	struct edged_offload *o;
	char dir[EDGE_CONFIG_PATH_MAX];
	char digest[EDGE_OTA_DIGEST_HEX + 1];
	size_t max;
	uint8_t *buf;
	size_t len;
	int rc;
	char err[256];
	const uint8_t *model;
	size_t model_len;
};

static void load_work(uv_work_t *w)
{
	struct load_job *j = w->data;
	struct edge_ota_container c;
	struct edge_msg_error e = { 0 };

	j->rc = edge_ota_store_read_file(j->dir, j->digest, j->max, &j->buf, &j->len, j->err,
					 sizeof j->err);
	if (j->rc < 0)
		return;
	if (edge_ota_container_parse(j->buf, j->len, &c, &e) < 0 || !c.model) {
		j->rc = -EPROTO;
		snprintf(j->err, sizeof j->err, "the stored package does not parse");
		return;
	}
	j->model = c.model;
	j->model_len = (size_t)c.model_len;
}

static void job_end(struct edged_offload *o);

static void load_after(uv_work_t *w, int status)
{
	struct load_job *j = w->data;
	struct edged_offload *o = j->o;
	struct off_model *m = o->freeing ? NULL : off_model_by_digest(o, j->digest);
	struct edge_offload_model_info info;
	int rc;

	if (m)
		m->loading = false;
	if (!m || status < 0 || o->stopping) {
		/* disabled or stopping meanwhile */
	} else if (j->rc < 0) {
		snprintf(m->reason, sizeof m->reason, "package not readable: %.200s",
			 j->err[0] ? j->err : edge_strerror(j->rc));
		edge_log(EDGE_LOG_WARNING, "offload", "model %s@%s: %s", m->name, m->version,
			 m->reason);
	} else {
		rc = edge_offload_pool_add_model(o->pool, m->sha, j->model, j->model_len, &info);
		if (rc == 0 || rc == -EEXIST) {
			m->in_pool = true;
			if (rc == 0) {
				m->offloadable = info.offloadable;
				snprintf(m->reason, sizeof m->reason, "%s", info.reason);
				m->input_bytes = info.input_bytes;
				m->output_bytes = info.output_bytes;
				m->interpreter_bytes = info.interpreter_bytes;
				m->macs = info.macs;
			}
			edge_log(EDGE_LOG_NOTICE, "offload", "model %s@%s ready: %s%s", m->name,
				 m->version, m->offloadable ? "offloadable" : "not offloadable: ",
				 m->offloadable ? "" : m->reason);
		} else {
			snprintf(m->reason, sizeof m->reason, "not registered: %s",
				 edge_strerror(rc));
			edge_log(EDGE_LOG_WARNING, "offload", "model %s@%s: %s", m->name,
				 m->version, m->reason);
		}
	}
	free(j->buf);
	free(j);
	job_end(o);
}

/* Reads m's package on the pool; registers it when it comes back. */
void off_model_load(struct edged_offload *o, struct off_model *m)
{
	const struct edge_ota_model *cm = edge_ota_catalog_find(o->ota->catalog, m->digest, NULL);
	struct load_job *j;

	if (!cm || m->loading || m->in_pool)
		return;
	j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(m->reason, sizeof m->reason, "out of memory");
		return;
	}
	j->work.data = j;
	j->o = o;
	snprintf(j->dir, sizeof j->dir, "%s", o->ota->models_dir);
	snprintf(j->digest, sizeof j->digest, "%s", m->digest);
	j->max = (size_t)cm->pkg_size;
	if (uv_queue_work(o->loop, &j->work, load_work, load_after) < 0) {
		free(j);
		snprintf(m->reason, sizeof m->reason, "could not queue the package read");
		return;
	}
	m->loading = true;
	o->jobs++;
}

/* Adds digest to the enabled set (in memory). NULL on ENOMEM or when the
 * store does not hold the model. */
struct off_model *off_model_add(struct edged_offload *o, const char *digest, int64_t enabled_ms)
{
	const struct edge_ota_model *cm = edge_ota_catalog_find(o->ota->catalog, digest, NULL);
	struct off_model *m;

	if (!cm)
		return NULL;
	if ((m = off_model_by_digest(o, digest)))
		return m;
	if (o->n_models == o->cap_models) {
		unsigned cap = o->cap_models ? 2 * o->cap_models : 8;
		void *p = realloc(o->models, cap * sizeof *o->models);

		if (!p)
			return NULL;
		o->models = p;
		o->cap_models = cap;
	}
	m = &o->models[o->n_models++];
	memset(m, 0, sizeof *m);
	snprintf(m->digest, sizeof m->digest, "%s", cm->digest);
	snprintf(m->sha, sizeof m->sha, "%s", cm->manifest.sha256);
	snprintf(m->name, sizeof m->name, "%s", cm->manifest.name);
	snprintf(m->version, sizeof m->version, "%s", cm->manifest.version);
	m->enabled_ms = enabled_ms;
	return m;
}

void off_model_remove(struct edged_offload *o, struct off_model *m)
{
	/* Its queued requests are answered not_offloadable at once (through
	 * the done list); not found: it never got into the pool. */
	if (m->in_pool && edge_offload_pool_remove_model(o->pool, m->sha) < 0)
		edge_log(EDGE_LOG_WARNING, "offload", "model %s@%s was not in the pool", m->name,
			 m->version);
	*m = o->models[--o->n_models];
}

/* ---- pending requests and verifies ---- */

static struct off_pending *pending_take(struct edged_offload *o, uint64_t *tag)
{
	for (unsigned k = 0; k < o->n_pend; k++) {
		unsigned i = (o->pend_next + k) % o->n_pend;
		struct off_pending *p = &o->pend[i];

		if (p->used)
			continue;
		o->pend_next = (i + 1) % o->n_pend;
		p->gen++;
		p->used = true;
		*tag = (uint64_t)p->gen << 32 | i;
		return p;
	}
	return NULL;
}

static struct off_pending *pending_find(struct edged_offload *o, uint64_t tag)
{
	uint32_t i = (uint32_t)tag;

	if (i >= o->n_pend || !o->pend[i].used || o->pend[i].gen != (uint32_t)(tag >> 32))
		return NULL;
	return &o->pend[i];
}

static void pending_release(struct off_pending *p)
{
	free(p->node_output);
	p->node_output = NULL;
	p->used = false;
}

/* ---- responses ---- */

static void reply(struct edged_offload *o, const char *id, int qos, const void *corr,
		  size_t corr_len, enum edge_infer_offload_status status, size_t expected,
		  const struct edge_offload_result *res)
{
	struct edge_infer_resp r = { 0 };
	char topic[EDGE_CONFIG_NAME_MAX + EDGE_OFFLOAD_NODE_ID_MAX + 16];
	size_t cap;
	uint8_t *buf;
	int len, rc;

	assert(status < EDGE_INFER_S_COUNT);
	o->stats.outcomes[status]++;
	r.status = (uint8_t)status;
	r.top_class = EDGE_INFER_TOP_NONE;
	r.expected_input_bytes = (uint32_t)expected;
	if (res) {
		r.queued_us = res->queued_us;
		r.run_us = res->run_us;
		if (status == EDGE_INFER_S_OK) {
			r.output = res->output;
			r.output_length = (uint32_t)res->output_len;
			if (res->top_class >= 0 && res->top_class < 0xFFFF)
				r.top_class = (uint16_t)res->top_class;
		}
	}
	cap = EDGE_INFER_RESP_HDR + r.output_length;
	buf = malloc(cap);
	if (!buf) {
		o->stats.reply_failed++;
		return;
	}
	len = edge_infer_resp_encode(buf, cap, &r);
	if ((size_t)snprintf(topic, sizeof topic, "%s/%s/infer/%s", o->prefix, id,
			     EDGE_INFER_SUB_RESP) >= sizeof topic || len < 0)
		rc = -EINVAL;
	else
		rc = edged_mqtt_publish_reply(o->mqtt, topic, buf, (size_t)len, qos, corr, corr_len);
	if (rc < 0)
		o->stats.reply_failed++;
	free(buf);
}

static struct off_node *node_get(struct edged_offload *o, const char *id)
{
	struct off_node *oldest = NULL;

	for (unsigned i = 0; i < o->n_nodes; i++)
		if (strcmp(o->nodes[i].id, id) == 0) {
			o->nodes[i].seen = ++o->clock;
			return &o->nodes[i];
		}
	if (o->n_nodes < OFFLOAD_NODES_MAX) {
		struct off_node *p = realloc(o->nodes, (o->n_nodes + 1) * sizeof *o->nodes);

		if (!p)
			return NULL;
		o->nodes = p;
		oldest = &o->nodes[o->n_nodes++];
	} else {
		/* the least recently seen unflagged one makes room */
		for (unsigned i = 0; i < o->n_nodes; i++)
			if (!o->nodes[i].flagged && (!oldest || o->nodes[i].seen < oldest->seen))
				oldest = &o->nodes[i];
		if (!oldest)
			return NULL;
		o->stats.nodes_evicted++;
	}
	memset(oldest, 0, sizeof *oldest);
	snprintf(oldest->id, sizeof oldest->id, "%s", id);
	oldest->seen = ++o->clock;
	return oldest;
}

static void hex_span(char *out, size_t cap, const uint8_t *b, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used + 3 <= cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%02x", b[i]);
}

/* A verify's re-run came back: compare byte by byte. */
static void verify_done(struct edged_offload *o, struct off_pending *p,
			const struct edge_offload_result *res)
{
	struct off_model *m = off_model_by_digest(o, p->digest);
	struct off_node *n = node_get(o, p->id);
	size_t i = 0, len = p->node_output_len;

	if (res->status != EDGE_OFFLOAD_OK) {
		o->stats.verify_busy++;
		return;
	}
	if (res->output_len == len)
		while (i < len && p->node_output[i] == res->output[i])
			i++;
	if (res->output_len == len && i == len) {
		o->stats.verify_matches++;
		if (m)
			m->matches++;
		if (n)
			n->matches++;
		return;
	}
	/* a length difference counts as differing at the shorter end */
	o->stats.verify_mismatches++;
	if (m)
		m->mismatches++;
	if (n) {
		n->mismatches++;
		n->flagged = true;
	}
	{
		struct off_mismatch *e = &o->mm[(o->mm_head + o->mm_n) % o->mm_cap];
		size_t span = 16;

		if (o->mm_n == o->mm_cap)
			o->mm_head = (o->mm_head + 1) % o->mm_cap;
		else
			o->mm_n++;
		memset(e, 0, sizeof *e);
		e->ts_ms = (int64_t)ota_wall_ms();
		snprintf(e->node, sizeof e->node, "%s", p->id);
		snprintf(e->model, sizeof e->model, "%s@%s", m ? m->name : "?", m ? m->version : "?");
		snprintf(e->sha256, sizeof e->sha256, "%s", m ? m->sha : "");
		e->seq = p->seq;
		e->first_diff = i;
		e->length = res->output_len;
		e->node_length = len;
		hex_span(e->node_bytes, sizeof e->node_bytes, p->node_output + i,
			 len - i < span ? len - i : span);
		hex_span(e->gateway_bytes, sizeof e->gateway_bytes,
			 res->output + (i < res->output_len ? i : 0),
			 i < res->output_len ? (res->output_len - i < span ? res->output_len - i : span)
					     : 0);
		snprintf(e->input_sha256, sizeof e->input_sha256, "%s", p->input_sha);
		edge_log(EDGE_LOG_WARNING, "offload",
			 "node %s: shadow mismatch on %s seq %u: output byte %zu of %zu differs "
			 "(node %s, gateway %s); node flagged",
			 p->id, e->model, p->seq, i, res->output_len, e->node_bytes,
			 e->gateway_bytes);
		off_mismatch_store(o, e);
	}
}

struct mm_op {
	struct edge_offload_mismatch_row row;
	unsigned keep;
};

static int mm_run(edge_store_conn *conn, void *ud)
{
	struct mm_op *op = ud;

	return edge_offload_store_mismatch_op(conn, &op->row, op->keep);
}

static void mm_done(int result, void *ud)
{
	if (result < 0)
		edge_log(EDGE_LOG_WARNING, "offload", "shadow mismatch evidence not stored: %s",
			 edge_strerror(result));
	free(ud);
}

/* The evidence goes to the store too: a restart keeps it and the flag. */
void off_mismatch_store(struct edged_offload *o, const struct edge_offload_mismatch_row *e)
{
	struct mm_op *op = malloc(sizeof *op);

	if (!op) {
		edge_log(EDGE_LOG_WARNING, "offload", "shadow mismatch evidence not stored: out of "
			 "memory");
		return;
	}
	op->row = *e;
	op->keep = o->mm_cap;
	if (edge_store_submit(o->store, mm_run, mm_done, op) < 0) {
		edge_log(EDGE_LOG_WARNING, "offload", "shadow mismatch evidence not stored: the "
			 "store refused");
		free(op);
	}
}

static void on_result(const struct edge_offload_result *res, void *ud)
{
	struct edged_offload *o = ud;
	struct off_pending *p = pending_find(o, res->tag);

	if (!p)
		return; /* cannot happen: every queued request holds its slot */
	if (p->verify)
		verify_done(o, p, res);
	else if (!o->stopping)
		reply(o, p->id, p->qos, p->corr, p->corr_len,
		      (enum edge_infer_offload_status)res->status, 0, res);
	pending_release(p);
}

static void on_async(uv_async_t *a)
{
	struct edged_offload *o = a->data;

	if (o->pool)
		(void)edge_offload_pool_drain(o->pool, on_result, o);
}

/* From a worker thread. */
static void pool_notify(void *ud)
{
	struct edged_offload *o = ud;

	(void)uv_async_send(o->async);
}

/* ---- messages ---- */

static void on_request(struct edged_offload *o, const char *id,
		       const struct edged_mqtt_message *in)
{
	char want[EDGE_CONFIG_NAME_MAX + EDGE_OFFLOAD_NODE_ID_MAX + 16];
	struct edge_msg_error err = { 0 };
	struct edge_infer_req req;
	struct edge_offload_request pr = { 0 };
	struct edge_offload_verdict v;
	struct off_model *m;
	struct off_pending *p;
	const void *corr = in->correlation;
	size_t corr_len = in->correlation_len;
	int qos = in->qos > 1 ? 1 : in->qos;
	uint64_t tag;
	int rc;

	o->stats.requests++;
	/* Answered on the node's own response topic or not at all. */
	snprintf(want, sizeof want, "%s/%s/infer/%s", o->prefix, id, EDGE_INFER_SUB_RESP);
	if (!in->response_topic || strcmp(in->response_topic, want) != 0) {
		o->stats.no_response_topic++;
		edged_router_log_bad(o->d->router, id, "node %s: offload request without its response topic "
				    "dropped", id);
		return;
	}
	if (corr_len > EDGE_INFER_CORR_MAX) {
		reply(o, id, qos, NULL, 0, EDGE_INFER_S_MALFORMED, 0, NULL);
		return;
	}
	if (edge_infer_req_parse(in->payload, in->len, &req, &err) < 0) {
		edged_router_log_bad(o->d->router, id, "node %s: offload request rejected: %s%s%s", id,
				    edge_msg_reject_name(err.reason), err.field[0] ? " at " : "",
				    err.field);
		reply(o, id, qos, corr, corr_len, EDGE_INFER_S_MALFORMED, 0, NULL);
		return;
	}
	m = model_of_ref(o, &req.model);
	if (!m || !m->in_pool) {
		reply(o, id, qos, corr, corr_len,
		      m || stored_ref(o, &req.model) ? EDGE_INFER_S_NOT_OFFLOADABLE
						     : EDGE_INFER_S_UNKNOWN_MODEL,
		      0, NULL);
		return;
	}
	p = pending_take(o, &tag);
	if (!p) {
		reply(o, id, qos, corr, corr_len, EDGE_INFER_S_BUSY, 0, NULL);
		return;
	}
	snprintf(p->id, sizeof p->id, "%s", id);
	p->verify = false;
	p->qos = qos;
	p->corr_len = corr_len;
	if (corr_len)
		memcpy(p->corr, corr, corr_len);
	pr.node_id = id;
	rc = edge_offload_sha256_parse(m->sha, pr.model_sha256);
	assert(rc == 0); /* the catalog's manifest hash is 64 hex digits */
	pr.input = req.input;
	pr.input_len = req.input_length;
	pr.deadline_ms = edge_time_monotonic_ms() + req.deadline_ms;
	pr.tag = tag;
	rc = edge_offload_pool_submit(o->pool, &pr, &v);
	if (rc < 0 || v.status != EDGE_OFFLOAD_OK) {
		pending_release(p);
		reply(o, id, qos, corr, corr_len,
		      rc < 0 ? EDGE_INFER_S_INTERNAL : (enum edge_infer_offload_status)v.status,
		      rc < 0 ? 0 : v.expected_bytes, NULL);
	}
}

static void on_verify(struct edged_offload *o, const char *id,
		      const struct edged_mqtt_message *in)
{
	struct edge_msg_error err = { 0 };
	struct edge_infer_verify vm;
	struct edge_offload_request pr = { 0 };
	struct edge_offload_verdict v;
	struct off_model *m;
	struct off_pending *p;
	uint64_t tag;
	int rc;

	o->stats.verify_received++;
	if (edge_infer_verify_parse(in->payload, in->len, &vm, &err) < 0) {
		o->stats.verify_malformed++;
		edged_router_log_bad(o->d->router, id, "node %s: verify message rejected: %s%s%s", id,
				    edge_msg_reject_name(err.reason), err.field[0] ? " at " : "",
				    err.field);
		return;
	}
	m = model_of_ref(o, &vm.model);
	if (!m || !m->in_pool || !m->offloadable) {
		o->stats.verify_not_held++;
		return;
	}
	p = pending_take(o, &tag);
	if (!p || !(p->node_output = malloc(vm.output_length ? vm.output_length : 1))) {
		if (p)
			pending_release(p);
		o->stats.verify_busy++;
		return;
	}
	snprintf(p->id, sizeof p->id, "%s", id);
	snprintf(p->digest, sizeof p->digest, "%s", m->digest);
	p->verify = true;
	p->seq = vm.seq;
	memcpy(p->node_output, vm.output, vm.output_length);
	p->node_output_len = vm.output_length;
	if (edge_ota_sha256(vm.input, vm.input_length, p->input_sha_raw) == 0)
		edge_offload_sha256_format(p->input_sha_raw, p->input_sha);
	pr.node_id = id;
	rc = edge_offload_sha256_parse(m->sha, pr.model_sha256);
	assert(rc == 0);
	pr.input = vm.input;
	pr.input_len = vm.input_length;
	pr.deadline_ms = edge_time_monotonic_ms() + OFFLOAD_VERIFY_DEADLINE_MS;
	pr.tag = tag;
	rc = edge_offload_pool_submit(o->pool, &pr, &v);
	if (rc < 0 || v.status != EDGE_OFFLOAD_OK) {
		pending_release(p);
		if (rc == 0 && v.status == EDGE_OFFLOAD_BAD_INPUT) {
			/* the node's input does not fit its own model: a mismatch
			 * of a kind, but nothing to compare: counted apart */
			o->stats.verify_malformed++;
			return;
		}
		o->stats.verify_busy++;
	}
}

void edged_offload_on_message(struct edged_offload *o, const char *id, const char *sub,
			      size_t sub_len, const struct edged_mqtt_message *in)
{
	if (!o || o->stopping)
		return;
	if (sub_len == strlen(EDGE_INFER_SUB_REQ) && memcmp(sub, EDGE_INFER_SUB_REQ, sub_len) == 0)
		on_request(o, id, in);
	else if (sub_len == strlen(EDGE_INFER_SUB_VERIFY) &&
		 memcmp(sub, EDGE_INFER_SUB_VERIFY, sub_len) == 0)
		on_verify(o, id, in);
	else
		o->stats.unknown_sub++;
}

/* ---- life cycle ---- */

static int load_enabled(const char *digest, int64_t enabled_ms, void *ud)
{
	struct edged_offload *o = ud;

	if (!off_model_add(o, digest, enabled_ms))
		o->stats.load_skipped++; /* removed from the store since */
	return 0;
}

static int load_rule(const char *target, int permille, void *ud)
{
	return off_rule_set(ud, target, permille);
}

/* Kept evidence: back into the ring, its node flagged again. */
static int load_mismatch(const struct edge_offload_mismatch_row *r, void *ud)
{
	struct edged_offload *o = ud;
	struct off_node *n = node_get(o, r->node);

	o->mm[(o->mm_head + o->mm_n) % o->mm_cap] = *r;
	if (o->mm_n == o->mm_cap)
		o->mm_head = (o->mm_head + 1) % o->mm_cap;
	else
		o->mm_n++;
	if (n) {
		n->mismatches++;
		n->flagged = true;
	}
	return 0;
}

static int load_run(edge_store_conn *conn, void *ud)
{
	struct edged_offload *o = ud;
	unsigned skipped = 0, bad_rules = 0;
	int rc = edge_offload_store_load(conn, load_enabled, o, &skipped);

	if (rc == 0)
		rc = edge_offload_store_verify_load(conn, load_rule, o, &bad_rules);
	if (rc == 0)
		rc = edge_offload_store_mismatch_load(conn, o->mm_cap, load_mismatch, o);
	o->stats.load_skipped += skipped + bad_rules;
	return rc;
}

int off_rule_set(struct edged_offload *o, const char *target, int permille)
{
	for (unsigned i = 0; i < o->n_rules; i++)
		if (strcmp(o->rules[i].target, target) == 0) {
			if (permille >= 0)
				o->rules[i].permille = permille;
			else
				o->rules[i] = o->rules[--o->n_rules];
			return 0;
		}
	if (permille < 0)
		return 0;
	{
		struct off_rule *p = realloc(o->rules, (o->n_rules + 1) * sizeof *o->rules);

		if (!p)
			return -ENOMEM;
		o->rules = p;
	}
	snprintf(o->rules[o->n_rules].target, sizeof o->rules[0].target, "%s", target);
	o->rules[o->n_rules++].permille = permille;
	return 0;
}

int edged_offload_verify_permille(const struct edged_offload *o, const struct edge_node_info *n)
{
	int best = -1;

	if (!o)
		return 0;
	for (unsigned i = 0; i < o->n_rules; i++) {
		const struct off_rule *r = &o->rules[i];

		if (strncmp(r->target, "id:", 3) == 0 && strcmp(r->target + 3, n->id) == 0)
			return r->permille; /* the node's own rule wins */
		if (strncmp(r->target, "tag:", 4) == 0 && edge_registry_has_tag(n, r->target + 4) &&
		    r->permille > best)
			best = r->permille;
	}
	return best >= 0 ? best : edge_config_settings(o->d->config)->offload.verify_permille;
}

static void async_closed(uv_handle_t *h)
{
	free(h);
}

int edged_offload_new(struct edged *d, struct edged_offload **out)
{
	const struct edge_settings *s = edge_config_settings(d->config);
	struct edge_offload_options opt;
	struct edged_offload *o;
	int rc;

	*out = NULL;
	if (!s->offload.enabled)
		return 0;
	assert(d->store && d->ota && d->mqtt);
	o = calloc(1, sizeof *o);
	if (!o)
		return -ENOMEM;
	o->d = d;
	o->loop = d->loop;
	o->store = d->store;
	o->ota = d->ota;
	o->mqtt = d->mqtt;
	snprintf(o->prefix, sizeof o->prefix, "%s", s->mqtt.topic_prefix);
	o->mm_cap = (unsigned)s->offload.mismatches_keep;
	o->mm = calloc(o->mm_cap, sizeof *o->mm);
	edge_offload_options_init(&opt);
	opt.workers = (unsigned)s->offload.workers;
	opt.queue_max = (unsigned)s->offload.queue_max;
	opt.node_queue_max = (unsigned)s->offload.node_queue_max;
	opt.memory_budget = s->offload.memory_budget;
	opt.notify = pool_notify;
	opt.notify_ud = o;
	o->async = malloc(sizeof *o->async);
	if (!o->mm || !o->async) {
		free(o->async);
		free(o->mm);
		free(o);
		return -ENOMEM;
	}
	rc = uv_async_init(o->loop, o->async, on_async);
	if (rc < 0) {
		free(o->async);
		free(o->mm);
		free(o);
		return rc;
	}
	o->async->data = o;
	rc = edge_offload_pool_new(&opt, &o->pool);
	if (rc == 0) {
		struct edge_offload_stats st;

		rc = edge_offload_pool_stats(o->pool, &st);
		/* every queued request and one running per worker, twice for
		 * verifies, hold a pending slot */
		if (rc == 0) {
			o->n_pend = 2 * (st.queue_max + st.workers);
			edge_offload_stats_free(&st);
			o->pend = calloc(o->n_pend, sizeof *o->pend);
			if (!o->pend)
				rc = -ENOMEM;
		}
	}
	if (rc == 0)
		rc = edge_store_read(o->store, load_run, o);
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "offload", "cannot start the offload service: %s",
			 edge_strerror(rc));
		edged_offload_stop(o);
		edged_offload_free(o);
		return rc;
	}
	for (unsigned i = 0; i < o->n_models; i++)
		off_model_load(o, &o->models[i]);
	edge_log(EDGE_LOG_INFO, "offload", "%u model%s enabled for offload", o->n_models,
		 o->n_models == 1 ? "" : "s");
	*out = o;
	return 0;
}

void edged_offload_stop(struct edged_offload *o)
{
	if (!o || o->stopping)
		return;
	o->stopping = true;
	if (o->pool)
		edge_offload_pool_shutdown(o->pool);
}

static void release(struct edged_offload *o)
{
	if (o->pool) {
		(void)edge_offload_pool_drain(o->pool, on_result, o);
		edge_offload_pool_free(o->pool);
	}
	for (unsigned i = 0; i < o->n_pend; i++)
		free(o->pend[i].node_output);
	free(o->pend);
	free(o->models);
	free(o->rules);
	free(o->nodes);
	free(o->mm);
	free(o);
}

static void job_end(struct edged_offload *o)
{
	assert(o->jobs > 0);
	if (--o->jobs == 0 && o->freeing)
		release(o);
}

void edged_offload_free(struct edged_offload *o)
{
	if (!o || o->freeing)
		return;
	edged_offload_stop(o);
	o->freeing = true;
	uv_close((uv_handle_t *)o->async, async_closed);
	o->async = NULL;
	if (o->jobs == 0)
		release(o);
}

bool edged_offload_flagged(const struct edged_offload *o, const char *id)
{
	for (unsigned i = 0; o && i < o->n_nodes; i++)
		if (strcmp(o->nodes[i].id, id) == 0)
			return o->nodes[i].flagged;
	return false;
}
