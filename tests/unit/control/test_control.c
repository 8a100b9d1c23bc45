/* Suite 'control': the real control server with edged's command table on a
 * real socket in a scratch directory, the real store and registry behind it.
 * The server runs on this thread's uv loop; each scenario's client runs in a
 * second thread with blocking sockets (bounded by SO_RCVTIMEO), and the loop
 * runs until the client is done or a deadline passes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "control.h"
#include "control_fixture.h"
#include "edge_build_config.h"
#include "edge_ctl_frame.h"
#include "edge_ctl_json.h"
#include "edge_node_msg.h"
#include "edge_time.h"
#include "edged.h"
#include "test_run.h"

#define MAX_REPLIES 4

struct fx {
	char dir[64];
	char sock[96];
	uv_loop_t loop;
	struct ctlfx_runner run;
	struct edged d;
	unsigned max_clients;
	size_t max_request;
	unsigned request_timeout_ms;

	/* filled by client scripts, checked on the main thread */
	json_t *reply[MAX_REPLIES];
	bool closed_after[MAX_REPLIES]; /* peer closed after the reply */
	int connect_errno;
	bool early_reply;               /* an answer came before the request was whole */
};

static struct fx fx;

/* ---- client side (runs in the client thread) ---- */

static int client_connect(void)
{
	return ctlfx_connect(fx.sock);
}

static uint64_t now_ms(void)
{
	return edge_time_monotonic_ms();
}

/* ---- running a scenario ---- */

static void run_client(void (*fn)(void))
{
	ctlfx_run_client(&fx.run, &fx.loop, fn);
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
		.request_timeout_ms = fx.request_timeout_ms,
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
	ctlfx_runner_init(&fx.run, &fx.loop);
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
	fx.request_timeout_ms = 5000;
}

static void teardown(void)
{
	char path[128];

	edged_control_free(fx.d.control);
	edge_registry_free(fx.d.registry);
	edge_store_close(fx.d.store);
	ctlfx_runner_close(&fx.run);
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
	return ctlfx_ok_result(fx.reply[i], i);
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
	ctlfx_send_frame(fd, one_request);
	fx.reply[0] = ctlfx_read(fd);
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
	ctlfx_write(fd, hdr, sizeof hdr);
	fx.reply[0] = ctlfx_read(fd);
	fx.closed_after[0] = ctlfx_sees_eof(fd);
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
	/* Header in two pieces, body in three; the server must wait for the
	 * whole frame: no answer to any piece before the last. */
	ctlfx_write(fd, hdr, 1);
	fx.early_reply |= !ctlfx_quiet(fd, 20);
	ctlfx_write(fd, hdr + 1, 3);
	fx.early_reply |= !ctlfx_quiet(fd, 20);
	ctlfx_write(fd, body, 5);
	fx.early_reply |= !ctlfx_quiet(fd, 20);
	ctlfx_write(fd, body + 5, 10);
	fx.early_reply |= !ctlfx_quiet(fd, 20);
	ctlfx_write(fd, body + 15, strlen(body) - 15);
	fx.reply[0] = ctlfx_read(fd);
	/* Two requests in one write, answered in order. */
	ctlfx_send_frame(fd, "{\"cmd\":\"nope\"}");
	ctlfx_send_frame(fd, "{\"cmd\":\"devices\"}");
	fx.reply[1] = ctlfx_read(fd);
	fx.reply[2] = ctlfx_read(fd);
	close(fd);
}

static void script_half_close(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"status\"}");
	ctlfx_send_frame(fd, "{\"cmd\":\"devices\"}");
	shutdown(fd, SHUT_WR);
	fx.reply[0] = ctlfx_read(fd);
	fx.reply[1] = ctlfx_read(fd);
	fx.closed_after[1] = ctlfx_sees_eof(fd);
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
	ck_assert_msg(!fx.early_reply, "answered before the request was whole");
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
	assert_error(0, "bad_config");
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

/* A figure of the "control" object of a status result. */
static json_int_t ctl_stat(json_t *res, const char *key)
{
	json_t *v = json_object_get(json_object_get(res, "control"), key);

	ck_assert_msg(json_is_integer(v), "status has no control.%s", key);
	return json_integer_value(v);
}

/* Holds max_clients + the reserve (this test runs as root or as edged's own
 * user, so it may take the reserve), then one more is refused. */
static void script_busy(void)
{
	int fd[1 + CONTROL_RESERVED_CLIENTS], extra;
	int n = 0;

	for (; n < 1 + CONTROL_RESERVED_CLIENTS; n++) {
		fd[n] = client_connect();
		if (fd[n] < 0)
			break;
		/* Each is accepted and served before the next arrives. */
		ctlfx_send_frame(fd[n], "{\"cmd\":\"status\"}");
		json_decref(fx.reply[0]);
		fx.reply[0] = ctlfx_read(fd[n]);
		if (!fx.reply[0])
			break;
	}
	extra = client_connect();
	if (extra >= 0) {
		fx.reply[1] = ctlfx_read(extra);
		fx.closed_after[1] = ctlfx_sees_eof(extra);
		close(extra);
	}
	while (n-- > 0)
		close(fd[n]);
}

