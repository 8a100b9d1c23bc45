/* Suite 'registry': registration, limits, the node state machine under a
 * controlled clock (reconnect counting, status before hello, state/reason
 * consistency), revocation and admission, persistence through a real store
 * file (coalesced writes, what a crash leaves, the revoked mark), the summary
 * line, queries. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_log.h"
#include "edge_registry.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define WALL0 1700000000000LL /* an arbitrary wall-clock origin, ms */

/* ---- message builders ---- */

static struct edge_msg_hello hello_msg(const char *id, uint32_t heartbeat_s, const char *fw)
{
	struct edge_msg_hello h;

	memset(&h, 0, sizeof h);
	h.proto = EDGE_PROTO_VERSION;
	snprintf(h.id, sizeof h.id, "%s", id);
	snprintf(h.fw, sizeof h.fw, "%s", fw);
	snprintf(h.runtime_name, sizeof h.runtime_name, "tflm");
	snprintf(h.runtime_version, sizeof h.runtime_version, "2.14.0");
	h.n_ops = 3;
	snprintf(h.ops[0], sizeof h.ops[0], "CONV_2D");
	snprintf(h.ops[1], sizeof h.ops[1], "FULLY_CONNECTED");
	snprintf(h.ops[2], sizeof h.ops[2], "SOFTMAX");
	h.ram_bytes = 262144;
	h.flash_bytes = 1048576;
	h.arena_bytes = 65536;
	snprintf(h.sensor, sizeof h.sensor, "accel-3axis");
	h.has_model = 1;
	snprintf(h.model.name, sizeof h.model.name, "kws");
	snprintf(h.model.version, sizeof h.model.version, "1.2.0");
	memset(h.model.sha256, 'a', EDGE_MSG_SHA256_HEX);
	h.heartbeat_s = heartbeat_s;
	return h;
}

static struct edge_msg_status status_msg(enum edge_msg_state state, const char *reason)
{
	struct edge_msg_status st;

	memset(&st, 0, sizeof st);
	st.proto = EDGE_PROTO_VERSION;
	st.state = state;
	st.reason = EDGE_MSG_STATUS_OTHER;
	snprintf(st.reason_text, sizeof st.reason_text, "%s", reason);
	return st;
}

static struct edge_msg_heartbeat hb_msg(uint32_t seq)
{
	struct edge_msg_heartbeat hb;

	memset(&hb, 0, sizeof hb);
	hb.proto = EDGE_PROTO_VERSION;
	hb.seq = seq;
	hb.uptime_s = 100 + seq;
	hb.inferences = 1000 + seq;
	hb.anomalies = seq / 2;
	hb.mqtt_reconnects = 1;
	hb.free_heap_bytes = 40000;
	hb.has_min_free_heap = 1;
	hb.min_free_heap_bytes = 30000;
	hb.has_rssi = 1;
	hb.rssi_dbm = -61;
	return hb;
}

/* ---- hook recorder ---- */

struct event_log {
	int n;
	char id[16][EDGE_REGISTRY_ID_MAX + 1];
	enum edge_registry_event ev[16];
	enum edge_node_state old[16], now[16];
};

static void record(const struct edge_node_info *node, enum edge_node_state old,
		   enum edge_registry_event ev, void *ud)
{
	struct event_log *log = ud;

	if (log->n >= 16)
		return;
	snprintf(log->id[log->n], sizeof log->id[0], "%s", node->id);
	log->ev[log->n] = ev;
	log->old[log->n] = old;
	log->now[log->n] = node->state;
	log->n++;
}

static edge_registry *new_registry(edge_store *store, unsigned max, struct event_log *log)
{
	struct edge_registry_options opt;
	edge_registry *reg = NULL;

	edge_registry_options_init(&opt);
	opt.max_devices = max;
	opt.stale_after_missed_heartbeats = 3;
	opt.default_heartbeat_interval_ms = 20000;
	opt.persist_interval_ms = 5000;
	opt.on_change = log ? record : NULL;
	opt.on_change_ud = log;
	ck_assert_int_eq(edge_registry_new(store, &opt, &reg), 0);
	return reg;
}

static edge_store *open_store(void)
{
	edge_store *s = NULL;
	int rc = edge_store_open(test_db_path, NULL, &s);

	ck_assert_msg(rc == 0, "store open: %s", edge_strerror(rc));
	return s;
}

static enum edge_node_state state_of(edge_registry *reg, const char *id)
{
	struct edge_node_info info;

	ck_assert_int_eq(edge_registry_get(reg, id, &info), 0);
	return info.state;
}

static void hello(edge_registry *reg, const char *id, uint32_t hb_s, uint64_t now)
{
	struct edge_msg_hello h = hello_msg(id, hb_s, "1.0.0");

	ck_assert_int_eq(edge_registry_on_hello(reg, &h, now, WALL0 + (int64_t)now), 0);
}

/* ---- registration ---- */

START_TEST(register_and_get)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_registry_counts c;
	struct edge_node_info info;

	hello(reg, "node-1", 10, 1000);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(log.ev[0], EDGE_REGISTRY_REGISTERED);
	ck_assert_str_eq(log.id[0], "node-1");
	ck_assert_int_eq(log.now[0], EDGE_NODE_ONLINE);

	ck_assert_int_eq(edge_registry_get(reg, "node-1", &info), 0);
	ck_assert_str_eq(info.id, "node-1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.fw_version, "1.0.0");
	ck_assert_str_eq(info.runtime_name, "tflm");
	ck_assert_str_eq(info.runtime_version, "2.14.0");
	ck_assert_uint_eq(info.n_ops, 3);
	ck_assert_str_eq(info.ops, "CONV_2D,FULLY_CONNECTED,SOFTMAX");
	ck_assert_uint_eq(info.ram_bytes, 262144);
	ck_assert_uint_eq(info.flash_bytes, 1048576);
	ck_assert_uint_eq(info.arena_bytes, 65536);
	ck_assert_str_eq(info.sensor, "accel-3axis");
	ck_assert(info.has_model);
	ck_assert_str_eq(info.model_name, "kws");
	ck_assert_str_eq(info.model_version, "1.2.0");
	ck_assert_uint_eq(strlen(info.model_sha256), 64);
	ck_assert_uint_eq(info.heartbeat_interval_ms, 10000);
	ck_assert_int_eq(info.first_seen_ms, WALL0 + 1000);
	ck_assert_int_eq(info.last_seen_ms, WALL0 + 1000);
	ck_assert_uint_eq(info.reconnect_count, 0);

	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_ONLINE], 1);
	ck_assert_int_eq(edge_registry_get(reg, "node-2", &info), EDGE_ENOTFOUND);
	edge_registry_free(reg);
	edge_registry_free(NULL);
}
END_TEST

START_TEST(hello_updates_known_node)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_msg_hello h = hello_msg("node-1", 10, "1.0.0");
	struct edge_node_info info;

	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, WALL0), 0);
	h = hello_msg("node-1", 30, "1.1.0");
	h.has_model = 0;
	h.n_ops = 1;
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 5000, WALL0 + 5000), 0);
	ck_assert_int_eq(log.n, 2);
	ck_assert_int_eq(log.ev[1], EDGE_REGISTRY_UPDATED);
	ck_assert_int_eq(edge_registry_get(reg, "node-1", &info), 0);
	ck_assert_str_eq(info.fw_version, "1.1.0");
	ck_assert(!info.has_model);
	ck_assert_str_eq(info.model_name, "");
	ck_assert_str_eq(info.ops, "CONV_2D");
	ck_assert_uint_eq(info.heartbeat_interval_ms, 30000);
	ck_assert_int_eq(info.first_seen_ms, WALL0);
	ck_assert_int_eq(info.last_seen_ms, WALL0 + 5000);
	ck_assert_uint_eq(info.reconnect_count, 0); /* it never went away */
	edge_registry_free(reg);
}
END_TEST

START_TEST(rejects_bad_ids_and_unknown_nodes)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);
	struct edge_msg_hello h = hello_msg("bad/id", 10, "1.0.0");
	struct edge_msg_status st = status_msg(EDGE_MSG_STATE_ONLINE, "boot");
	struct edge_msg_heartbeat hb = hb_msg(1);
	struct edge_registry_counts c;

	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, WALL0), EDGE_EPROTO);
	h = hello_msg("", 10, "1.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, WALL0), EDGE_EPROTO);
	/* a status of an unknown id is kept for its hello, registers nothing */
	ck_assert_int_eq(edge_registry_on_status(reg, "ghost", &st, false, 0, WALL0), 0);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "ghost", &hb, 0, WALL0), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_registry_on_lost(reg, "ghost", NULL, 0, WALL0), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_registry_on_status(reg, "a+b", &st, false, 0, WALL0), EDGE_EPROTO);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, NULL, &hb, 0, WALL0), EDGE_EPROTO);
	hello(reg, "n1", 10, 0);
	st.state = (enum edge_msg_state)7;
	ck_assert_int_eq(edge_registry_on_status(reg, "n1", &st, false, 0, WALL0), EDGE_EPROTO);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_uint_eq(c.pending_status, 1);
	edge_registry_free(reg);
}
END_TEST

START_TEST(device_limit_refuses_new_nodes_only)
{
	edge_registry *reg = new_registry(NULL, 3, NULL);
	struct edge_msg_hello h = hello_msg("n4", 10, "1.0.0");
	struct edge_msg_heartbeat hb = hb_msg(1);
	struct edge_registry_counts c;
	struct edge_node_info info;

	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	hello(reg, "n3", 10, 0);
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, WALL0), EDGE_ELIMIT);
	ck_assert_int_eq(edge_registry_get(reg, "n4", &info), EDGE_ENOTFOUND);
	/* existing nodes keep working */
	hello(reg, "n2", 10, 100);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n3", &hb, 200, WALL0 + 200), 0);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 3);
	edge_registry_free(reg);
}
END_TEST

