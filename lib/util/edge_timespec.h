/* An operator's point in time ("--since 2026-12-01", "--since 24h") as wall
 * milliseconds since the epoch.
 *
 * Accepted forms:
 *   now
 *   N UNIT, optionally with a leading '-': that long before now ("24h" and
 *     "-24h" are the same); UNIT is s, m, h, d (24 h) or w (7 d)
 *   YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]|(+|-)HHMM]
 *     ISO 8601; without an offset the time is UTC (edgectl prints UTC)
 *
 * Pure arithmetic: no locale, no TZ, no timegm (C99). Years 1970..9999. */
#ifndef EDGE_TIMESPEC_H
#define EDGE_TIMESPEC_H

#include <stdint.h>

#include "edge_error.h"

/* Parses text (whole, no surrounding blanks). now_ms is the wall clock the
 * relative forms count back from. Returns 0 and *out_ms, or -EINVAL (not a
 * time: empty, unknown form or unit, no such date or time of day, bad
 * offset, trailing text) or -ERANGE (before 1970, after 9999, overflow);
 * *why (may be NULL) gets a short static reason either way ("" on success). */
EDGE_WUR int edge_timespec_parse(const char *text, int64_t now_ms, int64_t *out_ms,
				 const char **why);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t edge_timespec_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
