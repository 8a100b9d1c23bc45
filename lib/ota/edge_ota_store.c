/* The model store's tables (schema 7, edge_ota_store.h): the writer
 * thread's operations through the store's cached prepared statements, and
 * the reads done on a connection of their own at start or on the pool.
 * Node states and reasons are stored by their stable names, so a table
 * reads the same whatever the enums' numbering becomes. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_store.h"
#include "edge_ota_store_internal.h"

/* ---- statement helpers (writer thread) ---- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	(void)sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* "" is stored as NULL (no model, no hash). */
static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		bind_text(st, i, s);
	else
		(void)sqlite3_bind_null(st, i);
}

/* Wall-clock ms and counters are stored as SQLite's signed 64-bit integer. */
static bool fits_i64(uint64_t v)
{
	return v <= (uint64_t)INT64_MAX;
}

static bool id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n >= 1 && n <= EDGE_OTA_NODE_ID_MAX;
}

/* ---- models ---- */

int edge_ota_store_add_op(edge_store_conn *conn, const struct edge_ota_model *m,
			  const void *manifest, size_t manifest_len)
{
	struct edge_ota_manifest parsed;
	struct edge_msg_error perr;
	sqlite3_stmt *st;
	int64_t v[3];
	int rc;

	if (!m || !edge__ota_digest_valid(m->digest, strlen(m->digest)) ||
	    m->n_signers > EDGE_OTA_SIGS_MAX || !manifest || manifest_len == 0 ||
	    manifest_len > EDGE_OTA_MANIFEST_MAX || !fits_i64(m->pkg_size) ||
	    m->pkg_size <= m->manifest.size)
		return -EINVAL;
	/* The row's columns are what the stored bytes say, never less. */
	if (edge_ota_manifest_parse(manifest, manifest_len, &parsed, &perr) != 0 ||
	    strcmp(parsed.name, m->manifest.name) != 0 ||
	    strcmp(parsed.version, m->manifest.version) != 0 ||
	    strcmp(parsed.sha256, m->manifest.sha256) != 0 ||
	    parsed.counter != m->manifest.counter || parsed.size != m->manifest.size)
		return -EINVAL;

	/* The same checks as edge_ota_catalog_check_add, against the truth. */
	rc = edge_store_conn_prepare(conn,
				     "SELECT count(*) FROM ota_model"
				     " WHERE digest = ?1 OR (name = ?2 AND version = ?3)",
				     &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, m->digest);
	bind_text(st, 2, parsed.name);
	bind_text(st, 3, parsed.version);
	v[0] = 0;
	rc = edge_store_conn_step_ints(conn, st, v, 1);
	if (rc < 0)
		return rc;
	if (v[0] > 0)
		return -EEXIST;

	rc = edge_store_conn_prepare(conn,
				     "SELECT (SELECT counter FROM ota_counter WHERE name = ?1),"
				     " (SELECT count(*) FROM ota_model),"
				     " (SELECT count(*) FROM ota_counter)",
				     &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, parsed.name);
	v[0] = v[1] = v[2] = 0;
	rc = edge_store_conn_step_ints(conn, st, v, 3);
	if (rc < 0)
		return rc;
	if (parsed.counter < (uint64_t)v[0])
		return EDGE_OTA_EROLLBACK;
	if (v[1] >= EDGE_OTA_CATALOG_MAX || (v[0] == 0 && v[2] >= EDGE_OTA_COUNTERS_MAX))
		return EDGE_ELIMIT;

	rc = edge_store_conn_prepare(conn,
				     "INSERT INTO ota_model (digest, name, version, counter,"
				     " model_sha256, model_size, pkg_size, manifest, signers,"
				     " added_ms)"
				     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
				     &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, m->digest);
	bind_text(st, 2, parsed.name);
	bind_text(st, 3, parsed.version);
	(void)sqlite3_bind_int64(st, 4, (sqlite3_int64)parsed.counter);
	bind_text(st, 5, parsed.sha256);
	(void)sqlite3_bind_int64(st, 6, (sqlite3_int64)parsed.size);
	(void)sqlite3_bind_int64(st, 7, (sqlite3_int64)m->pkg_size);
	(void)sqlite3_bind_blob(st, 8, manifest, (int)manifest_len, SQLITE_STATIC);
	/* Zero signers is a zero-length blob, not NULL (the column is NOT NULL). */
	(void)sqlite3_bind_zeroblob(st, 9, 0);
	if (m->n_signers)
		(void)sqlite3_bind_blob(st, 9, m->signers,
					(int)(m->n_signers * EDGE_OTA_KEY_ID_LEN), SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 10, m->added_ms);
	rc = edge_store_conn_step(conn, st);
	if (rc < 0)
		return rc;

	rc = edge_store_conn_prepare(conn,
				     "INSERT INTO ota_counter (name, counter) VALUES (?1, ?2)"
				     " ON CONFLICT (name) DO UPDATE"
				     " SET counter = max(counter, excluded.counter)",
				     &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, parsed.name);
	(void)sqlite3_bind_int64(st, 2, (sqlite3_int64)parsed.counter);
	return edge_store_conn_step(conn, st);
}

