/* Persistence: one SQLite database behind a dedicated writer thread.
 *
 * SQLite never runs on the caller's (event-loop) thread once the store is
 * open. Callers submit operations; the writer runs queued operations in one
 * transaction (group commit), each inside its own SAVEPOINT so a failing
 * operation is rolled back alone, commits, then hands the results back.
 * Completion callbacks run on the caller's thread only, from
 * edge_store_run_completions(); the writer announces finished work through
 * the `wake` hook (edged plugs uv_async_send in there).
 *
 * Threading: every function here except the op callbacks (`edge_store_run_fn`)
 * is called from one owner thread (the loop). Op callbacks run on the writer
 * thread and may use only the edge_store_conn they receive.
 *
 * The database: WAL journal, synchronous=FULL, foreign keys on, busy
 * timeout, optional `PRAGMA quick_check` at open, schema migrations keyed on
 * `PRAGMA user_version` (a newer schema than this build is refused).
 *
 * The WAL is the store's to manage: SQLite's automatic checkpoint is off (no
 * checkpoint ever runs inside a commit). The writer runs a PASSIVE
 * checkpoint once the WAL passes half of wal_max_bytes and nothing is queued,
 * a TRUNCATE checkpoint before the next batch once it passes wal_max_bytes,
 * and `PRAGMA journal_size_limit` trims the file back to wal_max_bytes when
 * SQLite reuses it. One batch larger than the limit still goes in whole.
 * Open starts from an empty WAL (what the last run or the migration left is
 * checkpointed and the file truncated).
 *
 * Failing disk: when a batch fails for a reason of the disk (no space, I/O
 * error, busy), its operations complete with that error (-ENOSPC for a full
 * disk, also when SQLite reports it as an I/O error) and are not retried by
 * the store: the caller owns its retry (the registry rewrites its rows
 * later). The writer then waits before the next batch, doubling from 100 ms
 * to 2 s while failures continue (ops submitted meanwhile stay queued, within
 * queue_max_ops), and once the disk was full it truncates the WAL before
 * writing again, so a WAL cannot grow back over space the operator freed.
 * Flush and close do not wait for the backoff. The first success ends it.
 * Failure lines are rate-limited: the first, then at most one per
 * error_log_interval_ms with the number suppressed, and one line when
 * writes work again after a failure that was shown. */
#ifndef EDGE_STORE_H
#define EDGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

/* Schema version this build creates and understands (see edge_store_schema.c). */
#define EDGE_STORE_SCHEMA_VERSION 12

struct sqlite3;
struct sqlite3_stmt;

typedef struct edge_store edge_store;
/* The writer thread's view of the database, handed to op callbacks (borrowed,
 * valid only during the callback). */
typedef struct edge_store_conn edge_store_conn;

struct edge_store_options {
	/* Bound on operations submitted but not yet completed through
	 * edge_store_run_completions(); beyond it submit fails with EDGE_ELIMIT. */
	unsigned queue_max_ops;            /* default 4096 */
	/* Group commit: at most this many operations per transaction ... */
	unsigned group_commit_max_ops;     /* default 256 */
	/* ... and once an operation is queued, wait at most this long for more
	 * before committing (0 = commit whatever is queued right away). */
	unsigned group_commit_max_delay_ms; /* default 5 */
	unsigned busy_timeout_ms;          /* default 5000 */
	bool quick_check;                  /* run PRAGMA quick_check at open; default true */
	/* WAL size the writer holds the log to (see above); >= 64 KiB, else
	 * edge_store_open fails with -EINVAL. */
	size_t wal_max_bytes;              /* default 4 MiB */
	/* Writer failure lines: at most one per interval (0 = every failure). */
	unsigned error_log_interval_ms;    /* default 10000 */
	/* Called on the writer thread after every batch it finished (committed
	 * or failed), outside the store's lock. Must be cheap and thread-safe
	 * (e.g. uv_async_send). It may arrive after a flush already returned.
	 * May be NULL (then call edge_store_run_completions on a timer). */
	void (*wake)(void *wake_ud);
	void *wake_ud;
	/* For tests only: the SQLite VFS to open the database with (NULL:
	 * SQLite's default), e.g. one that simulates losing power. */
	const char *vfs_name;
	/* For tests only: synchronous=NORMAL instead of FULL (in WAL mode a
	 * commit is then not synced), to show a power-loss test can fail. */
	bool synchronous_normal;
	/* Optional: on failure edge_store_open writes a one-line reason here. */
	char *errbuf;
	size_t errbuf_len;
};

