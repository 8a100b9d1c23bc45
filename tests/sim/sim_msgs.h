/* The valid messages a simulated node sends, encoded with proto's codec so
 * the simulator cannot drift from what edged parses. */
#ifndef SIM_MSGS_H
#define SIM_MSGS_H

#include <stddef.h>
#include <stdint.h>

#include "edge_node_msg.h"

/* Encode into buf[0..cap) (cap >= EDGE_MSG_MAX_PAYLOAD + 1 always suffices).
 * Return the length, or a negative errno from the codec. */
int sim_msgs_encode_hello(char *buf, size_t cap, const char *id,
			  uint32_t heartbeat_s);
/* What a node announces beyond the defaults: its ops (NULL: the default
 * five), tensor arena and model flash (0: the defaults; RAM grows with the
 * arena) and the model it runs (NULL: none). */
struct sim_msgs_caps {
	const char *const *ops;
	unsigned n_ops;
	uint32_t arena_bytes, flash_bytes;
	const struct edge_msg_model *model;
};
int sim_msgs_encode_hello_caps(char *buf, size_t cap, const char *id,
			       uint32_t heartbeat_s, const struct sim_msgs_caps *caps);
int sim_msgs_encode_status(char *buf, size_t cap, enum edge_msg_state state,
			   enum edge_msg_status_reason reason);
int sim_msgs_encode_heartbeat(char *buf, size_t cap, uint32_t seq,
			      uint64_t uptime_s, uint32_t reconnects);
/* The same for a node that reports anomalies: its count of them and its
 * report queue's dropped count. */
int sim_msgs_encode_heartbeat_reports(char *buf, size_t cap, uint32_t seq,
				      uint64_t uptime_s, uint32_t reconnects,
				      uint64_t anomalies, uint64_t reports_dropped);

/* Topic of type for id into buf; returns the length or a negative errno. */
int sim_msgs_topic(char *buf, size_t cap, const char *id,
		   enum edge_topic_type type);

#endif
