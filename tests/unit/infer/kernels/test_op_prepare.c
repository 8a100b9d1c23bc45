/* Operator checks the TFLM vectors do not cover: the fixed-point helpers'
 * edge cases, prepare()'s refusals (specific error code and a message that
 * names the operator and the field), TRANSPOSE and int16 DEQUANTIZE
 * results, MAC counts, and rows long enough to push softmax's final shift
 * past 31. Hand-built edge_tensor / edge_op_node structs, no files. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"
#include "infer_op.h"
#include "ops/fixedpoint.h"

/* ---- a tiny builder: tensors and nodes in static storage, reset per test */

#define MAX_T 8
static edge_tensor tensors[MAX_T];
static float scales[MAX_T][8];
static int64_t zps[MAX_T][8];
static int8_t buffers[MAX_T][4096] __attribute__((aligned(16)));
static int n_tensors;
static char err[256];
static void *allocs[64];
static int n_allocs;

static void *test_alloc(edge_prep_ctx *ctx, size_t bytes)
{
	(void)ctx;
	ck_assert_int_lt(n_allocs, 64);
	void *p = NULL;
	ck_assert_int_eq(posix_memalign(&p, 16, bytes ? bytes : 1), 0);
	memset(p, 0, bytes ? bytes : 1);
	allocs[n_allocs++] = p;
	return p;
}

static edge_prep_ctx prep_ctx = {.alloc = test_alloc, .err = err, .err_len = sizeof(err)};

static void setup(void)
{
	memset(tensors, 0, sizeof(tensors));
	memset(buffers, 0, sizeof(buffers));
	n_tensors = 0;
	err[0] = 0;
}

static void teardown(void)
{
	for (int i = 0; i < n_allocs; i++)
		free(allocs[i]);
	n_allocs = 0;
}

/* Tensor of the given type and dims, per-tensor scale/zp when scale > 0. */
static edge_tensor *tensor(int type, float scale, int zp, int rank, const int32_t *dims)
{
	ck_assert_int_lt(n_tensors, MAX_T);
	int i = n_tensors++;
	edge_tensor *t = &tensors[i];
	t->type = type;
	t->rank = rank;
	size_t n = 1;
	for (int d = 0; d < rank; d++) {
		t->dims[d] = dims[d];
		n *= (size_t)dims[d];
	}
	size_t es = type == EDGE_TT_INT8 || type == EDGE_TT_UINT8 ? 1 : (type == EDGE_TT_INT16 ? 2 : 4);
	t->bytes = n * es;
	ck_assert_uint_le(t->bytes, sizeof(buffers[i]));
	t->data = buffers[i];
	if (scale > 0) {
		scales[i][0] = scale;
		zps[i][0] = zp;
		t->scale = scales[i];
		t->zero_point = zps[i];
		t->n_quant = 1;
	}
	t->name = "t";
	t->is_const = type == EDGE_TT_INT32; /* axes, paddings, perm, bias */
	return t;
}

static edge_op_node node_of(int builtin, int n_in, edge_tensor **in, edge_tensor *out)
{
	edge_op_node n;
	memset(&n, 0, sizeof(n));
	n.builtin = builtin;
	n.n_inputs = n_in;
	for (int i = 0; i < n_in; i++)
		n.inputs[i] = in[i];
	n.outputs[0] = out;
	n.n_outputs = 1;
	return n;
}

static int prepare(edge_op_node *n)
{
	const edge_op_kernel *k = edge_op_kernel_find(n->builtin);
	ck_assert_ptr_nonnull(k);
	err[0] = 0;
	return k->prepare(n, &prep_ctx);
}

static void eval(edge_op_node *n)
{
	ck_assert_int_eq(edge_op_kernel_find(n->builtin)->eval(n, EDGE_KERNELS_REFERENCE), 0);
}

static void assert_refused(edge_op_node *n, int code, const char *op, const char *field)
{
	int rc = prepare(n);
	ck_assert_msg(rc == code, "%s: expected %s, got %s (%s)", op, edge_infer_errname(code),
		      edge_infer_errname(rc), err);
	ck_assert_msg(strstr(err, op) != NULL, "message '%s' does not name %s", err, op);
	ck_assert_msg(strstr(err, field) != NULL, "message '%s' does not name %s", err, field);
}

