/* Topic tree: id validation, parsing with reasons, building, filters. */
#include <errno.h>
#include <string.h>

#include "edge_topic.h"
#include "test_proto.h"

START_TEST(id_validator)
{
	char id65[66];

	ck_assert(edge_id_valid_str("node-01"));
	ck_assert(edge_id_valid_str("A_z-9"));
	ck_assert(edge_id_valid_str("x"));
	ck_assert(!edge_id_valid_str(""));
	ck_assert(!edge_id_valid_str(NULL));
	ck_assert(!edge_id_valid_str("a b"));
	ck_assert(!edge_id_valid_str("a/b"));
	ck_assert(!edge_id_valid_str("a+"));
	ck_assert(!edge_id_valid_str("a.b"));
	ck_assert(!edge_id_valid_str("\xc3\xa9"));
	memset(id65, 'n', 65);
	id65[65] = '\0';
	ck_assert(!edge_id_valid_str(id65));
	ck_assert(edge_id_valid(id65, 64));
	ck_assert(!edge_id_valid(id65, 65));
	ck_assert(!edge_id_valid("ab", 0));
	/* "_campaign" is reserved (campaign frames, proto/ota/transfer.md); only
	 * exactly it: its prefixes, extensions and other cases are ids. */
	ck_assert(!edge_id_valid_str("_campaign"));
	ck_assert(!edge_id_valid("_campaign", 9));
	ck_assert(edge_id_valid("_campaign", 8));
	ck_assert(edge_id_valid_str("_campaign2"));
	ck_assert(edge_id_valid_str("_Campaign"));
	ck_assert(edge_id_valid_str("campaign"));
	ck_assert(edge_id_valid_str("x_campaign"));
}
END_TEST

