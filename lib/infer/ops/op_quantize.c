/* QUANTIZE (TFLM quantize_common.cc): float32 -> int8/int16/uint8/int32
 * (reference AffineQuantize: round(x / float(scale)) + zp, the division in
 * float) and int -> int requantization (reference Requantize:
 * mbqm(x - in_zp, M, s) + out_zp with M, s from in_scale / out_scale, both
 * in double; int8 <-> uint8 with ratio 1 and zero points 128 apart is an
 * XOR with 0x80). */
#include <math.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

static int requantize_pair_supported(int in, int out)
{
	return (in == EDGE_TT_INT16 && out == EDGE_TT_INT8) ||
	       (in == EDGE_TT_INT8 && out == EDGE_TT_INT8) ||
	       (in == EDGE_TT_INT8 && out == EDGE_TT_UINT8) ||
	       (in == EDGE_TT_UINT8 && out == EDGE_TT_INT8) ||
	       (in == EDGE_TT_INT8 && out == EDGE_TT_INT16) ||
	       (in == EDGE_TT_INT8 && out == EDGE_TT_INT32) ||
	       (in == EDGE_TT_INT16 && out == EDGE_TT_INT16) ||
	       (in == EDGE_TT_INT16 && out == EDGE_TT_INT32) ||
	       (in == EDGE_TT_INT32 && out == EDGE_TT_INT8) ||
	       (in == EDGE_TT_INT32 && out == EDGE_TT_INT16);
}

static void type_bounds(int type, int32_t *lo, int32_t *hi)
{
	switch (type) {
	case EDGE_TT_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
	case EDGE_TT_UINT8: *lo = 0; *hi = UINT8_MAX; break;
	case EDGE_TT_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
	default: *lo = INT32_MIN; *hi = INT32_MAX; break;
	}
}

static int quantize_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 1, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")))
		return rc;
	int it = input->type, ot = output->type;
	if (ot != EDGE_TT_INT8 && ot != EDGE_TT_INT16 && ot != EDGE_TT_INT32 && ot != EDGE_TT_UINT8)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "output type %s is not supported", edge__type_str(ot));
	if (output->n_quant != 1)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "output must have per-tensor quantization (has %d scales)",
				     output->n_quant);
	if ((rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	edge_quantize_prep *p = NULL;
	int32_t n;
	if ((rc = edge__elementwise_alloc(ctx, node, sizeof(*p), (void **)&p, &n)))
		return rc;
	p->n = n;
	p->in_type = it;
	p->out_type = ot;
	p->out_zp = edge__zp(output);
	type_bounds(ot, &p->out_min, &p->out_max);
	if (it == EDGE_TT_FLOAT32) {
		p->kind = EDGE_QUANTIZE_FROM_FLOAT;
		p->scale = edge__scale(output);
	} else if (requantize_pair_supported(it, ot)) {
		if ((rc = edge__check_quant(ctx, node, input, "input")))
			return rc;
		p->in_zp = edge__zp(input);
		double m = (double)edge__scale(input) / (double)edge__scale(output);
		int shift;
		if ((rc = edge__quantize_multiplier(ctx, node, m, "output", &p->out_multiplier, &shift)))
			return rc;
		p->out_shift = shift;
		p->kind = EDGE_QUANTIZE_REQUANTIZE;
		/* Requantize's fast path: same scale, int8 <-> uint8, zps 128 apart. */
		int32_t zp_diff = p->in_zp - p->out_zp;
		if (p->out_multiplier == (1 << 30) && p->out_shift == 1 &&
		    ((it == EDGE_TT_INT8 && ot == EDGE_TT_UINT8 && zp_diff == -128) ||
		     (it == EDGE_TT_UINT8 && ot == EDGE_TT_INT8 && zp_diff == 128)))
			p->kind = EDGE_QUANTIZE_XOR80;
	} else {
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "%s input to %s output is not supported",
				     edge__type_str(it), edge__type_str(ot));
	}
	node->prep = p;
	return 0;
}

static int32_t load_int(const void *data, int type, int32_t i)
{
	switch (type) {
	case EDGE_TT_INT8: return ((const int8_t *)data)[i];
	case EDGE_TT_UINT8: return ((const uint8_t *)data)[i];
	case EDGE_TT_INT16: return ((const int16_t *)data)[i];
	default: return ((const int32_t *)data)[i];
	}
}

static void store_int(void *data, int type, int32_t i, int32_t v)
{
	switch (type) {
	case EDGE_TT_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
	case EDGE_TT_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
	case EDGE_TT_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
	default: ((int32_t *)data)[i] = v; break;
	}
}

static int quantize_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_quantize_prep *p = node->prep;
	const void *input = node->inputs[0]->data;
	void *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->n; i++) {
		int32_t v;
		if (p->kind == EDGE_QUANTIZE_FROM_FLOAT) {
			float r = roundf(((const float *)input)[i] / p->scale);
			/* The original casts r to int32 (undefined beyond its range):
			 * saturate instead; NaN maps to the zero point. */
			int64_t q = r != r ? 0 : (r > 1e12f ? (int64_t)1e12 : (r < -1e12f ? -(int64_t)1e12 : (int64_t)r));
			int64_t w = q + p->out_zp;
			v = w < p->out_min ? p->out_min : (w > p->out_max ? p->out_max : (int32_t)w);
		} else if (p->kind == EDGE_QUANTIZE_XOR80) {
			v = load_int(input, p->in_type, i) ^ 0x80;
			v &= 0xff;
			if (p->out_type == EDGE_TT_INT8)
				v = (int8_t)v;
		} else {
			int32_t x = edge_wsub(load_int(input, p->in_type, i), p->in_zp);
			int32_t o = edge_wadd(edge_mbqm(x, p->out_multiplier, p->out_shift), p->out_zp);
			v = edge_clamp_i32(o, p->out_min, p->out_max);
		}
		store_int(output, p->out_type, i, v);
	}
	return 0;
}

const edge_op_kernel edge__op_quantize = {
	.builtin = EDGE_OP_QUANTIZE,
	.name = "QUANTIZE",
	.prepare = quantize_prepare,
	.eval = quantize_eval,
};
