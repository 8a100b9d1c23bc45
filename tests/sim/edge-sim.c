/* edge-sim: N TinyML nodes (1..10,000) as real MQTT v5 clients of the
 * broker, in one process on one libuv loop. Every message goes through
 * proto's codec. See `edge-sim --help` and the README's simulator section.
 *
 * Output (stdout, one line per event, stable for tests to parse):
 *   sim: connected all N in S s
 *   sim: registered all N in S s
 *   sim: settled registered=R refused=F total=N in S s
 *   sim: refused node=ID reason=R detail=D
 *   sim: connack-refused node=ID reason=0xNN (first of each node)
 *   sim: connect-failed node=ID rc=N         (first of each node)
 *   sim: lost node=ID rc=N                   (a live session ended)
 *   sim: malformed node=ID kind=K expect=REASON
 *   sim: cmd-ok LINE | sim: cmd-error LINE: why
 *   sim: stats ... / sim: summary ...   (same fields)
 *   sim: events node=ID epoch=E first=1 last=N dropped=D acked=K held=H
 *                                       (after each stats/summary line, per
 *                                        node with --anomaly-rate)
 *   sim: bad-ack node=ID reason=R field=F
 *   sim: ack-latency n=N p50_ms=X p90_ms=X p99_ms=X max_ms=X untracked=U
 *                                       (after the events lines, with
 *                                        --anomaly-rate: report sent → ack
 *                                        covering it, since the previous one)
 *   sim: ota-results N nodes in S s     (--ota-exit-after N reached; the
 *                                        stats/summary lines end with the
 *                                        ota_* counters under --ota-trust)
 *   sim: offload node=ID offload_sent=N ... (per node: `stats NODES`; the
 *                                        stats/summary lines end with the
 *                                        offload_* and verify_* counters
 *                                        under --offload-model)
 *
 * Every node follows proto/node-protocol.md §2: CONNECT with its will,
 * SUBSCRIBE registered, the one `online` status of the connection (boot
 * after power-up, reconnect later), then hello, retried on the §2.1 step 5
 * schedule (also after a refusal the spec says to retry); heartbeats once
 * accepted; full-jitter reconnect backoff. With --anomaly-rate, nodes
 * detect anomalies and send them through the device SDK's report queue
 * (§5.5-5.7): batches on report, acks applied, retransmission. With
 * --ota-trust, nodes run the device SDK's OTA receiver (sim_ota.h). With
 * --offload-model, nodes send inference requests and shadow verifications
 * (sim_offload.h, proto/infer/offload.md). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "edge_node_msg.h"
#include "sim_acklat.h"
#include "sim_bundle.h"
#include "sim_conn.h"
#include "sim_malformed.h"
#include "sim_msgs.h"
#include "sim_nofile.h"
#include "sim_offload.h"
#include "sim_ota.h"
#include "sim_pacer.h"
#include "sim_reports.h"
#include "sim_select.h"

#define SIM_MAX_NODES 10000
#define SIM_PAYLOAD_CAP (EDGE_MSG_MAX_PAYLOAD + 1)

enum node_state {
	N_IDLE,       /* not connected, nothing scheduled */
	N_QUEUED,     /* waiting for the pacer */
	N_CONNECTING, /* socket open, no CONNACK yet */
	N_WAIT_REG,   /* hello sent, waiting for `registered` */
	N_REGISTERED, /* accepted, heartbeating */
	N_REFUSED,    /* the gateway said no; stays connected and quiet */
	N_DOWN,       /* no socket; maybe a reconnect is scheduled */
};

struct sim;

struct node {
	struct sim *sim;
	unsigned idx;
	char id[EDGE_ID_MAX_LEN + 1];
	char topic_registered[EDGE_TOPIC_MAX_LEN + 1];
	struct sim_conn *conn;
	uv_timer_t hb_timer;  /* heartbeats, or hello retries before registration */
	uv_timer_t act_timer; /* crash / disconnect / flap / reconnect */
	enum node_state st;
	bool silent, crash, disconnect, flap, malformed;
	bool stay_down;       /* killed or disconnected on purpose */
	bool pacer_pending;   /* counted in the pacer's pending until CONNACK */
	bool ever_connected, ever_registered, ever_refused, behaviour_done;
	bool malformed_sent;
	bool is_twin;         /* a second device with the same id (command twin) */
	bool retry_refused;   /* refused with a reason §5.4 says to retry */
	struct node *twin;
	uint32_t hb_seq, reconnects, heartbeat_s;
	unsigned backoff_exp, hello_tries;
	uint64_t boot_ms;
	const char *password; /* from --credentials, NULL without */
	const struct sim_bundle *bundle; /* from --bundle-dir, NULL without */
	bool said_connack;    /* its first refused CONNACK was printed */
	bool said_connfail;   /* its first failed connect was printed */
	bool connack_refused; /* this connect ended in a refused CONNACK */
	struct sim_reports *rep; /* --anomaly-rate: its report queue, else NULL */
	uv_timer_t rep_timer;    /* next detection or (re)transmission */
	struct sim_acklat_node acklat; /* its reports in flight, for the latency */
	char topic_ack[EDGE_TOPIC_MAX_LEN + 1];
	struct sim_ota_node *ota;  /* --ota-trust: its receiver and "flash", else NULL */
	uv_timer_t ota_timer;      /* an OTA misbehaviour's drop, outside MQTT callbacks */
	unsigned ota_pending;      /* SIM_OTA_EV_REBOOT / _DISCONNECT to act on */
	bool booting;              /* the next online status says boot */
	struct sim_offload_node *off; /* --offload-model: its offload client, else NULL */
	bool off_requests;         /* in --offload-nodes, with --offload-rate */
	uv_timer_t off_timer;      /* next offload request */
	uv_timer_t own_timer;      /* next own inference (shadow sampling) */
	char topic_infer_resp[EDGE_TOPIC_MAX_LEN + 1];
};

struct sim_opts {
	const char *host;
	int port;
	unsigned count;
	const char *id_prefix;
	unsigned heartbeat_s;
	double connect_rate;
	unsigned max_pending;
	unsigned duration_s;
	unsigned keepalive_s;
	double reconnect_s;     /* mean base delay after a lost connection */
	double reconnect_max_s;
	unsigned hello_retry_s;
	double crash_after_s, disconnect_after_s, flap_every_s;
	struct sim_select sel_silent, sel_crash, sel_disconnect, sel_flap,
		sel_malformed;
	const char *malformed_kind; /* NULL, a kind name or "all" */
	bool exit_crash;            /* at the end: drop sockets instead of DISCONNECT */
	const char *credentials;    /* file of id:password lines */
	const char *cafile;         /* TLS to the broker */
	const char *cert_dir;       /* DIR/<id>.crt and DIR/<id>.key: mutual TLS */
	const char *bundle_dir;     /* DIR/<id>.json: what `edgectl nodes provision` gives */
	bool host_set;              /* --host given (else a bundle's may be used) */
	bool verbose;
	bool tcp_nodelay;           /* TCP_NODELAY: no Nagle wait on small publishes */
	double anomaly_rate;        /* events per node per second; 0: none */
	unsigned report_slots;      /* report queue slots per node */
	unsigned report_rto_ms;     /* retransmission base; 0: the SDK's */
	unsigned report_rto_max_ms; /* retransmission cap; 0: the SDK's */
	bool seed_set;
	unsigned seed;              /* --seed: rand() and --ota-drop */
	const char *ota_trust;      /* DIR of *.pub: OTA on */
	unsigned ota_threshold;
	struct sim_select sel_ota_deny, sel_ota_stall, sel_ota_reboot,
		sel_ota_disconnect, sel_ota_corrupt, sel_ota_fail_selftest,
		sel_ota_forget_previous;
	double ota_stall_s;
	double ota_drop_pct;
	/* --anomaly-factor NAME@VERSION=F: nodes running that model detect
	 * anomalies at F times --anomaly-rate (a model that behaves worse) */
	char factor_model[2 * EDGE_MSG_TOKEN_CAP];
	double factor;
	unsigned ota_exit_after;    /* stop once this many nodes reported a result */
	const char *ops;            /* --ops LIST for the hello (and the receiver) */
	unsigned arena_bytes, flash_bytes;
	const char *offload_models[SIM_OFFLOAD_MODELS_MAX]; /* --offload-model */
	unsigned n_offload_models;
	double offload_rate;        /* requests per node per second; 0: none */
	const char *offload_by_name; /* NAME@VERSION: model ref kind 2 */
	unsigned offload_deadline_ms;
	struct sim_select sel_offload;   /* --offload-nodes (all) */
	const char *offload_bad;    /* --offload-bad KIND */
	bool offload_check;
	bool verify_permille_set;
	unsigned verify_permille;
	double own_rate;            /* own inferences per second (shadow) */
	struct sim_select sel_verify_corrupt;
};

struct sim_counts {
	unsigned open_sockets;
	unsigned connected_now, registered_now, refused_now;
	unsigned ever_connected, ever_registered, ever_refused;
	unsigned long registered_acks, refusals, heartbeats, malformed, hellos;
	unsigned long lost, reconnects, kills, disconnects;
	unsigned long err_connect, err_connack, err_publish, err_reply;
	unsigned long acks, err_ack;
};

struct sim {
	struct sim_opts o;
	uv_loop_t *loop;
	struct node *nodes;
	struct sim_pacer *pacer;
	uv_timer_t tick, duration, drain;
	uv_signal_t sigint, sigterm, sigusr1;
	uv_stream_t *input;
	union {
		uv_pipe_t pipe;
		uv_tty_t tty;
	} input_h;
	char line[1024];
	size_t line_len;
	uint64_t t0;
	struct sim_counts c;
	struct sim_acklat_hist acklat; /* report → ack, since the last stats */
	bool said_connected, said_registered, said_settled, stopping, finished;
	const struct sim_malformed_kind *malformed_kind;
	char *credentials_text; /* the --credentials file; passwords point into it */
	struct sim_bundles *bundle_set; /* --bundle-dir: owns the TLS temp files */
	struct sim_bundle *bundles;     /* one per node */
	bool caps;                      /* hellos announce fleet's ops/budgets */
	struct sim_ota_fleet fleet;     /* trust and capabilities (--ota-trust, --ops) */
	uv_timer_t ota_tick;            /* drives the busy receivers */
	unsigned ota_final;             /* nodes that reported a final result */
	struct sim_offload_fleet off;   /* --offload-model: models, interpreters */
};

static const char *progname = "edge-sim";

/* Node idx, or its twin (NULL if it has none). */
static struct node *pacer_node(struct sim *s, unsigned idx, bool twin)
{
	return twin ? s->nodes[idx].twin : &s->nodes[idx];
}

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sim: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static double elapsed_s(const struct sim *s)
{
	return (double)(uv_hrtime() - s->t0) / 1e9;
}

static double rand01(void)
{
	return (double)rand() / ((double)RAND_MAX + 1.0);
}

/* mean * U[0.5, 1.5): spread events without changing their average. */
static uint64_t jitter_ms(double mean_s)
{
	double ms = mean_s * 1000.0 * (0.5 + rand01());
	return ms < 1 ? 1 : (uint64_t)ms;
}

