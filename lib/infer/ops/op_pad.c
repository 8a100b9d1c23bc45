/* PAD and PADV2, int8 (TFLM pad.cc, reference PadImpl): paddings is a
 * constant int32 [rank, 2] tensor of (before, after) per dim; rank <= 5.
 * PAD fills with the output zero point; PADV2 with its scalar value tensor,
 * which must share the output's scale and zero point. */
#include <string.h>

#include "op_common.h"
#include "op_kernels.h"

static int pad_prepare_common(edge_op_node *node, edge_prep_ctx *ctx, int v2)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, v2 ? 3 : 2, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *paddings = node->inputs[1];
	edge_tensor *value = node->n_inputs > 2 ? node->inputs[2] : NULL;
	edge_tensor *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_present(ctx, node, paddings, "paddings")) ||
	    (rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, paddings, "paddings", EDGE_TT_INT32)) ||
	    (rc = edge__check_const(ctx, node, paddings, "paddings")) ||
	    (rc = edge__check_rank(ctx, node, input, "input", 0, EDGE_PAD_MAX_RANK)) ||
	    (rc = edge__check_rank(ctx, node, output, "output", 0, EDGE_PAD_MAX_RANK)) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	if (output->rank != input->rank)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "output rank %d, input rank %d",
				     output->rank, input->rank);
	int64_t np = edge__elements(paddings);
	if (np != (int64_t)output->rank * 2)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "paddings has %lld values, expected %d (rank x 2)",
				     (long long)np, output->rank * 2);
	edge_pad_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	const int32_t *pd = paddings->data;
	p->rank = input->rank;
	for (int d = 0; d < p->rank; d++) {
		int32_t before = pd[2 * d], after = pd[2 * d + 1];
		if (before < 0 || after < 0)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "paddings of dim %d are negative (%d, %d)", d, before, after);
		int64_t want = (int64_t)input->dims[d] + before + after;
		if (output->dims[d] != want)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "output dim %d is %d, input + paddings give %lld", d,
					     output->dims[d], (long long)want);
		p->in_dims[d] = input->dims[d];
		p->out_dims[d] = output->dims[d];
		p->before[d] = before;
		p->after[d] = after;
	}
	int32_t n;
	if ((rc = edge__check_elements(ctx, node, output, "output", &n)))
		return rc;
	p->elem_size = 1;
	p->pad_value = edge__zp(output);
	if (value) {
		if ((rc = edge__check_type(ctx, node, value, "constant_values", EDGE_TT_INT8)) ||
		    (rc = edge__check_quant(ctx, node, value, "constant_values")))
			return rc;
		if (edge__elements(value) != 1)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "constant_values must hold one element");
		if (edge__zp(value) != edge__zp(output) || edge__scale(value) != edge__scale(output))
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "constant_values quantization (%g, %d) differs from the output's (%g, %d)",
					     (double)edge__scale(value), edge__zp(value),
					     (double)edge__scale(output), edge__zp(output));
	}
	node->macs = 0;
	node->prep = p;
	return 0;
}

static int pad_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return pad_prepare_common(node, ctx, 0);
}

static int padv2_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return pad_prepare_common(node, ctx, 1);
}

static int pad_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_pad_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;
	const edge_tensor *value = node->n_inputs > 2 ? node->inputs[2] : NULL;
	const int8_t pad_value = value ? *(const int8_t *)value->data : (int8_t)p->pad_value;

	int64_t n = 1;
	for (int d = 0; d < p->rank; d++)
		n *= p->out_dims[d];
	for (int64_t i = 0; i < n; i++) {
		/* Output coordinates -> input offset, or padding. */
		int64_t rest = i, off = 0, stride = 1;
		int inside = 1;
		for (int d = p->rank - 1; d >= 0; d--) {
			int64_t c = rest % p->out_dims[d] - p->before[d];
			rest /= p->out_dims[d];
			if (c < 0 || c >= p->in_dims[d])
				inside = 0;
			off += c * stride;
			stride *= p->in_dims[d];
		}
		output[i] = inside ? input[off] : pad_value;
	}
	return 0;
}

const edge_op_kernel edge__op_pad = {
	.builtin = EDGE_OP_PAD,
	.name = "PAD",
	.prepare = pad_prepare,
	.eval = pad_eval,
};

const edge_op_kernel edge__op_padv2 = {
	.builtin = EDGE_OP_PADV2,
	.name = "PADV2",
	.prepare = padv2_prepare,
	.eval = pad_eval,
};
