/* The node registry: every known node in memory (hash table by id, O(1)
 * lookup), persisted through the store.
 *
 * All functions run on the loop thread. Events carry two clocks: `now_ms`, a
 * monotonic millisecond clock that drives heartbeat/staleness timing, write
 * coalescing and the summary line (the caller's clock: tests inject their
 * own), and `wall_ms`, wall-clock milliseconds since the Unix epoch that are
 * stored as first_seen/last_seen.
 *
 * States (proto/node-protocol.md §6):
 * - ONLINE after an "online" status, a hello or a heartbeat;
 * - STALE after `stale_after_missed_heartbeats` of its own heartbeat
 *   intervals without a heartbeat (edge_registry_tick);
 * - OFFLINE after an "offline" status (its last will included) or on_lost.
 *   Nodes loaded from the store start OFFLINE until their retained status or
 *   a new hello says otherwise;
 * - REVOKED by the operator (edge_registry_revoke), until
 *   edge_registry_reinstate or edge_registry_forget. The node keeps its row
 *   and history, but nothing it sends changes them: its hello is refused
 *   (EDGE_EAUTH: the gateway answers not_allowed), its statuses and
 *   heartbeats are ignored (EDGE_EAUTH, counted in stats.revoked_ignored), so
 *   it never turns online or stale. Stored as presence "offline" plus
 *   nodes.revoked_ms, and loaded back REVOKED.
 *
 * Admission (edge_registry_set_admission): an optional hook that decides
 * which ids may register. A hello from an id it refuses is refused with
 * EDGE_EAUTH and nothing is stored for it; a status from an unknown id it
 * refuses is not kept as pending either. Without a hook every id is admitted.
 *
 * Reconnects: a node publishes exactly one "online" status per MQTT session.
 * Every LIVE "online" status of a registered node (not a retained replay,
 * which the broker sends because the gateway (re)subscribed) is a new
 * session: reconnect_count + 1, whatever the node's state was. The session
 * in which a node first registers is not a reconnect; a hello never counts.
 *
 * Status before hello: a conforming new node publishes its "online" status
 * before its hello. A status from an unknown id is no error: the latest one
 * per id is kept in a bounded pending table (EDGE_REGISTRY_PENDING_MAX
 * entries, the oldest dropped when full, each expiring after
 * EDGE_REGISTRY_PENDING_TTL_MS) and applied when the hello registers the node
 * (an "online" one gives status_reason, e.g. "boot").
 *
 * status_reason always belongs to the current state: it is the reason of the
 * status message (or on_lost) that caused it; a transition not caused by a
 * status (ONLINE by hello or heartbeat, STALE by the tick, OFFLINE at load)
 * clears it, so "online" never shows with "shutdown".
 *
 * Persistence (store ops, never blocking). Two tables: `nodes`, the wide row
 * of capabilities and the revoked mark, written on every hello, revocation
 * and reinstatement; `node_presence`, a narrow row of
 * state, reason, reconnect_count, last_seen and heartbeat counters. A state
 * change (or a hello, or a forget) is submitted at once; counters and
 * last_seen only change memory and are written for every changed node in ONE
 * store op per `persist_interval_ms` (from edge_registry_tick) and by
 * edge_registry_sync at shutdown, so after a crash the store is at most one
 * interval old. A write the store cannot take (queue full) or fails (disk
 * full, ...) leaves the node dirty: the next interval writes it again. Failed
 * writes are logged at most once per EDGE_REGISTRY_FAIL_LOG_MS with a count.
 * The saved hook tells when an event's own write committed (edged answers a
 * hello only then, so a node never believes in a registration a crash lost).
 *
 * Logging: per-node transitions at debug level (and through the hook);
 * fleet-wide, one NOTICE line of counts per `summary_interval_ms` that saw
 * any transition, from edge_registry_tick. */
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
	EDGE_NODE_REVOKED = 3,
};
#define EDGE_NODE_STATE_COUNT 4
/* Filters for edge_registry_foreach: OR of EDGE_NODE_MASK(state). */
#define EDGE_NODE_MASK(state) (1u << (state))
#define EDGE_NODE_MASK_ALL 0xFu

