/* Internals shared by the lib/store sources (not installed, not for callers). */
#ifndef EDGE_STORE_INTERNAL_H
#define EDGE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_store.h"

/* One cached prepared statement, keyed by its SQL text. */
struct edge__stmt_cache_entry {
	const char *sql;        /* caller's string, compared by pointer first */
	char *sql_copy;         /* owned copy, compared by content */
	sqlite3_stmt *stmt;
};

struct edge_store_conn {
	sqlite3 *db;
	struct edge__stmt_cache_entry *cache;
	size_t cache_len;
	size_t cache_cap;
};

/* Finalizes cached statements; the db handle stays open. */
void edge__store_conn_clear(edge_store_conn *conn);

/* Runs constant SQL (no data, possibly several statements) through
 * prepare/step. Returns 0 or a mapped error; the SQLite message goes to
 * errbuf when given. */
int edge__store_exec(sqlite3 *db, const char *sql, char *errbuf, size_t errbuf_len);

/* Brings the schema to EDGE_STORE_SCHEMA_VERSION, one transaction per step.
 * EDGE_ESCHEMA when the database is newer than this build. */
int edge__store_migrate(sqlite3 *db, char *errbuf, size_t errbuf_len);

/* edge_store_error_from_sqlite, refined with db's system errno: an I/O
 * error caused by ENOSPC/EDQUOT is -ENOSPC. */
int edge__store_db_error(sqlite3 *db, int sqlite_rc);

/* Reads PRAGMA user_version into *version. */
int edge__store_user_version(sqlite3 *db, int *version);

/* ---- edge_store_wal.c: the WAL's size and checkpoints ----
 * Written by the thread that commits (the writer, once the store runs);
 * nothing here locks. */
struct edge__store_wal {
	sqlite3 *db;
	uint64_t max_bytes;
	uint64_t frame_bytes;     /* page size + 24-byte frame header */
	uint64_t log_frames;      /* frames in the WAL log after the last commit */
	uint64_t backfilled;      /* of those, copied into the database */
	bool restart_pending;     /* all backfilled: the next commit starts the log over */
	uint64_t frames_appended; /* every frame committed since open */
	uint64_t checkpoints, checkpoints_truncate, checkpoint_failures;
	int last_error;           /* of the last failed checkpoint, 0 after a success */
};

/* Takes over the WAL of db: replaces SQLite's automatic checkpoint by a
 * counting hook and sets journal_size_limit. w must stay put while db is
 * open. Errors: mapped SQLite codes; the reason goes to errbuf. */
int edge__store_wal_init(struct edge__store_wal *w, sqlite3 *db, uint64_t max_bytes,
			 char *errbuf, size_t errbuf_len);

/* Bytes of the WAL log (not the file, which may be longer until trimmed). */
uint64_t edge__store_wal_log_bytes(const struct edge__store_wal *w);

/* The checkpoint the WAL needs now, if any. idle: nothing is queued, so a
 * PASSIVE checkpoint is worth running. Returns SQLITE_CHECKPOINT_PASSIVE,
 * SQLITE_CHECKPOINT_TRUNCATE or -1 (none). */
int edge__store_wal_due(const struct edge__store_wal *w, bool idle);

/* Runs a checkpoint (mode SQLITE_CHECKPOINT_*), outside any transaction.
 * Returns 0 or a mapped error (-EBUSY when it could not finish). */
int edge__store_wal_checkpoint(struct edge__store_wal *w, int mode);

/* The writer thread's storage write accounting: an fd on
 * /proc/thread-self/io opened by the calling thread, or -1 when the kernel
 * has none. */
int edge__store_io_open(void);
/* write_bytes of the thread that opened fd; false when unreadable. */
bool edge__store_io_write_bytes(int fd, uint64_t *out);

/* ---- edge_store_diag.c ---- */

/* Called when opening or first writing `path` failed with sqlite_rc (db may
 * be NULL): looks at the directory and the files and, if one of them is the
 * cause, writes the reason to msg and returns -ENOENT, -ENOTDIR, -EISDIR,
 * -EACCES, -EROFS or -ENOSPC. Returns 0 when the path looks fine. */
int edge__store_diagnose_open(const char *path, sqlite3 *db, int sqlite_rc, char *msg,
			      size_t msg_len);

#endif
