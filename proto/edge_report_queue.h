/* The node's report queue (device SDK): anomaly events wait here, numbered
 * (epoch, seq), until an ack of the gateway says they are stored.
 * node-protocol.md §5.7 is the normative description of the behaviour.
 *
 * Storage: the caller provides the queue struct and two arrays of n slots,
 * events[n] and states[n] (static or on the heap, alive as long as the
 * queue; nothing is allocated). The queue owns their contents after init:
 * the caller never reads or writes them. On Cortex-M4 a slot takes 272
 * bytes of event and 32 of state, the queue struct 88: 64 slots are about
 * 19 KB of RAM.
 *
 * Rules:
 * - Epoch: init asks cfg->next_epoch(ud) for the epoch (the firmware reads
 *   its stored epoch, increments it, persists it and returns it, or draws a
 *   random 32-bit value when it has nowhere to persist); seq restarts at 1.
 *   If seq would pass UINT32_MAX, the queued events are dropped (counted)
 *   and a new epoch is asked for.
 * - Full: push drops the oldest unacknowledged event and counts it in
 *   stats.dropped (the node sends that count in its heartbeat as
 *   reports_dropped). The queue is full when the slots from the oldest
 *   unacknowledged event to the newest are all in use: an event acked out
 *   of order frees its slot only once the ones before it go.
 * - Age: an event without a clock time (has_ts false) is sent with its age
 *   at send time: its age_ms at push plus the time since. One whose age
 *   passes EDGE_REPORT_AGE_MAX_MS (30 days) before it is acked is dropped
 *   (counted) by the next next_batch.
 * - Retransmission: an event sent and not acked is due again after a
 *   timeout: after its n-th transmission when due (never sent or timed
 *   out) since the last backoff restart, a uniformly random time in
 *   [T/2, T] with T = min(rto_max_ms, rto_base_ms · 2^(n−1)) (defaults 5 s
 *   and 60 s: 2.5–5 s, 5–10 s, 10–20 s, 20–40 s, then 30–60 s). An event
 *   carried along before it was due keeps n and restarts its wait. The
 *   jitter comes from a small PRNG seeded by cfg->seed and kept in the
 *   queue (no shared libc state).
 * - Loss detection: reports reach the gateway in the order they were sent
 *   (QoS 1 on one MQTT connection, one writer at the gateway), so when an
 *   ack covers an event, every held event last sent in an earlier report
 *   was lost: it is due at once (stats.lost) instead of at its timeout.
 * - Batches: next_batch encodes one report with the oldest event that is
 *   due (never sent, or its timeout passed) and the unacknowledged events
 *   that follow it in seq order, even those not due yet, so a backlog goes
 *   out in full reports: at most EDGE_REPORT_MAX_EVENTS and cap bytes; a
 *   batch also ends at a gap left by an out-of-order ack or at the end of
 *   the slot array. Call it until it returns 0. Every report's `oldest` is
 *   edge_report_queue_oldest: the gateway settles the seqs below it, so an
 *   event dropped here does not stall its acks.
 *
 * Time: now_ms is any monotonic millisecond clock of the caller's that
 * does not wrap (extend a 32-bit tick to 64 bits); the same clock for
 * every call.
 *
 * Thread: none of its own; not thread-safe. One thread (or an ISR-free
 * context) uses a queue at a time; distinct queues are independent.
 * C99, libc only (<string.h>), no allocation, no global state. */
#ifndef EDGE_REPORT_QUEUE_H
#define EDGE_REPORT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "edge_proto.h"
#include "edge_report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default retransmission timeout bounds (see the rules above). */
#define EDGE_REPORT_RTO_BASE_MS 5000u
#define EDGE_REPORT_RTO_MAX_MS 60000u

struct edge_report_queue_config {
	/* Required: the epoch for the events that follow (see above). Called
	 * by init and on seq overflow. */
	uint32_t (*next_epoch)(void *ud);
	void *ud;
	/* Jitter PRNG seed: different on every node (e.g. from the chip's
	 * unique id or radio noise), else a fleet retransmits in step. */
	uint32_t seed;
	uint32_t rto_base_ms; /* 0: EDGE_REPORT_RTO_BASE_MS */
	uint32_t rto_max_ms;  /* 0: EDGE_REPORT_RTO_MAX_MS; >= rto_base_ms */
};

/* Counters since init; they wrap at 2^32. */
struct edge_report_queue_stats {
	uint32_t pushed;       /* events accepted by push */
	uint32_t sent;         /* events transmitted for the first time */
	uint32_t resent;       /* retransmissions of events */
	uint32_t batches;      /* reports encoded */
	uint32_t acked;        /* events freed by acks */
	uint32_t dropped;      /* events discarded unacked: full, too old, seq overflow */
	uint32_t foreign_acks; /* acks of another epoch, ignored */
	uint32_t lost;         /* events found lost by an ack (resent at once) */
};

