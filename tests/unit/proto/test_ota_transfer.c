/* The OTA transfer codec (proto/ota/transfer.md): frame round trips and
 * every frame reject, the offer, the have bitmap, the four answers (round
 * trips, literal texts, every field rule), the campaign topic, and the
 * golden vectors of vectors/ota-transfer/ (index.txt: gen.py writes both). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "edge_ota_package.h"
#include "edge_ota_transfer.h"
#include "test_run.h"
#include "test_vector_index.h"

#define HASH_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Recompute a frame's CRC after a test edited it (payload length from its
 * header, clamped to the buffer). */
static void reseal(uint8_t *f, size_t len)
{
	size_t pl = len - EDGE_OTA_FRAME_HDR;

	if (get32(f + 16) < pl)
		pl = get32(f + 16);
	put32(f + 20, edge_ota_crc32c(edge_ota_crc32c(0, f, 20), f + EDGE_OTA_FRAME_HDR, pl));
}

/* A package head (header, a small manifest, one filler signature) of a
 * model of model_size bytes, into buf; its length. */
static size_t build_head(uint8_t *buf, uint64_t model_size)
{
	static const char man[] = "{\"format\":1}";
	size_t ml = sizeof man - 1, s = 4 + 36 + 64;

	memcpy(buf, EDGE_OTA_MAGIC, 8);
	buf[8] = EDGE_OTA_FORMAT;
	buf[9] = 0;
	buf[10] = EDGE_OTA_HEADER_SIZE;
	buf[11] = 0;
	put32(buf + 12, (uint32_t)ml);
	put32(buf + 16, (uint32_t)s);
	put32(buf + 20, (uint32_t)model_size);
	put32(buf + 24, (uint32_t)(model_size >> 32));
	put32(buf + 28, edge_ota_crc32c(0, buf, 28));
	memcpy(buf + 32, man, ml);
	memset(buf + 32 + ml, 0, s);
	buf[32 + ml] = 1;
	buf[32 + ml + 4] = EDGE_OTA_SIG_ED25519;
	buf[32 + ml + 6] = 64;
	return 32 + ml + s;
}

static void expect_frame(const uint8_t *buf, size_t len, const char *reason, const char *field)
{
	struct edge_ota_frame f;
	struct edge_msg_error err;

	memset(&err, 0xa5, sizeof err);
	ck_assert_int_eq(edge_ota_frame_parse(buf, len, &f, &err), -EPROTO);
	ck_assert_str_eq(edge_msg_reject_name(err.reason), reason);
	ck_assert_str_eq(err.field, field);
	ck_assert_ptr_null(f.payload);
}

static void expect_answer(const char *text, const char *reason, const char *field)
{
	struct edge_ota_answer a;
	struct edge_msg_error err;

	memset(&err, 0xa5, sizeof err);
	ck_assert_msg(edge_ota_answer_parse(text, strlen(text), &a, &err) == -EPROTO,
		      "accepted: %s", text);
	ck_assert_msg(strcmp(edge_msg_reject_name(err.reason), reason) == 0 &&
			      strcmp(err.field, field) == 0,
		      "%s: got %s/%s, want %s/%s", text, edge_msg_reject_name(err.reason),
		      err.field, reason, field);
	ck_assert_uint_eq(a.type, 0);
}

static void parse_answer_ok(const char *text, struct edge_ota_answer *a)
{
	struct edge_msg_error err;
	int rc = edge_ota_answer_parse(text, strlen(text), a, &err);

	ck_assert_msg(rc == 0, "%s: %s %s", text, edge_msg_reject_name(err.reason), err.field);
}

/* encode(a) parses back to a and encodes to the same text. */
static void answer_round_trip(const struct edge_ota_answer *a, const char *want)
{
	char enc[EDGE_OTA_ANSWER_MAX], enc2[EDGE_OTA_ANSWER_MAX];
	struct edge_ota_answer b;
	int n = edge_ota_answer_encode(enc, sizeof enc, a);

	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(enc), (size_t)n);
	if (want)
		ck_assert_str_eq(enc, want);
	parse_answer_ok(enc, &b);
	ck_assert(memcmp(a, &b, sizeof b) == 0);
	ck_assert_int_eq(edge_ota_answer_encode(enc2, sizeof enc2, &b), n);
	ck_assert_str_eq(enc, enc2);
}

/* ------------------------------------------------------------------ reasons */

START_TEST(reason_names)
{
	int i, j;

	for (i = 0; i < EDGE_OTA_R_COUNT; i++) {
		const char *n = edge_ota_reason_name((enum edge_ota_reason)i);

		ck_assert_str_ne(n, "unknown");
		ck_assert_int_eq(edge_ota_reason_from_name(n, strlen(n)), i);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(n, edge_ota_reason_name((enum edge_ota_reason)j));
	}
	ck_assert_str_eq(edge_ota_reason_name(EDGE_OTA_R_OK), "ok");
	ck_assert_str_eq(edge_ota_reason_name(EDGE_OTA_R_INSUFFICIENT_FLASH), "insufficient_flash");
	ck_assert_str_eq(edge_ota_reason_name(EDGE_OTA_R_INTERNAL), "internal");
	ck_assert_str_eq(edge_ota_reason_name(EDGE_OTA_R_COUNT), "unknown");
	ck_assert_str_eq(edge_ota_reason_name((enum edge_ota_reason)-1), "unknown");
	/* Lengths count: a prefix or an extension of a name is not it. */
	ck_assert_int_eq(edge_ota_reason_from_name("busy", 3), -1);
	ck_assert_int_eq(edge_ota_reason_from_name("busyx", 5), -1);
	ck_assert_int_eq(edge_ota_reason_from_name("busyx", 4), EDGE_OTA_R_BUSY);
	ck_assert_int_eq(edge_ota_reason_from_name("", 0), -1);
	ck_assert_int_eq(edge_ota_reason_from_name(NULL, 0), -1);
	ck_assert_str_eq(edge_ota_outcome_name(EDGE_OTA_OUTCOME_ACTIVATED), "activated");
	ck_assert_str_eq(edge_ota_outcome_name(EDGE_OTA_OUTCOME_REVERTED), "reverted");
	ck_assert_str_eq(edge_ota_outcome_name(EDGE_OTA_OUTCOME_FAILED), "failed");
	ck_assert_str_eq(edge_ota_outcome_name((enum edge_ota_outcome)0), "unknown");
	ck_assert_str_eq(edge_ota_outcome_name((enum edge_ota_outcome)4), "unknown");
}
END_TEST

/* ------------------------------------------------------------------- frames */

START_TEST(frame_layout)
{
	static const uint8_t payload[3] = { 0xaa, 0xbb, 0xcc };
	uint8_t buf[64];
	int n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 0x01020304u,
				      0x0a0b0c0du, payload, 3);

	/* The header byte for byte, as transfer.md's table. */
	ck_assert_int_eq(n, EDGE_OTA_FRAME_HDR + 3);
	ck_assert_mem_eq(buf, "EOTA", 4);
	ck_assert_uint_eq(get32(buf), EDGE_OTA_FRAME_MAGIC);
	ck_assert_uint_eq(buf[4], 1);
	ck_assert_uint_eq(buf[5], EDGE_OTA_FRAME_CHUNK);
	ck_assert_uint_eq(buf[6], 0);
	ck_assert_uint_eq(buf[7], 0);
	ck_assert_uint_eq(buf[8], 0x04);
	ck_assert_uint_eq(buf[11], 0x01);
	ck_assert_uint_eq(get32(buf + 12), 0x0a0b0c0du);
	ck_assert_uint_eq(get32(buf + 16), 3);
	ck_assert_uint_eq(get32(buf + 20),
			  edge_ota_crc32c(edge_ota_crc32c(0, buf, 20), payload, 3));
	ck_assert_mem_eq(buf + 24, payload, 3);
}
END_TEST

