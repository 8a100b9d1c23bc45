/* A 3-node NATS cluster for the multi-site tests: see harness_nats.h. */
#include "harness_nats.h"

#include <arpa/inet.h>
#include <assert.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NATS_HEALTHY_TIMEOUT_MS 60000
#define NATS_STOP_TIMEOUT_MS 10000
#define NATS_MAX_CLUSTERS 2

/* Clusters started and not freed: h_teardown stops them (nats_teardown). */
static struct h_nats *live[NATS_MAX_CLUSTERS];

static bool find_bin(char *out, size_t cap)
{
	static const char *const fixed[] = { "/usr/sbin/nats-server", "/usr/bin/nats-server",
					     "/usr/local/bin/nats-server" };
	const char *env = getenv("EDGE_NATS_SERVER");

	if (env && access(env, X_OK) == 0) {
		snprintf(out, cap, "%s", env);
		return true;
	}
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (access(fixed[i], X_OK) == 0) {
			snprintf(out, cap, "%s", fixed[i]);
			return true;
		}
	return false;
}

void h_nats_require(void)
{
	char bin[256];

	if (!find_bin(bin, sizeof bin)) {
		printf("# SKIP: no nats-server binary (install the 'nats-server' package or set "
		       "EDGE_NATS_SERVER)\n");
		exit(77);
	}
}

/* sig, bounded wait, then SIGKILL. */
static void node_stop(struct h_nats *n, int i, int sig)
{
	struct h_proc *p = &n->proc[i];

	if (p->pid > 0 && !p->reaped) {
		kill(p->pid, sig);
		if (!h_proc_reap(p, sig == SIGKILL ? 5000 : NATS_STOP_TIMEOUT_MS)) {
			fprintf(stderr, "harness_nats: node %d (pid %d) ignored signal %d: SIGKILL\n",
				i, (int)p->pid, sig);
			kill(p->pid, SIGKILL);
			h_proc_reap(p, 5000);
		}
	}
	p->pid = 0;
}

static void nats_teardown(void)
{
	for (size_t c = 0; c < NATS_MAX_CLUSTERS; c++) {
		struct h_nats *n = live[c];

		if (!n)
			continue;
		live[c] = NULL;
		fprintf(stderr, "==== NATS cluster kept in %s ====\n", n->dir);
		for (int i = 0; i < H_NATS_NODES; i++) {
			h_print_log_tail(n->proc[i].name, n->proc[i].log_path);
			node_stop(n, i, SIGTERM);
		}
	}
}

static void spawn_node(struct h_nats *n, int i)
{
	struct h_proc *p = &n->proc[i];
	char *argv[] = { n->bin, "-c", n->conf[i], NULL };
	pid_t parent = getpid();
	int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid;

	ck_assert_msg(logfd >= 0, "open %s: %s", p->log_path, strerror(errno));
	dprintf(logfd, "==== harness: starting %s -c %s\n", n->bin, n->conf[i]);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Dies with the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		dup2(open("/dev/null", O_RDONLY), STDIN_FILENO);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "harness_nats: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(logfd);
	p->pid = pid;
	p->reaped = false;
	p->status = 0;
}

/* GET path on 127.0.0.1:port (HTTP/1.0: the server closes when done):
 * returns the status, or -1 (not listening, no status line within
 * timeout_ms). With body, up to cap - 1 bytes of the whole answer go
 * there, NUL-terminated; else only the status line is read. */
