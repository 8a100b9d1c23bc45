/* Model-aware health of a rollout stage: does the new model raise the
 * anomaly rate or move the score distribution, with statistical support?
 *
 * 1. Anomaly rate. The stage's nodes under the new model had k_new events
 *    in T_new node-hours; a baseline had k_base in T_base. Two baselines
 *    are compared separately: the same nodes under the old model (their own
 *    history before the update) and the nodes not yet updated over the same
 *    hours. The first controls for per-node differences, the second for
 *    time (a network-wide incident raises both sides). Test: the exact
 *    conditional test for two Poisson rates (Przyborowski & Wilenski 1940):
 *    given n = k_new + k_base, under H0 (equal rates) k_new is
 *    Binomial(n, p0), p0 = T_new / (T_new + T_base). The one-sided p-value
 *    is P(X >= k_new), summed in log space from lgamma terms, outward from
 *    k_new while the terms matter (or 1 minus the lower tail when k_new is
 *    below the mode), so no cancellation and no overflow at any count.
 *    A baseline's test halts when p < alpha' AND the rate ratio exceeds
 *    min_rate_ratio (1.5 by default): a large fleet makes tiny, harmless
 *    differences significant, and the ratio bound is the configurable "how
 *    much worse" part. The rate halts the stage only when every baseline
 *    with enough data halts (an intersection-union test: its level is the
 *    single test's): the own past alone is confounded by time (a shift, a
 *    season, an incident), the peers alone by the nodes' differences; both
 *    together point at the model. With one baseline (no peers in the last
 *    wave, no history for new nodes) that one decides. Being
 *    conditional and exact (discrete), the test's real false-alarm rate is
 *    at most alpha', usually below it.
 *    Insufficient data: a side with fewer than min_node_hours, or so few
 *    events that even k_new = n would not reach alpha' (p0^n >= alpha'):
 *    the test could not halt whatever happened, so it does not say "pass".
 *
 * 2. Score distribution. A two-sample Kolmogorov–Smirnov test on
 *    histograms: arrays of (value, count) bins sorted by value, so the
 *    daemon can pass lib/anomaly's score-sketch bins (bin representative,
 *    count). D = max |F_new - F_base| over the bin values; halt when
 *    D > c(alpha') * sqrt((n + m) / (n m)), c(a) = sqrt(-ln(a / 2) / 2)
 *    (the asymptotic critical value), AND D > min_ks_d (0.1 by default),
 *    and only with at least min_scores scores on both sides. Binning merges
 *    ties, which can only lower D: the binned test is conservative. Scores
 *    from a different model may sit on a different scale; the daemon should
 *    compare like with like (e.g. the new model on the stage vs the same
 *    model's scores on the canary once the canary passed) or raise min_ks_d.
 *
 * False alarms. alpha (0.001 by default) is the family-wise false-alarm
 * probability of one stage's soak, for equal rates and equal
 * distributions. Each soak runs up to three tests (two rate baselines, KS)
 * at each of `looks` evaluations (1 by default: once at the end of the
 * soak; a daemon checking every hour of a 12-hour soak sets 12), and each
 * test uses alpha' = alpha / (3 * looks) (Bonferroni, valid whatever the
 * correlation between looks; the two rate tests need each other to halt,
 * so they spend less than their two shares). With the defaults a rollout
 * of a canary and three waves falsely halts with probability at most
 * 4 * 0.001. The unit
 * tests check this by Monte Carlo (2000 seeded trials of equal rates) and
 * the power (a 3x rate raise on a 10-node, 24-hour canary halts in nearly
 * every trial).
 *
 * Assumption: events are Poisson in node-hours. Bursty anomalies
 * (episodes) overdisperse the counts and inflate false alarms; the daemon
 * should count episodes, not raw events, where lib/anomaly groups them.
 *
 * Pure: no I/O, no allocation, no global state (lgamma_r). Tests:
 * tests/unit/rollout (test_health.c). */
#ifndef EDGE_ROLLOUT_HEALTH_H
#define EDGE_ROLLOUT_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

#define EDGE_HEALTH_TESTS_PER_LOOK 3
#define EDGE_HEALTH_MAX_EVENTS 1000000000ULL /* per side; bounds the p-value loop */

enum edge_health_verdict {
	EDGE_HEALTH_PASS = 0,
	EDGE_HEALTH_HALT,
	EDGE_HEALTH_INSUFFICIENT, /* the test could not have halted: too little data */
};

/* Static name ("pass", "halt", "insufficient_data"), never NULL. */
const char *edge_health_verdict_name(enum edge_health_verdict v);

