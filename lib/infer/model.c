/* Model loading: verify the TensorFlow Lite flatbuffer completely, build
 * the tensor and node arrays, prepare every operator, plan the arena.
 *
 * Checks run in a fixed order so a malformed file always gets the same
 * error: structure and version, buffers, operator codes, operators
 * (opcode index, supported operator), tensors (type, shape, buffer,
 * quantization), graph inputs/outputs, operator tensors and options,
 * dataflow (definition before use, cycles, aliasing, double producers),
 * the operators' own prepare(), the arena plan. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_reader.h"
#include "infer_model.h"
#include "tflite_schema.h"
#ifdef EDGE_INFER_HAVE_OPT
#include "kernels/edge_opt.h"
#endif

struct edge__persist {
	struct edge__persist *next;
	size_t bytes;
};

/* Block header padded so the payload stays 16-byte aligned. */
#define PERSIST_HDR ((sizeof(struct edge__persist) + 15) & ~(size_t)15)

void *edge__model_alloc(struct edge_infer_model *m, size_t bytes)
{
	if (bytes > SIZE_MAX / 2)
		return NULL;
	size_t total = (PERSIST_HDR + bytes + 15) & ~(size_t)15;
	struct edge__persist *p = aligned_alloc(16, total);
	if (!p)
		return NULL;
	memset(p, 0, total);
	p->next = m->persist;
	p->bytes = bytes;
	m->persist = p;
	m->persistent_bytes += (bytes + 15) & ~(size_t)15;
	return (uint8_t *)p + PERSIST_HDR;
}

struct buffer_ref {
	const uint8_t *data; /* NULL: no data */
	uint64_t size;
};

struct loader {
	edge__fb fb;
	struct edge_infer_error *err;
	struct edge_infer_model *m;
	const struct edge_infer_load_options *opt;
	uint32_t n_buffers;
	struct buffer_ref *buffers;
	uint32_t n_opcodes;
	int *opcode_builtin;
	const char **opcode_custom;
	edge__fb_table subgraph;
	edge__fb_vec tensors_vec, ops_vec;
	int *producer;       /* per tensor: producing op or -1 */
	char what[96];       /* field description for reader errors */
};

static int fail(struct loader *ld, int code, int op, int tensor, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct loader *ld, int code, int op, int tensor, const char *fmt, ...)
{
	struct edge_infer_error *e = ld->err;
	if (e->code == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
		e->op_index = op;
		e->tensor_index = tensor;
	}
	return code;
}

/* For reader failures: remember where we were. */
static int at(struct loader *ld, int rc, int op, int tensor)
{
	if (rc && ld->err->op_index < 0 && ld->err->tensor_index < 0) {
		ld->err->op_index = op;
		ld->err->tensor_index = tensor;
	}
	return rc;
}

static const char *what(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *what(struct loader *ld, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ld->what, sizeof ld->what, fmt, ap);
	va_end(ap);
	return ld->what;
}

static const char *op_name(int builtin)
{
	const char *n = edge__tfl_op_name(builtin);
	return n ? n : "UNKNOWN";
}

/* ---- Buffers ---------------------------------------------------------- */

static int load_buffers(struct loader *ld, const edge__fb_table *root)
{
	edge__fb *fb = &ld->fb;
	edge__fb_vec v;
	int rc = edge__fb_vector(fb, root, TFL_MODEL_BUFFERS, 4, "model buffers", &v);
	if (rc)
		return rc;
	if (v.n > EDGE__MAX_BUFFERS)
		return fail(ld, EDGE_INFER_ELIMIT, -1, -1, "model has %u buffers (limit %d)", v.n,
			    EDGE__MAX_BUFFERS);
	ld->n_buffers = v.n;
	ld->buffers = calloc(v.n ? v.n : 1, sizeof *ld->buffers);
	if (!ld->buffers)
		return fail(ld, EDGE_INFER_ENOMEM, -1, -1, "out of memory for %u buffers", v.n);
	for (uint32_t i = 0; i < v.n; i++) {
		edge__fb_table b;
		edge__fb_vec data;
		uint64_t off, size;
		if ((rc = edge__fb_vec_table(fb, &v, i, what(ld, "buffer %u", i), &b)) ||
		    (rc = edge__fb_vector(fb, &b, TFL_BUFFER_DATA, 1, ld->what, &data)) ||
		    (rc = edge__fb_u64f(fb, &b, TFL_BUFFER_OFFSET, 0, ld->what, &off)) ||
		    (rc = edge__fb_u64f(fb, &b, TFL_BUFFER_SIZE, 0, ld->what, &size)))
			return rc;
		if (data.n > 0) {
			ld->buffers[i].data = fb->base + data.pos;
			ld->buffers[i].size = data.n;
		} else if (off > 1) {
			/* Data stored after the flatbuffer (schema 3c). */
			if (off > fb->len || size > fb->len - off)
				return fail(ld, EDGE_INFER_EBUFFER, -1, -1,
					    "buffer %u: external data at offset %llu size %llu is outside the file (%zu bytes)",
					    i, (unsigned long long)off, (unsigned long long)size,
					    fb->len);
			ld->buffers[i].data = size ? fb->base + off : NULL;
			ld->buffers[i].size = size;
		}
	}
	return 0;
}

/* ---- Operator codes --------------------------------------------------- */

