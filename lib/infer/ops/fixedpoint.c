/* Non-inline parts of fixedpoint.h: multiplier quantization and gemmlowp's
 * fixed-point exp / reciprocal / logistic / tanh, step for step as in
 * gemmlowp/fixedpoint/fixedpoint.h (raw int32 values; the Q format of each
 * value is given in the comments). */
#include "fixedpoint.h"

#include <math.h>

int edge_quantize_multiplier(double m, int32_t *multiplier, int *shift)
{
	*multiplier = 0;
	*shift = 0;
	if (m == 0.0)
		return 0;
	if (!(m > 0.0) || !isfinite(m))
		return -1;
	int e = 0;
	double q = frexp(m, &e);
	/* TfLiteRound = round half away from zero. */
	int64_t q_fixed = (int64_t)round(q * (double)((int64_t)1 << 31));
	if (q_fixed == ((int64_t)1 << 31)) {
		q_fixed /= 2;
		e += 1;
	}
	if (e < -31) {
		e = 0;
		q_fixed = 0;
	}
	if (e > 31)
		return -1;
	*multiplier = (int32_t)q_fixed;
	*shift = e;
	return 0;
}

int32_t edge_input_radius(int integer_bits, int left_shift, int total_signed_bits)
{
	double max_input_rescaled = 1.0 * (double)((1 << integer_bits) - 1) *
				    (double)((int64_t)1 << (total_signed_bits - integer_bits)) /
				    (double)((int64_t)1 << left_shift);
	return (int32_t)floor(max_input_rescaled);
}

/* gemmlowp RoundingHalfSum for int32. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
	int64_t sum = (int64_t)a + (int64_t)b;
	int64_t sign = sum >= 0 ? 1 : -1;
	return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
	const int32_t constant_term = 1895147668;   /* exp(-1/8) */
	const int32_t constant_1_over_3 = 715827883;
	int32_t x = edge_wadd(a, 1 << 28);          /* a + 1/8 */
	int32_t x2 = edge_srdhm(x, x);
	int32_t x3 = edge_srdhm(x2, x);
	int32_t x4 = edge_srdhm(x2, x2);
	int32_t x4_over_4 = edge_rdbpot(x4, 2);
	int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 =
		edge_rdbpot(edge_wadd(edge_srdhm(edge_wadd(x4_over_4, x3), constant_1_over_3), x2), 1);
	return edge_wadd(constant_term,
			 edge_srdhm(constant_term, edge_wadd(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

int32_t edge_exp_on_negative_values(int32_t a, int integer_bits)
{
	static const int32_t multipliers[7] = {
		1672461947, /* exp(-1/4) */
		1302514674, /* exp(-1/2) */
		790015084,  /* exp(-1) */
		290630308,  /* exp(-2) */
		39332535,   /* exp(-4) */
		720401,     /* exp(-8) */
		242,        /* exp(-16) */
	};
	const int fractional_bits = 31 - integer_bits;
	const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
	const int32_t mask = one_quarter - 1;
	int32_t a_mod_quarter_minus_one_quarter = edge_wsub(a & mask, one_quarter);
	/* Rescale<0> from Q(integer_bits): saturating left shift. */
	int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
		edge_sat_shl(a_mod_quarter_minus_one_quarter, integer_bits));
	int32_t remainder = edge_wsub(a_mod_quarter_minus_one_quarter, a);

	for (int exponent = -2; exponent <= 4; exponent++) {
		if (integer_bits > exponent) {
			int shift_amount = fractional_bits + exponent;
			if (remainder & (int32_t)((uint32_t)1 << shift_amount))
				result = edge_srdhm(result, multipliers[exponent + 2]);
		}
	}
	if (integer_bits > 5) {
		int clamp_b = 36 - integer_bits;
		int32_t clamp = -((int32_t)1 << clamp_b); /* -32.0 */
		if (a < clamp)
			result = 0;
	}
	if (a == 0)
		result = INT32_MAX; /* One() in Q0.31 */
	return result;
}

/* Newton-Raphson iteration shared by the two 1/(1+x) flavours; returns x in
 * Q2.29 approximating 1 / half_denominator. */
static int32_t newton_reciprocal_q2(int32_t half_denominator)
{
	const int32_t constant_48_over_17 = 1515870810;
	const int32_t constant_neg_32_over_17 = -1010580540;
	const int32_t one_q2 = (int32_t)1 << 29;
	int32_t x = edge_wadd(constant_48_over_17,
			      edge_srdhm(half_denominator, constant_neg_32_over_17));
	for (int i = 0; i < 3; i++) {
		int32_t half_denominator_times_x = edge_srdhm(half_denominator, x);
		int32_t one_minus_half_denominator_times_x = edge_wsub(one_q2, half_denominator_times_x);
		/* Q2 * Q2 = Q4, Rescale<2>: saturating left shift by 2. */
		x = edge_wadd(x, edge_sat_shl(edge_srdhm(x, one_minus_half_denominator_times_x), 2));
	}
	return x;
}

int32_t edge_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
	int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
	int32_t x = newton_reciprocal_q2(half_denominator);
	/* ExactMulByPot<-1> (Q2 -> Q1, same raw), then Rescale<0>: shift by 1. */
	return edge_sat_shl(x, 1);
}

int32_t edge_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a)
{
	int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
	int32_t x = newton_reciprocal_q2(half_denominator);
	/* Rescale<0>(x - 1) from Q2. */
	return edge_sat_shl(edge_wsub(x, (int32_t)1 << 29), 2);
}

int32_t edge_logistic(int32_t a, int integer_bits)
{
	if (a == 0)
		return (int32_t)1 << 30; /* one half */
	int32_t abs_input = a > 0 ? a : edge_wsub(0, a);
	int32_t result_if_positive = edge_one_over_one_plus_x_for_x_in_0_1(
		edge_exp_on_negative_values(edge_wsub(0, abs_input), integer_bits));
	if (a > 0)
		return result_if_positive;
	return edge_wsub(INT32_MAX, result_if_positive);
}

int32_t edge_tanh(int32_t a, int integer_bits)
{
	if (a == 0)
		return 0;
	int32_t n = a < 0 ? a : edge_wsub(0, a);
	/* ExactMulByPot<1>: the same raw value read with one more integer bit,
	 * i.e. exp(2n). */
	int32_t t = edge_one_minus_x_over_one_plus_x_for_x_in_0_1(
		edge_exp_on_negative_values(n, integer_bits + 1));
	return a < 0 ? edge_wsub(0, t) : t;
}

int32_t edge_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit)
{
	uint32_t ux = (uint32_t)x;
	int headroom_plus_one = ux == 0 ? 32 : __builtin_clz(ux);
	*num_bits_over_unit = x_integer_digits - headroom_plus_one;
	uint32_t shifted = headroom_plus_one >= 32 ? 0 : ux << headroom_plus_one;
	int32_t shifted_sum_minus_one = (int32_t)(shifted - ((uint32_t)1 << 31));
	return edge_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}
