#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "edge_backoff.h"
#include "test_util.h"

/* Replays a fixed list of raw random values. */
struct script {
	const uint64_t *values;
	size_t n, next;
};

static uint64_t scripted(void *ud)
{
	struct script *s = ud;

	ck_assert_uint_lt(s->next, s->n);
	return s->values[s->next++];
}

START_TEST(rejects_bad_bounds)
{
	ck_assert_ptr_null(edge_backoff_new(0, 100));
	ck_assert_ptr_null(edge_backoff_new(200, 100));
	edge_backoff *b = edge_backoff_new(100, 100);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(edge_backoff_set_bounds(b, 0, 10), -EINVAL);
	ck_assert_int_eq(edge_backoff_set_bounds(b, 50, 10), -EINVAL);
	ck_assert_int_eq(edge_backoff_set_bounds(b, 10, 50), 0);
	edge_backoff_free(b);
	edge_backoff_free(NULL);
}
END_TEST

START_TEST(ceiling_doubles_then_saturates)
{
	ck_assert_uint_eq(edge_backoff_ceiling(200, 30000, 0), 200);
	ck_assert_uint_eq(edge_backoff_ceiling(200, 30000, 1), 400);
	ck_assert_uint_eq(edge_backoff_ceiling(200, 30000, 7), 25600);
	ck_assert_uint_eq(edge_backoff_ceiling(200, 30000, 8), 30000);
	ck_assert_uint_eq(edge_backoff_ceiling(200, 30000, 64), 30000);
	ck_assert_uint_eq(edge_backoff_ceiling(200, 30000, UINT64_MAX), 30000);
	ck_assert_uint_eq(edge_backoff_ceiling(UINT32_MAX, UINT32_MAX, UINT64_MAX),
			  UINT32_MAX);
	ck_assert_uint_eq(edge_backoff_ceiling(1, UINT32_MAX, 31), 1u << 31);
	ck_assert_uint_eq(edge_backoff_ceiling(1, UINT32_MAX, 32), UINT32_MAX);
	ck_assert_uint_eq(edge_backoff_ceiling(3, 3, 1000), 3);
}
END_TEST

START_TEST(delays_stay_within_the_growing_ceiling)
{
	uint64_t seed = 42;
	edge_backoff *b = edge_backoff_new(100, 10000);

	edge_backoff_set_random(b, edge_backoff_splitmix64, &seed);
	for (int round = 0; round < 3; round++) {
		for (uint64_t a = 0; a < 200; a++) {
			ck_assert_uint_eq(edge_backoff_attempts(b), a);
			uint32_t d = edge_backoff_next(b);
			ck_assert_uint_le(d, edge_backoff_ceiling(100, 10000, a));
		}
		edge_backoff_reset(b);
		ck_assert_uint_eq(edge_backoff_attempts(b), 0);
		ck_assert_uint_le(edge_backoff_next(b), 100);
		edge_backoff_reset(b);
	}
	edge_backoff_free(b);
}
END_TEST

START_TEST(internal_source_stays_within_bounds)
{
	edge_backoff *b = edge_backoff_new(5, 50);

	for (int i = 0; i < 1000; i++)
		ck_assert_uint_le(edge_backoff_next(b), 50);
	ck_assert_uint_eq(edge_backoff_attempts(b), 1000);
	edge_backoff_set_random(b, NULL, NULL); /* back to the internal one */
	ck_assert_uint_le(edge_backoff_next(b), 50);
	edge_backoff_free(b);
}
END_TEST

/* Full jitter: delays cover [0, ceiling] evenly, extremes included. */
START_TEST(distribution_is_uniform_over_the_full_range)
{
	enum { SAMPLES = 20000, BINS = 10 };
	uint64_t seed = 7;
	unsigned bins[BINS] = { 0 };
	uint32_t lo = UINT32_MAX, hi = 0;
	double sum = 0;
	edge_backoff *b = edge_backoff_new(1000, 1000);

	edge_backoff_set_random(b, edge_backoff_splitmix64, &seed);
	for (int i = 0; i < SAMPLES; i++) {
		uint32_t d = edge_backoff_next(b);
		ck_assert_uint_le(d, 1000);
		bins[d == 1000 ? BINS - 1 : d / 100]++;
		sum += d;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ck_assert_uint_le(lo, 5);
	ck_assert_uint_ge(hi, 995);
	ck_assert_double_ge(sum / SAMPLES, 480.0);
	ck_assert_double_le(sum / SAMPLES, 520.0);
	for (int i = 0; i < BINS; i++) {
		ck_assert_uint_ge(bins[i], SAMPLES / BINS * 8 / 10);
		ck_assert_uint_le(bins[i], SAMPLES / BINS * 12 / 10);
	}
	edge_backoff_free(b);
}
END_TEST

START_TEST(uniform_rejects_the_biased_tail)
{
	/* 2^64 - 1 is divisible by 3, so for bound 2 only UINT64_MAX itself
	 * falls in the partial block and must be redrawn. */
	const uint64_t values[] = { UINT64_MAX, 7 };
	struct script s = { values, 2, 0 };

	ck_assert_uint_eq(edge_backoff_uniform(scripted, &s, 2), 1);
	ck_assert_uint_eq(s.next, 2);

	const uint64_t zero[] = { 0 };
	struct script z = { zero, 1, 0 };
	ck_assert_uint_eq(edge_backoff_uniform(scripted, &z, 0), 0);

	const uint64_t any[] = { 12345 };
	struct script a = { any, 1, 0 };
	ck_assert_uint_eq(edge_backoff_uniform(scripted, &a, UINT64_MAX), 12345);
}
END_TEST

START_TEST(extremes_of_the_source_map_to_0_and_the_ceiling)
{
	const uint64_t values[] = { 0, 400, 401 * 3 - 1 };
	struct script s = { values, 3, 0 };
	edge_backoff *b = edge_backoff_new(100, 400);

	edge_backoff_set_random(b, scripted, &s);
	ck_assert_uint_eq(edge_backoff_next(b), 0);   /* ceiling 100 */
	ck_assert_uint_eq(edge_backoff_next(b), 400 % 201); /* ceiling 200 */
	ck_assert_uint_eq(edge_backoff_next(b), 400); /* ceiling 400 */
	edge_backoff_free(b);
}
END_TEST

START_TEST(many_attempts_do_not_overflow)
{
	uint64_t seed = 1;
	edge_backoff *b = edge_backoff_new(UINT32_MAX / 2, UINT32_MAX);

	edge_backoff_set_random(b, edge_backoff_splitmix64, &seed);
	for (int i = 0; i < 100000; i++)
		(void)edge_backoff_next(b);
	ck_assert_uint_eq(edge_backoff_attempts(b), 100000);
	edge_backoff_free(b);
}
END_TEST

TCase *test_backoff_tcase(void)
{
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, rejects_bad_bounds);
	tcase_add_test(tc, ceiling_doubles_then_saturates);
	tcase_add_test(tc, delays_stay_within_the_growing_ceiling);
	tcase_add_test(tc, internal_source_stays_within_bounds);
	tcase_add_test(tc, distribution_is_uniform_over_the_full_range);
	tcase_add_test(tc, uniform_rejects_the_biased_tail);
	tcase_add_test(tc, extremes_of_the_source_map_to_0_and_the_ceiling);
	tcase_add_test(tc, many_attempts_do_not_overflow);
	return tc;
}
