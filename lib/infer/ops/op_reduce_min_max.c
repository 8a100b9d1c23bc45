/* REDUCE_MAX and REDUCE_MIN, int8 (TFLM reduce_common.cc, reference
 * ReduceGeneric): the maximum / minimum of the raw values over the axes;
 * input and output must share scale and zero point. An empty input leaves
 * every output at the initial value (INT8_MIN / INT8_MAX). */
#include "op_common.h"
#include "op_kernels.h"
#include "op_reduce_common.h"

static int reduce_min_max_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_reduce_prep *p = NULL;
	int rc = edge__reduce_prepare(node, ctx, EDGE_REDUCE_MAX_RANK,
				      EDGE_REDUCE_MAX_RANK, &p);
	if (rc)
		return rc;
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if (edge__scale(input) != edge__scale(output) || p->in_zp != p->out_zp)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "input and output quantization differ (%g, %d vs %g, %d)",
				     (double)edge__scale(input), p->in_zp,
				     (double)edge__scale(output), p->out_zp);
	node->prep = p;
	return 0;
}

static void reduce_min_max_eval(const edge_op_node *node, int is_max)
{
	const edge_reduce_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t o = 0; o < p->out_n; o++) {
		int8_t v = is_max ? INT8_MIN : INT8_MAX;
		if (!p->empty_input) {
			int64_t base = edge__reduce_base(p, o);
			for (int32_t r = 0; r < p->count; r++) {
				int8_t x = input[base + edge__reduce_offset(p, r)];
				if (is_max)
					v = x > v ? x : v;
				else
					v = x < v ? x : v;
			}
		}
		output[o] = v;
	}
}

static int reduce_max_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	reduce_min_max_eval(node, 1);
	return 0;
}

static int reduce_min_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	reduce_min_max_eval(node, 0);
	return 0;
}

const edge_op_kernel edge__op_reduce_max = {
	.builtin = EDGE_OP_REDUCE_MAX,
	.name = "REDUCE_MAX",
	.prepare = reduce_min_max_prepare,
	.eval = reduce_max_eval,
};

const edge_op_kernel edge__op_reduce_min = {
	.builtin = EDGE_OP_REDUCE_MIN,
	.name = "REDUCE_MIN",
	.prepare = reduce_min_max_prepare,
	.eval = reduce_min_eval,
};
