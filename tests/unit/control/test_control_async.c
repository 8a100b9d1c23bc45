/* Suite 'control': asynchronous commands of the control server on a real
 * socket in a scratch directory, with a command table of its own. The
 * server runs on this thread's uv loop; its asynchronous commands finish
 * from uv timers, from libuv's thread pool (uv_queue_work) or when a client
 * script releases them. Each scenario's client runs in a second thread with
 * blocking sockets (bounded by SO_RCVTIMEO), and the loop runs until the
 * client is done or a deadline passes. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "control_fixture.h"
#include "edge_ctl_frame.h"
#include "edge_time.h"
#include "test_run.h"

#define MAX_REPLIES 6
/* Role groups of the role scenario (need not exist). */
#define SOCKET_GID 4243
#define ADMIN_GID 4244
#define READ_GID 4245
#define PEER_UID 65534

struct fx {
	char dir[64];
	char sock[96];
	uv_loop_t loop;
	struct ctlfx_runner run;
	uv_async_t release;     /* a client script lets the held call finish */
	struct edged_control *ctl;
	unsigned idle_timeout_ms;
	unsigned request_timeout_ms;

	/* The call of "hold", until released. */
	struct edged_ctl_call *held;
	sem_t held_started;
	int held_fd;            /* a client connection left open */

	unsigned starts_later;  /* "later" start handler runs */

	/* filled by client scripts, checked on the main thread */
	json_t *reply[MAX_REPLIES];
	bool quiet;             /* no answer while a call was held */
	bool eof;               /* the server closed the connection */
	bool started;
};

static struct fx fx;

/* ---- the server's commands ---- */

static int cmd_stats(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_control_stats st;

	edged_control_get_stats(fx.ctl, &st);
	*result = json_pack("{s:I, s:i, s:i, s:I, s:I, s:I}", "calls", (json_int_t)st.calls,
			    "calls_pending", (int)st.calls_pending, "clients", (int)st.clients,
			    "errors", (json_int_t)st.errors, "timeouts", (json_int_t)st.timeouts,
			    "refused_role", (json_int_t)st.refused_role);
	return *result ? 0 : EDGE_CTL_E_INTERNAL;
}

static int cmd_echo(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	*result = json_pack("{s:O}", "echo", args);
	return *result ? 0 : EDGE_CTL_E_INTERNAL;
}

/* An answer due after a short time, from a uv timer. */
struct later {
	uv_timer_t timer;
	struct edged_ctl_call *call;
	int code;
	json_t *result;
};

static void later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void later_fire(uv_timer_t *t)
{
	struct later *l = t->data;

	edged_ctl_call_finish(l->call, l->code, l->result,
			      l->code ? "ids a, b exist already" : NULL);
	uv_close((uv_handle_t *)&l->timer, later_closed);
}

static int later_start(struct edged_ctl_call *call, int code, json_t *result)
{
	struct later *l = calloc(1, sizeof *l);

	ck_assert_ptr_nonnull(l);
	l->call = call;
	l->code = code;
	l->result = result;
	ck_assert_int_eq(uv_timer_init(&fx.loop, &l->timer), 0);
	l->timer.data = l;
	ck_assert_int_eq(uv_timer_start(&l->timer, later_fire, 10, 0), 0);
	return 0;
}

/* Answers {"n": args.n, "uid": the caller's uid} from a timer. */
static int start_later(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		       size_t msglen)
{
	fx.starts_later++;
	return later_start(call, 0, json_pack("{s:O?, s:I}", "n", json_object_get(args, "n"),
					      "uid", (json_int_t)edged_ctl_call_uid(call)));
}

/* Fails later with "exists". */
static int start_fail_later(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			    size_t msglen)
{
	return later_start(call, EDGE_CTL_E_EXISTS, NULL);
}

/* Refuses at once, without starting anything. */
static int start_fail_now(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			  size_t msglen)
{
	snprintf(msg, msglen, "no identity directory configured");
	return EDGE_CTL_E_NOT_CONFIGURED;
}

