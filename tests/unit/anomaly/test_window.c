/* Suite 'anomaly' (window): a device's anomaly counts in a time window, the
 * input of a rollout stage's health check. Events of two devices under an
 * old and a new model at known times, ingested through lib/anomaly: exact
 * events and episodes for the window bounds (since inclusive, until
 * exclusive), the model equal / not equal / any, two devices summed, the
 * scores' sketch; one device's window reads its own rows only; the row
 * budget; argument errors. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_anomaly.h"
#include "edge_anomaly_query.h"
#include "edge_score_sketch.h"
#include "edge_store.h"
#include "report_fixture.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define T0 1767225600000LL /* 2026-01-01T00:00Z */
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define RECV (T0 + 5 * HOUR)

#define OLD "vib-ae@2.1.0"
#define NEW "vib-ae@3.0.0"

/* One event of a scripted history. */
struct ev {
	int64_t ts;
	bool new_model;
	const char *label;
	double score;
};

/* Episodes (quiet 300 s, a model change opens a new one), by start:
 * a1 T0 old, a2 T0+1h old (temp), a3 T0+2h new, a4 T0+3h new. */
static const struct ev node_a[] = {
	{ T0, false, "vibration", 1.0 },
	{ T0 + 10 * SEC, false, "vibration", 2.0 },
	{ T0 + HOUR, false, "temp", -1.0 },
	{ T0 + 2 * HOUR, true, "vibration", 4.0 },
	{ T0 + 2 * HOUR + 10 * SEC, true, "vibration", 0.0 },
	{ T0 + 3 * HOUR, true, "vibration", 6.0 },
};
/* b1 T0+30m old, b2 T0+2h new (temp), b3 T0+2h30m new (temp, after the
 * quiet), b4 T0+3h-1ms old (vibration again, long after b1). */
static const struct ev node_b[] = {
	{ T0 + 30 * MIN, false, "vibration", 3.0 },
	{ T0 + 2 * HOUR, true, "temp", 8.0 },
	{ T0 + 2 * HOUR + 30 * MIN, true, "temp", 9.0 },
	{ T0 + 3 * HOUR - 1, false, "vibration", 10.0 },
};

#define BULK_REPORTS 20 /* node-c: 20 x 32 events, new model, in [T0+2h, T0+3h) */

struct ingest {
	const char *device;
	struct edge_msg_report rep;
};

static int ingest_fn(edge_store_conn *conn, void *ud)
{
	struct ingest *in = ud;
	struct edge_anomaly_result res;

	return edge_anomaly_ingest(conn, in->device, &in->rep, RECV, NULL, &res);
}

static void ingest(edge_store *st, const char *device, uint32_t first_seq,
		   const struct ev *evs, size_t n)
{
	struct ingest in = { .device = device };

	ck_assert_uint_le(n, EDGE_REPORT_MAX_EVENTS);
	in.rep.epoch = 1;
	in.rep.oldest = first_seq;
	in.rep.n_events = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		struct edge_report_event *e = &in.rep.events[i];

		*e = fixture_event(first_seq + (uint32_t)i);
		e->has_ts = true;
		e->ts_ms = (uint64_t)evs[i].ts;
		e->score = evs[i].score;
		snprintf(e->label, sizeof e->label, "%s", evs[i].label);
		if (evs[i].new_model)
			snprintf(e->model_version, sizeof e->model_version, "3.0.0");
	}
	ck_assert_int_eq(edge_store_read(st, ingest_fn, &in), 0);
}

