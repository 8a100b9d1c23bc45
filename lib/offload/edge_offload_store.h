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

/* One shadow-verification mismatch (offload_mismatch). */
struct edge_offload_mismatch_row {
	int64_t ts_ms;
	char node[65];
	char model[66];            /* name@version */
	char sha256[65];
	uint32_t seq;
	uint64_t first_diff, length, node_length;
	char node_bytes[33], gateway_bytes[33];   /* hex, up to 16 bytes */
	char input_sha256[65];
};
/* Appends r and deletes all but the newest keep rows. -EINVAL for a row
 * with an empty node. */
EDGE_WUR int edge_offload_store_mismatch_op(edge_store_conn *conn,
					    const struct edge_offload_mismatch_row *r,
					    unsigned keep);
/* Deletes node's rows (its flag goes with them). */
EDGE_WUR int edge_offload_store_clear_op(edge_store_conn *conn, const char *node);
/* fn for the newest `limit` rows, oldest first; a negative return stops. */
EDGE_WUR int edge_offload_store_mismatch_load(
	edge_store_conn *conn, unsigned limit,
	int (*fn)(const struct edge_offload_mismatch_row *r, void *ud), void *ud);

#endif
