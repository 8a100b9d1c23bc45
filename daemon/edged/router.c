#include "router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly.h"
#include "offload.h"
#include "edge_log.h"
#include "edge_node_msg.h"
#include "edge_ota_transfer.h"
#include "edge_ratelimit.h"
#include "edge_report.h"
#include "edge_time.h"
#include "edge_topic.h"
#include "ota.h"

/* proto parses the canonical tree; a configured prefix is mapped onto it. */
#define ROUTER_CANON_PREFIX "edge/v1"
/* Nodes tracked by the bad-input log limiter: fixed, whatever
 * registry.max_devices says, since ids in bad input are made up at will; the
 * limiter evicts the oldest entry when full (about 0.4 MB). */
#define ROUTER_RATELIMIT_KEYS 4096
/* Registrations the store failed to commit: one log line per interval. */
#define ROUTER_UNSAVED_LOG_MS 10000

struct edged_router {
	struct edged_mqtt *mqtt;
	edge_registry *registry;
	struct edged_anomaly *anomaly; /* NULL: reports count as unhandled_type */
	struct edged_ota *ota;        /* NULL: OTA answers count as unhandled_type */
	struct edged_offload *offload; /* NULL: infer/ messages count as unhandled_type */
	const struct edge_settings *s;
	edge_ratelimit *log_limit;    /* per node, plus the total budget */
	edge_ratelimit *unsaved_log;  /* registrations not committed */
	uint64_t suppressed_at_last_line; /* stats.log_suppressed then */
	char prefix[EDGE_CONFIG_NAME_MAX];
	uint64_t (*now_ms)(void *ud);     /* monotonic clock (injectable) */
	void *clock_ud;
	struct edged_router_stats stats;
};

static uint64_t default_clock(void *ud)
{
	(void)ud;
	return edge_time_monotonic_ms();
}

const char *edged_router_refusal_name(enum edged_router_refusal r)
{
	switch (r) {
	case EDGED_ROUTER_DEVICE_LIMIT: return "device_limit";
	case EDGED_ROUTER_UNKNOWN_NODE: return "unknown_node";
	case EDGED_ROUTER_INTERNAL: return "internal";
	case EDGED_ROUTER_RETAINED: return "retained";
	case EDGED_ROUTER_NOT_ALLOWED: return "not_allowed";
	case EDGED_ROUTER_REFUSAL_COUNT: break;
	}
	return "unknown";
}

static void router_saved(void *ud, const char *id, enum edge_registry_event ev, int result);

static int64_t router_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The whole node tree, not just the types this revision handles: anything
 * else a node sends (unknown, reserved or gateway-to-node types) is then
 * counted under its reject reason instead of passing unseen. */
static int router_subscribe(struct edged_router *r)
{
	char filter[EDGE_CONFIG_NAME_MAX + 32];

	snprintf(filter, sizeof filter, "%s/+/#", r->prefix);
	return edged_mqtt_subscribe(r->mqtt, filter, 1);
}

int edged_router_new(struct edged_mqtt *mqtt, edge_registry *registry,
		     const struct edge_settings *s, struct edged_router **out)
{
	struct edged_router *r = calloc(1, sizeof *r);
	int rc;

	if (!r)
		return -ENOMEM;
	r->mqtt = mqtt;
	r->registry = registry;
	r->now_ms = default_clock;
	r->s = s;
	snprintf(r->prefix, sizeof r->prefix, "%s", s->mqtt.topic_prefix);
	r->log_limit = edge_ratelimit_new(ROUTER_RATELIMIT_KEYS,
					  (uint64_t)s->log.bad_input_interval_s * 1000,
					  (uint32_t)s->log.bad_input_burst);
	r->unsaved_log = edge_ratelimit_new(1, ROUTER_UNSAVED_LOG_MS, 1);
	if (!r->log_limit || !r->unsaved_log) {
		edged_router_free(r);
		return -ENOMEM;
	}
	/* A flood of made-up ids passes any per-node limit. */
	edge_ratelimit_set_total(r->log_limit, (uint32_t)s->log.bad_input_total_burst);
	rc = router_subscribe(r);
	if (rc < 0) {
		edged_router_free(r);
		return rc;
	}
	edge_registry_set_saved_hook(registry, router_saved, r);
	*out = r;
	return 0;
}

