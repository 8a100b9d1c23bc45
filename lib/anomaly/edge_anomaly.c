/* The anomaly ingest: a report's events into anomaly_event, once each, and
 * the ack from what is committed (edge_anomaly.h has the rule).
 *
 * What is acked when, and the traps:
 * - The ack is computed inside the same store op (the same SAVEPOINT of the
 *   batch transaction) that inserts the events, and handed to the loop only
 *   after the batch committed: an ack never names an event that a crash
 *   could still take back (synchronous=FULL).
 * - Duplicates: ON CONFLICT (device, epoch, seq) DO NOTHING, so only the
 *   unique key is ignored; any other constraint (NOT NULL, CHECK) fails the
 *   op instead of passing for a duplicate, as INSERT OR IGNORE would let it.
 * - acked never has to wait for a seq the node gave up: it moves at least to
 *   the highest oldest − 1, and the seqs it moves past unstored are the
 *   node's gaps, counted once at that moment (a stored acked never moves
 *   back, so they are never counted again).
 * - No scan: the walk reads the unique index (device, epoch, seq) from the
 *   stored acked upwards and stops at the first hole past the sack's 64
 *   seqs; every row it reads is one acked moves past or a sack bit.
 * - 32-bit seqs: acked + 1 + i is computed in 64 bits; a seq never exceeds
 *   UINT32_MAX, so neither do acked nor a sack bit's seq. */
#include "edge_anomaly.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_anomaly_internal.h"

static const char insert_sql[] =
	"INSERT INTO anomaly_event (device, epoch, seq, ts_ms, received_ms, time_source,"
	" model, score, threshold, label, severity, summary)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	" ON CONFLICT (device, epoch, seq) DO NOTHING";

static const char stream_get_sql[] =
	"SELECT acked, oldest, gaps, events, updated_ms FROM anomaly_stream"
	" WHERE device = ?1 AND epoch = ?2";

static const char stream_put_sql[] =
	"INSERT INTO anomaly_stream (device, epoch, acked, oldest, gaps, events, updated_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	" ON CONFLICT (device, epoch) DO UPDATE SET acked = excluded.acked,"
	" oldest = excluded.oldest, gaps = excluded.gaps, events = excluded.events,"
	" updated_ms = excluded.updated_ms";

/* The unique index, from the stored acked upwards. */
static const char walk_sql[] =
	"SELECT seq FROM anomaly_event WHERE device = ?1 AND epoch = ?2 AND seq > ?3"
	" ORDER BY seq";

static const char count_device_sql[] =
	"SELECT count(*) FROM anomaly_event WHERE device = ?1";
static const char count_all_sql[] =
	"SELECT count(*) FROM anomaly_event";

static const char event_get_sql[] =
	"SELECT ts_ms, received_ms, time_source, model, score, threshold, label, severity,"
	" summary, id FROM anomaly_event WHERE device = ?1 AND epoch = ?2 AND seq = ?3";

static const char ep_current_sql[] =
	"SELECT id, model, start_ms, end_ms, count, peak_score, state FROM anomaly_episode"
	" WHERE device = ?1 AND label = ?2 AND state <> 'closed'";
static const char ep_close_sql[] =
	"UPDATE anomaly_episode SET state = 'closed', closed_ms = ?2 WHERE id = ?1";
static const char ep_open_sql[] =
	"INSERT INTO anomaly_episode (device, label, model, state, start_ms, end_ms, count,"
	" peak_score, confirmed_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char ep_extend_sql[] =
	"UPDATE anomaly_episode SET count = ?2, start_ms = ?3, end_ms = ?4, peak_score = ?5,"
	" state = ?6, confirmed_ms = coalesce(confirmed_ms, ?9) WHERE id = ?1";
/* The partial index anomaly_episode_current_end: same WHERE as its own. */
static const char ep_sweep_sql[] =
	"UPDATE anomaly_episode SET state = 'closed', closed_ms = ?1"
	" WHERE state <> 'closed' AND end_ms < ?2";
