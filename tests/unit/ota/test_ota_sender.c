/* Suite 'ota': the gateway's transfer engine (lib/ota/edge_ota_sender)
 * against a scripted fake node: every frame the sender emits is logged
 * (parsed back with the codec), the test answers with hand-made accepts,
 * acks, denies and results, and a fake monotonic clock drives the timers.
 * No real time passes: every timeout is reached by advancing the clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_keys.h"
#include "edge_ota_pack.h"
#include "edge_ota_sender.h"
#include "edge_ota_transfer.h"
#include "test_run.h"

#define T 0x1234u
#define LOG_MAX 20000
#define WALL0 1700000000000ull

struct sent {
	char id[EDGE_OTA_NODE_ID_MAX + 1];  /* "" for the campaign topic */
	uint8_t type;
	uint32_t index;
	uint32_t flags;                     /* offer: its flags */
	size_t len;
	bool reliable;
	uint64_t t;
};

struct change {
	char id[EDGE_OTA_NODE_ID_MAX + 1];
	uint8_t state, reason;
};

static struct sent *log_;
static size_t n_log;
static struct change changes[4096];
static size_t n_changes;
static uint64_t now;
static uint8_t *pkg;
static size_t pkg_len;
static char model_sha[EDGE_MSG_SHA256_HEX + 1];
static struct edge_ota_pacer pacer;
static struct edge_ota_sender_config cfg;
static struct edge_ota_sender *s;

