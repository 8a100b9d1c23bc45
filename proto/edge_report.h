/* Anomaly reports of protocol v1: report (node→gateway) and ack
 * (gateway→node), as fixed-size structs with a strict parser and a
 * validating encoder for each. node-protocol.md §5.5–5.6 is the normative
 * description; the limits below are the ones it states.
 *
 * Conventions as edge_node_msg.h: parsers read buf[0..len) (no NUL needed),
 * return 0 or -EPROTO and fill *err (may be NULL) with the first reason
 * found and the offending field ("events[3].score"); *out is fully written
 * on success, unspecified on failure; unknown fields are ignored. Encoders
 * validate with the parser's rules and write compact JSON, NUL-terminated,
 * returning the length (without NUL), -EINVAL if an argument breaks a rule
 * or -ENOSPC if cap is too small (nothing usable in buf then).
 *
 * Numbers: score and threshold are written with as few digits as give the
 * same double back, summary values with as few as give the same float back
 * (parse(encode(x)) == x exactly). The encoder needs no libc formatting (no
 * printf, no allocation), so firmware can use it with newlib nano.
 *
 * Gateway-only: edge_msg_parse_report (edge_report_parse.c). It reads
 * numbers with strtod/strtof (C locale decimal point), which in newlib
 * nano link the allocator, and keeps about 26 KB of tokens on its stack.
 * A node links the rest: edge_msg_parse_ack, the encoders,
 * edge_msg_report_fit and edge_report_event_valid (edge_report.c). */
#ifndef EDGE_REPORT_H
#define EDGE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_msg_reject.h"
#include "edge_node_msg.h"
#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_REPORT_MAX_EVENTS 32
#define EDGE_REPORT_SUMMARY_MAX 16
/* Largest age_ms: 30 days. */
#define EDGE_REPORT_AGE_MAX_MS 2592000000u
/* Largest |score|, |threshold| and |summary[i]|. */
#define EDGE_REPORT_VALUE_MAX 1e9
#define EDGE_REPORT_SEVERITY_MAX 7
/* A report nests one level deeper than other messages (summary numbers
 * inside an event inside events) and holds more tokens: 32 events with
 * every field and 16 summary values take 1065. The report parser keeps
 * EDGE_REPORT_MAX_TOKENS tokens (20 bytes each) on its stack: about 26 KB,
 * a gateway figure. */
#define EDGE_REPORT_MAX_DEPTH 5
#ifndef EDGE_REPORT_MAX_TOKENS
#define EDGE_REPORT_MAX_TOKENS 1280
#endif
/* Hex digits of the ack's sack bitmap. */
#define EDGE_ACK_SACK_HEX 16
/* The most tokens an ack may hold (§4; it needs 9): the node's parser
 * keeps only these on its stack (320 bytes). */
#define EDGE_ACK_MAX_TOKENS 16

/* One anomaly event. seq: 1..UINT32_MAX, strictly increasing within a
 * report. The model is named either by name@version or by sha256. The
 * event's time is either its age when sent (nodes without a real-time
 * clock) or a Unix timestamp in ms. */
struct edge_report_event {
	uint32_t seq;
	bool has_sha256;                            /* model given as model_sha256 */
	char model_name[EDGE_MSG_TOKEN_CAP];        /* when !has_sha256: name */
	char model_version[EDGE_MSG_VERSION_CAP];   /* when !has_sha256: version */
	char model_sha256[EDGE_MSG_SHA256_HEX + 1]; /* when has_sha256 */
	double score, threshold;                    /* finite, |x| <= 1e9 */
	char label[EDGE_MSG_TOKEN_CAP];             /* name class */
	bool has_severity;
	uint8_t severity;                           /* 0..7 */
	uint8_t n_summary;                          /* 0..EDGE_REPORT_SUMMARY_MAX */
	float summary[EDGE_REPORT_SUMMARY_MAX];     /* finite, |x| <= 1e9 */
	bool has_ts;                                /* ts_ms given, else age_ms */
	uint64_t ts_ms;                             /* <= EDGE_MSG_UINT_MAX */
	uint32_t age_ms;                            /* <= EDGE_REPORT_AGE_MAX_MS */
};

/* ---- report (node→gw, QoS 1) */

struct edge_msg_report {
	uint32_t epoch;   /* the node's boot epoch */
	/* 1..events[0].seq: every seq of the epoch below it was acked or
	 * dropped by the node and is never sent again (a gap below it is
	 * final). */
	uint32_t oldest;
	uint8_t n_events; /* 1..EDGE_REPORT_MAX_EVENTS */
	struct edge_report_event events[EDGE_REPORT_MAX_EVENTS];
};

/* ---- ack (gw→node, QoS 1) */

struct edge_msg_ack {
	uint32_t epoch;
	uint32_t acked; /* every seq 1..acked of epoch is committed; 0: none */
	uint64_t sack;  /* bit i set: seq acked + 1 + i committed too */
};

/* Gateway-only (see above). */
EDGE_PROTO_WUR int edge_msg_parse_report(const char *buf, size_t len,
					 struct edge_msg_report *out,
					 struct edge_msg_error *err);
EDGE_PROTO_WUR int edge_msg_parse_ack(const char *buf, size_t len,
				      struct edge_msg_ack *out,
				      struct edge_msg_error *err);

/* events[0..n), 1 <= n <= EDGE_REPORT_MAX_EVENTS, each valid and seq
 * strictly increasing; 1 <= oldest <= events[0].seq (the sender's oldest
 * held seq, edge_report_queue_oldest). */
EDGE_PROTO_WUR int edge_msg_encode_report(char *buf, size_t cap,
					  uint32_t epoch, uint32_t oldest,
					  const struct edge_report_event *events,
					  size_t n);
EDGE_PROTO_WUR int edge_msg_encode_ack(char *buf, size_t cap,
				       const struct edge_msg_ack *ack);

/* How many of events[0..n) (at most EDGE_REPORT_MAX_EVENTS) fit in one
 * report of at most cap - 1 bytes (cap counts the NUL, as the encoders'):
 * the longest valid prefix that encodes within cap. 0 if not even the
 * first fits or is valid, or oldest is not in 1..events[0].seq. Uses no
 * output buffer. */
size_t edge_msg_report_fit(uint32_t epoch, uint32_t oldest,
			   const struct edge_report_event *events, size_t n,
			   size_t cap);

/* True if the event satisfies every per-event rule of §5.5 (seq order
 * across events aside). */
bool edge_report_event_valid(const struct edge_report_event *ev);

#ifdef __cplusplus
}
#endif

#endif
