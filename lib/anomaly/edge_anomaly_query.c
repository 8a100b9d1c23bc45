/* The read side of the anomaly history (edge_anomaly_query.h).
 *
 * Budget: SQLite calls the progress handler every PROGRESS_OPS virtual
 * machine instructions; rows examined are counted as instructions /
 * VM_OPS_PER_ROW. Measured (SQLite 3.40, sqlite3_stmt_status VM_STEP): a
 * row of the ts_ms index read with its table row and refused by a residual
 * filter costs 7 instructions, one counted by count(*) over an index range
 * 3, one returned with its 13 columns 21. So rows_examined is an estimate
 * within a factor of about three, closest for the case the budget is for
 * (a filter refusing row after row), and a budget stop lands within
 * PROGRESS_OPS / VM_OPS_PER_ROW (125) rows of the bound. The clock is
 * checked at the same points. A budget stop and edge_anomaly_reader_interrupt both end in
 * SQLITE_INTERRUPT; `stop` says which one it was.
 *
 * Plans (checked by the tests with EXPLAIN QUERY PLAN): lists walk
 * anomaly_event_device_ts (device filter) or anomaly_event_ts backwards,
 * forced with INDEXED BY, the cursor being a range bound plus a residual
 * on the row id that the index holds, so no sort ever runs; label, model
 * and score are residual filters. Episodes likewise over
 * anomaly_episode_device_start / anomaly_episode_start. The cursor moves to
 * a row once emit accepted it (returned 0): a row emit refused comes again
 * at the start of the next page.
 *
 * Statistics' source: without a device filter, by hour, day, label or
 * model read anomaly_rollup_hour (24 rows per day and label/model pair,
 * whatever the fleet's size; by day sums its hours); with a device filter,
 * or by device, anomaly_rollup_day (by its primary key for one device, by
 * anomaly_rollup_day_day for the fleet); by hour of one device reads raw
 * rows through (device, ts_ms). Groups by key arrive sorted by SQL (a
 * sort within the budget), are finished one at a time (memory: one
 * edge_anomaly_stat per group, two sketches) and sorted by count at the
 * end. Empty time buckets count towards max_groups. */
#include "edge_anomaly_query.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge_anomaly_internal.h"
#include "edge_score_sketch.h"

#define PROGRESS_OPS 1000
#define VM_OPS_PER_ROW 8
#define DEFAULT_MAX_ROWS 2000000
#define DEFAULT_TIME_MS 10000
#define READER_BUSY_MS 2000
#define CACHE_MAX 24

enum stop { STOP_NONE, STOP_BUDGET, STOP_CANCEL };

struct cache_entry {
	const char *sql;
	sqlite3_stmt *st;
};

struct edge_anomaly_reader {
	sqlite3 *db;
	struct cache_entry cache[CACHE_MAX];
	unsigned n_cache;
	uint64_t max_rows;
	unsigned time_ms;
	atomic_bool cancel;
	/* the running call */
	uint64_t ops;
	uint64_t start_us, deadline_us;
	enum stop stop;
	struct edge_anomaly_query_cost last;
	/* stats scratch: a group's sketch and the total's (calloc: empty) */
	struct edge_score_sketch group_sk, total_sk;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int progress(void *ud)
{
	edge_anomaly_reader *r = ud;

