/* Suite 'store' (disk): the store on a disk that fails it, for real.
 *
 * A full disk is a small tmpfs mounted in a private mount namespace, so the
 * test needs no loop device and leaves nothing mounted: each case forks a
 * child that unshares its mount namespace (as root), or a user and mount
 * namespace (as any other user, where the kernel allows it), mounts the
 * tmpfs on a scratch directory and runs the store there. The child reports
 * through its exit status and stderr; it never returns into Check.
 *
 * An unwritable state directory is shown to a child that gave up root
 * (uid 65534), since root passes every permission check. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "edge_log.h"
#include "edge_store.h"
#include "edge_time.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define NOBODY 65534
#define WAIT_LIMIT_MS 15000
#define WAL_MAX (64u * 1024)
#define LOG_INTERVAL_MS 300

/* ---- in the child: checks that end the child ---- */

#define REQUIRE(cond, ...)                                                        \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			_exit(1);                                                 \
		}                                                                 \
	} while (0)

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	n = write(fd, text, strlen(text));
	REQUIRE(n == (ssize_t)strlen(text), "write %s: %s", path, strerror(errno));
	close(fd);
}

/* A mount namespace of our own; as a non-root user, inside a user
 * namespace where we are root. */
static void enter_private_mount_ns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (uid == 0) {
		REQUIRE(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	} else {
		REQUIRE(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0,
			"unshare(CLONE_NEWUSER|CLONE_NEWNS) as uid %u: %s (user namespaces disabled? run as root)",
			(unsigned)uid, strerror(errno));
		snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
		write_file("/proc/self/uid_map", map);
		write_file("/proc/self/setgroups", "deny");
		snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
		write_file("/proc/self/gid_map", map);
	}
	/* nothing we mount may leak to the parent's namespace */
	REQUIRE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private: %s",
		strerror(errno));
}

static void mount_tmpfs(const char *dir, const char *size, unsigned long flags)
{
	char opts[64];

	snprintf(opts, sizeof opts, "size=%s,mode=0755", size);
	REQUIRE(mount("tmpfs", dir, "tmpfs", flags, opts) == 0, "mount tmpfs on %s: %s", dir,
		strerror(errno));
}

/* Runs body(dir) in a child and asserts it exited 0. */
static void run_child(int (*body)(const char *dir), const char *dir)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(body(dir));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died (status 0x%x)", (unsigned)status);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed (exit %d), see stderr",
		      WEXITSTATUS(status));
}

static void make_subdir(char *out, size_t len, const char *name, mode_t mode)
{
	test_tmpdir_path(&test_db_dir, name, out, len);
	ck_assert_int_eq(mkdir(out, mode), 0);
	ck_assert_int_eq(chmod(out, mode), 0); /* past the umask */
}

/* ---- captured log lines ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned log_err_lines, log_err_suppressed_lines, log_recovered_lines;

static void capture_log(int level, const char *group, const char *msg, void *ud)
{
	(void)ud;
	if (strcmp(group, "store") != 0)
		return;
	pthread_mutex_lock(&log_mu);
	if (level == EDGE_LOG_ERR) {
		log_err_lines++;
		if (strstr(msg, "similar lines suppressed"))
			log_err_suppressed_lines++;
	} else if (level == EDGE_LOG_NOTICE && strstr(msg, "writes succeed again")) {
		log_recovered_lines++;
	}
	pthread_mutex_unlock(&log_mu);
	fprintf(stderr, "  log<%d> %s: %s\n", level, group, msg);
}

static unsigned logged(unsigned *counter)
{
	unsigned v;

	pthread_mutex_lock(&log_mu);
	v = *counter;
	pthread_mutex_unlock(&log_mu);
	return v;
}

/* ---- store ops ---- */

static int exec_op(edge_store_conn *c, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c, ud, &st);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : edge_store_conn_error(c, rc);
}

/* Writes a 2000-byte blob into row `id`; rows are reused so the database
 * stays small while the WAL sees every write. */
struct blob_op {
	long long id;
	int result;
	bool done;
};

static int blob_run(edge_store_conn *c, void *ud)
{
	struct blob_op *op = ud;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c,
		"INSERT OR REPLACE INTO blobs (id, b) VALUES (?1, randomblob(2000))", &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, op->id);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(c, rc);
}

static void blob_done(int result, void *ud)
{
	struct blob_op *op = ud;

	op->result = result;
	op->done = true;
}

enum { BATCH = 8 };

/* Submits BATCH blob writes to rows [first_id, first_id + BATCH). */
static void submit_batch(edge_store *s, struct blob_op *ops, long long first_id)
{
	for (int i = 0; i < BATCH; i++) {
		ops[i] = (struct blob_op){ .id = first_id + i };
		REQUIRE(edge_store_submit(s, blob_run, blob_done, &ops[i]) == 0, "submit");
	}
}

