/* central-insert: the plain-client peer of edged's central forwarder. One
 * libpq connection reads the anomaly_event rows of a gateway's SQLite file
 * (read-only, in id order, --batch rows per read, as the forwarder reads
 * them) and inserts each page into the central schema's anomaly_event
 * (`edgectl central init`) with a plain multi-row
 *   INSERT INTO anomaly_event (...) VALUES (...),(...),... ON CONFLICT DO NOTHING
 * prepared once per batch size, text parameters, autocommit: one statement,
 * one transaction per batch. No episodes, summaries or gateway row, no
 * cursor bookkeeping: what one writer alone manages on this server.
 *
 *   central-insert --db PATH --conninfo STR [--gateway ID] [--batch B]
 * Prints `central-insert: rows=N inserted=I batch=B batches=K seconds=S
 * rows_per_s=R` (seconds from before the connect to the last commit). */
#include <assert.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "edge_central_local.h"

#include "bench_anomaly_common.h"

#define COLS 12            /* per row; $1 gateway and $2 forwarded_ms are shared */
#define MAX_BATCH 5000     /* 2 + 12 * 5000 parameters: below libpq's 65535 */
#define ROW_TEXT_MAX 2048  /* arena bytes per row: every column's text fits */

static const char select_sql[] =
	"SELECT id, device, epoch, seq, ts_ms, received_ms, time_source, model, score,"
	" threshold, label, severity, summary FROM anomaly_event WHERE id > ?1"
	" ORDER BY id LIMIT ?2";

/* The text of one batch's parameters, in one arena that never moves. */
struct page {
	char *arena;
	size_t used, cap;
	const char **values; /* 2 + COLS * rows */
	unsigned rows;
	int64_t last_id;
};

/* Appends s to the arena; NULL when it does not fit (a row beyond
 * ROW_TEXT_MAX on average: refused, not truncated). */
static const char *put(struct page *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *at;

	if (p->used + n > p->cap)
		return NULL;
	at = p->arena + p->used;
	memcpy(at, s, n);
	p->used += n;
	return at;
}

static const char *put_int(struct page *p, int64_t v)
{
	char t[24];

	snprintf(t, sizeof t, "%" PRId64, v);
	return put(p, t);
}

static const char *put_double(struct page *p, double v)
{
	char t[40];

	snprintf(t, sizeof t, "%.17g", v);
	return put(p, t);
}

/* A summary as the forwarder sends it (edge_central_summary_literal); NULL
 * (SQL NULL) when absent or unreadable. *bad is set when the arena is full. */
