/* raw-insert: the raw SQLite peer of edged's anomaly writer. Creates the
 * real schema (edge_store_open on a new file, then closed), then INSERTs
 * anomaly_event rows as edged's ingest would store them (every column, the
 * table's three indexes), in transactions of --batch rows, on one
 * connection in WAL mode with synchronous=FULL: what SQLite alone manages on
 * this disk, without the stream, episode and rollup bookkeeping, the
 * savepoints or the writer thread.
 *
 *   raw-insert --db PATH [--events N] [--batch B] [--devices D]
 * Prints `raw-insert: events=N batch=B devices=D seconds=S events_per_s=R
 * transactions=T bytes_written=W`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench_anomaly_common.h"
#include "edge_store.h"

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "raw-insert: %s: %s\n", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned long events = 100000, batch = 256, devices = 1000;
	uint32_t *seq, rng = 12345;
	edge_store *store;
	sqlite3 *db;
	sqlite3_stmt *ins;
	struct edge_report_event e;
	char dev[32], summary[96];
	unsigned long i, tx = 0;
	double t0, t1;
	uint64_t w0, w1;
	int c;
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "events", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "devices", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "d:n:b:D:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': path = optarg; break;
		case 'n': events = strtoul(optarg, NULL, 10); break;
		case 'b': batch = strtoul(optarg, NULL, 10); break;
		case 'D': devices = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!path || events == 0 || batch == 0 || devices == 0 || devices > 100000) {
		fprintf(stderr, "usage: raw-insert --db PATH [--events N] [--batch B] [--devices D]\n");
		return 2;
	}
	if (edge_store_open(path, NULL, &store) != 0) {
		fprintf(stderr, "raw-insert: cannot create the schema in %s\n", path);
		return 1;
	}
	edge_store_close(store);
	seq = calloc(devices, sizeof(*seq));
	if (!seq || sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "raw-insert: cannot open %s\n", path);
		return 1;
	}
	if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=FULL") ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO anomaly_event (device, epoch, seq, ts_ms, received_ms,"
			       " time_source, model, score, threshold, label, severity, summary)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, 'age', ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "raw-insert: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	w0 = bench_write_bytes();
	t0 = bench_mono_s();
	for (i = 0; i < events; i++) {
		unsigned d = (unsigned)(i % devices);
		int64_t now = bench_wall_ms();

		if (i % batch == 0 && exec(db, "BEGIN"))
			return 1;
		bench_fill_event(&e, &rng, ++seq[d], 5);
		bench_device_id(dev, sizeof(dev), d);
		snprintf(summary, sizeof(summary), "[%.9g,%.9g,%.9g]", (double)e.summary[0],
			 (double)e.summary[1], (double)e.summary[2]);
		sqlite3_bind_text(ins, 1, dev, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 2, 1000 + d);
		sqlite3_bind_int64(ins, 3, e.seq);
		sqlite3_bind_int64(ins, 4, now - e.age_ms);
		sqlite3_bind_int64(ins, 5, now);
		sqlite3_bind_text(ins, 6, BENCH_MODEL_NAME "@" BENCH_MODEL_VERSION, -1, SQLITE_STATIC);
		sqlite3_bind_double(ins, 7, e.score);
		sqlite3_bind_double(ins, 8, e.threshold);
		sqlite3_bind_text(ins, 9, e.label, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, 10, e.severity);
		sqlite3_bind_text(ins, 11, summary, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "raw-insert: insert: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_reset(ins);
		if ((i + 1) % batch == 0 || i + 1 == events) {
			if (exec(db, "COMMIT"))
				return 1;
			tx++;
		}
	}
	t1 = bench_mono_s();
	w1 = bench_write_bytes();
	printf("raw-insert: events=%lu batch=%lu devices=%lu seconds=%.3f events_per_s=%.0f "
	       "transactions=%lu bytes_written=%" PRIu64 "\n",
	       events, batch, devices, t1 - t0, (double)events / (t1 - t0), tx, w1 - w0);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(seq);
	return 0;
}
