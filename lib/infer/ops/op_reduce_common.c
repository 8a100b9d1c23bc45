/* Shared prepare() of the reductions (TFLM reduce_common.cc, reference
 * reduce.h ResolveAxis). */
#include "op_common.h"
#include "op_reduce_common.h"

int edge__reduce_prepare(edge_op_node *node, edge_prep_ctx *ctx, int max_rank,
			 int max_axes, edge_reduce_prep **out)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 2, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *axis = node->inputs[1];
	edge_tensor *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_present(ctx, node, axis, "axis")) ||
	    (rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, axis, "axis", EDGE_TT_INT32)) ||
	    (rc = edge__check_rank(ctx, node, input, "input", 0, max_rank)) ||
	    (rc = edge__check_rank(ctx, node, axis, "axis", 0, 1)) ||
	    (rc = edge__check_const(ctx, node, axis, "axis")))
		return rc;
	edge_reduce_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int32_t n_in, n_out, n_axis;
	if ((rc = edge__check_elements(ctx, node, input, "input", &n_in)) ||
	    (rc = edge__check_elements(ctx, node, output, "output", &n_out)) ||
	    (rc = edge__check_elements(ctx, node, axis, "axis", &n_axis)))
		return rc;

	/* ResolveAxis: negative axes count from the end, duplicates dropped. */
	uint8_t reduced[EDGE_INFER_MAX_RANK] = {0};
	int n_unique = 0;
	const int32_t *axes = axis->data;
	for (int32_t i = 0; i < n_axis && input->rank > 0; i++) {
		int32_t a = axes[i] < 0 ? axes[i] + input->rank : axes[i];
		if (a < 0 || a >= input->rank)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "axis %d is out of range for rank %d", axes[i],
					     input->rank);
		if (!reduced[a]) {
			reduced[a] = 1;
			n_unique++;
		}
	}
	if (n_unique > max_axes)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "reduces over %d distinct axes, at most %d supported",
				     n_unique, max_axes);

	int64_t stride = 1, kept_n = 1, count = 1;
	int n_kept = 0, n_red = 0;
	/* Walk from the innermost dim to get strides, then store outer-first. */
	int32_t kd[EDGE_INFER_MAX_RANK], ks[EDGE_INFER_MAX_RANK];
	int32_t rd[EDGE_INFER_MAX_RANK], rs[EDGE_INFER_MAX_RANK];
	for (int d = input->rank - 1; d >= 0; d--) {
		if (reduced[d]) {
			rd[n_red] = input->dims[d];
			rs[n_red] = (int32_t)stride;
			n_red++;
			count *= input->dims[d];
		} else {
			kd[n_kept] = input->dims[d];
			ks[n_kept] = (int32_t)stride;
			n_kept++;
			kept_n *= input->dims[d];
		}
		stride *= input->dims[d];
	}
	for (int k = 0; k < n_kept; k++) {
		p->kept_dims[k] = kd[n_kept - 1 - k];
		p->kept_stride[k] = ks[n_kept - 1 - k];
	}
	for (int k = 0; k < n_red; k++) {
		p->red_dims[k] = rd[n_red - 1 - k];
		p->red_stride[k] = rs[n_red - 1 - k];
	}
	p->n_kept = n_kept;
	p->n_red = n_red;
	p->count = (int32_t)count;
	p->empty_input = n_in == 0;
	if (kept_n != n_out)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output has %d elements, the reduction gives %lld",
				     n_out, (long long)kept_n);
	p->out_n = n_out;
	p->in_zp = edge__zp(input);
	p->out_zp = edge__zp(output);
	if ((rc = edge__check_quant(ctx, node, input, "input")) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	node->macs = (uint64_t)n_in;
	*out = p;
	return 0;
}
