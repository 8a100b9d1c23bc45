/* Node messages in, registry calls and replies out.
 *
 * Subscribes to <prefix>/+/hello, /status and /heartbeat; each message is
 * size-checked (mqtt.max_payload_bytes) before any parsing, parsed by proto,
 * and handed to the registry. A hello is answered on <prefix>/<id>/registered
 * (accepted, or refused with a reason); accepted only once the registry's
 * write of it committed (through the registry's saved hook, which the router
 * owns), so a crash never leaves a node believing in a registration the
 * gateway lost; a write that fails is refused `internal` (counted, one log
 * line per 10 s). Every rejection is counted per reason;
 * log lines about bad input are rate-limited per node (log.bad_input_burst
 * per log.bad_input_interval_s, for up to 4096 recent nodes) and in total
 * (log.bad_input_total_burst), so one noisy node, or a flood of made-up ids,
 * cannot flood the journal or slow down the others. The first line after
 * suppressed ones says how many were suppressed. A message whose topic has
 * no valid <id>/<type> is logged with the topic it came on (printable part).
 *
 * Statuses carry the MQTT retain flag to the registry (a retained replay is
 * never a reconnect); a status from an unknown id is kept by the registry for
 * that id's hello and is no reject. A heartbeat from an unknown id is counted
 * as unknown_node.
 *
 * A hello from a revoked node, or from an id the registry's admission hook
 * refuses, is answered with refusal not_allowed; that and any status or
 * heartbeat of a revoked node (ignored by the registry) count as
 * not_allowed.
 *
 * A report (with an anomaly service set) is parsed with
 * edge_msg_parse_report, rejects counted by reason as for the other types;
 * a report of a registered node goes to the service (anomaly.h), which
 * stores it and sends the ack. From an unknown id it counts unknown_node,
 * from a revoked node not_allowed; neither is stored nor acked. */
#ifndef EDGED_ROUTER_H
#define EDGED_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "edge_config.h"
#include "edge_error.h"
#include "edge_msg_reject.h"
#include "edge_registry.h"
#include "mqtt.h"

struct edged_router;

/* Reasons counted by the router on top of proto's (edge_msg_reject). */
enum edged_router_refusal {
	EDGED_ROUTER_DEVICE_LIMIT,  /* "device_limit": hello beyond registry.max_devices */
	EDGED_ROUTER_UNKNOWN_NODE,  /* "unknown_node": heartbeat or report of a node not
				     * registered */
	EDGED_ROUTER_INTERNAL,      /* "internal": registry/store failure */
	EDGED_ROUTER_RETAINED,      /* "retained": a stored retained message of a type
				     * that is never retained (hello, heartbeat, ...) */
	EDGED_ROUTER_NOT_ALLOWED,   /* "not_allowed": revoked node, or an id admission refuses */
	EDGED_ROUTER_REFUSAL_COUNT
};
const char *edged_router_refusal_name(enum edged_router_refusal r);

struct edged_router_stats {
	uint64_t hello;
	uint64_t status;
	uint64_t heartbeat;
	uint64_t report;    /* reports that reached their parser (any outcome) */
	uint64_t ota_answer; /* OTA answers that reached their parser */
	uint64_t rejects[EDGE_MSG_REJECT_COUNT];           /* by edge_msg_reject */
	uint64_t refusals[EDGED_ROUTER_REFUSAL_COUNT];     /* by edged_router_refusal */
	uint64_t log_suppressed;
};

/* mqtt, registry and settings are borrowed and must outlive the router
 * (settings: until the next edged_router_apply_settings). Subscribes the
 * node topics and sets the registry's saved hook, so one router per
 * registry at a time (edged_router_free clears it: hellos whose write
 * completes later get no answer and are sent again). Errors: -ENOMEM,
 * -EINVAL. */
EDGE_WUR int edged_router_new(struct edged_mqtt *mqtt, edge_registry *registry,
			      const struct edge_settings *settings, struct edged_router **out);
void edged_router_free(struct edged_router *r); /* NULL-safe */

struct edged_anomaly;
/* Hands reports to `anomaly` (borrowed; NULL: none, a report then counts
 * as unhandled_type). */
void edged_router_set_anomaly(struct edged_router *r, struct edged_anomaly *anomaly);

struct edged_ota;
/* Hands OTA answers (<prefix>/<id>/ota/req/answer) to `ota` (borrowed;
 * NULL: none, an answer then counts as unhandled_type). An answer is
 * size-checked (EDGE_OTA_ANSWER_MAX), parsed with edge_ota_answer_parse
 * (rejects counted by reason), and taken only from a registered node that
 * is not revoked (unknown_node, not_allowed otherwise). One the service
 * cannot place (no such open transfer, or contradicting it) is logged like
 * other bad input. */
void edged_router_set_ota(struct edged_router *r, struct edged_ota *ota);

/* Offload messages (<p>/<id>/infer/req, verify) of a registered, not
 * revoked node go to the offload service, after their own size limit
 * (offload.max_payload_bytes). NULL: counted as unhandled_type. */
struct edged_offload;
void edged_router_set_offload(struct edged_router *r, struct edged_offload *offload);

/* Sends node id an accepted `registered` again (its heartbeat interval
 * and shadow-sampling share as now): the answer to its hello, and how a
 * changed share reaches a node at once. 0 or EDGE_ENOTFOUND (unknown or
 * revoked). */
int edged_router_send_registered(struct edged_router *r, const char *id);

/* A line about bad input from node id, rate-limited with the router's own
 * (log.bad_input_*): for the services the router hands messages to. */
void edged_router_log_bad(struct edged_router *r, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Feed one message (the mqtt on_message callback). */
void edged_router_on_message(struct edged_router *r, const struct edged_mqtt_message *in);

/* Reloadable settings: payload limit, log rate limit. */
void edged_router_apply_settings(struct edged_router *r, const struct edge_settings *settings);

void edged_router_get_stats(const struct edged_router *r, struct edged_router_stats *out);

/* Clears what the broker retains for node `id` (on removal or revocation,
 * so that nobody subscribing later reads a stale node): an empty retained
 * message, QoS 1, on every per-node leaf topic edged knows in both
 * directions, <prefix>/<id>/{hello,status,heartbeat,registered,report,ack}.
 * An empty retained publish on a topic that retains nothing is harmless.
 * Queued like any publish (sent on the next connect when disconnected).
 * Returns how many were queued (6), or EDGE_EPROTO (invalid id), -EINVAL,
 * or the first publish error (those before it stay queued). */
EDGE_WUR int edged_router_clear_retained(struct edged_router *r, const char *id);

/* The monotonic clock the router reads (registry events, log limits):
 * edge_time_monotonic_ms unless set; NULL restores it. For tests. */
void edged_router_set_clock(struct edged_router *r, uint64_t (*now_ms)(void *ud), void *ud);

#endif
