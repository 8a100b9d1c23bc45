#include "table.h"

#include <errno.h>
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
