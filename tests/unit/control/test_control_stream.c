/* Suite 'control': streaming calls of the control server (intermediate
 * frames, pacing on the queued output, the peer hanging up, a reader too
 * slow, bytes sent during a stream) on a real socket in a scratch
 * directory, with a command table of its own. The server runs on this
 * thread's uv loop; each scenario's client runs in a second thread with
 * blocking sockets (bounded by SO_RCVTIMEO). */
#include <check.h>
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "control_fixture.h"
#include "edge_ctl_frame.h"
#include "test_run.h"

/* "count": frames of this size, enough to fill the socket's buffer. */
#define COUNT_FRAME_BYTES (128 * 1024)
/* "flood": one frame per timer tick. */
#define FLOOD_FRAME_BYTES (64 * 1024)
#define MAX_FRAMES 256

struct fx {
	char dir[64];
	char sock[96];
	uv_loop_t loop;
	struct ctlfx_runner run;
	struct edged_control *ctl;

	unsigned drained;        /* drained callbacks */
	unsigned hangups;        /* hangup callbacks */
	unsigned dropped;        /* followers finished too_slow */
	struct edged_ctl_call *follower; /* "follow", until it ends */
	sem_t follow_started;
	sem_t flood_dropped;
	uv_timer_t flood;
	bool flood_open;
	struct edged_ctl_call *flood_call;
	int flood_i;             /* the next frame's number */
	json_int_t final_count;

	/* filled by client scripts, checked on the main thread */
	json_t *frame[MAX_FRAMES];
	int nframes;
	json_t *reply;
	bool eof;
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
			    "errors", (json_int_t)st.errors, "frames_more",
			    (json_int_t)st.frames_more, "stream_hangups",
			    (json_int_t)st.stream_hangups);
	return *result ? 0 : EDGE_CTL_E_INTERNAL;
}

static json_t *padded(const char *key, int i, size_t bytes)
{
	char *pad = malloc(bytes + 1);
	json_t *o;

	ck_assert_ptr_nonnull(pad);
	memset(pad, 'x', bytes);
	pad[bytes] = '\0';
	o = json_pack("{s:i, s:s}", key, i, "pad", pad);
	free(pad);
	return o;
}

/* "count": n frames {"i": k}, each only once the previous one is written
 * (low mark 0), then {"count": n}. */
struct counter {
	struct edged_ctl_call *call;
	int n, sent;
};

static void count_pump(struct counter *c)
{
	while (c->sent < c->n) {
		if (edged_ctl_call_send(c->call, padded("i", c->sent, COUNT_FRAME_BYTES)) < 0) {
			edged_ctl_call_finish(c->call, EDGE_CTL_E_UNAVAILABLE, NULL, "gone");
			free(c);
			return;
		}
		c->sent++;
		if (edged_ctl_call_want_drain(c->call, 0))
			return;
	}
	edged_ctl_call_finish(c->call, 0, json_pack("{s:i}", "count", c->n), NULL);
	free(c);
}

static void count_drained(struct edged_ctl_call *call, void *ud)
{
	fx.drained++;
	count_pump(ud);
}

static void count_hangup(struct edged_ctl_call *call, void *ud)
{
	fx.hangups++;
	edged_ctl_call_finish(call, EDGE_CTL_E_UNAVAILABLE, NULL, "gone");
	free(ud);
}

static int start_count(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		       size_t msglen)
{
	struct counter *c = calloc(1, sizeof *c);

	ck_assert_ptr_nonnull(c);
	c->call = call;
	c->n = (int)json_integer_value(json_object_get(args, "n"));
	edged_ctl_call_stream(call, count_drained, count_hangup, c);
	count_pump(c);
	return 0;
}

/* "follow": {"following": true}, then nothing until the peer goes. */
static void follow_hangup(struct edged_ctl_call *call, void *ud)
{
	ck_assert_ptr_eq(call, fx.follower);
	fx.hangups++;
	fx.follower = NULL;
	edged_ctl_call_finish(call, EDGE_CTL_E_UNAVAILABLE, NULL, "gone");
}

