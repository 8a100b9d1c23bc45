/* Suite 'anomaly' (rollup): the hourly and daily rollups kept by the ingest
 * equal a GROUP BY over the raw rows (duplicates counted once), the
 * catch-up fills in a history stored without them and never double counts
 * with an ingest while it is pending, and retention deletes by age and by
 * size in batches without touching the rollups of what it keeps or the
 * acks of live streams. Real store file, real writer thread. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_anomaly.h"
#include "edge_score_sketch.h"
#include "edge_store.h"
#include "history_fixture.h"
#include "test_run.h"

#define MARK_SQL "SELECT value FROM anomaly_meta WHERE key = 'rollup_through_id'"

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
}

/* Rollups against the raw rows, row by row: counts, min, max exact; sums to
 * rounding; the sketch holds every value. */
static void compare(sqlite3 *db, const char *rollup_sql, const char *raw_sql, int keys)
{
	sqlite3_stmt *a, *b;
	int ra, rb;
	size_t rows = 0;

	ck_assert_int_eq(sqlite3_prepare_v2(db, rollup_sql, -1, &a, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, raw_sql, -1, &b, NULL), SQLITE_OK);
	for (;;) {
		struct edge_score_sketch *sk = malloc(sizeof *sk);

		ra = sqlite3_step(a);
		rb = sqlite3_step(b);
		ck_assert_int_eq(ra, rb);
		if (ra != SQLITE_ROW) {
			free(sk);
			break;
		}
		for (int k = 0; k < keys; k++)
			ck_assert_str_eq((const char *)sqlite3_column_text(a, k),
					 (const char *)sqlite3_column_text(b, k));
		ck_assert_int_eq(sqlite3_column_int64(a, keys), sqlite3_column_int64(b, keys));
		ck_assert(fabs(sqlite3_column_double(a, keys + 1) -
			       sqlite3_column_double(b, keys + 1)) < 1e-6);
		ck_assert(sqlite3_column_double(a, keys + 2) == sqlite3_column_double(b, keys + 2));
		ck_assert(sqlite3_column_double(a, keys + 3) == sqlite3_column_double(b, keys + 3));
		ck_assert_int_eq(edge_score_sketch_decode(
					 sk, sqlite3_column_blob(a, keys + 4),
					 (size_t)sqlite3_column_bytes(a, keys + 4)), 0);
		ck_assert_uint_eq(sk->count, (uint64_t)sqlite3_column_int64(a, keys));
		free(sk);
		rows++;
	}
	ck_assert_int_eq(ra, SQLITE_DONE);
	sqlite3_finalize(a);
	sqlite3_finalize(b);
}

static void rollups_match_raw(sqlite3 *db, void *ud)
{
	(void)ud;
	compare(db,
		"SELECT hour_ms, label, model, count, score_sum, score_min, score_max, sketch"
		" FROM anomaly_rollup_hour ORDER BY hour_ms, label, model",
		"SELECT ts_ms - (((ts_ms % 3600000) + 3600000) % 3600000) AS h, label, model,"
		" count(*), sum(score), min(score), max(score) FROM anomaly_event"
		" GROUP BY h, label, model ORDER BY h, label, model",
		3);
	compare(db,
		"SELECT device, day_ms, label, model, count, score_sum, score_min, score_max,"
		" sketch FROM anomaly_rollup_day ORDER BY device, day_ms, label, model",
		"SELECT device, ts_ms - (((ts_ms % 86400000) + 86400000) % 86400000) AS d, label,"
		" model, count(*), sum(score), min(score), max(score) FROM anomaly_event"
		" GROUP BY device, d, label, model ORDER BY device, d, label, model",
		4);
	/* Every event is rolled up: the mark says complete. */
	ck_assert_int_eq(q_int(db, MARK_SQL), -1);
}

/* ---- tests ---- */

START_TEST(migration_leaves_mark_at_zero)
{
	edge_store *st = open_store();
	sqlite3 *db;

	edge_store_close(st);
	ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
	ck_assert_int_eq(q_int(db, "PRAGMA user_version"), EDGE_STORE_SCHEMA_VERSION);
	ck_assert_int_eq(q_int(db, MARK_SQL), 0);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM anomaly_rollup_hour"), 0);
	sqlite3_close(db);
}
END_TEST