/* "online" / "stale" / "offline" / "revoked" (static); parse returns -1 if
 * unknown. */
const char *edge_node_state_name(enum edge_node_state state);
int edge_node_state_from_name(const char *name);

#define EDGE_REGISTRY_ID_MAX 64      /* = EDGE_ID_MAX_LEN */
#define EDGE_REGISTRY_TOKEN_MAX 32   /* text fields incl. NUL (= EDGE_MSG_TOKEN_CAP) */
#define EDGE_REGISTRY_SHA256_HEX 64
/* Op names joined with ',' (EDGE_MSG_MAX_OPS names of < EDGE_MSG_OP_CAP). */
#define EDGE_REGISTRY_OPS_TEXT_MAX 2048
#define EDGE_REGISTRY_PENDING_MAX 1024          /* statuses of unknown ids kept */
#define EDGE_REGISTRY_PENDING_TTL_MS 300000     /* ... each for at most 5 min */
#define EDGE_REGISTRY_FAIL_LOG_MS 10000         /* one store-failure line per 10 s */
/* Tags (operator-set groups, see "Tags" below): [A-Za-z0-9_.-]{1,32}, at
 * most EDGE_REGISTRY_TAGS_MAX per node. */
#define EDGE_REGISTRY_TAG_MAX 32                /* characters, without the NUL */
#define EDGE_REGISTRY_TAGS_MAX 16
/* The tags joined with ',' (tags never hold one), NUL included. */
#define EDGE_REGISTRY_TAGS_TEXT_MAX (EDGE_REGISTRY_TAGS_MAX * (EDGE_REGISTRY_TAG_MAX + 1))

/* A snapshot of one node (plain data, copied out; about 3.2 KB, which is
 * also the registry's memory per node). */
struct edge_node_info {
	char id[EDGE_REGISTRY_ID_MAX + 1];
	enum edge_node_state state;

	/* capabilities, from the latest hello */
	char fw_version[EDGE_REGISTRY_TOKEN_MAX];
	char runtime_name[EDGE_REGISTRY_TOKEN_MAX];     /* e.g. "tflm" */
	char runtime_version[EDGE_REGISTRY_TOKEN_MAX];
	unsigned n_ops;
	char ops[EDGE_REGISTRY_OPS_TEXT_MAX];           /* "CONV_2D,SOFTMAX": names never hold ',' */
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
	uint32_t reconnect_count;                       /* new MQTT sessions after the first */
	char status_reason[EDGE_REGISTRY_TOKEN_MAX];    /* why the current state, "" if no status said */
	int64_t revoked_ms;                             /* when revoked (state REVOKED), else 0 */

	/* operator-set groups: a set, sorted (strcmp), joined with ',' */
	unsigned n_tags;
	char tags[EDGE_REGISTRY_TAGS_TEXT_MAX];         /* "" when untagged */

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
	int64_t hb_wall_ms;  /* when that heartbeat arrived (wall ms; 0: none since edged
				started): hb_uptime_s counts back from here */
};

/* Why a state hook fired. */
enum edge_registry_event {
	EDGE_REGISTRY_REGISTERED,   /* first hello of a new node */
	EDGE_REGISTRY_UPDATED,      /* hello of a known node (capabilities replaced) */
	EDGE_REGISTRY_RECONNECTED,  /* live online status of a registered node: a new session */
	EDGE_REGISTRY_ONLINE,       /* retained online status / heartbeat of an offline or stale node */
	EDGE_REGISTRY_STALE,        /* missed heartbeats */
	EDGE_REGISTRY_OFFLINE,      /* offline status or lost */
	EDGE_REGISTRY_FORGOTTEN,    /* removed by edge_registry_forget (node still valid in the call) */
	EDGE_REGISTRY_REVOKED,      /* edge_registry_revoke */
	EDGE_REGISTRY_REINSTATED,   /* edge_registry_reinstate: revoked → offline */
};
const char *edge_registry_event_name(enum edge_registry_event ev);

