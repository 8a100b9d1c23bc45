/* The operator kernels defined in lib/infer/ops, one per file; the table
 * in op_table.c maps builtin codes to them. */
#ifndef EDGE_INFER_OP_KERNELS_H
#define EDGE_INFER_OP_KERNELS_H

#include "../infer_op.h"

extern const edge_op_kernel edge__op_add;
extern const edge_op_kernel edge__op_average_pool_2d;
extern const edge_op_kernel edge__op_concatenation;
extern const edge_op_kernel edge__op_conv_2d;
extern const edge_op_kernel edge__op_depthwise_conv_2d;
extern const edge_op_kernel edge__op_dequantize;
extern const edge_op_kernel edge__op_fully_connected;
extern const edge_op_kernel edge__op_leaky_relu;
extern const edge_op_kernel edge__op_logistic;
extern const edge_op_kernel edge__op_max_pool_2d;
extern const edge_op_kernel edge__op_maximum;
extern const edge_op_kernel edge__op_mean;
extern const edge_op_kernel edge__op_minimum;
extern const edge_op_kernel edge__op_mul;
extern const edge_op_kernel edge__op_pad;
extern const edge_op_kernel edge__op_padv2;
extern const edge_op_kernel edge__op_quantize;
extern const edge_op_kernel edge__op_reduce_max;
extern const edge_op_kernel edge__op_reduce_min;
extern const edge_op_kernel edge__op_relu;
extern const edge_op_kernel edge__op_relu6;
extern const edge_op_kernel edge__op_reshape;
extern const edge_op_kernel edge__op_softmax;
extern const edge_op_kernel edge__op_sub;
extern const edge_op_kernel edge__op_sum;
extern const edge_op_kernel edge__op_tanh;
extern const edge_op_kernel edge__op_transpose;

#endif