static uint64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- a full disk ---- */

static int disk_full_body(const char *dir)
{
	struct edge_store_options opt;
	struct edge_store_stats st;
	struct blob_op ops[BATCH];
	char path[PATH_MAX], wal[PATH_MAX + 8], filler[PATH_MAX], err[512] = "";
	static char chunk[4096];
	edge_store *s = NULL;
	unsigned failed_batches = 0, err_lines, recovered;
	uint64_t t0, t1, deadline, wal_peak = 0;
	int fd, rc;

	enter_private_mount_ns();
	mount_tmpfs(dir, "1m", 0);
	snprintf(path, sizeof path, "%s/edged.db", dir);
	snprintf(wal, sizeof wal, "%s-wal", path);
	snprintf(filler, sizeof filler, "%s/filler", dir);
	edge_log_set_hook(capture_log, NULL);
	edge_log_set_level(EDGE_LOG_INFO);

	edge_store_options_init(&opt);
	opt.queue_max_ops = 256;
	opt.group_commit_max_ops = BATCH;
	opt.group_commit_max_delay_ms = 0;
	opt.wal_max_bytes = WAL_MAX;
	opt.error_log_interval_ms = LOG_INTERVAL_MS;
	opt.errbuf = err;
	opt.errbuf_len = sizeof err;
	rc = edge_store_open(path, &opt, &s);
	REQUIRE(rc == 0, "open: %s (%s)", edge_strerror(rc), err);
	REQUIRE(edge_store_read(s, exec_op,
		"CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)") == 0, "create");

	/* Some rows, then fill every byte the file system has left. */
	for (int b = 0; b < 8; b++) {
		submit_batch(s, ops, b * BATCH);
		edge_store_flush(s);
		edge_store_run_completions(s);
		for (int i = 0; i < BATCH; i++)
			REQUIRE(ops[i].result == 0, "write before the disk is full: %s",
				edge_strerror(ops[i].result));
	}
	fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "filler: %s", strerror(errno));
	memset(chunk, 0x5a, sizeof chunk);
	while (write(fd, chunk, sizeof chunk) > 0)
		;
	REQUIRE(errno == ENOSPC, "filling stopped with %s", strerror(errno));
	close(fd);

	/* Writes now fail, each op with the specific error; new rows need new
	 * pages, so some batch must fail before long. Flush does not wait for
	 * the backoff, so the failures come fast, as under a heavy load. */
	/* Keep failing for a few intervals, so that the rate limit shows. */
	t0 = edge_time_monotonic_ms();
	for (int b = 0; b < 100000 && (failed_batches < 12 ||
				       edge_time_monotonic_ms() - t0 < 3 * LOG_INTERVAL_MS); b++) {
		submit_batch(s, ops, 1000 + b * BATCH);
		edge_store_flush(s);
		REQUIRE(edge_store_run_completions(s) == BATCH, "completions");
		if (ops[0].result == 0)
			continue;
		for (int i = 0; i < BATCH; i++)
			REQUIRE(ops[i].result == -ENOSPC, "op %d on a full disk: %s", i,
				edge_strerror(ops[i].result));
		failed_batches++;
		if (file_bytes(wal) > wal_peak)
			wal_peak = file_bytes(wal);
	}
	t1 = edge_time_monotonic_ms();
	REQUIRE(failed_batches >= 12, "only %u batches failed on a full disk", failed_batches);
	edge_store_get_stats(s, &st);
	REQUIRE(st.disk_full, "stats show the full disk");
	REQUIRE(st.write_failures >= 12, "write_failures %" PRIu64, st.write_failures);
	REQUIRE(st.ops_failed >= 12 * BATCH, "ops_failed %" PRIu64, st.ops_failed);

	/* Rate-limited: the first line, then one per interval at most (the
	 * checkpoint failures, and a recovery line should a write slip
	 * through, share the budget). */
	err_lines = logged(&log_err_lines);
	recovered = logged(&log_recovered_lines);
	REQUIRE(err_lines >= 1, "the first failure is logged");
	REQUIRE(err_lines + recovered <= 2 + (t1 - t0) / LOG_INTERVAL_MS,
		"%u lines in %" PRIu64 " ms: not rate-limited", err_lines + recovered, t1 - t0);
	REQUIRE(logged(&log_err_suppressed_lines) >= 1, "no line told how many were suppressed");
	REQUIRE(st.log_suppressed > failed_batches / 2, "%" PRIu64 " lines suppressed in %u failing batches",
		st.log_suppressed, failed_batches);

	/* The operator frees space: the next writes succeed, with no flush to
	 * hurry the writer (it retries on its own after its backoff) and no
	 * restart. */
	REQUIRE(unlink(filler) == 0, "unlink filler: %s", strerror(errno));
	submit_batch(s, ops, 5000);
	deadline = edge_time_monotonic_ms() + WAIT_LIMIT_MS;
	while (!ops[BATCH - 1].done && edge_time_monotonic_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		edge_store_run_completions(s);
		nanosleep(&ts, NULL);
	}
	REQUIRE(ops[BATCH - 1].done, "writes not retried within %d ms", WAIT_LIMIT_MS);
	for (int i = 0; i < BATCH; i++)
		REQUIRE(ops[i].result == 0, "write after space was freed: %s",
			edge_strerror(ops[i].result));
	REQUIRE(logged(&log_recovered_lines) == recovered + 1, "one recovery line");
	edge_store_get_stats(s, &st);
	REQUIRE(!st.disk_full, "still flagged full");
	REQUIRE(st.checkpoints_truncate >= 1, "the WAL was not truncated before writing again");

	/* Rewriting the same rows over and over moves many times the size of
	 * the file system through the WAL: it only works if the WAL is held
	 * to its limit. */
	for (int b = 0; b < 150; b++) {
		uint64_t w;

		submit_batch(s, ops, (b % 8) * BATCH);
		edge_store_flush(s);
		edge_store_run_completions(s);
		for (int i = 0; i < BATCH; i++)
			REQUIRE(ops[i].result == 0, "batch %d op %d: %s", b, i,
				edge_strerror(ops[i].result));
		w = file_bytes(wal);
		/* the limit, plus at most one batch appended before the next
		 * checkpoint (8 rows of 2000 bytes, a few frames each) */
		REQUIRE(w <= WAL_MAX + 64 * 1024, "WAL at %" PRIu64 " bytes", w);
	}
	edge_store_get_stats(s, &st);
	REQUIRE(st.wal_bytes_appended > 2u * 1024 * 1024, "only %" PRIu64 " bytes went through the WAL",
		st.wal_bytes_appended);
	REQUIRE(st.checkpoints > 5, "checkpoints %" PRIu64, st.checkpoints);
	fprintf(stderr, "  full disk: %u failed batches in %" PRIu64 " ms, %u error lines, %" PRIu64
		" suppressed, WAL peak %" PRIu64 " B; then %" PRIu64 " B through the WAL, %" PRIu64
		" checkpoints (%" PRIu64 " truncate)\n", failed_batches, t1 - t0, err_lines,
		st.log_suppressed, wal_peak, st.wal_bytes_appended, st.checkpoints,
		st.checkpoints_truncate);
	edge_store_close(s);
	edge_log_set_hook(NULL, NULL);
	return 0;
}

