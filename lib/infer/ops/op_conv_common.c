/* Shared prepare() parts of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED. */
#include "op_conv_common.h"

#include "fixedpoint.h"
#include "op_common.h"

int edge__conv_check_tensors(edge_prep_ctx *ctx, const edge_op_node *node)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 2, 3, 1)))
		return rc;
	const edge_tensor *input = node->inputs[0], *filter = node->inputs[1];
	const edge_tensor *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_present(ctx, node, filter, "filter")))
		return rc;
	if ((rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, filter, "filter", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_rank(ctx, node, filter, "filter", 4, 4)) ||
	    (rc = edge__check_quant(ctx, node, input, "input")) ||
	    (rc = edge__check_quant(ctx, node, output, "output")))
		return rc;
	return 0;
}

int edge__conv_window_prepare(edge_prep_ctx *ctx, const edge_op_node *node, int padding,
			      int stride_h, int stride_w, int dil_h, int dil_w, edge_conv_prep **out)
{
	const edge_tensor *filter = node->inputs[1];
	edge_conv_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	int rc = edge__window_prepare(ctx, node, node->inputs[0], node->outputs[0], padding,
				      filter->dims[1], filter->dims[2], stride_h, stride_w, dil_h,
				      dil_w, &p->g);
	if (rc)
		return rc;
	*out = p;
	return 0;
}

int edge__conv_check_filter_quant(edge_prep_ctx *ctx, const edge_op_node *node,
				  const edge_tensor *filter, int32_t n_channels, int quant_dim)
{
	if (filter->n_quant < 1 || !filter->scale || !filter->zero_point)
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "filter has no quantization parameters");
	if (filter->n_quant > 1 && (filter->n_quant != n_channels || filter->quant_dim != quant_dim))
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "filter has %d scales along dim %d, expected %d along dim %d",
				     filter->n_quant, filter->quant_dim, n_channels, quant_dim);
	for (int i = 0; i < filter->n_quant; i++)
		if (filter->zero_point[i] != 0)
			return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
					     "filter zero point of channel %d is %lld, must be 0",
					     i, (long long)filter->zero_point[i]);
	return 0;
}

int edge__check_bias(edge_prep_ctx *ctx, const edge_op_node *node, const edge_tensor *bias,
		     int32_t n)
{
	if (!bias)
		return 0;
	int rc;
	if ((rc = edge__check_type(ctx, node, bias, "bias", EDGE_TT_INT32)))
		return rc;
	int64_t nb = edge__elements(bias);
	if (nb != n)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "bias has %lld elements, expected %d", (long long)nb, n);
	return 0;
}

int edge__per_channel_multipliers(edge_prep_ctx *ctx, const edge_op_node *node, int32_t n,
				  int32_t *multiplier, int32_t *shift)
{
	const edge_tensor *input = node->inputs[0], *filter = node->inputs[1];
	const edge_tensor *output = node->outputs[0];
	for (int32_t c = 0; c < n; c++) {
		float fs = filter->scale[filter->n_quant > 1 ? c : 0];
		double m = (double)edge__scale(input) * (double)fs / (double)edge__scale(output);
		int s;
		int rc = edge__quantize_multiplier(ctx, node, m, "output channel", &multiplier[c], &s);
		if (rc)
			return rc;
		shift[c] = s;
	}
	return 0;
}

int edge__conv_output_prepare(edge_prep_ctx *ctx, const edge_op_node *node, int activation,
			      edge_conv_prep *p)
{
	const edge_tensor *output = node->outputs[0];
	int32_t oc = p->g.out_c;
	p->in_zp = edge__zp(node->inputs[0]);
	p->out_zp = edge__zp(output);
	int rc = edge__activation_range(ctx, node, activation, output, &p->act_min, &p->act_max);
	if (rc)
		return rc;
	p->out_multiplier = edge__op_alloc(ctx, sizeof(int32_t) * (size_t)oc);
	p->out_shift = edge__op_alloc(ctx, sizeof(int32_t) * (size_t)oc);
	if (!p->out_multiplier || !p->out_shift)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	return edge__per_channel_multipliers(ctx, node, oc, p->out_multiplier, p->out_shift);
}
