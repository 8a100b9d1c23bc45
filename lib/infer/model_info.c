/* Read-only introspection of a loaded model. */
#include <string.h>

#include "infer_model.h"
#include "tflite_schema.h"

int edge_infer_model_tensor_count(const edge_infer_model *m)
{
	return m ? m->n_tensors : 0;
}

int edge_infer_model_tensor(const edge_infer_model *m, int index,
			    struct edge_infer_tensor_info *out)
{
	if (!m || !out || index < 0 || index >= m->n_tensors)
		return EDGE_INFER_EINVAL;
	const edge_tensor *t = &m->tensors[index];
	memset(out, 0, sizeof *out);
	out->name = t->name ? t->name : "";
	out->type = t->type;
	out->rank = t->rank;
	/* The loader keeps model tensors within EDGE_INFER_MODEL_MAX_RANK. */
	_Static_assert(sizeof out->dims / sizeof out->dims[0] == EDGE_INFER_MODEL_MAX_RANK,
		       "public tensor info holds a model's largest rank");
	memcpy(out->dims, t->dims, sizeof out->dims);
	out->bytes = t->bytes;
	out->is_const = t->is_const;
	out->is_variable = t->is_variable;
	out->n_quant = t->n_quant;
	out->quant_dim = t->quant_dim;
	out->scale = t->scale;
	out->zero_point = t->zero_point;
	out->arena_offset = m->arena_offset[index];
	return 0;
}

int edge_infer_model_op_count(const edge_infer_model *m)
{
	return m ? m->n_ops : 0;
}

int edge_infer_model_op(const edge_infer_model *m, int index, struct edge_infer_op_info *out)
{
	if (!m || !out || index < 0 || index >= m->n_ops)
		return EDGE_INFER_EINVAL;
	const edge_op_node *n = &m->nodes[index];
	memset(out, 0, sizeof *out);
	out->builtin = n->builtin;
	out->name = edge_infer_op_name(n->builtin);
	out->n_inputs = n->n_inputs;
	out->n_outputs = n->n_outputs;
	out->inputs = m->io[index].in;
	out->outputs = m->io[index].out;
	out->macs = n->macs;
	out->scratch_bytes = n->scratch_bytes;
	return 0;
}

int edge_infer_model_input_count(const edge_infer_model *m)
{
	return m ? m->n_inputs : 0;
}

int edge_infer_model_output_count(const edge_infer_model *m)
{
	return m ? m->n_outputs : 0;
}

int edge_infer_model_input_tensor(const edge_infer_model *m, int i)
{
	return m && i >= 0 && i < m->n_inputs ? m->inputs[i] : -1;
}

int edge_infer_model_output_tensor(const edge_infer_model *m, int i)
{
	return m && i >= 0 && i < m->n_outputs ? m->outputs[i] : -1;
}

uint64_t edge_infer_model_macs(const edge_infer_model *m)
{
	return m ? m->macs : 0;
}

size_t edge_infer_model_arena_bytes(const edge_infer_model *m)
{
	return m ? m->arena_bytes : 0;
}

size_t edge_infer_model_persistent_bytes(const edge_infer_model *m)
{
	return m ? m->persistent_bytes : 0;
}

const char *edge_infer_model_description(const edge_infer_model *m)
{
	return m && m->description ? m->description : "";
}

const char *edge_infer_op_name(int builtin)
{
	const char *n = edge__tfl_op_name(builtin);
	return n ? n : "UNKNOWN";
}

const char *edge_infer_type_name(int type)
{
	const char *n = edge__tfl_type_name(type);
	return n ? n : "UNKNOWN";
}
