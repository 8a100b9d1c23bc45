/* Loader, verifier, planner and interpreter of the INT8 engine, on the
 * reference models in tests/data and on corrupted copies of them (the
 * fixtures in malformed/ have their own test). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"
#include "infer_test_util.h"

/* arena_used_bytes TensorFlow Lite Micro reports for the same models. */
static const struct {
	const char *name;
	size_t tflm_arena;
} supported_models[] = {
	{"hello_world_int8", 1184},
	{"micro_speech", 7312},
	{"kws_ref_model", 24000},
	{"str_ww_ref_model", 16352},
	{"ad01_int8", 3424},
	{"ic_resnet8_int8", 55712},
	{"person_detect", 85024},
	{"vww_96_int8", 103392},
	{"simple_add", 49936},
};
#define N_SUPPORTED (int)(sizeof supported_models / sizeof supported_models[0])

static const char *const lstm_models[] = {
	"mnist_lstm_int8",
};

struct loaded {
	void *bytes;
	size_t len;
	edge_infer_model *model;
	struct edge_infer_error err;
	int rc;
};

static void load_model(const char *name, const struct edge_infer_load_options *opt,
		       struct loaded *l)
{
	char rel[256], path[4096];
	snprintf(rel, sizeof rel, "models/%s.tflite", name);
	itest_data_path(path, sizeof path, rel);
	l->bytes = itest_read_file(path, &l->len);
	ck_assert_msg(l->bytes != NULL, "cannot read %s", path);
	l->rc = edge_infer_model_load(l->bytes, l->len, opt, &l->model, &l->err);
}

static void unload(struct loaded *l)
{
	edge_infer_model_free(l->model);
	free(l->bytes);
	memset(l, 0, sizeof *l);
}

static size_t type_size(int type)
{
	switch (type) {
	case 0: case 2: return 4;
	case 3: case 6: case 9: return 1;
	case 4: return 8;
	case 7: return 2;
	default: return 0;
	}
}

START_TEST(t_error_names)
{
	ck_assert_str_eq(edge_infer_errname(0), "EDGE_INFER_OK");
	ck_assert_str_eq(edge_infer_strerror(0), "success");
	for (int c = EDGE_INFER_ENOMEM; c > EDGE_INFER_ELAST; c--) {
		ck_assert_str_ne(edge_infer_errname(c), "EDGE_INFER_UNKNOWN");
		ck_assert_str_ne(edge_infer_strerror(c), "unknown error");
		for (int d = EDGE_INFER_ENOMEM; d > c; d--)
			ck_assert_str_ne(edge_infer_errname(c), edge_infer_errname(d));
	}
	ck_assert_str_eq(edge_infer_errname(EDGE_INFER_EGRAPH), "EDGE_INFER_EGRAPH");
	ck_assert_str_eq(edge_infer_errname(EDGE_INFER_ELAST), "EDGE_INFER_UNKNOWN");
	ck_assert_str_eq(edge_infer_errname(-1), "EDGE_INFER_UNKNOWN");
	ck_assert_str_eq(edge_infer_op_name(3), "CONV_2D");
	ck_assert_str_eq(edge_infer_op_name(44), "UNIDIRECTIONAL_SEQUENCE_LSTM");
	ck_assert_str_eq(edge_infer_op_name(114), "QUANTIZE");
	ck_assert_str_eq(edge_infer_op_name(100000), "UNKNOWN");
	ck_assert_str_eq(edge_infer_type_name(9), "INT8");
	const char *k = edge_infer_kernels_describe();
	ck_assert_ptr_nonnull(k);
	ck_assert_int_gt((int)strlen(k), 0);
}
END_TEST

