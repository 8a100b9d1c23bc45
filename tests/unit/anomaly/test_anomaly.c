/* Suite 'anomaly': the ingest over a real store file and the real writer
 * thread: each event stored once and duplicates acked again, the ack's
 * acked and sack from what is stored, gaps below oldest counted once, epochs
 * and devices independent, the time placement, a failing op rolled back
 * whole within a group commit, an ack that does not scan the history, and
 * the grouping of events into episodes and their close sweep. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_anomaly.h"
#include "edge_store.h"
#include "report_fixture.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define RECV0 1767225600000LL /* an arbitrary wall-clock origin, ms */

/* ---- reports ---- */


/* A report of epoch with events seqs[0..n), each as fixture_event(). */
static struct edge_msg_report report(uint32_t epoch, uint32_t oldest, const uint32_t *seqs,
				     unsigned n)
{
	struct edge_msg_report r;

	ck_assert_uint_le(n, EDGE_REPORT_MAX_EVENTS);
	memset(&r, 0, sizeof r);
	r.epoch = epoch;
	r.oldest = oldest;
	r.n_events = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		r.events[i] = fixture_event(seqs[i]);
	return r;
}

/* Seqs first..last (at most 32). */
static struct edge_msg_report report_range(uint32_t epoch, uint32_t oldest, uint32_t first,
					   uint32_t last)
{
	uint32_t seqs[EDGE_REPORT_MAX_EVENTS];
	unsigned n = 0;

	for (uint32_t s = first; s <= last; s++)
		seqs[n++] = s;
	return report(epoch, oldest, seqs, n);
}

/* ---- store ops ---- */

static edge_store *open_store(void)
{
	edge_store *st = NULL;

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	return st;
}

struct ingest_call {
	const char *device;
	const struct edge_msg_report *r;
	int64_t received_ms;
	const struct edge_anomaly_episode_settings *ep; /* NULL: the defaults */
	struct edge_anomaly_result res;
	int fail_after;   /* != 0: the op returns this after a successful ingest */
	int rc;           /* the ingest's own result */
	int done_rc;      /* the completion's */
	bool done;
};

static int ingest_fn(edge_store_conn *conn, void *ud)
{
	struct ingest_call *c = ud;

	c->rc = edge_anomaly_ingest(conn, c->device, c->r, c->received_ms, c->ep, &c->res);
	if (c->rc == 0 && c->fail_after)
		return c->fail_after;
	return c->rc;
}

static void ingest_done(int result, void *ud)
{
	struct ingest_call *c = ud;

	c->done = true;
	c->done_rc = result;
}

/* One ingest in its own transaction (edge_store_read); must succeed. */
static struct edge_anomaly_result ingest(edge_store *st, const char *device,
					 const struct edge_msg_report *r, int64_t received_ms)
{
	struct ingest_call c = { .device = device, .r = r, .received_ms = received_ms };

	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_uint_eq(c.res.ack.epoch, r->epoch);
	ck_assert_uint_eq(c.res.stored + c.res.duplicates, r->n_events);
	return c.res;
}

static int ingest_rc(edge_store *st, const char *device, const struct edge_msg_report *r)
{
	struct ingest_call c = { .device = device, .r = r, .received_ms = RECV0 };
	int rc = edge_store_read(st, ingest_fn, &c);

	ck_assert_int_eq(rc, c.rc);
	return rc;
}

struct read_call {
	const char *device;
	uint32_t epoch, seq;
	int rc;
	uint64_t count;
	struct edge_anomaly_stream stream;
	struct edge_msg_ack ack;
	struct edge_anomaly_event ev;
};

static int count_fn(edge_store_conn *conn, void *ud)
{
	struct read_call *c = ud;

	c->rc = edge_anomaly_count(conn, c->device, &c->count);
	return 0;
}

