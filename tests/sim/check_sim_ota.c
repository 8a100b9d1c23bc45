/* The simulator's OTA platform (sim_ota.c) with proto's real receiver, in
 * one process without a broker: a package packed by lib/ota from a real
 * model with a real key, its frames built with proto's encoder as the
 * gateway sends them, the node's answers parsed back. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_keys.h"
#include "edge_ota_pack.h"
#include "edge_ota_transfer.h"
#include "sim_msgs.h"
#include "sim_ota.h"
#include "test_data.h"
#include "test_run.h"
#include "test_tmpdir.h"

#define CHUNK 64u
#define TRANSFER 77u
#define MAX_ANSWERS 512

static struct test_tmpdir tmp;
static char err[512];
static struct sim_ota_fleet fleet;
static uint8_t *pkg, *model;
static size_t pkg_len, head_len, model_len;
static uint32_t n_chunks;
static struct edge_ota_manifest man;

/* What the node published. */
static struct capture {
	unsigned n, acks;
	struct edge_ota_answer a[MAX_ANSWERS];
	uint32_t campaign_on, campaign_off;
} cap;

static int cap_send(void *ud, const char *json, size_t len, bool is_ack)
{
	struct edge_msg_error e;
	(void)ud;
	ck_assert_uint_lt(cap.n, MAX_ANSWERS);
	ck_assert_msg(edge_ota_answer_parse(json, len, &cap.a[cap.n], &e) == 0,
		      "the node's answer does not parse: %s at %s: %.*s",
		      edge_msg_reject_name(e.reason), e.field, (int)len, json);
	ck_assert(is_ack == (cap.a[cap.n].type == EDGE_OTA_MSG_ACK));
	cap.acks += is_ack;
	cap.n++;
	return 0;
}

static int cap_campaign(void *ud, uint32_t transfer, bool on)
{
	(void)ud;
	if (on)
		cap.campaign_on = transfer;
	else
		cap.campaign_off = transfer;
	return 0;
}

static const struct sim_ota_host host = { .send = cap_send, .campaign = cap_campaign };

/* The last answer of type t, NULL for none. */
static const struct edge_ota_answer *last(uint8_t t)
{
	for (unsigned i = cap.n; i-- > 0;)
		if (cap.a[i].type == t)
			return &cap.a[i];
	return NULL;
}

static unsigned count(uint8_t t)
{
	unsigned k = 0;
	for (unsigned i = 0; i < cap.n; i++)
		k += cap.a[i].type == t;
	return k;
}

/* A P-256 key in tmp (its .pub is the nodes' trust), the hello-world model
 * packed and signed with it, the fleet trusting tmp. */
static void setup(void)
{
	struct edge_ota_key *k = NULL;
	char base[PATH_MAX];
	struct edge_ota_container c;
	struct edge_msg_error e;
	static const struct edge_ota_pack_args args = {
		.name = "hw", .version = "1.0.0", .counter = 7, .seed = 12345,
	};

	memset(&cap, 0, sizeof(cap));
	test_tmpdir_make(&tmp);
	ck_assert_int_eq(edge_ota_key_generate(EDGE_OTA_SIG_ECDSA_P256, &k, err, sizeof(err)), 0);
	test_tmpdir_path(&tmp, "k1", base, sizeof(base));
	ck_assert_msg(edge_ota_key_save(k, base, err, sizeof(err)) == 0, "%s", err);
	model = test_data_model("hello_world_int8.tflite", &model_len);
	ck_assert_msg(edge_ota_pack(model, model_len, &args, &k, 1, &pkg, &pkg_len, &man, err,
				    sizeof(err)) == 0, "%s", err);
	edge_ota_key_free(k);
	ck_assert_int_eq(edge_ota_container_parse(pkg, pkg_len, &c, &e), 0);
	head_len = (size_t)(c.model - pkg);
	n_chunks = (uint32_t)((model_len + CHUNK - 1) / CHUNK);
	ck_assert_uint_ge(n_chunks, 8);
	ck_assert_msg(sim_ota_fleet_init(&fleet, tmp.dir, 1, NULL, 0, 0, err, sizeof(err)) == 0,
		      "%s", err);
	fleet.stall_ms = 20000;
}

