/* edge_infer: the INT8 inference engine's public API (libc only).
 *
 * Loads a TensorFlow Lite flatbuffer (.tflite, schema v3, full-integer
 * INT8) as untrusted input: every offset, index, shape, buffer size,
 * quantization parameter and operator option is verified before use, and
 * malformed or unsupported models are refused with a stable error code and
 * a message naming the tensor / operator / field at fault. Results are
 * bit-exact with TensorFlow Lite Micro's reference kernels; the optimised
 * kernels produce the same bytes.
 *
 * Lifetimes: a model borrows the file bytes (they must outlive it) and is
 * immutable after load, so several contexts on different threads may share
 * it. A context owns (or borrows) one arena and is used by one thread at a
 * time. Nothing allocates during edge_infer_invoke(). */
#ifndef EDGE_INFER_H
#define EDGE_INFER_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_INFER_WUR __attribute__((warn_unused_result))

/* Error codes: negative, in their own range (beyond errno and EDGE_E*). */
enum edge_infer_status {
	EDGE_INFER_OK = 0,
	EDGE_INFER_EBASE = 20000,
	EDGE_INFER_ENOMEM = -(EDGE_INFER_EBASE + 1),      /* out of memory */
	EDGE_INFER_EINVAL = -(EDGE_INFER_EBASE + 2),      /* bad API argument */
	EDGE_INFER_ETRUNCATED = -(EDGE_INFER_EBASE + 3),  /* file shorter than its structure */
	EDGE_INFER_EFORMAT = -(EDGE_INFER_EBASE + 4),     /* flatbuffer structure invalid (offset, vtable, alignment) */
	EDGE_INFER_EIDENT = -(EDGE_INFER_EBASE + 5),      /* file identifier is not "TFL3" */
	EDGE_INFER_EVERSION = -(EDGE_INFER_EBASE + 6),    /* schema version is not 3 */
	EDGE_INFER_ESUBGRAPH = -(EDGE_INFER_EBASE + 7),   /* no / unusable main subgraph */
	EDGE_INFER_EINDEX = -(EDGE_INFER_EBASE + 8),      /* tensor/buffer/opcode index out of range */
	EDGE_INFER_ESHAPE = -(EDGE_INFER_EBASE + 9),      /* rank, negative dim, size overflow */
	EDGE_INFER_EBUFFER = -(EDGE_INFER_EBASE + 10),    /* constant data size/location wrong */
	EDGE_INFER_ETYPE = -(EDGE_INFER_EBASE + 11),      /* tensor type not supported */
	EDGE_INFER_EQUANT = -(EDGE_INFER_EBASE + 12),     /* quantization parameters invalid */
	EDGE_INFER_EUNSUPPORTED = -(EDGE_INFER_EBASE + 13), /* operator not supported (named in message) */
	EDGE_INFER_EOPTIONS = -(EDGE_INFER_EBASE + 14),   /* builtin options missing, wrong type or out of range */
	EDGE_INFER_EGRAPH = -(EDGE_INFER_EBASE + 15),     /* use before definition, cycle, aliasing, double producer */
	EDGE_INFER_EOP = -(EDGE_INFER_EBASE + 16),        /* operator constraint (from its prepare) */
	EDGE_INFER_ELIMIT = -(EDGE_INFER_EBASE + 17),     /* a load limit was exceeded (size, counts, arena) */
	EDGE_INFER_EBUDGET = -(EDGE_INFER_EBASE + 18),    /* model exceeds the MAC budget */
	EDGE_INFER_EARENA = -(EDGE_INFER_EBASE + 19),     /* caller's arena too small or misaligned */
	EDGE_INFER_ELAST = -(EDGE_INFER_EBASE + 20),
};

/* Static name + description for any edge_infer_status; never NULL. */
const char *edge_infer_strerror(int code);
/* Stable short name ("EDGE_INFER_EGRAPH") or "EDGE_INFER_UNKNOWN". */
const char *edge_infer_errname(int code);

/* Filled by edge_infer_model_load() on failure. */
struct edge_infer_error {
	int code;                /* same as the return value */
	int op_index;            /* operator at fault, or -1 */
	int tensor_index;        /* tensor at fault, or -1 */
	char msg[256];           /* e.g. "operator 3 (CONV_2D): input 1 is tensor 99, out of range (12 tensors)" */
};

/* Kernel families for edge_infer_invoke(); numbered as infer_op.h. */
enum edge_infer_kernels {
	EDGE_INFER_KERNELS_REFERENCE = 0, /* portable C, the ground truth */
	EDGE_INFER_KERNELS_OPTIMISED = 1, /* fastest for this CPU, same bytes */
};

/* Load options; NULL or a zeroed struct means the defaults. */
struct edge_infer_load_options {
	uint64_t max_macs;          /* invoke refuses models above this; 0 = no limit */
	size_t max_arena_bytes;     /* load refuses larger arenas; 0 = no limit */
	size_t max_persistent_bytes;/* load refuses more prepared data; 0 = no limit */
};

