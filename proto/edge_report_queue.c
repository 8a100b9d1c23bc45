/* The node's report queue: a ring of slots in seq order.
 *
 * Layout: the slots head, head+1, ... (mod n), `used` of them, hold seqs
 * head_seq, head_seq+1, ... in order, so a seq finds its slot by
 * subtraction. A slot whose event was acked out of order (sack) stays in
 * the ring as a gap (its event's seq set to 0, never a real seq) until the
 * events before it go; the head slot always holds an event. Traps:
 * - The encoder takes a contiguous array, so a batch is a run of adjacent
 *   slots: it ends at a gap and at the end of the array (wrap).
 * - age_ms on the wire is the age at send time: the slot keeps the age at
 *   push and the push time, and age_ms is rewritten before each encode.
 * - seq is 32 bits and never 0: positions are computed in 64 bits, and a
 *   push that would pass UINT32_MAX starts a new epoch instead. */
#include "edge_report_queue.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "edge_report_internal.h"

/* ---------------------------------------------------------------- helpers */

static uint32_t slot_of(const struct edge_report_queue *q, uint32_t pos)
{
	uint32_t i = q->head + pos;

	return i >= q->n ? i - q->n : i;
}

static int is_live(const struct edge_report_queue *q, uint32_t slot)
{
	return q->ev[slot].seq != 0;
}

/* xorshift32: small, good enough for jitter, state in the queue. */
static uint32_t next_random(struct edge_report_queue *q)
{
	uint32_t x = q->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	q->rng = x;
	return x;
}

/* Wait after the backoff-th transmission: uniform in [T/2, T]. */
static uint32_t retransmit_wait(struct edge_report_queue *q, uint8_t backoff)
{
	uint32_t t = q->rto_base_ms, half;
	uint8_t i;

	for (i = 1; i < backoff && t < q->rto_max_ms; i++)
		t = t > q->rto_max_ms / 2 ? q->rto_max_ms : t * 2;
	half = t / 2;
	return half + next_random(q) % (t - half + 1);
}

/* Free the event in slot (acked or dropped); the caller trims. */
static void free_slot(struct edge_report_queue *q, uint32_t slot)
{
	assert(is_live(q, slot) && q->live > 0);
	q->ev[slot].seq = 0;
	q->live--;
}

/* Drop gaps at the head, so the head slot holds an event or used is 0. */
static void trim(struct edge_report_queue *q)
{
	while (q->used > 0 && !is_live(q, q->head)) {
		q->head = q->head + 1 == q->n ? 0 : q->head + 1;
		q->head_seq++;
		q->used--;
	}
	if (q->used == 0)
		q->head = 0; /* longest contiguous runs */
}

static void drop_all(struct edge_report_queue *q)
{
	uint32_t pos, slot;

	for (pos = 0; pos < q->used; pos++) {
		slot = slot_of(q, pos);
		if (is_live(q, slot)) {
			free_slot(q, slot);
			q->stats.dropped++;
		}
	}
	trim(q);
}

static uint64_t age_at(const struct edge_report_queue *q, uint32_t slot,
		       uint64_t now_ms)
{
	const struct edge_report_slot_state *st = &q->st[slot];

	return st->age0_ms + (now_ms > st->pushed_ms ? now_ms - st->pushed_ms : 0);
}

static int is_due(const struct edge_report_queue *q, uint32_t slot,
		  uint64_t now_ms)
{
	return is_live(q, slot) &&
	       (!q->st[slot].sent || q->st[slot].due_ms <= now_ms);
}

/* ------------------------------------------------------------------- API */

