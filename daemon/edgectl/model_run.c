/* `edgectl model run FILE --input IN.bin [--input IN2.bin ...] --output OUT.bin
 * [--reference]`: raw bytes of input tensor i in, raw bytes of output tensor
 * 0 out. Each input file must have exactly the tensor's size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_tool.h"

#define MAX_INPUTS 16

static int run_usage(void)
{
	fprintf(stderr, "usage: edgectl model run FILE --input IN.bin [--input IN2.bin ...] --output OUT.bin "
			"[--reference]\n");
	return MODEL_EXIT_USAGE;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	size_t n = fwrite(data, 1, len, f);
	int e = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && e == 0)
		e = -errno;
	if (e == 0 && n != len)
		e = -EIO;
	return e;
}

int model_cmd_run(int argc, char **argv)
{
	const char *path = NULL, *out_path = NULL, *in_paths[MAX_INPUTS];
	int n_in = 0, reference = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
			if (n_in == MAX_INPUTS) {
				fprintf(stderr, "edgectl model run: at most %d inputs\n", MAX_INPUTS);
				return MODEL_EXIT_USAGE;
			}
			in_paths[n_in++] = argv[++i];
		} else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
			out_path = argv[++i];
		} else if (strcmp(argv[i], "--reference") == 0) {
			reference = 1;
		} else if (argv[i][0] == '-' || path) {
			return run_usage();
		} else {
			path = argv[i];
		}
	}
	if (!path || !out_path || n_in == 0)
		return run_usage();

	struct model_file mf;
	edge_infer_ctx *ctx = NULL;
	int rc = MODEL_EXIT_FAIL;
	if (model_file_open(&mf, path) != 0)
		goto out;
	if (!mf.model) {
		model_print_load_error(&mf);
		goto out;
	}
	int want = edge_infer_model_input_count(mf.model);
	if (n_in != want) {
		fprintf(stderr, "edgectl model run: %s has %d input tensor%s, %d --input given\n", path, want,
			want == 1 ? "" : "s", n_in);
		goto out;
	}
	int e = edge_infer_ctx_new(mf.model, NULL, 0, &ctx);
	if (e != 0) {
		fprintf(stderr, "edgectl model run: %s\n", edge_infer_strerror(e));
		goto out;
	}
	for (int i = 0; i < n_in; i++) {
		size_t need = 0, got = 0;
		void *dst = edge_infer_input(ctx, i, &need);
		uint8_t *buf = NULL;
		e = model_read_file(in_paths[i], need + 1, &buf, &got);
		if (e == -EFBIG || (e == 0 && got != need)) {
			struct edge_infer_tensor_info t;
			char shape[128] = "?";
			if (edge_infer_model_tensor(mf.model, edge_infer_model_input_tensor(mf.model, i), &t) == 0)
				model_shape_str(t.dims, t.rank, shape, sizeof(shape));
			if (e == -EFBIG)
				fprintf(stderr, "edgectl model run: %s is larger than input %d %s (%zu bytes)\n",
					in_paths[i], i, shape, need);
			else
				fprintf(stderr, "edgectl model run: %s has %zu bytes, input %d %s needs %zu\n",
					in_paths[i], got, i, shape, need);
			free(buf);
			goto out;
		}
		if (e != 0) {
			fprintf(stderr, "edgectl model run: %s: %s\n", in_paths[i], strerror(-e));
			goto out;
		}
		memcpy(dst, buf, need);
		free(buf);
	}
	e = edge_infer_invoke(ctx, reference ? EDGE_INFER_KERNELS_REFERENCE : EDGE_INFER_KERNELS_OPTIMISED);
	if (e != 0) {
		fprintf(stderr, "edgectl model run: invoke failed: %s\n", edge_infer_strerror(e));
		goto out;
	}
	size_t out_len = 0;
	const void *res = edge_infer_output(ctx, 0, &out_len);
	if (!res) {
		fprintf(stderr, "edgectl model run: %s has no output tensor\n", path);
		goto out;
	}
	e = write_file(out_path, res, out_len);
	if (e != 0) {
		fprintf(stderr, "edgectl model run: %s: %s\n", out_path, strerror(-e));
		goto out;
	}
	rc = MODEL_EXIT_OK;
out:
	edge_infer_ctx_free(ctx);
	model_file_close(&mf);
	return rc;
}