static void record(const char *id, const void *frame, size_t len, bool reliable)
{
	struct edge_ota_frame f;
	struct edge_msg_error err;
	ck_assert_int_eq(edge_ota_frame_parse(frame, len, &f, &err), 0);
	ck_assert_uint_eq(f.transfer, T);
	ck_assert_uint_lt(n_log, LOG_MAX);
	struct sent *e = &log_[n_log++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
	e->type = f.type;
	e->index = f.index;
	e->len = len;
	e->reliable = reliable;
	e->t = now;
	if (f.type == EDGE_OTA_FRAME_OFFER) {
		struct edge_ota_offer o;
		ck_assert_int_eq(edge_ota_offer_parse(&f, &o, &err), 0);
		ck_assert_uint_eq(o.chunk_size, cfg.chunk_size);
		e->flags = o.flags;
	}
}

static int io_node(void *ud, const char *id, const void *frame, size_t len, bool reliable)
{
	record(id, frame, len, reliable);
	return 0;
}

static int io_campaign(void *ud, uint32_t transfer, const void *frame, size_t len)
{
	ck_assert_uint_eq(transfer, T);
	record(NULL, frame, len, false);
	return 0;
}

static void io_changed(void *ud, struct edge_ota_sender *sd, const struct edge_ota_node_status *st)
{
	ck_assert_ptr_eq(sd, s);
	ck_assert_uint_lt(n_changes, sizeof(changes) / sizeof(changes[0]));
	struct change *c = &changes[n_changes++];
	snprintf(c->id, sizeof(c->id), "%s", st->id);
	c->state = st->state;
	c->reason = st->reason;
}

static const struct edge_ota_sender_io io = {
	.send_node = io_node, .send_campaign = io_campaign, .changed = io_changed,
};

/* A package around model_len pseudo-random bytes: a valid manifest and a
 * placeholder signature (the sender parses the package; it does not verify). */
static void make_pkg(size_t model_len)
{
	uint8_t *model = malloc(model_len);
	ck_assert_ptr_nonnull(model);
	edge_ota_selftest_input(7, model, model_len);
	uint8_t digest[32];
	ck_assert_int_eq(edge_ota_sha256(model, model_len, digest), 0);
	edge_ota_hex(digest, 32, model_sha);

	struct edge_ota_manifest *m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	strcpy(m->name, "kws");
	strcpy(m->version, "1.0.0");
	m->counter = 3;
	m->size = model_len;
	strcpy(m->sha256, model_sha);
	strcpy(m->runtime, "tflm");
	m->arena_bytes = 1024;
	m->n_inputs = m->n_outputs = 1;
	strcpy(m->inputs[0].type, "int8");
	m->inputs[0].rank = 1;
	m->inputs[0].shape[0] = 4;
	m->inputs[0].scale = 0.5;
	m->outputs[0] = m->inputs[0];
	m->selftest_seed = 1;
	strcpy(m->selftest_output_sha256, model_sha);
	char man[EDGE_OTA_MANIFEST_MAX];
	int ml = edge_ota_manifest_encode(man, sizeof(man), m);
	ck_assert_int_gt(ml, 0);
	struct edge_ota_sig_in sig = {.alg = EDGE_OTA_SIG_ED25519, .sig_len = 64};
	ck_assert_int_eq(edge_ota_assemble(man, (size_t)ml, &sig, 1, model, model_len, &pkg, &pkg_len),
			 0);
	free(m);
	free(model);
}

static void setup(void)
{
	log_ = calloc(LOG_MAX, sizeof(*log_));
	ck_assert_ptr_nonnull(log_);
	n_log = n_changes = 0;
	now = 1000;
	edge_ota_sender_config_defaults(&cfg);
	cfg.chunk_size = 64;
	make_pkg(64 * 100 - 10);   /* 100 chunks, the last one short */
	edge_ota_pacer_init(&pacer, 0, now);
	s = NULL;
}

static void teardown(void)
{
	edge_ota_sender_free(s);
	s = NULL;
	free(pkg);
	pkg = NULL;
	free(log_);
	log_ = NULL;
}

static void start(void)
{
	ck_assert_int_eq(edge_ota_sender_new(T, pkg, pkg_len, &cfg, &io, &pacer, &s), 0);
	ck_assert_uint_eq(edge_ota_sender_n_chunks(s), 100);
}

static void add(const char *id, bool online)
{
	ck_assert_int_eq(edge_ota_sender_add(s, id, online, NULL, WALL0 + now, now), 0);
}

static uint64_t poll_(void)
{
	return edge_ota_sender_poll(s, WALL0 + now, now);
}

/* Advance the clock to t, polling at every deadline on the way. */
static void run_until(uint64_t t)
{
	for (;;) {
		uint64_t d = poll_();
		if (d > t)
			break;
		ck_assert_uint_gt(d, now);
		now = d;
	}
	now = t;
	poll_();
}

/* A have from a predicate over chunk indexes. */
static void have_from(struct edge_ota_have *h, const bool *held, uint32_t n)
{
	memset(h, 0, sizeof(*h));
	uint32_t next = 0;
	while (next < n && held[next])
		next++;
	h->next = next;
	uint32_t last = 0;
	for (uint32_t c = next + 1; c < n && c - next - 1 < EDGE_OTA_HAVE_BITS; c++)
		if (held[c]) {
			uint32_t i = c - next - 1;
			h->bits[i / 8] |= (uint8_t)(1u << (i % 8));
			last = i + 1;
		}
	h->n_bits = (last + 7) / 8 * 8;
}

static int answer(const char *id, const struct edge_ota_answer *a)
{
	return edge_ota_sender_on_answer(s, id, a, WALL0 + now, now);
}

static int accept_held(const char *id, const bool *held, uint32_t window)
{
	struct edge_ota_answer a = {.type = EDGE_OTA_MSG_ACCEPT, .transfer = T,
				    .max_chunk = 16384, .window = window};
	strcpy(a.sha256, model_sha);
	bool none[100] = {0};
	have_from(&a.have, held ? held : none, 100);
	return answer(id, &a);
}

static int ack_held(const char *id, const bool *held)
{
	struct edge_ota_answer a = {.type = EDGE_OTA_MSG_ACK, .transfer = T};
	have_from(&a.have, held, 100);
	return answer(id, &a);
}

static int result(const char *id, uint8_t outcome, uint8_t reason)
{
	struct edge_ota_answer a = {.type = EDGE_OTA_MSG_RESULT, .transfer = T, .outcome = outcome,
				    .reason = reason};
	strcpy(a.sha256, model_sha);
	if (outcome == EDGE_OTA_OUTCOME_ACTIVATED) {
		a.has_output = true;
		memset(a.output_sha256, 'a', EDGE_MSG_SHA256_HEX);
	}
	return answer(id, &a);
}

static size_t count(const char *id, uint8_t type, size_t from)
{
	size_t c = 0;
	for (size_t i = from; i < n_log; i++)
		if (strcmp(log_[i].id, id) == 0 && log_[i].type == type)
			c++;
	return c;
}

static struct edge_ota_node_status status(const char *id)
{
	struct edge_ota_node_status st;
	ck_assert_int_eq(edge_ota_sender_status(s, id, &st), 0);
	return st;
}

/* Every chunk logged for id since from marked in got[] (counts). */
static void chunks_since(const char *id, size_t from, unsigned *got)
{
	memset(got, 0, 100 * sizeof(*got));
	for (size_t i = from; i < n_log; i++)
		if (strcmp(log_[i].id, id) == 0 && log_[i].type == EDGE_OTA_FRAME_CHUNK)
			got[log_[i].index]++;
}

START_TEST(offer_then_window)
{
	start();
	add("n1", true);
	poll_();
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_OFFER, 0), 1);
	ck_assert(log_[0].reliable);
	ck_assert_uint_eq(log_[0].flags, 0);   /* one node: no campaign */
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_OFFERED);

	size_t mark = n_log;
	ck_assert_int_eq(accept_held("n1", NULL, 4), 0);   /* node window 4 < cfg 16 */
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_RECEIVING);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 4);
	for (uint32_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(log_[mark + i].index, i);
		ck_assert(!log_[mark + i].reliable);
	}
	/* Nothing more while the window is full. */
	now += 10;
	poll_();
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 4);

	bool held[100] = {0};
	held[0] = held[1] = true;
	mark = n_log;
	now += 40;
	ck_assert_int_eq(ack_held("n1", held), 0);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 2);
	ck_assert_uint_eq(log_[mark].index, 4);
	ck_assert_uint_eq(log_[mark + 1].index, 5);
	ck_assert_uint_eq(status("n1").chunks_held, 2);

	/* The cfg window caps a bigger node window. */
	struct edge_ota_sender_stats st;
	edge_ota_sender_get_stats(s, &st);
	ck_assert_uint_eq(st.unicast_chunks, 6);
	ck_assert_uint_eq(st.offers, 1);
	ck_assert_uint_eq(st.by_state[EDGE_OTA_N_RECEIVING], 1);
}
END_TEST

/* The fake node receives everything, acks each chunk rtt ms after it was
 * sent; returns when every chunk is held. */
static void deliver_all(const char *id, uint64_t rtt, bool *held)
{
	size_t seen = 0;
	while (status(id).chunks_held < 100) {
		/* find the oldest chunk not yet answered */
		while (seen < n_log && !(strcmp(log_[seen].id, id) == 0 &&
					 log_[seen].type == EDGE_OTA_FRAME_CHUNK))
			seen++;
		ck_assert_uint_lt(seen, n_log);
		uint64_t at = log_[seen].t + rtt;
		if (at > now)
			now = at;
		held[log_[seen].index] = true;
		seen++;
		ck_assert_int_eq(ack_held(id, held), 0);
		poll_();
	}
}

