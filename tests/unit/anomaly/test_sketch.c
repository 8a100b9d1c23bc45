/* Suite 'anomaly-sketch': the score sketch. Quantiles of known
 * distributions within the stated relative accuracy of the true order
 * statistic, merge equal to the sketch of the union, the bin bound, the blob
 * round trip and every kind of malformed blob refused. */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edge_score_sketch.h"
#include "test_run.h"

/* Deterministic PRNG (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double uniform01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct edge_score_sketch *sketch_new(void)
{
	struct edge_score_sketch *s = malloc(sizeof *s);

	ck_assert_ptr_nonnull(s);
	edge_score_sketch_init(s);
	return s;
}

/* Every quantile of v[0..n) (sorted here) within accuracy of its rank. */
static void check_quantiles(const struct edge_score_sketch *s, double *v, size_t n)
{
	static const double qs[] = { 0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1 };

	qsort(v, n, sizeof v[0], cmp_double);
	ck_assert_uint_eq(s->count, n);
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		double truth = v[(size_t)floor(qs[i] * (double)(n - 1))];
		double est = edge_score_sketch_quantile(s, qs[i]);
		double tol = EDGE_SCORE_SKETCH_ACCURACY * fabs(truth) * (1 + 1e-9) +
			     EDGE_SCORE_SKETCH_MIN_VALUE;

		ck_assert_msg(fabs(est - truth) <= tol, "q=%g: %.9g, true %.9g", qs[i], est, truth);
	}
}

static void fill(struct edge_score_sketch *s, double *v, size_t n, double (*gen)(size_t))
{
	for (size_t i = 0; i < n; i++) {
		v[i] = gen(i);
		ck_assert_int_eq(edge_score_sketch_add(s, v[i], 1), 0);
	}
}

static double gen_uniform(size_t i)
{
	(void)i;
	return 0.001 + uniform01() * 5; /* within the bins' 2.7e4 span */
}

static double gen_lognormal(size_t i)
{
	double u1 = uniform01() + 1e-12, u2 = uniform01();

	(void)i;
	return exp(0.5 + 1.0 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

/* Scores around a threshold: negatives, exact zeros and positives. */
static double gen_mixed(size_t i)
{
	double u = uniform01();

	if (i % 17 == 0)
		return 0;
	return u < 0.3 ? -(0.01 + u * 30) : 0.01 + (u - 0.3) * 20;
}

static double gen_integers(size_t i)
{
	return (double)(i % 100 + 1);
}

START_TEST(quantiles_within_accuracy)
{
	double (*gens[])(size_t) = { gen_uniform, gen_lognormal, gen_mixed, gen_integers };
	const size_t n = 20000;
	double *v = malloc(n * sizeof *v);

	for (size_t g = 0; g < sizeof gens / sizeof gens[0]; g++) {
		struct edge_score_sketch *s = sketch_new();

		fill(s, v, n, gens[g]);
		check_quantiles(s, v, n);
		free(s);
	}
	free(v);
}
END_TEST

START_TEST(single_values_and_empty)
{
	struct edge_score_sketch *s = sketch_new();

	ck_assert(edge_score_sketch_quantile(s, 0.5) == 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 0.8731, 3), 0);
	ck_assert_uint_eq(s->count, 3);
	ck_assert(fabs(edge_score_sketch_quantile(s, 0.99) - 0.8731) <= 0.01 * 0.8731);
	ck_assert(fabs(edge_score_sketch_quantile(s, 0) - 0.8731) <= 0.01 * 0.8731);
	ck_assert_int_eq(edge_score_sketch_add(s, NAN, 1), -EINVAL);
	ck_assert_int_eq(edge_score_sketch_add(s, INFINITY, 1), -EINVAL);
	ck_assert_int_eq(edge_score_sketch_add(s, -INFINITY, 1), -EINVAL);
	ck_assert_int_eq(edge_score_sketch_add(s, 1, UINT64_MAX), -EINVAL);
	ck_assert_uint_eq(s->count, 3);
	/* The extremes of double still land in a bin. */
	ck_assert_int_eq(edge_score_sketch_add(s, 1.7e308, 1), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, -1.7e308, 1), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 1e-300, 1), 0);
	ck_assert_uint_eq(s->count, 6);
	ck_assert(edge_score_sketch_quantile(s, 0) < -1e307);
	free(s);
}
END_TEST

