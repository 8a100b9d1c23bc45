/* Prepared data of each operator (node->prep), as computed by the
 * operator's prepare() in lib/infer/ops/. The reference eval() and the
 * optimised kernels read the same fields, so both apply exactly the same
 * arithmetic (fixedpoint.h):
 *
 * - Multipliers/shifts follow QuantizeMultiplier: value = M * 2^shift / 2^31,
 *   shift > 0 means a left shift. Apply with edge_mbqm() (double rounding)
 *   unless the struct says otherwise.
 * - Zero points are stored as they are in the tensors (TFLM's "offsets" are
 *   their negation for inputs); activation clamps act_min/act_max are in
 *   the output's integer domain and are applied after adding out_zp.
 * - Geometry is NHWC. Loops run over the DECLARED output dims (as TFLM's
 *   reference kernels do); window positions outside the input are skipped
 *   (equivalent to padding with the input zero point).
 *
 * All pointers inside these structs point into the model's persistent
 * prepare memory (edge_prep_ctx alloc) and are owned by the model. Tensor
 * data (weights, bias) is NOT copied: read it from node->inputs[]. */
#ifndef EDGE_INFER_OP_PREP_H
#define EDGE_INFER_OP_PREP_H

#include <stdint.h>

#include "infer_op.h"

/* Sliding-window geometry: CONV_2D, DEPTHWISE_CONV_2D, *_POOL_2D. */
typedef struct edge_window_prep {
	int32_t batches;
	int32_t in_h, in_w, in_c;
	int32_t out_h, out_w, out_c;     /* declared output dims */
	int32_t k_h, k_w;                /* filter or pooling window */
	int32_t stride_h, stride_w;
	int32_t dil_h, dil_w;            /* 1 for pooling */
	/* Padding before (what the kernels use: iy = oy*stride_h - pad_top + ky*dil_h)
	 * and after (how far the last window of the declared output reaches past
	 * the input, >= 0; informational for kernels that pre-pad). */
	int32_t pad_top, pad_left, pad_bottom, pad_right;
} edge_window_prep;

/* CONV_2D and DEPTHWISE_CONV_2D (int8 in/out, int8 filter, int32 bias).
 * CONV_2D: inputs[1] filter [out_c, k_h, k_w, filter_in_c] (OHWI);
 * groups = in_c / filter_in_c, output channel oc reads input channels
 * [g*filter_in_c, (g+1)*filter_in_c) with g = oc / (out_c / groups).
 * DEPTHWISE: filter [1, k_h, k_w, out_c], oc = ic*depth_multiplier + m.
 * inputs[2] bias int32 [out_c], or NULL (treated as 0).
 * acc = sum(w * (x - in_zp)) + bias (int32, wrapping on overflow as the
 * original); out = clamp(mbqm(acc, mult[oc], shift[oc]) + out_zp).
 * Window positions: iy = oy*stride_h - pad_top + ky*dil_h (same for x);
 * positions outside [0, in_h) x [0, in_w) contribute nothing. */
typedef struct edge_conv_prep {
	edge_window_prep g;
	int32_t filter_in_c;             /* CONV_2D: filter dim 3; DEPTHWISE: 1 */
	int32_t groups;                  /* CONV_2D: in_c / filter_in_c; DEPTHWISE: 1 */
	int32_t depth_multiplier;        /* DEPTHWISE: out_c / in_c; CONV_2D: 1 */
	int32_t in_zp, out_zp;
	int32_t act_min, act_max;
	int32_t *out_multiplier;         /* [out_c] */
	int32_t *out_shift;              /* [out_c] */
} edge_conv_prep;

/* FULLY_CONNECTED: input flattened to [batches, depth], filter [units, depth]
 * int8, optional int32 bias [units] (inputs[2] may be NULL).
 * out[b,u] = clamp(mbqm(sum_d w[u,d]*(x[b,d] - in_zp) + bias[u], M, s) + out_zp)
 * with (M, s) = out_multiplier/out_shift[per_channel ? u : 0]. Weight zero
 * point is 0 (checked). */
