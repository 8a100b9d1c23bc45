/* Suite 'mqtt': edged's MQTT adapter against a scripted broker.
 *
 * The peer is a small TCP server on 127.0.0.1 running in a thread: it
 * accepts, reads whole MQTT packets and answers with exact bytes, the way
 * the Python scripts of mosquitto's own broker tests do, so the failure paths a real broker
 * rarely takes (closing during CONNECT, refusing it, stalling a TLS
 * handshake, dropping the connection mid-publish) are driven on purpose.
 * The adapter runs on the test's libuv loop in the main thread; every wait
 * is bounded. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edge_log.h"
#include "mqtt.h"

#define PKT_MAX 4096
#define PEER_TIMEOUT_MS 10000
#define MAX_HELD 8

/* A throwaway CA (no key kept): the TLS handshake in these tests never gets
 * as far as checking a server certificate. */
static const char test_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBkjCCATegAwIBAgIUICLRCJ/DlpcuukADpPyf47ySroIwCgYIKoZIzj0EAwIw\n"
	"HTEbMBkGA1UEAwwSZWRnZWQtbXF0dC10ZXN0LWNhMCAXDTI2MTIwNjE5NDk1M1oY\n"
	"DzIxMjYxMTEyMTk0OTUzWjAdMRswGQYDVQQDDBJlZGdlZC1tcXR0LXRlc3QtY2Ew\n"
	"WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAThANmsHEKj35+z225abvO63K7Fs8vd\n"
	"yWxlXUnuNcJf/Q90wB+rx/OBGyaJ4GdpXR20G+kdluK58nyyplaG3ek3o1MwUTAd\n"
	"BgNVHQ4EFgQUcrnsgAD8mg71w8sQ9F7Iv0+mxOIwHwYDVR0jBBgwFoAUcrnsgAD8\n"
	"mg71w8sQ9F7Iv0+mxOIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBG\n"
	"AiEAq6CwZcNeGbw/kU/tnjPcqrm3BOZ7OYNa5zUhwl1H1PsCIQCfbYzwNGtvLN+C\n"
	"UGRs5SR9CgmjjR2Qz+xHf+x7mvEOXQ==\n"
	"-----END CERTIFICATE-----\n";

/* One MQTT packet as the peer read it. */
struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;  /* whole packet */
	size_t body; /* offset of the variable header */
};

struct peer;
typedef void (*peer_script)(struct peer *p);

struct peer {
	int lfd;
	int port;
	pthread_t thread;
	peer_script script;
	atomic_int step;   /* advanced by the script; read by the test */
	atomic_int go;     /* advanced by the test; awaited by the script */
	atomic_int failed;
	char why[256];
	/* What the script saw, for the test to check once `step` says so. */
	struct pkt connect[4];
	int nconnect;
	struct pkt subscribe;
	struct pkt publish[4];
	int npublish;
	int held[MAX_HELD];
	int nheld;
};

static struct {
	uv_loop_t loop;
	edge_config *config;
	struct edged_mqtt *mqtt;
	struct peer peer;
	char ca_path[64];
} fx;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the peer (runs in its own thread) */

static void peer_fail(struct peer *p, const char *why)
{
	if (!atomic_load(&p->failed))
		snprintf(p->why, sizeof p->why, "%s (at step %d)", why, atomic_load(&p->step));
	atomic_store(&p->failed, 1);
}

/* Wait for fd to become readable; false on timeout. */
static bool peer_wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) == 1;
}

static int peer_accept(struct peer *p)
{
	int fd;

	if (!peer_wait_readable(p->lfd, PEER_TIMEOUT_MS)) {
		peer_fail(p, "no connection from the adapter");
		return -1;
	}
	fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		peer_fail(p, "accept failed");
	return fd;
}

