/* Retention: old anomaly rows go in small batches (edge_anomaly.h).
 *
 * Each kind is deleted oldest first through an index on its time (events:
 * anomaly_event_ts; episodes: anomaly_episode_start, as end_ms >= start_ms;
 * rollups: their bucket), at most batch_rows per kind and step, so one step
 * is a short write whatever the history's size. Events above the rollups'
 * mark (a catch-up still pending) are kept until it has counted them: the
 * rollups summarise every event ever stored, deleted or not.
 *
 * The size bound counts the pages in use, (page_count - freelist_count) *
 * page_size: deleted rows free pages for reuse, the file does not shrink
 * (no VACUUM on a gateway's flash), so this is what stops its growth. */
#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>

#include "edge_anomaly.h"
#include "edge_anomaly_internal.h"

/* The newest event always stays: anomaly_event ids are rowids, and SQLite
 * gives a new row max(id) + 1, so deleting the highest id would let the next
 * event take an id the central forwarder's cursor has passed already. Each
 * deleted row answers whether it was above that cursor (?4): not yet
 * forwarded. */
static const char events_sql[] =
	"DELETE FROM anomaly_event WHERE id IN (SELECT id FROM anomaly_event"
	" INDEXED BY anomaly_event_ts WHERE ts_ms < ?1 AND id <= ?3"
	" AND id < (SELECT max(id) FROM anomaly_event) ORDER BY ts_ms LIMIT ?2)"
	" RETURNING id > ?4";
static const char episodes_sql[] =
	"DELETE FROM anomaly_episode WHERE id IN (SELECT id FROM anomaly_episode"
	" INDEXED BY anomaly_episode_start WHERE start_ms < ?1 AND end_ms < ?1"
	" AND state = 'closed' ORDER BY start_ms LIMIT ?2) RETURNING rev > ?4";
/* What the central database committed, per stream (schema 12). */
static const char cursor_sql[] =
	"SELECT coalesce((SELECT through FROM central_cursor WHERE stream = 'event'), 0),"
	" coalesce((SELECT through FROM central_cursor WHERE stream = 'episode'), 0)";
static const char dropped_sql[] =
	"UPDATE anomaly_meta SET value = value + ?2 WHERE key = ?1";
/* A bucket goes once it ended before the cut: start + width <= cut. */
static const char hour_sql[] =
	"DELETE FROM anomaly_rollup_hour WHERE (hour_ms, label, model) IN"
	" (SELECT hour_ms, label, model FROM anomaly_rollup_hour WHERE hour_ms <= ?1"
	" ORDER BY hour_ms LIMIT ?2)";
static const char day_sql[] =
	"DELETE FROM anomaly_rollup_day WHERE (device, day_ms, label, model) IN"
	" (SELECT device, day_ms, label, model FROM anomaly_rollup_day"
	" INDEXED BY anomaly_rollup_day_day WHERE day_ms <= ?1 ORDER BY day_ms LIMIT ?2)";
/* Reads every stream row (one per device and epoch: a small table) and
 * each one's first event through the unique index. */
static const char streams_sql[] =
	"DELETE FROM anomaly_stream WHERE (device, epoch) IN (SELECT s.device, s.epoch"
	" FROM anomaly_stream s WHERE s.updated_ms < ?1 AND NOT EXISTS (SELECT 1 FROM"
	" anomaly_event e WHERE e.device = s.device AND e.epoch = s.epoch) LIMIT ?2)";

static const char page_count_sql[] = "PRAGMA page_count";
static const char freelist_sql[] = "PRAGMA freelist_count";
static const char page_size_sql[] = "PRAGMA page_size";

/* Runs a DELETE with ?1 = cut, ?2 = limit, ?3 = the rollups' mark and, for
 * a DELETE … RETURNING, ?4 = the central cursor: each returned row says 1
 * for a row deleted before it was forwarded, counted into *unforwarded
 * (NULL for a statement without RETURNING). *deleted: rows deleted. */
static int delete_step(edge_store_conn *conn, const char *sql, int64_t cut, unsigned limit,
		       int64_t mark, int64_t cursor, uint64_t *deleted, uint64_t *unforwarded)
{
	sqlite3_stmt *st;
	uint64_t rows = 0;
	int rc = edge_store_conn_prepare(conn, sql, &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, cut);
	sqlite3_bind_int64(st, 2, limit);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, mark); /* the episodes' statement skips it */
	if (sqlite3_bind_parameter_count(st) >= 4)
		sqlite3_bind_int64(st, 4, cursor);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		assert(unforwarded);
		rows++;
		*unforwarded += (uint64_t)sqlite3_column_int64(st, 0);
	}
	rc = rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
	sqlite3_reset(st);
	if (rc == 0)
		*deleted = unforwarded ? rows : (uint64_t)sqlite3_changes(edge_store_conn_db(conn));
	return rc;
}

