/* Model-aware health: the conditional Poisson rate test and the binned
 * two-sample Kolmogorov–Smirnov test. */
#include "edge_rollout_health.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Terms below this share of the running sum no longer change a double. */
#define SUM_EPS 1e-17

const char *edge_health_verdict_name(enum edge_health_verdict v)
{
	switch (v) {
	case EDGE_HEALTH_PASS: return "pass";
	case EDGE_HEALTH_HALT: return "halt";
	case EDGE_HEALTH_INSUFFICIENT: return "insufficient_data";
	}
	return "unknown";
}

void edge_health_config_default(struct edge_health_config *cfg)
{
	assert(cfg);
	cfg->alpha = 0.001;
	cfg->looks = 1;
	cfg->min_rate_ratio = 1.5;
	cfg->min_ks_d = 0.1;
	cfg->min_scores = 50;
	cfg->min_node_hours = 1.0;
}

double edge_health_test_alpha(const struct edge_health_config *cfg)
{
	assert(cfg && cfg->looks >= 1);
	return cfg->alpha / ((double)EDGE_HEALTH_TESTS_PER_LOOK * cfg->looks);
}

static double lgam(double x)
{
	int sign;

	return lgamma_r(x, &sign); /* lgamma() writes the global signgam */
}

/* log of the Binomial(n, p) probability of j, 0 < p < 1. */
static double log_pmf(uint64_t j, uint64_t n, double p)
{
	double dn = (double)n, dj = (double)j;

	return lgam(dn + 1) - lgam(dj + 1) - lgam(dn - dj + 1) + dj * log(p) +
	       (dn - dj) * log1p(-p);
}

double edge_health_binom_sf(uint64_t k, uint64_t n, double p)
{
	double odds, sum = 1, term = 1;
	uint64_t mode;

	assert(p >= 0 && p <= 1 && n <= 2 * EDGE_HEALTH_MAX_EVENTS);
	if (k == 0)
		return 1;
	if (k > n || p <= 0)
		return 0;
	if (p >= 1)
		return 1;
	odds = p / (1 - p);
	mode = (uint64_t)floor(((double)n + 1) * p);
	if (k > mode) {
		/* Upper tail: terms fall from j = k on; sum them relative to
		 * the first, then scale once (no overflow, no cancellation). */
		for (uint64_t j = k; j < n; j++) {
			term *= (double)(n - j) / (double)(j + 1) * odds;
			sum += term;
			if (term < sum * SUM_EPS)
				break;
		}
		return fmin(1, exp(log_pmf(k, n, p)) * sum);
	}
	/* k at or below the mode: the answer is >= about 1/2, so 1 minus the
	 * lower tail P(X <= k - 1) loses nothing; its terms fall from k - 1
	 * downward. */
	for (uint64_t j = k - 1; j > 0; j--) {
		term *= (double)j / (double)(n - j + 1) / odds;
		sum += term;
		if (term < sum * SUM_EPS)
			break;
	}
	return fmax(0, 1 - exp(log_pmf(k - 1, n, p)) * sum);
}

static bool valid_hours(double t)
{
	return isfinite(t) && t >= 0;
}

int edge_health_rate_test(uint64_t k_new, double t_new, uint64_t k_base, double t_base,
			  double alpha, double min_ratio, double min_node_hours,
			  struct edge_health_rate *out)
{
	uint64_t n;
	double p0;

	assert(out);
	memset(out, 0, sizeof *out);
	out->verdict = EDGE_HEALTH_INSUFFICIENT;
	out->p_value = 1;
	out->ratio = NAN;
	out->k_new = k_new;
	out->k_base = k_base;
	out->t_new = t_new;
	out->t_base = t_base;
	out->alpha = alpha;
	if (!valid_hours(t_new) || !valid_hours(t_base) || !(alpha > 0 && alpha < 1) ||
	    !(min_ratio >= 1) || !isfinite(min_ratio) || !(min_node_hours > 0))
		return -EINVAL;
	if (k_new > EDGE_HEALTH_MAX_EVENTS || k_base > EDGE_HEALTH_MAX_EVENTS)
		return EDGE_ETOOBIG;
	out->rate_new = t_new > 0 ? (double)k_new / t_new : 0;
	out->rate_base = t_base > 0 ? (double)k_base / t_base : 0;
	if (t_new < min_node_hours || t_base < min_node_hours)
		return 0;
	if (k_base > 0)
		out->ratio = out->rate_new / out->rate_base;
	else if (k_new > 0)
		out->ratio = INFINITY;
	n = k_new + k_base;
	p0 = t_new / (t_new + t_base);
	/* The smallest p-value these n events allow (all on the new side):
	 * at or above alpha, no outcome could halt, so say so. */
	if ((double)n * log(p0) >= log(alpha))
		return 0;
	out->p_value = edge_health_binom_sf(k_new, n, p0);
	out->verdict = out->p_value < alpha && out->ratio > min_ratio ? EDGE_HEALTH_HALT :
									EDGE_HEALTH_PASS;
	return 0;
}