START_TEST(parses_every_type)
{
	static const struct {
		const char *topic;
		enum edge_topic_type type;
		const char *sub;
	} ok[] = {
		{ "edge/v1/node-01/hello", EDGE_TOPIC_HELLO, "" },
		{ "edge/v1/node-01/status", EDGE_TOPIC_STATUS, "" },
		{ "edge/v1/node-01/heartbeat", EDGE_TOPIC_HEARTBEAT, "" },
		{ "edge/v1/node-01/registered", EDGE_TOPIC_REGISTERED, "" },
		{ "edge/v1/node-01/report", EDGE_TOPIC_REPORT, "" },
		{ "edge/v1/node-01/ack", EDGE_TOPIC_ACK, "" },
		{ "edge/v1/node-01/ota/offer", EDGE_TOPIC_OTA, "offer" },
		{ "edge/v1/node-01/ota/chunk/17", EDGE_TOPIC_OTA, "chunk/17" },
		{ "edge/v1/node-01/infer/req", EDGE_TOPIC_INFER, "req" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct edge_topic t;
		enum edge_msg_reject why = EDGE_MSG_REJECT_COUNT;
		int rc = edge_topic_parse(ok[i].topic, strlen(ok[i].topic), &t, &why);

		ck_assert_msg(rc == 0, "%s: %s", ok[i].topic, edge_msg_reject_name(why));
		ck_assert_int_eq(why, EDGE_MSG_OK);
		ck_assert_int_eq(t.type, ok[i].type);
		ck_assert_str_eq(t.id, "node-01");
		ck_assert_uint_eq(t.sub_len, strlen(ok[i].sub));
		ck_assert(memcmp(t.sub, ok[i].sub, t.sub_len) == 0);
	}
}
END_TEST

START_TEST(rejects_with_reason)
{
	char long_topic[300];
	static const struct {
		const char *topic;
		enum edge_msg_reject why;
	} bad[] = {
		{ "", EDGE_MSG_BAD_TOPIC },
		{ "edge", EDGE_MSG_BAD_TOPIC },
		{ "edge/", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1/node-01", EDGE_MSG_BAD_TOPIC },
		{ "/edge/v1/node-01/hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1/node-01/hello/", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1//hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1/+/hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1/node-01/#", EDGE_MSG_BAD_TOPIC },
		{ "Edge/v1/node-01/hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/V1/node-01/hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/v/node-01/hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/v1x/node-01/hello", EDGE_MSG_BAD_TOPIC },
		{ "edge/v2/node-01/hello", EDGE_MSG_UNSUPPORTED_VERSION },
		{ "edge/v10/node-01/hello", EDGE_MSG_UNSUPPORTED_VERSION },
		{ "edge/v01/node-01/hello", EDGE_MSG_UNSUPPORTED_VERSION },
		{ "edge/v1/node 01/hello", EDGE_MSG_BAD_ID },
		{ "edge/v1/n\xc3\xa9/hello", EDGE_MSG_BAD_ID },
		/* Campaign frames' level: no node publishes from there. */
		{ "edge/v1/_campaign/ota/req/answer", EDGE_MSG_BAD_ID },
		{ "edge/v1/_campaign/00000001/frame", EDGE_MSG_BAD_ID },
		{ "edge/v1/node-01/hi", EDGE_MSG_UNKNOWN_TYPE },
		{ "edge/v1/node-01/Hello", EDGE_MSG_UNKNOWN_TYPE },
		{ "edge/v1/node-01/hello/extra", EDGE_MSG_UNKNOWN_TYPE },
		{ "edge/v1/node-01/ota", EDGE_MSG_UNKNOWN_TYPE },
		{ "edge/v1/node-01/infer/r.q", EDGE_MSG_UNKNOWN_TYPE },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct edge_topic t;
		enum edge_msg_reject why = EDGE_MSG_OK;
		int rc = edge_topic_parse(bad[i].topic, strlen(bad[i].topic), &t, &why);

		ck_assert_int_eq(rc, -EPROTO);
		ck_assert_msg(why == bad[i].why, "%s: expected %s, got %s", bad[i].topic,
			      edge_msg_reject_name(bad[i].why), edge_msg_reject_name(why));
	}
	/* An id of 65 characters, and a topic above the length cap. */
	strcpy(long_topic, "edge/v1/");
	memset(long_topic + 8, 'n', 65);
	strcpy(long_topic + 73, "/hello");
	enum edge_msg_reject why;
	ck_assert_int_eq(edge_topic_parse(long_topic, strlen(long_topic), NULL, &why), -EPROTO);
	ck_assert_int_eq(why, EDGE_MSG_BAD_ID);
	memset(long_topic, 'a', sizeof long_topic);
	memcpy(long_topic, "edge/v1/node-01/ota/", 20);
	ck_assert_int_eq(edge_topic_parse(long_topic, 257, NULL, &why), -EPROTO);
	ck_assert_int_eq(why, EDGE_MSG_BAD_TOPIC);
	ck_assert_int_eq(edge_topic_parse(long_topic, 256, NULL, &why), 0);
	/* Embedded NUL inside the given length. */
	ck_assert_int_eq(edge_topic_parse("edge/v1/a\0b/hello", 17, NULL, &why), -EPROTO);
	ck_assert_int_eq(why, EDGE_MSG_BAD_TOPIC);
	/* Length is honoured: the bytes after it are not part of the topic. */
	ck_assert_int_eq(edge_topic_parse("edge/v1/node-01/hellox", 21, NULL, &why), 0);
}
END_TEST

START_TEST(builds_topics_and_filters)
{
	char buf[EDGE_TOPIC_MAX_LEN + 1];
	struct edge_topic t;

	for (int type = EDGE_TOPIC_HELLO; type < EDGE_TOPIC_TYPE_COUNT; type++) {
		const char *sub = (type == EDGE_TOPIC_OTA || type == EDGE_TOPIC_INFER) ? "a/b" : NULL;
		int n = edge_topic_build(buf, sizeof buf, "node-01", (enum edge_topic_type)type, sub);

		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(strlen(buf), (size_t)n);
		ck_assert_int_eq(edge_topic_parse(buf, (size_t)n, &t, NULL), 0);
		ck_assert_int_eq(t.type, type);
		ck_assert_str_eq(t.id, "node-01");
	}
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "n", EDGE_TOPIC_HELLO, NULL), 15);
	ck_assert_str_eq(buf, "edge/v1/n/hello");
	ck_assert_int_eq(edge_topic_build(buf, 15, "n", EDGE_TOPIC_HELLO, NULL), -ENOSPC);
	ck_assert_int_eq(edge_topic_build(buf, 16, "n", EDGE_TOPIC_HELLO, NULL), 15);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "bad id", EDGE_TOPIC_HELLO, NULL), -EINVAL);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "_campaign", EDGE_TOPIC_OTA, "frame"),
			 -EINVAL);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "n", EDGE_TOPIC_NONE, NULL), -EINVAL);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "n", EDGE_TOPIC_HELLO, "x"), -EINVAL);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "n", EDGE_TOPIC_OTA, NULL), -EINVAL);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "n", EDGE_TOPIC_OTA, "a//b"), -EINVAL);
	ck_assert_int_eq(edge_topic_build(buf, sizeof buf, "n", EDGE_TOPIC_OTA, "#"), -EINVAL);

	ck_assert_int_gt(edge_topic_filter(buf, sizeof buf, EDGE_TOPIC_HEARTBEAT), 0);
	ck_assert_str_eq(buf, "edge/v1/+/heartbeat");
	ck_assert_int_gt(edge_topic_filter(buf, sizeof buf, EDGE_TOPIC_OTA), 0);
	ck_assert_str_eq(buf, "edge/v1/+/ota/#");
	ck_assert_int_eq(edge_topic_filter(buf, sizeof buf, EDGE_TOPIC_TYPE_COUNT), -EINVAL);
}
END_TEST

START_TEST(names_and_directions)
{
	ck_assert_str_eq(edge_topic_type_name(EDGE_TOPIC_HEARTBEAT), "heartbeat");
	ck_assert_str_eq(edge_topic_type_name((enum edge_topic_type)99), "none");
	ck_assert_int_eq(edge_topic_direction(EDGE_TOPIC_HELLO), EDGE_TOPIC_TO_GATEWAY);
	ck_assert_int_eq(edge_topic_direction(EDGE_TOPIC_REGISTERED), EDGE_TOPIC_TO_NODE);
	ck_assert_int_eq(edge_topic_direction(EDGE_TOPIC_OTA), EDGE_TOPIC_BOTH);
	ck_assert_int_eq(edge_topic_direction(EDGE_TOPIC_NONE), 0);
}
END_TEST

TCase *test_topic_tcase(void)
{
	TCase *tc = tcase_create("topic");

	tcase_add_test(tc, id_validator);
	tcase_add_test(tc, parses_every_type);
	tcase_add_test(tc, rejects_with_reason);
	tcase_add_test(tc, builds_topics_and_filters);
	tcase_add_test(tc, names_and_directions);
	return tc;
}