START_TEST(rtt_converges)
{
	cfg.window = 4;
	start();
	add("n1", true);
	poll_();
	ck_assert_uint_eq(status("n1").rto_ms, 1000);   /* rto_initial before a sample */
	ck_assert_int_eq(accept_held("n1", NULL, 16), 0);
	bool held[100] = {0};
	deliver_all("n1", 300, held);
	struct edge_ota_node_status st = status("n1");
	/* constant 300 ms round trips: SRTT → 300, RTTVAR → 0, RTO → max(300 + 4·var, min) */
	ck_assert_uint_ge(st.srtt_ms, 299);
	ck_assert_uint_le(st.srtt_ms, 301);
	ck_assert_uint_ge(st.rto_ms, 300);
	ck_assert_uint_le(st.rto_ms, 310);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_eq(st.unicast_chunks, 100);
	ck_assert_uint_eq(st.state, EDGE_OTA_N_VERIFYING);
}
END_TEST

START_TEST(timeout_backoff_and_karn)
{
	cfg.window = 2;
	cfg.rto_initial_ms = 1000;
	start();
	add("n1", true);
	poll_();
	size_t mark = n_log;
	ck_assert_int_eq(accept_held("n1", NULL, 16), 0);
	uint64_t t0 = now;
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 2);

	/* No ack: the RTO fires at +1000, then doubles: +2000, +4000. */
	uint64_t d = poll_();
	ck_assert_uint_eq(d, t0 + 1000);
	now = d;
	mark = n_log;
	d = poll_();
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 2);
	ck_assert_uint_eq(log_[mark].index, 0);
	ck_assert_uint_eq(log_[mark + 1].index, 1);
	ck_assert_uint_eq(status("n1").retransmits, 2);
	ck_assert_uint_eq(status("n1").rto_ms, 2000);
	ck_assert_uint_eq(d, now + 2000);
	now = d;
	poll_();
	ck_assert_uint_eq(status("n1").rto_ms, 4000);
	ck_assert_uint_eq(status("n1").retransmits, 4);

	/* Karn: acks of retransmitted chunks give no RTT sample. */
	now += 50;
	bool held[100] = {0};
	held[0] = held[1] = true;
	mark = n_log;
	ck_assert_int_eq(ack_held("n1", held), 0);
	ck_assert_uint_eq(status("n1").srtt_ms, 0);
	ck_assert_uint_eq(status("n1").rto_ms, 4000);
	/* The next chunks (sent once) do: 2 and 3, acked 100 ms later. */
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 2);
	now += 100;
	held[2] = held[3] = true;
	ck_assert_int_eq(ack_held("n1", held), 0);
	ck_assert_uint_eq(status("n1").srtt_ms, 100);
	/* RTO = 100 + 4·50 */
	ck_assert_uint_eq(status("n1").rto_ms, 300);

	/* Backoff stops at rto_max. */
	for (int i = 0; i < 10; i++) {
		now = poll_();
		poll_();
		if (status("n1").state != EDGE_OTA_N_RECEIVING)
			break;
	}
	ck_assert_uint_le(status("n1").rto_ms, cfg.rto_max_ms);
}
END_TEST

START_TEST(selective_repair)
{
	cfg.window = 8;
	start();
	add("n1", true);
	poll_();
	ck_assert_int_eq(accept_held("n1", NULL, 8), 0);
	/* 0..7 in flight; the node got all but 2 and 5. */
	bool held[100] = {0};
	for (int i = 0; i < 8; i++)
		held[i] = i != 2 && i != 5;
	now += 100;
	size_t mark = n_log;
	ck_assert_int_eq(ack_held("n1", held), 0);
	unsigned got[100];
	chunks_since("n1", mark, got);
	/* exactly the gaps again, at once (sent before an acked chunk: lost),
	 * then new chunks 8..13 fill the window of 8 */
	ck_assert_uint_eq(got[2], 1);
	ck_assert_uint_eq(got[5], 1);
	for (int i = 0; i < 8; i++)
		if (i != 2 && i != 5)
			ck_assert_uint_eq(got[i], 0);
	for (int i = 8; i < 14; i++)
		ck_assert_uint_eq(got[i], 1);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 8);
	ck_assert_uint_eq(status("n1").retransmits, 2);
	/* the window's newest entries are not reported lost again by the
	 * same ack */
	now += 10;
	mark = n_log;
	poll_();
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 0);
}
END_TEST

