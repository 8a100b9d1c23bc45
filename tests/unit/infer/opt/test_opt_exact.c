/* Randomized bit-exactness of the optimised kernels: for thousands of random
 * CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED nodes (shapes, strides,
 * paddings incl. even SAME kernels, dilations, depth multipliers, per-channel
 * and per-tensor scales, zero points, activations, with and without bias)
 * the optimised output must equal the reference output byte for byte, at
 * every instruction-set level this CPU can run. Seeds are fixed; the case
 * count scales with EDGE_OPT_TEST_CASES (default 3000 per operator). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "edge_infer.h"
#include "infer_op.h"
#include "infer_test_util.h"
#include "kernels/edge_opt.h"

/* ---- deterministic random numbers */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int rnd(int lo, int hi) /* inclusive */
{
	return (int)((int64_t)lo + (int64_t)(rng_next() % (uint64_t)((int64_t)hi - lo + 1)));
}

static float rndf(float lo, float hi)
{
	return lo + (hi - lo) * (float)(rng_next() >> 40) / (float)(1 << 24);
}

/* ---- prepare-time allocator: a list of blocks freed after each case */

struct arena_block {
	struct arena_block *next;
	max_align_t pad[];
};

static void *test_alloc(edge_prep_ctx *ctx, size_t bytes)
{
	struct arena_block *b = calloc(1, sizeof(*b) + bytes + 16);
	if (!b)
		return NULL;
	b->next = ctx->alloc_state;
	ctx->alloc_state = b;
	return b->pad;
}

static void free_blocks(edge_prep_ctx *ctx)
{
	struct arena_block *b = ctx->alloc_state;
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	ctx->alloc_state = NULL;
}

/* ---- one random case */

struct tcase_data {
	edge_tensor t_in, t_filter, t_bias, t_out;
	float in_scale, out_scale;
	int64_t in_zp, out_zp;
	float *w_scale, *b_scale;
	int64_t *w_zp;
	int8_t *in, *filter, *out_ref, *out_opt;
	int32_t *bias;
	edge_op_node node;
	void *scratch;          /* the node's arena scratch (planned by the loader in a model) */
	size_t scratch_cap;
	char err[256];
	edge_prep_ctx ctx;
};

static void set_dims(edge_tensor *t, int rank, const int32_t *dims, int type, size_t esize)
{
	t->rank = rank;
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		t->dims[i] = dims[i];
		n *= (size_t)dims[i];
	}
	t->type = type;
	t->bytes = n * esize;
}

static void fill_i8(int8_t *p, size_t n, int lo, int hi)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (int8_t)rnd(lo, hi);
}

static void quant_tensor(edge_tensor *t, const float *scale, const int64_t *zp, int n, int dim)
{
	t->scale = scale;
	t->zero_point = zp;
	t->n_quant = n;
	t->quant_dim = dim;
}

static void case_free(struct tcase_data *d)
{
	free_blocks(&d->ctx);
	free(d->w_scale);
	free(d->b_scale);
	free(d->w_zp);
	free(d->in);
	free(d->filter);
	free(d->out_ref);
	free(d->out_opt);
	free(d->bias);
	free(d->scratch);
	memset(d, 0, sizeof(*d));
}

/* A blank case of one builtin with one output and the test allocator. */
static edge_op_node *case_start(struct tcase_data *d, int builtin)
{
	memset(d, 0, sizeof(*d));
	d->ctx.alloc = test_alloc;
	d->ctx.err = d->err;
	d->ctx.err_len = sizeof(d->err);
	d->node.builtin = builtin;
	d->node.n_outputs = 1;
	return &d->node;
}

/* The input and both output buffers, sized from t_in / t_out; the
 * reference writes out_ref. */
static void case_alloc_io(struct tcase_data *d)
{
	d->in = malloc(d->t_in.bytes);
	d->out_ref = malloc(d->t_out.bytes);
	d->out_opt = malloc(d->t_out.bytes);
	ck_assert(d->in && d->out_ref && d->out_opt);
	d->t_in.data = d->in;
	d->t_out.data = d->out_ref;
}

