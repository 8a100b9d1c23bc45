/* Node messages: encode → parse round trips, encoder validation, the
 * reject-reason name table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edge_node_msg.h"
#include "test_proto.h"

static void fill_hello(struct edge_msg_hello *h)
{
	memset(h, 0, sizeof *h);
	strcpy(h->id, "node-01");
	strcpy(h->fw, "1.4.2+git.3");
	strcpy(h->runtime_name, "tflm");
	strcpy(h->runtime_version, "2.14.0");
	h->n_ops = 3;
	strcpy(h->ops[0], "CONV_2D");
	strcpy(h->ops[1], "FULLY_CONNECTED");
	strcpy(h->ops[2], "SOFTMAX");
	h->ram_bytes = 262144;
	h->flash_bytes = 1048576;
	h->arena_bytes = 65536;
	strcpy(h->sensor, "accel-3axis");
	h->has_model = 1;
	strcpy(h->model.name, "kws");
	strcpy(h->model.version, "1.0.3");
	strcpy(h->model.sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	h->heartbeat_s = 30;
}

START_TEST(hello_round_trip)
{
	struct edge_msg_hello h, back;
	struct edge_msg_error err;
	char buf[EDGE_MSG_MAX_PAYLOAD];

	fill_hello(&h);
	int n = edge_msg_encode_hello(buf, sizeof buf, &h);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_hello(buf, (size_t)n, &back, &err), 0);
	ck_assert_int_eq(err.reason, EDGE_MSG_OK);
	h.proto = EDGE_PROTO_VERSION;
	ck_assert(memcmp(&h, &back, sizeof h) == 0);

	/* Without a model, and with the most ops. */
	h.has_model = 0;
	memset(&h.model, 0, sizeof h.model);
	h.n_ops = EDGE_MSG_MAX_OPS;
	for (int i = 0; i < EDGE_MSG_MAX_OPS; i++)
		snprintf(h.ops[i], sizeof h.ops[i], "OP_%028d", i);
	n = edge_msg_encode_hello(buf, sizeof buf, &h);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, EDGE_MSG_MAX_PAYLOAD);
	ck_assert_int_eq(edge_msg_parse_hello(buf, (size_t)n, &back, NULL), 0);
	ck_assert(memcmp(&h, &back, sizeof h) == 0);
}
END_TEST

START_TEST(hello_encoder_validates)
{
	struct edge_msg_hello h;
	char buf[EDGE_MSG_MAX_PAYLOAD];

	fill_hello(&h);
	strcpy(h.id, "bad id");
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, &h), -EINVAL);
	fill_hello(&h);
	h.arena_bytes = h.ram_bytes + 1;
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, &h), -EINVAL);
	fill_hello(&h);
	strcpy(h.ops[1], "lower");
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, &h), -EINVAL);
	fill_hello(&h);
	h.model.sha256[0] = 'G';
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, &h), -EINVAL);
	fill_hello(&h);
	h.heartbeat_s = 1;
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, &h), -EINVAL);
	fill_hello(&h);
	memset(h.fw, 'x', sizeof h.fw); /* not terminated */
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, &h), -EINVAL);
	fill_hello(&h);
	ck_assert_int_eq(edge_msg_encode_hello(buf, 40, &h), -ENOSPC);
	ck_assert_int_eq(edge_msg_encode_hello(buf, sizeof buf, NULL), -EINVAL);
}
END_TEST

