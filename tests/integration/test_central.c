/* Forwarding to the central history (lib/central, docs/central.md) from one
 * gateway: a real mosquitto, the built edged and edgectl, the simulator and
 * a private PostgreSQL whose schema `edgectl central init` created. Each
 * case ends by comparing the central rows with edged's own SQLite file,
 * device by device and epoch by epoch (count, lowest and highest seq), and
 * the SQLite file with what the simulated nodes generated
 * (anomaly_finish_and_compare): every event stored once locally and
 * forwarded once centrally. Run one case with `test-central CASE`. */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly_check.h"
#include "harness.h"
#include "harness_pg.h"

#define SIM_ARGS "--report-slots", "4096", "--report-rto-ms", "1000", \
	"--report-rto-max-ms", "3000", "--reconnect-s", "0.5", "--reconnect-max-s", "2", \
	"--hello-retry-s", "2"

/* An env whose edged forwards to pg as gateway `gw` (not started). */
static struct h_env *central_env(struct h_pg *pg, const char *gw, bool init)
{
	struct h_env *e = h_env_new();
	const char *const init_args[] = { "central", "init", "--conninfo", h_pg_conninfo(pg), NULL };

	h_pg_start(pg, e->dir);
	if (init)
		ck_assert_int_eq(h_edgectl_capture(e, 30000, NULL, NULL, init_args), 0);
	h_broker_start(e);
	h_cfg_set(e, "central.conninfo", h_pg_conninfo(pg));
	h_cfg_set(e, "central.gateway_id", gw);
	h_cfg_set(e, "central.retry_min_ms", "200");
	h_cfg_set(e, "central.retry_max_ms", "1000");
	h_cfg_set(e, "central.timeout_s", "5");
	h_cfg_set(e, "central.summary_interval_s", "2");
	h_cfg_set(e, "central.batch_rows", "200");
	return e;
}

static json_t *status(struct h_env *e)
{
	return h_edgectl_json(e, "status", NULL);
}

/* `edgectl status` as the operator reads it (caller frees). */
static char *status_text(struct h_env *e)
{
	const char *const args[] = { "status", NULL };
	char *text = NULL;

	ck_assert_int_eq(h_edgectl_capture(e, 10000, &text, NULL, args), 0);
	return text;
}

/* Until the forwarder is connected and holds nothing back. */
static void wait_forwarded(struct h_env *e, unsigned timeout_ms)
{
	h_wait_status(e, "central.connected", "==", 1, timeout_ms);
	h_wait_status(e, "central.backlog_events", "==", 0, timeout_ms);
	h_wait_status(e, "central.backlog_episodes", "==", 0, timeout_ms);
	h_wait_status(e, "central.lag_ms", "==", 0, timeout_ms);
}

/* Until sql's value is above 0 (summaries arrive every 2 s). */
static void wait_pg_positive(struct h_env *e, struct h_pg *pg, const char *sql,
			     unsigned timeout_ms)
{
	const uint64_t end = h_now_ms() + timeout_ms;
	long long v;

	(void)e;
	while ((v = h_pg_count(pg, sql)) <= 0 && h_now_ms() < end)
		h_sleep_ms(200);
	ck_assert_msg(v > 0, "%s: still %lld after %u ms", sql, v, timeout_ms);
}

/* Central rows of gateway gw equal the local file, (device, epoch) by
 * (device, epoch): count, min and max seq. Returns the events compared. */
