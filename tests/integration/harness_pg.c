/* A private PostgreSQL for integration tests: see harness_pg.h. */
#include "harness_pg.h"
#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG_INITDB_TIMEOUT_MS 60000
#define PG_READY_TIMEOUT_MS 30000
#define PG_FAST_STOP_MS 10000
#define PG_QUIT_STOP_MS 5000
#define PG_START_ATTEMPTS 5 /* a port taken between choice and bind */

/* Clusters started and not freed, for h_teardown: copies, not pointers
 * into a test's stack frame, which a failed test has left. */
#define PG_MAX_LIVE 8
static struct pg_live {
	const struct h_pg *owner; /* a key only: never dereferenced at teardown */
	pid_t pid;
	char dir[320], log_path[360];
} live[PG_MAX_LIVE];
/* The test process: a forked child that exits through atexit must not
 * stop the servers of its parent. */
static pid_t live_process;

/* ---- binaries and users */

static bool find_bindir(char *out, size_t cap)
{
	const char *env = getenv("EDGE_PG_BINDIR");
	char path[512];

	if (env && *env) {
		snprintf(path, sizeof(path), "%s/postgres", env);
		if (access(path, X_OK) != 0)
			return false;
		snprintf(out, cap, "%s", env);
		return true;
	}
	/* The newest major of Debian's layout: /usr/lib/postgresql/15/bin. */
	DIR *d = opendir("/usr/lib/postgresql");
	long best = -1;
	if (!d)
		return false;
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *end;
		long major = strtol(de->d_name, &end, 10);
		if (end == de->d_name || *end || major <= best)
			continue;
		snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/postgres", de->d_name);
		if (access(path, X_OK) == 0) {
			best = major;
			snprintf(out, cap, "/usr/lib/postgresql/%ld/bin", major);
		}
	}
	closedir(d);
	return best >= 0;
}

void h_pg_require(void)
{
	char dir[256];

	if (!find_bindir(dir, sizeof(dir))) {
		printf("# SKIP: no PostgreSQL server binaries (install 'postgresql' or set EDGE_PG_BINDIR)\n");
		exit(77);
	}
	if (geteuid() == 0 && !getpwnam("postgres")) {
		printf("# SKIP: running as root and there is no 'postgres' user to run the server\n");
		exit(77);
	}
}

/* The server refuses to run as root: then it runs as `postgres`. */
struct run_as {
	bool drop;
	uid_t uid;
	gid_t gid;
};

static struct run_as server_user(void)
{
	struct run_as r = { false, 0, 0 };

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		ck_assert_msg(pw != NULL, "running as root and there is no 'postgres' user");
		r.drop = true;
		r.uid = pw->pw_uid;
		r.gid = pw->pw_gid;
	}
	return r;
}

static void chown_tree_entry(const char *path, const struct run_as *u)
{
	if (u->drop && lchown(path, u->uid, u->gid) != 0)
		ck_abort_msg("chown %s: %s", path, strerror(errno));
}

/* fork and exec argv (a path) as the server user, stdout and stderr
 * appended to log_path; the child gets `deathsig` when the test process
 * dies (SIGQUIT for the server: an immediate shutdown of its backends). */
static pid_t pg_spawn(char *const argv[], const char *log_path, int deathsig)
{
	struct run_as u = server_user();
	int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(logfd >= 0, "open %s: %s", log_path, strerror(errno));
	dprintf(logfd, "==== harness_pg: starting %s\n", argv[0]);

	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid != 0) {
		close(logfd);
		return pid;
	}
	if (u.drop && (setgroups(0, NULL) != 0 || setgid(u.gid) != 0 || setuid(u.uid) != 0)) {
		dprintf(logfd, "harness_pg: cannot become the postgres user: %s\n", strerror(errno));
		_exit(126);
	}
	/* After setuid, which clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, deathsig);
	if (getppid() != parent)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	int null_fd = open("/dev/null", O_RDONLY);
	dup2(null_fd, STDIN_FILENO);
	dup2(logfd, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	if (null_fd > STDERR_FILENO)
		close(null_fd);
	execv(argv[0], argv);
	dprintf(STDERR_FILENO, "harness_pg: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* waitpid within timeout_ms: true and *status when it ended. */
static bool reap(pid_t pid, int *status, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno == ECHILD) {
			*status = 0;
			return true;
		}
		if (h_now_ms() >= end)
			return false;
		h_sleep_ms(10);
	}
}

/* ---- the live registry */

