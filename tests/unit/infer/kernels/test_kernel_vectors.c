/* TFLM kernel vectors (tests/data/tflm-kernel-vectors, one JSON file per
 * operator) against the engine's operators: every case is built directly as edge_tensor /
 * edge_op_node structs (no flatbuffer), run through prepare() and the
 * reference eval(), and must reproduce `tflm_output` (or
 * `tflm_output_float`, `tflm_output_dims`) exactly; every `tflm_rejects`
 * case must be refused. The same cases then run through the optimised
 * kernels (edge_opt_prepare / edge_opt_eval) when they exist and must give
 * the same bytes. Prints a per-operator summary.
 *
 * Fails when the vectors directory or any operator's file is absent. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"
#include "infer_op.h"
#if EDGE_TEST_HAVE_OPT
#include "kernels/edge_opt.h"
#endif

#define MAX_FILES 64
#define MAX_ALLOCS 256

static char vectors_dir[4096];
static char *files[MAX_FILES];
static int n_files;

/* ---- per-case memory: everything a case allocates, freed at its end */

struct pool {
	void *p[MAX_ALLOCS];
	int n;
};

static void *pool_alloc(struct pool *pl, size_t bytes)
{
	ck_assert_int_lt(pl->n, MAX_ALLOCS);
	void *m = NULL;
	ck_assert_int_eq(posix_memalign(&m, 16, bytes ? bytes : 1), 0);
	memset(m, 0, bytes ? bytes : 1);
	pl->p[pl->n++] = m;
	return m;
}

static void pool_free(struct pool *pl)
{
	for (int i = 0; i < pl->n; i++)
		free(pl->p[i]);
	pl->n = 0;
}

struct prep_state {
	edge_prep_ctx ctx;
	struct pool *pool;
	char err[256];
};

static void *prep_alloc(edge_prep_ctx *ctx, size_t bytes)
{
	struct prep_state *st = ctx->alloc_state;
	return pool_alloc(st->pool, bytes);
}

/* ---- JSON -> tensors */

static int type_from_name(const char *s)
{
	if (!s || !strcmp(s, "int8"))
		return EDGE_TT_INT8;
	if (!strcmp(s, "uint8"))
		return EDGE_TT_UINT8;
	if (!strcmp(s, "int16"))
		return EDGE_TT_INT16;
	if (!strcmp(s, "int32"))
		return EDGE_TT_INT32;
	if (!strcmp(s, "float32"))
		return EDGE_TT_FLOAT32;
	ck_abort_msg("unknown dtype '%s'", s);
	return -1;
}

static size_t type_size(int type)
{
	switch (type) {
	case EDGE_TT_INT8:
	case EDGE_TT_UINT8: return 1;
	case EDGE_TT_INT16: return 2;
	default: return 4;
	}
}

/* Store integer v as element i of a buffer of the given type. */
static void put_int(void *buf, int type, size_t i, json_int_t v)
{
	switch (type) {
	case EDGE_TT_INT8: ((int8_t *)buf)[i] = (int8_t)v; break;
	case EDGE_TT_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
	case EDGE_TT_INT16: ((int16_t *)buf)[i] = (int16_t)v; break;
	default: ((int32_t *)buf)[i] = (int32_t)v; break;
	}
}

static double num(const json_t *j)
{
	return json_is_integer(j) ? (double)json_integer_value(j) : json_real_value(j);
}

/* Build a tensor from a vector tensor object. dims_override (may be NULL)
 * replaces "shape" (RESHAPE's declared output). */
