/* The MQTT adapter: libmosquitto driven by the libuv loop.
 *
 * The traps of driving libmosquitto from someone else's loop, and where each
 * is defused:
 * - The library's own loop and thread are never used: mqtt_on_poll drives
 *   mosquitto_loop_read/write from a uv_poll_t, mqtt_on_misc runs
 *   mosquitto_loop_misc (keepalive) every second.
 * - The library closes its socket inside its own calls, and the fd number
 *   comes back on the next connect: mqtt_sync_socket compares
 *   mosquitto_socket() with the watched fd after every call and gives each fd
 *   its own poll allocation (a closing handle outlives the fd).
 * - Publishes made inside a callback are only queued: mqtt_on_prepare asks
 *   for writability before each poll iff mosquitto_want_write().
 * - A pending TLS handshake wants to write but refuses to: mqtt_wanted_events
 *   stops asking for writability once the TCP connect is done (else the loop
 *   spins); stats.poll_wakeups makes that observable.
 * - A peer that hangs up during a TLS handshake is not noticed by the
 *   library: UV_DISCONNECT ends the attempt (mqtt_peer_gone).
 * - The library's reconnect backoff only works in its own loop: ours is
 *   mqtt_schedule_retry (full jitter); subscriptions are renewed in
 *   mqtt_on_connect; publishes wait in the outbox while disconnected.
 * - The library reads a whole packet into memory before edged sees it, so a
 *   100 MB publish costs 100 MB and more: CONNECT declares Maximum Packet
 *   Size = mqtt.max_packet_bytes (mqtt_make_connect_props) and the broker
 *   discards larger packets for edged instead of sending them.
 * - A clean session loses what nodes publish while edged restarts or
 *   reconnects: Clean Start 0 with Session Expiry = mqtt.session_expiry_s and
 *   QoS 1 subscriptions make the broker queue it (mqtt_make_connect_props,
 *   edged_mqtt_new). libmosquitto 2.0 only takes CONNECT properties through
 *   its blocking mosquitto_connect_bind_v5, which stores them before it
 *   validates the port: mqtt_install_connect_props stores them that way
 *   without connecting, and mosquitto_connect_bind_async then sends them.
 * - mosquitto_connect resolves the host name on the calling thread: a name
 *   is resolved with uv_getaddrinfo (the thread pool) and the library is
 *   given the numeric address (mqtt_attempt, mqtt_on_resolved). With TLS the
 *   library checks the certificate against the host it connects to, so with
 *   TLS and a host name the name itself is handed over after the off-loop
 *   lookup succeeded (the library looks it up again; configure the broker
 *   by address to avoid that lookup entirely).
 * - mqtt.host beginning with '/' is the path of the broker's Unix socket
 *   (mosquitto's `listener 0 PATH`): libmosquitto connects to a Unix socket
 *   when the port is 0, so nothing is looked up and the port is 0. The
 *   shipped unit gives edged no network (PrivateNetwork=yes): this is how
 *   it reaches the broker.
 * - Every publish carries Payload Format Indicator 1 (UTF-8 text), as the
 *   node protocol asks of every gateway publish (m->pub_props), except the
 *   binary OTA frames (edged_mqtt_publish_frame), which carry none.
 * - libmosquitto queues every packet it cannot write at once, without a
 *   bound: OTA frames, which come in bulk, are refused (-EAGAIN) while more
 *   than MQTT_FRAME_BACKLOG_MAX bytes of them went to the library since it
 *   last had nothing to write; their sender retransmits. */
#include "mqtt.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "edge_backoff.h"
#include "edge_log.h"
#include "edge_outbox.h"

/* edged subscribes to whole node subtrees, where it also publishes its own
 * replies: no-local keeps those from coming back as node input. */
#define EDGED_SUB_OPTIONS MQTT_SUB_OPT_NO_LOCAL

#define MQTT_MAX_SUBS 16
/* Frame bytes handed to the library while it still has bytes to write;
 * beyond it edged_mqtt_publish_frame refuses (back-pressure). */
#define MQTT_FRAME_BACKLOG_MAX (256u * 1024u)
/* How long a graceful stop waits for DISCONNECT to leave. */
#define MQTT_STOP_TIMEOUT_MS 2000

/* A poll handle lives until its close callback, which may be after the fd
 * changed, so each watched fd gets its own allocation. */
struct mqtt_poll {
	uv_poll_t handle;
	struct edged_mqtt *m; /* only used while this is the current watcher */
	int events;
};

struct mqtt_sub {
	char *filter;
	int qos;
};

struct edged_mqtt {
	uv_loop_t *loop;
	struct mosquitto *mosq;
	struct edged_mqtt_callbacks cb;

	struct mqtt_poll *poll; /* watcher of `fd`, NULL when no socket */
	int fd;
	uv_timer_t misc_timer;
	uv_timer_t retry_timer;
	uv_timer_t stop_timer;
	uv_prepare_t prepare;
	int open_handles;
	bool freeing;

	edge_backoff *backoff;
	edge_outbox *outbox;
	struct mqtt_sub subs[MQTT_MAX_SUBS];
	int nsubs;

	char host[EDGE_CONFIG_NAME_MAX];
	int port;
	int keepalive_s;
	bool tls;