static void teardown(void)
{
	sim_ota_fleet_free(&fleet);
	free(pkg);
	free(model);
	pkg = model = NULL;
	test_tmpdir_remove(&tmp);
}

static void offer(struct sim_ota_node *n, uint64_t now)
{
	uint8_t f[EDGE_OTA_FRAME_MAX];
	struct edge_ota_offer o = {
		.chunk_size = CHUNK, .n_chunks = n_chunks, .flags = 0,
		.head = pkg, .head_len = head_len,
	};
	int len = edge_ota_offer_encode(f, sizeof(f), TRANSFER, &o);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(sim_ota_on_frame(n, f, (size_t)len, now), 0);
}

static void chunk(struct sim_ota_node *n, uint32_t i, uint64_t now)
{
	uint8_t f[EDGE_OTA_FRAME_HDR + CHUNK];
	size_t off = (size_t)i * CHUNK;
	uint32_t l = (uint32_t)(model_len - off < CHUNK ? model_len - off : CHUNK);
	int len = edge_ota_frame_encode(f, sizeof(f), EDGE_OTA_FRAME_CHUNK, TRANSFER, i,
					model + off, l);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(sim_ota_on_frame(n, f, (size_t)len, now), 0);
}

static void assert_accepted(const struct edge_ota_answer *a)
{
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->transfer, TRANSFER);
	ck_assert_str_eq(a->sha256, man.sha256);
	ck_assert_uint_ge(a->max_chunk, CHUNK);
}

static void assert_result(uint8_t outcome, uint8_t reason)
{
	const struct edge_ota_answer *r = last(EDGE_OTA_MSG_RESULT);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(count(EDGE_OTA_MSG_RESULT), 1);
	ck_assert_uint_eq(r->transfer, TRANSFER);
	ck_assert_str_eq(r->sha256, man.sha256);
	ck_assert_msg(r->outcome == outcome, "outcome %s, reason %s",
		      edge_ota_outcome_name(r->outcome), edge_ota_reason_name(r->reason));
	ck_assert_msg(r->reason == reason, "reason %s, expected %s",
		      edge_ota_reason_name(r->reason), edge_ota_reason_name(reason));
}

