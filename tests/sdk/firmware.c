/* A node's use of the device SDK, as a tiny firmware: announce itself
 * (topic, hello, status), read the gateway's answer (registered), queue
 * anomaly events and send them in reports, apply the gateway's acks,
 * retransmit what was not acked, send a heartbeat, check the head of a
 * signed model package and make its self-test input, and receive a model
 * update over the air (edge_ota_receiver.h, with stub platform callbacks
 * in place of the board's flash, hash engine and inference runtime).
 * scripts/sdk-size.sh
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
#include "edge_ota_receiver.h"
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

/* ---- OTA: a model update through the receiver. The platform callbacks
 * are stubs of what a board provides: flash is a RAM array, the "hash
 * engine" XOR-folds the bytes into 32 (a real node uses its SHA-256
 * peripheral or library: the receiver only calls begin/update/end), the
 * signature check accepts a 64-byte signature by the trusted key id, the
 * self-test returns the expected digest. The gateway's frames are built
 * by hand: a node never encodes them. */
#define OTA_MODEL_LEN 300u
#define OTA_CHUNK 64u
#define OTA_TRANSFER 0x2au

static struct edge_ota_rx ota_rx;
static uint8_t ota_slot[OTA_MODEL_LEN];
static uint8_t ota_saved[EDGE_OTA_RX_STATE_MAX];
static size_t ota_saved_len;
static uint64_t ota_counter;
static uint8_t ota_digest[32];
static char ota_answer[EDGE_OTA_ANSWER_MAX + 1];
static unsigned ota_acks;

/* Model bytes i * 7 + 3 (mod 256): its fold and the self-test's output. */
#define OTA_FOLD "e0e0e0e0e020202020606060575e656c737a81888f969da4abb2b9c0c7ced5dc"
#define OTA_OUTPUT "abababababababababababababababababababababababababababababababab"
static const char ota_manifest[] =
	"{\"format\":1,\"name\":\"kws\",\"version\":\"1.0.5\",\"counter\":4,"
	"\"size\":300,\"sha256\":\"" OTA_FOLD "\","
	"\"runtime\":\"tflm\",\"ops\":[\"CONV_2D\",\"SOFTMAX\"],\"arena_bytes\":20480,"
	"\"inputs\":[{\"type\":\"int8\",\"shape\":[1,49,10],\"scale\":0.1,\"zero_point\":-128}],"
	"\"outputs\":[{\"type\":\"int8\",\"shape\":[1,4],\"scale\":0.00390625,"
	"\"zero_point\":-128}],\"selftest\":{\"seed\":7,\"output_sha256\":\"" OTA_OUTPUT "\"}}";
#define OTA_MANIFEST_LEN (sizeof ota_manifest - 1)
static const uint8_t ota_key_id[EDGE_OTA_KEY_ID_LEN] = { 0x6b, 0x65, 0x79 };
/* The package's head: header, manifest, one Ed25519 signature entry. */
#define OTA_HEAD_LEN (EDGE_OTA_HEADER_SIZE + OTA_MANIFEST_LEN + 4 + 36 + 64)
static uint8_t ota_frame_buf[EDGE_OTA_FRAME_HDR + EDGE_OTA_OFFER_FIXED + OTA_HEAD_LEN];

static int ota_erase(void *ud, uint32_t len)
{
	(void)ud;
	if (len > sizeof ota_slot)
		return -EINVAL;
	memset(ota_slot, 0xff, len);
	return 0;
}

static int ota_write(void *ud, uint32_t off, const void *buf, uint32_t n)
{
	(void)ud;
	if (off > sizeof ota_slot || n > sizeof ota_slot - off)
		return -EINVAL;
	memcpy(ota_slot + off, buf, n);
	return 0;
}

static int ota_read(void *ud, uint32_t off, void *buf, uint32_t n)
{
	(void)ud;
	if (off > sizeof ota_slot || n > sizeof ota_slot - off)
		return -EINVAL;
	memcpy(buf, ota_slot + off, n);
	return 0;
}

