/* The OTA service: trust, catalog, open transfers, their timer and their
 * persistence (ota.h). The control commands are in ota_commands.c. */
#include "ota.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge_log.h"
#include "edge_time.h"
#include "edged.h"
#include "mqtt.h"
#include "ota_internal.h"

/* One log line about failing OTA store writes per interval. */
#define OTA_STORE_FAIL_LOG_MS 10000

uint64_t ota_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ota_store_failed(struct edged_ota *o, const char *what, int rc)
{
	uint64_t now = edge_time_monotonic_ms();

	o->stats.store_failures++;
	if (o->store_fail_log_ms && now - o->store_fail_log_ms < OTA_STORE_FAIL_LOG_MS)
		return;
	o->store_fail_log_ms = now;
	edge_log(EDGE_LOG_ERR, "ota", "%s not stored: %s (%llu OTA store failures so far)", what,
		 edge_strerror(rc), (unsigned long long)o->stats.store_failures);
}

/* ---- trust ---- */

struct ota_trust *ota_trust_ref(struct ota_trust *t)
{
	if (t)
		t->refs++;
	return t;
}

void ota_trust_unref(struct ota_trust *t)
{
	if (!t)
		return;
	assert(t->refs > 0);
	if (--t->refs == 0) {
		edge_ota_trust_clear(&t->t);
		free(t);
	}
}

/* The keys of ota.trust_dir; NULL (logged once, NOTICE) when there is none. */
static struct ota_trust *ota_trust_load(const struct edge_settings *s)
{
	struct ota_trust *t;
	char err[256] = "";
	int rc;

	if (!s->ota.trust_path[0]) {
		edge_log(EDGE_LOG_NOTICE, "ota", "no ota.trust_dir: models.add and ota.send are "
			 "refused (no_trust)");
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t) {
		edge_log(EDGE_LOG_ERR, "ota", "trust set: out of memory");
		return NULL;
	}
	t->refs = 1;
	edge_ota_trust_init(&t->t);
	rc = edge_ota_trust_load_dir(&t->t, s->ota.trust_path, err, sizeof err);
	if (rc < 0) {
		edge_log(rc == -ENOENT ? EDGE_LOG_NOTICE : EDGE_LOG_ERR, "ota",
			 "trusted keys of %s not loaded: %s: models.add and ota.send are refused "
			 "(no_trust)", s->ota.trust_path, err[0] ? err : edge_strerror(rc));
		ota_trust_unref(t);
		return NULL;
	}
	if (t->t.n == 0) {
		edge_log(EDGE_LOG_NOTICE, "ota", "no *.pub key in %s: models.add and ota.send are "
			 "refused (no_trust)", s->ota.trust_path);
		ota_trust_unref(t);
		return NULL;
	}
	edge_log(EDGE_LOG_INFO, "ota", "%u trusted model-signing key%s from %s, threshold %d",
		 t->t.n, t->t.n == 1 ? "" : "s", s->ota.trust_path, s->ota.threshold);
	return t;
}

/* ---- pool jobs ---- */

void ota_job_begin(struct edged_ota *o)
{
	o->jobs++;
}

static void ota_release(struct edged_ota *o);

bool ota_job_end(struct edged_ota *o)
{
	assert(o->jobs > 0);
	o->jobs--;
	if (o->freeing && o->jobs == 0) {
		ota_release(o);
		return true;
	}
	return false;
}

/* ---- lookups ---- */

struct edge_ota_device_row *ota_dev_find(const struct edged_ota *o, const char *id)
{
	for (unsigned i = 0; i < o->n_devs; i++)
		if (strcmp(o->devs[i].row.device, id) == 0)
			return &o->devs[i].row;
	return NULL;
}

static struct edge_ota_device_row *ota_dev_get(struct edged_ota *o, const char *id)
{
	struct edge_ota_device_row *r = ota_dev_find(o, id);

	if (r)
		return r;
	if (o->n_devs == o->cap_devs) {
		unsigned cap = o->cap_devs ? 2 * o->cap_devs : 64;
		struct ota_dev *n = realloc(o->devs, cap * sizeof *n);

		if (!n)
			return NULL;
		o->devs = n;
		o->cap_devs = cap;
	}
	r = &o->devs[o->n_devs++].row;
	memset(r, 0, sizeof *r);
	snprintf(r->device, sizeof r->device, "%s", id);
	return r;
}

struct ota_xfer *ota_xfer_find(const struct edged_ota *o, uint32_t id)
{
	for (struct ota_xfer *x = o->xfers; x; x = x->next)
		if (x->row.id == id)
			return x;
	return NULL;
}

static int xnode_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ota_xnode *)a)->id, ((const struct ota_xnode *)b)->id);
}

/* x->nodes is sorted by id once filled (xnodes_sort): every answer and
 * status change looks its node up, a thousand nodes each. */
static void xnodes_sort(struct ota_xfer *x)
{
	qsort(x->nodes, x->n_nodes, sizeof(x->nodes[0]), xnode_cmp);
}

static struct ota_xnode *xnode_find(const struct ota_xfer *x, const char *id)
{
	struct ota_xnode key;

	if (snprintf(key.id, sizeof key.id, "%s", id) >= (int)sizeof key.id)
		return NULL;
	return bsearch(&key, x->nodes, x->n_nodes, sizeof(x->nodes[0]), xnode_cmp);
}

bool ota_xfer_has_node(const struct ota_xfer *x, const char *id)
{
	return xnode_find(x, id) != NULL;
}