static int http_get(int port, const char *path, char *body, size_t cap, unsigned timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[256], line[512];
	char *resp = body ? body : line;
	size_t len = 0, rcap = body ? cap : sizeof line;
	uint64_t end = h_now_ms() + timeout_ms;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int code = -1;

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	assert(rcap > 1);
	while (len < rcap - 1 && (body || !memchr(resp, '\n', len))) {
		uint64_t t = h_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (t >= end || poll(&pfd, 1, (int)(end - t)) <= 0)
			break;
		r = read(fd, resp + len, rcap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	resp[len] = '\0';
	close(fd);
	if (sscanf(resp, "HTTP/%*d.%*d %d", &code) != 1)
		code = -1;
	return code;
}

bool h_nats_running(struct h_nats *n, int i)
{
	ck_assert(i >= 0 && i < H_NATS_NODES);
	return n->proc[i].pid > 0 && !h_proc_reap(&n->proc[i], 0);
}

bool h_nats_has_mqtt_client(struct h_nats *n, int i, const char *client_id)
{
	/* /connz answers one object per connection; 256 kB holds the few of a
	 * test many times over. */
	size_t cap = 256 * 1024;
	char *body = malloc(cap), needle[160];
	bool found;

	ck_assert(i >= 0 && i < H_NATS_NODES);
	ck_assert_ptr_nonnull(body);
	snprintf(needle, sizeof needle, "\"mqtt_client\": \"%s\"", client_id);
	found = h_nats_running(n, i) &&
		http_get(n->http_port[i], "/connz?limit=1024", body, cap, 5000) == 200 &&
		strstr(body, needle) != NULL;
	free(body);
	return found;
}

void h_nats_wait_healthy(struct h_nats *n, unsigned timeout_ms)
{
	uint64_t start = h_now_ms(), end = start + timeout_ms;
	int last[H_NATS_NODES] = { 0 };

	for (;;) {
		bool all = true;

		for (int i = 0; i < H_NATS_NODES; i++) {
			if (n->proc[i].pid <= 0)
				continue; /* stopped on purpose */
			if (!h_nats_running(n, i))
				ck_abort_msg("nats-server node %d exited (status 0x%x, see %s)", i,
					     n->proc[i].status, n->proc[i].log_path);
			last[i] = http_get(n->http_port[i], "/healthz", NULL, 0, 2000);
			all = all && last[i] == 200;
		}
		if (all)
			return;
		if (h_now_ms() >= end)
			ck_abort_msg("NATS not healthy within %u ms: /healthz %d %d %d (see %s)",
				     timeout_ms, last[0], last[1], last[2], n->dir);
		h_sleep_ms(100);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "write %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_msg(fclose(f) == 0, "write %s: %s", path, strerror(errno));
	chmod(path, 0644);
}

/* A CA and the MQTT listeners' certificate for 127.0.0.1 (as a DNS name
 * too: mosquitto's bridge checks the address as a host name), with the
 * openssl CLI. */
static void make_tls(struct h_nats *n)
{
	char d[360], cakey[400], csr[400], key[400], crt[400], ext[400], serial[400];

	snprintf(d, sizeof d, "%s/tls", n->dir);
	ck_assert_msg(mkdir(d, 0755) == 0, "mkdir %s: %s", d, strerror(errno));
	snprintf(n->ca_file, sizeof n->ca_file, "%s/ca.crt", d);
	snprintf(cakey, sizeof cakey, "%s/ca.key", d);
	snprintf(csr, sizeof csr, "%s/server.csr", d);
	snprintf(key, sizeof key, "%s/server.key", d);
	snprintf(crt, sizeof crt, "%s/server.crt", d);
	snprintf(ext, sizeof ext, "%s/server.ext", d);
	snprintf(serial, sizeof serial, "%s/ca.srl", d);
	{
		const char *const argv[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
					     "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
					     "-keyout", cakey, "-out", n->ca_file, "-days", "2",
					     "-subj", "/CN=edged test upstream CA", NULL };
		h_run(NULL, argv);
	}
	{
		const char *const argv[] = { "/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt",
					     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
					     "-out", csr, "-subj", "/CN=127.0.0.1", NULL };
		h_run(NULL, argv);
	}
	write_file(ext, "subjectAltName = DNS:127.0.0.1, IP:127.0.0.1\n"
			"extendedKeyUsage = serverAuth\n");
	{
		const char *const argv[] = { "/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA",
					     n->ca_file, "-CAkey", cakey, "-CAserial", serial,
					     "-CAcreateserial", "-days", "2", "-extfile", ext,
					     "-out", crt, NULL };
		h_run(NULL, argv);
	}
	/* The bridge's mosquitto may run as its own user: the CA is public. */
	chmod(n->ca_file, 0644);
}

/* "a:b,c:d" → NATS users entries; names and passwords [A-Za-z0-9_-]. */
static void users_conf(const char *users, char *out, size_t cap)
{
	const char *p = users;
	size_t len = 0;

	out[0] = '\0';
	while (*p) {
		size_t u = strcspn(p, ":,"), w;

		ck_assert_msg(p[u] == ':' && u > 0, "users: '%s' is not name:password,...", users);
		w = strcspn(p + u + 1, ",");
		ck_assert_msg(w > 0, "users: '%s' has an empty password", users);
		len += (size_t)snprintf(out + len, cap - len,
					"    { user: \"%.*s\", password: \"%.*s\" }\n", (int)u, p,
					(int)w, p + u + 1);
		ck_assert_msg(len < cap, "users: too many");
		p += u + 1 + w;
		if (*p == ',')
			p++;
	}
}

static void write_conf(struct h_nats *n, int i, const char *users)
{
	char routes[512] = "", tls[1024] = "", ucfg[2048], text[6144];
	size_t rl = 0;

	for (int j = 0; j < H_NATS_NODES; j++)
		if (j != i)
			rl += (size_t)snprintf(routes + rl, sizeof routes - rl,
					       "    nats-route://127.0.0.1:%d\n", n->cluster_port[j]);
	if (n->tls)
		snprintf(tls, sizeof tls,
			 "  tls {\n    cert_file: \"%s/tls/server.crt\"\n"
			 "    key_file: \"%s/tls/server.key\"\n  }\n", n->dir, n->dir);
	users_conf(users, ucfg, sizeof ucfg);
	snprintf(text, sizeof text,
		 "# written by the integration harness (harness_nats.c)\n"
		 "server_name: n%d\n"
		 "listen: 127.0.0.1:%d\n"
		 "http: 127.0.0.1:%d\n"
		 "jetstream {\n  store_dir: \"%s/n%d\"\n  max_memory_store: 64MB\n"
		 "  max_file_store: 1GB\n}\n"
		 "cluster {\n  name: edged-upstream\n  listen: 127.0.0.1:%d\n"
		 "  routes: [\n%s  ]\n}\n"
		 /* Three replicas whatever the cluster looked like at the first
		  * MQTT connect (NATS sizes them from the peers it sees then: an R2
		  * stream has no quorum once one of its nodes is killed). */
		 "mqtt {\n  listen: 127.0.0.1:%d\n  stream_replicas: 3\n"
		 "  consumer_replicas: 3\n%s}\n"
		 "authorization {\n  users: [\n%s  ]\n}\n",
		 i, n->client_port[i], n->http_port[i], n->dir, i, n->cluster_port[i], routes,
		 n->mqtt_port[i], tls, ucfg);
	write_file(n->conf[i], text);
}

void h_nats_start(struct h_nats *n, const char *parent, bool tls, const char *users)
{
	size_t c = 0;

	memset(n, 0, sizeof *n);
	ck_assert_msg(find_bin(n->bin, sizeof n->bin), "no nats-server binary");
	snprintf(n->dir, sizeof n->dir, "%s/edged-nats-XXXXXX", parent ? parent : "/tmp");
	ck_assert_msg(mkdtemp(n->dir), "mkdtemp %s: %s", n->dir, strerror(errno));
	chmod(n->dir, 0755);
	n->tls = tls;
	if (tls)
		make_tls(n);
	for (int i = 0; i < H_NATS_NODES; i++) {
		char d[400];

		n->client_port[i] = h_free_port();
		n->cluster_port[i] = h_free_port();
		n->mqtt_port[i] = h_free_port();
		n->http_port[i] = h_free_port();
		snprintf(d, sizeof d, "%s/n%d", n->dir, i);
		ck_assert_msg(mkdir(d, 0755) == 0, "mkdir %s: %s", d, strerror(errno));
		snprintf(n->conf[i], sizeof n->conf[i], "%s/n%d.conf", n->dir, i);
		snprintf(n->proc[i].name, sizeof n->proc[i].name, "nats-n%d", i);
		snprintf(n->proc[i].log_path, sizeof n->proc[i].log_path, "%s/n%d.log", n->dir, i);
		n->proc[i].stdin_fd = -1;
	}
	for (int i = 0; i < H_NATS_NODES; i++)
		write_conf(n, i, users);
	while (c < NATS_MAX_CLUSTERS && live[c])
		c++;
	ck_assert_msg(c < NATS_MAX_CLUSTERS, "more than %d NATS clusters", NATS_MAX_CLUSTERS);
	live[c] = n;
	h_teardown_hook(nats_teardown);
	for (int i = 0; i < H_NATS_NODES; i++)
		spawn_node(n, i);
	h_nats_wait_healthy(n, NATS_HEALTHY_TIMEOUT_MS);
}

void h_nats_kill(struct h_nats *n, int i)
{
	ck_assert(i >= 0 && i < H_NATS_NODES);
	ck_assert_msg(h_nats_running(n, i), "NATS node %d is not running", i);
	node_stop(n, i, SIGKILL);
}

void h_nats_restart(struct h_nats *n, int i)
{
	ck_assert(i >= 0 && i < H_NATS_NODES);
	ck_assert_msg(!h_nats_running(n, i), "NATS node %d is still running", i);
	spawn_node(n, i);
	h_nats_wait_healthy(n, NATS_HEALTHY_TIMEOUT_MS);
}

void h_nats_stop_all(struct h_nats *n)
{
	for (int i = 0; i < H_NATS_NODES; i++)
		node_stop(n, i, SIGTERM);
}

void h_nats_start_all(struct h_nats *n)
{
	for (int i = 0; i < H_NATS_NODES; i++)
		if (!h_nats_running(n, i))
			spawn_node(n, i);
	h_nats_wait_healthy(n, NATS_HEALTHY_TIMEOUT_MS);
}

void h_nats_free(struct h_nats *n)
{
	h_nats_stop_all(n);
	for (size_t c = 0; c < NATS_MAX_CLUSTERS; c++)
		if (live[c] == n)
			live[c] = NULL;
	h_remove_tree(n->dir);
}