static long long compare_central(struct h_env *e, struct h_pg *pg, const char *gw)
{
	sqlite3 *db = anomaly_db_open(e);
	sqlite3_stmt *st;
	long long total = 0, groups = 0;
	char sql[512];

	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT device, epoch, count(*), min(seq), max(seq)"
					    " FROM anomaly_event GROUP BY device, epoch",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *dev = (const char *)sqlite3_column_text(st, 0);
		long long epoch = sqlite3_column_int64(st, 1);
		long long n = sqlite3_column_int64(st, 2);
		char *got;
		char want[96];

		snprintf(sql, sizeof sql,
			 "SELECT count(*) || ':' || min(seq) || ':' || max(seq) FROM anomaly_event"
			 " WHERE gateway = '%s' AND device = '%s' AND epoch = %lld", gw, dev, epoch);
		got = h_pg_text(pg, sql);
		snprintf(want, sizeof want, "%lld:%lld:%lld", n, sqlite3_column_int64(st, 3),
			 sqlite3_column_int64(st, 4));
		ck_assert_msg(got && strcmp(got, want) == 0, "%s epoch %lld: central %s, local %s",
			      dev, epoch, got ? got : "(none)", want);
		free(got);
		total += n;
		groups++;
	}
	sqlite3_finalize(st);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM anomaly_event WHERE gateway = '%s'", gw);
	ck_assert_int_eq(h_pg_count(pg, sql), total);
	/* Episodes: every local one, in its latest version. */
	snprintf(sql, sizeof sql, "SELECT count(*) FROM anomaly_episode WHERE gateway = '%s'", gw);
	ck_assert_int_eq(h_pg_count(pg, sql),
			 anomaly_db_int(db, "SELECT count(*) FROM anomaly_episode", NULL));
	snprintf(sql, sizeof sql, "SELECT coalesce(sum(count), 0) FROM anomaly_episode WHERE gateway = '%s'",
		 gw);
	ck_assert_int_eq(h_pg_count(pg, sql),
			 anomaly_db_int(db, "SELECT coalesce(sum(count), 0) FROM anomaly_episode",
					NULL));
	sqlite3_close(db);
	ck_assert_int_gt(groups, 0);
	return total;
}

/* 20 nodes report; every event reaches the central database once, with the
 * episodes and the fleet summaries; status tells the forwarding state.
 * edged logs in as the site's own role with docs/central.md's grants and
 * row-level security: what the forwarder does needs no more. */
START_TEST(forwards_every_event_once)
{
	struct h_pg pg;
	struct h_env *e = central_env(&pg, "site-a", true);
	unsigned long local;
	long long central;
	json_t *st;
	char *text;

	h_pg_roles(&pg);
	h_pg_row_security(&pg);
	h_pg_exec(&pg, "CREATE ROLE \"site-a\" LOGIN IN ROLE edged_gateway");
	h_cfg_set(e, "central.conninfo", h_pg_conninfo_as(&pg, NULL, "site-a"));
	h_edged_start(e);
	h_sim_start(e, "--count", "20", "--heartbeat-s", "5", "--anomaly-rate", "20", SIM_ARGS,
		    NULL);
	h_sim_wait(e, "sim: registered all 20", 30000);
	h_wait_sim_events(e, 20 * 100, 30000);
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 30000);
	wait_forwarded(e, 30000);
	st = status(e);
	ck_assert_int_gt(h_json_int(st, "central.forwarded_events"), 0);
	ck_assert_int_eq(h_json_int(st, "central.duplicates"), 0);
	ck_assert_int_gt(h_json_int(st, "central.last_success_ms"), 0);
	ck_assert_str_eq(h_json_str(st, "central.last_error"), "");
	json_decref(st);
	text = status_text(e);
	ck_assert_msg(strstr(text, "gateway site-a, connected; backlog 0 events"), "status: %s",
		      text);
	free(text);
	central = compare_central(e, &pg, "site-a");
	/* A fleet summary with the whole fleet online and today's events. */
	h_wait_status(e, "central.forwarded_summaries", ">=", 2, 20000);
	ck_assert_int_eq(h_pg_count(&pg, "SELECT nodes_total FROM fleet_latest"
				    " WHERE gateway = 'site-a'"), 20);
	ck_assert_int_gt(h_pg_count(&pg, "SELECT max(anomalies_day) FROM fleet_summary"
				    " WHERE gateway = 'site-a'"), 0);
	/* Inferences grow from a node's second heartbeat on (5 s apart). */
	wait_pg_positive(e, &pg, "SELECT coalesce(max(inferences_day), 0) FROM fleet_summary"
			 " WHERE gateway = 'site-a'", 30000);
	ck_assert_int_eq(h_pg_count(&pg, "SELECT count(*) FROM gateway WHERE gateway = 'site-a'"
				    " AND last_summary_ms IS NOT NULL"), 1);
	local = anomaly_finish_and_compare(e, 20, 60000);
	ck_assert_int_eq((long long)local, central);
	printf("# %lld events forwarded once\n", central);
	h_pg_free(&pg);
	h_env_free(e);
}
END_TEST

