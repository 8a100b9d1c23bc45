/* Node messages of protocol v1: hello, status, heartbeat (node→gateway) and
 * registered (gateway→node), as fixed-size structs with a strict parser and
 * an encoder for each. node-protocol.md is the normative description; the
 * limits below are the ones it states.
 *
 * Parsers: `int edge_msg_parse_X(buf, len, out, err)` read buf[0..len) (no
 * NUL needed, never past len), return 0 or -EPROTO, and on rejection fill
 * *err (may be NULL) with the reason and the offending field. *out is
 * fully written on success and unspecified on failure. Unknown fields are
 * ignored (forward compatibility); everything else is checked.
 *
 * Encoders: `int edge_msg_encode_X(buf, cap, msg)` validate msg with the
 * same rules as the parser and write compact JSON, NUL-terminated. They
 * return the length (without NUL), -EINVAL if msg breaks a rule, or
 * -ENOSPC if cap is too small (EDGE_MSG_MAX_PAYLOAD always suffices). */
#ifndef EDGE_NODE_MSG_H
#define EDGE_NODE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "edge_msg_reject.h"
#include "edge_proto.h"
#include "edge_topic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest payload of any v1 node message. */
#define EDGE_MSG_MAX_PAYLOAD 4096
/* Deepest nesting (top-level object = 1). */
#define EDGE_MSG_MAX_DEPTH 4
/* JSON tokens per message the parser holds (stack: 20 bytes each): every
 * value and every object key is one (node-protocol.md §4). The gateway's
 * parsers (hello, status, heartbeat) use it; a node's do not. */
#ifndef EDGE_MSG_MAX_TOKENS
#define EDGE_MSG_MAX_TOKENS 256
#endif
/* The most tokens a `registered` may hold (§4): its parser, a node's, keeps
 * only these on its stack (640 bytes). */
#define EDGE_MSG_REGISTERED_MAX_TOKENS 32

/* Largest integer a field may carry (2^53 - 1: exact in every JSON reader). */
#define EDGE_MSG_UINT_MAX 9007199254740991ull

/* String field capacities including the NUL. */
#define EDGE_MSG_VERSION_CAP 32  /* [A-Za-z0-9._+-]{1,31} */
#define EDGE_MSG_TOKEN_CAP 32    /* names: [A-Za-z0-9._-]{1,31} */
#define EDGE_MSG_OP_CAP 32       /* builtin op names: [A-Z0-9_]{1,31} */
#define EDGE_MSG_MAX_OPS 64
#define EDGE_MSG_SHA256_HEX 64   /* lowercase hex digits */
#define EDGE_MSG_DETAIL_CAP 96   /* printable ASCII, 0..95 */

#define EDGE_MSG_HEARTBEAT_MIN_S 5
#define EDGE_MSG_HEARTBEAT_MAX_S 3600
#define EDGE_MSG_STALE_AFTER_MAX 1000
#define EDGE_MSG_VERIFY_PERMILLE_MAX 1000

/* What went wrong, for counters and logs. field is the JSON path of the
 * offending field ("model.sha256", "ops[3]") or "" for the whole message. */
struct edge_msg_error {
	enum edge_msg_reject reason;
	char field[40];
	size_t offset; /* byte offset in the payload, 0 if not applicable */
};

/* ---- hello (node→gw, QoS 1) */

struct edge_msg_model {
	char name[EDGE_MSG_TOKEN_CAP];
	char version[EDGE_MSG_VERSION_CAP];
	char sha256[EDGE_MSG_SHA256_HEX + 1];
};

struct edge_msg_hello {
	uint32_t proto;                          /* EDGE_PROTO_VERSION */
	char id[EDGE_ID_MAX_LEN + 1];
	char fw[EDGE_MSG_VERSION_CAP];           /* firmware version */
	char runtime_name[EDGE_MSG_TOKEN_CAP];   /* e.g. "tflm" */
	char runtime_version[EDGE_MSG_VERSION_CAP];
	uint32_t n_ops;
	char ops[EDGE_MSG_MAX_OPS][EDGE_MSG_OP_CAP]; /* e.g. "CONV_2D" */
	uint32_t ram_bytes;                      /* >= 1 */
	uint32_t flash_bytes;                    /* >= 1 */
	uint32_t arena_bytes;                    /* <= ram_bytes */
	char sensor[EDGE_MSG_TOKEN_CAP];         /* e.g. "accel-3axis" */
	int has_model;                           /* 0: "model" null or absent */
	struct edge_msg_model model;
	uint32_t heartbeat_s;                    /* HEARTBEAT_MIN_S..MAX_S */
};

/* ---- status (node→gw, QoS 1, retained; the last will is offline/lost) */

enum edge_msg_state {
	EDGE_MSG_STATE_ONLINE = 1,
	EDGE_MSG_STATE_OFFLINE,
};

/* Known reasons; a newer node may send others (kept as OTHER + text). */
enum edge_msg_status_reason {
	EDGE_MSG_STATUS_NONE = 0,   /* "reason" absent */
	EDGE_MSG_STATUS_BOOT,       /* online after power-up */
	EDGE_MSG_STATUS_RECONNECT,  /* online after a lost connection */
	EDGE_MSG_STATUS_SHUTDOWN,   /* clean offline */
	EDGE_MSG_STATUS_REBOOT,     /* clean offline, coming back */
	EDGE_MSG_STATUS_OTA,        /* clean offline to activate a model */
	EDGE_MSG_STATUS_SLEEP,      /* clean offline, deep sleep */
	EDGE_MSG_STATUS_LOST,       /* the last will: connection lost */
	EDGE_MSG_STATUS_OTHER,      /* well-formed but unknown to v1 */
};

