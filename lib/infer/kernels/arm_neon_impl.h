/* NEON kernels shared by the plain NEON and the dot-product flavours
 * (included by arm_neon.c and arm_dotprod.c, which define OPT_DOTPROD and
 * the ops name). Packed layout: blocks of 8 channels, 8 x 4 bytes per group
 * of 4 k; rows are the raw int8 input (s8 x s8 products). */
#include <arm_neon.h>
#include <string.h>

#include "../infer_op.h"
#include "edge_opt.h"
#include "opt_dw_pixels.h"
#include "opt_internal.h"

#define NR 8

/* RoundingDivideByPOT on 4 lanes (rs >= 0): round half away from zero. */
static inline int32x4_t rdbpot4(int32x4_t h, int32x4_t rs)
{
	const int32x4_t one = vdupq_n_s32(1);
	int32x4_t mask = vsubq_s32(vshlq_s32(one, rs), one);
	int32x4_t rem = vandq_s32(h, mask);
	int32x4_t thr = vsubq_s32(vshrq_n_s32(mask, 1), vshrq_n_s32(h, 31));
	int32x4_t r = vshlq_s32(h, vnegq_s32(rs));
	return vsubq_s32(r, vreinterpretq_s32_u32(vcgtq_s32(rem, thr)));
}

static inline int32x4_t clamp4(int32x4_t r, int32_t zp, int32_t lo, int32_t hi)
{
	r = vaddq_s32(r, vdupq_n_s32(zp));
	r = vmaxq_s32(r, vdupq_n_s32(lo));
	return vminq_s32(r, vdupq_n_s32(hi));
}

/* Double-rounding MultiplyByQuantizedMultiplier per channel on 4 lanes,
 * with out_zp and the clamp. vqrdmulh is exactly
 * SaturatingRoundingDoublingHighMul. */
static inline int32x4_t mbqm4(int32x4_t acc, const edge__opt_requant *rq, int c0)
{
	int32x4_t a = vshlq_s32(acc, vld1q_s32(rq->lshift + c0));
	int32x4_t h = vqrdmulhq_s32(a, vld1q_s32(rq->mult + c0));
	return clamp4(rdbpot4(h, vld1q_s32(rq->rshift + c0)), rq->out_zp, rq->act_min, rq->act_max);
}

static inline int8x8_t requant8(int32x4_t a, int32x4_t b, const edge__opt_requant *rq, int c0)
{
	int16x8_t s = vcombine_s16(vqmovn_s32(mbqm4(a, rq, c0)), vqmovn_s32(mbqm4(b, rq, c0 + 4)));
	return vqmovn_s16(s);
}

static inline void store_n(int8_t *dst, int8x8_t v, int n)
{
	if (n >= 8) {
		vst1_s8(dst, v);
	} else {
		int8_t tmp[8];
		vst1_s8(tmp, v);
		memcpy(dst, tmp, (size_t)n);
	}
}

static inline int8x16_t dup4(const int8_t *p)
{
	int32_t x4;
	memcpy(&x4, p, 4);
	return vreinterpretq_s8_s32(vdupq_n_s32(x4));
}

#ifdef OPT_DOTPROD
#define MR_MAX 8
static inline __attribute__((always_inline)) void gemm_tile(const edge__opt_gemm *g, const int8_t *const *rows,
							     int8_t *const *outs, const int mr)
{
	for (int ob = 0; ob < g->n_blocks; ob++) {
		const int8_t *wp = g->packed + (size_t)ob * g->k4 * (NR * 4);
		int32x4_t a0[MR_MAX], a1[MR_MAX];
		for (int m = 0; m < mr; m++) {
			a0[m] = vdupq_n_s32(0);
			a1[m] = vdupq_n_s32(0);
		}
		for (int k = 0; k < g->k4; k++) {
			int8x16_t w0 = vld1q_s8(wp + (size_t)k * (NR * 4));
			int8x16_t w1 = vld1q_s8(wp + (size_t)k * (NR * 4) + 16);
			for (int m = 0; m < mr; m++) {
				int8x16_t xv = dup4(rows[m] + 4 * k);
				a0[m] = vdotq_s32(a0[m], w0, xv);
				a1[m] = vdotq_s32(a1[m], w1, xv);
			}
		}
		const int c0 = ob * NR;
		const int32x4_t o0 = vld1q_s32(g->offset + c0), o1 = vld1q_s32(g->offset + c0 + 4);
		for (int m = 0; m < mr; m++)
			store_n(outs[m] + c0, requant8(vaddq_s32(a0[m], o0), vaddq_s32(a1[m], o1), &g->rq, c0), g->n_out - c0);
	}
}
#else
#define MR_MAX 4
/* smull into int16 (|w x| <= 2^14), sadalp pairs into int32. */
static inline __attribute__((always_inline)) void gemm_tile(const edge__opt_gemm *g, const int8_t *const *rows,
							     int8_t *const *outs, const int mr)
{
	for (int ob = 0; ob < g->n_blocks; ob++) {
		const int8_t *wp = g->packed + (size_t)ob * g->k4 * (NR * 4);
		int32x4_t a[MR_MAX][4];
		for (int m = 0; m < mr; m++)
			for (int j = 0; j < 4; j++)
				a[m][j] = vdupq_n_s32(0);
		for (int k = 0; k < g->k4; k++) {
			int8x16_t w0 = vld1q_s8(wp + (size_t)k * (NR * 4));
			int8x16_t w1 = vld1q_s8(wp + (size_t)k * (NR * 4) + 16);
			for (int m = 0; m < mr; m++) {
				int8x16_t xv = dup4(rows[m] + 4 * k);
				a[m][0] = vpadalq_s16(a[m][0], vmull_s8(vget_low_s8(w0), vget_low_s8(xv)));
				a[m][1] = vpadalq_s16(a[m][1], vmull_high_s8(w0, xv));
				a[m][2] = vpadalq_s16(a[m][2], vmull_s8(vget_low_s8(w1), vget_low_s8(xv)));
				a[m][3] = vpadalq_s16(a[m][3], vmull_high_s8(w1, xv));
			}
		}
		const int c0 = ob * NR;
		const int32x4_t o0 = vld1q_s32(g->offset + c0), o1 = vld1q_s32(g->offset + c0 + 4);
		for (int m = 0; m < mr; m++) {
			int32x4_t s0 = vaddq_s32(vpaddq_s32(a[m][0], a[m][1]), o0);
			int32x4_t s1 = vaddq_s32(vpaddq_s32(a[m][2], a[m][3]), o1);
			store_n(outs[m] + c0, requant8(s0, s1, &g->rq, c0), g->n_out - c0);
		}
	}
}
#endif

