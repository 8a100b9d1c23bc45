/* Armv8.2 dot-product kernels (sdot). Compiled with -march=armv8.2-a+dotprod;
 * only called after a run-time HWCAP check. */
#define OPT_DOTPROD 1
#include "arm_neon_impl.h"

EDGE__OPT_DEFINE_ISA_OPS(edge__opt_dotprod_ops, EDGE_OPT_ISA_DOTPROD, 0, 0);