struct edge_msg_status {
	uint32_t proto;
	enum edge_msg_state state;
	enum edge_msg_status_reason reason;
	char reason_text[EDGE_MSG_TOKEN_CAP]; /* as sent; "" if absent */
};

/* ---- heartbeat (node→gw, QoS 0) */

struct edge_msg_heartbeat {
	uint32_t proto;
	uint32_t seq;              /* restarts at 0 on boot, wraps */
	uint64_t uptime_s;         /* <= EDGE_MSG_UINT_MAX */
	uint64_t inferences;       /* since boot, <= EDGE_MSG_UINT_MAX */
	uint64_t anomalies;        /* since boot, <= EDGE_MSG_UINT_MAX */
	uint32_t mqtt_reconnects;  /* since boot */
	uint32_t free_heap_bytes;
	int has_min_free_heap;
	uint32_t min_free_heap_bytes; /* <= free_heap_bytes */
	int has_rssi;
	int32_t rssi_dbm;          /* -127..0 */
	/* Report events the node discarded unacknowledged since boot (its
	 * report queue was full, or they grew too old to send). */
	int has_reports_dropped;
	uint64_t reports_dropped;  /* <= EDGE_MSG_UINT_MAX */
};

/* ---- registered (gw→node, QoS 1): the answer to hello */

enum edge_msg_refusal {
	EDGE_MSG_REFUSE_NONE = 0,          /* accepted */
	EDGE_MSG_REFUSE_DEVICE_LIMIT,      /* "device_limit" */
	EDGE_MSG_REFUSE_BAD_HELLO,         /* "bad_hello" */
	EDGE_MSG_REFUSE_UNSUPPORTED_VERSION, /* "unsupported_version" */
	EDGE_MSG_REFUSE_NOT_ALLOWED,       /* "not_allowed" */
	EDGE_MSG_REFUSE_INTERNAL,          /* "internal" */
	EDGE_MSG_REFUSE_OTHER,             /* unknown to this revision */
};

struct edge_msg_registered {
	uint32_t proto;
	int accepted;
	/* accepted: the heartbeat interval the gateway judges by, and after
	 * how many missed heartbeats it marks the node stale. */
	uint32_t heartbeat_s;
	uint32_t stale_after;
	/* accepted: the share, in thousandths, of its own inferences the node
	 * sends as infer/verify messages (offload.md §5); 0 (absent) = none. */
	uint32_t verify_permille;    /* 0 .. EDGE_MSG_VERIFY_PERMILLE_MAX */
	/* refused: */
	enum edge_msg_refusal refusal;
	char refusal_text[EDGE_MSG_TOKEN_CAP]; /* as sent */
	char detail[EDGE_MSG_DETAIL_CAP];      /* optional, e.g. "missing_field:fw" */
};

/* ---- Parsers and encoders. */

EDGE_PROTO_WUR int edge_msg_parse_hello(const char *buf, size_t len,
					struct edge_msg_hello *out,
					struct edge_msg_error *err);
EDGE_PROTO_WUR int edge_msg_parse_status(const char *buf, size_t len,
					 struct edge_msg_status *out,
					 struct edge_msg_error *err);
EDGE_PROTO_WUR int edge_msg_parse_heartbeat(const char *buf, size_t len,
					    struct edge_msg_heartbeat *out,
					    struct edge_msg_error *err);
EDGE_PROTO_WUR int edge_msg_parse_registered(const char *buf, size_t len,
					     struct edge_msg_registered *out,
					     struct edge_msg_error *err);

EDGE_PROTO_WUR int edge_msg_encode_hello(char *buf, size_t cap,
					 const struct edge_msg_hello *m);
EDGE_PROTO_WUR int edge_msg_encode_status(char *buf, size_t cap,
					  const struct edge_msg_status *m);
EDGE_PROTO_WUR int edge_msg_encode_heartbeat(char *buf, size_t cap,
					     const struct edge_msg_heartbeat *m);
EDGE_PROTO_WUR int edge_msg_encode_registered(char *buf, size_t cap,
					      const struct edge_msg_registered *m);

/* One node→gateway message, parsed from topic and payload together: the
 * gateway's single entry point. Checks the topic, that its type is one a
 * node sends and this revision parses (else WRONG_DIRECTION or
 * UNHANDLED_TYPE), the payload, and for hello that "id" equals the topic
 * id (ID_MISMATCH). */
struct edge_node_msg {
	enum edge_topic_type type; /* HELLO, STATUS or HEARTBEAT */
	char id[EDGE_ID_MAX_LEN + 1];
	union {
		struct edge_msg_hello hello;
		struct edge_msg_status status;
		struct edge_msg_heartbeat heartbeat;
	} u;
};

EDGE_PROTO_WUR int edge_msg_parse_node(const char *topic, size_t topic_len,
				       const char *payload, size_t payload_len,
				       struct edge_node_msg *out,
				       struct edge_msg_error *err);

/* Stable names of the enums ("online", "lost", "device_limit", ...). */
const char *edge_msg_state_name(enum edge_msg_state s);
const char *edge_msg_status_reason_name(enum edge_msg_status_reason r);
const char *edge_msg_refusal_name(enum edge_msg_refusal r);

#ifdef __cplusplus
}
#endif

#endif
