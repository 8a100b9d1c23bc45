#include "sim_msgs.h"

#include <errno.h>
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

int sim_msgs_encode_hello_caps(char *buf, size_t cap, const char *id,
			       uint32_t heartbeat_s, const struct sim_msgs_caps *c)
{
	struct edge_msg_hello h;
	fill_hello(&h, id, heartbeat_s);
	if (c->ops) {
		if (c->n_ops > EDGE_MSG_MAX_OPS)
			return -EINVAL;
		h.n_ops = c->n_ops;
		for (unsigned i = 0; i < c->n_ops; i++)
			if (snprintf(h.ops[i], sizeof(h.ops[i]), "%s", c->ops[i]) >=
			    (int)sizeof(h.ops[i]))
				return -EINVAL;
	}
	if (c->flash_bytes)
		h.flash_bytes = c->flash_bytes;
	if (c->arena_bytes) {
		h.arena_bytes = c->arena_bytes;
		/* The arena is part of the RAM: keep the default headroom. */
		uint64_t ram = (uint64_t)c->arena_bytes + 160 * 1024;
		if (ram > h.ram_bytes)
			h.ram_bytes = ram > UINT32_MAX ? UINT32_MAX : (uint32_t)ram;
	}
	if (c->model) {
		h.has_model = 1;
		h.model = *c->model;
	}
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

static void fill_heartbeat(struct edge_msg_heartbeat *h, uint32_t seq,
			   uint64_t uptime_s, uint32_t reconnects)
{
	memset(h, 0, sizeof(*h));
	h->proto = EDGE_PROTO_VERSION;
	h->seq = seq;
	h->uptime_s = uptime_s;
	h->inferences = uptime_s * 4; /* a 4 Hz sensing loop */
	h->anomalies = uptime_s / 600;
	h->mqtt_reconnects = reconnects;
	h->free_heap_bytes = 48 * 1024;
	h->has_min_free_heap = 1;
	h->min_free_heap_bytes = 40 * 1024;
	h->has_rssi = 1;
	h->rssi_dbm = -61;
}

int sim_msgs_encode_heartbeat(char *buf, size_t cap, uint32_t seq,
			      uint64_t uptime_s, uint32_t reconnects)
{
	struct edge_msg_heartbeat hb;
	fill_heartbeat(&hb, seq, uptime_s, reconnects);
	return edge_msg_encode_heartbeat(buf, cap, &hb);
}

int sim_msgs_encode_heartbeat_reports(char *buf, size_t cap, uint32_t seq,
				      uint64_t uptime_s, uint32_t reconnects,
				      uint64_t anomalies, uint64_t reports_dropped)
{
	struct edge_msg_heartbeat hb;
	fill_heartbeat(&hb, seq, uptime_s, reconnects);
	hb.anomalies = anomalies;
	hb.has_reports_dropped = 1;
	hb.reports_dropped = reports_dropped;
	return edge_msg_encode_heartbeat(buf, cap, &hb);
}

int sim_msgs_topic(char *buf, size_t cap, const char *id,
		   enum edge_topic_type type)
{
	return edge_topic_build(buf, cap, id, type, NULL);
}
