/* Private to the offload service (offload.c: models, requests, verifies;
 * offload_commands.c: control commands and JSON shapes). */
#ifndef EDGED_OFFLOAD_INTERNAL_H
#define EDGED_OFFLOAD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "edge_infer_msg.h"
#include "edge_node_msg.h"
#include "edge_offload_pool.h"
#include "edge_offload_store.h"
#include "edge_ota_store.h"
#include "edge_store.h"
#include "offload.h"

/* Nodes with verify counters (the least recently seen unflagged goes). */
#define OFFLOAD_NODES_MAX 4096
/* A verify's re-run may wait in the queue this long. */
#define OFFLOAD_VERIFY_DEADLINE_MS 60000

struct edged_ota;

/* An enabled model. */
struct off_model {
	char digest[EDGE_OTA_DIGEST_HEX + 1];  /* the package's */
	char sha[EDGE_MSG_SHA256_HEX + 1];     /* the .tflite's: the pool's key */
	char name[EDGE_MSG_TOKEN_CAP], version[EDGE_MSG_TOKEN_CAP];
	int64_t enabled_ms;
	bool loading;                          /* its package is read on the pool */
	bool in_pool;                          /* registered with the worker pool */
	bool offloadable;                      /* the engine can run it (once in_pool) */
	char reason[EDGE_OFFLOAD_REASON_MAX];
	size_t input_bytes, output_bytes, interpreter_bytes;
	uint64_t macs;
	uint64_t matches, mismatches;          /* shadow verification */
};

/* A request or verify the pool holds: what its answer or comparison needs. */
struct off_pending {
	bool used;
	uint32_t gen;                          /* tag = gen << 32 | index */
	bool verify;
	char id[EDGE_OFFLOAD_NODE_ID_MAX + 1];
	int qos;
	uint8_t corr[EDGE_INFER_CORR_MAX];
	size_t corr_len;
	/* verify */
	char digest[EDGE_OTA_DIGEST_HEX + 1];
	uint32_t seq;
	uint8_t *node_output;
	size_t node_output_len;
	uint8_t input_sha_raw[32];
	char input_sha[65];
};

struct off_node {
	char id[EDGE_OFFLOAD_NODE_ID_MAX + 1];
	uint64_t matches, mismatches;
	bool flagged;
	uint64_t seen;                         /* o->clock when last seen */
};

/* One shadow-verification mismatch, the evidence: as stored
 * (edge_offload_store.h). */
#define off_mismatch edge_offload_mismatch_row

/* A shadow-sampling rule: "id:<node>" or "tag:<tag>". */
struct off_rule {
	char target[EDGE_OFFLOAD_TARGET_MAX + 1];
	int permille;
};

struct off_stats {
	uint64_t requests, outcomes[EDGE_INFER_S_COUNT];
	uint64_t no_response_topic, reply_failed, unknown_sub, load_skipped, nodes_evicted;
	uint64_t verify_received, verify_matches, verify_mismatches, verify_not_held,
		verify_busy, verify_malformed;
};

struct edged_offload {
	struct edged *d;
	uv_loop_t *loop;
	edge_store *store;
	struct edged_ota *ota;
	struct edged_mqtt *mqtt;
	char prefix[EDGE_CONFIG_NAME_MAX];
	edge_offload_pool *pool;
	uv_async_t *async;                     /* own allocation: freed by its close */
	bool stopping, freeing;
	unsigned jobs;                         /* package reads on the pool */
	struct off_model *models;
	unsigned n_models, cap_models;
	struct off_pending *pend;
	unsigned n_pend, pend_next;
	struct off_node *nodes;
	unsigned n_nodes;
	uint64_t clock;
	struct off_rule *rules;                /* shadow sampling per node or tag */
	unsigned n_rules;
	struct off_mismatch *mm;               /* ring, newest last */
	unsigned mm_cap, mm_head, mm_n;
	struct off_stats stats;
};

/* offload.c */
struct off_model *off_model_by_digest(struct edged_offload *o, const char *digest);
struct off_model *off_model_add(struct edged_offload *o, const char *digest, int64_t enabled_ms);
void off_model_remove(struct edged_offload *o, struct off_model *m);
void off_model_load(struct edged_offload *o, struct off_model *m);
/* Stores mismatch evidence (the writer thread). */
void off_mismatch_store(struct edged_offload *o, const struct edge_offload_mismatch_row *e);
/* Sets (permille >= 0) or drops (-1) a rule in memory. -ENOMEM. */
int off_rule_set(struct edged_offload *o, const char *target, int permille);

#endif