static const char ep_last_sql[] =
	"SELECT id, state, model, start_ms, end_ms, count, peak_score, confirmed_ms, closed_ms"
	" FROM anomaly_episode WHERE device = ?1 AND label = ?2 ORDER BY id DESC LIMIT 1";
static const char ep_count_device_sql[] =
	"SELECT count(*) FROM anomaly_episode WHERE device = ?1";
static const char ep_count_all_sql[] =
	"SELECT count(*) FROM anomaly_episode";

/* What anomaly_stream holds for one (device, epoch); zero row when absent. */
struct stream_row {
	bool found;
	int64_t acked, oldest, gaps, events, updated_ms;
};

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Copies column i into buf[cap] (truncating; NULL reads as ""). */
static void column_text(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(buf, cap, "%s", s ? (const char *)s : "");
}

static int stream_get(edge_store_conn *conn, const char *device, uint32_t epoch,
		      struct stream_row *row)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, stream_get_sql, &st);

	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	sqlite3_bind_int64(st, 2, epoch);
	*row = (struct stream_row){ 0 };
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->found = true;
		row->acked = sqlite3_column_int64(st, 0);
		row->oldest = sqlite3_column_int64(st, 1);
		row->gaps = sqlite3_column_int64(st, 2);
		row->events = sqlite3_column_int64(st, 3);
		row->updated_ms = sqlite3_column_int64(st, 4);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
}

static int stream_put(edge_store_conn *conn, const char *device, uint32_t epoch,
		      const struct stream_row *row)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, stream_put_sql, &st);

	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int64(st, 3, row->acked);
	sqlite3_bind_int64(st, 4, row->oldest);
	sqlite3_bind_int64(st, 5, row->gaps);
	sqlite3_bind_int64(st, 6, row->events);
	sqlite3_bind_int64(st, 7, row->updated_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
}

/* The ack from the index: acked moves from `acked` to at least oldest − 1,
 * then over every stored seq that follows it; the next 64 seqs give the
 * sack. *new_gaps: seqs acked moved past below oldest that are not stored. */
static int walk(edge_store_conn *conn, const char *device, uint32_t epoch, int64_t acked,
		int64_t oldest, struct edge_msg_ack *ack, uint32_t *new_gaps)
{
	const int64_t from = acked, target = oldest - 1;
	int64_t below = 0; /* stored seqs in (from, target] */
	bool covered = acked >= target;
	uint64_t sack = 0;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, walk_sql, &st);

	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int64(st, 3, acked);
	*new_gaps = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);

		assert(seq > acked);
		if (!covered) {
			if (seq <= target) {
				below++;
				continue;
			}
			*new_gaps = (uint32_t)(target - from - below);
			acked = target;
			covered = true;
		}
		if (seq == acked + 1) {
			acked = seq;
			continue;
		}
		if (seq - acked - 1 >= 64)
			break;
		sack |= UINT64_C(1) << (seq - acked - 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc);
	if (!covered) {
		*new_gaps = (uint32_t)(target - from - below);
		acked = target;
	}
	assert(acked >= 0 && acked <= UINT32_MAX);
	*ack = (struct edge_msg_ack){ .epoch = epoch, .acked = (uint32_t)acked, .sack = sack };
	return 0;
}

/* Where the gateway places an event in time (edge_anomaly.h). Returns the
 * time_source; *implausible when an own ts_ms fell outside the window. */
static const char *place_time(const struct edge_report_event *ev, int64_t received_ms,
			      int64_t *ts_ms, bool *implausible)
{
	*implausible = false;
	if (!ev->has_ts) {
		*ts_ms = received_ms - (int64_t)ev->age_ms;
		return "age";
	}
	/* ts_ms <= 2^53 - 1 (parser rule): fits int64. */
	if ((int64_t)ev->ts_ms >= received_ms - EDGE_ANOMALY_TS_PAST_MS &&
	    (int64_t)ev->ts_ms <= received_ms + EDGE_ANOMALY_TS_FUTURE_MS) {
		*ts_ms = (int64_t)ev->ts_ms;
		return "clock";
	}
	*ts_ms = received_ms;
	*implausible = true;
	return "received";
}