/* Answered from within start. */
static int start_instant(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			 size_t msglen)
{
	edged_ctl_call_finish(call, 0, json_pack("{s:b}", "instant", 1), NULL);
	return 0;
}

/* The sum 1..n, computed on libuv's thread pool. */
struct work {
	uv_work_t req;
	struct edged_ctl_call *call;
	json_int_t n, sum;
};

static void work_run(uv_work_t *req)
{
	struct work *w = req->data;

	for (json_int_t i = 1; i <= w->n; i++)
		w->sum += i;
}

static void work_done(uv_work_t *req, int status)
{
	struct work *w = req->data;

	if (status < 0)
		edged_ctl_call_finish(w->call, EDGE_CTL_E_UNAVAILABLE, NULL, "cancelled");
	else
		edged_ctl_call_finish(w->call, 0, json_pack("{s:I}", "sum", w->sum), NULL);
	free(w);
}

static int start_work(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		      size_t msglen)
{
	json_t *n = json_object_get(args, "n");
	struct work *w;

	if (!json_is_integer(n) || json_integer_value(n) < 0) {
		snprintf(msg, msglen, "n: a non-negative integer");
		return EDGE_CTL_E_BAD_ARGS;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	w->call = call;
	w->n = json_integer_value(n);
	w->req.data = w;
	if (uv_queue_work(&fx.loop, &w->req, work_run, work_done) < 0) {
		free(w);
		snprintf(msg, msglen, "no thread pool");
		return EDGE_CTL_E_INTERNAL;
	}
	return 0;
}

/* Held until a client script releases it (or the test finishes it). */
static int start_hold(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		      size_t msglen)
{
	ck_assert_ptr_null(fx.held);
	fx.held = call;
	sem_post(&fx.held_started);
	return 0;
}

static void on_release(uv_async_t *h)
{
	struct edged_ctl_call *call = fx.held;

	if (!call)
		return;
	fx.held = NULL;
	edged_ctl_call_finish(call, 0, json_pack("{s:b}", "held", 1), NULL);
}

static const struct edged_ctl_command commands[] = {
	{ .name = "stats", .run = cmd_stats, .role = EDGED_CTL_ROLE_READ, .help = "counters" },
	{ .name = "echo", .run = cmd_echo, .role = EDGED_CTL_ROLE_READ, .help = "args back" },
	{ .name = "later", .start = start_later, .role = EDGED_CTL_ROLE_ADMIN,
	  .help = "n back, later" },
	{ .name = "fail_later", .start = start_fail_later, .role = EDGED_CTL_ROLE_ADMIN,
	  .help = "exists, later" },
	{ .name = "fail_now", .start = start_fail_now, .role = EDGED_CTL_ROLE_ADMIN,
	  .help = "not_configured at once" },
	{ .name = "instant", .start = start_instant, .role = EDGED_CTL_ROLE_READ,
	  .help = "answered from start" },
	{ .name = "work", .start = start_work, .role = EDGED_CTL_ROLE_READ,
	  .help = "1+..+n on the pool" },
	{ .name = "hold", .start = start_hold, .role = EDGED_CTL_ROLE_ADMIN,
	  .help = "until released" },
};

/* ---- client side (runs in the client thread) ---- */

static int client_connect(void)
{
	return ctlfx_connect(fx.sock);
}

/* A request on a fresh connection. */
static json_t *client_request(const char *body)
{
	return ctlfx_request(fx.sock, body);
}

static json_int_t reply_int(json_t *reply, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(reply, "result"), key));
}

/* "stats" until no call is pending and only the asking connection is open
 * (bounded): the server has settled every peer. */
static json_t *client_settle(void)
{
	uint64_t give_up = edge_time_monotonic_ms() + 10000;
	json_t *r = NULL;

	do {
		json_decref(r);
		r = client_request("{\"cmd\":\"stats\"}");
		if (reply_int(r, "calls_pending") == 0 && reply_int(r, "clients") == 1)
			break;
	} while (edge_time_monotonic_ms() < give_up && poll(NULL, 0, 10) == 0);
	return r;
}