static uint64_t count(edge_store *st, const char *device)
{
	struct read_call c = { .device = device };

	ck_assert_int_eq(edge_store_read(st, count_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	return c.count;
}

static int stream_fn(edge_store_conn *conn, void *ud)
{
	struct read_call *c = ud;

	c->rc = edge_anomaly_stream_get(conn, c->device, c->epoch, &c->stream);
	return 0;
}

/* The stream row; *rc gets the helper's result (0 or EDGE_ENOTFOUND). */
static struct edge_anomaly_stream stream(edge_store *st, const char *device, uint32_t epoch,
					 int *rc)
{
	struct read_call c = { .device = device, .epoch = epoch };

	ck_assert_int_eq(edge_store_read(st, stream_fn, &c), 0);
	*rc = c.rc;
	return c.stream;
}

static int ack_fn(edge_store_conn *conn, void *ud)
{
	struct read_call *c = ud;

	c->rc = edge_anomaly_ack_get(conn, c->device, c->epoch, &c->ack);
	return 0;
}

static struct edge_msg_ack ack_now(edge_store *st, const char *device, uint32_t epoch)
{
	struct read_call c = { .device = device, .epoch = epoch };

	ck_assert_int_eq(edge_store_read(st, ack_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	return c.ack;
}

static int event_fn(edge_store_conn *conn, void *ud)
{
	struct read_call *c = ud;

	c->rc = edge_anomaly_event_get(conn, c->device, c->epoch, c->seq, NULL, &c->ev);
	return 0;
}

static struct edge_anomaly_event stored_event(edge_store *st, const char *device,
					      uint32_t epoch, uint32_t seq)
{
	struct read_call c = { .device = device, .epoch = epoch, .seq = seq };

	ck_assert_int_eq(edge_store_read(st, event_fn, &c), 0);
	ck_assert_msg(c.rc == 0, "event %s/%u/%u: %s", device, epoch, seq, edge_strerror(c.rc));
	return c.ev;
}

static void assert_ack(struct edge_msg_ack a, uint32_t epoch, uint32_t acked, uint64_t sack)
{
	ck_assert_uint_eq(a.epoch, epoch);
	ck_assert_uint_eq(a.acked, acked);
	ck_assert_msg(a.sack == sack, "sack %016llx, expected %016llx",
		      (unsigned long long)a.sack, (unsigned long long)sack);
}

/* ---- tests ---- */

START_TEST(report_stored_once_replay_is_duplicate)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(17, 1, 1, 5);
	struct edge_anomaly_result a, b;
	struct edge_anomaly_stream s;
	int rc;

	a = ingest(st, "node-01", &r, RECV0);
	ck_assert_uint_eq(a.stored, 5);
	ck_assert_uint_eq(a.duplicates, 0);
	ck_assert_uint_eq(a.new_gaps, 0);
	assert_ack(a.ack, 17, 5, 0);

	/* The same report again (its ack was lost): stored once, acked again. */
	b = ingest(st, "node-01", &r, RECV0 + 5000);
	ck_assert_uint_eq(b.stored, 0);
	ck_assert_uint_eq(b.duplicates, 5);
	assert_ack(b.ack, a.ack.epoch, a.ack.acked, a.ack.sack);
	ck_assert_uint_eq(count(st, "node-01"), 5);
	ck_assert_uint_eq(count(st, NULL), 5);

	s = stream(st, "node-01", 17, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(s.acked, 5);
	ck_assert_uint_eq(s.oldest, 1);
	ck_assert_uint_eq(s.gaps, 0);
	ck_assert_uint_eq(s.events, 5);
	ck_assert_int_eq(s.updated_ms, RECV0 + 5000);
	assert_ack(ack_now(st, "node-01", 17), 17, 5, 0);

	/* The duplicate kept the first copy's placement. */
	ck_assert_int_eq(stored_event(st, "node-01", 17, 3).received_ms, RECV0);

	/* Survives a reopen: the rows were committed. */
	edge_store_close(st);
	st = open_store();
	ck_assert_uint_eq(count(st, "node-01"), 5);
	b = ingest(st, "node-01", &r, RECV0 + 9000);
	ck_assert_uint_eq(b.duplicates, 5);
	assert_ack(b.ack, 17, 5, 0);
	edge_store_close(st);
}
END_TEST

START_TEST(out_of_order_reports_set_sack_bits)
{
	edge_store *st = open_store();
	const uint32_t late[] = { 4, 6 };
	const uint32_t three[] = { 3 };
	const uint32_t five[] = { 5 };
	struct edge_msg_report r;
	struct edge_anomaly_result a;

	r = report_range(9, 1, 1, 2);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 9, 2, 0);
	/* 3 and 5 lost on the way; the node still holds them (oldest 3). */
	r = report(9, 3, late, 2);
	a = ingest(st, "n", &r, RECV0);
	assert_ack(a.ack, 9, 2, (1u << 1) | (1u << 3)); /* seqs 4 and 6 */
	ck_assert_uint_eq(a.new_gaps, 0);
	r = report(9, 3, three, 1);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 9, 4, 1u << 1); /* 6 */
	r = report(9, 5, five, 1);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 9, 6, 0);
	ck_assert_uint_eq(count(st, "n"), 6);
	edge_store_close(st);
}
END_TEST

START_TEST(sack_covers_exactly_64_seqs)
{
	edge_store *st = open_store();
	const uint32_t far[] = { 65, 66 };
	const uint32_t edge[] = { 2 };
	struct edge_msg_report r;

	r = report_range(1, 1, 1, 1);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 1, 1, 0);
	/* seq 65 = acked + 1 + 63: the top bit; 66 is beyond the bitmap. */
	r = report(1, 2, far, 2);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 1, 1, UINT64_C(1) << 63);
	assert_ack(ack_now(st, "n", 1), 1, 1, UINT64_C(1) << 63);
	r = report(1, 2, edge, 1);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 1, 2, UINT64_C(3) << 62); /* 65, 66 */
	edge_store_close(st);
}
END_TEST

