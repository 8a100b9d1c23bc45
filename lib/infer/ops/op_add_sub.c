/* ADD and SUB, int8 (TFLM add_common.cc / sub_common.cc + reference
 * AddFunc / SubElementwise): both inputs are shifted left by 20, rescaled
 * to twice the larger input scale, summed or subtracted and rescaled to the
 * output. Numpy broadcasting up to rank 6. The two operators differ only in
 * the sign and in how TFLM computes the scale ratios: ADD in double, SUB in
 * float (which can change the last bit of a multiplier). */
#include <stddef.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

_Static_assert(offsetof(edge_add_prep, bc) == 0, "edge__binary_prepare fills bc first");

/* Real-valued multipliers of input 1, input 2 and the output. */
typedef struct add_sub_ratios {
	double in1, in2, out;
} add_sub_ratios;

static add_sub_ratios add_ratios(float s1, float s2, float so, int left_shift)
{
	const double twice_max_input_scale = 2 * (double)(s1 > s2 ? s1 : s2);
	return (add_sub_ratios){
		.in1 = (double)s1 / twice_max_input_scale,
		.in2 = (double)s2 / twice_max_input_scale,
		.out = twice_max_input_scale / ((1 << left_shift) * (double)so),
	};
}

static add_sub_ratios sub_ratios(float s1, float s2, float so, int left_shift)
{
	const float twice_max_input_scale = 2 * (s1 > s2 ? s1 : s2);
	return (add_sub_ratios){
		.in1 = (double)(s1 / twice_max_input_scale),
		.in2 = (double)(s2 / twice_max_input_scale),
		.out = (double)(twice_max_input_scale / ((float)(1 << left_shift) * so)),
	};
}

static int add_sub_prepare(edge_op_node *node, edge_prep_ctx *ctx, int is_sub)
{
	edge_add_prep *p = NULL;
	int rc = edge__binary_prepare(ctx, node, 1, sizeof(*p), (void **)&p);
	if (rc)
		return rc;
	const edge_tensor *in1 = node->inputs[0], *in2 = node->inputs[1];
	const edge_tensor *output = node->outputs[0];
	p->left_shift = 20;
	p->in1_zp = edge__zp(in1);
	p->in2_zp = edge__zp(in2);
	p->out_zp = edge__zp(output);
	if ((rc = edge__activation_range(ctx, node, node->opt.arith.activation, output,
					 &p->act_min, &p->act_max)))
		return rc;
	float s1 = edge__scale(in1), s2 = edge__scale(in2), so = edge__scale(output);
	add_sub_ratios r = is_sub ? sub_ratios(s1, s2, so, p->left_shift)
				  : add_ratios(s1, s2, so, p->left_shift);
	int sh1, sh2, sho;
	if ((rc = edge__quantize_multiplier_smaller_than_one(ctx, node, r.in1, "input 0",
							     &p->in1_multiplier, &sh1)) ||
	    (rc = edge__quantize_multiplier_smaller_than_one(ctx, node, r.in2, "input 1",
							     &p->in2_multiplier, &sh2)) ||
	    (rc = edge__quantize_multiplier_smaller_than_one(ctx, node, r.out, "output",
							     &p->out_multiplier, &sho)))
		return rc;
	p->in1_shift = sh1;
	p->in2_shift = sh2;
	p->out_shift = sho;
	node->prep = p;
	return 0;
}

static void add_sub_eval(const edge_op_node *node, int is_sub)
{
	const edge_add_prep *p = node->prep;
	const int8_t *in1 = node->inputs[0]->data;
	const int8_t *in2 = node->inputs[1]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->bc.n; i++) {
		int32_t o1, o2;
		edge__broadcast_offsets(&p->bc, i, &o1, &o2);
		const int32_t input1_val = (int32_t)in1[o1] - p->in1_zp;
		const int32_t input2_val = (int32_t)in2[o2] - p->in2_zp;
		const int32_t shifted_input1_val = edge_wshl(input1_val, p->left_shift);
		const int32_t shifted_input2_val = edge_wshl(input2_val, p->left_shift);
		const int32_t scaled_input1_val = edge_mbqm_smaller_than_one_exp(
			shifted_input1_val, p->in1_multiplier, p->in1_shift);
		const int32_t scaled_input2_val = edge_mbqm_smaller_than_one_exp(
			shifted_input2_val, p->in2_multiplier, p->in2_shift);
		const int32_t raw = is_sub ? edge_wsub(scaled_input1_val, scaled_input2_val)
					   : edge_wadd(scaled_input1_val, scaled_input2_val);
		const int32_t raw_output = edge_mbqm_smaller_than_one_exp(raw, p->out_multiplier,
									  p->out_shift) + p->out_zp;
		output[i] = (int8_t)edge_clamp_i32(raw_output, p->act_min, p->act_max);
	}
}

static int add_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return add_sub_prepare(node, ctx, 0);
}

static int sub_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return add_sub_prepare(node, ctx, 1);
}

static int add_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	add_sub_eval(node, 0);
	return 0;
}

static int sub_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	add_sub_eval(node, 1);
	return 0;
}

const edge_op_kernel edge__op_add = {
	.builtin = EDGE_OP_ADD,
	.name = "ADD",
	.prepare = add_prepare,
	.eval = add_eval,
};

const edge_op_kernel edge__op_sub = {
	.builtin = EDGE_OP_SUB,
	.name = "SUB",
	.prepare = sub_prepare,
	.eval = sub_eval,
};
