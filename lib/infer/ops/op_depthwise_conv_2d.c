/* DEPTHWISE_CONV_2D, int8 per-channel (TFLM reference_integer_ops::
 * DepthwiseConvPerChannel). inputs: 0 input [N,H,W,IC] int8, 1 filter
 * [1,KH,KW,OC] int8 with OC = IC * depth_multiplier (per-channel along dim 3
 * or per-tensor), 2 bias [OC] int32 (optional). */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_conv_common.h"
#include "op_kernels.h"

static int depthwise_conv_2d_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc = edge__conv_check_tensors(ctx, node);
	if (rc)
		return rc;
	const edge_tensor *filter = node->inputs[1];
	const edge_tensor *bias = node->n_inputs > 2 ? node->inputs[2] : NULL;
	if (filter->dims[0] != 1)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "filter dim 0 is %d, must be 1",
				     filter->dims[0]);

	const __typeof__(node->opt.dw) *o = &node->opt.dw;
	edge_conv_prep *p = NULL;
	if ((rc = edge__conv_window_prepare(ctx, node, o->padding, o->stride_h, o->stride_w,
					    o->dilation_h, o->dilation_w, &p)))
		return rc;
	int32_t oc = p->g.out_c;
	if (filter->dims[3] != oc)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "filter has %d channels, output has %d", filter->dims[3], oc);
	if (o->depth_multiplier < 1 || (int64_t)p->g.in_c * o->depth_multiplier != oc)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output channels %d != input channels %d x depth_multiplier %d",
				     oc, p->g.in_c, o->depth_multiplier);
	p->depth_multiplier = o->depth_multiplier;
	p->filter_in_c = 1;
	p->groups = 1;

	if ((rc = edge__conv_check_filter_quant(ctx, node, filter, oc, 3)) ||
	    (rc = edge__check_bias(ctx, node, bias, oc)) ||
	    (rc = edge__conv_output_prepare(ctx, node, o->activation, p)))
		return rc;
	node->macs = (uint64_t)p->g.batches * (uint64_t)p->g.out_h * (uint64_t)p->g.out_w *
		     (uint64_t)oc * (uint64_t)p->g.k_h * (uint64_t)p->g.k_w;
	node->prep = p;
	return 0;
}

static int depthwise_conv_2d_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_conv_prep *p = node->prep;
	const edge_window_prep *g = &p->g;
	const int8_t *input = node->inputs[0]->data;
	const int8_t *filter = node->inputs[1]->data;
	const int32_t *bias = edge__conv_bias_data(node);
	int8_t *output = node->outputs[0]->data;

	for (int32_t b = 0; b < g->batches; b++) {
		for (int32_t out_y = 0; out_y < g->out_h; out_y++) {
			for (int32_t out_x = 0; out_x < g->out_w; out_x++) {
				for (int32_t ic = 0; ic < g->in_c; ic++) {
					for (int32_t m = 0; m < p->depth_multiplier; m++) {
						const int32_t oc = m + ic * p->depth_multiplier;
						const int32_t in_x_origin = out_x * g->stride_w - g->pad_left;
						const int32_t in_y_origin = out_y * g->stride_h - g->pad_top;
						int64_t acc = 0;
						for (int32_t ky = 0; ky < g->k_h; ky++) {
							for (int32_t kx = 0; kx < g->k_w; kx++) {
								const int32_t in_x = in_x_origin + g->dil_w * kx;
								const int32_t in_y = in_y_origin + g->dil_h * ky;
								if (in_x < 0 || in_x >= g->in_w || in_y < 0 || in_y >= g->in_h)
									continue;
								int32_t x = input[(((int64_t)b * g->in_h + in_y) * g->in_w + in_x) * g->in_c + ic];
								int32_t w = filter[((int64_t)ky * g->k_w + kx) * g->out_c + oc];
								acc += w * (x - p->in_zp);
							}
						}
						output[(((int64_t)b * g->out_h + out_y) * g->out_w + out_x) * g->out_c + oc] =
							edge__conv_output(acc, bias, oc, p->out_multiplier[oc], p->out_shift[oc],
									  p->out_zp, p->act_min, p->act_max);
					}
				}
			}
		}
	}
	return 0;
}

const edge_op_kernel edge__op_depthwise_conv_2d = {
	.builtin = EDGE_OP_DEPTHWISE_CONV_2D,
	.name = "DEPTHWISE_CONV_2D",
	.prepare = depthwise_conv_2d_prepare,
	.eval = depthwise_conv_2d_eval,
};
