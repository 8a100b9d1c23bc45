/* Shared prepare() helpers of the operators (see op_common.h). */
#include "op_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fixedpoint.h"

const char *edge__op_name(const edge_op_node *node)
{
	const edge_op_kernel *k = edge_op_kernel_find(node->builtin);
	return k ? k->name : "operator";
}

int edge__op_fail(edge_prep_ctx *ctx, const edge_op_node *node, int code,
		  const char *fmt, ...)
{
	if (ctx && ctx->err && ctx->err_len > 0) {
		int n = snprintf(ctx->err, ctx->err_len, "%s: ", edge__op_name(node));
		if (n >= 0 && (size_t)n < ctx->err_len) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(ctx->err + n, ctx->err_len - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return code;
}

void *edge__op_alloc(edge_prep_ctx *ctx, size_t bytes)
{
	if (!ctx || !ctx->alloc)
		return NULL;
	return ctx->alloc(ctx, bytes);
}

size_t edge__type_size(int type)
{
	switch (type) {
	case EDGE_TT_FLOAT32: return 4;
	case EDGE_TT_INT32: return 4;
	case EDGE_TT_UINT8: return 1;
	case EDGE_TT_INT64: return 8;
	case EDGE_TT_BOOL: return 1;
	case EDGE_TT_INT16: return 2;
	case EDGE_TT_INT8: return 1;
	default: return 0;
	}
}

const char *edge__type_str(int type)
{
	switch (type) {
	case EDGE_TT_FLOAT32: return "FLOAT32";
	case EDGE_TT_INT32: return "INT32";
	case EDGE_TT_UINT8: return "UINT8";
	case EDGE_TT_INT64: return "INT64";
	case EDGE_TT_BOOL: return "BOOL";
	case EDGE_TT_INT16: return "INT16";
	case EDGE_TT_INT8: return "INT8";
	default: return "UNKNOWN";
	}
}

int64_t edge__elements(const edge_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++) {
		if (t->dims[i] < 0)
			return -1;
		n *= t->dims[i];
		if (n > INT32_MAX)
			return -1;
	}
	return n;
}

int32_t edge__dim_from_end(const edge_tensor *t, int i)
{
	return i < t->rank ? t->dims[t->rank - 1 - i] : 1;
}

int edge__same_shape(const edge_tensor *a, const edge_tensor *b)
{
	if (a->rank != b->rank)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return 0;
	return 1;
}

float edge__scale(const edge_tensor *t)
{
	return t->n_quant >= 1 && t->scale ? t->scale[0] : 0.0f;
}

int32_t edge__zp(const edge_tensor *t)
{
	return t->n_quant >= 1 && t->zero_point ? (int32_t)t->zero_point[0] : 0;
}

static const char *tensor_label(const edge_tensor *t)
{
	return t && t->name ? t->name : "";
}

int edge__check_io_count(edge_prep_ctx *ctx, const edge_op_node *node,
			 int min_in, int max_in, int n_out)
{
	if (node->n_inputs < min_in || node->n_inputs > max_in) {
		if (min_in == max_in)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "expects %d inputs, has %d", min_in, node->n_inputs);
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "expects %d to %d inputs, has %d", min_in, max_in,
				     node->n_inputs);
	}
	if (node->n_outputs != n_out)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "expects %d output(s), has %d",
				     n_out, node->n_outputs);
	if (n_out > 0 && !node->outputs[0])
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "output 0 is missing");
	return 0;
}

int edge__check_present(edge_prep_ctx *ctx, const edge_op_node *node,
			const edge_tensor *t, const char *role)
{
	if (!t)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "%s is missing", role);
	return 0;
}

int edge__check_type(edge_prep_ctx *ctx, const edge_op_node *node,
		     const edge_tensor *t, const char *role, int type)
{
	if (t->type != type)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "%s '%s' has type %s, expected %s", role, tensor_label(t),
				     edge__type_str(t->type), edge__type_str(type));
	return 0;
}

int edge__check_rank(edge_prep_ctx *ctx, const edge_op_node *node,
		     const edge_tensor *t, const char *role, int min_rank, int max_rank)
{
	if (t->rank < min_rank || t->rank > max_rank) {
		if (min_rank == max_rank)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "%s '%s' has rank %d, expected %d", role,
					     tensor_label(t), t->rank, min_rank);
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "%s '%s' has rank %d, expected %d to %d", role,
				     tensor_label(t), t->rank, min_rank, max_rank);
	}
	for (int i = 0; i < t->rank; i++)
		if (t->dims[i] < 0)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "%s '%s' has negative dim %d", role,
					     tensor_label(t), i);
	return 0;
}

