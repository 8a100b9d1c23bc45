/* Suite 'rollout-health': the binomial tail against exact values, the
 * conditional Poisson rate test (halt needs both p < alpha and the ratio
 * bound; too little data says so), the binned KS test (D, critical value,
 * p-value, the D bound), refused inputs, the combined verdict and its
 * reason, and by Monte Carlo: the false-alarm rate with equal rates and
 * scores stays within alpha, and a 3x rate raise on a realistic canary
 * halts in nearly every trial. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "edge_rollout_health.h"
#include "test_run.h"

/* Relative comparison for p-values spanning many decades. */
#define ck_assert_rel(got, want, rel)                                                           \
	ck_assert_msg(fabs((got) - (want)) <= (rel) * fabs(want), "%s = %.17g, want %.17g", #got, \
		      (double)(got), (double)(want))

/* ---- the binomial tail ---- */

START_TEST(binom_exact_values)
{
	/* Expected values: Python, exact rationals, e.g.
	 *   sum(comb(n, j) * p**j * (1 - p)**(n - j) for j in range(k, n + 1))
	 * with p a Fraction, converted to float once at the end. */
	ck_assert_rel(edge_health_binom_sf(10, 10, 0.5), 0.0009765625, 1e-12);
	ck_assert_rel(edge_health_binom_sf(30, 40, 0.5), 0.0011107168866146822, 1e-12);
	ck_assert_rel(edge_health_binom_sf(5, 100, 0.01), 0.0034323215877545151, 1e-12);
	ck_assert_rel(edge_health_binom_sf(20, 20, 0.5), 9.5367431640625e-07, 1e-12);
	ck_assert_rel(edge_health_binom_sf(72, 240, 0.125), 6.698673055070029e-13, 1e-11);
	ck_assert_rel(edge_health_binom_sf(40, 240, 0.125), 0.035675485506533405, 1e-11);
	ck_assert_rel(edge_health_binom_sf(25, 60, 0.2), 0.0001049518026084603, 1e-12);
	ck_assert_rel(edge_health_binom_sf(1100, 2000, 0.5), 4.2285447677519634e-06, 1e-10);
	/* Large n (exact integer sums in Python, ~4 s): lgamma's error grows
	 * with n, still far below what a decision at alpha needs. */
	ck_assert_rel(edge_health_binom_sf(50500, 100000, 0.5), 0.00079117993942579782, 1e-8);
	ck_assert_rel(edge_health_binom_sf(3150, 10000, 0.3), 0.00057955127957020594, 1e-9);
	/* Below the mode: 1 - the lower tail. */
	ck_assert_rel(edge_health_binom_sf(3, 10, 0.5), 0.9453125, 1e-14);
	ck_assert_rel(edge_health_binom_sf(2950, 10000, 0.3), 0.86483849131398827, 1e-9);
	/* Edges. */
	ck_assert_double_eq(edge_health_binom_sf(0, 10, 0.3), 1);
	ck_assert_double_eq(edge_health_binom_sf(11, 10, 0.3), 0);
	ck_assert_double_eq(edge_health_binom_sf(1, 10, 0), 0);
	ck_assert_double_eq(edge_health_binom_sf(10, 10, 1), 1);
	/* Far tail: tiny but positive, never NaN. */
	ck_assert(edge_health_binom_sf(1000, 1000, 0.01) == 0 ||
		  edge_health_binom_sf(1000, 1000, 0.01) < 1e-300);
	ck_assert(!isnan(edge_health_binom_sf(999999, 1000000, 0.5)));
}
END_TEST

/* ---- the rate test ---- */

static struct edge_health_rate rate(uint64_t kn, double tn, uint64_t kb, double tb, double alpha)
{
	struct edge_health_rate r;

	ck_assert_int_eq(edge_health_rate_test(kn, tn, kb, tb, alpha, 1.5, 1.0, &r), 0);
	return r;
}

