/* edged's MQTT session with a real mosquitto configured by `edgectl
 * broker-config`: the Maximum Packet Size edged declares keeps an oversized
 * publish out of its memory; its persistent session keeps what nodes send
 * while edged restarts or the broker does; every publish edged makes
 * carries Payload Format Indicator 1; edged reaches the broker over a Unix
 * socket as well as over TCP. The bridge broker-config generates sends the
 * chosen node topics upstream under the site's prefix, and keeps what
 * nodes sent while the upstream was away, also across a graceful restart
 * of the gateway's broker (here the upstream is a second mosquitto; the
 * NATS cluster is test_multisite.c's). Nodes are played by a libmosquitto
 * v5 client in the test (and the simulator for a fleet). Run one case with
 * `test-broker CASE`. */
#include <check.h>
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_run.h"

/* ---- a node played by the test: libmosquitto v5, driven synchronously */

struct node {
	struct mosquitto *mosq;
	int published;          /* PUBACKs received */
	int registered;         /* `registered` messages received */
	int registered_format;  /* Payload Format Indicator of the last one, -1 absent */
	char registered_topic[128];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void node_on_publish(struct mosquitto *m, void *ud, int mid, int rc,
			    const mosquitto_property *props)
{
	struct node *n = ud;

	(void)m; (void)mid; (void)rc; (void)props;
	n->published++;
}

static void node_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
			    const mosquitto_property *props)
{
	struct node *n = ud;
	uint8_t format;

	(void)m;
	if (!strstr(msg->topic, "/registered"))
		return;
	n->registered++;
	snprintf(n->registered_topic, sizeof n->registered_topic, "%s", msg->topic);
	n->registered_format = mosquitto_property_read_byte(props,
							    MQTT_PROP_PAYLOAD_FORMAT_INDICATOR,
							    &format, false) ? format : -1;
}

/* Connects client `id` to the test's broker (bounded), clean session. */
static void node_connect(struct h_env *e, struct node *n, const char *id)
{
	memset(n, 0, sizeof *n);
	n->registered_format = -2;
	n->mosq = mosquitto_new(id, true, n);
	ck_assert_ptr_nonnull(n->mosq);
	mosquitto_int_option(n->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_publish_v5_callback_set(n->mosq, node_on_publish);
	mosquitto_message_v5_callback_set(n->mosq, node_on_message);
	ck_assert_int_eq(mosquitto_connect_bind_v5(n->mosq, "127.0.0.1", e->broker_port, 30, NULL,
						   NULL), MOSQ_ERR_SUCCESS);
}

/* Runs the client's network loop until *counter >= want (bounded). */
static void node_wait(struct node *n, int *counter, int want, unsigned timeout_ms,
		      const char *what)
{
	uint64_t end = now_ms() + timeout_ms;

	while (*counter < want && now_ms() < end) {
		int rc = mosquitto_loop(n->mosq, 100, 1);

		ck_assert_msg(rc == MOSQ_ERR_SUCCESS, "%s: client loop: %s", what,
			      mosquitto_strerror(rc));
	}
	ck_assert_msg(*counter >= want, "timed out waiting for %s", what);
}

/* Publishes at QoS 1 and waits for the broker's PUBACK. */
static void node_publish(struct node *n, const char *topic, const void *payload, size_t len,
			 bool retain)
{
	int want = n->published + 1;

	ck_assert_int_eq(mosquitto_publish_v5(n->mosq, NULL, topic, (int)len, payload, 1, retain,
					      NULL), MOSQ_ERR_SUCCESS);
	node_wait(n, &n->published, want, 60000, topic);
}

static void node_free(struct node *n)
{
	if (!n->mosq)
		return;
	mosquitto_disconnect(n->mosq);
	mosquitto_loop(n->mosq, 100, 1);
	mosquitto_destroy(n->mosq);
	n->mosq = NULL;
}

/* A conforming node's first messages: its `online` status (retained), then
 * its hello. */
static void node_hello(struct node *n, const char *id)
{
	static const char online[] = "{\"proto\":1,\"state\":\"online\",\"reason\":\"boot\"}";
	char topic[128], hello[512];
	int len;

	snprintf(topic, sizeof topic, "edge/v1/%s/status", id);
	node_publish(n, topic, online, strlen(online), true);
	len = snprintf(hello, sizeof hello,
		       "{\"proto\":1,\"id\":\"%s\",\"fw\":\"1.4.2\","
		       "\"runtime\":{\"name\":\"tflm\",\"version\":\"2.14.0\"},"
		       "\"ops\":[\"CONV_2D\",\"SOFTMAX\"],\"ram_bytes\":262144,"
		       "\"flash_bytes\":1048576,\"arena_bytes\":65536,\"sensor\":\"accel-3axis\","
		       "\"heartbeat_s\":30}", id);
	snprintf(topic, sizeof topic, "edge/v1/%s/hello", id);
	node_publish(n, topic, hello, (size_t)len, false);
}

/* Peak resident set (VmHWM) of a process, in kB. */
static long vm_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_int_gt(kb, 0);
	return kb;
}

