/* AVX2 kernels (vpmaddwd on int16 rows). Compiled with -mavx2 -mfma; only
 * called after a run-time CPU check. */
#include "x86_avx2_impl.h"

EDGE__OPT_DEFINE_ISA_OPS(edge__opt_avx2_ops, EDGE_OPT_ISA_AVX2, 0, 1);
