/* The central schema and the operator's view of it, on a real PostgreSQL:
 * `edgectl central init` (created, then a no-op, from a config file, many
 * at once), the version check refusing a missing, unreadable or newer
 * schema, a failed migration leaving nothing behind, `edgectl anomalies
 * list|episodes --central` across two gateways' rows (every filter, keyset
 * pages without repeats or skips, the gateway filter) with the indexes of
 * the contract in its plans, and `edgectl central status`.
 *
 * Rows are inserted by SQL as the forwarder would store them; the
 * forwarder itself is tested elsewhere. Run one case with
 * `meson test -C build central_init_creates_then_is_a_no_op`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "edge_central_schema.h"
#include "edge_error.h"
#include "harness.h"
#include "harness_pg.h"

#define EDGECTL_MS 30000
/* 2026-01-01T00:00:00Z: the rows' time base. */
#define BASE_MS 1767225600000LL

struct world {
	struct h_env *e;
	struct h_pg pg;
};

static void world_start(struct world *w)
{
	w->e = h_env_new();
	h_pg_start(&w->pg, w->e->dir);
}

static void world_free(struct world *w)
{
	h_pg_free(&w->pg);
	h_env_free(w->e);
}

/* edgectl ARGS... (NULL-terminated), "--conninfo C" appended; stdout and
 * stderr into *out / *err (caller frees; either may be NULL). */
static int ctl(struct world *w, char **out, char **err, ...) __attribute__((sentinel));
static int ctl(struct world *w, char **out, char **err, ...)
{
	const char *args[40];
	size_t n = 0;
	va_list ap;

	va_start(ap, err);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		ck_assert_uint_lt(n, sizeof args / sizeof args[0] - 3);
		args[n++] = a;
	}
	va_end(ap);
	args[n++] = "--conninfo";
	args[n++] = h_pg_conninfo(&w->pg);
	args[n] = NULL;
	return h_edgectl_capture(w->e, EDGECTL_MS, out, err, args);
}

/* As ctl, the command must succeed with a JSON document on stdout. */
static json_t *ctl_json(struct world *w, ...) __attribute__((sentinel));
static json_t *ctl_json(struct world *w, ...)
{
	const char *args[40];
	size_t n = 0;
	char *out = NULL, *err = NULL;
	va_list ap;

	args[n++] = "--json";
	va_start(ap, w);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		ck_assert_uint_lt(n, sizeof args / sizeof args[0] - 3);
		args[n++] = a;
	}
	va_end(ap);
	args[n++] = "--conninfo";
	args[n++] = h_pg_conninfo(&w->pg);
	args[n] = NULL;
	int rc = h_edgectl_capture(w->e, EDGECTL_MS, &out, &err, args);
	ck_assert_msg(rc == 0, "edgectl %s %s: exit %d: %s", args[1], args[2], rc, err);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);
	ck_assert_msg(j != NULL, "edgectl %s: not JSON (%s): %s", args[1], jerr.text, out);
	free(out);
	free(err);
	return j;
}

static void init_schema(struct world *w)
{
	char *out = NULL;
	int rc = ctl(w, &out, NULL, "central", "init", NULL);

	ck_assert_msg(rc == 0, "central init: exit %d", rc);
	free(out);
}

/* Two gateways' events, episodes and summaries, as forwarded. Per gateway
 * n events on 3 devices, 4 per second (ties in ts_ms within a gateway and
 * across both), labels and models alternating, some without severity or
 * with a summary. */
static void insert_rows(struct world *w, int n)
{
	char sql[4096];

	snprintf(sql, sizeof sql,
		 "INSERT INTO gateway VALUES"
		 " ('gw-a', %lld, %lld, %lld), ('gw-b', %lld, %lld, NULL);"
		 "INSERT INTO anomaly_event SELECT g, 'dev-' || (i %% 3), 1 + (i %% 2), i,"
		 " %lld + (i / 4) * 1000, %lld + (i / 4) * 1000 + 5, 'clock',"
		 " CASE WHEN i %% 5 = 0 THEN 'm2' ELSE 'm1' END, (i %% 100) / 100.0, 0.5,"
		 " CASE WHEN i %% 2 = 0 THEN 'hum' ELSE 'knock' END,"
		 " CASE WHEN i %% 7 = 0 THEN NULL ELSE 1 + i %% 3 END,"
		 " CASE WHEN i %% 10 = 0 THEN ARRAY[0.25, -1.5, i]::real[] END, %lld"
		 " FROM unnest(ARRAY['gw-a', 'gw-b']) g, generate_series(1, %d) i;"
		 "INSERT INTO anomaly_episode SELECT g, 'uid-' || g, i, 'dev-' || (i %% 3),"
		 " CASE WHEN i %% 2 = 0 THEN 'hum' ELSE 'knock' END, 'm1',"
		 " CASE i %% 3 WHEN 0 THEN 'open' WHEN 1 THEN 'confirmed' ELSE 'closed' END,"
		 " %lld + (i / 2) * 60000, %lld + (i / 2) * 60000 + 30000, 3, 0.9,"
		 " NULL, NULL, i FROM unnest(ARRAY['gw-a', 'gw-b']) g, generate_series(1, 40) i;"
		 "INSERT INTO fleet_summary VALUES"
		 " ('gw-a', %lld, 10, 7, 1, 1, 1, %lld, 500, 20, 2),"
		 " ('gw-a', %lld, 10, 8, 1, 1, 0, %lld, 900, 25, 3);"
		 "ANALYZE",
		 BASE_MS, BASE_MS + 1000, BASE_MS + 120000, BASE_MS, BASE_MS + 2000, BASE_MS,
		 BASE_MS, BASE_MS + 10, n, BASE_MS, BASE_MS, BASE_MS + 60000, BASE_MS,
		 BASE_MS + 120000, BASE_MS);
	h_pg_exec(&w->pg, sql);
}

