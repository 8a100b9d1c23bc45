/* The registry's rows in the store: the wide `nodes` row (schema v1) holds
 * the capabilities from the latest hello and is written only with a hello;
 * the narrow `node_presence` row (WITHOUT ROWID, about 70 bytes) holds what
 * changes often (state, reason, reconnect_count, last_seen, heartbeat
 * counters). A page of presence rows holds some 50 nodes, so the interval
 * batch of a fleet rewrites about nodes/50 pages once per interval, instead
 * of one wide row per heartbeat. When both tables have a node, load takes the
 * presence columns from node_presence. The revoked mark (nodes.revoked_ms,
 * schema 3) is rare and lives in the wide row, written with it; both tables
 * store a revoked node's state as "offline". Tags (node_tag, schema 8) are
 * read with each node at load and deleted with it; they are written by the
 * tags op helpers (edge_registry_tags.c), never by these ops. */
#include "edge_registry_internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char upsert_sql[] =
	"INSERT INTO nodes (id, state, fw_version, runtime_name, runtime_version, ops,"
	" ram_bytes, flash_bytes, arena_bytes, sensor, model_name, model_version, model_sha256,"
	" heartbeat_interval_ms, first_seen_ms, last_seen_ms, reconnect_count, status_reason,"
	" hb_seq, hb_uptime_s, hb_inferences, hb_anomalies, hb_mqtt_reconnects,"
	" hb_free_heap_bytes, hb_min_free_heap_bytes, hb_rssi_dbm, revoked_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
	" ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
	" ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
	" fw_version = excluded.fw_version, runtime_name = excluded.runtime_name,"
	" runtime_version = excluded.runtime_version, ops = excluded.ops,"
	" ram_bytes = excluded.ram_bytes, flash_bytes = excluded.flash_bytes,"
	" arena_bytes = excluded.arena_bytes, sensor = excluded.sensor,"
	" model_name = excluded.model_name, model_version = excluded.model_version,"
	" model_sha256 = excluded.model_sha256,"
	" heartbeat_interval_ms = excluded.heartbeat_interval_ms,"
	" first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms,"
	" reconnect_count = excluded.reconnect_count, status_reason = excluded.status_reason,"
	" hb_seq = excluded.hb_seq, hb_uptime_s = excluded.hb_uptime_s,"
	" hb_inferences = excluded.hb_inferences, hb_anomalies = excluded.hb_anomalies,"
	" hb_mqtt_reconnects = excluded.hb_mqtt_reconnects,"
	" hb_free_heap_bytes = excluded.hb_free_heap_bytes,"
	" hb_min_free_heap_bytes = excluded.hb_min_free_heap_bytes,"
	" hb_rssi_dbm = excluded.hb_rssi_dbm, revoked_ms = excluded.revoked_ms";

/* Presence columns come from node_presence when it has the node. */
#define PRESENCE(col) "CASE WHEN p.id IS NULL THEN n." col " ELSE p." col " END"
static const char select_sql[] =
	"SELECT n.id, " PRESENCE("state") ", n.fw_version, n.runtime_name, n.runtime_version,"
	" n.ops, n.ram_bytes, n.flash_bytes, n.arena_bytes, n.sensor, n.model_name,"
	" n.model_version, n.model_sha256, n.heartbeat_interval_ms, n.first_seen_ms, "
	PRESENCE("last_seen_ms") ", " PRESENCE("reconnect_count") ", "
	PRESENCE("status_reason") ", " PRESENCE("hb_seq") ", " PRESENCE("hb_uptime_s") ", "
	PRESENCE("hb_inferences") ", " PRESENCE("hb_anomalies") ", "
	PRESENCE("hb_mqtt_reconnects") ", " PRESENCE("hb_free_heap_bytes") ", "
	PRESENCE("hb_min_free_heap_bytes") ", " PRESENCE("hb_rssi_dbm") ", n.revoked_ms"
	" FROM nodes n LEFT JOIN node_presence p ON p.id = n.id ORDER BY n.id";

/* The narrow, often written row. WITHOUT ROWID: the row lives in the primary
 * key's b-tree, so an update touches one leaf page and no separate index. */
