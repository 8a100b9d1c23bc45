/* Reading the anomaly history through edgectl: `anomalies list|stats|
 * episodes|tail` and `devices show` against a direct read-only query of
 * the SQLite file edged writes, exports streamed in bounded memory, a tail
 * that follows, a follower too slow to keep, and the query budget. A real
 * mosquitto, the built edged and edgectl, and the simulator. Run one case
 * with `test-anomaly-query CASE`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "anomaly_check.h"
#include "harness.h"
#include "test_run.h"

#define SIM_REPORT_ARGS "--report-slots", "4096", "--report-rto-ms", "1000", \
	"--report-rto-max-ms", "3000"

/* n nodes sending rate events a second each until want were generated. */
static void fleet(struct h_env *e, unsigned n, const char *rate, long long want)
{
	char count[16], line[48];

	snprintf(count, sizeof count, "%u", n);
	snprintf(line, sizeof line, "sim: registered all %u", n);
	h_sim_start(e, "--count", count, "--heartbeat-s", "60", "--anomaly-rate", rate,
		    SIM_REPORT_ARGS, NULL);
	h_sim_wait(e, line, 30000);
	h_wait_sim_events(e, want, 60000);
}

/* No more events: every one generated is stored and the database stays as
 * it is (episodes close after anomaly.episode_quiet_s, 300 s). */
static void fleet_quiet(struct h_env *e)
{
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 30000);
}

/* The first column of every row of sql, as a JSON array of integers (or
 * strings when text). */
static json_t *db_column(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	int rc;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, json_integer(sqlite3_column_int64(st, 0)));
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return a;
}

static long long db_int(struct h_env *e, const char *sql)
{
	sqlite3 *db = anomaly_db_open(e);
	long long v;

	sqlite3_busy_timeout(db, 5000);
	v = anomaly_db_int(db, sql, NULL);
	sqlite3_close(db);
	return v;
}

/* The "id" of each object of r's array `key`. */
static json_t *ids_of(json_t *r, const char *key)
{
	json_t *a = json_array(), *o;
	size_t i;

	json_array_foreach(json_object_get(r, key), i, o)
		json_array_append(a, json_object_get(o, "id"));
	return a;
}

/* `edgectl --json anomalies list ARGS...` gives the ids (in order) the
 * database gives for `where`, newest first, at most limit. */
static void list_equals_db(struct h_env *e, sqlite3 *db, const char *where, long long limit,
			   const char *const *args)
{
	const char *argv[24] = { "anomalies", "list" };
	char sql[1024];
	json_t *r = NULL, *got, *want;
	size_t n = 2;
	long long total;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(h_edgectl(e, &r, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5],
				   argv[6], argv[7], argv[8], argv[9], argv[10], argv[11], argv[12],
				   argv[13], NULL),
			 0);
	ck_assert_ptr_nonnull(r);
	snprintf(sql, sizeof sql,
		 "SELECT id FROM anomaly_event WHERE %s ORDER BY ts_ms DESC, id DESC LIMIT %lld",
		 where, limit);
	want = db_column(db, sql);
	got = ids_of(r, "events");
	ck_assert_msg(json_equal(got, want), "list %s: %zu ids, the database %zu for %s",
		      argv[2] ? argv[2] : "", json_array_size(got), json_array_size(want), where);
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM anomaly_event WHERE %s", where);
	total = anomaly_db_int(db, sql, NULL);
	ck_assert_int_eq(json_is_true(json_object_get(r, "more")), total > limit);
	ck_assert_int_gt(json_array_size(got), 0);
	json_decref(got);
	json_decref(want);
	json_decref(r);
}

/* "2026-12-06T12:00:00.123Z" */
static void iso(char *buf, size_t cap, long long ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03lldZ", base, ms % 1000);
}

