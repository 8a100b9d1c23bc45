/* Persisted rollouts (schemas 9 and 10, edge_rollout_store.h). Writes go through the
 * store's cached statements on the writer thread; the load prepares its own
 * statements once, at start. */
#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_rollout_store.h"

static const char *const state_names[EDGE_ROLLOUT_STATE_COUNT] = {
	"running", "soaking", "paused", "halted", "done", "aborted", "reverting", "reverted",
};
static const char *const outcome_names[EDGE_ROLLOUT_NODE_OUTCOME_COUNT] = {
	"pending", "success", "failure", "reverted",
};

const char *edge_rollout_state_name(enum edge_rollout_state s)
{
	return (unsigned)s < EDGE_ROLLOUT_STATE_COUNT ? state_names[s] : "?";
}

int edge_rollout_state_parse(const char *s, enum edge_rollout_state *out)
{
	for (unsigned i = 0; s && i < EDGE_ROLLOUT_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum edge_rollout_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *edge_rollout_node_outcome_name(enum edge_rollout_node_outcome o)
{
	return (unsigned)o < EDGE_ROLLOUT_NODE_OUTCOME_COUNT ? outcome_names[o] : "?";
}

int edge_rollout_node_outcome_parse(const char *s, enum edge_rollout_node_outcome *out)
{
	for (unsigned i = 0; s && i < EDGE_ROLLOUT_NODE_OUTCOME_COUNT; i++)
		if (strcmp(s, outcome_names[i]) == 0) {
			*out = (enum edge_rollout_node_outcome)i;
			return 0;
		}
	return -EINVAL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	(void)sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool row_valid(const struct edge_rollout_row *r)
{
	return r && r->id != 0 && (unsigned)r->state < EDGE_ROLLOUT_STATE_COUNT &&
	       r->revert_stage >= EDGE_ROLLOUT_REVERT_ALL &&
	       terminated(r->digest, sizeof r->digest) && strlen(r->digest) == EDGE_ROLLOUT_DIGEST_HEX &&
	       terminated(r->name, sizeof r->name) && r->name[0] &&
	       terminated(r->version, sizeof r->version) && terminated(r->spec, sizeof r->spec) &&
	       r->spec[0] == '{' && terminated(r->reason, sizeof r->reason);
}

int edge_rollout_store_rollout_op(edge_store_conn *conn, const struct edge_rollout_row *r)
{
	sqlite3_stmt *st;
	int rc;

	if (!row_valid(r))
		return -EINVAL;
	/* What a rollout is never changes; its progress does. */
	rc = edge_store_conn_prepare(conn,
				     "INSERT INTO rollout (id, digest, name, version, spec, state, stage,"
				     " transfer, created_ms, updated_ms, reason, accepted,"
				     " stage_started_ms, soak_started_ms, revert_stage)"
				     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
				     " ?15)"
				     " ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
				     " stage = excluded.stage, transfer = excluded.transfer,"
				     " updated_ms = excluded.updated_ms, reason = excluded.reason,"
				     " accepted = excluded.accepted,"
				     " stage_started_ms = excluded.stage_started_ms,"
				     " soak_started_ms = excluded.soak_started_ms,"
				     " revert_stage = excluded.revert_stage",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_int64(st, 1, r->id);
	bind_text(st, 2, r->digest);
	bind_text(st, 3, r->name);
	bind_text(st, 4, r->version);
	bind_text(st, 5, r->spec);
	bind_text(st, 6, edge_rollout_state_name(r->state));
	(void)sqlite3_bind_int64(st, 7, r->stage);
	(void)sqlite3_bind_int64(st, 8, r->transfer);
	(void)sqlite3_bind_int64(st, 9, r->created_ms);
	(void)sqlite3_bind_int64(st, 10, r->updated_ms);
	bind_text(st, 11, r->reason);
	(void)sqlite3_bind_int(st, 12, r->accepted ? 1 : 0);
	(void)sqlite3_bind_int64(st, 13, r->stage_started_ms);
	(void)sqlite3_bind_int64(st, 14, r->soak_started_ms);
	(void)sqlite3_bind_int(st, 15, r->revert_stage);
	return edge_store_conn_step(conn, st);
}

static bool node_valid(const struct edge_rollout_node_row *n)
{
	return terminated(n->device, sizeof n->device) && n->device[0] &&
	       (unsigned)n->outcome < EDGE_ROLLOUT_NODE_OUTCOME_COUNT &&
	       terminated(n->reason, sizeof n->reason);
}

int edge_rollout_store_nodes_op(edge_store_conn *conn, uint32_t rollout,
				const struct edge_rollout_node_row *v, unsigned n)
{
	sqlite3_stmt *st;
	int rc;

	if (rollout == 0 || (n && !v))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!node_valid(&v[i]))
			return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		rc = edge_store_conn_prepare(conn,
					     "INSERT INTO rollout_node (rollout, device, stage, outcome,"
					     " reason, baseline_from_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
					     " ON CONFLICT (rollout, device) DO UPDATE"
					     " SET stage = excluded.stage, outcome = excluded.outcome,"
					     " reason = excluded.reason,"
					     " baseline_from_ms = excluded.baseline_from_ms",
					     &st);
		if (rc < 0)
			return rc;
		(void)sqlite3_bind_int64(st, 1, rollout);
		bind_text(st, 2, v[i].device);
		(void)sqlite3_bind_int64(st, 3, v[i].stage);
		bind_text(st, 4, edge_rollout_node_outcome_name(v[i].outcome));
		bind_text(st, 5, v[i].reason);
		(void)sqlite3_bind_int64(st, 6, v[i].baseline_from_ms);
		rc = edge_store_conn_step(conn, st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int edge_rollout_store_event_op(edge_store_conn *conn, uint32_t rollout, int64_t ts_ms,
				const char *text)
{
	sqlite3_stmt *st;
	int rc;

	if (rollout == 0 || !text || !text[0])
		return -EINVAL;
	rc = edge_store_conn_prepare(conn,
				     "INSERT INTO rollout_event (rollout, ts_ms, text) VALUES (?1, ?2, ?3)",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_int64(st, 1, rollout);
	(void)sqlite3_bind_int64(st, 2, ts_ms);
	bind_text(st, 3, text);
	return edge_store_conn_step(conn, st);
}

int edge_rollout_store_max_id(edge_store_conn *conn, uint32_t *out)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc = edge_store_conn_prepare(conn, "SELECT max(id) FROM rollout", &st);

	if (rc < 0)
		return rc;
	rc = edge_store_conn_step_ints(conn, st, &v, 1);
	if (rc < 0)
		return rc;
	*out = v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
	return 0;
}

/* ---- load ---- */

static void col_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, cap, "%s", s ? (const char *)s : "");
}

struct load_ctx {
	sqlite3 *db;
	sqlite3_stmt *nodes, *events;
	struct edge_rollout_node_row *nv;
	unsigned n_nodes, cap_nodes;
	struct edge_rollout_event_row ev[EDGE_ROLLOUT_LOAD_EVENTS];
	unsigned n_events;
	unsigned skipped;
};

static int map_sqlite(int rc)
{
	return rc == SQLITE_NOMEM ? -ENOMEM : EDGE_ESTORE;
}

static int load_children(struct load_ctx *c, uint32_t id)
{
	int rc;

	c->n_nodes = 0;
	c->n_events = 0;
	sqlite3_reset(c->nodes);
	(void)sqlite3_bind_int64(c->nodes, 1, id);
	while ((rc = sqlite3_step(c->nodes)) == SQLITE_ROW) {
		struct edge_rollout_node_row n = { 0 };
		char outcome[16];
		int64_t stage = sqlite3_column_int64(c->nodes, 1);

		col_text(c->nodes, 0, n.device, sizeof n.device);
		col_text(c->nodes, 2, outcome, sizeof outcome);
		col_text(c->nodes, 3, n.reason, sizeof n.reason);
		n.baseline_from_ms = sqlite3_column_int64(c->nodes, 4);
		if (stage < 0 || stage > UINT32_MAX || !n.device[0] ||
		    edge_rollout_node_outcome_parse(outcome, &n.outcome) < 0) {
			c->skipped++;
			continue;
		}
		n.stage = (uint32_t)stage;
		if (c->n_nodes == c->cap_nodes) {
			unsigned cap = c->cap_nodes ? 2 * c->cap_nodes : 64;
			void *p = realloc(c->nv, cap * sizeof *c->nv);

			if (!p)
				return -ENOMEM;
			c->nv = p;
			c->cap_nodes = cap;
		}
		c->nv[c->n_nodes++] = n;
	}
	if (rc != SQLITE_DONE)
		return map_sqlite(rc);
	sqlite3_reset(c->events);
	(void)sqlite3_bind_int64(c->events, 1, id);
	(void)sqlite3_bind_int(c->events, 2, EDGE_ROLLOUT_LOAD_EVENTS);
	/* newest first from the query; handed over oldest first */
	while ((rc = sqlite3_step(c->events)) == SQLITE_ROW) {
		assert(c->n_events < EDGE_ROLLOUT_LOAD_EVENTS);
		struct edge_rollout_event_row *e = &c->ev[c->n_events++];

		e->ts_ms = sqlite3_column_int64(c->events, 0);
		col_text(c->events, 1, e->text, sizeof e->text);
	}
	if (rc != SQLITE_DONE)
		return map_sqlite(rc);
	for (unsigned i = 0; i < c->n_events / 2; i++) {
		struct edge_rollout_event_row t = c->ev[i];

		c->ev[i] = c->ev[c->n_events - 1 - i];
		c->ev[c->n_events - 1 - i] = t;
	}
	return 0;
}

int edge_rollout_store_load(edge_store_conn *conn, edge_rollout_load_fn fn, void *ud,
			    unsigned *skipped)
{
	struct load_ctx *c = calloc(1, sizeof *c);
	sqlite3_stmt *rows = NULL;
	int rc;

	if (!c)
		return -ENOMEM;
	c->db = edge_store_conn_db(conn);
	/* Unfinished ones all; finished ones only the newest few. */
	rc = sqlite3_prepare_v2(c->db,
				"SELECT id, digest, name, version, spec, state, stage, transfer,"
				" created_ms, updated_ms, reason, accepted, stage_started_ms,"
				" soak_started_ms, revert_stage FROM rollout"
				" WHERE state NOT IN ('done', 'aborted', 'reverted') OR id IN (SELECT id"
				" FROM rollout WHERE state IN ('done', 'aborted', 'reverted')"
				" ORDER BY id DESC LIMIT ?1)"
				" ORDER BY id",
				-1, &rows, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(c->db,
					"SELECT device, stage, outcome, reason, baseline_from_ms"
					" FROM rollout_node"
					" WHERE rollout = ?1 ORDER BY stage, device",
					-1, &c->nodes, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(c->db,
					"SELECT ts_ms, text FROM rollout_event WHERE rollout = ?1"
					" ORDER BY ts_ms DESC, rowid DESC LIMIT ?2",
					-1, &c->events, NULL);
	if (rc != SQLITE_OK) {
		rc = map_sqlite(rc);
		goto out;
	}
	(void)sqlite3_bind_int(rows, 1, EDGE_ROLLOUT_LOAD_FINISHED);
	while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		struct edge_rollout_row r = { 0 };
		char state[16];
		int64_t id = sqlite3_column_int64(rows, 0), stage = sqlite3_column_int64(rows, 6),
			xfer = sqlite3_column_int64(rows, 7);

		col_text(rows, 1, r.digest, sizeof r.digest);
		col_text(rows, 2, r.name, sizeof r.name);
		col_text(rows, 3, r.version, sizeof r.version);
		col_text(rows, 4, r.spec, sizeof r.spec);
		col_text(rows, 5, state, sizeof state);
		r.created_ms = sqlite3_column_int64(rows, 8);
		r.updated_ms = sqlite3_column_int64(rows, 9);
		col_text(rows, 10, r.reason, sizeof r.reason);
		r.accepted = sqlite3_column_int64(rows, 11) != 0;
		r.stage_started_ms = sqlite3_column_int64(rows, 12);
		r.soak_started_ms = sqlite3_column_int64(rows, 13);
		r.revert_stage = sqlite3_column_int(rows, 14);
		if (id <= 0 || id > UINT32_MAX || stage < 0 || stage > UINT32_MAX || xfer < 0 ||
		    xfer > UINT32_MAX || edge_rollout_state_parse(state, &r.state) < 0) {
			c->skipped++;
			continue;
		}
		r.id = (uint32_t)id;
		r.stage = (uint32_t)stage;
		r.transfer = (uint32_t)xfer;
		if (!row_valid(&r)) {
			c->skipped++;
			continue;
		}
		rc = load_children(c, r.id);
		if (rc < 0)
			goto out;
		rc = fn(&r, c->nv, c->n_nodes, c->ev, c->n_events, ud);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : map_sqlite(rc);
out:
	if (skipped)
		*skipped = c->skipped;
	sqlite3_finalize(rows);
	sqlite3_finalize(c->nodes);
	sqlite3_finalize(c->events);
	free(c->nv);
	free(c);
	return rc;
}
