/* Shared prepare() of AVERAGE_POOL_2D and MAX_POOL_2D (TFLM
 * pooling_common.cc): int8 NHWC in and out with the same channel count;
 * raw values, so the kernels do not rescale. */
#include "op_common.h"
#include "op_pool_common.h"

int edge__pool_prepare(edge_op_node *node, edge_prep_ctx *ctx, int need_full_windows)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 1, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	edge_pool_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	const __typeof__(node->opt.pool) *o = &node->opt.pool;
	if ((rc = edge__window_prepare(ctx, node, input, output, o->padding, o->filter_h,
				       o->filter_w, o->stride_h, o->stride_w, 1, 1, &p->g)))
		return rc;
	if (p->g.out_c != p->g.in_c)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output has %d channels, input has %d", p->g.out_c, p->g.in_c);
	/* TFLM's average fails at invoke on a window with no input element;
	 * refuse such a geometry up front. Window origins grow with the output
	 * index, so checking the first and last positions covers all. */
	if (need_full_windows) {
		const edge_window_prep *g = &p->g;
		int32_t y_first = -g->pad_top, y_last = (g->out_h - 1) * g->stride_h - g->pad_top;
		int32_t x_first = -g->pad_left, x_last = (g->out_w - 1) * g->stride_w - g->pad_left;
		if (y_first + g->k_h <= 0 || y_last >= g->in_h || x_first + g->k_w <= 0 ||
		    x_last >= g->in_w)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "a pooling window of the declared output lies outside the input");
	}
	if ((rc = edge__activation_range(ctx, node, o->activation, output, &p->act_min,
					 &p->act_max)))
		return rc;
	/* Windows are clipped to the input, which bounds the work per output. */
	uint64_t kh = (uint64_t)(p->g.k_h < p->g.in_h ? p->g.k_h : p->g.in_h);
	uint64_t kw = (uint64_t)(p->g.k_w < p->g.in_w ? p->g.k_w : p->g.in_w);
	node->macs = (uint64_t)p->g.batches * (uint64_t)p->g.out_h * (uint64_t)p->g.out_w *
		     (uint64_t)p->g.out_c * kh * kw;
	node->prep = p;
	return 0;
}
