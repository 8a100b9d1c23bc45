/* Many gateways, one upstream: two sites, each its own mosquitto (run with
 * the configuration `edgectl broker-config --bridge-...` prints) and its own
 * edged with a simulated fleet reporting anomalies; a real 3-node NATS
 * cluster (JetStream, MQTT) the bridges go to; one PostgreSQL edged
 * forwards the anomaly history into; and a central MQTT subscriber on the
 * NATS node no bridge uses. After each case every event a node generated
 * is, per site: in edged's database once, in the central anomaly_event
 * once, and in a report the central subscriber received at least once.
 *
 * The heavy test: registered for the normal build only. Run one case with
 * `test-multisite CASE`. EDGE_TEST_WAN_CUT_S shortens the 300 s outage of
 * wan_cut_5_minutes (for a quick local run; the default is the real one). */
#include <check.h>
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anomaly_check.h"
#include "harness.h"
#include "harness_nats.h"
#include "harness_pg.h"
#include "test_run.h"

#define SITES 2
#define NODES 20
/* The NATS users: one per gateway, one for the central subscriber. */
#define NATS_USERS "gw1:pw-gw1,gw2:pw-gw2,central:pw-central"
/* Where the bridges go first (address #1) and where the central subscriber
 * is: never the same node. */
#define BRIDGE_NODE 0
#define CENTRAL_NODE 2
#define REPORT_TOPIC "site/+/edge/v1/+/report"
#define STATE_TOPIC "$SYS/broker/connection/upstream/state"
/* Most (site, device, epoch) streams and the highest seq the central
 * subscriber keeps track of: bounded memory whatever arrives. */
#define UP_STREAMS_MAX 256
#define UP_SEQ_MAX 1000000UL

/* The sims' options: quick retransmissions, slots enough for any outage. */
#define SIM_REPORT_ARGS "--report-slots", "4096", "--report-rto-ms", "1000", \
	"--report-rto-max-ms", "3000"

static const char *const gw_ids[SITES] = { "gw1", "gw2" };
static const char *const id_prefixes[SITES] = { "s1", "s2" };

/* ---- the central subscriber: every (site, device, epoch, seq) seen */

struct up_stream {
	int site;
	char dev[72];
	unsigned long epoch;
	unsigned char *seen; /* one byte per seq, 1..cap-1 */
	unsigned long cap;
	unsigned long distinct, copies;
};

struct upstream {
	pthread_mutex_t mu;
	struct mosquitto *m;
	struct up_stream s[UP_STREAMS_MAX];
	unsigned n;
	unsigned long distinct, copies, bad, messages;
	bool subscribed;
};

static int site_of(const char *gw, size_t len)
{
	for (int i = 0; i < SITES; i++)
		if (strlen(gw_ids[i]) == len && strncmp(gw_ids[i], gw, len) == 0)
			return i;
	return -1;
}

static struct up_stream *up_find(struct upstream *u, int site, const char *dev,
				 unsigned long epoch, bool create)
{
	for (unsigned i = 0; i < u->n; i++)
		if (u->s[i].site == site && u->s[i].epoch == epoch && strcmp(u->s[i].dev, dev) == 0)
			return &u->s[i];
	if (!create || u->n == UP_STREAMS_MAX)
		return NULL;
	u->s[u->n].site = site;
	snprintf(u->s[u->n].dev, sizeof u->s[u->n].dev, "%s", dev);
	u->s[u->n].epoch = epoch;
	return &u->s[u->n++];
}

