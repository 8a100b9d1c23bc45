/* The score sketch (edge_score_sketch.h has the design and the blob). */
#include "edge_score_sketch.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* ln(g), g = (1 + a) / (1 - a), a = 0.01. */
#define LN_GAMMA 0.020000666706669435
_Static_assert(EDGE_SCORE_SKETCH_ACCURACY == 0.01, "LN_GAMMA is for a = 0.01");

/* Keys of |x| in [MIN_VALUE, DBL_MAX]: a decoded key outside is corrupt. */
#define KEY_MIN (-1040)
#define KEY_MAX 35500

static int32_t key_of(double m)
{
	double k = ceil(log(m) / LN_GAMMA);

	if (k < KEY_MIN)
		return KEY_MIN;
	if (k > KEY_MAX)
		return KEY_MAX;
	return (int32_t)k;
}

static double value_of(int32_t key)
{
	double v = 2.0 * exp(key * LN_GAMMA) / (1.0 + exp(LN_GAMMA));

	return isfinite(v) ? v : DBL_MAX; /* the top bin, past DBL_MAX / g */
}

static void bins_clear(struct edge_score_sketch_bins *b)
{
	memset(b->counts, 0, b->len * sizeof b->counts[0]);
	b->len = 0;
	b->offset = 0;
}

void edge_score_sketch_init(struct edge_score_sketch *s)
{
	s->count = 0;
	s->zero = 0;
	s->pos.len = s->neg.len = 0;
	s->pos.offset = s->neg.offset = 0;
	memset(s->pos.counts, 0, sizeof s->pos.counts);
	memset(s->neg.counts, 0, sizeof s->neg.counts);
}

/* Adds n to bin key; the window [offset, offset + len) grows to take it,
 * collapsing its lowest bins when it would pass MAX_BINS. Counts were
 * checked for overflow by the caller (every bin <= s->count). */
static void bins_add(struct edge_score_sketch_bins *b, int32_t key, uint64_t n)
{
	const int32_t max = EDGE_SCORE_SKETCH_MAX_BINS;

	if (b->len == 0) {
		b->offset = key;
		b->len = 1;
		b->counts[0] = n;
		return;
	}
	if (key < b->offset) {
		int32_t top = b->offset + (int32_t)b->len - 1;

		if (top - key + 1 > max) {
			/* Below the window that must stay: into its lowest bin. */
			int32_t low = top - max + 1;

			if (b->offset > low) {
				/* widen down to exactly max bins first */
				int32_t shift = b->offset - low;

				memmove(b->counts + shift, b->counts, b->len * sizeof b->counts[0]);
				memset(b->counts, 0, (size_t)shift * sizeof b->counts[0]);
				b->offset = low;
				b->len = (uint32_t)max;
			}
			b->counts[0] += n;
			return;
		}
		int32_t shift = b->offset - key;

		memmove(b->counts + shift, b->counts, b->len * sizeof b->counts[0]);
		memset(b->counts, 0, (size_t)shift * sizeof b->counts[0]);
		b->offset = key;
		b->len += (uint32_t)shift;
		b->counts[0] += n;
		return;
	}
	if (key >= b->offset + (int32_t)b->len) {
		int32_t new_len = key - b->offset + 1;

		if (new_len > max) {
			/* Collapse the lowest bins into the new lowest one. */
			int32_t drop = new_len - max;
			uint64_t sum = 0;

			if (drop >= (int32_t)b->len) {
				for (uint32_t i = 0; i < b->len; i++)
					sum += b->counts[i];
				memset(b->counts, 0, b->len * sizeof b->counts[0]);
				b->offset = key - max + 1;
				b->len = (uint32_t)max;
				b->counts[0] += sum;
			} else {
				for (int32_t i = 0; i < drop; i++)
					sum += b->counts[i];
				memmove(b->counts, b->counts + drop,
					(b->len - (uint32_t)drop) * sizeof b->counts[0]);
				memset(b->counts + b->len - drop, 0,
				       (size_t)drop * sizeof b->counts[0]);
				b->counts[0] += sum;
				b->offset += drop;
				b->len = (uint32_t)max;
			}
		} else {
			b->len = (uint32_t)new_len;
		}
	}
	b->counts[key - b->offset] += n;
}

int edge_score_sketch_add(struct edge_score_sketch *s, double x, uint64_t n)
{
	if (!s || !isfinite(x) || n > UINT64_MAX - s->count)
		return -EINVAL;
	if (n == 0)
		return 0;
	s->count += n;
	if (fabs(x) < EDGE_SCORE_SKETCH_MIN_VALUE)
		s->zero += n;
	else if (x > 0)
		bins_add(&s->pos, key_of(x), n);
	else
		bins_add(&s->neg, key_of(-x), n);
	return 0;
}

