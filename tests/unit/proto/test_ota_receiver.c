/* Suite 'ota-receiver': the device SDK's OTA receiver (proto/edge_ota_receiver.h)
 * against a fake platform: RAM flash that refuses writes outside what was
 * erased, a resume record and counters that survive a simulated reboot,
 * SHA-256 through OpenSSL's EVP, signatures checked with real keys
 * (edge_ota_key_verify), and a self-test that runs the slot's model on
 * lib/infer. Packages are packed by lib/ota from tests/data models. Every
 * answer the receiver sends is parsed back with edge_ota_answer_parse. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"
#include "edge_ota_keys.h"
#include "edge_ota_pack.h"
#include "edge_ota_receiver.h"
#include "edge_ota_transfer.h"
#include "test_data.h"
#include "test_run.h"

#define SLOT_MAX (512u * 1024u)
#define ANSWERS_MAX 512
#define CHUNK 64u
#define T1 0x101u
#define T2 0x202u

/* ---------------------------------------------------------------- fake platform */

/* A model a slot holds whole: its manifest and a copy of its bytes. */
struct held {
	bool set;
	struct edge_ota_manifest m;
	uint8_t *bytes;
};

struct fake {
	uint8_t slot[SLOT_MAX];
	uint32_t erased;             /* [0, erased) writable */
	unsigned erases, writes;
	int fail_write_at;           /* > 0: the nth write fails */
	bool fail_erase, fail_activate, fail_counter;
	uint8_t saved[EDGE_OTA_RX_STATE_MAX];
	size_t saved_len;
	unsigned saves;
	bool fail_save;
	char counter_name[EDGE_MSG_TOKEN_CAP];
	uint64_t counter;
	unsigned counter_sets;
	EVP_MD_CTX *md;
	struct edge_ota_key *trust[EDGE_OTA_RX_TRUST_MAX];
	unsigned n_trust;
	unsigned activates, reverts, selftests;
	bool fail_selftest, wrong_selftest, active;
	bool snapshot;               /* copy the record when the self-test runs */
	uint8_t snap[EDGE_OTA_RX_STATE_MAX];
	size_t snap_len;
	uint64_t wall;
	struct edge_ota_answer answers[ANSWERS_MAX];
	bool is_ack[ANSWERS_MAX];
	unsigned n_answers;
	struct { uint32_t transfer; bool on; } campaigns[16];
	unsigned n_campaigns;
	/* A/B: activate makes the slot's model run and the one that ran the
	 * other slot's; revert swaps the two; an erase forgets the other. */
	struct held cur, other;
	bool fail_revert, slot_manifest_fails;
	unsigned slot_manifests;
	char tested[EDGE_MSG_SHA256_HEX + 1]; /* the model the last self-test ran */
};

static struct fake F;
static struct edge_ota_platform plat;
static struct edge_ota_rx rx;
static struct edge_ota_rx_config cfg;
static struct edge_ota_key *k_ed, *k_p256, *k_other;
static uint8_t *model, *model2, *model3;
static size_t model_len, model2_len, model3_len;
static uint8_t frame[EDGE_OTA_FRAME_MAX];
static char err[512];

static const char *const all_ops[] = {
	"FULLY_CONNECTED", "ADD", "QUANTIZE", "DEQUANTIZE", "RESHAPE", "SOFTMAX", "CONV_2D",
};

static int f_erase(void *ud, uint32_t len)
{
	ck_assert_ptr_eq(ud, &F);
	ck_assert_uint_le(len, plat.slot_size);
	if (F.fail_erase)
		return -EIO;
	memset(F.slot, 0xff, SLOT_MAX);
	F.erased = len;
	F.erases++;
	free(F.other.bytes);
	memset(&F.other, 0, sizeof F.other);
	return 0;
}

static int f_write(void *ud, uint32_t off, const void *buf, uint32_t n)
{
	(void)ud;
	/* The receiver never writes outside what it erased. */
	ck_assert_uint_le((uint64_t)off + n, F.erased);
	if (++F.writes == (unsigned)F.fail_write_at)
		return -EIO;
	memcpy(F.slot + off, buf, n);
	return 0;
}

static int f_read(void *ud, uint32_t off, void *buf, uint32_t n)
{
	(void)ud;
	ck_assert_uint_le((uint64_t)off + n, F.erased);
	memcpy(buf, F.slot + off, n);
	return 0;
}

static int f_save(void *ud, const void *buf, size_t len)
{
	(void)ud;
	ck_assert_uint_le(len, sizeof F.saved);
	if (F.fail_save)
		return -EIO;
	memcpy(F.saved, buf, len);
	F.saved_len = len;
	F.saves++;
	return 0;
}

static int f_load(void *ud, void *buf, size_t cap)
{
	(void)ud;
	ck_assert_uint_ge(cap, F.saved_len);
	memcpy(buf, F.saved, F.saved_len);
	return (int)F.saved_len;
}

static uint64_t f_counter_get(void *ud, const char *name)
{
	(void)ud;
	return strcmp(name, F.counter_name) == 0 ? F.counter : 0;
}

static int f_counter_set(void *ud, const char *name, uint64_t c)
{
	(void)ud;
	if (F.fail_counter)
		return -EIO;
	snprintf(F.counter_name, sizeof F.counter_name, "%s", name);
	F.counter = c;
	F.counter_sets++;
	return 0;
}

static void f_sha_begin(void *ud)
{
	(void)ud;
	ck_assert_int_eq(EVP_DigestInit_ex(F.md, EVP_sha256(), NULL), 1);
}

static void f_sha_update(void *ud, const void *buf, size_t len)
{
	(void)ud;
	ck_assert_int_eq(EVP_DigestUpdate(F.md, buf, len), 1);
}

static void f_sha_end(void *ud, uint8_t out[32])
{
	unsigned n = 0;
	(void)ud;
	ck_assert_int_eq(EVP_DigestFinal_ex(F.md, out, &n), 1);
	ck_assert_uint_eq(n, 32);
}

static bool f_verify(void *ud, uint8_t alg, const uint8_t key_id[EDGE_OTA_KEY_ID_LEN],
		     const void *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
	(void)ud;
	for (unsigned i = 0; i < F.n_trust; i++)
		if (memcmp(edge_ota_key_id(F.trust[i]), key_id, EDGE_OTA_KEY_ID_LEN) == 0)
			return edge_ota_key_verify(F.trust[i], alg, msg, len, sig, sig_len);
	return false;
}

static int f_activate(void *ud, const struct edge_ota_manifest *m)
{
	(void)ud;
	(void)m;
	F.activates++;
	if (F.fail_activate)
		return -EIO;
	F.active = true;
	free(F.other.bytes);
	F.other = F.cur;
	F.cur.set = true;
	F.cur.m = *m;
	F.cur.bytes = malloc((size_t)m->size);
	ck_assert_ptr_nonnull(F.cur.bytes);
	memcpy(F.cur.bytes, F.slot, (size_t)m->size);
	return 0;
}

/* The golden self-test on the slot's bytes, as pack ran it. */
static int f_selftest(void *ud, const struct edge_ota_manifest *m, uint8_t out[32])
{
	edge_infer_model *mdl = NULL;
	edge_infer_ctx *ctx = NULL;
	struct edge_infer_error ie;
	size_t n = 0;
	/* The running model's bytes (after a revert not the slot's). */
	const uint8_t *bytes = F.cur.set && strcmp(F.cur.m.sha256, m->sha256) == 0 ? F.cur.bytes
										     : F.slot;
	(void)ud;
	F.selftests++;
	snprintf(F.tested, sizeof F.tested, "%s", m->sha256);
	if (F.snapshot) {
		memcpy(F.snap, F.saved, F.saved_len);
		F.snap_len = F.saved_len;
	}
	if (F.fail_selftest)
		return -1;
	ck_assert_int_eq(edge_infer_model_load(bytes, (size_t)m->size, NULL, &mdl, &ie), 0);
	ck_assert_int_eq(edge_infer_ctx_new(mdl, NULL, 0, &ctx), 0);
	for (int i = 0; i < edge_infer_model_input_count(mdl); i++) {
		uint8_t *in = edge_infer_input(ctx, i, &n);
		if (i == 0)
			edge_ota_selftest_input(m->selftest_seed, in, n);
		else
			memset(in, 0, n);
	}
	ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
	const void *o = edge_infer_output(ctx, 0, &n);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(edge_ota_sha256(o, n, out), 0);
	edge_infer_ctx_free(ctx);
	edge_infer_model_free(mdl);
	if (F.wrong_selftest)
		out[0] ^= 1;
	return 0;
}

