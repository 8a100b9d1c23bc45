/* The simulator's malformed kinds against proto's parser: each one is
 * rejected, for exactly the reason the simulator tells the tests to expect,
 * and together they cover at least 20 distinct reasons. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edge_node_msg.h"
#include "sim_malformed.h"
#include "sim_msgs.h"
#include "test_run.h"

START_TEST(each_kind_rejected_for_its_reason)
{
	const struct sim_malformed_kind *k = &sim_malformed_kinds[_i];
	struct sim_malformed_msg m;
	ck_assert_int_eq(sim_malformed_build(k, "sim-00042", 30, &m), 0);
	struct edge_node_msg out;
	struct edge_msg_error err;
	memset(&err, 0, sizeof(err));
	int rc = edge_msg_parse_node(m.topic, strlen(m.topic), m.payload, m.len,
				     &out, &err);
	free(m.payload);
	ck_assert_msg(rc == -EPROTO, "%s: accepted", k->name);
	ck_assert_msg(err.reason == k->expect, "%s: rejected as %s, expected %s",
		      k->name, edge_msg_reject_name(err.reason),
		      edge_msg_reject_name(k->expect));
}
END_TEST

START_TEST(kinds_cover_twenty_reasons)
{
	int seen[EDGE_MSG_REJECT_COUNT] = {0};
	int distinct = 0;
	for (size_t i = 0; i < sim_malformed_count; i++)
		if (!seen[sim_malformed_kinds[i].expect]++)
			distinct++;
	ck_assert_int_ge(distinct, 20);
	ck_assert_ptr_nonnull(sim_malformed_find("bad_json"));
	ck_assert_ptr_null(sim_malformed_find("no-such-kind"));
}
END_TEST

START_TEST(valid_messages_parse)
{
	char buf[EDGE_MSG_MAX_PAYLOAD + 1], topic[EDGE_TOPIC_MAX_LEN + 1];
	struct edge_node_msg out;
	struct edge_msg_error err;
	int n = sim_msgs_encode_hello(buf, sizeof(buf), "sim-00001", 30);
	ck_assert_int_gt(n, 0);
	ck_assert_int_gt(sim_msgs_topic(topic, sizeof(topic), "sim-00001", EDGE_TOPIC_HELLO), 0);
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), buf, (size_t)n, &out, &err), 0);
	ck_assert_str_eq(out.u.hello.id, "sim-00001");
	ck_assert_uint_eq(out.u.hello.heartbeat_s, 30);

	n = sim_msgs_encode_heartbeat(buf, sizeof(buf), 7, 120, 1);
	ck_assert_int_gt(n, 0);
	ck_assert_int_gt(sim_msgs_topic(topic, sizeof(topic), "sim-00001", EDGE_TOPIC_HEARTBEAT), 0);
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), buf, (size_t)n, &out, &err), 0);
	ck_assert_uint_eq(out.u.heartbeat.seq, 7);

	n = sim_msgs_encode_status(buf, sizeof(buf), EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_LOST);
	ck_assert_int_gt(n, 0);
	ck_assert_int_gt(sim_msgs_topic(topic, sizeof(topic), "sim-00001", EDGE_TOPIC_STATUS), 0);
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), buf, (size_t)n, &out, &err), 0);
	ck_assert_int_eq(out.u.status.state, EDGE_MSG_STATE_OFFLINE);
	ck_assert_int_eq(out.u.status.reason, EDGE_MSG_STATUS_LOST);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sim-malformed");
	TCase *tc = tcase_create("kinds");
	tcase_add_loop_test(tc, each_kind_rejected_for_its_reason, 0,
			    (int)sim_malformed_count);
	tcase_add_test(tc, kinds_cover_twenty_reasons);
	tcase_add_test(tc, valid_messages_parse);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