static void print_counts(struct sim *s, const char *what)
{
	const struct sim_counts *c = &s->c;
	unsigned long errors = c->err_connect + c->err_connack + c->err_publish +
			       c->err_reply;
	/* The report queues' counters, summed over the fleet. */
	unsigned long ev_pushed = 0, ev_sent = 0, ev_resent = 0, reports = 0,
		      ev_acked = 0, ev_dropped = 0, foreign = 0, ev_held = 0,
		      ev_lost_reboot = 0, ev_found_lost = 0;
	for (unsigned i = 0; i < s->o.count; i++) {
		const struct sim_reports *r = s->nodes[i].rep;
		if (!r)
			continue;
		const struct edge_report_queue_stats *q = edge_report_queue_stats(&r->q);
		const struct edge_report_queue_stats *e = &r->earlier;
		ev_pushed += q->pushed + e->pushed;
		ev_sent += q->sent + e->sent;
		ev_resent += q->resent + e->resent;
		reports += q->batches + e->batches;
		ev_acked += q->acked + e->acked;
		ev_dropped += q->dropped + e->dropped;
		foreign += q->foreign_acks + e->foreign_acks;
		ev_found_lost += q->lost + e->lost;
		ev_held += edge_report_queue_count(&r->q);
		ev_lost_reboot += r->lost_at_reboot;
	}
	errors += c->err_ack;
	/* With OTA: the receivers' counters, summed over the fleet. */
	char ota[512] = "";
	if (s->o.ota_trust) {
		struct sim_ota_stats t;
		memset(&t, 0, sizeof(t));
		for (unsigned i = 0; i < s->o.count; i++)
			if (s->nodes[i].ota)
				sim_ota_stats_add(&t, s->nodes[i].ota);
		snprintf(ota, sizeof(ota),
			 " ota_offers=%lu ota_accepted=%lu ota_denied=%lu ota_chunks=%lu "
			 "ota_dups=%lu ota_bad=%lu ota_stray=%lu ota_activated=%lu ota_reverted=%lu "
			 "ota_failed=%lu ota_dropped=%lu ota_corrupted=%lu ota_ignored=%lu "
			 "ota_stalls=%lu ota_reboots=%lu ota_disconnects=%lu ota_send_errors=%lu "
			 "ota_reverts=%lu ota_revert_failures=%lu",
			 t.offers, t.accepted, t.denied, t.chunks, t.dups, t.bad, t.stray, t.activated,
			 t.reverted, t.failed, t.dropped, t.corrupted, t.ignored, t.stalled,
			 t.reboots, t.disconnects, t.send_errors, t.reverts, t.revert_failures);
	}
	/* With offload: the clients' counters, summed over the fleet. */
	char off[1024] = "";
	if (s->off.n_models) {
		static struct sim_offload_stats t; /* a histogram: not on the stack */
		memset(&t, 0, sizeof(t));
		for (unsigned i = 0; i < s->o.count; i++)
			if (s->nodes[i].off)
				sim_offload_stats_add(&t, &s->nodes[i].off->st);
		(void)sim_offload_stats_format(off, sizeof(off), &t);
	}
	say("%s nodes=%u connected=%u registered=%u refused=%u "
	    "registered_acks=%lu refusals=%lu hellos=%lu heartbeats=%lu "
	    "malformed=%lu lost=%lu reconnects=%lu killed=%lu disconnected=%lu "
	    "errors=%lu err_connect=%lu err_connack=%lu err_publish=%lu "
	    "err_reply=%lu seconds=%.3f poll_wakeups=%lu "
	    "events=%lu events_sent=%lu events_resent=%lu reports=%lu acks=%lu "
	    "events_acked=%lu events_dropped=%lu events_held=%lu "
	    "events_lost_reboot=%lu events_found_lost=%lu foreign_acks=%lu "
	    "err_ack=%lu%s%s",
	    what, s->o.count, c->connected_now, c->registered_now, c->refused_now,
	    c->registered_acks, c->refusals, c->hellos, c->heartbeats,
	    c->malformed, c->lost, c->reconnects, c->kills, c->disconnects, errors,
	    c->err_connect, c->err_connack, c->err_publish, c->err_reply,
	    elapsed_s(s), sim_conn_poll_wakeups(),
	    ev_pushed, ev_sent, ev_resent, reports, c->acks, ev_acked, ev_dropped,
	    ev_held, ev_lost_reboot, ev_found_lost, foreign, c->err_ack, ota, off);
}

/* One line per node with a report queue: the seqs of its current epoch it
 * generated (first..last, none when last=0) and what became of them, so a
 * test can compare a database with them event by event. */
static void print_events(struct sim *s)
{
	for (unsigned i = 0; i < s->o.count; i++) {
		const struct sim_reports *r = s->nodes[i].rep;
		if (!r)
			continue;
		const struct edge_report_queue_stats *q = edge_report_queue_stats(&r->q);
		say("events node=%s epoch=%lu first=%u last=%lu dropped=%lu acked=%lu held=%lu",
		    s->nodes[i].id, (unsigned long)edge_report_queue_epoch(&r->q),
		    r->last_seq ? 1u : 0u, (unsigned long)r->last_seq,
		    (unsigned long)q->dropped, (unsigned long)q->acked,
		    (unsigned long)edge_report_queue_count(&r->q));
	}
}

/* The ack latency since the previous line; the histogram starts again, so
 * a benchmark reads one window per pair of stats. */
static void print_acklat(struct sim *s)
{
	struct sim_acklat_hist *h = &s->acklat;

	if (!(s->o.anomaly_rate > 0))
		return;
	say("ack-latency n=%llu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f untracked=%llu",
	    (unsigned long long)h->n, (double)sim_acklat_quantile(h, 0.50) / 1000.0,
	    (double)sim_acklat_quantile(h, 0.90) / 1000.0,
	    (double)sim_acklat_quantile(h, 0.99) / 1000.0, (double)h->max_us / 1000.0,
	    (unsigned long long)h->untracked);
	memset(h, 0, sizeof(*h));
}

static void check_milestones(struct sim *s)
{
	unsigned n = s->o.count;
	if (!s->said_connected && s->c.ever_connected == n) {
		s->said_connected = true;
		say("connected all %u in %.3f s", n, elapsed_s(s));
	}
	if (!s->said_settled && s->c.ever_registered + s->c.ever_refused == n) {
		s->said_settled = true;
		say("settled registered=%u refused=%u total=%u in %.3f s",
		    s->c.ever_registered, s->c.ever_refused, n, elapsed_s(s));
	}
	if (!s->said_registered && s->c.ever_registered == n) {
		s->said_registered = true;
		say("registered all %u in %.3f s", n, elapsed_s(s));
	}
}

/* ---- state bookkeeping: every transition goes through set_state. */

static void set_state(struct node *nd, enum node_state st)
{
	struct sim_counts *c = &nd->sim->c;
	bool was_conn = nd->st == N_WAIT_REG || nd->st == N_REGISTERED ||
			nd->st == N_REFUSED;
	bool is_conn = st == N_WAIT_REG || st == N_REGISTERED || st == N_REFUSED;
	c->open_sockets += (is_conn || st == N_CONNECTING) -
			   (was_conn || nd->st == N_CONNECTING);
	c->connected_now += is_conn - was_conn;
	c->registered_now += (st == N_REGISTERED) - (nd->st == N_REGISTERED);
	c->refused_now += (st == N_REFUSED) - (nd->st == N_REFUSED);
	nd->st = st;
}

static void pacer_release(struct node *nd)
{
	if (nd->pacer_pending) {
		nd->pacer_pending = false;
		sim_pacer_done(nd->sim->pacer);
	}
}

static void connect_now(struct node *nd);

static void queue_connect(struct node *nd)
{
	if (nd->st != N_IDLE && nd->st != N_DOWN)
		return;
	if (nd->is_twin) {
		connect_now(nd); /* one node: no pacing needed */
		return;
	}
	if (sim_pacer_push(nd->sim->pacer, nd->idx) == 0)
		set_state(nd, N_QUEUED);
}

/* Full-jitter exponential backoff for reconnects after a lost connection. */
static void schedule_reconnect(struct node *nd);

static int publish(struct node *nd, enum edge_topic_type type,
		   const char *payload, int len, int qos, bool retain)
{
	char topic[EDGE_TOPIC_MAX_LEN + 1];
	int rc = len < 0 ? len : sim_msgs_topic(topic, sizeof(topic), nd->id, type);
	if (rc >= 0)
		rc = sim_conn_publish(nd->conn, topic, payload, (size_t)len, qos,
				      retain, NULL);
	if (rc < 0) {
		nd->sim->c.err_publish++;
		if (nd->sim->o.verbose)
			say("publish-error node=%s type=%s: %s", nd->id,
			    edge_topic_type_name(type), strerror(-rc));
	}
	return rc;
}

static void send_hello(struct node *nd)
{
	struct sim *s = nd->sim;
	char buf[SIM_PAYLOAD_CAP];
	int n;
	if (s->caps) {
		struct sim_msgs_caps caps = {
			.ops = s->fleet.ops,
			.n_ops = s->fleet.n_ops,
			.arena_bytes = s->fleet.arena_bytes,
			.flash_bytes = s->fleet.flash_bytes,
			/* an activated model stays in flash: every hello says it */
			.model = nd->ota ? sim_ota_model(nd->ota) : NULL,
		};
		n = sim_msgs_encode_hello_caps(buf, sizeof(buf), nd->id, s->o.heartbeat_s,
					       &caps);
	} else {
		n = sim_msgs_encode_hello(buf, sizeof(buf), nd->id, s->o.heartbeat_s);
	}
	if (publish(nd, EDGE_TOPIC_HELLO, buf, n, 1, false) == 0)
		nd->sim->c.hellos++;
	nd->hello_tries++;
}

static void send_status(struct node *nd, enum edge_msg_state state,
			enum edge_msg_status_reason reason)
{
	char buf[SIM_PAYLOAD_CAP];
	int n = sim_msgs_encode_status(buf, sizeof(buf), state, reason);
	(void)publish(nd, EDGE_TOPIC_STATUS, buf, n, 1, true);
}

static void send_heartbeat(struct node *nd)
{
	char buf[SIM_PAYLOAD_CAP];
	uint64_t up = (uv_now(nd->sim->loop) - nd->boot_ms) / 1000;
	int n = nd->rep ?
		sim_msgs_encode_heartbeat_reports(buf, sizeof(buf), nd->hb_seq++, up,
			nd->reconnects, nd->rep->detected_since_boot,
			edge_report_queue_stats(&nd->rep->q)->dropped) :
		sim_msgs_encode_heartbeat(buf, sizeof(buf), nd->hb_seq++, up,
					  nd->reconnects);
	if (publish(nd, EDGE_TOPIC_HEARTBEAT, buf, n, 0, false) == 0)
		nd->sim->c.heartbeats++;
}

/* ---- anomaly reports (--anomaly-rate) */

/* Detect what is due, send what the queue says is due (registered only:
 * reports before an accepted hello would be dropped), and sleep until the
 * next of either. */
static void on_rep_timer(uv_timer_t *t)
{
	struct node *nd = t->data;
	struct sim *s = nd->sim;
	uint64_t now = uv_now(s->loop), next;
	bool online = nd->st == N_REGISTERED;
	char buf[SIM_PAYLOAD_CAP];
	size_t len;
	int got = 0;

	if (s->stopping)
		return;
	(void)sim_reports_detect(nd->rep, now);
	while (online && (got = edge_report_queue_next_batch(&nd->rep->q, now, buf,
							     sizeof(buf), &len)) > 0) {
		if (publish(nd, EDGE_TOPIC_REPORT, buf, (int)len, 1, false) != 0)
			break; /* the queue retransmits it later */
	}
	/* Nothing left due: every seq pushed so far has gone out. */
	if (online && got == 0 && nd->rep->last_seq)
		sim_acklat_sent(&nd->acklat, &s->acklat, edge_report_queue_epoch(&nd->rep->q),
				nd->rep->last_seq, uv_hrtime() / 1000);
	next = sim_reports_next_wakeup(nd->rep, online);
	uv_timer_start(&nd->rep_timer, on_rep_timer, next > now ? next - now : 1, 0);
}

/* Registered on a (new) connection: what was in flight is likely lost, so
 * everything unacked goes again now (§5.7). */
static void reports_online(struct node *nd)
{
	if (!nd->rep)
		return;
	edge_report_queue_retry_now(&nd->rep->q);
	uv_timer_start(&nd->rep_timer, on_rep_timer, 0, 0);
}

static void on_ack(struct node *nd, const struct mosquitto_message *msg)
{
	struct sim *s = nd->sim;
	struct edge_msg_ack a;
	struct edge_msg_error err;

	if (msg->payloadlen == 0 || !nd->rep)
		return; /* the gateway clearing the topic */
	if (edge_msg_parse_ack(msg->payload, (size_t)msg->payloadlen, &a, &err) != 0) {
		s->c.err_ack++;
		say("bad-ack node=%s reason=%s field=%s", nd->id,
		    edge_msg_reject_name(err.reason), err.field);
		return;
	}
	s->c.acks++;
	(void)edge_report_queue_apply_ack(&nd->rep->q, &a);
	sim_acklat_acked(&nd->acklat, &s->acklat, a.epoch, a.acked, uv_hrtime() / 1000);
}

static void send_malformed(struct node *nd, const struct sim_malformed_kind *only)
{
	struct sim *s = nd->sim;
	for (size_t i = 0; i < sim_malformed_count; i++) {
		const struct sim_malformed_kind *k = &sim_malformed_kinds[i];
		if (only && only != k)
			continue;
		struct sim_malformed_msg m;
		int rc = sim_malformed_build(k, nd->id, s->o.heartbeat_s, &m);
		if (rc == 0) {
			rc = sim_conn_publish(nd->conn, m.topic, m.payload, m.len,
					      1, m.retain != 0, NULL);
			free(m.payload);
		}
		if (rc < 0) {
			s->c.err_publish++;
			say("malformed-error node=%s kind=%s: %s", nd->id, k->name,
			    strerror(-rc));
			continue;
		}
		s->c.malformed++;
		say("malformed node=%s kind=%s expect=%s", nd->id, k->name,
		    edge_msg_reject_name(k->expect));
	}
}

/* §2.1 step 5: retry n after a uniformly random wait in [T/2, T],
 * T = min(300 s, base · 2^(n-1)); base is 30 s in the spec (--hello-retry-s). */
static uint64_t hello_retry_ms(const struct sim *s, unsigned n)
{
	double t = s->o.hello_retry_s * 1000.0 * (double)(1u << (n > 1 ? (n - 1 < 16 ? n - 1 : 16) : 0));

	if (t > 300000.0)
		t = 300000.0;
	t = t / 2 + t / 2 * rand01();
	return t < 1 ? 1 : (uint64_t)t;
}