static int load_opcodes(struct loader *ld, const edge__fb_table *root)
{
	edge__fb *fb = &ld->fb;
	edge__fb_vec v;
	int rc = edge__fb_vector(fb, root, TFL_MODEL_OPERATOR_CODES, 4, "operator codes", &v);
	if (rc)
		return rc;
	if (v.n > EDGE__MAX_OPS)
		return fail(ld, EDGE_INFER_ELIMIT, -1, -1, "model has %u operator codes (limit %d)",
			    v.n, EDGE__MAX_OPS);
	ld->n_opcodes = v.n;
	ld->opcode_builtin = calloc(v.n ? v.n : 1, sizeof *ld->opcode_builtin);
	ld->opcode_custom = calloc(v.n ? v.n : 1, sizeof *ld->opcode_custom);
	if (!ld->opcode_builtin || !ld->opcode_custom)
		return fail(ld, EDGE_INFER_ENOMEM, -1, -1, "out of memory for operator codes");
	for (uint32_t i = 0; i < v.n; i++) {
		edge__fb_table c;
		uint8_t dep;
		int32_t code;
		if ((rc = edge__fb_vec_table(fb, &v, i, what(ld, "operator code %u", i), &c)) ||
		    (rc = edge__fb_u8(fb, &c, TFL_OPCODE_DEPRECATED_BUILTIN, 0, ld->what, &dep)) ||
		    (rc = edge__fb_i32(fb, &c, TFL_OPCODE_BUILTIN, 0, ld->what, &code)) ||
		    (rc = edge__fb_string(fb, &c, TFL_OPCODE_CUSTOM, ld->what,
					  &ld->opcode_custom[i])))
			return rc;
		/* Schema rule: the real code is the larger of the two fields
		 * (deprecated_builtin_code is a signed byte, capped at 127). */
		int d = (int8_t)dep;
		ld->opcode_builtin[i] = d > code ? d : code;
	}
	return 0;
}

/* ---- Tensors ---------------------------------------------------------- */

static int check_zero_point(int type, int64_t zp)
{
	switch (type) {
	case EDGE_TT_INT8: return zp >= -128 && zp <= 127;
	case EDGE_TT_UINT8: return zp >= 0 && zp <= 255;
	case EDGE_TT_INT16: return zp >= -32768 && zp <= 32767;
	case EDGE_TT_INT32: return zp >= INT32_MIN && zp <= INT32_MAX;
	default: return 1;
	}
}

static int load_quant(struct loader *ld, int ti, edge_tensor *t, const edge__fb_table *tt)
{
	edge__fb *fb = &ld->fb;
	edge__fb_table q;
	int present, rc;
	if ((rc = edge__fb_sub(fb, tt, TFL_TENSOR_QUANTIZATION,
			       what(ld, "tensor %d quantization", ti), &q, &present)))
		return rc;
	if (!present)
		return 0;
	edge__fb_vec sv, zv;
	uint8_t details;
	int32_t qdim;
	if ((rc = edge__fb_vector(fb, &q, TFL_QUANT_SCALE, 4, ld->what, &sv)) ||
	    (rc = edge__fb_vector(fb, &q, TFL_QUANT_ZERO_POINT, 8, ld->what, &zv)) ||
	    (rc = edge__fb_u8(fb, &q, TFL_QUANT_DETAILS_TYPE, 0, ld->what, &details)) ||
	    (rc = edge__fb_i32(fb, &q, TFL_QUANT_DIM, 0, ld->what, &qdim)))
		return rc;
	if (details != 0)
		return fail(ld, EDGE_INFER_EQUANT, -1, ti,
			    "tensor %d (%s): custom quantization details are not supported", ti,
			    t->name);
	if (sv.n == 0 && zv.n == 0)
		return 0;
	if (sv.n != zv.n)
		return fail(ld, EDGE_INFER_EQUANT, -1, ti,
			    "tensor %d (%s): %u scales but %u zero points", ti, t->name, sv.n, zv.n);
	int n = (int)sv.n;
	if (n > 1) {
		if (t->rank == 0)
			return fail(ld, EDGE_INFER_EQUANT, -1, ti,
				    "tensor %d (%s): per-channel quantization on a scalar", ti,
				    t->name);
		/* 1-D tensors (biases) carry stray quantized_dimension values
		 * from old converters: their only dimension is meant. */
		if (t->rank == 1)
			qdim = 0;
		if (qdim < 0 || qdim >= t->rank)
			return fail(ld, EDGE_INFER_EQUANT, -1, ti,
				    "tensor %d (%s): quantized_dimension %d out of range for rank %d",
				    ti, t->name, qdim, t->rank);
		if (t->dims[qdim] != n)
			return fail(ld, EDGE_INFER_EQUANT, -1, ti,
				    "tensor %d (%s): %d per-channel scales but dimension %d has %d entries",
				    ti, t->name, n, qdim, t->dims[qdim]);
	} else {
		qdim = 0;
	}
	float *scale = edge__model_alloc(ld->m, (size_t)n * sizeof *scale);
	int64_t *zp = edge__model_alloc(ld->m, (size_t)n * sizeof *zp);
	if (!scale || !zp)
		return fail(ld, EDGE_INFER_ENOMEM, -1, ti, "out of memory for quantization");
	for (int i = 0; i < n; i++) {
		scale[i] = edge__fb_vec_f32(fb, &sv, (uint32_t)i);
		zp[i] = edge__fb_vec_i64(fb, &zv, (uint32_t)i);
		if (!isfinite(scale[i]) || !(scale[i] > 0.0f))
			return fail(ld, EDGE_INFER_EQUANT, -1, ti,
				    "tensor %d (%s): scale[%d] = %g is not a finite positive number",
				    ti, t->name, i, (double)scale[i]);
		if (!check_zero_point(t->type, zp[i]))
			return fail(ld, EDGE_INFER_EQUANT, -1, ti,
				    "tensor %d (%s): zero_point[%d] = %lld out of range for %s", ti,
				    t->name, i, (long long)zp[i], edge__tfl_type_name(t->type));
	}
	t->scale = scale;
	t->zero_point = zp;
	t->n_quant = n;
	t->quant_dim = qdim;
	return 0;
}

