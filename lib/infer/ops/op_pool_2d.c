/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (TFLM pooling_common.cc +
 * reference_integer_ops::AveragePool / MaxPool): NHWC in and out with the
 * same channel count, on raw values (no rescaling). Each window is clipped
 * to the input; average divides the sum of the valid values by their count,
 * rounding half away from zero; max takes their maximum. Then the
 * activation clamp. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

/* need_full_windows: refuse a declared output whose window misses the
 * input entirely (average). */
static int pool_prepare(edge_op_node *node, edge_prep_ctx *ctx, int need_full_windows)
{
	int rc;
	if ((rc = edge__check_int8_in_out(ctx, node)))
		return rc;
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_quant(ctx, node, output, "output")))
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

static int average_pool_2d_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return pool_prepare(node, ctx, 1);
}

static int max_pool_2d_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return pool_prepare(node, ctx, 0);
}

static void pool_eval(const edge_op_node *node, int is_max)
{
	const edge_pool_prep *p = node->prep;
	const edge_window_prep *g = &p->g;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t b = 0; b < g->batches; b++) {
		for (int32_t out_y = 0; out_y < g->out_h; out_y++) {
			for (int32_t out_x = 0; out_x < g->out_w; out_x++) {
				for (int32_t c = 0; c < g->out_c; c++) {
					const int32_t in_x_origin = out_x * g->stride_w - g->pad_left;
					const int32_t in_y_origin = out_y * g->stride_h - g->pad_top;
					/* Clip the window to the input. */
					const int32_t fx_start = in_x_origin < 0 ? -in_x_origin : 0;
					const int32_t fx_end = g->k_w < g->in_w - in_x_origin ? g->k_w : g->in_w - in_x_origin;
					const int32_t fy_start = in_y_origin < 0 ? -in_y_origin : 0;
					const int32_t fy_end = g->k_h < g->in_h - in_y_origin ? g->k_h : g->in_h - in_y_origin;
					/* 64-bit sum: TFLM's int32 one can only overflow where its
					 * behaviour is undefined, so results agree everywhere else. */
					int64_t acc = 0;
					int32_t count = 0;
					int32_t max = INT8_MIN;
					for (int32_t fy = fy_start; fy < fy_end; fy++) {
						for (int32_t fx = fx_start; fx < fx_end; fx++) {
							const int32_t in_x = in_x_origin + fx;
							const int32_t in_y = in_y_origin + fy;
							const int32_t v = input[(((int64_t)b * g->in_h + in_y) * g->in_w + in_x) * g->in_c + c];
							if (is_max) {
								if (v > max)
									max = v;
							} else {
								acc += v;
								count++;
							}
						}
					}
					int32_t out;
					if (is_max) {
						out = max;
					} else {
						/* prepare() guarantees count > 0. Round half away from zero. */
						if (count == 0)
							count = 1;
						acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
						out = (int32_t)acc;
					}
					out = edge_clamp_i32(out, p->act_min, p->act_max);
					output[(((int64_t)b * g->out_h + out_y) * g->out_w + out_x) * g->out_c + c] = (int8_t)out;
				}
			}
		}
	}
}

static int average_pool_2d_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	pool_eval(node, 0);
	return 0;
}

static int max_pool_2d_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	pool_eval(node, 1);
	return 0;
}

const edge_op_kernel edge__op_average_pool_2d = {
	.builtin = EDGE_OP_AVERAGE_POOL_2D,
	.name = "AVERAGE_POOL_2D",
	.prepare = average_pool_2d_prepare,
	.eval = average_pool_2d_eval,
};

const edge_op_kernel edge__op_max_pool_2d = {
	.builtin = EDGE_OP_MAX_POOL_2D,
	.name = "MAX_POOL_2D",
	.prepare = max_pool_2d_prepare,
	.eval = max_pool_2d_eval,
};