double edge_health_ks_crit(double alpha, uint64_t n, uint64_t m)
{
	double dn = (double)n, dm = (double)m;

	assert(alpha > 0 && alpha < 1 && n > 0 && m > 0);
	return sqrt(-0.5 * log(alpha / 2)) * sqrt((dn + dm) / (dn * dm));
}

/* Q_KS(lambda) = P(sqrt(ne) D > lambda) asymptotically: the alternating
 * series converges fast for large lambda, the Jacobi-theta form for small
 * (Numerical Recipes' split at 1.18). */
static double kolmogorov_q(double lambda)
{
	double s = 0;

	if (lambda <= 0)
		return 1;
	if (lambda < 1.18) {
		double y = exp(-M_PI * M_PI / (8 * lambda * lambda));

		for (int k = 1; k <= 9; k += 2)
			s += pow(y, (double)k * k);
		return fmin(1, fmax(0, 1 - sqrt(2 * M_PI) / lambda * s));
	}
	for (int k = 1; k <= 100; k++) {
		double t = exp(-2.0 * k * k * lambda * lambda);

		s += k % 2 ? t : -t;
		if (t < 1e-17)
			break;
	}
	return fmin(1, fmax(0, 2 * s));
}

/* Sum of counts; false when values are not finite and strictly
 * increasing, or the sum overflows. */
static bool bins_valid(const struct edge_health_bin *b, size_t n, uint64_t *total)
{
	*total = 0;
	if (n && !b)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(b[i].value) || (i > 0 && !(b[i].value > b[i - 1].value)))
			return false;
		if (b[i].count > UINT64_MAX - *total)
			return false;
		*total += b[i].count;
	}
	return true;
}

int edge_health_ks_test(const struct edge_health_bin *a, size_t na,
			const struct edge_health_bin *b, size_t nb, double alpha, double min_d,
			uint64_t min_count, struct edge_health_ks *out)
{
	uint64_t ca = 0, cb = 0;
	size_t i = 0, j = 0;

	assert(out);
	memset(out, 0, sizeof *out);
	out->verdict = EDGE_HEALTH_INSUFFICIENT;
	out->p_value = 1;
	out->alpha = alpha;
	if (!(alpha > 0 && alpha < 1) || !(min_d >= 0 && min_d < 1) || min_count == 0 ||
	    !bins_valid(a, na, &out->n_new) || !bins_valid(b, nb, &out->n_base))
		return -EINVAL;
	if (out->n_new < min_count || out->n_base < min_count)
		return 0;
	/* Walk the union of bin values; both CDFs step at each. */
	while (i < na || j < nb) {
		double v = i < na && (j >= nb || a[i].value <= b[j].value) ? a[i].value : b[j].value;
		double diff;

		if (i < na && a[i].value == v)
			ca += a[i++].count;
		if (j < nb && b[j].value == v)
			cb += b[j++].count;
		diff = fabs((double)ca / (double)out->n_new - (double)cb / (double)out->n_base);
		if (diff > out->d)
			out->d = diff;
	}
	assert(ca == out->n_new && cb == out->n_base);
	out->d_crit = edge_health_ks_crit(alpha, out->n_new, out->n_base);
	{
		double ne = (double)out->n_new * (double)out->n_base /
			    ((double)out->n_new + (double)out->n_base);

		out->p_value = kolmogorov_q(sqrt(ne) * out->d);
	}
	out->verdict = out->d > out->d_crit && out->d > min_d ? EDGE_HEALTH_HALT : EDGE_HEALTH_PASS;
	return 0;
}

static bool config_valid(const struct edge_health_config *c)
{
	return c->alpha > 0 && c->alpha <= 0.5 && c->looks >= 1 && c->min_rate_ratio >= 1 &&
	       isfinite(c->min_rate_ratio) && c->min_ks_d >= 0 && c->min_ks_d < 1 &&
	       c->min_scores >= 1 && c->min_node_hours > 0 && isfinite(c->min_node_hours);
}

/* "x3.00" or "x inf" or "-" for the ratio. */
static void fmt_ratio(char *buf, size_t cap, double r)
{
	if (isnan(r))
		snprintf(buf, cap, "-");
	else if (isinf(r))
		snprintf(buf, cap, "x inf");
	else
		snprintf(buf, cap, "x%.2f", r);
}