/* A node is busy while a transfer that holds it has it in a state that is
 * not final. */
struct ota_xfer *ota_xfer_of_node(const struct edged_ota *o, const char *id)
{
	struct edge_ota_node_status st;

	for (struct ota_xfer *x = o->xfers; x; x = x->next)
		if (xnode_find(x, id) && edge_ota_sender_status(x->sender, id, &st) == 0 &&
		    !edge_ota_node_state_final((enum edge_ota_node_state)st.state))
			return x;
	return NULL;
}

bool ota_digest_in_use(const struct edged_ota *o, const char *digest)
{
	for (struct ota_xfer *x = o->xfers; x; x = x->next)
		if (strcmp(x->row.digest, digest) == 0)
			return true;
	return false;
}

/* ---- package buffers ---- */

struct ota_pkg *ota_pkg_find(struct edged_ota *o, const char *digest)
{
	for (struct ota_pkg *p = o->pkgs; p; p = p->next)
		if (strcmp(p->digest, digest) == 0)
			return p;
	return NULL;
}

struct ota_pkg *ota_pkg_add(struct edged_ota *o, const char *digest, uint8_t *buf, size_t len)
{
	struct ota_pkg *p = calloc(1, sizeof *p);

	if (!p) {
		free(buf);
		return NULL;
	}
	snprintf(p->digest, sizeof p->digest, "%s", digest);
	p->buf = buf;
	p->len = len;
	p->next = o->pkgs;
	o->pkgs = p;
	return p;
}

/* A buffer nobody holds goes at once: at most one copy per package that an
 * open transfer sends. */
void ota_pkg_unref(struct edged_ota *o, struct ota_pkg *p)
{
	if (!p || --p->refs > 0)
		return;
	for (struct ota_pkg **pp = &o->pkgs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p->buf);
	free(p);
}

/* ---- store operations ---- */

struct ota_transfer_op {
	struct edged_ota *o;
	struct edge_ota_transfer_row row;
};

static int transfer_op_run(edge_store_conn *conn, void *ud)
{
	struct ota_transfer_op *op = ud;

	return edge_ota_store_transfer_op(conn, &op->row);
}

static void transfer_op_done(int result, void *ud)
{
	struct ota_transfer_op *op = ud;

	if (result < 0)
		ota_store_failed(op->o, "transfer row", result);
	free(op);
}

static void submit_transfer_row(struct edged_ota *o, const struct edge_ota_transfer_row *row)
{
	struct ota_transfer_op *op = malloc(sizeof *op);
	int rc;

	if (!op) {
		ota_store_failed(o, "transfer row", -ENOMEM);
		return;
	}
	op->o = o;
	op->row = *row;
	rc = edge_store_submit(o->store, transfer_op_run, transfer_op_done, op);
	if (rc < 0) {
		free(op);
		ota_store_failed(o, "transfer row", rc);
	}
}

struct ota_nodes_op {
	struct edged_ota *o;
	uint32_t transfer;
	unsigned n;
	struct edge_ota_node_status st[];
};

static int nodes_op_run(edge_store_conn *conn, void *ud)
{
	struct ota_nodes_op *op = ud;

	return edge_ota_store_nodes_op(conn, op->transfer, op->st, op->n);
}

static void nodes_op_done(int result, void *ud)
{
	struct ota_nodes_op *op = ud;

	if (result < 0)
		ota_store_failed(op->o, "transfer node statuses", result);
	free(op);
}

struct flush_ctx {
	struct ota_xfer *x;
	struct ota_nodes_op *op;
	bool all;
};

static int flush_collect(const struct edge_ota_node_status *st, void *ud)
{
	struct flush_ctx *c = ud;
	struct ota_xnode *n = xnode_find(c->x, st->id);

	if (!n || (!c->all && !n->dirty))
		return 0;
	assert(c->op->n < c->x->n_nodes);
	c->op->st[c->op->n++] = *st;
	n->dirty = false;
	return 0;
}

/* One store op with the statuses of the dirty nodes (every node: all). A
 * batch the store refuses stays dirty for the next flush. */
static void xfer_flush(struct ota_xfer *x, bool all)
{
	struct edged_ota *o = x->o;
	struct flush_ctx c = { .x = x, .all = all };
	int rc;

	if (!all && x->n_dirty == 0)
		return;
	c.op = malloc(sizeof *c.op + x->n_nodes * sizeof c.op->st[0]);
	if (!c.op) {
		ota_store_failed(o, "transfer node statuses", -ENOMEM);
		return;
	}
	c.op->o = o;
	c.op->transfer = x->row.id;
	c.op->n = 0;
	edge_ota_sender_foreach(x->sender, flush_collect, &c);
	if (c.op->n == 0) {
		free(c.op);
		x->n_dirty = 0;
		x->flush_now = false;
		return;
	}
	rc = edge_store_submit(o->store, nodes_op_run, nodes_op_done, c.op);
	if (rc < 0) {
		for (unsigned i = 0; i < c.op->n; i++) {
			struct ota_xnode *n = xnode_find(x, c.op->st[i].id);

			if (n)
				n->dirty = true;
		}
		free(c.op);
		ota_store_failed(o, "transfer node statuses", rc);
		/* Tried again at the next interval. */
		x->dirty_since_ms = edge_time_monotonic_ms();
		x->flush_now = false;
		return;
	}
	x->n_dirty = 0;
	x->flush_now = false;
}

struct ota_device_op {
	struct edged_ota *o;
	char device[EDGE_OTA_NODE_ID_MAX + 1];
	uint32_t transfer;
	struct edge_ota_manifest manifest;
	enum edge_ota_node_state state;
	uint8_t reason;
	int64_t wall_ms;
};