static edge_tensor *make_tensor(struct pool *pl, const json_t *obj, int type,
				const json_t *dims_override, const char *name)
{
	edge_tensor *t = pool_alloc(pl, sizeof(*t));
	const json_t *shape = dims_override ? dims_override : json_object_get(obj, "shape");
	ck_assert_msg(json_is_array(shape), "%s: no shape", name);
	t->rank = (int)json_array_size(shape);
	ck_assert_msg(t->rank <= EDGE_INFER_MAX_RANK,
		      "%s: rank %d exceeds EDGE_INFER_MAX_RANK %d", name, t->rank,
		      EDGE_INFER_MAX_RANK);
	size_t n = 1;
	for (int i = 0; i < t->rank; i++) {
		t->dims[i] = (int32_t)json_integer_value(json_array_get(shape, (size_t)i));
		n *= t->dims[i] > 0 ? (size_t)t->dims[i] : (t->dims[i] == 0 ? 0 : 1);
	}
	const json_t *dt = json_object_get(obj, "dtype");
	if (json_is_string(dt))
		type = type_from_name(json_string_value(dt));
	t->type = type;
	t->bytes = n * type_size(type);
	t->name = name;
	t->data = pool_alloc(pl, t->bytes);

	const json_t *data = json_object_get(obj, "data");
	const json_t *data_f = json_object_get(obj, "data_float");
	if (json_is_array(data_f)) {
		ck_assert_int_eq(type, EDGE_TT_FLOAT32);
		ck_assert_uint_ge(json_array_size(data_f), n);
		for (size_t i = 0; i < n; i++)
			((float *)t->data)[i] = (float)num(json_array_get(data_f, i));
	} else if (json_is_array(data)) {
		/* Some tests list more values than the shape holds: use the first n. */
		ck_assert_msg(json_array_size(data) >= n, "%s: %zu values for %zu elements", name,
			      json_array_size(data), n);
		for (size_t i = 0; i < n; i++) {
			const json_t *v = json_array_get(data, i);
			if (type == EDGE_TT_FLOAT32)
				((float *)t->data)[i] = (float)num(v);
			else
				put_int(t->data, type, i, (json_int_t)num(v));
		}
		t->is_const = 1;
	}

	const json_t *scale = json_object_get(obj, "scale");
	const json_t *zp = json_object_get(obj, "zero_point");
	if (scale && !json_is_null(scale)) {
		size_t nq = json_is_array(scale) ? json_array_size(scale) : 1;
		float *s = pool_alloc(pl, nq * sizeof(float));
		int64_t *z = pool_alloc(pl, nq * sizeof(int64_t));
		for (size_t i = 0; i < nq; i++) {
			/* Exact decimal of a float32: parse as double, narrow to float. */
			s[i] = (float)num(json_is_array(scale) ? json_array_get(scale, i) : scale);
			const json_t *zi = json_is_array(zp) ? json_array_get(zp, i) : zp;
			z[i] = zi ? (int64_t)json_integer_value(zi) : 0;
		}
		t->scale = s;
		t->zero_point = z;
		t->n_quant = (int)nq;
		const json_t *qd = json_object_get(obj, "quantized_dimension");
		t->quant_dim = qd ? (int)json_integer_value(qd) : 0;
	}
	return t;
}

/* Constant int32 tensor of the given values (axes, paddings, perm). */
static edge_tensor *make_int32_tensor(struct pool *pl, const json_t *values, int rank,
				      const int32_t *dims, const char *name)
{
	edge_tensor *t = pool_alloc(pl, sizeof(*t));
	t->type = EDGE_TT_INT32;
	t->rank = rank;
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		t->dims[i] = dims[i];
		n *= (size_t)dims[i];
	}
	t->bytes = n * 4;
	t->data = pool_alloc(pl, t->bytes);
	for (size_t i = 0; i < n && values; i++)
		((int32_t *)t->data)[i] = (int32_t)json_integer_value(json_array_get(values, i));
	t->is_const = 1;
	t->name = name;
	return t;
}

static int activation_from(const json_t *params)
{
	const char *a = json_string_value(json_object_get(params, "activation"));
	if (!a || !strcmp(a, "NONE"))
		return EDGE_ACT_NONE;
	if (!strcmp(a, "RELU"))
		return EDGE_ACT_RELU;
	if (!strcmp(a, "RELU6"))
		return EDGE_ACT_RELU6;
	if (!strcmp(a, "RELU_N1_TO_1"))
		return EDGE_ACT_RELU_N1_TO_1;
	ck_abort_msg("unknown activation %s", a);
	return -1;
}

static int padding_from(const json_t *params)
{
	const char *p = json_string_value(json_object_get(params, "padding"));
	return p && !strcmp(p, "SAME") ? EDGE_PAD_SAME : EDGE_PAD_VALID;
}

static int ival(const json_t *params, const char *key, int dflt)
{
	const json_t *v = json_object_get(params, key);
	return v ? (int)json_integer_value(v) : dflt;
}