/* ---- fixed point */

START_TEST(test_fixedpoint_primitives)
{
	ck_assert_int_eq(edge_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
	ck_assert_int_eq(edge_srdhm(1 << 30, 1 << 30), 1 << 29);
	ck_assert_int_eq(edge_srdhm(3, 1 << 30), 2);   /* 1.5 -> 2 */
	ck_assert_int_eq(edge_srdhm(-3, 1 << 30), -1); /* -1.5 -> -1: gemmlowp's nudge */
	ck_assert_int_eq(edge_rdbpot(5, 1), 3);        /* 2.5 -> 3 */
	ck_assert_int_eq(edge_rdbpot(-5, 1), -3);      /* -2.5 -> -3 */
	ck_assert_int_eq(edge_rdbpot(-4, 1), -2);
	ck_assert_int_eq(edge_rdbpot(7, 0), 7);

	int32_t m;
	int s;
	ck_assert_int_eq(edge_quantize_multiplier(0.5, &m, &s), 0);
	ck_assert_int_eq(m, 1 << 30);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(edge_quantize_multiplier(1.0, &m, &s), 0);
	ck_assert_int_eq(m, 1 << 30);
	ck_assert_int_eq(s, 1);
	ck_assert_int_eq(edge_quantize_multiplier(0.0, &m, &s), 0);
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(s, 0);
	/* Below 2^-32 the multiplier flushes to zero. */
	ck_assert_int_eq(edge_quantize_multiplier(1e-12, &m, &s), 0);
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(s, 0);
	/* Just below 1: q * 2^31 rounds to 2^31, corrected to 2^30 and shift + 1. */
	ck_assert_int_eq(edge_quantize_multiplier(1.0 - 1e-12, &m, &s), 0);
	ck_assert_int_eq(m, 1 << 30);
	ck_assert_int_eq(s, 1);
	ck_assert_int_ne(edge_quantize_multiplier(-0.5, &m, &s), 0);

	/* MBQM by exactly 0.5 (ties of the high multiply as above). */
	ck_assert_int_eq(edge_mbqm(3, 1 << 30, 0), 2);
	ck_assert_int_eq(edge_mbqm(-3, 1 << 30, 0), -1);
	ck_assert_int_eq(edge_mbqm(3, 1 << 30, -1), 1); /* 0.75 */
	ck_assert_int_eq(edge_mbqm(100, 1 << 30, 2), 200); /* x 2 via left shift */

	/* exp(0) is one; logistic(0) one half; tanh(0) zero. */
	ck_assert_int_eq(edge_exp_on_negative_values(0, 5), INT32_MAX);
	ck_assert_int_eq(edge_logistic(0, 4), 1 << 30);
	ck_assert_int_eq(edge_tanh(0, 4), 0);
	/* exp(-1) in Q5.26 input = -(1 << 26); result close to 0.3679 * 2^31. */
	int32_t e = edge_exp_on_negative_values(-(1 << 26), 5);
	ck_assert_int_lt(abs(e - 790015084), 1000);
}
END_TEST

/* ---- refusals */

START_TEST(test_conv_bias_length_refused)
{
	int32_t in_d[] = {1, 4, 4, 2}, f_d[] = {3, 2, 2, 2}, b_d[] = {2}, o_d[] = {1, 3, 3, 3};
	edge_tensor *in[3] = {tensor(EDGE_TT_INT8, 0.5f, 0, 4, in_d),
			      tensor(EDGE_TT_INT8, 0.1f, 0, 4, f_d),
			      tensor(EDGE_TT_INT32, 0.05f, 0, 1, b_d)};
	edge_op_node n = node_of(EDGE_OP_CONV_2D, 3, in, tensor(EDGE_TT_INT8, 1.0f, 0, 4, o_d));
	n.opt.conv.padding = EDGE_PAD_VALID;
	n.opt.conv.stride_w = n.opt.conv.stride_h = 1;
	n.opt.conv.dilation_w = n.opt.conv.dilation_h = 1;
	assert_refused(&n, EDGE_INFER_EOP, "CONV_2D", "bias");
	/* With the right length it prepares, and counts its MACs. */
	in[2]->dims[0] = 3;
	ck_assert_int_eq(prepare(&n), 0);
	ck_assert_uint_eq(n.macs, 1u * 3 * 3 * 3 * 2 * 2 * 2);
}
END_TEST

START_TEST(test_conv_filter_zero_point_refused)
{
	int32_t in_d[] = {1, 2, 2, 1}, f_d[] = {1, 1, 1, 1}, o_d[] = {1, 2, 2, 1};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 4, in_d),
			      tensor(EDGE_TT_INT8, 0.1f, 3, 4, f_d)};
	edge_op_node n = node_of(EDGE_OP_CONV_2D, 2, in, tensor(EDGE_TT_INT8, 1.0f, 0, 4, o_d));
	n.opt.conv.padding = EDGE_PAD_SAME;
	n.opt.conv.stride_w = n.opt.conv.stride_h = 1;
	n.opt.conv.dilation_w = n.opt.conv.dilation_h = 1;
	assert_refused(&n, EDGE_INFER_EQUANT, "CONV_2D", "filter zero point");
}
END_TEST

