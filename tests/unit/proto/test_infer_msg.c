/* The inference offload codec (proto/infer/offload.md): the header layout
 * byte for byte, round trips of request, response and verify, every
 * refusal with its reason and field, the encoders' rules, in-place
 * encoding, status names, the top class helper, and the golden vectors of
 * vectors/infer/ (index.txt: gen.py writes both). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

/* lib/infer's header first: the gateway includes both, and the two share
 * the edge_infer_ prefix, so a clash of names must not compile. */
#include "edge_infer.h"
#include "edge_infer_msg.h"
#include "edge_topic.h"
#include "test_run.h"
#include "test_vector_index.h"

#define EDGE_N(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t SHA_A[32] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45,
	0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffffu);
	put16(p + 2, v >> 16);
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

/* "nnn...@111..." with name_len and ver_len characters into buf. */
static const char *long_ref(char *buf, size_t name_len, size_t ver_len)
{
	memset(buf, 'n', name_len);
	buf[name_len] = '@';
	memset(buf + name_len + 1, '1', ver_len);
	buf[name_len + 1 + ver_len] = '\0';
	return buf;
}

static struct edge_infer_ref name_model(const char *text)
{
	struct edge_infer_ref m;

	m.kind = EDGE_INFER_REF_NAME;
	m.length = (uint8_t)strlen(text);
	m.ref = (const uint8_t *)text;
	return m;
}

static struct edge_infer_ref sha_model(void)
{
	struct edge_infer_ref m;

	m.kind = EDGE_INFER_REF_SHA256;
	m.length = 32;
	m.ref = SHA_A;
	return m;
}

/* A request of kws@1.0.3 with input "abcd", deadline 250 ms. */
static int good_req(uint8_t *buf, size_t cap)
{
	static const uint8_t input[4] = { 'a', 'b', 'c', 'd' };
	struct edge_infer_req r;

	memset(&r, 0, sizeof r);
	r.deadline_ms = 250;
	r.model = name_model("kws@1.0.3");
	r.input_length = sizeof input;
	r.input = input;
	return edge_infer_req_encode(buf, cap, &r);
}

/* A verify of kws@1.0.3, input "input", output "out", seq 41. */
static int good_verify(uint8_t *buf, size_t cap)
{
	struct edge_infer_verify v;

	memset(&v, 0, sizeof v);
	v.seq = 41;
	v.model = name_model("kws@1.0.3");
	v.input_length = 5;
	v.input = (const uint8_t *)"input";
	v.output_length = 3;
	v.output = (const uint8_t *)"out";
	return edge_infer_verify_encode(buf, cap, &v);
}

/* An ok response of a 5-value classifier, top class 2. */
static int good_resp(uint8_t *buf, size_t cap)
{
	static const uint8_t out[5] = { 0x80, 0x05, 0x7f, 0x7f, 0x10 };
	struct edge_infer_resp r;

	memset(&r, 0, sizeof r);
	r.status = EDGE_INFER_S_OK;
	r.top_class = 2;
	r.queued_us = 1500;
	r.run_us = 8200;
	r.output_length = sizeof out;
	r.output = out;
	return edge_infer_resp_encode(buf, cap, &r);
}

enum kind { REQ, RESP, VERIFY };

/* Parse buf[0..len) as kind: it must be refused with reason and field,
 * and the output struct must be zeroed. */
static void expect_reject(enum kind k, const uint8_t *buf, size_t len, const char *reason,
			  const char *field)
{
	struct edge_infer_req rq;
	struct edge_infer_resp rs;
	struct edge_infer_verify v;
	struct edge_msg_error err;
	int rc;

	memset(&err, 0xa5, sizeof err);
	memset(&rq, 0xa5, sizeof rq);
	memset(&rs, 0xa5, sizeof rs);
	memset(&v, 0xa5, sizeof v);
	if (k == REQ) {
		rc = edge_infer_req_parse(buf, len, &rq, &err);
		ck_assert_ptr_null(rq.input);
		ck_assert_ptr_null(rq.model.ref);
		ck_assert_uint_eq(rq.deadline_ms, 0);
	} else if (k == RESP) {
		rc = edge_infer_resp_parse(buf, len, &rs, &err);
		ck_assert_ptr_null(rs.output);
		ck_assert_uint_eq(rs.output_length, 0);
	} else {
		rc = edge_infer_verify_parse(buf, len, &v, &err);
		ck_assert_ptr_null(v.input);
		ck_assert_ptr_null(v.output);
	}
	ck_assert_int_eq(rc, -EPROTO);
	ck_assert_msg(strcmp(edge_msg_reject_name(err.reason), reason) == 0 &&
			      strcmp(err.field, field) == 0,
		      "got %s/%s, want %s/%s", edge_msg_reject_name(err.reason), err.field,
		      reason, field);
}

/* ------------------------------------------------------------------ status */

START_TEST(status_names)
{
	static const char *const want[] = { "ok", "unknown_model", "not_offloadable",
					    "bad_input", "busy", "deadline_exceeded",
					    "internal", "malformed" };
	int i;

	ck_assert_int_eq(EDGE_INFER_S_COUNT, 8);
	for (i = 0; i < EDGE_INFER_S_COUNT; i++) {
		const char *n = edge_infer_status_name((enum edge_infer_offload_status)i);

		ck_assert_str_eq(n, want[i]);
		ck_assert_int_eq(edge_infer_status_from_name(n, strlen(n)), i);
	}
	ck_assert_str_eq(edge_infer_status_name(EDGE_INFER_S_COUNT), "unknown");
	ck_assert_str_eq(edge_infer_status_name((enum edge_infer_offload_status)-1), "unknown");
	/* Lengths count: a prefix or an extension of a name is not it. */
	ck_assert_int_eq(edge_infer_status_from_name("busy", 3), -1);
	ck_assert_int_eq(edge_infer_status_from_name("busyx", 5), -1);
	ck_assert_int_eq(edge_infer_status_from_name("busyx", 4), EDGE_INFER_S_BUSY);
	ck_assert_int_eq(edge_infer_status_from_name("", 0), -1);
	ck_assert_int_eq(edge_infer_status_from_name(NULL, 0), -1);
	ck_assert_int_eq(edge_infer_status_from_name("unknown", 7), -1);
}
END_TEST