START_TEST(oldest_past_a_missing_seq_counts_one_gap)
{
	edge_store *st = open_store();
	const uint32_t after[] = { 4, 5 };
	const uint32_t three[] = { 3 };
	struct edge_msg_report r;
	struct edge_anomaly_result a;
	struct edge_anomaly_stream s;
	int rc;

	r = report_range(3, 1, 1, 2);
	ingest(st, "n", &r, RECV0);
	/* The node dropped 3 before it arrived: oldest 4 gives it up. */
	r = report(3, 4, after, 2);
	a = ingest(st, "n", &r, RECV0);
	assert_ack(a.ack, 3, 5, 0);
	ck_assert_uint_eq(a.new_gaps, 1);
	/* Replayed: the gap is not counted again. */
	a = ingest(st, "n", &r, RECV0);
	assert_ack(a.ack, 3, 5, 0);
	ck_assert_uint_eq(a.new_gaps, 0);
	ck_assert_uint_eq(a.duplicates, 2);
	s = stream(st, "n", 3, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(s.gaps, 1);
	ck_assert_uint_eq(s.oldest, 4);
	ck_assert_uint_eq(s.events, 4);

	/* A lower oldest later does not move the stream's back. */
	r = report_range(3, 2, 6, 6);
	a = ingest(st, "n", &r, RECV0);
	assert_ack(a.ack, 3, 6, 0);
	ck_assert_uint_eq(stream(st, "n", 3, &rc).oldest, 4);

	/* The given-up seq arrives after all: kept, and no longer a gap. */
	r = report(3, 3, three, 1);
	a = ingest(st, "n", &r, RECV0);
	ck_assert_uint_eq(a.stored, 1);
	assert_ack(a.ack, 3, 6, 0);
	s = stream(st, "n", 3, &rc);
	ck_assert_uint_eq(s.gaps, 0);
	ck_assert_uint_eq(s.events, 6);
	edge_store_close(st);
}
END_TEST

START_TEST(gaps_among_stored_out_of_order_events)
{
	edge_store *st = open_store();
	const uint32_t five[] = { 5 };
	const uint32_t eight[] = { 8 };
	const uint32_t seven[] = { 7 };
	struct edge_msg_report r;
	struct edge_anomaly_result a;
	int rc;

	r = report_range(2, 1, 1, 1);
	ingest(st, "n", &r, RECV0);
	r = report(2, 2, five, 1);
	assert_ack(ingest(st, "n", &r, RECV0).ack, 2, 1, 1u << 3);
	/* Dropped 2, 3, 4 and 6 (5 is stored): oldest 7. */
	r = report(2, 7, eight, 1);
	a = ingest(st, "n", &r, RECV0);
	ck_assert_uint_eq(a.new_gaps, 4);
	assert_ack(a.ack, 2, 6, 1u << 1); /* 7 missing, 8 stored */
	r = report(2, 7, seven, 1);
	a = ingest(st, "n", &r, RECV0);
	ck_assert_uint_eq(a.new_gaps, 0);
	assert_ack(a.ack, 2, 8, 0);
	ck_assert_uint_eq(stream(st, "n", 2, &rc).gaps, 4);
	edge_store_close(st);
}
END_TEST

START_TEST(seq_range_ends_at_uint32_max)
{
	edge_store *st = open_store();
	const uint32_t last[] = { UINT32_MAX };
	struct edge_msg_report r;
	struct edge_anomaly_result a;

	r = report_range(5, 1, 1, 1);
	ingest(st, "n", &r, RECV0);
	r = report(5, UINT32_MAX, last, 1);
	a = ingest(st, "n", &r, RECV0);
	assert_ack(a.ack, 5, UINT32_MAX, 0);
	ck_assert_uint_eq(a.new_gaps, UINT32_MAX - 2);
	a = ingest(st, "n", &r, RECV0);
	assert_ack(a.ack, 5, UINT32_MAX, 0);
	ck_assert_uint_eq(a.duplicates, 1);
	edge_store_close(st);
}
END_TEST

START_TEST(epochs_and_devices_are_independent)
{
	edge_store *st = open_store();
	struct edge_msg_report r;
	int rc;

	r = report_range(1, 1, 1, 3);
	assert_ack(ingest(st, "a", &r, RECV0).ack, 1, 3, 0);
	/* A reboot: a new epoch starts at seq 1 again. */
	r = report_range(2, 1, 1, 1);
	assert_ack(ingest(st, "a", &r, RECV0).ack, 2, 1, 0);
	/* Another device with the same epoch and seqs. */
	r = report_range(1, 1, 2, 2);
	assert_ack(ingest(st, "b", &r, RECV0).ack, 1, 0, 1u << 1); /* 1 missing, 2 stored */
	assert_ack(ack_now(st, "a", 1), 1, 3, 0);
	assert_ack(ack_now(st, "a", 2), 2, 1, 0);
	assert_ack(ack_now(st, "a", 3), 3, 0, 0); /* nothing of it yet */
	ck_assert_uint_eq(count(st, "a"), 4);
	ck_assert_uint_eq(count(st, "b"), 1);
	ck_assert_uint_eq(count(st, "c"), 0);
	ck_assert_uint_eq(count(st, NULL), 5);
	ck_assert_uint_eq(stream(st, "a", 1, &rc).events, 3);
	ck_assert_uint_eq(stream(st, "a", 2, &rc).events, 1);
	stream(st, "a", 3, &rc);
	ck_assert_int_eq(rc, EDGE_ENOTFOUND);
	edge_store_close(st);
}
END_TEST

START_TEST(time_placement)
{
	edge_store *st = open_store();
	const int64_t past = EDGE_ANOMALY_TS_PAST_MS, future = EDGE_ANOMALY_TS_FUTURE_MS;
	struct edge_msg_report r = report_range(1, 1, 1, 7);
	struct edge_anomaly_result a;
	struct edge_anomaly_event ev;

	/* 1: age. 2..7: own clock, at and beyond each end of the window. */
	r.events[0].age_ms = 1500;
	for (unsigned i = 1; i < 7; i++)
		r.events[i].has_ts = true;
	r.events[1].ts_ms = (uint64_t)(RECV0 - 60000);
	r.events[2].ts_ms = (uint64_t)(RECV0 - past);
	r.events[3].ts_ms = (uint64_t)(RECV0 - past - 1);
	r.events[4].ts_ms = (uint64_t)(RECV0 + future);
	r.events[5].ts_ms = (uint64_t)(RECV0 + future + 1);
	r.events[6].ts_ms = 0;
	a = ingest(st, "n", &r, RECV0);
	ck_assert_uint_eq(a.implausible_time, 3);

	ev = stored_event(st, "n", 1, 1);
	ck_assert_str_eq(ev.time_source, "age");
	ck_assert_int_eq(ev.ts_ms, RECV0 - 1500);
	ck_assert_int_eq(ev.received_ms, RECV0);
	ev = stored_event(st, "n", 1, 2);
	ck_assert_str_eq(ev.time_source, "clock");
	ck_assert_int_eq(ev.ts_ms, RECV0 - 60000);
	ev = stored_event(st, "n", 1, 3);
	ck_assert_str_eq(ev.time_source, "clock");
	ck_assert_int_eq(ev.ts_ms, RECV0 - past);
	ev = stored_event(st, "n", 1, 4);
	ck_assert_str_eq(ev.time_source, "received");
	ck_assert_int_eq(ev.ts_ms, RECV0);
	ev = stored_event(st, "n", 1, 5);
	ck_assert_str_eq(ev.time_source, "clock");
	ck_assert_int_eq(ev.ts_ms, RECV0 + future);
	ev = stored_event(st, "n", 1, 6);
	ck_assert_str_eq(ev.time_source, "received");
	ck_assert_int_eq(ev.ts_ms, RECV0);
	ev = stored_event(st, "n", 1, 7);
	ck_assert_str_eq(ev.time_source, "received");

	/* A duplicate is not placed (nor counted) again. */
	a = ingest(st, "n", &r, RECV0 + 1000);
	ck_assert_uint_eq(a.implausible_time, 0);
	edge_store_close(st);
}
END_TEST

START_TEST(event_fields_stored)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(4, 1, 1, 2);
	struct edge_anomaly_event ev;

	r.events[0].has_severity = true;
	r.events[0].severity = 4;
	r.events[0].n_summary = 4;
	r.events[0].summary[0] = 0.12f;
	r.events[0].summary[1] = 1.5f;
	r.events[0].summary[2] = -2.0f;
	r.events[0].summary[3] = 1e9f;
	r.events[1].has_sha256 = true;
	memset(r.events[1].model_sha256, 'f', EDGE_MSG_SHA256_HEX);
	r.events[1].score = 12.5;
	r.events[1].threshold = -1e9;
	snprintf(r.events[1].label, sizeof r.events[1].label, "keyword.stop");
	ingest(st, "node-01", &r, RECV0);

	ev = stored_event(st, "node-01", 4, 1);
	ck_assert_str_eq(ev.model, "vib-ae@2.1.0");
	ck_assert(ev.score == 0.8731);
	ck_assert(ev.threshold == 0.65);
	ck_assert_str_eq(ev.label, "vibration");
	ck_assert(ev.has_severity);
	ck_assert_uint_eq(ev.severity, 4);
	ck_assert(ev.has_summary);
	ck_assert_str_eq(ev.summary, "[0.12,1.5,-2,1e+09]");

	ev = stored_event(st, "node-01", 4, 2);
	ck_assert_uint_eq(strlen(ev.model), EDGE_MSG_SHA256_HEX);
	ck_assert_int_eq(ev.model[0], 'f');
	ck_assert(ev.score == 12.5);
	ck_assert(ev.threshold == -1e9);
	ck_assert_str_eq(ev.label, "keyword.stop");
	ck_assert(!ev.has_severity);
	ck_assert(!ev.has_summary);
	edge_store_close(st);
}
END_TEST