static int f_revert(void *ud, const struct edge_ota_manifest *m)
{
	struct held t;
	(void)ud;
	(void)m;
	F.reverts++;
	if (F.fail_revert)
		return -EIO;
	F.active = false;
	t = F.cur;
	F.cur = F.other;
	F.other = t;
	return 0;
}

static int f_slot_manifest(void *ud, struct edge_ota_manifest *m)
{
	(void)ud;
	F.slot_manifests++;
	if (F.slot_manifest_fails || !F.other.set)
		return -ENOENT;
	*m = F.other.m;
	return 0;
}

static uint64_t f_wall(void *ud)
{
	(void)ud;
	return F.wall;
}

static int f_send(void *ud, const char *json, size_t len, bool is_ack)
{
	struct edge_msg_error e;
	(void)ud;
	ck_assert_uint_lt(F.n_answers, ANSWERS_MAX);
	ck_assert_uint_le(len, EDGE_OTA_ANSWER_MAX);
	ck_assert_msg(edge_ota_answer_parse(json, len, &F.answers[F.n_answers], &e) == 0,
		      "answer does not parse: %.*s (%s %s)", (int)len, json,
		      edge_msg_reject_name(e.reason), e.field);
	ck_assert(is_ack == (F.answers[F.n_answers].type == EDGE_OTA_MSG_ACK));
	F.is_ack[F.n_answers++] = is_ack;
	return 0;
}

static int f_campaign(void *ud, uint32_t transfer, bool on)
{
	(void)ud;
	ck_assert_uint_lt(F.n_campaigns, 16);
	F.campaigns[F.n_campaigns].transfer = transfer;
	F.campaigns[F.n_campaigns++].on = on;
	return 0;
}

static const struct edge_ota_answer *last(void)
{
	ck_assert_uint_gt(F.n_answers, 0);
	return &F.answers[F.n_answers - 1];
}

/* ---------------------------------------------------------------- packages */

struct pkg {
	uint8_t *buf;
	size_t len, head_len;
	struct edge_ota_manifest m;
};

static void pkg_set(struct pkg *p)
{
	struct edge_ota_container c;
	ck_assert_int_eq(edge_ota_container_parse(p->buf, p->len, &c, NULL), 0);
	p->head_len = p->len - (size_t)c.model_len;
}

static void pack(struct pkg *p, const uint8_t *mdl, size_t len, uint64_t counter,
		 uint64_t expires_ms, struct edge_ota_key *const *keys, unsigned n)
{
	struct edge_ota_pack_args a = {
		.name = "hello", .version = "1.0.0", .counter = counter,
		.expires_ms = expires_ms, .seed = 7,
	};
	int rc = edge_ota_pack(mdl, len, &a, keys, n, &p->buf, &p->len, &p->m, err, sizeof err);
	ck_assert_msg(rc == 0, "pack: %d %s", rc, err);
	pkg_set(p);
}

/* A package of an edited manifest m, signed by keys, around size bytes of
 * model (zeros beyond len: only the head is ever offered for these). */
static void craft(struct pkg *p, const struct edge_ota_manifest *m,
		  struct edge_ota_key *const *keys, unsigned n)
{
	char json[EDGE_OTA_MANIFEST_MAX];
	struct edge_ota_sig_in s[EDGE_OTA_SIGS_MAX];
	int jl = edge_ota_manifest_encode(json, sizeof json, m);
	ck_assert_int_gt(jl, 0);
	for (unsigned i = 0; i < n; i++) {
		s[i].alg = (uint8_t)edge_ota_key_alg(keys[i]);
		memcpy(s[i].key_id, edge_ota_key_id(keys[i]), EDGE_OTA_KEY_ID_LEN);
		ck_assert_int_eq(edge_ota_key_sign(keys[i], json, (size_t)jl, s[i].sig,
						   &s[i].sig_len, err, sizeof err), 0);
	}
	uint8_t *body = calloc(1, (size_t)m->size);
	ck_assert_ptr_nonnull(body);
	memcpy(body, model, model_len < m->size ? model_len : (size_t)m->size);
	ck_assert_int_eq(edge_ota_assemble(json, (size_t)jl, s, n, body, (size_t)m->size,
					   &p->buf, &p->len), 0);
	free(body);
	p->m = *m;
	pkg_set(p);
}

/* ---------------------------------------------------------------- frames */

static int offer_ex(const struct pkg *p, uint32_t transfer, uint32_t chunk, bool campaign,
		    uint64_t now)
{
	struct edge_ota_offer o = {
		.chunk_size = chunk,
		.n_chunks = (uint32_t)((p->m.size + chunk - 1) / chunk),
		.flags = campaign ? EDGE_OTA_OFFER_CAMPAIGN : 0,
		.head = p->buf,
		.head_len = p->head_len,
	};
	int n = edge_ota_offer_encode(frame, sizeof frame, transfer, &o);
	ck_assert_int_gt(n, 0);
	return edge_ota_rx_on_frame(&rx, frame, (size_t)n, now);
}

static int offer(const struct pkg *p, uint32_t transfer, uint64_t now)
{
	return offer_ex(p, transfer, CHUNK, false, now);
}

static int chunk_frame(uint32_t transfer, uint32_t index, const void *data, uint32_t len)
{
	int n = edge_ota_frame_encode(frame, sizeof frame, EDGE_OTA_FRAME_CHUNK, transfer, index,
				      data, len);
	ck_assert_int_gt(n, 0);
	return n;
}

/* Chunk index of p's model (bytes from src, the package's own by default). */
static int chunk_from(const struct pkg *p, const uint8_t *src, uint32_t transfer, uint32_t size,
		      uint32_t index, uint64_t now)
{
	uint64_t off = (uint64_t)index * size;
	uint32_t len = (uint32_t)(p->m.size - off < size ? p->m.size - off : size);
	int n = chunk_frame(transfer, index, src + off, len);
	return edge_ota_rx_on_frame(&rx, frame, (size_t)n, now);
}

static int chunk(const struct pkg *p, uint32_t transfer, uint32_t index, uint64_t now)
{
	return chunk_from(p, p->buf + p->head_len, transfer, CHUNK, index, now);
}

static uint32_t n_chunks(const struct pkg *p, uint32_t size)
{
	return (uint32_t)((p->m.size + size - 1) / size);
}

static void expect_deny(enum edge_ota_reason r)
{
	const struct edge_ota_answer *a = last();
	ck_assert_msg(a->type == EDGE_OTA_MSG_DENY && a->reason == r, "want deny %s, got %d/%s (%s)",
		      edge_ota_reason_name(r), a->type, edge_ota_reason_name(a->reason), a->detail);
	ck_assert(!edge_ota_rx_busy(&rx));
	ck_assert_uint_ge(edge_ota_rx_stats(&rx)->reasons[r], 1);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->last_reason, r);
}

static void expect_result(uint32_t transfer, enum edge_ota_outcome o, enum edge_ota_reason r)
{
	const struct edge_ota_answer *a = last();
	ck_assert_int_eq(a->type, EDGE_OTA_MSG_RESULT);
	ck_assert_uint_eq(a->transfer, transfer);
	ck_assert_msg(a->outcome == o && a->reason == r, "want %s/%s, got %s/%s",
		      edge_ota_outcome_name(o), edge_ota_reason_name(r),
		      edge_ota_outcome_name((enum edge_ota_outcome)a->outcome),
		      edge_ota_reason_name(a->reason));
	ck_assert(!edge_ota_rx_busy(&rx));
}

/* ---------------------------------------------------------------- fixture */

static void init_rx(void)
{
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &cfg), 0);
}