static void type_range(int type, int64_t *lo, int64_t *hi)
{
	switch (type) {
	case EDGE_TT_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
	case EDGE_TT_UINT8: *lo = 0; *hi = UINT8_MAX; break;
	case EDGE_TT_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
	default: *lo = INT32_MIN; *hi = INT32_MAX; break;
	}
}

int edge__check_quant(edge_prep_ctx *ctx, const edge_op_node *node,
		      const edge_tensor *t, const char *role)
{
	if (t->n_quant < 1 || !t->scale || !t->zero_point)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "%s '%s' has no quantization parameters", role,
				     tensor_label(t));
	float s = t->scale[0];
	if (!(s > 0.0f) || !isfinite(s))
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "%s '%s' scale %g is not a positive finite number", role,
				     tensor_label(t), (double)s);
	int64_t lo, hi;
	type_range(t->type, &lo, &hi);
	if (t->zero_point[0] < lo || t->zero_point[0] > hi)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "%s '%s' zero point %lld is outside the %s range", role,
				     tensor_label(t), (long long)t->zero_point[0],
				     edge__type_str(t->type));
	return 0;
}

int edge__check_const(edge_prep_ctx *ctx, const edge_op_node *node,
		      const edge_tensor *t, const char *role)
{
	if (!t->is_const || !t->data)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "%s '%s' must be a constant tensor", role, tensor_label(t));
	return 0;
}

int edge__check_elements(edge_prep_ctx *ctx, const edge_op_node *node,
			 const edge_tensor *t, const char *role, int32_t *n)
{
	int64_t e = edge__elements(t);
	if (e < 0)
		return edge__op_fail(ctx, node, EDGE_INFER_ESHAPE,
				     "%s '%s' element count overflows", role, tensor_label(t));
	*n = (int32_t)e;
	return 0;
}

/* zp + (int32)round(f / scale), the division in float; values beyond the
 * int32 range (where the original's cast is undefined) saturate, which the
 * caller's clamp to the type's range makes exact. */
static int64_t quantize_value(float f, float scale, int32_t zp)
{
	float r = roundf(f / scale);
	if (r != r)
		return zp;
	if (r > 4e9f)
		return (int64_t)4e9;
	if (r < -4e9f)
		return -(int64_t)4e9;
	return (int64_t)zp + (int64_t)r;
}

int edge__activation_range(edge_prep_ctx *ctx, const edge_op_node *node,
			   int activation, const edge_tensor *output,
			   int32_t *act_min, int32_t *act_max)
{
	int64_t lo, hi;
	type_range(output->type, &lo, &hi);
	float scale = edge__scale(output);
	int32_t zp = edge__zp(output);
	int64_t amin = lo, amax = hi;
	switch (activation) {
	case EDGE_ACT_NONE:
		break;
	case EDGE_ACT_RELU:
		amin = quantize_value(0.0f, scale, zp);
		break;
	case EDGE_ACT_RELU6:
		amin = quantize_value(0.0f, scale, zp);
		amax = quantize_value(6.0f, scale, zp);
		break;
	case EDGE_ACT_RELU_N1_TO_1:
		amin = quantize_value(-1.0f, scale, zp);
		amax = quantize_value(1.0f, scale, zp);
		break;
	default:
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "fused activation %d is not supported on quantized outputs",
				     activation);
	}
	/* max(qmin, q(low)), min(qmax, q(high)) */
	*act_min = (int32_t)(amin > lo ? amin : lo);
	*act_max = (int32_t)(amax < hi ? amax : hi);
	return 0;
}

int edge__quantize_multiplier(edge_prep_ctx *ctx, const edge_op_node *node, double m,
			      const char *what, int32_t *multiplier, int *shift)
{
	if (edge_quantize_multiplier(m, multiplier, shift) != 0)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "%s multiplier %g cannot be represented", what, m);
	return 0;
}

int edge__quantize_multiplier_smaller_than_one(edge_prep_ctx *ctx,
					       const edge_op_node *node, double m,
					       const char *what, int32_t *multiplier,
					       int *shift)
{
	if (!(m > 0.0 && m < 1.0))
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "%s multiplier %g must be in (0, 1)", what, m);
	int rc = edge__quantize_multiplier(ctx, node, m, what, multiplier, shift);
	if (rc)
		return rc;
	if (*shift > 0)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "%s multiplier %g rounds up to 1", what, m);
	return 0;
}

