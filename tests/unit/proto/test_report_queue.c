/* The device SDK's report queue (edge_report_queue.h): numbering, epochs,
 * drop-oldest, batching under the size limits (every batch is parsed back
 * with the gateway's parser), retransmission timing and acks. Also the
 * heartbeat's reports_dropped field. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "edge_node_msg.h"
#include "edge_report.h"
#include "edge_report_queue.h"
#include "test_proto.h"

#define MAX_SLOTS 256

struct fixture {
	struct edge_report_queue q;
	struct edge_report_event ev[MAX_SLOTS];
	struct edge_report_slot_state st[MAX_SLOTS];
	uint32_t next_epoch; /* what the callback returns next */
	unsigned epoch_calls;
	char buf[EDGE_MSG_MAX_PAYLOAD];
	size_t len;
	struct edge_msg_report rep; /* the last batch, parsed */
};

static struct fixture f;

static uint32_t epoch_cb(void *ud)
{
	struct fixture *fx = ud;

	fx->epoch_calls++;
	return fx->next_epoch++;
}

static void setup_queue(size_t n_slots, uint32_t seed)
{
	struct edge_report_queue_config cfg = {
		.next_epoch = epoch_cb, .ud = &f, .seed = seed,
	};

	ck_assert_uint_le(n_slots, MAX_SLOTS);
	memset(&f, 0, sizeof f);
	f.next_epoch = 7;
	ck_assert_int_eq(edge_report_queue_init(&f.q, f.ev, f.st, n_slots, &cfg), 0);
}

static struct edge_report_event event(unsigned i)
{
	struct edge_report_event e;

	memset(&e, 0, sizeof e);
	e.seq = 999; /* ignored by push */
	strcpy(e.model_name, "kws");
	strcpy(e.model_version, "1.0.3");
	e.score = 0.5 + i / 1024.0;
	e.threshold = 0.75;
	strcpy(e.label, "vibration");
	return e;
}

static uint32_t push(unsigned i, uint64_t now)
{
	struct edge_report_event e = event(i);

	return edge_report_queue_push(&f.q, &e, now);
}

/* next_batch into f.buf; when it returns events, parse them into f.rep and
 * check the report is exactly what was announced. */
static int batch(uint64_t now, size_t cap)
{
	struct edge_msg_error err;
	int n;

	ck_assert_uint_le(cap, sizeof f.buf);
	n = edge_report_queue_next_batch(&f.q, now, f.buf, cap, &f.len);
	if (n <= 0) {
		ck_assert_uint_eq(f.len, 0);
		return n;
	}
	ck_assert_uint_eq(f.len, strlen(f.buf));
	ck_assert_uint_lt(f.len, cap);
	ck_assert_msg(edge_msg_parse_report(f.buf, f.len, &f.rep, &err) == 0,
		      "batch rejected: %s at %s", edge_msg_reject_name(err.reason),
		      err.field);
	ck_assert_uint_eq(f.rep.n_events, (unsigned)n);
	ck_assert_uint_eq(f.rep.epoch, edge_report_queue_epoch(&f.q));
	/* Every report says what the node gave up: its oldest held seq. */
	ck_assert_uint_eq(f.rep.oldest, edge_report_queue_oldest(&f.q));
	ck_assert_uint_le(f.rep.oldest, f.rep.events[0].seq);
	return n;
}

/* The parsed batch holds exactly seqs first..first+n-1. */
static void expect_seqs(uint32_t first, unsigned n)
{
	unsigned i;

	ck_assert_uint_eq(f.rep.n_events, n);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(f.rep.events[i].seq, first + i);
}

static struct edge_msg_ack ack(uint32_t acked, uint64_t sack)
{
	struct edge_msg_ack a = { edge_report_queue_epoch(&f.q), acked, sack };

	return a;
}

START_TEST(init_takes_epoch)
{
	struct edge_report_queue_config cfg = { .next_epoch = epoch_cb, .ud = &f };
	struct edge_report_queue q;

	setup_queue(8, 1);
	ck_assert_uint_eq(f.epoch_calls, 1);
	ck_assert_uint_eq(edge_report_queue_epoch(&f.q), 7);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 0);
	ck_assert(edge_report_queue_next_deadline(&f.q) == UINT64_MAX);
	ck_assert_int_eq(batch(0, sizeof f.buf), 0);

	ck_assert_int_eq(edge_report_queue_init(&q, f.ev, f.st, 0, &cfg), -EINVAL);
	ck_assert_int_eq(edge_report_queue_init(&q, NULL, f.st, 8, &cfg), -EINVAL);
	ck_assert_int_eq(edge_report_queue_init(&q, f.ev, NULL, 8, &cfg), -EINVAL);
	ck_assert_int_eq(edge_report_queue_init(&q, f.ev, f.st, 8, NULL), -EINVAL);
	cfg.rto_base_ms = 10000;
	cfg.rto_max_ms = 5000;
	ck_assert_int_eq(edge_report_queue_init(&q, f.ev, f.st, 8, &cfg), -EINVAL);
	cfg.next_epoch = NULL;
	cfg.rto_max_ms = 0;
	ck_assert_int_eq(edge_report_queue_init(&q, f.ev, f.st, 8, &cfg), -EINVAL);
	ck_assert_uint_eq(f.epoch_calls, 1); /* no callback on failure */
}
END_TEST

