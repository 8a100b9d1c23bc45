/* Randomized robustness of the operators against untrusted graphs: for
 * every operator in the table, many random configurations (ranks, dims,
 * element types, quantization including invalid values, options, constant
 * axes/paddings/perm values) go through prepare(); each accepted one is
 * evaluated on buffers of exactly the tensors' sizes, so that ASan/UBSan
 * builds catch any out-of-bounds access or undefined arithmetic. Fixed seed
 * and a bounded number of configurations per operator. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"
#include "infer_op.h"
#if EDGE_TEST_HAVE_OPT
#include "kernels/edge_opt.h"
#endif

#define CONFIGS_PER_OP 3000
#define MAX_TENSORS 8

static const int builtins[] = {
	EDGE_OP_ADD, EDGE_OP_AVERAGE_POOL_2D, EDGE_OP_CONCATENATION, EDGE_OP_CONV_2D,
	EDGE_OP_DEPTHWISE_CONV_2D, EDGE_OP_DEQUANTIZE, EDGE_OP_FULLY_CONNECTED,
	EDGE_OP_LOGISTIC, EDGE_OP_MAX_POOL_2D, EDGE_OP_MUL, EDGE_OP_RELU, EDGE_OP_RELU6,
	EDGE_OP_RESHAPE, EDGE_OP_SOFTMAX, EDGE_OP_TANH, EDGE_OP_PAD, EDGE_OP_MEAN, EDGE_OP_SUB,
	EDGE_OP_TRANSPOSE, EDGE_OP_MAXIMUM, EDGE_OP_MINIMUM, EDGE_OP_PADV2, EDGE_OP_SUM,
	EDGE_OP_REDUCE_MAX, EDGE_OP_REDUCE_MIN, EDGE_OP_LEAKY_RELU, EDGE_OP_QUANTIZE,
};

/* xorshift64*: deterministic across platforms. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

struct world {
	edge_tensor t[MAX_TENSORS];
	float scale[MAX_TENSORS][8];
	int64_t zp[MAX_TENSORS][8];
	void *allocs[256];
	int n_allocs;
};

static void *world_alloc(struct world *w, size_t bytes)
{
	ck_assert_int_lt(w->n_allocs, 256);
	void *p = malloc(bytes ? bytes : 1);
	ck_assert_ptr_nonnull(p);
	memset(p, 0, bytes ? bytes : 1);
	w->allocs[w->n_allocs++] = p;
	return p;
}

static void *prep_alloc(edge_prep_ctx *ctx, size_t bytes)
{
	struct world *w = ctx->alloc_state;
	void *p = NULL;
	ck_assert_int_eq(posix_memalign(&p, 16, bytes ? bytes : 1), 0);
	memset(p, 0, bytes ? bytes : 1);
	ck_assert_int_lt(w->n_allocs, 256);
	w->allocs[w->n_allocs++] = p;
	return p;
}

static void world_free(struct world *w)
{
	for (int i = 0; i < w->n_allocs; i++)
		free(w->allocs[i]);
	w->n_allocs = 0;
}

static size_t esize(int type)
{
	switch (type) {
	case EDGE_TT_INT8:
	case EDGE_TT_UINT8: return 1;
	case EDGE_TT_INT16: return 2;
	default: return 4;
	}
}

static const float scale_choices[] = {0.5f, 0.1f, 1.0f / 256, 0.0235294f, 2.0f, 1e-6f,
				      0.0f, -1.0f, 1e30f, 1.0f / 65536};

static void random_tensor(struct world *w, int i, int is_const_int)
{
	edge_tensor *t = &w->t[i];
	memset(t, 0, sizeof(*t));
	static const int types[] = {EDGE_TT_INT8, EDGE_TT_INT8, EDGE_TT_INT8, EDGE_TT_INT32,
				    EDGE_TT_INT16, EDGE_TT_UINT8, EDGE_TT_FLOAT32};
	t->type = is_const_int ? EDGE_TT_INT32 : types[rnd(sizeof(types) / sizeof(types[0]))];
	if (rnd(8) == 0)
		t->type = types[rnd(sizeof(types) / sizeof(types[0]))];
	t->rank = (int)rnd(6);
	if (is_const_int)
		t->rank = 1 + (int)rnd(2);
	size_t n = 1;
	for (int d = 0; d < t->rank; d++) {
		t->dims[d] = (int32_t)rnd(5);
		if (rnd(6) == 0)
			t->dims[d] = 1;
		n *= (size_t)t->dims[d];
	}
	t->bytes = n * esize(t->type);
	t->data = world_alloc(w, t->bytes);
	/* Small values: valid axes / paddings / perm entries often, not always. */
	for (size_t k = 0; k < t->bytes; k++)
		((uint8_t *)t->data)[k] = (uint8_t)rnd(256);
	if (t->type == EDGE_TT_INT32)
		for (size_t k = 0; k < n; k++)
			((int32_t *)t->data)[k] = (int32_t)rnd(7) - 2;
	t->is_const = is_const_int || rnd(2);
	if (rnd(10) != 0) {
		int nq = rnd(6) == 0 ? 1 + (int)rnd(4) : 1;
		for (int q = 0; q < nq; q++) {
			w->scale[i][q] = scale_choices[rnd(sizeof(scale_choices) / sizeof(scale_choices[0]))];
			w->zp[i][q] = rnd(4) == 0 ? (int64_t)rnd(600) - 300 : (int64_t)rnd(9) - 4;
			if (rnd(5) == 0)
				w->zp[i][q] = -128;
		}
		t->scale = w->scale[i];
		t->zero_point = w->zp[i];
		t->n_quant = nq;
		t->quant_dim = (int)rnd(4);
	}
	t->name = "r";
}

