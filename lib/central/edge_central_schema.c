/* The central schema and its migrations, keyed on
 * edged_central_meta('schema_version').
 *
 * Step i (1-based) brings the schema from version i-1 to i. Every step
 * missing runs in one transaction with the version bump, under an advisory
 * lock, so concurrent `edgectl central init` runs serialise and a failure
 * leaves the database as it was. Steps are append-only: never edit a
 * released step (gateways in the field check the version, not the tables);
 * add a new one and bump EDGE_CENTRAL_SCHEMA_VERSION. */
#include "edge_central_schema.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_error.h"

/* pg_advisory_xact_lock key of schema changes: "edgedCSM" as a big-endian
 * int64, unlikely to meet another application's key in a shared database. */
#define CENTRAL_SCHEMA_LOCK_KEY "7306078180673278797"
/* A run waiting on another's migration gives up after this long. */
#define CENTRAL_SCHEMA_LOCK_TIMEOUT "'120s'"

static const char *const migrations[] = {
	/* 1: events, episodes and fleet summaries of every gateway. Times are
	 * ms since the Unix epoch, as in each gateway's SQLite history. The
	 * indexes serve the queries of `edgectl anomalies ... --central`: by
	 * time, by device and time, by gateway and time. */
	"CREATE TABLE edged_central_meta (key text PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE gateway ("
	" gateway text PRIMARY KEY,"
	" first_forward_ms bigint NOT NULL,"
	" last_forward_ms bigint NOT NULL,"
	" last_summary_ms bigint"
	");"
	"CREATE TABLE anomaly_event ("
	" gateway text NOT NULL, device text NOT NULL, epoch bigint NOT NULL, seq bigint NOT NULL,"
	" ts_ms bigint NOT NULL, received_ms bigint NOT NULL,"
	" time_source text NOT NULL CHECK (time_source IN ('age','clock','received')),"
	" model text NOT NULL, score double precision NOT NULL, threshold double precision NOT NULL,"
	" label text NOT NULL, severity smallint, summary real[],"
	" forwarded_ms bigint NOT NULL,"
	" PRIMARY KEY (gateway, device, epoch, seq)"
	");"
	"CREATE INDEX anomaly_event_ts ON anomaly_event (ts_ms);"
	"CREATE INDEX anomaly_event_device_ts ON anomaly_event (device, ts_ms);"
	"CREATE INDEX anomaly_event_gateway_ts ON anomaly_event (gateway, ts_ms);"
	"CREATE TABLE anomaly_episode ("
	" gateway text NOT NULL, store_uid text NOT NULL, id bigint NOT NULL,"
	" device text NOT NULL, label text NOT NULL, model text NOT NULL,"
	" state text NOT NULL CHECK (state IN ('open','confirmed','closed')),"
	" start_ms bigint NOT NULL, end_ms bigint NOT NULL, count bigint NOT NULL,"
	" peak_score double precision NOT NULL, confirmed_ms bigint, closed_ms bigint,"
	" rev bigint NOT NULL,"
	" PRIMARY KEY (gateway, store_uid, id)"
	");"
	"CREATE INDEX anomaly_episode_start ON anomaly_episode (start_ms);"
	"CREATE INDEX anomaly_episode_device_start ON anomaly_episode (device, start_ms);"
	"CREATE TABLE fleet_summary ("
	" gateway text NOT NULL, ts_ms bigint NOT NULL,"
	" nodes_total integer NOT NULL, nodes_online integer NOT NULL, nodes_stale integer NOT NULL,"
	" nodes_offline integer NOT NULL, nodes_revoked integer NOT NULL,"
	" day_ms bigint NOT NULL,"
	" inferences_day bigint NOT NULL,"
	" anomalies_day bigint NOT NULL,"
	" episodes_open integer NOT NULL,"
	" PRIMARY KEY (gateway, ts_ms)"
	");"
	"CREATE INDEX fleet_summary_ts ON fleet_summary (ts_ms);"
	"CREATE VIEW fleet_latest AS SELECT DISTINCT ON (gateway) * FROM fleet_summary"
	" ORDER BY gateway, ts_ms DESC;"
	"CREATE VIEW fleet_daily AS SELECT DISTINCT ON (gateway, day_ms) gateway, day_ms,"
	" inferences_day, anomalies_day FROM fleet_summary ORDER BY gateway, day_ms, ts_ms DESC;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == EDGE_CENTRAL_SCHEMA_VERSION,
	       "one migration step per central schema version");

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* PostgreSQL's messages end in a newline (sometimes several lines). */
	size_t n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

/* Run sql (one or more statements, no result rows wanted). */
static int exec(PGconn *pg, const char *what, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		set_err(err, errlen, "%s: %s", what, PQerrorMessage(pg));
		rc = -EIO;
	}
	PQclear(r);
	return rc;
}