/* The keys of a list in order, one "gateway/device/epoch/seq" per line. */
static const char event_keys_sql[] =
	"SELECT coalesce(string_agg(gateway || '/' || device || '/' || epoch || '/' || seq, E'\\n'"
	" ORDER BY ts_ms DESC, gateway DESC, device DESC, epoch DESC, seq DESC), '')"
	" FROM anomaly_event";

static void append_event_key(char **buf, size_t *len, size_t *cap, json_t *ev)
{
	char line[256];
	int n = snprintf(line, sizeof line, "%s%s/%s/%lld/%lld", *len ? "\n" : "",
			 h_json_str(ev, "gateway"), h_json_str(ev, "device"),
			 h_json_int(ev, "epoch"), h_json_int(ev, "seq"));

	ck_assert(n > 0 && (size_t)n < sizeof line);
	if (*len + (size_t)n + 1 > *cap) {
		*cap = (*cap + (size_t)n + 1) * 2;
		*buf = realloc(*buf, *cap);
		ck_assert_ptr_nonnull(*buf);
	}
	memcpy(*buf + *len, line, (size_t)n + 1);
	*len += (size_t)n;
}

/* `anomalies list --central --format jsonl` with the filter options extra
 * (NULL-terminated) must give exactly the rows of `where` (SQL), in order. */
static void check_export(struct world *w, const char *where, const char *const *extra)
{
	const char *args[32];
	size_t n = 0;
	char *out = NULL, *err = NULL, sql[1024];

	args[n++] = "anomalies";
	args[n++] = "list";
	args[n++] = "--central";
	args[n++] = "--format";
	args[n++] = "jsonl";
	for (; extra && *extra; extra++)
		args[n++] = *extra;
	args[n++] = "--conninfo";
	args[n++] = h_pg_conninfo(&w->pg);
	args[n] = NULL;
	int rc = h_edgectl_capture(w->e, EDGECTL_MS, &out, &err, args);
	ck_assert_msg(rc == 0, "export (%s): exit %d: %s", where, rc, err);

	char *got = NULL;
	size_t len = 0, cap = 0, lines = 0;
	got = calloc(1, 1);
	cap = 1;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *ev = json_loads(line, 0, NULL);
		ck_assert_msg(ev != NULL, "export line is not JSON: %s", line);
		append_event_key(&got, &len, &cap, ev);
		json_decref(ev);
		lines++;
	}
	snprintf(sql, sizeof sql, "%s WHERE %s", event_keys_sql, where);
	char *want = h_pg_text(&w->pg, sql);
	ck_assert_ptr_nonnull(want);
	ck_assert_msg(strcmp(got, want) == 0, "export (%s): %zu rows differ from the database",
		      where, lines);
	free(want);
	free(got);
	free(out);
	free(err);
}

/* ---- the schema */

START_TEST(central_init_creates_then_is_a_no_op)
{
	struct world w;
	char *out = NULL, *err = NULL;

	world_start(&w);
	/* Nothing yet: status says what to do. */
	ck_assert_int_eq(ctl(&w, NULL, &err, "central", "status", NULL), 1);
	ck_assert_msg(strstr(err, "central schema missing: run 'edgectl central init'"), "%s", err);
	free(err);

	ck_assert_int_eq(ctl(&w, &out, NULL, "central", "init", NULL), 0);
	ck_assert_msg(strstr(out, "central schema: created, version 1"), "%s", out);
	free(out);
	/* Exactly the contract's objects. */
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM pg_tables WHERE schemaname ="
					   " current_schema() AND tablename IN ('edged_central_meta',"
					   " 'gateway', 'anomaly_event', 'anomaly_episode',"
					   " 'fleet_summary')"),
			 5);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM pg_indexes WHERE indexname IN"
					   " ('anomaly_event_ts', 'anomaly_event_device_ts',"
					   " 'anomaly_event_gateway_ts', 'anomaly_episode_start',"
					   " 'anomaly_episode_device_start', 'fleet_summary_ts')"),
			 6);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM pg_views WHERE viewname IN"
					   " ('fleet_latest', 'fleet_daily')"),
			 2);
	char *v = h_pg_text(&w.pg, "SELECT value FROM edged_central_meta WHERE key = 'schema_version'");
	ck_assert_str_eq(v, "1");
	free(v);
	/* The contract's checks hold. */
	char state[6];
	ck_assert_int_eq(h_pg_try(&w.pg, "INSERT INTO anomaly_event VALUES ('g', 'd', 1, 1, 1, 1,"
					  " 'sundial', 'm', 1, 1, 'l', NULL, NULL, 1)", state), -1);
	ck_assert_str_eq(state, "23514");

	/* Again: nothing to do, versions printed. */
	ck_assert_int_eq(ctl(&w, &out, NULL, "central", "init", NULL), 0);
	ck_assert_msg(strstr(out, "central schema: version 1, up to date"), "%s", out);
	free(out);
	json_t *j = ctl_json(&w, "central", "init", NULL);
	ck_assert_int_eq(h_json_int(j, "from"), 1);
	ck_assert_int_eq(h_json_int(j, "to"), 1);
	ck_assert(json_is_false(json_object_get(j, "changed")));
	json_decref(j);

	/* Status on the empty schema: no gateway yet. */
	j = ctl_json(&w, "central", "status", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "gateways")), 0);
	json_decref(j);
	world_free(&w);
}
END_TEST

/* The conninfo from edged.conf's [central] section (-c), and the refusals
 * of a missing one. */
