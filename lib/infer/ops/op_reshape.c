/* RESHAPE (TFLM reshape_common.cc): a byte copy. The output dims are the
 * ones declared on the output tensor (TFLM never reads the shape input's
 * values): one -1 is resolved from the element count, and with a single
 * input a declared [0] is the legacy spelling of a scalar. prepare() writes
 * the resolved dims (and bytes) back into the output tensor. */
#include <string.h>

#include "op_common.h"
#include "op_kernels.h"

static int reshape_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 2, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")))
		return rc;
	if (input->type != output->type)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "output type %s differs from input type %s",
				     edge__type_str(output->type), edge__type_str(input->type));
	size_t esize = edge__type_size(input->type);
	if (esize == 0)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE, "input type %d is unknown",
				     input->type);
	int32_t n_in;
	if ((rc = edge__check_rank(ctx, node, input, "input", 0, EDGE_INFER_MAX_RANK)) ||
	    (rc = edge__check_elements(ctx, node, input, "input", &n_in)))
		return rc;
	if (output->rank < 0 || output->rank > EDGE_INFER_MAX_RANK)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "output rank %d out of range",
				     output->rank);
	/* Only the legacy scalar form without a shape input may say [0]. */
	int shape_input = node->n_inputs == 2 && node->inputs[1] != NULL;
	if (!shape_input && output->rank == 1 && output->dims[0] == 0)
		output->rank = 0;

	int64_t n_out = 1;
	int stretch_dim = -1;
	for (int i = 0; i < output->rank; i++) {
		int32_t v = output->dims[i];
		if (v == -1) {
			if (stretch_dim != -1)
				return edge__op_fail(ctx, node, EDGE_INFER_EOP,
						     "output dims have more than one -1");
			stretch_dim = i;
		} else if (v < 0) {
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "output dim %d is %d", i, v);
		} else {
			n_out *= v;
			if (n_out > INT32_MAX)
				return edge__op_fail(ctx, node, EDGE_INFER_ESHAPE,
						     "output element count overflows");
		}
	}
	if (stretch_dim != -1) {
		if (n_out == 0)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "cannot resolve -1 next to a zero dim");
		output->dims[stretch_dim] = (int32_t)(n_in / n_out);
		n_out *= output->dims[stretch_dim];
	}
	if (n_out != n_in)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output has %lld elements, input has %d", (long long)n_out, n_in);
	output->bytes = (size_t)n_in * esize;
	node->macs = 0;
	return 0;
}

static int reshape_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_tensor *input = node->inputs[0];
	edge_tensor *output = node->outputs[0];
	/* The planner may alias the output onto the input. */
	if (output->data != input->data)
		memmove(output->data, input->data, output->bytes);
	return 0;
}

const edge_op_kernel edge__op_reshape = {
	.builtin = EDGE_OP_RESHAPE,
	.name = "RESHAPE",
	.prepare = reshape_prepare,
	.eval = reshape_eval,
};
