/* revoke-probe: how fast the broker cuts off a client whose credentials
 * were removed, and what another client feels while the broker reloads.
 * Used by scripts/bench-security.sh.
 *
 *   revoke-probe --port P --victim USER:PASS --witness USER:PASS
 *                --broker-pid PID [--new-file NEW --password-file F]
 *                [--window-ms MS]
 *
 * Connects both (MQTT v5, client id = username, plain TCP to 127.0.0.1),
 * measures the witness's QoS 1 publish round trip (PUBLISH -> PUBACK, one
 * at a time, to its own heartbeat topic) as a baseline, then sends SIGHUP
 * to the broker (with --new-file, right after renaming NEW, the password
 * file written without the victim, over F: the atomic replacement its
 * writer makes) and keeps measuring until the broker has closed the victim's
 * connection and MS more milliseconds (500) have passed. Prints:
 *   probe: baseline round_trips=N median_ms=M max_ms=X
 *   probe: revoked_ms=T          (SIGHUP -> the victim's socket closed)
 *   probe: reload round_trips=N max_ms=X   (the witness, from SIGHUP on)
 * Exit 0; 1 if a connect fails or the victim is not cut off within 10 s. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#define BASELINE_ROUND_TRIPS 200
#define CUT_OFF_LIMIT_US (10 * 1000000ull)

struct probe_cli {
	struct mosquitto *mosq;
	char user[128];
	const char *pass;
	int connack; /* -1 before CONNACK */
	bool lost;
	uint64_t lost_us;
	bool inflight;
	uint64_t sent_us;
	uint64_t rtt_us; /* of the last PUBACK */
	unsigned pubacks;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags,
		       const mosquitto_property *props)
{
	struct probe_cli *c = ud;

	c->connack = rc;
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc,
			  const mosquitto_property *props)
{
	struct probe_cli *c = ud;

	if (!c->lost)
		c->lost_us = now_us();
	c->lost = true;
}

static void on_publish(struct mosquitto *m, void *ud, int mid, int rc,
		       const mosquitto_property *props)
{
	struct probe_cli *c = ud;

	c->rtt_us = now_us() - c->sent_us;
	c->inflight = false;
	c->pubacks++;
}

