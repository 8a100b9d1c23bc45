/* Suite 'store': open/migrate/refuse, the writer thread's group commit,
 * per-op savepoints, queue bound, completion delivery, flush and close. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "edge_store.h"
#include "edge_time.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define WAIT_LIMIT_S 10

/* ---- helpers ---- */

static atomic_int wake_count;
static void count_wake(void *ud)
{
	(void)ud;
	atomic_fetch_add(&wake_count, 1);
}

static edge_store *open_store(unsigned queue_max, unsigned batch_max, unsigned delay_ms)
{
	struct edge_store_options opt;
	edge_store *s = NULL;
	char err[256] = "";
	int rc;

	edge_store_options_init(&opt);
	opt.queue_max_ops = queue_max;
	opt.group_commit_max_ops = batch_max;
	opt.group_commit_max_delay_ms = delay_ms;
	opt.wake = count_wake;
	opt.errbuf = err;
	opt.errbuf_len = sizeof err;
	rc = edge_store_open(test_db_path, &opt, &s);
	ck_assert_msg(rc == 0, "open: %s (%s)", edge_strerror(rc), err);
	return s;
}

/* A direct connection for checking the file from outside the store. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	return db;
}

static long long raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql,
		      err ? err : "?");
}

/* Runs `sql` (no data) inside a store op / read. */
static int op_exec(edge_store_conn *c, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c, ud, &st);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : edge_store_error_from_sqlite(rc);
}

static void create_items_table(edge_store *s)
{
	ck_assert_int_eq(edge_store_read(s, op_exec,
		"CREATE TABLE IF NOT EXISTS items (v INTEGER PRIMARY KEY)"), 0);
}

/* An op inserting one item; `fail_with` != 0 makes it fail after inserting. */
struct item_op {
	long long v;
	int fail_with;
	int result;
	bool done;
	pthread_t done_thread;
};

static int item_run(edge_store_conn *c, void *ud)
{
	struct item_op *op = ud;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c, "INSERT INTO items (v) VALUES (?1)", &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, op->v);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return edge_store_error_from_sqlite(rc);
	return op->fail_with;
}

static void item_done(int result, void *ud)
{
	struct item_op *op = ud;

	op->result = result;
	op->done = true;
	op->done_thread = pthread_self();
}

static long long count_items(edge_store *s);

/* A gate: an op that holds the writer until the test opens it, so that the
 * ops queued meanwhile form predictable batches. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, open;
};

static struct timespec wait_deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_LIMIT_S;
	return ts;
}

static int gate_run(edge_store_conn *c, void *ud)
{
	struct gate *g = ud;
	struct timespec dl = wait_deadline();
	int rc = 0;

	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open && rc == 0)
		rc = pthread_cond_timedwait(&g->cv, &g->mu, &dl);
	pthread_mutex_unlock(&g->mu);
	return rc == 0 ? 0 : -ETIMEDOUT;
}

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->entered = g->open = false;
}

static void gate_wait_entered(struct gate *g)
{
	struct timespec dl = wait_deadline();
	int rc = 0;

	pthread_mutex_lock(&g->mu);
	while (!g->entered && rc == 0)
		rc = pthread_cond_timedwait(&g->cv, &g->mu, &dl);
	pthread_mutex_unlock(&g->mu);
	ck_assert_msg(rc == 0, "writer did not start the gate op within %d s", WAIT_LIMIT_S);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

static int count_run(edge_store_conn *c, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c, "SELECT count(*) FROM items", &st);

	if (rc < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	*(long long *)ud = sqlite3_column_int64(st, 0);
	return 0;
}

static long long count_items(edge_store *s)
{
	long long n = -1;

	ck_assert_int_eq(edge_store_read(s, count_run, &n), 0);
	return n;
}

/* ---- open, pragmas, migrations ---- */

START_TEST(open_creates_and_migrates)
{
	edge_store *s = open_store(64, 16, 0);
	struct stat st;
	sqlite3 *db;

	ck_assert_int_eq(stat(test_db_path, &st), 0);
	ck_assert_str_eq(edge_store_path(s), test_db_path);
	edge_store_close(s);

	db = raw_open(test_db_path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), EDGE_STORE_SCHEMA_VERSION);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='nodes'"), 1);
	sqlite3_close(db);
}
END_TEST

