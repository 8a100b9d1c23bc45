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
 * each peer's SO_PEERCRED gives it a role once, when it connects. A peer is
 * in a group when its gid is the group or the group database lists its
 * user as a member (supplementary groups from /etc/group via getgrouplist,
 * so no /proc access is needed).
 *   admin: root, edged's own uid, members of admin_group; when no
 *          admin_group is set, members of the socket group (as before
 *          roles existed);
 *   read:  members of read_group; members of the socket group when an
 *          admin_group is set;
 *   none:  anybody else: "not_authorised" and disconnected.
 * Every command carries the role it needs (struct edged_ctl_command); a
 * read peer asking for an admin command gets "not_authorised" naming the
 * group it would need, and stays connected.
 *
 * The group database may be NSS over the network (LDAP, sssd) and block for
 * seconds, so that lookup never runs on the loop: it runs on libuv's thread
 * pool (at most CONTROL_LOOKUPS_MAX at once, the rest wait their turn, so
 * the pool keeps threads for everyone else) and the connection is served
 * when it returns; meanwhile nothing is read from it, and a peer that hangs
 * up or runs out of time is released only once its lookup is back. Root,
 * edged's own uid and a peer whose gid gives the admin role are decided on
 * the spot (a lower role by gid still asks: the database may make it an
 * admin). One lookup per peer, whatever the number of role groups. Nothing
 * in this module blocks the loop; the group names themselves are resolved
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
 * block the loop.
 *
 * Asynchronous commands (struct edged_ctl_command.start) answer later,
 * through edged_ctl_call_finish. The role check is the same as for the
 * others and comes first. While a call is pending nothing more is read from
 * its connection (requests sent behind it wait in the socket and are
 * answered after it, in order) and no request or idle time runs for it;
 * once it is answered both resume. A pending call holds its connection's
 * memory and the server's: a peer that hangs up meanwhile, or
 * edged_control_free, leaves the call valid and its answer is dropped. The
 * owner of the work finishes its calls when it shuts down.
 *
 * Streaming: an asynchronous call may send any number of intermediate
 * frames ({"ok": true, "more": true, "result": ...}, edged_ctl_call_send)
 * before its final answer. One that declares itself a stream
 * (edged_ctl_call_stream) keeps its connection read while it runs, to see
 * the peer hang up: end of stream or an error calls its hangup callback; a
 * byte received meanwhile (a client must not send during a stream) gets
 * "bad_request", the connection closes and hangup is called too. Its
 * owner paces itself on the output queued for the client
 * (edged_ctl_call_queued, a drained callback below a low mark) and drops
 * a reader that falls behind by finishing with EDGE_CTL_E_TOO_SLOW, after
 * which the connection closes once that answer is written. */
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

/* Ordered: a role may do everything the roles below it may. */
enum edged_ctl_role {
	EDGED_CTL_ROLE_NONE,  /* outsider: may not use the socket */
	EDGED_CTL_ROLE_READ,  /* commands that only read */
	EDGED_CTL_ROLE_ADMIN, /* commands that change edged or the fleet */
};

/* "outsider", "read", "admin". */
const char *edged_ctl_role_name(enum edged_ctl_role role);

/* A command answered later: its work runs elsewhere (a worker thread, the
 * store's writer) and the answer is sent when it is done. Opaque; owned by
 * the server. */
struct edged_ctl_call;

/* Starts an asynchronous command. args is a JSON object, borrowed for this
 * call only (json_incref to keep it). Return 0 = "will finish later": the
 * handler (or what it started) must then call edged_ctl_call_finish exactly
 * once, on the loop thread. Or return an enum edge_ctl_error code (> 0)
 * with a one-line reason in msg: answered at once, and the call is gone. */
typedef int (*edged_ctl_async_handler)(void *ud, json_t *args, struct edged_ctl_call *call,
				       char *msg, size_t msglen);

/* Exactly one of run and start is set (edged_control_new checks: -EINVAL).
 * start comes last: a positional row of a synchronous command ends in NULL
 * (-Wmissing-field-initializers), a designated one need not name it. */
struct edged_ctl_command {
	const char *name;
	edged_ctl_handler run;
	enum edged_ctl_role role; /* needed to run it: READ or ADMIN */
	const char *help; /* one line */
	edged_ctl_async_handler start;
};

/* The built-in "help" needs this role. */
#define EDGED_CTL_HELP_ROLE EDGED_CTL_ROLE_READ

struct edged_control_options {
	const char *path;      /* socket path (copied) */
	unsigned mode;         /* file mode, e.g. 0660 */
	gid_t group;           /* socket group; (gid_t)-1 = edged's gid */
	/* Role groups; a NULL name means not set (the gid is then unused).
	 * Names only go into refusal messages (copied). */
	const char *read_group_name;
	gid_t read_group;
	const char *admin_group_name;
	gid_t admin_group;
	const char *group_name; /* the socket group's name; NULL: "gid N" */
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
	 * libuv pool thread, may block; asked once per role group that the
	 * peer's gid does not settle. NULL: getpwuid_r + getgrouplist (once
	 * per peer). */
	bool (*member_lookup)(uid_t uid, gid_t group);
};

/* Extra connections for root and edged's own uid beyond max_clients. */
#define CONTROL_RESERVED_CLIENTS 2
/* Group lookups running on the thread pool at once. */
#define CONTROL_LOOKUPS_MAX 2
/* Longest wait for a closing error answer to be written. */
#define CONTROL_LINGER_MS 1000
/* ... for a too_slow answer, which comes after the follower's backlog. */
#define CONTROL_SLOW_LINGER_MS 10000

/* Binds and listens (a stale socket file left by a dead edged is replaced;
 * a live one is not: -EADDRINUSE; a non-socket file: -EEXIST). */
