/* Fuzz target: the score sketch's blob decoder. The blobs come from the
 * rollup tables, so a damaged database feeds it anything: it must refuse
 * (-EINVAL) or read a sketch that quantiles, merges and encodes again to a
 * blob that decodes to the same counts, never crash or read out of bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_score_sketch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_score_sketch *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	uint8_t *blob = malloc(EDGE_SCORE_SKETCH_BLOB_MAX);
	int rc, len;

	if (!a || !b || !blob)
		abort();
	rc = edge_score_sketch_decode(a, data, size);
	if (rc != 0 && rc != -EINVAL)
		abort();
	/* merge_blob into an empty sketch agrees with decode. */
	edge_score_sketch_init(b);
	if (edge_score_sketch_merge_blob(b, data, size) != rc || b->count != a->count)
		abort();
	if (rc == 0) {
		for (int i = 0; i <= 100; i++)
			(void)edge_score_sketch_quantile(a, i / 100.0);
		len = edge_score_sketch_encode(a, blob, EDGE_SCORE_SKETCH_BLOB_MAX);
		if (len < 0 || edge_score_sketch_decode(b, blob, (size_t)len) != 0 ||
		    b->count != a->count || b->zero != a->zero)
			abort();
		if (edge_score_sketch_merge(b, a) == 0 &&
		    (b->pos.len > EDGE_SCORE_SKETCH_MAX_BINS ||
		     b->neg.len > EDGE_SCORE_SKETCH_MAX_BINS))
			abort();
	}
	free(a);
	free(b);
	free(blob);
	return 0;
}
