/* The rollout service (rollout.h): stages, judging, soak, persistence and
 * the restart. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "edge_log.h"
#include "edge_time.h"
#include "edged.h"
#include "ota_internal.h"
#include "rollout_internal.h"

static uint64_t wall_ms(void)
{
	return ota_wall_ms();
}

/* ---- persistence (writer thread ops; completions only count) ---- */

struct ro_row_op {
	struct edged_rollout *s;
	struct edge_rollout_row row;
};

struct ro_nodes_op {
	struct edged_rollout *s;
	uint32_t rollout;
	unsigned n;
	struct edge_rollout_node_row v[];
};

struct ro_event_op {
	struct edged_rollout *s;
	uint32_t rollout;
	int64_t ts_ms;
	char text[EDGE_ROLLOUT_EVENT_MAX];
};

static void store_failed(struct edged_rollout *s, const char *what, int rc)
{
	s->stats.store_failures++;
	edge_log(EDGE_LOG_WARNING, "rollout", "%s not stored: %s", what, edge_strerror(rc));
}

static int row_op_run(edge_store_conn *conn, void *ud)
{
	return edge_rollout_store_rollout_op(conn, &((struct ro_row_op *)ud)->row);
}

static void row_op_done(int result, void *ud)
{
	struct ro_row_op *op = ud;

	if (result < 0)
		store_failed(op->s, "rollout row", result);
	free(op);
}

static int nodes_op_run(edge_store_conn *conn, void *ud)
{
	struct ro_nodes_op *op = ud;

	return edge_rollout_store_nodes_op(conn, op->rollout, op->v, op->n);
}

static void nodes_op_done(int result, void *ud)
{
	struct ro_nodes_op *op = ud;

	if (result < 0)
		store_failed(op->s, "rollout nodes", result);
	free(op);
}

static int event_op_run(edge_store_conn *conn, void *ud)
{
	struct ro_event_op *op = ud;

	return edge_rollout_store_event_op(conn, op->rollout, op->ts_ms, op->text);
}

static void event_op_done(int result, void *ud)
{
	struct ro_event_op *op = ud;

	if (result < 0)
		store_failed(op->s, "rollout event", result);
	free(op);
}

static void submit(struct edged_rollout *s, edge_store_run_fn run, edge_store_done_fn done,
		   void *op, const char *what)
{
	int rc;

	if (!op) {
		store_failed(s, what, -ENOMEM);
		return;
	}
	rc = edge_store_submit(s->store, run, done, op);
	if (rc < 0) {
		free(op);
		store_failed(s, what, rc);
	}
}

void ro_save_row(struct rollout *r)
{
	struct ro_row_op *op = malloc(sizeof *op);

	r->row.updated_ms = (int64_t)wall_ms();
	if (op) {
		op->s = r->svc;
		op->row = r->row;
	}
	submit(r->svc, row_op_run, row_op_done, op, "rollout row");
}

static void node_row(const struct ro_node *n, struct edge_rollout_node_row *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->device, sizeof out->device, "%s", n->id);
	out->stage = n->stage;
	out->outcome = n->outcome;
	snprintf(out->reason, sizeof out->reason, "%s", n->reason);
	out->baseline_from_ms = n->baseline_from_ms;
}

/* Nodes [first, first + n) of r. */
void ro_save_nodes(struct rollout *r, unsigned first, unsigned n)
{
	struct ro_nodes_op *op;

	assert(first + n <= r->n_nodes);
	op = malloc(sizeof *op + n * sizeof op->v[0]);
	if (op) {
		op->s = r->svc;
		op->rollout = r->row.id;
		op->n = n;
		for (unsigned i = 0; i < n; i++)
			node_row(&r->nodes[first + i], &op->v[i]);
	}
	submit(r->svc, nodes_op_run, nodes_op_done, op, "rollout nodes");
}

void ro_event(struct rollout *r, const char *fmt, ...)
{
	struct ro_event *e = &r->ev[(r->ev_head + r->ev_n) % ROLLOUT_EVENTS_KEEP];
	struct ro_event_op *op;
	va_list ap;

	if (r->ev_n == ROLLOUT_EVENTS_KEEP)
		r->ev_head = (r->ev_head + 1) % ROLLOUT_EVENTS_KEEP;
	else
		r->ev_n++;
	e->ts_ms = (int64_t)wall_ms();
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
	edge_log(EDGE_LOG_NOTICE, "rollout", "rollout %u (%s@%s): %s", r->row.id, r->row.name,
		 r->row.version, e->text);
	op = malloc(sizeof *op);
	if (op) {
		op->s = r->svc;
		op->rollout = r->row.id;
		op->ts_ms = e->ts_ms;
		memcpy(op->text, e->text, sizeof op->text);
	}
	submit(r->svc, event_op_run, event_op_done, op, "rollout event");
}

/* ---- lookups ---- */

struct rollout *ro_find(const struct edged_rollout *s, uint32_t id)
{
	for (struct rollout *r = s->list; r; r = r->next)
		if (r->row.id == id)
			return r;
	return NULL;
}

static struct ro_node *node_find(struct rollout *r, const char *id)
{
	for (unsigned i = 0; i < r->n_nodes; i++)
		if (strcmp(r->nodes[i].id, id) == 0)
			return &r->nodes[i];
	return NULL;
}

struct rollout *ro_of_node(const struct edged_rollout *s, const char *id)
{
	for (struct rollout *r = s->list; r; r = r->next)
		if (!edge_rollout_state_final(r->row.state) && node_find(r, id))
			return r;
	return NULL;
}

