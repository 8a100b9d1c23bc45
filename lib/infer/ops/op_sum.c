/* SUM, int8 (TFLM reduce_common.cc EvalSumHelper -> reference
 * QuantizedMeanOrSum with compute_sum): out = clamp(mbqm(sum - in_zp*count,
 * M, s) + out_zp), (M, s) from in_scale / out_scale. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"
#include "op_reduce_common.h"

static int sum_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_reduce_prep *p = NULL;
	int rc = edge__reduce_prepare(node, ctx, 5, 2, &p);
	if (rc)
		return rc;
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_quant(ctx, node, input, "input")) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	int32_t m;
	int s;
	if ((rc = edge__quantize_multiplier(ctx, node,
					    (double)edge__scale(input) / (double)edge__scale(output),
					    "output", &m, &s)))
		return rc;
	p->out_multiplier = m;
	p->out_shift = s;
	node->prep = p;
	return 0;
}

static int sum_eval(edge_op_node *node, int flavour)
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

const edge_op_kernel edge__op_sum = {
	.builtin = EDGE_OP_SUM,
	.name = "SUM",
	.prepare = sum_prepare,
	.eval = sum_eval,
};
