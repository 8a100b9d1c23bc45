/* A scratch directory per test (removed afterwards) for real files: database
 * files of the store and registry suites. */
#ifndef EDGE_TEST_TMPDIR_H
#define EDGE_TEST_TMPDIR_H

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct test_tmpdir {
	char dir[PATH_MAX];
};

static inline void test_tmpdir_make(struct test_tmpdir *t)
{
	const char *base = getenv("TMPDIR");

	snprintf(t->dir, sizeof t->dir, "%s/edge-test-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_msg(mkdtemp(t->dir) != NULL, "mkdtemp(%s) failed", t->dir);
}

/* path = dir/name, in a static-free buffer owned by the caller. */
static inline void test_tmpdir_path(const struct test_tmpdir *t, const char *name,
				    char *out, size_t out_len)
{
	int n = snprintf(out, out_len, "%s/%s", t->dir, name);

	ck_assert_msg(n > 0 && (size_t)n < out_len, "path too long");
}

static inline void test_tmpdir_remove(struct test_tmpdir *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[PATH_MAX + 256];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(t->dir);
}

#endif