START_TEST(frame_round_trips)
{
	static uint8_t chunk[EDGE_OTA_CHUNK_MAX], buf[EDGE_OTA_FRAME_HDR + EDGE_OTA_CHUNK_MAX];
	struct edge_ota_frame f;
	struct edge_msg_error err;
	uint8_t reason = EDGE_OTA_R_CANCELLED;
	size_t i;
	int n;

	for (i = 0; i < sizeof chunk; i++)
		chunk[i] = (uint8_t)(i * 7);
	n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 9, 41, chunk,
				  EDGE_OTA_CHUNK_MAX);
	ck_assert_int_eq(n, (int)sizeof buf);
	ck_assert_int_eq(edge_ota_frame_parse(buf, (size_t)n, &f, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	ck_assert_uint_eq(f.type, EDGE_OTA_FRAME_CHUNK);
	ck_assert_uint_eq(f.flags, 0);
	ck_assert_uint_eq(f.transfer, 9);
	ck_assert_uint_eq(f.index, 41);
	ck_assert_uint_eq(f.length, EDGE_OTA_CHUNK_MAX);
	ck_assert_ptr_eq(f.payload, buf + EDGE_OTA_FRAME_HDR);
	ck_assert_mem_eq(f.payload, chunk, EDGE_OTA_CHUNK_MAX);

	/* A one-byte last chunk, index at its largest. */
	n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, UINT32_MAX, UINT32_MAX,
				  chunk, 1);
	ck_assert_int_eq(n, EDGE_OTA_FRAME_HDR + 1);
	ck_assert_int_eq(edge_ota_frame_parse(buf, (size_t)n, &f, NULL), 0);
	ck_assert_uint_eq(f.transfer, UINT32_MAX);
	ck_assert_uint_eq(f.index, UINT32_MAX);

	n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CANCEL, 5, 0, &reason, 1);
	ck_assert_int_eq(n, EDGE_OTA_FRAME_HDR + 1);
	ck_assert_int_eq(edge_ota_frame_parse(buf, (size_t)n, &f, NULL), 0);
	ck_assert_uint_eq(f.type, EDGE_OTA_FRAME_CANCEL);
	ck_assert_uint_eq(f.payload[0], EDGE_OTA_R_CANCELLED);

	/* The payload may already sit where it goes (built in place). */
	memcpy(buf + EDGE_OTA_FRAME_HDR, chunk, 100);
	n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 1, 2,
				  buf + EDGE_OTA_FRAME_HDR, 100);
	ck_assert_int_eq(n, EDGE_OTA_FRAME_HDR + 100);
	ck_assert_int_eq(edge_ota_frame_parse(buf, (size_t)n, &f, NULL), 0);
	ck_assert_mem_eq(f.payload, chunk, 100);
}
END_TEST

START_TEST(frame_unknown_flags_ignored)
{
	uint8_t buf[64];
	struct edge_ota_frame f;
	int n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 3, 0, "abc", 3);

	ck_assert_int_gt(n, 0);
	buf[6] = 0x34;
	buf[7] = 0x12;
	reseal(buf, (size_t)n);
	ck_assert_int_eq(edge_ota_frame_parse(buf, (size_t)n, &f, NULL), 0);
	ck_assert_uint_eq(f.flags, 0x1234);
}
END_TEST

START_TEST(frame_rejects)
{
	static uint8_t buf[EDGE_OTA_FRAME_HDR + EDGE_OTA_CHUNK_MAX + 8], copy[sizeof buf];
	size_t len;
	int n = edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 7, 3, "chunkdata", 9);

	ck_assert_int_gt(n, 0);
	len = (size_t)n;
#define EDIT(stmt, l, seal, reason, field)                             \
	do {                                                           \
		size_t el = (l);                                       \
		memcpy(copy, buf, sizeof buf);                         \
		{ uint8_t *b = copy; stmt; (void)b; }                  \
		if (seal)                                              \
			reseal(copy, el);                              \
		expect_frame(copy, el, reason, field);                 \
	} while (0)

	expect_frame(buf, 0, "truncated", "header");
	expect_frame(NULL, 0, "truncated", "header");
	expect_frame(NULL, 5, "bad_magic", "magic");
	expect_frame(buf, EDGE_OTA_FRAME_HDR - 1, "truncated", "header");
	expect_frame((const uint8_t *)"EOTB", 4, "bad_magic", "magic");
	expect_frame((const uint8_t *)"X", 1, "bad_magic", "magic");
	expect_frame((const uint8_t *)"EOT", 3, "truncated", "header");
	EDIT(b[0] = 'e', len, 0, "bad_magic", "magic");
	EDIT(b[4] = 2, len, 1, "unsupported_version", "version");
	EDIT(b[4] = 0, len, 1, "unsupported_version", "version");
	/* The version before a CRC check: a newer frame says what it is. */
	EDIT(b[4] = 2, len, 0, "unsupported_version", "version");
	EDIT(put32(b + 16, EDGE_OTA_FRAME_MAX - EDGE_OTA_FRAME_HDR + 1), len, 0, "bad_header",
	     "length");
	EDIT(put32(b + 16, UINT32_MAX), len, 0, "bad_header", "length");
	EDIT((void)0, len - 1, 0, "truncated", "payload");
	EDIT((void)0, len + 1, 0, "trailing_bytes", "");
	/* The CRC covers the header and the payload. */
	EDIT(b[len - 1] ^= 1, len, 0, "bad_header", "crc");
	EDIT(b[8] ^= 0x80, len, 0, "bad_header", "crc");
	EDIT(b[6] ^= 1, len, 0, "bad_header", "crc");
	EDIT(b[20] ^= 1, len, 0, "bad_header", "crc");
	EDIT(b[5] = 0, len, 1, "bad_header", "type");
	EDIT(b[5] = 5, len, 1, "bad_header", "type");
	/* A revert is exactly 32 bytes: this 9-byte payload is not one. */
	EDIT(b[5] = EDGE_OTA_FRAME_REVERT, len, 1, "bad_header", "index");
	EDIT((b[5] = EDGE_OTA_FRAME_REVERT, put32(b + 12, 0)), len, 1, "bad_header", "length");
	EDIT(b[5] = 0xff, len, 1, "bad_header", "type");
	EDIT(put32(b + 8, 0), len, 1, "bad_header", "transfer");
	/* Offer and cancel carry index 0. */
	EDIT(b[5] = EDGE_OTA_FRAME_CANCEL, len, 1, "bad_header", "index");
	EDIT((b[5] = EDGE_OTA_FRAME_CANCEL, put32(b + 12, 0)), len, 1, "bad_header", "length");
	EDIT((b[5] = EDGE_OTA_FRAME_OFFER, put32(b + 12, 0)), len, 1, "bad_header", "length");
	/* An empty chunk, and one above EDGE_OTA_CHUNK_MAX. */
	EDIT(put32(b + 16, 0), EDGE_OTA_FRAME_HDR, 1, "bad_header", "length");
	EDIT(put32(b + 16, EDGE_OTA_CHUNK_MAX + 1), EDGE_OTA_FRAME_HDR + EDGE_OTA_CHUNK_MAX + 1, 1,
	     "bad_header", "length");
	/* An offer longer than the largest head (a chunk may be that long). */
	EDIT((b[5] = EDGE_OTA_FRAME_OFFER, put32(b + 12, 0),
	      put32(b + 16, EDGE_OTA_OFFER_FRAME_MAX - EDGE_OTA_FRAME_HDR + 1)),
	     EDGE_OTA_OFFER_FRAME_MAX + 1, 1, "bad_header", "length");
#undef EDIT
}
END_TEST

