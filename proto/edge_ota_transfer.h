/* The OTA transfer protocol's messages (proto/ota/transfer.md is the
 * normative text): the binary frames the gateway sends and the JSON
 * answers a node sends. Shared by the gateway (lib/ota, edged), the device
 * SDK's receiver (edge_ota_receiver.h) and the simulator. C99, libc only,
 * no allocation.
 *
 * Topics (node-protocol.md §3; <p> is the topic prefix, edge/v1):
 *   <p>/<id>/ota/frame            gw → node  binary frames: offer, chunk, cancel, revert (QoS 1
 *                                            offer, cancel and revert, QoS 0 chunks)
 *   <p>/_campaign/<t>/frame       gw → nodes chunk frames of transfer t (8 lowercase hex
 *                                            digits) published once for every node of a
 *                                            campaign; every node may read <p>/_campaign/#,
 *                                            none may write it. "_campaign" is reserved: no
 *                                            node may have it as id.
 *   <p>/<id>/ota/req/answer       node → gw  JSON: accept, deny, ack, result (QoS 1; ack QoS 0)
 *
 * Frame (all integers little-endian), EDGE_OTA_FRAME_HDR bytes of header
 * then `length` bytes of payload:
 *   0  u32 magic 0x41544F45 ("EOTA" in byte order)
 *   4  u8  version (1)
 *   5  u8  type (enum edge_ota_frame_type)
 *   6  u16 flags (0; a receiver ignores unknown bits)
 *   8  u32 transfer id (gateway-assigned, never 0)
 *   12 u32 index (chunk index; 0 for offer, cancel and revert)
 *   16 u32 length of the payload
 *   20 u32 CRC-32C (edge_ota_crc32c) of bytes 0..19 and of the payload
 *
 * Offer payload: u32 chunk_size (EDGE_OTA_CHUNK_MIN .. EDGE_OTA_CHUNK_MAX),
 * u32 n_chunks (= ceil(model size / chunk_size)), u32 flags (bit 0: the
 * chunks also come on the campaign topic of this transfer), u32 window (the
 * most chunks the gateway keeps in flight to this node, 1 ..
 * EDGE_OTA_WINDOW_MAX; 0: not stated), then the
 * package's head: its header, manifest and signature block, exactly as in
 * the package file (edge_ota_package.h); the model bytes follow as chunks.
 * Chunk payload: bytes [index * chunk_size, ...) of the model, chunk_size
 * of them except the last. Cancel payload: u8 reason (enum edge_ota_reason).
 * Revert payload: exactly EDGE_OTA_REVERT_PAYLOAD bytes, the raw SHA-256
 * of the model (the manifest's "sha256") the node must run again from its
 * other slot; the transfer id is a gateway-assigned id from the same space
 * as transfers, index 0. The node answers with a result (no accept, no
 * chunks): activated/ok with output_sha256, or failed with a reason
 * (not_held, rollback, busy, activate_failed, selftest_failed,
 * selftest_mismatch, storage_error).
 *
 * Answers (JSON objects, proto's strict reader; unknown keys ignored):
 *   {"proto":1,"msg":"accept","transfer":T,"sha256":H,"max_chunk":C,
 *    "window":W,"next":N,"have":"<hex>"}
 *   {"proto":1,"msg":"deny","transfer":T,"sha256":H,"reason":R,"detail":D}
 *   {"proto":1,"msg":"ack","transfer":T,"next":N,"have":"<hex>"}
 *   {"proto":1,"msg":"result","transfer":T,"sha256":H,"outcome":O,
 *    "reason":R,"output_sha256":H2}
 * `next` is the number of chunks held from index 0 without a gap; `have`
 * (optional) is a bitmap of the chunks after it: bit i (byte i/8, bit i%8,
 * least significant first) says chunk next+1+i is held (chunk `next` itself
 * never is, by definition), at most EDGE_OTA_HAVE_BITS bits, lowercase hex,
 * two digits a byte. Outcome: "activated" (reason "ok" and output_sha256
 * present), "reverted" (activated, then the self-test failed or did not
 * match: the previous model runs again) or "failed" (never activated). */
#ifndef EDGE_OTA_TRANSFER_H
#define EDGE_OTA_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_msg_reject.h"
#include "edge_node_msg.h"
#include "edge_ota_package.h"
#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_OTA_FRAME_MAGIC 0x41544F45u
#define EDGE_OTA_FRAME_VERSION 1
#define EDGE_OTA_FRAME_HDR 24
#define EDGE_OTA_CHUNK_MIN 64u
#define EDGE_OTA_CHUNK_MAX 16384u
#define EDGE_OTA_OFFER_FIXED 16          /* offer payload before the package head */
#define EDGE_OTA_REVERT_PAYLOAD 32       /* revert payload: the target model's SHA-256 */
#define EDGE_OTA_HAVE_BITS 2048u         /* selective bitmap after `next` */
#define EDGE_OTA_WINDOW_MAX 256u
#define EDGE_OTA_ANSWER_MAX 1024         /* longest answer a node sends, bytes */
#define EDGE_OTA_CAMPAIGN_ID "_campaign" /* reserved topic level, never a node id */
/* Largest offer (the largest head) and largest chunk frame; the largest
 * frame is the larger of the two (a chunk, 16408 bytes, with these values). */