/* ------------------------------------------------------------------ layout */

START_TEST(request_layout)
{
	uint8_t buf[64];
	int n = good_req(buf, sizeof buf);

	/* The header byte for byte, as offload.md's table. */
	ck_assert_int_eq(n, EDGE_INFER_REQ_HDR + 9 + 4);
	ck_assert_mem_eq(buf, "EINF", 4);
	ck_assert_uint_eq(get32(buf), EDGE_INFER_MAGIC);
	ck_assert_uint_eq(buf[4], 1);
	ck_assert_uint_eq(buf[5], EDGE_INFER_T_REQUEST);
	ck_assert_uint_eq(get16(buf + 6), 0);
	ck_assert_uint_eq(get32(buf + 8), 250);
	ck_assert_uint_eq(get32(buf + 12), 4);
	ck_assert_uint_eq(buf[16], EDGE_INFER_REF_NAME);
	ck_assert_uint_eq(buf[17], 9);
	ck_assert_uint_eq(get16(buf + 18), 0);
	ck_assert_mem_eq(buf + 20, "kws@1.0.3", 9);
	ck_assert_mem_eq(buf + 29, "abcd", 4);
}
END_TEST

START_TEST(response_layout)
{
	uint8_t buf[64];
	int n = good_resp(buf, sizeof buf);

	ck_assert_int_eq(n, EDGE_INFER_RESP_HDR + 5);
	ck_assert_mem_eq(buf, "EINF", 4);
	ck_assert_uint_eq(buf[4], 1);
	ck_assert_uint_eq(buf[5], EDGE_INFER_T_RESPONSE);
	ck_assert_uint_eq(get16(buf + 6), 0);
	ck_assert_uint_eq(buf[8], EDGE_INFER_S_OK);
	ck_assert_uint_eq(buf[9], 0);
	ck_assert_uint_eq(get16(buf + 10), 2);
	ck_assert_uint_eq(get32(buf + 12), 1500);
	ck_assert_uint_eq(get32(buf + 16), 8200);
	ck_assert_uint_eq(get32(buf + 20), 0);
	ck_assert_uint_eq(get32(buf + 24), 5);
	ck_assert_uint_eq(buf[28], 0x80);
	ck_assert_uint_eq(buf[32], 0x10);
}
END_TEST

START_TEST(verify_layout)
{
	uint8_t buf[64];
	int n = good_verify(buf, sizeof buf);

	ck_assert_int_eq(n, EDGE_INFER_VERIFY_HDR + 9 + 5 + 3);
	ck_assert_mem_eq(buf, "EINF", 4);
	ck_assert_uint_eq(buf[4], 1);
	ck_assert_uint_eq(buf[5], EDGE_INFER_T_VERIFY);
	ck_assert_uint_eq(get16(buf + 6), 0);
	ck_assert_uint_eq(get32(buf + 8), 41);
	ck_assert_uint_eq(get32(buf + 12), 5);
	ck_assert_uint_eq(buf[16], EDGE_INFER_REF_NAME);
	ck_assert_uint_eq(buf[17], 9);
	ck_assert_uint_eq(get16(buf + 18), 0);
	ck_assert_uint_eq(get32(buf + 20), 3);
	ck_assert_mem_eq(buf + 24, "kws@1.0.3", 9);
	ck_assert_mem_eq(buf + 33, "input", 5);
	ck_assert_mem_eq(buf + 38, "out", 3);
	ck_assert_uint_eq(EDGE_INFER_REQ_LEN(9, 4), 33);
	ck_assert_uint_eq(EDGE_INFER_RESP_LEN(5), 33);
	ck_assert_uint_eq(EDGE_INFER_VERIFY_LEN(9, 5, 3), 41);
	ck_assert_uint_eq(EDGE_INFER_REQ_LEN(255, 0xFFFFFFFFu), 20ull + 255 + 0xFFFFFFFFull);
}
END_TEST

/* ------------------------------------------------------------- round trips */

START_TEST(request_round_trips)
{
	static uint8_t input[96 * 96 * 3], buf[EDGE_INFER_REQ_HDR + 63 + sizeof input],
		again[sizeof buf];
	char longest[EDGE_INFER_REF_MAX + 1];
	const char *const names[] = { "a@1", "vww_96@1.0.0", "Ab9._-@Zz0._+-",
				      long_ref(longest, 31, 31) };
	struct edge_infer_req r, p;
	struct edge_msg_error err;
	size_t i;
	int n;

	for (i = 0; i < sizeof input; i++)
		input[i] = (uint8_t)(i * 13 + 7);
	for (i = 0; i <= EDGE_N(names); i++) {
		memset(&r, 0, sizeof r);
		r.deadline_ms = i == 0 ? EDGE_INFER_DEADLINE_MIN : EDGE_INFER_DEADLINE_MAX;
		r.model = i < EDGE_N(names) ? name_model(names[i]) : sha_model();
		r.input_length = i == 1 ? (uint32_t)sizeof input : (uint32_t)(i + 1);
		r.input = input;
		n = edge_infer_req_encode(buf, sizeof buf, &r);
		ck_assert_int_eq(n, (int)EDGE_INFER_REQ_LEN(r.model.length, r.input_length));
		memset(&err, 0xa5, sizeof err);
		ck_assert_int_eq(edge_infer_req_parse(buf, (size_t)n, &p, &err), 0);
		ck_assert_int_eq(err.reason, EDGE_MSG_OK);
		ck_assert_str_eq(err.field, "");
		ck_assert_uint_eq(p.flags, 0);
		ck_assert_uint_eq(p.deadline_ms, r.deadline_ms);
		ck_assert_uint_eq(p.model.kind, r.model.kind);
		ck_assert_uint_eq(p.model.length, r.model.length);
		ck_assert_ptr_eq(p.model.ref, buf + EDGE_INFER_REQ_HDR);
		ck_assert_mem_eq(p.model.ref, r.model.ref, r.model.length);
		ck_assert_uint_eq(p.input_length, r.input_length);
		ck_assert_ptr_eq(p.input, buf + EDGE_INFER_REQ_HDR + r.model.length);
		ck_assert_mem_eq(p.input, input, r.input_length);
		/* The parsed struct encodes to the same bytes. */
		ck_assert_int_eq(edge_infer_req_encode(again, sizeof again, &p), n);
		ck_assert_mem_eq(again, buf, (size_t)n);
	}
}
END_TEST