void edge__window_axis(int padding, int in, int k, int stride, int dilation,
		       int32_t *out, int32_t *pad_before, int32_t *pad_after)
{
	int64_t eff = (int64_t)(k - 1) * dilation + 1;
	int64_t o;
	if (padding == EDGE_PAD_SAME)
		o = ((int64_t)in + stride - 1) / stride;
	else
		o = ((int64_t)in + stride - eff) / stride;
	int64_t total = (o - 1) * stride + eff - in;
	if (total < 0)
		total = 0;
	*out = (int32_t)o;
	*pad_before = (int32_t)(total / 2);
	*pad_after = (int32_t)(total - total / 2);
}

int edge__window_prepare(edge_prep_ctx *ctx, const edge_op_node *node,
			 const edge_tensor *input, const edge_tensor *output,
			 int padding, int k_h, int k_w, int stride_h, int stride_w,
			 int dil_h, int dil_w, edge_window_prep *g)
{
	int rc;
	if ((rc = edge__check_rank(ctx, node, input, "input", 4, 4)) ||
	    (rc = edge__check_rank(ctx, node, output, "output", 4, 4)))
		return rc;
	if (padding != EDGE_PAD_SAME && padding != EDGE_PAD_VALID)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS, "padding %d is unknown",
				     padding);
	if (k_h < 1 || k_w < 1 || stride_h < 1 || stride_w < 1 || dil_h < 1 || dil_w < 1)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "window %dx%d, stride %dx%d, dilation %dx%d: all must be >= 1",
				     k_h, k_w, stride_h, stride_w, dil_h, dil_w);
	/* Bound the geometry so that index arithmetic stays inside int32. */
	const int32_t lim = 1 << 24;
	if (k_h > lim || k_w > lim || stride_h > lim || stride_w > lim || dil_h > 4096 ||
	    dil_w > 4096 || (int64_t)(k_h - 1) * dil_h >= lim || (int64_t)(k_w - 1) * dil_w >= lim)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "window/stride/dilation too large");
	if (input->dims[0] != output->dims[0])
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output batch %d differs from input batch %d",
				     output->dims[0], input->dims[0]);
	g->batches = input->dims[0];
	g->in_h = input->dims[1];
	g->in_w = input->dims[2];
	g->in_c = input->dims[3];
	g->out_h = output->dims[1];
	g->out_w = output->dims[2];
	g->out_c = output->dims[3];
	g->k_h = k_h;
	g->k_w = k_w;
	g->stride_h = stride_h;
	g->stride_w = stride_w;
	g->dil_h = dil_h;
	g->dil_w = dil_w;
	int32_t comp_h, comp_w, after_h, after_w;
	edge__window_axis(padding, g->in_h, k_h, stride_h, dil_h, &comp_h, &g->pad_top, &after_h);
	edge__window_axis(padding, g->in_w, k_w, stride_w, dil_w, &comp_w, &g->pad_left, &after_w);
	if (g->out_h < 1 || g->out_w < 1 || g->out_c < 1)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output dims %dx%dx%d must be positive (computed %dx%d)",
				     g->out_h, g->out_w, g->out_c, comp_h, comp_w);
	if ((int64_t)g->out_h * stride_h > lim || (int64_t)g->out_w * stride_w > lim)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "output too large for its stride");
	/* TFLM loops over the declared output, which may exceed the computed
	 * one by a row/column (positions outside the input are skipped). */
	if (g->out_h > comp_h + 1 || g->out_w > comp_w + 1 || comp_h < 1 || comp_w < 1)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "declared output %dx%d does not match the computed %dx%d",
				     g->out_h, g->out_w, comp_h, comp_w);
	/* Reach of the last window past the input, for kernels that pre-pad. */
	int64_t reach_h = (int64_t)(g->out_h - 1) * stride_h - g->pad_top +
			  (int64_t)(k_h - 1) * dil_h + 1 - g->in_h;
	int64_t reach_w = (int64_t)(g->out_w - 1) * stride_w - g->pad_left +
			  (int64_t)(k_w - 1) * dil_w + 1 - g->in_w;
	g->pad_bottom = reach_h > 0 ? (int32_t)reach_h : 0;
	g->pad_right = reach_w > 0 ? (int32_t)reach_w : 0;
	(void)after_h;
	(void)after_w;
	return 0;
}