	r->ops += PROGRESS_OPS;
	if (atomic_load(&r->cancel)) {
		r->stop = STOP_CANCEL;
		return 1;
	}
	if (r->ops / VM_OPS_PER_ROW > r->max_rows || now_us() > r->deadline_us) {
		r->stop = STOP_BUDGET;
		return 1;
	}
	return 0;
}

/* Maps an SQLite code of the running call. */
static int map_rc(edge_anomaly_reader *r, int rc)
{
	if ((rc & 0xff) == SQLITE_INTERRUPT || r->stop != STOP_NONE) {
		/* sqlite3_interrupt may stop a statement before the handler runs. */
		if (r->stop == STOP_CANCEL || atomic_load(&r->cancel))
			return -ECANCELED;
		if (r->stop == STOP_BUDGET)
			return EDGE_ELIMIT;
	}
	return edge_store_error_from_sqlite(rc);
}

static int prepare(edge_anomaly_reader *r, const char *sql, sqlite3_stmt **out)
{
	sqlite3_stmt *st;
	int rc;

	for (unsigned i = 0; i < r->n_cache; i++)
		if (r->cache[i].sql == sql) {
			sqlite3_reset(r->cache[i].st);
			sqlite3_clear_bindings(r->cache[i].st);
			*out = r->cache[i].st;
			return 0;
		}
	rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return map_rc(r, rc);
	if (r->n_cache < CACHE_MAX) {
		r->cache[r->n_cache++] = (struct cache_entry){ .sql = sql, .st = st };
	} else {
		/* Never reached with the fixed set of statements below. */
		sqlite3_finalize(r->cache[0].st);
		r->cache[0] = (struct cache_entry){ .sql = sql, .st = st };
	}
	*out = st;
	return 0;
}

static const char begin_sql[] = "BEGIN";
static const char commit_sql[] = "COMMIT";
static const char rollback_sql[] = "ROLLBACK";

static int exec_cached(edge_anomaly_reader *r, const char *sql)
{
	sqlite3_stmt *st;
	int rc = prepare(r, sql, &st);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : map_rc(r, rc);
}

/* Each call: a fresh budget, its own read transaction. */
static int call_begin(edge_anomaly_reader *r)
{
	atomic_store(&r->cancel, false);
	r->ops = 0;
	r->stop = STOP_NONE;
	r->start_us = now_us();
	r->deadline_us = r->start_us + (uint64_t)r->time_ms * 1000u;
	r->last = (struct edge_anomaly_query_cost){ 0 };
	return exec_cached(r, begin_sql);
}

static int call_end(edge_anomaly_reader *r, int rc)
{
	/* Ending the transaction runs without the budget or a late interrupt. */
	sqlite3_progress_handler(r->db, 0, NULL, NULL);
	if (exec_cached(r, rc == 0 ? commit_sql : rollback_sql) < 0 && rc == 0)
		rc = EDGE_ESTORE;
	if (!sqlite3_get_autocommit(r->db))
		(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_progress_handler(r->db, PROGRESS_OPS, progress, r);
	r->last.rows_examined = r->ops / VM_OPS_PER_ROW;
	r->last.elapsed_us = now_us() - r->start_us;
	return rc;
}

int edge_anomaly_reader_open(const char *db_path, edge_anomaly_reader **out)
{
	edge_anomaly_reader *r;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int rc, version = 0;

	if (!db_path || !out)
		return -EINVAL;
	if (stat(db_path, &sb) < 0)
		return -errno;
	if (access(db_path, R_OK) < 0)
		return -errno;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->max_rows = DEFAULT_MAX_ROWS;
	r->time_ms = DEFAULT_TIME_MS;
	atomic_init(&r->cancel, false);
	rc = sqlite3_open_v2(db_path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(r->db, READER_BUSY_MS);
	rc = sqlite3_exec(r->db, "PRAGMA query_only = 1", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			version = sqlite3_column_int(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		goto fail;
	if (version < 6) {
		edge_anomaly_reader_close(r);
		return EDGE_ESCHEMA;
	}
	sqlite3_progress_handler(r->db, PROGRESS_OPS, progress, r);
	*out = r;
	return 0;
fail:
	rc = edge_store_error_from_sqlite(rc);
	edge_anomaly_reader_close(r);
	return rc < 0 ? rc : EDGE_ESTORE;
}

void edge_anomaly_reader_close(edge_anomaly_reader *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n_cache; i++)
		sqlite3_finalize(r->cache[i].st);
	sqlite3_close(r->db);
	free(r);
}

void edge_anomaly_reader_set_budget(edge_anomaly_reader *r, uint64_t max_rows, unsigned time_ms)
{
	if (!r)
		return;
	r->max_rows = max_rows;
	r->time_ms = time_ms;
}

void edge_anomaly_reader_interrupt(edge_anomaly_reader *r)
{
	if (!r)
		return;
	atomic_store(&r->cancel, true);
	sqlite3_interrupt(r->db);
}

void edge_anomaly_reader_last_cost(const edge_anomaly_reader *r,
				   struct edge_anomaly_query_cost *out)
{
	if (!out)
		return;
	*out = r ? r->last : (struct edge_anomaly_query_cost){ 0 };
}

/* ---- helpers ---- */

static void col_text(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(buf, cap, "%s", s ? (const char *)s : "");
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* The time range [lo, hi] (inclusive) of a filter. */
static void filter_range(const struct edge_anomaly_filter *f, int64_t *lo, int64_t *hi)
{
	*lo = f->since_ms ? f->since_ms : INT64_MIN;
	*hi = f->until_ms ? f->until_ms - 1 : INT64_MAX;
}

/* ---- lists: keyset pages ---- */

#define EVENT_COLS \
	"SELECT id, device, epoch, seq, ts_ms, received_ms, time_source, model, score," \
	" threshold, label, severity, summary FROM anomaly_event"
#define EVENT_WHERE \
	" ts_ms >= ?1 AND ts_ms <= ?2 AND (ts_ms < ?3 OR id < ?4)" \
	" AND (?5 IS NULL OR label = ?5) AND (?6 IS NULL OR model = ?6)" \
	" AND (?7 IS NULL OR score >= ?7) ORDER BY ts_ms DESC, id DESC"
static const char list_sql[] = EVENT_COLS " INDEXED BY anomaly_event_ts WHERE" EVENT_WHERE;
static const char list_device_sql[] =
	EVENT_COLS " INDEXED BY anomaly_event_device_ts WHERE device = ?9 AND" EVENT_WHERE;

#define EPISODE_COLS \
	"SELECT id, device, label, model, state, start_ms, end_ms, count, peak_score," \
	" confirmed_ms, closed_ms FROM anomaly_episode"
#define EPISODE_WHERE \
	" start_ms >= ?1 AND start_ms <= ?2 AND (start_ms < ?3 OR id < ?4)" \
	" AND (?5 IS NULL OR label = ?5) AND (?6 IS NULL OR model = ?6)" \
	" AND (?7 IS NULL OR peak_score >= ?7) AND (?8 = 0 OR state <> 'closed')" \
	" ORDER BY start_ms DESC, id DESC"
static const char episodes_sql[] =
	EPISODE_COLS " INDEXED BY anomaly_episode_start WHERE" EPISODE_WHERE;
static const char episodes_device_sql[] =
	EPISODE_COLS " INDEXED BY anomaly_episode_device_start WHERE device = ?9 AND" EPISODE_WHERE;

const char *edge__anomaly_list_sql(bool episodes, bool device)
{
	if (episodes)
		return device ? episodes_device_sql : episodes_sql;
	return device ? list_device_sql : list_sql;
}

/* Reads the current row, emits it; returns emit's value. *ts, *id: its key. */
typedef int (*row_emit_fn)(sqlite3_stmt *st, void *fn, void *ud, int64_t *ts, int64_t *id);

static int emit_event(sqlite3_stmt *st, void *fn, void *ud, int64_t *ts, int64_t *id)
{
	struct edge_anomaly_row row;

	memset(&row, 0, sizeof row);
	row.id = sqlite3_column_int64(st, 0);
	col_text(st, 1, row.device, sizeof row.device);
	row.ev.epoch = (uint32_t)sqlite3_column_int64(st, 2);
	row.ev.seq = (uint32_t)sqlite3_column_int64(st, 3);
	row.ev.ts_ms = sqlite3_column_int64(st, 4);
	row.ev.received_ms = sqlite3_column_int64(st, 5);
	col_text(st, 6, row.ev.time_source, sizeof row.ev.time_source);
	col_text(st, 7, row.ev.model, sizeof row.ev.model);
	row.ev.score = sqlite3_column_double(st, 8);
	row.ev.threshold = sqlite3_column_double(st, 9);
	col_text(st, 10, row.ev.label, sizeof row.ev.label);
	row.ev.has_severity = sqlite3_column_type(st, 11) != SQLITE_NULL;
	row.ev.severity = (uint8_t)sqlite3_column_int(st, 11);
	row.ev.has_summary = edge__anomaly_summary_column(st, 12, row.ev.summary,
							  sizeof row.ev.summary);
	*ts = row.ev.ts_ms;
	*id = row.id;
	return ((edge_anomaly_row_fn)fn)(ud, &row);
}

static int emit_episode(sqlite3_stmt *st, void *fn, void *ud, int64_t *ts, int64_t *id)
{
	struct edge_anomaly_episode_row row;

	memset(&row, 0, sizeof row);
	row.ep.id = sqlite3_column_int64(st, 0);
	col_text(st, 1, row.device, sizeof row.device);
	col_text(st, 2, row.label, sizeof row.label);
	col_text(st, 3, row.ep.model, sizeof row.ep.model);
	col_text(st, 4, row.ep.state, sizeof row.ep.state);
	row.ep.start_ms = sqlite3_column_int64(st, 5);
	row.ep.end_ms = sqlite3_column_int64(st, 6);
	row.ep.count = (uint64_t)sqlite3_column_int64(st, 7);
	row.ep.peak_score = sqlite3_column_double(st, 8);
	row.ep.confirmed_ms = sqlite3_column_int64(st, 9);
	row.ep.closed_ms = sqlite3_column_int64(st, 10);
	*ts = row.ep.start_ms;
	*id = row.ep.id;
	return ((edge_anomaly_episode_fn)fn)(ud, &row);
}

/* One page of a list: the cursor advances past each row emit accepted (0). */
static int page(edge_anomaly_reader *r, const char *sql, const struct edge_anomaly_filter *f,
		struct edge_anomaly_cursor *cursor, unsigned limit, row_emit_fn conv, void *fn,
		void *ud, bool *more)
{
	unsigned n = 0;
	int64_t lo, hi;
	sqlite3_stmt *st;
	int rc, src;

	*more = false;
	rc = call_begin(r);
	if (rc < 0)
		return call_end(r, rc);
	rc = prepare(r, sql, &st);
	if (rc < 0)
		return call_end(r, rc);
	filter_range(f, &lo, &hi);
	if (cursor->valid && cursor->ts_ms < hi)
		hi = cursor->ts_ms;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	sqlite3_bind_int64(st, 3, cursor->valid ? cursor->ts_ms : INT64_MAX);
	sqlite3_bind_int64(st, 4, cursor->valid ? cursor->id : INT64_MAX);
	bind_opt_text(st, 5, f->label);
	bind_opt_text(st, 6, f->model);
	if (f->has_min_score)
		sqlite3_bind_double(st, 7, f->min_score);
	sqlite3_bind_int(st, 8, f->open_only);
	if (f->device)
		sqlite3_bind_text(st, 9, f->device, -1, SQLITE_STATIC);
	rc = 0;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t ts, id;

		if (n == limit) {
			*more = true;
			break;
		}
		rc = conv(st, fn, ud, &ts, &id);
		if (rc)
			break;
		*cursor = (struct edge_anomaly_cursor){ .valid = true, .ts_ms = ts, .id = id };
		n++;
	}
	if (rc == 0 && src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = map_rc(r, src);
		/* The look-ahead past a full page ran out: say there may be more. */
		if (rc == EDGE_ELIMIT && n == limit) {
			*more = true;
			rc = 0;
		} else if (rc == EDGE_ELIMIT) {
			*more = true;
		}
	}
	sqlite3_reset(st);
	return call_end(r, rc);
}

/* Times beyond +-2^62 ms (146 million years) are refused: widening a range
 * to whole days must not overflow. */
#define TIME_LIMIT (INT64_C(1) << 62)

static bool filter_ok(const struct edge_anomaly_filter *f)
{
	return f && (!f->has_min_score || isfinite(f->min_score)) &&
	       f->since_ms > -TIME_LIMIT && f->since_ms < TIME_LIMIT &&
	       f->until_ms > -TIME_LIMIT && f->until_ms < TIME_LIMIT &&
	       (!f->since_ms || !f->until_ms || f->since_ms <= f->until_ms);
}

int edge_anomaly_list(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
		      struct edge_anomaly_cursor *cursor, unsigned limit, edge_anomaly_row_fn emit,
		      void *ud, bool *more)
{
	if (!r || !filter_ok(f) || !cursor || limit < 1 || limit > 10000 || !emit || !more)
		return -EINVAL;
	return page(r, f->device ? list_device_sql : list_sql, f, cursor, limit, emit_event,
		    (void *)emit, ud, more);
}

int edge_anomaly_episodes(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
			  struct edge_anomaly_cursor *cursor, unsigned limit,
			  edge_anomaly_episode_fn emit, void *ud, bool *more)
{
	if (!r || !filter_ok(f) || !cursor || limit < 1 || limit > 10000 || !emit || !more)
		return -EINVAL;
	return page(r, f->device ? episodes_device_sql : episodes_sql, f, cursor, limit,
		    emit_episode, (void *)emit, ud, more);
}

/* ---- statistics ---- */

static const char *const by_names[] = {
	[EDGE_ANOMALY_BY_HOUR] = "hour",
	[EDGE_ANOMALY_BY_DAY] = "day",
	[EDGE_ANOMALY_BY_DEVICE] = "device",
	[EDGE_ANOMALY_BY_LABEL] = "label",
	[EDGE_ANOMALY_BY_MODEL] = "model",
};

const char *edge_anomaly_by_name(enum edge_anomaly_by by)
{
	return (unsigned)by < sizeof by_names / sizeof by_names[0] ? by_names[by] : "?";
}

int edge_anomaly_by_parse(const char *name, enum edge_anomaly_by *out)
{
	if (!name || !out)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof by_names / sizeof by_names[0]; i++)
		if (strcmp(name, by_names[i]) == 0) {
			*out = (enum edge_anomaly_by)i;
			return 0;
		}
	return -EINVAL;
}

/* Every statistics query yields (bucket, key, count, sum, min, max, sketch)
 * ordered by its group; ?1/?2 the widened range [lo, hi), ?3 label, ?4
 * model, ?5 device. The raw one yields (ts_ms, '', 1, score, score, score,
 * NULL). */
#define HOUR_FROM \
	" count, score_sum, score_min, score_max, sketch FROM anomaly_rollup_hour" \
	" WHERE hour_ms >= ?1 AND hour_ms < ?2 AND (?3 IS NULL OR label = ?3)" \
	" AND (?4 IS NULL OR model = ?4)"
static const char st_hour_time_sql[] = "SELECT hour_ms, ''," HOUR_FROM " ORDER BY hour_ms";
static const char st_hour_label_sql[] = "SELECT 0, label," HOUR_FROM " ORDER BY label";
static const char st_hour_model_sql[] = "SELECT 0, model," HOUR_FROM " ORDER BY model";

#define DAY_DEV_FROM \
	" count, score_sum, score_min, score_max, sketch FROM anomaly_rollup_day" \
	" WHERE device = ?5 AND day_ms >= ?1 AND day_ms < ?2 AND (?3 IS NULL OR label = ?3)" \
	" AND (?4 IS NULL OR model = ?4)"
static const char st_day_dev_time_sql[] = "SELECT day_ms, ''," DAY_DEV_FROM " ORDER BY day_ms";
static const char st_day_dev_label_sql[] = "SELECT 0, label," DAY_DEV_FROM " ORDER BY label";
static const char st_day_dev_model_sql[] = "SELECT 0, model," DAY_DEV_FROM " ORDER BY model";
static const char st_day_dev_device_sql[] = "SELECT 0, device," DAY_DEV_FROM;

#define DAY_FROM \
	" count, score_sum, score_min, score_max, sketch FROM anomaly_rollup_day" \
	" INDEXED BY anomaly_rollup_day_day WHERE day_ms >= ?1 AND day_ms < ?2" \
	" AND (?3 IS NULL OR label = ?3) AND (?4 IS NULL OR model = ?4)"
static const char st_day_device_sql[] = "SELECT 0, device," DAY_FROM " ORDER BY device";

static const char st_raw_sql[] =
	"SELECT ts_ms, '', 1, score, score, score, NULL FROM anomaly_event"
	" INDEXED BY anomaly_event_device_ts WHERE device = ?5 AND ts_ms >= ?1 AND ts_ms < ?2"
	" AND (?3 IS NULL OR label = ?3) AND (?4 IS NULL OR model = ?4) ORDER BY ts_ms";

struct acc {
	uint64_t count;
	double sum, min, max;
};

static void acc_add(struct acc *a, uint64_t count, double sum, double mn, double mx)
{
	if (count == 0)
		return;
	if (a->count == 0) {
		a->min = mn;
		a->max = mx;
	}
	a->min = mn < a->min ? mn : a->min;
	a->max = mx > a->max ? mx : a->max;
	a->sum += sum;
	a->count += count;
}

static double clamp(double v, const struct acc *a)
{
	return v < a->min ? a->min : v > a->max ? a->max : v;
}

static void acc_stat(const struct acc *a, const struct edge_score_sketch *sk,
		     struct edge_anomaly_stat *out)
{
	out->count = a->count;
	if (a->count == 0) {
		out->score_min = out->score_max = out->score_mean = 0;
		out->p50 = out->p90 = out->p99 = 0;
		return;
	}
	out->score_min = a->min;
	out->score_max = a->max;
	out->score_mean = a->sum / (double)a->count;
	out->p50 = clamp(edge_score_sketch_quantile(sk, 0.50), a);
	out->p90 = clamp(edge_score_sketch_quantile(sk, 0.90), a);
	out->p99 = clamp(edge_score_sketch_quantile(sk, 0.99), a);
}

struct stats_run {
	edge_anomaly_reader *r;
	bool by_time, raw;
	int64_t width;           /* time groups: bucket width */
	unsigned max_groups;
	edge_anomaly_stat_fn emit;
	void *ud;
	struct edge_anomaly_stats_info *info;
	/* the group being read */
	bool have;
	int64_t bucket;
	char key[EDGE_MSG_SHA256_HEX + 1];
	struct acc cur, total;
	int64_t last_bucket;     /* time groups: the last emitted */
	bool emitted_any;
	/* key groups, sorted at the end */
	struct edge_anomaly_stat *groups;
	size_t n_groups, cap_groups;
};

static int emit_stat(struct stats_run *s, const struct edge_anomaly_stat *st)
{
	if (s->info->groups >= s->max_groups)
		return 0;
	s->info->groups++;
	return s->emit(s->ud, st);
}

/* Ends the current group: time groups are emitted (after the empty buckets
 * before them), key groups kept for sorting. */
static int close_group(struct stats_run *s)
{
	struct edge_anomaly_stat st;
	int rc;

	if (!s->have)
		return 0;
	s->have = false;
	memset(&st, 0, sizeof st);
	acc_stat(&s->cur, &s->r->group_sk, &st);
	/* The total's sketch: one merge per group, not per row. */
	rc = edge_score_sketch_merge(&s->r->total_sk, &s->r->group_sk);
	if (rc < 0)
		return rc;
	if (s->by_time) {
		if (s->emitted_any) {
			for (int64_t b = s->last_bucket + s->width;
			     b < s->bucket && s->info->groups < s->max_groups; b += s->width) {
				struct edge_anomaly_stat empty = { .bucket_ms = b };

				rc = emit_stat(s, &empty);
				if (rc)
					return rc;
			}
		}
		st.bucket_ms = s->bucket;
		s->last_bucket = s->bucket;
		s->emitted_any = true;
		return emit_stat(s, &st);
	}
	snprintf(st.key, sizeof st.key, "%s", s->key);
	if (s->n_groups == s->cap_groups) {
		size_t cap = s->cap_groups ? s->cap_groups * 2 : 64;
		struct edge_anomaly_stat *g = realloc(s->groups, cap * sizeof *g);

		if (!g)
			return -ENOMEM;
		s->groups = g;
		s->cap_groups = cap;
	}
	s->groups[s->n_groups++] = st;
	return 0;
}

static int stats_row(struct stats_run *s, sqlite3_stmt *st)
{
	struct edge_score_sketch *gsk = &s->r->group_sk;
	int64_t bucket = 0;
	const char *key = "";
	uint64_t count = (uint64_t)sqlite3_column_int64(st, 2);
	double sum = sqlite3_column_double(st, 3);
	double mn = sqlite3_column_double(st, 4), mx = sqlite3_column_double(st, 5);
	int rc;

	if (s->by_time) {
		bucket = edge__bucket(sqlite3_column_int64(st, 0), s->width);
	} else {
		const unsigned char *k = sqlite3_column_text(st, 1);

		key = k ? (const char *)k : "";
	}
	if (s->have && (s->by_time ? bucket != s->bucket : strcmp(key, s->key) != 0)) {
		rc = close_group(s);
		if (rc)
			return rc;
	}
	if (!s->have) {
		s->have = true;
		s->bucket = bucket;
		snprintf(s->key, sizeof s->key, "%s", key);
		s->cur = (struct acc){ 0 };
		edge_score_sketch_reset(gsk);
	}
	acc_add(&s->cur, count, sum, mn, mx);
	acc_add(&s->total, count, sum, mn, mx);
	/* A value a sketch refuses (not finite) or a damaged stored sketch
	 * leaves the percentiles without it; counts, sums, min and max stay
	 * exact. */
	if (s->raw)
		rc = edge_score_sketch_add(gsk, sum, 1);
	else
		rc = edge_score_sketch_merge_blob(gsk, sqlite3_column_blob(st, 6),
						  (size_t)sqlite3_column_bytes(st, 6));
	(void)rc;
	return 0;
}

static int cmp_group(const void *pa, const void *pb)
{
	const struct edge_anomaly_stat *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->key, b->key);
}

int edge_anomaly_stats(edge_anomaly_reader *r, const struct edge_anomaly_filter *f,
		       enum edge_anomaly_by by, unsigned max_groups, edge_anomaly_stat_fn emit,
		       void *ud, struct edge_anomaly_stats_info *info)
{
	struct stats_run s;
	const char *sql;
	int64_t lo, hi, w;
	sqlite3_stmt *st;
	int rc, src;

	if (!r || !filter_ok(f) || f->has_min_score || !emit || !info ||
	    (unsigned)by > EDGE_ANOMALY_BY_MODEL)
		return -EINVAL;
	memset(&s, 0, sizeof s);
	memset(info, 0, sizeof *info);
	s.r = r;
	s.by_time = by == EDGE_ANOMALY_BY_HOUR || by == EDGE_ANOMALY_BY_DAY;
	s.max_groups = max_groups;
	s.emit = emit;
	s.ud = ud;
	s.info = info;
	if (by == EDGE_ANOMALY_BY_HOUR && f->device) {
		info->source = "raw";
		sql = st_raw_sql;
		s.raw = true;
		w = EDGE__HOUR_MS;
	} else if (!f->device && by != EDGE_ANOMALY_BY_DEVICE) {
		info->source = "rollup_hour";
		sql = by == EDGE_ANOMALY_BY_LABEL ? st_hour_label_sql :
		      by == EDGE_ANOMALY_BY_MODEL ? st_hour_model_sql : st_hour_time_sql;
		w = by == EDGE_ANOMALY_BY_DAY ? EDGE__DAY_MS : EDGE__HOUR_MS;
	} else {
		info->source = "rollup_day";
		w = EDGE__DAY_MS;
		if (!f->device)
			sql = st_day_device_sql;
		else
			sql = by == EDGE_ANOMALY_BY_LABEL  ? st_day_dev_label_sql :
			      by == EDGE_ANOMALY_BY_MODEL  ? st_day_dev_model_sql :
			      by == EDGE_ANOMALY_BY_DEVICE ? st_day_dev_device_sql :
							     st_day_dev_time_sql;
	}
	s.width = by == EDGE_ANOMALY_BY_DAY ? EDGE__DAY_MS : EDGE__HOUR_MS;
	/* Whole buckets of the table read (and of the groups, by day). */
	lo = f->since_ms ? edge__bucket(f->since_ms, w) : INT64_MIN;
	hi = f->until_ms ? edge__bucket(f->until_ms - 1, w) + w : INT64_MAX;
	info->since_ms = f->since_ms ? lo : 0;
	info->until_ms = f->until_ms ? hi : 0;
	edge_score_sketch_reset(&r->total_sk);

	rc = call_begin(r);
	if (rc < 0)
		return call_end(r, rc);
	rc = prepare(r, sql, &st);
	if (rc < 0)
		return call_end(r, rc);
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	bind_opt_text(st, 3, f->label);
	bind_opt_text(st, 4, f->model);
	bind_opt_text(st, 5, f->device);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rc = stats_row(&s, st);
		if (rc)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE && src != SQLITE_ROW)
		rc = map_rc(r, src);
	sqlite3_reset(st);
	if (rc == 0)
		rc = close_group(&s);
	if (rc == 0 && !s.by_time) {
		qsort(s.groups, s.n_groups, sizeof s.groups[0], cmp_group);
		for (size_t i = 0; i < s.n_groups && rc == 0; i++)
			rc = emit_stat(&s, &s.groups[i]);
	}
	if (rc == 0) {
		acc_stat(&s.total, &r->total_sk, &info->total);
		info->total.key[0] = '\0';
	}
	free(s.groups);
	return call_end(r, rc);
}

/* ---- one device ---- */

static const char sum_stream_sql[] =
	"SELECT coalesce(sum(events), 0), coalesce(sum(gaps), 0) FROM anomaly_stream"
	" WHERE device = ?1";
static const char count_24h_sql[] =
	"SELECT count(*) FROM anomaly_event INDEXED BY anomaly_event_device_ts"
	" WHERE device = ?1 AND ts_ms >= ?2 AND ts_ms <= ?3";
static const char last_event_sql[] =
	"SELECT ts_ms, label, score FROM anomaly_event INDEXED BY anomaly_event_device_ts"
	" WHERE device = ?1 ORDER BY ts_ms DESC, id DESC LIMIT 1";
static const char episode_counts_sql[] =
	"SELECT count(*), coalesce(sum(state <> 'closed'), 0),"
	" coalesce(sum(state = 'confirmed'), 0) FROM anomaly_episode"
	" INDEXED BY anomaly_episode_device_start WHERE device = ?1";

/* Runs a one-row query bound to (device, a, b); *row set when it had one. */
static int one_row(edge_anomaly_reader *r, const char *sql, const char *device, int64_t a,
		   int64_t b, sqlite3_stmt **out)
{
	sqlite3_stmt *st;
	int rc = prepare(r, sql, &st);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 3) {
		sqlite3_bind_int64(st, 2, a);
		sqlite3_bind_int64(st, 3, b);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = st;
		return 1;
	}
	sqlite3_reset(st);
	*out = NULL;
	return rc == SQLITE_DONE ? 0 : map_rc(r, rc);
}