START_TEST(campaign_once_then_gaps)
{
	start();
	add("a", true);
	add("b", true);
	add("c", true);
	poll_();
	for (size_t i = 0; i < n_log; i++) {
		ck_assert_uint_eq(log_[i].type, EDGE_OTA_FRAME_OFFER);
		ck_assert_uint_eq(log_[i].flags, EDGE_OTA_OFFER_CAMPAIGN);
	}
	size_t mark = n_log;
	ck_assert_int_eq(accept_held("a", NULL, 16), 0);
	ck_assert_int_eq(accept_held("b", NULL, 16), 0);
	ck_assert_uint_eq(n_log, mark);   /* c has not answered, gather runs */
	now += 10;
	ck_assert_int_eq(accept_held("c", NULL, 16), 0);
	poll_();
	/* all answered: the pass went out, each chunk once, in order, nothing unicast */
	ck_assert_uint_eq(count("", EDGE_OTA_FRAME_CHUNK, mark), 100);
	for (uint32_t i = 0; i < 100; i++)
		ck_assert_uint_eq(log_[mark + i].index, i);
	ck_assert_uint_eq(count("a", EDGE_OTA_FRAME_CHUNK, 0) + count("b", EDGE_OTA_FRAME_CHUNK, 0) +
				  count("c", EDGE_OTA_FRAME_CHUNK, 0),
			  0);

	/* a and c got everything, b lost 10, 11 and 99 */
	now += 120;
	bool all[100], b_held[100];
	for (int i = 0; i < 100; i++) {
		all[i] = true;
		b_held[i] = i != 10 && i != 11 && i != 99;
	}
	mark = n_log;
	ck_assert_int_eq(ack_held("a", all), 0);
	ck_assert_int_eq(ack_held("c", all), 0);
	ck_assert_int_eq(ack_held("b", b_held), 0);
	poll_();
	unsigned got[100];
	chunks_since("b", mark, got);
	/* 10 and 11 at once (b acked later chunks); 99 only once b took
	 * nothing new for one RTO (nothing after it to ack) */
	ck_assert_uint_eq(got[10], 1);
	ck_assert_uint_eq(got[11], 1);
	ck_assert_uint_eq(count("b", EDGE_OTA_FRAME_CHUNK, mark), 2);
	/* b takes 10 and 11 (an RTT sample of 5 ms), then nothing more: 99
	 * goes once b took nothing new for its RTO (about 430 ms now) */
	now += 5;
	b_held[10] = b_held[11] = true;
	ck_assert_int_eq(ack_held("b", b_held), 0);
	run_until(now + 600);
	chunks_since("b", mark, got);
	ck_assert_uint_eq(got[99], 1);
	for (int i = 0; i < 100; i++)
		if (i != 10 && i != 11 && i != 99)
			ck_assert_uint_eq(got[i], 0);
	ck_assert_uint_eq(count("a", EDGE_OTA_FRAME_CHUNK, 0), 0);
	ck_assert_uint_eq(count("c", EDGE_OTA_FRAME_CHUNK, 0), 0);
	ck_assert_uint_eq(count("", EDGE_OTA_FRAME_CHUNK, 0), 100);
	ck_assert_uint_eq(status("a").state, EDGE_OTA_N_VERIFYING);
	ck_assert_int_eq(ack_held("b", all), 0);
	ck_assert_uint_eq(status("b").state, EDGE_OTA_N_VERIFYING);
	/* the campaign sample: published → first ack, 120 ms */
	ck_assert_uint_eq(status("a").srtt_ms, 120);

	struct edge_ota_sender_stats st;
	edge_ota_sender_get_stats(s, &st);
	ck_assert_uint_eq(st.campaign_chunks, 100);
	ck_assert_uint_eq(st.unicast_chunks, 3);
	ck_assert_uint_eq(st.campaign_bytes, 99 * (64 + 24) + 54 + 24);
}
END_TEST

START_TEST(campaign_gather_timeout)
{
	cfg.campaign_gather_ms = 2000;
	start();
	add("a", true);
	add("b", true);
	uint64_t t0 = now;
	poll_();
	ck_assert_int_eq(accept_held("a", NULL, 16), 0);
	size_t mark = n_log;
	/* b never answers: the pass starts at first offer + gather */
	uint64_t d = poll_();
	ck_assert_uint_eq(d, t0 + 2000);
	now = d - 1;
	poll_();
	ck_assert_uint_eq(count("", EDGE_OTA_FRAME_CHUNK, mark), 0);
	now = d;
	poll_();
	ck_assert_uint_eq(count("", EDGE_OTA_FRAME_CHUNK, mark), 100);
}
END_TEST

START_TEST(pacer_limits_rate)
{
	cfg.chunk_size = 1024;
	free(pkg);
	make_pkg(1024 * 100 - 10);
	edge_ota_pacer_init(&pacer, 20000, now);   /* 20 KB/s, burst 4 KB */
	cfg.window = 256;
	start();
	add("n1", true);
	uint64_t t0 = now;
	poll_();
	ck_assert_int_eq(accept_held("n1", NULL, 256), 0);
	uint64_t d = poll_();
	/* the burst went out, then poll answers when the pacer has tokens */
	size_t bytes = 0;
	for (size_t i = 0; i < n_log; i++)
		bytes += log_[i].len;
	ck_assert_uint_le(bytes, 4096);
	ck_assert_uint_gt(bytes, 4096 - 1048);
	ck_assert_uint_gt(d, now);
	ck_assert_uint_le(d, now + 1048 * 1000 / 20000 + 1);
	/* over 2 s: at most the burst + 2 s of rate */
	bool held[100] = {0};
	size_t acked_upto = 0;
	while (now < t0 + 2000) {
		now = poll_();
		/* ack what arrived (keep the window open, no retransmit) */
		for (; acked_upto < n_log; acked_upto++)
			if (log_[acked_upto].type == EDGE_OTA_FRAME_CHUNK)
				held[log_[acked_upto].index] = true;
		ck_assert_int_eq(ack_held("n1", held), 0);
	}
	bytes = 0;
	for (size_t i = 0; i < n_log; i++)
		if (log_[i].t <= t0 + 2000)
			bytes += log_[i].len;
	ck_assert_uint_le(bytes, 4096 + 20000 * 2 + 1048);
	ck_assert_uint_ge(bytes, 4096 + 20000 * 2 - 2 * 1048);
	ck_assert_uint_eq(status("n1").retransmits, 0);
}
END_TEST

START_TEST(offer_retries_then_stalled)
{
	start();
	add("n1", true);
	uint64_t t0 = now;
	run_until(t0 + 14999);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_OFFER, 0), 3);
	ck_assert_uint_eq(log_[1].t, t0 + 5000);
	ck_assert_uint_eq(log_[2].t, t0 + 10000);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_OFFERED);
	run_until(t0 + 15000);
	struct edge_ota_node_status st = status("n1");
	ck_assert_uint_eq(st.state, EDGE_OTA_N_STALLED);
	ck_assert_uint_eq(st.reason, EDGE_OTA_R_TIMEOUT);
	ck_assert_uint_eq(st.offers, 3);
	ck_assert_uint_eq(n_changes, 1);
	ck_assert_uint_eq(changes[0].state, EDGE_OTA_N_STALLED);
	/* retry_interval later: offered again */
	run_until(t0 + 15000 + 60000);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_OFFER, 0), 4);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_OFFERED);
}
END_TEST

/* A node that never answers is offered again and again, then given up:
 * failed (timeout) give_up_ms after its first stall, not held open. */