/* The summary as a JSON array, each value with the fewest digits (of %g's
 * forms) that read back as the same float. C locale (edged never sets
 * another), so the decimal point is '.'. Found by bisection: if p digits
 * read back, so do p + 1 (the nearest (p+1)-digit decimal is no farther than
 * the p-digit one), and 9 always do for a float. */
void edge__anomaly_summary_format(const float *v, unsigned n, char *buf, size_t cap)
{
	size_t used = 0;

	assert(cap >= 3 + (size_t)n * 16);
	buf[used++] = '[';
	for (unsigned i = 0; i < n; i++) {
		char num[32];
		int lo = 1, hi = 9;

		while (lo < hi) {
			int mid = (lo + hi) / 2;

			snprintf(num, sizeof num, "%.*g", mid, (double)v[i]);
			if (strtof(num, NULL) == v[i])
				hi = mid;
			else
				lo = mid + 1;
		}
		snprintf(num, sizeof num, "%.*g", lo, (double)v[i]);
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "," : "", num);
		assert(used < cap);
	}
	snprintf(buf + used, cap - used, "]");
}

/* The stored form since schema 6: n little-endian IEEE 754 binary32
 * values, 4 n bytes (no text formatting on the writer; a third of the
 * bytes). */
static void summary_encode(const struct edge_report_event *ev,
			   uint8_t out[EDGE_REPORT_SUMMARY_MAX * 4])
{
	for (unsigned i = 0; i < ev->n_summary; i++) {
		uint32_t bits;

		memcpy(&bits, &ev->summary[i], sizeof bits);
		for (unsigned b = 0; b < 4; b++)
			out[i * 4 + b] = (uint8_t)(bits >> (8 * b));
	}
}

bool edge__anomaly_summary_column(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
	float v[EDGE_REPORT_SUMMARY_MAX];
	const uint8_t *blob;
	int type = sqlite3_column_type(st, col);
	size_t n;

	buf[0] = '\0';
	if (type == SQLITE_TEXT) { /* schema 4 and 5 stored the JSON text */
		const unsigned char *t = sqlite3_column_text(st, col);

		snprintf(buf, cap, "%s", t ? (const char *)t : "");
		return t != NULL;
	}
	if (type != SQLITE_BLOB)
		return false;
	n = (size_t)sqlite3_column_bytes(st, col);
	blob = sqlite3_column_blob(st, col);
	/* Not a summary this build wrote: shown as none, never trusted. */
	if (!blob || n == 0 || n % 4 || n / 4 > EDGE_REPORT_SUMMARY_MAX)
		return false;
	for (size_t i = 0; i < n / 4; i++) {
		uint32_t bits = (uint32_t)blob[i * 4] | (uint32_t)blob[i * 4 + 1] << 8 |
				(uint32_t)blob[i * 4 + 2] << 16 | (uint32_t)blob[i * 4 + 3] << 24;

		memcpy(&v[i], &bits, sizeof bits);
	}
	edge__anomaly_summary_format(v, (unsigned)(n / 4), buf, cap);
	return true;
}

/* Inserts one event: *inserted tells a new row from a duplicate. */
static int insert_event(edge_store_conn *conn, const char *device, uint32_t epoch,
			const struct edge_report_event *ev, int64_t received_ms,
			bool *inserted, bool *implausible, int64_t *ts_out,
			char model[EDGE_MSG_SHA256_HEX + 1])
{
	uint8_t summary[EDGE_REPORT_SUMMARY_MAX * 4];
	const char *source;
	int64_t ts_ms;
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, insert_sql, &st);

	if (rc < 0)
		return rc;
	source = place_time(ev, received_ms, &ts_ms, implausible);
	if (ev->has_sha256)
		snprintf(model, EDGE_MSG_SHA256_HEX + 1, "%s", ev->model_sha256);
	else
		snprintf(model, EDGE_MSG_SHA256_HEX + 1, "%s@%s", ev->model_name,
			 ev->model_version);
	*ts_out = ts_ms;
	bind_text(st, 1, device);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int64(st, 3, ev->seq);
	sqlite3_bind_int64(st, 4, ts_ms);
	sqlite3_bind_int64(st, 5, received_ms);
	bind_text(st, 6, source);
	bind_text(st, 7, model);
	sqlite3_bind_double(st, 8, ev->score);
	sqlite3_bind_double(st, 9, ev->threshold);
	bind_text(st, 10, ev->label);
	if (ev->has_severity)
		sqlite3_bind_int(st, 11, ev->severity);
	/* An empty summary is no summary: the struct does not tell them apart. */
	if (ev->n_summary) {
		summary_encode(ev, summary);
		sqlite3_bind_blob(st, 12, summary, (int)ev->n_summary * 4, SQLITE_STATIC);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc);
	*inserted = sqlite3_changes(edge_store_conn_db(conn)) == 1;
	return 0;
}

