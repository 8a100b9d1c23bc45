#include "edge_backoff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

struct edge_backoff {
	uint32_t base_ms;
	uint32_t cap_ms;
	uint64_t attempt;
	edge_backoff_random_fn rnd;
	void *rnd_userdata;
	uint64_t own_state; /* internal splitmix64 state */
};

uint64_t edge_backoff_splitmix64(void *state)
{
	uint64_t *s = state;
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t edge_backoff_ceiling(uint32_t base_ms, uint32_t cap_ms,
			      uint64_t attempt)
{
	uint64_t c = base_ms;

	/* base_ms < 2^32, so doubling at most 32 times reaches any cap. */
	for (uint64_t i = 0; i < attempt && c < cap_ms; i++)
		c <<= 1;
	return c < cap_ms ? (uint32_t)c : cap_ms;
}

uint64_t edge_backoff_uniform(edge_backoff_random_fn fn, void *userdata,
			      uint64_t bound)
{
	if (bound == UINT64_MAX)
		return fn(userdata);
	uint64_t n = bound + 1;
	/* Reject the top partial block so every residue is equally likely. */
	uint64_t limit = UINT64_MAX - (UINT64_MAX % n) - 1;
	uint64_t r;

	do
		r = fn(userdata);
	while (r > limit);
	return r % n;
}

static bool valid_bounds(uint32_t base_ms, uint32_t cap_ms)
{
	return base_ms >= 1 && cap_ms >= base_ms;
}

edge_backoff *edge_backoff_new(uint32_t base_ms, uint32_t cap_ms)
{
	if (!valid_bounds(base_ms, cap_ms))
		return NULL;
	edge_backoff *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	if (getrandom(&b->own_state, sizeof b->own_state, GRND_NONBLOCK) !=
	    (ssize_t)sizeof b->own_state) {
		/* Jitter only needs to differ between processes. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		b->own_state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			       (uint64_t)(uintptr_t)b;
	}
	edge_backoff_set_random(b, NULL, NULL);
	return b;
}

void edge_backoff_free(edge_backoff *b)
{
	free(b);
}

void edge_backoff_set_random(edge_backoff *b, edge_backoff_random_fn fn,
			     void *userdata)
{
	if (fn) {
		b->rnd = fn;
		b->rnd_userdata = userdata;
	} else {
		b->rnd = edge_backoff_splitmix64;
		b->rnd_userdata = &b->own_state;
	}
}

int edge_backoff_set_bounds(edge_backoff *b, uint32_t base_ms, uint32_t cap_ms)
{
	if (!valid_bounds(base_ms, cap_ms))
		return -EINVAL;
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	return 0;
}

uint32_t edge_backoff_next(edge_backoff *b)
{
	uint32_t ceiling = edge_backoff_ceiling(b->base_ms, b->cap_ms, b->attempt);

	if (b->attempt < UINT64_MAX)
		b->attempt++;
	return (uint32_t)edge_backoff_uniform(b->rnd, b->rnd_userdata, ceiling);
}

void edge_backoff_reset(edge_backoff *b)
{
	b->attempt = 0;
}

uint64_t edge_backoff_attempts(const edge_backoff *b)
{
	return b->attempt;
}