START_TEST(central_init_reads_the_config_file)
{
	struct world w;
	char conf[400], text[1024], *out = NULL, *err = NULL;

	world_start(&w);
	snprintf(conf, sizeof conf, "%s/central.conf", w.e->dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[central]\nconninfo = %s\ngateway_id = site-1\n", h_pg_conninfo(&w.pg));
	ck_assert_int_eq(fclose(f), 0);

	const char *init[] = { "central", "init", "-c", conf, NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, &out, &err, init), 0);
	ck_assert_msg(strstr(out, "created, version 1"), "%s / %s", out, err);
	free(out);
	free(err);
	const char *status[] = { "central", "status", "--config", conf, NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, &out, &err, status), 0);
	ck_assert_msg(strstr(out, "0 gateway(s)"), "%s", out);
	free(out);
	free(err);

	/* A config without central.conninfo: a usage error naming the key. */
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[log]\nlevel = info\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, NULL, &err, init), 2);
	ck_assert_msg(strstr(err, "central.conninfo is empty"), "%s", err);
	free(err);
	/* Both sources at once: refused. */
	const char *both[] = { "central", "init", "-c", conf, "--conninfo",
			       h_pg_conninfo(&w.pg), NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, NULL, NULL, both), 2);
	/* An unreachable database: exit 3, within connect_timeout. */
	snprintf(text, sizeof text, "host=127.0.0.1 port=%d dbname=edged user=postgres",
		 h_free_port());
	const char *down[] = { "central", "init", "--conninfo", text, NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, NULL, &err, down), 3);
	ck_assert_msg(strstr(err, "cannot connect to the central database"), "%s", err);
	free(err);
	world_free(&w);
}
END_TEST

#define CONCURRENT_INITS 8

/* Many `central init` at once on an empty database: one creates, the
 * others wait for its lock and find nothing to do; none fails. */
START_TEST(concurrent_inits_serialise)
{
	struct world w;
	pid_t pids[CONCURRENT_INITS];
	char paths[CONCURRENT_INITS][512];

	world_start(&w);
	for (int i = 0; i < CONCURRENT_INITS; i++) {
		snprintf(paths[i], sizeof paths[i], "%s/init-%d.out", w.e->dir, i);
		int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			execl(w.e->edgectl_bin, w.e->edgectl_bin, "--json", "central", "init",
			      "--conninfo", h_pg_conninfo(&w.pg), (char *)NULL);
			_exit(127);
		}
		close(fd);
	}
	uint64_t end = h_now_ms() + EDGECTL_MS;
	int created = 0;
	for (int i = 0; i < CONCURRENT_INITS; i++) {
		int st = 0;
		pid_t r;
		while ((r = waitpid(pids[i], &st, WNOHANG)) == 0 && h_now_ms() < end)
			h_sleep_ms(10);
		if (r == 0) {
			for (int k = i; k < CONCURRENT_INITS; k++)
				kill(pids[k], SIGKILL);
			for (int k = i; k < CONCURRENT_INITS; k++)
				waitpid(pids[k], &st, 0);
			ck_abort_msg("concurrent central init did not finish");
		}
		char *out = h_read_file(paths[i], NULL);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "init %d: status %d: %s", i,
			      st, out);
		json_t *j = json_loads(out, 0, NULL);
		ck_assert_msg(j != NULL, "init %d: %s", i, out);
		ck_assert_int_eq(h_json_int(j, "to"), 1);
		if (h_json_int(j, "from") == 0)
			created++;
		else
			ck_assert_int_eq(h_json_int(j, "from"), 1);
		json_decref(j);
		free(out);
	}
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM edged_central_meta"), 1);
	world_free(&w);
}
END_TEST

/* edge_central_schema_check as edged uses it, and edgectl's refusals. */
START_TEST(check_refuses_missing_unreadable_and_newer_schema)
{
	struct world w;
	char err[256], *text = NULL;
	int from = -1, to = -1;

	world_start(&w);
	PGconn *c = PQconnectdb(h_pg_conninfo(&w.pg));
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));

	ck_assert_int_eq(edge_central_schema_check(c, err, sizeof err), EDGE_ESCHEMA);
	ck_assert_str_eq(err, "central schema missing: run 'edgectl central init'");
	ck_assert_int_eq(ctl(&w, NULL, &text, "anomalies", "list", "--central", NULL), 1);
	ck_assert_msg(strstr(text, "central schema missing: run 'edgectl central init'"), "%s",
		      text);
	free(text);

	/* A failed migration changes nothing: a table of the schema already
	 * there (not ours) makes step 1 fail, and the meta table is not left. */
	h_pg_exec(&w.pg, "CREATE TABLE fleet_summary (x int)");
	ck_assert_int_eq(edge_central_schema_migrate(c, &from, &to, err, sizeof err), -EIO);
	ck_assert_msg(strstr(err, "\"fleet_summary\" already exists"), "%s", err);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM pg_tables WHERE tablename IN"
					   " ('edged_central_meta', 'anomaly_event', 'gateway')"),
			 0);
	h_pg_exec(&w.pg, "DROP TABLE fleet_summary");

	ck_assert_int_eq(edge_central_schema_migrate(c, &from, &to, err, sizeof err), 0);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(to, EDGE_CENTRAL_SCHEMA_VERSION);
	ck_assert_int_eq(edge_central_schema_check(c, err, sizeof err), 0);

	/* Unreadable: the version row gone or garbage. */
	h_pg_exec(&w.pg, "UPDATE edged_central_meta SET value = 'one'");
	ck_assert_int_eq(edge_central_schema_check(c, err, sizeof err), EDGE_ESCHEMA);
	ck_assert_msg(strstr(err, "unreadable"), "%s", err);
	ck_assert_int_eq(edge_central_schema_migrate(c, &from, &to, err, sizeof err), EDGE_ESCHEMA);
	h_pg_exec(&w.pg, "DELETE FROM edged_central_meta");
	ck_assert_int_eq(edge_central_schema_check(c, err, sizeof err), EDGE_ESCHEMA);

	/* Newer than this build: edged and edgectl refuse, nothing changes. */
	h_pg_exec(&w.pg, "INSERT INTO edged_central_meta VALUES ('schema_version', '2')");
	ck_assert_int_eq(edge_central_schema_check(c, err, sizeof err), EDGE_ESCHEMA);
	ck_assert_str_eq(err, "central schema version 2 is newer than this build (1): upgrade edged");
	ck_assert_int_eq(edge_central_schema_migrate(c, &from, &to, err, sizeof err), EDGE_ESCHEMA);
	ck_assert_int_eq(from, 2);
	ck_assert_int_eq(to, 2);
	ck_assert_int_eq(ctl(&w, NULL, &text, "central", "init", NULL), 1);
	ck_assert_msg(strstr(text, "version 2 is newer than this build (1): upgrade edgectl"), "%s",
		      text);
	free(text);
	ck_assert_int_eq(ctl(&w, NULL, &text, "central", "status", NULL), 1);
	ck_assert_msg(strstr(text, "newer than this build"), "%s", text);
	free(text);
	text = h_pg_text(&w.pg, "SELECT value FROM edged_central_meta");
	ck_assert_str_eq(text, "2");
	free(text);

	/* A broken connection is an I/O error, not a schema verdict. */
	PQfinish(c);
	c = PQconnectdb(h_pg_conninfo(&w.pg));
	h_pg_stop(&w.pg);
	ck_assert_int_eq(edge_central_schema_check(c, err, sizeof err), -EIO);
	ck_assert_int_eq(edge_central_schema_check(NULL, err, sizeof err), -EINVAL);
	PQfinish(c);
	world_free(&w);
}
END_TEST

