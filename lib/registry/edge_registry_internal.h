/* Internals shared by the lib/registry sources. */
#ifndef EDGE_REGISTRY_INTERNAL_H
#define EDGE_REGISTRY_INTERNAL_H

#include "edge_registry.h"

struct edge__reg_node {
	struct edge__reg_node *hash_next;
	uint64_t last_heard_ms;    /* monotonic: last hello/heartbeat/online status */
	bool dirty;                /* presence changed since the last submitted write */
	bool caps_dirty;           /* capabilities (nodes row) not yet submitted */
	unsigned in_flight;        /* submitted writes not yet completed */
	struct edge_node_info info;
};

/* What a pending write knows of its registry: the registry may be freed
 * before the write completes, so ops hold this small counted link instead
 * (loop thread only, no atomics needed). */
struct edge__registry_link {
	unsigned refs;
	edge_registry *reg;  /* NULL once the registry is gone */
};

void edge__registry_link_put(struct edge__registry_link *link);

/* The narrow row of node_presence (see edge_registry_persist.c). */
struct edge__presence_row {
	char id[EDGE_REGISTRY_ID_MAX + 1];
	enum edge_node_state state;
	char status_reason[EDGE_REGISTRY_TOKEN_MAX];
	uint32_t reconnect_count;
	int64_t last_seen_ms;
	uint32_t hb_seq;
	uint64_t hb_uptime_s, hb_inferences, hb_anomalies;
	uint32_t hb_mqtt_reconnects, hb_free_heap_bytes;
	bool hb_has_min_free_heap, hb_has_rssi;
	uint32_t hb_min_free_heap_bytes;
	int32_t hb_rssi_dbm;
};
void edge__presence_from_info(struct edge__presence_row *row, const struct edge_node_info *n);

/* One store op: presence rows (n_rows, any number), optionally one node's
 * capabilities (caps != NULL, written with its presence row), or one
 * deletion (delete_id). Built by the registry, run by persist.c. */
struct edge__reg_write {
	struct edge__registry_link *link;
	bool notify;                      /* an event's own write: tell the saved hook */
	enum edge_registry_event event;   /* when notify */
	bool has_caps;
	struct edge_node_info caps;       /* when has_caps */
	bool is_delete;
	char delete_id[EDGE_REGISTRY_ID_MAX + 1];
	size_t n_rows;
	struct edge__presence_row rows[]; /* sorted by id */
};

/* Submits w (takes ownership, also on error: freed then). The completion
 * calls edge__registry_write_done with the result. 0, EDGE_ELIMIT,
 * EDGE_ECLOSED or -ENOMEM. */
int edge__registry_submit(edge_store *store, struct edge__reg_write *w);

/* Completion of a write on the loop thread (registry still alive). */
void edge__registry_write_done(edge_registry *reg, const struct edge__reg_write *w, int result);

/* Called from the store's writer thread (inside edge_store_read) for every
 * stored row, in id order, presence columns taken from node_presence when it
 * has the node. Returns 0 to continue or a negative code. */
typedef int (*edge__registry_row_fn)(const struct edge_node_info *row, void *ud);
int edge__registry_load_rows(edge_store *store, edge__registry_row_fn fn, void *ud);

/* ---- tags (edge_registry_tags.c) ---- */

/* tags[0..n) validated, deduplicated, sorted and joined with ',' into out:
 * 0 with *n_out, -EINVAL (invalid tag), -E2BIG (more than
 * EDGE_REGISTRY_TAGS_MAX distinct), -ENOSPC (cap too small). */
int edge__tags_join(const char *const *tags, unsigned n, char *out, size_t cap,
		    unsigned *n_out);
/* Writer thread: id's stored tags, sorted and joined (cap >=
 * EDGE_REGISTRY_TAGS_TEXT_MAX). */
int edge__registry_read_tags(edge_store_conn *conn, const char *id, char *out, size_t cap,
			     unsigned *n_out);

/* ---- pending statuses of unknown ids (edge_registry_pending.c) ---- */

struct edge__pending;
struct edge__pending *edge__pending_new(void);
void edge__pending_free(struct edge__pending *p);
/* Keeps (replaces) the latest status of id. Returns 1 if an older entry was
 * evicted to make room, else 0. */
int edge__pending_put(struct edge__pending *p, const char *id, enum edge_msg_state state,
		      const char *reason, uint64_t now_ms);
/* Takes id's entry if present and not expired: true and *state/reason. */
bool edge__pending_take(struct edge__pending *p, const char *id, uint64_t now_ms,
			enum edge_msg_state *state, char *reason, size_t reason_cap);
void edge__pending_remove(struct edge__pending *p, const char *id);
/* Drops expired entries; returns how many. */
unsigned edge__pending_expire(struct edge__pending *p, uint64_t now_ms);
unsigned edge__pending_count(const struct edge__pending *p);

#endif