static int load_tensor(struct loader *ld, int ti)
{
	edge__fb *fb = &ld->fb;
	edge_tensor *t = &ld->m->tensors[ti];
	edge__fb_table tt, sp;
	edge__fb_vec shape;
	uint8_t type, is_var;
	uint32_t buf;
	int rc, present;
	if ((rc = edge__fb_vec_table(fb, &ld->tensors_vec, (uint32_t)ti, what(ld, "tensor %d", ti),
				     &tt)) ||
	    (rc = edge__fb_string(fb, &tt, TFL_TENSOR_NAME, ld->what, &t->name)) ||
	    (rc = edge__fb_vector(fb, &tt, TFL_TENSOR_SHAPE, 4, ld->what, &shape)) ||
	    (rc = edge__fb_u8(fb, &tt, TFL_TENSOR_TYPE, 0, ld->what, &type)) ||
	    (rc = edge__fb_u32f(fb, &tt, TFL_TENSOR_BUFFER, 0, ld->what, &buf)) ||
	    (rc = edge__fb_u8(fb, &tt, TFL_TENSOR_IS_VARIABLE, 0, ld->what, &is_var)) ||
	    (rc = edge__fb_sub(fb, &tt, TFL_TENSOR_SPARSITY, ld->what, &sp, &present)))
		return at(ld, rc, -1, ti);
	if (present)
		return fail(ld, EDGE_INFER_ETYPE, -1, ti, "tensor %d (%s): sparse tensors are not supported",
			    ti, t->name);
	t->type = (int8_t)type;
	size_t esize = edge__tfl_type_size(t->type);
	if (esize == 0) {
		const char *tn = edge__tfl_type_name(t->type);
		return fail(ld, EDGE_INFER_ETYPE, -1, ti, "tensor %d (%s): type %s (%d) is not supported",
			    ti, t->name, tn ? tn : "UNKNOWN", t->type);
	}
	if (shape.n > EDGE_INFER_MODEL_MAX_RANK)
		return fail(ld, EDGE_INFER_ESHAPE, -1, ti, "tensor %d (%s): rank %u exceeds %d", ti,
			    t->name, shape.n, EDGE_INFER_MODEL_MAX_RANK);
	t->rank = (int)shape.n;
	uint64_t count = 1;
	for (int d = 0; d < t->rank; d++) {
		int32_t v = edge__fb_vec_i32(fb, &shape, (uint32_t)d);
		if (v <= 0)
			return fail(ld, EDGE_INFER_ESHAPE, -1, ti,
				    "tensor %d (%s): dimension %d is %d (must be positive)", ti,
				    t->name, d, v);
		t->dims[d] = v;
		count *= (uint64_t)v; /* < 2^31 before, v < 2^31: no overflow */
		if (count > INT32_MAX)
			return fail(ld, EDGE_INFER_ESHAPE, -1, ti,
				    "tensor %d (%s): element count exceeds 2^31 - 1", ti, t->name);
	}
	t->bytes = (size_t)(count * esize);
	t->is_variable = is_var != 0;

	if (buf >= ld->n_buffers)
		return fail(ld, EDGE_INFER_EINDEX, -1, ti,
			    "tensor %d (%s): buffer index %u out of range (%u buffers)", ti, t->name,
			    buf, ld->n_buffers);
	const struct buffer_ref *b = &ld->buffers[buf];
	if (buf != 0 && b->data) {
		if (b->size != t->bytes)
			return fail(ld, EDGE_INFER_EBUFFER, -1, ti,
				    "tensor %d (%s): buffer %u holds %llu bytes, shape needs %zu", ti,
				    t->name, buf, (unsigned long long)b->size, t->bytes);
		if (t->is_variable)
			return fail(ld, EDGE_INFER_EBUFFER, -1, ti,
				    "tensor %d (%s): variable tensor with constant data", ti, t->name);
		t->is_const = 1;
		/* Kernels read constants in place; copy when the host address
		 * is not aligned for their element loads. */
		if ((uintptr_t)b->data % esize != 0) {
			void *copy = edge__model_alloc(ld->m, t->bytes);
			if (!copy)
				return fail(ld, EDGE_INFER_ENOMEM, -1, ti, "out of memory");
			memcpy(copy, b->data, t->bytes);
			t->data = copy;
		} else {
			t->data = (void *)(uintptr_t)b->data;
		}
	}
	return load_quant(ld, ti, t, &tt);
}

/* ---- Graph inputs / outputs ------------------------------------------- */

static int load_io(struct loader *ld, int id, const char *kind, int *n_out, int *list)
{
	edge__fb_vec v;
	int rc = edge__fb_vector(&ld->fb, &ld->subgraph, id, 4, what(ld, "subgraph %s", kind), &v);
	if (rc)
		return rc;
	if (v.n == 0)
		return fail(ld, EDGE_INFER_EGRAPH, -1, -1, "model has no graph %s", kind);
	if (v.n > EDGE__MAX_IO)
		return fail(ld, EDGE_INFER_ELIMIT, -1, -1, "model has %u graph %s (limit %d)", v.n,
			    kind, EDGE__MAX_IO);
	for (uint32_t i = 0; i < v.n; i++) {
		int32_t t = edge__fb_vec_i32(&ld->fb, &v, i);
		if (t < 0 || t >= ld->m->n_tensors)
			return fail(ld, EDGE_INFER_EINDEX, -1, -1,
				    "graph %s %u is tensor %d, out of range (%d tensors)", kind, i, t,
				    ld->m->n_tensors);
		for (uint32_t j = 0; j < i; j++)
			if (list[j] == t)
				return fail(ld, EDGE_INFER_EGRAPH, -1, t,
					    "tensor %d is listed twice as a graph %s", t, kind);
		if (ld->m->tensors[t].is_const)
			return fail(ld, EDGE_INFER_EGRAPH, -1, t,
				    "graph %s %u is tensor %d, a constant", kind, i, t);
		list[i] = t;
	}
	*n_out = (int)v.n;
	return 0;
}

