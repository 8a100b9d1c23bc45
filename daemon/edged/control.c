#include "control.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "edge_ctl_frame.h"
#include "edge_ctl_json.h"
#include "edge_log.h"

#define CONTROL_READ_CHUNK 4096
#define CONTROL_BACKLOG 16

/* A connection's life: AUTHORISING (its group lookup is queued or on the
 * pool; nothing is read), SERVING (requests are read and answered; while
 * an asynchronous one is pending nothing is read and the timer is off),
 * then closing. The one timer measures, by state: the deadline of the peer
 * check or of the request whose first byte has arrived
 * (request_timeout_ms, never pushed back by further bytes), the idle time
 * between requests (idle_timeout_ms, from the last read), or the linger of
 * a closing error answer (CONTROL_LINGER_MS). */
enum client_state {
	CLIENT_AUTHORISING,
	CLIENT_SERVING,
};

/* An asynchronous command of a connection: at most one at a time, since
 * nothing more is read from it until this one is answered. */
struct edged_ctl_call {
	struct control_client *client;
	bool pending;  /* started, not finished: the client is kept */
	bool in_start; /* its start handler is running */
	/* A stream (edged_ctl_call_stream): its connection is read meanwhile,
	 * only to see the peer go. */
	bool streaming;
	bool hung_up;   /* told (or found while sending): never again */
	bool in_send;   /* edged_ctl_call_send runs: a hangup is its return value */
	bool want_drain;
	size_t low_mark;
	edged_ctl_call_event drained, hangup;
	void *ud;
};

enum lookup_state {
	LOOKUP_NONE,
	LOOKUP_QUEUED,    /* waiting for a pool slot, in the server's queue (open
			   * connections only) */
	LOOKUP_RUNNING,   /* work request on the pool: the client stays allocated */
};

struct control_client {
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_work_t work;           /* the group lookup */
	struct edged_control *server;
	struct control_client *prev, *next;     /* server->clients, while open */
	struct control_client *queue_next;      /* server's lookup queue */
	struct edge_ctl_decoder dec;
	uint8_t *body;            /* decoder buffer, max_request_bytes; once serving */
	char rbuf[CONTROL_READ_CHUNK];
	uid_t uid;                /* SO_PEERCRED */
	gid_t gid;
	enum client_state state;
	enum lookup_state lookup;
	enum edged_ctl_role role; /* from the ids, then the lookup's result
				   * (written on the pool thread) */
	bool in_request;          /* part of a request has arrived */
	struct edged_ctl_call call;
	/* Bytes read behind the request whose call is pending, kept in rbuf
	 * (nothing is read meanwhile) and fed once it is answered. */
	size_t rest_off, rest_len;
	size_t out_queued;        /* bytes handed to uv_write, not yet written */
	unsigned writes_pending;
	int open_handles;
	bool closing;
	bool close_after_write;
};

struct control_write {
	uv_write_t req;
	struct control_client *client;
	size_t len;
	char *frame;
};

/* A group and the role its members get. */
struct role_grant {
	gid_t gid;
	enum edged_ctl_role role;
	const char *name; /* NULL: shown as its gid */
};

/* admin_group, the socket group, read_group. */
#define ROLE_GRANTS_MAX 3
/* "group a or b or c": three names of EDGE_CONFIG_NAME_MAX at most. */
#define ROLE_WHO_MAX 800

/* Who may use the socket: grants in decreasing role, so the first a peer
 * is in is its role. */
struct role_policy {
	uid_t self_uid;
	struct role_grant grant[ROLE_GRANTS_MAX];
	size_t ngrants;
	bool (*member_lookup)(uid_t uid, gid_t group);
};

struct edged_control {
	uv_loop_t *loop;
	uv_pipe_t listener;
	char *path;
	struct edged_control_options opt;
	gid_t group;
	uid_t self_uid;
	struct role_policy policy;
	/* For refusals, by role: the groups that give it, e.g. "group a or b". */
	char who[EDGED_CTL_ROLE_ADMIN + 1][ROLE_WHO_MAX];
	struct control_client *clients;
	struct control_client *queue_head, *queue_tail; /* lookups waiting for the pool */
	uv_pipe_t spare;          /* takes a connection there is no memory for */
	bool spare_open;
	int open_handles;         /* listener and spare */
	bool freeing;             /* edged_control_free ran: the last of the
				   * handles and running lookups frees */
	struct edged_control_stats stats;
};

/* Longest passwd entry buffer and group list we are prepared to read. */
#define PEER_PW_BUF_MAX (1u << 20)
#define PEER_GROUPS_MAX 65536

const char *edged_ctl_role_name(enum edged_ctl_role role)
{
	switch (role) {
	case EDGED_CTL_ROLE_READ:
		return "read";
	case EDGED_CTL_ROLE_ADMIN:
		return "admin";
	case EDGED_CTL_ROLE_NONE:
		break;
	}
	return "outsider";
}

/* The groups uid is in according to the user and group databases (its
 * primary group first); -1 if it has no user entry or on failure. The
 * peer's own kernel group list (/proc/PID/status) is hidden from edged
 * under ProtectProc=invisible; /etc/passwd and /etc/group stay readable
 * under ProtectSystem=strict. Only asked for peers that are neither root,
 * edged's own user nor given the highest role by their effective gid, and
 * only on a pool thread (lookup_work): with NSS over LDAP or sssd it can
 * block for seconds. */
