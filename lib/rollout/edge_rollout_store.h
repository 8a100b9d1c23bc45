/* Persisted staged rollouts (schemas 9, 10): the writer-thread operations and the
 * load at start-up (pattern: lib/ota/edge_ota_store.h).
 *
 * Tables:
 *   rollout       (id PK, digest, name, version, spec JSON, state, stage,
 *                  transfer (the current stage's open OTA transfer, 0 none),
 *                  accepted (0/1: the operator resumed the current stage
 *                  after a halt), created_ms, updated_ms, reason,
 *                  stage_started_ms, soak_started_ms, revert_stage (schema 10))
 *   rollout_node  (rollout, device, stage, outcome pending|success|failure|reverted,
 *                  baseline_from_ms (schema 10),
 *                  reason (the outcome's name or why it failed); PK (rollout,
 *                  device))
 *   rollout_event (rollout, ts_ms, text): every decision, append-only
 * States and outcomes are stored by name so the tables read the same
 * whatever the enums' numbering becomes.
 *
 * Threading: *_op on the store's writer thread; load on a connection before
 * the loop runs (edge_store_read). */
#ifndef EDGE_ROLLOUT_STORE_H
#define EDGE_ROLLOUT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_store.h"

#define EDGE_ROLLOUT_ID_MAX 64       /* a device id (= EDGE_REGISTRY_ID_MAX) */
#define EDGE_ROLLOUT_NAME_MAX 32     /* model name/version (= EDGE_MSG_TOKEN_CAP) */
#define EDGE_ROLLOUT_DIGEST_HEX 64
#define EDGE_ROLLOUT_SPEC_JSON_MAX 512
#define EDGE_ROLLOUT_REASON_MAX 200
#define EDGE_ROLLOUT_EVENT_MAX 240
/* Finished rollouts loaded at start (the unfinished ones are all loaded). */
#define EDGE_ROLLOUT_LOAD_FINISHED 32
/* Newest events loaded per rollout. */
#define EDGE_ROLLOUT_LOAD_EVENTS 64

enum edge_rollout_state {
	EDGE_ROLLOUT_RUNNING = 0, /* the current stage's transfer runs */
	EDGE_ROLLOUT_SOAKING,     /* the stage passed; waiting soak_s before the next */
	EDGE_ROLLOUT_PAUSED,      /* by the operator */
	EDGE_ROLLOUT_HALTED,      /* by the judge: too many failures */
	EDGE_ROLLOUT_DONE,
	EDGE_ROLLOUT_ABORTED,
	EDGE_ROLLOUT_REVERTING,   /* `rollout revert`: its nodes go back to their previous model */
	EDGE_ROLLOUT_REVERT_ENDED, /* "reverted": every node went back (or could not) */
	EDGE_ROLLOUT_STATE_COUNT
};

enum edge_rollout_node_outcome {
	EDGE_ROLLOUT_NODE_PENDING = 0,
	EDGE_ROLLOUT_NODE_SUCCESS,
	EDGE_ROLLOUT_NODE_FAILURE,
	EDGE_ROLLOUT_NODE_REVERTED, /* it ran the new model and went back (reason: how) */
	EDGE_ROLLOUT_NODE_OUTCOME_COUNT
};

/* Static names ("running", "pending"), never NULL ("?" when out of range);
 * parse: -EINVAL for an unknown name. */
const char *edge_rollout_state_name(enum edge_rollout_state s);
EDGE_WUR int edge_rollout_state_parse(const char *s, enum edge_rollout_state *out);
const char *edge_rollout_node_outcome_name(enum edge_rollout_node_outcome o);
EDGE_WUR int edge_rollout_node_outcome_parse(const char *s, enum edge_rollout_node_outcome *out);
/* done, aborted or reverted: nothing will change any more. */
static inline int edge_rollout_state_final(enum edge_rollout_state s)
{
	return s == EDGE_ROLLOUT_DONE || s == EDGE_ROLLOUT_ABORTED || s == EDGE_ROLLOUT_REVERT_ENDED;
}

struct edge_rollout_row {
	uint32_t id;
	char digest[EDGE_ROLLOUT_DIGEST_HEX + 1];
	char name[EDGE_ROLLOUT_NAME_MAX + 1];
	char version[EDGE_ROLLOUT_NAME_MAX + 1];
	char spec[EDGE_ROLLOUT_SPEC_JSON_MAX];  /* JSON object text */
	enum edge_rollout_state state;
	uint32_t stage;
	uint32_t transfer;
	bool accepted;      /* the current stage resumed after a halt */
	int64_t created_ms, updated_ms;
	char reason[EDGE_ROLLOUT_REASON_MAX];
	int64_t stage_started_ms;  /* wall ms the current stage's transfer started, 0: not yet */
	int64_t soak_started_ms;   /* wall ms the current soak began, 0: not soaking */
	int32_t revert_stage;      /* a revert in progress: its stage, EDGE_ROLLOUT_REVERT_ALL,
				      or EDGE_ROLLOUT_REVERT_NONE */
};

#define EDGE_ROLLOUT_REVERT_NONE (-1)
#define EDGE_ROLLOUT_REVERT_ALL (-2)

struct edge_rollout_node_row {
	char device[EDGE_ROLLOUT_ID_MAX + 1];
	uint32_t stage;
	enum edge_rollout_node_outcome outcome;
	char reason[48];
	int64_t baseline_from_ms; /* wall ms: running since, when its stage started (0: unknown) */
};

struct edge_rollout_event_row {
	int64_t ts_ms;
	char text[EDGE_ROLLOUT_EVENT_MAX];
};

/* Inserts or updates (by id) the rollout row. -EINVAL for an invalid row. */
EDGE_WUR int edge_rollout_store_rollout_op(edge_store_conn *conn, const struct edge_rollout_row *r);

/* Inserts or updates (by rollout, device) n node rows; the whole batch is
 * checked before any is written (-EINVAL). */
EDGE_WUR int edge_rollout_store_nodes_op(edge_store_conn *conn, uint32_t rollout,
					 const struct edge_rollout_node_row *v, unsigned n);

/* Appends one event. -EINVAL for rollout 0 or an empty text. */
EDGE_WUR int edge_rollout_store_event_op(edge_store_conn *conn, uint32_t rollout, int64_t ts_ms,
					 const char *text);

/* The load: for every unfinished rollout and the EDGE_ROLLOUT_LOAD_FINISHED
 * newest finished ones, oldest first, fn gets the row, its nodes (by
 * stage, then device) and its newest EDGE_ROLLOUT_LOAD_EVENTS events (oldest
 * first); the arrays are only valid during the call. A row that does not
 * parse (unknown state or outcome) is skipped and counted in *skipped (may
 * be NULL). fn returning non-zero stops the load with that code. 0, -ENOMEM
 * or a store error. */
typedef int (*edge_rollout_load_fn)(const struct edge_rollout_row *r,
				    const struct edge_rollout_node_row *nodes, unsigned n_nodes,
				    const struct edge_rollout_event_row *events, unsigned n_events,
				    void *ud);
EDGE_WUR int edge_rollout_store_load(edge_store_conn *conn, edge_rollout_load_fn fn, void *ud,
				     unsigned *skipped);

/* The highest rollout id ever stored (0: none), for the next id. */
EDGE_WUR int edge_rollout_store_max_id(edge_store_conn *conn, uint32_t *out);

#endif
