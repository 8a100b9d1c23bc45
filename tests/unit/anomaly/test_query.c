/* Suite 'anomaly' (query): the read side on its own read-only connection
 * beside the running store. Keyset pages give the full set in order with
 * newer rows arriving between pages; filters; the plans use the (device,
 * ts_ms) and (ts_ms) indexes without a sort; the row and time budget and
 * the interrupt; statistics by each grouping equal the raw computation
 * (percentiles within the sketch's accuracy), empty buckets included;
 * episodes; the device summary; open errors. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_anomaly_internal.h"
#include "edge_anomaly_query.h"
#include "edge_score_sketch.h"
#include "history_fixture.h"
#include "test_run.h"

static sqlite3 *raw_open(void)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	return db;
}

static edge_anomaly_reader *reader(void)
{
	edge_anomaly_reader *r = NULL;

	ck_assert_int_eq(edge_anomaly_reader_open(test_db_path, &r), 0);
	return r;
}

/* The ids sql gives (one int64 column), with ?1.. bound as texts/ints. */
struct ids {
	int64_t *v;
	size_t n, cap;
};

static void ids_push(struct ids *a, int64_t v)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
		ck_assert_ptr_nonnull(a->v);
	}
	a->v[a->n++] = v;
}

static struct ids raw_ids(sqlite3 *db, const char *sql, const char *text1)
{
	struct ids a = { 0 };
	sqlite3_stmt *st;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sql);
	if (text1)
		sqlite3_bind_text(st, 1, text1, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		ids_push(&a, sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	return a;
}

static int collect_row(void *ud, const struct edge_anomaly_row *row)
{
	struct ids *a = ud;

	ck_assert(row->device[0] != '\0');
	ck_assert(row->ev.label[0] != '\0');
	ids_push(a, row->id);
	return 0;
}

/* Every page of f, limit per page; after page `inject_at`, fn runs. */
static struct ids all_pages(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
			    unsigned limit, void (*fn)(void *), void *ud, unsigned *pages)
{
	struct edge_anomaly_cursor cur = { 0 };
	struct ids got = { 0 };
	bool more = true;

	*pages = 0;
	while (more) {
		size_t before = got.n;

		ck_assert_int_eq(edge_anomaly_list(r, f, &cur, limit, collect_row, &got, &more), 0);
		ck_assert_uint_le(got.n - before, limit);
		if (more)
			ck_assert_uint_eq(got.n - before, limit);
		if (++*pages == 2 && fn)
			fn(ud);
		ck_assert_uint_lt(*pages, 10000);
	}
	return got;
}

static void assert_same(const struct ids *a, const struct ids *b)
{
	ck_assert_uint_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		ck_assert_msg(a->v[i] == b->v[i], "row %zu: id %lld, expected %lld", i,
			      (long long)a->v[i], (long long)b->v[i]);
}

struct inject {
	edge_store *st;
	struct job *jobs;
	size_t n;
};

static void inject_newer(void *ud)
{
	struct inject *in = ud;

	run_jobs(in->st, in->jobs, in->n);
}

START_TEST(list_pages_are_the_full_set_in_order)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(150, RECV0, 2 * DAY, RECV0 + 2 * DAY);
	struct job *newer = random_jobs(20, RECV0 + 2 * DAY + HOUR, HOUR,
					RECV0 + 2 * DAY + 2 * HOUR);
	struct inject in = { st, newer, 10 };
	edge_anomaly_reader *r;
	struct edge_anomaly_filter f = { 0 };
	struct ids want, got;
	unsigned pages;
	sqlite3 *db;

	run_jobs(st, jobs, 150);
	r = reader();
	db = raw_open();
	want = raw_ids(db, "SELECT id FROM anomaly_event ORDER BY ts_ms DESC, id DESC", NULL);
	ck_assert_uint_gt(want.n, 1000);
	/* Newer rows arrive between pages: not in this listing, none skipped. */
	got = all_pages(r, &f, 37, inject_newer, &in, &pages);
	ck_assert_uint_gt(pages, 20);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);

	/* One device, through its index; newer rows again in between. */
	f.device = "node-b";
	in.jobs = newer + 10;
	want = raw_ids(db, "SELECT id FROM anomaly_event WHERE device = ?1"
			   " ORDER BY ts_ms DESC, id DESC", "node-b");
	got = all_pages(r, &f, 11, inject_newer, &in, &pages);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);

	/* Residual filters and a time range. */
	f = (struct edge_anomaly_filter){ .label = "temp", .model = "gbt@2.1.0",
					  .has_min_score = true, .min_score = 40,
					  .since_ms = RECV0 + 6 * HOUR,
					  .until_ms = RECV0 + 30 * HOUR };
	want = raw_ids(db, "SELECT id FROM anomaly_event WHERE label = 'temp'"
			   " AND model = 'gbt@2.1.0' AND score >= 40 AND ts_ms >= 1767247200000"
			   " AND ts_ms < 1767333600000 ORDER BY ts_ms DESC, id DESC", NULL);
	ck_assert_uint_gt(want.n, 10);
	got = all_pages(r, &f, 7, NULL, NULL, &pages);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);
	f.device = "node-c";
	want = raw_ids(db, "SELECT id FROM anomaly_event WHERE label = 'temp'"
			   " AND model = 'gbt@2.1.0' AND score >= 40 AND ts_ms >= 1767247200000"
			   " AND ts_ms < 1767333600000 AND device = ?1"
			   " ORDER BY ts_ms DESC, id DESC",
		       "node-c");
	got = all_pages(r, &f, 10000, NULL, NULL, &pages);
	ck_assert_uint_eq(pages, 1);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);

	/* The rows read back whole. */
	{
		struct edge_anomaly_cursor cur = { 0 };
		bool more;

		f = (struct edge_anomaly_filter){ 0 };
		ck_assert_int_eq(edge_anomaly_list(r, &f, &cur, 0, collect_row, &got, &more),
				 -EINVAL);
		ck_assert_int_eq(edge_anomaly_list(r, &f, &cur, 10001, collect_row, &got, &more),
				 -EINVAL);
	}
	sqlite3_close(db);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(jobs);
	free(newer);
}
END_TEST

