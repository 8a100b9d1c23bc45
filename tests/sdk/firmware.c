/* A node's use of the device SDK, as a tiny firmware: announce itself
 * (topic, hello, status), read the gateway's answer (registered), queue
 * anomaly events and send them in reports, apply the gateway's acks,
 * retransmit what was not acked, send a heartbeat, check the head of a
 * signed model package and make its self-test input. scripts/sdk-size.sh
 * cross-builds it for a Cortex-M4 with newlib nano, with startup.c (reset
 * handler, assert hook) in place of the host's C runtime, to measure what
 * the SDK costs in flash, RAM and stack and to prove that nothing
 * allocates; suite `sdk` also runs it on the host to prove the steps work.
 *
 * main returns 0 when every step gives the expected result, else the number
 * of the first step that did not. Buffers and messages are static, as in
 * firmware: the stack holds only what the SDK's functions use. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edge_node_msg.h"
#include "edge_ota_package.h"
#include "edge_report.h"
#include "edge_report_queue.h"
#include "edge_topic.h"

#define NODE_ID "m4-node-01"
#define QUEUE_SLOTS 8

static char topic[EDGE_TOPIC_MAX_LEN + 1];
static char payload[EDGE_MSG_MAX_PAYLOAD];
static struct edge_msg_hello hello;
static struct edge_msg_registered reg;
static struct edge_report_queue queue;
static struct edge_report_event slots[QUEUE_SLOTS];
static struct edge_report_slot_state slot_states[QUEUE_SLOTS];
/* The boot epoch as the firmware would keep it in flash. */
static uint32_t stored_epoch = 41;

/* What the gateway would publish on edge/v1/<id>/registered. */
static const char registered_json[] =
	"{\"proto\":1,\"accepted\":true,\"heartbeat_s\":30,\"stale_after\":3}";