struct edge_health_config {
	double alpha;          /* family-wise false alarm per stage soak, (0, 0.5] */
	uint32_t looks;        /* evaluations per soak, >= 1 */
	double min_rate_ratio; /* halt only above this rate ratio, >= 1 */
	double min_ks_d;       /* halt only above this KS distance, [0, 1) */
	uint64_t min_scores;   /* KS needs this many scores on each side, >= 1 */
	double min_node_hours; /* rate test needs this exposure on each side, > 0 */
};

/* alpha 0.001, looks 1, min_rate_ratio 1.5, min_ks_d 0.1, min_scores 50,
 * min_node_hours 1. */
void edge_health_config_default(struct edge_health_config *cfg);

/* The per-test level alpha / (EDGE_HEALTH_TESTS_PER_LOOK * looks). */
double edge_health_test_alpha(const struct edge_health_config *cfg);

/* P(X >= k) for X ~ Binomial(n, p), 0 <= p <= 1; 1 when k == 0, 0 when
 * k > n. n <= 2 * EDGE_HEALTH_MAX_EVENTS (the time grows as sqrt(n)).
 * Relative error below 1e-8 for n up to 1e6 (from lgamma). */
double edge_health_binom_sf(uint64_t k, uint64_t n, double p);

/* One rate comparison. */
struct edge_health_rate {
	enum edge_health_verdict verdict;
	uint64_t k_new, k_base;
	double t_new, t_base;        /* node-hours */
	double rate_new, rate_base;  /* events per node-hour (0 without exposure) */
	double ratio;                /* rate_new / rate_base: INFINITY when only k_base is 0,
					NAN when both are */
	double p_value;              /* P(X >= k_new) as above; 1 when not tested */
	double alpha;                /* the level it was tested at */
};

/* The rate test alone (alpha is the per-test level). -EINVAL when a time
 * is negative or not finite, alpha not in (0, 1), min_ratio < 1,
 * min_node_hours <= 0; EDGE_ETOOBIG when a count exceeds
 * EDGE_HEALTH_MAX_EVENTS. *out is filled (verdict INSUFFICIENT) on error. */
EDGE_WUR int edge_health_rate_test(uint64_t k_new, double t_new, uint64_t k_base, double t_base,
				   double alpha, double min_ratio, double min_node_hours,
				   struct edge_health_rate *out);

/* One histogram bin: a score value and how many scores it stands for. */
struct edge_health_bin {
	double value;
	uint64_t count;
};

struct edge_health_ks {
	enum edge_health_verdict verdict;
	uint64_t n_new, n_base;
	double d;       /* max |F_new - F_base| */
	double d_crit;  /* asymptotic critical value at alpha (0 when not tested) */
	double p_value; /* asymptotic (Kolmogorov distribution); 1 when not tested */
	double alpha;
};

/* The KS test alone (alpha is the per-test level). Bins of each side must
 * have finite, strictly increasing values; zero counts are allowed. -EINVAL
 * otherwise (or a NULL array with a non-zero length, a count sum
 * overflowing, alpha not in (0, 1), min_d not in [0, 1), min_count == 0). */
EDGE_WUR int edge_health_ks_test(const struct edge_health_bin *a, size_t na,
				 const struct edge_health_bin *b, size_t nb, double alpha,
				 double min_d, uint64_t min_count, struct edge_health_ks *out);

/* The asymptotic KS critical value for sample sizes n, m >= 1. */
double edge_health_ks_crit(double alpha, uint64_t n, uint64_t m);

/* What the daemon gathers for one stage at one look. A baseline with 0
 * node-hours is absent (e.g. no peers left during the last wave). */
struct edge_health_input {
	uint64_t events_new;   /* the stage's nodes, new model, since activation */
	double hours_new;
	uint64_t events_own;   /* the same nodes under the old model */
	double hours_own;
	uint64_t events_peers; /* nodes not yet updated, over the same hours */
	double hours_peers;
	const struct edge_health_bin *scores_new; /* may be NULL with n 0 */
	size_t n_scores_new;
	const struct edge_health_bin *scores_base;
	size_t n_scores_base;
};

struct edge_health_report {
	enum edge_health_verdict verdict; /* halt when the scores halt, or the rate
					     against every baseline with enough data
					     (own past, peers) halts; else pass if any
					     test passes, else insufficient */
	struct edge_health_rate vs_own, vs_peers;
	struct edge_health_ks scores;
	char reason[224];                 /* one line with the numbers behind it */
};

/* Runs the three tests at edge_health_test_alpha(cfg). -EINVAL for an
 * invalid cfg or input (as the tests above), EDGE_ETOOBIG for counts
 * beyond the bound; *rep then says insufficient with the reason. */
EDGE_WUR int edge_health_evaluate(const struct edge_health_config *cfg,
				  const struct edge_health_input *in,
				  struct edge_health_report *rep);

#endif