static const char presence_sql[] =
	"INSERT INTO node_presence (id, state, status_reason, reconnect_count, last_seen_ms,"
	" hb_seq, hb_uptime_s, hb_inferences, hb_anomalies, hb_mqtt_reconnects,"
	" hb_free_heap_bytes, hb_min_free_heap_bytes, hb_rssi_dbm)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	" ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
	" status_reason = excluded.status_reason, reconnect_count = excluded.reconnect_count,"
	" last_seen_ms = excluded.last_seen_ms, hb_seq = excluded.hb_seq,"
	" hb_uptime_s = excluded.hb_uptime_s, hb_inferences = excluded.hb_inferences,"
	" hb_anomalies = excluded.hb_anomalies, hb_mqtt_reconnects = excluded.hb_mqtt_reconnects,"
	" hb_free_heap_bytes = excluded.hb_free_heap_bytes,"
	" hb_min_free_heap_bytes = excluded.hb_min_free_heap_bytes,"
	" hb_rssi_dbm = excluded.hb_rssi_dbm";

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* How one column of upsert_sql/select_sql (same order, ?N = index + 1)
 * maps to a member of struct edge_node_info; one table drives both the
 * binds and the reads. */
enum node_col_kind {
	COL_TEXT,  /* char[cap]; NULL reads back as "" */
	COL_STATE, /* enum edge_node_state, by its stable name */
	COL_U32,   /* uint32_t; read back clamped to 0..UINT32_MAX */
	COL_U64,   /* uint64_t; the protocol caps counters at 2^53-1: fits int64 */
	COL_I64,   /* int64_t */
	COL_I32,   /* int32_t */
	COL_TIME,  /* int64_t, 0 (never) stored as NULL */
};

#define NO_FLAG ((size_t)-1)

struct node_column {
	enum node_col_kind kind;
	size_t offset;
	size_t cap;     /* COL_TEXT: size of the member */
	size_t flag;    /* bool member saying the value is set (else the column
			 * stays NULL), or NO_FLAG */
	bool sets_flag; /* on load, this column being non-NULL sets flag */
};

#define MEMBER(m) offsetof(struct edge_node_info, m)
#define MEMBER_SIZE(m) sizeof(((struct edge_node_info *)0)->m)
#define TEXT_COL(m) { COL_TEXT, MEMBER(m), MEMBER_SIZE(m), NO_FLAG, false }
#define NUM_COL(kind, m) { kind, MEMBER(m), 0, NO_FLAG, false }
#define OPT_TEXT_COL(m, f, sets) { COL_TEXT, MEMBER(m), MEMBER_SIZE(m), MEMBER(f), sets }
#define OPT_NUM_COL(kind, m, f) { kind, MEMBER(m), 0, MEMBER(f), true }

static const struct node_column node_columns[] = {
	TEXT_COL(id),
	NUM_COL(COL_STATE, state),
	TEXT_COL(fw_version),
	TEXT_COL(runtime_name),
	TEXT_COL(runtime_version),
	TEXT_COL(ops),
	NUM_COL(COL_U32, ram_bytes),
	NUM_COL(COL_U32, flash_bytes),
	NUM_COL(COL_U32, arena_bytes),
	TEXT_COL(sensor),
	OPT_TEXT_COL(model_name, has_model, true),
	OPT_TEXT_COL(model_version, has_model, false),
	OPT_TEXT_COL(model_sha256, has_model, false),
	NUM_COL(COL_U32, heartbeat_interval_ms),
	NUM_COL(COL_I64, first_seen_ms),
	NUM_COL(COL_I64, last_seen_ms),
	NUM_COL(COL_U32, reconnect_count),
	TEXT_COL(status_reason),
	NUM_COL(COL_U32, hb_seq),
	NUM_COL(COL_U64, hb_uptime_s),
	NUM_COL(COL_U64, hb_inferences),
	NUM_COL(COL_U64, hb_anomalies),
	NUM_COL(COL_U32, hb_mqtt_reconnects),
	NUM_COL(COL_U32, hb_free_heap_bytes),
	OPT_NUM_COL(COL_U32, hb_min_free_heap_bytes, hb_has_min_free_heap),
	OPT_NUM_COL(COL_I32, hb_rssi_dbm, hb_has_rssi),
	NUM_COL(COL_TIME, revoked_ms),
};