START_TEST(silent_node_is_given_up)
{
	cfg.give_up_ms = 300000;
	start();
	add("n1", true);
	add("gone", false);          /* offline from the start */
	uint64_t t0 = now;
	run_until(t0 + 15000 + 299999);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_OFFERED);  /* re-offered meanwhile */
	ck_assert_uint_eq(status("gone").state, EDGE_OTA_N_FAILED);
	ck_assert_uint_eq(status("gone").reason, EDGE_OTA_R_TIMEOUT);
	run_until(t0 + 15000 + 300000 + 1);
	struct edge_ota_node_status st = status("n1");
	ck_assert_uint_eq(st.state, EDGE_OTA_N_FAILED);
	ck_assert_uint_eq(st.reason, EDGE_OTA_R_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(st.detail, "given up"));
	ck_assert(edge_ota_sender_finished(s));
	ck_assert_uint_eq(poll_(), UINT64_MAX);
}
END_TEST

START_TEST(stall_timeout)
{
	start();
	add("n1", true);
	poll_();
	ck_assert_int_eq(accept_held("n1", NULL, 16), 0);
	/* one ack with progress, then silence */
	bool held[100] = {0};
	held[0] = true;
	now += 100;
	ck_assert_int_eq(ack_held("n1", held), 0);
	uint64_t last = now;
	run_until(last + cfg.stall_timeout_ms - 1);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_RECEIVING);
	ck_assert_uint_gt(status("n1").retransmits, 0);
	/* An ack without progress does not hold it off. */
	ck_assert_int_eq(ack_held("n1", held), 0);
	run_until(last + cfg.stall_timeout_ms);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_STALLED);
	ck_assert_uint_eq(status("n1").reason, EDGE_OTA_R_TIMEOUT);
	/* stale acks are ignored, no chunk goes out while stalled */
	size_t mark = n_log;
	ck_assert_int_eq(ack_held("n1", held), 0);
	run_until(now + 1000);
	ck_assert_uint_eq(n_log, mark);
}
END_TEST

START_TEST(online_resumes_from_have)
{
	start();
	add("n1", true);
	poll_();
	ck_assert_int_eq(accept_held("n1", NULL, 16), 0);
	now += 50;
	edge_ota_sender_node_offline(s, "n1", now);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_STALLED);
	ck_assert_uint_eq(status("n1").reason, EDGE_OTA_R_TIMEOUT);
	ck_assert_uint_eq(status("n1").updated_ms, WALL0 + now);   /* wall from the last call */
	size_t mark = n_log;
	run_until(now + 5000);
	ck_assert_uint_eq(n_log, mark);   /* nothing to an offline node */

	edge_ota_sender_node_online(s, "n1", now);
	poll_();
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_OFFER, mark), 1);
	ck_assert_uint_eq(status("n1").offers, 2);
	/* it held 0..49 and 60, 61 (saved before its acks) */
	bool held[100] = {0};
	for (int i = 0; i < 50; i++)
		held[i] = true;
	held[60] = held[61] = true;
	mark = n_log;
	ck_assert_int_eq(accept_held("n1", held, 16), 0);
	ck_assert_uint_eq(status("n1").chunks_held, 52);
	unsigned got[100];
	/* deliver the rest: no chunk the accept said is held is ever sent */
	deliver_all("n1", 20, held);
	chunks_since("n1", mark, got);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(got[i], (i < 50 || i == 60 || i == 61) ? 0u : 1u);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_VERIFYING);
}
END_TEST

START_TEST(deny_is_final)
{
	start();
	add("n1", true);
	poll_();
	struct edge_ota_answer a = {.type = EDGE_OTA_MSG_DENY, .transfer = T,
				    .reason = EDGE_OTA_R_MISSING_OPS};
	strcpy(a.sha256, model_sha);
	strcpy(a.detail, "SOFTMAX");
	ck_assert_int_eq(answer("n1", &a), 0);
	struct edge_ota_node_status st = status("n1");
	ck_assert_uint_eq(st.state, EDGE_OTA_N_DENIED);
	ck_assert_uint_eq(st.reason, EDGE_OTA_R_MISSING_OPS);
	ck_assert_str_eq(st.detail, "SOFTMAX");
	ck_assert_uint_eq(st.finished_ms, WALL0 + now);
	ck_assert(edge_ota_sender_finished(s));
	ck_assert_uint_eq(poll_(), UINT64_MAX);
	size_t mark = n_log;
	/* a late accept, an online event, a retry interval: still denied, silent */
	ck_assert_int_eq(accept_held("n1", NULL, 16), 0);
	edge_ota_sender_node_online(s, "n1", now);
	run_until(now + 200000);
	ck_assert_uint_eq(n_log, mark);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_DENIED);
}
END_TEST