static void setup(void)
{
	/* Keys and models are made once per process (CK_FORK=no too). */
	if (!k_ed) {
		ck_assert_int_eq(edge_ota_key_generate(EDGE_OTA_SIG_ED25519, &k_ed, err, sizeof err), 0);
		ck_assert_int_eq(edge_ota_key_generate(EDGE_OTA_SIG_ECDSA_P256, &k_p256, err,
						       sizeof err), 0);
		ck_assert_int_eq(edge_ota_key_generate(EDGE_OTA_SIG_ED25519, &k_other, err,
						       sizeof err), 0);
		model = test_data_model("hello_world_int8.tflite", &model_len);
		model2 = test_data_model("simple_add.tflite", &model2_len);
		model3 = test_data_model("micro_speech.tflite", &model3_len);
	}
	memset(&F, 0, sizeof F);
	F.md = EVP_MD_CTX_new();
	ck_assert_ptr_nonnull(F.md);
	F.trust[0] = k_ed;
	F.trust[1] = k_p256;
	F.n_trust = 2;
	memset(F.slot, 0xff, sizeof F.slot);

	memset(&plat, 0, sizeof plat);
	plat.ud = &F;
	plat.slot_size = SLOT_MAX;
	plat.slot_erase = f_erase;
	plat.slot_write = f_write;
	plat.slot_read = f_read;
	plat.state_save = f_save;
	plat.state_load = f_load;
	plat.counter_get = f_counter_get;
	plat.counter_set = f_counter_set;
	plat.sha256_begin = f_sha_begin;
	plat.sha256_update = f_sha_update;
	plat.sha256_end = f_sha_end;
	plat.verify = f_verify;
	plat.activate = f_activate;
	plat.selftest = f_selftest;
	plat.revert = f_revert;
	plat.wall_ms = f_wall;
	plat.send = f_send;
	plat.campaign = f_campaign;
	plat.slot_manifest = f_slot_manifest;

	memset(&cfg, 0, sizeof cfg);
	cfg.runtime = "tflm";
	cfg.ops = all_ops;
	cfg.n_ops = sizeof all_ops / sizeof all_ops[0];
	cfg.arena_bytes = 1u << 20;
	cfg.n_trusted = 2;
	memcpy(cfg.trusted[0], edge_ota_key_id(k_ed), EDGE_OTA_KEY_ID_LEN);
	memcpy(cfg.trusted[1], edge_ota_key_id(k_p256), EDGE_OTA_KEY_ID_LEN);
	cfg.threshold = 1;
	cfg.window = 4; /* an ack every 2 new chunks */
	init_rx();
}

static void teardown(void)
{
	EVP_MD_CTX_free(F.md);
	free(F.cur.bytes);
	free(F.other.bytes);
}

static void pkg_free(struct pkg *p)
{
	free(p->buf);
}

/* The package of the suite's main model, signed by the Ed25519 key. */
static void main_pkg(struct pkg *p)
{
	pack(p, model, model_len, 7, 0, &k_ed, 1);
}

/* ---------------------------------------------------------------- tests */

START_TEST(activates_in_order)
{
	struct pkg p;
	main_pkg(&p);
	uint32_t n = n_chunks(&p, CHUNK);

	ck_assert_int_eq(offer_ex(&p, T1, CHUNK, true, 1000), 0);
	const struct edge_ota_answer *a = last();
	ck_assert_int_eq(a->type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_uint_eq(a->transfer, T1);
	ck_assert_str_eq(a->sha256, p.m.sha256);
	ck_assert_uint_eq(a->max_chunk, EDGE_OTA_CHUNK_MAX);
	ck_assert_uint_eq(a->window, 4);
	ck_assert_uint_eq(a->have.next, 0);
	ck_assert_uint_eq(a->have.n_bits, 0);
	ck_assert(edge_ota_rx_busy(&rx));
	ck_assert_uint_eq(F.erases, 1);
	ck_assert_uint_eq(F.erased, p.m.size);
	ck_assert_uint_eq(F.n_campaigns, 1);
	ck_assert(F.campaigns[0].on && F.campaigns[0].transfer == T1);

	for (uint32_t i = 0; i < n; i++) {
		unsigned before = F.n_answers;
		ck_assert_int_eq(chunk(&p, T1, i, 1000 + i), 0);
		if (i + 1 < n && (i + 1) % 32 == 0) {
			/* a campaign: an ack after every 32 new chunks (window 4
			 * alone would be every 2), saved first */
			ck_assert_uint_eq(F.n_answers, before + 1);
			ck_assert(F.is_ack[before]);
			ck_assert_uint_eq(F.answers[before].have.next, i + 1);
			ck_assert_uint_eq(F.saved_len, 64 + (n + 7) / 8);
		} else if (i + 1 < n) {
			ck_assert_uint_eq(F.n_answers, before);
		}
	}
	/* The last chunk: an ack of everything, then the result. */
	ck_assert(F.is_ack[F.n_answers - 2]);
	ck_assert_uint_eq(F.answers[F.n_answers - 2].have.next, n);
	expect_result(T1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert(last()->has_output);
	ck_assert_str_eq(last()->output_sha256, p.m.selftest_output_sha256);
	ck_assert_str_eq(last()->sha256, p.m.sha256);
	ck_assert_mem_eq(F.slot, p.buf + p.head_len, p.m.size);
	ck_assert_uint_eq(F.activates, 1);
	ck_assert_uint_eq(F.reverts, 0);
	ck_assert_str_eq(F.counter_name, "hello");
	ck_assert_uint_eq(F.counter, 7);
	ck_assert_uint_eq(F.saved_len, 0); /* nothing left to resume */
	ck_assert_uint_eq(F.n_campaigns, 2);
	ck_assert(!F.campaigns[1].on && F.campaigns[1].transfer == T1);

	const struct edge_ota_rx_stats *st = edge_ota_rx_stats(&rx);
	ck_assert_uint_eq(st->offers, 1);
	ck_assert_uint_eq(st->accepts, 1);
	ck_assert_uint_eq(st->chunks, n);
	ck_assert_uint_eq(st->activated, 1);
	ck_assert_uint_eq(st->duplicates + st->bad_frames + st->out_of_range, 0);

	/* The same package again: it runs already. */
	ck_assert_int_eq(offer(&p, T2, 5000), 0);
	expect_deny(EDGE_OTA_R_ALREADY_HAVE);
	ck_assert_uint_eq(F.erases, 1);
	pkg_free(&p);
}
END_TEST

START_TEST(out_of_order_duplicates_have_bitmap)
{
	struct pkg p;
	main_pkg(&p);
	uint32_t n = n_chunks(&p, CHUNK);

	ck_assert_int_eq(offer(&p, T1, 0), 0);
	ck_assert_int_eq(chunk(&p, T1, 5, 10), 0);
	ck_assert_int_eq(chunk(&p, T1, 3, 11), 0);
	/* 2 new chunks: ack with next 0 and bits for 3 and 5 (bit i: chunk 1+i) */
	const struct edge_ota_answer *a = last();
	ck_assert_int_eq(a->type, EDGE_OTA_MSG_ACK);
	ck_assert_uint_eq(a->have.next, 0);
	ck_assert_uint_eq(a->have.n_bits, 8);
	ck_assert_uint_eq(a->have.bits[0], (1u << 2) | (1u << 4));
	ck_assert(edge_ota_have_test(&a->have, 3) && edge_ota_have_test(&a->have, 5));
	ck_assert(!edge_ota_have_test(&a->have, 4));

	/* A duplicate: counted, not written again, acked after the delay. */
	unsigned acks = F.n_answers, writes = F.writes;
	ck_assert_int_eq(chunk(&p, T1, 5, 20), 0);
	ck_assert_uint_eq(F.writes, writes);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->duplicates, 1);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->chunks, 2);
	edge_ota_rx_tick(&rx, 20 + EDGE_OTA_RX_ACK_DELAY_MS - 1);
	ck_assert_uint_eq(F.n_answers, acks);
	edge_ota_rx_tick(&rx, 20 + EDGE_OTA_RX_ACK_DELAY_MS);
	ck_assert_uint_eq(F.n_answers, acks + 1);
	ck_assert(F.is_ack[acks]);

	/* The rest backwards. */
	for (uint32_t i = n; i-- > 0;)
		if (i != 3 && i != 5)
			ck_assert_int_eq(chunk(&p, T1, i, 100), 0);
	expect_result(T1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->chunks, n);
	pkg_free(&p);
}
END_TEST

START_TEST(bad_frames_dropped)
{
	struct pkg p;
	main_pkg(&p);
	uint32_t n = n_chunks(&p, CHUNK);
	const uint8_t *m = p.buf + p.head_len;

	ck_assert_int_eq(offer(&p, T1, 0), 0);
	/* CRC: one flipped payload byte. */
	int len = chunk_frame(T1, 0, m, CHUNK);
	frame[EDGE_OTA_FRAME_HDR + 3] ^= 0x40;
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 1), -EPROTO);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->bad_frames, 1);
	ck_assert_uint_eq(F.slot[3], 0xff);
	/* Truncated, garbage, another transfer, a wrong length. */
	len = chunk_frame(T1, 0, m, CHUNK);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len - 1, 1), -EPROTO);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, "EOTA", 4, 1), -EPROTO);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, NULL, 0, 1), -EPROTO);
	len = chunk_frame(T2, 0, m, CHUNK);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 1), -EPROTO);
	len = chunk_frame(T1, 0, m, CHUNK - 1);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 1), -EPROTO);
	len = chunk_frame(T1, n - 1, m, CHUNK); /* the last one is shorter */
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 1), -EPROTO);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->bad_frames, 7);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->chunks, 0);

	/* Endless data: indexes past the model are counted, never written. */
	for (uint32_t i = n; i < n + 100; i++) {
		len = chunk_frame(T1, i, m, CHUNK);
		ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 2), -EPROTO);
	}
	len = chunk_frame(T1, UINT32_MAX, m, CHUNK);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 2), -EPROTO);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->out_of_range, 101);
	for (uint32_t i = 0; i < SLOT_MAX; i++)
		if (F.slot[i] != 0xff)
			ck_abort_msg("slot byte %u written", i);
	ck_assert_uint_eq(F.n_answers, 1); /* the accept only: drops are never answered */
	ck_assert(edge_ota_rx_busy(&rx));

	/* Still completes. */
	for (uint32_t i = 0; i < n; i++)
		ck_assert_int_eq(chunk(&p, T1, i, 3), 0);
	expect_result(T1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	/* A late chunk of the finished transfer. */
	ck_assert_int_eq(chunk(&p, T1, 0, 4), -EPROTO);
	pkg_free(&p);
}
END_TEST