	bool host_numeric;        /* mqtt.host is an IPv4/IPv6 literal */
	bool unix_socket;         /* mqtt.host is a socket path; port is 0 */
	char where[EDGE_CONFIG_NAME_MAX + 16]; /* "host:port" or the path, for logs */
	uv_getaddrinfo_t *resolve; /* lookup in flight; its data is m */
	char address[EDGED_MQTT_ADDRESS_MAX]; /* what the last attempt connected to */
	uint32_t session_expiry_s;  /* 0 = clean session */
	mosquitto_property *connect_props; /* until mqtt_install_connect_props */
	mosquitto_property *pub_props;     /* Payload Format Indicator 1 */
	size_t frame_backlog;     /* frame bytes given since want_write was false */

	enum edged_mqtt_state state;
	bool started;
	/* TLS handshake in progress and its TCP connect done: see
	 * mqtt_wanted_events. */
	bool tls_tcp_up;
	uint64_t failure_streak; /* failed attempts since the last connect */
	bool connack_refused;    /* last_error holds the broker's reason */
	void (*stop_done)(void *ud);
	void *stop_ud;
	struct edged_mqtt_stats stats;
};

const char *edged_mqtt_state_name(enum edged_mqtt_state s)
{
	switch (s) {
	case EDGED_MQTT_DISCONNECTED: return "disconnected";
	case EDGED_MQTT_CONNECTING: return "connecting";
	case EDGED_MQTT_CONNECTED: return "connected";
	case EDGED_MQTT_STOPPING: return "stopping";
	case EDGED_MQTT_STOPPED: return "stopped";
	}
	return "unknown";
}

/* The transitions the adapter makes: STOPPED is final, CONNECTED only
 * follows CONNECTING, STOPPING only CONNECTED. */
static bool mqtt_transition_ok(enum edged_mqtt_state from, enum edged_mqtt_state to)
{
	switch (to) {
	case EDGED_MQTT_CONNECTED: return from == EDGED_MQTT_CONNECTING;
	case EDGED_MQTT_STOPPING: return from == EDGED_MQTT_CONNECTED;
	case EDGED_MQTT_STOPPED: return true;
	case EDGED_MQTT_CONNECTING:
	case EDGED_MQTT_DISCONNECTED:
		return from != EDGED_MQTT_STOPPED && from != EDGED_MQTT_STOPPING;
	}
	return false;
}

static void mqtt_set_state(struct edged_mqtt *m, enum edged_mqtt_state s)
{
	if (m->state == s)
		return;
	assert(mqtt_transition_ok(m->state, s));
	m->state = s;
	if (m->cb.on_state && !m->freeing)
		m->cb.on_state(m->cb.ud, s);
}

static void mqtt_set_error(struct edged_mqtt *m, const char *what, const char *why)
{
	snprintf(m->stats.last_error, sizeof m->stats.last_error, "%s: %s", what, why);
}

static void mqtt_poll_closed(uv_handle_t *h)
{
	free(h->data);
}

static void mqtt_poll_close(struct edged_mqtt *m)
{
	/* A watcher exists exactly while an fd is recorded. */
	assert((m->poll == NULL) == (m->fd < 0));
	if (!m->poll)
		return;
	assert(m->poll->m == m);
	uv_poll_stop(&m->poll->handle);
	uv_close((uv_handle_t *)&m->poll->handle, mqtt_poll_closed);
	m->poll = NULL;
	m->fd = -1;
}

static void mqtt_on_poll(uv_poll_t *h, int status, int events);
static void mqtt_on_stop_timer(uv_timer_t *t);

/* Writable only while libmosquitto has bytes queued: asking for it otherwise
 * spins. During a TLS handshake mosquitto_want_write() can stay true while
 * the library refuses to write (it writes nothing until the handshake is
 * done, and only its read path drives the handshake), so then writability
 * is asked for once, to learn that the TCP connect completed; after that the
 * handshake moves on readable events (see mqtt_on_poll). */
static int mqtt_wanted_events(struct edged_mqtt *m)
{
	int events = UV_READABLE | UV_DISCONNECT;

	if (m->tls && m->state == EDGED_MQTT_CONNECTING && m->tls_tcp_up)
		return events;
	return events | (mosquitto_want_write(m->mosq) ? UV_WRITABLE : 0);
}

static void mqtt_update_poll(struct edged_mqtt *m)
{
	int events;
	int r;

	if (!m->poll)
		return;
	events = mqtt_wanted_events(m);
	if (events == m->poll->events)
		return;
	r = uv_poll_start(&m->poll->handle, events, mqtt_on_poll);
	if (r < 0)
		edge_log(EDGE_LOG_ERR, "mqtt", "cannot watch broker socket: %s", uv_strerror(r));
	else
		m->poll->events = events;
}

/* libmosquitto may have closed or replaced its socket inside the call we just
 * made; watch whatever fd it has now. */
