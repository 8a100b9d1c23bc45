/* Retention of the anomaly history and the rollup catch-up at start, with
 * the real edged on a real SQLite file: a history is written into the
 * database while edged is stopped (as a version without rollups or a bulk
 * loader would leave it), then edged starts, fills the rollups and deletes
 * what the age or size bound puts out, a small step at a time. The file is
 * compared after edged stopped. Run one case with
 * `test-anomaly-retention CASE`. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly_check.h"
#include "harness.h"
#include "test_run.h"

#define DAY_MS (24LL * 3600 * 1000)

/* Wall-clock ms: event times are wall time (h_now_ms is monotonic). */
static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n events of device, one a second from ts0, seq 1..n of epoch 1, written
 * straight into the database (no rollups: edged's catch-up makes them). */
static void insert_events(struct h_env *e, const char *device, int n, long long ts0)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *st;

	snprintf(path, sizeof path, "%s/edged.db", e->state_dir);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "INSERT INTO anomaly_event (device, epoch, seq, ts_ms,"
					    " received_ms, time_source, model, score, threshold,"
					    " label) VALUES (?1, 1, ?2, ?3, ?3, 'clock', 'kws@1.0',"
					    " ?4, 0.5, 'knock')",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (int i = 1; i <= n; i++) {
		sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, i);
		sqlite3_bind_int64(st, 3, ts0 + (long long)i * 1000);
		sqlite3_bind_double(st, 4, 0.5 + (i % 50) / 100.0);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The count of device in `edgectl anomalies stats --by device` (from the
 * rollups); 0 when it has no group. */
static long long stats_count(struct h_env *e, const char *device)
{
	json_t *r = h_edgectl_json(e, "anomalies", "stats", "--by", "device", "--since", "90d",
				   NULL);
	json_t *groups = json_object_get(r, "groups"), *g;
	long long n = 0;
	size_t i;

	ck_assert_msg(json_is_array(groups), "stats without groups");
	json_array_foreach(groups, i, g)
		if (strcmp(json_string_value(json_object_get(g, "key")), device) == 0)
			n = json_integer_value(json_object_get(g, "count"));
	json_decref(r);
	return n;
}

/* Events older than retention_days go (with their rollups); recent ones
 * stay; the rollups of the history written without them are filled at
 * start. */
START_TEST(old_events_are_deleted_by_age)
{
	static const char *const cfg[] = { "anomaly.retention_days", "30", NULL };
	struct h_env *e = h_world(cfg);
	long long now = wall_ms();
	json_t *st;
	sqlite3 *db;
	char *log;

	ck_assert_int_eq(h_edged_stop(e), 0);
	insert_events(e, "old-node", 1200, now - 40 * DAY_MS);
	insert_events(e, "new-node", 300, now - 3600 * 1000);
	h_edged_start(e);
	/* Steps of 500 rows, one after another while more is left. */
	h_wait_status(e, "anomalies.events_deleted_age", ">=", 1200, 30000);
	st = h_edgectl_json(e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "anomalies.events_deleted_age"), 1200);
	ck_assert_int_eq(h_json_int(st, "anomalies.events_deleted_size"), 0);
	ck_assert_int_eq(h_json_int(st, "anomalies.retention_failed"), 0);
	ck_assert_int_ge(h_json_int(st, "anomalies.retention_steps"), 3);
	ck_assert_int_ge(h_json_int(st, "anomalies.rollup_caught_up"), 1);
	ck_assert_int_gt(h_json_int(st, "anomalies.db_used_bytes"), 0);
	json_decref(st);
	/* Statistics come from the rollups the catch-up made; the old ones
	 * went with their events. */
	ck_assert_int_eq(stats_count(e, "new-node"), 300);
	ck_assert_int_eq(stats_count(e, "old-node"), 0);
	log = h_edged_log(e);
	ck_assert_msg(log && strstr(log, "rollups filled for the stored events with ids 1 to 1500"),
		      "no line about the rollup catch-up in edged's log");
	free(log);
	ck_assert_int_eq(h_edged_stop(e), 0);
	db = anomaly_db_open(e);
	ck_assert_int_eq(anomaly_db_int(db, "SELECT count(*) FROM anomaly_event WHERE device = ?1",
					"old-node"), 0);
	ck_assert_int_eq(anomaly_db_int(db, "SELECT count(*) FROM anomaly_event WHERE device = ?1",
					"new-node"), 300);
	sqlite3_close(db);
	printf("# 1200 events older than 30 days deleted, 300 recent kept, rollups filled\n");
	h_env_free(e);
}
END_TEST

/* Over max_db_bytes the oldest events go until the database fits: what
 * stays is the newest block, the rollups keep counting every event, and a
 * line says so. */
START_TEST(oldest_events_are_deleted_over_size)
{
	static const char *const cfg[] = { "anomaly.max_db_bytes", "524288", NULL };
	struct h_env *e = h_world(cfg);
	long long now = wall_ms(), deleted, kept;
	json_t *st;
	sqlite3 *db;
	char *log;

	ck_assert_int_eq(h_edged_stop(e), 0);
	insert_events(e, "big-node", 20000, now - DAY_MS);
	h_edged_start(e);
	h_wait_status(e, "anomalies.events_deleted_size", ">=", 1, 30000);
	h_wait_status(e, "anomalies.db_used_bytes", "<=", 524288, 60000);
	st = h_edgectl_json(e, "status", NULL);
	deleted = h_json_int(st, "anomalies.events_deleted_size");
	ck_assert_int_eq(h_json_int(st, "anomalies.events_deleted_age"), 0);
	ck_assert_int_eq(h_json_int(st, "anomalies.retention_failed"), 0);
	json_decref(st);
	ck_assert_int_gt(deleted, 0);
	ck_assert_int_lt(deleted, 20000);
	/* Rollups stay: long-range statistics still count every event. */
	ck_assert_int_eq(stats_count(e, "big-node"), 20000);
	log = h_edged_log(e);
	ck_assert_msg(log && strstr(log, "deleting the oldest events"),
		      "no line about the size bound in edged's log");
	free(log);
	ck_assert_int_eq(h_edged_stop(e), 0);
	db = anomaly_db_open(e);
	kept = anomaly_db_int(db, "SELECT count(*) FROM anomaly_event", NULL);
	ck_assert_int_eq(kept + deleted, 20000);
	/* The newest block, seq for seq. */
	ck_assert_int_eq(anomaly_db_int(db, "SELECT max(seq) FROM anomaly_event", NULL), 20000);
	ck_assert_int_eq(anomaly_db_int(db, "SELECT min(seq) FROM anomaly_event", NULL),
			 deleted + 1);
	sqlite3_close(db);
	printf("# %lld oldest events deleted for size, %lld newest kept\n", deleted, kept);
	h_env_free(e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "old_events_are_deleted_by_age", old_events_are_deleted_by_age, 90 },
		{ "oldest_events_are_deleted_over_size", oldest_events_are_deleted_over_size, 120 },
	};

	return h_run_cases(argc, argv, "anomaly_retention", cases,
			   sizeof cases / sizeof cases[0]);
}
