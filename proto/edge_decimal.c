/* Decimal text to the nearest double without strtod (edge_decimal.h).
 *
 * value = D * 10^E with D < 10^19 (at most 19 significant digits), so
 * q = floor(A / B) with A = D (* 10^E) << s and B = (10^-E) << -s gives 54
 * bits of the quotient (53 and the rounding bit) by binary long division;
 * the remainder says whether anything was left (sticky). Every integer is
 * bounded: 10^343 << 54 (the least subnormal's range) needs about 1200 bits. */
#include "edge_decimal.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define BIG_WORDS 48 /* 1536 bits: 10^343 << 54 needs about 1200 */

struct big {
	unsigned n; /* words in use; w[n-1] != 0 unless n == 0 */
	uint32_t w[BIG_WORDS];
};

static void big_set(struct big *a, uint64_t v)
{
	a->n = 0;
	while (v) {
		a->w[a->n++] = (uint32_t)v;
		v >>= 32;
	}
}

static void big_mul_small(struct big *a, uint32_t m)
{
	uint64_t carry = 0;
	unsigned i;

	for (i = 0; i < a->n; i++) {
		carry += (uint64_t)a->w[i] * m;
		a->w[i] = (uint32_t)carry;
		carry >>= 32;
	}
	if (carry)
		a->w[a->n++] = (uint32_t)carry;
}

static void big_mul_pow10(struct big *a, unsigned e)
{
	for (; e >= 9; e -= 9)
		big_mul_small(a, 1000000000u);
	while (e--)
		big_mul_small(a, 10);
}

static unsigned big_bits(const struct big *a)
{
	unsigned b = 0;
	uint32_t top;

	if (!a->n)
		return 0;
	for (top = a->w[a->n - 1]; top; top >>= 1)
		b++;
	return (a->n - 1) * 32 + b;
}

static void big_shl(struct big *a, unsigned k)
{
	unsigned words = k / 32, bits = k % 32, i;

	if (!a->n)
		return;
	a->w[a->n] = 0;
	for (i = a->n + 1; i-- > 0;) {
		uint32_t hi = a->w[i] << bits;

		if (bits && i > 0)
			hi |= a->w[i - 1] >> (32 - bits);
		a->w[i + words] = hi;
	}
	for (i = 0; i < words; i++)
		a->w[i] = 0;
	a->n += words + 1;
	while (a->n && !a->w[a->n - 1])
		a->n--;
}

static void big_shr1(struct big *a)
{
	unsigned i;

	for (i = 0; i < a->n; i++)
		a->w[i] = a->w[i] >> 1 | (i + 1 < a->n ? a->w[i + 1] << 31 : 0);
	while (a->n && !a->w[a->n - 1])
		a->n--;
}

static int big_cmp(const struct big *a, const struct big *b)
{
	unsigned i;

	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (i = a->n; i-- > 0;)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

/* a -= b, b <= a. */
static void big_sub(struct big *a, const struct big *b)
{
	uint64_t borrow = 0;
	unsigned i;

	for (i = 0; i < a->n; i++) {
		uint64_t d = (uint64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;

		a->w[i] = (uint32_t)d;
		borrow = d >> 63;
	}
	while (a->n && !a->w[a->n - 1])
		a->n--;
}

int edge_decimal_read(const char *s, size_t n, double *out)
{
	const char *end = s + n;
	uint64_t d = 0, bits, q = 0;
	long e10 = 0, ex = 0;
	int neg = 0, frac = 0, ndig = 0, eneg = 0, shift, s2, i, round, sticky;
	unsigned rshift;
	double v;

	if (s < end && *s == '-') {
		neg = 1;
		s++;
	}
	for (; s < end && *s != 'e' && *s != 'E'; s++) {
		int digit;

		if (*s == '.') {
			frac = 1;
			continue;
		}
		digit = *s - '0';
		if (d == 0 && digit == 0) {
			e10 -= frac; /* a leading zero after the point */
			continue;
		}
		if (ndig < 19) {
			d = d * 10 + (uint64_t)digit;
			ndig++;
			e10 -= frac;
		} else if (digit) {
			return -ERANGE;
		} else {
			e10 += !frac; /* a dropped zero before the point */
		}
	}
	if (s < end) {
		s++;
		if (*s == '-' || *s == '+')
			eneg = *s++ == '-';
		for (; s < end; s++)
			if (ex < 100000) /* far past any double: clamp */
				ex = ex * 10 + (*s - '0');
		e10 += eneg ? -ex : ex;
	}
	bits = 0;
	if (d == 0 || ndig + e10 < -324) /* below half the least subnormal */
		goto done;
	if (ndig + e10 > 310)
		return -ERANGE;
	{
		struct big num, den;

		big_set(&num, d);
		big_set(&den, 1);
		if (e10 >= 0)
			big_mul_pow10(&num, (unsigned)e10);
		else
			big_mul_pow10(&den, (unsigned)-e10);
		/* num / den * 2^s2 in [2^53, 2^54). */
		s2 = 53 - ((int)big_bits(&num) - (int)big_bits(&den));
		if (s2 > 0)
			big_shl(&num, (unsigned)s2);
		else
			big_shl(&den, (unsigned)-s2);
		big_shl(&den, 53);
		if (big_cmp(&num, &den) < 0) {
			s2++;
			big_shl(&num, 1);
		}
		for (i = 53; i >= 0; i--) {
			if (big_cmp(&num, &den) >= 0) {
				big_sub(&num, &den);
				q |= (uint64_t)1 << i;
			}
			big_shr1(&den);
		}
		sticky = num.n != 0;
	}
	/* value ~ q * 2^-s2; the ulp is 2^(1-s2), or 2^-1074 below normals. */
	shift = s2 - 1074 > 1 ? s2 - 1074 : 1;
	if (shift > 55)
		goto done;
	rshift = (unsigned)shift;
	round = (int)(q >> (rshift - 1) & 1);
	sticky |= (q & (((uint64_t)1 << (rshift - 1)) - 1)) != 0;
	q >>= rshift;
	if (round && (sticky || (q & 1)))
		q++;
	if (rshift > 1) {
		bits = q; /* subnormal; 2^52 is the least normal, same bits */
	} else {
		long e2 = 52 + 1 - s2;

		if (q >> 53) {
			q >>= 1;
			e2++;
		}
		if (e2 > 1023)
			return -ERANGE;
		bits = (uint64_t)(e2 + 1023) << 52 | (q & (((uint64_t)1 << 52) - 1));
	}
done:
	bits |= (uint64_t)neg << 63;
	memcpy(&v, &bits, sizeof v);
	*out = v;
	return 0;
}