static int peer_groups(uid_t uid, gid_t **out)
{
	struct passwd pw, *found = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t buflen = hint > 0 && hint <= (long)PEER_PW_BUF_MAX ? (size_t)hint : 4096;
	char *buf = NULL;
	gid_t *groups = NULL;
	int ngroups = 64, count = -1;
	int r;

	for (;;) {
		char *bigger = realloc(buf, buflen);

		if (!bigger)
			goto out;
		buf = bigger;
		r = getpwuid_r(uid, &pw, buf, buflen, &found);
		if (r != ERANGE || buflen >= PEER_PW_BUF_MAX)
			break;
		buflen *= 2;
	}
	if (r != 0 || !found)
		goto out; /* no such user: only its gid could have let it in */
	/* glibc reports the size it needs, so the second round fits. */
	for (int round = 0; round < 2; round++) {
		int n = ngroups;
		gid_t *bigger = realloc(groups, (size_t)n * sizeof *groups);

		if (!bigger)
			goto out;
		groups = bigger;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) >= 0) {
			count = n;
			break;
		}
		if (n <= ngroups || n > PEER_GROUPS_MAX)
			break;
		ngroups = n;
	}
	if (count < 0) {
		/* The group list is out of reach: the primary group still counts. */
		groups[0] = pw.pw_gid;
		count = 1;
	}
out:
	free(buf);
	if (count < 0) {
		free(groups);
		groups = NULL;
	}
	*out = groups;
	return count;
}

/* The role uid and gid give without asking any database. */
static enum edged_ctl_role role_by_ids(const struct role_policy *p, uid_t uid, gid_t gid)
{
	if (uid == 0 || uid == p->self_uid)
		return EDGED_CTL_ROLE_ADMIN;
	for (size_t i = 0; i < p->ngrants; i++)
		if (p->grant[i].gid == gid)
			return p->grant[i].role;
	return EDGED_CTL_ROLE_NONE;
}

/* The role the group database gives uid, at least `known`. May block. */
static enum edged_ctl_role role_by_database(const struct role_policy *p, uid_t uid,
					    enum edged_ctl_role known)
{
	gid_t *groups = NULL;
	int n = 0;

	if (!p->member_lookup && (n = peer_groups(uid, &groups)) < 0)
		return known;
	for (size_t i = 0; i < p->ngrants && p->grant[i].role > known; i++) {
		const struct role_grant *g = &p->grant[i];
		bool member = false, asked = false;

		for (size_t j = 0; j < i; j++)
			asked = asked || p->grant[j].gid == g->gid;
		if (asked)
			continue; /* the same group with a higher role said no */
		if (p->member_lookup)
			member = p->member_lookup(uid, g->gid);
		for (int k = 0; k < n && !member; k++)
			member = groups[k] == g->gid;
		if (member) {
			known = g->role;
			break;
		}
	}
	free(groups);
	return known;
}

/* Highest role first: with an admin group the socket group reads, without
 * one it administers (as before roles existed). */
static void role_policy_init(struct role_policy *p, uid_t self_uid, gid_t group,
			     const struct edged_control_options *opt)
{
	bool admin_set = opt->admin_group_name != NULL;

	memset(p, 0, sizeof *p);
	p->self_uid = self_uid;
	p->member_lookup = opt->member_lookup;
	if (admin_set)
		p->grant[p->ngrants++] = (struct role_grant){ opt->admin_group,
							      EDGED_CTL_ROLE_ADMIN,
							      opt->admin_group_name };
	p->grant[p->ngrants++] = (struct role_grant){
		group, admin_set ? EDGED_CTL_ROLE_READ : EDGED_CTL_ROLE_ADMIN, opt->group_name
	};
	if (opt->read_group_name)
		p->grant[p->ngrants++] = (struct role_grant){ opt->read_group, EDGED_CTL_ROLE_READ,
							      opt->read_group_name };
}

enum edged_ctl_role edged_control_peer_role(uid_t uid, gid_t gid, uid_t self_uid,
					    const struct edged_control_options *opt)
{
	struct role_policy p;
	enum edged_ctl_role role;

	role_policy_init(&p, self_uid, opt->group == (gid_t)-1 ? getegid() : opt->group, opt);
	role = role_by_ids(&p, uid, gid);
	return role == EDGED_CTL_ROLE_ADMIN ? role : role_by_database(&p, uid, role);
}

bool edged_control_peer_allowed(uid_t uid, gid_t gid, uid_t self_uid, gid_t group)
{
	struct edged_control_options opt = { .group = group };

	return edged_control_peer_role(uid, gid, self_uid, &opt) != EDGED_CTL_ROLE_NONE;
}

/* "group a or b" for the groups that give at least `role`, each once. */
static void role_who(const struct role_policy *p, enum edged_ctl_role role, char *buf,
		     size_t cap)
{
	size_t len = 0;
	int n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->ngrants; i++) {
		const struct role_grant *g = &p->grant[i];
		bool dup = false;
		int w;

		for (size_t j = 0; j < i; j++)
			dup = dup || p->grant[j].gid == g->gid;
		if (g->role < role || dup)
			continue;
		w = g->name ? snprintf(buf + len, cap - len, "%s%s", n ? " or " : "group ", g->name)
			    : snprintf(buf + len, cap - len, "%sgid %ld", n ? " or " : "group ",
				       (long)g->gid);
		if (w < 0 || (size_t)w >= cap - len)
			break; /* truncated: still names the first ones */
		len += (size_t)w;
		n++;
	}
}

/* ---- client lifetime ---- */

/* The server's memory goes with the last of its handles, of the lookups
 * still on the pool and of the pending calls, once edged_control_free ran. */
static void control_maybe_free(struct edged_control *c)
{
	if (!c->freeing || c->open_handles > 0 || c->stats.lookups_running > 0 ||
	    c->stats.calls_pending > 0 || c->stats.clients > 0)
		return;
	assert(!c->queue_head && c->stats.lookups_queued == 0);
	free(c->path);
	free(c);
}