/* Whether the broker's log holds `needle`. */
static bool broker_log_has(struct h_env *e, const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(e->broker.log_path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void wait_device_registered(struct h_env *e, const char *id, unsigned timeout_ms)
{
	json_t *d = h_wait_device_state(e, id, "online", timeout_ms);

	json_decref(d);
}

/* ---- cases */

/* A 100 MB publish to a topic edged subscribes to never reaches edged: it
 * declared a Maximum Packet Size, so the broker drops the packet for it. Its
 * peak RSS stays where it was, and it keeps working. */
START_TEST(oversized_publish_stays_out_of_edged)
{
	const size_t big = 100u * 1024 * 1024;
	struct h_env *e;
	struct node n;
	long before, after;
	char *payload;

	/* The broker itself must take the message for this test: edged's own
	 * limit is the point. */
	setenv("EDGE_TEST_BROKER_MESSAGE_SIZE_LIMIT", "110000000", 1);
	e = h_env_new();
	h_broker_start(e);
	h_edged_start(e);
	h_sim_start(e, "--count", "20", NULL);
	h_sim_wait(e, "sim: registered all 20", 30000);
	h_wait_status(e, "nodes.online", "==", 20, 20000);

	before = vm_hwm_kb(e->edged.pid);
	payload = malloc(big);
	ck_assert_ptr_nonnull(payload);
	memset(payload, 'x', big);
	node_connect(e, &n, "big-sender");
	node_publish(&n, "edge/v1/sim-00003/hello", payload, big, false);
	free(payload);
	/* The broker logs what it drops for edged. */
	for (uint64_t end = now_ms() + 30000;
	     !broker_log_has(e, "Dropping too large outgoing PUBLISH for edged-test") &&
	     now_ms() < end;)
		h_sleep_ms(50);
	ck_assert_msg(broker_log_has(e, "Dropping too large outgoing PUBLISH for edged-test"),
		      "the broker did not drop the oversized message for edged");

	/* Still working: a new node's hello is answered. */
	node_hello(&n, "after-big");
	wait_device_registered(e, "after-big", 10000);
	after = vm_hwm_kb(e->edged.pid);
	printf("# edged VmHWM before %ld kB, after a 100 MB publish %ld kB\n", before, after);
	ck_assert_msg(after - before <= 8 * 1024, "edged's peak RSS grew by %ld kB",
		      after - before);
	node_free(&n);
	h_env_free(e);
}
END_TEST

/* kill -9 edged; what nodes send while it is down is queued in its session
 * by the broker and delivered when it comes back. */
START_TEST(session_survives_edged_kill9)
{
	struct h_env *e = h_env_new();
	struct node n;

	h_broker_start(e);
	h_edged_start(e);
	node_connect(e, &n, "late-01");
	node_hello(&n, "early-01");
	wait_device_registered(e, "early-01", 10000);

	h_proc_signal(&e->edged, SIGKILL);
	for (uint64_t end = now_ms() + 5000; h_proc_alive(&e->edged) && now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&e->edged));
	/* edged is gone: its session holds these. */
	node_hello(&n, "late-01");
	h_edged_start(e);
	wait_device_registered(e, "late-01", 10000);
	node_free(&n);
	h_env_free(e);
}
END_TEST

/* More nodes than mosquitto's default queue limit (1000) are online; edged
 * is killed and restarted with heartbeats an hour apart, so only the
 * retained statuses the broker replays bring the nodes back: the generated
 * max_queued_messages lets every one through. */
START_TEST(restart_replays_every_retained_status)
{
	struct h_env *e = h_env_new();

	h_broker_start(e);
	h_edged_start(e);
	h_sim_start(e, "--count", "1200", "--heartbeat-s", "3600", "--connect-rate", "1000",
		    NULL);
	h_sim_wait(e, "sim: registered all 1200", 60000);
	h_wait_status(e, "nodes.online", "==", 1200, 20000);

	h_proc_signal(&e->edged, SIGKILL);
	for (uint64_t end = now_ms() + 5000; h_proc_alive(&e->edged) && now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&e->edged));
	h_edged_start(e);
	h_wait_status(e, "nodes.online", "==", 1200, 30000);
	ck_assert_msg(!broker_log_has(e, "Outgoing messages are being dropped"),
		      "the broker dropped messages queued for edged");
	h_env_free(e);
}
END_TEST

