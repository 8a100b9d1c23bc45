/* `edgectl model bench FILE [--iters N] [--json]`: latency of the reference
 * and the optimised kernels on one core (min / median / p99 of N invokes
 * after a warm-up), MAC/s, arena and packed bytes, the kernel path, and a
 * check that both paths produce the same output bytes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgectl.h"
#include "model_tool.h"

#define ITERS_DEFAULT 50
#define ITERS_MAX 100000
#define PATH_BUDGET_NS (10ull * 1000000000ull) /* per path: stop early after 10 s */

struct lat {
	double min_us, median_us, p99_us, mean_us;
	int iters;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Deterministic input bytes so both paths see the same data. */
static void fill_inputs(edge_infer_ctx *ctx, int n_in)
{
	uint32_t s = 12345;
	for (int i = 0; i < n_in; i++) {
		size_t len = 0;
		uint8_t *p = edge_infer_input(ctx, i, &len);
		for (size_t k = 0; p && k < len; k++) {
			s = s * 1664525u + 1013904223u;
			p[k] = (uint8_t)(s >> 24);
		}
	}
}

static int time_path(edge_infer_ctx *ctx, int kernels, int iters, uint64_t *ns, struct lat *out)
{
	for (int w = 0; w < 2; w++) /* warm caches and branch predictors */
		if (edge_infer_invoke(ctx, kernels) != 0)
			return -1;
	uint64_t start = now_ns();
	int n = 0;
	for (; n < iters; n++) {
		uint64_t t0 = now_ns();
		if (edge_infer_invoke(ctx, kernels) != 0)
			return -1;
		ns[n] = now_ns() - t0;
		if (n >= 2 && now_ns() - start > PATH_BUDGET_NS) {
			n++;
			break;
		}
	}
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)ns[i];
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	out->iters = n;
	out->min_us = (double)ns[0] / 1e3;
	out->median_us = (n % 2 ? (double)ns[n / 2] : ((double)ns[n / 2 - 1] + (double)ns[n / 2]) / 2) / 1e3;
	int p = (int)((double)n * 0.99 + 0.999999) - 1;
	out->p99_us = (double)ns[p < 0 ? 0 : p >= n ? n - 1 : p] / 1e3;
	out->mean_us = sum / n / 1e3;
	return 0;
}

static json_t *lat_json(const struct lat *l, uint64_t macs)
{
	json_t *o = json_object();
	json_object_set_new(o, "iters", json_integer(l->iters));
	json_object_set_new(o, "min_us", json_real(l->min_us));
	json_object_set_new(o, "median_us", json_real(l->median_us));
	json_object_set_new(o, "p99_us", json_real(l->p99_us));
	json_object_set_new(o, "mean_us", json_real(l->mean_us));
	json_object_set_new(o, "gmacs_per_s", json_real(l->median_us > 0 ? (double)macs / l->median_us / 1e3 : 0));
	return o;
}

