/* Signed model packages (proto/ota/package.md): CRC-32C and self-test input
 * check values, container round trips and every container reject, the
 * manifest's round trip and its field rules. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_package.h"
#include "test_proto.h"

#define HASH_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static const char manifest_text[] =
	"{\"format\":1,\"name\":\"kws\",\"version\":\"1.2.0+b3\",\"counter\":7,"
	"\"size\":5,\"sha256\":\"" HASH_A "\",\"runtime\":\"tflm\","
	"\"ops\":[\"CONV_2D\",\"SOFTMAX\"],\"arena_bytes\":20480,"
	"\"inputs\":[{\"type\":\"int8\",\"shape\":[1,49,10],\"scale\":0.1,\"zero_point\":-128}],"
	"\"outputs\":[{\"type\":\"int8\",\"shape\":[1,4],\"scale\":0.00390625,\"zero_point\":-128}],"
	"\"expires_ms\":0,\"selftest\":{\"seed\":1,\"output_sha256\":\"" HASH_B "\"}}";

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A package of manifest m, n_sigs Ed25519 signatures (key id i, bytes
 * 0xs0+i) and a 5-byte model, into buf; its length. */
static size_t build(uint8_t *buf, const char *m, unsigned n_sigs)
{
	size_t ml = strlen(m), s = 4 + n_sigs * (4 + 32 + 64), at;
	unsigned i;

	memcpy(buf, EDGE_OTA_MAGIC, 8);
	put16(buf + 8, EDGE_OTA_FORMAT);
	put16(buf + 10, EDGE_OTA_HEADER_SIZE);
	put32(buf + 12, (uint32_t)ml);
	put32(buf + 16, (uint32_t)s);
	put64(buf + 20, 5);
	put32(buf + 28, edge_ota_crc32c(0, buf, 28));
	memcpy(buf + 32, m, ml);
	at = 32 + ml;
	buf[at] = (uint8_t)n_sigs;
	buf[at + 1] = buf[at + 2] = buf[at + 3] = 0;
	at += 4;
	for (i = 0; i < n_sigs; i++) {
		buf[at] = EDGE_OTA_SIG_ED25519;
		buf[at + 1] = 0;
		put16(buf + at + 2, 64);
		memset(buf + at + 4, (int)i, 32);
		memset(buf + at + 36, (int)(0x50 + i), 64);
		at += 100;
	}
	memcpy(buf + at, "model", 5);
	return at + 5;
}

/* Recompute the header CRC after a test edited bytes 0..27. */
static void reseal(uint8_t *buf)
{
	put32(buf + 28, edge_ota_crc32c(0, buf, 28));
}

static uint8_t pkg[8192];

static void expect_container(const uint8_t *buf, size_t len, const char *reason,
			     const char *field)
{
	struct edge_ota_container c;
	struct edge_msg_error err;

	memset(&err, 0xa5, sizeof err);
	ck_assert_int_eq(edge_ota_container_parse(buf, len, &c, &err), -EPROTO);
	ck_assert_str_eq(edge_msg_reject_name(err.reason), reason);
	ck_assert_str_eq(err.field, field);
}

START_TEST(crc32c_check_value)
{
	ck_assert_uint_eq(edge_ota_crc32c(0, "123456789", 9), 0xE3069283u);
	/* Chained in two parts: the same value. */
	ck_assert_uint_eq(edge_ota_crc32c(edge_ota_crc32c(0, "1234", 4), "56789", 5),
			  0xE3069283u);
	ck_assert_uint_eq(edge_ota_crc32c(0, "", 0), 0);
}
END_TEST