static bool peer_read_n(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (!peer_wait_readable(fd, PEER_TIMEOUT_MS))
			return false;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* Reads one whole packet; false on EOF, timeout or a packet too big. */
static bool peer_read_packet(int fd, struct pkt *out)
{
	size_t rem = 0, shift = 0, i = 1;
	uint8_t byte;

	if (!peer_read_n(fd, out->b, 1))
		return false;
	do {
		if (i > 4 || !peer_read_n(fd, &byte, 1))
			return false;
		out->b[i++] = byte;
		rem |= (size_t)(byte & 0x7f) << shift;
		shift += 7;
	} while (byte & 0x80);
	if (i + rem > sizeof out->b)
		return false;
	out->body = i;
	out->len = i + rem;
	return peer_read_n(fd, out->b + i, rem);
}

static void peer_send(struct peer *p, int fd, const void *bytes, size_t n)
{
	if (write(fd, bytes, n) != (ssize_t)n)
		peer_fail(p, "write to the adapter failed");
}

/* Reads the next packet, which must be of type `type` (high nibble). */
static bool peer_expect(struct peer *p, int fd, uint8_t type, struct pkt *out, const char *what)
{
	struct pkt tmp;

	if (!out)
		out = &tmp;
	if (!peer_read_packet(fd, out)) {
		peer_fail(p, what);
		return false;
	}
	if ((out->b[0] & 0xf0) != type) {
		char why[128];

		snprintf(why, sizeof why, "%s: got packet type 0x%02x", what, out->b[0]);
		peer_fail(p, why);
		return false;
	}
	return true;
}

/* Waits until the test set go >= n. */
static bool peer_await(struct peer *p, int n)
{
	uint64_t end = now_ms() + PEER_TIMEOUT_MS;

	while (atomic_load(&p->go) < n) {
		if (now_ms() > end) {
			peer_fail(p, "the test did not go on");
			return false;
		}
		usleep(1000);
	}
	return true;
}

static void peer_connack(struct peer *p, int fd, uint8_t flags, uint8_t reason)
{
	const uint8_t connack[] = { 0x20, 0x03, flags, reason, 0x00 };

	peer_send(p, fd, connack, sizeof connack);
}

/* SUBACK granting QoS 1 for the SUBSCRIBE in `sub`. */
static void peer_suback(struct peer *p, int fd, const struct pkt *sub)
{
	const uint8_t suback[] = { 0x90, 0x04, sub->b[sub->body], sub->b[sub->body + 1], 0x00,
				   0x01 };

	peer_send(p, fd, suback, sizeof suback);
}

/* PUBACK for a QoS 1 PUBLISH. */
static void peer_puback(struct peer *p, int fd, const struct pkt *pub)
{
	size_t tlen = (size_t)pub->b[pub->body] << 8 | pub->b[pub->body + 1];
	size_t at = pub->body + 2 + tlen;
	const uint8_t puback[] = { 0x40, 0x02, pub->b[at], pub->b[at + 1] };

	peer_send(p, fd, puback, sizeof puback);
}

/* Reads until the adapter closes (or the timeout): it must not hang. */
static void peer_drain_until_eof(int fd)
{
	struct pkt tmp;

	while (peer_read_packet(fd, &tmp))
		;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	p->script(p);
	atomic_store(&p->step, 1000);
	return NULL;
}

static void peer_start(struct peer *p, peer_script script, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;

	p->script = script;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(p->lfd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(p->lfd, backlog), 0);
	ck_assert_int_eq(getsockname(p->lfd, (struct sockaddr *)&a, &alen), 0);
	p->port = ntohs(a.sin_port);
}

static void peer_run(struct peer *p)
{
	ck_assert_int_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_join(struct peer *p)
{
	atomic_store(&p->go, 1000);
	pthread_join(p->thread, NULL);
	for (int i = 0; i < p->nheld; i++)
		close(p->held[i]);
	close(p->lfd);
	ck_assert_msg(!atomic_load(&p->failed), "scripted broker: %s", p->why);
}

/* ---- packet parsing (test side) */

static size_t varint(const uint8_t *b, size_t *at)
{
	size_t v = 0, shift = 0;

	do {
		v |= (size_t)(b[*at] & 0x7f) << shift;
		shift += 7;
	} while (b[(*at)++] & 0x80);
	return v;
}

/* CONNECT: flags, and the Session Expiry / Maximum Packet Size properties
 * (-1 when absent). */
struct connect_info {
	int level;
	int flags;
	long long session_expiry;
	long long max_packet;
	char client_id[64];
};

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void parse_connect(const struct pkt *c, struct connect_info *ci)
{
	size_t at = c->body, end, idlen;

	ck_assert_int_eq(c->b[0], 0x10);
	ck_assert_int_eq(memcmp(c->b + at, "\0\4MQTT", 6), 0);
	at += 6;
	ci->level = c->b[at++];
	ci->flags = c->b[at++];
	at += 2; /* keepalive */
	ci->session_expiry = -1;
	ci->max_packet = -1;
	end = varint(c->b, &at);
	end += at;
	while (at < end) {
		uint8_t id = c->b[at++];

		switch (id) {
		case 0x11: ci->session_expiry = be32(c->b + at); at += 4; break;
		case 0x27: ci->max_packet = be32(c->b + at); at += 4; break;
		case 0x21: case 0x22: at += 2; break; /* receive max, topic alias max */
		case 0x17: case 0x19: at += 1; break;
		default: ck_abort_msg("unexpected CONNECT property 0x%02x", id);
		}
	}
	idlen = (size_t)c->b[at] << 8 | c->b[at + 1];
	ck_assert_uint_lt(idlen, sizeof ci->client_id);
	memcpy(ci->client_id, c->b + at + 2, idlen);
	ci->client_id[idlen] = '\0';
}

/* PUBLISH: topic, payload, and the Payload Format Indicator (-1 absent). */
struct publish_info {
	char topic[128];
	char payload[256];
	int qos;
	bool dup;
	int format;
};

static void parse_publish(const struct pkt *pb, struct publish_info *pi)
{
	size_t at = pb->body, tlen, end;

	ck_assert_int_eq(pb->b[0] & 0xf0, 0x30);
	pi->qos = (pb->b[0] >> 1) & 3;
	pi->dup = (pb->b[0] & 0x08) != 0;
	tlen = (size_t)pb->b[at] << 8 | pb->b[at + 1];
	ck_assert_uint_lt(tlen, sizeof pi->topic);
	memcpy(pi->topic, pb->b + at + 2, tlen);
	pi->topic[tlen] = '\0';
	at += 2 + tlen;
	if (pi->qos > 0)
		at += 2;
	pi->format = -1;
	end = varint(pb->b, &at);
	end += at;
	while (at < end) {
		uint8_t id = pb->b[at++];

		ck_assert_msg(id == 0x01, "unexpected PUBLISH property 0x%02x", id);
		pi->format = pb->b[at++];
	}
	ck_assert_uint_lt(pb->len - at, sizeof pi->payload);
	memcpy(pi->payload, pb->b + at, pb->len - at);
	pi->payload[pb->len - at] = '\0';
}

/* ---- the adapter under test */

static void set(const char *key, const char *value)
{
	char err[256];

	ck_assert_msg(edge_config_set(fx.config, key, value, err, sizeof err) == 0, "%s: %s", key,
		      err);
}

static void setup(void)
{
	memset(&fx, 0, sizeof fx);
	mosquitto_lib_init();
	ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
	edge_log_set_level(EDGE_LOG_DEBUG);
	fx.config = edge_config_new();
	ck_assert_ptr_nonnull(fx.config);
	set("mqtt.host", "127.0.0.1");
	set("mqtt.client_id", "edged-test");
	/* Quick retries: the backoff's own tests cover its distribution. */
	set("mqtt.reconnect_min_ms", "10");
	set("mqtt.reconnect_max_ms", "50");
}

static void teardown(void)
{
	edged_mqtt_free(fx.mqtt);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
	edge_config_free(fx.config);
	if (fx.ca_path[0])
		unlink(fx.ca_path);
	mosquitto_lib_cleanup();
}

static void adapter_start(struct peer *p)
{
	char port[16];

	snprintf(port, sizeof port, "%d", p->port);
	set("mqtt.port", port);
	ck_assert_int_eq(edged_mqtt_new(&fx.loop, edge_config_settings(fx.config), NULL, &fx.mqtt),
			 0);
	ck_assert_int_eq(edged_mqtt_subscribe(fx.mqtt, "edge/v1/+/hello", 1), 0);
	peer_run(p);
	ck_assert_int_eq(edged_mqtt_start(fx.mqtt), 0);
}

static struct edged_mqtt_stats stats(void)
{
	struct edged_mqtt_stats st;

	edged_mqtt_get_stats(fx.mqtt, &st);
	return st;
}

typedef bool (*pred_fn)(void *arg);

struct check_ctx {
	pred_fn pred;
	void *arg;
};

static void on_check(uv_timer_t *t)
{
	struct check_ctx *c = t->data;

	if (c->pred(c->arg) || atomic_load(&fx.peer.failed))
		uv_stop(t->loop);
}

/* Runs the loop until pred(arg) holds (checked every 5 ms) or timeout_ms
 * passed; returns whether it held. */
static bool run_until(pred_fn pred, void *arg, unsigned timeout_ms)
{
	struct check_ctx ctx = { pred, arg };
	uv_timer_t t;
	uint64_t end = now_ms() + timeout_ms;
	bool ok;

	uv_timer_init(&fx.loop, &t);
	t.data = &ctx;
	uv_timer_start(&t, on_check, 5, 5);
	while (!(ok = pred(arg)) && !atomic_load(&fx.peer.failed) && now_ms() < end)
		uv_run(&fx.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&fx.loop, UV_RUN_NOWAIT);
	ck_assert_msg(!atomic_load(&fx.peer.failed), "scripted broker: %s", fx.peer.why);
	return ok;
}

static bool is_state(void *arg)
{
	return edged_mqtt_state(fx.mqtt) == *(enum edged_mqtt_state *)arg;
}

static bool not_state(void *arg)
{
	return edged_mqtt_state(fx.mqtt) != *(enum edged_mqtt_state *)arg;
}

static bool failures_at_least(void *arg)
{
	return stats().connect_failures >= *(uint64_t *)arg;
}

static bool peer_step_at_least(void *arg)
{
	return atomic_load(&fx.peer.step) >= *(int *)arg;
}

static void wait_state(enum edged_mqtt_state s, unsigned timeout_ms)
{
	ck_assert_msg(run_until(is_state, &s, timeout_ms), "state %s, expected %s",
		      edged_mqtt_state_name(edged_mqtt_state(fx.mqtt)), edged_mqtt_state_name(s));
}

static void wait_peer_step(int step, unsigned timeout_ms)
{
	ck_assert_msg(run_until(peer_step_at_least, &step, timeout_ms),
		      "scripted broker at step %d, expected %d", atomic_load(&fx.peer.step), step);
}

static void wait_failures(uint64_t n, unsigned timeout_ms)
{
	ck_assert_msg(run_until(failures_at_least, &n, timeout_ms),
		      "%llu failed attempts, expected %llu",
		      (unsigned long long)stats().connect_failures, (unsigned long long)n);
}

static void stop_adapter(void)
{
	enum edged_mqtt_state s = EDGED_MQTT_STOPPED;

	edged_mqtt_stop(fx.mqtt, NULL, NULL);
	ck_assert(run_until(is_state, &s, 5000));
}

/* ---- scripts */

/* Accept, CONNECT → CONNACK, SUBSCRIBE → SUBACK, PUBLISH → PUBACK, then read
 * until the adapter leaves. */
static void script_session(struct peer *p)
{
	int fd = peer_accept(p);

	if (fd < 0)
		return;
	if (!peer_expect(p, fd, 0x10, &p->connect[p->nconnect++], "CONNECT"))
		goto out;
	peer_connack(p, fd, 0x00, 0x00);
	if (!peer_expect(p, fd, 0x80, &p->subscribe, "SUBSCRIBE"))
		goto out;
	peer_suback(p, fd, &p->subscribe);
	atomic_store(&p->step, 1);
	if (!peer_expect(p, fd, 0x30, &p->publish[p->npublish], "PUBLISH"))
		goto out;
	peer_puback(p, fd, &p->publish[p->npublish++]);
	atomic_store(&p->step, 2);
	peer_drain_until_eof(fd);
out:
	close(fd);
}

/* CONNECT carries what the broker needs to keep edged's session and to spare
 * its memory; subscriptions are QoS 1 + no-local; publishes carry Payload
 * Format Indicator 1. */
START_TEST(connect_declares_session_and_packet_size)
{
	struct connect_info ci;
	struct publish_info pi;
	struct edged_mqtt_stats st;
	size_t at;

	set("mqtt.session_expiry_s", "77");
	set("mqtt.max_packet_bytes", "20000");
	/* Not an address literal for inet_pton, so the adapter resolves it off
	 * the loop; getaddrinfo reads it as 127.0.0.1 without any lookup. */
	set("mqtt.host", "127.1");
	peer_start(&fx.peer, script_session, 8);
	adapter_start(&fx.peer);
	wait_state(EDGED_MQTT_CONNECTED, 5000);
	wait_peer_step(1, 5000);
	ck_assert_int_eq(edged_mqtt_publish(fx.mqtt, "edge/v1/n1/registered", "{\"ok\":1}", 8, 1,
					    false), 0);
	wait_peer_step(2, 5000);
	stop_adapter();
	peer_join(&fx.peer);

	parse_connect(&fx.peer.connect[0], &ci);
	ck_assert_int_eq(ci.level, 5);
	ck_assert_int_eq(ci.flags & 0x02, 0); /* Clean Start 0 */
	ck_assert_int_eq(ci.session_expiry, 77);
	ck_assert_int_eq(ci.max_packet, 20000);
	ck_assert_str_eq(ci.client_id, "edged-test");

	/* SUBSCRIBE: packet id, no properties, the filter, then its options. */
	at = fx.peer.subscribe.body + 2;
	ck_assert_int_eq(fx.peer.subscribe.b[at++], 0);
	ck_assert_int_eq(fx.peer.subscribe.b[at] << 8 | fx.peer.subscribe.b[at + 1], 15);
	ck_assert_int_eq(memcmp(fx.peer.subscribe.b + at + 2, "edge/v1/+/hello", 15), 0);
	/* QoS 1 | No Local; Retain As Published 0, Retain Handling 0. */
	ck_assert_int_eq(fx.peer.subscribe.b[at + 17], 0x05);

	parse_publish(&fx.peer.publish[0], &pi);
	ck_assert_str_eq(pi.topic, "edge/v1/n1/registered");
	ck_assert_str_eq(pi.payload, "{\"ok\":1}");
	ck_assert_int_eq(pi.qos, 1);
	ck_assert_int_eq(pi.format, 1);

	st = stats();
	ck_assert_uint_eq(st.max_packet_bytes, 20000);
	ck_assert_uint_eq(st.session_expiry_s, 77);
	ck_assert_str_eq(st.address, "127.0.0.1");
}
END_TEST

/* Session expiry 0: a clean session on every connect, no expiry property;
 * the packet size is declared all the same. */
START_TEST(session_expiry_zero_is_clean_start)
{
	struct connect_info ci;

	set("mqtt.session_expiry_s", "0");
	peer_start(&fx.peer, script_session, 8);
	adapter_start(&fx.peer);
	wait_peer_step(1, 5000);
	ck_assert_int_eq(edged_mqtt_publish(fx.mqtt, "edge/v1/n1/registered", "{}", 2, 1, false),
			 0);
	wait_peer_step(2, 5000);
	stop_adapter();
	peer_join(&fx.peer);
	parse_connect(&fx.peer.connect[0], &ci);
	ck_assert_int_eq(ci.flags & 0x02, 0x02);
	ck_assert_int_eq(ci.session_expiry, -1);
	ck_assert_int_eq(ci.max_packet, 69632); /* the default */
}
END_TEST

/* The broker reads CONNECT and closes: a failed attempt, a reason, a retry. */
static void script_close_during_connect(struct peer *p)
{
	int fd = peer_accept(p);

	if (fd < 0)
		return;
	peer_expect(p, fd, 0x10, &p->connect[p->nconnect++], "first CONNECT");
	close(fd);
	atomic_store(&p->step, 1);
	if (!peer_await(p, 1))
		return;
	fd = peer_accept(p);
	if (fd < 0)
		return;
	if (peer_expect(p, fd, 0x10, &p->connect[p->nconnect++], "second CONNECT")) {
		peer_connack(p, fd, 0x00, 0x00);
		atomic_store(&p->step, 2);
		peer_drain_until_eof(fd);
	}
	close(fd);
}

START_TEST(broker_closes_during_connect)
{
	struct edged_mqtt_stats st;

	peer_start(&fx.peer, script_close_during_connect, 8);
	adapter_start(&fx.peer);
	wait_failures(1, 5000);
	st = stats();
	ck_assert_uint_eq(st.connects, 0);
	ck_assert_msg(strncmp(st.last_error, "connect", 7) == 0, "last_error: %s", st.last_error);
	ck_assert_int_ne(edged_mqtt_state(fx.mqtt), EDGED_MQTT_CONNECTED);
	atomic_store(&fx.peer.go, 1);
	wait_state(EDGED_MQTT_CONNECTED, 5000);
	st = stats();
	ck_assert_uint_eq(st.connects, 1);
	ck_assert_uint_eq(st.connect_failures, 1);
	ck_assert_str_eq(st.last_error, "");
	stop_adapter();
	peer_join(&fx.peer);
}
END_TEST

/* CONNACK 0x87, then 0x88, then success: each refusal is a failed attempt
 * with the broker's reason, followed by a retry after the backoff. */
static void script_refuse(struct peer *p)
{
	static const uint8_t reasons[] = { 0x87, 0x88, 0x00 };

	for (int i = 0; i < 3; i++) {
		int fd;

		if (!peer_await(p, i))
			return;
		fd = peer_accept(p);
		if (fd < 0)
			return;
		if (peer_expect(p, fd, 0x10, &p->connect[p->nconnect++], "CONNECT")) {
			peer_connack(p, fd, 0x00, reasons[i]);
			atomic_store(&p->step, i + 1);
			/* A refused client must close by itself. */
			peer_drain_until_eof(fd);
		}
		close(fd);
	}
}

START_TEST(broker_refuses_connect)
{
	struct edged_mqtt_stats st;

	peer_start(&fx.peer, script_refuse, 8);
	adapter_start(&fx.peer);
	wait_failures(1, 5000);
	st = stats();
	ck_assert_msg(strstr(st.last_error, "Not authorized"), "last_error: %s", st.last_error);
	ck_assert_uint_le(st.next_retry_ms, 50);
	atomic_store(&fx.peer.go, 1);
	wait_failures(2, 5000);
	st = stats();
	ck_assert_msg(strstr(st.last_error, "Server unavailable"), "last_error: %s", st.last_error);
	atomic_store(&fx.peer.go, 2);
	wait_state(EDGED_MQTT_CONNECTED, 5000);
	st = stats();
	ck_assert_uint_eq(st.connects, 1);
	ck_assert_uint_eq(st.connect_failures, 2);
	stop_adapter();
	peer_join(&fx.peer);
}
END_TEST

/* A listener whose accept queue is full at first (so the adapter's TCP
 * connect completes late, after its first TLS record could not be sent), and
 * that then accepts and never answers. */
static void script_tls_stall(struct peer *p)
{
	uint64_t end;

	/* Filling connections are made by the test before the adapter starts;
	 * let the adapter's connect wait behind them for a while. */
	usleep(1000 * 1000);
	end = now_ms() + PEER_TIMEOUT_MS;
	while (now_ms() < end && atomic_load(&p->go) < 1) {
		if (peer_wait_readable(p->lfd, 50) && p->nheld < MAX_HELD) {
			int fd = accept(p->lfd, NULL, NULL);

			if (fd >= 0) {
				p->held[p->nheld++] = fd;
				atomic_store(&p->step, p->nheld);
			}
		}
	}
}

static void on_window(uv_timer_t *t)
{
	uv_stop(t->loop);
}

START_TEST(tls_handshake_stall_does_not_spin)
{
	int filler;
	uv_timer_t window;
	uint64_t before, used;
	int fd;

	snprintf(fx.ca_path, sizeof fx.ca_path, "/tmp/edged-mqtt-ca-XXXXXX");
	fd = mkstemp(fx.ca_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, test_ca_pem, strlen(test_ca_pem)), (ssize_t)strlen(test_ca_pem));
	close(fd);
	set("mqtt.tls_ca_file", fx.ca_path);
	peer_start(&fx.peer, script_tls_stall, 0);
	{
		/* Takes the one slot of the accept queue (backlog 0). */
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx.peer.port) };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(filler, 0);
		(void)connect(filler, (struct sockaddr *)&a, sizeof a);
	}
	adapter_start(&fx.peer);
	/* Both connections, the adapter's after its SYN was retransmitted,
	 * accepted. */
	wait_peer_step(2, 15000);
	ck_assert_int_eq(edged_mqtt_state(fx.mqtt), EDGED_MQTT_CONNECTING);
	/* Observe the loop for two seconds of a handshake that goes nowhere:
	 * waiting wakes it a handful of times, spinning thousands. */
	before = stats().poll_wakeups;
	uv_timer_init(&fx.loop, &window);
	uv_timer_start(&window, on_window, 2000, 0);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&window, NULL);
	used = stats().poll_wakeups - before;
	printf("# poll wake-ups in 2 s of a pending TLS handshake: %llu\n",
	       (unsigned long long)used);
	ck_assert_int_eq(edged_mqtt_state(fx.mqtt), EDGED_MQTT_CONNECTING);
	ck_assert_msg(used <= 10, "the adapter spun: %llu poll wake-ups in 2 s",
		      (unsigned long long)used);
	stop_adapter();
	peer_join(&fx.peer);
	close(filler);
}
END_TEST

