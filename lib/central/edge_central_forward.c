/* The central forwarder (edge_central_forward.h). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "edge_backoff.h"
#include "edge_central_forward.h"
#include "edge_central_schema.h"
#include "edge_log.h"
#include "edge_time.h"

#define LOG_GROUP "central"
#define STATS_EVERY_MS 1000 /* backlog and lag: at most this often */
/* After a batch that was not full (the forwarder is caught up), the next one
 * waits this long: under a steady trickle of reports a gateway sends a few
 * statements a second, not one per report, at the cost of this much lag. */
#define GATHER_MS 100
#define ERROR_LOG_MS 30000  /* one failure line per interval, the rest counted */

/* The arrays of one batch, one text parameter each (PostgreSQL array
 * literals), in the statement's parameter order after $1..$3. */
enum {
	EV_DEVICE, EV_EPOCH, EV_SEQ, EV_TS, EV_RECEIVED, EV_SOURCE, EV_MODEL, EV_SCORE,
	EV_THRESHOLD, EV_LABEL, EV_SEVERITY, EV_SUMMARY,
	EP_ID, EP_DEVICE, EP_LABEL, EP_MODEL, EP_STATE, EP_START, EP_END, EP_COUNT, EP_PEAK,
	EP_CONFIRMED, EP_CLOSED, EP_REV,
	SU_TS, SU_TOTAL, SU_ONLINE, SU_STALE, SU_OFFLINE, SU_REVOKED, SU_DAY, SU_INFERENCES,
	SU_ANOMALIES, SU_OPEN,
	N_ARRAYS,
};
#define N_PARAMS (3 + N_ARRAYS)

/* One statement, one implicit transaction: every row of the batch or none.
 * The answer counts the events that were new. */
static const char forward_sql[] =
	"WITH ev AS (INSERT INTO anomaly_event (gateway, device, epoch, seq, ts_ms, received_ms,"
	" time_source, model, score, threshold, label, severity, summary, forwarded_ms)"
	" SELECT $1, d, e, s, ts, rc, src, m, sc, th, l, sev, sm::real[], $3"
	" FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],"
	" $9::text[], $10::text[], $11::float8[], $12::float8[], $13::text[], $14::smallint[],"
	" $15::text[]) AS t(d, e, s, ts, rc, src, m, sc, th, l, sev, sm)"
	" ON CONFLICT DO NOTHING RETURNING 1),"
	" ep AS (INSERT INTO anomaly_episode AS c (gateway, store_uid, id, device, label, model,"
	" state, start_ms, end_ms, count, peak_score, confirmed_ms, closed_ms, rev)"
	" SELECT $1, $2, i, d, l, m, st, s0, s1, n, pk, cf, cl, r"
	" FROM unnest($16::bigint[], $17::text[], $18::text[], $19::text[], $20::text[],"
	" $21::bigint[], $22::bigint[], $23::bigint[], $24::float8[], $25::bigint[],"
	" $26::bigint[], $27::bigint[]) AS t(i, d, l, m, st, s0, s1, n, pk, cf, cl, r)"
	" ON CONFLICT (gateway, store_uid, id) DO UPDATE SET device = excluded.device,"
	" label = excluded.label, model = excluded.model, state = excluded.state,"
	" start_ms = excluded.start_ms, end_ms = excluded.end_ms, count = excluded.count,"
	" peak_score = excluded.peak_score, confirmed_ms = excluded.confirmed_ms,"
	" closed_ms = excluded.closed_ms, rev = excluded.rev WHERE c.rev < excluded.rev"
	" RETURNING 1),"
	" su AS (INSERT INTO fleet_summary (gateway, ts_ms, nodes_total, nodes_online,"
	" nodes_stale, nodes_offline, nodes_revoked, day_ms, inferences_day, anomalies_day,"
	" episodes_open)"
	" SELECT $1, t.* FROM unnest($28::bigint[], $29::int[], $30::int[], $31::int[],"
	" $32::int[], $33::int[], $34::bigint[], $35::bigint[], $36::bigint[], $37::int[]) AS t"
	" ON CONFLICT DO NOTHING RETURNING 1),"
	" gw AS (INSERT INTO gateway AS g (gateway, first_forward_ms, last_forward_ms,"
	" last_summary_ms) VALUES ($1, $3, $3, (SELECT max(x) FROM unnest($28::bigint[]) x))"
	" ON CONFLICT (gateway) DO UPDATE SET last_forward_ms = excluded.last_forward_ms,"
	" last_summary_ms = greatest(g.last_summary_ms, excluded.last_summary_ms))"
	" SELECT count(*) FROM ev";

