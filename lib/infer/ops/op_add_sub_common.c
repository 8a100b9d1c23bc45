/* Shared prepare() part of ADD and SUB (TFLM add_common.cc / sub_common.cc):
 * io, types, quantization, broadcasting, zero points, activation range and
 * the left shift of 20 of the int8 path. The two operators then compute
 * their multipliers differently (ADD in double, SUB in float). */
#include "fixedpoint.h"
#include "op_common.h"

int edge__add_sub_check(edge_op_node *node, edge_prep_ctx *ctx, edge_add_prep **out)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 2, 1)))
		return rc;
	edge_tensor *in1 = node->inputs[0], *in2 = node->inputs[1], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, in1, "input 0")) ||
	    (rc = edge__check_present(ctx, node, in2, "input 1")) ||
	    (rc = edge__check_type(ctx, node, in1, "input 0", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, in2, "input 1", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_quant(ctx, node, in1, "input 0")) ||
	    (rc = edge__check_quant(ctx, node, in2, "input 1")) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	edge_add_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	if ((rc = edge__broadcast_prepare(ctx, node, &p->bc)))
		return rc;
	p->left_shift = 20;
	p->in1_zp = edge__zp(in1);
	p->in2_zp = edge__zp(in2);
	p->out_zp = edge__zp(output);
	if ((rc = edge__activation_range(ctx, node, node->opt.arith.activation, output,
					 &p->act_min, &p->act_max)))
		return rc;
	node->macs = (uint64_t)p->bc.n;
	*out = p;
	return 0;
}