START_TEST(test_depthwise_multiplier_refused)
{
	int32_t in_d[] = {1, 3, 3, 2}, f_d[] = {1, 2, 2, 4}, o_d[] = {1, 2, 2, 4};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 4, in_d),
			      tensor(EDGE_TT_INT8, 0.1f, 0, 4, f_d)};
	edge_op_node n = node_of(EDGE_OP_DEPTHWISE_CONV_2D, 2, in,
				 tensor(EDGE_TT_INT8, 1.0f, 0, 4, o_d));
	n.opt.dw.padding = EDGE_PAD_VALID;
	n.opt.dw.stride_w = n.opt.dw.stride_h = 1;
	n.opt.dw.dilation_w = n.opt.dw.dilation_h = 1;
	n.opt.dw.depth_multiplier = 3;
	assert_refused(&n, EDGE_INFER_EOP, "DEPTHWISE_CONV_2D", "depth_multiplier");
	n.opt.dw.depth_multiplier = 2;
	ck_assert_int_eq(prepare(&n), 0);
}
END_TEST

START_TEST(test_softmax_output_quant_refused)
{
	int32_t d[] = {1, 4};
	edge_tensor *in[1] = {tensor(EDGE_TT_INT8, 0.1f, 0, 2, d)};
	edge_op_node n = node_of(EDGE_OP_SOFTMAX, 1, in, tensor(EDGE_TT_INT8, 1.0f / 255, -128, 2, d));
	n.opt.softmax.beta = 1.0f;
	assert_refused(&n, EDGE_INFER_EQUANT, "SOFTMAX", "scale 1/256");
}
END_TEST

START_TEST(test_fc_input_size_refused)
{
	int32_t in_d[] = {2, 5}, w_d[] = {3, 4}, o_d[] = {2, 3};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 2, in_d),
			      tensor(EDGE_TT_INT8, 0.1f, 0, 2, w_d)};
	edge_op_node n = node_of(EDGE_OP_FULLY_CONNECTED, 2, in, tensor(EDGE_TT_INT8, 1.0f, 0, 2, o_d));
	assert_refused(&n, EDGE_INFER_EOP, "FULLY_CONNECTED", "input");
}
END_TEST

START_TEST(test_add_shapes_refused)
{
	int32_t a[] = {2, 3}, b[] = {2, 2}, o[] = {2, 3};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 2, a), tensor(EDGE_TT_INT8, 0.5f, 0, 2, b)};
	edge_op_node n = node_of(EDGE_OP_ADD, 2, in, tensor(EDGE_TT_INT8, 1.0f, 0, 2, o));
	assert_refused(&n, EDGE_INFER_EOP, "ADD", "broadcast");
}
END_TEST

