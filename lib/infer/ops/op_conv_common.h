/* Shared prepare() parts of the weighted operators: CONV_2D and
 * DEPTHWISE_CONV_2D (tensor checks, filter quantization, output
 * quantization) and FULLY_CONNECTED (bias check, per-channel multipliers),
 * as TFLM's conv_common.cc / depthwise_conv_common.cc /
 * PopulateConvolutionQuantizationParams. Internal to lib/infer/ops. */
#ifndef EDGE_INFER_OP_CONV_COMMON_H
#define EDGE_INFER_OP_CONV_COMMON_H

#include <stdint.h>

#include "../edge_infer.h"
#include "../infer_op.h"
#include "fixedpoint.h"
#include "op_prep.h"

/* CONV_2D / DEPTHWISE_CONV_2D: 2 or 3 inputs and 1 output; input and
 * filter present; input, filter and output int8; filter rank 4; per-tensor
 * quantization of input and output. */
int edge__conv_check_tensors(edge_prep_ctx *ctx, const edge_op_node *node) EDGE_INFER_WUR;

/* CONV_2D / DEPTHWISE_CONV_2D: a new zeroed edge_conv_prep (*out, memory
 * from ctx) with the window geometry of input 0, output 0 and the filter's
 * dims 1 (k_h) and 2 (k_w). */
int edge__conv_window_prepare(edge_prep_ctx *ctx, const edge_op_node *node, int padding,
			      int stride_h, int stride_w, int dil_h, int dil_w,
			      edge_conv_prep **out) EDGE_INFER_WUR;

/* The filter (borrowed) has quantization parameters: one scale, or
 * n_channels scales along quant_dim; every zero point is 0. */
int edge__conv_check_filter_quant(edge_prep_ctx *ctx, const edge_op_node *node,
				  const edge_tensor *filter, int32_t n_channels,
				  int quant_dim) EDGE_INFER_WUR;

/* An optional bias (NULL: none, borrowed) is int32 with n elements. Its own
 * quantized_dimension is ignored (TOCO writes 3 on 1-D biases). */
int edge__check_bias(edge_prep_ctx *ctx, const edge_op_node *node,
		     const edge_tensor *bias, int32_t n) EDGE_INFER_WUR;

/* Per output channel c < n: QuantizeMultiplier(double in_scale *
 * double filter_scale[c or 0] / double out_scale) into the caller's
 * multiplier[n] / shift[n]. */
int edge__per_channel_multipliers(edge_prep_ctx *ctx, const edge_op_node *node,
				  int32_t n, int32_t *multiplier, int32_t *shift) EDGE_INFER_WUR;

/* CONV_2D / DEPTHWISE_CONV_2D after the geometry (p->g.out_c set): zero
 * points, the activation range and the per-channel multipliers (memory
 * from ctx) of p. */
int edge__conv_output_prepare(edge_prep_ctx *ctx, const edge_op_node *node,
			      int activation, edge_conv_prep *p) EDGE_INFER_WUR;

/* The optional int32 bias of a CONV_2D / DEPTHWISE_CONV_2D /
 * FULLY_CONNECTED node (input 2), or NULL. Borrowed. */
static inline const int32_t *edge__conv_bias_data(const edge_op_node *node)
{
	return node->n_inputs > 2 && node->inputs[2] ? node->inputs[2]->data : NULL;
}

/* The output stage of the three kernels: accumulator plus bias[c] (bias
 * may be NULL), taken as int32 wrapping like TFLM's accumulator, rescaled
 * by (multiplier, shift), offset by out_zp and clamped. */
static inline int8_t edge__conv_output(int64_t acc, const int32_t *bias, int32_t c,
				       int32_t multiplier, int32_t shift, int32_t out_zp,
				       int32_t act_min, int32_t act_max)
{
	if (bias)
		acc += bias[c];
	int32_t v = edge_mbqm((int32_t)(uint32_t)acc, multiplier, shift);
	v += out_zp;
	return (int8_t)edge_clamp_i32(v, act_min, act_max);
}

#endif
