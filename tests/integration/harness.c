/* Integration harness: see harness.h. */
#include "harness.h"
#include "test_run.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_LOG_TAIL_LINES 80
#define H_EDGECTL_TIMEOUT_MS 10000
#define H_STOP_TIMEOUT_MS 10000

/* The envs of the running test not freed yet (a multi-site test has one
 * per gateway): h_teardown stops them all. */
#define H_ENVS_MAX 4
static struct h_env *h_current[H_ENVS_MAX];

/* ---- small utilities */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void h_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

char *h_read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len + 1 < cap)
			break;
		cap *= 2;
		char *nb = realloc(buf, cap);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

void h_print_log_tail(const char *title, const char *path)
{
	size_t len = 0;
	char *text = h_read_file(path, &len);
	if (!text) {
		fprintf(stderr, "---- %s: (no log at %s)\n", title, path);
		return;
	}
	const char *start = text + len;
	int lines = 0;
	while (start > text && lines <= H_LOG_TAIL_LINES)
		if (*--start == '\n')
			lines++;
	if (start != text)
		start++;
	fprintf(stderr, "---- %s (%s, last %d lines) ----\n%s%s", title, path,
		H_LOG_TAIL_LINES, start, len && text[len - 1] != '\n' ? "\n" : "");
	free(text);
}

static void dump_logs(struct h_env *e)
{
	fprintf(stderr, "==== integration test did not finish cleanly; files kept in %s ====\n",
		e->dir);
	h_print_log_tail("mosquitto", e->broker.log_path);
	h_print_log_tail("edged", e->edged.log_path);
	h_print_log_tail("edge-sim", e->sim.log_path);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void h_remove_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Binaries come from the build tree; mosquitto from the system. */
static bool find_mosquitto(char *out, size_t cap)
{
	const char *env = getenv("EDGE_MOSQUITTO");
	if (env && access(env, X_OK) == 0) {
		snprintf(out, cap, "%s", env);
		return true;
	}
	static const char *const fixed[] = {
		"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], X_OK) == 0) {
			snprintf(out, cap, "%s", fixed[i]);
			return true;
		}
	return false;
}

void h_require_prerequisites(void)
{
	char path[512];
	if (!find_mosquitto(path, sizeof(path))) {
		printf("# SKIP: no mosquitto binary (install the 'mosquitto' package or set EDGE_MOSQUITTO)\n");
		exit(77);
	}
	if (!getenv("EDGE_BUILD_ROOT")) {
		printf("# SKIP: EDGE_BUILD_ROOT is not set (run through 'meson test')\n");
		exit(77);
	}
}

/* ---- processes */

static void proc_init(struct h_proc *p, const struct h_env *e, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->stdin_fd = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", e->dir, name);
}

/* fork and execv argv with stdin from in_fd (-1: /dev/null), stdout and
 * stderr to out_fd and err_fd; many_files raises the open-files limit to
 * its hard limit. The child dies with the test process, whatever happens
 * to it. Returns the child's pid. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd,
		   bool many_files)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	dup2(in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY), STDIN_FILENO);
	if (many_files) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	execv(argv[0], argv);
	dprintf(STDERR_FILENO, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void proc_spawn(struct h_proc *p, char *const argv[], bool want_stdin,
		       bool many_files)
{
	int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(logfd >= 0, "open %s: %s", p->log_path, strerror(errno));
	dprintf(logfd, "==== harness: starting %s\n", argv[0]);
	int in[2] = { -1, -1 };
	if (want_stdin)
		ck_assert_msg(pipe2(in, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	pid_t pid = spawn(argv, want_stdin ? in[0] : -1, logfd, logfd, many_files);
	close(logfd);
	if (want_stdin) {
		close(in[0]);
		p->stdin_fd = in[1];
	}
	p->pid = pid;
	p->reaped = false;
	p->status = 0;
}

/* Reap within timeout_ms; true when the process is gone. */
bool h_proc_reap(struct h_proc *p, unsigned timeout_ms)
{
	if (p->pid <= 0 || p->reaped)
		return true;
	uint64_t end = now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid || (r < 0 && errno == ECHILD)) {
			p->reaped = true;
			p->status = r == p->pid ? st : 0;
			return true;
		}
		if (now_ms() >= end)
			return false;
		h_sleep_ms(10);
	}
}

/* Reap within timeout_ms, else SIGKILL and reap (bounded): true when it
 * ended by itself. */
static bool proc_reap_or_kill(struct h_proc *p, unsigned timeout_ms)
{
	if (h_proc_reap(p, timeout_ms))
		return true;
	kill(p->pid, SIGKILL);
	h_proc_reap(p, 5000);
	return false;
}

bool h_proc_alive(struct h_proc *p)
{
	return p->pid > 0 && !h_proc_reap(p, 0);
}

void h_proc_signal(struct h_proc *p, int sig)
{
	if (h_proc_alive(p))
		kill(p->pid, sig);
}

/* SIGTERM, bounded wait, SIGKILL. Returns the exit code, or -1 if it had to
 * be killed or died by a signal. */
