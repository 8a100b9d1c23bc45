/* Node selections used by the simulator's options and control commands. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "sim_select.h"
#include "test_run.h"

START_TEST(indices_and_ranges)
{
	struct sim_select s;
	ck_assert_int_eq(sim_select_parse(&s, "3,7,10-12", 0), 0);
	ck_assert(sim_select_has(&s, 3));
	ck_assert(sim_select_has(&s, 7));
	ck_assert(sim_select_has(&s, 10));
	ck_assert(sim_select_has(&s, 12));
	ck_assert(!sim_select_has(&s, 4));
	ck_assert(!sim_select_has(&s, 13));
	ck_assert_int_eq(sim_select_parse(&s, "all", 0), 0);
	ck_assert(sim_select_has(&s, 9999));
	ck_assert_int_eq(sim_select_parse(&s, "none", 0), 0);
	ck_assert(!sim_select_has(&s, 0));
}
END_TEST

START_TEST(fraction_is_deterministic_and_close)
{
	struct sim_select a, b;
	ck_assert_int_eq(sim_select_parse(&a, "10%", 1), 0);
	ck_assert_int_eq(sim_select_parse(&b, "10%", 1), 0);
	unsigned n = 0;
	for (unsigned i = 0; i < 10000; i++) {
		ck_assert(sim_select_has(&a, i) == sim_select_has(&b, i));
		n += sim_select_has(&a, i);
	}
	ck_assert_uint_ge(n, 800);
	ck_assert_uint_le(n, 1200);
}
END_TEST

START_TEST(rejects_bad_syntax)
{
	struct sim_select s;
	static const char *const bad[] = {
		"", "x", "3-", "-3", "5-2", "1,,2", "1,", "101%", "-1%", "1.5", "3 4",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(sim_select_parse(&s, bad[i], 0) == -EINVAL, "accepted '%s'", bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sim-select");
	TCase *tc = tcase_create("select");
	tcase_add_test(tc, indices_and_ranges);
	tcase_add_test(tc, fraction_is_deterministic_and_close);
	tcase_add_test(tc, rejects_bad_syntax);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
