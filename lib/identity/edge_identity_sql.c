/* node_identity and revoked_certificate rows (see edge_identity_sql.h). */
#include "edge_identity_sql.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static const char select_sql[] =
	"SELECT id, kind, state, password_hash, cert_serial, cert_fingerprint,"
	" cert_not_after_ms, created_ms, rotated_ms, revoked_ms, generation"
	" FROM node_identity ORDER BY id";

static const char select_serials_sql[] =
	"SELECT serial FROM revoked_certificate ORDER BY serial";

static const char upsert_sql[] =
	"INSERT INTO node_identity (id, kind, state, password_hash, cert_serial,"
	" cert_fingerprint, cert_not_after_ms, created_ms, rotated_ms, revoked_ms, generation)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
	" ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state,"
	" password_hash = excluded.password_hash, cert_serial = excluded.cert_serial,"
	" cert_fingerprint = excluded.cert_fingerprint,"
	" cert_not_after_ms = excluded.cert_not_after_ms, created_ms = excluded.created_ms,"
	" rotated_ms = excluded.rotated_ms, revoked_ms = excluded.revoked_ms,"
	" generation = excluded.generation";

static const char revoke_serial_sql[] =
	"INSERT INTO revoked_certificate (serial, id, revoked_ms) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (serial) DO NOTHING";

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", s ? (const char *)s : "");
}

static int load_rows(edge_store_conn *conn, edge_identity_table *t)
{
	sqlite3_stmt *st;
	char name[16];
	int rc, sr;

	if ((rc = edge_store_conn_prepare(conn, select_sql, &st)) < 0)
		return rc;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		struct edge_identity r;
		int kind, state;

		memset(&r, 0, sizeof r);
		col_text(st, 0, r.id, sizeof r.id);
		col_text(st, 1, name, sizeof name);
		kind = edge_identity_kind_from_name(name);
		col_text(st, 2, name, sizeof name);
		state = edge_identity_state_from_name(name);
		if (kind < 0 || state < 0)
			return EDGE_ECORRUPT;
		r.kind = (enum edge_identity_kind)kind;
		r.state = (enum edge_identity_state)state;
		col_text(st, 3, r.password_hash, sizeof r.password_hash);
		col_text(st, 4, r.cert_serial, sizeof r.cert_serial);
		col_text(st, 5, r.cert_fingerprint, sizeof r.cert_fingerprint);
		r.cert_not_after_ms = sqlite3_column_int64(st, 6);
		r.created_ms = sqlite3_column_int64(st, 7);
		r.rotated_ms = sqlite3_column_int64(st, 8);
		r.revoked_ms = sqlite3_column_int64(st, 9);
		r.generation = (uint32_t)sqlite3_column_int64(st, 10);
		rc = edge_identity_table_put(t, &r);
		if (rc == -EINVAL)
			return EDGE_ECORRUPT;
		if (rc < 0)
			return rc;
	}
	return sr == SQLITE_DONE ? 0 : edge_store_conn_error(conn, sr);
}

static int load_serials(edge_store_conn *conn, edge_identity_table *t)
{
	sqlite3_stmt *st;
	int rc, sr;

	if ((rc = edge_store_conn_prepare(conn, select_serials_sql, &st)) < 0)
		return rc;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);

		rc = edge_identity_table_add_revoked_serial(t, (const char *)s);
		if (rc == -EINVAL)
			return EDGE_ECORRUPT;
		if (rc < 0)
			return rc;
	}
	return sr == SQLITE_DONE ? 0 : edge_store_conn_error(conn, sr);
}

int edge_identity_sql_load(edge_store_conn *conn, edge_identity_table *t)
{
	int rc = load_rows(conn, t);

	return rc < 0 ? rc : load_serials(conn, t);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s[0])
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_ms_or_null(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms)
		sqlite3_bind_int64(st, i, ms);
	else
		sqlite3_bind_null(st, i);
}

int edge_identity_sql_put(edge_store_conn *conn, const struct edge_identity *r)
{
	sqlite3_stmt *st;
	int rc, sr;

	if ((rc = edge_store_conn_prepare(conn, upsert_sql, &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, edge_identity_kind_name(r->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, edge_identity_state_name(r->state), -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, r->kind == EDGE_IDENTITY_PASSWORD ? r->password_hash : "");
	bind_text_or_null(st, 5, r->kind == EDGE_IDENTITY_CERTIFICATE ? r->cert_serial : "");
	bind_text_or_null(st, 6, r->kind == EDGE_IDENTITY_CERTIFICATE ? r->cert_fingerprint : "");
	bind_ms_or_null(st, 7, r->kind == EDGE_IDENTITY_CERTIFICATE ? r->cert_not_after_ms : 0);
	sqlite3_bind_int64(st, 8, r->created_ms);
	bind_ms_or_null(st, 9, r->rotated_ms);
	bind_ms_or_null(st, 10, r->revoked_ms);
	sqlite3_bind_int64(st, 11, r->generation);
	sr = sqlite3_step(st);
	return sr == SQLITE_DONE ? 0 : edge_store_conn_error(conn, sr);
}

int edge_identity_sql_revoke_serial(edge_store_conn *conn, const char *serial, const char *id,
				    int64_t revoked_ms)
{
	sqlite3_stmt *st;
	int rc, sr;

	if ((rc = edge_store_conn_prepare(conn, revoke_serial_sql, &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, revoked_ms);
	sr = sqlite3_step(st);
	return sr == SQLITE_DONE ? 0 : edge_store_conn_error(conn, sr);
}
