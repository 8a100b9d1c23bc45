/* The MQTT v5 client of edged: libmosquitto driven by the libuv loop.
 *
 * No libmosquitto thread and no blocking call: a uv_poll_t watches
 * mosquitto_socket(), a 1 s timer runs mosquitto_loop_misc (keepalive), and a
 * uv_prepare_t asks for writability only while mosquitto_want_write(). The
 * library may close and reopen its socket inside any call (fd reuse), so the
 * fd is compared after every call. While a TLS handshake is pending,
 * writability is only asked for until the TCP connect is done (the library
 * may want to write but refuses to until the handshake ends: polling for it
 * would spin). Reconnects use full-jitter exponential backoff; subscriptions
 * are renewed on every connect; publishes made while disconnected wait in a
 * bounded outbox (edge_outbox).
 *
 * The session: CONNECT declares Maximum Packet Size = mqtt.max_packet_bytes
 * (the broker discards larger packets for edged) and, with a client id and
 * mqtt.session_expiry_s > 0, Clean Start 0 with that Session Expiry
 * Interval, so the broker queues QoS 1 messages for edged while it restarts
 * or reconnects. A host name is resolved off the loop (uv_getaddrinfo); a
 * host beginning with '/' is the broker's Unix socket (port 0, no lookup).
 * Every publish carries Payload Format Indicator 1: payloads are UTF-8. */
#ifndef EDGED_MQTT_H
#define EDGED_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "edge_config.h"
#include "edge_error.h"

/* An IPv6 address in text, or a Unix socket path (sun_path holds 108). */
#define EDGED_MQTT_ADDRESS_MAX 108

struct edged_mqtt;
struct mosquitto_message;

enum edged_mqtt_state {
	EDGED_MQTT_DISCONNECTED,  /* waiting for the next attempt */
	EDGED_MQTT_CONNECTING,    /* TCP/TLS/CONNECT in progress */
	EDGED_MQTT_CONNECTED,
	EDGED_MQTT_STOPPING,      /* DISCONNECT sent, waiting for the close */
	EDGED_MQTT_STOPPED,
};
const char *edged_mqtt_state_name(enum edged_mqtt_state s);

/* One received message; every pointer is borrowed for the callback only.
 * payload is NOT NUL-terminated. */
struct edged_mqtt_message {
	const char *topic;
	const void *payload;
	size_t len;
	int qos;
	/* The broker sent it because edged (re)subscribed: a stored retained
	 * message, not one a client published just now (MQTT v5 with
	 * Retain As Published off sets the flag only on such replays). */
	bool retained;
	/* MQTT v5 request/response properties (offload), NULL/0 when absent;
	 * valid during the callback only. */
	const char *response_topic;
	const void *correlation;
	size_t correlation_len;
	bool has_correlation;
};

struct edged_mqtt_callbacks {
	/* A message arrived. */
	void (*on_message)(void *ud, const struct edged_mqtt_message *msg);
	/* The connection state changed (also to CONNECTED after subscribing). */
	void (*on_state)(void *ud, enum edged_mqtt_state state);
	void *ud;
};

struct edged_mqtt_stats {
	enum edged_mqtt_state state;
	char host[EDGE_CONFIG_NAME_MAX]; /* mqtt.host: name, address or socket path */
	int port;                  /* 0 with a Unix socket */
	bool tls;
	uint64_t connects;         /* successful CONNACKs */
	uint64_t reconnects;       /* connects after the first */
	uint64_t connect_failures; /* attempts that did not reach CONNACK success */
	uint64_t messages_in;
	uint64_t messages_out;     /* handed to libmosquitto */
	uint64_t outbox_depth;
	uint64_t outbox_capacity;
	uint64_t outbox_dropped;
	uint64_t frames_refused;   /* OTA frames refused for back-pressure */
	uint32_t next_retry_ms;    /* delay chosen for the pending attempt */
	/* Times the broker socket's watcher woke the loop: bounded while
	 * idle or waiting for a handshake; it grows without bound only if
	 * the adapter spins. */
	uint64_t poll_wakeups;
	char address[EDGED_MQTT_ADDRESS_MAX]; /* address (or socket path) the last
					       * attempt connected to */
	bool session_present;      /* the last CONNACK resumed edged's session */
	uint32_t max_packet_bytes; /* Maximum Packet Size declared on CONNECT */
	uint32_t session_expiry_s; /* Session Expiry Interval; 0 = clean start */
	char last_error[128];
};

