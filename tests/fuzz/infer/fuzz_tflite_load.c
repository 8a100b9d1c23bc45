/* Fuzz target: load an untrusted model; if it loads, run it once with the
 * reference kernels under a small operation budget. Any crash, sanitizer
 * report or non-engine error code is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private aligned copy: the engine borrows the bytes. */
	uint8_t *copy = aligned_alloc(16, (size + 16) & ~(size_t)15);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	struct edge_infer_load_options opt = {
		.max_macs = 2000000,
		.max_arena_bytes = 4u << 20,
		.max_persistent_bytes = 16u << 20,
	};
	edge_infer_model *m = NULL;
	struct edge_infer_error err;
	int rc = edge_infer_model_load(copy, size, &opt, &m, &err);
	if (rc == 0) {
		edge_infer_ctx *ctx;
		if (edge_infer_ctx_new(m, NULL, 0, &ctx) == 0) {
			for (int i = 0; i < edge_infer_model_input_count(m); i++) {
				size_t n;
				void *in = edge_infer_input(ctx, i, &n);
				if (in)
					memset(in, 0x5a, n);
			}
			rc = edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE);
			if (rc != 0 && rc != EDGE_INFER_EBUDGET)
				abort();
			edge_infer_ctx_free(ctx);
		}
		edge_infer_model_free(m);
	} else if (rc >= -EDGE_INFER_EBASE || rc <= EDGE_INFER_ELAST || err.code != rc ||
		   err.msg[0] == 0) {
		abort(); /* every refusal carries an engine code and a message */
	}
	free(copy);
	return 0;
}