START_TEST(activates_with_the_golden_hash)
{
	struct sim_ota_node n;
	struct sim_ota_stats st;
	uint64_t now = 1000;

	sim_ota_node_init(&n, &fleet, &host, 0, 1);
	ck_assert_ptr_null(sim_ota_model(&n));
	offer(&n, now);
	assert_accepted(last(EDGE_OTA_MSG_ACCEPT));
	ck_assert_uint_eq(last(EDGE_OTA_MSG_ACCEPT)->have.next, 0);
	ck_assert_ptr_nonnull(n.slot); /* erased to the model's size */
	ck_assert_uint_eq(n.slot_len, model_len);
	for (uint32_t i = 0; i < n_chunks; i++) {
		chunk(&n, i, now += 10);
		sim_ota_tick(&n, now + 5);
	}
	assert_result(EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	const struct edge_ota_answer *r = last(EDGE_OTA_MSG_RESULT);
	ck_assert(r->has_output);
	/* the hash lib/ota's packing computed, recomputed from the slot */
	ck_assert_str_eq(r->output_sha256, man.selftest_output_sha256);
	ck_assert_uint_eq(sim_ota_take_events(&n), SIM_OTA_EV_MODEL | SIM_OTA_EV_FINAL);
	ck_assert_uint_eq(sim_ota_take_events(&n), 0);
	const struct edge_msg_model *m = sim_ota_model(&n);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->name, "hw");
	ck_assert_str_eq(m->version, "1.0.0");
	ck_assert_str_eq(m->sha256, man.sha256);
	ck_assert_ptr_null(n.slot); /* freed after the result */
	ck_assert_uint_eq(n.n_counters, 1);
	ck_assert_uint_eq(n.counters[0].counter, 7);

	/* The next hello announces it and parses as the gateway reads it. */
	char buf[EDGE_MSG_MAX_PAYLOAD + 1];
	struct edge_msg_hello h;
	struct edge_msg_error e;
	struct sim_msgs_caps caps = {
		.ops = fleet.ops, .n_ops = fleet.n_ops, .arena_bytes = fleet.arena_bytes,
		.flash_bytes = fleet.flash_bytes, .model = m,
	};
	int len = sim_msgs_encode_hello_caps(buf, sizeof(buf), "sim-00000", 30, &caps);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(edge_msg_parse_hello(buf, (size_t)len, &h, &e), 0);
	ck_assert_int_eq(h.has_model, 1);
	ck_assert_str_eq(h.model.sha256, man.sha256);
	ck_assert_uint_eq(h.n_ops, fleet.n_ops);
	for (unsigned i = 0; i < man.n_ops; i++) {
		bool found = false;
		for (unsigned j = 0; j < h.n_ops; j++)
			found |= strcmp(h.ops[j], man.ops[i]) == 0;
		ck_assert_msg(found, "the hello lacks the model's op %s", man.ops[i]);
	}

	/* The same model again: the receiver knows it runs it. */
	unsigned before = cap.n;
	offer(&n, now += 1000);
	ck_assert_uint_eq(cap.n, before + 1);
	ck_assert_uint_eq(cap.a[before].type, EDGE_OTA_MSG_DENY);
	ck_assert_uint_eq(cap.a[before].reason, EDGE_OTA_R_ALREADY_HAVE);

	memset(&st, 0, sizeof(st));
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.offers, 2);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.denied, 1);
	ck_assert_uint_eq(st.chunks, n_chunks);
	ck_assert_uint_eq(st.activated, 1);
	ck_assert_uint_eq(st.reverted + st.failed + st.bad + st.dups, 0);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(failed_selftest_reverts)
{
	struct sim_ota_node n;
	uint64_t now = 1000;

	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_FAIL_SELFTEST, 1);
	offer(&n, now);
	assert_accepted(last(EDGE_OTA_MSG_ACCEPT));
	for (uint32_t i = 0; i < n_chunks; i++)
		chunk(&n, i, now += 10);
	assert_result(EDGE_OTA_OUTCOME_REVERTED, EDGE_OTA_R_SELFTEST_MISMATCH);
	/* a final result, but no model change: no new hello */
	ck_assert_uint_eq(sim_ota_take_events(&n), SIM_OTA_EV_FINAL);
	ck_assert_ptr_null(sim_ota_model(&n));
	ck_assert_ptr_null(n.slot);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.reverted, 1);
	ck_assert_uint_eq(st.activated, 0);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(reboot_resumes_with_held_chunks)
{
	struct sim_ota_node n;
	uint64_t now = 1000;
	uint32_t fed = 0, acked = 0;

	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_REBOOT, 1);
	offer(&n, now);
	assert_accepted(last(EDGE_OTA_MSG_ACCEPT));
	/* In order, each chunk acked (the ack delay passes) before the next. */
	while (!(sim_ota_take_events(&n) & SIM_OTA_EV_REBOOT)) {
		ck_assert_uint_lt(fed, n_chunks);
		if (last(EDGE_OTA_MSG_ACK))
			acked = last(EDGE_OTA_MSG_ACK)->have.next;
		chunk(&n, fed++, now += 10);
		sim_ota_tick(&n, now += EDGE_OTA_RX_ACK_DELAY_MS + 5);
	}
	/* at half: the receiver is gone, the slot and resume state stay */
	ck_assert_uint_eq(fed, (n_chunks + 1) / 2);
	ck_assert_ptr_null(n.rx);
	ck_assert_ptr_nonnull(n.slot);
	ck_assert_uint_gt(n.state_len, 0);
	ck_assert_uint_gt(acked, 0);
	/* Frames before the connection is back are lost. */
	chunk(&n, fed, now += 10);
	ck_assert_ptr_null(n.rx);

	/* Connected again; the gateway offers the same transfer again. */
	sim_ota_online(&n);
	unsigned accepts = count(EDGE_OTA_MSG_ACCEPT);
	offer(&n, now += 1000);
	ck_assert_uint_eq(count(EDGE_OTA_MSG_ACCEPT), accepts + 1);
	const struct edge_ota_answer *a = last(EDGE_OTA_MSG_ACCEPT);
	assert_accepted(a);
	/* Everything an ack claimed survived; nothing beyond what arrived. */
	ck_assert_uint_ge(a->have.next, acked);
	ck_assert_uint_le(a->have.next, fed);
	/* Only the rest is sent. */
	for (uint32_t i = a->have.next; i < n_chunks; i++)
		chunk(&n, i, now += 10);
	assert_result(EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_str_eq(last(EDGE_OTA_MSG_RESULT)->output_sha256, man.selftest_output_sha256);
	ck_assert_uint_eq(sim_ota_take_events(&n), SIM_OTA_EV_MODEL | SIM_OTA_EV_FINAL);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.reboots, 1);
	ck_assert_uint_eq(st.ignored, 1);
	ck_assert_uint_eq(st.chunks, fed + (n_chunks - a->have.next));
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(deny_answers_busy_without_a_receiver)
{
	struct sim_ota_node n;

	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_DENY, 1);
	offer(&n, 1000);
	ck_assert_uint_eq(cap.n, 1);
	ck_assert_uint_eq(cap.a[0].type, EDGE_OTA_MSG_DENY);
	ck_assert_uint_eq(cap.a[0].transfer, TRANSFER);
	ck_assert_uint_eq(cap.a[0].reason, EDGE_OTA_R_BUSY);
	ck_assert_str_eq(cap.a[0].sha256, man.sha256);
	ck_assert_ptr_null(n.rx);
	ck_assert_ptr_null(n.slot);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.offers, 1);
	ck_assert_uint_eq(st.denied, 1);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(corrupt_chunks_fail_the_crc)
{
	struct sim_ota_node n;
	uint64_t now = 1000;

	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_CORRUPT, 1);
	offer(&n, now);
	for (uint32_t i = 0; i < n_chunks; i++)
		chunk(&n, i, now += 10);
	/* chunks 0..2 were flipped and dropped by the receiver: no result */
	ck_assert_ptr_null(last(EDGE_OTA_MSG_RESULT));
	sim_ota_tick(&n, now += EDGE_OTA_RX_ACK_DELAY_MS + 5);
	const struct edge_ota_answer *ack = last(EDGE_OTA_MSG_ACK);
	ck_assert_ptr_nonnull(ack);
	ck_assert_uint_eq(ack->have.next, 0);
	for (uint32_t i = 0; i < SIM_OTA_CORRUPT_FRAMES; i++)
		ck_assert(!edge_ota_have_test(&ack->have, i));
	ck_assert(edge_ota_have_test(&ack->have, SIM_OTA_CORRUPT_FRAMES));
	/* sent again, they pass */
	for (uint32_t i = 0; i < SIM_OTA_CORRUPT_FRAMES; i++)
		chunk(&n, i, now += 10);
	assert_result(EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.corrupted, SIM_OTA_CORRUPT_FRAMES);
	ck_assert_uint_eq(st.bad, SIM_OTA_CORRUPT_FRAMES);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(stall_ignores_then_resumes)
{
	struct sim_ota_node n;
	uint64_t now = 1000;
	uint32_t i = 0;

	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_STALL, 1);
	offer(&n, now);
	while (n.stall_until == 0) {
		ck_assert_uint_lt(i, n_chunks);
		chunk(&n, i++, now += 10);
	}
	ck_assert_uint_eq(n.stall_until, now + fleet.stall_ms);
	/* frozen: frames and timers are ignored, nothing is answered */
	unsigned answers = cap.n;
	for (uint32_t k = i; k < n_chunks; k++)
		chunk(&n, k, now += 10);
	sim_ota_tick(&n, now += 1000);
	ck_assert_uint_eq(cap.n, answers);
	ck_assert_ptr_null(last(EDGE_OTA_MSG_RESULT));
	/* afterwards it behaves: the rest completes the transfer */
	now = n.stall_until;
	for (uint32_t k = i; k < n_chunks; k++)
		chunk(&n, k, now += 10);
	assert_result(EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.stalled, 1);
	ck_assert_uint_eq(st.ignored, n_chunks - i);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(disconnect_keeps_the_receiver)
{
	struct sim_ota_node n;
	uint64_t now = 1000;
	uint32_t i = 0;

	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_DISCONNECT, 1);
	offer(&n, now);
	while (!(sim_ota_take_events(&n) & SIM_OTA_EV_DISCONNECT)) {
		ck_assert_uint_lt(i, n_chunks);
		chunk(&n, i++, now += 10);
	}
	ck_assert_ptr_nonnull(n.rx); /* no reboot: the same receiver */
	chunk(&n, i, now += 10);     /* lost with the connection */
	sim_ota_online(&n);
	/* no new offer needed: the rest completes it */
	for (uint32_t k = i; k < n_chunks; k++)
		chunk(&n, k, now += 10);
	assert_result(EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.disconnects, 1);
	ck_assert_uint_eq(st.ignored, 1);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.chunks, n_chunks);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(drop_loses_a_share_of_chunks)
{
	struct sim_ota_node n, again;
	uint64_t now = 1000;

	fleet.drop = 0.5;
	sim_ota_node_init(&n, &fleet, &host, 0, 99);
	offer(&n, now);
	for (uint32_t i = 0; i < n_chunks; i++)
		chunk(&n, i, now += 10);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_gt(st.dropped, 0);
	ck_assert_uint_lt(st.dropped, n_chunks);
	ck_assert_uint_eq(st.dropped + st.chunks, n_chunks);
	ck_assert_ptr_null(last(EDGE_OTA_MSG_RESULT));
	/* the same seed drops the same chunks */
	sim_ota_node_init(&again, &fleet, &host, 0, 99);
	offer(&again, now);
	for (uint32_t i = 0; i < n_chunks; i++)
		chunk(&again, i, now += 10);
	struct sim_ota_stats st2 = {0};
	sim_ota_stats_add(&st2, &again);
	ck_assert_uint_eq(st2.dropped, st.dropped);
	sim_ota_node_free(&again);
	sim_ota_node_free(&n);
}
END_TEST