START_TEST(resume_after_reboot)
{
	struct pkg p;
	main_pkg(&p);
	uint32_t n = n_chunks(&p, CHUNK);

	ck_assert_int_eq(offer(&p, T1, 0), 0);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(chunk(&p, T1, i, 1), 0);
	ck_assert_int_eq(chunk(&p, T1, 9, 1), 0);
	/* acks after the 2nd and 4th chunk; 9 arrived after the last one. */
	ck_assert_uint_eq(last()->have.next, 4);
	ck_assert_uint_eq(last()->have.n_bits, 0);

	/* Reboot: the RAM is gone, the record and the slot stay. */
	memset(&rx, 0xa5, sizeof rx);
	init_rx();
	ck_assert(!edge_ota_rx_busy(&rx));
	ck_assert_int_eq(offer(&p, T2, 100), 0);
	const struct edge_ota_answer *a = last();
	ck_assert_int_eq(a->type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_uint_eq(a->transfer, T2);
	ck_assert_uint_eq(a->have.next, 4); /* what was acked, not more */
	ck_assert_uint_eq(a->have.n_bits, 0);
	ck_assert_uint_eq(F.erases, 1);     /* not erased again */

	for (uint32_t i = 4; i < n; i++)
		ck_assert_int_eq(chunk(&p, T2, i, 101), 0);
	expect_result(T2, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_mem_eq(F.slot, p.buf + p.head_len, p.m.size);
	pkg_free(&p);
}
END_TEST

START_TEST(resume_needs_same_chunk_size_and_valid_record)
{
	struct pkg p;
	main_pkg(&p);

	ck_assert_int_eq(offer(&p, T1, 0), 0);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(chunk(&p, T1, i, 1), 0);
	init_rx();
	/* Another chunk size: the bitmap means nothing, start over. */
	ck_assert_int_eq(offer_ex(&p, T2, 128, false, 2), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_uint_eq(last()->have.next, 0);
	ck_assert_uint_eq(F.erases, 2);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(chunk_from(&p, p.buf + p.head_len, T2, 128, i, 3), 0);
	ck_assert_uint_eq(last()->have.next, 4);

	/* A corrupt record is ignored. */
	ck_assert_uint_eq(F.saved_len, 64 + 3);
	F.saved[65] ^= 1;
	init_rx();
	ck_assert_int_eq(offer_ex(&p, T1, 128, false, 4), 0);
	ck_assert_uint_eq(last()->have.next, 0);
	ck_assert_uint_eq(F.erases, 3);
	pkg_free(&p);
}
END_TEST

START_TEST(resume_in_memory_reoffer)
{
	struct pkg p;
	main_pkg(&p);

	ck_assert_int_eq(offer_ex(&p, T1, CHUNK, true, 0), 0);
	ck_assert_int_eq(chunk(&p, T1, 0, 1), 0);
	ck_assert_int_eq(chunk(&p, T1, 2, 1), 0);
	ck_assert_int_eq(chunk(&p, T1, 3, 1), 0);
	/* The gateway lost the accept, or restarted: the same model again. */
	ck_assert_int_eq(offer_ex(&p, T2, CHUNK, true, 5), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_uint_eq(last()->have.next, 1);
	ck_assert_uint_eq(last()->have.n_bits, 8);
	ck_assert_uint_eq(last()->have.bits[0], 3); /* chunks 2 and 3 */
	ck_assert_uint_eq(F.erases, 1);
	/* Campaign moved from T1 to T2. */
	ck_assert_uint_eq(F.n_campaigns, 3);
	ck_assert(!F.campaigns[1].on && F.campaigns[1].transfer == T1);
	ck_assert(F.campaigns[2].on && F.campaigns[2].transfer == T2);
	/* The old transfer id is dead. */
	ck_assert_int_eq(chunk(&p, T1, 1, 6), -EPROTO);
	ck_assert_int_eq(chunk(&p, T2, 1, 6), 0);
	pkg_free(&p);
}
END_TEST

START_TEST(hash_mismatch_mix_and_match)
{
	struct pkg p;
	main_pkg(&p);
	uint32_t n = n_chunks(&p, CHUNK);

	ck_assert_uint_ge(model3_len, p.m.size);
	ck_assert_int_eq(offer(&p, T1, 0), 0);
	for (uint32_t i = 0; i < n; i++) {
		/* Chunk 3 of another model: right length, right CRC. */
		const uint8_t *src = i == 3 ? model3 : p.buf + p.head_len;
		ck_assert_int_eq(chunk_from(&p, src, T1, CHUNK, i, 1), 0);
	}
	expect_result(T1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_HASH_MISMATCH);
	ck_assert(!last()->has_output);
	ck_assert_uint_eq(F.activates, 0);
	ck_assert_uint_eq(F.reverts, 0);
	ck_assert_uint_eq(F.counter_sets, 0);
	ck_assert_uint_eq(F.saved_len, 0);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->failed, 1);
	/* A new offer starts from nothing. */
	ck_assert_int_eq(offer(&p, T2, 2), 0);
	ck_assert_uint_eq(last()->have.next, 0);
	ck_assert_uint_eq(F.erases, 2);
	pkg_free(&p);
}
END_TEST

static void run_all(const struct pkg *p, uint32_t transfer)
{
	ck_assert_int_eq(offer(p, transfer, 0), 0);
	for (uint32_t i = 0; i < n_chunks(p, CHUNK); i++)
		ck_assert_int_eq(chunk(p, transfer, i, 1), 0);
}

START_TEST(selftest_mismatch_reverts)
{
	struct pkg p;
	main_pkg(&p);
	F.wrong_selftest = true;
	run_all(&p, T1);
	expect_result(T1, EDGE_OTA_OUTCOME_REVERTED, EDGE_OTA_R_SELFTEST_MISMATCH);
	ck_assert(last()->has_output);
	ck_assert_str_ne(last()->output_sha256, p.m.selftest_output_sha256);
	ck_assert_uint_eq(F.activates, 1);
	ck_assert_uint_eq(F.reverts, 1);
	ck_assert(!F.active);
	ck_assert_uint_eq(F.counter_sets, 0); /* anti-rollback untouched */
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->reverted, 1);
	/* Not active: offered again, it is accepted. */
	F.wrong_selftest = false;
	run_all(&p, T2);
	expect_result(T2, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	pkg_free(&p);
}
END_TEST

START_TEST(selftest_failure_reverts)
{
	struct pkg p;
	main_pkg(&p);
	F.fail_selftest = true;
	run_all(&p, T1);
	expect_result(T1, EDGE_OTA_OUTCOME_REVERTED, EDGE_OTA_R_SELFTEST_FAILED);
	ck_assert(!last()->has_output);
	ck_assert_uint_eq(F.reverts, 1);
	pkg_free(&p);
}
END_TEST

START_TEST(flash_and_storage_errors)
{
	struct pkg p;
	main_pkg(&p);
	F.fail_write_at = 3;
	ck_assert_int_eq(offer(&p, T1, 0), 0);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(chunk(&p, T1, i, 1), 0);
	expect_result(T1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_FLASH_ERROR);
	F.fail_write_at = 0;

	/* The record cannot be saved: no ack claims anything, the transfer fails. */
	ck_assert_int_eq(offer(&p, T2, 2), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	F.fail_save = true;
	unsigned before = F.n_answers;
	ck_assert_int_eq(chunk(&p, T2, 0, 3), 0);
	ck_assert_int_eq(chunk(&p, T2, 1, 3), 0);
	ck_assert_uint_eq(F.n_answers, before + 1);
	expect_result(T2, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_STORAGE_ERROR);
	/* And an offer that cannot record its start is denied. */
	ck_assert_int_eq(offer(&p, T1, 4), 0);
	expect_deny(EDGE_OTA_R_STORAGE_ERROR);
	F.fail_save = false;
	F.fail_erase = true;
	ck_assert_int_eq(offer(&p, T1, 5), 0);
	expect_deny(EDGE_OTA_R_FLASH_ERROR);
	F.fail_erase = false;

	/* Activation refused: failed, nothing to revert. */
	F.fail_activate = true;
	run_all(&p, T2);
	expect_result(T2, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_ACTIVATE_FAILED);
	ck_assert_uint_eq(F.reverts, 0);
	F.fail_activate = false;
	/* The counter cannot be raised: the model does not stay. */
	F.fail_counter = true;
	run_all(&p, T1);
	expect_result(T1, EDGE_OTA_OUTCOME_REVERTED, EDGE_OTA_R_STORAGE_ERROR);
	ck_assert_uint_eq(F.reverts, 1);
	ck_assert(!F.active);
	pkg_free(&p);
}
END_TEST

START_TEST(acks_delay_idle_and_stall)
{
	struct pkg p;
	main_pkg(&p);
	cfg.window = 16; /* an ack every 8 new chunks */
	init_rx();
	ck_assert_int_eq(offer_ex(&p, T1, CHUNK, true, 1000), 0);
	unsigned a0 = F.n_answers;
	ck_assert_int_eq(chunk(&p, T1, 0, 1000), 0);
	edge_ota_rx_tick(&rx, 1000 + EDGE_OTA_RX_ACK_DELAY_MS - 1);
	ck_assert_uint_eq(F.n_answers, a0);
	edge_ota_rx_tick(&rx, 1000 + EDGE_OTA_RX_ACK_DELAY_MS);
	ck_assert_uint_eq(F.n_answers, a0 + 1);
	ck_assert_uint_eq(last()->have.next, 1);
	uint64_t t = 1000 + EDGE_OTA_RX_ACK_DELAY_MS;

	/* Nothing arrives: re-acks every IDLE_MS so a lost tail is seen. */
	edge_ota_rx_tick(&rx, t + EDGE_OTA_RX_IDLE_MS - 1);
	ck_assert_uint_eq(F.n_answers, a0 + 1);
	edge_ota_rx_tick(&rx, t + EDGE_OTA_RX_IDLE_MS);
	ck_assert_uint_eq(F.n_answers, a0 + 2);
	edge_ota_rx_tick(&rx, t + 2 * EDGE_OTA_RX_IDLE_MS);
	ck_assert_uint_eq(F.n_answers, a0 + 3);
	ck_assert(F.is_ack[a0 + 2] && last()->have.next == 1);

	/* Stall: given up silently after STALL_MS without a chunk; the record stays. */
	unsigned before = F.n_answers;
	edge_ota_rx_tick(&rx, 1000 + EDGE_OTA_RX_STALL_MS - 1);
	ck_assert(edge_ota_rx_busy(&rx));
	before = F.n_answers;
	edge_ota_rx_tick(&rx, 1000 + EDGE_OTA_RX_STALL_MS);
	ck_assert(!edge_ota_rx_busy(&rx));
	ck_assert_uint_eq(F.n_answers, before);
	ck_assert_uint_gt(F.saved_len, 0);
	ck_assert(!F.campaigns[F.n_campaigns - 1].on);
	edge_ota_rx_tick(&rx, 1000 + 2 * EDGE_OTA_RX_STALL_MS); /* idle: nothing */
	ck_assert_uint_eq(F.n_answers, before);
	/* Chunks of the abandoned transfer are dropped; a new offer resumes. */
	ck_assert_int_eq(chunk(&p, T1, 1, 200000), -EPROTO);
	ck_assert_int_eq(offer(&p, T2, 200001), 0);
	ck_assert_uint_eq(last()->have.next, 1);
	pkg_free(&p);
}
END_TEST

START_TEST(cancel_keeps_resume_state)
{
	struct pkg p;
	main_pkg(&p);
	uint8_t reason = EDGE_OTA_R_CANCELLED;

	ck_assert_int_eq(offer_ex(&p, T1, CHUNK, true, 0), 0);
	ck_assert_int_eq(chunk(&p, T1, 0, 1), 0);
	ck_assert_int_eq(chunk(&p, T1, 1, 1), 0);
	/* Another transfer's cancel changes nothing. */
	int len = edge_ota_frame_encode(frame, sizeof frame, EDGE_OTA_FRAME_CANCEL, T2, 0, &reason, 1);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 2), 0);
	ck_assert(edge_ota_rx_busy(&rx));
	unsigned before = F.n_answers;
	len = edge_ota_frame_encode(frame, sizeof frame, EDGE_OTA_FRAME_CANCEL, T1, 0, &reason, 1);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 2), 0);
	ck_assert(!edge_ota_rx_busy(&rx));
	ck_assert_uint_eq(F.n_answers, before); /* never answered */
	ck_assert_uint_eq(F.n_campaigns, 2);
	ck_assert(!F.campaigns[1].on && F.campaigns[1].transfer == T1);
	ck_assert_int_eq(chunk(&p, T1, 2, 3), -EPROTO);
	ck_assert_int_eq(offer(&p, T2, 4), 0);
	ck_assert_uint_eq(last()->have.next, 2);
	ck_assert_uint_eq(F.n_campaigns, 2); /* no campaign flag this time */
	pkg_free(&p);
}
END_TEST