START_TEST(t_bad_arguments)
{
	edge_infer_model *m = (edge_infer_model *)1;
	struct edge_infer_error err;
	ck_assert_int_eq(edge_infer_model_load(NULL, 10, NULL, &m, &err), EDGE_INFER_EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err.code, EDGE_INFER_EINVAL);
	static const uint8_t tiny[4] = {0};
	ck_assert_int_eq(edge_infer_model_load(tiny, sizeof tiny, NULL, &m, &err),
			 EDGE_INFER_ETRUNCATED);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(edge_infer_model_load(tiny, sizeof tiny, NULL, &m, NULL),
			 EDGE_INFER_ETRUNCATED);
	edge_infer_ctx *ctx = (edge_infer_ctx *)1;
	ck_assert_int_eq(edge_infer_ctx_new(NULL, NULL, 0, &ctx), EDGE_INFER_EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(edge_infer_invoke(NULL, EDGE_INFER_KERNELS_REFERENCE), EDGE_INFER_EINVAL);
	ck_assert_ptr_null(edge_infer_input(NULL, 0, NULL));
	ck_assert_ptr_null(edge_infer_output(NULL, 0, NULL));
	ck_assert_int_eq(edge_infer_model_tensor_count(NULL), 0);
	ck_assert_int_eq(edge_infer_model_input_tensor(NULL, 0), -1);
	edge_infer_model_free(NULL);
	edge_infer_ctx_free(NULL);
	edge_infer_ctx_reset(NULL);
}
END_TEST

/* Every supported model loads, its introspection is consistent, its
 * arena is planned without overlaps among tensors an operator touches
 * and stays within what TFLM needs. */
START_TEST(t_model_loads)
{
	struct loaded l;
	const char *name = supported_models[_i].name;
	load_model(name, NULL, &l);
	ck_assert_msg(l.rc == 0, "%s: %s: %s", name, edge_infer_errname(l.rc), l.err.msg);
	const edge_infer_model *m = l.model;
	size_t arena = edge_infer_model_arena_bytes(m);
	ck_assert_msg(arena <= supported_models[_i].tflm_arena,
		      "%s: arena %zu > TFLM %zu", name, arena, supported_models[_i].tflm_arena);
	ck_assert_uint_gt(arena, 0);
	ck_assert_uint_eq(arena % 16, 0);
	ck_assert_uint_gt(edge_infer_model_persistent_bytes(m), 0);
	ck_assert_int_ge(edge_infer_model_input_count(m), 1);
	ck_assert_int_ge(edge_infer_model_output_count(m), 1);

	int n_t = edge_infer_model_tensor_count(m);
	ck_assert_int_gt(n_t, 0);
	for (int t = 0; t < n_t; t++) {
		struct edge_infer_tensor_info ti;
		ck_assert_int_eq(edge_infer_model_tensor(m, t, &ti), 0);
		ck_assert_ptr_nonnull(ti.name);
		size_t count = 1;
		for (int d = 0; d < ti.rank; d++) {
			ck_assert_int_gt(ti.dims[d], 0);
			count *= (size_t)ti.dims[d];
		}
		ck_assert_uint_eq(ti.bytes, count * type_size(ti.type));
		if (ti.arena_offset != SIZE_MAX) {
			ck_assert_int_eq(ti.is_const, 0);
			ck_assert_uint_le(ti.arena_offset + ti.bytes, arena);
			ck_assert_uint_eq(ti.arena_offset % 16, 0);
		}
		for (int q = 0; q < ti.n_quant; q++)
			ck_assert(ti.scale[q] > 0.0f);
	}
	struct edge_infer_tensor_info bad;
	ck_assert_int_eq(edge_infer_model_tensor(m, n_t, &bad), EDGE_INFER_EINVAL);
	ck_assert_int_eq(edge_infer_model_tensor(m, -1, &bad), EDGE_INFER_EINVAL);

	uint64_t macs = 0;
	int n_ops = edge_infer_model_op_count(m);
	for (int o = 0; o < n_ops; o++) {
		struct edge_infer_op_info oi;
		ck_assert_int_eq(edge_infer_model_op(m, o, &oi), 0);
		ck_assert_str_ne(oi.name, "UNKNOWN");
		macs += oi.macs;
		/* Everything one operator touches is live at once: disjoint. */
		int ts[24], n = 0;
		for (int i = 0; i < oi.n_inputs; i++)
			if (oi.inputs[i] >= 0)
				ts[n++] = oi.inputs[i];
		for (int i = 0; i < oi.n_outputs; i++)
			ts[n++] = oi.outputs[i];
		for (int a = 0; a < n; a++)
			for (int b = a + 1; b < n; b++) {
				struct edge_infer_tensor_info x, y;
				ck_assert_int_eq(edge_infer_model_tensor(m, ts[a], &x), 0);
				ck_assert_int_eq(edge_infer_model_tensor(m, ts[b], &y), 0);
				if (x.arena_offset == SIZE_MAX || y.arena_offset == SIZE_MAX ||
				    ts[a] == ts[b])
					continue;
				ck_assert_msg(x.arena_offset + x.bytes <= y.arena_offset ||
						      y.arena_offset + y.bytes <= x.arena_offset,
					      "%s: op %d tensors %d and %d overlap", name, o, ts[a],
					      ts[b]);
			}
	}
	ck_assert_uint_eq(macs, edge_infer_model_macs(m));
	ck_assert_uint_gt(macs, 0);

	/* The graph input/output are in the arena and reachable. */
	edge_infer_ctx *ctx;
	ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &ctx), 0);
	size_t in_bytes = 0, out_bytes = 0;
	ck_assert_ptr_nonnull(edge_infer_input(ctx, 0, &in_bytes));
	ck_assert_ptr_nonnull(edge_infer_output(ctx, 0, &out_bytes));
	ck_assert_uint_gt(in_bytes, 0);
	ck_assert_uint_gt(out_bytes, 0);
	ck_assert_ptr_null(edge_infer_input(ctx, edge_infer_model_input_count(m), NULL));
	ck_assert_ptr_null(edge_infer_output(ctx, -1, NULL));
	edge_infer_ctx_free(ctx);
	unload(&l);
}
END_TEST