START_TEST(push_numbers_from_one)
{
	struct edge_report_event bad = event(0);
	unsigned i;

	setup_queue(8, 1);
	for (i = 1; i <= 5; i++)
		ck_assert_uint_eq(push(i, 100), i);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 5);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->pushed, 5);

	/* Invalid events are refused and take no seq. */
	strcpy(bad.label, "no spaces");
	ck_assert_uint_eq(edge_report_queue_push(&f.q, &bad, 100), 0);
	bad = event(0);
	bad.age_ms = EDGE_REPORT_AGE_MAX_MS + 1;
	ck_assert_uint_eq(edge_report_queue_push(&f.q, &bad, 100), 0);
	ck_assert_uint_eq(edge_report_queue_push(&f.q, NULL, 100), 0);
	ck_assert_uint_eq(push(6, 100), 6);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->pushed, 6);

	ck_assert_int_eq(batch(100, sizeof f.buf), 6);
	expect_seqs(1, 6);
	ck_assert_double_eq(f.rep.events[2].score, event(3).score);
	ck_assert_str_eq(f.rep.events[0].model_name, "kws");
	ck_assert_str_eq(f.rep.events[0].label, "vibration");
}
END_TEST

START_TEST(full_drops_oldest)
{
	unsigned i;

	setup_queue(4, 1);
	for (i = 1; i <= 6; i++)
		ck_assert_uint_eq(push(i, 0), i);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 4);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 2);
	/* The ring wrapped (3, 4 in the last slots, 5, 6 in the first): a
	 * batch ends at the end of the array. */
	ck_assert_int_eq(batch(0, sizeof f.buf), 2);
	expect_seqs(3, 2);
	ck_assert_int_eq(batch(0, sizeof f.buf), 2);
	expect_seqs(5, 2);
	ck_assert_int_eq(batch(0, sizeof f.buf), 0);

	/* Sent but unacked events are dropped the same way. */
	ck_assert_uint_eq(push(7, 1), 7);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 3);
	ck_assert_int_eq(batch(1, sizeof f.buf), 1);
	expect_seqs(7, 1);
	edge_report_queue_retry_now(&f.q);
	ck_assert_int_eq(batch(2, sizeof f.buf), 1);
	expect_seqs(4, 1);
	ck_assert_int_eq(batch(2, sizeof f.buf), 3);
	expect_seqs(5, 3);
	ck_assert_int_eq(batch(2, sizeof f.buf), 0);
}
END_TEST

START_TEST(batch_at_most_32_events)
{
	unsigned i;

	setup_queue(MAX_SLOTS, 1);
	for (i = 1; i <= 40; i++)
		ck_assert_uint_eq(push(i, 0), i);
	ck_assert_int_eq(batch(0, sizeof f.buf), EDGE_REPORT_MAX_EVENTS);
	expect_seqs(1, EDGE_REPORT_MAX_EVENTS);
	ck_assert_int_eq(batch(0, sizeof f.buf), 8);
	expect_seqs(33, 8);
	ck_assert_int_eq(batch(0, sizeof f.buf), 0);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->sent, 40);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->batches, 2);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 40);
}
END_TEST