static int fmt_rate(char *buf, size_t cap, const char *what, const struct edge_health_rate *r)
{
	char ratio[24];

	if (r->verdict == EDGE_HEALTH_INSUFFICIENT)
		return snprintf(buf, cap, "%s: too little data (%llu vs %llu events, %.1f vs %.1f node-h)",
				what, (unsigned long long)r->k_new, (unsigned long long)r->k_base,
				r->t_new, r->t_base);
	fmt_ratio(ratio, sizeof ratio, r->ratio);
	return snprintf(buf, cap, "%s: %.3g vs %.3g/node-h %s p=%.2g", what, r->rate_new,
			r->rate_base, ratio, r->p_value);
}

static int fmt_ks(char *buf, size_t cap, const struct edge_health_ks *k)
{
	if (k->verdict == EDGE_HEALTH_INSUFFICIENT)
		return snprintf(buf, cap, "scores: too few (%llu vs %llu)",
				(unsigned long long)k->n_new, (unsigned long long)k->n_base);
	return snprintf(buf, cap, "scores: KS D=%.3f %s %.3f (n=%llu/%llu)", k->d,
			k->d > k->d_crit ? ">" : "<=", k->d_crit, (unsigned long long)k->n_new,
			(unsigned long long)k->n_base);
}

/* buf[*used..cap) += sep part, cut at cap (the reason is one line for a
 * log: a cut tail is acceptable, an overflow is not). */
static void append(char *buf, size_t cap, size_t *used, const char *sep, const char *part)
{
	int w;

	if (*used >= cap)
		return;
	w = snprintf(buf + *used, cap - *used, "%s%s", sep, part);
	if (w > 0)
		*used += (size_t)w;
}

int edge_health_evaluate(const struct edge_health_config *cfg, const struct edge_health_input *in,
			 struct edge_health_report *rep)
{
	enum edge_health_verdict v[3];
	bool any_halt = false, any_pass = false;
	char parts[3][96];
	size_t used, first = 0;
	double alpha;
	int rc;

	assert(cfg && in && rep);
	memset(rep, 0, sizeof *rep);
	rep->verdict = EDGE_HEALTH_INSUFFICIENT;
	if (!config_valid(cfg)) {
		snprintf(rep->reason, sizeof rep->reason, "insufficient_data: invalid health config");
		return -EINVAL;
	}
	alpha = edge_health_test_alpha(cfg);
	rc = edge_health_rate_test(in->events_new, in->hours_new, in->events_own, in->hours_own,
				   alpha, cfg->min_rate_ratio, cfg->min_node_hours, &rep->vs_own);
	if (rc == 0)
		rc = edge_health_rate_test(in->events_new, in->hours_new, in->events_peers,
					   in->hours_peers, alpha, cfg->min_rate_ratio,
					   cfg->min_node_hours, &rep->vs_peers);
	if (rc == 0)
		rc = edge_health_ks_test(in->scores_new, in->n_scores_new, in->scores_base,
					 in->n_scores_base, alpha, cfg->min_ks_d, cfg->min_scores,
					 &rep->scores);
	if (rc != 0) {
		rep->verdict = EDGE_HEALTH_INSUFFICIENT;
		snprintf(rep->reason, sizeof rep->reason, "insufficient_data: invalid input (%s)",
			 edge_strerror(rc));
		return rc;
	}

	/* Verdict. The rate halts when every baseline with enough data says
	 * halt: the own past alone rises with any trend in time (a shift, a
	 * season), the peers alone differ by node; together they say "the
	 * model". The scores halt on their own. Else pass if any test could
	 * and did. */
	v[0] = rep->vs_own.verdict;
	v[1] = rep->vs_peers.verdict;
	v[2] = rep->scores.verdict;
	any_halt = (v[0] == EDGE_HEALTH_HALT || v[1] == EDGE_HEALTH_HALT) &&
		   v[0] != EDGE_HEALTH_PASS && v[1] != EDGE_HEALTH_PASS;
	any_halt |= v[2] == EDGE_HEALTH_HALT;
	for (size_t i = 0; i < 3; i++)
		any_pass |= v[i] == EDGE_HEALTH_PASS;
	rep->verdict = any_halt ? EDGE_HEALTH_HALT :
		       any_pass ? EDGE_HEALTH_PASS : EDGE_HEALTH_INSUFFICIENT;

	fmt_rate(parts[0], sizeof parts[0], "vs old model", &rep->vs_own);
	fmt_rate(parts[1], sizeof parts[1], "vs not updated", &rep->vs_peers);
	fmt_ks(parts[2], sizeof parts[2], &rep->scores);
	used = (size_t)snprintf(rep->reason, sizeof rep->reason, "%s (alpha %.2g):",
				edge_health_verdict_name(rep->verdict), alpha);
	/* The halting test first, so a cut line still says why. */
	while (first < 2 && any_halt && v[first] != EDGE_HEALTH_HALT)
		first++;
	append(rep->reason, sizeof rep->reason, &used, " ", parts[first]);
	for (size_t i = 0; i < 3; i++)
		if (i != first)
			append(rep->reason, sizeof rep->reason, &used, "; ", parts[i]);
	return 0;
}
