#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edge_ratelimit.h"
#include "test_util.h"

START_TEST(rejects_bad_arguments)
{
	ck_assert_ptr_null(edge_ratelimit_new(0, 1000, 1));
	ck_assert_ptr_null(edge_ratelimit_new(16, 1000, 0));
	ck_assert_ptr_null(edge_ratelimit_new(((size_t)1 << 24) + 1, 1000, 1));
	edge_ratelimit *rl = edge_ratelimit_new(16, 1000, 1);
	ck_assert_ptr_nonnull(rl);
	ck_assert_int_eq(edge_ratelimit_set_limits(rl, 1000, 0), -EINVAL);
	edge_ratelimit_free(rl);
	edge_ratelimit_free(NULL);
}
END_TEST

START_TEST(burst_then_suppressed_count_when_the_next_window_opens)
{
	edge_ratelimit *rl = edge_ratelimit_new(64, 1000, 3);
	uint64_t sup = 99;

	/* The window opens with the first line, at 500. */
	for (int i = 0; i < 3; i++) {
		ck_assert(edge_ratelimit_allow(rl, "node-1", 500 + i, &sup));
		ck_assert_uint_eq(sup, 0);
	}
	for (int i = 0; i < 7; i++)
		ck_assert(!edge_ratelimit_allow(rl, "node-1", 600 + i, &sup));
	ck_assert(!edge_ratelimit_allow(rl, "node-1", 1499, &sup));
	ck_assert(edge_ratelimit_allow(rl, "node-1", 1500, &sup));
	ck_assert_uint_eq(sup, 8);
	/* The count is reported once. */
	ck_assert(edge_ratelimit_allow(rl, "node-1", 1501, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert(edge_ratelimit_allow(rl, "node-1", 1502, NULL));
	ck_assert(!edge_ratelimit_allow(rl, "node-1", 1503, NULL));

	struct edge_ratelimit_stats st;
	edge_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.allowed, 6);
	ck_assert_uint_eq(st.suppressed, 9);
	ck_assert_uint_eq(st.keys, 1);
	ck_assert_uint_eq(st.evictions, 0);
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(keys_are_limited_independently)
{
	edge_ratelimit *rl = edge_ratelimit_new(64, 1000, 1);
	uint64_t sup;

	ck_assert(edge_ratelimit_allow(rl, "a", 0, &sup));
	ck_assert(!edge_ratelimit_allow(rl, "a", 1, &sup));
	ck_assert(!edge_ratelimit_allow(rl, "a", 2, &sup));
	ck_assert(edge_ratelimit_allow(rl, "b", 3, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert(!edge_ratelimit_allow(rl, "b", 4, &sup));
	ck_assert(edge_ratelimit_allow(rl, "ab", 5, &sup));
	ck_assert(edge_ratelimit_allow(rl, "", 6, &sup));
	ck_assert(!edge_ratelimit_allow(rl, "", 7, &sup));

	ck_assert(edge_ratelimit_allow(rl, "a", 1000, &sup));
	ck_assert_uint_eq(sup, 2);
	ck_assert(!edge_ratelimit_allow(rl, "b", 1002, &sup));
	ck_assert(edge_ratelimit_allow(rl, "b", 1003, &sup));
	ck_assert_uint_eq(sup, 2);
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(quiet_windows_report_nothing)
{
	edge_ratelimit *rl = edge_ratelimit_new(8, 100, 2);
	uint64_t sup;

	for (uint64_t t = 0; t < 10000; t += 50) {
		ck_assert(edge_ratelimit_allow(rl, "steady", t, &sup));
		ck_assert_uint_eq(sup, 0);
	}
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(interval_zero_disables_limiting)
{
	edge_ratelimit *rl = edge_ratelimit_new(8, 0, 1);
	uint64_t sup;

	for (int i = 0; i < 100; i++)
		ck_assert(edge_ratelimit_allow(rl, "x", 5, &sup));
	ck_assert_int_eq(edge_ratelimit_set_limits(rl, 1000, 1), 0);
	ck_assert(edge_ratelimit_allow(rl, "x", 6, &sup));
	ck_assert(!edge_ratelimit_allow(rl, "x", 7, &sup));
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(new_limits_apply_to_open_windows)
{
	edge_ratelimit *rl = edge_ratelimit_new(8, 1000, 1);

	ck_assert(edge_ratelimit_allow(rl, "x", 0, NULL));
	ck_assert(!edge_ratelimit_allow(rl, "x", 1, NULL));
	ck_assert_int_eq(edge_ratelimit_set_limits(rl, 1000, 3), 0);
	ck_assert(edge_ratelimit_allow(rl, "x", 2, NULL));
	ck_assert(edge_ratelimit_allow(rl, "x", 3, NULL));
	ck_assert(!edge_ratelimit_allow(rl, "x", 4, NULL));
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(clock_going_back_keeps_the_window)
{
	edge_ratelimit *rl = edge_ratelimit_new(8, 1000, 1);

	ck_assert(edge_ratelimit_allow(rl, "x", 5000, NULL));
	ck_assert(!edge_ratelimit_allow(rl, "x", 10, NULL));
	ck_assert(edge_ratelimit_allow(rl, "x", 6000, NULL));
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(long_keys_share_their_first_bytes)
{
	char a[200], b[200];
	edge_ratelimit *rl = edge_ratelimit_new(8, 1000, 1);

	memset(a, 'k', sizeof a - 1);
	a[sizeof a - 1] = '\0';
	memcpy(b, a, sizeof b);
	b[EDGE_RATELIMIT_KEY_MAX + 5] = 'z';
	ck_assert(edge_ratelimit_allow(rl, a, 0, NULL));
	ck_assert(!edge_ratelimit_allow(rl, b, 1, NULL));
	b[EDGE_RATELIMIT_KEY_MAX - 1] = 'z'; /* differs within the prefix */
	ck_assert(edge_ratelimit_allow(rl, b, 2, NULL));
	edge_ratelimit_free(rl);
}
END_TEST

/* 100k spoofed ids: the table never grows, old entries are evicted. */
START_TEST(flood_of_distinct_keys_keeps_memory_bounded)
{
	enum { CAPACITY = 1024, FLOOD = 100000 };
	edge_ratelimit *rl = edge_ratelimit_new(CAPACITY, 1000, 1);
	struct edge_ratelimit_stats before, after;
	char key[32];
	uint64_t sup;

	edge_ratelimit_stats(rl, &before);
	ck_assert_uint_eq(before.capacity, CAPACITY);
	ck_assert_uint_eq(before.keys, 0);

	/* A key with suppressed lines, about to be flooded out. */
	ck_assert(edge_ratelimit_allow(rl, "victim", 0, NULL));
	ck_assert(!edge_ratelimit_allow(rl, "victim", 1, NULL));

	for (int i = 0; i < FLOOD; i++) {
		snprintf(key, sizeof key, "spoof-%d", i);
		ck_assert(edge_ratelimit_allow(rl, key, 10 + (uint64_t)i / 100, &sup));
		ck_assert_uint_eq(sup, 0);
	}
	edge_ratelimit_stats(rl, &after);
	ck_assert_uint_eq(after.memory_bytes, before.memory_bytes);
	ck_assert_uint_le(after.keys, CAPACITY);
	ck_assert_uint_ge(after.keys, CAPACITY / 2);
	ck_assert_uint_ge(after.evictions, FLOOD + 1 - CAPACITY);
	ck_assert_uint_eq(after.evictions + after.keys, FLOOD + 1);
	/* The oldest entry went first, taking its pending count with it. */
	ck_assert_uint_eq(after.lost_suppressed, 1);
	ck_assert(edge_ratelimit_allow(rl, "victim", 2, &sup));
	ck_assert_uint_eq(sup, 0);

	/* Recently seen keys are still limited. */
	snprintf(key, sizeof key, "spoof-%d", FLOOD - 1);
	ck_assert(!edge_ratelimit_allow(rl, key, 1009, NULL));
	edge_ratelimit_free(rl);
}
END_TEST

START_TEST(total_budget_caps_floods_of_new_keys)
{
	edge_ratelimit *rl = edge_ratelimit_new(256, 1000, 2);
	struct edge_ratelimit_stats st;
	char key[32];
	uint64_t sup;
	int allowed = 0;

	edge_ratelimit_set_total(rl, 10);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "id-%d", i);
		allowed += edge_ratelimit_allow(rl, key, 100, NULL);
	}
	ck_assert_int_eq(allowed, 10);
	edge_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.total_suppressed, 90);
	ck_assert_uint_eq(st.suppressed, 90);

	/* Next window: a refused key reports its suppressed line. */
	ck_assert(edge_ratelimit_allow(rl, "id-50", 1100, &sup));
	ck_assert_uint_eq(sup, 1);

	edge_ratelimit_set_total(rl, 0);
	allowed = 0;
	for (int i = 100; i < 200; i++) {
		snprintf(key, sizeof key, "id-%d", i);
		allowed += edge_ratelimit_allow(rl, key, 1100, NULL);
	}
	ck_assert_int_eq(allowed, 100);
	edge_ratelimit_free(rl);
}
END_TEST

TCase *test_ratelimit_tcase(void)
{
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, rejects_bad_arguments);
	tcase_add_test(tc, burst_then_suppressed_count_when_the_next_window_opens);
	tcase_add_test(tc, keys_are_limited_independently);
	tcase_add_test(tc, quiet_windows_report_nothing);
	tcase_add_test(tc, interval_zero_disables_limiting);
	tcase_add_test(tc, new_limits_apply_to_open_windows);
	tcase_add_test(tc, clock_going_back_keeps_the_window);
	tcase_add_test(tc, long_keys_share_their_first_bytes);
	tcase_add_test(tc, flood_of_distinct_keys_keeps_memory_bounded);
	tcase_add_test(tc, total_budget_caps_floods_of_new_keys);
	return tc;
}
