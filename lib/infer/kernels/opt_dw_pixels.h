/* The depthwise walk over output pixels shared by every instruction-set
 * flavour: per pixel, the window taps that fall inside the input (outside
 * positions are skipped, as in the reference). ISA-neutral static inline
 * code, compiled into each flavour with its own flags. */
#ifndef EDGE_INFER_OPT_DW_PIXELS_H
#define EDGE_INFER_OPT_DW_PIXELS_H

#include <stddef.h>
#include <stdint.h>

#include "opt_internal.h"

/* The valid taps of one output pixel: ky in [ky0, ky1), kx in [kx0, kx1);
 * tap (ky, kx) reads xbase + (ky - ky0) * xs_y + (kx - kx0) * xs_x. */
typedef struct edge__opt_dw_taps {
	const int8_t *xbase;
	int ky0, ky1, kx0, kx1;
	size_t xs_y, xs_x;
} edge__opt_dw_taps;

/* Input of the first valid tap in row ky. */
static inline const int8_t *edge__opt_dw_x_row(const edge__opt_dw_taps *t, int ky)
{
	return t->xbase + (size_t)(ky - t->ky0) * t->xs_y;
}

/* Filter of the first valid tap in row ky. */
static inline const int8_t *edge__opt_dw_w_row(const edge__opt_node *o, const edge__opt_dw_taps *t, int ky)
{
	return o->filter + ((size_t)ky * o->k_w + (size_t)t->kx0) * o->out_c;
}

/* One channel of one pixel, scalar: the tail the vector chunks leave. */
static inline int8_t edge__opt_dw_channel1(const edge__opt_node *o, const edge__opt_dw_taps *t, int c)
{
	const edge__opt_dw *d = &o->dw;
	int32_t acc = d->bias[c];
	for (int ky = t->ky0; ky < t->ky1; ky++) {
		const int8_t *xp = edge__opt_dw_x_row(t, ky);
		const int8_t *wp = edge__opt_dw_w_row(o, t, ky);
		for (int kx = t->kx0; kx < t->kx1; kx++, xp += t->xs_x, wp += o->out_c)
			acc += (int32_t)wp[c] * ((d->x_broadcast ? xp[0] : xp[c]) - d->in_zp);
	}
	return edge__opt_requant1(&d->rq, c, acc);
}

/* Calls pixel(o, taps, px) for every output pixel, px its out_c bytes.
 * Always inlined so that each flavour's pixel function is inlined too. */
static inline __attribute__((always_inline)) void
edge__opt_dw_for_each_pixel(const edge__opt_node *o, const int8_t *in, int8_t *out,
			    void (*pixel)(const edge__opt_node *o, const edge__opt_dw_taps *t, int8_t *px))
{
	edge__opt_dw_taps t;
	t.xs_y = (size_t)o->dil_h * o->in_w * o->in_c;
	t.xs_x = (size_t)o->dil_w * o->in_c;
	for (int32_t b = 0; b < o->batches; b++)
		for (int32_t oy = 0; oy < o->out_h; oy++) {
			const int32_t iy0 = oy * o->stride_h - o->pad_top;
			edge__opt_tap_range(iy0, o->k_h, o->dil_h, o->in_h, &t.ky0, &t.ky1);
			for (int32_t ox = 0; ox < o->out_w; ox++) {
				const int32_t ix0 = ox * o->stride_w - o->pad_left;
				edge__opt_tap_range(ix0, o->k_w, o->dil_w, o->in_w, &t.kx0, &t.kx1);
				t.xbase = in;
				if (t.ky0 < t.ky1 && t.kx0 < t.kx1)
					t.xbase += (((size_t)b * o->in_h + (size_t)(iy0 + t.ky0 * o->dil_h)) * o->in_w +
						    (size_t)(ix0 + t.kx0 * o->dil_w)) * o->in_c;
				pixel(o, &t, out + (((size_t)b * o->out_h + (size_t)oy) * o->out_w + (size_t)ox) * o->out_c);
			}
		}
}

#endif