static void random_options(edge_op_node *n)
{
	int *raw = (int *)&n->opt;
	for (size_t k = 0; k < sizeof(n->opt) / sizeof(int); k++)
		raw[k] = (int)rnd(4);
	switch (n->builtin) {
	case EDGE_OP_SOFTMAX:
		n->opt.softmax.beta = rnd(4) ? 1.0f : 0.0f;
		break;
	case EDGE_OP_LEAKY_RELU:
		n->opt.leaky_relu.alpha = rnd(3) ? 0.2f : -1.0f;
		break;
	case EDGE_OP_CONCATENATION:
		n->opt.concat.axis = (int)rnd(7) - 3;
		if (rnd(2))
			n->opt.concat.activation = 0;
		break;
	default:
		break;
	}
}

/* Make a random graph node look more like a real one now and then, so
 * that prepare() accepts a useful share of the configurations. */
static void shape_like(edge_tensor *dst, const edge_tensor *src)
{
	dst->rank = src->rank;
	memcpy(dst->dims, src->dims, sizeof(dst->dims));
	dst->type = src->type;
	dst->bytes = src->bytes;
}


/* ---- plausible configurations: valid-looking geometry with random sizes,
 * so the kernels' loops (declared output one larger than computed
 * included) run under the sanitizers. */

static edge_tensor *tensor_of(struct world *w, int i, int type, int rank, const int32_t *dims,
			      float scale, int zp)
{
	edge_tensor *t = &w->t[i];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->rank = rank;
	size_t n = 1;
	for (int d = 0; d < rank; d++) {
		t->dims[d] = dims[d];
		n *= (size_t)dims[d];
	}
	t->bytes = n * esize(type);
	t->data = world_alloc(w, t->bytes);
	for (size_t k = 0; k < t->bytes; k++)
		((uint8_t *)t->data)[k] = (uint8_t)rnd(256);
	t->is_const = 1;
	if (scale > 0) {
		w->scale[i][0] = scale;
		w->zp[i][0] = zp;
		t->scale = w->scale[i];
		t->zero_point = w->zp[i];
		t->n_quant = 1;
	}
	t->name = "p";
	return t;
}

