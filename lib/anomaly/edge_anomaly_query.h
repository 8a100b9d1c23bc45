/* Reading the anomaly history: what `edgectl anomalies` and `devices show`
 * ask, answered on a read-only connection of its own, never the writer's.
 *
 * A reader (edge_anomaly_reader) is one read-only SQLite connection to the
 * store's database (WAL: it reads beside the writer and never blocks it)
 * with its own statement cache. It is used by one thread at a time (a
 * worker, never the event loop); edge_anomaly_reader_interrupt may be called
 * from any thread.
 *
 * Budget: every query (one call below; a page of a list is one call) may
 * examine at most max_rows rows and run for at most time_ms; past either it
 * stops and returns EDGE_ELIMIT ("budget"). Rows counted are the rows the
 * query reads from a table or index (SQLite VM steps are the mechanism, see
 * the .c), so a filter that matches nothing over ten million rows stops at
 * the budget rather than running for minutes. Pages of a list or an export
 * are separate calls, each with its own budget, each its own short read
 * transaction: an export of any length never holds a snapshot open (which
 * would stop WAL checkpoints) and needs memory for one page only.
 *
 * Order and paging: lists are newest first by (ts_ms, id) for events and
 * (start_ms, id) for episodes; the cursor is the last row returned (keyset
 * paging), so pages neither skip nor repeat rows while new events arrive
 * (new events are newer than the first page, not between pages).
 *
 * Statistics come from the rollups (schema 6), never from raw rows over
 * long ranges: fleet-wide per hour, label and model (`anomaly_rollup_hour`),
 * and per device, day, label and model (`anomaly_rollup_day`), each with a
 * score sketch (edge_score_sketch.h) so percentiles need no raw scan. Only
 * per-hour statistics of one device read raw rows (through the (device,
 * ts_ms) index, within the budget). The time range is widened to whole
 * buckets of the table used; the answer says which range it covers. */
#ifndef EDGE_ANOMALY_QUERY_H
#define EDGE_ANOMALY_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_anomaly.h"
#include "edge_error.h"
#include "edge_score_sketch.h"
#include "edge_topic.h" /* EDGE_ID_MAX_LEN */

typedef struct edge_anomaly_reader edge_anomaly_reader;

/* Opens db_path read-only (SQLITE_OPEN_READONLY, query_only, a busy
 * timeout). The database must exist and have schema >= 6 (EDGE_ESCHEMA
 * otherwise). -ENOENT, -EACCES, EDGE_ECORRUPT, EDGE_ESTORE, -ENOMEM. */
EDGE_WUR int edge_anomaly_reader_open(const char *db_path, edge_anomaly_reader **out);
void edge_anomaly_reader_close(edge_anomaly_reader *r);

/* The budget of every later call (defaults: 2,000,000 rows, 10,000 ms). */
void edge_anomaly_reader_set_budget(edge_anomaly_reader *r, uint64_t max_rows,
				    unsigned time_ms);

/* Stops the running call (any thread); it returns -ECANCELED. A call
 * started after this runs normally. */
void edge_anomaly_reader_interrupt(edge_anomaly_reader *r);

/* What a call examined, for status and benchmarks. */
struct edge_anomaly_query_cost {
	uint64_t rows_examined;
	uint64_t elapsed_us;
};
/* Of the last call. */
void edge_anomaly_reader_last_cost(const edge_anomaly_reader *r,
				   struct edge_anomaly_query_cost *out);

/* Filters; NULL / 0 / false: not filtered. Times are wall ms, since
 * inclusive, until exclusive. */
struct edge_anomaly_filter {
	const char *device;
	const char *label;
	const char *model;
	int64_t since_ms;    /* 0: from the oldest */
	int64_t until_ms;    /* 0: to now and beyond */
	bool has_min_score;
	double min_score;    /* events: score >= min_score; episodes: peak_score */
	bool open_only;      /* episodes only: state open or confirmed */
};

/* Where the next page starts: after the last row returned. Zeroed: from
 * the newest. */
struct edge_anomaly_cursor {
	bool valid;
	int64_t ts_ms;       /* events: ts_ms; episodes: start_ms */
	int64_t id;
};

/* One event of a list: the stored event, its device and row id. */
struct edge_anomaly_row {
	int64_t id;
	char device[EDGE_ID_MAX_LEN + 1];
	struct edge_anomaly_event ev;
};

/* Called per row, in order; a non-zero return stops the call, which then
 * returns that value (the cursor still names the last row emitted). */
typedef int (*edge_anomaly_row_fn)(void *ud, const struct edge_anomaly_row *row);

/* Up to limit (1..10000) events matching f, newest first, after *cursor;
 * *cursor is advanced past each row emitted. *more: rows remain beyond
 * this page. Uses the (device, ts_ms) index with a device filter, else
 * (ts_ms). 0, EDGE_ELIMIT (budget; rows emitted so far stand and the
 * cursor lets the next call go on), -ECANCELED, -EINVAL, EDGE_ESTORE,
 * EDGE_ECORRUPT, -ENOMEM, or emit's non-zero value. */
EDGE_WUR int edge_anomaly_list(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
			       struct edge_anomaly_cursor *cursor, unsigned limit,
			       edge_anomaly_row_fn emit, void *ud, bool *more);