START_TEST(test_max_clients)
{
	json_t *res;

	fx.max_clients = 1;
	ck_assert_int_eq(start_server(), 0);
	run_client(script_busy);
	res = ok_result(0); /* the last of the reserve, served */
	ck_assert_int_eq(ctl_stat(res, "clients"), 1 + CONTROL_RESERVED_CLIENTS);
	ck_assert_int_eq(ctl_stat(res, "max_clients"), 1);
	assert_error(1, "busy");
	ck_assert(fx.closed_after[1]);
	request("{\"cmd\":\"status\"}");
	ck_assert_int_eq(ctl_stat(ok_result(0), "refused_busy"), 1);
}
END_TEST

/* ---- slow clients: a request has a deadline from its first byte ---- */

#define SLOW_CLIENTS 16
#define SLOW_TIMEOUT_MS 1500
#define SLOW_BODY_LEN 200
#define SLOW_PACE_MS 100

static struct {
	int answered;             /* got an answer at all */
	int timed_out;            /* ... and it was "timeout", then the close */
	uint64_t min_elapsed_ms;  /* shortest first byte → answer */
} slow;

/* Sixteen clients hold every slot by trickling one byte each per
 * SLOW_PACE_MS (every byte would reset an idle timer). Meanwhile the
 * reserve still lets this (privileged) user in, then one more is busy.
 * The trickle stops for a client when its answer arrives, or gives up at
 * a bound far beyond the deadline. */
static void script_slowloris(void)
{
	uint8_t frame[EDGE_CTL_HEADER_LEN + SLOW_BODY_LEN];
	int fd[SLOW_CLIENTS], r1, r2, r3;
	size_t sent[SLOW_CLIENTS];
	uint64_t first[SLOW_CLIENTS], give_up;
	bool done[SLOW_CLIENTS] = { false };
	int left = SLOW_CLIENTS;

	memset(frame, ' ', sizeof frame);
	if (edge_ctl_frame_header(frame, SLOW_BODY_LEN, EDGE_CTL_REQUEST_MAX) < 0)
		return;
	memcpy(frame + EDGE_CTL_HEADER_LEN, "{\"cmd\":\"status\"}", 16);
	slow.min_elapsed_ms = UINT64_MAX;
	for (int i = 0; i < SLOW_CLIENTS; i++) {
		fd[i] = client_connect();
		if (fd[i] < 0)
			return;
		ctlfx_write(fd[i], frame, 1);
		sent[i] = 1;
		first[i] = now_ms();
	}
	/* Accepted in connection order: every ordinary slot is taken. */
	r1 = client_connect();
	if (r1 < 0)
		return;
	ctlfx_send_frame(r1, "{\"cmd\":\"status\"}");
	fx.reply[0] = ctlfx_read(r1);
	r2 = client_connect();
	if (r2 < 0)
		return;
	ctlfx_send_frame(r2, "{\"cmd\":\"status\"}");
	fx.reply[1] = ctlfx_read(r2);
	r3 = client_connect();
	if (r3 >= 0) {
		fx.reply[2] = ctlfx_read(r3);
		fx.closed_after[2] = ctlfx_sees_eof(r3);
		close(r3);
	}
	close(r1);
	close(r2);

	give_up = now_ms() + 4 * SLOW_TIMEOUT_MS + 5000;
	while (left > 0 && now_ms() < give_up) {
		struct pollfd p[SLOW_CLIENTS];
		int idx[SLOW_CLIENTS], n = 0, r;

		for (int i = 0; i < SLOW_CLIENTS; i++)
			if (!done[i]) {
				p[n] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
				idx[n++] = i;
			}
		r = poll(p, (nfds_t)n, SLOW_PACE_MS);
		if (r < 0 && errno != EINTR)
			break;
		if (r == 0) {
			for (int k = 0; k < n; k++) {
				int i = idx[k];

				if (sent[i] < sizeof frame)
					ctlfx_write(fd[i], frame + sent[i]++, 1);
			}
			continue;
		}
		for (int k = 0; k < n; k++) {
			int i = idx[k];
			json_t *ans;
			const char *code;
			uint64_t elapsed;

			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			elapsed = now_ms() - first[i];
			ans = ctlfx_read(fd[i]);
			code = json_string_value(json_object_get(json_object_get(ans, "error"),
								 "code"));
			done[i] = true;
			left--;
			if (ans)
				slow.answered++;
			if (code && strcmp(code, "timeout") == 0 && ctlfx_sees_eof(fd[i]))
				slow.timed_out++;
			if (elapsed < slow.min_elapsed_ms)
				slow.min_elapsed_ms = elapsed;
			json_decref(ans);
		}
	}
	for (int i = 0; i < SLOW_CLIENTS; i++)
		close(fd[i]);
}