START_TEST(rollups_equal_group_by_over_raw_rows)
{
	edge_store *st = open_store();
	const size_t n = 300;
	struct job *jobs = random_jobs(n, RECV0, 3 * DAY, RECV0 + 3 * DAY);
	unsigned stored = 0, dups = 0;

	for (size_t i = 0; i < n; i += 25)
		run_jobs(st, jobs + i, n - i < 25 ? n - i : 25);
	for (size_t i = 0; i < n; i++) {
		uint32_t mask = 0;

		stored += jobs[i].res.stored;
		dups += jobs[i].res.duplicates;
		/* stored_mask names exactly the new events. */
		for (unsigned k = 0; k < jobs[i].r.n_events; k++)
			mask += (jobs[i].res.stored_mask >> k) & 1;
		ck_assert_uint_eq(mask, jobs[i].res.stored);
		ck_assert_uint_eq((uint64_t)jobs[i].res.stored_mask >> jobs[i].r.n_events, 0);
	}
	ck_assert_uint_gt(dups, 100);
	ck_assert_uint_gt(stored, 1000);
	with_db(st, rollups_match_raw, NULL);
	/* Replaying everything again changes nothing. */
	for (size_t i = 0; i < n; i += 50)
		run_jobs(st, jobs + i, n - i < 50 ? n - i : 50);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(jobs[i].res.stored_mask, 0);
	with_db(st, rollups_match_raw, NULL);
	edge_store_close(st);
	free(jobs);
}
END_TEST

/* A history as schema 5 left it: raw rows (some before 1970, to cross
 * zero), no rollups, the mark at 0. */
static void raw_history(sqlite3 *db, void *ud)
{
	(void)ud;
	exec_sql(db,
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
		 " INSERT INTO anomaly_event (device, epoch, seq, ts_ms, received_ms, time_source,"
		 " model, score, threshold, label) SELECT 'node-' || (i % 7), 1, i,"
		 " (i * 7919 % 500) * 600000 - 50 * 3600000, 0, 'clock',"
		 " 'm@' || (i % 3), (i * 31 % 1000) / 10.0 - 5, 1, 'l' || (i % 4) FROM n;"
		 "DELETE FROM anomaly_rollup_hour; DELETE FROM anomaly_rollup_day;"
		 "UPDATE anomaly_meta SET value = 0 WHERE key = 'rollup_through_id';");
}

struct catch_up_call {
	uint64_t max_rows;
	bool more;
	int rc;
};

static int catch_up_fn(edge_store_conn *conn, void *ud)
{
	struct catch_up_call *c = ud;

	c->rc = edge_anomaly_rollup_catch_up(conn, c->max_rows, &c->more);
	return c->rc;
}

static void pending_mark(sqlite3 *db, void *ud)
{
	int64_t *mark = ud;

	*mark = q_int(db, MARK_SQL);
}

START_TEST(catch_up_fills_an_old_history_without_double_counting)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(40, RECV0, DAY, RECV0 + DAY);
	struct catch_up_call c = { .max_rows = 700 };
	int64_t mark = -1;
	unsigned calls = 0;

	with_db(st, raw_history, NULL);
	/* Ingests while the catch-up is pending leave their rows to it. */
	run_jobs(st, jobs, 20);
	with_db(st, pending_mark, &mark);
	ck_assert_int_eq(mark, 0);
	do {
		ck_assert_int_eq(edge_store_read(st, catch_up_fn, &c), 0);
		calls++;
		/* An ingest between two steps: still pending, still left. */
		if (calls == 2)
			run_jobs(st, jobs + 20, 10);
	} while (c.more);
	ck_assert_uint_ge(calls, 5);
	with_db(st, rollups_match_raw, NULL);
	/* Nothing pending: the ingest rolls up itself and moves the mark. */
	run_jobs(st, jobs + 30, 10);
	with_db(st, rollups_match_raw, NULL);
	c.more = true;
	ck_assert_int_eq(edge_store_read(st, catch_up_fn, &c), 0);
	ck_assert(!c.more);
	with_db(st, rollups_match_raw, NULL);
	c.max_rows = 0;
	ck_assert_int_eq(edge_store_read(st, catch_up_fn, &c), -EINVAL);
	edge_store_close(st);
	free(jobs);
}
END_TEST

