/* Internal layout of a loaded model and a context, shared by the loader
 * (model.c), the planner (plan.c) and the interpreter (interp.c). */
#ifndef EDGE_INFER_MODEL_H
#define EDGE_INFER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "edge_infer.h"
#include "infer_op.h"

/* Load limits: bound the memory an untrusted file can make us allocate. */
#define EDGE__MAX_TENSORS 16384
#define EDGE__MAX_OPS 16384
#define EDGE__MAX_BUFFERS 65536
#define EDGE__MAX_IO 64
#define EDGE__ARENA_ALIGN 16

/* Tensor indices of one operator, as in the file (-1 = omitted input). */
typedef struct edge__op_io {
	int in[EDGE_INFER_MAX_OP_INPUTS];
	int out[EDGE_INFER_MAX_OP_OUTPUTS];
} edge__op_io;

struct edge__persist;

struct edge_infer_model {
	const uint8_t *bytes;           /* borrowed file */
	size_t len;
	const char *description;        /* into the file, or "" */

	int n_tensors;
	edge_tensor *tensors;           /* data set for constants only */
	size_t *arena_offset;           /* per tensor; SIZE_MAX = not in arena */

	int n_ops;
	edge_op_node *nodes;
	edge__op_io *io;
	size_t *scratch_offset;         /* per op; SIZE_MAX = none */
	size_t *opt_scratch;            /* per op: scratch the optimised kernel
					 * asked for beyond the reference's */

	int n_inputs, n_outputs;
	int inputs[EDGE__MAX_IO], outputs[EDGE__MAX_IO];

	size_t arena_bytes;
	size_t persistent_bytes;
	uint64_t macs;
	uint64_t max_macs;              /* 0 = unlimited */

	struct edge__persist *persist;  /* prepared-data blocks */
};

struct edge_infer_ctx {
	const struct edge_infer_model *model;
	uint8_t *arena;
	int own_arena;
	int force_reference;            /* EDGE_INFER_KERNELS=reference */
	edge_tensor *tensors;           /* copies with data bound to this arena */
	edge_op_node *nodes;            /* copies pointing at ctx tensors */
};

/* Persistent, zeroed, 16-byte aligned memory owned by the model. */
void *edge__model_alloc(struct edge_infer_model *m, size_t bytes);

/* Assign arena offsets to every non-constant tensor that is used and to
 * every operator's scratch; sets m->arena_bytes. Optimised kernels get
 * their larger scratch only where it fits without growing the arena. */
EDGE_INFER_WUR int edge__plan(struct edge_infer_model *m, struct edge_infer_error *err);

#endif
