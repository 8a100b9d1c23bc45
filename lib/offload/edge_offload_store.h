/* Which stored models an operator enabled for offload (schema 11,
 * `offload_model`: package digest, when enabled) and the shadow-sampling
 * shares set per node or tag (`offload_verify`), so both survive a
 * restart. The pool (edge_offload_pool.h) holds the models themselves.
 *
 * Threading: the op on the store's writer thread; the load on a connection
 * before the loop runs (edge_store_read). */
#ifndef EDGE_OFFLOAD_STORE_H
#define EDGE_OFFLOAD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_store.h"

#define EDGE_OFFLOAD_DIGEST_HEX 64

/* Enables (inserts, keeping an earlier time) or disables (deletes) digest.
 * -EINVAL for a digest that is not 64 lowercase hex digits. */
EDGE_WUR int edge_offload_store_set_op(edge_store_conn *conn, const char *digest, bool enabled,
				       int64_t wall_ms);

/* fn for every enabled digest, oldest first; a negative return stops the
 * load and is returned. Rows of another form are skipped and counted in
 * *skipped (may be NULL). 0, -ENOMEM or a store error. */
EDGE_WUR int edge_offload_store_load(edge_store_conn *conn,
				     int (*fn)(const char *digest, int64_t enabled_ms, void *ud),
				     void *ud, unsigned *skipped);

/* Shadow sampling per node or tag (offload_verify): target is "id:<node
 * id>" or "tag:<tag>" (at most EDGE_OFFLOAD_TARGET_MAX characters),
 * permille 0..1000, or -1 to drop the rule. -EINVAL otherwise. */
#define EDGE_OFFLOAD_TARGET_MAX 80
EDGE_WUR int edge_offload_store_verify_op(edge_store_conn *conn, const char *target,
					  int permille);
/* fn for every rule, by target; a negative return stops and is returned.
 * Malformed rows are skipped and counted in *skipped (may be NULL). */
EDGE_WUR int edge_offload_store_verify_load(edge_store_conn *conn,
					    int (*fn)(const char *target, int permille, void *ud),
					    void *ud, unsigned *skipped);

#endif