/* ---- the state machine ---- */

START_TEST(online_stale_online_via_heartbeat)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_msg_heartbeat hb = hb_msg(7);
	struct edge_node_info info;

	hello(reg, "n1", 10, 0); /* 10 s interval, stale after 3 missed = 30 s */
	edge_registry_tick(reg, 29999);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 30000);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_STALE);
	ck_assert_int_eq(log.n, 2);
	ck_assert_int_eq(log.ev[1], EDGE_REGISTRY_STALE);
	ck_assert_int_eq(log.old[1], EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 40000); /* no repeated event */
	ck_assert_int_eq(log.n, 2);

	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, 41000, WALL0 + 41000), 0);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_int_eq(log.n, 3);
	ck_assert_int_eq(log.ev[2], EDGE_REGISTRY_ONLINE);
	ck_assert_int_eq(log.old[2], EDGE_NODE_STALE);
	ck_assert_uint_eq(info.reconnect_count, 0); /* late heartbeats are no reconnect */
	ck_assert_uint_eq(info.hb_seq, 7);
	ck_assert_uint_eq(info.hb_uptime_s, 107);
	ck_assert_uint_eq(info.hb_inferences, 1007);
	ck_assert_uint_eq(info.hb_anomalies, 3);
	ck_assert_uint_eq(info.hb_free_heap_bytes, 40000);
	ck_assert(info.hb_has_rssi);
	ck_assert_int_eq(info.hb_rssi_dbm, -61);
	ck_assert_int_eq(info.last_seen_ms, WALL0 + 41000);

	/* the heartbeat restarted the clock */
	edge_registry_tick(reg, 41000 + 29999);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 41000 + 30000);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_STALE);
	edge_registry_free(reg);
}
END_TEST

START_TEST(each_node_has_its_own_interval)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);

	hello(reg, "fast", 5, 0);
	hello(reg, "slow", 60, 0);
	hello(reg, "default", 0, 0); /* no interval: 20 s default */
	edge_registry_tick(reg, 15000);
	ck_assert_int_eq(state_of(reg, "fast"), EDGE_NODE_STALE);
	ck_assert_int_eq(state_of(reg, "slow"), EDGE_NODE_ONLINE);
	ck_assert_int_eq(state_of(reg, "default"), EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 60000);
	ck_assert_int_eq(state_of(reg, "default"), EDGE_NODE_STALE);
	ck_assert_int_eq(state_of(reg, "slow"), EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 180000);
	ck_assert_int_eq(state_of(reg, "slow"), EDGE_NODE_STALE);
	edge_registry_free(reg);
}
END_TEST

START_TEST(stale_after_change_applies_at_next_tick)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);

	hello(reg, "early", 10, 0); /* 10 s interval, 3 missed = 30 s */
	hello(reg, "late", 10, 0);
	edge_registry_tick(reg, 15000);
	ck_assert_int_eq(state_of(reg, "early"), EDGE_NODE_ONLINE);

	/* Lowered: a node already past the new limit turns stale now. */
	ck_assert_int_eq(edge_registry_set_stale_after(reg, 1), 0);
	edge_registry_tick(reg, 15000);
	ck_assert_int_eq(state_of(reg, "early"), EDGE_NODE_STALE);
	ck_assert_int_eq(state_of(reg, "late"), EDGE_NODE_STALE);
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_STALE);

	/* Raised: a heartbeat revives "late", which then lasts 5 intervals. */
	struct edge_msg_heartbeat hb = hb_msg(1);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "late", &hb, 20000, WALL0 + 20000), 0);
	ck_assert_int_eq(edge_registry_set_stale_after(reg, 5), 0);
	edge_registry_tick(reg, 20000 + 30000); /* the old limit of 3 */
	ck_assert_int_eq(state_of(reg, "late"), EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 20000 + 49999);
	ck_assert_int_eq(state_of(reg, "late"), EDGE_NODE_ONLINE);
	edge_registry_tick(reg, 20000 + 50000);
	ck_assert_int_eq(state_of(reg, "late"), EDGE_NODE_STALE);
	/* A stale node is not revived by a longer limit. */
	ck_assert_int_eq(state_of(reg, "early"), EDGE_NODE_STALE);

	ck_assert_int_eq(edge_registry_set_stale_after(reg, 0), -EINVAL);
	ck_assert_int_eq(edge_registry_set_stale_after(NULL, 3), -EINVAL);
	/* The refused value changed nothing: still 5 intervals. */
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "late", &hb, 100000, WALL0 + 100000), 0);
	edge_registry_tick(reg, 100000 + 49999);
	ck_assert_int_eq(state_of(reg, "late"), EDGE_NODE_ONLINE);
	edge_registry_free(reg);
}
END_TEST

static struct edge_node_info get(edge_registry *reg, const char *id)
{
	struct edge_node_info info;

	ck_assert_int_eq(edge_registry_get(reg, id, &info), 0);
	return info;
}

static void status(edge_registry *reg, const char *id, enum edge_msg_state state,
		   const char *reason, bool retained, uint64_t now)
{
	struct edge_msg_status st = status_msg(state, reason);

	ck_assert_int_eq(edge_registry_on_status(reg, id, &st, retained, now,
						 WALL0 + (int64_t)now), 0);
}

/* A conforming node: its online status, then its hello (§2.1). */
static void connect_node(edge_registry *reg, const char *id, const char *reason, uint64_t now)
{
	status(reg, id, EDGE_MSG_STATE_ONLINE, reason, false, now);
	hello(reg, id, 10, now + 10);
}

START_TEST(lost_offline_and_reconnect_counting)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_node_info info;
	struct edge_registry_counts c;

	connect_node(reg, "n1", "boot", 0);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 0); /* the first session */
	ck_assert_int_eq(edge_registry_on_lost(reg, "n1", "session-expired", 1000, WALL0 + 1000), 0);
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_OFFLINE);
	ck_assert_str_eq(info.status_reason, "session-expired");
	ck_assert_int_eq(info.last_seen_ms, WALL0 + 10); /* being lost is not being seen */
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_OFFLINE);
	ck_assert_int_eq(log.old[log.n - 1], EDGE_NODE_ONLINE);

	/* offline nodes never turn stale */
	edge_registry_tick(reg, 1000000);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_OFFLINE);

	/* a hello alone (no status) revives it but is no new session */
	hello(reg, "n1", 10, 2000000);
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_uint_eq(info.reconnect_count, 0);
	ck_assert_str_eq(info.status_reason, "");
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_UPDATED);

	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_ONLINE], 1);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_STALE], 0);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_OFFLINE], 0);
	edge_registry_free(reg);
}
END_TEST

/* Every case of a new MQTT session counts once; replays and hellos never. */
START_TEST(reconnect_counts_every_live_online_status)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	uint64_t t = 0;

	connect_node(reg, "n1", "boot", t);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 0);

	/* crash + reconnect: the will (lost), then a new boot */
	status(reg, "n1", EDGE_MSG_STATE_OFFLINE, "lost", false, t += 1000);
	connect_node(reg, "n1", "boot", t += 1000);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 1);
	ck_assert_int_eq(log.ev[log.n - 2], EDGE_REGISTRY_RECONNECTED);
	ck_assert_int_eq(log.old[log.n - 2], EDGE_NODE_OFFLINE);
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_UPDATED); /* its hello */

	/* lost connection: the will, then online/reconnect */
	status(reg, "n1", EDGE_MSG_STATE_OFFLINE, "lost", false, t += 1000);
	connect_node(reg, "n1", "reconnect", t += 1000);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 2);
	ck_assert_str_eq(get(reg, "n1").status_reason, "reconnect");

	/* two devices fighting over one id: each takeover is one more session,
	 * with or without the will of the one taken over in between */
	connect_node(reg, "n1", "reconnect", t += 100);
	status(reg, "n1", EDGE_MSG_STATE_OFFLINE, "lost", false, t += 100);
	connect_node(reg, "n1", "boot", t += 100);
	connect_node(reg, "n1", "reconnect", t += 100);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 5);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_ONLINE);

	/* the retained status replayed on a resubscribe is never counted */
	status(reg, "n1", EDGE_MSG_STATE_ONLINE, "reconnect", true, t += 100);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 5);
	/* nor is a retried hello */
	hello(reg, "n1", 10, t += 100);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 5);
	edge_registry_free(reg);
}
END_TEST

/* After a gateway restart: loaded OFFLINE; the retained status brings it
 * back online uncounted; its next live session counts. */
START_TEST(retained_replay_after_restart_is_no_reconnect)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);

	connect_node(reg, "n1", "boot", 0);
	ck_assert_int_eq(edge_registry_on_lost(reg, "n1", NULL, 100, WALL0 + 100), 0);
	status(reg, "n1", EDGE_MSG_STATE_ONLINE, "boot", true, 200);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_ONLINE);
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_ONLINE);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 0);
	ck_assert_str_eq(get(reg, "n1").status_reason, "boot");
	status(reg, "n1", EDGE_MSG_STATE_ONLINE, "reconnect", false, 300);
	ck_assert_uint_eq(get(reg, "n1").reconnect_count, 1);
	edge_registry_free(reg);
}
END_TEST