START_TEST(merge_is_the_sketch_of_the_union)
{
	struct edge_score_sketch *a = sketch_new(), *b = sketch_new(), *all = sketch_new();
	uint8_t *ba = malloc(EDGE_SCORE_SKETCH_BLOB_MAX), *bb = malloc(EDGE_SCORE_SKETCH_BLOB_MAX);
	const size_t n = 5000;
	double *v = malloc(n * sizeof *v);
	int la, lb;

	for (size_t i = 0; i < n; i++) {
		v[i] = gen_mixed(i);
		ck_assert_int_eq(edge_score_sketch_add(i % 3 ? a : b, v[i], 1), 0);
		ck_assert_int_eq(edge_score_sketch_add(all, v[i], 1), 0);
	}
	ck_assert_int_eq(edge_score_sketch_merge(a, b), 0);
	la = edge_score_sketch_encode(a, ba, EDGE_SCORE_SKETCH_BLOB_MAX);
	lb = edge_score_sketch_encode(all, bb, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_gt(la, 0);
	ck_assert_int_eq(la, lb);
	ck_assert(memcmp(ba, bb, (size_t)la) == 0);
	check_quantiles(a, v, n);
	free(a);
	free(b);
	free(all);
	free(ba);
	free(bb);
	free(v);
}
END_TEST

START_TEST(bins_are_bounded_and_high_quantiles_kept)
{
	struct edge_score_sketch *s = sketch_new(), *t = sketch_new();
	const size_t n = 40000;
	double *v = malloc(n * sizeof *v);

	/* 1e-8 .. 1e8: far wider than 512 bins cover. */
	for (size_t i = 0; i < n; i++) {
		v[i] = pow(10, -8 + 16 * uniform01());
		ck_assert_int_eq(edge_score_sketch_add(s, v[i], 1), 0);
		ck_assert_int_eq(edge_score_sketch_add(t, -v[i], 1), 0);
	}
	ck_assert_uint_le(s->pos.len, EDGE_SCORE_SKETCH_MAX_BINS);
	ck_assert_uint_le(t->neg.len, EDGE_SCORE_SKETCH_MAX_BINS);
	ck_assert_uint_eq(s->count, n);
	qsort(v, n, sizeof v[0], cmp_double);
	{
		const double qs[] = { 0.9, 0.99, 1 };

		for (unsigned i = 0; i < 3; i++) {
			double truth = v[(size_t)floor(qs[i] * (double)(n - 1))];
			double est = edge_score_sketch_quantile(s, qs[i]);

			ck_assert_msg(fabs(est - truth) <= 0.0100001 * truth, "q %g: %g vs %g",
				      qs[i], est, truth);
		}
	}
	/* Merging keeps the bound too. */
	ck_assert_int_eq(edge_score_sketch_merge(s, t), 0);
	ck_assert_uint_le(s->pos.len, EDGE_SCORE_SKETCH_MAX_BINS);
	ck_assert_uint_le(s->neg.len, EDGE_SCORE_SKETCH_MAX_BINS);
	ck_assert_uint_eq(s->count, 2 * n);
	free(s);
	free(t);
	free(v);
}
END_TEST

START_TEST(blob_round_trip)
{
	struct edge_score_sketch *s = sketch_new(), *d = sketch_new();
	uint8_t *b1 = malloc(EDGE_SCORE_SKETCH_BLOB_MAX), *b2 = malloc(EDGE_SCORE_SKETCH_BLOB_MAX);
	int l1, l2;

	/* Empty. */
	l1 = edge_score_sketch_encode(s, b1, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_eq(l1, 5);
	ck_assert_int_eq(edge_score_sketch_decode(d, b1, (size_t)l1), 0);
	ck_assert_uint_eq(d->count, 0);
	for (size_t i = 0; i < 3000; i++)
		ck_assert_int_eq(edge_score_sketch_add(s, gen_mixed(i), 1 + i % 3), 0);
	l1 = edge_score_sketch_encode(s, b1, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_gt(l1, 0);
	ck_assert_int_eq(edge_score_sketch_encode(s, b1, (size_t)l1 - 1), -ENOSPC);
	l1 = edge_score_sketch_encode(s, b1, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_eq(edge_score_sketch_decode(d, b1, (size_t)l1), 0);
	ck_assert_uint_eq(d->count, s->count);
	ck_assert_uint_eq(d->zero, s->zero);
	l2 = edge_score_sketch_encode(d, b2, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_eq(l1, l2);
	ck_assert(memcmp(b1, b2, (size_t)l1) == 0);
	for (double q = 0; q <= 1; q += 0.05)
		ck_assert(edge_score_sketch_quantile(d, q) == edge_score_sketch_quantile(s, q));
	free(s);
	free(d);
	free(b1);
	free(b2);
}
END_TEST

static void assert_bad(const void *blob, size_t len)
{
	struct edge_score_sketch *d = malloc(sizeof *d);

	memset(d, 0xa5, sizeof *d); /* decode must not trust what it replaces */
	ck_assert_int_eq(edge_score_sketch_decode(d, blob, len), -EINVAL);
	ck_assert_uint_eq(d->count, 0);
	ck_assert_uint_eq(d->pos.len, 0);
	ck_assert_uint_eq(d->neg.len, 0);
	free(d);
}

START_TEST(malformed_blobs_refused)
{
	struct edge_score_sketch *s = sketch_new(), *d = sketch_new();
	uint8_t good[64], *b = malloc(EDGE_SCORE_SKETCH_BLOB_MAX);
	int len;

	ck_assert_int_eq(edge_score_sketch_add(s, 0.5, 2), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 2.0, 1), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, -1.0, 1), 0);
	len = edge_score_sketch_encode(s, good, sizeof good);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(edge_score_sketch_decode(d, good, (size_t)len), 0);
	/* Every truncation, and a trailing byte. */
	for (int i = 0; i < len; i++)
		assert_bad(good, (size_t)i);
	memcpy(b, good, (size_t)len);
	b[len] = 0;
	assert_bad(b, (size_t)len + 1);
	assert_bad(NULL, 0);
	/* Version, flags. */
	{
		const uint8_t v2[] = { 2, 0, 0, 0, 0 }, fl[] = { 1, 1, 0, 0, 0 };

		assert_bad(v2, sizeof v2);
		assert_bad(fl, sizeof fl);
	}
	/* A zero count; a key step of 0 (not ascending); a key out of range. */
	{
		const uint8_t zero_count[] = { 1, 0, 0, 1, 2, 0, 0 };
		const uint8_t same_key[] = { 1, 0, 0, 2, 2, 1, 0, 1, 0 };
		const uint8_t far_key[] = { 1, 0, 0, 1, 0xff, 0xff, 0x03, 1, 0 };
		const uint8_t too_wide[] = { 1, 0, 0, 2, 0, 1, 0x80, 0x04, 1, 0 }; /* step 512 */
		const uint8_t many_bins[] = { 1, 0, 0, 0x81, 0x04, 0 };            /* 513 bins */
		const uint8_t long_varint[] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0 };
		const uint8_t overflow[] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0x01, 1, 0, 1, 0 };

		assert_bad(zero_count, sizeof zero_count);
		assert_bad(same_key, sizeof same_key);
		assert_bad(far_key, sizeof far_key);
		assert_bad(too_wide, sizeof too_wide);
		assert_bad(many_bins, sizeof many_bins);
		assert_bad(long_varint, sizeof long_varint);
		assert_bad(overflow, sizeof overflow);
	}
	/* Random bytes after a valid header: refused or read, never a crash. */
	for (int round = 0; round < 2000; round++) {
		size_t n = 3 + (size_t)(uniform01() * 40);

		b[0] = 1;
		b[1] = 0;
		for (size_t i = 2; i < n; i++)
			b[i] = (uint8_t)(uniform01() * 256);
		if (edge_score_sketch_decode(d, b, n) == 0)
			ck_assert_uint_le(d->pos.len, EDGE_SCORE_SKETCH_MAX_BINS);
	}
	free(s);
	free(d);
	free(b);
}
END_TEST

START_TEST(merge_blob_and_reset)
{
	struct edge_score_sketch *a = sketch_new(), *b = sketch_new(), *c = sketch_new();
	uint8_t *blob = malloc(EDGE_SCORE_SKETCH_BLOB_MAX);
	uint8_t *b1 = malloc(EDGE_SCORE_SKETCH_BLOB_MAX), *b2 = malloc(EDGE_SCORE_SKETCH_BLOB_MAX);
	const uint8_t bad[] = { 1, 0, 0, 2, 2, 1, 0, 1, 0 };
	int len, l1, l2;

	for (size_t i = 0; i < 4000; i++) {
		ck_assert_int_eq(edge_score_sketch_add(i % 2 ? a : b, gen_mixed(i), 1), 0);
		ck_assert_int_eq(edge_score_sketch_add(c, i % 2 ? 0.5 : 1.5, 1), 0);
	}
	len = edge_score_sketch_encode(b, blob, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_gt(len, 0);
	/* merge_blob(a, blob(b)) is merge(a, b). */
	ck_assert_int_eq(edge_score_sketch_merge_blob(c, blob, (size_t)len), 0);
	edge_score_sketch_reset(c);
	ck_assert_uint_eq(c->count, 0);
	ck_assert_uint_eq(c->pos.len + c->neg.len, 0);
	ck_assert_int_eq(edge_score_sketch_merge(c, a), 0);
	ck_assert_int_eq(edge_score_sketch_merge_blob(c, blob, (size_t)len), 0);
	ck_assert_int_eq(edge_score_sketch_merge(a, b), 0);
	l1 = edge_score_sketch_encode(a, b1, EDGE_SCORE_SKETCH_BLOB_MAX);
	l2 = edge_score_sketch_encode(c, b2, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_eq(l1, l2);
	ck_assert(memcmp(b1, b2, (size_t)l1) == 0);
	/* A bad blob, or a truncated one, leaves dst as it was. */
	ck_assert_int_eq(edge_score_sketch_merge_blob(c, bad, sizeof bad), -EINVAL);
	ck_assert_int_eq(edge_score_sketch_merge_blob(c, blob, (size_t)len - 1), -EINVAL);
	l2 = edge_score_sketch_encode(c, b2, EDGE_SCORE_SKETCH_BLOB_MAX);
	ck_assert_int_eq(l1, l2);
	ck_assert(memcmp(b1, b2, (size_t)l1) == 0);
	free(a);
	free(b);
	free(c);
	free(blob);
	free(b1);
	free(b2);
}
END_TEST

/* ---- bins_out: the sketch as (value, count) bins for a KS test ---- */

#define BINS_CAP (2 * EDGE_SCORE_SKETCH_MAX_BINS + 1)

static void assert_near(double got, double want)
{
	ck_assert_msg(fabs(got - want) <= EDGE_SCORE_SKETCH_ACCURACY * fabs(want) * (1 + 1e-9),
		      "%.9g, want %.9g", got, want);
}

START_TEST(bins_out_mixed_signs_ascending)
{
	struct edge_score_sketch *s = sketch_new();
	double v[BINS_CAP], few[3] = { -1, -1, 42 };
	uint64_t c[BINS_CAP], few_c[3] = { 0, 0, 42 };
	size_t n;

	ck_assert_uint_eq(edge_score_sketch_bins_out(s, v, c, BINS_CAP), 0);
	ck_assert_uint_eq(edge_score_sketch_bins_out(s, NULL, NULL, 0), 0);
	/* Added out of order; 1e-12 is below MIN_VALUE and counts as zero. */
	ck_assert_int_eq(edge_score_sketch_add(s, 5.0, 1), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, -0.5, 1), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 0.0, 3), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 0.5, 4), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, -5.0, 2), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 1e-12, 1), 0);
	n = edge_score_sketch_bins_out(s, v, c, BINS_CAP);
	ck_assert_uint_eq(n, 5);
	assert_near(v[0], -5.0);
	ck_assert_uint_eq(c[0], 2);
	assert_near(v[1], -0.5);
	ck_assert_uint_eq(c[1], 1);
	ck_assert(v[2] == 0);
	ck_assert_uint_eq(c[2], 4);
	assert_near(v[3], 0.5);
	ck_assert_uint_eq(c[3], 4);
	assert_near(v[4], 5.0);
	ck_assert_uint_eq(c[4], 1);
	/* cap short: exactly cap bins written, the full number returned. */
	ck_assert_uint_eq(edge_score_sketch_bins_out(s, few, few_c, 2), 5);
	assert_near(few[0], -5.0);
	ck_assert_uint_eq(few_c[0], 2);
	assert_near(few[1], -0.5);
	ck_assert_uint_eq(few_c[1], 1);
	ck_assert(few[2] == 42);
	ck_assert_uint_eq(few_c[2], 42);
	ck_assert_uint_eq(edge_score_sketch_bins_out(s, NULL, NULL, 0), 5);
	/* Without zeros: no zero bin. */
	edge_score_sketch_reset(s);
	ck_assert_int_eq(edge_score_sketch_add(s, -2.0, 1), 0);
	ck_assert_int_eq(edge_score_sketch_add(s, 3.0, 1), 0);
	ck_assert_uint_eq(edge_score_sketch_bins_out(s, v, c, BINS_CAP), 2);
	ck_assert(v[0] < 0 && v[1] > 0);
	free(s);
}
END_TEST