/* The current episode of one (device, label) while a report is ingested:
 * read once, changed in memory by each new event of that label, written
 * once at the end (and when it closes), so a report costs one read and one
 * write per label, not per event. id 0: opened by this report, not yet
 * inserted. */
struct episode_cur {
	const char *label;           /* borrowed from the report */
	bool found;                  /* an episode not closed exists (in memory) */
	bool dirty;                  /* changed since read or written */
	int64_t id;
	char model[EDGE_MSG_SHA256_HEX + 1];
	int64_t start, end, count;
	double peak;
	bool confirmed;
};

static int episode_load(edge_store_conn *conn, const char *device, const char *label,
			struct episode_cur *c)
{
	char state[12];
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, ep_current_sql, &st);

	if (rc < 0)
		return rc;
	*c = (struct episode_cur){ .label = label };
	bind_text(st, 1, device);
	bind_text(st, 2, label);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->found = true;
		c->id = sqlite3_column_int64(st, 0);
		column_text(st, 1, c->model, sizeof c->model);
		c->start = sqlite3_column_int64(st, 2);
		c->end = sqlite3_column_int64(st, 3);
		c->count = sqlite3_column_int64(st, 4);
		c->peak = sqlite3_column_double(st, 5);
		column_text(st, 6, state, sizeof state);
		c->confirmed = strcmp(state, "confirmed") == 0;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : edge_store_conn_error(conn, rc);
}

/* Writes what changed: inserts an episode this report opened, else updates. */
static int episode_flush(edge_store_conn *conn, const char *device, struct episode_cur *c,
			 int64_t received_ms)
{
	const char *state = c->confirmed ? "confirmed" : "open";
	sqlite3_stmt *st;
	int rc;

	if (!c->found || !c->dirty)
		return 0;
	if (c->id == 0) {
		rc = edge_store_conn_prepare(conn, ep_open_sql, &st);
		if (rc < 0)
			return rc;
		bind_text(st, 1, device);
		bind_text(st, 2, c->label);
		bind_text(st, 3, c->model);
		bind_text(st, 4, state);
		sqlite3_bind_int64(st, 5, c->start);
		sqlite3_bind_int64(st, 6, c->end);
		sqlite3_bind_int64(st, 7, c->count);
		sqlite3_bind_double(st, 8, c->peak);
	} else {
		rc = edge_store_conn_prepare(conn, ep_extend_sql, &st);
		if (rc < 0)
			return rc;
		sqlite3_bind_int64(st, 1, c->id);
		sqlite3_bind_int64(st, 2, c->count);
		sqlite3_bind_int64(st, 3, c->start);
		sqlite3_bind_int64(st, 4, c->end);
		sqlite3_bind_double(st, 5, c->peak);
		bind_text(st, 6, state);
	}
	if (c->confirmed)
		sqlite3_bind_int64(st, 9, received_ms);
	rc = edge_store_conn_step(conn, st);
	if (rc < 0)
		return rc;
	if (c->id == 0)
		c->id = sqlite3_last_insert_rowid(edge_store_conn_db(conn));
	c->dirty = false;
	return 0;
}

/* A newly stored event joins the current episode of its label (edge_anomaly.h
 * has the rule). */