struct rollout *ro_of_name(const struct edged_rollout *s, const char *name)
{
	for (struct rollout *r = s->list; r; r = r->next)
		if (!edge_rollout_state_final(r->row.state) && strcmp(r->row.name, name) == 0)
			return r;
	return NULL;
}

void ro_stage_name(const struct rollout *r, uint32_t k, char *buf, size_t cap)
{
	(void)r;
	if (k == 0)
		snprintf(buf, cap, "canary");
	else
		snprintf(buf, cap, "wave %u", k);
}

/* ---- timer ---- */

static void on_timer(uv_timer_t *t);

void ro_arm(struct edged_rollout *s, uint64_t delay_ms)
{
	if (!s->timer || s->freeing)
		return;
	if (uv_is_active((uv_handle_t *)s->timer)) {
		uint64_t due = uv_timer_get_due_in(s->timer);

		if (due <= delay_ms)
			return;
	}
	uv_timer_start(s->timer, on_timer, delay_ms, 0);
}

void ro_kick(struct edged_rollout *s)
{
	ro_arm(s, 0);
}

/* ---- outcomes ---- */

static enum edge_rollout_outcome outcome_of(const struct edge_ota_node_status *st)
{
	bool selftest = st->reason == EDGE_OTA_R_SELFTEST_FAILED ||
			st->reason == EDGE_OTA_R_SELFTEST_MISMATCH;

	switch (st->state) {
	case EDGE_OTA_N_ACTIVATED: return EDGE_ROLLOUT_SUCCESS;
	case EDGE_OTA_N_DENIED: return EDGE_ROLLOUT_DENIED;
	case EDGE_OTA_N_REVERTED:
		return selftest ? EDGE_ROLLOUT_SELFTEST_MISMATCH : EDGE_ROLLOUT_REVERTED;
	case EDGE_OTA_N_FAILED:
		return selftest ? EDGE_ROLLOUT_SELFTEST_MISMATCH : EDGE_ROLLOUT_TRANSFER_FAILED;
	default: return EDGE_ROLLOUT_TRANSFER_FAILED; /* cancelled */
	}
}

static void decide(struct rollout *r, struct ro_node *n, enum edge_rollout_outcome o)
{
	assert(n->outcome == EDGE_ROLLOUT_NODE_PENDING);
	n->outcome = o == EDGE_ROLLOUT_SUCCESS ? EDGE_ROLLOUT_NODE_SUCCESS
					       : EDGE_ROLLOUT_NODE_FAILURE;
	n->why = o;
	snprintf(n->reason, sizeof n->reason, "%s", edge_rollout_outcome_name(o));
	ro_save_nodes(r, (unsigned)(n - r->nodes), 1);
}

/* A node's final OTA state in its stage's transfer: a failure is decided
 * now; an activation once the node is seen online with the new model
 * (confirm_step). */
static void node_final(struct rollout *r, struct ro_node *n, const struct edge_ota_node_status *st)
{
	enum edge_rollout_outcome o = outcome_of(st);

	if (o != EDGE_ROLLOUT_SUCCESS)
		decide(r, n, o);
	else if (n->activated_ms == 0)
		n->activated_ms = (int64_t)wall_ms();
}

/* The OTA service's hook (inside a sender callback: record only, act
 * later from the timer). */
static void on_final(void *ud, uint32_t transfer, const struct edge_ota_node_status *st)
{
	struct edged_rollout *s = ud;
	struct ro_node *n;

	for (struct rollout *r = s->list; r; r = r->next) {
		if (edge_rollout_state_final(r->row.state))
			continue;
		if (r->revert_xfer == transfer) {
			ro_revert_on_final(r, st);
			ro_kick(s);
			return;
		}
		if (r->row.transfer != transfer)
			continue;
		(void)ro_stage_bytes(r, r->row.stage); /* kept for when the transfer is gone */
		n = node_find(r, st->id);
		if (!n || n->stage != r->row.stage || n->outcome != EDGE_ROLLOUT_NODE_PENDING)
			return;
		node_final(r, n, st);
		ro_kick(s);
		return;
	}
}

/* Activated nodes of the current stage become successes once the registry
 * shows them online with the new model (they restarted into it), failures
 * (not_online) after rollout.online_timeout_s. Returns true while any
 * waits. */
static bool confirm_step(struct rollout *r, int64_t now_wall)
{
	const struct edge_settings *cfg = ro_settings(r->svc);
	unsigned first, n;
	bool waiting = false;

	ro_stage_range(r, r->row.stage, &first, &n);
	for (unsigned i = first; i < first + n; i++) {
		struct ro_node *nd = &r->nodes[i];
		struct edge_node_info info;

		if (nd->outcome != EDGE_ROLLOUT_NODE_PENDING || nd->activated_ms == 0)
			continue;
		if (edge_registry_get(r->svc->ota->registry, nd->id, &info) == 0 &&
		    info.state == EDGE_NODE_ONLINE && info.has_model &&
		    strcmp(info.model_name, r->row.name) == 0 &&
		    strcmp(info.model_version, r->row.version) == 0)
			decide(r, nd, EDGE_ROLLOUT_SUCCESS);
		else if (now_wall - nd->activated_ms >= (int64_t)cfg->rollout.online_timeout_s * 1000)
			decide(r, nd, EDGE_ROLLOUT_NOT_ONLINE);
		else
			waiting = true;
	}
	return waiting;
}

