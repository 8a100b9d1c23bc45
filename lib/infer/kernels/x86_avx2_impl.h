/* 256-bit kernels shared by the AVX2 and AVX-VNNI flavours (included by
 * x86_avx2.c and x86_avxvnni.c, which define OPT_VNNI and the ops name).
 * Packed layout: blocks of 8 channels, 8 x 4 bytes per group of 4 k.
 * AVX2 rows are int16 (the dot product is vpmaddwd, exact); AVX-VNNI rows
 * are bytes x + 128 for vpdpbusd (u8 x s8, non-saturating). */
#include <immintrin.h>
#include <string.h>

#include "../infer_op.h"
#include "edge_opt.h"
#include "opt_dw_pixels.h"
#include "opt_internal.h"

#define NR 8

/* SaturatingRoundingDoublingHighMul on 8 lanes (multipliers >= 0):
 * floor((a*m + 2^30) / 2^31); bits 31..62 of the 64-bit sum, which a
 * logical shift leaves in the low dword as an arithmetic one would. */
static inline __m256i srdhm8(__m256i a, __m256i mult)
{
	const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
	__m256i pe = _mm256_mul_epi32(a, mult);
	__m256i po = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(mult, 32));
	pe = _mm256_srli_epi64(_mm256_add_epi64(pe, nudge), 31);
	po = _mm256_srli_epi64(_mm256_add_epi64(po, nudge), 31);
	return _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}

/* RoundingDivideByPOT on 8 lanes: round half away from zero. */
static inline __m256i rdbpot8(__m256i h, __m256i rs)
{
	const __m256i one = _mm256_set1_epi32(1);
	__m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, rs), one);
	__m256i rem = _mm256_and_si256(h, mask);
	__m256i thr = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(h, 31));
	return _mm256_sub_epi32(_mm256_srav_epi32(h, rs), _mm256_cmpgt_epi32(rem, thr));
}

/* + zero point, clamp, narrow to 8 bytes (low half of the result). */
static inline __m128i clamp_pack8(__m256i r, int32_t zp, int32_t lo, int32_t hi)
{
	r = _mm256_add_epi32(r, _mm256_set1_epi32(zp));
	r = _mm256_max_epi32(r, _mm256_set1_epi32(lo));
	r = _mm256_min_epi32(r, _mm256_set1_epi32(hi));
	__m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
	return _mm_packs_epi16(s16, s16);
}

/* Double-rounding MultiplyByQuantizedMultiplier per channel plus out_zp and
 * the clamp. Bit-exact with edge__opt_requant1(). */
static inline __m128i requant8(__m256i acc, const edge__opt_requant *rq, int c0)
{
	__m256i a = _mm256_sllv_epi32(acc, _mm256_loadu_si256((const __m256i *)(rq->lshift + c0)));
	__m256i h = srdhm8(a, _mm256_loadu_si256((const __m256i *)(rq->mult + c0)));
	__m256i r = rdbpot8(h, _mm256_loadu_si256((const __m256i *)(rq->rshift + c0)));
	return clamp_pack8(r, rq->out_zp, rq->act_min, rq->act_max);
}

static inline void store_n(int8_t *dst, __m128i v, int n)
{
	if (n >= 8) {
		_mm_storel_epi64((__m128i *)dst, v);
	} else {
		int8_t tmp[16];
		_mm_storeu_si128((__m128i *)tmp, v);
		memcpy(dst, tmp, (size_t)n);
	}
}

#ifdef OPT_VNNI
#define MR_MAX 8
static inline __attribute__((always_inline)) void gemm_tile(const edge__opt_gemm *g, const int8_t *const *rows,
							     int8_t *const *outs, const int mr)
{
	for (int ob = 0; ob < g->n_blocks; ob++) {
		const int8_t *wp = g->packed + (size_t)ob * g->k4 * (NR * 4);
		__m256i acc[MR_MAX];
		for (int m = 0; m < mr; m++)
			acc[m] = _mm256_setzero_si256();
		for (int k = 0; k < g->k4; k++) {
			__m256i w = _mm256_loadu_si256((const __m256i *)(wp + (size_t)k * (NR * 4)));
			for (int m = 0; m < mr; m++) {
				int32_t x4;
				memcpy(&x4, rows[m] + 4 * k, 4);
				acc[m] = _mm256_dpbusd_avx_epi32(acc[m], _mm256_set1_epi32(x4), w);
			}
		}
		const int c0 = ob * NR;
		const __m256i off = _mm256_loadu_si256((const __m256i *)(g->offset + c0));
		for (int m = 0; m < mr; m++)
			store_n(outs[m] + c0, requant8(_mm256_add_epi32(acc[m], off), &g->rq, c0), g->n_out - c0);
	}
}
#else
#define MR_MAX 4
/* Rows are int16: one 8-byte broadcast carries 4 k values. */
static inline __attribute__((always_inline)) void gemm_tile(const edge__opt_gemm *g, const int8_t *const *rows,
							     int8_t *const *outs, const int mr)
{
	for (int ob = 0; ob < g->n_blocks; ob++) {
		const int8_t *wp = g->packed + (size_t)ob * g->k4 * (NR * 4);
		__m256i lo[MR_MAX], hi[MR_MAX];
		for (int m = 0; m < mr; m++) {
			lo[m] = _mm256_setzero_si256();
			hi[m] = _mm256_setzero_si256();
		}
		for (int k = 0; k < g->k4; k++) {
			__m256i w = _mm256_loadu_si256((const __m256i *)(wp + (size_t)k * (NR * 4)));
			__m256i wl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(w));     /* ch 0..3 x k 0..3 */
			__m256i wh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(w, 1)); /* ch 4..7 */
			for (int m = 0; m < mr; m++) {
				int64_t x4;
				memcpy(&x4, (const int16_t *)(const void *)rows[m] + 4 * k, 8);
				__m256i xv = _mm256_set1_epi64x(x4);
				lo[m] = _mm256_add_epi32(lo[m], _mm256_madd_epi16(wl, xv));
				hi[m] = _mm256_add_epi32(hi[m], _mm256_madd_epi16(wh, xv));
			}
		}
		const int c0 = ob * NR;
		const __m256i off = _mm256_loadu_si256((const __m256i *)(g->offset + c0));
		for (int m = 0; m < mr; m++) {
			/* lanes: ch0 ch1 ch4 ch5 | ch2 ch3 ch6 ch7 -> channel order */
			__m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[m], hi[m]), 0xD8);
			store_n(outs[m] + c0, requant8(_mm256_add_epi32(s, off), &g->rq, c0), g->n_out - c0);
		}
	}
}
#endif

