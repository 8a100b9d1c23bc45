/* The MQTT topic tree: edge/v1/<id>/<type>[/<sub>...].
 *
 * Parsing splits a topic into node id and message type with validation;
 * building produces topics and subscription filters for a node id. See
 * node-protocol.md §3 for the tree. */
#ifndef EDGE_TOPIC_H
#define EDGE_TOPIC_H

#include <stddef.h>

#include "edge_msg_reject.h"
#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_ID_MAX_LEN 64
/* The topic level of campaign frames (<p>/_campaign/<t>/frame, proto/ota/
 * transfer.md): reserved, never a node id. The same literal as
 * EDGE_OTA_CAMPAIGN_ID (edge_ota_transfer.h). */
#define EDGE_TOPIC_CAMPAIGN_ID "_campaign"
/* Longest topic of this tree that we build or accept. */
#define EDGE_TOPIC_MAX_LEN 256

enum edge_topic_type {
	EDGE_TOPIC_NONE = 0,
	EDGE_TOPIC_HELLO,      /* node→gw   edge/v1/<id>/hello */
	EDGE_TOPIC_STATUS,     /* node→gw   edge/v1/<id>/status (retained, last will) */
	EDGE_TOPIC_HEARTBEAT,  /* node→gw   edge/v1/<id>/heartbeat */
	EDGE_TOPIC_REGISTERED, /* gw→node   edge/v1/<id>/registered */
	EDGE_TOPIC_REPORT,     /* node→gw   edge/v1/<id>/report */
	EDGE_TOPIC_ACK,        /* gw→node   edge/v1/<id>/ack */
	EDGE_TOPIC_OTA,        /* both      edge/v1/<id>/ota/<sub> (later revision) */
	EDGE_TOPIC_INFER,      /* both      edge/v1/<id>/infer/<sub> (later revision) */
	EDGE_TOPIC_TYPE_COUNT
};

enum edge_topic_dir {
	EDGE_TOPIC_TO_GATEWAY = 1,
	EDGE_TOPIC_TO_NODE = 2,
	EDGE_TOPIC_BOTH = 3,
};

/* A parsed topic. `sub` points into the parsed topic (borrowed): the rest
 * after "ota/" or "infer/", empty for the other types. */
struct edge_topic {
	enum edge_topic_type type;
	char id[EDGE_ID_MAX_LEN + 1];
	const char *sub;
	size_t sub_len;
};

/* 1 if id[0..len) matches [A-Za-z0-9_-]{1,64} and is not the reserved
 * EDGE_TOPIC_CAMPAIGN_ID, else 0. */
int edge_id_valid(const char *id, size_t len);
/* Same for a NUL-terminated id (NULL → 0). */
int edge_id_valid_str(const char *id);

/* Parse topic[0..len) (no NUL needed). Returns 0, or -EPROTO with *why
 * (may be NULL) set to one of: EDGE_MSG_BAD_TOPIC (not edge/vN/<id>/<type>,
 * empty levels, wildcards, too long), EDGE_MSG_UNSUPPORTED_VERSION (vN with
 * N != 1), EDGE_MSG_BAD_ID, EDGE_MSG_UNKNOWN_TYPE (including extra levels
 * after a type that has none, or ota/infer without a sub-level). */
EDGE_PROTO_WUR int edge_topic_parse(const char *topic, size_t len,
				    struct edge_topic *out,
				    enum edge_msg_reject *why);

/* Build the topic for (id, type) into buf[0..cap), NUL-terminated. sub is
 * required for OTA/INFER (e.g. "offer", "req") and must be NULL otherwise.
 * Returns the length (without NUL), -EINVAL (bad id, type or sub), or
 * -ENOSPC. */
EDGE_PROTO_WUR int edge_topic_build(char *buf, size_t cap, const char *id,
				    enum edge_topic_type type, const char *sub);

/* Subscription filter matching `type` for every node, e.g.
 * "edge/v1/+/hello", "edge/v1/+/ota/#". Same return convention. */
EDGE_PROTO_WUR int edge_topic_filter(char *buf, size_t cap,
				     enum edge_topic_type type);

/* Stable name of a type ("hello", "status", ...); "none" for unknown. */
const char *edge_topic_type_name(enum edge_topic_type type);
/* Who publishes it; 0 for EDGE_TOPIC_NONE/unknown. */
enum edge_topic_dir edge_topic_direction(enum edge_topic_type type);

#ifdef __cplusplus
}
#endif

#endif
