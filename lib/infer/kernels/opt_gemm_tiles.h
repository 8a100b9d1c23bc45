/* gemm(): the rows of a GEMM in tiles of at most MR_MAX, each tile run by
 * gemm_tile() with a compile-time row count (so its accumulators stay in
 * registers). Included by each flavour's kernel file after it defines
 * MR_MAX (at most EDGE__OPT_MAX_MR) and gemm_tile(). */
#ifndef EDGE_INFER_OPT_GEMM_TILES_H
#define EDGE_INFER_OPT_GEMM_TILES_H

#if !defined(MR_MAX) || MR_MAX > EDGE__OPT_MAX_MR
#error "define MR_MAX (<= EDGE__OPT_MAX_MR) and gemm_tile() before including opt_gemm_tiles.h"
#endif

/* The callers pass at most EDGE__OPT_MAX_MR rows. */
static void gemm(const edge__opt_gemm *g, const int8_t *const *rows, int n_rows, int8_t *const *outs)
{
#if MR_MAX < EDGE__OPT_MAX_MR
	while (n_rows > MR_MAX) {
		gemm_tile(g, rows, outs, MR_MAX);
		rows += MR_MAX;
		outs += MR_MAX;
		n_rows -= MR_MAX;
	}
#endif
	switch (n_rows) {
	case 0: break;
	case 1: gemm_tile(g, rows, outs, 1); break;
	case 2: gemm_tile(g, rows, outs, 2); break;
	case 3: gemm_tile(g, rows, outs, 3); break;
#if MR_MAX > 4
	case 4: gemm_tile(g, rows, outs, 4); break;
	case 5: gemm_tile(g, rows, outs, 5); break;
	case 6: gemm_tile(g, rows, outs, 6); break;
	case 7: gemm_tile(g, rows, outs, 7); break;
#endif
	default: gemm_tile(g, rows, outs, MR_MAX); break;
	}
}

#endif