/* settings are copied. cb is copied; cb->ud borrowed. loop borrowed.
 * mosquitto_lib_init() must have run. Errors: -ENOMEM, -EINVAL (bad TLS
 * files, credentials). Starts nothing; see edged_mqtt_start. */
EDGE_WUR int edged_mqtt_new(uv_loop_t *loop, const struct edge_settings *settings,
			    const struct edged_mqtt_callbacks *cb, struct edged_mqtt **out);

/* Remember a subscription (renewed on every connect; sent now if connected).
 * filter is copied. -ENOMEM, -E2BIG (too many). */
EDGE_WUR int edged_mqtt_subscribe(struct edged_mqtt *m, const char *filter, int qos);

/* Starts the first connection attempt (non-blocking). A failed attempt is
 * retried with backoff, so this only fails on a closed client. */
EDGE_WUR int edged_mqtt_start(struct edged_mqtt *m);

/* Publish (copies topic and payload). Connected with an empty outbox: handed
 * to libmosquitto; otherwise queued in the outbox behind what waits there
 * (sent on the next connect, or retried each second while connected; a
 * queued message the library can never send is dropped and logged).
 * The payload must be UTF-8 text: it goes out with Payload Format
 * Indicator 1. Returns 0, -ENOMEM, -EMSGSIZE, -EINVAL, EDGE_ECLOSED (stopping). */
EDGE_WUR int edged_mqtt_publish(struct edged_mqtt *m, const char *topic, const void *payload,
				size_t len, int qos, bool retain);

/* Publish a binary OTA frame (copies topic and payload): no Payload Format
 * Indicator, never retained, never queued in the outbox. Refused with
 * -EAGAIN while not connected, while the outbox holds messages, or while
 * the library still holds too many frame bytes it could not write yet
 * (back-pressure; stats.frames_refused): the caller treats the frame as
 * lost. 0, -EAGAIN, -ENOMEM, -EMSGSIZE, -EINVAL, EDGE_ECLOSED. */
EDGE_WUR int edged_mqtt_publish_frame(struct edged_mqtt *m, const char *topic,
				      const void *payload, size_t len, int qos);

/* As edged_mqtt_publish_frame, for the answer to a request (offload): with
 * MQTT v5 Correlation Data when correlation_len > 0 (copied). The same
 * refusals, and -EMSGSIZE for correlation data over 65535 bytes. */
EDGE_WUR int edged_mqtt_publish_reply(struct edged_mqtt *m, const char *topic,
				      const void *payload, size_t len, int qos,
				      const void *correlation, size_t correlation_len);

/* Apply reloadable settings (reconnect bounds, outbox size). */
void edged_mqtt_apply_settings(struct edged_mqtt *m, const struct edge_settings *settings);

/* Graceful stop: send DISCONNECT, wait for it to leave (bounded by 2 s), then
 * call done(ud) once. No more reconnects. done may be NULL. */
void edged_mqtt_stop(struct edged_mqtt *m, void (*done)(void *ud), void *ud);

/* Closes every handle and destroys the client; memory goes once the loop ran
 * the close callbacks. NULL-safe. */
void edged_mqtt_free(struct edged_mqtt *m);

void edged_mqtt_get_stats(const struct edged_mqtt *m, struct edged_mqtt_stats *out);
enum edged_mqtt_state edged_mqtt_state(const struct edged_mqtt *m);

#endif