/* Fills *opt with the defaults above. */
void edge_store_options_init(struct edge_store_options *opt);

/* Opens (creating the file, not its directory, if needed) and migrates the
 * database, then starts the writer thread. opt may be NULL for defaults.
 * Errors: EDGE_ECORRUPT (not a database / quick_check failed), EDGE_ESCHEMA
 * (user_version newer than EDGE_STORE_SCHEMA_VERSION; never downgraded),
 * EDGE_ESTORE (other SQLite failure), -EINVAL, -ENOMEM, -errno. On failure
 * *out is untouched and the reason is logged (group "store") and copied to
 * opt->errbuf.
 * When the file cannot be opened, created or written, the store looks at the
 * path itself (SQLite says "unable to open database file" for all of these)
 * and returns and names the real cause: -ENOENT (directory missing),
 * -ENOTDIR, -EACCES ("permission denied: cannot create PATH (directory DIR
 * not writable by uid N)", likewise for the file or its -wal beside it),
 * -EROFS (read-only file system), -ENOSPC (no space left). */
EDGE_WUR int edge_store_open(const char *path, const struct edge_store_options *opt,
			     edge_store **out);

/* Flushes everything submitted, runs the outstanding completion callbacks on
 * the calling thread, stops the writer and closes the database. NULL-safe. */
void edge_store_close(edge_store *store);

/* Runs on the writer thread inside the batch transaction (inside the op's own
 * SAVEPOINT). Return 0 to keep the op's changes, or a negative code to roll
 * back just this op; that code is passed to its completion. Must not run
 * BEGIN/COMMIT/ROLLBACK itself, nor call edge_store_* functions other than
 * the edge_store_conn_* ones. */
typedef int (*edge_store_run_fn)(edge_store_conn *conn, void *ud);
/* Runs on the caller's thread from edge_store_run_completions() with the op's
 * result: its run_fn's code, or the commit's error if the transaction failed. */
typedef void (*edge_store_done_fn)(int result, void *ud);

/* Queues an operation. Never blocks. `ud` is borrowed and must stay valid until
 * `done` runs (done may free it); done may be NULL. On error nothing is queued
 * and done is never called: EDGE_ELIMIT (queue full), EDGE_ECLOSED (closing),
 * -EINVAL. */
EDGE_WUR int edge_store_submit(edge_store *store, edge_store_run_fn run,
			       edge_store_done_fn done, void *ud);

/* Invokes the completion callbacks of committed operations, in submit order,
 * on the calling thread. Returns how many ran. Callbacks may submit new ops. */
unsigned edge_store_run_completions(edge_store *store);

/* Blocks until every operation submitted so far is committed (or failed).
 * Completions still need edge_store_run_completions(). For shutdown and
 * tests; never on a running loop. */
void edge_store_flush(edge_store *store);

/* Startup access: flushes, then runs fn on the writer thread in its own
 * transaction (committed if fn returns 0, rolled back otherwise) and waits.
 * Returns fn's result or a store error. Blocks: only before the loop runs. */
EDGE_WUR int edge_store_read(edge_store *store, edge_store_run_fn fn, void *ud);

/* Monotonic counter the writer bumps on every wake-up; it wakes at least once a
 * second even when idle, so a stuck writer shows as a counter that stops. */
uint64_t edge_store_progress(const edge_store *store);

