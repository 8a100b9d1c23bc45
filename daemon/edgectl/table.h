/* Aligned text tables for edgectl's human output. */
#ifndef EDGECTL_TABLE_H
#define EDGECTL_TABLE_H

#include <jansson.h>
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

/* Which integer fields are times in ms since the epoch: the text for 0
 * (e.g. "never"), or NULL for a plain number. */
typedef const char *(*edgectl_time_field_fn)(const char *key);

/* Every field of obj as a two-column row "prefix.key  value", for the
 * `show` commands: objects recurse (prefix.key.sub), an array of scalars
 * is one row ("CONV_2D, SOFTMAX"), an array of objects a row per item
 * (inputs[0], compact JSON), a time field a date (its label without
 * "_ms"), booleans yes/no, null and empty arrays "-". */
void edgectl_table_add_fields(struct edgectl_table *t, const char *prefix, json_t *obj,
			      edgectl_time_field_fn is_time);

#endif