/* site/<gw>/edge/v1/<dev>/report with a report's JSON: mark each seq. */
static void up_record(struct upstream *u, const char *topic, const void *payload, size_t len)
{
	char dev[72];
	const char *gw = topic + 5, *slash;
	json_t *j, *events, *ev;
	json_error_t jerr;
	size_t k;
	int site;

	u->messages++;
	if (strncmp(topic, "site/", 5) != 0 || !(slash = strchr(gw, '/')) ||
	    (site = site_of(gw, (size_t)(slash - gw))) < 0 ||
	    sscanf(slash, "/edge/v1/%71[^/]/report", dev) != 1) {
		u->bad++;
		return;
	}
	j = json_loadb(payload, len, 0, &jerr);
	events = j ? json_object_get(j, "events") : NULL;
	if (!json_is_integer(json_object_get(j, "epoch")) || !json_is_array(events)) {
		u->bad++;
		json_decref(j);
		return;
	}
	json_array_foreach(events, k, ev) {
		json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
		struct up_stream *s = up_find(u, site, dev,
					      (unsigned long)json_integer_value(json_object_get(j, "epoch")),
					      true);

		if (!s || seq <= 0 || (unsigned long)seq >= UP_SEQ_MAX) {
			u->bad++;
			continue;
		}
		if ((unsigned long)seq >= s->cap) {
			unsigned long cap = s->cap ? s->cap : 1024;
			unsigned char *p;

			while (cap <= (unsigned long)seq)
				cap *= 2;
			p = realloc(s->seen, cap);
			if (!p) {
				u->bad++;
				continue;
			}
			memset(p + s->cap, 0, cap - s->cap);
			s->seen = p;
			s->cap = cap;
		}
		if (s->seen[seq]++ == 0) {
			s->distinct++;
			u->distinct++;
		} else {
			s->copies++;
			u->copies++;
		}
		if (s->seen[seq] == 0)
			s->seen[seq] = 255; /* saturate, never back to "unseen" */
	}
	json_decref(j);
}

static void up_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct upstream *u = ud;

	(void)m;
	pthread_mutex_lock(&u->mu);
	up_record(u, msg->topic, msg->payload, (size_t)msg->payloadlen);
	pthread_mutex_unlock(&u->mu);
}

static void up_on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)ud;
	/* A persistent session keeps the subscription; subscribing again is
	 * harmless and covers a session the cluster lost. */
	if (rc == 0)
		mosquitto_subscribe(m, NULL, REPORT_TOPIC, 1);
}

static void up_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *qos)
{
	struct upstream *u = ud;

	(void)m;
	(void)mid;
	pthread_mutex_lock(&u->mu);
	u->subscribed = n == 1 && qos[0] == 1;
	pthread_mutex_unlock(&u->mu);
}

/* MQTT 3.1.1, persistent session, QoS 1, to NATS node CENTRAL_NODE; returns
 * once the subscription is granted. */
static struct upstream *up_start(struct h_nats *n)
{
	struct upstream *u = calloc(1, sizeof *u);
	uint64_t end;
	bool ok = false;

