/* libmosquitto client driven by libuv: see sim_conn.h.
 *
 * TLS traps (the same as in daemon/edged/mqtt.c, defused the same way):
 * - During the handshake libmosquitto 2.0 wants to write (the CONNECT is
 *   queued) but writes nothing until the handshake is done, and only its
 *   read path drives the handshake: polling for writability then spins.
 *   sync_poll asks for it once, to learn that the TCP connect completed
 *   (tls_tcp_up); after that the handshake moves on readable events, and
 *   on_poll writes right after each read so CONNECT leaves when it is done.
 *   sim_conn_tick nudges a handshake once a second in case a record was
 *   left unwritten. poll_wakeups makes a spin observable.
 * - A peer that hangs up during the handshake is not noticed by the
 *   library: UV_DISCONNECT ends the attempt (handshake_gone). */
#include "sim_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_socketpair.h"

/* The poll handle lives in its own allocation so that it can finish closing
 * after the socket (and even the connection) is gone. */
struct sim_poll {
	uv_poll_t handle;
	struct sim_conn *conn; /* NULL once detached */
};

struct sim_conn {
	uv_loop_t *loop;
	struct mosquitto *mosq;
	struct sim_poll *poll;
	int fd;
	bool connected;
	char *client_id;
	const struct sim_conn_handlers *handlers;
	void *userdata;
	char *will_topic;
	void *will_payload;
	size_t will_len;
	int will_qos;
	bool will_retain;
	char *user, *pass;
	char *cafile, *certfile, *keyfile; /* cafile != NULL: TLS */
	bool tls_tcp_up; /* TLS handshake under way, its TCP connect done */
	bool nodelay;    /* TCP_NODELAY on its sockets */
};

static unsigned long poll_wakeups;

unsigned long sim_conn_poll_wakeups(void)
{
	return poll_wakeups;
}

/* Connecting over TLS: from the connect until CONNACK. */
static bool tls_pending(const struct sim_conn *c)
{
	return c->cafile && c->poll && !c->connected;
}

void sim_conn_lib_init(void)
{
	mosquitto_lib_init();
}

void sim_conn_lib_cleanup(void)
{
	mosquitto_lib_cleanup();
}

static int errno_from_mosq(int rc)
{
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_NOMEM:
		return -ENOMEM;
	case MOSQ_ERR_INVAL:
	case MOSQ_ERR_MALFORMED_UTF8:
		return -EINVAL;
	case MOSQ_ERR_NO_CONN:
	case MOSQ_ERR_CONN_LOST:
		return -ENOTCONN;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return -E2BIG;
	case MOSQ_ERR_CONN_REFUSED:
		return -ECONNREFUSED;
	case MOSQ_ERR_ERRNO:
		return errno ? -errno : -EIO;
	default:
		return -EIO;
	}
}

static void poll_closed(uv_handle_t *h)
{
	free(h->data);
}

static void detach_poll(struct sim_conn *c)
{
	if (!c->poll)
		return;
	c->poll->conn = NULL;
	uv_poll_stop(&c->poll->handle);
	uv_close((uv_handle_t *)&c->poll->handle, poll_closed);
	c->poll = NULL;
	c->fd = -1;
	c->connected = false;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* After every call into libmosquitto: follow a closed socket, and ask for
 * writability exactly when output is queued (publishes made inside a
 * callback are only queued). */
static void sync_poll(struct sim_conn *c)
{
	if (!c->poll)
		return;
	if (mosquitto_socket(c->mosq) != c->fd) {
		detach_poll(c);
		return;
	}
	int ev = UV_READABLE;
	if (tls_pending(c)) {
		ev |= UV_DISCONNECT;
		if (!c->tls_tcp_up)
			ev |= UV_WRITABLE;
	} else if (mosquitto_want_write(c->mosq)) {
		ev |= UV_WRITABLE;
	}
	uv_poll_start(&c->poll->handle, ev, on_poll);
}

/* The broker hung up during the TLS handshake and the library did not see
 * it: the attempt has failed. */
static void handshake_gone(struct sim_conn *c)
{
	detach_poll(c);
	mosquitto_destroy(c->mosq);
	c->mosq = NULL;
	if (c->handlers->disconnected)
		c->handlers->disconnected(c, MOSQ_ERR_CONN_LOST);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sim_poll *p = h->data;
	struct sim_conn *c = p->conn;
	if (!c)
		return;
	poll_wakeups++;
	bool handshake = tls_pending(c);
	if (handshake) {
		/* The read path sends and receives the handshake's records; a
		 * write right after sends CONNECT once it is done. */
		if (events & UV_WRITABLE)
			c->tls_tcp_up = true;
		events |= UV_READABLE | UV_WRITABLE;
	}
	/* On a socket error let libmosquitto find it through a read. */
	if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT)))
		mosquitto_loop_read(c->mosq, 1);
	if (c->poll == p && (events & UV_WRITABLE))
		mosquitto_loop_write(c->mosq, 1);
	if (c->poll == p && handshake && (events & UV_DISCONNECT) && tls_pending(c)) {
		handshake_gone(c);
		return;
	}
	if (c->poll == p)
		sync_poll(c);
}

