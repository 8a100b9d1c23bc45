/* AVX-VNNI kernels (256-bit VEX vpdpbusd). Compiled with -mavx2 -mavxvnni;
 * only called after a run-time CPU check. */
#define OPT_VNNI 1
#include "x86_avx2_impl.h"

EDGE__OPT_DEFINE_ISA_OPS(edge__opt_avxvnni_ops, EDGE_OPT_ISA_AVX_VNNI, 1, 0);