#define N_NODE_COLUMNS (sizeof node_columns / sizeof node_columns[0])
_Static_assert(N_NODE_COLUMNS == 27, "node_columns must list the 27 columns of upsert_sql and select_sql");

/* The stored state: a revoked node is "offline" in both tables (the CHECKs
 * know three states), marked by nodes.revoked_ms. */
static const char *stored_state_name(enum edge_node_state s)
{
	return edge_node_state_name(s == EDGE_NODE_REVOKED ? EDGE_NODE_OFFLINE : s);
}

static bool *flag_of(const struct node_column *c, struct edge_node_info *n)
{
	return (bool *)((char *)n + c->flag);
}

static void bind_column(sqlite3_stmt *st, int i, const struct node_column *c,
			const struct edge_node_info *n)
{
	const void *p = (const char *)n + c->offset;

	if (c->flag != NO_FLAG && !*(const bool *)((const char *)n + c->flag))
		return; /* stays NULL */
	switch (c->kind) {
	case COL_TEXT:
		bind_text(st, i, p);
		break;
	case COL_STATE:
		bind_text(st, i, stored_state_name(n->state));
		break;
	case COL_U32:
		sqlite3_bind_int64(st, i, *(const uint32_t *)p);
		break;
	case COL_U64:
		sqlite3_bind_int64(st, i, (sqlite3_int64)*(const uint64_t *)p);
		break;
	case COL_I64:
		sqlite3_bind_int64(st, i, *(const int64_t *)p);
		break;
	case COL_I32:
		sqlite3_bind_int(st, i, *(const int32_t *)p);
		break;
	case COL_TIME:
		if (*(const int64_t *)p != 0)
			sqlite3_bind_int64(st, i, *(const int64_t *)p);
		break;
	}
}

static void column_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static uint64_t column_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

static uint32_t column_u32(sqlite3_stmt *st, int i)
{
	uint64_t v = column_u64(st, i);

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void read_column(sqlite3_stmt *st, int i, const struct node_column *c,
			struct edge_node_info *n)
{
	void *p = (char *)n + c->offset;
	char state[16];
	int s;

	if (c->sets_flag)
		*flag_of(c, n) = sqlite3_column_type(st, i) != SQLITE_NULL;
	switch (c->kind) {
	case COL_TEXT:
		column_text(st, i, p, c->cap);
		break;
	case COL_STATE:
		column_text(st, i, state, sizeof state);
		s = edge_node_state_from_name(state);
		n->state = s < 0 ? EDGE_NODE_OFFLINE : (enum edge_node_state)s;
		break;
	case COL_U32:
		*(uint32_t *)p = column_u32(st, i);
		break;
	case COL_U64:
		*(uint64_t *)p = column_u64(st, i);
		break;
	case COL_I64:
	case COL_TIME: /* NULL reads as 0 */
		*(int64_t *)p = sqlite3_column_int64(st, i);
		break;
	case COL_I32:
		*(int32_t *)p = sqlite3_column_int(st, i);
		break;
	}
}

void edge__registry_link_put(struct edge__registry_link *link)
{
	if (link && --link->refs == 0)
		free(link);
}

void edge__presence_from_info(struct edge__presence_row *r, const struct edge_node_info *n)
{
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", n->id);
	r->state = n->state;
	snprintf(r->status_reason, sizeof r->status_reason, "%s", n->status_reason);
	r->reconnect_count = n->reconnect_count;
	r->last_seen_ms = n->last_seen_ms;
	r->hb_seq = n->hb_seq;
	r->hb_uptime_s = n->hb_uptime_s;
	r->hb_inferences = n->hb_inferences;
	r->hb_anomalies = n->hb_anomalies;
	r->hb_mqtt_reconnects = n->hb_mqtt_reconnects;
	r->hb_free_heap_bytes = n->hb_free_heap_bytes;
	r->hb_has_min_free_heap = n->hb_has_min_free_heap;
	r->hb_min_free_heap_bytes = n->hb_min_free_heap_bytes;
	r->hb_has_rssi = n->hb_has_rssi;
	r->hb_rssi_dbm = n->hb_rssi_dbm;
}

static int step_done(edge_store_conn *conn, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	/* With the connection, an I/O error from a full disk reads as -ENOSPC. */
	return rc == SQLITE_DONE ? 0 : (edge_store_conn_error(conn, rc) ?: EDGE_ESTORE);
}

static int write_presence(edge_store_conn *conn, const struct edge__presence_row *r)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, presence_sql, &st);

	if (rc < 0)
		return rc;
	bind_text(st, 1, r->id);
	bind_text(st, 2, stored_state_name(r->state));
	bind_text(st, 3, r->status_reason);
	sqlite3_bind_int64(st, 4, r->reconnect_count);
	sqlite3_bind_int64(st, 5, r->last_seen_ms);
	sqlite3_bind_int64(st, 6, r->hb_seq);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)r->hb_uptime_s);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->hb_inferences);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)r->hb_anomalies);
	sqlite3_bind_int64(st, 10, r->hb_mqtt_reconnects);
	sqlite3_bind_int64(st, 11, r->hb_free_heap_bytes);
	if (r->hb_has_min_free_heap)
		sqlite3_bind_int64(st, 12, r->hb_min_free_heap_bytes);
	if (r->hb_has_rssi)
		sqlite3_bind_int(st, 13, r->hb_rssi_dbm);
	return step_done(conn, st);
}

