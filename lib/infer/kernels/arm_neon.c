/* Armv8 NEON kernels (smull/sadalp). NEON is part of the aarch64 baseline. */
#include "arm_neon_impl.h"

EDGE__OPT_DEFINE_ISA_OPS(edge__opt_neon_ops, EDGE_OPT_ISA_NEON, 0, 0);