START_TEST(result_states)
{
	start();
	const char *ids[] = {"a", "b", "c", "d"};
	for (int i = 0; i < 4; i++)
		add(ids[i], true);
	poll_();
	bool all[100];
	for (int i = 0; i < 100; i++)
		all[i] = true;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(accept_held(ids[i], all, 16), 0);   /* holds all already */
		ck_assert_uint_eq(status(ids[i]).state, EDGE_OTA_N_VERIFYING);
	}
	ck_assert_int_eq(result("a", EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK), 0);
	ck_assert_int_eq(result("b", EDGE_OTA_OUTCOME_REVERTED, EDGE_OTA_R_SELFTEST_MISMATCH), 0);
	ck_assert_int_eq(result("c", EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_HASH_MISMATCH), 0);
	ck_assert_uint_eq(status("a").state, EDGE_OTA_N_ACTIVATED);
	ck_assert_uint_eq(status("a").reason, EDGE_OTA_R_OK);
	ck_assert_uint_eq(status("a").output_sha256[0], 'a');
	ck_assert_uint_eq(strlen(status("a").output_sha256), EDGE_MSG_SHA256_HEX);
	ck_assert_uint_eq(status("b").state, EDGE_OTA_N_REVERTED);
	ck_assert_uint_eq(status("b").reason, EDGE_OTA_R_SELFTEST_MISMATCH);
	ck_assert_uint_eq(status("c").state, EDGE_OTA_N_FAILED);
	ck_assert_uint_eq(status("c").reason, EDGE_OTA_R_HASH_MISMATCH);
	ck_assert(!edge_ota_sender_finished(s));
	/* d never answers: result_timeout → failed (timeout) */
	run_until(now + cfg.result_timeout_ms);
	ck_assert_uint_eq(status("d").state, EDGE_OTA_N_FAILED);
	ck_assert_uint_eq(status("d").reason, EDGE_OTA_R_TIMEOUT);
	ck_assert(edge_ota_sender_finished(s));
	/* a duplicate result (QoS 1) changes nothing */
	size_t nc = n_changes;
	ck_assert_int_eq(result("a", EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_INTERNAL), 0);
	ck_assert_uint_eq(status("a").state, EDGE_OTA_N_ACTIVATED);
	ck_assert_uint_eq(n_changes, nc);
	struct edge_ota_sender_stats st;
	edge_ota_sender_get_stats(s, &st);
	ck_assert_uint_eq(st.by_state[EDGE_OTA_N_ACTIVATED], 1);
	ck_assert_uint_eq(st.by_state[EDGE_OTA_N_REVERTED], 1);
	ck_assert_uint_eq(st.by_state[EDGE_OTA_N_FAILED], 2);
}
END_TEST

START_TEST(cancel_nodes)
{
	start();
	add("a", true);
	add("b", true);
	add("c", false);
	poll_();
	ck_assert_int_eq(accept_held("a", NULL, 16), 0);
	size_t mark = n_log;
	edge_ota_sender_cancel(s, "a", WALL0 + now, now);
	ck_assert_uint_eq(count("a", EDGE_OTA_FRAME_CANCEL, mark), 1);
	ck_assert(log_[mark].reliable);
	ck_assert_uint_eq(status("a").state, EDGE_OTA_N_CANCELLED);
	ck_assert_uint_eq(status("a").reason, EDGE_OTA_R_CANCELLED);
	ck_assert_uint_eq(status("b").state, EDGE_OTA_N_OFFERED);
	edge_ota_sender_cancel(s, NULL, WALL0 + now, now);
	ck_assert_uint_eq(count("a", EDGE_OTA_FRAME_CANCEL, mark), 1);   /* final already */
	ck_assert_uint_eq(count("b", EDGE_OTA_FRAME_CANCEL, mark), 1);
	ck_assert_uint_eq(count("c", EDGE_OTA_FRAME_CANCEL, mark), 1);
	ck_assert(edge_ota_sender_finished(s));
	mark = n_log;
	ck_assert_uint_eq(poll_(), UINT64_MAX);
	run_until(now + 100000);
	ck_assert_uint_eq(n_log, mark);
}
END_TEST

START_TEST(contradicting_answers)
{
	start();
	add("n1", true);
	poll_();
	struct edge_ota_answer a = {.type = EDGE_OTA_MSG_ACCEPT, .transfer = T, .max_chunk = 4096,
				    .window = 8};
	/* wrong sha256 */
	memset(a.sha256, 'b', EDGE_MSG_SHA256_HEX);
	ck_assert_int_eq(answer("n1", &a), -EPROTO);
	strcpy(a.sha256, model_sha);
	/* have.next beyond n_chunks */
	a.have.next = 101;
	ck_assert_int_eq(answer("n1", &a), -EPROTO);
	/* a bit for chunk 100 (n_chunks is 100): next 90, bit 9 */
	a.have.next = 90;
	a.have.n_bits = 16;
	a.have.bits[1] = 0x02;
	ck_assert_int_eq(answer("n1", &a), -EPROTO);
	/* max_chunk below our chunk size */
	memset(&a.have, 0, sizeof(a.have));
	a.max_chunk = 32;
	ck_assert_int_eq(answer("n1", &a), -EPROTO);
	/* another transfer */
	a.max_chunk = 4096;
	a.transfer = T + 1;
	ck_assert_int_eq(answer("n1", &a), -EPROTO);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_OFFERED);
	/* unknown node */
	a.transfer = T;
	ck_assert_int_eq(answer("nobody", &a), EDGE_ENOTFOUND);
	/* the valid accept still works; an ack beyond the end is refused */
	ck_assert_int_eq(answer("n1", &a), 0);
	struct edge_ota_answer k = {.type = EDGE_OTA_MSG_ACK, .transfer = T};
	k.have.next = 100;
	k.have.n_bits = 8;
	k.have.bits[0] = 1;   /* chunk 101 */
	ck_assert_int_eq(answer("n1", &k), -EPROTO);
	/* activated without the output hash */
	struct edge_ota_answer r = {.type = EDGE_OTA_MSG_RESULT, .transfer = T,
				    .outcome = EDGE_OTA_OUTCOME_ACTIVATED};
	strcpy(r.sha256, model_sha);
	ck_assert_int_eq(answer("n1", &r), -EPROTO);
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_RECEIVING);
	ck_assert_uint_eq(status("n1").chunks_held, 0);
	struct edge_ota_sender_stats st;
	edge_ota_sender_get_stats(s, &st);
	ck_assert_uint_eq(st.bad_answers, 7);
}
END_TEST

