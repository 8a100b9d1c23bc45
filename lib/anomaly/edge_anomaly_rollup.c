/* The rollups (schema 6): what the ingest and the catch-up add to
 * anomaly_rollup_hour and anomaly_rollup_day, and the high-water mark.
 *
 * Exactly once: every stored event is in the rollups once it is at or below
 * the mark 'rollup_through_id', and every one is when the mark is -1
 * ("complete", read as EDGE__ROLLUP_COMPLETE): the usual state, in which
 * the ingest rolls up its new events and reads one row of anomaly_meta per
 * report, writing nothing there. While a catch-up is pending (a history
 * stored before schema 6: the migration leaves the mark at 0), the ingest
 * rolls up its events only when the mark is at or above the highest id
 * stored before them (nothing is pending) and then marks the rollups
 * complete; otherwise it leaves them to the catch-up, which takes ids above
 * the mark in id order and marks them complete when it reaches the newest.
 * So a row is never counted by both. ">=" rather than "==": when retention
 * deleted the newest row, SQLite may give its id again, and that new row
 * must still be rolled up by the ingest.
 *
 * A stored sketch that fails to decode (a damaged database) is replaced by
 * the sketch of the values being added: counts, sums, min and max stay
 * exact, only that bucket's percentiles lose their history; a rate-limited
 * warning says so. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_anomaly.h"
#include "edge_anomaly_internal.h"
#include "edge_log.h"
#include "edge_report.h"
#include "edge_score_sketch.h"
#include "edge_time.h"
#include "edge_topic.h"

static const char mark_get_sql[] =
	"SELECT value FROM anomaly_meta WHERE key = 'rollup_through_id'";
static const char max_id_sql[] = "SELECT max(id) FROM anomaly_event";
static const char mark_set_sql[] =
	"INSERT INTO anomaly_meta (key, value) VALUES ('rollup_through_id', ?1)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value";

static const char hour_get_sql[] =
	"SELECT count, score_sum, score_min, score_max, sketch FROM anomaly_rollup_hour"
	" WHERE hour_ms = ?1 AND label = ?2 AND model = ?3";
static const char hour_put_sql[] =
	"INSERT INTO anomaly_rollup_hour (hour_ms, label, model, count, score_sum, score_min,"
	" score_max, sketch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
/* The row just read: a plain UPDATE seeks once, an upsert twice. */
static const char hour_set_sql[] =
	"UPDATE anomaly_rollup_hour SET count = ?4, score_sum = ?5, score_min = ?6,"
	" score_max = ?7, sketch = ?8 WHERE hour_ms = ?1 AND label = ?2 AND model = ?3";
static const char day_get_sql[] =
	"SELECT count, score_sum, score_min, score_max, sketch FROM anomaly_rollup_day"
	" WHERE device = ?4 AND day_ms = ?1 AND label = ?2 AND model = ?3";
static const char day_put_sql[] =
	"INSERT INTO anomaly_rollup_day (day_ms, label, model, count, score_sum, score_min,"
	" score_max, sketch, device) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char day_set_sql[] =
	"UPDATE anomaly_rollup_day SET count = ?4, score_sum = ?5, score_min = ?6,"
	" score_max = ?7, sketch = ?8 WHERE device = ?9 AND day_ms = ?1 AND label = ?2"
	" AND model = ?3";

static const char catch_up_sql[] =
	"SELECT id, device, ts_ms, label, model, score FROM anomaly_event WHERE id > ?1"
	" ORDER BY id LIMIT ?2";

/* The writer thread's scratch: one sketch and one blob (about 30 KiB, off
 * the stack). Per thread, so several stores in one process do not share;
 * zero-initialised, which is an empty sketch. */
static _Thread_local struct edge_score_sketch tl_sketch;
static _Thread_local uint8_t tl_blob[EDGE_SCORE_SKETCH_BLOB_MAX];
static _Thread_local uint64_t tl_bad_log_ms, tl_bad_suppressed;

int edge__rollup_mark_get(edge_store_conn *conn, int64_t *mark, int64_t *max_id)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, mark_get_sql, &st);

	*mark = 0;
	*max_id = 0;
	if (rc == 0)
		rc = edge_store_conn_step_ints(conn, st, mark, 1);
	if (rc < 0)
		return rc;
	if (*mark == -1) {
		*mark = EDGE__ROLLUP_COMPLETE;
		return 0;
	}
	/* Pending: the newest id tells whether anything waits (NULL reads 0). */
	rc = edge_store_conn_prepare(conn, max_id_sql, &st);
	return rc < 0 ? rc : edge_store_conn_step_ints(conn, st, max_id, 1);
}

