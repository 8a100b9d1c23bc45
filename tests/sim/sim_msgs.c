#include "sim_msgs.h"

#include <stdio.h>
#include <string.h>

static const char *const sim_ops[] = {
	"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE",
};

/* A plausible TFLM node with no model installed yet. */
static void fill_hello(struct edge_msg_hello *h, const char *id,
		       uint32_t heartbeat_s)
{
	memset(h, 0, sizeof(*h));
	h->proto = EDGE_PROTO_VERSION;
	snprintf(h->id, sizeof(h->id), "%s", id);
	snprintf(h->fw, sizeof(h->fw), "1.4.2");
	snprintf(h->runtime_name, sizeof(h->runtime_name), "tflm");
	snprintf(h->runtime_version, sizeof(h->runtime_version), "2.14.0");
	h->n_ops = sizeof(sim_ops) / sizeof(sim_ops[0]);
	for (uint32_t i = 0; i < h->n_ops; i++)
		snprintf(h->ops[i], sizeof(h->ops[i]), "%s", sim_ops[i]);
	h->ram_bytes = 256 * 1024;
	h->flash_bytes = 1024 * 1024;
	h->arena_bytes = 96 * 1024;
	snprintf(h->sensor, sizeof(h->sensor), "accel-3axis");
	h->has_model = 0;
	h->heartbeat_s = heartbeat_s;
}

int sim_msgs_encode_hello(char *buf, size_t cap, const char *id,
			  uint32_t heartbeat_s)
{
	struct edge_msg_hello h;
	fill_hello(&h, id, heartbeat_s);
	return edge_msg_encode_hello(buf, cap, &h);
}

int sim_msgs_encode_status(char *buf, size_t cap, enum edge_msg_state state,
			   enum edge_msg_status_reason reason)
{
	struct edge_msg_status s;
	memset(&s, 0, sizeof(s));
	s.proto = EDGE_PROTO_VERSION;
	s.state = state;
	s.reason = reason;
	return edge_msg_encode_status(buf, cap, &s);
}

int sim_msgs_encode_heartbeat(char *buf, size_t cap, uint32_t seq,
			      uint64_t uptime_s, uint32_t reconnects)
{
	struct edge_msg_heartbeat hb;
	memset(&hb, 0, sizeof(hb));
	hb.proto = EDGE_PROTO_VERSION;
	hb.seq = seq;
	hb.uptime_s = uptime_s;
	hb.inferences = uptime_s * 4; /* a 4 Hz sensing loop */
	hb.anomalies = uptime_s / 600;
	hb.mqtt_reconnects = reconnects;
	hb.free_heap_bytes = 48 * 1024;
	hb.has_min_free_heap = 1;
	hb.min_free_heap_bytes = 40 * 1024;
	hb.has_rssi = 1;
	hb.rssi_dbm = -61;
	return edge_msg_encode_heartbeat(buf, cap, &hb);
}

int sim_msgs_topic(char *buf, size_t cap, const char *id,
		   enum edge_topic_type type)
{
	return edge_topic_build(buf, cap, id, type, NULL);
}