static const char stmt_name[] = "edged_forward";

/* ---- local reads (the forwarder's own read-only connection) ---- */

static const char events_sql[] =
	"SELECT id, device, epoch, seq, ts_ms, received_ms, time_source, model, score,"
	" threshold, label, severity, summary FROM anomaly_event WHERE id > ?1"
	" ORDER BY id LIMIT ?2";
static const char episodes_sql[] =
	"SELECT rev, id, device, label, model, state, start_ms, end_ms, count, peak_score,"
	" confirmed_ms, closed_ms FROM anomaly_episode WHERE rev > ?1 ORDER BY rev LIMIT ?2";
static const char summaries_sql[] =
	"SELECT id, ts_ms, nodes_total, nodes_online, nodes_stale, nodes_offline,"
	" nodes_revoked, day_ms, inferences_day, anomalies_day, episodes_open"
	" FROM central_summary WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char cursors_sql[] =
	"SELECT coalesce((SELECT through FROM central_cursor WHERE stream = 'event'), 0),"
	" coalesce((SELECT through FROM central_cursor WHERE stream = 'episode'), 0),"
	" coalesce((SELECT through FROM central_cursor WHERE stream = 'summary'), 0),"
	" (SELECT value FROM anomaly_meta WHERE key = 'store_uid')";
/* Backlogs: ids have no gaps but the ones retention made, so max - cursor is
 * the backlog without a scan; episodes are counted through their rev index. */
static const char backlog_sql[] =
	"SELECT coalesce((SELECT max(id) FROM anomaly_event), 0),"
	" (SELECT count(*) FROM anomaly_episode WHERE rev > ?2),"
	" coalesce((SELECT max(id) FROM central_summary), 0),"
	" coalesce((SELECT received_ms FROM anomaly_event WHERE id > ?1 ORDER BY id LIMIT 1), 0),"
	" coalesce((SELECT value FROM anomaly_meta WHERE key = 'central_dropped_events'), 0),"
	" coalesce((SELECT value FROM anomaly_meta WHERE key = 'central_dropped_episodes'), 0),"
	" coalesce((SELECT value FROM anomaly_meta WHERE key = 'central_dropped_summaries'), 0)";

/* A growable text buffer (one array literal). */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

struct batch {
	struct sbuf arr[N_ARRAYS];
	unsigned n[EDGE_CENTRAL_STREAMS];
	int64_t last[EDGE_CENTRAL_STREAMS]; /* the cursor after this batch */
};

struct edge_central_forward {
	/* options (immutable after start) */
	char *conninfo, *db_path, *gateway_id;
	unsigned batch_rows, timeout_ms, idle_poll_ms;
	void (*wake)(void *ud);
	void *wake_ud;

	pthread_t thread;
	int stop_fd, kick_fd;     /* eventfds */

	/* forwarder thread only */
	sqlite3 *db;
	PGconn *pg;
	edge_backoff *backoff;
	struct edge_central_cursors cur;
	char store_uid[24];
	struct batch b;
	uint64_t stats_due_ms, error_log_ms, errors_unlogged;