/* What the loader's planner does after all prepares: give the node its
 * scratch (poisoned, so nothing may depend on its contents). */
static void plan_scratch(struct tcase_data *d)
{
	if (d->node.scratch_bytes > d->scratch_cap) {
		free(d->scratch);
		d->scratch = malloc(d->node.scratch_bytes);
		ck_assert_ptr_nonnull(d->scratch);
		d->scratch_cap = d->node.scratch_bytes;
	}
	if (d->scratch)
		memset(d->scratch, 0xA5, d->scratch_cap);
	d->node.scratch = d->node.scratch_bytes ? d->scratch : NULL;
}

static int out_size(int in, int k, int stride, int dil, int padding)
{
	int eff = (k - 1) * dil + 1;
	if (padding == EDGE_PAD_SAME)
		return (in + stride - 1) / stride;
	return (in - eff + stride) / stride;
}

static const int activations[] = { EDGE_ACT_NONE, EDGE_ACT_RELU, EDGE_ACT_RELU6, EDGE_ACT_RELU_N1_TO_1 };

/* Build a random node of the given builtin into d. Returns 0 when the
 * drawn geometry is empty (caller draws again). */
static int case_build(struct tcase_data *d, int builtin)
{
	edge_op_node *n = case_start(d, builtin);
	int batches = rnd(1, 3) == 1 ? 2 : 1;
	int oc, k_count; /* output channels, MACs per output */
	int32_t in_dims[4], f_dims[4], out_dims[4];
	int in_rank = 4, f_rank = 4, out_rank = 4;
	int quant_dim = 0;
	int act = activations[rnd(0, 3)];

	if (builtin == EDGE_OP_FULLY_CONNECTED) {
		int depth = rnd(1, 3) == 1 ? rnd(1, 16) : rnd(1, 700);
		oc = rnd(1, 3) == 1 ? rnd(1, 8) : rnd(1, 80);
		batches = rnd(1, 4) == 1 ? rnd(2, 11) : 1;
		in_rank = out_rank = f_rank = 2;
		in_dims[0] = batches; in_dims[1] = depth;
		f_dims[0] = oc; f_dims[1] = depth;
		out_dims[0] = batches; out_dims[1] = oc;
		k_count = depth;
		n->opt.fc.activation = act;
	} else {
		int pad = rnd(0, 1) ? EDGE_PAD_SAME : EDGE_PAD_VALID;
		int kh = rnd(1, 4) == 1 ? rnd(1, 10) : rnd(1, 5), kw = rnd(1, 4) == 1 ? rnd(1, 8) : rnd(1, 5);
		int sh = rnd(1, 3), sw = rnd(1, 3);
		int dh = rnd(1, 5) == 1 ? 2 : 1, dw = rnd(1, 5) == 1 ? rnd(2, 3) : 1;
		int ih = rnd(1, 20), iw = rnd(1, 20);
		int ic, dm = 1;
		if (builtin == EDGE_OP_CONV_2D && rnd(0, 5) == 0) {
			kh = kw = sh = sw = dh = dw = 1; /* pointwise, the most common layer */
		}
		if (builtin == EDGE_OP_CONV_2D) {
			ic = rnd(1, 3) == 1 ? rnd(1, 4) : rnd(1, 48);
			if (kh == 1 && kw == 1 && rnd(0, 1))
				ic = 4 * rnd(1, 24);
			oc = rnd(1, 3) == 1 ? rnd(1, 8) : rnd(1, 72);
			f_dims[0] = oc; f_dims[1] = kh; f_dims[2] = kw; f_dims[3] = ic;
			k_count = kh * kw * ic;
			n->opt.conv = (__typeof__(n->opt.conv)){ pad, sw, sh, dw, dh, act };
		} else {
			if (rnd(0, 3) == 0) {
				ic = 1;
				dm = rnd(1, 3) == 1 ? 8 : rnd(1, 40);
			} else {
				ic = rnd(1, 3) == 1 ? rnd(1, 8) : rnd(1, 100);
			}
			oc = ic * dm;
			f_dims[0] = 1; f_dims[1] = kh; f_dims[2] = kw; f_dims[3] = oc;
			k_count = kh * kw;
			quant_dim = 3;
			n->opt.dw = (__typeof__(n->opt.dw)){ pad, sw, sh, dw, dh, act, dm };
		}
		int oh = out_size(ih, kh, sh, dh, pad), ow = out_size(iw, kw, sw, dw, pad);
		if (oh < 1 || ow < 1)
			return 0;
		in_dims[0] = batches; in_dims[1] = ih; in_dims[2] = iw; in_dims[3] = ic;
		out_dims[0] = batches; out_dims[1] = oh; out_dims[2] = ow; out_dims[3] = oc;
	}

	set_dims(&d->t_in, in_rank, in_dims, EDGE_TT_INT8, 1);
	set_dims(&d->t_filter, f_rank, f_dims, EDGE_TT_INT8, 1);
	set_dims(&d->t_out, out_rank, out_dims, EDGE_TT_INT8, 1);
	case_alloc_io(d);
	d->filter = malloc(d->t_filter.bytes);
	ck_assert(d->filter);
	/* Mostly realistic data; sometimes the extremes (-128 weights, full-range input). */
	int extreme = rnd(0, 9) == 0;
	fill_i8(d->in, d->t_in.bytes, -128, 127);
	fill_i8(d->filter, d->t_filter.bytes, extreme ? -128 : -127, 127);
	d->t_filter.data = d->filter;
	d->t_filter.is_const = 1;

	/* Quantization: per-channel filters for conv/dw (sometimes per-tensor),
	 * per-tensor for FC; output scale near the accumulator's spread so that
	 * the outputs do not all saturate. */
	d->in_scale = rndf(0.002f, 0.1f);
	d->in_zp = rnd(0, 4) == 0 ? 0 : rnd(-128, 127);
	int per_channel = builtin != EDGE_OP_FULLY_CONNECTED && rnd(0, 4) != 0;
	int nq = per_channel ? oc : 1;
	d->w_scale = malloc(sizeof(float) * (size_t)nq);
	d->w_zp = calloc((size_t)nq, sizeof(int64_t));
	ck_assert(d->w_scale && d->w_zp);
	float w_base = rndf(0.001f, 0.05f);
	for (int i = 0; i < nq; i++)
		d->w_scale[i] = w_base * rndf(0.25f, 4.0f);
	float spread = d->in_scale * w_base * 128.0f * sqrtf((float)k_count) * rndf(0.1f, 8.0f);
	if (rnd(0, 19) == 0)
		spread = d->in_scale * w_base * rndf(0.5f, 4.0f); /* multiplier > 1: left shifts */
	d->out_scale = spread / 64.0f;
	d->out_zp = rnd(-128, 127);
	quant_tensor(&d->t_in, &d->in_scale, &d->in_zp, 1, 0);
	quant_tensor(&d->t_out, &d->out_scale, &d->out_zp, 1, 0);
	quant_tensor(&d->t_filter, d->w_scale, d->w_zp, nq, quant_dim);

	n->inputs[0] = &d->t_in;
	n->inputs[1] = &d->t_filter;
	n->outputs[0] = &d->t_out;
	n->n_inputs = 2;
	if (rnd(0, 4) != 0) {
		int32_t bdims[1] = { oc };
		set_dims(&d->t_bias, 1, bdims, EDGE_TT_INT32, 4);
		d->bias = malloc(d->t_bias.bytes);
		ck_assert(d->bias);
		int range = extreme ? 1 << 30 : 1 << rnd(4, 20);
		for (int i = 0; i < oc; i++)
			d->bias[i] = (int32_t)rnd(-range, range);
		d->t_bias.data = d->bias;
		d->t_bias.is_const = 1;
		/* bias scale = input scale x filter scale, zero point 0 */
		d->b_scale = malloc(sizeof(float) * (size_t)nq);
		ck_assert(d->b_scale);
		for (int i = 0; i < nq; i++)
			d->b_scale[i] = d->in_scale * d->w_scale[i];
		quant_tensor(&d->t_bias, d->b_scale, d->w_zp, nq, 0);
		n->inputs[2] = &d->t_bias;
		n->n_inputs = 3;
	} else if (rnd(0, 1)) {
		n->n_inputs = 3; /* optional bias given as -1 */
	}
	return 1;
}