static int ota_state_save(void *ud, const void *buf, size_t len)
{
	(void)ud;
	memcpy(ota_saved, buf, len);
	ota_saved_len = len;
	return 0;
}

static int ota_state_load(void *ud, void *buf, size_t cap)
{
	(void)ud;
	if (ota_saved_len > cap)
		return -EINVAL;
	memcpy(buf, ota_saved, ota_saved_len);
	return (int)ota_saved_len;
}

static uint64_t ota_counter_get(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return ota_counter;
}

static int ota_counter_set(void *ud, const char *name, uint64_t counter)
{
	(void)ud;
	(void)name;
	ota_counter = counter;
	return 0;
}

static size_t ota_hashed;

static void ota_sha_begin(void *ud)
{
	(void)ud;
	memset(ota_digest, 0, sizeof ota_digest);
	ota_hashed = 0;
}

static void ota_sha_update(void *ud, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	(void)ud;
	for (i = 0; i < len; i++, ota_hashed++)
		ota_digest[ota_hashed % 32] ^= b[i];
}

static void ota_sha_end(void *ud, uint8_t out[32])
{
	(void)ud;
	memcpy(out, ota_digest, 32);
}

static bool ota_verify(void *ud, uint8_t alg, const uint8_t key_id[EDGE_OTA_KEY_ID_LEN],
		       const void *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
	(void)ud;
	(void)msg;
	(void)len;
	(void)sig;
	return alg == EDGE_OTA_SIG_ED25519 && sig_len == 64 &&
	       memcmp(key_id, ota_key_id, EDGE_OTA_KEY_ID_LEN) == 0;
}

static int ota_activate(void *ud, const struct edge_ota_manifest *m)
{
	(void)ud;
	(void)m;
	return 0;
}

static int ota_selftest(void *ud, const struct edge_ota_manifest *m, uint8_t out[32])
{
	(void)ud;
	(void)m;
	memset(out, 0xab, 32);
	return 0;
}

static int ota_send(void *ud, const char *json, size_t len, bool is_ack)
{
	(void)ud;
	if (len >= sizeof ota_answer)
		return -ENOSPC;
	memcpy(ota_answer, json, len);
	ota_answer[len] = '\0';
	ota_acks += is_ack;
	return 0;
}

static int ota_campaign(void *ud, uint32_t transfer, bool on)
{
	(void)ud;
	(void)transfer;
	(void)on;
	return 0;
}

/* A frame as the gateway sends it; payload: a + b. */
static size_t ota_frame(uint8_t type, uint32_t index, const void *a, uint32_t alen,
			const void *b, uint32_t blen)
{
	uint8_t *f = ota_frame_buf;
	uint32_t crc;

	put_le(f, EDGE_OTA_FRAME_MAGIC, 4);
	f[4] = EDGE_OTA_FRAME_VERSION;
	f[5] = type;
	put_le(f + 6, 0, 2);
	put_le(f + 8, OTA_TRANSFER, 4);
	put_le(f + 12, index, 4);
	put_le(f + 16, alen + blen, 4);
	memcpy(f + EDGE_OTA_FRAME_HDR, a, alen);
	if (blen)
		memcpy(f + EDGE_OTA_FRAME_HDR + alen, b, blen);
	crc = edge_ota_crc32c(0, f, 20);
	put_le(f + 20, edge_ota_crc32c(crc, f + EDGE_OTA_FRAME_HDR, alen + blen), 4);
	return EDGE_OTA_FRAME_HDR + alen + blen;
}