/* Called on the loop thread after the change took effect; `node` is borrowed
 * for the call. May query the registry; must not call its event functions.
 * One call per per-node transition: log it at debug level at most (the
 * registry logs the fleet-wide summary). */
typedef void (*edge_registry_hook)(const struct edge_node_info *node,
				   enum edge_node_state old_state,
				   enum edge_registry_event ev, void *ud);

/* Durability hook (edge_registry_set_saved_hook): the outcome of the store
 * write an event submitted at once (every event above; the one op of a
 * forget). result 0: committed, the change survives a crash; else the
 * store's error (the node is written again later: see Persistence). Called
 * on the loop thread from the write's completion, exactly once per event
 * that wrote, in submit order; from inside the event function itself when
 * the write could not be submitted (queue full, -ENOMEM), and at once with 0
 * without a store. Not called once the registry is freed. Must not call the
 * registry's event functions; queries are fine. */
typedef void (*edge_registry_saved_fn)(void *ud, const char *id,
				       enum edge_registry_event ev, int result);

struct edge_registry_options {
	unsigned max_devices;                 /* default 1024; hello beyond → EDGE_ELIMIT */
	unsigned stale_after_missed_heartbeats; /* default 3 */
	uint32_t default_heartbeat_interval_ms; /* default 30000, when a hello gives none */
	uint32_t persist_interval_ms;         /* counter/last_seen writes, default 60000 */
	uint32_t summary_interval_ms;         /* NOTICE summary line, default 10000 */
	edge_registry_hook on_change;         /* may be NULL */
	void *on_change_ud;
};
void edge_registry_options_init(struct edge_registry_options *opt);

/* store is borrowed and must outlive the registry (may be NULL: memory only,
 * for tests/tools); its schema (version 3 and later) has both tables and
 * nodes.revoked_ms. opt may
 * be NULL. Errors: -EINVAL, -ENOMEM. */
EDGE_WUR int edge_registry_new(edge_store *store, const struct edge_registry_options *opt,
			       edge_registry **out);
/* NULL-safe. Pending store ops may complete later: they only hold a small
 * counted link that notices the registry is gone. */
void edge_registry_free(edge_registry *reg);

/* Loads the stored nodes (startup only: uses edge_store_read, which
 * blocks). Every loaded node is OFFLINE with an empty status_reason, except
 * revoked ones (REVOKED, status_reason "revoked", revoked_ms kept). Nodes
 * beyond max_devices are not loaded (logged) and the call returns
 * EDGE_ELIMIT after loading the rest. */
EDGE_WUR int edge_registry_load(edge_registry *reg);

/* A node said hello. Revoked node, or an id the admission hook refuses →
 * EDGE_EAUTH, nothing changed or stored (counted in stats.refused_revoked /
 * stats.refused_admission). New id → registered (first_seen = wall_ms), with
 * its pending status applied (an "online" one sets status_reason); known id →
 * capabilities replaced (reconnect_count unchanged; status_reason kept if it
 * was ONLINE, else cleared). State becomes ONLINE. Capabilities and presence
 * are written at once. Errors: EDGE_EPROTO (invalid id), EDGE_EAUTH,
 * EDGE_ELIMIT (new node and max_devices reached; existing nodes
 * unaffected), -ENOMEM. */
EDGE_WUR int edge_registry_on_hello(edge_registry *reg, const struct edge_msg_hello *hello,
				    uint64_t now_ms, int64_t wall_ms);