/* The broker restarts (its persistence keeps edged's session); a node's
 * hello sent before edged has reconnected reaches edged once it has. */
START_TEST(session_survives_broker_restart)
{
	struct h_env *e = h_env_new();
	struct node n;
	json_t *st;
	const char *state;

	h_broker_start(e);
	/* Reconnect late enough that the hello below goes out first (the
	 * outcome must not depend on it). */
	h_cfg_set(e, "mqtt.reconnect_min_ms", "4000");
	h_cfg_set(e, "mqtt.reconnect_max_ms", "4000");
	h_edged_start(e);
	node_connect(e, &n, "restart-01");
	node_hello(&n, "before-restart");
	wait_device_registered(e, "before-restart", 10000);
	node_free(&n);

	h_broker_stop(e);
	h_broker_start(e);
	node_connect(e, &n, "restart-01");
	node_hello(&n, "during-restart");
	st = h_edgectl_json(e, "status", NULL);
	state = h_json_str(st, "broker.state");
	printf("# edged's broker connection when the hello was sent: %s\n", state ? state : "?");
	json_decref(st);
	h_wait_status(e, "broker.connects", ">=", 2, 15000);
	wait_device_registered(e, "during-restart", 10000);
	node_free(&n);
	h_env_free(e);
}
END_TEST

/* `registered` (like every publish edged makes) carries Payload Format
 * Indicator 1, as read by a real MQTT v5 subscriber. */
START_TEST(registered_carries_payload_format_indicator)
{
	struct h_env *e = h_env_new();
	struct node n;

	h_broker_start(e);
	h_edged_start(e);
	node_connect(e, &n, "pfi-01");
	ck_assert_int_eq(mosquitto_subscribe_v5(n.mosq, NULL, "edge/v1/pfi-01/registered", 1, 0,
						NULL), MOSQ_ERR_SUCCESS);
	node_hello(&n, "pfi-01");
	node_wait(&n, &n.registered, 1, 10000, "registered");
	ck_assert_str_eq(n.registered_topic, "edge/v1/pfi-01/registered");
	ck_assert_int_eq(n.registered_format, 1);
	node_free(&n);
	h_env_free(e);
}
END_TEST

/* mqtt.host as an absolute path: edged reaches the broker over its Unix
 * socket (`listener 0 PATH`, from broker-config --unix-socket) while nodes
 * use TCP. A socket that is not there yet is a failed attempt, retried. */
START_TEST(edged_connects_over_unix_socket)
{
	struct h_env *e = h_env_new();
	char path[320];
	const char *args[] = { "--unix-socket", path, NULL };
	struct node n;
	json_t *st;
	char *log;

	snprintf(path, sizeof path, "%s/broker/mqtt.sock", e->dir);
	h_cfg_set(e, "mqtt.host", path);
	h_cfg_set(e, "mqtt.reconnect_min_ms", "100");
	h_cfg_set(e, "mqtt.reconnect_max_ms", "300");
	h_edged_start(e);
	h_wait_status(e, "broker.connect_failures", ">=", 2, 10000);
	st = h_edgectl_json(e, "status", NULL);
	ck_assert_str_ne(h_json_str(st, "broker.state"), "connected");
	ck_assert_str_eq(h_json_str(st, "broker.host"), path);
	ck_assert_int_eq(h_json_int(st, "broker.port"), 0);
	ck_assert_msg(strstr(h_json_str(st, "broker.last_error"), "No such file or directory"),
		      "last_error: %s", h_json_str(st, "broker.last_error"));
	json_decref(st);

	h_broker_config_args(args);
	h_broker_start(e);
	h_broker_config_args(NULL);
	h_wait_status(e, "broker.connects", ">=", 1, 15000);
	st = h_edgectl_json(e, "status", NULL);
	ck_assert_str_eq(h_json_str(st, "broker.state"), "connected");
	ck_assert_str_eq(h_json_str(st, "broker.address"), path);
	ck_assert_int_eq(h_json_int(st, "broker.port"), 0);
	json_decref(st);
	log = h_edged_log(e);
	ck_assert_msg(strstr(log, "connected to broker ") && strstr(log, path),
		      "edged's log does not name the socket");
	free(log);

	/* Node traffic (TCP) reaches edged through the socket, and back. */
	node_connect(e, &n, "unix-01");
	ck_assert_int_eq(mosquitto_subscribe_v5(n.mosq, NULL, "edge/v1/unix-01/registered", 1, 0,
						NULL), MOSQ_ERR_SUCCESS);
	node_hello(&n, "unix-01");
	wait_device_registered(e, "unix-01", 10000);
	node_wait(&n, &n.registered, 1, 10000, "registered");
	node_free(&n);
	h_env_free(e);
}
END_TEST