typedef struct edge_fc_prep {
	int32_t batches, depth, units;
	int32_t in_zp, out_zp;
	int32_t act_min, act_max;
	int per_channel;                 /* 1: [units] multipliers, 0: one */
	int32_t *out_multiplier;
	int32_t *out_shift;
} edge_fc_prep;

/* AVERAGE_POOL_2D / MAX_POOL_2D on raw int8 values (in and out share
 * quantization). Average: window clipped to the input, count = valid
 * elements, round half away from zero with truncating division. */
typedef struct edge_pool_prep {
	edge_window_prep g;              /* in_c == out_c, dil = 1 */
	int32_t act_min, act_max;
} edge_pool_prep;

/* Numpy broadcasting of two inputs to the output, right-aligned into
 * EDGE_BCAST_RANK dims. Element (i0..i5) of the output reads input k at
 * sum(i_d * in_stride[k][d]); strides are 0 along broadcast dims.
 * When !broadcast both inputs have the output's shape: a flat loop over n. */
#define EDGE_BCAST_RANK 6
typedef struct edge_bcast_prep {
	int broadcast;
	int32_t n;                       /* output element count */
	int32_t out_dims[EDGE_BCAST_RANK];
	int32_t in_stride[2][EDGE_BCAST_RANK];
} edge_bcast_prep;

/* ADD / SUB int8 (TFLM add/sub with left_shift 20):
 * a = edge_mbqm_smaller_than_one_exp((x1 - in1_zp) << left_shift, in1_multiplier, in1_shift)
 * b = same for input 2
 * out = clamp(edge_mbqm_smaller_than_one_exp(a +/- b, out_multiplier, out_shift) + out_zp) */
typedef struct edge_add_prep {
	edge_bcast_prep bc;
	int32_t left_shift;
	int32_t in1_zp, in2_zp, out_zp;
	int32_t in1_multiplier, in1_shift;
	int32_t in2_multiplier, in2_shift;
	int32_t out_multiplier, out_shift;
	int32_t act_min, act_max;
} edge_add_prep;

/* MUL int8: out = clamp(mbqm((x1 - in1_zp)*(x2 - in2_zp), M, s) + out_zp). */
typedef struct edge_mul_prep {
	edge_bcast_prep bc;
	int32_t in1_zp, in2_zp, out_zp;
	int32_t out_multiplier, out_shift;
	int32_t act_min, act_max;
} edge_mul_prep;

/* MAXIMUM / MINIMUM: raw values, broadcast. */
typedef struct edge_minmax_prep {
	edge_bcast_prep bc;
} edge_minmax_prep;

/* SOFTMAX int8 -> int8 (or int16) over the last dimension (gemmlowp path). */
typedef struct edge_softmax_prep {
	int32_t outer, depth;            /* rows, row length */
	int32_t input_multiplier;
	int32_t input_left_shift;        /* >= 0 */
	int32_t diff_min;
	int out_type;                    /* EDGE_TT_INT8 or EDGE_TT_INT16 */
} edge_softmax_prep;

/* LOGISTIC / TANH int8: Q4.27 input rescale with a frexp multiplier. */
typedef struct edge_sigmoid_prep {
	int32_t n;
	int32_t in_zp;
	int32_t input_multiplier;
	int32_t input_left_shift;
	int32_t input_range_radius;
} edge_sigmoid_prep;

/* RELU: out = clamp(mbqm(x - in_zp, M, s) + out_zp, act_min, act_max).
 * RELU6: out = clamp(x, act_min, act_max) in the input domain (no rescale,
 * multiplier unused). */
typedef struct edge_relu_prep {
	int32_t n;
	int32_t in_zp, out_zp;
	int32_t out_multiplier, out_shift;
	int32_t act_min, act_max;
} edge_relu_prep;