START_TEST(frame_encode_rules)
{
	uint8_t buf[64], big[EDGE_OTA_CHUNK_MAX + 1];

	memset(big, 1, sizeof big);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, 0, 1, 0, "x", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, 5, 1, 0, "x", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_REVERT, 1, 0, "x", 1),
			 -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 0, 0, "x", 1),
			 -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 1, 0, NULL, 1),
			 -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CHUNK, 1, 0, "", 0),
			 -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(NULL, 0, EDGE_OTA_FRAME_CHUNK, 1, 0, big,
					       EDGE_OTA_CHUNK_MAX + 1), -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CANCEL, 1, 1, "x", 1),
			 -EINVAL);
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_CANCEL, 1, 0, "xy", 2),
			 -EINVAL);
	/* An offer goes through edge_ota_offer_encode: a head-less one is refused. */
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_OFFER, 1, 0, big, 16),
			 -EINVAL);
	/* Room: exactly the frame fits, one byte less does not. */
	ck_assert_int_eq(edge_ota_frame_encode(buf, EDGE_OTA_FRAME_HDR + 4, EDGE_OTA_FRAME_CHUNK, 1,
					       0, "abcd", 4), EDGE_OTA_FRAME_HDR + 4);
	ck_assert_int_eq(edge_ota_frame_encode(buf, EDGE_OTA_FRAME_HDR + 3, EDGE_OTA_FRAME_CHUNK, 1,
					       0, "abcd", 4), -ENOSPC);
	ck_assert_int_eq(edge_ota_frame_encode(buf, 3, EDGE_OTA_FRAME_CHUNK, 1, 0, "abcd", 4),
			 -ENOSPC);
	ck_assert_int_eq(edge_ota_frame_encode(NULL, 0, EDGE_OTA_FRAME_CHUNK, 1, 0, "abcd", 4),
			 -ENOSPC);
}
END_TEST

/* ------------------------------------------------------------------- revert */