START_TEST(selftest_input_example)
{
	/* package.md's worked example: seed 1. */
	static const uint8_t want[8] = { 0x21, 0x01, 0xc5, 0x4f, 0xd1, 0xd0, 0x1a, 0xb2 };
	uint8_t out[1000], again[1000];

	edge_ota_selftest_input(1, out, 8);
	ck_assert_mem_eq(out, want, 8);
	edge_ota_selftest_input(0xdeadbeef, out, sizeof out);
	edge_ota_selftest_input(0xdeadbeef, again, sizeof again);
	ck_assert_mem_eq(out, again, sizeof out);
	/* A prefix of a longer run is the shorter run. */
	edge_ota_selftest_input(0xdeadbeef, again, 10);
	ck_assert_mem_eq(out, again, 10);
}
END_TEST

START_TEST(container_round_trip)
{
	struct edge_ota_container c;
	struct edge_msg_error err;
	size_t len = build(pkg, manifest_text, 2);

	ck_assert_int_eq(edge_ota_container_parse(pkg, len, &c, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	ck_assert_uint_eq(c.manifest_len, strlen(manifest_text));
	ck_assert_mem_eq(c.manifest, manifest_text, c.manifest_len);
	ck_assert_uint_eq(c.sig_block_len, 4 + 2 * 100);
	ck_assert_uint_eq(c.n_sigs, 2);
	ck_assert_uint_eq(c.sigs[1].alg, EDGE_OTA_SIG_ED25519);
	ck_assert_uint_eq(c.sigs[1].key_id[31], 1);
	ck_assert_uint_eq(c.sigs[1].sig_len, 64);
	ck_assert_uint_eq(c.sigs[1].sig[63], 0x51);
	ck_assert_ptr_nonnull(c.model);
	ck_assert_uint_eq(c.model_len, 5);
	ck_assert_mem_eq(c.model, "model", 5);
}
END_TEST

START_TEST(container_head_only)
{
	struct edge_ota_container c;
	size_t len = build(pkg, manifest_text, 1);

	ck_assert_int_eq(edge_ota_container_parse(pkg, len - 5, &c, NULL), 0);
	ck_assert_ptr_null(c.model);
	ck_assert_uint_eq(c.model_len, 5);
	ck_assert_uint_eq(c.n_sigs, 1);
	/* Part of the model is neither a head nor a package. */
	expect_container(pkg, len - 1, "truncated", "model");
}
END_TEST

START_TEST(container_ecdsa_entry)
{
	struct edge_ota_container c;
	size_t ml = strlen(manifest_text), at = 32 + ml;

	build(pkg, manifest_text, 0);
	put32(pkg + 16, 4 + 36 + 71);
	reseal(pkg);
	pkg[at] = 1;
	memset(pkg + at + 1, 0, 3);
	pkg[at + 4] = EDGE_OTA_SIG_ECDSA_P256;
	pkg[at + 5] = 0;
	put16(pkg + at + 6, 71);
	memset(pkg + at + 8, 0xaa, 32 + 71);
	memcpy(pkg + at + 4 + 36 + 71, "model", 5);
	ck_assert_int_eq(edge_ota_container_parse(pkg, at + 4 + 36 + 71 + 5, &c, NULL), 0);
	ck_assert_uint_eq(c.sigs[0].alg, EDGE_OTA_SIG_ECDSA_P256);
	ck_assert_uint_eq(c.sigs[0].sig_len, 71);
}
END_TEST

START_TEST(container_rejects)
{
	size_t len = build(pkg, manifest_text, 1), ml = strlen(manifest_text);
	size_t sb = 32 + ml; /* signature block offset */
	static uint8_t copy[sizeof pkg];

#define EDIT(stmt, reason, field)                                      \
	do {                                                           \
		memcpy(copy, pkg, len);                                \
		{ uint8_t *b = copy; stmt; (void)b; }                  \
		expect_container(copy, len, reason, field);            \
	} while (0)

	expect_container(pkg, 0, "truncated", "header");
	expect_container(pkg, 31, "truncated", "header");
	expect_container((const uint8_t *)"EDGEPKG2", 8, "bad_magic", "magic");
	expect_container((const uint8_t *)"EDGX", 4, "bad_magic", "magic");
	EDIT(b[0] = 'e', "bad_magic", "magic");
	EDIT((put16(b + 8, 2), reseal(b)), "unsupported_version", "version");
	EDIT((put16(b + 10, 40), reseal(b)), "bad_header", "header_size");
	EDIT(b[13] ^= 1, "bad_header", "crc");
	EDIT(b[29] ^= 1, "bad_header", "crc");
	EDIT(b[21] ^= 1, "bad_header", "crc"); /* the model size is covered too */
	EDIT((put32(b + 12, 0), reseal(b)), "bad_header", "manifest_size");
	EDIT((put32(b + 12, EDGE_OTA_MANIFEST_MAX + 1), reseal(b)), "too_large",
	     "manifest_size");
	EDIT((put32(b + 16, 3), reseal(b)), "bad_header", "sig_block_size");
	EDIT((put32(b + 16, EDGE_OTA_SIG_BLOCK_MAX + 1), reseal(b)), "too_large",
	     "sig_block_size");
	EDIT((put64(b + 20, 0), reseal(b)), "bad_header", "model_size");
	EDIT((put64(b + 20, (uint64_t)EDGE_OTA_MODEL_MAX + 1), reseal(b)), "too_large",
	     "model_size");
	EDIT((put64(b + 20, UINT64_MAX), reseal(b)), "too_large", "model_size");
	expect_container(pkg, 32 + ml - 1, "truncated", "manifest");
	expect_container(pkg, sb + 3, "truncated", "sig_block");
	expect_container(pkg, sb + 103, "truncated", "sig_block");
	EDIT(b[sb] = 0, "bad_signature_block", "sig_count");
	EDIT(b[sb] = EDGE_OTA_SIGS_MAX + 1, "bad_signature_block", "sig_count");
	EDIT(b[sb] = 2, "bad_signature_block", "sigs[1]");
	EDIT(b[sb + 2] = 1, "bad_signature_block", "sig_block");
	EDIT(b[sb + 4] = 3, "bad_signature_block", "sigs[0].alg");
	EDIT(b[sb + 5] = 1, "bad_signature_block", "sigs[0].reserved");
	EDIT(put16(b + sb + 6, 63), "bad_signature_block", "sigs[0].length");
	EDIT(put16(b + sb + 6, 0), "bad_signature_block", "sigs[0].length");
	EDIT((b[sb + 4] = EDGE_OTA_SIG_ECDSA_P256, put16(b + sb + 6, EDGE_OTA_SIG_MAX + 1)),
	     "bad_signature_block", "sigs[0].length");
	/* An entry longer than the block; a block longer than its entries. */
	EDIT((b[sb + 4] = EDGE_OTA_SIG_ECDSA_P256, put16(b + sb + 6, 65)),
	     "bad_signature_block", "sigs[0].signature");
	EDIT((b[sb + 4] = EDGE_OTA_SIG_ECDSA_P256, put16(b + sb + 6, 63)),
	     "bad_signature_block", "sig_block");
#undef EDIT
	pkg[len] = 0;
	expect_container(pkg, len + 1, "trailing_bytes", "");
}
END_TEST

/* Every prefix of a package is refused, except the head alone. */
START_TEST(container_every_truncation)
{
	size_t len = build(pkg, manifest_text, 2), cut;
	struct edge_ota_container c;

	for (cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		int rc;

		memcpy(copy, pkg, cut);
		rc = edge_ota_container_parse(copy, cut, &c, NULL);
		free(copy);
		ck_assert_int_eq(rc, cut == len - 5 ? 0 : -EPROTO);
	}
}
END_TEST

static void expect_manifest(const char *text, const char *reason, const char *field)
{
	struct edge_ota_manifest m;
	struct edge_msg_error err;

	memset(&err, 0xa5, sizeof err);
	ck_assert_msg(edge_ota_manifest_parse(text, strlen(text), &m, &err) == -EPROTO,
		      "accepted: %s", text);
	ck_assert_msg(strcmp(edge_msg_reject_name(err.reason), reason) == 0,
		      "%s: expected %s, got %s (%s)", text, reason,
		      edge_msg_reject_name(err.reason), err.field);
	ck_assert_str_eq(err.field, field);
}

/* manifest_text with the first occurrence of from replaced by to. */
static const char *edited(const char *from, const char *to)
{
	static char out[EDGE_OTA_MANIFEST_MAX + 64];
	const char *at = strstr(manifest_text, from);
	size_t pre;

	ck_assert_ptr_nonnull(at);
	pre = (size_t)(at - manifest_text);
	snprintf(out, sizeof out, "%.*s%s%s", (int)pre, manifest_text, to,
		 at + strlen(from));
	return out;
}

START_TEST(manifest_parse_fields)
{
	struct edge_ota_manifest m;

	ck_assert_int_eq(edge_ota_manifest_parse(manifest_text, strlen(manifest_text), &m,
						 NULL), 0);
	ck_assert_str_eq(m.name, "kws");
	ck_assert_str_eq(m.version, "1.2.0+b3");
	ck_assert_uint_eq(m.counter, 7);
	ck_assert_uint_eq(m.size, 5);
	ck_assert_str_eq(m.sha256, HASH_A);
	ck_assert_str_eq(m.runtime, "tflm");
	ck_assert_uint_eq(m.n_ops, 2);
	ck_assert_str_eq(m.ops[1], "SOFTMAX");
	ck_assert_uint_eq(m.arena_bytes, 20480);
	ck_assert_uint_eq(m.n_inputs, 1);
	ck_assert_str_eq(m.inputs[0].type, "int8");
	ck_assert_uint_eq(m.inputs[0].rank, 3);
	ck_assert_int_eq(m.inputs[0].shape[1], 49);
	ck_assert(m.inputs[0].scale == 0.1);
	ck_assert_int_eq(m.inputs[0].zero_point, -128);
	ck_assert_uint_eq(m.n_outputs, 1);
	ck_assert(m.outputs[0].scale == 0.00390625);
	ck_assert_uint_eq(m.expires_ms, 0);
	ck_assert_uint_eq(m.selftest_seed, 1);
	ck_assert_str_eq(m.selftest_output_sha256, HASH_B);
}
END_TEST

START_TEST(manifest_round_trip)
{
	struct edge_ota_manifest a, b;
	char enc1[EDGE_OTA_MANIFEST_MAX], enc2[EDGE_OTA_MANIFEST_MAX];
	static const double scales[] = { 0.1, 1.0 / 3, 5e-324, 1.7976931348623157e308, 0,
					 123456789.125, 3.0517578125e-05 };
	int n1, n2;

	ck_assert_int_eq(edge_ota_manifest_parse(manifest_text, strlen(manifest_text), &a,
						 NULL), 0);
	/* The example is already canonical. */
	n1 = edge_ota_manifest_encode(enc1, sizeof enc1, &a);
	ck_assert_int_eq(n1, (int)strlen(manifest_text));
	ck_assert_str_eq(enc1, manifest_text);

	for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
		a.inputs[0].scale = scales[i];
		a.expires_ms = 1790000000000ull + i;
		a.counter = 9007199254740991ull;
		n1 = edge_ota_manifest_encode(enc1, sizeof enc1, &a);
		ck_assert_int_gt(n1, 0);
		ck_assert_int_eq(edge_ota_manifest_parse(enc1, (size_t)n1, &b, NULL), 0);
		ck_assert(memcmp(&a, &b, sizeof a) == 0);
		n2 = edge_ota_manifest_encode(enc2, sizeof enc2, &b);
		ck_assert_int_eq(n1, n2);
		ck_assert_str_eq(enc1, enc2);
	}
	ck_assert_int_eq(edge_ota_manifest_encode(enc1, (size_t)n1, &a), -ENOSPC);
	ck_assert_int_eq(edge_ota_manifest_encode(enc1, (size_t)n1 + 1, &a), n1);
}
END_TEST

/* The largest manifest the limits allow fits the token and size limits. */
START_TEST(manifest_full_limits)
{
	static struct edge_ota_manifest a, b;
	static char enc[EDGE_OTA_MANIFEST_MAX + 1];
	int n;

	ck_assert_int_eq(edge_ota_manifest_parse(manifest_text, strlen(manifest_text), &a,
						 NULL), 0);
	a.n_ops = EDGE_OTA_OPS_MAX;
	memset(a.ops, 0, sizeof a.ops); /* parse leaves the bytes after the NUL 0 */
	for (unsigned i = 0; i < EDGE_OTA_OPS_MAX; i++)
		snprintf(a.ops[i], sizeof a.ops[i], "OP_%u", i);
	a.n_inputs = a.n_outputs = EDGE_OTA_TENSORS_MAX;
	for (unsigned i = 0; i < EDGE_OTA_TENSORS_MAX; i++) {
		a.inputs[i] = a.inputs[0];
		a.inputs[i].rank = EDGE_OTA_RANK_MAX;
		for (unsigned d = 0; d < EDGE_OTA_RANK_MAX; d++)
			a.inputs[i].shape[d] = INT32_MAX;
		a.outputs[i] = a.inputs[i];
	}
	n = edge_ota_manifest_encode(enc, sizeof enc, &a);
	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, EDGE_OTA_MANIFEST_MAX);
	ck_assert_int_eq(edge_ota_manifest_parse(enc, (size_t)n, &b, NULL), 0);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
}
END_TEST