static int start_follow(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			size_t msglen)
{
	ck_assert_ptr_null(fx.follower);
	fx.follower = call;
	edged_ctl_call_stream(call, NULL, follow_hangup, NULL);
	ck_assert_int_eq(edged_ctl_call_send(call, json_pack("{s:b}", "following", 1)), 0);
	sem_post(&fx.follow_started);
	return 0;
}

/* "flood": a frame every millisecond whatever the reader does; once the
 * queued output passes the bound, finished too_slow (as the tail does). */
static void flood_closed(uv_handle_t *h)
{
	fx.flood_open = false;
}

static void flood_end(int code, const char *msg)
{
	struct edged_ctl_call *call = fx.flood_call;

	fx.flood_call = NULL;
	uv_close((uv_handle_t *)&fx.flood, flood_closed);
	edged_ctl_call_finish(call, code, NULL, msg);
}

static void flood_tick(uv_timer_t *t)
{
	if (edged_ctl_call_queued(fx.flood_call) > EDGED_CTL_STREAM_MAX_QUEUED) {
		fx.dropped++;
		flood_end(EDGE_CTL_E_TOO_SLOW, "fell behind");
		sem_post(&fx.flood_dropped);
		return;
	}
	if (edged_ctl_call_send(fx.flood_call, padded("i", fx.flood_i++, FLOOD_FRAME_BYTES)) < 0)
		flood_end(EDGE_CTL_E_UNAVAILABLE, "gone");
}

static void flood_hangup(struct edged_ctl_call *call, void *ud)
{
	fx.hangups++;
	flood_end(EDGE_CTL_E_UNAVAILABLE, "gone");
}

static int start_flood(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		       size_t msglen)
{
	ck_assert_ptr_null(fx.flood_call);
	fx.flood_call = call;
	edged_ctl_call_stream(call, NULL, flood_hangup, NULL);
	ck_assert_int_eq(uv_timer_init(&fx.loop, &fx.flood), 0);
	fx.flood_open = true;
	ck_assert_int_eq(uv_timer_start(&fx.flood, flood_tick, 1, 1), 0);
	return 0;
}

static const struct edged_ctl_command commands[] = {
	{ .name = "stats", .run = cmd_stats, .role = EDGED_CTL_ROLE_READ, .help = "counters" },
	{ .name = "count", .start = start_count, .role = EDGED_CTL_ROLE_READ,
	  .help = "n frames, paced" },
	{ .name = "follow", .start = start_follow, .role = EDGED_CTL_ROLE_READ,
	  .help = "until the peer goes" },
	{ .name = "flood", .start = start_flood, .role = EDGED_CTL_ROLE_READ,
	  .help = "frames until too slow" },
};

/* ---- client side ---- */

static bool is_more(json_t *r)
{
	return json_is_true(json_object_get(r, "ok")) && json_is_true(json_object_get(r, "more"));
}

static const char *error_code(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

/* Frames until one without "more" (kept in fx.reply), at most MAX_FRAMES. */
static void read_stream(int fd)
{
	json_t *r;

	while ((r = ctlfx_read(fd)) && is_more(r) && fx.nframes < MAX_FRAMES)
		fx.frame[fx.nframes++] = r;
	if (r && is_more(r))
		json_decref(r);
	else
		fx.reply = r;
}

static json_int_t reply_int(const char *key)
{
	return json_integer_value(json_object_get(json_object_get(fx.reply, "result"), key));
}

/* "stats" on a fresh connection until no call is pending and only it is
 * open (bounded): the server has settled every peer. */
static json_t *client_settle(void)
{
	json_t *r = NULL;

	for (int i = 0; i < 1000; i++) {
		json_t *res;

		json_decref(r);
		r = ctlfx_request(fx.sock, "{\"cmd\":\"stats\"}");
		res = json_object_get(r, "result");
		if (json_integer_value(json_object_get(res, "calls_pending")) == 0 &&
		    json_integer_value(json_object_get(res, "clients")) == 1)
			break;
		usleep(10 * 1000); /* polling a counter, not ordering events */
	}
	return r;
}

static void run_client(void (*fn)(void))
{
	ctlfx_run_client(&fx.run, &fx.loop, fn);
}

static void setup(void)
{
	struct edged_control_options opt = {
		.mode = 0660,
		.group = (gid_t)-1,
		.max_clients = 4,
		.max_request_bytes = 1024,
		.idle_timeout_ms = 5000,
		.request_timeout_ms = 5000,
		.commands = commands,
		.ncommands = sizeof commands / sizeof commands[0],
	};

	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/edged-ctls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.sock, sizeof fx.sock, "%s/edged.sock", fx.dir);
	ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
	ctlfx_runner_init(&fx.run, &fx.loop);
	ck_assert_int_eq(sem_init(&fx.follow_started, 0, 0), 0);
	ck_assert_int_eq(sem_init(&fx.flood_dropped, 0, 0), 0);
	opt.path = fx.sock;
	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &fx.ctl), 0);
}