static int builtin_from_name(const char *op)
{
	static const struct { const char *name; int code; } ops[] = {
		{"ADD", EDGE_OP_ADD}, {"AVERAGE_POOL_2D", EDGE_OP_AVERAGE_POOL_2D},
		{"CONCATENATION", EDGE_OP_CONCATENATION}, {"CONV_2D", EDGE_OP_CONV_2D},
		{"DEPTHWISE_CONV_2D", EDGE_OP_DEPTHWISE_CONV_2D}, {"DEQUANTIZE", EDGE_OP_DEQUANTIZE},
		{"FULLY_CONNECTED", EDGE_OP_FULLY_CONNECTED}, {"LOGISTIC", EDGE_OP_LOGISTIC},
		{"MAX_POOL_2D", EDGE_OP_MAX_POOL_2D}, {"MUL", EDGE_OP_MUL}, {"RELU", EDGE_OP_RELU},
		{"RELU6", EDGE_OP_RELU6}, {"RESHAPE", EDGE_OP_RESHAPE}, {"SOFTMAX", EDGE_OP_SOFTMAX},
		{"TANH", EDGE_OP_TANH}, {"PAD", EDGE_OP_PAD}, {"MEAN", EDGE_OP_MEAN},
		{"SUB", EDGE_OP_SUB}, {"TRANSPOSE", EDGE_OP_TRANSPOSE}, {"MAXIMUM", EDGE_OP_MAXIMUM},
		{"MINIMUM", EDGE_OP_MINIMUM}, {"PADV2", EDGE_OP_PADV2}, {"SUM", EDGE_OP_SUM},
		{"REDUCE_MAX", EDGE_OP_REDUCE_MAX}, {"REDUCE_MIN", EDGE_OP_REDUCE_MIN},
		{"LEAKY_RELU", EDGE_OP_LEAKY_RELU}, {"QUANTIZE", EDGE_OP_QUANTIZE},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, op))
			return ops[i].code;
	ck_abort_msg("unknown op %s", op);
	return -1;
}

static void add_input(edge_op_node *node, edge_tensor *t)
{
	ck_assert_int_lt(node->n_inputs, EDGE_INFER_MAX_OP_INPUTS);
	node->inputs[node->n_inputs++] = t;
}

/* Output element type of a case. */
static int output_type(const char *op, const json_t *c)
{
	const json_t *od = json_object_get(c, "output_dtype");
	if (!od)
		od = json_object_get(c, "expected_dtype");
	if (json_is_string(od))
		return type_from_name(json_string_value(od));
	if (!strcmp(op, "DEQUANTIZE"))
		return EDGE_TT_FLOAT32;
	return EDGE_TT_INT8;
}

/* Build the node of one case. without_shape: RESHAPE's variant without the
 * shape input. */
