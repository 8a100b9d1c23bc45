/* report-sub: the broker-limited baseline of the anomaly benchmark. A bare
 * libmosquitto client in edged's place that stores nothing: it answers every
 * hello with `registered` (accepted) and every report with an ack of its
 * last seq at once, QoS 1 both ways, MQTT v5 with libmosquitto's defaults
 * as edged's. The simulator's nodes then run the same closed loop (report,
 * wait for the ack, next report) as against edged, so the rate it sees is
 * what the broker, the simulator and one subscriber allow without a
 * database: the peer edged's end-to-end rate is divided by.
 *
 * It parses each report with the gateway's parser (as edged does) and acks
 * every report's last seq without keeping state: on loopback QoS 1 loses
 * nothing, so that equals the cumulative ack.
 *
 *   report-sub --port P [--host H] [--tcp-nodelay]
 * --tcp-nodelay: small packets at once, as edged's client over TCP (with
 * Nagle on, the ack of a report may wait for the TCP ack of the PUBACK
 * before it: the delayed-ACK timer, about 40 ms on Linux).
 * Prints `report-sub: ready` once both subscriptions are granted.
 * SIGUSR1 prints `report-sub: stats reports=R events=E hellos=H acks=A
 * bad=B seconds=S`; SIGINT/SIGTERM print it once more and exit. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "edge_node_msg.h"
#include "edge_report.h"
#include "edge_topic.h"

static volatile sig_atomic_t want_stats, want_stop;

struct sub {
	struct mosquitto *m;
	unsigned long reports, events, hellos, acks, bad;
	unsigned subacks;
	bool failed;
	struct timespec t0;
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_stop = 1;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_stats(const struct sub *s)
{
	printf("report-sub: stats reports=%lu events=%lu hellos=%lu acks=%lu bad=%lu "
	       "seconds=%.3f\n",
	       s->reports, s->events, s->hellos, s->acks, s->bad, since(&s->t0));
	fflush(stdout);
}

static void reply(struct sub *s, const char *id, enum edge_topic_type type, const char *buf,
		  int len)
{
	char topic[EDGE_TOPIC_MAX_LEN + 1];

	if (len < 0 || edge_topic_build(topic, sizeof(topic), id, type, NULL) < 0 ||
	    mosquitto_publish_v5(s->m, NULL, topic, len, buf, 1, false, NULL) != MOSQ_ERR_SUCCESS)
		s->bad++;
}

static void on_hello(struct sub *s, const char *id, const struct mosquitto_message *msg)
{
	struct edge_msg_hello *h = malloc(sizeof(*h)); /* large: 2 KB of op names */
	struct edge_msg_registered r = { .proto = EDGE_PROTO_VERSION, .accepted = 1,
					 .stale_after = 3 };
	struct edge_msg_error err;
	char buf[512];

	if (!h || edge_msg_parse_hello(msg->payload, (size_t)msg->payloadlen, h, &err) != 0) {
		s->bad++;
		free(h);
		return;
	}
	r.heartbeat_s = h->heartbeat_s;
	free(h);
	s->hellos++;
	reply(s, id, EDGE_TOPIC_REGISTERED, buf, edge_msg_encode_registered(buf, sizeof(buf), &r));
}

static void on_report(struct sub *s, const char *id, const struct mosquitto_message *msg)
{
	static struct edge_msg_report rep; /* one thread; 9 KB */
	struct edge_msg_error err;
	struct edge_msg_ack a;
	char buf[128];

	if (edge_msg_parse_report(msg->payload, (size_t)msg->payloadlen, &rep, &err) != 0) {
		s->bad++;
		return;
	}
	s->reports++;
	s->events += rep.n_events;
	a = (struct edge_msg_ack){ .epoch = rep.epoch, .acked = rep.events[rep.n_events - 1].seq };
	reply(s, id, EDGE_TOPIC_ACK, buf, edge_msg_encode_ack(buf, sizeof(buf), &a));
	s->acks++;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct sub *s = ud;
	struct edge_topic t;

	(void)m;
	(void)props;
	if (msg->payloadlen <= 0 ||
	    edge_topic_parse(msg->topic, strlen(msg->topic), &t, NULL) != 0) {
		s->bad++;
		return;
	}
	if (t.type == EDGE_TOPIC_HELLO)
		on_hello(s, t.id, msg);
	else if (t.type == EDGE_TOPIC_REPORT)
		on_report(s, t.id, msg);
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags,
		       const mosquitto_property *props)
{
	struct sub *s = ud;

	(void)flags;
	(void)props;
	if (rc != 0 ||
	    mosquitto_subscribe_v5(m, NULL, "edge/v1/+/hello", 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_subscribe_v5(m, NULL, "edge/v1/+/report", 1, 0, NULL) != MOSQ_ERR_SUCCESS)
		s->failed = true;
}

/* Both filters granted: the script starts the nodes after this line. */
static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	struct sub *s = ud;

	(void)m;
	(void)mid;
	if (n < 1 || granted[0] != 1) {
		s->failed = true;
		return;
	}
	if (++s->subacks == 2) {
		printf("report-sub: ready\n");
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, c, rc, nodelay = 0;
	struct sub s = { 0 };
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "tcp-nodelay", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "H:p:Nh", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'N': nodelay = 1; break;
		case 'h':
			printf("usage: report-sub --port P [--host H] [--tcp-nodelay]\n"
			       "Answers hellos and acks reports at once, storing nothing; SIGUSR1\n"
			       "prints its counters, SIGINT/SIGTERM stop it.\n");
			return 0;
		default: return 2;
		}
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, "report-sub: --port 1..65535 required\n");
		return 2;
	}
	signal(SIGUSR1, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	mosquitto_lib_init();
	s.m = mosquitto_new("bench-report-sub", true, &s);
	if (!s.m) {
		fprintf(stderr, "report-sub: mosquitto_new failed\n");
		return 1;
	}
	mosquitto_int_option(s.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (nodelay)
		mosquitto_int_option(s.m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(s.m, on_connect);
	mosquitto_subscribe_callback_set(s.m, on_subscribe);
	mosquitto_message_v5_callback_set(s.m, on_message);
	rc = mosquitto_connect(s.m, host, port, 60);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "report-sub: connect %s:%d: %s\n", host, port, mosquitto_strerror(rc));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	while (!want_stop && !s.failed) {
		rc = mosquitto_loop(s.m, 100, 1);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO) {
			fprintf(stderr, "report-sub: %s\n", mosquitto_strerror(rc));
			break;
		}
		if (want_stats) {
			want_stats = 0;
			print_stats(&s);
		}
	}
	print_stats(&s);
	mosquitto_disconnect(s.m);
	mosquitto_destroy(s.m);
	mosquitto_lib_cleanup();
	return s.failed ? 1 : 0;
}
