#include "commands.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "anomaly.h"
#include "anomaly_query.h"
#include "anomaly_tail.h"
#include "edge_build_config.h"
#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edge_msg_reject.h"
#include "edge_time.h"
#include "edged.h"
#include "identity.h"
#include "mqtt.h"
#include "notify.h"
#include "ota.h"
#include "offload.h"
#include "central.h"
#include "upstream.h"
#include "rollout.h"
#include "router.h"
#include "tags_commands.h"
#include "targets.h"

/* json_object_set_new that reports allocation failure through *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		*ok = false;
}

static int fail_internal(json_t *obj, char *msg, size_t msglen)
{
	json_decref(obj);
	snprintf(msg, msglen, "out of memory");
	return EDGE_CTL_E_INTERNAL;
}

static json_t *status_broker(struct edged *d, bool *ok)
{
	struct edged_mqtt_stats ms;
	json_t *b = json_object();

	if (!b || !d->mqtt) {
		if (b)
			put(b, "state", json_string("not running"), ok);
		return b;
	}
	edged_mqtt_get_stats(d->mqtt, &ms);
	put(b, "state", json_string(edged_mqtt_state_name(ms.state)), ok);
	put(b, "host", json_string(ms.host), ok);
	put(b, "port", json_integer(ms.port), ok);
	put(b, "tls", json_boolean(ms.tls), ok);
	put(b, "connects", json_integer((json_int_t)ms.connects), ok);
	put(b, "reconnects", json_integer((json_int_t)ms.reconnects), ok);
	put(b, "connect_failures", json_integer((json_int_t)ms.connect_failures), ok);
	put(b, "messages_in", json_integer((json_int_t)ms.messages_in), ok);
	put(b, "messages_out", json_integer((json_int_t)ms.messages_out), ok);
	put(b, "last_error", json_string(ms.last_error), ok);
	put(b, "address", json_string(ms.address), ok);
	put(b, "session_present", json_boolean(ms.session_present), ok);
	put(b, "max_packet_bytes", json_integer((json_int_t)ms.max_packet_bytes), ok);
	put(b, "session_expiry_s", json_integer((json_int_t)ms.session_expiry_s), ok);
	put(b, "poll_wakeups", json_integer((json_int_t)ms.poll_wakeups), ok);
	put(b, "frames_refused", json_integer((json_int_t)ms.frames_refused), ok);
	put(b, "outbox", json_pack("{s:I, s:I, s:I}", "depth", (json_int_t)ms.outbox_depth,
				   "capacity", (json_int_t)ms.outbox_capacity, "dropped",
				   (json_int_t)ms.outbox_dropped), ok);
	return b;
}

static json_t *status_nodes(struct edged *d, bool *ok)
{
	struct edge_registry_counts rc = { 0 };
	json_t *n;

	if (d->registry)
		edge_registry_counts(d->registry, &rc);
	n = json_object();
	if (!n)
		return NULL;
	put(n, "total", json_integer(rc.total), ok);
	for (int s = 0; s < EDGE_NODE_STATE_COUNT; s++)
		put(n, edge_node_state_name((enum edge_node_state)s), json_integer(rc.by_state[s]),
		    ok);
	if (d->config)
		put(n, "max", json_integer(edge_config_settings(d->config)->registry.max_devices),
		    ok);
	return n;
}

/* Every reject reason, zero or not: scripts can rely on the keys. */
static json_t *status_rejects(struct edged *d, bool *ok)
{
	struct edged_router_stats rs = { 0 };
	json_t *r = json_object();

	if (!r)
		return NULL;
	if (d->router)
		edged_router_get_stats(d->router, &rs);
	for (int i = EDGE_MSG_OK + 1; i < EDGE_MSG_PACKAGE_FIRST; i++)
		put(r, edge_msg_reject_name((enum edge_msg_reject)i),
		    json_integer((json_int_t)rs.rejects[i]), ok);
	for (int i = 0; i < EDGED_ROUTER_REFUSAL_COUNT; i++)
		put(r, edged_router_refusal_name((enum edged_router_refusal)i),
		    json_integer((json_int_t)rs.refusals[i]), ok);
	return r;
}

/* Registry internals an operator may need: statuses waiting for their
 * node's hello, and the store writes of presence (coalesced per interval). */