START_TEST(fleet_options)
{
	struct sim_ota_fleet f;

	/* --ops overrides the engine's list; a bad name is refused */
	ck_assert_int_eq(sim_ota_fleet_init(&f, NULL, 0, "CONV_2D,SOFTMAX", 1000, 2000, err,
					    sizeof(err)), 0);
	ck_assert_uint_eq(f.n_ops, 2);
	ck_assert_str_eq(f.ops[1], "SOFTMAX");
	ck_assert_uint_eq(f.arena_bytes, 1000);
	ck_assert_uint_eq(f.flash_bytes, 2000);
	ck_assert_uint_eq(f.threshold, 1);
	sim_ota_fleet_free(&f);
	ck_assert_int_ne(sim_ota_fleet_init(&f, NULL, 0, "CONV_2D,softmax", 0, 0, err,
					    sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "softmax"));
	sim_ota_fleet_free(&f);
	/* the threshold cannot exceed the keys held */
	ck_assert_int_ne(sim_ota_fleet_init(&f, tmp.dir, 2, NULL, 0, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "threshold"));
	sim_ota_fleet_free(&f);
}
END_TEST

/* ---- revert */

/* A second package: simple_add, the same name and counter as hw. */
struct pkg2 {
	uint8_t *pkg, *model;
	size_t pkg_len, head_len, model_len;
	struct edge_ota_manifest man;
};