static void mqtt_sync_socket(struct edged_mqtt *m)
{
	int fd = mosquitto_socket(m->mosq);
	struct mqtt_poll *p;
	int r;

	/* While waiting to retry, the library may still hold the dead socket
	 * of the failed attempt (it closes it on the next connect): watching
	 * it would only report the hang-up again and again. */
	if (m->state == EDGED_MQTT_DISCONNECTED || m->state == EDGED_MQTT_STOPPED)
		fd = -1;
	/* The same while the next attempt still waits for its address. */
	if (m->resolve)
		fd = -1;
	assert((m->poll == NULL) == (m->fd < 0));
	if (fd == m->fd)
		return;
	mqtt_poll_close(m);
	if (fd < 0 || m->freeing)
		return;
	p = calloc(1, sizeof *p);
	if (!p) {
		edge_log(EDGE_LOG_ERR, "mqtt", "out of memory watching broker socket");
		return;
	}
	r = uv_poll_init(m->loop, &p->handle, fd);
	if (r < 0) {
		edge_log(EDGE_LOG_ERR, "mqtt", "cannot watch broker socket %d: %s", fd,
			 uv_strerror(r));
		free(p);
		return;
	}
	p->handle.data = p;
	p->m = m;
	m->poll = p;
	m->fd = fd;
	mqtt_update_poll(m);
}

static void mqtt_after_call(struct edged_mqtt *m, int rc, const char *what)
{
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		edge_log(EDGE_LOG_DEBUG, "mqtt", "%s: %s", what, mosquitto_strerror(rc));
	mqtt_sync_socket(m);
}

static void mqtt_schedule_retry(struct edged_mqtt *m);
static void mqtt_log_failure(struct edged_mqtt *m);

static void mqtt_peer_gone(struct edged_mqtt *m)
{
	enum edged_mqtt_state was = m->state;

	mqtt_poll_close(m);
	if (was == EDGED_MQTT_STOPPING) {
		mqtt_set_state(m, EDGED_MQTT_STOPPED);
		uv_timer_start(&m->stop_timer, mqtt_on_stop_timer, 0, 0);
		return;
	}
	if (was == EDGED_MQTT_CONNECTING) {
		m->stats.connect_failures++;
		mqtt_set_error(m, "connect", m->tls ? "connection closed during TLS handshake"
						    : "connection closed by the broker");
		mqtt_log_failure(m);
	} else {
		mqtt_set_error(m, "connection lost", "closed by the broker");
		edge_log(EDGE_LOG_WARNING, "mqtt", "lost broker %s: closed by the broker", m->where);
	}
	mqtt_schedule_retry(m);
}

static void mqtt_on_poll(uv_poll_t *h, int status, int events)
{
	struct mqtt_poll *p = h->data;
	struct edged_mqtt *m = p->m;
	int rc;

	if (m->poll != p)
		return;
	assert(p->m == m && m->fd >= 0);
	m->stats.poll_wakeups++;
	/* On a poll error (libuv has stopped the handle) let the library run
	 * into it; if it does not, the connection is treated as gone. */
	if (status < 0) {
		p->events = 0;
		events = UV_READABLE | UV_DISCONNECT;
	}
	if (m->tls && m->state == EDGED_MQTT_CONNECTING) {
		/* Handshake: the read path sends and receives its records, and
		 * a write right after sends CONNECT once it is done. */
		if (events & UV_WRITABLE)
			m->tls_tcp_up = true;
		events |= UV_READABLE | UV_WRITABLE;
	}
	if (events & (UV_READABLE | UV_DISCONNECT)) {
		rc = mosquitto_loop_read(m->mosq, 1);
		mqtt_after_call(m, rc, "read");
		if (m->poll != p)
			return;
	}
	if (events & UV_WRITABLE) {
		rc = mosquitto_loop_write(m->mosq, 1);
		mqtt_after_call(m, rc, "write");
		if (m->poll != p)
			return;
	}
	if (events & UV_DISCONNECT) {
		/* The peer hung up and the library did not notice: it retries a
		 * TLS handshake on a dead socket forever. Count the attempt as
		 * failed and connect afresh (which closes that socket). */
		mqtt_peer_gone(m);
		return;
	}
	mqtt_update_poll(m);
}

static void mqtt_on_prepare(uv_prepare_t *h)
{
	struct edged_mqtt *m = h->data;

	mqtt_sync_socket(m);
	mqtt_update_poll(m);
}

static void mqtt_flush_outbox(struct edged_mqtt *m);