#include "opt_gemm_tiles.h"

static void add(const edge__opt_add *p, const int8_t *x1, const int8_t *x2, int8_t *out, int32_t n)
{
	const __m256i z1 = _mm256_set1_epi32(p->in1_zp), z2 = _mm256_set1_epi32(p->in2_zp);
	const __m256i m1 = _mm256_set1_epi32(p->m1), m2 = _mm256_set1_epi32(p->m2), mo = _mm256_set1_epi32(p->mo);
	const __m256i r1 = _mm256_set1_epi32(p->rs1), r2 = _mm256_set1_epi32(p->rs2), ro = _mm256_set1_epi32(p->rso);
	const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
	int32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256i a = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x1 + i)));
		__m256i b = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x2 + i)));
		a = rdbpot8(srdhm8(_mm256_sll_epi32(_mm256_sub_epi32(a, z1), ls), m1), r1);
		b = rdbpot8(srdhm8(_mm256_sll_epi32(_mm256_sub_epi32(b, z2), ls), m2), r2);
		__m256i s = p->sub ? _mm256_sub_epi32(a, b) : _mm256_add_epi32(a, b);
		__m256i r = rdbpot8(srdhm8(s, mo), ro);
		_mm_storel_epi64((__m128i *)(out + i), clamp_pack8(r, p->out_zp, p->act_min, p->act_max));
	}
	for (; i < n; i++)
		out[i] = edge__opt_add1(p, x1[i], x2[i]);
}

/* One depthwise output pixel: channel chunks of 16 (int16 products), 8
 * (int32 products), then scalar. */
static inline __attribute__((always_inline)) void dw_pixel(const edge__opt_node *o, const edge__opt_dw_taps *t,
							    int8_t *px)
{
	const edge__opt_dw *d = &o->dw;
	const __m256i zp16 = _mm256_set1_epi16((int16_t)d->in_zp);
	const __m256i zp32 = _mm256_set1_epi32(d->in_zp);
	int c0 = 0;
	for (; c0 + 16 <= d->channels; c0 += 16) {
		__m256i lo = _mm256_loadu_si256((const __m256i *)(d->bias + c0));
		__m256i hi = _mm256_loadu_si256((const __m256i *)(d->bias + c0 + 8));
		for (int ky = t->ky0; ky < t->ky1; ky++) {
			const int8_t *xp = edge__opt_dw_x_row(t, ky);
			const int8_t *wp = edge__opt_dw_w_row(o, t, ky);
			for (int kx = t->kx0; kx < t->kx1; kx++, xp += t->xs_x, wp += o->out_c) {
				__m256i xv = d->x_broadcast
						     ? _mm256_set1_epi16((int16_t)(xp[0] - d->in_zp))
						     : _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(
								(const __m128i *)(xp + c0))), zp16);
				__m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + c0)));
				__m256i p = _mm256_mullo_epi16(xv, wv);
				lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
				hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
			}
		}
		_mm_storel_epi64((__m128i *)(px + c0), requant8(lo, &d->rq, c0));
		_mm_storel_epi64((__m128i *)(px + c0 + 8), requant8(hi, &d->rq, c0 + 8));
	}
	for (; c0 + 8 <= d->channels; c0 += 8) {
		__m256i acc = _mm256_loadu_si256((const __m256i *)(d->bias + c0));
		for (int ky = t->ky0; ky < t->ky1; ky++) {
			const int8_t *xp = edge__opt_dw_x_row(t, ky);
			const int8_t *wp = edge__opt_dw_w_row(o, t, ky);
			for (int kx = t->kx0; kx < t->kx1; kx++, xp += t->xs_x, wp += o->out_c) {
				__m256i xv = d->x_broadcast
						     ? _mm256_set1_epi32(xp[0] - d->in_zp)
						     : _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64(
								(const __m128i *)(xp + c0))), zp32);
				__m256i wv = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(wp + c0)));
				acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, wv));
			}
		}
		_mm_storel_epi64((__m128i *)(px + c0), requant8(acc, &d->rq, c0));
	}
	for (; c0 < d->channels; c0++)
		px[c0] = edge__opt_dw_channel1(o, t, c0);
}

static void dw_all(const edge__opt_node *o, const int8_t *in, int8_t *out)
{
	edge__opt_dw_for_each_pixel(o, in, out, dw_pixel);
}