static void pack_v2(struct pkg2 *p)
{
	struct edge_ota_key *k = NULL;
	char base[PATH_MAX];
	struct edge_ota_container c;
	struct edge_msg_error e;
	static const struct edge_ota_pack_args args = {
		.name = "hw", .version = "2.0.0", .counter = 7, .seed = 999,
	};

	/* Signed by a second key the fleet also trusts. */
	ck_assert_int_eq(edge_ota_key_generate(EDGE_OTA_SIG_ED25519, &k, err, sizeof(err)), 0);
	test_tmpdir_path(&tmp, "k2", base, sizeof(base));
	ck_assert_msg(edge_ota_key_save(k, base, err, sizeof(err)) == 0, "%s", err);
	p->model = test_data_model("simple_add.tflite", &p->model_len);
	ck_assert_msg(edge_ota_pack(p->model, p->model_len, &args, &k, 1, &p->pkg, &p->pkg_len,
				    &p->man, err, sizeof(err)) == 0, "%s", err);
	edge_ota_key_free(k);
	ck_assert_int_eq(edge_ota_container_parse(p->pkg, p->pkg_len, &c, &e), 0);
	p->head_len = (size_t)(c.model - p->pkg);
	sim_ota_fleet_free(&fleet);
	ck_assert_msg(sim_ota_fleet_init(&fleet, tmp.dir, 1, NULL, 0, 0, err, sizeof(err)) == 0,
		      "%s", err);
}