/* The normal start of a conforming new node: no error, reason "boot". */
START_TEST(status_before_hello_is_applied)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_msg_heartbeat hb = hb_msg(1);
	struct edge_registry_counts c;
	struct edge_registry_stats st;
	struct edge_node_info info;

	status(reg, "n1", EDGE_MSG_STATE_ONLINE, "boot", false, 0);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), EDGE_ENOTFOUND);
	ck_assert_int_eq(log.n, 0);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 0);
	ck_assert_uint_eq(c.pending_status, 1);
	hello(reg, "n1", 10, 50);
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.status_reason, "boot");
	ck_assert_uint_eq(info.reconnect_count, 0);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(log.ev[0], EDGE_REGISTRY_REGISTERED);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.pending_status, 0);
	edge_registry_get_stats(reg, &st);
	ck_assert_uint_eq(st.pending_applied, 1);

	/* a heartbeat before any hello is still an unknown node */
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n2", &hb, 60, WALL0 + 60), EDGE_ENOTFOUND);
	/* a pending offline status does not make the hello's node offline */
	status(reg, "n2", EDGE_MSG_STATE_OFFLINE, "shutdown", false, 70);
	hello(reg, "n2", 10, 80);
	ck_assert_int_eq(state_of(reg, "n2"), EDGE_NODE_ONLINE);
	ck_assert_str_eq(get(reg, "n2").status_reason, "");
	edge_registry_free(reg);
}
END_TEST

START_TEST(pending_statuses_are_bounded_and_expire)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);
	struct edge_registry_counts c;
	struct edge_registry_stats st;
	char id[32];

	for (unsigned i = 0; i <= EDGE_REGISTRY_PENDING_MAX; i++) {
		snprintf(id, sizeof id, "p%u", i);
		status(reg, id, EDGE_MSG_STATE_ONLINE, "boot", false, i);
	}
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.pending_status, EDGE_REGISTRY_PENDING_MAX);
	edge_registry_get_stats(reg, &st);
	ck_assert_uint_eq(st.pending_dropped, 1);
	/* the oldest (p0) was dropped: its hello finds nothing */
	hello(reg, "p0", 10, 2000);
	ck_assert_str_eq(get(reg, "p0").status_reason, "");
	hello(reg, "p1", 10, 2000);
	ck_assert_str_eq(get(reg, "p1").status_reason, "boot");
	/* the same id twice keeps one entry, the latest */
	status(reg, "p2", EDGE_MSG_STATE_ONLINE, "reconnect", false, 3000);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.pending_status, EDGE_REGISTRY_PENDING_MAX - 1);
	hello(reg, "p2", 10, 3100);
	ck_assert_str_eq(get(reg, "p2").status_reason, "reconnect");

	/* expiry: 5 minutes after it arrived */
	edge_registry_tick(reg, 500 + EDGE_REGISTRY_PENDING_TTL_MS); /* p3..p500 */
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.pending_status, EDGE_REGISTRY_PENDING_MAX - 2 - 498);
	edge_registry_tick(reg, 3000 + EDGE_REGISTRY_PENDING_TTL_MS + 1000);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.pending_status, 0);
	edge_registry_free(reg);
}
END_TEST

/* status_reason always belongs to the current state (one check per
 * transition). */
START_TEST(state_and_reason_stay_consistent)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);
	struct edge_msg_heartbeat hb = hb_msg(1);
	struct edge_node_info info;

	connect_node(reg, "n1", "boot", 0);                      /* online by status */
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.status_reason, "boot");

	status(reg, "n1", EDGE_MSG_STATE_OFFLINE, "shutdown", false, 100); /* offline by status */
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_OFFLINE);
	ck_assert_str_eq(info.status_reason, "shutdown");

	/* online by heartbeat: never "online + shutdown" */
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, 200, WALL0 + 200), 0);
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.status_reason, "");

	edge_registry_tick(reg, 200 + 30000);                    /* stale by the tick */
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_STALE);
	ck_assert_str_eq(info.status_reason, "");

	status(reg, "n1", EDGE_MSG_STATE_ONLINE, "reconnect", true, 40000); /* retained */
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.status_reason, "reconnect");

	ck_assert_int_eq(edge_registry_on_lost(reg, "n1", NULL, 41000, WALL0 + 41000), 0);
	info = get(reg, "n1");                                   /* lost by the gateway */
	ck_assert_int_eq(info.state, EDGE_NODE_OFFLINE);
	ck_assert_str_eq(info.status_reason, "lost");

	hello(reg, "n1", 10, 42000);                             /* online by hello */
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.status_reason, "");

	edge_registry_tick(reg, 42000 + 30000);
	status(reg, "n1", EDGE_MSG_STATE_OFFLINE, "lost", false, 80000); /* stale → offline */
	info = get(reg, "n1");
	ck_assert_int_eq(info.state, EDGE_NODE_OFFLINE);
	ck_assert_str_eq(info.status_reason, "lost");
	status(reg, "n1", EDGE_MSG_STATE_OFFLINE, "shutdown", true, 81000); /* offline again */
	ck_assert_str_eq(get(reg, "n1").status_reason, "shutdown");
	edge_registry_free(reg);
}
END_TEST

/* ---- the summary line ---- */

#define MAX_LINES 32
static struct {
	int n;
	int level[MAX_LINES];
	char text[MAX_LINES][512];
} lines;

static void capture(int level, const char *group, const char *msg, void *ud)
{
	(void)ud;
	if (strcmp(group, "registry") != 0 || level > EDGE_LOG_NOTICE || lines.n == MAX_LINES)
		return;
	lines.level[lines.n] = level;
	snprintf(lines.text[lines.n++], sizeof lines.text[0], "%s", msg);
}

static void capture_start(void)
{
	memset(&lines, 0, sizeof lines);
	edge_log_set_level(EDGE_LOG_DEBUG);
	edge_log_set_hook(capture, NULL);
}

START_TEST(one_summary_line_per_interval)
{
	edge_registry *reg = new_registry(NULL, 64, NULL);
	char id[16];

	capture_start();
	edge_registry_tick(reg, 0); /* the intervals start here */
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "n%d", i);
		connect_node(reg, id, "boot", 100);
	}
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof id, "n%d", i);
		status(reg, id, EDGE_MSG_STATE_OFFLINE, "lost", false, 200);
	}
	status(reg, "n5", EDGE_MSG_STATE_OFFLINE, "shutdown", false, 300);
	connect_node(reg, "n0", "reconnect", 400);
	edge_registry_tick(reg, 5000);
	ck_assert_int_eq(lines.n, 0); /* no per-node lines above debug */
	edge_registry_tick(reg, 10000);
	ck_assert_int_eq(lines.n, 1);
	ck_assert_int_eq(lines.level[0], EDGE_LOG_NOTICE);
	ck_assert_str_eq(lines.text[0], "presence: 20 registered, 1 reconnected, 1 online, "
					"6 offline (5 lost, 1 shutdown) in the last 10 s");
	edge_registry_tick(reg, 20000); /* nothing happened: no line */
	ck_assert_int_eq(lines.n, 1);
	ck_assert_int_eq(edge_registry_set_summary_interval(reg, 0), -EINVAL);
	ck_assert_int_eq(edge_registry_set_summary_interval(reg, 60000), 0);
	edge_registry_tick(reg, 40000); /* the 15 online nodes turn stale */
	ck_assert_int_eq(lines.n, 1);
	edge_registry_tick(reg, 80000);
	ck_assert_int_eq(lines.n, 2);
	ck_assert_str_eq(lines.text[1], "presence: 15 stale in the last 60 s");
	edge_log_set_hook(NULL, NULL);
	edge_registry_free(reg);
}
END_TEST

/* ---- queries ---- */

struct listing {
	int n;
	char ids[8][EDGE_REGISTRY_ID_MAX + 1];
	int stop_after;
};

static int collect(const struct edge_node_info *node, void *ud)
{
	struct listing *l = ud;

	snprintf(l->ids[l->n], sizeof l->ids[0], "%s", node->id);
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 42 : 0;
}

START_TEST(counts_and_filtered_iteration)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);
	struct edge_registry_counts c;
	struct listing l = { 0 };

	hello(reg, "delta", 10, 0);
	hello(reg, "alpha", 10, 0);
	hello(reg, "charlie", 100, 0);
	hello(reg, "bravo", 10, 0);
	hello(reg, "echo", 100, 0);
	edge_registry_tick(reg, 30000); /* 10 s nodes go stale */
	ck_assert_int_eq(edge_registry_on_lost(reg, "echo", NULL, 30000, WALL0 + 30000), 0);

	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 5);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_STALE], 3);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_ONLINE], 1);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_OFFLINE], 1);

	ck_assert_int_eq(edge_registry_foreach(reg, EDGE_NODE_MASK_ALL, collect, &l), 0);
	ck_assert_int_eq(l.n, 5);
	ck_assert_str_eq(l.ids[0], "alpha");
	ck_assert_str_eq(l.ids[1], "bravo");
	ck_assert_str_eq(l.ids[2], "charlie");
	ck_assert_str_eq(l.ids[3], "delta");
	ck_assert_str_eq(l.ids[4], "echo");

	memset(&l, 0, sizeof l);
	ck_assert_int_eq(edge_registry_foreach(reg, EDGE_NODE_MASK(EDGE_NODE_STALE), collect, &l), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.ids[0], "alpha");
	ck_assert_str_eq(l.ids[2], "delta");

	memset(&l, 0, sizeof l);
	ck_assert_int_eq(edge_registry_foreach(reg, EDGE_NODE_MASK(EDGE_NODE_ONLINE) |
						    EDGE_NODE_MASK(EDGE_NODE_OFFLINE), collect, &l), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.ids[0], "charlie");
	ck_assert_str_eq(l.ids[1], "echo");

	memset(&l, 0, sizeof l);
	l.stop_after = 2;
	ck_assert_int_eq(edge_registry_foreach(reg, EDGE_NODE_MASK_ALL, collect, &l), 42);
	ck_assert_int_eq(l.n, 2);

	ck_assert_str_eq(edge_node_state_name(EDGE_NODE_STALE), "stale");
	ck_assert_int_eq(edge_node_state_from_name("offline"), EDGE_NODE_OFFLINE);
	ck_assert_int_eq(edge_node_state_from_name("gone"), -1);
	ck_assert_str_eq(edge_registry_event_name(EDGE_REGISTRY_REGISTERED), "registered");
	edge_registry_free(reg);
}
END_TEST

