/* edgectl central: the central PostgreSQL that every gateway forwards its
 * anomaly history to (docs/central.md). Offline: talks to PostgreSQL, not
 * to edged.
 *
 *   central init   [--conninfo STR | -c FILE] [--json]
 *   central status [--conninfo STR | -c FILE] [--json]
 *
 * The connection string comes from --conninfo, else central.conninfo of the
 * configuration file (-c, default /etc/edged/edged.conf). It is never
 * printed: it may hold a password. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "edge_build_config.h"
#include "edge_central_schema.h"
#include "edge_config.h"
#include "edge_error.h"
#include "edgectl.h"
#include "table.h"

#define DEFAULT_CONFIG EDGE_SYSCONFDIR "/edged/edged.conf"
/* A central database that does not answer is a failure, not a hang. */
#define CONNECT_TIMEOUT_S "10"
/* Bound on each statement edgectl runs centrally (ms). */
#define STATEMENT_TIMEOUT_MS 60000

static const char central_usage[] =
	"Usage: edgectl central init   [--conninfo STR | -c FILE] [--json]\n"
	"       edgectl central status [--conninfo STR | -c FILE] [--json]\n"
	"\n"
	"The central PostgreSQL that gateways forward their anomaly history to\n"
	"(offline: edged need not run).\n"
	"\n"
	"init    create the central schema, or migrate it to this build's version\n"
	"        (safe to run again and from several hosts at once); prints the\n"
	"        version found and the version left.\n"
	"status  per gateway: its last forward, events of the last 24 h, open\n"
	"        episodes and its latest fleet summary (nodes by state,\n"
	"        inferences and anomalies of the day).\n"
	"\n"
	"--conninfo STR  a libpq connection string (\"host=db port=5432 dbname=edged\n"
	"                user=admin sslmode=verify-full\"); keep passwords in a passfile\n"
	"-c, --config F  else central.conninfo of this edged.conf (default\n"
	"                " DEFAULT_CONFIG ")\n"
	"\n"
	"Exit codes: 0 done, 1 the database refused or failed (a schema missing or\n"
	"newer than this build), 2 bad usage, 3 cannot connect.\n";

/* ---- the connection, shared with `anomalies ... --central` */

/* central.conninfo of the configuration file at path. */
static int conninfo_from_config(const char *path, bool explicit_path, char *out, size_t cap)
{
	char err[512];
	edge_config *c = edge_config_new();
	int rc;

	if (!c) {
		fprintf(stderr, "edgectl: out of memory\n");
		return EDGECTL_EDAEMON;
	}
	rc = edge_config_load_file(c, path, err, sizeof err);
	if (rc == -ENOENT && !explicit_path) {
		edge_config_free(c);
		fprintf(stderr, "edgectl: no central database: give --conninfo, or -c FILE with "
				"central.conninfo (%s does not exist)\n", path);
		return EDGECTL_EUSAGE;
	}
	if (rc < 0) {
		edge_config_free(c);
		/* A configuration error names the file and line itself. */
		if (rc == EDGE_ECONFIG)
			fprintf(stderr, "edgectl: %s\n", err);
		else
			fprintf(stderr, "edgectl: %s: %s\n", path, edge_strerror(rc));
		return rc == EDGE_ECONFIG ? EDGECTL_EUSAGE : EDGECTL_EDAEMON;
	}
	rc = edge_config_get(c, "central.conninfo", out, cap);
	edge_config_free(c);
	if (rc < 0) {
		fprintf(stderr, "edgectl: %s: central.conninfo: %s\n", path, edge_strerror(rc));
		return EDGECTL_EDAEMON;
	}
	if (!out[0]) {
		fprintf(stderr, "edgectl: no central database: central.conninfo is empty in %s "
				"(or give --conninfo)\n", path);
		return EDGECTL_EUSAGE;
	}
	return EDGECTL_OK;
}