/* ---- the bridge upstream */

#define BRIDGE_GW "gw-t"
#define BRIDGE_STATE "$SYS/broker/connection/upstream/state"
#define BRIDGE_UP_PREFIX "site/" BRIDGE_GW "/edge/v1/"
/* Above mosquitto's default max_queued_messages (1000), which would drop
 * the rest while the upstream is away. */
#define BRIDGE_BURST 5000

/* A client of either broker that sorts what it receives. */
struct sub {
	struct mosquitto *mosq;
	bool subscribed;
	int published;          /* PUBACKs of its own publishes */
	char state;             /* the bridge's last state payload */
	int reports, hellos, statuses, others;
	char other_topic[160];
	unsigned char seen[BRIDGE_BURST + 2]; /* report payload "i" arrived */
	int distinct;
};

static void sub_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct sub *s = ud;
	const char *t = msg->topic;

	(void)m;
	if (strcmp(t, BRIDGE_STATE) == 0) {
		s->state = msg->payloadlen == 1 ? ((const char *)msg->payload)[0] : '?';
	} else if (strcmp(t, BRIDGE_UP_PREFIX "n-1/report") == 0) {
		char buf[16] = "";
		long i;

		s->reports++;
		if (msg->payloadlen > 0 && msg->payloadlen < (int)sizeof buf)
			memcpy(buf, msg->payload, (size_t)msg->payloadlen);
		i = strtol(buf, NULL, 10);
		if (i >= 1 && i <= BRIDGE_BURST + 1 && !s->seen[i]++)
			s->distinct++;
	} else if (strcmp(t, BRIDGE_UP_PREFIX "n-1/hello") == 0) {
		s->hellos++;
	} else if (strcmp(t, BRIDGE_UP_PREFIX "n-1/status") == 0) {
		s->statuses++;
	} else {
		s->others++;
		snprintf(s->other_topic, sizeof s->other_topic, "%s", t);
	}
}

static void sub_on_publish(struct mosquitto *m, void *ud, int mid)
{
	struct sub *s = ud;

	(void)m;
	(void)mid;
	s->published++;
}

static void sub_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *qos)
{
	struct sub *s = ud;

	(void)m;
	(void)mid;
	s->subscribed = n == 1 && qos[0] == 1;
}

/* MQTT 3.1.1 (as the upstream's consumers), subscribed to filter at QoS 1;
 * id NULL: a clean session; user NULL: anonymous. */
static void sub_start(struct sub *s, struct h_env *e, const char *id, const char *filter,
		      const char *user, const char *password)
{
	uint64_t end = now_ms() + 10000;

	memset(s, 0, sizeof *s);
	s->mosq = mosquitto_new(id, id == NULL, s);
	ck_assert_ptr_nonnull(s->mosq);
	if (user)
		mosquitto_username_pw_set(s->mosq, user, password);
	mosquitto_message_callback_set(s->mosq, sub_on_message);
	mosquitto_subscribe_callback_set(s->mosq, sub_on_subscribe);
	mosquitto_publish_callback_set(s->mosq, sub_on_publish);
	ck_assert_int_eq(mosquitto_connect(s->mosq, "127.0.0.1", e->broker_port, 30),
			 MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_subscribe(s->mosq, NULL, filter, 1), MOSQ_ERR_SUCCESS);
	while (!s->subscribed && now_ms() < end)
		ck_assert_int_eq(mosquitto_loop(s->mosq, 100, 1), MOSQ_ERR_SUCCESS);
	ck_assert_msg(s->subscribed, "no QoS 1 subscription to %s", filter);
}