/* A status message of node `id` (the topic's id; a live publish, a
 * retained replay or a last will). `retained`: the MQTT retain flag as
 * delivered, i.e. a replay the broker sent because the gateway subscribed.
 * online → ONLINE, status_reason = its reason; live → reconnect_count + 1
 * and event RECONNECTED (even if it was ONLINE), retained → event ONLINE if
 * it was offline or stale. offline → OFFLINE with its reason. Unknown id:
 * kept as the id's pending status (see above), returns 0; nothing is
 * registered. Errors: EDGE_EPROTO (invalid id or state), EDGE_EAUTH
 * (revoked node, or unknown id the admission hook refuses: ignored). */
EDGE_WUR int edge_registry_on_status(edge_registry *reg, const char *id,
				     const struct edge_msg_status *status, bool retained,
				     uint64_t now_ms, int64_t wall_ms);

/* A heartbeat of node `id`: counters and last_seen updated in memory
 * (written with the next interval); STALE/OFFLINE → ONLINE (event ONLINE,
 * status_reason cleared, written at once; not a reconnect). Errors:
 * EDGE_EPROTO (invalid id), EDGE_ENOTFOUND (a conforming node heartbeats only
 * once registered), EDGE_EAUTH (revoked node: ignored). */
EDGE_WUR int edge_registry_on_heartbeat(edge_registry *reg, const char *id,
					const struct edge_msg_heartbeat *hb,
					uint64_t now_ms, int64_t wall_ms);

/* The gateway lost the node by other means (e.g. broker session gone):
 * → OFFLINE, status_reason = `reason` ("lost" when NULL), written at once.
 * A revoked node stays REVOKED (0). Unknown id: EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_on_lost(edge_registry *reg, const char *id, const char *reason,
				   uint64_t now_ms, int64_t wall_ms);

/* Removes a node (operator request): from memory now, its rows (and its
 * pending status) through the store. Refused with EDGE_ESTATE while the node
 * is ONLINE or STALE unless `force` (OFFLINE and REVOKED nodes go without). Its messages then count as unknown until
 * a hello registers it afresh (reconnect_count 0, new first_seen). Errors:
 * EDGE_EPROTO (invalid id), EDGE_ENOTFOUND, EDGE_ESTATE, EDGE_ELIMIT (store
 * queue full: nothing removed), -ENOMEM. */
EDGE_WUR int edge_registry_forget(edge_registry *reg, const char *id, bool force);

/* Revokes a node (operator request; its broker identity is gone): state
 * REVOKED whatever it was, revoked_ms = wall_ms (wall clock, ms since the
 * epoch), status_reason "revoked", its row and history kept; written at once
 * (a refused write is retried like any other). From then on its hello is
 * refused and its statuses and heartbeats ignored (see the top). Its pending
 * status, if any, is dropped. Idempotent: a revoked node stays as it is
 * (revoked_ms unchanged) and 0 is returned. Errors: -EINVAL (reg NULL),
 * EDGE_EPROTO (invalid id), EDGE_ENOTFOUND (no such node: the caller may
 * hold an identity for an id that never said hello). */
EDGE_WUR int edge_registry_revoke(edge_registry *reg, const char *id, int64_t wall_ms);

/* Lifts the revocation: REVOKED → OFFLINE (revoked_ms 0, status_reason
 * cleared), written at once; the node's next hello registers it as usual
 * (as a known node: reconnect_count and first_seen kept). A node that is not
 * revoked is left as it is (0). Errors: -EINVAL, EDGE_EPROTO,
 * EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_reinstate(edge_registry *reg, const char *id);

/* Admission hook: returns true if node `id` may register. Called on the loop
 * thread for every hello of a node that is not revoked, and for statuses of
 * unknown ids; must be fast (a table lookup) and must not call the
 * registry's event functions. */
typedef bool (*edge_registry_admit_fn)(void *ud, const char *id);

/* Sets (replaces) the admission hook; admit NULL = every id is admitted
 * (open). Applies from the next message on; nodes already registered stay
 * as they are until their next hello. Reloadable. */
void edge_registry_set_admission(edge_registry *reg, edge_registry_admit_fn admit, void *ud);

