/* edgectl devices [--state S] | devices show ID | devices remove ID [--force] */
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "table.h"

static const char devices_usage[] =
	"Usage: edgectl devices [--state online|stale|offline|revoked] [--json]\n"
	"       edgectl devices show ID [--json]\n"
	"       edgectl devices remove ID [--force] [--json]\n"
	"\n"
	"List the nodes known to edged, or every registry field of one node and\n"
	"its anomaly history (events, last 24 h, gaps, last event, episodes).\n"
	"A node revoked with 'edgectl nodes revoke' stays listed in state revoked:\n"
	"its hellos are refused (not_allowed) and its messages ignored.\n"
	"'remove' makes edged forget a node (memory and database) and clears what\n"
	"the broker retains for it; it is refused while the node is online or\n"
	"stale unless --force. A removed node that speaks again counts as\n"
	"unknown_node until its next hello registers it afresh (a revoked one\n"
	"still needs a valid broker identity to get there).\n"
	"'show' ends with the node's OTA block: the model it runs as delivered by\n"
	"'edgectl ota send' (active), the one before (previous) and the outcome\n"
	"of its last transfer.\n"
	"\n"
	"Exit codes: 0 done, 1 refused or failed (e.g. busy: node online), 2 bad\n"
	"usage, 3 edged not running, 4 not authorised.\n";

static void format_time(char *buf, size_t cap, json_int_t ms)
{
	edgectl_format_time(buf, cap, ms, "never");
}

