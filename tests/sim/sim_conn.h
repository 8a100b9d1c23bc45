/* One MQTT v5 client driven by a libuv loop, for the simulator and the
 * benchmarks: a uv_poll on the client's socket plus a shared keepalive tick,
 * never libmosquitto's own loop or a thread.
 *
 * A connection object outlives its sockets: connect, lose or drop the socket,
 * connect again. Handlers run on the loop thread, inside libmosquitto's
 * callbacks; they may publish and subscribe but must not connect or free the
 * connection (schedule that with a timer instead). */
#ifndef SIM_CONN_H
#define SIM_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>
#include <uv.h>

struct sim_conn;

/* Descriptors one connected client holds: its socket only (libmosquitto's
 * wake-up socket pair is refused, see sim_socketpair.h). */
#define SIM_CONN_FDS 1

struct sim_conn_handlers {
	/* CONNACK arrived; reason 0 = accepted, else the MQTT v5 reason code. */
	void (*connected)(struct sim_conn *c, int reason);
	/* The socket is gone. rc 0 = after our own disconnect, otherwise a
	 * libmosquitto error (MOSQ_ERR_CONN_LOST, ...). Not called by
	 * sim_conn_abort() or sim_conn_free(). */
	void (*disconnected)(struct sim_conn *c, int rc);
	void (*message)(struct sim_conn *c, const struct mosquitto_message *msg,
			const mosquitto_property *props);
};

/* Call once per process before any sim_conn_new(); sim_conn_lib_cleanup() at exit. */
void sim_conn_lib_init(void);
void sim_conn_lib_cleanup(void);

/* client_id and handlers are copied / borrowed for the connection's lifetime
 * respectively. Returns NULL on allocation failure. */
struct sim_conn *sim_conn_new(uv_loop_t *loop, const char *client_id,
			      const struct sim_conn_handlers *handlers,
			      void *userdata);
/* Drops the socket without DISCONNECT (the broker fires the will). NULL-safe. */
void sim_conn_free(struct sim_conn *c);

void *sim_conn_userdata(const struct sim_conn *c);

/* Last will for the next connects; payload copied. 0 or -ENOMEM/-EINVAL. */
int sim_conn_set_will(struct sim_conn *c, const char *topic,
		      const void *payload, size_t len, int qos, bool retain);

/* Username and password for the next connects (copied; pass may be NULL).
 * 0 or -ENOMEM. */
int sim_conn_set_auth(struct sim_conn *c, const char *user, const char *pass);

/* TLS for the next connects: the broker's certificate is checked against
 * cafile (and its name or address against the host connected to); certfile
 * and keyfile (both or neither) are the client's certificate for mutual TLS.
 * Paths are copied; the files are read at each connect. 0 or -ENOMEM. */
int sim_conn_set_tls(struct sim_conn *c, const char *cafile, const char *certfile,
		     const char *keyfile);

/* TCP_NODELAY for the next connects: a publish goes out at once instead of
 * waiting (Nagle) for the TCP ack of the previous small packet, which the
 * peer may delay ~40 ms. For latency measurements. */
void sim_conn_set_nodelay(struct sim_conn *c, bool on);

/* Socket wake-ups of every connection in the process (a handshake that
 * spins shows here). */
unsigned long sim_conn_poll_wakeups(void);

/* Start a non-blocking connect; completion is reported by handlers.connected
 * (or handlers.disconnected on failure). 0, -EALREADY if a socket is open,
 * -ECONNREFUSED/-EIO when the connect fails at once. */
int sim_conn_connect(struct sim_conn *c, const char *host, int port,
		     int keepalive_s);

/* True between an accepted CONNACK and the loss of that socket. */
bool sim_conn_is_connected(const struct sim_conn *c);
/* True while a socket is open (connecting or connected). */
bool sim_conn_has_socket(const struct sim_conn *c);

/* Publish / subscribe on the open socket. props borrowed (may be NULL).
 * 0, -ENOTCONN, -E2BIG (payload over the negotiated limit) or -EIO. */
int sim_conn_publish(struct sim_conn *c, const char *topic,
		     const void *payload, size_t len, int qos, bool retain,
		     const mosquitto_property *props);
int sim_conn_subscribe(struct sim_conn *c, const char *topic, int qos);
int sim_conn_unsubscribe(struct sim_conn *c, const char *topic);

/* Graceful: send DISCONNECT (normal, no will) and close; handlers.disconnected(c, 0) follows. */
void sim_conn_disconnect(struct sim_conn *c);
/* Abrupt: close the socket now, without DISCONNECT, as a crashed node would.
 * No handler is called. */
void sim_conn_abort(struct sim_conn *c);

/* Keepalive housekeeping; call about once a second for every connection. */
void sim_conn_tick(struct sim_conn *c);

#endif