START_TEST(response_round_trips)
{
	static const uint8_t out[4] = { 1, 2, 3, 4 };
	uint8_t buf[64], again[64];
	struct edge_infer_resp r, p;
	struct edge_msg_error err;
	int s, n;

	for (s = 0; s < EDGE_INFER_S_COUNT; s++) {
		memset(&r, 0, sizeof r);
		r.status = (uint8_t)s;
		r.top_class = s == EDGE_INFER_S_OK ? 3 : EDGE_INFER_TOP_NONE;
		r.queued_us = 0xFFFFFFFFu;
		r.run_us = (uint32_t)s * 1000u;
		r.expected_input_bytes = s == EDGE_INFER_S_BAD_INPUT ? 27648u : 0u;
		r.output_length = s == EDGE_INFER_S_OK ? 4u : 0u;
		r.output = s == EDGE_INFER_S_OK ? out : NULL;
		n = edge_infer_resp_encode(buf, sizeof buf, &r);
		ck_assert_int_eq(n, EDGE_INFER_RESP_HDR + (int)r.output_length);
		ck_assert_int_eq(edge_infer_resp_parse(buf, (size_t)n, &p, &err), 0);
		ck_assert_int_eq(err.reason, EDGE_MSG_OK);
		ck_assert_uint_eq(p.status, r.status);
		ck_assert_uint_eq(p.top_class, r.top_class);
		ck_assert_uint_eq(p.queued_us, r.queued_us);
		ck_assert_uint_eq(p.run_us, r.run_us);
		ck_assert_uint_eq(p.expected_input_bytes, r.expected_input_bytes);
		ck_assert_uint_eq(p.output_length, r.output_length);
		if (s == EDGE_INFER_S_OK) {
			ck_assert_ptr_eq(p.output, buf + EDGE_INFER_RESP_HDR);
			ck_assert_mem_eq(p.output, out, 4);
		} else {
			ck_assert_ptr_null(p.output);
		}
		ck_assert_int_eq(edge_infer_resp_encode(again, sizeof again, &p), n);
		ck_assert_mem_eq(again, buf, (size_t)n);
	}
	/* An ok response of a model that is not a classifier. */
	memset(&r, 0, sizeof r);
	r.top_class = EDGE_INFER_TOP_NONE;
	r.output_length = 1;
	r.output = out;
	n = edge_infer_resp_encode(buf, sizeof buf, &r);
	ck_assert_int_eq(n, EDGE_INFER_RESP_HDR + 1);
	ck_assert_int_eq(edge_infer_resp_parse(buf, (size_t)n, &p, &err), 0);
	ck_assert_uint_eq(p.top_class, EDGE_INFER_TOP_NONE);
}
END_TEST

START_TEST(verify_round_trips)
{
	static uint8_t input[1960], output[12], buf[EDGE_INFER_VERIFY_HDR + 32 + 1960 + 12],
		again[sizeof buf];
	struct edge_infer_verify v, p;
	struct edge_msg_error err;
	size_t i;
	int n;

	for (i = 0; i < sizeof input; i++)
		input[i] = (uint8_t)(i * 31 + 7);
	for (i = 0; i < sizeof output; i++)
		output[i] = (uint8_t)(0x80 + i);
	memset(&v, 0, sizeof v);
	v.seq = 0xFFFFFFFFu;
	v.model = sha_model();
	v.input_length = sizeof input;
	v.input = input;
	v.output_length = sizeof output;
	v.output = output;
	n = edge_infer_verify_encode(buf, sizeof buf, &v);
	ck_assert_int_eq(n, (int)sizeof buf);
	ck_assert_int_eq(edge_infer_verify_parse(buf, (size_t)n, &p, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	ck_assert_uint_eq(p.seq, 0xFFFFFFFFu);
	ck_assert_uint_eq(p.model.kind, EDGE_INFER_REF_SHA256);
	ck_assert_mem_eq(p.model.ref, SHA_A, 32);
	ck_assert_uint_eq(p.input_length, sizeof input);
	ck_assert_ptr_eq(p.input, buf + EDGE_INFER_VERIFY_HDR + 32);
	ck_assert_mem_eq(p.input, input, sizeof input);
	ck_assert_uint_eq(p.output_length, sizeof output);
	ck_assert_ptr_eq(p.output, p.input + sizeof input);
	ck_assert_mem_eq(p.output, output, sizeof output);
	ck_assert_int_eq(edge_infer_verify_encode(again, sizeof again, &p), n);
	ck_assert_mem_eq(again, buf, (size_t)n);
	/* seq 0 is a valid counter value. */
	v.seq = 0;
	v.model = name_model("kws@1.0.3");
	n = edge_infer_verify_encode(buf, sizeof buf, &v);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_infer_verify_parse(buf, (size_t)n, &p, &err), 0);
	ck_assert_uint_eq(p.seq, 0);
}
END_TEST

/* Unknown flag bits are kept, not refused, in all three. */
START_TEST(unknown_flags_ignored)
{
	uint8_t buf[64];
	struct edge_infer_req rq;
	struct edge_infer_resp rs;
	struct edge_infer_verify v;
	struct edge_msg_error err;
	int n;

	n = good_req(buf, sizeof buf);
	put16(buf + 6, 0x8001);
	ck_assert_int_eq(edge_infer_req_parse(buf, (size_t)n, &rq, &err), 0);
	ck_assert_uint_eq(rq.flags, 0x8001);
	/* The encoder writes only the flags it knows: none. */
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &rq), n);
	ck_assert_uint_eq(get16(buf + 6), 0);

	n = good_resp(buf, sizeof buf);
	put16(buf + 6, 0xffff);
	ck_assert_int_eq(edge_infer_resp_parse(buf, (size_t)n, &rs, &err), 0);
	ck_assert_uint_eq(rs.flags, 0xffff);

	n = good_verify(buf, sizeof buf);
	put16(buf + 6, 2);
	ck_assert_int_eq(edge_infer_verify_parse(buf, (size_t)n, &v, &err), 0);
	ck_assert_uint_eq(v.flags, 2);
}
END_TEST