/* Runs the client's loop until *v >= want (bounded); a lost connection is
 * reconnected (the upstream restarts in a case). */
static void sub_wait(struct sub *s, const int *v, int want, unsigned timeout_ms, const char *what)
{
	uint64_t end = now_ms() + timeout_ms;

	while (*v < want && now_ms() < end)
		if (mosquitto_loop(s->mosq, 100, 1) != MOSQ_ERR_SUCCESS) {
			h_sleep_ms(100);
			mosquitto_reconnect(s->mosq);
		}
	ck_assert_msg(*v >= want, "%s: %d after %u ms, expected %d", what, *v, timeout_ms, want);
}

static void sub_wait_state(struct sub *s, char want, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (s->state != want && now_ms() < end)
		ck_assert_int_eq(mosquitto_loop(s->mosq, 100, 1), MOSQ_ERR_SUCCESS);
	ck_assert_msg(s->state == want, "bridge state '%c', expected '%c'",
		      s->state ? s->state : '-', want);
}

static void sub_free(struct sub *s)
{
	mosquitto_disconnect(s->mosq);
	mosquitto_destroy(s->mosq);
}

/* The upstream (a plain generated broker), then the gateway's broker with
 * the generated bridge to it (its arguments in args, kept for restarts). */
static void bridge_pair(struct h_env **up, struct h_env **gw, char port[16],
			const char *args[8])
{
	*up = h_env_new();
	h_broker_start(*up);
	snprintf(port, 16, "127.0.0.1:%d", (*up)->broker_port);
	args[0] = "--bridge-address";
	args[1] = port;
	args[2] = "--bridge-gateway-id";
	args[3] = BRIDGE_GW;
	args[4] = NULL;
	*gw = h_env_new();
	h_broker_config_args(args);
	h_broker_start(*gw);
	h_broker_config_args(NULL);
}

/* Hello, status and report go up under site/<id>/edge/v1/; heartbeat and
 * the gateway's answers (ack, registered) stay local by default. */
START_TEST(bridge_sends_chosen_topics_under_the_site_prefix)
{
	struct h_env *up, *gw;
	struct sub state, central;
	struct node n;
	char port[16];
	const char *args[8];
	static const char *const local[] = { "heartbeat", "ack", "registered" };

	bridge_pair(&up, &gw, port, args);
	sub_start(&state, gw, NULL, BRIDGE_STATE, NULL, NULL);
	sub_wait_state(&state, '1', 30000);
	sub_start(&central, up, NULL, "#", NULL, NULL);
	node_connect(gw, &n, "n-1");
	node_hello(&n, "n-1");
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		char topic[64];

		snprintf(topic, sizeof topic, "edge/v1/n-1/%s", local[i]);
		node_publish(&n, topic, "{}", 2, false);
	}
	/* One bridge connection keeps the order: once this report is up, any
	 * of the messages before it would be too. */
	node_publish(&n, "edge/v1/n-1/report", "1", 1, false);
	sub_wait(&central, &central.distinct, 1, 30000, "reports upstream");
	ck_assert_int_eq(central.hellos, 1);
	ck_assert_int_eq(central.statuses, 1);
	ck_assert_msg(central.others == 0, "%d messages upstream that must stay local (%s)",
		      central.others, central.other_topic);
	node_free(&n);
	sub_free(&central);
	sub_free(&state);
	h_env_free(gw);
	h_env_free(up);
}
END_TEST

/* The upstream away: nodes' reports wait in the bridge's queue (more than
 * mosquitto's default limit of 1000), across a graceful restart of the
 * gateway's broker, and all go up when the upstream is back. */