/* ---- Operators -------------------------------------------------------- */

static int check_range(struct loader *ld, int oi, const char *field, int v, int lo, int hi)
{
	if (v < lo || v > hi)
		return fail(ld, EDGE_INFER_EOPTIONS, oi, -1,
			    "operator %d (%s): option %s = %d out of range [%d, %d]", oi,
			    op_name(ld->m->nodes[oi].builtin), field, v, lo, hi);
	return 0;
}

/* One integer field of a builtin options table: its id and width in the
 * flatbuffer, its default, where it lands in edge_op_options (every such
 * member is an int) and the range it must lie in. */
struct opt_field {
	int id;
	enum { OPT_INT32, OPT_BYTE, OPT_BOOL } kind;
	int dflt;
	size_t offset;
	const char *name; /* NULL: any value */
	int lo, hi;
};

#define OPT(id, kind, dflt, member, name, lo, hi) \
	{ (id), (kind), (dflt), offsetof(edge_op_options, member), (name), (lo), (hi) }
#define OPT_PADDING(id, member) OPT(id, OPT_BYTE, 0, member, "padding", 0, 1)
#define OPT_ACTIVATION(id, member) \
	OPT(id, OPT_BYTE, 0, member, "fused_activation_function", 0, 5)
#define OPT_POSITIVE(id, dflt, member, name) OPT(id, OPT_INT32, dflt, member, name, 1, INT32_MAX)

static const struct opt_field conv_fields[] = {
	OPT_PADDING(0, conv.padding),
	OPT_POSITIVE(1, 0, conv.stride_w, "stride_w"),
	OPT_POSITIVE(2, 0, conv.stride_h, "stride_h"),
	OPT_ACTIVATION(3, conv.activation),
	OPT_POSITIVE(4, 1, conv.dilation_w, "dilation_w_factor"),
	OPT_POSITIVE(5, 1, conv.dilation_h, "dilation_h_factor"),
};
static const struct opt_field depthwise_fields[] = {
	OPT_PADDING(0, dw.padding),
	OPT_POSITIVE(1, 0, dw.stride_w, "stride_w"),
	OPT_POSITIVE(2, 0, dw.stride_h, "stride_h"),
	OPT_POSITIVE(3, 0, dw.depth_multiplier, "depth_multiplier"),
	OPT_ACTIVATION(4, dw.activation),
	OPT_POSITIVE(5, 1, dw.dilation_w, "dilation_w_factor"),
	OPT_POSITIVE(6, 1, dw.dilation_h, "dilation_h_factor"),
};
static const struct opt_field pool_fields[] = {
	OPT_PADDING(0, pool.padding),
	OPT_POSITIVE(1, 0, pool.stride_w, "stride_w"),
	OPT_POSITIVE(2, 0, pool.stride_h, "stride_h"),
	OPT_POSITIVE(3, 0, pool.filter_w, "filter_width"),
	OPT_POSITIVE(4, 0, pool.filter_h, "filter_height"),
	OPT_ACTIVATION(5, pool.activation),
};
static const struct opt_field fully_connected_fields[] = {
	OPT_ACTIVATION(0, fc.activation),
	OPT(1, OPT_BYTE, 0, fc.weights_format, "weights_format", 0, 1),
	OPT(2, OPT_BOOL, 0, fc.keep_num_dims, NULL, 0, 0),
	OPT(3, OPT_BOOL, 0, fc.asymmetric_quantize_inputs, NULL, 0, 0),
};
static const struct opt_field concatenation_fields[] = {
	OPT(0, OPT_INT32, 0, concat.axis, NULL, 0, 0),
	OPT_ACTIVATION(1, concat.activation),
};
static const struct opt_field arithmetic_fields[] = {
	OPT_ACTIVATION(0, arith.activation),
};
static const struct opt_field reducer_fields[] = {
	OPT(0, OPT_BOOL, 0, reduce.keep_dims, NULL, 0, 0),
};

#define LOAD_FIELDS(table) load_int_fields(ld, oi, o, (table), sizeof(table) / sizeof((table)[0]))

/* Read every field of the table (absent = default), then range-check them
 * in table order, so a given defect always gives the same error. */
static int load_int_fields(struct loader *ld, int oi, const edge__fb_table *o,
			   const struct opt_field *fields, size_t n)
{
	char *opt = (char *)&ld->m->nodes[oi].opt;
	int rc;
	for (size_t i = 0; i < n; i++) {
		const struct opt_field *f = &fields[i];
		int v;
		if (f->kind == OPT_INT32) {
			int32_t v32;
			if ((rc = edge__fb_i32(&ld->fb, o, f->id, f->dflt, ld->what, &v32)))
				return at(ld, rc, oi, -1);
			v = v32;
		} else {
			uint8_t v8;
			if ((rc = edge__fb_u8(&ld->fb, o, f->id, (uint8_t)f->dflt, ld->what, &v8)))
				return at(ld, rc, oi, -1);
			v = f->kind == OPT_BOOL ? v8 != 0 : (int8_t)v8;
		}
		memcpy(opt + f->offset, &v, sizeof v);
	}
	for (size_t i = 0; i < n; i++) {
		const struct opt_field *f = &fields[i];
		int v;
		memcpy(&v, opt + f->offset, sizeof v);
		if (f->name && (rc = check_range(ld, oi, f->name, v, f->lo, f->hi)))
			return rc;
	}
	return 0;
}