/* rollout.node_timeout_s after its stage started, a node still undecided
 * (offline and retried whenever it came back, or stalled) leaves the
 * transfer and fails the stage: not_online when the registry does not
 * show it online, transfer_failed when it is there but did not finish. */
static void timeout_step(struct rollout *r, int64_t now_wall, uint64_t *next_ms)
{
	const struct edge_settings *cfg = ro_settings(r->svc);
	int64_t due = r->row.stage_started_ms + (int64_t)cfg->rollout.node_timeout_s * 1000;
	struct ota_xfer *x;
	unsigned first, n, late = 0;
	char name[16];

	if (r->row.stage_started_ms == 0)
		return;
	if (now_wall < due) {
		if ((uint64_t)(due - now_wall) < *next_ms)
			*next_ms = (uint64_t)(due - now_wall);
		return;
	}
	x = r->row.transfer ? ota_xfer_find(r->svc->ota, r->row.transfer) : NULL;
	ro_stage_range(r, r->row.stage, &first, &n);
	for (unsigned i = first; i < first + n; i++) {
		struct ro_node *nd = &r->nodes[i];
		struct edge_node_info info;
		bool online;

		if (nd->outcome != EDGE_ROLLOUT_NODE_PENDING)
			continue;
		online = edge_registry_get(r->svc->ota->registry, nd->id, &info) == 0 &&
			 info.state == EDGE_NODE_ONLINE;
		/* decided first: the cancel reports the node's end through
		 * on_final at once, which then finds it decided */
		decide(r, nd, online && nd->activated_ms == 0 ? EDGE_ROLLOUT_TRANSFER_FAILED
							      : EDGE_ROLLOUT_NOT_ONLINE);
		if (x && ota_xfer_has_node(x, nd->id))
			edge_ota_sender_cancel(x->sender, nd->id, ota_wall_ms(),
					       edge_time_monotonic_ms());
		late++;
	}
	if (late) {
		ro_stage_name(r, r->row.stage, name, sizeof name);
		ro_event(r, "%s: %u node%s not decided %d s after the stage started: failed", name,
			 late, late == 1 ? "" : "s", cfg->rollout.node_timeout_s);
		ota_kick(r->svc->ota);
	}
}

/* ---- state changes ---- */

void ro_set_state(struct rollout *r, enum edge_rollout_state st, const char *reason)
{
	struct edged_rollout *s = r->svc;
	bool was_final = edge_rollout_state_final(r->row.state);

	r->row.state = st;
	snprintf(r->row.reason, sizeof r->row.reason, "%s", reason ? reason : "");
	if (was_final && !edge_rollout_state_final(st))
		s->stats.active++; /* a done rollout being reverted */
	if (!was_final && edge_rollout_state_final(st)) {
		assert(s->stats.active > 0);
		s->stats.active--;
		if (st == EDGE_ROLLOUT_DONE)
			s->stats.done++;
		else if (st == EDGE_ROLLOUT_ABORTED)
			s->stats.aborted++;
	}
	if (st == EDGE_ROLLOUT_HALTED)
		s->stats.halted++;
	ro_save_row(r);
}

void ro_cancel_transfer(struct rollout *r)
{
	struct ota_xfer *x = r->row.transfer ? ota_xfer_find(r->svc->ota, r->row.transfer) : NULL;

	if (!x)
		return;
	edge_ota_sender_cancel(x->sender, NULL, ota_wall_ms(), edge_time_monotonic_ms());
	x->cancelled = true;
	ota_kick(r->svc->ota);
}

/* ---- stages ---- */

int64_t ro_running_since(const struct edge_node_info *info)
{
	int64_t since = info->first_seen_ms;

	if (info->state != EDGE_NODE_ONLINE)
		return 0;
	/* its boot: the last heartbeat's uptime, counted back from when it
	 * arrived (unknown after a restart of edged until the next one) */
	if (info->hb_wall_ms > 0 && info->hb_wall_ms - (int64_t)info->hb_uptime_s * 1000 > since)
		since = info->hb_wall_ms - (int64_t)info->hb_uptime_s * 1000;
	return since;
}

uint64_t ro_stage_bytes(const struct rollout *r, uint32_t k)
{
	struct ota_xfer *x;
	struct edge_ota_sender_stats st;

	assert(k < r->n_stages);
	if (k == r->row.stage && r->row.transfer &&
	    (x = ota_xfer_find(r->svc->ota, r->row.transfer))) {
		edge_ota_sender_get_stats(x->sender, &st);
		r->stage_bytes[k] = st.campaign_bytes + st.unicast_bytes;
	}
	return r->stage_bytes[k];
}

void ro_stage_range(const struct rollout *r, uint32_t k, unsigned *first, unsigned *n)
{
	unsigned i = 0;

	while (i < r->n_nodes && r->nodes[i].stage < k)
		i++;
	*first = i;
	while (i < r->n_nodes && r->nodes[i].stage == k)
		i++;
	*n = i - *first;
}

struct read_job {
	uv_work_t work;
	struct edged_rollout *s;
	uint32_t rollout;
	ro_pkg_fn launch;
	char dir[EDGE_CONFIG_PATH_MAX];
	char digest[EDGE_OTA_DIGEST_HEX + 1];
	size_t max;
	uint8_t *buf;
	size_t len;
	int rc;
	char err[256];
};

static void read_work(uv_work_t *w)
{
	struct read_job *j = w->data;

	j->rc = edge_ota_store_read_file(j->dir, j->digest, j->max, &j->buf, &j->len, j->err,
					 sizeof j->err);
}