static void build_node(struct pool *pl, const char *file_op, const json_t *c,
		       int without_shape, edge_op_node *node)
{
	memset(node, 0, sizeof(*node));
	const char *op = json_string_value(json_object_get(c, "op"));
	if (!op)
		op = file_op;
	node->builtin = builtin_from_name(op);
	const json_t *params = json_object_get(c, "params");
	const char *in_dtype = json_string_value(json_object_get(c, "input_dtype"));
	int in_type = type_from_name(in_dtype);
	if (!in_dtype && json_object_get(json_object_get(c, "input"), "data_float"))
		in_type = EDGE_TT_FLOAT32;

	if (json_object_get(c, "inputs")) {
		const json_t *ins = json_object_get(c, "inputs");
		for (size_t i = 0; i < json_array_size(ins); i++)
			add_input(node, make_tensor(pl, json_array_get(ins, i), EDGE_TT_INT8, NULL, "input"));
	} else if (json_object_get(c, "input1")) {
		add_input(node, make_tensor(pl, json_object_get(c, "input1"), EDGE_TT_INT8, NULL, "input1"));
		add_input(node, make_tensor(pl, json_object_get(c, "input2"), EDGE_TT_INT8, NULL, "input2"));
	} else {
		add_input(node, make_tensor(pl, json_object_get(c, "input"), in_type, NULL, "input"));
	}

	int otype = output_type(op, c);
	const json_t *out_obj = json_object_get(c, "output");
	const json_t *dims_override = NULL;
	json_t *empty = NULL;
	if (node->builtin == EDGE_OP_RESHAPE) {
		/* RESHAPE: the output tensor carries the input's quantization and
		 * the declared dims. */
		out_obj = json_object_get(c, "input");
		dims_override = json_object_get(c, "output_dims_declared");
		otype = node->inputs[0]->type;
	}
	if (!out_obj) {
		/* DEQUANTIZE cases give no output object: the input's shape. */
		empty = json_pack("{s:O}", "shape", json_object_get(json_object_get(c, "input"), "shape"));
		out_obj = empty;
	}
	edge_tensor *out = make_tensor(pl, out_obj, otype, dims_override, "output");
	json_decref(empty);
	/* The output has no data to start with; make_tensor sized the buffer.
	 * RESHAPE's declared dims may hold -1: give it the input's size. */
	if (node->builtin == EDGE_OP_RESHAPE) {
		out->data = pool_alloc(pl, node->inputs[0]->bytes);
		out->bytes = node->inputs[0]->bytes;
	}
	out->is_const = 0;
	node->outputs[0] = out;
	node->n_outputs = 1;

	switch (node->builtin) {
	case EDGE_OP_CONV_2D:
	case EDGE_OP_DEPTHWISE_CONV_2D: {
		add_input(node, make_tensor(pl, json_object_get(c, "filter"), EDGE_TT_INT8, NULL, "filter"));
		const json_t *b = json_object_get(c, "bias");
		add_input(node, json_is_null(b) || !b ? NULL :
			  make_tensor(pl, b, EDGE_TT_INT32, NULL, "bias"));
		if (node->builtin == EDGE_OP_CONV_2D) {
			node->opt.conv.padding = padding_from(params);
			node->opt.conv.stride_w = ival(params, "stride_w", 1);
			node->opt.conv.stride_h = ival(params, "stride_h", 1);
			node->opt.conv.dilation_w = ival(params, "dilation_w", 1);
			node->opt.conv.dilation_h = ival(params, "dilation_h", 1);
			node->opt.conv.activation = activation_from(params);
		} else {
			node->opt.dw.padding = padding_from(params);
			node->opt.dw.stride_w = ival(params, "stride_w", 1);
			node->opt.dw.stride_h = ival(params, "stride_h", 1);
			node->opt.dw.dilation_w = ival(params, "dilation_w", 1);
			node->opt.dw.dilation_h = ival(params, "dilation_h", 1);
			node->opt.dw.activation = activation_from(params);
			node->opt.dw.depth_multiplier = ival(params, "depth_multiplier", 1);
		}
		break;
	}
	case EDGE_OP_FULLY_CONNECTED: {
		add_input(node, make_tensor(pl, json_object_get(c, "filter"), EDGE_TT_INT8, NULL, "weights"));
		const json_t *b = json_object_get(c, "bias");
		add_input(node, json_is_null(b) || !b ? NULL :
			  make_tensor(pl, b, EDGE_TT_INT32, NULL, "bias"));
		node->opt.fc.activation = activation_from(params);
		node->opt.fc.keep_num_dims = json_is_true(json_object_get(params, "keep_num_dims"));
		node->opt.fc.weights_format = 0;
		break;
	}
	case EDGE_OP_AVERAGE_POOL_2D:
	case EDGE_OP_MAX_POOL_2D:
		node->opt.pool.padding = padding_from(params);
		node->opt.pool.stride_w = ival(params, "stride_width", 1);
		node->opt.pool.stride_h = ival(params, "stride_height", 1);
		node->opt.pool.filter_w = ival(params, "filter_width", 1);
		node->opt.pool.filter_h = ival(params, "filter_height", 1);
		node->opt.pool.activation = activation_from(params);
		break;
	case EDGE_OP_ADD:
	case EDGE_OP_SUB:
	case EDGE_OP_MUL:
		node->opt.arith.activation = activation_from(params);
		break;
	case EDGE_OP_SOFTMAX:
		node->opt.softmax.beta = (float)num(json_object_get(params, "beta"));
		break;
	case EDGE_OP_LEAKY_RELU:
		node->opt.leaky_relu.alpha = (float)num(json_object_get(params, "alpha"));
		break;
	case EDGE_OP_CONCATENATION:
		node->opt.concat.axis = ival(params, "axis", 0);
		node->opt.concat.activation = activation_from(params);
		break;
	case EDGE_OP_MEAN:
	case EDGE_OP_SUM:
	case EDGE_OP_REDUCE_MAX:
	case EDGE_OP_REDUCE_MIN: {
		const json_t *axis = json_object_get(params, "axis");
		int32_t n = json_is_array(axis) ? (int32_t)json_array_size(axis) : 1;
		json_t *arr = json_is_array(axis) ? NULL : json_pack("[O]", axis);
		add_input(node, make_int32_tensor(pl, arr ? arr : axis, 1, &n, "axis"));
		json_decref(arr);
		node->opt.reduce.keep_dims = json_is_true(json_object_get(params, "keep_dims"));
		break;
	}
	case EDGE_OP_PAD:
	case EDGE_OP_PADV2: {
		const json_t *pd = json_object_get(c, "paddings");
		const json_t *shape = json_object_get(pd, "shape");
		int32_t dims[2] = {(int32_t)json_integer_value(json_array_get(shape, 0)),
				   (int32_t)json_integer_value(json_array_get(shape, 1))};
		add_input(node, make_int32_tensor(pl, json_object_get(pd, "data"), 2, dims, "paddings"));
		const json_t *cv = json_object_get(c, "constant_values");
		if (cv && !json_is_null(cv))
			add_input(node, make_tensor(pl, cv, EDGE_TT_INT8, NULL, "constant_values"));
		break;
	}
	case EDGE_OP_RESHAPE: {
		const json_t *st = json_object_get(c, "shape_tensor");
		if (!without_shape && st && !json_is_null(st)) {
			const json_t *shape = json_object_get(st, "shape");
			int rank = (int)json_array_size(shape);
			int32_t dims[EDGE_INFER_MAX_RANK];
			for (int i = 0; i < rank; i++)
				dims[i] = (int32_t)json_integer_value(json_array_get(shape, (size_t)i));
			/* TFLM never reads the values: the declared dims stand in. */
			add_input(node, make_int32_tensor(pl, NULL, rank, dims, "shape"));
		}
		break;
	}
	default:
		break;
	}
}

