/* The OTA transfer protocol's codec: binary frames (gateway → node) and
 * JSON answers (node → gateway). proto/ota/transfer.md is the normative
 * text; edge_ota_transfer.h states the layout.
 *
 * Frames are read and written byte by byte through the offsets of struct
 * edge_ota_frame_wire, never by copying a struct: the layout is the same
 * on every compiler and byte order. */
#include "edge_ota_transfer.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "edge_json.h"
#include "edge_bytes.h"
#include "edge_msg_internal.h"

/* ------------------------------------------------------------ frame layout */

/* The frame header as it is on the wire: only byte arrays, so no padding
 * and no alignment; the codec takes its offsets from here. */
struct edge_ota_frame_wire {
	uint8_t magic[4];
	uint8_t version;
	uint8_t type;
	uint8_t flags[2];
	uint8_t transfer[4];
	uint8_t index[4];
	uint8_t length[4];
	uint8_t crc[4];
};

/* proto/ is C99; GCC and clang accept C11's _Static_assert there as an
 * extension, anything else gets the negative-array trick. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define OTA_STATIC_ASSERT(c, what) _Static_assert(c, what)
#elif defined(__GNUC__)
#define OTA_STATIC_ASSERT(c, what) __extension__ _Static_assert(c, what)
#else
#define OTA_CAT2(a, b) a##b
#define OTA_CAT(a, b) OTA_CAT2(a, b)
#define OTA_STATIC_ASSERT(c, what) \
	typedef char OTA_CAT(ota_static_assert_, __LINE__)[(c) ? 1 : -1]
#endif

#define WIRE(f) offsetof(struct edge_ota_frame_wire, f)

OTA_STATIC_ASSERT(WIRE(magic) == 0, "magic at 0");
OTA_STATIC_ASSERT(WIRE(version) == 4, "version at 4");
OTA_STATIC_ASSERT(WIRE(type) == 5, "type at 5");
OTA_STATIC_ASSERT(WIRE(flags) == 6, "flags at 6");
OTA_STATIC_ASSERT(WIRE(transfer) == 8, "transfer at 8");
OTA_STATIC_ASSERT(WIRE(index) == 12, "index at 12");
OTA_STATIC_ASSERT(WIRE(length) == 16, "length at 16");
OTA_STATIC_ASSERT(WIRE(crc) == 20, "crc at 20");
OTA_STATIC_ASSERT(sizeof(struct edge_ota_frame_wire) == EDGE_OTA_FRAME_HDR,
		  "header is EDGE_OTA_FRAME_HDR bytes");
/* encode returns an int length. */
OTA_STATIC_ASSERT(EDGE_OTA_FRAME_MAX < 0x7fffffffL, "frame length fits an int");

/* Offer payload: chunk_size, n_chunks, flags, window. */
#define OFFER_CHUNK_SIZE 0
#define OFFER_N_CHUNKS 4
#define OFFER_FLAGS 8
#define OFFER_WINDOW 12
OTA_STATIC_ASSERT(OFFER_WINDOW + 4 == EDGE_OTA_OFFER_FIXED, "offer fixed part");

/* Where the package header keeps the model size (edge_ota_package.h). */
#define PKG_MODEL_SIZE 20

#define OFFER_PAYLOAD_MIN (EDGE_OTA_OFFER_FIXED + EDGE_OTA_HEADER_SIZE)
#define OFFER_PAYLOAD_MAX (EDGE_OTA_OFFER_FRAME_MAX - EDGE_OTA_FRAME_HDR)
#define OFFER_KNOWN_FLAGS EDGE_OTA_OFFER_CAMPAIGN

/* Most chunks a transfer has: the largest model in the smallest chunks.
 * Bounds `next` so next + 1 + i never wraps. */
#define OTA_CHUNKS_MAX (EDGE_OTA_MODEL_MAX / EDGE_OTA_CHUNK_MIN)

/* ----------------------------------------------------------------- reasons */