static void svc_release(struct edged_rollout *s);

/* Hands the package to launch (holding a reference for the call). */
static void pkg_launch(struct rollout *r, struct ota_pkg *pkg, ro_pkg_fn launch)
{
	pkg->refs++;
	launch(r, pkg, NULL);
	ota_pkg_unref(r->svc->ota, pkg);
}

static void read_after(uv_work_t *w, int status)
{
	struct read_job *j = w->data;
	struct edged_rollout *s = j->s;
	struct edged_ota *o = s->ota;
	struct rollout *r;
	struct ota_pkg *pkg;

	r = s->freeing ? NULL : ro_find(s, j->rollout);
	if (r)
		r->reading = false;
	if (!r || status < 0 || s->stopping || o->stopping || o->freeing) {
		/* stopping: the work starts again after the restart */
	} else if (j->rc < 0) {
		char why[EDGE_ROLLOUT_REASON_MAX];

		snprintf(why, sizeof why, "cannot read the stored package: %.150s",
			 j->err[0] ? j->err : edge_strerror(j->rc));
		j->launch(r, NULL, why);
	} else {
		pkg = ota_pkg_find(o, j->digest);
		if (!pkg) {
			pkg = ota_pkg_add(o, j->digest, j->buf, j->len);
			j->buf = NULL;
		}
		if (pkg)
			pkg_launch(r, pkg, j->launch);
		else
			j->launch(r, NULL, NULL);
	}
	free(j->buf);
	free(j);
	(void)ro_job_end(s);
}

int ro_with_package(struct rollout *r, const struct edge_ota_model *m, ro_pkg_fn launch)
{
	struct edged_rollout *s = r->svc;
	struct edged_ota *o = s->ota;
	struct ota_pkg *pkg = ota_pkg_find(o, m->digest);
	struct read_job *j;

	if (pkg) {
		pkg_launch(r, pkg, launch);
		return 0;
	}
	j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->work.data = j;
	j->s = s;
	j->rollout = r->row.id;
	j->launch = launch;
	snprintf(j->dir, sizeof j->dir, "%s", o->models_dir);
	snprintf(j->digest, sizeof j->digest, "%s", m->digest);
	j->max = (size_t)m->pkg_size;
	if (uv_queue_work(s->loop, &j->work, read_work, read_after) < 0) {
		free(j);
		return -ENOMEM;
	}
	s->jobs++;
	ota_job_begin(o);
	r->reading = true;
	return 0;
}

static void stage_launch(struct rollout *r, struct ota_pkg *pkg, const char *err);

/* Starts the transfer of the current stage's pending nodes. */
static void stage_start(struct rollout *r)
{
	struct edged_rollout *s = r->svc;
	struct edged_ota *o = s->ota;
	const struct edge_ota_model *m;

	r->retry_at_ms = 0;
	m = edge_ota_catalog_find(o->catalog, r->row.digest, NULL);
	if (!m) {
		ro_set_state(r, EDGE_ROLLOUT_HALTED, "the model was removed from the store");
		ro_event(r, "halted: the model was removed from the store");
		return;
	}
	if (o->n_open + o->sends_pending >= o->max_transfers || ro_with_package(r, m, stage_launch) < 0) {
		r->retry_at_ms = edge_time_monotonic_ms() + ROLLOUT_RETRY_MS;
		ro_arm(s, ROLLOUT_RETRY_MS);
	}
}

static void stage_launch(struct rollout *r, struct ota_pkg *pkg, const char *err)
{
	struct edged_rollout *s = r->svc;
	struct edged_ota *o = s->ota;
	const struct edge_ota_model *m = edge_ota_catalog_find(o->catalog, r->row.digest, NULL);
	char (*ids)[EDGE_OTA_NODE_ID_MAX + 1];
	char name[16];
	unsigned first, n, k = 0, busy = 0;
	struct ota_xfer *x;
	int rc;

	if (r->row.state != EDGE_ROLLOUT_RUNNING || r->row.transfer != 0)
		return; /* paused or aborted while the package was read */
	if (!pkg && err) {
		char why[EDGE_ROLLOUT_REASON_MAX];

		snprintf(why, sizeof why, "%s", err);
		ro_set_state(r, EDGE_ROLLOUT_HALTED, why);
		ro_event(r, "halted: %s", why);
		return;
	}
	if (!pkg) {
		r->retry_at_ms = edge_time_monotonic_ms() + ROLLOUT_RETRY_MS;
		ro_arm(s, ROLLOUT_RETRY_MS);
		return;
	}
	if (!m) {
		ro_set_state(r, EDGE_ROLLOUT_HALTED, "the model was removed from the store");
		ro_event(r, "halted: the model was removed from the store");
		return;
	}
	ro_stage_range(r, r->row.stage, &first, &n);
	ids = calloc(n ? n : 1, sizeof *ids);
	if (!ids) {
		r->retry_at_ms = edge_time_monotonic_ms() + ROLLOUT_RETRY_MS;
		ro_arm(s, ROLLOUT_RETRY_MS);
		return;
	}
	for (unsigned i = first; i < first + n; i++) {
		struct ro_node *nd = &r->nodes[i];
		struct edge_node_info info;

		if (nd->outcome != EDGE_ROLLOUT_NODE_PENDING)
			continue;
		/* Gone or held by a transfer started outside the rollout:
		 * counted as a failed transfer, the judge decides. */
		if (edge_registry_get(o->registry, nd->id, &info) < 0 ||
		    info.state == EDGE_NODE_REVOKED || ota_xfer_of_node(o, nd->id)) {
			decide(r, nd, EDGE_ROLLOUT_TRANSFER_FAILED);
			busy++;
			continue;
		}
		/* Where its own history starts (saved with its outcome): an
		 * offline node's is unknown, it joins no own baseline. */
		nd->baseline_from_ms = ro_running_since(&info);
		if (nd->baseline_from_ms == 0)
			nd->baseline_from_ms = (int64_t)wall_ms();
		snprintf(ids[k++], sizeof ids[0], "%s", nd->id);
	}
	ro_save_nodes(r, first, n); /* their outcomes and where their own history starts */
	ro_stage_name(r, r->row.stage, name, sizeof name);
	if (busy)
		ro_event(r, "%s: %u node%s gone, revoked or busy in another transfer: failed", name,
			 busy, busy == 1 ? "" : "s");
	if (k == 0) {
		free(ids);
		ro_kick(s); /* the judge decides the stage */
		return;
	}
	rc = ota_xfer_start(o, m, pkg, &o->cfg, ids, k, &x);
	free(ids);
	if (rc < 0) {
		edge_log(EDGE_LOG_WARNING, "rollout", "rollout %u: transfer not started: %s",
			 r->row.id, edge_strerror(rc));
		r->retry_at_ms = edge_time_monotonic_ms() + ROLLOUT_RETRY_MS;
		ro_arm(s, ROLLOUT_RETRY_MS);
		return;
	}
	r->row.transfer = x->row.id;
	if (r->row.stage_started_ms == 0)
		r->row.stage_started_ms = (int64_t)wall_ms();
	ro_save_row(r);
	ro_event(r, "%s started: %u node%s, transfer %u", name, k, k == 1 ? "" : "s", x->row.id);
}