/* ---- anomalies --central */

START_TEST(central_list_across_gateways)
{
	struct world w;

	world_start(&w);
	init_schema(&w);
	insert_rows(&w, 1300); /* 2,600 events: an export spans three pages */

	/* Everything, in the list's order, each row once. */
	check_export(&w, "true", NULL);
	/* Each filter, alone and together, as SQL says. */
	check_export(&w, "gateway = 'gw-b'", (const char *const[]){ "--gateway", "gw-b", NULL });
	check_export(&w, "device = 'dev-1'", (const char *const[]){ "--device", "dev-1", NULL });
	check_export(&w, "label = 'hum'", (const char *const[]){ "--label", "hum", NULL });
	check_export(&w, "model = 'm2'", (const char *const[]){ "--model", "m2", NULL });
	check_export(&w, "score >= 0.9", (const char *const[]){ "--min-score", "0.9", NULL });
	check_export(&w, "ts_ms >= 1767225660000 AND ts_ms < 1767225720000",
		     (const char *const[]){ "--since", "2026-01-01T00:01:00Z", "--until",
					    "2026-01-01T00:02:00Z", NULL });
	check_export(&w,
		     "gateway = 'gw-a' AND device = 'dev-2' AND label = 'knock' AND"
		     " ts_ms >= 1767225700000",
		     (const char *const[]){ "--gateway", "gw-a", "--device", "dev-2", "--label",
					    "knock", "--since", "2026-01-01T00:01:40Z", NULL });
	check_export(&w, "gateway = 'nowhere'",
		     (const char *const[]){ "--gateway", "nowhere", NULL });
	/* --limit on an export. */
	check_export(&w,
		     "(ts_ms, gateway, device, epoch, seq) >= (SELECT ts_ms, gateway, device, epoch,"
		     " seq FROM anomaly_event ORDER BY ts_ms DESC, gateway DESC, device DESC,"
		     " epoch DESC, seq DESC OFFSET 1499 LIMIT 1)",
		     (const char *const[]){ "--limit", "1500", NULL });

	/* Pages of 7 through --cursor: no repeat, no skip, in order. */
	char *got = calloc(1, 1), cursor[512] = "";
	size_t len = 0, cap = 1;
	int pages = 0;
	for (bool more = true; more; pages++) {
		ck_assert_int_lt(pages, 200);
		json_t *j = cursor[0] ? ctl_json(&w, "anomalies", "list", "--central", "--gateway",
						 "gw-a", "--label", "hum", "--limit", "7",
						 "--cursor", cursor, NULL)
				      : ctl_json(&w, "anomalies", "list", "--central", "--gateway",
						 "gw-a", "--label", "hum", "--limit", "7", NULL);
		json_t *ev, *events = json_object_get(j, "events");
		size_t i;
		json_array_foreach(events, i, ev) {
			ck_assert_str_eq(h_json_str(ev, "gateway"), "gw-a");
			append_event_key(&got, &len, &cap, ev);
		}
		more = json_is_true(json_object_get(j, "more"));
		ck_assert_int_eq(h_json_int(j, "count"), (long long)json_array_size(events));
		char *c = json_dumps(json_object_get(j, "cursor"), JSON_COMPACT);
		ck_assert_ptr_nonnull(c);
		snprintf(cursor, sizeof cursor, "%s", c);
		free(c);
		json_decref(j);
	}
	char *want = h_pg_text(&w.pg, "SELECT string_agg(gateway || '/' || device || '/' || epoch"
				      " || '/' || seq, E'\\n' ORDER BY ts_ms DESC, gateway DESC,"
				      " device DESC, epoch DESC, seq DESC) FROM anomaly_event"
				      " WHERE gateway = 'gw-a' AND label = 'hum'");
	ck_assert_msg(strcmp(got, want) == 0, "pages of 7 differ from the database");
	ck_assert_int_eq(pages, (650 + 6) / 7);
	free(want);
	free(got);

	/* The row as stored: every field, a summary array, no severity. */
	json_t *j = ctl_json(&w, "anomalies", "list", "--central", "--gateway", "gw-b", "--until",
			     "2026-01-01T00:00:18Z", "--since", "2026-01-01T00:00:17Z", "--device",
			     "dev-1", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "events")), 1);
	json_t *ev = json_array_get(json_object_get(j, "events"), 0);
	ck_assert_int_eq(h_json_int(ev, "seq"), 70);
	ck_assert_int_eq(h_json_int(ev, "epoch"), 1);
	ck_assert_int_eq(h_json_int(ev, "ts_ms"), BASE_MS + 17000);
	ck_assert_int_eq(h_json_int(ev, "received_ms"), BASE_MS + 17005);
	ck_assert_int_eq(h_json_int(ev, "forwarded_ms"), BASE_MS + 10);
	ck_assert_str_eq(h_json_str(ev, "time_source"), "clock");
	ck_assert_str_eq(h_json_str(ev, "label"), "hum");
	ck_assert_double_eq_tol(json_real_value(json_object_get(ev, "score")), 0.70, 1e-9);
	ck_assert_ptr_null(json_object_get(ev, "severity"));
	json_t *sum = json_object_get(ev, "summary");
	ck_assert_int_eq(json_array_size(sum), 3);
	ck_assert_double_eq(json_real_value(json_array_get(sum, 1)), -1.5);
	ck_assert_double_eq(json_real_value(json_array_get(sum, 2)), 70.0);
	json_decref(j);

	/* The table names the gateway; CSV has the central columns. */
	char *out = NULL;
	ck_assert_int_eq(ctl(&w, &out, NULL, "anomalies", "list", "--central", "--limit", "3",
			     NULL), 0);
	ck_assert_msg(strncmp(out, "GATEWAY", 7) == 0 && strstr(out, "gw-b") &&
			      strstr(out, "3 event(s); more match"), "%s", out);
	free(out);
	ck_assert_int_eq(ctl(&w, &out, NULL, "anomalies", "list", "--central", "--format", "csv",
			     "--limit", "1", NULL), 0);
	ck_assert_msg(strncmp(out, "gateway,device,epoch,seq,ts_ms,time,", 36) == 0, "%s", out);
	free(out);

	/* Episodes: the gateway filter, --open, pages. */
	j = ctl_json(&w, "anomalies", "episodes", "--central", "--gateway", "gw-b", "--open",
		     "--limit", "1000", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "episodes")),
			 h_pg_count(&w.pg, "SELECT count(*) FROM anomaly_episode WHERE"
					   " gateway = 'gw-b' AND state <> 'closed'"));
	ck_assert(json_is_false(json_object_get(j, "more")));
	json_decref(j);
	long long seen = 0, prev_start = -1;
	cursor[0] = '\0';
	pages = 0;
	for (bool more = true; more; pages++) {
		ck_assert_int_lt(pages, 100);
		j = cursor[0] ? ctl_json(&w, "anomalies", "episodes", "--central", "--limit", "3",
					 "--cursor", cursor, NULL)
			      : ctl_json(&w, "anomalies", "episodes", "--central", "--limit", "3",
					 NULL);
		json_t *ep, *eps = json_object_get(j, "episodes");
		size_t i;
		json_array_foreach(eps, i, ep) {
			long long start = h_json_int(ep, "start_ms");
			ck_assert(prev_start < 0 || start <= prev_start);
			prev_start = start;
			seen++;
		}
		more = json_is_true(json_object_get(j, "more"));
		char *c = json_dumps(json_object_get(j, "cursor"), JSON_COMPACT);
		snprintf(cursor, sizeof cursor, "%s", c);
		free(c);
		json_decref(j);
	}
	ck_assert_int_eq(seen, 80);

	/* Usage: central-only options need --central; a bad cursor. */
	ck_assert_int_eq(ctl(&w, NULL, NULL, "anomalies", "list", "--gateway", "gw-a", NULL), 2);
	ck_assert_int_eq(ctl(&w, NULL, NULL, "anomalies", "list", "--central", "--cursor",
			     "{\"ts_ms\": 1}", NULL), 2);
	world_free(&w);
}
END_TEST