/* ADD / SUB: same-shape inputs (the optimised path) or, sometimes, a
 * broadcast second input (falls back to the reference). */
static float ew_scale[3];
static int64_t ew_zp[3];

static int case_build_eltwise(struct tcase_data *d, int builtin)
{
	edge_op_node *n = case_start(d, builtin);
	n->n_inputs = 2;
	n->opt.arith.activation = activations[rnd(0, 2)];
	int32_t dims[4] = { 1, rnd(1, 9), rnd(1, 9), rnd(1, 40) };
	int32_t bdims[4] = { 1, dims[1], dims[2], dims[3] };
	if (rnd(0, 7) == 0)
		bdims[1] = bdims[2] = 1; /* broadcast */
	set_dims(&d->t_in, 4, dims, EDGE_TT_INT8, 1);
	set_dims(&d->t_bias, 4, bdims, EDGE_TT_INT8, 1); /* second input */
	set_dims(&d->t_out, 4, dims, EDGE_TT_INT8, 1);
	case_alloc_io(d);
	d->filter = malloc(d->t_bias.bytes);
	ck_assert(d->filter);
	fill_i8(d->in, d->t_in.bytes, -128, 127);
	fill_i8(d->filter, d->t_bias.bytes, -128, 127);
	for (int i = 0; i < 3; i++) {
		ew_scale[i] = rndf(0.005f, 0.2f);
		ew_zp[i] = rnd(-128, 127);
	}
	quant_tensor(&d->t_in, &ew_scale[0], &ew_zp[0], 1, 0);
	quant_tensor(&d->t_bias, &ew_scale[1], &ew_zp[1], 1, 0);
	quant_tensor(&d->t_out, &ew_scale[2], &ew_zp[2], 1, 0);
	d->t_bias.data = d->filter;
	n->inputs[0] = &d->t_in;
	n->inputs[1] = &d->t_bias;
	n->outputs[0] = &d->t_out;
	return 1;
}