START_TEST(restart_resume)
{
	start();
	/* "Before the restart": statuses as the daemon persisted them. */
	struct edge_ota_node_status done = {.state = EDGE_OTA_N_ACTIVATED, .offers = 1,
					    .chunks_held = 100, .n_chunks = 100,
					    .finished_ms = WALL0};
	strcpy(done.id, "done");
	struct edge_ota_node_status mid = {.state = EDGE_OTA_N_RECEIVING, .offers = 2,
					   .retransmits = 5, .unicast_chunks = 40,
					   .chunks_held = 40, .n_chunks = 100, .started_ms = WALL0};
	strcpy(mid.id, "mid");
	ck_assert_int_eq(edge_ota_sender_add(s, "done", true, &done, WALL0 + now, now), 0);
	ck_assert_int_eq(edge_ota_sender_add(s, "mid", true, &mid, WALL0 + now, now), 0);
	ck_assert_int_eq(edge_ota_sender_add(s, "mid", true, NULL, WALL0 + now, now), -EEXIST);
	ck_assert_int_eq(edge_ota_sender_add(s, EDGE_OTA_CAMPAIGN_ID, true, NULL, WALL0 + now, now),
			 -EINVAL);
	poll_();
	ck_assert_uint_eq(status("done").state, EDGE_OTA_N_ACTIVATED);
	ck_assert_uint_eq(count("done", EDGE_OTA_FRAME_OFFER, 0), 0);
	ck_assert_uint_eq(count("mid", EDGE_OTA_FRAME_OFFER, 0), 1);
	struct edge_ota_node_status st = status("mid");
	ck_assert_uint_eq(st.state, EDGE_OTA_N_OFFERED);
	ck_assert_uint_eq(st.offers, 3);
	ck_assert_uint_eq(st.retransmits, 5);
	ck_assert_uint_eq(st.started_ms, WALL0);
	/* the node kept 0..39: only 40.. go out (no campaign: one node left) */
	bool held[100] = {0};
	for (int i = 0; i < 40; i++)
		held[i] = true;
	size_t mark = n_log;
	ck_assert_int_eq(accept_held("mid", held, 16), 0);
	ck_assert_uint_eq(status("mid").chunks_held, 40);
	unsigned got[100];
	deliver_all("mid", 10, held);
	chunks_since("mid", mark, got);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(got[i], i < 40 ? 0u : 1u);
	ck_assert_int_eq(result("mid", EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK), 0);
	ck_assert(edge_ota_sender_finished(s));
}
END_TEST

START_TEST(names_and_bad_config)
{
	for (int i = 0; i < EDGE_OTA_N_STATE_COUNT; i++)
		ck_assert_int_eq(edge_ota_node_state_from_name(edge_ota_node_state_name(i)), i);
	ck_assert_int_eq(edge_ota_node_state_from_name("nope"), -1);
	ck_assert_str_eq(edge_ota_node_state_name(EDGE_OTA_N_STALLED), "stalled");
	struct edge_ota_sender *x = NULL;
	cfg.chunk_size = 32;
	ck_assert_int_eq(edge_ota_sender_new(T, pkg, pkg_len, &cfg, &io, &pacer, &x), -EINVAL);
	cfg.chunk_size = 64;
	cfg.window = 0;
	ck_assert_int_eq(edge_ota_sender_new(T, pkg, pkg_len, &cfg, &io, &pacer, &x), -EINVAL);
	cfg.window = 16;
	ck_assert_int_eq(edge_ota_sender_new(0, pkg, pkg_len, &cfg, &io, &pacer, &x), -EINVAL);
	/* a truncated package (head only) */
	ck_assert_int_eq(edge_ota_sender_new(T, pkg, pkg_len - (64 * 100 - 10), &cfg, &io, &pacer, &x),
			 -EINVAL);
	ck_assert_ptr_null(x);
}
END_TEST

/* 1,000 nodes: polling when nothing is due stays cheap (the heap), and a
 * campaign to all of them publishes each chunk once. */
START_TEST(thousand_nodes)
{
	start();
	char id[16];
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "n%04d", i);
		add(id, true);
	}
	poll_();
	ck_assert_uint_eq(n_log, 1000);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "n%04d", i);
		ck_assert_int_eq(accept_held(id, NULL, 16), 0);
	}
	poll_();
	ck_assert_uint_eq(count("", EDGE_OTA_FRAME_CHUNK, 0), 100);
	bool all[100];
	for (int i = 0; i < 100; i++)
		all[i] = true;
	now += 100;
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "n%04d", i);
		ck_assert_int_eq(ack_held(id, all), 0);
		ck_assert_int_eq(result(id, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK), 0);
	}
	ck_assert(edge_ota_sender_finished(s));
	ck_assert_uint_eq(poll_(), UINT64_MAX);
	ck_assert_uint_eq(n_log, 1100);
}
END_TEST


START_TEST(verifying_before_restart)
{
	start();
	struct edge_ota_node_status ver = {.state = EDGE_OTA_N_VERIFYING, .offers = 1,
					   .chunks_held = 100, .n_chunks = 100};
	strcpy(ver.id, "ver");
	ck_assert_int_eq(edge_ota_sender_add(s, "ver", true, &ver, WALL0 + now, now), 0);
	poll_();
	ck_assert_uint_eq(count("ver", EDGE_OTA_FRAME_OFFER, 0), 1);
	/* its result was lost with the gateway: it already runs the model */
	struct edge_ota_answer a = {.type = EDGE_OTA_MSG_DENY, .transfer = T,
				    .reason = EDGE_OTA_R_ALREADY_HAVE};
	strcpy(a.sha256, model_sha);
	ck_assert_int_eq(answer("ver", &a), 0);
	ck_assert_uint_eq(status("ver").state, EDGE_OTA_N_ACTIVATED);
	ck_assert_uint_eq(status("ver").reason, EDGE_OTA_R_ALREADY_HAVE);
	/* any node: a node running the model was never offered it, so it
	 * came by this transfer */
	add("other", true);
	poll_();
	ck_assert_int_eq(answer("other", &a), 0);
	ck_assert_uint_eq(status("other").state, EDGE_OTA_N_ACTIVATED);
	ck_assert_uint_eq(status("other").reason, EDGE_OTA_R_ALREADY_HAVE);
}
END_TEST

