/* PAD / PADV2 on int8: whole rows of the innermost dimension are copied
 * with memcpy and the padding filled with memset, instead of one
 * coordinate computation per element. Same bytes as the reference. */
#include <errno.h>
#include <string.h>

#include "../infer_op.h"
#include "../ops/op_prep.h"
#include "opt_internal.h"

int edge__opt_prepare_pad(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops)
{
	const edge_pad_prep *p = node->prep;
	const edge_tensor *in = node->inputs[0], *out = node->outputs[0];
	if (!in || p->elem_size != 1 || p->rank < 1 || p->rank > EDGE_PAD_MAX_RANK || in->type != EDGE_TT_INT8 ||
	    out->type != EDGE_TT_INT8)
		return 0;
	edge__opt_node *o = edge__opt_node_alloc(ctx, EDGE__OPT_PAD, ops);
	if (!o)
		return -ENOMEM;
	o->pad = p;
	node->opt_prep = o;
	return 0;
}

void edge__opt_run_pad(const edge__opt_node *o, const edge_op_node *node)
{
	const edge_pad_prep *p = o->pad;
	const int8_t *in = node->inputs[0]->data;
	int8_t *out = node->outputs[0]->data;
	const edge_tensor *value = node->n_inputs > 2 ? node->inputs[2] : NULL;
	const int v = value && value->data ? *(const int8_t *)value->data : (int8_t)p->pad_value;
	const int last = p->rank - 1;
	const size_t row_out = (size_t)p->out_dims[last], row_in = (size_t)p->in_dims[last];
	const size_t before = (size_t)p->before[last], after = (size_t)p->after[last];
	int64_t rows = 1;
	for (int d = 0; d < last; d++)
		rows *= p->out_dims[d];
	for (int64_t r = 0; r < rows; r++) {
		/* Outer output coordinates -> input row, or a row of padding. */
		int64_t rest = r, off = 0, stride = p->in_dims[last];
		int inside = 1;
		for (int d = last - 1; d >= 0; d--) {
			int64_t c = rest % p->out_dims[d] - p->before[d];
			rest /= p->out_dims[d];
			if (c < 0 || c >= p->in_dims[d])
				inside = 0;
			off += c * stride;
			stride *= p->in_dims[d];
		}
		int8_t *dst = out + (size_t)r * row_out;
		if (!inside) {
			memset(dst, v, row_out);
			continue;
		}
		memset(dst, v, before);
		memcpy(dst + before, in + off, row_in);
		memset(dst + before + row_in, v, after);
	}
}