struct pragmas {
	char journal[16];
	int synchronous, foreign_keys, busy_timeout;
	long long journal_size_limit, wal_autocheckpoint;
};

static int read_pragmas(edge_store_conn *c, void *ud)
{
	struct pragmas *p = ud;
	sqlite3_stmt *st;
	int rc;

	if ((rc = edge_store_conn_prepare(c, "PRAGMA journal_mode", &st)) < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	snprintf(p->journal, sizeof p->journal, "%s", sqlite3_column_text(st, 0));
	if ((rc = edge_store_conn_prepare(c, "PRAGMA synchronous", &st)) < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	p->synchronous = sqlite3_column_int(st, 0);
	if ((rc = edge_store_conn_prepare(c, "PRAGMA foreign_keys", &st)) < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	p->foreign_keys = sqlite3_column_int(st, 0);
	if ((rc = edge_store_conn_prepare(c, "PRAGMA busy_timeout", &st)) < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	p->busy_timeout = sqlite3_column_int(st, 0);
	if ((rc = edge_store_conn_prepare(c, "PRAGMA journal_size_limit", &st)) < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	p->journal_size_limit = sqlite3_column_int64(st, 0);
	if ((rc = edge_store_conn_prepare(c, "PRAGMA wal_autocheckpoint", &st)) < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW)
		return EDGE_ESTORE;
	p->wal_autocheckpoint = sqlite3_column_int64(st, 0);
	return 0;
}

START_TEST(pragmas_in_effect)
{
	edge_store *s = open_store(64, 16, 0);
	struct pragmas p = { 0 };

	ck_assert_int_eq(edge_store_read(s, read_pragmas, &p), 0);
	ck_assert_str_eq(p.journal, "wal");
	ck_assert_int_eq(p.synchronous, 2); /* FULL */
	ck_assert_int_eq(p.foreign_keys, 1);
	ck_assert_int_eq(p.busy_timeout, 5000);
	/* the store checkpoints; SQLite's own checkpoint in the commit is off */
	ck_assert_int_eq(p.wal_autocheckpoint, 0);
	ck_assert_int_eq(p.journal_size_limit, 4 * 1024 * 1024);
	edge_store_close(s);
}
END_TEST

START_TEST(reopen_is_idempotent_and_keeps_data)
{
	edge_store *s = open_store(64, 16, 0);
	struct item_op op = { .v = 42 };
	sqlite3 *db;

	create_items_table(s);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &op), 0);
	edge_store_close(s);
	ck_assert(op.done);
	ck_assert_int_eq(op.result, 0);

	s = open_store(64, 16, 0);
	ck_assert_int_eq(count_items(s), 1);
	edge_store_close(s);

	db = raw_open(test_db_path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), EDGE_STORE_SCHEMA_VERSION);
	sqlite3_close(db);
}
END_TEST

/* Opens test_db_path expecting a refusal: the code, with the reason in
 * err; a refused open hands out no store. */
static int open_refused(char *err, size_t err_len)
{
	struct edge_store_options opt;
	edge_store *s = NULL;
	int rc;

	edge_store_options_init(&opt);
	opt.errbuf = err;
	opt.errbuf_len = err_len;
	rc = edge_store_open(test_db_path, &opt, &s);
	ck_assert_ptr_null(s);
	return rc;
}

START_TEST(refuses_newer_schema)
{
	char err[256] = "";
	sqlite3 *db = raw_open(test_db_path);

	raw_exec(db, "PRAGMA user_version = 99");
	sqlite3_close(db);

	ck_assert_int_eq(open_refused(err, sizeof err), EDGE_ESCHEMA);
	ck_assert_msg(strstr(err, "99") != NULL, "message names the version: %s", err);

	db = raw_open(test_db_path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 99); /* never downgraded */
	sqlite3_close(db);
}
END_TEST

/* A database written by the first release (schema version 1: presence in
 * the wide `nodes` row) opens at the current version with its presence
 * copied into node_presence. */
START_TEST(migrates_version_1_presence)
{
	sqlite3 *db = raw_open(test_db_path);
	edge_store *s;

	raw_exec(db, "CREATE TABLE nodes (id TEXT PRIMARY KEY NOT NULL,"
		     " state TEXT NOT NULL DEFAULT 'offline'"
		     "  CHECK (state IN ('online', 'stale', 'offline')),"
		     " fw_version TEXT NOT NULL DEFAULT '', runtime_name TEXT NOT NULL DEFAULT '',"
		     " runtime_version TEXT NOT NULL DEFAULT '', ops TEXT NOT NULL DEFAULT '',"
		     " ram_bytes INTEGER NOT NULL DEFAULT 0, flash_bytes INTEGER NOT NULL DEFAULT 0,"
		     " arena_bytes INTEGER NOT NULL DEFAULT 0, sensor TEXT NOT NULL DEFAULT '',"
		     " model_name TEXT, model_version TEXT, model_sha256 TEXT,"
		     " heartbeat_interval_ms INTEGER NOT NULL DEFAULT 0,"
		     " first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
		     " reconnect_count INTEGER NOT NULL DEFAULT 0,"
		     " status_reason TEXT NOT NULL DEFAULT '', hb_seq INTEGER NOT NULL DEFAULT 0,"
		     " hb_uptime_s INTEGER NOT NULL DEFAULT 0, hb_inferences INTEGER NOT NULL DEFAULT 0,"
		     " hb_anomalies INTEGER NOT NULL DEFAULT 0,"
		     " hb_mqtt_reconnects INTEGER NOT NULL DEFAULT 0,"
		     " hb_free_heap_bytes INTEGER NOT NULL DEFAULT 0,"
		     " hb_min_free_heap_bytes INTEGER, hb_rssi_dbm INTEGER);"
		     "INSERT INTO nodes (id, state, first_seen_ms, last_seen_ms, reconnect_count,"
		     " status_reason, hb_seq, hb_rssi_dbm)"
		     " VALUES ('node-7', 'offline', 1000, 2000, 3, 'lost', 42, -60);"
		     "PRAGMA user_version = 1;");
	sqlite3_close(db);

	s = open_store(64, 16, 0);
	edge_store_close(s);

	db = raw_open(test_db_path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), EDGE_STORE_SCHEMA_VERSION);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM node_presence WHERE id = 'node-7'"
				     " AND state = 'offline' AND status_reason = 'lost'"
				     " AND reconnect_count = 3 AND last_seen_ms = 2000"
				     " AND hb_seq = 42 AND hb_rssi_dbm = -60"
				     " AND hb_min_free_heap_bytes IS NULL"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM nodes"), 1);
	sqlite3_close(db);
}
END_TEST

START_TEST(detects_garbage_file)
{
	char err[256] = "";
	char junk[8192];
	FILE *f = fopen(test_db_path, "wb");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
	fclose(f);

	ck_assert_int_eq(open_refused(err, sizeof err), EDGE_ECORRUPT);
	ck_assert_msg(strlen(err) > 0, "a reason is given");
}
END_TEST

START_TEST(detects_damaged_pages)
{
	char err[256] = "";
	sqlite3 *db = raw_open(test_db_path);
	struct stat st;
	int fd;

	/* A valid database with an index over many pages, then scribble over
	 * the middle of the file (page 1 stays intact). */
	raw_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA page_size=1024;"
		     "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);"
		     "CREATE INDEX tb ON t(b);"
		     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<2000)"
		     " INSERT INTO t SELECT i, printf('row-%08d-padding-padding', i) FROM n;");
	sqlite3_close(db);
	ck_assert_int_eq(stat(test_db_path, &st), 0);
	ck_assert_int_gt(st.st_size, 16 * 1024);
	fd = open(test_db_path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	for (off_t off = 4096; off + 512 < st.st_size; off += 8192) {
		char junk[512];

		memset(junk, 0xA5, sizeof junk);
		ck_assert_int_eq(pwrite(fd, junk, sizeof junk, off), (ssize_t)sizeof junk);
	}
	close(fd);

	ck_assert_int_eq(open_refused(err, sizeof err), EDGE_ECORRUPT);
	ck_assert_msg(strstr(err, "integrity") || strstr(err, "corrupt"), "reason: %s", err);
}
END_TEST