START_TEST(batch_within_cap)
{
	struct edge_report_event e;
	unsigned i, j, total = 0;
	int n;

	setup_queue(MAX_SLOTS, 1);
	/* Large events: a full summary and a hash each. */
	for (i = 1; i <= 30; i++) {
		e = event(i);
		e.has_sha256 = true;
		memset(e.model_sha256, 'a', EDGE_MSG_SHA256_HEX);
		e.model_sha256[EDGE_MSG_SHA256_HEX] = '\0';
		e.has_severity = true;
		e.severity = 7;
		e.n_summary = EDGE_REPORT_SUMMARY_MAX;
		for (j = 0; j < EDGE_REPORT_SUMMARY_MAX; j++)
			e.summary[j] = -123456.789f / (float)(i + j + 1);
		ck_assert_uint_eq(edge_report_queue_push(&f.q, &e, 0), i);
	}
	/* A cap too small for one event: nothing sent, nothing marked. */
	ck_assert_int_eq(batch(0, 40), -ENOSPC);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->sent, 0);

	/* Full-size reports: less than 32 events fit, the next one would not. */
	n = batch(0, sizeof f.buf);
	ck_assert_int_gt(n, 1);
	ck_assert_int_lt(n, 30);
	expect_seqs(1, (unsigned)n);
	ck_assert_uint_eq(f.rep.events[0].n_summary, EDGE_REPORT_SUMMARY_MAX);
	ck_assert(f.rep.events[0].summary[3] == -123456.789f / 5.0f);
	ck_assert_uint_eq(edge_msg_report_fit(f.rep.epoch, f.rep.oldest,
					      f.rep.events, f.rep.n_events,
					      sizeof f.buf),
			  (size_t)n);
	total = (unsigned)n;

	/* A smaller cap: smaller reports, in order, until all are out. */
	while ((n = batch(0, 1500)) > 0) {
		ck_assert_uint_le(f.len, 1499);
		expect_seqs(total + 1, (unsigned)n);
		total += (unsigned)n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(total, 30);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->sent, 30);
}
END_TEST

START_TEST(nothing_due_before_timeout)
{
	uint64_t d, t;

	setup_queue(8, 12345);
	ck_assert_uint_eq(push(1, 1000), 1);
	ck_assert(edge_report_queue_next_deadline(&f.q) <= 1000);
	ck_assert_int_eq(batch(1000, sizeof f.buf), 1);
	d = edge_report_queue_next_deadline(&f.q);
	ck_assert(d >= 1000 + EDGE_REPORT_RTO_BASE_MS / 2);
	ck_assert(d <= 1000 + EDGE_REPORT_RTO_BASE_MS);
	for (t = 1000; t < d; t += 97)
		ck_assert_int_eq(batch(t, sizeof f.buf), 0);
	ck_assert_int_eq(batch(d - 1, sizeof f.buf), 0);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->resent, 0);

	/* At the deadline: retransmitted, same seq. */
	ck_assert_int_eq(batch(d, sizeof f.buf), 1);
	expect_seqs(1, 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->sent, 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->resent, 1);
	ck_assert(edge_report_queue_next_deadline(&f.q) > d);
}
END_TEST

START_TEST(backoff_doubles_with_jitter)
{
	uint32_t seed;
	unsigned n, lo_hits = 0, hi_hits = 0;
	uint64_t now, d, t, waits1[16];

	for (seed = 1; seed <= 16; seed++) {
		setup_queue(4, seed * 2654435761u);
		now = 0;
		ck_assert_uint_eq(push(1, now), 1);
		for (n = 1; n <= 9; n++) {
			ck_assert_int_eq(batch(now, sizeof f.buf), 1);
			d = edge_report_queue_next_deadline(&f.q);
			t = (uint64_t)EDGE_REPORT_RTO_BASE_MS << (n - 1);
			if (t > EDGE_REPORT_RTO_MAX_MS)
				t = EDGE_REPORT_RTO_MAX_MS;
			ck_assert_msg(d - now >= t / 2 && d - now <= t,
				      "transmission %u: wait %llu outside [%llu, %llu]",
				      n, (unsigned long long)(d - now),
				      (unsigned long long)(t / 2),
				      (unsigned long long)t);
			lo_hits += d - now < t * 3 / 4;
			hi_hits += d - now >= t * 3 / 4;
			if (n == 1)
				waits1[seed - 1] = d - now;
			now = d;
		}
		ck_assert_uint_eq(edge_report_queue_stats(&f.q)->resent, 8);
	}
	/* Jitter spreads the waits: both halves of the range are used, and
	 * different seeds give different first waits. */
	ck_assert_uint_gt(lo_hits, 10);
	ck_assert_uint_gt(hi_hits, 10);
	for (n = 1; n < 16 && waits1[n] == waits1[0]; n++)
		;
	ck_assert_uint_lt(n, 16);
}
END_TEST

START_TEST(configured_timeouts)
{
	struct edge_report_queue_config cfg = {
		.next_epoch = epoch_cb, .ud = &f, .seed = 9,
		.rto_base_ms = 100, .rto_max_ms = 300,
	};
	uint64_t now = 0, d;
	unsigned n;

	memset(&f, 0, sizeof f);
	ck_assert_int_eq(edge_report_queue_init(&f.q, f.ev, f.st, 4, &cfg), 0);
	ck_assert_uint_eq(push(1, 0), 1);
	for (n = 1; n <= 5; n++) {
		ck_assert_int_eq(batch(now, sizeof f.buf), 1);
		d = edge_report_queue_next_deadline(&f.q);
		ck_assert_uint_ge(d - now, n == 1 ? 50 : n == 2 ? 100 : 150);
		ck_assert_uint_le(d - now, n == 1 ? 100 : n == 2 ? 200 : 300);
		now = d;
	}
}
END_TEST