START_TEST(revert_round_trip)
{
	uint8_t sha[32], out[32], buf[EDGE_OTA_FRAME_HDR + EDGE_OTA_REVERT_PAYLOAD];
	struct edge_ota_frame f;
	struct edge_msg_error err;
	int i, n;

	for (i = 0; i < 32; i++)
		sha[i] = (uint8_t)(0xa0 + i);
	n = edge_ota_revert_encode(buf, sizeof buf, 0x1234, sha);
	ck_assert_int_eq(n, EDGE_OTA_FRAME_HDR + 32);
	ck_assert_uint_eq(buf[5], EDGE_OTA_FRAME_REVERT);
	ck_assert_uint_eq(get32(buf + 8), 0x1234);
	ck_assert_uint_eq(get32(buf + 12), 0);
	ck_assert_uint_eq(get32(buf + 16), 32);
	ck_assert_mem_eq(buf + EDGE_OTA_FRAME_HDR, sha, 32);
	ck_assert_int_eq(edge_ota_frame_parse(buf, (size_t)n, &f, &err), 0);
	ck_assert_uint_eq(f.type, EDGE_OTA_FRAME_REVERT);
	ck_assert_uint_eq(f.transfer, 0x1234);
	memset(out, 0, sizeof out);
	ck_assert_int_eq(edge_ota_revert_parse(&f, out, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	ck_assert_mem_eq(out, sha, 32);
	/* The same through the generic encoder. */
	ck_assert_int_eq(edge_ota_frame_encode(buf, sizeof buf, EDGE_OTA_FRAME_REVERT, 0x1234, 0, sha,
					       32), n);

	/* Encoder rules: transfer 0, no hash, no room. */
	ck_assert_int_eq(edge_ota_revert_encode(buf, sizeof buf, 0, sha), -EINVAL);
	ck_assert_int_eq(edge_ota_revert_encode(buf, sizeof buf, 1, NULL), -EINVAL);
	ck_assert_int_eq(edge_ota_revert_encode(buf, sizeof buf - 1, 1, sha), -ENOSPC);
	ck_assert_int_eq(edge_ota_revert_encode(NULL, 0, 1, sha), -ENOSPC);

	/* A frame built by hand: only a revert of exactly 32 bytes parses. */
	f.length = 31;
	memset(&err, 0xa5, sizeof err);
	ck_assert_int_eq(edge_ota_revert_parse(&f, out, &err), -EPROTO);
	ck_assert_str_eq(edge_msg_reject_name(err.reason), "bad_header");
	ck_assert_str_eq(err.field, "length");
	f.length = 33;
	ck_assert_int_eq(edge_ota_revert_parse(&f, out, &err), -EPROTO);
	ck_assert_str_eq(err.field, "length");
	f.length = 32;
	f.payload = NULL;
	ck_assert_int_eq(edge_ota_revert_parse(&f, out, &err), -EPROTO);
	ck_assert_str_eq(err.field, "length");
	f.payload = sha;
	f.type = EDGE_OTA_FRAME_CANCEL;
	ck_assert_int_eq(edge_ota_revert_parse(&f, out, &err), -EPROTO);
	ck_assert_str_eq(err.field, "type");
	ck_assert_int_eq(edge_ota_revert_parse(&f, out, NULL), -EPROTO);
}
END_TEST

START_TEST(revert_reason_not_held)
{
	struct edge_ota_answer a;
	static const char want[] =
		"{\"proto\":1,\"msg\":\"result\",\"transfer\":9,\"sha256\":\"" HASH_A
		"\",\"outcome\":\"failed\",\"reason\":\"not_held\"}";

	ck_assert_str_eq(edge_ota_reason_name(EDGE_OTA_R_NOT_HELD), "not_held");
	ck_assert_int_eq(edge_ota_reason_from_name("not_held", 8), EDGE_OTA_R_NOT_HELD);
	/* Appended: the names before it keep their numbers. */
	ck_assert_int_eq(EDGE_OTA_R_NOT_HELD, EDGE_OTA_R_INTERNAL + 1);
	ck_assert_int_eq(EDGE_OTA_R_COUNT, EDGE_OTA_R_NOT_HELD + 1);
	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_RESULT;
	a.transfer = 9;
	memcpy(a.sha256, HASH_A, sizeof a.sha256);
	a.outcome = EDGE_OTA_OUTCOME_FAILED;
	a.reason = EDGE_OTA_R_NOT_HELD;
	answer_round_trip(&a, want);
}
END_TEST

/* -------------------------------------------------------------------- offer */

static uint8_t head[EDGE_OTA_HEADER_SIZE + EDGE_OTA_MANIFEST_MAX + EDGE_OTA_SIG_BLOCK_MAX];
static uint8_t frame[EDGE_OTA_FRAME_MAX + 8];

START_TEST(offer_round_trip)
{
	struct edge_ota_offer o = { 0 }, back;
	struct edge_ota_container c;
	struct edge_ota_frame f;
	struct edge_msg_error err;
	size_t hl = build_head(head, 1000);
	int n;

	o.chunk_size = 256;
	o.n_chunks = 4; /* 1000 bytes: 3 full chunks and one of 232 */
	o.flags = EDGE_OTA_OFFER_CAMPAIGN;
	o.head = head;
	o.head_len = hl;
	n = edge_ota_offer_encode(frame, sizeof frame, 0xabcdef01u, &o);
	ck_assert_int_eq(n, (int)(EDGE_OTA_FRAME_HDR + EDGE_OTA_OFFER_FIXED + hl));
	ck_assert_int_eq(edge_ota_frame_parse(frame, (size_t)n, &f, NULL), 0);
	ck_assert_uint_eq(f.type, EDGE_OTA_FRAME_OFFER);
	ck_assert_uint_eq(f.index, 0);
	ck_assert_uint_eq(f.transfer, 0xabcdef01u);
	ck_assert_int_eq(edge_ota_offer_parse(&f, &back, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	ck_assert_uint_eq(back.chunk_size, 256);
	ck_assert_uint_eq(back.n_chunks, 4);
	ck_assert_uint_eq(back.flags, EDGE_OTA_OFFER_CAMPAIGN);
	ck_assert_uint_eq(back.head_len, hl);
	ck_assert_mem_eq(back.head, head, hl);
	/* The payload's fixed part, as documented. */
	ck_assert_uint_eq(get32(frame + 24), 256);
	ck_assert_uint_eq(get32(frame + 28), 4);
	ck_assert_uint_eq(get32(frame + 32), 1);
	ck_assert_uint_eq(get32(frame + 36), 0);
	/* The head is a package without its model. */
	ck_assert_int_eq(edge_ota_container_parse(back.head, back.head_len, &c, NULL), 0);
	ck_assert_ptr_null(c.model);
	ck_assert_uint_eq(c.model_len, 1000);

	/* Chunk counts at the boundary: exact multiple, and one byte more. */
	hl = build_head(head, 1024);
	o.head_len = hl;
	o.chunk_size = EDGE_OTA_CHUNK_MIN;
	o.n_chunks = 16;
	o.flags = 0;
	n = edge_ota_offer_encode(frame, sizeof frame, 1, &o);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_ota_frame_parse(frame, (size_t)n, &f, NULL), 0);
	ck_assert_int_eq(edge_ota_offer_parse(&f, &back, NULL), 0);
	ck_assert_uint_eq(back.n_chunks, 16);
	o.n_chunks = 17;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	hl = build_head(head, 1025);
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), n);

	/* The largest model in the smallest chunks, and one chunk for all. */
	build_head(head, EDGE_OTA_MODEL_MAX);
	o.n_chunks = EDGE_OTA_MODEL_MAX / EDGE_OTA_CHUNK_MIN;
	ck_assert_int_gt(edge_ota_offer_encode(frame, sizeof frame, 1, &o), 0);
	build_head(head, EDGE_OTA_CHUNK_MAX);
	o.chunk_size = EDGE_OTA_CHUNK_MAX;
	o.n_chunks = 1;
	ck_assert_int_gt(edge_ota_offer_encode(frame, sizeof frame, 1, &o), 0);
}
END_TEST

START_TEST(offer_largest_head)
{
	static uint8_t big[EDGE_OTA_OFFER_FRAME_MAX];
	struct edge_ota_offer o = { 0 };
	size_t hl = EDGE_OTA_HEADER_SIZE + EDGE_OTA_MANIFEST_MAX + EDGE_OTA_SIG_BLOCK_MAX;

	build_head(head, 100);
	o.chunk_size = 64;
	o.n_chunks = 2;
	o.head = head;
	o.head_len = hl;
	ck_assert_int_eq(edge_ota_offer_encode(big, sizeof big, 1, &o), EDGE_OTA_OFFER_FRAME_MAX);
	ck_assert_int_eq(edge_ota_offer_encode(big, sizeof big - 1, 1, &o), -ENOSPC);
	o.head_len = hl + 1;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
}
END_TEST

static void expect_offer(const uint8_t *buf, size_t len, const char *reason, const char *field)
{
	struct edge_ota_frame f;
	struct edge_ota_offer o;
	struct edge_msg_error err;

	ck_assert_int_eq(edge_ota_frame_parse(buf, len, &f, NULL), 0);
	memset(&err, 0xa5, sizeof err);
	ck_assert_int_eq(edge_ota_offer_parse(&f, &o, &err), -EPROTO);
	ck_assert_str_eq(edge_msg_reject_name(err.reason), reason);
	ck_assert_str_eq(err.field, field);
	ck_assert_ptr_null(o.head);
}

START_TEST(offer_rejects)
{
	static uint8_t copy[sizeof frame];
	struct edge_ota_offer o = { 0 };
	struct edge_ota_frame f;
	size_t hl = build_head(head, 1000), len;
	int n;

	o.chunk_size = 256;
	o.n_chunks = 4;
	o.head = head;
	o.head_len = hl;
	n = edge_ota_offer_encode(frame, sizeof frame, 3, &o);
	ck_assert_int_gt(n, 0);
	len = (size_t)n;
#define EDIT(stmt, reason, field)                                      \
	do {                                                           \
		memcpy(copy, frame, len);                              \
		{ uint8_t *b = copy + EDGE_OTA_FRAME_HDR; stmt; }     \
		reseal(copy, len);                                     \
		expect_offer(copy, len, reason, field);                \
	} while (0)

	EDIT(put32(b, 63), "out_of_range", "chunk_size");
	EDIT(put32(b, EDGE_OTA_CHUNK_MAX + 1), "out_of_range", "chunk_size");
	EDIT(put32(b, 0), "out_of_range", "chunk_size");
	EDIT(put32(b + 4, 3), "inconsistent", "n_chunks");
	EDIT(put32(b + 4, 5), "inconsistent", "n_chunks");
	EDIT(put32(b + 4, 0), "inconsistent", "n_chunks");
	EDIT(put32(b + 12, EDGE_OTA_WINDOW_MAX + 1), "out_of_range", "window");
	EDIT(memset(b + 16 + 20, 0, 8), "out_of_range", "model_size");
	EDIT(put32(b + 16 + 24, 1), "out_of_range", "model_size");
	EDIT(put32(b + 16 + 20, EDGE_OTA_MODEL_MAX + 1), "out_of_range", "model_size");
#undef EDIT
	/* Unknown offer flags are ignored as the frame's are. */
	memcpy(copy, frame, len);
	put32(copy + EDGE_OTA_FRAME_HDR + 8, 0xfffffffeu);
	reseal(copy, len);
	ck_assert_int_eq(edge_ota_frame_parse(copy, len, &f, NULL), 0);
	ck_assert_int_eq(edge_ota_offer_parse(&f, &o, NULL), 0);
	ck_assert_uint_eq(o.flags, 0xfffffffeu);
	/* A frame struct not from the reader: too short for an offer. */
	{
		struct edge_ota_frame bare = { EDGE_OTA_FRAME_OFFER, 0, 1, 0, frame, 47 };
		struct edge_msg_error err;

		ck_assert_int_eq(edge_ota_offer_parse(&bare, &o, &err), -EPROTO);
		ck_assert_str_eq(edge_msg_reject_name(err.reason), "truncated");
		ck_assert_str_eq(err.field, "head");
		bare.payload = NULL;
		bare.length = 100;
		ck_assert_int_eq(edge_ota_offer_parse(&bare, &o, &err), -EPROTO);
		ck_assert_str_eq(err.field, "head");
	}
	/* A chunk frame is no offer. */
	n = edge_ota_frame_encode(copy, sizeof copy, EDGE_OTA_FRAME_CHUNK, 3, 0, head, 100);
	ck_assert_int_eq(edge_ota_frame_parse(copy, (size_t)n, &f, NULL), 0);
	{
		struct edge_msg_error err;

		ck_assert_int_eq(edge_ota_offer_parse(&f, &o, &err), -EPROTO);
		ck_assert_str_eq(err.field, "type");
	}
}
END_TEST

START_TEST(offer_encode_rules)
{
	struct edge_ota_offer o = { 0 };
	size_t hl = build_head(head, 1000);

	o.chunk_size = 256;
	o.n_chunks = 4;
	o.head = head;
	o.head_len = hl;
	ck_assert_int_gt(edge_ota_offer_encode(frame, sizeof frame, 1, &o), 0);
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 0, &o), -EINVAL);
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, NULL), -EINVAL);
	o.flags = 2; /* the gateway sends only flags it knows */
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	o.flags = 0;
	o.chunk_size = 63;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	o.chunk_size = EDGE_OTA_CHUNK_MAX + 1;
	o.n_chunks = 1;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	o.chunk_size = 256;
	o.n_chunks = 4;
	o.head_len = EDGE_OTA_HEADER_SIZE - 1;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	o.head_len = hl;
	o.head = NULL;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	o.head = head;
	build_head(head, 0);
	o.n_chunks = 0;
	ck_assert_int_eq(edge_ota_offer_encode(frame, sizeof frame, 1, &o), -EINVAL);
	build_head(head, 1000);
	o.n_chunks = 4;
	ck_assert_int_eq(edge_ota_offer_encode(frame, EDGE_OTA_FRAME_HDR + 16 + hl - 1, 1, &o),
			 -ENOSPC);
	ck_assert_int_eq(edge_ota_offer_encode(frame, EDGE_OTA_FRAME_HDR + 16 + hl, 1, &o),
			 (int)(EDGE_OTA_FRAME_HDR + 16 + hl));
}
END_TEST

/* ------------------------------------------------------------------- bitmap */

