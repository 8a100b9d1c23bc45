/* Shared prepare() of LOGISTIC and TANH (int8, Q4.27 input rescale with a
 * frexp multiplier as in TFLM logistic_common.cc / tanh.cc). */
#ifndef EDGE_INFER_OP_SIGMOID_COMMON_H
#define EDGE_INFER_OP_SIGMOID_COMMON_H

#include "../infer_op.h"

#define EDGE_SIGMOID_INPUT_INTEGER_BITS 4

/* Fills an edge_sigmoid_prep into node->prep. */
int edge__sigmoid_prepare(edge_op_node *node, edge_prep_ctx *ctx)
	__attribute__((warn_unused_result));

#endif