START_TEST(full_disk_fails_writes_then_recovers)
{
	char dir[PATH_MAX + 64];

	make_subdir(dir, sizeof dir, "fs", 0755);
	run_child(disk_full_body, dir);
	ck_assert_int_eq(rmdir(dir), 0); /* nothing was left mounted here */
}
END_TEST

/* ---- why an open fails ---- */

static int open_in(const char *path, char *err, size_t len)
{
	struct edge_store_options opt;
	edge_store *s = NULL;
	int rc;

	edge_store_options_init(&opt);
	opt.errbuf = err;
	opt.errbuf_len = len;
	err[0] = '\0';
	rc = edge_store_open(path, &opt, &s);
	if (rc == 0)
		edge_store_close(s);
	else
		fprintf(stderr, "  open refused: %s: %s\n", edge_strerror(rc), err);
	return rc;
}

static int read_only_fs_body(const char *dir)
{
	char path[PATH_MAX], err[512];
	int rc;

	enter_private_mount_ns();
	mount_tmpfs(dir, "64k", MS_RDONLY);
	snprintf(path, sizeof path, "%s/edged.db", dir);
	rc = open_in(path, err, sizeof err);
	REQUIRE(rc == -EROFS, "got %s: %s", edge_strerror(rc), err);
	REQUIRE(strstr(err, "read-only file system") && strstr(err, path), "message: %s", err);
	return 0;
}

START_TEST(read_only_file_system_is_named)
{
	char dir[PATH_MAX + 64];

	make_subdir(dir, sizeof dir, "ro", 0755);
	run_child(read_only_fs_body, dir);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static int no_space_body(const char *dir)
{
	char path[PATH_MAX], filler[PATH_MAX], err[512];
	static char chunk[4096];
	int fd, rc;

	enter_private_mount_ns();
	mount_tmpfs(dir, "64k", 0);
	snprintf(path, sizeof path, "%s/edged.db", dir);
	snprintf(filler, sizeof filler, "%s/filler", dir);
	fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "filler: %s", strerror(errno));
	while (write(fd, chunk, sizeof chunk) > 0)
		;
	REQUIRE(errno == ENOSPC, "filling stopped with %s", strerror(errno));
	close(fd);
	rc = open_in(path, err, sizeof err);
	REQUIRE(rc == -ENOSPC, "got %s: %s", edge_strerror(rc), err);
	REQUIRE(strstr(err, "no space left on device") && strstr(err, path), "message: %s", err);
	return 0;
}

