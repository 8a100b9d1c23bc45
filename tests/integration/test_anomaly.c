/* End-to-end anomaly reports: simulated nodes send their events through the
 * device SDK's report queue, edged stores them and acks after the commit.
 * Every case compares the SQLite file (read after edged stopped) with the
 * events each node generated, as the simulator's per-node lines say, seq
 * by seq: nothing lost, nothing stored twice, also across kill -9 of edged.
 * A real mosquitto, the built edged and edgectl, and the simulator. Run one
 * case with `test-anomaly CASE`. */
#include <check.h>
#include <dirent.h>
#include <mosquitto.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anomaly_check.h"
#include "harness.h"
#include "test_run.h"


/* The sim's options shared by the cases: retransmissions quick enough for
 * a test (the SDK's defaults back off to a minute), enough slots that no
 * node drops an event while edged is down. */
#define SIM_REPORT_ARGS "--report-slots", "4096", "--report-rto-ms", "1000", \
	"--report-rto-max-ms", "3000"

/* 20 nodes, a few hundred events each, no fault: every event acked, stored
 * once, and the counters say so. */
START_TEST(acked_end_to_end)
{
	struct h_env *e = h_world(NULL);
	json_t *st;
	unsigned long total;
	long long stored;

	h_sim_start(e, "--count", "20", "--heartbeat-s", "30", "--anomaly-rate", "50",
		    SIM_REPORT_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 20", 30000);
	h_wait_sim_events(e, 20 * 200, 30000);
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 30000);
	st = h_edgectl_json(e, "status", NULL);
	stored = h_json_int(st, "anomalies.events_stored");
	ck_assert_int_eq(h_json_int(st, "anomalies.failed"), 0);
	ck_assert_int_eq(h_json_int(st, "anomalies.pending"), 0);
	ck_assert_int_eq(h_json_int(st, "anomalies.gaps"), 0);
	ck_assert_int_ge(h_json_int(st, "anomalies.acks_sent"), 1);
	ck_assert_int_eq(h_json_int(st, "rejects.unhandled_type"), 0);
	ck_assert_int_ge(h_json_int(st, "messages.report"), h_json_int(st, "anomalies.reports"));
	json_decref(st);
	{
		/* The human view has the line. */
		static const char *const args[] = { "status", NULL };
		char *text = NULL;
		char want[96];

		ck_assert_int_eq(h_edgectl_capture(e, 10000, &text, NULL, args), 0);
		snprintf(want, sizeof want, "reports: %lld events stored", stored);
		ck_assert_msg(strstr(text, "anomalies") && strstr(text, want),
			      "edgectl status shows no anomalies line with '%s':\n%s", want, text);
		free(text);
	}
	total = anomaly_finish_and_compare(e, 20, 30000);
	ck_assert_int_eq(stored, (long long)total);
	printf("# %lu events of 20 nodes stored once and acked\n", total);
	h_env_free(e);
}
END_TEST

/* One pending report at a time (set by a reload: the key is reloadable):
 * the others are deferred (not acked), and the nodes' retransmissions
 * still bring every event in, once. */
START_TEST(deferred_reports_come_again)
{
	struct h_env *e = h_world(NULL);
	long long deferred;
	json_t *st;
	FILE *f;

	f = fopen(e->edged_conf, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "\n[anomaly]\nmax_pending_reports = 1\n");
	fclose(f);
	ck_assert_int_eq(h_edgectl(e, NULL, "reload", NULL), 0);
	h_wait_status(e, "reloads.ok", "==", 1, 5000);

	h_sim_start(e, "--count", "10", "--heartbeat-s", "30", "--anomaly-rate", "50",
		    SIM_REPORT_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 10", 30000);
	h_wait_sim_events(e, 10 * 100, 30000);
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 40000);
	st = h_edgectl_json(e, "status", NULL);
	deferred = h_json_int(st, "anomalies.deferred");
	/* 10 nodes reporting 500 events a second against one slot and a
	 * commit window of store.group_commit_max_delay_ms. */
	ck_assert_int_gt(deferred, 0);
	ck_assert_int_eq(h_json_int(st, "anomalies.failed"), 0);
	json_decref(st);
	anomaly_finish_and_compare(e, 10, 30000);
	printf("# %lld reports deferred, all their events stored once later\n", deferred);
	h_env_free(e);
}
END_TEST

static void edged_kill9(struct h_env *e)
{
	h_proc_signal(&e->edged, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&e->edged) && h_now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&e->edged));
}