	ck_assert_ptr_nonnull(u);
	pthread_mutex_init(&u->mu, NULL);
	u->m = mosquitto_new("central-sub", false, u);
	ck_assert_ptr_nonnull(u->m);
	mosquitto_int_option(u->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_username_pw_set(u->m, "central", "pw-central");
	if (n->tls)
		ck_assert_int_eq(mosquitto_tls_set(u->m, n->ca_file, NULL, NULL, NULL, NULL),
				 MOSQ_ERR_SUCCESS);
	mosquitto_connect_callback_set(u->m, up_on_connect);
	mosquitto_subscribe_callback_set(u->m, up_on_subscribe);
	mosquitto_message_callback_set(u->m, up_on_message);
	mosquitto_reconnect_delay_set(u->m, 1, 2, false);
	ck_assert_int_eq(mosquitto_connect(u->m, "127.0.0.1", n->mqtt_port[CENTRAL_NODE], 30),
			 MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_loop_start(u->m), MOSQ_ERR_SUCCESS);
	for (end = h_now_ms() + 30000; !ok && h_now_ms() < end;) {
		pthread_mutex_lock(&u->mu);
		ok = u->subscribed;
		pthread_mutex_unlock(&u->mu);
		if (!ok)
			h_sleep_ms(50);
	}
	ck_assert_msg(ok, "the central subscriber got no QoS 1 subscription from NATS node %d",
		      CENTRAL_NODE);
	return u;
}

static unsigned long up_distinct(struct upstream *u)
{
	unsigned long v;

	pthread_mutex_lock(&u->mu);
	v = u->distinct;
	pthread_mutex_unlock(&u->mu);
	return v;
}

static void up_free(struct upstream *u)
{
	mosquitto_disconnect(u->m);
	mosquitto_loop_stop(u->m, false);
	mosquitto_destroy(u->m);
	for (unsigned i = 0; i < u->n; i++)
		free(u->s[i].seen);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

/* ---- each gateway's bridge state, from its local broker */

struct bridge_watch {
	pthread_mutex_t mu;
	struct mosquitto *m;
	char state;            /* '1' connected, '0' not, 0 unknown */
	uint64_t up_ms, down_ms; /* last change to each */
};

static void bw_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct bridge_watch *w = ud;
	char s = msg->payloadlen == 1 ? ((const char *)msg->payload)[0] : '?';

	(void)m;
	pthread_mutex_lock(&w->mu);
	if (s != w->state) {
		if (s == '1')
			w->up_ms = h_now_ms();
		else
			w->down_ms = h_now_ms();
	}
	w->state = s;
	pthread_mutex_unlock(&w->mu);
}

static void bw_on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)ud;
	if (rc == 0)
		mosquitto_subscribe(m, NULL, STATE_TOPIC, 1);
}

static struct bridge_watch *bw_start(struct h_env *e)
{
	struct bridge_watch *w = calloc(1, sizeof *w);

	ck_assert_ptr_nonnull(w);
	pthread_mutex_init(&w->mu, NULL);
	w->m = mosquitto_new(NULL, true, w);
	ck_assert_ptr_nonnull(w->m);
	mosquitto_connect_callback_set(w->m, bw_on_connect);
	mosquitto_message_callback_set(w->m, bw_on_message);
	ck_assert_int_eq(mosquitto_connect(w->m, "127.0.0.1", e->broker_port, 30),
			 MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_loop_start(w->m), MOSQ_ERR_SUCCESS);
	return w;
}

static char bw_state(struct bridge_watch *w, uint64_t *up_ms, uint64_t *down_ms)
{
	char s;

	pthread_mutex_lock(&w->mu);
	s = w->state;
	if (up_ms)
		*up_ms = w->up_ms;
	if (down_ms)
		*down_ms = w->down_ms;
	pthread_mutex_unlock(&w->mu);
	return s;
}

/* Until the bridge's state is `want`; returns when it became so. */
static uint64_t bw_wait(struct bridge_watch *w, char want, unsigned timeout_ms, const char *gw)
{
	uint64_t end = h_now_ms() + timeout_ms, up, down;
	char s;

	while ((s = bw_state(w, &up, &down)) != want && h_now_ms() < end)
		h_sleep_ms(20);
	ck_assert_msg(s == want, "gateway %s: bridge state '%c' after %u ms, expected '%c'", gw,
		      s ? s : '-', timeout_ms, want);
	return want == '1' ? up : down;
}

/* Until the bridge went down at or after t0 and came back up since;
 * returns how long after t0 it was up again (*down_ms: when it went down). */
static uint64_t bw_wait_failover(struct bridge_watch *w, uint64_t t0, unsigned timeout_ms,
				 const char *gw, uint64_t *down_ms)
{
	uint64_t end = h_now_ms() + timeout_ms, up = 0, down = 0;
	char s = 0;

	while (h_now_ms() < end) {
		s = bw_state(w, &up, &down);
		if (s == '1' && down >= t0 && up >= down)
			break;
		h_sleep_ms(20);
	}
	ck_assert_msg(s == '1' && down >= t0 && up >= down, "gateway %s: no failover within "
		      "%u ms (state '%c')", gw, timeout_ms, s ? s : '-');
	*down_ms = down - t0;
	return up - t0;
}