/* A damaged sketch blob does not stop the ingest: counts stay exact. */
static void damage_sketches(sqlite3 *db, void *ud)
{
	(void)ud;
	exec_sql(db, "UPDATE anomaly_rollup_hour SET sketch = x'0203ff';"
		     "UPDATE anomaly_rollup_day SET sketch = x'01';");
}

START_TEST(damaged_sketch_does_not_stop_the_ingest)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(20, RECV0, HOUR, RECV0 + HOUR);

	run_jobs(st, jobs, 10);
	with_db(st, damage_sketches, NULL);
	for (size_t i = 10; i < 20; i++)
		jobs[i].received_ms = RECV0 + HOUR;
	run_jobs(st, jobs + 10, 10);
	edge_store_close(st);
	free(jobs);
}
END_TEST

/* ---- retention ---- */

struct retention_call {
	int64_t now_ms;
	struct edge_anomaly_retention r;
	struct edge_anomaly_retention_result res;
	int rc;
};

static int retention_fn(edge_store_conn *conn, void *ud)
{
	struct retention_call *c = ud;

	c->rc = edge_anomaly_retention_step(conn, c->now_ms, &c->r, &c->res);
	return c->rc;
}

struct snapshot {
	int64_t cut;
	int64_t events_old, events_new, hour_old, day_old, ep_closed_old;
	int64_t newest_old; /* 1: the newest event is old (retention keeps it) */
	double hour_keep_sum, day_keep_sum;
	int64_t hour_keep_rows, day_keep_rows, hour_keep_count, streams;
};

