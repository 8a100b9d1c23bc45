/* LEAKY_RELU, int8 (TFLM leaky_relu_common.cc + reference QuantizeLeakyRelu):
 * x >= in_zp uses the identity ratio in_scale/out_scale, else
 * in_scale*alpha/out_scale; both ratios computed in float. */
#include "fixedpoint.h"
#include "op_common.h"
#include "op_kernels.h"

static int leaky_relu_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	edge_leaky_relu_prep *p = NULL;
	int32_t n;
	int rc = edge__unary_prepare(ctx, node, 1, sizeof(*p), (void **)&p, &n);
	if (rc)
		return rc;
	p->n = n;
	const edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	float si = edge__scale(input), so = edge__scale(output);
	float alpha = node->opt.leaky_relu.alpha;
	double alpha_multiplier = (double)(si * alpha / so);
	double identity_multiplier = (double)(si / so);
	int sa, si_shift;
	if (alpha_multiplier < 0.0)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "alpha %g must not be negative", (double)alpha);
	if ((rc = edge__quantize_multiplier(ctx, node, alpha_multiplier, "alpha",
					    &p->alpha_multiplier, &sa)) ||
	    (rc = edge__quantize_multiplier(ctx, node, identity_multiplier, "identity",
					    &p->identity_multiplier, &si_shift)))
		return rc;
	p->alpha_shift = sa;
	p->identity_shift = si_shift;
	p->in_zp = edge__zp(input);
	p->out_zp = edge__zp(output);
	node->prep = p;
	return 0;
}

static int leaky_relu_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_leaky_relu_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	int8_t *output = node->outputs[0]->data;

	for (int32_t i = 0; i < p->n; i++) {
		const int32_t v = (int32_t)input[i] - p->in_zp;
		int32_t o;
		if (v >= 0)
			o = p->out_zp + edge_mbqm(v, p->identity_multiplier, p->identity_shift);
		else
			o = p->out_zp + edge_mbqm(v, p->alpha_multiplier, p->alpha_shift);
		output[i] = (int8_t)edge_clamp_i32(o, INT8_MIN, INT8_MAX);
	}
	return 0;
}

const edge_op_kernel edge__op_leaky_relu = {
	.builtin = EDGE_OP_LEAKY_RELU,
	.name = "LEAKY_RELU",
	.prepare = leaky_relu_prepare,
	.eval = leaky_relu_eval,
};
