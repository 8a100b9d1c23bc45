#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct edgectl_table {
	int ncols;
	size_t nrows;
	size_t cap;
	char **cells;       /* nrows * ncols */
	size_t *width;      /* per column */
	const char *const *headers;
	bool failed;        /* a row was lost to ENOMEM */
};

struct edgectl_table *edgectl_table_new(int ncols, const char *const *headers)
{
	struct edgectl_table *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->headers = headers;
	t->width = calloc((size_t)ncols, sizeof *t->width);
	if (!t->width) {
		free(t);
		return NULL;
	}
	for (int c = 0; headers && c < ncols; c++)
		t->width[c] = strlen(headers[c]);
	return t;
}

void edgectl_table_free(struct edgectl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

int edgectl_table_add(struct edgectl_table *t, const char *const *cells)
{
	size_t base;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, cap * (size_t)t->ncols * sizeof *n);

		if (!n) {
			t->failed = true;
			return -ENOMEM;
		}
		t->cells = n;
		t->cap = cap;
	}
	base = t->nrows * (size_t)t->ncols;
	for (int c = 0; c < t->ncols; c++) {
		t->cells[base + (size_t)c] = strdup(cells[c] ? cells[c] : "");
		if (!t->cells[base + (size_t)c]) {
			while (c-- > 0)
				free(t->cells[base + (size_t)c]);
			t->failed = true;
			return -ENOMEM;
		}
		if (strlen(t->cells[base + (size_t)c]) > t->width[c])
			t->width[c] = strlen(t->cells[base + (size_t)c]);
	}
	t->nrows++;
	return 0;
}

static void print_row(const struct edgectl_table *t, const char *const *cells, FILE *out)
{
	for (int c = 0; c < t->ncols; c++) {
		if (c == t->ncols - 1)
			fprintf(out, "%s\n", cells[c]);
		else
			fprintf(out, "%-*s  ", (int)t->width[c], cells[c]);
	}
}

int edgectl_table_print(const struct edgectl_table *t, FILE *out)
{
	if (t->headers)
		print_row(t, t->headers, out);
	for (size_t r = 0; r < t->nrows; r++)
		print_row(t, (const char *const *)&t->cells[r * (size_t)t->ncols], out);
	return t->failed ? -ENOMEM : 0;
}

void edgectl_format_time(char *buf, size_t cap, long long ms, const char *none)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "%s", none);
}

/* One scalar (or a compact JSON text for anything else) as a cell. */
static void value_text(char *buf, size_t cap, const char *key, json_t *v,
		       edgectl_time_field_fn is_time)
{
	const char *none = is_time && key ? is_time(key) : NULL;

	if (json_is_string(v)) {
		snprintf(buf, cap, "%s", json_string_value(v));
	} else if (json_is_integer(v) && none) {
		edgectl_format_time(buf, cap, json_integer_value(v), none);
	} else if (json_is_integer(v)) {
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
	} else if (!v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0)) {
		snprintf(buf, cap, "-");
	} else {
		char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
					       JSON_REAL_PRECISION(6));

		snprintf(buf, cap, "%s", text ? text : "?");
		free(text);
	}
}

void edgectl_table_add_fields(struct edgectl_table *t, const char *prefix, json_t *obj,
			      edgectl_time_field_fn is_time)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		char name[96], text[512];

		snprintf(name, sizeof name, "%s%s", prefix, key);
		if (json_is_object(val)) {
			char sub[sizeof name + 1];

			snprintf(sub, sizeof sub, "%s.", name);
			edgectl_table_add_fields(t, sub, val, is_time);
			continue;
		}
		if (json_is_array(val) && json_is_object(json_array_get(val, 0))) {
			json_t *item;
			size_t i;

			json_array_foreach(val, i, item) {
				char row[sizeof name + 24];

				snprintf(row, sizeof row, "%s[%zu]", name, i);
				value_text(text, sizeof text, NULL, item, NULL);
				edgectl_table_add(t, (const char *[]){ row, text });
			}
			continue;
		}
		if (json_is_array(val) && json_array_size(val) > 0) {
			size_t i, used = 0;
			json_t *item;

			text[0] = '\0';
			json_array_foreach(val, i, item) {
				char one[64];
				int w;

				value_text(one, sizeof one, NULL, item, NULL);
				w = snprintf(text + used, sizeof text - used, "%s%s", i ? ", " : "", one);
				if (w < 0 || (size_t)w >= sizeof text - used) {
					memcpy(text + sizeof text - 4, "...", 4);
					break;
				}
				used += (size_t)w;
			}
		} else {
			value_text(text, sizeof text, key, val, is_time);
			/* Shown as a date, so the label loses its unit. */
			if (json_is_integer(val) && is_time && is_time(key) && strlen(name) > 3 &&
			    strcmp(name + strlen(name) - 3, "_ms") == 0)
				name[strlen(name) - 3] = '\0';
		}
		edgectl_table_add(t, (const char *[]){ name, text });
	}
}
