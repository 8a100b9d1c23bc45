/* Shared prepare() of the pooling operators. */
#ifndef EDGE_INFER_OP_POOL_COMMON_H
#define EDGE_INFER_OP_POOL_COMMON_H

#include "../infer_op.h"

/* Fills an edge_pool_prep into node->prep. need_full_windows: refuse a
 * declared output whose window misses the input entirely (average). */
int edge__pool_prepare(edge_op_node *node, edge_prep_ctx *ctx, int need_full_windows)
	__attribute__((warn_unused_result));

#endif