/* The broker takes a QoS 1 PUBLISH and closes before acknowledging it; on
 * the next connection (session resumed) the message comes again, and one
 * published while disconnected follows from the outbox. */
static void script_drop_mid_publish(struct peer *p)
{
	struct pkt pk;
	int fd = peer_accept(p);
	int seen = 0;
	uint64_t end;

	if (fd < 0)
		return;
	if (!peer_expect(p, fd, 0x10, &p->connect[p->nconnect++], "CONNECT"))
		goto out;
	peer_connack(p, fd, 0x00, 0x00);
	if (!peer_expect(p, fd, 0x80, &p->subscribe, "SUBSCRIBE"))
		goto out;
	peer_suback(p, fd, &p->subscribe);
	atomic_store(&p->step, 1);
	if (!peer_expect(p, fd, 0x30, &p->publish[p->npublish++], "PUBLISH"))
		goto out;
	close(fd); /* no PUBACK */
	atomic_store(&p->step, 2);
	if (!peer_await(p, 1))
		return;
	fd = peer_accept(p);
	if (fd < 0)
		return;
	if (!peer_expect(p, fd, 0x10, &p->connect[p->nconnect++], "CONNECT again"))
		goto out;
	peer_connack(p, fd, 0x01, 0x00); /* session present */
	end = now_ms() + PEER_TIMEOUT_MS;
	while (seen < 2 && now_ms() < end && peer_read_packet(fd, &pk)) {
		if ((pk.b[0] & 0xf0) == 0x80) {
			peer_suback(p, fd, &pk);
		} else if ((pk.b[0] & 0xf0) == 0x30 && p->npublish < 4) {
			p->publish[p->npublish++] = pk;
			peer_puback(p, fd, &pk);
			seen++;
		}
	}
	if (seen < 2) {
		peer_fail(p, "the publishes did not come again");
		goto out;
	}
	atomic_store(&p->step, 3);
	peer_drain_until_eof(fd);
out:
	close(fd);
}