START_TEST(rate_test_decisions)
{
	struct edge_health_rate r;

	/* Equal exposure, 30 vs 10: p = P(Bin(40, 1/2) >= 30), above. */
	r = rate(30, 100, 10, 100, 0.01);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_HALT);
	ck_assert_rel(r.p_value, 0.0011107168866146822, 1e-12);
	ck_assert_double_eq_tol(r.ratio, 3.0, 1e-12);
	ck_assert_double_eq_tol(r.rate_new, 0.3, 1e-12);
	/* The same numbers at alpha 0.001 are not enough. */
	ck_assert_int_eq(rate(30, 100, 10, 100, 0.001).verdict, EDGE_HEALTH_PASS);

	/* A 10-node, 24 h canary (240 node-h) against its own 7 days
	 * (1680 node-h): p0 = 1/8. */
	r = rate(72, 240, 168, 1680, 0.001);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_HALT);
	ck_assert_rel(r.p_value, 6.698673055070029e-13, 1e-11);
	r = rate(40, 240, 200, 1680, 0.001);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_PASS);
	ck_assert_rel(r.p_value, 0.035675485506533405, 1e-11);

	/* Significant but small: x1.2 on a big fleet is not a halt. */
	r = rate(12000, 1000, 10000, 1000, 0.001);
	ck_assert(r.p_value < 1e-30);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_PASS);

	/* Fewer events on the new side: never a halt. */
	r = rate(5, 100, 50, 100, 0.001);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_PASS);
	ck_assert(r.p_value > 0.99);

	/* No baseline events: ratio infinite, p = 0.5^20. */
	r = rate(20, 10, 0, 10, 0.001);
	ck_assert(isinf(r.ratio));
	ck_assert_rel(r.p_value, 9.5367431640625e-07, 1e-12);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_HALT);
}
END_TEST

START_TEST(rate_test_insufficient)
{
	struct edge_health_rate r;

	/* No events at all: nothing could have halted. */
	r = rate(0, 240, 0, 1680, 0.001);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_INSUFFICIENT);
	ck_assert(isnan(r.ratio));
	ck_assert_double_eq(r.p_value, 1);
	/* 3 events, all new, equal exposure: best p = 1/8 >= alpha. */
	ck_assert_int_eq(rate(3, 10, 0, 10, 0.001).verdict, EDGE_HEALTH_INSUFFICIENT);
	/* 10 events: best p = 1/1024 < 0.001, so it is a real test. */
	ck_assert_int_eq(rate(10, 10, 0, 10, 0.001).verdict, EDGE_HEALTH_HALT);
	ck_assert_int_eq(rate(0, 10, 10, 10, 0.001).verdict, EDGE_HEALTH_PASS);
	/* Exposure below the minimum on either side; absent baseline. */
	ck_assert_int_eq(rate(50, 0.5, 5, 100, 0.001).verdict, EDGE_HEALTH_INSUFFICIENT);
	r = rate(50, 100, 0, 0, 0.001);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_INSUFFICIENT);
	ck_assert_double_eq(r.rate_base, 0);
}
END_TEST