static json_t *status_registry(struct edged *d, bool *ok)
{
	struct edge_registry_counts rc = { 0 };
	struct edge_registry_stats rs = { 0 };
	json_t *r = json_object();

	if (!r)
		return NULL;
	if (d->registry) {
		edge_registry_counts(d->registry, &rc);
		edge_registry_get_stats(d->registry, &rs);
	}
	put(r, "pending_status", json_integer(rc.pending_status), ok);
	put(r, "pending_applied", json_integer((json_int_t)rs.pending_applied), ok);
	put(r, "pending_dropped", json_integer((json_int_t)rs.pending_dropped), ok);
	put(r, "registered", json_integer((json_int_t)rs.registered), ok);
	put(r, "reconnects", json_integer((json_int_t)rs.reconnects), ok);
	put(r, "removed", json_integer((json_int_t)rs.forgotten), ok);
	put(r, "revocations", json_integer((json_int_t)rs.revocations), ok);
	put(r, "reinstated", json_integer((json_int_t)rs.reinstated), ok);
	put(r, "refused_revoked", json_integer((json_int_t)rs.refused_revoked), ok);
	put(r, "refused_admission", json_integer((json_int_t)rs.refused_admission), ok);
	put(r, "revoked_ignored", json_integer((json_int_t)rs.revoked_ignored), ok);
	put(r, "writes", json_integer((json_int_t)rs.writes), ok);
	put(r, "rows_written", json_integer((json_int_t)rs.rows_written), ok);
	put(r, "write_failures", json_integer((json_int_t)rs.write_failures), ok);
	put(r, "unsaved", json_integer(d->registry ? edge_registry_unsaved(d->registry) : 0), ok);
	return r;
}

static json_t *status_messages(struct edged *d, bool *ok)
{
	struct edged_router_stats rs = { 0 };

	if (d->router)
		edged_router_get_stats(d->router, &rs);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "hello", (json_int_t)rs.hello, "status",
			 (json_int_t)rs.status, "heartbeat", (json_int_t)rs.heartbeat, "report",
			 (json_int_t)rs.report, "ota_answer", (json_int_t)rs.ota_answer,
			 "log_suppressed", (json_int_t)rs.log_suppressed);
}

/* Queries, tail followers and retention: added to "anomalies". */
static json_t *status_anomaly_reads(struct edged *d, json_t *o)
{
	struct edged_anomaly_query_stats qs;
	struct edged_anomaly_tail_stats ts;
	struct edged_anomaly_stats as = { 0 };
	json_t *more;

	if (!o)
		return NULL;
	if (d->anomaly)
		edged_anomaly_get_stats(d->anomaly, &as);
	edged_anomaly_query_get_stats(d->query, &qs);
	edged_anomaly_tail_get_stats(d->tail, &ts);
	more = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I}",
			 "queries_running", (int)qs.running, "queries_queued", (int)qs.queued,
			 "queries_done", (json_int_t)qs.done, "queries_budget_exceeded",
			 (json_int_t)qs.budget_exceeded, "queries_failed", (json_int_t)qs.failed,
			 "queries_refused_busy", (json_int_t)qs.refused_busy,
			 "tail_followers", (int)ts.followers, "tail_followers_dropped",
			 (json_int_t)ts.followers_dropped, "tail_events_sent",
			 (json_int_t)ts.events_sent, "events_deleted_age",
			 (json_int_t)as.events_deleted_age, "events_deleted_size",
			 (json_int_t)as.events_deleted_size, "episodes_deleted",
			 (json_int_t)as.episodes_deleted, "rollup_rows_deleted",
			 (json_int_t)as.rollup_rows_deleted, "db_used_bytes",
			 (json_int_t)as.db_used_bytes, "retention_steps",
			 (json_int_t)as.retention_steps, "retention_failed",
			 (json_int_t)as.retention_failed, "rollup_caught_up",
			 (json_int_t)as.rollup_caught_up);
	if (!more || json_object_update(o, more) < 0) {
		json_decref(more);
		json_decref(o);
		return NULL;
	}
	json_decref(more);
	return o;
}

