/* The anomaly tests' random history: reports over four devices, two epochs,
 * three labels and two models, with duplicates and overlaps, ingested many
 * to a store op. Header-only: include it from one file of a suite. */
#ifndef ANOMALY_HISTORY_FIXTURE_H
#define ANOMALY_HISTORY_FIXTURE_H

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "edge_anomaly.h"
#include "edge_store.h"
#include "report_fixture.h"
#include "test_db_fixture.h"

#define RECV0 1767225600000LL /* 2026-01-01T00:00Z */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)(((rng_state * 0x2545f4914f6cdd1dULL) >> 33) % n);
}

static const char *const devices[] = { "node-a", "node-b", "node-c", "node-d" };
static const char *const labels[] = { "vibration", "temp", "current" };
static const char *const model_names[] = { "vib-ae", "gbt" };

/* ---- reading the database inside an op (a store op: the writer's view) */

typedef void (*db_check_fn)(sqlite3 *db, void *ud);
struct db_call {
	db_check_fn fn;
	void *ud;
};

static inline int db_fn(edge_store_conn *conn, void *ud)
{
	struct db_call *c = ud;

	c->fn(edge_store_conn_db(conn), c->ud);
	return 0;
}

static inline void with_db(edge_store *st, db_check_fn fn, void *ud)
{
	struct db_call c = { fn, ud };

	ck_assert_int_eq(edge_store_read(st, db_fn, &c), 0);
}

/* The first column of sql's one row. */
static inline int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static edge_store *open_store(void)
{
	edge_store *st = NULL;

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	return st;
}

/* ---- ingest of many reports in one op ---- */

struct job {
	const char *device;
	struct edge_msg_report r;
	int64_t received_ms;
	struct edge_anomaly_result res;
};

struct batch {
	struct job *jobs;
	size_t n;
};

static int batch_fn(edge_store_conn *conn, void *ud)
{
	struct batch *b = ud;

	for (size_t i = 0; i < b->n; i++) {
		int rc = edge_anomaly_ingest(conn, b->jobs[i].device, &b->jobs[i].r,
					     b->jobs[i].received_ms, NULL, &b->jobs[i].res);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static void run_jobs(edge_store *st, struct job *jobs, size_t n)
{
	struct batch b = { jobs, n };

	ck_assert_int_eq(edge_store_read(st, batch_fn, &b), 0);
}

/* An event at ts with a random label, model and score. */
static struct edge_report_event event_at(uint32_t seq, int64_t ts)
{
	struct edge_report_event ev = fixture_event(seq);

	ev.has_ts = true;
	ev.ts_ms = (uint64_t)ts;
	ev.score = (double)rnd(100000) / 1000.0 - 10; /* -10 .. 90, some negative */
	if (rnd(20) == 0)
		ev.score = 0;
	snprintf(ev.label, sizeof ev.label, "%s", labels[rnd(3)]);
	snprintf(ev.model_name, sizeof ev.model_name, "%s", model_names[rnd(2)]);
	return ev;
}

/* n reports over devices, epochs 1..2, times in [t0, t0 + span), received at
 * recv; about one in five repeats an earlier report whole (duplicates) and
 * some overlap the previous one. */
static struct job *random_jobs(size_t n, int64_t t0, int64_t span, int64_t recv)
{
	struct job *jobs = calloc(n, sizeof *jobs);
	uint32_t next[4][2];

	ck_assert_ptr_nonnull(jobs);
	for (int d = 0; d < 4; d++)
		next[d][0] = next[d][1] = 1;
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];

		if (i > 0 && rnd(5) == 0) {
			*j = jobs[rnd((uint32_t)i)];
			j->res = (struct edge_anomaly_result){ 0 };
			continue;
		}
		unsigned d = rnd(4), e = rnd(2);
		uint32_t first = next[d][e], k = 1 + rnd(32);

		if (first > 3 && rnd(4) == 0)
			first -= 3; /* overlaps the last report */
		j->device = devices[d];
		j->received_ms = recv;
		j->r.epoch = e + 1;
		j->r.oldest = 1;
		j->r.n_events = (uint8_t)k;
		for (uint32_t s = 0; s < k; s++) {
			int64_t ts = t0 + (int64_t)rnd((uint32_t)(span / 1000)) * 1000;

			j->r.events[s] = event_at(first + s, ts);
		}
		if (first + k > next[d][e])
			next[d][e] = first + k;
	}
	return jobs;
}

#endif
