/* The inference offload protocol's codec: request, response and verify.
 * proto/infer/offload.md is the normative text; edge_infer_msg.h states
 * the layout.
 *
 * Messages are read and written byte by byte through the offsets of the
 * *_wire structs below, never by copying a struct: the layout is the same
 * on every compiler and byte order. Lengths add up in 64 bits, so a u32
 * length near 2^32 cannot wrap on a 32-bit node. */
#include "edge_infer_msg.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "edge_bytes.h"
#include "edge_msg_internal.h"

/* --------------------------------------------------------------- layout */

/* The headers as they are on the wire: only byte arrays, so no padding
 * and no alignment. */
struct edge_infer_req_wire {
	uint8_t magic[4];
	uint8_t version;
	uint8_t type;
	uint8_t flags[2];
	uint8_t deadline_ms[4];
	uint8_t input_length[4];
	uint8_t model_kind;
	uint8_t model_ref_length;
	uint8_t reserved[2];
};

struct edge_infer_resp_wire {
	uint8_t magic[4];
	uint8_t version;
	uint8_t type;
	uint8_t flags[2];
	uint8_t status;
	uint8_t reserved;
	uint8_t top_class[2];
	uint8_t queued_us[4];
	uint8_t run_us[4];
	uint8_t expected_input_bytes[4];
	uint8_t output_length[4];
};

/* The request's layout up to the reserved field, then output_length, so
 * the model ref sits at the same offsets as in a request. */
struct edge_infer_verify_wire {
	uint8_t magic[4];
	uint8_t version;
	uint8_t type;
	uint8_t flags[2];
	uint8_t seq[4];
	uint8_t input_length[4];
	uint8_t model_kind;
	uint8_t model_ref_length;
	uint8_t reserved[2];
	uint8_t output_length[4];
};

/* proto/ is C99; GCC and clang accept C11's _Static_assert there as an
 * extension, anything else gets the negative-array trick. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define INFER_STATIC_ASSERT(c, what) _Static_assert(c, what)
#elif defined(__GNUC__)
#define INFER_STATIC_ASSERT(c, what) __extension__ _Static_assert(c, what)
#else
#define INFER_CAT2(a, b) a##b
#define INFER_CAT(a, b) INFER_CAT2(a, b)
#define INFER_STATIC_ASSERT(c, what) \
	typedef char INFER_CAT(infer_static_assert_, __LINE__)[(c) ? 1 : -1]
#endif

#define REQ(f) offsetof(struct edge_infer_req_wire, f)
#define RESP(f) offsetof(struct edge_infer_resp_wire, f)
#define VER(f) offsetof(struct edge_infer_verify_wire, f)

/* The common first 8 bytes, the same in all three. */
INFER_STATIC_ASSERT(REQ(magic) == 0 && RESP(magic) == 0 && VER(magic) == 0, "magic at 0");
INFER_STATIC_ASSERT(REQ(version) == 4 && RESP(version) == 4 && VER(version) == 4,
		    "version at 4");
INFER_STATIC_ASSERT(REQ(type) == 5 && RESP(type) == 5 && VER(type) == 5, "type at 5");
INFER_STATIC_ASSERT(REQ(flags) == 6 && RESP(flags) == 6 && VER(flags) == 6, "flags at 6");

INFER_STATIC_ASSERT(REQ(deadline_ms) == 8, "deadline_ms at 8");
INFER_STATIC_ASSERT(REQ(input_length) == 12, "input_length at 12");
INFER_STATIC_ASSERT(REQ(model_kind) == 16, "model_kind at 16");
INFER_STATIC_ASSERT(REQ(model_ref_length) == 17, "model_ref_length at 17");
INFER_STATIC_ASSERT(REQ(reserved) == 18, "reserved at 18");
INFER_STATIC_ASSERT(sizeof(struct edge_infer_req_wire) == EDGE_INFER_REQ_HDR,
		    "request header is EDGE_INFER_REQ_HDR bytes");

