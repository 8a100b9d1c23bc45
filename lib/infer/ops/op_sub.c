/* SUB, int8 (TFLM sub_common.cc + reference SubElementwise): as ADD, with
 * the rescaled second input subtracted. TFLM's SUB computes its scale
 * ratios in float (ADD uses double), which can change the last bit. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

static int sub_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_add_prep *p = NULL;
	int rc = edge__add_sub_check(node, ctx, &p);
	if (rc)
		return rc;
	float s1 = edge__scale(node->inputs[0]), s2 = edge__scale(node->inputs[1]);
	float so = edge__scale(node->outputs[0]);
	const float twice_max_input_scale = 2 * (s1 > s2 ? s1 : s2);
	const double real_input1_multiplier = (double)(s1 / twice_max_input_scale);
	const double real_input2_multiplier = (double)(s2 / twice_max_input_scale);
	const double real_output_multiplier =
		(double)(twice_max_input_scale / ((float)(1 << p->left_shift) * so));
	int sh1, sh2, sho;
	if ((rc = edge__quantize_multiplier_smaller_than_one(ctx, node, real_input1_multiplier,
							     "input 0", &p->in1_multiplier, &sh1)) ||
	    (rc = edge__quantize_multiplier_smaller_than_one(ctx, node, real_input2_multiplier,
							     "input 1", &p->in2_multiplier, &sh2)) ||
	    (rc = edge__quantize_multiplier_smaller_than_one(ctx, node, real_output_multiplier,
							     "output", &p->out_multiplier, &sho)))
		return rc;
	p->in1_shift = sh1;
	p->in2_shift = sh2;
	p->out_shift = sho;
	node->prep = p;
	return 0;
}

static int sub_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_add_prep *p = node->prep;
	const int8_t *in1 = node->inputs[0]->data;
	const int8_t *in2 = node->inputs[1]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->bc.n; i++) {
		int32_t o1 = i, o2 = i;
		if (p->bc.broadcast)
			edge__broadcast_offsets(&p->bc, i, &o1, &o2);
		const int32_t input1_val = (int32_t)in1[o1] - p->in1_zp;
		const int32_t input2_val = (int32_t)in2[o2] - p->in2_zp;
		const int32_t shifted_input1_val = edge_wshl(input1_val, p->left_shift);
		const int32_t shifted_input2_val = edge_wshl(input2_val, p->left_shift);
		const int32_t scaled_input1_val = edge_mbqm_smaller_than_one_exp(
			shifted_input1_val, p->in1_multiplier, p->in1_shift);
		const int32_t scaled_input2_val = edge_mbqm_smaller_than_one_exp(
			shifted_input2_val, p->in2_multiplier, p->in2_shift);
		const int32_t raw_sub = edge_wsub(scaled_input1_val, scaled_input2_val);
		const int32_t raw_output = edge_mbqm_smaller_than_one_exp(raw_sub, p->out_multiplier,
									  p->out_shift) + p->out_zp;
		output[i] = (int8_t)edge_clamp_i32(raw_output, p->act_min, p->act_max);
	}
	return 0;
}

const edge_op_kernel edge__op_sub = {
	.builtin = EDGE_OP_SUB,
	.name = "SUB",
	.prepare = sub_prepare,
	.eval = sub_eval,
};