#define EDGE_OTA_OFFER_FRAME_MAX                                                        \
	(EDGE_OTA_FRAME_HDR + EDGE_OTA_OFFER_FIXED + EDGE_OTA_HEADER_SIZE +                 \
	 EDGE_OTA_MANIFEST_MAX + EDGE_OTA_SIG_BLOCK_MAX)
#define EDGE_OTA_CHUNK_FRAME_MAX (EDGE_OTA_FRAME_HDR + EDGE_OTA_CHUNK_MAX)
#define EDGE_OTA_FRAME_MAX                                                              \
	(EDGE_OTA_OFFER_FRAME_MAX > EDGE_OTA_CHUNK_FRAME_MAX ? EDGE_OTA_OFFER_FRAME_MAX      \
							      : EDGE_OTA_CHUNK_FRAME_MAX)

enum edge_ota_frame_type {
	EDGE_OTA_FRAME_OFFER = 1,
	EDGE_OTA_FRAME_CHUNK = 2,
	EDGE_OTA_FRAME_CANCEL = 3,
	EDGE_OTA_FRAME_REVERT = 4,   /* run the model of the other slot again */
};

#define EDGE_OTA_OFFER_CAMPAIGN 0x1u

/* Why a node denies an offer, reports a failure or revert, or why the
 * gateway ends a node's transfer. Stable names (edge_ota_reason_name): the
 * wire, logs, counters and edgectl use them. Append only. */
enum edge_ota_reason {
	EDGE_OTA_R_OK = 0,              /* "ok" */
	EDGE_OTA_R_BUSY,                /* "busy": another transfer in progress */
	EDGE_OTA_R_ALREADY_HAVE,        /* "already_have": that model already runs */
	EDGE_OTA_R_INCOMPATIBLE,        /* "incompatible": runtime differs */
	EDGE_OTA_R_MISSING_OPS,         /* "missing_ops": an op the node lacks */
	EDGE_OTA_R_INSUFFICIENT_ARENA,  /* "insufficient_arena" */
	EDGE_OTA_R_INSUFFICIENT_FLASH,  /* "insufficient_flash": model larger than the slot */
	EDGE_OTA_R_ROLLBACK,            /* "rollback": counter below the one accepted */
	EDGE_OTA_R_UNSIGNED,            /* "unsigned" */
	EDGE_OTA_R_BAD_SIGNATURE,       /* "bad_signature" */
	EDGE_OTA_R_UNKNOWN_KEY,         /* "unknown_key" */
	EDGE_OTA_R_THRESHOLD_NOT_MET,   /* "threshold_not_met" */
	EDGE_OTA_R_EXPIRED,             /* "expired" */
	EDGE_OTA_R_MALFORMED,           /* "malformed": head or manifest does not parse */
	EDGE_OTA_R_CHUNK_SIZE,          /* "chunk_size": above the node's max_chunk */
	EDGE_OTA_R_SIZE_MISMATCH,       /* "size_mismatch": chunks beyond the manifest's size */
	EDGE_OTA_R_HASH_MISMATCH,       /* "hash_mismatch": the slot's SHA-256 is not the manifest's */
	EDGE_OTA_R_FLASH_ERROR,         /* "flash_error": erase/write/read failed */
	EDGE_OTA_R_STORAGE_ERROR,       /* "storage_error": persisting resume state failed */
	EDGE_OTA_R_ACTIVATE_FAILED,     /* "activate_failed" */
	EDGE_OTA_R_SELFTEST_FAILED,     /* "selftest_failed": the model did not run */
	EDGE_OTA_R_SELFTEST_MISMATCH,   /* "selftest_mismatch": output hash differs */
	EDGE_OTA_R_TIMEOUT,             /* "timeout": a step took longer than its bound */
	EDGE_OTA_R_CANCELLED,           /* "cancelled": the operator cancelled it */
	EDGE_OTA_R_SUPERSEDED,          /* "superseded": a newer offer replaced it */
	EDGE_OTA_R_INTERNAL,            /* "internal": the gateway failed */
	EDGE_OTA_R_NOT_HELD,            /* "not_held": a revert's model is not whole in the other slot */
	EDGE_OTA_R_COUNT
};
const char *edge_ota_reason_name(enum edge_ota_reason r);     /* "unknown" if out of range */
int edge_ota_reason_from_name(const char *s, size_t len);     /* -1 if unknown */

/* ---- frames (gateway → node) ---- */

struct edge_ota_frame {
	uint8_t type;                /* enum edge_ota_frame_type */
	uint16_t flags;
	uint32_t transfer;
	uint32_t index;
	const uint8_t *payload;      /* into the parsed buffer */
	uint32_t length;
};