static int episode_add(edge_store_conn *conn, const char *device, struct episode_cur *c,
		       const struct edge_report_event *ev, const char *model, int64_t ts_ms,
		       int64_t received_ms, const struct edge_anomaly_episode_settings *ep,
		       struct edge_anomaly_result *res)
{
	int rc;

	if (c->found) {
		bool same_model = strcmp(c->model, model) == 0;

		/* Older than the current episode: it belonged to a past one,
		 * which may be closed already; reopening it would reorder
		 * history, so the event stays out of episodes. */
		if (ts_ms < c->start - ep->quiet_ms || (!same_model && ts_ms < c->start)) {
			res->episode_late++;
			return 0;
		}
		if (!same_model || ts_ms > c->end + ep->quiet_ms) {
			sqlite3_stmt *st;

			rc = episode_flush(conn, device, c, received_ms);
			if (rc == 0)
				rc = edge_store_conn_prepare(conn, ep_close_sql, &st);
			if (rc < 0)
				return rc;
			sqlite3_bind_int64(st, 1, c->id);
			sqlite3_bind_int64(st, 2, received_ms);
			rc = edge_store_conn_step(conn, st);
			if (rc < 0)
				return rc;
			res->episodes_closed++;
			c->found = false;
		}
	}
	c->dirty = true;
	if (!c->found) {
		c->found = true;
		c->id = 0;
		snprintf(c->model, sizeof c->model, "%s", model);
		c->start = c->end = ts_ms;
		c->count = 1;
		c->peak = ev->score;
		c->confirmed = ep->min_events <= 1;
		res->episodes_opened++;
		res->episodes_confirmed += c->confirmed;
		return 0;
	}
	c->count++;
	if (!c->confirmed && c->count >= ep->min_events) {
		c->confirmed = true;
		res->episodes_confirmed++;
	}
	c->start = ts_ms < c->start ? ts_ms : c->start;
	c->end = ts_ms > c->end ? ts_ms : c->end;
	c->peak = ev->score > c->peak ? ev->score : c->peak;
	return 0;
}

/* The report's episode state of label: found among the first *n, else read
 * into the next slot. */
static int episode_cur_get(edge_store_conn *conn, const char *device, const char *label,
			   struct episode_cur *curs, unsigned *n, struct episode_cur **out)
{
	int rc;

	for (unsigned i = 0; i < *n; i++)
		if (strcmp(curs[i].label, label) == 0) {
			*out = &curs[i];
			return 0;
		}
	assert(*n < EDGE_REPORT_MAX_EVENTS);
	rc = episode_load(conn, device, label, &curs[*n]);
	if (rc < 0)
		return rc;
	*out = &curs[(*n)++];
	return 0;
}

static bool report_ok(const struct edge_msg_report *r)
{
	if (r->n_events < 1 || r->n_events > EDGE_REPORT_MAX_EVENTS)
		return false;
	if (r->oldest < 1 || r->oldest > r->events[0].seq)
		return false;
	for (unsigned i = 0; i < r->n_events; i++)
		if (r->events[i].seq == 0 || (i && r->events[i].seq <= r->events[i - 1].seq))
			return false;
	return true;
}

int edge_anomaly_ingest(edge_store_conn *conn, const char *device,
			const struct edge_msg_report *report, int64_t received_ms,
			const struct edge_anomaly_episode_settings *ep,
			struct edge_anomaly_result *out)
{
	static const struct edge_anomaly_episode_settings ep_default = {
		.min_events = EDGE_ANOMALY_EPISODE_MIN_EVENTS,
		.quiet_ms = EDGE_ANOMALY_EPISODE_QUIET_MS,
	};
	struct edge_anomaly_result res = { 0 };
	struct edge__rollup_item items[EDGE_REPORT_MAX_EVENTS];
	char models[EDGE_REPORT_MAX_EVENTS][EDGE_MSG_SHA256_HEX + 1];
	struct episode_cur curs[EDGE_REPORT_MAX_EVENTS], *cur;
	unsigned n_curs = 0;
	struct stream_row row;
	int64_t oldest, mark = 0, max_id = 0;
	size_t n_items = 0;
	bool roll;
	int rc;

