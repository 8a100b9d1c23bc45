/* Suite 'central' (local): the gateway's side of forwarding in its own
 * database (schema 12, lib/central/edge_central_local.h): the episodes'
 * change counter the forwarder follows, the cursors that never move back,
 * and the fleet summaries with the day's counts and their bound. Real
 * store file, real writer thread. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_central_local.h"
#include "history_fixture.h"
#include "test_run.h"

struct revs {
	int64_t max_rev, meta_rev, distinct, rows, uid;
};

static void read_revs(sqlite3 *db, void *ud)
{
	struct revs *r = ud;

	r->max_rev = q_int(db, "SELECT coalesce(max(rev), 0) FROM anomaly_episode");
	r->meta_rev = q_int(db, "SELECT value FROM anomaly_meta WHERE key = 'episode_rev'");
	r->distinct = q_int(db, "SELECT count(DISTINCT rev) FROM anomaly_episode");
	r->rows = q_int(db, "SELECT count(*) FROM anomaly_episode");
	r->uid = q_int(db, "SELECT value FROM anomaly_meta WHERE key = 'store_uid'");
}

/* Every insert and every change of an episode gives it a new, higher rev,
 * unique across episodes: the forwarder finds each change above its cursor. */
START_TEST(episode_rev_moves_on_every_change)
{
	edge_store *st = open_store();
	struct job *first = random_jobs(40, RECV0, 2 * HOUR, RECV0 + 2 * HOUR);
	struct job *more = random_jobs(40, RECV0 + 2 * HOUR, 2 * HOUR, RECV0 + 4 * HOUR);
	struct revs a, b;

	run_jobs(st, first, 40);
	with_db(st, read_revs, &a);
	ck_assert_int_gt(a.rows, 0);
	ck_assert_int_eq(a.distinct, a.rows);
	ck_assert_int_eq(a.max_rev, a.meta_rev);
	/* episodes grow or close: the counter and the highest rev move on */
	ck_assert_int_gt(a.meta_rev, a.rows - 1);
	ck_assert_int_ne(a.uid, 0);
	run_jobs(st, more, 40);
	with_db(st, read_revs, &b);
	ck_assert_int_gt(b.meta_rev, a.meta_rev);
	ck_assert_int_eq(b.max_rev, b.meta_rev);
	ck_assert_int_eq(b.distinct, b.rows);
	ck_assert_int_eq(b.uid, a.uid);
	edge_store_close(st);
	free(first);
	free(more);
}
END_TEST

struct save_call {
	struct edge_central_cursors c;
	int64_t now;
};

static int save_fn(edge_store_conn *conn, void *ud)
{
	struct save_call *s = ud;

	return edge_central_cursors_save(conn, &s->c, s->now);
}

static void read_cursors(sqlite3 *db, void *ud)
{
	int64_t *v = ud;

	v[0] = q_int(db, "SELECT coalesce((SELECT through FROM central_cursor WHERE stream = 'event'), 0)");
	v[1] = q_int(db, "SELECT coalesce((SELECT through FROM central_cursor WHERE stream = 'episode'), 0)");
	v[2] = q_int(db, "SELECT coalesce((SELECT through FROM central_cursor WHERE stream = 'summary'), 0)");
}

/* A late save of an older position changes nothing; 0 leaves a stream. */
START_TEST(cursors_never_move_back)
{
	edge_store *st = open_store();
	struct save_call s = { .c = { { 100, 7, 3 } }, .now = 1 };
	int64_t v[3];

	ck_assert_int_eq(edge_store_read(st, save_fn, &s), 0);
	with_db(st, read_cursors, v);
	ck_assert_int_eq(v[0], 100);
	ck_assert_int_eq(v[1], 7);
	ck_assert_int_eq(v[2], 3);
	s.c = (struct edge_central_cursors){ { 50, 9, 0 } };
	ck_assert_int_eq(edge_store_read(st, save_fn, &s), 0);
	with_db(st, read_cursors, v);
	ck_assert_int_eq(v[0], 100);
	ck_assert_int_eq(v[1], 9);
	ck_assert_int_eq(v[2], 3);
	ck_assert_str_eq(edge_central_stream_name(EDGE_CENTRAL_EPISODE), "episode");
	ck_assert_int_eq(edge_central_day_ms(RECV0 + 5 * HOUR), RECV0);
	ck_assert_int_eq(edge_central_day_ms(-1), -DAY);
	edge_store_close(st);
}
END_TEST

struct summary_call {
	struct edge_central_summary s;
	unsigned times;
};