int edge_ota_store_remove_op(edge_store_conn *conn, const char *digest)
{
	sqlite3_stmt *st;
	int rc;

	if (!digest || !edge__ota_digest_valid(digest, strlen(digest)))
		return EDGE_ENOTFOUND;
	rc = edge_store_conn_prepare(conn, "DELETE FROM ota_model WHERE digest = ?1", &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, digest);
	rc = edge_store_conn_step(conn, st);
	if (rc < 0)
		return rc;
	return sqlite3_changes(edge_store_conn_db(conn)) > 0 ? 0 : EDGE_ENOTFOUND;
}

/* ---- transfers ---- */

int edge_ota_store_transfer_op(edge_store_conn *conn, const struct edge_ota_transfer_row *t)
{
	sqlite3_stmt *st;
	int rc;

	if (!t || t->id == 0 || !edge__ota_digest_valid(t->digest, strlen(t->digest)) ||
	    t->chunk_size == 0)
		return -EINVAL;
	/* A transfer's model and shape never change; only its end is news. */
	rc = edge_store_conn_prepare(conn,
				     "INSERT INTO ota_transfer (id, digest, chunk_size, campaign,"
				     " created_ms, finished_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
				     " ON CONFLICT (id) DO UPDATE"
				     " SET finished_ms = excluded.finished_ms",
				     &st);
	if (rc < 0)
		return rc;
	(void)sqlite3_bind_int64(st, 1, t->id);
	bind_text(st, 2, t->digest);
	(void)sqlite3_bind_int64(st, 3, t->chunk_size);
	(void)sqlite3_bind_int(st, 4, t->campaign ? 1 : 0);
	(void)sqlite3_bind_int64(st, 5, t->created_ms);
	(void)sqlite3_bind_int64(st, 6, t->finished_ms);
	return edge_store_conn_step(conn, st);
}

static bool status_valid(const struct edge_ota_node_status *s)
{
	return id_valid(s->id) && s->state < EDGE_OTA_N_STATE_COUNT &&
	       s->reason < EDGE_OTA_R_COUNT && s->chunks_held <= s->n_chunks &&
	       fits_i64(s->started_ms) && fits_i64(s->updated_ms) && fits_i64(s->finished_ms) &&
	       memchr(s->output_sha256, '\0', sizeof(s->output_sha256)) &&
	       memchr(s->detail, '\0', sizeof(s->detail));
}

