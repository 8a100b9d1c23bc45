/* ISA-neutral drivers of the optimised kernels: build GEMM rows (im2col
 * with the input zero point at padding positions, which then contributes
 * nothing after the offset correction) and tile output pixels. Depthwise
 * operators run whole inside each flavour (dw_all). */
#include <string.h>

#include "opt_internal.h"

/* Copy n input bytes into a row in the flavour's row format. */
static void put_bytes(const edge__opt_isa_ops *ops, int8_t *row, int32_t at, const int8_t *src, int32_t n)
{
	if (ops->row_i16) {
		int16_t *d = (int16_t *)(void *)row + at;
		for (int32_t i = 0; i < n; i++)
			d[i] = src[i];
	} else if (ops->x_u8) {
		/* x + 128 as unsigned = flip the sign bit, 8 bytes at a time */
		uint8_t *d = (uint8_t *)row + at;
		int32_t i = 0;
		for (; i + 8 <= n; i += 8) {
			uint64_t v;
			memcpy(&v, src + i, 8);
			v ^= 0x8080808080808080ull;
			memcpy(d + i, &v, 8);
		}
		for (; i < n; i++)
			d[i] = (uint8_t)src[i] ^ 0x80u;
	} else {
		memcpy(row + at, src, (size_t)n);
	}
}

/* Fill n row positions with the raw value v (padding: the input zero point). */
static void put_fill(const edge__opt_isa_ops *ops, int8_t *row, int32_t at, int32_t v, int32_t n)
{
	if (ops->row_i16) {
		int16_t *d = (int16_t *)(void *)row + at;
		for (int32_t i = 0; i < n; i++)
			d[i] = (int16_t)v;
	} else {
		memset(row + at, ops->x_u8 ? (int)((uint8_t)(int8_t)v ^ 0x80u) : (int)(uint8_t)(int8_t)v, (size_t)n);
	}
}

static void finish_row(const edge__opt_node *o, int8_t *row)
{
	int32_t k_pad = o->gemm.k4 * 4;
	if (k_pad > o->k)
		put_fill(o->ops, row, o->k, 0, k_pad - o->k); /* zero weights there: any value */
}

static void build_conv_row(const edge__opt_node *o, const int8_t *in, int32_t b, int32_t oy, int32_t ox, int8_t *row)
{
	const edge__opt_isa_ops *ops = o->ops;
	const int32_t iy0 = oy * o->stride_h - o->pad_top;
	const int32_t ix0 = ox * o->stride_w - o->pad_left;
	const int32_t span = o->k_w * o->in_c;
	const int32_t ix_last = ix0 + (o->k_w - 1) * o->dil_w;
	int32_t at = 0;
	for (int32_t ky = 0; ky < o->k_h; ky++, at += span) {
		const int32_t iy = iy0 + ky * o->dil_h;
		if (iy < 0 || iy >= o->in_h) {
			put_fill(ops, row, at, o->in_zp, span);
			continue;
		}
		const int8_t *line = in + ((size_t)b * o->in_h + (size_t)iy) * o->in_w * o->in_c;
		if (o->dil_w == 1 && ix0 >= 0 && ix_last < o->in_w) {
			put_bytes(ops, row, at, line + (size_t)ix0 * o->in_c, span);
			continue;
		}
		for (int32_t kx = 0; kx < o->k_w; kx++) {
			const int32_t ix = ix0 + kx * o->dil_w;
			if (ix < 0 || ix >= o->in_w)
				put_fill(ops, row, at + kx * o->in_c, o->in_zp, o->in_c);
			else
				put_bytes(ops, row, at + kx * o->in_c, line + (size_t)ix * o->in_c, o->in_c);
		}
	}
	finish_row(o, row);
}

/* 1x1 stride-1 convolution over in_c % 4 == 0 channels: the rows are
 * consecutive input pixels, converted in one pass per tile. */
static void run_pointwise(const edge__opt_node *o, const int8_t *in, int8_t *out, int8_t *rowbuf)
{
	const int8_t *rows[EDGE__OPT_MAX_MR];
	int8_t *outs[EDGE__OPT_MAX_MR];
	const int64_t pixels = (int64_t)o->batches * o->out_h * o->out_w;
	const size_t esz = o->ops->row_i16 ? 2 : 1;
	for (int64_t p = 0; p < pixels; p += EDGE__OPT_MAX_MR) {
		int n = pixels - p < EDGE__OPT_MAX_MR ? (int)(pixels - p) : EDGE__OPT_MAX_MR;
		put_bytes(o->ops, rowbuf, 0, in + (size_t)p * o->in_c, n * o->in_c);
		for (int m = 0; m < n; m++) {
			rows[m] = rowbuf + (size_t)m * o->in_c * esz;
			outs[m] = out + (size_t)(p + m) * o->out_c;
		}
		o->ops->gemm(&o->gemm, rows, n, outs);
	}
}

void edge__opt_run_conv(const edge__opt_node *o, const int8_t *in, int8_t *out, int8_t *rowbuf)
{
	const int8_t *rows[EDGE__OPT_MAX_MR];
	int8_t *outs[EDGE__OPT_MAX_MR];
	int n = 0;
	if (o->k_h == 1 && o->k_w == 1 && o->stride_h == 1 && o->stride_w == 1 && o->in_c % 4 == 0 &&
	    o->pad_top == 0 && o->pad_left == 0 && o->out_h == o->in_h && o->out_w == o->in_w) {
		run_pointwise(o, in, out, rowbuf);
		return;
	}
	for (int32_t b = 0; b < o->batches; b++)
		for (int32_t oy = 0; oy < o->out_h; oy++)
			for (int32_t ox = 0; ox < o->out_w; ox++) {
				int8_t *row = rowbuf + (size_t)n * o->row_stride;
				build_conv_row(o, in, b, oy, ox, row);
				rows[n] = row;
				outs[n] = out + (((size_t)b * o->out_h + (size_t)oy) * o->out_w + (size_t)ox) * o->out_c;
				if (++n == EDGE__OPT_MAX_MR) {
					o->ops->gemm(&o->gemm, rows, n, outs);
					n = 0;
				}
			}
	if (n)
		o->ops->gemm(&o->gemm, rows, n, outs);
}

void edge__opt_run_fc(const edge__opt_node *o, const int8_t *in, int8_t *out, int8_t *rowbuf)
{
	const int8_t *rows[EDGE__OPT_MAX_MR];
	int8_t *outs[EDGE__OPT_MAX_MR];
	int n = 0;
	for (int32_t b = 0; b < o->batches; b++) {
		int8_t *row = rowbuf + (size_t)n * o->row_stride;
		put_bytes(o->ops, row, 0, in + (size_t)b * o->k, o->k);
		finish_row(o, row);
		rows[n] = row;
		outs[n] = out + (size_t)b * o->out_c;
		if (++n == EDGE__OPT_MAX_MR) {
			o->ops->gemm(&o->gemm, rows, n, outs);
			n = 0;
		}
	}
	if (n)
		o->ops->gemm(&o->gemm, rows, n, outs);
}

void edge__opt_run_dw(const edge__opt_node *o, const int8_t *in, int8_t *out)
{
	o->ops->dw_all(o, in, out);
}
