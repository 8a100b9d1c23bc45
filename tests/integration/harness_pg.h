/* A private PostgreSQL for integration tests: its own cluster in a temp
 * dir, on a free 127.0.0.1 port, with database "edged" and superuser
 * "postgres", trust authentication, fsync off. Every wait is bounded.
 *
 *   struct h_pg pg;
 *   h_pg_start(&pg, NULL);                 // or a test's env dir
 *   h_pg_exec(&pg, "CREATE TABLE t (a int)");
 *   long long n = h_pg_count(&pg, "SELECT count(*) FROM t");
 *   ... h_pg_conninfo(&pg) for edged / edgectl ...
 *   h_pg_free(&pg);                        // stop + remove
 *
 * When the test runs as root, initdb and postgres run as the `postgres`
 * user (the server refuses root) and the cluster dir is chown'ed to it.
 * The server is a child of the test process (no pg_ctl): PR_SET_PDEATHSIG
 * makes it shut down with the test whatever happens, and h_teardown stops
 * every cluster not freed yet (printing its log tail, keeping its files).
 * The server binaries come from EDGE_PG_BINDIR, else the newest
 * /usr/lib/postgresql/N/bin. Functions that can fail end the test with
 * ck_abort_msg. */
#ifndef EDGE_HARNESS_PG_H
#define EDGE_HARNESS_PG_H

#include <stdbool.h>
#include <sys/types.h>

struct pg_conn; /* libpq's PGconn */

struct h_pg {
	char dir[320];       /* the cluster's own dir: data/, the socket, pg.log */
	char data_dir[360];  /* <dir>/data */
	char log_path[360];  /* <dir>/pg.log (appended across restarts) */
	char bindir[256];    /* where initdb and postgres are */
	int port;            /* 127.0.0.1 TCP port, the same across restarts */
	char conninfo[512];  /* "host=127.0.0.1 port=N dbname=edged user=postgres" */
	pid_t pid;           /* the postmaster, 0 when stopped */
	struct pg_conn *conn; /* the harness's own session (lazily opened) */
};

/* Exit 77 (skip) from main() when no PostgreSQL server binaries are found;
 * prints why. */
void h_pg_require(void);

/* initdb a new cluster in <parent_dir>/pg-XXXXXX (parent_dir NULL: in
 * /tmp/edged-pg-XXXXXX), start it on a free port and create the database
 * "edged"; returns when it accepts connections (bounded). */
void h_pg_start(struct h_pg *pg, const char *parent_dir);
/* The libpq connection string of database "edged" over TCP. */
const char *h_pg_conninfo(const struct h_pg *pg);
/* Another database (NULL: "edged") or user (NULL: "postgres") of the
 * cluster, in one of 4 rotating static buffers. Authentication is trust:
 * a role needs LOGIN, no password. */
const char *h_pg_conninfo_as(const struct h_pg *pg, const char *dbname, const char *user);

/* The first column of the first row as an integer (the test fails when the
 * query fails, returns no row or a NULL or non-integer value). */
long long h_pg_count(struct h_pg *pg, const char *sql);
/* The first column of the first row (malloc'd; caller frees); NULL when
 * there is no row or the value is NULL. */
char *h_pg_text(struct h_pg *pg, const char *sql);
/* Run sql (may be several statements); the test fails on any error. */
void h_pg_exec(struct h_pg *pg, const char *sql);
/* Run sql; 0 when it succeeded, else the SQLSTATE as an error text copied
 * into state (6 bytes: "23505") and -1. For tests that expect a refusal. */
int h_pg_try(struct h_pg *pg, const char *sql, char state[6]);

/* The statements of docs/central.md, "Roles: each gateway its own", on a
 * database whose schema exists: the group roles edged_gateway (what a
 * gateway's forwarder may do) and edged_reader. Add a site with
 * CREATE ROLE "<gateway id>" LOGIN IN ROLE edged_gateway. */
void h_pg_roles(struct h_pg *pg);
/* The same page's row-level security: a gateway role writes rows under its
 * own name only. */
void h_pg_row_security(struct h_pg *pg);

/* Fast shutdown (SIGINT), bounded; then immediate (SIGQUIT), then SIGKILL. */
void h_pg_stop(struct h_pg *pg);
/* Kill the postmaster with SIGKILL (a crash); its backends follow. */
void h_pg_kill(struct h_pg *pg);
/* Start the same cluster again on the same port; waits until it accepts. */
void h_pg_restart(struct h_pg *pg);
bool h_pg_running(struct h_pg *pg);
/* Stop and remove the cluster's dir. */
void h_pg_free(struct h_pg *pg);

#endif