typedef struct edge_infer_model edge_infer_model;
typedef struct edge_infer_ctx edge_infer_ctx;

/* Verify and prepare a model. `bytes` is borrowed and must stay valid and
 * unchanged until edge_infer_model_free(). On success *out owns the model.
 * On failure returns EDGE_INFER_E*, *out is NULL and err (if not NULL)
 * says what and where. */
EDGE_INFER_WUR int edge_infer_model_load(const void *bytes, size_t len,
					 const struct edge_infer_load_options *opt,
					 edge_infer_model **out,
					 struct edge_infer_error *err);
/* NULL-safe. All contexts of the model must be freed first. */
void edge_infer_model_free(edge_infer_model *model);

/* ---- Introspection (all borrowed from the model, valid until it is freed) */

struct edge_infer_tensor_info {
	const char *name;        /* "" when the model has none */
	int type;                /* TensorType code (9 = INT8, see edge_infer_type_name) */
	int rank;
	int32_t dims[8];
	size_t bytes;
	int is_const;            /* weights/bias stored in the model */
	int is_variable;         /* state kept across invokes */
	int n_quant;             /* 0 none, 1 per-tensor, else per-channel along quant_dim */
	int quant_dim;
	const float *scale;      /* n_quant entries */
	const int64_t *zero_point;
	size_t arena_offset;     /* SIZE_MAX when not in the arena (constants, unused) */
};

struct edge_infer_op_info {
	int builtin;             /* schema BuiltinOperator code */
	const char *name;        /* "CONV_2D" */
	int n_inputs, n_outputs;
	const int *inputs;       /* tensor indices; -1 for an omitted optional input */
	const int *outputs;
	uint64_t macs;           /* multiply-accumulates per invoke */
	size_t scratch_bytes;    /* arena scratch this operator uses */
};

int edge_infer_model_tensor_count(const edge_infer_model *model);
EDGE_INFER_WUR int edge_infer_model_tensor(const edge_infer_model *model, int index,
					   struct edge_infer_tensor_info *out);
int edge_infer_model_op_count(const edge_infer_model *model);
EDGE_INFER_WUR int edge_infer_model_op(const edge_infer_model *model, int index,
				       struct edge_infer_op_info *out);
int edge_infer_model_input_count(const edge_infer_model *model);
int edge_infer_model_output_count(const edge_infer_model *model);
/* Tensor index of graph input/output i, or -1 when i is out of range. */
int edge_infer_model_input_tensor(const edge_infer_model *model, int i);
int edge_infer_model_output_tensor(const edge_infer_model *model, int i);
uint64_t edge_infer_model_macs(const edge_infer_model *model);
/* Arena one context needs (planned activations + scratch + variables). */
size_t edge_infer_model_arena_bytes(const edge_infer_model *model);
/* Prepared data held by the model (separate from the arena). */
size_t edge_infer_model_persistent_bytes(const edge_infer_model *model);
/* The model's description string (may be ""). */
const char *edge_infer_model_description(const edge_infer_model *model);

/* Names for every schema BuiltinOperator ("UNKNOWN" beyond the table). */
const char *edge_infer_op_name(int builtin);
/* "INT8", "FLOAT32", ... ("UNKNOWN" otherwise). */
const char *edge_infer_type_name(int type);
/* Static text naming the optimised path chosen for this CPU,
 * e.g. "x86-64 AVX2" or "reference only". */
const char *edge_infer_kernels_describe(void);

/* ---- Running */

/* Create a context. With arena == NULL the context allocates its own
 * arena; otherwise arena (16-byte aligned, arena_len >=
 * edge_infer_model_arena_bytes) is borrowed and must outlive the context.
 * The model is borrowed. Variable tensors start reset. */
EDGE_INFER_WUR int edge_infer_ctx_new(const edge_infer_model *model, void *arena,
				      size_t arena_len, edge_infer_ctx **out);
void edge_infer_ctx_free(edge_infer_ctx *ctx); /* NULL-safe */

/* Graph input/output i: pointer into the arena and its size in bytes
 * (*bytes may be NULL). NULL when i is out of range. Valid for the
 * context's lifetime; outputs hold the last invoke's results. */
void *edge_infer_input(edge_infer_ctx *ctx, int i, size_t *bytes);
const void *edge_infer_output(const edge_infer_ctx *ctx, int i, size_t *bytes);

/* Run the graph once. kernels: enum edge_infer_kernels. The environment
 * variable EDGE_INFER_KERNELS=reference (read at edge_infer_ctx_new)
 * forces the reference kernels. Returns 0, EDGE_INFER_EBUDGET when the
 * model's MACs exceed the load option max_macs, EDGE_INFER_EINVAL. */
EDGE_INFER_WUR int edge_infer_invoke(edge_infer_ctx *ctx, int kernels);

/* Reset variable (state) tensors to their zero point. */
void edge_infer_ctx_reset(edge_infer_ctx *ctx);

#endif
