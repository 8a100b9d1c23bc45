/* TANH, int8 (TFLM reference_integer_ops::Tanh): the output is always
 * scale 1/128, zero point 0 (the output quantization is not read). */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"
#include "op_sigmoid_common.h"

static int tanh_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return edge__sigmoid_prepare(node, ctx);
}

static int tanh_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_sigmoid_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->n; i++) {
		const int32_t v = (int32_t)input[i] - p->in_zp;
		if (v <= -p->input_range_radius) {
			output[i] = INT8_MIN;
		} else if (v >= p->input_range_radius) {
			output[i] = INT8_MAX;
		} else {
			const int32_t input_in_q4 = edge_mbqm(v, p->input_multiplier, p->input_left_shift);
			const int32_t output_in_q0 = edge_tanh(input_in_q4, EDGE_SIGMOID_INPUT_INTEGER_BITS);
			/* Q0.31 -> Q0.7. */
			int32_t output_in_q24 = edge_rdbpot(output_in_q0, 31 - 7);
			output[i] = (int8_t)edge_clamp_i32(output_in_q24, INT8_MIN, INT8_MAX);
		}
	}
	return 0;
}

const edge_op_kernel edge__op_tanh = {
	.builtin = EDGE_OP_TANH,
	.name = "TANH",
	.prepare = tanh_prepare,
	.eval = tanh_eval,
};