static int64_t q_int_cut(sqlite3 *db, const char *sql, int64_t cut)
{
	sqlite3_stmt *s;
	int64_t v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_int64(s, 1, cut);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static double q_double_cut(sqlite3 *db, const char *sql, int64_t cut)
{
	sqlite3_stmt *s;
	double v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_int64(s, 1, cut);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void take_snapshot(sqlite3 *db, void *ud)
{
	struct snapshot *s = ud;

	s->events_old = q_int_cut(db, "SELECT count(*) FROM anomaly_event WHERE ts_ms < ?1",
				  s->cut);
	s->events_new = q_int_cut(db, "SELECT count(*) FROM anomaly_event WHERE ts_ms >= ?1",
				  s->cut);
	s->newest_old = q_int_cut(db, "SELECT count(*) FROM anomaly_event WHERE ts_ms < ?1"
				  " AND id = (SELECT max(id) FROM anomaly_event)", s->cut);
	s->hour_old = q_int_cut(db, "SELECT count(*) FROM anomaly_rollup_hour"
				    " WHERE hour_ms + 3600000 <= ?1", s->cut);
	s->day_old = q_int_cut(db, "SELECT count(*) FROM anomaly_rollup_day"
				   " WHERE day_ms + 86400000 <= ?1", s->cut);
	s->ep_closed_old = q_int_cut(db, "SELECT count(*) FROM anomaly_episode"
					 " WHERE end_ms < ?1 AND state = 'closed'", s->cut);
	s->hour_keep_rows = q_int_cut(db, "SELECT count(*) FROM anomaly_rollup_hour"
					  " WHERE hour_ms + 3600000 > ?1", s->cut);
	s->hour_keep_count = q_int_cut(db, "SELECT total(count) FROM anomaly_rollup_hour"
					   " WHERE hour_ms + 3600000 > ?1", s->cut);
	s->hour_keep_sum = q_double_cut(db, "SELECT total(score_sum) FROM anomaly_rollup_hour"
					    " WHERE hour_ms + 3600000 > ?1", s->cut);
	s->day_keep_rows = q_int_cut(db, "SELECT count(*) FROM anomaly_rollup_day"
					 " WHERE day_ms + 86400000 > ?1", s->cut);
	s->day_keep_sum = q_double_cut(db, "SELECT total(score_sum) FROM anomaly_rollup_day"
					   " WHERE day_ms + 86400000 > ?1", s->cut);
	s->streams = q_int_cut(db, "SELECT count(*) + 0 * ?1 FROM anomaly_stream", s->cut);
}

struct ack_call {
	const char *device;
	uint32_t epoch;
	struct edge_msg_ack ack;
};

static int ack_fn(edge_store_conn *conn, void *ud)
{
	struct ack_call *c = ud;

	return edge_anomaly_ack_get(conn, c->device, c->epoch, &c->ack);
}

static struct edge_msg_ack ack_of(edge_store *st, const char *device, uint32_t epoch)
{
	struct ack_call c = { .device = device, .epoch = epoch };

	ck_assert_int_eq(edge_store_read(st, ack_fn, &c), 0);
	return c.ack;
}

struct sweep_call {
	int64_t now;
	uint32_t closed;
};

static int sweep_fn(edge_store_conn *conn, void *ud)
{
	struct sweep_call *c = ud;

	return edge_anomaly_episode_sweep(conn, c->now, EDGE_ANOMALY_EPISODE_QUIET_MS, &c->closed);
}

START_TEST(retention_by_age_in_batches)
{
	edge_store *st = open_store();
	const int64_t now = RECV0 + 12 * DAY, max_age = 5 * DAY;
	/* Old history received long ago (its streams go), then a live stream. */
	struct job *old = random_jobs(120, RECV0, 6 * DAY, RECV0 + 6 * DAY);
	struct job *live = random_jobs(60, RECV0 + 6 * DAY, 6 * DAY, now);
	struct retention_call c = { .now_ms = now,
				    .r = { .max_age_ms = max_age, .batch_rows = 50 } };
	struct sweep_call sw = { .now = RECV0 + 6 * DAY + HOUR };
	struct snapshot before = { .cut = now - max_age }, after = { .cut = now - max_age };
	struct edge_msg_ack ack_before[2];
	uint64_t by_age = 0, episodes = 0, rollup_rows = 0;
	unsigned steps = 0;

	for (size_t i = 0; i < 60; i++) {
		live[i].device = "node-live";
		live[i].r.epoch = 7;
	}
	run_jobs(st, old, 120);
	ck_assert_int_eq(edge_store_read(st, sweep_fn, &sw), 0);
	run_jobs(st, live, 60);
	ack_before[0] = ack_of(st, "node-live", 7);
	with_db(st, take_snapshot, &before);
	ck_assert_int_gt(before.events_old, 150);
	ck_assert_int_gt(before.events_new, 50);
	ck_assert_int_gt(before.hour_old, 50);
	ck_assert_int_gt(before.ep_closed_old, 0);
	do {
		ck_assert_int_eq(edge_store_read(st, retention_fn, &c), 0);
		ck_assert_uint_le(c.res.events_by_age, 50);
		ck_assert_uint_le(c.res.episodes, 50);
		ck_assert_uint_le(c.res.rollup_rows, 100);
		ck_assert_uint_eq(c.res.events_by_size, 0);
		by_age += c.res.events_by_age;
		episodes += c.res.episodes;
		rollup_rows += c.res.rollup_rows;
		ck_assert_uint_lt(++steps, 100);
	} while (c.res.more);
	ck_assert_uint_ge(steps, 3);
	ck_assert_uint_eq(by_age + (uint64_t)before.newest_old, (uint64_t)before.events_old);
	ck_assert_uint_eq(episodes, (uint64_t)before.ep_closed_old);
	ck_assert_uint_eq(rollup_rows, (uint64_t)(before.hour_old + before.day_old));
	with_db(st, take_snapshot, &after);
	ck_assert_int_eq(after.events_old, before.newest_old);
	ck_assert_int_eq(after.events_new, before.events_new);
	ck_assert_int_eq(after.hour_old, 0);
	ck_assert_int_eq(after.day_old, 0);
	ck_assert_int_eq(after.ep_closed_old, 0);
	/* What it kept is as it was. */
	ck_assert_int_eq(after.hour_keep_rows, before.hour_keep_rows);
	ck_assert_int_eq(after.hour_keep_count, before.hour_keep_count);
	ck_assert(after.hour_keep_sum == before.hour_keep_sum);
	ck_assert_int_eq(after.day_keep_rows, before.day_keep_rows);
	ck_assert(after.day_keep_sum == before.day_keep_sum);
	/* The old devices' streams went; the live one stays, same ack. */
	ck_assert_int_eq(after.streams, 1);
	ack_before[1] = ack_of(st, "node-live", 7);
	ck_assert_uint_eq(ack_before[1].acked, ack_before[0].acked);
	ck_assert(ack_before[1].sack == ack_before[0].sack);
	/* A next step has nothing to do. */
	ck_assert_int_eq(edge_store_read(st, retention_fn, &c), 0);
	ck_assert(!c.res.more);
	ck_assert_uint_eq(c.res.events_by_age + c.res.episodes + c.res.rollup_rows, 0);
	ck_assert_uint_gt(c.res.db_used_bytes, 0);
	c.r.batch_rows = 0;
	ck_assert_int_eq(edge_store_read(st, retention_fn, &c), -EINVAL);
	edge_store_close(st);
	free(old);
	free(live);
}
END_TEST

struct cursor_set {
	int64_t event_cursor, episode_cursor;
	int64_t expect_events, expect_episodes, max_id;
	int64_t cut;
};

/* Places the central cursors halfway and counts what retention will delete
 * above them. */
static void set_cursors(sqlite3 *db, void *ud)
{
	struct cursor_set *c = ud;
	char sql[256];

	c->max_id = q_int(db, "SELECT max(id) FROM anomaly_event");
	c->event_cursor = q_int(db, "SELECT id FROM anomaly_event ORDER BY id"
				    " LIMIT 1 OFFSET (SELECT count(*) / 2 FROM anomaly_event)");
	c->episode_cursor = q_int(db, "SELECT coalesce(min(rev), 0) FROM anomaly_episode"
				      " WHERE state = 'closed'");
	snprintf(sql, sizeof sql,
		 "INSERT INTO central_cursor VALUES ('event', %lld, 1), ('episode', %lld, 1)",
		 (long long)c->event_cursor, (long long)c->episode_cursor);
	exec_sql(db, sql);
	/* Everything is old here; the newest event stays whatever its age. */
	c->expect_events = q_int_cut(db, "SELECT count(*) FROM anomaly_event WHERE id > ?1",
				     c->event_cursor) - 1;
	c->expect_episodes = q_int_cut(db, "SELECT count(*) FROM anomaly_episode WHERE"
				       " state = 'closed' AND rev > ?1", c->episode_cursor);
}

static void check_dropped(sqlite3 *db, void *ud)
{
	struct cursor_set *c = ud;

	ck_assert_int_eq(q_int(db, "SELECT value FROM anomaly_meta"
				   " WHERE key = 'central_dropped_events'"), c->expect_events);
	ck_assert_int_eq(q_int(db, "SELECT value FROM anomaly_meta"
				   " WHERE key = 'central_dropped_episodes'"), c->expect_episodes);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM anomaly_event"), 1);
	ck_assert_int_eq(q_int(db, "SELECT max(id) FROM anomaly_event"), c->max_id);
}

/* With central forwarding on, retention counts the rows it deletes before
 * they were forwarded (above the central cursors), keeps that count in
 * anomaly_meta, and never deletes the newest event: its id must stay the
 * highest, or the next event could take an id below the cursor. */
START_TEST(retention_counts_rows_not_yet_forwarded)
{
	edge_store *st = open_store();
	const int64_t now = RECV0 + 30 * DAY;
	struct job *old = random_jobs(120, RECV0, 6 * DAY, RECV0 + 6 * DAY);
	struct retention_call c = { .now_ms = now,
				    .r = { .max_age_ms = 5 * DAY, .batch_rows = 50,
					   .central = true } };
	struct sweep_call sw = { .now = RECV0 + 7 * DAY };
	struct cursor_set cs = { 0 };
	uint64_t events = 0, episodes = 0;
	unsigned steps = 0;

	run_jobs(st, old, 120);
	ck_assert_int_eq(edge_store_read(st, sweep_fn, &sw), 0);
	with_db(st, set_cursors, &cs);
	ck_assert_int_gt(cs.expect_events, 50);
	do {
		ck_assert_int_eq(edge_store_read(st, retention_fn, &c), 0);
		events += c.res.unforwarded_events;
		episodes += c.res.unforwarded_episodes;
		ck_assert_uint_lt(++steps, 100);
	} while (c.res.more);
	ck_assert_uint_eq(events, (uint64_t)cs.expect_events);
	ck_assert_uint_eq(episodes, (uint64_t)cs.expect_episodes);
	with_db(st, check_dropped, &cs);
	edge_store_close(st);
	free(old);
}
END_TEST

static void bulk_history(sqlite3 *db, void *ud)
{
	(void)ud;
	exec_sql(db,
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
		 " INSERT INTO anomaly_event (device, epoch, seq, ts_ms, received_ms, time_source,"
		 " model, score, threshold, label, summary) SELECT 'node-' || (i % 5), 1, i,"
		 " 1767225600000 + i * 1000, 1767225600000 + i * 1000, 'clock', 'm@1',"
		 " (i % 97) / 10.0, 1, 'l' || (i % 3),"
		 " '[0.125,0.25,0.5,1.5,2.75,3.125,4.5,5.25,6.5,7.75,8.875,9.5]' FROM n;");
}

static void rollup_totals(sqlite3 *db, void *ud)
{
	double *t = ud;

	t[0] = (double)q_int(db, "SELECT total(count) FROM anomaly_rollup_hour");
	t[1] = (double)q_int(db, "SELECT total(count) FROM anomaly_rollup_day");
	t[2] = (double)q_int(db, "SELECT count(*) FROM anomaly_event");
}

START_TEST(retention_by_size_shrinks_used_bytes)
{
	edge_store *st = open_store();
	struct catch_up_call cu = { .max_rows = 100000 };
	struct retention_call c = { .now_ms = RECV0, .r = { .batch_rows = 500 } };
	double before[3], after[3];
	uint64_t by_size = 0, start_bytes;
	unsigned steps = 0;

	with_db(st, bulk_history, NULL);
	ck_assert_int_eq(edge_store_read(st, catch_up_fn, &cu), 0);
	ck_assert(!cu.more);
	with_db(st, rollup_totals, before);
	ck_assert(before[0] == 20000 && before[1] == 20000);
	/* A step without bounds only measures. */
	ck_assert_int_eq(edge_store_read(st, retention_fn, &c), 0);
	start_bytes = c.res.db_used_bytes;
	ck_assert(!c.res.more);
	ck_assert_uint_gt(start_bytes, 1000000);
	c.r.max_db_bytes = start_bytes / 2;
	do {
		ck_assert_int_eq(edge_store_read(st, retention_fn, &c), 0);
		ck_assert_uint_le(c.res.events_by_size, 500);
		by_size += c.res.events_by_size;
		ck_assert_uint_lt(++steps, 100);
	} while (c.res.more);
	ck_assert_uint_le(c.res.db_used_bytes, c.r.max_db_bytes);
	ck_assert_uint_gt(by_size, 5000);
	ck_assert_uint_lt(by_size, 20000);
	with_db(st, rollup_totals, after);
	/* Rollups stay; the oldest events went. */
	ck_assert(after[0] == before[0] && after[1] == before[1]);
	ck_assert(after[2] == before[2] - (double)by_size);
	edge_store_close(st);
}
END_TEST

static Suite *rollup_suite(void)
{
	Suite *s = suite_create("anomaly-rollup");
	TCase *tc = tcase_create("rollup");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, migration_leaves_mark_at_zero);
	tcase_add_test(tc, rollups_equal_group_by_over_raw_rows);
	tcase_add_test(tc, catch_up_fills_an_old_history_without_double_counting);
	tcase_add_test(tc, damaged_sketch_does_not_stop_the_ingest);
	tcase_add_test(tc, retention_by_age_in_batches);
	tcase_add_test(tc, retention_counts_rows_not_yet_forwarded);
	tcase_add_test(tc, retention_by_size_shrinks_used_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(rollup_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
