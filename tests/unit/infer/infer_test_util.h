/* Helpers shared by the engine's loader and model-case tests. */
#ifndef EDGE_INFER_TEST_UTIL_H
#define EDGE_INFER_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Read a whole file into 16-byte aligned memory (free with free()).
 * NULL when it cannot be read. */
void *itest_read_file(const char *path, size_t *len);

/* The test data directory (tests/data): $EDGE_TEST_DATA, else
 * $EDGE_SOURCE_ROOT/tests/data. Exits with a failure and a message when it
 * does not exist: missing data never skips a test. */
const char *itest_data_dir(void);
/* <data dir>/<rel> into buf. */
const char *itest_data_path(char *buf, size_t n, const char *rel);
/* $EDGE_SOURCE_ROOT/<rel> into buf (source tree paths). */
const char *itest_source_path(char *buf, size_t n, const char *rel);

/* FNV-1a 64 of a byte range, for golden output checksums. */
uint64_t itest_fnv1a(const void *p, size_t n);

#endif
