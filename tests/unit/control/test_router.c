/* Suite 'control': edged's router and its bad-input log limit, fed node
 * messages directly (the MQTT client exists but never connects), with the
 * log lines captured through the edge_log hook. */
#include <check.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge_log.h"
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
	int nlines;
	char lines[MAX_LINES][600];
} fx;

static void capture(int level, const char *group, const char *msg, void *ud)
{
	if (level != EDGE_LOG_WARNING || strcmp(group, "router") != 0 || fx.nlines == MAX_LINES)
		return;
	snprintf(fx.lines[fx.nlines++], sizeof fx.lines[0], "%s", msg);
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
}

/* Reload with a 1 s window and let the windows opened so far expire. */
static void reload_short_window_and_wait(const char *burst, const char *total)
{
	fx.next = config_with("1", burst, total);
	edged_router_apply_settings(fx.router, edge_config_settings(fx.next));
	usleep(1100 * 1000);
}

static void setup(void)
{
	memset(&fx, 0, sizeof fx);
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