START_TEST(have_bitmap)
{
	struct edge_ota_have h;

	memset(&h, 0, sizeof h);
	ck_assert(!edge_ota_have_test(&h, 0));
	ck_assert(!edge_ota_have_test(&h, UINT32_MAX));

	h.next = 5;
	ck_assert(edge_ota_have_test(&h, 0));
	ck_assert(edge_ota_have_test(&h, 4));
	ck_assert(!edge_ota_have_test(&h, 5));
	ck_assert(!edge_ota_have_test(&h, 6));

	/* Bit 0 is chunk next + 1, least significant bit first. */
	h.n_bits = 16;
	h.bits[0] = 0x81;
	h.bits[1] = 0x02;
	ck_assert(!edge_ota_have_test(&h, 5));
	ck_assert(edge_ota_have_test(&h, 6));
	ck_assert(!edge_ota_have_test(&h, 7));
	ck_assert(edge_ota_have_test(&h, 13));
	ck_assert(!edge_ota_have_test(&h, 14));
	ck_assert(edge_ota_have_test(&h, 15));
	ck_assert(!edge_ota_have_test(&h, 22));
	/* Bits past n_bits say nothing, whatever the array holds. */
	h.bits[2] = 0xff;
	ck_assert(!edge_ota_have_test(&h, 22));
	ck_assert(!edge_ota_have_test(&h, 23));

	/* The last bit of a full bitmap. */
	memset(&h, 0, sizeof h);
	h.next = 10;
	h.n_bits = EDGE_OTA_HAVE_BITS;
	h.bits[EDGE_OTA_HAVE_BITS / 8 - 1] = 0x80;
	ck_assert(edge_ota_have_test(&h, 10 + EDGE_OTA_HAVE_BITS));
	ck_assert(!edge_ota_have_test(&h, 10 + EDGE_OTA_HAVE_BITS - 1));
	ck_assert(!edge_ota_have_test(&h, 10 + EDGE_OTA_HAVE_BITS + 1));
	ck_assert(!edge_ota_have_test(&h, UINT32_MAX));
}
END_TEST

/* ------------------------------------------------------------------ answers */

START_TEST(answer_round_trips)
{
	struct edge_ota_answer a;
	size_t i;

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_ACCEPT;
	a.transfer = 7;
	strcpy(a.sha256, HASH_A);
	a.max_chunk = 1024;
	a.window = 16;
	answer_round_trip(&a, "{\"proto\":1,\"msg\":\"accept\",\"transfer\":7,\"sha256\":\"" HASH_A
			      "\",\"max_chunk\":1024,\"window\":16,\"next\":0}");
	a.have.next = 3;
	a.have.n_bits = 16;
	a.have.bits[0] = 0x05;
	a.have.bits[1] = 0xa0;
	answer_round_trip(&a, "{\"proto\":1,\"msg\":\"accept\",\"transfer\":7,\"sha256\":\"" HASH_A
			      "\",\"max_chunk\":1024,\"window\":16,\"next\":3,\"have\":\"05a0\"}");

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_ACK;
	a.transfer = UINT32_MAX;
	a.have.next = 1u << 20; /* the most chunks a transfer has */
	a.have.n_bits = EDGE_OTA_HAVE_BITS;
	for (i = 0; i < EDGE_OTA_HAVE_BITS / 8; i++)
		a.have.bits[i] = (uint8_t)(i * 37);
	answer_round_trip(&a, NULL);

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_DENY;
	a.transfer = 2;
	strcpy(a.sha256, HASH_B);
	a.reason = EDGE_OTA_R_INSUFFICIENT_FLASH;
	answer_round_trip(&a, "{\"proto\":1,\"msg\":\"deny\",\"transfer\":2,\"sha256\":\"" HASH_B
			      "\",\"reason\":\"insufficient_flash\"}");
	strcpy(a.detail, "slot \"B\" is 262144 bytes \\ model 300000");
	answer_round_trip(&a, "{\"proto\":1,\"msg\":\"deny\",\"transfer\":2,\"sha256\":\"" HASH_B
			      "\",\"reason\":\"insufficient_flash\",\"detail\":"
			      "\"slot \\\"B\\\" is 262144 bytes \\\\ model 300000\"}");
	/* The longest detail, every character escaped: still within ANSWER_MAX. */
	memset(a.detail, '"', sizeof a.detail - 1);
	a.detail[sizeof a.detail - 1] = '\0';
	answer_round_trip(&a, NULL);

	memset(&a, 0, sizeof a);
	a.type = EDGE_OTA_MSG_RESULT;
	a.transfer = 9;
	strcpy(a.sha256, HASH_A);
	a.outcome = EDGE_OTA_OUTCOME_ACTIVATED;
	a.reason = EDGE_OTA_R_OK;
	a.has_output = true;
	strcpy(a.output_sha256, HASH_B);
	answer_round_trip(&a, "{\"proto\":1,\"msg\":\"result\",\"transfer\":9,\"sha256\":\"" HASH_A
			      "\",\"outcome\":\"activated\",\"reason\":\"ok\",\"output_sha256\":\""
			      HASH_B "\"}");
	a.outcome = EDGE_OTA_OUTCOME_REVERTED;
	a.reason = EDGE_OTA_R_SELFTEST_MISMATCH;
	answer_round_trip(&a, NULL);
	a.outcome = EDGE_OTA_OUTCOME_FAILED;
	a.reason = EDGE_OTA_R_HASH_MISMATCH;
	a.has_output = false;
	memset(a.output_sha256, 0, sizeof a.output_sha256);
	answer_round_trip(&a, "{\"proto\":1,\"msg\":\"result\",\"transfer\":9,\"sha256\":\"" HASH_A
			      "\",\"outcome\":\"failed\",\"reason\":\"hash_mismatch\"}");
}
END_TEST

START_TEST(answer_literals)
{
	struct edge_ota_answer a;

	/* Key order, whitespace and unknown keys (of any type) do not matter. */
	parse_answer_ok(" { \"have\" : \"ff01\", \"next\": 12, \"msg\": \"ack\", \"future\": "
			"{\"x\": [1, 2]}, \"transfer\": 4294967295, \"proto\": 1 }\n", &a);
	ck_assert_uint_eq(a.type, EDGE_OTA_MSG_ACK);
	ck_assert_uint_eq(a.transfer, UINT32_MAX);
	ck_assert_uint_eq(a.have.next, 12);
	ck_assert_uint_eq(a.have.n_bits, 16);
	ck_assert_uint_eq(a.have.bits[0], 0xff);
	ck_assert_uint_eq(a.have.bits[1], 0x01);
	ck_assert(edge_ota_have_test(&a.have, 11));
	ck_assert(!edge_ota_have_test(&a.have, 12));
	ck_assert(edge_ota_have_test(&a.have, 13));
	ck_assert(edge_ota_have_test(&a.have, 21));
	ck_assert(!edge_ota_have_test(&a.have, 22));
	ck_assert(!edge_ota_have_test(&a.have, 29));
	ck_assert(edge_ota_have_test(&a.have, 20));
	ck_assert_str_eq(a.sha256, "");

	/* An ack needs no sha256; a wrong one in it is not looked at. */
	parse_answer_ok("{\"proto\":1,\"msg\":\"ack\",\"transfer\":1,\"next\":0,\"sha256\":1}", &a);
	ck_assert_uint_eq(a.have.n_bits, 0);

	parse_answer_ok("{\"proto\":1,\"msg\":\"deny\",\"transfer\":5,\"sha256\":\"" HASH_A
			"\",\"reason\":\"rollback\",\"detail\":\"counter 3 < 7\"}", &a);
	ck_assert_uint_eq(a.type, EDGE_OTA_MSG_DENY);
	ck_assert_uint_eq(a.reason, EDGE_OTA_R_ROLLBACK);
	ck_assert_str_eq(a.detail, "counter 3 < 7");
	ck_assert_str_eq(a.sha256, HASH_A);

	/* An unknown reason from a newer node: internal, its name kept. */
	parse_answer_ok("{\"proto\":1,\"msg\":\"deny\",\"transfer\":5,\"sha256\":\"" HASH_A
			"\",\"reason\":\"low_battery\"}", &a);
	ck_assert_uint_eq(a.reason, EDGE_OTA_R_INTERNAL);
	ck_assert_str_eq(a.detail, "low_battery");
	parse_answer_ok("{\"proto\":1,\"msg\":\"deny\",\"transfer\":5,\"sha256\":\"" HASH_A
			"\",\"reason\":\"low_battery\",\"detail\":\"12%\"}", &a);
	ck_assert_uint_eq(a.reason, EDGE_OTA_R_INTERNAL);
	ck_assert_str_eq(a.detail, "low_battery: 12%");
	parse_answer_ok("{\"proto\":1,\"msg\":\"result\",\"transfer\":5,\"sha256\":\"" HASH_A
			"\",\"outcome\":\"failed\",\"reason\":\"brownout\"}", &a);
	ck_assert_uint_eq(a.reason, EDGE_OTA_R_INTERNAL);
	ck_assert_uint_eq(a.outcome, EDGE_OTA_OUTCOME_FAILED);
	ck_assert_str_eq(a.detail, "brownout");

	/* reverted may carry the output that did not match. */
	parse_answer_ok("{\"proto\":1,\"msg\":\"result\",\"transfer\":5,\"sha256\":\"" HASH_A
			"\",\"outcome\":\"reverted\",\"reason\":\"selftest_mismatch\","
			"\"output_sha256\":\"" HASH_B "\"}", &a);
	ck_assert_uint_eq(a.outcome, EDGE_OTA_OUTCOME_REVERTED);
	ck_assert(a.has_output);
	ck_assert_str_eq(a.output_sha256, HASH_B);

	parse_answer_ok("{\"proto\":1,\"msg\":\"accept\",\"transfer\":5,\"sha256\":\"" HASH_A
			"\",\"max_chunk\":64,\"window\":256,\"next\":1048576}", &a);
	ck_assert_uint_eq(a.max_chunk, 64);
	ck_assert_uint_eq(a.window, 256);
	ck_assert_uint_eq(a.have.next, 1048576);
	/* Escapes in a string are read as their characters. */
	parse_answer_ok("{\"proto\":1,\"msg\":\"\\u0061ck\",\"transfer\":1,\"next\":0}", &a);
	ck_assert_uint_eq(a.type, EDGE_OTA_MSG_ACK);
}
END_TEST