START_TEST(summary_values_read_back_exactly)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(1, 1, 1, 1);
	const float v[] = { 0.1f, 1.0f / 3.0f, -1e-30f, 3.4028235e9f / 4, 16777217.0f,
			    -0.0f, 123456.789f, 1e-45f };
	struct edge_anomaly_event ev;
	char *p;

	r.events[0].n_summary = sizeof v / sizeof v[0];
	memcpy(r.events[0].summary, v, sizeof v);
	ingest(st, "n", &r, RECV0);
	ev = stored_event(st, "n", 1, 1);
	ck_assert_int_eq(ev.summary[0], '[');
	p = ev.summary + 1;
	for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *end;
		float f = strtof(p, &end);

		ck_assert_msg(end != p && f == v[i], "summary[%u] in %s", i, ev.summary);
		ck_assert_int_eq(*end, i + 1 < sizeof v / sizeof v[0] ? ',' : ']');
		p = end + 1;
	}
	edge_store_close(st);
}
END_TEST

/* Against a model of the rule: random valid traffic of one node (oldest
 * never going back, events at or above it, out of order, repeated, some
 * never sent), each ack and gap count compared with what the model says
 * after the same reports. One group commit holds many of the ops. */
#define MODEL_SEQS 600
#define MODEL_REPORTS 400

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

START_TEST(acks_match_a_model_of_the_rule)
{
	static struct edge_msg_report reports[MODEL_REPORTS];
	static struct ingest_call calls[MODEL_REPORTS];
	static bool stored[MODEL_SEQS + 1];
	edge_store *st = open_store();
	uint32_t oldest = 1, acked = 0;
	uint64_t gaps = 0, gaps_counted = 0, rows = 0;
	unsigned with_sack = 0;
	int rc;

	for (unsigned i = 0; i < MODEL_REPORTS; i++) {
		uint32_t seqs[EDGE_REPORT_MAX_EVENTS];
		unsigned n = 0;
		uint32_t s;

		if (rng(4) == 0 && oldest < MODEL_SEQS - 100)
			oldest += rng(40);
		s = oldest + rng(3);
		while (n < 1 + rng(EDGE_REPORT_MAX_EVENTS) && s <= MODEL_SEQS) {
			seqs[n++] = s;
			s += 1 + rng(3);
		}
		if (n == 0)
			seqs[n++] = MODEL_SEQS;
		reports[i] = report(7, oldest, seqs, n);
		calls[i] = (struct ingest_call){ .device = "m", .r = &reports[i],
						 .received_ms = RECV0 + i };
		ck_assert_int_eq(edge_store_submit(st, ingest_fn, NULL, &calls[i]), 0);
	}
	edge_store_flush(st);
	(void)edge_store_run_completions(st);

	for (unsigned i = 0; i < MODEL_REPORTS; i++) {
		const struct edge_msg_report *r = &reports[i];
		unsigned dup = 0;
		uint64_t sack = 0;
		uint32_t a;

		for (unsigned k = 0; k < r->n_events; k++) {
			if (stored[r->events[k].seq])
				dup++;
			stored[r->events[k].seq] = true;
		}
		rows += r->n_events - dup;
		a = acked;
		while (a < MODEL_SEQS && (a + 1 < r->oldest || stored[a + 1])) {
			if (!stored[a + 1])
				gaps++;
			a++;
		}
		acked = a;
		for (unsigned b = 0; b < 64 && acked + 1 + b <= MODEL_SEQS; b++)
			if (stored[acked + 1 + b])
				sack |= UINT64_C(1) << b;
		ck_assert_msg(calls[i].rc == 0, "report %u: %s", i, edge_strerror(calls[i].rc));
		ck_assert_uint_eq(calls[i].res.duplicates, dup);
		assert_ack(calls[i].res.ack, 7, acked, sack);
		with_sack += sack != 0;
		gaps_counted += calls[i].res.new_gaps;
		ck_assert_uint_eq(gaps_counted, gaps);
	}
	ck_assert_uint_eq(stream(st, "m", 7, &rc).gaps, gaps);
	ck_assert_uint_eq(stream(st, "m", 7, &rc).events, rows);
	ck_assert_uint_eq(count(st, "m"), rows);
	/* The traffic had gaps, acks with sack bits, and enough events. */
	ck_assert_uint_gt(gaps, 0);
	ck_assert_uint_gt(with_sack, MODEL_REPORTS / 10);
	ck_assert_uint_gt(rows, 100);
	edge_store_close(st);
}
END_TEST