/* Per-slot bookkeeping; the queue's own (fields not part of the API). */
struct edge_report_slot_state {
	uint64_t pushed_ms; /* now_ms at push */
	uint64_t due_ms;    /* next retransmission, once sent */
	uint32_t age0_ms;   /* age at push (events without ts) */
	uint32_t batch;     /* report number of its last transmission */
	uint8_t sent;       /* transmitted at least once */
	uint8_t backoff;    /* transmissions since the last backoff restart */
};

/* Fields are private: use the functions below. */
struct edge_report_queue {
	struct edge_report_event *ev;
	struct edge_report_slot_state *st;
	uint32_t n;        /* slots */
	uint32_t head;     /* slot of the oldest unacked event */
	uint32_t used;     /* slots in use from head on (events and gaps) */
	uint32_t live;     /* events held */
	uint32_t head_seq; /* seq of the head slot; the next seq when used == 0 */
	uint32_t epoch;
	uint32_t batch;    /* reports encoded, for ordering transmissions */
	uint32_t rng;
	uint32_t rto_base_ms, rto_max_ms;
	uint32_t (*next_epoch)(void *ud);
	void *ud;
	struct edge_report_queue_stats stats;
};

/* Set up an empty queue over events[n_slots] and states[n_slots] and take
 * its epoch from cfg->next_epoch (cfg is copied). 0, or -EINVAL: a NULL
 * argument or callback, n_slots 0 or above UINT32_MAX / 2, rto_max_ms below
 * rto_base_ms. */
EDGE_PROTO_WUR int edge_report_queue_init(struct edge_report_queue *q,
					  struct edge_report_event *events,
					  struct edge_report_slot_state *states,
					  size_t n_slots,
					  const struct edge_report_queue_config *cfg);

/* Queue a copy of *ev (its seq is ignored; without has_ts, age_ms is its
 * age now, usually 0) and return the seq it gets, >= 1. When full, the
 * oldest unacknowledged event is dropped first (stats.dropped). 0: ev is
 * NULL or breaks a per-event rule of §5.5 (edge_report_event_valid);
 * nothing queued, nothing dropped. */
EDGE_PROTO_WUR uint32_t edge_report_queue_push(struct edge_report_queue *q,
					       const struct edge_report_event *ev,
					       uint64_t now_ms);

/* Encode the next report into buf[0..cap) (NUL-terminated, *len its
 * length) and mark its events sent at now_ms. Returns how many events it
 * holds (1..EDGE_REPORT_MAX_EVENTS), 0 when nothing is due (*len = 0), or
 * -ENOSPC when cap cannot hold even the first due event (nothing marked;
 * cap = EDGE_MSG_MAX_PAYLOAD always suffices). Publish it on
 * edge/v1/<id>/report with QoS 1. Also drops events grown too old. */
EDGE_PROTO_WUR int edge_report_queue_next_batch(struct edge_report_queue *q,
						uint64_t now_ms, char *buf,
						size_t cap, size_t *len);

/* Apply an ack (parsed with edge_msg_parse_ack): free every held event of
 * the current epoch with seq <= ack->acked or named by a sack bit, and make
 * due the held events sent before the newest one it freed (loss
 * detection, above). An ack of another epoch frees nothing and counts in
 * stats.foreign_acks. Returns the number of events freed (a repeated ack
 * frees none). */
size_t edge_report_queue_apply_ack(struct edge_report_queue *q,
				   const struct edge_msg_ack *ack);

/* When next_batch next has something to send: a time <= now if an event
 * is due already, UINT64_MAX if the queue is empty. For the firmware's
 * timer; a new push makes a new event due at once. */
uint64_t edge_report_queue_next_deadline(const struct edge_report_queue *q);

/* Make every unacknowledged event due now and restart its backoff at the
 * base: call after the MQTT connection comes back, so the backlog does not
 * wait for long timeouts. */
void edge_report_queue_retry_now(struct edge_report_queue *q);

/* The oldest seq the queue still holds (the next seq when empty): every
 * seq of this epoch below it was acked or dropped and is never sent
 * again. A gateway needs it to settle seqs the node dropped. */
uint32_t edge_report_queue_oldest(const struct edge_report_queue *q);

/* Events held (unacknowledged), the current epoch, the counters. */
size_t edge_report_queue_count(const struct edge_report_queue *q);
uint32_t edge_report_queue_epoch(const struct edge_report_queue *q);
const struct edge_report_queue_stats *
edge_report_queue_stats(const struct edge_report_queue *q);

#ifdef __cplusplus
}
#endif

#endif