static const char *const reason_names[EDGE_OTA_R_COUNT] = {
	[EDGE_OTA_R_OK] = "ok",
	[EDGE_OTA_R_BUSY] = "busy",
	[EDGE_OTA_R_ALREADY_HAVE] = "already_have",
	[EDGE_OTA_R_INCOMPATIBLE] = "incompatible",
	[EDGE_OTA_R_MISSING_OPS] = "missing_ops",
	[EDGE_OTA_R_INSUFFICIENT_ARENA] = "insufficient_arena",
	[EDGE_OTA_R_INSUFFICIENT_FLASH] = "insufficient_flash",
	[EDGE_OTA_R_ROLLBACK] = "rollback",
	[EDGE_OTA_R_UNSIGNED] = "unsigned",
	[EDGE_OTA_R_BAD_SIGNATURE] = "bad_signature",
	[EDGE_OTA_R_UNKNOWN_KEY] = "unknown_key",
	[EDGE_OTA_R_THRESHOLD_NOT_MET] = "threshold_not_met",
	[EDGE_OTA_R_EXPIRED] = "expired",
	[EDGE_OTA_R_MALFORMED] = "malformed",
	[EDGE_OTA_R_CHUNK_SIZE] = "chunk_size",
	[EDGE_OTA_R_SIZE_MISMATCH] = "size_mismatch",
	[EDGE_OTA_R_HASH_MISMATCH] = "hash_mismatch",
	[EDGE_OTA_R_FLASH_ERROR] = "flash_error",
	[EDGE_OTA_R_STORAGE_ERROR] = "storage_error",
	[EDGE_OTA_R_ACTIVATE_FAILED] = "activate_failed",
	[EDGE_OTA_R_SELFTEST_FAILED] = "selftest_failed",
	[EDGE_OTA_R_SELFTEST_MISMATCH] = "selftest_mismatch",
	[EDGE_OTA_R_TIMEOUT] = "timeout",
	[EDGE_OTA_R_CANCELLED] = "cancelled",
	[EDGE_OTA_R_SUPERSEDED] = "superseded",
	[EDGE_OTA_R_INTERNAL] = "internal",
	[EDGE_OTA_R_NOT_HELD] = "not_held",
};

const char *edge_ota_reason_name(enum edge_ota_reason r)
{
	if ((unsigned)r >= EDGE_OTA_R_COUNT || !reason_names[r])
		return "unknown";
	return reason_names[r];
}

int edge_ota_reason_from_name(const char *s, size_t len)
{
	int i;

	if (!s)
		return -1;
	for (i = 0; i < EDGE_OTA_R_COUNT; i++)
		if (reason_names[i] && strlen(reason_names[i]) == len &&
		    memcmp(reason_names[i], s, len) == 0)
			return i;
	return -1;
}

static const char *const outcome_names[] = {
	[EDGE_OTA_OUTCOME_ACTIVATED] = "activated",
	[EDGE_OTA_OUTCOME_REVERTED] = "reverted",
	[EDGE_OTA_OUTCOME_FAILED] = "failed",
};

const char *edge_ota_outcome_name(enum edge_ota_outcome o)
{
	if ((unsigned)o >= EDGE_N_ELEMS(outcome_names) || !outcome_names[o])
		return "unknown";
	return outcome_names[o];
}

static const char *const msg_names[] = {
	[EDGE_OTA_MSG_ACCEPT] = "accept",
	[EDGE_OTA_MSG_DENY] = "deny",
	[EDGE_OTA_MSG_ACK] = "ack",
	[EDGE_OTA_MSG_RESULT] = "result",
};

/* ------------------------------------------------------------------ frames */

static int frame_reject(struct edge_msg_error *err, enum edge_msg_reject reason,
			const char *field, size_t offset)
{
	return edge_msg_reject_offset(err, reason, field, offset);
}

static int type_known(uint32_t type)
{
	return type == EDGE_OTA_FRAME_OFFER || type == EDGE_OTA_FRAME_CHUNK ||
	       type == EDGE_OTA_FRAME_CANCEL || type == EDGE_OTA_FRAME_REVERT;
}

/* The payload lengths a frame of type may have. */
static void length_bounds(uint32_t type, uint32_t *min, uint32_t *max)
{
	switch (type) {
	case EDGE_OTA_FRAME_OFFER:
		*min = OFFER_PAYLOAD_MIN;
		*max = OFFER_PAYLOAD_MAX;
		return;
	case EDGE_OTA_FRAME_CHUNK:
		*min = 1;
		*max = EDGE_OTA_CHUNK_MAX;
		return;
	case EDGE_OTA_FRAME_REVERT:
		*min = EDGE_OTA_REVERT_PAYLOAD;
		*max = EDGE_OTA_REVERT_PAYLOAD;
		return;
	default:
		assert(type == EDGE_OTA_FRAME_CANCEL);
		*min = 1;
		*max = 1;
		return;
	}
}

int edge_ota_frame_parse(const void *buf, size_t len, struct edge_ota_frame *out,
			 struct edge_msg_error *err)
{
	static const uint8_t magic[4] = { 0x45, 0x4f, 0x54, 0x41 };
	const uint8_t *p = buf;
	size_t magic_len = len < sizeof magic ? len : sizeof magic;
	uint32_t type, length, lmin, lmax;