#define ACC_HEAD "{\"proto\":1,\"msg\":\"accept\",\"transfer\":7,\"sha256\":\"" HASH_A "\","
#define DENY_HEAD "{\"proto\":1,\"msg\":\"deny\",\"transfer\":7,\"sha256\":\"" HASH_A "\","
#define RES_HEAD "{\"proto\":1,\"msg\":\"result\",\"transfer\":7,\"sha256\":\"" HASH_A "\","
#define ACK_HEAD "{\"proto\":1,\"msg\":\"ack\",\"transfer\":7,"

START_TEST(answer_rejects)
{
	static char big[EDGE_OTA_ANSWER_MAX + 2];
	static char have[700];
	size_t n;

	/* The envelope. */
	expect_answer("", "empty", "");
	expect_answer("   ", "empty", "");
	expect_answer("{", "bad_json", "");
	expect_answer("[1]", "not_object", "");
	expect_answer("{\"msg\":\"ack\"}", "missing_field", "proto");
	expect_answer("{\"proto\":2,\"msg\":\"ack\"}", "unsupported_version", "proto");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"transfer\":1,\"next\":0} x",
		      "trailing_data", "");
	expect_answer("{\"proto\":1,\"proto\":1,\"msg\":\"ack\",\"transfer\":1,\"next\":0}",
		      "duplicate_key", "");
	expect_answer(ACK_HEAD "\"next\":0,\"next\":1}", "duplicate_key", "");
	expect_answer(ACK_HEAD "\"next\":0,\"x\":[[[[1]]]]}", "too_deep", "");
	/* Longer than any answer: refused before it is read. */
	n = (size_t)snprintf(big, sizeof big, ACK_HEAD "\"next\":0,\"pad\":\"");
	memset(big + n, 'a', sizeof big - n - 3);
	memcpy(big + sizeof big - 3, "\"}", 3);
	ck_assert_uint_eq(strlen(big), EDGE_OTA_ANSWER_MAX + 1);
	expect_answer(big, "too_large", "");
	big[sizeof big - 4] = '"';
	big[sizeof big - 3] = '}';
	big[sizeof big - 2] = '\0';
	{
		struct edge_ota_answer a;

		parse_answer_ok(big, &a); /* exactly EDGE_OTA_ANSWER_MAX */
	}

	/* msg and transfer. */
	expect_answer("{\"proto\":1,\"transfer\":1}", "missing_field", "msg");
	expect_answer("{\"proto\":1,\"msg\":1}", "wrong_type", "msg");
	expect_answer("{\"proto\":1,\"msg\":\"offer\",\"transfer\":1}", "bad_enum", "msg");
	expect_answer("{\"proto\":1,\"msg\":\"ACK\",\"transfer\":1}", "bad_enum", "msg");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"next\":0}", "missing_field", "transfer");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"transfer\":0,\"next\":0}", "out_of_range",
		      "transfer");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"transfer\":4294967296,\"next\":0}",
		      "out_of_range", "transfer");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"transfer\":-1,\"next\":0}", "out_of_range",
		      "transfer");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"transfer\":1.5,\"next\":0}", "not_integer",
		      "transfer");
	expect_answer("{\"proto\":1,\"msg\":\"ack\",\"transfer\":\"1\",\"next\":0}", "wrong_type",
		      "transfer");

	/* sha256 (accept, deny, result). */
	expect_answer("{\"proto\":1,\"msg\":\"accept\",\"transfer\":1}", "missing_field", "sha256");
	expect_answer("{\"proto\":1,\"msg\":\"deny\",\"transfer\":1,\"sha256\":\"" HASH_A "0\"}",
		      "bad_hash", "sha256");
	expect_answer("{\"proto\":1,\"msg\":\"result\",\"transfer\":1,\"sha256\":"
		      "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
		      "bad_hash", "sha256");
	expect_answer("{\"proto\":1,\"msg\":\"result\",\"transfer\":1,\"sha256\":7}", "wrong_type",
		      "sha256");

	/* accept. */
	expect_answer(ACC_HEAD "\"window\":16,\"next\":0}", "missing_field", "max_chunk");
	expect_answer(ACC_HEAD "\"max_chunk\":63,\"window\":16,\"next\":0}", "out_of_range",
		      "max_chunk");
	expect_answer(ACC_HEAD "\"max_chunk\":16385,\"window\":16,\"next\":0}", "out_of_range",
		      "max_chunk");
	expect_answer(ACC_HEAD "\"max_chunk\":1024,\"next\":0}", "missing_field", "window");
	expect_answer(ACC_HEAD "\"max_chunk\":1024,\"window\":0,\"next\":0}", "out_of_range",
		      "window");
	expect_answer(ACC_HEAD "\"max_chunk\":1024,\"window\":257,\"next\":0}", "out_of_range",
		      "window");
	expect_answer(ACC_HEAD "\"max_chunk\":1024,\"window\":16}", "missing_field", "next");
	expect_answer(ACC_HEAD "\"max_chunk\":1024,\"window\":16,\"next\":1048577}",
		      "out_of_range", "next");

	/* have (accept, ack). */
	expect_answer(ACK_HEAD "\"next\":0,\"have\":\"\"}", "bad_string", "have");
	expect_answer(ACK_HEAD "\"next\":0,\"have\":\"f\"}", "bad_string", "have");
	expect_answer(ACK_HEAD "\"next\":0,\"have\":\"0F\"}", "bad_string", "have");
	expect_answer(ACK_HEAD "\"next\":0,\"have\":\"0g\"}", "bad_string", "have");
	expect_answer(ACK_HEAD "\"next\":0,\"have\":\"0\\u0000\"}", "bad_string", "have");
	expect_answer(ACK_HEAD "\"next\":0,\"have\":255}", "wrong_type", "have");
	memset(have, 0, sizeof have);
	n = (size_t)snprintf(have, sizeof have, ACK_HEAD "\"next\":0,\"have\":\"");
	memset(have + n, '0', EDGE_OTA_HAVE_BITS / 4 + 2);
	strcpy(have + n + EDGE_OTA_HAVE_BITS / 4 + 2, "\"}");
	expect_answer(have, "string_too_long", "have");
	strcpy(have + n + EDGE_OTA_HAVE_BITS / 4, "\"}");
	{
		struct edge_ota_answer a;

		parse_answer_ok(have, &a);
		ck_assert_uint_eq(a.have.n_bits, EDGE_OTA_HAVE_BITS);
	}

	/* deny. */
	expect_answer(DENY_HEAD "\"detail\":\"x\"}", "missing_field", "reason");
	expect_answer(DENY_HEAD "\"reason\":3}", "wrong_type", "reason");
	expect_answer(DENY_HEAD "\"reason\":\"\"}", "bad_string", "reason");
	expect_answer(DENY_HEAD "\"reason\":\"Busy\"}", "bad_string", "reason");
	expect_answer(DENY_HEAD "\"reason\":\"low battery\"}", "bad_string", "reason");
	expect_answer(DENY_HEAD "\"reason\":\"a234567890123456789012345678901x\"}",
		      "string_too_long", "reason");
	expect_answer(DENY_HEAD "\"reason\":\"ok\"}", "inconsistent", "reason");
	expect_answer(DENY_HEAD "\"reason\":\"busy\",\"detail\":\"\"}", "bad_string", "detail");
	expect_answer(DENY_HEAD "\"reason\":\"busy\",\"detail\":\"tab\\there\"}", "bad_string",
		      "detail");
	expect_answer(DENY_HEAD "\"reason\":\"busy\",\"detail\":\"caf\\u00e9\"}", "bad_string",
		      "detail");
	expect_answer(DENY_HEAD "\"reason\":\"busy\",\"detail\":false}", "wrong_type", "detail");
	{
		char text[400];
		char d[130];

		memset(d, 'd', 128);
		d[128] = '\0';
		snprintf(text, sizeof text, DENY_HEAD "\"reason\":\"busy\",\"detail\":\"%s\"}", d);
		expect_answer(text, "string_too_long", "detail");
		d[127] = '\0';
		snprintf(text, sizeof text, DENY_HEAD "\"reason\":\"busy\",\"detail\":\"%s\"}", d);
		{
			struct edge_ota_answer a;

			parse_answer_ok(text, &a);
			ck_assert_uint_eq(strlen(a.detail), 127);
		}
	}

	/* result. */
	expect_answer(RES_HEAD "\"reason\":\"ok\"}", "missing_field", "outcome");
	expect_answer(RES_HEAD "\"outcome\":\"done\",\"reason\":\"ok\"}", "bad_enum", "outcome");
	expect_answer(RES_HEAD "\"outcome\":1,\"reason\":\"ok\"}", "wrong_type", "outcome");
	expect_answer(RES_HEAD "\"outcome\":\"failed\"}", "missing_field", "reason");
	expect_answer(RES_HEAD "\"outcome\":\"activated\",\"reason\":\"ok\"}", "missing_field",
		      "output_sha256");
	expect_answer(RES_HEAD "\"outcome\":\"activated\",\"reason\":\"timeout\",\"output_sha256\":\""
		      HASH_B "\"}", "inconsistent", "reason");
	expect_answer(RES_HEAD "\"outcome\":\"activated\",\"reason\":\"ok\",\"output_sha256\":\"x\"}",
		      "bad_hash", "output_sha256");
	expect_answer(RES_HEAD "\"outcome\":\"failed\",\"reason\":\"ok\"}", "inconsistent",
		      "reason");
	expect_answer(RES_HEAD "\"outcome\":\"reverted\",\"reason\":\"ok\",\"output_sha256\":\""
		      HASH_B "\"}", "inconsistent", "reason");
	expect_answer(RES_HEAD "\"outcome\":\"failed\",\"reason\":\"timeout\",\"output_sha256\":null}",
		      "wrong_type", "output_sha256");
}
END_TEST

