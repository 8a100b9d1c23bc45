/* End-to-end presence: how a conforming node's sessions are counted
 * (reconnect_count), that its normal start causes no reject and no warning,
 * the summary line instead of per-node lines, and `edgectl devices remove`
 * (which also clears what the broker retains for the node).
 * A real mosquitto, the built edged and edgectl, and the simulator, which
 * follows proto/node-protocol.md §2. Run one case with
 * `test-presence CASE`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "test_run.h"

static json_t *device(struct h_env *e, unsigned i)
{
	return h_edgectl_json(e, "devices", "show", h_node_id(i), NULL);
}

/* Poll until node i's reconnect_count satisfies >= want; returns it. */
static long long wait_reconnects(struct h_env *e, unsigned i, long long want,
				 unsigned timeout_ms)
{
	long long n = -1;
	for (unsigned waited = 0; waited <= timeout_ms; waited += 100) {
		json_t *d = device(e, i);
		n = h_json_int(d, "reconnect_count");
		json_decref(d);
		if (n >= want)
			return n;
		h_sleep_ms(100);
	}
	ck_abort_msg("%s: reconnect_count %lld after %u ms, expected >= %lld", h_node_id(i), n,
		     timeout_ms, want);
	return n;
}

/* Every line of edged's log at warning level or worse ("<0>".."<4>"). */
static void assert_no_warnings(struct h_env *e)
{
	char *log = h_edged_log(e);
	for (char *line = log; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		ck_assert_msg(!(line[0] == '<' && line[1] >= '0' && line[1] <= '4' && line[2] == '>'),
			      "edged logged: %s", line);
		line = nl ? nl + 1 : NULL;
	}
	free(log);
}

/* D2: 30 new nodes, each status (boot) then hello: nothing rejected,
 * nothing warned, reason "boot", no reconnect, and one summary line in
 * place of per-node lines. */
START_TEST(new_nodes_register_without_rejects)
{
	struct h_env *e = h_world(NULL);
	h_sim_start(e, "--count", "30", "--heartbeat-s", "5", NULL);
	h_sim_wait(e, "sim: registered all 30", 30000);
	h_wait_status(e, "nodes.online", "==", 30, 10000);

	json_t *st = h_edgectl_json(e, "status", NULL);
	json_t *rejects = json_object_get(st, "rejects");
	const char *reason;
	json_t *v;
	ck_assert_msg(json_object_size(rejects) > 0, "status has no rejects");
	json_object_foreach(rejects, reason, v)
		ck_assert_msg(json_integer_value(v) == 0, "rejects.%s = %lld", reason,
			      (long long)json_integer_value(v));
	ck_assert_int_eq(h_json_int(st, "registry.pending_status"), 0);
	ck_assert_int_eq(h_json_int(st, "registry.pending_applied"), 30);
	ck_assert_int_eq(h_json_int(st, "registry.reconnects"), 0);
	json_decref(st);

	for (unsigned i = 0; i < 30; i += 7) {
		json_t *d = device(e, i);
		ck_assert_str_eq(h_json_str(d, "state"), "online");
		ck_assert_str_eq(h_json_str(d, "status_reason"), "boot");
		ck_assert_int_eq(h_json_int(d, "reconnect_count"), 0);
		/* the hello's ops, as the array it carried */
		json_t *ops = json_object_get(d, "ops");
		ck_assert_msg(json_is_array(ops), "ops is not an array");
		ck_assert_int_gt(json_array_size(ops), 0);
		ck_assert_int_eq(json_array_size(ops), h_json_int(d, "n_ops"));
		ck_assert(json_is_string(json_array_get(ops, 0)));
		json_decref(d);
	}

	/* The summary line (registry.summary_interval_s, default 10 s). */
	bool summary = false;
	for (int i = 0; i < 150 && !summary; i++) {
		char *log = h_edged_log(e);
		summary = strstr(log, "registry: presence: 30 registered") != NULL;
		ck_assert_msg(strstr(log, "node_registered") == NULL,
			      "per-node lines above debug level");
		free(log);
		if (!summary)
			h_sleep_ms(100);
	}
	ck_assert_msg(summary, "no summary line 'presence: 30 registered ...'");
	assert_no_warnings(e);
	h_env_free(e);
}
END_TEST

