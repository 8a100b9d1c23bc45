/* Suite 'control': the anomaly query service (daemon/edged/anomaly_query.h)
 * behind the real control server, on a real store file with 1200 events:
 * arguments, exports in pages, the bound on running and waiting queries,
 * and the stop. To make "running" observable, libuv's thread pool is held
 * by blockers (UV_THREADPOOL_SIZE of them) until the client script lets
 * them go: queries handed to the pool wait there, counted running. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anomaly_query.h"
#include "control.h"
#include "control_fixture.h"
#include "edge_anomaly.h"
#include "edge_config.h"
#include "edge_ctl_frame.h"
#include "edge_store.h"
#include "edge_time.h"
#include "test_run.h"

#define POOL_THREADS 4
#define EVENTS 1200
#define MAX_CONNS (QUERY_RUNNING_MAX + QUERY_QUEUE_MAX + 1)

struct fx {
	char dir[64];
	char sock[96];
	char db[96];
	uv_loop_t loop;
	struct ctlfx_runner run;
	struct edged_control *ctl;
	edge_store *store;
	edge_config *cfg;
	struct edged_anomaly_query *q;

	uv_work_t block[POOL_THREADS];
	sem_t blocked;      /* a blocker holds a pool thread */
	sem_t unblock;      /* lets one go */
	unsigned released;
	bool blocking;

	/* filled by client scripts, checked on the main thread */
	json_t *reply[MAX_CONNS];
	json_t *stats;
	json_t *frames;     /* events of a stream, in order */
	int nframes;
	int max_frame;
	bool ok;
};

static struct fx fx;

/* ---- the server's commands ---- */

static int cmd_qstats(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_anomaly_query_stats st;

	edged_anomaly_query_get_stats(fx.q, &st);
	*result = json_pack("{s:i, s:i, s:I, s:I, s:I}", "running", (int)st.running, "queued",
			    (int)st.queued, "done", (json_int_t)st.done, "refused_busy",
			    (json_int_t)st.refused_busy, "budget", (json_int_t)st.budget_exceeded);
	return *result ? 0 : EDGE_CTL_E_INTERNAL;
}

static int cmd_stop(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	edged_anomaly_query_stop(fx.q);
	*result = json_object();
	return 0;
}

static int start_list(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		      size_t msglen)
{
	return edged_anomaly_query_list(fx.q, args, call, msg, msglen);
}

static int start_stats(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		       size_t msglen)
{
	return edged_anomaly_query_stats(fx.q, args, call, msg, msglen);
}

static int start_episodes(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			  size_t msglen)
{
	return edged_anomaly_query_episodes(fx.q, args, call, msg, msglen);
}

static int start_device(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			size_t msglen)
{
	const char *id = json_string_value(json_object_get(args, "id"));

	return edged_anomaly_query_device(fx.q, id ? id : "none", json_pack("{s:s}", "id", "x"),
					  call);
}

static const struct edged_ctl_command commands[] = {
	{ .name = "qstats", .run = cmd_qstats, .role = EDGED_CTL_ROLE_READ, .help = "counters" },
	{ .name = "stop", .run = cmd_stop, .role = EDGED_CTL_ROLE_READ, .help = "stop" },
	{ .name = "anomalies.list", .start = start_list, .role = EDGED_CTL_ROLE_READ,
	  .help = "list" },
	{ .name = "anomalies.stats", .start = start_stats, .role = EDGED_CTL_ROLE_READ,
	  .help = "stats" },
	{ .name = "anomalies.episodes", .start = start_episodes, .role = EDGED_CTL_ROLE_READ,
	  .help = "episodes" },
	{ .name = "device", .start = start_device, .role = EDGED_CTL_ROLE_READ,
	  .help = "summary" },
};

/* ---- the pool's blockers ---- */

static void block_work(uv_work_t *w)
{
	sem_post(&fx.blocked);
	while (sem_wait(&fx.unblock) < 0 && errno == EINTR)
		;
}

static void block_done(uv_work_t *w, int status)
{
}

static void pool_block(void)
{
	for (int i = 0; i < POOL_THREADS; i++)
		ck_assert_int_eq(uv_queue_work(&fx.loop, &fx.block[i], block_work, block_done), 0);
	fx.blocking = true;
}