static int stop_at_three(void *ud, const struct edge_anomaly_row *row)
{
	unsigned *n = ud;

	(void)row;
	return ++*n == 3 ? 42 : 0;
}

START_TEST(emit_stops_the_call_and_the_cursor_stays)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(20, RECV0, DAY, RECV0 + DAY);
	struct edge_anomaly_filter f = { 0 };
	struct edge_anomaly_cursor cur = { 0 };
	edge_anomaly_reader *r;
	struct ids got = { 0 }, want;
	unsigned n = 0;
	bool more;
	sqlite3 *db;

	run_jobs(st, jobs, 20);
	r = reader();
	ck_assert_int_eq(edge_anomaly_list(r, &f, &cur, 100, stop_at_three, &n, &more), 42);
	/* Two rows accepted: the next page starts at the third. */
	ck_assert_int_eq(edge_anomaly_list(r, &f, &cur, 1, collect_row, &got, &more), 0);
	db = raw_open();
	want = raw_ids(db, "SELECT id FROM anomaly_event ORDER BY ts_ms DESC, id DESC LIMIT 3",
		       NULL);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(got.v[0], want.v[2]);
	free(got.v);
	free(want.v);
	sqlite3_close(db);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(jobs);
}
END_TEST

static void assert_plan(sqlite3 *db, const char *sql, const char *index)
{
	char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
	sqlite3_stmt *st;
	bool uses = false;

	ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);

		ck_assert_msg(!strstr(d, "TEMP B-TREE"), "%s: %s", sql, d);
		ck_assert_msg(!strstr(d, "SCAN anomaly_event ") || strstr(d, "USING INDEX"), "%s",
			      d);
		if (strstr(d, index))
			uses = true;
	}
	ck_assert_msg(uses, "%s does not use %s", sql, index);
	sqlite3_finalize(st);
	sqlite3_free(q);
}

START_TEST(list_plans_use_the_time_indexes_without_a_sort)
{
	edge_store *st = open_store();
	sqlite3 *db;

	edge_store_close(st);
	db = raw_open();
	assert_plan(db, edge__anomaly_list_sql(false, false), "anomaly_event_ts");
	assert_plan(db, edge__anomaly_list_sql(false, true), "anomaly_event_device_ts");
	assert_plan(db, edge__anomaly_list_sql(true, false), "anomaly_episode_start");
	assert_plan(db, edge__anomaly_list_sql(true, true), "anomaly_episode_device_start");
	sqlite3_close(db);
}
END_TEST

static int count_row(void *ud, const struct edge_anomaly_row *row)
{
	(void)row;
	++*(unsigned *)ud;
	return 0;
}