/* A node builds its input in place after the header and the ref; a
 * gateway its output after the response header. */
START_TEST(encode_in_place)
{
	static const char ref[] = "vww_96@1.0.0";
	uint8_t buf[256];
	struct edge_infer_req r, p;
	struct edge_infer_resp rs, ps;
	struct edge_infer_verify v, pv;
	struct edge_msg_error err;
	size_t at = EDGE_INFER_REQ_HDR + sizeof ref - 1, i;
	int n;

	memset(buf, 0xee, sizeof buf);
	for (i = 0; i < 100; i++)
		buf[at + i] = (uint8_t)i;
	memset(&r, 0, sizeof r);
	r.deadline_ms = 1000;
	r.model = name_model(ref);
	r.input_length = 100;
	r.input = buf + at;
	n = edge_infer_req_encode(buf, sizeof buf, &r);
	ck_assert_int_eq(n, (int)(at + 100));
	ck_assert_int_eq(edge_infer_req_parse(buf, (size_t)n, &p, &err), 0);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(p.input[i], i);

	for (i = 0; i < 10; i++)
		buf[EDGE_INFER_RESP_HDR + i] = (uint8_t)(i == 6 ? 200 : i);
	memset(&rs, 0, sizeof rs);
	rs.output_length = 10;
	rs.output = buf + EDGE_INFER_RESP_HDR;
	rs.top_class = edge_infer_top_class(rs.output, 10, false);
	ck_assert_uint_eq(rs.top_class, 6);
	n = edge_infer_resp_encode(buf, sizeof buf, &rs);
	ck_assert_int_eq(n, EDGE_INFER_RESP_HDR + 10);
	ck_assert_int_eq(edge_infer_resp_parse(buf, (size_t)n, &ps, &err), 0);
	ck_assert_uint_eq(ps.output[6], 200);
	ck_assert_uint_eq(ps.top_class, 6);

	/* A parsed verify re-encoded into its own buffer: every part is at
	 * its place already. */
	n = good_verify(buf, sizeof buf);
	ck_assert_int_eq(edge_infer_verify_parse(buf, (size_t)n, &pv, &err), 0);
	v = pv;
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v), n);
	ck_assert_int_eq(edge_infer_verify_parse(buf, (size_t)n, &pv, &err), 0);
	ck_assert_mem_eq(pv.model.ref, "kws@1.0.3", 9);
	ck_assert_mem_eq(pv.input, "input", 5);
	ck_assert_mem_eq(pv.output, "out", 3);
}
END_TEST

/* ------------------------------------------------------------------ refusals */

START_TEST(request_rejects)
{
	uint8_t good[64], b[80];
	int n = good_req(good, sizeof good);
	size_t len = (size_t)n;

	ck_assert_int_gt(n, 0);
	/* Magic, also a short prefix that already differs; a short prefix
	 * that matches is only truncated. */
	expect_reject(REQ, NULL, 0, "truncated", "header");
	expect_reject(REQ, (const uint8_t *)"", 0, "truncated", "header");
	expect_reject(REQ, (const uint8_t *)"EIX", 3, "bad_magic", "magic");
	expect_reject(REQ, (const uint8_t *)"X", 1, "bad_magic", "magic");
	expect_reject(REQ, (const uint8_t *)"EIN", 3, "truncated", "header");
	memcpy(b, good, len);
	b[3] = 'G';
	expect_reject(REQ, b, len, "bad_magic", "magic");
	expect_reject(REQ, good, EDGE_INFER_REQ_HDR - 1, "truncated", "header");
	/* The version before the type and the fields. */
	memcpy(b, good, len);
	b[4] = 2;
	b[5] = 9;
	put32(b + 8, 0);
	expect_reject(REQ, b, len, "unsupported_version", "version");
	memcpy(b, good, len);
	b[5] = EDGE_INFER_T_VERIFY;
	expect_reject(REQ, b, len, "bad_header", "type");
	memcpy(b, good, len);
	b[5] = 0;
	expect_reject(REQ, b, len, "bad_header", "type");
	/* Deadline bounds. */
	memcpy(b, good, len);
	put32(b + 8, 0);
	expect_reject(REQ, b, len, "bad_header", "deadline_ms");
	put32(b + 8, EDGE_INFER_DEADLINE_MAX + 1);
	expect_reject(REQ, b, len, "bad_header", "deadline_ms");
	put32(b + 8, 0xFFFFFFFFu);
	expect_reject(REQ, b, len, "bad_header", "deadline_ms");
	/* input_length 0 (with the payload shortened to match). */
	memcpy(b, good, len);
	put32(b + 12, 0);
	expect_reject(REQ, b, len - 4, "bad_header", "input_length");
	/* Model kind and ref length. */
	memcpy(b, good, len);
	b[16] = 0;
	expect_reject(REQ, b, len, "bad_header", "model_kind");
	b[16] = 3;
	expect_reject(REQ, b, len, "bad_header", "model_kind");
	b[16] = EDGE_INFER_REF_SHA256; /* 9 bytes: not a SHA-256 */
	expect_reject(REQ, b, len, "bad_header", "model_ref_length");
	memcpy(b, good, len);
	b[17] = 2;
	expect_reject(REQ, b, len, "bad_header", "model_ref_length");
	b[17] = 64;
	expect_reject(REQ, b, len, "bad_header", "model_ref_length");
	b[17] = 255;
	expect_reject(REQ, b, len, "bad_header", "model_ref_length");
	memcpy(b, good, len);
	put16(b + 18, 1);
	expect_reject(REQ, b, len, "bad_header", "reserved");
	put16(b + 18, 0x8000);
	expect_reject(REQ, b, len, "bad_header", "reserved");
	/* Lengths: each part that is missing, then extra bytes. */
	expect_reject(REQ, good, EDGE_INFER_REQ_HDR, "truncated", "model_ref");
	expect_reject(REQ, good, EDGE_INFER_REQ_HDR + 8, "truncated", "model_ref");
	expect_reject(REQ, good, EDGE_INFER_REQ_HDR + 9, "truncated", "input");
	expect_reject(REQ, good, len - 1, "truncated", "input");
	memcpy(b, good, len);
	put32(b + 12, 0xFFFFFFFFu); /* 20 + 9 + 2^32 - 1 must not wrap */
	expect_reject(REQ, b, len, "truncated", "input");
	memcpy(b, good, len);
	b[len] = 0;
	expect_reject(REQ, b, len + 1, "trailing_bytes", "");
	memcpy(b, good, len);
	put32(b + 12, 3);
	expect_reject(REQ, b, len, "trailing_bytes", "");
}
END_TEST