static int delete_batch(edge_store_conn *conn, const char *sql, int64_t cut, unsigned limit,
			int64_t mark, uint64_t *deleted)
{
	return delete_step(conn, sql, cut, limit, mark, 0, deleted, NULL);
}

static int add_dropped(edge_store_conn *conn, const char *key, uint64_t n)
{
	sqlite3_stmt *st;
	int rc;

	if (n == 0)
		return 0;
	rc = edge_store_conn_prepare(conn, dropped_sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
	return edge_store_conn_step(conn, st);
}

static int pragma_int(edge_store_conn *conn, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, sql, &st);

	if (rc < 0)
		return rc;
	return edge_store_conn_step_ints(conn, st, out, 1);
}

static int used_bytes(edge_store_conn *conn, uint64_t *out)
{
	int64_t pages = 0, free_pages = 0, size = 0;
	int rc = pragma_int(conn, page_count_sql, &pages);

	if (rc == 0)
		rc = pragma_int(conn, freelist_sql, &free_pages);
	if (rc == 0)
		rc = pragma_int(conn, page_size_sql, &size);
	if (rc < 0)
		return rc;
	*out = pages > free_pages ? (uint64_t)(pages - free_pages) * (uint64_t)size : 0;
	return 0;
}

int edge_anomaly_retention_step(edge_store_conn *conn, int64_t now_ms,
				const struct edge_anomaly_retention *r,
				struct edge_anomaly_retention_result *out)
{
	struct edge_anomaly_retention_result res = { 0 };
	/* Without forwarding nothing counts as unforwarded. */
	int64_t cursor[2] = { INT64_MAX, INT64_MAX };
	sqlite3_stmt *st;
	int64_t mark, max_id;
	uint64_t n;
	int rc;

	if (!conn || !r || !out || r->max_age_ms < 0 || r->batch_rows == 0 ||
	    r->batch_rows > INT32_MAX)
		return -EINVAL;
	rc = edge__rollup_mark_get(conn, &mark, &max_id);
	if (rc < 0)
		return rc;
	if (r->central) {
		rc = edge_store_conn_prepare(conn, cursor_sql, &st);
		if (rc == 0)
			rc = edge_store_conn_step_ints(conn, st, cursor, 2);
		if (rc < 0)
			return rc;
	}
	if (r->max_age_ms > 0) {
		const int64_t cut = now_ms - r->max_age_ms;

		rc = delete_step(conn, events_sql, cut, r->batch_rows, mark, cursor[0],
				 &res.events_by_age, &res.unforwarded_events);
		if (rc < 0)
			return rc;
		rc = delete_step(conn, episodes_sql, cut, r->batch_rows, mark, cursor[1],
				 &res.episodes, &res.unforwarded_episodes);
		if (rc < 0)
			return rc;
		rc = delete_batch(conn, hour_sql, cut - EDGE__HOUR_MS, r->batch_rows, mark, &n);
		if (rc < 0)
			return rc;
		res.more |= n == r->batch_rows;
		res.rollup_rows += n;
		rc = delete_batch(conn, day_sql, cut - EDGE__DAY_MS, r->batch_rows, mark, &n);
		if (rc < 0)
			return rc;
		res.more |= n == r->batch_rows;
		res.rollup_rows += n;
		res.more |= res.events_by_age == r->batch_rows || res.episodes == r->batch_rows;
		/* Streams only once their old events are gone. */
		if (res.events_by_age < r->batch_rows) {
			rc = delete_batch(conn, streams_sql, cut, r->batch_rows, mark, &n);
			if (rc < 0)
				return rc;
			res.more |= n == r->batch_rows;
		}
	}
	rc = used_bytes(conn, &res.db_used_bytes);
	if (rc < 0)
		return rc;
	if (r->max_db_bytes && res.db_used_bytes > r->max_db_bytes) {
		rc = delete_step(conn, events_sql, INT64_MAX, r->batch_rows, mark, cursor[0],
				 &res.events_by_size, &res.unforwarded_events);
		if (rc < 0)
			return rc;
		rc = used_bytes(conn, &res.db_used_bytes);
		if (rc < 0)
			return rc;
		res.more |= res.events_by_size > 0 && res.db_used_bytes > r->max_db_bytes;
	}
	rc = add_dropped(conn, "central_dropped_events", res.unforwarded_events);
	if (rc == 0)
		rc = add_dropped(conn, "central_dropped_episodes", res.unforwarded_episodes);
	if (rc < 0)
		return rc;
	*out = res;
	return 0;
}