EDGE_WUR int edged_control_new(uv_loop_t *loop, const struct edged_control_options *opt,
			       struct edged_control **out);

/* Stops accepting, disconnects every client (one whose answer is still
 * being written first finishes it, within CONTROL_LINGER_MS), removes the
 * socket file.
 * Memory goes after the loop ran the close callbacks and every pending call
 * was finished (finishing one after this is fine: its answer is dropped).
 * NULL-safe. */
void edged_control_free(struct edged_control *c);

/* Answers an asynchronous call and releases it: code 0 with result (an
 * object; the reference is stolen) or an enum edge_ctl_error code (> 0)
 * with msg (a one-line reason; NULL: "failed"; result may be NULL; an
 * object's keys are added to the error object beside code and message,
 * e.g. {"reason": ...}, and it is released). Loop thread only; exactly once per started call. A
 * peer that hung up, or a server freed meanwhile, drops the answer. Also
 * allowed from within start (answered at once; start then returns 0). */
void edged_ctl_call_finish(struct edged_ctl_call *call, int code, json_t *result,
			   const char *msg);

/* Sends an intermediate frame of a pending call: result (an object; the
 * reference is stolen) in {"ok": true, "more": true, "result": ...}. 0, or
 * -EPIPE when the peer is gone (the result is dropped; the call must still
 * be finished), -EMSGSIZE (over EDGE_CTL_RESPONSE_MAX) or -ENOMEM: nothing
 * was sent. Loop thread; also from within start. A hangup found while
 * sending is told by the return value only, never by the callback. */
EDGE_WUR int edged_ctl_call_send(struct edged_ctl_call *call, json_t *result);

/* The bytes of an intermediate frame of result (stolen), as
 * edged_ctl_call_send would send them: pure, touching no server state, so a
 * worker thread can serialise a large page off the loop. 0 with *frame
 * (malloc'd) and *len; -EMSGSIZE, -ENOMEM: *frame NULL. */
EDGE_WUR int edged_ctl_frame_more(json_t *result, char **frame, size_t *len);

/* Sends a frame edged_ctl_frame_more built (taken over: freed whatever
 * happens). Returns as edged_ctl_call_send. Loop thread. */
EDGE_WUR int edged_ctl_call_send_frame(struct edged_ctl_call *call, char *frame, size_t len);

/* Events of a streaming call; called on the loop, never from within
 * edged_ctl_call_send or edged_ctl_call_finish. The call stays pending
 * (and must be finished) after either. */
typedef void (*edged_ctl_call_event)(struct edged_ctl_call *call, void *ud);

/* Declares the pending call a stream (usually from within start): its
 * connection is read from now on, hangup runs once if the peer goes (end
 * of stream, an error, bytes sent during the stream, the server freed),
 * drained as armed by edged_ctl_call_want_drain. Either may be NULL. */
void edged_ctl_call_stream(struct edged_ctl_call *call, edged_ctl_call_event drained,
			   edged_ctl_call_event hangup, void *ud);

/* Bytes of the call's connection handed to the socket, not yet written. */
size_t edged_ctl_call_queued(const struct edged_ctl_call *call);

/* Arms drained once: called when a write completes and leaves at most
 * low_mark bytes queued. Returns false (nothing armed) when that is the
 * case already, or the peer is gone: the caller goes on at once. */
bool edged_ctl_call_want_drain(struct edged_ctl_call *call, size_t low_mark);

/* Queued output past which a follower that never stops producing (a tail)
 * is dropped with EDGE_CTL_E_TOO_SLOW by its owner. */
#define EDGED_CTL_STREAM_MAX_QUEUED (1u << 20)

/* The caller's uid (SO_PEERCRED), for audit lines. Valid until finished. */
uid_t edged_ctl_call_uid(const struct edged_ctl_call *call);

/* New limits (config reload); existing clients keep running and get the
 * new times from their next read. max_clients 0 keeps the current one. */
void edged_control_set_limits(struct edged_control *c, unsigned max_clients,
			      unsigned idle_timeout_ms, unsigned request_timeout_ms);

struct edged_control_stats {
	unsigned clients;       /* connections open now (also while refused) */
	unsigned max_clients;   /* current limit, without the reserve */
	uint64_t accepted;
	uint64_t refused_auth;  /* outsiders, disconnected */
	uint64_t refused_role;  /* commands above the peer's role */
	uint64_t refused_busy;
	uint64_t requests;
	uint64_t errors;        /* error responses */
	uint64_t too_large;
	uint64_t timeouts;      /* requests (or peer checks) not whole in time */
	uint64_t lookups;       /* group lookups started */
	unsigned lookups_running; /* on the thread pool now */
	unsigned lookups_queued;  /* waiting for a pool slot */
	uint64_t calls;         /* asynchronous commands started */
	unsigned calls_pending; /* started, not finished yet */
	uint64_t frames_more;   /* intermediate frames of streaming calls sent */
	uint64_t stream_hangups; /* streaming calls whose peer went first */
};
void edged_control_get_stats(const struct edged_control *c, struct edged_control_stats *out);

/* The role of a peer (its SO_PEERCRED uid and gid) of edged running as
 * self_uid with the groups of opt (group, read_group, admin_group; a group
 * of (gid_t)-1 is edged's gid) and opt->member_lookup (exposed for tests).
 * May consult the user/group databases (NSS) and block: never on the loop. */
enum edged_ctl_role edged_control_peer_role(uid_t uid, gid_t gid, uid_t self_uid,
					    const struct edged_control_options *opt);

/* Is a peer of edged running as self_uid with socket group `group` (and no
 * role groups) allowed at all? Same rules and caveats. */
bool edged_control_peer_allowed(uid_t uid, gid_t gid, uid_t self_uid, gid_t group);

#endif
