/* Aligned text tables for edgectl's human output. */
#ifndef EDGECTL_TABLE_H
#define EDGECTL_TABLE_H

#include <stdio.h>

struct edgectl_table;

/* ncols columns with the given headers (borrowed; NULL = no header row).
 * NULL on ENOMEM. */
struct edgectl_table *edgectl_table_new(int ncols, const char *const *headers);
void edgectl_table_free(struct edgectl_table *t); /* NULL-safe */

/* Append one row of ncols cells (copied; NULL prints as ""). Returns 0 or
 * -ENOMEM; a failed row is also remembered, so callers may check once at
 * print time. */
int edgectl_table_add(struct edgectl_table *t, const char *const *cells);

/* Print with columns padded to their widest cell (the last one unpadded).
 * Returns 0, or -ENOMEM if a row could not be added (the table is printed
 * without it). */
int edgectl_table_print(const struct edgectl_table *t, FILE *out);

/* A time in ms since the epoch as a table cell, "2026-11-29 19:20:01" in
 * UTC; `none` (e.g. "never", "-") for 0 or less. */
void edgectl_format_time(char *buf, size_t cap, long long ms, const char *none);

#endif
