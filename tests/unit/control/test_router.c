/* Suite 'control': edged's router and its bad-input log limit, fed node
 * messages directly (the MQTT client exists but never connects), with the
 * log lines captured through the edge_log hook and the router's clock
 * injected (time advances only when a test says so). */
#include <check.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge_log.h"
#include "edge_node_msg.h"
#include "mqtt.h"
#include "router.h"

#define MAX_LINES 64

static struct {
	uv_loop_t loop;
	edge_config *config;
	edge_config *next;          /* settings after a reload */
	struct edged_mqtt *mqtt;
	edge_registry *registry;
	struct edged_router *router;
	uint64_t now_ms;            /* the router's clock */
	int nlines;
	char lines[MAX_LINES][600];
} fx;

static void capture(int level, const char *group, const char *msg, void *ud)
{
	if (level != EDGE_LOG_WARNING || strcmp(group, "router") != 0 || fx.nlines == MAX_LINES)
		return;
	snprintf(fx.lines[fx.nlines++], sizeof fx.lines[0], "%s", msg);
}

static uint64_t test_clock(void *ud)
{
	(void)ud;
	return fx.now_ms;
}

static edge_config *config_with(const char *interval_s, const char *burst, const char *total)
{
	edge_config *c = edge_config_new();
	char err[256];

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(edge_config_set(c, "log.bad_input_interval_s", interval_s, err, sizeof err),
			 0);
	ck_assert_int_eq(edge_config_set(c, "log.bad_input_burst", burst, err, sizeof err), 0);
	ck_assert_int_eq(edge_config_set(c, "log.bad_input_total_burst", total, err, sizeof err), 0);
	return c;
}

static void start(const char *interval_s, const char *burst, const char *total)
{
	const struct edge_settings *s;

	fx.config = config_with(interval_s, burst, total);
	s = edge_config_settings(fx.config);
	ck_assert_int_eq(edged_mqtt_new(&fx.loop, s, NULL, &fx.mqtt), 0);
	ck_assert_int_eq(edge_registry_new(NULL, NULL, &fx.registry), 0);
	ck_assert_int_eq(edged_router_new(fx.mqtt, fx.registry, s, &fx.router), 0);
	edged_router_set_clock(fx.router, test_clock, NULL);
}

/* Reload with a 1 s window and let the windows opened so far expire. */
static void reload_short_window_and_wait(const char *burst, const char *total)
{
	fx.next = config_with("1", burst, total);
	edged_router_apply_settings(fx.router, edge_config_settings(fx.next));
	fx.now_ms += 1100;
}

static void setup(void)
{
	memset(&fx, 0, sizeof fx);
	fx.now_ms = 1000000; /* any origin */
	mosquitto_lib_init();
	ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
	edge_log_set_level(EDGE_LOG_DEBUG);
	edge_log_set_hook(capture, NULL);
}

static void teardown(void)
{
	edge_log_set_hook(NULL, NULL);
	edged_router_free(fx.router);
	edged_mqtt_free(fx.mqtt);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
	edge_registry_free(fx.registry);
	edge_config_free(fx.config);
	edge_config_free(fx.next);
	mosquitto_lib_cleanup();
}

/* A heartbeat that is not JSON: rejected and logged about node `id`. */
static void bad_input(const char *id)
{
	char topic[128];

	snprintf(topic, sizeof topic, "edge/v1/%s/heartbeat", id);
	edged_router_on_message(fx.router, &(struct edged_mqtt_message){
						   .topic = topic, .payload = "{", .len = 1 });
}

static uint64_t suppressed(void)
{
	struct edged_router_stats st;

	edged_router_get_stats(fx.router, &st);
	return st.log_suppressed;
}

static void assert_line(int i, const char *id, const char *suffix)
{
	ck_assert_int_gt(fx.nlines, i);
	ck_assert_msg(strstr(fx.lines[i], id) != NULL, "line %d is not about %s: %s", i, id,
		      fx.lines[i]);
	if (suffix)
		ck_assert_msg(strstr(fx.lines[i], suffix) != NULL, "line %d lacks '%s': %s", i,
			      suffix, fx.lines[i]);
	else
		ck_assert_msg(strstr(fx.lines[i], "suppressed") == NULL,
			      "line %d reports suppression: %s", i, fx.lines[i]);
}

START_TEST(test_per_node_limit_reports_suppressed)
{
	struct edged_router_stats st;

	start("3600", "2", "0");
	for (int i = 0; i < 5; i++)
		bad_input("node-a");
	ck_assert_int_eq(fx.nlines, 2);
	ck_assert_uint_eq(suppressed(), 3);
	edged_router_get_stats(fx.router, &st);
	ck_assert_uint_eq(st.rejects[EDGE_MSG_BAD_JSON], 5);

	/* Another node has its own budget; its line tells what was dropped. */
	bad_input("node-b");
	ck_assert_int_eq(fx.nlines, 3);
	assert_line(2, "node-b", "(3 bad-input lines suppressed since the previous one)");

	reload_short_window_and_wait("2", "0");
	bad_input("node-a");
	ck_assert_int_eq(fx.nlines, 4);
	assert_line(3, "node-a", "(3 similar suppressed)");
	bad_input("node-a");
	assert_line(4, "node-a", NULL);
}
END_TEST

