/* Store lifecycle, the writer thread and its group-commit queue.
 *
 * Submitted ops live in a ring of queue_max_ops slots, addressed by three
 * ever-growing sequence numbers: head (next completion to deliver, owner
 * thread), done_seq (first op the writer has not finished) and tail (next
 * submit). Slots in [done_seq, tail) belong to the writer, [head, done_seq) to
 * the owner thread; the mutex only guards the sequence numbers.
 *
 * The writer also owns the WAL (edge_store_wal.c decides which checkpoint is
 * due) and the response to a failing disk: a backoff before the next batch
 * and failure lines through a rate limit (see the header). */
#include "edge_store_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge_backoff.h"
#include "edge_log.h"
#include "edge_time.h"

#define IDLE_WAKE_MS 1000
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS 2000
#define WAL_MIN_BYTES (64u * 1024)

struct edge__store_op {
	edge_store_run_fn run;
	edge_store_done_fn done;
	void *ud;
	int result;
};

struct edge_store {
	char *path;
	struct edge_store_options opt;
	edge_store_conn conn;

	pthread_t writer;
	bool writer_started;
	pthread_mutex_t mu;
	pthread_cond_t writer_cv;  /* writer waits for work */
	pthread_cond_t owner_cv;   /* flush/read wait for the writer */

	struct edge__store_op *ring;
	unsigned ring_cap;
	uint64_t head, done_seq, tail;
	bool closing;
	unsigned flush_waiters;
	bool in_completions;

	/* one synchronous request at a time (edge_store_read) */
	edge_store_run_fn read_fn;
	void *read_ud;
	int read_result;
	bool read_pending;

	_Atomic uint64_t progress;

	/* writer thread only (the owner thread during open) */
	struct edge__store_wal wal;
	int io_fd;                 /* /proc/thread-self/io of the writer, or -1 */
	uint64_t io_base;          /* its write_bytes when the writer started */
	uint64_t retry_attempt;    /* failed attempts in a row */
	uint64_t retry_at_ms;      /* no batch before this (monotonic), unless hurried */
	uint64_t ckpt_attempt;     /* checkpoints failed or unfinished in a row */
	uint64_t ckpt_retry_at_ms; /* no checkpoint by choice before this */
	bool full;                 /* the last failure was a full disk */
	struct {
		bool failing;            /* in an episode: failures since the last success */
		bool logged;             /* a line of this episode was logged */
		bool any_line;           /* a line was ever logged (last_line_ms is set) */
		uint64_t since_ms, last_line_ms;
		uint64_t failures;       /* in this episode */
		uint64_t held;           /* lines held back since the last one logged */
		uint64_t held_episode;   /* lines held back in this episode */
	} fail;

	/* stats, under mu */
	uint64_t ops_committed, ops_failed, transactions, batches;
	unsigned max_batch;
	struct {
		uint64_t checkpoints, checkpoints_truncate, checkpoint_failures;
		uint64_t wal_bytes_appended, bytes_written, write_failures, log_suppressed;
		bool bytes_written_known, disk_full;
	} pub;
};

void edge_store_options_init(struct edge_store_options *opt)
{
	*opt = (struct edge_store_options){
		.queue_max_ops = 4096,
		.group_commit_max_ops = 256,
		.group_commit_max_delay_ms = 5,
		.busy_timeout_ms = 5000,
		.quick_check = true,
		.wal_max_bytes = 4u * 1024 * 1024,
		.error_log_interval_ms = 10000,
	};
}