static struct pg_live *live_find(const struct h_pg *pg)
{
	for (size_t i = 0; i < PG_MAX_LIVE; i++)
		if (live[i].owner == pg)
			return &live[i];
	return NULL;
}


/* Stop the postmaster pid: SIGINT (fast), SIGQUIT (immediate), SIGKILL,
 * each bounded. */
static void stop_pid(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	if (reap(pid, &st, PG_FAST_STOP_MS))
		return;
	fprintf(stderr, "harness_pg: postgres (pid %d) still up after a fast shutdown: SIGQUIT\n",
		(int)pid);
	kill(pid, SIGQUIT);
	if (reap(pid, &st, PG_QUIT_STOP_MS))
		return;
	kill(pid, SIGKILL);
	reap(pid, &st, PG_QUIT_STOP_MS);
}

/* h_teardown hook (and atexit): a cluster the test did not free is stopped,
 * its log shown and its files kept. */
static void pg_teardown(void)
{
	if (getpid() != live_process)
		return;
	for (size_t i = 0; i < PG_MAX_LIVE; i++) {
		struct pg_live *l = &live[i];
		if (!l->owner)
			continue;
		fprintf(stderr, "==== PostgreSQL cluster not freed by the test; files kept in %s ====\n",
			l->dir);
		h_print_log_tail("postgres", l->log_path);
		stop_pid(l->pid);
		memset(l, 0, sizeof(*l));
	}
}

static void live_set(struct h_pg *pg)
{
	static bool hooked;
	struct pg_live *l = live_find(pg);

	if (!hooked) {
		hooked = true;
		live_process = getpid();
		h_teardown_hook(pg_teardown);
		atexit(pg_teardown);
	}
	if (!l)
		l = live_find(NULL);
	ck_assert_msg(l != NULL, "more than %d PostgreSQL clusters at once", PG_MAX_LIVE);
	l->owner = pg;
	l->pid = pg->pid;
	snprintf(l->dir, sizeof(l->dir), "%s", pg->dir);
	snprintf(l->log_path, sizeof(l->log_path), "%s", pg->log_path);
}

/* ---- the server */


static void close_conn(struct h_pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
}

const char *h_pg_conninfo_as(const struct h_pg *pg, const char *dbname, const char *user)
{
	static char buf[4][512];
	static unsigned slot;
	char *b = buf[slot++ % 4];

	snprintf(b, sizeof(buf[0]), "host=127.0.0.1 port=%d dbname=%s user=%s connect_timeout=5",
		 pg->port, dbname ? dbname : "edged", user ? user : "postgres");
	return b;
}

const char *h_pg_conninfo(const struct h_pg *pg)
{
	return pg->conninfo;
}

bool h_pg_running(struct h_pg *pg)
{
	int st;

	if (pg->pid <= 0)
		return false;
	if (waitpid(pg->pid, &st, WNOHANG) == 0)
		return true;
	pg->pid = 0;
	struct pg_live *l = live_find(pg);
	if (l)
		l->pid = 0;
	return false;
}

/* Start the postmaster on pg->port and wait until it accepts; false when
 * it exited during start (a port taken, a previous instance's shared memory
 * still attached): the caller may try again. */
static bool server_try_start(struct h_pg *pg)
{
	char port[16];
	char bin[300];

	snprintf(port, sizeof(port), "%d", pg->port);
	snprintf(bin, sizeof(bin), "%s/postgres", pg->bindir);
	char *const argv[] = {
		bin, "-D", pg->data_dir, "-p", port, "-k", pg->dir,
		"-c", "listen_addresses=127.0.0.1",
		/* A test cluster: durability is not what is under test. */
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=60", "-c", "shared_buffers=16MB",
		"-c", "log_min_messages=warning", "-c", "log_line_prefix=%m [%p] ",
		NULL,
	};
	pg->pid = pg_spawn(argv, pg->log_path, SIGQUIT);
	live_set(pg);

	char ci[256];
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=postgres user=postgres connect_timeout=2",
		 pg->port);
	uint64_t end = h_now_ms() + PG_READY_TIMEOUT_MS;
	while (h_now_ms() < end) {
		if (!h_pg_running(pg))
			return false;
		if (PQping(ci) == PQPING_OK)
			return true;
		h_sleep_ms(50);
	}
	h_print_log_tail("postgres", pg->log_path);
	ck_abort_msg("postgres did not accept connections on port %d within %d ms", pg->port,
		     PG_READY_TIMEOUT_MS);
	return false;
}

