/* Suite 'control': the real control server with edged's command table on a
 * real socket in a scratch directory, the real store and registry behind it.
 * The server runs on this thread's uv loop; each scenario's client runs in a
 * second thread with blocking sockets (bounded by SO_RCVTIMEO), and the loop
 * runs until the client is done or a deadline passes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "control.h"
#include "edge_build_config.h"
#include "edge_ctl_frame.h"
#include "edge_ctl_json.h"
#include "edge_node_msg.h"
#include "edge_time.h"
#include "edged.h"

#define CLIENT_TIMEOUT_S 10
#define SCENARIO_DEADLINE_MS 20000
#define MAX_REPLIES 4

struct fx {
	char dir[64];
	char sock[96];
	uv_loop_t loop;
	uv_async_t done;
	uv_timer_t deadline;
	bool timed_out;
	struct edged d;
	unsigned max_clients;
	size_t max_request;

	/* filled by client scripts, checked on the main thread */
	json_t *reply[MAX_REPLIES];
	bool closed_after[MAX_REPLIES]; /* peer closed after the reply */
	int connect_errno;
};

static struct fx fx;

/* ---- client side (runs in the client thread) ---- */

static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fx.sock);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static void client_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void client_send_frame(int fd, const char *body)
{
	uint8_t hdr[EDGE_CTL_HEADER_LEN];

	if (edge_ctl_frame_header(hdr, strlen(body), EDGE_CTL_REQUEST_MAX) == 0) {
		client_write(fd, hdr, sizeof hdr);
		client_write(fd, body, strlen(body));
	}
}

static bool recv_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* One response frame as JSON, or NULL if the server closed first. Reads
 * exactly one frame, so pipelined answers stay in the socket. */
static json_t *client_read(int fd)
{
	static char body[1 << 20];
	uint8_t hdr[EDGE_CTL_HEADER_LEN];
	size_t len;

	if (!recv_exact(fd, hdr, sizeof hdr))
		return NULL;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len > sizeof body || !recv_exact(fd, body, len))
		return NULL;
	return json_loadb(body, len, 0, NULL);
}

/* The server closed: end of stream, or a reset when it closed with our
 * request still unread (AF_UNIX reports that as ECONNRESET). */
static bool client_sees_eof(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* ---- running a scenario ---- */

struct script {
	void (*fn)(void);
};

static void *client_thread(void *arg)
{
	struct script *s = arg;

	s->fn();
	uv_async_send(&fx.done);
	return NULL;
}

static void on_done(uv_async_t *h)
{
	uv_stop(h->loop);
}

static void on_deadline(uv_timer_t *t)
{
	fx.timed_out = true;
	uv_stop(t->loop);
}

static void run_client(void (*fn)(void))
{
	struct script s = { fn };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, client_thread, &s), 0);
	uv_timer_start(&fx.deadline, on_deadline, SCENARIO_DEADLINE_MS, 0);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	uv_timer_stop(&fx.deadline);
	if (fx.timed_out)
		ck_abort_msg("client scenario did not finish within %d ms", SCENARIO_DEADLINE_MS);
	pthread_join(th, NULL);
}

static int start_server(void)
{
	const struct edge_settings *s = edge_config_settings(fx.d.config);
	struct edged_control_options opt = {
		.path = fx.sock,
		.mode = (unsigned)s->control.socket_mode,
		.group = (gid_t)-1,
		.max_clients = fx.max_clients,
		.max_request_bytes = fx.max_request,
		.idle_timeout_ms = 5000,
		.commands = edged_commands,
		.ncommands = edged_commands_count,
		.ud = &fx.d,
	};

	return edged_control_new(&fx.loop, &opt, &fx.d.control);
}

static void setup(void)
{
	struct edge_registry_options ropt;
	char db[128];

	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/edged-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.sock, sizeof fx.sock, "%s/edged.sock", fx.dir);
	snprintf(db, sizeof db, "%s/edged.db", fx.dir);
	ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
	ck_assert_int_eq(uv_async_init(&fx.loop, &fx.done, on_done), 0);
	ck_assert_int_eq(uv_timer_init(&fx.loop, &fx.deadline), 0);
	fx.d.loop = &fx.loop;
	fx.d.start_ms = edge_time_monotonic_ms();
	fx.d.config = edge_config_new();
	ck_assert_ptr_nonnull(fx.d.config);
	ck_assert_int_eq(edge_store_open(db, NULL, &fx.d.store), 0);
	edge_registry_options_init(&ropt);
	ropt.max_devices = 8;
	ck_assert_int_eq(edge_registry_new(fx.d.store, &ropt, &fx.d.registry), 0);
	fx.max_clients = 4;
	fx.max_request = 1024;
}