/* The central database goes away while the fleet keeps reporting: ingest
 * goes on (acks), status shows the outage and the growing backlog; back,
 * the backlog drains. Then edged is killed (-9) while it forwards a second
 * backlog: started again, it resends from its saved position and the
 * central keys drop what had arrived. Exactly once at the end. */
START_TEST(outage_and_kill9_lose_and_duplicate_nothing)
{
	struct h_pg pg;
	struct h_env *e = central_env(&pg, "site-b", true);
	long long acks, backlog;
	unsigned long local;
	long long central;
	json_t *st;
	char *text;

	h_cfg_set(e, "central.batch_rows", "50");
	h_edged_start(e);
	h_sim_start(e, "--count", "20", "--heartbeat-s", "5", "--anomaly-rate", "20", SIM_ARGS,
		    NULL);
	h_sim_wait(e, "sim: registered all 20", 30000);
	h_wait_status(e, "central.forwarded_events", ">=", 100, 30000);

	h_pg_stop(&pg);
	h_wait_status(e, "central.connected", "==", 0, 30000);
	acks = h_json_int((st = status(e)), "anomalies.acks_sent");
	json_decref(st);
	h_wait_status(e, "anomalies.acks_sent", ">=", acks + 100, 30000);
	h_wait_status(e, "central.backlog_events", ">=", 500, 60000);
	h_wait_status(e, "central.errors", ">=", 1, 30000);
	st = status(e);
	ck_assert_int_gt(h_json_int(st, "central.lag_ms"), 0);
	ck_assert_int_gt((long long)strlen(h_json_str(st, "central.last_error")), 0);
	json_decref(st);
	text = status_text(e);
	ck_assert_msg(strstr(text, "gateway site-b, not connected") && strstr(text, "central error"),
		      "status: %s", text);
	free(text);
	h_pg_restart(&pg);
	wait_forwarded(e, 60000);

	/* A second backlog, then kill -9 while it drains. */
	h_pg_stop(&pg);
	h_wait_status(e, "central.connected", "==", 0, 30000);
	h_wait_status(e, "central.backlog_events", ">=", 1000, 60000);
	h_pg_restart(&pg);
	backlog = h_json_int((st = status(e)), "central.backlog_events");
	json_decref(st);
	h_wait_status(e, "central.backlog_events", "<=", backlog - 200, 60000);
	h_proc_signal(&e->edged, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&e->edged) && h_now_ms() < end;)
		h_sleep_ms(10);
	h_edged_start(e);
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 60000);
	wait_forwarded(e, 60000);
	central = compare_central(e, &pg, "site-b");
	local = anomaly_finish_and_compare(e, 20, 60000);
	ck_assert_int_eq((long long)local, central);
	printf("# %lld events forwarded once across an outage and a kill -9\n", central);
	h_pg_free(&pg);
	h_env_free(e);
}
END_TEST

/* While the database is away the forwarder waits its backoff
 * (central.retry_*): the reports that keep coming do not make it try again
 * sooner; the backlog in status still grows. Back, everything arrives. */
START_TEST(outage_waits_its_backoff)
{
	struct h_pg pg;
	struct h_env *e = central_env(&pg, "site-d", true);
	long long acks, errors, backlog;
	json_t *st;

	/* A backoff long enough that no retry falls in what follows. */
	h_cfg_set(e, "central.retry_min_ms", "30000");
	h_cfg_set(e, "central.retry_max_ms", "30000");
	h_edged_start(e);
	h_sim_start(e, "--count", "10", "--heartbeat-s", "5", "--anomaly-rate", "20", SIM_ARGS,
		    NULL);
	h_sim_wait(e, "sim: registered all 10", 30000);
	h_wait_status(e, "central.forwarded_events", ">=", 50, 30000);
	h_pg_stop(&pg);
	h_wait_status(e, "central.errors", ">=", 1, 30000);
	st = status(e);
	acks = h_json_int(st, "anomalies.acks_sent");
	errors = h_json_int(st, "central.errors");
	backlog = h_json_int(st, "central.backlog_events");
	json_decref(st);
	/* Dozens of commits, each one kicking the forwarder. */
	h_wait_status(e, "anomalies.acks_sent", ">=", acks + 60, 30000);
	h_wait_status(e, "central.backlog_events", ">=", backlog + 1, 5000);
	st = status(e);
	ck_assert_msg(h_json_int(st, "central.errors") <= errors + 1,
		      "%lld errors after %lld: retried before its backoff ended",
		      h_json_int(st, "central.errors"), errors);
	json_decref(st);
	h_pg_restart(&pg);
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 60000);
	wait_forwarded(e, 90000);
	ck_assert_int_eq(anomaly_finish_and_compare(e, 10, 60000),
			 (unsigned long)compare_central(e, &pg, "site-d"));
	h_pg_free(&pg);
	h_env_free(e);
}
END_TEST

