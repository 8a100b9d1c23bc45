/* `edgectl model inspect FILE [--json]` (a signed package: model_verify.c): operators, tensors with shapes and
 * quantization, MACs per operator and in total, planned arena bytes,
 * persistent bytes (and how much of it is the optimised kernels' packed
 * data), and whether the engine supports every operator. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgectl.h"
#include "model_tool.h"

static json_t *shape_json(const int32_t *dims, int rank)
{
	json_t *a = json_array();
	for (int i = 0; i < rank; i++)
		json_array_append_new(a, json_integer(dims[i]));
	return a;
}

static json_t *quant_json(const struct edge_infer_tensor_info *t)
{
	if (t->n_quant < 1 || !t->scale || !t->zero_point)
		return json_null();
	json_t *q = json_object();
	json_t *s = json_array(), *z = json_array();
	for (int i = 0; i < t->n_quant; i++) {
		json_array_append_new(s, json_real(t->scale[i]));
		json_array_append_new(z, json_integer((json_int_t)t->zero_point[i]));
	}
	json_object_set_new(q, "per_channel", json_boolean(t->n_quant > 1));
	json_object_set_new(q, "quantized_dimension", json_integer(t->quant_dim));
	json_object_set_new(q, "scale", s);
	json_object_set_new(q, "zero_point", z);
	return q;
}

static json_t *index_list_json(const int *idx, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_integer(idx[i]));
	return a;
}

static json_t *inspect_json(const struct model_file *mf)
{
	json_t *o = json_object();
	json_object_set_new(o, "file", json_string(mf->path));
	json_object_set_new(o, "file_bytes", json_integer((json_int_t)mf->len));
	json_object_set_new(o, "kernels", json_string(edge_infer_kernels_describe()));
	if (!mf->model) {
		json_t *e = json_object();
		json_object_set_new(e, "code", json_integer(mf->load_rc));
		json_object_set_new(e, "name", json_string(edge_infer_errname(mf->load_rc)));
		json_object_set_new(e, "message", json_string(mf->err.msg));
		json_object_set_new(e, "op_index", json_integer(mf->err.op_index));
		json_object_set_new(e, "tensor_index", json_integer(mf->err.tensor_index));
		json_object_set_new(o, "supported", json_false());
		json_object_set_new(o, "error", e);
		json_t *u = json_array(), *ops = json_array();
		struct model_op_entry *ent = NULL;
		int n = 0;
		if (model_list_ops(mf, &ent, &n) == 0) {
			for (int i = 0; i < n; i++) {
				json_t *j = json_object();
				json_object_set_new(j, "index", json_integer(i));
				json_object_set_new(j, "name", json_string(ent[i].name));
				json_object_set_new(j, "builtin", json_integer(ent[i].builtin));
				json_object_set_new(j, "supported", json_boolean(ent[i].supported));
				json_array_append_new(ops, j);
				if (!ent[i].supported) {
					json_t *k = json_object();
					json_object_set_new(k, "index", json_integer(i));
					json_object_set_new(k, "name", json_string(ent[i].name));
					json_array_append_new(u, k);
				}
			}
			free(ent);
		}
		json_object_set_new(o, "unsupported", u);
		json_object_set_new(o, "operators", ops);
		return o;
	}
	const edge_infer_model *m = mf->model;
	json_object_set_new(o, "description", json_string(edge_infer_model_description(m)));
	json_object_set_new(o, "supported", json_true());
	json_object_set_new(o, "unsupported", json_array());
	json_object_set_new(o, "macs", json_integer((json_int_t)edge_infer_model_macs(m)));
	json_object_set_new(o, "arena_bytes", json_integer((json_int_t)edge_infer_model_arena_bytes(m)));
	json_object_set_new(o, "persistent_bytes", json_integer((json_int_t)edge_infer_model_persistent_bytes(m)));
	json_object_set_new(o, "packed_bytes", json_integer((json_int_t)model_packed_bytes(mf)));

	json_t *ins = json_array(), *outs = json_array();
	for (int i = 0; i < edge_infer_model_input_count(m); i++)
		json_array_append_new(ins, json_integer(edge_infer_model_input_tensor(m, i)));
	for (int i = 0; i < edge_infer_model_output_count(m); i++)
		json_array_append_new(outs, json_integer(edge_infer_model_output_tensor(m, i)));
	json_object_set_new(o, "inputs", ins);
	json_object_set_new(o, "outputs", outs);

	json_t *ops = json_array();
	for (int i = 0; i < edge_infer_model_op_count(m); i++) {
		struct edge_infer_op_info op;
		if (edge_infer_model_op(m, i, &op) != 0)
			continue;
		json_t *j = json_object();
		json_object_set_new(j, "index", json_integer(i));
		json_object_set_new(j, "name", json_string(op.name));
		json_object_set_new(j, "builtin", json_integer(op.builtin));
		json_object_set_new(j, "inputs", index_list_json(op.inputs, op.n_inputs));
		json_object_set_new(j, "outputs", index_list_json(op.outputs, op.n_outputs));
		json_object_set_new(j, "macs", json_integer((json_int_t)op.macs));
		json_object_set_new(j, "scratch_bytes", json_integer((json_int_t)op.scratch_bytes));
		json_object_set_new(j, "supported", json_true());
		json_array_append_new(ops, j);
	}
	json_object_set_new(o, "operators", ops);

	json_t *ts = json_array();
	for (int i = 0; i < edge_infer_model_tensor_count(m); i++) {
		struct edge_infer_tensor_info t;
		if (edge_infer_model_tensor(m, i, &t) != 0)
			continue;
		json_t *j = json_object();
		json_object_set_new(j, "index", json_integer(i));
		json_object_set_new(j, "name", json_string(t.name));
		json_object_set_new(j, "type", json_string(edge_infer_type_name(t.type)));
		json_object_set_new(j, "shape", shape_json(t.dims, t.rank));
		json_object_set_new(j, "bytes", json_integer((json_int_t)t.bytes));
		json_object_set_new(j, "const", json_boolean(t.is_const));
		json_object_set_new(j, "variable", json_boolean(t.is_variable));
		json_object_set_new(j, "quantization", quant_json(&t));
		json_object_set_new(j, "arena_offset", t.arena_offset == SIZE_MAX ? json_null()
							: json_integer((json_int_t)t.arena_offset));
		json_array_append_new(ts, j);
	}
	json_object_set_new(o, "tensors", ts);
	return o;
}

static void print_quant(const struct edge_infer_tensor_info *t)
{
	if (t->n_quant < 1 || !t->scale || !t->zero_point)
		printf("-");
	else if (t->n_quant == 1)
		printf("scale %.9g zp %lld", (double)t->scale[0], (long long)t->zero_point[0]);
	else
		printf("per-channel x%d (dim %d) scale[0] %.9g zp[0] %lld", t->n_quant, t->quant_dim,
		       (double)t->scale[0], (long long)t->zero_point[0]);
}

static void inspect_text(const struct model_file *mf)
{
	printf("file:        %s (%zu bytes)\n", mf->path, mf->len);
	if (!mf->model) {
		printf("supported:   no\n");
		printf("error:       %s: %s\n", edge_infer_errname(mf->load_rc),
		       mf->err.msg[0] ? mf->err.msg : edge_infer_strerror(mf->load_rc));
		struct model_op_entry *ent = NULL;
		int n = 0;
		if (model_list_ops(mf, &ent, &n) == 0) {
			printf("\noperators (%d):\n", n);
			for (int i = 0; i < n; i++)
				printf("  %4d  %-32s %s\n", i, ent[i].name, ent[i].supported ? "" : "UNSUPPORTED");
			free(ent);
		}
		return;
	}
	const edge_infer_model *m = mf->model;
	char shape[128];
	const char *desc = edge_infer_model_description(m);
	if (desc && *desc)
		printf("description: %s\n", desc);
	printf("supported:   yes (every operator)\n");
	printf("kernels:     %s\n", edge_infer_kernels_describe());
	printf("\noperators (%d):\n", edge_infer_model_op_count(m));
	printf("  %4s  %-26s %-22s %-22s %14s\n", "#", "operator", "inputs", "outputs", "MACs");
	for (int i = 0; i < edge_infer_model_op_count(m); i++) {
		struct edge_infer_op_info op;
		if (edge_infer_model_op(m, i, &op) != 0)
			continue;
		char in[64] = "", out[64] = "";
		size_t a = 0, b = 0;
		for (int k = 0; k < op.n_inputs && a < sizeof(in); k++)
			a += (size_t)snprintf(in + a, sizeof(in) - a, "%s%d", k ? "," : "", op.inputs[k]);
		for (int k = 0; k < op.n_outputs && b < sizeof(out); k++)
			b += (size_t)snprintf(out + b, sizeof(out) - b, "%s%d", k ? "," : "", op.outputs[k]);
		printf("  %4d  %-26s %-22s %-22s %14llu\n", i, op.name, in, out, (unsigned long long)op.macs);
	}
	printf("\ntensors (%d):\n", edge_infer_model_tensor_count(m));
	for (int i = 0; i < edge_infer_model_tensor_count(m); i++) {
		struct edge_infer_tensor_info t;
		if (edge_infer_model_tensor(m, i, &t) != 0)
			continue;
		printf("  %4d  %-7s %-16s %8zu B  %-8s ", i, edge_infer_type_name(t.type),
		       model_shape_str(t.dims, t.rank, shape, sizeof(shape)), t.bytes,
		       t.is_const ? "const" : t.is_variable ? "variable" : "arena");
		print_quant(&t);
		printf("  %s\n", t.name);
	}
	printf("\ninputs:     ");
	for (int i = 0; i < edge_infer_model_input_count(m); i++)
		printf(" %d", edge_infer_model_input_tensor(m, i));
	printf("\noutputs:    ");
	for (int i = 0; i < edge_infer_model_output_count(m); i++)
		printf(" %d", edge_infer_model_output_tensor(m, i));
	printf("\nMACs:        %llu\n", (unsigned long long)edge_infer_model_macs(m));
	printf("arena:       %zu bytes\n", edge_infer_model_arena_bytes(m));
	printf("persistent:  %zu bytes (of which optimised kernels' packed data %zu)\n",
	       edge_infer_model_persistent_bytes(m), model_packed_bytes(mf));
}

int model_cmd_inspect(int argc, char **argv)
{
	const char *path = NULL, *trust = NULL;
	int as_json = edgectl_globals.json; /* edgectl --json model ... */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strcmp(argv[i], "--trust") == 0 && i + 1 < argc) {
			trust = argv[++i];
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "usage: edgectl model inspect FILE [--json] [--trust DIR]\n");
			return MODEL_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fprintf(stderr, "usage: edgectl model inspect FILE [--json] [--trust DIR]\n");
		return MODEL_EXIT_USAGE;
	}
	/* A signed package (by its magic) gets the package view. */
	if (model_is_package(path))
		return model_package_inspect(path, trust, as_json);
	struct model_file mf;
	if (model_file_open(&mf, path) != 0) {
		model_file_close(&mf);
		return MODEL_EXIT_FAIL;
	}
	if (as_json) {
		json_t *o = inspect_json(&mf);
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			puts(s);
		free(s);
		json_decref(o);
	} else {
		inspect_text(&mf);
	}
	/* An unsupported or invalid model is reported in full, but is a failure. */
	int rc = mf.model ? MODEL_EXIT_OK : MODEL_EXIT_FAIL;
	model_file_close(&mf);
	return rc;
}