/* A client's memory goes with the last of its handles, its writes, its
 * lookup (the work request lives inside it) and its pending call. */
static void client_release(struct control_client *cl)
{
	assert(cl->open_handles >= 0);
	if (cl->open_handles > 0 || cl->writes_pending > 0 || cl->lookup != LOOKUP_NONE ||
	    cl->call.pending)
		return;
	free(cl->body);
	free(cl);
}

static void client_handle_closed(uv_handle_t *h)
{
	struct control_client *cl = h->data;

	assert(cl->closing && cl->open_handles > 0);
	cl->open_handles--;
	client_release(cl);
}

/* A closed connection leaves the lookup queue at once, so the queue never
 * holds more than the open connections. */
static void lookup_unqueue(struct control_client *cl)
{
	struct edged_control *c = cl->server;
	struct control_client **pp = &c->queue_head, *prev = NULL;

	assert(cl->lookup == LOOKUP_QUEUED && c->stats.lookups_queued > 0);
	while (*pp != cl) {
		assert(*pp);
		prev = *pp;
		pp = &(*pp)->queue_next;
	}
	*pp = cl->queue_next;
	if (c->queue_tail == cl)
		c->queue_tail = prev;
	cl->queue_next = NULL;
	cl->lookup = LOOKUP_NONE;
	c->stats.lookups_queued--;
}

/* A streaming call's peer is gone: its owner hears of it once, unless it
 * is sending (the send returns -EPIPE instead). Last thing a caller does
 * with cl: the owner may finish the call from the callback. */
static void call_hangup(struct control_client *cl)
{
	struct edged_ctl_call *call = &cl->call;

	if (!call->pending || !call->streaming || call->hung_up)
		return;
	call->hung_up = true;
	call->want_drain = false;
	cl->server->stats.stream_hangups++;
	if (!call->in_send && call->hangup)
		call->hangup(call, call->ud);
}

static void client_close(struct control_client *cl)
{
	struct edged_control *c = cl->server;

	if (cl->closing)
		return;
	assert(c->stats.clients > 0);
	cl->closing = true;
	if (cl->lookup == LOOKUP_QUEUED)
		lookup_unqueue(cl);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	cl->prev = cl->next = NULL;
	c->stats.clients--;
	uv_close((uv_handle_t *)&cl->pipe, client_handle_closed);
	uv_close((uv_handle_t *)&cl->timer, client_handle_closed);
	/* The last answer written after edged_control_free (a lingering
	 * client) may be what the server waited for. (Not while a call is
	 * pending: it keeps c and cl for call_hangup.) */
	control_maybe_free(c);
	call_hangup(cl);
}

static void client_on_timer(uv_timer_t *t);

/* (Re)start the connection's one timer; 0 = no time limit. */
static void client_timer(struct control_client *cl, unsigned ms)
{
	assert(!cl->closing);
	if (ms)
		uv_timer_start(&cl->timer, client_on_timer, ms, 0);
	else
		uv_timer_stop(&cl->timer);
}

static void client_write_done(uv_write_t *req, int status)
{
	struct control_write *w = req->data;
	struct control_client *cl = w->client;

	assert(cl->writes_pending > 0 && cl->out_queued >= w->len);
	cl->out_queued -= w->len;
	cl->writes_pending--;
	free(w->frame);
	free(w);
	if (cl->closing) {
		/* Handles closed while the write was in flight: the last one
		 * out frees the client. */
		client_release(cl);
		return;
	}
	if (status < 0 || (cl->close_after_write && cl->writes_pending == 0)) {
		client_close(cl);
		return;
	}
	if (cl->call.pending && cl->call.want_drain && !cl->close_after_write &&
	    cl->out_queued <= cl->call.low_mark) {
		cl->call.want_drain = false;
		if (cl->call.drained)
			cl->call.drained(&cl->call, cl->call.ud);
	}
}

/* Queue one response frame; takes ownership of frame (malloc'd). */
static void client_send(struct control_client *cl, char *frame, size_t len)
{
	struct edged_control *c = cl->server;
	size_t limit = c->opt.max_output_bytes ? c->opt.max_output_bytes : 2 * EDGE_CTL_RESPONSE_MAX;
	struct control_write *w;
	uv_buf_t buf;

	if (cl->closing) {
		free(frame);
		return;
	}
	if (cl->out_queued + len > limit) {
		/* The client does not read its answers: drop it rather than
		 * buffer without bound. */
		edge_log(EDGE_LOG_WARNING, "control", "client not reading its responses; closed");
		free(frame);
		client_close(cl);
		return;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		free(frame);
		client_close(cl);
		return;
	}
	w->client = cl;
	w->frame = frame;
	w->len = len;
	w->req.data = w;
	buf = uv_buf_init(frame, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &buf, 1, client_write_done) < 0) {
		free(w->frame);
		free(w);
		client_close(cl);
		return;
	}
	cl->out_queued += w->len;
	cl->writes_pending++;
	assert(cl->out_queued <= limit);
}

/* Takes the reference to resp. */
static void client_send_json(struct control_client *cl, json_t *resp)
{
	char *frame = NULL;
	size_t len = 0;
	int r = resp ? edge_ctl_json_frame(resp, EDGE_CTL_RESPONSE_MAX, &frame, &len) : -ENOMEM;

	json_decref(resp);
	if (r == -EMSGSIZE) {
		json_t *err = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
					edge_ctl_error_name(EDGE_CTL_E_INTERNAL), "message",
					"response too large");

		r = err ? edge_ctl_json_frame(err, EDGE_CTL_RESPONSE_MAX, &frame, &len) : -ENOMEM;
		json_decref(err);
	}
	if (r < 0) {
		client_close(cl);
		return;
	}
	client_send(cl, frame, len);
}

