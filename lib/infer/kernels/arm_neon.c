/* Armv8 NEON kernels (smull/sadalp). NEON is part of the aarch64 baseline. */
#include "arm_neon_impl.h"

const edge__opt_isa_ops edge__opt_neon_ops = {
	.isa = EDGE_OPT_ISA_NEON,
	.nr = NR,
	.x_u8 = 0,
	.row_i16 = 0,
	.gemm = gemm,
	.dw_all = dw_all,
	.add = add,
};
