/* Internals shared by the optimised-kernel dispatcher, the ISA-neutral
 * drivers (tiling, im2col, tap lists) and the per-ISA kernels. libc only. */
#ifndef EDGE_INFER_OPT_INTERNAL_H
#define EDGE_INFER_OPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../infer_op.h"

#define EDGE__OPT_MAX_MR 8          /* most output pixels per GEMM tile */

/* Per-output-channel requantisation, arrays padded to a multiple of the
 * ISA's channel block (padding channels: multiplier 0). */
typedef struct edge__opt_requant {
	const int32_t *mult;            /* quantized multiplier M */
	const int32_t *lshift;          /* max(shift, 0) */
	const int32_t *rshift;          /* max(-shift, 0) */
	int32_t out_zp, act_min, act_max;
} edge__opt_requant;

/* A GEMM against packed weights: out[p, c] = requant(sum_k w[c,k] * row_p[k] + offset[c]).
 * Weights are packed in blocks of nr channels: for each block, for each
 * group of 4 k: nr x 4 bytes (channel-major within the group). k is padded
 * to k4 * 4 and channels to n_blocks * nr with zero weights. The offset
 * folds the bias, the input zero point and (for u8-input ISAs) the +128
 * bias of the unsigned operand. */
typedef struct edge__opt_gemm {
	const int8_t *packed;
	const int32_t *offset;          /* [n_blocks * nr] */
	edge__opt_requant rq;
	int32_t k4;                     /* k groups of 4 */
	int32_t n_out;                  /* real output channels */
	int32_t n_blocks;
} edge__opt_gemm;

/* Depthwise: out[c] = requant(bias[c] + sum over valid taps of w_tap[c] * (x_tap[c or 0] - in_zp)). */
typedef struct edge__opt_dw {
	const int32_t *bias;            /* [channels padded], zeros when absent */
	edge__opt_requant rq;
	int32_t channels;
	int32_t in_zp;
	int x_broadcast;                /* one input channel feeds every output (depth_multiplier = out_c) */
} edge__opt_dw;

/* ADD / SUB without broadcasting (TFLM add.h with left_shift):
 * a = rdbpot(srdhm((x1 - in1_zp) << left_shift, m1), rs1), b likewise,
 * out = clamp(rdbpot(srdhm(a +/- b, mo), rso) + out_zp). */
typedef struct edge__opt_add {
	int32_t in1_zp, in2_zp, left_shift;
	int32_t m1, rs1, m2, rs2, mo, rso;
	int32_t out_zp, act_min, act_max;
	int sub;                        /* SUB: a - b */
} edge__opt_add;

struct edge__opt_node;

/* The entry points one instruction-set flavour provides. */
typedef struct edge__opt_isa_ops {
	int isa;                        /* enum edge_opt_isa */
	int nr;                         /* channel block of the packed layout */
	int x_u8;                       /* the dot product takes x + 128 as unsigned */
	int row_i16;                    /* gemm rows are int16 (else bytes) */
	/* rows[0..n_rows) each hold k4*4 readable bytes; outs[p] receives n_out bytes. */
	void (*gemm)(const edge__opt_gemm *g, const int8_t *const *rows, int n_rows, int8_t *const *outs);
	/* A whole depthwise operator. */
	void (*dw_all)(const struct edge__opt_node *o, const int8_t *in, int8_t *out);
	/* n elements of ADD / SUB. */
	void (*add)(const edge__opt_add *p, const int8_t *x1, const int8_t *x2, int8_t *out, int32_t n);
} edge__opt_isa_ops;

/* Defines a flavour's table from the static gemm(), dw_all() and add() and
 * the NR of the kernel file that expands it. */
#define EDGE__OPT_DEFINE_ISA_OPS(name, isa_level, takes_x_u8, rows_are_i16) \
	const edge__opt_isa_ops name = {                                        \
		.isa = (isa_level),                                             \
		.nr = NR,                                                       \
		.x_u8 = (takes_x_u8),                                           \
		.row_i16 = (rows_are_i16),                                      \
		.gemm = gemm,                                                   \
		.dw_all = dw_all,                                               \
		.add = add,                                                     \
	}

extern const edge__opt_isa_ops edge__opt_avx2_ops;
extern const edge__opt_isa_ops edge__opt_avxvnni_ops;
extern const edge__opt_isa_ops edge__opt_avx512vnni_ops;
extern const edge__opt_isa_ops edge__opt_neon_ops;
extern const edge__opt_isa_ops edge__opt_dotprod_ops;

/* What edge_opt_prepare() leaves in node->opt_prep. */
enum edge__opt_kind { EDGE__OPT_CONV = 1, EDGE__OPT_DW = 2, EDGE__OPT_FC = 3, EDGE__OPT_ADD = 4, EDGE__OPT_PAD = 5 };