/* Sets (replaces) the durability hook (one per registry; fn NULL: none).
 * Writes already submitted report to the hook set when they complete, so a
 * user going away (before the registry) clears it first. */
void edge_registry_set_saved_hook(edge_registry *reg, edge_registry_saved_fn fn, void *ud);

/* Reloadable option: a node turns stale after `missed` of its heartbeat
 * intervals without news. Applies from the next edge_registry_tick on, to
 * every node's running clock (a node already later than the new limit turns
 * stale at that tick; a stale node stays stale until it is heard from).
 * Errors: -EINVAL (reg NULL or missed == 0; the old value stays). */
EDGE_WUR int edge_registry_set_stale_after(edge_registry *reg, unsigned missed);

/* Reloadable options: the interval of the coalesced counter writes and of
 * the summary line. Apply from the next tick. Errors: -EINVAL (reg NULL or
 * interval 0; the old value stays). */
EDGE_WUR int edge_registry_set_persist_interval(edge_registry *reg, uint32_t interval_ms);
EDGE_WUR int edge_registry_set_summary_interval(edge_registry *reg, uint32_t interval_ms);

/* Periodic (about once a second): ONLINE nodes whose last heartbeat (or hello)
 * is older than stale_after_missed_heartbeats × their interval become STALE;
 * once per persist_interval_ms the changed rows go out as one store op;
 * pending statuses expire; once per summary_interval_ms the summary line.
 * O(nodes). */
void edge_registry_tick(edge_registry *reg, uint64_t now_ms);

/* Submits every unwritten change now (one op for the presence rows, one per
 * node whose capabilities are unwritten). Never blocks: for a stop on a
 * running loop, call it, then let the loop run the store's completions until
 * edge_registry_unsaved() is 0 (a failed or refused write marks the node
 * dirty again: call sync again). Returns 0 or the first submit error
 * (EDGE_ELIMIT: retry after completions ran). */
EDGE_WUR int edge_registry_sync(edge_registry *reg);

/* Nodes with changes not yet committed: dirty ones plus those whose write is
 * in flight. 0 = the store holds everything. */
unsigned edge_registry_unsaved(const edge_registry *reg);

/* Teardown, once the loop no longer runs: sync, then edge_store_flush +
 * run_completions until everything is committed (bounded rounds). Blocks the
 * calling thread: never from a loop callback. Returns 0 or the first error. */
EDGE_WUR int edge_registry_save(edge_registry *reg);

/* ---- tags ----
 *
 * Tags group nodes for the operator (edgectl devices tag, targets "tag:T").
 * They are not part of a hello: a node's tags survive its hellos, revocation
 * and reinstatement, and go only with edge_registry_forget (the forget's
 * store op deletes them with the node's rows). Stored in table node_tag
 * (schema 8), one row per (device, tag), loaded by edge_registry_load.
 *
 * Writes are the caller's: it runs edge_registry_tags_op_add/remove inside
 * a store op of its own (so it can answer once the change is committed),
 * then, on the loop thread, puts the committed set into memory with
 * edge_registry_set_tags. */

/* true if tag is a valid tag: [A-Za-z0-9_.-]{1,EDGE_REGISTRY_TAG_MAX}. */
bool edge_registry_tag_valid(const char *tag);

/* Replaces node id's tags in memory (nothing is written): tags[0..n) in any
 * order, duplicates allowed (a set is kept, sorted). Errors: -EINVAL (reg
 * or id NULL, tags NULL with n > 0, or an invalid tag: nothing changed),
 * -E2BIG (more than EDGE_REGISTRY_TAGS_MAX distinct tags: nothing changed),
 * EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_set_tags(edge_registry *reg, const char *id,
				    const char *const *tags, unsigned n);

/* true if node carries tag (exact match). NULL-safe (false). */
bool edge_registry_has_tag(const struct edge_node_info *node, const char *tag);

