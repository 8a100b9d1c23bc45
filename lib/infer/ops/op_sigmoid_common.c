/* Shared prepare() of LOGISTIC and TANH. */
#include <math.h>

#include "fixedpoint.h"
#include "op_common.h"
#include "op_sigmoid_common.h"

int edge__sigmoid_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	int rc;
	if ((rc = edge__check_io_count(ctx, node, 1, 1, 1)))
		return rc;
	edge_tensor *input = node->inputs[0], *output = node->outputs[0];
	if ((rc = edge__check_present(ctx, node, input, "input")) ||
	    (rc = edge__check_type(ctx, node, input, "input", EDGE_TT_INT8)) ||
	    (rc = edge__check_type(ctx, node, output, "output", EDGE_TT_INT8)) ||
	    (rc = edge__check_quant(ctx, node, input, "input")))
		return rc;
	edge_sigmoid_prep *p = edge__op_alloc(ctx, sizeof(*p));
	if (!p)
		return edge__op_fail(ctx, node, EDGE_INFER_ENOMEM, "out of memory");
	if ((rc = edge__check_elements(ctx, node, input, "input", &p->n)))
		return rc;
	int32_t n_out;
	if ((rc = edge__check_elements(ctx, node, output, "output", &n_out)))
		return rc;
	if (n_out != p->n)
		return edge__op_fail(ctx, node, EDGE_INFER_EOP,
				     "output has %d elements, input %d", n_out, p->n);
	p->in_zp = edge__zp(input);
	/* real = in_scale * 2^(31 - 4); q, shift = frexp(real); M = round(q * 2^31)
	 * without the 2^31 correction of QuantizeMultiplier. */
	double real = (double)edge__scale(input) *
		      (double)(1 << (31 - EDGE_SIGMOID_INPUT_INTEGER_BITS));
	int shift = 0;
	double q = frexp(real, &shift);
	double m = round(q * (double)((int64_t)1 << 31));
	/* Only shifts that keep TFLM's arithmetic defined (0..31), and q below
	 * the one value that would round to 2^31. */
	if (shift < 0 || shift > 31 || m >= (double)((int64_t)1 << 31))
		return edge__op_fail(ctx, node, EDGE_INFER_EQUANT,
				     "input scale %g is out of the supported range",
				     (double)edge__scale(input));
	p->input_multiplier = (int32_t)m;
	p->input_left_shift = shift;
	p->input_range_radius = edge_input_radius(EDGE_SIGMOID_INPUT_INTEGER_BITS, shift, 31);
	node->macs = (uint64_t)p->n;
	node->prep = p;
	return 0;
}