static int interrupt_row(void *ud, const struct edge_anomaly_row *row)
{
	(void)row;
	edge_anomaly_reader_interrupt(ud);
	return 0;
}

/* Interrupt from another thread while a call runs: the first row's emit
 * hands over to the interrupter and waits until it has interrupted. */
struct cross {
	edge_anomaly_reader *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int phase; /* 0 running, 1 emit reached, 2 interrupted */
};

static void *interrupter(void *ud)
{
	struct cross *x = ud;

	pthread_mutex_lock(&x->mu);
	while (x->phase != 1)
		pthread_cond_wait(&x->cv, &x->mu);
	edge_anomaly_reader_interrupt(x->r);
	x->phase = 2;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

static int handover_row(void *ud, const struct edge_anomaly_row *row)
{
	struct cross *x = ud;

	(void)row;
	pthread_mutex_lock(&x->mu);
	if (x->phase == 0) {
		x->phase = 1;
		pthread_cond_broadcast(&x->cv);
		while (x->phase != 2)
			pthread_cond_wait(&x->cv, &x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	return 0;
}

START_TEST(budget_and_interrupt)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(300, RECV0, DAY, RECV0 + DAY);
	struct edge_anomaly_filter none = { .label = "no-such-label" }, all = { 0 };
	struct edge_anomaly_cursor cur = { 0 };
	struct edge_anomaly_query_cost cost;
	struct edge_anomaly_stats_info info;
	struct edge_anomaly_device_summary sum;
	edge_anomaly_reader *r;
	unsigned n = 0;
	bool more;

	run_jobs(st, jobs, 300);
	r = reader();
	/* Unbounded: the filter reads every row and finds nothing. */
	ck_assert_int_eq(edge_anomaly_list(r, &none, &cur, 100, count_row, &n, &more), 0);
	ck_assert(!more);
	ck_assert_uint_eq(n, 0);
	edge_anomaly_reader_last_cost(r, &cost);
	ck_assert_uint_gt(cost.rows_examined, 1000);
	/* A tiny row budget stops it. */
	edge_anomaly_reader_set_budget(r, 100, 10000);
	ck_assert_int_eq(edge_anomaly_list(r, &none, &cur, 100, count_row, &n, &more), EDGE_ELIMIT);
	ck_assert(!cur.valid);
	edge_anomaly_reader_last_cost(r, &cost);
	ck_assert_uint_ge(cost.rows_examined, 100);
	ck_assert_uint_lt(cost.rows_examined, 1000);
	/* Rows emitted before the stop stand, and the cursor goes on from them. */
	ck_assert_int_eq(edge_anomaly_list(r, &all, &cur, 10000, count_row, &n, &more),
			 EDGE_ELIMIT);
	ck_assert_uint_gt(n, 0);
	ck_assert(cur.valid);
	ck_assert(more);
	ck_assert_int_eq(edge_anomaly_stats(r, &all, EDGE_ANOMALY_BY_HOUR, 100, NULL, NULL, &info),
			 -EINVAL);
	/* A time budget of 0 ms stops at the first check. */
	edge_anomaly_reader_set_budget(r, UINT64_MAX, 0);
	memset(&cur, 0, sizeof cur);
	ck_assert_int_eq(edge_anomaly_list(r, &none, &cur, 100, count_row, &n, &more), EDGE_ELIMIT);
	ck_assert_int_eq(edge_anomaly_device_summary(r, "node-a", RECV0 + DAY, &sum), EDGE_ELIMIT);
	/* Interrupt while a call runs: -ECANCELED, not the budget. */
	edge_anomaly_reader_set_budget(r, 2000000, 10000);
	ck_assert_int_eq(edge_anomaly_list(r, &all, &cur, 10000, interrupt_row, r, &more),
			 -ECANCELED);
	{
		struct cross x = { .r = r, .mu = PTHREAD_MUTEX_INITIALIZER,
				   .cv = PTHREAD_COND_INITIALIZER };
		pthread_t t;

		memset(&cur, 0, sizeof cur);
		ck_assert_int_eq(pthread_create(&t, NULL, interrupter, &x), 0);
		ck_assert_int_eq(edge_anomaly_list(r, &all, &cur, 10000, handover_row, &x, &more),
				 -ECANCELED);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert_int_eq(x.phase, 2);
	}
	/* An interrupt between calls does not stop the next one. */
	edge_anomaly_reader_interrupt(r);
	n = 0;
	memset(&cur, 0, sizeof cur);
	ck_assert_int_eq(edge_anomaly_list(r, &all, &cur, 50, count_row, &n, &more), 0);
	ck_assert_uint_eq(n, 50);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(jobs);
}
END_TEST

/* ---- statistics ---- */

#define MAX_STATS 512

struct stats_got {
	struct edge_anomaly_stat s[MAX_STATS];
	unsigned n;
};

static int collect_stat(void *ud, const struct edge_anomaly_stat *s)
{
	struct stats_got *g = ud;

	ck_assert_uint_lt(g->n, MAX_STATS);
	g->s[g->n++] = *s;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void assert_pct(double got, const double *v, size_t n, double q)
{
	double truth = v[(size_t)floor(q * (double)(n - 1))];

	ck_assert_msg(fabs(got - truth) <= EDGE_SCORE_SKETCH_ACCURACY * fabs(truth) * 1.000001 +
						   EDGE_SCORE_SKETCH_MIN_VALUE,
		      "q %g: %.9g, true %.9g", q, got, truth);
}

/* One group's expected numbers from the raw rows matching where (SQL,
 * ?1 = key text or NULL, ?2 ?3 the range). */
static void assert_group(sqlite3 *db, const struct edge_anomaly_stat *s, const char *where,
			 const char *key, int64_t lo, int64_t hi)
{
	char *sql = sqlite3_mprintf("SELECT score FROM anomaly_event WHERE ts_ms >= ?2 AND"
				    " ts_ms < ?3 AND (%s) ORDER BY score", where);
	sqlite3_stmt *st;
	double *v = NULL, sum = 0;
	size_t n = 0, cap = 0;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (key)
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, cap * sizeof *v);
		}
		v[n] = sqlite3_column_double(st, 0);
		sum += v[n++];
	}
	sqlite3_finalize(st);
	sqlite3_free(sql);
	ck_assert_msg(s->count == n, "group %s/%lld: count %llu, raw %zu", s->key,
		      (long long)s->bucket_ms, (unsigned long long)s->count, n);
	if (n) {
		qsort(v, n, sizeof v[0], cmp_double);
		ck_assert(s->score_min == v[0]);
		ck_assert(s->score_max == v[n - 1]);
		ck_assert(fabs(s->score_mean - sum / (double)n) < 1e-9);
		assert_pct(s->p50, v, n, 0.5);
		assert_pct(s->p90, v, n, 0.9);
		assert_pct(s->p99, v, n, 0.99);
	} else {
		ck_assert(s->score_min == 0 && s->score_max == 0 && s->p99 == 0);
	}
	free(v);
}