static int check_float(struct loader *ld, int oi, const char *field, float v)
{
	if (!isfinite(v))
		return fail(ld, EDGE_INFER_EOPTIONS, oi, -1, "operator %d (%s): option %s is not finite",
			    oi, op_name(ld->m->nodes[oi].builtin), field);
	return 0;
}

/* Fill node->opt from the builtin options table (absent = defaults) and
 * range-check every enum and size. */
static int load_options(struct loader *ld, int oi, int opt_type, const edge__fb_table *o)
{
	edge__fb *fb = &ld->fb;
	edge_op_node *n = &ld->m->nodes[oi];
	edge_op_options *p = &n->opt;
	int rc;
	what(ld, "operator %d options", oi);
	switch (opt_type) {
	case TFL_OPT_CONV2D:
		return LOAD_FIELDS(conv_fields);
	case TFL_OPT_DEPTHWISE_CONV2D:
		return LOAD_FIELDS(depthwise_fields);
	case TFL_OPT_POOL2D:
		return LOAD_FIELDS(pool_fields);
	case TFL_OPT_FULLY_CONNECTED:
		return LOAD_FIELDS(fully_connected_fields);
	case TFL_OPT_SOFTMAX:
		if ((rc = edge__fb_f32(fb, o, 0, 0.0f, ld->what, &p->softmax.beta)))
			return at(ld, rc, oi, -1);
		return check_float(ld, oi, "beta", p->softmax.beta);
	case TFL_OPT_CONCATENATION:
		return LOAD_FIELDS(concatenation_fields);
	case TFL_OPT_ADD:
	case TFL_OPT_SUB:
	case TFL_OPT_MUL:
		return LOAD_FIELDS(arithmetic_fields);
	case TFL_OPT_RESHAPE: {
		edge__fb_vec ns;
		if ((rc = edge__fb_vector(fb, o, 0, 4, ld->what, &ns)))
			return at(ld, rc, oi, -1);
		if (ns.n > EDGE_INFER_MODEL_MAX_RANK)
			return fail(ld, EDGE_INFER_EOPTIONS, oi, -1,
				    "operator %d (RESHAPE): new_shape has %u entries (max %d)", oi,
				    ns.n, EDGE_INFER_MODEL_MAX_RANK);
		p->reshape.n_new_shape = (int)ns.n;
		for (uint32_t i = 0; i < ns.n; i++)
			p->reshape.new_shape[i] = edge__fb_vec_i32(fb, &ns, i);
		return 0;
	}
	case TFL_OPT_REDUCER:
		return LOAD_FIELDS(reducer_fields);
	case TFL_OPT_LEAKY_RELU:
		if ((rc = edge__fb_f32(fb, o, 0, 0.0f, ld->what, &p->leaky_relu.alpha)))
			return at(ld, rc, oi, -1);
		return check_float(ld, oi, "alpha", p->leaky_relu.alpha);
	default:
		return 0; /* option tables without fields */
	}
}

/* First pass over operators: opcode index and a supported builtin, so an
 * unsupported model is refused by the operator's name before anything
 * else about it is judged. */
static int check_operator_codes(struct loader *ld)
{
	edge__fb *fb = &ld->fb;
	struct edge_infer_model *m = ld->m;
	for (int oi = 0; oi < m->n_ops; oi++) {
		edge__fb_table ot;
		uint32_t opcode;
		int rc;
		if ((rc = edge__fb_vec_table(fb, &ld->ops_vec, (uint32_t)oi, what(ld, "operator %d", oi),
					     &ot)) ||
		    (rc = edge__fb_u32f(fb, &ot, TFL_OP_OPCODE_INDEX, 0, ld->what, &opcode)))
			return at(ld, rc, oi, -1);
		if (opcode >= ld->n_opcodes)
			return fail(ld, EDGE_INFER_EINDEX, oi, -1,
				    "operator %d: opcode index %u out of range (%u operator codes)", oi,
				    opcode, ld->n_opcodes);
		int b = ld->opcode_builtin[opcode];
		m->nodes[oi].builtin = b;
		m->nodes[oi].index = oi;
		if (b == TFL_BUILTIN_CUSTOM)
			return fail(ld, EDGE_INFER_EUNSUPPORTED, oi, -1,
				    "operator %d: custom operator \"%s\" is not supported", oi,
				    ld->opcode_custom[opcode]);
		const char *name = edge__tfl_op_name(b);
		if (!name)
			return fail(ld, EDGE_INFER_EUNSUPPORTED, oi, -1,
				    "operator %d: unknown builtin operator code %d", oi, b);
		const edge_op_kernel *k = edge_op_kernel_find(b);
		if (!edge__tfl_op_shape(b) || !k || !k->eval)
			return fail(ld, EDGE_INFER_EUNSUPPORTED, oi, -1,
				    "operator %d: %s is not supported", oi, name);
	}
	return 0;
}