int model_cmd_bench(int argc, char **argv)
{
	const char *path = NULL;
	int as_json = edgectl_globals.json; /* edgectl --json model ... */
	long iters = ITERS_DEFAULT;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
			char *end;
			iters = strtol(argv[++i], &end, 10);
			if (*end || iters < 1 || iters > ITERS_MAX) {
				fprintf(stderr, "edgectl model bench: --iters must be 1..%d\n", ITERS_MAX);
				return MODEL_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "usage: edgectl model bench FILE [--iters N] [--json]\n");
			return MODEL_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fprintf(stderr, "usage: edgectl model bench FILE [--iters N] [--json]\n");
		return MODEL_EXIT_USAGE;
	}

	struct model_file mf;
	edge_infer_ctx *ctx = NULL;
	uint64_t *ns = NULL;
	uint8_t *ref_out = NULL;
	int rc = MODEL_EXIT_FAIL;
	if (model_file_open(&mf, path) != 0)
		goto out;
	if (!mf.model) {
		model_print_load_error(&mf);
		goto out;
	}
	int e = edge_infer_ctx_new(mf.model, NULL, 0, &ctx);
	ns = calloc((size_t)iters, sizeof(*ns));
	if (e != 0 || !ns) {
		fprintf(stderr, "edgectl model bench: %s\n", e ? edge_infer_strerror(e) : "out of memory");
		goto out;
	}
	const uint64_t macs = edge_infer_model_macs(mf.model);

	/* Same input through both paths: outputs must match byte for byte.
	 * Refill before each invoke: the planner may reuse input memory. */
	size_t out_len = 0;
	const int n_in = edge_infer_model_input_count(mf.model);
	fill_inputs(ctx, n_in);
	edge_infer_ctx_reset(ctx);
	if (edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE) != 0)
		goto invoke_failed;
	const void *o = edge_infer_output(ctx, 0, &out_len);
	ref_out = malloc(out_len ? out_len : 1);
	if (!ref_out)
		goto out;
	memcpy(ref_out, o, out_len);
	fill_inputs(ctx, n_in);
	edge_infer_ctx_reset(ctx);
	if (edge_infer_invoke(ctx, EDGE_INFER_KERNELS_OPTIMISED) != 0)
		goto invoke_failed;
	int equal = memcmp(ref_out, edge_infer_output(ctx, 0, NULL), out_len) == 0;

	struct lat ref, opt;
	if (time_path(ctx, EDGE_INFER_KERNELS_REFERENCE, (int)iters, ns, &ref) != 0 ||
	    time_path(ctx, EDGE_INFER_KERNELS_OPTIMISED, (int)iters, ns, &opt) != 0)
		goto invoke_failed;
	const double speedup = opt.median_us > 0 ? ref.median_us / opt.median_us : 0;
	const char *force = getenv("EDGE_INFER_KERNELS");
	const int forced_ref = force && strcmp(force, "reference") == 0;

	if (as_json) {
		json_t *j = json_object();
		json_object_set_new(j, "file", json_string(path));
		json_object_set_new(j, "macs", json_integer((json_int_t)macs));
		json_object_set_new(j, "arena_bytes", json_integer((json_int_t)edge_infer_model_arena_bytes(mf.model)));
		json_object_set_new(j, "persistent_bytes",
				    json_integer((json_int_t)edge_infer_model_persistent_bytes(mf.model)));
		json_object_set_new(j, "packed_bytes", json_integer((json_int_t)model_packed_bytes(&mf)));
		json_object_set_new(j, "kernel_path",
				    json_string(forced_ref ? "reference (EDGE_INFER_KERNELS)" : edge_infer_kernels_describe()));
		json_object_set_new(j, "reference", lat_json(&ref, macs));
		json_object_set_new(j, "optimised", lat_json(&opt, macs));
		json_object_set_new(j, "speedup", json_real(speedup));
		json_object_set_new(j, "outputs_equal", json_boolean(equal));
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("model:       %s\n", path);
		printf("kernel path: %s\n", forced_ref ? "reference (EDGE_INFER_KERNELS)" : edge_infer_kernels_describe());
		printf("MACs:        %llu\n", (unsigned long long)macs);
		printf("arena:       %zu bytes; persistent %zu bytes (packed %zu)\n",
		       edge_infer_model_arena_bytes(mf.model), edge_infer_model_persistent_bytes(mf.model),
		       model_packed_bytes(&mf));
		printf("%-10s %6s %12s %12s %12s %10s\n", "path", "iters", "min us", "median us", "p99 us", "GMAC/s");
		const struct lat *l[2] = { &ref, &opt };
		const char *name[2] = { "reference", "optimised" };
		for (int i = 0; i < 2; i++)
			printf("%-10s %6d %12.1f %12.1f %12.1f %10.2f\n", name[i], l[i]->iters, l[i]->min_us,
			       l[i]->median_us, l[i]->p99_us,
			       l[i]->median_us > 0 ? (double)macs / l[i]->median_us / 1e3 : 0.0);
		printf("speed-up:    %.2fx; outputs %s\n", speedup, equal ? "identical" : "DIFFER");
	}
	rc = equal ? MODEL_EXIT_OK : MODEL_EXIT_FAIL;
	if (!equal)
		fprintf(stderr, "edgectl model bench: optimised output differs from the reference\n");
	goto out;
invoke_failed:
	fprintf(stderr, "edgectl model bench: invoke failed\n");
out:
	free(ref_out);
	free(ns);
	edge_infer_ctx_free(ctx);
	model_file_close(&mf);
	return rc;
}