#include "opt_gemm_tiles.h"

static inline int32x4_t add_scale4(int32x4_t v, int32x4_t zp, int32x4_t ls, int32x4_t m, int32x4_t rs)
{
	return rdbpot4(vqrdmulhq_s32(vshlq_s32(vsubq_s32(v, zp), ls), m), rs);
}

static void add(const edge__opt_add *p, const int8_t *x1, const int8_t *x2, int8_t *out, int32_t n)
{
	const int32x4_t z1 = vdupq_n_s32(p->in1_zp), z2 = vdupq_n_s32(p->in2_zp), ls = vdupq_n_s32(p->left_shift);
	const int32x4_t m1 = vdupq_n_s32(p->m1), m2 = vdupq_n_s32(p->m2), mo = vdupq_n_s32(p->mo);
	const int32x4_t r1 = vdupq_n_s32(p->rs1), r2 = vdupq_n_s32(p->rs2), ro = vdupq_n_s32(p->rso);
	int32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		int16x8_t a16 = vmovl_s8(vld1_s8(x1 + i)), b16 = vmovl_s8(vld1_s8(x2 + i));
		int32x4_t r[2];
		for (int h = 0; h < 2; h++) {
			int32x4_t a = vmovl_s16(h ? vget_high_s16(a16) : vget_low_s16(a16));
			int32x4_t b = vmovl_s16(h ? vget_high_s16(b16) : vget_low_s16(b16));
			a = add_scale4(a, z1, ls, m1, r1);
			b = add_scale4(b, z2, ls, m2, r2);
			int32x4_t s = p->sub ? vsubq_s32(a, b) : vaddq_s32(a, b);
			r[h] = clamp4(rdbpot4(vqrdmulhq_s32(s, mo), ro), p->out_zp, p->act_min, p->act_max);
		}
		vst1_s8(out + i, vqmovn_s16(vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]))));
	}
	for (; i < n; i++)
		out[i] = edge__opt_add1(p, x1[i], x2[i]);
}

/* One depthwise output pixel: 8-channel chunks, then scalar. */
static inline __attribute__((always_inline)) void dw_pixel(const edge__opt_node *o, const edge__opt_dw_taps *t,
							    int8_t *px)
{
	const edge__opt_dw *d = &o->dw;
	const int16x8_t zp = vdupq_n_s16((int16_t)d->in_zp);
	int c0 = 0;
	for (; c0 + 8 <= d->channels; c0 += 8) {
		int32x4_t lo = vld1q_s32(d->bias + c0);
		int32x4_t hi = vld1q_s32(d->bias + c0 + 4);
		for (int ky = t->ky0; ky < t->ky1; ky++) {
			const int8_t *xp = edge__opt_dw_x_row(t, ky);
			const int8_t *wp = edge__opt_dw_w_row(o, t, ky);
			for (int kx = t->kx0; kx < t->kx1; kx++, xp += t->xs_x, wp += o->out_c) {
				int16x8_t xv = d->x_broadcast ? vdupq_n_s16((int16_t)(xp[0] - d->in_zp))
							      : vsubq_s16(vmovl_s8(vld1_s8(xp + c0)), zp);
				int16x8_t wv = vmovl_s8(vld1_s8(wp + c0));
				lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(wv));
				hi = vmlal_high_s16(hi, xv, wv);
			}
		}
		vst1_s8(px + c0, requant8(lo, hi, &d->rq, c0));
	}
	for (; c0 < d->channels; c0++)
		px[c0] = edge__opt_dw_channel1(o, t, c0);
}

static void dw_all(const edge__opt_node *o, const int8_t *in, int8_t *out)
{
	edge__opt_dw_for_each_pixel(o, in, out, dw_pixel);
}