static void set_err(const struct edge_store_options *opt, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void set_err(const struct edge_store_options *opt, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	edge_log(EDGE_LOG_ERR, "store", "%s", msg);
	if (opt->errbuf && opt->errbuf_len)
		snprintf(opt->errbuf, opt->errbuf_len, "%s", msg);
}

/* ---- writer thread ---- */

/* The sequence numbers' invariants (mu held). */
static void assert_seq_locked(const edge_store *s)
{
	assert(s->head <= s->done_seq);
	assert(s->done_seq <= s->tail);
	assert(s->tail - s->head <= s->ring_cap);
	(void)s;
}

/* A writer failure line, rate-limited: the first, then at most one per
 * error_log_interval_ms (across episodes, so a disk that flaps between
 * full and not stays quiet too) carrying how many were held back. A full
 * disk fails every batch; unlimited, that was some 180 lines a second. */
static void writer_failure(edge_store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void writer_failure(edge_store *s, const char *fmt, ...)
{
	uint64_t now = edge_time_monotonic_ms();
	char msg[512];
	va_list ap;

	if (!s->fail.failing) {
		s->fail.failing = true;
		s->fail.logged = false;
		s->fail.since_ms = now;
		s->fail.failures = s->fail.held_episode = 0;
	}
	s->fail.failures++;
	if (s->fail.any_line && s->opt.error_log_interval_ms &&
	    now - s->fail.last_line_ms < s->opt.error_log_interval_ms) {
		s->fail.held++;
		s->fail.held_episode++;
		pthread_mutex_lock(&s->mu);
		s->pub.log_suppressed++;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->fail.any_line = s->fail.logged = true;
	s->fail.last_line_ms = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->fail.held)
		edge_log(EDGE_LOG_ERR, "store", "%s (%" PRIu64 " similar lines suppressed)", msg,
			 s->fail.held);
	else
		edge_log(EDGE_LOG_ERR, "store", "%s", msg);
	s->fail.held = 0;
}

/* The end of a failure episode: no more backoff, and one line if a failure
 * of this episode was shown (an operator who saw it must see the end). */
static void writer_recovered(edge_store *s)
{
	s->retry_attempt = 0;
	s->retry_at_ms = 0;
	s->full = false;
	if (!s->fail.failing)
		return;
	s->fail.failing = false;
	if (!s->fail.logged)
		return;
	s->fail.last_line_ms = edge_time_monotonic_ms();
	edge_log(EDGE_LOG_NOTICE, "store",
		 "%s: writes succeed again after %" PRIu64 " failures in %" PRIu64
		 " ms (%" PRIu64 " lines suppressed)",
		 s->path, s->fail.failures, s->fail.last_line_ms - s->fail.since_ms,
		 s->fail.held_episode);
}

/* Errors of the disk or the system, worth another try after a pause (an
 * op's own error, a constraint, is not). */
static bool retryable(int err)
{
	return err == -ENOSPC || err == -EIO || err == -EBUSY || err == -ENOMEM ||
	       err == -EACCES || err == -EROFS;
}

static void writer_backoff(edge_store *s, int err)
{
	if (!retryable(err))
		return;
	s->full = err == -ENOSPC;
	s->retry_at_ms = edge_time_monotonic_ms() +
			 edge_backoff_ceiling(RETRY_BASE_MS, RETRY_CAP_MS, s->retry_attempt);
	s->retry_attempt++;
}

static int step_cached(edge_store_conn *conn, const char *sql)
{
	sqlite3_stmt *stmt;
	int rc = edge_store_conn_prepare(conn, sql, &stmt);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = edge__store_db_error(conn->db, rc);
		return rc < 0 ? rc : EDGE_ESTORE;
	}
	return 0;
}

/* An op may leave a cached SELECT mid-way; reset so it holds no read lock. */
static void reset_busy_statements(edge_store_conn *conn)
{
	for (size_t i = 0; i < conn->cache_len; i++)
		if (sqlite3_stmt_busy(conn->cache[i].stmt))
			sqlite3_reset(conn->cache[i].stmt);
}

static int run_one_in_savepoint(edge_store *s, struct edge__store_op *op)
{
	int rc = step_cached(&s->conn, "SAVEPOINT edge_op");

	if (rc < 0)
		return rc;
	rc = op->run(&s->conn, op->ud);
	if (rc > 0)
		rc = 0;
	reset_busy_statements(&s->conn);
	if (rc < 0) {
		if (step_cached(&s->conn, "ROLLBACK TO edge_op") < 0)
			writer_failure(s, "rollback to savepoint failed: %s",
				       sqlite3_errmsg(s->conn.db));
	}
	if (step_cached(&s->conn, "RELEASE edge_op") < 0 && rc == 0)
		rc = EDGE_ESTORE;
	return rc;
}

static void fail_ops(edge_store *s, uint64_t start, unsigned from, unsigned to, int err)
{
	for (unsigned i = from; i < to; i++) {
		struct edge__store_op *op = &s->ring[(start + i) % s->ring_cap];

		if (op->result == 0)
			op->result = err;
	}
}

/* Runs ops [start, start+n) in one transaction. Returns 0 if it committed,
 * else the store-level error (the ops carry their results); *committed
 * tells whether a transaction committed (a batch can do both). Some errors
 * (I/O, disk full) make SQLite roll back the whole transaction on its own:
 * then the ops before are reported failed too, and the rest of the batch
 * continues in a new transaction. */
static int run_batch(edge_store *s, uint64_t start, unsigned n, unsigned *n_ok,
		     bool *committed)
{
	unsigned first = 0; /* first op of the open transaction */
	int err = 0;
	int rc = step_cached(&s->conn, "BEGIN IMMEDIATE");

	assert(n >= 1 && n <= s->ring_cap);
	*n_ok = 0;
	*committed = false;
	if (rc < 0) {
		writer_failure(s, "cannot begin transaction: %s (%s)", edge_strerror(rc),
			       sqlite3_errmsg(s->conn.db));
		fail_ops(s, start, 0, n, rc);
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		struct edge__store_op *op = &s->ring[(start + i) % s->ring_cap];

		op->result = run_one_in_savepoint(s, op);
		if (!sqlite3_get_autocommit(s->conn.db))
			continue;
		/* the transaction is gone, with every op in it */
		rc = op->result < 0 ? op->result : EDGE_ESTORE;
		if (rc == -EIO)
			rc = edge__store_db_error(s->conn.db, SQLITE_IOERR) ?: rc;
		err = rc;
		writer_failure(s, "transaction rolled back by SQLite: %u operations lost: %s",
			       i + 1 - first, edge_strerror(rc));
		fail_ops(s, start, first, i + 1, rc);
		op->result = rc;
		first = i + 1;
		assert(first <= n);
		if (first == n)
			return err;
		rc = step_cached(&s->conn, "BEGIN IMMEDIATE");
		if (rc < 0) {
			fail_ops(s, start, first, n, rc);
			return rc;
		}
	}
	rc = step_cached(&s->conn, "COMMIT");
	if (rc < 0) {
		writer_failure(s, "commit of %u operations failed: %s (%s)", n - first,
			       edge_strerror(rc), sqlite3_errmsg(s->conn.db));
		if (!sqlite3_get_autocommit(s->conn.db))
			(void)step_cached(&s->conn, "ROLLBACK");
		fail_ops(s, start, first, n, rc);
		return rc;
	}
	*committed = true;
	for (unsigned i = 0; i < n; i++)
		if (s->ring[(start + i) % s->ring_cap].result == 0)
			(*n_ok)++;
	return err;
}

static int run_read(edge_store *s, edge_store_run_fn fn, void *ud)
{
	int rc = step_cached(&s->conn, "BEGIN");
	int crc;

	if (rc < 0)
		return rc;
	rc = fn(&s->conn, ud);
	if (rc > 0)
		rc = 0;
	reset_busy_statements(&s->conn);
	crc = step_cached(&s->conn, rc == 0 ? "COMMIT" : "ROLLBACK");
	if (crc < 0 && !sqlite3_get_autocommit(s->conn.db))
		(void)step_cached(&s->conn, "ROLLBACK");
	return rc < 0 ? rc : crc;
}

static struct timespec deadline_after(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void wake_owner(edge_store *s)
{
	if (s->opt.wake)
		s->opt.wake(s->opt.wake_ud);
}

/* Copies the writer's own figures into the published stats (mu held). */
static void publish_locked(edge_store *s)
{
	uint64_t wb;

	s->pub.checkpoints = s->wal.checkpoints;
	s->pub.checkpoints_truncate = s->wal.checkpoints_truncate;
	s->pub.checkpoint_failures = s->wal.checkpoint_failures;
	s->pub.wal_bytes_appended = s->wal.frames_appended * s->wal.frame_bytes;
	s->pub.disk_full = s->full;
	if (s->pub.bytes_written_known && edge__store_io_write_bytes(s->io_fd, &wb) &&
	    wb >= s->io_base)
		s->pub.bytes_written = wb - s->io_base;
}

static void checkpoint(edge_store *s, int mode, bool idle)
{
	const char *name = mode == SQLITE_CHECKPOINT_TRUNCATE ? "truncate" : "passive";
	uint64_t log_bytes = edge__store_wal_log_bytes(&s->wal);
	int rc = edge__store_wal_checkpoint(&s->wal, mode);

	/* a failed or unfinished checkpoint is not retried at once: that would
	 * spin while another reader holds an old snapshot */
	if (rc < 0 || edge__store_wal_due(&s->wal, true) >= 0) {
		s->ckpt_retry_at_ms = edge_time_monotonic_ms() +
				      edge_backoff_ceiling(RETRY_BASE_MS, RETRY_CAP_MS, s->ckpt_attempt);
		s->ckpt_attempt++;
	} else {
		s->ckpt_attempt = 0;
		s->ckpt_retry_at_ms = 0;
	}
	if (rc < 0) {
		writer_failure(s, "%s checkpoint of a %" PRIu64 "-byte WAL failed: %s (%s)", name,
			       log_bytes, edge_strerror(rc), sqlite3_errmsg(s->conn.db));
		return;
	}
	edge_log(EDGE_LOG_DEBUG, "store", "%s checkpoint of a %" PRIu64 "-byte WAL", name,
		 log_bytes);
	if (idle)
		writer_recovered(s);
}

/* One batch, with the checkpoint due before it. */
static bool write_batch(edge_store *s, uint64_t start, unsigned n, unsigned *n_ok)
{
	int mode = edge__store_wal_due(&s->wal, false);
	bool committed;
	int err;

	/* After a full disk, empty the WAL before writing again: the log must
	 * not grow back over the space the operator just freed. */
	if (s->full)
		mode = SQLITE_CHECKPOINT_TRUNCATE;
	else if (edge_time_monotonic_ms() < s->ckpt_retry_at_ms)
		mode = -1;
	if (mode >= 0)
		checkpoint(s, mode, false);
	err = run_batch(s, start, n, n_ok, &committed);
	if (err < 0)
		writer_backoff(s, err);
	else if (committed)
		writer_recovered(s);
	return committed;
}

static void *writer_main(void *arg)
{
	edge_store *s = arg;
	struct timespec batch_deadline = { 0 };
	bool waiting_for_batch = false;
	uint64_t wb;

	s->io_fd = edge__store_io_open();
	pthread_mutex_lock(&s->mu);
	s->pub.bytes_written_known = edge__store_io_write_bytes(s->io_fd, &wb);
	s->io_base = s->pub.bytes_written_known ? wb : 0;
	for (;;) {
		uint64_t pending, now;
		bool hurry;
		int due;

		atomic_fetch_add(&s->progress, 1);
		assert_seq_locked(s);
		if (s->read_pending) {
			edge_store_run_fn fn = s->read_fn;
			void *ud = s->read_ud;
			int rc;

			pthread_mutex_unlock(&s->mu);
			rc = run_read(s, fn, ud);
			pthread_mutex_lock(&s->mu);
			s->read_result = rc;
			s->read_pending = false;
			publish_locked(s);
			pthread_cond_broadcast(&s->owner_cv);
			continue;
		}
		pending = s->tail - s->done_seq;
		hurry = s->closing || s->flush_waiters;
		now = edge_time_monotonic_ms();
		if (pending == 0) {
			if (s->closing)
				break;
			/* Idle, between group commits: the time for checkpoints. */
			due = edge__store_wal_due(&s->wal, true);
			if (due >= 0 && now >= s->retry_at_ms && now >= s->ckpt_retry_at_ms) {
				pthread_mutex_unlock(&s->mu);
				checkpoint(s, due, true);
				pthread_mutex_lock(&s->mu);
				publish_locked(s);
				continue;
			}
			struct timespec idle = deadline_after(IDLE_WAKE_MS);
			pthread_cond_timedwait(&s->writer_cv, &s->mu, &idle);
			continue;
		}
		if (!hurry && now < s->retry_at_ms) {
			/* backing off after a failure; still wake each second */
			uint64_t wait = s->retry_at_ms - now;
			struct timespec until = deadline_after(wait < IDLE_WAKE_MS ? (unsigned)wait
										  : IDLE_WAKE_MS);

			pthread_cond_timedwait(&s->writer_cv, &s->mu, &until);
			continue;
		}
		if (pending < s->opt.group_commit_max_ops && s->opt.group_commit_max_delay_ms &&
		    !hurry) {
			struct timespec ts;

			if (!waiting_for_batch) {
				batch_deadline = deadline_after(s->opt.group_commit_max_delay_ms);
				waiting_for_batch = true;
			}
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (before(&ts, &batch_deadline)) {
				/* still wake each second: progress is the watchdog's sign of life */
				struct timespec idle = deadline_after(IDLE_WAKE_MS);

				pthread_cond_timedwait(&s->writer_cv, &s->mu,
						       before(&idle, &batch_deadline) ? &idle : &batch_deadline);
				continue;
			}
		}
		waiting_for_batch = false;

		uint64_t start = s->done_seq;
		unsigned n = pending < s->opt.group_commit_max_ops ? (unsigned)pending
								    : s->opt.group_commit_max_ops;
		unsigned n_ok;
		bool committed;

		assert(n >= 1 && n <= pending && n <= s->opt.group_commit_max_ops);
		pthread_mutex_unlock(&s->mu);
		committed = write_batch(s, start, n, &n_ok);
		pthread_mutex_lock(&s->mu);
		assert(s->done_seq == start); /* only the writer moves done_seq */
		assert(n_ok <= n);
		s->done_seq += n;
		s->batches++;
		if (committed)
			s->transactions++;
		else
			s->pub.write_failures++;
		s->ops_committed += n_ok;
		s->ops_failed += n - n_ok;
		if (n > s->max_batch)
			s->max_batch = n;
		publish_locked(s);
		pthread_cond_broadcast(&s->owner_cv);
		pthread_mutex_unlock(&s->mu);
		wake_owner(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->io_fd >= 0)
		close(s->io_fd);
	s->io_fd = -1;
	return NULL;
}

/* ---- open / close ---- */

/* Op callbacks run on the writer and must not call back into the store:
 * waiting for the writer from the writer would deadlock. */
static void assert_not_writer(const edge_store *s)
{
	assert(!s->writer_started || !pthread_equal(pthread_self(), s->writer));
	(void)s;
}

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return edge__store_db_error(db, rc) ?: EDGE_ESTORE;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(stmt, 0);

		snprintf(out, out_len, "%s", t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		out[0] = '\0';
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_OK ? 0 : (edge__store_db_error(db, rc) ?: EDGE_ESTORE);
}

/* The database's settings, its check and its migration; the reason of a
 * failure goes to why. */
static int configure_db(sqlite3 *db, const char *path, const struct edge_store_options *opt,
			char *why, size_t why_len)
{
	char val[256];
	int rc;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)opt->busy_timeout_ms);

	/* The first real access: a file that is not a database fails here. */
	rc = pragma_text(db, "PRAGMA journal_mode=WAL", val, sizeof val);
	if (rc == EDGE_ECORRUPT) {
		say(why, why_len, "%s: not an SQLite database or corrupt: %s", path, sqlite3_errmsg(db));
		return rc;
	}
	if (rc < 0) {
		say(why, why_len, "%s: cannot set WAL mode: %s", path, sqlite3_errmsg(db));
		return rc;
	}
	if (strcmp(val, "wal") != 0) {
		say(why, why_len, "%s: WAL journal mode not available (got '%s')", path, val);
		return EDGE_ESTORE;
	}
	rc = edge__store_exec(db,
			      opt->synchronous_normal ?
				      "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON" :
				      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
			      val, sizeof val);
	if (rc < 0) {
		say(why, why_len, "%s: cannot set pragmas: %s", path, val);
		return rc;
	}
	if (opt->quick_check) {
		rc = pragma_text(db, "PRAGMA quick_check(1)", val, sizeof val);
		if (rc < 0) {
			say(why, why_len, "%s: integrity check failed: %s", path, sqlite3_errmsg(db));
			return rc == EDGE_ESTORE ? EDGE_ECORRUPT : rc;
		}
		if (strcmp(val, "ok") != 0) {
			say(why, why_len, "%s: integrity check failed: %s", path, val);
			return EDGE_ECORRUPT;
		}
	}
	rc = edge__store_migrate(db, val, sizeof val);
	if (rc < 0) {
		if (rc == EDGE_ECORRUPT)
			say(why, why_len, "%s: not an SQLite database or corrupt: %s", path, val);
		else
			say(why, why_len, "%s: schema: %s", path, val);
		return rc;
	}
	return 0;
}

static int sqlite_rc_of(sqlite3 *db)
{
	return db ? sqlite3_extended_errcode(db) : SQLITE_CANTOPEN;
}

static int start_writer(edge_store *s)
{
	sigset_t all, old;
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return -ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->writer_cv, &ca);
	pthread_cond_init(&s->owner_cv, &ca);
	pthread_condattr_destroy(&ca);

	/* Signals belong to the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->writer, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&s->writer_cv);
		pthread_cond_destroy(&s->owner_cv);
		pthread_mutex_destroy(&s->mu);
		return -rc;
	}
	s->writer_started = true;
	return 0;
}

int edge_store_open(const char *path, const struct edge_store_options *opt, edge_store **out)
{
	struct edge_store_options defaults;
	edge_store *s;
	sqlite3 *db = NULL;
	char why[512];
	int rc;

	if (!opt) {
		edge_store_options_init(&defaults);
		opt = &defaults;
	}
	if (!path || !*path || !out || opt->queue_max_ops == 0 || opt->group_commit_max_ops == 0 ||
	    opt->wal_max_bytes < WAL_MIN_BYTES)
		return -EINVAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->opt = *opt;
	s->opt.errbuf = NULL;
	s->opt.errbuf_len = 0;
	s->opt.vfs_name = NULL; /* borrowed, used by the open only */
	if (s->opt.group_commit_max_ops > s->opt.queue_max_ops)
		s->opt.group_commit_max_ops = s->opt.queue_max_ops;
	s->io_fd = -1;
	s->path = strdup(path);
	s->ring_cap = opt->queue_max_ops;
	s->ring = calloc(s->ring_cap, sizeof *s->ring);
	if (!s->path || !s->ring) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     opt->vfs_name);
	if (rc != SQLITE_OK) {
		say(why, sizeof why, "%s: cannot open database: %s", path,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		rc = edge__store_db_error(db, rc) ?: EDGE_ESTORE;
	} else if (sqlite3_db_readonly(db, "main") == 1) {
		/* SQLite falls back to read-only on a file it may not write */
		say(why, sizeof why, "%s: the database can only be opened read-only", path);
		rc = -EACCES;
	} else {
		rc = configure_db(db, path, opt, why, sizeof why);
	}
	if (rc == 0) {
		rc = edge__store_wal_init(&s->wal, db, opt->wal_max_bytes, why, sizeof why);
		if (rc < 0)
			say(why, sizeof why, "%s: cannot set the WAL size limit: %s", path,
			    sqlite3_errmsg(db));
	}
	if (rc == -ENOENT || rc == -EACCES || rc == -EIO || rc == -ENOSPC || rc == -EROFS) {
		/* SQLite's words for these mislead (a directory edged may not write
		 * read "No such file or directory"): look at the path ourselves. */
		char diag[sizeof why];
		int drc = edge__store_diagnose_open(path, db, sqlite_rc_of(db), diag, sizeof diag);

		if (drc < 0) {
			rc = drc;
			snprintf(why, sizeof why, "%s", diag);
		}
	}
	if (rc < 0) {
		set_err(opt, "%s", why);
		goto fail;
	}
	s->conn.db = db;
	rc = start_writer(s);
	if (rc < 0) {
		set_err(opt, "%s: cannot start writer thread: %s", path, edge_strerror(rc));
		s->conn.db = NULL;
		goto fail;
	}
	*out = s;
	return 0;

fail:
	sqlite3_close_v2(db);
	free(s->ring);
	free(s->path);
	free(s);
	return rc;
}

