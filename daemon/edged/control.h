/* The control server: edgectl's AF_UNIX stream socket.
 *
 * Requests and responses are framed by proto/edge_ctl_frame.h (4-byte
 * big-endian length + JSON). A request is {"cmd": NAME, "args": {...}}; the
 * answer is {"ok": true, "result": {...}} or
 * {"ok": false, "error": {"code": CODE, "message": TEXT}} with CODE from
 * edge_ctl_error_name(). Commands come from a table given by the owner;
 * "help" is built in.
 *
 * Access: the socket file gets the configured mode (0660) and group, and
 * each peer's SO_PEERCRED is checked: root, edged's own uid, a peer whose
 * gid is the group, or a user the group database lists as a member of it
 * (supplementary groups from /etc/group via getgrouplist, so no /proc
 * access is needed). Others get "not_authorised" and are disconnected. Bounded:
 * clients, request size (over the limit: "too_large", then close), queued
 * output per client, idle time. Writes never block the loop. */
#ifndef EDGED_CONTROL_H
#define EDGED_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "edge_error.h"

struct edged_control;

/* Runs a command. args is a JSON object (borrowed; {} when absent). On
 * success set *result to a new reference (an object) and return 0. On
 * failure return an enum edge_ctl_error code (> 0) and put a one-line
 * reason into msg. */
typedef int (*edged_ctl_handler)(void *ud, json_t *args, json_t **result, char *msg,
				 size_t msglen);

struct edged_ctl_command {
	const char *name;
	edged_ctl_handler run;
	const char *help; /* one line */
};

struct edged_control_options {
	const char *path;      /* socket path (copied) */
	unsigned mode;         /* file mode, e.g. 0660 */
	gid_t group;           /* socket group and allowed group; (gid_t)-1 = edged's gid */
	unsigned max_clients;
	size_t max_request_bytes;   /* <= EDGE_CTL_REQUEST_MAX */
	unsigned idle_timeout_ms;   /* 0 = none */
	size_t max_output_bytes;    /* per client; 0 = 2 x EDGE_CTL_RESPONSE_MAX */
	/* Borrowed, must outlive the server. */
	const struct edged_ctl_command *commands;
	size_t ncommands;
	void *ud;              /* passed to every handler */
};

/* Binds and listens (a stale socket file left by a dead edged is replaced;
 * a live one is not: -EADDRINUSE; a non-socket file: -EEXIST). */
EDGE_WUR int edged_control_new(uv_loop_t *loop, const struct edged_control_options *opt,
			       struct edged_control **out);

/* Stops accepting, disconnects every client, removes the socket file.
 * Memory goes after the loop ran the close callbacks. NULL-safe. */
void edged_control_free(struct edged_control *c);

/* New limits (config reload); existing clients keep running. */
void edged_control_set_limits(struct edged_control *c, unsigned max_clients,
			      unsigned idle_timeout_ms);

struct edged_control_stats {
	unsigned clients;
	uint64_t accepted;
	uint64_t refused_auth;
	uint64_t refused_busy;
	uint64_t requests;
	uint64_t errors;        /* error responses */
	uint64_t too_large;
};
void edged_control_get_stats(const struct edged_control *c, struct edged_control_stats *out);

/* Decide whether a peer (its SO_PEERCRED uid and gid) may talk to edged
 * running as self_uid with control group `group` (exposed for tests). May
 * consult the user/group databases (NSS). */
bool edged_control_peer_allowed(uid_t uid, gid_t gid, uid_t self_uid, gid_t group);

#endif