/* Group key -> count of a stats answer equals the database's GROUP BY. */
static void stats_equal_db(struct h_env *e, sqlite3 *db, const char *by, const char *group_sql)
{
	json_t *r = NULL, *g, *want = json_object();
	sqlite3_stmt *st;
	size_t i;
	long long sum = 0;

	ck_assert_int_eq(sqlite3_prepare_v2(db, group_sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char key[96];

		snprintf(key, sizeof key, "%s", (const char *)sqlite3_column_text(st, 0));
		json_object_set_new(want, key, json_integer(sqlite3_column_int64(st, 1)));
		sum += sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(h_edgectl(e, &r, "anomalies", "stats", "--by", by, NULL), 0);
	ck_assert_ptr_nonnull(r);
	json_array_foreach(json_object_get(r, "groups"), i, g) {
		char key[96];
		json_int_t n = json_integer_value(json_object_get(g, "count"));

		if (json_object_get(g, "bucket_ms"))
			snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(g, "bucket_ms")));
		else
			snprintf(key, sizeof key, "%s", h_json_str(g, "key"));
		if (n == 0) /* an empty bucket between two others */
			continue;
		ck_assert_msg(json_integer_value(json_object_get(want, key)) == n,
			      "stats by %s: %s has %lld, the database %lld", by, key, (long long)n,
			      (long long)json_integer_value(json_object_get(want, key)));
		json_object_del(want, key);
	}
	ck_assert_msg(json_object_size(want) == 0, "stats by %s misses %zu group(s)", by,
		      json_object_size(want));
	ck_assert_int_eq(h_json_int(r, "total.count"), sum);
	json_decref(want);
	json_decref(r);
}

/* list with each filter, stats by hour/device/label, episodes --open and
 * devices show, each against the database. */