/* ---- persistence ---- */

static void settle(edge_store *s)
{
	edge_store_flush(s);
	(void)edge_store_run_completions(s);
}

/* After a close: the store reopened and a registry loaded from it. */
static edge_registry *reopen_loaded(edge_store **s, unsigned max)
{
	edge_registry *reg;

	*s = open_store();
	reg = new_registry(*s, max, NULL);
	ck_assert_int_eq(edge_registry_load(reg), 0);
	return reg;
}

/* The registry before the store it writes to. */
static void close_registry_and_store(edge_registry *reg, edge_store *s)
{
	edge_registry_free(reg);
	edge_store_close(s);
}

START_TEST(persists_across_reopen)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	struct edge_msg_heartbeat hb = hb_msg(9);
	struct edge_registry_counts c;
	struct edge_node_info info;
	struct edge_msg_hello h;

	ck_assert_int_eq(edge_registry_load(reg), 0); /* empty database */
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	h = hello_msg("n3", 15, "2.0.0");
	h.has_model = 0;
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, WALL0), 0);
	ck_assert_int_eq(edge_registry_on_lost(reg, "n2", "gone", 10, WALL0 + 10), 0);
	status(reg, "n2", EDGE_MSG_STATE_ONLINE, "reconnect", false, 20); /* reconnect_count 1 */
	hello(reg, "n2", 10, 20);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, 100, WALL0 + 100), 0);
	ck_assert_int_eq(edge_registry_sync(reg), 0);
	settle(s);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 8);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 3);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_OFFLINE], 3); /* until they speak again */

	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_str_eq(info.fw_version, "1.0.0");
	ck_assert_str_eq(info.ops, "CONV_2D,FULLY_CONNECTED,SOFTMAX");
	ck_assert_uint_eq(info.n_ops, 3);
	ck_assert(info.has_model);
	ck_assert_str_eq(info.model_version, "1.2.0");
	ck_assert_uint_eq(info.heartbeat_interval_ms, 10000);
	ck_assert_int_eq(info.first_seen_ms, WALL0);
	ck_assert_int_eq(info.last_seen_ms, WALL0 + 100);
	ck_assert_uint_eq(info.hb_seq, 9);
	ck_assert_uint_eq(info.hb_inferences, 1009);
	ck_assert(info.hb_has_min_free_heap);
	ck_assert_uint_eq(info.hb_min_free_heap_bytes, 30000);
	ck_assert_int_eq(info.hb_rssi_dbm, -61);
	ck_assert_int_eq(edge_registry_get(reg, "n2", &info), 0);
	ck_assert_uint_eq(info.reconnect_count, 1);
	ck_assert_int_eq(edge_registry_get(reg, "n3", &info), 0);
	ck_assert(!info.has_model);
	ck_assert_str_eq(info.fw_version, "2.0.0");
	ck_assert_uint_eq(info.heartbeat_interval_ms, 15000);

	ck_assert_str_eq(info.status_reason, ""); /* offline because the gateway started */

	/* a loaded node comes back: a new session, with first_seen kept */
	connect_node(reg, "n1", "reconnect", 5000);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_uint_eq(info.reconnect_count, 1);
	ck_assert_int_eq(info.first_seen_ms, WALL0);
	ck_assert_int_eq(edge_registry_sync(reg), 0);
	settle(s);
	close_registry_and_store(reg, s);

	/* the stored states: n1 online, the others recorded as offline */
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		int rows = 0;

		ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT id, state FROM node_presence ORDER BY id",
						    -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *id = (const char *)sqlite3_column_text(st, 0);
			const char *state = (const char *)sqlite3_column_text(st, 1);

			ck_assert_str_eq(state, strcmp(id, "n1") == 0 ? "online" : "offline");
			rows++;
		}
		ck_assert_int_eq(rows, 3);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}
END_TEST

START_TEST(heartbeat_writes_are_coalesced)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	struct edge_msg_heartbeat hb = hb_msg(1);
	struct edge_store_stats st0, st;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	hello(reg, "n1", 10, 0); /* written at once */
	settle(s);
	edge_store_get_stats(s, &st0);

	for (uint64_t t = 1000; t < 5000; t += 1000)
		ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, t, WALL0 + (int64_t)t), 0);
	edge_registry_tick(reg, 4500);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted); /* nothing within 5 s */

	edge_registry_tick(reg, 5000); /* the interval's batch */
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 1);

	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, 6000, WALL0 + 6000), 0);
	edge_registry_tick(reg, 9000);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 1);
	edge_registry_tick(reg, 10000);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 2);
	edge_registry_tick(reg, 20000); /* clean: no more writes */
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 2);

	/* the interval is reloadable */
	ck_assert_int_eq(edge_registry_set_persist_interval(reg, 0), -EINVAL);
	ck_assert_int_eq(edge_registry_set_persist_interval(reg, 60000), 0);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, 21000, WALL0 + 21000), 0);
	edge_registry_tick(reg, 30000);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 2);
	edge_registry_tick(reg, 80000);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 3);

	settle(s);
	close_registry_and_store(reg, s);
}
END_TEST

/* One store op per interval for the whole fleet, not one per node. */
START_TEST(one_write_per_interval_for_all_nodes)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 256, NULL);
	struct edge_msg_heartbeat hb = hb_msg(3);
	struct edge_store_stats st0, st;
	struct edge_registry_stats rs0, rs;
	char id[16];

	ck_assert_int_eq(edge_registry_load(reg), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "n%03d", i);
		connect_node(reg, id, "boot", 0);
	}
	settle(s);
	edge_store_get_stats(s, &st0);
	edge_registry_get_stats(reg, &rs0);
	for (uint64_t t = 1000; t <= 4000; t += 1000) {
		for (int i = 0; i < 200; i++) {
			snprintf(id, sizeof id, "n%03d", i);
			ck_assert_int_eq(edge_registry_on_heartbeat(reg, id, &hb, t, WALL0 + (int64_t)t), 0);
		}
	}
	ck_assert_uint_eq(edge_registry_unsaved(reg), 200);
	edge_registry_tick(reg, 5000);
	edge_store_get_stats(s, &st);
	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_eq(st.ops_submitted, st0.ops_submitted + 1);
	ck_assert_uint_eq(rs.rows_written, rs0.rows_written + 200);
	settle(s);
	ck_assert_uint_eq(edge_registry_unsaved(reg), 0);
	close_registry_and_store(reg, s);
}
END_TEST

/* Reads one node's presence row through a separate connection, as the next
 * start would after a kill -9 (what is committed is all there is). */
static void stored_presence(const char *id, int64_t *last_seen, long long *hb_seq)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT last_seen_ms, hb_seq FROM node_presence"
					    " WHERE id = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	*last_seen = sqlite3_column_int64(st, 0);
	*hb_seq = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* With heartbeats every second and a 5 s interval, what the store holds is
 * never older than one interval, whenever the process dies. */
START_TEST(crash_leaves_store_at_most_one_interval_old)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	struct edge_registry_counts c;
	struct edge_node_info info;
	int64_t seen;
	long long seq;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	connect_node(reg, "n1", "boot", 0);
	for (uint64_t t = 1000; t <= 23000; t += 1000) {
		struct edge_msg_heartbeat hb = hb_msg((uint32_t)(t / 1000));

		ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, t, WALL0 + (int64_t)t), 0);
		edge_registry_tick(reg, t);
		edge_store_flush(s); /* whatever was submitted is committed */
		stored_presence("n1", &seen, &seq);
		ck_assert_msg(WALL0 + (int64_t)t - seen < 5000, "at %llu s the store is %lld ms old",
			      (unsigned long long)t / 1000, (long long)(WALL0 + (int64_t)t - seen));
		ck_assert_int_eq(seq, (long long)((seen - WALL0) / 1000));
	}
	/* the batches were 5 s apart: the last one at 20 s */
	ck_assert_int_eq(seen, WALL0 + 20000);

	/* "kill -9": no sync, no save; the completions never run */
	edge_registry_free(reg);
	edge_store_close(s);
	reg = reopen_loaded(&s, 8);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_int_eq(info.last_seen_ms, WALL0 + 20000);
	ck_assert_uint_eq(info.hb_seq, 20);
	ck_assert_int_eq(info.state, EDGE_NODE_OFFLINE);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	close_registry_and_store(reg, s);
}
END_TEST

START_TEST(load_respects_device_limit)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	struct edge_registry_counts c;
	char id[16];

	ck_assert_int_eq(edge_registry_load(reg), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof id, "n%d", i);
		hello(reg, id, 10, 0);
	}
	settle(s);
	edge_registry_free(reg);

	reg = new_registry(s, 3, NULL);
	ck_assert_int_eq(edge_registry_load(reg), EDGE_ELIMIT);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 3);
	close_registry_and_store(reg, s);
}
END_TEST