/* Stats of f by `by` against the raw rows over the range the answer says. */
static void check_stats(edge_anomaly_reader *r, sqlite3 *db, const struct edge_anomaly_filter *f,
			enum edge_anomaly_by by, const char *source)
{
	struct stats_got *g = calloc(1, sizeof *g);
	struct edge_anomaly_stats_info info;
	char base[256];
	int64_t lo, hi;

	ck_assert_int_eq(edge_anomaly_stats(r, f, by, MAX_STATS, collect_stat, g, &info), 0);
	ck_assert_str_eq(info.source, source);
	ck_assert_uint_eq(info.groups, g->n);
	ck_assert_uint_gt(g->n, 0);
	lo = info.since_ms ? info.since_ms : INT64_MIN;
	hi = info.until_ms ? info.until_ms : INT64_MAX;
	if (f->since_ms) {
		ck_assert_int_le(info.since_ms, f->since_ms);
		ck_assert_int_ge(info.until_ms, f->until_ms);
	}
	snprintf(base, sizeof base, "1");
	if (f->device)
		snprintf(base + strlen(base), sizeof base - strlen(base), " AND device = '%s'",
			 f->device);
	if (f->label)
		snprintf(base + strlen(base), sizeof base - strlen(base), " AND label = '%s'",
			 f->label);
	assert_group(db, &info.total, base, NULL, lo, hi);
	for (unsigned i = 0; i < g->n; i++) {
		const struct edge_anomaly_stat *s = &g->s[i];
		char where[384];

		switch (by) {
		case EDGE_ANOMALY_BY_HOUR:
		case EDGE_ANOMALY_BY_DAY: {
			int64_t w = by == EDGE_ANOMALY_BY_HOUR ? HOUR : DAY;

			ck_assert_str_eq(s->key, "");
			if (i)
				ck_assert_int_eq(s->bucket_ms, g->s[i - 1].bucket_ms + w);
			ck_assert_int_eq(((s->bucket_ms % w) + w) % w, 0);
			assert_group(db, s, base, NULL, s->bucket_ms > lo ? s->bucket_ms : lo,
				     s->bucket_ms + w < hi ? s->bucket_ms + w : hi);
			break;
		}
		default:
			snprintf(where, sizeof where, "%s AND %s = ?1", base,
				 edge_anomaly_by_name(by));
			ck_assert_int_eq(s->bucket_ms, 0);
			if (i)
				ck_assert_uint_le(s->count, g->s[i - 1].count);
			assert_group(db, s, where, s->key, lo, hi);
		}
	}
	if (by == EDGE_ANOMALY_BY_HOUR || by == EDGE_ANOMALY_BY_DAY) {
		ck_assert_uint_gt(g->s[0].count, 0);
		ck_assert_uint_gt(g->s[g->n - 1].count, 0);
	}
	free(g);
}