static void teardown(void)
{
	char path[128];

	edged_control_free(fx.d.control);
	edge_registry_free(fx.d.registry);
	edge_store_close(fx.d.store);
	uv_close((uv_handle_t *)&fx.done, NULL);
	uv_close((uv_handle_t *)&fx.deadline, NULL);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
	edge_config_free(fx.d.config);
	for (int i = 0; i < MAX_REPLIES; i++)
		json_decref(fx.reply[i]);
	const char *const files[] = { "edged.db", "edged.db-wal", "edged.db-shm", "edged.sock",
				      "plain", "edged.conf" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", fx.dir, files[i]);
		unlink(path);
	}
	rmdir(fx.dir);
}

/* ---- assertions on replies ---- */

static json_t *ok_result(int i)
{
	json_t *r = fx.reply[i];

	ck_assert_msg(r != NULL, "no reply %d", i);
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "reply %d not ok: %s", i,
		      json_string_value(json_object_get(json_object_get(r, "error"), "message")));
	return json_object_get(r, "result");
}

static void assert_error(int i, const char *code)
{
	json_t *r = fx.reply[i];
	const char *got;

	ck_assert_msg(r != NULL, "no reply %d", i);
	ck_assert(json_is_false(json_object_get(r, "ok")));
	got = json_string_value(json_object_get(json_object_get(r, "error"), "code"));
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, code);
	ck_assert(json_is_string(json_object_get(json_object_get(r, "error"), "message")));
}

/* One request per connection. */
static const char *one_request;
static void script_one(void)
{
	int fd = client_connect();

	fx.connect_errno = fd < 0 ? -fd : 0;
	if (fd < 0)
		return;
	client_send_frame(fd, one_request);
	fx.reply[0] = client_read(fd);
	close(fd);
}

static void request(const char *body)
{
	json_decref(fx.reply[0]);
	fx.reply[0] = NULL;
	one_request = body;
	run_client(script_one);
	ck_assert_int_eq(fx.connect_errno, 0);
}

/* ---- tests ---- */

START_TEST(test_socket_mode_and_status)
{
	struct stat st;
	json_t *res, *rej;

	ck_assert_int_eq(start_server(), 0);
	ck_assert_int_eq(stat(fx.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0660);

	request("{\"cmd\":\"status\"}");
	res = ok_result(0);
	ck_assert_str_eq(json_string_value(json_object_get(res, "version")), EDGE_VERSION);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "nodes"), "total")),
			 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "broker"), "state")),
			 "not running");
	rej = json_object_get(res, "rejects");
	ck_assert(json_is_integer(json_object_get(rej, "bad_json")));
	ck_assert(json_is_integer(json_object_get(rej, "too_large")));
	ck_assert(json_is_integer(json_object_get(rej, "device_limit")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "store"), "state")),
			 "open");
	ck_assert(json_is_integer(json_object_get(json_object_get(res, "store"), "db_bytes")));
}
END_TEST

START_TEST(test_unknown_and_malformed)
{
	ck_assert_int_eq(start_server(), 0);
	request("{\"cmd\":\"launch-rockets\"}");
	assert_error(0, "unknown_command");
	request("{\"cmd\":");
	assert_error(0, "bad_request");
	request("[1,2,3]");
	assert_error(0, "bad_request");
	request("{\"cmd\":\"status\",\"args\":42}");
	assert_error(0, "bad_request");
	request("{\"cmd\":\"status\",\"cmd\":\"devices\"}");
	assert_error(0, "bad_request");
	request("{\"cmd\":\"help\"}");
	ck_assert_int_ge(json_array_size(json_object_get(ok_result(0), "commands")), 6);
}
END_TEST

