/* The gateway's side of one OTA transfer (proto/ota/transfer.md §5): one
 * package, one chunk size, one transfer id, a set of nodes. Pure logic: it
 * owns no socket, timer or database. The daemon feeds it answers, node
 * presence and the clock, and it sends frames and reports state changes
 * through struct edge_ota_sender_io.
 *
 * Per node: offer (re-sent after offer_timeout_ms, at most offer_tries
 * times) → accept (resume point, max chunk, window) or deny (final) →
 * chunks → the ack that holds every chunk → wait for the result (bounded by
 * result_timeout_ms) → activated / reverted / failed.
 *
 * Delivery:
 * - Unicast (one node, or campaign off): a sliding window of
 *   min(node window, cfg.window) chunks in flight, selective acks, a
 *   retransmission timeout per node from measured round trips (RFC 6298:
 *   SRTT, RTTVAR, RTO = SRTT + 4·RTTVAR clamped to [rto_min_ms,
 *   rto_max_ms], Karn's rule, doubled on a timeout).
 * - Campaign (cfg.campaign and more than one node): every chunk is
 *   published once on the campaign topic, in order, starting when every
 *   offered node answered or campaign_gather_ms after the first offer; a
 *   node that accepts later takes the rest of the pass. Chunk j of a node
 *   that the node's acks do not hold is repaired by unicast (same window
 *   and RTO rules) once the node has acked anything sent after j (frames
 *   to one node arrive in order), or took nothing new for one RTO since j
 *   was published.
 * - Every byte sent (campaign and unicast) takes tokens from the shared
 *   pacer: cfg.rate_bytes_per_s over all transfers.
 *
 * A node that goes offline, or whose acks make no progress for
 * stall_timeout_ms, is STALLED (reason timeout, counted); it is offered
 * again (resuming) when it comes back online (edge_ota_sender_node_online)
 * or retry_interval_ms later. One that stays without progress (stalled,
 * offered without an accept) for give_up_ms FAILS (timeout), so a node
 * that never comes back does not hold its transfer open forever.
 *
 * Threading: loop thread only. Memory: O(nodes × (64 + n_chunks / 8)) plus
 * one timestamp per chunk of the campaign pass. */
#ifndef EDGE_OTA_SENDER_H
#define EDGE_OTA_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_ota_transfer.h"

#define EDGE_OTA_NODE_ID_MAX 64

/* Byte-rate limit shared by every transfer (token bucket, burst = an
 * eighth of a second's worth or 4 KB, whichever is larger). */
struct edge_ota_pacer {
	uint64_t rate;          /* bytes per second; 0: unlimited */
	double tokens;
	uint64_t last_ms;
};
void edge_ota_pacer_init(struct edge_ota_pacer *p, uint64_t rate_bytes_per_s, uint64_t now_ms);
/* Take n bytes if available now: true. Else false and *ready_ms gets when. */
bool edge_ota_pacer_take(struct edge_ota_pacer *p, size_t n, uint64_t now_ms, uint64_t *ready_ms);

struct edge_ota_sender_config {
	uint32_t chunk_size;          /* EDGE_OTA_CHUNK_MIN .. EDGE_OTA_CHUNK_MAX */
	uint32_t window;              /* cap on a node's window, 1 .. EDGE_OTA_WINDOW_MAX */
	bool campaign;                /* publish once on the campaign topic (>1 node) */
	uint32_t campaign_gather_ms;  /* wait for accepts before the pass (default 2000) */
	uint32_t rto_initial_ms;      /* before any round trip is measured (1000) */
	uint32_t rto_min_ms;          /* (200) */
	uint32_t rto_max_ms;          /* (10000) */
	uint32_t offer_timeout_ms;    /* (5000) */
	uint32_t offer_tries;         /* (3) then stalled */
	uint32_t stall_timeout_ms;    /* no ack progress (30000) */
	uint32_t result_timeout_ms;   /* all acked → result (60000) */
	uint32_t retry_interval_ms;   /* a stalled node is offered again (60000) */
	uint32_t give_up_ms;          /* stalled (offline, no accept, no progress) this
				       * long without a break: failed, timeout (86400000) */
};
void edge_ota_sender_config_defaults(struct edge_ota_sender_config *c);

enum edge_ota_node_state {
	EDGE_OTA_N_OFFERED = 0,       /* offer sent, no answer yet */
	EDGE_OTA_N_RECEIVING,
	EDGE_OTA_N_VERIFYING,         /* every chunk acked, waiting for the result */
	EDGE_OTA_N_STALLED,           /* paused: offline or timed out; will be offered again */
	EDGE_OTA_N_ACTIVATED,         /* final states from here */
	EDGE_OTA_N_REVERTED,
	EDGE_OTA_N_FAILED,
	EDGE_OTA_N_DENIED,
	EDGE_OTA_N_CANCELLED,
	EDGE_OTA_N_STATE_COUNT
};
const char *edge_ota_node_state_name(enum edge_ota_node_state s);
int edge_ota_node_state_from_name(const char *s);
static inline bool edge_ota_node_state_final(enum edge_ota_node_state s)
{
	return s >= EDGE_OTA_N_ACTIVATED;
}