static int announce(void)
{
	static const char *const ops[] = { "CONV_2D", "FULLY_CONNECTED", "SOFTMAX" };
	struct edge_msg_status st;
	size_t i;

	if (edge_topic_build(topic, sizeof topic, NODE_ID, EDGE_TOPIC_HELLO, NULL) < 0)
		return 1;
	hello.proto = EDGE_PROTO_VERSION;
	strcpy(hello.id, NODE_ID);
	strcpy(hello.fw, "1.4.2");
	strcpy(hello.runtime_name, "tflm");
	strcpy(hello.runtime_version, "2.14.0");
	hello.n_ops = sizeof ops / sizeof ops[0];
	for (i = 0; i < hello.n_ops; i++)
		strcpy(hello.ops[i], ops[i]);
	hello.ram_bytes = 262144;
	hello.flash_bytes = 1048576;
	hello.arena_bytes = 65536;
	strcpy(hello.sensor, "accel-3axis");
	hello.has_model = 1;
	strcpy(hello.model.name, "kws");
	strcpy(hello.model.version, "1.0.3");
	strcpy(hello.model.sha256,
	       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	hello.heartbeat_s = 30;
	if (edge_msg_encode_hello(payload, sizeof payload, &hello) <= 0)
		return 2;

	st.proto = EDGE_PROTO_VERSION;
	st.state = EDGE_MSG_STATE_ONLINE;
	st.reason = EDGE_MSG_STATUS_BOOT;
	st.reason_text[0] = '\0';
	if (edge_msg_encode_status(payload, sizeof payload, &st) <= 0)
		return 3;
	if (strcmp(payload, "{\"proto\":1,\"state\":\"online\",\"reason\":\"boot\"}") != 0)
		return 4;
	return 0;
}

static int registered(void)
{
	struct edge_msg_error err;

	if (edge_msg_parse_registered(registered_json, sizeof registered_json - 1,
				      &reg, &err) != 0)
		return 10;
	if (!reg.accepted || reg.heartbeat_s != 30 || reg.stale_after != 3)
		return 11;
	return 0;
}

static uint32_t next_epoch(void *ud)
{
	(void)ud;
	return ++stored_epoch;
}

/* One event of the keyword model, as the inference loop would push it. */
static void make_event(struct edge_report_event *ev, double score)
{
	static const float summary[] = { 0.125f, -3.5f, 17.0f, 0.001f };
	size_t i;

	memset(ev, 0, sizeof *ev);
	strcpy(ev->model_name, "kws");
	strcpy(ev->model_version, "1.0.3");
	ev->score = score;
	ev->threshold = 0.8;
	strcpy(ev->label, "glass_break");
	ev->has_severity = true;
	ev->severity = 5;
	ev->n_summary = sizeof summary / sizeof summary[0];
	for (i = 0; i < ev->n_summary; i++)
		ev->summary[i] = summary[i];
}

/* The gateway's ack as it arrives on edge/v1/<id>/ack: parse, apply. */
static size_t ack(const char *json)
{
	struct edge_msg_ack a;
	struct edge_msg_error err;

	if (edge_msg_parse_ack(json, strlen(json), &a, &err) != 0)
		return (size_t)-1;
	return edge_report_queue_apply_ack(&queue, &a);
}

static int reports(void)
{
	static const double scores[] = { 0.91, 0.92, 0.93 };
	struct edge_report_queue_config cfg;
	struct edge_report_event ev;
	uint64_t deadline;
	size_t len;
	uint32_t i;

	memset(&cfg, 0, sizeof cfg);
	cfg.next_epoch = next_epoch;
	cfg.seed = 0x5eed;
	if (edge_report_queue_init(&queue, slots, slot_states, QUEUE_SLOTS, &cfg) != 0)
		return 30;
	if (edge_report_queue_epoch(&queue) != 42)
		return 31;
	for (i = 1; i <= 3; i++) {
		make_event(&ev, scores[i - 1]);
		if (edge_report_queue_push(&queue, &ev, 1000) != i)
			return 32;
	}

	/* All three in one report; nothing more is due until a timeout. */
	if (edge_topic_build(topic, sizeof topic, NODE_ID, EDGE_TOPIC_REPORT, NULL) < 0)
		return 33;
	if (edge_report_queue_next_batch(&queue, 1000, payload, sizeof payload, &len) != 3)
		return 34;
	if (len != strlen(payload) ||
	    strncmp(payload, "{\"proto\":1,\"epoch\":42,\"oldest\":1,", 33) != 0)
		return 35;
	if (edge_report_queue_next_batch(&queue, 1000, payload, sizeof payload, &len) != 0)
		return 36;

	/* Seqs 1 and 3 committed (sack bit 1: acked + 2); another epoch's
	 * ack changes nothing. */
	if (ack("{\"proto\":1,\"epoch\":42,\"acked\":1,\"sack\":\"0000000000000002\"}") != 2)
		return 37;
	if (ack("{\"proto\":1,\"epoch\":7,\"acked\":3,\"sack\":\"0000000000000000\"}") != 0)
		return 38;
	if (edge_report_queue_count(&queue) != 1 ||
	    edge_report_queue_stats(&queue)->foreign_acks != 1)
		return 39;

	/* Seq 2 is due again after the first timeout, 2.5 to 5 s. */
	deadline = edge_report_queue_next_deadline(&queue);
	if (deadline < 1000 + EDGE_REPORT_RTO_BASE_MS / 2 ||
	    deadline > 1000 + EDGE_REPORT_RTO_BASE_MS)
		return 40;
	if (edge_report_queue_next_batch(&queue, deadline, payload, sizeof payload, &len) != 1)
		return 41;
	if (ack("{\"proto\":1,\"epoch\":42,\"acked\":3,\"sack\":\"0000000000000000\"}") != 1)
		return 42;
	if (edge_report_queue_count(&queue) != 0 ||
	    edge_report_queue_next_deadline(&queue) != UINT64_MAX ||
	    edge_report_queue_stats(&queue)->resent != 1)
		return 43;

	/* A full queue drops its oldest event to take a new one. */
	for (i = 0; i <= QUEUE_SLOTS; i++) {
		make_event(&ev, 0.95);
		if (edge_report_queue_push(&queue, &ev, deadline) != 4 + i)
			return 44;
	}
	if (edge_report_queue_stats(&queue)->dropped != 1 ||
	    edge_report_queue_oldest(&queue) != 5)
		return 45;
	/* The next report tells the gateway that seq 4 is gone for good. */
	if (edge_report_queue_next_batch(&queue, deadline, payload, sizeof payload,
					 &len) < 1 ||
	    strncmp(payload, "{\"proto\":1,\"epoch\":42,\"oldest\":5,", 33) != 0)
		return 46;
	return 0;
}

static int heartbeat(void)
{
	struct edge_msg_heartbeat hb;

	memset(&hb, 0, sizeof hb);
	hb.proto = EDGE_PROTO_VERSION;
	hb.seq = 1;
	hb.uptime_s = 30;
	hb.inferences = 1200;
	hb.anomalies = 2;
	hb.free_heap_bytes = 40000;
	hb.has_reports_dropped = 1;
	hb.reports_dropped = edge_report_queue_stats(&queue)->dropped;
	if (edge_topic_build(topic, sizeof topic, NODE_ID, EDGE_TOPIC_HEARTBEAT, NULL) < 0)
		return 20;
	if (edge_msg_encode_heartbeat(payload, sizeof payload, &hb) <= 0)
		return 21;
	if (strstr(payload, "\"reports_dropped\":1") == NULL)
		return 22;
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	while (n--) {
		*p++ = (uint8_t)v;
		v >>= 8;
	}
}

static const char manifest_json[] =
	"{\"format\":1,\"name\":\"kws\",\"version\":\"1.0.4\",\"counter\":3,"
	"\"size\":30000,\"sha256\":"
	"\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","
	"\"runtime\":\"tflm\",\"ops\":[\"CONV_2D\",\"SOFTMAX\"],\"arena_bytes\":20480,"
	"\"inputs\":[{\"type\":\"int8\",\"shape\":[1,49,10],\"scale\":0.1,\"zero_point\":-128}],"
	"\"outputs\":[{\"type\":\"int8\",\"shape\":[1,4],\"scale\":0.00390625,"
	"\"zero_point\":-128}],\"selftest\":{\"seed\":7,\"output_sha256\":"
	"\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}}";
#define MANIFEST_LEN (sizeof manifest_json - 1)

static struct edge_ota_manifest manifest;

/* A package's head as a node receives it before the model: header,
 * manifest and one Ed25519 signature (not verified here). */
static int ota(void)
{
	static uint8_t head[EDGE_OTA_HEADER_SIZE + MANIFEST_LEN + 4 + 36 + 64];
	static uint8_t input[16];
	struct edge_ota_container c;
	uint8_t *sig = head + EDGE_OTA_HEADER_SIZE + MANIFEST_LEN;

	memcpy(head, EDGE_OTA_MAGIC, 8);
	put_le(head + 8, EDGE_OTA_FORMAT, 2);
	put_le(head + 10, EDGE_OTA_HEADER_SIZE, 2);
	put_le(head + 12, MANIFEST_LEN, 4);
	put_le(head + 16, 4 + 36 + 64, 4);
	put_le(head + 20, 30000, 8);
	put_le(head + 28, edge_ota_crc32c(0, head, 28), 4);
	memcpy(head + EDGE_OTA_HEADER_SIZE, manifest_json, MANIFEST_LEN);
	sig[0] = 1;
	sig[4] = EDGE_OTA_SIG_ED25519;
	put_le(sig + 6, 64, 2);
	if (edge_ota_container_parse(head, sizeof head, &c, NULL) != 0)
		return 50;
	if (c.model || c.model_len != 30000 || c.n_sigs != 1 || c.sigs[0].sig_len != 64)
		return 51;
	if (edge_ota_manifest_parse(c.manifest, c.manifest_len, &manifest, NULL) != 0)
		return 55;
	if (manifest.size != c.model_len || manifest.inputs[0].scale != 0.1 ||
	    manifest.selftest_seed != 7)
		return 56;
	head[28] ^= 1;
	if (edge_ota_container_parse(head, sizeof head, &c, NULL) != -EPROTO)
		return 52;
	edge_ota_selftest_input(1, input, sizeof input);
	if (input[0] != 0x21 || input[7] != 0xb2)
		return 53;
	if (edge_ota_crc32c(0, "123456789", 9) != 0xE3069283u)
		return 54;
	return 0;
}

int main(void)
{
	int rc;

	if ((rc = announce()) != 0 || (rc = registered()) != 0 ||
	    (rc = reports()) != 0 || (rc = heartbeat()) != 0 || (rc = ota()) != 0)
		return rc;
	return 0;
}