static void script_too_large(void)
{
	uint8_t hdr[4] = { 0, 0, 0x04, 0x01 }; /* 1025 bytes: one over the limit */
	int fd = client_connect();

	if (fd < 0)
		return;
	client_write(fd, hdr, sizeof hdr);
	fx.reply[0] = client_read(fd);
	fx.closed_after[0] = client_sees_eof(fd);
	close(fd);
}

START_TEST(test_too_large_closes)
{
	json_t *res;

	ck_assert_int_eq(start_server(), 0);
	run_client(script_too_large);
	assert_error(0, "too_large");
	ck_assert(fx.closed_after[0]);
	/* The server is unaffected. */
	request("{\"cmd\":\"status\"}");
	res = ok_result(0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "control"),
							   "too_large")), 1);
}
END_TEST

static void script_split(void)
{
	const char *body = "{\"cmd\":\"status\",\"args\":{}}";
	uint8_t hdr[EDGE_CTL_HEADER_LEN];
	int fd = client_connect();

	if (fd < 0 || edge_ctl_frame_header(hdr, strlen(body), EDGE_CTL_REQUEST_MAX) < 0)
		return;
	/* Header in two pieces, body in three; the server must wait. */
	client_write(fd, hdr, 1);
	usleep(20000);
	client_write(fd, hdr + 1, 3);
	usleep(20000);
	client_write(fd, body, 5);
	usleep(20000);
	client_write(fd, body + 5, 10);
	usleep(20000);
	client_write(fd, body + 15, strlen(body) - 15);
	fx.reply[0] = client_read(fd);
	/* Two requests in one write, answered in order. */
	client_send_frame(fd, "{\"cmd\":\"nope\"}");
	client_send_frame(fd, "{\"cmd\":\"devices\"}");
	fx.reply[1] = client_read(fd);
	fx.reply[2] = client_read(fd);
	close(fd);
}

static void script_half_close(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	client_send_frame(fd, "{\"cmd\":\"status\"}");
	client_send_frame(fd, "{\"cmd\":\"devices\"}");
	shutdown(fd, SHUT_WR);
	fx.reply[0] = client_read(fd);
	fx.reply[1] = client_read(fd);
	fx.closed_after[1] = client_sees_eof(fd);
	close(fd);
}

START_TEST(test_half_close_still_answered)
{
	ck_assert_int_eq(start_server(), 0);
	run_client(script_half_close);
	ok_result(0);
	ok_result(1);
	ck_assert(fx.closed_after[1]);
}
END_TEST

START_TEST(test_split_and_pipelined)
{
	ck_assert_int_eq(start_server(), 0);
	run_client(script_split);
	ck_assert_str_eq(json_string_value(json_object_get(ok_result(0), "version")), EDGE_VERSION);
	assert_error(1, "unknown_command");
	ck_assert_int_eq(json_integer_value(json_object_get(ok_result(2), "count")), 0);
}
END_TEST

static void add_node(const char *id)
{
	static const char hello_fmt[] =
		"{\"proto\":1,\"id\":\"%s\",\"fw\":\"1.4.2\",\"runtime\":{\"name\":\"tflm\","
		"\"version\":\"2.14.0\"},\"ops\":[\"CONV_2D\"],\"ram_bytes\":262144,"
		"\"flash_bytes\":1048576,\"arena_bytes\":65536,\"sensor\":\"accel-3axis\","
		"\"heartbeat_s\":30}";
	char topic[128], payload[512];
	struct edge_node_msg msg;

	snprintf(topic, sizeof topic, "edge/v1/%s/hello", id);
	snprintf(payload, sizeof payload, hello_fmt, id);
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), payload, strlen(payload), &msg,
					     NULL), 0);
	ck_assert_int_eq(edge_registry_on_hello(fx.d.registry, &msg.u.hello,
						edge_time_monotonic_ms(), 1700000000000), 0);
}