/* Client side: every pool thread is held. */
static bool pool_held(void)
{
	for (int i = 0; i < POOL_THREADS; i++)
		if (!ctlfx_wait_sem(&fx.blocked, 10))
			return false;
	return true;
}

static void pool_release(void)
{
	while (fx.released < POOL_THREADS) {
		fx.released++;
		sem_post(&fx.unblock);
	}
}

/* ---- the database ---- */

static int insert_run(edge_store_conn *conn, void *ud)
{
	sqlite3_stmt *st;

	if (edge_store_conn_prepare(conn,
				    "INSERT INTO anomaly_event (device, epoch, seq, ts_ms,"
				    " received_ms, time_source, model, score, threshold, label)"
				    " VALUES (?1, 1, ?2, ?3, ?3, 'clock', 'kws@1.0', ?4, 0.5, ?5)",
				    &st) < 0)
		return -EIO;
	for (int i = 1; i <= EVENTS; i++) {
		sqlite3_bind_text(st, 1, i % 3 ? "node-a" : "node-b", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, i);
		/* Pairs of equal times: the cursor's id decides within them. */
		sqlite3_bind_int64(st, 3, 1764000000000LL + (i / 2) * 1000LL);
		sqlite3_bind_double(st, 4, 0.5 + (i % 50) / 100.0);
		sqlite3_bind_text(st, 5, i % 2 ? "knock" : "glass", -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -EIO;
		sqlite3_reset(st);
	}
	return 0;
}

static int catch_up_run(edge_store_conn *conn, void *ud)
{
	return edge_anomaly_rollup_catch_up(conn, 100000, ud);
}

/* ---- client side ---- */

static json_t *request(const char *body)
{
	return ctlfx_request(fx.sock, body);
}

static json_int_t qstat(const char *key)
{
	json_t *r = request("{\"cmd\":\"qstats\"}");
	json_int_t v = json_integer_value(json_object_get(json_object_get(r, "result"), key));

	json_decref(r);
	return v;
}

/* running + queued reaches want (bounded): the server took the requests. */
static bool wait_taken(json_int_t want)
{
	uint64_t give_up = edge_time_monotonic_ms() + 10000;

	do {
		if (qstat("running") + qstat("queued") == want)
			return true;
	} while (edge_time_monotonic_ms() < give_up && poll(NULL, 0, 5) == 0);
	return false;
}

static const char *error_code(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

static const char *error_message(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "message"));
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
		.max_clients = MAX_CONNS + 8,
		.max_request_bytes = 4096,
		.idle_timeout_ms = 20000,
		.request_timeout_ms = 5000,
		.commands = commands,
		.ncommands = sizeof commands / sizeof commands[0],
	};
	bool more = true;

	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/edged-aq-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.sock, sizeof fx.sock, "%s/edged.sock", fx.dir);
	snprintf(fx.db, sizeof fx.db, "%s/edged.db", fx.dir);
	ck_assert_int_eq(edge_store_open(fx.db, NULL, &fx.store), 0);
	ck_assert_int_eq(edge_store_read(fx.store, insert_run, NULL), 0);
	while (more)
		ck_assert_int_eq(edge_store_read(fx.store, catch_up_run, &more), 0);
	fx.cfg = edge_config_new();
	ck_assert_ptr_nonnull(fx.cfg);
	ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
	ctlfx_runner_init(&fx.run, &fx.loop);
	ck_assert_int_eq(sem_init(&fx.blocked, 0, 0), 0);
	ck_assert_int_eq(sem_init(&fx.unblock, 0, 0), 0);
	ck_assert_int_eq(edged_anomaly_query_new(&fx.loop, edge_store_path(fx.store),
						 edge_config_settings(fx.cfg), &fx.q),
			 0);
	opt.path = fx.sock;
	ck_assert_int_eq(edged_control_new(&fx.loop, &opt, &fx.ctl), 0);
	fx.frames = json_array();
}

static void teardown(void)
{
	char path[128];

	if (fx.blocking)
		pool_release();
	edged_anomaly_query_free(fx.q);
	edged_control_free(fx.ctl);
	ctlfx_runner_close(&fx.run);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
	edge_store_close(fx.store);
	edge_config_free(fx.cfg);
	sem_destroy(&fx.blocked);
	sem_destroy(&fx.unblock);
	for (int i = 0; i < MAX_CONNS; i++)
		json_decref(fx.reply[i]);
	json_decref(fx.stats);
	json_decref(fx.frames);
	unlink(fx.sock);
	unlink(fx.db);
	snprintf(path, sizeof path, "%s-wal", fx.db);
	unlink(path);
	snprintf(path, sizeof path, "%s-shm", fx.db);
	unlink(path);
	rmdir(fx.dir);
}