START_TEST(rate_test_refused)
{
	struct edge_health_rate r;

	ck_assert_int_eq(edge_health_rate_test(1, -1, 1, 1, 0.01, 1.5, 1, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(1, NAN, 1, 1, 0.01, 1.5, 1, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(1, 1, 1, INFINITY, 0.01, 1.5, 1, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(1, 1, 1, 1, 0, 1.5, 1, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(1, 1, 1, 1, 1, 1.5, 1, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(1, 1, 1, 1, 0.01, 0.5, 1, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(1, 1, 1, 1, 0.01, 1.5, 0, &r), -EINVAL);
	ck_assert_int_eq(edge_health_rate_test(EDGE_HEALTH_MAX_EVENTS + 1, 1, 1, 1, 0.01, 1.5, 1,
					       &r),
			 EDGE_ETOOBIG);
	ck_assert_int_eq(r.verdict, EDGE_HEALTH_INSUFFICIENT);
}
END_TEST

/* ---- the KS test ---- */

START_TEST(ks_values)
{
	static const struct edge_health_bin a[] = { { 1, 50 }, { 2, 50 } };
	static const struct edge_health_bin b[] = { { 2, 50 }, { 3, 50 } };
	static const struct edge_health_bin l1[] = { { 1, 120 }, { 2, 80 } };
	static const struct edge_health_bin l2[] = { { 1, 100 }, { 2, 100 } };
	static const struct edge_health_bin h1[] = { { 1, 30 }, { 2, 20 } };
	static const struct edge_health_bin h2[] = { { 1, 25 }, { 2, 25 } };
	struct edge_health_ks k;

	/* D = 0.5 (at 1 and 2); critical value at 0.05 for n = m = 100:
	 * sqrt(-ln(0.025) / 2) * sqrt(2 / 100) = 0.19206455826398416 (by
	 * hand / Python math); p = Q(sqrt(50) * 0.5), Q by its series. */
	ck_assert_int_eq(edge_health_ks_test(a, 2, b, 2, 0.05, 0.1, 50, &k), 0);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_HALT);
	ck_assert_double_eq_tol(k.d, 0.5, 1e-15);
	ck_assert_rel(k.d_crit, 0.19206455826398416, 1e-12);
	ck_assert_rel(k.p_value, 2.7775887729927942e-11, 1e-9);
	ck_assert_uint_eq(k.n_new, 100);
	ck_assert_uint_eq(k.n_base, 100);

	/* Identical: D = 0, p = 1. */
	ck_assert_int_eq(edge_health_ks_test(a, 2, a, 2, 0.05, 0.1, 50, &k), 0);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_PASS);
	ck_assert_double_eq(k.d, 0);
	ck_assert_double_eq(k.p_value, 1);

	/* The Kolmogorov distribution below 1.18, where it is evaluated by
	 * its theta form (3.54 above used the alternating series): lambda = 1
	 * -> 0.26999967167735456, 0.5 -> 0.96394524366487511 (the alternating
	 * series 2 sum (-1)^(k-1) exp(-2 k^2 lambda^2), 200 terms, Python). */
	ck_assert_int_eq(edge_health_ks_test(l1, 2, l2, 2, 0.05, 0, 50, &k), 0);
	ck_assert_double_eq_tol(k.d, 0.1, 1e-15);
	ck_assert_rel(k.p_value, 0.26999967167735456, 1e-9);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_PASS);
	ck_assert_int_eq(edge_health_ks_test(h1, 2, h2, 2, 0.05, 0, 50, &k), 0);
	ck_assert_rel(k.p_value, 0.96394524366487511, 1e-9);
}
END_TEST

START_TEST(ks_bounds)
{
	static const struct edge_health_bin a[] = { { 1, 5100 }, { 2, 4900 } };
	static const struct edge_health_bin b[] = { { 1, 4900 }, { 2, 5100 } };
	static const struct edge_health_bin few[] = { { 1, 10 }, { 2, 10 } };
	struct edge_health_ks k;

	/* D = 0.02 beats the critical value at n = m = 10^4 (0.0192), but a
	 * 2-point shift is below the D bound: only min_d 0 halts. */
	ck_assert_int_eq(edge_health_ks_test(a, 2, b, 2, 0.05, 0.1, 50, &k), 0);
	ck_assert_double_eq_tol(k.d, 0.02, 1e-12);
	ck_assert(k.d > k.d_crit);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_PASS);
	ck_assert_int_eq(edge_health_ks_test(a, 2, b, 2, 0.05, 0, 50, &k), 0);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_HALT);
	/* Too few scores on one side. */
	ck_assert_int_eq(edge_health_ks_test(a, 2, few, 2, 0.05, 0.1, 50, &k), 0);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_INSUFFICIENT);
	ck_assert_uint_eq(k.n_base, 20);
	ck_assert_int_eq(edge_health_ks_test(NULL, 0, few, 2, 0.05, 0.1, 1, &k), 0);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_INSUFFICIENT);
}
END_TEST