int edge_score_sketch_merge(struct edge_score_sketch *dst, const struct edge_score_sketch *src)
{
	if (!dst || !src || src->count > UINT64_MAX - dst->count)
		return -EINVAL;
	dst->count += src->count;
	dst->zero += src->zero;
	/* Highest bins first: collapsing only ever drops the lowest ones. */
	for (uint32_t i = src->pos.len; i-- > 0;)
		if (src->pos.counts[i])
			bins_add(&dst->pos, src->pos.offset + (int32_t)i, src->pos.counts[i]);
	for (uint32_t i = src->neg.len; i-- > 0;)
		if (src->neg.counts[i])
			bins_add(&dst->neg, src->neg.offset + (int32_t)i, src->neg.counts[i]);
	return 0;
}

double edge_score_sketch_quantile(const struct edge_score_sketch *s, double q)
{
	uint64_t rank, seen = 0;

	if (!s || s->count == 0 || !(q >= 0))
		return 0;
	if (q > 1)
		q = 1;
	rank = (uint64_t)floor(q * (double)(s->count - 1));
	/* Ascending: most negative (highest negative key) first. */
	for (uint32_t i = s->neg.len; i-- > 0;) {
		seen += s->neg.counts[i];
		if (seen > rank)
			return -value_of(s->neg.offset + (int32_t)i);
	}
	seen += s->zero;
	if (seen > rank)
		return 0;
	for (uint32_t i = 0; i < s->pos.len; i++) {
		seen += s->pos.counts[i];
		if (seen > rank)
			return value_of(s->pos.offset + (int32_t)i);
	}
	/* Unreachable when counts are consistent. */
	return s->pos.len ? value_of(s->pos.offset + (int32_t)s->pos.len - 1) : 0;
}

/* bins_out's writer: appends (v, c), folding it into the last bin when v
 * equals that bin's value so values stay strictly increasing. */
struct bins_writer {
	double *values;
	uint64_t *counts;
	size_t cap, n;
	double last;
};

static void bins_put(struct bins_writer *w, double v, uint64_t c)
{
	assert(c > 0);
	assert(w->n == 0 || v >= w->last);
	if (w->n > 0 && v == w->last) {
		if (w->n - 1 < w->cap)
			w->counts[w->n - 1] += c; /* <= s->count: cannot overflow */
		return;
	}
	if (w->n < w->cap) {
		w->values[w->n] = v;
		w->counts[w->n] = c;
	}
	w->n++;
	w->last = v;
}

size_t edge_score_sketch_bins_out(const struct edge_score_sketch *s, double *values,
				  uint64_t *counts, size_t cap)
{
	struct bins_writer w = { .values = values, .counts = counts, .cap = cap };

	assert(cap == 0 || (values && counts));
	if (!s || (cap && (!values || !counts)))
		return 0;
	/* The order quantile walks: most negative (highest negative key) first. */
	for (uint32_t i = s->neg.len; i-- > 0;)
		if (s->neg.counts[i])
			bins_put(&w, -value_of(s->neg.offset + (int32_t)i), s->neg.counts[i]);
	if (s->zero)
		bins_put(&w, 0, s->zero);
	for (uint32_t i = 0; i < s->pos.len; i++)
		if (s->pos.counts[i])
			bins_put(&w, value_of(s->pos.offset + (int32_t)i), s->pos.counts[i]);
	assert(w.n <= 2 * (size_t)EDGE_SCORE_SKETCH_MAX_BINS + 1);
	return w.n;
}

/* ---- blob ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void put_varint(struct wbuf *w, uint64_t v)
{
	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		if (v)
			byte |= 0x80;
		if (w->len < w->cap)
			w->p[w->len++] = byte;
		else
			w->overflow = true;
	} while (v);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void put_bins(struct wbuf *w, const struct edge_score_sketch_bins *b)
{
	uint64_t n = 0;
	int32_t prev = 0;
	bool first = true;

	for (uint32_t i = 0; i < b->len; i++)
		n += b->counts[i] != 0;
	put_varint(w, n);
	for (uint32_t i = 0; i < b->len; i++) {
		int32_t key = b->offset + (int32_t)i;

		if (!b->counts[i])
			continue;
		put_varint(w, first ? zigzag(key) : (uint64_t)(key - prev));
		put_varint(w, b->counts[i]);
		prev = key;
		first = false;
	}
}

int edge_score_sketch_encode(const struct edge_score_sketch *s, uint8_t *buf, size_t cap)
{
	struct wbuf w = { .p = buf, .cap = cap };

	if (!s || !buf)
		return -EINVAL;
	put_varint(&w, EDGE_SCORE_SKETCH_VERSION);
	put_varint(&w, 0);
	put_varint(&w, s->zero);
	put_bins(&w, &s->pos);
	put_bins(&w, &s->neg);
	if (w.overflow || w.len > INT32_MAX)
		return -ENOSPC;
	return (int)w.len;
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
};

static inline bool get_varint(struct rbuf *r, uint64_t *out)
{
	uint64_t v = 0;

	/* Most fields (key steps, small counts) are one byte. */
	if (r->pos < r->len && r->p[r->pos] < 0x80) {
		*out = r->p[r->pos++];
		return true;
	}

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t byte;

		if (r->pos >= r->len)
			return false;
		byte = r->p[r->pos++];
		/* The tenth byte holds bit 63 only. */
		if (shift == 63 && byte > 1)
			return false;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* One bin list, checked whole: n (key, count) pairs into keys[], counts[]. */
