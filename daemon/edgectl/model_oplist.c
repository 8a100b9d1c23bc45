/* Operator list of a model the engine refused (e.g. an unsupported
 * operator), so that `edgectl model inspect` can still show every operator
 * and mark the unsupported ones. Reads the file with the engine's own
 * bounds-checked flatbuffer reader; only operator codes are looked at. */
#include <stdlib.h>

#include "infer_op.h"
#include "model_tool.h"
#include "tflite/fb_reader.h"
#include "tflite/tflite_schema.h"

#define OPLIST_MAX 16384

int model_list_ops(const struct model_file *mf, struct model_op_entry **out, int *n_out)
{
	struct edge_infer_error err = { 0 };
	edge__fb fb = { .base = mf->bytes, .len = mf->len, .err = &err };
	edge__fb_table root, sg, op;
	edge__fb_vec codes, subgraphs, ops;
	int *builtin = NULL;
	*out = NULL;
	*n_out = 0;
	if (edge__fb_root(&fb, "TFL3", &root) ||
	    edge__fb_vector(&fb, &root, TFL_MODEL_OPERATOR_CODES, 4, "operator codes", &codes) ||
	    edge__fb_vector(&fb, &root, TFL_MODEL_SUBGRAPHS, 4, "subgraphs", &subgraphs) || subgraphs.n < 1 ||
	    codes.n > OPLIST_MAX || edge__fb_vec_table(&fb, &subgraphs, 0, "subgraph 0", &sg) ||
	    edge__fb_vector(&fb, &sg, TFL_SUBGRAPH_OPERATORS, 4, "operators", &ops) || ops.n > OPLIST_MAX)
		return -1;
	builtin = calloc(codes.n ? codes.n : 1, sizeof(*builtin));
	struct model_op_entry *e = calloc(ops.n ? ops.n : 1, sizeof(*e));
	if (!builtin || !e)
		goto fail;
	for (uint32_t i = 0; i < codes.n; i++) {
		edge__fb_table c;
		uint8_t dep;
		int32_t code;
		if (edge__fb_vec_table(&fb, &codes, i, "operator code", &c) ||
		    edge__fb_u8(&fb, &c, TFL_OPCODE_DEPRECATED_BUILTIN, 0, "code", &dep) ||
		    edge__fb_i32(&fb, &c, TFL_OPCODE_BUILTIN, 0, "code", &code))
			goto fail;
		/* the real code is the larger of the two fields (schema rule) */
		builtin[i] = (int8_t)dep > code ? (int8_t)dep : code;
	}
	for (uint32_t i = 0; i < ops.n; i++) {
		uint32_t idx;
		if (edge__fb_vec_table(&fb, &ops, i, "operator", &op) ||
		    edge__fb_u32f(&fb, &op, TFL_OP_OPCODE_INDEX, 0, "opcode index", &idx) || idx >= codes.n)
			goto fail;
		e[i].builtin = builtin[idx];
		e[i].name = edge_infer_op_name(builtin[idx]);
		e[i].supported = builtin[idx] != TFL_BUILTIN_CUSTOM && edge_op_kernel_find(builtin[idx]) != NULL;
	}
	free(builtin);
	*out = e;
	*n_out = (int)ops.n;
	return 0;
fail:
	free(builtin);
	free(e);
	return -1;
}
