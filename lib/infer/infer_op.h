/* Internal contract of the INT8 engine (lib/infer), shared by the model
 * loader (tflite reader, verifier, planner, interpreter), the per-operator
 * code (prepare + reference eval) and the optimised kernels.
 *
 * Flow: the loader verifies the flatbuffer and builds edge_tensor /
 * edge_op_node arrays, filling edge_op_options from the builtin options.
 * For every node it calls the operator's prepare(), which checks the
 * operator's own constraints and precomputes what eval() needs
 * (multipliers, shifts, clamps, padding) into node->prep, a block
 * allocated from the model's persistent memory. The planner then assigns
 * arena offsets; invoke() calls eval() for each node in order. eval() never
 * allocates and never fails on a verified model except through its op
 * budget.
 *
 * libc only: this header and everything under lib/infer include nothing
 * outside the C library. */
#ifndef EDGE_INFER_OP_H
#define EDGE_INFER_OP_H

#include <stddef.h>
#include <stdint.h>

/* Shape capacity of a tensor. The kernels follow TFLM, whose RESHAPE accepts
 * rank 9; a model may hold at most EDGE_INFER_MODEL_MAX_RANK, which the
 * loader enforces (and the public tensor info is sized for). */
#define EDGE_INFER_MAX_RANK 9
#define EDGE_INFER_MODEL_MAX_RANK 8
#define EDGE_INFER_MAX_OP_INPUTS 16 /* CONCATENATION may have more: refused beyond */
#define EDGE_INFER_MAX_OP_OUTPUTS 4

/* Tensor element types, numbered as TensorFlow Lite's schema TensorType. */
enum edge_tensor_type {
	EDGE_TT_FLOAT32 = 0,
	EDGE_TT_INT32 = 2,
	EDGE_TT_UINT8 = 3,
	EDGE_TT_INT64 = 4,
	EDGE_TT_BOOL = 6,
	EDGE_TT_INT16 = 7,
	EDGE_TT_INT8 = 9,
};

/* Activation functions, numbered as the schema's ActivationFunctionType. */
enum edge_activation {
	EDGE_ACT_NONE = 0,
	EDGE_ACT_RELU = 1,
	EDGE_ACT_RELU_N1_TO_1 = 2,
	EDGE_ACT_RELU6 = 3,
	EDGE_ACT_TANH = 4,
	EDGE_ACT_SIGN_BIT = 5,
};

enum edge_padding { EDGE_PAD_SAME = 0, EDGE_PAD_VALID = 1 };

typedef struct edge_tensor {
	void *data;              /* arena, model buffer, or NULL until planned */
	int32_t dims[EDGE_INFER_MAX_RANK];
	int rank;
	int type;                /* enum edge_tensor_type */
	size_t bytes;            /* element count × element size */
	int is_const;            /* data lives in the model's buffer */
	int is_variable;         /* persistent state (LSTM), not arena-shared */
	/* Quantization. Per-tensor: n_quant == 1 (scale[0], zero_point[0]).
	 * Per-channel: n_quant == dims[quant_dim]. n_quant == 0: none. */
	const float *scale;
	const int64_t *zero_point;
	int n_quant;
	int quant_dim;
	const char *name;        /* from the model, for error messages; may be NULL */
} edge_tensor;

/* Builtin options, already range-checked by the loader against the
 * schema (enum values known, strides/dilations/filter sizes >= 1). */
typedef union edge_op_options {
	struct { int padding, stride_w, stride_h, dilation_w, dilation_h, activation; } conv;
	struct { int padding, stride_w, stride_h, dilation_w, dilation_h, activation, depth_multiplier; } dw;
	struct { int activation, keep_num_dims, weights_format, asymmetric_quantize_inputs; } fc;
	struct { int padding, stride_w, stride_h, filter_w, filter_h, activation; } pool;
	struct { int activation; } arith;         /* ADD, SUB, MUL */
	struct { float beta; } softmax;
	struct { int keep_dims; } reduce;         /* MEAN, SUM, REDUCE_MAX/MIN: axes are input 1 */
	struct { int axis, activation; } concat;
	struct { float alpha; } leaky_relu;
	struct { int n_new_shape; int32_t new_shape[EDGE_INFER_MAX_RANK]; } reshape;
} edge_op_options;