static int device_op_run(edge_store_conn *conn, void *ud)
{
	struct ota_device_op *op = ud;

	return edge_ota_store_device_op(conn, op->device, op->transfer, &op->manifest, op->state,
					op->reason, op->wall_ms);
}

static void device_op_done(int result, void *ud)
{
	struct ota_device_op *op = ud;

	if (result < 0)
		ota_store_failed(op->o, "device OTA history", result);
	free(op);
}

/* The device's history: in memory now, in the store through the writer. */
static void record_device(struct ota_xfer *x, const struct edge_ota_node_status *st)
{
	struct edged_ota *o = x->o;
	const struct edge_ota_manifest *m = &x->model.manifest;
	struct edge_ota_device_row *r = ota_dev_get(o, st->id);
	struct ota_device_op *op;
	int64_t wall = (int64_t)ota_wall_ms();
	int rc;

	if (r) {
		if (st->state == EDGE_OTA_N_ACTIVATED) {
			snprintf(r->previous_name, sizeof r->previous_name, "%s", r->active_name);
			snprintf(r->previous_version, sizeof r->previous_version, "%s",
				 r->active_version);
			snprintf(r->previous_sha256, sizeof r->previous_sha256, "%s",
				 r->active_sha256);
			snprintf(r->active_name, sizeof r->active_name, "%s", m->name);
			snprintf(r->active_version, sizeof r->active_version, "%s", m->version);
			snprintf(r->active_sha256, sizeof r->active_sha256, "%s", m->sha256);
		}
		r->last_transfer = x->row.id;
		snprintf(r->last_outcome, sizeof r->last_outcome, "%s",
			 edge_ota_node_state_name((enum edge_ota_node_state)st->state));
		snprintf(r->last_reason, sizeof r->last_reason, "%s",
			 edge_ota_reason_name((enum edge_ota_reason)st->reason));
		r->updated_ms = wall;
	}
	op = malloc(sizeof *op);
	if (!op) {
		ota_store_failed(o, "device OTA history", -ENOMEM);
		return;
	}
	op->o = o;
	snprintf(op->device, sizeof op->device, "%s", st->id);
	op->transfer = x->row.id;
	op->manifest = *m;
	op->state = (enum edge_ota_node_state)st->state;
	op->reason = st->reason;
	op->wall_ms = wall;
	rc = edge_store_submit(o->store, device_op_run, device_op_done, op);
	if (rc < 0) {
		free(op);
		ota_store_failed(o, "device OTA history", rc);
	}
}

/* ---- sender I/O ---- */

static int io_send_node(void *ud, const char *id, const void *frame, size_t len, bool reliable)
{
	struct ota_xfer *x = ud;
	struct edged_ota *o = x->o;
	char topic[EDGE_CONFIG_NAME_MAX + EDGE_OTA_NODE_ID_MAX + 16];
	int rc;

	if (!o->mqtt || o->stopping) {
		o->stats.frames_lost++;
		return -ENOTCONN;
	}
	if ((size_t)snprintf(topic, sizeof topic, "%s/%s/ota/frame", o->prefix, id) >=
	    sizeof topic)
		return -EINVAL;
	rc = edged_mqtt_publish_frame(o->mqtt, topic, frame, len, reliable ? 1 : 0);
	if (rc < 0)
		o->stats.frames_lost++;
	return rc;
}

static int io_send_campaign(void *ud, uint32_t transfer, const void *frame, size_t len)
{
	struct ota_xfer *x = ud;
	struct edged_ota *o = x->o;
	char topic[EDGE_CONFIG_NAME_MAX + 32];
	int rc;

	if (!o->mqtt || o->stopping) {
		o->stats.frames_lost++;
		return -ENOTCONN;
	}
	rc = edge_ota_campaign_topic(topic, sizeof topic, o->prefix, transfer);
	if (rc < 0)
		return rc;
	rc = edged_mqtt_publish_frame(o->mqtt, topic, frame, len, 0);
	if (rc < 0)
		o->stats.frames_lost++;
	return rc;
}

static void io_changed(void *ud, struct edge_ota_sender *s, const struct edge_ota_node_status *st)
{
	struct ota_xfer *x = ud;
	struct edged_ota *o = x->o;
	struct ota_xnode *n = xnode_find(x, st->id);

	(void)s;
	if (n && !n->dirty) {
		n->dirty = true;
		if (x->n_dirty++ == 0)
			x->dirty_since_ms = edge_time_monotonic_ms();
	}
	if (edge_ota_node_state_final((enum edge_ota_node_state)st->state)) {
		x->flush_now = true;
		if (st->reason < EDGE_OTA_R_COUNT)
			o->stats.reasons[st->reason]++;
		switch (st->state) {
		case EDGE_OTA_N_ACTIVATED: o->stats.nodes_activated++; break;
		case EDGE_OTA_N_REVERTED: o->stats.nodes_reverted++; break;
		case EDGE_OTA_N_FAILED: o->stats.nodes_failed++; break;
		case EDGE_OTA_N_DENIED: o->stats.nodes_denied++; break;
		case EDGE_OTA_N_CANCELLED: o->stats.nodes_cancelled++; break;
		default: break;
		}
		/* Per node at info or debug: a fleet-wide transfer ends with
		 * one NOTICE line of counts (xfer_finish). */
		edge_log(st->state == EDGE_OTA_N_ACTIVATED ? EDGE_LOG_DEBUG : EDGE_LOG_INFO, "ota",
			 "transfer %u: node %s %s (%s)%s%s", x->row.id, st->id,
			 edge_ota_node_state_name((enum edge_ota_node_state)st->state),
			 edge_ota_reason_name((enum edge_ota_reason)st->reason),
			 st->detail[0] ? ": " : "", st->detail);
		record_device(x, st);
		if (o->on_final)
			o->on_final(o->on_final_ud, x->row.id, st);
	}
	ota_kick(o);
}