/* The next stage, or done after the last. */
static void advance(struct rollout *r)
{
	char name[16];

	r->row.accepted = false;
	r->row.transfer = 0;
	r->row.stage_started_ms = 0;
	r->row.soak_started_ms = 0;
	r->looks_done = 0;
	r->soak_looks = 0;
	if (r->row.stage + 1 >= r->n_stages) {
		ro_set_state(r, EDGE_ROLLOUT_DONE, "");
		ro_event(r, "done: every stage passed");
		return;
	}
	r->row.stage++;
	ro_set_state(r, EDGE_ROLLOUT_RUNNING, "");
	ro_stage_name(r, r->row.stage, name, sizeof name);
	if (!r->svc->stopping)
		stage_start(r);
}

static void judge_stage(struct rollout *r, struct edge_rollout_decision *d)
{
	struct edge_rollout_counts c = { 0 };
	unsigned first, n;
	int rc;

	ro_stage_range(r, r->row.stage, &first, &n);
	c.nodes = n;
	for (unsigned i = first; i < first + n; i++) {
		if (r->nodes[i].outcome == EDGE_ROLLOUT_NODE_PENDING)
			continue;
		rc = edge_rollout_counts_add(&c, r->nodes[i].why);
		assert(rc == 0);
		(void)rc;
	}
	rc = edge_rollout_judge(&c, r->max_failures_bp, d);
	assert(rc == 0);
	(void)rc;
}

static void step(struct rollout *r, uint64_t now, uint64_t *next_ms)
{
	struct edge_rollout_decision d;
	int64_t now_wall = (int64_t)wall_ms();
	char name[16];

	if (!edge_rollout_state_final(r->row.state) && ro_reverting(r))
		ro_revert_step(r, now, next_ms);
	switch (r->row.state) {
	case EDGE_ROLLOUT_SOAKING:
		if (ro_health_step(r, now, next_ms) || r->row.state != EDGE_ROLLOUT_SOAKING)
			return; /* a look is due or running, or it halted */
		if (now >= r->soak_until_ms) {
			ro_stage_name(r, r->row.stage, name, sizeof name);
			ro_event(r, "%s: soak of %u s over", name, r->soak_s);
			advance(r);
		} else if (r->soak_until_ms - now < *next_ms) {
			*next_ms = r->soak_until_ms - now;
		}
		return;
	case EDGE_ROLLOUT_RUNNING:
	case EDGE_ROLLOUT_PAUSED:
	case EDGE_ROLLOUT_HALTED:
		/* the stage's transfer may still run: its nodes are decided
		 * whatever the state */
		if (confirm_step(r, now_wall) && ROLLOUT_POLL_MS < *next_ms)
			*next_ms = ROLLOUT_POLL_MS;
		timeout_step(r, now_wall, next_ms);
		if (r->row.state != EDGE_ROLLOUT_RUNNING)
			return;
		break;
	default:
		return;
	}
	if (r->reading)
		return;
	if (r->retry_at_ms) {
		if (now < r->retry_at_ms) {
			if (r->retry_at_ms - now < *next_ms)
				*next_ms = r->retry_at_ms - now;
			return;
		}
		stage_start(r);
		return;
	}
	judge_stage(r, &d);
	ro_stage_name(r, r->row.stage, name, sizeof name);
	if (d.kind == EDGE_ROLLOUT_HALT && !r->row.accepted) {
		char why[EDGE_ROLLOUT_REASON_MAX];

		snprintf(why, sizeof why, "%s: %s", name, d.reason);
		ro_set_state(r, EDGE_ROLLOUT_HALTED, why);
		ro_event(r, "halted: %s", why);
		return;
	}
	if (d.pending > 0) {
		if (r->row.transfer == 0)
			stage_start(r);
		return;
	}
	/* every node of the stage decided: it passed (or the operator took
	 * it over the threshold with resume) */
	ro_event(r, "%s passed: %u of %u activated, %u failed (allowed %u), %llu model bytes sent%s",
		 name, d.succeeded, d.nodes, d.failed, d.allowed,
		 (unsigned long long)ro_stage_bytes(r, r->row.stage),
		 r->row.accepted ? ", accepted by resume" : "");
	if (r->soak_s > 0) {
		/* Every stage soaks, the last one too: its health decides
		 * whether the rollout is done or halts. An operator's accept
		 * (resume after a halt) also takes the health check off. */
		r->soak_until_ms = now + (uint64_t)r->soak_s * 1000u;
		r->row.soak_started_ms = now_wall;
		r->looks_done = 0;
		r->soak_looks = 0;
		ro_set_state(r, EDGE_ROLLOUT_SOAKING, "");
		ro_event(r, "%s: soaking %u s%s", name, r->soak_s,
			 !r->health	      ? " (health check off)"
			 : r->row.accepted ? " (accepted: health check off)"
					   : "");
		ro_kick(r->svc);
		return;
	}
	advance(r);
}

