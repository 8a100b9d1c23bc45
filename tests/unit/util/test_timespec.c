#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "edge_timespec.h"
#include "test_util.h"

/* 2026-12-06T12:00:00Z */
#define NOW 1796558400000LL

static int64_t ok(const char *text)
{
	int64_t t = -1;
	const char *why = NULL;
	int rc = edge_timespec_parse(text, NOW, &t, &why);

	ck_assert_msg(rc == 0, "'%s' refused: %s", text, why);
	ck_assert_str_eq(why, "");
	return t;
}

static void bad(const char *text, int want_rc, const char *want_why)
{
	int64_t t = 42;
	const char *why = NULL;
	int rc = edge_timespec_parse(text, NOW, &t, &why);

	ck_assert_msg(rc == want_rc, "'%s': rc %d, want %d (%s)", text, rc, want_rc, why);
	ck_assert_msg(why && strstr(why, want_why), "'%s': reason '%s', want '%s'", text, why,
		      want_why);
	ck_assert_int_eq(t, 42); /* untouched */
}

START_TEST(now_and_durations)
{
	ck_assert_int_eq(ok("now"), NOW);
	ck_assert_int_eq(ok("24h"), NOW - 24 * 3600000LL);
	ck_assert_int_eq(ok("-24h"), NOW - 24 * 3600000LL);
	ck_assert_int_eq(ok("7d"), NOW - 7 * 86400000LL);
	ck_assert_int_eq(ok("30m"), NOW - 30 * 60000LL);
	ck_assert_int_eq(ok("90s"), NOW - 90000LL);
	ck_assert_int_eq(ok("2w"), NOW - 14 * 86400000LL);
	ck_assert_int_eq(ok("0s"), NOW);
}
END_TEST

START_TEST(iso_dates_and_times)
{
	ck_assert_int_eq(ok("1970-01-01"), 0);
	ck_assert_int_eq(ok("2026-12-01"), 1796083200000LL);
	ck_assert_int_eq(ok("2026-12-01T10:00"), 1796083200000LL + 10 * 3600000LL);
	ck_assert_int_eq(ok("2026-12-01 10:00"), 1796083200000LL + 10 * 3600000LL);
	ck_assert_int_eq(ok("2026-12-01T10:00:00Z"), 1796083200000LL + 10 * 3600000LL);
	ck_assert_int_eq(ok("2026-12-01T10:00:05.25Z"), 1796083200000LL + 36005250LL);
	ck_assert_int_eq(ok("2026-12-01T10:00:05.123456Z"), 1796083200000LL + 36005123LL);
	/* 10:00 at +01:00 is 09:00 UTC. */
	ck_assert_int_eq(ok("2026-12-01T10:00+01:00"), 1796083200000LL + 9 * 3600000LL);
	ck_assert_int_eq(ok("2026-12-01T10:00:00+0100"), 1796083200000LL + 9 * 3600000LL);
	ck_assert_int_eq(ok("2026-12-01T10:00:00-05"), 1796083200000LL + 15 * 3600000LL);
	ck_assert_int_eq(ok("2024-02-29"), 1709164800000LL);
	ck_assert_int_eq(ok("2000-02-29T23:59:59Z"), 951868799000LL);
	ck_assert_int_eq(ok("9999-12-31T23:59:59Z"), 253402300799000LL);
	ck_assert_int_eq(edge_timespec_days_from_civil(2026, 12, 6), 20793);
}
END_TEST

START_TEST(bad_inputs_say_why)
{
	bad("", -EINVAL, "empty");
	bad("yesterday", -EINVAL, "not a date");
	bad("-", -EINVAL, "not a date");
	bad("24", -EINVAL, "without a unit");
	bad("24y", -EINVAL, "unknown duration unit");
	bad("24hours", -EINVAL, "text after the duration");
	bad(" 24h", -EINVAL, "not a date");
	bad("99999999999999999999s", -ERANGE, "too long");
	bad("100000w", -ERANGE, "before 1970");
	bad("2026-1-01", -EINVAL, "bad date");
	bad("2026-13-01", -EINVAL, "no such date");
	bad("2026-02-29", -EINVAL, "no such date");
	bad("1900-02-29", -EINVAL, "no such date");
	bad("2026-04-31", -EINVAL, "no such date");
	bad("2026-12-00", -EINVAL, "no such date");
	bad("1969-12-31", -ERANGE, "before 1970");
	bad("1970-01-01T00:30+01:00", -ERANGE, "before 1970");
	bad("2026-12-01T25:00", -EINVAL, "no such time");
	bad("2026-12-01T24:00", -EINVAL, "no such time");
	bad("2026-12-01T10:60", -EINVAL, "no such time");
	bad("2026-12-01T10:00:60", -EINVAL, "no such time");
	bad("2026-12-01T10", -EINVAL, "bad time of day");
	bad("2026-12-01T10:0", -EINVAL, "bad time of day");
	bad("2026-12-01T10:00:5", -EINVAL, "bad seconds");
	bad("2026-12-01T10:00:00.", -EINVAL, "no digits");
	bad("2026-12-01T10:00:00+1", -EINVAL, "bad UTC offset");
	bad("2026-12-01T10:00:00+01:0", -EINVAL, "bad UTC offset");
	bad("2026-12-01T10:00:00+24:00", -EINVAL, "offset out of range");
	bad("2026-12-01T10:00:00+01:00x", -EINVAL, "after the UTC offset");
	bad("2026-12-01T10:00:00Zx", -EINVAL, "text after the time");
	bad("2026-12-01x", -EINVAL, "text after the time");
	bad("2026-12-01T10:00 UTC", -EINVAL, "text after the time");
	bad("9999-12-31T23:00-01:00", -ERANGE, "after 9999");
}
END_TEST

TCase *test_timespec_tcase(void)
{
	TCase *tc = tcase_create("timespec");

	tcase_add_test(tc, now_and_durations);
	tcase_add_test(tc, iso_dates_and_times);
	tcase_add_test(tc, bad_inputs_say_why);
	return tc;
}