static int load_op_tensors(struct loader *ld, int oi, const edge__fb_table *ot,
			   const struct edge__tfl_op_shape *shape)
{
	edge__fb *fb = &ld->fb;
	struct edge_infer_model *m = ld->m;
	edge_op_node *n = &m->nodes[oi];
	edge__op_io *io = &m->io[oi];
	const char *name = op_name(n->builtin);
	edge__fb_vec iv, ov;
	int rc;
	if ((rc = edge__fb_vector(fb, ot, TFL_OP_INPUTS, 4, what(ld, "operator %d inputs", oi), &iv)) ||
	    (rc = edge__fb_vector(fb, ot, TFL_OP_OUTPUTS, 4, what(ld, "operator %d outputs", oi),
				  &ov)))
		return at(ld, rc, oi, -1);
	if ((int64_t)iv.n < shape->min_inputs || (int64_t)iv.n > shape->max_inputs)
		return fail(ld, EDGE_INFER_EOP, oi, -1, "operator %d (%s): %u inputs, expects %d to %d",
			    oi, name, iv.n, shape->min_inputs, shape->max_inputs);
	if ((int64_t)ov.n != shape->n_outputs)
		return fail(ld, EDGE_INFER_EOP, oi, -1, "operator %d (%s): %u outputs, expects %d", oi,
			    name, ov.n, shape->n_outputs);
	n->n_inputs = (int)iv.n;
	n->n_outputs = (int)ov.n;
	for (int i = 0; i < n->n_inputs; i++) {
		int32_t t = edge__fb_vec_i32(fb, &iv, (uint32_t)i);
		io->in[i] = t;
		if (t == -1 && (shape->optional_inputs >> i & 1u)) {
			n->inputs[i] = NULL;
			continue;
		}
		if (t < 0 || t >= m->n_tensors)
			return fail(ld, EDGE_INFER_EINDEX, oi, -1,
				    "operator %d (%s): input %d is tensor %d, out of range (%d tensors)",
				    oi, name, i, t, m->n_tensors);
		n->inputs[i] = &m->tensors[t];
	}
	for (int i = 0; i < n->n_outputs; i++) {
		int32_t t = edge__fb_vec_i32(fb, &ov, (uint32_t)i);
		io->out[i] = t;
		if (t < 0 || t >= m->n_tensors)
			return fail(ld, EDGE_INFER_EINDEX, oi, -1,
				    "operator %d (%s): output %d is tensor %d, out of range (%d tensors)",
				    oi, name, i, t, m->n_tensors);
		n->outputs[i] = &m->tensors[t];
	}
	return 0;
}

static int load_operator(struct loader *ld, int oi)
{
	edge__fb *fb = &ld->fb;
	struct edge_infer_model *m = ld->m;
	edge_op_node *n = &m->nodes[oi];
	const struct edge__tfl_op_shape *shape = edge__tfl_op_shape(n->builtin);
	edge__fb_table ot, opts;
	uint8_t opt_type;
	int rc, present;
	if ((rc = edge__fb_vec_table(fb, &ld->ops_vec, (uint32_t)oi, what(ld, "operator %d", oi), &ot)))
		return at(ld, rc, oi, -1);
	if ((rc = load_op_tensors(ld, oi, &ot, shape)))
		return rc;
	if ((rc = edge__fb_u8(fb, &ot, TFL_OP_OPTIONS_TYPE, 0, what(ld, "operator %d options", oi),
			      &opt_type)) ||
	    (rc = edge__fb_sub(fb, &ot, TFL_OP_OPTIONS, ld->what, &opts, &present)))
		return at(ld, rc, oi, -1);
	if (opt_type != TFL_OPT_NONE && opt_type != shape->options_type)
		return fail(ld, EDGE_INFER_EOPTIONS, oi, -1,
			    "operator %d (%s): builtin options of type %u, expected %d", oi,
			    op_name(n->builtin), opt_type, shape->options_type);
	if (opt_type != TFL_OPT_NONE && !present)
		return fail(ld, EDGE_INFER_EOPTIONS, oi, -1,
			    "operator %d (%s): builtin options type set but table missing", oi,
			    op_name(n->builtin));
	/* Absent options read as defaults from an empty table. */
	if (opt_type == TFL_OPT_NONE) {
		memset(&opts, 0, sizeof opts);
		opts.vt_len = 4;
		opts.obj_len = 4;
	}
	return load_options(ld, oi, shape->options_type, &opts);
}

/* ---- Dataflow --------------------------------------------------------- */

/* Whether op `from` reaches op `to` through producer edges (iterative DFS
 * over the ops `to` depends on). Used only to name a cycle precisely. */
static int depends_on(struct loader *ld, int to, int from, char *seen, int *stack)
{
	struct edge_infer_model *m = ld->m;
	memset(seen, 0, (size_t)m->n_ops);
	int sp = 0;
	stack[sp++] = from;
	seen[from] = 1;
	while (sp > 0) {
		int op = stack[--sp];
		for (int i = 0; i < m->nodes[op].n_inputs; i++) {
			int t = m->io[op].in[i];
			if (t < 0 || ld->producer[t] < 0)
				continue;
			int p = ld->producer[t];
			if (p == to)
				return 1;
			if (!seen[p]) {
				seen[p] = 1;
				stack[sp++] = p;
			}
		}
	}
	return 0;
}

