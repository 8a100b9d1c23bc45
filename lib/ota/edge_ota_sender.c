/* The gateway's side of one OTA transfer (edge_ota_sender.h has the rules).
 *
 * Structure:
 * - nodes: an array in the order added, found by id through an open
 *   addressing table of indexes (O(1) answer handling);
 * - a binary min-heap of nodes keyed by their next deadline (offer
 *   timeout, oldest in-flight chunk + RTO, repair eligibility, stall,
 *   result timeout, retry, pacer), so poll touches only nodes that are due;
 * - the campaign pass: a cursor over the chunks and each chunk's publish
 *   time (repair eligibility and RTT samples).
 * After on_answer, add, node_online/offline or cancel the earliest
 * deadline may have moved: call poll (cheap when nothing is due) or
 * edge_ota_sender_next_deadline to re-arm the caller's timer. */
#include "edge_ota_sender.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_DEADLINE UINT64_MAX
#define NO_HEAP UINT32_MAX
/* An eighth of a second's worth, at least 4 KB: enough to keep a window
 * moving, small enough that pacing holds for a small package too. */
#define PACER_BURST_MIN 4096.0

/* ---- pacer ---- */

static double pacer_burst(const struct edge_ota_pacer *p)
{
	double r = (double)p->rate / 8.0;
	return r > PACER_BURST_MIN ? r : PACER_BURST_MIN;
}

void edge_ota_pacer_init(struct edge_ota_pacer *p, uint64_t rate_bytes_per_s, uint64_t now_ms)
{
	assert(p != NULL);
	p->rate = rate_bytes_per_s;
	p->last_ms = now_ms;
	p->tokens = pacer_burst(p);
}

static void pacer_refill(struct edge_ota_pacer *p, uint64_t now_ms)
{
	if (now_ms <= p->last_ms)
		return;
	p->tokens += (double)p->rate * (double)(now_ms - p->last_ms) / 1000.0;
	double burst = pacer_burst(p);
	if (p->tokens > burst)
		p->tokens = burst;
	p->last_ms = now_ms;
}

bool edge_ota_pacer_take(struct edge_ota_pacer *p, size_t n, uint64_t now_ms, uint64_t *ready_ms)
{
	assert(p != NULL);
	if (p->rate == 0)
		return true;
	pacer_refill(p, now_ms);
	/* A frame larger than the burst goes out from a full bucket (the
	 * balance turns negative) so that it cannot wait forever. */
	double need = (double)n;
	double burst = pacer_burst(p);
	if (need > burst)
		need = burst;
	if (p->tokens >= need) {
		p->tokens -= (double)n;
		return true;
	}
	if (ready_ms) {
		double wait = (need - p->tokens) * 1000.0 / (double)p->rate;
		uint64_t w = (uint64_t)wait + 1;
		*ready_ms = now_ms + w;
	}
	return false;
}

/* Bytes that must go out regardless (cancel): charged, never refused. */
static void pacer_force(struct edge_ota_pacer *p, size_t n, uint64_t now_ms)
{
	if (p->rate == 0)
		return;
	pacer_refill(p, now_ms);
	p->tokens -= (double)n;
}

/* ---- names and defaults ---- */

static const char *const state_names[EDGE_OTA_N_STATE_COUNT] = {
	[EDGE_OTA_N_OFFERED] = "offered",     [EDGE_OTA_N_RECEIVING] = "receiving",
	[EDGE_OTA_N_VERIFYING] = "verifying", [EDGE_OTA_N_STALLED] = "stalled",
	[EDGE_OTA_N_ACTIVATED] = "activated", [EDGE_OTA_N_REVERTED] = "reverted",
	[EDGE_OTA_N_FAILED] = "failed",       [EDGE_OTA_N_DENIED] = "denied",
	[EDGE_OTA_N_CANCELLED] = "cancelled",
};

const char *edge_ota_node_state_name(enum edge_ota_node_state s)
{
	return (unsigned)s < EDGE_OTA_N_STATE_COUNT ? state_names[s] : "unknown";
}