START_TEST(drop_mid_publish_redelivers)
{
	struct publish_info first, again, queued, tmp;
	struct connect_info ci;
	enum edged_mqtt_state connected = EDGED_MQTT_CONNECTED;

	peer_start(&fx.peer, script_drop_mid_publish, 8);
	adapter_start(&fx.peer);
	wait_peer_step(1, 5000);
	wait_state(EDGED_MQTT_CONNECTED, 5000);
	ck_assert_int_eq(edged_mqtt_publish(fx.mqtt, "edge/v1/n1/registered", "{\"n\":1}", 7, 1,
					    false), 0);
	wait_peer_step(2, 5000);
	ck_assert(run_until(not_state, &connected, 5000));
	/* Disconnected: this one waits in the outbox. */
	ck_assert_int_eq(edged_mqtt_publish(fx.mqtt, "edge/v1/n2/registered", "{\"n\":2}", 7, 1,
					    false), 0);
	atomic_store(&fx.peer.go, 1);
	wait_peer_step(3, 10000);
	ck_assert_int_eq(edged_mqtt_state(fx.mqtt), EDGED_MQTT_CONNECTED);
	ck_assert_uint_eq(stats().reconnects, 1);
	ck_assert(stats().session_present);
	stop_adapter();
	peer_join(&fx.peer);

	parse_connect(&fx.peer.connect[1], &ci);
	ck_assert_int_eq(ci.flags & 0x02, 0);
	parse_publish(&fx.peer.publish[0], &first);
	parse_publish(&fx.peer.publish[1], &again);
	parse_publish(&fx.peer.publish[2], &queued);
	/* The library resends its unacknowledged message after CONNACK, when
	 * the outbox was already handed over: either order is fine. */
	if (strcmp(again.payload, "{\"n\":2}") == 0) {
		tmp = again;
		again = queued;
		queued = tmp;
	}
	ck_assert_str_eq(first.payload, "{\"n\":1}");
	ck_assert_str_eq(again.payload, "{\"n\":1}");
	ck_assert(again.dup);
	ck_assert_int_eq(again.format, 1);
	ck_assert_str_eq(queued.topic, "edge/v1/n2/registered");
	ck_assert_int_eq(queued.format, 1);
}
END_TEST

