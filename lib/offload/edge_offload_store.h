/* Which stored models an operator enabled for offload (schema 11,
 * `offload_model`: package digest, when enabled), so the choice survives a
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

#endif