/* A request with model_ref text (kind 2) is refused for its form. */
static void expect_bad_ref(const char *ref, size_t n)
{
	uint8_t b[128];

	memset(b, 0, sizeof b);
	memcpy(b, "EINF", 4);
	b[4] = 1;
	b[5] = EDGE_INFER_T_REQUEST;
	put32(b + 8, 100);
	put32(b + 12, 1);
	b[16] = EDGE_INFER_REF_NAME;
	b[17] = (uint8_t)n;
	memcpy(b + 20, ref, n);
	b[20 + n] = 'x';
	expect_reject(REQ, b, 20 + n + 1, "bad_header", "model_ref");
	ck_assert_int_eq(edge_infer_ref_valid(EDGE_INFER_REF_NAME, (const uint8_t *)ref, n),
			 0);
}

START_TEST(model_ref_form)
{
	char b1[80], b2[80], g1[80], g2[80], g3[80];
	/* A name or a version of 32 characters is too long even when the
	 * whole ref is not. */
	const char *const bad[] = {
		"kws-1.0.3", "kws@1@2", "@1.0.3", "kws@", "@@@", "kw+s@1.0", "kws @1.0",
		"kws@1.0 ", "kws/a@1", "kws@1.0\n", "kws@1:0", long_ref(b1, 32, 1),
		long_ref(b2, 1, 32),
	};
	const char *const good[] = {
		"a@1", "kws@1.0.3", "A-b_c.d@1.0+x-y_z", "...@+++", long_ref(g1, 31, 1),
		long_ref(g2, 1, 31), long_ref(g3, 31, 31),
	};
	static const char nul[] = "kws@1.0\0";
	static const char utf8[] = "kw\xc3\xa9@1";
	size_t i;

	for (i = 0; i < EDGE_N(bad); i++)
		expect_bad_ref(bad[i], strlen(bad[i]));
	expect_bad_ref(nul, sizeof nul - 1);
	expect_bad_ref(utf8, sizeof utf8 - 1);
	for (i = 0; i < EDGE_N(good); i++)
		ck_assert_msg(edge_infer_ref_valid(EDGE_INFER_REF_NAME,
						     (const uint8_t *)good[i], strlen(good[i])),
			      "%s refused", good[i]);
	ck_assert_uint_eq(strlen(good[EDGE_N(good) - 1]), EDGE_INFER_REF_MAX);
	ck_assert(edge_infer_ref_valid(EDGE_INFER_REF_SHA256, SHA_A, 32));
	ck_assert(!edge_infer_ref_valid(EDGE_INFER_REF_SHA256, SHA_A, 31));
	ck_assert(!edge_infer_ref_valid(EDGE_INFER_REF_SHA256, NULL, 32));
	ck_assert(!edge_infer_ref_valid(0, SHA_A, 32));
	ck_assert(!edge_infer_ref_valid(3, SHA_A, 32));
	/* A SHA-256 ref is any 32 bytes, '@' and NUL included. */
	ck_assert(edge_infer_ref_valid(EDGE_INFER_REF_SHA256,
					 (const uint8_t *)"@@@@@@@@@@@@@@@@\0\0\0\0\0\0\0\0\0\0\0"
							  "\0\0\0\0\0",
					 32));
}
END_TEST

START_TEST(response_rejects)
{
	uint8_t good[64], b[80];
	int n = good_resp(good, sizeof good);
	size_t len = (size_t)n;

	ck_assert_int_gt(n, 0);
	expect_reject(RESP, (const uint8_t *)"EINX", 4, "bad_magic", "magic");
	expect_reject(RESP, good, EDGE_INFER_RESP_HDR - 1, "truncated", "header");
	memcpy(b, good, len);
	b[4] = 0;
	expect_reject(RESP, b, len, "unsupported_version", "version");
	memcpy(b, good, len);
	b[5] = EDGE_INFER_T_REQUEST;
	expect_reject(RESP, b, len, "bad_header", "type");
	memcpy(b, good, len);
	b[8] = EDGE_INFER_S_COUNT;
	expect_reject(RESP, b, len, "bad_header", "status");
	b[8] = 255;
	expect_reject(RESP, b, len, "bad_header", "status");
	memcpy(b, good, len);
	b[9] = 1;
	expect_reject(RESP, b, len, "bad_header", "reserved");
	/* top_class: below output_length with ok, NONE otherwise. */
	memcpy(b, good, len);
	put16(b + 10, 5);
	expect_reject(RESP, b, len, "bad_header", "top_class");
	put16(b + 10, 0xFFFE);
	expect_reject(RESP, b, len, "bad_header", "top_class");
	put16(b + 10, 4);
	ck_assert_int_eq(edge_infer_resp_parse(b, len, &(struct edge_infer_resp){ 0 }, NULL), 0);
	/* A status other than ok carries no top class and no output. */
	memcpy(b, good, EDGE_INFER_RESP_HDR);
	b[8] = EDGE_INFER_S_BUSY;
	put32(b + 24, 0);
	put16(b + 10, 0);
	expect_reject(RESP, b, EDGE_INFER_RESP_HDR, "bad_header", "top_class");
	put16(b + 10, EDGE_INFER_TOP_NONE);
	ck_assert_int_eq(
		edge_infer_resp_parse(b, EDGE_INFER_RESP_HDR, &(struct edge_infer_resp){ 0 }, NULL),
		0);
	put32(b + 20, 10);
	expect_reject(RESP, b, EDGE_INFER_RESP_HDR, "bad_header", "expected_input_bytes");
	put32(b + 20, 0);
	b[8] = EDGE_INFER_S_BAD_INPUT;
	expect_reject(RESP, b, EDGE_INFER_RESP_HDR, "bad_header", "expected_input_bytes");
	b[8] = EDGE_INFER_S_DEADLINE_EXCEEDED;
	put32(b + 24, 1);
	b[EDGE_INFER_RESP_HDR] = 0;
	expect_reject(RESP, b, EDGE_INFER_RESP_HDR + 1, "bad_header", "output_length");
	/* ok with no output. */
	memcpy(b, good, EDGE_INFER_RESP_HDR);
	put16(b + 10, EDGE_INFER_TOP_NONE);
	put32(b + 24, 0);
	expect_reject(RESP, b, EDGE_INFER_RESP_HDR, "bad_header", "output_length");
	/* Lengths. */
	expect_reject(RESP, good, len - 1, "truncated", "output");
	expect_reject(RESP, good, EDGE_INFER_RESP_HDR, "truncated", "output");
	memcpy(b, good, len);
	put32(b + 24, 0xFFFFFFFFu);
	expect_reject(RESP, b, len, "truncated", "output");
	memcpy(b, good, len);
	b[len] = 0;
	expect_reject(RESP, b, len + 1, "trailing_bytes", "");
}
END_TEST

