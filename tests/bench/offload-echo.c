/* offload-echo: the MQTT round-trip baseline of the offload benchmark
 * (scripts/bench-offload.sh). A bare libmosquitto v5 client in edged's
 * place, run while edged is stopped, on the same broker: it answers every
 * hello with `registered` (accepted, as report-sub) so the simulator's
 * nodes start sending, and every request on <p>/+/infer/req at once with a
 * response of status ok on the request's Response Topic, its Correlation
 * Data echoed, and an output of --output-bytes zero bytes (the model's
 * output size): what the broker, the simulator and one subscriber cost
 * without any inference. The end-to-end latency through edged is compared
 * with the engine's invoke time plus this round trip.
 *
 * Each request is parsed with the gateway's parser (as edged does); one
 * that does not parse, or has no Response Topic, is counted and not
 * answered. The response goes out at the request's QoS.
 *
 *   offload-echo --port P --output-bytes N [--host H] [--tcp-nodelay]
 * --tcp-nodelay: small packets at once, as edged's client.
 * Prints `offload-echo: ready` once both subscriptions are granted.
 * SIGUSR1 prints `offload-echo: stats requests=R answered=A hellos=H
 * bad=B no_response_topic=T seconds=S`; SIGINT/SIGTERM print it once more
 * and exit. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "edge_infer_msg.h"
#include "edge_node_msg.h"
#include "edge_topic.h"

/* The largest output the tool sends: far above the models' (kws 12 bytes,
 * vww 2), so the response buffer is fixed. */
#define ECHO_OUTPUT_MAX 65536

static volatile sig_atomic_t want_stats, want_stop;

struct echo {
	struct mosquitto *m;
	unsigned long requests, answered, hellos, bad, no_resp_topic;
	unsigned subacks;
	bool failed;
	struct timespec t0;
	uint32_t output_bytes;
	uint8_t *resp;    /* the encoded response: the same for every request */
	int resp_len;
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

static void print_stats(const struct echo *e)
{
	printf("offload-echo: stats requests=%lu answered=%lu hellos=%lu bad=%lu "
	       "no_response_topic=%lu seconds=%.3f\n",
	       e->requests, e->answered, e->hellos, e->bad, e->no_resp_topic, since(&e->t0));
	fflush(stdout);
}

static void on_hello(struct echo *e, const char *id, const struct mosquitto_message *msg)
{
	struct edge_msg_hello *h = malloc(sizeof(*h)); /* large: 2 KB of op names */
	struct edge_msg_registered r = { .proto = EDGE_PROTO_VERSION, .accepted = 1,
					 .stale_after = 3 };
	struct edge_msg_error err;
	char topic[EDGE_TOPIC_MAX_LEN + 1], buf[512];
	int len;

	if (!h || edge_msg_parse_hello(msg->payload, (size_t)msg->payloadlen, h, &err) != 0) {
		e->bad++;
		free(h);
		return;
	}
	r.heartbeat_s = h->heartbeat_s;
	free(h);
	e->hellos++;
	len = edge_msg_encode_registered(buf, sizeof(buf), &r);
	if (len < 0 || edge_topic_build(topic, sizeof(topic), id, EDGE_TOPIC_REGISTERED, NULL) < 0 ||
	    mosquitto_publish_v5(e->m, NULL, topic, len, buf, 1, false, NULL) != MOSQ_ERR_SUCCESS)
		e->bad++;
}

static void on_request(struct echo *e, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct edge_infer_req req;
	mosquitto_property *out = NULL;
	char *resp_topic = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;

	e->requests++;
	if (edge_infer_req_parse(msg->payload, (size_t)msg->payloadlen, &req, NULL) != 0) {
		e->bad++;
		return;
	}
	if (!mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &resp_topic, false)) {
		e->no_resp_topic++;
		return;
	}
	(void)mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					     false);
	if (corr && (corr_len == 0 || corr_len > EDGE_INFER_CORR_MAX)) {
		e->bad++; /* edged answers malformed; the simulator never sends one */
		goto done;
	}
	if (corr && mosquitto_property_add_binary(&out, MQTT_PROP_CORRELATION_DATA, corr,
						  corr_len) != MOSQ_ERR_SUCCESS) {
		e->bad++;
		goto done;
	}
	if (mosquitto_publish_v5(e->m, NULL, resp_topic, e->resp_len, e->resp, msg->qos, false,
				 out) != MOSQ_ERR_SUCCESS) {
		e->bad++;
		goto done;
	}
	e->answered++;