enum edge_anomaly_by {
	EDGE_ANOMALY_BY_HOUR,
	EDGE_ANOMALY_BY_DAY,
	EDGE_ANOMALY_BY_DEVICE,
	EDGE_ANOMALY_BY_LABEL,
	EDGE_ANOMALY_BY_MODEL,
};
/* "hour", "day", "device", "label", "model"; parse: 0 or -EINVAL. */
const char *edge_anomaly_by_name(enum edge_anomaly_by by);
EDGE_WUR int edge_anomaly_by_parse(const char *name, enum edge_anomaly_by *out);

/* One group of a statistic. Percentiles are the sketch's: within
 * EDGE_SCORE_SKETCH_ACCURACY relative error of the true order statistic. */
struct edge_anomaly_stat {
	char key[EDGE_MSG_SHA256_HEX + 1]; /* device, label or model; "" by time */
	int64_t bucket_ms;  /* by hour/day: the bucket's start (UTC); else 0 */
	uint64_t count;
	double score_min, score_max, score_mean;
	double p50, p90, p99;
};
typedef int (*edge_anomaly_stat_fn)(void *ud, const struct edge_anomaly_stat *stat);

/* Where a statistic came from and the range it covers. */
struct edge_anomaly_stats_info {
	const char *source;  /* "rollup_hour", "rollup_day" or "raw" (static) */
	int64_t since_ms;    /* the range after widening to whole buckets */
	int64_t until_ms;
	uint64_t groups;     /* stats emitted */
	struct edge_anomaly_stat total; /* over every group (key "") */
};

/* Counts and score statistics of the events matching f (device, label,
 * model, since, until; min_score is refused with -EINVAL: rollups do not
 * keep it), grouped by `by`: time buckets in ascending time, including
 * empty buckets between the first and the last non-empty one (count 0);
 * devices, labels and models by descending count. At most max_groups
 * groups are emitted (the rest count in info->total). Errors as
 * edge_anomaly_list. */
EDGE_WUR int edge_anomaly_stats(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
				enum edge_anomaly_by by, unsigned max_groups,
				edge_anomaly_stat_fn emit, void *ud,
				struct edge_anomaly_stats_info *info);

/* One episode of a list. */
struct edge_anomaly_episode_row {
	char device[EDGE_ID_MAX_LEN + 1];
	char label[EDGE_MSG_TOKEN_CAP];
	struct edge_anomaly_episode ep;
};
typedef int (*edge_anomaly_episode_fn)(void *ud, const struct edge_anomaly_episode_row *row);

/* Up to limit episodes matching f (device, label, model, since/until on
 * start_ms, min_score on peak_score, open_only), newest start first, after
 * *cursor. As edge_anomaly_list. */
EDGE_WUR int edge_anomaly_episodes(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
				   struct edge_anomaly_cursor *cursor, unsigned limit,
				   edge_anomaly_episode_fn emit, void *ud, bool *more);

/* What `devices show` tells of one device's history. */
struct edge_anomaly_device_summary {
	uint64_t events;          /* stored, every epoch (anomaly_stream) */
	uint64_t gaps;            /* events the node gave up (anomaly_stream) */
	uint64_t events_24h;      /* ts_ms within the 24 h before now_ms */
	int64_t last_ts_ms;       /* newest event's ts_ms; 0: none */
	char last_label[EDGE_MSG_TOKEN_CAP];
	double last_score;
	uint32_t episodes_open;   /* not closed: open or confirmed */
	uint32_t episodes_confirmed; /* of them, confirmed */
	uint64_t episodes;        /* every episode of the device */
};
/* A device with no history gives all zero (not an error). -EINVAL, budget
 * and store errors as above. */
EDGE_WUR int edge_anomaly_device_summary(edge_anomaly_reader *r, const char *device,
					 int64_t now_ms, struct edge_anomaly_device_summary *out);

/* What one device, or a set of devices summed, did in a time window: the
 * input of a rollout stage's health check (lib/rollout). About 8 KiB (the
 * sketch): keep it off small stacks. */
struct edge_anomaly_window {
	uint64_t events;                 /* ts_ms in [since_ms, until_ms) */
	uint64_t episodes;               /* start_ms in [since_ms, until_ms) */
	struct edge_score_sketch scores; /* the counted events' scores */
};
/* Zeroes w (sketch initialised). */
void edge_anomaly_window_init(struct edge_anomaly_window *w);
/* Adds device's events and episodes in [since_ms, until_ms) to *w (not
 * reset: call once per device to sum a stage). model NULL: any model;
 * else model_equal true counts rows whose model is exactly `model`
 * ("name@version"), false rows whose model is anything else. Raw rows
 * through the (device, ts_ms) and (device, start_ms) indexes, within the
 * reader's budget (EDGE_ELIMIT past it; *w may then hold part of the
 * device's rows: the caller discards it). An infinite stored score counts
 * in the sketch as +-DBL_MAX, so scores.count grows with events.
 * -EINVAL (NULL, empty device or model, since >= until), EDGE_ESTORE,
 * -ECANCELED (interrupted), -EOVERFLOW (a count of *w would wrap). */
EDGE_WUR int edge_anomaly_window_add(edge_anomaly_reader *r, const char *device,
				     int64_t since_ms, int64_t until_ms, const char *model,
				     bool model_equal, struct edge_anomaly_window *w);

#endif