START_TEST(ack_contiguous_and_sack)
{
	struct edge_msg_ack a;
	unsigned i;

	setup_queue(16, 1);
	for (i = 1; i <= 10; i++)
		ck_assert_uint_eq(push(i, 0), i);
	ck_assert_int_eq(batch(0, sizeof f.buf), 10);

	/* 1..3 contiguous; sack bit i names seq 4 + i: 5 and 7. */
	a = ack(3, (1u << 1) | (1u << 3));
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 5);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 5);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->acked, 5);
	/* The same ack again frees nothing. */
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 0);

	/* What is left is exactly 4, 6, 8, 9, 10: batches end at the gaps. */
	edge_report_queue_retry_now(&f.q);
	ck_assert_int_eq(batch(1, sizeof f.buf), 1);
	expect_seqs(4, 1);
	ck_assert_int_eq(batch(1, sizeof f.buf), 1);
	expect_seqs(6, 1);
	ck_assert_int_eq(batch(1, sizeof f.buf), 3);
	expect_seqs(8, 3);
	ck_assert_int_eq(batch(1, sizeof f.buf), 0);

	/* Sack bits past the newest event and seqs never pushed are ignored. */
	a = ack(4, ~(uint64_t)0);
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 5);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 0);
	ck_assert(edge_report_queue_next_deadline(&f.q) == UINT64_MAX);
	ck_assert_uint_eq(push(11, 2), 11);
	ck_assert_int_eq(batch(2, sizeof f.buf), 1);
	expect_seqs(11, 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->acked, 10);
}
END_TEST

START_TEST(ack_out_of_order_keeps_slots)
{
	struct edge_msg_ack a;
	unsigned i;

	setup_queue(4, 1);
	for (i = 1; i <= 4; i++)
		ck_assert_uint_eq(push(i, 0), i);
	ck_assert_int_eq(batch(0, sizeof f.buf), 4);
	/* 2..4 acked, 1 not: the queue is still full, so the next push
	 * drops 1, the oldest unacknowledged. */
	a = ack(0, 0xe);
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 3);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 1);
	ck_assert_uint_eq(push(5, 1), 5);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 1);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 1);
	ck_assert_int_eq(batch(1, sizeof f.buf), 1);
	expect_seqs(5, 1);
}
END_TEST

START_TEST(ack_reveals_loss)
{
	struct edge_msg_ack a;
	uint64_t d;
	unsigned i;

	setup_queue(16, 1);
	for (i = 1; i <= 3; i++)
		ck_assert_uint_eq(push(i, 0), i);
	ck_assert_int_eq(batch(0, sizeof f.buf), 3); /* report A: 1..3 */
	ck_assert_uint_eq(push(4, 100), 4);
	ck_assert_uint_eq(push(5, 100), 5);
	ck_assert_int_eq(batch(100, sizeof f.buf), 2); /* report B: 4..5 */
	d = edge_report_queue_next_deadline(&f.q);
	ck_assert_uint_ge(d, EDGE_REPORT_RTO_BASE_MS / 2);

	/* Part of one report acked: its siblings are not lost, only late. */
	a = ack(0, 1u << 1); /* seq 2 */
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->lost, 0);
	ck_assert_uint_ge(edge_report_queue_next_deadline(&f.q), d);

	/* B acked while 1 and 3 of A are not: A came first, so they were
	 * lost and go again at once. */
	a = ack(0, (1u << 1) | (1u << 3) | (1u << 4));
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 2);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->lost, 2);
	ck_assert_uint_le(edge_report_queue_next_deadline(&f.q), 200);
	ck_assert_int_eq(batch(200, sizeof f.buf), 1);
	expect_seqs(1, 1);
	ck_assert_int_eq(batch(200, sizeof f.buf), 1);
	expect_seqs(3, 1);
	ck_assert_int_eq(batch(200, sizeof f.buf), 0);

	/* The same ack again: nothing freed, nothing more declared lost. */
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 0);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->lost, 2);
	ck_assert(edge_report_queue_next_deadline(&f.q) > 200);
	a = ack(5, 0);
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 2);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 0);
}
END_TEST