START_TEST(ks_refused)
{
	static const struct edge_health_bin ok[] = { { 1, 5 }, { 2, 5 } };
	static const struct edge_health_bin unsorted[] = { { 2, 5 }, { 1, 5 } };
	static const struct edge_health_bin same[] = { { 1, 5 }, { 1, 5 } };
	static const struct edge_health_bin nan_v[] = { { NAN, 5 } };
	static const struct edge_health_bin huge[] = { { 1, UINT64_MAX }, { 2, 1 } };
	struct edge_health_ks k;

	ck_assert_int_eq(edge_health_ks_test(unsorted, 2, ok, 2, 0.05, 0.1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(ok, 2, same, 2, 0.05, 0.1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(nan_v, 1, ok, 2, 0.05, 0.1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(huge, 2, ok, 2, 0.05, 0.1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(NULL, 2, ok, 2, 0.05, 0.1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(ok, 2, ok, 2, 0, 0.1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(ok, 2, ok, 2, 0.05, 1, 1, &k), -EINVAL);
	ck_assert_int_eq(edge_health_ks_test(ok, 2, ok, 2, 0.05, 0.1, 0, &k), -EINVAL);
	ck_assert_int_eq(k.verdict, EDGE_HEALTH_INSUFFICIENT);
}
END_TEST

/* ---- the combined verdict ---- */

START_TEST(evaluate_combines)
{
	static const struct edge_health_bin s1[] = { { 0.5, 100 }, { 1.5, 100 } };
	struct edge_health_config cfg;
	struct edge_health_input in;
	struct edge_health_report rep;

	edge_health_config_default(&cfg);
	ck_assert_double_eq_tol(edge_health_test_alpha(&cfg), 0.001 / 3, 1e-18);
	cfg.looks = 4;
	ck_assert_double_eq_tol(edge_health_test_alpha(&cfg), 0.001 / 12, 1e-18);
	cfg.looks = 1;

	/* Nothing known yet. */
	memset(&in, 0, sizeof in);
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), 0);
	ck_assert_int_eq(rep.verdict, EDGE_HEALTH_INSUFFICIENT);
	ck_assert_str_eq(edge_health_verdict_name(rep.verdict), "insufficient_data");
	ck_assert_ptr_nonnull(strstr(rep.reason, "insufficient_data"));

	/* The canary triples its rate against its own history; the peers
	 * are absent (not given); scores identical. */
	in.events_new = 72;
	in.hours_new = 240;
	in.events_own = 168;
	in.hours_own = 1680;
	in.scores_new = s1;
	in.n_scores_new = 2;
	in.scores_base = s1;
	in.n_scores_base = 2;
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), 0);
	ck_assert_int_eq(rep.verdict, EDGE_HEALTH_HALT);
	ck_assert_int_eq(rep.vs_own.verdict, EDGE_HEALTH_HALT);
	ck_assert_int_eq(rep.vs_peers.verdict, EDGE_HEALTH_INSUFFICIENT);
	ck_assert_int_eq(rep.scores.verdict, EDGE_HEALTH_PASS);
	{
		static const char want[] = "halt (alpha 0.00033): vs old model: 0.3 vs 0.1/node-h "
					   "x3.00 p=6.7e-13; vs not updated: too little data";

		ck_assert_msg(strncmp(rep.reason, want, strlen(want)) == 0, "%s", rep.reason);
	}

	/* The own past says worse, the peers (the same hours) say the same
	 * rise happened to them: a trend in time, not the model: pass. */
	in.events_peers = 648;
	in.hours_peers = 2160;
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), 0);
	ck_assert_int_eq(rep.vs_own.verdict, EDGE_HEALTH_HALT);
	ck_assert_int_eq(rep.vs_peers.verdict, EDGE_HEALTH_PASS);
	ck_assert_int_eq(rep.verdict, EDGE_HEALTH_PASS);
	/* Peers at the old rate: both baselines say worse: halt. */
	in.events_peers = 216;
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), 0);
	ck_assert_int_eq(rep.vs_peers.verdict, EDGE_HEALTH_HALT);
	ck_assert_int_eq(rep.verdict, EDGE_HEALTH_HALT);
	/* Scores shifted far with rates equal: the score test halts alone. */
	{
		static const struct edge_health_bin lo[] = { { 0.5, 200 } }, hi[] = { { 5.0, 200 } };
		struct edge_health_input k = in;

		k.events_new = 24;
		k.scores_new = hi;
		k.n_scores_new = 1;
		k.scores_base = lo;
		k.n_scores_base = 1;
		ck_assert_int_eq(edge_health_evaluate(&cfg, &k, &rep), 0);
		ck_assert_int_eq(rep.scores.verdict, EDGE_HEALTH_HALT);
		ck_assert_int_eq(rep.verdict, EDGE_HEALTH_HALT);
	}

	/* The same rate under the new model: pass. */
	in.events_new = 24;
	in.events_peers = 216;
	in.hours_peers = 2160;
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), 0);
	ck_assert_int_eq(rep.verdict, EDGE_HEALTH_PASS);
	ck_assert_ptr_nonnull(strstr(rep.reason, "vs not updated: 0.1 vs 0.1/node-h x1.00"));

	/* Invalid pieces refuse the whole and say why. */
	in.hours_peers = -1;
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), -EINVAL);
	ck_assert_int_eq(rep.verdict, EDGE_HEALTH_INSUFFICIENT);
	in.hours_peers = 2160;
	cfg.looks = 0;
	ck_assert_int_eq(edge_health_evaluate(&cfg, &in, &rep), -EINVAL);
}
END_TEST

/* ---- Monte Carlo ---- */

static uint64_t rng = 0x243f6a8885a308d3ULL; /* fixed seed: failures reproduce */

