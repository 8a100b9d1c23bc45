/* The node registry: every known node in memory (hash table by id, O(1)
 * lookup), persisted through the store.
 *
 * All functions run on the loop thread. Events carry two clocks: `now_ms`, a
 * monotonic millisecond clock that drives heartbeat/staleness timing, and
 * `wall_ms`, wall-clock milliseconds since the Unix epoch that are stored as
 * first_seen/last_seen.
 *
 * States: a node is ONLINE after a hello, an "online" status or a heartbeat;
 * a hello while it was not ONLINE counts as a reconnect;
 * STALE after `stale_after_missed_heartbeats` of its own heartbeat intervals
 * without a heartbeat (edge_registry_tick); OFFLINE after an "offline" status
 * (its last will included) or on_lost. Nodes loaded from the store start
 * OFFLINE until their retained status or a new hello says otherwise.
 *
 * Persistence (store ops, never blocking): a node's row is written on every
 * state change and on every hello (capabilities); heartbeats only update
 * memory, and last_seen/counters are written at most once per
 * `persist_interval_ms` per node (default 5 s; a tick writes what is left).
 * At shutdown call edge_registry_save() (or sync + flush) before closing the
 * store. If the store queue is full the row stays marked dirty and a later
 * tick retries. A row write the store fails (disk full, ...) is logged and
 * retried by a tick after persist_interval_ms. */
#ifndef EDGE_REGISTRY_H
#define EDGE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_store.h"

#include "edge_node_msg.h" /* struct edge_msg_hello/status/heartbeat */

typedef struct edge_registry edge_registry;

enum edge_node_state {
	EDGE_NODE_OFFLINE = 0,
	EDGE_NODE_ONLINE = 1,
	EDGE_NODE_STALE = 2,
};
#define EDGE_NODE_STATE_COUNT 3
/* Filters for edge_registry_foreach: OR of EDGE_NODE_MASK(state). */
#define EDGE_NODE_MASK(state) (1u << (state))
#define EDGE_NODE_MASK_ALL 0x7u

/* "online" / "stale" / "offline" (static); parse returns -1 if unknown. */
const char *edge_node_state_name(enum edge_node_state state);
int edge_node_state_from_name(const char *name);

#define EDGE_REGISTRY_ID_MAX 64      /* = EDGE_ID_MAX_LEN */
#define EDGE_REGISTRY_TOKEN_MAX 32   /* text fields incl. NUL (= EDGE_MSG_TOKEN_CAP) */
#define EDGE_REGISTRY_SHA256_HEX 64
/* Op names joined with ',' (EDGE_MSG_MAX_OPS names of < EDGE_MSG_OP_CAP). */
#define EDGE_REGISTRY_OPS_TEXT_MAX 2048

/* A snapshot of one node (plain data, copied out; about 2.7 KB, which is
 * also the registry's memory per node). */
struct edge_node_info {
	char id[EDGE_REGISTRY_ID_MAX + 1];
	enum edge_node_state state;

	/* capabilities, from the latest hello */
	char fw_version[EDGE_REGISTRY_TOKEN_MAX];
	char runtime_name[EDGE_REGISTRY_TOKEN_MAX];     /* e.g. "tflm" */
	char runtime_version[EDGE_REGISTRY_TOKEN_MAX];
	unsigned n_ops;
	char ops[EDGE_REGISTRY_OPS_TEXT_MAX];           /* "CONV_2D,SOFTMAX" */
	uint32_t ram_bytes;
	uint32_t flash_bytes;
	uint32_t arena_bytes;
	char sensor[EDGE_REGISTRY_TOKEN_MAX];
	bool has_model;                                 /* model currently running */
	char model_name[EDGE_REGISTRY_TOKEN_MAX];
	char model_version[EDGE_REGISTRY_TOKEN_MAX];
	char model_sha256[EDGE_REGISTRY_SHA256_HEX + 1];
	uint32_t heartbeat_interval_ms;                 /* node's own, or the default */

	/* lifecycle (wall clock, ms since the epoch; 0 = never) */
	int64_t first_seen_ms;
	int64_t last_seen_ms;                           /* last message of any kind */
	uint32_t reconnect_count;                       /* back online after offline/stale */
	char status_reason[EDGE_REGISTRY_TOKEN_MAX];    /* last status/lost reason, "" if none */

	/* latest heartbeat (zero until the first one) */
	uint32_t hb_seq;
	uint64_t hb_uptime_s;
	uint64_t hb_inferences;
	uint64_t hb_anomalies;
	uint32_t hb_mqtt_reconnects;
	uint32_t hb_free_heap_bytes;
	bool hb_has_min_free_heap;
	uint32_t hb_min_free_heap_bytes;
	bool hb_has_rssi;
	int32_t hb_rssi_dbm;
};

/* Why a state hook fired. */
enum edge_registry_event {
	EDGE_REGISTRY_REGISTERED,   /* first hello of a new node */
	EDGE_REGISTRY_UPDATED,      /* hello of a node that was already online */
	EDGE_REGISTRY_RECONNECTED,  /* hello of a node that was offline or stale */
	EDGE_REGISTRY_ONLINE,       /* online status / heartbeat of an offline or stale node */
	EDGE_REGISTRY_STALE,        /* missed heartbeats */
	EDGE_REGISTRY_OFFLINE,      /* offline status or lost */
	EDGE_REGISTRY_FORGOTTEN,    /* removed by edge_registry_forget (node still valid in the call) */
};
const char *edge_registry_event_name(enum edge_registry_event ev);

/* Called on the loop thread after the change took effect; `node` is borrowed
 * for the call. May query the registry; must not call its event functions. */