/* PAD: rank 1..4, random paddings per dim (output zero point as value). */
static int case_build_pad(struct tcase_data *d, int builtin)
{
	edge_op_node *n = case_start(d, builtin);
	n->n_inputs = 2;
	int rank = rnd(1, 4);
	int32_t dims[4], odims[4], pdims[2] = { rank, 2 };
	d->bias = malloc(sizeof(int32_t) * 8);
	ck_assert(d->bias);
	for (int i = 0; i < rank; i++) {
		dims[i] = rnd(1, 9);
		d->bias[2 * i] = rnd(0, 3) == 0 ? 0 : rnd(0, 3);
		d->bias[2 * i + 1] = rnd(0, 3) == 0 ? 0 : rnd(0, 3);
		odims[i] = dims[i] + d->bias[2 * i] + d->bias[2 * i + 1];
	}
	set_dims(&d->t_in, rank, dims, EDGE_TT_INT8, 1);
	set_dims(&d->t_bias, 2, pdims, EDGE_TT_INT32, 4); /* paddings */
	set_dims(&d->t_out, rank, odims, EDGE_TT_INT8, 1);
	case_alloc_io(d);
	fill_i8(d->in, d->t_in.bytes, -128, 127);
	ew_scale[0] = rndf(0.005f, 0.2f);
	ew_zp[0] = rnd(-128, 127);
	quant_tensor(&d->t_in, &ew_scale[0], &ew_zp[0], 1, 0);
	quant_tensor(&d->t_out, &ew_scale[0], &ew_zp[0], 1, 0);
	d->t_bias.data = d->bias;
	d->t_bias.is_const = 1;
	n->inputs[0] = &d->t_in;
	n->inputs[1] = &d->t_bias;
	n->outputs[0] = &d->t_out;
	return 1;
}