/* ---- tests ---- */

/* Bad arguments are refused at once, naming the argument. */
static const char *const bad_requests[][2] = {
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"limit\":0}}", "limit" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"limit\":10001}}", "limit" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"stream\":true,\"limit\":-1}}", "limit" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"cursor\":{\"ts_ms\":1}}}", "cursor" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"min_score\":\"high\"}}", "min_score" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"stream\":1}}", "stream" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"device\":5}}", "device" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"since_ms\":20,\"until_ms\":10}}", "until_ms" },
	{ "{\"cmd\":\"anomalies.list\",\"args\":{\"since_ms\":-1}}", "since_ms" },
	{ "{\"cmd\":\"anomalies.stats\",\"args\":{\"by\":\"week\"}}", "by" },
	{ "{\"cmd\":\"anomalies.stats\",\"args\":{\"min_score\":0.5}}", "min_score" },
	{ "{\"cmd\":\"anomalies.stats\",\"args\":{\"max_groups\":0}}", "max_groups" },
	{ "{\"cmd\":\"anomalies.episodes\",\"args\":{\"open\":\"yes\"}}", "open" },
};
#define N_BAD (sizeof bad_requests / sizeof bad_requests[0])

static void script_bad_args(void)
{
	for (size_t i = 0; i < N_BAD; i++)
		fx.reply[i] = request(bad_requests[i][0]);
}

START_TEST(test_query_bad_args)
{
	run_client(script_bad_args);
	for (size_t i = 0; i < N_BAD; i++) {
		ck_assert_msg(fx.reply[i] != NULL, "no reply to %s", bad_requests[i][0]);
		ck_assert_str_eq(error_code(fx.reply[i]), "bad_args");
		ck_assert_msg(strstr(error_message(fx.reply[i]), bad_requests[i][1]),
			      "'%s' does not name %s", error_message(fx.reply[i]),
			      bad_requests[i][1]);
	}
}
END_TEST

/* Pages of a list chained by their cursors give every row once, newest
 * first; the summary of a device; statistics by device. */
static void script_pages(void)
{
	char body[256];
	json_t *cursor = NULL;

	for (int page = 0; page < 20; page++) {
		json_t *r, *res;

		if (cursor)
			snprintf(body, sizeof body, "{\"cmd\":\"anomalies.list\",\"args\":{\"limit\":"
				 "250,\"cursor\":{\"ts_ms\":%lld,\"id\":%lld}}}",
				 (long long)json_integer_value(json_object_get(cursor, "ts_ms")),
				 (long long)json_integer_value(json_object_get(cursor, "id")));
		else
			snprintf(body, sizeof body,
				 "{\"cmd\":\"anomalies.list\",\"args\":{\"limit\":250}}");
		json_decref(cursor);
		cursor = NULL;
		r = request(body);
		res = json_object_get(r, "result");
		if (!res) {
			fx.reply[0] = r;
			return;
		}
		json_array_extend(fx.frames, json_object_get(res, "events"));
		fx.nframes++;
		cursor = json_incref(json_object_get(res, "cursor"));
		if (!json_is_true(json_object_get(res, "more"))) {
			json_decref(r);
			break;
		}
		json_decref(r);
	}
	json_decref(cursor);
	fx.reply[1] = request("{\"cmd\":\"device\",\"args\":{\"id\":\"node-b\"}}");
	fx.reply[2] = request("{\"cmd\":\"anomalies.stats\",\"args\":{\"by\":\"device\"}}");
}

/* Each event of frames, in order: newest first by (ts_ms, id), each once. */
static void assert_ordered(json_t *events, size_t want)
{
	json_t *ev;
	size_t i;
	long long last_ts = 0, last_id = 0;

	ck_assert_uint_eq(json_array_size(events), want);
	json_array_foreach(events, i, ev) {
		long long ts = json_integer_value(json_object_get(ev, "ts_ms"));
		long long id = json_integer_value(json_object_get(ev, "id"));

		if (i > 0)
			ck_assert_msg(ts < last_ts || (ts == last_ts && id < last_id),
				      "row %zu (%lld, %lld) not after (%lld, %lld)", i, ts, id,
				      last_ts, last_id);
		last_ts = ts;
		last_id = id;
	}
}