/* Reports taken by the anomaly service and what became of them. */
static json_t *status_anomalies(struct edged *d)
{
	struct edged_anomaly_stats as = { 0 };

	if (d->anomaly)
		edged_anomaly_get_stats(d->anomaly, &as);
	return status_anomaly_reads(d, json_pack(
			 "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:I, "
			 "s:I, s:I}", "reports",
			 (json_int_t)as.reports, "events_stored", (json_int_t)as.events_stored,
			 "duplicates", (json_int_t)as.duplicates, "acks_sent",
			 (json_int_t)as.acks_sent, "deferred", (json_int_t)as.deferred, "failed",
			 (json_int_t)as.failed, "implausible_time", (json_int_t)as.implausible_time,
			 "gaps", (json_int_t)as.gaps, "pending", (int)as.pending, "episodes_opened",
			 (json_int_t)as.episodes_opened, "episodes_confirmed",
			 (json_int_t)as.episodes_confirmed, "episodes_closed",
			 (json_int_t)as.episodes_closed, "episode_late", (json_int_t)as.episode_late,
			 "sweeps", (json_int_t)as.sweeps, "sweeps_failed",
			 (json_int_t)as.sweeps_failed));
}

static json_t *status_store(struct edged *d, bool *ok)
{
	struct edge_store_stats ss;

	if (!d->store)
		return json_pack("{s:s}", "state", "not open");
	edge_store_get_stats(d->store, &ss);
	/* bytes_written is null where the kernel keeps no per-thread I/O count */
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:i, s:i,"
			 " s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:b, s:I}", "state", "open",
			 "path", edge_store_path(d->store), "db_bytes", (json_int_t)ss.db_bytes,
			 "wal_bytes", (json_int_t)ss.wal_bytes, "ops_submitted",
			 (json_int_t)ss.ops_submitted, "ops_committed", (json_int_t)ss.ops_committed,
			 "ops_failed", (json_int_t)ss.ops_failed, "transactions",
			 (json_int_t)ss.transactions, "avg_batch_ops", ss.avg_batch_ops,
			 "queue_depth", (int)ss.queue_depth, "completions_pending",
			 (int)ss.completions_pending, "wal_max_bytes", (json_int_t)ss.wal_max_bytes,
			 "checkpoints", (json_int_t)ss.checkpoints, "checkpoints_truncate",
			 (json_int_t)ss.checkpoints_truncate, "checkpoint_failures",
			 (json_int_t)ss.checkpoint_failures, "bytes_written",
			 ss.bytes_written_known ? json_integer((json_int_t)ss.bytes_written) : json_null(),
			 "wal_bytes_appended", (json_int_t)ss.wal_bytes_appended, "write_failures",
			 (json_int_t)ss.write_failures, "disk_full", (int)ss.disk_full,
			 "log_suppressed", (json_int_t)ss.log_suppressed);
}

/* Connections now and the limit (plus the reserve for root and edged's
 * user), and what was refused (outsiders; commands above a peer's role) or
 * timed out; group lookups on the pool. */
static json_t *status_control(struct edged *d)
{
	struct edged_control_stats cs;

	edged_control_get_stats(d->control, &cs);
	return json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:i, s:i}, "
			 "s:{s:I, s:i}}",
			 "clients", (int)cs.clients, "max_clients", (int)cs.max_clients,
			 "reserved_clients", CONTROL_RESERVED_CLIENTS, "requests",
			 (json_int_t)cs.requests, "errors", (json_int_t)cs.errors, "refused_auth",
			 (json_int_t)cs.refused_auth, "refused_role", (json_int_t)cs.refused_role,
			 "refused_busy", (json_int_t)cs.refused_busy,
			 "timeouts", (json_int_t)cs.timeouts, "too_large", (json_int_t)cs.too_large,
			 "lookups", "total", (json_int_t)cs.lookups, "running",
			 (int)cs.lookups_running, "queued", (int)cs.lookups_queued, "calls", "total",
			 (json_int_t)cs.calls, "pending", (int)cs.calls_pending);
}