	assert(out);
	memset(out, 0, sizeof *out);
	if (err) {
		err->reason = EDGE_MSG_OK;
		err->field[0] = '\0';
		err->offset = 0;
	}
	/* A short prefix that is already wrong is not a frame at all. */
	if ((!p && len) || (p && memcmp(p, magic, magic_len) != 0))
		return frame_reject(err, EDGE_MSG_BAD_MAGIC, "magic", WIRE(magic));
	if (len < EDGE_OTA_FRAME_HDR)
		return frame_reject(err, EDGE_MSG_TRUNCATED, "header", len);
	/* The version before the rest: a newer frame says so. */
	if (p[WIRE(version)] != EDGE_OTA_FRAME_VERSION)
		return frame_reject(err, EDGE_MSG_UNSUPPORTED_VERSION, "version",
				    WIRE(version));
	length = edge__le32(p + WIRE(length));
	if (length > EDGE_OTA_FRAME_MAX - EDGE_OTA_FRAME_HDR)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "length", WIRE(length));
	if (len - EDGE_OTA_FRAME_HDR < length)
		return frame_reject(err, EDGE_MSG_TRUNCATED, "payload", len);
	if (len - EDGE_OTA_FRAME_HDR > length)
		return frame_reject(err, EDGE_MSG_TRAILING_BYTES, "",
				    EDGE_OTA_FRAME_HDR + (size_t)length);
	/* The CRC before the fields' meaning: a damaged frame is reported as
	 * damaged, not as whatever its flipped bits happen to say. */
	if (edge__le32(p + WIRE(crc)) !=
	    edge_ota_crc32c(edge_ota_crc32c(0, p, WIRE(crc)), p + EDGE_OTA_FRAME_HDR, length))
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "crc", WIRE(crc));
	type = p[WIRE(type)];
	if (!type_known(type))
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "type", WIRE(type));
	out->transfer = edge__le32(p + WIRE(transfer));
	if (out->transfer == 0)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "transfer", WIRE(transfer));
	out->index = edge__le32(p + WIRE(index));
	if (type != EDGE_OTA_FRAME_CHUNK && out->index != 0)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "index", WIRE(index));
	length_bounds(type, &lmin, &lmax);
	if (length < lmin || length > lmax)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "length", WIRE(length));

	out->type = (uint8_t)type;
	/* Unknown flag bits are kept, not refused: a later revision may set them. */
	out->flags = (uint16_t)edge__le16(p + WIRE(flags));
	out->payload = p + EDGE_OTA_FRAME_HDR;
	out->length = length;
	return 0;
}

/* Header and CRC of a frame whose payload is already at buf + HDR. */
static int finish_frame(uint8_t *buf, uint8_t type, uint32_t transfer, uint32_t index,
			uint32_t length)
{
	buf[WIRE(magic) + 0] = 0x45; /* 'E' */
	buf[WIRE(magic) + 1] = 0x4f; /* 'O' */
	buf[WIRE(magic) + 2] = 0x54; /* 'T' */
	buf[WIRE(magic) + 3] = 0x41; /* 'A' */
	buf[WIRE(version)] = EDGE_OTA_FRAME_VERSION;
	buf[WIRE(type)] = type;
	edge__put_le16(buf + WIRE(flags), 0);
	edge__put_le32(buf + WIRE(transfer), transfer);
	edge__put_le32(buf + WIRE(index), index);
	edge__put_le32(buf + WIRE(length), length);
	edge__put_le32(buf + WIRE(crc), edge_ota_crc32c(edge_ota_crc32c(0, buf, WIRE(crc)),
						buf + EDGE_OTA_FRAME_HDR, length));
	return (int)(EDGE_OTA_FRAME_HDR + length);
}

/* The checks frame_parse makes, for the encoder. */
static int frame_valid(uint8_t type, uint32_t transfer, uint32_t index, uint32_t length)
{
	uint32_t lmin, lmax;

	if (!type_known(type) || transfer == 0 ||
	    (type != EDGE_OTA_FRAME_CHUNK && index != 0))
		return 0;
	length_bounds(type, &lmin, &lmax);
	return length >= lmin && length <= lmax;
}

int edge_ota_frame_encode(void *buf, size_t cap, uint8_t type, uint32_t transfer,
			  uint32_t index, const void *payload, uint32_t length)
{
	uint8_t *b = buf;

	if (!frame_valid(type, transfer, index, length) || !payload)
		return -EINVAL;
	if (!b || cap < EDGE_OTA_FRAME_HDR || cap - EDGE_OTA_FRAME_HDR < length)
		return -ENOSPC;
	/* memmove: the caller may have built the payload in place at buf + HDR. */
	memmove(b + EDGE_OTA_FRAME_HDR, payload, length);
	return finish_frame(b, type, transfer, index, length);
}

/* ------------------------------------------------------------------- offer */