/* stats --central: groups and exact percentiles as SQL computes them,
 * empty hours between, --by gateway, devices named GATEWAY/DEVICE. */
START_TEST(central_stats_across_gateways)
{
	struct world w;
	char sql[512];

	world_start(&w);
	init_schema(&w);
	insert_rows(&w, 400); /* every event in the first hour of 2026 */
	snprintf(sql, sizeof sql,
		 "INSERT INTO anomaly_event SELECT 'gw-b', 'dev-9', 1, 1000 + i, %lld + i, %lld,"
		 " 'age', 'm1', i / 10.0, 0.5, 'hum', NULL, NULL, %lld FROM generate_series(1, 5) i",
		 BASE_MS + 3 * 3600000LL, BASE_MS, BASE_MS);
	h_pg_exec(&w.pg, sql);

	json_t *j = ctl_json(&w, "anomalies", "stats", "--central", "--by", "hour", "--since",
			     "2026-01-01", "--until", "2026-01-02", NULL);
	json_t *g = json_object_get(j, "groups");
	ck_assert_int_eq(json_array_size(g), 4);
	static const long long counts[] = { 800, 0, 0, 5 };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(h_json_int(json_array_get(g, i), "bucket_ms"),
				 BASE_MS + (long long)i * 3600000);
		ck_assert_int_eq(h_json_int(json_array_get(g, i), "count"), counts[i]);
	}
	ck_assert_int_eq(h_json_int(j, "total.count"), 805);
	ck_assert_str_eq(h_json_str(j, "source"), "central");
	double p90 = json_real_value(json_object_get(json_array_get(g, 0), "p90"));
	char *want = h_pg_text(&w.pg, "SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY score)"
				      " FROM anomaly_event WHERE ts_ms < 1767229200000");
	ck_assert_double_eq_tol(p90, strtod(want, NULL), 1e-12);
	free(want);
	json_decref(j);

	j = ctl_json(&w, "anomalies", "stats", "--central", "--by", "gateway", NULL);
	g = json_object_get(j, "groups");
	ck_assert_int_eq(json_array_size(g), 2);
	ck_assert_str_eq(h_json_str(json_array_get(g, 0), "key"), "gw-b");
	ck_assert_int_eq(h_json_int(json_array_get(g, 0), "count"), 405);
	ck_assert_str_eq(h_json_str(json_array_get(g, 1), "key"), "gw-a");
	ck_assert_int_eq(h_json_int(json_array_get(g, 1), "count"), 400);
	json_decref(j);

	j = ctl_json(&w, "anomalies", "stats", "--central", "--by", "device", "--gateway", "gw-a",
		     "--label", "knock", NULL);
	g = json_object_get(j, "groups");
	ck_assert_int_eq(json_array_size(g), 3);
	json_t *grp;
	size_t i;
	long long sum = 0;
	json_array_foreach(g, i, grp) {
		const char *key = h_json_str(grp, "key");
		ck_assert_msg(strncmp(key, "gw-a/dev-", 9) == 0, "%s", key);
		snprintf(sql, sizeof sql, "SELECT count(*) FROM anomaly_event WHERE gateway = 'gw-a'"
					  " AND label = 'knock' AND device = '%s'", key + 5);
		ck_assert_int_eq(h_json_int(grp, "count"), h_pg_count(&w.pg, sql));
		sum += h_json_int(grp, "count");
	}
	ck_assert_int_eq(sum, 200);
	json_decref(j);

	/* The table, and --by gateway refused without --central. */
	char *out = NULL;
	ck_assert_int_eq(ctl(&w, &out, NULL, "anomalies", "stats", "--central", "--by", "label",
			     NULL), 0);
	ck_assert_msg(strstr(out, "LABEL") && strstr(out, "hum") && strstr(out, "source central"),
		      "%s", out);
	free(out);
	const char *local[] = { "anomalies", "stats", "--by", "gateway", NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, NULL, NULL, local), 2);
	world_free(&w);
}
END_TEST