START_TEST(stats_by_each_grouping_equal_the_raw_rows)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(250, RECV0 - 2 * DAY, 5 * DAY, RECV0 + 3 * DAY);
	const enum edge_anomaly_by all[] = { EDGE_ANOMALY_BY_HOUR, EDGE_ANOMALY_BY_DAY,
					     EDGE_ANOMALY_BY_DEVICE, EDGE_ANOMALY_BY_LABEL,
					     EDGE_ANOMALY_BY_MODEL };
	const struct edge_anomaly_filter fs[] = {
		{ 0 },
		{ .since_ms = RECV0 - DAY + 1234567, .until_ms = RECV0 + DAY + 7654321 },
		{ .device = "node-c" },
		{ .device = "node-a", .label = "temp", .since_ms = RECV0 - 5 * HOUR - 17,
		  .until_ms = RECV0 + 40 * HOUR + 99 },
		{ .label = "vibration" },
	};
	edge_anomaly_reader *r;
	sqlite3 *db;

	run_jobs(st, jobs, 250);
	r = reader();
	db = raw_open();
	for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
		for (size_t b = 0; b < 5; b++) {
			const char *src;

			if (all[b] == EDGE_ANOMALY_BY_HOUR && fs[i].device)
				src = "raw";
			else if (!fs[i].device && all[b] != EDGE_ANOMALY_BY_DEVICE)
				src = "rollup_hour";
			else
				src = "rollup_day";
			check_stats(r, db, &fs[i], all[b], src);
		}
	sqlite3_close(db);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(jobs);
}
END_TEST