/* ---- running and comparing */

struct op_stats {
	int cases, ref_pass, opt_pass, opt_handled, unrepresentable;
};

/* Largest rank any tensor of the case declares. */
static int case_max_rank(const json_t *j)
{
	int r = 0;
	if (json_is_object(j)) {
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)j, key, v) {
			int rv = (!strcmp(key, "shape") || !strcmp(key, "output_dims_declared")) &&
					 json_is_array(v) ? (int)json_array_size(v) : case_max_rank(v);
			if (rv > r)
				r = rv;
		}
	} else if (json_is_array(j)) {
		for (size_t i = 0; i < json_array_size(j); i++) {
			int rv = case_max_rank(json_array_get(j, i));
			if (rv > r)
				r = rv;
		}
	}
	return r;
}

/* Compare node's output with the expectation; 0 when exact, else writes why. */
static int compare_output(const edge_op_node *node, const json_t *expect_int,
			  const json_t *expect_float, const json_t *expect_dims, char *why,
			  size_t why_len)
{
	const edge_tensor *out = node->outputs[0];
	if (expect_dims) {
		if ((size_t)out->rank != json_array_size(expect_dims)) {
			snprintf(why, why_len, "output rank %d, expected %zu", out->rank,
				 json_array_size(expect_dims));
			return -1;
		}
		for (int i = 0; i < out->rank; i++)
			if (out->dims[i] != json_integer_value(json_array_get(expect_dims, (size_t)i))) {
				snprintf(why, why_len, "output dim %d is %d, expected %lld", i,
					 out->dims[i],
					 (long long)json_integer_value(json_array_get(expect_dims, (size_t)i)));
				return -1;
			}
	}
	if (expect_float) {
		size_t n = json_array_size(expect_float);
		if (out->bytes != n * 4) {
			snprintf(why, why_len, "output holds %zu bytes, expected %zu floats", out->bytes, n);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			float want = (float)num(json_array_get(expect_float, i));
			float got = ((const float *)out->data)[i];
			if (memcmp(&want, &got, sizeof(float)) != 0) {
				snprintf(why, why_len, "element %zu is %.9g, expected %.9g", i,
					 (double)got, (double)want);
				return -1;
			}
		}
		return 0;
	}
	size_t n = json_array_size(expect_int);
	size_t es = type_size(out->type);
	if (out->bytes != n * es) {
		snprintf(why, why_len, "output holds %zu bytes, expected %zu elements", out->bytes, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		long long want = json_integer_value(json_array_get(expect_int, i)), got;
		switch (out->type) {
		case EDGE_TT_INT8: got = ((const int8_t *)out->data)[i]; break;
		case EDGE_TT_UINT8: got = ((const uint8_t *)out->data)[i]; break;
		case EDGE_TT_INT16: got = ((const int16_t *)out->data)[i]; break;
		default: got = ((const int32_t *)out->data)[i]; break;
		}
		if (got != want) {
			snprintf(why, why_len, "element %zu is %lld, expected %lld", i, got, want);
			return -1;
		}
	}
	return 0;
}

/* Run one case (or its RESHAPE no-shape variant). Returns 1 when the
 * reference kernel matched; updates stats for the optimised run. */
static int run_case(const char *file_op, const json_t *c, int without_shape,
		    struct op_stats *st, char *why, size_t why_len)
{
	struct pool pl = {.n = 0};
	struct prep_state ps;
	memset(&ps, 0, sizeof(ps));
	ps.pool = &pl;
	ps.ctx.alloc = prep_alloc;
	ps.ctx.alloc_state = &ps;
	ps.ctx.err = ps.err;
	ps.ctx.err_len = sizeof(ps.err);

	const json_t *src = without_shape ? json_object_get(c, "tflm_without_shape_input") : c;
	int rejects = json_is_true(json_object_get(src, "tflm_rejects"));
	const json_t *expect_int = json_object_get(src, "tflm_output");
	const json_t *expect_float = json_object_get(src, "tflm_output_float");
	const json_t *expect_dims = json_object_get(src, "tflm_output_dims");
	int ok = 0;

	edge_op_node node;
	build_node(&pl, file_op, c, without_shape, &node);
	const edge_op_kernel *k = edge_op_kernel_find(node.builtin);
	if (!k) {
		snprintf(why, why_len, "operator not in the kernel table");
		goto out;
	}
	int rc = k->prepare(&node, &ps.ctx);
	if (rejects) {
		if (rc == 0) {
			snprintf(why, why_len, "prepare() accepted a case TFLM rejects");
			goto out;
		}
		ok = 1;
		st->opt_pass++; /* nothing to run */
		goto out;
	}
	if (rc != 0) {
		snprintf(why, why_len, "prepare() refused (%s): %s", edge_infer_errname(rc), ps.err);
		goto out;
	}
	if (node.scratch_bytes)
		node.scratch = pool_alloc(&pl, node.scratch_bytes);
	ck_assert_int_eq(k->eval(&node, EDGE_KERNELS_REFERENCE), 0);
	if (compare_output(&node, expect_int, expect_float, expect_dims, why, why_len) != 0)
		goto out;
	ok = 1;

	/* Optimised kernels: same node, output cleared, must give the same bytes. */
#if EDGE_TEST_HAVE_OPT
	size_t ref_scratch = node.scratch_bytes;
	rc = edge_opt_prepare(&node, &ps.ctx);
	if (rc != 0) {
		snprintf(why, why_len, "edge_opt_prepare() failed: %d", rc);
		goto out;
	}
	/* The optimised kernels may ask for more scratch (their row buffers). */
	if (node.scratch_bytes > ref_scratch)
		node.scratch = pool_alloc(&pl, node.scratch_bytes);
	memset(node.outputs[0]->data, 0x5a, node.outputs[0]->bytes);
	if (edge_opt_eval(&node) == 1)
		st->opt_handled++;
	else
		ck_assert_int_eq(k->eval(&node, EDGE_KERNELS_REFERENCE), 0);
	char owhy[256];
	if (compare_output(&node, expect_int, expect_float, expect_dims, owhy, sizeof(owhy)) == 0)
		st->opt_pass++;
	else
		snprintf(why, why_len, "optimised: %s", owhy);
#else
	st->opt_pass++;
#endif
out:
	pool_free(&pl);
	return ok;
}

START_TEST(test_vector_file)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", vectors_dir, files[_i]);
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(root != NULL, "%s: %s (line %d)", path, jerr.text, jerr.line);
	const char *op = json_string_value(json_object_get(root, "op"));
	ck_assert_msg(op != NULL, "%s: no op", path);
	const json_t *cases = json_object_get(root, "cases");
	ck_assert_msg(json_array_size(cases) > 0, "%s: no cases", path);

	struct op_stats st = {0};
	int failed = 0;
	for (size_t i = 0; i < json_array_size(cases); i++) {
		const json_t *c = json_array_get(cases, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		/* A tensor of higher rank than edge_tensor holds cannot be built
		 * (the loader refuses such models); listed, not run. */
		if (case_max_rank(c) > EDGE_INFER_MAX_RANK) {
			st.unrepresentable++;
			printf("NOT REPRESENTABLE %s %s: rank %d > EDGE_INFER_MAX_RANK %d\n", op, name,
			       case_max_rank(c), EDGE_INFER_MAX_RANK);
			continue;
		}
		int variants = json_object_get(c, "tflm_without_shape_input") ? 2 : 1;
		for (int v = 0; v < variants; v++) {
			char why[512] = "";
			int before_opt = st.opt_pass;
			st.cases++;
			int ok = run_case(op, c, v == 1, &st, why, sizeof(why));
			st.ref_pass += ok;
			if (!ok || st.opt_pass == before_opt) {
				failed++;
				printf("FAIL %s %s%s: %s\n", op, name, v ? " (without shape input)" : "", why);
			}
		}
	}
	printf("%-18s cases %3d  reference passed %3d  optimised passed %3d (handled by optimised kernels: %d)%s\n",
	       op, st.cases, st.ref_pass, st.opt_pass, st.opt_handled,
	       st.unrepresentable ? "  + rank beyond EDGE_INFER_MAX_RANK: not run" : "");
	fflush(stdout);
	char opname[64];
	snprintf(opname, sizeof(opname), "%s", op);
	json_decref(root);
	ck_assert_msg(failed == 0, "%s: %d of %d cases failed", opname, failed, st.cases);
}
END_TEST

/* The operators TFLM's kernel tests cover, one file each. */
static const char *const expected_files[] = {
	"add", "average_pool_2d", "concatenation", "conv_2d", "depthwise_conv_2d", "dequantize",
	"fully_connected", "leaky_relu", "logistic", "max_pool_2d", "maximum", "mean", "minimum",
	"mul", "pad", "quantize", "reduce_max", "reduce_min", "relu", "reshape", "softmax", "sub",
	"sum", "tanh",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	/* The vectors live in tests/data; missing data fails, never skips. */
	const char *data = getenv("EDGE_TEST_DATA");
	const char *root = getenv("EDGE_SOURCE_ROOT");
	if (data && *data)
		snprintf(vectors_dir, sizeof(vectors_dir), "%s/tflm-kernel-vectors", data);
	else
		snprintf(vectors_dir, sizeof(vectors_dir), "%s/tests/data/tflm-kernel-vectors",
			 root && *root ? root : ".");
	DIR *d = opendir(vectors_dir);
	if (!d) {
		printf("FAIL: cannot open %s (set EDGE_TEST_DATA or run through meson test)\n",
		       vectors_dir);
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".json") && n_files < MAX_FILES)
			files[n_files++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(files, (size_t)n_files, sizeof(files[0]), cmp_str);
	/* Every operator's file must be there: a lost file is a failure. */
	int missing = 0;
	for (size_t i = 0; i < sizeof(expected_files) / sizeof(expected_files[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s.json", expected_files[i]);
		const char *key = want;
		if (!bsearch(&key, files, (size_t)n_files, sizeof(files[0]), cmp_str)) {
			printf("FAIL: %s/%s is missing\n", vectors_dir, want);
			missing++;
		}
	}
	if (missing)
		return 1;

	Suite *s = suite_create("infer-kernels");
	TCase *tc = tcase_create("tflm-vectors");
	tcase_add_loop_test(tc, test_vector_file, 0, n_files);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	/* No fork: each case frees its own memory, and forked Check children
	 * were seen to hang under qemu-aarch64 user emulation. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (int i = 0; i < n_files; i++)
		free(files[i]);
	return failed == 0 ? 0 : 1;
}