done:
	mosquitto_property_free_all(&out);
	free(corr);
	free(resp_topic);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct echo *e = ud;
	struct edge_topic t;

	(void)m;
	if (msg->payloadlen <= 0 ||
	    edge_topic_parse(msg->topic, strlen(msg->topic), &t, NULL) != 0) {
		e->bad++;
		return;
	}
	if (t.type == EDGE_TOPIC_HELLO)
		on_hello(e, t.id, msg);
	else if (t.type == EDGE_TOPIC_INFER && t.sub_len == strlen(EDGE_INFER_SUB_REQ) &&
		 memcmp(t.sub, EDGE_INFER_SUB_REQ, t.sub_len) == 0)
		on_request(e, msg, props);
	else
		e->bad++;
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags,
		       const mosquitto_property *props)
{
	struct echo *e = ud;

	(void)flags;
	(void)props;
	if (rc != 0 ||
	    mosquitto_subscribe_v5(m, NULL, "edge/v1/+/hello", 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_subscribe_v5(m, NULL, "edge/v1/+/infer/req", 1, 0, NULL) != MOSQ_ERR_SUCCESS)
		e->failed = true;
}

/* Both filters granted: the script starts the nodes after this line. */
static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	struct echo *e = ud;

	(void)m;
	(void)mid;
	if (n < 1 || granted[0] != 1) {
		e->failed = true;
		return;
	}
	if (++e->subacks == 2) {
		printf("offload-echo: ready\n");
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, c, rc, nodelay = 0;
	long out_bytes = -1;
	struct echo e = { 0 };
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "output-bytes", required_argument, NULL, 'o' },
		{ "tcp-nodelay", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "H:p:o:Nh", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'o': out_bytes = strtol(optarg, NULL, 10); break;
		case 'N': nodelay = 1; break;
		case 'h':
			printf("usage: offload-echo --port P --output-bytes N [--host H] "
			       "[--tcp-nodelay]\n"
			       "Answers hellos, and every offload request at once with status ok\n"
			       "and N output bytes; SIGUSR1 prints its counters, SIGINT/SIGTERM\n"
			       "stop it.\n");
			return 0;
		default: return 2;
		}
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, "offload-echo: --port 1..65535 required\n");
		return 2;
	}
	if (out_bytes < 1 || out_bytes > ECHO_OUTPUT_MAX) {
		fprintf(stderr, "offload-echo: --output-bytes 1..%d required\n", ECHO_OUTPUT_MAX);
		return 2;
	}
	e.output_bytes = (uint32_t)out_bytes;
	/* One response for all: status ok, top class 0, no time spent. */
	{
		size_t cap = EDGE_INFER_RESP_HDR + e.output_bytes;
		uint8_t *zeros = calloc(1, e.output_bytes);
		struct edge_infer_resp r = { .status = EDGE_INFER_S_OK, .top_class = 0,
					     .output_length = e.output_bytes, .output = zeros };

		e.resp = malloc(cap);
		if (!zeros || !e.resp) {
			fprintf(stderr, "offload-echo: out of memory\n");
			return 1;
		}
		e.resp_len = edge_infer_resp_encode(e.resp, cap, &r);
		free(zeros);
		if (e.resp_len < 0) {
			fprintf(stderr, "offload-echo: encode: %s\n", strerror(-e.resp_len));
			return 1;
		}
	}
	signal(SIGUSR1, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	mosquitto_lib_init();
	e.m = mosquitto_new("bench-offload-echo", true, &e);
	if (!e.m) {
		fprintf(stderr, "offload-echo: mosquitto_new failed\n");
		return 1;
	}
	mosquitto_int_option(e.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (nodelay)
		mosquitto_int_option(e.m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(e.m, on_connect);
	mosquitto_subscribe_callback_set(e.m, on_subscribe);
	mosquitto_message_v5_callback_set(e.m, on_message);
	rc = mosquitto_connect(e.m, host, port, 60);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "offload-echo: connect %s:%d: %s\n", host, port,
			mosquitto_strerror(rc));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &e.t0);
	while (!want_stop && !e.failed) {
		rc = mosquitto_loop(e.m, 100, 1);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO) {
			fprintf(stderr, "offload-echo: %s\n", mosquitto_strerror(rc));
			break;
		}
		if (want_stats) {
			want_stats = 0;
			print_stats(&e);
		}
	}
	print_stats(&e);
	mosquitto_disconnect(e.m);
	mosquitto_destroy(e.m);
	mosquitto_lib_cleanup();
	free(e.resp);
	return e.failed ? 1 : 0;
}