START_TEST(duplicate_accept_keeps_flight)
{
	cfg.window = 4;
	start();
	add("n1", true);
	poll_();
	now = poll_();   /* offer timeout: the offer again */
	poll_();
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_OFFER, 0), 2);
	ck_assert_int_eq(accept_held("n1", NULL, 16), 0);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, 0), 4);
	/* the answer to the second offer, after chunk 0 arrived */
	bool held[100] = {0};
	held[0] = true;
	size_t mark = n_log;
	now += 20;
	ck_assert_int_eq(accept_held("n1", held, 16), 0);
	unsigned got[100];
	chunks_since("n1", mark, got);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, mark), 1);   /* only the new room */
	ck_assert_uint_eq(got[4], 1);
	ck_assert_uint_eq(status("n1").retransmits, 0);
	ck_assert_uint_eq(status("n1").chunks_held, 1);
}
END_TEST

/* A node's acks describe EDGE_OTA_HAVE_BITS chunks after its first gap:
 * chunks beyond are not repaired (they may well be held) until the gap is
 * filled and the acks reach further. */
START_TEST(repair_within_have_horizon)
{
	free(pkg);
	make_pkg(64 * 3000);
	ck_assert_int_eq(edge_ota_sender_new(T, pkg, pkg_len, &cfg, &io, &pacer, &s), 0);
	ck_assert_uint_eq(edge_ota_sender_n_chunks(s), 3000);
	add("a", true);
	add("b", true);
	poll_();
	struct edge_ota_answer acc = {.type = EDGE_OTA_MSG_ACCEPT, .transfer = T,
				      .max_chunk = 4096, .window = 16};
	strcpy(acc.sha256, model_sha);
	ck_assert_int_eq(answer("a", &acc), 0);
	ck_assert_int_eq(answer("b", &acc), 0);
	poll_();
	ck_assert_uint_eq(count("", EDGE_OTA_FRAME_CHUNK, 0), 3000);
	/* a holds everything; b lost chunk 0 and says so: next 0, 2048 bits */
	now += 100;
	struct edge_ota_answer k = {.type = EDGE_OTA_MSG_ACK, .transfer = T};
	k.have.next = 3000;
	ck_assert_int_eq(answer("a", &k), 0);
	k.have.next = 0;
	k.have.n_bits = EDGE_OTA_HAVE_BITS;
	memset(k.have.bits, 0xff, sizeof(k.have.bits));
	size_t mark = n_log;
	ck_assert_int_eq(answer("b", &k), 0);
	/* past publish + RTO (300 ms: one 100 ms sample) for every chunk,
	 * before the repair of chunk 0 (sent now) times out */
	ck_assert_uint_eq(status("b").rto_ms, 300);
	run_until(now + 250);
	ck_assert_uint_eq(count("b", EDGE_OTA_FRAME_CHUNK, mark), 1);
	for (size_t i = mark; i < n_log; i++)
		if (strcmp(log_[i].id, "b") == 0)
			ck_assert_uint_eq(log_[i].index, 0);
	/* the gap filled: b holds everything */
	k.have.next = 3000;
	k.have.n_bits = 0;
	ck_assert_int_eq(answer("b", &k), 0);
	ck_assert_uint_eq(status("b").state, EDGE_OTA_N_VERIFYING);
	ck_assert_uint_eq(count("b", EDGE_OTA_FRAME_CHUNK, mark), 1);
}
END_TEST

/* Retransmits held back by a pacer that other transfers drained: the node
 * is not stalled for the gateway's lack of bandwidth, and nothing spins. */
START_TEST(starved_pacer_no_stall)
{
	edge_ota_pacer_init(&pacer, 1024, now);
	start();
	add("n1", true);
	poll_();
	ck_assert_int_eq(accept_held("n1", NULL, 4), 0);
	ck_assert_uint_eq(count("n1", EDGE_OTA_FRAME_CHUNK, 0), 4);
	/* other transfers took ~2500 s of budget (a frame bigger than the
	 * burst leaves the balance negative) */
	pacer.tokens = -2.5e6;
	size_t mark = n_log;
	unsigned polls = 0;
	uint64_t until = now + 3 * cfg.stall_timeout_ms;
	while (now < until) {
		uint64_t d = poll_();
		polls++;
		ck_assert_uint_gt(d, now);
		now = d < until ? d : until;
	}
	ck_assert_uint_eq(n_log, mark);   /* nothing could go out */
	ck_assert_uint_eq(status("n1").state, EDGE_OTA_N_RECEIVING);
	ck_assert_uint_lt(polls, 20);
}
END_TEST

static Suite *sender_suite(void)
{
	Suite *su = suite_create("ota_sender");
	TCase *tc = tcase_create("sender");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, offer_then_window);
	tcase_add_test(tc, rtt_converges);
	tcase_add_test(tc, timeout_backoff_and_karn);
	tcase_add_test(tc, selective_repair);
	tcase_add_test(tc, campaign_once_then_gaps);
	tcase_add_test(tc, campaign_gather_timeout);
	tcase_add_test(tc, pacer_limits_rate);
	tcase_add_test(tc, offer_retries_then_stalled);
	tcase_add_test(tc, silent_node_is_given_up);
	tcase_add_test(tc, stall_timeout);
	tcase_add_test(tc, online_resumes_from_have);
	tcase_add_test(tc, deny_is_final);
	tcase_add_test(tc, result_states);
	tcase_add_test(tc, cancel_nodes);
	tcase_add_test(tc, contradicting_answers);
	tcase_add_test(tc, restart_resume);
	tcase_add_test(tc, names_and_bad_config);
	tcase_add_test(tc, thousand_nodes);
	tcase_add_test(tc, verifying_before_restart);
	tcase_add_test(tc, duplicate_accept_keeps_flight);
	tcase_add_test(tc, repair_within_have_horizon);
	tcase_add_test(tc, starved_pacer_no_stall);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return test_run_suite(sender_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