START_TEST(busy_with_another_model)
{
	struct pkg p, q;
	main_pkg(&p);
	pack(&q, model2, model2_len, 7, 0, &k_ed, 1);
	ck_assert_int_eq(offer(&p, T1, 0), 0);
	ck_assert_int_eq(chunk(&p, T1, 0, 1), 0);
	ck_assert_int_eq(offer(&q, T2, 2), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_DENY);
	ck_assert_int_eq(last()->reason, EDGE_OTA_R_BUSY);
	ck_assert_str_eq(last()->sha256, q.m.sha256);
	ck_assert(edge_ota_rx_busy(&rx));
	/* Even a malformed offer is "busy" while receiving. */
	uint8_t bad[64];
	memcpy(bad, p.buf, sizeof bad);
	bad[0] ^= 1;
	struct pkg b = { .buf = bad, .len = sizeof bad, .head_len = sizeof bad, .m = p.m };
	ck_assert_int_eq(offer(&b, T2, 3), 0);
	ck_assert_int_eq(last()->reason, EDGE_OTA_R_BUSY);
	/* The current transfer goes on untouched. */
	for (uint32_t i = 1; i < n_chunks(&p, CHUNK); i++)
		ck_assert_int_eq(chunk(&p, T1, i, 4), 0);
	expect_result(T1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	/* Idle again: the other model is accepted. */
	ck_assert_int_eq(offer(&q, T2, 5), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	pkg_free(&p);
	pkg_free(&q);
}
END_TEST

START_TEST(denials_signatures)
{
	struct pkg p;
	struct edge_ota_key *both[2] = { k_ed, k_p256 };

	/* unknown_key */
	pack(&p, model, model_len, 7, 0, &k_other, 1);
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_UNKNOWN_KEY);
	ck_assert_str_eq(last()->sha256, p.m.sha256);
	pkg_free(&p);

	/* bad_signature: a trusted key's signature that does not verify */
	pack(&p, model, model_len, 7, 0, &k_p256, 1);
	p.buf[p.head_len - 5] ^= 0x10;
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_BAD_SIGNATURE);
	pkg_free(&p);

	/* threshold 2: one key is not enough, two distinct are */
	cfg.threshold = 2;
	init_rx();
	pack(&p, model, model_len, 7, 0, &k_ed, 1);
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_THRESHOLD_NOT_MET);
	ck_assert_ptr_nonnull(strstr(last()->detail, "2 required"));
	pkg_free(&p);
	pack(&p, model, model_len, 7, 0, both, 2);
	offer(&p, T1, 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	pkg_free(&p);

	/* unsigned: no signature entry */
	cfg.threshold = 1;
	init_rx();
	main_pkg(&p);
	struct edge_ota_container c;
	ck_assert_int_eq(edge_ota_container_parse(p.buf, p.len, &c, NULL), 0);
	struct pkg u;
	ck_assert_int_eq(edge_ota_assemble(c.manifest, c.manifest_len, NULL, 0, c.model,
					   (size_t)c.model_len, &u.buf, &u.len), 0);
	u.head_len = u.len - (size_t)c.model_len;
	u.m = p.m;
	offer(&u, T1, 0);
	expect_deny(EDGE_OTA_R_UNSIGNED);
	pkg_free(&u);

	/* a manifest byte changed after signing */
	p.buf[EDGE_OTA_HEADER_SIZE + 12] ^= 0x01; /* inside "name":"hello" */
	offer(&p, T1, 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_DENY);
	ck_assert(last()->reason == EDGE_OTA_R_BAD_SIGNATURE ||
		  last()->reason == EDGE_OTA_R_MALFORMED);
	pkg_free(&p);
	ck_assert_uint_eq(F.erases, 1);
}
END_TEST