START_TEST(test_slow_clients_time_out)
{
	json_t *res;

	fx.max_clients = SLOW_CLIENTS;
	fx.request_timeout_ms = SLOW_TIMEOUT_MS;
	memset(&slow, 0, sizeof slow);
	ck_assert_int_eq(start_server(), 0);
	run_client(script_slowloris);

	/* While the slots were held: the reserve served two, then busy. */
	res = ok_result(0);
	ck_assert_int_eq(ctl_stat(res, "clients"), SLOW_CLIENTS + 1);
	ck_assert_int_eq(ctl_stat(res, "max_clients"), SLOW_CLIENTS);
	ok_result(1);
	assert_error(2, "busy");
	ck_assert(fx.closed_after[2]);

	/* Every trickler was answered "timeout" and closed, not before its
	 * deadline (the server's clock starts when it reads the first byte,
	 * after this side's; 50 ms for timer granularity). */
	ck_assert_int_eq(slow.answered, SLOW_CLIENTS);
	ck_assert_int_eq(slow.timed_out, SLOW_CLIENTS);
	ck_assert_uint_ge(slow.min_elapsed_ms + 50, SLOW_TIMEOUT_MS);

	/* The slots are free again, and the figures add up. */
	request("{\"cmd\":\"status\"}");
	res = ok_result(0);
	ck_assert_int_eq(ctl_stat(res, "timeouts"), SLOW_CLIENTS);
	ck_assert_int_eq(ctl_stat(res, "refused_busy"), 1);
	ck_assert_int_eq(ctl_stat(res, "clients"), 1);
	ck_assert_int_eq(ctl_stat(res, "requests"), 3);
}
END_TEST

/* A request that arrives whole in time is served however it is split, and
 * each request on a connection gets its own deadline. */
static void script_two_requests_within_deadline(void)
{
	const char *body = "{\"cmd\":\"status\"}";
	uint8_t hdr[EDGE_CTL_HEADER_LEN];
	int fd = client_connect();

	if (fd < 0 || edge_ctl_frame_header(hdr, strlen(body), EDGE_CTL_REQUEST_MAX) < 0)
		return;
	for (int round = 0; round < 2; round++) {
		ctlfx_write(fd, hdr, sizeof hdr);
		fx.early_reply |= !ctlfx_quiet(fd, 50);
		ctlfx_write(fd, body, strlen(body));
		fx.reply[round] = ctlfx_read(fd);
	}
	close(fd);
}

START_TEST(test_request_within_deadline)
{
	fx.request_timeout_ms = 1000;
	ck_assert_int_eq(start_server(), 0);
	run_client(script_two_requests_within_deadline);
	ck_assert(!fx.early_reply);
	ok_result(0);
	ck_assert_int_eq(ctl_stat(ok_result(1), "timeouts"), 0);
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
	PEER_TIMED_OUT = 15,        /* timeout, then the server closed */
	PEER_HUNG_UP = 16,          /* sent its request and closed at once */
};

static uid_t peer_uid;
static gid_t peer_gid;
static int peer_outcome;

/* Set before forking: the child hangs up right after its request, and
 * tells this fd (if >= 0) once its request is sent. */
static bool peer_hang_up;
static int peer_notify_fd = -1;

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
	ctlfx_write(fd, hdr, sizeof hdr);
	ctlfx_write(fd, req, sizeof req - 1);
	if (peer_notify_fd >= 0 && write(peer_notify_fd, "c", 1) != 1)
		return PEER_SETUP_FAILED;
	if (peer_hang_up) {
		close(fd);
		return PEER_HUNG_UP;
	}
	if (!ctlfx_recv_exact(fd, hdr, sizeof hdr))
		return PEER_NO_ANSWER;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len >= sizeof body || !ctlfx_recv_exact(fd, body, len))
		return PEER_NO_ANSWER;
	body[len] = '\0';
	if (strstr(body, "\"ok\":true"))
		return PEER_ANSWERED_OK;
	if (strstr(body, "\"code\":\"not_authorised\"") && ctlfx_sees_eof(fd))
		return PEER_NOT_AUTHORISED;
	if (strstr(body, "\"code\":\"timeout\"") && ctlfx_sees_eof(fd))
		return PEER_TIMED_OUT;
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

/* ---- operator roles: every command of the table as every kind of peer
 * (root only: peers under other identities) ---- */

#define ROLE_ADMIN_GID 4302
#define ROLE_READ_GID 4301
#define ROLE_SOCKET_GID 4303
#define ROLE_REPLY_MAX 65536
#define ROLE_CELLS_MAX 48

/* A group database standing in for /etc/group: uid 4400 is listed in the
 * admin group, uid 4410 in the read group, nobody else anywhere. */
static bool table_member_lookup(uid_t uid, gid_t group)
{
	return (uid == 4400 && group == ROLE_ADMIN_GID) || (uid == 4410 && group == ROLE_READ_GID);
}

/* One cell: the command's request, then "help" on the same connection
 * (answered unless the server hung up). Shared with the forked peer. */