static void server_start(struct h_pg *pg, bool new_port)
{
	for (int attempt = 0; attempt < PG_START_ATTEMPTS; attempt++) {
		if (new_port) {
			pg->port = h_free_port();
			snprintf(pg->conninfo, sizeof(pg->conninfo),
				 "host=127.0.0.1 port=%d dbname=edged user=postgres connect_timeout=5",
				 pg->port);
		}
		if (server_try_start(pg))
			return;
		h_sleep_ms(200 * (unsigned)(attempt + 1));
	}
	h_print_log_tail("postgres", pg->log_path);
	ck_abort_msg("postgres did not start after %d attempts (log %s)", PG_START_ATTEMPTS,
		     pg->log_path);
}

void h_pg_start(struct h_pg *pg, const char *parent_dir)
{
	struct run_as u = server_user();
	int st;

	memset(pg, 0, sizeof(*pg));
	signal(SIGPIPE, SIG_IGN);
	ck_assert_msg(find_bindir(pg->bindir, sizeof(pg->bindir)),
		      "no PostgreSQL server binaries (EDGE_PG_BINDIR, /usr/lib/postgresql/N/bin)");
	if (parent_dir)
		snprintf(pg->dir, sizeof(pg->dir), "%s/pg-XXXXXX", parent_dir);
	else
		snprintf(pg->dir, sizeof(pg->dir), "/tmp/edged-pg-XXXXXX");
	const char *made = mkdtemp(pg->dir);

	ck_assert_msg(made != NULL, "mkdtemp %s: %s", pg->dir, strerror(errno));
	snprintf(pg->data_dir, sizeof(pg->data_dir), "%s/data", made);
	snprintf(pg->log_path, sizeof(pg->log_path), "%s/pg.log", made);
	/* The server user owns its dir (the socket is made there) and must be
	 * able to reach it: a parent dir made 0700 by mkdtemp is not enough. */
	chmod(pg->dir, 0700);
	chown_tree_entry(pg->dir, &u);
	if (parent_dir && u.drop) {
		struct stat ps;
		ck_assert_msg(stat(parent_dir, &ps) == 0, "stat %s: %s", parent_dir, strerror(errno));
		if ((ps.st_mode & 0001) == 0)
			chmod(parent_dir, (ps.st_mode & 07777) | 0711);
	}

	char bin[300];
	snprintf(bin, sizeof(bin), "%s/initdb", pg->bindir);
	char *const argv[] = {
		bin, "-D", pg->data_dir, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions", NULL,
	};
	pid_t pid = pg_spawn(argv, pg->log_path, SIGKILL);
	if (!reap(pid, &st, PG_INITDB_TIMEOUT_MS)) {
		kill(pid, SIGKILL);
		reap(pid, &st, 5000);
		ck_abort_msg("initdb did not finish within %d ms (log %s)", PG_INITDB_TIMEOUT_MS,
			     pg->log_path);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		h_print_log_tail("postgres", pg->log_path);
		ck_abort_msg("initdb failed (status %d, log %s)", st, pg->log_path);
	}

	server_start(pg, true);

	PGconn *c = PQconnectdb(h_pg_conninfo_as(pg, "postgres", NULL));
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect to postgres: %s", PQerrorMessage(c));
	PGresult *r = PQexec(c, "CREATE DATABASE edged");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "CREATE DATABASE edged: %s",
		      PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

void h_pg_stop(struct h_pg *pg)
{
	close_conn(pg);
	if (pg->pid > 0)
		stop_pid(pg->pid);
	pg->pid = 0;
	struct pg_live *l = live_find(pg);
	if (l)
		l->pid = 0;
}

void h_pg_kill(struct h_pg *pg)
{
	int st;

	close_conn(pg);
	if (pg->pid > 0) {
		kill(pg->pid, SIGKILL);
		if (!reap(pg->pid, &st, PG_QUIT_STOP_MS))
			ck_abort_msg("postgres (pid %d) survived SIGKILL", (int)pg->pid);
	}
	pg->pid = 0;
	struct pg_live *l = live_find(pg);
	if (l)
		l->pid = 0;
}

void h_pg_restart(struct h_pg *pg)
{
	ck_assert_msg(pg->dir[0] != '\0', "h_pg_restart before h_pg_start");
	if (h_pg_running(pg))
		h_pg_stop(pg);
	/* Backends of a killed postmaster leave by themselves, shortly: the
	 * start is retried while their shared memory is still attached. */
	server_start(pg, false);
}

void h_pg_free(struct h_pg *pg)
{
	if (pg->dir[0] == '\0')
		return;
	h_pg_stop(pg);
	struct pg_live *l = live_find(pg);
	if (l)
		memset(l, 0, sizeof(*l));
	h_remove_tree(pg->dir);
	memset(pg, 0, sizeof(*pg));
}

/* ---- queries */

static PGconn *conn(struct h_pg *pg)
{
	ck_assert_msg(h_pg_running(pg), "PostgreSQL is not running");
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		return pg->conn;
	close_conn(pg);
	pg->conn = PQconnectdb(pg->conninfo);
	ck_assert_msg(PQstatus(pg->conn) == CONNECTION_OK, "connect %s: %s", pg->conninfo,
		      PQerrorMessage(pg->conn));
	return pg->conn;
}

static PGresult *query_tuples(struct h_pg *pg, const char *sql)
{
	PGconn *c = conn(pg);
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQclear(r);
		ck_abort_msg("query failed: %s\n  %s", msg, sql);
	}
	ck_assert_msg(PQnfields(r) >= 1, "query has no column: %s", sql);
	return r;
}

