/* edgectl status */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "edgectl.h"
#include "table.h"

static const char status_usage[] =
	"Usage: edgectl status [--json]\n"
	"\n"
	"Daemon version and uptime, broker connection, nodes by state, rejected\n"
	"messages by reason, anomaly reports (stored, acked, deferred), database\n"
	"and outbox figures, control connections\n"
	"(open, limit, refused as busy, timed out).\n";

static void format_bytes(char *buf, size_t cap, json_int_t bytes)
{
	if (bytes >= 10 * 1024 * 1024)
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT " MiB", bytes / (1024 * 1024));
	else if (bytes >= 10 * 1024)
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT " KiB", bytes / 1024);
	else
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT " B", bytes);
}

/* Forwarding to the central database: connected or why not, the backlog
 * and how old its oldest event is, the last success. */
static void central_lines(struct edgectl_table *t, json_t *c)
{
	char line[512], last[48];
	const long long now_ms = (long long)time(NULL) * 1000;
	const long long success_ms = (long long)edgectl_int(c, "last_success_ms");

	if (!json_is_object(c) || !json_is_true(json_object_get(c, "enabled")))
		return;
	if (success_ms > 0)
		snprintf(last, sizeof last, "%lld s ago", (now_ms - success_ms) / 1000);
	else
		snprintf(last, sizeof last, "never");
	snprintf(line, sizeof line, "gateway %s, %s; backlog %" JSON_INTEGER_FORMAT " events, %"
		 JSON_INTEGER_FORMAT " episodes, %" JSON_INTEGER_FORMAT " summaries, lag %lld s;"
		 " %" JSON_INTEGER_FORMAT " events forwarded, last success %s",
		 edgectl_str_or(c, "gateway_id", "?"),
		 json_is_true(json_object_get(c, "connected")) ? "connected" : "not connected",
		 edgectl_int(c, "backlog_events"), edgectl_int(c, "backlog_episodes"),
		 edgectl_int(c, "backlog_summaries"), (long long)edgectl_int(c, "lag_ms") / 1000,
		 edgectl_int(c, "forwarded_events"), last);
	edgectl_table_add(t, (const char *[]){ "central", line });
	if (edgectl_int(c, "dropped_unforwarded_events") > 0 ||
	    edgectl_int(c, "dropped_unforwarded_episodes") > 0) {
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " events and %" JSON_INTEGER_FORMAT
			 " episodes deleted by retention before they were forwarded",
			 edgectl_int(c, "dropped_unforwarded_events"),
			 edgectl_int(c, "dropped_unforwarded_episodes"));
		edgectl_table_add(t, (const char *[]){ "central lost", line });
	}
	if (edgectl_str_or(c, "last_error", "")[0] && !json_is_true(json_object_get(c, "connected")))
		edgectl_table_add(t, (const char *[]){ "central error",
						       edgectl_str_or(c, "last_error", "") });
}

/* The broker's upstream bridges, one line each. */
static void upstream_lines(struct edgectl_table *t, json_t *bridges)
{
	const long long now_ms = (long long)time(NULL) * 1000;
	char key[96], line[160];
	size_t i;
	json_t *b;

	json_array_foreach(bridges, i, b) {
		long long since = (long long)edgectl_int(b, "since_ms");

		snprintf(key, sizeof key, "upstream %s", edgectl_str_or(b, "name", "?"));
		snprintf(line, sizeof line, "%s for %lld s, %" JSON_INTEGER_FORMAT " times down",
			 json_is_true(json_object_get(b, "connected")) ? "connected" : "NOT connected",
			 since > 0 ? (now_ms - since) / 1000 : 0, edgectl_int(b, "downs"));
		edgectl_table_add(t, (const char *[]){ key, line });
	}
}

