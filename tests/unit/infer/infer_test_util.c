#include "infer_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

void *itest_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0) {
		fclose(f);
		return NULL;
	}
	long n = ftell(f);
	rewind(f);
	if (n < 0) {
		fclose(f);
		return NULL;
	}
	void *buf = aligned_alloc(16, ((size_t)n + 16) & ~(size_t)15);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		*len = (size_t)n;
	return buf;
}

void itest_require_shared(void)
{
	const char *dir = getenv("EDGE_SHARED_DIR");
	char path[4096];
	struct stat st;
	if (!dir || !*dir) {
		fprintf(stderr, "SKIP: EDGE_SHARED_DIR is not set (reference models unavailable)\n");
		exit(77);
	}
	snprintf(path, sizeof path, "%s/models/cases.json", dir);
	if (stat(path, &st) != 0) {
		fprintf(stderr, "SKIP: %s not found (reference models unavailable)\n", path);
		exit(77);
	}
}

const char *itest_shared_path(char *buf, size_t n, const char *rel)
{
	itest_require_shared();
	snprintf(buf, n, "%s/%s", getenv("EDGE_SHARED_DIR"), rel);
	return buf;
}

const char *itest_source_path(char *buf, size_t n, const char *rel)
{
	const char *root = getenv("EDGE_SOURCE_ROOT");
	snprintf(buf, n, "%s/%s", root && *root ? root : ".", rel);
	return buf;
}

uint64_t itest_fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
