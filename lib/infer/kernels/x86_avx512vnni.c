/* AVX-512 VNNI kernels (512-bit vpdpbusd). Compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512vnni; only called after a run-time
 * CPU check. The dot product takes the input as unsigned (x + 128); the
 * gemm offset already subtracts 128 * sum(w). */
#include <immintrin.h>
#include <string.h>

#include "../infer_op.h"
#include "edge_opt.h"
#include "opt_dw_pixels.h"
#include "opt_internal.h"

#define NR 16
#define MR_MAX EDGE__OPT_MAX_MR

/* SaturatingRoundingDoublingHighMul on 16 lanes (multipliers >= 0, so the
 * INT32_MIN x INT32_MIN case cannot occur): floor((a*m + 2^30) / 2^31). */
static inline __m512i srdhm16(__m512i a, __m512i mult)
{
	const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30);
	__m512i pe = _mm512_mul_epi32(a, mult);
	__m512i po = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(mult, 32));
	pe = _mm512_srli_epi64(_mm512_add_epi64(pe, nudge), 31);
	po = _mm512_srli_epi64(_mm512_add_epi64(po, nudge), 31);
	return _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/* RoundingDivideByPOT on 16 lanes: round half away from zero. */
static inline __m512i rdbpot16(__m512i h, __m512i rs)
{
	const __m512i one = _mm512_set1_epi32(1);
	__m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, rs), one);
	__m512i rem = _mm512_and_si512(h, mask);
	__m512i thr = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(h, 31));
	__m512i r = _mm512_srav_epi32(h, rs);
	return _mm512_mask_add_epi32(r, _mm512_cmpgt_epi32_mask(rem, thr), r, one);
}

static inline __m128i clamp_pack16(__m512i r, int32_t zp, int32_t lo, int32_t hi)
{
	r = _mm512_add_epi32(r, _mm512_set1_epi32(zp));
	r = _mm512_max_epi32(r, _mm512_set1_epi32(lo));
	r = _mm512_min_epi32(r, _mm512_set1_epi32(hi));
	return _mm512_cvtepi32_epi8(r);
}

/* Double-rounding MultiplyByQuantizedMultiplier per channel, then out_zp
 * and the activation clamp: bit-exact with edge__opt_requant1(). */
static inline __m128i requant16(__m512i acc, const edge__opt_requant *rq, int c0)
{
	__m512i a = _mm512_sllv_epi32(acc, _mm512_loadu_si512(rq->lshift + c0));
	__m512i h = srdhm16(a, _mm512_loadu_si512(rq->mult + c0));
	__m512i r = rdbpot16(h, _mm512_loadu_si512(rq->rshift + c0));
	return clamp_pack16(r, rq->out_zp, rq->act_min, rq->act_max);
}

static inline __mmask16 tail_mask16(int n)
{
	return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

static inline __attribute__((always_inline)) void gemm_tile(const edge__opt_gemm *g, const int8_t *const *rows,
							     int8_t *const *outs, const int mr)
{
	for (int ob = 0; ob < g->n_blocks; ob++) {
		const int8_t *wp = g->packed + (size_t)ob * g->k4 * (NR * 4);
		__m512i acc[MR_MAX];
		for (int m = 0; m < mr; m++)
			acc[m] = _mm512_setzero_si512();
		for (int k = 0; k < g->k4; k++) {
			__m512i w = _mm512_loadu_si512(wp + (size_t)k * (NR * 4));
			for (int m = 0; m < mr; m++) {
				int32_t x4;
				memcpy(&x4, rows[m] + 4 * k, 4);
				acc[m] = _mm512_dpbusd_epi32(acc[m], _mm512_set1_epi32(x4), w);
			}
		}
		const int c0 = ob * NR;
		const __m512i off = _mm512_loadu_si512(g->offset + c0);
		const __mmask16 st = tail_mask16(g->n_out - c0);
		for (int m = 0; m < mr; m++) {
			__m128i o = requant16(_mm512_add_epi32(acc[m], off), &g->rq, c0);
			_mm_mask_storeu_epi8(outs[m] + c0, st, o);
		}
	}
}

#include "opt_gemm_tiles.h"

/* One output pixel, channels [c0, c0 + 16) with int32 lanes (narrow layers). */
static inline __attribute__((always_inline)) __m512i dw_acc16(const edge__opt_node *o, const edge__opt_dw_taps *t,
							       int c0, __mmask16 lm)
{
	const edge__opt_dw *d = &o->dw;
	const __m512i zp = _mm512_set1_epi32(d->in_zp);
	__m512i acc = _mm512_maskz_loadu_epi32(lm, d->bias + c0);
	for (int ky = t->ky0; ky < t->ky1; ky++) {
		const int8_t *xp = edge__opt_dw_x_row(t, ky);
		const int8_t *wp = edge__opt_dw_w_row(o, t, ky);
		for (int kx = t->kx0; kx < t->kx1; kx++, xp += t->xs_x, wp += o->out_c) {
			__m512i xv = d->x_broadcast ? _mm512_set1_epi32(xp[0] - d->in_zp)
						    : _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lm, xp + c0)), zp);
			__m512i wv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lm, wp + c0));
			acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, wv));
		}
	}
	return acc;
}

