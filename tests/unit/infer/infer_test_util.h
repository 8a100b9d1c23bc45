/* Helpers shared by the engine's loader and model-case tests. */
#ifndef EDGE_INFER_TEST_UTIL_H
#define EDGE_INFER_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Read a whole file into 16-byte aligned memory (free with free()).
 * NULL when it cannot be read. */
void *itest_read_file(const char *path, size_t *len);

/* $EDGE_SHARED_DIR/<rel> into buf; exits 77 (skip) with a message when
 * the shared directory is not available. */
const char *itest_shared_path(char *buf, size_t n, const char *rel);
/* Exit 77 unless $EDGE_SHARED_DIR/models exists. */
void itest_require_shared(void);
/* $EDGE_SOURCE_ROOT/<rel> into buf (source tree paths). */
const char *itest_source_path(char *buf, size_t n, const char *rel);

/* FNV-1a 64 of a byte range, for golden output checksums. */
uint64_t itest_fnv1a(const void *p, size_t n);

#endif