/* A report whose ingest fails halfway (a trigger refuses seq 3) leaves no
 * row and no stream change, while the ops around it in the same group
 * commit are kept. */
static int add_trigger_fn(edge_store_conn *conn, void *ud)
{
	(void)ud;
	return sqlite3_exec(edge_store_conn_db(conn),
			    "CREATE TRIGGER refuse_seq3 BEFORE INSERT ON anomaly_event"
			    " WHEN NEW.device = 'bad' AND NEW.seq = 3"
			    " BEGIN SELECT RAISE(ABORT, 'refused'); END;",
			    NULL, NULL, NULL) == SQLITE_OK ? 0 : EDGE_ESTORE;
}

START_TEST(failing_op_rolls_back_the_whole_report)
{
	edge_store *st = open_store();
	struct edge_msg_report first = report_range(1, 1, 1, 1);
	struct edge_msg_report r = report_range(1, 1, 1, 5);
	struct edge_msg_report r2 = report_range(1, 1, 2, 5);
	struct ingest_call before = { .device = "ok1", .r = &r, .received_ms = RECV0 };
	struct ingest_call bad = { .device = "bad", .r = &r, .received_ms = RECV0 };
	struct ingest_call failing = { .device = "gone", .r = &r, .received_ms = RECV0,
				       .fail_after = -EIO };
	struct ingest_call after = { .device = "ok2", .r = &r, .received_ms = RECV0 };
	struct edge_anomaly_stream s;
	int rc;

	ck_assert_int_eq(edge_store_read(st, add_trigger_fn, NULL), 0);
	ingest(st, "bad", &first, RECV0);

	ck_assert_int_eq(edge_store_submit(st, ingest_fn, ingest_done, &before), 0);
	ck_assert_int_eq(edge_store_submit(st, ingest_fn, ingest_done, &bad), 0);
	ck_assert_int_eq(edge_store_submit(st, ingest_fn, ingest_done, &failing), 0);
	ck_assert_int_eq(edge_store_submit(st, ingest_fn, ingest_done, &after), 0);
	edge_store_flush(st);
	ck_assert_uint_eq(edge_store_run_completions(st), 4);

	ck_assert(before.done && after.done && bad.done && failing.done);
	ck_assert_int_eq(before.done_rc, 0);
	ck_assert_int_eq(after.done_rc, 0);
	ck_assert_int_lt(bad.rc, 0);
	ck_assert_int_eq(bad.done_rc, bad.rc);
	ck_assert_int_eq(failing.rc, 0);
	ck_assert_int_eq(failing.done_rc, -EIO);

	ck_assert_uint_eq(count(st, "ok1"), 5);
	ck_assert_uint_eq(count(st, "ok2"), 5);
	/* "bad": seq 2 was inserted before seq 3 failed, and is gone. */
	ck_assert_uint_eq(count(st, "bad"), 1);
	s = stream(st, "bad", 1, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(s.acked, 1);
	ck_assert_uint_eq(s.events, 1);
	ck_assert_int_eq(ingest_rc(st, "bad", &r2), bad.rc);
	ck_assert_uint_eq(count(st, "bad"), 1);
	/* "gone": everything its op did is rolled back. */
	ck_assert_uint_eq(count(st, "gone"), 0);
	stream(st, "gone", 1, &rc);
	ck_assert_int_eq(rc, EDGE_ENOTFOUND);
	/* Sent again, it is stored whole: nothing was half there. */
	failing.fail_after = 0;
	ck_assert_int_eq(edge_store_read(st, ingest_fn, &failing), 0);
	ck_assert_uint_eq(failing.res.stored, 5);
	assert_ack(failing.res.ack, 1, 5, 0);
	edge_store_close(st);
}
END_TEST

START_TEST(invalid_arguments)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(1, 1, 1, 3);

	ck_assert_int_eq(ingest_rc(st, "", &r), -EINVAL);
	ck_assert_int_eq(ingest_rc(st, NULL, &r), -EINVAL);
	ck_assert_int_eq(ingest_rc(st, "n", NULL), -EINVAL);
	r.oldest = 0;
	ck_assert_int_eq(ingest_rc(st, "n", &r), -EINVAL);
	r.oldest = 2; /* above events[0].seq */
	ck_assert_int_eq(ingest_rc(st, "n", &r), -EINVAL);
	r.oldest = 1;
	r.events[2].seq = 2; /* not increasing */
	ck_assert_int_eq(ingest_rc(st, "n", &r), -EINVAL);
	r.events[2].seq = 3;
	r.n_events = 0;
	ck_assert_int_eq(ingest_rc(st, "n", &r), -EINVAL);
	r.n_events = EDGE_REPORT_MAX_EVENTS + 1;
	ck_assert_int_eq(ingest_rc(st, "n", &r), -EINVAL);
	ck_assert_uint_eq(count(st, NULL), 0);
	edge_store_close(st);
}
END_TEST

/* The cost of one ingest does not grow with the history: no statement of
 * the connection takes a full-scan step, and the virtual-machine steps of a
 * 32-event report into a long history stay within a small margin (the
 * sack's 64 index rows) of the same report into an empty one. */
struct cost_call {
	const char *device;
	const struct edge_msg_report *r;
	int rc;
	uint64_t fullscan, vm_steps;
	struct edge_anomaly_result res;
};

static int cost_fn(edge_store_conn *conn, void *ud)
{
	struct cost_call *c = ud;
	sqlite3 *db = edge_store_conn_db(conn);
	sqlite3_stmt *s;

	for (s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
		(void)sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
		(void)sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 1);
	}
	c->rc = edge_anomaly_ingest(conn, c->device, c->r, RECV0, NULL, &c->res);
	for (s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
		c->fullscan += (uint64_t)sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
		c->vm_steps += (uint64_t)sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 0);
	}
	return c->rc;
}

