/* Monotonic clock in milliseconds, the time base of every timeout, backoff
 * and rate limit in edged (never the wall clock, which can jump). */
#ifndef EDGE_TIME_H
#define EDGE_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t edge_time_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
