/* The enabled-for-offload models (edge_offload_store.h). */
#include "edge_offload_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static bool digest_valid(const char *d)
{
	if (!d || strlen(d) != EDGE_OFFLOAD_DIGEST_HEX)
		return false;
	for (const char *p = d; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int edge_offload_store_set_op(edge_store_conn *conn, const char *digest, bool enabled,
			      int64_t wall_ms)
{
	sqlite3_stmt *st;
	int rc;

	if (!digest_valid(digest))
		return -EINVAL;
	rc = edge_store_conn_prepare(conn,
				     enabled ? "INSERT INTO offload_model (digest, enabled_ms)"
					       " VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING"
					     : "DELETE FROM offload_model WHERE digest = ?1",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
	if (enabled)
		(void)sqlite3_bind_int64(st, 2, wall_ms);
	return edge_store_conn_step(conn, st);
}

/* The end of a load's step loop: rc is the last step's (SQLITE_DONE: all
 * read) or the callback's negative code. */
static int load_end(sqlite3_stmt *st, int rc, unsigned bad, unsigned *skipped)
{
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc == SQLITE_NOMEM)
		rc = -ENOMEM;
	else if (rc > 0)
		rc = EDGE_ESTORE;
	sqlite3_finalize(st);
	if (skipped)
		*skipped = bad;
	return rc;
}

int edge_offload_store_load(edge_store_conn *conn,
			    int (*fn)(const char *digest, int64_t enabled_ms, void *ud), void *ud,
			    unsigned *skipped)
{
	sqlite3 *db = edge_store_conn_db(conn);
	sqlite3_stmt *st = NULL;
	unsigned bad = 0;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT digest, enabled_ms FROM offload_model"
				    " ORDER BY enabled_ms, digest", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc == SQLITE_NOMEM ? -ENOMEM : EDGE_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);

		if (!digest_valid(d)) {
			bad++;
			continue;
		}
		rc = fn(d, sqlite3_column_int64(st, 1), ud);
		if (rc != 0)
			break;
	}
	return load_end(st, rc, bad, skipped);
}

static bool target_valid(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	return n > 4 && n <= EDGE_OFFLOAD_TARGET_MAX &&
	       (strncmp(t, "id:", 3) == 0 || strncmp(t, "tag:", 4) == 0) &&
	       t[strncmp(t, "id:", 3) == 0 ? 3 : 4] != '\0';
}

int edge_offload_store_verify_op(edge_store_conn *conn, const char *target, int permille)
{
	sqlite3_stmt *st;
	int rc;

	if (!target_valid(target) || permille < -1 || permille > 1000)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn,
				     permille >= 0
					     ? "INSERT INTO offload_verify (target, permille)"
					       " VALUES (?1, ?2) ON CONFLICT (target)"
					       " DO UPDATE SET permille = excluded.permille"
					     : "DELETE FROM offload_verify WHERE target = ?1",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	if (permille >= 0)
		(void)sqlite3_bind_int(st, 2, permille);
	return edge_store_conn_step(conn, st);
}

int edge_offload_store_verify_load(edge_store_conn *conn,
				   int (*fn)(const char *target, int permille, void *ud), void *ud,
				   unsigned *skipped)
{
	sqlite3 *db = edge_store_conn_db(conn);
	sqlite3_stmt *st = NULL;
	unsigned bad = 0;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT target, permille FROM offload_verify ORDER BY target",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc == SQLITE_NOMEM ? -ENOMEM : EDGE_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int p = sqlite3_column_int(st, 1);

		if (!target_valid(t) || p < 0 || p > 1000) {
			bad++;
			continue;
		}
		rc = fn(t, p, ud);
		if (rc != 0)
			break;
	}
	return load_end(st, rc, bad, skipped);
}

static void col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t ? t : "");
}

int edge_offload_store_mismatch_op(edge_store_conn *conn,
				   const struct edge_offload_mismatch_row *r, unsigned keep)
{
	sqlite3_stmt *st;
	int rc;

	if (!r || !r->node[0] || keep == 0)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn,
				     "INSERT INTO offload_mismatch (ts_ms, node, model, sha256, seq,"
				     " first_diff, length, node_length, node_bytes, gateway_bytes,"
				     " input_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
				     " ?11)",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_int64(st, 1, r->ts_ms);
	(void)sqlite3_bind_text(st, 2, r->node, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 3, r->model, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 4, r->sha256, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 5, r->seq);
	(void)sqlite3_bind_int64(st, 6, (sqlite3_int64)r->first_diff);
	(void)sqlite3_bind_int64(st, 7, (sqlite3_int64)r->length);
	(void)sqlite3_bind_int64(st, 8, (sqlite3_int64)r->node_length);
	(void)sqlite3_bind_text(st, 9, r->node_bytes, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 10, r->gateway_bytes, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 11, r->input_sha256, -1, SQLITE_STATIC);
	rc = edge_store_conn_step(conn, st);
	if (rc < 0)
		return rc;
	/* bounded: the newest keep rows stay */
	rc = edge_store_conn_prepare(conn,
				     "DELETE FROM offload_mismatch WHERE id <="
				     " (SELECT id FROM offload_mismatch ORDER BY id DESC"
				     " LIMIT 1 OFFSET ?1)",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_int64(st, 1, keep);
	return edge_store_conn_step(conn, st);
}

int edge_offload_store_clear_op(edge_store_conn *conn, const char *node)
{
	sqlite3_stmt *st;
	int rc;

	if (!node || !node[0])
		return -EINVAL;
	rc = edge_store_conn_prepare(conn, "DELETE FROM offload_mismatch WHERE node = ?1", &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	return edge_store_conn_step(conn, st);
}

int edge_offload_store_mismatch_load(
	edge_store_conn *conn, unsigned limit,
	int (*fn)(const struct edge_offload_mismatch_row *r, void *ud), void *ud)
{
	sqlite3 *db = edge_store_conn_db(conn);
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT ts_ms, node, model, sha256, seq, first_diff, length,"
				" node_length, node_bytes, gateway_bytes, input_sha256 FROM"
				" (SELECT * FROM offload_mismatch ORDER BY id DESC LIMIT ?1)"
				" ORDER BY id",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc == SQLITE_NOMEM ? -ENOMEM : EDGE_ESTORE;
	(void)sqlite3_bind_int64(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct edge_offload_mismatch_row r = { 0 };

		r.ts_ms = sqlite3_column_int64(st, 0);
		col(st, 1, r.node, sizeof r.node);
		col(st, 2, r.model, sizeof r.model);
		col(st, 3, r.sha256, sizeof r.sha256);
		r.seq = (uint32_t)sqlite3_column_int64(st, 4);
		r.first_diff = (uint64_t)sqlite3_column_int64(st, 5);
		r.length = (uint64_t)sqlite3_column_int64(st, 6);
		r.node_length = (uint64_t)sqlite3_column_int64(st, 7);
		col(st, 8, r.node_bytes, sizeof r.node_bytes);
		col(st, 9, r.gateway_bytes, sizeof r.gateway_bytes);
		col(st, 10, r.input_sha256, sizeof r.input_sha256);
		rc = fn(&r, ud);
		if (rc != 0)
			break;
	}
	return load_end(st, rc, 0, NULL);
}