START_TEST(t_lstm_refused_by_name)
{
	struct loaded l;
	load_model(lstm_models[_i], NULL, &l);
	ck_assert_int_eq(l.rc, EDGE_INFER_EUNSUPPORTED);
	ck_assert_int_eq(l.err.code, EDGE_INFER_EUNSUPPORTED);
	ck_assert_ptr_null(l.model);
	ck_assert_msg(strstr(l.err.msg, "UNIDIRECTIONAL_SEQUENCE_LSTM") != NULL, "%s: %s",
		      lstm_models[_i], l.err.msg);
	ck_assert_int_ge(l.err.op_index, 0);
	unload(&l);
}
END_TEST

START_TEST(t_mac_budget)
{
	struct loaded l;
	load_model("hello_world_int8", NULL, &l);
	ck_assert_int_eq(l.rc, 0);
	uint64_t macs = edge_infer_model_macs(l.model);
	ck_assert_uint_gt(macs, 1);
	void *bytes = l.bytes;
	size_t len = l.len;
	edge_infer_model_free(l.model);

	struct edge_infer_load_options opt = {.max_macs = macs - 1};
	edge_infer_model *m;
	edge_infer_ctx *ctx;
	ck_assert_int_eq(edge_infer_model_load(bytes, len, &opt, &m, NULL), 0);
	ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &ctx), 0);
	ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), EDGE_INFER_EBUDGET);
	ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_OPTIMISED), EDGE_INFER_EBUDGET);
	edge_infer_ctx_free(ctx);
	edge_infer_model_free(m);

	opt.max_macs = macs;
	ck_assert_int_eq(edge_infer_model_load(bytes, len, &opt, &m, NULL), 0);
	ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &ctx), 0);
	ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
	ck_assert_int_eq(edge_infer_invoke(ctx, 7), EDGE_INFER_EINVAL);
	edge_infer_ctx_free(ctx);
	edge_infer_model_free(m);

	struct edge_infer_load_options small = {.max_arena_bytes = 16};
	struct edge_infer_error err;
	ck_assert_int_eq(edge_infer_model_load(bytes, len, &small, &m, &err), EDGE_INFER_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err.msg, "arena"));
	struct edge_infer_load_options persist = {.max_persistent_bytes = 16};
	ck_assert_int_eq(edge_infer_model_load(bytes, len, &persist, &m, &err), EDGE_INFER_ELIMIT);
	free(bytes);
}
END_TEST