START_TEST(verify_rejects)
{
	uint8_t good[64], b[80];
	int n = good_verify(good, sizeof good);
	size_t len = (size_t)n;

	ck_assert_int_gt(n, 0);
	expect_reject(VERIFY, (const uint8_t *)"E", 1, "truncated", "header");
	expect_reject(VERIFY, (const uint8_t *)"F", 1, "bad_magic", "magic");
	expect_reject(VERIFY, good, EDGE_INFER_VERIFY_HDR - 1, "truncated", "header");
	memcpy(b, good, len);
	b[4] = 2;
	expect_reject(VERIFY, b, len, "unsupported_version", "version");
	memcpy(b, good, len);
	b[5] = EDGE_INFER_T_RESPONSE;
	expect_reject(VERIFY, b, len, "bad_header", "type");
	memcpy(b, good, len);
	put32(b + 12, 0);
	expect_reject(VERIFY, b, len, "bad_header", "input_length");
	memcpy(b, good, len);
	b[16] = 7;
	expect_reject(VERIFY, b, len, "bad_header", "model_kind");
	memcpy(b, good, len);
	b[17] = 70;
	expect_reject(VERIFY, b, len, "bad_header", "model_ref_length");
	memcpy(b, good, len);
	b[19] = 1;
	expect_reject(VERIFY, b, len, "bad_header", "reserved");
	memcpy(b, good, len);
	put32(b + 20, 0);
	expect_reject(VERIFY, b, len, "bad_header", "output_length");
	expect_reject(VERIFY, good, EDGE_INFER_VERIFY_HDR + 8, "truncated", "model_ref");
	expect_reject(VERIFY, good, EDGE_INFER_VERIFY_HDR + 9 + 4, "truncated", "input");
	expect_reject(VERIFY, good, EDGE_INFER_VERIFY_HDR + 9 + 5, "truncated", "output");
	expect_reject(VERIFY, good, len - 1, "truncated", "output");
	memcpy(b, good, len);
	put32(b + 12, 0xFFFFFFFFu);
	put32(b + 20, 0xFFFFFFFFu); /* the sum must not wrap */
	expect_reject(VERIFY, b, len, "truncated", "input");
	memcpy(b, good, len);
	b[len] = 0;
	expect_reject(VERIFY, b, len + 1, "trailing_bytes", "");
	memcpy(b, good, len);
	b[24 + 3] = '#';
	expect_reject(VERIFY, b, len, "bad_header", "model_ref");
}
END_TEST

/* The error's offset points at the refused field (or the input's end for
 * truncated, the first extra byte for trailing_bytes); err may be NULL. */
START_TEST(reject_offsets)
{
	uint8_t good[64], b[80];
	struct edge_infer_req r;
	struct edge_msg_error err;
	int n = good_req(good, sizeof good);
	size_t len = (size_t)n;

	memcpy(b, good, len);
	put32(b + 8, 0);
	ck_assert_int_eq(edge_infer_req_parse(b, len, &r, &err), -EPROTO);
	ck_assert_uint_eq(err.offset, 8);
	ck_assert_int_eq(edge_infer_req_parse(b, len, &r, NULL), -EPROTO);
	memcpy(b, good, len);
	b[17] = 1;
	ck_assert_int_eq(edge_infer_req_parse(b, len, &r, &err), -EPROTO);
	ck_assert_uint_eq(err.offset, 17);
	ck_assert_int_eq(edge_infer_req_parse(good, len - 2, &r, &err), -EPROTO);
	ck_assert_uint_eq(err.offset, len - 2);
	memcpy(b, good, len);
	b[len] = 0;
	b[len + 1] = 0;
	ck_assert_int_eq(edge_infer_req_parse(b, len + 2, &r, &err), -EPROTO);
	ck_assert_uint_eq(err.offset, len);
	/* A good message after a refusal clears the error. */
	ck_assert_int_eq(edge_infer_req_parse(good, len, &r, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	ck_assert_uint_eq(err.offset, 0);
}
END_TEST

/* ------------------------------------------------------------------ encoders */

START_TEST(request_encode_rules)
{
	static const uint8_t input[4] = { 1, 2, 3, 4 };
	uint8_t buf[64];
	struct edge_infer_req r;
	int n;

	memset(&r, 0, sizeof r);
	r.deadline_ms = 100;
	r.model = sha_model();
	r.input_length = 4;
	r.input = input;
	n = edge_infer_req_encode(buf, sizeof buf, &r);
	ck_assert_int_eq(n, EDGE_INFER_REQ_HDR + 32 + 4);
	/* Exactly enough room, one byte less, no buffer. */
	ck_assert_int_eq(edge_infer_req_encode(buf, (size_t)n, &r), n);
	ck_assert_int_eq(edge_infer_req_encode(buf, (size_t)n - 1, &r), -ENOSPC);
	ck_assert_int_eq(edge_infer_req_encode(NULL, 0, &r), -ENOSPC);
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, NULL), -EINVAL);
	r.deadline_ms = 0;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.deadline_ms = EDGE_INFER_DEADLINE_MAX + 1;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.deadline_ms = 100;
	r.input_length = 0;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.input_length = 4;
	r.input = NULL;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.input = input;
	r.model.length = 31;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.model = name_model("kws@@1");
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.model = name_model("kws@1");
	r.model.kind = 0;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.model.kind = EDGE_INFER_REF_NAME;
	r.model.ref = NULL;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	/* A length beyond an int cannot be returned: -EINVAL before any
	 * byte is read (the input pointer is never dereferenced). */
	r.model = name_model("kws@1");
	r.input_length = 0xFFFFFFFFu;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -EINVAL);
	r.input_length = (uint32_t)INT_MAX - EDGE_INFER_REQ_HDR - 5;
	ck_assert_int_eq(edge_infer_req_encode(buf, sizeof buf, &r), -ENOSPC);
}
END_TEST

