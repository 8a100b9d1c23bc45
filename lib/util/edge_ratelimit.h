/* Per-key rate limiter for log lines about bad input (key = device id).
 *
 * At most `burst` lines per key are allowed in each `interval_ms` window;
 * the window of a key opens with its first line. Lines beyond the burst are
 * counted, and the first line allowed after them reports how many were
 * suppressed, so it can say "(N similar suppressed)".
 *
 * Memory is fixed at creation: a table of `capacity` keys. When a new key
 * finds no free slot among its probe group, the entry whose window opened
 * longest ago is evicted (its pending suppressed count is lost and counted
 * in the stats), so a flood of spoofed ids cannot grow memory and cannot
 * starve the rate limit of a busy key for long. Keys longer than
 * EDGE_RATELIMIT_KEY_MAX bytes are truncated: such keys share an entry.
 * Hashing is seeded per table, so crafted ids cannot aim at one slot.
 *
 * A per-key limit cannot stop a flood of lines that each carry a new
 * (spoofed) key, so an optional total budget caps the lines allowed per
 * window across all keys; lines refused by it count as suppressed for
 * their key like any other.
 *
 * Time is passed in by the caller (monotonic ms, see edge_time.h).
 * Not thread-safe; use from one thread (the event loop). */
#ifndef EDGE_RATELIMIT_H
#define EDGE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

#define EDGE_RATELIMIT_KEY_MAX 64

typedef struct edge_ratelimit edge_ratelimit;

/* capacity >= 1 keys (rounded up to a power of two, at most 1<<24);
 * interval_ms == 0 disables limiting (everything is allowed); burst >= 1.
 * NULL on invalid arguments or ENOMEM. */
edge_ratelimit *edge_ratelimit_new(size_t capacity, uint64_t interval_ms,
				   uint32_t burst);
void edge_ratelimit_free(edge_ratelimit *rl); /* NULL-safe */

/* New limits (config reload); existing windows keep their start.
 * -EINVAL if burst == 0. */
int edge_ratelimit_set_limits(edge_ratelimit *rl, uint64_t interval_ms,
			      uint32_t burst) EDGE_WUR;

/* Lines allowed per interval across all keys; 0 (the default) = no total
 * limit. The total window opens with the first line after the last one
 * expired. */
void edge_ratelimit_set_total(edge_ratelimit *rl, uint32_t total_burst);

/* May the caller log a line for `key` (borrowed) at `now_ms`?
 * true: log it; *suppressed (may be NULL) gets the number of lines for this
 * key suppressed since its last allowed line (usually 0).
 * false: don't log; the line is counted as suppressed. */
bool edge_ratelimit_allow(edge_ratelimit *rl, const char *key,
			  uint64_t now_ms, uint64_t *suppressed);

struct edge_ratelimit_stats {
	size_t capacity;       /* slots in the table */
	size_t keys;           /* slots in use */
	size_t memory_bytes;   /* fixed at creation */
	uint64_t allowed;      /* lines allowed */
	uint64_t suppressed;   /* lines suppressed */
	uint64_t evictions;    /* entries replaced by a new key */
	uint64_t lost_suppressed; /* suppressed counts dropped with evictions */
	uint64_t total_suppressed; /* of `suppressed`: refused by the total budget */
};
void edge_ratelimit_stats(const edge_ratelimit *rl,
			  struct edge_ratelimit_stats *out);

#endif
