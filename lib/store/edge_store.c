/* Store lifecycle, the writer thread and its group-commit queue.
 *
 * Submitted ops live in a ring of queue_max_ops slots, addressed by three
 * ever-growing sequence numbers: head (next completion to deliver, owner
 * thread), done_seq (first op the writer has not finished) and tail (next
 * submit). Slots in [done_seq, tail) belong to the writer, [head, done_seq) to
 * the owner thread; the mutex only guards the sequence numbers. */
#include "edge_store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "edge_log.h"

#define IDLE_WAKE_MS 1000

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

	/* stats, under mu */
	uint64_t ops_committed, ops_failed, transactions, batches;
	unsigned max_batch;
};

void edge_store_options_init(struct edge_store_options *opt)
{
	*opt = (struct edge_store_options){
		.queue_max_ops = 4096,
		.group_commit_max_ops = 256,
		.group_commit_max_delay_ms = 5,
		.busy_timeout_ms = 5000,
		.quick_check = true,
	};
}

static void set_err(const struct edge_store_options *opt, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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

static int step_cached(edge_store_conn *conn, const char *sql)
{
	sqlite3_stmt *stmt;
	int rc = edge_store_conn_prepare(conn, sql, &stmt);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = edge_store_error_from_sqlite(rc);
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
			edge_log(EDGE_LOG_ERR, "store", "rollback to savepoint failed: %s",
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

/* Runs ops [start, start+n) in one transaction. Returns true if it committed.
 * Some errors (I/O, disk full) make SQLite roll back the whole transaction
 * on its own: then the ops before are reported failed too, and the rest of
 * the batch continues in a new transaction. */
static bool run_batch(edge_store *s, uint64_t start, unsigned n, unsigned *n_ok)
{
	unsigned first = 0; /* first op of the open transaction */
	int rc = step_cached(&s->conn, "BEGIN IMMEDIATE");

	*n_ok = 0;
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "store", "cannot begin transaction: %s (%s)",
			 edge_strerror(rc), sqlite3_errmsg(s->conn.db));
		fail_ops(s, start, 0, n, rc);
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		struct edge__store_op *op = &s->ring[(start + i) % s->ring_cap];

		op->result = run_one_in_savepoint(s, op);
		if (!sqlite3_get_autocommit(s->conn.db))
			continue;
		/* the transaction is gone, with every op in it */
		rc = op->result < 0 ? op->result : EDGE_ESTORE;
		edge_log(EDGE_LOG_ERR, "store", "transaction rolled back by SQLite: %u operations lost: %s",
			 i + 1 - first, edge_strerror(rc));
		fail_ops(s, start, first, i + 1, rc);
		op->result = rc;
		first = i + 1;
		if (first == n)
			return false;
		rc = step_cached(&s->conn, "BEGIN IMMEDIATE");
		if (rc < 0) {
			fail_ops(s, start, first, n, rc);
			return false;
		}
	}
	rc = step_cached(&s->conn, "COMMIT");
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "store", "commit of %u operations failed: %s (%s)", n - first,
			 edge_strerror(rc), sqlite3_errmsg(s->conn.db));
		if (!sqlite3_get_autocommit(s->conn.db))
			(void)step_cached(&s->conn, "ROLLBACK");
		fail_ops(s, start, first, n, rc);
		return false;
	}
	for (unsigned i = 0; i < n; i++)
		if (s->ring[(start + i) % s->ring_cap].result == 0)
			(*n_ok)++;
	return true;
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