/* Runs the loop dry: every handle and call must be gone, or uv_loop_close
 * fails. A follower still there hears of the server's end as a hangup. */
static void teardown(void)
{
	edged_control_free(fx.ctl);
	ctlfx_runner_close(&fx.run);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ck_assert_ptr_null(fx.follower);
	ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
	sem_destroy(&fx.follow_started);
	sem_destroy(&fx.flood_dropped);
	for (int i = 0; i < fx.nframes; i++)
		json_decref(fx.frame[i]);
	json_decref(fx.reply);
	unlink(fx.sock);
	rmdir(fx.dir);
}

/* ---- tests ---- */

/* 12 frames of 128 KiB, each sent once the previous one was written: they
 * arrive whole and in order, then the final answer; the connection serves
 * on. */
static void script_frames(void)
{
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"count\",\"args\":{\"n\":12}}");
	read_stream(fd);
	fx.final_count = reply_int("count");
	json_decref(fx.reply);
	/* The next answer is the next request's: the final frame was last. */
	ctlfx_send_frame(fd, "{\"cmd\":\"stats\"}");
	fx.reply = ctlfx_read(fd);
	close(fd);
}

START_TEST(test_stream_frames_in_order)
{
	run_client(script_frames);
	ck_assert_int_eq(fx.nframes, 12);
	for (int i = 0; i < fx.nframes; i++) {
		json_t *res = json_object_get(fx.frame[i], "result");

		ck_assert_int_eq(json_integer_value(json_object_get(res, "i")), i);
		ck_assert_uint_eq(strlen(json_string_value(json_object_get(res, "pad"))),
				  COUNT_FRAME_BYTES);
	}
	/* Each frame but the last waited for the one before to be written. */
	ck_assert_uint_eq(fx.drained, 12);
	ck_assert_int_eq(fx.final_count, 12);
	ck_assert_int_eq(reply_int("frames_more"), 12);
	ck_assert_int_eq(reply_int("calls_pending"), 0);
	ck_assert_int_eq(reply_int("errors"), 0);
}
END_TEST

/* A follower hangs up: its owner hears of it at once (the connection is
 * read during the stream) and finishes the call; nothing is left. */
static void script_hangup(void)
{
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"follow\"}");
	fx.started = ctlfx_wait_sem(&fx.follow_started, 10);
	fx.frame[fx.nframes++] = ctlfx_read(fd);
	close(fd);
	fx.reply = client_settle();
}

START_TEST(test_stream_hangup)
{
	run_client(script_hangup);
	ck_assert(fx.started);
	ck_assert(is_more(fx.frame[0]));
	ck_assert(json_is_true(json_object_get(json_object_get(fx.frame[0], "result"),
					       "following")));
	ck_assert_uint_eq(fx.hangups, 1);
	ck_assert_ptr_null(fx.follower);
	ck_assert_int_eq(reply_int("calls_pending"), 0);
	ck_assert_int_eq(reply_int("stream_hangups"), 1);
}
END_TEST

/* A reader that does not read while frames keep coming: dropped with
 * too_slow once its queued output passes the bound; what was queued is
 * still delivered, in order, then the error, then the connection closes. */
static void script_too_slow(void)
{
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"flood\"}");
	fx.started = ctlfx_wait_sem(&fx.flood_dropped, 10);
	read_stream(fd);
	fx.eof = ctlfx_sees_eof(fd);
	close(fd);
}