static void bw_free(struct bridge_watch *w)
{
	mosquitto_disconnect(w->m);
	mosquitto_loop_stop(w->m, false);
	mosquitto_destroy(w->m);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* edged's view of the bridge (status "upstream.bridges", from the same
 * notifications): 1 connected, 0 not, -1 not shown. */
static int edged_bridge_connected(struct h_env *e)
{
	json_t *st = h_edgectl_json(e, "status", NULL), *b;
	size_t i;
	int v = -1;

	json_array_foreach(json_object_get(json_object_get(st, "upstream"), "bridges"), i, b)
		if (json_is_string(json_object_get(b, "name")) &&
		    strcmp(json_string_value(json_object_get(b, "name")), "upstream") == 0)
			v = json_is_true(json_object_get(b, "connected"));
	json_decref(st);
	return v;
}

/* Until edged shows the bridge in state `want` (bounded). */
static void edged_bridge_wait(struct h_env *e, int want, unsigned timeout_ms, const char *gw)
{
	uint64_t end = h_now_ms() + timeout_ms;
	int v;

	while ((v = edged_bridge_connected(e)) != want && h_now_ms() < end)
		h_sleep_ms(100);
	ck_assert_msg(v == want, "gateway %s: edgectl status shows the bridge %s, expected %s",
		      gw, v < 0 ? "absent" : v ? "connected" : "down",
		      want ? "connected" : "down");
}

/* ---- the world: NATS, PostgreSQL, two gateways */

struct site {
	struct h_env *e;
	struct bridge_watch *bw;
	char pwfile[400];
	char addr[3][32];
	const char *args[24];
};

struct world {
	struct h_nats nats;
	struct h_pg pg;
	struct site site[SITES];
	struct upstream *up;
};

/* The central schema, as an operator creates it. */
static void central_init(struct site *s, struct h_pg *pg)
{
	const char *const args[] = { "central", "init", "--conninfo", h_pg_conninfo(pg), NULL };
	char *out = NULL, *err = NULL;
	int rc = h_edgectl_capture(s->e, 30000, &out, &err, args);

	ck_assert_msg(rc == 0, "edgectl central init: exit %d: %s%s", rc, out ? out : "",
		      err ? err : "");
	free(out);
	free(err);
}

/* Site i: its broker from `edgectl broker-config --bridge-...` (bridges
 * to node BRIDGE_NODE first, then the others), its edged forwarding into
 * pg, the bridge connected. */