static int summary_fn(edge_store_conn *conn, void *ud)
{
	struct summary_call *c = ud;

	for (unsigned i = 0; i < c->times; i++) {
		int rc;

		c->s.ts_ms++;
		rc = edge_central_summary_add(conn, &c->s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void day_events(sqlite3 *db, void *ud)
{
	int64_t *v = ud;
	char sql[200];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM anomaly_event WHERE ts_ms >= %lld"
		 " AND ts_ms < %lld", (long long)v[0], (long long)(v[0] + DAY));
	v[1] = q_int(db, sql);
	v[2] = q_int(db, "SELECT count(*) FROM anomaly_episode WHERE state <> 'closed'");
}

static void summary_rows(sqlite3 *db, void *ud)
{
	int64_t *v = ud;

	v[0] = q_int(db, "SELECT count(*) FROM central_summary");
	v[1] = q_int(db, "SELECT coalesce((SELECT value FROM anomaly_meta"
			 " WHERE key = 'central_dropped_summaries'), 0)");
	v[2] = q_int(db, "SELECT min(id) FROM central_summary");
}

/* A summary counts the day's stored events (from the day rollups) and the
 * open episodes; beyond EDGE_CENTRAL_SUMMARY_KEEP rows the oldest go, and
 * those not yet forwarded are counted. */
START_TEST(summaries_count_the_day_and_stay_bounded)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(60, RECV0 + HOUR, 6 * HOUR, RECV0 + 8 * HOUR);
	struct summary_call c = { .s = { .ts_ms = RECV0 + 9 * HOUR, .nodes_total = 4,
					 .nodes_online = 3, .nodes_offline = 1,
					 .day_ms = RECV0, .inferences_day = 1234 },
				  .times = 1 };
	struct save_call cur = { .c = { { 0, 0, 100 } }, .now = 1 };
	int64_t want[3] = { RECV0 }, rows[3];

	run_jobs(st, jobs, 60);
	with_db(st, day_events, want);
	ck_assert_int_gt(want[1], 0);
	ck_assert_int_eq(edge_store_read(st, summary_fn, &c), 0);
	ck_assert_uint_eq(c.s.anomalies_day, (uint64_t)want[1]);
	ck_assert_uint_eq(c.s.episodes_open, (unsigned)want[2]);
	/* the first 100 are forwarded; fill past the bound */
	ck_assert_int_eq(edge_store_read(st, save_fn, &cur), 0);
	c.times = EDGE_CENTRAL_SUMMARY_KEEP + 10;
	ck_assert_int_eq(edge_store_read(st, summary_fn, &c), 0);
	with_db(st, summary_rows, rows);
	ck_assert_int_eq(rows[0], EDGE_CENTRAL_SUMMARY_KEEP);
	/* 11 went: ids 1..11, all at or below the cursor: none lost */
	ck_assert_int_eq(rows[2], 12);
	ck_assert_int_eq(rows[1], 0);
	cur.c = (struct edge_central_cursors){ { 0, 0, 0 } };
	c.times = 200; /* 200 more go: ids 12..211, of which 101..211 unforwarded */
	ck_assert_int_eq(edge_store_read(st, summary_fn, &c), 0);
	with_db(st, summary_rows, rows);
	ck_assert_int_eq(rows[0], EDGE_CENTRAL_SUMMARY_KEEP);
	ck_assert_int_eq(rows[1], 111);
	edge_store_close(st);
	free(jobs);
}
END_TEST

/* Summaries leave as real[] literals: float32 blobs (schema 6 on) and JSON
 * text (older rows); anything else as NULL, never as text of its own. */
START_TEST(summary_literals)
{
	static const struct {
		const char *sql;
		const char *want; /* NULL: not forwarded */
	} cases[] = {
		{ "SELECT x'0000803F000020C0'", "{1,-2.5}" },
		{ "SELECT '[0.5,1.25]'", "{0.5,1.25}" },
		{ "SELECT '[1e-3, -2E+2]'", "{1e-3, -2E+2}" },
		{ "SELECT NULL", NULL },
		{ "SELECT x'000080'", NULL },                  /* not whole floats */
		{ "SELECT zeroblob(68)", NULL },               /* more than 16 values */
		{ "SELECT '[1,\"a\"]'", NULL },                /* not only numbers */
		{ "SELECT '[1,2'", NULL },
		{ "SELECT 42", NULL },
	};
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char lit[EDGE_CENTRAL_SUMMARY_LITERAL_MAX];
		sqlite3_stmt *st;
		bool ok;

		ck_assert_int_eq(sqlite3_prepare_v2(db, cases[i].sql, -1, &st, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ok = edge_central_summary_literal(st, 0, lit);
		ck_assert_msg(ok == (cases[i].want != NULL), "%s: %d", cases[i].sql, ok);
		if (ok)
			ck_assert_str_eq(lit, cases[i].want);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}
END_TEST

static Suite *central_local_suite(void)
{
	Suite *s = suite_create("central-local");
	TCase *tc = tcase_create("local");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, episode_rev_moves_on_every_change);
	tcase_add_test(tc, cursors_never_move_back);
	tcase_add_test(tc, summaries_count_the_day_and_stay_bounded);
	tcase_add_test(tc, summary_literals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(central_local_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
