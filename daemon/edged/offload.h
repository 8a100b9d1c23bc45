/* The offload service (issue 11; proto/infer/offload.md): nodes send an
 * input tensor on <p>/<id>/infer/req and get the output on the Response
 * Topic; nodes send a sample of their own inferences on infer/verify and
 * the gateway re-runs them bit-exactly (shadow verification).
 *
 * Models: stored packages (the OTA model store) an operator enabled with
 * `offload.enable` (kept in SQLite, schema 11). Enabling reads the package
 * on libuv's pool, then registers the model bytes with lib/offload's worker
 * pool (edge_offload_pool.h), which checks on the loop that the engine can
 * run it (a few milliseconds). Requests name a model by the SHA-256 of its
 * .tflite or by NAME@VERSION.
 *
 * A request is answered at once when it is refused (no valid Response
 * Topic: dropped and counted; malformed, unknown model, not enabled, bad
 * input, busy, deadline) and otherwise when the pool finishes it: the pool
 * notifies through a uv_async, the loop drains and publishes each response
 * with the request's Correlation Data (edged_mqtt_publish_reply: never
 * queued; refused under back-pressure and counted reply_failed).
 *
 * Verify: the node's input runs on the pool for the same model (enabled:
 * the gateway holds its bytes, by SHA-256); the outputs are compared byte
 * by byte. A mismatch is logged with the first differing byte, counted per
 * node and model, the node is flagged (devices, devices show) and the
 * evidence kept (offload.mismatches_keep, in memory and in SQLite, so a
 * restart keeps both; `offload.clear` drops a node's). Verify messages are
 * never answered.
 *
 * Bounds: the pool's queue and per-node caps; pending requests (their
 * Correlation Data and reply topic) at most queue_max plus the workers;
 * verify inputs likewise; per-node verify counters for at most
 * OFFLOAD_NODES_MAX nodes (the least recently seen unflagged one goes).
 *
 * Threading: the loop; the pool's workers only through lib/offload. */
#ifndef EDGED_OFFLOAD_H
#define EDGED_OFFLOAD_H

#include <jansson.h>

#include "edge_error.h"
#include "mqtt.h"

struct edged;
struct edged_offload;

/* Loads the enabled models (blocking read before the loop runs, their
 * packages then on the pool) and starts the workers. Needs d->store,
 * d->ota, d->mqtt, d->config. NULL *out (and 0) when offload.enabled is
 * false. -ENOMEM or a store error. */
EDGE_WUR int edged_offload_new(struct edged *d, struct edged_offload **out);
/* No new request; queued ones are answered internal. NULL-safe. */
void edged_offload_stop(struct edged_offload *o);
/* After the loop ran the close callbacks' turn. NULL-safe. */
void edged_offload_free(struct edged_offload *o);

/* A message on <p>/<id>/infer/<sub> (the router checked the id). */
void edged_offload_on_message(struct edged_offload *o, const char *id, const char *sub,
			      size_t sub_len, const struct edged_mqtt_message *in);

/* The "offload" block of status; of devices show for node id (NULL when
 * the node has no offload history). NULL on ENOMEM. */
json_t *edged_offload_status_json(const struct edged_offload *o);
json_t *edged_offload_device_json(const struct edged_offload *o, const char *id);
/* The shadow-sampling share (per thousand) for node n: its own rule
 * ("id:"), else the largest rule of its tags ("tag:"), else
 * offload.verify_permille; 0 when o is NULL. */
struct edge_node_info;
int edged_offload_verify_permille(const struct edged_offload *o, const struct edge_node_info *n);
/* true when node id is flagged by shadow verification. */
bool edged_offload_flagged(const struct edged_offload *o, const char *id);

/* Control commands (proto/control-protocol.md "Offload"); ud is struct edged. */
int edged_offload_cmd_list(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_offload_cmd_enable(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_offload_cmd_disable(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_offload_cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_offload_cmd_mismatches(void *ud, json_t *args, json_t **result, char *msg,
				 size_t msglen);
int edged_offload_cmd_verify(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_offload_cmd_clear(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);

#endif
