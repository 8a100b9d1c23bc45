/* The anomaly tests' check: after a run, the database edged wrote holds
 * exactly the events the simulated nodes generated, each once. Shared by
 * test_anomaly.c and test_anomaly_outage.c. */
#ifndef ANOMALY_CHECK_H
#define ANOMALY_CHECK_H

#include <sqlite3.h>

#include "harness.h"

/* Most nodes a compared run may have. */
#define ANOMALY_MAX_NODES 128

/* edged's database, read-only (also while edged runs: WAL). */
sqlite3 *anomaly_db_open(struct h_env *e);

/* One integer from sql; text (may be NULL) is bound as ?1. */
long long anomaly_db_int(sqlite3 *db, const char *sql, const char *text);

/* Calm the fleet, wait for every ack, stop the sim and edged, then check
 * the database node by node: seqs 1..last of its epoch each stored once,
 * no other row, every stream acked up to last, no gap. Returns the events
 * compared. */
unsigned long anomaly_finish_and_compare(struct h_env *e, unsigned n_nodes,
					 unsigned timeout_ms);

#endif
