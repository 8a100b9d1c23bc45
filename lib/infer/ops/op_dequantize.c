/* DEQUANTIZE (TFLM dequantize_common.cc, reference Dequantize): int8 /
 * uint8 / int16 -> float32, out = float(double(scale) * (q - zp)). */
#include "op_common.h"
#include "op_kernels.h"

static int dequantize_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 1, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_FLOAT32)))
		return rc;
	if (input->type != EDGE_TT_INT8 && input->type != EDGE_TT_UINT8 &&
	    input->type != EDGE_TT_INT16)
		return edge__op_fail(ctx, node, EDGE_INFER_ETYPE,
				     "input type %s is not supported (INT8, UINT8, INT16)",
				     edge__type_str(input->type));
	if ((rc = edge__check_quant(ctx, node, input, "input")))
		return rc;
	edge_quantize_prep *p = NULL;
	int32_t n;
	if ((rc = edge__elementwise_alloc(ctx, node, sizeof(*p), (void **)&p, &n)))
		return rc;
	p->n = n;
	p->kind = EDGE_DEQUANTIZE_TO_FLOAT;
	p->in_type = input->type;
	p->out_type = EDGE_TT_FLOAT32;
	p->in_zp = edge__zp(input);
	p->scale = edge__scale(input);
	node->prep = p;
	return 0;
}

static int dequantize_eval(edge_op_node *node, int flavour)
{
	(void)flavour;
	const edge_quantize_prep *p = node->prep;
	const void *input = node->inputs[0]->data;
	float *output = node->outputs[0]->data;
	const double scale = (double)p->scale;

	for (int32_t i = 0; i < p->n; i++) {
		int32_t q;
		if (p->in_type == EDGE_TT_INT8)
			q = ((const int8_t *)input)[i];
		else if (p->in_type == EDGE_TT_UINT8)
			q = ((const uint8_t *)input)[i];
		else
			q = ((const int16_t *)input)[i];
		output[i] = (float)(scale * (q - p->in_zp));
	}
	return 0;
}

const edge_op_kernel edge__op_dequantize = {
	.builtin = EDGE_OP_DEQUANTIZE,
	.name = "DEQUANTIZE",
	.prepare = dequantize_prepare,
	.eval = dequantize_eval,
};