static int cli_connect(struct probe_cli *c, const char *spec, int port)
{
	const char *colon = strchr(spec, ':');
	uint64_t end;

	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(c->user)) {
		fprintf(stderr, "revoke-probe: expected USER:PASS, got '%s'\n", spec);
		return -1;
	}
	memcpy(c->user, spec, (size_t)(colon - spec));
	c->user[colon - spec] = '\0';
	c->pass = colon + 1;
	c->connack = -1;
	c->mosq = mosquitto_new(c->user, true, c);
	if (!c->mosq)
		return -1;
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, on_publish);
	if (mosquitto_username_pw_set(c->mosq, c->user, c->pass) != MOSQ_ERR_SUCCESS ||
	    mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", port, 60, NULL, NULL) !=
		    MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "revoke-probe: %s: cannot connect to 127.0.0.1:%d\n", c->user,
			port);
		return -1;
	}
	end = now_us() + 10000000u;
	while (c->connack < 0 && !c->lost && now_us() < end)
		if (mosquitto_loop(c->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			c->lost = true;
	if (c->connack != 0) {
		fprintf(stderr, "revoke-probe: %s: CONNACK %d\n", c->user, c->connack);
		return -1;
	}
	return 0;
}

/* One round trip at a time: publish when none is in flight. */
static int witness_step(struct probe_cli *w, const char *topic)
{
	static const char payload[] = "{\"proto\":1,\"seq\":1,\"uptime_s\":1,\"inferences\":0,"
				      "\"anomalies\":0,\"mqtt_reconnects\":0,\"free_heap_bytes\":1}";

	if (!w->inflight) {
		w->sent_us = now_us();
		w->inflight = true;
		if (mosquitto_publish_v5(w->mosq, NULL, topic, (int)strlen(payload), payload, 1,
					 false, NULL) != MOSQ_ERR_SUCCESS)
			return -1;
	}
	return mosquitto_loop(w->mosq, 1, 1) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "victim", required_argument, NULL, 'v' },
		{ "witness", required_argument, NULL, 'w' },
		{ "broker-pid", required_argument, NULL, 'b' },
		{ "window-ms", required_argument, NULL, 'm' },
		{ "new-file", required_argument, NULL, 'n' },
		{ "password-file", required_argument, NULL, 'f' },
		{ 0 },
	};
	const char *victim = NULL, *witness = NULL, *new_file = NULL, *pw_file = NULL;
	int port = 0, ch;
	long broker = 0, window_ms = 500;
	struct probe_cli v = { 0 }, w = { 0 };
	char topic[200];
	uint64_t base[BASELINE_ROUND_TRIPS], t_hup, end, max_us = 0;
	unsigned n = 0, after = 0, seen;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'v': victim = optarg; break;
		case 'w': witness = optarg; break;
		case 'b': broker = atol(optarg); break;
		case 'm': window_ms = atol(optarg); break;
		case 'n': new_file = optarg; break;
		case 'f': pw_file = optarg; break;
		default: return 2;
		}
	}
	if (!victim || !witness || port <= 0 || broker <= 1 || window_ms < 0 ||
	    !new_file != !pw_file) {
		fprintf(stderr, "usage: revoke-probe --port P --victim USER:PASS --witness "
			"USER:PASS --broker-pid PID [--new-file NEW --password-file F] "
			"[--window-ms MS]\n");
		return 2;
	}
	mosquitto_lib_init();
	if (cli_connect(&v, victim, port) || cli_connect(&w, witness, port))
		return 1;
	snprintf(topic, sizeof topic, "edge/v1/%s/heartbeat", w.user);

	/* Baseline: the round trip with nothing else going on. */
	while (n < BASELINE_ROUND_TRIPS) {
		seen = w.pubacks;
		if (witness_step(&w, topic) || w.lost)
			return 1;
		if (w.pubacks != seen)
			base[n++] = w.rtt_us;
		mosquitto_loop(v.mosq, 0, 1);
	}
	qsort(base, n, sizeof base[0], cmp_u64);
	printf("probe: baseline round_trips=%u median_ms=%.2f max_ms=%.2f\n", n,
	       (double)base[n / 2] / 1000.0, (double)base[n - 1] / 1000.0);

	/* The reload: the new file in place, SIGHUP, then drive both until
	 * the victim is gone. */
	if (new_file && rename(new_file, pw_file) != 0) {
		fprintf(stderr, "revoke-probe: rename %s %s: %s\n", new_file, pw_file,
			strerror(errno));
		return 1;
	}
	t_hup = now_us();
	if (kill((pid_t)broker, SIGHUP) != 0) {
		fprintf(stderr, "revoke-probe: kill -HUP %ld: %s\n", broker, strerror(errno));
		return 1;
	}
	end = t_hup + CUT_OFF_LIMIT_US;
	while (now_us() < end) {
		seen = w.pubacks;
		if (witness_step(&w, topic) || w.lost) {
			fprintf(stderr, "revoke-probe: the witness lost its connection\n");
			return 1;
		}
		if (w.pubacks != seen) {
			after++;
			if (w.rtt_us > max_us)
				max_us = w.rtt_us;
		}
		if (!v.lost && mosquitto_loop(v.mosq, 0, 1) != MOSQ_ERR_SUCCESS && !v.lost) {
			v.lost = true;
			v.lost_us = now_us();
		}
		if (v.lost && now_us() >= v.lost_us + (uint64_t)window_ms * 1000u)
			break;
	}
	/* A round trip still in flight counts with its age so far. */
	if (w.inflight && now_us() - w.sent_us > max_us)
		max_us = now_us() - w.sent_us;
	if (!v.lost) {
		fprintf(stderr, "revoke-probe: %s still connected 10 s after SIGHUP\n", v.user);
		return 1;
	}
	printf("probe: revoked_ms=%.1f\n", (double)(v.lost_us - t_hup) / 1000.0);
	printf("probe: reload round_trips=%u max_ms=%.2f\n", after, (double)max_us / 1000.0);
	mosquitto_disconnect(w.mosq);
	mosquitto_loop(w.mosq, 100, 1);
	mosquitto_destroy(w.mosq);
	mosquitto_destroy(v.mosq);
	mosquitto_lib_cleanup();
	return 0;
}