/* ---- running a scenario ---- */

static void run_client(void (*fn)(void))
{
	ctlfx_run_client(&fx.run, &fx.loop, fn);
}

static bool no_lookup_member(uid_t uid, gid_t group)
{
	return false;
}

/* With role groups: the socket group reads, ADMIN_GID administers. */
static int start_server(bool role_groups)
{
	struct edged_control_options opt = {
		.path = fx.sock,
		.mode = role_groups ? 0666 : 0660,
		.group = role_groups ? SOCKET_GID : (gid_t)-1,
		.max_clients = 4,
		.max_request_bytes = 1024,
		.idle_timeout_ms = fx.idle_timeout_ms,
		.request_timeout_ms = fx.request_timeout_ms,
		.commands = commands,
		.ncommands = sizeof commands / sizeof commands[0],
		.member_lookup = no_lookup_member,
	};

	if (role_groups) {
		opt.admin_group_name = "edged-admin";
		opt.admin_group = ADMIN_GID;
		opt.read_group_name = "edged-read";
		opt.read_group = READ_GID;
		opt.group_name = "edged-sock";
	}
	return edged_control_new(&fx.loop, &opt, &fx.ctl);
}

static void setup(void)
{
	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/edged-ctla-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.sock, sizeof fx.sock, "%s/edged.sock", fx.dir);
	ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
	ctlfx_runner_init(&fx.run, &fx.loop);
	ck_assert_int_eq(uv_async_init(&fx.loop, &fx.release, on_release), 0);
	ck_assert_int_eq(sem_init(&fx.held_started, 0, 0), 0);
	fx.idle_timeout_ms = 5000;
	fx.request_timeout_ms = 5000;
	fx.held_fd = -1;
}

/* Runs the loop dry: every handle, request and call must be gone, or
 * uv_loop_close fails (and ASan reports what leaked). */
static void teardown(void)
{
	char path[128];

	edged_control_free(fx.ctl);
	if (fx.held_fd >= 0)
		close(fx.held_fd);
	ctlfx_runner_close(&fx.run);
	uv_close((uv_handle_t *)&fx.release, NULL);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
	sem_destroy(&fx.held_started);
	for (int i = 0; i < MAX_REPLIES; i++)
		json_decref(fx.reply[i]);
	snprintf(path, sizeof path, "%s/edged.sock", fx.dir);
	unlink(path);
	rmdir(fx.dir);
}

/* ---- assertions on replies ---- */

static json_t *ok_result(int i)
{
	return ctlfx_ok_result(fx.reply[i], i);
}

static const char *error_message(int i, const char *code)
{
	json_t *r = fx.reply[i], *err;

	ck_assert_msg(r != NULL, "no reply %d", i);
	ck_assert(json_is_false(json_object_get(r, "ok")));
	err = json_object_get(r, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
	ck_assert(json_is_string(json_object_get(err, "message")));
	return json_string_value(json_object_get(err, "message"));
}

static json_int_t result_int(int i, const char *key)
{
	return json_integer_value(json_object_get(ok_result(i), key));
}

/* ---- tests ---- */

/* On one connection: a command answered from a timer, then one computed on
 * the pool, then a synchronous one: reading resumes after each answer. */
static void script_finished_later(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"later\",\"args\":{\"n\":7}}");
	fx.reply[0] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"work\",\"args\":{\"n\":100}}");
	fx.reply[1] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"stats\"}");
	fx.reply[2] = ctlfx_read(fd);
	close(fd);
}

