/* The anomaly tests' check of the database against the simulator: what
 * each node generated is stored exactly once (anomaly_check.h). */
#include "anomaly_check.h"

#include <check.h>
#include <stdio.h>

sqlite3 *anomaly_db_open(struct h_env *e)
{
	char path[512];
	sqlite3 *db = NULL;

	snprintf(path, sizeof path, "%s/edged.db", e->state_dir);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	return db;
}

long long anomaly_db_int(sqlite3 *db, const char *sql, const char *text)
{
	sqlite3_stmt *st;
	long long v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The database holds exactly the events the nodes generated: per node,
 * seqs 1..last of its epoch, each once (walked in order), and no other row;
 * each stream acked up to last. Returns the events compared. */
static unsigned long db_matches_sim(struct h_env *e, const struct h_sim_events *nodes,
				    unsigned n)
{
	sqlite3 *db = anomaly_db_open(e);
	sqlite3_stmt *st;
	unsigned long total = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct h_sim_events *nd = &nodes[i];
		unsigned long want = 1;

		ck_assert_msg(nd->dropped == 0 && nd->held == 0 && nd->acked == nd->last,
			      "node %s: dropped=%lu held=%lu acked=%lu of %lu", nd->id,
			      nd->dropped, nd->held, nd->acked, nd->last);
		ck_assert_msg(nd->last > 0, "node %s generated no event", nd->id);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT seq FROM anomaly_event WHERE "
						    "device = ?1 AND epoch = ?2 ORDER BY seq, id",
						    -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, nd->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)nd->epoch);
		while (sqlite3_step(st) == SQLITE_ROW) {
			unsigned long seq = (unsigned long)sqlite3_column_int64(st, 0);

			ck_assert_msg(seq == want, "node %s epoch %lu: stored seq %lu where %lu "
				      "was expected (%s)", nd->id, nd->epoch, seq, want,
				      seq < want ? "stored twice" : "lost");
			want++;
		}
		sqlite3_finalize(st);
		ck_assert_msg(want - 1 == nd->last, "node %s epoch %lu: %lu events stored, %lu "
			      "generated", nd->id, nd->epoch, want - 1, nd->last);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT acked FROM anomaly_stream WHERE "
						    "device = ?1 AND epoch = ?2", -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(st, 1, nd->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)nd->epoch);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_uint_eq((unsigned long)sqlite3_column_int64(st, 0), nd->last);
		sqlite3_finalize(st);
		total += nd->last;
	}
	/* Nothing else: no other device, epoch or seq. */
	ck_assert_uint_eq((unsigned long)anomaly_db_int(db, "SELECT COUNT(*) FROM anomaly_event", NULL),
			  total);
	ck_assert_int_eq(anomaly_db_int(db, "SELECT COUNT(*) FROM anomaly_stream", NULL), n);
	/* No node gave anything up. */
	ck_assert_int_eq(anomaly_db_int(db, "SELECT COALESCE(SUM(gaps), 0) FROM anomaly_stream", NULL), 0);
	sqlite3_close(db);
	return total;
}

/* Calm the fleet, wait for every ack, stop the sim and edged, compare. */
unsigned long anomaly_finish_and_compare(struct h_env *e, unsigned n_nodes, unsigned timeout_ms)
{
	struct h_sim_events nodes[ANOMALY_MAX_NODES];
	unsigned n;

	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, timeout_ms);
	ck_assert_int_eq(h_sim_stop(e), 0);
	n = h_sim_events_parse(e, nodes, ANOMALY_MAX_NODES);
	ck_assert_uint_eq(n, n_nodes);
	ck_assert_int_eq(h_edged_stop(e), 0);
	return db_matches_sim(e, nodes, n);
}