START_TEST(manifest_optional_and_unknown)
{
	struct edge_ota_manifest m;
	const char *t;

	t = edited("\"expires_ms\":0,", "\"future\":{\"x\":[1,2]},");
	ck_assert_int_eq(edge_ota_manifest_parse(t, strlen(t), &m, NULL), 0);
	ck_assert_uint_eq(m.expires_ms, 0);
	t = edited("\"ops\":[\"CONV_2D\",\"SOFTMAX\"]", "\"ops\":[]");
	ck_assert_int_eq(edge_ota_manifest_parse(t, strlen(t), &m, NULL), 0);
	ck_assert_uint_eq(m.n_ops, 0);
}
END_TEST

START_TEST(manifest_rejects)
{
	expect_manifest("", "empty", "");
	expect_manifest("{\"format\":1,", "bad_json", "");
	expect_manifest("[]", "not_object", "");
	expect_manifest("{\"name\":\"x\"}", "missing_field", "format");
	expect_manifest(edited("\"format\":1", "\"format\":2"), "unsupported_version", "format");
	expect_manifest(edited("\"format\":1", "\"format\":1.0"), "not_integer", "format");
	expect_manifest(edited("\"format\":1", "\"format\":\"1\""), "wrong_type", "format");
	expect_manifest(edited("\"name\":\"kws\"", "\"name\":\"kws\",\"name\":\"x\""),
			"duplicate_key", "");
	expect_manifest(edited("\"name\":\"kws\"", "\"name\":\"k w\""), "bad_string", "name");
	expect_manifest(edited("\"name\":\"kws\"", "\"name\":\"\""), "bad_string", "name");
	expect_manifest(edited("\"name\":\"kws\"",
			       "\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\""),
			"string_too_long", "name");
	expect_manifest(edited("\"name\":\"kws\",", ""), "missing_field", "name");
	expect_manifest(edited("1.2.0+b3", "1.2 0"), "bad_string", "version");
	expect_manifest(edited("\"counter\":7", "\"counter\":0"), "out_of_range", "counter");
	expect_manifest(edited("\"counter\":7", "\"counter\":9007199254740992"), "out_of_range",
			"counter");
	expect_manifest(edited("\"size\":5", "\"size\":67108865"), "out_of_range", "size");
	expect_manifest(edited("\"size\":5", "\"size\":-5"), "out_of_range", "size");
	expect_manifest(edited("0123456789abcdef", "0123456789ABCDEF"), "bad_hash", "sha256");
	expect_manifest(edited("\"tflm\"", "\"tf lm\""), "bad_string", "runtime");
	expect_manifest(edited("\"SOFTMAX\"", "\"softmax\""), "bad_string", "ops[1]");
	expect_manifest(edited("\"ops\":[", "\"ops\":{"), "bad_json", "");
	expect_manifest(edited("\"ops\":[\"CONV_2D\",\"SOFTMAX\"]", "\"ops\":\"CONV_2D\""),
			"wrong_type", "ops");
	expect_manifest(edited("\"arena_bytes\":20480", "\"arena_bytes\":4294967296"),
			"out_of_range", "arena_bytes");
	expect_manifest(edited("\"arena_bytes\":20480", "\"arena_bytes\":0"), "out_of_range",
			"arena_bytes");
	expect_manifest(edited("\"inputs\":[{\"type\":\"int8\",\"shape\":[1,49,10],"
			       "\"scale\":0.1,\"zero_point\":-128}]", "\"inputs\":[]"),
			"missing_field", "inputs[0]");
	expect_manifest(edited("\"inputs\":[{", "\"inputs\":[1,{"), "wrong_type", "inputs[0]");
	expect_manifest(edited("\"type\":\"int8\"", "\"type\":\"int4\""), "bad_enum",
			"inputs[0].type");
	expect_manifest(edited("[1,49,10]", "[1,0,10]"), "out_of_range", "inputs[0].shape[1]");
	expect_manifest(edited("[1,49,10]", "[1,2,3,4,5,6,7]"), "too_many_items",
			"inputs[0].shape");
	expect_manifest(edited("[1,49,10]", "[]"), "missing_field", "inputs[0].shape[0]");
	expect_manifest(edited("\"scale\":0.1", "\"scale\":-0.1"), "out_of_range",
			"inputs[0].scale");
	expect_manifest(edited("\"scale\":0.1", "\"scale\":1e999"), "out_of_range",
			"inputs[0].scale");
	expect_manifest(edited("\"scale\":0.1", "\"scale\":null"), "wrong_type",
			"inputs[0].scale");
	expect_manifest(edited("\"zero_point\":-128", "\"zero_point\":2147483648"),
			"out_of_range", "inputs[0].zero_point");
	expect_manifest(edited("\"zero_point\":-128", "\"zero_point\":0.5"), "not_integer",
			"inputs[0].zero_point");
	expect_manifest(edited("\"outputs\":[{\"type\":\"int8\",\"shape\":[1,4],"
			       "\"scale\":0.00390625,\"zero_point\":-128}],", ""),
			"missing_field", "outputs");
	expect_manifest(edited("\"expires_ms\":0", "\"expires_ms\":-1"), "out_of_range",
			"expires_ms");
	expect_manifest(edited("\"seed\":1", "\"seed\":0"), "out_of_range", "selftest.seed");
	expect_manifest(edited("\"seed\":1", "\"seed\":4294967296"), "out_of_range",
			"selftest.seed");
	expect_manifest(edited(HASH_B, "00"), "bad_hash", "selftest.output_sha256");
	expect_manifest(edited("\"selftest\":{", "\"selftest\":[{}],\"x\":{"), "wrong_type",
			"selftest");
}
END_TEST