int edge_ota_node_state_from_name(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < EDGE_OTA_N_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

void edge_ota_sender_config_defaults(struct edge_ota_sender_config *c)
{
	assert(c != NULL);
	*c = (struct edge_ota_sender_config){
		.chunk_size = 1024,
		.window = 16,
		.campaign = true,
		.campaign_gather_ms = 2000,
		.rto_initial_ms = 1000,
		.rto_min_ms = 200,
		.rto_max_ms = 10000,
		.offer_timeout_ms = 5000,
		.offer_tries = 3,
		.stall_timeout_ms = 30000,
		.result_timeout_ms = 60000,
		.retry_interval_ms = 60000,
		.give_up_ms = 86400000,
	};
}

/* ---- state ---- */

struct inflight {
	uint32_t index;
	uint32_t tries;          /* 1: sent once (a valid RTT sample under Karn's rule) */
	uint64_t sent_ms;
	uint64_t seq;            /* send order within the node (sack gap detection) */
	bool lost;               /* a later chunk was acked: resend without waiting */
};

struct node {
	struct edge_ota_node_status st;
	uint8_t *acked;          /* n_chunks bits */
	uint32_t scan_from;      /* every chunk below is acked */
	uint32_t hi_new;         /* 1 + highest chunk newly acked by an ack (campaign repair) */
	uint32_t horizon;        /* its answers cannot tell about chunks from here on */
	uint32_t window;         /* min(node's, cfg) */
	struct inflight *inf;    /* cfg.window entries */
	uint32_t n_inf;
	uint64_t seq;
	double srtt, rttvar, rto;
	bool have_rtt;
	uint32_t offer_round;    /* offers sent since the last (re-)offer began */
	uint64_t offer_ms;       /* last offer sent */
	uint64_t accept_ms;
	uint64_t state_ms;       /* monotonic time of the last state change */
	uint64_t stalled_ms;     /* first stall since the last accept, 0: none */
	uint64_t progress_ms;    /* last ack that held a new chunk (or accept) */
	uint64_t sent_ms;        /* last chunk sent to it alone */
	uint64_t pacer_ms;       /* pacer refused: wait until then */
	uint64_t deadline;
	uint32_t heap_pos;       /* NO_HEAP when no deadline */
	uint32_t idx;            /* in nodes[] */
};

enum pass_state { PASS_OFF = 0, PASS_WAIT, PASS_RUN, PASS_DONE };

struct edge_ota_sender {
	uint32_t transfer;
	struct edge_ota_sender_config cfg;
	struct edge_ota_sender_io io;
	struct edge_ota_pacer *pacer;
	const uint8_t *head;
	size_t head_len;
	const uint8_t *model;
	uint64_t model_len;
	char sha256[EDGE_MSG_SHA256_HEX + 1];   /* the model's, as answers carry it */
	uint32_t n_chunks;
	uint8_t *frame;
	size_t frame_cap;

	struct node **nodes;     /* order added */
	uint32_t n_nodes, cap_nodes;
	uint32_t *table;         /* index + 1, 0 empty; power of two */
	uint32_t table_cap;
	uint32_t *heap;
	uint32_t n_heap;

	bool mode_fixed, campaign;
	enum pass_state pass;
	uint32_t cursor;         /* chunks [0, cursor) had their turn in the pass */
	uint64_t *pub_ms;        /* campaign: publish time of each chunk passed */
	uint64_t first_offer_ms;
	uint64_t last_pub_ms;
	uint64_t pass_deadline;
	int64_t wall_off;        /* wall - monotonic at the last call that gave both */

	struct edge_ota_sender_stats stats;
};

static bool bit_get(const uint8_t *b, uint32_t i)
{
	return (b[i >> 3] >> (i & 7)) & 1u;
}

static void bit_set(uint8_t *b, uint32_t i)
{
	b[i >> 3] = (uint8_t)(b[i >> 3] | (1u << (i & 7)));
}

static uint32_t hash_id(const char *id)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static struct node *find(const struct edge_ota_sender *s, const char *id)
{
	if (!id || s->table_cap == 0)
		return NULL;
	uint32_t mask = s->table_cap - 1;
	for (uint32_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
		uint32_t v = s->table[i];
		if (v == 0)
			return NULL;
		if (strcmp(s->nodes[v - 1]->st.id, id) == 0)
			return s->nodes[v - 1];
	}
}

static void table_put(uint32_t *table, uint32_t cap, const char *id, uint32_t idx)
{
	uint32_t mask = cap - 1;
	uint32_t i = hash_id(id) & mask;
	while (table[i] != 0)
		i = (i + 1) & mask;
	table[i] = idx + 1;
}

/* ---- deadline heap ---- */

static bool heap_less(const struct edge_ota_sender *s, uint32_t a, uint32_t b)
{
	return s->nodes[s->heap[a]]->deadline < s->nodes[s->heap[b]]->deadline;
}

static void heap_swap(struct edge_ota_sender *s, uint32_t a, uint32_t b)
{
	uint32_t t = s->heap[a];
	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->nodes[s->heap[a]]->heap_pos = a;
	s->nodes[s->heap[b]]->heap_pos = b;
}

static void heap_up(struct edge_ota_sender *s, uint32_t i)
{
	while (i > 0 && heap_less(s, i, (i - 1) / 2)) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct edge_ota_sender *s, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n_heap && heap_less(s, l, m))
			m = l;
		if (r < s->n_heap && heap_less(s, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void heap_remove(struct edge_ota_sender *s, struct node *n)
{
	uint32_t i = n->heap_pos;
	if (i == NO_HEAP)
		return;
	assert(i < s->n_heap);
	uint32_t last = --s->n_heap;
	if (i != last) {
		s->heap[i] = s->heap[last];
		s->nodes[s->heap[i]]->heap_pos = i;
		heap_down(s, i);
		heap_up(s, i);
	}
	n->heap_pos = NO_HEAP;
}

static void set_deadline(struct edge_ota_sender *s, struct node *n, uint64_t when)
{
	if (n->deadline == when && (when == NO_DEADLINE) == (n->heap_pos == NO_HEAP))
		return;
	n->deadline = when;
	if (when == NO_DEADLINE) {
		heap_remove(s, n);
		return;
	}
	if (n->heap_pos == NO_HEAP) {
		assert(s->n_heap < s->n_nodes);
		n->heap_pos = s->n_heap;
		s->heap[s->n_heap++] = n->idx;
		heap_up(s, n->heap_pos);
	} else {
		heap_down(s, n->heap_pos);
		heap_up(s, n->heap_pos);
	}
}

/* Wall clock for calls that only get the monotonic one. */
static void wall_seen(struct edge_ota_sender *s, uint64_t wall_ms, uint64_t now_ms)
{
	s->wall_off = (int64_t)wall_ms - (int64_t)now_ms;
}

static uint64_t wall_at(const struct edge_ota_sender *s, uint64_t now_ms)
{
	return (uint64_t)((int64_t)now_ms + s->wall_off);
}

/* ---- node state ---- */

static void set_state(struct edge_ota_sender *s, struct node *n, enum edge_ota_node_state st,
		      uint8_t reason, uint64_t wall_ms, uint64_t now_ms)
{
	assert(!edge_ota_node_state_final(n->st.state));
	assert(st < EDGE_OTA_N_STATE_COUNT);
	s->stats.by_state[n->st.state]--;
	s->stats.by_state[st]++;
	n->st.state = (uint8_t)st;
	n->st.reason = reason;
	n->pacer_ms = 0;   /* what waited for tokens belonged to the old state */
	n->st.updated_ms = wall_ms;
	n->state_ms = now_ms;
	if (edge_ota_node_state_final(st)) {
		n->st.finished_ms = wall_ms;
		n->n_inf = 0;
	}
	if (st != EDGE_OTA_N_RECEIVING)
		n->n_inf = 0;
	n->st.srtt_ms = (uint32_t)(n->srtt + 0.5);
	n->st.rto_ms = (uint32_t)(n->rto + 0.5);
	if (s->io.changed)
		s->io.changed(s->io.ud, s, &n->st);
}

static void stall(struct edge_ota_sender *s, struct node *n, uint64_t wall_ms, uint64_t now_ms)
{
	if (n->stalled_ms == 0)
		n->stalled_ms = now_ms;
	set_state(s, n, EDGE_OTA_N_STALLED, EDGE_OTA_R_TIMEOUT, wall_ms, now_ms);
}

/* When a stalled node is next looked at: its retry, or giving up. */
static uint64_t stalled_deadline(const struct edge_ota_sender *s, const struct node *n,
				 uint64_t from_ms)
{
	uint64_t at = from_ms + s->cfg.retry_interval_ms;

	if (n->stalled_ms && n->stalled_ms + s->cfg.give_up_ms < at)
		at = n->stalled_ms + s->cfg.give_up_ms;
	return at;
}

/* ---- frames ---- */

static int send_offer(struct edge_ota_sender *s, struct node *n, uint64_t wall_ms, uint64_t now_ms)
{
	struct edge_ota_offer o = {
		.chunk_size = s->cfg.chunk_size,
		.n_chunks = s->n_chunks,
		.flags = s->campaign ? EDGE_OTA_OFFER_CAMPAIGN : 0,
		.window = s->cfg.window,
		.head = s->head,
		.head_len = s->head_len,
	};
	int len = edge_ota_offer_encode(s->frame, s->frame_cap, s->transfer, &o);
	assert(len > 0);
	if (len <= 0)
		return len < 0 ? len : -EINVAL;
	uint64_t ready;
	if (!edge_ota_pacer_take(s->pacer, (size_t)len, now_ms, &ready)) {
		n->pacer_ms = ready;
		return -EAGAIN;
	}
	n->pacer_ms = 0;
	if (n->st.offers == 0 || n->st.started_ms == 0)
		n->st.started_ms = wall_ms;
	n->st.offers++;
	s->stats.offers++;
	n->offer_round++;
	n->offer_ms = now_ms;
	if (s->first_offer_ms == 0)
		s->first_offer_ms = now_ms;
	(void)s->io.send_node(s->io.ud, n->st.id, s->frame, (size_t)len, true);
	return 0;
}

static int chunk_frame(struct edge_ota_sender *s, uint32_t index)
{
	assert(index < s->n_chunks);
	uint64_t off = (uint64_t)index * s->cfg.chunk_size;
	uint64_t left = s->model_len - off;
	uint32_t len = left < s->cfg.chunk_size ? (uint32_t)left : s->cfg.chunk_size;
	int r = edge_ota_frame_encode(s->frame, s->frame_cap, EDGE_OTA_FRAME_CHUNK, s->transfer,
				      index, s->model + off, len);
	assert(r > 0);
	return r;
}

/* Send chunk index to n alone; false when the pacer has no tokens. */
static bool send_unicast(struct edge_ota_sender *s, struct node *n, uint32_t index, uint64_t now_ms)
{
	int len = chunk_frame(s, index);
	if (len <= 0)
		return false;
	uint64_t ready;
	if (!edge_ota_pacer_take(s->pacer, (size_t)len, now_ms, &ready)) {
		n->pacer_ms = ready;
		return false;
	}
	n->pacer_ms = 0;
	(void)s->io.send_node(s->io.ud, n->st.id, s->frame, (size_t)len, false);
	n->st.unicast_chunks++;
	n->st.bytes_sent += (uint64_t)len;
	s->stats.unicast_chunks++;
	s->stats.unicast_bytes += (uint64_t)len;
	n->sent_ms = now_ms;
	return true;
}

static void send_cancel(struct edge_ota_sender *s, struct node *n, uint64_t now_ms)
{
	uint8_t reason = EDGE_OTA_R_CANCELLED;
	int len = edge_ota_frame_encode(s->frame, s->frame_cap, EDGE_OTA_FRAME_CANCEL, s->transfer,
					0, &reason, 1);
	assert(len > 0);
	if (len <= 0)
		return;
	pacer_force(s->pacer, (size_t)len, now_ms);
	(void)s->io.send_node(s->io.ud, n->st.id, s->frame, (size_t)len, true);
}

/* ---- RTT (RFC 6298) ---- */

static double clamp_rto(const struct edge_ota_sender *s, double rto)
{
	if (rto < (double)s->cfg.rto_min_ms)
		rto = (double)s->cfg.rto_min_ms;
	if (rto > (double)s->cfg.rto_max_ms)
		rto = (double)s->cfg.rto_max_ms;
	return rto;
}

static void rtt_sample(struct edge_ota_sender *s, struct node *n, uint64_t sample_ms)
{
	double r = (double)sample_ms;
	if (!n->have_rtt) {
		n->srtt = r;
		n->rttvar = r / 2;
		n->have_rtt = true;
	} else {
		double d = n->srtt > r ? n->srtt - r : r - n->srtt;
		n->rttvar = 0.75 * n->rttvar + 0.25 * d;
		n->srtt = 0.875 * n->srtt + 0.125 * r;
	}
	/* The clock granularity G of RFC 6298 is 1 ms here. */
	double k = 4 * n->rttvar;
	n->rto = clamp_rto(s, n->srtt + (k > 1 ? k : 1));
	n->st.srtt_ms = (uint32_t)(n->srtt + 0.5);
	n->st.rto_ms = (uint32_t)(n->rto + 0.5);
}

/* ---- the node's work ---- */

static bool inflight_has(const struct node *n, uint32_t index)
{
	for (uint32_t i = 0; i < n->n_inf; i++)
		if (n->inf[i].index == index)
			return true;
	return false;
}

/* Chunks [0, limit) may go to n by unicast now: everything without a
 * campaign; with one, what the pass published that the node should have
 * received by now: it acked a later chunk (frames to one subscriber
 * arrive in order), or it took nothing new for one RTO since the chunk
 * was published. Not "one RTO after the publish" alone: a broker fanning
 * out to a thousand nodes delivers the pass over seconds, and repairs of
 * chunks still on their way would only add to its queues. Monotone:
 * eligibility holds for a prefix of the chunks. */
static uint32_t repair_limit(const struct edge_ota_sender *s, const struct node *n, uint64_t now_ms,
			     uint64_t *next_ms)
{
	*next_ms = NO_DEADLINE;
	if (!s->campaign)
		return s->n_chunks;
	if (s->pass == PASS_WAIT || s->pass == PASS_OFF)
		return 0;
	uint64_t rto = (uint64_t)n->rto;
	uint64_t quiet = n->progress_ms + rto;
	uint32_t lo = 0;
	if (quiet > now_ms) {
		/* progress within the last RTO: none by timeout yet */
		if (s->cursor > 0)
			*next_ms = quiet > s->pub_ms[0] + rto ? quiet : s->pub_ms[0] + rto;
	} else {
		/* first passed chunk not yet one RTO old (binary search:
		 * pub_ms grows with the index along the pass) */
		uint32_t hi = s->cursor;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (s->pub_ms[mid] + rto <= now_ms)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < s->cursor)
			*next_ms = s->pub_ms[lo] + rto;
	}
	uint32_t lim = lo;
	if (n->hi_new > lim)
		lim = n->hi_new < s->cursor ? n->hi_new : s->cursor;
	return lim;
}

/* Offered → re-send or stall; receiving → retransmit, fill the window,
 * stall check; verifying → result timeout; stalled → re-offer. Returns the
 * node's next deadline. */
static uint64_t service(struct edge_ota_sender *s, struct node *n, uint64_t wall_ms, uint64_t now_ms)
{
	uint64_t next = NO_DEADLINE;
#define AT(t)                                                                                     \
	do {                                                                                      \
		uint64_t t_ = (t);                                                                \
		if (t_ < next)                                                                    \
			next = t_;                                                                \
	} while (0)

	if (n->pacer_ms > now_ms)
		return n->pacer_ms;

	switch ((enum edge_ota_node_state)n->st.state) {
	case EDGE_OTA_N_STALLED:
		if (n->stalled_ms && now_ms >= n->stalled_ms + s->cfg.give_up_ms) {
			snprintf(n->st.detail, sizeof(n->st.detail),
				 "no progress for %u s: given up", s->cfg.give_up_ms / 1000);
			set_state(s, n, EDGE_OTA_N_FAILED, EDGE_OTA_R_TIMEOUT, wall_ms, now_ms);
			return NO_DEADLINE;
		}
		if (now_ms < n->state_ms + s->cfg.retry_interval_ms)
			return stalled_deadline(s, n, n->state_ms);
		n->offer_round = 0;
		set_state(s, n, EDGE_OTA_N_OFFERED, EDGE_OTA_R_OK, wall_ms, now_ms);
		n->offer_ms = 0;
		/* fall through - offer now */
	case EDGE_OTA_N_OFFERED:
		if (n->offer_round > 0 && now_ms < n->offer_ms + s->cfg.offer_timeout_ms)
			return n->offer_ms + s->cfg.offer_timeout_ms;
		if (n->offer_round >= s->cfg.offer_tries) {
			stall(s, n, wall_ms, now_ms);
			return stalled_deadline(s, n, now_ms);
		}
		if (send_offer(s, n, wall_ms, now_ms) != 0)
			return n->pacer_ms > now_ms ? n->pacer_ms : now_ms + 1;
		return now_ms + s->cfg.offer_timeout_ms;
	case EDGE_OTA_N_VERIFYING:
		if (now_ms >= n->state_ms + s->cfg.result_timeout_ms) {
			set_state(s, n, EDGE_OTA_N_FAILED, EDGE_OTA_R_TIMEOUT, wall_ms, now_ms);
			return NO_DEADLINE;
		}
		return n->state_ms + s->cfg.result_timeout_ms;
	case EDGE_OTA_N_RECEIVING:
		break;
	default:
		return NO_DEADLINE;   /* final */
	}

	/* No progress for stall_timeout while something was sent that it
	 * should have acked, and the gateway kept sending (a pacer starved
	 * by other transfers is not the node's fault). */
	uint64_t last_sent = n->sent_ms > s->last_pub_ms ? n->sent_ms : s->last_pub_ms;
	if (last_sent > n->progress_ms || n->n_inf > 0) {
		uint64_t stall_at = n->progress_ms + s->cfg.stall_timeout_ms;
		if (now_ms >= stall_at && now_ms < last_sent + s->cfg.stall_timeout_ms) {
			stall(s, n, wall_ms, now_ms);
			return stalled_deadline(s, n, now_ms);
		}
		if (stall_at > now_ms)
			AT(stall_at);   /* else: re-checked when the next send is due */
	}

	/* Retransmit: lost (sack gap) entries at once, timed-out ones with
	 * the RTO doubled (once per timeout event). */
	const uint64_t rto_was = (uint64_t)n->rto;
	bool backed_off = false;
	for (uint32_t i = 0; i < n->n_inf; i++) {
		struct inflight *e = &n->inf[i];
		uint64_t due = e->sent_ms + rto_was;
		if (!e->lost && due > now_ms) {
			AT(e->sent_ms + (uint64_t)n->rto);
			continue;
		}
		if (!e->lost && !backed_off) {
			n->rto = clamp_rto(s, n->rto * 2);
			n->st.rto_ms = (uint32_t)(n->rto + 0.5);
			backed_off = true;
		}
		if (!send_unicast(s, n, e->index, now_ms)) {
			AT(n->pacer_ms);
			return next;
		}
		e->tries++;
		e->lost = false;
		e->sent_ms = now_ms;
		e->seq = ++n->seq;
		n->st.retransmits++;
		s->stats.retransmits++;
		AT(now_ms + (uint64_t)n->rto);
	}

	/* Fill the window with the lowest chunks not held and not in flight. */
	uint64_t elig_ms;
	uint32_t lim = repair_limit(s, n, now_ms, &elig_ms);
	if (lim > n->horizon)
		lim = n->horizon;
	uint32_t j = n->scan_from;
	while (n->n_inf < n->window && j < lim) {
		if ((j & 7) == 0 && j + 8 <= lim && n->acked[j >> 3] == 0xff) {
			j += 8;
			continue;
		}
		if (bit_get(n->acked, j) || inflight_has(n, j)) {
			j++;
			continue;
		}
		if (!send_unicast(s, n, j, now_ms)) {
			AT(n->pacer_ms);
			return next;
		}
		n->inf[n->n_inf++] = (struct inflight){
			.index = j, .tries = 1, .sent_ms = now_ms, .seq = ++n->seq,
		};
		AT(now_ms + (uint64_t)n->rto);
		j++;
	}
	/* Chunks of the pass not yet eligible become so at elig_ms (only
	 * matters when the window has room). */
	if (n->n_inf < n->window && elig_ms != NO_DEADLINE)
		AT(elig_ms);
#undef AT
	return next;
}

static void reschedule(struct edge_ota_sender *s, struct node *n, uint64_t wall_ms, uint64_t now_ms)
{
	uint64_t d = service(s, n, wall_ms, now_ms);
	if (d != NO_DEADLINE && d <= now_ms)
		d = now_ms + 1;   /* never due twice in one poll */
	set_deadline(s, n, d);
}

/* ---- campaign pass ---- */

static void fix_mode(struct edge_ota_sender *s)
{
	if (s->mode_fixed)
		return;
	s->mode_fixed = true;
	/* Nodes final before the first offer (resumed after a restart) take
	 * no chunks. */
	unsigned open = 0;
	for (int i = 0; i < EDGE_OTA_N_ACTIVATED; i++)
		open += s->stats.by_state[i];
	s->campaign = s->cfg.campaign && open > 1 && s->pub_ms != NULL;
	s->pass = s->campaign ? PASS_WAIT : PASS_OFF;
}

/* Is chunk j missing at some node that takes the pass? */
static bool pass_needed(const struct edge_ota_sender *s, uint32_t j)
{
	if (s->stats.by_state[EDGE_OTA_N_OFFERED] > 0)
		return true;
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct node *n = s->nodes[i];
		if (n->st.state == EDGE_OTA_N_RECEIVING && !bit_get(n->acked, j))
			return true;
	}
	return false;
}

static void campaign_step(struct edge_ota_sender *s, uint64_t now_ms)
{
	s->pass_deadline = NO_DEADLINE;
	if (s->pass == PASS_OFF || s->pass == PASS_DONE)
		return;
	if (s->pass == PASS_WAIT) {
		if (s->stats.by_state[EDGE_OTA_N_RECEIVING] == 0) {
			/* nobody to send to yet: an accept wakes us */
			return;
		}
		bool gathered = s->stats.by_state[EDGE_OTA_N_OFFERED] == 0;
		uint64_t until = s->first_offer_ms + s->cfg.campaign_gather_ms;
		if (!gathered && now_ms < until) {
			s->pass_deadline = until;
			return;
		}
		s->pass = PASS_RUN;
	}
	/* Paused while no node receives (all stalled): resumed by an accept. */
	if (s->stats.by_state[EDGE_OTA_N_RECEIVING] == 0)
		return;
	uint32_t published = 0;
	while (s->cursor < s->n_chunks) {
		uint32_t j = s->cursor;
		if (!pass_needed(s, j)) {
			s->pub_ms[j] = now_ms;
			s->cursor++;
			continue;
		}
		int len = chunk_frame(s, j);
		if (len <= 0)
			return;
		uint64_t ready;
		if (!edge_ota_pacer_take(s->pacer, (size_t)len, now_ms, &ready)) {
			s->pass_deadline = ready;
			break;
		}
		published++;
		(void)s->io.send_campaign(s->io.ud, s->transfer, s->frame, (size_t)len);
		s->stats.campaign_chunks++;
		s->stats.campaign_bytes += (uint64_t)len;
		s->pub_ms[j] = now_ms;
		s->last_pub_ms = now_ms;
		s->cursor++;
	}
	if (s->cursor == s->n_chunks)
		s->pass = PASS_DONE;
	if (published == 0)
		return;
	/* What was just published is repairable one RTO from now (or as soon
	 * as a later chunk is acked): wake the receiving nodes by then. */
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct node *n = s->nodes[i];
		uint64_t d = now_ms + (uint64_t)n->rto;
		if (n->st.state == EDGE_OTA_N_RECEIVING && n->deadline > d)
			set_deadline(s, n, d);
	}
}

