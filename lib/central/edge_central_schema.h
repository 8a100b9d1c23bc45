/* The central PostgreSQL schema shared by every gateway (docs/central.md):
 * anomaly events, episodes and fleet summaries keyed by gateway, and the
 * views dashboards read. edgectl creates and migrates it; edged only checks
 * that the database holds the version it was built for. */
#ifndef EDGE_CENTRAL_SCHEMA_H
#define EDGE_CENTRAL_SCHEMA_H

#include <stddef.h>

#include <libpq-fe.h>

#define EDGE_CENTRAL_SCHEMA_VERSION 1

/* Creates or migrates the central schema on pg, in one transaction,
 * serialised against concurrent runs (pg_advisory_xact_lock): a second
 * concurrent run waits, then finds nothing to do. *from / *to (either may be
 * NULL) get the version found and the version left (equal: nothing to do).
 * Returns 0; EDGE_ESCHEMA when the database holds a newer or unreadable
 * version (nothing changed); -EIO when libpq fails (err has PostgreSQL's
 * message); -EINVAL without a connection. err (errlen > 0) gets a message on
 * failure. */
int edge_central_schema_migrate(PGconn *pg, int *from, int *to, char *err, size_t errlen);

/* 0 when the database holds exactly EDGE_CENTRAL_SCHEMA_VERSION;
 * EDGE_ESCHEMA with a message naming the fix otherwise ("central schema
 * missing: run 'edgectl central init'", "... version N is newer than this
 * build (1): upgrade edged", "... older ...: run 'edgectl central init'");
 * -EIO when libpq fails. Reads only; runs no transaction of its own. */
int edge_central_schema_check(PGconn *pg, char *err, size_t errlen);

/* The version the database holds: 0 when there is no schema, -1 when the
 * version row is unreadable. Returns 0 or -EIO (err set). */
int edge_central_schema_version(PGconn *pg, int *version, char *err, size_t errlen);

#endif
