/* ota-fanout: the broker-only baselines of the OTA benchmark
 * (scripts/bench-ota.sh). No edged, no OTA protocol: bare MQTT v5 clients
 * (tests/sim/sim_conn, the simulator's own client) on one libuv loop.
 *
 * Fan-out (default): N subscriber clients subscribe to one topic; one
 * publisher sends a B-byte payload as ceil(B/C) QoS 0 messages of C bytes
 * (plus --overhead bytes each, e.g. the 24 of an OTA frame header, not
 * counted as payload) at full speed. Measured: from the first publish to
 * the last subscriber receiving its last message; reported as payload
 * bytes delivered per second over all subscribers and as the time every
 * subscriber needs for the whole payload: what the broker can fan out, the
 * figure edged's campaign is divided by. A broker may drop QoS 0 messages
 * a slow subscriber cannot take (mosquitto 2.0 rather keeps them in the
 * client's output queue: no loss seen on loopback, even with
 * max_queued_messages 5); any loss is reported and, with
 * --paced auto (the default), the run is repeated paced at half the rate
 * the full-speed run delivered (halving again, at most 4 times, while
 * messages are still lost). --paced BPS always adds a run paced at BPS
 * payload bytes per second; --paced off never does.
 *
 * --cpu-per-msg: one subscriber (a child process) and the publisher: K
 * messages of C bytes, at most --window unreceived at a time, and the
 * publisher process's CPU time (getrusage, user + system) per message: the
 * bare peer of edged's CPU per published chunk.
 *
 * Every run ends by count (all messages, or the end marker each subscriber
 * receives at QoS 1), by --quiet-ms without a message, or by --timeout-s.
 * Messages carry a 16-byte header: magic "OFAN", kind, run, sequence.
 *
 *   ota-fanout --port P [--host H] [--subscribers N] [--bytes B] [--chunk C]
 *              [--overhead H] [--paced auto|off|BPS] [--connect-rate R]
 *              [--max-pending M] [--timeout-s T] [--quiet-ms Q] [--topic T]
 *              [--id-prefix P]
 *   ota-fanout --port P --cpu-per-msg [--messages K] [--chunk C] [--window W]
 * Prints one `ota-fanout: run=full|paced ...` line per fan-out run, or one
 * `ota-fanout: run=cpu ...` line. Exit 0 when every run completed (loss is
 * a result, not an error), 1 when clients could not connect or time ran
 * out, 2 on bad arguments. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "sim_conn.h"
#include "sim_nofile.h"
#include "sim_pacer.h"

#define FAN_MAGIC 0x4e41464fu /* "OFAN" little-endian */
#define FAN_HDR 16
#define FAN_MAX_MESSAGES 1000000u
#define FAN_MAX_BYTES (64u << 20)
#define FAN_MAX_PACED_RUNS 4
#define FAN_TICK_MS 100
#define FAN_PACE_MS 2

enum fan_kind { FAN_PROBE = 1, FAN_DATA = 2, FAN_END = 3 };

struct fan_opts {
	const char *host;
	int port;
	unsigned subscribers;
	uint64_t bytes;
	unsigned chunk;
	unsigned overhead;
	int paced_auto;          /* 1 auto, 0 off / fixed */
	double paced_bps;        /* fixed pacing (> 0) */
	double connect_rate;
	unsigned max_pending;
	unsigned timeout_s;
	unsigned quiet_ms;
	const char *topic;
	const char *id_prefix;
	bool cpu;
	unsigned messages;
	unsigned window;
};

struct fan;

struct fan_sub {
	struct fan *f;
	struct sim_conn *c;
	bool up;                 /* got its CONNACK */
	bool probed;
	bool ended;              /* end marker of the current run */
	uint64_t msgs, bytes;    /* data of the current run */
	uint64_t t_last;         /* arrival of its last data message, hrtime */
	uint64_t stale;          /* messages of an earlier run */
};

struct fan_run {
	uint32_t id;
	double rate_bps;         /* 0: full speed */
	uint32_t sent;
	uint64_t t0;
	bool all_sent;
	unsigned ended;
};

