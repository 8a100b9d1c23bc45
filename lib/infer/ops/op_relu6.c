/* RELU6, int8 (TFLM activations_common.cc Relu6Quantized): clamps the raw
 * input between the input zero point and the quantized 6.0, without
 * rescaling (the output is expected to share the input's quantization). */
#include <math.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

static int relu6_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_relu_prep *p = NULL;
	int32_t n;
	int rc = edge__unary_prepare(ctx, node, 0, sizeof(*p), (void **)&p, &n);
	if (rc)
		return rc;
	p->n = n;
	const edge_tensor *input = node->inputs[0];
	p->in_zp = edge__zp(input);
	p->out_zp = p->in_zp;
	/* FloatToQuantizedType<int8_t>(6.0f, scale, zp): round(6 / scale) + zp,
	 * clamped to int8. */
	double six = (double)roundf(6.0f / edge__scale(input)) + p->in_zp;
	p->act_min = p->in_zp;
	p->act_max = six > INT8_MAX ? INT8_MAX : (six < INT8_MIN ? INT8_MIN : (int32_t)six);
	node->prep = p;
	return 0;
}

static int relu6_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_relu_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->n; i++) {
		int32_t v = input[i];
		/* Upper bound first, as the original's nested conditional. */
		v = v > p->act_max ? p->act_max : (v < p->act_min ? p->act_min : v);
		output[i] = (int8_t)v;
	}
	return 0;
}

const edge_op_kernel edge__op_relu6 = {
	.builtin = EDGE_OP_RELU6,
	.name = "RELU6",
	.prepare = relu6_prepare,
	.eval = relu6_eval,
};