START_TEST(queries_match_the_database)
{
	struct h_env *e = h_world(NULL);
	char since[40], until[40], sql[512];
	long long lo, hi, mid, total;
	sqlite3 *db;
	json_t *r = NULL;

	fleet(e, 6, "40", 6 * 150);
	fleet_quiet(e);
	db = anomaly_db_open(e);
	sqlite3_busy_timeout(db, 5000);
	total = anomaly_db_int(db, "SELECT COUNT(*) FROM anomaly_event", NULL);
	ck_assert_int_ge(total, 6 * 150);
	ck_assert_int_le(total, 10000);

	list_equals_db(e, db, "1", 10000, (const char *const[]){ "--limit", "10000", NULL });
	list_equals_db(e, db, "1", 100, (const char *const[]){ NULL });
	list_equals_db(e, db, "1", 7, (const char *const[]){ "--limit", "7", NULL });
	snprintf(sql, sizeof sql, "device = '%s'", h_node_id(1));
	list_equals_db(e, db, sql, 10000,
		       (const char *const[]){ "--device", h_node_id(1), "--limit", "10000", NULL });
	list_equals_db(e, db, "label = 'vibration'", 10000,
		       (const char *const[]){ "--label", "vibration", "--limit", "10000", NULL });
	list_equals_db(e, db, "model = 'vib-ae@2.1.0' AND score >= 0.9", 10000,
		       (const char *const[]){ "--model", "vib-ae@2.1.0", "--min-score", "0.9",
					      "--limit", "10000", NULL });
	/* since inclusive, until exclusive, in ISO 8601 with milliseconds. */
	lo = anomaly_db_int(db, "SELECT MIN(ts_ms) FROM anomaly_event", NULL);
	hi = anomaly_db_int(db, "SELECT MAX(ts_ms) FROM anomaly_event", NULL);
	mid = lo + (hi - lo) / 3;
	iso(since, sizeof since, mid);
	iso(until, sizeof until, mid + (hi - lo) / 3);
	snprintf(sql, sizeof sql, "ts_ms >= %lld AND ts_ms < %lld AND label = 'current'", mid,
		 mid + (hi - lo) / 3);
	list_equals_db(e, db, sql, 10000,
		       (const char *const[]){ "--since", since, "--until", until, "--label",
					      "current", "--limit", "10000", NULL });
	/* Relative: every event is younger than an hour. */
	list_equals_db(e, db, "1", 10000,
		       (const char *const[]){ "--since", "1h", "--until", "now", "--limit", "10000",
					      NULL });
	{
		/* The human view. */
		static const char *const args[] = { "anomalies", "list", "--limit", "5", NULL };
		char *text = NULL;

		ck_assert_int_eq(h_edgectl_capture(e, 10000, &text, NULL, args), 0);
		ck_assert_msg(strstr(text, "5 event(s); more match") &&
				      strstr(text, "vib-ae@2.1.0"),
			      "list's table:\n%s", text);
		free(text);
	}

	stats_equal_db(e, db, "device",
		       "SELECT device, COUNT(*) FROM anomaly_event GROUP BY device");
	stats_equal_db(e, db, "label", "SELECT label, COUNT(*) FROM anomaly_event GROUP BY label");
	stats_equal_db(e, db, "hour",
		       "SELECT ts_ms / 3600000 * 3600000, COUNT(*) FROM anomaly_event GROUP BY 1");
	{
		static const char *const args[] = { "anomalies", "stats", "--by", "device", NULL };
		char *text = NULL;

		ck_assert_int_eq(h_edgectl_capture(e, 10000, &text, NULL, args), 0);
		ck_assert_msg(strstr(text, h_node_id(0)) && strstr(text, "█") &&
				      strstr(text, "source "),
			      "stats' table:\n%s", text);
		free(text);
	}

	/* Episodes: one per (device, label), none closed yet. */
	ck_assert_int_eq(h_edgectl(e, &r, "anomalies", "episodes", "--open", NULL), 0);
	{
		json_t *want = db_column(db, "SELECT id FROM anomaly_episode WHERE state <> "
					     "'closed' ORDER BY start_ms DESC, id DESC");
		json_t *got = ids_of(r, "episodes");

		ck_assert_int_eq(json_array_size(want), 6 * 3);
		ck_assert_msg(json_equal(got, want), "episodes --open: %zu, the database %zu",
			      json_array_size(got), json_array_size(want));
		json_decref(got);
		json_decref(want);
	}
	json_decref(r);

	/* devices show: the counts. */
	r = h_edgectl_json(e, "devices", "show", h_node_id(2), NULL);
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM anomaly_event WHERE device = '%s'",
		 h_node_id(2));
	ck_assert_int_eq(h_json_int(r, "anomalies.events"), anomaly_db_int(db, sql, NULL));
	ck_assert_int_eq(h_json_int(r, "anomalies.events_24h"), anomaly_db_int(db, sql, NULL));
	ck_assert_int_eq(h_json_int(r, "anomalies.gaps"), 0);
	ck_assert_int_eq(h_json_int(r, "anomalies.episodes_open"), 3);
	snprintf(sql, sizeof sql, "SELECT MAX(ts_ms) FROM anomaly_event WHERE device = '%s'",
		 h_node_id(2));
	ck_assert_int_eq(h_json_int(r, "anomalies.last_ts_ms"), anomaly_db_int(db, sql, NULL));
	json_decref(r);
	{
		static const char *args[] = { "devices", "show", NULL, NULL };
		char *text = NULL;

		args[2] = h_node_id(2);
		ck_assert_int_eq(h_edgectl_capture(e, 10000, &text, NULL, args), 0);
		ck_assert_msg(strstr(text, "anomalies.events") && strstr(text, "gap(s)") &&
				      strstr(text, "3 open"),
			      "devices show:\n%s", text);
		free(text);
	}
	sqlite3_close(db);
	printf("# %lld events: list, stats, episodes and devices show agree with the database\n",
	       total);
	h_env_free(e);
}
END_TEST

/* ---- a child edgectl of our own: its stdout, its rusage */