/* D1: each new MQTT session of a registered node counts once: a crash and
 * reboot, a lost connection, two devices taking one id from each other;
 * steady nodes and hellos do not count. */
START_TEST(reconnect_counted_per_session)
{
	struct h_env *e = h_world(NULL);
	h_sim_start(e, "--count", "4", "--heartbeat-s", "5", "--reconnect-s", "0.3",
		    "--reconnect-max-s", "1", NULL);
	h_sim_wait(e, "sim: registered all 4", 30000);
	h_wait_status(e, "nodes.online", "==", 4, 10000);

	/* crash + reboot: will (lost), then online/boot */
	h_sim_cmd(e, "reboot 0");
	ck_assert_int_eq(wait_reconnects(e, 0, 1, 15000), 1);
	json_t *d = h_wait_device_state(e, h_node_id(0), "online", 10000);
	ck_assert_str_eq(h_json_str(d, "status_reason"), "boot");
	json_decref(d);

	/* lost connection: will, then online/reconnect after the backoff */
	h_sim_cmd(e, "drop 1");
	ck_assert_int_eq(wait_reconnects(e, 1, 1, 15000), 1);
	d = h_wait_device_state(e, h_node_id(1), "online", 10000);
	ck_assert_str_eq(h_json_str(d, "status_reason"), "reconnect");
	json_decref(d);

	/* two devices fighting over one id: every takeover is a session */
	h_sim_cmd(e, "twin 2");
	ck_assert_int_ge(wait_reconnects(e, 2, 3, 30000), 3);

	/* a hello alone (capabilities re-sent) is no session */
	h_sim_cmd(e, "hello 3");
	d = device(e, 3);
	ck_assert_int_eq(h_json_int(d, "reconnect_count"), 0);
	ck_assert_str_eq(h_json_str(d, "state"), "online");
	json_decref(d);
	json_t *st = h_edgectl_json(e, "status", NULL);
	ck_assert_int_ge(h_json_int(st, "registry.reconnects"), 5);
	json_decref(st);
	h_env_free(e);
}
END_TEST

/* D1 across a gateway restart: a node that started a new session while
 * edged was down counts once (its live status, queued by the broker for
 * edged's session); the retained statuses replayed to edged count never. */
START_TEST(restart_counts_live_status_not_replay)
{
	struct h_env *e = h_world(NULL);
	h_sim_start(e, "--count", "3", "--heartbeat-s", "5", "--reconnect-s", "0.3",
		    "--reconnect-max-s", "1", NULL);
	h_sim_wait(e, "sim: registered all 3", 30000);
	h_wait_status(e, "nodes.online", "==", 3, 10000);

	ck_assert_int_eq(h_edged_stop(e), 0);
	h_sim_cmd(e, "reboot 0");
	/* node 0 is connected again (its hello unanswered) before edged starts */
	for (int i = 0; i < 100 && h_sim_stat(e, "connected") < 3; i++)
		h_sleep_ms(100);
	ck_assert_int_eq(h_sim_stat(e, "connected"), 3);
	h_edged_start(e);

	h_wait_status(e, "nodes.online", "==", 3, 20000);
	ck_assert_int_eq(wait_reconnects(e, 0, 1, 15000), 1);
	/* the others only had their retained status replayed */
	for (unsigned i = 1; i < 3; i++) {
		json_t *d = device(e, i);
		ck_assert_int_eq(h_json_int(d, "reconnect_count"), 0);
		json_decref(d);
	}
	/* and node 0 is counted once, also after its hello retry is answered */
	h_sim_wait(e, "sim: cmd-ok reboot 0", 1000);
	json_t *d = device(e, 0);
	ck_assert_int_eq(h_json_int(d, "reconnect_count"), 1);
	json_decref(d);
	h_env_free(e);
}
END_TEST

