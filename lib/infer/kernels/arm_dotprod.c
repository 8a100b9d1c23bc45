/* Armv8.2 dot-product kernels (sdot). Compiled with -march=armv8.2-a+dotprod;
 * only called after a run-time HWCAP check. */
#define OPT_DOTPROD 1
#include "arm_neon_impl.h"

const edge__opt_isa_ops edge__opt_dotprod_ops = {
	.isa = EDGE_OPT_ISA_DOTPROD,
	.nr = NR,
	.x_u8 = 0,
	.row_i16 = 0,
	.gemm = gemm,
	.dw_all = dw_all,
	.add = add,
};
