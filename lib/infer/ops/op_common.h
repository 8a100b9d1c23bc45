/* Helpers shared by the operators' prepare() functions: specific error
 * messages, tensor checks, quantization getters, activation ranges,
 * sliding-window geometry and broadcasting. Internal to lib/infer/ops. */
#ifndef EDGE_INFER_OP_COMMON_H
#define EDGE_INFER_OP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "../edge_infer.h"
#include "../infer_op.h"
#include "op_prep.h"

/* Write "NAME: message" into ctx->err (when there is room) and return code. */
int edge__op_fail(edge_prep_ctx *ctx, const edge_op_node *node, int code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Zeroed persistent memory from ctx, or NULL (caller reports ENOMEM). */
void *edge__op_alloc(edge_prep_ctx *ctx, size_t bytes);

/* Schema name of node->builtin ("CONV_2D"). */
const char *edge__op_name(const edge_op_node *node);

/* Element size of a tensor type, 0 when unknown. */
size_t edge__type_size(int type);
const char *edge__type_str(int type);

/* Product of dims; -1 on overflow beyond INT32_MAX or a negative dim. */
int64_t edge__elements(const edge_tensor *t);

/* Dims i from the end; 1 when the rank is smaller. */
int32_t edge__dim_from_end(const edge_tensor *t, int i);

/* Same rank and dims. */
int edge__same_shape(const edge_tensor *a, const edge_tensor *b);

/* Per-tensor scale / zero point (n_quant >= 1: entry 0). Scale 0 and zp 0
 * when the tensor has no quantization (as TFLM's params). */
float edge__scale(const edge_tensor *t);
int32_t edge__zp(const edge_tensor *t);

/* Checks that fail with a message naming the op, the tensor role and the
 * field. role: "input", "output", "filter", "bias", ... */
int edge__check_io_count(edge_prep_ctx *ctx, const edge_op_node *node,
			 int min_in, int max_in, int n_out) EDGE_INFER_WUR;
int edge__check_present(edge_prep_ctx *ctx, const edge_op_node *node,
			const edge_tensor *t, const char *role) EDGE_INFER_WUR;
int edge__check_type(edge_prep_ctx *ctx, const edge_op_node *node,
		     const edge_tensor *t, const char *role, int type) EDGE_INFER_WUR;
int edge__check_rank(edge_prep_ctx *ctx, const edge_op_node *node,
		     const edge_tensor *t, const char *role, int min_rank,
		     int max_rank) EDGE_INFER_WUR;
/* Per-tensor quantization with scale > 0 (finite) and zp in the type's range. */
int edge__check_quant(edge_prep_ctx *ctx, const edge_op_node *node,
		      const edge_tensor *t, const char *role) EDGE_INFER_WUR;
/* Data must be present (constant tensor) for prepare to read it. */
int edge__check_const(edge_prep_ctx *ctx, const edge_op_node *node,
		      const edge_tensor *t, const char *role) EDGE_INFER_WUR;
/* Element count of t fits int32. */
int edge__check_elements(edge_prep_ctx *ctx, const edge_op_node *node,
			 const edge_tensor *t, const char *role, int32_t *n) EDGE_INFER_WUR;

/* TFLM CalculateActivationRangeQuantized for an int8/int16/uint8 output:
 * fused activation -> [act_min, act_max]. Refuses TANH / SIGN_BIT. */
int edge__activation_range(edge_prep_ctx *ctx, const edge_op_node *node,
			   int activation, const edge_tensor *output,
			   int32_t *act_min, int32_t *act_max) EDGE_INFER_WUR;

/* QuantizeMultiplier with a specific error naming what is being quantized. */
int edge__quantize_multiplier(edge_prep_ctx *ctx, const edge_op_node *node,
			      double m, const char *what, int32_t *multiplier,
			      int *shift) EDGE_INFER_WUR;

/* TFLM QuantizeMultiplierSmallerThanOneExp: 0 < m < 1 required. */
int edge__quantize_multiplier_smaller_than_one(edge_prep_ctx *ctx,
					       const edge_op_node *node, double m,
					       const char *what, int32_t *multiplier,
					       int *shift) EDGE_INFER_WUR;

/* TFLM ComputeOutSize + ComputePaddingWithOffset for one spatial axis:
 * computed output size (may be <= 0) and padding before/after it implies. */
void edge__window_axis(int padding, int in, int k, int stride, int dilation,
		       int32_t *out, int32_t *pad_before, int32_t *pad_after);

/* Fill g from NHWC input/output and the window options; checks ranks (4),
 * batch and window sanity. Loops use the declared output dims; positions
 * beyond the input are skipped by the kernels. */
int edge__window_prepare(edge_prep_ctx *ctx, const edge_op_node *node,
			 const edge_tensor *input, const edge_tensor *output,
			 int padding, int k_h, int k_w, int stride_h, int stride_w,
			 int dil_h, int dil_w, edge_window_prep *g) EDGE_INFER_WUR;

/* Numpy broadcasting of inputs 0 and 1 to output 0 (rank <= 6); checks the
 * output shape is the broadcast shape. */
int edge__broadcast_prepare(edge_prep_ctx *ctx, const edge_op_node *node,
			    edge_bcast_prep *bc) EDGE_INFER_WUR;

/* The common prepare() part of the int8 binary operators (ADD, SUB, MUL,
 * MAXIMUM, MINIMUM): two inputs and one output, all present and int8,
 * per-tensor quantization when `quantized`, then a zeroed prep of
 * prep_size bytes whose FIRST member is an edge_bcast_prep, filled by
 * edge__broadcast_prepare. Sets node->macs; the caller sets node->prep. */
int edge__binary_prepare(edge_prep_ctx *ctx, edge_op_node *node, int quantized,
			 size_t prep_size, void **prep) EDGE_INFER_WUR;

/* One input and one output, the input present, both int8. */
int edge__check_int8_in_out(edge_prep_ctx *ctx, const edge_op_node *node) EDGE_INFER_WUR;

/* A zeroed prep of prep_size bytes for an element-wise operator and the
 * element count *n, which input 0 and output 0 must share (both fit
 * int32). Sets node->macs; the caller sets node->prep. */
int edge__elementwise_alloc(edge_prep_ctx *ctx, edge_op_node *node, size_t prep_size,
			    void **prep, int32_t *n) EDGE_INFER_WUR;

/* The common prepare() part of the int8 element-wise unary operators (RELU,
 * RELU6, LEAKY_RELU, LOGISTIC, TANH): edge__check_int8_in_out,
 * per-tensor quantization of the input (and of the
 * output when `output_quantized`), then edge__elementwise_alloc. */
int edge__unary_prepare(edge_prep_ctx *ctx, edge_op_node *node, int output_quantized,
			size_t prep_size, void **prep, int32_t *n) EDGE_INFER_WUR;

/* Flat offsets of output element i's inputs under bc (i itself when the
 * inputs have the output's shape). */
static inline void edge__broadcast_offsets(const edge_bcast_prep *bc, int32_t i,
					   int32_t *off1, int32_t *off2)
{
	if (!bc->broadcast) {
		*off1 = i;
		*off2 = i;
		return;
	}
	int32_t o1 = 0, o2 = 0;
	for (int d = EDGE_BCAST_RANK - 1; d >= 0; d--) {
		int32_t idx = i % bc->out_dims[d];
		i /= bc->out_dims[d];
		o1 += idx * bc->in_stride[0][d];
		o2 += idx * bc->in_stride[1][d];
	}
	*off1 = o1;
	*off2 = o2;
}

#endif