static void *writer_main(void *arg)
{
	edge_store *s = arg;
	struct timespec batch_deadline = { 0 };
	bool waiting_for_batch = false;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		uint64_t pending;

		atomic_fetch_add(&s->progress, 1);
		if (s->read_pending) {
			edge_store_run_fn fn = s->read_fn;
			void *ud = s->read_ud;
			int rc;

			pthread_mutex_unlock(&s->mu);
			rc = run_read(s, fn, ud);
			pthread_mutex_lock(&s->mu);
			s->read_result = rc;
			s->read_pending = false;
			pthread_cond_broadcast(&s->owner_cv);
			continue;
		}
		pending = s->tail - s->done_seq;
		if (pending == 0) {
			if (s->closing)
				break;
			struct timespec idle = deadline_after(IDLE_WAKE_MS);
			pthread_cond_timedwait(&s->writer_cv, &s->mu, &idle);
			continue;
		}
		if (pending < s->opt.group_commit_max_ops && s->opt.group_commit_max_delay_ms &&
		    !s->closing && !s->flush_waiters) {
			struct timespec now;

			if (!waiting_for_batch) {
				batch_deadline = deadline_after(s->opt.group_commit_max_delay_ms);
				waiting_for_batch = true;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (before(&now, &batch_deadline)) {
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

		pthread_mutex_unlock(&s->mu);
		committed = run_batch(s, start, n, &n_ok);
		pthread_mutex_lock(&s->mu);
		s->done_seq += n;
		s->batches++;
		if (committed)
			s->transactions++;
		s->ops_committed += n_ok;
		s->ops_failed += n - n_ok;
		if (n > s->max_batch)
			s->max_batch = n;
		pthread_cond_broadcast(&s->owner_cv);
		pthread_mutex_unlock(&s->mu);
		wake_owner(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- open / close ---- */

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return edge_store_error_from_sqlite(rc) ?: EDGE_ESTORE;
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
	return rc == SQLITE_OK ? 0 : (edge_store_error_from_sqlite(rc) ?: EDGE_ESTORE);
}

static int configure_db(sqlite3 *db, const char *path, const struct edge_store_options *opt)
{
	char val[256];
	int rc;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)opt->busy_timeout_ms);

	/* The first real access: a file that is not a database fails here. */
	rc = pragma_text(db, "PRAGMA journal_mode=WAL", val, sizeof val);
	if (rc == EDGE_ECORRUPT) {
		set_err(opt, "%s: not an SQLite database or corrupt: %s", path, sqlite3_errmsg(db));
		return rc;
	}
	if (rc < 0) {
		set_err(opt, "%s: cannot set WAL mode: %s", path, sqlite3_errmsg(db));
		return rc;
	}
	if (strcmp(val, "wal") != 0) {
		set_err(opt, "%s: WAL journal mode not available (got '%s')", path, val);
		return EDGE_ESTORE;
	}
	rc = edge__store_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", val, sizeof val);
	if (rc < 0) {
		set_err(opt, "%s: cannot set pragmas: %s", path, val);
		return rc;
	}
	if (opt->quick_check) {
		rc = pragma_text(db, "PRAGMA quick_check(1)", val, sizeof val);
		if (rc < 0) {
			set_err(opt, "%s: integrity check failed: %s", path, sqlite3_errmsg(db));
			return rc == EDGE_ESTORE ? EDGE_ECORRUPT : rc;
		}
		if (strcmp(val, "ok") != 0) {
			set_err(opt, "%s: integrity check failed: %s", path, val);
			return EDGE_ECORRUPT;
		}
	}
	rc = edge__store_migrate(db, val, sizeof val);
	if (rc < 0) {
		if (rc == EDGE_ECORRUPT)
			set_err(opt, "%s: not an SQLite database or corrupt: %s", path, val);
		else
			set_err(opt, "%s: schema: %s", path, val);
		return rc;
	}
	return 0;
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
	int rc;

	if (!opt) {
		edge_store_options_init(&defaults);
		opt = &defaults;
	}
	if (!path || !*path || !out || opt->queue_max_ops == 0 || opt->group_commit_max_ops == 0)
		return -EINVAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->opt = *opt;
	s->opt.errbuf = NULL;
	s->opt.errbuf_len = 0;
	if (s->opt.group_commit_max_ops > s->opt.queue_max_ops)
		s->opt.group_commit_max_ops = s->opt.queue_max_ops;
	s->path = strdup(path);
	s->ring_cap = opt->queue_max_ops;
	s->ring = calloc(s->ring_cap, sizeof *s->ring);
	if (!s->path || !s->ring) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		set_err(opt, "%s: cannot open database: %s", path,
			db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		rc = edge_store_error_from_sqlite(rc) ?: EDGE_ESTORE;
		goto fail;
	}
	rc = configure_db(db, path, opt);
	if (rc < 0)
		goto fail;
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
		edge_store_flush(s);
		while (edge_store_run_completions(s) > 0)
			edge_store_flush(s);
		pthread_mutex_lock(&s->mu);
		s->closing = true;
		pthread_cond_signal(&s->writer_cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
		(void)edge_store_run_completions(s);
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
	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		rc = EDGE_ECLOSED;
	} else if (s->tail - s->head >= s->ring_cap) {
		rc = EDGE_ELIMIT;
	} else {
		s->ring[s->tail % s->ring_cap] = (struct edge__store_op){
			.run = run, .done = done, .ud = ud,
		};
		s->tail++;
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
	s->in_completions = true;
	pthread_mutex_lock(&s->mu);
	end = s->done_seq;
	pthread_mutex_unlock(&s->mu);
	while (s->head < end) {
		struct edge__store_op op = s->ring[s->head % s->ring_cap];

		pthread_mutex_lock(&s->mu);
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
	pthread_mutex_unlock(&s->mu);
	out->db_bytes = file_size(s->path);
	if ((size_t)snprintf(wal, sizeof wal, "%s-wal", s->path) < sizeof wal)
		out->wal_bytes = file_size(wal);
}

const char *edge_store_path(const edge_store *s)
{
	return s ? s->path : NULL;
}
