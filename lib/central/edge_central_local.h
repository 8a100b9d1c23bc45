/* The gateway's side of central forwarding, in the local database (schema
 * 12): what has been committed centrally, and the fleet summaries waiting to
 * be forwarded.
 *
 * Three streams leave the gateway, each with a cursor in central_cursor:
 *   event    anomaly_event.id      ids only grow (retention keeps the newest)
 *   episode  anomaly_episode.rev   a change counter the triggers bump on every
 *                                  insert and change, so a changed episode is
 *                                  sent again with its newer rev
 *   summary  central_summary.id    AUTOINCREMENT: never reused
 * The single writer assigns ids and revs inside its transaction, so the rows a
 * reader sees above a cursor are always a prefix of what will ever be there:
 * a cursor never passes a row that commits later.
 *
 * A cursor moves only after the central commit returned; a crash between
 * the two sends a batch again, which the central keys make harmless.
 *
 * Threading: the functions taking an edge_store_conn run on the store's
 * writer thread inside a store op (edge_anomaly.h's rules). */
#ifndef EDGE_CENTRAL_LOCAL_H
#define EDGE_CENTRAL_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_store.h"

enum edge_central_stream {
	EDGE_CENTRAL_EVENT,
	EDGE_CENTRAL_EPISODE,
	EDGE_CENTRAL_SUMMARY,
	EDGE_CENTRAL_STREAMS,
};

/* The name of a stream in central_cursor ("event", "episode", "summary"). */
const char *edge_central_stream_name(enum edge_central_stream s);

struct edge_central_cursors {
	int64_t through[EDGE_CENTRAL_STREAMS]; /* highest id (rev) committed centrally */
};

/* Raises the stored cursors to c (a cursor is never lowered: a late save of
 * an older position changes nothing). -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_central_cursors_save(edge_store_conn *conn, const struct edge_central_cursors *c,
				       int64_t now_ms);

/* Summaries kept locally, forwarded or not: at the default interval (5 min)
 * about five weeks. Beyond it the oldest go; those not yet forwarded are
 * counted in anomaly_meta 'central_dropped_summaries'. */
#define EDGE_CENTRAL_SUMMARY_KEEP 10000

/* One fleet summary (fleet_summary in the central schema). */
struct edge_central_summary {
	int64_t ts_ms;           /* wall ms */
	unsigned nodes_total, nodes_online, nodes_stale, nodes_offline, nodes_revoked;
	int64_t day_ms;          /* the UTC day of ts_ms */
	uint64_t inferences_day; /* counted by the caller from heartbeats */
	/* Filled by edge_central_summary_add from the database: */
	uint64_t anomalies_day;  /* events of day_ms (event time), from the day rollups */
	unsigned episodes_open;  /* episodes not closed */
};

/* Stores s for forwarding after reading its anomalies_day and
 * episodes_open (written back into *s). -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_central_summary_add(edge_store_conn *conn, struct edge_central_summary *s);

/* Room for the literal of a summary of at most 16 values. */
#define EDGE_CENTRAL_SUMMARY_LITERAL_MAX (16 * 40 + 4)

/* Column col of st, an event's stored summary (little-endian float32 values
 * as a BLOB from schema 6 on, JSON array text before), as a PostgreSQL
 * real[] literal ("{0.5,1.25}") in out. false when it is absent or
 * unreadable (forwarded as NULL). Any thread (st is the caller's). */
bool edge_central_summary_literal(struct sqlite3_stmt *st, int col,
				  char out[EDGE_CENTRAL_SUMMARY_LITERAL_MAX]);

/* The UTC day (ms at its midnight) a wall time falls in. */
int64_t edge_central_day_ms(int64_t wall_ms);

#endif