START_TEST(missing_directory_fails_cleanly)
{
	struct edge_store_options opt;
	edge_store *s = NULL;
	char path[PATH_MAX + 64], dir[PATH_MAX + 64], err[PATH_MAX * 2] = "";
	FILE *f;

	edge_store_options_init(&opt);
	opt.errbuf = err;
	opt.errbuf_len = sizeof err;
	test_tmpdir_path(&test_db_dir, "no-such-dir", dir, sizeof dir);
	test_tmpdir_path(&test_db_dir, "no-such-dir/edged.db", path, sizeof path);
	ck_assert_int_eq(edge_store_open(path, &opt, &s), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, path) && strstr(err, dir) && strstr(err, "does not exist"),
		      "message: %s", err);

	/* a file where the directory should be */
	f = fopen(dir, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(edge_store_open(path, &opt, &s), -ENOTDIR);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "is not a directory"), "message: %s", err);

	ck_assert_int_eq(edge_store_open("", NULL, &s), -EINVAL);
	opt.wal_max_bytes = 4096; /* below the 64 KiB floor */
	ck_assert_int_eq(edge_store_open(test_db_path, &opt, &s), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- the writer ---- */

START_TEST(group_commit_batches)
{
	enum { N = 1000, BATCH = 100 };
	edge_store *s = open_store(N + 8, BATCH, 0);
	static struct item_op ops[N];
	struct edge_store_stats stats;
	struct gate g;

	create_items_table(s);
	gate_init(&g);
	ck_assert_int_eq(edge_store_submit(s, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	memset(ops, 0, sizeof ops);
	for (int i = 0; i < N; i++) {
		ops[i].v = i;
		ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &ops[i]), 0);
	}
	edge_store_get_stats(s, &stats);
	ck_assert_uint_eq(stats.queue_depth, N + 1);
	gate_open(&g);
	edge_store_flush(s);
	ck_assert_uint_eq(edge_store_run_completions(s), N + 1);
	for (int i = 0; i < N; i++) {
		ck_assert(ops[i].done);
		ck_assert_int_eq(ops[i].result, 0);
	}
	edge_store_get_stats(s, &stats);
	/* the gate alone, then N ops in full batches */
	ck_assert_uint_eq(stats.transactions, 1 + N / BATCH);
	ck_assert_uint_eq(stats.ops_committed, N + 1);
	ck_assert_uint_eq(stats.ops_failed, 0);
	ck_assert_uint_eq(stats.max_batch_ops, BATCH);
	ck_assert_uint_eq(stats.queue_depth, 0);
	ck_assert_uint_eq(stats.completions_pending, 0);
	ck_assert_uint_gt(stats.db_bytes, 0);
	ck_assert_uint_gt(stats.wal_bytes, 0);
	ck_assert_int_eq(count_items(s), N);
	edge_store_close(s);
	gate_destroy(&g);
}
END_TEST

START_TEST(failing_op_fails_alone)
{
	edge_store *s = open_store(64, 16, 0);
	struct item_op a = { .v = 1 }, b = { .v = 2, .fail_with = -EIO }, c = { .v = 3 };
	struct item_op dup = { .v = 1 };
	struct edge_store_stats stats;
	struct gate g;

	create_items_table(s);
	gate_init(&g);
	ck_assert_int_eq(edge_store_submit(s, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &a), 0);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &b), 0);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &dup), 0);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &c), 0);
	gate_open(&g);
	edge_store_flush(s);
	ck_assert_uint_eq(edge_store_run_completions(s), 5);
	ck_assert_int_eq(a.result, 0);
	ck_assert_int_eq(b.result, -EIO);
	ck_assert_int_eq(dup.result, -EEXIST); /* primary key clash */
	ck_assert_int_eq(c.result, 0);
	edge_store_get_stats(s, &stats);
	ck_assert_uint_eq(stats.transactions, 2); /* gate, then all four together */
	ck_assert_uint_eq(stats.ops_failed, 2);
	ck_assert_int_eq(count_items(s), 2); /* 1 and 3; 2 rolled back alone */
	edge_store_close(s);
	gate_destroy(&g);
}
END_TEST