START_TEST(stats_empty_buckets_and_limits)
{
	edge_store *st = open_store();
	struct job jobs[2];
	struct stats_got *g = calloc(1, sizeof *g);
	struct edge_anomaly_filter f = { 0 };
	struct edge_anomaly_stats_info info;
	edge_anomaly_reader *r;

	memset(jobs, 0, sizeof jobs);
	for (int j = 0; j < 2; j++) {
		jobs[j].device = "node-e";
		jobs[j].received_ms = RECV0 + 6 * HOUR;
		jobs[j].r.epoch = 1;
		jobs[j].r.oldest = 1;
		jobs[j].r.n_events = 2;
		for (int k = 0; k < 2; k++) {
			jobs[j].r.events[k] = fixture_event((uint32_t)(j * 2 + k + 1));
			jobs[j].r.events[k].has_ts = true;
			jobs[j].r.events[k].ts_ms =
				(uint64_t)(RECV0 + (j ? 5 * HOUR : 0) + k * 1000);
		}
	}
	run_jobs(st, jobs, 2);
	r = reader();
	/* Hours 0 and 5: four empty ones between, fleet-wide and for the device. */
	for (int dev = 0; dev < 2; dev++) {
		f.device = dev ? "node-e" : NULL;
		g->n = 0;
		ck_assert_int_eq(edge_anomaly_stats(r, &f, EDGE_ANOMALY_BY_HOUR, 100, collect_stat,
						    g, &info), 0);
		ck_assert_uint_eq(g->n, 6);
		ck_assert_int_eq(g->s[0].bucket_ms, RECV0);
		for (int i = 0; i < 6; i++) {
			ck_assert_int_eq(g->s[i].bucket_ms, RECV0 + i * HOUR);
			ck_assert_uint_eq(g->s[i].count, i == 0 || i == 5 ? 2 : 0);
		}
		ck_assert_uint_eq(info.total.count, 4);
		/* At most max_groups; the total still counts everything. */
		g->n = 0;
		ck_assert_int_eq(edge_anomaly_stats(r, &f, EDGE_ANOMALY_BY_HOUR, 3, collect_stat,
						    g, &info), 0);
		ck_assert_uint_eq(g->n, 3);
		ck_assert_uint_eq(info.groups, 3);
		ck_assert_uint_eq(info.total.count, 4);
		ck_assert(fabs(info.total.p50 - 0.8731) <= 0.01 * 0.8731);
	}
	/* Nothing in range: no group, an empty total. */
	f = (struct edge_anomaly_filter){ .since_ms = RECV0 + 10 * DAY,
					  .until_ms = RECV0 + 11 * DAY };
	g->n = 0;
	ck_assert_int_eq(edge_anomaly_stats(r, &f, EDGE_ANOMALY_BY_DAY, 100, collect_stat, g,
					    &info), 0);
	ck_assert_uint_eq(g->n, 0);
	ck_assert_uint_eq(info.total.count, 0);
	ck_assert_int_eq(info.since_ms, RECV0 + 10 * DAY);
	ck_assert_int_eq(info.until_ms, RECV0 + 11 * DAY);
	f.has_min_score = true;
	ck_assert_int_eq(edge_anomaly_stats(r, &f, EDGE_ANOMALY_BY_DAY, 100, collect_stat, g,
					    &info), -EINVAL);
	{
		enum edge_anomaly_by by;

		ck_assert_int_eq(edge_anomaly_by_parse("label", &by), 0);
		ck_assert_int_eq(by, EDGE_ANOMALY_BY_LABEL);
		ck_assert_str_eq(edge_anomaly_by_name(EDGE_ANOMALY_BY_DEVICE), "device");
		ck_assert_int_eq(edge_anomaly_by_parse("week", &by), -EINVAL);
	}
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(g);
}
END_TEST

/* ---- episodes, summary, open ---- */

static int collect_episode(void *ud, const struct edge_anomaly_episode_row *row)
{
	struct ids *a = ud;

	ck_assert(row->device[0] && row->label[0] && row->ep.state[0]);
	ids_push(a, row->ep.id);
	return 0;
}

static struct ids all_episodes(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
			       unsigned limit)
{
	struct edge_anomaly_cursor cur = { 0 };
	struct ids got = { 0 };
	bool more = true;

	while (more)
		ck_assert_int_eq(edge_anomaly_episodes(r, f, &cur, limit, collect_episode, &got,
						       &more), 0);
	return got;
}

START_TEST(episodes_listing_and_open_only)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(200, RECV0, 3 * DAY, RECV0 + 3 * DAY);
	struct sweep {
		int64_t now;
		uint32_t closed;
	};
	struct edge_anomaly_filter f = { 0 };
	edge_anomaly_reader *r;
	struct ids want, got;
	sqlite3 *db;

	run_jobs(st, jobs, 200);
	r = reader();
	db = raw_open();
	want = raw_ids(db, "SELECT id FROM anomaly_episode ORDER BY start_ms DESC, id DESC", NULL);
	ck_assert_uint_gt(want.n, 50);
	got = all_episodes(r, &f, 9);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);
	f.open_only = true;
	want = raw_ids(db, "SELECT id FROM anomaly_episode WHERE state <> 'closed'"
			   " ORDER BY start_ms DESC, id DESC", NULL);
	ck_assert_uint_gt(want.n, 0);
	got = all_episodes(r, &f, 5);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);
	f = (struct edge_anomaly_filter){ .device = "node-d", .label = "temp",
					  .has_min_score = true, .min_score = 30,
					  .since_ms = RECV0 + DAY };
	want = raw_ids(db, "SELECT id FROM anomaly_episode WHERE device = ?1 AND label = 'temp'"
			   " AND peak_score >= 30 AND start_ms >= 1767312000000"
			   " ORDER BY start_ms DESC, id DESC", "node-d");
	got = all_episodes(r, &f, 3);
	assert_same(&got, &want);
	free(got.v);
	free(want.v);
	sqlite3_close(db);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(jobs);
}
END_TEST