static void mqtt_on_misc(uv_timer_t *t)
{
	struct edged_mqtt *m = t->data;
	int rc;

	/* Nothing to keep alive while waiting, also not while the next
	 * attempt's address is being looked up (the library may still hold
	 * the previous attempt's socket). */
	if (m->state == EDGED_MQTT_DISCONNECTED || m->state == EDGED_MQTT_STOPPED || m->resolve)
		return;
	if (mosquitto_socket(m->mosq) < 0) {
		/* Safety net: a socket that went away without on_disconnect
		 * must not leave us waiting forever. */
		if ((m->state == EDGED_MQTT_CONNECTED || m->state == EDGED_MQTT_CONNECTING) &&
		    !uv_is_active((uv_handle_t *)&m->retry_timer)) {
			mqtt_poll_close(m);
			mqtt_set_error(m, "connection", "socket closed");
			mqtt_schedule_retry(m);
		}
		return;
	}
	rc = mosquitto_loop_misc(m->mosq);
	mqtt_after_call(m, rc, "keepalive");
	/* What the library refused while connected is retried here. */
	if (m->state == EDGED_MQTT_CONNECTED && edge_outbox_depth(m->outbox) > 0) {
		mqtt_flush_outbox(m);
		mqtt_sync_socket(m);
	}
	/* A TLS handshake that wanted to write while we only wait for
	 * readability gets another chance each second. */
	if (m->tls && m->state == EDGED_MQTT_CONNECTING && m->tls_tcp_up &&
	    mosquitto_socket(m->mosq) >= 0) {
		rc = mosquitto_loop_read(m->mosq, 1);
		mqtt_after_call(m, rc, "read");
		if (m->state == EDGED_MQTT_CONNECTING && mosquitto_socket(m->mosq) >= 0) {
			rc = mosquitto_loop_write(m->mosq, 1);
			mqtt_after_call(m, rc, "write");
		}
	}
	/* TLS may hold decrypted bytes the socket no longer signals. */
	if (m->tls && m->state == EDGED_MQTT_CONNECTED && mosquitto_socket(m->mosq) >= 0) {
		rc = mosquitto_loop_read(m->mosq, 1);
		mqtt_after_call(m, rc, "read");
	}
}

static void mqtt_attempt(struct edged_mqtt *m);

/* The first failure of a streak is a warning; repeats are only worth a line
 * now and then, or a broker that is down fills the journal. */
static void mqtt_log_failure(struct edged_mqtt *m)
{
	uint64_t n = ++m->failure_streak;
	bool loud = n == 1 || (n & (n - 1)) == 0; /* 1, 2, 4, 8, ... */

	edge_log(loud ? EDGE_LOG_WARNING : EDGE_LOG_DEBUG, "mqtt",
		 "cannot connect to %s: %s (attempt %llu)", m->where,
		 m->stats.last_error, (unsigned long long)n);
}

static void mqtt_on_retry(uv_timer_t *t)
{
	mqtt_attempt(t->data);
}

static void mqtt_schedule_retry(struct edged_mqtt *m)
{
	uint32_t delay;
	int r;

	if (m->freeing || m->state == EDGED_MQTT_STOPPING || m->state == EDGED_MQTT_STOPPED)
		return;
	delay = edge_backoff_next(m->backoff);
	m->stats.next_retry_ms = delay;
	mqtt_set_state(m, EDGED_MQTT_DISCONNECTED);
	r = uv_timer_start(&m->retry_timer, mqtt_on_retry, delay, 0);
	if (r < 0)
		edge_log(EDGE_LOG_ERR, "mqtt", "cannot schedule reconnect: %s", uv_strerror(r));
	else
		edge_log(EDGE_LOG_DEBUG, "mqtt", "next connection attempt in %u ms", delay);
}

/* The attempt failed before the library had a connection to report on. */
static void mqtt_attempt_failed(struct edged_mqtt *m, const char *what, const char *why)
{
	m->stats.connect_failures++;
	mqtt_set_error(m, what, why);
	mqtt_log_failure(m);
	mqtt_schedule_retry(m);
}

/* Non-blocking: returns once the TCP connect is in flight. `host` is numeric,
 * except with TLS and a configured name (see the top of this file), or the
 * socket path (port 0; a Unix connect completes or fails at once). */
static void mqtt_connect_to(struct edged_mqtt *m, const char *host)
{
	int rc, err;

	assert(m->state == EDGED_MQTT_CONNECTING);
	snprintf(m->address, sizeof m->address, "%s", host);
	rc = mosquitto_connect_bind_async(m->mosq, host, m->port, m->keepalive_s, NULL);
	err = errno;
	mqtt_sync_socket(m);
	if (rc != MOSQ_ERR_SUCCESS)
		mqtt_attempt_failed(m, "connect", rc == MOSQ_ERR_ERRNO ? strerror(err)
								 : mosquitto_strerror(rc));
}

static void mqtt_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct edged_mqtt *m = req->data;
	char addr[INET6_ADDRSTRLEN] = "";
	int r = status;

	/* edged_mqtt_free orphaned the request: nothing left to connect. */
	if (!m) {
		uv_freeaddrinfo(res);
		free(req);
		return;
	}
	assert(m->resolve == req);
	m->resolve = NULL;
	free(req);
	if (r == 0) {
		if (!res)
			r = UV_EAI_NONAME;
		else if (res->ai_family == AF_INET6)
			r = uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, addr, sizeof addr);
		else
			r = uv_ip4_name((const struct sockaddr_in *)res->ai_addr, addr, sizeof addr);
	}
	uv_freeaddrinfo(res);
	if (m->state != EDGED_MQTT_CONNECTING)
		return; /* stopped meanwhile */
	if (r < 0) {
		mqtt_attempt_failed(m, "cannot resolve broker host", uv_strerror(r));
		return;
	}
	mqtt_connect_to(m, m->tls ? m->host : addr);
}