static int case_count(void)
{
	const char *e = getenv("EDGE_OPT_TEST_CASES");
	int n = e ? atoi(e) : 3000;
	return n > 0 ? n : 3000;
}

struct run_stats {
	int cases, covered, compared;
};

/* Run `count` random cases of builtin at every supported ISA level. */
static void run_random(int builtin, uint64_t seed, struct run_stats *st)
{
	const edge_op_kernel *k = edge_op_kernel_find(builtin);
	ck_assert_msg(k != NULL, "no reference kernel for builtin %d", builtin);
	rng_state = seed;
	const int count = case_count();
	int isas[8], n_isa = 0;
	for (int isa = EDGE_OPT_ISA_AVX2; isa <= EDGE_OPT_ISA_DOTPROD; isa++)
		if (edge_opt_isa_supported(isa))
			isas[n_isa++] = isa;
	const int best = edge_opt_isa_best();

	for (int c = 0; c < count; c++) {
		struct tcase_data d;
		int ok = builtin == EDGE_OP_ADD || builtin == EDGE_OP_SUB ? case_build_eltwise(&d, builtin)
			 : builtin == EDGE_OP_PAD			    ? case_build_pad(&d, builtin)
									    : case_build(&d, builtin);
		if (!ok) {
			case_free(&d);
			c--;
			continue;
		}
		st->cases++;
		int rc = k->prepare(&d.node, &d.ctx);
		ck_assert_msg(rc == 0, "case %d: reference prepare failed (%d): %s", c, rc, d.err);
		const size_t ref_scratch = d.node.scratch_bytes;
		plan_scratch(&d);
		ck_assert_int_eq(k->eval(&d.node, EDGE_KERNELS_REFERENCE), 0);
		for (int i = 0; i < n_isa; i++) {
			ck_assert_int_eq(edge_opt_set_isa(isas[i]), 0);
			d.node.opt_prep = NULL;
			d.node.scratch_bytes = ref_scratch;
			ck_assert_int_eq(edge_opt_prepare(&d.node, &d.ctx), 0);
			ck_assert_uint_le(d.node.scratch_bytes, 64 * 1024);
			plan_scratch(&d);
			memset(d.out_opt, 0x5A, d.t_out.bytes);
			d.t_out.data = d.out_opt;
			int handled = edge_opt_eval(&d.node);
			d.t_out.data = d.out_ref;
			if (!handled)
				continue;
			st->covered++;
			if (memcmp(d.out_ref, d.out_opt, d.t_out.bytes) != 0) {
				size_t at = 0;
				while (d.out_ref[at] == d.out_opt[at])
					at++;
				ck_abort_msg("builtin %d case %d isa %s: byte %zu of %zu differs: ref %d opt %d "
					     "(in %dx%dx%dx%d, filter %dx%dx%dx%d, stride %d/%d, dil %d/%d)",
					     builtin, c, edge_opt_isa_name(isas[i]), at, d.t_out.bytes,
					     d.out_ref[at], d.out_opt[at], d.t_in.dims[0], d.t_in.dims[1],
					     d.t_in.dims[2], d.t_in.dims[3], d.t_filter.dims[0], d.t_filter.dims[1],
					     d.t_filter.dims[2], d.t_filter.dims[3], d.node.opt.conv.stride_h,
					     d.node.opt.conv.stride_w, d.node.opt.conv.dilation_h,
					     d.node.opt.conv.dilation_w);
			}
			st->compared++;
		}
		case_free(&d);
	}
	ck_assert_int_eq(edge_opt_set_isa(best), 0);
}

static void report(const char *what, const struct run_stats *st)
{
	printf("# %s: %d cases, %d optimised runs compared equal (ISA levels: best %s)\n", what, st->cases,
	       st->compared, edge_opt_isa_name(edge_opt_isa_best()));
}