/* The first line of libpq's message (they end in a newline). */
static const char *pq_message(PGconn *pg, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", pg ? PQerrorMessage(pg) : "out of memory");
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

int edgectl_central_connect(const char *conninfo, const char *config_path, bool check_schema,
			    struct pg_conn **out)
{
	char from_file[2048], msg[512], timeout[64];
	PGconn *pg;
	int rc;

	*out = NULL;
	if (!conninfo) {
		rc = conninfo_from_config(config_path ? config_path : DEFAULT_CONFIG,
					  config_path != NULL, from_file, sizeof from_file);
		if (rc != EDGECTL_OK)
			return rc;
		conninfo = from_file;
	}
	/* Defaults before the string, which overrides them (expand_dbname). */
	const char *const keys[] = { "connect_timeout", "fallback_application_name", "dbname",
				     NULL };
	const char *const values[] = { CONNECT_TIMEOUT_S, "edgectl", conninfo, NULL };
	pg = PQconnectdbParams(keys, values, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "edgectl: cannot connect to the central database: %s\n",
			pq_message(pg, msg, sizeof msg));
		PQfinish(pg);
		return EDGECTL_ENOTRUNNING;
	}
	snprintf(timeout, sizeof timeout, "SET statement_timeout = %d", STATEMENT_TIMEOUT_MS);
	PGresult *r = PQexec(pg, timeout);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		fprintf(stderr, "edgectl: central database: %s\n", pq_message(pg, msg, sizeof msg));
		PQfinish(pg);
		return EDGECTL_EDAEMON;
	}
	if (check_schema) {
		rc = edge_central_schema_check(pg, msg, sizeof msg);
		if (rc < 0) {
			fprintf(stderr, "edgectl: %s\n", msg);
			PQfinish(pg);
			return EDGECTL_EDAEMON;
		}
	}
	*out = pg;
	return EDGECTL_OK;
}

/* ---- init */

static int cmd_init(const char *conninfo, const char *config)
{
	char err[512];
	int from = 0, to = 0, rc;
	PGconn *pg;

	rc = edgectl_central_connect(conninfo, config, false, &pg);
	if (rc != EDGECTL_OK)
		return rc;
	rc = edge_central_schema_migrate(pg, &from, &to, err, sizeof err);
	/* Which database it was, never the whole string (it may hold a
	 * password). */
	char where[256];
	snprintf(where, sizeof where, "database %s on %s port %s", PQdb(pg), PQhost(pg), PQport(pg));
	PQfinish(pg);
	if (rc < 0) {
		fprintf(stderr, "edgectl central init: %s\n", err);
		return EDGECTL_EDAEMON;
	}
	if (edgectl_globals.json) {
		json_t *j = json_pack("{s:i, s:i, s:i, s:b}", "from", from, "to", to, "build",
				      EDGE_CENTRAL_SCHEMA_VERSION, "changed", from != to);
		if (!j)
			return EDGECTL_EDAEMON;
		rc = edgectl_print_json(j);
		json_decref(j);
		return rc;
	}
	if (from == to)
		printf("central schema: version %d, up to date (nothing changed); %s\n", to, where);
	else if (from == 0)
		printf("central schema: created, version %d; %s\n", to, where);
	else
		printf("central schema: migrated from version %d to %d; %s\n", from, to, where);
	return EDGECTL_OK;
}

/* ---- status */

static int64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "12s ago", "5m ago", "3h ago", "2d ago"; "never" for NULL. */
static void fmt_age(char *buf, size_t cap, bool null, int64_t ms, int64_t now)
{
	int64_t s = (now - ms) / 1000;

	if (null)
		snprintf(buf, cap, "never");
	else if (s < 0)
		snprintf(buf, cap, "in %" PRId64 "s (clock skew)", -s);
	else if (s < 120)
		snprintf(buf, cap, "%" PRId64 "s ago", s);
	else if (s < 2 * 3600)
		snprintf(buf, cap, "%" PRId64 "m ago", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, cap, "%" PRId64 "h ago", s / 3600);
	else
		snprintf(buf, cap, "%" PRId64 "d ago", s / 86400);
}

/* Per gateway, cheap on any table size: events of the last 24 h through
 * (gateway, ts_ms), open episodes through the (gateway, ...) key, the
 * newest summary through fleet_summary's key. $1: now - 24 h (ms). */