struct fan {
	struct fan_opts o;
	uv_loop_t *loop;
	struct fan_sub *subs;
	struct sim_conn *pub;
	struct sim_pacer *pacer;
	uv_timer_t tick, pace, deadline;
	unsigned connected, failed, probed;
	uint32_t n_msgs;
	uint8_t *buf;            /* one message, header rewritten per publish */
	size_t buf_len;
	struct fan_run run;
	uint64_t last_rx;        /* any data message, hrtime */
	unsigned paced_runs;
	int rc;
	bool stopping;
	/* --cpu-per-msg, parent side */
	int pipe_rd;
	uv_poll_t pipe_poll;
	pid_t child;
	bool child_ready;
	uint64_t child_rx;       /* the child's last reported count */
	uint64_t presumed_lost;  /* given up on after a stall (QoS 0) */
	uint64_t last_progress;
	bool cpu_done;
	struct rusage ru0;
	uint64_t cpu_t0, cpu_t1;
	double cpu_s, utime_s, stime_s;
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Payload bytes message seq stands for: C, or what is left for the last. */
static uint64_t seq_bytes(const struct fan *f, uint32_t seq)
{
	assert(seq < f->n_msgs);
	uint64_t off = (uint64_t)seq * f->o.chunk;
	return f->o.bytes - off < f->o.chunk ? f->o.bytes - off : f->o.chunk;
}

/* Publish one message of kind/run/seq; its length follows the payload the
 * sequence stands for (probe and end: a header only). 0 or -errno. */
static int fan_publish(struct fan *f, enum fan_kind kind, uint32_t seq, int qos)
{
	size_t len = FAN_HDR;
	if (kind == FAN_DATA) {
		len = (size_t)seq_bytes(f, seq) + f->o.overhead;
		if (len < FAN_HDR)
			len = FAN_HDR;
	}
	assert(len <= f->buf_len);
	wr32(f->buf, FAN_MAGIC);
	wr32(f->buf + 4, kind);
	wr32(f->buf + 8, f->run.id);
	wr32(f->buf + 12, seq);
	return sim_conn_publish(f->pub, f->o.topic, f->buf, len, qos, false, NULL);
}

static void fan_stop(struct fan *f, int rc)
{
	if (f->stopping)
		return;
	f->stopping = true;
	if (rc > f->rc)
		f->rc = rc;
	uv_timer_stop(&f->tick);
	uv_timer_stop(&f->pace);
	uv_timer_stop(&f->deadline);
	uv_stop(f->loop);
}

/* ---- fan-out runs ---- */

static void run_start(struct fan *f, double rate_bps);

static void run_report(struct fan *f)
{
	uint64_t t_end = f->run.t0, delivered = 0, msgs = 0;
	unsigned complete = 0;
	for (unsigned i = 0; i < f->o.subscribers; i++) {
		const struct fan_sub *s = &f->subs[i];
		if (s->msgs && s->t_last > t_end)
			t_end = s->t_last;
		delivered += s->bytes;
		msgs += s->msgs;
		if (s->msgs == f->n_msgs)
			complete++;
	}
	uint64_t expected_msgs = (uint64_t)f->n_msgs * f->o.subscribers;
	uint64_t lost = expected_msgs > msgs ? expected_msgs - msgs : 0;
	double secs = (double)(t_end - f->run.t0) / 1e9;
	printf("ota-fanout: run=%s subscribers=%u bytes=%" PRIu64 " chunk=%u overhead=%u "
	       "messages=%" PRIu32 " rate_limit=%.0f seconds=%.3f delivered=%" PRIu64
	       " expected=%" PRIu64 " lost_msgs=%" PRIu64 " loss=%.4f bytes_per_s=%.0f "
	       "per_sub_bytes_per_s=%.0f complete_subs=%u\n",
	       f->run.rate_bps > 0 ? "paced" : "full", f->o.subscribers, f->o.bytes, f->o.chunk,
	       f->o.overhead, f->n_msgs, f->run.rate_bps, secs, delivered,
	       f->o.bytes * f->o.subscribers, lost,
	       expected_msgs ? (double)lost / (double)expected_msgs : 0.0,
	       secs > 0 ? (double)delivered / secs : 0.0,
	       secs > 0 ? (double)f->o.bytes / secs : 0.0, complete);
	fflush(stdout);

	/* The next run: paced at half what this one delivered per subscriber
	 * (auto, while messages are lost), or the fixed rate once. */
	double next = 0;
	if (f->o.paced_auto && lost > 0 && f->paced_runs < FAN_MAX_PACED_RUNS && secs > 0) {
		double got = (double)delivered / f->o.subscribers / secs;
		double base = f->run.rate_bps > 0 && f->run.rate_bps < got ? f->run.rate_bps : got;
		next = base / 2;
	} else if (!f->o.paced_auto && f->o.paced_bps > 0 && f->run.rate_bps == 0) {
		next = f->o.paced_bps;
	}
	if (next > 0 && next < f->o.chunk)
		next = f->o.chunk; /* at least one message a second */
	if (next > 0) {
		f->paced_runs++;
		run_start(f, next);
	} else {
		fan_stop(f, 0);
	}
}

static void run_end(struct fan *f)
{
	uv_timer_stop(&f->pace);
	run_report(f);
}

static void pace_cb(uv_timer_t *t)
{
	struct fan *f = t->data;
	struct fan_run *r = &f->run;
	uint32_t due = f->n_msgs;
	if (r->rate_bps > 0) {
		double bytes = (double)(uv_hrtime() - r->t0) / 1e9 * r->rate_bps;
		double n = bytes / f->o.chunk + 1; /* the first message at once */
		due = n >= f->n_msgs ? f->n_msgs : (uint32_t)n;
	}
	while (r->sent < due) {
		int err = fan_publish(f, FAN_DATA, r->sent, 0);
		if (err) {
			fprintf(stderr, "ota-fanout: publish: %s\n", strerror(-err));
			fan_stop(f, 1);
			return;
		}
		r->sent++;
	}
	if (r->sent == f->n_msgs) {
		uv_timer_stop(&f->pace);
		/* QoS 1: queued, not dropped, behind the data of each subscriber. */
		int err = fan_publish(f, FAN_END, 0, 1);
		if (err) {
			fprintf(stderr, "ota-fanout: publish: %s\n", strerror(-err));
			fan_stop(f, 1);
			return;
		}
		r->all_sent = true;
		f->last_rx = uv_hrtime();
	}
}

static void run_start(struct fan *f, double rate_bps)
{
	f->run.id++;
	f->run.rate_bps = rate_bps;
	f->run.sent = 0;
	f->run.all_sent = false;
	f->run.ended = 0;
	for (unsigned i = 0; i < f->o.subscribers; i++) {
		struct fan_sub *s = &f->subs[i];
		s->ended = false;
		s->msgs = s->bytes = 0;
		s->t_last = 0;
	}
	fprintf(stderr, "ota-fanout: run %" PRIu32 ": %" PRIu32 " messages to %u subscribers, %s\n",
		f->run.id, f->n_msgs, f->o.subscribers, rate_bps > 0 ? "paced" : "full speed");
	f->run.t0 = uv_hrtime();
	pace_cb(&f->pace);
	if (!f->stopping && !f->run.all_sent)
		uv_timer_start(&f->pace, pace_cb, FAN_PACE_MS, FAN_PACE_MS);
}

static void sub_message(struct sim_conn *c, const struct mosquitto_message *msg,
			const mosquitto_property *props)
{
	struct fan_sub *s = sim_conn_userdata(c);
	struct fan *f = s->f;
	(void)props;
	if (msg->payloadlen < FAN_HDR)
		return;
	const uint8_t *p = msg->payload;
	if (rd32(p) != FAN_MAGIC)
		return;
	uint32_t kind = rd32(p + 4), run = rd32(p + 8), seq = rd32(p + 12);
	if (kind == FAN_PROBE) {
		if (!s->probed) {
			s->probed = true;
			f->probed++;
		}
		return;
	}
	if (run != f->run.id || f->run.id == 0) {
		s->stale++;
		return;
	}
	if (kind == FAN_DATA && seq < f->n_msgs) {
		s->msgs++;
		s->bytes += seq_bytes(f, seq);
		s->t_last = f->last_rx = uv_hrtime();
	} else if (kind == FAN_END && !s->ended) {
		s->ended = true;
		if (++f->run.ended == f->o.subscribers)
			run_end(f);
	}
}

static void sub_connected(struct sim_conn *c, int reason)
{
	struct fan_sub *s = sim_conn_userdata(c);
	struct fan *f = s->f;
	sim_pacer_done(f->pacer);
	if (reason != 0 || sim_conn_subscribe(c, f->o.topic, 1) != 0) {
		fprintf(stderr, "ota-fanout: subscriber refused (reason %d)\n", reason);
		f->failed++;
		return;
	}
	s->up = true;
	f->connected++;
}

static void sub_disconnected(struct sim_conn *c, int rc)
{
	struct fan_sub *s = sim_conn_userdata(c);
	struct fan *f = s->f;
	if (f->stopping || rc == 0)
		return;
	fprintf(stderr, "ota-fanout: a subscriber lost its connection (%d)\n", rc);
	f->failed++;
	if (!s->up)
		sim_pacer_done(f->pacer); /* lost before its CONNACK */
}

static const struct sim_conn_handlers sub_handlers = {
	.connected = sub_connected,
	.disconnected = sub_disconnected,
	.message = sub_message,
};

static void pub_connected(struct sim_conn *c, int reason)
{
	struct fan *f = sim_conn_userdata(c);
	if (reason != 0) {
		fprintf(stderr, "ota-fanout: publisher refused (reason %d)\n", reason);
		fan_stop(f, 1);
	}
}

static void pub_disconnected(struct sim_conn *c, int rc)
{
	struct fan *f = sim_conn_userdata(c);
	if (f->stopping || rc == 0)
		return;
	fprintf(stderr, "ota-fanout: the publisher lost its connection (%d)\n", rc);
	fan_stop(f, 1);
}

static const struct sim_conn_handlers pub_handlers = {
	.connected = pub_connected,
	.disconnected = pub_disconnected,
};

static void start_sub(unsigned idx, void *ud)
{
	struct fan *f = ud;
	int err = sim_conn_connect(f->subs[idx].c, f->o.host, f->o.port, 60);
	if (err) {
		fprintf(stderr, "ota-fanout: subscriber %u: %s\n", idx, strerror(-err));
		f->failed++;
		sim_pacer_done(f->pacer);
	}
}

/* Keepalives; probes until every subscription is live (a probe received
 * proves it), then the first run; a run that went quiet ends. */
static void fan_tick(uv_timer_t *t)
{
	struct fan *f = t->data;
	for (unsigned i = 0; i < f->o.subscribers; i++)
		sim_conn_tick(f->subs[i].c);
	sim_conn_tick(f->pub);
	if (f->failed) {
		fprintf(stderr, "ota-fanout: %u subscribers failed\n", f->failed);
		fan_stop(f, 1);
		return;
	}
	if (f->run.id == 0) {
		if (!sim_conn_is_connected(f->pub) || f->connected < f->o.subscribers)
			return;
		if (f->probed < f->o.subscribers) {
			if (fan_publish(f, FAN_PROBE, 0, 0) != 0) {
				fan_stop(f, 1);
			}
			return;
		}
		run_start(f, 0);
		return;
	}
	if (f->run.all_sent && uv_hrtime() - f->last_rx > (uint64_t)f->o.quiet_ms * 1000000u) {
		fprintf(stderr, "ota-fanout: run %" PRIu32 ": quiet for %u ms, %u of %u end markers\n",
			f->run.id, f->o.quiet_ms, f->run.ended, f->o.subscribers);
		run_end(f);
	}
}

static void fan_deadline(uv_timer_t *t)
{
	struct fan *f = t->data;
	fprintf(stderr, "ota-fanout: timeout after %u s (connected %u of %u, probed %u, run %" PRIu32
		")\n", f->o.timeout_s, f->connected, f->o.subscribers, f->probed, f->run.id);
	fan_stop(f, 1);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int fanout_main(struct fan *f)
{
	unsigned long have = 0;
	unsigned long need = (unsigned long)(f->o.subscribers + 1) * SIM_CONN_FDS + 64;
	if (sim_raise_nofile(need, &have) != 0) {
		fprintf(stderr, "ota-fanout: need %lu descriptors, the limit is %lu\n", need, have);
		return 1;
	}
	sim_conn_lib_init();
	f->loop = uv_default_loop();
	f->subs = calloc(f->o.subscribers, sizeof(*f->subs));
	f->pacer = sim_pacer_new(f->loop, f->o.subscribers, f->o.connect_rate, f->o.max_pending,
				 start_sub, f);
	f->pub = sim_conn_new(f->loop, "ota-fanout-pub", &pub_handlers, f);
	if (!f->subs || !f->pacer || !f->pub) {
		fprintf(stderr, "ota-fanout: out of memory\n");
		return 1;
	}
	/* As edged's client: small frames go out at once. */
	sim_conn_set_nodelay(f->pub, true);
	for (unsigned i = 0; i < f->o.subscribers; i++) {
		char id[96];
		snprintf(id, sizeof(id), "%s-%05u", f->o.id_prefix, i);
		f->subs[i].f = f;
		f->subs[i].c = sim_conn_new(f->loop, id, &sub_handlers, &f->subs[i]);
		if (!f->subs[i].c || sim_pacer_push(f->pacer, i) != 0) {
			fprintf(stderr, "ota-fanout: out of memory\n");
			return 1;
		}
	}
	int err = sim_conn_connect(f->pub, f->o.host, f->o.port, 60);
	if (err) {
		fprintf(stderr, "ota-fanout: publisher: %s\n", strerror(-err));
		return 1;
	}
	uv_timer_init(f->loop, &f->tick);
	uv_timer_init(f->loop, &f->pace);
	uv_timer_init(f->loop, &f->deadline);
	f->tick.data = f->pace.data = f->deadline.data = f;
	uv_timer_start(&f->tick, fan_tick, FAN_TICK_MS, FAN_TICK_MS);
	uv_timer_start(&f->deadline, fan_deadline, (uint64_t)f->o.timeout_s * 1000, 0);
	uv_run(f->loop, UV_RUN_DEFAULT);

	/* Graceful goodbyes, one pass to send them, then everything closed. */
	for (unsigned i = 0; i < f->o.subscribers; i++)
		sim_conn_disconnect(f->subs[i].c);
	sim_conn_disconnect(f->pub);
	uv_run(f->loop, UV_RUN_NOWAIT);
	for (unsigned i = 0; i < f->o.subscribers; i++)
		sim_conn_free(f->subs[i].c);
	sim_conn_free(f->pub);
	sim_pacer_free(f->pacer);
	uv_walk(f->loop, close_walk, NULL);
	uv_run(f->loop, UV_RUN_DEFAULT);
	uv_loop_close(f->loop);
	sim_conn_lib_cleanup();
	free(f->subs);
	return f->rc;
}

/* ---- --cpu-per-msg ---- */

/* What the child tells the parent through the pipe. */
struct cpu_note {
	uint32_t type;           /* 1 subscribed (a probe arrived), 2 count */
	uint32_t pad;
	uint64_t count;          /* data messages received so far */
};

#define CPU_NOTE_EVERY 32

struct cpu_child {
	uv_loop_t *loop;
	struct sim_conn *c;
	uv_timer_t tick, deadline;
	int wfd;
	const char *topic;
	bool ready, done;
	uint64_t count;
	pid_t parent;
};

static void child_note(struct cpu_child *k, uint32_t type)
{
	struct cpu_note n = { .type = type, .count = k->count };
	/* Blocking pipe, 16-byte writes: atomic. The parent gone: stop. */
	if (write(k->wfd, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
		k->done = true;
		uv_stop(k->loop);
	}
}

static void child_message(struct sim_conn *c, const struct mosquitto_message *msg,
			  const mosquitto_property *props)
{
	struct cpu_child *k = sim_conn_userdata(c);
	(void)props;
	if (msg->payloadlen < FAN_HDR || rd32(msg->payload) != FAN_MAGIC)
		return;
	uint32_t kind = rd32((const uint8_t *)msg->payload + 4);
	if (kind == FAN_PROBE && !k->ready) {
		k->ready = true;
		child_note(k, 1);
	} else if (kind == FAN_DATA) {
		if (++k->count % CPU_NOTE_EVERY == 0)
			child_note(k, 2);
	} else if (kind == FAN_END && !k->done) {
		child_note(k, 2);
		k->done = true;
		uv_stop(k->loop);
	}
}

static void child_connected(struct sim_conn *c, int reason)
{
	struct cpu_child *k = sim_conn_userdata(c);
	if (reason != 0 || sim_conn_subscribe(c, k->topic, 1) != 0)
		uv_stop(k->loop);
}

static void child_disconnected(struct sim_conn *c, int rc)
{
	struct cpu_child *k = sim_conn_userdata(c);
	(void)rc;
	uv_stop(k->loop);
}

static const struct sim_conn_handlers child_handlers = {
	.connected = child_connected,
	.disconnected = child_disconnected,
	.message = child_message,
};

static void child_tick(uv_timer_t *t)
{
	struct cpu_child *k = t->data;
	sim_conn_tick(k->c);
	/* A partial count the parent waits for, and an orphan's exit. */
	if (k->ready)
		child_note(k, 2);
	if (getppid() != k->parent)
		uv_stop(k->loop);
}

static void child_stop(uv_timer_t *t)
{
	struct cpu_child *k = t->data;
	uv_stop(k->loop);
}

static int child_main(const struct fan_opts *o, int wfd, pid_t parent)
{
	struct cpu_child k = { .wfd = wfd, .topic = o->topic, .parent = parent };
	sim_conn_lib_init();
	k.loop = uv_default_loop();
	k.c = sim_conn_new(k.loop, "ota-fanout-cpu-sub", &child_handlers, &k);
	if (!k.c || sim_conn_connect(k.c, o->host, o->port, 60) != 0)
		return 1;
	uv_timer_init(k.loop, &k.tick);
	uv_timer_init(k.loop, &k.deadline);
	k.tick.data = k.deadline.data = &k;
	uv_timer_start(&k.tick, child_tick, 200, 200);
	uv_timer_start(&k.deadline, child_stop, (uint64_t)o->timeout_s * 1000 + 5000, 0);
	uv_run(k.loop, UV_RUN_DEFAULT);
	sim_conn_disconnect(k.c);
	uv_run(k.loop, UV_RUN_NOWAIT);
	sim_conn_free(k.c);
	uv_walk(k.loop, close_walk, NULL);
	uv_run(k.loop, UV_RUN_DEFAULT);
	uv_loop_close(k.loop);
	sim_conn_lib_cleanup();
	close(wfd);
	return k.done ? 0 : 1;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void cpu_finish(struct fan *f)
{
	struct rusage ru1;
	if (f->cpu_done)
		return;
	f->cpu_done = true;
	getrusage(RUSAGE_SELF, &ru1);
	f->cpu_t1 = uv_hrtime();
	f->utime_s = tv_s(ru1.ru_utime) - tv_s(f->ru0.ru_utime);
	f->stime_s = tv_s(ru1.ru_stime) - tv_s(f->ru0.ru_stime);
	f->cpu_s = f->utime_s + f->stime_s;
	/* The child ends on this; its last count follows before EOF. */
	if (fan_publish(f, FAN_END, 0, 1) != 0)
		fan_stop(f, 1);
}

/* Sent, neither received nor given up on. A message given up on may still
 * arrive late: never below 0. */
static uint64_t cpu_open(const struct fan *f)
{
	uint64_t done = f->child_rx + f->presumed_lost;
	return f->run.sent > done ? f->run.sent - done : 0;
}

/* Publish while fewer than --window messages are unaccounted for. */
static void cpu_pump(struct fan *f)
{
	if (!f->child_ready || f->cpu_done || f->stopping)
		return;
	while (f->run.sent < f->o.messages && cpu_open(f) < f->o.window) {
		int err = fan_publish(f, FAN_DATA, f->run.sent % f->n_msgs, 0);
		if (err) {
			fprintf(stderr, "ota-fanout: publish: %s\n", strerror(-err));
			fan_stop(f, 1);
			return;
		}
		f->run.sent++;
	}
	if (f->child_rx + f->presumed_lost >= f->o.messages)
		cpu_finish(f);
}

static void cpu_pipe_cb(uv_poll_t *h, int status, int events)
{
	struct fan *f = h->data;
	struct cpu_note n;
	(void)events;
	ssize_t r = status < 0 ? -1 : read(f->pipe_rd, &n, sizeof(n));
	if (r != (ssize_t)sizeof(n)) {
		/* EOF: the child is gone. */
		uv_poll_stop(h);
		fan_stop(f, f->cpu_done ? 0 : 1);
		return;
	}
	if (n.type == 1 && !f->child_ready) {
		f->child_ready = true;
		f->run.id = 1;
		f->last_progress = uv_hrtime();
		getrusage(RUSAGE_SELF, &f->ru0);
		f->cpu_t0 = uv_hrtime();
	} else if (n.type == 2 && n.count > f->child_rx) {
		f->child_rx = n.count;
		f->last_progress = uv_hrtime();
	}
	cpu_pump(f);
}

static void cpu_tick(uv_timer_t *t)
{
	struct fan *f = t->data;
	sim_conn_tick(f->pub);
	if (!f->child_ready) {
		if (sim_conn_is_connected(f->pub))
			(void)fan_publish(f, FAN_PROBE, 0, 0);
		return;
	}
	if (f->cpu_done)
		return;
	/* QoS 0 may lose a message: after a stall, what is missing is lost. */
	uint64_t idle_ns = uv_hrtime() - f->last_progress;
	uint64_t open = cpu_open(f);
	if (open > 0 && idle_ns > 500000000u) {
		f->presumed_lost += open;
		f->last_progress = uv_hrtime();
		cpu_pump(f);
	}
}

static int cpu_main(struct fan *f)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("ota-fanout: pipe");
		return 1;
	}
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		perror("ota-fanout: fork");
		return 1;
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(child_main(&f->o, fds[1], parent));
	}
	close(fds[1]);
	f->child = pid;
	f->pipe_rd = fds[0];

	sim_conn_lib_init();
	f->loop = uv_default_loop();
	f->pub = sim_conn_new(f->loop, "ota-fanout-cpu-pub", &pub_handlers, f);
	if (!f->pub) {
		fprintf(stderr, "ota-fanout: out of memory\n");
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 1;
	}
	sim_conn_set_nodelay(f->pub, true);
	int err = sim_conn_connect(f->pub, f->o.host, f->o.port, 60);
	if (err) {
		fprintf(stderr, "ota-fanout: publisher: %s\n", strerror(-err));
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 1;
	}
	uv_poll_init(f->loop, &f->pipe_poll, f->pipe_rd);
	f->pipe_poll.data = f;
	uv_poll_start(&f->pipe_poll, UV_READABLE, cpu_pipe_cb);
	uv_timer_init(f->loop, &f->tick);
	uv_timer_init(f->loop, &f->pace);
	uv_timer_init(f->loop, &f->deadline);
	f->tick.data = f->pace.data = f->deadline.data = f;
	uv_timer_start(&f->tick, cpu_tick, FAN_TICK_MS, FAN_TICK_MS);
	uv_timer_start(&f->deadline, fan_deadline, (uint64_t)f->o.timeout_s * 1000, 0);
	uv_run(f->loop, UV_RUN_DEFAULT);

	/* Bounded wait for the child: it ends on the end marker, or its own
	 * deadline; after 5 s it is killed. */
	int status = 0;
	pid_t w = 0;
	for (int i = 0; i < 500 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++)
		usleep(10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	sim_conn_disconnect(f->pub);
	uv_run(f->loop, UV_RUN_NOWAIT);
	sim_conn_free(f->pub);
	uv_walk(f->loop, close_walk, NULL);
	uv_run(f->loop, UV_RUN_DEFAULT);
	uv_loop_close(f->loop);
	sim_conn_lib_cleanup();
	close(f->pipe_rd);
	if (!f->cpu_done) {
		fprintf(stderr, "ota-fanout: cpu run incomplete: sent %" PRIu32 ", received %" PRIu64
			"\n", f->run.sent, f->child_rx);
		return 1;
	}
	double secs = (double)(f->cpu_t1 - f->cpu_t0) / 1e9;
	uint64_t lost = f->o.messages > f->child_rx ? f->o.messages - f->child_rx : 0;
	printf("ota-fanout: run=cpu messages=%u chunk=%u overhead=%u window=%u sent=%" PRIu32
	       " received=%" PRIu64 " lost_msgs=%" PRIu64 " seconds=%.3f msgs_per_s=%.0f "
	       "cpu_s=%.3f utime_s=%.3f stime_s=%.3f cpu_us_per_msg=%.2f\n",
	       f->o.messages, f->o.chunk, f->o.overhead, f->o.window, f->run.sent, f->child_rx,
	       lost, secs, secs > 0 ? f->o.messages / secs : 0.0, f->cpu_s, f->utime_s,
	       f->stime_s, f->cpu_s * 1e6 / f->o.messages);
	return f->rc;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ota-fanout --port P [--host H] [--subscribers N] [--bytes B] [--chunk C]\n"
		"                  [--overhead H] [--paced auto|off|BPS] [--connect-rate R]\n"
		"                  [--max-pending M] [--timeout-s T] [--quiet-ms Q]\n"
		"                  [--topic T] [--id-prefix P]\n"
		"       ota-fanout --port P --cpu-per-msg [--messages K] [--chunk C]\n"
		"                  [--overhead H] [--window W] [--timeout-s T]\n"
		"Fan-out: N subscribers, B bytes as QoS 0 messages of C (+H) bytes, full speed\n"
		"(then paced if messages were lost, --paced auto); prints one\n"
		"'ota-fanout: run=full|paced ... seconds=S bytes_per_s=X ...' line per run.\n"
		"--cpu-per-msg: K messages to one subscriber (a child process), at most W\n"
		"unreceived; prints 'ota-fanout: run=cpu ... cpu_us_per_msg=U' (the\n"
		"publisher process's user + system CPU per message).\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_u(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t v;
	if (parse_u64(s, lo, hi, &v))
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct fan_opts *o)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "subscribers", required_argument, NULL, 'n' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "overhead", required_argument, NULL, 'o' },
		{ "paced", required_argument, NULL, 'P' },
		{ "connect-rate", required_argument, NULL, 'r' },
		{ "max-pending", required_argument, NULL, 'm' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "quiet-ms", required_argument, NULL, 'q' },
		{ "topic", required_argument, NULL, 'T' },
		{ "id-prefix", required_argument, NULL, 'i' },
		{ "cpu-per-msg", no_argument, NULL, 'C' },
		{ "messages", required_argument, NULL, 'k' },
		{ "window", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'H' },
		{ 0 },
	};
	int ch, bad = 0;
	unsigned port = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': o->host = optarg; break;
		case 'p': bad |= parse_u(optarg, 1, 65535, &port); break;
		case 'n': bad |= parse_u(optarg, 1, 100000, &o->subscribers); break;
		case 'b': bad |= parse_u64(optarg, 1, FAN_MAX_BYTES, &o->bytes); break;
		case 'c': bad |= parse_u(optarg, FAN_HDR, 1u << 20, &o->chunk); break;
		case 'o': bad |= parse_u(optarg, 0, 4096, &o->overhead); break;
		case 'P':
			if (strcmp(optarg, "auto") == 0) {
				o->paced_auto = 1;
			} else if (strcmp(optarg, "off") == 0) {
				o->paced_auto = 0;
				o->paced_bps = 0;
			} else {
				uint64_t v;
				bad |= parse_u64(optarg, 1, 100000000000ull, &v);
				o->paced_auto = 0;
				o->paced_bps = (double)v;
			}
			break;
		case 'r': o->connect_rate = strtod(optarg, NULL); break;
		case 'm': bad |= parse_u(optarg, 0, 100000, &o->max_pending); break;
		case 't': bad |= parse_u(optarg, 1, 86400, &o->timeout_s); break;
		case 'q': bad |= parse_u(optarg, 100, 600000, &o->quiet_ms); break;
		case 'T': o->topic = optarg; break;
		case 'i': o->id_prefix = optarg; break;
		case 'C': o->cpu = true; break;
		case 'k': bad |= parse_u(optarg, 1, 100000000, &o->messages); break;
		case 'w': bad |= parse_u(optarg, 1, 65536, &o->window); break;
		case 'H': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	o->port = (int)port;
	if (bad || optind != argc || port == 0 || !(o->connect_rate > 0) || !o->topic[0] ||
	    strpbrk(o->topic, "+#"))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct fan f = {
		.o = {
			.host = "127.0.0.1",
			.subscribers = 1000,
			.bytes = 100000,
			.chunk = 1024,
			.paced_auto = 1,
			.connect_rate = 1000,
			.max_pending = 100,
			.timeout_s = 300,
			.quiet_ms = 2000,
			.topic = "bench/ota-fanout",
			.id_prefix = "fan",
			.messages = 50000,
			.window = 256,
		},
		.pipe_rd = -1,
	};
	if (parse_opts(argc, argv, &f.o) != 0) {
		usage(stderr);
		return 2;
	}
	/* A pipe or socket whose peer went away is an error code, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (f.o.cpu) {
		f.o.bytes = f.o.chunk; /* every message a full chunk */
	}
	uint64_t n = (f.o.bytes + f.o.chunk - 1) / f.o.chunk;
	if (n > FAN_MAX_MESSAGES) {
		fprintf(stderr, "ota-fanout: %" PRIu64 " messages, at most %u\n", n,
			FAN_MAX_MESSAGES);
		return 2;
	}
	f.n_msgs = (uint32_t)n;
	f.buf_len = (size_t)f.o.chunk + f.o.overhead + FAN_HDR;
	f.buf = calloc(1, f.buf_len);
	if (!f.buf) {
		fprintf(stderr, "ota-fanout: out of memory\n");
		return 1;
	}
	for (size_t i = FAN_HDR; i < f.buf_len; i++)
		f.buf[i] = (uint8_t)(i * 131u + 7u); /* not all zeros: no accidental compression */
	int rc = f.o.cpu ? cpu_main(&f) : fanout_main(&f);
	free(f.buf);
	return rc;
}