	/* shared, under mu */
	pthread_mutex_t mu;
	struct edge_central_forward_stats stats;
	struct edge_central_cursors committed;
	bool committed_new;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- array literals ---- */

static void sb_put(struct sbuf *s, const char *p, size_t n)
{
	if (s->failed)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		char *np;

		while (cap < s->len + n + 1)
			cap *= 2;
		np = realloc(s->p, cap);
		if (!np) {
			s->failed = true;
			return;
		}
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}

/* The separator before an element: '{' for the first. */
static void el_start(struct sbuf *s)
{
	sb_put(s, s->len ? "," : "{", 1);
}

static void el_int(struct sbuf *s, int64_t v)
{
	char t[24];

	el_start(s);
	sb_put(s, t, (size_t)snprintf(t, sizeof t, "%" PRId64, v));
}

static void el_double(struct sbuf *s, double v)
{
	char t[40];

	el_start(s);
	sb_put(s, t, (size_t)snprintf(t, sizeof t, "%.17g", v));
}

static void el_null(struct sbuf *s)
{
	el_start(s);
	sb_put(s, "NULL", 4);
}

/* A quoted element: '"' and '\' escaped, so any text is safe. */
static void el_text(struct sbuf *s, const char *v)
{
	el_start(s);
	sb_put(s, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_put(s, "\\", 1);
		sb_put(s, p, 1);
	}
	sb_put(s, "\"", 1);
}

/* An event's summary (edge_central_summary_literal), NULL when absent or
 * unreadable. */
static void el_summary(struct sbuf *s, sqlite3_stmt *st, int col)
{
	char lit[EDGE_CENTRAL_SUMMARY_LITERAL_MAX];

	if (edge_central_summary_literal(st, col, lit))
		el_text(s, lit);
	else
		el_null(s);
}

static void col_int_or_null(struct sbuf *s, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		el_null(s);
	else
		el_int(s, sqlite3_column_int64(st, col));
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* ---- reading a batch ---- */

static void batch_reset(struct batch *b)
{
	for (int i = 0; i < N_ARRAYS; i++) {
		b->arr[i].len = 0;
		b->arr[i].failed = false;
		if (b->arr[i].p)
			b->arr[i].p[0] = '\0';
	}
	memset(b->n, 0, sizeof b->n);
	memset(b->last, 0, sizeof b->last);
}

static void batch_free(struct batch *b)
{
	for (int i = 0; i < N_ARRAYS; i++)
		free(b->arr[i].p);
	memset(b, 0, sizeof *b);
}

static int sqlite_fail(edge_central_forward *f, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "local database: %s: %s", what, sqlite3_errmsg(f->db));
	return EDGE_ESTORE;
}

/* One row of a stream into the batch's arrays; its cursor value is column 0. */
typedef void (*row_fn)(struct sbuf *a, sqlite3_stmt *st);

static void event_row(struct sbuf *a, sqlite3_stmt *st)
{
	el_text(&a[EV_DEVICE], col_text(st, 1));
	el_int(&a[EV_EPOCH], sqlite3_column_int64(st, 2));
	el_int(&a[EV_SEQ], sqlite3_column_int64(st, 3));
	el_int(&a[EV_TS], sqlite3_column_int64(st, 4));
	el_int(&a[EV_RECEIVED], sqlite3_column_int64(st, 5));
	el_text(&a[EV_SOURCE], col_text(st, 6));
	el_text(&a[EV_MODEL], col_text(st, 7));
	el_double(&a[EV_SCORE], sqlite3_column_double(st, 8));
	el_double(&a[EV_THRESHOLD], sqlite3_column_double(st, 9));
	el_text(&a[EV_LABEL], col_text(st, 10));
	col_int_or_null(&a[EV_SEVERITY], st, 11);
	el_summary(&a[EV_SUMMARY], st, 12);
}

static void episode_row(struct sbuf *a, sqlite3_stmt *st)
{
	el_int(&a[EP_REV], sqlite3_column_int64(st, 0));
	el_int(&a[EP_ID], sqlite3_column_int64(st, 1));
	el_text(&a[EP_DEVICE], col_text(st, 2));
	el_text(&a[EP_LABEL], col_text(st, 3));
	el_text(&a[EP_MODEL], col_text(st, 4));
	el_text(&a[EP_STATE], col_text(st, 5));
	el_int(&a[EP_START], sqlite3_column_int64(st, 6));
	el_int(&a[EP_END], sqlite3_column_int64(st, 7));
	el_int(&a[EP_COUNT], sqlite3_column_int64(st, 8));
	el_double(&a[EP_PEAK], sqlite3_column_double(st, 9));
	col_int_or_null(&a[EP_CONFIRMED], st, 10);
	col_int_or_null(&a[EP_CLOSED], st, 11);
}

static void summary_row(struct sbuf *a, sqlite3_stmt *st)
{
	for (int c = 1; c <= SU_OPEN - SU_TS + 1; c++)
		el_int(&a[SU_TS + c - 1], sqlite3_column_int64(st, c));
}

static const struct {
	const char *sql;
	row_fn row;
} streams[EDGE_CENTRAL_STREAMS] = {
	[EDGE_CENTRAL_EVENT] = { events_sql, event_row },
	[EDGE_CENTRAL_EPISODE] = { episodes_sql, episode_row },
	[EDGE_CENTRAL_SUMMARY] = { summaries_sql, summary_row },
};

/* Up to batch_rows rows of stream s above its cursor. */
static int read_stream(edge_central_forward *f, enum edge_central_stream s, char *err,
		       size_t errlen)
{
	struct batch *b = &f->b;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(f->db, streams[s].sql, -1, &st, NULL) != SQLITE_OK)
		return sqlite_fail(f, edge_central_stream_name(s), err, errlen);
	sqlite3_bind_int64(st, 1, f->cur.through[s]);
	sqlite3_bind_int64(st, 2, f->batch_rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		b->last[s] = sqlite3_column_int64(st, 0);
		streams[s].row(b->arr, st);
		b->n[s]++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(f, edge_central_stream_name(s), err, errlen);
}

/* The rows above the cursors, at most batch_rows of each stream, from one
 * read transaction (one snapshot). */
static int read_batch(edge_central_forward *f, char *err, size_t errlen)
{
	struct batch *b = &f->b;
	int rc;

	batch_reset(b);
	if (sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_fail(f, "begin", err, errlen);
	rc = 0;
	for (int i = 0; rc == 0 && i < EDGE_CENTRAL_STREAMS; i++)
		rc = read_stream(f, (enum edge_central_stream)i, err, errlen);
	(void)sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
	for (int i = 0; i < N_ARRAYS; i++)
		if (b->arr[i].len)
			sb_put(&b->arr[i], "}", 1);
	for (int i = 0; rc == 0 && i < N_ARRAYS; i++) {
		if (b->arr[i].failed) {
			snprintf(err, errlen, "out of memory building a batch");
			rc = -ENOMEM;
		}
	}
	return rc;
}

/* ---- waiting ---- */

/* Waits up to ms for stop and, besides it, for fd's events when fd >= 0
 * (the database socket), else for a kick when kick is true (the idle wait;
 * the kick is consumed). A kick never ends a backoff nor a wait on the
 * database: new rows are looked at once that is over. Returns 1 when
 * stopping, 0 otherwise; *ready (may be NULL): fd is ready. */
static int wait_for(edge_central_forward *f, int fd, short events, bool kick, int ms,
		    bool *ready)
{
	struct pollfd p[2] = {
		{ .fd = f->stop_fd, .events = POLLIN },
		{ .fd = fd >= 0 ? fd : kick ? f->kick_fd : -1, .events = fd >= 0 ? events : POLLIN },
	};
	uint64_t v;

	if (ready)
		*ready = false;
	if (poll(p, 2, ms < 0 ? 0 : ms) < 0 && errno != EINTR)
		return 0;
	if (p[0].revents)
		return 1;
	if (p[1].revents && fd >= 0 && ready)
		*ready = true;
	else if (p[1].revents && fd < 0)
		(void)!read(f->kick_fd, &v, sizeof v);
	return 0;
}

static bool stopping(edge_central_forward *f)
{
	struct pollfd p = { .fd = f->stop_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* ---- PostgreSQL, non-blocking with our own deadline ---- */

static void pg_close(edge_central_forward *f)
{
	if (f->pg)
		PQfinish(f->pg);
	f->pg = NULL;
	pthread_mutex_lock(&f->mu);
	f->stats.connected = false;
	pthread_mutex_unlock(&f->mu);
}

static void copy_pg_error(const char *msg, char *err, size_t errlen)
{
	size_t n;

	snprintf(err, errlen, "%s", msg && *msg ? msg : "unknown libpq error");
	n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

static int pg_connect(edge_central_forward *f, char *err, size_t errlen)
{
	const uint64_t deadline = edge_time_monotonic_ms() + f->timeout_ms;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;

	assert(!f->pg);
	f->pg = PQconnectStart(f->conninfo);
	if (!f->pg) {
		snprintf(err, errlen, "connect: out of memory");
		return -ENOMEM;
	}
	if (PQstatus(f->pg) == CONNECTION_BAD)
		goto bad;
	while (ps != PGRES_POLLING_OK) {
		uint64_t now = edge_time_monotonic_ms();
		bool ready;

		if (ps == PGRES_POLLING_FAILED)
			goto bad;
		if (now >= deadline) {
			snprintf(err, errlen, "connect: no answer within %u s", f->timeout_ms / 1000);
			pg_close(f);
			return -ETIMEDOUT;
		}
		if (wait_for(f, PQsocket(f->pg), ps == PGRES_POLLING_READING ? POLLIN : POLLOUT,
			     false, (int)(deadline - now), &ready)) {
			snprintf(err, errlen, "stopping");
			pg_close(f);
			return EDGE_ECLOSED;
		}
		if (ready)
			ps = PQconnectPoll(f->pg);
	}
	if (PQsetnonblocking(f->pg, 1) != 0)
		goto bad;
	return 0;
bad:
	copy_pg_error(PQerrorMessage(f->pg), err, errlen);
	pg_close(f);
	return -ECONNREFUSED;
}

/* Until libpq holds a whole result (or the last one came), within the
 * deadline: flushes what is still to send, reads what arrives. */
static int pg_input(edge_central_forward *f, uint64_t deadline, char *err, size_t errlen)
{
	for (;;) {
		int fl = PQflush(f->pg);
		uint64_t now = edge_time_monotonic_ms();
		bool ready;

		if (fl < 0)
			break;
		if (fl == 0) {
			if (!PQconsumeInput(f->pg))
				break;
			if (!PQisBusy(f->pg))
				return 0;
		}
		if (now >= deadline) {
			snprintf(err, errlen, "no answer within %u s", f->timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		if (wait_for(f, PQsocket(f->pg), fl ? POLLIN | POLLOUT : POLLIN, false,
			     (int)(deadline - now), &ready)) {
			snprintf(err, errlen, "stopping");
			return EDGE_ECLOSED;
		}
	}
	copy_pg_error(PQerrorMessage(f->pg), err, errlen);
	return -ECONNRESET;
}

/* Waits for every result of what was sent, within one deadline. *res gets
 * the last successful result (the caller clears it; NULL-safe); the first
 * failed one fails the call (EDGE_ESTORE, its message in err). */
static int pg_wait(edge_central_forward *f, PGresult **res, char *err, size_t errlen)
{
	const uint64_t deadline = edge_time_monotonic_ms() + f->timeout_ms;
	bool failed = false;
	PGresult *r;
	int rc;

	*res = NULL;
	for (;;) {
		rc = pg_input(f, deadline, err, errlen);
		if (rc < 0) {
			PQclear(*res);
			*res = NULL;
			return rc;
		}
		r = PQgetResult(f->pg);
		if (!r)
			break;
		if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (!failed)
				copy_pg_error(PQresultErrorMessage(r), err, errlen);
			failed = true;
			PQclear(r);
			continue;
		}
		PQclear(*res);
		*res = r;
	}
	if (failed)
		return EDGE_ESTORE;
	if (!*res) {
		copy_pg_error(PQerrorMessage(f->pg), err, errlen);
		return -ECONNRESET;
	}
	return 0;
}

/* Runs sql (no parameters) and answers its one text value (or "" / NULL). */
static int pg_simple(edge_central_forward *f, const char *sql, char *val, size_t vallen,
		     char *err, size_t errlen)
{
	PGresult *res;
	int rc;

	if (!PQsendQuery(f->pg, sql)) {
		copy_pg_error(PQerrorMessage(f->pg), err, errlen);
		return -ECONNRESET;
	}
	rc = pg_wait(f, &res, err, errlen);
	if (rc == 0 && val) {
		snprintf(val, vallen, "%s",
			 PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");
	}
	PQclear(res);
	return rc;
}

/* After connecting: the schema must be the one this build writes; then the
 * forwarding statement is prepared once for the connection. */
static int pg_ready(edge_central_forward *f, char *err, size_t errlen)
{
	char version[32];
	PGresult *res;
	int rc;

	rc = pg_simple(f, "SELECT value FROM edged_central_meta WHERE key = 'schema_version'",
		       version, sizeof version, err, errlen);
	if (rc == EDGE_ESTORE && strstr(err, "edged_central_meta")) {
		snprintf(err, errlen, "central schema missing: run 'edgectl central init'");
		return EDGE_ESCHEMA;
	}
	if (rc < 0)
		return rc;
	if (atoi(version) != EDGE_CENTRAL_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "central schema version %s, this build writes %d: %s", version[0] ? version : "none",
			 EDGE_CENTRAL_SCHEMA_VERSION,
			 atoi(version) > EDGE_CENTRAL_SCHEMA_VERSION ? "upgrade edged"
								    : "run 'edgectl central init'");
		return EDGE_ESCHEMA;
	}
	if (!PQsendPrepare(f->pg, stmt_name, forward_sql, N_PARAMS, NULL)) {
		copy_pg_error(PQerrorMessage(f->pg), err, errlen);
		return -ECONNRESET;
	}
	rc = pg_wait(f, &res, err, errlen);
	PQclear(res);
	return rc;
}

/* Sends the batch as one statement; 0 once its commit has returned.
 * *new_events: how many events were not yet there. */
static int pg_forward(edge_central_forward *f, int64_t now_ms, uint64_t *new_events,
		      char *err, size_t errlen)
{
	const char *values[N_PARAMS];
	char now[24];
	PGresult *res;
	int rc;

	snprintf(now, sizeof now, "%" PRId64, now_ms);
	values[0] = f->gateway_id;
	values[1] = f->store_uid;
	values[2] = now;
	for (int i = 0; i < N_ARRAYS; i++)
		values[3 + i] = f->b.arr[i].len ? f->b.arr[i].p : "{}";
	/* $15 (summaries) closes the events' arrays: the statement numbers its
	 * parameters in the enum's order. */
	_Static_assert(EV_SUMMARY + 4 == 15 && EP_ID + 4 == 16 && SU_TS + 4 == 28 &&
			       SU_OPEN + 4 == 37,
		       "parameter numbers of forward_sql");
	if (!PQsendQueryPrepared(f->pg, stmt_name, N_PARAMS, values, NULL, NULL, 0)) {
		copy_pg_error(PQerrorMessage(f->pg), err, errlen);
		return -ECONNRESET;
	}
	rc = pg_wait(f, &res, err, errlen);
	if (rc == 0)
		*new_events = PQntuples(res) > 0 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return rc;
}

/* ---- the thread ---- */

static void note_error(edge_central_forward *f, int rc, const char *err)
{
	const uint64_t now = edge_time_monotonic_ms();

	pthread_mutex_lock(&f->mu);
	f->stats.errors++;
	f->stats.last_error_ms = wall_ms();
	snprintf(f->stats.last_error, sizeof f->stats.last_error, "%s", err);
	pthread_mutex_unlock(&f->mu);
	if (now >= f->error_log_ms) {
		if (f->errors_unlogged)
			edge_log(EDGE_LOG_WARNING, LOG_GROUP,
				 "forwarding failed: %s (%s; %" PRIu64 " more failures since the last line)",
				 err, edge_strerror(rc), f->errors_unlogged);
		else
			edge_log(EDGE_LOG_WARNING, LOG_GROUP, "forwarding failed: %s (%s)", err,
				 edge_strerror(rc));
		f->error_log_ms = now + ERROR_LOG_MS;
		f->errors_unlogged = 0;
	} else {
		f->errors_unlogged++;
	}
}

static int open_local(edge_central_forward *f, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_open_v2(f->db_path, &f->db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "local database %s: %s", f->db_path,
			 f->db ? sqlite3_errmsg(f->db) : sqlite3_errstr(rc));
		sqlite3_close(f->db);
		f->db = NULL;
		return EDGE_ESTORE;
	}
	sqlite3_busy_timeout(f->db, 5000);
	if (sqlite3_prepare_v2(f->db, cursors_sql, -1, &st, NULL) != SQLITE_OK)
		goto bad;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		goto bad;
	}
	for (int i = 0; i < EDGE_CENTRAL_STREAMS; i++)
		f->cur.through[i] = sqlite3_column_int64(st, i);
	snprintf(f->store_uid, sizeof f->store_uid, "%016" PRIx64,
		 (uint64_t)sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);
	return 0;
bad:
	snprintf(err, errlen, "local database: %s", sqlite3_errmsg(f->db));
	sqlite3_close(f->db);
	f->db = NULL;
	return EDGE_ESTORE;
}

/* Backlogs, lag and the retention's drop counters, at most once a second. */
static void look_at_backlog(edge_central_forward *f, bool force)
{
	const uint64_t now = edge_time_monotonic_ms();
	int64_t v[7] = { 0 };
	sqlite3_stmt *st;

	if (!force && now < f->stats_due_ms)
		return;
	f->stats_due_ms = now + STATS_EVERY_MS;
	if (sqlite3_prepare_v2(f->db, backlog_sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, f->cur.through[EDGE_CENTRAL_EVENT]);
	sqlite3_bind_int64(st, 2, f->cur.through[EDGE_CENTRAL_EPISODE]);
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 7; i++)
			v[i] = sqlite3_column_int64(st, i);
	sqlite3_finalize(st);
	pthread_mutex_lock(&f->mu);
	f->stats.backlog[EDGE_CENTRAL_EVENT] =
		v[0] > f->cur.through[EDGE_CENTRAL_EVENT]
			? (uint64_t)(v[0] - f->cur.through[EDGE_CENTRAL_EVENT]) : 0;
	f->stats.backlog[EDGE_CENTRAL_EPISODE] = (uint64_t)v[1];
	f->stats.backlog[EDGE_CENTRAL_SUMMARY] =
		v[2] > f->cur.through[EDGE_CENTRAL_SUMMARY]
			? (uint64_t)(v[2] - f->cur.through[EDGE_CENTRAL_SUMMARY]) : 0;
	f->stats.lag_ms = v[3] > 0 ? wall_ms() - v[3] : 0;
	if (f->stats.lag_ms < 0)
		f->stats.lag_ms = 0;
	f->stats.dropped_events = (uint64_t)v[4];
	f->stats.dropped_episodes = (uint64_t)v[5];
	f->stats.dropped_summaries = (uint64_t)v[6];
	pthread_mutex_unlock(&f->mu);
}

static void committed(edge_central_forward *f, uint64_t new_events, uint64_t took_ms)
{
	const struct batch *b = &f->b;
	unsigned rows = 0;

	for (int i = 0; i < EDGE_CENTRAL_STREAMS; i++) {
		if (b->n[i])
			f->cur.through[i] = b->last[i];
		rows += b->n[i];
	}
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < EDGE_CENTRAL_STREAMS; i++)
		f->stats.forwarded[i] += b->n[i];
	f->stats.duplicates += b->n[EDGE_CENTRAL_EVENT] - new_events;
	f->stats.batches++;
	f->stats.last_success_ms = wall_ms();
	f->stats.rows_per_s = took_ms ? rows * 1000.0 / (double)took_ms : rows * 1000.0;
	f->committed = f->cur;
	f->committed_new = true;
	pthread_mutex_unlock(&f->mu);
	if (f->wake)
		f->wake(f->wake_ud);
}

/* The backoff after a failure: only stop ends it (new rows do not: they
 * wait with the rest); the backlog and lag in status keep moving. */
static void backoff_wait(edge_central_forward *f)
{
	const uint64_t end = edge_time_monotonic_ms() + edge_backoff_next(f->backoff);

	for (uint64_t now = edge_time_monotonic_ms(); now < end; now = edge_time_monotonic_ms()) {
		uint64_t ms = end - now < STATS_EVERY_MS ? end - now : STATS_EVERY_MS;

		if (wait_for(f, -1, 0, false, (int)ms, NULL))
			return;
		look_at_backlog(f, false);
	}
}

static void *forward_main(void *arg)
{
	edge_central_forward *f = arg;
	char err[512];
	int rc;

	while (!stopping(f) && !f->db) {
		rc = open_local(f, err, sizeof err);
		if (rc < 0) {
			note_error(f, rc, err);
			backoff_wait(f);
		}
	}
	while (!stopping(f)) {
		uint64_t t0, new_events = 0;
		bool empty;

		if (!f->pg) {
			rc = pg_connect(f, err, sizeof err);
			if (rc == 0)
				rc = pg_ready(f, err, sizeof err);
			if (rc < 0) {
				pg_close(f);
				if (rc != EDGE_ECLOSED)
					note_error(f, rc, err);
				look_at_backlog(f, false);
				backoff_wait(f);
				continue;
			}
			edge_log(EDGE_LOG_INFO, LOG_GROUP, "connected to the central database");
			pthread_mutex_lock(&f->mu);
			f->stats.connected = true;
			pthread_mutex_unlock(&f->mu);
		}
		rc = read_batch(f, err, sizeof err);
		if (rc < 0) {
			note_error(f, rc, err);
			backoff_wait(f);
			continue;
		}
		empty = f->b.n[0] + f->b.n[1] + f->b.n[2] == 0;
		if (empty) {
			look_at_backlog(f, false);
			(void)wait_for(f, -1, 0, true, (int)f->idle_poll_ms, NULL);
			continue;
		}
		t0 = edge_time_monotonic_ms();
		rc = pg_forward(f, wall_ms(), &new_events, err, sizeof err);
		if (rc < 0) {
			/* Nothing moves: the batch is read again and resent. A
			 * connection may be half-way through a statement: start
			 * afresh. */
			pg_close(f);
			if (rc != EDGE_ECLOSED)
				note_error(f, rc, err);
			look_at_backlog(f, false);
			backoff_wait(f);
			continue;
		}
		edge_backoff_reset(f->backoff);
		committed(f, new_events, edge_time_monotonic_ms() - t0);
		look_at_backlog(f, false);
		if (f->b.n[0] < f->batch_rows && f->b.n[1] < f->batch_rows &&
		    f->b.n[2] < f->batch_rows) {
			struct pollfd p = { .fd = f->stop_fd, .events = POLLIN };

			(void)poll(&p, 1, GATHER_MS);
		}
	}
	pg_close(f);
	if (f->db)
		sqlite3_close(f->db);
	f->db = NULL;
	return NULL;
}

/* ---- the owner's side ---- */

static void free_forward(edge_central_forward *f)
{
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	if (f->kick_fd >= 0)
		close(f->kick_fd);
	edge_backoff_free(f->backoff);
	batch_free(&f->b);
	pthread_mutex_destroy(&f->mu);
	free(f->conninfo);
	free(f->db_path);
	free(f->gateway_id);
	free(f);
}

int edge_central_forward_start(const struct edge_central_forward_options *o,
			       edge_central_forward **out)
{
	edge_central_forward *f;
	int rc;

	if (!o || !out || !o->conninfo || !o->conninfo[0] || !o->db_path || !o->gateway_id ||
	    !o->gateway_id[0] || strlen(o->gateway_id) > 64 || o->batch_rows == 0 ||
	    o->batch_rows > 10000 || o->retry_min_ms == 0 || o->retry_max_ms < o->retry_min_ms ||
	    o->timeout_s == 0)
		return -EINVAL;
	f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->stop_fd = f->kick_fd = -1;
	pthread_mutex_init(&f->mu, NULL);
	f->conninfo = strdup(o->conninfo);
	f->db_path = strdup(o->db_path);
	f->gateway_id = strdup(o->gateway_id);
	f->backoff = edge_backoff_new(o->retry_min_ms, o->retry_max_ms);
	f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!f->conninfo || !f->db_path || !f->gateway_id || !f->backoff) {
		free_forward(f);
		return -ENOMEM;
	}
	if (f->stop_fd < 0 || f->kick_fd < 0) {
		rc = -errno;
		free_forward(f);
		return rc;
	}
	f->batch_rows = o->batch_rows;
	f->timeout_ms = o->timeout_s * 1000u;
	f->idle_poll_ms = o->idle_poll_ms ? o->idle_poll_ms : 500;
	f->wake = o->wake;
	f->wake_ud = o->wake_ud;
	rc = pthread_create(&f->thread, NULL, forward_main, f);
	if (rc != 0) {
		free_forward(f);
		return -rc;
	}
	*out = f;
	return 0;
}

void edge_central_forward_kick(edge_central_forward *f)
{
	const uint64_t one = 1;

	if (f)
		(void)!write(f->kick_fd, &one, sizeof one);
}

bool edge_central_forward_take_cursors(edge_central_forward *f, struct edge_central_cursors *out)
{
	bool moved;

	if (!f || !out)
		return false;
	pthread_mutex_lock(&f->mu);
	moved = f->committed_new;
	if (moved)
		*out = f->committed;
	f->committed_new = false;
	pthread_mutex_unlock(&f->mu);
	return moved;
}

void edge_central_forward_get_stats(edge_central_forward *f, struct edge_central_forward_stats *out)
{
	if (!f || !out)
		return;
	pthread_mutex_lock(&f->mu);
	*out = f->stats;
	pthread_mutex_unlock(&f->mu);
}

bool edge_central_forward_stop(edge_central_forward *f, struct edge_central_cursors *last)
{
	const uint64_t one = 1;
	bool moved = false;

	if (!f)
		return false;
	(void)!write(f->stop_fd, &one, sizeof one);
	pthread_join(f->thread, NULL);
	if (last)
		moved = edge_central_forward_take_cursors(f, last);
	free_forward(f);
	return moved;
}
