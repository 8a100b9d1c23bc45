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

const char *itest_data_dir(void)
{
	static char dir[4096];
	const char *env = getenv("EDGE_TEST_DATA");
	const char *root = getenv("EDGE_SOURCE_ROOT");
	struct stat st;
	if (env && *env)
		snprintf(dir, sizeof dir, "%s", env);
	else if (root && *root)
		snprintf(dir, sizeof dir, "%s/tests/data", root);
	else
		snprintf(dir, sizeof dir, "tests/data");
	/* A missing data directory is a failure, never a skip. */
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "FAIL: test data directory %s not found "
				"(set EDGE_TEST_DATA or run through meson test)\n", dir);
		exit(EXIT_FAILURE);
	}
	return dir;
}

const char *itest_data_path(char *buf, size_t n, const char *rel)
{
	snprintf(buf, n, "%s/%s", itest_data_dir(), rel);
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