START_TEST(test_concat_quant_refused)
{
	int32_t a[] = {1, 2}, o[] = {1, 4};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 2, a), tensor(EDGE_TT_INT8, 0.25f, 0, 2, a)};
	edge_op_node n = node_of(EDGE_OP_CONCATENATION, 2, in, tensor(EDGE_TT_INT8, 0.5f, 0, 2, o));
	n.opt.concat.axis = -1;
	assert_refused(&n, EDGE_INFER_EQUANT, "CONCATENATION", "input 1 quantization");
}
END_TEST

START_TEST(test_reduce_axis_refused)
{
	int32_t d[] = {2, 3}, ad[] = {1}, o[] = {2};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 2, d), tensor(EDGE_TT_INT32, 0, 0, 1, ad)};
	((int32_t *)in[1]->data)[0] = 2;
	edge_op_node n = node_of(EDGE_OP_MEAN, 2, in, tensor(EDGE_TT_INT8, 0.5f, 0, 1, o));
	assert_refused(&n, EDGE_INFER_EOP, "MEAN", "axis 2");
	((int32_t *)in[1]->data)[0] = -1; /* the last axis */
	ck_assert_int_eq(prepare(&n), 0);
}
END_TEST

START_TEST(test_quantize_pair_refused)
{
	int32_t d[] = {4};
	edge_tensor *in[1] = {tensor(EDGE_TT_UINT8, 0.5f, 128, 1, d)};
	edge_op_node n = node_of(EDGE_OP_QUANTIZE, 1, in, tensor(EDGE_TT_INT16, 0.5f, 0, 1, d));
	assert_refused(&n, EDGE_INFER_ETYPE, "QUANTIZE", "UINT8 input to INT16");
}
END_TEST

START_TEST(test_average_pool_window_outside_refused)
{
	/* VALID 2x2 stride 2 on 2x2 gives 1x1; a declared 2x2 output places
	 * windows entirely outside the input, where TFLM fails at invoke. */
	int32_t in_d[] = {1, 2, 2, 1}, o_d[] = {1, 2, 2, 1};
	edge_tensor *in[1] = {tensor(EDGE_TT_INT8, 0.5f, 0, 4, in_d)};
	edge_op_node n = node_of(EDGE_OP_AVERAGE_POOL_2D, 1, in, tensor(EDGE_TT_INT8, 0.5f, 0, 4, o_d));
	n.opt.pool.padding = EDGE_PAD_VALID;
	n.opt.pool.filter_w = n.opt.pool.filter_h = 2;
	n.opt.pool.stride_w = n.opt.pool.stride_h = 2;
	assert_refused(&n, EDGE_INFER_EOP, "AVERAGE_POOL_2D", "window");
}
END_TEST

START_TEST(test_unknown_builtin)
{
	ck_assert_ptr_null(edge_op_kernel_find(EDGE_OP_UNIDIRECTIONAL_SEQUENCE_LSTM));
	ck_assert_ptr_null(edge_op_kernel_find(-1));
	ck_assert_str_eq(edge_op_kernel_find(EDGE_OP_CONV_2D)->name, "CONV_2D");
}
END_TEST

/* ---- results not covered by the vectors */

START_TEST(test_transpose_nchw_to_nhwc)
{
	int32_t in_d[] = {1, 3, 2, 2}, p_d[] = {4}, o_d[] = {1, 2, 2, 3};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 4, in_d), tensor(EDGE_TT_INT32, 0, 0, 1, p_d)};
	int8_t *x = in[0]->data;
	for (int i = 0; i < 12; i++)
		x[i] = (int8_t)i; /* value = c * 4 + h * 2 + w */
	int32_t perm[] = {0, 2, 3, 1};
	memcpy(in[1]->data, perm, sizeof(perm));
	edge_op_node n = node_of(EDGE_OP_TRANSPOSE, 2, in, tensor(EDGE_TT_INT8, 0.5f, 0, 4, o_d));
	ck_assert_int_eq(prepare(&n), 0);
	eval(&n);
	const int8_t *y = n.outputs[0]->data;
	for (int h = 0; h < 2; h++)
		for (int w = 0; w < 2; w++)
			for (int c = 0; c < 3; c++)
				ck_assert_int_eq(y[(h * 2 + w) * 3 + c], c * 4 + h * 2 + w);
	/* A repeated axis is not a permutation. */
	perm[3] = 2;
	memcpy(in[1]->data, perm, sizeof(perm));
	assert_refused(&n, EDGE_INFER_EOP, "TRANSPOSE", "perm");
}
END_TEST