START_TEST(test_async_finished_later)
{
	ck_assert_int_eq(start_server(false), 0);
	run_client(script_finished_later);
	ck_assert_int_eq(result_int(0, "n"), 7);
	ck_assert_int_eq(result_int(0, "uid"), (json_int_t)geteuid());
	ck_assert_int_eq(result_int(1, "sum"), 5050);
	ck_assert_int_eq(result_int(2, "calls"), 2);
	ck_assert_int_eq(result_int(2, "calls_pending"), 0);
	ck_assert_int_eq(result_int(2, "errors"), 0);
	ck_assert_uint_eq(fx.starts_later, 1);
}
END_TEST

/* Error answers: later from the work, at once from start (bad args, not
 * configured); an answer given from within start; the connection serves
 * on after each. */
static void script_errors(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"fail_later\"}");
	fx.reply[0] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"fail_now\"}");
	fx.reply[1] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"work\",\"args\":{\"n\":\"x\"}}");
	fx.reply[2] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"instant\"}");
	fx.reply[3] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"stats\"}");
	fx.reply[4] = ctlfx_read(fd);
	close(fd);
}

START_TEST(test_async_errors)
{
	ck_assert_int_eq(start_server(false), 0);
	run_client(script_errors);
	ck_assert_str_eq(error_message(0, "exists"), "ids a, b exist already");
	ck_assert_str_eq(error_message(1, "not_configured"), "no identity directory configured");
	ck_assert_str_eq(error_message(2, "bad_args"), "n: a non-negative integer");
	ck_assert(json_is_true(json_object_get(ok_result(3), "instant")));
	ck_assert_int_eq(result_int(4, "calls"), 4);
	ck_assert_int_eq(result_int(4, "calls_pending"), 0);
	ck_assert_int_eq(result_int(4, "errors"), 3);
	/* The names are the protocol's. */
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_EXISTS), "exists");
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_NOT_CONFIGURED), "not_configured");
	ck_assert_int_eq(edge_ctl_error_from_name("exists"), EDGE_CTL_E_EXISTS);
	ck_assert_int_eq(edge_ctl_error_from_name("not_configured"), EDGE_CTL_E_NOT_CONFIGURED);
}
END_TEST

/* Four requests in one write behind a held call: nothing is answered while
 * it is held, then all four in order (the third is asynchronous too). */
static void script_pipelined(void)
{
	static const char *const reqs[] = {
		"{\"cmd\":\"hold\"}",
		"{\"cmd\":\"echo\",\"args\":{\"x\":2}}",
		"{\"cmd\":\"later\",\"args\":{\"n\":3}}",
		"{\"cmd\":\"instant\"}",
		"{\"cmd\":\"echo\",\"args\":{\"x\":5}}",
	};
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frames(fd, reqs, sizeof reqs / sizeof reqs[0]);
	fx.started = ctlfx_wait_sem(&fx.held_started, 10);
	fx.quiet = ctlfx_quiet(fd, 100);
	uv_async_send(&fx.release);
	for (int i = 0; i < 5; i++)
		fx.reply[i] = ctlfx_read(fd);
	close(fd);
	fx.reply[5] = client_settle();
}

START_TEST(test_async_pipelined_in_order)
{
	ck_assert_int_eq(start_server(false), 0);
	run_client(script_pipelined);
	ck_assert(fx.started);
	ck_assert(fx.quiet);
	ck_assert(json_is_true(json_object_get(ok_result(0), "held")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ok_result(1), "echo"),
							    "x")), 2);
	ck_assert_int_eq(result_int(2, "n"), 3);
	ck_assert(json_is_true(json_object_get(ok_result(3), "instant")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ok_result(4), "echo"),
							    "x")), 5);
	ck_assert_int_eq(result_int(5, "calls"), 3);
	ck_assert_int_eq(result_int(5, "calls_pending"), 0);
}
END_TEST

/* A call held for longer than the idle and request times: the connection
 * is neither timed out nor closed meanwhile; once answered, the idle timer
 * runs again and closes it. */
