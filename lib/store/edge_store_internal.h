/* Internals shared by the lib/store sources (not installed, not for callers). */
#ifndef EDGE_STORE_INTERNAL_H
#define EDGE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

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

/* Reads PRAGMA user_version into *version. */
int edge__store_user_version(sqlite3 *db, int *version);

#endif