static void client_send_error(struct control_client *cl, enum edge_ctl_error code,
			      const char *message)
{
	json_t *resp = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
				 edge_ctl_error_name(code), "message", message);

	cl->server->stats.errors++;
	client_send_json(cl, resp);
}

/* Answer one error, read nothing more, and close once it is written, or
 * after linger_ms if the peer does not take it. */
static void client_refuse_linger(struct control_client *cl, enum edge_ctl_error code,
				 const char *message, unsigned linger_ms)
{
	client_send_error(cl, code, message);
	if (cl->closing)
		return;
	cl->close_after_write = true;
	if (cl->state == CLIENT_SERVING)
		uv_read_stop((uv_stream_t *)&cl->pipe);
	if (cl->writes_pending == 0)
		client_close(cl);
	else
		client_timer(cl, linger_ms);
}

static void client_refuse(struct control_client *cl, enum edge_ctl_error code,
			  const char *message)
{
	client_refuse_linger(cl, code, message, CONTROL_LINGER_MS);
}

static void client_refuse_auth(struct control_client *cl, long uid)
{
	struct edged_control *c = cl->server;
	const char *rd = c->who[EDGED_CTL_ROLE_READ], *adm = c->who[EDGED_CTL_ROLE_ADMIN];
	char msg[2 * ROLE_WHO_MAX + 96];

	c->stats.refused_auth++;
	edge_log(EDGE_LOG_NOTICE, "control", "refused control client uid %ld: not authorised", uid);
	if (strcmp(rd, adm) == 0)
		snprintf(msg, sizeof msg, "not authorised to control edged (needs %s, or root)",
			 adm);
	else
		snprintf(msg, sizeof msg, "not authorised to control edged (read role: %s; "
			 "admin role: %s, or root)", rd, adm);
	client_refuse(cl, EDGE_CTL_E_NOT_AUTHORISED, msg);
}

/* ---- requests ---- */

/* Every command with the role it needs, and the asking peer's role. */
static int control_help(struct edged_control *c, enum edged_ctl_role role, json_t **result)
{
	json_t *list = json_array();

	if (!list)
		return EDGE_CTL_E_INTERNAL;
	for (size_t i = 0; i < c->opt.ncommands; i++) {
		const struct edged_ctl_command *cmd = &c->opt.commands[i];

		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", cmd->name, "help",
						      cmd->help, "role",
						      edged_ctl_role_name(cmd->role)));
	}
	json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", "help", "help",
					      "list the commands",
					      "role", edged_ctl_role_name(EDGED_CTL_HELP_ROLE)));
	*result = json_pack("{s:o, s:s}", "commands", list, "role", edged_ctl_role_name(role));
	return *result ? 0 : EDGE_CTL_E_INTERNAL;
}

/* A command above the peer's role: refused, naming the groups that would
 * do; the connection stays. */
static bool client_permitted(struct control_client *cl, const char *name,
			     enum edged_ctl_role needed, char *msg, size_t msglen)
{
	struct edged_control *c = cl->server;

	if (cl->role >= needed)
		return true;
	c->stats.refused_role++;
	edge_log(EDGE_LOG_NOTICE, "control", "refused '%.64s' to control client uid %ld: "
		 "needs the %s role, it has %s", name, (long)cl->uid,
		 edged_ctl_role_name(needed), edged_ctl_role_name(cl->role));
	snprintf(msg, msglen, "%.64s needs the %s role (%s, or root)", name,
		 edged_ctl_role_name(needed), c->who[needed]);
	return false;
}

/* Starts an asynchronous command: 0 if it is pending (or was answered
 * from within start), else the error to answer now. */
static int client_start(struct control_client *cl, const struct edged_ctl_command *cmd,
			json_t *args, char *msg, size_t msglen)
{
	struct edged_control *c = cl->server;
	struct edged_ctl_call *call = &cl->call;
	int code;

	assert(!call->pending && !cl->closing);
	*call = (struct edged_ctl_call){ .client = cl };
	call->pending = true;
	call->in_start = true;
	c->stats.calls++;
	c->stats.calls_pending++;
	code = cmd->start(c->opt.ud, args, call, msg, msglen);
	call->in_start = false;
	if (code != 0) {
		/* Refused: the handler must not have answered it too. */
		assert(call->pending);
		call->pending = false;
		c->stats.calls_pending--;
	}
	return code;
}