static pid_t spawn_edgectl(struct h_env *e, const char *const *args, int out_fd, int err_fd)
{
	const char *argv[24];
	size_t n = 0;
	pid_t parent = getpid(), pid;

	argv[n++] = e->edgectl_bin;
	argv[n++] = "-s";
	argv[n++] = e->sock_path;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		dup2(out_fd, STDOUT_FILENO);
		dup2(err_fd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Waits (bounded) and returns the exit code; *maxrss_kb its peak RSS. */
static int reap(pid_t pid, unsigned timeout_ms, long *maxrss_kb)
{
	uint64_t end = h_now_ms() + timeout_ms;
	struct rusage ru;
	int st = 0;
	pid_t r;

	while ((r = wait4(pid, &st, WNOHANG, &ru)) == 0 && h_now_ms() < end)
		h_sleep_ms(10);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ck_abort_msg("edgectl did not finish within %u ms", timeout_ms);
	}
	if (maxrss_kb)
		*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Exports with edgectl into a file; returns its exit code, the text, RSS. */
static int export_to(struct h_env *e, const char *const *args, char **text, long *rss)
{
	char path[512], err_path[512];
	int out, err, code;

	snprintf(path, sizeof path, "%s/export.out", e->dir);
	snprintf(err_path, sizeof err_path, "%s/export.err", e->dir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert(out >= 0 && err >= 0);
	code = reap(spawn_edgectl(e, args, out, err), 60000, rss);
	close(out);
	close(err);
	*text = h_read_file(path, NULL);
	ck_assert_ptr_nonnull(*text);
	if (code != 0) {
		char *why = h_read_file(err_path, NULL);

		fprintf(stderr, "# edgectl %s: exit %d: %s\n", args[1], code, why ? why : "");
		free(why);
	}
	return code;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* The ids of an export (csv: the first field of each line after the
 * header; jsonl: "id" of each line), sorted, equal the database's. */
static void export_ids_equal_db(struct h_env *e, char *text, bool csv, long long total)
{
	long long *ids = calloc((size_t)total + 1, sizeof *ids);
	size_t n = 0;
	char *line, *save = NULL;
	sqlite3 *db = anomaly_db_open(e);
	sqlite3_stmt *st;

	ck_assert_ptr_nonnull(ids);
	if (csv) {
		ck_assert_msg(strncmp(text, "id,device,epoch,seq,ts_ms,time,", 31) == 0,
			      "csv header: %.80s", text);
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (csv && line == text)
			continue;
		ck_assert_msg(n < (size_t)total, "more rows than the database has (%lld)", total);
		if (csv) {
			/* 14 fields: commas inside quotes (the summary) do not count. */
			unsigned commas = 0;
			bool quoted = false;

			for (const char *c = line; *c; c++) {
				if (*c == '"')
					quoted = !quoted;
				else if (*c == ',' && !quoted)
					commas++;
			}
			ck_assert_msg(commas == 13 && !quoted, "csv line: %s", line);
			ids[n++] = strtoll(line, NULL, 10);
		} else {
			json_t *ev = json_loads(line, 0, NULL);

			ck_assert_msg(ev != NULL, "jsonl line is not JSON: %.80s", line);
			ids[n++] = json_integer_value(json_object_get(ev, "id"));
			json_decref(ev);
		}
	}
	ck_assert_int_eq((long long)n, total);
	qsort(ids, n, sizeof *ids, cmp_ll);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT id FROM anomaly_event ORDER BY id", -1, &st,
					    NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_msg(ids[i] == sqlite3_column_int64(st, 0),
			      "export row %zu: id %lld, the database %lld", i, ids[i],
			      (long long)sqlite3_column_int64(st, 0));
	}
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(ids);
}

/* Every stored event exported once as csv and as jsonl; edgectl's peak RSS
 * for all rows is not much above that for a tenth of them. */
START_TEST(export_streams_every_row_once)
{
#ifdef H_ASAN
	const long long want = 6000;
#else
	const long long want = 20000;
#endif
	struct h_env *e = h_world(NULL);
	long long total, tenth;
	long rss_small = 0, rss_big = 0;
	char *text = NULL, limit[24];

	fleet(e, 20, "100", want);
	fleet_quiet(e);
	total = db_int(e, "SELECT COUNT(*) FROM anomaly_event");
	ck_assert_int_ge(total, want);

	ck_assert_int_eq(export_to(e, (const char *const[]){ "anomalies", "list", "--format",
							     "csv", NULL },
				   &text, &rss_big),
			 0);
	export_ids_equal_db(e, text, true, total);
	free(text);
	ck_assert_int_eq(export_to(e, (const char *const[]){ "anomalies", "list", "--format",
							     "jsonl", NULL },
				   &text, &rss_big),
			 0);
	export_ids_equal_db(e, text, false, total);
	free(text);

	tenth = total / 10;
	snprintf(limit, sizeof limit, "%lld", tenth);
	ck_assert_int_eq(export_to(e, (const char *const[]){ "anomalies", "list", "--format",
							     "jsonl", "--limit", limit, NULL },
				   &text, &rss_small),
			 0);
	{
		size_t lines = 0;

		for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		ck_assert_int_eq((long long)lines, tenth);
	}
	free(text);
	/* A client that kept the rows would grow with them (a row is a few
	 * hundred bytes of JSON): a loose factor. */
	ck_assert_msg(rss_big < 2 * rss_small,
		      "peak RSS %ld KiB for %lld rows against %ld KiB for %lld", rss_big, total,
		      rss_small, tenth);
	printf("# %lld events exported once as csv and jsonl; peak RSS %ld KiB (%lld rows: "
	       "%ld KiB)\n",
	       total, rss_big, tenth, rss_small);
	h_env_free(e);
}
END_TEST

/* ---- tail */

struct follower {
	pid_t pid;
	int out;        /* read end of its stdout, non-blocking */
	char buf[1 << 16];
	size_t len;
};

static void follower_start(struct h_env *e, struct follower *f, const char *const *args)
{
	int p[2], err;
	char err_path[512];

	snprintf(err_path, sizeof err_path, "%s/tail.err", e->dir);
	err = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert(err >= 0 && pipe2(p, O_CLOEXEC) == 0);
	f->pid = spawn_edgectl(e, args, p[1], err);
	close(p[1]);
	close(err);
	f->out = p[0];
	f->len = 0;
	fcntl(f->out, F_SETFL, O_NONBLOCK);
}

/* Reads until at least `lines` whole lines arrived (bounded). */
static void follower_wait_lines(struct follower *f, unsigned lines, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	unsigned have = 0;

	for (;;) {
		have = 0;
		for (size_t i = 0; i < f->len; i++)
			have += f->buf[i] == '\n';
		if (have >= lines || h_now_ms() >= end)
			break;
		struct pollfd pfd = { .fd = f->out, .events = POLLIN };

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t r = read(f->out, f->buf + f->len, sizeof f->buf - 1 - f->len);

		if (r > 0)
			f->len += (size_t)r;
		else if (r == 0)
			break;
		ck_assert_msg(f->len < sizeof f->buf - 1, "tail output beyond the test's buffer");
	}
	f->buf[f->len] = '\0';
	ck_assert_msg(have >= lines, "tail printed %u line(s) in %u ms, expected %u", have,
		      timeout_ms, lines);
}

/* Reads (and drops) its output until it closes it; returns the bytes. */
static size_t follower_drain(struct follower *f, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	size_t total = 0;

	for (;;) {
		struct pollfd pfd = { .fd = f->out, .events = POLLIN };

		ck_assert_msg(h_now_ms() < end, "tail still writing after %u ms", timeout_ms);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t r = read(f->out, f->buf, sizeof f->buf);

		if (r == 0)
			return total;
		if (r > 0)
			total += (size_t)r;
	}
}

/* Each line is an event of device (NULL: any) stored in the database. */
static unsigned follower_check(struct h_env *e, struct follower *f, const char *device)
{
	char *save = NULL, sql[128];
	unsigned n = 0;

	for (char *line = strtok_r(f->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(line, 0, NULL);

		ck_assert_msg(json_is_object(ev), "tail line is not an event: %.100s", line);
		ck_assert_ptr_nonnull(json_object_get(ev, "label"));
		if (device)
			ck_assert_str_eq(json_string_value(json_object_get(ev, "device")), device);
		snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM anomaly_event WHERE id = %lld",
			 (long long)json_integer_value(json_object_get(ev, "id")));
		ck_assert_int_eq(db_int(e, sql), 1);
		json_decref(ev);
		n++;
	}
	return n;
}

/* tail --json prints events as they are stored (all, and of one device);
 * Ctrl-C ends it with status 0. */
START_TEST(tail_follows_new_events)
{
	struct h_env *e = h_world(NULL);
	struct follower *all = calloc(1, sizeof *all), *one = calloc(1, sizeof *one);
	unsigned n_all, n_one;

	ck_assert(all && one);
	follower_start(e, all, (const char *const[]){ "--json", "anomalies", "tail", NULL });
	follower_start(e, one, (const char *const[]){ "--json", "anomalies", "tail", "--device",
						      h_node_id(1), NULL });
	/* Both follow before the first event is sent. */
	h_wait_status(e, "anomalies.tail_followers", "==", 2, 10000);
	fleet(e, 4, "20", 100);
	follower_wait_lines(all, 40, 20000);
	follower_wait_lines(one, 10, 20000);
	kill(all->pid, SIGINT);
	kill(one->pid, SIGINT);
	ck_assert_int_eq(reap(all->pid, 5000, NULL), 0);
	ck_assert_int_eq(reap(one->pid, 5000, NULL), 0);
	n_all = follower_check(e, all, NULL);
	n_one = follower_check(e, one, h_node_id(1));
	close(all->out);
	close(one->out);
	free(all);
	free(one);
	h_wait_status(e, "anomalies.tail_followers", "==", 0, 5000);
	printf("# tail printed %u events, %u of %s; Ctrl-C exits 0\n", n_all, n_one, h_node_id(1));
	h_env_free(e);
}
END_TEST

/* status.anomalies.tail_followers_dropped, asked in-process (no edgectl
 * to start): a drop is seen well within edged's linger for its answer. */
static long long followers_dropped(struct h_env *e)
{
	json_t *resp = NULL;
	long long n;

	ck_assert_int_eq(h_ctl_request(e->sock_path, "status", &resp, 5000), 0);
	n = h_json_int(resp, "result.anomalies.tail_followers_dropped");
	json_decref(resp);
	return n;
}

/* The frames a dropped raw follower finds: what was queued, then the
 * too_slow error, then the end. Returns that last frame's text. */
static void raw_read_to_end(int fd, char *last, size_t cap)
{
	uint64_t end = h_now_ms() + 10000;
	uint8_t hdr[4];

	last[0] = '\0';
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t len, got = 0;
		char *body;

		ck_assert_msg(h_now_ms() < end, "no end of the dropped stream");
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t r = recv(fd, hdr, 4, MSG_WAITALL);

		if (r == 0)
			return;
		ck_assert_int_eq(r, 4);
		len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
		body = malloc(len + 1);
		ck_assert_ptr_nonnull(body);
		while (got < len) {
			r = recv(fd, body + got, len - got, 0);
			ck_assert_int_gt(r, 0);
			got += (size_t)r;
		}
		body[len] = '\0';
		snprintf(last, cap, "%s", body);
		free(body);
	}
}

/* A raw client asks for a tail and never reads: edged drops it (too_slow)
 * while it keeps storing and acking and answering other clients. Then an
 * edgectl tail whose output nobody reads: dropped too; once its output is
 * read it ends with status 1 and says why. */
START_TEST(slow_follower_is_dropped)
{
	struct h_env *e = h_world(NULL);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char req[] = "{\"cmd\":\"anomalies.tail\"}";
	uint8_t frame[4 + sizeof req];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
	struct follower *stuck = calloc(1, sizeof *stuck);
	char last[512], err_path[512], *err;
	long long acks;
	uint64_t end;
	size_t bytes;
	json_t *st;

	ck_assert_ptr_nonnull(stuck);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	ck_assert_uint_lt(strlen(e->sock_path), sizeof sa.sun_path);
	memcpy(sa.sun_path, e->sock_path, strlen(e->sock_path) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	frame[0] = frame[1] = frame[2] = 0;
	frame[3] = (uint8_t)(sizeof req - 1);
	memcpy(frame + 4, req, sizeof req - 1);
	ck_assert_int_eq(send(fd, frame, 4 + sizeof req - 1, MSG_NOSIGNAL),
			 (ssize_t)(4 + sizeof req - 1));
	h_wait_status(e, "anomalies.tail_followers", "==", 1, 10000);

	h_sim_start(e, "--count", "10", "--heartbeat-s", "60", "--anomaly-rate", "100",
		    SIM_REPORT_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 10", 30000);
	/* Other clients are served while the follower's output piles up. */
	ck_assert_int_eq(h_edgectl(e, NULL, "anomalies", "list", "--limit", "5", NULL), 0);
	for (end = h_now_ms() + 40000; followers_dropped(e) < 1; h_sleep_ms(20))
		ck_assert_msg(h_now_ms() < end, "the raw follower was not dropped");
	/* edged keeps its answer for CONTROL_SLOW_LINGER_MS (10 s): read it now. */
	raw_read_to_end(fd, last, sizeof last);
	ck_assert_msg(strstr(last, "\"too_slow\""), "the last frame: %s", last);
	close(fd);

	st = h_edgectl_json(e, "status", NULL);
	acks = h_json_int(st, "anomalies.acks_sent");
	ck_assert_int_eq(h_json_int(st, "anomalies.tail_followers"), 0);
	json_decref(st);
	h_wait_status(e, "anomalies.acks_sent", ">=", acks + 1, 10000);
	ck_assert_int_eq(h_edgectl(e, NULL, "anomalies", "list", "--limit", "5", NULL), 0);

	/* Its stdout, a pipe, is not read until edged dropped it. */
	follower_start(e, stuck, (const char *const[]){ "anomalies", "tail", NULL });
	for (end = h_now_ms() + 40000; followers_dropped(e) < 2; h_sleep_ms(20))
		ck_assert_msg(h_now_ms() < end, "the stuck edgectl tail was not dropped");
	bytes = follower_drain(stuck, 20000);
	ck_assert_int_eq(reap(stuck->pid, 5000, NULL), 1);
	snprintf(err_path, sizeof err_path, "%s/tail.err", e->dir);
	err = h_read_file(err_path, NULL);
	ck_assert_msg(err && strstr(err, "too_slow"), "edgectl tail's stderr after %zu bytes:\n%s",
		      bytes, err);
	/* Told too_slow when it caught up within edged's linger, else cut off. */
	printf("# edgectl tail: %s\n", strstr(err, "(too_slow)") ? "too_slow answer" : "cut off");
	free(err);
	close(stuck->out);
	free(stuck);

	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 30000);
	printf("# followers that did not read were dropped (%zu bytes of edgectl's tail); edged "
	       "acked and answered on\n",
	       bytes);
	h_env_free(e);
}
END_TEST

/* With anomaly.query_max_rows at its minimum, a broad query that matches
 * nothing is refused (budget) while narrow ones are answered. */
START_TEST(broad_query_over_budget_is_refused)
{
	static const char *const cfg[] = { "anomaly.query_max_rows", "1000", NULL };
	struct h_env *e = h_world(cfg);
	static const char *const broad[] = { "anomalies", "list", "--min-score", "5", NULL };
	static const char *const broad_export[] = { "anomalies", "list", "--min-score", "5",
						    "--format", "csv", NULL };
	char *out = NULL, *err = NULL;
	json_t *r = NULL;

	fleet(e, 5, "100", 3000);
	fleet_quiet(e);
	ck_assert_int_gt(db_int(e, "SELECT COUNT(*) FROM anomaly_event"), 2000);

	ck_assert_int_eq(h_edgectl_capture(e, 20000, &out, &err, broad), 1);
	ck_assert_msg(strstr(err, "(budget)") && strstr(err, "--since"),
		      "broad list: stderr\n%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(h_edgectl_capture(e, 20000, &out, &err, broad_export), 1);
	ck_assert_msg(strstr(err, "(budget)"), "broad export: stderr\n%s", err);
	ck_assert_msg(out[0] == '\0', "a refused export wrote: %.100s", out);
	free(out);
	free(err);

	ck_assert_int_eq(h_edgectl(e, &r, "anomalies", "list", "--limit", "10", NULL), 0);
	ck_assert_int_eq(json_array_size(json_object_get(r, "events")), 10);
	json_decref(r);
	ck_assert_int_eq(h_edgectl(e, &r, "anomalies", "list", "--device", h_node_id(3),
				   "--limit", "20", NULL),
			 0);
	ck_assert_int_eq(json_array_size(json_object_get(r, "events")), 20);
	json_decref(r);
	printf("# a broad list over > 1000 rows: budget; narrow lists answered\n");
	h_env_free(e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "queries_match_the_database", queries_match_the_database, 90 },
		{ "export_streams_every_row_once", export_streams_every_row_once, 90 },
		{ "tail_follows_new_events", tail_follows_new_events, 60 },
		{ "slow_follower_is_dropped", slow_follower_is_dropped, 90 },
		{ "broad_query_over_budget_is_refused", broad_query_over_budget_is_refused, 60 },
	};

	return h_run_cases(argc, argv, "anomaly_query", cases, sizeof cases / sizeof cases[0]);
}
