/* Shared prepare() and iteration of MEAN, SUM, REDUCE_MAX and REDUCE_MIN. */
#ifndef EDGE_INFER_OP_REDUCE_COMMON_H
#define EDGE_INFER_OP_REDUCE_COMMON_H

#include "../infer_op.h"
#include "op_prep.h"

/* Checks input 0 (int8), input 1 (constant int32 axes, negative counted
 * from the end, duplicates ignored, all in range), the output type and that
 * its element count is the product of the kept dims, and per-tensor
 * quantization of input and output; fills the geometry and zero points of
 * a new edge_reduce_prep (*out). max_rank / max_axes: limits of the TFLM
 * kernel in question. */
int edge__reduce_prepare(edge_op_node *node, edge_prep_ctx *ctx, int max_rank,
			 int max_axes, edge_reduce_prep **out)
	__attribute__((warn_unused_result));

/* Input offset of the first element reduced into output element o. */
static inline int64_t edge__reduce_base(const edge_reduce_prep *p, int32_t o)
{
	int64_t base = 0;
	for (int k = p->n_kept - 1; k >= 0; k--) {
		base += (int64_t)(o % p->kept_dims[k]) * p->kept_stride[k];
		o /= p->kept_dims[k];
	}
	return base;
}

/* Offset, relative to the base, of the r-th element of the reduced box. */
static inline int64_t edge__reduce_offset(const edge_reduce_prep *p, int32_t r)
{
	int64_t off = 0;
	for (int k = p->n_red - 1; k >= 0; k--) {
		off += (int64_t)(r % p->red_dims[k]) * p->red_stride[k];
		r /= p->red_dims[k];
	}
	return off;
}

#endif