static void client_request(struct control_client *cl, const uint8_t *body, size_t len)
{
	struct edged_control *c = cl->server;
	const struct edged_ctl_command *cmd = NULL;
	json_t *req, *jcmd, *args, *result = NULL;
	json_error_t jerr;
	char msg[ROLE_WHO_MAX + 128] = "";
	const char *name;
	int code;

	assert(cl->state == CLIENT_SERVING && len <= c->opt.max_request_bytes);
	c->stats.requests++;
	req = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(msg, sizeof msg, "invalid JSON: %s", jerr.text);
		client_send_error(cl, EDGE_CTL_E_BAD_REQUEST, msg);
		return;
	}
	jcmd = json_object_get(req, "cmd");
	args = json_object_get(req, "args");
	if (!json_is_object(req) || !json_is_string(jcmd) || (args && !json_is_object(args) &&
							       !json_is_null(args))) {
		json_decref(req);
		client_send_error(cl, EDGE_CTL_E_BAD_REQUEST,
				  "request must be {\"cmd\": string, \"args\": object}");
		return;
	}
	name = json_string_value(jcmd);
	for (size_t i = 0; i < c->opt.ncommands; i++)
		if (strcmp(c->opt.commands[i].name, name) == 0)
			cmd = &c->opt.commands[i];
	if (!args || json_is_null(args))
		args = json_object();
	else
		json_incref(args);
	if (cmd && !client_permitted(cl, name, cmd->role, msg, sizeof msg))
		code = EDGE_CTL_E_NOT_AUTHORISED;
	else if (cmd && cmd->start)
		code = client_start(cl, cmd, args, msg, sizeof msg);
	else if (cmd)
		code = cmd->run(c->opt.ud, args, &result, msg, sizeof msg);
	else if (strcmp(name, "help") == 0)
		code = client_permitted(cl, name, EDGED_CTL_HELP_ROLE, msg, sizeof msg)
			       ? control_help(c, cl->role, &result)
			       : EDGE_CTL_E_NOT_AUTHORISED;
	else {
		code = EDGE_CTL_E_UNKNOWN_COMMAND;
		snprintf(msg, sizeof msg, "unknown command '%.64s' (try help)", name);
	}
	json_decref(args);
	json_decref(req);
	if (code == 0 && cmd && cmd->start)
		return; /* answered by edged_ctl_call_finish */
	if (code == 0 && !result) {
		code = EDGE_CTL_E_INTERNAL;
		snprintf(msg, sizeof msg, "command produced no result");
	}
	if (code != 0) {
		json_decref(result);
		client_send_error(cl, (enum edge_ctl_error)code, msg[0] ? msg : "failed");
		return;
	}
	client_send_json(cl, json_pack("{s:b, s:o}", "ok", 1, "result", result));
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct control_client *cl = h->data;

	*buf = uv_buf_init(cl->rbuf, sizeof cl->rbuf);
}

/* After a read: the first byte of a request starts its deadline, which
 * further bytes do not push back; between requests the idle time runs from
 * the last read. */
static void client_arm_after_read(struct control_client *cl)
{
	struct edged_control *c = cl->server;

	if (cl->closing || cl->close_after_write)
		return;
	if (!edge_ctl_decoder_idle(&cl->dec)) {
		if (!cl->in_request) {
			cl->in_request = true;
			client_timer(cl, c->opt.request_timeout_ms ? c->opt.request_timeout_ms
								   : c->opt.idle_timeout_ms);
		}
		return;
	}
	assert(!cl->in_request);
	client_timer(cl, c->opt.idle_timeout_ms);
}

/* Decode and answer the requests in p[0..left) (bytes in rbuf), until one
 * starts a call that stays pending: the rest waits in rbuf for its answer. */
static void client_feed(struct control_client *cl, const uint8_t *p, size_t left)
{
	struct edged_control *c = cl->server;

	while (left > 0 && !cl->closing && !cl->close_after_write && !cl->call.pending) {
		const uint8_t *body;
		size_t consumed = 0, body_len = 0;
		int r = edge_ctl_decoder_feed(&cl->dec, p, left, &consumed, &body, &body_len);

		assert(consumed <= left);
		p += consumed;
		left -= consumed;
		if (r == 1) {
			cl->in_request = false;
			client_request(cl, body, body_len);
		} else if (r == -EMSGSIZE) {
			char msg[96];

			c->stats.too_large++;
			snprintf(msg, sizeof msg, "request of %zu bytes exceeds the limit of %zu",
				 body_len, c->opt.max_request_bytes);
			client_refuse(cl, EDGE_CTL_E_TOO_LARGE, msg);
		} else if (r < 0) {
			client_close(cl);
		} else if (consumed == 0) {
			break;
		}
	}
	if (cl->call.pending && !cl->closing) {
		assert(p >= (const uint8_t *)cl->rbuf &&
		       p + left <= (const uint8_t *)cl->rbuf + sizeof cl->rbuf);
		cl->rest_off = (size_t)(p - (const uint8_t *)cl->rbuf);
		cl->rest_len = left;
	}
}

static void client_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Bytes from the peer of a stream: it broke the protocol. */
static void client_stream_intrusion(struct control_client *cl)
{
	edge_log(EDGE_LOG_INFO, "control", "control client uid %ld sent data during a stream; "
		 "closed", (long)cl->uid);
	client_refuse(cl, EDGE_CTL_E_BAD_REQUEST, "request sent during a stream");
	call_hangup(cl);
}

/* A call is pending: time nothing until it is answered, and read nothing
 * unless it streams (then only to see the peer go). */
static void client_hold(struct control_client *cl)
{
	assert(cl->call.pending && !cl->closing);
	uv_timer_stop(&cl->timer);
	uv_read_stop((uv_stream_t *)&cl->pipe);
	if (!cl->call.streaming)
		return;
	if (cl->rest_len > 0) {
		cl->rest_len = 0;
		client_stream_intrusion(cl);
		return;
	}
	if (uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read) < 0)
		client_close(cl);
}

static void client_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct control_client *cl = s->data;

	if (cl->closing)
		return;
	assert(cl->state == CLIENT_SERVING && !cl->close_after_write);
	if (cl->call.pending) {
		/* Only a stream reads while its call is pending. */
		assert(cl->call.streaming);
		if (nread < 0)
			client_close(cl); /* tells the call's owner */
		else if (nread > 0)
			client_stream_intrusion(cl);
		return;
	}
	if (nread == UV_EOF && cl->writes_pending > 0) {
		/* Half-closed after its last request: answer, then close
		 * (bounded by the idle timer, which keeps running). */
		cl->close_after_write = true;
		uv_read_stop(s);
		return;
	}
	if (nread < 0) {
		client_close(cl);
		return;
	}
	if (nread == 0)
		return;
	assert((size_t)nread <= sizeof cl->rbuf && buf->base == cl->rbuf);
	client_feed(cl, (const uint8_t *)buf->base, (size_t)nread);
	if (cl->call.pending && !cl->closing)
		client_hold(cl);
	else
		client_arm_after_read(cl);
}