/* ---- behaviours */

static void crash(struct node *nd)
{
	if (!sim_conn_has_socket(nd->conn))
		return;
	sim_conn_abort(nd->conn);
	pacer_release(nd);
	uv_timer_stop(&nd->hb_timer);
	set_state(nd, N_DOWN);
}

static void clean_disconnect(struct node *nd)
{
	if (!sim_conn_is_connected(nd->conn)) {
		crash(nd);
		return;
	}
	uv_timer_stop(&nd->hb_timer);
	send_status(nd, EDGE_MSG_STATE_OFFLINE, EDGE_MSG_STATUS_SHUTDOWN);
	sim_conn_disconnect(nd->conn); /* → on_disconnected(rc 0) */
}

static void on_act_timer(uv_timer_t *t)
{
	struct node *nd = t->data;
	struct sim *s = nd->sim;
	if (s->stopping)
		return;
	if (nd->st == N_DOWN || nd->st == N_IDLE) {
		/* a scheduled reconnect */
		if (!nd->stay_down)
			queue_connect(nd);
		return;
	}
	if (nd->st != N_REGISTERED)
		return;
	if (nd->flap) {
		crash(nd);
		schedule_reconnect(nd);
	} else if (nd->crash && !nd->behaviour_done) {
		nd->behaviour_done = true;
		nd->stay_down = true;
		s->c.kills++;
		crash(nd);
	} else if (nd->disconnect && !nd->behaviour_done) {
		nd->behaviour_done = true;
		nd->stay_down = true;
		s->c.disconnects++;
		clean_disconnect(nd);
	}
}

static void schedule_reconnect(struct node *nd)
{
	struct sim *s = nd->sim;
	if (nd->stay_down || s->stopping || !(s->o.reconnect_s > 0))
		return;
	double cap = s->o.reconnect_s * 1000.0 * (double)(1u << nd->backoff_exp);
	if (cap > s->o.reconnect_max_s * 1000.0)
		cap = s->o.reconnect_max_s * 1000.0;
	else
		nd->backoff_exp++;
	uint64_t ms = (uint64_t)(cap * rand01()) + 1;
	uv_timer_start(&nd->act_timer, on_act_timer, ms, 0);
}

static void on_hb_timer(uv_timer_t *t)
{
	struct node *nd = t->data;
	if (nd->st == N_REGISTERED && !nd->silent) {
		send_heartbeat(nd);
	} else if (nd->st == N_WAIT_REG || (nd->st == N_REFUSED && nd->retry_refused)) {
		/* No answer yet (gateway down or slow), or a refusal to retry:
		 * say hello again on the spec's schedule. hello_tries counts the
		 * hellos of this connection, so this is retry n = hello_tries. */
		send_hello(nd);
		uv_timer_start(&nd->hb_timer, on_hb_timer,
			       hello_retry_ms(nd->sim, nd->hello_tries), 0);
	}
}

static void start_heartbeats(struct node *nd)
{
	uint64_t period = (uint64_t)nd->heartbeat_s * 1000;
	/* First beat at a random phase so a fleet does not beat in lockstep. */
	uv_timer_start(&nd->hb_timer, on_hb_timer, 1 + (uint64_t)(rand01() * (double)period),
		       period);
}

static void on_drain(uv_timer_t *t);
static void on_duration(uv_timer_t *t);

/* ---- OTA (--ota-trust): proto's receiver on sim_ota's platform */

static int ota_send(void *ud, const char *json, size_t len, bool is_ack)
{
	struct node *nd = ud;
	char topic[EDGE_TOPIC_MAX_LEN + 1];
	int rc = edge_topic_build(topic, sizeof(topic), nd->id, EDGE_TOPIC_OTA, "req/answer");
	if (rc < 0)
		return rc;
	if (!sim_conn_is_connected(nd->conn))
		return -ENOTCONN; /* the receiver answers again when asked */
	rc = sim_conn_publish(nd->conn, topic, json, len, is_ack ? 0 : 1, false, NULL);
	if (rc < 0) {
		nd->sim->c.err_publish++;
		if (nd->sim->o.verbose)
			say("publish-error node=%s type=ota: %s", nd->id, strerror(-rc));
	}
	return rc;
}

static int ota_campaign(void *ud, uint32_t transfer, bool on)
{
	struct node *nd = ud;
	char topic[EDGE_TOPIC_MAX_LEN + 1];
	int rc = edge_ota_campaign_topic(topic, sizeof(topic), NULL, transfer);
	if (rc < 0)
		return rc;
	/* Not connected: on_connected subscribes what sim_ota remembers. */
	if (!sim_conn_is_connected(nd->conn))
		return 0;
	rc = on ? sim_conn_subscribe(nd->conn, topic, 0) :
		  sim_conn_unsubscribe(nd->conn, topic);
	if (rc < 0)
		nd->sim->c.err_publish++;
	return rc;
}

/* A new connection: the node's frame topic, the campaign it was in. */
static void ota_online(struct node *nd)
{
	char topic[EDGE_TOPIC_MAX_LEN + 1];
	if (edge_topic_build(topic, sizeof(topic), nd->id, EDGE_TOPIC_OTA, "frame") < 0 ||
	    sim_conn_subscribe(nd->conn, topic, 1) != 0)
		nd->sim->c.err_publish++;
	if (nd->ota->campaign)
		(void)ota_campaign(nd, nd->ota->campaign, true);
	sim_ota_online(nd->ota);
}

/* edge/v1/<id>/ota/frame or edge/v1/_campaign/<t>/frame */
static bool ota_frame_topic(const struct node *nd, const char *topic)
{
	static const char pre[] = "edge/v1/";
	size_t il = strlen(nd->id);
	if (strncmp(topic, pre, sizeof(pre) - 1) != 0)
		return false;
	topic += sizeof(pre) - 1;
	if (strncmp(topic, EDGE_OTA_CAMPAIGN_ID "/", sizeof(EDGE_OTA_CAMPAIGN_ID)) == 0)
		return true;
	return strncmp(topic, nd->id, il) == 0 && strcmp(topic + il, "/ota/frame") == 0;
}

/* A misbehaviour's drop, from the loop (never inside libmosquitto). */
static void on_ota_timer(uv_timer_t *t)
{
	struct node *nd = t->data;
	struct sim *s = nd->sim;
	unsigned ev = nd->ota_pending;
	nd->ota_pending = 0;
	if (s->stopping || !sim_conn_has_socket(nd->conn))
		return; /* already down: its reconnect brings it online */
	uv_timer_stop(&nd->act_timer);
	crash(nd);
	if (ev & SIM_OTA_EV_REBOOT) {
		/* Power cycle (sim_ota dropped the receiver): status boot,
		 * counters from 0, queued reports lost with the RAM. */
		nd->booting = true;
		nd->hb_seq = 0;
		nd->reconnects = 0;
		if (nd->rep)
			sim_reports_reboot(nd->rep, uv_now(s->loop));
	}
	nd->stay_down = false;
	schedule_reconnect(nd);
}

/* Reports name the model the node runs now, at its model's rate. */
static void report_model(struct node *nd)
{
	struct sim *s = nd->sim;
	const struct edge_msg_model *m = sim_ota_model(nd->ota);
	char ref[2 * EDGE_MSG_TOKEN_CAP + 2];
	double factor = 1;

	if (!nd->rep || !m)
		return;
	snprintf(ref, sizeof(ref), "%s@%s", m->name, m->version);
	if (s->o.factor_model[0] && strcmp(ref, s->o.factor_model) == 0)
		factor = s->o.factor;
	if (sim_reports_set_model(nd->rep, m->name, m->version, factor, uv_now(s->loop)) == 0)
		uv_timer_start(&nd->rep_timer, on_rep_timer, 0, 0);
}

/* What the receiver's work asked of the node. */
static void ota_events(struct node *nd)
{
	struct sim *s = nd->sim;
	unsigned ev = sim_ota_take_events(nd->ota);
	if (!ev)
		return;
	if (ev & (SIM_OTA_EV_MODEL | SIM_OTA_EV_FINAL))
		report_model(nd);
	/* The capabilities changed: hello again, now with the model. */
	if ((ev & SIM_OTA_EV_MODEL) && sim_conn_is_connected(nd->conn))
		send_hello(nd);
	if (ev & (SIM_OTA_EV_REBOOT | SIM_OTA_EV_DISCONNECT)) {
		nd->ota_pending |= ev & (SIM_OTA_EV_REBOOT | SIM_OTA_EV_DISCONNECT);
		uv_timer_start(&nd->ota_timer, on_ota_timer, 0, 0);
	}
	if ((ev & SIM_OTA_EV_FINAL) && ++s->ota_final == s->o.ota_exit_after) {
		say("ota-results %u nodes in %.3f s", s->ota_final, elapsed_s(s));
		/* Stop from the loop (we may be inside a message callback), a
		 * second later: the last nodes' results are still in their
		 * connections' output queues, and a stop now would drop them. */
		uv_timer_start(&s->duration, on_duration, 1000, 0);
	}
}

static void on_ota_tick(uv_timer_t *t)
{
	struct sim *s = t->data;
	uint64_t now = uv_now(s->loop);
	for (unsigned i = 0; i < s->o.count; i++) {
		struct node *nd = &s->nodes[i];
		if (!nd->ota)
			continue;
		sim_ota_tick(nd->ota, now);
		ota_events(nd);
	}
}

/* ---- offload (--offload-model): requests, responses, shadow verification */

static int off_publish(struct node *nd, const char *sub, const void *buf, size_t len,
		       const mosquitto_property *props)
{
	char topic[EDGE_TOPIC_MAX_LEN + 1];
	int rc = edge_topic_build(topic, sizeof(topic), nd->id, EDGE_TOPIC_INFER, sub);
	if (rc >= 0)
		rc = sim_conn_publish(nd->conn, topic, buf, len, 0, false, props);
	if (rc < 0) {
		nd->sim->c.err_publish++;
		if (nd->sim->o.verbose)
			say("publish-error node=%s type=infer/%s: %s", nd->id, sub,
			    strerror(-rc));
	}
	return rc < 0 ? rc : 0;
}

static int off_request(void *ud, const void *buf, size_t len, const uint8_t *corr,
		       size_t corr_len, bool resp_topic)
{
	struct node *nd = ud;
	mosquitto_property *props = NULL;
	int rc = sim_offload_props(&props, resp_topic ? nd->topic_infer_resp : NULL, corr,
				   corr_len);
	if (rc == 0)
		rc = off_publish(nd, EDGE_INFER_SUB_REQ, buf, len, props);
	mosquitto_property_free_all(&props);
	return rc;
}

static int off_verify(void *ud, const void *buf, size_t len)
{
	return off_publish(ud, EDGE_INFER_SUB_VERIFY, buf, len, NULL);
}

/* Exponential gaps: a Poisson process of `rate` per second. */
static uint64_t poisson_ms(double rate)
{
	double ms = -log(1.0 - rand01()) / rate * 1000.0;
	return ms < 1 ? 1 : (uint64_t)ms;
}

static void on_off_timer(uv_timer_t *t)
{
	struct node *nd = t->data;
	struct sim *s = nd->sim;
	/* Registered nodes only; on_registered starts the timer again. */
	if (nd->st != N_REGISTERED || s->stopping)
		return;
	(void)sim_offload_request(nd->off, uv_hrtime() / 1000);
	uv_timer_start(&nd->off_timer, on_off_timer, poisson_ms(s->o.offload_rate), 0);
}

static void on_own_timer(uv_timer_t *t)
{
	struct node *nd = t->data;
	struct sim *s = nd->sim;
	if (nd->st != N_REGISTERED || s->stopping || !sim_offload_shadow_on(nd->off))
		return;
	(void)sim_offload_own(nd->off);
	uv_timer_start(&nd->own_timer, on_own_timer, jitter_ms(1.0 / s->o.own_rate), 0);
}

/* Registered: the gateway's sampling share, and the node's timers. */
static void off_registered(struct node *nd, uint32_t verify_permille)
{
	struct sim *s = nd->sim;
	if (!nd->off)
		return;
	sim_offload_set_permille(nd->off, verify_permille);
	if (nd->off_requests)
		uv_timer_start(&nd->off_timer, on_off_timer, poisson_ms(s->o.offload_rate), 0);
	if (sim_offload_shadow_on(nd->off))
		uv_timer_start(&nd->own_timer, on_own_timer, jitter_ms(1.0 / s->o.own_rate), 0);
	else
		uv_timer_stop(&nd->own_timer);
}

static void on_infer_resp(struct node *nd, const struct mosquitto_message *msg,
			  const mosquitto_property *props)
{
	uint8_t corr[EDGE_INFER_CORR_MAX];
	int n = sim_offload_corr(props, corr, sizeof(corr));
	/* Longer than the protocol allows: matches nothing of ours. */
	sim_offload_on_response(nd->off, msg->payload, (size_t)msg->payloadlen,
				n > 0 ? corr : NULL, n > 0 ? (size_t)n : 0, uv_hrtime() / 1000);
}