static int print_list(json_t *r)
{
	static const char *const headers[] = { "ID",    "STATE",      "REASON",
					       "FIRMWARE", "MODEL", "RECONNECTS",
					       "LAST SEEN (UTC)" };
	struct edgectl_table *t = edgectl_table_new(7, headers);
	json_t *dev;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(json_object_get(r, "devices"), i, dev) {
		char seen[32], reconnects[24];
		const char *reason = json_string_value(json_object_get(dev, "reason"));
		const char *model = json_string_value(json_object_get(dev, "model"));

		format_time(seen, sizeof seen, json_integer_value(json_object_get(dev, "last_seen_ms")));
		snprintf(reconnects, sizeof reconnects, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(dev, "reconnects")));
		const char *cells[] = {
			json_string_value(json_object_get(dev, "id")),
			json_string_value(json_object_get(dev, "state")),
			reason && reason[0] ? reason : "-",
			json_string_value(json_object_get(dev, "fw")),
			model && model[0] ? model : "-",
			reconnects,
			seen,
		};
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	printf("%zu device(s)\n", json_array_size(json_object_get(r, "devices")));
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* A device's times: when it was first and last seen, when revoked. */
static const char *device_time_field(const char *key)
{
	return strstr(key, "seen_ms") || strcmp(key, "revoked_ms") == 0 ? "never" : NULL;
}

/* The device's anomaly history as a block of its own, in words. */
static void add_anomalies(struct edgectl_table *t, json_t *a)
{
	char text[160], when[32];
	json_t *score = json_object_get(a, "last_score");

#define N(key) json_integer_value(json_object_get(a, key))
	snprintf(text, sizeof text,
		 "%" JSON_INTEGER_FORMAT " stored, %" JSON_INTEGER_FORMAT " in the last 24 h, "
		 "%" JSON_INTEGER_FORMAT " gap(s)",
		 N("events"), N("events_24h"), N("gaps"));
	edgectl_table_add(t, (const char *[]){ "anomalies.events", text });
	format_time(when, sizeof when, N("last_ts_ms"));
	if (N("last_ts_ms") > 0)
		snprintf(text, sizeof text, "%s UTC, %s, score %.4g", when,
			 json_is_string(json_object_get(a, "last_label"))
				 ? json_string_value(json_object_get(a, "last_label"))
				 : "-",
			 json_number_value(score));
	else
		snprintf(text, sizeof text, "never");
	edgectl_table_add(t, (const char *[]){ "anomalies.last", text });
	snprintf(text, sizeof text,
		 "%" JSON_INTEGER_FORMAT " in all, %" JSON_INTEGER_FORMAT " open (%" JSON_INTEGER_FORMAT
		 " confirmed)",
		 N("episodes"), N("episodes_open"), N("episodes_confirmed"));
#undef N
	edgectl_table_add(t, (const char *[]){ "anomalies.episodes", text });
}

/* "hello 1.2.0 (sha256 3f1a9c0b…)" or "none". */
static void ota_model_text(char *buf, size_t cap, json_t *m)
{
	const char *sha = json_string_value(json_object_get(m, "sha256"));

	if (!json_is_object(m)) {
		snprintf(buf, cap, "none");
		return;
	}
	snprintf(buf, cap, "%s %s (sha256 %.16s)",
		 json_is_string(json_object_get(m, "name"))
			 ? json_string_value(json_object_get(m, "name"))
			 : "?",
		 json_is_string(json_object_get(m, "version"))
			 ? json_string_value(json_object_get(m, "version"))
			 : "?",
		 sha ? sha : "-");
}

/* The node's models as delivered over the air, and its last transfer. */
static void add_ota(struct edgectl_table *t, json_t *o)
{
	const char *outcome = json_string_value(json_object_get(o, "last_outcome"));
	const char *reason = json_string_value(json_object_get(o, "last_reason"));
	json_int_t last = json_integer_value(json_object_get(o, "last_transfer"));
	char text[160];

	ota_model_text(text, sizeof text, json_object_get(o, "active"));
	edgectl_table_add(t, (const char *[]){ "ota.active", text });
	ota_model_text(text, sizeof text, json_object_get(o, "previous"));
	edgectl_table_add(t, (const char *[]){ "ota.previous", text });
	if (last <= 0)
		snprintf(text, sizeof text, "none");
	else if (reason && reason[0] && strcmp(reason, "ok") != 0)
		snprintf(text, sizeof text, "transfer %" JSON_INTEGER_FORMAT ": %s (%s)", last,
			 outcome && outcome[0] ? outcome : "-", reason);
	else
		snprintf(text, sizeof text, "transfer %" JSON_INTEGER_FORMAT ": %s", last,
			 outcome && outcome[0] ? outcome : "-");
	edgectl_table_add(t, (const char *[]){ "ota.last", text });
}

static int print_one(json_t *r)
{
	struct edgectl_table *t = edgectl_table_new(2, NULL);
	json_t *rest = json_copy(r), *a = json_object_get(r, "anomalies");
	json_t *ota = json_object_get(r, "ota");
	int rc;

	if (!t || !rest) {
		edgectl_table_free(t);
		json_decref(rest);
		return EDGECTL_EDAEMON;
	}
	json_object_del(rest, "anomalies");
	json_object_del(rest, "ota");
	edgectl_table_add_fields(t, "", rest, device_time_field);
	if (json_is_object(a))
		add_anomalies(t, a);
	if (json_is_object(ota))
		add_ota(t, ota);
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	json_decref(rest);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static int print_removed(json_t *r)
{
	json_int_t cleared = json_integer_value(json_object_get(r, "retained_cleared"));

	printf("removed %s (was %s)", json_string_value(json_object_get(r, "id")),
	       json_string_value(json_object_get(r, "state")));
	if (cleared > 0)
		printf("; its retained messages cleared on %" JSON_INTEGER_FORMAT " topics", cleared);
	putchar('\n');
	return EDGECTL_OK;
}

/* devices remove ID [--force]: --force is a flag, so it is taken out
 * before the common parser (which knows options with a value only). */
static int devices_remove(int argc, char **argv)
{
	const char *pos[3];
	char *rest[16];
	bool force = false;
	json_t *args;
	int n = 0, npos, rc;

	if (argc > (int)(sizeof rest / sizeof rest[0])) {
		fputs(devices_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else
			rest[n++] = argv[i];
	}
	rc = edgectl_parse_args(n, rest, devices_usage, NULL, 0, pos, 3, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos != 2 || strcmp(pos[0], "remove") != 0) {
		fputs(devices_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	args = json_pack("{s:s, s:b}", "id", pos[1], "force", force);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query("devices.remove", args, print_removed);
	json_decref(args);
	return rc;
}

int edgectl_cmd_devices(int argc, char **argv)
{
	const char *state = NULL, *pos[2];
	const struct edgectl_opt opts[] = { { "--state", &state } };
	json_t *args;
	bool show;
	int npos, rc;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "remove") == 0)
			return devices_remove(argc, argv);
		break;
	}
	rc = edgectl_parse_args(argc, argv, devices_usage, opts, 1, pos, 2, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	show = npos > 0;
	if (show && (strcmp(pos[0], "show") != 0 || npos != 2 || state)) {
		fputs(devices_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	if (state && strcmp(state, "online") != 0 && strcmp(state, "stale") != 0 &&
	    strcmp(state, "offline") != 0 && strcmp(state, "revoked") != 0) {
		fprintf(stderr, "edgectl devices: --state must be online, stale, offline or "
			"revoked\n");
		return EDGECTL_EUSAGE;
	}
	if (show)
		args = json_pack("{s:s}", "id", pos[1]);
	else
		args = state ? json_pack("{s:s}", "state", state) : json_object();
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query(show ? "device" : "devices", args, show ? print_one : print_list);
	json_decref(args);
	return rc;
}