static int print_status(json_t *r)
{
	json_t *b = json_object_get(r, "broker"), *n = json_object_get(r, "nodes");
	json_t *id = json_object_get(r, "identities");
	json_t *m = json_object_get(r, "messages"), *rej = json_object_get(r, "rejects");
	json_t *st = json_object_get(r, "store"), *ob = json_object_get(b, "outbox");
	json_t *ctl = json_object_get(r, "control");
	json_t *an = json_object_get(r, "anomalies");
	json_int_t up = edgectl_int(r, "uptime_s");
	struct edgectl_table *t = edgectl_table_new(2, NULL);
	char line[1024], db[32], wal[32];
	const char *key;
	json_t *val;
	size_t off = 0;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	snprintf(line, sizeof line, "%s (pid %" JSON_INTEGER_FORMAT "), %s, up %" JSON_INTEGER_FORMAT
		 "d %02" JSON_INTEGER_FORMAT ":%02" JSON_INTEGER_FORMAT ":%02" JSON_INTEGER_FORMAT,
		 edgectl_str_or(r, "version", ""), edgectl_int(r, "pid"), edgectl_str_or(r, "state", ""), up / 86400, up / 3600 % 24,
		 up / 60 % 60, up % 60);
	edgectl_table_add(t, (const char *[]){ "edged", line });

	if (json_object_get(b, "host")) {
		snprintf(line, sizeof line, "%s:%" JSON_INTEGER_FORMAT "%s %s%s, reconnects %"
			 JSON_INTEGER_FORMAT ", outbox %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
			 " (dropped %" JSON_INTEGER_FORMAT ")%s%s",
			 edgectl_str_or(b, "host", ""), edgectl_int(b, "port"), json_is_true(json_object_get(b, "tls"))
				 ? " (TLS)" : "",
			 edgectl_str_or(b, "state", ""),
			 json_is_true(json_object_get(b, "session_present")) ? " (session resumed)" : "",
			 edgectl_int(b, "reconnects"), edgectl_int(ob, "depth"), edgectl_int(ob, "capacity"),
			 edgectl_int(ob, "dropped"), edgectl_str_or(b, "last_error", "")[0] ? ", last error: " : "",
			 edgectl_str_or(b, "last_error", ""));
	} else {
		snprintf(line, sizeof line, "%s", edgectl_str_or(b, "state", ""));
	}
	edgectl_table_add(t, (const char *[]){ "broker", line });

	snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " total: %" JSON_INTEGER_FORMAT
		 " online, %" JSON_INTEGER_FORMAT " stale, %" JSON_INTEGER_FORMAT " offline, %"
		 JSON_INTEGER_FORMAT " revoked (max %" JSON_INTEGER_FORMAT ")", edgectl_int(n, "total"),
		 edgectl_int(n, "online"), edgectl_int(n, "stale"), edgectl_int(n, "offline"), edgectl_int(n, "revoked"),
		 edgectl_int(n, "max"));
	edgectl_table_add(t, (const char *[]){ "nodes", line });

	if (json_is_true(json_object_get(id, "managed")))
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " active, %" JSON_INTEGER_FORMAT
			 " revoked (%" JSON_INTEGER_FORMAT " password, %" JSON_INTEGER_FORMAT
			 " certificate); broker files %s%s%s", edgectl_int(id, "active"), edgectl_int(id, "revoked"),
			 edgectl_int(id, "password"), edgectl_int(id, "certificate"),
			 json_is_false(json_object_get(id, "files_in_sync")) ? "NOT in sync"
									       : "in sync",
			 edgectl_str_or(id, "last_error", "")[0] ? ": " : "", edgectl_str_or(id, "last_error", ""));
	else
		snprintf(line, sizeof line, "not managed by edged (broker.identity_dir unset)");
	edgectl_table_add(t, (const char *[]){ "identities", line });

	snprintf(line, sizeof line, "hello %" JSON_INTEGER_FORMAT ", status %" JSON_INTEGER_FORMAT
		 ", heartbeat %" JSON_INTEGER_FORMAT ", log lines suppressed %" JSON_INTEGER_FORMAT,
		 edgectl_int(m, "hello"), edgectl_int(m, "status"), edgectl_int(m, "heartbeat"), edgectl_int(m, "log_suppressed"));
	edgectl_table_add(t, (const char *[]){ "messages", line });

	line[0] = '\0';
	json_object_foreach(rej, key, val) {
		if (json_integer_value(val) == 0 || off >= sizeof line)
			continue;
		off += (size_t)snprintf(line + off, sizeof line - off, "%s%s %" JSON_INTEGER_FORMAT,
					off ? ", " : "", key, json_integer_value(val));
	}
	edgectl_table_add(t, (const char *[]){ "rejects", line[0] ? line : "none" });

	if (an) {
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " reports: %" JSON_INTEGER_FORMAT
			 " events stored, %" JSON_INTEGER_FORMAT " duplicates, %" JSON_INTEGER_FORMAT
			 " acks, %" JSON_INTEGER_FORMAT " deferred, %" JSON_INTEGER_FORMAT
			 " failed, %" JSON_INTEGER_FORMAT " gaps, %" JSON_INTEGER_FORMAT
			 " implausible times, %" JSON_INTEGER_FORMAT " pending",
			 edgectl_int(an, "reports"), edgectl_int(an, "events_stored"), edgectl_int(an, "duplicates"),
			 edgectl_int(an, "acks_sent"), edgectl_int(an, "deferred"), edgectl_int(an, "failed"),
			 edgectl_int(an, "gaps"), edgectl_int(an, "implausible_time"), edgectl_int(an, "pending"));
		edgectl_table_add(t, (const char *[]){ "anomalies", line });
	}

	json_t *ota = json_object_get(r, "ota");
	if (ota) {
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " models, %" JSON_INTEGER_FORMAT
			 " transfers open (%" JSON_INTEGER_FORMAT " in all): %" JSON_INTEGER_FORMAT
			 " activated, %" JSON_INTEGER_FORMAT " reverted, %" JSON_INTEGER_FORMAT
			 " failed, %" JSON_INTEGER_FORMAT " denied, %" JSON_INTEGER_FORMAT
			 " bad answers",
			 edgectl_int(ota, "models"), edgectl_int(ota, "transfers_open"), edgectl_int(ota, "transfers_total"),
			 edgectl_int(ota, "nodes_activated"), edgectl_int(ota, "nodes_reverted"),
			 edgectl_int(ota, "nodes_failed"), edgectl_int(ota, "nodes_denied"), edgectl_int(ota, "bad_answers"));
		edgectl_table_add(t, (const char *[]){ "ota", line });
		line[0] = '\0';
		off = 0;
		json_object_foreach(json_object_get(ota, "reasons"), key, val) {
			if (json_integer_value(val) == 0 || off >= sizeof line)
				continue;
			off += (size_t)snprintf(line + off, sizeof line - off,
						"%s%s %" JSON_INTEGER_FORMAT, off ? ", " : "", key,
						json_integer_value(val));
		}
		if (line[0])
			edgectl_table_add(t, (const char *[]){ "ota reasons", line });
	}

	json_t *offl = json_object_get(r, "offload");
	if (json_is_object(offl)) {
		json_t *oc = json_object_get(offl, "outcomes"), *ov = json_object_get(offl, "verify");

		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " models, %" JSON_INTEGER_FORMAT
			 " workers, queue %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
			 ": %" JSON_INTEGER_FORMAT " requests, %" JSON_INTEGER_FORMAT " ok, %"
			 JSON_INTEGER_FORMAT " busy, %" JSON_INTEGER_FORMAT
			 " deadline exceeded; verify %" JSON_INTEGER_FORMAT " matches, %"
			 JSON_INTEGER_FORMAT " mismatches",
			 edgectl_int(offl, "models_enabled"), edgectl_int(offl, "workers"),
			 edgectl_int(offl, "queued"), edgectl_int(offl, "queue_max"),
			 edgectl_int(offl, "requests"), edgectl_int(oc, "ok"), edgectl_int(oc, "busy"),
			 edgectl_int(oc, "deadline_exceeded"), edgectl_int(ov, "matches"),
			 edgectl_int(ov, "mismatches"));
		edgectl_table_add(t, (const char *[]){ "offload", line });
	}
	central_lines(t, json_object_get(r, "central"));
	upstream_lines(t, json_object_get(json_object_get(r, "upstream"), "bridges"));

	if (json_object_get(st, "path")) {
		format_bytes(db, sizeof db, edgectl_int(st, "db_bytes"));
		format_bytes(wal, sizeof wal, edgectl_int(st, "wal_bytes"));
		snprintf(line, sizeof line, "%s, %s (+ %s WAL), %" JSON_INTEGER_FORMAT
			 " ops committed, %" JSON_INTEGER_FORMAT " failed, queue %" JSON_INTEGER_FORMAT,
			 edgectl_str_or(st, "path", ""), db, wal, edgectl_int(st, "ops_committed"), edgectl_int(st, "ops_failed"),
			 edgectl_int(st, "queue_depth"));
	} else {
		snprintf(line, sizeof line, "%s", edgectl_str_or(st, "state", ""));
	}
	edgectl_table_add(t, (const char *[]){ "store", line });
	if (json_object_get(st, "checkpoints")) {
		char written[32], limit[32];

		/* what the storage wears: bytes written, and how the WAL is held */
		if (json_is_integer(json_object_get(st, "bytes_written")))
			format_bytes(written, sizeof written, edgectl_int(st, "bytes_written"));
		else
			snprintf(written, sizeof written, "unknown");
		format_bytes(limit, sizeof limit, edgectl_int(st, "wal_max_bytes"));
		snprintf(line, sizeof line, "%s written, %" JSON_INTEGER_FORMAT " checkpoints (%"
			 JSON_INTEGER_FORMAT " truncate, %" JSON_INTEGER_FORMAT " failed), WAL limit %s, %"
			 JSON_INTEGER_FORMAT " failed writes%s",
			 written, edgectl_int(st, "checkpoints"), edgectl_int(st, "checkpoints_truncate"),
			 edgectl_int(st, "checkpoint_failures"), limit, edgectl_int(st, "write_failures"),
			 json_is_true(json_object_get(st, "disk_full")) ? ", DISK FULL (retrying)" : "");
		edgectl_table_add(t, (const char *[]){ "writes", line });
	}

	if (ctl) {
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
			 " clients (+%" JSON_INTEGER_FORMAT " reserved), refused busy %"
			 JSON_INTEGER_FORMAT ", timeouts %" JSON_INTEGER_FORMAT
			 ", not authorised %" JSON_INTEGER_FORMAT ", too large %" JSON_INTEGER_FORMAT
			 ", refused role %" JSON_INTEGER_FORMAT,
			 edgectl_int(ctl, "clients"), edgectl_int(ctl, "max_clients"), edgectl_int(ctl, "reserved_clients"),
			 edgectl_int(ctl, "refused_busy"), edgectl_int(ctl, "timeouts"), edgectl_int(ctl, "refused_auth"),
			 edgectl_int(ctl, "too_large"), edgectl_int(ctl, "refused_role"));
		edgectl_table_add(t, (const char *[]){ "control", line });
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

int edgectl_cmd_status(int argc, char **argv)
{
	return edgectl_run_plain(argc, argv, status_usage, "status", print_status);
}
