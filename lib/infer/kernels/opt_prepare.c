/* edge_opt_prepare() for CONV_2D and FULLY_CONNECTED (GEMM: weights packed
 * into the active flavour's channel blocks; bias, input zero point, the
 * u8 offset and per-channel weight sums folded into one int32 offset per
 * channel; a GEMM row buffer requested as arena scratch), DEPTHWISE_CONV_2D
 * (padded bias) and ADD/SUB; shifts are split for the vector
 * requantisation. Nodes the optimised kernels do not cover (groups,
 * depth_multiplier > 1 with several input channels, broadcasting, huge
 * rows) get no opt_prep and run the reference eval. */
#include <errno.h>
#include <string.h>

#include "../infer_op.h"
#include "../ops/op_prep.h"
#include "edge_opt.h"
#include "opt_internal.h"

#define ROWBUF_MAX ((size_t)64 << 10)  /* arena scratch; larger rows: leave the node to the reference */
#define TAPS_MAX 65536

edge__opt_node *edge__opt_node_alloc(edge_prep_ctx *ctx, int kind, const edge__opt_isa_ops *ops)
{
	edge__opt_node *o = ctx->alloc(ctx, sizeof(*o));
	if (!o)
		return NULL;
	o->bytes = sizeof(*o);
	o->kind = kind;
	o->ops = ops;
	return o;
}

static void *opt_alloc(edge_prep_ctx *ctx, edge__opt_node *o, size_t bytes)
{
	bytes = (bytes + 63) & ~(size_t)63;
	void *p = ctx->alloc(ctx, bytes);
	if (p)
		o->bytes += bytes;
	return p;
}

static int int8_tensor(const edge_tensor *t)
{
	return t && t->type == EDGE_TT_INT8 && t->n_quant >= 1;
}

static int const_tensor(const edge_tensor *t, int type, size_t bytes)
{
	return t && t->type == type && t->is_const && t->data && t->bytes >= bytes;
}

static int fill_requant(edge_prep_ctx *ctx, edge__opt_node *o, edge__opt_requant *rq, int32_t n, int32_t padded,
			const int32_t *mult, const int32_t *shift, int per_channel, int32_t out_zp, int32_t act_min,
			int32_t act_max)
{
	int32_t *m = opt_alloc(ctx, o, (size_t)padded * 4);
	int32_t *ls = opt_alloc(ctx, o, (size_t)padded * 4);
	int32_t *rs = opt_alloc(ctx, o, (size_t)padded * 4);
	if (!m || !ls || !rs)
		return -ENOMEM;
	for (int32_t c = 0; c < n; c++) {
		int32_t s = shift[per_channel ? c : 0];
		m[c] = mult[per_channel ? c : 0];
		ls[c] = s > 0 ? s : 0;
		rs[c] = s < 0 ? -s : 0;
		if (ls[c] > 31 || rs[c] > 31)
			return 1; /* outside what QuantizeMultiplier produces: not ours */
	}
	rq->mult = m;
	rq->lshift = ls;
	rq->rshift = rs;
	rq->out_zp = out_zp;
	rq->act_min = act_min;
	rq->act_max = act_max;
	return 0;
}