void edge_store_close(edge_store *s)
{
	if (!s)
		return;
	if (s->writer_started) {
		assert_not_writer(s);
		edge_store_flush(s);
		while (edge_store_run_completions(s) > 0)
			edge_store_flush(s);
		pthread_mutex_lock(&s->mu);
		s->closing = true;
		pthread_cond_signal(&s->writer_cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
		(void)edge_store_run_completions(s);
		assert(s->head == s->tail); /* nothing left behind */
		pthread_cond_destroy(&s->writer_cv);
		pthread_cond_destroy(&s->owner_cv);
		pthread_mutex_destroy(&s->mu);
	}
	edge__store_conn_clear(&s->conn);
	if (s->conn.db && sqlite3_close(s->conn.db) != SQLITE_OK)
		edge_log(EDGE_LOG_ERR, "store", "%s: close failed: %s", s->path,
			 sqlite3_errmsg(s->conn.db));
	free(s->ring);
	free(s->path);
	free(s);
}

/* ---- owner-thread API ---- */


int edge_store_submit(edge_store *s, edge_store_run_fn run, edge_store_done_fn done, void *ud)
{
	int rc = 0;

	if (!s || !run)
		return -EINVAL;
	assert_not_writer(s);
	pthread_mutex_lock(&s->mu);
	assert_seq_locked(s);
	if (s->closing) {
		rc = EDGE_ECLOSED;
	} else if (s->tail - s->head >= s->ring_cap) {
		rc = EDGE_ELIMIT;
	} else {
		s->ring[s->tail % s->ring_cap] = (struct edge__store_op){
			.run = run, .done = done, .ud = ud,
		};
		s->tail++;
		assert(s->tail - s->head <= s->ring_cap);
		/* Wake the writer for the first op of a batch and when a batch fills;
		 * in between it sleeps until its group-commit deadline. */
		uint64_t pending = s->tail - s->done_seq;
		if (pending == 1 || pending >= s->opt.group_commit_max_ops)
			pthread_cond_signal(&s->writer_cv);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

unsigned edge_store_run_completions(edge_store *s)
{
	unsigned count = 0;
	uint64_t end;

	if (!s || s->in_completions)
		return 0;
	assert_not_writer(s);
	s->in_completions = true;
	pthread_mutex_lock(&s->mu);
	assert_seq_locked(s);
	end = s->done_seq;
	pthread_mutex_unlock(&s->mu);
	while (s->head < end) {
		struct edge__store_op op = s->ring[s->head % s->ring_cap];

		pthread_mutex_lock(&s->mu);
		assert(s->head < s->done_seq);
		s->head++;
		pthread_mutex_unlock(&s->mu);
		if (op.done)
			op.done(op.result, op.ud);
		count++;
	}
	s->in_completions = false;
	return count;
}

void edge_store_flush(edge_store *s)
{
	uint64_t target;

	if (!s || !s->writer_started)
		return;
	assert_not_writer(s);
	pthread_mutex_lock(&s->mu);
	target = s->tail;
	s->flush_waiters++;
	pthread_cond_signal(&s->writer_cv);
	while (s->done_seq < target)
		pthread_cond_wait(&s->owner_cv, &s->mu);
	s->flush_waiters--;
	pthread_mutex_unlock(&s->mu);
}

int edge_store_read(edge_store *s, edge_store_run_fn fn, void *ud)
{
	int rc;

	if (!s || !fn)
		return -EINVAL;
	assert_not_writer(s);
	edge_store_flush(s);
	pthread_mutex_lock(&s->mu);
	if (s->closing || s->read_pending) {
		pthread_mutex_unlock(&s->mu);
		return s->closing ? EDGE_ECLOSED : -EBUSY;
	}
	s->read_fn = fn;
	s->read_ud = ud;
	s->read_pending = true;
	pthread_cond_signal(&s->writer_cv);
	while (s->read_pending)
		pthread_cond_wait(&s->owner_cv, &s->mu);
	rc = s->read_result;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

uint64_t edge_store_progress(const edge_store *s)
{
	return s ? atomic_load(&((edge_store *)s)->progress) : 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void edge_store_get_stats(const edge_store *cs, struct edge_store_stats *out)
{
	edge_store *s = (edge_store *)cs; /* the mutex is not part of the value */
	char wal[4096];

	memset(out, 0, sizeof *out);
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	out->ops_submitted = s->tail;
	out->ops_committed = s->ops_committed;
	out->ops_failed = s->ops_failed;
	out->transactions = s->transactions;
	out->avg_batch_ops = s->batches ? (double)(s->ops_committed + s->ops_failed) / (double)s->batches : 0.0;
	out->queue_depth = (unsigned)(s->tail - s->done_seq);
	out->completions_pending = (unsigned)(s->done_seq - s->head);
	out->max_batch_ops = s->max_batch;
	out->wal_max_bytes = s->opt.wal_max_bytes;
	out->checkpoints = s->pub.checkpoints;
	out->checkpoints_truncate = s->pub.checkpoints_truncate;
	out->checkpoint_failures = s->pub.checkpoint_failures;
	out->bytes_written = s->pub.bytes_written;
	out->bytes_written_known = s->pub.bytes_written_known;
	out->wal_bytes_appended = s->pub.wal_bytes_appended;
	out->write_failures = s->pub.write_failures;
	out->disk_full = s->pub.disk_full;
	out->log_suppressed = s->pub.log_suppressed;
	pthread_mutex_unlock(&s->mu);
	out->db_bytes = file_size(s->path);
	if ((size_t)snprintf(wal, sizeof wal, "%s-wal", s->path) < sizeof wal)
		out->wal_bytes = file_size(wal);
}

const char *edge_store_path(const edge_store *s)
{
	return s ? s->path : NULL;
}