START_TEST(failed_commit_fails_batch_and_writer_recovers)
{
	edge_store *s = open_store(64, 16, 0);
	struct item_op after = { .v = 7 };
	struct item_op good_done = { 0 };
	struct gate g;

	create_items_table(s);
	ck_assert_int_eq(edge_store_read(s, op_exec,
		"CREATE TABLE child (p INTEGER REFERENCES items(v) DEFERRABLE INITIALLY DEFERRED)"), 0);
	gate_init(&g);
	ck_assert_int_eq(edge_store_submit(s, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	/* A deferred foreign-key violation passes its savepoint and fails COMMIT. */
	ck_assert_int_eq(edge_store_submit(s, op_exec, NULL, "INSERT INTO child VALUES (999)"), 0);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &good_done), 0);
	gate_open(&g);
	edge_store_flush(s);
	ck_assert_uint_eq(edge_store_run_completions(s), 3);
	ck_assert(good_done.done);
	ck_assert_int_eq(good_done.result, -EEXIST); /* the whole batch failed */
	ck_assert_int_eq(count_items(s), 0);

	/* the writer keeps working */
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &after), 0);
	edge_store_flush(s);
	ck_assert_uint_eq(edge_store_run_completions(s), 1);
	ck_assert_int_eq(after.result, 0);
	ck_assert_int_eq(count_items(s), 1);
	edge_store_close(s);
	gate_destroy(&g);
}
END_TEST