void edged_ota_set_final_hook(struct edged_ota *o, edged_ota_final_fn fn, void *ud)
{
	if (!o)
		return;
	o->on_final = fn;
	o->on_final_ud = fn ? ud : NULL;
}

void edged_ota_set_revert_hook(struct edged_ota *o, edged_ota_revert_fn fn, void *ud)
{
	if (!o)
		return;
	o->on_revert = fn;
	o->on_revert_ud = fn ? ud : NULL;
}

/* ---- reverts ---- */

uint32_t ota_take_id(struct edged_ota *o)
{
	if (o->next_id == 0)
		o->next_id = 1; /* 0 is never an id */
	return o->next_id++;
}

static int hex_byte(const char *p)
{
	static const char digits[] = "0123456789abcdef";
	const char *hi = strchr(digits, p[0]), *lo = strchr(digits, p[1]);

	return p[0] && p[1] && hi && lo ? (int)((hi - digits) << 4 | (lo - digits)) : -1;
}

int ota_revert_send(struct edged_ota *o, const char *id, uint32_t rid, const char *sha256_hex)
{
	uint8_t sha[32], frame[EDGE_OTA_FRAME_HDR + EDGE_OTA_REVERT_PAYLOAD];
	struct ota_xfer fake = { .o = o };
	int len;

	if (strlen(sha256_hex) != 64)
		return -EINVAL;
	for (unsigned i = 0; i < 32; i++) {
		int b = hex_byte(sha256_hex + 2 * i);

		if (b < 0)
			return -EINVAL;
		sha[i] = (uint8_t)b;
	}
	len = edge_ota_revert_encode(frame, sizeof frame, rid, sha);
	if (len < 0)
		return len;
	o->stats.reverts_sent++;
	return io_send_node(&fake, id, frame, (size_t)len, true);
}

void ota_record_revert(struct edged_ota *o, const char *id, uint32_t rid)
{
	struct edge_ota_device_row *r = ota_dev_find(o, id);
	struct ota_device_op *op;
	int rc;

	/* Only the device row knows what the previous model was. */
	if (!r || !r->previous_sha256[0])
		return;
	op = calloc(1, sizeof *op);
	if (!op) {
		ota_store_failed(o, "device OTA history", -ENOMEM);
		return;
	}
	op->o = o;
	snprintf(op->device, sizeof op->device, "%s", id);
	op->transfer = rid;
	snprintf(op->manifest.name, sizeof op->manifest.name, "%s", r->previous_name);
	snprintf(op->manifest.version, sizeof op->manifest.version, "%s", r->previous_version);
	snprintf(op->manifest.sha256, sizeof op->manifest.sha256, "%s", r->previous_sha256);
	op->state = EDGE_OTA_N_ACTIVATED;
	op->reason = EDGE_OTA_R_OK;
	op->wall_ms = (int64_t)ota_wall_ms();
	/* the same swap the store makes: the previous model is active again */
	{
		struct edge_ota_device_row was = *r;

		snprintf(r->active_name, sizeof r->active_name, "%s", was.previous_name);
		snprintf(r->active_version, sizeof r->active_version, "%s", was.previous_version);
		snprintf(r->active_sha256, sizeof r->active_sha256, "%s", was.previous_sha256);
		snprintf(r->previous_name, sizeof r->previous_name, "%s", was.active_name);
		snprintf(r->previous_version, sizeof r->previous_version, "%s", was.active_version);
		snprintf(r->previous_sha256, sizeof r->previous_sha256, "%s", was.active_sha256);
		r->last_transfer = rid;
		snprintf(r->last_outcome, sizeof r->last_outcome, "reverted");
		snprintf(r->last_reason, sizeof r->last_reason, "ok");
		r->updated_ms = op->wall_ms;
	}
	rc = edge_store_submit(o->store, device_op_run, device_op_done, op);
	if (rc < 0) {
		free(op);
		ota_store_failed(o, "device OTA history", rc);
	}
}

/* ---- transfers ---- */

static void xfer_free(struct edged_ota *o, struct ota_xfer *x)
{
	if (!x)
		return;
	edge_ota_sender_free(x->sender);
	ota_pkg_unref(o, x->pkg);
	free(x->nodes);
	free(x);
}

static struct ota_xfer *xfer_alloc(struct edged_ota *o, const struct edge_ota_model *m,
				   unsigned n_nodes)
{
	struct ota_xfer *x = calloc(1, sizeof *x);

	if (!x)
		return NULL;
	x->nodes = calloc(n_nodes ? n_nodes : 1, sizeof *x->nodes);
	if (!x->nodes) {
		free(x);
		return NULL;
	}
	x->o = o;
	x->model = *m;
	return x;
}

static int xfer_new_sender(struct ota_xfer *x, const struct edge_ota_sender_config *cfg)
{
	struct edged_ota *o = x->o;
	const struct edge_ota_sender_io io = {
		.ud = x,
		.send_node = io_send_node,
		.send_campaign = io_send_campaign,
		.changed = io_changed,
	};

	return edge_ota_sender_new(x->row.id, x->pkg->buf, x->pkg->len, cfg, &io, &o->pacer,
				   &x->sender);
}

