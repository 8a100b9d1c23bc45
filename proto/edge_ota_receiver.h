/* The node's OTA receiver (device SDK): offer → accept/deny → chunks into
 * the inactive slot → acks → verify → activate → self-test → result.
 * proto/ota/receiver.md is the normative description of its behaviour
 * (proto/ota/transfer.md §6 points there).
 *
 * The receiver enforces the gateway's rules with the node's own trust
 * anchors: a threshold of distinct trusted keys over the exact manifest
 * bytes, anti-rollback per model name (the platform keeps the highest
 * counter accepted), expiry (when the platform knows the wall clock), the
 * exact model size and its SHA-256 (read back from the slot), compatibility
 * with its own runtime, ops, arena and slot size.
 *
 * Resume: what is held (model SHA-256, chunk size, the bitmap) is saved
 * through state_save before every ack, so an ack never claims a chunk a
 * reboot could lose; an offer of the same SHA-256 and chunk size after a
 * reboot (state_load at init) accepts with what is held.
 *
 * Storage: the caller provides struct edge_ota_rx (static or heap; about
 * 8.5 KB on Cortex-M4 with the defaults below: two manifests (the
 * transfer's and an offer's being checked), the resume record with its
 * bitmap and one work buffer). Nothing is allocated; no global state.
 *
 * Time: now_ms is the caller's monotonic millisecond clock (64-bit, no
 * wrap), the same for every call. Call edge_ota_rx_tick at least every
 * 100 ms while a transfer is in progress (edge_ota_rx_busy).
 *
 * Thread: none of its own; not thread-safe. C99, libc only. */
#ifndef EDGE_OTA_RECEIVER_H
#define EDGE_OTA_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_ota_package.h"
#include "edge_ota_transfer.h"
#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_OTA_RX_CHUNKS_MAX 8192u      /* bitmap bits: 8192 chunks (8 MB at 1 KB) */
#define EDGE_OTA_RX_WORK 1024u            /* read-back buffer for the hash */
#define EDGE_OTA_RX_TRUST_MAX 4
#define EDGE_OTA_RX_ACK_DELAY_MS 50u      /* ack at most this long after a chunk */
#define EDGE_OTA_RX_IDLE_MS 1000u         /* re-ack while nothing arrives */
#define EDGE_OTA_RX_STALL_MS 120000u      /* give up a transfer nothing arrives for */

/* Resume state as saved and loaded (opaque to the platform: store the bytes). */
#define EDGE_OTA_RX_STATE_MAX (64 + EDGE_OTA_RX_CHUNKS_MAX / 8)

struct edge_ota_platform {
	void *ud;
	uint32_t slot_size;                      /* bytes of the inactive slot */

	/* The inactive slot. Return 0 or a negative error. erase(len) makes
	 * [0, len) writable; write never crosses what erase covered. */
	int (*slot_erase)(void *ud, uint32_t len);
	int (*slot_write)(void *ud, uint32_t off, const void *buf, uint32_t n);
	int (*slot_read)(void *ud, uint32_t off, void *buf, uint32_t n);

	/* Resume state: save replaces the stored bytes (0 or < 0); load copies
	 * them out (their length, 0 for none, < 0 on error). */
	int (*state_save)(void *ud, const void *buf, size_t len);
	int (*state_load)(void *ud, void *buf, size_t cap);

	/* Anti-rollback: the highest security counter accepted for name (0:
	 * none), and raising it when a model of that name activates. */
	uint64_t (*counter_get)(void *ud, const char *name);
	int (*counter_set)(void *ud, const char *name, uint64_t counter);

	/* SHA-256 of the bytes given between begin and end (one at a time). */
	void (*sha256_begin)(void *ud);
	void (*sha256_update)(void *ud, const void *buf, size_t len);
	void (*sha256_end)(void *ud, uint8_t out[32]);

	/* true when sig is a valid signature with alg by the trust anchor
	 * key_id over msg (the platform holds the public keys; trusted[]
	 * below lists their ids). */
	bool (*verify)(void *ud, uint8_t alg, const uint8_t key_id[EDGE_OTA_KEY_ID_LEN],
		       const void *msg, size_t len, const uint8_t *sig, size_t sig_len);

	/* Switch to the slot's model; run the self-test on it (input from
	 * edge_ota_selftest_input(seed) in input 0, others zero; SHA-256 of
	 * output 0 into out; < 0 when it did not run) -- m is then the model
	 * that runs, also after a revert; revert: switch to the other slot's
	 * model (after a failed self-test of m: the previous one again; for a
	 * revert frame: m, the model slot_manifest described, then, if its
	 * self-test fails, once more to go back). */
	int (*activate)(void *ud, const struct edge_ota_manifest *m);
	int (*selftest)(void *ud, const struct edge_ota_manifest *m, uint8_t out[32]);
	int (*revert)(void *ud, const struct edge_ota_manifest *m);

	/* Wall clock in ms since the epoch, 0 when unknown (expiry then is not
	 * checked; the gateway checked it). May be NULL. */
	uint64_t (*wall_ms)(void *ud);