START_TEST(full_file_system_at_open_is_named)
{
	char dir[PATH_MAX + 64];

	make_subdir(dir, sizeof dir, "full", 0755);
	run_child(no_space_body, dir);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* As uid 65534 (root passes every permission check): a directory it may
 * not write, then a database file it may not write. */
static int unwritable_body(const char *dir)
{
	char sub[PATH_MAX], path[PATH_MAX + 16], wal[PATH_MAX + 32], want[PATH_MAX * 3], err[PATH_MAX * 2];
	unsigned uid;
	int rc;

	if (geteuid() == 0) {
		REQUIRE(setgroups(0, NULL) == 0, "setgroups: %s", strerror(errno));
		REQUIRE(setgid(NOBODY) == 0 && setuid(NOBODY) == 0, "drop to %d: %s", NOBODY,
			strerror(errno));
	}
	uid = (unsigned)geteuid();
	snprintf(sub, sizeof sub, "%s/locked", dir);
	snprintf(path, sizeof path, "%s/edged.db", sub);
	rc = open_in(path, err, sizeof err);
	REQUIRE(rc == -EACCES, "got %s: %s", edge_strerror(rc), err);
	snprintf(want, sizeof want,
		 "permission denied: cannot create %s (directory %s not writable by uid %u)", path,
		 sub, uid);
	REQUIRE(strcmp(err, want) == 0, "message: %s\n  wanted: %s", err, want);

	snprintf(sub, sizeof sub, "%s/owned", dir);
	snprintf(path, sizeof path, "%s/edged.db", sub);
	rc = open_in(path, err, sizeof err);
	REQUIRE(rc == -EACCES, "got %s: %s", edge_strerror(rc), err);
	REQUIRE(strstr(err, "permission denied") && strstr(err, "file not writable by uid") &&
		strstr(err, path), "message: %s", err);

	/* a writable file in a directory it may not write: no room for the WAL */
	snprintf(sub, sizeof sub, "%s/nowal", dir);
	snprintf(path, sizeof path, "%s/edged.db", sub);
	snprintf(wal, sizeof wal, "%s-wal", path);
	rc = open_in(path, err, sizeof err);
	REQUIRE(rc == -EACCES, "got %s: %s", edge_strerror(rc), err);
	REQUIRE(strstr(err, "permission denied") && strstr(err, wal), "message: %s", err);
	return 0;
}

START_TEST(unwritable_directory_is_named)
{
	char locked[PATH_MAX + 64], owned[PATH_MAX + 64], nowal[PATH_MAX + 64];
	char file[PATH_MAX + 128];
	bool root = geteuid() == 0;
	edge_store *s = NULL;

	ck_assert_int_eq(chmod(test_db_dir.dir, 0755), 0); /* reachable by uid 65534 */
	make_subdir(locked, sizeof locked, "locked", root ? 0755 : 0500);
	/* a database created by someone else, readable but not writable */
	make_subdir(owned, sizeof owned, "owned", 0777);
	snprintf(file, sizeof file, "%s/edged.db", owned);
	ck_assert_int_eq(edge_store_open(file, NULL, &s), 0);
	edge_store_close(s);
	ck_assert_int_eq(chmod(file, 0444), 0);
	/* a database the child may write, in a directory it may not */
	make_subdir(nowal, sizeof nowal, "nowal", 0755);
	snprintf(file, sizeof file, "%s/edged.db", nowal);
	ck_assert_int_eq(edge_store_open(file, NULL, &s), 0);
	edge_store_close(s);
	ck_assert_int_eq(chmod(file, 0666), 0);
	if (!root)
		ck_assert_int_eq(chmod(nowal, 0500), 0);

	run_child(unwritable_body, test_db_dir.dir);

	/* clean up what test_tmpdir_remove does not (it removes plain files) */
	chmod(locked, 0755);
	chmod(nowal, 0755);
	ck_assert_int_eq(rmdir(locked), 0);
	snprintf(file, sizeof file, "%s/edged.db", owned);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(owned), 0);
	snprintf(file, sizeof file, "%s/edged.db", nowal);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(nowal), 0);
}
END_TEST

static Suite *disk_suite(void)
{
	Suite *s = suite_create("store-disk");
	TCase *tc = tcase_create("disk");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, full_disk_fails_writes_then_recovers);
	tcase_add_test(tc, read_only_file_system_is_named);
	tcase_add_test(tc, full_file_system_at_open_is_named);
	tcase_add_test(tc, unwritable_directory_is_named);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(disk_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