static void free_v2(struct pkg2 *p)
{
	free(p->pkg);
	free(p->model);
}

/* The whole of a transfer of p (one chunk per frame, in order). */
static void transfer(struct sim_ota_node *n, const struct pkg2 *p, uint32_t t, uint64_t *now)
{
	uint8_t f[EDGE_OTA_FRAME_MAX];
	uint32_t nc = (uint32_t)((p->model_len + CHUNK - 1) / CHUNK);
	struct edge_ota_offer o = {
		.chunk_size = CHUNK, .n_chunks = nc, .head = p->pkg, .head_len = p->head_len,
	};
	int len = edge_ota_offer_encode(f, sizeof(f), t, &o);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(sim_ota_on_frame(n, f, (size_t)len, *now += 10), 0);
	for (uint32_t i = 0; i < nc; i++) {
		size_t off = (size_t)i * CHUNK;
		uint32_t l = (uint32_t)(p->model_len - off < CHUNK ? p->model_len - off : CHUNK);
		len = edge_ota_frame_encode(f, sizeof(f), EDGE_OTA_FRAME_CHUNK, t, i,
					    p->model + off, l);
		ck_assert_int_gt(len, 0);
		ck_assert_int_eq(sim_ota_on_frame(n, f, (size_t)len, *now += 10), 0);
	}
	const struct edge_ota_answer *r = last(EDGE_OTA_MSG_RESULT);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->transfer, t);
	ck_assert_uint_eq(r->outcome, EDGE_OTA_OUTCOME_ACTIVATED);
}

static const struct edge_ota_answer *revert(struct sim_ota_node *n, const char *sha_hex,
					    uint32_t t, uint64_t now)
{
	uint8_t sha[32], f[EDGE_OTA_FRAME_HDR + EDGE_OTA_REVERT_PAYLOAD];
	for (unsigned i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(sha_hex + 2 * i, "%2x", &v), 1);
		sha[i] = (uint8_t)v;
	}
	int len = edge_ota_revert_encode(f, sizeof(f), t, sha);
	ck_assert_int_gt(len, 0);
	unsigned before = cap.n;
	ck_assert_int_eq(sim_ota_on_frame(n, f, (size_t)len, now), 0);
	ck_assert_uint_eq(cap.n, before + 1);
	const struct edge_ota_answer *a = &cap.a[before];
	ck_assert_uint_eq(a->type, EDGE_OTA_MSG_RESULT);
	ck_assert_uint_eq(a->transfer, t);
	ck_assert_str_eq(a->sha256, sha_hex);
	return a;
}