START_TEST(status_round_trip)
{
	static const struct edge_msg_status cases[] = {
		{ 1, EDGE_MSG_STATE_ONLINE, EDGE_MSG_STATUS_BOOT, "boot" },
		{ 1, EDGE_MSG_STATE_ONLINE, EDGE_MSG_STATUS_NONE, "" },
		{ 1, EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_LOST, "lost" },
		{ 1, EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_OTA, "ota" },
		{ 1, EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_OTHER, "brownout" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct edge_msg_status back;
		int n = edge_msg_encode_status(buf, sizeof buf, &cases[i]);

		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(edge_msg_parse_status(buf, (size_t)n, &back, NULL), 0);
		ck_assert_int_eq(back.state, cases[i].state);
		ck_assert_int_eq(back.reason, cases[i].reason);
		ck_assert_str_eq(back.reason_text, cases[i].reason_text);
	}
	/* The last will a node registers. */
	struct edge_msg_status will = { 1, EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_LOST, "" };
	ck_assert_int_gt(edge_msg_encode_status(buf, sizeof buf, &will), 0);
	ck_assert_str_eq(buf, "{\"proto\":1,\"state\":\"offline\",\"reason\":\"lost\"}");

	struct edge_msg_status bad = { 1, EDGE_MSG_STATE_ONLINE, EDGE_MSG_STATUS_LOST, "" };
	ck_assert_int_eq(edge_msg_encode_status(buf, sizeof buf, &bad), -EINVAL);
	struct edge_msg_status hidden = { 1, EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_OTHER, "lost" };
	ck_assert_int_eq(edge_msg_encode_status(buf, sizeof buf, &hidden), -EINVAL);
	struct edge_msg_status nostate = { 1, (enum edge_msg_state)0, EDGE_MSG_STATUS_NONE, "" };
	ck_assert_int_eq(edge_msg_encode_status(buf, sizeof buf, &nostate), -EINVAL);
}
END_TEST

START_TEST(heartbeat_round_trip)
{
	struct edge_msg_heartbeat hb, back;
	char buf[512];

	memset(&hb, 0, sizeof hb);
	hb.proto = 1;
	hb.seq = 4294967295u;
	hb.uptime_s = EDGE_MSG_UINT_MAX;
	hb.inferences = 123456789012ull;
	hb.anomalies = 7;
	hb.mqtt_reconnects = 2;
	hb.free_heap_bytes = 40000;
	hb.has_min_free_heap = 1;
	hb.min_free_heap_bytes = 39000;
	hb.has_rssi = 1;
	hb.rssi_dbm = -127;
	int n = edge_msg_encode_heartbeat(buf, sizeof buf, &hb);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_heartbeat(buf, (size_t)n, &back, NULL), 0);
	ck_assert(memcmp(&hb, &back, sizeof hb) == 0);

	hb.uptime_s = EDGE_MSG_UINT_MAX + 1;
	ck_assert_int_eq(edge_msg_encode_heartbeat(buf, sizeof buf, &hb), -EINVAL);
	hb.uptime_s = 1;
	hb.rssi_dbm = 3;
	ck_assert_int_eq(edge_msg_encode_heartbeat(buf, sizeof buf, &hb), -EINVAL);
	hb.has_rssi = 0;
	hb.min_free_heap_bytes = hb.free_heap_bytes + 1;
	ck_assert_int_eq(edge_msg_encode_heartbeat(buf, sizeof buf, &hb), -EINVAL);
}
END_TEST

START_TEST(registered_round_trip)
{
	struct edge_msg_registered r, back;
	char buf[512];

	memset(&r, 0, sizeof r);
	r.proto = 1;
	r.accepted = 1;
	r.heartbeat_s = 30;
	r.stale_after = 3;
	int n = edge_msg_encode_registered(buf, sizeof buf, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_registered(buf, (size_t)n, &back, NULL), 0);
	ck_assert(memcmp(&r, &back, sizeof r) == 0);

	memset(&r, 0, sizeof r);
	r.refusal = EDGE_MSG_REFUSE_DEVICE_LIMIT;
	strcpy(r.detail, "device limit reached \"500\"");
	n = edge_msg_encode_registered(buf, sizeof buf, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_registered(buf, (size_t)n, &back, NULL), 0);
	ck_assert_int_eq(back.accepted, 0);
	ck_assert_int_eq(back.refusal, EDGE_MSG_REFUSE_DEVICE_LIMIT);
	ck_assert_str_eq(back.refusal_text, "device_limit");
	ck_assert_str_eq(back.detail, r.detail);

	r.refusal = EDGE_MSG_REFUSE_OTHER;
	strcpy(r.refusal_text, "maintenance");
	n = edge_msg_encode_registered(buf, sizeof buf, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_registered(buf, (size_t)n, &back, NULL), 0);
	ck_assert_int_eq(back.refusal, EDGE_MSG_REFUSE_OTHER);
	ck_assert_str_eq(back.refusal_text, "maintenance");

	r.refusal = EDGE_MSG_REFUSE_NONE;
	ck_assert_int_eq(edge_msg_encode_registered(buf, sizeof buf, &r), -EINVAL);
	r.accepted = 1;
	r.stale_after = 0;
	r.heartbeat_s = 30;
	ck_assert_int_eq(edge_msg_encode_registered(buf, sizeof buf, &r), -EINVAL);
}
END_TEST