START_TEST(full_store_queue_defers_writes)
{
	struct edge_store_options so;
	edge_store *s = NULL;
	edge_registry *reg;
	struct edge_store_stats st;
	struct edge_node_info info;

	edge_store_options_init(&so);
	so.queue_max_ops = 2;
	ck_assert_int_eq(edge_store_open(test_db_path, &so, &s), 0);
	reg = new_registry(s, 8, NULL);
	ck_assert_int_eq(edge_registry_load(reg), 0);
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	hello(reg, "n3", 10, 0); /* accepted in memory, its write deferred */
	ck_assert_int_eq(edge_registry_get(reg, "n3", &info), 0);
	edge_store_flush(s);
	ck_assert_int_eq(edge_registry_sync(reg), EDGE_ELIMIT); /* completions not yet run */
	ck_assert_uint_eq(edge_store_run_completions(s), 2);
	ck_assert_int_eq(edge_registry_sync(reg), 0);
	settle(s);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_committed, 3);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 8);
	ck_assert_int_eq(edge_registry_get(reg, "n3", &info), 0);
	close_registry_and_store(reg, s);
}
END_TEST

START_TEST(save_blocks_until_everything_is_stored)
{
	struct edge_store_options so;
	edge_store *s = NULL;
	edge_registry *reg;
	struct edge_registry_counts c;
	char id[16];

	edge_store_options_init(&so);
	so.queue_max_ops = 2;
	ck_assert_int_eq(edge_store_open(test_db_path, &so, &s), 0);
	reg = new_registry(s, 16, NULL);
	ck_assert_int_eq(edge_registry_load(reg), 0);
	for (int i = 0; i < 9; i++) { /* most writes deferred: the queue holds 2 */
		snprintf(id, sizeof id, "n%d", i);
		hello(reg, id, 10, 0);
	}
	ck_assert_int_eq(edge_registry_save(reg), 0);
	ck_assert_uint_eq(edge_store_run_completions(s), 0);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 16);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 9);
	close_registry_and_store(reg, s);
}
END_TEST

START_TEST(forget_removes_node_and_row)
{
	struct event_log log = { 0 };
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, &log);
	struct edge_registry_counts c;
	struct edge_node_info info;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	/* online (or stale): refused unless forced */
	ck_assert_int_eq(edge_registry_forget(reg, "n1", false), EDGE_ESTATE);
	edge_registry_tick(reg, 30000);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_STALE);
	ck_assert_int_eq(edge_registry_forget(reg, "n1", false), EDGE_ESTATE);
	ck_assert_int_eq(edge_registry_forget(reg, "n1", true), 0);
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_FORGOTTEN);
	ck_assert_str_eq(log.id[log.n - 1], "n1");
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_registry_forget(reg, "n1", true), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_registry_forget(reg, "../x", true), EDGE_EPROTO);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_STALE], 1);
	/* offline: removed without force */
	ck_assert_int_eq(edge_registry_on_lost(reg, "n2", NULL, 30000, WALL0 + 30000), 0);
	ck_assert_int_eq(edge_registry_forget(reg, "n2", false), 0);
	hello(reg, "n2", 10, 31000); /* registers afresh, rows written again */
	settle(s);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 8);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_int_eq(edge_registry_get(reg, "n2", &info), 0);
	ck_assert_int_eq(info.first_seen_ms, WALL0 + 31000);
	/* a forgotten node registers afresh */
	hello(reg, "n1", 10, 100);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_uint_eq(info.reconnect_count, 0);
	ck_assert_int_eq(info.first_seen_ms, WALL0 + 100);
	settle(s);
	close_registry_and_store(reg, s);
}
END_TEST

static int run_sql(edge_store_conn *c, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(c, ud, &st);

	if (rc < 0)
		return rc;
	return sqlite3_step(st) == SQLITE_DONE ? 0 : EDGE_ESTORE;
}

START_TEST(failed_row_write_is_retried)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	struct edge_store_stats st;
	struct edge_registry_counts c;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	ck_assert_int_eq(edge_store_read(s, run_sql,
		"CREATE TRIGGER refuse BEFORE INSERT ON nodes WHEN NEW.id = 'n2'"
		" BEGIN SELECT RAISE(ABORT, 'refused'); END"), 0);
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	settle(s); /* n2's write failed alone; its completion marks it dirty */
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_failed, 1);
	ck_assert_int_eq(edge_store_read(s, run_sql, "DROP TRIGGER refuse"), 0);
	edge_registry_tick(reg, 1000);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, 2); /* not before persist_interval_ms */
	edge_registry_tick(reg, 5000);
	edge_store_get_stats(s, &st);
	ck_assert_uint_eq(st.ops_submitted, 3);
	settle(s);

	/* a completion arriving after the registry is gone is harmless */
	hello(reg, "n3", 10, 6000);
	edge_registry_free(reg);
	settle(s);
	edge_store_close(s);

	reg = reopen_loaded(&s, 8);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 3);
	close_registry_and_store(reg, s);
}
END_TEST

/* What the saved hook saw, and whether the node's row was in the database
 * file (read by another connection: committed) at that moment. */
struct saved_log {
	int n;
	char id[8][EDGE_REGISTRY_ID_MAX + 1];
	enum edge_registry_event ev[8];
	int result[8];
	bool row_committed[8];
};

static void saved_record(void *ud, const char *id, enum edge_registry_event ev, int result)
{
	struct saved_log *log = ud;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;

	ck_assert_int_lt(log->n, 8);
	snprintf(log->id[log->n], sizeof log->id[0], "%s", id);
	log->ev[log->n] = ev;
	log->result[log->n] = result;
	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM nodes WHERE id = ?1", -1,
					    &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	log->row_committed[log->n] = sqlite3_column_int(st, 0) == 1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	log->n++;
}

static void assert_saved(const struct saved_log *log, int i, const char *id,
			 enum edge_registry_event ev, int result, bool row)
{
	ck_assert_int_gt(log->n, i);
	ck_assert_str_eq(log->id[i], id);
	ck_assert_int_eq(log->ev[i], ev);
	ck_assert_int_eq(log->result[i], result);
	ck_assert_int_eq(log->row_committed[i], row);
}

/* The saved hook hears of each event's write once it completed: a hello's
 * row is in the database file by then; a write the store failed, or could
 * not take (queue full, told from inside the event function), is told with
 * the error; nothing is told once the hook is cleared or the registry gone. */
START_TEST(saved_hook_tells_when_the_write_committed)
{
	struct saved_log log = { 0 };
	struct edge_store_options so;
	edge_store *s = NULL;
	edge_registry *reg;

	edge_store_options_init(&so);
	so.queue_max_ops = 2;
	so.group_commit_max_delay_ms = 50;
	ck_assert_int_eq(edge_store_open(test_db_path, &so, &s), 0);
	reg = new_registry(s, 8, NULL);
	ck_assert_int_eq(edge_registry_load(reg), 0);
	ck_assert_int_eq(edge_store_read(s, run_sql,
		"CREATE TRIGGER refuse BEFORE INSERT ON nodes WHEN NEW.id = 'n2'"
		" BEGIN SELECT RAISE(ABORT, 'refused'); END"), 0);
	edge_registry_set_saved_hook(reg, saved_record, &log);
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	ck_assert_int_eq(log.n, 0); /* nothing before the commit */
	hello(reg, "n3", 10, 0);    /* the queue holds 2: refused at once */
	assert_saved(&log, 0, "n3", EDGE_REGISTRY_REGISTERED, EDGE_ELIMIT, false);
	settle(s);
	ck_assert_int_eq(log.n, 3);
	assert_saved(&log, 1, "n1", EDGE_REGISTRY_REGISTERED, 0, true);
	ck_assert_int_lt(log.result[2], 0);
	assert_saved(&log, 2, "n2", EDGE_REGISTRY_REGISTERED, log.result[2], false);

	/* A known node's hello, a state change and a removal: each told. */
	hello(reg, "n1", 10, 100);
	ck_assert_int_eq(edge_registry_on_lost(reg, "n1", NULL, 200, WALL0 + 200), 0);
	settle(s);
	assert_saved(&log, 3, "n1", EDGE_REGISTRY_UPDATED, 0, true);
	assert_saved(&log, 4, "n1", EDGE_REGISTRY_OFFLINE, 0, true);
	ck_assert_int_eq(edge_registry_forget(reg, "n1", false), 0);
	settle(s);
	assert_saved(&log, 5, "n1", EDGE_REGISTRY_FORGOTTEN, 0, false);

	/* Cleared: writes in flight complete untold. */
	ck_assert_int_eq(edge_store_read(s, run_sql, "DROP TRIGGER refuse"), 0);
	hello(reg, "n4", 10, 300);
	edge_registry_set_saved_hook(reg, NULL, NULL);
	settle(s);
	ck_assert_int_eq(log.n, 6);
	/* Registry gone before the completion: untold, harmless. */
	edge_registry_set_saved_hook(reg, saved_record, &log);
	hello(reg, "n5", 10, 400);
	edge_registry_free(reg);
	settle(s);
	ck_assert_int_eq(log.n, 6);
	edge_store_close(s);

	/* Without a store: told at once. */
	reg = new_registry(NULL, 8, NULL);
	edge_registry_set_saved_hook(reg, saved_record, &log);
	log.n = 0;
	{
		struct edge_msg_hello h = hello_msg("m1", 10, "1.0.0");

		ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, WALL0), 0);
	}
	ck_assert_int_eq(log.n, 1);
	ck_assert_str_eq(log.id[0], "m1");
	ck_assert_int_eq(log.result[0], 0);
	edge_registry_free(reg);
}
END_TEST

/* A failing disk: every write fails; one error line per 10 s, not one per
 * node per retry, and the rows are written once the disk works again. */