static bool node_online(const struct edged_ota *o, const char *id)
{
	return edge_registry_get_state(o->registry, id) == EDGE_NODE_ONLINE;
}

int ota_xfer_start(struct edged_ota *o, const struct edge_ota_model *m, struct ota_pkg *pkg,
		   const struct edge_ota_sender_config *cfg, char (*ids)[EDGE_OTA_NODE_ID_MAX + 1],
		   unsigned n, struct ota_xfer **out)
{
	uint64_t wall = ota_wall_ms(), now = edge_time_monotonic_ms();
	struct ota_xfer *x;
	int rc;

	assert(n > 0 && pkg);
	x = xfer_alloc(o, m, n);
	if (!x)
		return -ENOMEM;
	if (o->next_id == 0)
		o->next_id = 1; /* 0 is never a transfer id */
	x->row.id = o->next_id;
	snprintf(x->row.digest, sizeof x->row.digest, "%s", m->digest);
	x->row.chunk_size = cfg->chunk_size;
	x->row.campaign = cfg->campaign && n > 1;
	x->row.created_ms = (int64_t)wall;
	x->pkg = pkg;
	pkg->refs++;
	rc = xfer_new_sender(x, cfg);
	if (rc < 0) {
		xfer_free(o, x);
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		rc = edge_ota_sender_add(x->sender, ids[i], node_online(o, ids[i]), NULL, wall, now);
		if (rc < 0) {
			xfer_free(o, x);
			return rc;
		}
		snprintf(x->nodes[x->n_nodes].id, sizeof x->nodes[0].id, "%s", ids[i]);
		x->n_nodes++;
	}
	xnodes_sort(x);
	o->next_id++;
	/* The row first: the node rows refer to it (the writer keeps the
	 * submit order). */
	submit_transfer_row(o, &x->row);
	xfer_flush(x, true);
	x->next = o->xfers;
	o->xfers = x;
	o->n_open++;
	o->stats.transfers_total++;
	edge_log(EDGE_LOG_NOTICE, "ota", "transfer %u: %s@%s to %u node%s%s", x->row.id,
		 m->manifest.name, m->manifest.version, n, n == 1 ? "" : "s",
		 x->row.campaign ? " (campaign)" : "");
	ota_kick(o);
	*out = x;
	return 0;
}

