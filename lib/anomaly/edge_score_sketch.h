/* Score sketch: a mergeable histogram of anomaly scores from which the
 * rollups give percentiles without reading raw rows (DDSketch, Masson et
 * al. 2019).
 *
 * A value x > 0 falls in bin k = ceil(log_g(x)), g = (1 + a) / (1 - a),
 * a = EDGE_SCORE_SKETCH_ACCURACY; a bin answers 2 g^k / (g + 1), within
 * relative error a of every value in it. Negative values go to a mirror
 * set of bins by |x|; |x| < EDGE_SCORE_SKETCH_MIN_VALUE counts as 0 (so the
 * error there is absolute, at most that). Non-finite values are refused.
 *
 * Bounded memory: each sign keeps at most EDGE_SCORE_SKETCH_MAX_BINS
 * consecutive bins (a factor of about 2.7e4 between its smallest and
 * largest magnitude at 1 %). A value that would widen the window past that
 * collapses the lowest-magnitude bins into the lowest one kept, so the high
 * percentiles (p90, p99 of positive scores: what matters for anomalies)
 * stay within a, and only magnitudes 2.7e4 times below the largest lose it.
 *
 * The blob (edge_score_sketch_encode) is what the rollup tables store:
 *   u8 version (1), u8 flags (0),
 *   varint zero_count,
 *   positive bins, then negative bins, each: varint n, then n times
 *   (varint key step, varint count > 0): the first step is the key
 *   zigzag-encoded, later ones the distance to the previous key (>= 1).
 * Varints are unsigned LEB128 (little-endian base 128, at most 10 bytes).
 * Decode checks every field (version, ranges, order, window width, count
 * overflow, no trailing bytes) and returns -EINVAL for anything else: a
 * corrupt database gives an error, never a crash.
 *
 * Not thread-safe per object; no allocation (a sketch is a plain struct of
 * about 8 KiB: keep it off small stacks; decode and merge_blob use about
 * 12 KiB of stack to check a blob whole before applying it). */
#ifndef EDGE_SCORE_SKETCH_H
#define EDGE_SCORE_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

#define EDGE_SCORE_SKETCH_ACCURACY 0.01
#define EDGE_SCORE_SKETCH_MAX_BINS 512
#define EDGE_SCORE_SKETCH_MIN_VALUE 1e-9
#define EDGE_SCORE_SKETCH_VERSION 1
/* Upper bound of an encoded sketch: header, zero count, two bin lists. */
#define EDGE_SCORE_SKETCH_BLOB_MAX (2 + 10 + 2 * (10 + EDGE_SCORE_SKETCH_MAX_BINS * 20))

/* The bins of one sign: counts[i] is bin offset + i, len bins in use. */
struct edge_score_sketch_bins {
	int32_t offset;
	uint32_t len;
	uint64_t counts[EDGE_SCORE_SKETCH_MAX_BINS];
};

struct edge_score_sketch {
	uint64_t count; /* every value added */
	uint64_t zero;
	struct edge_score_sketch_bins pos, neg;
};

/* Empties s. */
void edge_score_sketch_init(struct edge_score_sketch *s);

/* Empties s, which must be a sketch already (init'ed or decoded): clears
 * only the bins in use, cheaper than init. */
void edge_score_sketch_reset(struct edge_score_sketch *s);

/* Adds x n times. -EINVAL: x not finite, or the count would overflow. */
EDGE_WUR int edge_score_sketch_add(struct edge_score_sketch *s, double x, uint64_t n);

/* dst += src (the sketch of the union). -EINVAL on count overflow. */
EDGE_WUR int edge_score_sketch_merge(struct edge_score_sketch *dst,
				     const struct edge_score_sketch *src);

/* The q-quantile (0 <= q <= 1): within relative accuracy of the value of
 * rank floor(q * (count - 1)) (0-based, ascending). 0 when empty. */
double edge_score_sketch_quantile(const struct edge_score_sketch *s, double q);

/* The sketch as ascending (value, count) bins: negative bins by falling
 * magnitude, the zero bin (value 0) when it holds any, then positive bins;
 * each bin's value is its representative (what quantile answers), counts
 * > 0 only. Writes at most cap bins; returns how many the sketch has
 * (<= 2 * EDGE_SCORE_SKETCH_MAX_BINS + 1), so cap that large always suffices.
 * Values are strictly increasing (what a KS test over bins needs): bins
 * whose representatives coincide (only the top keys, clamped to DBL_MAX)
 * come out as one. values and counts may be NULL when cap is 0. */
size_t edge_score_sketch_bins_out(const struct edge_score_sketch *s, double *values,
				  uint64_t *counts, size_t cap);

/* Writes the blob to buf[cap]; returns its length, or -ENOSPC when cap is
 * short (EDGE_SCORE_SKETCH_BLOB_MAX always suffices). */
EDGE_WUR int edge_score_sketch_encode(const struct edge_score_sketch *s, uint8_t *buf,
				      size_t cap);

/* dst += the sketch in blob, without decoding it into a sketch of its own.
 * -EINVAL when malformed (checked whole first: dst is then unchanged) or on
 * count overflow. */
EDGE_WUR int edge_score_sketch_merge_blob(struct edge_score_sketch *dst, const void *blob,
					  size_t len);

/* Reads a blob into *s (replacing it). -EINVAL when malformed (then *s is
 * empty). */
EDGE_WUR int edge_score_sketch_decode(struct edge_score_sketch *s, const void *blob,
				      size_t len);

#endif
