/* anomaly-gen: a large anomaly history and the queries on it. Fills a new
 * database (the real schema, from edge_store_open) with --events events over
 * --days days ending now, spread over --devices devices, three labels and
 * two models (raw INSERTs in big transactions, synchronous=OFF: loading, not
 * what is measured), builds the rollups with edge_anomaly_rollup_catch_up
 * as edged would, then times, each the median of several runs on a warm
 * cache:
 *   list:  the last 24 h of one device (the newest event's) through
 *          edge_anomaly_list (every page) vs plain SQL `... WHERE device=?
 *          AND ts_ms>=? ORDER BY ts_ms DESC` on its own connection (the
 *          (device, ts_ms) index);
 *   stats: hourly counts over 7 days through edge_anomaly_stats(BY_HOUR)
 *          vs `SELECT ts_ms/3600000, count(*) ... GROUP BY 1` over raw rows.
 * Then the export's read side alone: every row, pages of 1000 through
 * edge_anomaly_list, for at most 10 s (rows/s).
 * Epochs are above 4e9 so a simulator's nodes (epochs below 1e6) never
 * collide with the generated streams.
 *
 *   anomaly-gen --db PATH [--events N] [--devices D] [--days N] [--no-queries]
 * Prints one line `anomaly-gen: key=value ...` (see the end of main). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "bench_anomaly_common.h"
#include "edge_anomaly.h"
#include "edge_anomaly_query.h"
#include "edge_store.h"

#define GEN_TX_ROWS 200000
#define GEN_EPOCH_BASE 4000000000u
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

static const char *const models[2] = { "vib-ae@2.1.0", "vib-ae@2.2.0" };

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "anomaly-gen: %s: %s\n", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int generate(const char *path, unsigned long events, unsigned devices, unsigned days,
		    int64_t now)
{
	int64_t start = now - (int64_t)days * DAY_MS + HOUR_MS; /* inside retention */
	double span = (double)(now - start);
	uint32_t *seq = calloc(devices, sizeof(*seq)), rng = 4242;
	struct edge_report_event e;
	sqlite3_stmt *ins;
	sqlite3 *db;
	char dev[32], summary[96];
	unsigned long i;

	if (!seq || sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (exec(db, "PRAGMA synchronous=OFF") || exec(db, "PRAGMA cache_size=-1048576") ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO anomaly_event (device, epoch, seq, ts_ms, received_ms,"
			       " time_source, model, score, threshold, label, severity, summary)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, 'age', ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &ins, NULL) != SQLITE_OK)
		return -1;
	for (i = 0; i < events; i++) {
		unsigned d = bench_rand(&rng) % devices;
		int64_t ts = start + (int64_t)(span * ((double)i / (double)events));

		if (i % GEN_TX_ROWS == 0 && exec(db, "BEGIN"))
			return -1;
		bench_fill_event(&e, &rng, ++seq[d], 20);
		bench_device_id(dev, sizeof(dev), d);
		snprintf(summary, sizeof(summary), "[%.9g,%.9g,%.9g]", (double)e.summary[0],
			 (double)e.summary[1], (double)e.summary[2]);
		sqlite3_bind_text(ins, 1, dev, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 2, (int64_t)GEN_EPOCH_BASE + d);
		sqlite3_bind_int64(ins, 3, e.seq);
		sqlite3_bind_int64(ins, 4, ts);
		sqlite3_bind_int64(ins, 5, ts + e.age_ms);
		sqlite3_bind_text(ins, 6, models[bench_rand(&rng) % 10 == 0], -1, SQLITE_STATIC);
		sqlite3_bind_double(ins, 7, e.score);
		sqlite3_bind_double(ins, 8, e.threshold);
		sqlite3_bind_text(ins, 9, e.label, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, 10, e.severity);
		sqlite3_bind_text(ins, 11, summary, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "anomaly-gen: insert: %s\n", sqlite3_errmsg(db));
			return -1;
		}
		sqlite3_reset(ins);
		if (((i + 1) % GEN_TX_ROWS == 0 || i + 1 == events) && exec(db, "COMMIT"))
			return -1;
	}
	sqlite3_finalize(ins);
	if (exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"))
		return -1;
	sqlite3_close(db);
	free(seq);
	return 0;
}

static int catch_up_op(edge_store_conn *conn, void *ud)
{
	return edge_anomaly_rollup_catch_up(conn, 500000, ud);
}

static int rollups(const char *path)
{
	struct edge_store_options opt;
	edge_store *store;
	bool more = true;
	int rc = 0;

	edge_store_options_init(&opt);
	opt.quick_check = false; /* minutes on a large file; it was just written */
	opt.wal_max_bytes = 64u << 20;
	if (edge_store_open(path, &opt, &store) != 0)
		return -1;
	for (unsigned n = 0; more && rc == 0 && n < 100000; n++)
		rc = edge_store_read(store, catch_up_op, &more);
	edge_store_close(store);
	return rc;
}

struct count {
	uint64_t rows, sum;
};

static int count_row(void *ud, const struct edge_anomaly_row *row)
{
	struct count *c = ud;

	c->rows++;
	c->sum += row->ev.seq; /* touch the row */
	return 0;
}

static int count_stat(void *ud, const struct edge_anomaly_stat *s)
{
	struct count *c = ud;

	c->rows++;
	c->sum += s->count;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Every page of the device's last 24 h; rows in *c. */
static int api_list(edge_anomaly_reader *r, const char *dev, int64_t now, struct count *c)
{
	struct edge_anomaly_filter f = { .device = dev, .since_ms = now - DAY_MS };
	struct edge_anomaly_cursor cur = { 0 };
	bool more = true;
	int rc = 0;

	for (unsigned n = 0; more && rc == 0 && n < 100000; n++)
		rc = edge_anomaly_list(r, &f, &cur, 1000, count_row, c, &more);
	return rc;
}

static int sql_list(sqlite3_stmt *st, const char *dev, int64_t now, struct count *c)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now - DAY_MS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* every column read, as the API's row is filled */
		for (int k = 0; k < sqlite3_column_count(st); k++)
			(void)sqlite3_column_text(st, k);
		c->rows++;
		c->sum += (uint64_t)sqlite3_column_int64(st, 3);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

static int api_stats(edge_anomaly_reader *r, int64_t now, struct count *c,
		     struct edge_anomaly_stats_info *info)
{
	struct edge_anomaly_filter f = { .since_ms = now - 7 * DAY_MS, .until_ms = now };

	return edge_anomaly_stats(r, &f, EDGE_ANOMALY_BY_HOUR, 1000, count_stat, c, info);
}

static int sql_stats(sqlite3_stmt *st, int64_t now, struct count *c)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, now - 7 * DAY_MS);
	sqlite3_bind_int64(st, 2, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c->rows++;
		c->sum += (uint64_t)sqlite3_column_int64(st, 1);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The device of the newest event: one with a last 24 h to list. */
static int newest_device(sqlite3 *db, char *buf, size_t cap)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT device FROM anomaly_event ORDER BY ts_ms DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The whole history newest first in pages of 1000, as an export reads it,
 * for at most limit_s: rows and seconds. */
static int api_export(edge_anomaly_reader *r, double limit_s, struct count *c, double *secs)
{
	struct edge_anomaly_filter f = { 0 };
	struct edge_anomaly_cursor cur = { 0 };
	double t0 = bench_mono_s();
	bool more = true;
	int rc = 0;

	while (more && rc == 0 && bench_mono_s() - t0 < limit_s)
		rc = edge_anomaly_list(r, &f, &cur, 1000, count_row, c, &more);
	*secs = bench_mono_s() - t0;
	return rc;
}

#define REPS_LIST 51
#define REPS_STATS 5

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned long events = 1000000;
	unsigned devices = 1000, days = 365;
	bool queries = true;
	int64_t now = bench_wall_ms();
	double t0, t_gen, t_roll, v_api[REPS_LIST], v_sql[REPS_LIST];
	double list_ms, sql_list_ms, stats_ms, sql_stats_ms;
	struct count ca = { 0 }, cs = { 0 }, sa = { 0 }, ss = { 0 };
	struct edge_anomaly_stats_info info = { 0 };
	edge_anomaly_reader *r;
	edge_store *store;
	sqlite3 *db;
	sqlite3_stmt *q_list, *q_stats;
	struct stat sb;
	char dev[32];
	int c, rc;
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "events", required_argument, NULL, 'n' },
		{ "devices", required_argument, NULL, 'D' },
		{ "days", required_argument, NULL, 'y' },
		{ "no-queries", no_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "d:n:D:y:Q", opts, NULL)) != -1) {
		switch (c) {
		case 'd': path = optarg; break;
		case 'n': events = strtoul(optarg, NULL, 10); break;
		case 'D': devices = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'y': days = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'Q': queries = false; break;
		default: return 2;
		}
	}
	if (!path || events == 0 || devices == 0 || devices > 100000 || days < 8 || days > 3650) {
		fprintf(stderr, "usage: anomaly-gen --db PATH [--events N] [--devices D]"
				" [--days 8..3650] [--no-queries]\n");
		return 2;
	}
	if (edge_store_open(path, NULL, &store) != 0) {
		fprintf(stderr, "anomaly-gen: cannot create %s\n", path);
		return 1;
	}
	edge_store_close(store);

	t0 = bench_mono_s();
	if (generate(path, events, devices, days, now) != 0)
		return 1;
	t_gen = bench_mono_s() - t0;
	t0 = bench_mono_s();
	if (rollups(path) != 0) {
		fprintf(stderr, "anomaly-gen: rollup catch-up failed\n");
		return 1;
	}
	t_roll = bench_mono_s() - t0;
	if (stat(path, &sb) != 0)
		return 1;
	printf("anomaly-gen: events=%lu devices=%u days=%u gen_s=%.1f rollup_s=%.1f db_bytes=%lld",
	       events, devices, days, t_gen, t_roll, (long long)sb.st_size);
	if (!queries) {
		printf("\n");
		return 0;
	}

	rc = edge_anomaly_reader_open(path, &r);
	if (rc != 0 || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    newest_device(db, dev, sizeof(dev)) != 0 ||
	    sqlite3_prepare_v2(db,
			       "SELECT id, device, epoch, seq, ts_ms, received_ms, time_source, model,"
			       " score, threshold, label, severity, summary FROM anomaly_event"
			       " WHERE device = ?1 AND ts_ms >= ?2 ORDER BY ts_ms DESC",
			       -1, &q_list, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT ts_ms / 3600000, count(*) FROM anomaly_event"
			       " WHERE ts_ms BETWEEN ?1 AND ?2 GROUP BY 1",
			       -1, &q_stats, NULL) != SQLITE_OK) {
		fprintf(stderr, "\nanomaly-gen: cannot open the readers (%d)\n", rc);
		return 1;
	}
	edge_anomaly_reader_set_budget(r, 1000000000, 600000);
	for (unsigned k = 0; k < REPS_LIST; k++) {
		struct count a = { 0 }, s = { 0 };

		t0 = bench_mono_s();
		if (api_list(r, dev, now, &a) != 0)
			return 1;
		v_api[k] = bench_mono_s() - t0;
		t0 = bench_mono_s();
		if (sql_list(q_list, dev, now, &s) != 0)
			return 1;
		v_sql[k] = bench_mono_s() - t0;
		ca = a;
		cs = s;
	}
	list_ms = median(v_api, REPS_LIST) * 1e3;
	sql_list_ms = median(v_sql, REPS_LIST) * 1e3;
	for (unsigned k = 0; k < REPS_STATS; k++) {
		struct count a = { 0 }, s = { 0 };

		t0 = bench_mono_s();
		if (api_stats(r, now, &a, &info) != 0) {
			fprintf(stderr, "\nanomaly-gen: edge_anomaly_stats failed\n");
			return 1;
		}
		v_api[k] = bench_mono_s() - t0;
		t0 = bench_mono_s();
		if (sql_stats(q_stats, now, &s) != 0)
			return 1;
		v_sql[k] = bench_mono_s() - t0;
		sa = a;
		ss = s;
	}
	stats_ms = median(v_api, REPS_STATS) * 1e3;
	sql_stats_ms = median(v_sql, REPS_STATS) * 1e3;
	struct count ex = { 0 };
	double ex_s;

	if (api_export(r, 10.0, &ex, &ex_s) != 0) {
		fprintf(stderr, "\nanomaly-gen: export pages failed\n");
		return 1;
	}
	printf(" list_rows=%" PRIu64 " sql_list_rows=%" PRIu64 " list_ms=%.4f sql_list_ms=%.4f"
	       " stats_groups=%" PRIu64 " stats_events=%" PRIu64 " stats_source=%s"
	       " sql_stats_groups=%" PRIu64 " sql_stats_events=%" PRIu64
	       " stats_ms=%.4f sql_stats_ms=%.4f export_rows=%" PRIu64 " export_s=%.2f\n",
	       ca.rows, cs.rows, list_ms, sql_list_ms, sa.rows, sa.sum,
	       info.source ? info.source : "?", ss.rows, ss.sum, stats_ms, sql_stats_ms, ex.rows, ex_s);
	sqlite3_finalize(q_list);
	sqlite3_finalize(q_stats);
	sqlite3_close(db);
	edge_anomaly_reader_close(r);
	return 0;
}