/* "scale" as text: the parser's value (bit for bit) or out_of_range must
 * match glibc's correctly rounding strtod. */
static void check_scale(const char *text)
{
	static char doc[EDGE_OTA_MANIFEST_MAX];
	struct edge_ota_manifest m;
	struct edge_msg_error err;
	double want = strtod(text, NULL);
	int rc;

	snprintf(doc, sizeof doc, "{\"format\":1,\"name\":\"k\",\"version\":\"1\",\"counter\":1,"
		 "\"size\":1,\"sha256\":\"" HASH_A "\",\"runtime\":\"tflm\",\"ops\":[],"
		 "\"arena_bytes\":1,\"inputs\":[{\"type\":\"int8\",\"shape\":[1],"
		 "\"scale\":%s,\"zero_point\":0}],\"outputs\":[{\"type\":\"int8\","
		 "\"shape\":[1],\"scale\":1,\"zero_point\":0}],"
		 "\"selftest\":{\"seed\":1,\"output_sha256\":\"" HASH_B "\"}}", text);
	rc = edge_ota_manifest_parse(doc, strlen(doc), &m, &err);
	if (want < 0 || want > 1.7976931348623157e308) {
		ck_assert_msg(rc == -EPROTO && err.reason == EDGE_MSG_OUT_OF_RANGE,
			      "%s accepted", text);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", text, edge_msg_reject_name(err.reason));
	ck_assert_msg(memcmp(&m.inputs[0].scale, &want, sizeof want) == 0,
		      "%s: got %.17g, want %.17g", text, m.inputs[0].scale, want);
}

START_TEST(scale_reads_like_strtod)
{
	static const char *const hard[] = {
		"0", "-0", "0.0", "1", "0.1", "0.5", "9007199254740993", "9007199254740995",
		"2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
		"4.9406564584124654e-324", "5e-324", "2.4703282292062327e-324",
		"2.4703282292062328e-324", "1e-400", "0.000001e-330", "1.7976931348623157e308",
		"1.7976931348623158e308", "1.7976931348623159e308", "1e309", "1e308",
		"179769313486231570000000000000000000000e270", "1234567890123456789",
		"1234567890123456789e-3", "0.00390625", "3.0517578125e-05",
		"1E+2", "1e-0", "100000000000000000000000000000", "8.98846567431158e307",
		"1.000000000000000111e0", "10000000000000000000000000.000", "7.038531e-26", "-1",
		"-1e-400",
	};
	static const char *const too_long[] = {
		"\"scale\":12345678901234567891",
		"\"scale\":1.00000000000000011102230246251565404236316680908203125",
		"\"scale\":0.00000000000000000000123456789012345678901",
	};
	unsigned long long state = 88172645463325252ull;
	char text[64];

	for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++)
		check_scale(hard[i]);
	/* More than 19 significant digits (trailing zeros aside): refused. */
	for (size_t i = 0; i < sizeof too_long / sizeof too_long[0]; i++)
		expect_manifest(edited("\"scale\":0.1", too_long[i]), "out_of_range",
				"inputs[0].scale");
	for (int i = 0; i < 20000; i++) {
		double x;
		int prec = 1 + (int)(state % 17);

		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		memcpy(&x, &state, sizeof x);
		if (x != x || x - x != 0)
			continue;
		if (x < 0)
			x = -x;
		snprintf(text, sizeof text, "%.*g", prec, x);
		check_scale(text);
		/* Random digits with a random decimal exponent. */
		snprintf(text, sizeof text, "%llue%d", state % 10000000000000000000ull,
			 (int)(state >> 40 & 0x3ff) - 700);
		check_scale(text);
	}
}
END_TEST