/* The plan of each list names the index the contract made for it. */
static void check_plan(struct world *w, const char *index, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	char *out = NULL, *err = NULL;

	argv[n++] = "anomalies";
	for (; *args; args++)
		argv[n++] = *args;
	argv[n++] = "--central";
	argv[n++] = "--explain";
	argv[n++] = "--conninfo";
	argv[n++] = h_pg_conninfo(&w->pg);
	argv[n] = NULL;
	ck_assert_int_eq(h_edgectl_capture(w->e, EDGECTL_MS, &out, &err, argv), 0);
	ck_assert_msg(strstr(out, index) && !strstr(out, "Seq Scan"),
		      "the plan of anomalies %s does not use %s:\n%s", argv[1], index, out);
	free(out);
	free(err);
}

START_TEST(central_queries_use_the_indexes)
{
	struct world w;

	world_start(&w);
	init_schema(&w);
	insert_rows(&w, 20000);
	h_pg_exec(&w.pg, "INSERT INTO anomaly_episode SELECT 'gw-c', 'u', i, 'dev-' || (i % 50),"
			 " 'hum', 'm1', 'closed', i * 1000, i * 1000 + 10, 1, 0.5, NULL, NULL, 1"
			 " FROM generate_series(1, 20000) i; ANALYZE");

	check_plan(&w, "anomaly_event_ts", (const char *const[]){ "list", NULL });
	check_plan(&w, "anomaly_event_ts",
		   (const char *const[]){ "list", "--since", "2026-01-01T01:00:00Z", "--until",
					  "2026-01-01T01:10:00Z", "--label", "hum", NULL });
	check_plan(&w, "anomaly_event_ts",
		   (const char *const[]){ "list", "--cursor",
					  "{\"ts_ms\": 1767228000000, \"gateway\": \"gw-b\","
					  " \"device\": \"dev-1\", \"epoch\": 1, \"seq\": 9000}",
					  NULL });
	check_plan(&w, "anomaly_event_device_ts",
		   (const char *const[]){ "list", "--device", "dev-2", NULL });
	check_plan(&w, "anomaly_event_gateway_ts",
		   (const char *const[]){ "list", "--gateway", "gw-a", NULL });
	check_plan(&w, "anomaly_event_ts",
		   (const char *const[]){ "list", "--format", "jsonl", NULL });
	check_plan(&w, "anomaly_episode_start", (const char *const[]){ "episodes", NULL });
	check_plan(&w, "anomaly_episode_device_start",
		   (const char *const[]){ "episodes", "--device", "dev-7", NULL });
	world_free(&w);
}
END_TEST

/* ---- central status and the dashboard views */