static const char status_sql[] =
	"SELECT g.gateway, g.first_forward_ms, g.last_forward_ms, g.last_summary_ms,"
	" (SELECT count(*) FROM anomaly_event e"
	"   WHERE e.gateway = g.gateway AND e.ts_ms >= $1::bigint) AS events_24h,"
	" (SELECT count(*) FROM anomaly_episode p"
	"   WHERE p.gateway = g.gateway AND p.state <> 'closed') AS episodes_open,"
	" s.ts_ms, s.nodes_total, s.nodes_online, s.nodes_stale, s.nodes_offline,"
	" s.nodes_revoked, s.day_ms, s.inferences_day, s.anomalies_day"
	" FROM gateway g LEFT JOIN LATERAL"
	" (SELECT * FROM fleet_summary f WHERE f.gateway = g.gateway"
	"   ORDER BY f.ts_ms DESC LIMIT 1) s ON true"
	" ORDER BY g.gateway";

enum {
	ST_GATEWAY, ST_FIRST, ST_LAST, ST_LAST_SUMMARY, ST_EVENTS_24H, ST_EPISODES_OPEN,
	ST_TS, ST_TOTAL, ST_ONLINE, ST_STALE, ST_OFFLINE, ST_REVOKED, ST_DAY, ST_INFER,
	ST_ANOM, ST_NCOLS
};

static json_int_t col_int(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Column col of row as JSON: an integer, or null. */
static json_t *col_json(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_integer(col_int(r, row, col));
}

static json_t *status_json(PGresult *r, int64_t now)
{
	json_t *arr = json_array(), *top = json_object();
	bool ok = arr && top;

	for (int i = 0; ok && i < PQntuples(r); i++) {
		json_t *g = json_object(), *s = json_null();

		if (!PQgetisnull(r, i, ST_TS))
			s = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "ts_ms",
				      col_json(r, i, ST_TS), "nodes_total", col_json(r, i, ST_TOTAL),
				      "nodes_online", col_json(r, i, ST_ONLINE), "nodes_stale",
				      col_json(r, i, ST_STALE), "nodes_offline",
				      col_json(r, i, ST_OFFLINE), "nodes_revoked",
				      col_json(r, i, ST_REVOKED), "day_ms", col_json(r, i, ST_DAY),
				      "inferences_day", col_json(r, i, ST_INFER), "anomalies_day",
				      col_json(r, i, ST_ANOM));
		ok = g && s && json_object_set_new(g, "gateway",
						      json_string(PQgetvalue(r, i, ST_GATEWAY))) == 0 &&
		     json_object_set_new(g, "first_forward_ms", col_json(r, i, ST_FIRST)) == 0 &&
		     json_object_set_new(g, "last_forward_ms", col_json(r, i, ST_LAST)) == 0 &&
		     json_object_set_new(g, "last_forward_age_ms",
					 json_integer(now - col_int(r, i, ST_LAST))) == 0 &&
		     json_object_set_new(g, "last_summary_ms", col_json(r, i, ST_LAST_SUMMARY)) == 0 &&
		     json_object_set_new(g, "events_24h", col_json(r, i, ST_EVENTS_24H)) == 0 &&
		     json_object_set_new(g, "episodes_open", col_json(r, i, ST_EPISODES_OPEN)) == 0 &&
		     json_object_set_new(g, "summary", s) == 0 && json_array_append_new(arr, g) == 0;
		if (!ok) {
			json_decref(g);
			json_decref(s);
		}
	}
	if (ok && json_object_set_new(top, "schema_version",
				      json_integer(EDGE_CENTRAL_SCHEMA_VERSION)) == 0 &&
	    json_object_set_new(top, "now_ms", json_integer(now)) == 0 &&
	    json_object_set_new(top, "gateways", arr) == 0)
		return top;
	json_decref(top);
	json_decref(arr);
	return NULL;
}

