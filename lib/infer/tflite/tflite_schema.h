/* Facts about TensorFlow Lite's schema v3 the loader needs: field ids of
 * the tables it reads, BuiltinOperator names, tensor type sizes and which
 * BuiltinOptions table each supported operator carries. */
#ifndef EDGE_INFER_TFLITE_SCHEMA_H
#define EDGE_INFER_TFLITE_SCHEMA_H

#include <stddef.h>

/* Field ids (declaration order in schema.fbs; a union takes two ids:
 * its type, then its value). */
enum {
	TFL_MODEL_VERSION = 0, TFL_MODEL_OPERATOR_CODES = 1, TFL_MODEL_SUBGRAPHS = 2,
	TFL_MODEL_DESCRIPTION = 3, TFL_MODEL_BUFFERS = 4,
};
enum {
	TFL_OPCODE_DEPRECATED_BUILTIN = 0, TFL_OPCODE_CUSTOM = 1, TFL_OPCODE_VERSION = 2,
	TFL_OPCODE_BUILTIN = 3,
};
enum {
	TFL_SUBGRAPH_TENSORS = 0, TFL_SUBGRAPH_INPUTS = 1, TFL_SUBGRAPH_OUTPUTS = 2,
	TFL_SUBGRAPH_OPERATORS = 3, TFL_SUBGRAPH_NAME = 4,
};
enum {
	TFL_TENSOR_SHAPE = 0, TFL_TENSOR_TYPE = 1, TFL_TENSOR_BUFFER = 2, TFL_TENSOR_NAME = 3,
	TFL_TENSOR_QUANTIZATION = 4, TFL_TENSOR_IS_VARIABLE = 5, TFL_TENSOR_SPARSITY = 6,
};
enum {
	TFL_QUANT_MIN = 0, TFL_QUANT_MAX = 1, TFL_QUANT_SCALE = 2, TFL_QUANT_ZERO_POINT = 3,
	TFL_QUANT_DETAILS_TYPE = 4, TFL_QUANT_DETAILS = 5, TFL_QUANT_DIM = 6,
};
enum {
	TFL_OP_OPCODE_INDEX = 0, TFL_OP_INPUTS = 1, TFL_OP_OUTPUTS = 2,
	TFL_OP_OPTIONS_TYPE = 3, TFL_OP_OPTIONS = 4, TFL_OP_CUSTOM_OPTIONS = 5,
	TFL_OP_INTERMEDIATES = 8,
};
enum { TFL_BUFFER_DATA = 0, TFL_BUFFER_OFFSET = 1, TFL_BUFFER_SIZE = 2 };

/* BuiltinOptions union members the engine reads. */
enum tfl_options_type {
	TFL_OPT_NONE = 0,
	TFL_OPT_CONV2D = 1,
	TFL_OPT_DEPTHWISE_CONV2D = 2,
	TFL_OPT_POOL2D = 5,
	TFL_OPT_FULLY_CONNECTED = 8,
	TFL_OPT_SOFTMAX = 9,
	TFL_OPT_CONCATENATION = 10,
	TFL_OPT_ADD = 11,
	TFL_OPT_RESHAPE = 17,
	TFL_OPT_MUL = 21,
	TFL_OPT_PAD = 22,
	TFL_OPT_TRANSPOSE = 26,
	TFL_OPT_REDUCER = 27,
	TFL_OPT_SUB = 28,
	TFL_OPT_DEQUANTIZE = 38,
	TFL_OPT_MAXIMUM_MINIMUM = 39,
	TFL_OPT_PADV2 = 43,
	TFL_OPT_LEAKY_RELU = 75,
	TFL_OPT_QUANTIZE = 89,
	TFL_OPT_LAST_KNOWN = 126, /* RightShiftOptions */
};

#define TFL_BUILTIN_CUSTOM 32

/* Name of a BuiltinOperator code, NULL when the code is unknown. */
const char *edge__tfl_op_name(int builtin);
/* Element size of a TensorType, 0 when the engine does not support it. */
size_t edge__tfl_type_size(int type);
const char *edge__tfl_type_name(int type);

/* Per supported operator: the options table it carries (TFL_OPT_NONE if
 * none), inputs min..max, which inputs may be omitted (-1), outputs. */
struct edge__tfl_op_shape {
	int options_type;
	int min_inputs, max_inputs;
	unsigned optional_inputs;   /* bit i: input i may be -1 */
	int n_outputs;
};
/* NULL when the operator is not one the engine knows how to run. */
const struct edge__tfl_op_shape *edge__tfl_op_shape(int builtin);

#endif