/* The scripted history, node-c's bulk and a reader over it. */
static edge_anomaly_reader *history(edge_store **st_out)
{
	struct ev bulk[EDGE_REPORT_MAX_EVENTS];
	edge_anomaly_reader *r = NULL;
	edge_store *st = NULL;

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ingest(st, "node-a", 1, node_a, sizeof node_a / sizeof node_a[0]);
	ingest(st, "node-b", 1, node_b, sizeof node_b / sizeof node_b[0]);
	for (uint32_t k = 0; k < BULK_REPORTS; k++) {
		for (uint32_t i = 0; i < EDGE_REPORT_MAX_EVENTS; i++) {
			uint32_t j = k * EDGE_REPORT_MAX_EVENTS + i;

			bulk[i] = (struct ev){ T0 + 2 * HOUR + j * SEC, true, "vibration",
					       0.5 + j % 7 };
		}
		ingest(st, "node-c", 1 + k * EDGE_REPORT_MAX_EVENTS, bulk, EDGE_REPORT_MAX_EVENTS);
	}
	ck_assert_int_eq(edge_anomaly_reader_open(test_db_path, &r), 0);
	*st_out = st;
	return r;
}

static struct edge_anomaly_window *window_new(void)
{
	struct edge_anomaly_window *w = malloc(sizeof *w);

	ck_assert_ptr_nonnull(w);
	memset(w, 0xa5, sizeof *w); /* init must clear whatever was there */
	edge_anomaly_window_init(w);
	return w;
}

/* A fresh window of one device: its events and episodes. */
static void expect(edge_anomaly_reader *r, const char *device, int64_t since, int64_t until,
		   const char *model, bool equal, uint64_t events, uint64_t episodes)
{
	struct edge_anomaly_window *w = window_new();

	ck_assert_int_eq(edge_anomaly_window_add(r, device, since, until, model, equal, w), 0);
	ck_assert_msg(w->events == events && w->episodes == episodes,
		      "%s [%lld, %lld) %s%s: %llu events, %llu episodes; want %llu, %llu",
		      device, (long long)(since - T0), (long long)(until - T0), equal ? "" : "!",
		      model ? model : "any", (unsigned long long)w->events,
		      (unsigned long long)w->episodes, (unsigned long long)events,
		      (unsigned long long)episodes);
	ck_assert_uint_eq(w->scores.count, events);
	free(w);
}

START_TEST(window_bounds_and_model)
{
	edge_store *st;
	edge_anomaly_reader *r = history(&st);

	/* The whole history: any model, the new one, every other one. */
	expect(r, "node-a", T0, T0 + 4 * HOUR, NULL, false, 6, 4);
	expect(r, "node-a", T0, T0 + 4 * HOUR, NULL, true, 6, 4);
	expect(r, "node-a", T0, T0 + 4 * HOUR, NEW, true, 3, 2);
	expect(r, "node-a", T0, T0 + 4 * HOUR, NEW, false, 3, 2);
	expect(r, "node-a", T0, T0 + 4 * HOUR, OLD, true, 3, 2);
	expect(r, "node-b", T0, T0 + 4 * HOUR, NEW, true, 2, 2);
	expect(r, "node-b", T0, T0 + 4 * HOUR, NEW, false, 2, 2);
	/* A model nobody ran: nothing equal, everything not equal. */
	expect(r, "node-a", T0, T0 + 4 * HOUR, "vib-ae@9", true, 0, 0);
	expect(r, "node-a", T0, T0 + 4 * HOUR, "vib-ae@9", false, 6, 4);
	/* since inclusive: T0+2h counts, one ms later it does not (a3 starts
	 * there, so its episode goes with it; its second event stays). */
	expect(r, "node-a", T0 + 2 * HOUR, T0 + 3 * HOUR, NULL, false, 2, 1);
	expect(r, "node-a", T0 + 2 * HOUR + 1, T0 + 3 * HOUR, NULL, false, 1, 0);
	/* until exclusive: the event and episode at T0+3h only one ms later. */
	expect(r, "node-a", T0 + 2 * HOUR, T0 + 3 * HOUR + 1, NULL, false, 3, 2);
	expect(r, "node-a", T0 + 2 * HOUR, T0 + 3 * HOUR + 1, NEW, true, 3, 2);
	/* node-b's old-model event at T0+3h-1ms is inside [.., T0+3h). */
	expect(r, "node-b", T0 + 2 * HOUR, T0 + 3 * HOUR, NULL, false, 3, 3);
	expect(r, "node-b", T0 + 2 * HOUR, T0 + 3 * HOUR, NEW, false, 1, 1);
	expect(r, "node-b", T0 + 2 * HOUR, T0 + 3 * HOUR - 1, NEW, false, 0, 0);
	/* A one-ms window, and one before any history. */
	expect(r, "node-a", T0 + HOUR, T0 + HOUR + 1, NULL, false, 1, 1);
	expect(r, "node-a", T0 - 4 * HOUR, T0, NULL, false, 0, 0);
	/* A device with no history is all zero, not an error. */
	expect(r, "node-zz", T0, T0 + 4 * HOUR, NULL, false, 0, 0);
	expect(r, "node-c", T0 + 2 * HOUR, T0 + 3 * HOUR, NEW, true,
	       BULK_REPORTS * EDGE_REPORT_MAX_EVENTS, 1);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
}
END_TEST