/* A caller-provided arena, two contexts on one model: same results. */
START_TEST(t_contexts_and_arenas)
{
	struct loaded l;
	load_model("str_ww_ref_model", NULL, &l);
	ck_assert_int_eq(l.rc, 0);
	size_t need = edge_infer_model_arena_bytes(l.model);
	uint8_t *mem = aligned_alloc(16, need + 32);
	edge_infer_ctx *a, *b, *c;
	ck_assert_int_eq(edge_infer_ctx_new(l.model, mem, need - 1, &a), EDGE_INFER_EARENA);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(edge_infer_ctx_new(l.model, mem + 1, need + 8, &a), EDGE_INFER_EARENA);
	ck_assert_int_eq(edge_infer_ctx_new(l.model, mem, need, &a), 0);
	ck_assert_int_eq(edge_infer_ctx_new(l.model, NULL, 0, &b), 0);
	ck_assert_int_eq(edge_infer_ctx_new(l.model, NULL, 0, &c), 0);

	size_t in_bytes;
	int8_t *ia = edge_infer_input(a, 0, &in_bytes);
	int8_t *ib = edge_infer_input(b, 0, NULL);
	ck_assert_ptr_ne(ia, ib);
	for (size_t i = 0; i < in_bytes; i++)
		ia[i] = ib[i] = (int8_t)(i * 37 + 11);
	ck_assert_int_eq(edge_infer_invoke(a, EDGE_INFER_KERNELS_REFERENCE), 0);
	ck_assert_int_eq(edge_infer_invoke(b, EDGE_INFER_KERNELS_OPTIMISED), 0);
	size_t out_bytes;
	const void *oa = edge_infer_output(a, 0, &out_bytes);
	const void *ob = edge_infer_output(b, 0, NULL);
	ck_assert_int_eq(memcmp(oa, ob, out_bytes), 0);
	/* A context that never ran keeps its own zeroed arena. */
	ck_assert_ptr_ne(edge_infer_output(c, 0, NULL), oa);
	edge_infer_ctx_reset(a);
	edge_infer_ctx_free(a);
	edge_infer_ctx_free(b);
	edge_infer_ctx_free(c);
	free(mem);
	unload(&l);
}
END_TEST

/* The caller's bytes need no alignment: a copy at an odd address loads
 * (constants the kernels read wider than a byte are copied aside) and
 * computes the same output as the aligned original. */
START_TEST(t_unaligned_bytes)
{
	struct loaded l;
	load_model("hello_world_int8", NULL, &l);
	ck_assert_int_eq(l.rc, 0);
	uint8_t *odd = malloc(l.len + 1);
	memcpy(odd + 1, l.bytes, l.len);
	edge_infer_model *m;
	struct edge_infer_error err;
	int rc = edge_infer_model_load(odd + 1, l.len, NULL, &m, &err);
	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_uint_gt(edge_infer_model_persistent_bytes(m),
			  edge_infer_model_persistent_bytes(l.model));
	edge_infer_ctx *a, *b;
	ck_assert_int_eq(edge_infer_ctx_new(l.model, NULL, 0, &a), 0);
	ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &b), 0);
	for (int x = -128; x < 128; x += 17) {
		*(int8_t *)edge_infer_input(a, 0, NULL) = (int8_t)x;
		*(int8_t *)edge_infer_input(b, 0, NULL) = (int8_t)x;
		ck_assert_int_eq(edge_infer_invoke(a, EDGE_INFER_KERNELS_REFERENCE), 0);
		ck_assert_int_eq(edge_infer_invoke(b, EDGE_INFER_KERNELS_REFERENCE), 0);
		ck_assert_int_eq(*(const int8_t *)edge_infer_output(a, 0, NULL),
				 *(const int8_t *)edge_infer_output(b, 0, NULL));
	}
	edge_infer_ctx_free(a);
	edge_infer_ctx_free(b);
	edge_infer_model_free(m);
	free(odd);
	unload(&l);
}
END_TEST

