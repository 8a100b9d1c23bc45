/* The node's OTA receiver (edge_ota_receiver.h; proto/ota/receiver.md is
 * the normative text). Traps:
 * - One bitmap, st[] + ST_HDR: it is at once what the slot holds and the
 *   resume record's payload, so saving never copies. Another model's offer
 *   clears the stored record BEFORE it erases the slot: a reboot between
 *   the two must not resume the old bitmap over erased flash.
 * - state_save runs before every ack and the ack is not sent when it
 *   fails: an ack never claims a chunk that a reboot could lose.
 * - An offer is parsed into `offer`, never into `manifest`: while a
 *   transfer runs, a busy denial must leave its manifest intact.
 * - The answer JSON is built in work[], which the hash also uses: they
 *   never overlap (the result is encoded after the hash is done).
 * - When idle, `manifest` is the running model's if active_known: an
 *   activation or a revert sets it, an accepted offer overwrites it. A
 *   revert to what runs then self-tests it again; after a reboot it is not
 *   known and such a revert answers not_held (the gateway's offer then gets
 *   already_have). */
#include "edge_ota_receiver.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "edge_bytes.h"

/* Resume record: head, then ceil(n_chunks / 8) bitmap bytes. */
#define ST_MAGIC 0x53524F45u /* "EORS" in byte order */
#define ST_VERSION 1
#define ST_HDR 64
#define ST_OFF_VERSION 4
#define ST_OFF_SHA 8
#define ST_OFF_CHUNK 40
#define ST_OFF_N 44
#define ST_OFF_SIZE 48
#define ST_OFF_TRANSFER 56
#define ST_OFF_CRC 60

#define WINDOW_DEFAULT 16u
#define RX_CAMPAIGN_ACK_EVERY 32u  /* new chunks between acks of a campaign */

/* The answer builders each hold a struct edge_ota_answer (about 550
 * bytes): kept out of their callers' frames, so that the offer path (the
 * manifest parser's 5.3 KB below it) and the ack path hold one at most. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif
#define ZERO_SHA "0000000000000000000000000000000000000000000000000000000000000000"

/* C99 compile-time checks: the answer fits the work buffer, the record its
 * area. */
typedef char edge_ota_rx_work_fits[EDGE_OTA_RX_WORK >= EDGE_OTA_ANSWER_MAX ? 1 : -1];
typedef char edge_ota_rx_state_fits[EDGE_OTA_RX_STATE_MAX >= ST_HDR + EDGE_OTA_RX_CHUNKS_MAX / 8
					    ? 1
					    : -1];

/* ---------------------------------------------------------------- helpers */