typedef void (*edge_registry_hook)(const struct edge_node_info *node,
				   enum edge_node_state old_state,
				   enum edge_registry_event ev, void *ud);

struct edge_registry_options {
	unsigned max_devices;                 /* default 1024; hello beyond → EDGE_ELIMIT */
	unsigned stale_after_missed_heartbeats; /* default 3 */
	uint32_t default_heartbeat_interval_ms; /* default 30000, when a hello gives none */
	uint32_t persist_interval_ms;         /* heartbeat write coalescing, default 5000 */
	edge_registry_hook on_change;         /* may be NULL */
	void *on_change_ud;
};
void edge_registry_options_init(struct edge_registry_options *opt);

/* store is borrowed and must outlive the registry (may be NULL: memory only,
 * for tests/tools). opt may be NULL. Errors: -EINVAL, -ENOMEM. */
EDGE_WUR int edge_registry_new(edge_store *store, const struct edge_registry_options *opt,
			       edge_registry **out);
/* NULL-safe. Pending store ops may complete later: they only hold a small
 * counted link that notices the registry is gone. */
void edge_registry_free(edge_registry *reg);

/* Loads the nodes table (startup only: uses edge_store_read, which blocks).
 * Every loaded node is OFFLINE. Nodes beyond max_devices are not loaded
 * (logged) and the call returns EDGE_ELIMIT after loading the rest. */
EDGE_WUR int edge_registry_load(edge_registry *reg);

/* A node said hello. New id → registered (first_seen = wall_ms); known id →
 * capabilities replaced, reconnect_count++ if it was offline or stale; state
 * becomes ONLINE. Errors: EDGE_EPROTO (invalid id), EDGE_ELIMIT (new node and
 * max_devices reached; existing nodes unaffected), -ENOMEM. */
EDGE_WUR int edge_registry_on_hello(edge_registry *reg, const struct edge_msg_hello *hello,
				    uint64_t now_ms, int64_t wall_ms);

/* A status message of node `id` (the topic's id; retained / last will).
 * online → ONLINE (event ONLINE if it was offline or stale; not counted as a
 * reconnect: the hello that follows a reconnect is); offline → OFFLINE with
 * its reason (reason_text, kept in status_reason). Errors: EDGE_EPROTO (invalid id or
 * state), EDGE_ENOTFOUND (unknown id: a status alone registers nothing). */
EDGE_WUR int edge_registry_on_status(edge_registry *reg, const char *id,
				     const struct edge_msg_status *status,
				     uint64_t now_ms, int64_t wall_ms);

/* A heartbeat of node `id`: counters and last_seen updated; STALE/OFFLINE →
 * ONLINE (event ONLINE, not a reconnect). Errors: EDGE_EPROTO (invalid id), EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_on_heartbeat(edge_registry *reg, const char *id,
					const struct edge_msg_heartbeat *hb,
					uint64_t now_ms, int64_t wall_ms);

/* The gateway lost the node by other means (e.g. broker session gone):
 * → OFFLINE with `reason` (may be NULL). Unknown id: EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_on_lost(edge_registry *reg, const char *id, const char *reason,
				   uint64_t now_ms, int64_t wall_ms);

/* Removes a node (operator request): from memory now, its row through the
 * store. A later hello registers it afresh. Errors: EDGE_EPROTO (invalid id),
 * EDGE_ENOTFOUND, EDGE_ELIMIT (store queue full: nothing removed), -ENOMEM. */
EDGE_WUR int edge_registry_forget(edge_registry *reg, const char *id);

/* Reloadable option: a node turns stale after `missed` of its heartbeat
 * intervals without news. Applies from the next edge_registry_tick on, to
 * every node's running clock (a node already later than the new limit turns
 * stale at that tick; a stale node stays stale until it is heard from).
 * Errors: -EINVAL (reg NULL or missed == 0; the old value stays). */
EDGE_WUR int edge_registry_set_stale_after(edge_registry *reg, unsigned missed);

/* Periodic (about once a second): ONLINE nodes whose last heartbeat (or hello)
 * is older than stale_after_missed_heartbeats × their interval become STALE;
 * retries rows the store could not take. O(nodes). */
void edge_registry_tick(edge_registry *reg, uint64_t now_ms);

/* Submits a write for every node with unwritten changes. Returns 0 or the
 * first submit error (EDGE_ELIMIT: retry after completions ran). */
EDGE_WUR int edge_registry_sync(edge_registry *reg);

/* Shutdown: like sync, but blocks (edge_store_flush + run_completions) while
 * the store queue is full, so every change is committed on return even with
 * more dirty nodes than queue_max_ops. Blocks the calling thread: only once
 * the owner is stopping (the loop may still be running, e.g. to drain).
 * Returns 0 or the first submit error; a failed commit is logged by the
 * op's completion (group "registry"). */
EDGE_WUR int edge_registry_save(edge_registry *reg);

/* ---- queries ---- */

struct edge_registry_counts {
	unsigned total;
	unsigned by_state[EDGE_NODE_STATE_COUNT]; /* indexed by enum edge_node_state */
};
void edge_registry_counts(const edge_registry *reg, struct edge_registry_counts *out);

/* Copies one node. Errors: EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_get(const edge_registry *reg, const char *id,
			       struct edge_node_info *out);

/* Calls fn for every node whose state is in state_mask, in id order (strcmp).
 * fn returns 0 to continue, non-zero to stop (that value is returned). The
 * registry must not be modified from fn. Returns 0, fn's stop value, or
 * -ENOMEM. */
typedef int (*edge_registry_iter_fn)(const struct edge_node_info *node, void *ud);
int edge_registry_foreach(const edge_registry *reg, unsigned state_mask,
			  edge_registry_iter_fn fn, void *ud);

#endif