/* Shared by CONV_2D (k = k_h*k_w*in_c) and FULLY_CONNECTED (k = depth). */
static int prepare_gemm(edge_op_node *node, edge_prep_ctx *ctx, edge__opt_node *o, const edge__opt_isa_ops *ops,
			const int8_t *w,
			int32_t n_out, int64_t k, const int32_t *bias, int32_t in_zp, int32_t max_rows)
{
	const int nr = ops->nr;
	const int64_t k4 = (k + 3) / 4;
	const int64_t nb = (n_out + nr - 1) / nr;
	const size_t row_stride = ((size_t)k4 * 4 * (ops->row_i16 ? 2 : 1) + 63) & ~(size_t)63;
	const int rows = max_rows < EDGE__OPT_MAX_MR ? max_rows : EDGE__OPT_MAX_MR;
	if (k < 1 || n_out < 1 || rows < 1 || row_stride * (size_t)rows > ROWBUF_MAX)
		return 1;
	int8_t *packed = opt_alloc(ctx, o, (size_t)(nb * nr * k4 * 4));
	int32_t *offset = opt_alloc(ctx, o, (size_t)(nb * nr) * 4);
	if (!packed || !offset)
		return -ENOMEM;
	const int32_t x_bias = in_zp + (ops->x_u8 ? 128 : 0);
	for (int64_t c = 0; c < n_out; c++) {
		const int8_t *wc = w + c * k;
		int64_t sum = 0;
		for (int64_t i = 0; i < k; i++) {
			int8_t *dst = packed + ((c / nr) * k4 + i / 4) * (nr * 4) + (c % nr) * 4 + i % 4;
			*dst = wc[i];
			sum += wc[i];
		}
		int64_t off = (int64_t)(bias ? bias[c] : 0) - (int64_t)x_bias * sum;
		offset[c] = (int32_t)(uint32_t)(uint64_t)off; /* int32 wrap-around, as the accumulator */
	}
	o->ops = ops;
	o->gemm.packed = packed;
	o->gemm.offset = offset;
	o->gemm.k4 = (int32_t)k4;
	o->gemm.n_out = n_out;
	o->gemm.n_blocks = (int32_t)nb;
	o->k = (int32_t)k;
	o->row_stride = (int32_t)row_stride;
	o->rowbuf_bytes = row_stride * (size_t)rows;
	/* The loader plans the scratch in the arena after all prepares. */
	if (node->scratch_bytes < o->rowbuf_bytes)
		node->scratch_bytes = o->rowbuf_bytes;
	o->in_zp = in_zp;
	return 0;
}

static void copy_geometry(edge__opt_node *o, const edge_window_prep *g)
{
	o->batches = g->batches;
	o->in_h = g->in_h;
	o->in_w = g->in_w;
	o->in_c = g->in_c;
	o->out_h = g->out_h;
	o->out_w = g->out_w;
	o->out_c = g->out_c;
	o->k_h = g->k_h;
	o->k_w = g->k_w;
	o->stride_h = g->stride_h;
	o->stride_w = g->stride_w;
	o->dil_h = g->dil_h;
	o->dil_w = g->dil_w;
	o->pad_top = g->pad_top;
	o->pad_left = g->pad_left;
}

/* Bias tensor check: absent, or int32 const with n entries. */
static int bias_ok(const edge_op_node *node, int32_t n, const int32_t **bias)
{
	const edge_tensor *b = node->n_inputs > 2 ? node->inputs[2] : NULL;
	*bias = NULL;
	if (!b)
		return 1;
	if (!const_tensor(b, EDGE_TT_INT32, (size_t)n * 4))
		return 0;
	*bias = b->data;
	return 1;
}

static int finish(edge_op_node *node, edge__opt_node *o, int rc)
{
	if (rc == 0)
		node->opt_prep = o;
	return rc < 0 ? rc : 0; /* rc > 0: not covered, stays on the reference (memory is the model's) */
}

int edge__opt_prepare_conv(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops)
{
	const edge_conv_prep *p = node->prep;
	const edge_tensor *in = node->inputs[0], *f = node->inputs[1], *out = node->outputs[0];
	const edge_window_prep *g = &p->g;
	const int32_t *bias;
	if (p->groups != 1 || p->filter_in_c != g->in_c || !int8_tensor(in) || !int8_tensor(out))
		return 0;
	const int64_t k = (int64_t)g->k_h * g->k_w * g->in_c;
	if (!const_tensor(f, EDGE_TT_INT8, (size_t)(k * g->out_c)) || !bias_ok(node, g->out_c, &bias))
		return 0;
	edge__opt_node *o = edge__opt_node_alloc(ctx, EDGE__OPT_CONV, ops);
	if (!o)
		return -ENOMEM;
	copy_geometry(o, g);
	int64_t pixels = (int64_t)g->batches * g->out_h * g->out_w;
	int rc = prepare_gemm(node, ctx, o, ops, f->data, g->out_c, k, bias, p->in_zp,
			      pixels < EDGE__OPT_MAX_MR ? (int32_t)pixels : EDGE__OPT_MAX_MR);
	if (rc == 0)
		rc = fill_requant(ctx, o, &o->gemm.rq, g->out_c, o->gemm.n_blocks * ops->nr, p->out_multiplier,
				  p->out_shift, 1, p->out_zp, p->act_min, p->act_max);
	return finish(node, o, rc);
}

