/* Every model in malformed/ is refused with exactly the error listed in
 * malformed/expected.txt ("<file> <EDGE_INFER_E...> <message substring>"),
 * and the valid models generated beside them load. The files come from
 * scripts/gen-malformed-models.py. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"
#include "infer_test_util.h"

static void *read_fixture(const char *file, size_t *len)
{
	char rel[512], path[4096];
	snprintf(rel, sizeof rel, "tests/unit/infer/malformed/%s", file);
	itest_source_path(path, sizeof path, rel);
	void *bytes = itest_read_file(path, len);
	ck_assert_msg(bytes != NULL, "cannot read %s", path);
	return bytes;
}

START_TEST(t_expected_errors)
{
	char path[4096];
	itest_source_path(path, sizeof path, "tests/unit/infer/malformed/expected.txt");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char line[1024];
	int count = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || line[0] == 0)
			continue;
		char file[256], code[64];
		int used = 0;
		ck_assert_int_eq(sscanf(line, "%255s %63s %n", file, code, &used), 2);
		const char *substr = line + used;
		size_t len;
		void *bytes = read_fixture(file, &len);
		edge_infer_model *m;
		struct edge_infer_error err;
		int rc = edge_infer_model_load(bytes, len, NULL, &m, &err);
		ck_assert_msg(rc != 0, "%s: accepted", file);
		ck_assert_msg(strcmp(edge_infer_errname(rc), code) == 0,
			      "%s: got %s (%s), expected %s", file, edge_infer_errname(rc), err.msg,
			      code);
		ck_assert_int_eq(err.code, rc);
		ck_assert_msg(strstr(err.msg, substr) != NULL, "%s: message \"%s\" lacks \"%s\"",
			      file, err.msg, substr);
		ck_assert_ptr_null(m);
		free(bytes);
		count++;
	}
	fclose(f);
	ck_assert_int_ge(count, 30);
}
END_TEST

/* The unmutated base models the generator starts from, and the TOCO
 * quirk (quantized_dimension 3 on a 1-D bias) that must be accepted. */
START_TEST(t_valid_bases_load)
{
	static const char *const files[] = {"valid_fc.tflite", "valid_conv.tflite",
					     "valid_conv_bias_qdim_quirk.tflite"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t len;
		void *bytes = read_fixture(files[i], &len);
		edge_infer_model *m;
		struct edge_infer_error err;
		int rc = edge_infer_model_load(bytes, len, NULL, &m, &err);
		ck_assert_msg(rc == 0, "%s: %s: %s", files[i], edge_infer_errname(rc), err.msg);
		edge_infer_ctx *ctx;
		ck_assert_int_eq(edge_infer_ctx_new(m, NULL, 0, &ctx), 0);
		ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
		edge_infer_ctx_free(ctx);
		edge_infer_model_free(m);
		free(bytes);
	}
}
END_TEST

/* Variable tensors live in the arena for the whole run and restart at
 * their zero point (real 0): ADD(input, state) then returns the input. */
START_TEST(t_variable_reset)
{
	size_t len;
	void *bytes = read_fixture("valid_variable.tflite", &len);
	edge_infer_model *m;
	struct edge_infer_error err;
	int rc = edge_infer_model_load(bytes, len, NULL, &m, &err);
	ck_assert_msg(rc == 0, "%s", err.msg);
	struct edge_infer_tensor_info state;
	ck_assert_int_eq(edge_infer_model_tensor(m, 1, &state), 0);
	ck_assert_int_eq(state.is_variable, 1);
	ck_assert_uint_ne(state.arena_offset, SIZE_MAX);
	uint8_t *arena = aligned_alloc(16, edge_infer_model_arena_bytes(m));
	memset(arena, 0x55, edge_infer_model_arena_bytes(m));
	edge_infer_ctx *ctx;
	ck_assert_int_eq(edge_infer_ctx_new(m, arena, edge_infer_model_arena_bytes(m), &ctx), 0);
	const int8_t in[4] = {-128, -3, 0, 127};
	for (int round = 0; round < 2; round++) {
		memcpy(edge_infer_input(ctx, 0, NULL), in, sizeof in);
		ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
		ck_assert_int_eq(memcmp(edge_infer_output(ctx, 0, NULL), in, sizeof in), 0);
		/* Clobber the state; reset restores the zero point. */
		memset(arena + state.arena_offset, 100, state.bytes);
		edge_infer_ctx_reset(ctx);
		for (size_t i = 0; i < state.bytes; i++)
			ck_assert_int_eq((int8_t)arena[state.arena_offset + i], -3);
	}
	edge_infer_ctx_free(ctx);
	free(arena);
	edge_infer_model_free(m);
	free(bytes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("infer_malformed");
	TCase *tc = tcase_create("malformed");
	tcase_add_test(tc, t_valid_bases_load);
	tcase_add_test(tc, t_expected_errors);
	tcase_add_test(tc, t_variable_reset);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
#ifdef EDGE_ITEST_NO_FORK
	srunner_set_fork_status(sr, CK_NOFORK);
#endif
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