START_TEST(manifest_size_and_token_limits)
{
	static char big[EDGE_OTA_MANIFEST_MAX + 2];
	struct edge_ota_manifest m;
	struct edge_msg_error err;
	size_t n;

	/* Too many tokens: an unknown array of 300 numbers. */
	n = (size_t)snprintf(big, sizeof big, "{\"format\":1,\"pad\":[");
	for (int i = 0; i < 300; i++)
		big[n++] = i ? ',' : '0', big[n++] = i ? '0' : ' ';
	memcpy(big + n, "]}", 3);
	n += 2;
	ck_assert_int_eq(edge_ota_manifest_parse(big, n, &m, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_TOO_MANY_TOKENS);

	memset(big, ' ', sizeof big);
	ck_assert_int_eq(edge_ota_manifest_parse(big, EDGE_OTA_MANIFEST_MAX + 1, &m, &err),
			 -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_TOO_LARGE);
	ck_assert_int_eq(edge_ota_manifest_parse("{\"a\":[[[[1]]]]}", 15, &m, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_TOO_DEEP);
}
END_TEST

START_TEST(manifest_encode_refuses_invalid)
{
	struct edge_ota_manifest a, b;
	char enc[EDGE_OTA_MANIFEST_MAX];

	ck_assert_int_eq(edge_ota_manifest_parse(manifest_text, strlen(manifest_text), &a,
						 NULL), 0);
#define REFUSE(stmt)                                                            \
	do {                                                                    \
		b = a;                                                          \
		stmt;                                                           \
		ck_assert_int_eq(edge_ota_manifest_encode(enc, sizeof enc, &b), -EINVAL); \
	} while (0)
	REFUSE(b.name[0] = '\0');
	REFUSE(b.version[0] = ' ');
	REFUSE(b.counter = 0);
	REFUSE(b.size = EDGE_OTA_MODEL_MAX + 1ull);
	REFUSE(b.sha256[3] = 'G');
	REFUSE(strcpy(b.ops[0], "conv"));
	REFUSE(b.n_ops = EDGE_OTA_OPS_MAX + 1);
	REFUSE(b.arena_bytes = 0);
	REFUSE(b.n_inputs = 0);
	REFUSE(b.n_outputs = EDGE_OTA_TENSORS_MAX + 1);
	REFUSE(strcpy(b.inputs[0].type, "int4"));
	REFUSE(b.inputs[0].rank = 0);
	REFUSE(b.inputs[0].shape[0] = 0);
	REFUSE(b.inputs[0].scale = -1);
	REFUSE(b.outputs[0].zero_point = (int64_t)INT32_MAX + 1);
	REFUSE(b.selftest_seed = 0);
	REFUSE(b.selftest_output_sha256[64] = 'a');
	REFUSE(b.expires_ms = 9007199254740992ull);
#undef REFUSE
}
END_TEST

START_TEST(reason_names_are_stable)
{
	static const char *const names[] = { "bad_magic", "bad_header", "truncated",
					     "bad_signature_block", "trailing_bytes" };
	static const int values[] = { EDGE_MSG_BAD_MAGIC, EDGE_MSG_BAD_HEADER, EDGE_MSG_TRUNCATED,
				      EDGE_MSG_BAD_SIGNATURE_BLOCK, EDGE_MSG_TRAILING_BYTES };

	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(edge_msg_reject_name(values[i]), names[i]);
		ck_assert_int_eq(edge_msg_reject_from_name(names[i]), values[i]);
	}
}
END_TEST

TCase *test_ota_package_tcase(void)
{
	TCase *tc = tcase_create("ota_package");

	tcase_add_test(tc, crc32c_check_value);
	tcase_add_test(tc, selftest_input_example);
	tcase_add_test(tc, container_round_trip);
	tcase_add_test(tc, container_head_only);
	tcase_add_test(tc, container_ecdsa_entry);
	tcase_add_test(tc, container_rejects);
	tcase_add_test(tc, container_every_truncation);
	tcase_add_test(tc, manifest_parse_fields);
	tcase_add_test(tc, manifest_round_trip);
	tcase_add_test(tc, manifest_full_limits);
	tcase_add_test(tc, manifest_optional_and_unknown);
	tcase_add_test(tc, manifest_rejects);
	tcase_add_test(tc, scale_reads_like_strtod);
	tcase_add_test(tc, manifest_size_and_token_limits);
	tcase_add_test(tc, manifest_encode_refuses_invalid);
	tcase_add_test(tc, reason_names_are_stable);
	return tc;
}