struct role_cell {
	char req[128];
	size_t reqlen;
	char reply[2][ROLE_REPLY_MAX];
	size_t len[2];
	bool got[2];
};

static struct role_cell *role_cells; /* mmap'd, shared */
static size_t role_ncells;

/* The command of cell i: the table's, and the built-in help last. */
static const char *role_cell_cmd(size_t i, enum edged_ctl_role *needed)
{
	if (i < edged_commands_count) {
		*needed = edged_commands[i].role;
		return edged_commands[i].name;
	}
	*needed = EDGED_CTL_HELP_ROLE;
	return "help";
}

/* One frame into a cell's buffer (kept up to its size, the rest read and
 * dropped). In the child: system calls only. */
static bool role_read(int fd, char *buf, size_t *len)
{
	uint8_t hdr[EDGE_CTL_HEADER_LEN];
	size_t n, got = 0;
	char sink[4096];

	if (!ctlfx_recv_exact(fd, hdr, sizeof hdr))
		return false;
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	while (got < n) {
		size_t want = n - got;
		char *dst = got < ROLE_REPLY_MAX ? buf + got : sink;

		if (got < ROLE_REPLY_MAX && want > ROLE_REPLY_MAX - got)
			want = ROLE_REPLY_MAX - got;
		else if (got >= ROLE_REPLY_MAX && want > sizeof sink)
			want = sizeof sink;
		if (!ctlfx_recv_exact(fd, dst, want))
			return false;
		got += want;
	}
	*len = n < ROLE_REPLY_MAX ? n : ROLE_REPLY_MAX;
	return true;
}

static int role_child(void)
{
	static const char help[] = "{\"cmd\":\"help\"}";
	uint8_t hdr[EDGE_CTL_HEADER_LEN] = { 0, 0, 0, sizeof help - 1 };

	if (setgroups(0, NULL) < 0 || setgid(peer_gid) < 0 || setuid(peer_uid) < 0)
		return PEER_SETUP_FAILED;
	for (size_t i = 0; i < role_ncells; i++) {
		struct role_cell *cell = &role_cells[i];
		uint8_t h[EDGE_CTL_HEADER_LEN] = { 0, 0, 0, (uint8_t)cell->reqlen };
		int fd = client_connect();

		if (fd < 0)
			return PEER_SETUP_FAILED;
		ctlfx_write(fd, h, sizeof h);
		ctlfx_write(fd, cell->req, cell->reqlen);
		cell->got[0] = role_read(fd, cell->reply[0], &cell->len[0]);
		ctlfx_write(fd, hdr, sizeof hdr);
		ctlfx_write(fd, help, sizeof help - 1);
		cell->got[1] = role_read(fd, cell->reply[1], &cell->len[1]);
		close(fd);
	}
	return PEER_ANSWERED_OK;
}

static void script_role_peer(void)
{
	peer_outcome = ctlfx_run_child(role_child);
}

static json_t *role_reply(size_t i, int which)
{
	json_t *j;

	ck_assert_msg(role_cells[i].got[which], "cell %zu: no reply %d", i, which);
	j = json_loadb(role_cells[i].reply[which], role_cells[i].len[which], 0, NULL);
	ck_assert_msg(j != NULL, "cell %zu: reply %d is not JSON", i, which);
	return j;
}

static const char *reply_code(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

static const char *reply_message(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "message"));
}

/* Runs every command as uid/gid and checks each answer against the role
 * the peer should have: allowed (answered by the command: ok, or its own
 * error such as not_found, never not_authorised), refused for the role
 * (not_authorised naming the admin groups, connection kept) or refused as
 * an outsider (not_authorised naming the groups, disconnected). Returns
 * the refusals by role. */
static unsigned role_check_peer(const char *who, uid_t uid, gid_t gid,
				enum edged_ctl_role expect, const char *admin_who,
				const char *outsider_msg)
{
	unsigned refused = 0;

	for (size_t i = 0; i < role_ncells; i++)
		role_cells[i].got[0] = role_cells[i].got[1] = false;
	peer_uid = uid;
	peer_gid = gid;
	peer_outcome = 0;
	run_client(script_role_peer);
	ck_assert_msg(peer_outcome == PEER_ANSWERED_OK, "%s: peer outcome %d", who, peer_outcome);
	for (size_t i = 0; i < role_ncells; i++) {
		enum edged_ctl_role needed;
		const char *name = role_cell_cmd(i, &needed);
		json_t *r = role_reply(i, 0);
		char want[512];

		if (expect == EDGED_CTL_ROLE_NONE) {
			ck_assert_msg(reply_code(r) && strcmp(reply_code(r), "not_authorised") == 0,
				      "%s: %s not refused", who, name);
			ck_assert_str_eq(reply_message(r), outsider_msg);
			ck_assert_msg(!role_cells[i].got[1], "%s: not disconnected after %s", who,
				      name);
		} else if (expect >= needed) {
			ck_assert_msg(json_is_true(json_object_get(r, "ok")) ||
					      (reply_code(r) &&
					       strcmp(reply_code(r), "not_authorised") != 0),
				      "%s (%s): %s refused: %s", who, edged_ctl_role_name(expect),
				      name, reply_message(r));
		} else {
			snprintf(want, sizeof want, "%s needs the %s role (%s, or root)", name,
				 edged_ctl_role_name(needed), admin_who);
			ck_assert_msg(reply_code(r) && strcmp(reply_code(r), "not_authorised") == 0,
				      "%s (%s): %s not refused", who, edged_ctl_role_name(expect),
				      name);
			ck_assert_str_eq(reply_message(r), want);
			refused++;
		}
		json_decref(r);
		if (expect != EDGED_CTL_ROLE_NONE) {
			/* Served on: the connection stays, help reports the role. */
			r = role_reply(i, 1);
			ck_assert_msg(json_is_true(json_object_get(r, "ok")), "%s: help after %s",
				      who, name);
			ck_assert_str_eq(json_string_value(json_object_get(
						 json_object_get(r, "result"), "role")),
					 edged_ctl_role_name(expect));
			json_decref(r);
		}
	}
	return refused;
}