/* Every node final: the row closed, the summary kept, the sender gone. */
static void xfer_finish(struct edged_ota *o, struct ota_xfer *x)
{
	struct edge_ota_sender_stats ss;
	json_t *sum;

	xfer_flush(x, false);
	x->row.finished_ms = (int64_t)ota_wall_ms();
	submit_transfer_row(o, &x->row);
	edge_ota_sender_get_stats(x->sender, &ss);
	edge_log(EDGE_LOG_NOTICE, "ota", "transfer %u finished: %u activated, %u reverted, "
		 "%u failed, %u denied, %u cancelled", x->row.id, ss.by_state[EDGE_OTA_N_ACTIVATED],
		 ss.by_state[EDGE_OTA_N_REVERTED], ss.by_state[EDGE_OTA_N_FAILED],
		 ss.by_state[EDGE_OTA_N_DENIED], ss.by_state[EDGE_OTA_N_CANCELLED]);
	sum = ota_transfer_json(o, x, x->cancelled ? "cancelled" : "finished");
	if (sum) {
		unsigned slot = (o->fin_head + o->fin_n) % OTA_FINISHED_KEEP;

		if (o->fin_n == OTA_FINISHED_KEEP) {
			json_decref(o->finished[o->fin_head]);
			o->fin_head = (o->fin_head + 1) % OTA_FINISHED_KEEP;
			slot = (o->fin_head + o->fin_n - 1) % OTA_FINISHED_KEEP;
		} else {
			o->fin_n++;
		}
		o->finished[slot] = sum;
	}
	for (struct ota_xfer **pp = &o->xfers; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	assert(o->n_open > 0);
	o->n_open--;
	xfer_free(o, x);
}

/* Polls every sender, flushes what is due, finishes what is done, and
 * re-arms for the earliest deadline. */
static void on_timer(uv_timer_t *t)
{
	struct edged_ota *o = t->data;
	uint64_t wall = ota_wall_ms(), now = edge_time_monotonic_ms(), next = UINT64_MAX;
	struct ota_xfer *x, *nx;

	for (x = o->xfers; x; x = nx) {
		uint64_t due;

		nx = x->next;
		if (!o->stopping) {
			due = edge_ota_sender_poll(x->sender, wall, now);
			if (due < next)
				next = due;
		}
		if (x->flush_now || (x->n_dirty && now >= x->dirty_since_ms + OTA_FLUSH_INTERVAL_MS))
			xfer_flush(x, false);
		if (edge_ota_sender_finished(x->sender)) {
			xfer_finish(o, x);
			continue;
		}
		if (x->n_dirty && x->dirty_since_ms + OTA_FLUSH_INTERVAL_MS < next)
			next = x->dirty_since_ms + OTA_FLUSH_INTERVAL_MS;
	}
	if (next != UINT64_MAX && o->timer_open)
		uv_timer_start(o->timer, on_timer, next > now ? next - now : 0, 0);
}

/* Run the timer now (coalesced: once per loop iteration, outside the MQTT
 * library's callbacks, so frames are written at once). */
void ota_kick(struct edged_ota *o)
{
	if (o->timer_open && !o->freeing)
		uv_timer_start(o->timer, on_timer, 0, 0);
}

/* ---- answers and presence ---- */

int edged_ota_on_answer(struct edged_ota *o, const char *id, const struct edge_ota_answer *a)
{
	struct ota_xfer *x;
	int rc;

	if (!o || o->stopping)
		return 0;
	x = ota_xfer_find(o, a->transfer);
	if (!x && o->on_revert && o->on_revert(o->on_revert_ud, id, a) == 0)
		return 0;
	if (!x || !xnode_find(x, id)) {
		o->stats.bad_answers++;
		return EDGE_ENOTFOUND;
	}
	rc = edge_ota_sender_on_answer(x->sender, id, a, ota_wall_ms(), edge_time_monotonic_ms());
	if (rc == EDGE_ENOTFOUND) {
		o->stats.bad_answers++;
		return rc;
	}
	if (rc < 0) {
		o->stats.bad_answers++;
		return -EPROTO;
	}
	ota_kick(o);
	return 0;
}

void edged_ota_bad_answer(struct edged_ota *o)
{
	if (o)
		o->stats.bad_answers++;
}

void edged_ota_node_event(struct edged_ota *o, const char *id, enum edge_registry_event ev)
{
	uint64_t now = edge_time_monotonic_ms();
	bool online;

	if (!o || o->stopping)
		return;
	if (ev == EDGE_REGISTRY_FORGOTTEN) {
		/* Its history row stays in the store; memory follows the registry. */
		struct edge_ota_device_row *r = ota_dev_find(o, id);

		if (r) {
			struct ota_dev *dev = (struct ota_dev *)r;

			*dev = o->devs[--o->n_devs];
		}
	}
	switch (ev) {
	case EDGE_REGISTRY_REGISTERED:
	case EDGE_REGISTRY_UPDATED:
	case EDGE_REGISTRY_RECONNECTED:
	case EDGE_REGISTRY_ONLINE:
		online = true;
		break;
	case EDGE_REGISTRY_OFFLINE:
	case EDGE_REGISTRY_STALE:
	case EDGE_REGISTRY_REVOKED:
	case EDGE_REGISTRY_FORGOTTEN:
		online = false;
		break;
	default:
		return;
	}
	for (struct ota_xfer *x = o->xfers; x; x = x->next) {
		if (!xnode_find(x, id))
			continue;
		if (online)
			edge_ota_sender_node_online(x->sender, id, now);
		else
			edge_ota_sender_node_offline(x->sender, id, now);
		ota_kick(o);
	}
}

void edged_ota_get_stats(const struct edged_ota *o, struct edged_ota_stats *out)
{
	*out = o->stats;
	out->models = edge_ota_catalog_count(o->catalog);
	out->transfers_open = o->n_open;
}

/* ---- settings ---- */

static void ota_config_from(struct edge_ota_sender_config *c, const struct edge_settings *s)
{
	edge_ota_sender_config_defaults(c);
	c->chunk_size = (uint32_t)s->ota.chunk_size;
	c->window = (uint32_t)s->ota.window;
	c->campaign = s->ota.campaign;
	c->campaign_gather_ms = (uint32_t)s->ota.campaign_gather_ms;
	c->rto_min_ms = (uint32_t)s->ota.rto_min_ms;
	c->rto_max_ms = (uint32_t)s->ota.rto_max_ms;
	if (c->rto_initial_ms < c->rto_min_ms)
		c->rto_initial_ms = c->rto_min_ms;
	if (c->rto_initial_ms > c->rto_max_ms)
		c->rto_initial_ms = c->rto_max_ms;
	c->offer_timeout_ms = (uint32_t)s->ota.offer_timeout_ms;
	c->offer_tries = (uint32_t)s->ota.offer_tries;
	c->stall_timeout_ms = (uint32_t)s->ota.stall_timeout_ms;
	c->result_timeout_ms = (uint32_t)s->ota.result_timeout_ms;
	c->retry_interval_ms = (uint32_t)s->ota.retry_interval_ms;
	c->give_up_ms = (uint32_t)s->ota.give_up_s * 1000u;
}

void edged_ota_apply_settings(struct edged_ota *o, const struct edge_settings *s)
{
	struct ota_trust *t;

	if (!o)
		return;
	t = ota_trust_load(s);
	ota_trust_unref(o->trust); /* verifications running keep theirs */
	o->trust = t;
	o->threshold = (unsigned)s->ota.threshold;
	o->max_transfers = (unsigned)s->ota.max_transfers;
	ota_config_from(&o->cfg, s);
	edge_ota_pacer_init(&o->pacer, s->ota.rate_bytes_per_s, edge_time_monotonic_ms());
}

/* ---- start: catalog, history, open transfers ---- */

struct load_transfer {
	struct edge_ota_transfer_row row;
	struct edge_ota_node_status *st;
	unsigned n, cap;
};

struct load_ctx {
	struct edged_ota *o;
	char err[256];
	char (*ids)[EDGE_OTA_NODE_ID_MAX + 1];   /* registry nodes, for their history */
	unsigned n_ids, cap_ids;
	struct load_transfer *tr;
	unsigned n_tr, cap_tr;
	int rc;
};

static int load_transfer_cb(const struct edge_ota_transfer_row *t, void *ud)
{
	struct load_ctx *c = ud;

	if (c->n_tr == c->cap_tr) {
		unsigned cap = c->cap_tr ? 2 * c->cap_tr : 8;
		struct load_transfer *n = realloc(c->tr, cap * sizeof *n);

		if (!n)
			return -ENOMEM;
		c->tr = n;
		c->cap_tr = cap;
	}
	memset(&c->tr[c->n_tr], 0, sizeof c->tr[0]);
	c->tr[c->n_tr++].row = *t;
	return 0;
}

static int load_node_cb(uint32_t transfer, const struct edge_ota_node_status *st, void *ud)
{
	struct load_ctx *c = ud;

	for (unsigned i = 0; i < c->n_tr; i++) {
		struct load_transfer *t = &c->tr[i];

		if (t->row.id != transfer)
			continue;
		if (t->n == t->cap) {
			unsigned cap = t->cap ? 2 * t->cap : 16;
			struct edge_ota_node_status *n = realloc(t->st, cap * sizeof *n);

			if (!n)
				return -ENOMEM;
			t->st = n;
			t->cap = cap;
		}
		t->st[t->n++] = *st;
		return 0;
	}
	return 0; /* a node row of a closed transfer: nothing to resume */
}

static int collect_id(const struct edge_node_info *node, void *ud)
{
	struct load_ctx *c = ud;

	if (c->n_ids == c->cap_ids) {
		unsigned cap = c->cap_ids ? 2 * c->cap_ids : 64;
		void *n = realloc(c->ids, cap * sizeof c->ids[0]);

		if (!n)
			return -ENOMEM;
		c->ids = n;
		c->cap_ids = cap;
	}
	snprintf(c->ids[c->n_ids++], sizeof c->ids[0], "%s", node->id);
	return 0;
}

/* On the store's writer thread, while the loop thread waits in
 * edge_store_read (nothing else touches the service meanwhile). */
static int load_run(edge_store_conn *conn, void *ud)
{
	struct load_ctx *c = ud;
	struct edged_ota *o = c->o;
	struct sqlite3 *db = edge_store_conn_db(conn);
	int rc;

	rc = edge_ota_catalog_load(o->catalog, db, c->err, sizeof c->err);
	if (rc < 0)
		return rc;
	rc = edge_ota_store_next_transfer(db, &o->next_id);
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "next transfer id");
		return rc;
	}
	rc = edge_ota_store_load_open(db, load_transfer_cb, load_node_cb, c);
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "open transfers");
		return rc;
	}
	for (unsigned i = 0; i < c->n_ids; i++) {
		struct edge_ota_device_row row;

		rc = edge_ota_store_device_get(db, c->ids[i], &row);
		if (rc == EDGE_ENOTFOUND)
			continue;
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "OTA history of %s", c->ids[i]);
			return rc;
		}
		struct edge_ota_device_row *r = ota_dev_get(o, c->ids[i]);

		if (!r)
			return -ENOMEM;
		*r = row;
	}
	return 0;
}