/* Blocks a thread-pool thread until `release` is set. */
static atomic_int pool_release;

static void pool_block(uv_work_t *w)
{
	(void)w;
	while (!atomic_load(&pool_release))
		usleep(1000);
}

static void pool_done(uv_work_t *w, int status)
{
	(void)status;
	free(w);
}

/* The thread pool is busy, so the lookup of the next attempt stays pending
 * across keepalive ticks: nothing else starts an attempt meanwhile, and the
 * previous attempt's socket is not watched. */
START_TEST(slow_resolve_waits_quietly)
{
	enum edged_mqtt_state connecting = EDGED_MQTT_CONNECTING;
	uv_timer_t window;

	set("mqtt.host", "127.1"); /* resolved through the thread pool */
	peer_start(&fx.peer, script_close_during_connect, 8);
	adapter_start(&fx.peer);
	wait_failures(1, 5000);
	/* Before the retry runs: occupy every pool thread (4 by default). */
	for (int i = 0; i < 4; i++) {
		uv_work_t *w = calloc(1, sizeof *w);

		ck_assert_ptr_nonnull(w);
		ck_assert_int_eq(uv_queue_work(&fx.loop, w, pool_block, pool_done), 0);
	}
	ck_assert(run_until(is_state, &connecting, 5000));
	uv_timer_init(&fx.loop, &window);
	uv_timer_start(&window, on_window, 2500, 0);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&window, NULL);
	ck_assert_int_eq(edged_mqtt_state(fx.mqtt), EDGED_MQTT_CONNECTING);
	ck_assert_uint_eq(stats().connect_failures, 1);
	atomic_store(&pool_release, 1);
	atomic_store(&fx.peer.go, 1);
	wait_state(EDGED_MQTT_CONNECTED, 5000);
	ck_assert_uint_eq(stats().connect_failures, 1);
	ck_assert_str_eq(stats().address, "127.0.0.1");
	stop_adapter();
	peer_join(&fx.peer);
}
END_TEST