static void cb_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct sim_conn *c = obj;
	c->connected = rc == 0;
	if (c->handlers->connected)
		c->handlers->connected(c, rc);
}

static void cb_disconnect(struct mosquitto *m, void *obj, int rc,
			  const mosquitto_property *props)
{
	struct sim_conn *c = obj;
	/* Stop polling now: the fd is (about to be) closed and its number may be
	 * reused by the next connect. */
	detach_poll(c);
	if (c->handlers->disconnected)
		c->handlers->disconnected(c, rc);
}

static void cb_message(struct mosquitto *m, void *obj,
		       const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct sim_conn *c = obj;
	if (c->handlers->message)
		c->handlers->message(c, msg, props);
}

struct sim_conn *sim_conn_new(uv_loop_t *loop, const char *client_id,
			      const struct sim_conn_handlers *handlers,
			      void *userdata)
{
	struct sim_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->fd = -1;
	c->handlers = handlers;
	c->userdata = userdata;
	c->client_id = strdup(client_id);
	if (!c->client_id) {
		free(c);
		return NULL;
	}
	return c;
}

static void drop_mosq(struct sim_conn *c)
{
	detach_poll(c);
	if (c->mosq) {
		/* Closes the socket without DISCONNECT. */
		mosquitto_destroy(c->mosq);
		c->mosq = NULL;
	}
}

void sim_conn_free(struct sim_conn *c)
{
	if (!c)
		return;
	drop_mosq(c);
	free(c->will_topic);
	free(c->will_payload);
	free(c->client_id);
	free(c->user);
	free(c->pass);
	free(c->cafile);
	free(c->certfile);
	free(c->keyfile);
	free(c);
}

/* *dst = copy of src (NULL stays NULL); false on allocation failure. */
static bool copy_str(char **dst, const char *src)
{
	char *d = NULL;

	if (src && !(d = strdup(src)))
		return false;
	free(*dst);
	*dst = d;
	return true;
}

int sim_conn_set_auth(struct sim_conn *c, const char *user, const char *pass)
{
	if (!copy_str(&c->user, user) || !copy_str(&c->pass, pass))
		return -ENOMEM;
	return 0;
}

int sim_conn_set_tls(struct sim_conn *c, const char *cafile, const char *certfile,
		     const char *keyfile)
{
	if (!copy_str(&c->cafile, cafile) || !copy_str(&c->certfile, certfile) ||
	    !copy_str(&c->keyfile, keyfile))
		return -ENOMEM;
	return 0;
}

void sim_conn_set_nodelay(struct sim_conn *c, bool on)
{
	c->nodelay = on;
}

void *sim_conn_userdata(const struct sim_conn *c)
{
	return c->userdata;
}

int sim_conn_set_will(struct sim_conn *c, const char *topic,
		      const void *payload, size_t len, int qos, bool retain)
{
	char *t = strdup(topic);
	void *p = malloc(len ? len : 1);
	if (!t || !p) {
		free(t);
		free(p);
		return -ENOMEM;
	}
	if (len)
		memcpy(p, payload, len);
	free(c->will_topic);
	free(c->will_payload);
	c->will_topic = t;
	c->will_payload = p;
	c->will_len = len;
	c->will_qos = qos;
	c->will_retain = retain;
	return 0;
}

