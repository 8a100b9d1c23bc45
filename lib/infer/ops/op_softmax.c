/* SOFTMAX, int8 -> int8 or int16 (TFLM softmax_common.cc +
 * reference_ops::Softmax, gemmlowp fixed point, no lookup tables) over the
 * last dimension. int8 output: scale 1/256, zp -128; int16 output: scale
 * 1/65536 (within 0.1%), zp -32768. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

static int softmax_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 1, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_rank(ctx, node, input, "input", 1, EDGE_INFER_MAX_RANK)) ||
	    (rc = edge__check_quant(ctx, node, input, "input")))
		return rc;
	if (output->type != EDGE_TT_INT8 && output->type != EDGE_TT_INT16)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "output has type %s, expected INT8 or INT16",
				     edge__type_str(output->type));
	if ((rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	if (!edge__same_shape(input, output))
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "output shape differs from input shape");
	float so = edge__scale(output);
	int32_t zo = edge__zp(output);
	if (output->type == EDGE_TT_INT8) {
		if (zo != -128 || so != 1.0f / 256)
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "int8 output must have scale 1/256 and zero point -128 (has %g, %d)",
					     (double)so, zo);
	} else {
		float d = so - 1.0f / 65536;
		if (d < 0)
			d = -d;
		if (zo != -32768 || d > 0.001f * 1.0f / 65536)
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "int16 output must have scale 1/65536 and zero point -32768 (has %g, %d)",
					     (double)so, zo);
	}
	edge_softmax_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int32_t n;
	if ((rc = edge__check_elements(ctx, node, input, "input", &n)))
		return rc;
	p->depth = input->dims[input->rank - 1];
	p->outer = p->depth ? n / p->depth : 0;
	p->out_type = output->type;
	/* PreprocessSoftmaxScaling (double rounding build): the real multiplier
	 * beta * in_scale * 2^(31 - 5) is capped at 2^31 - 1 and must exceed 1. */
	double real = (double)node->opt.softmax.beta * (double)edge__scale(input) *
		      (double)(1 << (31 - SCALED_DIFF_INTEGER_BITS));
	const double max_real = (double)(((int64_t)1 << 31) - 1);
	if (real > max_real)
		real = max_real;
	if (!(real > 1.0))
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "beta x input scale %g is too small for the fixed-point path",
				     real);
	int shift;
	if ((rc = edge__quantize_multiplier(ctx, node, real, "input", &p->input_multiplier, &shift)))
		return rc;
	if (shift < 0 || shift > 31)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT, "input shift %d out of range", shift);
	p->input_left_shift = shift;
	p->diff_min = -edge_input_radius(SCALED_DIFF_INTEGER_BITS, shift, 31);
	node->macs = (uint64_t)n * 2;
	node->prep = p;
	return 0;
}

static int softmax_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_softmax_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	const int out_bits = p->out_type == EDGE_TT_INT16 ? 16 : 8;
	const int32_t out_min = p->out_type == EDGE_TT_INT16 ? INT16_MIN : INT8_MIN;
	const int32_t out_max = p->out_type == EDGE_TT_INT16 ? INT16_MAX : INT8_MAX;
	int8_t *out8 = node->outputs[0]->data;
	int16_t *out16 = node->outputs[0]->data;

	for (int32_t i = 0; i < p->outer; i++) {
		const int8_t *row = input + (int64_t)i * p->depth;
		int32_t max_in_row = INT8_MIN;
		for (int32_t c = 0; c < p->depth; c++)
			if (row[c] > max_in_row)
				max_in_row = row[c];

		/* Sum of exps in Q12.19. */
		int32_t sum_of_exps = 0;
		for (int32_t c = 0; c < p->depth; c++) {
			int32_t input_diff = (int32_t)row[c] - max_in_row;
			if (input_diff >= p->diff_min) {
				int32_t input_diff_rescaled = edge_mbqm_greater_than_one(
					input_diff, p->input_multiplier, p->input_left_shift);
				int32_t e = edge_exp_on_negative_values(input_diff_rescaled,
									SCALED_DIFF_INTEGER_BITS);
				/* Rescale Q0.31 -> Q12.19. */
				sum_of_exps = edge_wadd(sum_of_exps,
							edge_rdbpot(e, ACCUMULATION_INTEGER_BITS));
			}
		}
		int num_bits_over_unit;
		int32_t shifted_scale = edge_get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS,
							    &num_bits_over_unit);
		for (int32_t c = 0; c < p->depth; c++) {
			int32_t input_diff = (int32_t)row[c] - max_in_row;
			int32_t v = out_min;
			if (input_diff >= p->diff_min) {
				int32_t input_diff_rescaled = edge_mbqm_greater_than_one(
					input_diff, p->input_multiplier, p->input_left_shift);
				int32_t exp_in_0 = edge_exp_on_negative_values(input_diff_rescaled,
									       SCALED_DIFF_INTEGER_BITS);
				/* Rows of more than ~512 near-maximal values push the exponent
				 * past 31, where the original shift is undefined; the exact
				 * quotient then rounds to 0. */
				int exponent = num_bits_over_unit + 31 - out_bits;
				int32_t unsat_output = exponent > 31 ? 0 :
					edge_rdbpot(edge_srdhm(shifted_scale, exp_in_0), exponent);
				v = edge_clamp_i32(edge_wadd(unsat_output, out_min), out_min, out_max);
			}
			if (p->out_type == EDGE_TT_INT16)
				out16[(int64_t)i * p->depth + c] = (int16_t)v;
			else
				out8[(int64_t)i * p->depth + c] = (int8_t)v;
		}
	}
	return 0;
}

const edge_op_kernel edge__op_softmax = {
	.builtin = EDGE_OP_SOFTMAX,
	.name = "SOFTMAX",
	.prepare = softmax_prepare,
	.eval = softmax_eval,
};
