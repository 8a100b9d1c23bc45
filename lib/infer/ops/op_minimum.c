/* MINIMUM, int8 (TFLM maximum_minimum.cc): element-wise on the raw values
 * (no rescaling; TFLM does not compare the quantization of the tensors),
 * numpy broadcasting up to rank 6. */
#include "op_common.h"
#include "op_kernels.h"

static int minimum_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 2, 1)))
		return rc;
	edge_tensor *in1 = node->inputs[0], *in2 = node->inputs[1], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, in1, "input 0")) ||
	    (rc = edge__check_present(ctx, node, in2, "input 1")) ||
	    (rc = edge__check_type(ctx, node, in1, "input 0", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, in2, "input 1", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)))
		return rc;
	edge_minmax_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	if ((rc = edge__broadcast_prepare(ctx, node, &p->bc)))
		return rc;
	node->macs = (uint64_t)p->bc.n;
	node->prep = p;
	return 0;
}

static int minimum_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_minmax_prep *p = node->prep;
	const int8_t *in1 = node->inputs[0]->data;
	const int8_t *in2 = node->inputs[1]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->bc.n; i++) {
		int32_t o1 = i, o2 = i;
		if (p->bc.broadcast)
			edge__broadcast_offsets(&p->bc, i, &o1, &o2);
		output[i] = in1[o1] < in2[o2] ? in1[o1] : in2[o2];
	}
	return 0;
}

const edge_op_kernel edge__op_minimum = {
	.builtin = EDGE_OP_MINIMUM,
	.name = "MINIMUM",
	.prepare = minimum_prepare,
	.eval = minimum_eval,
};