START_TEST(rolled_back_transaction_fails_its_ops_honestly)
{
	edge_store *s = open_store(64, 16, 0);
	struct item_op a = { .v = 1 }, c = { .v = 3 };
	struct gate g;

	create_items_table(s);
	gate_init(&g);
	ck_assert_int_eq(edge_store_submit(s, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &a), 0);
	/* stands in for SQLite's own rollback on I/O errors: the whole
	 * transaction, with op a, is gone */
	ck_assert_int_eq(edge_store_submit(s, op_exec, NULL, "ROLLBACK"), 0);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &c), 0);
	gate_open(&g);
	edge_store_flush(s);
	ck_assert_uint_eq(edge_store_run_completions(s), 4);
	ck_assert_int_lt(a.result, 0); /* not reported as stored */
	ck_assert_int_eq(c.result, 0); /* continued in a new transaction */
	ck_assert_int_eq(count_items(s), 1);
	edge_store_close(s);
	gate_destroy(&g);
}
END_TEST

START_TEST(queue_limit_refuses_without_blocking)
{
	enum { QMAX = 8 };
	edge_store *s = open_store(QMAX, 4, 0);
	struct item_op ops[QMAX] = { 0 }, extra = { .v = 100 };
	struct gate g;

	create_items_table(s);
	gate_init(&g);
	ck_assert_int_eq(edge_store_submit(s, gate_run, NULL, &g), 0);
	gate_wait_entered(&g);
	for (int i = 0; i < QMAX - 1; i++) {
		ops[i].v = i;
		ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &ops[i]), 0);
	}
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &extra), EDGE_ELIMIT);
	gate_open(&g);
	edge_store_flush(s);
	/* committed but not yet completed: still counted against the bound */
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &extra), EDGE_ELIMIT);
	ck_assert_uint_eq(edge_store_run_completions(s), QMAX);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &extra), 0);
	edge_store_flush(s);
	ck_assert_uint_eq(edge_store_run_completions(s), 1);
	ck_assert(extra.done);
	ck_assert_int_eq(extra.result, 0);
	ck_assert_int_eq(count_items(s), QMAX);
	ck_assert_int_eq(edge_store_submit(s, NULL, NULL, NULL), -EINVAL);
	edge_store_close(s);
	gate_destroy(&g);
}
END_TEST