/* The cost of the same 32-event report for a device without history. */
static uint64_t baseline_steps(edge_store *st)
{
	struct edge_msg_report r = report_range(1, 1, 1, 32);
	struct cost_call c = { .device = "fresh", .r = &r };

	ck_assert_int_eq(edge_store_read(st, cost_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_uint_eq(c.fullscan, 0);
	assert_ack(c.res.ack, 1, 32, 0);
	return c.vm_steps;
}

/* One measured ingest into "big". */
static struct cost_call cost(edge_store *st, const struct edge_msg_report *r)
{
	struct cost_call c = { .device = "big", .r = r };

	ck_assert_int_eq(edge_store_read(st, cost_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_uint_eq(c.fullscan, 0);
	return c;
}

START_TEST(ack_does_not_scan_the_history)
{
	enum { HISTORY = 4096, HOLE = 100, MARGIN = 64 * 10 };
	edge_store *st = open_store();
	static struct ingest_call calls[HISTORY / 32];
	static struct edge_msg_report reports[HISTORY / 32];
	const uint32_t hole[] = { HOLE };
	struct edge_msg_report r;
	uint64_t base;
	struct cost_call c;

	/* A long history for "big" with one seq missing (HOLE, which the node
	 * still holds), so acked stays below almost all of it. */
	for (unsigned i = 0; i < HISTORY / 32; i++) {
		reports[i] = report_range(1, 1, 1 + 32 * i, 32 * (i + 1));
		if (HOLE > 32 * i && HOLE <= 32 * (i + 1)) {
			unsigned k = HOLE - 1 - 32 * i;

			memmove(&reports[i].events[k], &reports[i].events[k + 1],
				(31 - k) * sizeof reports[i].events[0]);
			reports[i].n_events--;
		}
		calls[i] = (struct ingest_call){ .device = "big", .r = &reports[i],
						 .received_ms = RECV0 };
		ck_assert_int_eq(edge_store_submit(st, ingest_fn, NULL, &calls[i]), 0);
	}
	edge_store_flush(st);
	(void)edge_store_run_completions(st);
	for (unsigned i = 0; i < HISTORY / 32; i++)
		ck_assert_int_eq(calls[i].rc, 0);
	ck_assert_uint_eq(count(st, "big"), HISTORY - 1);
	base = baseline_steps(st);

	/* Above the hole: the walk reads the sack's 64 seqs, not the rest. */
	r = report_range(1, HOLE, HISTORY + 1, HISTORY + 32);
	c = cost(st, &r);
	ck_assert_uint_eq(c.res.stored, 32);
	assert_ack(c.res.ack, 1, HOLE - 1, ~UINT64_C(1));
	ck_assert_msg(c.vm_steps <= base + MARGIN, "%llu VM steps, %llu without history",
		      (unsigned long long)c.vm_steps, (unsigned long long)base);

	/* The hole filled: acked moves over the whole run (that walk is the
	 * advance itself), still without a full scan. */
	r = report(1, HOLE, hole, 1);
	c = cost(st, &r);
	assert_ack(c.res.ack, 1, HISTORY + 32, 0);

	/* At the head, past a seq given up: bounded again. */
	r = report_range(1, HISTORY + 34, HISTORY + 34, HISTORY + 65);
	c = cost(st, &r);
	ck_assert_uint_eq(c.res.new_gaps, 1); /* HISTORY + 33 */
	assert_ack(c.res.ack, 1, HISTORY + 65, 0);
	ck_assert_msg(c.vm_steps <= base + MARGIN, "%llu VM steps, %llu without history",
		      (unsigned long long)c.vm_steps, (unsigned long long)base);
	edge_store_close(st);
}
END_TEST

/* ---- episodes ---- */

#define QUIET 60000LL
static const struct edge_anomaly_episode_settings ep3 = { .min_events = 3, .quiet_ms = QUIET };

/* A one-event report of seq at event time t (age 0 at received t). */
static struct edge_anomaly_result ep_ingest(edge_store *st, const char *device, uint32_t seq,
					    const char *label, const char *version, double score,
					    int64_t t)
{
	struct edge_msg_report r = report_range(1, 1, seq, seq);
	struct ingest_call c = { .device = device, .r = &r, .received_ms = t, .ep = &ep3 };

	snprintf(r.events[0].label, sizeof r.events[0].label, "%s", label);
	snprintf(r.events[0].model_version, sizeof r.events[0].model_version, "%s", version);
	r.events[0].score = (float)score;
	r.events[0].age_ms = 0;
	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	return c.res;
}

struct ep_call {
	const char *device, *label;
	int rc;
	struct edge_anomaly_episode ep;
	uint64_t count;
	int64_t now_ms;
	uint32_t closed;
};

static int ep_last_fn(edge_store_conn *conn, void *ud)
{
	struct ep_call *c = ud;

	c->rc = edge_anomaly_episode_last(conn, c->device, c->label, &c->ep);
	return 0;
}

static struct edge_anomaly_episode ep_last(edge_store *st, const char *device, const char *label)
{
	struct ep_call c = { .device = device, .label = label };

	ck_assert_int_eq(edge_store_read(st, ep_last_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	return c.ep;
}

static int ep_count_fn(edge_store_conn *conn, void *ud)
{
	struct ep_call *c = ud;

	c->rc = edge_anomaly_episode_count(conn, c->device, &c->count);
	return 0;
}

static uint64_t ep_count(edge_store *st, const char *device)
{
	struct ep_call c = { .device = device };

	ck_assert_int_eq(edge_store_read(st, ep_count_fn, &c), 0);
	ck_assert_int_eq(c.rc, 0);
	return c.count;
}

static int sweep_fn(edge_store_conn *conn, void *ud)
{
	struct ep_call *c = ud;

	c->rc = edge_anomaly_episode_sweep(conn, c->now_ms, QUIET, &c->closed);
	return c->rc;
}

static uint32_t sweep(edge_store *st, int64_t now_ms)
{
	struct ep_call c = { .now_ms = now_ms };

	ck_assert_int_eq(edge_store_read(st, sweep_fn, &c), 0);
	return c.closed;
}

START_TEST(episode_opens_and_is_confirmed_at_min_count)
{
	edge_store *st = open_store();
	struct edge_anomaly_result res;
	struct edge_anomaly_episode e;

	res = ep_ingest(st, "n1", 1, "vibration", "2.1.0", 0.7, RECV0);
	ck_assert_uint_eq(res.episodes_opened, 1);
	ck_assert_uint_eq(res.episodes_confirmed, 0);
	e = ep_last(st, "n1", "vibration");
	ck_assert_str_eq(e.state, "open");
	ck_assert_str_eq(e.model, "vib-ae@2.1.0");
	ck_assert_uint_eq(e.count, 1);
	ck_assert_int_eq(e.start_ms, RECV0);
	ck_assert_int_eq(e.end_ms, RECV0);
	ck_assert_int_eq(e.confirmed_ms, 0);

	res = ep_ingest(st, "n1", 2, "vibration", "2.1.0", 0.9, RECV0 + 1000);
	ck_assert_uint_eq(res.episodes_opened + res.episodes_confirmed, 0);
	ck_assert_str_eq(ep_last(st, "n1", "vibration").state, "open");

	res = ep_ingest(st, "n1", 3, "vibration", "2.1.0", 0.8, RECV0 + 2000);
	ck_assert_uint_eq(res.episodes_confirmed, 1);
	ck_assert_uint_eq(res.episodes_opened, 0);
	e = ep_last(st, "n1", "vibration");
	ck_assert_str_eq(e.state, "confirmed");
	ck_assert_uint_eq(e.count, 3);
	ck_assert_int_eq(e.start_ms, RECV0);
	ck_assert_int_eq(e.end_ms, RECV0 + 2000);
	ck_assert_double_eq_tol(e.peak_score, 0.9, 1e-6);
	ck_assert_int_eq(e.confirmed_ms, RECV0 + 2000);

	/* Confirmed once only; an event exactly quiet_ms later still joins. */
	res = ep_ingest(st, "n1", 4, "vibration", "2.1.0", 0.5, RECV0 + 2000 + QUIET);
	ck_assert_uint_eq(res.episodes_confirmed + res.episodes_opened + res.episodes_closed, 0);
	e = ep_last(st, "n1", "vibration");
	ck_assert_uint_eq(e.count, 4);
	ck_assert_int_eq(e.confirmed_ms, RECV0 + 2000);
	ck_assert_uint_eq(ep_count(st, "n1"), 1);
	edge_store_close(st);
}
END_TEST

START_TEST(episode_closed_by_a_late_event_and_by_the_sweep)
{
	edge_store *st = open_store();
	struct edge_anomaly_result res;
	struct edge_anomaly_episode e;
	int64_t t2 = RECV0 + QUIET + 1;

	ep_ingest(st, "n1", 1, "vibration", "2.1.0", 0.7, RECV0);
	/* Later than end + quiet: the old one closes, a new one opens. */
	res = ep_ingest(st, "n1", 2, "vibration", "2.1.0", 0.7, t2);
	ck_assert_uint_eq(res.episodes_closed, 1);
	ck_assert_uint_eq(res.episodes_opened, 1);
	ck_assert_uint_eq(ep_count(st, "n1"), 2);
	e = ep_last(st, "n1", "vibration");
	ck_assert_str_eq(e.state, "open");
	ck_assert_uint_eq(e.count, 1);
	ck_assert_int_eq(e.start_ms, t2);

	/* The sweep: not before end + quiet has passed. */
	ck_assert_uint_eq(sweep(st, t2 + QUIET), 0);
	ck_assert_str_eq(ep_last(st, "n1", "vibration").state, "open");
	ck_assert_uint_eq(sweep(st, t2 + QUIET + 1), 1);
	e = ep_last(st, "n1", "vibration");
	ck_assert_str_eq(e.state, "closed");
	ck_assert_int_eq(e.closed_ms, t2 + QUIET + 1);
	ck_assert_uint_eq(sweep(st, t2 + QUIET + 2), 0); /* closed ones stay */

	/* The next event opens a new one, closing nothing. */
	res = ep_ingest(st, "n1", 3, "vibration", "2.1.0", 0.7, t2 + QUIET + 2);
	ck_assert_uint_eq(res.episodes_opened, 1);
	ck_assert_uint_eq(res.episodes_closed, 0);
	ck_assert_uint_eq(ep_count(st, "n1"), 3);
	edge_store_close(st);
}
END_TEST

START_TEST(episode_model_change_starts_a_new_one)
{
	edge_store *st = open_store();
	struct edge_anomaly_result res;

	ep_ingest(st, "n1", 1, "vibration", "2.1.0", 0.7, RECV0);
	ep_ingest(st, "n1", 2, "vibration", "2.1.0", 0.7, RECV0 + 1);
	res = ep_ingest(st, "n1", 3, "vibration", "2.2.0", 0.7, RECV0 + 2);
	ck_assert_uint_eq(res.episodes_closed, 1);
	ck_assert_uint_eq(res.episodes_opened, 1);
	ck_assert_str_eq(ep_last(st, "n1", "vibration").model, "vib-ae@2.2.0");
	ck_assert_uint_eq(ep_last(st, "n1", "vibration").count, 1);
	/* A late event of the old model, older than the new episode: in none. */
	res = ep_ingest(st, "n1", 4, "vibration", "2.1.0", 0.7, RECV0 + 1);
	ck_assert_uint_eq(res.stored, 1);
	ck_assert_uint_eq(res.episode_late, 1);
	ck_assert_uint_eq(res.episodes_opened + res.episodes_closed, 0);
	ck_assert_uint_eq(ep_count(st, "n1"), 2);
	edge_store_close(st);
}
END_TEST

START_TEST(episode_labels_and_devices_are_independent)
{
	edge_store *st = open_store();

	for (uint32_t i = 0; i < 4; i++) {
		ep_ingest(st, "n1", 2 * i + 1, "vibration", "2.1.0", 0.7, RECV0 + i);
		ep_ingest(st, "n1", 2 * i + 2, "temperature", "2.1.0", 0.7, RECV0 + i);
	}
	ep_ingest(st, "n2", 1, "vibration", "2.1.0", 0.7, RECV0);
	ck_assert_uint_eq(ep_count(st, "n1"), 2);
	ck_assert_uint_eq(ep_last(st, "n1", "vibration").count, 4);
	ck_assert_uint_eq(ep_last(st, "n1", "temperature").count, 4);
	ck_assert_str_eq(ep_last(st, "n1", "temperature").state, "confirmed");
	ck_assert_uint_eq(ep_last(st, "n2", "vibration").count, 1);
	ck_assert_uint_eq(ep_count(st, NULL), 3);
	edge_store_close(st);
}
END_TEST

START_TEST(episode_duplicates_do_not_count_twice)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(1, 1, 1, 4);
	struct edge_anomaly_result res;
	struct ingest_call c = { .device = "n1", .r = &r, .received_ms = RECV0, .ep = &ep3 };

	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), 0);
	ck_assert_uint_eq(c.res.episodes_opened, 1);
	ck_assert_uint_eq(c.res.episodes_confirmed, 1);
	c.received_ms = RECV0 + 5000; /* the resend comes later */
	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), 0);
	res = c.res;
	ck_assert_uint_eq(res.duplicates, 4);
	ck_assert_uint_eq(res.episodes_opened + res.episodes_confirmed + res.episodes_closed, 0);
	ck_assert_uint_eq(ep_last(st, "n1", "vibration").count, 4);
	ck_assert_int_eq(ep_last(st, "n1", "vibration").end_ms, RECV0 - 1200);
	edge_store_close(st);
}
END_TEST

START_TEST(episode_out_of_order_events)
{
	edge_store *st = open_store();
	struct edge_anomaly_result res;
	struct edge_anomaly_episode e;

	ep_ingest(st, "n1", 1, "vibration", "2.1.0", 0.7, RECV0 + 10000);
	/* Earlier in time, within quiet_ms of the start: joins, start moves back. */
	res = ep_ingest(st, "n1", 2, "vibration", "2.1.0", 0.7, RECV0);
	ck_assert_uint_eq(res.episodes_opened + res.episode_late, 0);
	e = ep_last(st, "n1", "vibration");
	ck_assert_uint_eq(e.count, 2);
	ck_assert_int_eq(e.start_ms, RECV0);
	ck_assert_int_eq(e.end_ms, RECV0 + 10000);
	/* More than quiet_ms before the start: it belonged to a past episode. */
	res = ep_ingest(st, "n1", 3, "vibration", "2.1.0", 0.7, RECV0 - QUIET - 1);
	ck_assert_uint_eq(res.stored, 1);
	ck_assert_uint_eq(res.episode_late, 1);
	ck_assert_uint_eq(ep_last(st, "n1", "vibration").count, 2);
	ck_assert_uint_eq(ep_count(st, "n1"), 1);
	edge_store_close(st);
}
END_TEST

START_TEST(episode_rolled_back_with_a_failing_op)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(1, 1, 1, 3);
	struct ingest_call c = { .device = "n1", .r = &r, .received_ms = RECV0, .ep = &ep3,
				 .fail_after = -EIO };
	struct ep_call e = { .device = "n1", .label = "vibration" };

	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), -EIO);
	ck_assert_uint_eq(c.res.episodes_opened, 1);
	ck_assert_uint_eq(ep_count(st, "n1"), 0);
	ck_assert_int_eq(edge_store_read(st, ep_last_fn, &e), 0);
	ck_assert_int_eq(e.rc, EDGE_ENOTFOUND);
	c.fail_after = 0;
	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), 0);
	ck_assert_uint_eq(ep_last(st, "n1", "vibration").count, 3);
	ck_assert_str_eq(ep_last(st, "n1", "vibration").state, "confirmed");
	edge_store_close(st);
}
END_TEST