/* Chunks of chunk_size that hold size bytes. */
static uint64_t chunks_for(uint64_t size, uint32_t chunk_size)
{
	assert(chunk_size > 0);
	return size / chunk_size + (size % chunk_size != 0);
}

int edge_ota_offer_parse(const struct edge_ota_frame *f, struct edge_ota_offer *out,
			 struct edge_msg_error *err)
{
	const uint8_t *p;
	uint64_t model_size;
	size_t at = EDGE_OTA_FRAME_HDR; /* error offsets are the frame's */

	assert(f && out);
	memset(out, 0, sizeof *out);
	if (err) {
		err->reason = EDGE_MSG_OK;
		err->field[0] = '\0';
		err->offset = 0;
	}
	if (f->type != EDGE_OTA_FRAME_OFFER)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "type", WIRE(type));
	p = f->payload;
	if (!p || f->length < OFFER_PAYLOAD_MIN)
		return frame_reject(err, EDGE_MSG_TRUNCATED, "head", at + f->length);
	out->chunk_size = edge__le32(p + OFFER_CHUNK_SIZE);
	out->n_chunks = edge__le32(p + OFFER_N_CHUNKS);
	out->flags = edge__le32(p + OFFER_FLAGS);
	if (out->chunk_size < EDGE_OTA_CHUNK_MIN || out->chunk_size > EDGE_OTA_CHUNK_MAX) {
		memset(out, 0, sizeof *out);
		return frame_reject(err, EDGE_MSG_OUT_OF_RANGE, "chunk_size",
				    at + OFFER_CHUNK_SIZE);
	}
	out->window = edge__le32(p + OFFER_WINDOW);
	if (out->window > EDGE_OTA_WINDOW_MAX) {
		memset(out, 0, sizeof *out);
		return frame_reject(err, EDGE_MSG_OUT_OF_RANGE, "window", at + OFFER_WINDOW);
	}
	/* The head's own header is checked by edge_ota_container_parse; here
	 * only the size the chunk count must agree with. */
	model_size = edge__le64(p + EDGE_OTA_OFFER_FIXED + PKG_MODEL_SIZE);
	if (model_size == 0 || model_size > EDGE_OTA_MODEL_MAX) {
		memset(out, 0, sizeof *out);
		return frame_reject(err, EDGE_MSG_OUT_OF_RANGE, "model_size",
				    at + EDGE_OTA_OFFER_FIXED + PKG_MODEL_SIZE);
	}
	if (out->n_chunks != chunks_for(model_size, out->chunk_size)) {
		memset(out, 0, sizeof *out);
		return frame_reject(err, EDGE_MSG_INCONSISTENT, "n_chunks", at + OFFER_N_CHUNKS);
	}
	/* Unknown flag bits are ignored, as the frame's. */
	out->head = p + EDGE_OTA_OFFER_FIXED;
	out->head_len = f->length - EDGE_OTA_OFFER_FIXED;
	return 0;
}

int edge_ota_offer_encode(void *buf, size_t cap, uint32_t transfer,
			  const struct edge_ota_offer *o)
{
	uint8_t *b = buf;
	uint64_t model_size;
	uint32_t length;

	if (!o || !o->head || o->head_len < EDGE_OTA_HEADER_SIZE ||
	    o->head_len > OFFER_PAYLOAD_MAX - EDGE_OTA_OFFER_FIXED || transfer == 0 ||
	    o->chunk_size < EDGE_OTA_CHUNK_MIN || o->chunk_size > EDGE_OTA_CHUNK_MAX ||
	    (o->flags & ~(uint32_t)OFFER_KNOWN_FLAGS) != 0 || o->window > EDGE_OTA_WINDOW_MAX)
		return -EINVAL;
	model_size = edge__le64(o->head + PKG_MODEL_SIZE);
	if (model_size == 0 || model_size > EDGE_OTA_MODEL_MAX ||
	    o->n_chunks != chunks_for(model_size, o->chunk_size))
		return -EINVAL;
	length = (uint32_t)(EDGE_OTA_OFFER_FIXED + o->head_len);
	if (!b || cap < EDGE_OTA_FRAME_HDR || cap - EDGE_OTA_FRAME_HDR < length)
		return -ENOSPC;
	/* The head first (it may already sit in buf), then the fixed part. */
	memmove(b + EDGE_OTA_FRAME_HDR + EDGE_OTA_OFFER_FIXED, o->head, o->head_len);
	edge__put_le32(b + EDGE_OTA_FRAME_HDR + OFFER_CHUNK_SIZE, o->chunk_size);
	edge__put_le32(b + EDGE_OTA_FRAME_HDR + OFFER_N_CHUNKS, o->n_chunks);
	edge__put_le32(b + EDGE_OTA_FRAME_HDR + OFFER_FLAGS, o->flags);
	edge__put_le32(b + EDGE_OTA_FRAME_HDR + OFFER_WINDOW, o->window);
	return finish_frame(b, EDGE_OTA_FRAME_OFFER, transfer, 0, length);
}

