/* The identity table's rows in the store (schema 3): node_identity, one row
 * per identity, and revoked_certificate, one row per serial in the CRL.
 *
 * Threading: every function runs on the store's writer thread, inside an op
 * (edge_store_submit) or edge_store_read at start-up; they use only the
 * connection they are given. */
#ifndef EDGE_IDENTITY_SQL_H
#define EDGE_IDENTITY_SQL_H

#include <stdint.h>

#include "edge_identity.h"
#include "edge_store.h"

/* Loads every row into t (which should be empty). Errors: store errors
 * (edge_store_conn_error), EDGE_ECORRUPT (a row the table refuses), -ENOMEM. */
EDGE_WUR int edge_identity_sql_load(edge_store_conn *conn, edge_identity_table *t);

/* Inserts or replaces the row of rec->id. Store errors. */
EDGE_WUR int edge_identity_sql_put(edge_store_conn *conn, const struct edge_identity *rec);

/* Adds serial (of node id, revoked at revoked_ms) to revoked_certificate; a
 * serial already there is kept as it is. Store errors. */
EDGE_WUR int edge_identity_sql_revoke_serial(edge_store_conn *conn, const char *serial,
					     const char *id, int64_t revoked_ms);

#endif