START_TEST(answer_encode_rules)
{
	struct edge_ota_answer a, ok;
	char buf[EDGE_OTA_ANSWER_MAX];
	int n;

	memset(&ok, 0, sizeof ok);
	ok.type = EDGE_OTA_MSG_ACCEPT;
	ok.transfer = 1;
	strcpy(ok.sha256, HASH_A);
	ok.max_chunk = 512;
	ok.window = 8;
	ck_assert_int_gt(edge_ota_answer_encode(buf, sizeof buf, &ok), 0);
	ck_assert_int_eq(edge_ota_answer_encode(buf, sizeof buf, NULL), -EINVAL);
#define BAD(stmt)                                                                  \
	do {                                                                       \
		a = ok;                                                            \
		stmt;                                                              \
		ck_assert_int_eq(edge_ota_answer_encode(buf, sizeof buf, &a), -EINVAL); \
	} while (0)
	BAD(a.type = 0);
	BAD(a.type = 5);
	BAD(a.transfer = 0);
	BAD(a.sha256[0] = 'A');
	BAD(a.sha256[63] = '\0');
	BAD(a.max_chunk = 63);
	BAD(a.max_chunk = EDGE_OTA_CHUNK_MAX + 1);
	BAD(a.window = 0);
	BAD(a.window = EDGE_OTA_WINDOW_MAX + 1);
	BAD(a.have.n_bits = 12);
	BAD(a.have.n_bits = EDGE_OTA_HAVE_BITS + 8);
	BAD(a.have.next = (1u << 20) + 1);
	BAD((a.type = EDGE_OTA_MSG_ACK, a.have.n_bits = 4));
	BAD((a.type = EDGE_OTA_MSG_DENY, a.reason = EDGE_OTA_R_OK));
	BAD((a.type = EDGE_OTA_MSG_DENY, a.reason = EDGE_OTA_R_COUNT));
	BAD((a.type = EDGE_OTA_MSG_DENY, a.reason = EDGE_OTA_R_BUSY, strcpy(a.detail, "a\tb")));
	BAD((a.type = EDGE_OTA_MSG_DENY, a.reason = EDGE_OTA_R_BUSY,
	     memset(a.detail, 'x', sizeof a.detail)));
	BAD((a.type = EDGE_OTA_MSG_RESULT, a.outcome = EDGE_OTA_OUTCOME_ACTIVATED,
	     a.reason = EDGE_OTA_R_OK));
	BAD((a.type = EDGE_OTA_MSG_RESULT, a.outcome = EDGE_OTA_OUTCOME_ACTIVATED,
	     a.reason = EDGE_OTA_R_TIMEOUT, a.has_output = true, strcpy(a.output_sha256, HASH_B)));
	BAD((a.type = EDGE_OTA_MSG_RESULT, a.outcome = EDGE_OTA_OUTCOME_FAILED,
	     a.reason = EDGE_OTA_R_OK));
	BAD((a.type = EDGE_OTA_MSG_RESULT, a.outcome = 0, a.reason = EDGE_OTA_R_TIMEOUT));
	BAD((a.type = EDGE_OTA_MSG_RESULT, a.outcome = EDGE_OTA_OUTCOME_FAILED,
	     a.reason = EDGE_OTA_R_TIMEOUT, a.has_output = true));
#undef BAD
	/* An ack ignores sha256 (it has none). */
	a = ok;
	a.type = EDGE_OTA_MSG_ACK;
	a.sha256[0] = '\0';
	n = edge_ota_answer_encode(buf, sizeof buf, &a);
	ck_assert_str_eq(buf, "{\"proto\":1,\"msg\":\"ack\",\"transfer\":1,\"next\":0}");
	/* Room: exactly the text and its NUL. */
	ck_assert_int_eq(edge_ota_answer_encode(buf, (size_t)n + 1, &a), n);
	ck_assert_int_eq(edge_ota_answer_encode(buf, (size_t)n, &a), -ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(edge_ota_answer_encode(NULL, 0, &a), -ENOSPC);
}
END_TEST

/* -------------------------------------------------------------------- topic */

START_TEST(campaign_topic)
{
	char buf[64];

	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, NULL, 0x1a2b), 32);
	ck_assert_str_eq(buf, "edge/v1/_campaign/00001a2b/frame");
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "site-4/edge/v1", 0xdeadbeefu), 39);
	ck_assert_str_eq(buf, "site-4/edge/v1/_campaign/deadbeef/frame");
	ck_assert_int_eq(edge_ota_campaign_topic(buf, 33, NULL, 1), 32);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, 32, NULL, 1), -ENOSPC);
	ck_assert_int_eq(edge_ota_campaign_topic(NULL, 0, NULL, 1), -ENOSPC);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, NULL, 0), -EINVAL);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "edge/+", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "edge/#", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "edge/v1/", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "/edge", 1), -EINVAL);
	ck_assert_int_eq(edge_ota_campaign_topic(buf, sizeof buf, "edge//v1", 1), -EINVAL);
	/* The reserved level is the one no node id may take. */
	ck_assert_str_eq(EDGE_OTA_CAMPAIGN_ID, EDGE_TOPIC_CAMPAIGN_ID);
	ck_assert(!edge_id_valid_str(EDGE_OTA_CAMPAIGN_ID));
}
END_TEST