int edge_anomaly_device_summary(edge_anomaly_reader *r, const char *device, int64_t now_ms,
				struct edge_anomaly_device_summary *out)
{
	struct edge_anomaly_device_summary d;
	sqlite3_stmt *st;
	int rc;

	if (!r || !device || !*device || !out)
		return -EINVAL;
	memset(&d, 0, sizeof d);
	rc = call_begin(r);
	if (rc < 0)
		return call_end(r, rc);
	rc = one_row(r, sum_stream_sql, device, 0, 0, &st);
	if (rc > 0) {
		d.events = (uint64_t)sqlite3_column_int64(st, 0);
		d.gaps = (uint64_t)sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		rc = 0;
	}
	if (rc == 0) {
		rc = one_row(r, count_24h_sql, device, now_ms - EDGE__DAY_MS, now_ms, &st);
		if (rc > 0) {
			d.events_24h = (uint64_t)sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
			rc = 0;
		}
	}
	if (rc == 0) {
		rc = one_row(r, last_event_sql, device, 0, 0, &st);
		if (rc > 0) {
			d.last_ts_ms = sqlite3_column_int64(st, 0);
			col_text(st, 1, d.last_label, sizeof d.last_label);
			d.last_score = sqlite3_column_double(st, 2);
			sqlite3_reset(st);
			rc = 0;
		}
	}
	if (rc == 0) {
		rc = one_row(r, episode_counts_sql, device, 0, 0, &st);
		if (rc > 0) {
			d.episodes = (uint64_t)sqlite3_column_int64(st, 0);
			d.episodes_open = (uint32_t)sqlite3_column_int64(st, 1);
			d.episodes_confirmed = (uint32_t)sqlite3_column_int64(st, 2);
			sqlite3_reset(st);
			rc = 0;
		}
	}
	rc = call_end(r, rc);
	if (rc == 0)
		*out = d;
	return rc;
}

