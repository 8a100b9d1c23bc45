/* Optimised INT8 kernels (x86-64 AVX2 / AVX-VNNI / AVX-512 VNNI, aarch64
 * NEON / dot-product), selected at run time by CPU features. They produce
 * exactly the bytes of the reference kernels in lib/infer/ops.
 *
 * Integration: after an operator's prepare() succeeded, the loader calls
 * edge_opt_prepare(), which may pack weights and precompute per-channel
 * sums into node->opt_prep (persistent memory from ctx). At invoke, for
 * flavour EDGE_KERNELS_OPTIMISED, the interpreter calls edge_opt_eval()
 * first and falls back to the reference eval() when it returns 0.
 *
 * libc only. The ISA level is process-wide; it is chosen once from the CPU
 * (env EDGE_INFER_ISA=none|avx2|avxvnni|avx512vnni|neon|dotprod may lower
 * it) and can be lowered later with edge_opt_set_isa() for testing. A node
 * prepared under one level and evaluated under another falls back to the
 * reference kernel when its packed layout does not fit the current level. */
#ifndef EDGE_INFER_OPT_H
#define EDGE_INFER_OPT_H

#include "../infer_op.h"

enum edge_opt_isa {
	EDGE_OPT_ISA_NONE = 0,        /* no optimised kernels: reference only */
	EDGE_OPT_ISA_AVX2 = 1,
	EDGE_OPT_ISA_AVX_VNNI = 2,    /* 256-bit vpdpbusd (VEX) */
	EDGE_OPT_ISA_AVX512_VNNI = 3, /* 512-bit vpdpbusd (AVX-512 F/BW/VL + VNNI) */
	EDGE_OPT_ISA_NEON = 4,
	EDGE_OPT_ISA_DOTPROD = 5,     /* Armv8.2 sdot */
};

/* Precompute the optimised kernel's data for a node whose reference
 * prepare() succeeded. 0 (also when no optimised kernel applies: then
 * node->opt_prep stays NULL) or a negative errno (allocation failure).
 * May raise node->scratch_bytes (GEMM row buffer, at most 64 KiB): the
 * loader must plan the arena after this call. Eval writes only to the
 * outputs and node->scratch, so contexts on different threads may share
 * one prepared model. */
int edge_opt_prepare(edge_op_node *node, edge_prep_ctx *ctx)
	__attribute__((warn_unused_result));

/* Evaluate the node with an optimised kernel. Returns 1 when handled, 0
 * when the caller must run the reference eval(). Never allocates. */
int edge_opt_eval(edge_op_node *node);

/* Human-readable description of the active level, e.g. "x86-64 AVX-512 VNNI".
 * Static string. */
const char *edge_opt_describe(void);

/* Name of a level ("avx512vnni", ...) or NULL for an unknown value. Static. */
const char *edge_opt_isa_name(int isa);

/* The best level this CPU (and this build) supports. */
int edge_opt_isa_best(void);

/* The active level. */
int edge_opt_isa_current(void);

/* Whether this CPU and build can run the given level. */
int edge_opt_isa_supported(int isa);

/* Switch the active level (not thread-safe against concurrent eval: call
 * before loading models). 0, or -ENOTSUP when the CPU/build cannot run
 * it, -EINVAL for an unknown level. */
int edge_opt_set_isa(int isa) __attribute__((warn_unused_result));

/* Bytes of persistent memory edge_opt_prepare() allocated for this node
 * (packed weights, offsets, requant tables; not the arena scratch); 0 when
 * none. */
size_t edge_opt_node_bytes(const edge_op_node *node);

#endif