	if (!ep)
		ep = &ep_default;
	if (!conn || !device || !*device || !report || !out || !report_ok(report) ||
	    ep->min_events < 1 || ep->quiet_ms < 0)
		return -EINVAL;
	rc = stream_get(conn, device, report->epoch, &row);
	if (rc < 0)
		return rc;
	/* Roll up here only when no catch-up is pending (edge_anomaly_rollup.c). */
	rc = edge__rollup_mark_get(conn, &mark, &max_id);
	if (rc < 0)
		return rc;
	roll = mark >= max_id;
	for (unsigned i = 0; i < report->n_events; i++) {
		const struct edge_report_event *ev = &report->events[i];
		char *model = models[n_items];
		bool inserted = false, implausible = false;
		int64_t ts_ms = 0;

		rc = insert_event(conn, device, report->epoch, ev, received_ms, &inserted,
				  &implausible, &ts_ms, model);
		if (rc < 0)
			return rc;
		if (!inserted) {
			res.duplicates++;
			continue;
		}
		res.stored++;
		res.stored_mask |= UINT32_C(1) << i;
		if (implausible)
			res.implausible_time++;
		items[n_items++] = (struct edge__rollup_item){
			.ts_ms = ts_ms, .score = ev->score, .device = device,
			.label = ev->label, .model = model,
		};
		rc = episode_cur_get(conn, device, ev->label, curs, &n_curs, &cur);
		if (rc == 0)
			rc = episode_add(conn, device, cur, ev, model, ts_ms, received_ms, ep, &res);
		if (rc < 0)
			return rc;
		/* A seq at or below acked that was not stored was counted as a
		 * gap: a node that sends it after all is out of line, but the
		 * event is real, so it is kept and no longer a gap. */
		if (ev->seq <= row.acked && row.gaps > 0)
			row.gaps--;
	}
	for (unsigned i = 0; i < n_curs; i++) {
		rc = episode_flush(conn, device, &curs[i], received_ms);
		if (rc < 0)
			return rc;
	}
	if (roll && n_items) {
		rc = edge__rollup_apply(conn, items, n_items);
		/* Nothing was pending and these are rolled up: all are. */
		if (rc == 0 && mark != EDGE__ROLLUP_COMPLETE)
			rc = edge__rollup_mark_set(conn, EDGE__ROLLUP_COMPLETE);
		if (rc < 0)
			return rc;
	}
	oldest = row.found && row.oldest > report->oldest ? row.oldest : report->oldest;
	rc = walk(conn, device, report->epoch, row.acked, oldest, &res.ack, &res.new_gaps);
	if (rc < 0)
		return rc;
	row.acked = res.ack.acked;
	row.oldest = oldest;
	row.gaps += res.new_gaps;
	row.events += res.stored;
	row.updated_ms = received_ms;
	rc = stream_put(conn, device, report->epoch, &row);
	if (rc < 0)
		return rc;
	*out = res;
	return 0;
}

int edge_anomaly_stream_get(edge_store_conn *conn, const char *device, uint32_t epoch,
			    struct edge_anomaly_stream *out)
{
	struct stream_row row;
	int rc;

	if (!conn || !device || !out)
		return -EINVAL;
	rc = stream_get(conn, device, epoch, &row);
	if (rc < 0)
		return rc;
	if (!row.found)
		return EDGE_ENOTFOUND;
	*out = (struct edge_anomaly_stream){
		.epoch = epoch,
		.acked = (uint32_t)row.acked,
		.oldest = (uint32_t)row.oldest,
		.gaps = (uint64_t)row.gaps,
		.events = (uint64_t)row.events,
		.updated_ms = row.updated_ms,
	};
	return 0;
}

int edge_anomaly_ack_get(edge_store_conn *conn, const char *device, uint32_t epoch,
			 struct edge_msg_ack *out)
{
	struct stream_row row;
	uint32_t gaps;
	int rc;