/* Its call was answered: the requests read behind it first, then the
 * socket again. */
static void client_resume(struct control_client *cl)
{
	size_t off = cl->rest_off, len = cl->rest_len;

	assert(!cl->call.pending && !cl->closing && cl->state == CLIENT_SERVING);
	cl->rest_off = cl->rest_len = 0;
	client_feed(cl, (const uint8_t *)cl->rbuf + off, len);
	if (cl->closing)
		return;
	if (cl->call.pending) {
		client_hold(cl); /* the next one is asynchronous too */
		return;
	}
	if (cl->close_after_write)
		return; /* refused on the way: closes once that is written */
	if (uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read) < 0) {
		client_close(cl);
		return;
	}
	client_arm_after_read(cl);
}

void edged_ctl_call_finish(struct edged_ctl_call *call, int code, json_t *result,
			   const char *msg)
{
	struct control_client *cl = call->client;
	struct edged_control *c = cl->server;
	bool streamed = call->streaming;

	assert(call->pending && c->stats.calls_pending > 0);
	call->pending = false;
	call->want_drain = false;
	c->stats.calls_pending--;
	if (code == 0 && !result) {
		code = EDGE_CTL_E_INTERNAL;
		msg = "command produced no result";
	}
	if (cl->closing) {
		/* The server was freed meanwhile: nobody to answer. (A peer
		 * that hung up is found when the answer is written: nothing
		 * is read from it while its call is pending.) */
		json_decref(result);
		client_release(cl);
		control_maybe_free(c);
		return;
	}
	if (cl->close_after_write) {
		/* A stream refused for bytes sent during it: closing. */
		json_decref(result);
		return;
	}
	if (code == EDGE_CTL_E_TOO_SLOW) {
		/* A reader that fell behind: told, then disconnected. */
		json_decref(result);
		/* A slow reader has a backlog to take before the answer: it gets
		 * longer to reach it (still bounded: its slot is held till then). */
		client_refuse_linger(cl, EDGE_CTL_E_TOO_SLOW, msg && msg[0] ? msg : "reader too slow",
				     CONTROL_SLOW_LINGER_MS);
		return;
	}
	if (code != 0 && json_is_object(result)) {
		/* Details of the refusal (e.g. models.add's "reason") go into
		 * the error object beside code and message. */
		json_t *resp = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
					 edge_ctl_error_name((enum edge_ctl_error)code), "message",
					 msg && msg[0] ? msg : "failed");

		if (resp)
			(void)json_object_update_missing(json_object_get(resp, "error"), result);
		json_decref(result);
		c->stats.errors++;
		client_send_json(cl, resp);
	} else if (code != 0) {
		json_decref(result);
		client_send_error(cl, (enum edge_ctl_error)code, msg && msg[0] ? msg : "failed");
	} else {
		client_send_json(cl, json_pack("{s:b, s:o}", "ok", 1, "result", result));
	}
	/* A stream was read meanwhile: client_resume starts reading again. */
	if (streamed && !call->in_start && !cl->closing)
		uv_read_stop((uv_stream_t *)&cl->pipe);
	/* From within start the read loop goes on by itself; a send that
	 * failed closed the connection, whose last handle frees it. */
	if (!call->in_start && !cl->closing)
		client_resume(cl);
}

int edged_ctl_frame_more(json_t *result, char **frame, size_t *len)
{
	json_t *resp;
	int r;

	*frame = NULL;
	*len = 0;
	resp = result ? json_pack("{s:b, s:b, s:o}", "ok", 1, "more", 1, "result", result) : NULL;
	r = resp ? edge_ctl_json_frame(resp, EDGE_CTL_RESPONSE_MAX, frame, len) : -ENOMEM;
	json_decref(resp);
	return r;
}

int edged_ctl_call_send(struct edged_ctl_call *call, json_t *result)
{
	char *frame;
	size_t len;
	int r;

	assert(call->pending);
	if (call->client->closing || call->client->close_after_write || call->hung_up) {
		json_decref(result);
		return -EPIPE;
	}
	r = edged_ctl_frame_more(result, &frame, &len);
	if (r < 0)
		return r; /* too large or no memory: nothing sent, the stream goes on */
	return edged_ctl_call_send_frame(call, frame, len);
}

int edged_ctl_call_send_frame(struct edged_ctl_call *call, char *frame, size_t len)
{
	struct control_client *cl = call->client;

	assert(call->pending);
	if (cl->closing || cl->close_after_write || call->hung_up) {
		free(frame);
		return -EPIPE;
	}
	call->in_send = true;
	client_send(cl, frame, len);
	call->in_send = false;
	if (cl->closing)
		return -EPIPE;
	cl->server->stats.frames_more++;
	return 0;
}

void edged_ctl_call_stream(struct edged_ctl_call *call, edged_ctl_call_event drained,
			   edged_ctl_call_event hangup, void *ud)
{
	assert(call->pending);
	call->streaming = true;
	call->drained = drained;
	call->hangup = hangup;
	call->ud = ud;
}

size_t edged_ctl_call_queued(const struct edged_ctl_call *call)
{
	return call->client->out_queued;
}

bool edged_ctl_call_want_drain(struct edged_ctl_call *call, size_t low_mark)
{
	struct control_client *cl = call->client;

	assert(call->pending);
	if (cl->closing || cl->close_after_write || call->hung_up || cl->out_queued <= low_mark)
		return false;
	call->want_drain = true;
	call->low_mark = low_mark;
	return true;
}

uid_t edged_ctl_call_uid(const struct edged_ctl_call *call)
{
	assert(call->pending);
	return call->client->uid;
}