/* 64 hex digits into 32 bytes; -1 when s is not exactly that. */
static int sha_from_hex(const char *s, uint8_t out[32])
{
	unsigned i;

	for (i = 0; i < 32; i++) {
		int hi = edge__hex_val(s[2 * i]), lo = hi < 0 ? -1 : edge__hex_val(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[64] == '\0' ? 0 : -1;
}

static void sha_to_hex(const uint8_t in[32], char out[EDGE_MSG_SHA256_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[64] = '\0';
}

/* A deny's detail, built without stdio (newlib's snprintf allocates). */
struct text {
	char *b;
	size_t n, cap;
};

static void text_str(struct text *t, const char *s)
{
	while (*s && t->n + 1 < t->cap)
		t->b[t->n++] = *s++;
	t->b[t->n] = '\0';
}

static void text_u64(struct text *t, uint64_t v)
{
	char d[21];
	unsigned i = sizeof d - 1;

	d[i] = '\0';
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	text_str(t, d + i);
}

static bool bit_get(const struct edge_ota_rx *rx, uint32_t i)
{
	return (rx->st[ST_HDR + i / 8] >> (i % 8)) & 1u;
}

static uint32_t bitmap_bytes(uint32_t n_chunks)
{
	return (n_chunks + 7) / 8;
}

static uint32_t chunk_len(const struct edge_ota_rx *rx, uint32_t index)
{
	uint64_t off = (uint64_t)index * rx->chunk_size;

	assert(index < rx->n_chunks && off < rx->model_size);
	return rx->model_size - off < rx->chunk_size ? (uint32_t)(rx->model_size - off)
						     : rx->chunk_size;
}

static void advance_next(struct edge_ota_rx *rx)
{
	while (rx->next < rx->n_chunks && bit_get(rx, rx->next))
		rx->next++;
}

/* held and next from the bitmap (after a resume). */
static void recount(struct edge_ota_rx *rx)
{
	uint32_t i;

	rx->held = 0;
	for (i = 0; i < rx->n_chunks; i++)
		rx->held += bit_get(rx, i);
	rx->next = 0;
	advance_next(rx);
}

static void count_reason(struct edge_ota_rx *rx, enum edge_ota_reason r)
{
	assert(r < EDGE_OTA_R_COUNT);
	rx->stats.reasons[r]++;
	rx->stats.last_reason = (uint8_t)r;
}

/* ---------------------------------------------------------------- resume record */

static uint32_t record_len(const struct edge_ota_rx *rx)
{
	return ST_HDR + bitmap_bytes(rx->n_chunks);
}

/* Persist what is held. 0 or the platform's error. */
static int record_save(struct edge_ota_rx *rx)
{
	uint8_t *h = rx->st;
	uint32_t len = record_len(rx);

	memset(h, 0, ST_HDR);
	edge__put_le32(h, ST_MAGIC);
	h[ST_OFF_VERSION] = ST_VERSION;
	memcpy(h + ST_OFF_SHA, rx->sha, 32);
	edge__put_le32(h + ST_OFF_CHUNK, rx->chunk_size);
	edge__put_le32(h + ST_OFF_N, rx->n_chunks);
	edge__put_le64(h + ST_OFF_SIZE, rx->model_size);
	edge__put_le32(h + ST_OFF_TRANSFER, rx->transfer);
	edge__put_le32(h + ST_OFF_CRC, edge_ota_crc32c(edge_ota_crc32c(0, h, ST_OFF_CRC),
						       h + ST_HDR, len - ST_HDR));
	return rx->p.state_save(rx->p.ud, rx->st, len);
}

/* Forget the record (the slot is about to change or the transfer ended). */
static int record_clear(struct edge_ota_rx *rx)
{
	rx->resumable = false;
	return rx->p.state_save(rx->p.ud, rx->st, 0);
}

/* Take a loaded record of len bytes into the fields, or drop it. */
static void record_load(struct edge_ota_rx *rx, int len)
{
	const uint8_t *h = rx->st;
	uint32_t chunk, n, b, i;
	uint64_t size;

	if (len < ST_HDR || edge__le32(h) != ST_MAGIC || h[ST_OFF_VERSION] != ST_VERSION)
		goto drop;
	chunk = (uint32_t)edge__le32(h + ST_OFF_CHUNK);
	n = (uint32_t)edge__le32(h + ST_OFF_N);
	size = edge__le64(h + ST_OFF_SIZE);
	if (chunk < EDGE_OTA_CHUNK_MIN || chunk > EDGE_OTA_CHUNK_MAX || n == 0 ||
	    n > EDGE_OTA_RX_CHUNKS_MAX || size == 0 || size > EDGE_OTA_MODEL_MAX ||
	    (size + chunk - 1) / chunk != n)
		goto drop;
	b = bitmap_bytes(n);
	if ((uint32_t)len != ST_HDR + b ||
	    edge__le32(h + ST_OFF_CRC) !=
		    edge_ota_crc32c(edge_ota_crc32c(0, h, ST_OFF_CRC), h + ST_HDR, b))
		goto drop;
	/* Bits past the last chunk would count as held. */
	for (i = n; i < b * 8; i++)
		if (bit_get(rx, i))
			goto drop;
	memcpy(rx->sha, h + ST_OFF_SHA, 32);
	rx->chunk_size = chunk;
	rx->n_chunks = n;
	rx->model_size = size;
	rx->transfer = (uint32_t)edge__le32(h + ST_OFF_TRANSFER);
	rx->resumable = true;
	recount(rx);
	return;
drop:
	memset(rx->st, 0, sizeof rx->st);
	rx->resumable = false;
}

/* ---------------------------------------------------------------- answers */

static int send_answer(struct edge_ota_rx *rx, const struct edge_ota_answer *a)
{
	char *buf = (char *)rx->work;
	int n = edge_ota_answer_encode(buf, sizeof rx->work, a);

	/* Every field comes from checked state: encode cannot refuse it. */
	assert(n > 0);
	if (n <= 0)
		return n < 0 ? n : -EINVAL;
	return rx->p.send(rx->p.ud, buf, (size_t)n, a->type == EDGE_OTA_MSG_ACK);
}

static void fill_have(const struct edge_ota_rx *rx, struct edge_ota_have *h)
{
	uint32_t i, last = 0;
	bool any = false;

	memset(h, 0, sizeof *h);
	h->next = rx->next;
	for (i = 0; i < EDGE_OTA_HAVE_BITS && rx->next + 1 + i < rx->n_chunks; i++) {
		if (bit_get(rx, rx->next + 1 + i)) {
			h->bits[i / 8] |= (uint8_t)(1u << (i % 8));
			last = i;
			any = true;
		}
	}
	h->n_bits = any ? (last / 8 + 1) * 8 : 0;
}

NOINLINE static void deny(struct edge_ota_rx *rx, uint32_t transfer, const char *sha_hex,
		 enum edge_ota_reason r, const char *detail)
{
	struct edge_ota_answer a;

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_DENY;
	a.transfer = transfer;
	/* An offer that does not parse has no model hash to echo: all zeros. */
	memcpy(a.sha256, sha_hex ? sha_hex : ZERO_SHA, EDGE_MSG_SHA256_HEX);
	a.reason = (uint8_t)r;
	text_str(&(struct text){ a.detail, 0, sizeof a.detail }, detail);
	rx->stats.denies++;
	count_reason(rx, r);
	(void)send_answer(rx, &a);
}

static void leave_campaign(struct edge_ota_rx *rx)
{
	if (rx->campaign) {
		(void)rx->p.campaign(rx->p.ud, rx->campaign_transfer, false);
		rx->campaign = false;
	}
}

/* A result answer of a transfer or a revert. output: the self-test's hash
 * when it ran. */
NOINLINE static void send_result(struct edge_ota_rx *rx, uint32_t transfer, const char *sha_hex,
				 enum edge_ota_outcome o, enum edge_ota_reason r,
				 const uint8_t *output)
{
	struct edge_ota_answer a;

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_RESULT;
	a.transfer = transfer;
	memcpy(a.sha256, sha_hex, EDGE_MSG_SHA256_HEX);
	a.outcome = (uint8_t)o;
	a.reason = (uint8_t)r;
	if (output) {
		a.has_output = true;
		sha_to_hex(output, a.output_sha256);
	}
	(void)send_answer(rx, &a);
}

/* The transfer is over: the record goes, the result is sent. output: the
 * self-test's hash when it ran. */
static void end_transfer(struct edge_ota_rx *rx, enum edge_ota_outcome o, enum edge_ota_reason r,
			 const uint8_t *output)
{
	(void)record_clear(rx);
	leave_campaign(rx);
	rx->state = EDGE_OTA_RX_DONE;
	if (o == EDGE_OTA_OUTCOME_ACTIVATED) {
		rx->stats.activated++;
		rx->stats.last_reason = EDGE_OTA_R_OK;
	} else {
		if (o == EDGE_OTA_OUTCOME_REVERTED)
			rx->stats.reverted++;
		else
			rx->stats.failed++;
		count_reason(rx, r);
	}
	send_result(rx, rx->transfer, rx->manifest.sha256, o, r, output);
}

NOINLINE static void send_ack(struct edge_ota_rx *rx)
{
	struct edge_ota_answer a;

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_ACK;
	a.transfer = rx->transfer;
	fill_have(rx, &a.have);
	(void)send_answer(rx, &a);
}

NOINLINE static void send_accept(struct edge_ota_rx *rx)
{
	struct edge_ota_answer a;

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_ACCEPT;
	a.transfer = rx->transfer;
	memcpy(a.sha256, rx->manifest.sha256, EDGE_MSG_SHA256_HEX);
	a.max_chunk = rx->cfg.max_chunk;
	a.window = rx->cfg.window;
	fill_have(rx, &a.have);
	(void)send_answer(rx, &a);
}

/* Save, then ack: false when the save failed (the transfer then failed). */
static bool ack(struct edge_ota_rx *rx, uint64_t now_ms)
{
	if (record_save(rx) < 0) {
		end_transfer(rx, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_STORAGE_ERROR, NULL);
		return false;
	}
	rx->resumable = true;
	send_ack(rx);
	rx->stats.acks++;
	rx->since_ack = 0;
	rx->unacked = false;
	rx->last_ack_ms = now_ms;
	return true;
}

/* Stop receiving without an answer; the slot and the record stay, so a
 * later offer of the same model resumes. */
static void abandon(struct edge_ota_rx *rx)
{
	/* Chunks since the last ack are in the slot: keep them too. */
	if (record_save(rx) == 0)
		rx->resumable = true;
	leave_campaign(rx);
	rx->state = EDGE_OTA_RX_IDLE;
}

/* ---------------------------------------------------------------- completion */

/* Run m's self-test (m is the model that runs now) into out: ok,
 * selftest_failed (it did not run: out is not set) or selftest_mismatch
 * (not the manifest's golden hash). */
static enum edge_ota_reason run_selftest(struct edge_ota_rx *rx, const struct edge_ota_manifest *m,
					 uint8_t out[32])
{
	uint8_t want[32];

	if (rx->p.selftest(rx->p.ud, m, out) < 0)
		return EDGE_OTA_R_SELFTEST_FAILED;
	/* The manifest parser checked the hex. */
	if (sha_from_hex(m->selftest_output_sha256, want) != 0 || memcmp(out, want, 32) != 0)
		return EDGE_OTA_R_SELFTEST_MISMATCH;
	return EDGE_OTA_R_OK;
}

/* Every chunk is held: ack, hash the slot, activate, self-test, result. */
static void complete(struct edge_ota_rx *rx, uint64_t now_ms)
{
	const struct edge_ota_manifest *m = &rx->manifest;
	enum edge_ota_reason r;
	uint8_t digest[32];
	uint64_t off;

	assert(rx->held == rx->n_chunks && rx->next == rx->n_chunks);
	if (!ack(rx, now_ms))
		return;

	rx->p.sha256_begin(rx->p.ud);
	for (off = 0; off < rx->model_size; off += sizeof rx->work) {
		uint32_t n = rx->model_size - off < sizeof rx->work ? (uint32_t)(rx->model_size - off)
								   : (uint32_t)sizeof rx->work;

		if (rx->p.slot_read(rx->p.ud, (uint32_t)off, rx->work, n) < 0) {
			rx->p.sha256_end(rx->p.ud, digest);
			end_transfer(rx, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_FLASH_ERROR, NULL);
			return;
		}
		rx->p.sha256_update(rx->p.ud, rx->work, n);
	}
	rx->p.sha256_end(rx->p.ud, digest);
	if (memcmp(digest, rx->sha, 32) != 0) {
		end_transfer(rx, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_HASH_MISMATCH, NULL);
		return;
	}

	if (rx->p.activate(rx->p.ud, m) < 0) {
		end_transfer(rx, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_ACTIVATE_FAILED, NULL);
		return;
	}
	r = run_selftest(rx, m, digest);
	if (r != EDGE_OTA_R_OK) {
		(void)rx->p.revert(rx->p.ud, m);
		end_transfer(rx, EDGE_OTA_OUTCOME_REVERTED, r,
			     r == EDGE_OTA_R_SELFTEST_MISMATCH ? digest : NULL);
		return;
	}
	/* Anti-rollback is raised only for a model that runs; a model whose
	 * counter cannot be recorded does not stay. */
	if (m->counter > rx->p.counter_get(rx->p.ud, m->name) &&
	    rx->p.counter_set(rx->p.ud, m->name, m->counter) < 0) {
		(void)rx->p.revert(rx->p.ud, m);
		end_transfer(rx, EDGE_OTA_OUTCOME_REVERTED, EDGE_OTA_R_STORAGE_ERROR, digest);
		return;
	}
	memcpy(rx->active_sha256, m->sha256, sizeof rx->active_sha256);
	rx->active_known = true; /* manifest now describes what runs */
	end_transfer(rx, EDGE_OTA_OUTCOME_ACTIVATED, EDGE_OTA_R_OK, digest);
}

/* ---------------------------------------------------------------- offer */

/* The container refused only because its signature block has no entry
 * (the gateway's verifier calls that "unsigned" too). */
static bool no_signature_entry(const uint8_t *b, size_t len)
{
	uint64_t m;

	if (len < EDGE_OTA_HEADER_SIZE || memcmp(b, EDGE_OTA_MAGIC, 8) != 0)
		return false;
	m = edge__le32(b + 12);
	if (m == 0 || m > EDGE_OTA_MANIFEST_MAX || EDGE_OTA_HEADER_SIZE + m >= len)
		return false;
	return b[EDGE_OTA_HEADER_SIZE + m] == 0;
}

static int trusted_index(const struct edge_ota_rx *rx, const uint8_t id[EDGE_OTA_KEY_ID_LEN])
{
	unsigned i;

	for (i = 0; i < rx->cfg.n_trusted; i++)
		if (memcmp(rx->cfg.trusted[i], id, EDGE_OTA_KEY_ID_LEN) == 0)
			return (int)i;
	return -1;
}

/* Signatures: distinct trusted keys over the exact manifest bytes. */
static enum edge_ota_reason check_signatures(struct edge_ota_rx *rx,
					     const struct edge_ota_container *c, struct text *d)
{
	bool seen[EDGE_OTA_RX_TRUST_MAX];
	unsigned i, valid = 0, bad = 0;

	memset(seen, 0, sizeof seen);
	for (i = 0; i < c->n_sigs && valid < rx->cfg.threshold; i++) {
		const struct edge_ota_sig *s = &c->sigs[i];
		int t = trusted_index(rx, s->key_id);

		if (t < 0)
			continue;
		if (!rx->p.verify(rx->p.ud, s->alg, s->key_id, c->manifest, c->manifest_len, s->sig,
				  s->sig_len)) {
			bad++;
			continue;
		}
		if (!seen[t]) {
			seen[t] = true;
			valid++;
		}
	}
	if (valid >= rx->cfg.threshold)
		return EDGE_OTA_R_OK;
	if (bad) {
		text_u64(d, bad);
		text_str(d, " trusted signature(s) do not verify");
		return EDGE_OTA_R_BAD_SIGNATURE;
	}
	if (valid == 0) {
		text_u64(d, c->n_sigs);
		text_str(d, " signature(s), none by a trusted key");
		return EDGE_OTA_R_UNKNOWN_KEY;
	}
	text_u64(d, valid);
	text_str(d, " distinct trusted key(s) signed, ");
	text_u64(d, rx->cfg.threshold);
	text_str(d, " required");
	return EDGE_OTA_R_THRESHOLD_NOT_MET;
}

/* What the node itself needs: the checks after the signatures, in order. */
static enum edge_ota_reason check_fit(struct edge_ota_rx *rx, const struct edge_ota_offer *o,
				      struct text *d)
{
	const struct edge_ota_manifest *m = &rx->offer;
	uint64_t wall, counter;
	unsigned i, j;

	wall = rx->p.wall_ms ? rx->p.wall_ms(rx->p.ud) : 0;
	/* As the gateway's verifier: refused from expires_ms on. */
	if (wall && m->expires_ms && wall >= m->expires_ms) {
		text_str(d, "expired at ");
		text_u64(d, m->expires_ms);
		return EDGE_OTA_R_EXPIRED;
	}
	if (rx->active_sha256[0] && strcmp(rx->active_sha256, m->sha256) == 0)
		return EDGE_OTA_R_ALREADY_HAVE;
	counter = rx->p.counter_get(rx->p.ud, m->name);
	if (m->counter < counter) {
		text_str(d, "counter ");
		text_u64(d, m->counter);
		text_str(d, " below ");
		text_u64(d, counter);
		return EDGE_OTA_R_ROLLBACK;
	}
	if (strcmp(m->runtime, rx->cfg.runtime) != 0) {
		text_str(d, "runtime ");
		text_str(d, m->runtime);
		text_str(d, ", node runs ");
		text_str(d, rx->cfg.runtime);
		return EDGE_OTA_R_INCOMPATIBLE;
	}
	for (i = 0; i < m->n_ops; i++) {
		for (j = 0; j < rx->cfg.n_ops; j++)
			if (strcmp(m->ops[i], rx->cfg.ops[j]) == 0)
				break;
		if (j == rx->cfg.n_ops) {
			text_str(d, "op ");
			text_str(d, m->ops[i]);
			return EDGE_OTA_R_MISSING_OPS;
		}
	}
	if (m->arena_bytes > rx->cfg.arena_bytes) {
		text_str(d, "needs ");
		text_u64(d, m->arena_bytes);
		text_str(d, " bytes of arena, has ");
		text_u64(d, rx->cfg.arena_bytes);
		return EDGE_OTA_R_INSUFFICIENT_ARENA;
	}
	/* A model whose chunks the bitmap cannot count even at max_chunk
	 * never fits; with smaller chunks than that it would. */
	if (m->size > rx->p.slot_size ||
	    (m->size + rx->cfg.max_chunk - 1) / rx->cfg.max_chunk > EDGE_OTA_RX_CHUNKS_MAX) {
		text_str(d, "needs ");
		text_u64(d, m->size);
		text_str(d, " bytes, slot has ");
		text_u64(d, rx->p.slot_size);
		return EDGE_OTA_R_INSUFFICIENT_FLASH;
	}
	if (o->chunk_size > rx->cfg.max_chunk || o->n_chunks > EDGE_OTA_RX_CHUNKS_MAX) {
		text_str(d, "chunk ");
		text_u64(d, o->chunk_size);
		text_str(d, o->chunk_size > rx->cfg.max_chunk ? ", max " : ", at least ");
		text_u64(d, o->chunk_size > rx->cfg.max_chunk
				    ? rx->cfg.max_chunk
				    : (m->size + EDGE_OTA_RX_CHUNKS_MAX - 1) / EDGE_OTA_RX_CHUNKS_MAX);
		return EDGE_OTA_R_CHUNK_SIZE;
	}
	return EDGE_OTA_R_OK;
}

static void join_campaign(struct edge_ota_rx *rx, bool on)
{
	if (rx->campaign && (!on || rx->campaign_transfer != rx->transfer))
		leave_campaign(rx);
	if (on && !rx->campaign && rx->p.campaign(rx->p.ud, rx->transfer, true) == 0) {
		/* On failure the chunks come by unicast repair instead. */
		rx->campaign = true;
		rx->campaign_transfer = rx->transfer;
	}
}

static int on_offer(struct edge_ota_rx *rx, const struct edge_ota_frame *f, uint64_t now_ms)
{
	struct edge_ota_offer o;
	struct edge_ota_container c;
	struct edge_msg_error err;
	enum edge_ota_reason r = EDGE_OTA_R_OK;
	char detail[96];
	struct text d = { detail, 0, sizeof detail };
	const char *sha_hex = NULL;
	uint8_t sha[32];
	bool receiving = rx->state == EDGE_OTA_RX_RECEIVING, resume;

	rx->stats.offers++;
	detail[0] = '\0';
	memset(&err, 0, sizeof err);
	if (edge_ota_offer_parse(f, &o, &err) != 0) {
		r = EDGE_OTA_R_MALFORMED;
		text_str(&d, "offer: ");
	} else if (edge_ota_container_parse(o.head, o.head_len, &c, &err) != 0) {
		r = no_signature_entry(o.head, o.head_len) ? EDGE_OTA_R_UNSIGNED
							     : EDGE_OTA_R_MALFORMED;
		text_str(&d, "head: ");
	} else if (c.model) {
		r = EDGE_OTA_R_MALFORMED;
		text_str(&d, "head: carries model bytes");
	} else if (edge_ota_manifest_parse(c.manifest, c.manifest_len, &rx->offer, &err) != 0) {
		r = EDGE_OTA_R_MALFORMED;
		text_str(&d, "manifest: ");
	} else if (sha_from_hex(rx->offer.sha256, sha) != 0) {
		/* The parser takes only 64 hex digits: cannot happen. */
		r = EDGE_OTA_R_MALFORMED;
		text_str(&d, "manifest: sha256");
	} else {
		sha_hex = rx->offer.sha256;
		if (rx->offer.size != c.model_len ||
		    (uint64_t)o.n_chunks != (c.model_len + o.chunk_size - 1) / o.chunk_size) {
			r = EDGE_OTA_R_MALFORMED;
			text_str(&d, "manifest size is not the head's");
		}
	}
	if (r != EDGE_OTA_R_OK && d.n && detail[d.n - 1] == ' ') {
		text_str(&d, edge_msg_reject_name(err.reason));
		if (err.field[0]) {
			text_str(&d, " ");
			text_str(&d, err.field);
		}
	}

	/* Busy first: while receiving, only the same model (a resume, with
	 * any transfer id) is considered; what does not parse is not it. */
	if (receiving && (!sha_hex || memcmp(sha, rx->sha, 32) != 0)) {
		deny(rx, f->transfer, sha_hex, EDGE_OTA_R_BUSY, "receiving another model");
		return 0;
	}
	if (r == EDGE_OTA_R_OK && c.n_sigs == 0)
		r = EDGE_OTA_R_UNSIGNED; /* the parser refuses it first; kept as a guard */
	if (r == EDGE_OTA_R_OK)
		r = check_signatures(rx, &c, &d);
	if (r == EDGE_OTA_R_OK)
		r = check_fit(rx, &o, &d);
	if (r != EDGE_OTA_R_OK) {
		deny(rx, f->transfer, sha_hex, r, detail);
		return 0;
	}

	resume = (receiving || rx->resumable) && memcmp(sha, rx->sha, 32) == 0 &&
		 o.chunk_size == rx->chunk_size && o.n_chunks == rx->n_chunks;
	if (!resume) {
		/* Record first: never a bitmap of the old model over erased flash. */
		leave_campaign(rx);
		rx->state = EDGE_OTA_RX_IDLE;
		if (record_clear(rx) < 0) {
			deny(rx, f->transfer, sha_hex, EDGE_OTA_R_STORAGE_ERROR, "state_save failed");
			return 0;
		}
		if (rx->p.slot_erase(rx->p.ud, (uint32_t)rx->offer.size) < 0) {
			deny(rx, f->transfer, sha_hex, EDGE_OTA_R_FLASH_ERROR, "slot_erase failed");
			return 0;
		}
		memset(rx->st, 0, sizeof rx->st);
		memcpy(rx->sha, sha, 32);
		rx->chunk_size = o.chunk_size;
		rx->n_chunks = o.n_chunks;
		rx->model_size = rx->offer.size;
		rx->held = 0;
		rx->next = 0;
	}
	rx->transfer = f->transfer;
	if (record_save(rx) < 0) {
		leave_campaign(rx);
		rx->state = EDGE_OTA_RX_IDLE;
		deny(rx, f->transfer, sha_hex, EDGE_OTA_R_STORAGE_ERROR, "state_save failed");
		return 0;
	}
	rx->resumable = true;
	memcpy(&rx->manifest, &rx->offer, sizeof rx->manifest);
	rx->active_known = false;
	rx->state = EDGE_OTA_RX_RECEIVING;
	/* Ack after half of what the gateway keeps in flight: its window
	 * (the offer's, when stated) or ours, whichever is smaller, so a
	 * gateway sending one chunk at a time is answered at once. */
	{
		uint32_t w = rx->cfg.window;
		if (o.window != 0 && o.window < w)
			w = o.window;
		rx->ack_every = w / 2 ? w / 2 : 1;
		/* A campaign's pass is not windowed: acks only tell what is
		 * missing, so a thousand nodes send a quarter as many. */
		if ((o.flags & EDGE_OTA_OFFER_CAMPAIGN) && rx->ack_every < RX_CAMPAIGN_ACK_EVERY)
			rx->ack_every = RX_CAMPAIGN_ACK_EVERY;
	}
	rx->since_ack = 0;
	rx->unacked = false;
	rx->last_rx_ms = now_ms;
	rx->last_ack_ms = now_ms;
	join_campaign(rx, (o.flags & EDGE_OTA_OFFER_CAMPAIGN) != 0);

	rx->stats.accepts++;
	send_accept(rx);
	/* Everything was already held (a reboot during the hash). */
	if (rx->held == rx->n_chunks)
		complete(rx, now_ms);
	return 0;
}

/* ---------------------------------------------------------------- chunks */

static int on_chunk(struct edge_ota_rx *rx, const struct edge_ota_frame *f, uint64_t now_ms)
{
	if (rx->state != EDGE_OTA_RX_RECEIVING || f->transfer != rx->transfer) {
		rx->stats.bad_frames++; /* another or a finished transfer's */
		return -EPROTO;
	}
	/* Never written beyond the model, whatever the gateway sends. */
	if (f->index >= rx->n_chunks) {
		rx->stats.out_of_range++;
		return -EPROTO;
	}
	if (f->length != chunk_len(rx, f->index)) {
		rx->stats.bad_frames++; /* size_mismatch */
		return -EPROTO;
	}
	rx->last_rx_ms = now_ms;
	if (bit_get(rx, f->index)) {
		/* A re-send: the gateway missed an ack; answer soon. */
		rx->stats.duplicates++;
		if (!rx->unacked) {
			rx->unacked = true;
			rx->first_unacked_ms = now_ms;
		}
		return 0;
	}
	if (rx->p.slot_write(rx->p.ud, f->index * rx->chunk_size, f->payload, f->length) < 0) {
		end_transfer(rx, EDGE_OTA_OUTCOME_FAILED, EDGE_OTA_R_FLASH_ERROR, NULL);
		return 0;
	}
	rx->st[ST_HDR + f->index / 8] |= (uint8_t)(1u << (f->index % 8));
	rx->held++;
	advance_next(rx);
	rx->stats.chunks++;
	rx->since_ack++;
	assert(rx->held <= rx->n_chunks);
	if (rx->held == rx->n_chunks) {
		complete(rx, now_ms);
		return 0;
	}
	if (rx->since_ack >= rx->ack_every) {
		(void)ack(rx, now_ms);
	} else if (!rx->unacked) {
		rx->unacked = true;
		rx->first_unacked_ms = now_ms;
	}
	return 0;
}

/* ---------------------------------------------------------------- revert */

/* A revert's answer, counted. output: the self-test's hash when it ran. */
static void revert_done(struct edge_ota_rx *rx, uint32_t transfer, const char *sha_hex,
			enum edge_ota_reason r, const uint8_t *output)
{
	assert(r != EDGE_OTA_R_OK || output); /* activated always carries the output */
	if (r == EDGE_OTA_R_OK) {
		rx->stats.reverts++;
		rx->stats.last_reason = EDGE_OTA_R_OK;
		send_result(rx, transfer, sha_hex, EDGE_OTA_OUTCOME_ACTIVATED, r, output);
		return;
	}
	rx->stats.revert_failures++;
	count_reason(rx, r);
	send_result(rx, transfer, sha_hex, EDGE_OTA_OUTCOME_FAILED, r, output);
}

/* Run the model of the other slot again (receiver.md §10): no model bytes
 * move; the platform switches slots, the self-test decides. */
static int on_revert(struct edge_ota_rx *rx, const struct edge_ota_frame *f)
{
	struct edge_ota_manifest *m = &rx->offer;
	enum edge_ota_reason r;
	char hex[EDGE_MSG_SHA256_HEX + 1];
	uint8_t target[32], held[32], out[32];
	uint64_t counter;

	if (edge_ota_revert_parse(f, target, NULL) != 0) {
		rx->stats.bad_frames++; /* frame_parse holds reverts to 32 bytes: cannot happen */
		return -EPROTO;
	}
	sha_to_hex(target, hex);
	/* The inactive slot is the transfer's: switching to it now would run
	 * half a model, and the transfer would write over what runs. */
	if (rx->state == EDGE_OTA_RX_RECEIVING) {
		revert_done(rx, f->transfer, hex, EDGE_OTA_R_BUSY, NULL);
		return 0;
	}
	/* It runs already (a repeated frame whose answer was lost, a gateway
	 * that restarted): the self-test again, no switch. */
	if (rx->active_known && strcmp(rx->active_sha256, hex) == 0 &&
	    strcmp(rx->manifest.sha256, hex) == 0) {
		r = run_selftest(rx, &rx->manifest, out);
		revert_done(rx, f->transfer, hex, r, r == EDGE_OTA_R_SELFTEST_FAILED ? NULL : out);
		return 0;
	}
	if (!rx->p.slot_manifest || rx->p.slot_manifest(rx->p.ud, m) < 0 ||
	    sha_from_hex(m->sha256, held) != 0 || memcmp(held, target, 32) != 0) {
		revert_done(rx, f->transfer, hex, EDGE_OTA_R_NOT_HELD, NULL);
		return 0;
	}
	/* Anti-rollback as for an offer: going back never goes below the
	 * counter accepted for the name, and never lowers it. */
	counter = rx->p.counter_get(rx->p.ud, m->name);
	if (m->counter < counter) {
		revert_done(rx, f->transfer, hex, EDGE_OTA_R_ROLLBACK, NULL);
		return 0;
	}
	/* After the switch the inactive slot holds what runs now: a resume
	 * record describing it goes first. */
	if (rx->resumable && record_clear(rx) < 0) {
		revert_done(rx, f->transfer, hex, EDGE_OTA_R_STORAGE_ERROR, NULL);
		return 0;
	}
	if (rx->p.revert(rx->p.ud, m) < 0) {
		revert_done(rx, f->transfer, hex, EDGE_OTA_R_ACTIVATE_FAILED, NULL);
		return 0;
	}
	r = run_selftest(rx, m, out);
	if (r == EDGE_OTA_R_OK && m->counter > counter &&
	    rx->p.counter_set(rx->p.ud, m->name, m->counter) < 0)
		r = EDGE_OTA_R_STORAGE_ERROR;
	if (r != EDGE_OTA_R_OK) {
		/* Back to the model that ran before this frame. */
		(void)rx->p.revert(rx->p.ud, m);
		revert_done(rx, f->transfer, hex, r, r == EDGE_OTA_R_SELFTEST_FAILED ? NULL : out);
		return 0;
	}
	memcpy(rx->active_sha256, hex, sizeof rx->active_sha256);
	memcpy(&rx->manifest, m, sizeof rx->manifest);
	rx->active_known = true;
	revert_done(rx, f->transfer, hex, EDGE_OTA_R_OK, out);
	return 0;
}

/* ---------------------------------------------------------------- API */

int edge_ota_rx_init(struct edge_ota_rx *rx, const struct edge_ota_platform *p,
		     const struct edge_ota_rx_config *cfg)
{
	unsigned i, j, distinct = 0;
	int len;

	if (!rx || !p || !cfg)
		return -EINVAL;
	if (!p->slot_erase || !p->slot_write || !p->slot_read || !p->state_save ||
	    !p->state_load || !p->counter_get || !p->counter_set || !p->sha256_begin ||
	    !p->sha256_update || !p->sha256_end || !p->verify || !p->activate ||
	    !p->selftest || !p->revert || !p->send || !p->campaign || p->slot_size == 0)
		return -EINVAL;
	if (!cfg->runtime || (cfg->n_ops && !cfg->ops) || cfg->n_trusted == 0 ||
	    cfg->n_trusted > EDGE_OTA_RX_TRUST_MAX ||
	    (cfg->max_chunk && (cfg->max_chunk < EDGE_OTA_CHUNK_MIN ||
				cfg->max_chunk > EDGE_OTA_CHUNK_MAX)) ||
	    cfg->window > EDGE_OTA_WINDOW_MAX)
		return -EINVAL;
	for (i = 0; i < cfg->n_trusted; i++) {
		for (j = 0; j < i; j++)
			if (memcmp(cfg->trusted[i], cfg->trusted[j], EDGE_OTA_KEY_ID_LEN) == 0)
				break;
		distinct += j == i;
	}
	/* A threshold above the distinct anchors would deny every offer. */
	if (cfg->threshold > distinct)
		return -EINVAL;

	memset(rx, 0, sizeof *rx);
	rx->p = *p;
	rx->cfg = *cfg;
	rx->cfg.active_sha256 = NULL;
	if (rx->cfg.threshold == 0)
		rx->cfg.threshold = 1;
	if (rx->cfg.max_chunk == 0)
		rx->cfg.max_chunk = EDGE_OTA_CHUNK_MAX;
	if (rx->cfg.window == 0)
		rx->cfg.window = WINDOW_DEFAULT;
	edge_ota_rx_set_active(rx, cfg->active_sha256);
	rx->state = EDGE_OTA_RX_IDLE;

	len = rx->p.state_load(rx->p.ud, rx->st, sizeof rx->st);
	if (len > 0 && (size_t)len <= sizeof rx->st)
		record_load(rx, len);
	else
		memset(rx->st, 0, sizeof rx->st);
	return 0;
}

int edge_ota_rx_on_frame(struct edge_ota_rx *rx, const void *buf, size_t len, uint64_t now_ms)
{
	struct edge_ota_frame f;
	struct edge_msg_error err;

	assert(rx);
	if (!buf || edge_ota_frame_parse(buf, len, &f, &err) != 0) {
		rx->stats.bad_frames++;
		return -EPROTO;
	}
	switch (f.type) {
	case EDGE_OTA_FRAME_OFFER:
		return on_offer(rx, &f, now_ms);
	case EDGE_OTA_FRAME_CHUNK:
		return on_chunk(rx, &f, now_ms);
	case EDGE_OTA_FRAME_CANCEL:
		if (rx->state == EDGE_OTA_RX_RECEIVING && f.transfer == rx->transfer)
			abandon(rx);
		return 0;
	case EDGE_OTA_FRAME_REVERT:
		return on_revert(rx, &f);
	default:
		rx->stats.bad_frames++;
		return -EPROTO;
	}
}

void edge_ota_rx_tick(struct edge_ota_rx *rx, uint64_t now_ms)
{
	uint64_t quiet;

	assert(rx);
	if (rx->state != EDGE_OTA_RX_RECEIVING)
		return;
	if (now_ms >= rx->last_rx_ms + EDGE_OTA_RX_STALL_MS) {
		abandon(rx);
		return;
	}
	if (rx->unacked && now_ms >= rx->first_unacked_ms + EDGE_OTA_RX_ACK_DELAY_MS) {
		(void)ack(rx, now_ms);
		return;
	}
	/* Nothing for a while: the gateway may have lost the tail or an ack. */
	quiet = rx->last_rx_ms > rx->last_ack_ms ? rx->last_rx_ms : rx->last_ack_ms;
	if (now_ms >= quiet + EDGE_OTA_RX_IDLE_MS)
		(void)ack(rx, now_ms);
}

void edge_ota_rx_set_active(struct edge_ota_rx *rx, const char *sha256_hex)
{
	uint8_t b[32];

	assert(rx);
	if (sha256_hex && sha_from_hex(sha256_hex, b) == 0)
		sha_to_hex(b, rx->active_sha256); /* lowercase, as manifests have it */
	else
		rx->active_sha256[0] = '\0';
	/* Another model than the one manifest describes runs now. */
	if (strcmp(rx->active_sha256, rx->manifest.sha256) != 0)
		rx->active_known = false;
}

bool edge_ota_rx_busy(const struct edge_ota_rx *rx)
{
	assert(rx);
	return rx->state == EDGE_OTA_RX_RECEIVING;
}

const struct edge_ota_rx_stats *edge_ota_rx_stats(const struct edge_ota_rx *rx)
{
	assert(rx);
	return &rx->stats;
}
