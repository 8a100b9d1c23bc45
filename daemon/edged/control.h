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
 * access is needed). Others get "not_authorised" and are disconnected.
 *
 * The group database may be NSS over the network (LDAP, sssd) and block for
 * seconds, so that lookup never runs on the loop: it runs on libuv's thread
 * pool (at most CONTROL_LOOKUPS_MAX at once, the rest wait their turn, so
 * the pool keeps threads for everyone else) and the connection is served
 * when it returns; meanwhile nothing is read from it, and a peer that hangs
 * up or runs out of time is released only once its lookup is back. Root,
 * edged's own uid and a peer whose gid is the group are decided on the spot.
 * Nothing in this module blocks the loop; the group name itself is resolved
 * by the owner at start-up.
 *
 * Bounded: clients (max_clients, plus CONTROL_RESERVED_CLIENTS more that
 * only root and edged's own uid may take, so an operator gets through while
 * every ordinary slot is held: one more gets "busy" and is closed), request
 * size (over the limit: "too_large", then close), queued output per client,
 * time: a request (and the peer check before the first one) must be whole
 * within request_timeout_ms of its first byte, else "timeout" and close, so
 * trickling bytes does not hold a slot; between requests a connection may
 * stay idle for idle_timeout_ms. An error answer before a close waits at
 * most CONTROL_LINGER_MS for a peer that does not read it. Writes never
 * block the loop. */
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
	unsigned idle_timeout_ms;   /* between requests; 0 = none */
	unsigned request_timeout_ms; /* a whole request from its first byte; 0 = none */
	size_t max_output_bytes;    /* per client; 0 = 2 x EDGE_CTL_RESPONSE_MAX */
	/* Borrowed, must outlive the server. */
	const struct edged_ctl_command *commands;
	size_t ncommands;
	void *ud;              /* passed to every handler */
	/* Is uid a member of group by the user and group databases? Runs on a
	 * libuv pool thread, may block. NULL: getpwuid_r + getgrouplist. */
	bool (*member_lookup)(uid_t uid, gid_t group);
};

/* Extra connections for root and edged's own uid beyond max_clients. */
#define CONTROL_RESERVED_CLIENTS 2
/* Group lookups running on the thread pool at once. */
#define CONTROL_LOOKUPS_MAX 2
/* Longest wait for a closing error answer to be written. */
#define CONTROL_LINGER_MS 1000

/* Binds and listens (a stale socket file left by a dead edged is replaced;
 * a live one is not: -EADDRINUSE; a non-socket file: -EEXIST). */
EDGE_WUR int edged_control_new(uv_loop_t *loop, const struct edged_control_options *opt,
			       struct edged_control **out);

/* Stops accepting, disconnects every client, removes the socket file.
 * Memory goes after the loop ran the close callbacks. NULL-safe. */
void edged_control_free(struct edged_control *c);

/* New limits (config reload); existing clients keep running and get the
 * new times from their next read. max_clients 0 keeps the current one. */
void edged_control_set_limits(struct edged_control *c, unsigned max_clients,
			      unsigned idle_timeout_ms, unsigned request_timeout_ms);

struct edged_control_stats {
	unsigned clients;       /* connections open now (also while refused) */
	unsigned max_clients;   /* current limit, without the reserve */
	uint64_t accepted;
	uint64_t refused_auth;
	uint64_t refused_busy;
	uint64_t requests;
	uint64_t errors;        /* error responses */
	uint64_t too_large;
	uint64_t timeouts;      /* requests (or peer checks) not whole in time */
	uint64_t lookups;       /* group lookups started */
	unsigned lookups_running; /* on the thread pool now */
	unsigned lookups_queued;  /* waiting for a pool slot */
};
void edged_control_get_stats(const struct edged_control *c, struct edged_control_stats *out);

/* Decide whether a peer (its SO_PEERCRED uid and gid) may talk to edged
 * running as self_uid with control group `group` (exposed for tests). May
 * consult the user/group databases (NSS) and block: never on the loop. */
bool edged_control_peer_allowed(uid_t uid, gid_t gid, uid_t self_uid, gid_t group);

#endif
