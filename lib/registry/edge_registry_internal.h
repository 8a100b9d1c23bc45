/* Internals shared by the lib/registry sources. */
#ifndef EDGE_REGISTRY_INTERNAL_H
#define EDGE_REGISTRY_INTERNAL_H

#include "edge_registry.h"

struct edge__reg_node {
	struct edge__reg_node *hash_next;
	uint64_t last_heard_ms;    /* monotonic: last hello/heartbeat/online status */
	uint64_t last_persist_ms;  /* monotonic: last row write submitted */
	bool dirty;                /* memory has changes the store has not been given */
	struct edge_node_info info;
};

/* What a pending row write knows of its registry: the registry may be freed
 * before the write completes, so ops hold this small counted link instead
 * (loop thread only, no atomics needed). */
struct edge__registry_link {
	unsigned refs;
	edge_registry *reg;  /* NULL once the registry is gone */
};

void edge__registry_link_put(struct edge__registry_link *link);

/* A row write failed in the store: mark the node dirty so a tick retries. */
void edge__registry_write_failed(edge_registry *reg, const char *id);

/* Submits an upsert of the node's row (a snapshot). 0, EDGE_ELIMIT,
 * EDGE_ECLOSED or -ENOMEM. */
int edge__registry_persist_node(edge_store *store, struct edge__registry_link *link,
				const struct edge__reg_node *node);

/* Submits a delete of the node's row. Same errors as persist. */
int edge__registry_delete_node(edge_store *store, const char *id);

/* Called from the store's writer thread (inside edge_store_read) for every
 * stored row, in id order. Returns 0 to continue or a negative code. */
typedef int (*edge__registry_row_fn)(const struct edge_node_info *row, void *ud);
int edge__registry_load_rows(edge_store *store, edge__registry_row_fn fn, void *ud);

#endif