static int64_t raw_int(sqlite3 *db, const char *sql, const char *device, int64_t a)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, a);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Events of device matching cond (?2 = now). */
static uint64_t dev_count(sqlite3 *db, const char *cond, const char *device, int64_t now)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM anomaly_event WHERE device = ?1 AND (%s)"
				    " AND ?2 = ?2", cond);
	uint64_t n = (uint64_t)raw_int(db, sql, device, now);

	sqlite3_free(sql);
	return n;
}

static uint64_t ep_count(sqlite3 *db, const char *cond, const char *device)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM anomaly_episode WHERE device = ?1"
				    " AND (%s)", cond);
	uint64_t n = (uint64_t)raw_int(db, sql, device, 0);

	sqlite3_free(sql);
	return n;
}

START_TEST(device_summary_matches_the_tables)
{
	edge_store *st = open_store();
	struct job *jobs = random_jobs(120, RECV0, 3 * DAY, RECV0 + 3 * DAY);
	const int64_t now = RECV0 + 3 * DAY;
	struct edge_anomaly_device_summary d;
	edge_anomaly_reader *r;
	sqlite3 *db;

	run_jobs(st, jobs, 120);
	r = reader();
	db = raw_open();
	for (size_t i = 0; i < 4; i++) {
		const char *dev = devices[i];

		ck_assert_int_eq(edge_anomaly_device_summary(r, dev, now, &d), 0);
		ck_assert_uint_eq(d.events, dev_count(db, "1", dev, now));
		ck_assert_uint_eq(d.events_24h,
				  dev_count(db, "ts_ms >= ?2 - 86400000 AND ts_ms <= ?2", dev,
					    now));
		ck_assert_uint_gt(d.events_24h, 0);
		ck_assert_int_eq(d.last_ts_ms, raw_int(db, "SELECT max(ts_ms) FROM anomaly_event"
						       " WHERE device = ?1", dev, 0));
		ck_assert(d.last_label[0] != '\0');
		ck_assert_uint_eq(d.episodes, ep_count(db, "1", dev));
		ck_assert_uint_eq(d.episodes_open, ep_count(db, "state <> 'closed'", dev));
		ck_assert_uint_eq(d.episodes_confirmed, ep_count(db, "state = 'confirmed'", dev));
		ck_assert_uint_eq(d.gaps, 0);
	}
	/* No history: all zero. */
	ck_assert_int_eq(edge_anomaly_device_summary(r, "node-zz", now, &d), 0);
	ck_assert_uint_eq(d.events + d.events_24h + d.episodes, 0);
	ck_assert_int_eq(d.last_ts_ms, 0);
	ck_assert_int_eq(edge_anomaly_device_summary(r, "", now, &d), -EINVAL);
	sqlite3_close(db);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(jobs);
}
END_TEST

START_TEST(open_errors)
{
	edge_anomaly_reader *r = NULL;
	sqlite3 *db;
	FILE *fp;

	ck_assert_int_eq(edge_anomaly_reader_open(test_db_path, &r), -ENOENT);
	/* A database older than the rollups. */
	ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x); PRAGMA user_version = 5;", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(edge_anomaly_reader_open(test_db_path, &r), EDGE_ESCHEMA);
	/* Not a database. */
	fp = fopen(test_db_path, "w");
	ck_assert_ptr_nonnull(fp);
	for (int i = 0; i < 512; i++)
		fputs("garbage!", fp);
	fclose(fp);
	ck_assert_int_eq(edge_anomaly_reader_open(test_db_path, &r), EDGE_ECORRUPT);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(edge_anomaly_reader_open(NULL, &r), -EINVAL);
}
END_TEST

static Suite *query_suite(void)
{
	Suite *s = suite_create("anomaly-query");
	TCase *tc = tcase_create("query");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, list_pages_are_the_full_set_in_order);
	tcase_add_test(tc, emit_stops_the_call_and_the_cursor_stays);
	tcase_add_test(tc, list_plans_use_the_time_indexes_without_a_sort);
	tcase_add_test(tc, budget_and_interrupt);
	tcase_add_test(tc, stats_by_each_grouping_equal_the_raw_rows);
	tcase_add_test(tc, stats_empty_buckets_and_limits);
	tcase_add_test(tc, episodes_listing_and_open_only);
	tcase_add_test(tc, device_summary_matches_the_tables);
	tcase_add_test(tc, open_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(query_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