int edge_ota_store_nodes_op(edge_store_conn *conn, uint32_t transfer,
			    const struct edge_ota_node_status *stv, unsigned n)
{
	sqlite3_stmt *st;
	int rc;

	if (transfer == 0 || (n && !stv))
		return -EINVAL;
	/* Refuse the whole batch before writing any of it. */
	for (unsigned i = 0; i < n; i++)
		if (!status_valid(&stv[i]))
			return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const struct edge_ota_node_status *s = &stv[i];

		rc = edge_store_conn_prepare(
			conn,
			"INSERT INTO ota_node (transfer, device, state, reason, chunks_held,"
			" n_chunks, unicast_chunks, retransmits, offers, started_ms, updated_ms, finished_ms,"
			" output_sha256, detail)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
			" ON CONFLICT (transfer, device) DO UPDATE SET state = excluded.state,"
			" reason = excluded.reason, chunks_held = excluded.chunks_held,"
			" n_chunks = excluded.n_chunks, unicast_chunks = excluded.unicast_chunks,"
			" retransmits = excluded.retransmits, offers = excluded.offers,"
			" started_ms = excluded.started_ms, updated_ms = excluded.updated_ms,"
			" finished_ms = excluded.finished_ms,"
			" output_sha256 = excluded.output_sha256,"
			" detail = excluded.detail",
			&st);
		if (rc < 0)
			return rc;
		(void)sqlite3_bind_int64(st, 1, transfer);
		bind_text(st, 2, s->id);
		bind_text(st, 3, edge_ota_node_state_name((enum edge_ota_node_state)s->state));
		bind_text(st, 4, edge_ota_reason_name((enum edge_ota_reason)s->reason));
		(void)sqlite3_bind_int64(st, 5, s->chunks_held);
		(void)sqlite3_bind_int64(st, 6, s->n_chunks);
		(void)sqlite3_bind_int64(st, 7, s->unicast_chunks);
		(void)sqlite3_bind_int64(st, 8, s->retransmits);
		(void)sqlite3_bind_int64(st, 9, s->offers);
		(void)sqlite3_bind_int64(st, 10, (sqlite3_int64)s->started_ms);
		(void)sqlite3_bind_int64(st, 11, (sqlite3_int64)s->updated_ms);
		(void)sqlite3_bind_int64(st, 12, (sqlite3_int64)s->finished_ms);
		bind_opt_text(st, 13, s->output_sha256);
		bind_text(st, 14, s->detail);
		rc = edge_store_conn_step(conn, st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- device history ---- */

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, cap, "%s", s ? (const char *)s : "");
}

