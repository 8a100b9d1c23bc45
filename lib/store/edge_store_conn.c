/* The writer thread's connection helpers: statement cache, error mapping. */
#include "edge_store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int edge_store_error_from_sqlite(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return EDGE_ECORRUPT;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_PERM:
	case SQLITE_READONLY:
		return -EACCES;
	case SQLITE_IOERR:
		return -EIO;
	default:
		return EDGE_ESTORE;
	}
}

int edge__store_db_error(sqlite3 *db, int sqlite_rc)
{
	if ((sqlite_rc & 0xff) == SQLITE_IOERR && db) {
		int e = sqlite3_system_errno(db);

		if (e == ENOSPC || e == EDQUOT)
			return -ENOSPC;
	}
	return edge_store_error_from_sqlite(sqlite_rc);
}

int edge_store_conn_error(edge_store_conn *conn, int sqlite_rc)
{
	return edge__store_db_error(conn ? conn->db : NULL, sqlite_rc);
}

struct sqlite3 *edge_store_conn_db(edge_store_conn *conn)
{
	return conn->db;
}

int edge_store_conn_prepare(edge_store_conn *conn, const char *sql, sqlite3_stmt **out)
{
	struct edge__stmt_cache_entry *e;
	sqlite3_stmt *stmt = NULL;
	char *copy;
	int rc;

	if (!sql || !out)
		return -EINVAL;
	for (size_t i = 0; i < conn->cache_len; i++) {
		e = &conn->cache[i];
		if (e->sql == sql || strcmp(e->sql_copy, sql) == 0) {
			sqlite3_reset(e->stmt);
			sqlite3_clear_bindings(e->stmt);
			*out = e->stmt;
			return 0;
		}
	}
	if (conn->cache_len == conn->cache_cap) {
		size_t cap = conn->cache_cap ? conn->cache_cap * 2 : 16;
		void *p = realloc(conn->cache, cap * sizeof *conn->cache);

		if (!p)
			return -ENOMEM;
		conn->cache = p;
		conn->cache_cap = cap;
	}
	copy = strdup(sql);
	if (!copy)
		return -ENOMEM;
	rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		free(copy);
		return EDGE_ESTORE;
	}
	conn->cache[conn->cache_len++] = (struct edge__stmt_cache_entry){
		.sql = sql, .sql_copy = copy, .stmt = stmt,
	};
	*out = stmt;
	return 0;
}

void edge__store_conn_clear(edge_store_conn *conn)
{
	for (size_t i = 0; i < conn->cache_len; i++) {
		sqlite3_finalize(conn->cache[i].stmt);
		free(conn->cache[i].sql_copy);
	}
	free(conn->cache);
	conn->cache = NULL;
	conn->cache_len = conn->cache_cap = 0;
}

int edge__store_exec(sqlite3 *db, const char *sql, char *errbuf, size_t errbuf_len)
{
	const char *tail = sql;

	while (tail && *tail) {
		sqlite3_stmt *stmt = NULL;
		const char *next = NULL;
		int rc = sqlite3_prepare_v2(db, tail, -1, &stmt, &next);

		if (rc != SQLITE_OK) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len, "%s", sqlite3_errmsg(db));
			return edge_store_error_from_sqlite(rc);
		}
		tail = next;
		if (!stmt) /* whitespace or comment only */
			continue;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			;
		if (rc != SQLITE_DONE) {
			if (errbuf && errbuf_len)
				snprintf(errbuf, errbuf_len, "%s", sqlite3_errmsg(db));
			sqlite3_finalize(stmt);
			return edge_store_error_from_sqlite(rc);
		}
		sqlite3_finalize(stmt);
	}
	return 0;
}

int edge__store_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return edge_store_error_from_sqlite(rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : edge_store_error_from_sqlite(rc);
}

int edge_store_conn_step(edge_store_conn *conn, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
}

int edge_store_conn_step_ints(edge_store_conn *conn, sqlite3_stmt *st, int64_t *out, unsigned n)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		for (unsigned i = 0; i < n; i++)
			out[i] = sqlite3_column_int64(st, (int)i);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
}
