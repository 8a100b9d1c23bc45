/* Staged rollouts (issue 10): a stored model goes to the targets stage by
 * stage, canary first, then cumulative waves (lib/rollout/edge_rollout_plan.h),
 * each stage one OTA transfer (ota.h). After each final node state the stage
 * is judged (edge_rollout_judge.h): failures beyond --max-failures halt the
 * rollout at once (no new stage; the stage's own transfer runs to its end).
 * A stage whose nodes are all final and that passed soaks for soak_s, then
 * the next stage starts. The last stage passing makes the rollout done.
 *
 * Outcomes: activated is success; denied, failed, reverted and cancelled
 * are failures (a self-test failure or mismatch counts as
 * selftest_mismatch).
 *
 * One rollout per model name at a time (unfinished: running, soaking,
 * paused, halted); a node is never in two unfinished rollouts, nor started
 * while another transfer holds it.
 *
 * Persisted (lib/rollout/edge_rollout_store.h, schemas 9 and 10): the row at every
 * change of state or stage, each node's outcome as it is decided, every
 * decision as an event (also logged at NOTICE). After a restart a running
 * stage whose transfer is still open goes on with the OTA service's own
 * resume (the row keeps the transfer id); outcomes decided while edged was
 * down are read from the OTA device history; a soak starts its timer again.
 *
 * An activated node is a success once the registry shows it online with
 * the new model (rollout.online_timeout_s, else not_online); a node not
 * decided rollout.node_timeout_s after its stage started fails (offline:
 * not_online). Each soak runs model-aware health looks (rollout_health.c);
 * `rollout revert` and auto-revert send nodes back (rollout_revert.c).
 *
 * Threading: loop thread; the package read on libuv's pool. */
#ifndef EDGED_ROLLOUT_H
#define EDGED_ROLLOUT_H

#include <jansson.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_registry.h"

struct edged;
struct edged_rollout;

struct edged_rollout_stats {
	unsigned active;          /* unfinished rollouts */
	uint64_t started, halted, done, aborted;
	uint64_t store_failures;  /* rollout store operations that failed */
	uint64_t load_skipped;    /* rows the load could not read */
	uint64_t health_looks;    /* health evaluations made */
	uint64_t health_halts;    /* of them, halts */
	uint64_t health_unread;   /* looks whose history could not be read (budget, store) */
	uint64_t reverts;         /* revert runs started (rollout revert, auto-revert) */
	uint64_t nodes_reverted;  /* nodes back on their previous model */
};

/* Creates the service and loads the persisted rollouts (blocking: before
 * the loop runs). Needs d->store and d->ota. -ENOMEM or a store error. */
EDGE_WUR int edged_rollout_new(struct edged *d, struct edged_rollout **out);

/* Graceful stop: no new stage, commands answer `unavailable`. NULL-safe. */
void edged_rollout_stop(struct edged_rollout *r);

/* After the store was closed (its completions point into the service).
 * NULL-safe. */
void edged_rollout_free(struct edged_rollout *r);

/* A registry event: a node seen again (hello, online) may be one an
 * activation waits for. NULL-safe. */
void edged_rollout_node_event(struct edged_rollout *s, enum edge_registry_event ev);

void edged_rollout_get_stats(const struct edged_rollout *r, struct edged_rollout_stats *out);

/* Control commands (proto/control-protocol.md, "Rollouts"); ud is struct
 * edged. */
int edged_rollout_cmd_start(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_rollout_cmd_list(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_rollout_cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_rollout_cmd_pause(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_rollout_cmd_resume(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_rollout_cmd_abort(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);
int edged_rollout_cmd_revert(void *ud, json_t *args, json_t **result, char *msg, size_t msglen);

#endif
