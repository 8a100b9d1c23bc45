/* MEAN and SUM, int8 (TFLM reduce_common.cc -> reference QuantizedMeanOrSum):
 * the int32 sum over the axes, minus in_zp * count, rescaled by
 * in_scale / out_scale: out = clamp(mbqm(sum - in_zp*count, M, s) + out_zp).
 * MEAN folds 1/count into (M, s), also when input and output share
 * quantization (TFLM's vectors show the rounded, not the truncated,
 * average); that is the only difference. TFLM's kernel holds input
 * rank <= 5 and <= 2 distinct axes. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"
#include "op_reduce_common.h"

static int mean_sum_prepare(edge_op_node *node, edge_prep_ctx *ctx, int is_mean)
{
	edge_reduce_prep *p = NULL;
	int rc = edge__reduce_prepare(node, ctx, 5, 2, &p);
	if (rc)
		return rc;
	float si = edge__scale(node->inputs[0]), so = edge__scale(node->outputs[0]);
	int32_t m;
	int s;
	if ((rc = edge__quantize_multiplier(ctx, node, (double)si / (double)so, "output", &m, &s)))
		return rc;
	if (is_mean && p->count > 0) {
		/* Fold 1/count into the multiplier, keeping the shift >= -31. */
		int k = 63 - __builtin_clzll((unsigned long long)p->count);
		if (k > 32)
			k = 32;
		if (k > 31 + s)
			k = 31 + s;
		if (k < 0)
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "output multiplier shift %d out of range", s);
		m = (int32_t)(((int64_t)m << k) / p->count);
		s -= k;
	}
	p->out_multiplier = m;
	p->out_shift = s;
	node->prep = p;
	return 0;
}

static int mean_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return mean_sum_prepare(node, ctx, 1);
}

static int sum_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return mean_sum_prepare(node, ctx, 0);
}

/* Both operators: the mean is in the multiplier. */
static int mean_sum_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_reduce_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t o = 0; o < p->out_n; o++) {
		if (p->empty_input || p->count == 0) {
			output[o] = 0;
			continue;
		}
		int64_t base = edge__reduce_base(p, o);
		int32_t sum = 0;
		for (int32_t r = 0; r < p->count; r++)
			sum = edge_wadd(sum, input[base + edge__reduce_offset(p, r)]);
		int32_t shifted_sum = (int32_t)(uint32_t)((int64_t)sum - (int64_t)p->in_zp * p->count);
		int32_t v = edge_mbqm(shifted_sum, p->out_multiplier, p->out_shift) + p->out_zp;
		output[o] = (int8_t)edge_clamp_i32(v, INT8_MIN, INT8_MAX);
	}
	return 0;
}

const edge_op_kernel edge__op_mean = {
	.builtin = EDGE_OP_MEAN,
	.name = "MEAN",
	.prepare = mean_prepare,
	.eval = mean_sum_eval,
};

const edge_op_kernel edge__op_sum = {
	.builtin = EDGE_OP_SUM,
	.name = "SUM",
	.prepare = sum_prepare,
	.eval = mean_sum_eval,
};