static void print_offload_nodes(struct sim *s, const struct sim_select *sel)
{
	for (unsigned i = 0; i < s->o.count; i++) {
		const struct node *nd = &s->nodes[i];
		char line[1024];
		if (!nd->off || !sim_select_has(sel, i))
			continue;
		(void)sim_offload_stats_format(line, sizeof(line), &nd->off->st);
		say("offload node=%s%s", nd->id, line);
	}
}

/* ---- MQTT events */

static void on_connected(struct sim_conn *conn, int reason)
{
	struct node *nd = sim_conn_userdata(conn);
	struct sim *s = nd->sim;
	pacer_release(nd);
	if (reason != 0) {
		s->c.err_connack++;
		/* The first refusal of each node is always worth a line (a
		 * wrong or revoked credential); repeats only when verbose. */
		if (!nd->said_connack || s->o.verbose)
			say("connack-refused node=%s reason=0x%02x", nd->id, reason);
		nd->said_connack = true;
		nd->connack_refused = true;
		return; /* the broker closes; on_disconnected follows */
	}
	nd->backoff_exp = 0;
	if (nd->ever_connected) {
		if (!nd->booting)
			nd->reconnects++;
		s->c.reconnects++;
	} else {
		nd->ever_connected = true;
		if (!nd->is_twin)
			s->c.ever_connected++;
	}
	set_state(nd, N_WAIT_REG);
	nd->hello_tries = 0;
	nd->retry_refused = false;
	/* §2.1: subscribe before hello so the reply cannot be missed; the
	 * connection's one online status, then hello. */
	if (sim_conn_subscribe(conn, nd->topic_registered, 1) != 0)
		s->c.err_publish++;
	if (nd->rep && sim_conn_subscribe(conn, nd->topic_ack, 1) != 0)
		s->c.err_publish++;
	/* offload.md §1: infer/resp before the first request */
	if (nd->off && sim_conn_subscribe(conn, nd->topic_infer_resp, 0) != 0)
		s->c.err_publish++;
	if (nd->ota)
		ota_online(nd);
	send_status(nd, EDGE_MSG_STATE_ONLINE,
		    nd->reconnects && !nd->booting ? EDGE_MSG_STATUS_RECONNECT :
						     EDGE_MSG_STATUS_BOOT);
	nd->booting = false;
	send_hello(nd);
	uv_timer_start(&nd->hb_timer, on_hb_timer, hello_retry_ms(s, 1), 0);
	check_milestones(s);
}

static void on_disconnected(struct sim_conn *conn, int rc)
{
	struct node *nd = sim_conn_userdata(conn);
	struct sim *s = nd->sim;
	bool was_connecting = nd->st == N_CONNECTING;
	bool connack_refused = nd->connack_refused;
	nd->connack_refused = false;
	pacer_release(nd);
	uv_timer_stop(&nd->hb_timer);
	set_state(nd, N_DOWN);
	if (s->stopping) {
		/* Finish from the loop, never inside libmosquitto's callback. */
		if (s->c.open_sockets == 0)
			uv_timer_start(&s->drain, on_drain, 0, 0);
		return;
	}
	if (rc == 0)
		return; /* our own DISCONNECT */
	if (was_connecting) {
		s->c.err_connect++;
		/* Ended before a CONNACK (e.g. a TLS handshake the broker
		 * refused: a revoked certificate): the first of each node is a
		 * line. A refused CONNACK said so already. */
		if (!connack_refused && (!nd->said_connfail || s->o.verbose)) {
			say("connect-failed node=%s rc=%d", nd->id, rc);
			nd->said_connfail = true;
		}
	} else {
		s->c.lost++;
		/* The broker or the network ended a live session (a revoked
		 * credential shows here). */
		say("lost node=%s rc=%d", nd->id, rc);
	}
	schedule_reconnect(nd);
}

static void on_registered(struct node *nd, const struct mosquitto_message *msg)
{
	struct sim *s = nd->sim;
	struct edge_msg_registered r;
	struct edge_msg_error err;

	/* An empty retained message: the gateway clearing the node's topics
	 * (node-protocol.md §6.4), not an answer. */
	if (msg->payloadlen == 0)
		return;
	if (edge_msg_parse_registered(msg->payload, (size_t)msg->payloadlen, &r,
				      &err) != 0) {
		s->c.err_reply++;
		say("bad-reply node=%s reason=%s field=%s", nd->id,
		    edge_msg_reject_name(err.reason), err.field);
		return;
	}
	if (!r.accepted && nd->st == N_REGISTERED) {
		/* The answer to a malformed hello: the registration stands. */
		s->c.refusals++;
		return;
	}
	if (!r.accepted) {
		s->c.refusals++;
		if (!nd->ever_refused && !nd->is_twin) {
			nd->ever_refused = true;
			s->c.ever_refused++;
		}
		/* §5.4: retry on the hello schedule unless the reason says stop
		 * (bad_hello: the sim's hellos are valid, so it stays quiet). */
		nd->retry_refused = r.refusal == EDGE_MSG_REFUSE_DEVICE_LIMIT ||
				    r.refusal == EDGE_MSG_REFUSE_INTERNAL ||
				    r.refusal == EDGE_MSG_REFUSE_OTHER;
		if (nd->retry_refused && nd->st != N_REFUSED)
			uv_timer_start(&nd->hb_timer, on_hb_timer,
				       hello_retry_ms(s, nd->hello_tries), 0);
		else if (!nd->retry_refused)
			uv_timer_stop(&nd->hb_timer);
		set_state(nd, N_REFUSED);
		say("refused node=%s reason=%s detail=%s", nd->id,
		    r.refusal_text[0] ? r.refusal_text : edge_msg_refusal_name(r.refusal),
		    r.detail[0] ? r.detail : "-");
		check_milestones(s);
		return;
	}
	s->c.registered_acks++;
	/* Also for the answer to a retried hello: its share may differ. (A
	 * restarted Poisson clock is still Poisson: it has no memory.) */
	off_registered(nd, r.verify_permille);
	if (nd->st == N_REGISTERED)
		return; /* an answer to a retried hello */
	if (!nd->ever_registered && !nd->is_twin) {
		nd->ever_registered = true;
		s->c.ever_registered++;
		if (nd->ever_refused) {
			nd->ever_refused = false;
			s->c.ever_refused--;
		}
	}
	set_state(nd, N_REGISTERED);
	reports_online(nd);
	nd->heartbeat_s = r.heartbeat_s ? r.heartbeat_s : s->o.heartbeat_s;
	if (!nd->silent)
		start_heartbeats(nd);
	else
		uv_timer_stop(&nd->hb_timer);
	if (nd->malformed && !nd->malformed_sent) {
		nd->malformed_sent = true;
		send_malformed(nd, s->malformed_kind);
	}
	if (nd->flap)
		uv_timer_start(&nd->act_timer, on_act_timer,
			       jitter_ms(s->o.flap_every_s), 0);
	else if (nd->crash && !nd->behaviour_done)
		uv_timer_start(&nd->act_timer, on_act_timer,
			       jitter_ms(s->o.crash_after_s), 0);
	else if (nd->disconnect && !nd->behaviour_done)
		uv_timer_start(&nd->act_timer, on_act_timer,
			       jitter_ms(s->o.disconnect_after_s), 0);
	check_milestones(s);
}

static void on_message(struct sim_conn *conn, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct node *nd = sim_conn_userdata(conn);
	if (strcmp(msg->topic, nd->topic_registered) == 0)
		on_registered(nd, msg);
	else if (nd->rep && strcmp(msg->topic, nd->topic_ack) == 0)
		on_ack(nd, msg);
	else if (nd->ota && ota_frame_topic(nd, msg->topic)) {
		(void)sim_ota_on_frame(nd->ota, msg->payload, (size_t)msg->payloadlen,
				       uv_now(nd->sim->loop));
		ota_events(nd);
	} else if (nd->off && strcmp(msg->topic, nd->topic_infer_resp) == 0)
		on_infer_resp(nd, msg, props);
}

static const struct sim_conn_handlers node_handlers = {
	.connected = on_connected,
	.disconnected = on_disconnected,
	.message = on_message,
};

static void connect_now(struct node *nd)
{
	struct sim *s = nd->sim;
	if (!nd->ever_connected)
		nd->boot_ms = uv_now(s->loop);
	int rc = sim_conn_connect(nd->conn, s->o.host, s->o.port, (int)s->o.keepalive_s);
	if (rc != 0) {
		s->c.err_connect++;
		set_state(nd, N_DOWN);
		schedule_reconnect(nd);
		return;
	}
	set_state(nd, N_CONNECTING);
}

static void pacer_start(unsigned idx, void *ud)
{
	struct sim *s = ud;
	struct node *nd = pacer_node(s, idx, false);
	if (nd->st != N_QUEUED || s->stopping || nd->stay_down) {
		/* Killed or stopped while waiting in the queue. */
		if (nd->st == N_QUEUED)
			set_state(nd, N_DOWN);
		sim_pacer_done(s->pacer);
		return;
	}
	nd->pacer_pending = true;
	if (!nd->ever_connected)
		nd->boot_ms = uv_now(s->loop);
	int rc = sim_conn_connect(nd->conn, s->o.host, s->o.port,
				  (int)s->o.keepalive_s);
	if (rc != 0) {
		s->c.err_connect++;
		if (s->o.verbose)
			say("connect-error node=%s: %s", nd->id, strerror(-rc));
		pacer_release(nd);
		set_state(nd, N_DOWN);
		schedule_reconnect(nd);
		return;
	}
	set_state(nd, N_CONNECTING);
}

/* ---- twins: a second device with the same id */

static int setup_node_conn(struct sim *s, struct node *nd);

/* The broker lets one session per client id live: each connect of one twin
 * takes the session over from the other, which reconnects after its backoff
 * and takes it back. Both follow the protocol, so the gateway sees one new
 * session per takeover. */
static int start_twin(struct node *nd)
{
	struct sim *s = nd->sim;
	struct node *tw;
	int rc;

	if (nd->twin)
		return 0;
	tw = calloc(1, sizeof(*tw));
	if (!tw)
		return -ENOMEM;
	tw->sim = s;
	tw->idx = nd->idx;
	tw->is_twin = true;
	snprintf(tw->id, sizeof(tw->id), "%s", nd->id);
	snprintf(tw->topic_registered, sizeof(tw->topic_registered), "%s",
		 nd->topic_registered);
	tw->heartbeat_s = s->o.heartbeat_s;
	tw->password = nd->password;
	tw->bundle = nd->bundle;
	rc = setup_node_conn(s, tw);
	if (rc) {
		sim_conn_free(tw->conn);
		free(tw);
		return rc;
	}
	tw->st = N_IDLE;
	nd->twin = tw;
	queue_connect(tw);
	return 0;
}

/* ---- control channel: one command per stdin line */

static void stop_sim(struct sim *s);

