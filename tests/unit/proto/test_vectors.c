/* Golden vectors (vectors/index.txt): every file must give exactly its
 * expected result, reason and field; every valid one must survive
 * encode → parse unchanged (the encoder's output is a fixpoint). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_node_msg.h"
#include "edge_ota_package.h"
#include "edge_report.h"
#include "test_proto.h"

static char vectors_dir[4096];

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	/* Exactly n bytes (at least one to be a valid allocation): parsers
	 * must not need a terminator, and ASan sees any overread. */
	buf = malloc(n > 0 ? (size_t)n : 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A manifest's bytes: parse, and the canonical encoding is a fixpoint. */
static int run_manifest(const void *data, size_t len, struct edge_msg_error *err)
{
	static struct edge_ota_manifest a, b;
	static char enc1[EDGE_OTA_MANIFEST_MAX + 1], enc2[EDGE_OTA_MANIFEST_MAX + 1];
	int rc, n1, n2;

	rc = edge_ota_manifest_parse(data, len, &a, err);
	if (rc != 0)
		return rc;
	n1 = edge_ota_manifest_encode(enc1, sizeof enc1, &a);
	ck_assert_int_gt(n1, 0);
	ck_assert_int_eq(edge_ota_manifest_parse(enc1, (size_t)n1, &b, NULL), 0);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
	n2 = edge_ota_manifest_encode(enc2, sizeof enc2, &b);
	ck_assert_int_eq(n1, n2);
	ck_assert(memcmp(enc1, enc2, (size_t)n1) == 0);
	return 0;
}

/* A whole package (or its head): the container, then its manifest. */
static int run_package(const void *data, size_t len, struct edge_msg_error *err)
{
	struct edge_ota_container c;
	int rc = edge_ota_container_parse(data, len, &c, err);

	if (rc != 0)
		return rc;
	return run_manifest(c.manifest, c.manifest_len, err);
}

/* Parse with the parser for `kind`; on success re-encode and check that
 * the canonical encoding reproduces itself. */
static int run_vector(const char *kind, const char *topic, const char *data,
		      size_t len, struct edge_msg_error *err)
{
	static union {
		struct edge_msg_hello hello;
		struct edge_msg_status status;
		struct edge_msg_heartbeat heartbeat;
		struct edge_msg_registered registered;
		struct edge_node_msg node;
		struct edge_msg_report report;
		struct edge_msg_ack ack;
	} a, b;
	/* A report's canonical form may be longer than what was received
	 * ("1e9" becomes "1000000000"). */
	static char enc1[2 * EDGE_MSG_MAX_PAYLOAD], enc2[2 * EDGE_MSG_MAX_PAYLOAD];
	int rc, n1 = 0, n2 = 0;

#define ROUND_TRIP(type)                                                        \
	do {                                                                    \
		rc = edge_msg_parse_##type(data, len, &a.type, err);           \
		if (rc != 0)                                                    \
			return rc;                                              \
		n1 = edge_msg_encode_##type(enc1, sizeof enc1, &a.type);       \
		ck_assert_int_gt(n1, 0);                                        \
		ck_assert_int_eq(edge_msg_parse_##type(enc1, (size_t)n1, &b.type, NULL), 0); \
		n2 = edge_msg_encode_##type(enc2, sizeof enc2, &b.type);       \
	} while (0)

	if (strcmp(kind, "hello") == 0)
		ROUND_TRIP(hello);
	else if (strcmp(kind, "status") == 0)
		ROUND_TRIP(status);
	else if (strcmp(kind, "heartbeat") == 0)
		ROUND_TRIP(heartbeat);
	else if (strcmp(kind, "registered") == 0)
		ROUND_TRIP(registered);
	else if (strcmp(kind, "report") == 0) {
		rc = edge_msg_parse_report(data, len, &a.report, err);
		if (rc != 0)
			return rc;
		n1 = edge_msg_encode_report(enc1, sizeof enc1, a.report.epoch,
					    a.report.oldest, a.report.events,
					    a.report.n_events);
		ck_assert_int_gt(n1, 0);
		ck_assert_int_eq(edge_msg_parse_report(enc1, (size_t)n1, &b.report, NULL), 0);
		ck_assert(memcmp(&a.report, &b.report, sizeof a.report) == 0);
		n2 = edge_msg_encode_report(enc2, sizeof enc2, b.report.epoch,
					    b.report.oldest, b.report.events,
					    b.report.n_events);
	} else if (strcmp(kind, "ack") == 0) {
		ROUND_TRIP(ack);
		ck_assert(memcmp(&a.ack, &b.ack, sizeof a.ack) == 0);
	} else if (strcmp(kind, "node") == 0)
		return edge_msg_parse_node(topic, strlen(topic), data, len, &a.node, err);
	else if (strcmp(kind, "ota") == 0)
		return run_package(data, len, err);
	else if (strcmp(kind, "manifest") == 0)
		return run_manifest(data, len, err);
	else
		ck_abort_msg("unknown vector kind %s", kind);
#undef ROUND_TRIP
	ck_assert_int_eq(n1, n2);
	ck_assert(memcmp(enc1, enc2, (size_t)n1) == 0);
	return 0;
}

START_TEST(golden_vectors)
{
	char path[4400], line[512];
	FILE *index;
	int count = 0, valid = 0;
	unsigned seen[EDGE_MSG_REJECT_COUNT] = { 0 };
	int distinct = 0;

	snprintf(path, sizeof path, "%s/index.txt", vectors_dir);
	index = fopen(path, "r");
	ck_assert_msg(index != NULL, "cannot open %s", path);
	while (fgets(line, sizeof line, index)) {
		char kind[32], topic[300], file[256], expect[64], field[64];
		struct edge_msg_error err;
		size_t len;
		char *data;
		int rc;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		ck_assert_int_eq(sscanf(line, "%31s %299s %255s %63s %63s", kind, topic,
					file, expect, field), 5);
		snprintf(path, sizeof path, "%s/%s", vectors_dir, file);
		data = read_file(path, &len);
		memset(&err, 0xa5, sizeof err);
		rc = run_vector(kind, topic, data, len, &err);
		free(data);
		count++;
		if (strcmp(expect, "ok") == 0) {
			ck_assert_msg(rc == 0, "%s: expected ok, got %s (field '%s')", file,
				      edge_msg_reject_name(err.reason), err.field);
			ck_assert_int_eq(err.reason, EDGE_MSG_OK);
			valid++;
			continue;
		}
		ck_assert_msg(rc == -EPROTO, "%s: expected %s, got rc %d", file, expect, rc);
		ck_assert_msg(strcmp(edge_msg_reject_name(err.reason), expect) == 0,
			      "%s: expected %s, got %s (field '%s')", file, expect,
			      edge_msg_reject_name(err.reason), err.field);
		if (strcmp(field, "-") != 0)
			ck_assert_msg(strcmp(err.field, field) == 0,
				      "%s: expected field '%s', got '%s'", file, field, err.field);
		if (!seen[err.reason]++)
			distinct++;
	}
	fclose(index);
	ck_assert_int_ge(count, 100);
	ck_assert_int_ge(valid, 20);
	/* Every reject reason a payload or topic can trigger is covered. */
	ck_assert_int_eq(distinct, EDGE_MSG_REJECT_COUNT - 1);
}
END_TEST

START_TEST(every_truncation_of_valid_vectors_is_rejected)
{
	static const char *const files[] = {
		"hello/valid_full.json", "status/valid_will_lost.json",
		"heartbeat/valid_full.json", "registered/valid_refused_limit.json",
		"report/valid_example.json", "ack/valid_example.json",
	};
	static const char *const kinds[] = { "hello", "status", "heartbeat", "registered",
					     "report", "ack" };
	char path[4400];

	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		char *data;

		snprintf(path, sizeof path, "%s/%s", vectors_dir, files[f]);
		data = read_file(path, &len);
		for (size_t cut = 0; cut < len; cut++) {
			char *copy = malloc(cut ? cut : 1);
			struct edge_msg_error err;

			memcpy(copy, data, cut);
			int rc = run_vector(kinds[f], "-", copy, cut, &err);
			free(copy);
			ck_assert_msg(rc == -EPROTO, "%s cut at %zu accepted", files[f], cut);
			ck_assert(err.reason == EDGE_MSG_BAD_JSON || err.reason == EDGE_MSG_EMPTY ||
				  err.reason == EDGE_MSG_BAD_NUMBER);
		}
		free(data);
	}
}
END_TEST

static void find_vectors(void)
{
	const char *root = getenv("EDGE_SOURCE_ROOT");

	ck_assert_msg(root != NULL, "EDGE_SOURCE_ROOT is not set (run through meson test)");
	snprintf(vectors_dir, sizeof vectors_dir, "%s/tests/unit/proto/vectors", root);
}

TCase *test_vectors_tcase(void)
{
	TCase *tc = tcase_create("vectors");

	tcase_add_checked_fixture(tc, find_vectors, NULL);
	tcase_add_test(tc, golden_vectors);
	tcase_add_test(tc, every_truncation_of_valid_vectors_is_rejected);
	return tc;
}