START_TEST(test_stream_too_slow)
{
	run_client(script_too_slow);
	ck_assert(fx.started);
	ck_assert_uint_eq(fx.dropped, 1);
	ck_assert_uint_eq(fx.hangups, 0);
	/* More than the bound was queued: at least that many frames came. */
	ck_assert_int_ge(fx.nframes, (int)(EDGED_CTL_STREAM_MAX_QUEUED / FLOOD_FRAME_BYTES));
	for (int i = 0; i < fx.nframes; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(
					 json_object_get(fx.frame[i], "result"), "i")), i);
	ck_assert_ptr_nonnull(fx.reply);
	ck_assert_str_eq(error_code(fx.reply), "too_slow");
	ck_assert(fx.eof);
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_TOO_SLOW), "too_slow");
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_BUDGET), "budget");
	ck_assert_int_eq(edge_ctl_error_from_name("budget"), EDGE_CTL_E_BUDGET);
}
END_TEST

/* A request sent during a stream: "bad_request", the connection closes,
 * and the stream's owner hears of it as a hangup. */
static void script_bytes_during(void)
{
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"follow\"}");
	fx.started = ctlfx_wait_sem(&fx.follow_started, 10);
	fx.frame[fx.nframes++] = ctlfx_read(fd);
	ctlfx_send_frame(fd, "{\"cmd\":\"stats\"}");
	fx.reply = ctlfx_read(fd);
	fx.eof = ctlfx_sees_eof(fd);
	close(fd);
}

START_TEST(test_stream_bytes_during)
{
	run_client(script_bytes_during);
	ck_assert(fx.started);
	ck_assert(is_more(fx.frame[0]));
	ck_assert_ptr_nonnull(fx.reply);
	ck_assert_str_eq(error_code(fx.reply), "bad_request");
	ck_assert(fx.eof);
	ck_assert_uint_eq(fx.hangups, 1);
	ck_assert_ptr_null(fx.follower);
}
END_TEST

/* The same when the request came in one write with the stream's own. */
static void script_pipelined_behind(void)
{
	static const char *const reqs[] = { "{\"cmd\":\"follow\"}", "{\"cmd\":\"stats\"}" };
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frames(fd, reqs, 2);
	fx.started = ctlfx_wait_sem(&fx.follow_started, 10);
	fx.frame[fx.nframes++] = ctlfx_read(fd);
	fx.reply = ctlfx_read(fd);
	fx.eof = ctlfx_sees_eof(fd);
	close(fd);
}

START_TEST(test_stream_pipelined_behind)
{
	run_client(script_pipelined_behind);
	ck_assert(fx.started);
	ck_assert(is_more(fx.frame[0]));
	ck_assert_str_eq(error_code(fx.reply), "bad_request");
	ck_assert(fx.eof);
	ck_assert_uint_eq(fx.hangups, 1);
}
END_TEST

/* The server freed while a follower streams: the owner hears of it as a
 * hangup and finishes; nothing leaks (teardown). */
static void script_follow_only(void)
{
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"follow\"}");
	fx.started = ctlfx_wait_sem(&fx.follow_started, 10);
	fx.frame[fx.nframes++] = ctlfx_read(fd);
	close(fd);
}

START_TEST(test_stream_server_freed)
{
	run_client(script_follow_only);
	ck_assert(fx.started);
	/* The client closed, which the loop may not have read yet: either
	 * way the call ends once, as a hangup. */
	edged_control_free(fx.ctl);
	fx.ctl = NULL;
	ck_assert_ptr_null(fx.follower);
	ck_assert_uint_eq(fx.hangups, 1);
}
END_TEST

static Suite *control_stream_suite(void)
{
	Suite *s = suite_create("control_stream");
	TCase *tc = tcase_create("streams");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stream_frames_in_order);
	tcase_add_test(tc, test_stream_hangup);
	tcase_add_test(tc, test_stream_too_slow);
	tcase_add_test(tc, test_stream_bytes_during);
	tcase_add_test(tc, test_stream_pipelined_behind);
	tcase_add_test(tc, test_stream_server_freed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* An answer written to a peer that hung up. */
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(control_stream_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