static int proc_stop(struct h_proc *p, unsigned timeout_ms)
{
	int code = -1;
	if (p->pid > 0) {
		if (!p->reaped) {
			kill(p->pid, SIGTERM);
			if (!proc_reap_or_kill(p, timeout_ms))
				fprintf(stderr, "harness: %s (pid %d) ignored SIGTERM for %u ms: SIGKILL\n",
					p->name, (int)p->pid, timeout_ms);
		}
		if (p->reaped && WIFEXITED(p->status))
			code = WEXITSTATUS(p->status);
	}
	if (p->stdin_fd >= 0)
		close(p->stdin_fd);
	p->stdin_fd = -1;
	p->pid = 0;
	return code;
}

static void stop_all(struct h_env *e)
{
	proc_stop(&e->sim, 5000);
	proc_stop(&e->edged, H_STOP_TIMEOUT_MS);
	proc_stop(&e->broker, 5000);
}

/* h_teardown_hook: companions' cleanups (a database, a broker cluster). */
#define H_TEARDOWN_HOOKS 8
static void (*teardown_hooks[H_TEARDOWN_HOOKS])(void);

void h_teardown_hook(void (*fn)(void))
{
	size_t i;

	for (i = 0; i < H_TEARDOWN_HOOKS && teardown_hooks[i] && teardown_hooks[i] != fn; i++)
		;
	ck_assert_msg(i < H_TEARDOWN_HOOKS, "more than %d teardown hooks", H_TEARDOWN_HOOKS);
	teardown_hooks[i] = fn;
}

void h_teardown(void)
{
	for (size_t i = 0; i < H_TEARDOWN_HOOKS && teardown_hooks[i]; i++)
		teardown_hooks[i]();
	for (size_t i = 0; i < H_ENVS_MAX; i++) {
		struct h_env *e = h_current[i];

		if (!e)
			continue;
		h_current[i] = NULL;
		dump_logs(e);
		stop_all(e);
	}
}

static void h_atexit(void)
{
	h_teardown();
}

static void on_deadline(int sig)
{
	/* The test is about to be killed anyway: show why before it is. */
	static const char msg[] = "harness: test deadline reached\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	h_teardown();
	_exit(1);
}

void h_set_deadline(unsigned seconds)
{
	signal(SIGALRM, on_deadline);
	alarm(seconds);
}

/* ---- environment */

struct h_env *h_env_new(void)
{
	static bool hooked;
	struct h_env *e = calloc(1, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	signal(SIGPIPE, SIG_IGN);

	snprintf(e->dir, sizeof(e->dir), "/tmp/edged-it-XXXXXX");
	ck_assert_msg(mkdtemp(e->dir), "mkdtemp: %s", strerror(errno));
	/* Traversable, so a client under another uid reaches the socket. */
	chmod(e->dir, 0755);
	snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
	snprintf(e->runtime_dir, sizeof(e->runtime_dir), "%s/run", e->dir);
	snprintf(e->sock_path, sizeof(e->sock_path), "%s/edged.sock", e->runtime_dir);
	snprintf(e->edged_conf, sizeof(e->edged_conf), "%s/edged.conf", e->dir);
	snprintf(e->broker_conf, sizeof(e->broker_conf), "%s/mosquitto.conf", e->dir);
	ck_assert_msg(mkdir(e->runtime_dir, 0755) == 0, "mkdir %s: %s", e->runtime_dir,
		      strerror(errno));
	chmod(e->runtime_dir, 0755);

	const char *root = getenv("EDGE_BUILD_ROOT");
	ck_assert_msg(root != NULL, "EDGE_BUILD_ROOT is not set");
	snprintf(e->edged_bin, sizeof(e->edged_bin), "%s/daemon/edged/edged", root);
	snprintf(e->edgectl_bin, sizeof(e->edgectl_bin), "%s/daemon/edgectl/edgectl", root);
	snprintf(e->sim_bin, sizeof(e->sim_bin), "%s/tests/sim/edge-sim", root);
	ck_assert_msg(find_mosquitto(e->mosquitto_bin, sizeof(e->mosquitto_bin)),
		      "no mosquitto binary");
	ck_assert_msg(access(e->edged_bin, X_OK) == 0, "edged not built: %s", e->edged_bin);
	ck_assert_msg(access(e->edgectl_bin, X_OK) == 0, "edgectl not built: %s", e->edgectl_bin);
	ck_assert_msg(access(e->sim_bin, X_OK) == 0, "edge-sim not built: %s", e->sim_bin);

	proc_init(&e->broker, e, "mosquitto");
	proc_init(&e->edged, e, "edged");
	proc_init(&e->sim, e, "edge-sim");

	/* Defaults for a private, fast-reacting instance. */
	h_cfg_set(e, "log.level", "info");
	h_cfg_set(e, "paths.state_dir", e->state_dir);
	h_cfg_set(e, "paths.runtime_dir", e->runtime_dir);
	h_cfg_set(e, "mqtt.host", "127.0.0.1");
	h_cfg_set(e, "mqtt.client_id", "edged-test");
	h_cfg_set(e, "mqtt.reconnect_min_ms", "100");
	h_cfg_set(e, "mqtt.reconnect_max_ms", "1000");

	{
		size_t i = 0;

		while (i < H_ENVS_MAX && h_current[i])
			i++;
		ck_assert_msg(i < H_ENVS_MAX, "more than %d envs at once", H_ENVS_MAX);
		h_current[i] = e;
	}
	if (!hooked) {
		hooked = true;
		atexit(h_atexit);
	}
	return e;
}

/* The first sanitizer report in a log of ours, or NULL. */
static const char *sanitizer_report(const char *path)
{
	static const char *const marks[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
	};
	char *text = h_read_file(path, NULL);
	const char *hit = NULL;
	for (size_t i = 0; text && !hit && i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(text, marks[i]))
			hit = marks[i];
	free(text);
	return hit;
}

void h_env_free(struct h_env *e)
{
	if (!e)
		return;
	/* A clean stop is part of every test: exit status 0 and no sanitizer
	 * report from edged or the simulator. */
	bool sim_ran = e->sim.pid > 0, edged_ran = e->edged.pid > 0;
	int sim_rc = proc_stop(&e->sim, 10000);
	int edged_rc = proc_stop(&e->edged, H_STOP_TIMEOUT_MS);
	proc_stop(&e->broker, 5000);
	char errpath[512];
	snprintf(errpath, sizeof(errpath), "%s/edgectl.err", e->dir);
	const char *logs[] = { e->edged.log_path, e->sim.log_path, errpath };
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		const char *hit = sanitizer_report(logs[i]);
		ck_assert_msg(hit == NULL, "%s in %s", hit, logs[i]);
	}
	ck_assert_msg(!edged_ran || edged_rc == 0, "edged exited with %d on SIGTERM", edged_rc);
	ck_assert_msg(!sim_ran || sim_rc == 0, "edge-sim exited with %d on SIGTERM", sim_rc);
	for (size_t i = 0; i < H_ENVS_MAX; i++)
		if (h_current[i] == e)
			h_current[i] = NULL;
	h_remove_tree(e->dir);
	free(e);
}