START_TEST(response_encode_rules)
{
	static const uint8_t out[3] = { 9, 8, 7 };
	uint8_t buf[64];
	struct edge_infer_resp r;

	memset(&r, 0, sizeof r);
	r.status = EDGE_INFER_S_OK;
	r.top_class = 0;
	r.output_length = 3;
	r.output = out;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), EDGE_INFER_RESP_HDR + 3);
	ck_assert_int_eq(edge_infer_resp_encode(buf, EDGE_INFER_RESP_HDR + 2, &r), -ENOSPC);
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, NULL), -EINVAL);
	r.top_class = 3;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.top_class = EDGE_INFER_TOP_NONE;
	r.output = NULL;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.output = out;
	r.output_length = 0;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.expected_input_bytes = 1;
	r.output_length = 3;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.expected_input_bytes = 0;
	r.status = EDGE_INFER_S_COUNT;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.status = EDGE_INFER_S_BUSY;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.output_length = 0;
	r.output = NULL;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), EDGE_INFER_RESP_HDR);
	r.top_class = 0;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.top_class = EDGE_INFER_TOP_NONE;
	r.status = EDGE_INFER_S_BAD_INPUT;
	ck_assert_int_eq(edge_infer_resp_encode(buf, sizeof buf, &r), -EINVAL);
	r.expected_input_bytes = 27648;
	ck_assert_int_eq(edge_infer_resp_encode(buf, EDGE_INFER_RESP_HDR, &r),
			 EDGE_INFER_RESP_HDR);
	ck_assert_int_eq(edge_infer_resp_encode(buf, EDGE_INFER_RESP_HDR - 1, &r), -ENOSPC);
}
END_TEST

START_TEST(verify_encode_rules)
{
	uint8_t buf[64];
	struct edge_infer_verify v;
	int n = good_verify(buf, sizeof buf);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(good_verify(buf, (size_t)n), n);
	ck_assert_int_eq(good_verify(buf, (size_t)n - 1), -ENOSPC);
	memset(&v, 0, sizeof v);
	v.model = name_model("kws@1.0.3");
	v.input_length = 1;
	v.input = (const uint8_t *)"i";
	v.output_length = 1;
	v.output = (const uint8_t *)"o";
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v),
			 EDGE_INFER_VERIFY_HDR + 9 + 2);
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, NULL), -EINVAL);
	v.output_length = 0;
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v), -EINVAL);
	v.output_length = 1;
	v.output = NULL;
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v), -EINVAL);
	v.output = (const uint8_t *)"o";
	v.input_length = 0;
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v), -EINVAL);
	v.input_length = 1;
	v.model = name_model("kws");
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v), -EINVAL);
	v.model = sha_model();
	v.input_length = 0x80000000u;
	v.output_length = 0x80000000u;
	ck_assert_int_eq(edge_infer_verify_encode(buf, sizeof buf, &v), -EINVAL);
}
END_TEST

/* ----------------------------------------------------------------- top class */

START_TEST(top_class)
{
	static uint8_t big[70000];
	const uint8_t ties[] = { 3, 9, 9, 1 };
	const uint8_t s8[] = { 0x7f, 0x80, 0xff, 0x7f }; /* int8: 127 -128 -1 127 */
	const uint8_t neg[] = { 0x80, 0xfe, 0xff, 0xff }; /* int8: -128 -2 -1 -1 */

	/* Ties go to the lowest index. */
	ck_assert_uint_eq(edge_infer_top_class(ties, sizeof ties, false), 1);
	ck_assert_uint_eq(edge_infer_top_class(ties, sizeof ties, true), 1);
	/* Signedness matters: 0x80 is 128 as uint8, -128 as int8. */
	ck_assert_uint_eq(edge_infer_top_class(s8, sizeof s8, true), 0);
	ck_assert_uint_eq(edge_infer_top_class(s8, sizeof s8, false), 2);
	ck_assert_uint_eq(edge_infer_top_class(neg, sizeof neg, true), 2);
	ck_assert_uint_eq(edge_infer_top_class(neg, sizeof neg, false), 2);
	/* All equal: index 0. One value: index 0. */
	ck_assert_uint_eq(edge_infer_top_class((const uint8_t *)"\x80\x80\x80", 3, true), 0);
	ck_assert_uint_eq(edge_infer_top_class((const uint8_t *)"\x05", 1, false), 0);
	ck_assert_uint_eq(edge_infer_top_class(ties, 0, false), EDGE_INFER_TOP_NONE);
	ck_assert_uint_eq(edge_infer_top_class(NULL, 4, false), EDGE_INFER_TOP_NONE);
	/* The largest output whose indices all fit below NONE, and one more. */
	memset(big, 0, sizeof big);
	big[0xFFFE] = 1;
	ck_assert_uint_eq(edge_infer_top_class(big, 0xFFFF, false), 0xFFFE);
	ck_assert_uint_eq(edge_infer_top_class(big, 0x10000, false), EDGE_INFER_TOP_NONE);
}
END_TEST