START_TEST(foreign_epoch_ignored)
{
	struct edge_msg_ack a;

	setup_queue(8, 1);
	ck_assert_uint_eq(push(1, 0), 1);
	ck_assert_uint_eq(push(2, 0), 2);
	ck_assert_int_eq(batch(0, sizeof f.buf), 2);
	a = ack(2, ~(uint64_t)0);
	a.epoch = 6; /* the previous boot's */
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 0);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 2);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->foreign_acks, 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->acked, 0);
	a.epoch = 7;
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 2);
}
END_TEST

START_TEST(retransmit_carries_followers)
{
	uint64_t d1, d2;

	setup_queue(8, 3);
	ck_assert_uint_eq(push(1, 0), 1);
	ck_assert_int_eq(batch(0, sizeof f.buf), 1);
	d1 = edge_report_queue_next_deadline(&f.q);
	/* 2 is sent just before 1's timeout, so its own comes later. */
	ck_assert_uint_eq(push(2, d1 - 1), 2);
	ck_assert(edge_report_queue_next_deadline(&f.q) == d1 - 1);
	ck_assert_int_eq(batch(d1 - 1, sizeof f.buf), 1);
	expect_seqs(2, 1);
	ck_assert_uint_eq(edge_report_queue_next_deadline(&f.q), d1);

	/* 1 is due: 2 goes with it though its own timeout has not passed. */
	ck_assert_int_eq(batch(d1, sizeof f.buf), 2);
	expect_seqs(1, 2);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->resent, 2);
	/* 1 backs off (5-10 s); 2, carried early, waits its first 2.5-5 s. */
	ck_assert_uint_ge(edge_report_queue_next_deadline(&f.q),
			  d1 + EDGE_REPORT_RTO_BASE_MS / 2);
	ck_assert_uint_le(edge_report_queue_next_deadline(&f.q),
			  d1 + EDGE_REPORT_RTO_BASE_MS);
	d2 = edge_report_queue_next_deadline(&f.q);
	ck_assert_int_eq(batch(d2, sizeof f.buf), 1);
	expect_seqs(2, 1);
	ck_assert_uint_ge(edge_report_queue_next_deadline(&f.q),
			  d1 + EDGE_REPORT_RTO_BASE_MS);

	/* retry_now: everything due at once, backoff back at the base. */
	edge_report_queue_retry_now(&f.q);
	ck_assert(edge_report_queue_next_deadline(&f.q) <= d2);
	ck_assert_int_eq(batch(d2 + 1, sizeof f.buf), 2);
	expect_seqs(1, 2);
	ck_assert_uint_le(edge_report_queue_next_deadline(&f.q),
			  d2 + 1 + EDGE_REPORT_RTO_BASE_MS);
}
END_TEST

START_TEST(age_at_send_time)
{
	struct edge_report_event e = event(1);

	setup_queue(8, 1);
	e.age_ms = 100;
	ck_assert_uint_eq(edge_report_queue_push(&f.q, &e, 5000), 1);
	e = event(2);
	e.has_ts = true;
	e.ts_ms = 1765000000000ull;
	ck_assert_uint_eq(edge_report_queue_push(&f.q, &e, 5000), 2);
	ck_assert_int_eq(batch(7000, sizeof f.buf), 2);
	ck_assert(!f.rep.events[0].has_ts);
	ck_assert_uint_eq(f.rep.events[0].age_ms, 2100);
	ck_assert(f.rep.events[1].has_ts);
	ck_assert(f.rep.events[1].ts_ms == 1765000000000ull);

	/* A retransmission carries the age then. */
	edge_report_queue_retry_now(&f.q);
	ck_assert_int_eq(batch(9500, sizeof f.buf), 2);
	ck_assert_uint_eq(f.rep.events[0].age_ms, 4600);
}
END_TEST

START_TEST(too_old_dropped)
{
	struct edge_report_event e = event(1);

	setup_queue(8, 1);
	e.age_ms = EDGE_REPORT_AGE_MAX_MS - 10;
	ck_assert_uint_eq(edge_report_queue_push(&f.q, &e, 0), 1);
	ck_assert_uint_eq(push(2, 0), 2);
	ck_assert_int_eq(batch(10, sizeof f.buf), 2);
	ck_assert_uint_eq(f.rep.events[0].age_ms, EDGE_REPORT_AGE_MAX_MS);
	edge_report_queue_retry_now(&f.q);
	ck_assert_int_eq(batch(11, sizeof f.buf), 1);
	expect_seqs(2, 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 1);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 1);
}
END_TEST