/* Parse buf[0..len): magic, version, type, transfer != 0, length equal to
 * what follows the header, CRC. 0 or -EPROTO with *err; reasons
 * bad_magic, unsupported_version, bad_header (unknown type, transfer 0,
 * length), truncated, trailing_bytes, and for a CRC mismatch bad_header
 * with field "crc". */
int edge_ota_frame_parse(const void *buf, size_t len, struct edge_ota_frame *out,
			 struct edge_msg_error *err);

/* Write a frame (header + payload, CRC computed) into buf[0..cap).
 * Returns its length, -EINVAL or -ENOSPC. */
int edge_ota_frame_encode(void *buf, size_t cap, uint8_t type, uint32_t transfer,
			  uint32_t index, const void *payload, uint32_t length);

struct edge_ota_offer {
	uint32_t chunk_size;
	uint32_t n_chunks;
	uint32_t flags;              /* EDGE_OTA_OFFER_CAMPAIGN */
	uint32_t window;             /* the gateway's cap on chunks in flight, 0: not stated */
	const uint8_t *head;         /* package header + manifest + signature block */
	size_t head_len;
};

/* Offer payload of a parsed frame: sizes in range, n_chunks consistent with
 * the head's model size. The head itself is parsed by the caller
 * (edge_ota_container_parse). 0 or -EPROTO with *err. */
int edge_ota_offer_parse(const struct edge_ota_frame *f, struct edge_ota_offer *out,
			 struct edge_msg_error *err);

/* Write an offer frame. head[0..head_len) is copied. Length or -EINVAL/-ENOSPC. */
int edge_ota_offer_encode(void *buf, size_t cap, uint32_t transfer,
			  const struct edge_ota_offer *o);

/* Write a revert frame: run again the model whose SHA-256 is sha256 (raw
 * bytes). Length or -EINVAL (transfer 0, sha256 NULL) / -ENOSPC. */
int edge_ota_revert_encode(void *buf, size_t cap, uint32_t transfer, const uint8_t sha256[32]);

/* The target SHA-256 of a parsed revert frame into sha256_out. 0 or -EPROTO
 * with *err: bad_header "type" (not a revert), bad_header "length" (the
 * payload is not exactly EDGE_OTA_REVERT_PAYLOAD bytes). */
int edge_ota_revert_parse(const struct edge_ota_frame *f, uint8_t sha256_out[32],
			  struct edge_msg_error *err);

/* ---- answers (node → gateway) ---- */

enum edge_ota_msg_type {
	EDGE_OTA_MSG_ACCEPT = 1,
	EDGE_OTA_MSG_DENY,
	EDGE_OTA_MSG_ACK,
	EDGE_OTA_MSG_RESULT,
};

enum edge_ota_outcome {
	EDGE_OTA_OUTCOME_ACTIVATED = 1,
	EDGE_OTA_OUTCOME_REVERTED,
	EDGE_OTA_OUTCOME_FAILED,
};
const char *edge_ota_outcome_name(enum edge_ota_outcome o);

/* Held chunks: `next` contiguous from 0, then a bitmap of n_bits after it
 * (chunk next+1+i held when bit i is set). */
struct edge_ota_have {
	uint32_t next;
	uint32_t n_bits;             /* 0 .. EDGE_OTA_HAVE_BITS, a multiple of 8 */
	uint8_t bits[EDGE_OTA_HAVE_BITS / 8];
};

/* true when chunk i is held according to h. */
bool edge_ota_have_test(const struct edge_ota_have *h, uint32_t i);

struct edge_ota_answer {
	uint8_t type;                /* enum edge_ota_msg_type */
	uint32_t transfer;
	char sha256[EDGE_MSG_SHA256_HEX + 1];   /* accept, deny, result */
	uint32_t max_chunk;          /* accept */
	uint32_t window;             /* accept: 1 .. EDGE_OTA_WINDOW_MAX */
	struct edge_ota_have have;   /* accept, ack */
	uint8_t reason;              /* deny, result: enum edge_ota_reason */
	char detail[128];            /* deny: optional, printable */
	uint8_t outcome;             /* result: enum edge_ota_outcome */
	bool has_output;             /* result: output_sha256 present */
	char output_sha256[EDGE_MSG_SHA256_HEX + 1];
};

/* Strict parse of an answer. An unknown reason name parses as
 * EDGE_OTA_R_INTERNAL with the name kept in detail. 0 or -EPROTO with *err. */
int edge_ota_answer_parse(const void *buf, size_t len, struct edge_ota_answer *out,
			  struct edge_msg_error *err);

/* Compact JSON of a, NUL-terminated, only the fields of its type. Length,
 * -EINVAL or -ENOSPC. cap EDGE_OTA_ANSWER_MAX always suffices. */
int edge_ota_answer_encode(char *buf, size_t cap, const struct edge_ota_answer *a);

/* ---- topics ---- */

/* "<prefix>/_campaign/<transfer as 8 hex digits>/frame" into buf. prefix
 * NULL: "edge/v1". Length, -EINVAL or -ENOSPC. */
int edge_ota_campaign_topic(char *buf, size_t cap, const char *prefix, uint32_t transfer);

#ifdef __cplusplus
}
#endif

#endif