int edge__opt_prepare_fc(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops)
{
	const edge_fc_prep *p = node->prep;
	const edge_tensor *in = node->inputs[0], *f = node->inputs[1], *out = node->outputs[0];
	const int32_t *bias;
	if (!int8_tensor(in) || !int8_tensor(out) || p->batches < 1)
		return 0;
	if (!const_tensor(f, EDGE_TT_INT8, (size_t)p->depth * (size_t)p->units) || !bias_ok(node, p->units, &bias))
		return 0;
	edge__opt_node *o = edge__opt_node_alloc(ctx, EDGE__OPT_FC, ops);
	if (!o)
		return -ENOMEM;
	o->batches = p->batches;
	o->out_c = p->units;
	int rc = prepare_gemm(node, ctx, o, ops, f->data, p->units, p->depth, bias, p->in_zp,
			      p->batches < EDGE__OPT_MAX_MR ? p->batches : EDGE__OPT_MAX_MR);
	if (rc == 0)
		rc = fill_requant(ctx, o, &o->gemm.rq, p->units, o->gemm.n_blocks * ops->nr, p->out_multiplier,
				  p->out_shift, p->per_channel, p->out_zp, p->act_min, p->act_max);
	return finish(node, o, rc);
}

int edge__opt_prepare_dw(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops)
{
	const edge_conv_prep *p = node->prep;
	const edge_tensor *in = node->inputs[0], *f = node->inputs[1], *out = node->outputs[0];
	const edge_window_prep *g = &p->g;
	const int32_t *bias;
	if (!int8_tensor(in) || !int8_tensor(out))
		return 0;
	/* depth_multiplier 1, or one input channel feeding every output channel */
	if (!(p->depth_multiplier == 1 && g->in_c == g->out_c) && !(g->in_c == 1 && p->depth_multiplier == g->out_c))
		return 0;
	const int64_t taps = (int64_t)g->k_h * g->k_w;
	if (taps > TAPS_MAX || !const_tensor(f, EDGE_TT_INT8, (size_t)(taps * g->out_c)) ||
	    !bias_ok(node, g->out_c, &bias))
		return 0;
	edge__opt_node *o = edge__opt_node_alloc(ctx, EDGE__OPT_DW, ops);
	if (!o)
		return -ENOMEM;
	copy_geometry(o, g);
	const int32_t padded = (g->out_c + 63) & ~63;
	int32_t *b = opt_alloc(ctx, o, (size_t)padded * 4);
	if (!b)
		return -ENOMEM;
	if (bias)
		memcpy(b, bias, (size_t)g->out_c * 4);
	o->filter = f->data;
	o->dw.bias = b;
	o->dw.channels = g->out_c;
	o->dw.in_zp = p->in_zp;
	o->dw.x_broadcast = g->in_c == 1 && g->out_c > 1;
	int rc = fill_requant(ctx, o, &o->dw.rq, g->out_c, padded, p->out_multiplier, p->out_shift, 1, p->out_zp,
			      p->act_min, p->act_max);
	return finish(node, o, rc);
}

int edge__opt_prepare_add(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops)
{
	const edge_add_prep *p = node->prep;
	const edge_tensor *a = node->inputs[0], *b = node->inputs[1], *out = node->outputs[0];
	if (!ops->add || p->bc.broadcast || !int8_tensor(a) || !int8_tensor(b) || !int8_tensor(out))
		return 0;
	if (p->left_shift < 0 || p->left_shift > 31 || p->in1_shift > 0 || p->in2_shift > 0 || p->out_shift > 0 ||
	    p->in1_shift < -31 || p->in2_shift < -31 || p->out_shift < -31)
		return 0;
	edge__opt_node *o = edge__opt_node_alloc(ctx, EDGE__OPT_ADD, ops);
	if (!o)
		return -ENOMEM;
	o->n = p->bc.n;
	o->add = (edge__opt_add){
		.in1_zp = p->in1_zp, .in2_zp = p->in2_zp, .left_shift = p->left_shift,
		.m1 = p->in1_multiplier, .rs1 = -p->in1_shift,
		.m2 = p->in2_multiplier, .rs2 = -p->in2_shift,
		.mo = p->out_multiplier, .rso = -p->out_shift,
		.out_zp = p->out_zp, .act_min = p->act_min, .act_max = p->act_max,
		.sub = node->builtin == EDGE_OP_SUB,
	};
	return finish(node, o, 0);
}