/* ---- lifecycle ---- */

EDGE_WUR int edge_ota_sender_new(uint32_t transfer, const uint8_t *pkg, size_t pkg_len,
				 const struct edge_ota_sender_config *cfg,
				 const struct edge_ota_sender_io *io, struct edge_ota_pacer *pacer,
				 struct edge_ota_sender **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (transfer == 0 || !pkg || !cfg || !io || !io->send_node || !io->send_campaign || !pacer)
		return -EINVAL;
	if (cfg->chunk_size < EDGE_OTA_CHUNK_MIN || cfg->chunk_size > EDGE_OTA_CHUNK_MAX ||
	    cfg->window < 1 || cfg->window > EDGE_OTA_WINDOW_MAX || cfg->rto_min_ms == 0 ||
	    cfg->rto_min_ms > cfg->rto_max_ms || cfg->offer_tries == 0 ||
	    cfg->offer_timeout_ms == 0 || cfg->stall_timeout_ms == 0 ||
	    cfg->result_timeout_ms == 0 || cfg->retry_interval_ms == 0 || cfg->give_up_ms == 0)
		return -EINVAL;

	struct edge_ota_container c;
	struct edge_msg_error err;
	if (edge_ota_container_parse(pkg, pkg_len, &c, &err) != 0 || !c.model)
		return -EINVAL;
	struct edge_ota_manifest *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (edge_ota_manifest_parse(c.manifest, c.manifest_len, m, &err) != 0 ||
	    m->size != c.model_len) {
		free(m);
		return -EINVAL;
	}

	struct edge_ota_sender *s = calloc(1, sizeof(*s));
	if (!s) {
		free(m);
		return -ENOMEM;
	}
	memcpy(s->sha256, m->sha256, sizeof(s->sha256));
	free(m);
	s->transfer = transfer;
	s->cfg = *cfg;
	if (s->cfg.rto_initial_ms == 0)
		s->cfg.rto_initial_ms = 1000;
	s->io = *io;
	s->pacer = pacer;
	s->head = pkg;
	s->head_len = (size_t)(c.model - pkg);
	s->model = c.model;
	s->model_len = c.model_len;
	uint64_t nc = (c.model_len + cfg->chunk_size - 1) / cfg->chunk_size;
	assert(nc >= 1 && nc <= UINT32_MAX);
	s->n_chunks = (uint32_t)nc;
	size_t offer_cap = EDGE_OTA_FRAME_HDR + EDGE_OTA_OFFER_FIXED + s->head_len;
	size_t chunk_cap = EDGE_OTA_FRAME_HDR + cfg->chunk_size;
	s->frame_cap = offer_cap > chunk_cap ? offer_cap : chunk_cap;
	s->frame = malloc(s->frame_cap);
	s->pub_ms = cfg->campaign ? calloc(s->n_chunks, sizeof(*s->pub_ms)) : NULL;
	if (!s->frame || (cfg->campaign && !s->pub_ms)) {
		edge_ota_sender_free(s);
		return -ENOMEM;
	}
	s->pass_deadline = NO_DEADLINE;
	*out = s;
	return 0;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	free(n->acked);
	free(n->inf);
	free(n);
}