START_TEST(denials_fit)
{
	struct pkg p;
	struct edge_ota_manifest m;
	static const char *const few_ops[] = { "ADD" };

	main_pkg(&p);
	m = p.m;

	/* expired (wall clock known), and not checked without one */
	struct pkg e;
	pack(&e, model, model_len, 7, 5000, &k_ed, 1);
	F.wall = 5000;
	offer(&e, T1, 0);
	expect_deny(EDGE_OTA_R_EXPIRED);
	F.wall = 0;
	offer(&e, T1, 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	pkg_free(&e);
	init_rx();

	/* rollback: below the highest accepted counter; equal is fine */
	snprintf(F.counter_name, sizeof F.counter_name, "hello");
	F.counter = 8;
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_ROLLBACK);
	ck_assert_str_eq(last()->detail, "counter 7 below 8");
	F.counter = 7;
	offer(&p, T1, 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	F.counter = 0;
	init_rx();

	/* already_have: the configured active model, any hex case */
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(p.m.sha256[i] >= 'a' ? p.m.sha256[i] - 32 : p.m.sha256[i]);
	cfg.active_sha256 = upper;
	init_rx();
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_ALREADY_HAVE);
	edge_ota_rx_set_active(&rx, NULL);
	offer(&p, T1, 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	cfg.active_sha256 = NULL;

	/* incompatible runtime */
	cfg.runtime = "cmsis";
	init_rx();
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_INCOMPATIBLE);
	ck_assert_str_eq(last()->detail, "runtime tflm, node runs cmsis");
	cfg.runtime = "tflm";

	/* missing_ops: names the first op the node lacks */
	cfg.ops = few_ops;
	cfg.n_ops = 1;
	init_rx();
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_MISSING_OPS);
	ck_assert_ptr_nonnull(strstr(last()->detail, p.m.ops[0]));
	cfg.ops = all_ops;
	cfg.n_ops = sizeof all_ops / sizeof all_ops[0];

	/* insufficient_arena */
	cfg.arena_bytes = (uint32_t)p.m.arena_bytes - 1;
	init_rx();
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_INSUFFICIENT_ARENA);
	cfg.arena_bytes = (uint32_t)p.m.arena_bytes;

	/* insufficient_flash */
	plat.slot_size = (uint32_t)p.m.size - 1;
	init_rx();
	offer(&p, T1, 0);
	expect_deny(EDGE_OTA_R_INSUFFICIENT_FLASH);
	plat.slot_size = SLOT_MAX;

	/* chunk_size above the node's max */
	cfg.max_chunk = 64;
	init_rx();
	offer_ex(&p, T1, 128, false, 0);
	expect_deny(EDGE_OTA_R_CHUNK_SIZE);
	ck_assert_str_eq(last()->detail, "chunk 128, max 64");
	offer_ex(&p, T1, 64, false, 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_uint_eq(last()->max_chunk, 64);
	cfg.max_chunk = 0;

	/* More chunks than the bitmap counts: chunk_size when a bigger chunk
	 * would do, insufficient_flash when none would. */
	struct pkg big;
	m.size = 600000; /* 9375 chunks of 64, 37 of 16384 */
	craft(&big, &m, &k_ed, 1);
	plat.slot_size = 1u << 20;
	init_rx();
	offer_ex(&big, T1, 64, false, 0);
	expect_deny(EDGE_OTA_R_CHUNK_SIZE);
	ck_assert_str_eq(last()->detail, "chunk 64, at least 74");
	cfg.max_chunk = 64;
	init_rx();
	offer_ex(&big, T1, 64, false, 0);
	expect_deny(EDGE_OTA_R_INSUFFICIENT_FLASH);
	pkg_free(&big);
	cfg.max_chunk = 0;
	plat.slot_size = SLOT_MAX;

	/* One erase: every later accept of the same model and chunk size
	 * resumed from the record the first one saved. */
	ck_assert_uint_eq(F.erases, 1);
	pkg_free(&p);
}
END_TEST

START_TEST(denials_order_and_malformed)
{
	struct pkg p, e;
	struct edge_ota_manifest m;

	main_pkg(&p);
	/* Signatures before expiry: an expired package by an unknown key. */
	pack(&e, model, model_len, 7, 10, &k_other, 1);
	F.wall = 20;
	offer(&e, T1, 0);
	expect_deny(EDGE_OTA_R_UNKNOWN_KEY);
	pkg_free(&e);
	/* Expiry before rollback, rollback before compatibility. */
	pack(&e, model, model_len, 7, 10, &k_ed, 1);
	snprintf(F.counter_name, sizeof F.counter_name, "hello");
	F.counter = 9;
	cfg.runtime = "other";
	init_rx();
	offer(&e, T1, 0);
	expect_deny(EDGE_OTA_R_EXPIRED);
	F.wall = 0;
	offer(&e, T1, 0);
	expect_deny(EDGE_OTA_R_ROLLBACK);
	F.counter = 0;
	offer(&e, T1, 0);
	expect_deny(EDGE_OTA_R_INCOMPATIBLE);
	pkg_free(&e);
	cfg.runtime = "tflm";
	init_rx();

	/* malformed: the head's CRC (answered with an all-zero sha256) */
	struct pkg b = p;
	b.buf = malloc(p.len);
	memcpy(b.buf, p.buf, p.len);
	b.buf[28] ^= 1;
	offer(&b, T1, 0);
	expect_deny(EDGE_OTA_R_MALFORMED);
	ck_assert_str_eq(last()->sha256,
			 "0000000000000000000000000000000000000000000000000000000000000000");
	ck_assert_ptr_nonnull(strstr(last()->detail, "head: bad_header"));
	free(b.buf);

	/* malformed: a signed manifest that is not one (missing selftest) */
	char json[] = "{\"format\":1,\"name\":\"hello\"}";
	struct edge_ota_sig_in s;
	s.alg = EDGE_OTA_SIG_ED25519;
	memcpy(s.key_id, edge_ota_key_id(k_ed), EDGE_OTA_KEY_ID_LEN);
	ck_assert_int_eq(edge_ota_key_sign(k_ed, json, strlen(json), s.sig, &s.sig_len, err,
					   sizeof err), 0);
	ck_assert_int_eq(edge_ota_assemble(json, strlen(json), &s, 1, model, model_len, &b.buf,
					   &b.len), 0);
	pkg_set(&b);
	offer(&b, T1, 0);
	expect_deny(EDGE_OTA_R_MALFORMED);
	ck_assert_ptr_nonnull(strstr(last()->detail, "manifest: missing_field"));
	pkg_free(&b);

	/* malformed: the head's model size (CRC fixed up) is not the manifest's */
	m = p.m;
	craft(&b, &m, &k_ed, 1);
	b.buf[20] = (uint8_t)(b.buf[20] + 1);
	uint32_t crc = edge_ota_crc32c(0, b.buf, 28);
	for (int i = 0; i < 4; i++)
		b.buf[28 + i] = (uint8_t)(crc >> (8 * i));
	b.m.size = p.m.size + 1; /* the offer's n_chunks follows the head */
	offer(&b, T1, 0);
	expect_deny(EDGE_OTA_R_MALFORMED);
	ck_assert_str_eq(last()->detail, "manifest size is not the head's");
	pkg_free(&b);

	ck_assert_uint_eq(F.erases, 0);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->accepts, 0);
	pkg_free(&p);
}
END_TEST


/* Power lost after the last chunk was acked, before the result: the
 * record says everything is held; the next offer verifies at once. */
