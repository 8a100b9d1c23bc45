/* Malformed node messages, one kind per reason edged must reject, each
 * paired with the reason (proto's enum edge_msg_reject) edged should count
 * it under. Most start from a valid hello encoded by proto's codec and break
 * exactly one thing. */
#ifndef SIM_MALFORMED_H
#define SIM_MALFORMED_H

#include <stddef.h>
#include <stdint.h>

#include "edge_msg_reject.h"

struct sim_malformed_msg {
	char topic[512];
	char *payload; /* owned: free() */
	size_t len;
	int retain;
};

struct sim_malformed_kind {
	const char *name;              /* "bad_json", "truncated", ... */
	enum edge_msg_reject expect;   /* the reason edged must count */
	const char *what;              /* one line for --list-malformed */
	int (*build)(const char *id, uint32_t heartbeat_s,
		     struct sim_malformed_msg *out);
};

extern const struct sim_malformed_kind sim_malformed_kinds[];
extern const size_t sim_malformed_count;

/* By name; NULL if unknown. */
const struct sim_malformed_kind *sim_malformed_find(const char *name);

/* Build kind k as sent by node `id` into *out (payload owned by the caller).
 * 0 or -ENOMEM / -EINVAL. */
int sim_malformed_build(const struct sim_malformed_kind *k, const char *id,
			uint32_t heartbeat_s, struct sim_malformed_msg *out);

#endif