/* ---- a window of one device (rollout health) ---- */

/* ?4 NULL: any model; else (model = ?4) must equal ?5 (1: the model, 0:
 * any other). Both walk the device's range of its time index; the model
 * is a residual filter, so the cost is the device's rows in the window. */
static const char window_events_sql[] =
	"SELECT score FROM anomaly_event INDEXED BY anomaly_event_device_ts"
	" WHERE device = ?1 AND ts_ms >= ?2 AND ts_ms < ?3"
	" AND (?4 IS NULL OR (model = ?4) = ?5)";
static const char window_episodes_sql[] =
	"SELECT count(*) FROM anomaly_episode INDEXED BY anomaly_episode_device_start"
	" WHERE device = ?1 AND start_ms >= ?2 AND start_ms < ?3"
	" AND (?4 IS NULL OR (model = ?4) = ?5)";

void edge_anomaly_window_init(struct edge_anomaly_window *w)
{
	if (!w)
		return;
	w->events = 0;
	w->episodes = 0;
	edge_score_sketch_init(&w->scores);
}

static void window_bind(sqlite3_stmt *st, const char *device, int64_t since_ms,
			int64_t until_ms, const char *model, bool model_equal)
{
	sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_ms);
	sqlite3_bind_int64(st, 3, until_ms);
	bind_opt_text(st, 4, model);
	sqlite3_bind_int(st, 5, model_equal);
}

