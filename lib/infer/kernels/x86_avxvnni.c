/* AVX-VNNI kernels (256-bit VEX vpdpbusd). Compiled with -mavx2 -mavxvnni;
 * only called after a run-time CPU check. */
#define OPT_VNNI 1
#include "x86_avx2_impl.h"

const edge__opt_isa_ops edge__opt_avxvnni_ops = {
	.isa = EDGE_OPT_ISA_AVX_VNNI,
	.nr = NR,
	.x_u8 = 1,
	.row_i16 = 0,
	.gemm = gemm,
	.dw_all = dw_all,
	.add = add,
};
