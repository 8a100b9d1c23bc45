/* RELU, int8 (TFLM activations_common.cc ReluQuantized): rescales from the
 * input to the output quantization, clamped at the quantized 0.0. */
#include <math.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

static int relu_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_relu_prep *p = NULL;
	int32_t n;
	int rc = edge__unary_prepare(ctx, node, 1, sizeof(*p), (void **)&p, &n);
	if (rc)
		return rc;
	p->n = n;
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	float si = edge__scale(input), so = edge__scale(output);
	/* The ratio is taken in float, then widened. */
	double m = (double)(si / so);
	int shift;
	if ((rc = edge__quantize_multiplier(ctx, node, m, "output", &p->out_multiplier, &shift)))
		return rc;
	p->out_shift = shift;
	p->in_zp = edge__zp(input);
	p->out_zp = edge__zp(output);
	int32_t q0 = p->out_zp + (int32_t)roundf(0.0f / so);
	p->act_min = q0 > INT8_MIN ? q0 : INT8_MIN;
	p->act_max = INT8_MAX;
	node->prep = p;
	return 0;
}

static int relu_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_relu_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->n; i++) {
		int32_t v = p->out_zp + edge_mbqm((int32_t)input[i] - p->in_zp, p->out_multiplier,
						  p->out_shift);
		output[i] = (int8_t)edge_clamp_i32(v, p->act_min, p->act_max);
	}
	return 0;
}

const edge_op_kernel edge__op_relu = {
	.builtin = EDGE_OP_RELU,
	.name = "RELU",
	.prepare = relu_prepare,
	.eval = relu_eval,
};
