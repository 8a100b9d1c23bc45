/* MUL, int8 (TFLM mul_common.cc + reference_integer_ops::MulElementwise):
 * out = clamp(mbqm((x1 - z1) * (x2 - z2), M, s) + zo). Broadcasting up to rank 6. */
#include <stddef.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

_Static_assert(offsetof(edge_mul_prep, bc) == 0, "edge__binary_prepare fills bc first");

static int mul_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_mul_prep *p = NULL;
	int rc = edge__binary_prepare(ctx, node, 1, sizeof(*p), (void **)&p);
	if (rc)
		return rc;
	const edge_tensor *in1 = node->inputs[0], *in2 = node->inputs[1];
	const edge_tensor *output = node->outputs[0];
	p->in1_zp = edge__zp(in1);
	p->in2_zp = edge__zp(in2);
	p->out_zp = edge__zp(output);
	double m = (double)edge__scale(in1) * (double)edge__scale(in2) /
		   (double)edge__scale(output);
	int shift;
	if ((rc = edge__quantize_multiplier(ctx, node, m, "output", &p->out_multiplier, &shift)))
		return rc;
	p->out_shift = shift;
	if ((rc = edge__activation_range(ctx, node, node->opt.arith.activation, output,
					 &p->act_min, &p->act_max)))
		return rc;
	node->prep = p;
	return 0;
}

static int mul_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_mul_prep *p = node->prep;
	const int8_t *in1 = node->inputs[0]->data;
	const int8_t *in2 = node->inputs[1]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->bc.n; i++) {
		int32_t o1, o2;
		edge__broadcast_offsets(&p->bc, i, &o1, &o2);
		const int32_t input1_val = (int32_t)in1[o1] - p->in1_zp;
		const int32_t input2_val = (int32_t)in2[o2] - p->in2_zp;
		int32_t v = edge_mbqm(input1_val * input2_val, p->out_multiplier, p->out_shift) + p->out_zp;
		output[i] = (int8_t)edge_clamp_i32(v, p->act_min, p->act_max);
	}
	return 0;
}

const edge_op_kernel edge__op_mul = {
	.builtin = EDGE_OP_MUL,
	.name = "MUL",
	.prepare = mul_prepare,
	.eval = mul_eval,
};
