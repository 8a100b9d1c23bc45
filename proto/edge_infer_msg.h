/* The inference offload protocol's messages (proto/infer/offload.md is the
 * normative text): a node sends an input tensor and gets the output back,
 * and sends its own results for the gateway to re-run bit-exactly (shadow
 * verification). Shared by the gateway (edged's offload service), the
 * device SDK and the simulator. C99, libc only, no allocation.
 *
 * Topics (node-protocol.md §3; <p> is the topic prefix, edge/v1):
 *   <p>/<id>/infer/req      node → gw  request (QoS 0 or 1), with the MQTT v5
 *                                      Response Topic <p>/<id>/infer/resp and
 *                                      Correlation Data (1 .. EDGE_INFER_CORR_MAX
 *                                      opaque bytes, echoed)
 *   <p>/<id>/infer/resp     gw → node  response, QoS as the request
 *   <p>/<id>/infer/verify   node → gw  shadow check (QoS 0), no answer
 *
 * Every message starts with the same 8 bytes (integers little-endian):
 *   0  u32 magic 0x464E4945 ("EINF" in byte order)
 *   4  u8  version (1)
 *   5  u8  type (enum edge_infer_msg_type)
 *   6  u16 flags (0 when sent; a receiver ignores unknown bits)
 *
 * Request (EDGE_INFER_REQ_HDR bytes, then model_ref, then the input):
 *   8  u32 deadline_ms (EDGE_INFER_DEADLINE_MIN .. _MAX)
 *   12 u32 input_length (>= 1)
 *   16 u8  model_kind (enum edge_infer_ref_kind)
 *   17 u8  model_ref_length (32 for a SHA-256; 3 .. 63 for name@version)
 *   18 u16 reserved (0)
 *   20 model_ref, then input_length bytes: tensor 0, raw
 * Response (EDGE_INFER_RESP_HDR bytes, then the output):
 *   8  u8  status (enum edge_infer_offload_status)
 *   9  u8  reserved (0)
 *   10 u16 top_class (EDGE_INFER_TOP_NONE unless a classifier answered ok)
 *   12 u32 queued_us
 *   16 u32 run_us
 *   20 u32 expected_input_bytes (status bad_input: what the model takes; else 0)
 *   24 u32 output_length (>= 1 when ok, else 0), then the output: tensor 0
 * Verify (EDGE_INFER_VERIFY_HDR bytes, then model_ref, input, output):
 *   8  u32 seq (the node's own counter)
 *   12 u32 input_length (>= 1)
 *   16 u8  model_kind    17 u8 model_ref_length    18 u16 reserved (0)
 *   20 u32 output_length (>= 1)
 *   24 model_ref, then input_length input bytes, then output_length output bytes
 *
 * A payload is exactly as long as its header says. The largest payload the
 * gateway takes is its configuration, not a protocol constant. */
#ifndef EDGE_INFER_MSG_H
#define EDGE_INFER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_msg_reject.h"
#include "edge_node_msg.h"
#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_INFER_MAGIC 0x464E4945u
#define EDGE_INFER_VERSION 1
#define EDGE_INFER_REQ_HDR 20
#define EDGE_INFER_RESP_HDR 28
#define EDGE_INFER_VERIFY_HDR 24
#define EDGE_INFER_DEADLINE_MIN 1u
#define EDGE_INFER_DEADLINE_MAX 600000u  /* 10 minutes */
#define EDGE_INFER_CORR_MAX 32           /* MQTT Correlation Data, bytes */
#define EDGE_INFER_SHA256_LEN 32         /* model_ref of kind SHA-256 */
/* model_ref of kind name@version: a *name* and a *version* of
 * node-protocol.md §4 (1 .. 31 characters each) joined by '@'. */
#define EDGE_INFER_NAME_REF_MIN 3
#define EDGE_INFER_REF_MAX 63            /* longest model_ref of either kind */
#define EDGE_INFER_TOP_NONE 0xFFFFu      /* top_class: none */
/* Topic sub-levels under <p>/<id>/infer/ (edge_topic_build with
 * EDGE_TOPIC_INFER). */
#define EDGE_INFER_SUB_REQ "req"
#define EDGE_INFER_SUB_RESP "resp"
#define EDGE_INFER_SUB_VERIFY "verify"

/* Bytes of a request or a verify with these lengths (64-bit: a u32 input
 * length plus a header does not overflow). */
#define EDGE_INFER_REQ_LEN(ref_len, input_len)                                          \
	((uint64_t)EDGE_INFER_REQ_HDR + (uint64_t)(ref_len) + (uint64_t)(input_len))
#define EDGE_INFER_RESP_LEN(output_len) ((uint64_t)EDGE_INFER_RESP_HDR + (uint64_t)(output_len))
#define EDGE_INFER_VERIFY_LEN(ref_len, input_len, output_len)                            \
	((uint64_t)EDGE_INFER_VERIFY_HDR + (uint64_t)(ref_len) + (uint64_t)(input_len) +     \
	 (uint64_t)(output_len))

enum edge_infer_msg_type {
	EDGE_INFER_T_REQUEST = 1,
	EDGE_INFER_T_RESPONSE = 2,
	EDGE_INFER_T_VERIFY = 3,
};

enum edge_infer_ref_kind {
	EDGE_INFER_REF_SHA256 = 1,   /* SHA-256 of the .tflite, 32 raw bytes */
	EDGE_INFER_REF_NAME = 2,     /* "name@version" text, no NUL */
};

/* A response's status. Stable names (edge_infer_status_name): logs,
 * counters and edgectl use them. Append only. (EDGE_INFER_S_: the engine,
 * lib/infer, owns enum edge_infer_status, EDGE_INFER_OK and struct
 * edge_infer_model; the gateway includes both headers.) */
