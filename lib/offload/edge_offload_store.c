/* The enabled-for-offload models (edge_offload_store.h). */
#include "edge_offload_store.h"

#include <errno.h>
#include <sqlite3.h>
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
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc == SQLITE_NOMEM)
		rc = -ENOMEM;
	else if (rc > 0)
		rc = EDGE_ESTORE; /* a step error; a callback's code is negative or kept */
	sqlite3_finalize(st);
	if (skipped)
		*skipped = bad;
	return rc;
}