START_TEST(completions_only_through_run_completions)
{
	edge_store *s = open_store(64, 16, 0);
	struct item_op op = { .v = 5 };
	int wakes_before;

	create_items_table(s);
	wakes_before = atomic_load(&wake_count);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &op), 0);
	edge_store_flush(s);
	ck_assert_msg(!op.done, "completion ran outside run_completions");
	/* the writer calls wake right after publishing the commit */
	for (int i = 0; i < WAIT_LIMIT_S * 100 && atomic_load(&wake_count) == wakes_before; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	ck_assert_msg(atomic_load(&wake_count) > wakes_before, "wake hook not called");
	ck_assert_msg(!op.done, "completion ran outside run_completions");
	ck_assert_uint_eq(edge_store_run_completions(s), 1);
	ck_assert(op.done);
	ck_assert_int_eq(op.result, 0);
	ck_assert(pthread_equal(op.done_thread, pthread_self()));
	ck_assert_uint_eq(edge_store_run_completions(s), 0);
	edge_store_close(s);
}
END_TEST

/* A completion that chains a follow-up op (what the registry does). */
static edge_store *chain_store;
static struct item_op chain_second = { .v = 2000 };
static void chain_done(int result, void *ud)
{
	item_done(result, ud);
	ck_assert_int_eq(edge_store_submit(chain_store, item_run, item_done, &chain_second), 0);
}

START_TEST(flush_and_close_with_pending_ops)
{
	enum { N = 500 };
	edge_store *s = open_store(N + 1, 64, 50);
	static struct item_op ops[N];
	struct item_op first = { .v = 1000 };

	create_items_table(s);
	memset(ops, 0, sizeof ops);
	for (int i = 0; i < N; i++) {
		ops[i].v = i;
		ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &ops[i]), 0);
	}
	/* close: everything is committed and every completion runs here */
	edge_store_close(s);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(ops[i].done, "op %d not completed", i);
		ck_assert_int_eq(ops[i].result, 0);
	}
	s = open_store(64, 16, 0);
	ck_assert_int_eq(count_items(s), N);

	/* a completion may submit a follow-up op, also during close */
	chain_store = s;
	ck_assert_int_eq(edge_store_submit(s, item_run, chain_done, &first), 0);
	edge_store_close(s);
	ck_assert(first.done);
	ck_assert(chain_second.done);
	ck_assert_int_eq(chain_second.result, 0);
}
END_TEST

START_TEST(read_sees_submitted_ops_and_returns_fn_result)
{
	edge_store *s = open_store(64, 16, 1000);
	struct item_op op = { .v = 9 };

	create_items_table(s);
	ck_assert_int_eq(edge_store_submit(s, item_run, item_done, &op), 0);
	/* read flushes first, even with a long group-commit delay */
	ck_assert_int_eq(count_items(s), 1);
	ck_assert_int_eq(edge_store_read(s, op_exec, "SELECT nonsense FROM nowhere"), EDGE_ESTORE);
	ck_assert_uint_eq(edge_store_run_completions(s), 1);
	edge_store_close(s);
}
END_TEST

START_TEST(progress_advances_while_idle)
{
	edge_store *s = open_store(64, 16, 0);
	uint64_t p0 = edge_store_progress(s);
	uint64_t p = p0;

	/* the writer wakes at least once a second; allow a generous bound */
	for (int i = 0; i < WAIT_LIMIT_S * 20 && p == p0; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		p = edge_store_progress(s);
	}
	ck_assert_msg(p > p0, "writer progress counter did not advance in %d s", WAIT_LIMIT_S);
	edge_store_close(s);
	edge_store_close(NULL);
}
END_TEST

/* ---- the WAL ---- */

/* Writes a 1000-byte blob into row id (rows reused: the database stays
 * small, the WAL sees every write). */
static int blob_run(edge_store_conn *c, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c,
		"INSERT OR REPLACE INTO blobs (id, b) VALUES (?1, randomblob(1000))", &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, (long long)(intptr_t)ud);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(c, rc);
}