START_TEST(window_sums_devices_and_sketches_scores)
{
	struct edge_anomaly_window *w = window_new(), *rest = window_new();
	edge_store *st;
	edge_anomaly_reader *r = history(&st);

	ck_assert_uint_eq(w->events + w->episodes + w->scores.count, 0);
	/* A stage of node-a and node-b under the new model: scores 4, 0, 6, 8, 9. */
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0 + 4 * HOUR, NEW, true, w), 0);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-b", T0, T0 + 4 * HOUR, NEW, true, w), 0);
	ck_assert_uint_eq(w->events, 5);
	ck_assert_uint_eq(w->episodes, 4);
	ck_assert_uint_eq(w->scores.count, 5);
	ck_assert_uint_eq(w->scores.zero, 1);
	ck_assert(fabs(edge_score_sketch_quantile(&w->scores, 0.5) - 6.0) <= 0.01 * 6.0);
	ck_assert(fabs(edge_score_sketch_quantile(&w->scores, 1.0) - 9.0) <= 0.01 * 9.0);
	ck_assert(edge_score_sketch_quantile(&w->scores, 0.0) == 0);
	/* Their history under anything else: 1, 2, -1 and 3, 10. */
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0 + 4 * HOUR, NEW, false, rest),
			 0);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-b", T0, T0 + 4 * HOUR, NEW, false, rest),
			 0);
	ck_assert_uint_eq(rest->events, 5);
	ck_assert_uint_eq(rest->episodes, 4);
	ck_assert_uint_eq(rest->scores.count, 5);
	ck_assert_uint_eq(rest->scores.neg.len, 1);
	ck_assert(fabs(edge_score_sketch_quantile(&rest->scores, 0.0) + 1.0) <= 0.01);
	ck_assert(fabs(edge_score_sketch_quantile(&rest->scores, 0.5) - 2.0) <= 0.01 * 2.0);
	ck_assert(fabs(edge_score_sketch_quantile(&rest->scores, 1.0) - 10.0) <= 0.01 * 10.0);
	/* The sketch gives the KS test its bins: strictly increasing. */
	{
		double v[8];
		uint64_t c[8], sum = 0;
		size_t n = edge_score_sketch_bins_out(&rest->scores, v, c, 8);

		ck_assert_uint_eq(n, 5);
		for (size_t i = 0; i < n; i++) {
			ck_assert(i == 0 || v[i] > v[i - 1]);
			sum += c[i];
		}
		ck_assert_uint_eq(sum, 5);
	}
	/* Init empties a used window. */
	edge_anomaly_window_init(w);
	ck_assert_uint_eq(w->events + w->episodes + w->scores.count, 0);
	ck_assert(edge_score_sketch_quantile(&w->scores, 0.5) == 0);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(w);
	free(rest);
}
END_TEST