START_TEST(central_status_per_gateway)
{
	struct world w;
	char sql[512];

	world_start(&w);
	init_schema(&w);
	insert_rows(&w, 100);
	/* Events of the last 24 h count; older ones do not. */
	long long now = h_pg_count(&w.pg, "SELECT (extract(epoch FROM now()) * 1000)::bigint");
	snprintf(sql, sizeof sql,
		 "INSERT INTO anomaly_event SELECT 'gw-b', 'dev-9', 1, 100000 + i, %lld - i * 60000,"
		 " %lld, 'received', 'm1', 0.9, 0.5, 'hum', NULL, NULL, %lld"
		 " FROM generate_series(1, 12) i; UPDATE gateway SET last_forward_ms = %lld",
		 now, now, now, now - 3000);
	h_pg_exec(&w.pg, sql);

	json_t *j = ctl_json(&w, "central", "status", NULL);
	json_t *gws = json_object_get(j, "gateways");
	ck_assert_int_eq(json_array_size(gws), 2);
	json_t *a = json_array_get(gws, 0), *b = json_array_get(gws, 1);
	ck_assert_str_eq(h_json_str(a, "gateway"), "gw-a");
	ck_assert_str_eq(h_json_str(b, "gateway"), "gw-b");
	ck_assert_int_eq(h_json_int(a, "events_24h"), 0);
	ck_assert_int_eq(h_json_int(b, "events_24h"), 12);
	ck_assert_int_eq(h_json_int(a, "episodes_open"),
			 h_pg_count(&w.pg, "SELECT count(*) FROM anomaly_episode WHERE"
					   " gateway = 'gw-a' AND state <> 'closed'"));
	ck_assert_int_eq(h_json_int(b, "last_forward_ms"), now - 3000);
	/* gw-a's latest summary, none for gw-b. */
	ck_assert_int_eq(h_json_int(a, "summary.ts_ms"), BASE_MS + 120000);
	ck_assert_int_eq(h_json_int(a, "summary.nodes_online"), 8);
	ck_assert_int_eq(h_json_int(a, "summary.inferences_day"), 900);
	ck_assert_int_eq(h_json_int(a, "summary.anomalies_day"), 25);
	ck_assert(json_is_null(json_object_get(b, "summary")));
	json_decref(j);

	char *out = NULL;
	ck_assert_int_eq(ctl(&w, &out, NULL, "central", "status", NULL), 0);
	ck_assert_msg(strstr(out, "GATEWAY") && strstr(out, "gw-a") && strstr(out, "10: 8/1/1/0") &&
			      strstr(out, "2 gateway(s)"), "%s", out);
	free(out);

	/* The dashboard views: the newest summary per gateway and per day. */
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT nodes_online FROM fleet_latest WHERE"
					   " gateway = 'gw-a'"), 8);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM fleet_daily"), 1);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT inferences_day FROM fleet_daily"), 900);
	world_free(&w);
}
END_TEST

/* ---- roles (docs/central.md): each gateway its own */

/* What the forwarder sends for gateway g, in the shape of its statement:
 * data-modifying CTEs, the conflict rules of the contract. seq and rev
 * vary the rows. */
static int forward_as(PGconn *c, const char *g, int seq, int rev, char state[6])
{
	char sql[2048];

	snprintf(sql, sizeof sql,
		 "WITH ev AS (INSERT INTO anomaly_event VALUES ('%s', 'dev-1', 1, %d, %lld, %lld,"
		 " 'clock', 'm1', 0.9, 0.5, 'hum', NULL, ARRAY[1]::real[], %lld)"
		 " ON CONFLICT DO NOTHING RETURNING 1),"
		 " ep AS (INSERT INTO anomaly_episode AS c VALUES ('%s', 'u1', 1, 'dev-1', 'hum',"
		 " 'm1', 'open', %lld, %lld, %d, 0.9, NULL, NULL, %d)"
		 " ON CONFLICT (gateway, store_uid, id) DO UPDATE SET count = excluded.count,"
		 " rev = excluded.rev WHERE c.rev < excluded.rev RETURNING 1),"
		 " su AS (INSERT INTO fleet_summary VALUES ('%s', %lld, 3, 3, 0, 0, 0, %lld, 10, 1, 1)"
		 " ON CONFLICT DO NOTHING RETURNING 1),"
		 " gw AS (INSERT INTO gateway AS g VALUES ('%s', %lld, %lld, %lld)"
		 " ON CONFLICT (gateway) DO UPDATE SET last_forward_ms = excluded.last_forward_ms,"
		 " last_summary_ms = greatest(g.last_summary_ms, excluded.last_summary_ms))"
		 " SELECT count(*) FROM ev",
		 g, seq, BASE_MS + seq, BASE_MS + seq, BASE_MS + seq, g, BASE_MS, BASE_MS + seq, rev,
		 rev, g, BASE_MS + seq, BASE_MS, g, BASE_MS, BASE_MS + seq, BASE_MS + seq);
	PGresult *r = PQexec(c, sql);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	snprintf(state, 6, "%s", rc == 0 ? "" : code ? code : "?????");
	PQclear(r);
	return rc;
}

static void expect_refused(PGconn *c, const char *sql, const char *want_state)
{
	PGresult *r = PQexec(c, sql);
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR && code &&
			      strcmp(code, want_state) == 0,
		      "%s: want SQLSTATE %s, got %s (%s)", sql, want_state, code ? code : "none",
		      PQerrorMessage(c));
	PQclear(r);
}