static void mqtt_attempt(struct edged_mqtt *m)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG };
	uv_getaddrinfo_t *req;
	int r;

	if (m->freeing || m->state == EDGED_MQTT_STOPPING || m->state == EDGED_MQTT_STOPPED)
		return;
	assert(m->resolve == NULL);
	assert(!uv_is_active((uv_handle_t *)&m->retry_timer));
	mqtt_poll_close(m);
	m->tls_tcp_up = false;
	mqtt_set_state(m, EDGED_MQTT_CONNECTING);
	if (m->host_numeric || m->unix_socket) {
		mqtt_connect_to(m, m->host);
		return;
	}
	/* The lookup runs on the thread pool, never on the loop. */
	req = calloc(1, sizeof *req);
	if (!req) {
		mqtt_attempt_failed(m, "cannot resolve broker host", strerror(ENOMEM));
		return;
	}
	req->data = m;
	m->resolve = req;
	r = uv_getaddrinfo(m->loop, req, mqtt_on_resolved, m->host, NULL, &hints);
	if (r < 0) {
		m->resolve = NULL;
		free(req);
		mqtt_attempt_failed(m, "cannot resolve broker host", uv_strerror(r));
	}
}

/* What a mosquitto_publish_v5 result means for the message: 0 sent, a
 * negative errno if it can never be sent, 1 if it may be sent later (the
 * connection is going away). */
static int mqtt_publish_outcome(int rc)
{
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return -EMSGSIZE;
	case MOSQ_ERR_INVAL:
	case MOSQ_ERR_MALFORMED_UTF8:
	case MOSQ_ERR_QOS_NOT_SUPPORTED:
		return -EINVAL;
	default:
		return 1;
	}
}

static void mqtt_flush_outbox(struct edged_mqtt *m)
{
	struct edge_outbox_msg *msg;
	int r;

	while ((msg = edge_outbox_pop(m->outbox))) {
		r = mqtt_publish_outcome(mosquitto_publish_v5(m->mosq, NULL, msg->topic,
							      (int)msg->len, msg->payload,
							      msg->qos, msg->retain,
							      m->pub_props));
		if (r == 1) {
			edge_outbox_unpop(m->outbox, msg);
			return;
		}
		if (r == 0)
			m->stats.messages_out++;
		else
			edge_log(EDGE_LOG_WARNING, "mqtt", "queued message to %s dropped: %s",
				 msg->topic, strerror(-r));
		edge_outbox_msg_free(msg);
	}
}

static void mqtt_on_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
			    const mosquitto_property *props)
{
	struct edged_mqtt *m = ud;

	if (rc != 0) {
		/* The library closes the connection next; on_disconnect counts
		 * the failure and retries. */
		mqtt_set_error(m, "broker refused the connection", mosquitto_reason_string(rc));
		m->connack_refused = true;
		return;
	}
	m->stats.connects++;
	if (m->stats.connects > 1)
		m->stats.reconnects++;
	/* Session present: the broker kept edged's subscriptions and queued
	 * what arrived meanwhile (sent right after this CONNACK). */
	m->stats.session_present = (flags & 1) != 0;
	m->stats.last_error[0] = '\0';
	m->failure_streak = 0;
	edge_backoff_reset(m->backoff);
	for (int i = 0; i < m->nsubs; i++) {
		int r = mosquitto_subscribe_v5(mosq, NULL, m->subs[i].filter, m->subs[i].qos,
					       EDGED_SUB_OPTIONS, NULL);
		if (r != MOSQ_ERR_SUCCESS)
			edge_log(EDGE_LOG_ERR, "mqtt", "subscribe %s: %s", m->subs[i].filter,
				 mosquitto_strerror(r));
	}
	edge_log(EDGE_LOG_NOTICE, "mqtt", "connected to broker %s%s", m->where,
		 m->stats.session_present ? " (session resumed)" : "");
	mqtt_set_state(m, EDGED_MQTT_CONNECTED);
	mqtt_flush_outbox(m);
}

static void mqtt_on_stop_timer(uv_timer_t *t)
{
	struct edged_mqtt *m = t->data;
	void (*done)(void *ud) = m->stop_done;

	if (m->state == EDGED_MQTT_STOPPING) {
		edge_log(EDGE_LOG_WARNING, "mqtt", "broker did not take DISCONNECT in time");
		mqtt_poll_close(m);
		mqtt_set_state(m, EDGED_MQTT_STOPPED);
	}
	m->stop_done = NULL;
	if (done)
		done(m->stop_ud);
}

static void mqtt_finish_stop(struct edged_mqtt *m)
{
	mqtt_poll_close(m);
	uv_timer_stop(&m->retry_timer);
	mqtt_set_state(m, EDGED_MQTT_STOPPED);
	/* Report from a fresh loop turn, never from inside a libmosquitto
	 * callback: the owner may free the client in done(). */
	uv_timer_start(&m->stop_timer, mqtt_on_stop_timer, 0, 0);
}

