/* Full-jitter exponential backoff for reconnects.
 *
 * The n-th delay (n = 0, 1, 2, ...) is drawn uniformly from
 * [0, min(cap_ms, base_ms * 2^n)]: clients that lost the same broker at the
 * same moment spread their retries instead of reconnecting in lockstep.
 * Call edge_backoff_reset() once a connection succeeded. The ceiling
 * saturates at cap_ms, so any attempt count is safe (no overflow).
 *
 * Not thread-safe; one object per connection. */
#ifndef EDGE_BACKOFF_H
#define EDGE_BACKOFF_H

#include <stdint.h>

#include "edge_error.h"

typedef struct edge_backoff edge_backoff;

/* Source of uniformly distributed 64-bit random numbers. */
typedef uint64_t (*edge_backoff_random_fn)(void *userdata);

/* base_ms >= 1 and cap_ms >= base_ms, else NULL (also NULL on ENOMEM).
 * Uses an internal generator seeded from getrandom(); see set_random. */
edge_backoff *edge_backoff_new(uint32_t base_ms, uint32_t cap_ms);
void edge_backoff_free(edge_backoff *b); /* NULL-safe */

/* Replace the random source (tests inject a seeded one). userdata is
 * borrowed. fn == NULL restores the internal generator. */
void edge_backoff_set_random(edge_backoff *b, edge_backoff_random_fn fn,
			     void *userdata);

/* Change the bounds (on config reload); keeps the attempt count.
 * Returns -EINVAL if base_ms == 0 or cap_ms < base_ms. */
int edge_backoff_set_bounds(edge_backoff *b, uint32_t base_ms, uint32_t cap_ms) EDGE_WUR;

/* Delay in ms before the next attempt; counts the attempt. */
uint32_t edge_backoff_next(edge_backoff *b);

/* Back to attempt 0 after a success. */
void edge_backoff_reset(edge_backoff *b);

/* Attempts counted since the last reset. */
uint64_t edge_backoff_attempts(const edge_backoff *b);

/* min(cap_ms, base_ms * 2^attempt) without overflow for any attempt. */
uint32_t edge_backoff_ceiling(uint32_t base_ms, uint32_t cap_ms,
			      uint64_t attempt);

/* Uniform integer in [0, bound] from a random source, without modulo bias. */
uint64_t edge_backoff_uniform(edge_backoff_random_fn fn, void *userdata,
			      uint64_t bound);

/* splitmix64 step: a small, well-mixed generator for seeded tests and
 * the internal source. state is borrowed and advanced. */
uint64_t edge_backoff_splitmix64(void *state);

#endif