enum edge_infer_offload_status {
	EDGE_INFER_S_OK = 0,                 /* "ok" */
	EDGE_INFER_S_UNKNOWN_MODEL,          /* "unknown_model": the gateway holds no such model */
	EDGE_INFER_S_NOT_OFFLOADABLE,        /* "not_offloadable": held, not enabled for offload */
	EDGE_INFER_S_BAD_INPUT,              /* "bad_input": input_length is not the model's */
	EDGE_INFER_S_BUSY,                   /* "busy": cannot finish before the deadline */
	EDGE_INFER_S_DEADLINE_EXCEEDED,      /* "deadline_exceeded": expired while queued */
	EDGE_INFER_S_INTERNAL,               /* "internal": the gateway failed */
	EDGE_INFER_S_MALFORMED,              /* "malformed": the request did not parse */
	EDGE_INFER_S_COUNT
};
const char *edge_infer_status_name(enum edge_infer_offload_status s); /* "unknown" if out of range */
int edge_infer_status_from_name(const char *s, size_t len);   /* -1 if unknown */

/* Which model: ref[0..length) points into the parsed buffer (parse) or
 * the caller's memory (encode). */
struct edge_infer_ref {
	uint8_t kind;                /* enum edge_infer_ref_kind */
	uint8_t length;
	const uint8_t *ref;
};

/* 1 if (kind, ref[0..len)) is a valid model ref: 32 bytes of a SHA-256, or
 * name@version with exactly one '@', a *name* before it and a *version*
 * after it (node-protocol.md §4). */
int edge_infer_ref_valid(uint8_t kind, const uint8_t *ref, size_t len);

/* ---- request (node → gateway) ---- */

struct edge_infer_req {
	uint16_t flags;              /* as received; the encoder writes 0 */
	uint32_t deadline_ms;
	struct edge_infer_ref model;
	uint32_t input_length;
	const uint8_t *input;
};

/* Strict parse of buf[0..len). 0 or -EPROTO with *err (may be NULL):
 * bad_magic "magic" (also a short input whose bytes already differ),
 * truncated "header", unsupported_version "version", bad_header with
 * field "type", "deadline_ms", "input_length", "model_kind",
 * "model_ref_length", "reserved", truncated "model_ref" or "input",
 * trailing_bytes "", bad_header "model_ref" (the ref's form). *out is
 * zeroed on failure. */
int edge_infer_req_parse(const void *buf, size_t len, struct edge_infer_req *out,
			 struct edge_msg_error *err);

/* Write r into buf[0..cap) (flags 0). r->input may already lie at its
 * place, buf + EDGE_INFER_REQ_HDR + model length (it is moved, not
 * copied), so a node can fill its input in place. Length, -EINVAL (a rule
 * the parser checks is broken, or the length exceeds INT_MAX) or
 * -ENOSPC. */
int edge_infer_req_encode(void *buf, size_t cap, const struct edge_infer_req *r);

/* ---- response (gateway → node) ---- */

struct edge_infer_resp {
	uint16_t flags;              /* as received; the encoder writes 0 */
	uint8_t status;              /* enum edge_infer_offload_status */
	uint16_t top_class;          /* EDGE_INFER_TOP_NONE or < output_length */
	uint32_t queued_us;
	uint32_t run_us;
	uint32_t expected_input_bytes;
	uint32_t output_length;
	const uint8_t *output;       /* NULL when output_length is 0 */
};

/* Strict parse: as the request, with bad_header fields "type", "status"
 * (above malformed), "reserved", "top_class" (not NONE unless ok; with
 * ok, NONE or below output_length), "expected_input_bytes" (0 with
 * bad_input, or not 0 without), "output_length" (0 with ok, or not 0
 * without); truncated "output"; trailing_bytes "". */
int edge_infer_resp_parse(const void *buf, size_t len, struct edge_infer_resp *out,
			  struct edge_msg_error *err);

/* Write r (flags 0); r->output may already be at buf + EDGE_INFER_RESP_HDR.
 * Length, -EINVAL or -ENOSPC. */
int edge_infer_resp_encode(void *buf, size_t cap, const struct edge_infer_resp *r);

/* ---- verify (node → gateway) ---- */

struct edge_infer_verify {
	uint16_t flags;              /* as received; the encoder writes 0 */
	uint32_t seq;
	struct edge_infer_ref model;
	uint32_t input_length;
	const uint8_t *input;
	uint32_t output_length;
	const uint8_t *output;
};

/* Strict parse: as the request (no deadline), with bad_header
 * "output_length" (0) and truncated "output". */
int edge_infer_verify_parse(const void *buf, size_t len, struct edge_infer_verify *out,
			    struct edge_msg_error *err);

/* Write v (flags 0). The output, the input and the model ref are moved
 * into place in that order (back to front), so each may already lie at
 * its place in buf; otherwise none may overlap buf. Length, -EINVAL or
 * -ENOSPC. */
int edge_infer_verify_encode(void *buf, size_t cap, const struct edge_infer_verify *v);

/* ---- helpers ---- */

/* The top class of a classifier's output[0..length) of int8 (is_signed)
 * or uint8 values: the index of the largest value, the lowest index on a
 * tie. EDGE_INFER_TOP_NONE when length is 0 or above 0xFFFF (an index
 * must stay below EDGE_INFER_TOP_NONE). */
uint16_t edge_infer_top_class(const uint8_t *output, size_t length, bool is_signed);

#ifdef __cplusplus
}
#endif

#endif