static void mqtt_on_disconnect(struct mosquitto *mosq, void *ud, int rc,
			       const mosquitto_property *props)
{
	struct edged_mqtt *m = ud;
	enum edged_mqtt_state was = m->state;

	/* The library has closed its socket already; the fd number may come
	 * back with the next connect. */
	mqtt_poll_close(m);
	if (m->freeing)
		return;
	if (was == EDGED_MQTT_STOPPING || was == EDGED_MQTT_STOPPED) {
		mqtt_finish_stop(m);
		return;
	}
	if (was == EDGED_MQTT_CONNECTED) {
		mqtt_set_error(m, "connection lost", mosquitto_strerror(rc));
		edge_log(EDGE_LOG_WARNING, "mqtt", "lost broker %s: %s", m->where,
			 mosquitto_strerror(rc));
	} else if (was == EDGED_MQTT_CONNECTING) {
		m->stats.connect_failures++;
		if (!m->connack_refused)
			mqtt_set_error(m, "connect", rc == MOSQ_ERR_ERRNO ? strerror(errno)
								   : mosquitto_strerror(rc));
		m->connack_refused = false;
		mqtt_log_failure(m);
	}
	mqtt_schedule_retry(m);
}

static void mqtt_on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
			    const mosquitto_property *props)
{
	struct edged_mqtt *m = ud;

	m->stats.messages_in++;
	if (m->cb.on_message && msg->topic) {
		struct edged_mqtt_message in = {
			.topic = msg->topic,
			.payload = msg->payload,
			.len = (size_t)msg->payloadlen,
			.qos = msg->qos,
			.retained = msg->retain,
		};
		char *response_topic = NULL;
		void *corr = NULL;
		uint16_t corr_len = 0;

		/* The request/response properties (offload): read, never
		 * kept beyond the callback. */
		if (mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &response_topic,
						   false))
			in.response_topic = response_topic;
		if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr,
						   &corr_len, false)) {
			in.correlation = corr;
			in.correlation_len = corr_len;
			in.has_correlation = true;
		}
		m->cb.on_message(m->cb.ud, &in);
		free(response_topic);
		free(corr);
	}
}

static void mqtt_handle_closed(uv_handle_t *h)
{
	struct edged_mqtt *m = h->data;

	if (--m->open_handles > 0)
		return;
	mosquitto_property_free_all(&m->connect_props);
	mosquitto_property_free_all(&m->pub_props);
	edge_outbox_free(m->outbox);
	edge_backoff_free(m->backoff);
	for (int i = 0; i < m->nsubs; i++)
		free(m->subs[i].filter);
	free(m);
}

/* CONNECT properties: Maximum Packet Size always, Session Expiry Interval
 * when the session is kept. */
static int mqtt_make_connect_props(struct edged_mqtt *m, const struct edge_settings *s)
{
	if (mosquitto_property_add_int32(&m->connect_props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
					 (uint32_t)s->mqtt.max_packet_bytes) != MOSQ_ERR_SUCCESS)
		return -ENOMEM;
	if (m->session_expiry_s > 0 &&
	    mosquitto_property_add_int32(&m->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
					 m->session_expiry_s) != MOSQ_ERR_SUCCESS)
		return -ENOMEM;
	if (mosquitto_property_add_byte(&m->pub_props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1) !=
	    MOSQ_ERR_SUCCESS)
		return -ENOMEM;
	return 0;
}

/* libmosquitto 2.0 keeps CONNECT properties only from
 * mosquitto_connect_bind_v5, which connects blocking. It copies them before
 * it checks its arguments, so an invalid port stores them and connects
 * nothing; every later mosquitto_connect_bind_async sends them. (The module
 * tests read the CONNECT bytes, so a library that stops doing this fails
 * them.) */