int edge_central_schema_version(PGconn *pg, int *version, char *err, size_t errlen)
{
	PGresult *r;
	int rc = 0;

	assert(version != NULL);
	if (!pg) {
		set_err(err, errlen, "no connection to the central database");
		return -EINVAL;
	}
	/* to_regclass follows search_path, as the unqualified names of the
	 * schema do; a missing table is NULL, not an error. */
	r = PQexec(pg, "SELECT to_regclass('edged_central_meta') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		set_err(err, errlen, "reading the central schema: %s", PQerrorMessage(pg));
		PQclear(r);
		return -EIO;
	}
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists) {
		*version = 0;
		return 0;
	}
	r = PQexec(pg, "SELECT value FROM edged_central_meta WHERE key = 'schema_version'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		set_err(err, errlen, "reading the central schema version: %s", PQerrorMessage(pg));
		rc = -EIO;
	} else if (PQntuples(r) != 1) {
		*version = -1;
	} else {
		const char *text = PQgetvalue(r, 0, 0);
		char *end;
		errno = 0;
		long v = strtol(text, &end, 10);
		*version = errno == 0 && end != text && *end == '\0' && v >= 1 && v <= 1000000
				   ? (int)v
				   : -1;
	}
	PQclear(r);
	return rc;
}

/* The refusal for a version this build cannot use (EDGE_ESCHEMA), or 0. */
static int version_refusal(int version, bool migrating, char *err, size_t errlen)
{
	if (version < 0) {
		set_err(err, errlen,
			"central schema version is unreadable (edged_central_meta has no valid 'schema_version' row)");
		return EDGE_ESCHEMA;
	}
	if (version > EDGE_CENTRAL_SCHEMA_VERSION) {
		set_err(err, errlen,
			"central schema version %d is newer than this build (%d): upgrade %s",
			version, EDGE_CENTRAL_SCHEMA_VERSION, migrating ? "edgectl" : "edged");
		return EDGE_ESCHEMA;
	}
	return 0;
}

static int rollback(PGconn *pg, int rc)
{
	/* After a failed statement the transaction is aborted; ROLLBACK ends
	 * it. Its own failure (a lost connection) changes nothing for us. */
	PQclear(PQexec(pg, "ROLLBACK"));
	return rc;
}

int edge_central_schema_migrate(PGconn *pg, int *from, int *to, char *err, size_t errlen)
{
	char sql[160];
	int version = 0, rc;

	if (!pg) {
		set_err(err, errlen, "no connection to the central database");
		return -EINVAL;
	}
	if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
		set_err(err, errlen, "the central connection is inside a transaction");
		return -EINVAL;
	}
	rc = exec(pg, "starting the schema transaction",
		  "BEGIN;"
		  "SET LOCAL lock_timeout = " CENTRAL_SCHEMA_LOCK_TIMEOUT ";"
		  "SELECT pg_advisory_xact_lock(" CENTRAL_SCHEMA_LOCK_KEY ");",
		  err, errlen);
	if (rc < 0)
		return rollback(pg, rc);
	/* Read under the lock: a run that waited sees what the other did. */
	rc = edge_central_schema_version(pg, &version, err, errlen);
	if (rc < 0)
		return rollback(pg, rc);
	if (from)
		*from = version;
	if (to)
		*to = version;
	rc = version_refusal(version, true, err, errlen);
	if (rc < 0)
		return rollback(pg, rc);
	for (int v = version + 1; v <= EDGE_CENTRAL_SCHEMA_VERSION; v++) {
		char what[64];
		snprintf(what, sizeof what, "central schema step %d", v);
		rc = exec(pg, what, migrations[v - 1], err, errlen);
		if (rc < 0)
			return rollback(pg, rc);
	}
	if (version < EDGE_CENTRAL_SCHEMA_VERSION) {
		/* The value is our own integer: no quoting concern. */
		snprintf(sql, sizeof sql,
			 "INSERT INTO edged_central_meta VALUES ('schema_version', '%d')"
			 " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			 EDGE_CENTRAL_SCHEMA_VERSION);
		rc = exec(pg, "recording the central schema version", sql, err, errlen);
		if (rc < 0)
			return rollback(pg, rc);
	}
	rc = exec(pg, "committing the central schema", "COMMIT", err, errlen);
	if (rc < 0)
		return rollback(pg, rc);
	if (to)
		*to = EDGE_CENTRAL_SCHEMA_VERSION;
	return 0;
}

int edge_central_schema_check(PGconn *pg, char *err, size_t errlen)
{
	int version = 0;
	int rc = edge_central_schema_version(pg, &version, err, errlen);

	if (rc < 0)
		return rc;
	if (version == 0) {
		set_err(err, errlen, "central schema missing: run 'edgectl central init'");
		return EDGE_ESCHEMA;
	}
	rc = version_refusal(version, false, err, errlen);
	if (rc < 0)
		return rc;
	if (version < EDGE_CENTRAL_SCHEMA_VERSION) {
		set_err(err, errlen,
			"central schema version %d is older than this build (%d): run 'edgectl central init'",
			version, EDGE_CENTRAL_SCHEMA_VERSION);
		return EDGE_ESCHEMA;
	}
	return 0;
}