/* The cells, from the command table itself: a new command is covered the
 * day it is added. The id matches no node, so commands that change
 * something change nothing here. */
static void role_cells_init(void)
{
	role_ncells = edged_commands_count + 1;
	ck_assert_uint_le(role_ncells, ROLE_CELLS_MAX);
	role_cells = mmap(NULL, role_ncells * sizeof *role_cells, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(role_cells != MAP_FAILED);
	for (size_t i = 0; i < role_ncells; i++) {
		enum edged_ctl_role needed;
		int n = snprintf(role_cells[i].req, sizeof role_cells[i].req,
				 "{\"cmd\":\"%s\",\"args\":{\"id\":\"matrix-none\"}}",
				 role_cell_cmd(i, &needed));

		ck_assert(n > 0 && (size_t)n < sizeof role_cells[i].req && n < 256);
		role_cells[i].reqlen = (size_t)n;
		ck_assert(needed == EDGED_CTL_ROLE_READ || needed == EDGED_CTL_ROLE_ADMIN);
	}
}

static void role_cells_free(void)
{
	munmap(role_cells, role_ncells * sizeof *role_cells);
	role_cells = NULL;
}

static int role_server(bool with_admin_group)
{
	struct edged_control_options opt = {
		.path = fx.sock, .mode = 0666, .group = ROLE_SOCKET_GID, .group_name = "edged-sock",
		.read_group_name = "edged-read", .read_group = ROLE_READ_GID,
		.admin_group_name = with_admin_group ? "edged-admin" : NULL,
		.admin_group = ROLE_ADMIN_GID, .max_clients = 4, .max_request_bytes = 1024,
		.idle_timeout_ms = 5000, .request_timeout_ms = 5000, .commands = edged_commands,
		.ncommands = edged_commands_count, .ud = &fx.d,
		.member_lookup = table_member_lookup,
	};

	/* The socket is wide open here: this is about edged's own check. */
	ck_assert_int_eq(chmod(fx.dir, 0755), 0);
	return edged_control_new(&fx.loop, &opt, &fx.d.control);
}

/* The refusals the server counted, from a status request as root. */
static void role_assert_counted(unsigned by_role, unsigned outsiders)
{
	json_t *res;

	request("{\"cmd\":\"status\"}");
	res = ok_result(0);
	ck_assert_int_eq(ctl_stat(res, "refused_role"), by_role);
	ck_assert_int_eq(ctl_stat(res, "refused_auth"), outsiders);
}

START_TEST(test_role_matrix_with_admin_group)
{
	static const char admin_who[] = "group edged-admin";
	static const char outsider[] = "not authorised to control edged (read role: group "
				       "edged-admin or edged-sock or edged-read; admin role: "
				       "group edged-admin, or root)";
	unsigned refused = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "note: needs root to run peers as other users; skipped\n");
		return;
	}
	ck_assert_int_eq(role_server(true), 0);
	role_cells_init();
	refused += role_check_peer("root", 0, 0, EDGED_CTL_ROLE_ADMIN, admin_who, outsider);
	refused += role_check_peer("admin gid", 4300, ROLE_ADMIN_GID, EDGED_CTL_ROLE_ADMIN,
				   admin_who, outsider);
	refused += role_check_peer("admin by database", 4400, 4401, EDGED_CTL_ROLE_ADMIN,
				   admin_who, outsider);
	refused += role_check_peer("read gid", 4310, ROLE_READ_GID, EDGED_CTL_ROLE_READ,
				   admin_who, outsider);
	refused += role_check_peer("read by database", 4410, 4411, EDGED_CTL_ROLE_READ,
				   admin_who, outsider);
	refused += role_check_peer("socket group", 4320, ROLE_SOCKET_GID, EDGED_CTL_ROLE_READ,
				   admin_who, outsider);
	refused += role_check_peer("outsider", 65534, 65534, EDGED_CTL_ROLE_NONE, admin_who,
				   outsider);
	/* Three read peers, each refused every admin command. */
	ck_assert_uint_gt(refused, 0);
	role_assert_counted(refused, (unsigned)role_ncells);
	role_cells_free();
}
END_TEST