START_TEST(seq_overflow_new_epoch)
{
	setup_queue(8, 1);
	/* White box: jump to the last seq of the epoch. */
	f.q.head_seq = UINT32_MAX - 1;
	ck_assert_uint_eq(push(1, 0), UINT32_MAX - 1);
	ck_assert_uint_eq(push(2, 0), UINT32_MAX);
	ck_assert_int_eq(batch(0, sizeof f.buf), 2);
	expect_seqs(UINT32_MAX - 1, 2);
	ck_assert_uint_eq(f.epoch_calls, 1);

	/* Acks still reach the top seqs. */
	{
		struct edge_msg_ack a = ack(UINT32_MAX - 1, 1);

		ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 2);
	}
	ck_assert_uint_eq(push(3, 0), 1);
	ck_assert_uint_eq(f.epoch_calls, 2);
	ck_assert_uint_eq(edge_report_queue_epoch(&f.q), 8);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 0);

	/* Unacked events of the old epoch are dropped at the switch. */
	f.q.head_seq = UINT32_MAX;
	f.q.used = 0;
	f.q.live = 0;
	f.q.head = 0;
	f.ev[0].seq = 0;
	ck_assert_uint_eq(push(4, 0), UINT32_MAX);
	ck_assert_uint_eq(push(5, 0), 1);
	ck_assert_uint_eq(edge_report_queue_epoch(&f.q), 9);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 1);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 1);
	ck_assert_int_eq(batch(0, sizeof f.buf), 1);
	expect_seqs(1, 1);
	ck_assert_uint_eq(f.rep.epoch, 9);
}
END_TEST

START_TEST(one_slot_queue)
{
	struct edge_msg_ack a;

	setup_queue(1, 1);
	ck_assert_uint_eq(push(1, 0), 1);
	ck_assert_uint_eq(push(2, 0), 2);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 1);
	ck_assert_int_eq(batch(0, sizeof f.buf), 1);
	expect_seqs(2, 1);
	a = ack(2, 0);
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 1);
	ck_assert_uint_eq(push(3, 0), 3);
	ck_assert_int_eq(batch(0, sizeof f.buf), 1);
	expect_seqs(3, 1);
}
END_TEST

/* A lossy link: a third of the reports and a third of the acks are lost
 * for the first LOSSY_ROUNDS rounds of 50 ms, then none. The gateway is
 * modelled here: it stores what arrives and answers the contiguous prefix
 * plus sack. With honour_oldest it follows the ack rule of §5.6: it also
 * settles every seq below the highest `oldest` it received (acked or
 * dropped by the node), which a node that drops needs: else the gateway's
 * prefix stops at the first dropped seq and events more than 64 past it
 * are never acked. */
#define LOSSY_ROUNDS 6000

static void run_lossy_link(size_t slots, unsigned total, unsigned push_every,
			   int honour_oldest)
{
	static uint8_t stored[4001];
	struct edge_msg_ack a;
	uint32_t rng = 99, acked, oldest = 1, i;
	uint64_t now = 0, sack;
	unsigned pushed = 0, round, j;
	int n;

	ck_assert_uint_lt(total, sizeof stored);
	memset(stored, 0, sizeof stored);
	setup_queue(slots, 5);
	for (round = 0; round < 100000 &&
			(pushed < total || edge_report_queue_count(&f.q) > 0); round++) {
		now += 50;
		if (pushed < total && round % push_every == 0) {
			pushed++;
			ck_assert_uint_eq(push(pushed, now), pushed);
		}
		while ((n = batch(now, sizeof f.buf)) > 0) {
			rng = rng * 1103515245u + 12345u;
			if (round < LOSSY_ROUNDS && (rng >> 16) % 3 == 0)
				continue; /* report lost */
			for (j = 0; j < (unsigned)n; j++)
				stored[f.rep.events[j].seq] = 1;
			/* Only what the received report says, never the
			 * queue's state. */
			if (honour_oldest && f.rep.oldest > oldest)
				oldest = f.rep.oldest;
			for (acked = 0; acked < total &&
			     (stored[acked + 1] || acked + 1 < oldest); acked++)
				;
			for (sack = 0, i = 0; i < 64 && acked + 1 + i <= total; i++)
				if (stored[acked + 1 + i])
					sack |= (uint64_t)1 << i;
			rng = rng * 1103515245u + 12345u;
			if (round < LOSSY_ROUNDS && (rng >> 16) % 3 == 0)
				continue; /* ack lost */
			a = ack(acked, sack);
			(void)edge_report_queue_apply_ack(&f.q, &a);
		}
	}
	ck_assert_uint_eq(pushed, total);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 0);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->pushed, total);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->acked +
				  edge_report_queue_stats(&f.q)->dropped,
			  total);
	ck_assert_uint_gt(edge_report_queue_stats(&f.q)->resent, 0);
	/* Everything the node did not drop reached the gateway. */
	for (i = 1, j = 0; i <= total; i++)
		j += stored[i];
	ck_assert_uint_ge(j, total - edge_report_queue_stats(&f.q)->dropped);
	if (!honour_oldest)
		return;
	/* Every seq is stored or a gap the node declared (below the highest
	 * oldest); the gaps are events it dropped before the gateway got
	 * them. */
	for (i = 1, j = 0; i <= total; i++) {
		ck_assert(stored[i] || i < oldest);
		j += !stored[i];
	}
	ck_assert_uint_le(j, edge_report_queue_stats(&f.q)->dropped);
}