/* Random mixed scores: bins strictly increasing, counts summing to the
 * sketch's, and each quantile the value of the bin its rank falls in. */
START_TEST(bins_out_agree_with_quantile)
{
	static const double qs[] = { 0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1 };
	struct edge_score_sketch *s = sketch_new();
	double *v = malloc(BINS_CAP * sizeof *v);
	uint64_t *c = malloc(BINS_CAP * sizeof *c), sum = 0;
	size_t n, zero_bins = 0;

	for (size_t i = 0; i < 20000; i++)
		ck_assert_int_eq(edge_score_sketch_add(s, gen_mixed(i), 1), 0);
	n = edge_score_sketch_bins_out(s, v, c, BINS_CAP);
	ck_assert_uint_gt(n, 100);
	ck_assert_uint_le(n, BINS_CAP);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_gt(c[i], 0);
		ck_assert(isfinite(v[i]));
		if (i)
			ck_assert_msg(v[i] > v[i - 1], "bin %zu: %.17g after %.17g", i, v[i],
				      v[i - 1]);
		zero_bins += v[i] == 0;
		sum += c[i];
	}
	ck_assert_uint_eq(zero_bins, 1);
	ck_assert_uint_eq(sum, s->count);
	for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
		uint64_t rank = (uint64_t)floor(qs[k] * (double)(s->count - 1)), seen = 0;
		size_t i = 0;

		while ((seen += c[i]) <= rank)
			i++;
		ck_assert_msg(edge_score_sketch_quantile(s, qs[k]) == v[i], "q %g", qs[k]);
	}
	free(s);
	free(v);
	free(c);
}
END_TEST