static uint64_t wal_file_bytes(void)
{
	char wal[PATH_MAX + 80];
	struct stat st;

	snprintf(wal, sizeof wal, "%s-wal", test_db_path);
	return stat(wal, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static edge_store *open_wal_store(size_t wal_max, unsigned batch)
{
	struct edge_store_options opt;
	edge_store *s = NULL;
	char err[256] = "";
	int rc;

	edge_store_options_init(&opt);
	opt.queue_max_ops = 1024;
	opt.group_commit_max_ops = batch;
	opt.group_commit_max_delay_ms = 0;
	opt.wal_max_bytes = wal_max;
	opt.errbuf = err;
	opt.errbuf_len = sizeof err;
	rc = edge_store_open(test_db_path, &opt, &s);
	ck_assert_msg(rc == 0, "open: %s (%s)", edge_strerror(rc), err);
	ck_assert_int_eq(edge_store_read(s, op_exec,
		"CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)"), 0);
	return s;
}

START_TEST(wal_held_to_its_limit_under_load)
{
	enum { WAL_MAX = 64 * 1024, BATCH = 16, ROUNDS = 300 };
	edge_store *s = open_wal_store(WAL_MAX, BATCH);
	struct edge_store_stats st;
	uint64_t appended = 0, biggest_batch = 0, peak = 0;

	/* 300 batches of 16 KB: some 5 MB through a WAL held to 64 KiB. Each
	 * flush is one batch; the WAL may pass its limit by at most the batch
	 * that crossed it, until the checkpoint before the next one. */
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BATCH; i++)
			ck_assert_int_eq(edge_store_submit(s, blob_run, NULL,
							   (void *)(intptr_t)(r % 4 * BATCH + i)), 0);
		edge_store_flush(s);
		ck_assert_uint_eq(edge_store_run_completions(s), BATCH);
		edge_store_get_stats(s, &st);
		if (st.wal_bytes_appended - appended > biggest_batch)
			biggest_batch = st.wal_bytes_appended - appended;
		appended = st.wal_bytes_appended;
		if (st.wal_bytes > peak)
			peak = st.wal_bytes;
		ck_assert_msg(st.wal_bytes <= WAL_MAX + biggest_batch,
			      "WAL %" PRIu64 " B over %d + one batch of %" PRIu64 " B", st.wal_bytes,
			      WAL_MAX, biggest_batch);
	}
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_failed, 0);
	ck_assert_uint_eq(st.wal_max_bytes, WAL_MAX);
	ck_assert_uint_gt(st.wal_bytes_appended, 4u * 1024 * 1024);
	ck_assert_uint_gt(st.checkpoints, 20);
	ck_assert_uint_eq(st.checkpoint_failures, 0);
	ck_assert_uint_eq(st.write_failures, 0);
	ck_assert(!st.disk_full);
	fprintf(stderr, "wal: %" PRIu64 " B appended, peak file %" PRIu64 " B, %" PRIu64
		" checkpoints (%" PRIu64 " truncate), %s%" PRIu64 " B written to storage\n",
		st.wal_bytes_appended, peak, st.checkpoints, st.checkpoints_truncate,
		st.bytes_written_known ? "" : "unknown: ", st.bytes_written);
	edge_store_close(s);
}
END_TEST