START_TEST(revert_runs_the_previous_model)
{
	struct sim_ota_node n;
	struct pkg2 v1 = { .pkg = pkg, .model = model, .pkg_len = pkg_len, .head_len = head_len,
			   .model_len = model_len, .man = man };
	struct pkg2 v2;
	uint64_t now = 1000;

	pack_v2(&v2);
	sim_ota_node_init(&n, &fleet, &host, 0, 1);
	/* The initial model (none here) has no manifest: nothing to go back to. */
	const struct edge_ota_answer *a = revert(&n, man.sha256, 900, now);
	ck_assert_uint_eq(a->outcome, EDGE_OTA_OUTCOME_FAILED);
	ck_assert_uint_eq(a->reason, EDGE_OTA_R_NOT_HELD);

	transfer(&n, &v1, 901, &now);
	transfer(&n, &v2, 902, &now);
	ck_assert_str_eq(sim_ota_model(&n)->sha256, v2.man.sha256);
	ck_assert_str_eq(last(EDGE_OTA_MSG_RESULT)->output_sha256, v2.man.selftest_output_sha256);
	(void)sim_ota_take_events(&n);

	/* Back to v1: no bytes, its stored self-test output, hello with it. */
	a = revert(&n, v1.man.sha256, 903, now += 10);
	ck_assert_msg(a->outcome == EDGE_OTA_OUTCOME_ACTIVATED, "%s/%s",
		      edge_ota_outcome_name(a->outcome), edge_ota_reason_name(a->reason));
	ck_assert(a->has_output);
	ck_assert_str_eq(a->output_sha256, v1.man.selftest_output_sha256);
	ck_assert_ptr_null(n.slot);
	const struct edge_msg_model *m = sim_ota_model(&n);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->sha256, v1.man.sha256);
	ck_assert_str_eq(m->version, "1.0.0");
	ck_assert_uint_eq(sim_ota_take_events(&n), SIM_OTA_EV_MODEL);
	/* Repeated (its answer lost): activated again, still v1. */
	a = revert(&n, v1.man.sha256, 903, now += 10);
	ck_assert_uint_eq(a->outcome, EDGE_OTA_OUTCOME_ACTIVATED);
	ck_assert_str_eq(a->output_sha256, v1.man.selftest_output_sha256);
	ck_assert_str_eq(sim_ota_model(&n)->sha256, v1.man.sha256);
	/* And forward to v2, the other slot's now. */
	a = revert(&n, v2.man.sha256, 904, now += 10);
	ck_assert_uint_eq(a->outcome, EDGE_OTA_OUTCOME_ACTIVATED);
	ck_assert_str_eq(a->output_sha256, v2.man.selftest_output_sha256);
	ck_assert_str_eq(sim_ota_model(&n)->version, "2.0.0");

	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.reverts, 3);
	ck_assert_uint_eq(st.revert_failures, 1);
	ck_assert_uint_eq(st.activated, 2); /* transfers only */
	ck_assert_uint_eq(st.failed + st.reverted, 0);

	/* A reboot keeps the flash: back to v1 once more. */
	sim_ota_reboot(&n);
	sim_ota_online(&n);
	a = revert(&n, v1.man.sha256, 905, now += 10);
	ck_assert_uint_eq(a->outcome, EDGE_OTA_OUTCOME_ACTIVATED);
	ck_assert_str_eq(sim_ota_model(&n)->sha256, v1.man.sha256);
	sim_ota_node_free(&n);
	free_v2(&v2);
}
END_TEST