static size_t put_varint(uint8_t *p, uint64_t x)
{
	size_t n = 0;

	do {
		p[n] = (uint8_t)(x & 0x7f);
		x >>= 7;
		if (x)
			p[n] |= 0x80;
		n++;
	} while (x);
	return n;
}

/* The topmost keys a blob may hold all stand for DBL_MAX (exp overflows):
 * they come out as one bin, so values stay strictly increasing. */
START_TEST(bins_out_folds_equal_representatives)
{
	struct edge_score_sketch *s = sketch_new();
	uint8_t blob[64];
	size_t len = 0;
	double v[4];
	uint64_t c[4];

	blob[len++] = EDGE_SCORE_SKETCH_VERSION;
	blob[len++] = 0;
	len += put_varint(blob + len, 1);         /* zero count */
	len += put_varint(blob + len, 2);         /* positive bins */
	len += put_varint(blob + len, 2 * 35499); /* zigzag(35499) */
	len += put_varint(blob + len, 1);
	len += put_varint(blob + len, 1);         /* key 35500 */
	len += put_varint(blob + len, 2);
	len += put_varint(blob + len, 2);         /* negative bins, mirrored */
	len += put_varint(blob + len, 2 * 35499);
	len += put_varint(blob + len, 5);
	len += put_varint(blob + len, 1);
	len += put_varint(blob + len, 7);
	ck_assert_int_eq(edge_score_sketch_decode(s, blob, len), 0);
	ck_assert_uint_eq(s->count, 16);
	ck_assert_uint_eq(edge_score_sketch_bins_out(s, v, c, 4), 3);
	ck_assert(v[0] == -DBL_MAX);
	ck_assert_uint_eq(c[0], 12);
	ck_assert(v[1] == 0);
	ck_assert_uint_eq(c[1], 1);
	ck_assert(v[2] == DBL_MAX);
	ck_assert_uint_eq(c[2], 3);
	/* Folding into a bin past cap writes nothing beyond it. */
	c[1] = 99;
	ck_assert_uint_eq(edge_score_sketch_bins_out(s, v, c, 1), 3);
	ck_assert_uint_eq(c[0], 12);
	ck_assert_uint_eq(c[1], 99);
	free(s);
}
END_TEST

static Suite *sketch_suite(void)
{
	Suite *s = suite_create("anomaly-sketch");
	TCase *tc = tcase_create("sketch");

	tcase_add_test(tc, quantiles_within_accuracy);
	tcase_add_test(tc, single_values_and_empty);
	tcase_add_test(tc, merge_is_the_sketch_of_the_union);
	tcase_add_test(tc, bins_are_bounded_and_high_quantiles_kept);
	tcase_add_test(tc, blob_round_trip);
	tcase_add_test(tc, malformed_blobs_refused);
	tcase_add_test(tc, merge_blob_and_reset);
	tcase_add_test(tc, bins_out_mixed_signs_ascending);
	tcase_add_test(tc, bins_out_agree_with_quantile);
	tcase_add_test(tc, bins_out_folds_equal_representatives);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sketch_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