/* D6: devices remove [--force]. */
START_TEST(devices_remove)
{
	struct h_env *e = h_world(NULL);
	h_sim_start(e, "--count", "3", "--heartbeat-s", "5", NULL);
	h_sim_wait(e, "sim: registered all 3", 30000);
	h_wait_status(e, "nodes.online", "==", 3, 10000);

	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "remove", "--help", NULL), 0);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "remove", NULL), 2);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "remove", "no-such-node", NULL), 1);

	/* online: refused (busy) unless forced */
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "remove", h_node_id(0), NULL), 1);
	json_t *d = device(e, 0);
	json_decref(d);
	json_t *r = NULL;
	ck_assert_int_eq(h_edgectl(e, &r, "devices", "remove", h_node_id(0), "--force", NULL), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(h_json_str(r, "id"), h_node_id(0));
	ck_assert_str_eq(h_json_str(r, "state"), "online");
	json_decref(r);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "show", h_node_id(0), NULL), 1);
	h_wait_status(e, "nodes.total", "==", 2, 5000);
	h_wait_status(e, "registry.removed", "==", 1, 5000);

	/* its heartbeats now count as unknown_node, until its hello */
	h_wait_status(e, "rejects.unknown_node", ">=", 1, 15000);
	h_sim_cmd(e, "hello 0");
	d = h_wait_device_state(e, h_node_id(0), "online", 10000);
	ck_assert_int_eq(h_json_int(d, "reconnect_count"), 0);
	json_decref(d);
	h_wait_status(e, "nodes.total", "==", 3, 5000);

	/* offline: removed without force, and gone after a restart too */
	h_sim_cmd(e, "disconnect 1");
	d = h_wait_device_state(e, h_node_id(1), "offline", 15000);
	json_decref(d);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "remove", h_node_id(1), NULL), 0);
	ck_assert_int_eq(h_edged_stop(e), 0);
	h_edged_start(e);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "show", h_node_id(1), NULL), 1);
	json_t *list = h_edgectl_json(e, "devices", NULL);
	ck_assert_int_eq(h_json_int(list, "count"), 2);
	json_decref(list);
	h_env_free(e);
}
END_TEST

/* Runs a shell command line; returns its output (first 4 KiB, caller frees). */
static char *run_output(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *buf = calloc(1, 4096);
	size_t n;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, 4095, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

/* Someone leaves a retained hello for a made-up device on the broker: after
 * an edged restart its replay is dropped (counted as `retained`), the device
 * is not registered, and the stored message is gone from the broker. */
START_TEST(retained_hello_is_dropped_and_cleared)
{
	struct h_env *e = h_world(NULL);
	static const char fake_hello[] =
		"{\"proto\":1,\"id\":\"fake-1\",\"fw\":\"1.0\",\"runtime\":{\"name\":"
		"\"tflm\",\"version\":\"2.14.0\"},\"ops\":[],\"ram_bytes\":1000,"
		"\"flash_bytes\":1000,\"arena_bytes\":10,\"sensor\":\"x\",\"heartbeat_s\":30}";
	char cmd[1024];
	json_t *d, *r = NULL;
	char *out;

	snprintf(cmd, sizeof cmd, "mosquitto_pub -h 127.0.0.1 -p %d -V mqttv5 -q 1 -r -t "
		 "edge/v1/fake-1/hello -m '%s'", e->broker_port, fake_hello);
	ck_assert_int_eq(system(cmd), 0);
	/* Published live, it registers (the broker forwards it with retain 0);
	 * removing the device clears it from the broker. */
	d = h_wait_device_state(e, "fake-1", "online", 10000);
	json_decref(d);
	ck_assert_int_eq(h_edgectl(e, &r, "devices", "remove", "fake-1", "--force", NULL), 0);
	ck_assert_int_eq(h_json_int(r, "retained_cleared"), 6);
	json_decref(r);

	/* Left again while edged is away (QoS 0: not queued for edged's
	 * session, only retained): replayed at the next start, dropped and
	 * cleared. */
	ck_assert_int_eq(h_edged_stop(e), 0);
	snprintf(cmd, sizeof cmd, "mosquitto_pub -h 127.0.0.1 -p %d -V mqttv5 -q 0 -r -t "
		 "edge/v1/fake-1/hello -m '%s'", e->broker_port, fake_hello);
	ck_assert_int_eq(system(cmd), 0);
	h_edged_start(e);
	h_wait_status(e, "rejects.retained", "==", 1, 10000);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "show", "fake-1", NULL), 1);
	json_t *st = h_edgectl_json(e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "nodes.total"), 0);
	ck_assert_int_eq(h_json_int(st, "rejects.unknown_node"), 0);
	json_decref(st);
	snprintf(cmd, sizeof cmd,
		 "mosquitto_sub -h 127.0.0.1 -p %d -V mqttv5 -t edge/v1/fake-1/hello "
		 "--retained-only -C 1 -W 2 2>/dev/null", e->broker_port);
	out = run_output(cmd);
	ck_assert_msg(out[0] == '\0', "retained hello still on the broker: %s", out);
	free(out);
	h_env_free(e);
}
END_TEST