/* The test: kill -9 of edged 20 times while 100 simulated nodes
 * send 20,000 events in all; after the last restart and the
 * retransmissions, the database holds every event the nodes generated
 * exactly once, checked event by event. The kills are spread over the
 * whole flow (kill k once the fleet generated k/(kills+1) of the events),
 * each once the instance committed and acked reports of its own. The first
 * comes right after the last node was told `registered`: edged answers
 * only once a registration is committed, so no node is lost to a kill
 * (its reports would be refused unknown_node and never acked). */
START_TEST(kill9_loses_and_duplicates_nothing)
{
#ifdef H_ASAN
	const unsigned kills = 3, nodes = 50;
	const long long events = 5000;
	const char *const count = "50";
#else
	const unsigned kills = 20, nodes = 100;
	const long long events = 20000;
	const char *const count = "100";
#endif
	struct h_env *e;
	unsigned long total;
	char all[48];

	ck_assert_msg(nodes <= ANOMALY_MAX_NODES, "anomaly_check compares at most %d nodes",
		      ANOMALY_MAX_NODES);
	e = h_world(NULL);
	h_sim_start(e, "--count", count, "--heartbeat-s", "30", "--anomaly-rate", "8",
		    SIM_REPORT_ARGS, NULL);
	snprintf(all, sizeof all, "sim: registered all %u", nodes);
	h_sim_wait(e, all, 30000);
	for (unsigned k = 0; k < kills; k++) {
		if (k > 0)
			h_wait_sim_events(e, events * k / (kills + 1), 60000);
		/* This instance's own commits and acks (its counters start at 0). */
		h_wait_status(e, "anomalies.acks_sent", ">=", 20, 20000);
		edged_kill9(e);
		h_edged_start(e);
	}
	h_wait_sim_events(e, events, 60000);
	total = anomaly_finish_and_compare(e, nodes, 60000);
	ck_assert_uint_ge(total, (unsigned long)events);
	printf("# %u kills: %lu events of %u nodes, 0 lost, 0 duplicated\n", kills, total,
	       nodes);
	h_env_free(e);
}
END_TEST

/* edged answers `registered` only once the registration is committed. With
 * a commit window of a second (store.group_commit_max_delay_ms), edged is
 * killed right after a new node was told `registered`: the restarted edged
 * knows it, its heartbeats are accepted (no unknown_node), and it neither
 * said hello again nor reconnected. */
START_TEST(registered_node_survives_kill9)
{
	static const char *const cfg[] = { "store.group_commit_max_delay_ms", "1000", NULL };
	struct h_env *e = h_world(cfg);
	json_t *st;

	h_sim_start(e, "--count", "1", "--heartbeat-s", "5", NULL);
	h_sim_wait(e, "sim: registered all 1", 30000);
	edged_kill9(e);
	h_edged_start(e);
	h_wait_status(e, "messages.heartbeat", ">=", 2, 20000);
	st = h_edgectl_json(e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "rejects.unknown_node"), 0);
	ck_assert_int_eq(h_json_int(st, "messages.hello"), 0);
	ck_assert_int_eq(h_json_int(st, "nodes.total"), 1);
	json_decref(st);
	ck_assert_int_eq(h_sim_stat(e, "hellos"), 1);
	ck_assert_int_eq(h_sim_stat(e, "reconnects"), 0);
	ck_assert_int_eq(h_sim_stat(e, "lost"), 0);
	h_env_free(e);
}
END_TEST

/* The latest `sim: events` line of node id, after a fresh `stats`. */
static struct h_sim_events sim_node_events(struct h_env *e, const char *id)
{
	struct h_sim_events ev;
	char needle[96];
	char *text;
	const char *p, *last = NULL;

	(void)h_sim_stat(e, "events");
	text = h_sim_output(e);
	snprintf(needle, sizeof needle, "sim: events node=%s ", id);
	for (p = text; (p = strstr(p, needle)) != NULL; p++)
		last = p;
	ck_assert_msg(last != NULL, "no events line of %s", id);
	ck_assert_int_eq(sscanf(last, "sim: events node=%71s epoch=%lu first=%lu last=%lu "
				"dropped=%lu acked=%lu held=%lu", ev.id, &ev.epoch, &ev.first,
				&ev.last, &ev.dropped, &ev.acked, &ev.held), 7);
	free(text);
	return ev;
}

/* Rows of device now (edged running: a reader beside the WAL writer). */
static long long db_rows(struct h_env *e, const char *id)
{
	sqlite3 *db = anomaly_db_open(e);
	long long n;

	sqlite3_busy_timeout(db, 5000);
	n = anomaly_db_int(db, "SELECT COUNT(*) FROM anomaly_event WHERE device = ?1", id);
	sqlite3_close(db);
	return n;
}