START_TEST(forget_previous_answers_not_held)
{
	struct sim_ota_node n, busy;
	struct pkg2 v1 = { .pkg = pkg, .model = model, .pkg_len = pkg_len, .head_len = head_len,
			   .model_len = model_len, .man = man };
	struct pkg2 v2;
	uint64_t now = 1000;

	pack_v2(&v2);
	sim_ota_node_init(&n, &fleet, &host, SIM_OTA_FORGET_PREVIOUS, 1);
	transfer(&n, &v1, 901, &now);
	transfer(&n, &v2, 902, &now);
	(void)sim_ota_take_events(&n);
	const struct edge_ota_answer *a = revert(&n, v1.man.sha256, 903, now += 10);
	ck_assert_uint_eq(a->outcome, EDGE_OTA_OUTCOME_FAILED);
	ck_assert_uint_eq(a->reason, EDGE_OTA_R_NOT_HELD);
	ck_assert(!a->has_output);
	ck_assert_str_eq(sim_ota_model(&n)->sha256, v2.man.sha256);
	ck_assert_uint_eq(sim_ota_take_events(&n), 0); /* no hello, no final */
	/* The gateway's fallback, a transfer of v1, still works. */
	transfer(&n, &v1, 904, &now);
	ck_assert_str_eq(sim_ota_model(&n)->sha256, v1.man.sha256);
	struct sim_ota_stats st = {0};
	sim_ota_stats_add(&st, &n);
	ck_assert_uint_eq(st.revert_failures, 1);
	ck_assert_uint_eq(st.reverts, 0);

	/* A node receiving a transfer answers busy and carries on. */
	sim_ota_node_init(&busy, &fleet, &host, 0, 1);
	transfer(&busy, &v1, 905, &now);
	offer(&busy, now += 10); /* hw again: already_have, so offer v2 by hand */
	uint8_t f[EDGE_OTA_FRAME_MAX];
	struct edge_ota_offer o = {
		.chunk_size = CHUNK, .n_chunks = (uint32_t)((v2.model_len + CHUNK - 1) / CHUNK),
		.head = v2.pkg, .head_len = v2.head_len,
	};
	int len = edge_ota_offer_encode(f, sizeof(f), 906, &o);
	ck_assert_int_eq(sim_ota_on_frame(&busy, f, (size_t)len, now += 10), 0);
	ck_assert_uint_eq(last(EDGE_OTA_MSG_ACCEPT)->transfer, 906);
	a = revert(&busy, v1.man.sha256, 907, now += 10);
	ck_assert_uint_eq(a->reason, EDGE_OTA_R_BUSY);
	ck_assert_ptr_nonnull(busy.slot); /* the transfer's slot stays */
	ck_assert(edge_ota_rx_busy(busy.rx));
	sim_ota_node_free(&busy);
	sim_ota_node_free(&n);
	free_v2(&v2);
}
END_TEST

static Suite *sim_ota_suite(void)
{
	Suite *s = suite_create("sim-ota");
	TCase *tc = tcase_create("ota");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, activates_with_the_golden_hash);
	tcase_add_test(tc, failed_selftest_reverts);
	tcase_add_test(tc, reboot_resumes_with_held_chunks);
	tcase_add_test(tc, deny_answers_busy_without_a_receiver);
	tcase_add_test(tc, corrupt_chunks_fail_the_crc);
	tcase_add_test(tc, stall_ignores_then_resumes);
	tcase_add_test(tc, disconnect_keeps_the_receiver);
	tcase_add_test(tc, drop_loses_a_share_of_chunks);
	tcase_add_test(tc, fleet_options);
	tcase_add_test(tc, revert_runs_the_previous_model);
	tcase_add_test(tc, forget_previous_answers_not_held);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sim_ota_suite(), TEST_REPORT_TAP, CK_FORK_GETENV);
}
