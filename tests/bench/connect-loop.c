/* Bare connect loop: connect N MQTT v5 clients to a broker with the same
 * pacing as the simulator, no edged involved, and report how long it took
 * until every CONNACK arrived. The fleet benchmark divides the simulator's
 * time-to-all-online by this figure: the cost edged adds over the broker. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "sim_conn.h"
#include "sim_nofile.h"
#include "sim_pacer.h"

struct loop_opts {
	const char *host;
	int port;
	unsigned count;
	double rate;
	unsigned max_pending;
	int keepalive;
	unsigned timeout_s;
	const char *id_prefix;
};

struct bench {
	struct loop_opts o;
	uv_loop_t *loop;
	struct sim_conn **conns;
	struct sim_pacer *pacer;
	uv_timer_t deadline;
	uint64_t t0, t_done;
	unsigned connected, refused, failed;
	bool finished;
};

static void finish(struct bench *b);

static void on_connected(struct sim_conn *c, int reason)
{
	struct bench *b = sim_conn_userdata(c);
	if (reason == 0)
		b->connected++;
	else
		b->refused++;
	sim_pacer_done(b->pacer);
	if (b->connected + b->refused + b->failed == b->o.count)
		finish(b);
}

static void on_disconnected(struct sim_conn *c, int rc)
{
	struct bench *b = sim_conn_userdata(c);
	if (b->finished || rc == 0)
		return;
	/* Lost before the CONNACK: counts as a failed connect. */
	if (!sim_conn_is_connected(c)) {
		b->failed++;
		sim_pacer_done(b->pacer);
		if (b->connected + b->refused + b->failed == b->o.count)
			finish(b);
	}
}

static const struct sim_conn_handlers handlers = {
	.connected = on_connected,
	.disconnected = on_disconnected,
};

static void start_one(unsigned idx, void *ud)
{
	struct bench *b = ud;
	int err = sim_conn_connect(b->conns[idx], b->o.host, b->o.port,
				   b->o.keepalive);
	if (err) {
		fprintf(stderr, "connect-loop: client %u: %s\n", idx, strerror(-err));
		b->failed++;
		sim_pacer_done(b->pacer);
		if (b->connected + b->refused + b->failed == b->o.count)
			finish(b);
	}
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void finish(struct bench *b)
{
	if (b->finished)
		return;
	b->finished = true;
	b->t_done = uv_hrtime();
	uv_timer_stop(&b->deadline);
	for (unsigned i = 0; i < b->o.count; i++)
		sim_conn_disconnect(b->conns[i]);
	uv_stop(b->loop);
}

static void on_deadline(uv_timer_t *t)
{
	struct bench *b = t->data;
	fprintf(stderr, "connect-loop: timeout after %u s with %u of %u connected\n",
		b->o.timeout_s, b->connected, b->o.count);
	finish(b);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: connect-loop [--host H] --port P [--count N] [--connect-rate R]\n"
		"                    [--max-pending M] [--keepalive S] [--timeout-s T]\n"
		"                    [--id-prefix P]\n"
		"Connects N MQTT v5 clients at R per second (jittered), prints\n"
		"'connect-loop: connected=N refused=N failed=N seconds=S rate=R'.\n");
}

static int parse_opts(int argc, char **argv, struct loop_opts *o)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"count", required_argument, NULL, 'n'},
		{"connect-rate", required_argument, NULL, 'r'},
		{"max-pending", required_argument, NULL, 'm'},
		{"keepalive", required_argument, NULL, 'k'},
		{"timeout-s", required_argument, NULL, 't'},
		{"id-prefix", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'H'},
		{0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 'n': o->count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o->rate = strtod(optarg, NULL); break;
		case 'm': o->max_pending = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': o->keepalive = atoi(optarg); break;
		case 't': o->timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': o->id_prefix = optarg; break;
		case 'H': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc || o->port <= 0 || o->port > 65535 || o->count == 0 ||
	    o->count > 100000 || !(o->rate > 0) || o->keepalive < 5 ||
	    o->timeout_s == 0)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = {
		.o = {
			.host = "127.0.0.1",
			.count = 1000,
			.rate = 500,
			.max_pending = 64,
			.keepalive = 60,
			.timeout_s = 300,
			.id_prefix = "bare",
		},
	};
	if (parse_opts(argc, argv, &b.o) != 0) {
		usage(stderr);
		return 2;
	}
	unsigned long have = 0, need = (unsigned long)b.o.count * SIM_CONN_FDS + 64;
	if (sim_raise_nofile(need, &have) != 0) {
		fprintf(stderr, "connect-loop: need %lu descriptors, the limit is %lu "
			"(raise it with ulimit -n, or run as root)\n", need, have);
		return 1;
	}
	sim_conn_lib_init();
	b.loop = uv_default_loop();
	b.conns = calloc(b.o.count, sizeof(*b.conns));
	b.pacer = sim_pacer_new(b.loop, b.o.count, b.o.rate, b.o.max_pending,
				start_one, &b);
	if (!b.conns || !b.pacer) {
		fprintf(stderr, "connect-loop: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < b.o.count; i++) {
		char id[96];
		snprintf(id, sizeof(id), "%s-%05u", b.o.id_prefix, i);
		b.conns[i] = sim_conn_new(b.loop, id, &handlers, &b);
		if (!b.conns[i] || sim_pacer_push(b.pacer, i) != 0) {
			fprintf(stderr, "connect-loop: out of memory\n");
			return 1;
		}
	}
	uv_timer_init(b.loop, &b.deadline);
	b.deadline.data = &b;
	uv_timer_start(&b.deadline, on_deadline, (uint64_t)b.o.timeout_s * 1000, 0);
	b.t0 = uv_hrtime();
	uv_run(b.loop, UV_RUN_DEFAULT);

	/* One more pass so queued DISCONNECTs go out before the sockets close. */
	uv_run(b.loop, UV_RUN_NOWAIT);

	double secs = (double)(b.t_done - b.t0) / 1e9;
	printf("connect-loop: connected=%u refused=%u failed=%u seconds=%.3f rate=%.1f\n",
	       b.connected, b.refused, b.failed, secs,
	       secs > 0 ? b.connected / secs : 0.0);

	for (unsigned i = 0; i < b.o.count; i++)
		sim_conn_free(b.conns[i]);
	free(b.conns);
	sim_pacer_free(b.pacer);
	uv_walk(b.loop, close_walk, NULL);
	uv_run(b.loop, UV_RUN_DEFAULT);
	uv_loop_close(b.loop);
	sim_conn_lib_cleanup();
	return b.connected == b.o.count ? 0 : 1;
}