/* The operators checked against the reference, one fixed seed each. */
static const struct {
	const char *what;
	int builtin;
	uint64_t seed;
} checked_ops[] = {
	{ "CONV_2D", EDGE_OP_CONV_2D, 0xC0417ull },
	{ "DEPTHWISE_CONV_2D", EDGE_OP_DEPTHWISE_CONV_2D, 0xD3E7ull },
	{ "FULLY_CONNECTED", EDGE_OP_FULLY_CONNECTED, 0xFC00ull },
	{ "ADD", EDGE_OP_ADD, 0xADDull },
	{ "SUB", EDGE_OP_SUB, 0x5B0ull },
	{ "PAD", EDGE_OP_PAD, 0xBADull },
};

/* Random cases of one operator: every optimised run equals the reference
 * and, with an optimised level present, most cases take the optimised path. */
START_TEST(operator_matches_reference)
{
	struct run_stats st = { 0 };
	run_random(checked_ops[_i].builtin, checked_ops[_i].seed, &st);
	report(checked_ops[_i].what, &st);
	if (edge_opt_isa_best() != EDGE_OPT_ISA_NONE) {
		ck_assert_int_eq(st.covered, st.compared);
		ck_assert_int_gt(st.covered, st.cases / 2);
	}
}
END_TEST

/* ---- ISA selection */

START_TEST(isa_levels_are_selectable)
{
	const int best = edge_opt_isa_best();
	ck_assert(edge_opt_isa_supported(EDGE_OPT_ISA_NONE));
	ck_assert(edge_opt_isa_supported(best));
	ck_assert_int_eq(edge_opt_set_isa(EDGE_OPT_ISA_NONE), 0);
	ck_assert_int_eq(edge_opt_isa_current(), EDGE_OPT_ISA_NONE);
	ck_assert_str_eq(edge_opt_describe(), "reference kernels only");
	ck_assert_int_eq(edge_opt_set_isa(99), -EINVAL);
#if defined(__x86_64__)
	ck_assert_int_eq(edge_opt_set_isa(EDGE_OPT_ISA_NEON), -ENOTSUP);
#elif defined(__aarch64__)
	ck_assert_int_eq(edge_opt_set_isa(EDGE_OPT_ISA_AVX2), -ENOTSUP);
	ck_assert(edge_opt_isa_supported(EDGE_OPT_ISA_NEON));
#endif
	ck_assert_int_eq(edge_opt_set_isa(best), 0);
	ck_assert_str_eq(edge_opt_isa_name(edge_opt_isa_current()), edge_opt_isa_name(best));
	printf("# best ISA level: %s (%s)\n", edge_opt_isa_name(best), edge_opt_describe());
}
END_TEST

/* A node prepared at one level and run at another falls back (returns 0);
 * with no optimised level nothing is prepared. */
START_TEST(level_change_falls_back)
{
	const int best = edge_opt_isa_best();
	if (best == EDGE_OPT_ISA_NONE)
		return;
	rng_state = 42;
	struct tcase_data d;
	while (!case_build(&d, EDGE_OP_CONV_2D))
		case_free(&d);
	const edge_op_kernel *k = edge_op_kernel_find(EDGE_OP_CONV_2D);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(k->prepare(&d.node, &d.ctx), 0);
	ck_assert_int_eq(edge_opt_set_isa(best), 0);
	ck_assert_int_eq(edge_opt_prepare(&d.node, &d.ctx), 0);
	ck_assert_ptr_nonnull(d.node.opt_prep);
	ck_assert_uint_gt(edge_opt_node_bytes(&d.node), d.t_filter.bytes);
	ck_assert_uint_gt(d.node.scratch_bytes, 0);
	/* without its planned scratch the GEMM path declines */
	ck_assert_int_eq(edge_opt_eval(&d.node), 0);
	plan_scratch(&d);
	ck_assert_int_eq(edge_opt_eval(&d.node), 1);
	ck_assert_int_eq(edge_opt_set_isa(EDGE_OPT_ISA_NONE), 0);
	ck_assert_int_eq(edge_opt_eval(&d.node), 0);
	ck_assert_int_eq(edge_opt_prepare(&d.node, &d.ctx), 0);
	ck_assert_ptr_null(d.node.opt_prep);
	ck_assert_uint_eq(edge_opt_node_bytes(&d.node), 0);
	ck_assert_int_eq(edge_opt_set_isa(best), 0);
	case_free(&d);
}
END_TEST

