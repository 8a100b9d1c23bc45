/* edgectl devices [--state S] | devices show ID */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "edgectl.h"
#include "table.h"

static const char devices_usage[] =
	"Usage: edgectl devices [--state online|stale|offline] [--json]\n"
	"       edgectl devices show ID [--json]\n"
	"\n"
	"List the nodes known to edged, or every registry field of one node.\n";

/* "2026-11-29 19:20:01" in UTC; "never" for 0. */
static void format_time(char *buf, size_t cap, json_int_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "never");
}

static int print_list(json_t *r)
{
	static const char *const headers[] = { "ID", "STATE", "FIRMWARE", "MODEL", "LAST SEEN (UTC)" };
	struct edgectl_table *t = edgectl_table_new(5, headers);
	json_t *dev;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(json_object_get(r, "devices"), i, dev) {
		char seen[32];

		format_time(seen, sizeof seen, json_integer_value(json_object_get(dev, "last_seen_ms")));
		const char *cells[] = {
			json_string_value(json_object_get(dev, "id")),
			json_string_value(json_object_get(dev, "state")),
			json_string_value(json_object_get(dev, "fw")),
			json_string_value(json_object_get(dev, "model")),
			seen,
		};
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	printf("%zu device(s)\n", json_array_size(json_object_get(r, "devices")));
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static void add_fields(struct edgectl_table *t, const char *prefix, json_t *obj)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		char name[96], text[128];

		snprintf(name, sizeof name, "%s%s", prefix, key);
		if (json_is_object(val)) {
			char sub[sizeof name + 1];

			snprintf(sub, sizeof sub, "%s.", name);
			add_fields(t, sub, val);
			continue;
		}
		if (json_is_string(val)) {
			snprintf(text, sizeof text, "%s", json_string_value(val));
		} else if (json_is_integer(val) && strstr(key, "seen_ms")) {
			/* Shown as a date, so the label loses its unit. */
			name[strlen(name) - 3] = '\0';
			format_time(text, sizeof text, json_integer_value(val));
		} else if (json_is_integer(val)) {
			snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
		} else if (json_is_null(val)) {
			snprintf(text, sizeof text, "-");
		} else {
			snprintf(text, sizeof text, "%s", json_is_true(val) ? "yes" : "no");
		}
		edgectl_table_add(t, (const char *[]){ name, text });
	}
}

static int print_one(json_t *r)
{
	struct edgectl_table *t = edgectl_table_new(2, NULL);
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	add_fields(t, "", r);
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

int edgectl_cmd_devices(int argc, char **argv)
{
	const char *state = NULL, *pos[2];
	const struct edgectl_opt opts[] = { { "--state", &state } };
	json_t *args;
	bool show;
	int npos, rc;

	rc = edgectl_parse_args(argc, argv, devices_usage, opts, 1, pos, 2, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	show = npos > 0;
	if (show && (strcmp(pos[0], "show") != 0 || npos != 2 || state)) {
		fputs(devices_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	if (state && strcmp(state, "online") != 0 && strcmp(state, "stale") != 0 &&
	    strcmp(state, "offline") != 0) {
		fprintf(stderr, "edgectl devices: --state must be online, stale or offline\n");
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