/* Once the operator revoked a node, its reports are refused not_allowed:
 * nothing more of it is stored or acked, while the other node's are. */
START_TEST(revoked_node_reports_are_not_stored)
{
	struct h_env *e = h_env_new();
	char idir[320];
	long long before, after, refused;
	struct h_sim_events ev;
	json_t *r = NULL;

	snprintf(idir, sizeof idir, "%s/identities", e->dir);
	ck_assert_int_eq(mkdir(idir, 0750), 0);
	h_broker_start(e);
	h_cfg_set(e, "broker.identity_dir", idir);
	h_cfg_set(e, "mqtt.username", "edged");
	h_cfg_set(e, "mqtt.password", "gateway-secret");
	h_edged_start(e);
	h_sim_start(e, "--count", "2", "--heartbeat-s", "3600", "--anomaly-rate", "20",
		    SIM_REPORT_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 2", 30000);
	h_wait_status(e, "anomalies.events_stored", ">=", 20, 20000);
	ck_assert_int_eq(h_edgectl(e, NULL, "nodes", "provision", h_node_id(0), "--out", idir,
				   NULL), 0);
	ck_assert_int_eq(h_edgectl(e, &r, "nodes", "revoke", h_node_id(0), NULL), 0);
	ck_assert_str_eq(h_json_str(r, "registry"), "revoked");
	json_decref(r);

	/* Reports keep coming from node 0 (new events, retransmissions): each
	 * is refused, none reaches the database. */
	h_wait_status(e, "rejects.not_allowed", ">=", 5, 20000);
	before = db_rows(e, h_node_id(0));
	r = h_edgectl_json(e, "status", NULL);
	refused = h_json_int(r, "rejects.not_allowed");
	json_decref(r);
	h_wait_status(e, "rejects.not_allowed", ">=", refused + 10, 20000);
	after = db_rows(e, h_node_id(0));
	ck_assert_int_gt(before, 0);
	ck_assert_int_eq(after, before);
	ev = sim_node_events(e, h_node_id(0));
	ck_assert_uint_gt(ev.held, 0);
	ck_assert_uint_eq(ev.acked, (unsigned long)before);
	{
		char *log = h_edged_log(e);
		char want[96];

		snprintf(want, sizeof want, "report from node %s ignored: not_allowed",
			 h_node_id(0));
		ck_assert_msg(strstr(log, want) != NULL, "edged logged no '%s'", want);
		free(log);
	}

	/* The other node is acked in full. */
	h_sim_cmd(e, "calm all");
	for (uint64_t end = h_now_ms() + 20000;; h_sleep_ms(100)) {
		ev = sim_node_events(e, h_node_id(1));
		if (ev.held == 0 || h_now_ms() > end)
			break;
	}
	ck_assert_uint_eq(ev.held, 0);
	ck_assert_uint_eq(ev.acked, ev.last);
	ck_assert_int_eq(db_rows(e, h_node_id(1)), (long long)ev.last);
	ck_assert_int_eq(db_rows(e, h_node_id(0)), before);
	h_env_free(e);
}
END_TEST

/* Raw MQTT client publishing QoS 1 and waiting for each PUBACK. */
struct raw {
	struct mosquitto *mosq;
	int published;
};

static void raw_on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m;
	(void)mid;
	((struct raw *)ud)->published++;
}