/* Without an admin group the socket group administers, as before roles. */
START_TEST(test_role_matrix_socket_group_admin)
{
	static const char admin_who[] = "group edged-sock";
	static const char outsider[] = "not authorised to control edged (read role: group "
				       "edged-sock or edged-read; admin role: group edged-sock, "
				       "or root)";
	unsigned refused = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "note: needs root to run peers as other users; skipped\n");
		return;
	}
	ck_assert_int_eq(role_server(false), 0);
	role_cells_init();
	refused += role_check_peer("root", 0, 0, EDGED_CTL_ROLE_ADMIN, admin_who, outsider);
	refused += role_check_peer("socket group", 4320, ROLE_SOCKET_GID, EDGED_CTL_ROLE_ADMIN,
				   admin_who, outsider);
	refused += role_check_peer("read gid", 4310, ROLE_READ_GID, EDGED_CTL_ROLE_READ,
				   admin_who, outsider);
	refused += role_check_peer("read by database", 4410, 4411, EDGED_CTL_ROLE_READ,
				   admin_who, outsider);
	/* The admin gid means nothing when no admin group is configured. */
	refused += role_check_peer("unconfigured admin gid", 4300, ROLE_ADMIN_GID,
				   EDGED_CTL_ROLE_NONE, admin_who, outsider);
	role_assert_counted(refused, (unsigned)role_ncells);
	role_cells_free();
}
END_TEST

/* The permission matrix in proto/control-protocol.md §1.1 has a row for
 * every command of the table (and help), with the role the table gives. */
START_TEST(test_role_matrix_documented)
{
	const char *root = getenv("EDGE_SOURCE_ROOT");
	char path[512], *doc;
	FILE *f;
	long size;

	ck_assert_msg(root && root[0], "EDGE_SOURCE_ROOT not set");
	snprintf(path, sizeof path, "%s/proto/control-protocol.md", root);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_gt(size, 0);
	rewind(f);
	doc = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(doc);
	ck_assert_uint_eq(fread(doc, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	for (size_t i = 0; i <= edged_commands_count; i++) {
		enum edged_ctl_role needed;
		const char *name = role_cell_cmd(i, &needed);
		char row[160];

		snprintf(row, sizeof row, "\n| `%s` | %s | allowed | %s | `not_authorised`, closed |",
			 name, edged_ctl_role_name(needed),
			 needed == EDGED_CTL_ROLE_READ ? "allowed" : "`not_authorised`, stays open");
		ck_assert_msg(strstr(doc, row) != NULL, "control-protocol.md lacks the row%s", row);
	}
	free(doc);
}
END_TEST

/* The role rules themselves, without other identities (any user). */
START_TEST(test_peer_role_policy)
{
	struct edged_control_options opt = {
		.group = ROLE_SOCKET_GID, .read_group_name = "r", .read_group = ROLE_READ_GID,
		.admin_group_name = "a", .admin_group = ROLE_ADMIN_GID,
		.member_lookup = table_member_lookup,
	};
	uid_t self = 4242;

	ck_assert_int_eq(edged_control_peer_role(0, 0, self, &opt), EDGED_CTL_ROLE_ADMIN);
	ck_assert_int_eq(edged_control_peer_role(self, 100, self, &opt), EDGED_CTL_ROLE_ADMIN);
	ck_assert_int_eq(edged_control_peer_role(5000, ROLE_ADMIN_GID, self, &opt),
			 EDGED_CTL_ROLE_ADMIN);
	ck_assert_int_eq(edged_control_peer_role(4400, 4401, self, &opt), EDGED_CTL_ROLE_ADMIN);
	ck_assert_int_eq(edged_control_peer_role(5000, ROLE_READ_GID, self, &opt),
			 EDGED_CTL_ROLE_READ);
	ck_assert_int_eq(edged_control_peer_role(4410, 4411, self, &opt), EDGED_CTL_ROLE_READ);
	ck_assert_int_eq(edged_control_peer_role(5000, ROLE_SOCKET_GID, self, &opt),
			 EDGED_CTL_ROLE_READ);
	/* In the read group by its gid, in the admin group by the database. */
	ck_assert_int_eq(edged_control_peer_role(4400, ROLE_READ_GID, self, &opt),
			 EDGED_CTL_ROLE_ADMIN);
	ck_assert_int_eq(edged_control_peer_role(5000, 5000, self, &opt), EDGED_CTL_ROLE_NONE);
	/* No admin group: the socket group administers. */
	opt.admin_group_name = NULL;
	ck_assert_int_eq(edged_control_peer_role(5000, ROLE_SOCKET_GID, self, &opt),
			 EDGED_CTL_ROLE_ADMIN);
	ck_assert_int_eq(edged_control_peer_role(5000, ROLE_ADMIN_GID, self, &opt),
			 EDGED_CTL_ROLE_NONE);
	ck_assert_int_eq(edged_control_peer_role(4410, 4411, self, &opt), EDGED_CTL_ROLE_READ);
	/* No read group either: as before roles existed. */
	opt.read_group_name = NULL;
	ck_assert_int_eq(edged_control_peer_role(5000, ROLE_READ_GID, self, &opt),
			 EDGED_CTL_ROLE_NONE);
	/* Every command carries a role; only reading ones are READ. */
	for (size_t i = 0; i < edged_commands_count; i++)
		ck_assert_msg(edged_commands[i].role == EDGED_CTL_ROLE_READ ||
				      edged_commands[i].role == EDGED_CTL_ROLE_ADMIN,
			      "%s has no role", edged_commands[i].name);
	ck_assert_str_eq(edged_ctl_role_name(EDGED_CTL_ROLE_NONE), "outsider");
}
END_TEST

/* ---- the group lookup runs off the loop (root only: peers under other
 * identities) ---- */

static sem_t lookup_entered;   /* posted by each lookup as it starts */
static sem_t lookup_release;   /* each lookup waits for one post */

/* A group database that answers "member" only when released: stands in
 * for NSS over a slow network. Bounded, so a failing test cannot hang. */
static bool slow_member_lookup(uid_t uid, gid_t group)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	sem_post(&lookup_entered);
	while (sem_timedwait(&lookup_release, &ts) < 0 && errno == EINTR)
		;
	return true;
}

/* One byte on fd within 10 s. */
static bool wait_byte(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1;
}

static pid_t peer_spawn(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(peer_child());
	return pid;
}

static int peer_reap(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A status request on a fresh connection, from the client thread. */
static json_t *client_status(void)
{
	return ctlfx_request(fx.sock, "{\"cmd\":\"status\"}");
}

static json_int_t status_lookups(json_t *reply, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(json_object_get(
		json_object_get(reply, "result"), "control"), "lookups"), key));
}

