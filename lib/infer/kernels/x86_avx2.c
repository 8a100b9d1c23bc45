/* AVX2 kernels (vpmaddwd on int16 rows). Compiled with -mavx2 -mfma; only
 * called after a run-time CPU check. */
#include "x86_avx2_impl.h"

const edge__opt_isa_ops edge__opt_avx2_ops = {
	.isa = EDGE_OPT_ISA_AVX2,
	.nr = NR,
	.x_u8 = 0,
	.row_i16 = 1,
	.gemm = gemm,
	.dw_all = dw_all,
	.add = add,
};