START_TEST(failed_writes_log_rate_limited)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 64, NULL);
	struct edge_msg_heartbeat hb = hb_msg(1);
	struct edge_registry_stats rs;
	int errors = 0;
	char id[16];

	ck_assert_int_eq(edge_registry_load(reg), 0);
	ck_assert_int_eq(edge_store_read(s, run_sql,
		"CREATE TRIGGER refuse BEFORE UPDATE ON node_presence"
		" BEGIN SELECT RAISE(ABORT, 'refused'); END"), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof id, "n%d", i);
		connect_node(reg, id, "boot", 0); /* the insert works, updates fail */
	}
	settle(s);
	capture_start();
	for (uint64_t t = 1000; t <= 30000; t += 1000) {
		for (int i = 0; i < 50; i++) {
			snprintf(id, sizeof id, "n%d", i);
			ck_assert_int_eq(edge_registry_on_heartbeat(reg, id, &hb, t, WALL0 + (int64_t)t), 0);
		}
		edge_registry_tick(reg, t);
		settle(s);
	}
	for (int i = 0; i < lines.n; i++)
		errors += lines.level[i] == EDGE_LOG_ERR;
	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_ge(rs.write_failures, 6); /* one batch per 5 s, all failed */
	ck_assert_int_ge(errors, 1);
	ck_assert_int_le(errors, 3); /* 30 s at one line per 10 s */
	ck_assert_uint_eq(edge_registry_unsaved(reg), 50);
	edge_log_set_hook(NULL, NULL);

	ck_assert_int_eq(edge_store_read(s, run_sql, "DROP TRIGGER refuse"), 0);
	edge_registry_tick(reg, 35000);
	settle(s);
	ck_assert_uint_eq(edge_registry_unsaved(reg), 0);
	close_registry_and_store(reg, s);
}
END_TEST

/* ---- revocation and admission ---- */

/* Revoked from each live state: the node stays, REVOKED, counted, with the
 * hook told the state it left; repeating it changes nothing. */
START_TEST(revoke_from_every_state)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_registry_counts c;
	struct edge_registry_stats rs;
	struct edge_node_info info;
	struct listing l = { 0 };

	hello(reg, "on", 100, 0);
	hello(reg, "st", 10, 0);
	hello(reg, "off", 10, 0);
	edge_registry_tick(reg, 30000); /* st and off turn stale */
	ck_assert_int_eq(edge_registry_on_lost(reg, "off", "gone", 30000, WALL0 + 30000), 0);
	ck_assert_int_eq(state_of(reg, "on"), EDGE_NODE_ONLINE);
	ck_assert_int_eq(state_of(reg, "st"), EDGE_NODE_STALE);
	ck_assert_int_eq(state_of(reg, "off"), EDGE_NODE_OFFLINE);
	log.n = 0;

	ck_assert_int_eq(edge_registry_revoke(reg, "on", WALL0 + 40000), 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "st", WALL0 + 41000), 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "off", WALL0 + 42000), 0);
	ck_assert_int_eq(log.n, 3);
	ck_assert_int_eq(log.ev[0], EDGE_REGISTRY_REVOKED);
	ck_assert_int_eq(log.old[0], EDGE_NODE_ONLINE);
	ck_assert_int_eq(log.now[0], EDGE_NODE_REVOKED);
	ck_assert_int_eq(log.old[1], EDGE_NODE_STALE);
	ck_assert_int_eq(log.old[2], EDGE_NODE_OFFLINE);
	ck_assert_int_eq(edge_registry_get(reg, "on", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_REVOKED);
	ck_assert_int_eq(info.revoked_ms, WALL0 + 40000);
	ck_assert_str_eq(info.status_reason, "revoked");
	ck_assert_str_eq(info.fw_version, "1.0.0"); /* history kept */
	ck_assert_int_eq(info.first_seen_ms, WALL0);

	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 3);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_REVOKED], 3);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_ONLINE] + c.by_state[EDGE_NODE_STALE] +
				  c.by_state[EDGE_NODE_OFFLINE], 0);
	ck_assert_int_eq(edge_registry_get_state(reg, "st"), EDGE_NODE_REVOKED);
	ck_assert_int_eq(edge_registry_get_state(reg, "nobody"), EDGE_ENOTFOUND);

	/* idempotent: no event, the first time stays */
	ck_assert_int_eq(edge_registry_revoke(reg, "on", WALL0 + 50000), 0);
	ck_assert_int_eq(log.n, 3);
	ck_assert_int_eq(edge_registry_get(reg, "on", &info), 0);
	ck_assert_int_eq(info.revoked_ms, WALL0 + 40000);
	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_eq(rs.revocations, 3);

	ck_assert_int_eq(edge_registry_revoke(reg, "nobody", WALL0), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_registry_revoke(reg, "a/b", WALL0), EDGE_EPROTO);
	ck_assert_int_eq(edge_registry_revoke(NULL, "on", WALL0), -EINVAL);

	/* never stale, whatever the clock says */
	edge_registry_tick(reg, 10000000);
	ck_assert_int_eq(state_of(reg, "on"), EDGE_NODE_REVOKED);
	ck_assert_int_eq(log.n, 3);

	ck_assert_int_eq(edge_registry_foreach(reg, EDGE_NODE_MASK(EDGE_NODE_REVOKED), collect,
					       &l), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(edge_node_state_name(EDGE_NODE_REVOKED), "revoked");
	ck_assert_int_eq(edge_node_state_from_name("revoked"), EDGE_NODE_REVOKED);
	ck_assert_str_eq(edge_registry_event_name(EDGE_REGISTRY_REVOKED), "revoked");
	ck_assert_str_eq(edge_registry_event_name(EDGE_REGISTRY_REINSTATED), "reinstated");
	edge_registry_free(reg);
}
END_TEST

/* Nothing a revoked node sends changes its record. */
START_TEST(revoked_node_is_refused_and_ignored)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_msg_hello h = hello_msg("n1", 10, "9.9.9");
	struct edge_msg_status online = status_msg(EDGE_MSG_STATE_ONLINE, "reconnect");
	struct edge_msg_status offline = status_msg(EDGE_MSG_STATE_OFFLINE, "lost");
	struct edge_msg_heartbeat hb = hb_msg(77);
	struct edge_registry_stats rs;
	struct edge_node_info before, after;

	connect_node(reg, "n1", "boot", 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "n1", WALL0 + 1000), 0);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &before), 0);
	log.n = 0;

	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 2000, WALL0 + 2000), EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_on_status(reg, "n1", &online, false, 3000, WALL0 + 3000),
			 EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_on_status(reg, "n1", &online, true, 3000, WALL0 + 3000),
			 EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_on_status(reg, "n1", &offline, false, 3500, WALL0 + 3500),
			 EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_on_heartbeat(reg, "n1", &hb, 4000, WALL0 + 4000),
			 EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_on_lost(reg, "n1", NULL, 5000, WALL0 + 5000), 0);
	ck_assert_int_eq(log.n, 0);

	ck_assert_int_eq(edge_registry_get(reg, "n1", &after), 0);
	ck_assert_int_eq(after.state, EDGE_NODE_REVOKED);
	ck_assert_str_eq(after.fw_version, "1.0.0");
	ck_assert_uint_eq(after.reconnect_count, before.reconnect_count);
	ck_assert_uint_eq(after.hb_seq, 0);
	ck_assert_int_eq(after.last_seen_ms, before.last_seen_ms);
	ck_assert_str_eq(after.status_reason, "revoked");

	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_eq(rs.refused_revoked, 1);
	ck_assert_uint_eq(rs.revoked_ignored, 4);
	ck_assert_uint_eq(rs.refused_admission, 0);
	edge_registry_free(reg);
}
END_TEST

START_TEST(reinstate_lifts_the_mark)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct edge_registry_counts c;
	struct edge_registry_stats rs;
	struct edge_node_info info;

	connect_node(reg, "n1", "boot", 0);
	hello(reg, "n2", 10, 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "n1", WALL0 + 1000), 0);
	log.n = 0;

	ck_assert_int_eq(edge_registry_reinstate(reg, "n1"), 0);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(log.ev[0], EDGE_REGISTRY_REINSTATED);
	ck_assert_int_eq(log.old[0], EDGE_NODE_REVOKED);
	ck_assert_int_eq(log.now[0], EDGE_NODE_OFFLINE);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_OFFLINE);
	ck_assert_int_eq(info.revoked_ms, 0);
	ck_assert_str_eq(info.status_reason, "");

	/* not revoked: nothing to do */
	ck_assert_int_eq(edge_registry_reinstate(reg, "n1"), 0);
	ck_assert_int_eq(edge_registry_reinstate(reg, "n2"), 0);
	ck_assert_int_eq(state_of(reg, "n2"), EDGE_NODE_ONLINE);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(edge_registry_reinstate(reg, "nobody"), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_registry_reinstate(reg, ""), EDGE_EPROTO);

	/* its next session is a known node's: history kept */
	connect_node(reg, "n1", "reconnect", 2000);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_uint_eq(info.reconnect_count, 1);
	ck_assert_int_eq(info.first_seen_ms, WALL0 + 10);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_REVOKED], 0);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_ONLINE], 2);
	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_eq(rs.reinstated, 1);
	edge_registry_free(reg);
}
END_TEST

struct allow_list {
	const char *ids[4];
	int calls;
};

static bool admit_listed(void *ud, const char *id)
{
	struct allow_list *a = ud;

	a->calls++;
	for (int i = 0; i < 4 && a->ids[i]; i++)
		if (strcmp(a->ids[i], id) == 0)
			return true;
	return false;
}