/* One node's transfer, as shown and persisted. */
struct edge_ota_node_status {
	char id[EDGE_OTA_NODE_ID_MAX + 1];
	uint8_t state;                /* enum edge_ota_node_state */
	uint8_t reason;               /* enum edge_ota_reason of the last end/stall/deny */
	uint32_t chunks_held;         /* per the node's latest ack */
	uint32_t n_chunks;
	uint64_t bytes_sent;          /* unicast + this node's share of nothing: unicast only */
	uint32_t unicast_chunks;      /* chunks sent to this node alone */
	uint32_t retransmits;         /* chunks sent again after a timeout or a sack gap */
	uint32_t offers;
	uint32_t srtt_ms, rto_ms;
	uint64_t started_ms, updated_ms, finished_ms;  /* wall clock */
	char output_sha256[EDGE_MSG_SHA256_HEX + 1];   /* activated: the self-test's hash */
	char detail[128];             /* deny's or result's detail */
};

struct edge_ota_sender;

struct edge_ota_sender_io {
	void *ud;
	/* Publish a frame to one node (<p>/<id>/ota/frame); reliable: QoS 1
	 * (offer, cancel) else QoS 0. 0, or < 0: treated as lost. */
	int (*send_node)(void *ud, const char *id, const void *frame, size_t len, bool reliable);
	/* Publish a chunk frame on the campaign topic of this transfer. */
	int (*send_campaign)(void *ud, uint32_t transfer, const void *frame, size_t len);
	/* The node's status changed state (not called for byte counters
	 * alone; edge_ota_sender_status reads those). Called from inside the
	 * sender's functions: it must not call into or free the sender (free
	 * it after the call that finished it returns). */
	void (*changed)(void *ud, struct edge_ota_sender *s, const struct edge_ota_node_status *st);
};

/* pkg[0..pkg_len) is the whole package file (borrowed: keep it alive and
 * unchanged until edge_ota_sender_free); it must have parsed and verified.
 * 0, -EINVAL, -ENOMEM. */
EDGE_WUR int edge_ota_sender_new(uint32_t transfer, const uint8_t *pkg, size_t pkg_len,
				 const struct edge_ota_sender_config *cfg,
				 const struct edge_ota_sender_io *io, struct edge_ota_pacer *pacer,
				 struct edge_ota_sender **out);
void edge_ota_sender_free(struct edge_ota_sender *s);

uint32_t edge_ota_sender_transfer(const struct edge_ota_sender *s);
uint32_t edge_ota_sender_n_chunks(const struct edge_ota_sender *s);

/* Add a node. online: offer at the next poll, else STALLED until online.
 * resume (may be NULL): its persisted status (after a gateway restart;
 * a final state stays final). -EEXIST, -EINVAL, -ENOMEM. */
EDGE_WUR int edge_ota_sender_add(struct edge_ota_sender *s, const char *id, bool online,
				 const struct edge_ota_node_status *resume, uint64_t wall_ms,
				 uint64_t now_ms);

void edge_ota_sender_node_online(struct edge_ota_sender *s, const char *id, uint64_t now_ms);
void edge_ota_sender_node_offline(struct edge_ota_sender *s, const char *id, uint64_t now_ms);

/* An answer of node id for this transfer. 0, EDGE_ENOTFOUND (no such
 * node here), -EPROTO (contradicts the transfer: wrong sha256, a chunk
 * index out of range in `have`...; counted by the caller). */
int edge_ota_sender_on_answer(struct edge_ota_sender *s, const char *id,
			      const struct edge_ota_answer *a, uint64_t wall_ms, uint64_t now_ms);

/* Cancel one node (id) or all (NULL): a cancel frame to each node not
 * final, state CANCELLED. */
void edge_ota_sender_cancel(struct edge_ota_sender *s, const char *id, uint64_t wall_ms,
			    uint64_t now_ms);

/* Send what is due. Returns the monotonic ms of the next deadline
 * (UINT64_MAX: nothing pending). */
uint64_t edge_ota_sender_poll(struct edge_ota_sender *s, uint64_t wall_ms, uint64_t now_ms);

/* The earliest deadline as poll would return it, without sending: on_answer,
 * add, node_online/offline and cancel may move it (re-arm a timer). */
uint64_t edge_ota_sender_next_deadline(const struct edge_ota_sender *s);

/* Counts over the transfer. */
struct edge_ota_sender_stats {
	unsigned nodes, by_state[EDGE_OTA_N_STATE_COUNT];
	uint64_t campaign_chunks, campaign_bytes;    /* published on the campaign topic */
	uint64_t unicast_chunks, unicast_bytes, retransmits, offers;
	uint64_t bad_answers;
};
void edge_ota_sender_get_stats(const struct edge_ota_sender *s, struct edge_ota_sender_stats *out);

bool edge_ota_sender_finished(const struct edge_ota_sender *s);  /* every node final */

/* Copy node id's status. 0 or EDGE_ENOTFOUND. */
int edge_ota_sender_status(const struct edge_ota_sender *s, const char *id,
			   struct edge_ota_node_status *out);
/* Every node, in the order added; fn returns non-zero to stop. */
void edge_ota_sender_foreach(const struct edge_ota_sender *s,
			     int (*fn)(const struct edge_ota_node_status *st, void *ud), void *ud);

#endif