static int status_table(PGresult *r, int64_t now)
{
	static const char *const headers[] = { "GATEWAY", "LAST FORWARD", "EVENTS 24H",
					       "OPEN EPISODES", "NODES on/stale/off/rev",
					       "DAY (UTC)", "INFERENCES", "ANOMALIES", "SUMMARY" };
	struct edgectl_table *t = edgectl_table_new(9, headers);
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	for (int i = 0; i < PQntuples(r); i++) {
		char last[40], nodes[64] = "-", day[32] = "-", infer[24] = "-", anom[24] = "-",
								 summary[40];
		bool has_summary = !PQgetisnull(r, i, ST_TS);

		fmt_age(last, sizeof last, PQgetisnull(r, i, ST_LAST), col_int(r, i, ST_LAST), now);
		fmt_age(summary, sizeof summary, !has_summary, col_int(r, i, ST_TS), now);
		if (has_summary) {
			snprintf(nodes, sizeof nodes,
				 "%" JSON_INTEGER_FORMAT ": %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
				 "/%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
				 col_int(r, i, ST_TOTAL), col_int(r, i, ST_ONLINE),
				 col_int(r, i, ST_STALE), col_int(r, i, ST_OFFLINE),
				 col_int(r, i, ST_REVOKED));
			edgectl_format_time(day, sizeof day, col_int(r, i, ST_DAY), "-");
			day[strcspn(day, " ")] = '\0';
			snprintf(infer, sizeof infer, "%s", PQgetvalue(r, i, ST_INFER));
			snprintf(anom, sizeof anom, "%s", PQgetvalue(r, i, ST_ANOM));
		}
		const char *cells[] = { PQgetvalue(r, i, ST_GATEWAY), last,
					PQgetvalue(r, i, ST_EVENTS_24H),
					PQgetvalue(r, i, ST_EPISODES_OPEN), nodes, day, infer, anom,
					summary };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	printf("%d gateway(s); central schema version %d\n", PQntuples(r),
	       EDGE_CENTRAL_SCHEMA_VERSION);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static int cmd_status(const char *conninfo, const char *config)
{
	char since[32], msg[512];
	int64_t now = wall_now_ms();
	PGconn *pg;
	int rc = edgectl_central_connect(conninfo, config, true, &pg);

	if (rc != EDGECTL_OK)
		return rc;
	snprintf(since, sizeof since, "%lld", (long long)(now - 24 * 3600 * 1000LL));
	const char *params[] = { since };
	PGresult *r = PQexecParams(pg, status_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != ST_NCOLS) {
		fprintf(stderr, "edgectl central status: %s\n", pq_message(pg, msg, sizeof msg));
		PQclear(r);
		PQfinish(pg);
		return EDGECTL_EDAEMON;
	}
	if (edgectl_globals.json) {
		json_t *j = status_json(r, now);
		rc = j ? edgectl_print_json(j) : EDGECTL_EDAEMON;
		json_decref(j);
	} else {
		rc = status_table(r, now);
	}
	PQclear(r);
	PQfinish(pg);
	return rc;
}

int edgectl_cmd_central(int argc, char **argv)
{
	const char *conninfo = NULL, *config = NULL, *config_long = NULL, *pos[1];
	const struct edgectl_opt opts[] = {
		{ "--conninfo", &conninfo },
		{ "--config", &config_long },
		{ "-c", &config },
	};
	int npos, rc;

	if (argc < 2) {
		fputs(central_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(central_usage, stdout);
		return EDGECTL_OK;
	}
	/* argv[1] is the verb: parse what follows it, named "central VERB". */
	char name[48];
	snprintf(name, sizeof name, "central %s", argv[1]);
	char *rest[64];
	if (argc - 1 > (int)(sizeof rest / sizeof rest[0])) {
		fprintf(stderr, "edgectl central: too many arguments\n");
		return EDGECTL_EUSAGE;
	}
	rest[0] = name;
	for (int i = 2; i < argc; i++)
		rest[i - 1] = argv[i];
	rc = edgectl_parse_args(argc - 1, rest, central_usage, opts, 3, pos, 0, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (config_long)
		config = config_long;
	if (conninfo && config) {
		fprintf(stderr, "edgectl central: --conninfo and -c exclude each other\n");
		return EDGECTL_EUSAGE;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(conninfo, config);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(conninfo, config);
	fprintf(stderr, "edgectl central: unknown subcommand '%s'\n", argv[1]);
	fputs(central_usage, stderr);
	return EDGECTL_EUSAGE;
}
