/* edgectl status */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "table.h"

static const char status_usage[] =
	"Usage: edgectl status [--json]\n"
	"\n"
	"Daemon version and uptime, broker connection, nodes by state, rejected\n"
	"messages by reason, anomaly reports (stored, acked, deferred), database\n"
	"and outbox figures, control connections\n"
	"(open, limit, refused as busy, timed out).\n";

static json_int_t num(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static void format_bytes(char *buf, size_t cap, json_int_t bytes)
{
	if (bytes >= 10 * 1024 * 1024)
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT " MiB", bytes / (1024 * 1024));
	else if (bytes >= 10 * 1024)
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT " KiB", bytes / 1024);
	else
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT " B", bytes);
}

static int print_status(json_t *r)
{
	json_t *b = json_object_get(r, "broker"), *n = json_object_get(r, "nodes");
	json_t *id = json_object_get(r, "identities");
	json_t *m = json_object_get(r, "messages"), *rej = json_object_get(r, "rejects");
	json_t *st = json_object_get(r, "store"), *ob = json_object_get(b, "outbox");
	json_t *ctl = json_object_get(r, "control");
	json_t *an = json_object_get(r, "anomalies");
	json_int_t up = num(r, "uptime_s");
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
		 str(r, "version"), num(r, "pid"), str(r, "state"), up / 86400, up / 3600 % 24,
		 up / 60 % 60, up % 60);
	edgectl_table_add(t, (const char *[]){ "edged", line });

	if (json_object_get(b, "host")) {
		snprintf(line, sizeof line, "%s:%" JSON_INTEGER_FORMAT "%s %s%s, reconnects %"
			 JSON_INTEGER_FORMAT ", outbox %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
			 " (dropped %" JSON_INTEGER_FORMAT ")%s%s",
			 str(b, "host"), num(b, "port"), json_is_true(json_object_get(b, "tls"))
				 ? " (TLS)" : "",
			 str(b, "state"),
			 json_is_true(json_object_get(b, "session_present")) ? " (session resumed)" : "",
			 num(b, "reconnects"), num(ob, "depth"), num(ob, "capacity"),
			 num(ob, "dropped"), str(b, "last_error")[0] ? ", last error: " : "",
			 str(b, "last_error"));
	} else {
		snprintf(line, sizeof line, "%s", str(b, "state"));
	}
	edgectl_table_add(t, (const char *[]){ "broker", line });

	snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " total: %" JSON_INTEGER_FORMAT
		 " online, %" JSON_INTEGER_FORMAT " stale, %" JSON_INTEGER_FORMAT " offline, %"
		 JSON_INTEGER_FORMAT " revoked (max %" JSON_INTEGER_FORMAT ")", num(n, "total"),
		 num(n, "online"), num(n, "stale"), num(n, "offline"), num(n, "revoked"),
		 num(n, "max"));
	edgectl_table_add(t, (const char *[]){ "nodes", line });

	if (json_is_true(json_object_get(id, "managed")))
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " active, %" JSON_INTEGER_FORMAT
			 " revoked (%" JSON_INTEGER_FORMAT " password, %" JSON_INTEGER_FORMAT
			 " certificate); broker files %s%s%s", num(id, "active"), num(id, "revoked"),
			 num(id, "password"), num(id, "certificate"),
			 json_is_false(json_object_get(id, "files_in_sync")) ? "NOT in sync"
									       : "in sync",
			 str(id, "last_error")[0] ? ": " : "", str(id, "last_error"));
	else
		snprintf(line, sizeof line, "not managed by edged (broker.identity_dir unset)");
	edgectl_table_add(t, (const char *[]){ "identities", line });

	snprintf(line, sizeof line, "hello %" JSON_INTEGER_FORMAT ", status %" JSON_INTEGER_FORMAT
		 ", heartbeat %" JSON_INTEGER_FORMAT ", log lines suppressed %" JSON_INTEGER_FORMAT,
		 num(m, "hello"), num(m, "status"), num(m, "heartbeat"), num(m, "log_suppressed"));
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
			 num(an, "reports"), num(an, "events_stored"), num(an, "duplicates"),
			 num(an, "acks_sent"), num(an, "deferred"), num(an, "failed"),
			 num(an, "gaps"), num(an, "implausible_time"), num(an, "pending"));
		edgectl_table_add(t, (const char *[]){ "anomalies", line });
	}

	json_t *ota = json_object_get(r, "ota");
	if (ota) {
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " models, %" JSON_INTEGER_FORMAT
			 " transfers open (%" JSON_INTEGER_FORMAT " in all): %" JSON_INTEGER_FORMAT
			 " activated, %" JSON_INTEGER_FORMAT " reverted, %" JSON_INTEGER_FORMAT
			 " failed, %" JSON_INTEGER_FORMAT " denied, %" JSON_INTEGER_FORMAT
			 " bad answers",
			 num(ota, "models"), num(ota, "transfers_open"), num(ota, "transfers_total"),
			 num(ota, "nodes_activated"), num(ota, "nodes_reverted"),
			 num(ota, "nodes_failed"), num(ota, "nodes_denied"), num(ota, "bad_answers"));
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

	if (json_object_get(st, "path")) {
		format_bytes(db, sizeof db, num(st, "db_bytes"));
		format_bytes(wal, sizeof wal, num(st, "wal_bytes"));
		snprintf(line, sizeof line, "%s, %s (+ %s WAL), %" JSON_INTEGER_FORMAT
			 " ops committed, %" JSON_INTEGER_FORMAT " failed, queue %" JSON_INTEGER_FORMAT,
			 str(st, "path"), db, wal, num(st, "ops_committed"), num(st, "ops_failed"),
			 num(st, "queue_depth"));
	} else {
		snprintf(line, sizeof line, "%s", str(st, "state"));
	}
	edgectl_table_add(t, (const char *[]){ "store", line });
	if (json_object_get(st, "checkpoints")) {
		char written[32], limit[32];

		/* what the storage wears: bytes written, and how the WAL is held */
		if (json_is_integer(json_object_get(st, "bytes_written")))
			format_bytes(written, sizeof written, num(st, "bytes_written"));
		else
			snprintf(written, sizeof written, "unknown");
		format_bytes(limit, sizeof limit, num(st, "wal_max_bytes"));
		snprintf(line, sizeof line, "%s written, %" JSON_INTEGER_FORMAT " checkpoints (%"
			 JSON_INTEGER_FORMAT " truncate, %" JSON_INTEGER_FORMAT " failed), WAL limit %s, %"
			 JSON_INTEGER_FORMAT " failed writes%s",
			 written, num(st, "checkpoints"), num(st, "checkpoints_truncate"),
			 num(st, "checkpoint_failures"), limit, num(st, "write_failures"),
			 json_is_true(json_object_get(st, "disk_full")) ? ", DISK FULL (retrying)" : "");
		edgectl_table_add(t, (const char *[]){ "writes", line });
	}

	if (ctl) {
		snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
			 " clients (+%" JSON_INTEGER_FORMAT " reserved), refused busy %"
			 JSON_INTEGER_FORMAT ", timeouts %" JSON_INTEGER_FORMAT
			 ", not authorised %" JSON_INTEGER_FORMAT ", too large %" JSON_INTEGER_FORMAT
			 ", refused role %" JSON_INTEGER_FORMAT,
			 num(ctl, "clients"), num(ctl, "max_clients"), num(ctl, "reserved_clients"),
			 num(ctl, "refused_busy"), num(ctl, "timeouts"), num(ctl, "refused_auth"),
			 num(ctl, "too_large"), num(ctl, "refused_role"));
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