INFER_STATIC_ASSERT(RESP(status) == 8, "status at 8");
INFER_STATIC_ASSERT(RESP(reserved) == 9, "reserved at 9");
INFER_STATIC_ASSERT(RESP(top_class) == 10, "top_class at 10");
INFER_STATIC_ASSERT(RESP(queued_us) == 12, "queued_us at 12");
INFER_STATIC_ASSERT(RESP(run_us) == 16, "run_us at 16");
INFER_STATIC_ASSERT(RESP(expected_input_bytes) == 20, "expected_input_bytes at 20");
INFER_STATIC_ASSERT(RESP(output_length) == 24, "output_length at 24");
INFER_STATIC_ASSERT(sizeof(struct edge_infer_resp_wire) == EDGE_INFER_RESP_HDR,
		    "response header is EDGE_INFER_RESP_HDR bytes");

INFER_STATIC_ASSERT(VER(seq) == 8, "seq at 8");
INFER_STATIC_ASSERT(VER(input_length) == REQ(input_length), "input_length as a request's");
INFER_STATIC_ASSERT(VER(model_kind) == REQ(model_kind), "model_kind as a request's");
INFER_STATIC_ASSERT(VER(model_ref_length) == REQ(model_ref_length),
		    "model_ref_length as a request's");
INFER_STATIC_ASSERT(VER(reserved) == REQ(reserved), "reserved as a request's");
INFER_STATIC_ASSERT(VER(output_length) == 20, "output_length at 20");
INFER_STATIC_ASSERT(sizeof(struct edge_infer_verify_wire) == EDGE_INFER_VERIFY_HDR,
		    "verify header is EDGE_INFER_VERIFY_HDR bytes");

/* A ref length fits its u8 field, and a name ref is two §4 strings. */
INFER_STATIC_ASSERT(EDGE_INFER_REF_MAX <= 255, "model_ref_length is a u8");
INFER_STATIC_ASSERT(EDGE_INFER_REF_MAX ==
			    (EDGE_MSG_TOKEN_CAP - 1) + 1 + (EDGE_MSG_VERSION_CAP - 1),
		    "name@version: a name, '@', a version");
INFER_STATIC_ASSERT(EDGE_INFER_SHA256_LEN <= EDGE_INFER_REF_MAX, "sha256 ref fits");

static const uint8_t magic_bytes[4] = { 0x45, 0x49, 0x4e, 0x46 }; /* "EINF" */

/* ---------------------------------------------------------------- status */

static const char *const status_names[EDGE_INFER_S_COUNT] = {
	[EDGE_INFER_S_OK] = "ok",
	[EDGE_INFER_S_UNKNOWN_MODEL] = "unknown_model",
	[EDGE_INFER_S_NOT_OFFLOADABLE] = "not_offloadable",
	[EDGE_INFER_S_BAD_INPUT] = "bad_input",
	[EDGE_INFER_S_BUSY] = "busy",
	[EDGE_INFER_S_DEADLINE_EXCEEDED] = "deadline_exceeded",
	[EDGE_INFER_S_INTERNAL] = "internal",
	[EDGE_INFER_S_MALFORMED] = "malformed",
};

const char *edge_infer_status_name(enum edge_infer_offload_status s)
{
	if ((unsigned)s >= EDGE_INFER_S_COUNT || !status_names[s])
		return "unknown";
	return status_names[s];
}

