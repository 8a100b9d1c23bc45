/* The registry's rows in the store's `nodes` table (schema v1). */
#include "edge_registry_internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_log.h"

static const char upsert_sql[] =
	"INSERT INTO nodes (id, state, fw_version, runtime_name, runtime_version, ops,"
	" ram_bytes, flash_bytes, arena_bytes, sensor, model_name, model_version, model_sha256,"
	" heartbeat_interval_ms, first_seen_ms, last_seen_ms, reconnect_count, status_reason,"
	" hb_seq, hb_uptime_s, hb_inferences, hb_anomalies, hb_mqtt_reconnects,"
	" hb_free_heap_bytes, hb_min_free_heap_bytes, hb_rssi_dbm)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
	" ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)"
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
	" hb_rssi_dbm = excluded.hb_rssi_dbm";

static const char select_sql[] =
	"SELECT id, state, fw_version, runtime_name, runtime_version, ops,"
	" ram_bytes, flash_bytes, arena_bytes, sensor, model_name, model_version, model_sha256,"
	" heartbeat_interval_ms, first_seen_ms, last_seen_ms, reconnect_count, status_reason,"
	" hb_seq, hb_uptime_s, hb_inferences, hb_anomalies, hb_mqtt_reconnects,"
	" hb_free_heap_bytes, hb_min_free_heap_bytes, hb_rssi_dbm"
	" FROM nodes ORDER BY id";

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

struct row_write {
	struct edge__registry_link *link;
	struct edge_node_info info;
};

void edge__registry_link_put(struct edge__registry_link *link)
{
	if (link && --link->refs == 0)
		free(link);
}

static int upsert_run(edge_store_conn *conn, void *ud)
{
	const struct edge_node_info *n = &((struct row_write *)ud)->info;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, upsert_sql, &st);

	if (rc < 0)
		return rc;
	bind_text(st, 1, n->id);
	bind_text(st, 2, edge_node_state_name(n->state));
	bind_text(st, 3, n->fw_version);
	bind_text(st, 4, n->runtime_name);
	bind_text(st, 5, n->runtime_version);
	bind_text(st, 6, n->ops);
	sqlite3_bind_int64(st, 7, n->ram_bytes);
	sqlite3_bind_int64(st, 8, n->flash_bytes);
	sqlite3_bind_int64(st, 9, n->arena_bytes);
	bind_text(st, 10, n->sensor);
	if (n->has_model) {
		bind_text(st, 11, n->model_name);
		bind_text(st, 12, n->model_version);
		bind_text(st, 13, n->model_sha256);
	}
	sqlite3_bind_int64(st, 14, n->heartbeat_interval_ms);
	sqlite3_bind_int64(st, 15, n->first_seen_ms);
	sqlite3_bind_int64(st, 16, n->last_seen_ms);
	sqlite3_bind_int64(st, 17, n->reconnect_count);
	bind_text(st, 18, n->status_reason);
	sqlite3_bind_int64(st, 19, n->hb_seq);
	/* counters are capped at 2^53-1 by the protocol: they fit an int64 */
	sqlite3_bind_int64(st, 20, (sqlite3_int64)n->hb_uptime_s);
	sqlite3_bind_int64(st, 21, (sqlite3_int64)n->hb_inferences);
	sqlite3_bind_int64(st, 22, (sqlite3_int64)n->hb_anomalies);
	sqlite3_bind_int64(st, 23, n->hb_mqtt_reconnects);
	sqlite3_bind_int64(st, 24, n->hb_free_heap_bytes);
	if (n->hb_has_min_free_heap)
		sqlite3_bind_int64(st, 25, n->hb_min_free_heap_bytes);
	if (n->hb_has_rssi)
		sqlite3_bind_int(st, 26, n->hb_rssi_dbm);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		edge_log(EDGE_LOG_ERR, "registry", "storing node %s failed: %s", n->id,
			 sqlite3_errmsg(edge_store_conn_db(conn)));
		return edge_store_error_from_sqlite(rc) ?: EDGE_ESTORE;
	}
	return 0;
}