static void site_start(struct world *w, int i)
{
	struct site *s = &w->site[i];
	char pw[32];
	size_t n = 0;
	FILE *f;

	s->e = h_env_new();
	snprintf(s->pwfile, sizeof s->pwfile, "%s/upstream.pw", s->e->dir);
	snprintf(pw, sizeof pw, "pw-%s", gw_ids[i]);
	f = fopen(s->pwfile, "we");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", pw);
	ck_assert_int_eq(fclose(f), 0);
	chmod(s->pwfile, 0600);
	for (int k = 0; k < H_NATS_NODES; k++) {
		snprintf(s->addr[k], sizeof s->addr[k], "127.0.0.1:%d",
			 w->nats.mqtt_port[(BRIDGE_NODE + k) % H_NATS_NODES]);
		s->args[n++] = "--bridge-address";
		s->args[n++] = s->addr[k];
	}
	s->args[n++] = "--bridge-gateway-id";
	s->args[n++] = gw_ids[i];
	s->args[n++] = "--bridge-user";
	s->args[n++] = gw_ids[i];
	s->args[n++] = "--bridge-password-file";
	s->args[n++] = s->pwfile;
	if (w->nats.tls) {
		s->args[n++] = "--bridge-cafile";
		s->args[n++] = w->nats.ca_file;
	}
	s->args[n] = NULL;
	ck_assert_uint_lt(n, sizeof s->args / sizeof s->args[0]);
	h_broker_config_args(s->args);
	h_broker_start(s->e);
	h_broker_config_args(NULL);
	{
		/* The generated bridge is what runs. */
		char *conf = h_read_file(s->e->broker_conf, NULL);

		ck_assert_ptr_nonnull(conf);
		ck_assert_msg(strstr(conf, "\nconnection upstream\n") &&
			      strstr(conf, "\ntry_private false\n"),
			      "no bridge in %s", s->e->broker_conf);
		free(conf);
	}
	s->bw = bw_start(s->e);
	h_cfg_set(s->e, "central.conninfo", h_pg_conninfo(&w->pg));
	h_cfg_set(s->e, "central.gateway_id", gw_ids[i]);
	h_cfg_set(s->e, "central.retry_min_ms", "200");
	h_cfg_set(s->e, "central.retry_max_ms", "2000");
	h_cfg_set(s->e, "central.summary_interval_s", "5");
	h_cfg_set(s->e, "central.timeout_s", "10");
	/* Small batches: a backlog takes many commits, so that a kill -9 lands
	 * between two of them. */
	h_cfg_set(s->e, "central.batch_rows", "20");
	if (i == 0)
		central_init(s, &w->pg);
	h_edged_start(s->e);
	bw_wait(s->bw, '1', 30000, gw_ids[i]);
	edged_bridge_wait(s->e, 1, 10000, gw_ids[i]);
}

/* On the heap: a failed check leaves the test function, and h_teardown
 * still reaches the cluster through it. */
static struct world *world_start(bool tls)
{
	struct world *w = calloc(1, sizeof *w);

	ck_assert_ptr_nonnull(w);
	h_nats_start(&w->nats, NULL, tls, NATS_USERS);
	h_pg_start(&w->pg, NULL);
	w->up = up_start(&w->nats);
	for (int i = 0; i < SITES; i++)
		site_start(w, i);
	return w;
}

/* NODES nodes per site, each 5 anomalies a second; duration_s bounds the
 * run. */
static void sims_start(struct world *w, const char *duration_s)
{
	char count[16], registered[48];

	snprintf(count, sizeof count, "%d", NODES);
	snprintf(registered, sizeof registered, "sim: registered all %d", NODES);
	for (int i = 0; i < SITES; i++)
		h_sim_start(w->site[i].e, "--count", count, "--id-prefix", id_prefixes[i],
			    "--heartbeat-s", "30", "--anomaly-rate", "5", "--duration-s",
			    duration_s, SIM_REPORT_ARGS, NULL);
	for (int i = 0; i < SITES; i++)
		h_sim_wait(w->site[i].e, registered, 30000);
}

static void sims_wait_events(struct world *w, long long per_site, unsigned timeout_ms)
{
	for (int i = 0; i < SITES; i++)
		h_wait_sim_events(w->site[i].e, per_site, timeout_ms);
}

/* Until the central database holds `want` events of site i. */
static void central_wait(struct world *w, int i, long long want, unsigned timeout_ms)
{
	char sql[160];
	uint64_t end = h_now_ms() + timeout_ms;
	long long have;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM anomaly_event WHERE gateway = '%s'",
		 gw_ids[i]);
	while ((have = h_pg_count(&w->pg, sql)) < want && h_now_ms() < end)
		h_sleep_ms(200);
	ck_assert_msg(have == want, "central anomaly_event holds %lld events of %s, %lld "
		      "expected", have, gw_ids[i], want);
}

/* Until the central subscriber saw `want` distinct events in all. */
static void upstream_wait(struct world *w, unsigned long want, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	unsigned long have;

	while ((have = up_distinct(w->up)) < want && h_now_ms() < end)
		h_sleep_ms(100);
	ck_assert_msg(have == want, "the central subscriber saw %lu distinct events, %lu "
		      "expected", have, want);
}