/* Every strict prefix of a model is refused cleanly. */
START_TEST(t_truncated_prefixes)
{
	struct loaded l;
	load_model("hello_world_int8", NULL, &l);
	ck_assert_int_eq(l.rc, 0);
	for (size_t n = 0; n < l.len; n++) {
		void *copy = malloc(n ? n : 1);
		memcpy(copy, l.bytes, n);
		edge_infer_model *m;
		struct edge_infer_error err;
		int rc = edge_infer_model_load(copy, n, NULL, &m, &err);
		ck_assert_msg(rc < 0, "prefix of %zu bytes accepted", n);
		ck_assert_int_eq(err.code, rc);
		ck_assert_int_gt((int)strlen(err.msg), 0);
		free(copy);
	}
	unload(&l);
}
END_TEST

/* Single-byte corruptions either load (and then run) or fail with an
 * engine error code; never anything else. */
START_TEST(t_byte_corruptions)
{
	struct loaded l;
	load_model("hello_world_int8", NULL, &l);
	ck_assert_int_eq(l.rc, 0);
	uint8_t *copy = aligned_alloc(16, (l.len + 15) & ~(size_t)15);
	static const uint8_t values[] = {0x00, 0xff, 0x80, 0x7f};
	for (size_t pos = 0; pos < l.len; pos++)
		for (size_t v = 0; v < sizeof values; v++) {
			memcpy(copy, l.bytes, l.len);
			copy[pos] ^= values[v] ? values[v] : 0x01;
			edge_infer_model *m;
			struct edge_infer_error err;
			struct edge_infer_load_options opt = {.max_macs = 1000000};
			int rc = edge_infer_model_load(copy, l.len, &opt, &m, &err);
			if (rc == 0) {
				edge_infer_ctx *ctx;
				ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &ctx), 0);
				int irc = edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE);
				ck_assert(irc == 0 || irc == EDGE_INFER_EBUDGET);
				edge_infer_ctx_free(ctx);
				edge_infer_model_free(m);
			} else {
				ck_assert_msg(rc < -EDGE_INFER_EBASE && rc > EDGE_INFER_ELAST,
					      "byte %zu: code %d", pos, rc);
				ck_assert_int_eq(err.code, rc);
			}
		}
	free(copy);
	unload(&l);
}
END_TEST


static Suite *infer_loader_suite(void)
{
	Suite *s = suite_create("infer_loader");
	TCase *api = tcase_create("api");
	tcase_add_test(api, t_error_names);
	tcase_add_test(api, t_bad_arguments);
	suite_add_tcase(s, api);
	TCase *models = tcase_create("models");
	tcase_add_loop_test(models, t_model_loads, 0, N_SUPPORTED);
	tcase_add_loop_test(models, t_lstm_refused_by_name, 0,
			    (int)(sizeof lstm_models / sizeof lstm_models[0]));
	tcase_add_test(models, t_mac_budget);
	tcase_add_test(models, t_contexts_and_arenas);
	tcase_add_test(models, t_unaligned_bytes);
	suite_add_tcase(s, models);
	TCase *bad = tcase_create("malformed");
	tcase_add_test(bad, t_truncated_prefixes);
	tcase_add_test(bad, t_byte_corruptions);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	itest_data_dir();
	SRunner *sr = srunner_create(infer_loader_suite());
#ifdef EDGE_ITEST_NO_FORK
	srunner_set_fork_status(sr, CK_NOFORK);
#endif
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