/* A transfer that cannot resume (package gone): closed, logged. */
/* A transfer that cannot go on after a restart: its nodes still in
 * progress fail (internal, with why), then the transfer row is closed. */
static void close_unresumable(struct edged_ota *o, struct load_transfer *t, const char *why)
{
	struct edge_ota_transfer_row *row = &t->row;
	int64_t wall = (int64_t)ota_wall_ms();
	struct ota_nodes_op *op = malloc(sizeof *op + t->n * sizeof op->st[0]);
	int rc;

	edge_log(EDGE_LOG_ERR, "ota", "transfer %u cannot resume (%s): closed", row->id, why);
	if (op) {
		op->o = o;
		op->transfer = row->id;
		op->n = 0;
		for (unsigned i = 0; i < t->n; i++) {
			struct edge_ota_node_status st = t->st[i];

			if (edge_ota_node_state_final((enum edge_ota_node_state)st.state))
				continue;
			st.state = EDGE_OTA_N_FAILED;
			st.reason = EDGE_OTA_R_INTERNAL;
			st.finished_ms = st.updated_ms = (uint64_t)wall;
			snprintf(st.detail, sizeof st.detail, "not resumed after a restart: %s", why);
			op->st[op->n++] = st;
			o->stats.nodes_failed++;
			o->stats.reasons[EDGE_OTA_R_INTERNAL]++;
		}
		rc = op->n ? edge_store_submit(o->store, nodes_op_run, nodes_op_done, op) : -ENODATA;
		if (rc < 0) {
			if (op->n)
				ota_store_failed(o, "transfer node statuses", rc);
			free(op);
		}
	}
	row->finished_ms = wall;
	submit_transfer_row(o, row);
}

