/* edgectl devices [--state S] [--tag T] | devices show ID | devices remove ID [--force]
 * | devices tag ID TAG... | devices untag ID TAG... */
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "table.h"

static const char devices_usage[] =
	"Usage: edgectl devices [--state online|stale|offline|revoked] [--tag TAG] [--json]\n"
	"       edgectl devices show ID [--json]\n"
	"       edgectl devices remove ID [--force] [--json]\n"
	"       edgectl devices tag ID TAG... [--json]\n"
	"       edgectl devices untag ID TAG... [--json]\n"
	"\n"
	"List the nodes known to edged (--tag: only those with that tag), or every\n"
	"registry field of one node and its anomaly history (events, last 24 h,\n"
	"gaps, last event, episodes).\n"
	"'tag' and 'untag' add tags to a node or remove them: a tag is 1 to 32 of\n"
	"A-Z a-z 0-9 _ . -, a node has at most 16. Tags are stored by edged and\n"
	"group nodes for 'devices --tag', 'models fit --tag' and\n"
	"'ota send --to tag:TAG'; 'remove' drops them with the node.\n"
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

/* A result's "tags" array joined with sep, or "-" when there are none. */
#define EDGECTL_TAGS_TEXT 640 /* 16 tags of 32 characters and separators */
static void tags_text(char *buf, size_t cap, json_t *tags, const char *sep)
{
	size_t used = 0, i;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(tags, i, v) {
		int w = snprintf(buf + used, cap - used, "%s%s", used ? sep : "",
				 json_is_string(v) ? json_string_value(v) : "?");

		if (w < 0 || (size_t)w >= cap - used)
			break; /* edged sends at most 16 of 32: cannot happen */
		used += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, cap, "-");
}