static void client_on_timer(uv_timer_t *t)
{
	struct control_client *cl = t->data;
	struct edged_control *c = cl->server;
	char msg[96];

	assert(!cl->closing);
	if (cl->close_after_write) {
		/* Its last answer is not being read. */
		client_close(cl);
		return;
	}
	if (cl->state == CLIENT_AUTHORISING || cl->in_request) {
		c->stats.timeouts++;
		snprintf(msg, sizeof msg, "%s not complete within %u ms",
			 cl->state == CLIENT_AUTHORISING ? "peer check" : "request",
			 c->opt.request_timeout_ms);
		edge_log(EDGE_LOG_INFO, "control", "control client uid %ld: %s; closed",
			 (long)cl->uid, msg);
		client_refuse(cl, EDGE_CTL_E_TIMEOUT, msg);
		return;
	}
	edge_log(EDGE_LOG_DEBUG, "control", "idle client disconnected");
	client_close(cl);
}

/* Authorised: from now on its requests are read. */
static void client_serve(struct control_client *cl)
{
	struct edged_control *c = cl->server;

	assert(cl->state == CLIENT_AUTHORISING && !cl->body && !cl->closing);
	cl->body = malloc(c->opt.max_request_bytes ? c->opt.max_request_bytes : 1);
	if (!cl->body) {
		edge_log(EDGE_LOG_ERR, "control", "out of memory for a client");
		client_close(cl);
		return;
	}
	edge_ctl_decoder_init(&cl->dec, cl->body, c->opt.max_request_bytes);
	cl->state = CLIENT_SERVING;
	client_timer(cl, c->opt.idle_timeout_ms);
	if (uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read) < 0)
		client_close(cl);
}

/* ---- group lookups, off the loop ---- */

/* On a pool thread: only the client's own fields and the server's
 * immutable ones (the role policy) are read. */
static void lookup_work(uv_work_t *w)
{
	struct control_client *cl = w->data;
	const struct edged_control *c = cl->server;

	cl->role = role_by_database(&c->policy, cl->uid, cl->role);
}

static void lookup_pump(struct edged_control *c);

static void lookup_done(uv_work_t *w, int status)
{
	struct control_client *cl = w->data;
	struct edged_control *c = cl->server;

	assert(cl->lookup == LOOKUP_RUNNING && c->stats.lookups_running > 0);
	cl->lookup = LOOKUP_NONE;
	c->stats.lookups_running--;
	if (cl->closing)
		client_release(cl); /* hung up, timed out or server closed meanwhile */
	else if (cl->close_after_write)
		; /* answered "timeout" already: closes once that is written */
	else if (cl->role != EDGED_CTL_ROLE_NONE)
		client_serve(cl);
	else
		client_refuse_auth(cl, (long)cl->uid);
	if (c->freeing)
		control_maybe_free(c);
	else
		lookup_pump(c);
}

/* Start queued lookups, oldest first, while the pool has room for them. */
static void lookup_pump(struct edged_control *c)
{
	while (c->queue_head && c->stats.lookups_running < CONTROL_LOOKUPS_MAX) {
		struct control_client *cl = c->queue_head;

		c->queue_head = cl->queue_next;
		if (!c->queue_head)
			c->queue_tail = NULL;
		cl->queue_next = NULL;
		assert(cl->lookup == LOOKUP_QUEUED && c->stats.lookups_queued > 0 && !cl->closing);
		c->stats.lookups_queued--;
		cl->lookup = LOOKUP_NONE;
		cl->work.data = cl;
		if (uv_queue_work(c->loop, &cl->work, lookup_work, lookup_done) < 0) {
			client_close(cl);
			continue;
		}
		cl->lookup = LOOKUP_RUNNING;
		c->stats.lookups_running++;
		c->stats.lookups++;
	}
}

static void lookup_enqueue(struct control_client *cl)
{
	struct edged_control *c = cl->server;

	assert(cl->lookup == LOOKUP_NONE && !cl->queue_next);
	cl->lookup = LOOKUP_QUEUED;
	if (c->queue_tail)
		c->queue_tail->queue_next = cl;
	else
		c->queue_head = cl;
	c->queue_tail = cl;
	c->stats.lookups_queued++;
	lookup_pump(c);
}

static void control_handle_closed(uv_handle_t *h)
{
	struct edged_control *c = h->data;

	if (h == (uv_handle_t *)&c->spare)
		c->spare_open = false;
	assert(c->open_handles > 0);
	c->open_handles--;
	control_maybe_free(c);
}

/* No memory for a client: libuv stops watching the listener until the
 * pending connection is accepted, so take it into the spare handle and
 * hang up at once rather than leave the socket deaf. */
static void control_shed(struct edged_control *c, uv_stream_t *server)
{
	if (c->spare_open || uv_pipe_init(c->loop, &c->spare, 0) < 0)
		return;
	c->spare.data = c;
	c->spare_open = true;
	c->open_handles++;
	(void)uv_accept(server, (uv_stream_t *)&c->spare);
	uv_close((uv_handle_t *)&c->spare, control_handle_closed);
}