int edge__rollup_mark_set(edge_store_conn *conn, int64_t mark)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, mark_set_sql, &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, mark == EDGE__ROLLUP_COMPLETE ? -1 : mark);
	return edge_store_conn_step(conn, st);
}

static int cmp_hour(const void *pa, const void *pb)
{
	const struct edge__rollup_item *a = pa, *b = pb;
	int64_t ha = edge__bucket(a->ts_ms, EDGE__HOUR_MS);
	int64_t hb = edge__bucket(b->ts_ms, EDGE__HOUR_MS);
	int c;

	if (ha != hb)
		return ha < hb ? -1 : 1;
	c = strcmp(a->label, b->label);
	return c ? c : strcmp(a->model, b->model);
}

static int cmp_day(const void *pa, const void *pb)
{
	const struct edge__rollup_item *a = pa, *b = pb;
	int64_t da = edge__bucket(a->ts_ms, EDGE__DAY_MS);
	int64_t db = edge__bucket(b->ts_ms, EDGE__DAY_MS);
	int c = strcmp(a->device, b->device);

	if (c)
		return c;
	if (da != db)
		return da < db ? -1 : 1;
	c = strcmp(a->label, b->label);
	return c ? c : strcmp(a->model, b->model);
}

static void warn_bad_sketch(const char *table, int64_t bucket)
{
	uint64_t now = edge_time_monotonic_ms();

	if (tl_bad_log_ms && now - tl_bad_log_ms < 10000) {
		tl_bad_suppressed++;
		return;
	}
	edge_log(EDGE_LOG_WARNING, "anomaly",
		 "%s bucket %lld: stored score sketch is damaged; its percentiles restart"
		 " (%llu similar suppressed)",
		 table, (long long)bucket, (unsigned long long)tl_bad_suppressed);
	tl_bad_log_ms = now ? now : 1;
	tl_bad_suppressed = 0;
}

/* Merges the group items[0..n) (one bucket, label, model; one device for the
 * day table) into its row. */
static int upsert_group(edge_store_conn *conn, bool day, const struct edge__rollup_item *it,
			size_t n)
{
	const int64_t bucket = edge__bucket(it[0].ts_ms, day ? EDGE__DAY_MS : EDGE__HOUR_MS);
	struct edge_score_sketch *sk = &tl_sketch;
	int64_t count = 0;
	double sum = 0, mn = 0, mx = 0;
	bool found = false;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, day ? day_get_sql : hour_get_sql, &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, bucket);
	sqlite3_bind_text(st, 2, it[0].label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, it[0].model, -1, SQLITE_STATIC);
	if (day)
		sqlite3_bind_text(st, 4, it[0].device, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		found = true;
		count = sqlite3_column_int64(st, 0);
		sum = sqlite3_column_double(st, 1);
		mn = sqlite3_column_double(st, 2);
		mx = sqlite3_column_double(st, 3);
		edge_score_sketch_reset(sk);
		if (edge_score_sketch_merge_blob(sk, sqlite3_column_blob(st, 4),
						 (size_t)sqlite3_column_bytes(st, 4)) < 0)
			warn_bad_sketch(day ? "anomaly_rollup_day" : "anomaly_rollup_hour", bucket);
		rc = SQLITE_DONE;
	} else {
		edge_score_sketch_reset(sk);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc);
	for (size_t i = 0; i < n; i++) {
		double s = it[i].score;

		if (!found && i == 0)
			mn = mx = s;
		mn = s < mn ? s : mn;
		mx = s > mx ? s : mx;
		sum += s;
		/* A non-finite score (the parser refuses them) stays out of the
		 * sketch; the count is still exact. */
		if (edge_score_sketch_add(sk, s, 1) < 0)
			continue;
	}
	count += (int64_t)n;
	rc = edge_score_sketch_encode(sk, tl_blob, sizeof tl_blob);
	if (rc < 0)
		return rc;
	{
		int len = rc;

		const char *sql = found ? (day ? day_set_sql : hour_set_sql) :
				  (day ? day_put_sql : hour_put_sql);

		rc = edge_store_conn_prepare(conn, sql, &st);
		if (rc < 0)
			return rc;
		sqlite3_bind_int64(st, 1, bucket);
		sqlite3_bind_text(st, 2, it[0].label, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, it[0].model, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, count);
		sqlite3_bind_double(st, 5, sum);
		sqlite3_bind_double(st, 6, mn);
		sqlite3_bind_double(st, 7, mx);
		sqlite3_bind_blob(st, 8, tl_blob, len, SQLITE_STATIC);
		if (day)
			sqlite3_bind_text(st, 9, it[0].device, -1, SQLITE_STATIC);
	}
	return edge_store_conn_step(conn, st);
}