typedef struct edge__opt_node {
	int kind;                       /* enum edge__opt_kind */
	const edge__opt_isa_ops *ops;   /* the flavour the data was prepared for */
	size_t bytes;                   /* persistent bytes of this node's optimised data */
	/* CONV and FC: a GEMM over rows (one per output pixel) built in the
	 * node's arena scratch (per context, so contexts on different threads
	 * may share the model). */
	edge__opt_gemm gemm;
	int32_t k;                      /* real row length (k_h * k_w * in_c, or depth) */
	int32_t row_stride;             /* bytes between rows in the scratch */
	int32_t in_zp;
	size_t rowbuf_bytes;            /* scratch needed: up to EDGE__OPT_MAX_MR rows */
	/* DW */
	edge__opt_dw dw;
	const int8_t *filter;
	/* PAD / PADV2: the operator's own prepared data */
	const void *pad;
	/* ADD / SUB */
	edge__opt_add add;
	int32_t n;
	/* Geometry (CONV, DW) */
	int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
	int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
} edge__opt_node;

/* A node's optimised data from ctx's prepare-time allocator, with bytes,
 * kind and ops set (other fields as the allocator leaves them); NULL when
 * out of memory. Lives as long as the model's arena. */
edge__opt_node *edge__opt_node_alloc(edge_prep_ctx *ctx, int kind, const edge__opt_isa_ops *ops);
int edge__opt_prepare_conv(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops);
int edge__opt_prepare_dw(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops);
int edge__opt_prepare_add(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops);
int edge__opt_prepare_pad(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops);
void edge__opt_run_pad(const edge__opt_node *o, const edge_op_node *node);
int edge__opt_prepare_fc(edge_op_node *node, edge_prep_ctx *ctx, const edge__opt_isa_ops *ops);
void edge__opt_run_conv(const edge__opt_node *o, const int8_t *in, int8_t *out, int8_t *rowbuf);
void edge__opt_run_dw(const edge__opt_node *o, const int8_t *in, int8_t *out);
void edge__opt_run_fc(const edge__opt_node *o, const int8_t *in, int8_t *out, int8_t *rowbuf);

/* Valid window taps of a depthwise/conv output position along one axis:
 * k in [*k0, *k1) keeps 0 <= i0 + k*dil < size. */
static inline void edge__opt_tap_range(int32_t i0, int32_t k, int32_t dil, int32_t size, int *k0, int *k1)
{
	int lo = i0 >= 0 ? 0 : (int)((-i0 + dil - 1) / dil);
	int hi = (int)k;
	while (hi > lo && i0 + (hi - 1) * dil >= size)
		hi--;
	*k0 = lo;
	*k1 = hi;
}

/* Scalar double-rounding requantisation, identical to the reference
 * (INT8-NOTES 5.2): used for tails the vector code does not cover. */
static inline int32_t edge__opt_srdhm(int32_t a, int32_t b)
{
	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	int64_t p = (int64_t)a * (int64_t)b;
	/* (p + nudge) / 2^31 with truncation equals floor((p + 2^30) / 2^31). */
	return (int32_t)((p + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t edge__opt_rdbpot(int32_t x, int32_t e)
{
	int32_t mask = (int32_t)(((uint32_t)1 << e) - 1u);
	int32_t rem = x & mask;
	int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
	return (x >> e) + (rem > threshold ? 1 : 0);
}

static inline int8_t edge__opt_requant1(const edge__opt_requant *rq, int c, int32_t acc)
{
	int32_t a = (int32_t)((uint32_t)acc << rq->lshift[c]);
	int32_t v = edge__opt_rdbpot(edge__opt_srdhm(a, rq->mult[c]), rq->rshift[c]) + rq->out_zp;
	if (v < rq->act_min)
		v = rq->act_min;
	if (v > rq->act_max)
		v = rq->act_max;
	return (int8_t)v;
}

static inline int8_t edge__opt_add1(const edge__opt_add *p, int8_t x1, int8_t x2)
{
	int32_t a = (int32_t)((uint32_t)(x1 - p->in1_zp) << p->left_shift);
	int32_t b = (int32_t)((uint32_t)(x2 - p->in2_zp) << p->left_shift);
	a = edge__opt_rdbpot(edge__opt_srdhm(a, p->m1), p->rs1);
	b = edge__opt_rdbpot(edge__opt_srdhm(b, p->m2), p->rs2);
	int32_t s = (int32_t)(p->sub ? (uint32_t)a - (uint32_t)b : (uint32_t)a + (uint32_t)b);
	int32_t v = edge__opt_rdbpot(edge__opt_srdhm(s, p->mo), p->rso) + p->out_zp;
	if (v < p->act_min)
		v = p->act_min;
	if (v > p->act_max)
		v = p->act_max;
	return (int8_t)v;
}

#endif