static int check_dataflow(struct loader *ld)
{
	struct edge_infer_model *m = ld->m;
	int rc = 0;
	char *defined = calloc((size_t)m->n_tensors, 1);
	char *seen = calloc((size_t)m->n_ops + 1, 1);
	int *stack = calloc((size_t)m->n_ops + 1, sizeof *stack);
	ld->producer = malloc((size_t)m->n_tensors * sizeof *ld->producer);
	if (!defined || !seen || !stack || !ld->producer) {
		rc = fail(ld, EDGE_INFER_ENOMEM, -1, -1, "out of memory");
		goto out;
	}
	for (int t = 0; t < m->n_tensors; t++) {
		ld->producer[t] = -1;
		defined[t] = m->tensors[t].is_const || m->tensors[t].is_variable;
	}
	for (int i = 0; i < m->n_inputs; i++)
		defined[m->inputs[i]] = 1;

	for (int oi = 0; oi < m->n_ops; oi++) {
		const edge_op_node *n = &m->nodes[oi];
		const char *name = op_name(n->builtin);
		for (int o = 0; o < n->n_outputs; o++) {
			int t = m->io[oi].out[o];
			for (int i = 0; i < n->n_inputs; i++)
				if (m->io[oi].in[i] == t) {
					rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
						  "operator %d (%s): output tensor %d is also its input %d",
						  oi, name, t, i);
					goto out;
				}
			for (int o2 = 0; o2 < o; o2++)
				if (m->io[oi].out[o2] == t) {
					rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
						  "operator %d (%s): tensor %d is listed twice as output",
						  oi, name, t);
					goto out;
				}
			if (ld->producer[t] >= 0) {
				rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
					  "tensor %d is produced twice: by operator %d and operator %d", t,
					  ld->producer[t], oi);
				goto out;
			}
			if (defined[t]) {
				rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
					  "operator %d (%s): output tensor %d is a %s", oi, name, t,
					  m->tensors[t].is_const ? "constant"
					  : m->tensors[t].is_variable ? "variable tensor"
								     : "graph input");
				goto out;
			}
			ld->producer[t] = oi;
		}
	}
	/* Execution order is the operator order: every input must exist
	 * before its operator runs. */
	for (int oi = 0; oi < m->n_ops; oi++) {
		const edge_op_node *n = &m->nodes[oi];
		const char *name = op_name(n->builtin);
		for (int i = 0; i < n->n_inputs; i++) {
			int t = m->io[oi].in[i];
			if (t < 0 || defined[t])
				continue;
			int p = ld->producer[t];
			if (p < 0)
				rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
					  "operator %d (%s): input %d (tensor %d) is never defined", oi,
					  name, i, t);
			else if (depends_on(ld, oi, p, seen, stack))
				rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
					  "operators %d and %d form a cycle through tensor %d", oi, p, t);
			else
				rc = fail(ld, EDGE_INFER_EGRAPH, oi, t,
					  "operator %d (%s): input %d (tensor %d) is used before operator %d defines it",
					  oi, name, i, t, p);
			goto out;
		}
		for (int o = 0; o < n->n_outputs; o++)
			defined[m->io[oi].out[o]] = 1;
	}
	for (int i = 0; i < m->n_outputs; i++) {
		int t = m->outputs[i];
		if (!defined[t] || m->tensors[t].is_variable) {
			rc = fail(ld, EDGE_INFER_EGRAPH, -1, t,
				  "graph output %d (tensor %d) is never produced", i, t);
			goto out;
		}
	}
out:
	free(defined);
	free(seen);
	free(stack);
	return rc;
}

/* ---- Prepare ---------------------------------------------------------- */

static void *prep_alloc(edge_prep_ctx *ctx, size_t bytes)
{
	return edge__model_alloc(ctx->alloc_state, bytes);
}

static int prepare_ops(struct loader *ld)
{
	struct edge_infer_model *m = ld->m;
	char msg[200];
	for (int oi = 0; oi < m->n_ops; oi++) {
		edge_op_node *n = &m->nodes[oi];
		const edge_op_kernel *k = edge_op_kernel_find(n->builtin);
		edge_prep_ctx ctx = {
			.alloc = prep_alloc, .alloc_state = m, .err = msg, .err_len = sizeof msg,
		};
		msg[0] = 0;
		int rc = k->prepare ? k->prepare(n, &ctx) : 0;
		if (rc != 0) {
			/* Pass the engine's own codes through; anything else
			 * (a stray errno) becomes an operator constraint. */
			if (rc == -ENOMEM)
				rc = EDGE_INFER_ENOMEM;
			else if (rc >= -EDGE_INFER_EBASE || rc <= EDGE_INFER_ELAST)
				rc = EDGE_INFER_EOP;
			return fail(ld, rc, oi, -1, "operator %d (%s): %s", oi, op_name(n->builtin),
				    msg[0] ? msg : edge_infer_strerror(rc));
		}
#ifdef EDGE_INFER_HAVE_OPT
		/* The reference scratch is planned unconditionally; what the
		 * optimised kernel wants beyond it only where it fits (plan.c). */
		size_t ref_scratch = n->scratch_bytes;
		rc = edge_opt_prepare(n, &ctx);
		if (rc != 0)
			return fail(ld, EDGE_INFER_ENOMEM, oi, -1,
				    "operator %d (%s): optimised kernel preparation failed (%d)", oi,
				    op_name(n->builtin), rc);
		if (n->scratch_bytes > ref_scratch)
			m->opt_scratch[oi] = n->scratch_bytes;
		n->scratch_bytes = ref_scratch;
#endif
		if (m->macs + n->macs < m->macs)
			m->macs = UINT64_MAX;
		else
			m->macs += n->macs;
		if (ld->opt && ld->opt->max_persistent_bytes &&
		    m->persistent_bytes > ld->opt->max_persistent_bytes)
			return fail(ld, EDGE_INFER_ELIMIT, oi, -1,
				    "persistent memory %zu bytes exceeds the limit of %zu",
				    m->persistent_bytes, ld->opt->max_persistent_bytes);
	}
	return 0;
}

/* ---- Entry point ------------------------------------------------------ */