START_TEST(test_devices_and_device)
{
	json_t *res, *list;

	ck_assert_int_eq(start_server(), 0);
	add_node("node-b");
	add_node("node-a");

	request("{\"cmd\":\"devices\"}");
	res = ok_result(0);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "count")), 2);
	list = json_object_get(res, "devices");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), "node-a");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "state")),
			 "online");

	request("{\"cmd\":\"devices\",\"args\":{\"state\":\"offline\"}}");
	ck_assert_int_eq(json_integer_value(json_object_get(ok_result(0), "count")), 0);
	request("{\"cmd\":\"devices\",\"args\":{\"state\":\"sideways\"}}");
	assert_error(0, "bad_args");

	request("{\"cmd\":\"device\",\"args\":{\"id\":\"node-a\"}}");
	res = ok_result(0);
	ck_assert_str_eq(json_string_value(json_object_get(res, "fw")), "1.4.2");
	ck_assert_int_eq(json_integer_value(json_object_get(res, "ram_bytes")), 262144);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "first_seen_ms")), 1700000000000);
	ck_assert(json_is_null(json_object_get(res, "model")));
	request("{\"cmd\":\"device\",\"args\":{\"id\":\"node-z\"}}");
	assert_error(0, "not_found");
	request("{\"cmd\":\"device\"}");
	assert_error(0, "bad_args");
}
END_TEST

START_TEST(test_config_hides_secrets_and_reload_without_file)
{
	char err[256];
	json_t *keys, *k;
	char *text;
	size_t i;
	bool seen = false;

	ck_assert_int_eq(edge_config_set(fx.d.config, "mqtt.username", "edged", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_set(fx.d.config, "mqtt.password", "s3cret#pw", err, sizeof err),
			 0);
	ck_assert_int_eq(start_server(), 0);
	request("{\"cmd\":\"config\"}");
	text = json_dumps(fx.reply[0], 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_null(strstr(text, "s3cret"));
	free(text);
	keys = json_object_get(ok_result(0), "keys");
	json_array_foreach(keys, i, k) {
		if (strcmp(json_string_value(json_object_get(k, "name")), "mqtt.password") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(k, "value")), "<hidden>");
			ck_assert(json_is_true(json_object_get(k, "secret")));
			seen = true;
		}
	}
	ck_assert(seen);

	request("{\"cmd\":\"reload\"}");
	assert_error(0, "internal");
	ck_assert_uint_eq(fx.d.reload_failures, 1);
}
END_TEST

START_TEST(test_reload_applies_stale_after)
{
	char conf[128];
	uint64_t before, after;
	FILE *f;

	snprintf(conf, sizeof conf, "%s/edged.conf", fx.dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[registry]\nstale_after_missed_heartbeats = 1\n", f);
	ck_assert_int_eq(fclose(f), 0);
	fx.d.config_path = conf;
	ck_assert_int_eq(start_server(), 0);
	request("{\"cmd\":\"reload\"}");
	ok_result(0);
	ck_assert_int_eq(
		edge_config_settings(fx.d.config)->registry.stale_after_missed_heartbeats, 1);

	/* The node's hello gives a 30 s interval: stale after one missed
	 * heartbeat now, not after the default three. */
	before = edge_time_monotonic_ms();
	add_node("node-r");
	after = edge_time_monotonic_ms();
	edge_registry_tick(fx.d.registry, before + 29999);
	request("{\"cmd\":\"devices\",\"args\":{\"state\":\"stale\"}}");
	ck_assert_int_eq(json_integer_value(json_object_get(ok_result(0), "count")), 0);
	edge_registry_tick(fx.d.registry, after + 30000);
	request("{\"cmd\":\"devices\",\"args\":{\"state\":\"stale\"}}");
	ck_assert_int_eq(json_integer_value(json_object_get(ok_result(0), "count")), 1);
}
END_TEST

static void script_busy(void)
{
	int a = client_connect(), b;

	if (a < 0)
		return;
	/* A is accepted and served before B arrives. */
	client_send_frame(a, "{\"cmd\":\"status\"}");
	fx.reply[0] = client_read(a);
	b = client_connect();
	if (b >= 0) {
		fx.reply[1] = client_read(b);
		fx.closed_after[1] = client_sees_eof(b);
		close(b);
	}
	close(a);
}

START_TEST(test_max_clients)
{
	fx.max_clients = 1;
	ck_assert_int_eq(start_server(), 0);
	run_client(script_busy);
	ok_result(0);
	assert_error(1, "busy");
	ck_assert(fx.closed_after[1]);
}
END_TEST

START_TEST(test_stale_socket_replaced_live_one_kept)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct edged_control *second = NULL;
	struct edged_control_options opt = {
		.path = fx.sock, .mode = 0660, .group = (gid_t)-1, .max_clients = 1,
		.max_request_bytes = 1024, .commands = edged_commands,
		.ncommands = edged_commands_count, .ud = &fx.d,
	};
	char plain[128];
	int fd;

	/* A socket file nobody listens on: what a killed edged leaves. */
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fx.sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	ck_assert_int_eq(start_server(), 0);

	/* A live server is not taken over. */
	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &second), -EADDRINUSE);
	request("{\"cmd\":\"status\"}");
	ok_result(0);

	/* Anything that is not a socket is never deleted. */
	snprintf(plain, sizeof plain, "%s/plain", fx.dir);
	fd = open(plain, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	opt.path = plain;
	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &second), -EEXIST);
	ck_assert_int_eq(access(plain, F_OK), 0);
}
END_TEST

