#include <check.h>
#include <stdio.h>
#include <string.h>

#include "edge_log.h"
#include "test_util.h"

struct captured {
	int calls;
	int level;
	char group[32];
	char msg[2048];
};

static void capture(int level, const char *group, const char *msg, void *ud)
{
	struct captured *c = ud;

	c->calls++;
	c->level = level;
	snprintf(c->group, sizeof c->group, "%s", group);
	snprintf(c->msg, sizeof c->msg, "%s", msg);
}

START_TEST(hook_gets_formatted_lines_up_to_the_level)
{
	struct captured c = { 0 };

	edge_log_set_hook(capture, &c);
	edge_log_set_level(EDGE_LOG_INFO);
	ck_assert_int_eq(edge_log_get_level(), EDGE_LOG_INFO);
	edge_log(EDGE_LOG_WARNING, "mqtt", "lost %s after %d s", "broker", 3);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.level, EDGE_LOG_WARNING);
	ck_assert_str_eq(c.group, "mqtt");
	ck_assert_str_eq(c.msg, "lost broker after 3 s");
	edge_log(EDGE_LOG_DEBUG, "mqtt", "not shown");
	ck_assert_int_eq(c.calls, 1);
	edge_log_set_level(EDGE_LOG_DEBUG);
	edge_log(EDGE_LOG_DEBUG, "mqtt", "shown");
	ck_assert_int_eq(c.calls, 2);
	edge_log_set_hook(NULL, NULL);
	edge_log(EDGE_LOG_ERR, "mqtt", "dropped without a hook");
	ck_assert_int_eq(c.calls, 2);
}
END_TEST

START_TEST(long_lines_are_truncated_not_overflowed)
{
	struct captured c = { 0 };
	char big[1500];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	edge_log_set_hook(capture, &c);
	edge_log_set_level(EDGE_LOG_INFO);
	edge_log(EDGE_LOG_INFO, "t", "%s", big);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_uint_eq(strlen(c.msg), 1023);
	edge_log_set_hook(NULL, NULL);
}
END_TEST

START_TEST(level_names_round_trip)
{
	static const char *const names[] = { "err", "warning", "notice", "info",
					     "debug" };

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(edge_log_level_from_name(names[i]), EDGE_LOG_ERR + i);
		ck_assert_str_eq(edge_log_level_name(EDGE_LOG_ERR + i), names[i]);
	}
	ck_assert_int_eq(edge_log_level_from_name("verbose"), -1);
	ck_assert_int_eq(edge_log_level_from_name(""), -1);
	ck_assert_str_eq(edge_log_level_name(0), "unknown");
	ck_assert_str_eq(edge_log_level_name(8), "unknown");
}
END_TEST

TCase *test_log_tcase(void)
{
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, hook_gets_formatted_lines_up_to_the_level);
	tcase_add_test(tc, long_lines_are_truncated_not_overflowed);
	tcase_add_test(tc, level_names_round_trip);
	return tc;
}