START_TEST(test_total_budget_over_many_ids)
{
	start("3600", "5", "2");
	bad_input("spoof-1");
	bad_input("spoof-2");
	bad_input("spoof-3");
	bad_input("spoof-4");
	ck_assert_int_eq(fx.nlines, 2);
	assert_line(0, "spoof-1", NULL);
	assert_line(1, "spoof-2", NULL);
	ck_assert_uint_eq(suppressed(), 2);

	/* Next window: the first line reports the lines the budget dropped,
	 * and a node refused by it reports its own. */
	reload_short_window_and_wait("5", "2");
	bad_input("spoof-5");
	assert_line(2, "spoof-5", "(2 bad-input lines suppressed since the previous one)");
	bad_input("spoof-3");
	assert_line(3, "spoof-3", "(1 similar suppressed)");
	/* Budget of 2 used up again. */
	bad_input("spoof-6");
	ck_assert_int_eq(fx.nlines, 4);
}
END_TEST

START_TEST(test_no_total_budget)
{
	char id[32];

	start("3600", "1", "0");
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "node-%d", i);
		bad_input(id);
	}
	ck_assert_int_eq(fx.nlines, 40);
	ck_assert_uint_eq(suppressed(), 0);
}
END_TEST

static void publish(const char *topic, const char *payload, bool retained)
{
	edged_router_on_message(fx.router, &(struct edged_mqtt_message){
						   .topic = topic, .payload = payload,
						   .len = strlen(payload), .retained = retained });
}

static void hello_of(const char *id)
{
	char topic[128], payload[EDGE_MSG_MAX_PAYLOAD];
	struct edge_msg_hello h = { .proto = EDGE_PROTO_VERSION, .heartbeat_s = 30,
				    .ram_bytes = 1, .flash_bytes = 1, .arena_bytes = 1 };

	snprintf(h.id, sizeof h.id, "%s", id);
	snprintf(h.fw, sizeof h.fw, "1.0.0");
	snprintf(h.runtime_name, sizeof h.runtime_name, "tflm");
	snprintf(h.runtime_version, sizeof h.runtime_version, "1.0");
	snprintf(h.sensor, sizeof h.sensor, "mic");
	h.n_ops = 1;
	snprintf(h.ops[0], sizeof h.ops[0], "CONV_2D");
	ck_assert_int_gt(edge_msg_encode_hello(payload, sizeof payload, &h), 0);
	snprintf(topic, sizeof topic, "edge/v1/%s/hello", id);
	publish(topic, payload, false);
}

static void status_of(const char *id, const char *state, const char *reason, bool retained)
{
	char topic[128], payload[256];

	snprintf(topic, sizeof topic, "edge/v1/%s/status", id);
	snprintf(payload, sizeof payload, "{\"proto\":1,\"state\":\"%s\",\"reason\":\"%s\"}",
		 state, reason);
	publish(topic, payload, retained);
}

static uint64_t rejects_total(void)
{
	struct edged_router_stats st;
	uint64_t n = 0;

	edged_router_get_stats(fx.router, &st);
	for (int i = 0; i < EDGE_MSG_REJECT_COUNT; i++)
		n += st.rejects[i];
	for (int i = 0; i < EDGED_ROUTER_REFUSAL_COUNT; i++)
		n += st.refusals[i];
	return n;
}

/* A conforming new node: online status (boot) first, then hello. */
START_TEST(status_before_hello_is_no_reject)
{
	struct edge_node_info info;
	char id[32];

	start("3600", "5", "0");
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof id, "new-%d", i);
		status_of(id, "online", "boot", false);
		hello_of(id);
		ck_assert_int_eq(edge_registry_get(fx.registry, id, &info), 0);
		ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
		ck_assert_str_eq(info.status_reason, "boot");
		ck_assert_uint_eq(info.reconnect_count, 0);
	}
	ck_assert_uint_eq(rejects_total(), 0);
	ck_assert_int_eq(fx.nlines, 0);
}
END_TEST

/* The retain flag reaches the registry: replays never count. */
START_TEST(live_status_counts_retained_does_not)
{
	struct edge_node_info info;

	start("3600", "5", "0");
	status_of("n1", "online", "boot", false);
	hello_of("n1");
	status_of("n1", "online", "boot", true); /* replay after a resubscribe */
	ck_assert_int_eq(edge_registry_get(fx.registry, "n1", &info), 0);
	ck_assert_uint_eq(info.reconnect_count, 0);
	status_of("n1", "offline", "lost", false);
	status_of("n1", "online", "reconnect", false);
	ck_assert_int_eq(edge_registry_get(fx.registry, "n1", &info), 0);
	ck_assert_uint_eq(info.reconnect_count, 1);
	ck_assert_str_eq(info.status_reason, "reconnect");
	ck_assert_uint_eq(rejects_total(), 0);
}
END_TEST

START_TEST(bad_topic_line_says_what_happened)
{
	struct edged_router_stats st;

	start("3600", "5", "0");
	publish("edge/v1/only-two", "{}", false);
	publish("elsewhere/x/y", "{}", false);
	edged_router_get_stats(fx.router, &st);
	ck_assert_uint_eq(st.rejects[EDGE_MSG_BAD_TOPIC], 2);
	ck_assert_int_eq(fx.nlines, 2);
	ck_assert_str_eq(fx.lines[0], "message on topic 'edge/v1/only-two' outside "
				      "edge/v1/<id>/<type> ignored: bad_topic");
	ck_assert_str_eq(fx.lines[1], "message on topic 'elsewhere/x/y' outside "
				      "edge/v1/<id>/<type> ignored: bad_topic");
	/* A heartbeat of an unknown node is still refused. */
	publish("edge/v1/ghost/heartbeat", "{\"proto\":1}", false);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("log-limit");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_per_node_limit_reports_suppressed);
	tcase_add_test(tc, test_total_budget_over_many_ids);
	tcase_add_test(tc, test_no_total_budget);
	tcase_add_test(tc, status_before_hello_is_no_reject);
	tcase_add_test(tc, live_status_counts_retained_does_not);
	tcase_add_test(tc, bad_topic_line_says_what_happened);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