int edge_ota_store_device_op(edge_store_conn *conn, const char *device, uint32_t transfer,
			     const struct edge_ota_manifest *m, enum edge_ota_node_state state,
			     uint8_t reason, int64_t wall_ms)
{
	struct edge_ota_device_row r;
	sqlite3_stmt *st;
	int rc;

	if (!id_valid(device) || !m || transfer == 0 || !edge_ota_node_state_final(state) ||
	    state >= EDGE_OTA_N_STATE_COUNT || reason >= EDGE_OTA_R_COUNT)
		return -EINVAL;

	memset(&r, 0, sizeof(r));
	rc = edge_store_conn_prepare(conn,
				     "SELECT active_name, active_version, active_sha256,"
				     " previous_name, previous_version, previous_sha256"
				     " FROM ota_device WHERE device = ?1",
				     &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_col(st, 0, r.active_name, sizeof(r.active_name));
		copy_col(st, 1, r.active_version, sizeof(r.active_version));
		copy_col(st, 2, r.active_sha256, sizeof(r.active_sha256));
		copy_col(st, 3, r.previous_name, sizeof(r.previous_name));
		copy_col(st, 4, r.previous_version, sizeof(r.previous_version));
		copy_col(st, 5, r.previous_sha256, sizeof(r.previous_sha256));
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc);

	/* Only an activation changes what runs (a revert runs the active one
	 * again). Activating what already runs keeps the previous model. */
	if (state == EDGE_OTA_N_ACTIVATED && strcmp(r.active_sha256, m->sha256) != 0) {
		memcpy(r.previous_name, r.active_name, sizeof(r.previous_name));
		memcpy(r.previous_version, r.active_version, sizeof(r.previous_version));
		memcpy(r.previous_sha256, r.active_sha256, sizeof(r.previous_sha256));
		snprintf(r.active_name, sizeof(r.active_name), "%s", m->name);
		snprintf(r.active_version, sizeof(r.active_version), "%s", m->version);
		snprintf(r.active_sha256, sizeof(r.active_sha256), "%s", m->sha256);
	}

	rc = edge_store_conn_prepare(
		conn,
		"INSERT INTO ota_device (device, active_name, active_version, active_sha256,"
		" previous_name, previous_version, previous_sha256, last_transfer, last_outcome,"
		" last_reason, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
		" ON CONFLICT (device) DO UPDATE SET active_name = excluded.active_name,"
		" active_version = excluded.active_version, active_sha256 = excluded.active_sha256,"
		" previous_name = excluded.previous_name,"
		" previous_version = excluded.previous_version,"
		" previous_sha256 = excluded.previous_sha256,"
		" last_transfer = excluded.last_transfer, last_outcome = excluded.last_outcome,"
		" last_reason = excluded.last_reason, updated_ms = excluded.updated_ms",
		&st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	bind_opt_text(st, 2, r.active_name);
	bind_opt_text(st, 3, r.active_version);
	bind_opt_text(st, 4, r.active_sha256);
	bind_opt_text(st, 5, r.previous_name);
	bind_opt_text(st, 6, r.previous_version);
	bind_opt_text(st, 7, r.previous_sha256);
	(void)sqlite3_bind_int64(st, 8, transfer);
	bind_text(st, 9, edge_ota_node_state_name(state));
	bind_text(st, 10, edge_ota_reason_name((enum edge_ota_reason)reason));
	(void)sqlite3_bind_int64(st, 11, wall_ms);
	return edge_store_conn_step(conn, st);
}

/* ---- reads (own connection) ---- */

static int read_error(int src)
{
	return src == SQLITE_DONE ? 0 : edge_store_error_from_sqlite(src);
}

int edge_ota_store_next_transfer(sqlite3 *db, uint32_t *out)
{
	sqlite3_stmt *st = NULL;
	int64_t max = 0;
	int src = sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM ota_transfer", -1, &st,
				     NULL);

	if (src == SQLITE_OK) {
		src = sqlite3_step(st);
		if (src == SQLITE_ROW) {
			max = sqlite3_column_int64(st, 0);
			src = SQLITE_DONE;
		}
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		return read_error(src);
	/* Ids are never reused: a node may still remember an old one. */
	if (max < 0 || max >= (int64_t)UINT32_MAX)
		return EDGE_ELIMIT;
	*out = (uint32_t)max + 1;
	return 0;
}

/* One ota_node row into s; EDGE_ECORRUPT when a name is not one this
 * build knows or a value is out of range. */
static int node_row(sqlite3_stmt *st, struct edge_ota_node_status *s)
{
	const char *id = (const char *)sqlite3_column_text(st, 0);
	const char *state = (const char *)sqlite3_column_text(st, 1);
	const char *reason = (const char *)sqlite3_column_text(st, 2);
	int sv, rv;

	memset(s, 0, sizeof(*s));
	if (!id || !id_valid(id) || !state || !reason)
		return EDGE_ECORRUPT;
	sv = edge_ota_node_state_from_name(state);
	rv = edge_ota_reason_from_name(reason, strlen(reason));
	if (sv < 0 || sv >= EDGE_OTA_N_STATE_COUNT || rv < 0 || rv >= EDGE_OTA_R_COUNT)
		return EDGE_ECORRUPT;
	memcpy(s->id, id, strlen(id) + 1);
	s->state = (uint8_t)sv;
	s->reason = (uint8_t)rv;
	for (int c = 3; c <= 10; c++) {
		int64_t v = sqlite3_column_int64(st, c);

		if (v < 0 || (c <= 7 && v > (int64_t)UINT32_MAX))
			return EDGE_ECORRUPT;
	}
	s->chunks_held = (uint32_t)sqlite3_column_int64(st, 3);
	s->n_chunks = (uint32_t)sqlite3_column_int64(st, 4);
	s->unicast_chunks = (uint32_t)sqlite3_column_int64(st, 5);
	s->retransmits = (uint32_t)sqlite3_column_int64(st, 6);
	s->offers = (uint32_t)sqlite3_column_int64(st, 7);
	s->started_ms = (uint64_t)sqlite3_column_int64(st, 8);
	s->updated_ms = (uint64_t)sqlite3_column_int64(st, 9);
	s->finished_ms = (uint64_t)sqlite3_column_int64(st, 10);
	copy_col(st, 11, s->output_sha256, sizeof(s->output_sha256));
	copy_col(st, 12, s->detail, sizeof(s->detail));
	return 0;
}

static int transfer_row(sqlite3_stmt *st, struct edge_ota_transfer_row *t)
{
	const char *digest = (const char *)sqlite3_column_text(st, 1);
	int64_t id = sqlite3_column_int64(st, 0), chunk = sqlite3_column_int64(st, 2);

	memset(t, 0, sizeof(*t));
	if (id < 1 || id > (int64_t)UINT32_MAX || chunk < 1 || chunk > (int64_t)UINT32_MAX ||
	    !digest || !edge__ota_digest_valid(digest, strlen(digest)))
		return EDGE_ECORRUPT;
	t->id = (uint32_t)id;
	memcpy(t->digest, digest, EDGE_OTA_DIGEST_HEX + 1);
	t->chunk_size = (uint32_t)chunk;
	t->campaign = sqlite3_column_int(st, 3) != 0;
	t->created_ms = sqlite3_column_int64(st, 4);
	t->finished_ms = sqlite3_column_int64(st, 5);
	return 0;
}

int edge_ota_store_load_open(sqlite3 *db,
			     int (*transfer)(const struct edge_ota_transfer_row *t, void *ud),
			     int (*node)(uint32_t transfer, const struct edge_ota_node_status *st,
					 void *ud),
			     void *ud)
{
	sqlite3_stmt *ts = NULL, *ns = NULL;
	struct edge_ota_transfer_row t;
	struct edge_ota_node_status s;
	int rc = 0, src;

	/* finished_ms = 0 is a lookup in ota_transfer_finished. */
	src = sqlite3_prepare_v2(db,
				 "SELECT id, digest, chunk_size, campaign, created_ms, finished_ms"
				 " FROM ota_transfer WHERE finished_ms = 0 ORDER BY id",
				 -1, &ts, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(db,
					 "SELECT device, state, reason, chunks_held, n_chunks,"
					 " unicast_chunks, retransmits, offers, started_ms,"
					 " updated_ms, finished_ms, output_sha256, detail"
					 " FROM ota_node WHERE transfer = ?1 ORDER BY device",
					 -1, &ns, NULL);
	while (src == SQLITE_OK && (src = sqlite3_step(ts)) == SQLITE_ROW) {
		rc = transfer_row(ts, &t);
		if (rc == 0 && transfer)
			rc = transfer(&t, ud);
		if (rc != 0)
			goto out;
		sqlite3_reset(ns);
		(void)sqlite3_bind_int64(ns, 1, t.id);
		while ((src = sqlite3_step(ns)) == SQLITE_ROW) {
			rc = node_row(ns, &s);
			if (rc == 0 && node)
				rc = node(t.id, &s, ud);
			if (rc != 0)
				goto out;
		}
		if (src != SQLITE_DONE)
			break;
		src = SQLITE_OK;
	}
	rc = read_error(src);
out:
	sqlite3_finalize(ns);
	sqlite3_finalize(ts);
	return rc;
}

int edge_ota_store_device_get(sqlite3 *db, const char *device, struct edge_ota_device_row *out)
{
	sqlite3_stmt *st = NULL;
	int rc, src;

	if (!id_valid(device))
		return EDGE_ENOTFOUND;
	src = sqlite3_prepare_v2(db,
				 "SELECT active_name, active_version, active_sha256, previous_name,"
				 " previous_version, previous_sha256, last_transfer, last_outcome,"
				 " last_reason, updated_ms FROM ota_device WHERE device = ?1",
				 -1, &st, NULL);
	if (src != SQLITE_OK) {
		sqlite3_finalize(st);
		return edge_store_error_from_sqlite(src);
	}
	bind_text(st, 1, device);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		int64_t last = sqlite3_column_int64(st, 6);

		memset(out, 0, sizeof(*out));
		memcpy(out->device, device, strlen(device) + 1);
		copy_col(st, 0, out->active_name, sizeof(out->active_name));
		copy_col(st, 1, out->active_version, sizeof(out->active_version));
		copy_col(st, 2, out->active_sha256, sizeof(out->active_sha256));
		copy_col(st, 3, out->previous_name, sizeof(out->previous_name));
		copy_col(st, 4, out->previous_version, sizeof(out->previous_version));
		copy_col(st, 5, out->previous_sha256, sizeof(out->previous_sha256));
		out->last_transfer = last > 0 && last <= (int64_t)UINT32_MAX ? (uint32_t)last : 0;
		copy_col(st, 7, out->last_outcome, sizeof(out->last_outcome));
		copy_col(st, 8, out->last_reason, sizeof(out->last_reason));
		out->updated_ms = sqlite3_column_int64(st, 9);
		rc = 0;
	} else {
		rc = src == SQLITE_DONE ? EDGE_ENOTFOUND : edge_store_error_from_sqlite(src);
	}
	sqlite3_finalize(st);
	return rc;
}
