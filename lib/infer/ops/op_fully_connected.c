/* FULLY_CONNECTED, int8 (TFLM reference_integer_ops::FullyConnected and
 * FullyConnectedPerChannel). inputs: 0 input (flattened to [batches, depth]),
 * 1 weights [units, depth] int8, 2 bias [units] int32 (optional).
 * batches = output elements / units (the output's last dim). */
#include <math.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_conv_common.h"
#include "op_kernels.h"

static int fully_connected_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 3, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *filter = node->inputs[1];
	edge_tensor *bias = node->n_inputs > 2 ? node->inputs[2] : NULL;
	edge_tensor *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_present(ctx, node, filter, "weights")))
		return rc;
	if ((rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, filter, "weights", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_rank(ctx, node, filter, "weights", 2, 2)) ||
	    (rc = edge__check_rank(ctx, node, output, "output", 1, EDGE_INFER_MAX_RANK)) ||
	    (rc = edge__check_quant(ctx, node, input, "input")) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	const __typeof__(node->opt.fc) *o = &node->opt.fc;
	if (o->weights_format != 0)
		return edge__op_fail(ctx, node, EDGE_INFER_EOPTIONS,
				     "weights_format %d is not supported (only DEFAULT)",
				     o->weights_format);

	edge_fc_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int32_t n_in, n_out;
	if ((rc = edge__check_elements(ctx, node, input, "input", &n_in)) ||
	    (rc = edge__check_elements(ctx, node, output, "output", &n_out)))
		return rc;
	p->units = filter->dims[0];
	p->depth = filter->dims[1];
	if (output->dims[output->rank - 1] != p->units)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output last dim %d differs from the weights' %d units",
				     output->dims[output->rank - 1], p->units);
	if (p->units < 1 || p->depth < 1)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP, "weights dims %dx%d must be positive",
				     p->units, p->depth);
	p->batches = n_out / p->units;
	if ((int64_t)p->batches * p->depth != n_in)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "input has %d elements, expected %d batches x depth %d",
				     n_in, p->batches, p->depth);
	if (filter->n_quant < 1 || !filter->scale || !filter->zero_point)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "weights have no quantization parameters");
	for (int i = 0; i < filter->n_quant; i++)
		if (filter->zero_point[i] != 0)
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "weights zero point %lld must be 0",
					     (long long)filter->zero_point[i]);
	if ((rc = edge__check_bias(ctx, node, bias, p->units)))
		return rc;

	float in_scale = edge__scale(input), out_scale = edge__scale(output);
	p->per_channel = filter->n_quant > 1;
	int n_mult = p->per_channel ? p->units : 1;
	p->out_multiplier = edge__op_alloc(ctx, sizeof(int32_t) * (size_t)n_mult);
	p->out_shift = edge__op_alloc(ctx, sizeof(int32_t) * (size_t)n_mult);
	if (!p->out_multiplier || !p->out_shift)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int shift;
	if (p->per_channel) {
		if (filter->quant_dim != 0 || filter->n_quant != p->units)
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "weights have %d scales along dim %d, expected %d along dim 0",
					     filter->n_quant, filter->quant_dim, p->units);
		/* Per channel as conv: double in * double w / double out. */
		if ((rc = edge__per_channel_multipliers(ctx, node, p->units, p->out_multiplier,
							 p->out_shift)))
			return rc;
	} else {
		float w_scale = filter->scale[0];
		/* GetQuantizedConvolutionMultipler with a bias: sanity check of the
		 * bias scale against the double product of input and weight scales. */
		if (bias) {
			double input_product_scale = (double)in_scale * (double)w_scale;
			double scale_diff = fabs(input_product_scale - (double)edge__scale(bias));
			if (scale_diff / (double)out_scale > 0.02)
				return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
						     "bias scale %g differs from input scale x weights scale %g",
						     (double)edge__scale(bias), input_product_scale);
		}
		/* The product is taken in float, then widened (INT8-NOTES 5.1). */
		double m = (double)(float)(in_scale * w_scale) / (double)out_scale;
		if ((rc = edge__quantize_multiplier(ctx, node, m, "output", &p->out_multiplier[0],
						    &shift)))
			return rc;
		p->out_shift[0] = shift;
	}
	p->in_zp = edge__zp(input);
	p->out_zp = edge__zp(output);
	if ((rc = edge__activation_range(ctx, node, o->activation, output, &p->act_min,
					 &p->act_max)))
		return rc;
	node->macs = (uint64_t)p->batches * (uint64_t)p->units * (uint64_t)p->depth;
	node->prep = p;
	return 0;
}

static int fully_connected_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_fc_prep *p = node->prep;
	const int8_t *input = node->inputs[0]->data;
	const int8_t *filter = node->inputs[1]->data;
	const int32_t *bias = edge__conv_bias_data(node);
	int8_t *output = node->outputs[0]->data;

	for (int32_t b = 0; b < p->batches; b++) {
		for (int32_t u = 0; u < p->units; u++) {
			int64_t acc = 0;
			for (int32_t d = 0; d < p->depth; d++) {
				int32_t x = input[(int64_t)b * p->depth + d];
				int32_t w = filter[(int64_t)u * p->depth + d];
				acc += w * (x - p->in_zp);
			}
			const int c = p->per_channel ? u : 0;
			output[(int64_t)b * p->units + u] =
				edge__conv_output(acc, bias, u, p->out_multiplier[c], p->out_shift[c],
						  p->out_zp, p->act_min, p->act_max);
		}
	}
	return 0;
}

const edge_op_kernel edge__op_fully_connected = {
	.builtin = EDGE_OP_FULLY_CONNECTED,
	.name = "FULLY_CONNECTED",
	.prepare = fully_connected_prepare,
	.eval = fully_connected_eval,
};
