/* The test data of the tree (tests/data, found through EDGE_TEST_DATA as
 * meson test sets it): a model file read whole. Header-only. */
#ifndef EDGE_TEST_DATA_H
#define EDGE_TEST_DATA_H

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tests/data/models/<name> into a new malloc'd buffer; *len its size. Ends
 * the test when it cannot be read. */
static inline uint8_t *test_data_model(const char *name, size_t *len)
{
	const char *data = getenv("EDGE_TEST_DATA");
	char path[PATH_MAX];
	FILE *f;
	long n;
	uint8_t *buf;

	snprintf(path, sizeof path, "%s/models/%s", data ? data : "tests/data", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s (run through meson test)", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