/* ------------------------------------------------------------------ revert */

int edge_ota_revert_encode(void *buf, size_t cap, uint32_t transfer, const uint8_t sha256[32])
{
	if (!sha256 || transfer == 0)
		return -EINVAL;
	return edge_ota_frame_encode(buf, cap, EDGE_OTA_FRAME_REVERT, transfer, 0, sha256,
				     EDGE_OTA_REVERT_PAYLOAD);
}

int edge_ota_revert_parse(const struct edge_ota_frame *f, uint8_t sha256_out[32],
			  struct edge_msg_error *err)
{
	assert(f && sha256_out);
	if (err) {
		err->reason = EDGE_MSG_OK;
		err->field[0] = '\0';
		err->offset = 0;
	}
	if (f->type != EDGE_OTA_FRAME_REVERT)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "type", WIRE(type));
	/* frame_parse holds every revert to this; a frame built by hand may not. */
	if (!f->payload || f->length != EDGE_OTA_REVERT_PAYLOAD)
		return frame_reject(err, EDGE_MSG_BAD_HEADER, "length", WIRE(length));
	memcpy(sha256_out, f->payload, EDGE_OTA_REVERT_PAYLOAD);
	return 0;
}

/* ------------------------------------------------------------- have bitmap */

bool edge_ota_have_test(const struct edge_ota_have *h, uint32_t i)
{
	uint32_t d;

	assert(h && h->n_bits <= EDGE_OTA_HAVE_BITS);
	if (i < h->next)
		return true;
	if (i == h->next)
		return false;
	d = i - h->next - 1;
	if (d >= h->n_bits)
		return false;
	return (h->bits[d / 8] >> (d % 8) & 1u) != 0;
}

/* ----------------------------------------------------------------- answers */

/* Tokens an answer parser holds (20 bytes each on the gateway's stack):
 * the largest answer has 8 members (17 tokens); the rest is room for keys a
 * later revision adds. */
#define ANSWER_TOKENS 64
/* get_reason keeps an unknown reason's name in detail. */
OTA_STATIC_ASSERT(EDGE_MSG_TOKEN_CAP <= sizeof(((struct edge_ota_answer *)0)->detail),
		  "a reason name fits in detail");