/* Which implementation family eval() should use. */
enum edge_kernel_flavour {
	EDGE_KERNELS_REFERENCE = 0, /* portable C, ground truth */
	EDGE_KERNELS_OPTIMISED = 1, /* best available for this CPU, same bytes */
};

typedef struct edge_op_node {
	int builtin;                 /* schema BuiltinOperator code */
	int index;                   /* operator index in the subgraph, for errors */
	int n_inputs, n_outputs;
	edge_tensor *inputs[EDGE_INFER_MAX_OP_INPUTS];   /* NULL for optional -1 */
	edge_tensor *outputs[EDGE_INFER_MAX_OP_OUTPUTS];
	edge_op_options opt;
	void *prep;                  /* prepare()'s result, owned by the model */
	void *opt_prep;              /* optimised kernels' own prepared data (packed weights), or NULL */
	uint64_t macs;               /* multiply-accumulates per invoke (set by prepare) */
	void *scratch;               /* arena scratch of prep_scratch_bytes (planned) */
	size_t scratch_bytes;        /* requested by prepare(), planned by the loader */
} edge_op_node;

/* prepare() gets memory through this allocator (persistent, model lifetime,
 * zeroed, 16-byte aligned) and reports errors into err. */
typedef struct edge_prep_ctx {
	void *(*alloc)(struct edge_prep_ctx *ctx, size_t bytes);
	void *alloc_state;
	char *err;                   /* write a specific message here on failure */
	size_t err_len;
} edge_prep_ctx;

typedef struct edge_op_kernel {
	int builtin;
	const char *name;            /* "CONV_2D", ... as in the schema */
	/* Check constraints, precompute into node->prep. 0 or EDGE_INFER_E*. */
	int (*prepare)(edge_op_node *node, edge_prep_ctx *ctx);
	/* Compute outputs from inputs. Returns 0. */
	int (*eval)(edge_op_node *node, int flavour);
} edge_op_kernel;

/* The table of supported operators; NULL when the builtin is unsupported. */
const edge_op_kernel *edge_op_kernel_find(int builtin);

/* Schema BuiltinOperator codes used by the engine. */
enum edge_builtin {
	EDGE_OP_ADD = 0,
	EDGE_OP_AVERAGE_POOL_2D = 1,
	EDGE_OP_CONCATENATION = 2,
	EDGE_OP_CONV_2D = 3,
	EDGE_OP_DEPTHWISE_CONV_2D = 4,
	EDGE_OP_DEQUANTIZE = 6,
	EDGE_OP_FULLY_CONNECTED = 9,
	EDGE_OP_LOGISTIC = 14,
	EDGE_OP_MAX_POOL_2D = 17,
	EDGE_OP_MUL = 18,
	EDGE_OP_RELU = 19,
	EDGE_OP_RELU6 = 21,
	EDGE_OP_RESHAPE = 22,
	EDGE_OP_SOFTMAX = 25,
	EDGE_OP_TANH = 28,
	EDGE_OP_PAD = 34,
	EDGE_OP_UNIDIRECTIONAL_SEQUENCE_LSTM = 44,
	EDGE_OP_MEAN = 40,
	EDGE_OP_SUB = 41,
	EDGE_OP_TRANSPOSE = 39,
	EDGE_OP_MAXIMUM = 55,
	EDGE_OP_MINIMUM = 57,
	EDGE_OP_PADV2 = 60,
	EDGE_OP_SUM = 74,
	EDGE_OP_REDUCE_MAX = 82,
	EDGE_OP_REDUCE_MIN = 89,
	EDGE_OP_LEAKY_RELU = 98,
	EDGE_OP_QUANTIZE = 114,
};

#endif