static void on_timer(uv_timer_t *t)
{
	struct edged_rollout *s = t->data;
	uint64_t now = edge_time_monotonic_ms(), next = UINT64_MAX;

	if (s->stopping)
		return;
	for (struct rollout *r = s->list; r; r = r->next)
		step(r, now, &next);
	if (next != UINT64_MAX)
		ro_arm(s, next);
}

/* ---- creation ---- */

static struct rollout *ro_alloc(struct edged_rollout *s, unsigned n_nodes)
{
	struct rollout *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->nodes = calloc(n_nodes ? n_nodes : 1, sizeof *r->nodes);
	if (!r->nodes) {
		free(r);
		return NULL;
	}
	r->svc = s;
	return r;
}

static int ro_alloc_stages(struct rollout *r)
{
	assert(r->n_stages > 0 && !r->health_of);
	r->health_of = calloc(r->n_stages, sizeof *r->health_of);
	r->stage_bytes = calloc(r->n_stages, sizeof *r->stage_bytes);
	return r->health_of && r->stage_bytes ? 0 : -ENOMEM;
}

static void ro_free(struct rollout *r)
{
	if (!r)
		return;
	free(r->health_of);
	free(r->stage_bytes);
	free(r->nodes);
	free(r);
}

void ro_trim(struct edged_rollout *s)
{
	unsigned kept = 0;

	for (struct rollout **pp = &s->list; *pp;) {
		struct rollout *r = *pp;

		if (edge_rollout_state_final(r->row.state) && ++kept > ROLLOUT_FINISHED_KEEP) {
			*pp = r->next;
			ro_free(r);
			continue;
		}
		pp = &r->next;
	}
}