static int apply_table(edge_store_conn *conn, bool day, struct edge__rollup_item *items, size_t n)
{
	int (*cmp)(const void *, const void *) = day ? cmp_day : cmp_hour;
	size_t start = 0;

	qsort(items, n, sizeof items[0], cmp);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && cmp(&items[start], &items[i]) == 0)
			continue;
		int rc = upsert_group(conn, day, items + start, i - start);

		if (rc < 0)
			return rc;
		start = i;
	}
	return 0;
}

int edge__rollup_apply(edge_store_conn *conn, struct edge__rollup_item *items, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = apply_table(conn, false, items, n);
	return rc < 0 ? rc : apply_table(conn, true, items, n);
}

/* Catch-up rows are read in chunks of this many (about 200 B each: 800 KiB). */
#define CATCH_UP_CHUNK 4096

struct catch_up_row {
	char device[EDGE_ID_MAX_LEN + 1];
	char label[EDGE_MSG_TOKEN_CAP];
	char model[EDGE_MSG_SHA256_HEX + 1];
};

static void copy_text(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(buf, cap, "%s", s ? (const char *)s : "");
}

int edge_anomaly_rollup_pending(edge_store_conn *conn, int64_t *first_id, int64_t *last_id)
{
	int64_t mark, max_id;
	int rc;

	if (!conn || !first_id || !last_id)
		return -EINVAL;
	*first_id = *last_id = 0;
	rc = edge__rollup_mark_get(conn, &mark, &max_id);
	if (rc == 0 && mark != EDGE__ROLLUP_COMPLETE && max_id > mark) {
		*first_id = mark + 1;
		*last_id = max_id;
	}
	return rc;
}

int edge_anomaly_rollup_catch_up(edge_store_conn *conn, uint64_t max_rows, bool *more)
{
	struct catch_up_row *rows = NULL;
	struct edge__rollup_item *items = NULL;
	int64_t mark, max_id;
	uint64_t done = 0;
	int rc;

	if (!conn || !more || max_rows == 0)
		return -EINVAL;
	rc = edge__rollup_mark_get(conn, &mark, &max_id);
	if (rc < 0 || mark == EDGE__ROLLUP_COMPLETE) {
		*more = false;
		return rc;
	}
	if (max_id > mark) {
		rows = malloc(CATCH_UP_CHUNK * sizeof *rows);
		items = malloc(CATCH_UP_CHUNK * sizeof *items);
		if (!rows || !items) {
			rc = -ENOMEM;
			goto out;
		}
	}
	while (max_id > mark && done < max_rows) {
		uint64_t want = max_rows - done < CATCH_UP_CHUNK ? max_rows - done : CATCH_UP_CHUNK;
		size_t n = 0;
		sqlite3_stmt *st;

		rc = edge_store_conn_prepare(conn, catch_up_sql, &st);
		if (rc < 0)
			goto out;
		sqlite3_bind_int64(st, 1, mark);
		sqlite3_bind_int64(st, 2, (int64_t)want);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			mark = sqlite3_column_int64(st, 0);
			copy_text(st, 1, rows[n].device, sizeof rows[n].device);
			copy_text(st, 3, rows[n].label, sizeof rows[n].label);
			copy_text(st, 4, rows[n].model, sizeof rows[n].model);
			items[n] = (struct edge__rollup_item){
				.ts_ms = sqlite3_column_int64(st, 2),
				.score = sqlite3_column_double(st, 5),
				.device = rows[n].device,
				.label = rows[n].label,
				.model = rows[n].model,
			};
			n++;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			rc = edge_store_conn_error(conn, rc);
			goto out;
		}
		if (n == 0)
			break;
		rc = edge__rollup_apply(conn, items, n);
		if (rc < 0)
			goto out;
		done += n;
	}
	/* Up to the newest: complete from now on. Nothing to do: the mark
	 * stays (a fresh database's 0; its first ingest marks it complete). */
	rc = done ? edge__rollup_mark_set(conn, max_id > mark ? mark : EDGE__ROLLUP_COMPLETE) : 0;
	if (rc == 0)
		*more = max_id > mark;
out:
	free(rows);
	free(items);
	return rc;
}
