/* MAXIMUM and MINIMUM, int8 (TFLM maximum_minimum.cc): element-wise on the
 * raw values (no rescaling; TFLM does not compare the quantization of the
 * tensors), numpy broadcasting up to rank 6. */
#include <stddef.h>

#include "op_common.h"
#include "op_kernels.h"

_Static_assert(offsetof(edge_minmax_prep, bc) == 0, "edge__binary_prepare fills bc first");

static int min_max_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_minmax_prep *p = NULL;
	int rc = edge__binary_prepare(ctx, node, 0, sizeof(*p), (void **)&p);
	if (rc)
		return rc;
	node->prep = p;
	return 0;
}

static void min_max_eval(const edge_op_node *node, int is_max)
{
	const edge_minmax_prep *p = node->prep;
	const int8_t *in1 = node->inputs[0]->data;
	const int8_t *in2 = node->inputs[1]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->bc.n; i++) {
		int32_t o1, o2;
		edge__broadcast_offsets(&p->bc, i, &o1, &o2);
		if (is_max)
			output[i] = in1[o1] > in2[o2] ? in1[o1] : in2[o2];
		else
			output[i] = in1[o1] < in2[o2] ? in1[o1] : in2[o2];
	}
}

static int maximum_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	min_max_eval(node, 1);
	return 0;
}

static int minimum_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	min_max_eval(node, 0);
	return 0;
}

const edge_op_kernel edge__op_maximum = {
	.builtin = EDGE_OP_MAXIMUM,
	.name = "MAXIMUM",
	.prepare = min_max_prepare,
	.eval = maximum_eval,
};

const edge_op_kernel edge__op_minimum = {
	.builtin = EDGE_OP_MINIMUM,
	.name = "MINIMUM",
	.prepare = min_max_prepare,
	.eval = minimum_eval,
};