/* Status requests until no lookup runs or waits and only the asking
 * connection is open: the server has settled every peer. */
static void client_settle(int slot)
{
	uint64_t give_up = now_ms() + 10000;

	do {
		json_decref(fx.reply[slot]);
		fx.reply[slot] = client_status();
		if (status_lookups(fx.reply[slot], "running") == 0 &&
		    status_lookups(fx.reply[slot], "queued") == 0 &&
		    json_integer_value(json_object_get(json_object_get(json_object_get(
			    fx.reply[slot], "result"), "control"), "clients")) == 1)
			return;
	} while (now_ms() < give_up && poll(NULL, 0, 10) == 0);
}

static struct {
	pid_t pid[3];
	int outcome[3];
	bool connected, entered, third_entered;
} lk;

static int lookup_server(unsigned request_timeout_ms)
{
	struct edged_control_options opt = {
		.path = fx.sock, .mode = 0666, .group = 4243, .max_clients = 4,
		.max_request_bytes = 1024, .idle_timeout_ms = 5000,
		.request_timeout_ms = request_timeout_ms, .commands = edged_commands,
		.ncommands = edged_commands_count, .ud = &fx.d,
		.member_lookup = slow_member_lookup,
	};

	ck_assert_int_eq(sem_init(&lookup_entered, 0, 0), 0);
	ck_assert_int_eq(sem_init(&lookup_release, 0, 0), 0);
	memset(&lk, 0, sizeof lk);
	/* The socket is wide open here: this is about edged's own check. */
	ck_assert_int_eq(chmod(fx.dir, 0755), 0);
	peer_uid = 65534;
	peer_gid = 65534;
	return edged_control_new(&fx.loop, &opt, &fx.d.control);
}

/* Three peers that need the group database: two lookups run (the cap),
 * one waits; a privileged request is answered meanwhile; releasing one
 * lookup starts the waiting one; all three are served in the end. */
static void script_lookups(void)
{
	int pfd[2];

	if (pipe(pfd) < 0)
		return;
	peer_notify_fd = pfd[1];
	for (int i = 0; i < 3; i++)
		lk.pid[i] = peer_spawn();
	lk.connected = wait_byte(pfd[0]) && wait_byte(pfd[0]) && wait_byte(pfd[0]);
	lk.entered = ctlfx_wait_sem(&lookup_entered, 10) && ctlfx_wait_sem(&lookup_entered, 10);
	fx.reply[0] = client_status();
	sem_post(&lookup_release);
	lk.third_entered = ctlfx_wait_sem(&lookup_entered, 10);
	sem_post(&lookup_release);
	sem_post(&lookup_release);
	for (int i = 0; i < 3; i++)
		lk.outcome[i] = peer_reap(lk.pid[i]);
	client_settle(1);
	close(pfd[0]);
	close(pfd[1]);
	peer_notify_fd = -1;
}