static void control_on_connection(uv_stream_t *server, int status)
{
	struct edged_control *c = server->data;
	struct control_client *cl;
	struct ucred cred;
	socklen_t credlen = sizeof cred;
	uv_os_fd_t fd;
	unsigned limit;
	bool privileged;

	if (status < 0) {
		edge_log(EDGE_LOG_WARNING, "control", "accept: %s", uv_strerror(status));
		return;
	}
	assert(!c->freeing);
	cl = calloc(1, sizeof *cl);
	if (!cl) {
		edge_log(EDGE_LOG_ERR, "control", "out of memory for a client");
		control_shed(c, server);
		return;
	}
	cl->server = c;
	cl->state = CLIENT_AUTHORISING;
	cl->uid = (uid_t)-1;
	uv_pipe_init(c->loop, &cl->pipe, 0);
	uv_timer_init(c->loop, &cl->timer);
	cl->pipe.data = cl->timer.data = cl;
	cl->open_handles = 2;
	/* Linked before any early close so client_close can unlink it. */
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->stats.clients++;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) < 0) {
		client_close(cl);
		return;
	}
	c->stats.accepted++;
	if (uv_fileno((uv_handle_t *)&cl->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0 ||
	    credlen != sizeof cred) {
		client_refuse_auth(cl, -1L);
		return;
	}
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	/* Decided from the credentials alone, before any lookup is spent on
	 * a peer there is no room for. */
	privileged = cred.uid == 0 || cred.uid == c->self_uid;
	limit = c->opt.max_clients + (privileged ? CONTROL_RESERVED_CLIENTS : 0);
	if (c->stats.clients > limit) {
		c->stats.refused_busy++;
		client_refuse(cl, EDGE_CTL_E_BUSY, "too many control clients");
		return;
	}
	cl->role = role_by_ids(&c->policy, cred.uid, cred.gid);
	if (cl->role == EDGED_CTL_ROLE_ADMIN) {
		client_serve(cl);
		return;
	}
	/* The peer check has the request's deadline. */
	client_timer(cl, c->opt.request_timeout_ms ? c->opt.request_timeout_ms
						   : c->opt.idle_timeout_ms);
	lookup_enqueue(cl);
}

/* ---- the listening socket ---- */

/* A socket file left behind by a dead edged is removed; one somebody still
 * listens on, or anything that is not a socket, is left alone. */
static int control_clear_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int edged_control_new(uv_loop_t *loop, const struct edged_control_options *opt,
		      struct edged_control **out)
{
	struct edged_control *c;
	mode_t old_umask;
	int r;

	if (!opt->path || !opt->path[0] || opt->max_request_bytes > EDGE_CTL_REQUEST_MAX ||
	    opt->max_clients == 0)
		return -EINVAL;
	for (size_t i = 0; i < opt->ncommands; i++)
		if (!opt->commands[i].run == !opt->commands[i].start)
			return -EINVAL; /* exactly one way to run it */
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->path = strdup(opt->path);
	if (!c->path) {
		free(c);
		return -ENOMEM;
	}
	c->loop = loop;
	c->opt = *opt;
	c->opt.path = c->path;
	c->self_uid = geteuid();
	c->group = opt->group == (gid_t)-1 ? getegid() : opt->group;
	role_policy_init(&c->policy, c->self_uid, c->group, opt);
	role_who(&c->policy, EDGED_CTL_ROLE_READ, c->who[EDGED_CTL_ROLE_READ], ROLE_WHO_MAX);
	role_who(&c->policy, EDGED_CTL_ROLE_ADMIN, c->who[EDGED_CTL_ROLE_ADMIN], ROLE_WHO_MAX);
	/* The names are borrowed: only the messages above keep them. */
	c->opt.read_group_name = c->opt.admin_group_name = c->opt.group_name = NULL;
	for (size_t i = 0; i < c->policy.ngrants; i++)
		c->policy.grant[i].name = NULL;

	r = control_clear_stale(c->path);
	if (r < 0)
		goto fail_free;
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
	c->open_handles = 1;
	/* Created owner-only, then opened up to the configured mode: there is
	 * never a moment where the socket is wider than intended. */
	old_umask = umask(0177);
	r = uv_pipe_bind(&c->listener, c->path);
	umask(old_umask);
	if (r < 0)
		goto fail_close;
	if (opt->group != (gid_t)-1 && chown(c->path, (uid_t)-1, c->group) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	if (chmod(c->path, opt->mode & 0777) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	r = uv_listen((uv_stream_t *)&c->listener, CONTROL_BACKLOG, control_on_connection);
	if (r < 0)
		goto fail_unlink;
	*out = c;
	return 0;

fail_unlink:
	unlink(c->path);
fail_close:
	c->freeing = true;
	uv_close((uv_handle_t *)&c->listener, control_handle_closed);
	return r;
fail_free:
	free(c->path);
	free(c);
	return r;
}

void edged_control_free(struct edged_control *c)
{
	if (!c)
		return;
	c->freeing = true;
	for (struct control_client *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		/* A lookup not yet started on the pool is dropped (lookup_done
		 * then runs with UV_ECANCELED); a started one is waited for. */
		if (cl->lookup == LOOKUP_RUNNING)
			(void)uv_cancel((uv_req_t *)&cl->work);
		/* An answer on its way (the secrets of a provisioning finished
		 * just before the stop) is written first, within the linger
		 * time; nothing more is read. */
		if (cl->writes_pending > 0 && cl->lookup == LOOKUP_NONE && !cl->call.pending) {
			cl->close_after_write = true;
			if (cl->state == CLIENT_SERVING)
				uv_read_stop((uv_stream_t *)&cl->pipe);
			client_timer(cl, CONTROL_LINGER_MS);
			continue;
		}
		client_close(cl);
	}
	/* Closing took every queued lookup off the queue. */
	assert(!c->queue_head && c->stats.lookups_queued == 0);
	unlink(c->path);
	uv_close((uv_handle_t *)&c->listener, control_handle_closed);
}

void edged_control_set_limits(struct edged_control *c, unsigned max_clients,
			      unsigned idle_timeout_ms, unsigned request_timeout_ms)
{
	if (max_clients)
		c->opt.max_clients = max_clients;
	c->opt.idle_timeout_ms = idle_timeout_ms;
	c->opt.request_timeout_ms = request_timeout_ms;
}

void edged_control_get_stats(const struct edged_control *c, struct edged_control_stats *out)
{
	*out = c->stats;
	out->max_clients = c->opt.max_clients;
}