/* A name with a label over 63 bytes: getaddrinfo refuses it without asking
 * any name server (no network in tests). */
#define BAD_HOST "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid"

/* A host name is resolved off the loop; one that does not resolve is a
 * failed attempt with the reason, retried. */
START_TEST(unresolvable_host_fails_and_retries)
{
	struct edged_mqtt_stats st;

	set("mqtt.host", BAD_HOST);
	set("mqtt.port", "1");
	ck_assert_int_eq(edged_mqtt_new(&fx.loop, edge_config_settings(fx.config), NULL, &fx.mqtt),
			 0);
	ck_assert_int_eq(edged_mqtt_start(fx.mqtt), 0);
	/* start returned at once: the lookup is pending, not done. */
	ck_assert_int_eq(edged_mqtt_state(fx.mqtt), EDGED_MQTT_CONNECTING);
	wait_failures(2, 20000);
	st = stats();
	ck_assert_msg(strstr(st.last_error, "cannot resolve broker host"), "last_error: %s",
		      st.last_error);
	ck_assert_uint_eq(st.connects, 0);
}
END_TEST

/* Freed while a lookup is pending: the lookup completes into nothing. */
START_TEST(free_during_resolve)
{
	set("mqtt.host", BAD_HOST);
	ck_assert_int_eq(edged_mqtt_new(&fx.loop, edge_config_settings(fx.config), NULL, &fx.mqtt),
			 0);
	ck_assert_int_eq(edged_mqtt_start(fx.mqtt), 0);
	edged_mqtt_free(fx.mqtt);
	fx.mqtt = NULL;
}
END_TEST

static Suite *mqtt_suite(void)
{
	Suite *s = suite_create("mqtt");
	TCase *tc = tcase_create("adapter");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, connect_declares_session_and_packet_size);
	tcase_add_test(tc, session_expiry_zero_is_clean_start);
	tcase_add_test(tc, broker_closes_during_connect);
	tcase_add_test(tc, broker_refuses_connect);
	tcase_add_test(tc, tls_handshake_stall_does_not_spin);
	tcase_add_test(tc, drop_mid_publish_redelivers);
	tcase_add_test(tc, slow_resolve_waits_quietly);
	tcase_add_test(tc, unresolvable_host_fails_and_retries);
	tcase_add_test(tc, free_during_resolve);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mqtt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