static int load(struct loader *ld)
{
	edge__fb *fb = &ld->fb;
	struct edge_infer_model *m = ld->m;
	edge__fb_table root;
	edge__fb_vec subgraphs;
	uint32_t version;
	int rc;
	if ((rc = edge__fb_root(fb, "TFL3", &root)) ||
	    (rc = edge__fb_u32f(fb, &root, TFL_MODEL_VERSION, 0, "model version", &version)))
		return rc;
	if (version != 3)
		return fail(ld, EDGE_INFER_EVERSION, -1, -1, "schema version %u, expected 3", version);
	if ((rc = edge__fb_string(fb, &root, TFL_MODEL_DESCRIPTION, "model description",
				  &m->description)) ||
	    (rc = load_buffers(ld, &root)) || (rc = load_opcodes(ld, &root)) ||
	    (rc = edge__fb_vector(fb, &root, TFL_MODEL_SUBGRAPHS, 4, "model subgraphs", &subgraphs)))
		return rc;
	/* Only the first (main) subgraph runs; others could only be reached
	 * through control-flow operators, which are refused as unsupported. */
	if (subgraphs.n == 0)
		return fail(ld, EDGE_INFER_ESUBGRAPH, -1, -1, "model has no subgraph");
	if ((rc = edge__fb_vec_table(fb, &subgraphs, 0, "subgraph 0", &ld->subgraph)) ||
	    (rc = edge__fb_vector(fb, &ld->subgraph, TFL_SUBGRAPH_TENSORS, 4, "subgraph tensors",
				  &ld->tensors_vec)) ||
	    (rc = edge__fb_vector(fb, &ld->subgraph, TFL_SUBGRAPH_OPERATORS, 4,
				  "subgraph operators", &ld->ops_vec)))
		return rc;
	if (ld->tensors_vec.n > EDGE__MAX_TENSORS)
		return fail(ld, EDGE_INFER_ELIMIT, -1, -1, "model has %u tensors (limit %d)",
			    ld->tensors_vec.n, EDGE__MAX_TENSORS);
	if (ld->ops_vec.n > EDGE__MAX_OPS)
		return fail(ld, EDGE_INFER_ELIMIT, -1, -1, "model has %u operators (limit %d)",
			    ld->ops_vec.n, EDGE__MAX_OPS);
	if (ld->ops_vec.n == 0)
		return fail(ld, EDGE_INFER_EGRAPH, -1, -1, "model has no operators");
	m->n_tensors = (int)ld->tensors_vec.n;
	m->n_ops = (int)ld->ops_vec.n;
	m->tensors = calloc((size_t)m->n_tensors + 1, sizeof *m->tensors);
	m->arena_offset = calloc((size_t)m->n_tensors + 1, sizeof *m->arena_offset);
	m->nodes = calloc((size_t)m->n_ops, sizeof *m->nodes);
	m->io = calloc((size_t)m->n_ops, sizeof *m->io);
	m->scratch_offset = calloc((size_t)m->n_ops, sizeof *m->scratch_offset);
	m->opt_scratch = calloc((size_t)m->n_ops, sizeof *m->opt_scratch);
	if (!m->tensors || !m->arena_offset || !m->nodes || !m->io || !m->scratch_offset ||
	    !m->opt_scratch)
		return fail(ld, EDGE_INFER_ENOMEM, -1, -1, "out of memory for the graph");

	if ((rc = check_operator_codes(ld)))
		return rc;
	for (int t = 0; t < m->n_tensors; t++)
		if ((rc = load_tensor(ld, t)))
			return rc;
	if ((rc = load_io(ld, TFL_SUBGRAPH_INPUTS, "inputs", &m->n_inputs, m->inputs)) ||
	    (rc = load_io(ld, TFL_SUBGRAPH_OUTPUTS, "outputs", &m->n_outputs, m->outputs)))
		return rc;
	for (int oi = 0; oi < m->n_ops; oi++)
		if ((rc = load_operator(ld, oi)))
			return rc;
	if ((rc = check_dataflow(ld)) || (rc = prepare_ops(ld)) || (rc = edge__plan(m, ld->err)))
		return rc;
	if (ld->opt && ld->opt->max_arena_bytes && m->arena_bytes > ld->opt->max_arena_bytes)
		return fail(ld, EDGE_INFER_ELIMIT, -1, -1, "arena of %zu bytes exceeds the limit of %zu",
			    m->arena_bytes, ld->opt->max_arena_bytes);
	return 0;
}

int edge_infer_model_load(const void *bytes, size_t len, const struct edge_infer_load_options *opt,
			  edge_infer_model **out, struct edge_infer_error *err)
{
	struct edge_infer_error local;
	if (!err)
		err = &local;
	memset(err, 0, sizeof *err);
	err->op_index = -1;
	err->tensor_index = -1;
	if (out)
		*out = NULL;
	if (!bytes || !out) {
		err->code = EDGE_INFER_EINVAL;
		snprintf(err->msg, sizeof err->msg, "no model bytes or no result pointer");
		return err->code;
	}
	struct edge_infer_model *m = calloc(1, sizeof *m);
	if (!m) {
		err->code = EDGE_INFER_ENOMEM;
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return err->code;
	}
	m->bytes = bytes;
	m->len = len;
	m->description = "";
	m->max_macs = opt ? opt->max_macs : 0;
	struct loader ld = {
		.fb = {.base = bytes, .len = len, .err = err},
		.err = err,
		.m = m,
		.opt = opt,
	};
	int rc = load(&ld);
	free(ld.buffers);
	free(ld.opcode_builtin);
	free(ld.opcode_custom);
	free(ld.producer);
	if (rc) {
		if (err->code == 0) {
			err->code = rc;
			snprintf(err->msg, sizeof err->msg, "%s", edge_infer_strerror(rc));
		}
		edge_infer_model_free(m);
		return err->code;
	}
	*out = m;
	return 0;
}

void edge_infer_model_free(edge_infer_model *m)
{
	if (!m)
		return;
	struct edge__persist *p = m->persist;
	while (p) {
		struct edge__persist *next = p->next;
		free(p);
		p = next;
	}
	free(m->tensors);
	free(m->arena_offset);
	free(m->nodes);
	free(m->io);
	free(m->scratch_offset);
	free(m->opt_scratch);
	free(m);
}