START_TEST(episode_invalid_settings)
{
	edge_store *st = open_store();
	struct edge_msg_report r = report_range(1, 1, 1, 1);
	struct edge_anomaly_episode_settings zero = { .min_events = 0, .quiet_ms = QUIET };
	struct edge_anomaly_episode_settings neg = { .min_events = 1, .quiet_ms = -1 };
	struct ingest_call c = { .device = "n1", .r = &r, .received_ms = RECV0, .ep = &zero };

	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), -EINVAL);
	c.ep = &neg;
	ck_assert_int_eq(edge_store_read(st, ingest_fn, &c), -EINVAL);
	ck_assert_uint_eq(count(st, "n1"), 0);
	edge_store_close(st);
}
END_TEST

static Suite *anomaly_suite(void)
{
	Suite *s = suite_create("anomaly");
	TCase *tc = tcase_create("ingest");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, report_stored_once_replay_is_duplicate);
	tcase_add_test(tc, out_of_order_reports_set_sack_bits);
	tcase_add_test(tc, sack_covers_exactly_64_seqs);
	tcase_add_test(tc, oldest_past_a_missing_seq_counts_one_gap);
	tcase_add_test(tc, gaps_among_stored_out_of_order_events);
	tcase_add_test(tc, seq_range_ends_at_uint32_max);
	tcase_add_test(tc, epochs_and_devices_are_independent);
	tcase_add_test(tc, time_placement);
	tcase_add_test(tc, event_fields_stored);
	tcase_add_test(tc, summary_values_read_back_exactly);
	tcase_add_test(tc, acks_match_a_model_of_the_rule);
	tcase_add_test(tc, failing_op_rolls_back_the_whole_report);
	tcase_add_test(tc, invalid_arguments);
	tcase_add_test(tc, ack_does_not_scan_the_history);
	tcase_add_test(tc, episode_opens_and_is_confirmed_at_min_count);
	tcase_add_test(tc, episode_closed_by_a_late_event_and_by_the_sweep);
	tcase_add_test(tc, episode_model_change_starts_a_new_one);
	tcase_add_test(tc, episode_labels_and_devices_are_independent);
	tcase_add_test(tc, episode_duplicates_do_not_count_twice);
	tcase_add_test(tc, episode_out_of_order_events);
	tcase_add_test(tc, episode_rolled_back_with_a_failing_op);
	tcase_add_test(tc, episode_invalid_settings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(anomaly_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