int edge_report_queue_init(struct edge_report_queue *q,
			   struct edge_report_event *events,
			   struct edge_report_slot_state *states, size_t n_slots,
			   const struct edge_report_queue_config *cfg)
{
	uint32_t base, max, i;

	if (!q || !events || !states || !cfg || !cfg->next_epoch ||
	    n_slots == 0 || n_slots > UINT32_MAX / 2)
		return -EINVAL;
	base = cfg->rto_base_ms ? cfg->rto_base_ms : EDGE_REPORT_RTO_BASE_MS;
	max = cfg->rto_max_ms ? cfg->rto_max_ms : EDGE_REPORT_RTO_MAX_MS;
	if (max < base)
		return -EINVAL;

	memset(q, 0, sizeof *q);
	q->ev = events;
	q->st = states;
	q->n = (uint32_t)n_slots;
	for (i = 0; i < q->n; i++)
		q->ev[i].seq = 0;
	q->rto_base_ms = base;
	q->rto_max_ms = max;
	q->rng = cfg->seed ? cfg->seed : 0x9e3779b9u; /* xorshift needs != 0 */
	q->next_epoch = cfg->next_epoch;
	q->ud = cfg->ud;
	q->epoch = q->next_epoch(q->ud);
	q->head_seq = 1;
	return 0;
}

uint32_t edge_report_queue_push(struct edge_report_queue *q,
				const struct edge_report_event *ev,
				uint64_t now_ms)
{
	struct edge_report_event *slot_ev;
	struct edge_report_slot_state *st;
	uint64_t seq;
	uint32_t slot;

	assert(q && q->n > 0);
	/* The caller's seq is not ours to check; checked in place, since a
	 * copy would cost a slot's size of stack. */
	if (!ev || !edge_report_event_fields_valid(ev))
		return 0;

	seq = (uint64_t)q->head_seq + q->used;
	if (seq == 0 || seq > UINT32_MAX) {
		drop_all(q);
		q->epoch = q->next_epoch(q->ud);
		q->head = 0;
		q->head_seq = 1;
		seq = 1;
	}
	if (q->used == q->n) {
		/* Full: the head holds the oldest unacked event. */
		free_slot(q, q->head);
		q->stats.dropped++;
		trim(q);
	}

	slot = slot_of(q, q->used);
	slot_ev = &q->ev[slot];
	st = &q->st[slot];
	*slot_ev = *ev;
	slot_ev->seq = (uint32_t)seq;
	memset(st, 0, sizeof *st);
	st->pushed_ms = now_ms;
	st->age0_ms = ev->has_ts ? 0 : ev->age_ms;
	q->used++;
	q->live++;
	q->stats.pushed++;
	return (uint32_t)seq;
}

/* Drop events without ts that are too old to encode. */
static void expire(struct edge_report_queue *q, uint64_t now_ms)
{
	uint32_t pos, slot;

	for (pos = 0; pos < q->used; pos++) {
		slot = slot_of(q, pos);
		if (is_live(q, slot) && !q->ev[slot].has_ts &&
		    age_at(q, slot, now_ms) > EDGE_REPORT_AGE_MAX_MS) {
			free_slot(q, slot);
			q->stats.dropped++;
		}
	}
	trim(q);
}

int edge_report_queue_next_batch(struct edge_report_queue *q, uint64_t now_ms,
				 char *buf, size_t cap, size_t *len)
{
	struct edge_report_slot_state *st;
	uint32_t pos, first, run, k, slot;
	size_t fit;
	int n;

	assert(q && buf && len);
	*len = 0;
	if (cap > 0)
		buf[0] = '\0';
	expire(q, now_ms);

	for (pos = 0; pos < q->used && !is_due(q, slot_of(q, pos), now_ms); pos++)
		;
	if (pos == q->used)
		return 0;

	/* The run: adjacent slots holding events, due or not. */
	first = slot_of(q, pos);
	for (run = 0; run < EDGE_REPORT_MAX_EVENTS && pos + run < q->used &&
		      first + run < q->n && is_live(q, first + run); run++) {
		slot = first + run;
		if (!q->ev[slot].has_ts)
			q->ev[slot].age_ms = (uint32_t)age_at(q, slot, now_ms);
	}
	assert(run >= 1);

	/* oldest: head_seq, so the gateway can settle the seqs this queue
	 * dropped instead of waiting for them. */
	fit = edge_msg_report_fit(q->epoch, q->head_seq, &q->ev[first], run, cap);
	if (fit == 0)
		return -ENOSPC;
	n = edge_msg_encode_report(buf, cap, q->epoch, q->head_seq, &q->ev[first],
				   fit);
	if (n < 0) /* fit said it fits: not expected */
		return n;

	for (k = 0; k < fit; k++) {
		st = &q->st[first + k];
		/* Only an event that was due backs off further: one carried
		 * along early keeps its count and restarts its wait. */
		if (is_due(q, first + k, now_ms) && st->backoff < UINT8_MAX)
			st->backoff++;
		if (st->sent)
			q->stats.resent++;
		else
			q->stats.sent++;
		st->sent = 1;
		st->batch = q->batch;
		st->due_ms = now_ms + retransmit_wait(q, st->backoff);
	}
	q->batch++;
	q->stats.batches++;
	*len = (size_t)n;
	return (int)fit;
}

