/* builtin code -> operator kernel. */
#include <stddef.h>

#include "op_kernels.h"

static const edge_op_kernel *const kernels[] = {
	&edge__op_add,
	&edge__op_average_pool_2d,
	&edge__op_concatenation,
	&edge__op_conv_2d,
	&edge__op_depthwise_conv_2d,
	&edge__op_dequantize,
	&edge__op_fully_connected,
	&edge__op_leaky_relu,
	&edge__op_logistic,
	&edge__op_max_pool_2d,
	&edge__op_maximum,
	&edge__op_mean,
	&edge__op_minimum,
	&edge__op_mul,
	&edge__op_pad,
	&edge__op_padv2,
	&edge__op_quantize,
	&edge__op_reduce_max,
	&edge__op_reduce_min,
	&edge__op_relu,
	&edge__op_relu6,
	&edge__op_reshape,
	&edge__op_softmax,
	&edge__op_sub,
	&edge__op_sum,
	&edge__op_tanh,
	&edge__op_transpose,
};

const edge_op_kernel *edge_op_kernel_find(int builtin)
{
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (kernels[i]->builtin == builtin)
			return kernels[i];
	return NULL;
}