/* LEAKY_RELU int8: x >= in_zp ? identity branch : alpha branch, each
 * mbqm(x - in_zp, M, s) + out_zp, clamped to int8. */
typedef struct edge_leaky_relu_prep {
	int32_t n;
	int32_t in_zp, out_zp;
	int32_t identity_multiplier, identity_shift;
	int32_t alpha_multiplier, alpha_shift;
} edge_leaky_relu_prep;

/* MEAN / SUM / REDUCE_MAX / REDUCE_MIN over a set of axes. The input dims
 * split into kept dims (the output's, in order) and reduced dims; output
 * element o reads the input at base(o) + every offset of the reduced box. */
#define EDGE_REDUCE_MAX_RANK 8
typedef struct edge_reduce_prep {
	int n_kept, n_red;
	int32_t kept_dims[EDGE_REDUCE_MAX_RANK], kept_stride[EDGE_REDUCE_MAX_RANK];
	int32_t red_dims[EDGE_REDUCE_MAX_RANK], red_stride[EDGE_REDUCE_MAX_RANK];
	int32_t out_n;                   /* output elements */
	int32_t count;                   /* input elements per output element */
	int empty_input;                 /* an input dim is 0: outputs get the init value */
	int32_t in_zp, out_zp;
	/* MEAN: 1/count folded in (INT8-NOTES 5.10); SUM: in_scale/out_scale. */
	int32_t out_multiplier, out_shift;
} edge_reduce_prep;

/* PAD / PADV2: up to EDGE_PAD_MAX_RANK dims, value in the output type. */
#define EDGE_PAD_MAX_RANK 5
typedef struct edge_pad_prep {
	int rank;
	int32_t in_dims[EDGE_PAD_MAX_RANK];
	int32_t out_dims[EDGE_PAD_MAX_RANK];
	int32_t before[EDGE_PAD_MAX_RANK], after[EDGE_PAD_MAX_RANK];
	int32_t pad_value;
	int32_t elem_size;
} edge_pad_prep;

/* TRANSPOSE: out[i] = in[sum(idx_d * in_stride[perm[d]])]. */
#define EDGE_TRANSPOSE_MAX_RANK 6
typedef struct edge_transpose_prep {
	int rank;
	int32_t out_dims[EDGE_TRANSPOSE_MAX_RANK];
	int32_t perm[EDGE_TRANSPOSE_MAX_RANK];
	int32_t in_stride[EDGE_TRANSPOSE_MAX_RANK]; /* element strides of the input */
	int32_t elem_size;
} edge_transpose_prep;

/* CONCATENATION: outer x (sum of each input's axis slice) copies. */
typedef struct edge_concat_prep {
	int32_t outer;                   /* product of dims before axis */
	int32_t out_slice;               /* bytes of one outer row of the output */
	int32_t in_slice[EDGE_INFER_MAX_OP_INPUTS];           /* bytes of one outer row of input i */
	int n_inputs;
} edge_concat_prep;

/* QUANTIZE / DEQUANTIZE. */
enum edge_quantize_kind {
	EDGE_QUANTIZE_FROM_FLOAT = 0,    /* float32 -> int: round(x / scale) + zp */
	EDGE_QUANTIZE_REQUANTIZE = 1,    /* int -> int: mbqm(x - in_zp, M, s) + out_zp */
	EDGE_QUANTIZE_XOR80 = 2,         /* int8 <-> uint8, same scale, zps 128 apart */
	EDGE_DEQUANTIZE_TO_FLOAT = 3,    /* int -> float32: float(double(scale) * (q - zp)) */
};
typedef struct edge_quantize_prep {
	int kind;
	int in_type, out_type;
	int32_t n;
	int32_t in_zp, out_zp;
	float scale;                     /* FROM_FLOAT: output scale; TO_FLOAT: input scale */
	int32_t out_multiplier, out_shift;
	int32_t out_min, out_max;        /* range of out_type */
} edge_quantize_prep;

#endif