/* A user the group database lists as a member of a group that is not its
 * primary group (e.g. postgres in ssl-cert); false if the system has none. */
static bool find_supplementary_member(uid_t *uid, gid_t *primary, gid_t *group)
{
	struct group *g;
	bool found = false;

	setgrent();
	while (!found && (g = getgrent())) {
		for (char **m = g->gr_mem; m && *m && !found; m++) {
			struct passwd *pw = getpwnam(*m);

			if (pw && pw->pw_uid != 0 && pw->pw_gid != g->gr_gid) {
				*uid = pw->pw_uid;
				*primary = pw->pw_gid;
				*group = g->gr_gid;
				found = true;
			}
		}
	}
	endgrent();
	return found;
}

START_TEST(test_peer_policy)
{
	uid_t uid, unknown = 0x7ffffff0;
	gid_t primary, group;

	ck_assert(edged_control_peer_allowed(0, 0, 4242, 4243));
	ck_assert(edged_control_peer_allowed(4242, 100, 4242, 4243));
	ck_assert(edged_control_peer_allowed(5000, 4243, 4242, 4243));
	/* A uid without a user entry has no groups but its own gid. */
	ck_assert_ptr_null(getpwuid(unknown));
	ck_assert(!edged_control_peer_allowed(unknown, 5000, 4242, 4243));
	if (!find_supplementary_member(&uid, &primary, &group)) {
		fprintf(stderr, "note: no user with a supplementary group in the group database; "
				"membership by /etc/group not checked\n");
		return;
	}
	/* Member by the group database, whatever gid the peer runs with. */
	ck_assert(edged_control_peer_allowed(uid, primary, 4242, group));
	ck_assert(edged_control_peer_allowed(uid, 5000, 4242, group));
	/* Its primary group from the user database counts too. */
	ck_assert(edged_control_peer_allowed(uid, 5000, 4242, primary));
	/* Not a member of some other group. */
	ck_assert(!edged_control_peer_allowed(uid, primary, 4242, 987654));
}
END_TEST

/* ---- a real peer under another identity (root only) ---- */

enum peer_outcome {
	PEER_ANSWERED_OK = 10,      /* status answered with ok: true */
	PEER_NOT_AUTHORISED = 11,   /* not_authorised, then the server closed */
	PEER_SETUP_FAILED = 12,
	PEER_NO_ANSWER = 13,
	PEER_OTHER_ANSWER = 14,
};

static uid_t peer_uid;
static gid_t peer_gid;
static int peer_outcome;

/* In the forked child: only system calls and stack buffers. The child
 * keeps no supplementary groups, so only the group database can vouch
 * for it. */
static int peer_child(void)
{
	static const char req[] = "{\"cmd\":\"status\"}";
	uint8_t hdr[EDGE_CTL_HEADER_LEN] = { 0, 0, 0, sizeof req - 1 };
	char body[8192];
	size_t len;
	int fd;

	if (setgroups(0, NULL) < 0 || setgid(peer_gid) < 0 || setuid(peer_uid) < 0)
		return PEER_SETUP_FAILED;
	fd = client_connect();
	if (fd < 0)
		return PEER_SETUP_FAILED;
	client_write(fd, hdr, sizeof hdr);
	client_write(fd, req, sizeof req - 1);
	if (!recv_exact(fd, hdr, sizeof hdr))
		return PEER_NO_ANSWER;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len >= sizeof body || !recv_exact(fd, body, len))
		return PEER_NO_ANSWER;
	body[len] = '\0';
	if (strstr(body, "\"ok\":true"))
		return PEER_ANSWERED_OK;
	if (strstr(body, "\"code\":\"not_authorised\"") && client_sees_eof(fd))
		return PEER_NOT_AUTHORISED;
	return PEER_OTHER_ANSWER;
}