static bool get_bins(struct rbuf *r, int32_t *keys, uint64_t *counts, uint32_t *n_out,
		     uint64_t *total)
{
	uint64_t n, step, count;
	int64_t key = 0, first = 0;

	if (!get_varint(r, &n) || n > EDGE_SCORE_SKETCH_MAX_BINS)
		return false;
	for (uint64_t i = 0; i < n; i++) {
		if (!get_varint(r, &step) || !get_varint(r, &count) || count == 0)
			return false;
		if (i == 0) {
			if (step > (uint64_t)2 * KEY_MAX + 2)
				return false;
			key = first = unzigzag(step);
		} else {
			if (step == 0 || step > EDGE_SCORE_SKETCH_MAX_BINS)
				return false;
			key += (int64_t)step;
		}
		if (key < KEY_MIN || key > KEY_MAX || key - first >= EDGE_SCORE_SKETCH_MAX_BINS)
			return false;
		if (count > UINT64_MAX - *total)
			return false;
		*total += count;
		keys[i] = (int32_t)key;
		counts[i] = count;
	}
	*n_out = (uint32_t)n;
	return true;
}

/* A blob read and checked, not yet applied (about 12 KiB). */
struct parsed {
	uint64_t zero, total;
	uint32_t n[2];
	int32_t keys[2][EDGE_SCORE_SKETCH_MAX_BINS];
	uint64_t counts[2][EDGE_SCORE_SKETCH_MAX_BINS];
};

static bool parse(const void *blob, size_t len, struct parsed *p)
{
	struct rbuf r = { .p = blob, .len = len };
	uint64_t version, flags;

	if (!blob || !get_varint(&r, &version) || version != EDGE_SCORE_SKETCH_VERSION ||
	    !get_varint(&r, &flags) || flags != 0 || !get_varint(&r, &p->zero))
		return false;
	p->total = p->zero;
	return get_bins(&r, p->keys[0], p->counts[0], &p->n[0], &p->total) &&
	       get_bins(&r, p->keys[1], p->counts[1], &p->n[1], &p->total) && r.pos == r.len;
}

void edge_score_sketch_reset(struct edge_score_sketch *s)
{
	bins_clear(&s->pos);
	bins_clear(&s->neg);
	s->count = s->zero = 0;
}

/* Adds n bins of ascending keys. When the union fits the window (the
 * usual case: a rollup's scores span a few dozen bins), the window is
 * widened once, by the lowest and the highest key, and each count goes
 * straight into its bin; otherwise bin by bin, collapsing as bins_add does.
 * Statistics merge one blob per rollup row, so this is their inner loop. */
static void bins_add_sorted(struct edge_score_sketch_bins *b, const int32_t *keys,
			    const uint64_t *counts, uint32_t n)
{
	int32_t lo, hi;

	if (n == 0)
		return;
	lo = keys[0];
	hi = keys[n - 1];
	if (b->len) {
		lo = b->offset < lo ? b->offset : lo;
		hi = b->offset + (int32_t)b->len - 1 > hi ? b->offset + (int32_t)b->len - 1 : hi;
	}
	if ((int64_t)hi - lo + 1 > EDGE_SCORE_SKETCH_MAX_BINS) {
		for (uint32_t i = 0; i < n; i++)
			bins_add(b, keys[i], counts[i]);
		return;
	}
	bins_add(b, keys[0], 0);
	bins_add(b, keys[n - 1], 0);
	for (uint32_t i = 0; i < n; i++) {
		assert(keys[i] >= b->offset && keys[i] < b->offset + (int32_t)b->len);
		b->counts[keys[i] - b->offset] += counts[i];
	}
}

int edge_score_sketch_merge_blob(struct edge_score_sketch *dst, const void *blob, size_t len)
{
	struct parsed p;

	if (!dst || !parse(blob, len, &p) || p.total > UINT64_MAX - dst->count)
		return -EINVAL;
	dst->zero += p.zero;
	dst->count += p.total;
	bins_add_sorted(&dst->pos, p.keys[0], p.counts[0], p.n[0]);
	bins_add_sorted(&dst->neg, p.keys[1], p.counts[1], p.n[1]);
	return 0;
}

int edge_score_sketch_decode(struct edge_score_sketch *s, const void *blob, size_t len)
{
	if (!s)
		return -EINVAL;
	edge_score_sketch_init(s); /* whole: *s may be uninitialised */
	return edge_score_sketch_merge_blob(s, blob, len);
}