/* An aggregate over one node's stream in the central anomaly_event. */
static long long central_stream(struct world *w, int site, const struct h_sim_events *nd,
				const char *what)
{
	char sql[512];

	snprintf(sql, sizeof sql, "SELECT %s FROM anomaly_event WHERE gateway = '%s' AND "
		 "device = '%.71s' AND epoch = %lu", what, gw_ids[site], nd->id, nd->epoch);
	return h_pg_count(&w->pg, sql);
}

/* Calm every fleet, wait for every ack and for both copies upstream
 * (central database, central subscriber); then per site stop the sim and
 * edged, and check the local database (anomaly_finish_and_compare), the
 * central rows and the subscriber's set node by node against what each
 * node generated. Returns the events of both sites. */
static unsigned long world_finish_and_compare(struct world *w, unsigned timeout_ms)
{
	long long total[SITES];
	unsigned long all = 0;

	for (int i = 0; i < SITES; i++)
		h_sim_cmd(w->site[i].e, "calm all");
	for (int i = 0; i < SITES; i++) {
		h_wait_sim_all_acked(w->site[i].e, timeout_ms);
		total[i] = h_sim_stat(w->site[i].e, "events");
		all += (unsigned long)total[i];
	}
	for (int i = 0; i < SITES; i++) {
		central_wait(w, i, total[i], timeout_ms);
		h_wait_status(w->site[i].e, "central.backlog_events", "==", 0, timeout_ms);
	}
	upstream_wait(w, all, timeout_ms);
	for (int i = 0; i < SITES; i++) {
		struct h_sim_events nodes[NODES];
		unsigned n;
		unsigned long local = anomaly_finish_and_compare(w->site[i].e, NODES, timeout_ms);

		ck_assert_uint_eq(local, (unsigned long)total[i]);
		n = h_sim_events_parse(w->site[i].e, nodes, NODES);
		ck_assert_uint_eq(n, NODES);
		for (unsigned k = 0; k < n; k++) {
			struct up_stream *s;

			/* Central: seqs 1..last of the node's epoch, each once (the key
			 * makes a second copy impossible; count and bounds say that none
			 * is missing). */
			ck_assert_int_eq(central_stream(w, i, &nodes[k], "count(*)"),
					 (long long)nodes[k].last);
			ck_assert_int_eq(central_stream(w, i, &nodes[k], "min(seq)"), 1);
			ck_assert_int_eq(central_stream(w, i, &nodes[k], "max(seq)"),
					 (long long)nodes[k].last);
			/* Upstream: every seq reached the subscriber, nothing else. */
			pthread_mutex_lock(&w->up->mu);
			s = up_find(w->up, i, nodes[k].id, nodes[k].epoch, false);
			ck_assert_msg(s != NULL, "no report of %s/%s reached the central subscriber",
				      gw_ids[i], nodes[k].id);
			ck_assert_msg(s->distinct == nodes[k].last && s->cap > nodes[k].last,
				      "%s/%s epoch %lu: %lu distinct events upstream, %lu generated",
				      gw_ids[i], nodes[k].id, nodes[k].epoch, s->distinct,
				      nodes[k].last);
			for (unsigned long q = 1; q <= nodes[k].last; q++)
				ck_assert_msg(s->seen[q], "%s/%s: seq %lu never reached upstream",
					      gw_ids[i], nodes[k].id, q);
			pthread_mutex_unlock(&w->up->mu);
		}
	}
	pthread_mutex_lock(&w->up->mu);
	ck_assert_msg(w->up->bad == 0, "%lu unexpected messages or events upstream", w->up->bad);
	ck_assert_uint_eq(w->up->n, SITES * NODES);
	printf("# %lu events of %d sites: once in each local and in the central database, "
	       "upstream in %lu reports (%lu events seen again)\n", all, SITES, w->up->messages,
	       w->up->copies);
	pthread_mutex_unlock(&w->up->mu);
	return all;
}