/* One depthwise output pixel: channel chunks of 32 (int16 products) or 16
 * (int32 products), masked at the end. */
static inline __attribute__((always_inline)) void dw_pixel(const edge__opt_node *o, const edge__opt_dw_taps *t,
							    int8_t *px)
{
	const edge__opt_dw *d = &o->dw;
	const __m512i zp16 = _mm512_set1_epi16((int16_t)d->in_zp);
	int c0 = 0;
	for (; d->channels - c0 > 16; c0 += 32) {
		const int n = d->channels - c0;
		const __mmask32 lm = n >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << n) - 1u);
		__m512i lo = _mm512_loadu_si512(d->bias + c0);
		__m512i hi = _mm512_loadu_si512(d->bias + c0 + 16);
		for (int ky = t->ky0; ky < t->ky1; ky++) {
			const int8_t *xp = edge__opt_dw_x_row(t, ky);
			const int8_t *wp = edge__opt_dw_w_row(o, t, ky);
			for (int kx = t->kx0; kx < t->kx1; kx++, xp += t->xs_x, wp += o->out_c) {
				__m512i xv = d->x_broadcast
						     ? _mm512_set1_epi16((int16_t)(xp[0] - d->in_zp))
						     : _mm512_sub_epi16(_mm512_cvtepi8_epi16(
								_mm256_maskz_loadu_epi8(lm, xp + c0)), zp16);
				__m512i wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(lm, wp + c0));
				__m512i p = _mm512_mullo_epi16(xv, wv);
				lo = _mm512_add_epi32(lo, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(p)));
				hi = _mm512_add_epi32(hi, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(p, 1)));
			}
		}
		_mm_mask_storeu_epi8(px + c0, tail_mask16(n), requant16(lo, &d->rq, c0));
		if (n > 16)
			_mm_mask_storeu_epi8(px + c0 + 16, tail_mask16(n - 16), requant16(hi, &d->rq, c0 + 16));
	}
	if (c0 < d->channels) {
		const __mmask16 lm = tail_mask16(d->channels - c0);
		_mm_mask_storeu_epi8(px + c0, lm, requant16(dw_acc16(o, t, c0, lm), &d->rq, c0));
	}
}

static void dw_all(const edge__opt_node *o, const int8_t *in, int8_t *out)
{
	edge__opt_dw_for_each_pixel(o, in, out, dw_pixel);
}

static void add(const edge__opt_add *p, const int8_t *x1, const int8_t *x2, int8_t *out, int32_t n)
{
	const __m512i z1 = _mm512_set1_epi32(p->in1_zp), z2 = _mm512_set1_epi32(p->in2_zp);
	const __m512i m1 = _mm512_set1_epi32(p->m1), m2 = _mm512_set1_epi32(p->m2), mo = _mm512_set1_epi32(p->mo);
	const __m512i r1 = _mm512_set1_epi32(p->rs1), r2 = _mm512_set1_epi32(p->rs2), ro = _mm512_set1_epi32(p->rso);
	const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
	int32_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512i a = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x1 + i)));
		__m512i b = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x2 + i)));
		a = rdbpot16(srdhm16(_mm512_sll_epi32(_mm512_sub_epi32(a, z1), ls), m1), r1);
		b = rdbpot16(srdhm16(_mm512_sll_epi32(_mm512_sub_epi32(b, z2), ls), m2), r2);
		__m512i s = p->sub ? _mm512_sub_epi32(a, b) : _mm512_add_epi32(a, b);
		__m512i r = rdbpot16(srdhm16(s, mo), ro);
		_mm_storeu_si128((__m128i *)(out + i), clamp_pack16(r, p->out_zp, p->act_min, p->act_max));
	}
	for (; i < n; i++)
		out[i] = edge__opt_add1(p, x1[i], x2[i]);
}

EDGE__OPT_DEFINE_ISA_OPS(edge__opt_avx512vnni_ops, EDGE_OPT_ISA_AVX512_VNNI, 1, 0);