/* ---- broker */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			      getsockname(fd, (struct sockaddr *)&a, &alen) == 0,
		      "cannot find a free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* The broker configuration comes from the project's generator, `edgectl
 * broker-config`, with persistence in <dir>/broker (so a broker restart keeps
 * edged's session and the retained statuses, as in production), plus the
 * chattier logging a failed test wants. Payloads up to 8192 bytes pass, twice
 * the node protocol's limit, so that edged's own `too_large` check stays
 * reachable; EDGE_TEST_BROKER_MESSAGE_SIZE_LIMIT (bytes) overrides that for a
 * test that publishes bigger messages, EDGE_TEST_BROKER_MAX_NODES the fleet
 * size. */
static const char *const *broker_extra_args; /* h_broker_config_args */

static void broker_write_config(struct h_env *e)
{
	char port[16], dir[320];
	const char *size = getenv("EDGE_TEST_BROKER_MESSAGE_SIZE_LIMIT");
	const char *nodes = getenv("EDGE_TEST_BROKER_MAX_NODES");
	char *argv[48];
	int n = 0;

	snprintf(port, sizeof(port), "%d", e->broker_port);
	snprintf(dir, sizeof(dir), "%s/broker", e->dir);
	if (mkdir(dir, 0777) != 0)
		ck_assert_msg(errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
	/* mosquitto started as root writes there as its own user. */
	chmod(dir, 0777);
	argv[n++] = e->edgectl_bin;
	argv[n++] = "broker-config";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--persistence-dir";
	argv[n++] = dir;
	argv[n++] = "--message-size-limit";
	argv[n++] = size && size[0] ? (char *)size : "8192";
	if (nodes && nodes[0]) {
		argv[n++] = "--max-nodes";
		argv[n++] = (char *)nodes;
	}
	for (const char *const *a = broker_extra_args; a && *a; a++) {
		ck_assert_msg(n < (int)(sizeof argv / sizeof argv[0]) - 1,
			      "too many broker-config arguments");
		argv[n++] = (char *)*a;
	}
	argv[n] = NULL;

	int fd = open(e->broker_conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "write %s: %s", e->broker_conf, strerror(errno));
	int errfd = open(e->broker.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(errfd >= 0, "open %s: %s", e->broker.log_path, strerror(errno));
	pid_t pid = spawn(argv, -1, fd, errfd, false);
	close(errfd);
	int st = 0;
	uint64_t end = now_ms() + 10000;
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		h_sleep_ms(10);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	ck_assert_msg(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "edgectl broker-config failed (see %s)", e->broker.log_path);
	dprintf(fd,
		"\n# ---- added by the integration harness\n"
		"log_type information\n"
		"connection_messages true\n");
	close(fd);
}

/* One attempt; false if mosquitto exited (e.g. the port was taken). */
static bool broker_try_start(struct h_env *e)
{
	broker_write_config(e);
	char *argv[] = { e->mosquitto_bin, "-c", e->broker_conf, NULL };
	proc_spawn(&e->broker, argv, false, true);
	/* Ready when the port accepts; bounded. */
	for (int i = 0; i < 500; i++) {
		if (port_accepts(e->broker_port))
			return true;
		if (!h_proc_alive(&e->broker))
			return false;
		h_sleep_ms(10);
	}
	ck_abort_msg("mosquitto did not listen on 127.0.0.1:%d within 5 s (see %s)",
		     e->broker_port, e->broker.log_path);
	return false;
}

void h_broker_start(struct h_env *e)
{
	/* A restart keeps its port; a first start may retry on another one if a
	 * concurrent test or an outgoing connection took the port meanwhile. */
	bool fixed = e->broker_port != 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (!fixed)
			e->broker_port = free_port();
		if (broker_try_start(e))
			return;
		proc_stop(&e->broker, 1000);
		if (fixed && attempt == 0) {
			/* The old listener's port may linger briefly: retry once after a pause. */
			h_sleep_ms(500);
		}
	}
	ck_abort_msg("mosquitto exited at start-up three times (port %d; see %s)",
		     e->broker_port, e->broker.log_path);
}

void h_broker_stop(struct h_env *e)
{
	proc_stop(&e->broker, 5000);
}

/* ---- edged */

void h_cfg_set(struct h_env *e, const char *name, const char *value)
{
	for (unsigned i = 0; i < e->n_cfg; i++)
		if (strcmp(e->cfg[i].name, name) == 0) {
			snprintf(e->cfg[i].value, sizeof(e->cfg[i].value), "%s", value);
			return;
		}
	ck_assert_uint_lt(e->n_cfg, sizeof(e->cfg) / sizeof(e->cfg[0]));
	snprintf(e->cfg[e->n_cfg].name, sizeof(e->cfg[0].name), "%s", name);
	snprintf(e->cfg[e->n_cfg].value, sizeof(e->cfg[0].value), "%s", value);
	e->n_cfg++;
}

void h_edged_write_config(struct h_env *e)
{
	static const char *const sections[] = {
		"log", "paths", "mqtt", "registry", "store", "control", "anomaly", "broker",
		"ota", "offload", "rollout", "central",
	};
	unsigned written = 0;
	if (e->broker_port) {
		char port[16];
		snprintf(port, sizeof(port), "%d", e->broker_port);
		h_cfg_set(e, "mqtt.port", port);
	}
	FILE *f = fopen(e->edged_conf, "we");
	ck_assert_msg(f != NULL, "write %s: %s", e->edged_conf, strerror(errno));
	fprintf(f, "# generated by the integration harness\n");
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		size_t sl = strlen(sections[s]);
		bool header = false;
		for (unsigned i = 0; i < e->n_cfg; i++) {
			if (strncmp(e->cfg[i].name, sections[s], sl) != 0 ||
			    e->cfg[i].name[sl] != '.')
				continue;
			if (!header)
				fprintf(f, "\n[%s]\n", sections[s]);
			header = true;
			fprintf(f, "%s = %s\n", e->cfg[i].name + sl + 1, e->cfg[i].value);
			written++;
		}
	}
	fclose(f);
	/* a setting of a section not listed above would be lost silently */
	ck_assert_msg(written == e->n_cfg, "h_edged_write_config: %u of %u settings have a "
		      "section the harness does not know", e->n_cfg - written, e->n_cfg);
}

void h_edged_start(struct h_env *e)
{
	h_edged_write_config(e);
	char *argv[] = { e->edged_bin, "-c", e->edged_conf, NULL };
	proc_spawn(&e->edged, argv, false, true);
	bool want_broker = h_proc_alive(&e->broker);
	long long last_rc = -1;
	const char *last_state = "(none)";
	char state[32] = "";
	/* Start-up under ASan+UBSan is several times slower: allow 30 s. */
	for (int i = 0; i < 300; i++) {
		if (!h_proc_alive(&e->edged))
			ck_abort_msg("edged exited during start-up (status 0x%x, see %s)",
				     e->edged.status, e->edged.log_path);
		json_t *st = NULL;
		last_rc = h_edgectl(e, &st, "status", NULL);
		if (last_rc == 0 && st) {
			const char *bs = h_json_str(st, "broker.state");
			snprintf(state, sizeof(state), "%s", bs ? bs : "(absent)");
			last_state = state;
			bool up = !want_broker || (bs && strcmp(bs, "connected") == 0);
			json_decref(st);
			if (up)
				return;
		} else {
			json_decref(st);
		}
		h_sleep_ms(100);
	}
	ck_abort_msg("edged not ready within 30 s: last `edgectl status` exit %lld, "
		     "broker.state %s (see %s)", last_rc, last_state, e->edged.log_path);
}

int h_edged_stop(struct h_env *e)
{
	return proc_stop(&e->edged, H_STOP_TIMEOUT_MS);
}

/* ---- edgectl */

static int run_edgectl(struct h_env *e, const char *sock, const char *const *args,
		       size_t nargs, json_t **out)
{
	if (out)
		*out = NULL;
	const char *argv[32];
	size_t n = 0;
	argv[n++] = e->edgectl_bin;
	argv[n++] = "-s";
	argv[n++] = sock;
	argv[n++] = "--json";
	for (size_t i = 0; i < nargs && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	char errpath[512];
	snprintf(errpath, sizeof(errpath), "%s/edgectl.err", e->dir);
	int errfd = open(errpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int outp[2];
	ck_assert_msg(errfd >= 0 && pipe2(outp, O_CLOEXEC) == 0, "edgectl pipes: %s",
		      strerror(errno));
	pid_t pid = spawn((char *const *)argv, -1, outp[1], errfd, false);
	close(outp[1]);
	close(errfd);

	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	uint64_t end = now_ms() + H_EDGECTL_TIMEOUT_MS;
	for (;;) {
		uint64_t t = now_ms();
		if (t >= end)
			break;
		struct pollfd pfd = { .fd = outp[0], .events = POLLIN };
		int pr = poll(&pfd, 1, (int)(end - t));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		ssize_t r = read(outp[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(outp[0]);
	buf[len] = '\0';
	struct h_proc p = { .pid = pid };
	snprintf(p.name, sizeof(p.name), "edgectl");
	if (!proc_reap_or_kill(&p, 2000)) {
		free(buf);
		ck_abort_msg("edgectl %s did not finish within %d ms", nargs ? args[0] : "",
			     H_EDGECTL_TIMEOUT_MS);
	}
	int code = WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128;
	if (out && len) {
		json_t *j = json_loadb(buf, len, 0, NULL);
		/* Accept the bare result or the whole {"ok":..., "result":...}. */
		json_t *res = j ? json_object_get(j, "result") : NULL;
		if (res && json_object_get(j, "ok")) {
			json_incref(res);
			json_decref(j);
			j = res;
		}
		*out = j;
	}
	free(buf);
	return code;
}

static int edgectl_va(struct h_env *e, json_t **out, const char *cmd, va_list ap)
{
	const char *args[24];
	size_t n = 0;
	args[n++] = cmd;
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 24)
		args[n++] = a;
	return run_edgectl(e, e->sock_path, args, n, out);
}

int h_edgectl(struct h_env *e, json_t **out, const char *cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int rc = edgectl_va(e, out, cmd, ap);
	va_end(ap);
	return rc;
}

json_t *h_edgectl_json(struct h_env *e, const char *cmd, ...)
{
	json_t *j = NULL;
	va_list ap;
	va_start(ap, cmd);
	int rc = edgectl_va(e, &j, cmd, ap);
	va_end(ap);
	ck_assert_msg(rc == 0 && j, "edgectl %s --json: exit %d, %s output", cmd, rc,
		      j ? "JSON" : "no JSON");
	return j;
}

int h_edgectl_at(struct h_env *e, const char *sock, const char *cmd)
{
	const char *args[] = { cmd };
	return run_edgectl(e, sock, args, 1, NULL);
}

/* ---- JSON paths */

static json_t *json_path(json_t *j, const char *path)
{
	char key[128];
	const char *p = path;
	while (j && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		/* A number indexes an array ("upstream.bridges.0.name"). */
		if (json_is_array(j) && n > 0 && strspn(key, "0123456789") == n)
			j = json_array_get(j, strtoul(key, NULL, 10));
		else
			j = json_object_get(j, key);
		p += n + (dot ? 1 : 0);
	}
	return j;
}

long long h_json_int(json_t *j, const char *path)
{
	json_t *v = json_path(j, path);
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_boolean(v))
		return json_is_true(v);
	return -1;
}

const char *h_json_str(json_t *j, const char *path)
{
	return json_string_value(json_path(j, path));
}

static bool compare(long long a, const char *op, long long b)
{
	if (strcmp(op, "==") == 0)
		return a == b;
	if (strcmp(op, ">=") == 0)
		return a >= b;
	if (strcmp(op, "<=") == 0)
		return a <= b;
	ck_abort_msg("bad comparison '%s'", op);
	return false;
}

void h_wait_status(struct h_env *e, const char *path, const char *op,
		   long long value, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	long long last = -1;
	int rc = -1;
	for (;;) {
		json_t *st = NULL;
		rc = h_edgectl(e, &st, "status", NULL);
		if (rc == 0 && st) {
			last = h_json_int(st, path);
			json_decref(st);
			if (compare(last, op, value))
				return;
		} else {
			json_decref(st);
		}
		if (now_ms() >= end)
			break;
		h_sleep_ms(100);
	}
	ck_abort_msg("timeout after %u ms waiting for status %s %s %lld: last value %lld "
		     "(edgectl exit %d)", timeout_ms, path, op, value, last, rc);
}

json_t *h_wait_device_state(struct h_env *e, const char *id, const char *state,
			    unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	char last[32] = "(none)";
	int rc = -1;
	for (;;) {
		json_t *d = NULL;
		rc = h_edgectl(e, &d, "devices", "show", id, NULL);
		if (rc == 0 && d) {
			const char *s = h_json_str(d, "state");
			snprintf(last, sizeof(last), "%s", s ? s : "(absent)");
			if (s && strcmp(s, state) == 0)
				return d;
		}
		json_decref(d);
		if (now_ms() >= end)
			break;
		h_sleep_ms(100);
	}
	ck_abort_msg("timeout after %u ms waiting for device %s to be %s: last state %s "
		     "(edgectl exit %d)", timeout_ms, id, state, last, rc);
	return NULL;
}

/* ---- simulator */

void h_sim_start(struct h_env *e, ...)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", e->broker_port);
	char *argv[48];
	size_t n = 0;
	argv[n++] = e->sim_bin;
	argv[n++] = "--host";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--port";
	argv[n++] = port;
	/* Every run is bounded even if the test forgets to stop it. */
	argv[n++] = "--duration-s";
	argv[n++] = "600";
	va_list ap;
	va_start(ap, e);
	char *a;
	while ((a = va_arg(ap, char *)) != NULL && n < 47)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	proc_spawn(&e->sim, argv, true, true);
}

static char h_line[2048];

/* First line containing needle at or after byte offset `from`. */
static const char *find_line(const char *text, const char *needle, size_t from)
{
	const char *hit = strstr(text + from, needle);
	if (!hit)
		return NULL;
	const char *start = hit;
	while (start > text && start[-1] != '\n')
		start--;
	const char *stop = strchr(hit, '\n');
	if (!stop)
		return NULL; /* not a complete line yet */
	size_t n = (size_t)(stop - start);
	if (n >= sizeof(h_line))
		n = sizeof(h_line) - 1;
	memcpy(h_line, start, n);
	h_line[n] = '\0';
	return h_line;
}

static const char *sim_wait_from(struct h_env *e, const char *needle, long from,
				 unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	for (;;) {
		bool alive = h_proc_alive(&e->sim);
		size_t len = 0;
		char *text = h_read_file(e->sim.log_path, &len);
		const char *line = text && (size_t)from <= len ? find_line(text, needle, (size_t)from)
							       : NULL;
		free(text);
		if (line)
			return line;
		if (!alive)
			ck_abort_msg("edge-sim exited without printing '%s' (see %s)", needle,
				     e->sim.log_path);
		if (now_ms() >= end)
			break;
		h_sleep_ms(50);
	}
	ck_abort_msg("timeout after %u ms waiting for edge-sim to print '%s' (see %s)",
		     timeout_ms, needle, e->sim.log_path);
	return NULL;
}

const char *h_sim_wait(struct h_env *e, const char *needle, unsigned timeout_ms)
{
	return sim_wait_from(e, needle, 0, timeout_ms);
}

static long sim_send(struct h_env *e, const char *line)
{
	ck_assert_msg(e->sim.stdin_fd >= 0, "edge-sim has no control pipe");
	long from = file_size(e->sim.log_path);
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	ck_assert_msg(write(e->sim.stdin_fd, buf, (size_t)n) == n, "write to edge-sim: %s",
		      strerror(errno));
	return from;
}

void h_sim_cmd(struct h_env *e, const char *line)
{
	long from = sim_send(e, line);
	char needle[600];
	snprintf(needle, sizeof(needle), "sim: cmd-ok %s", line);
	sim_wait_from(e, needle, from, 10000);
}

long long h_sim_stat(struct h_env *e, const char *key)
{
	long from = sim_send(e, "stats");
	const char *line = sim_wait_from(e, "sim: stats ", from, 10000);
	char needle[80];
	snprintf(needle, sizeof(needle), " %s=", key);
	const char *p = strstr(line, needle);
	ck_assert_msg(p != NULL, "edge-sim stats line has no '%s': %s", key, line);
	return strtoll(p + strlen(needle), NULL, 10);
}

char *h_sim_output(struct h_env *e)
{
	char *text = h_read_file(e->sim.log_path, NULL);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* ---- raw control client */

static int read_full(int fd, void *buf, size_t len, uint64_t end)
{
	size_t have = 0;
	while (have < len) {
		uint64_t t = now_ms();
		if (t >= end)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)(end - t));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, (char *)buf + have, len - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		have += (size_t)r;
	}
	return 0;
}

int h_ctl_raw(const char *path, const void *data, size_t len, json_t **resp,
	      unsigned timeout_ms)
{
	*resp = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	/* The server may answer and close before taking everything (too_large):
	 * a failed send is fine as long as the answer arrives. */
	size_t sent = 0;
	while (sent < len) {
		ssize_t w = send(fd, (const char *)data + sent, len - sent, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	uint64_t end = now_ms() + timeout_ms;
	uint8_t hdr[4];
	int rc = read_full(fd, hdr, sizeof(hdr), end);
	if (rc == 0) {
		size_t blen = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
		char *body = blen <= (8u << 20) ? malloc(blen + 1) : NULL;
		if (!body) {
			rc = -EMSGSIZE;
		} else {
			rc = read_full(fd, body, blen, end);
			if (rc == 0) {
				*resp = json_loadb(body, blen, 0, NULL);
				if (!*resp)
					rc = -EPROTO;
			}
			free(body);
		}
	}
	close(fd);
	return rc;
}

int h_ctl_request(const char *path, const char *cmd, json_t **resp,
		  unsigned timeout_ms)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"cmd\":\"%s\",\"args\":{}}", cmd);
	uint8_t frame[4 + sizeof(body)];
	frame[0] = 0;
	frame[1] = 0;
	frame[2] = (uint8_t)(n >> 8);
	frame[3] = (uint8_t)n;
	memcpy(frame + 4, body, (size_t)n);
	return h_ctl_raw(path, frame, 4 + (size_t)n, resp, timeout_ms);
}

int h_run_as_nobody(int (*fn)(void *ud), void *ud, unsigned timeout_ms)
{
	struct passwd *pw = getpwnam("nobody");
	ck_assert_msg(pw != NULL, "no user 'nobody'");
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 ||
		    getuid() == 0)
			_exit(125);
		_exit(fn(ud));
	}
	struct h_proc p = { .pid = pid };
	if (!proc_reap_or_kill(&p, timeout_ms))
		return -1;
	return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
}

char *h_edged_log(struct h_env *e)
{
	char *text = h_read_file(e->edged.log_path, NULL);
	ck_assert_msg(text != NULL, "cannot read %s", e->edged.log_path);
	return text;
}

int h_run_cases(int argc, char **argv, const char *suite_name, const struct h_case *cases,
		size_t n_cases)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	bool found = false;
	Suite *s;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [CASE]\n", argv[0]);
		return 2;
	}
	h_require_prerequisites();
	s = suite_create(suite_name);
	for (size_t i = 0; i < n_cases; i++) {
		if (only && strcmp(only, cases[i].name) != 0)
			continue;
		found = true;
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, NULL, h_teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
		/* One case per process: its deadline bounds the whole run. */
		if (only)
			h_set_deadline(cases[i].timeout_s);
	}
	if (!found) {
		fprintf(stderr, "no test case '%s'\n", only);
		return 2; /* the empty suite goes with the process */
	}
	return test_run_suite(s, TEST_REPORT_TAP, CK_NOFORK);
}

struct h_env *h_world(const char *const *cfg)
{
	struct h_env *e = h_env_new();

	h_broker_start(e);
	for (; cfg && cfg[0]; cfg += 2)
		h_cfg_set(e, cfg[0], cfg[1]);
	h_edged_start(e);
	return e;
}

const char *h_node_id(unsigned i)
{
	static char buf[4][32];
	static unsigned slot;
	char *b = buf[slot++ % 4];

	snprintf(b, sizeof buf[0], "sim-%05u", i);
	return b;
}

/* ---- extra broker-config arguments, commands */

void h_broker_config_args(const char *const *args)
{
	broker_extra_args = args;
}

int h_free_port(void)
{
	return free_port();
}

void h_run(const char *out_path, const char *const *argv)
{
	int out = -1, st = 0;
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid, r;
	uint64_t end = now_ms() + 30000;

	ck_assert_msg(null_fd >= 0, "open /dev/null: %s", strerror(errno));
	if (out_path) {
		out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ck_assert_msg(out >= 0, "write %s: %s", out_path, strerror(errno));
	}
	pid = spawn((char *const *)argv, -1, out >= 0 ? out : null_fd, null_fd, false);
	if (out >= 0)
		close(out);
	close(null_fd);
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		h_sleep_ms(10);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	ck_assert_msg(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s failed (status %d)", argv[0], st);
}

/* ---- simulator restarts */

int h_sim_stop(struct h_env *e)
{
	return proc_stop(&e->sim, 10000);
}

long h_sim_log_offset(struct h_env *e)
{
	return file_size(e->sim.log_path);
}

const char *h_sim_wait_after(struct h_env *e, long from, const char *needle,
			     unsigned timeout_ms)
{
	return sim_wait_from(e, needle, from, timeout_ms);
}

/* ---- edgectl with its own bound, both streams kept */

int h_edgectl_capture(struct h_env *e, unsigned timeout_ms, char **out_text, char **err_text,
		      const char *const *args)
{
	const char *argv[40];
	char out_path[512], err_path[512];
	size_t n = 0;
	int st = 0;
	pid_t pid, r;
	uint64_t end = now_ms() + timeout_ms;

	argv[n++] = e->edgectl_bin;
	argv[n++] = "-s";
	argv[n++] = e->sock_path;
	for (; *args; args++) {
		ck_assert_msg(n < sizeof argv / sizeof argv[0] - 1, "too many edgectl arguments");
		argv[n++] = *args;
	}
	argv[n] = NULL;
	snprintf(out_path, sizeof out_path, "%s/edgectl-capture.out", e->dir);
	snprintf(err_path, sizeof err_path, "%s/edgectl-capture.err", e->dir);
	int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(out >= 0 && err >= 0, "edgectl capture files: %s", strerror(errno));
	pid = spawn((char *const *)argv, -1, out, err, false);
	close(out);
	close(err);
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		h_sleep_ms(10);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ck_abort_msg("edgectl %s did not finish within %u ms", args[0] ? args[0] : "",
			     timeout_ms);
	}
	if (out_text) {
		*out_text = h_read_file(out_path, NULL);
		ck_assert_ptr_nonnull(*out_text);
	}
	if (err_text) {
		*err_text = h_read_file(err_path, NULL);
		ck_assert_ptr_nonnull(*err_text);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

uint64_t h_now_ms(void)
{
	return now_ms();
}

const char *h_pki_tool(void)
{
	static char path[512];
	const char *root = getenv("EDGE_BUILD_ROOT");

	ck_assert_ptr_nonnull(root);
	snprintf(path, sizeof path, "%s/tests/unit/pki/pki-tool", root);
	ck_assert_msg(access(path, X_OK) == 0, "pki-tool not built: %s", path);
	return path;
}

unsigned h_sim_events_parse(struct h_env *e, struct h_sim_events *out, unsigned max)
{
	char *text = h_sim_output(e);
	const char *p = strstr(text, "sim: summary ");
	unsigned n = 0;

	ck_assert_msg(p != NULL, "edge-sim printed no summary");
	while ((p = strstr(p, "sim: events node=")) != NULL) {
		struct h_sim_events *ev = &out[n];

		ck_assert_uint_lt(n, max);
		ck_assert_int_eq(sscanf(p, "sim: events node=%71s epoch=%lu first=%lu last=%lu "
					"dropped=%lu acked=%lu held=%lu", ev->id, &ev->epoch,
					&ev->first, &ev->last, &ev->dropped, &ev->acked,
					&ev->held), 7);
		n++;
		p++;
	}
	free(text);
	return n;
}

void h_wait_sim_events(struct h_env *e, long long want, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	long long have;

	while ((have = h_sim_stat(e, "events")) < want && h_now_ms() < end)
		h_sleep_ms(100);
	ck_assert_msg(have >= want, "the simulator generated %lld events, expected %lld", have,
		      want);
}

void h_wait_sim_all_acked(struct h_env *e, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	long long held;

	while ((held = h_sim_stat(e, "events_held")) != 0 && h_now_ms() < end)
		h_sleep_ms(100);
	ck_assert_msg(held == 0, "%lld events still unacked by the gateway", held);
	ck_assert_int_eq(h_sim_stat(e, "events_dropped"), 0);
}

void h_make_readable(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[700];

	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	chmod(dir, 0755);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		chmod(path, 0644);
	}
	closedir(d);
}

json_t *h_ctl_call(struct h_env *e, const char *cmd, const char *args_fmt, ...)
{
	char args[1024], body[1200];
	uint8_t frame[1300];
	json_t *resp = NULL;
	va_list ap;
	int n;

	va_start(ap, args_fmt);
	n = vsnprintf(args, sizeof args, args_fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof args);
	n = snprintf(body, sizeof body, "{\"cmd\":\"%s\",\"args\":%s}", cmd, args);
	ck_assert(n > 0 && (size_t)n < sizeof body);
	frame[0] = (uint8_t)(n >> 24);
	frame[1] = (uint8_t)(n >> 16);
	frame[2] = (uint8_t)(n >> 8);
	frame[3] = (uint8_t)n;
	memcpy(frame + 4, body, (size_t)n);
	ck_assert_int_eq(h_ctl_raw(e->sock_path, frame, (size_t)n + 4, &resp, 30000), 0);
	ck_assert_ptr_nonnull(resp);
	return resp;
}

const char *h_ctl_error(json_t *answer)
{
	return json_string_value(json_object_get(json_object_get(answer, "error"), "code"));
}

void h_copy_file(const char *from, const char *to)
{
	size_t len = 0;
	char *text = h_read_file(from, &len);
	int fd;

	ck_assert_msg(text != NULL, "read %s", from);
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "write %s: %s", to, strerror(errno));
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	free(text);
}

void h_broker_start_secured(struct h_env *e, const char *const *extra, struct h_secured *out)
{
	const char *args[32];
	char pid[32];
	FILE *f;
	int n = 0;

	snprintf(out->idir, sizeof out->idir, "%s/identity", e->dir);
	snprintf(out->pki, sizeof out->pki, "%s/pki", e->state_dir);
	snprintf(out->secret, sizeof out->secret, "%s/gateway-secret", e->dir);
	snprintf(out->pidfile, sizeof out->pidfile, "%s/mosquitto.pid", e->dir);
	if (mkdir(e->state_dir, 0750) != 0)
		ck_assert_msg(errno == EEXIST, "mkdir %s: %s", e->state_dir, strerror(errno));
	{
		const char *init[] = { e->edgectl_bin, "broker-init", "--dir", out->idir,
				       "--pki-dir", out->pki, "--name", "edged-test-ca", "--san",
				       "127.0.0.1", "--gateway-user", "edged", "--gateway-secret",
				       out->secret, NULL };
		h_run(NULL, init);
	}
	h_make_readable(out->idir);
	args[n++] = "--identity-dir";
	args[n++] = out->idir;
	for (const char *const *a = extra; a && *a; a++) {
		ck_assert_int_lt(n, (int)(sizeof args / sizeof args[0]) - 1);
		args[n++] = *a;
	}
	args[n] = NULL;
	h_broker_config_args(args);
	h_broker_start(e);
	h_broker_config_args(NULL);
	snprintf(pid, sizeof pid, "%d\n", (int)e->broker.pid);
	f = fopen(out->pidfile, "w");
	ck_assert_msg(f != NULL, "write %s: %s", out->pidfile, strerror(errno));
	ck_assert_int_eq(fputs(pid, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	h_cfg_set(e, "mqtt.username", "edged");
	h_cfg_set(e, "mqtt.password_file", out->secret);
	h_cfg_set(e, "registry.admission", "provisioned");
	h_cfg_set(e, "broker.identity_dir", out->idir);
	h_cfg_set(e, "broker.pki_dir", out->pki);
	h_cfg_set(e, "broker.pid_file", out->pidfile);
	h_cfg_set(e, "broker.file_mode", "0644");
}