static void world_free(struct world *w)
{
	up_free(w->up);
	for (int i = 0; i < SITES; i++) {
		bw_free(w->site[i].bw);
		h_env_free(w->site[i].e);
	}
	h_pg_free(&w->pg);
	h_nats_free(&w->nats);
	free(w);
}

/* Both fleets report over TLS bridges: everything arrives, once centrally. */
START_TEST(multisite_exactly_once)
{
	struct world *w;

	w = world_start(true);
	sims_start(w, "600");
	sims_wait_events(w, NODES * 50, 60000);
	world_finish_and_compare(w, 60000);
	world_free(w);
}
END_TEST

/* SIGKILL of the NATS node both bridges use, mid-stream: each bridge moves
 * to the next address; the node restarted, each goes back to it; nothing
 * is lost. */
START_TEST(bridge_node_killed_loses_nothing)
{
	struct world *w;
	uint64_t t0;

	w = world_start(false);
	sims_start(w, "600");
	sims_wait_events(w, NODES * 25, 60000);
	t0 = h_now_ms();
	h_nats_kill(&w->nats, BRIDGE_NODE);
	for (int i = 0; i < SITES; i++) {
		uint64_t down, up = bw_wait_failover(w->site[i].bw, t0, 60000, gw_ids[i], &down);
		char id[80];

		snprintf(id, sizeof id, "edged-%s", gw_ids[i]);
		ck_assert(h_nats_has_mqtt_client(&w->nats, 1, id) ||
			  h_nats_has_mqtt_client(&w->nats, 2, id));

		printf("# %s: bridge down %llu ms and connected to the next node %llu ms after "
		       "the kill\n", gw_ids[i], (unsigned long long)down, (unsigned long long)up);
	}
	/* The stream goes on through the new node. */
	sims_wait_events(w, NODES * 50, 60000);
	/* The killed node back with its store: round_robin false takes each
	 * bridge back to its first address (mosquitto probes it while on
	 * another; its state stays "1", so the node's own client list tells),
	 * again without a loss. */
	t0 = h_now_ms();
	h_nats_restart(&w->nats, BRIDGE_NODE);
	for (int i = 0; i < SITES; i++) {
		char id[80];
		uint64_t end = h_now_ms() + 90000;
		bool back;

		snprintf(id, sizeof id, "edged-%s", gw_ids[i]);
		while (!(back = h_nats_has_mqtt_client(&w->nats, BRIDGE_NODE, id)) &&
		       h_now_ms() < end)
			h_sleep_ms(200);
		ck_assert_msg(back, "%s did not return to NATS node %d", id, BRIDGE_NODE);
		printf("# %s: bridge back on its first node %llu ms after its restart began\n",
		       gw_ids[i], (unsigned long long)(h_now_ms() - t0));
	}
	sims_wait_events(w, NODES * 75, 60000);
	world_finish_and_compare(w, 90000);
	world_free(w);
}
END_TEST

static unsigned wan_cut_seconds(void)
{
	const char *v = getenv("EDGE_TEST_WAN_CUT_S");
	unsigned long s = v && v[0] ? strtoul(v, NULL, 10) : 300;

	return s >= 10 && s <= 300 ? (unsigned)s : 300;
}

/* Upstream and database gone for 5 minutes while the fleets go on: ingest
 * is still acked, the backlog grows, then everything arrives once; kill -9
 * of one edged while it forwards that backlog changes nothing. */
