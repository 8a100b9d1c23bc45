/* Seeded mutations of a full config: every load either succeeds with a
 * config that passes its checks and round-trips, or fails with a located
 * message and leaves the config untouched. Bounded in count; deterministic. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_backoff.h"
#include "test_config.h"

enum { ROUNDS = 3000 };

static char *dump(const edge_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(edge_config_dump(c, f, true), 0);
	fclose(f);
	return buf;
}

/* Every key written out, uncommented, so mutations hit real values. */
static char *full_config(size_t *len)
{
	edge_config *c = edge_config_new();
	char *text = dump(c);

	edge_config_free(c);
	*len = strlen(text);
	return text;
}

static void mutate(uint64_t *rng, char *buf, size_t *len, size_t cap)
{
	static const char interesting[] = "=[]#;\n\r\t -/.0123456789xkM\xff\xef";
	unsigned edits = 1 + (unsigned)(edge_backoff_splitmix64(rng) % 4);

	for (unsigned e = 0; e < edits && *len > 0; e++) {
		size_t at = edge_backoff_splitmix64(rng) % *len;
		switch (edge_backoff_splitmix64(rng) % 5) {
		case 0: /* replace a byte */
			buf[at] = interesting[edge_backoff_splitmix64(rng) %
					      (sizeof interesting - 1)];
			break;
		case 1: /* NUL byte */
			buf[at] = '\0';
			break;
		case 2: { /* delete a range */
			size_t n = edge_backoff_splitmix64(rng) % 16;
			if (n > *len - at)
				n = *len - at;
			memmove(buf + at, buf + at + n, *len - at - n);
			*len -= n;
			break;
		}
		case 3: /* truncate */
			*len = at;
			break;
		case 4: { /* repeat a chunk (duplicate keys, long lines) */
			size_t n = edge_backoff_splitmix64(rng) % 64;
			if (n > *len - at)
				n = *len - at;
			if (*len + n <= cap) {
				memmove(buf + at + n, buf + at, *len - at);
				*len += n;
			}
			break;
		}
		}
	}
}

START_TEST(mutated_configs_fail_cleanly_or_load_consistently)
{
	size_t base_len;
	char *base = full_config(&base_len);
	size_t cap = base_len + 4096;
	char *buf = malloc(cap);
	uint64_t rng = 20240601;
	int loaded = 0, refused = 0;
	char err[1024];

	ck_assert_ptr_nonnull(buf);
	for (int round = 0; round < ROUNDS; round++) {
		size_t len = base_len;
		memcpy(buf, base, base_len);
		mutate(&rng, buf, &len, cap);

		edge_config *c = edge_config_new();
		ck_assert_int_eq(edge_config_set(c, "mqtt.port", "1999", err, sizeof err), 0);
		char *before = dump(c);
		err[0] = '\0';
		int rc = edge_config_load_buffer(c, "m.conf", buf, len, err, sizeof err);
		if (rc == 0) {
			loaded++;
			ck_assert_int_eq(edge_config_check(c, err, sizeof err), 0);
			char *text = dump(c);
			edge_config *d = edge_config_new();
			ck_assert_msg(edge_config_load_buffer(d, "dump", text, strlen(text),
							      err, sizeof err) == 0,
				      "round %d: dump does not load: %s", round, err);
			char *again = dump(d);
			ck_assert_str_eq(text, again);
			free(again);
			free(text);
			edge_config_free(d);
		} else {
			refused++;
			ck_assert_msg(rc == EDGE_ECONFIG, "round %d: rc %d", round, rc);
			ck_assert_msg(strncmp(err, "m.conf:", 7) == 0,
				      "round %d: message not located: %s", round, err);
			char *after = dump(c);
			ck_assert_str_eq(before, after);
			free(after);
		}
		free(before);
		edge_config_free(c);
	}
	/* The mutations exercise both outcomes. */
	ck_assert_int_gt(loaded, ROUNDS / 30);
	ck_assert_int_gt(refused, ROUNDS / 2);
	free(buf);
	free(base);
}
END_TEST

TCase *test_config_robustness_tcase(void)
{
	TCase *tc = tcase_create("robustness");

	tcase_add_test(tc, mutated_configs_fail_cleanly_or_load_consistently);
	return tc;
}