static const char *put_summary(struct page *p, sqlite3_stmt *st, int col, int *bad)
{
	char lit[EDGE_CENTRAL_SUMMARY_LITERAL_MAX];
	const char *r;

	if (!edge_central_summary_literal(st, col, lit))
		return NULL;
	r = put(p, lit);
	if (!r)
		*bad = 1;
	return r;
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* The next page above last_id: 0 (rows may be 0 at the end), -1 on error. */
static int read_page(sqlite3 *db, sqlite3_stmt *st, unsigned batch, struct page *p)
{
	int rc;

	p->used = 0;
	p->rows = 0;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, p->last_id);
	sqlite3_bind_int64(st, 2, batch);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char **v = p->values + 2 + (size_t)p->rows * COLS;
		int bad = 0;

		assert(p->rows < batch);
		p->last_id = sqlite3_column_int64(st, 0);
		v[0] = put(p, col_text(st, 1));
		v[1] = put_int(p, sqlite3_column_int64(st, 2));
		v[2] = put_int(p, sqlite3_column_int64(st, 3));
		v[3] = put_int(p, sqlite3_column_int64(st, 4));
		v[4] = put_int(p, sqlite3_column_int64(st, 5));
		v[5] = put(p, col_text(st, 6));
		v[6] = put(p, col_text(st, 7));
		v[7] = put_double(p, sqlite3_column_double(st, 8));
		v[8] = put_double(p, sqlite3_column_double(st, 9));
		v[9] = put(p, col_text(st, 10));
		v[10] = sqlite3_column_type(st, 11) == SQLITE_NULL
				? NULL : put_int(p, sqlite3_column_int64(st, 11));
		v[11] = put_summary(p, st, 12, &bad);
		for (int k = 0; k < 10; k++)
			bad |= v[k] == NULL;
		if (bad) {
			fprintf(stderr, "central-insert: row %" PRId64 " is larger than %d bytes of text\n",
				p->last_id, ROW_TEXT_MAX);
			return -1;
		}
		p->rows++;
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "central-insert: read: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* INSERT ... VALUES with rows tuples of COLS parameters after $1, $2. */
static char *insert_sql(unsigned rows)
{
	static const char head[] =
		"INSERT INTO anomaly_event (gateway, device, epoch, seq, ts_ms, received_ms,"
		" time_source, model, score, threshold, label, severity, summary, forwarded_ms)"
		" VALUES ";
	static const char tail[] = " ON CONFLICT DO NOTHING";
	size_t cap = sizeof head + sizeof tail + (size_t)rows * (COLS * 8 + 16);
	char *sql = malloc(cap), *p;
	unsigned n = 3;

	if (!sql)
		return NULL;
	p = sql + snprintf(sql, cap, "%s", head);
	for (unsigned r = 0; r < rows; r++) {
		p += snprintf(p, cap - (size_t)(p - sql), "%s($1", r ? "," : "");
		for (unsigned c = 0; c < COLS; c++)
			p += snprintf(p, cap - (size_t)(p - sql), ",$%u", n++);
		p += snprintf(p, cap - (size_t)(p - sql), ",$2)");
	}
	snprintf(p, cap - (size_t)(p - sql), "%s", tail);
	return sql;
}

/* Prepares the statement for rows tuples under name; 0 or -1. */
static int prepare(PGconn *pg, const char *name, unsigned rows)
{
	char *sql = insert_sql(rows);
	PGresult *res;
	int rc;

	if (!sql) {
		fprintf(stderr, "central-insert: out of memory\n");
		return -1;
	}
	res = PQprepare(pg, name, sql, 2 + (int)rows * COLS, NULL);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc)
		fprintf(stderr, "central-insert: prepare: %s", PQerrorMessage(pg));
	PQclear(res);
	free(sql);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *conninfo = NULL, *gateway = "bench-peer";
	unsigned long batch = 500, rows = 0, inserted = 0, batches = 0;
	struct page p = { 0 };
	char now[24];
	sqlite3 *db;
	sqlite3_stmt *st;
	PGconn *pg;
	double t0, t1;
	int c;
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "conninfo", required_argument, NULL, 'c' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "batch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "d:c:g:b:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': path = optarg; break;
		case 'c': conninfo = optarg; break;
		case 'g': gateway = optarg; break;
		case 'b': batch = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!path || !conninfo || batch == 0 || batch > MAX_BATCH || !gateway[0] ||
	    strlen(gateway) > 64) {
		fprintf(stderr, "usage: central-insert --db PATH --conninfo STR [--gateway ID]"
				" [--batch 1..%d]\n", MAX_BATCH);
		return 2;
	}
	p.cap = batch * ROW_TEXT_MAX;
	p.arena = malloc(p.cap);
	p.values = calloc(2 + batch * COLS, sizeof(*p.values));
	if (!p.arena || !p.values) {
		fprintf(stderr, "central-insert: out of memory\n");
		return 1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, select_sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "central-insert: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_busy_timeout(db, 5000);

	t0 = bench_mono_s();
	pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "central-insert: connect: %s", PQerrorMessage(pg));
		return 1;
	}
	if (prepare(pg, "full", (unsigned)batch) != 0)
		return 1;
	p.values[0] = gateway;
	p.values[1] = now;
	for (unsigned long guard = 0; guard < 100000000; guard++) {
		PGresult *res;
		const char *name = "full";

		if (read_page(db, st, (unsigned)batch, &p) != 0)
			return 1;
		if (p.rows == 0)
			break;
		if (p.rows < batch) { /* the last, shorter page: a statement of its own */
			if (prepare(pg, "tail", p.rows) != 0)
				return 1;
			name = "tail";
		}
		snprintf(now, sizeof now, "%" PRId64, bench_wall_ms());
		res = PQexecPrepared(pg, name, 2 + (int)p.rows * COLS, p.values, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "central-insert: insert: %s", PQerrorMessage(pg));
			return 1;
		}
		inserted += strtoul(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		rows += p.rows;
		batches++;
		if (p.rows < batch)
			break;
	}
	t1 = bench_mono_s();
	printf("central-insert: rows=%lu inserted=%lu batch=%lu batches=%lu seconds=%.3f"
	       " rows_per_s=%.0f\n",
	       rows, inserted, batch, batches, t1 - t0, t1 > t0 ? (double)rows / (t1 - t0) : 0.0);
	PQfinish(pg);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(p.arena);
	free(p.values);
	return 0;
}
