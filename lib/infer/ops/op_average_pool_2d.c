/* AVERAGE_POOL_2D, int8 (TFLM reference_integer_ops::AveragePool): the
 * window is clipped to the input and the sum of the valid raw values is
 * divided by their count, rounding half away from zero. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"
#include "op_pool_common.h"

static int average_pool_2d_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	return edge__pool_prepare(node, ctx, 1);
}

static int average_pool_2d_eval(edge_op_node *node, int flavour)
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
					/* Clip the window to the input. */
					const int32_t fx_start = in_x_origin < 0 ? -in_x_origin : 0;
					const int32_t fx_end = g->k_w < g->in_w - in_x_origin ? g->k_w : g->in_w - in_x_origin;
					const int32_t fy_start = in_y_origin < 0 ? -in_y_origin : 0;
					const int32_t fy_end = g->k_h < g->in_h - in_y_origin ? g->k_h : g->in_h - in_y_origin;
					/* 64-bit sum: TFLM's int32 one can only overflow where its
					 * behaviour is undefined, so results agree everywhere else. */
					int64_t acc = 0;
					int32_t count = 0;
					for (int32_t fy = fy_start; fy < fy_end; fy++) {
						for (int32_t fx = fx_start; fx < fx_end; fx++) {
							const int32_t in_x = in_x_origin + fx;
							const int32_t in_y = in_y_origin + fy;
							acc += input[(((int64_t)b * g->in_h + in_y) * g->in_w + in_x) * g->in_c + c];
							count++;
						}
					}
					/* prepare() guarantees count > 0. Round half away from zero. */
					if (count == 0)
						count = 1;
					acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
					int32_t avg = (int32_t)acc;
					avg = edge_clamp_i32(avg, p->act_min, p->act_max);
					output[(((int64_t)b * g->out_h + out_y) * g->out_w + out_x) * g->out_c + c] = (int8_t)avg;
				}
			}
		}
	}
	return 0;
}

const edge_op_kernel edge__op_average_pool_2d = {
	.builtin = EDGE_OP_AVERAGE_POOL_2D,
	.name = "AVERAGE_POOL_2D",
	.prepare = average_pool_2d_prepare,
	.eval = average_pool_2d_eval,
};