/* A seq dropped before it was ever sent: the next report's oldest tells
 * the gateway, whose acked (§5.6) then passes the gap. */
START_TEST(report_declares_dropped_seqs)
{
	struct edge_msg_ack a;

	setup_queue(2, 3);
	ck_assert_uint_eq(push(1, 0), 1);
	ck_assert_uint_eq(push(2, 0), 2);
	ck_assert_uint_eq(push(3, 0), 3); /* full: 1 dropped unsent */
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 1);
	/* 3 wrapped to the first slot: two reports, both declaring 1 gone. */
	ck_assert_int_eq(batch(0, sizeof f.buf), 1);
	expect_seqs(2, 1);
	ck_assert_uint_eq(f.rep.oldest, 2);
	ck_assert_ptr_nonnull(strstr(f.buf, "\"oldest\":2,\"events\":["));
	ck_assert_int_eq(batch(0, sizeof f.buf), 1);
	expect_seqs(3, 1);
	ck_assert_uint_eq(f.rep.oldest, 2);
	/* Stored 2 and 3, 1 is below oldest: acked 3. */
	a = ack(3, 0);
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 2);
	ck_assert_uint_eq(edge_report_queue_count(&f.q), 0);
	ck_assert_uint_eq(edge_report_queue_oldest(&f.q), 4);

	/* A drop in the middle of sent events: 4 acked by sack only, then 6
	 * pushes 5 out. */
	ck_assert_uint_eq(push(4, 10), 4);
	ck_assert_uint_eq(push(5, 10), 5);
	ck_assert_int_eq(batch(10, sizeof f.buf), 2);
	ck_assert_uint_eq(f.rep.oldest, 4);
	a = ack(3, 0x1);
	ck_assert_uint_eq(edge_report_queue_apply_ack(&f.q, &a), 1);
	ck_assert_uint_eq(edge_report_queue_oldest(&f.q), 5);
	ck_assert_uint_eq(push(6, 10), 6);
	ck_assert_uint_eq(push(7, 10), 7); /* full: 5 dropped after sending */
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 2);
	ck_assert_int_eq(batch(10, sizeof f.buf), 2);
	expect_seqs(6, 2);
	ck_assert_uint_eq(f.rep.oldest, 6);
}
END_TEST

START_TEST(lossy_link_converges)
{
	run_lossy_link(MAX_SLOTS, 300, 20, 0);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped, 0);
}
END_TEST

START_TEST(lossy_link_with_drops_converges)
{
	run_lossy_link(8, 2000, 1, 1);
	ck_assert_uint_gt(edge_report_queue_stats(&f.q)->dropped, 0);
}
END_TEST

/* Random pushes, batches and acks (some of another epoch, some bogus)
 * against a model of the held seqs: the queue frees exactly what an ack
 * covers, drops exactly the oldest when full, and sends only held events,
 * in order. */