static void raw_connect(struct h_env *e, struct raw *r)
{
	memset(r, 0, sizeof *r);
	r->mosq = mosquitto_new("raw-reporter", true, r);
	ck_assert_ptr_nonnull(r->mosq);
	mosquitto_int_option(r->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_publish_callback_set(r->mosq, raw_on_publish);
	ck_assert_int_eq(mosquitto_connect(r->mosq, "127.0.0.1", e->broker_port, 30),
			 MOSQ_ERR_SUCCESS);
}

static void raw_publish(struct raw *r, const char *topic, const void *payload, size_t len)
{
	int want = r->published + 1;
	uint64_t end = h_now_ms() + 10000;

	ck_assert_int_eq(mosquitto_publish(r->mosq, NULL, topic, (int)len, payload, 1, false),
			 MOSQ_ERR_SUCCESS);
	while (r->published < want && h_now_ms() < end)
		ck_assert_int_eq(mosquitto_loop(r->mosq, 100, 1), MOSQ_ERR_SUCCESS);
	ck_assert_int_ge(r->published, want);
}

static void raw_free(struct raw *r)
{
	mosquitto_disconnect(r->mosq);
	mosquitto_loop(r->mosq, 100, 1);
	mosquitto_destroy(r->mosq);
}

static char *slurp(const char *path, size_t *len)
{
	char *buf = h_read_file(path, len);

	ck_assert_msg(buf != NULL, "cannot read %s", path);
	return buf;
}

#define MAX_REASONS 48

/* A report from an id that never said hello is refused unknown_node and
 * stored nowhere; every malformed report vector of proto's golden set,
 * published by a raw client, is counted under its reason; the nodes
 * reporting meanwhile are acked in full. */
START_TEST(unknown_and_malformed_reports_are_refused)
{
	struct h_env *e = h_world(NULL);
	struct { char name[40]; long long n; } reasons[MAX_REASONS];
	unsigned n_reasons = 0, n_vectors = 0;
	const char *src = getenv("EDGE_SOURCE_ROOT");
	char path[1024], line[512];
	struct raw raw;
	json_t *st;
	FILE *idx;
	char *payload;
	size_t len;

	ck_assert_msg(src != NULL, "EDGE_SOURCE_ROOT not set");
	h_sim_start(e, "--count", "5", "--heartbeat-s", "30", "--anomaly-rate", "20",
		    SIM_REPORT_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 5", 30000);
	raw_connect(e, &raw);

	/* A valid report, from an id the registry does not know. */
	snprintf(path, sizeof path, "%s/tests/unit/proto/vectors/report/valid_one_event.json", src);
	payload = slurp(path, &len);
	raw_publish(&raw, "edge/v1/ghost-01/report", payload, len);
	free(payload);
	h_wait_status(e, "rejects.unknown_node", "==", 1, 10000);

	/* Every malformed report vector, under a registered node's id: the
	 * payload is refused before the registry is asked. */
	snprintf(path, sizeof path, "%s/tests/unit/proto/vectors/index.txt", src);
	idx = fopen(path, "r");
	ck_assert_ptr_nonnull(idx);
	while (fgets(line, sizeof line, idx)) {
		char kind[32], topic[64], file[128], reason[40], field[64];
		unsigned i;

		if (sscanf(line, "%31s %63s %127s %39s %63s", kind, topic, file, reason, field) != 5 ||
		    strcmp(kind, "report") != 0 || strcmp(reason, "ok") == 0)
			continue;
		snprintf(path, sizeof path, "%s/tests/unit/proto/vectors/%s", src, file);
		payload = slurp(path, &len);
		raw_publish(&raw, "edge/v1/sim-00000/report", payload, len);
		free(payload);
		n_vectors++;
		for (i = 0; i < n_reasons && strcmp(reasons[i].name, reason) != 0; i++)
			;
		if (i == n_reasons) {
			ck_assert_uint_lt(n_reasons, MAX_REASONS);
			snprintf(reasons[i].name, sizeof reasons[i].name, "%s", reason);
			reasons[i].n = 0;
			n_reasons++;
		}
		reasons[i].n++;
	}
	fclose(idx);
	raw_free(&raw);
	ck_assert_uint_ge(n_vectors, 50);
	for (unsigned i = 0; i < n_reasons; i++) {
		char key[96];

		snprintf(key, sizeof key, "rejects.%.39s", reasons[i].name);
		h_wait_status(e, key, "==", reasons[i].n, 10000);
	}
	st = h_edgectl_json(e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "rejects.unknown_node"), 1);
	ck_assert_int_eq(h_json_int(st, "anomalies.failed"), 0);
	json_decref(st);

	h_wait_sim_events(e, 5 * 50, 30000);
	anomaly_finish_and_compare(e, 5, 30000);
	/* The ghost left nothing (anomaly_finish_and_compare counted every row too). */
	{
		sqlite3 *db = anomaly_db_open(e);

		ck_assert_int_eq(anomaly_db_int(db, "SELECT COUNT(*) FROM anomaly_event WHERE device = ?1",
					"ghost-01"), 0);
		sqlite3_close(db);
	}
	printf("# %u malformed vectors counted under %u reasons\n", n_vectors, n_reasons);
	h_env_free(e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "acked_end_to_end", acked_end_to_end, 120 },
		{ "deferred_reports_come_again", deferred_reports_come_again, 120 },
		{ "kill9_loses_and_duplicates_nothing", kill9_loses_and_duplicates_nothing, 240 },
		{ "registered_node_survives_kill9", registered_node_survives_kill9, 60 },
		{ "revoked_node_reports_are_not_stored", revoked_node_reports_are_not_stored, 120 },
		{ "unknown_and_malformed_reports_are_refused",
		  unknown_and_malformed_reports_are_refused, 120 },
	};

	mosquitto_lib_init();
	return h_run_cases(argc, argv, "anomaly", cases, sizeof cases / sizeof cases[0]);
}