/* ------------------------------------------------------------ golden vectors */

static unsigned long kv_num(char *const *keys, int n, const char *key)
{
	const char *v = test_vector_kv(keys, n, key);

	ck_assert_msg(v != NULL, "vector lacks %s", key);
	return strtoul(v, NULL, 0);
}

/* A frame vector: parse (and an offer's payload); a valid one must come out
 * of the codec byte for byte, and carry the index's values. */
static int run_frame(const char *kind, const uint8_t *data, size_t len,
		     struct edge_msg_error *err, char *const *keys, int nk)
{
	static uint8_t enc[EDGE_OTA_FRAME_MAX];
	struct edge_ota_frame f;
	struct edge_ota_offer o;
	uint8_t target[32];
	int rc, n, i;

	rc = edge_ota_frame_parse(data, len, &f, err);
	if (rc == 0 && strcmp(kind, "offer") == 0)
		rc = edge_ota_offer_parse(&f, &o, err);
	if (rc == 0 && strcmp(kind, "revert") == 0)
		rc = edge_ota_revert_parse(&f, target, err);
	if (rc != 0)
		return rc;
	ck_assert_uint_eq(f.type, kv_num(keys, nk, "type"));
	ck_assert_uint_eq(f.transfer, kv_num(keys, nk, "transfer"));
	ck_assert_uint_eq(f.index, kv_num(keys, nk, "index"));
	ck_assert_uint_eq(f.length, kv_num(keys, nk, "length"));
	if (test_vector_kv(keys, nk, "flags"))
		ck_assert_uint_eq(f.flags, kv_num(keys, nk, "flags"));
	if (test_vector_kv(keys, nk, "cancel_reason"))
		ck_assert_str_eq(edge_ota_reason_name((enum edge_ota_reason)f.payload[0]),
				 test_vector_kv(keys, nk, "cancel_reason"));
	if (strcmp(kind, "offer") == 0) {
		ck_assert_uint_eq(o.chunk_size, kv_num(keys, nk, "chunk_size"));
		ck_assert_uint_eq(o.n_chunks, kv_num(keys, nk, "n_chunks"));
		ck_assert_uint_eq(o.flags, kv_num(keys, nk, "offer_flags"));
		if (test_vector_kv(keys, nk, "window"))
			ck_assert_uint_eq(o.window, kv_num(keys, nk, "window"));
		n = edge_ota_offer_encode(enc, sizeof enc, f.transfer, &o);
	} else if (strcmp(kind, "revert") == 0) {
		static const char digits[] = "0123456789abcdef";
		char hex[65];

		for (i = 0; i < 32; i++) {
			hex[2 * i] = digits[target[i] >> 4];
			hex[2 * i + 1] = digits[target[i] & 15];
		}
		hex[64] = '\0';
		ck_assert_str_eq(hex, test_vector_kv(keys, nk, "target"));
		n = edge_ota_revert_encode(enc, sizeof enc, f.transfer, target);
	} else {
		n = edge_ota_frame_encode(enc, sizeof enc, f.type, f.transfer, f.index, f.payload,
					  f.length);
	}
	if (test_vector_kv(keys, nk, "exact") && strcmp(test_vector_kv(keys, nk, "exact"), "0") == 0)
		return 0;
	ck_assert_int_eq(n, (int)len);
	ck_assert_mem_eq(enc, data, len);
	return 0;
}

static void check_str_key(char *const *keys, int nk, const char *key, const char *got)
{
	const char *v = test_vector_kv(keys, nk, key);

	if (v)
		ck_assert_str_eq(got, v);
}

static int run_answer(const uint8_t *data, size_t len, struct edge_msg_error *err,
		      char *const *keys, int nk)
{
	static const char *const types[] = { "", "accept", "deny", "ack", "result" };
	static const char digits[] = "0123456789abcdef";
	char enc[EDGE_OTA_ANSWER_MAX], have[EDGE_OTA_HAVE_BITS / 4 + 1];
	struct edge_ota_answer a;
	uint32_t i;
	int rc = edge_ota_answer_parse(data, len, &a, err), n;

	if (rc != 0)
		return rc;
	ck_assert_str_eq(types[a.type], test_vector_kv(keys, nk, "msg"));
	ck_assert_uint_eq(a.transfer, kv_num(keys, nk, "transfer"));
	check_str_key(keys, nk, "sha256", a.sha256);
	if (test_vector_kv(keys, nk, "max_chunk"))
		ck_assert_uint_eq(a.max_chunk, kv_num(keys, nk, "max_chunk"));
	if (test_vector_kv(keys, nk, "window"))
		ck_assert_uint_eq(a.window, kv_num(keys, nk, "window"));
	if (test_vector_kv(keys, nk, "next"))
		ck_assert_uint_eq(a.have.next, kv_num(keys, nk, "next"));
	for (i = 0; i < a.have.n_bits / 8; i++) {
		have[2 * i] = digits[a.have.bits[i] >> 4];
		have[2 * i + 1] = digits[a.have.bits[i] & 15];
	}
	have[a.have.n_bits / 4] = '\0';
	check_str_key(keys, nk, "have", have);
	if (test_vector_kv(keys, nk, "reason"))
		ck_assert_str_eq(edge_ota_reason_name((enum edge_ota_reason)a.reason),
				 test_vector_kv(keys, nk, "reason"));
	check_str_key(keys, nk, "detail", a.detail);
	if (test_vector_kv(keys, nk, "outcome"))
		ck_assert_str_eq(edge_ota_outcome_name((enum edge_ota_outcome)a.outcome),
				 test_vector_kv(keys, nk, "outcome"));
	if (test_vector_kv(keys, nk, "output_sha256")) {
		ck_assert(a.has_output);
		ck_assert_str_eq(a.output_sha256, test_vector_kv(keys, nk, "output_sha256"));
	}
	n = edge_ota_answer_encode(enc, sizeof enc, &a);
	ck_assert_int_gt(n, 0);
	if (test_vector_kv(keys, nk, "exact") && strcmp(test_vector_kv(keys, nk, "exact"), "0") == 0)
		return 0;
	ck_assert_int_eq(n, (int)len);
	ck_assert_mem_eq(enc, data, len);
	return 0;
}

/* Answers and frames share the index. */
static int run_any(const char *kind, const uint8_t *data, size_t len, struct edge_msg_error *err,
		   char *const *keys, int nk)
{
	return strcmp(kind, "answer") == 0 ? run_answer(data, len, err, keys, nk)
					   : run_frame(kind, data, len, err, keys, nk);
}

START_TEST(golden_vectors)
{
	ck_assert_int_ge(test_vectors_run("ota-transfer", run_any, NULL), 20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ota-transfer");
	TCase *tc = tcase_create("codec");
	TCase *vec = tcase_create("vectors");

	tcase_add_test(tc, reason_names);
	tcase_add_test(tc, frame_layout);
	tcase_add_test(tc, frame_round_trips);
	tcase_add_test(tc, frame_unknown_flags_ignored);
	tcase_add_test(tc, frame_rejects);
	tcase_add_test(tc, frame_encode_rules);
	tcase_add_test(tc, revert_round_trip);
	tcase_add_test(tc, revert_reason_not_held);
	tcase_add_test(tc, offer_round_trip);
	tcase_add_test(tc, offer_largest_head);
	tcase_add_test(tc, offer_rejects);
	tcase_add_test(tc, offer_encode_rules);
	tcase_add_test(tc, have_bitmap);
	tcase_add_test(tc, answer_round_trips);
	tcase_add_test(tc, answer_literals);
	tcase_add_test(tc, answer_rejects);
	tcase_add_test(tc, answer_encode_rules);
	tcase_add_test(tc, campaign_topic);
	suite_add_tcase(s, tc);
	tcase_add_test(vec, golden_vectors);
	suite_add_tcase(s, vec);
	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