START_TEST(test_lookup_off_the_loop)
{
	json_t *res;

	if (geteuid() != 0) {
		fprintf(stderr, "note: needs root to run peers under other identities; skipped\n");
		return;
	}
	ck_assert_int_eq(lookup_server(10000), 0);
	run_client(script_lookups);
	ck_assert(lk.connected);
	ck_assert(lk.entered);
	/* Answered while two lookups hung and the third waited its turn. */
	res = ok_result(0);
	ck_assert_int_eq(status_lookups(fx.reply[0], "running"), CONTROL_LOOKUPS_MAX);
	ck_assert_int_eq(status_lookups(fx.reply[0], "queued"), 3 - CONTROL_LOOKUPS_MAX);
	ck_assert_int_eq(ctl_stat(res, "clients"), 4);
	ck_assert(lk.third_entered);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(lk.outcome[i], PEER_ANSWERED_OK);
	res = ok_result(1);
	ck_assert_int_eq(status_lookups(fx.reply[1], "total"), 3);
	ck_assert_int_eq(ctl_stat(res, "clients"), 1);
	ck_assert_int_eq(ctl_stat(res, "refused_auth"), 0);
}
END_TEST

/* The peer hangs up while its lookup runs. */
static void script_lookup_hang_up(void)
{
	peer_hang_up = true;
	lk.pid[0] = peer_spawn();
	peer_hang_up = false;
	lk.entered = ctlfx_wait_sem(&lookup_entered, 10);
	lk.outcome[0] = peer_reap(lk.pid[0]);
	sem_post(&lookup_release);
	client_settle(0);
}

/* The peer check outlives the request deadline, for two peers whose
 * lookups run and one whose lookup waits: each is answered "timeout" and
 * closed; the running lookups return to closed connections, the waiting
 * one never starts. */
static void script_lookup_timeout(void)
{
	for (int i = 0; i < 3; i++)
		lk.pid[i] = peer_spawn();
	lk.entered = ctlfx_wait_sem(&lookup_entered, 10) && ctlfx_wait_sem(&lookup_entered, 10);
	for (int i = 0; i < 3; i++)
		lk.outcome[i] = peer_reap(lk.pid[i]);
	sem_post(&lookup_release);
	sem_post(&lookup_release);
	client_settle(1);
	lk.third_entered = sem_trywait(&lookup_entered) == 0;
}

/* Left hanging: the server goes away while the lookup runs. */
static void script_lookup_pending(void)
{
	lk.pid[2] = peer_spawn();
	lk.entered = ctlfx_wait_sem(&lookup_entered, 10);
}

START_TEST(test_lookup_outlived)
{
	json_t *res;

	if (geteuid() != 0) {
		fprintf(stderr, "note: needs root to run peers under other identities; skipped\n");
		return;
	}
	ck_assert_int_eq(lookup_server(10000), 0);

	run_client(script_lookup_hang_up);
	ck_assert(lk.entered);
	ck_assert_int_eq(lk.outcome[0], PEER_HUNG_UP);
	res = ok_result(0);
	ck_assert_int_eq(ctl_stat(res, "clients"), 1);
	ck_assert_int_eq(status_lookups(fx.reply[0], "total"), 1);
	ck_assert_int_eq(status_lookups(fx.reply[0], "running"), 0);

	/* Between scenarios the loop is idle: a reload's new limits. */
	edged_control_set_limits(fx.d.control, 4, 5000, 300);
	run_client(script_lookup_timeout);
	ck_assert(lk.entered);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(lk.outcome[i], PEER_TIMED_OUT);
	ck_assert(!lk.third_entered);
	res = ok_result(1);
	ck_assert_int_eq(ctl_stat(res, "timeouts"), 3);
	ck_assert_int_eq(ctl_stat(res, "clients"), 1);
	ck_assert_int_eq(ctl_stat(res, "refused_auth"), 0);
	ck_assert_int_eq(status_lookups(fx.reply[1], "total"), 3);
	ck_assert_int_eq(status_lookups(fx.reply[1], "running"), 0);
	ck_assert_int_eq(status_lookups(fx.reply[1], "queued"), 0);

	/* Freed with a lookup on the pool: the peer is closed at once, the
	 * memory goes when the lookup is back (teardown runs the loop dry and
	 * requires it to close cleanly). */
	edged_control_set_limits(fx.d.control, 4, 5000, 10000);
	run_client(script_lookup_pending);
	ck_assert(lk.entered);
	edged_control_free(fx.d.control);
	fx.d.control = NULL;
	ck_assert_int_eq(peer_reap(lk.pid[2]), PEER_NO_ANSWER);
	sem_post(&lookup_release);
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
	tcase_add_test(tc, test_slow_clients_time_out);
	tcase_add_test(tc, test_request_within_deadline);
	tcase_add_test(tc, test_lookup_off_the_loop);
	tcase_add_test(tc, test_lookup_outlived);
	tcase_add_test(tc, test_peer_role_policy);
	tcase_add_test(tc, test_role_matrix_documented);
	tcase_add_test(tc, test_role_matrix_with_admin_group);
	tcase_add_test(tc, test_role_matrix_socket_group_admin);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* A peer that hangs up before its answer is written. */
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(control_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