START_TEST(passive_checkpoint_when_idle)
{
	enum { WAL_MAX = 256 * 1024, BATCH = 16 };
	edge_store *s = open_wal_store(WAL_MAX, BATCH);
	struct edge_store_stats st;
	uint64_t deadline;
	int id = 0;

	/* past half the limit, well short of all of it */
	do {
		for (int i = 0; i < BATCH; i++)
			ck_assert_int_eq(edge_store_submit(s, blob_run, NULL, (void *)(intptr_t)id++), 0);
		edge_store_flush(s);
		edge_store_run_completions(s);
		edge_store_get_stats(s, &st);
	} while (st.wal_bytes_appended <= WAL_MAX / 2 + 16 * 1024);
	ck_assert_uint_lt(st.wal_bytes_appended, WAL_MAX);

	/* the writer, now idle, checkpoints on its own */
	deadline = edge_time_monotonic_ms() + WAIT_LIMIT_S * 1000;
	while (st.checkpoints == 0 && edge_time_monotonic_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		edge_store_get_stats(s, &st);
	}
	ck_assert_uint_eq(st.checkpoints, 1);
	ck_assert_uint_eq(st.checkpoints_truncate, 0);
	ck_assert_uint_eq(st.checkpoint_failures, 0);

	/* the next commit starts the log over: the file does not grow */
	uint64_t before = wal_file_bytes();

	ck_assert_int_eq(edge_store_submit(s, blob_run, NULL, (void *)(intptr_t)0), 0);
	edge_store_flush(s);
	edge_store_run_completions(s);
	ck_assert_uint_eq(wal_file_bytes(), before);
	edge_store_close(s);
}
END_TEST

/* Storage writes are counted where the kernel counts them: on a disk, the
 * WAL's frames show up; tmpfs has no storage and is not checked. */
START_TEST(bytes_written_counted)
{
	edge_store *s = open_wal_store(1024 * 1024, 16);
	struct edge_store_stats st;
	struct statfs fs;

	for (int i = 0; i < 256; i++)
		ck_assert_int_eq(edge_store_submit(s, blob_run, NULL, (void *)(intptr_t)i), 0);
	edge_store_flush(s);
	edge_store_run_completions(s);
	edge_store_get_stats(s, &st);
	ck_assert_uint_ge(st.wal_bytes_appended, 256 * 1000);
	ck_assert_int_eq(statfs(test_db_dir.dir, &fs), 0);
	if (st.bytes_written_known && fs.f_type != TMPFS_MAGIC)
		ck_assert_uint_ge(st.bytes_written, 256 * 1000);
	fprintf(stderr, "bytes_written: %s %" PRIu64 " for %" PRIu64 " B of WAL frames (fs 0x%lx)\n",
		st.bytes_written_known ? "known" : "unknown", st.bytes_written, st.wal_bytes_appended,
		(unsigned long)fs.f_type);
	edge_store_close(s);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *open = tcase_create("open");
	TCase *writer = tcase_create("writer");
	TCase *wal = tcase_create("wal");

	tcase_add_checked_fixture(open, test_db_setup, test_db_teardown);
	tcase_add_test(open, open_creates_and_migrates);
	tcase_add_test(open, pragmas_in_effect);
	tcase_add_test(open, reopen_is_idempotent_and_keeps_data);
	tcase_add_test(open, refuses_newer_schema);
	tcase_add_test(open, migrates_version_1_presence);
	tcase_add_test(open, detects_garbage_file);
	tcase_add_test(open, detects_damaged_pages);
	tcase_add_test(open, missing_directory_fails_cleanly);
	suite_add_tcase(s, open);

	tcase_add_checked_fixture(writer, test_db_setup, test_db_teardown);
	tcase_add_test(writer, group_commit_batches);
	tcase_add_test(writer, failing_op_fails_alone);
	tcase_add_test(writer, failed_commit_fails_batch_and_writer_recovers);
	tcase_add_test(writer, rolled_back_transaction_fails_its_ops_honestly);
	tcase_add_test(writer, queue_limit_refuses_without_blocking);
	tcase_add_test(writer, completions_only_through_run_completions);
	tcase_add_test(writer, flush_and_close_with_pending_ops);
	tcase_add_test(writer, read_sees_submitted_ops_and_returns_fn_result);
	tcase_add_test(writer, progress_advances_while_idle);
	suite_add_tcase(s, writer);

	tcase_add_checked_fixture(wal, test_db_setup, test_db_teardown);
	tcase_add_test(wal, wal_held_to_its_limit_under_load);
	tcase_add_test(wal, passive_checkpoint_when_idle);
	tcase_add_test(wal, bytes_written_counted);
	suite_add_tcase(s, wal);
	return s;
}

int main(void)
{
	return test_run_suite(store_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