int edge_infer_status_from_name(const char *s, size_t len)
{
	int i;

	if (!s)
		return -1;
	for (i = 0; i < EDGE_INFER_S_COUNT; i++)
		if (status_names[i] && strlen(status_names[i]) == len &&
		    memcmp(status_names[i], s, len) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------ model refs */

/* 1 if s[0..n) is 1..max characters of the class. */
static int class_ok(const uint8_t *s, size_t n, size_t max, int (*ok)(char))
{
	size_t i;

	if (n < 1 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!ok((char)s[i]))
			return 0;
	return 1;
}

int edge_infer_ref_valid(uint8_t kind, const uint8_t *ref, size_t len)
{
	const uint8_t *at;
	size_t name_len;

	if (!ref)
		return 0;
	switch (kind) {
	case EDGE_INFER_REF_SHA256:
		return len == EDGE_INFER_SHA256_LEN;
	case EDGE_INFER_REF_NAME:
		if (len < EDGE_INFER_NAME_REF_MIN || len > EDGE_INFER_REF_MAX)
			return 0;
		/* Neither class has '@', so the first one is the only one
		 * once both sides pass their class. */
		at = memchr(ref, '@', len);
		if (!at)
			return 0;
		name_len = (size_t)(at - ref);
		return class_ok(ref, name_len, EDGE_MSG_TOKEN_CAP - 1, edge_msg_name_char) &&
		       class_ok(at + 1, len - name_len - 1, EDGE_MSG_VERSION_CAP - 1,
				edge_msg_version_char);
	default:
		return 0;
	}
}

/* The ref length a kind allows, for the header check (the form is checked
 * once the bytes are known to be there). */
static int ref_length_ok(uint8_t kind, uint32_t len)
{
	if (kind == EDGE_INFER_REF_SHA256)
		return len == EDGE_INFER_SHA256_LEN;
	assert(kind == EDGE_INFER_REF_NAME);
	return len >= EDGE_INFER_NAME_REF_MIN && len <= EDGE_INFER_REF_MAX;
}

static int kind_known(uint32_t kind)
{
	return kind == EDGE_INFER_REF_SHA256 || kind == EDGE_INFER_REF_NAME;
}

/* ---------------------------------------------------------------- parsing */

static int reject(struct edge_msg_error *err, enum edge_msg_reject reason, const char *field,
		  size_t offset)
{
	return edge_msg_reject_offset(err, reason, field, offset);
}

static void clear_error(struct edge_msg_error *err)
{
	if (err) {
		err->reason = EDGE_MSG_OK;
		err->field[0] = '\0';
		err->offset = 0;
	}
}

/* The 8 common bytes and the header's length: magic (a short prefix that
 * already differs is not this protocol at all), a whole header, version
 * before anything else, then the type. */
static int open_msg(const uint8_t *p, size_t len, size_t hdr, uint8_t type,
		    struct edge_msg_error *err)
{
	size_t magic_len = len < sizeof magic_bytes ? len : sizeof magic_bytes;

	clear_error(err);
	if ((!p && len) || (p && memcmp(p, magic_bytes, magic_len) != 0))
		return reject(err, EDGE_MSG_BAD_MAGIC, "magic", 0);
	if (len < hdr)
		return reject(err, EDGE_MSG_TRUNCATED, "header", len);
	if (p[REQ(version)] != EDGE_INFER_VERSION)
		return reject(err, EDGE_MSG_UNSUPPORTED_VERSION, "version", REQ(version));
	if (p[REQ(type)] != type)
		return reject(err, EDGE_MSG_BAD_HEADER, "type", REQ(type));
	return 0;
}

/* The fields a request and a verify share at 12..19: input_length, the
 * model's kind and ref length, reserved. */
static int read_common(const uint8_t *p, uint32_t *input_length, struct edge_infer_ref *m,
		       struct edge_msg_error *err)
{
	*input_length = edge__le32(p + REQ(input_length));
	if (*input_length == 0)
		return reject(err, EDGE_MSG_BAD_HEADER, "input_length", REQ(input_length));
	m->kind = p[REQ(model_kind)];
	if (!kind_known(m->kind))
		return reject(err, EDGE_MSG_BAD_HEADER, "model_kind", REQ(model_kind));
	m->length = p[REQ(model_ref_length)];
	if (!ref_length_ok(m->kind, m->length))
		return reject(err, EDGE_MSG_BAD_HEADER, "model_ref_length",
			      REQ(model_ref_length));
	if (edge__le16(p + REQ(reserved)) != 0)
		return reject(err, EDGE_MSG_BAD_HEADER, "reserved", REQ(reserved));
	return 0;
}

/* The parts after a header of hdr bytes, in order, against len: each
 * missing part is truncated with its name and the input's length as the
 * offset, bytes after the last are trailing_bytes. */
struct part {
	const char *name;
	uint32_t length;
};

static int check_parts(size_t len, size_t hdr, const struct part *parts, size_t n,
		       struct edge_msg_error *err)
{
	uint64_t end = hdr;
	size_t i;

	for (i = 0; i < n; i++) {
		end += parts[i].length;
		if ((uint64_t)len < end)
			return reject(err, EDGE_MSG_TRUNCATED, parts[i].name, len);
	}
	if ((uint64_t)len > end)
		return reject(err, EDGE_MSG_TRAILING_BYTES, "", (size_t)end);
	return 0;
}

int edge_infer_req_parse(const void *buf, size_t len, struct edge_infer_req *out,
			 struct edge_msg_error *err)
{
	const uint8_t *p = buf;
	struct edge_infer_req r;
	struct part parts[2];
	int rc;

	assert(out);
	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	rc = open_msg(p, len, EDGE_INFER_REQ_HDR, EDGE_INFER_T_REQUEST, err);
	if (rc)
		return rc;
	r.deadline_ms = edge__le32(p + REQ(deadline_ms));
	if (r.deadline_ms < EDGE_INFER_DEADLINE_MIN || r.deadline_ms > EDGE_INFER_DEADLINE_MAX)
		return reject(err, EDGE_MSG_BAD_HEADER, "deadline_ms", REQ(deadline_ms));
	rc = read_common(p, &r.input_length, &r.model, err);
	if (rc)
		return rc;
	parts[0].name = "model_ref";
	parts[0].length = r.model.length;
	parts[1].name = "input";
	parts[1].length = r.input_length;
	rc = check_parts(len, EDGE_INFER_REQ_HDR, parts, 2, err);
	if (rc)
		return rc;
	r.model.ref = p + EDGE_INFER_REQ_HDR;
	if (!edge_infer_ref_valid(r.model.kind, r.model.ref, r.model.length))
		return reject(err, EDGE_MSG_BAD_HEADER, "model_ref", EDGE_INFER_REQ_HDR);
	r.input = r.model.ref + r.model.length;
	/* Unknown flag bits are kept, not refused: a later revision may set them. */
	r.flags = (uint16_t)edge__le16(p + REQ(flags));
	*out = r;
	return 0;
}

int edge_infer_resp_parse(const void *buf, size_t len, struct edge_infer_resp *out,
			  struct edge_msg_error *err)
{
	const uint8_t *p = buf;
	struct edge_infer_resp r;
	struct part part;
	int rc;

	assert(out);
	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	rc = open_msg(p, len, EDGE_INFER_RESP_HDR, EDGE_INFER_T_RESPONSE, err);
	if (rc)
		return rc;
	r.status = p[RESP(status)];
	if (r.status >= EDGE_INFER_S_COUNT)
		return reject(err, EDGE_MSG_BAD_HEADER, "status", RESP(status));
	if (p[RESP(reserved)] != 0)
		return reject(err, EDGE_MSG_BAD_HEADER, "reserved", RESP(reserved));
	r.top_class = (uint16_t)edge__le16(p + RESP(top_class));
	r.queued_us = edge__le32(p + RESP(queued_us));
	r.run_us = edge__le32(p + RESP(run_us));
	r.expected_input_bytes = edge__le32(p + RESP(expected_input_bytes));
	r.output_length = edge__le32(p + RESP(output_length));
	/* Fields in offset order; each rule depends only on the status and
	 * the output length, both read above. */
	if (r.top_class != EDGE_INFER_TOP_NONE &&
	    (r.status != EDGE_INFER_S_OK || r.top_class >= r.output_length))
		return reject(err, EDGE_MSG_BAD_HEADER, "top_class", RESP(top_class));
	if ((r.status == EDGE_INFER_S_BAD_INPUT) != (r.expected_input_bytes != 0))
		return reject(err, EDGE_MSG_BAD_HEADER, "expected_input_bytes",
			      RESP(expected_input_bytes));
	if ((r.status == EDGE_INFER_S_OK) != (r.output_length != 0))
		return reject(err, EDGE_MSG_BAD_HEADER, "output_length", RESP(output_length));
	part.name = "output";
	part.length = r.output_length;
	rc = check_parts(len, EDGE_INFER_RESP_HDR, &part, 1, err);
	if (rc)
		return rc;
	if (r.output_length)
		r.output = p + EDGE_INFER_RESP_HDR;
	r.flags = (uint16_t)edge__le16(p + RESP(flags));
	*out = r;
	return 0;
}

int edge_infer_verify_parse(const void *buf, size_t len, struct edge_infer_verify *out,
			    struct edge_msg_error *err)
{
	const uint8_t *p = buf;
	struct edge_infer_verify v;
	struct part parts[3];
	int rc;

	assert(out);
	memset(out, 0, sizeof *out);
	memset(&v, 0, sizeof v);
	rc = open_msg(p, len, EDGE_INFER_VERIFY_HDR, EDGE_INFER_T_VERIFY, err);
	if (rc)
		return rc;
	v.seq = edge__le32(p + VER(seq));
	rc = read_common(p, &v.input_length, &v.model, err);
	if (rc)
		return rc;
	v.output_length = edge__le32(p + VER(output_length));
	if (v.output_length == 0)
		return reject(err, EDGE_MSG_BAD_HEADER, "output_length", VER(output_length));
	parts[0].name = "model_ref";
	parts[0].length = v.model.length;
	parts[1].name = "input";
	parts[1].length = v.input_length;
	parts[2].name = "output";
	parts[2].length = v.output_length;
	rc = check_parts(len, EDGE_INFER_VERIFY_HDR, parts, 3, err);
	if (rc)
		return rc;
	v.model.ref = p + EDGE_INFER_VERIFY_HDR;
	if (!edge_infer_ref_valid(v.model.kind, v.model.ref, v.model.length))
		return reject(err, EDGE_MSG_BAD_HEADER, "model_ref", EDGE_INFER_VERIFY_HDR);
	v.input = v.model.ref + v.model.length;
	v.output = v.input + v.input_length;
	v.flags = (uint16_t)edge__le16(p + VER(flags));
	*out = v;
	return 0;
}

/* --------------------------------------------------------------- encoding */

/* -EINVAL when total is not representable as the returned int, -ENOSPC
 * when it does not fit cap, else 0. */
static int room(const void *buf, size_t cap, uint64_t total)
{
	if (total > (uint64_t)INT_MAX)
		return -EINVAL;
	if (!buf || (uint64_t)cap < total)
		return -ENOSPC;
	return 0;
}

static void put_common(uint8_t *b, uint8_t type)
{
	memcpy(b, magic_bytes, sizeof magic_bytes);
	b[REQ(version)] = EDGE_INFER_VERSION;
	b[REQ(type)] = type;
	/* No flag is defined in version 1. */
	edge__put_le16(b + REQ(flags), 0);
}

/* Bytes 12..19 of a request or a verify. */
static void put_model_fields(uint8_t *b, uint32_t input_length, const struct edge_infer_ref *m)
{
	edge__put_le32(b + REQ(input_length), input_length);
	b[REQ(model_kind)] = m->kind;
	b[REQ(model_ref_length)] = m->length;
	edge__put_le16(b + REQ(reserved), 0);
}

int edge_infer_req_encode(void *buf, size_t cap, const struct edge_infer_req *r)
{
	uint8_t *b = buf;
	uint64_t total;
	int rc;

	if (!r || r->deadline_ms < EDGE_INFER_DEADLINE_MIN ||
	    r->deadline_ms > EDGE_INFER_DEADLINE_MAX || r->input_length == 0 || !r->input ||
	    !edge_infer_ref_valid(r->model.kind, r->model.ref, r->model.length))
		return -EINVAL;
	total = EDGE_INFER_REQ_LEN(r->model.length, r->input_length);
	rc = room(b, cap, total);
	if (rc)
		return rc;
	/* The input first: it may lie at its place already, and the ref is
	 * written in front of it. memmove: either may overlap buf. */
	memmove(b + EDGE_INFER_REQ_HDR + r->model.length, r->input, r->input_length);
	memmove(b + EDGE_INFER_REQ_HDR, r->model.ref, r->model.length);
	put_common(b, EDGE_INFER_T_REQUEST);
	edge__put_le32(b + REQ(deadline_ms), r->deadline_ms);
	put_model_fields(b, r->input_length, &r->model);
	return (int)total;
}

int edge_infer_resp_encode(void *buf, size_t cap, const struct edge_infer_resp *r)
{
	uint8_t *b = buf;
	uint64_t total;
	int rc;

	if (!r || r->status >= EDGE_INFER_S_COUNT ||
	    (r->top_class != EDGE_INFER_TOP_NONE &&
	     (r->status != EDGE_INFER_S_OK || r->top_class >= r->output_length)) ||
	    (r->status == EDGE_INFER_S_BAD_INPUT) != (r->expected_input_bytes != 0) ||
	    (r->status == EDGE_INFER_S_OK) != (r->output_length != 0) ||
	    (r->output_length && !r->output))
		return -EINVAL;
	total = EDGE_INFER_RESP_LEN(r->output_length);
	rc = room(b, cap, total);
	if (rc)
		return rc;
	if (r->output_length)
		memmove(b + EDGE_INFER_RESP_HDR, r->output, r->output_length);
	put_common(b, EDGE_INFER_T_RESPONSE);
	b[RESP(status)] = r->status;
	b[RESP(reserved)] = 0;
	edge__put_le16(b + RESP(top_class), r->top_class);
	edge__put_le32(b + RESP(queued_us), r->queued_us);
	edge__put_le32(b + RESP(run_us), r->run_us);
	edge__put_le32(b + RESP(expected_input_bytes), r->expected_input_bytes);
	edge__put_le32(b + RESP(output_length), r->output_length);
	return (int)total;
}

int edge_infer_verify_encode(void *buf, size_t cap, const struct edge_infer_verify *v)
{
	uint8_t *b = buf;
	uint64_t total;
	size_t at;
	int rc;

	if (!v || v->input_length == 0 || !v->input || v->output_length == 0 || !v->output ||
	    !edge_infer_ref_valid(v->model.kind, v->model.ref, v->model.length))
		return -EINVAL;
	total = EDGE_INFER_VERIFY_LEN(v->model.length, v->input_length, v->output_length);
	rc = room(b, cap, total);
	if (rc)
		return rc;
	/* Back to front, so a part already at its place is not overwritten
	 * by the one before it. */
	at = EDGE_INFER_VERIFY_HDR + v->model.length;
	memmove(b + at + v->input_length, v->output, v->output_length);
	memmove(b + at, v->input, v->input_length);
	memmove(b + EDGE_INFER_VERIFY_HDR, v->model.ref, v->model.length);
	put_common(b, EDGE_INFER_T_VERIFY);
	edge__put_le32(b + VER(seq), v->seq);
	put_model_fields(b, v->input_length, &v->model);
	edge__put_le32(b + VER(output_length), v->output_length);
	return (int)total;
}

/* ---------------------------------------------------------------- helpers */

uint16_t edge_infer_top_class(const uint8_t *output, size_t length, bool is_signed)
{
	size_t i, best = 0;
	int best_v, v;

	if (!output || length == 0 || length > EDGE_INFER_TOP_NONE)
		return EDGE_INFER_TOP_NONE;
	/* int8 by two's complement, without relying on the cast's
	 * implementation-defined result. */
	best_v = is_signed && output[0] >= 0x80 ? (int)output[0] - 256 : (int)output[0];
	for (i = 1; i < length; i++) {
		v = is_signed && output[i] >= 0x80 ? (int)output[i] - 256 : (int)output[i];
		/* Strictly greater: a tie keeps the lower index. */
		if (v > best_v) {
			best_v = v;
			best = i;
		}
	}
	assert(best < EDGE_INFER_TOP_NONE);
	return (uint16_t)best;
}