static void upsert_done(int result, void *ud)
{
	struct row_write *w = ud;

	if (result < 0) {
		edge_log(EDGE_LOG_ERR, "registry", "node %s not stored: %s", w->info.id,
			 edge_strerror(result));
		if (w->link->reg)
			edge__registry_write_failed(w->link->reg, w->info.id);
	}
	edge__registry_link_put(w->link);
	free(w);
}

int edge__registry_persist_node(edge_store *store, struct edge__registry_link *link,
				const struct edge__reg_node *node)
{
	struct row_write *w = malloc(sizeof *w);
	int rc;

	if (!w)
		return -ENOMEM;
	w->link = link;
	w->info = node->info;
	rc = edge_store_submit(store, upsert_run, upsert_done, w);
	if (rc < 0) {
		free(w);
		return rc;
	}
	link->refs++;
	return 0;
}

static int delete_run(edge_store_conn *conn, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, "DELETE FROM nodes WHERE id = ?1", &st);

	if (rc < 0)
		return rc;
	bind_text(st, 1, ud);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : (edge_store_error_from_sqlite(rc) ?: EDGE_ESTORE);
}

static void delete_done(int result, void *ud)
{
	if (result < 0)
		edge_log(EDGE_LOG_ERR, "registry", "node %s not deleted: %s", (char *)ud,
			 edge_strerror(result));
	free(ud);
}

int edge__registry_delete_node(edge_store *store, const char *id)
{
	char *copy = strdup(id);
	int rc;

	if (!copy)
		return -ENOMEM;
	rc = edge_store_submit(store, delete_run, delete_done, copy);
	if (rc < 0)
		free(copy);
	return rc;
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
		char state[16];
		int s;

		memset(row, 0, sizeof *row);
		column_text(st, 0, row->id, sizeof row->id);
		column_text(st, 1, state, sizeof state);
		s = edge_node_state_from_name(state);
		row->state = s < 0 ? EDGE_NODE_OFFLINE : (enum edge_node_state)s;
		column_text(st, 2, row->fw_version, sizeof row->fw_version);
		column_text(st, 3, row->runtime_name, sizeof row->runtime_name);
		column_text(st, 4, row->runtime_version, sizeof row->runtime_version);
		column_text(st, 5, row->ops, sizeof row->ops);
		row->ram_bytes = column_u32(st, 6);
		row->flash_bytes = column_u32(st, 7);
		row->arena_bytes = column_u32(st, 8);
		column_text(st, 9, row->sensor, sizeof row->sensor);
		row->has_model = sqlite3_column_type(st, 10) != SQLITE_NULL;
		column_text(st, 10, row->model_name, sizeof row->model_name);
		column_text(st, 11, row->model_version, sizeof row->model_version);
		column_text(st, 12, row->model_sha256, sizeof row->model_sha256);
		row->heartbeat_interval_ms = column_u32(st, 13);
		row->first_seen_ms = sqlite3_column_int64(st, 14);
		row->last_seen_ms = sqlite3_column_int64(st, 15);
		row->reconnect_count = column_u32(st, 16);
		column_text(st, 17, row->status_reason, sizeof row->status_reason);
		row->hb_seq = column_u32(st, 18);
		row->hb_uptime_s = column_u64(st, 19);
		row->hb_inferences = column_u64(st, 20);
		row->hb_anomalies = column_u64(st, 21);
		row->hb_mqtt_reconnects = column_u32(st, 22);
		row->hb_free_heap_bytes = column_u32(st, 23);
		row->hb_has_min_free_heap = sqlite3_column_type(st, 24) != SQLITE_NULL;
		row->hb_min_free_heap_bytes = column_u32(st, 24);
		row->hb_has_rssi = sqlite3_column_type(st, 25) != SQLITE_NULL;
		row->hb_rssi_dbm = sqlite3_column_int(st, 25);
		row->n_ops = 0;
		if (row->ops[0]) {
			row->n_ops = 1;
			for (const char *p = row->ops; *p; p++)
				row->n_ops += *p == ',';
		}
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
