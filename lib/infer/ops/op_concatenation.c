/* CONCATENATION (TFLM concatenation.cc, reference Concatenation): a copy
 * along one axis (negative counts from the end). int8 inputs must have
 * exactly the output's scale and zero point (no rescaling); int16, int32,
 * int64 and float32 are copied as they are. At most 10 inputs, rank <= 6, as TFLM. */
#include <stdio.h>
#include <string.h>

#include "op_common.h"
#include "op_kernels.h"

#define CONCAT_MAX_INPUTS 10
#define CONCAT_MAX_RANK 6

static int concatenation_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, CONCAT_MAX_INPUTS, 1)))
		return rc;
	edge_tensor *output = node->outputs[0];
	if ((rc = edge__check_rank(ctx, node, output, "output", 1, CONCAT_MAX_RANK)))
		return rc;
	size_t esize = edge__type_size(output->type);
	if (output->type != EDGE_TT_INT8 && output->type != EDGE_TT_INT32 &&
	    output->type != EDGE_TT_FLOAT32 && output->type != EDGE_TT_INT16 &&
	    output->type != EDGE_TT_INT64)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE, "output type %s is not supported",
				     edge__type_str(output->type));
	if (node->opt.concat.activation != EDGE_ACT_NONE)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "fused activation %d is not supported",
				     node->opt.concat.activation);
	int rank = output->rank;
	int axis = node->opt.concat.axis;
	if (axis < 0)
		axis += rank;
	if (axis < 0 || axis >= rank)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "axis %d is out of range for rank %d", node->opt.concat.axis, rank);
	edge_concat_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int64_t inner = 1, outer = 1, axis_sum = 0;
	for (int d = 0; d < axis; d++)
		outer *= output->dims[d];
	for (int d = axis + 1; d < rank; d++)
		inner *= output->dims[d];
	for (int i = 0; i < node->n_inputs; i++) {
		const edge_tensor *in = node->inputs[i];
		char role[32];
		snprintf(role, sizeof(role), "input %d", i);
		if ((rc = edge__check_present(ctx, node, in, role)) ||
		    (rc = edge__check_type(ctx, node, in, role, output->type)) ||
		    (rc = edge__check_rank(ctx, node, in, role, rank, rank)))
			return rc;
		for (int d = 0; d < rank; d++)
			if (d != axis && in->dims[d] != output->dims[d])
				return edge__op_fail(ctx, node, EDGE_INFER_EOP,
						     "input %d dim %d is %d, output has %d", i, d,
						     in->dims[d], output->dims[d]);
		/* Tensors without quantization compare as scale 0, zp 0 (TFLM's params). */
		if (output->type == EDGE_TT_INT8) {
			if (edge__scale(in) != edge__scale(output) || edge__zp(in) != edge__zp(output))
				return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
						     "input %d quantization (%g, %d) differs from the output's (%g, %d)",
						     i, (double)edge__scale(in), edge__zp(in),
						     (double)edge__scale(output), edge__zp(output));
		}
		axis_sum += in->dims[axis];
		int64_t slice = (int64_t)in->dims[axis] * inner * (int64_t)esize;
		if (slice > INT32_MAX)
			return edge__op_fail(ctx, node, EDGE_INFER_ESHAPE, "input %d is too large", i);
		p->in_slice[i] = (int32_t)slice;
	}
	if (axis_sum != output->dims[axis])
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "inputs sum to %lld along axis %d, output has %d",
				     (long long)axis_sum, axis, output->dims[axis]);
	int32_t n;
	if ((rc = edge__check_elements(ctx, node, output, "output", &n)))
		return rc;
	if ((int64_t)output->dims[axis] * inner * (int64_t)esize > INT32_MAX)
		return edge__op_fail(ctx, node, EDGE_INFER_ESHAPE, "output is too large");
	p->outer = (int32_t)outer;
	p->out_slice = (int32_t)(output->dims[axis] * inner * (int64_t)esize);
	p->n_inputs = node->n_inputs;
	node->macs = 0;
	node->prep = p;
	return 0;
}

static int concatenation_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_concat_prep *p = node->prep;
	uint8_t *out = node->outputs[0]->data;
	for (int32_t k = 0; k < p->outer; k++) {
		for (int i = 0; i < p->n_inputs; i++) {
			const uint8_t *in = node->inputs[i]->data;
			memcpy(out, in + (int64_t)k * p->in_slice[i], (size_t)p->in_slice[i]);
			out += p->in_slice[i];
		}
	}
	return 0;
}

const edge_op_kernel edge__op_concatenation = {
	.builtin = EDGE_OP_CONCATENATION,
	.name = "CONCATENATION",
	.prepare = concatenation_prepare,
	.eval = concatenation_eval,
};