static int mqtt_install_connect_props(struct edged_mqtt *m)
{
	int rc = mosquitto_connect_bind_v5(m->mosq, "", -1, 0, NULL, m->connect_props);

	if (rc != MOSQ_ERR_INVAL) {
		edge_log(EDGE_LOG_ERR, "mqtt", "CONNECT properties not accepted: %s",
			 mosquitto_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static bool mqtt_host_is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int mqtt_configure(struct edged_mqtt *m, const struct edge_settings *s)
{
	int rc;

	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	/* Over TCP, an ack or a reply would otherwise wait behind Nagle for the
	 * broker's delayed ACK of the previous packet (about 40 ms: measured
	 * by scripts/bench-anomaly.sh as the ack latency's median). A Unix
	 * socket has no Nagle. */
	if (!m->unix_socket)
		mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(m->mosq, mqtt_on_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, mqtt_on_disconnect);
	mosquitto_message_v5_callback_set(m->mosq, mqtt_on_message);
	rc = mqtt_make_connect_props(m, s);
	if (rc < 0)
		return rc;
	rc = mqtt_install_connect_props(m);
	/* The library keeps its own copy. */
	mosquitto_property_free_all(&m->connect_props);
	if (rc < 0)
		return rc;
	if (s->mqtt.username[0]) {
		/* At most one of them is set (the config refuses both). */
		const char *pw = s->mqtt.password[0] ? s->mqtt.password
						     : s->mqtt.password_from_file;
		rc = mosquitto_username_pw_set(m->mosq, s->mqtt.username,
					       pw[0] ? pw : NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			edge_log(EDGE_LOG_ERR, "mqtt", "credentials: %s", mosquitto_strerror(rc));
			return -EINVAL;
		}
	}
	if (s->mqtt.tls_ca_file[0]) {
		rc = mosquitto_tls_set(m->mosq, s->mqtt.tls_ca_file, NULL,
				       s->mqtt.tls_cert_file[0] ? s->mqtt.tls_cert_file : NULL,
				       s->mqtt.tls_key_file[0] ? s->mqtt.tls_key_file : NULL, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			edge_log(EDGE_LOG_ERR, "mqtt", "TLS setup (%s): %s", s->mqtt.tls_ca_file,
				 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
			return -EINVAL;
		}
		m->tls = true;
	}
	return 0;
}

int edged_mqtt_new(uv_loop_t *loop, const struct edge_settings *s,
		   const struct edged_mqtt_callbacks *cb, struct edged_mqtt **out)
{
	struct edged_mqtt *m = calloc(1, sizeof *m);
	const char *id = s->mqtt.client_id[0] ? s->mqtt.client_id : NULL;
	bool clean;
	int r;

	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->fd = -1;
	if (cb)
		m->cb = *cb;
	snprintf(m->host, sizeof m->host, "%s", s->mqtt.host);
	m->unix_socket = m->host[0] == '/';
	m->host_numeric = !m->unix_socket && mqtt_host_is_numeric(m->host);
	m->port = m->unix_socket ? 0 : s->mqtt.port;
	if (m->unix_socket)
		snprintf(m->where, sizeof m->where, "%s", m->host);
	else
		snprintf(m->where, sizeof m->where, "%s:%d", m->host, m->port);
	m->keepalive_s = s->mqtt.keepalive_s;
	/* A session the broker keeps needs a client id to find it by. */
	m->session_expiry_s = id ? (uint32_t)s->mqtt.session_expiry_s : 0;
	m->stats.max_packet_bytes = (uint32_t)s->mqtt.max_packet_bytes;
	m->stats.session_expiry_s = m->session_expiry_s;
	clean = m->session_expiry_s == 0;
	m->backoff = edge_backoff_new((uint32_t)s->mqtt.reconnect_min_ms,
				      (uint32_t)s->mqtt.reconnect_max_ms);
	m->outbox = edge_outbox_new((size_t)s->mqtt.outbox_max_messages);
	m->mosq = mosquitto_new(id, clean, m);
	if (!m->backoff || !m->outbox || !m->mosq) {
		r = -ENOMEM;
		goto fail;
	}
	r = mqtt_configure(m, s);
	if (r < 0)
		goto fail;

	/* The four fixed handles cannot fail to init on a live loop. */
	uv_timer_init(loop, &m->misc_timer);
	uv_timer_init(loop, &m->retry_timer);
	uv_timer_init(loop, &m->stop_timer);
	uv_prepare_init(loop, &m->prepare);
	m->misc_timer.data = m->retry_timer.data = m->stop_timer.data = m->prepare.data = m;
	m->open_handles = 4;
	m->state = EDGED_MQTT_DISCONNECTED;
	*out = m;
	return 0;
fail:
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	mosquitto_property_free_all(&m->connect_props);
	mosquitto_property_free_all(&m->pub_props);
	edge_outbox_free(m->outbox);
	edge_backoff_free(m->backoff);
	free(m);
	return r;
}

int edged_mqtt_subscribe(struct edged_mqtt *m, const char *filter, int qos)
{
	char *copy;

	if (m->nsubs == MQTT_MAX_SUBS)
		return -E2BIG;
	copy = strdup(filter);
	if (!copy)
		return -ENOMEM;
	m->subs[m->nsubs].filter = copy;
	m->subs[m->nsubs].qos = qos;
	m->nsubs++;
	if (m->state == EDGED_MQTT_CONNECTED) {
		int rc = mosquitto_subscribe_v5(m->mosq, NULL, copy, qos, EDGED_SUB_OPTIONS, NULL);
		mqtt_after_call(m, rc, "subscribe");
	}
	return 0;
}

int edged_mqtt_start(struct edged_mqtt *m)
{
	if (m->freeing || m->state == EDGED_MQTT_STOPPING || m->state == EDGED_MQTT_STOPPED)
		return EDGE_ECLOSED;
	if (m->started)
		return 0;
	m->started = true;
	uv_timer_start(&m->misc_timer, mqtt_on_misc, 1000, 1000);
	uv_prepare_start(&m->prepare, mqtt_on_prepare);
	edge_log(EDGE_LOG_INFO, "mqtt", "connecting to broker %s%s", m->where,
		 m->tls ? " (TLS)" : "");
	mqtt_attempt(m);
	return 0;
}

int edged_mqtt_publish(struct edged_mqtt *m, const char *topic, const void *payload, size_t len,
		       int qos, bool retain)
{
	int rc;

	if (m->freeing || m->state == EDGED_MQTT_STOPPING || m->state == EDGED_MQTT_STOPPED)
		return EDGE_ECLOSED;
	if (len > INT32_MAX)
		return -EMSGSIZE;
	/* Connected with nothing waiting: straight to the library; otherwise
	 * behind what waits, to keep the order. */
	if (m->state == EDGED_MQTT_CONNECTED && edge_outbox_depth(m->outbox) == 0) {
		rc = mosquitto_publish_v5(m->mosq, NULL, topic, (int)len, payload, qos, retain,
					  m->pub_props);
		mqtt_after_call(m, rc, "publish");
		if (rc == MOSQ_ERR_NOMEM)
			return -ENOMEM;
		rc = mqtt_publish_outcome(rc);
		if (rc == 0)
			m->stats.messages_out++;
		if (rc <= 0)
			return rc;
		/* connection going away: keep it for later */
	}
	return edge_outbox_push(m->outbox, topic, payload, len, qos, retain);
}

int edged_mqtt_publish_frame(struct edged_mqtt *m, const char *topic, const void *payload,
			     size_t len, int qos)
{
	return edged_mqtt_publish_reply(m, topic, payload, len, qos, NULL, 0);
}

int edged_mqtt_publish_reply(struct edged_mqtt *m, const char *topic, const void *payload,
			     size_t len, int qos, const void *correlation, size_t correlation_len)
{
	mosquitto_property *props = NULL;
	int rc;

	if (m->freeing || m->state == EDGED_MQTT_STOPPING || m->state == EDGED_MQTT_STOPPED)
		return EDGE_ECLOSED;
	if (len > INT32_MAX || correlation_len > UINT16_MAX)
		return -EMSGSIZE;
	/* Never into the outbox: a frame is worth nothing later, and it
	 * must not push out the replies that wait there. */
	if (m->state != EDGED_MQTT_CONNECTED || edge_outbox_depth(m->outbox) > 0)
		return -EAGAIN;
	if (!mosquitto_want_write(m->mosq))
		m->frame_backlog = 0;
	if (m->frame_backlog + len > MQTT_FRAME_BACKLOG_MAX) {
		m->stats.frames_refused++;
		return -EAGAIN;
	}
	if (correlation_len > 0 &&
	    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation,
					  (uint16_t)correlation_len) != MOSQ_ERR_SUCCESS)
		return -ENOMEM;
	rc = mosquitto_publish_v5(m->mosq, NULL, topic, (int)len, payload, qos, false, props);
	mosquitto_property_free_all(&props);
	mqtt_after_call(m, rc, "publish");
	if (rc == MOSQ_ERR_NOMEM)
		return -ENOMEM;
	rc = mqtt_publish_outcome(rc);
	if (rc == 1)
		return -EAGAIN; /* connection going away */
	if (rc == 0) {
		m->stats.messages_out++;
		m->frame_backlog += len;
	}
	return rc;
}

void edged_mqtt_apply_settings(struct edged_mqtt *m, const struct edge_settings *s)
{
	if (edge_backoff_set_bounds(m->backoff, (uint32_t)s->mqtt.reconnect_min_ms,
				    (uint32_t)s->mqtt.reconnect_max_ms) < 0)
		edge_log(EDGE_LOG_WARNING, "mqtt", "reconnect bounds not applied");
	if (edge_outbox_set_capacity(m->outbox, (size_t)s->mqtt.outbox_max_messages) < 0)
		edge_log(EDGE_LOG_WARNING, "mqtt", "outbox size not applied");
}

void edged_mqtt_stop(struct edged_mqtt *m, void (*done)(void *ud), void *ud)
{
	int rc;

	m->stop_done = done;
	m->stop_ud = ud;
	uv_timer_stop(&m->retry_timer);
	if (m->state != EDGED_MQTT_CONNECTED) {
		mqtt_finish_stop(m);
		return;
	}
	mqtt_set_state(m, EDGED_MQTT_STOPPING);
	rc = mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	mqtt_after_call(m, rc, "disconnect");
	if (m->state == EDGED_MQTT_STOPPING) {
		if (rc != MOSQ_ERR_SUCCESS)
			mqtt_finish_stop(m);
		else
			uv_timer_start(&m->stop_timer, mqtt_on_stop_timer, MQTT_STOP_TIMEOUT_MS, 0);
	}
}

void edged_mqtt_free(struct edged_mqtt *m)
{
	if (!m)
		return;
	m->freeing = true;
	/* A lookup cannot be taken back once it runs: orphan it (its callback
	 * frees it). */
	if (m->resolve) {
		m->resolve->data = NULL;
		uv_cancel((uv_req_t *)m->resolve);
		m->resolve = NULL;
	}
	mqtt_poll_close(m);
	/* Closes the socket without calling back (freeing is set anyway). */
	mosquitto_destroy(m->mosq);
	m->mosq = NULL;
	uv_close((uv_handle_t *)&m->misc_timer, mqtt_handle_closed);
	uv_close((uv_handle_t *)&m->retry_timer, mqtt_handle_closed);
	uv_close((uv_handle_t *)&m->stop_timer, mqtt_handle_closed);
	uv_close((uv_handle_t *)&m->prepare, mqtt_handle_closed);
}

void edged_mqtt_get_stats(const struct edged_mqtt *m, struct edged_mqtt_stats *out)
{
	*out = m->stats;
	out->state = m->state;
	snprintf(out->host, sizeof out->host, "%s", m->host);
	out->port = m->port;
	out->tls = m->tls;
	out->outbox_depth = edge_outbox_depth(m->outbox);
	out->outbox_capacity = edge_outbox_capacity(m->outbox);
	out->outbox_dropped = edge_outbox_dropped(m->outbox);
	snprintf(out->address, sizeof out->address, "%s", m->address);
}

enum edged_mqtt_state edged_mqtt_state(const struct edged_mqtt *m)
{
	return m->state;
}
