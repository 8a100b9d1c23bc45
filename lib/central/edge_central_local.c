/* Central forwarding's local tables (edge_central_local.h). */
#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "edge_central_local.h"

#define DAY_MS (24LL * 3600 * 1000)

static const char *const stream_names[EDGE_CENTRAL_STREAMS] = {
	[EDGE_CENTRAL_EVENT] = "event",
	[EDGE_CENTRAL_EPISODE] = "episode",
	[EDGE_CENTRAL_SUMMARY] = "summary",
};

static const char cursor_sql[] =
	"INSERT INTO central_cursor (stream, through, updated_ms) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (stream) DO UPDATE SET through = excluded.through,"
	" updated_ms = excluded.updated_ms WHERE excluded.through > central_cursor.through";
/* The day's events from the device-day rollups (index anomaly_rollup_day_day),
 * the open episodes from their partial index. */
static const char day_sql[] =
	"SELECT coalesce((SELECT sum(count) FROM anomaly_rollup_day WHERE day_ms = ?1), 0),"
	" (SELECT count(*) FROM anomaly_episode WHERE state <> 'closed')";
static const char insert_sql[] =
	"INSERT INTO central_summary (ts_ms, nodes_total, nodes_online, nodes_stale,"
	" nodes_offline, nodes_revoked, day_ms, inferences_day, anomalies_day, episodes_open)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
/* Keeps the newest EDGE_CENTRAL_SUMMARY_KEEP; answers, per deleted row,
 * whether it was not yet forwarded. */
static const char trim_sql[] =
	"DELETE FROM central_summary WHERE id <= (SELECT max(id) FROM central_summary) - ?1"
	" RETURNING id > coalesce((SELECT through FROM central_cursor WHERE stream = 'summary'), 0)";
static const char dropped_sql[] =
	"INSERT INTO anomaly_meta (key, value) VALUES ('central_dropped_summaries', ?1)"
	" ON CONFLICT (key) DO UPDATE SET value = value + excluded.value";

const char *edge_central_stream_name(enum edge_central_stream s)
{
	return (unsigned)s < EDGE_CENTRAL_STREAMS ? stream_names[s] : "?";
}

int64_t edge_central_day_ms(int64_t wall_ms)
{
	int64_t d = wall_ms / DAY_MS;

	if (wall_ms < 0 && wall_ms % DAY_MS)
		d--;
	return d * DAY_MS;
}

int edge_central_cursors_save(edge_store_conn *conn, const struct edge_central_cursors *c,
			      int64_t now_ms)
{
	if (!conn || !c)
		return -EINVAL;
	for (int i = 0; i < EDGE_CENTRAL_STREAMS; i++) {
		sqlite3_stmt *st;
		int rc;

		if (c->through[i] <= 0)
			continue;
		rc = edge_store_conn_prepare(conn, cursor_sql, &st);
		if (rc < 0)
			return rc;
		sqlite3_bind_text(st, 1, stream_names[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, c->through[i]);
		sqlite3_bind_int64(st, 3, now_ms);
		rc = edge_store_conn_step(conn, st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int edge_central_summary_add(edge_store_conn *conn, struct edge_central_summary *s)
{
	sqlite3_stmt *st;
	int64_t day[2] = { 0, 0 };
	int64_t dropped = 0;
	int rc;

	if (!conn || !s)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn, day_sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, s->day_ms);
	rc = edge_store_conn_step_ints(conn, st, day, 2);
	if (rc < 0)
		return rc;
	s->anomalies_day = day[0] > 0 ? (uint64_t)day[0] : 0;
	s->episodes_open = day[1] > 0 ? (unsigned)day[1] : 0;

	rc = edge_store_conn_prepare(conn, insert_sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, s->ts_ms);
	sqlite3_bind_int64(st, 2, s->nodes_total);
	sqlite3_bind_int64(st, 3, s->nodes_online);
	sqlite3_bind_int64(st, 4, s->nodes_stale);
	sqlite3_bind_int64(st, 5, s->nodes_offline);
	sqlite3_bind_int64(st, 6, s->nodes_revoked);
	sqlite3_bind_int64(st, 7, s->day_ms);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)s->inferences_day);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)s->anomalies_day);
	sqlite3_bind_int64(st, 10, s->episodes_open);
	rc = edge_store_conn_step(conn, st);
	if (rc < 0)
		return rc;

	rc = edge_store_conn_prepare(conn, trim_sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, EDGE_CENTRAL_SUMMARY_KEEP);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		dropped += sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
	sqlite3_reset(st);
	if (rc < 0 || dropped == 0)
		return rc;
	rc = edge_store_conn_prepare(conn, dropped_sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, dropped);
	return edge_store_conn_step(conn, st);
}

bool edge_central_summary_literal(sqlite3_stmt *st, int col,
				  char out[EDGE_CENTRAL_SUMMARY_LITERAL_MAX])
{
	const size_t cap = EDGE_CENTRAL_SUMMARY_LITERAL_MAX;
	size_t n = 0;

	if (sqlite3_column_type(st, col) == SQLITE_BLOB) {
		const unsigned char *b = sqlite3_column_blob(st, col);
		int len = sqlite3_column_bytes(st, col);

		if (!b || len <= 0 || len % 4 || len > 16 * 4)
			return false;
		for (int i = 0; i < len; i += 4) {
			uint32_t u = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 |
				     (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
			float f;

			memcpy(&f, &u, sizeof f);
			n += (size_t)snprintf(out + n, cap - n, "%s%.9g", i ? "," : "{", (double)f);
		}
		snprintf(out + n, cap - n, "}");
		return true;
	}
	if (sqlite3_column_type(st, col) == SQLITE_TEXT) {
		const char *t = (const char *)sqlite3_column_text(st, col);
		size_t len = t ? strlen(t) : 0;

		/* Only numbers: the text goes into the literal as it is. */
		if (len < 2 || len >= cap || t[0] != '[' || t[len - 1] != ']' ||
		    strspn(t + 1, "0123456789.eE+-, ") != len - 2)
			return false;
		memcpy(out, t, len + 1);
		out[0] = '{';
		out[len - 1] = '}';
		return true;
	}
	return false;
}
