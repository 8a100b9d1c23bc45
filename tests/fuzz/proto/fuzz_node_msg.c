/* Fuzz target for the node message path as the gateway sees it: the input
 * is "<topic>\n<payload>" (no newline: empty topic, all payload).
 *
 * Beyond "no crash, no overread", it checks invariants: whatever parses
 * re-encodes, the encoding parses back, and re-encoding that gives the
 * same bytes; a parsed topic rebuilds to the same topic. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_json.h"
#include "edge_node_msg.h"
#include "edge_topic.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static union {
	struct edge_msg_hello hello;
	struct edge_msg_status status;
	struct edge_msg_heartbeat heartbeat;
	struct edge_msg_registered registered;
} msg_a, msg_b;
static char enc1[EDGE_MSG_MAX_PAYLOAD], enc2[EDGE_MSG_MAX_PAYLOAD];

#define ROUND_TRIP(type, payload, len)                                               \
	do {                                                                         \
		struct edge_msg_error rt_err;                                        \
		if (edge_msg_parse_##type(payload, len, &msg_a.type, &rt_err) == 0) {\
			int n1 = edge_msg_encode_##type(enc1, sizeof enc1, &msg_a.type); \
			CHECK(n1 > 0);                                               \
			CHECK(edge_msg_parse_##type(enc1, (size_t)n1, &msg_b.type, NULL) == 0); \
			int n2 = edge_msg_encode_##type(enc2, sizeof enc2, &msg_b.type); \
			CHECK(n1 == n2 && memcmp(enc1, enc2, (size_t)n1) == 0);      \
		} else {                                                             \
			CHECK(rt_err.reason > EDGE_MSG_OK &&                         \
			      rt_err.reason < EDGE_MSG_REJECT_COUNT);                \
			CHECK(memchr(rt_err.field, '\0', sizeof rt_err.field) != NULL); \
		}                                                                    \
	} while (0)

static void check_topic(const char *topic, size_t len)
{
	struct edge_topic t;
	enum edge_msg_reject why;
	char sub[EDGE_TOPIC_MAX_LEN + 1], built[EDGE_TOPIC_MAX_LEN + 1];

	if (edge_topic_parse(topic, len, &t, &why) != 0) {
		CHECK(why > EDGE_MSG_OK && why < EDGE_MSG_REJECT_COUNT);
		return;
	}
	CHECK(edge_id_valid_str(t.id));
	CHECK(t.sub_len <= EDGE_TOPIC_MAX_LEN);
	memcpy(sub, t.sub, t.sub_len);
	sub[t.sub_len] = '\0';
	int n = edge_topic_build(built, sizeof built, t.id, t.type, t.sub_len ? sub : NULL);
	CHECK(n >= 0 && (size_t)n == len && memcmp(built, topic, len) == 0);
}

/* Walk every token through the typed readers. */
static void check_json(const char *payload, size_t len)
{
	struct edge_json_tok toks[64];
	struct edge_json_doc doc;
	char s[32];
	uint64_t u;
	int64_t i;
	int b;

	int n = edge_json_parse(payload, len, toks, 64, 8, &doc, NULL);
	if (n <= 0)
		return;
	for (int t = 0; t < n; t++) {
		CHECK(toks[t].start <= toks[t].end && toks[t].end <= len);
		CHECK(toks[t].next > (unsigned)t && toks[t].next <= (unsigned)n);
		/* Each reader either succeeds or refuses with its documented code. */
		int rc = edge_json_get_str(&doc, t, s, sizeof s, NULL);
		CHECK(rc == 0 || rc == -EINVAL || rc == -ENOSPC || rc == -EILSEQ);
		CHECK(rc != 0 || strlen(s) < sizeof s);
		rc = edge_json_get_uint(&doc, t, UINT64_MAX, &u);
		CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
		rc = edge_json_get_int(&doc, t, INT64_MIN, INT64_MAX, &i);
		CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
		rc = edge_json_get_bool(&doc, t, &b);
		CHECK(rc == 0 || rc == -EINVAL);
		if (edge_json_type_of(&doc, t) == EDGE_JSON_OBJECT) {
			(void)edge_json_obj_get(&doc, t, "id");
			for (int k = edge_json_first(&doc, t); k >= 0; k = edge_json_next(&doc, k + 1))
				CHECK(edge_json_type_of(&doc, k) == EDGE_JSON_STRING);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t topic_len = nl ? (size_t)(nl - text) : 0;
	const char *payload = nl ? nl + 1 : text;
	size_t payload_len = size - (size_t)(payload - text);
	static struct edge_node_msg node;
	struct edge_msg_error err;

	check_topic(text, topic_len);
	if (edge_msg_parse_node(text, topic_len, payload, payload_len, &node, &err) == 0) {
		CHECK(edge_id_valid_str(node.id));
		CHECK(node.type == EDGE_TOPIC_HELLO || node.type == EDGE_TOPIC_STATUS ||
		      node.type == EDGE_TOPIC_HEARTBEAT);
	}
	ROUND_TRIP(hello, payload, payload_len);
	ROUND_TRIP(status, payload, payload_len);
	ROUND_TRIP(heartbeat, payload, payload_len);
	ROUND_TRIP(registered, payload, payload_len);
	check_json(payload, payload_len);
	return 0;
}