static void script_peer(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(peer_child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		peer_outcome = -1;
	else
		peer_outcome = WEXITSTATUS(status);
}

static int peer_run_as(uid_t uid, gid_t gid)
{
	peer_uid = uid;
	peer_gid = gid;
	peer_outcome = 0;
	run_client(script_peer);
	return peer_outcome;
}

START_TEST(test_peer_member_by_group_database)
{
	struct edged_control_options opt = {
		.path = fx.sock, .mode = 0666, .max_clients = 4, .max_request_bytes = 1024,
		.commands = edged_commands, .ncommands = edged_commands_count, .ud = &fx.d,
	};
	uid_t uid;
	gid_t primary, group;

	if (geteuid() != 0 || !find_supplementary_member(&uid, &primary, &group)) {
		fprintf(stderr, "note: needs root and a user with a supplementary group; "
				"skipped\n");
		return;
	}
	/* The socket is wide open here: this is about edged's own check. */
	ck_assert_int_eq(chmod(fx.dir, 0755), 0);
	opt.group = group;
	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &fx.d.control), 0);
	ck_assert_int_eq(peer_run_as(uid, primary), PEER_ANSWERED_OK);
	ck_assert_int_eq(peer_run_as(65534, 65534), PEER_NOT_AUTHORISED);
	ck_assert_int_eq(peer_run_as(0x7ffffff0, 0x7ffffff0), PEER_NOT_AUTHORISED);
	request("{\"cmd\":\"status\"}");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ok_result(0),
									    "control"),
							   "refused_auth")), 2);
}
END_TEST

START_TEST(test_json_frame)
{
	json_t *msg = json_pack("{s:s, s:s}", "cmd", "status", "note", "caf\u00e9");
	json_t *big;
	char *frame = NULL, *text;
	size_t len = 0;

	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(edge_ctl_json_frame(msg, EDGE_CTL_REQUEST_MAX, &frame, &len), 0);
	/* Header = body length, body compact and ASCII-only. */
	ck_assert_uint_eq(len, EDGE_CTL_HEADER_LEN + 35);
	ck_assert_mem_eq(frame, "\0\0\0\x23", EDGE_CTL_HEADER_LEN);
	ck_assert_mem_eq(frame + EDGE_CTL_HEADER_LEN, "{\"cmd\":\"status\",\"note\":\"caf\\u00E9\"}",
			 35);
	free(frame);

	/* A body over the limit is refused and nothing is allocated. */
	text = malloc(EDGE_CTL_REQUEST_MAX);
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', EDGE_CTL_REQUEST_MAX - 1);
	text[EDGE_CTL_REQUEST_MAX - 1] = '\0';
	big = json_pack("{s:s}", "args", text);
	free(text);
	frame = NULL;
	ck_assert_int_eq(edge_ctl_json_frame(big, EDGE_CTL_REQUEST_MAX, &frame, &len), -EMSGSIZE);
	ck_assert_ptr_null(frame);
	ck_assert_int_eq(edge_ctl_json_frame(big, EDGE_CTL_RESPONSE_MAX, &frame, &len), 0);
	free(frame);
	json_decref(big);
	json_decref(msg);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_socket_mode_and_status);
	tcase_add_test(tc, test_unknown_and_malformed);
	tcase_add_test(tc, test_too_large_closes);
	tcase_add_test(tc, test_split_and_pipelined);
	tcase_add_test(tc, test_half_close_still_answered);
	tcase_add_test(tc, test_devices_and_device);
	tcase_add_test(tc, test_config_hides_secrets_and_reload_without_file);
	tcase_add_test(tc, test_reload_applies_stale_after);
	tcase_add_test(tc, test_max_clients);
	tcase_add_test(tc, test_stale_socket_replaced_live_one_kept);
	tcase_add_test(tc, test_peer_policy);
	tcase_add_test(tc, test_json_frame);
	tcase_add_test(tc, test_peer_member_by_group_database);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