void edge_ota_sender_free(struct edge_ota_sender *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_nodes; i++)
		node_free(s->nodes[i]);
	free(s->nodes);
	free(s->table);
	free(s->heap);
	free(s->pub_ms);
	free(s->frame);
	free(s);
}

uint32_t edge_ota_sender_transfer(const struct edge_ota_sender *s)
{
	return s->transfer;
}

uint32_t edge_ota_sender_n_chunks(const struct edge_ota_sender *s)
{
	return s->n_chunks;
}

static int grow(struct edge_ota_sender *s)
{
	if (s->n_nodes < s->cap_nodes && (s->n_nodes + 1) * 2 <= s->table_cap)
		return 0;
	uint32_t cap = s->cap_nodes ? s->cap_nodes * 2 : 8;
	struct node **nodes = realloc(s->nodes, cap * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	s->nodes = nodes;
	uint32_t *heap = realloc(s->heap, cap * sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	s->heap = heap;
	uint32_t tcap = cap * 2;
	uint32_t *table = calloc(tcap, sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n_nodes; i++)
		table_put(table, tcap, s->nodes[i]->st.id, i);
	free(s->table);
	s->table = table;
	s->table_cap = tcap;
	s->cap_nodes = cap;
	return 0;
}

EDGE_WUR int edge_ota_sender_add(struct edge_ota_sender *s, const char *id, bool online,
				 const struct edge_ota_node_status *resume, uint64_t wall_ms,
				 uint64_t now_ms)
{
	assert(s != NULL);
	if (!id || id[0] == '\0' || strlen(id) > EDGE_OTA_NODE_ID_MAX ||
	    strcmp(id, EDGE_OTA_CAMPAIGN_ID) == 0)
		return -EINVAL;
	if (resume && (resume->state >= EDGE_OTA_N_STATE_COUNT || strcmp(resume->id, id) != 0))
		return -EINVAL;
	if (find(s, id))
		return -EEXIST;
	wall_seen(s, wall_ms, now_ms);
	if (grow(s) != 0)
		return -ENOMEM;
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->acked = calloc((s->n_chunks + 7) / 8, 1);
	n->inf = calloc(s->cfg.window, sizeof(*n->inf));
	if (!n->acked || !n->inf) {
		node_free(n);
		return -ENOMEM;
	}
	if (resume) {
		n->st = *resume;
		n->st.chunks_held = resume->chunks_held <= s->n_chunks ? resume->chunks_held : 0;
	}
	memcpy(n->st.id, id, strlen(id) + 1);
	n->st.n_chunks = s->n_chunks;
	n->window = s->cfg.window;
	n->rto = clamp_rto(s, (double)s->cfg.rto_initial_ms);
	n->st.rto_ms = (uint32_t)(n->rto + 0.5);
	n->heap_pos = NO_HEAP;
	n->deadline = NO_DEADLINE;
	n->state_ms = now_ms;
	if (!n->st.updated_ms)
		n->st.updated_ms = wall_ms;

	uint32_t idx = s->n_nodes++;
	n->idx = idx;
	s->nodes[idx] = n;
	table_put(s->table, s->table_cap, n->st.id, idx);
	s->stats.nodes++;

	if (edge_ota_node_state_final(n->st.state)) {
		s->stats.by_state[n->st.state]++;
		return 0;
	}
	/* A node in progress at the restart is offered again: its accept says
	 * what it holds; one that was verifying may already run the model
	 * (it denies already_have). */
	n->st.state = online ? EDGE_OTA_N_OFFERED : EDGE_OTA_N_STALLED;
	if (!online && n->st.reason == EDGE_OTA_R_OK)
		n->st.reason = EDGE_OTA_R_TIMEOUT;
	if (!online)
		n->stalled_ms = now_ms;
	s->stats.by_state[n->st.state]++;
	set_deadline(s, n, online ? now_ms : stalled_deadline(s, n, now_ms));
	return 0;
}

void edge_ota_sender_node_online(struct edge_ota_sender *s, const char *id, uint64_t now_ms)
{
	struct node *n = find(s, id);
	if (!n)
		return;
	switch ((enum edge_ota_node_state)n->st.state) {
	case EDGE_OTA_N_STALLED:
	case EDGE_OTA_N_RECEIVING:
		/* Back (perhaps rebooted): offer again, its accept tells what it
		 * holds. */
		n->offer_round = 0;
		set_state(s, n, EDGE_OTA_N_OFFERED, EDGE_OTA_R_OK, wall_at(s, now_ms), now_ms);
		n->pacer_ms = 0;
		set_deadline(s, n, now_ms);
		break;
	default:
		break;   /* offered: the offer timer runs; verifying: the result comes */
	}
}

void edge_ota_sender_node_offline(struct edge_ota_sender *s, const char *id, uint64_t now_ms)
{
	struct node *n = find(s, id);
	if (!n)
		return;
	if (n->st.state == EDGE_OTA_N_OFFERED || n->st.state == EDGE_OTA_N_RECEIVING) {
		stall(s, n, wall_at(s, now_ms), now_ms);
		n->pacer_ms = 0;
		set_deadline(s, n, stalled_deadline(s, n, now_ms));
	}
}

/* ---- answers ---- */

/* The chunks h says are held; -EPROTO when it names one beyond the end. */
static int have_check(const struct edge_ota_sender *s, const struct edge_ota_have *h)
{
	if (h->next > s->n_chunks || h->n_bits > EDGE_OTA_HAVE_BITS)
		return -EPROTO;
	for (uint32_t i = 0; i < h->n_bits; i++) {
		if (!bit_get(h->bits, i))
			continue;
		uint64_t c = (uint64_t)h->next + 1 + i;
		if (c >= s->n_chunks)
			return -EPROTO;
	}
	return 0;
}

static void count_held(const struct edge_ota_sender *s, struct node *n)
{
	while (n->scan_from < s->n_chunks && bit_get(n->acked, n->scan_from))
		n->scan_from++;
}

/* Merge h into n's acked bitmap; returns chunks newly held. Updates the
 * in-flight table (RTT sample of the newest entry sent once, sack gaps)
 * and the campaign RTT sample when ack is true. */
/* What merging one ack found: chunks newly held, the highest, and the
 * newest campaign publish among them (an RTT sample). */
struct merge {
	uint32_t fresh, hi;
	uint64_t camp_pub;
	bool camp_sample;
};

static void merge_chunk(const struct edge_ota_sender *s, struct node *n, uint32_t c, bool ack,
			struct merge *m)
{
	if (bit_get(n->acked, c))
		return;
	bit_set(n->acked, c);
	m->fresh++;
	m->hi = c + 1;
	/* Karn: only a chunk the pass sent once since this accept and not
	 * also sent by unicast times the campaign's delivery. */
	if (ack && s->campaign && c < s->cursor && s->pub_ms[c] >= n->accept_ms &&
	    !inflight_has(n, c) && s->pub_ms[c] >= m->camp_pub) {
		m->camp_pub = s->pub_ms[c];
		m->camp_sample = true;
	}
}

static uint32_t merge_have(struct edge_ota_sender *s, struct node *n, const struct edge_ota_have *h,
			   bool ack, uint64_t now_ms)
{
	struct merge m = { 0 };

	for (uint32_t c = n->scan_from; c < h->next; c++)
		merge_chunk(s, n, c, ack, &m);
	for (uint32_t i = 0; i < h->n_bits; i++)
		if (bit_get(h->bits, i))
			merge_chunk(s, n, h->next + 1 + i, ack, &m);
	uint32_t fresh = m.fresh, hi = m.hi;
	uint64_t camp_pub = m.camp_pub;
	bool camp_sample = m.camp_sample;
	n->st.chunks_held += fresh;
	assert(n->st.chunks_held <= s->n_chunks);
	/* `have` covers EDGE_OTA_HAVE_BITS chunks after next: beyond, a chunk
	 * that looks missing may be held; never repair it on that basis. */
	uint64_t hz = (uint64_t)h->next + 1 + EDGE_OTA_HAVE_BITS;
	if (hz > n->horizon)
		n->horizon = hz < s->n_chunks ? (uint32_t)hz : s->n_chunks;
	count_held(s, n);
	if (!ack)
		return fresh;
	if (hi > n->hi_new)
		n->hi_new = hi;

	/* In-flight entries now held leave the table. One RTT sample per ack:
	 * the newest entry sent once (Karn); entries sent before an acked one
	 * are lost (frames to one node arrive in order). */
	const struct inflight *sample = NULL;
	struct inflight sample_copy;
	uint64_t max_acked_seq = 0;
	uint32_t w = 0;
	for (uint32_t i = 0; i < n->n_inf; i++) {
		struct inflight *e = &n->inf[i];
		if (bit_get(n->acked, e->index)) {
			if (e->seq > max_acked_seq)
				max_acked_seq = e->seq;
			if (e->tries == 1 && (!sample || e->seq > sample->seq)) {
				sample_copy = *e;
				sample = &sample_copy;
			}
			continue;
		}
		n->inf[w++] = *e;
	}
	n->n_inf = w;
	for (uint32_t i = 0; i < n->n_inf; i++)
		if (n->inf[i].seq < max_acked_seq)
			n->inf[i].lost = true;
	if (sample)
		rtt_sample(s, n, now_ms - sample->sent_ms);
	else if (camp_sample)
		rtt_sample(s, n, now_ms - camp_pub);
	return fresh;
}

/* In-flight entries the node holds leave the table (no RTT sample). */
static void inflight_drop_held(struct node *n)
{
	uint32_t w = 0;
	for (uint32_t i = 0; i < n->n_inf; i++)
		if (!bit_get(n->acked, n->inf[i].index))
			n->inf[w++] = n->inf[i];
	n->n_inf = w;
}

static bool sha_ok(const struct edge_ota_sender *s, const char *sha)
{
	return strcmp(sha, s->sha256) == 0;
}

static void finish_held(struct edge_ota_sender *s, struct node *n, uint64_t wall_ms, uint64_t now_ms)
{
	if (n->st.chunks_held == s->n_chunks && n->st.state == EDGE_OTA_N_RECEIVING)
		set_state(s, n, EDGE_OTA_N_VERIFYING, EDGE_OTA_R_OK, wall_ms, now_ms);
}

int edge_ota_sender_on_answer(struct edge_ota_sender *s, const char *id,
			      const struct edge_ota_answer *a, uint64_t wall_ms, uint64_t now_ms)
{
	assert(s != NULL && a != NULL);
	struct node *n = find(s, id);
	if (!n)
		return EDGE_ENOTFOUND;
	wall_seen(s, wall_ms, now_ms);
	if (a->transfer != s->transfer) {
		s->stats.bad_answers++;
		return -EPROTO;
	}
	enum edge_ota_node_state st = n->st.state;
	int rc = 0;

	switch ((enum edge_ota_msg_type)a->type) {
	case EDGE_OTA_MSG_ACCEPT:
		if (!sha_ok(s, a->sha256) || have_check(s, &a->have) != 0 ||
		    (a->max_chunk != 0 && a->max_chunk < s->cfg.chunk_size) || a->window == 0) {
			rc = -EPROTO;
			break;
		}
		if (edge_ota_node_state_final(st) || st == EDGE_OTA_N_VERIFYING)
			break;  /* late duplicate */
		if (st != EDGE_OTA_N_RECEIVING) {
			/* A new accept is the truth about what the node holds
			 * (it may have rebooted, or had its state cleared). */
			memset(n->acked, 0, (s->n_chunks + 7) / 8);
			n->st.chunks_held = 0;
			n->scan_from = 0;
			n->hi_new = 0;
			n->horizon = 0;
			n->n_inf = 0;
			n->accept_ms = now_ms;
			n->sent_ms = 0;
			n->pacer_ms = 0;
		}
		/* else the answer to a re-sent offer: it holds at least what it
		 * acked before (saved before each ack); keep what is in flight. */
		n->progress_ms = now_ms;
		n->window = a->window < s->cfg.window ? a->window : s->cfg.window;
		(void)merge_have(s, n, &a->have, false, now_ms);
		inflight_drop_held(n);
		if (st != EDGE_OTA_N_RECEIVING)
			set_state(s, n, EDGE_OTA_N_RECEIVING, EDGE_OTA_R_OK, wall_ms, now_ms);
		finish_held(s, n, wall_ms, now_ms);
		campaign_step(s, now_ms);
		break;
	case EDGE_OTA_MSG_ACK:
		if (have_check(s, &a->have) != 0) {
			rc = -EPROTO;
			break;
		}
		if (st != EDGE_OTA_N_RECEIVING)
			break;  /* stale: stalled, re-offered, cancelled... */
		/* Progress: new chunks, or nothing missing that was sent (a
		 * node that holds what the pass publishes is not stalled). */
		if (merge_have(s, n, &a->have, true, now_ms) > 0) {
			n->progress_ms = now_ms;
			n->stalled_ms = 0;  /* new chunks: the give-up clock starts again */
		} else if (n->n_inf == 0 &&
			   n->scan_from >= (s->campaign ? s->cursor : s->n_chunks)) {
			n->progress_ms = now_ms;
		}
		finish_held(s, n, wall_ms, now_ms);
		break;
	case EDGE_OTA_MSG_DENY:
		/* A node that could not read the offer has no hash to name:
		 * it sends zeros (receiver.md). */
		if (!sha_ok(s, a->sha256) && strspn(a->sha256, "0") != EDGE_MSG_SHA256_HEX) {
			rc = -EPROTO;
			break;
		}
		if (edge_ota_node_state_final(st))
			break;
		snprintf(n->st.detail, sizeof(n->st.detail), "%s", a->detail);
		if (a->reason == EDGE_OTA_R_ALREADY_HAVE) {
			/* Nodes that ran this model were never offered it
			 * (edge_ota_fit), so it came by this transfer and its
			 * result was lost (a gateway restart, a re-offer that
			 * crossed the result): it runs this model, the goal is
			 * met; only the self-test's hash is not known. */
			set_state(s, n, EDGE_OTA_N_ACTIVATED, EDGE_OTA_R_ALREADY_HAVE, wall_ms,
				  now_ms);
			break;
		}
		set_state(s, n, EDGE_OTA_N_DENIED, a->reason, wall_ms, now_ms);
		break;
	case EDGE_OTA_MSG_RESULT: {
		if (!sha_ok(s, a->sha256) ||
		    (a->outcome == EDGE_OTA_OUTCOME_ACTIVATED && !a->has_output)) {
			rc = -EPROTO;
			break;
		}
		enum edge_ota_node_state to;
		switch ((enum edge_ota_outcome)a->outcome) {
		case EDGE_OTA_OUTCOME_ACTIVATED: to = EDGE_OTA_N_ACTIVATED; break;
		case EDGE_OTA_OUTCOME_REVERTED: to = EDGE_OTA_N_REVERTED; break;
		case EDGE_OTA_OUTCOME_FAILED: to = EDGE_OTA_N_FAILED; break;
		default: rc = -EPROTO; to = EDGE_OTA_N_FAILED; break;
		}
		if (rc != 0 || edge_ota_node_state_final(st))
			break;
		if (to == EDGE_OTA_N_ACTIVATED) {
			memcpy(n->st.output_sha256, a->output_sha256, sizeof(n->st.output_sha256));
			n->st.chunks_held = s->n_chunks;
		}
		snprintf(n->st.detail, sizeof(n->st.detail), "%s", a->detail);
		set_state(s, n, to, to == EDGE_OTA_N_ACTIVATED ? EDGE_OTA_R_OK : a->reason, wall_ms,
			  now_ms);
		break;
	}
	default:
		rc = -EPROTO;
		break;
	}
	if (rc != 0) {
		s->stats.bad_answers++;
		return rc;
	}
	reschedule(s, n, wall_ms, now_ms);
	return 0;
}

void edge_ota_sender_cancel(struct edge_ota_sender *s, const char *id, uint64_t wall_ms,
			    uint64_t now_ms)
{
	wall_seen(s, wall_ms, now_ms);
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct node *n = s->nodes[i];
		if (id && strcmp(n->st.id, id) != 0)
			continue;
		if (!edge_ota_node_state_final(n->st.state)) {
			send_cancel(s, n, now_ms);
			set_state(s, n, EDGE_OTA_N_CANCELLED, EDGE_OTA_R_CANCELLED, wall_ms, now_ms);
			set_deadline(s, n, NO_DEADLINE);
		}
		if (id)
			break;
	}
}

uint64_t edge_ota_sender_next_deadline(const struct edge_ota_sender *s)
{
	uint64_t d = s->pass_deadline;
	if (s->n_heap > 0 && s->nodes[s->heap[0]]->deadline < d)
		d = s->nodes[s->heap[0]]->deadline;
	return d;
}

uint64_t edge_ota_sender_poll(struct edge_ota_sender *s, uint64_t wall_ms, uint64_t now_ms)
{
	assert(s != NULL);
	wall_seen(s, wall_ms, now_ms);
	fix_mode(s);
	/* Each node is serviced at most once per poll: its new deadline is
	 * after now. */
	while (s->n_heap > 0) {
		struct node *n = s->nodes[s->heap[0]];
		if (n->deadline > now_ms)
			break;
		reschedule(s, n, wall_ms, now_ms);
	}
	campaign_step(s, now_ms);
	return edge_ota_sender_next_deadline(s);
}

void edge_ota_sender_get_stats(const struct edge_ota_sender *s, struct edge_ota_sender_stats *out)
{
	*out = s->stats;
}

bool edge_ota_sender_finished(const struct edge_ota_sender *s)
{
	unsigned fin = 0;
	for (int i = EDGE_OTA_N_ACTIVATED; i < EDGE_OTA_N_STATE_COUNT; i++)
		fin += s->stats.by_state[i];
	return fin == s->stats.nodes;
}

int edge_ota_sender_status(const struct edge_ota_sender *s, const char *id,
			   struct edge_ota_node_status *out)
{
	const struct node *n = find(s, id);
	if (!n)
		return EDGE_ENOTFOUND;
	*out = n->st;
	return 0;
}

void edge_ota_sender_foreach(const struct edge_ota_sender *s,
			     int (*fn)(const struct edge_ota_node_status *st, void *ud), void *ud)
{
	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (fn(&s->nodes[i]->st, ud) != 0)
			return;
}