void edged_router_free(struct edged_router *r)
{
	if (!r)
		return;
	/* Writes still in flight complete without us: their nodes get no
	 * answer and send hello again (node protocol §2.1 step 5). */
	edge_registry_set_saved_hook(r->registry, NULL, NULL);
	edge_ratelimit_free(r->log_limit);
	edge_ratelimit_free(r->unsaved_log);
	free(r);
}

void edged_router_apply_settings(struct edged_router *r, const struct edge_settings *s)
{
	r->s = s;
	if (edge_ratelimit_set_limits(r->log_limit, (uint64_t)s->log.bad_input_interval_s * 1000,
				      (uint32_t)s->log.bad_input_burst) < 0)
		edge_log(EDGE_LOG_WARNING, "router", "bad-input log limits not applied");
	edge_ratelimit_set_total(r->log_limit, (uint32_t)s->log.bad_input_total_burst);
}

void edged_router_get_stats(const struct edged_router *r, struct edged_router_stats *out)
{
	*out = r->stats;
}

int edged_router_clear_retained(struct edged_router *r, const char *id)
{
	/* Every per-node leaf topic of either direction (ota/ and infer/ have
	 * sub-levels and are never retained). */
	static const enum edge_topic_type leaves[] = {
		EDGE_TOPIC_HELLO, EDGE_TOPIC_STATUS, EDGE_TOPIC_HEARTBEAT,
		EDGE_TOPIC_REGISTERED, EDGE_TOPIC_REPORT, EDGE_TOPIC_ACK,
	};
	char topic[EDGE_CONFIG_NAME_MAX + EDGE_ID_MAX_LEN + 32];
	int n = 0;

	if (!r || !id)
		return -EINVAL;
	if (!edge_id_valid_str(id))
		return EDGE_EPROTO;
	for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
		int rc;

		snprintf(topic, sizeof topic, "%s/%s/%s", r->prefix, id,
			 edge_topic_type_name(leaves[i]));
		rc = edged_mqtt_publish(r->mqtt, topic, NULL, 0, 1, true);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

void edged_router_set_anomaly(struct edged_router *r, struct edged_anomaly *anomaly)
{
	r->anomaly = anomaly;
}

void edged_router_set_ota(struct edged_router *r, struct edged_ota *ota)
{
	r->ota = ota;
}

void edged_router_set_offload(struct edged_router *r, struct edged_offload *offload)
{
	r->offload = offload;
}

void edged_router_set_clock(struct edged_router *r, uint64_t (*now_ms)(void *ud), void *ud)
{
	r->now_ms = now_ms ? now_ms : default_clock;
	r->clock_ud = now_ms ? ud : NULL;
}

/* A topic for a log line: at most 96 bytes, non-printable bytes as '?'
 * (anyone can publish any topic). */
static const char *printable_topic(const char *topic, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; topic[i] && i + 4 < cap && i < 96; i++)
		buf[i] = topic[i] >= 0x20 && topic[i] < 0x7f ? topic[i] : '?';
	if (topic[i] && i + 4 <= cap) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Log about one node's bad input: at most log.bad_input_burst lines per node
 * and log.bad_input_total_burst for all nodes per interval. A line that
 * follows suppressed ones says how many: of this node since its previous
 * line, and of all nodes since the previous line of any. */
static void router_log_bad_v(struct edged_router *r, const char *id, const char *fmt,
			     va_list ap) __attribute__((format(printf, 3, 0)));
static void router_log_bad(struct edged_router *r, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void router_log_bad(struct edged_router *r, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	router_log_bad_v(r, id, fmt, ap);
	va_end(ap);
}

void edged_router_log_bad(struct edged_router *r, const char *id, const char *fmt, ...)
{
	va_list ap;

	if (!r)
		return;
	va_start(ap, fmt);
	router_log_bad_v(r, id, fmt, ap);
	va_end(ap);
}

static void router_log_bad_v(struct edged_router *r, const char *id, const char *fmt,
			     va_list ap)
{
	uint64_t mine = 0, all;
	char msg[512];

	if (!edge_ratelimit_allow(r->log_limit, id, r->now_ms(r->clock_ud), &mine)) {
		r->stats.log_suppressed++;
		return;
	}
	all = r->stats.log_suppressed - r->suppressed_at_last_line;
	r->suppressed_at_last_line = r->stats.log_suppressed;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (mine && all)
		edge_log(EDGE_LOG_WARNING, "router",
			 "%s (%llu similar suppressed; %llu bad-input lines suppressed since "
			 "the previous one)", msg, (unsigned long long)mine,
			 (unsigned long long)all);
	else if (mine)
		edge_log(EDGE_LOG_WARNING, "router", "%s (%llu similar suppressed)", msg,
			 (unsigned long long)mine);
	else if (all)
		edge_log(EDGE_LOG_WARNING, "router",
			 "%s (%llu bad-input lines suppressed since the previous one)", msg,
			 (unsigned long long)all);
	else
		edge_log(EDGE_LOG_WARNING, "router", "%s", msg);
}

static void router_reply(struct edged_router *r, const char *id,
			 const struct edge_msg_registered *reg)
{
	char topic[EDGE_CONFIG_NAME_MAX + EDGE_ID_MAX_LEN + 16];
	char payload[EDGE_MSG_MAX_PAYLOAD];
	int n, rc;

	n = edge_msg_encode_registered(payload, sizeof payload, reg);
	if (n < 0) {
		edge_log(EDGE_LOG_ERR, "router", "cannot encode reply to %s: %s", id, strerror(-n));
		return;
	}
	snprintf(topic, sizeof topic, "%s/%s/registered", r->prefix, id);
	rc = edged_mqtt_publish(r->mqtt, topic, payload, (size_t)n, 1, false);
	if (rc < 0)
		edge_log(EDGE_LOG_WARNING, "router", "reply to %s not sent: %s", id,
			 edge_strerror(rc));
}

static void router_refuse(struct edged_router *r, const char *id, enum edge_msg_refusal why,
			  const char *detail)
{
	struct edge_msg_registered reg = {
		.proto = EDGE_PROTO_VERSION,
		.accepted = 0,
		.refusal = why,
	};

	snprintf(reg.refusal_text, sizeof reg.refusal_text, "%s", edge_msg_refusal_name(why));
	if (detail)
		snprintf(reg.detail, sizeof reg.detail, "%s", detail);
	router_reply(r, id, &reg);
}

static void router_hello(struct edged_router *r, const struct edge_msg_hello *hello,
			 uint64_t now_ms, int64_t wall_ms)
{
	int rc;

	r->stats.hello++;
	rc = edge_registry_on_hello(r->registry, hello, now_ms, wall_ms);
	if (rc == EDGE_EAUTH) {
		bool revoked = edge_registry_get_state(r->registry, hello->id) == EDGE_NODE_REVOKED;

		r->stats.refusals[EDGED_ROUTER_NOT_ALLOWED]++;
		router_log_bad(r, hello->id, "node %s refused: %s", hello->id,
			       revoked ? "revoked by the operator"
				       : "not admitted (registry.admission)");
		router_refuse(r, hello->id, EDGE_MSG_REFUSE_NOT_ALLOWED, NULL);
		return;
	}
	if (rc == EDGE_ELIMIT) {
		r->stats.refusals[EDGED_ROUTER_DEVICE_LIMIT]++;
		router_log_bad(r, hello->id, "node %s refused: device limit %d reached", hello->id,
			       r->s->registry.max_devices);
		router_refuse(r, hello->id, EDGE_MSG_REFUSE_DEVICE_LIMIT, NULL);
		return;
	}
	if (rc < 0) {
		r->stats.refusals[EDGED_ROUTER_INTERNAL]++;
		edge_log(EDGE_LOG_ERR, "router", "hello from %s: %s", hello->id, edge_strerror(rc));
		router_refuse(r, hello->id, EDGE_MSG_REFUSE_INTERNAL, NULL);
		return;
	}
	/* Accepted: answered by router_saved once the registration committed. */
}

/* The registry's write for an event committed or failed. A hello is
 * answered only now: `registered` promises a row that survives a crash
 * (after a kill -9 the node's heartbeats and reports must not become
 * unknown_node). Not committed: refused `internal`, which the node retries
 * on the hello schedule; its row is written again with the next interval. */
static void router_saved(void *ud, const char *id, enum edge_registry_event ev, int result)
{
	struct edged_router *r = ud;
	uint64_t suppressed = 0;
	char more[64] = "";

	if (ev != EDGE_REGISTRY_REGISTERED && ev != EDGE_REGISTRY_UPDATED)
		return;
	if (result < 0) {
		r->stats.refusals[EDGED_ROUTER_INTERNAL]++;
		if (edge_ratelimit_allow(r->unsaved_log, "store", r->now_ms(r->clock_ud),
					 &suppressed)) {
			if (suppressed)
				snprintf(more, sizeof more, " (%llu similar lines suppressed)",
					 (unsigned long long)suppressed);
			edge_log(EDGE_LOG_ERR, "router", "hello from %s refused (internal): "
				 "registration not stored: %s%s", id, edge_strerror(result), more);
		}
		router_refuse(r, id, EDGE_MSG_REFUSE_INTERNAL, NULL);
		return;
	}
	(void)edged_router_send_registered(r, id);
}

int edged_router_send_registered(struct edged_router *r, const char *id)
{
	struct edge_msg_registered reg = { .proto = EDGE_PROTO_VERSION, .accepted = 1 };
	struct edge_node_info node;

	/* Removed or revoked meanwhile: no answer, the node asks again. */
	if (edge_registry_get(r->registry, id, &node) < 0 || node.state == EDGE_NODE_REVOKED)
		return EDGE_ENOTFOUND;
	/* The interval the gateway judges the node by: the latest hello's. */
	reg.heartbeat_s = node.heartbeat_interval_ms / 1000;
	reg.stale_after = (uint32_t)r->s->registry.stale_after_missed_heartbeats;
	/* Shadow verification: the share of its own inferences to send. */
	reg.verify_permille = (uint32_t)edged_offload_verify_permille(r->offload, &node);
	router_reply(r, id, &reg);
	return 0;
}

static void router_known_node_result(struct edged_router *r, const char *id, const char *what,
				     int rc)
{
	if (rc == 0)
		return;
	if (rc == EDGE_EAUTH) {
		r->stats.refusals[EDGED_ROUTER_NOT_ALLOWED]++;
		router_log_bad(r, id, "%s from node %s ignored: not_allowed (%s)", what, id,
			       edge_registry_get_state(r->registry, id) == EDGE_NODE_REVOKED
				       ? "revoked" : "not admitted");
		return;
	}
	if (rc == EDGE_ENOTFOUND) {
		r->stats.refusals[EDGED_ROUTER_UNKNOWN_NODE]++;
		router_log_bad(r, id, "%s from unknown node %s ignored (no hello yet, or removed)",
			       what, id);
		return;
	}
	r->stats.refusals[EDGED_ROUTER_INTERNAL]++;
	edge_log(EDGE_LOG_ERR, "router", "%s from %s: %s", what, id, edge_strerror(rc));
}

/* A report: parsed here (edge_msg_parse_node leaves it to its own parser,
 * which keeps about 26 KB of tokens on the stack: fine on the loop thread,
 * never in a recursive path), then handed to the anomaly service if the
 * node is registered and allowed. Not acked when refused: the node keeps
 * the events, and sends them again once registered. */
static void router_report(struct edged_router *r, const char *id, const void *payload,
			  size_t len, int64_t wall_ms)
{
	struct edge_msg_report report;
	struct edge_msg_error err = { 0 };
	int state;

	r->stats.report++;
	if (edge_msg_parse_report(payload, len, &report, &err) < 0) {
		enum edge_msg_reject why = err.reason;

		if (why <= EDGE_MSG_OK || why >= EDGE_MSG_REJECT_COUNT)
			why = EDGE_MSG_BAD_JSON;
		r->stats.rejects[why]++;
		router_log_bad(r, id, "node %s: report message rejected: %s%s%s", id,
			       edge_msg_reject_name(why), err.field[0] ? " at " : "", err.field);
		return;
	}
	state = edge_registry_get_state(r->registry, id);
	if (state == EDGE_NODE_REVOKED) {
		router_known_node_result(r, id, "report", EDGE_EAUTH);
		return;
	}
	if (state < 0) {
		router_known_node_result(r, id, "report", EDGE_ENOTFOUND);
		return;
	}
	/* EDGE_ELIMIT (deferred) is counted by the service: the node sends
	 * the report again, nothing to log per report. */
	(void)edged_anomaly_submit(r->anomaly, id, &report, wall_ms);
}

/* An OTA answer (<prefix>/<id>/ota/req/answer): parsed, then to the OTA
 * service if the node is registered and allowed. */
static void router_ota_answer(struct edged_router *r, const char *id, const void *payload,
			      size_t len)
{
	struct edge_ota_answer a;
	struct edge_msg_error err = { 0 };
	int state, rc;

	r->stats.ota_answer++;
	if (len > EDGE_OTA_ANSWER_MAX) {
		r->stats.rejects[EDGE_MSG_TOO_LARGE]++;
		edged_ota_bad_answer(r->ota);
		router_log_bad(r, id, "node %s: %zu-byte OTA answer rejected (limit %d)", id, len,
			       EDGE_OTA_ANSWER_MAX);
		return;
	}
	if (edge_ota_answer_parse(payload, len, &a, &err) < 0) {
		enum edge_msg_reject why = err.reason;

		if (why <= EDGE_MSG_OK || why >= EDGE_MSG_REJECT_COUNT)
			why = EDGE_MSG_BAD_JSON;
		r->stats.rejects[why]++;
		edged_ota_bad_answer(r->ota);
		router_log_bad(r, id, "node %s: OTA answer rejected: %s%s%s", id,
			       edge_msg_reject_name(why), err.field[0] ? " at " : "", err.field);
		return;
	}
	state = edge_registry_get_state(r->registry, id);
	if (state == EDGE_NODE_REVOKED) {
		router_known_node_result(r, id, "OTA answer", EDGE_EAUTH);
		return;
	}
	if (state < 0) {
		router_known_node_result(r, id, "OTA answer", EDGE_ENOTFOUND);
		return;
	}
	rc = edged_ota_on_answer(r->ota, id, &a);
	if (rc == EDGE_ENOTFOUND)
		router_log_bad(r, id, "node %s: OTA answer for transfer %u ignored: no such open "
			       "transfer holds the node", id, a.transfer);
	else if (rc < 0)
		router_log_bad(r, id, "node %s: OTA answer for transfer %u ignored: it contradicts "
			       "the transfer", id, a.transfer);
}

/* Map <prefix>/<rest> onto edge/v1/<rest>; false if the topic is not ours. */
static bool router_canonical_topic(const struct edged_router *r, const char *topic, char *out,
				   size_t cap)
{
	size_t plen = strlen(r->prefix);

	if (strncmp(topic, r->prefix, plen) != 0 || topic[plen] != '/')
		return false;
	return (size_t)snprintf(out, cap, "%s%s", ROUTER_CANON_PREFIX, topic + plen) < cap;
}

void edged_router_on_message(struct edged_router *r, const struct edged_mqtt_message *in)
{
	const char *topic = in->topic;
	const void *payload = in->payload;
	size_t len = in->len;
	char canon[EDGE_TOPIC_MAX_LEN + 1];
	struct edge_node_msg msg;
	struct edge_msg_error err = { 0 };
	struct edge_topic parsed;
	const char *id = "?";
	char shown[128];
	uint64_t now_ms = r->now_ms(r->clock_ud);
	int64_t wall_ms = router_wall_ms();
	int rc;

	if (!router_canonical_topic(r, topic, canon, sizeof canon)) {
		r->stats.rejects[EDGE_MSG_BAD_TOPIC]++;
		router_log_bad(r, "?", "message on topic '%s' outside %s/<id>/<type> ignored: %s",
			       printable_topic(topic, shown, sizeof shown), r->prefix,
			       edge_msg_reject_name(EDGE_MSG_BAD_TOPIC));
		return;
	}
	/* The id for logs and replies, when the topic has a valid one. */
	if (edge_topic_parse(canon, strlen(canon), &parsed, NULL) == 0)
		id = parsed.id;
	else
		parsed.type = EDGE_TOPIC_NONE;

	/* Only a status is retained (node protocol §2). Any other type replayed
	 * from the broker's store was left there by someone (a fake device's
	 * hello would come back at every restart): drop it and clear it. */
	if (in->retained && parsed.type != EDGE_TOPIC_NONE && parsed.type != EDGE_TOPIC_STATUS) {
		r->stats.refusals[EDGED_ROUTER_RETAINED]++;
		router_log_bad(r, id, "node %s: retained %s message ignored and cleared (only status "
			       "is retained): retained", id, edge_topic_type_name(parsed.type));
		if (edged_mqtt_publish(r->mqtt, topic, NULL, 0, 1, true) < 0)
			r->stats.refusals[EDGED_ROUTER_INTERNAL]++;
		return;
	}
	/* Offload messages are binary, with a limit of their own. */
	if (parsed.type == EDGE_TOPIC_INFER && r->offload) {
		if (len > r->s->offload.max_payload_bytes) {
			r->stats.rejects[EDGE_MSG_TOO_LARGE]++;
			router_log_bad(r, id, "node %s: %zu-byte offload message rejected (limit %zu)",
				       id, len, r->s->offload.max_payload_bytes);
			return;
		}
		rc = edge_registry_get_state(r->registry, id);
		if (rc < 0 || rc == EDGE_NODE_REVOKED) {
			router_known_node_result(r, id, "offload message",
						 rc < 0 ? EDGE_ENOTFOUND : EDGE_EAUTH);
			return;
		}
		edged_offload_on_message(r->offload, id, parsed.sub, parsed.sub_len, in);
		return;
	}
	/* Checked before parsing: an oversized payload costs nothing. */
	if (len > r->s->mqtt.max_payload_bytes) {
		r->stats.rejects[EDGE_MSG_TOO_LARGE]++;
		router_log_bad(r, id, "node %s: %zu-byte message rejected (limit %zu)", id, len,
			       r->s->mqtt.max_payload_bytes);
		if (parsed.type == EDGE_TOPIC_HELLO)
			router_refuse(r, id, EDGE_MSG_REFUSE_BAD_HELLO, "too_large");
		return;
	}
	if (parsed.type == EDGE_TOPIC_REPORT && r->anomaly) {
		router_report(r, id, payload, len, wall_ms);
		return;
	}
	if (parsed.type == EDGE_TOPIC_OTA && r->ota && parsed.sub_len == 10 &&
	    memcmp(parsed.sub, "req/answer", 10) == 0) {
		router_ota_answer(r, id, payload, len);
		return;
	}
	rc = edge_msg_parse_node(canon, strlen(canon), payload, len, &msg, &err);
	if (rc < 0) {
		enum edge_msg_reject why = err.reason;
		char detail[EDGE_MSG_DETAIL_CAP];

		if (why <= EDGE_MSG_OK || why >= EDGE_MSG_REJECT_COUNT)
			why = EDGE_MSG_BAD_JSON;
		r->stats.rejects[why]++;
		if (parsed.type == EDGE_TOPIC_NONE)
			/* No valid <id>/<type> in the topic: nobody to name or answer. */
			router_log_bad(r, id, "message on topic '%s' outside %s/<id>/<type> "
				       "ignored: %s", printable_topic(topic, shown, sizeof shown),
				       r->prefix, edge_msg_reject_name(why));
		else
			router_log_bad(r, id, "node %s: %s message rejected: %s%s%s", id,
				       edge_topic_type_name(parsed.type),
				       edge_msg_reject_name(why), err.field[0] ? " at " : "",
				       err.field);
		if (parsed.type == EDGE_TOPIC_HELLO) {
			snprintf(detail, sizeof detail, "%s%s%s", edge_msg_reject_name(why),
				 err.field[0] ? ":" : "", err.field);
			router_refuse(r, id, why == EDGE_MSG_UNSUPPORTED_VERSION
						     ? EDGE_MSG_REFUSE_UNSUPPORTED_VERSION
						     : EDGE_MSG_REFUSE_BAD_HELLO,
				      detail);
		}
		return;
	}
	switch (msg.type) {
	case EDGE_TOPIC_HELLO:
		router_hello(r, &msg.u.hello, now_ms, wall_ms);
		break;
	case EDGE_TOPIC_STATUS:
		r->stats.status++;
		/* An unknown id's status is kept for its hello (no reject). */
		rc = edge_registry_on_status(r->registry, msg.id, &msg.u.status, in->retained,
					     now_ms, wall_ms);
		router_known_node_result(r, msg.id, "status", rc);
		break;
	case EDGE_TOPIC_HEARTBEAT:
		r->stats.heartbeat++;
		rc = edge_registry_on_heartbeat(r->registry, msg.id, &msg.u.heartbeat, now_ms,
						wall_ms);
		router_known_node_result(r, msg.id, "heartbeat", rc);
		break;
	default:
		r->stats.rejects[EDGE_MSG_UNHANDLED_TYPE]++;
		break;
	}
}
