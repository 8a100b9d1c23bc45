#include <check.h>
#include <errno.h>
#include <string.h>

#include "edge_error.h"
#include "edge_time.h"
#include "test_util.h"

START_TEST(every_edge_code_has_its_own_message)
{
	static const struct {
		int code;
		const char *text;
	} expected[] = {
		{ EDGE_ECONFIG, "invalid configuration" },
		{ EDGE_ESTORE, "database error" },
		{ EDGE_ESCHEMA, "database schema is newer than this edged" },
		{ EDGE_ECORRUPT, "database failed its integrity check" },
		{ EDGE_ELIMIT, "configured limit reached" },
		{ EDGE_EPROTO, "malformed message" },
		{ EDGE_ENOTFOUND, "not found" },
		{ EDGE_ESTATE, "not allowed in the current state" },
		{ EDGE_ECLOSED, "shutting down" },
		{ EDGE_ETOOBIG, "too large" },
		{ EDGE_EAUTH, "not authorised" },
	};
	size_t n = sizeof expected / sizeof expected[0];

	/* The list covers every code up to EDGE_ELAST. */
	ck_assert_int_eq((int)n, -(EDGE_ELAST + EDGE_EBASE) - 1);
	for (int code = EDGE_ECONFIG; code > EDGE_ELAST; code--) {
		const char *s = edge_strerror(code);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s, expected[-(code + EDGE_EBASE) - 1].text);
		ck_assert_int_eq(expected[-(code + EDGE_EBASE) - 1].code, code);
	}
}
END_TEST

START_TEST(errno_codes_and_unknown_codes)
{
	ck_assert_str_eq(edge_strerror(0), "success");
	ck_assert_str_eq(edge_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_str_eq(edge_strerror(-ENOMEM), strerror(ENOMEM));
	ck_assert_str_eq(edge_strerror(-EINVAL), strerror(EINVAL));
	ck_assert_str_eq(edge_strerror(EDGE_ELAST), "unknown error");
	ck_assert_str_eq(edge_strerror(-EDGE_EBASE), "unknown error");
	ck_assert_str_eq(edge_strerror(5), "unknown error");
	ck_assert_str_eq(edge_strerror(-2000000000), "unknown error");
	ck_assert_ptr_nonnull(edge_strerror(-9999));
}
END_TEST

START_TEST(monotonic_clock_does_not_go_back)
{
	uint64_t prev = edge_time_monotonic_ms();

	for (int i = 0; i < 1000; i++) {
		uint64_t now = edge_time_monotonic_ms();
		ck_assert_uint_ge(now, prev);
		prev = now;
	}
}
END_TEST

TCase *test_error_tcase(void)
{
	TCase *tc = tcase_create("error");

	tcase_add_test(tc, every_edge_code_has_its_own_message);
	tcase_add_test(tc, errno_codes_and_unknown_codes);
	tcase_add_test(tc, monotonic_clock_does_not_go_back);
	return tc;
}