/* A fresh libmosquitto object per connect keeps no state across a crash. */
static int make_mosq(struct sim_conn *c)
{
	drop_mosq(c);
	sim_socketpair_refuse(true);
	c->mosq = mosquitto_new(c->client_id, true, c);
	sim_socketpair_refuse(false);
	if (!c->mosq)
		return -ENOMEM;
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (c->nodelay)
		mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(c->mosq, cb_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, cb_disconnect);
	mosquitto_message_v5_callback_set(c->mosq, cb_message);
	int rc;
	if (c->user) {
		rc = mosquitto_username_pw_set(c->mosq, c->user, c->pass);
		if (rc != MOSQ_ERR_SUCCESS)
			return errno_from_mosq(rc);
	}
	/* The files are opened here and at the connect: a missing one fails
	 * this connect, not the whole run. */
	if (c->cafile) {
		rc = mosquitto_tls_set(c->mosq, c->cafile, NULL, c->certfile, c->keyfile,
				       NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			return errno_from_mosq(rc);
	}
	if (c->will_topic) {
		rc = mosquitto_will_set_v5(c->mosq, c->will_topic,
					       (int)c->will_len, c->will_payload,
					       c->will_qos, c->will_retain, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			return errno_from_mosq(rc);
	}
	return 0;
}

int sim_conn_connect(struct sim_conn *c, const char *host, int port,
		     int keepalive_s)
{
	if (c->poll)
		return -EALREADY;
	int err = make_mosq(c);
	if (err)
		return err;
	sim_socketpair_refuse(true);
	int rc = mosquitto_connect_async(c->mosq, host, port, keepalive_s);
	sim_socketpair_refuse(false);
	if (rc != MOSQ_ERR_SUCCESS)
		return errno_from_mosq(rc);
	int fd = mosquitto_socket(c->mosq);
	if (fd < 0)
		return -EIO;
	struct sim_poll *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (uv_poll_init_socket(c->loop, &p->handle, fd) != 0) {
		free(p);
		return -EIO;
	}
	p->handle.data = p;
	p->conn = c;
	c->poll = p;
	c->fd = fd;
	c->connected = false;
	c->tls_tcp_up = false;
	/* The CONNECT packet (or the TLS handshake) waits for the non-blocking
	 * connect to finish. */
	uv_poll_start(&p->handle, UV_READABLE | UV_WRITABLE |
		      (c->cafile ? UV_DISCONNECT : 0), on_poll);
	return 0;
}

bool sim_conn_is_connected(const struct sim_conn *c)
{
	return c->poll && c->connected;
}

bool sim_conn_has_socket(const struct sim_conn *c)
{
	return c->poll != NULL;
}

int sim_conn_publish(struct sim_conn *c, const char *topic,
		     const void *payload, size_t len, int qos, bool retain,
		     const mosquitto_property *props)
{
	if (!c->poll)
		return -ENOTCONN;
	if (len > INT32_MAX)
		return -E2BIG;
	int rc = mosquitto_publish_v5(c->mosq, NULL, topic, (int)len, payload,
				      qos, retain, props);
	sync_poll(c);
	return errno_from_mosq(rc);
}

int sim_conn_subscribe(struct sim_conn *c, const char *topic, int qos)
{
	if (!c->poll)
		return -ENOTCONN;
	int rc = mosquitto_subscribe_v5(c->mosq, NULL, topic, qos, 0, NULL);
	sync_poll(c);
	return errno_from_mosq(rc);
}

int sim_conn_unsubscribe(struct sim_conn *c, const char *topic)
{
	if (!c->poll)
		return -ENOTCONN;
	int rc = mosquitto_unsubscribe_v5(c->mosq, NULL, topic, NULL);
	sync_poll(c);
	return errno_from_mosq(rc);
}

void sim_conn_disconnect(struct sim_conn *c)
{
	if (!c->poll)
		return;
	mosquitto_disconnect_v5(c->mosq, 0, NULL);
	sync_poll(c);
}

void sim_conn_abort(struct sim_conn *c)
{
	drop_mosq(c);
}

void sim_conn_tick(struct sim_conn *c)
{
	if (!c->poll)
		return;
	mosquitto_loop_misc(c->mosq);
	/* A handshake that wanted to write while we only wait for
	 * readability gets another chance each second. */
	if (c->poll && tls_pending(c) && c->tls_tcp_up) {
		mosquitto_loop_read(c->mosq, 1);
		if (c->poll && tls_pending(c))
			mosquitto_loop_write(c->mosq, 1);
	}
	if (c->poll)
		sync_poll(c);
}