START_TEST(wan_cut_5_minutes)
{
	struct world *w;
	unsigned cut_s = wan_cut_seconds();
	long long backlog0[SITES], acked0[SITES];
	uint64_t cut_end;

	w = world_start(true);
	sims_start(w, "1100");
	sims_wait_events(w, NODES * 25, 60000);
	h_nats_stop_all(&w->nats);
	h_pg_stop(&w->pg);
	for (int i = 0; i < SITES; i++) {
		json_t *st;

		bw_wait(w->site[i].bw, '0', 60000, gw_ids[i]);
		edged_bridge_wait(w->site[i].e, 0, 10000, gw_ids[i]);
		h_wait_status(w->site[i].e, "central.connected", "==", 0, 60000);
		st = h_edgectl_json(w->site[i].e, "status", NULL);
		backlog0[i] = h_json_int(st, "central.backlog_events");
		json_decref(st);
		acked0[i] = h_sim_stat(w->site[i].e, "events_acked");
	}
	cut_end = h_now_ms() + cut_s * 1000ULL;
	while (h_now_ms() < cut_end)
		h_sleep_ms(1000);
	for (int i = 0; i < SITES; i++) {
		json_t *st = h_edgectl_json(w->site[i].e, "status", NULL);
		const json_t *c = json_object_get(st, "central");

		/* Still cut off, the backlog grew, and the site went on storing. */
		ck_assert(json_is_false(json_object_get(c, "connected")));
		ck_assert_int_eq(edged_bridge_connected(w->site[i].e), 0);
		ck_assert_int_gt(h_json_int(st, "central.backlog_events"), backlog0[i]);
		ck_assert_int_gt(h_sim_stat(w->site[i].e, "events_acked"), acked0[i]);
		ck_assert_int_eq(h_json_int(st, "central.dropped_unforwarded_events"), 0);
		printf("# %s: %lld events waiting for the central database after %u s\n", gw_ids[i],
		       h_json_int(st, "central.backlog_events"), cut_s);
		json_decref(st);
	}
	{
		uint64_t t = h_now_ms();

		h_nats_start_all(&w->nats);
		for (int i = 0; i < SITES; i++) {
			bw_wait(w->site[i].bw, '1', 120000, gw_ids[i]);
			edged_bridge_wait(w->site[i].e, 1, 10000, gw_ids[i]);
		}
		printf("# bridges back %llu ms after the upstream's restart began\n",
		       (unsigned long long)(h_now_ms() - t));
	}
	/* The database last, and kill -9 of gateway 1's edged while it forwards
	 * the backlog: some batches committed, more to go. */
	{
		json_t *st = h_edgectl_json(w->site[0].e, "status", NULL);
		long long f0 = h_json_int(st, "central.forwarded_events"), f = f0, backlog = 0;
		uint64_t end = h_now_ms() + 120000;

		json_decref(st);
		h_pg_restart(&w->pg);
		while (h_now_ms() < end) {
			st = h_edgectl_json(w->site[0].e, "status", NULL);
			f = h_json_int(st, "central.forwarded_events");
			backlog = h_json_int(st, "central.backlog_events");
			json_decref(st);
			if (f > f0 || backlog == 0)
				break;
			h_sleep_ms(5);
		}
		ck_assert_msg(f > f0 && backlog > 0, "%s forwarded its backlog before the kill: "
			      "forwarded %lld -> %lld, backlog %lld", gw_ids[0], f0, f, backlog);
		printf("# %s: kill -9 after %lld of the backlog, %lld to go\n", gw_ids[0], f - f0,
		       backlog);
	}
	h_proc_signal(&w->site[0].e->edged, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&w->site[0].e->edged) &&
	     h_now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&w->site[0].e->edged));
	h_edged_start(w->site[0].e);
	world_finish_and_compare(w, 300000);
	world_free(w);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "multisite_exactly_once", multisite_exactly_once, 600 },
		{ "bridge_node_killed_loses_nothing", bridge_node_killed_loses_nothing, 600 },
		{ "wan_cut_5_minutes", wan_cut_5_minutes, 1150 },
	};

	h_nats_require();
	h_pg_require();
	mosquitto_lib_init();
	return h_run_cases(argc, argv, "multisite", cases, sizeof cases / sizeof cases[0]);
}
