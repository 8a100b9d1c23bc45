/* NEON kernels shared by the plain NEON and the dot-product flavours
 * (included by arm_neon.c and arm_dotprod.c, which define OPT_DOTPROD and
 * the ops name). Packed layout: blocks of 8 channels, 8 x 4 bytes per group
 * of 4 k; rows are the raw int8 input (s8 x s8 products). */
#include <arm_neon.h>
#include <string.h>

#include "../infer_op.h"
#include "edge_opt.h"
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

static void gemm(const edge__opt_gemm *g, const int8_t *const *rows, int n_rows, int8_t *const *outs)
{
	while (n_rows > 0) {
		int n = n_rows < MR_MAX ? n_rows : MR_MAX;
		switch (n) {
		case 1: gemm_tile(g, rows, outs, 1); break;
		case 2: gemm_tile(g, rows, outs, 2); break;
		case 3: gemm_tile(g, rows, outs, 3); break;
#if MR_MAX > 4
		case 4: gemm_tile(g, rows, outs, 4); break;
		case 5: gemm_tile(g, rows, outs, 5); break;
		case 6: gemm_tile(g, rows, outs, 6); break;
		case 7: gemm_tile(g, rows, outs, 7); break;
#endif
		default: gemm_tile(g, rows, outs, MR_MAX); break;
		}
		rows += n;
		outs += n;
		n_rows -= n;
	}
}


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

/* The whole depthwise operator: valid tap ranges per output pixel (outside
 * positions skipped as in the reference); 8-channel chunks, scalar tail. */
static void dw_all(const edge__opt_node *o, const int8_t *in, int8_t *out)
{
	const edge__opt_dw *d = &o->dw;
	const int16x8_t zp = vdupq_n_s16((int16_t)d->in_zp);
	const size_t xs_y = (size_t)o->dil_h * o->in_w * o->in_c, xs_x = (size_t)o->dil_w * o->in_c;
	for (int32_t b = 0; b < o->batches; b++)
		for (int32_t oy = 0; oy < o->out_h; oy++) {
			const int32_t iy0 = oy * o->stride_h - o->pad_top;
			int ky0, ky1;
			edge__opt_tap_range(iy0, o->k_h, o->dil_h, o->in_h, &ky0, &ky1);
			for (int32_t ox = 0; ox < o->out_w; ox++) {
				const int32_t ix0 = ox * o->stride_w - o->pad_left;
				int kx0, kx1;
				edge__opt_tap_range(ix0, o->k_w, o->dil_w, o->in_w, &kx0, &kx1);
				const int8_t *xbase = in;
				if (ky0 < ky1 && kx0 < kx1)
					xbase += (((size_t)b * o->in_h + (size_t)(iy0 + ky0 * o->dil_h)) * o->in_w +
						  (size_t)(ix0 + kx0 * o->dil_w)) * o->in_c;
				int8_t *px = out + (((size_t)b * o->out_h + (size_t)oy) * o->out_w + (size_t)ox) * o->out_c;
				int c0 = 0;
				for (; c0 + 8 <= d->channels; c0 += 8) {
					int32x4_t lo = vld1q_s32(d->bias + c0);
					int32x4_t hi = vld1q_s32(d->bias + c0 + 4);
					for (int ky = ky0; ky < ky1; ky++) {
						const int8_t *xp = xbase + (size_t)(ky - ky0) * xs_y;
						const int8_t *wp = o->filter + ((size_t)ky * o->k_w + (size_t)kx0) * o->out_c;
						for (int kx = kx0; kx < kx1; kx++, xp += xs_x, wp += o->out_c) {
							int16x8_t xv = d->x_broadcast ? vdupq_n_s16((int16_t)(xp[0] - d->in_zp))
										      : vsubq_s16(vmovl_s8(vld1_s8(xp + c0)), zp);
							int16x8_t wv = vmovl_s8(vld1_s8(wp + c0));
							lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(wv));
							hi = vmlal_high_s16(hi, xv, wv);
						}
					}
					vst1_s8(px + c0, requant8(lo, hi, &d->rq, c0));
				}
				for (; c0 < d->channels; c0++) {
					int32_t acc = d->bias[c0];
					for (int ky = ky0; ky < ky1; ky++) {
						const int8_t *xp = xbase + (size_t)(ky - ky0) * xs_y;
						const int8_t *wp = o->filter + ((size_t)ky * o->k_w + (size_t)kx0) * o->out_c;
						for (int kx = kx0; kx < kx1; kx++, xp += xs_x, wp += o->out_c)
							acc += (int32_t)wp[c0] * ((d->x_broadcast ? xp[0] : xp[c0]) - d->in_zp);
					}
					px[c0] = edge__opt_requant1(&d->rq, c0, acc);
				}
			}
		}
}