static int control_command(struct sim *s, char *line, char *why, size_t whylen)
{
	char *save = NULL;
	char *cmd = strtok_r(line, " \t", &save);
	if (!cmd)
		return 0;
	if (strcmp(cmd, "stats") == 0) {
		/* stats NODES: also one offload line per selected node */
		char *which = strtok_r(NULL, " \t", &save);
		struct sim_select sel;
		if (which && sim_select_parse(&sel, which, 99) != 0) {
			snprintf(why, whylen, "expected: stats [NODES] (all | 3 | 1,4-9 | 10%%)");
			return -EINVAL;
		}
		print_counts(s, "stats");
		print_events(s);
		print_acklat(s);
		if (which)
			print_offload_nodes(s, &sel);
		return 0;
	}
	if (strcmp(cmd, "quit") == 0) {
		stop_sim(s);
		return 0;
	}
	char *spec = strtok_r(NULL, " \t", &save);
	char *arg = strtok_r(NULL, " \t", &save);
	struct sim_select sel;
	if (!spec || sim_select_parse(&sel, spec, 99) != 0) {
		snprintf(why, whylen, "expected: %s NODES (all | 3 | 1,4-9 | 10%%)", cmd);
		return -EINVAL;
	}
	const struct sim_malformed_kind *kind = NULL;
	if (strcmp(cmd, "malformed") == 0 && arg && strcmp(arg, "all") != 0) {
		kind = sim_malformed_find(arg);
		if (!kind) {
			snprintf(why, whylen, "unknown malformed kind '%s'", arg);
			return -EINVAL;
		}
	}
	static const char *const known[] = {
		"kill", "disconnect", "silence", "resume", "connect", "hello",
		"malformed", "reboot", "drop", "twin", "calm",
	};
	bool ok = false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= strcmp(cmd, known[i]) == 0;
	if (!ok) {
		snprintf(why, whylen, "unknown command '%s' (kill, disconnect, "
			 "silence, resume, connect, hello, malformed, reboot, drop, "
			 "twin, calm, stats, quit)", cmd);
		return -EINVAL;
	}
	for (unsigned i = 0; i < s->o.count; i++) {
		struct node *nd = &s->nodes[i];
		if (!sim_select_has(&sel, i))
			continue;
		if (strcmp(cmd, "kill") == 0) {
			nd->stay_down = true;
			uv_timer_stop(&nd->act_timer);
			if (sim_conn_has_socket(nd->conn))
				s->c.kills++;
			crash(nd);
		} else if (strcmp(cmd, "disconnect") == 0) {
			nd->stay_down = true;
			uv_timer_stop(&nd->act_timer);
			if (sim_conn_has_socket(nd->conn))
				s->c.disconnects++;
			clean_disconnect(nd);
		} else if (strcmp(cmd, "calm") == 0) {
			if (nd->rep)
				sim_reports_calm(nd->rep);
		} else if (strcmp(cmd, "silence") == 0) {
			nd->silent = true;
			if (nd->st == N_REGISTERED)
				uv_timer_stop(&nd->hb_timer);
		} else if (strcmp(cmd, "resume") == 0) {
			nd->silent = false;
			if (nd->st == N_REGISTERED) {
				send_heartbeat(nd);
				start_heartbeats(nd);
			}
		} else if (strcmp(cmd, "connect") == 0) {
			nd->stay_down = false;
			queue_connect(nd);
		} else if (strcmp(cmd, "hello") == 0) {
			if (sim_conn_is_connected(nd->conn))
				send_hello(nd);
		} else if (strcmp(cmd, "malformed") == 0) {
			if (sim_conn_is_connected(nd->conn))
				send_malformed(nd, kind);
		} else if (strcmp(cmd, "reboot") == 0) {
			/* crash (the broker fires the will), then power up again:
			 * a new boot, reason boot, fresh counters */
			uv_timer_stop(&nd->act_timer);
			crash(nd);
			nd->stay_down = false;
			nd->ever_connected = false;
			nd->reconnects = 0;
			nd->hb_seq = 0;
			nd->backoff_exp = 0;
			if (nd->rep) /* RAM gone: held events lost, new epoch */
				sim_reports_reboot(nd->rep, uv_now(s->loop));
			if (nd->ota) /* the receiver too; its flash stays */
				sim_ota_reboot(nd->ota);
			queue_connect(nd);
		} else if (strcmp(cmd, "drop") == 0) {
			/* the connection is lost (will fired); the node reconnects
			 * after its backoff with reason reconnect */
			if (sim_conn_has_socket(nd->conn)) {
				uv_timer_stop(&nd->act_timer);
				crash(nd);
				s->c.lost++;
				nd->stay_down = false;
				schedule_reconnect(nd);
			}
		} else if (strcmp(cmd, "twin") == 0) {
			int rc = start_twin(nd);
			if (rc) {
				snprintf(why, whylen, "twin of %s: %s", nd->id, strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

static void on_input_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[4096];
	buf->base = chunk;
	buf->len = sizeof(chunk);
}

static void on_input(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct sim *s = stream->data;
	if (n < 0) {
		/* EOF: the controller went away; the run still ends by duration. */
		uv_read_stop(stream);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = buf->base[i];
		if (ch != '\n') {
			if (s->line_len < sizeof(s->line) - 1)
				s->line[s->line_len++] = ch;
			continue;
		}
		s->line[s->line_len] = '\0';
		s->line_len = 0;
		if (s->line[0] == '\0' || s->line[0] == '#')
			continue;
		char copy[sizeof(s->line)], why[256] = "";
		snprintf(copy, sizeof(copy), "%s", s->line);
		if (control_command(s, s->line, why, sizeof(why)) == 0)
			say("cmd-ok %s", copy);
		else
			say("cmd-error %s: %s", copy, why);
	}
}

static void open_input(struct sim *s)
{
	uv_handle_type t = uv_guess_handle(0);
	uv_stream_t *st = NULL;
	if (t == UV_NAMED_PIPE && uv_pipe_init(s->loop, &s->input_h.pipe, 0) == 0) {
		if (uv_pipe_open(&s->input_h.pipe, 0) == 0)
			st = (uv_stream_t *)&s->input_h.pipe;
		else
			uv_close((uv_handle_t *)&s->input_h.pipe, NULL);
	} else if (t == UV_TTY && uv_tty_init(s->loop, &s->input_h.tty, 0, 1) == 0) {
		st = (uv_stream_t *)&s->input_h.tty;
	}
	/* A file or /dev/null on stdin: no control channel. */
	if (!st)
		return;
	st->data = s;
	if (uv_read_start(st, on_input_alloc, on_input) != 0) {
		uv_close((uv_handle_t *)st, NULL);
		return;
	}
	s->input = st;
}

/* ---- run control */

static void on_tick(uv_timer_t *t)
{
	struct sim *s = t->data;
	for (unsigned i = 0; i < s->o.count; i++) {
		sim_conn_tick(s->nodes[i].conn);
		if (s->nodes[i].twin)
			sim_conn_tick(s->nodes[i].twin->conn);
	}
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void finish(struct sim *s)
{
	if (s->finished)
		return;
	s->finished = true;
	for (unsigned i = 0; i < s->o.count; i++) {
		sim_conn_abort(s->nodes[i].conn);
		if (s->nodes[i].twin)
			sim_conn_abort(s->nodes[i].twin->conn);
	}
	print_counts(s, "summary");
	print_events(s);
	print_acklat(s);
	uv_stop(s->loop);
}

static void on_drain(uv_timer_t *t)
{
	finish(t->data);
}

static void stop_sim(struct sim *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	uv_timer_stop(&s->duration);
	for (unsigned i = 0; i < 2 * s->o.count; i++) {
		struct node *nd = pacer_node(s, i / 2, i % 2);
		if (!nd)
			continue;
		uv_timer_stop(&nd->hb_timer);
		uv_timer_stop(&nd->act_timer);
		uv_timer_stop(&nd->rep_timer);
		uv_timer_stop(&nd->ota_timer);
		uv_timer_stop(&nd->off_timer);
		uv_timer_stop(&nd->own_timer);
		if (s->o.exit_crash)
			crash(nd);
		else if (sim_conn_has_socket(nd->conn))
			clean_disconnect(nd);
	}
	/* Bounded wait for the DISCONNECTs to leave, then drop whatever is left. */
	uv_timer_start(&s->drain, on_drain, s->c.open_sockets ? 1500 : 0, 0);
}

static void on_duration(uv_timer_t *t)
{
	stop_sim(t->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct sim *s = h->data;
	if (signum == SIGUSR1) {
		print_counts(s, "stats");
		print_events(s);
		print_acklat(s);
	} else {
		stop_sim(s);
	}
}

/* ---- options */

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s --port P [options]\n"
"Simulate N nodes as MQTT v5 clients of the broker (one process, one loop).\n"
"\n"
"  --host H               broker address (127.0.0.1)\n"
"  --port P               broker port (required)\n"
"  --count N              nodes, 1..%d (10)\n"
"  --id-prefix P          node ids are P-00000, P-00001, ... (sim)\n"
"  --heartbeat-s S        heartbeat interval announced in hello, %d..%d (30)\n"
"  --connect-rate R       mean connects per second, jittered (200)\n"
"  --max-pending M        connects in flight without CONNACK, 0 = no cap (64)\n"
"  --duration-s S         stop after S seconds, 1..86400 (60)\n"
"  --keepalive-s S        MQTT keepalive (30)\n"
"  --reconnect-s S        base of the jittered backoff after a lost\n"
"                         connection; 0 = never reconnect (1)\n"
"  --reconnect-max-s S    backoff cap (10)\n"
"  --hello-retry-s S      base T of the hello retry schedule (30, as the\n"
"                         spec): retry n after U[T/2, T]·2^(n-1), cap 300 s\n"
"  --silent NODES         connect and register, never heartbeat (go stale)\n"
"  --crash NODES          drop the socket without DISCONNECT after\n"
"  --crash-after-s S      S seconds registered (2); the broker fires the will\n"
"  --disconnect NODES     offline status + DISCONNECT after\n"
"  --disconnect-after-s S S seconds registered (2)\n"
"  --flap NODES           crash every ~S s and reconnect with jitter\n"
"  --flap-every-s S       (5)\n"
"  --malformed KIND|all   after registering, send malformed messages from\n"
"  --malformed-nodes N    these nodes (0)\n"
"  --list-malformed       print the malformed kinds and exit\n"
"  --exit-crash           at the end drop sockets instead of disconnecting\n"
"  --credentials FILE     lines id:password; each node connects with its id\n"
"                         as username and its line's password (every node\n"
"                         needs a line; other lines are ignored)\n"
"  --cafile F             TLS to the broker, its certificate checked\n"
"                         against the CA in F (and against --host)\n"
"  --cert-dir DIR         mutual TLS: node ID presents DIR/ID.crt with the\n"
"                         key DIR/ID.key (needs --cafile; no password)\n"
"  --bundle-dir DIR       node ID connects as its bundle DIR/ID.json says\n"
"                         (edgectl nodes provision --out DIR): username,\n"
"                         password, TLS with the bundle's CA, client\n"
"                         certificate; --host/--port default to the first\n"
"                         node's broker, --cafile overrides the bundles' CA\n"
"  --anomaly-rate R       each node detects R anomalies per second (mean,\n"
"                         jittered; 0 = none, the default) and sends them\n"
"                         as reports through the device SDK's queue\n"
"  --anomaly-factor M=F   nodes running model M (NAME@VERSION, once an OTA\n"
"                         transfer activated it) detect F times as many\n"
"                         anomalies (their reports name the model they run)\n"
"  --report-rto-ms T      report retransmission: first after U[T/2, T],\n"
"  --report-rto-max-ms M  doubling up to M (the SDK's 5000 and 60000)\n"
"  --report-slots N       report queue slots per node, 1..65536 (64; about\n"
"                         300 bytes each)\n"
"  --tcp-nodelay          TCP_NODELAY on every node's socket: a report goes\n"
"                         out at once, not after the TCP ack of the previous\n"
"                         small packet (for the ack-latency figures)\n"
"  --seed N               seed of every random choice (--ota-drop, jitter);\n"
"                         default: time and pid\n"
"  --ops LIST             ops the hello announces (comma-separated; default:\n"
"                         five, or with --ota-trust every op lib/infer runs)\n"
"  --arena-bytes N        tensor arena budget of hello and receiver (96 KiB)\n"
"  --flash-bytes N        model flash of hello and receiver's slot (1 MiB)\n"
"  --ota-trust DIR        OTA on: each node runs the device SDK's receiver,\n"
"                         trusting every DIR/*.pub (1..4 keys)\n"
"  --ota-threshold K      distinct trusted signatures required (1)\n"
"  --ota-deny NODES       deny every offer, reason busy\n"
"  --ota-stall NODES      at half the chunks, ignore everything for\n"
"  --ota-stall-s S        S seconds (20), then carry on\n"
"  --ota-reboot NODES     once at half the chunks: reboot (connection\n"
"                         dropped, receiver from its saved state), resume\n"
"  --ota-disconnect NODES once at half the chunks: lose the connection\n"
"  --ota-corrupt NODES    flip a byte in each of the first 3 chunk frames\n"
"  --ota-fail-selftest NODES  the self-test hash is wrong: reverted\n"
"  --ota-forget-previous NODES  the other slot was erased: a revert frame\n"
"                         answers not_held\n"
"  --ota-drop PCT         lose PCT %% of the incoming chunk frames (--seed)\n"
"  --ota-exit-after N     stop (exit 0) once N nodes reported a result\n"
"  --offload-model FILE   a .tflite the nodes know (up to 4; lib/infer runs it)\n"
"  --offload-rate R       offload requests per node per second (Poisson; 0)\n"
"  --offload-nodes NODES  which nodes send requests (all)\n"
"  --offload-by-name N@V  model ref name@version instead of the SHA-256\n"
"  --offload-deadline-ms D  the requests' deadline (1000)\n"
"  --offload-check        run each ok request's input locally, compare bytes\n"
"                         (offload_wrong counts differences)\n"
"  --offload-bad KIND     every request broken: bad_input, unknown_model,\n"
"                         truncated, bad_magic, no_response_topic\n"
"  --verify-permille N    shadow sampling share, overriding registered's\n"
"  --own-rate R           own inferences per second while sampling (1)\n"
"  --verify-corrupt NODES flip one output byte of their first verify only\n"
"  --verbose              print per-node errors\n"
"NODES: all | none | 3 | 1,4-9 | 12.5%% (deterministic fraction)\n"
"\n"
"stdin (when a pipe or tty) takes commands, one per line:\n"
"  kill NODES | disconnect NODES | silence NODES | resume NODES |\n"
"  connect NODES | hello NODES | malformed NODES [KIND|all] | stats | quit\n"
"  stats NODES    also one 'offload node=ID ...' line per selected node\n"
"  reboot NODES   crash, then power up again (status boot)\n"
"  calm NODES     detect no more anomalies (held events are still sent)\n"
"  drop NODES     lose the connection, reconnect after backoff (reconnect)\n"
"  twin NODES     a second device with the same id: the two take the\n"
"                 session from each other for the rest of the run\n"
"Each is answered by 'sim: cmd-ok LINE' or 'sim: cmd-error LINE: why'.\n"
"SIGINT/SIGTERM stop (summary printed); SIGUSR1 prints stats.\n",
		progname, SIM_MAX_NODES, EDGE_MSG_HEARTBEAT_MIN_S,
		EDGE_MSG_HEARTBEAT_MAX_S);
}

static int opt_double(const char *name, const char *v, double lo, double hi,
		      double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || !(d >= lo && d <= hi)) {
		fprintf(stderr, "%s: --%s %s: must be a number in %g..%g\n",
			progname, name, v, lo, hi);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

/* --anomaly-factor NAME@VERSION=F, F in (0, 1000]. */
static int opt_factor(const char *v, struct sim_opts *o)
{
	const char *eq = strrchr(v, '=');
	const char *at = strchr(v, '@');
	size_t n = eq ? (size_t)(eq - v) : 0;

	if (!eq || !at || at > eq || at == v || at + 1 == eq || n >= sizeof(o->factor_model)) {
		fprintf(stderr, "%s: --anomaly-factor %s: expected NAME@VERSION=FACTOR\n", progname,
			v);
		return -EINVAL;
	}
	if (opt_double("anomaly-factor", eq + 1, 0.001, 1000, &o->factor))
		return -EINVAL;
	memcpy(o->factor_model, v, n);
	o->factor_model[n] = '\0';
	return 0;
}

static int opt_uint(const char *name, const char *v, unsigned lo, unsigned hi,
		    unsigned *out)
{
	double d = 0;
	if (opt_double(name, v, lo, hi, &d))
		return -EINVAL;
	if (d != floor(d)) {
		fprintf(stderr, "%s: --%s %s: must be an integer\n", progname, name, v);
		return -EINVAL;
	}
	*out = (unsigned)d;
	return 0;
}

static int opt_select(const char *name, const char *v, unsigned salt,
		      struct sim_select *out)
{
	if (sim_select_parse(out, v, salt) != 0) {
		fprintf(stderr, "%s: --%s %s: expected all, none, 3, 1,4-9 or 10%%\n",
			progname, name, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct sim_opts *o)
{
	enum {
		O_HOST = 256, O_PORT, O_COUNT, O_PREFIX, O_HB, O_RATE, O_PENDING,
		O_DURATION, O_KEEPALIVE, O_RECONNECT, O_RECONNECT_MAX, O_HELLO_RETRY,
		O_SILENT, O_CRASH, O_CRASH_AFTER, O_DISC, O_DISC_AFTER, O_FLAP,
		O_FLAP_EVERY, O_MALFORMED, O_MALFORMED_NODES, O_LIST, O_EXIT_CRASH,
		O_VERBOSE, O_HELP, O_CREDENTIALS, O_CAFILE, O_CERT_DIR, O_BUNDLE_DIR,
		O_ANOMALY_RATE, O_REPORT_SLOTS, O_REPORT_RTO, O_REPORT_RTO_MAX,
		O_NODELAY, O_SEED, O_OPS, O_ARENA, O_FLASH, O_OTA_TRUST, O_OTA_THRESHOLD,
		O_OTA_DENY, O_OTA_STALL, O_OTA_STALL_S, O_OTA_REBOOT, O_OTA_DISC,
		O_OTA_CORRUPT, O_OTA_FAIL_SELFTEST, O_OTA_DROP, O_OTA_EXIT_AFTER, O_ANOMALY_FACTOR,
		O_OTA_FORGET_PREVIOUS, O_OFF_MODEL, O_OFF_RATE, O_OFF_BY_NAME, O_OFF_DEADLINE,
		O_OFF_NODES, O_OFF_BAD, O_OFF_CHECK, O_VERIFY_PERMILLE, O_OWN_RATE,
		O_VERIFY_CORRUPT,
	};
	static const struct option longopts[] = {
		{"host", required_argument, NULL, O_HOST},
		{"port", required_argument, NULL, O_PORT},
		{"count", required_argument, NULL, O_COUNT},
		{"id-prefix", required_argument, NULL, O_PREFIX},
		{"heartbeat-s", required_argument, NULL, O_HB},
		{"connect-rate", required_argument, NULL, O_RATE},
		{"max-pending", required_argument, NULL, O_PENDING},
		{"duration-s", required_argument, NULL, O_DURATION},
		{"keepalive-s", required_argument, NULL, O_KEEPALIVE},
		{"reconnect-s", required_argument, NULL, O_RECONNECT},
		{"reconnect-max-s", required_argument, NULL, O_RECONNECT_MAX},
		{"hello-retry-s", required_argument, NULL, O_HELLO_RETRY},
		{"silent", required_argument, NULL, O_SILENT},
		{"crash", required_argument, NULL, O_CRASH},
		{"crash-after-s", required_argument, NULL, O_CRASH_AFTER},
		{"disconnect", required_argument, NULL, O_DISC},
		{"disconnect-after-s", required_argument, NULL, O_DISC_AFTER},
		{"flap", required_argument, NULL, O_FLAP},
		{"flap-every-s", required_argument, NULL, O_FLAP_EVERY},
		{"malformed", required_argument, NULL, O_MALFORMED},
		{"malformed-nodes", required_argument, NULL, O_MALFORMED_NODES},
		{"list-malformed", no_argument, NULL, O_LIST},
		{"exit-crash", no_argument, NULL, O_EXIT_CRASH},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"credentials", required_argument, NULL, O_CREDENTIALS},
		{"cafile", required_argument, NULL, O_CAFILE},
		{"cert-dir", required_argument, NULL, O_CERT_DIR},
		{"bundle-dir", required_argument, NULL, O_BUNDLE_DIR},
		{"anomaly-rate", required_argument, NULL, O_ANOMALY_RATE},
		{"report-slots", required_argument, NULL, O_REPORT_SLOTS},
		{"report-rto-ms", required_argument, NULL, O_REPORT_RTO},
		{"report-rto-max-ms", required_argument, NULL, O_REPORT_RTO_MAX},
		{"tcp-nodelay", no_argument, NULL, O_NODELAY},
		{"seed", required_argument, NULL, O_SEED},
		{"ops", required_argument, NULL, O_OPS},
		{"arena-bytes", required_argument, NULL, O_ARENA},
		{"flash-bytes", required_argument, NULL, O_FLASH},
		{"ota-trust", required_argument, NULL, O_OTA_TRUST},
		{"ota-threshold", required_argument, NULL, O_OTA_THRESHOLD},
		{"ota-deny", required_argument, NULL, O_OTA_DENY},
		{"ota-stall", required_argument, NULL, O_OTA_STALL},
		{"ota-stall-s", required_argument, NULL, O_OTA_STALL_S},
		{"ota-reboot", required_argument, NULL, O_OTA_REBOOT},
		{"ota-disconnect", required_argument, NULL, O_OTA_DISC},
		{"ota-corrupt", required_argument, NULL, O_OTA_CORRUPT},
		{"ota-fail-selftest", required_argument, NULL, O_OTA_FAIL_SELFTEST},
		{"ota-forget-previous", required_argument, NULL, O_OTA_FORGET_PREVIOUS},
		{"ota-drop", required_argument, NULL, O_OTA_DROP},
		{"ota-exit-after", required_argument, NULL, O_OTA_EXIT_AFTER},
		{"anomaly-factor", required_argument, NULL, O_ANOMALY_FACTOR},
		{"offload-model", required_argument, NULL, O_OFF_MODEL},
		{"offload-rate", required_argument, NULL, O_OFF_RATE},
		{"offload-by-name", required_argument, NULL, O_OFF_BY_NAME},
		{"offload-deadline-ms", required_argument, NULL, O_OFF_DEADLINE},
		{"offload-nodes", required_argument, NULL, O_OFF_NODES},
		{"offload-bad", required_argument, NULL, O_OFF_BAD},
		{"offload-check", no_argument, NULL, O_OFF_CHECK},
		{"verify-permille", required_argument, NULL, O_VERIFY_PERMILLE},
		{"own-rate", required_argument, NULL, O_OWN_RATE},
		{"verify-corrupt", required_argument, NULL, O_VERIFY_CORRUPT},
		{"help", no_argument, NULL, O_HELP},
		{0},
	};
	unsigned port = 0;
	int ch, rc = 0;
	while (rc == 0 && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_HOST: o->host = optarg; o->host_set = true; break;
		case O_PORT: rc = opt_uint("port", optarg, 1, 65535, &port); break;
		case O_COUNT: rc = opt_uint("count", optarg, 1, SIM_MAX_NODES, &o->count); break;
		case O_PREFIX: o->id_prefix = optarg; break;
		case O_HB:
			rc = opt_uint("heartbeat-s", optarg, EDGE_MSG_HEARTBEAT_MIN_S,
				      EDGE_MSG_HEARTBEAT_MAX_S, &o->heartbeat_s);
			break;
		case O_RATE: rc = opt_double("connect-rate", optarg, 0.1, 100000, &o->connect_rate); break;
		case O_PENDING: rc = opt_uint("max-pending", optarg, 0, 100000, &o->max_pending); break;
		case O_DURATION: rc = opt_uint("duration-s", optarg, 1, 86400, &o->duration_s); break;
		case O_KEEPALIVE: rc = opt_uint("keepalive-s", optarg, 5, 65535, &o->keepalive_s); break;
		case O_RECONNECT: rc = opt_double("reconnect-s", optarg, 0, 3600, &o->reconnect_s); break;
		case O_RECONNECT_MAX: rc = opt_double("reconnect-max-s", optarg, 0.01, 3600, &o->reconnect_max_s); break;
		case O_HELLO_RETRY: rc = opt_uint("hello-retry-s", optarg, 1, 3600, &o->hello_retry_s); break;
		case O_SILENT: rc = opt_select("silent", optarg, 1, &o->sel_silent); break;
		case O_CRASH: rc = opt_select("crash", optarg, 2, &o->sel_crash); break;
		case O_CRASH_AFTER: rc = opt_double("crash-after-s", optarg, 0.001, 86400, &o->crash_after_s); break;
		case O_DISC: rc = opt_select("disconnect", optarg, 3, &o->sel_disconnect); break;
		case O_DISC_AFTER: rc = opt_double("disconnect-after-s", optarg, 0.001, 86400, &o->disconnect_after_s); break;
		case O_FLAP: rc = opt_select("flap", optarg, 4, &o->sel_flap); break;
		case O_FLAP_EVERY: rc = opt_double("flap-every-s", optarg, 0.01, 86400, &o->flap_every_s); break;
		case O_MALFORMED: o->malformed_kind = optarg; break;
		case O_MALFORMED_NODES: rc = opt_select("malformed-nodes", optarg, 5, &o->sel_malformed); break;
		case O_LIST:
			for (size_t i = 0; i < sim_malformed_count; i++)
				printf("%-22s -> %-20s %s\n", sim_malformed_kinds[i].name,
				       edge_msg_reject_name(sim_malformed_kinds[i].expect),
				       sim_malformed_kinds[i].what);
			exit(0);
		case O_EXIT_CRASH: o->exit_crash = true; break;
		case O_VERBOSE: o->verbose = true; break;
		case O_CREDENTIALS: o->credentials = optarg; break;
		case O_CAFILE: o->cafile = optarg; break;
		case O_CERT_DIR: o->cert_dir = optarg; break;
		case O_BUNDLE_DIR: o->bundle_dir = optarg; break;
		case O_ANOMALY_RATE: rc = opt_double("anomaly-rate", optarg, 0, 1000, &o->anomaly_rate); break;
		case O_REPORT_SLOTS: rc = opt_uint("report-slots", optarg, 1, 65536, &o->report_slots); break;
		case O_REPORT_RTO: rc = opt_uint("report-rto-ms", optarg, 100, 3600000, &o->report_rto_ms); break;
		case O_REPORT_RTO_MAX: rc = opt_uint("report-rto-max-ms", optarg, 100, 3600000, &o->report_rto_max_ms); break;
		case O_NODELAY: o->tcp_nodelay = true; break;
		case O_SEED:
			rc = opt_uint("seed", optarg, 0, UINT_MAX, &o->seed);
			o->seed_set = true;
			break;
		case O_OPS: o->ops = optarg; break;
		case O_ARENA: rc = opt_uint("arena-bytes", optarg, 1, UINT32_MAX, &o->arena_bytes); break;
		case O_FLASH: rc = opt_uint("flash-bytes", optarg, 1, UINT32_MAX, &o->flash_bytes); break;
		case O_OTA_TRUST: o->ota_trust = optarg; break;
		case O_OTA_THRESHOLD:
			rc = opt_uint("ota-threshold", optarg, 1, EDGE_OTA_RX_TRUST_MAX, &o->ota_threshold);
			break;
		/* salts differ so that 10% of two behaviours are not the same nodes */
		case O_OTA_DENY: rc = opt_select("ota-deny", optarg, 11, &o->sel_ota_deny); break;
		case O_OTA_STALL: rc = opt_select("ota-stall", optarg, 12, &o->sel_ota_stall); break;
		case O_OTA_STALL_S: rc = opt_double("ota-stall-s", optarg, 0.001, 86400, &o->ota_stall_s); break;
		case O_OTA_REBOOT: rc = opt_select("ota-reboot", optarg, 13, &o->sel_ota_reboot); break;
		case O_OTA_DISC: rc = opt_select("ota-disconnect", optarg, 14, &o->sel_ota_disconnect); break;
		case O_OTA_CORRUPT: rc = opt_select("ota-corrupt", optarg, 15, &o->sel_ota_corrupt); break;
		case O_OTA_FAIL_SELFTEST:
			rc = opt_select("ota-fail-selftest", optarg, 16, &o->sel_ota_fail_selftest);
			break;
		case O_OTA_FORGET_PREVIOUS:
			rc = opt_select("ota-forget-previous", optarg, 17,
					&o->sel_ota_forget_previous);
			break;
		case O_OTA_DROP: rc = opt_double("ota-drop", optarg, 0, 100, &o->ota_drop_pct); break;
		case O_OTA_EXIT_AFTER:
			rc = opt_uint("ota-exit-after", optarg, 1, SIM_MAX_NODES, &o->ota_exit_after);
			break;
		case O_ANOMALY_FACTOR: rc = opt_factor(optarg, o); break;
		case O_OFF_MODEL:
			if (o->n_offload_models == SIM_OFFLOAD_MODELS_MAX) {
				fprintf(stderr, "%s: --offload-model: at most %d\n", progname,
					SIM_OFFLOAD_MODELS_MAX);
				rc = -EINVAL;
			} else
				o->offload_models[o->n_offload_models++] = optarg;
			break;
		case O_OFF_RATE: rc = opt_double("offload-rate", optarg, 0, 10000, &o->offload_rate); break;
		case O_OFF_BY_NAME: o->offload_by_name = optarg; break;
		case O_OFF_DEADLINE:
			rc = opt_uint("offload-deadline-ms", optarg, EDGE_INFER_DEADLINE_MIN,
				      EDGE_INFER_DEADLINE_MAX, &o->offload_deadline_ms);
			break;
		case O_OFF_NODES: rc = opt_select("offload-nodes", optarg, 21, &o->sel_offload); break;
		case O_OFF_BAD: o->offload_bad = optarg; break;
		case O_OFF_CHECK: o->offload_check = true; break;
		case O_VERIFY_PERMILLE:
			rc = opt_uint("verify-permille", optarg, 0, EDGE_MSG_VERIFY_PERMILLE_MAX,
				      &o->verify_permille);
			o->verify_permille_set = true;
			break;
		case O_OWN_RATE: rc = opt_double("own-rate", optarg, 0.001, 1000, &o->own_rate); break;
		case O_VERIFY_CORRUPT:
			rc = opt_select("verify-corrupt", optarg, 22, &o->sel_verify_corrupt);
			break;
		case O_HELP: usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (rc)
		return rc;
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", progname, argv[optind]);
		return -EINVAL;
	}
	if (port == 0 && !o->bundle_dir) {
		fprintf(stderr, "%s: --port is required (or --bundle-dir)\n", progname);
		return -EINVAL;
	}
	o->port = (int)port;
	/* ids are PREFIX-NNNNN and must stay within [A-Za-z0-9_-]{1,64} */
	char probe[EDGE_ID_MAX_LEN + 16];
	snprintf(probe, sizeof(probe), "%s-00000", o->id_prefix);
	if (strlen(o->id_prefix) > EDGE_ID_MAX_LEN - 6 || !edge_id_valid_str(probe)) {
		fprintf(stderr, "%s: --id-prefix '%s': must be 1..%d characters of "
			"[A-Za-z0-9_-]\n", progname, o->id_prefix, EDGE_ID_MAX_LEN - 6);
		return -EINVAL;
	}
	if (o->malformed_kind && strcmp(o->malformed_kind, "all") != 0 &&
	    !sim_malformed_find(o->malformed_kind)) {
		fprintf(stderr, "%s: --malformed %s: unknown kind (see --list-malformed)\n",
			progname, o->malformed_kind);
		return -EINVAL;
	}
	if (o->cert_dir && !o->cafile) {
		fprintf(stderr, "%s: --cert-dir needs --cafile (the CA that signed the "
			"broker's certificate)\n", progname);
		return -EINVAL;
	}
	if (o->cert_dir && o->credentials) {
		fprintf(stderr, "%s: --cert-dir and --credentials: with a client "
			"certificate the certificate is the identity\n", progname);
		return -EINVAL;
	}
	if (o->bundle_dir && (o->credentials || o->cert_dir)) {
		fprintf(stderr, "%s: --bundle-dir brings each node's credentials: not "
			"with --credentials or --cert-dir\n", progname);
		return -EINVAL;
	}
	if (o->cafile && access(o->cafile, R_OK) != 0) {
		fprintf(stderr, "%s: --cafile %s: %s\n", progname, o->cafile,
			strerror(errno));
		return -EINVAL;
	}
	bool ota_behaviour = o->sel_ota_deny.all || o->sel_ota_deny.n_ranges ||
		o->sel_ota_deny.fraction > 0 || o->ota_drop_pct > 0 || o->ota_exit_after ||
		o->ota_threshold;
	const struct sim_select *sels[] = { &o->sel_ota_stall, &o->sel_ota_reboot,
		&o->sel_ota_disconnect, &o->sel_ota_corrupt, &o->sel_ota_fail_selftest,
		&o->sel_ota_forget_previous };
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		ota_behaviour |= sels[i]->all || sels[i]->n_ranges || sels[i]->fraction > 0;
	if (ota_behaviour && !o->ota_trust) {
		fprintf(stderr, "%s: the --ota-* options need --ota-trust DIR\n", progname);
		return -EINVAL;
	}
	if (o->ota_exit_after > o->count) {
		fprintf(stderr, "%s: --ota-exit-after %u: more than --count %u\n", progname,
			o->ota_exit_after, o->count);
		return -EINVAL;
	}
	bool offload_opts = o->offload_rate > 0 || o->offload_by_name || o->offload_bad ||
		o->offload_check || o->verify_permille_set || o->sel_verify_corrupt.all ||
		o->sel_verify_corrupt.n_ranges || o->sel_verify_corrupt.fraction > 0;
	if (offload_opts && !o->n_offload_models) {
		fprintf(stderr, "%s: the --offload-* and --verify-* options need "
			"--offload-model FILE\n", progname);
		return -EINVAL;
	}
	if (o->offload_bad && sim_offload_bad_from_name(o->offload_bad) < 0) {
		fprintf(stderr, "%s: --offload-bad %s: expected bad_input, unknown_model, "
			"truncated, bad_magic or no_response_topic\n", progname, o->offload_bad);
		return -EINVAL;
	}
	if (o->offload_by_name) {
		size_t l = strlen(o->offload_by_name);
		if (l > EDGE_INFER_REF_MAX ||
		    !edge_infer_ref_valid(EDGE_INFER_REF_NAME,
					  (const uint8_t *)o->offload_by_name, l)) {
			fprintf(stderr, "%s: --offload-by-name %s: expected NAME@VERSION\n",
				progname, o->offload_by_name);
			return -EINVAL;
		}
	}
	if (o->reconnect_max_s < o->reconnect_s)
		o->reconnect_max_s = o->reconnect_s;
	return 0;
}

/* ---- main */

/* A node's connection (with its will) and timers. */
static int setup_node_conn(struct sim *s, struct node *nd)
{
	nd->conn = sim_conn_new(s->loop, nd->id, &node_handlers, nd);
	if (!nd->conn)
		return -ENOMEM;
	sim_conn_set_nodelay(nd->conn, s->o.tcp_nodelay);
	/* The last will: what the broker says for us if we vanish. */
	char will[SIM_PAYLOAD_CAP], topic[EDGE_TOPIC_MAX_LEN + 1];
	int n = sim_msgs_encode_status(will, sizeof(will), EDGE_MSG_STATE_OFFLINE,
				       EDGE_MSG_STATUS_LOST);
	if (n < 0 || sim_msgs_topic(topic, sizeof(topic), nd->id, EDGE_TOPIC_STATUS) < 0)
		return -EINVAL;
	int rc = sim_conn_set_will(nd->conn, topic, will, (size_t)n, 1, true);
	if (rc)
		return rc;
	if (nd->password) {
		rc = sim_conn_set_auth(nd->conn, nd->id, nd->password);
		if (rc)
			return rc;
	}
	if (nd->bundle) {
		const struct sim_bundle *b = nd->bundle;
		if (b->password)
			rc = sim_conn_set_auth(nd->conn, b->username, b->password);
		if (rc == 0 && (b->tls || s->o.cafile))
			rc = sim_conn_set_tls(nd->conn, s->o.cafile ? s->o.cafile : b->cafile,
					      b->certfile, b->keyfile);
		if (rc)
			return rc;
	} else if (s->o.cafile) {
		char crt[PATH_MAX], key[PATH_MAX];
		if (s->o.cert_dir) {
			snprintf(crt, sizeof(crt), "%s/%s.crt", s->o.cert_dir, nd->id);
			snprintf(key, sizeof(key), "%s/%s.key", s->o.cert_dir, nd->id);
		}
		rc = sim_conn_set_tls(nd->conn, s->o.cafile, s->o.cert_dir ? crt : NULL,
				      s->o.cert_dir ? key : NULL);
		if (rc)
			return rc;
	}
	uv_timer_init(s->loop, &nd->hb_timer);
	uv_timer_init(s->loop, &nd->act_timer);
	uv_timer_init(s->loop, &nd->rep_timer);
	uv_timer_init(s->loop, &nd->ota_timer);
	uv_timer_init(s->loop, &nd->off_timer);
	uv_timer_init(s->loop, &nd->own_timer);
	nd->off_timer.data = nd;
	nd->own_timer.data = nd;
	nd->hb_timer.data = nd;
	nd->act_timer.data = nd;
	nd->rep_timer.data = nd;
	nd->ota_timer.data = nd;
	return 0;
}

/* --credentials: every line "id:password" whose id is one of ours gives
 * that node its password; every node must have one. The passwords point
 * into the file's text, kept for the run. 0, or -1 after saying why. */
static int load_credentials(struct sim *s)
{
	FILE *f = fopen(s->o.credentials, "r");
	if (!f) {
		fprintf(stderr, "%s: --credentials %s: %s\n", progname, s->o.credentials,
			strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	while (text) {
		len += fread(text + len, 1, cap - len - 1, f);
		if (len + 1 < cap)
			break;
		char *bigger = realloc(text, cap * 2);
		if (!bigger) {
			free(text);
			text = NULL;
			break;
		}
		text = bigger;
		cap *= 2;
	}
	bool bad = ferror(f) || !text;
	fclose(f);
	if (bad) {
		fprintf(stderr, "%s: --credentials %s: cannot read\n", progname,
			s->o.credentials);
		free(text);
		return -1;
	}
	text[len] = '\0';
	s->credentials_text = text;
	size_t plen = strlen(s->o.id_prefix);
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (!colon || line[0] == '#')
			continue;
		*colon = '\0';
		/* Our ids are PREFIX-NNNNN: the index is in the name. */
		char *end;
		if (strncmp(line, s->o.id_prefix, plen) != 0 || line[plen] != '-' ||
		    strlen(line + plen + 1) != 5)
			continue;
		unsigned long idx = strtoul(line + plen + 1, &end, 10);
		if (*end || idx >= s->o.count)
			continue;
		s->nodes[idx].password = colon + 1;
	}
	for (unsigned i = 0; i < s->o.count; i++)
		if (!s->nodes[i].password) {
			fprintf(stderr, "%s: --credentials %s: no line for node %s-%05u "
				"(each node needs 'id:password')\n", progname,
				s->o.credentials, s->o.id_prefix, i);
			return -1;
		}
	return 0;
}

/* --cert-dir: every node's certificate and key must be readable now, so a
 * missing one stops the run at once instead of failing one node forever. */
static int check_cert_dir(struct sim *s)
{
	for (unsigned i = 0; s->o.cert_dir && i < s->o.count; i++) {
		char path[PATH_MAX];
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/%s-%05u.%s", s->o.cert_dir,
				 s->o.id_prefix, i, k ? "key" : "crt");
			if (access(path, R_OK) != 0) {
				fprintf(stderr, "%s: --cert-dir: node %s-%05u: %s: %s\n",
					progname, s->o.id_prefix, i, path, strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

/* --bundle-dir: every node's bundle is read now (a missing one stops the
 * run at once, naming the file); the broker's address comes from the first
 * one unless --host/--port were given. */
static int load_bundles(struct sim *s)
{
	s->bundle_set = sim_bundles_new(s->o.bundle_dir);
	s->bundles = calloc(s->o.count, sizeof(*s->bundles));
	if (!s->bundle_set || !s->bundles) {
		fprintf(stderr, "%s: --bundle-dir: out of memory\n", progname);
		return -1;
	}
	for (unsigned i = 0; i < s->o.count; i++) {
		char id[EDGE_ID_MAX_LEN + 1], err[PATH_MAX + 256];
		struct sim_bundle *b = &s->bundles[i];
		snprintf(id, sizeof(id), "%s-%05u", s->o.id_prefix, i);
		if (sim_bundle_load(s->bundle_set, id, b, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: --bundle-dir: node %s: %s\n", progname, id, err);
			return -1;
		}
		if (b->tls && !b->cafile && !s->o.cafile) {
			fprintf(stderr, "%s: --bundle-dir: node %s: %s/%s.json: TLS broker "
				"but no ca_pem (give --cafile)\n", progname, id,
				s->o.bundle_dir, id);
			return -1;
		}
		s->nodes[i].bundle = b;
	}
	if (!s->o.host_set)
		s->o.host = s->bundles[0].host;
	if (s->o.port == 0)
		s->o.port = s->bundles[0].port;
	return 0;
}

static int setup_nodes(struct sim *s)
{
	s->nodes = calloc(s->o.count, sizeof(*s->nodes));
	if (!s->nodes)
		return -ENOMEM;
	if (s->o.credentials && load_credentials(s) != 0)
		return -EINVAL;
	if (check_cert_dir(s) != 0)
		return -EINVAL;
	if (s->o.bundle_dir && load_bundles(s) != 0)
		return -EINVAL;
	for (unsigned i = 0; i < s->o.count; i++) {
		struct node *nd = &s->nodes[i];
		nd->sim = s;
		nd->idx = i;
		snprintf(nd->id, sizeof(nd->id), "%s-%05u", s->o.id_prefix, i);
		if (sim_msgs_topic(nd->topic_registered, sizeof(nd->topic_registered),
				   nd->id, EDGE_TOPIC_REGISTERED) < 0)
			return -EINVAL;
		nd->heartbeat_s = s->o.heartbeat_s;
		nd->silent = sim_select_has(&s->o.sel_silent, i);
		nd->crash = sim_select_has(&s->o.sel_crash, i);
		nd->disconnect = sim_select_has(&s->o.sel_disconnect, i);
		nd->flap = sim_select_has(&s->o.sel_flap, i);
		nd->malformed = s->o.malformed_kind &&
				sim_select_has(&s->o.sel_malformed, i);
		if (s->o.anomaly_rate > 0) {
			/* Detection runs from power-up, connected or not. */
			nd->rep = malloc(sizeof(*nd->rep));
			if (!nd->rep ||
			    sim_reports_init(nd->rep, s->o.report_slots,
					     s->o.anomaly_rate,
					     (uint32_t)rand() ^ (i * 2654435761u),
					     uv_now(s->loop)) != 0)
				return -ENOMEM;
			if ((s->o.report_rto_ms || s->o.report_rto_max_ms) &&
			    sim_reports_set_rto(nd->rep, s->o.report_rto_ms,
						s->o.report_rto_max_ms) != 0)
				return -EINVAL;
			if (sim_msgs_topic(nd->topic_ack, sizeof(nd->topic_ack),
					   nd->id, EDGE_TOPIC_ACK) < 0)
				return -EINVAL;
		}
		if (s->o.ota_trust) {
			const struct sim_ota_host host = {
				.ud = nd, .send = ota_send, .campaign = ota_campaign,
			};
			const struct sim_opts *o = &s->o;
			unsigned behave =
				(sim_select_has(&o->sel_ota_deny, i) ? SIM_OTA_DENY : 0) |
				(sim_select_has(&o->sel_ota_stall, i) ? SIM_OTA_STALL : 0) |
				(sim_select_has(&o->sel_ota_reboot, i) ? SIM_OTA_REBOOT : 0) |
				(sim_select_has(&o->sel_ota_disconnect, i) ? SIM_OTA_DISCONNECT : 0) |
				(sim_select_has(&o->sel_ota_corrupt, i) ? SIM_OTA_CORRUPT : 0) |
				(sim_select_has(&o->sel_ota_fail_selftest, i) ?
				 SIM_OTA_FAIL_SELFTEST : 0) |
				(sim_select_has(&o->sel_ota_forget_previous, i) ?
				 SIM_OTA_FORGET_PREVIOUS : 0);
			nd->ota = malloc(sizeof(*nd->ota));
			if (!nd->ota)
				return -ENOMEM;
			/* rand() is seeded by --seed: drops repeat run to run */
			sim_ota_node_init(nd->ota, &s->fleet, &host, behave,
					  ((uint32_t)rand() ^ (i * 2654435761u)) | 1u);
		}
		if (s->off.n_models) {
			const struct sim_offload_host host = {
				.ud = nd, .request = off_request, .verify = off_verify,
			};
			nd->off = malloc(sizeof(*nd->off));
			if (!nd->off)
				return -ENOMEM;
			/* rand() is seeded by --seed: inputs repeat run to run */
			sim_offload_node_init(nd->off, &s->off, &host,
					      (uint32_t)rand() ^ (i * 2654435761u),
					      sim_select_has(&s->o.sel_verify_corrupt, i));
			nd->off_requests = s->o.offload_rate > 0 &&
					   sim_select_has(&s->o.sel_offload, i);
			if (edge_topic_build(nd->topic_infer_resp, sizeof(nd->topic_infer_resp),
					     nd->id, EDGE_TOPIC_INFER, EDGE_INFER_SUB_RESP) < 0)
				return -EINVAL;
		}
		int rc = setup_node_conn(s, nd);
		if (rc)
			return rc;
		rc = sim_pacer_push(s->pacer, i);
		if (rc)
			return rc;
		nd->st = N_QUEUED;
	}
	return 0;
}

static void free_bundles(struct sim *s)
{
	for (unsigned i = 0; s->bundles && i < s->o.count; i++)
		sim_bundle_clear(&s->bundles[i]);
	free(s->bundles);
	s->bundles = NULL;
	sim_bundles_free(s->bundle_set); /* removes the TLS temp files */
	s->bundle_set = NULL;
}

int main(int argc, char **argv)
{
	static struct sim s = {
		.o = {
			.host = "127.0.0.1",
			.count = 10,
			.id_prefix = "sim",
			.heartbeat_s = 30,
			.connect_rate = 200,
			.max_pending = 64,
			.duration_s = 60,
			.keepalive_s = 30,
			.reconnect_s = 1,
			.reconnect_max_s = 10,
			.hello_retry_s = 30,
			.crash_after_s = 2,
			.disconnect_after_s = 2,
			.flap_every_s = 5,
			.report_slots = 64,
			.ota_stall_s = 20,
			.offload_deadline_ms = 1000,
			.own_rate = 1,
		},
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	sim_select_parse(&s.o.sel_malformed, "0", 5);
	sim_select_parse(&s.o.sel_offload, "all", 21);
	sim_select_parse(&s.o.sel_verify_corrupt, "none", 22);
	if (parse_opts(argc, argv, &s.o) != 0) {
		fprintf(stderr, "Try '%s --help'.\n", progname);
		return 2;
	}
	if (s.o.malformed_kind && strcmp(s.o.malformed_kind, "all") != 0)
		s.malformed_kind = sim_malformed_find(s.o.malformed_kind);
	srand(s.o.seed_set ? s.o.seed : (unsigned)time(NULL) ^ (unsigned)getpid());
	/* Announced capabilities, and with --ota-trust the receivers' anchors. */
	s.caps = s.o.ota_trust || s.o.ops || s.o.arena_bytes || s.o.flash_bytes;
	if (s.caps) {
		char err[1024];
		if (sim_ota_fleet_init(&s.fleet, s.o.ota_trust, s.o.ota_threshold, s.o.ops,
				       s.o.arena_bytes, s.o.flash_bytes, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", progname, err);
			sim_ota_fleet_free(&s.fleet);
			return 2;
		}
		s.fleet.stall_ms = (uint64_t)(s.o.ota_stall_s * 1000.0);
		s.fleet.drop = s.o.ota_drop_pct / 100.0;
	}

	/* --offload-model: each file loaded once, run on lib/infer. */
	sim_offload_fleet_init(&s.off);
	if (s.o.n_offload_models) {
		char err[512];
		for (unsigned i = 0; i < s.o.n_offload_models; i++)
			if (sim_offload_fleet_add(&s.off, s.o.offload_models[i], err,
						  sizeof(err)) != 0) {
				fprintf(stderr, "%s: --offload-model %s\n", progname, err);
				sim_offload_fleet_free(&s.off);
				sim_ota_fleet_free(&s.fleet);
				return 2;
			}
		if (s.o.offload_by_name)
			(void)sim_offload_fleet_by_name(&s.off, s.o.offload_by_name); /* checked */
		s.off.deadline_ms = s.o.offload_deadline_ms;
		s.off.check = s.o.offload_check;
		s.off.bad = s.o.offload_bad ? (enum sim_offload_bad)
				sim_offload_bad_from_name(s.o.offload_bad) : SIM_OFFLOAD_GOOD;
		s.off.force_permille = s.o.verify_permille_set;
		s.off.permille = s.o.verify_permille;
	}

	unsigned long have = 0, need = (unsigned long)s.o.count * SIM_CONN_FDS + 64;
	if (sim_raise_nofile(need, &have) != 0) {
		fprintf(stderr, "%s: %u nodes need %lu file descriptors, the limit is %lu "
			"(raise it with ulimit -n, or run as root)\n", progname,
			s.o.count, need, have);
		return 1;
	}
	sim_conn_lib_init();
	s.loop = uv_default_loop();
	s.pacer = sim_pacer_new(s.loop, s.o.count, s.o.connect_rate, s.o.max_pending,
				pacer_start, &s);
	if (!s.pacer) {
		fprintf(stderr, "%s: cannot set up %u nodes: out of memory\n", progname,
			s.o.count);
		return 1;
	}
	int setup_rc = setup_nodes(&s);
	if (setup_rc != 0) {
		if (setup_rc != -EINVAL) /* else: said why */
			fprintf(stderr, "%s: cannot set up %u nodes: out of memory\n",
				progname, s.o.count);
		free_bundles(&s);
		return 1;
	}
	uv_timer_init(s.loop, &s.tick);
	uv_timer_init(s.loop, &s.duration);
	uv_timer_init(s.loop, &s.drain);
	s.tick.data = s.duration.data = s.drain.data = &s;
	uv_timer_start(&s.tick, on_tick, 1000, 1000);
	uv_timer_start(&s.duration, on_duration, (uint64_t)s.o.duration_s * 1000, 0);
	uv_timer_init(s.loop, &s.ota_tick);
	s.ota_tick.data = &s;
	/* one timer for the fleet: the receivers want a tick within 100 ms */
	if (s.o.ota_trust)
		uv_timer_start(&s.ota_tick, on_ota_tick, 50, 50);
	uv_signal_init(s.loop, &s.sigint);
	uv_signal_init(s.loop, &s.sigterm);
	uv_signal_init(s.loop, &s.sigusr1);
	s.sigint.data = s.sigterm.data = s.sigusr1.data = &s;
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);
	uv_signal_start(&s.sigusr1, on_signal, SIGUSR1);
	open_input(&s);

	say("starting %u nodes -> %s:%d (connect rate %.0f/s, heartbeat %u s, "
	    "duration %u s, %s%s)", s.o.count, s.o.host, s.o.port, s.o.connect_rate,
	    s.o.heartbeat_s, s.o.duration_s,
	    s.o.cert_dir ? "client certificates" :
	    s.o.credentials ? "passwords" :
	    s.o.bundle_dir ? "bundles" : "anonymous",
	    s.o.cafile ? " over TLS" : "");
	s.t0 = uv_hrtime();
	uv_run(s.loop, UV_RUN_DEFAULT);

	/* Tear down: every handle closed, every connection freed. */
	for (unsigned i = 0; i < s.o.count; i++) {
		sim_conn_free(s.nodes[i].conn);
		if (s.nodes[i].twin)
			sim_conn_free(s.nodes[i].twin->conn);
	}
	sim_pacer_free(s.pacer);
	uv_walk(s.loop, close_walk, NULL);
	uv_run(s.loop, UV_RUN_DEFAULT);
	uv_loop_close(s.loop);
	for (unsigned i = 0; i < s.o.count; i++) {
		free(s.nodes[i].twin);
		if (s.nodes[i].rep) {
			sim_reports_free(s.nodes[i].rep);
			free(s.nodes[i].rep);
		}
		if (s.nodes[i].ota) {
			sim_ota_node_free(s.nodes[i].ota);
			free(s.nodes[i].ota);
		}
		free(s.nodes[i].off);
	}
	free(s.nodes);
	free(s.credentials_text);
	free_bundles(&s);
	sim_ota_fleet_free(&s.fleet);
	sim_offload_fleet_free(&s.off);
	sim_conn_lib_cleanup();
	return 0;
}