long long h_pg_count(struct h_pg *pg, const char *sql)
{
	PGresult *r = query_tuples(pg, sql);
	char *end;

	if (PQntuples(r) < 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		ck_abort_msg("query returned no value: %s", sql);
	}
	errno = 0;
	long long v = strtoll(PQgetvalue(r, 0, 0), &end, 10);
	bool ok = errno == 0 && end != PQgetvalue(r, 0, 0) && *end == '\0';
	char text[64];
	snprintf(text, sizeof(text), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	ck_assert_msg(ok, "not an integer: '%s' from %s", text, sql);
	return v;
}

char *h_pg_text(struct h_pg *pg, const char *sql)
{
	PGresult *r = query_tuples(pg, sql);
	char *out = NULL;

	if (PQntuples(r) >= 1 && !PQgetisnull(r, 0, 0)) {
		out = strdup(PQgetvalue(r, 0, 0));
		ck_assert_ptr_nonnull(out);
	}
	PQclear(r);
	return out;
}

/* PQexec runs every statement of sql; the last result tells. */
void h_pg_exec(struct h_pg *pg, const char *sql)
{
	char state[6];

	if (h_pg_try(pg, sql, state) != 0)
		ck_abort_msg("SQL failed (%s): %s\n  %s", state, PQerrorMessage(pg->conn), sql);
}

int h_pg_try(struct h_pg *pg, const char *sql, char state[6])
{
	PGconn *c = conn(pg);
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);

	state[0] = '\0';
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(state, 6, "%s", code ? code : "?????");
	PQclear(r);
	return -1;
}

/* ---- the documented roles */

/* The statements of docs/central.md, "Roles: each gateway its own" (an
 * SQL string literal continues on the next line only after a newline). */
static const char roles_sql[] =
	"REVOKE ALL ON DATABASE edged FROM PUBLIC;"
	"REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
	"CREATE ROLE edged_gateway NOLOGIN;"
	"GRANT CONNECT ON DATABASE edged TO edged_gateway;"
	"GRANT SELECT ON edged_central_meta TO edged_gateway;"
	"GRANT SELECT, INSERT ON anomaly_event, fleet_summary TO edged_gateway;"
	"GRANT SELECT, INSERT, UPDATE ON anomaly_episode, gateway TO edged_gateway;"
	"CREATE ROLE edged_reader NOLOGIN;"
	"GRANT CONNECT ON DATABASE edged TO edged_reader;"
	"GRANT SELECT ON ALL TABLES IN SCHEMA public TO edged_reader;";
static const char rls_sql[] =
	"DO $$ DECLARE t text; BEGIN"
	"  FOREACH t IN ARRAY ARRAY['anomaly_event', 'anomaly_episode', 'fleet_summary', 'gateway'] LOOP"
	"    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);"
	"    EXECUTE format('CREATE POLICY own_site ON %I TO edged_gateway'\n"
	"                   ' USING (gateway = current_user) WITH CHECK (gateway = current_user)', t);"
	"    EXECUTE format('CREATE POLICY read_all ON %I FOR SELECT TO edged_reader USING (true)', t);"
	"  END LOOP;"
	"END $$;";

void h_pg_roles(struct h_pg *pg)
{
	h_pg_exec(pg, roles_sql);
}

void h_pg_row_security(struct h_pg *pg)
{
	h_pg_exec(pg, rls_sql);
}