/* Store-op helpers for the store's writer thread (inside an op given to
 * edge_store_submit, so a failure rolls the whole op back). add inserts the
 * tags node id does not have yet; remove deletes the ones it has (absent
 * ones are no error). Neither checks that the node exists: the caller does,
 * on the loop thread, before it submits (a forget submitted later deletes
 * the rows again, the store runs ops in order). On success, when out is not
 * NULL, the node's whole stored set after the change, sorted and joined with
 * ',' (out_cap >= EDGE_REGISTRY_TAGS_TEXT_MAX), and *n_out its size.
 * Errors: -EINVAL (invalid tag or arguments), -E2BIG (add would leave more
 * than EDGE_REGISTRY_TAGS_MAX tags: the caller's op must fail so that its
 * savepoint rolls the inserts back), the store's errors. */
EDGE_WUR int edge_registry_tags_op_add(edge_store_conn *conn, const char *id,
				       const char *const *tags, unsigned n, char *out,
				       size_t out_cap, unsigned *n_out);
EDGE_WUR int edge_registry_tags_op_remove(edge_store_conn *conn, const char *id,
					  const char *const *tags, unsigned n, char *out,
					  size_t out_cap, unsigned *n_out);

/* Splits a joined tag list (edge_node_info.tags, or what the op helpers
 * returned) into its parts: up to max pointers into buf, which is
 * modified (',' become NUL). Returns the number of tags. */
unsigned edge_registry_tags_split(char *buf, const char **parts, unsigned max);

/* ---- queries ---- */

struct edge_registry_counts {
	unsigned total;
	unsigned by_state[EDGE_NODE_STATE_COUNT]; /* indexed by enum edge_node_state */
	unsigned pending_status;                 /* statuses of unknown ids kept */
};

/* Cumulative since edge_registry_new. */
struct edge_registry_stats {
	uint64_t registered, reconnects, forgotten;
	uint64_t pending_applied;   /* pending statuses used by a registration */
	uint64_t pending_dropped;   /* evicted (table full) or expired */
	uint64_t writes;            /* store ops submitted */
	uint64_t rows_written;      /* presence rows in them */
	uint64_t write_failures;    /* ops the store failed or refused */
	uint64_t revocations;       /* nodes revoked (not counting repeats) */
	uint64_t reinstated;
	uint64_t refused_revoked;   /* hellos of revoked nodes */
	uint64_t refused_admission; /* hellos (and statuses of unknown ids) the hook refused */
	uint64_t revoked_ignored;   /* statuses and heartbeats of revoked nodes */
	/* Inferences the fleet's heartbeats counted during the UTC day
	 * inferences_day_ms (its midnight, wall ms): per heartbeat, the
	 * growth of the node's counter since its previous heartbeat (all of
	 * it after a reboot: the counter starts at boot). A node's first
	 * heartbeat since edged started adds nothing (nothing to compare). */
	uint64_t inferences_day;
	int64_t inferences_day_ms;
};
void edge_registry_get_stats(const edge_registry *reg, struct edge_registry_stats *out);
void edge_registry_counts(const edge_registry *reg, struct edge_registry_counts *out);

/* Copies one node. Errors: EDGE_ENOTFOUND. */
EDGE_WUR int edge_registry_get(const edge_registry *reg, const char *id,
			       struct edge_node_info *out);

/* A node's state (enum edge_node_state, >= 0) without copying it, or
 * EDGE_ENOTFOUND (also for an invalid id or reg NULL). */
int edge_registry_get_state(const edge_registry *reg, const char *id);

/* Calls fn for every node whose state is in state_mask, in id order (strcmp).
 * fn returns 0 to continue, non-zero to stop (that value is returned). The
 * registry must not be modified from fn. Returns 0, fn's stop value, or
 * -ENOMEM. */
typedef int (*edge_registry_iter_fn)(const struct edge_node_info *node, void *ud);
int edge_registry_foreach(const edge_registry *reg, unsigned state_mask,
			  edge_registry_iter_fn fn, void *ud);

#endif