/* verify_permille: optional, omitted when 0, 0 when absent, 1000 at most. */
START_TEST(registered_verify_permille)
{
	static const char absent[] =
		"{\"proto\":1,\"accepted\":true,\"heartbeat_s\":30,\"stale_after\":3}";
	struct edge_msg_registered r, back;
	struct edge_msg_error err;
	char buf[512];
	int n;

	memset(&back, 0xa5, sizeof back);
	ck_assert_int_eq(edge_msg_parse_registered(absent, sizeof absent - 1, &back, NULL), 0);
	ck_assert_uint_eq(back.verify_permille, 0);

	memset(&r, 0, sizeof r);
	r.proto = 1;
	r.accepted = 1;
	r.heartbeat_s = 30;
	r.stale_after = 3;
	n = edge_msg_encode_registered(buf, sizeof buf, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(strstr(buf, "verify_permille"));

	r.verify_permille = 25;
	n = edge_msg_encode_registered(buf, sizeof buf, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"verify_permille\":25"));
	ck_assert_int_eq(edge_msg_parse_registered(buf, (size_t)n, &back, NULL), 0);
	ck_assert_uint_eq(back.verify_permille, 25);
	ck_assert(memcmp(&r, &back, sizeof r) == 0);

	r.verify_permille = EDGE_MSG_VERIFY_PERMILLE_MAX;
	n = edge_msg_encode_registered(buf, sizeof buf, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_registered(buf, (size_t)n, &back, NULL), 0);
	ck_assert_uint_eq(back.verify_permille, 1000);
	r.verify_permille = 1001;
	ck_assert_int_eq(edge_msg_encode_registered(buf, sizeof buf, &r), -EINVAL);

	static const char big[] = "{\"proto\":1,\"accepted\":true,\"heartbeat_s\":30,"
				  "\"stale_after\":3,\"verify_permille\":1001}";
	ck_assert_int_eq(edge_msg_parse_registered(big, sizeof big - 1, &back, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_OUT_OF_RANGE);
	ck_assert_str_eq(err.field, "verify_permille");
}
END_TEST

START_TEST(node_dispatch)
{
	struct edge_msg_hello h;
	struct edge_node_msg msg;
	struct edge_msg_error err;
	char buf[EDGE_MSG_MAX_PAYLOAD];
	const char *topic = "edge/v1/node-01/hello";

	fill_hello(&h);
	int n = edge_msg_encode_hello(buf, sizeof buf, &h);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), buf, (size_t)n, &msg, &err), 0);
	ck_assert_int_eq(msg.type, EDGE_TOPIC_HELLO);
	ck_assert_str_eq(msg.id, "node-01");
	ck_assert_str_eq(msg.u.hello.fw, "1.4.2+git.3");

	topic = "edge/v1/node-02/hello";
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), buf, (size_t)n, &msg, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_ID_MISMATCH);
	ck_assert_str_eq(err.field, "id");

	topic = "edge/v1/node-01/heartbeat";
	ck_assert_int_eq(edge_msg_parse_node(topic, strlen(topic), buf, (size_t)n, &msg, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_MISSING_FIELD);
	ck_assert_str_eq(err.field, "seq");
}
END_TEST

START_TEST(error_carries_field_and_offset)
{
	const char *text = "{\"proto\":1,\"state\":\"sleepy\"}";
	struct edge_msg_status st;
	struct edge_msg_error err;

	ck_assert_int_eq(edge_msg_parse_status(text, strlen(text), &st, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_BAD_ENUM);
	ck_assert_str_eq(err.field, "state");
	ck_assert_uint_eq(err.offset, 20); /* first byte of the string's content */

	text = "{\"proto\":1,\"state\":\"online\"} }";
	ck_assert_int_eq(edge_msg_parse_status(text, strlen(text), &st, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_TRAILING_DATA);
	ck_assert_str_eq(err.field, "");
	ck_assert_uint_eq(err.offset, 29);
	/* err may be NULL. */
	ck_assert_int_eq(edge_msg_parse_status(text, strlen(text), &st, NULL), -EPROTO);
}
END_TEST

START_TEST(reject_names_are_stable_and_unique)
{
	ck_assert_int_ge(EDGE_MSG_REJECT_COUNT - 1, 20);
	for (int i = 0; i < EDGE_MSG_REJECT_COUNT; i++) {
		const char *name = edge_msg_reject_name((enum edge_msg_reject)i);

		ck_assert_str_ne(name, "unknown");
		ck_assert_int_eq(edge_msg_reject_from_name(name), i);
		for (const char *c = name; *c; c++)
			ck_assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
	}
	/* Spot-check values that counters and docs rely on. */
	ck_assert_str_eq(edge_msg_reject_name(EDGE_MSG_OK), "ok");
	ck_assert_str_eq(edge_msg_reject_name(EDGE_MSG_TOO_LARGE), "too_large");
	ck_assert_str_eq(edge_msg_reject_name(EDGE_MSG_DUPLICATE_KEY), "duplicate_key");
	ck_assert_str_eq(edge_msg_reject_name(EDGE_MSG_ID_MISMATCH), "id_mismatch");
	ck_assert_str_eq(edge_msg_reject_name(EDGE_MSG_REJECT_COUNT), "unknown");
	ck_assert_int_eq(edge_msg_reject_from_name("nope"), -1);
	ck_assert_str_eq(edge_msg_state_name(EDGE_MSG_STATE_OFFLINE), "offline");
	ck_assert_str_eq(edge_msg_status_reason_name(EDGE_MSG_STATUS_LOST), "lost");
	ck_assert_str_eq(edge_msg_refusal_name(EDGE_MSG_REFUSE_DEVICE_LIMIT), "device_limit");
}
END_TEST

TCase *test_node_msg_tcase(void)
{
	TCase *tc = tcase_create("node_msg");

	tcase_add_test(tc, hello_round_trip);
	tcase_add_test(tc, hello_encoder_validates);
	tcase_add_test(tc, status_round_trip);
	tcase_add_test(tc, heartbeat_round_trip);
	tcase_add_test(tc, registered_round_trip);
	tcase_add_test(tc, registered_verify_permille);
	tcase_add_test(tc, node_dispatch);
	tcase_add_test(tc, error_carries_field_and_offset);
	tcase_add_test(tc, reject_names_are_stable_and_unique);
	return tc;
}
