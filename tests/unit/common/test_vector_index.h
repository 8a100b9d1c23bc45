/* Golden vectors of a binary codec, header-only: a directory under
 * tests/unit/proto/vectors/ with the files and index.txt, one line each:
 *
 *   <kind> <file> <ok|reason> <field|-> [key=value ...]
 *
 * (gen.py beside them writes both). test_vectors_run hands every file to
 * run(kind, bytes, len, err, keys, nkeys), which parses (and checks the
 * keys); a line saying ok must return 0, any other -EPROTO with exactly
 * that reason and field. The file's bytes are allocated exactly, so ASan
 * sees a read past them. */
#ifndef EDGE_TEST_VECTOR_INDEX_H
#define EDGE_TEST_VECTOR_INDEX_H

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_msg_reject.h"

typedef int (*test_vector_fn)(const char *kind, const uint8_t *data, size_t len,
			      struct edge_msg_error *err, char *const *keys, int nkeys);

/* The value of key in the "k=v k=v" list, or NULL. */
static inline const char *test_vector_kv(char *const *keys, int n, const char *key)
{
	size_t kl = strlen(key);

	for (int i = 0; i < n; i++)
		if (strncmp(keys[i], key, kl) == 0 && keys[i][kl] == '=')
			return keys[i] + kl + 1;
	return NULL;
}

static inline uint8_t *test_vector_read(const char *dir, const char *name, size_t *len)
{
	char path[4200];
	uint8_t *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Runs every vector of tests/unit/proto/vectors/<sub> (EDGE_SOURCE_ROOT);
 * returns how many, *valid (may be NULL) of them accepted. */
static inline int test_vectors_run(const char *sub, test_vector_fn run, int *valid)
{
	const char *root = getenv("EDGE_SOURCE_ROOT");
	char dir[4096], path[4200], line[1024];
	int count = 0, ok = 0;
	FILE *idx;

	ck_assert_msg(root != NULL, "EDGE_SOURCE_ROOT not set");
	snprintf(dir, sizeof dir, "%s/tests/unit/proto/vectors/%s", root, sub);
	snprintf(path, sizeof path, "%s/index.txt", dir);
	idx = fopen(path, "r");
	ck_assert_msg(idx != NULL, "cannot open %s", path);
	while (fgets(line, sizeof line, idx)) {
		char *tok[32], *save = NULL, *t;
		struct edge_msg_error err;
		uint8_t *data;
		size_t len;
		int nt = 0, rc;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (t = strtok_r(line, " \n", &save); t && nt < 32; t = strtok_r(NULL, " \n", &save))
			tok[nt++] = t;
		ck_assert_int_ge(nt, 4);
		data = test_vector_read(dir, tok[1], &len);
		memset(&err, 0, sizeof err);
		rc = run(tok[0], data, len, &err, tok + 4, nt - 4);
		if (strcmp(tok[2], "ok") == 0) {
			ck_assert_msg(rc == 0, "%s: %s %s", tok[1], edge_msg_reject_name(err.reason),
				      err.field);
			ok++;
		} else {
			ck_assert_msg(rc == -EPROTO, "%s accepted", tok[1]);
			ck_assert_msg(strcmp(edge_msg_reject_name(err.reason), tok[2]) == 0,
				      "%s: reason %s, want %s", tok[1],
				      edge_msg_reject_name(err.reason), tok[2]);
			ck_assert_msg(strcmp(err.field, strcmp(tok[3], "-") ? tok[3] : "") == 0,
				      "%s: field %s, want %s", tok[1], err.field, tok[3]);
		}
		free(data);
		count++;
	}
	fclose(idx);
	if (valid)
		*valid = ok;
	return count;
}

#endif
