/* LOGISTIC and TANH, int8 (TFLM logistic_common.cc / tanh.cc +
 * reference_integer_ops::Logistic / Tanh): the input is rescaled to Q4.27
 * with a frexp multiplier, saturated outside the input range radius, and
 * the gemmlowp function's Q0.31 result is rounded to the fixed output
 * quantization, which the output tensor's scale does not change:
 * LOGISTIC 1/256 zero point -128, TANH 1/128 zero point 0. */
#include <math.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

#define INPUT_INTEGER_BITS 4

static int sigmoid_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_sigmoid_prep *p = NULL;
	int32_t n;
	int rc = edge__unary_prepare(ctx, node, 0, sizeof(*p), (void **)&p, &n);
	if (rc)
		return rc;
	p->n = n;
	const edge_tensor *input = node->inputs[0];
	p->in_zp = edge__zp(input);
	/* real = in_scale * 2^(31 - 4); q, shift = frexp(real); M = round(q * 2^31)
	 * without the 2^31 correction of QuantizeMultiplier. */
	double real = (double)edge__scale(input) * (double)(1 << (31 - INPUT_INTEGER_BITS));
	int shift = 0;
	double q = frexp(real, &shift);
	double m = round(q * (double)((int64_t)1 << 31));
	/* Only shifts that keep TFLM's arithmetic defined (0..31), and q below
	 * the one value that would round to 2^31. */
	if (shift < 0 || shift > 31 || m >= (double)((int64_t)1 << 31))
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "input scale %g is out of the supported range",
				     (double)edge__scale(input));
	p->input_multiplier = (int32_t)m;
	p->input_left_shift = shift;
	p->input_range_radius = edge_input_radius(INPUT_INTEGER_BITS, shift, 31);
	node->prep = p;
	return 0;
}

static int logistic_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc = sigmoid_prepare(node, ctx);
	if (rc)
		return rc;
	const edge_tensor *output = node->outputs[0];
	if (output->n_quant < 1 || edge__zp(output) != -128)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "output zero point must be -128 (has %d)", edge__zp(output));
	return 0;
}

/* The shared kernel; the two differ in the function and the output format. */
static void sigmoid_eval(const edge_op_node *node, int is_tanh)
{
	const edge_sigmoid_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;
	const int out_frac_bits = is_tanh ? 7 : 8;
	const int32_t out_zp = is_tanh ? 0 : -128;

	for (int32_t i = 0; i < p->n; i++) {
		const int32_t v = (int32_t)input[i] - p->in_zp;
		if (v <= -p->input_range_radius) {
			output[i] = INT8_MIN;
		} else if (v >= p->input_range_radius) {
			output[i] = INT8_MAX;
		} else {
			const int32_t input_in_q4 = edge_mbqm(v, p->input_multiplier, p->input_left_shift);
			const int32_t output_in_q0 =
				is_tanh ? edge_tanh(input_in_q4, INPUT_INTEGER_BITS)
					: edge_logistic(input_in_q4, INPUT_INTEGER_BITS);
			/* Q0.31 -> Q0.8 or Q0.7, then the fixed zero point. */
			const int32_t output_q = edge_rdbpot(output_in_q0, 31 - out_frac_bits);
			output[i] = (int8_t)edge_clamp_i32(output_q + out_zp, INT8_MIN, INT8_MAX);
		}
	}
}

static int logistic_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	sigmoid_eval(node, 0);
	return 0;
}

static int tanh_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	sigmoid_eval(node, 1);
	return 0;
}

const edge_op_kernel edge__op_logistic = {
	.builtin = EDGE_OP_LOGISTIC,
	.name = "LOGISTIC",
	.prepare = logistic_prepare,
	.eval = logistic_eval,
};

const edge_op_kernel edge__op_tanh = {
	.builtin = EDGE_OP_TANH,
	.name = "TANH",
	.prepare = sigmoid_prepare,
	.eval = tanh_eval,
};