	/* Publish an answer (JSON) on <p>/<id>/ota/req/answer; QoS 0 when ack. */
	int (*send)(void *ud, const char *json, size_t len, bool is_ack);

	/* Subscribe to (on) or leave (!on) the campaign topic of transfer. */
	int (*campaign)(void *ud, uint32_t transfer, bool on);

	/* Revert frames (may be NULL: every revert answers not_held). The
	 * manifest of the model the inactive slot holds whole -- the one that
	 * ran before the last activation or revert -- into m: 0; < 0 when the
	 * slot holds none (erased, partly written, never had one). */
	int (*slot_manifest)(void *ud, struct edge_ota_manifest *m);
};

struct edge_ota_rx_config {
	const char *runtime;                     /* the node's runtime name, e.g. "tflm" */
	const char *const *ops;                  /* the ops it can run */
	unsigned n_ops;
	uint32_t arena_bytes;
	const char *active_sha256;               /* hex of the running model, NULL: none */
	unsigned n_trusted;                      /* 1 .. EDGE_OTA_RX_TRUST_MAX */
	uint8_t trusted[EDGE_OTA_RX_TRUST_MAX][EDGE_OTA_KEY_ID_LEN];
	unsigned threshold;                      /* 0 counts as 1 */
	uint32_t max_chunk;                      /* 0: EDGE_OTA_CHUNK_MAX */
	uint32_t window;                         /* 0: 16 */
};

enum edge_ota_rx_state {
	EDGE_OTA_RX_IDLE = 0,
	EDGE_OTA_RX_RECEIVING,
	EDGE_OTA_RX_DONE,                        /* result sent; idle for the next offer */
};

struct edge_ota_rx_stats {
	uint32_t offers, accepts, denies;
	uint32_t chunks, duplicates, bad_frames, out_of_range;
	uint32_t acks;
	uint32_t activated, reverted, failed;
	uint32_t reasons[EDGE_OTA_R_COUNT];      /* every deny/failure by reason */
	uint8_t last_reason;
	uint32_t reverts, revert_failures;       /* revert frames answered activated / failed */
};

struct edge_ota_rx {
	/* private: the caller never reads or writes these (proto/ota/receiver.md
	 * §8 and §9 explain them) */
	struct edge_ota_platform p;
	struct edge_ota_rx_config cfg;           /* defaults applied; active_sha256 NULL */
	char active_sha256[EDGE_MSG_SHA256_HEX + 1];   /* lowercase, "" for none */
	uint8_t state;                           /* enum edge_ota_rx_state */
	bool resumable;                          /* st[] describes what the slot holds */
	bool campaign;                           /* subscribed to campaign_transfer's topic */
	bool unacked;                            /* a chunk arrived since the last ack */
	bool active_known;                       /* manifest is the running model's (idle only) */
	uint32_t transfer, campaign_transfer;
	uint32_t chunk_size, n_chunks, held, next, since_ack, ack_every;
	uint64_t model_size;
	uint8_t sha[32];                         /* the model's SHA-256 (transfer or st[]) */
	uint64_t last_rx_ms, last_ack_ms, first_unacked_ms;
	struct edge_ota_manifest manifest;       /* the transfer's; idle: the running model's */
	struct edge_ota_manifest offer;          /* scratch: the offer or revert target checked */
	uint8_t st[EDGE_OTA_RX_STATE_MAX];       /* resume record: 64-byte head, bitmap */
	uint8_t work[EDGE_OTA_RX_WORK];          /* slot read-back; answer JSON */
	struct edge_ota_rx_stats stats;
};

/* Copy p and cfg (ops and runtime strings must outlive the receiver), load
 * the resume state. 0 or -EINVAL. */
int edge_ota_rx_init(struct edge_ota_rx *rx, const struct edge_ota_platform *p,
		     const struct edge_ota_rx_config *cfg);

/* A message arrived on <p>/<id>/ota/frame or the campaign topic. Bad
 * frames are counted and dropped (never answered); an offer is answered
 * accept or deny; the last missing chunk triggers verify → activate →
 * self-test → result, inside this call; a revert frame switches to the
 * other slot's model, self-tests it and answers a result, inside this call
 * (receiver.md §10). Returns 0, or -EPROTO for a frame that was dropped. */
int edge_ota_rx_on_frame(struct edge_ota_rx *rx, const void *buf, size_t len, uint64_t now_ms);

/* Timers: delayed and idle acks, the stall bound. */
void edge_ota_rx_tick(struct edge_ota_rx *rx, uint64_t now_ms);

/* The active model changed outside OTA (or after a result): its SHA-256. */
void edge_ota_rx_set_active(struct edge_ota_rx *rx, const char *sha256_hex);

bool edge_ota_rx_busy(const struct edge_ota_rx *rx);
const struct edge_ota_rx_stats *edge_ota_rx_stats(const struct edge_ota_rx *rx);

#ifdef __cplusplus
}
#endif

#endif
