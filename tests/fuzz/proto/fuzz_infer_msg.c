/* Fuzz target for the inference offload messages (proto/infer/offload.md):
 * the input is one payload, fed to the request, response and verify
 * readers (a gateway reads requests and verifies, a node responses).
 *
 * Invariants beyond "no crash, no overread": at most the reader of the
 * input's type accepts it; an accepted message's parts lie in the input,
 * back to back after the header and exactly to its end, its model ref is
 * valid, its fields obey their rules, and the codec re-encodes it byte for
 * byte (flags aside: the encoder writes 0, the reader keeps what came); a
 * rejection carries a known reason and a terminated field path and leaves
 * the output zeroed. Each input is tried as it is and with its length
 * fields made to fit its size, which random bytes almost never do, so the
 * checks behind them are reached. The top class helper runs over the
 * input with both signednesses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer_msg.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Payloads larger than this are only parsed, not re-encoded or fixed. */
#define FUZZ_MAX 65536

static uint8_t enc[FUZZ_MAX];
static uint8_t fixed[FUZZ_MAX];

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* enc[0..n) equals data except for the flags, which the encoder writes 0. */
static void check_same(const uint8_t *data, size_t size, int n)
{
	CHECK(n > 0 && (size_t)n == size);
	CHECK(memcmp(enc, data, 6) == 0);
	CHECK(enc[6] == 0 && enc[7] == 0);
	CHECK(memcmp(enc + 8, data + 8, size - 8) == 0);
}

static int check_req(const uint8_t *data, size_t size)
{
	struct edge_infer_req r;
	struct edge_msg_error err;

	if (edge_infer_req_parse(data, size, &r, &err) != 0) {
		check_error(&err);
		CHECK(r.input == NULL && r.model.ref == NULL && r.input_length == 0);
		return 0;
	}
	CHECK(err.reason == EDGE_MSG_OK && err.field[0] == '\0');
	CHECK(data[5] == EDGE_INFER_T_REQUEST);
	CHECK(r.deadline_ms >= EDGE_INFER_DEADLINE_MIN && r.deadline_ms <= EDGE_INFER_DEADLINE_MAX);
	CHECK(r.model.ref == data + EDGE_INFER_REQ_HDR);
	CHECK(edge_infer_ref_valid(r.model.kind, r.model.ref, r.model.length));
	CHECK(r.input == r.model.ref + r.model.length && r.input_length >= 1);
	CHECK(EDGE_INFER_REQ_LEN(r.model.length, r.input_length) == size);
	if (size <= sizeof enc)
		check_same(data, size, edge_infer_req_encode(enc, sizeof enc, &r));
	return 1;
}

static int check_resp(const uint8_t *data, size_t size)
{
	struct edge_infer_resp r;
	struct edge_msg_error err;

	if (edge_infer_resp_parse(data, size, &r, &err) != 0) {
		check_error(&err);
		CHECK(r.output == NULL && r.output_length == 0);
		return 0;
	}
	CHECK(err.reason == EDGE_MSG_OK && err.field[0] == '\0');
	CHECK(data[5] == EDGE_INFER_T_RESPONSE);
	CHECK(r.status < EDGE_INFER_S_COUNT);
	CHECK(EDGE_INFER_RESP_LEN(r.output_length) == size);
	if (r.status == EDGE_INFER_S_OK) {
		CHECK(r.output == data + EDGE_INFER_RESP_HDR && r.output_length >= 1);
		CHECK(r.top_class == EDGE_INFER_TOP_NONE || r.top_class < r.output_length);
	} else {
		CHECK(r.output == NULL && r.output_length == 0);
		CHECK(r.top_class == EDGE_INFER_TOP_NONE);
	}
	CHECK((r.status == EDGE_INFER_S_BAD_INPUT) == (r.expected_input_bytes != 0));
	if (size <= sizeof enc)
		check_same(data, size, edge_infer_resp_encode(enc, sizeof enc, &r));
	return 1;
}

static int check_verify(const uint8_t *data, size_t size)
{
	struct edge_infer_verify v;
	struct edge_msg_error err;

	if (edge_infer_verify_parse(data, size, &v, &err) != 0) {
		check_error(&err);
		CHECK(v.input == NULL && v.output == NULL && v.model.ref == NULL);
		return 0;
	}
	CHECK(err.reason == EDGE_MSG_OK && err.field[0] == '\0');
	CHECK(data[5] == EDGE_INFER_T_VERIFY);
	CHECK(v.model.ref == data + EDGE_INFER_VERIFY_HDR);
	CHECK(edge_infer_ref_valid(v.model.kind, v.model.ref, v.model.length));
	CHECK(v.input == v.model.ref + v.model.length && v.input_length >= 1);
	CHECK(v.output == v.input + v.input_length && v.output_length >= 1);
	CHECK(EDGE_INFER_VERIFY_LEN(v.model.length, v.input_length, v.output_length) == size);
	if (size <= sizeof enc)
		check_same(data, size, edge_infer_verify_encode(enc, sizeof enc, &v));
	return 1;
}

static void check_all(const uint8_t *data, size_t size)
{
	int accepted = check_req(data, size) + check_resp(data, size) + check_verify(data, size);

	/* The type byte tells the three apart. */
	CHECK(accepted <= 1);
}

/* The input with its length fields set so its parts end exactly at its
 * end (when the header and the ref fit), by the type byte it carries. */
static void check_fixed(const uint8_t *data, size_t size)
{
	size_t ref;

	if (size < EDGE_INFER_REQ_HDR || size > sizeof fixed)
		return;
	memcpy(fixed, data, size);
	ref = fixed[17];
	switch (fixed[5]) {
	case EDGE_INFER_T_REQUEST:
		if (size < EDGE_INFER_REQ_HDR + ref)
			return;
		put32(fixed + 12, (uint32_t)(size - EDGE_INFER_REQ_HDR - ref));
		break;
	case EDGE_INFER_T_RESPONSE:
		if (size < EDGE_INFER_RESP_HDR)
			return;
		put32(fixed + 24, (uint32_t)(size - EDGE_INFER_RESP_HDR));
		break;
	case EDGE_INFER_T_VERIFY:
		if (size < EDGE_INFER_VERIFY_HDR + ref)
			return;
		/* Keep the stated output length when it fits, the rest is input. */
		if (get32(fixed + 20) > size - EDGE_INFER_VERIFY_HDR - ref)
			put32(fixed + 20, (uint32_t)((size - EDGE_INFER_VERIFY_HDR - ref) / 2));
		put32(fixed + 12,
		      (uint32_t)(size - EDGE_INFER_VERIFY_HDR - ref - get32(fixed + 20)));
		break;
	default:
		return;
	}
	check_all(fixed, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t top;

	check_all(data, size);
	check_fixed(data, size);
	top = edge_infer_top_class(data, size, true);
	CHECK(size == 0 || size > 0xFFFF ? top == EDGE_INFER_TOP_NONE : top < size);
	if (top != EDGE_INFER_TOP_NONE) {
		size_t i;

		/* Nothing before it is as large, nothing after it larger. */
		for (i = 0; i < size; i++)
			CHECK(i < top ? (int8_t)data[i] < (int8_t)data[top]
				      : (int8_t)data[i] <= (int8_t)data[top]);
	}
	top = edge_infer_top_class(data, size, false);
	CHECK(size == 0 || size > 0xFFFF ? top == EDGE_INFER_TOP_NONE : top < size);
	return 0;
}