START_TEST(admission_hook_refuses_unlisted_ids)
{
	struct event_log log = { 0 };
	edge_registry *reg = new_registry(NULL, 8, &log);
	struct allow_list allow = { .ids = { "good", "known" } };
	struct edge_msg_hello h = hello_msg("intruder", 10, "1.0.0");
	struct edge_msg_status online = status_msg(EDGE_MSG_STATE_ONLINE, "boot");
	struct edge_registry_counts c;
	struct edge_registry_stats rs;
	struct edge_node_info info;

	hello(reg, "legacy", 10, 0); /* registered while the gateway was open */
	edge_registry_set_admission(reg, admit_listed, &allow);
	log.n = 0;

	/* a status then a hello from an id not admitted: neither is kept */
	ck_assert_int_eq(edge_registry_on_status(reg, "intruder", &online, false, 100,
						 WALL0 + 100), EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 110, WALL0 + 110), EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_get(reg, "intruder", &info), EDGE_ENOTFOUND);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_uint_eq(c.pending_status, 0);
	ck_assert_int_eq(log.n, 0);
	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_eq(rs.refused_admission, 2);
	ck_assert_uint_eq(rs.registered, 1);

	/* an admitted id registers as usual, its early status applied */
	connect_node(reg, "good", "boot", 200);
	ck_assert_int_eq(edge_registry_get(reg, "good", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_ONLINE);
	ck_assert_str_eq(info.status_reason, "boot");

	/* a node registered before stays, but its next hello is refused */
	ck_assert_int_eq(state_of(reg, "legacy"), EDGE_NODE_ONLINE);
	h = hello_msg("legacy", 10, "2.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 300, WALL0 + 300), EDGE_EAUTH);
	ck_assert_int_eq(edge_registry_get(reg, "legacy", &info), 0);
	ck_assert_str_eq(info.fw_version, "1.0.0");

	/* a revoked node is refused even if the hook would admit it; the hook
	 * is not asked */
	ck_assert_int_eq(edge_registry_revoke(reg, "good", WALL0 + 400), 0);
	allow.calls = 0;
	h = hello_msg("good", 10, "1.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 500, WALL0 + 500), EDGE_EAUTH);
	ck_assert_int_eq(allow.calls, 0);
	edge_registry_get_stats(reg, &rs);
	ck_assert_uint_eq(rs.refused_revoked, 1);
	ck_assert_uint_eq(rs.refused_admission, 3);

	/* open again */
	edge_registry_set_admission(reg, NULL, NULL);
	h = hello_msg("intruder", 10, "1.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 600, WALL0 + 600), 0);
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 700, WALL0 + 700), 0);
	h = hello_msg("good", 10, "1.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 800, WALL0 + 800), EDGE_EAUTH);
	edge_registry_free(reg);
}
END_TEST

static void stored_mark(const char *id, const char **state, int64_t *revoked_ms)
{
	static char st_buf[16];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT p.state, n.revoked_ms, n.state FROM nodes n"
					    " JOIN node_presence p ON p.id = n.id WHERE n.id = ?1",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(st_buf, sizeof st_buf, "%s", (const char *)sqlite3_column_text(st, 0));
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 2), st_buf);
	*state = st_buf;
	*revoked_ms = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1
								 : sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Stored as "offline" plus nodes.revoked_ms; loaded back revoked. */
START_TEST(revoked_mark_persists_across_reload)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	struct edge_msg_hello h;
	struct edge_registry_counts c;
	struct edge_node_info info;
	const char *state;
	int64_t revoked_ms;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	connect_node(reg, "n1", "boot", 0);
	hello(reg, "n2", 10, 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "n1", WALL0 + 5000), 0);
	settle(s);
	ck_assert_uint_eq(edge_registry_unsaved(reg), 0); /* written at once */
	stored_mark("n1", &state, &revoked_ms);
	ck_assert_str_eq(state, "offline");
	ck_assert_int_eq(revoked_ms, WALL0 + 5000);
	stored_mark("n2", &state, &revoked_ms);
	ck_assert_str_eq(state, "online");
	ck_assert_int_eq(revoked_ms, -1);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 8);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 2);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_REVOKED], 1);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_OFFLINE], 1);
	ck_assert_int_eq(edge_registry_get(reg, "n1", &info), 0);
	ck_assert_int_eq(info.state, EDGE_NODE_REVOKED);
	ck_assert_int_eq(info.revoked_ms, WALL0 + 5000);
	ck_assert_str_eq(info.status_reason, "revoked");
	ck_assert_str_eq(info.fw_version, "1.0.0");
	ck_assert_uint_eq(edge_registry_unsaved(reg), 1); /* n2's offline, not n1 */
	h = hello_msg("n1", 10, "1.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 100, WALL0 + 100), EDGE_EAUTH);

	/* reinstated: the mark goes from the store too */
	ck_assert_int_eq(edge_registry_reinstate(reg, "n1"), 0);
	settle(s);
	stored_mark("n1", &state, &revoked_ms);
	ck_assert_str_eq(state, "offline");
	ck_assert_int_eq(revoked_ms, -1);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 8);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_OFFLINE);
	hello(reg, "n1", 10, 200);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_ONLINE);
	settle(s);
	close_registry_and_store(reg, s);
}
END_TEST

/* A revoked mark the store refused is written again with the next interval. */
START_TEST(failed_revoke_write_is_retried)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	const char *state;
	int64_t revoked_ms;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	hello(reg, "n1", 10, 0);
	settle(s);
	ck_assert_int_eq(edge_store_read(s, run_sql,
		"CREATE TRIGGER refuse BEFORE UPDATE ON nodes"
		" BEGIN SELECT RAISE(ABORT, 'refused'); END"), 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "n1", WALL0 + 1000), 0);
	settle(s);
	ck_assert_uint_eq(edge_registry_unsaved(reg), 1);
	stored_mark("n1", &state, &revoked_ms);
	ck_assert_int_eq(revoked_ms, -1);
	ck_assert_int_eq(edge_store_read(s, run_sql, "DROP TRIGGER refuse"), 0);
	edge_registry_tick(reg, 5000);
	settle(s);
	ck_assert_uint_eq(edge_registry_unsaved(reg), 0);
	stored_mark("n1", &state, &revoked_ms);
	ck_assert_str_eq(state, "offline");
	ck_assert_int_eq(revoked_ms, WALL0 + 1000);
	close_registry_and_store(reg, s);
}
END_TEST

/* devices remove of a revoked node: no force needed, rows gone. */
START_TEST(forget_revoked_node)
{
	struct event_log log = { 0 };
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, &log);
	struct edge_registry_counts c;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "n1", WALL0 + 1000), 0);
	ck_assert_int_eq(edge_registry_forget(reg, "n1", false), 0);
	ck_assert_int_eq(log.ev[log.n - 1], EDGE_REGISTRY_FORGOTTEN);
	ck_assert_int_eq(log.old[log.n - 1], EDGE_NODE_REVOKED);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_uint_eq(c.by_state[EDGE_NODE_REVOKED], 0);
	ck_assert_int_eq(edge_registry_get_state(reg, "n1"), EDGE_ENOTFOUND);
	settle(s);
	close_registry_and_store(reg, s);

	reg = reopen_loaded(&s, 8);
	edge_registry_counts(reg, &c);
	ck_assert_uint_eq(c.total, 1);
	ck_assert_int_eq(edge_registry_get_state(reg, "n1"), EDGE_ENOTFOUND);
	/* gone entirely: it registers afresh, unrevoked */
	hello(reg, "n1", 10, 100);
	ck_assert_int_eq(state_of(reg, "n1"), EDGE_NODE_ONLINE);
	settle(s);
	close_registry_and_store(reg, s);
}
END_TEST

START_TEST(summary_line_counts_revocations)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);

	capture_start();
	edge_registry_tick(reg, 0);
	hello(reg, "n1", 10, 100);
	hello(reg, "n2", 10, 100);
	ck_assert_int_eq(edge_registry_revoke(reg, "n1", WALL0 + 200), 0);
	ck_assert_int_eq(edge_registry_revoke(reg, "n2", WALL0 + 200), 0);
	ck_assert_int_eq(edge_registry_reinstate(reg, "n2"), 0);
	edge_registry_tick(reg, 10000);
	ck_assert_int_eq(lines.n, 1);
	ck_assert_str_eq(lines.text[0], "presence: 2 registered, 2 revoked, 1 reinstated in the "
					"last 10 s");
	edge_log_set_hook(NULL, NULL);
	edge_registry_free(reg);
}
END_TEST

/* ---- tags ---- */

struct tags_op {
	bool add;
	const char *id;
	const char *const *tags;
	unsigned n;
	char out[EDGE_REGISTRY_TAGS_TEXT_MAX];
	unsigned n_out;
};

static int tags_run(edge_store_conn *c, void *ud)
{
	struct tags_op *op = ud;

	return op->add ? edge_registry_tags_op_add(c, op->id, op->tags, op->n, op->out,
						   sizeof op->out, &op->n_out)
		       : edge_registry_tags_op_remove(c, op->id, op->tags, op->n, op->out,
						      sizeof op->out, &op->n_out);
}

/* As edged does it: the rows first, then memory with the stored set. */
static int tag_node(edge_store *s, edge_registry *reg, bool add, const char *id,
		    const char *const *tags, unsigned n)
{
	struct tags_op op = { .add = add, .id = id, .tags = tags, .n = n };
	const char *parts[EDGE_REGISTRY_TAGS_MAX];
	unsigned k;
	int rc = edge_store_read(s, tags_run, &op);

	if (rc < 0)
		return rc;
	k = edge_registry_tags_split(op.out, parts, EDGE_REGISTRY_TAGS_MAX);
	ck_assert_uint_eq(k, op.n_out);
	return edge_registry_set_tags(reg, id, parts, k);
}