START_TEST(test_dequantize_int16)
{
	int32_t d[] = {3};
	edge_tensor *in[1] = {tensor(EDGE_TT_INT16, 0.25f, 10, 1, d)};
	int16_t *x = in[0]->data;
	x[0] = -32768;
	x[1] = 10;
	x[2] = 32767;
	edge_op_node n = node_of(EDGE_OP_DEQUANTIZE, 1, in, tensor(EDGE_TT_FLOAT32, 0, 0, 1, d));
	ck_assert_int_eq(prepare(&n), 0);
	eval(&n);
	const float *y = n.outputs[0]->data;
	ck_assert(y[0] == -8194.5f);
	ck_assert(y[1] == 0.0f);
	ck_assert(y[2] == 8189.25f);
}
END_TEST

START_TEST(test_softmax_long_uniform_row)
{
	/* 2048 equal values: the sum of exps needs 11 bits above one, so the
	 * output shift exceeds 31; every output is 1/2048 -> 0 at scale 1/256. */
	int32_t d[] = {1, 2048};
	edge_tensor *in[1] = {tensor(EDGE_TT_INT8, 0.1f, 0, 2, d)};
	memset(in[0]->data, 5, 2048);
	edge_op_node n = node_of(EDGE_OP_SOFTMAX, 1, in, tensor(EDGE_TT_INT8, 1.0f / 256, -128, 2, d));
	n.opt.softmax.beta = 1.0f;
	ck_assert_int_eq(prepare(&n), 0);
	eval(&n);
	const int8_t *y = n.outputs[0]->data;
	for (int i = 0; i < 2048; i++)
		ck_assert_int_eq(y[i], -128);
}
END_TEST

START_TEST(test_pad_negative_refused)
{
	int32_t in_d[] = {1, 2}, p_d[] = {2, 2}, o_d[] = {1, 1};
	edge_tensor *in[2] = {tensor(EDGE_TT_INT8, 0.5f, 0, 2, in_d), tensor(EDGE_TT_INT32, 0, 0, 2, p_d)};
	int32_t pads[] = {0, 0, -1, 0};
	memcpy(in[1]->data, pads, sizeof(pads));
	edge_op_node n = node_of(EDGE_OP_PAD, 2, in, tensor(EDGE_TT_INT8, 0.5f, 0, 2, o_d));
	assert_refused(&n, EDGE_INFER_EOP, "PAD", "negative");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("infer-kernels-prepare");
	TCase *tc = tcase_create("ops");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fixedpoint_primitives);
	tcase_add_test(tc, test_conv_bias_length_refused);
	tcase_add_test(tc, test_conv_filter_zero_point_refused);
	tcase_add_test(tc, test_depthwise_multiplier_refused);
	tcase_add_test(tc, test_softmax_output_quant_refused);
	tcase_add_test(tc, test_fc_input_size_refused);
	tcase_add_test(tc, test_add_shapes_refused);
	tcase_add_test(tc, test_concat_quant_refused);
	tcase_add_test(tc, test_reduce_axis_refused);
	tcase_add_test(tc, test_quantize_pair_refused);
	tcase_add_test(tc, test_average_pool_window_outside_refused);
	tcase_add_test(tc, test_unknown_builtin);
	tcase_add_test(tc, test_transpose_nchw_to_nhwc);
	tcase_add_test(tc, test_dequantize_int16);
	tcase_add_test(tc, test_softmax_long_uniform_row);
	tcase_add_test(tc, test_pad_negative_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	/* No fork (see test_kernel_vectors.c): forked children hang under qemu. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