static int out_size(int padding, int in, int k, int stride, int dil)
{
	int eff = (k - 1) * dil + 1;
	int o = padding == EDGE_PAD_SAME ? (in + stride - 1) / stride : (in + stride - eff) / stride;
	return o + (int)(rnd(4) == 0); /* sometimes one more, as TFLM tolerates */
}

static float pscale(void)
{
	static const float s[] = {0.5f, 0.1f, 0.0235294f, 0.02f, 1.0f, 0.003f};
	return s[rnd(sizeof(s) / sizeof(s[0]))];
}

static int pzp(void)
{
	return (int)rnd(256) - 128;
}

/* tensor_of with a random scale and (when with_zp) zero point, drawn in a
 * fixed order so that runs are the same on every compiler. */
static edge_tensor *tensor_q(struct world *w, int i, int type, int rank, const int32_t *dims,
			     int with_zp)
{
	float s = pscale();
	int z = with_zp ? pzp() : 0;
	return tensor_of(w, i, type, rank, dims, s, z);
}

static int plausible(struct world *w, edge_op_node *n)
{
	int b = 1 + (int)rnd(2), h = 1 + (int)rnd(6), wd = 1 + (int)rnd(6), c = 1 + (int)rnd(4);
	int kh = 1 + (int)rnd(3), kw = 1 + (int)rnd(3), sh = 1 + (int)rnd(3), sw = 1 + (int)rnd(3);
	int dh = 1 + (int)rnd(2), dw = 1 + (int)rnd(2), pad = (int)rnd(2), act = (int)rnd(4);
	n->n_outputs = 1;
	switch (n->builtin) {
	case EDGE_OP_CONV_2D:
	case EDGE_OP_DEPTHWISE_CONV_2D: {
		int dwc = n->builtin == EDGE_OP_DEPTHWISE_CONV_2D;
		int fic = dwc ? 1 : (c % 2 == 0 && rnd(2) ? c / 2 : c);
		int groups = dwc ? 1 : c / fic;
		int dm = 1 + (int)rnd(3);
		int oc = dwc ? c * dm : groups * (1 + (int)rnd(3));
		int32_t in_d[] = {b, h, wd, c};
		int32_t f_d[] = {dwc ? 1 : oc, kh, kw, dwc ? oc : fic};
		int32_t bias_d[] = {oc};
		int oh = out_size(pad, h, kh, sh, dh);
		int ow = out_size(pad, wd, kw, sw, dw);
		int32_t o_d[] = {b, oh, ow, oc};
		if (o_d[1] < 1 || o_d[2] < 1)
			return 0;
		n->inputs[0] = tensor_q(w, 0, EDGE_TT_INT8, 4, in_d, 1);
		n->inputs[1] = tensor_q(w, 1, EDGE_TT_INT8, 4, f_d, 0);
		n->inputs[2] = rnd(4) ? tensor_of(w, 2, EDGE_TT_INT32, 1, bias_d, 0, 0) : NULL;
		n->n_inputs = 3;
		n->outputs[0] = tensor_q(w, MAX_TENSORS - 1, EDGE_TT_INT8, 4, o_d, 1);
		if (dwc) {
			n->opt.dw = (__typeof__(n->opt.dw)){pad, sw, sh, dw, dh, act, dm};
		} else {
			n->opt.conv = (__typeof__(n->opt.conv)){pad, sw, sh, dw, dh, act};
		}
		return 1;
	}
	case EDGE_OP_AVERAGE_POOL_2D:
	case EDGE_OP_MAX_POOL_2D: {
		int32_t in_d[] = {b, h, wd, c};
		int oh = out_size(pad, h, kh, sh, 1);
		int ow = out_size(pad, wd, kw, sw, 1);
		int32_t o_d[] = {b, oh, ow, c};
		if (o_d[1] < 1 || o_d[2] < 1)
			return 0;
		float s = pscale();
		int z = pzp();
		n->inputs[0] = tensor_of(w, 0, EDGE_TT_INT8, 4, in_d, s, z);
		n->n_inputs = 1;
		n->outputs[0] = tensor_of(w, MAX_TENSORS - 1, EDGE_TT_INT8, 4, o_d, s, z);
		n->opt.pool = (__typeof__(n->opt.pool)){pad, sw, sh, kw, kh, act};
		return 1;
	}
	case EDGE_OP_FULLY_CONNECTED: {
		int units = 1 + (int)rnd(4), depth = 1 + (int)rnd(6);
		int32_t in_d[] = {b, depth}, f_d[] = {units, depth}, bias_d[] = {units};
		int32_t o_d[] = {b, units};
		float si = pscale(), sf = pscale();
		int zi = pzp();
		n->inputs[0] = tensor_of(w, 0, EDGE_TT_INT8, 2, in_d, si, zi);
		n->inputs[1] = tensor_of(w, 1, EDGE_TT_INT8, 2, f_d, sf, 0);
		n->inputs[2] = rnd(3) ? tensor_of(w, 2, EDGE_TT_INT32, 1, bias_d, si * sf, 0) : NULL;
		n->n_inputs = 3;
		n->outputs[0] = tensor_q(w, MAX_TENSORS - 1, EDGE_TT_INT8, 2, o_d, 1);
		n->opt.fc.activation = act;
		return 1;
	}
	case EDGE_OP_SOFTMAX: {
		int32_t d[] = {b, 1 + (int)rnd(9)};
		int out16 = rnd(3) == 0;
		n->inputs[0] = tensor_q(w, 0, EDGE_TT_INT8, 2, d, 1);
		n->n_inputs = 1;
		n->outputs[0] = tensor_of(w, MAX_TENSORS - 1, out16 ? EDGE_TT_INT16 : EDGE_TT_INT8, 2, d,
					  out16 ? 1.0f / 65536 : 1.0f / 256, out16 ? -32768 : -128);
		n->opt.softmax.beta = rnd(2) ? 1.0f : 0.5f;
		return 1;
	}
	case EDGE_OP_MEAN:
	case EDGE_OP_SUM:
	case EDGE_OP_REDUCE_MAX:
	case EDGE_OP_REDUCE_MIN: {
		int rank = 1 + (int)rnd(4);
		int32_t in_d[4], o_d[4], ax_d[] = {1 + (int)rnd(2)};
		for (int i = 0; i < rank; i++)
			in_d[i] = 1 + (int)rnd(3);
		edge_tensor *axis = tensor_of(w, 1, EDGE_TT_INT32, 1, ax_d, 0, 0);
		int red[4] = {0};
		for (int i = 0; i < ax_d[0]; i++) {
			int a = (int)rnd((uint32_t)rank);
			red[a] = 1;
			((int32_t *)axis->data)[i] = rnd(2) ? a : a - rank;
		}
		int keep = (int)rnd(2), orank = 0;
		for (int i = 0; i < rank; i++)
			if (!red[i] || keep)
				o_d[orank++] = red[i] ? 1 : in_d[i];
		float s = pscale();
		int z = pzp();
		n->inputs[0] = tensor_of(w, 0, EDGE_TT_INT8, rank, in_d, s, z);
		n->inputs[1] = axis;
		n->n_inputs = 2;
		int same = n->builtin == EDGE_OP_REDUCE_MAX || n->builtin == EDGE_OP_REDUCE_MIN;
		n->outputs[0] = same ? tensor_of(w, MAX_TENSORS - 1, EDGE_TT_INT8, orank, o_d, s, z)
				     : tensor_q(w, MAX_TENSORS - 1, EDGE_TT_INT8, orank, o_d, 1);
		n->opt.reduce.keep_dims = keep;
		return 1;
	}
	case EDGE_OP_PAD:
	case EDGE_OP_PADV2: {
		int rank = 1 + (int)rnd(4);
		int32_t in_d[4], o_d[4], p_d[] = {rank, 2}, v_d[] = {1};
		edge_tensor *pads = tensor_of(w, 1, EDGE_TT_INT32, 2, p_d, 0, 0);
		for (int i = 0; i < rank; i++) {
			in_d[i] = 1 + (int)rnd(3);
			int32_t before = (int32_t)rnd(3), after = (int32_t)rnd(3);
			((int32_t *)pads->data)[2 * i] = before;
			((int32_t *)pads->data)[2 * i + 1] = after;
			o_d[i] = in_d[i] + before + after;
		}
		float s = pscale();
		int z = pzp();
		n->inputs[0] = tensor_of(w, 0, EDGE_TT_INT8, rank, in_d, s, z);
		n->inputs[1] = pads;
		n->n_inputs = 2;
		if (n->builtin == EDGE_OP_PADV2) {
			n->inputs[2] = tensor_of(w, 2, EDGE_TT_INT8, 1, v_d, s, z);
			n->n_inputs = 3;
		}
		n->outputs[0] = tensor_of(w, MAX_TENSORS - 1, EDGE_TT_INT8, rank, o_d, s, z);
		return 1;
	}
	case EDGE_OP_ADD:
	case EDGE_OP_SUB:
	case EDGE_OP_MUL:
	case EDGE_OP_MAXIMUM:
	case EDGE_OP_MINIMUM: {
		/* Output shape, inputs equal to it or broadcast along some dims
		 * (and possibly of lower rank). */
		int rank = (int)rnd(5);
		int32_t o_d[4], a_d[4], b_d[4];
		for (int i = 0; i < rank; i++) {
			o_d[i] = 1 + (int)rnd(4);
			a_d[i] = rnd(4) == 0 ? 1 : o_d[i];
			b_d[i] = rnd(3) == 0 ? 1 : o_d[i];
			if (a_d[i] == 1 && b_d[i] == 1)
				o_d[i] = 1;
		}
		int rb = rnd(3) == 0 && rank > 0 ? rank - 1 - (int)rnd((uint32_t)rank) : rank;
		n->inputs[0] = tensor_q(w, 0, EDGE_TT_INT8, rank, a_d, 1);
		n->inputs[1] = tensor_q(w, 1, EDGE_TT_INT8, rb, b_d + (rank - rb), 1);
		n->n_inputs = 2;
		n->outputs[0] = tensor_q(w, MAX_TENSORS - 1, EDGE_TT_INT8, rank, o_d, 1);
		n->opt.arith.activation = act;
		return 1;
	}
	case EDGE_OP_TRANSPOSE: {
		int rank = 1 + (int)rnd(5);
		int32_t in_d[5], o_d[5], perm[5], p_d[] = {rank};
		for (int i = 0; i < rank; i++) {
			in_d[i] = 1 + (int)rnd(3);
			perm[i] = i;
		}
		for (int i = rank - 1; i > 0; i--) {
			int j = (int)rnd((uint32_t)i + 1), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		for (int i = 0; i < rank; i++)
			o_d[i] = in_d[perm[i]];
		n->inputs[0] = tensor_of(w, 0, EDGE_TT_INT8, rank, in_d, 0.5f, 0);
		n->inputs[1] = tensor_of(w, 1, EDGE_TT_INT32, 1, p_d, 0, 0);
		memcpy(n->inputs[1]->data, perm, sizeof(int32_t) * (size_t)rank);
		n->n_inputs = 2;
		n->outputs[0] = tensor_of(w, MAX_TENSORS - 1, EDGE_TT_INT8, rank, o_d, 0.5f, 0);
		return 1;
	}
	default:
		return 0;
	}
}

START_TEST(test_random_configs)
{
	int builtin = builtins[_i];
	const edge_op_kernel *k = edge_op_kernel_find(builtin);
	ck_assert_ptr_nonnull(k);
	int accepted = 0, opt_handled = 0;
	for (int it = 0; it < CONFIGS_PER_OP; it++) {
		struct world w;
		memset(&w, 0, sizeof(w));
		char err[256] = "";
		edge_prep_ctx ctx = {.alloc = prep_alloc, .alloc_state = &w, .err = err,
				     .err_len = sizeof(err)};
		edge_op_node n;
		memset(&n, 0, sizeof(n));
		n.builtin = builtin;
		if (rnd(2) && plausible(&w, &n))
			goto run;
		n.n_inputs = 1 + (int)rnd(3);
		n.n_outputs = 1;
		for (int i = 0; i < n.n_inputs; i++) {
			random_tensor(&w, i, i > 0 && rnd(2));
			n.inputs[i] = &w.t[i];
		}
		if (n.n_inputs > 2 && rnd(4) == 0)
			n.inputs[2] = NULL; /* omitted optional input */
		random_tensor(&w, MAX_TENSORS - 1, 0);
		n.outputs[0] = &w.t[MAX_TENSORS - 1];
		if (rnd(2)) {
			/* Output like the first input (element-wise ops). */
			shape_like(n.outputs[0], n.inputs[0]);
			n.outputs[0]->data = world_alloc(&w, n.outputs[0]->bytes);
		}
		if (n.n_inputs > 1 && n.inputs[1] && rnd(3) == 0) {
			/* Second input like the first (binary element-wise ops). */
			edge_tensor *b = n.inputs[1];
			shape_like(b, n.inputs[0]);
			b->data = world_alloc(&w, b->bytes);
		}
		random_options(&n);
run:;
		int rc = k->prepare(&n, &ctx);
		if (rc == 0) {
			accepted++;
			/* Output buffer of exactly the (possibly updated) size. */
			edge_tensor *o = n.outputs[0];
			o->data = world_alloc(&w, o->bytes);
			if (n.scratch_bytes)
				n.scratch = world_alloc(&w, n.scratch_bytes);
			ck_assert_int_eq(k->eval(&n, EDGE_KERNELS_REFERENCE), 0);
#if EDGE_TEST_HAVE_OPT
			/* The optimised kernels must give the same bytes. */
			void *ref = world_alloc(&w, o->bytes);
			memcpy(ref, o->data, o->bytes);
			size_t ref_scratch = n.scratch_bytes;
			ck_assert_int_eq(edge_opt_prepare(&n, &ctx), 0);
			/* The optimised kernels may ask for more scratch (row buffers). */
			if (n.scratch_bytes > ref_scratch)
				n.scratch = world_alloc(&w, n.scratch_bytes);
			memset(o->data, 0x5a, o->bytes);
			if (edge_opt_eval(&n) == 1) {
				opt_handled++;
				ck_assert_msg(memcmp(ref, o->data, o->bytes) == 0,
					      "%s: optimised output differs from reference (config %d)",
					      k->name, it);
			}
#endif
		} else {
			ck_assert_msg(rc < 0, "%s: prepare returned %d", k->name, rc);
			ck_assert_msg(err[0] != 0, "%s: refusal %s without a message", k->name,
				      edge_infer_errname(rc));
			ck_assert_msg(strncmp(err, k->name, strlen(k->name)) == 0,
				      "%s: message '%s' does not start with the operator", k->name, err);
		}
		world_free(&w);
	}
	printf("%-18s random configs %d, accepted and evaluated %d, by optimised kernels %d\n",
	       k->name, CONFIGS_PER_OP, accepted, opt_handled);
#if EDGE_TEST_HAVE_OPT
	/* Where this CPU has optimised kernels, the hot operators must really
	 * reach them: a comparison that never runs checks nothing. */
	if (edge_opt_isa_current() != EDGE_OPT_ISA_NONE &&
	    (k->builtin == EDGE_OP_CONV_2D || k->builtin == EDGE_OP_DEPTHWISE_CONV_2D ||
	     k->builtin == EDGE_OP_FULLY_CONNECTED || k->builtin == EDGE_OP_ADD))
		ck_assert_msg(opt_handled > 0, "%s: no configuration reached the optimised kernels",
			      k->name);
#endif
}
END_TEST

int main(void)
{
	Suite *s = suite_create("infer-kernels-random");
	TCase *tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_configs, 0,
			    (int)(sizeof(builtins) / sizeof(builtins[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	/* No fork (see test_kernel_vectors.c). */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