/* Without `edgectl central init` the forwarder says what to do and keeps
 * everything; after it, forwarding starts without a restart. */
START_TEST(missing_schema_is_reported_then_forwarded)
{
	struct h_pg pg;
	struct h_env *e = central_env(&pg, "site-c", false);
	const char *const init_args[] = { "central", "init", "--conninfo", h_pg_conninfo(&pg), NULL };
	unsigned long local;
	json_t *st;

	h_edged_start(e);
	h_sim_start(e, "--count", "5", "--heartbeat-s", "5", "--anomaly-rate", "20", SIM_ARGS,
		    NULL);
	h_sim_wait(e, "sim: registered all 5", 30000);
	h_wait_status(e, "central.errors", ">=", 1, 30000);
	st = status(e);
	ck_assert_int_eq(h_json_int(st, "central.connected"), 0);
	ck_assert_msg(strstr(h_json_str(st, "central.last_error"), "edgectl central init"),
		      "last_error: %s", h_json_str(st, "central.last_error"));
	json_decref(st);
	ck_assert_int_eq(h_edgectl_capture(e, 30000, NULL, NULL, init_args), 0);
	h_sim_cmd(e, "calm all");
	h_wait_sim_all_acked(e, 30000);
	wait_forwarded(e, 30000);
	local = (unsigned long)compare_central(e, &pg, "site-c");
	ck_assert_int_eq(anomaly_finish_and_compare(e, 5, 60000), local);
	h_pg_free(&pg);
	h_env_free(e);
}
END_TEST

/* The broker's upstream bridge (edgectl broker-config --bridge-...) reports
 * its link locally; edged shows it: connected, down while the upstream is
 * away (counted), connected again. The gateway's broker runs the product's
 * access control; the upstream here is a second private mosquitto. */
START_TEST(bridge_state_shows_in_status)
{
	struct h_env *up = h_env_new(), *e = h_env_new();
	char addr[32];
	const char *const args[] = { "--bridge-address", addr, "--bridge-gateway-id", "gw-a",
				     NULL };
	struct h_secured sec;
	json_t *st;
	char *text;

	h_broker_start(up);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", up->broker_port);
	/* The product's access control: the bridge's retained state is shown
	 * to edged only because the ACL lets the bridge write it
	 * (check_retain_source). */
	h_broker_start_secured(e, args, &sec);
	h_edged_start(e);
	h_wait_status(e, "upstream.bridges.0.connected", "==", 1, 30000);
	st = status(e);
	ck_assert_str_eq(h_json_str(st, "upstream.bridges.0.name"), "upstream");
	ck_assert_int_eq(h_json_int(st, "upstream.bridges.0.downs"), 0);
	json_decref(st);
	h_broker_stop(up);
	h_wait_status(e, "upstream.bridges.0.connected", "==", 0, 30000);
	h_wait_status(e, "upstream.bridges.0.downs", "==", 1, 1000);
	h_broker_start(up);
	h_wait_status(e, "upstream.bridges.0.connected", "==", 1, 60000);
	text = status_text(e);
	ck_assert_msg(strstr(text, "upstream upstream") && strstr(text, "1 times down"),
		      "status: %s", text);
	free(text);
	h_env_free(e);
	h_env_free(up);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "forwards_every_event_once", forwards_every_event_once, 300 },
		{ "outage_and_kill9_lose_and_duplicate_nothing",
		  outage_and_kill9_lose_and_duplicate_nothing, 600 },
		{ "missing_schema_is_reported_then_forwarded",
		  missing_schema_is_reported_then_forwarded, 300 },
		{ "outage_waits_its_backoff", outage_waits_its_backoff, 300 },
		{ "bridge_state_shows_in_status", bridge_state_shows_in_status, 180 },
	};

	h_pg_require();
	return h_run_cases(argc, argv, "central", cases, sizeof cases / sizeof cases[0]);
}