static void script_outlasts_timers(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"hold\"}");
	fx.started = ctlfx_wait_sem(&fx.held_started, 10);
	fx.quiet = ctlfx_quiet(fd, 3 * (int)fx.idle_timeout_ms);
	uv_async_send(&fx.release);
	fx.reply[0] = ctlfx_read(fd);
	fx.eof = ctlfx_sees_eof(fd);
	close(fd);
	fx.reply[1] = client_settle();
}

START_TEST(test_async_outlasts_timers)
{
	fx.idle_timeout_ms = 150;
	fx.request_timeout_ms = 150;
	ck_assert_int_eq(start_server(false), 0);
	run_client(script_outlasts_timers);
	ck_assert(fx.started);
	ck_assert(fx.quiet);
	ck_assert(json_is_true(json_object_get(ok_result(0), "held")));
	ck_assert(fx.eof);
	ck_assert_int_eq(result_int(1, "timeouts"), 0);
	ck_assert_int_eq(result_int(1, "calls_pending"), 0);
}
END_TEST

/* The peer hangs up while its call is held: the call stays valid, its
 * answer goes nowhere, the connection is released once it is finished. */
static void script_hang_up(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"hold\"}");
	fx.started = ctlfx_wait_sem(&fx.held_started, 10);
	close(fd);
	fx.reply[0] = client_request("{\"cmd\":\"stats\"}");
	uv_async_send(&fx.release);
	fx.reply[1] = client_settle();
}

START_TEST(test_async_peer_hangs_up)
{
	ck_assert_int_eq(start_server(false), 0);
	run_client(script_hang_up);
	ck_assert(fx.started);
	ck_assert_int_eq(result_int(0, "calls_pending"), 1);
	ck_assert_int_eq(result_int(1, "calls"), 1);
	ck_assert_int_eq(result_int(1, "calls_pending"), 0);
	ck_assert_int_eq(result_int(1, "clients"), 1);
	ck_assert_ptr_null(fx.held);
}
END_TEST

/* What a read peer got, in memory shared with the forked child. */
struct role_seen {
	bool got[2];
	size_t len[2];
	char reply[2][1024];
};

static struct role_seen *role_seen;

/* The child, as PEER_UID in READ_GID: an admin command that is
 * asynchronous, then a read one. System calls only. */
static int role_child(void)
{
	static const char *const reqs[] = {
		"{\"cmd\":\"later\",\"args\":{\"n\":1}}",
		"{\"cmd\":\"work\",\"args\":{\"n\":10}}",
	};
	int fd;

	if (setgroups(0, NULL) < 0 || setgid(READ_GID) < 0 || setuid(PEER_UID) < 0)
		return 2;
	fd = client_connect();
	if (fd < 0)
		return 3;
	for (int i = 0; i < 2; i++) {
		ctlfx_send_frame(fd, reqs[i]);
		role_seen->got[i] = ctlfx_read_raw(fd, role_seen->reply[i],
						    sizeof role_seen->reply[i], &role_seen->len[i]);
	}
	close(fd);
	return 0;
}

static int role_outcome;

static void script_role(void)
{
	role_outcome = ctlfx_run_child(role_child);
	fx.reply[2] = client_settle();
}

START_TEST(test_async_role_refused)
{
	if (geteuid() != 0) {
		fprintf(stderr, "note: needs root to run a peer under another identity; skipped\n");
		return;
	}
	role_seen = mmap(NULL, sizeof *role_seen, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(role_seen, MAP_FAILED);
	memset(role_seen, 0, sizeof *role_seen);
	/* The socket is wide open here: this is about edged's own check. */
	ck_assert_int_eq(chmod(fx.dir, 0755), 0);
	ck_assert_int_eq(start_server(true), 0);
	run_client(script_role);
	ck_assert_int_eq(role_outcome, 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(role_seen->got[i], "no reply %d", i);
		fx.reply[i] = json_loadb(role_seen->reply[i], role_seen->len[i], 0, NULL);
	}
	munmap(role_seen, sizeof *role_seen);
	ck_assert_str_eq(error_message(0, "not_authorised"),
			 "later needs the admin role (group edged-admin, or root)");
	ck_assert_uint_eq(fx.starts_later, 0); /* refused before start */
	ck_assert_int_eq(result_int(1, "sum"), 55);
	ck_assert_int_eq(result_int(2, "refused_role"), 1);
	ck_assert_int_eq(result_int(2, "calls"), 1);
}
END_TEST

/* The client holds a call and keeps its connection. */
static void script_hold_and_keep(void)
{
	int fd = client_connect();

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"hold\"}");
	fx.started = ctlfx_wait_sem(&fx.held_started, 10);
	fx.held_fd = fd;
}