/* The settings a rollout keeps in its spec JSON. */
static int spec_parse(struct rollout *r, const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	const char *canary, *waves, *maxf;
	json_int_t soak;
	int rc = -EINVAL;

	if (!j)
		return -EINVAL;
	canary = json_string_value(json_object_get(j, "canary"));
	waves = json_string_value(json_object_get(j, "waves"));
	maxf = json_string_value(json_object_get(j, "max_failures"));
	soak = json_integer_value(json_object_get(j, "soak_s"));
	/* absent in rollouts started before the health check existed: off */
	r->health = json_is_true(json_object_get(j, "health"));
	r->auto_revert = json_is_true(json_object_get(j, "auto_revert"));
	if (canary && waves && maxf && soak >= 0 && soak <= ROLLOUT_SOAK_MAX_S &&
	    edge_rollout_parse_canary(canary, &r->spec.canary, NULL) == 0 &&
	    edge_rollout_parse_waves(waves, &r->spec, NULL, NULL) == 0 &&
	    edge_rollout_parse_percent(maxf, 1, &r->max_failures_bp, NULL) == 0) {
		r->soak_s = (uint32_t)soak;
		r->n_stages = 1 + r->spec.n_waves;
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int ro_create(struct edged_rollout *s, const struct edge_ota_model *m, const char *spec_json,
	      const struct edge_rollout_spec *spec, uint32_t max_failures_bp, uint32_t soak_s,
	      char (*ids)[EDGE_ROLLOUT_ID_MAX + 1], const uint32_t *stage_of, unsigned n,
	      struct rollout **out)
{
	struct rollout *r = ro_alloc(s, n);

	if (!r)
		return -ENOMEM;
	r->row.id = s->next_id++;
	snprintf(r->row.digest, sizeof r->row.digest, "%s", m->digest);
	snprintf(r->row.name, sizeof r->row.name, "%s", m->manifest.name);
	snprintf(r->row.version, sizeof r->row.version, "%s", m->manifest.version);
	snprintf(r->row.spec, sizeof r->row.spec, "%s", spec_json);
	r->row.state = EDGE_ROLLOUT_RUNNING;
	r->row.revert_stage = EDGE_ROLLOUT_REVERT_NONE;
	r->row.created_ms = (int64_t)wall_ms();
	r->spec = *spec;
	r->max_failures_bp = max_failures_bp;
	r->soak_s = soak_s;
	r->n_stages = 1 + spec->n_waves;
	if (spec_parse(r, spec_json) < 0 || ro_alloc_stages(r) < 0) {
		ro_free(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		assert(i == 0 || stage_of[i] >= stage_of[i - 1]);
		snprintf(r->nodes[i].id, sizeof r->nodes[i].id, "%s", ids[i]);
		r->nodes[i].stage = stage_of[i];
	}
	r->n_nodes = n;
	r->next = s->list;
	s->list = r;
	s->stats.active++;
	s->stats.started++;
	ro_trim(s);
	/* The row first: the node rows and events refer to it. */
	ro_save_row(r);
	ro_save_nodes(r, 0, n);
	*out = r;
	return 0;
}

/* ---- load and restart ---- */

static int parse_outcome(const char *s, enum edge_rollout_outcome *out)
{
	for (unsigned i = 0; i < EDGE_ROLLOUT_OUTCOME_COUNT; i++)
		if (strcmp(s, edge_rollout_outcome_name((enum edge_rollout_outcome)i)) == 0) {
			*out = (enum edge_rollout_outcome)i;
			return 0;
		}
	return -EINVAL;
}

static int load_one(const struct edge_rollout_row *row, const struct edge_rollout_node_row *nv,
		    unsigned n, const struct edge_rollout_event_row *ev, unsigned n_ev, void *ud)
{
	struct edged_rollout *s = ud;
	struct rollout *r = ro_alloc(s, n);

	if (!r)
		return -ENOMEM;
	r->row = *row;
	if (spec_parse(r, row->spec) < 0 || ro_alloc_stages(r) < 0) {
		s->stats.load_skipped++;
		edge_log(EDGE_LOG_WARNING, "rollout", "rollout %u: unreadable spec, skipped", row->id);
		ro_free(r);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		struct ro_node *nd = &r->nodes[r->n_nodes];

		snprintf(nd->id, sizeof nd->id, "%s", nv[i].device);
		nd->stage = nv[i].stage;
		nd->outcome = nv[i].outcome;
		snprintf(nd->reason, sizeof nd->reason, "%s", nv[i].reason);
		nd->baseline_from_ms = nv[i].baseline_from_ms;
		nd->why = EDGE_ROLLOUT_SUCCESS;
		if (nd->outcome == EDGE_ROLLOUT_NODE_FAILURE &&
		    parse_outcome(nd->reason, &nd->why) < 0)
			nd->why = EDGE_ROLLOUT_TRANSFER_FAILED;
		r->n_nodes++;
	}
	for (unsigned i = 0; i < n_ev && i < ROLLOUT_EVENTS_KEEP; i++) {
		r->ev[i].ts_ms = ev[i].ts_ms;
		snprintf(r->ev[i].text, sizeof r->ev[i].text, "%s", ev[i].text);
		r->ev_n++;
	}
	if (row->id >= s->next_id)
		s->next_id = row->id + 1;
	if (!edge_rollout_state_final(r->row.state))
		s->stats.active++;
	/* loaded oldest first: the list stays newest first */
	r->next = s->list;
	s->list = r;
	return 0;
}

static int load_run(edge_store_conn *conn, void *ud)
{
	struct edged_rollout *s = ud;
	unsigned skipped = 0;
	uint32_t max_id = 0;
	int rc = edge_rollout_store_load(conn, load_one, s, &skipped);

	s->stats.load_skipped += skipped;
	if (rc == 0)
		rc = edge_rollout_store_max_id(conn, &max_id);
	if (rc == 0 && max_id >= s->next_id)
		s->next_id = max_id + 1;
	return rc;
}

struct catchup {
	struct rollout *r;
	unsigned decided;
};

static int catchup_node(const struct edge_ota_node_status *st, void *ud)
{
	struct catchup *c = ud;
	struct ro_node *n = node_find(c->r, st->id);

	if (n && n->outcome == EDGE_ROLLOUT_NODE_PENDING && n->stage == c->r->row.stage &&
	    edge_ota_node_state_final((enum edge_ota_node_state)st->state)) {
		node_final(c->r, n, st);
		c->decided++;
	}
	return 0;
}

static int parse_state(const char *s, struct edge_ota_node_status *st)
{
	for (unsigned i = 0; i < EDGE_OTA_N_STATE_COUNT; i++)
		if (strcmp(s, edge_ota_node_state_name((enum edge_ota_node_state)i)) == 0) {
			st->state = (uint8_t)i;
			return 0;
		}
	return -EINVAL;
}

/* After a restart: the outcomes of the current stage that were decided
 * while the rollout did not listen. */
static void catch_up(struct rollout *r)
{
	struct edged_ota *o = r->svc->ota;
	struct ota_xfer *x = ota_xfer_find(o, r->row.transfer);
	struct catchup c = { .r = r };
	unsigned first, n, lost = 0;

	if (x) {
		edge_ota_sender_foreach(x->sender, catchup_node, &c);
	} else {
		ro_stage_range(r, r->row.stage, &first, &n);
		for (unsigned i = first; i < first + n; i++) {
			struct ro_node *nd = &r->nodes[i];
			const struct edge_ota_device_row *dev;
			struct edge_ota_node_status st = { 0 };

			if (nd->outcome != EDGE_ROLLOUT_NODE_PENDING)
				continue;
			dev = ota_dev_find(o, nd->id);
			if (dev && dev->last_transfer == r->row.transfer &&
			    parse_state(dev->last_outcome, &st) == 0 &&
			    edge_ota_node_state_final((enum edge_ota_node_state)st.state)) {
				for (unsigned k = 0; k < EDGE_OTA_R_COUNT; k++)
					if (strcmp(dev->last_reason,
						   edge_ota_reason_name((enum edge_ota_reason)k)) == 0)
						st.reason = (uint8_t)k;
				node_final(r, nd, &st);
				c.decided++;
			} else {
				/* Its end was never recorded: the bytes did not
				 * arrive whole as far as edged knows. */
				decide(r, nd, EDGE_ROLLOUT_TRANSFER_FAILED);
				lost++;
			}
		}
	}
	ro_event(r, "resumed after a restart: transfer %u %s, %u outcome%s caught up%s",
		 r->row.transfer, x ? "still open" : "closed", c.decided + lost,
		 c.decided + lost == 1 ? "" : "s", lost ? " (some without a record: failed)" : "");
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

int edged_rollout_new(struct edged *d, struct edged_rollout **out)
{
	struct edged_rollout *s = calloc(1, sizeof *s);
	uint64_t now = edge_time_monotonic_ms();
	int rc;

	if (!s)
		return -ENOMEM;
	assert(d->store && d->ota);
	s->d = d;
	s->loop = d->loop;
	s->store = d->store;
	s->ota = d->ota;
	s->next_id = 1;
	snprintf(s->db_path, sizeof s->db_path, "%s", edge_store_path(d->store));
	s->timer = malloc(sizeof *s->timer);
	if (!s->timer) {
		free(s);
		return -ENOMEM;
	}
	rc = uv_timer_init(s->loop, s->timer);
	if (rc < 0) {
		free(s->timer);
		free(s);
		return rc;
	}
	s->timer->data = s;
	rc = edge_store_read(s->store, load_run, s);
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "rollout", "cannot load the rollouts: %s", edge_strerror(rc));
		edged_rollout_free(s);
		return rc;
	}
	for (struct rollout *r = s->list; r; r = r->next) {
		int64_t wall = (int64_t)wall_ms(), end;

		if (edge_rollout_state_final(r->row.state))
			continue;
		if (r->row.revert_stage != EDGE_ROLLOUT_REVERT_NONE) {
			ro_revert_resume(r);
			if (r->row.state == EDGE_ROLLOUT_REVERTING)
				continue;
		}
		if (r->row.transfer != 0 && r->row.state != EDGE_ROLLOUT_SOAKING) {
			catch_up(r);
		} else if (r->row.state == EDGE_ROLLOUT_SOAKING) {
			/* The soak goes on where it was (a soak begun before
			 * schema 10 kept no start: it starts again). */
			if (r->row.soak_started_ms <= 0 || r->row.soak_started_ms > wall)
				r->row.soak_started_ms = wall;
			end = r->row.soak_started_ms + (int64_t)r->soak_s * 1000;
			r->soak_until_ms = now + (end > wall ? (uint64_t)(end - wall) : 0);
			ro_health_resume(r, wall);
			ro_event(r, "resumed after a restart: the soak goes on, %lld s left",
				 (long long)(end > wall ? (end - wall) / 1000 : 0));
		}
	}
	edged_ota_set_final_hook(s->ota, on_final, s);
	edged_ota_set_revert_hook(s->ota, ro_revert_on_answer, s);
	if (s->stats.active)
		edge_log(EDGE_LOG_NOTICE, "rollout", "%u unfinished rollout%s loaded",
			 s->stats.active, s->stats.active == 1 ? "" : "s");
	ro_kick(s);
	*out = s;
	return 0;
}

void edged_rollout_stop(struct edged_rollout *s)
{
	if (!s)
		return;
	s->stopping = true;
	if (s->timer)
		uv_timer_stop(s->timer);
}

const struct edge_settings *ro_settings(const struct edged_rollout *s)
{
	return edge_config_settings(s->d->config);
}

bool ro_job_end(struct edged_rollout *s)
{
	assert(s->jobs > 0);
	s->jobs--;
	/* The OTA service kept its memory for this job; it may go now. */
	(void)ota_job_end(s->ota);
	if (s->freeing && s->jobs == 0) {
		svc_release(s);
		return true;
	}
	return false;
}

static void svc_release(struct edged_rollout *s)
{
	ro_health_close(s);
	while (s->list) {
		struct rollout *r = s->list;

		s->list = r->next;
		ro_free(r);
	}
	free(s);
}

void edged_rollout_free(struct edged_rollout *s)
{
	if (!s || s->freeing)
		return;
	s->stopping = true;
	s->freeing = true;
	if (s->ota) {
		edged_ota_set_final_hook(s->ota, NULL, NULL);
		edged_ota_set_revert_hook(s->ota, NULL, NULL);
	}
	if (s->timer) {
		uv_timer_stop(s->timer);
		uv_close((uv_handle_t *)s->timer, timer_closed);
		s->timer = NULL;
	}
	if (s->jobs == 0)
		svc_release(s);
}

void edged_rollout_node_event(struct edged_rollout *s, enum edge_registry_event ev)
{
	/* Coalesced: one step per loop turn however many hellos came. */
	if (s && !s->stopping && s->stats.active > 0 &&
	    (ev == EDGE_REGISTRY_REGISTERED || ev == EDGE_REGISTRY_UPDATED ||
	     ev == EDGE_REGISTRY_RECONNECTED || ev == EDGE_REGISTRY_ONLINE))
		ro_kick(s);
}

void edged_rollout_get_stats(const struct edged_rollout *s, struct edged_rollout_stats *out)
{
	memset(out, 0, sizeof *out);
	if (s)
		*out = s->stats;
}