/* ---- a real model shared by two contexts on two threads */

struct shared_run {
	const edge_infer_model *model;
	uint8_t seed;
	uint8_t expect[64];
	size_t out_len;
	int failures;
};

static void fill_input(edge_infer_ctx *ctx, uint8_t seed)
{
	size_t len = 0;
	uint8_t *in = edge_infer_input(ctx, 0, &len);
	for (size_t i = 0; in && i < len; i++)
		in[i] = (uint8_t)(seed * 31u + i * 7u);
}

static void *shared_thread(void *arg)
{
	struct shared_run *r = arg;
	edge_infer_ctx *ctx = NULL;
	if (edge_infer_ctx_new(r->model, NULL, 0, &ctx) != 0) {
		r->failures++;
		return NULL;
	}
	for (int i = 0; i < 50; i++) {
		fill_input(ctx, r->seed);
		if (edge_infer_invoke(ctx, EDGE_INFER_KERNELS_OPTIMISED) != 0 ||
		    memcmp(edge_infer_output(ctx, 0, NULL), r->expect, r->out_len) != 0)
			r->failures++;
	}
	edge_infer_ctx_free(ctx);
	return NULL;
}

START_TEST(contexts_on_two_threads_share_a_model)
{
	char path[4096];
	itest_data_path(path, sizeof(path), "models/kws_ref_model.tflite");
	size_t len = 0;
	void *bytes = itest_read_file(path, &len);
	ck_assert_msg(bytes != NULL, "cannot read %s", path);
	edge_infer_model *m = NULL;
	ck_assert_int_eq(edge_infer_model_load(bytes, len, NULL, &m, NULL), 0);
	struct shared_run r[2] = { { .model = m, .seed = 1 }, { .model = m, .seed = 2 } };
	edge_infer_ctx *ctx = NULL;
	ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &ctx), 0);
	for (int t = 0; t < 2; t++) {
		fill_input(ctx, r[t].seed);
		ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
		const void *o = edge_infer_output(ctx, 0, &r[t].out_len);
		ck_assert_uint_le(r[t].out_len, sizeof(r[t].expect));
		memcpy(r[t].expect, o, r[t].out_len);
	}
	edge_infer_ctx_free(ctx);
	/* EDGE_TEST_NO_THREADS=1 (emulators whose user-mode threads do not
	 * work): run the two contexts one after the other instead. */
	const char *nt = getenv("EDGE_TEST_NO_THREADS");
	if (nt && strcmp(nt, "1") == 0) {
		shared_thread(&r[0]);
		shared_thread(&r[1]);
	} else {
		pthread_t th[2];
		for (int t = 0; t < 2; t++)
			ck_assert_int_eq(pthread_create(&th[t], NULL, shared_thread, &r[t]), 0);
		for (int t = 0; t < 2; t++)
			pthread_join(th[t], NULL);
	}
	ck_assert_int_eq(r[0].failures, 0);
	ck_assert_int_eq(r[1].failures, 0);
	edge_infer_model_free(m);
	free(bytes);
}
END_TEST

static Suite *opt_suite(void)
{
	Suite *s = suite_create("infer-opt");
	TCase *t = tcase_create("isa");
	tcase_add_test(t, isa_levels_are_selectable);
	tcase_add_test(t, level_change_falls_back);
	tcase_add_test(t, contexts_on_two_threads_share_a_model);
	suite_add_tcase(s, t);
	t = tcase_create("bit-exact");
	tcase_set_timeout(t, 600);
	tcase_add_loop_test(t, operator_matches_reference, 0, (int)(sizeof(checked_ops) / sizeof(checked_ops[0])));
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(opt_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