/* What the broker retains under edge/v1/<id>/#, one "topic payload" line
 * each (caller frees). Retained messages come right after the subscription;
 * -W ends the listing when there are none. */
static char *retained_under(struct h_env *e, const char *id)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd,
		 "mosquitto_sub -h 127.0.0.1 -p %d -V mqttv5 -t 'edge/v1/%s/#' --retained-only "
		 "-v -W 1 2>/dev/null", e->broker_port, id);
	return run_output(cmd);
}

/* Polls until the retained listing of id contains (want_gone false) or
 * lacks (true) `needle`; returns the last listing (caller frees). */
static char *wait_retained(struct h_env *e, const char *id, const char *needle,
			   bool want_gone, unsigned timeout_ms)
{
	char *out = NULL;

	for (unsigned waited = 0; waited <= timeout_ms; waited += 1000) {
		free(out);
		out = retained_under(e, id);
		if ((strstr(out, needle) != NULL) != want_gone)
			return out;
	}
	ck_abort_msg("%s: '%s' %s after %u ms; retained: %s", id, needle,
		     want_gone ? "still retained" : "never retained", timeout_ms, out);
	return out;
}

/* devices remove clears what the broker retains for the node (its status,
 * and anything left on its other leaf topics), so a later subscriber does
 * not see a removed node; other nodes keep theirs. */
START_TEST(devices_remove_clears_retained)
{
	struct h_env *e = h_world(NULL);
	char topic[128], cmd[512], *out;
	json_t *r = NULL, *d;

	h_sim_start(e, "--count", "2", "--heartbeat-s", "5", NULL);
	h_sim_wait(e, "sim: registered all 2", 30000);
	h_sim_cmd(e, "disconnect 1");
	d = h_wait_device_state(e, h_node_id(1), "offline", 15000);
	json_decref(d);
	/* something retained on a gateway-to-node topic too */
	snprintf(topic, sizeof topic, "edge/v1/%s/ack", h_node_id(1));
	snprintf(cmd, sizeof cmd, "mosquitto_pub -h 127.0.0.1 -p %d -V mqttv5 -q 1 -r -t %s "
		 "-m '{\"proto\":1}'", e->broker_port, topic);
	ck_assert_int_eq(system(cmd), 0);
	h_wait_status(e, "rejects.wrong_direction", "==", 1, 10000); /* edged saw it live */
	out = wait_retained(e, h_node_id(1), "/ack ", false, 10000);
	ck_assert_msg(strstr(out, "/status ") != NULL, "no retained status: %s", out);
	free(out);

	ck_assert_int_eq(h_edgectl(e, &r, "devices", "remove", h_node_id(1), NULL), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(h_json_int(r, "retained_cleared"), 6);
	json_decref(r);
	out = wait_retained(e, h_node_id(1), "/", true, 10000);
	ck_assert_msg(out[0] == '\0', "retained messages left: %s", out);
	free(out);
	/* edged does not receive its own clearing (No Local): nothing rejected */
	json_t *st = h_edgectl_json(e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "rejects.empty"), 0);
	ck_assert_int_eq(h_json_int(st, "rejects.wrong_direction"), 1); /* the planted ack only */
	json_decref(st);

	/* the other node's status stays */
	out = retained_under(e, h_node_id(0));
	ck_assert_msg(strstr(out, "/status ") != NULL, "node 0 lost its status: %s", out);
	free(out);
	h_env_free(e);
}
END_TEST