static int print_list(json_t *r)
{
	static const char *const headers[] = { "ID",    "STATE",      "REASON",
					       "FIRMWARE", "MODEL", "RECONNECTS",
					       "LAST SEEN (UTC)", "TAGS" };
	struct edgectl_table *t = edgectl_table_new(8, headers);
	json_t *dev;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(json_object_get(r, "devices"), i, dev) {
		char seen[32], reconnects[24], tags[EDGECTL_TAGS_TEXT], state[48];
		const char *reason = json_string_value(json_object_get(dev, "reason"));
		const char *model = json_string_value(json_object_get(dev, "model"));

		/* shadow verification caught it computing wrong */
		snprintf(state, sizeof state, "%s%s",
			 json_string_value(json_object_get(dev, "state")),
			 json_is_true(json_object_get(dev, "flagged")) ? " FLAGGED" : "");

		format_time(seen, sizeof seen, json_integer_value(json_object_get(dev, "last_seen_ms")));
		tags_text(tags, sizeof tags, json_object_get(dev, "tags"), ",");
		snprintf(reconnects, sizeof reconnects, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(dev, "reconnects")));
		const char *cells[] = {
			json_string_value(json_object_get(dev, "id")),
			state,
			reason && reason[0] ? reason : "-",
			json_string_value(json_object_get(dev, "fw")),
			model && model[0] ? model : "-",
			reconnects,
			seen,
			tags,
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

/* Its offload requests and shadow verification. */
static void add_offload(struct edgectl_table *t, json_t *o)
{
	char text[160];

	snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT " requests; verify %" JSON_INTEGER_FORMAT
		 " matches, %" JSON_INTEGER_FORMAT " mismatches%s",
		 json_integer_value(json_object_get(o, "requests")),
		 json_integer_value(json_object_get(o, "matches")),
		 json_integer_value(json_object_get(o, "mismatches")),
		 json_is_true(json_object_get(o, "flagged"))
			 ? " — FLAGGED (edgectl offload mismatches)"
			 : "");
	edgectl_table_add(t, (const char *[]){ "offload", text });
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
	json_object_del(rest, "offload");
	json_object_del(rest, "tags");
	edgectl_table_add_fields(t, "", rest, device_time_field);
	{
		char tags[EDGECTL_TAGS_TEXT];

		tags_text(tags, sizeof tags, json_object_get(r, "tags"), ", ");
		edgectl_table_add(t, (const char *[]){ "tags", tags });
	}
	if (json_is_object(a))
		add_anomalies(t, a);
	if (json_is_object(ota))
		add_ota(t, ota);
	if (json_is_object(json_object_get(r, "offload")))
		add_offload(t, json_object_get(r, "offload"));
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

static int print_tags(json_t *r)
{
	char tags[EDGECTL_TAGS_TEXT];

	tags_text(tags, sizeof tags, json_object_get(r, "tags"), ", ");
	printf("%s tags: %s\n", json_string_value(json_object_get(r, "id")),
	       strcmp(tags, "-") == 0 ? "(none)" : tags);
	return EDGECTL_OK;
}

bool edgectl_tag_valid(const char *t)
{
	size_t len = strlen(t);

	return len >= 1 && len <= 32 &&
	       strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
		       len;
}

/* devices tag|untag ID TAG... */
static int devices_tag(int argc, char **argv, bool add)
{
	const char *pos[2 + 16];
	json_t *args, *tags;
	int npos, rc;

	rc = edgectl_parse_args(argc, argv, devices_usage, NULL, 0, pos,
				(int)(sizeof pos / sizeof pos[0]), &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos < 3) {
		fprintf(stderr, "edgectl devices %s: which node and which tags? (devices %s ID "
			"TAG...)\n", pos[0], pos[0]);
		return EDGECTL_EUSAGE;
	}
	for (int i = 2; i < npos; i++)
		if (!edgectl_tag_valid(pos[i])) {
			fprintf(stderr, "edgectl devices %s: bad tag '%.40s' (1 to 32 of A-Z a-z "
				"0-9 _ . -)\n", pos[0], pos[i]);
			return EDGECTL_EUSAGE;
		}
	tags = json_array();
	for (int i = 2; tags && i < npos; i++)
		if (json_array_append_new(tags, json_string(pos[i])) < 0) {
			json_decref(tags);
			tags = NULL;
		}
	args = tags ? json_pack("{s:s, s:o}", "id", pos[1], "tags", tags) : NULL;
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query(add ? "devices.tag" : "devices.untag", args, print_tags);
	json_decref(args);
	return rc;
}

int edgectl_cmd_devices(int argc, char **argv)
{
	const char *state = NULL, *tag = NULL, *pos[2];
	const struct edgectl_opt opts[] = { { "--state", &state }, { "--tag", &tag } };
	json_t *args;
	bool show;
	int npos, rc;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "remove") == 0)
			return devices_remove(argc, argv);
		if (strcmp(argv[i], "tag") == 0 || strcmp(argv[i], "untag") == 0)
			return devices_tag(argc, argv, strcmp(argv[i], "tag") == 0);
		break;
	}
	rc = edgectl_parse_args(argc, argv, devices_usage, opts, 2, pos, 2, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	show = npos > 0;
	if (show && (strcmp(pos[0], "show") != 0 || npos != 2 || state || tag)) {
		fputs(devices_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	if (state && strcmp(state, "online") != 0 && strcmp(state, "stale") != 0 &&
	    strcmp(state, "offline") != 0 && strcmp(state, "revoked") != 0) {
		fprintf(stderr, "edgectl devices: --state must be online, stale, offline or "
			"revoked\n");
		return EDGECTL_EUSAGE;
	}
	if (tag && !edgectl_tag_valid(tag)) {
		fprintf(stderr, "edgectl devices: --tag: bad tag '%.40s' (1 to 32 of A-Z a-z 0-9 "
			"_ . -)\n", tag);
		return EDGECTL_EUSAGE;
	}
	if (show)
		args = json_pack("{s:s}", "id", pos[1]);
	else
		args = json_pack("{s:s?, s:s?}", "state", state, "tag", tag);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query(show ? "device" : "devices", args, show ? print_one : print_list);
	json_decref(args);
	return rc;
}