int edge__broadcast_prepare(edge_prep_ctx *ctx, const edge_op_node *node,
			    edge_bcast_prep *bc)
{
	const edge_tensor *in1 = node->inputs[0], *in2 = node->inputs[1];
	const edge_tensor *out = node->outputs[0];
	int rc;
	if ((rc = edge__check_rank(ctx, node, in1, "input 0", 0, EDGE_BCAST_RANK)) ||
	    (rc = edge__check_rank(ctx, node, in2, "input 1", 0, EDGE_BCAST_RANK)) ||
	    (rc = edge__check_rank(ctx, node, out, "output", 0, EDGE_BCAST_RANK)))
		return rc;
	int32_t n;
	if ((rc = edge__check_elements(ctx, node, out, "output", &n)))
		return rc;
	memset(bc, 0, sizeof(*bc));
	bc->n = n;
	bc->broadcast = !edge__same_shape(in1, in2);
	int64_t s1 = 1, s2 = 1;
	for (int i = 0; i < EDGE_BCAST_RANK; i++) {
		int d = EDGE_BCAST_RANK - 1 - i;
		int32_t a = edge__dim_from_end(in1, i), b = edge__dim_from_end(in2, i);
		int32_t o = edge__dim_from_end(out, i);
		if (a != b && a != 1 && b != 1)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "input shapes do not broadcast (dim %d from the end: %d vs %d)",
					     i, a, b);
		int32_t want = a == 1 ? b : a;
		if (o != want)
			return edge__op_fail(ctx, node, EDGE_INFER_EOP,
					     "output dim %d from the end is %d, broadcasting gives %d",
					     i, o, want);
		bc->out_dims[d] = o;
		bc->in_stride[0][d] = a == 1 ? 0 : (int32_t)s1;
		bc->in_stride[1][d] = b == 1 ? 0 : (int32_t)s2;
		s1 *= a;
		s2 *= b;
	}
	if (out->rank < in1->rank || out->rank < in2->rank)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output rank %d is below an input rank", out->rank);
	/* A zero dim gives zero elements: keep the offsets arithmetic well defined. */
	for (int d = 0; d < EDGE_BCAST_RANK; d++)
		if (bc->out_dims[d] == 0)
			bc->n = 0;
	return 0;
}

int edge__binary_prepare(edge_prep_ctx *ctx, edge_op_node *node, int quantized,
			 size_t prep_size, void **prep)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 2, 1)))
		return rc;
	edge_tensor *in1 = node->inputs[0], *in2 = node->inputs[1], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, in1, "input 0")) ||
	    (rc = edge__check_present(ctx, node, in2, "input 1")) ||
	    (rc = edge__check_type(ctx, node, in1, "input 0", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, in2, "input 1", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)))
		return rc;
	if (quantized &&
	    ((rc = edge__check_quant(ctx, node, in1, "input 0")) ||
	     (rc = edge__check_quant(ctx, node, in2, "input 1")) ||
	     (rc = edge__check_quant(ctx, node, output, "output"))))
		return rc;
	edge_bcast_prep *bc = edge__op_alloc(ctx, prep_size);
	if (!bc)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	if ((rc = edge__broadcast_prepare(ctx, node, bc)))
		return rc;
	node->macs = (uint64_t)bc->n;
	*prep = bc;
	return 0;
}

int edge__check_int8_in_out(edge_prep_ctx *ctx, const edge_op_node *node)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 1, 1)))
		return rc;
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)))
		return rc;
	return 0;
}

int edge__unary_prepare(edge_prep_ctx *ctx, edge_op_node *node, int output_quantized,
			size_t prep_size, void **prep, int32_t *n)
{
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	int rc;
	if ((rc = edge__check_int8_in_out(ctx, node)) ||
	    (rc = edge__check_quant(ctx, node, input, "input")))
		return rc;
	if (output_quantized && (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	return edge__elementwise_alloc(ctx, node, prep_size, prep, n);
}

int edge__elementwise_alloc(edge_prep_ctx *ctx, edge_op_node *node, size_t prep_size,
			    void **prep, int32_t *n)
{
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	void *p = edge__op_alloc(ctx, prep_size);
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int rc;
	int32_t n_in, n_out;
	if ((rc = edge__check_elements(ctx, node, input, "input", &n_in)) ||
	    (rc = edge__check_elements(ctx, node, output, "output", &n_out)))
		return rc;
	if (n_out != n_in)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output has %d elements, input %d", n_out, n_in);
	node->macs = (uint64_t)n_in;
	*n = n_in;
	*prep = p;
	return 0;
}