START_TEST(test_query_pages_summary_stats)
{
	json_t *sum, *groups, *g;
	size_t i;
	json_int_t total = 0;

	run_client(script_pages);
	ck_assert_msg(fx.reply[0] == NULL, "a page failed: %s", error_message(fx.reply[0]));
	ck_assert_int_eq(fx.nframes, EVENTS / 250 + 1);
	assert_ordered(fx.frames, EVENTS);
	sum = json_object_get(json_object_get(fx.reply[1], "result"), "anomalies");
	ck_assert_msg(json_is_object(sum), "device without its summary");
	/* The newest of node-b (every third event; its counts come from the
	 * stream rows, which a raw insert does not write). */
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "last_ts_ms")),
			 1764000000000LL + (EVENTS / 2) * 1000LL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(fx.reply[1], "result"),
							   "id")), "x");
	groups = json_object_get(json_object_get(fx.reply[2], "result"), "groups");
	ck_assert_uint_eq(json_array_size(groups), 2);
	json_array_foreach(groups, i, g)
		total += json_integer_value(json_object_get(g, "count"));
	ck_assert_int_eq(total, EVENTS);
}
END_TEST

/* An export in pages of at most 500, every row once and in order; with a
 * limit it stops there and says more rows remain. */
static void read_export(int fd)
{
	json_t *r;

	while ((r = ctlfx_read(fd)) && json_is_true(json_object_get(r, "more"))) {
		json_t *events = json_object_get(json_object_get(r, "result"), "events");

		if ((int)json_array_size(events) > fx.max_frame)
			fx.max_frame = (int)json_array_size(events);
		json_array_extend(fx.frames, events);
		fx.nframes++;
		json_decref(r);
	}
	fx.reply[fx.reply[0] ? 1 : 0] = r;
}

static void script_export(void)
{
	int fd = ctlfx_connect(fx.sock);

	if (fd < 0)
		return;
	ctlfx_send_frame(fd, "{\"cmd\":\"anomalies.list\",\"args\":{\"stream\":true}}");
	read_export(fd);
	fx.ok = (int)json_array_size(fx.frames) == EVENTS;
	json_array_clear(fx.frames);
	ctlfx_send_frame(fd, "{\"cmd\":\"anomalies.list\",\"args\":{\"stream\":true,"
			     "\"limit\":700,\"device\":\"node-a\"}}");
	read_export(fd);
	close(fd);
}

START_TEST(test_query_export)
{
	json_t *fin;

	run_client(script_export);
	ck_assert(fx.ok);
	fin = json_object_get(fx.reply[0], "result");
	ck_assert_int_eq(json_integer_value(json_object_get(fin, "count")), EVENTS);
	ck_assert(json_is_false(json_object_get(fin, "more")));
	ck_assert_int_le(fx.max_frame, QUERY_PAGE_EVENTS);
	assert_ordered(fx.frames, 700);
	fin = json_object_get(fx.reply[1], "result");
	ck_assert_int_eq(json_integer_value(json_object_get(fin, "count")), 700);
	ck_assert(json_is_true(json_object_get(fin, "more")));
	ck_assert_int_eq(fx.nframes, 3 + 2);
}
END_TEST

/* Two running (held on the pool), 32 waiting, the next one busy; once the
 * pool is free every one is answered. */
static int conns[MAX_CONNS];

static void script_bound(void)
{
	if (!pool_held())
		return;
	for (int i = 0; i < MAX_CONNS; i++) {
		conns[i] = ctlfx_connect(fx.sock);
		if (conns[i] < 0)
			return;
		ctlfx_send_frame(conns[i], "{\"cmd\":\"anomalies.list\",\"args\":{\"limit\":5}}");
		if (i < MAX_CONNS - 1 && !wait_taken(i + 1))
			return;
	}
	fx.reply[MAX_CONNS - 1] = ctlfx_read(conns[MAX_CONNS - 1]);
	fx.stats = request("{\"cmd\":\"qstats\"}");
	pool_release();
	for (int i = 0; i < MAX_CONNS - 1; i++)
		fx.reply[i] = ctlfx_read(conns[i]);
	for (int i = 0; i < MAX_CONNS; i++)
		close(conns[i]);
	fx.ok = wait_taken(0);
}