/* Freed with a call pending: the peer is disconnected at once; the server
 * and the connection stay in memory until the call is finished, which is
 * fine to do afterwards (teardown runs the loop dry). */
START_TEST(test_async_free_while_pending)
{
	struct edged_ctl_call *call;

	ck_assert_int_eq(start_server(false), 0);
	run_client(script_hold_and_keep);
	ck_assert(fx.started);
	ck_assert_ptr_nonnull(fx.held);
	call = fx.held;
	fx.held = NULL;
	ck_assert_uint_eq(edged_ctl_call_uid(call), geteuid());
	edged_control_free(fx.ctl);
	fx.ctl = NULL;
	/* Every handle of the server closes now (the close callbacks run). */
	uv_run(&fx.loop, UV_RUN_NOWAIT);
	ck_assert(ctlfx_sees_eof(fx.held_fd));
	edged_ctl_call_finish(call, 0, json_pack("{s:b}", "late", 1), NULL);
}
END_TEST

/* The same, finished with an error before the loop ran again. */
START_TEST(test_async_free_then_finish_at_once)
{
	struct edged_ctl_call *call;

	ck_assert_int_eq(start_server(false), 0);
	run_client(script_hold_and_keep);
	ck_assert(fx.started);
	call = fx.held;
	fx.held = NULL;
	edged_control_free(fx.ctl);
	fx.ctl = NULL;
	edged_ctl_call_finish(call, EDGE_CTL_E_UNAVAILABLE, NULL, "shutting down");
	uv_run(&fx.loop, UV_RUN_NOWAIT);
	ck_assert(ctlfx_sees_eof(fx.held_fd));
}
END_TEST

/* A table entry must say how to run it: exactly one of run and start. */
START_TEST(test_async_table_checked)
{
	static const struct edged_ctl_command both[] = {
		{ .name = "x", .run = cmd_echo, .start = start_instant,
		  .role = EDGED_CTL_ROLE_READ, .help = "" },
	};
	static const struct edged_ctl_command neither[] = {
		{ .name = "x", .role = EDGED_CTL_ROLE_READ, .help = "" },
	};
	struct edged_control_options opt = {
		.path = fx.sock, .mode = 0600, .group = (gid_t)-1, .max_clients = 1,
		.max_request_bytes = 1024, .commands = both, .ncommands = 1,
	};
	struct stat st;

	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &fx.ctl), -EINVAL);
	opt.commands = neither;
	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &fx.ctl), -EINVAL);
	ck_assert_ptr_null(fx.ctl);
	ck_assert_int_eq(stat(fx.sock, &st), -1);
}
END_TEST

static Suite *control_async_suite(void)
{
	Suite *s = suite_create("control_async");
	TCase *tc = tcase_create("calls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_async_finished_later);
	tcase_add_test(tc, test_async_errors);
	tcase_add_test(tc, test_async_pipelined_in_order);
	tcase_add_test(tc, test_async_outlasts_timers);
	tcase_add_test(tc, test_async_peer_hangs_up);
	tcase_add_test(tc, test_async_role_refused);
	tcase_add_test(tc, test_async_free_while_pending);
	tcase_add_test(tc, test_async_free_then_finish_at_once);
	tcase_add_test(tc, test_async_table_checked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* An answer written to a peer that hung up. */
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(control_async_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