START_TEST(bridge_queue_survives_outage_and_restart)
{
	struct h_env *up, *gw;
	struct sub state, central;
	struct node n;
	char port[16], payload[16];
	const char *args[8];

	bridge_pair(&up, &gw, port, args);
	sub_start(&state, gw, NULL, BRIDGE_STATE, NULL, NULL);
	sub_wait_state(&state, '1', 30000);
	/* A persistent session upstream, as a central consumer has. */
	sub_start(&central, up, "central", BRIDGE_UP_PREFIX "+/report", NULL, NULL);
	h_broker_stop(up);
	sub_wait_state(&state, '0', 30000);
	sub_free(&state);

	node_connect(gw, &n, "n-1");
	for (int i = 1; i <= BRIDGE_BURST; i++) {
		int len = snprintf(payload, sizeof payload, "%d", i);

		ck_assert_int_eq(mosquitto_publish_v5(n.mosq, NULL, "edge/v1/n-1/report", len,
						      payload, 1, false, NULL), MOSQ_ERR_SUCCESS);
		if (i % 500 == 0)
			node_wait(&n, &n.published, i, 30000, "PUBACKs");
	}
	node_free(&n);
	/* A clean stop saves the queue; the restarted broker has it back. */
	h_broker_stop(gw);
	h_broker_config_args(args);
	h_broker_start(gw);
	h_broker_config_args(NULL);
	{
		char *conf = h_read_file(gw->broker_conf, NULL);

		ck_assert_ptr_nonnull(conf);
		ck_assert_msg(strstr(conf, "\nconnection upstream\n") != NULL, "the restarted "
			      "broker has no bridge");
		free(conf);
	}
	h_broker_start(up);
	sub_wait(&central, &central.distinct, BRIDGE_BURST, 90000, "reports upstream");
	ck_assert_int_eq(central.others, 0);
	printf("# %d reports queued while the upstream was away, across a restart of the "
	       "gateway's broker: all delivered (%d copies)\n", central.distinct,
	       central.reports);
	sub_free(&central);
	h_env_free(gw);
	h_env_free(up);
}
END_TEST

/* With the product's access control (--identity-dir: no anonymous client,
 * the generated ACL) the bridge still reads the node topics, publishes its
 * state, and edged's user reads that state. */
START_TEST(bridge_works_with_access_control)
{
	struct h_env *up = h_env_new(), *gw;
	struct h_secured sec;
	struct sub edged, central;
	char port[16], *secret;
	const char *args[8];
	int want;

	h_broker_start(up);
	snprintf(port, sizeof port, "127.0.0.1:%d", up->broker_port);
	args[0] = "--bridge-address";
	args[1] = port;
	args[2] = "--bridge-gateway-id";
	args[3] = BRIDGE_GW;
	args[4] = NULL;
	gw = h_env_new();
	h_broker_start_secured(gw, args, &sec);
	secret = h_read_file(sec.secret, NULL);
	ck_assert_ptr_nonnull(secret);
	secret[strcspn(secret, "\r\n")] = '\0';
	/* edged's own identity, which may write every node topic. */
	sub_start(&edged, gw, NULL, BRIDGE_STATE, "edged", secret);
	free(secret);
	sub_wait_state(&edged, '1', 30000);
	sub_start(&central, up, NULL, "#", NULL, NULL);
	want = central.distinct + 1;
	ck_assert_int_eq(mosquitto_publish(edged.mosq, NULL, "edge/v1/n-1/report", 1, "1", 1,
					   false), MOSQ_ERR_SUCCESS);
	sub_wait(&edged, &edged.published, 1, 10000, "PUBACK");
	sub_wait(&central, &central.distinct, want, 30000, "reports upstream");
	sub_free(&central);
	sub_free(&edged);
	h_env_free(gw);
	h_env_free(up);
}
END_TEST

int main(int argc, char **argv)
{
	/* Check's test handles are variables: the table lives here. */
	const struct h_case cases[] = {
		{ "oversized_publish_stays_out_of_edged", oversized_publish_stays_out_of_edged, 240 },
		{ "session_survives_edged_kill9", session_survives_edged_kill9, 120 },
		{ "session_survives_broker_restart", session_survives_broker_restart, 120 },
		{ "restart_replays_every_retained_status", restart_replays_every_retained_status, 240 },
		{ "registered_carries_payload_format_indicator", registered_carries_payload_format_indicator, 60 },
		{ "edged_connects_over_unix_socket", edged_connects_over_unix_socket, 60 },
		{ "bridge_sends_chosen_topics_under_the_site_prefix",
		  bridge_sends_chosen_topics_under_the_site_prefix, 90 },
		{ "bridge_queue_survives_outage_and_restart", bridge_queue_survives_outage_and_restart,
		  180 },
		{ "bridge_works_with_access_control", bridge_works_with_access_control, 90 },
	};
	int rc;

	mosquitto_lib_init();
	rc = h_run_cases(argc, argv, "broker", cases, sizeof cases / sizeof cases[0]);

	mosquitto_lib_cleanup();
	return rc;
}