START_TEST(window_reads_the_device_rows_within_the_budget)
{
	struct edge_anomaly_window *w = window_new();
	struct edge_anomaly_query_cost cost;
	edge_store *st;
	edge_anomaly_reader *r = history(&st);

	/* node-a's window beside node-c's 640 rows in the same hours: its own
	 * handful of rows (a table scan would count hundreds). The count is
	 * taken every 125 rows, so a few rows read show as 0. */
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0 + 4 * HOUR, NEW, false, w), 0);
	edge_anomaly_reader_last_cost(r, &cost);
	ck_assert_uint_lt(cost.rows_examined, 125);
	edge_anomaly_window_init(w);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-c", T0, T0 + 4 * HOUR, NULL, false, w), 0);
	ck_assert_uint_eq(w->events, BULK_REPORTS * EDGE_REPORT_MAX_EVENTS);
	edge_anomaly_reader_last_cost(r, &cost);
	ck_assert_uint_ge(cost.rows_examined, 250);
	/* A budget of 100 rows: node-c's 640 stop it; the partial window is
	 * the caller's to discard. */
	edge_anomaly_reader_set_budget(r, 100, 10000);
	edge_anomaly_window_init(w);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-c", T0, T0 + 4 * HOUR, NULL, false, w),
			 EDGE_ELIMIT);
	ck_assert_uint_lt(w->events, BULK_REPORTS * EDGE_REPORT_MAX_EVENTS);
	/* node-a's few rows fit it. */
	edge_anomaly_window_init(w);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0 + 4 * HOUR, NULL, false, w), 0);
	ck_assert_uint_eq(w->events, 6);
	/* A time budget of 0 ms stops at the first check. */
	edge_anomaly_reader_set_budget(r, UINT64_MAX, 0);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-c", T0, T0 + 4 * HOUR, NULL, false, w),
			 EDGE_ELIMIT);
	/* The default budget again: the reader is usable after a stop. */
	edge_anomaly_reader_set_budget(r, 2000000, 10000);
	edge_anomaly_window_init(w);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-c", T0, T0 + 4 * HOUR, NULL, false, w), 0);
	ck_assert_uint_eq(w->events, BULK_REPORTS * EDGE_REPORT_MAX_EVENTS);
	ck_assert_uint_eq(w->episodes, 1);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(w);
}
END_TEST

START_TEST(window_refuses_bad_arguments)
{
	struct edge_anomaly_window *w = window_new();
	edge_store *st;
	edge_anomaly_reader *r = history(&st);

	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0, NULL, false, w), -EINVAL);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0 + 1, T0, NULL, false, w),
			 -EINVAL);
	ck_assert_int_eq(edge_anomaly_window_add(NULL, "node-a", T0, T0 + 1, NULL, false, w),
			 -EINVAL);
	ck_assert_int_eq(edge_anomaly_window_add(r, NULL, T0, T0 + 1, NULL, false, w), -EINVAL);
	ck_assert_int_eq(edge_anomaly_window_add(r, "", T0, T0 + 1, NULL, false, w), -EINVAL);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0 + 1, "", true, w), -EINVAL);
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-a", T0, T0 + 1, NULL, false, NULL),
			 -EINVAL);
	/* Refused calls leave the window alone. */
	ck_assert_uint_eq(w->events + w->episodes + w->scores.count, 0);
	/* The widest range is fine. */
	ck_assert_int_eq(edge_anomaly_window_add(r, "node-b", INT64_MIN, INT64_MAX, NULL, false, w),
			 0);
	ck_assert_uint_eq(w->events, 4);
	ck_assert_uint_eq(w->episodes, 4);
	edge_anomaly_window_init(NULL);
	edge_anomaly_reader_close(r);
	edge_store_close(st);
	free(w);
}
END_TEST

static Suite *window_suite(void)
{
	Suite *s = suite_create("anomaly-window");
	TCase *tc = tcase_create("window");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, window_bounds_and_model);
	tcase_add_test(tc, window_sums_devices_and_sketches_scores);
	tcase_add_test(tc, window_reads_the_device_rows_within_the_budget);
	tcase_add_test(tc, window_refuses_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(window_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