START_TEST(reboot_before_result_completes_on_offer)
{
	struct pkg p;
	main_pkg(&p);
	uint32_t n = n_chunks(&p, CHUNK);
	F.snapshot = true;
	run_all(&p, T1);
	expect_result(T1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(F.snap_len, 64 + (n + 7) / 8);
	/* Back to the moment of the self-test, the activation not kept. */
	memcpy(F.saved, F.snap, F.snap_len);
	F.saved_len = F.snap_len;
	F.counter = 0;
	init_rx();
	unsigned before = F.n_answers;
	ck_assert_int_eq(offer(&p, T2, 50), 0);
	ck_assert_uint_eq(F.n_answers, before + 3); /* accept, ack, result */
	ck_assert_int_eq(F.answers[before].type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_uint_eq(F.answers[before].have.next, n);
	ck_assert(F.is_ack[before + 1]);
	expect_result(T2, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(F.erases, 1);
	ck_assert_uint_eq(F.activates, 2);
	pkg_free(&p);
}
END_TEST

/* `have` covers EDGE_OTA_HAVE_BITS chunks after `next` at most. */
START_TEST(have_bitmap_capped)
{
	struct pkg big;
	struct edge_ota_manifest m;
	struct pkg p;
	static uint8_t zeros[CHUNK];

	main_pkg(&p);
	m = p.m;
	m.size = 3000 * CHUNK;
	craft(&big, &m, &k_ed, 1);
	cfg.window = 256; /* an ack every 128 */
	init_rx();
	ck_assert_int_eq(offer(&big, T1, 0), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	for (uint32_t i = 1; i < 2900; i++) {
		int len = chunk_frame(T1, i, zeros, CHUNK);
		ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 1), 0);
	}
	edge_ota_rx_tick(&rx, 1 + EDGE_OTA_RX_ACK_DELAY_MS);
	const struct edge_ota_answer *a = last();
	ck_assert_int_eq(a->type, EDGE_OTA_MSG_ACK);
	ck_assert_uint_eq(a->have.next, 0);
	ck_assert_uint_eq(a->have.n_bits, EDGE_OTA_HAVE_BITS);
	for (uint32_t i = 0; i < EDGE_OTA_HAVE_BITS / 8; i++)
		ck_assert_uint_eq(a->have.bits[i], 0xff);
	/* Chunk 0 closes the gap: next jumps to the first missing one. */
	int len = chunk_frame(T1, 0, zeros, CHUNK);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)len, 2), 0);
	edge_ota_rx_tick(&rx, 2 + EDGE_OTA_RX_ACK_DELAY_MS);
	ck_assert_uint_eq(last()->have.next, 2900);
	ck_assert_uint_eq(last()->have.n_bits, 0);
	ck_assert_uint_eq(F.saved_len, 64 + 3000 / 8);
	pkg_free(&big);
	pkg_free(&p);
}
END_TEST

/* ---------------------------------------------------------------- revert */

#define T3 0x303u
#define T4 0x404u

static int revert_frame(const char *sha_hex, uint32_t transfer)
{
	uint8_t sha[32];
	for (unsigned i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(sha_hex + 2 * i, "%2x", &v), 1);
		sha[i] = (uint8_t)v;
	}
	int n = edge_ota_revert_encode(frame, sizeof frame, transfer, sha);
	ck_assert_int_eq(n, EDGE_OTA_FRAME_HDR + EDGE_OTA_REVERT_PAYLOAD);
	return edge_ota_rx_on_frame(&rx, frame, (size_t)n, 100);
}

static void expect_revert(uint32_t transfer, const struct pkg *target, enum edge_ota_outcome o,
			  enum edge_ota_reason r)
{
	expect_result(transfer, o, r);
	ck_assert_str_eq(last()->sha256, target->m.sha256);
	ck_assert(!F.is_ack[F.n_answers - 1]);
}

/* v1 (hello_world) then v2 (simple_add, the same name and counter) by
 * transfers: v2 runs, the other slot holds v1. */
static void two_models(struct pkg *v1, struct pkg *v2, uint64_t v2_counter)
{
	main_pkg(v1);
	pack(v2, model2, model2_len, v2_counter, 0, &k_ed, 1);
	run_all(v1, T1);
	expect_result(T1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	run_all(v2, T2);
	expect_result(T2, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert(F.other.set);
	ck_assert_str_eq(F.other.m.sha256, v1->m.sha256);
	ck_assert_str_eq(F.cur.m.sha256, v2->m.sha256);
}

START_TEST(revert_runs_the_other_slot)
{
	struct pkg v1, v2;
	two_models(&v1, &v2, 7);
	unsigned selftests = F.selftests, erases = F.erases, writes = F.writes;
	unsigned activates = F.activates, sets = F.counter_sets;

	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert(last()->has_output);
	ck_assert_str_eq(last()->output_sha256, v1.m.selftest_output_sha256);
	ck_assert_uint_eq(F.selftests, selftests + 1);
	ck_assert_str_eq(F.tested, v1.m.sha256);
	ck_assert_uint_eq(F.reverts, 1);
	ck_assert_str_eq(F.cur.m.sha256, v1.m.sha256);
	/* No model bytes moved, no activation, the counter as it was. */
	ck_assert_uint_eq(F.erases, erases);
	ck_assert_uint_eq(F.writes, writes);
	ck_assert_uint_eq(F.activates, activates);
	ck_assert_uint_eq(F.counter_sets, sets);
	ck_assert_uint_eq(F.counter, 7);
	const struct edge_ota_rx_stats *st = edge_ota_rx_stats(&rx);
	ck_assert_uint_eq(st->reverts, 1);
	ck_assert_uint_eq(st->revert_failures, 0);
	ck_assert_uint_eq(st->activated, 2);
	ck_assert_uint_eq(st->last_reason, EDGE_OTA_R_OK);
	ck_assert(!edge_ota_rx_busy(&rx));

	/* v1 runs now: its offer is already_have. */
	ck_assert_int_eq(offer(&v1, T4, 200), 0);
	expect_deny(EDGE_OTA_R_ALREADY_HAVE);

	/* The same frame again (its answer was lost): the self-test again,
	 * no switch. */
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_str_eq(last()->output_sha256, v1.m.selftest_output_sha256);
	ck_assert_uint_eq(F.reverts, 1);
	ck_assert_uint_eq(F.selftests, selftests + 2);
	ck_assert_uint_eq(st->reverts, 2);

	/* And forward: v2 is the other slot's model now. */
	ck_assert_int_eq(revert_frame(v2.m.sha256, T4), 0);
	expect_revert(T4, &v2, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_str_eq(last()->output_sha256, v2.m.selftest_output_sha256);
	ck_assert_str_eq(F.tested, v2.m.sha256);
	ck_assert_uint_eq(F.reverts, 2);
	ck_assert_uint_eq(st->reverts, 3);
	pkg_free(&v1);
	pkg_free(&v2);
}
END_TEST

START_TEST(revert_not_held)
{
	static const char other[] =
		"00000000000000000000000000000000000000000000000000000000000000aa";
	struct pkg v1, v2;
	main_pkg(&v1);
	const struct edge_ota_rx_stats *st = edge_ota_rx_stats(&rx);

	/* Nothing activated yet: the other slot holds nothing. */
	ck_assert_int_eq(revert_frame(v1.m.sha256, T1), 0);
	expect_revert(T1, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_NOT_HELD);
	ck_assert(!last()->has_output);
	ck_assert_uint_eq(F.slot_manifests, 1);
	ck_assert_uint_eq(st->revert_failures, 1);
	ck_assert_uint_eq(st->reasons[EDGE_OTA_R_NOT_HELD], 1);
	ck_assert_uint_eq(st->last_reason, EDGE_OTA_R_NOT_HELD);
	ck_assert_uint_eq(F.reverts + F.selftests, 0);

	pkg_free(&v1);
	two_models(&v1, &v2, 7);
	/* A model the other slot does not hold. */
	ck_assert_int_eq(revert_frame(other, T3), 0);
	ck_assert_str_eq(last()->sha256, other);
	ck_assert_int_eq(last()->reason, EDGE_OTA_R_NOT_HELD);
	/* The platform cannot tell what it holds. */
	F.slot_manifest_fails = true;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_NOT_HELD);
	F.slot_manifest_fails = false;
	/* A damaged revert frame is dropped, never answered. */
	unsigned answers = F.n_answers, bad = st->bad_frames;
	int n = edge_ota_revert_encode(frame, sizeof frame, T3, (const uint8_t *)other);
	frame[n - 1] ^= 1;
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)n, 100), -EPROTO);
	ck_assert_uint_eq(F.n_answers, answers);
	ck_assert_uint_eq(st->bad_frames, bad + 1);

	/* A platform without slot_manifest answers not_held to everything. */
	plat.slot_manifest = NULL;
	init_rx();
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_NOT_HELD);
	ck_assert_uint_eq(F.reverts, 0);

	/* With it, after a reboot (the running model's manifest unknown):
	 * the other slot's model still runs again. */
	plat.slot_manifest = f_slot_manifest;
	cfg.active_sha256 = v2.m.sha256;
	init_rx();
	st = edge_ota_rx_stats(&rx);
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(F.reverts, 1);

	/* An erase for a new transfer forgets the other slot's model (v2):
	 * while that transfer is cancelled, and after it activated. */
	ck_assert_int_eq(offer(&v2, T4, 200), 0);
	ck_assert_int_eq(last()->type, EDGE_OTA_MSG_ACCEPT);
	ck_assert_int_eq(chunk(&v2, T4, 0, 201), 0);
	n = edge_ota_frame_encode(frame, sizeof frame, EDGE_OTA_FRAME_CANCEL, T4, 0,
				  (const uint8_t[]){ EDGE_OTA_R_CANCELLED }, 1);
	ck_assert_int_eq(edge_ota_rx_on_frame(&rx, frame, (size_t)n, 202), 0);
	ck_assert(!edge_ota_rx_busy(&rx));
	ck_assert_int_eq(revert_frame(v2.m.sha256, T3), 0);
	expect_revert(T3, &v2, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_NOT_HELD);
	/* The cancelled transfer still resumes. */
	ck_assert_int_eq(offer(&v2, T4, 300), 0);
	ck_assert_uint_eq(last()->have.next, 1);
	for (uint32_t i = 1; i < n_chunks(&v2, CHUNK); i++)
		ck_assert_int_eq(chunk(&v2, T4, i, 301), 0);
	expect_result(T4, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(st->reverts, 1); /* since the reboot */
	ck_assert_uint_eq(st->revert_failures, 1);
	pkg_free(&v1);
	pkg_free(&v2);
}
END_TEST