/* The events' count and scores into *w. */
static int window_events(edge_anomaly_reader *r, const char *device, int64_t since_ms,
			 int64_t until_ms, const char *model, bool model_equal,
			 struct edge_anomaly_window *w)
{
	sqlite3_stmt *st;
	int rc = prepare(r, window_events_sql, &st);
	int src;

	if (rc < 0)
		return rc;
	window_bind(st, device, since_ms, until_ms, model, model_equal);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		double score = sqlite3_column_double(st, 0);

		/* The ingest stores finite scores only; a bulk-loaded infinity
		 * still counts, at the sketch's top bin, so the KS test's n
		 * matches the event count. (NaN cannot be stored: SQLite makes
		 * it NULL, which score's NOT NULL refuses.) */
		if (isinf(score))
			score = score > 0 ? DBL_MAX : -DBL_MAX;
		if (w->events == UINT64_MAX || edge_score_sketch_add(&w->scores, score, 1) < 0) {
			rc = -EOVERFLOW;
			break;
		}
		w->events++;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = map_rc(r, src);
	sqlite3_reset(st);
	return rc;
}

static int window_episodes(edge_anomaly_reader *r, const char *device, int64_t since_ms,
			   int64_t until_ms, const char *model, bool model_equal,
			   struct edge_anomaly_window *w)
{
	sqlite3_stmt *st;
	int rc = prepare(r, window_episodes_sql, &st);
	int src;

	if (rc < 0)
		return rc;
	window_bind(st, device, since_ms, until_ms, model, model_equal);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 0);

		assert(n >= 0);
		if ((uint64_t)n > UINT64_MAX - w->episodes)
			rc = -EOVERFLOW;
		else
			w->episodes += (uint64_t)n;
	} else {
		/* count(*) always yields a row: anything else is an error. */
		rc = src == SQLITE_DONE ? EDGE_ESTORE : map_rc(r, src);
	}
	sqlite3_reset(st);
	return rc;
}

int edge_anomaly_window_add(edge_anomaly_reader *r, const char *device, int64_t since_ms,
			    int64_t until_ms, const char *model, bool model_equal,
			    struct edge_anomaly_window *w)
{
	int rc;

	if (!r || !device || !*device || (model && !*model) || since_ms >= until_ms || !w)
		return -EINVAL;
	rc = call_begin(r);
	if (rc == 0)
		rc = window_events(r, device, since_ms, until_ms, model, model_equal, w);
	if (rc == 0)
		rc = window_episodes(r, device, since_ms, until_ms, model, model_equal, w);
	return call_end(r, rc);
}