struct edge_store_stats {
	uint64_t ops_submitted;
	uint64_t ops_committed;    /* ops whose run_fn succeeded and whose batch committed */
	uint64_t ops_failed;       /* ops that returned an error or whose batch failed */
	uint64_t transactions;     /* committed batch transactions */
	double avg_batch_ops;      /* (ops_committed + ops_failed) / batches run */
	unsigned queue_depth;      /* submitted, not yet run by the writer */
	unsigned completions_pending; /* run, completion not yet delivered */
	unsigned max_batch_ops;    /* largest batch seen */
	uint64_t db_bytes;         /* main database file size */
	uint64_t wal_bytes;        /* -wal file size (0 when absent) */
	uint64_t wal_max_bytes;    /* the configured limit */
	uint64_t checkpoints;      /* checkpoints completed by the writer (passive + truncate) */
	uint64_t checkpoints_truncate; /* of which TRUNCATE (WAL over the limit, or after a full disk) */
	uint64_t checkpoint_failures; /* checkpoints that failed or could not finish */
	/* Bytes the writer thread sent towards storage since open: the kernel's
	 * write_bytes for that thread (/proc/thread-self/io), the same accounting
	 * as a process's /proc/PID/io, so it is what an SD card or eMMC sees
	 * before the device's own write amplification. It covers WAL appends,
	 * checkpoints and log lines the writer thread wrote to a disk file; not
	 * the migration and checkpoint at open nor the last checkpoint at close
	 * (the owner thread's), nor the -shm file (shared memory). On tmpfs,
	 * which has no storage behind it, the kernel counts little or nothing. */
	uint64_t bytes_written;
	bool bytes_written_known;  /* false: the kernel has no per-thread I/O accounting */
	/* WAL frames committed, in bytes (page size + 24 per frame): what SQLite
	 * asked to append, on any file system. */
	uint64_t wal_bytes_appended;
	uint64_t write_failures;   /* batches whose transaction did not commit (disk, I/O,
				    * busy, or a deferred constraint at COMMIT) */
	bool disk_full;            /* the last write failed for lack of space; retrying */
	uint64_t log_suppressed;   /* writer failure lines held back by the rate limit */
};
/* Owner thread; never fails (NULL store: all zero). The file sizes come from
 * stat(). */
void edge_store_get_stats(const edge_store *store, struct edge_store_stats *out);

/* Database file path (borrowed, valid until close). */
const char *edge_store_path(const edge_store *store);

/* ---- for op callbacks (writer thread only) ---- */

/* The raw handle, for sqlite3_* calls (borrowed). */
struct sqlite3 *edge_store_conn_db(edge_store_conn *conn);

/* A cached prepared statement for `sql` (keyed by its text: pass constant
 * SQL with ?N parameters, never text built from data), reset and with
 * bindings cleared. Borrowed: do not finalize; the store resets it after the
 * op. Errors: EDGE_ESTORE (SQL did not compile), -ENOMEM. */
EDGE_WUR int edge_store_conn_prepare(edge_store_conn *conn, const char *sql,
				     struct sqlite3_stmt **out);

/* Steps st (a statement of conn's cache) once and resets it: 0 when it ran
 * to completion, else conn's mapped error (edge_store_conn_error). */
EDGE_WUR int edge_store_conn_step(edge_store_conn *conn, struct sqlite3_stmt *st);

/* The same for a query of one row: when it yields one, out[0..n) get its
 * first n columns as integers (NULL reads 0), else they are left alone.
 * 0 or the mapped error. */
EDGE_WUR int edge_store_conn_step_ints(edge_store_conn *conn, struct sqlite3_stmt *st,
				       int64_t *out, unsigned n);

/* Maps an SQLite result code to 0 / -errno / EDGE_E* (SQLITE_OK/ROW/DONE → 0,
 * FULL → -ENOSPC, NOMEM → -ENOMEM, BUSY/LOCKED → -EBUSY, CORRUPT/NOTADB →
 * EDGE_ECORRUPT, CONSTRAINT → -EEXIST, CANTOPEN → -ENOENT, PERM/READONLY →
 * -EACCES, IOERR → -EIO, otherwise EDGE_ESTORE). An I/O error caused by a
 * full disk is only told apart with the connection: see
 * edge_store_conn_error. */
int edge_store_error_from_sqlite(int sqlite_rc);

/* As edge_store_error_from_sqlite, for a code just returned on conn: an I/O
 * error whose system errno is ENOSPC or EDQUOT maps to -ENOSPC. Writer
 * thread. */
int edge_store_conn_error(edge_store_conn *conn, int sqlite_rc);

#endif