/* Report numbers wrap: a was sent before b. */
static int batch_before(uint32_t a, uint32_t b)
{
	return (uint32_t)(b - a) - 1 < UINT32_MAX / 2;
}

/* Free the event with this seq if the queue holds it; *newest: the latest
 * report that carried a freed event, if *any_sent. */
static size_t ack_seq(struct edge_report_queue *q, uint64_t seq,
		      uint32_t *newest, int *any_sent)
{
	const struct edge_report_slot_state *st;
	uint32_t slot;

	if (seq < q->head_seq || seq >= (uint64_t)q->head_seq + q->used)
		return 0;
	slot = slot_of(q, (uint32_t)(seq - q->head_seq));
	if (!is_live(q, slot))
		return 0;
	st = &q->st[slot];
	if (st->sent && (!*any_sent || batch_before(*newest, st->batch))) {
		*newest = st->batch;
		*any_sent = 1;
	}
	free_slot(q, slot);
	return 1;
}

size_t edge_report_queue_apply_ack(struct edge_report_queue *q,
				   const struct edge_msg_ack *ack)
{
	struct edge_report_slot_state *st;
	uint32_t newest = 0, pos, slot;
	int any_sent = 0;
	size_t freed = 0;
	uint64_t seq, end;
	unsigned i;

	assert(q && ack);
	if (ack->epoch != q->epoch) {
		q->stats.foreign_acks++;
		return 0;
	}
	end = (uint64_t)q->head_seq + q->used;
	for (seq = q->head_seq; seq <= ack->acked && seq < end; seq++)
		freed += ack_seq(q, seq, &newest, &any_sent);
	for (i = 0; i < 64; i++)
		if (ack->sack & ((uint64_t)1 << i))
			freed += ack_seq(q, (uint64_t)ack->acked + 1 + i, &newest,
					 &any_sent);
	trim(q);
	q->stats.acked += (uint32_t)freed;

	/* Reports arrive in order: what went out before the newest acked
	 * report and is still held was lost. Due now, and only once per
	 * transmission (its next one is not before `newest`). */
	for (pos = 0; any_sent && pos < q->used; pos++) {
		slot = slot_of(q, pos);
		st = &q->st[slot];
		if (is_live(q, slot) && st->sent && st->due_ms != 0 &&
		    batch_before(st->batch, newest)) {
			st->due_ms = 0;
			q->stats.lost++;
		}
	}
	return freed;
}

uint64_t edge_report_queue_next_deadline(const struct edge_report_queue *q)
{
	uint64_t best = UINT64_MAX, t;
	uint32_t pos, slot;

	assert(q);
	for (pos = 0; pos < q->used; pos++) {
		slot = slot_of(q, pos);
		if (!is_live(q, slot))
			continue;
		t = q->st[slot].sent ? q->st[slot].due_ms : q->st[slot].pushed_ms;
		if (t < best)
			best = t;
	}
	return best;
}

void edge_report_queue_retry_now(struct edge_report_queue *q)
{
	uint32_t pos, slot;

	assert(q);
	for (pos = 0; pos < q->used; pos++) {
		slot = slot_of(q, pos);
		q->st[slot].due_ms = 0;
		q->st[slot].backoff = 0;
	}
}

uint32_t edge_report_queue_oldest(const struct edge_report_queue *q)
{
	assert(q);
	return q->head_seq;
}

size_t edge_report_queue_count(const struct edge_report_queue *q)
{
	assert(q);
	return q->live;
}

uint32_t edge_report_queue_epoch(const struct edge_report_queue *q)
{
	assert(q);
	return q->epoch;
}

const struct edge_report_queue_stats *
edge_report_queue_stats(const struct edge_report_queue *q)
{
	assert(q);
	return &q->stats;
}
