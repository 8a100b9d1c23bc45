/* Private to the OTA service (ota.c: the service, its transfers and their
 * persistence; ota_commands.c: the control commands and JSON shapes). */
#ifndef EDGED_OTA_INTERNAL_H
#define EDGED_OTA_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "edge_ota_fit.h"
#include "edge_ota_sender.h"
#include "edge_ota_store.h"
#include "edge_ota_verify.h"
#include "ota.h"

struct edged;
struct edged_ctl_call;

/* The trust set, shared by the verifications running on the pool: a
 * reload installs a new one, the old goes with its last user. */
struct ota_trust {
	unsigned refs;
	struct edge_ota_trust t;
};

/* One package file in memory, shared by the open transfers that send it. */
struct ota_pkg {
	struct ota_pkg *next;
	char digest[EDGE_OTA_DIGEST_HEX + 1];
	uint8_t *buf;
	size_t len;
	unsigned refs;
};

struct ota_xnode {
	char id[EDGE_OTA_NODE_ID_MAX + 1];
	bool dirty;     /* status changed since the last flush */
};

/* An open transfer. */
struct ota_xfer {
	struct ota_xfer *next;
	struct edged_ota *o;
	struct edge_ota_transfer_row row;
	struct edge_ota_model model;     /* copy: removal is refused while open */
	struct ota_pkg *pkg;
	struct edge_ota_sender *sender;
	struct ota_xnode *nodes;
	unsigned n_nodes;
	unsigned n_dirty;
	uint64_t dirty_since_ms;         /* monotonic: oldest unflushed change */
	bool flush_now;                  /* a final state: persist at once */
	bool cancelled;                  /* the whole transfer was cancelled */
};

/* A device's OTA history row, kept in memory for `device`. */
struct ota_dev {
	struct edge_ota_device_row row;
};

struct edged_ota {
	struct edged *d;
	uv_loop_t *loop;
	edge_store *store;
	edge_registry *registry;
	struct edged_mqtt *mqtt;          /* NULL once detached */
	char prefix[EDGE_CONFIG_NAME_MAX];
	char models_dir[EDGE_CONFIG_PATH_MAX];
	struct ota_trust *trust;          /* NULL: no trusted key */
	unsigned threshold;
	struct edge_ota_sender_config cfg; /* for new transfers */
	unsigned max_transfers;
	struct edge_ota_catalog *catalog;
	struct edge_ota_pacer pacer;
	uint32_t next_id;

	struct ota_xfer *xfers;           /* open, newest first */
	unsigned n_open;
	unsigned sends_pending;           /* ota.send waiting for its package read */
	struct ota_pkg *pkgs;
	json_t *finished[OTA_FINISHED_KEEP]; /* ring of TRANSFER summaries */
	unsigned fin_head, fin_n;

	struct ota_dev *devs;
	unsigned n_devs, cap_devs;

	uv_timer_t *timer;                /* own allocation: freed by its close */
	bool timer_open;
	bool stopping;
	bool freeing;
	unsigned jobs;                    /* pool work running */
	unsigned unlinks;                 /* package files being removed on the pool */
	uint64_t store_fail_log_ms;       /* last store-failure line */
	edged_ota_final_fn on_final;      /* the rollout service's hook, or NULL */
	void *on_final_ud;
	edged_ota_revert_fn on_revert;    /* the rollout service's revert answers, or NULL */
	void *on_revert_ud;
	struct edged_ota_stats stats;
};

/* ota.c */
struct edge_ota_device_row *ota_dev_find(const struct edged_ota *o, const char *id);
struct ota_xfer *ota_xfer_find(const struct edged_ota *o, uint32_t id);
/* The open transfer that holds node id (NULL: none). */
struct ota_xfer *ota_xfer_of_node(const struct edged_ota *o, const char *id);
bool ota_xfer_has_node(const struct ota_xfer *x, const char *id);
bool ota_digest_in_use(const struct edged_ota *o, const char *digest);
struct ota_pkg *ota_pkg_find(struct edged_ota *o, const char *digest);
/* Takes ownership of buf (freed on failure). NULL on ENOMEM. */
struct ota_pkg *ota_pkg_add(struct edged_ota *o, const char *digest, uint8_t *buf, size_t len);
void ota_pkg_unref(struct edged_ota *o, struct ota_pkg *p);
/* Starts a transfer of m to ids[0..n) (each registered, free, fitting).
 * cfg: its sender settings. 0 with *out, or a negative code. */
int ota_xfer_start(struct edged_ota *o, const struct edge_ota_model *m, struct ota_pkg *pkg,
		   const struct edge_ota_sender_config *cfg, char (*ids)[EDGE_OTA_NODE_ID_MAX + 1],
		   unsigned n, struct ota_xfer **out);
void ota_kick(struct edged_ota *o);
/* A fresh id from the transfers' id space (a revert's). */
uint32_t ota_take_id(struct edged_ota *o);
/* A revert frame (proto/ota/transfer.md) to node id: run the model whose
 * SHA-256 is sha256_hex again, from its other slot. QoS 1. 0 or < 0. */
int ota_revert_send(struct edged_ota *o, const char *id, uint32_t rid, const char *sha256_hex);
/* The node reverted (answer to revert rid): its previous model is active
 * again and the one it left is now its previous, in memory and the store. */
void ota_record_revert(struct edged_ota *o, const char *id, uint32_t rid);
struct ota_trust *ota_trust_ref(struct ota_trust *t);
void ota_trust_unref(struct ota_trust *t);
void ota_job_begin(struct edged_ota *o);
/* Returns true when the service was freed meanwhile and is now gone. */
bool ota_job_end(struct edged_ota *o);
void ota_store_failed(struct edged_ota *o, const char *what, int rc);
uint64_t ota_wall_ms(void);

/* ota_commands.c: JSON shapes */
json_t *ota_model_json(const struct edge_ota_model *m);
json_t *ota_transfer_json(const struct edged_ota *o, const struct ota_xfer *x,
			  const char *state);
json_t *ota_node_json(const struct edge_ota_node_status *st, uint32_t chunk_size,
		      uint64_t model_size, uint64_t now_wall_ms);

#endif
