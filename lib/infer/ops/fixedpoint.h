/* Fixed-point arithmetic of TensorFlow Lite Micro's reference kernels
 * (default build: double rounding), bit for bit. Names follow TFLM / gemmlowp
 * so each use can be checked against the original:
 *
 *   SaturatingRoundingDoublingHighMul  -> edge_srdhm
 *   RoundingDivideByPOT                -> edge_rdbpot
 *   MultiplyByQuantizedMultiplier      -> edge_mbqm (+ _smaller_than_one_exp,
 *                                         _greater_than_one)
 *   QuantizeMultiplier                 -> edge_quantize_multiplier
 *
 * gemmlowp's FixedPoint "+" and "-" wrap around on int32 (they are plain
 * machine adds); edge_wadd/edge_wsub do the same without signed-overflow UB.
 * "*" between two FixedPoint values is edge_srdhm on the raw values.
 *
 * The hot helpers are static inline so optimised kernels and the reference
 * kernels share exactly this code. libc only. */
#ifndef EDGE_INFER_FIXEDPOINT_H
#define EDGE_INFER_FIXEDPOINT_H

#include <stdint.h>

/* Wrapping int32 arithmetic (two's complement), as the C++ code behaves. */
static inline int32_t edge_wadd(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t edge_wsub(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a - (uint32_t)b);
}

static inline int32_t edge_wmul(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a * (uint32_t)b);
}

/* x * 2^s on int32 with wrap-around, s in [0, 31] (TFLM: x * (1 << s)). */
static inline int32_t edge_wshl(int32_t x, int s)
{
	return (int32_t)((uint32_t)x << s);
}

/* gemmlowp SaturatingRoundingDoublingHighMul. */
static inline int32_t edge_srdhm(int32_t a, int32_t b)
{
	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	int64_t ab = (int64_t)a * (int64_t)b;
	int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
	/* C division truncates towards zero, as the original. */
	return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: round to nearest, ties away from zero.
 * exponent in [0, 31]. */
static inline int32_t edge_rdbpot(int32_t x, int exponent)
{
	int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
	int32_t remainder = x & mask;
	int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
	return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM MultiplyByQuantizedMultiplier (int32 input, double rounding).
 * shift > 0 is a left shift applied before the high multiply. */
static inline int32_t edge_mbqm(int32_t x, int32_t multiplier, int shift)
{
	int left_shift = shift > 0 ? shift : 0;
	int right_shift = shift > 0 ? 0 : -shift;
	return edge_rdbpot(edge_srdhm(edge_wshl(x, left_shift), multiplier),
			   right_shift);
}

/* TFLM MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
static inline int32_t edge_mbqm_smaller_than_one_exp(int32_t x, int32_t multiplier,
						     int shift)
{
	return edge_rdbpot(edge_srdhm(x, multiplier), -shift);
}

/* TFLM MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0). */
static inline int32_t edge_mbqm_greater_than_one(int32_t x, int32_t multiplier,
						 int left_shift)
{
	return edge_srdhm(edge_wshl(x, left_shift), multiplier);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0:
 * x * 2^exponent, saturated to int32. */
static inline int32_t edge_sat_shl(int32_t x, int exponent)
{
	int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
	if (x > threshold)
		return INT32_MAX;
	if (x < -threshold)
		return INT32_MIN;
	return edge_wshl(x, exponent);
}

static inline int32_t edge_clamp_i32(int32_t x, int32_t lo, int32_t hi)
{
	return x < lo ? lo : (x > hi ? hi : x);
}

/* TFLM QuantizeMultiplier: m = M * 2^shift / 2^31 with M in [2^30, 2^31).
 * m == 0 gives (0, 0); shift < -31 flushes to (0, 0). Returns 0, or -1 when
 * m is negative, not finite, or too large for the int32 shift. */
int edge_quantize_multiplier(double m, int32_t *multiplier, int *shift);

/* TFLM CalculateInputRadius(integer_bits, left_shift, total_signed_bits). */
int32_t edge_input_radius(int integer_bits, int left_shift, int total_signed_bits);

/* ---- gemmlowp transcendental functions on raw int32 fixed-point values */

/* exp(a) for a <= 0 given in Q(integer_bits).(31 - integer_bits); result Q0.31. */
int32_t edge_exp_on_negative_values(int32_t a, int integer_bits);

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out. */
int32_t edge_one_over_one_plus_x_for_x_in_0_1(int32_t a);

/* (1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out. */
int32_t edge_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a);

/* logistic(a), a in Q(integer_bits); result Q0.31. */
int32_t edge_logistic(int32_t a, int integer_bits);

/* tanh(a), a in Q(integer_bits); result Q0.31. */
int32_t edge_tanh(int32_t a, int integer_bits);

/* TFLM GetReciprocal: x in Q(x_integer_digits); returns the Q0.31 scale and
 * the number of bits above one in *num_bits_over_unit. */
int32_t edge_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit);

#endif
