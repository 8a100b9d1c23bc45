/* LOGISTIC, int8 (TFLM reference_integer_ops::Logistic): the output is
 * always scale 1/256, zero point -128 (the output scale is not read). */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"
#include "op_sigmoid_common.h"

static int logistic_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc = edge__sigmoid_prepare(node, ctx);
	if (rc)
		return rc;
	const edge_tensor *output = node->outputs[0];
	if (output->n_quant < 1 || edge__zp(output) != -128)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "output zero point must be -128 (has %d)", edge__zp(output));
	return 0;
}

static int logistic_eval(edge_op_node *node, int flavour)
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
			const int32_t output_in_q0 = edge_logistic(input_in_q4, EDGE_SIGMOID_INPUT_INTEGER_BITS);
			/* Q0.31 -> Q0.8, then the fixed zero point -128. */
			int32_t output_in_q23 = edge_rdbpot(output_in_q0, 31 - 8);
			output[i] = (int8_t)edge_clamp_i32(output_in_q23 - 128, INT8_MIN, INT8_MAX);
		}
	}
	return 0;
}

const edge_op_kernel edge__op_logistic = {
	.builtin = EDGE_OP_LOGISTIC,
	.name = "LOGISTIC",
	.prepare = logistic_prepare,
	.eval = logistic_eval,
};