START_TEST(gateway_roles_write_their_rows_only)
{
	struct world w;
	char state[6], err[256];

	world_start(&w);
	init_schema(&w);
	h_pg_roles(&w.pg);
	h_pg_exec(&w.pg, "CREATE ROLE \"gw-a\" LOGIN IN ROLE edged_gateway;"
			 "CREATE ROLE \"gw-b\" LOGIN IN ROLE edged_gateway;"
			 "CREATE ROLE dash LOGIN IN ROLE edged_reader;");

	PGconn *a = PQconnectdb(h_pg_conninfo_as(&w.pg, NULL, "gw-a"));
	ck_assert_msg(PQstatus(a) == CONNECTION_OK, "%s", PQerrorMessage(a));
	/* What a gateway does: check the version, forward, forward again (the
	 * conflict paths), a newer episode rev. */
	ck_assert_int_eq(edge_central_schema_check(a, err, sizeof err), 0);
	ck_assert_msg(forward_as(a, "gw-a", 1, 1, state) == 0, "forward: %s %s", state,
		      PQerrorMessage(a));
	ck_assert_msg(forward_as(a, "gw-a", 1, 1, state) == 0, "again: %s", state);
	ck_assert_msg(forward_as(a, "gw-a", 2, 5, state) == 0, "newer: %s", state);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM anomaly_event"), 2);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT rev FROM anomaly_episode"), 5);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT last_forward_ms FROM gateway"), BASE_MS + 2);

	/* Nothing else: no delete, no rewrite of events, no DDL, no init. */
	expect_refused(a, "DELETE FROM anomaly_event", "42501");
	expect_refused(a, "UPDATE anomaly_event SET score = 0", "42501");
	expect_refused(a, "TRUNCATE fleet_summary", "42501");
	expect_refused(a, "DELETE FROM gateway", "42501");
	expect_refused(a, "UPDATE edged_central_meta SET value = '9'", "42501");
	expect_refused(a, "CREATE TABLE mine (x int)", "42501");
	expect_refused(a, "DROP TABLE anomaly_event", "42501");
	int from = -1, to = -1;
	ck_assert_int_eq(edge_central_schema_migrate(a, &from, &to, err, sizeof err), 0);
	ck_assert_int_eq(from, 1); /* up to date: nothing it would need rights for */
	/* Grants alone: another site's name is accepted (the gap RLS closes). */
	ck_assert_msg(forward_as(a, "gw-b", 3, 1, state) == 0, "as gw-b before RLS: %s", state);
	h_pg_exec(&w.pg, "DELETE FROM anomaly_event WHERE gateway = 'gw-b';"
			 "DELETE FROM anomaly_episode WHERE gateway = 'gw-b';"
			 "DELETE FROM fleet_summary WHERE gateway = 'gw-b';"
			 "DELETE FROM gateway WHERE gateway = 'gw-b'");

	/* Row-level security: a site writes under its own name only, every
	 * path of the forwarder still works for it. */
	h_pg_row_security(&w.pg);
	ck_assert_int_eq(forward_as(a, "gw-b", 4, 1, state), -1);
	ck_assert_str_eq(state, "42501");
	ck_assert_msg(forward_as(a, "gw-a", 4, 6, state) == 0, "own after RLS: %s %s", state,
		      PQerrorMessage(a));
	ck_assert_msg(forward_as(a, "gw-a", 4, 6, state) == 0, "own again: %s", state);
	PGconn *b = PQconnectdb(h_pg_conninfo_as(&w.pg, NULL, "gw-b"));
	ck_assert_msg(PQstatus(b) == CONNECTION_OK, "%s", PQerrorMessage(b));
	ck_assert_msg(forward_as(b, "gw-b", 1, 1, state) == 0, "gw-b: %s %s", state,
		      PQerrorMessage(b));
	/* A site sees its own rows only; it cannot touch the other's. */
	PGresult *r = PQexec(b, "SELECT count(*) FROM anomaly_event");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	r = PQexec(b, "UPDATE anomaly_episode SET rev = 100 WHERE gateway = 'gw-a' RETURNING 1");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(r), 0);
	PQclear(r);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT rev FROM anomaly_episode WHERE gateway = 'gw-a'"),
			 6);
	ck_assert_int_eq(h_pg_count(&w.pg, "SELECT count(*) FROM anomaly_event"), 4);
	PQfinish(a);
	PQfinish(b);

	/* The reader: everything through edgectl, nothing written. */
	char *out = NULL, *errtext = NULL;
	const char *list[] = { "--json", "anomalies", "list", "--central", "--conninfo",
			       h_pg_conninfo_as(&w.pg, NULL, "dash"), NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, &out, &errtext, list), 0);
	json_t *j = json_loads(out, 0, NULL);
	ck_assert_msg(j != NULL, "%s / %s", out, errtext);
	ck_assert_int_eq(h_json_int(j, "count"), 4);
	json_decref(j);
	free(out);
	free(errtext);
	const char *status[] = { "central", "status", "--conninfo",
				 h_pg_conninfo_as(&w.pg, NULL, "dash"), NULL };
	ck_assert_int_eq(h_edgectl_capture(w.e, EDGECTL_MS, &out, NULL, status), 0);
	ck_assert_msg(strstr(out, "2 gateway(s)"), "%s", out);
	free(out);
	PGconn *d = PQconnectdb(h_pg_conninfo_as(&w.pg, NULL, "dash"));
	ck_assert_msg(PQstatus(d) == CONNECTION_OK, "%s", PQerrorMessage(d));
	expect_refused(d, "INSERT INTO gateway VALUES ('x', 1, 1, NULL)", "42501");
	expect_refused(d, "DELETE FROM anomaly_event", "42501");
	PQfinish(d);
	/* A role of neither group cannot even connect. */
	h_pg_exec(&w.pg, "CREATE ROLE stranger LOGIN");
	PGconn *s = PQconnectdb(h_pg_conninfo_as(&w.pg, NULL, "stranger"));
	ck_assert_int_eq(PQstatus(s), CONNECTION_BAD);
	PQfinish(s);
	world_free(&w);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "central_init_creates_then_is_a_no_op", central_init_creates_then_is_a_no_op, 120 },
		{ "central_init_reads_the_config_file", central_init_reads_the_config_file, 120 },
		{ "concurrent_inits_serialise", concurrent_inits_serialise, 120 },
		{ "check_refuses_missing_unreadable_and_newer_schema",
		  check_refuses_missing_unreadable_and_newer_schema, 120 },
		{ "central_list_across_gateways", central_list_across_gateways, 240 },
		{ "central_stats_across_gateways", central_stats_across_gateways, 120 },
		{ "central_queries_use_the_indexes", central_queries_use_the_indexes, 180 },
		{ "central_status_per_gateway", central_status_per_gateway, 120 },
		{ "gateway_roles_write_their_rows_only", gateway_roles_write_their_rows_only, 120 },
	};

	h_pg_require();
	return h_run_cases(argc, argv, "central_schema", cases, sizeof cases / sizeof cases[0]);
}