START_TEST(revert_busy_while_receiving)
{
	struct pkg v1, v2;
	two_models(&v1, &v2, 7);
	unsigned asked = F.slot_manifests;

	ck_assert_int_eq(offer(&v1, T3, 0), 0);
	ck_assert_int_eq(chunk(&v1, T3, 0, 1), 0);
	ck_assert_int_eq(revert_frame(v1.m.sha256, T4), 0);
	const struct edge_ota_answer *a = last();
	ck_assert_int_eq(a->type, EDGE_OTA_MSG_RESULT);
	ck_assert_uint_eq(a->transfer, T4);
	ck_assert_str_eq(a->sha256, v1.m.sha256);
	ck_assert_int_eq(a->outcome, EDGE_OTA_OUTCOME_FAILED);
	ck_assert_int_eq(a->reason, EDGE_OTA_R_BUSY);
	/* Not even asked; the transfer goes on and completes. */
	ck_assert_uint_eq(F.slot_manifests, asked);
	ck_assert_uint_eq(F.reverts, 0);
	ck_assert(edge_ota_rx_busy(&rx));
	for (uint32_t i = 1; i < n_chunks(&v1, CHUNK); i++)
		ck_assert_int_eq(chunk(&v1, T3, i, 2), 0);
	expect_result(T3, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->revert_failures, 1);
	ck_assert_uint_eq(edge_ota_rx_stats(&rx)->reasons[EDGE_OTA_R_BUSY], 1);
	pkg_free(&v1);
	pkg_free(&v2);
}
END_TEST

START_TEST(revert_rollback_and_counter)
{
	struct pkg v1, v2;
	two_models(&v1, &v2, 8); /* v2 raised the counter above v1's 7 */
	unsigned selftests = F.selftests, sets = F.counter_sets;

	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_ROLLBACK);
	ck_assert_uint_eq(F.reverts, 0);
	ck_assert_uint_eq(F.selftests, selftests);
	ck_assert_uint_eq(F.counter, 8);
	ck_assert_uint_eq(F.counter_sets, sets);
	ck_assert_str_eq(F.cur.m.sha256, v2.m.sha256);

	/* A counter below the target's is raised to it, after the self-test;
	 * one that cannot be stored sends it back. */
	F.counter = 5;
	F.fail_counter = true;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_STORAGE_ERROR);
	ck_assert_uint_eq(F.reverts, 2);
	ck_assert_str_eq(F.cur.m.sha256, v2.m.sha256);
	F.fail_counter = false;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	ck_assert_uint_eq(F.counter, 7);
	ck_assert_uint_eq(F.counter_sets, sets + 1);
	pkg_free(&v1);
	pkg_free(&v2);
}
END_TEST

START_TEST(revert_selftest_failure_goes_back)
{
	struct pkg v1, v2;
	two_models(&v1, &v2, 7);
	const struct edge_ota_rx_stats *st = edge_ota_rx_stats(&rx);

	F.wrong_selftest = true;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_SELFTEST_MISMATCH);
	ck_assert(last()->has_output);
	ck_assert_str_ne(last()->output_sha256, v1.m.selftest_output_sha256);
	ck_assert_uint_eq(F.reverts, 2); /* there and back */
	ck_assert_str_eq(F.cur.m.sha256, v2.m.sha256);
	ck_assert_str_eq(F.other.m.sha256, v1.m.sha256);
	F.wrong_selftest = false;
	/* v2 still runs. */
	ck_assert_int_eq(offer(&v2, T4, 100), 0);
	expect_deny(EDGE_OTA_R_ALREADY_HAVE);

	F.fail_selftest = true;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_SELFTEST_FAILED);
	ck_assert(!last()->has_output);
	ck_assert_uint_eq(F.reverts, 4);
	ck_assert_str_eq(F.cur.m.sha256, v2.m.sha256);
	F.fail_selftest = false;

	/* The switch itself fails: nothing ran, nothing to go back from. */
	unsigned selftests = F.selftests;
	F.fail_revert = true;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_ACTIVATE_FAILED);
	ck_assert_uint_eq(F.reverts, 5);
	ck_assert_uint_eq(F.selftests, selftests);
	F.fail_revert = false;
	ck_assert_uint_eq(st->revert_failures, 3);

	/* Then it works; a repeat whose self-test now fails stays where it is. */
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK);
	F.wrong_selftest = true;
	ck_assert_int_eq(revert_frame(v1.m.sha256, T3), 0);
	expect_revert(T3, &v1, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_SELFTEST_MISMATCH);
	ck_assert_uint_eq(F.reverts, 6);
	ck_assert_str_eq(F.cur.m.sha256, v1.m.sha256);
	ck_assert_uint_eq(st->reverts, 1);
	ck_assert_uint_eq(st->revert_failures, 4);
	ck_assert_uint_eq(st->reasons[EDGE_OTA_R_SELFTEST_MISMATCH], 2);
	pkg_free(&v1);
	pkg_free(&v2);
}
END_TEST

START_TEST(init_rejects)
{
	struct edge_ota_rx_config c = cfg;
	struct edge_ota_platform q = plat;

	ck_assert_int_eq(edge_ota_rx_init(&rx, NULL, &cfg), -EINVAL);
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, NULL), -EINVAL);
	q.verify = NULL;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &q, &cfg), -EINVAL);
	q = plat;
	q.wall_ms = NULL; /* optional */
	ck_assert_int_eq(edge_ota_rx_init(&rx, &q, &cfg), 0);
	c.n_trusted = 0;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &c), -EINVAL);
	c = cfg;
	c.threshold = 3;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &c), -EINVAL);
	/* the same anchor twice is one distinct key */
	c = cfg;
	memcpy(c.trusted[1], c.trusted[0], EDGE_OTA_KEY_ID_LEN);
	c.threshold = 2;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &c), -EINVAL);
	c = cfg;
	c.max_chunk = 63;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &c), -EINVAL);
	c = cfg;
	c.window = EDGE_OTA_WINDOW_MAX + 1;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &c), -EINVAL);
	c = cfg;
	c.runtime = NULL;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &c), -EINVAL);
	/* a record that is not one is ignored */
	memset(F.saved, 0x5a, 100);
	F.saved_len = 100;
	ck_assert_int_eq(edge_ota_rx_init(&rx, &plat, &cfg), 0);
	ck_assert(!edge_ota_rx_busy(&rx));
}
END_TEST

static Suite *receiver_suite(void)
{
	Suite *s = suite_create("ota-receiver");
	TCase *tc = tcase_create("receiver");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, activates_in_order);
	tcase_add_test(tc, out_of_order_duplicates_have_bitmap);
	tcase_add_test(tc, bad_frames_dropped);
	tcase_add_test(tc, resume_after_reboot);
	tcase_add_test(tc, resume_needs_same_chunk_size_and_valid_record);
	tcase_add_test(tc, resume_in_memory_reoffer);
	tcase_add_test(tc, hash_mismatch_mix_and_match);
	tcase_add_test(tc, selftest_mismatch_reverts);
	tcase_add_test(tc, selftest_failure_reverts);
	tcase_add_test(tc, flash_and_storage_errors);
	tcase_add_test(tc, acks_delay_idle_and_stall);
	tcase_add_test(tc, cancel_keeps_resume_state);
	tcase_add_test(tc, busy_with_another_model);
	tcase_add_test(tc, denials_signatures);
	tcase_add_test(tc, denials_fit);
	tcase_add_test(tc, denials_order_and_malformed);
	tcase_add_test(tc, reboot_before_result_completes_on_offer);
	tcase_add_test(tc, have_bitmap_capped);
	tcase_add_test(tc, init_rejects);
	tcase_add_test(tc, revert_runs_the_other_slot);
	tcase_add_test(tc, revert_not_held);
	tcase_add_test(tc, revert_busy_while_receiving);
	tcase_add_test(tc, revert_rollback_and_counter);
	tcase_add_test(tc, revert_selftest_failure_goes_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(receiver_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
