/* MAX_POOL_2D, int8 (TFLM reference_integer_ops::MaxPool): maximum of the
 * window clipped to the input, then the activation clamp. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"
#include "op_pool_common.h"

static int max_pool_2d_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return edge__pool_prepare(node, ctx, 0);
}

static int max_pool_2d_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
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
					const int32_t fx_start = in_x_origin < 0 ? -in_x_origin : 0;
					const int32_t fx_end = g->k_w < g->in_w - in_x_origin ? g->k_w : g->in_w - in_x_origin;
					const int32_t fy_start = in_y_origin < 0 ? -in_y_origin : 0;
					const int32_t fy_end = g->k_h < g->in_h - in_y_origin ? g->k_h : g->in_h - in_y_origin;
					int32_t max = INT8_MIN;
					for (int32_t fy = fy_start; fy < fy_end; fy++) {
						for (int32_t fx = fx_start; fx < fx_end; fx++) {
							const int32_t in_x = in_x_origin + fx;
							const int32_t in_y = in_y_origin + fy;
							int32_t v = input[(((int64_t)b * g->in_h + in_y) * g->in_w + in_x) * g->in_c + c];
							if (v > max)
								max = v;
						}
					}
					max = edge_clamp_i32(max, p->act_min, p->act_max);
					output[(((int64_t)b * g->out_h + out_y) * g->out_w + out_x) * g->out_c + c] = (int8_t)max;
				}
			}
		}
	}
	return 0;
}

const edge_op_kernel edge__op_max_pool_2d = {
	.builtin = EDGE_OP_MAX_POOL_2D,
	.name = "MAX_POOL_2D",
	.prepare = max_pool_2d_prepare,
	.eval = max_pool_2d_eval,
};