static int write_caps(edge_store_conn *conn, const struct edge_node_info *n)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, upsert_sql, &st);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < N_NODE_COLUMNS; i++)
		bind_column(st, (int)i + 1, &node_columns[i], n);
	return step_done(conn, st);
}

static int delete_node(edge_store_conn *conn, const char *id)
{
	static const char *const sql[] = {
		"DELETE FROM node_tag WHERE device = ?1",
		"DELETE FROM node_presence WHERE id = ?1",
		"DELETE FROM nodes WHERE id = ?1",
	};

	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *st;
		int rc = edge_store_conn_prepare(conn, sql[i], &st);

		if (rc < 0)
			return rc;
		bind_text(st, 1, id);
		rc = step_done(conn, st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Writer thread: the whole op in the store's savepoint, so a failure leaves
 * none of its rows half written. No logging here: the completion reports
 * (rate-limited) on the loop thread. */
static int write_run(edge_store_conn *conn, void *ud)
{
	const struct edge__reg_write *w = ud;
	int rc = 0;

	if (w->is_delete)
		return delete_node(conn, w->delete_id);
	if (w->has_caps)
		rc = write_caps(conn, &w->caps);
	for (size_t i = 0; rc == 0 && i < w->n_rows; i++)
		rc = write_presence(conn, &w->rows[i]);
	return rc;
}

static void write_done(int result, void *ud)
{
	struct edge__reg_write *w = ud;

	if (w->link->reg)
		edge__registry_write_done(w->link->reg, w, result);
	edge__registry_link_put(w->link);
	free(w);
}

int edge__registry_submit(edge_store *store, struct edge__reg_write *w)
{
	int rc = edge_store_submit(store, write_run, write_done, w);

	if (rc < 0) {
		free(w);
		return rc;
	}
	w->link->refs++;
	return 0;
}

struct load_ctx {
	edge__registry_row_fn fn;
	void *ud;
};

static int load_run(edge_store_conn *conn, void *ud)
{
	struct load_ctx *ctx = ud;
	struct edge_node_info *row;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, select_sql, &st);

	if (rc < 0)
		return rc;
	row = malloc(sizeof *row);
	if (!row)
		return -ENOMEM;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t i;

		memset(row, 0, sizeof *row);
		for (i = 0; i < N_NODE_COLUMNS; i++)
			read_column(st, (int)i, &node_columns[i], row);
		row->n_ops = 0;
		if (row->ops[0]) {
			row->n_ops = 1;
			for (const char *p = row->ops; *p; p++)
				row->n_ops += *p == ',';
		}
		rc = edge__registry_read_tags(conn, row->id, row->tags, sizeof row->tags,
					      &row->n_tags);
		if (rc < 0)
			break;
		rc = ctx->fn(row, ctx->ud);
		if (rc < 0)
			break;
	}
	free(row);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc < 0)
		return rc;
	return edge_store_error_from_sqlite(rc) ?: EDGE_ESTORE;
}

int edge__registry_load_rows(edge_store *store, edge__registry_row_fn fn, void *ud)
{
	struct load_ctx ctx = { .fn = fn, .ud = ud };

	return edge_store_read(store, load_run, &ctx);
}
