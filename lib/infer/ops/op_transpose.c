/* TRANSPOSE (TFLM transpose.cc, reference TransposeImpl): output dim d is
 * input dim perm[d]; a permutation given as a constant int32 tensor. Any
 * element type of 1, 2 or 4 bytes, rank 1 to 6. */
#include <string.h>

#include "op_common.h"
#include "op_kernels.h"

static int transpose_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 2, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *perm = node->inputs[1], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_present(ctx, node, perm, "perm")) ||
	    (rc = edge__check_type(ctx, node, perm, "perm", EDGE_TT_INT32)) ||
	    (rc = edge__check_const(ctx, node, perm, "perm")) ||
	    (rc = edge__check_rank(ctx, node, perm, "perm", 1, 1)) ||
	    (rc = edge__check_rank(ctx, node, input, "input", 1, EDGE_TRANSPOSE_MAX_RANK)) ||
	    (rc = edge__check_rank(ctx, node, output, "output", 1, EDGE_TRANSPOSE_MAX_RANK)))
		return rc;
	if (input->type != output->type)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "output type %s differs from input type %s",
				     edge__type_str(output->type), edge__type_str(input->type));
	size_t esize = edge__type_size(input->type);
	if (esize != 1 && esize != 2 && esize != 4)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE, "input type %s is not supported",
				     edge__type_str(input->type));
	int rank = input->rank;
	if (perm->dims[0] != rank || output->rank != rank)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "perm has %d entries and output rank %d, input rank is %d",
				     perm->dims[0], output->rank, rank);
	int32_t n;
	if ((rc = edge__check_elements(ctx, node, input, "input", &n)))
		return rc;
	edge_transpose_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	const int32_t *pv = perm->data;
	int seen[EDGE_TRANSPOSE_MAX_RANK] = {0};
	for (int d = 0; d < rank; d++) {
		if (pv[d] < 0 || pv[d] >= rank || seen[pv[d]])
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "perm is not a permutation of 0..%d", rank - 1);
		seen[pv[d]] = 1;
		if (output->dims[d] != input->dims[pv[d]])
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "output dim %d is %d, input dim %d is %d", d,
					     output->dims[d], pv[d], input->dims[pv[d]]);
		p->perm[d] = pv[d];
		p->out_dims[d] = output->dims[d];
	}
	int32_t stride = 1;
	for (int d = rank - 1; d >= 0; d--) {
		p->in_stride[d] = stride;
		stride *= input->dims[d];
	}
	p->rank = rank;
	p->elem_size = (int32_t)esize;
	node->macs = 0;
	node->prep = p;
	return 0;
}

static int transpose_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_transpose_prep *p = node->prep;
	const uint8_t *input = node->inputs[0]->data;
	uint8_t *output = node->outputs[0]->data;
	int64_t n = 1;
	for (int d = 0; d < p->rank; d++)
		n *= p->out_dims[d];
	for (int64_t i = 0; i < n; i++) {
		/* Coordinates of output element i, mapped to the input offset. */
		int64_t rest = i, off = 0;
		for (int d = p->rank - 1; d >= 0; d--) {
			off += (rest % p->out_dims[d]) * p->in_stride[p->perm[d]];
			rest /= p->out_dims[d];
		}
		memcpy(output + i * p->elem_size, input + off * p->elem_size, (size_t)p->elem_size);
	}
	return 0;
}

const edge_op_kernel edge__op_transpose = {
	.builtin = EDGE_OP_TRANSPOSE,
	.name = "TRANSPOSE",
	.prepare = transpose_prepare,
	.eval = transpose_eval,
};