static void resume_transfer(struct edged_ota *o, struct load_transfer *t)
{
	const struct edge_ota_model *m = edge_ota_catalog_find(o->catalog, t->row.digest, NULL);
	struct edge_ota_sender_config cfg = o->cfg;
	uint64_t wall = ota_wall_ms(), now = edge_time_monotonic_ms();
	struct ota_pkg *pkg;
	struct ota_xfer *x;
	char err[256] = "";
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!m || t->n == 0) {
		close_unresumable(o, t, !m ? "its model is not stored" : "no nodes");
		return;
	}
	pkg = ota_pkg_find(o, m->digest);
	if (!pkg) {
		/* Before the loop runs: reading here blocks nobody. */
		rc = edge_ota_store_read_file(o->models_dir, m->digest,
					      (size_t)m->pkg_size, &buf, &len, err, sizeof err);
		if (rc < 0) {
			close_unresumable(o, t, err[0] ? err : edge_strerror(rc));
			return;
		}
		pkg = ota_pkg_add(o, m->digest, buf, len);
		if (!pkg) {
			close_unresumable(o, t, "out of memory");
			return;
		}
	}
	x = xfer_alloc(o, m, t->n);
	if (!x) {
		if (pkg->refs == 0) {
			pkg->refs = 1;
			ota_pkg_unref(o, pkg);
		}
		close_unresumable(o, t, "out of memory");
		return;
	}
	x->row = t->row;
	x->pkg = pkg;
	pkg->refs++;
	cfg.chunk_size = t->row.chunk_size;
	cfg.campaign = t->row.campaign;
	rc = xfer_new_sender(x, &cfg);
	for (unsigned i = 0; rc == 0 && i < t->n; i++) {
		const struct edge_ota_node_status *st = &t->st[i];

		rc = edge_ota_sender_add(x->sender, st->id, node_online(o, st->id), st, wall, now);
		if (rc == 0) {
			snprintf(x->nodes[x->n_nodes].id, sizeof x->nodes[0].id, "%s", st->id);
			x->n_nodes++;
		}
	}
	if (rc < 0) {
		xfer_free(o, x);
		close_unresumable(o, t, edge_strerror(rc));
		return;
	}
	xnodes_sort(x);
	x->next = o->xfers;
	o->xfers = x;
	o->n_open++;
	if (t->row.id >= o->next_id)
		o->next_id = t->row.id + 1;
	edge_log(EDGE_LOG_NOTICE, "ota", "transfer %u resumed: %s@%s, %u node%s", x->row.id,
		 m->manifest.name, m->manifest.version, x->n_nodes, x->n_nodes == 1 ? "" : "s");
}

int edged_ota_new(struct edged *d, struct edged_ota **out)
{
	const struct edge_settings *s = edge_config_settings(d->config);
	struct edged_ota *o = calloc(1, sizeof *o);
	struct load_ctx c = { 0 };
	int rc;

	if (!o)
		return -ENOMEM;
	o->d = d;
	o->loop = d->loop;
	o->store = d->store;
	o->registry = d->registry;
	o->mqtt = d->mqtt;
	snprintf(o->prefix, sizeof o->prefix, "%s", s->mqtt.topic_prefix);
	snprintf(o->models_dir, sizeof o->models_dir, "%s", s->ota.models_path);
	edged_ota_apply_settings(o, s);
	rc = edge_ota_catalog_new(&o->catalog);
	if (rc < 0) {
		free(o);
		return rc;
	}
	o->timer = malloc(sizeof *o->timer);
	rc = o->timer ? uv_timer_init(d->loop, o->timer) : -ENOMEM;
	if (rc < 0) {
		free(o->timer);
		edge_ota_catalog_free(o->catalog);
		ota_trust_unref(o->trust);
		free(o);
		return rc;
	}
	o->timer->data = o;
	o->timer_open = true;

	c.o = o;
	rc = edge_registry_foreach(o->registry, EDGE_NODE_MASK_ALL, collect_id, &c);
	if (rc == 0)
		rc = edge_store_read(o->store, load_run, &c);
	if (rc < 0)
		edge_log(EDGE_LOG_ERR, "ota", "cannot load the model store: %s%s%s",
			 c.err[0] ? c.err : "", c.err[0] ? ": " : "", edge_strerror(rc));
	for (unsigned i = 0; rc == 0 && i < c.n_tr; i++)
		resume_transfer(o, &c.tr[i]);
	for (unsigned i = 0; i < c.n_tr; i++)
		free(c.tr[i].st);
	free(c.tr);
	free(c.ids);
	if (rc < 0) {
		edged_ota_stop(o);
		edged_ota_free(o);
		return rc;
	}
	edge_log(EDGE_LOG_INFO, "ota", "%u stored model%s, %u open transfer%s",
		 edge_ota_catalog_count(o->catalog), edge_ota_catalog_count(o->catalog) == 1 ? "" : "s",
		 o->n_open, o->n_open == 1 ? "" : "s");
	ota_kick(o);
	*out = o;
	return 0;
}

/* ---- stop ---- */

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

void edged_ota_stop(struct edged_ota *o)
{
	if (!o || o->stopping)
		return;
	o->stopping = true;
	/* What changed goes to the store before it drains; the transfers
	 * resume from there at the next start. */
	for (struct ota_xfer *x = o->xfers; x; x = x->next)
		xfer_flush(x, false);
	if (o->timer_open) {
		uv_close((uv_handle_t *)o->timer, timer_closed);
		o->timer_open = false;
	}
}

void edged_ota_detach(struct edged_ota *o)
{
	if (o)
		o->mqtt = NULL;
}

static void ota_release(struct edged_ota *o)
{
	struct ota_xfer *x;

	while ((x = o->xfers)) {
		o->xfers = x->next;
		xfer_free(o, x);
	}
	/* Buffers still held by an ota.send whose read is back are freed by
	 * that job; none is left once the jobs are done. */
	while (o->pkgs) {
		struct ota_pkg *p = o->pkgs;

		o->pkgs = p->next;
		free(p->buf);
		free(p);
	}
	for (unsigned i = 0; i < o->fin_n; i++)
		json_decref(o->finished[(o->fin_head + i) % OTA_FINISHED_KEEP]);
	edge_ota_catalog_free(o->catalog);
	ota_trust_unref(o->trust);
	free(o->devs);
	free(o);
}

void edged_ota_free(struct edged_ota *o)
{
	if (!o)
		return;
	edged_ota_stop(o);
	o->mqtt = NULL;
	o->freeing = true;
	if (o->jobs == 0)
		ota_release(o);
}