static int cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged *d = ud;
	json_t *st = json_object();
	bool ok = true;

	if (!st)
		return fail_internal(NULL, msg, msglen);
	put(st, "version", json_string(EDGE_VERSION), &ok);
	put(st, "pid", json_integer(getpid()), &ok);
	put(st, "uptime_s", json_integer((json_int_t)((edge_time_monotonic_ms() - d->start_ms) / 1000)),
	    &ok);
	put(st, "state", json_string(d->stopping ? "stopping" : "running"), &ok);
	put(st, "broker", status_broker(d, &ok), &ok);
	put(st, "nodes", status_nodes(d, &ok), &ok);
	put(st, "registry", status_registry(d, &ok), &ok);
	put(st, "messages", status_messages(d, &ok), &ok);
	put(st, "rejects", status_rejects(d, &ok), &ok);
	put(st, "anomalies", status_anomalies(d), &ok);
	put(st, "store", status_store(d, &ok), &ok);
	put(st, "reloads", json_pack("{s:I, s:I, s:s}", "ok", (json_int_t)d->reloads, "failed",
				     (json_int_t)d->reload_failures, "last_error",
				     d->last_reload_error), &ok);
	if (d->control)
		put(st, "control", status_control(d), &ok);
	put(st, "identities", edged_identity_status(d->identity), &ok);
	put(st, "ota", edged_ota_status_json(d->ota), &ok);
	{
		struct edged_rollout_stats rs;

		edged_rollout_get_stats(d->rollout, &rs);
		put(st, "offload", edged_offload_status_json(d->offload), &ok);
		put(st, "central", edged_central_status_json(d->central), &ok);
		put(st, "upstream", edged_upstream_status_json(d->upstream), &ok);
		put(st, "rollouts",
		    json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "active", (int)rs.active, "started", (json_int_t)rs.started,
			      "halted", (json_int_t)rs.halted, "done", (json_int_t)rs.done,
			      "aborted", (json_int_t)rs.aborted, "store_failures",
			      (json_int_t)rs.store_failures, "load_skipped",
			      (json_int_t)rs.load_skipped, "health_looks",
			      (json_int_t)rs.health_looks, "health_halts",
			      (json_int_t)rs.health_halts, "health_unread",
			      (json_int_t)rs.health_unread, "reverts", (json_int_t)rs.reverts,
			      "nodes_reverted", (json_int_t)rs.nodes_reverted),
		    &ok);
	}
	if (!ok)
		return fail_internal(st, msg, msglen);
	*result = st;
	return 0;
}

/* "name@version", or "" when the node runs no model. */
static void node_model(const struct edge_node_info *n, char *buf, size_t cap)
{
	if (n->has_model)
		snprintf(buf, cap, "%s@%s", n->model_name, n->model_version);
	else
		buf[0] = '\0';
}

static json_t *node_summary(const struct edge_node_info *n)
{
	char model[2 * sizeof n->model_name + 2];

	node_model(n, model, sizeof model);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o*}", "id", n->id, "state",
			 edge_node_state_name(n->state), "reason", n->status_reason, "fw",
			 n->fw_version, "model", model, "reconnects",
			 (json_int_t)n->reconnect_count, "last_seen_ms",
			 (json_int_t)n->last_seen_ms, "tags", edged_tags_json(n));
}

struct devices_walk {
	json_t *list;
	const char *tag; /* NULL: every node */
	const struct edged_offload *offload;
};

static int devices_add(const struct edge_node_info *node, void *ud)
{
	struct devices_walk *w = ud;
	json_t *j;

	if (w->tag && !edge_registry_has_tag(node, w->tag))
		return 0;
	j = node_summary(node);
	/* shadow verification found it computing wrong */
	if (j && edged_offload_flagged(w->offload, node->id))
		(void)json_object_set_new(j, "flagged", json_true());
	if (!j || !json_object_get(j, "tags") || json_array_append_new(w->list, j) < 0) {
		json_decref(j);
		return -ENOMEM;
	}
	return 0;
}

static int cmd_devices(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged *d = ud;
	json_t *jstate = json_object_get(args, "state");
	unsigned mask = EDGE_NODE_MASK_ALL;
	struct devices_walk w = { .offload = d->offload };
	json_t *list;
	int rc;

	rc = edged_tag_filter_arg(args, &w.tag, msg, msglen);
	if (rc)
		return rc;

	if (jstate && !json_is_null(jstate)) {
		int s = json_is_string(jstate) ? edge_node_state_from_name(json_string_value(jstate))
					       : -1;
		if (s < 0) {
			snprintf(msg, msglen, "state must be online, stale, offline or revoked");
			return EDGE_CTL_E_BAD_ARGS;
		}
		mask = EDGE_NODE_MASK((enum edge_node_state)s);
	}
	list = json_array();
	if (!list)
		return fail_internal(NULL, msg, msglen);
	w.list = list;
	rc = d->registry ? edge_registry_foreach(d->registry, mask, devices_add, &w) : 0;
	if (rc != 0)
		return fail_internal(list, msg, msglen);
	*result = json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list), "devices",
			    list);
	return *result ? 0 : fail_internal(NULL, msg, msglen);
}

/* The hello's op names, as the array the hello carried (the registry keeps
 * them joined with ','; op names never contain one). */