static double uniform01(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

/* Poisson(mean) by Knuth's product method in pieces of at most 30 (so
 * exp(-piece) never underflows). */
static uint64_t poisson(double mean)
{
	uint64_t k = 0;

	while (mean > 0) {
		double piece = mean > 30 ? 30 : mean, limit = exp(-piece), prod = uniform01();

		while (prod > limit) {
			k++;
			prod *= uniform01();
		}
		mean -= piece;
	}
	return k;
}

/* n scores from a uniform on [lo, lo + 1), binned to 100 bins of 0.02 over
 * [0, 2) (bin centres as values): what a sketch's bins look like. */
static void score_bins(struct edge_health_bin *bins, unsigned n, double lo)
{
	for (int i = 0; i < 100; i++) {
		bins[i].value = (i + 0.5) * 0.02;
		bins[i].count = 0;
	}
	for (unsigned i = 0; i < n; i++)
		bins[(int)((lo + uniform01()) / 0.02)].count++;
}

/* One simulated soak of a 10-node canary for 24 h (240 node-h) against its
 * own previous 7 days (1680 node-h) and 90 peers over the same 24 h
 * (2160 node-h), base rate 0.1 events/node-h; 100 new and 300 base scores. */
static enum edge_health_verdict soak(const struct edge_health_config *cfg, double rate_factor,
				     double score_shift)
{
	struct edge_health_bin sn[100], sb[100];
	struct edge_health_input in;
	struct edge_health_report rep;

	score_bins(sn, 100, score_shift);
	score_bins(sb, 300, 0);
	memset(&in, 0, sizeof in);
	in.events_new = poisson(0.1 * rate_factor * 240);
	in.hours_new = 240;
	in.events_own = poisson(0.1 * 1680);
	in.hours_own = 1680;
	in.events_peers = poisson(0.1 * 2160);
	in.hours_peers = 2160;
	in.scores_new = sn;
	in.n_scores_new = 100;
	in.scores_base = sb;
	in.n_scores_base = 100;
	ck_assert_int_eq(edge_health_evaluate(cfg, &in, &rep), 0);
	return rep.verdict;
}

#define TRIALS 2000

START_TEST(false_alarm_rate)
{
	struct edge_health_config cfg;
	unsigned halts = 0, rate_halts = 0;

	/* Defaults: family-wise alpha 0.001 over three tests, so about 2
	 * halts expected at most in 2000 trials; allow 4x. */
	edge_health_config_default(&cfg);
	for (int t = 0; t < TRIALS; t++)
		halts += soak(&cfg, 1.0, 0) == EDGE_HEALTH_HALT;
	ck_assert_msg(halts <= 4 * 0.001 * TRIALS, "%u false halts in %d", halts, TRIALS);

	/* The rate test alone at alpha 0.05 without the ratio bound: the
	 * binomial count of false halts (<= 100 expected, sd <= 10) must stay
	 * below 130, i.e. the test really holds its level. */
	for (int t = 0; t < TRIALS; t++) {
		struct edge_health_rate r;

		ck_assert_int_eq(edge_health_rate_test(poisson(24), 240, poisson(168), 1680, 0.05,
						       1.0, 1.0, &r),
				 0);
		ck_assert_int_ne(r.verdict, EDGE_HEALTH_INSUFFICIENT);
		rate_halts += r.verdict == EDGE_HEALTH_HALT;
	}
	ck_assert_msg(rate_halts <= 130, "%u halts at alpha 0.05 in %d", rate_halts, TRIALS);
	ck_assert_msg(rate_halts >= 30, "%u halts at alpha 0.05: far too conservative",
		      rate_halts);
}
END_TEST

START_TEST(detection)
{
	struct edge_health_config cfg;
	unsigned halts = 0, score_halts = 0;

	edge_health_config_default(&cfg);
	/* 3x the anomaly rate: 72 events expected where 24 were. */
	for (int t = 0; t < TRIALS; t++)
		halts += soak(&cfg, 3.0, 0) == EDGE_HEALTH_HALT;
	ck_assert_msg(halts >= TRIALS * 0.99, "detected %u of %d", halts, TRIALS);
	/* Scores shifted by 0.3 of their spread, rate unchanged (D about 0.3
	 * against a critical value of about 0.24). */
	for (int t = 0; t < 500; t++)
		score_halts += soak(&cfg, 1.0, 0.3) == EDGE_HEALTH_HALT;
	ck_assert_msg(score_halts >= 500 * 0.7, "score shift detected %u of 500", score_halts);
}
END_TEST

static Suite *health_suite(void)
{
	Suite *s = suite_create("rollout-health");
	TCase *tc = tcase_create("health");

	tcase_add_test(tc, binom_exact_values);
	tcase_add_test(tc, rate_test_decisions);
	tcase_add_test(tc, rate_test_insufficient);
	tcase_add_test(tc, rate_test_refused);
	tcase_add_test(tc, ks_values);
	tcase_add_test(tc, ks_bounds);
	tcase_add_test(tc, ks_refused);
	tcase_add_test(tc, evaluate_combines);
	tcase_add_test(tc, false_alarm_rate);
	tcase_add_test(tc, detection);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(health_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