static int ota_update(void)
{
	static const char *const ops[] = { "CONV_2D", "FULLY_CONNECTED", "SOFTMAX" };
	static struct edge_ota_platform p;
	static struct edge_ota_rx_config cfg;
	static uint8_t head[OTA_HEAD_LEN];
	static uint8_t model[OTA_MODEL_LEN];
	uint8_t fixed[EDGE_OTA_OFFER_FIXED];
	uint8_t *sig = head + EDGE_OTA_HEADER_SIZE + OTA_MANIFEST_LEN;
	uint32_t i, n_chunks = (OTA_MODEL_LEN + OTA_CHUNK - 1) / OTA_CHUNK;

	p.slot_size = sizeof ota_slot;
	p.slot_erase = ota_erase;
	p.slot_write = ota_write;
	p.slot_read = ota_read;
	p.state_save = ota_state_save;
	p.state_load = ota_state_load;
	p.counter_get = ota_counter_get;
	p.counter_set = ota_counter_set;
	p.sha256_begin = ota_sha_begin;
	p.sha256_update = ota_sha_update;
	p.sha256_end = ota_sha_end;
	p.verify = ota_verify;
	p.activate = ota_activate;
	p.selftest = ota_selftest;
	p.revert = ota_activate;
	p.send = ota_send;
	p.campaign = ota_campaign;
	cfg.runtime = "tflm";
	cfg.ops = ops;
	cfg.n_ops = sizeof ops / sizeof ops[0];
	cfg.arena_bytes = 65536;
	cfg.n_trusted = 1;
	memcpy(cfg.trusted[0], ota_key_id, EDGE_OTA_KEY_ID_LEN);
	cfg.max_chunk = 1024;
	if (edge_ota_rx_init(&ota_rx, &p, &cfg) != 0)
		return 60;

	memcpy(head, EDGE_OTA_MAGIC, 8);
	put_le(head + 8, EDGE_OTA_FORMAT, 2);
	put_le(head + 10, EDGE_OTA_HEADER_SIZE, 2);
	put_le(head + 12, OTA_MANIFEST_LEN, 4);
	put_le(head + 16, 4 + 36 + 64, 4);
	put_le(head + 20, OTA_MODEL_LEN, 8);
	put_le(head + 28, edge_ota_crc32c(0, head, 28), 4);
	memcpy(head + EDGE_OTA_HEADER_SIZE, ota_manifest, OTA_MANIFEST_LEN);
	sig[0] = 1;
	sig[4] = EDGE_OTA_SIG_ED25519;
	put_le(sig + 6, 64, 2);
	memcpy(sig + 8, ota_key_id, EDGE_OTA_KEY_ID_LEN);

	memset(fixed, 0, sizeof fixed);
	put_le(fixed, OTA_CHUNK, 4);
	put_le(fixed + 4, n_chunks, 4);
	if (edge_ota_rx_on_frame(&ota_rx, ota_frame_buf,
				 ota_frame(EDGE_OTA_FRAME_OFFER, 0, fixed, sizeof fixed, head,
					   sizeof head), 0) != 0 ||
	    strstr(ota_answer, "\"msg\":\"accept\"") == NULL || !edge_ota_rx_busy(&ota_rx))
		return 61;

	for (i = 0; i < OTA_MODEL_LEN; i++)
		model[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < n_chunks; i++) {
		uint32_t off = i * OTA_CHUNK;
		uint32_t n = OTA_MODEL_LEN - off < OTA_CHUNK ? OTA_MODEL_LEN - off : OTA_CHUNK;

		if (edge_ota_rx_on_frame(&ota_rx, ota_frame_buf,
					 ota_frame(EDGE_OTA_FRAME_CHUNK, i, model + off, n, NULL, 0),
					 10 + i) != 0)
			return 62;
		edge_ota_rx_tick(&ota_rx, 10 + i + EDGE_OTA_RX_ACK_DELAY_MS);
	}
	if (strstr(ota_answer, "\"outcome\":\"activated\"") == NULL || ota_counter != 4 ||
	    ota_acks == 0 || edge_ota_rx_busy(&ota_rx) || ota_saved_len != 0 ||
	    edge_ota_rx_stats(&ota_rx)->activated != 1)
		return 63;
	return 0;
}

int main(void)
{
	int rc;

	if ((rc = announce()) != 0 || (rc = registered()) != 0 ||
	    (rc = reports()) != 0 || (rc = heartbeat()) != 0 || (rc = ota()) != 0 ||
	    (rc = ota_update()) != 0)
		return rc;
	return 0;
}