START_TEST(test_query_bound_and_busy)
{
	json_t *st;

	pool_block();
	run_client(script_bound);
	st = json_object_get(fx.stats, "result");
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "running")), QUERY_RUNNING_MAX);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "queued")), QUERY_QUEUE_MAX);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "refused_busy")), 1);
	ck_assert_str_eq(error_code(fx.reply[MAX_CONNS - 1]), "busy");
	for (int i = 0; i < MAX_CONNS - 1; i++) {
		json_t *res = json_object_get(fx.reply[i], "result");

		ck_assert_msg(res != NULL, "query %d not answered", i);
		ck_assert_uint_eq(json_array_size(json_object_get(res, "events")), 5);
	}
	ck_assert(fx.ok);
}
END_TEST

/* Stop: the waiting query is answered at once, the running ones when the
 * pool hands them back (not run: interrupted), new ones refused; device
 * still answers, without its summary. */
static void script_stop(void)
{
	if (!pool_held())
		return;
	for (int i = 0; i < 3; i++) {
		conns[i] = ctlfx_connect(fx.sock);
		if (conns[i] < 0)
			return;
		ctlfx_send_frame(conns[i], "{\"cmd\":\"anomalies.list\"}");
		if (!wait_taken(i + 1))
			return;
	}
	fx.stats = request("{\"cmd\":\"stop\"}");
	fx.reply[2] = ctlfx_read(conns[2]); /* the waiting one, before the pool moves */
	fx.reply[3] = request("{\"cmd\":\"anomalies.stats\"}");
	fx.reply[4] = request("{\"cmd\":\"device\",\"args\":{\"id\":\"node-a\"}}");
	pool_release();
	fx.reply[0] = ctlfx_read(conns[0]);
	fx.reply[1] = ctlfx_read(conns[1]);
	for (int i = 0; i < 3; i++)
		close(conns[i]);
}

START_TEST(test_query_stop)
{
	pool_block();
	run_client(script_stop);
	for (int i = 0; i < 4; i++) {
		ck_assert_msg(fx.reply[i] != NULL, "no reply %d", i);
		ck_assert_str_eq(error_code(fx.reply[i]), "unavailable");
	}
	ck_assert(json_is_null(json_object_get(json_object_get(fx.reply[4], "result"),
					       "anomalies")));
}
END_TEST

/* Over the budget: `budget`, counted; the limit is reloadable. */
static void script_budget(void)
{
	fx.reply[0] = request("{\"cmd\":\"anomalies.list\",\"args\":{\"min_score\":5.0}}");
	fx.reply[1] = request("{\"cmd\":\"qstats\"}");
}

START_TEST(test_query_budget)
{
	char err[256];

	ck_assert_int_eq(edge_config_set(fx.cfg, "anomaly.query_max_rows", "1000", err,
					 sizeof err), 0);
	edged_anomaly_query_apply_settings(fx.q, edge_config_settings(fx.cfg));
	run_client(script_budget);
	ck_assert_str_eq(error_code(fx.reply[0]), "budget");
	ck_assert_msg(strstr(error_message(fx.reply[0]), "1000 rows") &&
		      strstr(error_message(fx.reply[0]), "--since"),
		      "budget message: %s", error_message(fx.reply[0]));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(fx.reply[1],
									     "result"),
							    "budget")), 1);
}
END_TEST

static Suite *anomaly_query_suite(void)
{
	Suite *s = suite_create("anomaly_query_service");
	TCase *tc = tcase_create("queries");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_query_bad_args);
	tcase_add_test(tc, test_query_pages_summary_stats);
	tcase_add_test(tc, test_query_export);
	tcase_add_test(tc, test_query_bound_and_busy);
	tcase_add_test(tc, test_query_stop);
	tcase_add_test(tc, test_query_budget);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char n[16];

	/* The blockers hold every pool thread: the pool's size is ours. */
	snprintf(n, sizeof n, "%d", POOL_THREADS);
	setenv("UV_THREADPOOL_SIZE", n, 1);
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(anomaly_query_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