/* The topics a node and the gateway use, from the SDK's sub-levels. */
START_TEST(topics)
{
	char buf[EDGE_TOPIC_MAX_LEN + 1];

	ck_assert_int_gt(edge_topic_build(buf, sizeof buf, "node-01", EDGE_TOPIC_INFER,
					  EDGE_INFER_SUB_REQ), 0);
	ck_assert_str_eq(buf, "edge/v1/node-01/infer/req");
	ck_assert_int_gt(edge_topic_build(buf, sizeof buf, "node-01", EDGE_TOPIC_INFER,
					  EDGE_INFER_SUB_RESP), 0);
	ck_assert_str_eq(buf, "edge/v1/node-01/infer/resp");
	ck_assert_int_gt(edge_topic_build(buf, sizeof buf, "node-01", EDGE_TOPIC_INFER,
					  EDGE_INFER_SUB_VERIFY), 0);
	ck_assert_str_eq(buf, "edge/v1/node-01/infer/verify");
}
END_TEST

/* ------------------------------------------------------------ golden vectors */

/* Compare an optional numeric key. */
static void check_num(char *const *keys, int nk, const char *key, unsigned long got)
{
	const char *v = test_vector_kv(keys, nk, key);

	if (v)
		ck_assert_msg(strtoul(v, NULL, 0) == got, "%s: %lu, want %s", key, got, v);
}

static void check_model(char *const *keys, int nk, const struct edge_infer_ref *m)
{
	static const char digits[] = "0123456789abcdef";
	char text[2 * EDGE_INFER_REF_MAX + 1];
	size_t i;

	ck_assert_ptr_nonnull(test_vector_kv(keys, nk, "model"));
	check_num(keys, nk, "model_kind", m->kind);
	if (m->kind == EDGE_INFER_REF_SHA256) {
		for (i = 0; i < m->length; i++) {
			text[2 * i] = digits[m->ref[i] >> 4];
			text[2 * i + 1] = digits[m->ref[i] & 15];
		}
		text[2 * m->length] = '\0';
	} else {
		memcpy(text, m->ref, m->length);
		text[m->length] = '\0';
	}
	ck_assert_str_eq(text, test_vector_kv(keys, nk, "model"));
}

static int run_vector(const char *kind, const uint8_t *data, size_t len,
		      struct edge_msg_error *err, char *const *keys, int nk)
{
	static uint8_t enc[65536];
	int rc, n;

	if (strcmp(kind, "req") == 0) {
		struct edge_infer_req r;

		rc = edge_infer_req_parse(data, len, &r, err);
		if (rc)
			return rc;
		check_num(keys, nk, "flags", r.flags);
		check_num(keys, nk, "deadline_ms", r.deadline_ms);
		check_num(keys, nk, "input_length", r.input_length);
		check_model(keys, nk, &r.model);
		n = edge_infer_req_encode(enc, sizeof enc, &r);
	} else if (strcmp(kind, "resp") == 0) {
		struct edge_infer_resp r;

		rc = edge_infer_resp_parse(data, len, &r, err);
		if (rc)
			return rc;
		ck_assert_str_eq(edge_infer_status_name((enum edge_infer_offload_status)r.status),
				 test_vector_kv(keys, nk, "status"));
		check_num(keys, nk, "flags", r.flags);
		check_num(keys, nk, "top_class", r.top_class);
		check_num(keys, nk, "queued_us", r.queued_us);
		check_num(keys, nk, "run_us", r.run_us);
		check_num(keys, nk, "expected_input_bytes", r.expected_input_bytes);
		check_num(keys, nk, "output_length", r.output_length);
		n = edge_infer_resp_encode(enc, sizeof enc, &r);
	} else {
		struct edge_infer_verify v;

		ck_assert_str_eq(kind, "verify");
		rc = edge_infer_verify_parse(data, len, &v, err);
		if (rc)
			return rc;
		check_num(keys, nk, "flags", v.flags);
		check_num(keys, nk, "seq", v.seq);
		check_num(keys, nk, "input_length", v.input_length);
		check_num(keys, nk, "output_length", v.output_length);
		check_model(keys, nk, &v.model);
		n = edge_infer_verify_encode(enc, sizeof enc, &v);
	}
	ck_assert_int_eq(n, (int)len);
	if (test_vector_kv(keys, nk, "exact") && strcmp(test_vector_kv(keys, nk, "exact"), "0") == 0) {
		/* Only the flags differ: the encoder writes 0. */
		ck_assert_mem_eq(enc, data, 6);
		ck_assert_uint_eq(get16(enc + 6), 0);
		ck_assert_mem_eq(enc + 8, data + 8, len - 8);
		return 0;
	}
	ck_assert_mem_eq(enc, data, len);
	return 0;
}

START_TEST(golden_vectors)
{
	int valid = 0, count = test_vectors_run("infer", run_vector, &valid);

	ck_assert_int_ge(count, 80);
	ck_assert_int_ge(valid, 20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("infer-msg");
	TCase *tc = tcase_create("codec");
	TCase *vec = tcase_create("vectors");

	tcase_add_test(tc, status_names);
	tcase_add_test(tc, request_layout);
	tcase_add_test(tc, response_layout);
	tcase_add_test(tc, verify_layout);
	tcase_add_test(tc, request_round_trips);
	tcase_add_test(tc, response_round_trips);
	tcase_add_test(tc, verify_round_trips);
	tcase_add_test(tc, unknown_flags_ignored);
	tcase_add_test(tc, encode_in_place);
	tcase_add_test(tc, request_rejects);
	tcase_add_test(tc, model_ref_form);
	tcase_add_test(tc, response_rejects);
	tcase_add_test(tc, verify_rejects);
	tcase_add_test(tc, reject_offsets);
	tcase_add_test(tc, request_encode_rules);
	tcase_add_test(tc, response_encode_rules);
	tcase_add_test(tc, verify_encode_rules);
	tcase_add_test(tc, top_class);
	tcase_add_test(tc, topics);
	suite_add_tcase(s, tc);
	tcase_add_test(vec, golden_vectors);
	suite_add_tcase(s, vec);
	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