	if (!conn || !device || !out)
		return -EINVAL;
	rc = stream_get(conn, device, epoch, &row);
	if (rc < 0)
		return rc;
	if (!row.found) {
		*out = (struct edge_msg_ack){ .epoch = epoch };
		return 0;
	}
	return walk(conn, device, epoch, row.acked, row.oldest, out, &gaps);
}

/* One integer from a count query, for one device (its text bound as ?1) or
 * all of them. */
static int count_rows(edge_store_conn *conn, const char *device, const char *device_sql,
		      const char *all_sql, uint64_t *out)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc;

	if (!conn || !out)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn, device ? device_sql : all_sql, &st);
	if (rc < 0)
		return rc;
	if (device)
		bind_text(st, 1, device);
	rc = edge_store_conn_step_ints(conn, st, &n, 1);
	*out = (uint64_t)n;
	return rc;
}

int edge_anomaly_count(edge_store_conn *conn, const char *device, uint64_t *out)
{
	return count_rows(conn, device, count_device_sql, count_all_sql, out);
}

int edge_anomaly_event_get(edge_store_conn *conn, const char *device, uint32_t epoch,
			   uint32_t seq, int64_t *id, struct edge_anomaly_event *out)
{
	bool found = false;
	sqlite3_stmt *st;
	int rc;

	if (!conn || !device || !out)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn, event_get_sql, &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int64(st, 3, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (struct edge_anomaly_event){ .epoch = epoch, .seq = seq };
		out->ts_ms = sqlite3_column_int64(st, 0);
		out->received_ms = sqlite3_column_int64(st, 1);
		column_text(st, 2, out->time_source, sizeof out->time_source);
		column_text(st, 3, out->model, sizeof out->model);
		out->score = sqlite3_column_double(st, 4);
		out->threshold = sqlite3_column_double(st, 5);
		column_text(st, 6, out->label, sizeof out->label);
		out->has_severity = sqlite3_column_type(st, 7) != SQLITE_NULL;
		out->severity = (uint8_t)sqlite3_column_int(st, 7);
		out->has_summary = edge__anomaly_summary_column(st, 8, out->summary,
								sizeof out->summary);
		if (id)
			*id = sqlite3_column_int64(st, 9);
		found = true;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc);
	return found ? 0 : EDGE_ENOTFOUND;
}

int edge_anomaly_episode_sweep(edge_store_conn *conn, int64_t now_ms, int64_t quiet_ms,
			       uint32_t *closed)
{
	sqlite3_stmt *st;
	int rc;

	if (!conn || !closed || quiet_ms < 0)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn, ep_sweep_sql, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, now_ms - quiet_ms);
	rc = edge_store_conn_step(conn, st);
	if (rc < 0)
		return rc;
	*closed = (uint32_t)sqlite3_changes(edge_store_conn_db(conn));
	return 0;
}

int edge_anomaly_episode_last(edge_store_conn *conn, const char *device, const char *label,
			      struct edge_anomaly_episode *out)
{
	bool found = false;
	sqlite3_stmt *st;
	int rc;

	if (!conn || !device || !label || !out)
		return -EINVAL;
	rc = edge_store_conn_prepare(conn, ep_last_sql, &st);
	if (rc < 0)
		return rc;
	bind_text(st, 1, device);
	bind_text(st, 2, label);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (struct edge_anomaly_episode){ .id = sqlite3_column_int64(st, 0) };
		column_text(st, 1, out->state, sizeof out->state);
		column_text(st, 2, out->model, sizeof out->model);
		out->start_ms = sqlite3_column_int64(st, 3);
		out->end_ms = sqlite3_column_int64(st, 4);
		out->count = (uint64_t)sqlite3_column_int64(st, 5);
		out->peak_score = sqlite3_column_double(st, 6);
		out->confirmed_ms = sqlite3_column_int64(st, 7); /* NULL reads as 0 */
		out->closed_ms = sqlite3_column_int64(st, 8);
		found = true;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc);
	return found ? 0 : EDGE_ENOTFOUND;
}

int edge_anomaly_episode_count(edge_store_conn *conn, const char *device, uint64_t *out)
{
	return count_rows(conn, device, ep_count_device_sql, ep_count_all_sql, out);
}