START_TEST(random_operations_match_model)
{
	static uint8_t held[40001];
	uint32_t rng = 2024, r, lo, seq, epoch, oldest;
	uint64_t now = 0, sack;
	size_t slots, freed, expect;
	unsigned step, i, n_held = 0, next = 1;
	struct edge_msg_ack a;
	int n;

	memset(held, 0, sizeof held);
	rng = rng * 1103515245u + 12345u;
	slots = 1 + (rng >> 16) % 40;
	setup_queue(slots, 77);
	epoch = edge_report_queue_epoch(&f.q);
	for (step = 0; step < 20000 && next < 40000; step++) {
		rng = rng * 1103515245u + 12345u;
		r = (rng >> 16) % 100;
		now += (rng >> 8) % 1500;
		if (r < 40) {
			uint32_t dropped = edge_report_queue_stats(&f.q)->dropped;

			seq = push(next, now);
			ck_assert_uint_eq(seq, next);
			if (n_held == slots ||
			    edge_report_queue_stats(&f.q)->dropped != dropped) {
				/* Full: the oldest held went. */
				ck_assert_uint_eq(edge_report_queue_stats(&f.q)->dropped,
						  dropped + 1);
				for (i = 1; !held[i]; i++)
					;
				held[i] = 0;
				n_held--;
			}
			held[next++] = 1;
			n_held++;
		} else if (r < 70) {
			n = batch(now, sizeof f.buf);
			ck_assert_int_ge(n, 0);
			for (i = 0; i < (unsigned)n; i++) {
				ck_assert(held[f.rep.events[i].seq]);
				if (i > 0)
					ck_assert_uint_eq(f.rep.events[i].seq,
							  f.rep.events[i - 1].seq + 1);
			}
		} else {
			rng = rng * 1103515245u + 12345u;
			lo = next > 80 ? next - 80 : 0;
			a.epoch = (rng >> 16) % 10 == 0 ? epoch + 1 : epoch;
			a.acked = lo + (rng >> 8) % 90;
			rng = rng * 1103515245u + 12345u;
			sack = ((uint64_t)rng << 32) ^ (rng * 2654435761u);
			a.sack = sack;
			expect = 0;
			if (a.epoch == epoch) {
				for (seq = 1; seq < next; seq++) {
					int covered = seq <= a.acked ||
						      (seq > a.acked && seq - a.acked - 1 < 64 &&
						       (sack >> (seq - a.acked - 1) & 1));
					if (held[seq] && covered) {
						held[seq] = 0;
						n_held--;
						expect++;
					}
				}
			}
			freed = edge_report_queue_apply_ack(&f.q, &a);
			ck_assert_uint_eq(freed, expect);
		}
		ck_assert_uint_eq(edge_report_queue_count(&f.q), n_held);
		for (oldest = 1; oldest < next && !held[oldest]; oldest++)
			;
		/* Every seq below the queue's oldest is settled in the model. */
		ck_assert_uint_le(edge_report_queue_oldest(&f.q), oldest);
		ck_assert(n_held == 0 || edge_report_queue_oldest(&f.q) == oldest);
	}
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->pushed, next - 1);
	ck_assert_uint_eq(edge_report_queue_stats(&f.q)->acked +
				  edge_report_queue_stats(&f.q)->dropped + n_held,
			  next - 1);
}
END_TEST

START_TEST(heartbeat_reports_dropped)
{
	struct edge_msg_heartbeat hb, back;
	char buf[512];
	int n;

	memset(&hb, 0, sizeof hb);
	hb.proto = 1;
	hb.seq = 3;
	hb.free_heap_bytes = 1000;
	n = edge_msg_encode_heartbeat(buf, sizeof buf, &hb);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(strstr(buf, "reports_dropped"));
	ck_assert_int_eq(edge_msg_parse_heartbeat(buf, (size_t)n, &back, NULL), 0);
	ck_assert_int_eq(back.has_reports_dropped, 0);

	hb.has_reports_dropped = 1;
	hb.reports_dropped = EDGE_MSG_UINT_MAX;
	n = edge_msg_encode_heartbeat(buf, sizeof buf, &hb);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"reports_dropped\":9007199254740991"));
	ck_assert_int_eq(edge_msg_parse_heartbeat(buf, (size_t)n, &back, NULL), 0);
	ck_assert(memcmp(&hb, &back, sizeof hb) == 0);

	hb.reports_dropped = EDGE_MSG_UINT_MAX + 1;
	ck_assert_int_eq(edge_msg_encode_heartbeat(buf, sizeof buf, &hb), -EINVAL);
}
END_TEST

TCase *test_report_queue_tcase(void)
{
	TCase *tc = tcase_create("report_queue");

	tcase_add_test(tc, init_takes_epoch);
	tcase_add_test(tc, push_numbers_from_one);
	tcase_add_test(tc, full_drops_oldest);
	tcase_add_test(tc, batch_at_most_32_events);
	tcase_add_test(tc, batch_within_cap);
	tcase_add_test(tc, nothing_due_before_timeout);
	tcase_add_test(tc, backoff_doubles_with_jitter);
	tcase_add_test(tc, configured_timeouts);
	tcase_add_test(tc, ack_contiguous_and_sack);
	tcase_add_test(tc, ack_out_of_order_keeps_slots);
	tcase_add_test(tc, ack_reveals_loss);
	tcase_add_test(tc, foreign_epoch_ignored);
	tcase_add_test(tc, retransmit_carries_followers);
	tcase_add_test(tc, age_at_send_time);
	tcase_add_test(tc, too_old_dropped);
	tcase_add_test(tc, seq_overflow_new_epoch);
	tcase_add_test(tc, one_slot_queue);
	tcase_add_test(tc, lossy_link_converges);
	tcase_add_test(tc, report_declares_dropped_seqs);
	tcase_add_test(tc, lossy_link_with_drops_converges);
	tcase_add_test(tc, random_operations_match_model);
	tcase_add_test(tc, heartbeat_reports_dropped);
	return tc;
}