/* A revoked node keeps its record, shown as revoked, and nothing it sends
 * changes it: its hello is answered not_allowed, its heartbeats are ignored
 * (both counted as not_allowed), across a restart; it is removed without
 * --force. The broker here is open: the revoked identity matters only to a
 * broker that uses edged's files (test-security), so the node can still
 * talk, which is what the registry must withstand. */
START_TEST(revoked_node_is_refused_not_allowed)
{
	struct h_env *e = h_env_new();
	char idir[320];
	json_t *d, *r = NULL, *list;

	snprintf(idir, sizeof idir, "%s/identities", e->dir);
	ck_assert_int_eq(mkdir(idir, 0750), 0);
	h_broker_start(e);
	h_cfg_set(e, "broker.identity_dir", idir);
	h_cfg_set(e, "mqtt.username", "edged"); /* its own line in the passwd file */
	h_cfg_set(e, "mqtt.password", "gateway-secret");
	h_edged_start(e);
	h_sim_start(e, "--count", "2", "--heartbeat-s", "5", NULL);
	h_sim_wait(e, "sim: registered all 2", 30000);
	ck_assert_int_eq(h_edgectl(e, NULL, "nodes", "provision", h_node_id(0), "--out", idir,
				   NULL), 0);

	ck_assert_int_eq(h_edgectl(e, &r, "nodes", "revoke", h_node_id(0), NULL), 0);
	ck_assert_str_eq(h_json_str(r, "registry"), "revoked");
	json_decref(r);
	d = device(e, 0);
	ck_assert_str_eq(h_json_str(d, "state"), "revoked");
	ck_assert_str_eq(h_json_str(d, "status_reason"), "revoked");
	json_decref(d);
	h_wait_status(e, "nodes.revoked", "==", 1, 5000);
	list = h_edgectl_json(e, "devices", "--state", "revoked", NULL);
	ck_assert_int_eq(h_json_int(list, "count"), 1);
	ck_assert_str_eq(h_json_str(json_array_get(json_object_get(list, "devices"), 0), "id"),
			 h_node_id(0));
	json_decref(list);

	/* still connected here: its heartbeats are ignored; a new session (its
	 * will, status and hello) changes nothing and its hello is refused */
	h_wait_status(e, "rejects.not_allowed", ">=", 1, 15000);
	h_sim_cmd(e, "reboot 0");
	h_sim_wait(e, "refused node=sim-00000 reason=not_allowed", 10000);
	d = device(e, 0);
	ck_assert_str_eq(h_json_str(d, "state"), "revoked");
	json_decref(d);
	d = device(e, 1); /* the other one */
	ck_assert_str_eq(h_json_str(d, "state"), "online");
	json_decref(d);

	/* the mark survives a restart */
	ck_assert_int_eq(h_edged_stop(e), 0);
	h_edged_start(e);
	d = device(e, 0);
	ck_assert_str_eq(h_json_str(d, "state"), "revoked");
	json_decref(d);

	/* removed without --force */
	ck_assert_int_eq(h_edgectl(e, &r, "devices", "remove", h_node_id(0), NULL), 0);
	ck_assert_str_eq(h_json_str(r, "state"), "revoked");
	json_decref(r);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "show", h_node_id(0), NULL), 1);
	h_env_free(e);
}
END_TEST

int main(int argc, char **argv)
{
	/* Check's test handles are variables: the table lives here. */
	const struct h_case cases[] = {
		{ "new_nodes_register_without_rejects", new_nodes_register_without_rejects, 180 },
		{ "reconnect_counted_per_session", reconnect_counted_per_session, 180 },
		{ "restart_counts_live_status_not_replay", restart_counts_live_status_not_replay, 180 },
		{ "devices_remove", devices_remove, 180 },
		{ "retained_hello_is_dropped_and_cleared", retained_hello_is_dropped_and_cleared, 120 },
		{ "devices_remove_clears_retained", devices_remove_clears_retained, 120 },
		{ "revoked_node_is_refused_not_allowed", revoked_node_is_refused_not_allowed, 120 },
	};
	return h_run_cases(argc, argv, "presence", cases, sizeof cases / sizeof cases[0]);
}
