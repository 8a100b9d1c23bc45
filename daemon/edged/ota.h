/* The OTA service of edged: the model store (verified, content-addressed
 * packages, lib/ota/edge_ota_store.h) and the transfers that deliver them
 * to nodes (one edge_ota_sender each, lib/ota/edge_ota_sender.h).
 *
 * Trust: the *.pub keys of ota.trust_dir (re-read on reload). Without a
 * trusted key models.add and ota.send answer `no_trust`: nothing is ever
 * accepted unverified.
 *
 * models.add reads and verifies the file on libuv's pool (trust set,
 * ota.threshold, wall clock), writes it content-addressed into
 * ota.models_dir, and inserts it through the store's writer after the
 * catalog's duplicate and anti-rollback checks (the writer checks again
 * against the tables). The reply comes once the row committed.
 *
 * ota.send resolves the targets (registry; unknown, revoked, busy in
 * another open transfer and non-fitting nodes are skipped with a reason),
 * reads the package (on the pool; one buffer per package, shared by the
 * open transfers that send it), persists the transfer and its nodes, and
 * runs a sender. Frames go out with edged_mqtt_publish_frame; one that is
 * refused (back-pressure, disconnected) counts as lost and the sender
 * sends it again. One timer per service follows the earliest deadline of
 * all senders; node statuses are persisted coalesced (dirty nodes once a
 * second, at once on a final state), with the device's OTA history row on
 * a final state. A transfer whose nodes are all final is finished: its
 * row gets finished_ms, its sender goes, and a summary stays in a ring of
 * the last OTA_FINISHED_KEEP for ota.status.
 *
 * Restart: open transfers are rebuilt from the store at start (same id,
 * nodes with their persisted status) and offered again; a node's accept
 * tells what it already holds.
 *
 * Threading: loop thread, except the file work on libuv's pool. */
#ifndef EDGED_OTA_H
#define EDGED_OTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge_config.h"
#include "edge_error.h"
#include "edge_ota_transfer.h"
#include "edge_registry.h"

struct edged;
struct edged_ctl_call;
struct edged_ota;

#define OTA_FINISHED_KEEP 32
/* Coalesced persistence of node statuses. */
#define OTA_FLUSH_INTERVAL_MS 1000

struct edged_ota_stats {
	unsigned models;
	unsigned transfers_open;
	uint64_t transfers_total;      /* created since start (rebuilt ones not counted) */
	uint64_t nodes_activated, nodes_reverted, nodes_failed, nodes_denied, nodes_cancelled;
	uint64_t bad_answers;          /* unparsable, unknown transfer, contradicting */
	uint64_t frames_lost;          /* publishes refused (back-pressure, offline) */
	uint64_t store_failures;       /* OTA store operations that failed */
	uint64_t reverts_sent;         /* revert frames published (rollout revert) */
	uint64_t reasons[EDGE_OTA_R_COUNT]; /* per final state's reason */
};

/* Creates the service: the trust set, the catalog, the device rows and the
 * open transfers (blocking reads through edge_store_read: before the loop
 * runs). Needs d->store, d->registry, d->mqtt and d->config. A transfer
 * whose package cannot be read is closed (logged). -ENOMEM or a store
 * error (logged). */
EDGE_WUR int edged_ota_new(struct edged *d, struct edged_ota **out);

/* Graceful stop: pending statuses flushed to the store, no more frames,
 * new commands `unavailable`. NULL-safe, idempotent. */
void edged_ota_stop(struct edged_ota *o);

/* Before the MQTT client goes: nothing more is published. NULL-safe. */
void edged_ota_detach(struct edged_ota *o);

/* After the store was closed (its completions point into the service).
 * Pool work still running keeps the memory until it is back. NULL-safe. */
void edged_ota_free(struct edged_ota *o);

/* Reload: the trust set (ota.trust_dir), threshold, rate and the tunables
 * of transfers created from now on. */
void edged_ota_apply_settings(struct edged_ota *o, const struct edge_settings *s);

/* A parsed answer of node `id` (registered, not revoked). 0, EDGE_ENOTFOUND
 * (no open transfer of that id holds the node) or -EPROTO (the answer
 * contradicts the transfer); both counted as bad answers: the caller logs
 * them (rate-limited). */
int edged_ota_on_answer(struct edged_ota *o, const char *id, const struct edge_ota_answer *a);

/* An answer that did not parse (counted). */
void edged_ota_bad_answer(struct edged_ota *o);

/* A registry event of a node: online/offline for the transfers it is in. */
void edged_ota_node_event(struct edged_ota *o, const char *id, enum edge_registry_event ev);

void edged_ota_get_stats(const struct edged_ota *o, struct edged_ota_stats *out);

/* The rollout service (rollout.h) learns each final node state: fn runs on
 * the loop thread from inside a sender's callback, so it must not start,
 * cancel or finish transfers itself (it defers that). One hook; NULL fn
 * removes it. */
struct edge_ota_node_status;
typedef void (*edged_ota_final_fn)(void *ud, uint32_t transfer,
				   const struct edge_ota_node_status *st);
void edged_ota_set_final_hook(struct edged_ota *o, edged_ota_final_fn fn, void *ud);

/* Answers that name no open transfer go to this hook first (the rollout
 * service's reverts, ota_revert_send): it returns 0 when it took the
 * answer, EDGE_ENOTFOUND when not (counted as a bad answer). */
struct edge_ota_answer;
typedef int (*edged_ota_revert_fn)(void *ud, const char *id, const struct edge_ota_answer *a);
void edged_ota_set_revert_hook(struct edged_ota *o, edged_ota_revert_fn fn, void *ud);

/* The "ota" block of status, and of device (its OTA history). NULL on
 * ENOMEM. */
json_t *edged_ota_status_json(const struct edged_ota *o);
json_t *edged_ota_device_json(const struct edged_ota *o, const char *id);

/* Control commands (proto/control-protocol.md). ud is struct edged. */
int edged_ota_cmd_models_add(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			     size_t msglen);
int edged_ota_cmd_models_list(void *ud, json_t *args, json_t **result, char *msg,
			      size_t msglen);
int edged_ota_cmd_models_show(void *ud, json_t *args, json_t **result, char *msg,
			      size_t msglen);
int edged_ota_cmd_models_remove(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
				size_t msglen);
int edged_ota_cmd_models_fit(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_ota_cmd_send(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		       size_t msglen);
int edged_ota_cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_ota_cmd_cancel(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);

#endif
