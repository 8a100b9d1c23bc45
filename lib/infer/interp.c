/* Interpreter: contexts (one arena each), invoke, variable reset. A
 * context holds its own copies of the tensor and node arrays with data
 * pointers bound to its arena, so one verified model can serve several
 * contexts at once; the prepared data stays shared and read-only. */
#include <stdlib.h>
#include <string.h>

#include "infer_model.h"
#ifdef EDGE_INFER_HAVE_OPT
#include "kernels/edge_opt.h"
#endif

static void bind(edge_infer_ctx *ctx)
{
	const struct edge_infer_model *m = ctx->model;
	memcpy(ctx->tensors, m->tensors, (size_t)m->n_tensors * sizeof *ctx->tensors);
	for (int t = 0; t < m->n_tensors; t++)
		if (m->arena_offset[t] != SIZE_MAX)
			ctx->tensors[t].data = ctx->arena + m->arena_offset[t];
	memcpy(ctx->nodes, m->nodes, (size_t)m->n_ops * sizeof *ctx->nodes);
	for (int oi = 0; oi < m->n_ops; oi++) {
		edge_op_node *n = &ctx->nodes[oi];
		for (int i = 0; i < n->n_inputs; i++)
			if (n->inputs[i])
				n->inputs[i] = ctx->tensors + (n->inputs[i] - m->tensors);
		for (int o = 0; o < n->n_outputs; o++)
			n->outputs[o] = ctx->tensors + (n->outputs[o] - m->tensors);
		n->scratch = m->scratch_offset[oi] == SIZE_MAX ? NULL
							       : ctx->arena + m->scratch_offset[oi];
	}
}

int edge_infer_ctx_new(const edge_infer_model *m, void *arena, size_t arena_len,
		       edge_infer_ctx **out)
{
	if (!out)
		return EDGE_INFER_EINVAL;
	*out = NULL;
	if (!m)
		return EDGE_INFER_EINVAL;
	if (arena && (arena_len < m->arena_bytes || (uintptr_t)arena % EDGE__ARENA_ALIGN != 0))
		return EDGE_INFER_EARENA;
	edge_infer_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return EDGE_INFER_ENOMEM;
	ctx->model = m;
	ctx->tensors = calloc((size_t)m->n_tensors + 1, sizeof *ctx->tensors);
	ctx->nodes = calloc((size_t)m->n_ops + 1, sizeof *ctx->nodes);
	if (arena) {
		ctx->arena = arena;
	} else {
		ctx->arena = aligned_alloc(EDGE__ARENA_ALIGN, m->arena_bytes ? m->arena_bytes
									 : EDGE__ARENA_ALIGN);
		ctx->own_arena = 1;
	}
	if (!ctx->tensors || !ctx->nodes || !ctx->arena) {
		edge_infer_ctx_free(ctx);
		return EDGE_INFER_ENOMEM;
	}
	/* Deterministic contents before the first invoke. */
	memset(ctx->arena, 0, m->arena_bytes);
	const char *k = getenv("EDGE_INFER_KERNELS");
	ctx->force_reference = k && strcmp(k, "reference") == 0;
	bind(ctx);
	edge_infer_ctx_reset(ctx);
	*out = ctx;
	return 0;
}

void edge_infer_ctx_free(edge_infer_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->own_arena)
		free(ctx->arena);
	free(ctx->tensors);
	free(ctx->nodes);
	free(ctx);
}

static void *io_tensor(const edge_infer_ctx *ctx, int tensor, size_t *bytes)
{
	if (tensor < 0)
		return NULL;
	if (bytes)
		*bytes = ctx->tensors[tensor].bytes;
	return ctx->tensors[tensor].data;
}

void *edge_infer_input(edge_infer_ctx *ctx, int i, size_t *bytes)
{
	if (!ctx)
		return NULL;
	return io_tensor(ctx, edge_infer_model_input_tensor(ctx->model, i), bytes);
}

const void *edge_infer_output(const edge_infer_ctx *ctx, int i, size_t *bytes)
{
	if (!ctx)
		return NULL;
	return io_tensor(ctx, edge_infer_model_output_tensor(ctx->model, i), bytes);
}

int edge_infer_invoke(edge_infer_ctx *ctx, int kernels)
{
	if (!ctx || (kernels != EDGE_INFER_KERNELS_REFERENCE && kernels != EDGE_INFER_KERNELS_OPTIMISED))
		return EDGE_INFER_EINVAL;
	const struct edge_infer_model *m = ctx->model;
	/* The MAC count is exact for a verified model, so the budget is
	 * enforced before any work is done. */
	if (m->max_macs && m->macs > m->max_macs)
		return EDGE_INFER_EBUDGET;
#ifdef EDGE_INFER_HAVE_OPT
	int flavour = ctx->force_reference ? EDGE_KERNELS_REFERENCE : kernels;
#endif
	for (int oi = 0; oi < m->n_ops; oi++) {
		edge_op_node *n = &ctx->nodes[oi];
#ifdef EDGE_INFER_HAVE_OPT
		if (flavour == EDGE_KERNELS_OPTIMISED && edge_opt_eval(n))
			continue;
#endif
		/* Operators without an optimised twin run the reference code. */
		const edge_op_kernel *k = edge_op_kernel_find(n->builtin);
		int rc = k->eval(n, EDGE_KERNELS_REFERENCE);
		if (rc)
			return rc < 0 ? rc : EDGE_INFER_EOP;
	}
	return 0;
}

void edge_infer_ctx_reset(edge_infer_ctx *ctx)
{
	if (!ctx)
		return;
	const struct edge_infer_model *m = ctx->model;
	for (int t = 0; t < m->n_tensors; t++) {
		edge_tensor *tn = &ctx->tensors[t];
		if (!tn->is_variable || !tn->data)
			continue;
		/* State restarts at real 0: the zero point for int8, 0 otherwise
		 * (as TFLM's ResetVariableTensors). */
		int v = (tn->type == EDGE_TT_INT8 && tn->n_quant > 0) ? (int)tn->zero_point[0] : 0;
		memset(tn->data, v, tn->bytes);
	}
}

const char *edge_infer_kernels_describe(void)
{
#ifdef EDGE_INFER_HAVE_OPT
	return edge_opt_describe();
#else
	return "reference only (no optimised kernels in this build)";
#endif
}