static int printable(char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int reason_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static struct edge_msg_path top(const char *key)
{
	struct edge_msg_path p = { key, -1, NULL, -1 };

	return p;
}

/* Member key of the answer: its token, -ENOENT when absent and optional,
 * -EPROTO (missing_field) when required. */
static int member(struct edge_msg_ctx *c, const char *key, int required)
{
	int t = edge_json_obj_get(&c->doc, 0, key);

	if (t >= 0)
		return t;
	if (required)
		return edge_msg_reject_key(c, EDGE_MSG_MISSING_FIELD, key, -1);
	return -ENOENT;
}

static int get_u32(struct edge_msg_ctx *c, const char *key, uint64_t min, uint64_t max,
		   uint32_t *out)
{
	uint64_t v;

	assert(max <= UINT32_MAX);
	if (edge_msg_get_uint(c, key, min, max, &v) < 0)
		return -EPROTO;
	*out = (uint32_t)v;
	return 0;
}

static int get_hash(struct edge_msg_ctx *c, const char *key, int required,
		    char out[EDGE_MSG_SHA256_HEX + 1])
{
	int t = member(c, key, required);

	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return edge_msg_reject_key(c, EDGE_MSG_WRONG_TYPE, key, t);
	if (edge_json_get_str(&c->doc, t, out, EDGE_MSG_SHA256_HEX + 1, NULL) < 0 ||
	    !edge_msg_sha256_ok(out)) {
		out[0] = '\0';
		return edge_msg_reject_key(c, EDGE_MSG_BAD_HASH, key, t);
	}
	return 0;
}

/* String member key (1 .. cap-1 characters of class ok) into out. */
static int get_class(struct edge_msg_ctx *c, const char *key, int required, char *out,
		     size_t cap, int (*ok)(char), size_t *n)
{
	struct edge_msg_path p = top(key);
	enum edge_msg_reject r;
	int t = member(c, key, required);

	if (t < 0)
		return t;
	if (edge_msg_read_string(c, t, &p, out, cap, n) < 0)
		return -EPROTO;
	r = edge_msg_check_class(out, *n, cap - 1, ok);
	if (r != EDGE_MSG_OK)
		return edge_msg_reject_key(c, r, key, t);
	return t;
}

/* `next` (required) and `have` (optional) into h. */
static int get_have(struct edge_msg_ctx *c, struct edge_ota_have *h)
{
	char hex[EDGE_OTA_HAVE_BITS / 4 + 1];
	size_t n = 0, i;
	int t;

	if (get_u32(c, "next", 0, OTA_CHUNKS_MAX, &h->next) < 0)
		return -EPROTO;
	t = get_class(c, "have", 0, hex, sizeof hex, edge_msg_lower_hex, &n);
	if (t == -ENOENT)
		return 0;
	if (t < 0)
		return t;
	/* Two digits a byte: an odd count is not a bitmap. */
	if (n % 2)
		return edge_msg_reject_key(c, EDGE_MSG_BAD_STRING, "have", t);
	for (i = 0; i < n; i += 2)
		h->bits[i / 2] = (uint8_t)(edge__hex_val(hex[i]) << 4 | edge__hex_val(hex[i + 1]));
	h->n_bits = (uint32_t)(n * 4);
	return 0;
}

/* "reason" (required): a known name, or any well-formed name as
 * EDGE_OTA_R_INTERNAL with the name in detail (a newer node may send
 * reasons this revision does not know). */
static int get_reason(struct edge_msg_ctx *c, struct edge_ota_answer *a)
{
	char name[EDGE_MSG_TOKEN_CAP];
	size_t n = 0;
	int t, r;

	t = get_class(c, "reason", 1, name, sizeof name, reason_char, &n);
	if (t < 0)
		return t;
	r = edge_ota_reason_from_name(name, n);
	if (r < 0) {
		a->reason = EDGE_OTA_R_INTERNAL;
		memcpy(a->detail, name, n + 1);
	} else {
		a->reason = (uint8_t)r;
	}
	return t;
}

static int get_msg_type(struct edge_msg_ctx *c, uint8_t *type)
{
	size_t i;
	int t = member(c, "msg", 1);

	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return edge_msg_reject_key(c, EDGE_MSG_WRONG_TYPE, "msg", t);
	for (i = 1; i < EDGE_N_ELEMS(msg_names); i++)
		if (edge_json_str_eq(&c->doc, t, msg_names[i])) {
			*type = (uint8_t)i;
			return 0;
		}
	return edge_msg_reject_key(c, EDGE_MSG_BAD_ENUM, "msg", t);
}

static int get_outcome(struct edge_msg_ctx *c, uint8_t *outcome)
{
	size_t i;
	int t = member(c, "outcome", 1);

	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return edge_msg_reject_key(c, EDGE_MSG_WRONG_TYPE, "outcome", t);
	for (i = 1; i < EDGE_N_ELEMS(outcome_names); i++)
		if (edge_json_str_eq(&c->doc, t, outcome_names[i])) {
			*outcome = (uint8_t)i;
			return 0;
		}
	return edge_msg_reject_key(c, EDGE_MSG_BAD_ENUM, "outcome", t);
}

static int parse_deny(struct edge_msg_ctx *c, struct edge_ota_answer *a)
{
	char detail[sizeof a->detail];
	size_t n = 0;
	int t;

	t = get_reason(c, a);
	if (t < 0)
		return t;
	/* Denying with "ok" says nothing: the node would have accepted. */
	if (a->reason == EDGE_OTA_R_OK)
		return edge_msg_reject_key(c, EDGE_MSG_INCONSISTENT, "reason", t);
	t = get_class(c, "detail", 0, detail, sizeof detail, printable, &n);
	if (t == -ENOENT)
		return 0;
	if (t < 0)
		return t;
	if (a->detail[0] == '\0') {
		memcpy(a->detail, detail, n + 1);
	} else {
		/* An unknown reason keeps its name first: "<name>: <detail>",
		 * cut to what detail holds. */
		size_t at = strlen(a->detail), i;

		for (i = 0; i < 2 + n && at + 1 < sizeof a->detail; i++)
			a->detail[at++] = i < 2 ? ": "[i] : detail[i - 2];
		a->detail[at] = '\0';
	}
	return 0;
}

static int parse_result(struct edge_msg_ctx *c, struct edge_ota_answer *a)
{
	int t, t_out;

	if (get_outcome(c, &a->outcome) < 0)
		return -EPROTO;
	t = get_reason(c, a);
	if (t < 0)
		return t;
	t_out = get_hash(c, "output_sha256", 0, a->output_sha256);
	if (t_out == -EPROTO)
		return t_out;
	a->has_output = t_out == 0;
	/* activated means ok with the self-test's output; anything else has
	 * a reason why not. */
	if (a->outcome == EDGE_OTA_OUTCOME_ACTIVATED) {
		if (a->reason != EDGE_OTA_R_OK)
			return edge_msg_reject_key(c, EDGE_MSG_INCONSISTENT, "reason", t);
		if (!a->has_output)
			return edge_msg_reject_key(c, EDGE_MSG_MISSING_FIELD, "output_sha256", -1);
	} else if (a->reason == EDGE_OTA_R_OK) {
		return edge_msg_reject_key(c, EDGE_MSG_INCONSISTENT, "reason", t);
	}
	return 0;
}

static int parse_answer_body(struct edge_msg_ctx *c, void *msg)
{
	struct edge_ota_answer *a = msg;

	if (get_msg_type(c, &a->type) < 0 ||
	    get_u32(c, "transfer", 1, UINT32_MAX, &a->transfer) < 0)
		return -EPROTO;
	if (a->type != EDGE_OTA_MSG_ACK && get_hash(c, "sha256", 1, a->sha256) < 0)
		return -EPROTO;
	switch (a->type) {
	case EDGE_OTA_MSG_ACCEPT:
		if (get_u32(c, "max_chunk", EDGE_OTA_CHUNK_MIN, EDGE_OTA_CHUNK_MAX,
			    &a->max_chunk) < 0 ||
		    get_u32(c, "window", 1, EDGE_OTA_WINDOW_MAX, &a->window) < 0)
			return -EPROTO;
		return get_have(c, &a->have);
	case EDGE_OTA_MSG_ACK:
		return get_have(c, &a->have);
	case EDGE_OTA_MSG_DENY:
		return parse_deny(c, a);
	default:
		assert(a->type == EDGE_OTA_MSG_RESULT);
		return parse_result(c, a);
	}
}

int edge_ota_answer_parse(const void *buf, size_t len, struct edge_ota_answer *out,
			  struct edge_msg_error *err)
{
	struct edge_json_tok toks[ANSWER_TOKENS];

	assert(out);
	/* Longer than any answer a node writes: refused before parsing. */
	if (len > EDGE_OTA_ANSWER_MAX) {
		memset(out, 0, sizeof *out);
		return edge_msg_reject_offset(err, EDGE_MSG_TOO_LARGE, "", EDGE_OTA_ANSWER_MAX);
	}
	if (edge_msg_parse(buf, len, err, out, sizeof *out, toks, ANSWER_TOKENS,
			   EDGE_MSG_MAX_DEPTH, parse_answer_body) < 0) {
		memset(out, 0, sizeof *out);
		return -EPROTO;
	}
	return 0;
}

/* ----------------------------------------------------------------- encoder */

/* s is a NUL-terminated string of 0 .. cap-1 characters of class ok
 * (min_len 1: not empty). */
static int text_ok(const char *s, size_t cap, size_t min_len, int (*ok)(char))
{
	size_t n;

	for (n = 0; n < cap && s[n]; n++)
		if (!ok(s[n]))
			return 0;
	return n < cap && n >= min_len;
}

static int have_valid(const struct edge_ota_have *h)
{
	return h->next <= OTA_CHUNKS_MAX && h->n_bits <= EDGE_OTA_HAVE_BITS &&
	       h->n_bits % 8 == 0;
}

static int answer_valid(const struct edge_ota_answer *a)
{
	if (a->transfer == 0)
		return 0;
	if (a->type != EDGE_OTA_MSG_ACK && !edge_msg_sha256_ok(a->sha256))
		return 0;
	switch (a->type) {
	case EDGE_OTA_MSG_ACCEPT:
		return a->max_chunk >= EDGE_OTA_CHUNK_MIN && a->max_chunk <= EDGE_OTA_CHUNK_MAX &&
		       a->window >= 1 && a->window <= EDGE_OTA_WINDOW_MAX && have_valid(&a->have);
	case EDGE_OTA_MSG_ACK:
		return have_valid(&a->have);
	case EDGE_OTA_MSG_DENY:
		return a->reason != EDGE_OTA_R_OK && a->reason < EDGE_OTA_R_COUNT &&
		       text_ok(a->detail, sizeof a->detail, 0, printable);
	case EDGE_OTA_MSG_RESULT:
		if (a->reason >= EDGE_OTA_R_COUNT ||
		    (a->has_output && !edge_msg_sha256_ok(a->output_sha256)))
			return 0;
		if (a->outcome == EDGE_OTA_OUTCOME_ACTIVATED)
			return a->reason == EDGE_OTA_R_OK && a->has_output;
		return (a->outcome == EDGE_OTA_OUTCOME_REVERTED ||
			a->outcome == EDGE_OTA_OUTCOME_FAILED) &&
		       a->reason != EDGE_OTA_R_OK;
	default:
		return 0;
	}
}

static void put_member(struct edge_msg_out *o, const char *key, const char *s)
{
	edge_msg_out_str(o, ",\"");
	edge_msg_out_str(o, key);
	edge_msg_out_str(o, "\":\"");
	edge_msg_out_str(o, s);
	edge_msg_out_n(o, "\"", 1);
}

static void put_uint_member(struct edge_msg_out *o, const char *key, uint64_t v)
{
	edge_msg_out_str(o, ",\"");
	edge_msg_out_str(o, key);
	edge_msg_out_str(o, "\":");
	edge_msg_out_uint(o, v);
}

/* Printable ASCII needs only '"' and '\\' escaped. */
static void put_detail(struct edge_msg_out *o, const char *s)
{
	edge_msg_out_str(o, ",\"detail\":\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			edge_msg_out_n(o, "\\", 1);
		edge_msg_out_n(o, s, 1);
	}
	edge_msg_out_n(o, "\"", 1);
}

static void put_have(struct edge_msg_out *o, const struct edge_ota_have *h)
{
	static const char digits[] = "0123456789abcdef";
	uint32_t i;

	put_uint_member(o, "next", h->next);
	if (h->n_bits == 0)
		return;
	edge_msg_out_str(o, ",\"have\":\"");
	for (i = 0; i < h->n_bits / 8; i++) {
		edge_msg_out_n(o, &digits[h->bits[i] >> 4], 1);
		edge_msg_out_n(o, &digits[h->bits[i] & 0xfu], 1);
	}
	edge_msg_out_n(o, "\"", 1);
}

int edge_ota_answer_encode(char *buf, size_t cap, const struct edge_ota_answer *a)
{
	struct edge_msg_out o = { buf, cap, 0 };

	if (!a || !answer_valid(a))
		return -EINVAL;
	if (!buf)
		return -ENOSPC;
	edge_msg_out_str(&o, "{\"proto\":");
	edge_msg_out_uint(&o, EDGE_PROTO_VERSION);
	put_member(&o, "msg", msg_names[a->type]);
	put_uint_member(&o, "transfer", a->transfer);
	if (a->type != EDGE_OTA_MSG_ACK)
		put_member(&o, "sha256", a->sha256);
	switch (a->type) {
	case EDGE_OTA_MSG_ACCEPT:
		put_uint_member(&o, "max_chunk", a->max_chunk);
		put_uint_member(&o, "window", a->window);
		put_have(&o, &a->have);
		break;
	case EDGE_OTA_MSG_ACK:
		put_have(&o, &a->have);
		break;
	case EDGE_OTA_MSG_DENY:
		put_member(&o, "reason", edge_ota_reason_name((enum edge_ota_reason)a->reason));
		if (a->detail[0])
			put_detail(&o, a->detail);
		break;
	default:
		assert(a->type == EDGE_OTA_MSG_RESULT);
		put_member(&o, "outcome", edge_ota_outcome_name((enum edge_ota_outcome)a->outcome));
		put_member(&o, "reason", edge_ota_reason_name((enum edge_ota_reason)a->reason));
		if (a->has_output)
			put_member(&o, "output_sha256", a->output_sha256);
		break;
	}
	edge_msg_out_n(&o, "}", 1);
	return edge_msg_out_finish(&o);
}

/* ------------------------------------------------------------------ topics */

/* A prefix of non-empty topic levels, no wildcards, no NUL inside. */
static int prefix_valid(const char *s)
{
	size_t i, level = 0;

	for (i = 0; s[i]; i++) {
		if (s[i] == '+' || s[i] == '#')
			return 0;
		if (s[i] == '/') {
			if (level == 0)
				return 0;
			level = 0;
			continue;
		}
		level++;
	}
	return level > 0 && i < EDGE_TOPIC_MAX_LEN;
}

int edge_ota_campaign_topic(char *buf, size_t cap, const char *prefix, uint32_t transfer)
{
	static const char digits[] = "0123456789abcdef";
	struct edge_msg_out o = { buf, cap, 0 };
	char hex[8];
	int i;

	if (!prefix)
		prefix = "edge/v1";
	if (!prefix_valid(prefix) || transfer == 0)
		return -EINVAL;
	if (!buf)
		return -ENOSPC;
	for (i = 0; i < 8; i++)
		hex[i] = digits[transfer >> (28 - 4 * i) & 0xfu];
	edge_msg_out_str(&o, prefix);
	edge_msg_out_str(&o, "/" EDGE_OTA_CAMPAIGN_ID "/");
	edge_msg_out_n(&o, hex, sizeof hex);
	edge_msg_out_str(&o, "/frame");
	return edge_msg_out_finish(&o);
}