static long long stored_tag_rows(const char *id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = -1;

	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM node_tag WHERE device = ?1",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

START_TEST(tags_set_in_memory)
{
	edge_registry *reg = new_registry(NULL, 8, NULL);
	const char *const t1[] = { "zone-b", "floor.2", "zone-b", "A_1" };
	const char *const bad[] = { "ok", "no space" };
	const char *many[EDGE_REGISTRY_TAGS_MAX + 1];
	char names[EDGE_REGISTRY_TAGS_MAX + 1][8];
	char long_tag[EDGE_REGISTRY_TAG_MAX + 2];
	struct edge_node_info info;

	ck_assert(edge_registry_tag_valid("a"));
	ck_assert(edge_registry_tag_valid("Zone_1.b-2"));
	ck_assert(!edge_registry_tag_valid(""));
	ck_assert(!edge_registry_tag_valid("a,b"));
	ck_assert(!edge_registry_tag_valid("tag:x"));
	ck_assert(!edge_registry_tag_valid("caf\xc3\xa9"));
	memset(long_tag, 'x', sizeof long_tag - 1);
	long_tag[sizeof long_tag - 1] = '\0';
	ck_assert(!edge_registry_tag_valid(long_tag));
	long_tag[EDGE_REGISTRY_TAG_MAX] = '\0';
	ck_assert(edge_registry_tag_valid(long_tag));

	ck_assert_int_eq(edge_registry_set_tags(reg, "n1", t1, 4), EDGE_ENOTFOUND);
	hello(reg, "n1", 10, 0);
	ck_assert_int_eq(edge_registry_set_tags(reg, "n1", t1, 4), 0);
	info = get(reg, "n1");
	/* a set, sorted by strcmp */
	ck_assert_str_eq(info.tags, "A_1,floor.2,zone-b");
	ck_assert_uint_eq(info.n_tags, 3);
	ck_assert(edge_registry_has_tag(&info, "floor.2"));
	ck_assert(edge_registry_has_tag(&info, "A_1"));
	ck_assert(!edge_registry_has_tag(&info, "floor"));
	ck_assert(!edge_registry_has_tag(&info, "zone"));
	ck_assert(!edge_registry_has_tag(&info, ""));

	/* refused whole: nothing changes */
	ck_assert_int_eq(edge_registry_set_tags(reg, "n1", bad, 2), -EINVAL);
	for (unsigned i = 0; i <= EDGE_REGISTRY_TAGS_MAX; i++) {
		snprintf(names[i], sizeof names[i], "t%02u", i);
		many[i] = names[i];
	}
	ck_assert_int_eq(edge_registry_set_tags(reg, "n1", many, EDGE_REGISTRY_TAGS_MAX + 1),
			 -E2BIG);
	ck_assert_str_eq(get(reg, "n1").tags, "A_1,floor.2,zone-b");
	ck_assert_int_eq(edge_registry_set_tags(reg, "n1", many, EDGE_REGISTRY_TAGS_MAX), 0);
	ck_assert_uint_eq(get(reg, "n1").n_tags, EDGE_REGISTRY_TAGS_MAX);

	/* a hello keeps them; the empty set clears them */
	hello(reg, "n1", 10, 1000);
	ck_assert_uint_eq(get(reg, "n1").n_tags, EDGE_REGISTRY_TAGS_MAX);
	ck_assert_int_eq(edge_registry_set_tags(reg, "n1", NULL, 0), 0);
	info = get(reg, "n1");
	ck_assert_uint_eq(info.n_tags, 0);
	ck_assert_str_eq(info.tags, "");
	edge_registry_free(reg);
}
END_TEST

START_TEST(tags_persist_and_go_with_forget)
{
	edge_store *s = open_store();
	edge_registry *reg = new_registry(s, 8, NULL);
	const char *const t1[] = { "west", "cam" };
	const char *const t2[] = { "cam", "west", "lab" };
	const char *const rm[] = { "west", "absent" };
	const char *const bad[] = { "fine", "not,fine" };
	const char *many[EDGE_REGISTRY_TAGS_MAX];
	char names[EDGE_REGISTRY_TAGS_MAX][8];
	struct edge_node_info info;

	ck_assert_int_eq(edge_registry_load(reg), 0);
	hello(reg, "n1", 10, 0);
	hello(reg, "n2", 10, 0);
	ck_assert_int_eq(tag_node(s, reg, true, "n1", t1, 2), 0);
	ck_assert_int_eq(tag_node(s, reg, true, "n1", t2, 3), 0); /* adds only "lab" */
	ck_assert_int_eq(tag_node(s, reg, true, "n2", t1, 1), 0);
	ck_assert_str_eq(get(reg, "n1").tags, "cam,lab,west");
	ck_assert_int_eq(tag_node(s, reg, false, "n1", rm, 2), 0);
	ck_assert_str_eq(get(reg, "n1").tags, "cam,lab");
	/* a bad tag: nothing stored */
	ck_assert_int_eq(tag_node(s, reg, true, "n2", bad, 2), -EINVAL);
	ck_assert_int_eq(stored_tag_rows("n2"), 1);
	/* past the limit: the op fails and its inserts are rolled back */
	for (unsigned i = 0; i < EDGE_REGISTRY_TAGS_MAX; i++) {
		snprintf(names[i], sizeof names[i], "x%02u", i);
		many[i] = names[i];
	}
	ck_assert_int_eq(tag_node(s, reg, true, "n2", many, EDGE_REGISTRY_TAGS_MAX), -E2BIG);
	ck_assert_int_eq(stored_tag_rows("n2"), 1);
	ck_assert_int_eq(tag_node(s, reg, true, "n2", many, EDGE_REGISTRY_TAGS_MAX - 1), 0);
	ck_assert_uint_eq(get(reg, "n2").n_tags, EDGE_REGISTRY_TAGS_MAX);
	settle(s);
	close_registry_and_store(reg, s);

	/* loaded back with the nodes */
	reg = reopen_loaded(&s, 8);
	info = get(reg, "n1");
	ck_assert_str_eq(info.tags, "cam,lab");
	ck_assert_uint_eq(info.n_tags, 2);
	ck_assert_uint_eq(get(reg, "n2").n_tags, EDGE_REGISTRY_TAGS_MAX);
	ck_assert(edge_registry_has_tag(&info, "lab"));

	/* forgotten: its rows go with it, and it registers afresh untagged */
	ck_assert_int_eq(edge_registry_forget(reg, "n1", false), 0);
	settle(s);
	ck_assert_int_eq(stored_tag_rows("n1"), 0);
	ck_assert_int_eq(stored_tag_rows("n2"), EDGE_REGISTRY_TAGS_MAX);
	hello(reg, "n1", 10, 100);
	ck_assert_uint_eq(get(reg, "n1").n_tags, 0);
	settle(s);
	close_registry_and_store(reg, s);
	reg = reopen_loaded(&s, 8);
	ck_assert_str_eq(get(reg, "n1").tags, "");
	close_registry_and_store(reg, s);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *mem = tcase_create("memory");
	TCase *db = tcase_create("persistence");

	tcase_add_test(mem, register_and_get);
	tcase_add_test(mem, hello_updates_known_node);
	tcase_add_test(mem, rejects_bad_ids_and_unknown_nodes);
	tcase_add_test(mem, device_limit_refuses_new_nodes_only);
	tcase_add_test(mem, online_stale_online_via_heartbeat);
	tcase_add_test(mem, each_node_has_its_own_interval);
	tcase_add_test(mem, stale_after_change_applies_at_next_tick);
	tcase_add_test(mem, lost_offline_and_reconnect_counting);
	tcase_add_test(mem, reconnect_counts_every_live_online_status);
	tcase_add_test(mem, retained_replay_after_restart_is_no_reconnect);
	tcase_add_test(mem, status_before_hello_is_applied);
	tcase_add_test(mem, pending_statuses_are_bounded_and_expire);
	tcase_add_test(mem, state_and_reason_stay_consistent);
	tcase_add_test(mem, one_summary_line_per_interval);
	tcase_add_test(mem, counts_and_filtered_iteration);
	tcase_add_test(mem, revoke_from_every_state);
	tcase_add_test(mem, revoked_node_is_refused_and_ignored);
	tcase_add_test(mem, reinstate_lifts_the_mark);
	tcase_add_test(mem, admission_hook_refuses_unlisted_ids);
	tcase_add_test(mem, summary_line_counts_revocations);
	tcase_add_test(mem, tags_set_in_memory);
	suite_add_tcase(s, mem);

	tcase_add_checked_fixture(db, test_db_setup, test_db_teardown);
	tcase_add_test(db, persists_across_reopen);
	tcase_add_test(db, heartbeat_writes_are_coalesced);
	tcase_add_test(db, one_write_per_interval_for_all_nodes);
	tcase_add_test(db, crash_leaves_store_at_most_one_interval_old);
	tcase_add_test(db, failed_writes_log_rate_limited);
	tcase_add_test(db, load_respects_device_limit);
	tcase_add_test(db, full_store_queue_defers_writes);
	tcase_add_test(db, save_blocks_until_everything_is_stored);
	tcase_add_test(db, forget_removes_node_and_row);
	tcase_add_test(db, failed_row_write_is_retried);
	tcase_add_test(db, saved_hook_tells_when_the_write_committed);
	tcase_add_test(db, revoked_mark_persists_across_reload);
	tcase_add_test(db, failed_revoke_write_is_retried);
	tcase_add_test(db, forget_revoked_node);
	tcase_add_test(db, tags_persist_and_go_with_forget);
	suite_add_tcase(s, db);
	return s;
}

int main(void)
{
	return test_run_suite(registry_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