static json_t *ops_array(const char *joined)
{
	json_t *a = json_array();
	const char *p = joined;

	if (!a)
		return NULL;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (json_array_append_new(a, json_stringn(p, len)) < 0) {
			json_decref(a);
			return NULL;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return a;
}

static json_t *node_detail(const struct edge_node_info *n)
{
	json_t *o = json_object(), *hb, *model;
	bool ok = o != NULL;

	if (!o)
		return NULL;
	put(o, "id", json_string(n->id), &ok);
	put(o, "state", json_string(edge_node_state_name(n->state)), &ok);
	put(o, "fw", json_string(n->fw_version), &ok);
	put(o, "runtime", json_pack("{s:s, s:s}", "name", n->runtime_name, "version",
				    n->runtime_version), &ok);
	put(o, "ops", ops_array(n->ops), &ok);
	put(o, "n_ops", json_integer(n->n_ops), &ok);
	put(o, "ram_bytes", json_integer(n->ram_bytes), &ok);
	put(o, "flash_bytes", json_integer(n->flash_bytes), &ok);
	put(o, "arena_bytes", json_integer(n->arena_bytes), &ok);
	put(o, "sensor", json_string(n->sensor), &ok);
	model = n->has_model ? json_pack("{s:s, s:s, s:s}", "name", n->model_name, "version",
					 n->model_version, "sha256", n->model_sha256)
			     : json_null();
	put(o, "model", model, &ok);
	put(o, "heartbeat_interval_ms", json_integer(n->heartbeat_interval_ms), &ok);
	put(o, "first_seen_ms", json_integer(n->first_seen_ms), &ok);
	put(o, "last_seen_ms", json_integer(n->last_seen_ms), &ok);
	put(o, "reconnect_count", json_integer(n->reconnect_count), &ok);
	put(o, "status_reason", json_string(n->status_reason), &ok);
	if (n->revoked_ms)
		put(o, "revoked_ms", json_integer(n->revoked_ms), &ok);
	put(o, "tags", edged_tags_json(n), &ok);
	hb = json_object();
	if (hb) {
		put(hb, "seq", json_integer(n->hb_seq), &ok);
		put(hb, "uptime_s", json_integer((json_int_t)n->hb_uptime_s), &ok);
		put(hb, "inferences", json_integer((json_int_t)n->hb_inferences), &ok);
		put(hb, "anomalies", json_integer((json_int_t)n->hb_anomalies), &ok);
		put(hb, "mqtt_reconnects", json_integer(n->hb_mqtt_reconnects), &ok);
		put(hb, "free_heap_bytes", json_integer(n->hb_free_heap_bytes), &ok);
		if (n->hb_has_min_free_heap)
			put(hb, "min_free_heap_bytes", json_integer(n->hb_min_free_heap_bytes), &ok);
		if (n->hb_has_rssi)
			put(hb, "rssi_dbm", json_integer(n->hb_rssi_dbm), &ok);
	}
	put(o, "heartbeat", hb, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The registry's fields now, the anomaly summary from the query service
 * (off the loop); answered when that is back. */
static int cmd_device(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
		      size_t msglen)
{
	struct edged *d = ud;
	json_t *jid = json_object_get(args, "id"), *detail;
	struct edge_node_info n;
	int rc;

	if (!json_is_string(jid)) {
		snprintf(msg, msglen, "missing device id (args.id)");
		return EDGE_CTL_E_BAD_ARGS;
	}
	rc = d->registry ? edge_registry_get(d->registry, json_string_value(jid), &n)
			 : EDGE_ENOTFOUND;
	if (rc == EDGE_ENOTFOUND) {
		snprintf(msg, msglen, "no device '%.64s'", json_string_value(jid));
		return EDGE_CTL_E_NOT_FOUND;
	}
	if (rc < 0) {
		snprintf(msg, msglen, "%s", edge_strerror(rc));
		return EDGE_CTL_E_INTERNAL;
	}
	detail = node_detail(&n);
	if (!detail ||
	    json_object_set_new(detail, "ota", edged_ota_device_json(d->ota, n.id)) < 0 ||
	    json_object_set_new(detail, "offload", edged_offload_device_json(d->offload, n.id)) < 0)
		return fail_internal(detail, msg, msglen);
	return edged_anomaly_query_device(d->query, json_string_value(jid), detail, call);
}

/* The anomaly history (anomaly_query.h, anomaly_tail.h). */
static int cmd_anomalies_list(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			      size_t msglen)
{
	return edged_anomaly_query_list(((struct edged *)ud)->query, args, call, msg, msglen);
}

static int cmd_anomalies_stats(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			       size_t msglen)
{
	return edged_anomaly_query_stats(((struct edged *)ud)->query, args, call, msg, msglen);
}

static int cmd_anomalies_episodes(void *ud, json_t *args, struct edged_ctl_call *call,
				  char *msg, size_t msglen)
{
	return edged_anomaly_query_episodes(((struct edged *)ud)->query, args, call, msg, msglen);
}

static int cmd_anomalies_tail(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			      size_t msglen)
{
	return edged_anomaly_tail_start(((struct edged *)ud)->tail, args, call, msg, msglen);
}

/* devices.remove: args {"id": ID, "force": bool}. A node that is online
 * or stale is refused with `busy` unless force: it would register afresh
 * at its next hello anyway, and its messages count as unknown_node until
 * then. What the broker retains for it is cleared ("retained_cleared":
 * topics cleared), so a later subscriber does not see a removed node. */
static int cmd_devices_remove(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged *d = ud;
	json_t *jid = json_object_get(args, "id"), *jforce = json_object_get(args, "force");
	struct edge_node_info n;
	const char *id;
	int rc, cleared = 0;

	if (!json_is_string(jid)) {
		snprintf(msg, msglen, "missing device id (args.id)");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (jforce && !json_is_boolean(jforce)) {
		snprintf(msg, msglen, "args.force must be true or false");
		return EDGE_CTL_E_BAD_ARGS;
	}
	id = json_string_value(jid);
	if (!d->registry || edge_registry_get(d->registry, id, &n) < 0) {
		snprintf(msg, msglen, "no device '%.64s'", id);
		return EDGE_CTL_E_NOT_FOUND;
	}
	rc = edge_registry_forget(d->registry, id, json_is_true(jforce));
	if (rc == EDGE_ESTATE) {
		snprintf(msg, msglen, "device '%.64s' is %s; remove it with force to do so anyway",
			 id, edge_node_state_name(n.state));
		return EDGE_CTL_E_BUSY;
	}
	if (rc == EDGE_ELIMIT) {
		snprintf(msg, msglen, "the database queue is full; try again");
		return EDGE_CTL_E_BUSY;
	}
	if (rc < 0) {
		snprintf(msg, msglen, "%s", edge_strerror(rc));
		return EDGE_CTL_E_INTERNAL;
	}
	if (d->router) {
		cleared = edged_router_clear_retained(d->router, id);
		if (cleared < 0) {
			edge_log(EDGE_LOG_WARNING, "control", "retained topics of removed node %s "
				 "not cleared: %s", id, edge_strerror(cleared));
			cleared = 0;
		}
	}
	*result = json_pack("{s:s, s:b, s:s, s:i}", "id", id, "removed", 1, "state",
			    edge_node_state_name(n.state), "retained_cleared", cleared);
	return *result ? 0 : fail_internal(NULL, msg, msglen);
}

static int config_add(const struct edge_config_key_info *info, void *ud)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", info->name, "value", info->value,
			      "default", info->default_value, "reloadable",
			      (info->flags & EDGE_CONFIG_RELOADABLE) != 0, "secret",
			      (info->flags & EDGE_CONFIG_SECRET) != 0);

	if (!j || json_array_append_new(ud, j) < 0)
		return -ENOMEM;
	return 0;
}

static int cmd_config(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged *d = ud;
	json_t *list = json_array();

	if (!list)
		return fail_internal(NULL, msg, msglen);
	/* foreach reports secrets that are set as "<hidden>". */
	if (d->config && edge_config_foreach(d->config, config_add, list) != 0)
		return fail_internal(list, msg, msglen);
	*result = json_pack("{s:s?, s:o}", "file", d->config_path, "keys", list);
	return *result ? 0 : fail_internal(NULL, msg, msglen);
}

static int cmd_reload(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged *d = ud;
	char restart[512] = "", err[256] = "";
	json_t *list;
	int rc;

	/* As SIGHUP does: the service manager sees the reload, and
	 * edged_reload logs the outcome either way. */
	edge_log(EDGE_LOG_NOTICE, "edged", "reload requested over the control socket");
	edged_notify_reloading(d->notify);
	rc = edged_reload(d, restart, sizeof restart, err, sizeof err);
	edged_notify_ready(d->notify);
	if (rc < 0) {
		snprintf(msg, msglen, "%s", err[0] ? err : edge_strerror(rc));
		return EDGE_CTL_E_BAD_CONFIG; /* the running config stays in force */
	}
	list = json_array();
	if (!list)
		return fail_internal(NULL, msg, msglen);
	for (char *save = NULL, *k = strtok_r(restart, ", ", &save); k;
	     k = strtok_r(NULL, ", ", &save))
		json_array_append_new(list, json_string(k));
	*result = json_pack("{s:b, s:o}", "reloaded", 1, "needs_restart", list);
	return *result ? 0 : fail_internal(NULL, msg, msglen);
}

/* Node identities (identity.h): the list, and provisioning and revocation,
 * which answer once the database, the broker's files and the broker's
 * reload are done. */
static int cmd_nodes(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	return edged_identity_cmd_list(((struct edged *)ud)->identity, args, result, msg, msglen);
}

static int unavailable(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "the identity service is not running");
	return EDGE_CTL_E_UNAVAILABLE;
}

static int cmd_nodes_provision(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			       size_t msglen)
{
	struct edged *d = ud;

	if (!d->identity)
		return unavailable(msg, msglen);
	return edged_identity_cmd_provision(d->identity, args, call, msg, msglen);
}

static int cmd_nodes_revoke(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			    size_t msglen)
{
	struct edged *d = ud;

	if (!d->identity)
		return unavailable(msg, msglen);
	return edged_identity_cmd_revoke(d->identity, args, call, msg, msglen);
}

/* Each command with the role it needs: READ only reads, ADMIN changes
 * edged or the fleet (proto/control-protocol.md, "Roles"). */
const struct edged_ctl_command edged_commands[] = {
	{ "status", cmd_status, EDGED_CTL_ROLE_READ,
	  "daemon, broker, node, reject and store summary", NULL },
	{ "devices", cmd_devices, EDGED_CTL_ROLE_READ,
	  "list nodes; args: state (online|stale|offline|revoked), tag", NULL },
	{ "device", NULL, EDGED_CTL_ROLE_READ,
	  "all registry fields of one node and its anomaly summary; args: id", cmd_device },
	{ "devices.remove", cmd_devices_remove, EDGED_CTL_ROLE_ADMIN,
	  "forget a node (memory and database); args: id, force (refused while online/stale)",
	  NULL },
	{ "devices.tag", NULL, EDGED_CTL_ROLE_ADMIN,
	  "add tags to a node (at most 16, [A-Za-z0-9_.-]{1,32}); args: id, tags",
	  edged_cmd_devices_tag },
	{ "devices.untag", NULL, EDGED_CTL_ROLE_ADMIN,
	  "remove tags from a node; args: id, tags", edged_cmd_devices_untag },
	{ "config", cmd_config, EDGED_CTL_ROLE_READ,
	  "effective configuration (secrets hidden)", NULL },
	{ "reload", cmd_reload, EDGED_CTL_ROLE_ADMIN,
	  "re-read the configuration file (like SIGHUP)", NULL },
	{ "nodes", cmd_nodes, EDGED_CTL_ROLE_READ,
	  "node broker identities; args: state (active|revoked)", NULL },
	{ "anomalies.list", NULL, EDGED_CTL_ROLE_READ,
	  "stored anomaly events, newest first; args: device, label, model, since_ms, "
	  "until_ms, min_score, limit, cursor, stream", cmd_anomalies_list },
	{ "anomalies.stats", NULL, EDGED_CTL_ROLE_READ,
	  "anomaly counts and score percentiles; args: by (hour|day|device|label|model), "
	  "device, label, model, since_ms, until_ms, max_groups", cmd_anomalies_stats },
	{ "anomalies.episodes", NULL, EDGED_CTL_ROLE_READ,
	  "anomaly episodes, newest first; args: device, label, model, since_ms, until_ms, "
	  "open, limit, cursor", cmd_anomalies_episodes },
	{ "anomalies.tail", NULL, EDGED_CTL_ROLE_READ,
	  "follow newly stored anomaly events (streams until the client hangs up); args: "
	  "device, label", cmd_anomalies_tail },
	{ "nodes.provision", NULL, EDGED_CTL_ROLE_ADMIN,
	  "create or rotate node identities; args: ids, tls_cert, rotate",
	  cmd_nodes_provision },
	{ "nodes.revoke", NULL, EDGED_CTL_ROLE_ADMIN,
	  "revoke a node's identity (broker, registry, retained topics); args: id",
	  cmd_nodes_revoke },
	{ "models.add", NULL, EDGED_CTL_ROLE_ADMIN,
	  "verify and store a signed model package; args: path (absolute)",
	  edged_ota_cmd_models_add },
	{ "models.list", edged_ota_cmd_models_list, EDGED_CTL_ROLE_READ,
	  "stored model packages", NULL },
	{ "models.show", edged_ota_cmd_models_show, EDGED_CTL_ROLE_READ,
	  "one stored model, its manifest and signers; args: model", NULL },
	{ "models.remove", NULL, EDGED_CTL_ROLE_ADMIN,
	  "remove a stored model (refused while a transfer sends it); args: model",
	  edged_ota_cmd_models_remove },
	{ "models.fit", edged_ota_cmd_models_fit, EDGED_CTL_ROLE_READ,
	  "which registered nodes can take a model; args: model, tag", NULL },
	{ "ota.send", NULL, EDGED_CTL_ROLE_ADMIN,
	  "send a stored model to nodes; args: model, to (ids, \"all\" or \"tag:T\"), "
	  "campaign, chunk_size, window", edged_ota_cmd_send },
	{ "ota.status", edged_ota_cmd_status, EDGED_CTL_ROLE_READ,
	  "open and recently finished transfers; args: transfer, device", NULL },
	{ "ota.cancel", edged_ota_cmd_cancel, EDGED_CTL_ROLE_ADMIN,
	  "cancel a transfer, or one node of it; args: transfer, device", NULL },
	{ "rollout.start", edged_rollout_cmd_start, EDGED_CTL_ROLE_ADMIN,
	  "stage a model to nodes: canary, waves, halt on failures; args: model, to, canary, "
	  "waves, max_failures, soak_s, dry_run", NULL },
	{ "rollout.list", edged_rollout_cmd_list, EDGED_CTL_ROLE_READ,
	  "rollouts, newest first", NULL },
	{ "rollout.status", edged_rollout_cmd_status, EDGED_CTL_ROLE_READ,
	  "one rollout: stages, nodes, events; args: id", NULL },
	{ "rollout.pause", edged_rollout_cmd_pause, EDGED_CTL_ROLE_ADMIN,
	  "pause a rollout (no new stage); args: id", NULL },
	{ "rollout.resume", edged_rollout_cmd_resume, EDGED_CTL_ROLE_ADMIN,
	  "resume a paused or halted rollout (after a halt: with the next stage); args: id", NULL },
	{ "rollout.abort", edged_rollout_cmd_abort, EDGED_CTL_ROLE_ADMIN,
	  "abort a rollout, cancelling its open transfer; args: id", NULL },
	{ "offload.list", edged_offload_cmd_list, EDGED_CTL_ROLE_READ,
	  "stored models and whether they are enabled for offload", NULL },
	{ "offload.enable", edged_offload_cmd_enable, EDGED_CTL_ROLE_ADMIN,
	  "let nodes offload inference to a stored model; args: model", NULL },
	{ "offload.disable", edged_offload_cmd_disable, EDGED_CTL_ROLE_ADMIN,
	  "stop offloading a model (its queued requests are answered); args: model", NULL },
	{ "offload.status", edged_offload_cmd_status, EDGED_CTL_ROLE_READ,
	  "offload queue, outcomes and latencies per model and node, shadow checks", NULL },
	{ "offload.mismatches", edged_offload_cmd_mismatches, EDGED_CTL_ROLE_READ,
	  "shadow-verification mismatches, newest first; args: limit", NULL },
	{ "offload.clear", edged_offload_cmd_clear, EDGED_CTL_ROLE_ADMIN,
	  "unflag a node and drop its mismatch evidence (after it was fixed); args: id", NULL },
	{ "offload.verify", edged_offload_cmd_verify, EDGED_CTL_ROLE_ADMIN,
	  "shadow-sampling share of a node or tag (told at once); args: to, permille|null", NULL },
	{ "rollout.revert", edged_rollout_cmd_revert, EDGED_CTL_ROLE_ADMIN,
	  "send a rollout's activated nodes back to their previous model (from their other slot "
	  "where they hold it); args: id", NULL },
};
const size_t edged_commands_count = sizeof edged_commands / sizeof edged_commands[0];
