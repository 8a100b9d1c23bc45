/* edgectl anomalies: the fleet's anomaly history, as edged reads it.
 *
 *   anomalies list [filters] [--min-score X] [--limit N] [--json | --format csv|jsonl]
 *   anomalies stats [--by hour|day|device|label|model] [filters] [--max-groups N]
 *   anomalies episodes [--open] [filters] [--limit N]
 *   anomalies tail [--device ID] [--label L] [--json]
 *
 * An export (--format) and tail are streams: rows are written as their
 * frames arrive and each frame is freed before the next is read, so a
 * million rows need the memory of one frame. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "edge_timespec.h"
#include "edgectl.h"
#include "table.h"

/* edged's largest non-stream page. */
#define LIST_LIMIT_MAX 10000
#define LIST_LIMIT_DEFAULT 100
#define BAR_WIDTH 24
#define MAX_ARGS 64

static const char anomalies_usage[] =
	"Usage: edgectl anomalies list [FILTERS] [--min-score X] [--limit N]\n"
	"                              [--json | --format csv|jsonl]\n"
	"       edgectl anomalies stats [--by hour|day|device|label|model] [FILTERS]\n"
	"                               [--max-groups N] [--json]\n"
	"       edgectl anomalies episodes [--open] [FILTERS] [--limit N] [--json]\n"
	"       edgectl anomalies tail [--device ID] [--label L] [--json]\n"
	"\n"
	"FILTERS: --device ID, --label L, --model M, --since T, --until T\n"
	"(since inclusive, until exclusive). T is a date and time in ISO 8601\n"
	"(2026-12-01, 2026-12-01T10:00, 2026-12-01T10:00:00Z, 2026-12-01T10:00+01:00;\n"
	"UTC when no offset is given), a time ago (30m, -24h, 7d, 2w, 90s) or now.\n"
	"\n"
	"list      events newest first; --limit defaults to 100 (at most 10000).\n"
	"          --format csv|jsonl streams every matching event (a header line,\n"
	"          then one line per event; --limit defaults to all).\n"
	"stats     count and score percentiles per group. Default range: the last\n"
	"          24 h by hour, the last 30 days by day, all time otherwise.\n"
	"episodes  runs of events of one device and label; --open: not closed.\n"
	"tail      prints events as edged stores them, until Ctrl-C.\n"
	"\n"
	"Exit codes: 0 done, 1 edged refused or failed (budget: the query read more\n"
	"rows than anomaly.query_max_rows or ran too long; too_slow: tail could not\n"
	"keep up), 2 bad usage, 3 edged not running, 4 not authorised.\n";

/* ---- options */

struct opts {
	const char *device, *label, *model, *since, *until, *min_score, *limit, *format, *by,
		*max_groups;
	bool open;
};

static int usage_error(const char *fmt_what, const char *value)
{
	fprintf(stderr, "edgectl anomalies: %s%s\n", fmt_what, value ? value : "");
	fputs(anomalies_usage, stderr);
	return EDGECTL_EUSAGE;
}

static int64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses argv[1..] (argv[0] is the verb) with the options `allowed` names
 * (a list like "device label since"; "open" for the flag --open). Returns
 * EDGECTL_OK to go on; with *done set (help printed, or bad usage), the
 * exit code. */
static int parse(int argc, char **argv, const char *allowed, struct opts *o, bool *done)
{
	struct edgectl_opt all[] = {
		{ "--device", &o->device }, { "--label", &o->label },
		{ "--model", &o->model },   { "--since", &o->since },
		{ "--until", &o->until },   { "--min-score", &o->min_score },
		{ "--limit", &o->limit },   { "--format", &o->format },
		{ "--by", &o->by },         { "--max-groups", &o->max_groups },
	};
	struct edgectl_opt opts[sizeof all / sizeof all[0]];
	char *rest[MAX_ARGS], name[48];
	const char *pos[1];
	int nopts = 0, n = 0, npos, rc;

	*done = false;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strstr(allowed, all[i].name + 2))
			opts[nopts++] = all[i];
	if (argc >= MAX_ARGS) {
		*done = true;
		return usage_error("too many arguments", NULL);
	}
	/* Flags are taken out first: the common parser knows options with a
	 * value only. It names rest[0] in its messages. */
	snprintf(name, sizeof name, "anomalies %s", argv[0]);
	rest[n++] = name;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--open") == 0 && strstr(allowed, "open"))
			o->open = true;
		else
			rest[n++] = argv[i];
	}
	rc = edgectl_parse_args(n, rest, anomalies_usage, opts, nopts, pos, 0, &npos);
	if (rc < 0) {
		*done = true;
		return edgectl_parse_exit(rc);
	}
	return EDGECTL_OK;
}

static int put_time(json_t *args, const char *key, const char *text)
{
	const char *why = "";
	int64_t ms;

	if (!text)
		return EDGECTL_OK;
	if (edge_timespec_parse(text, wall_now_ms(), &ms, &why) < 0) {
		fprintf(stderr, "edgectl anomalies: --%s %s: %s\n",
			strcmp(key, "since_ms") == 0 ? "since" : "until", text, why);
		return EDGECTL_EUSAGE;
	}
	json_object_set_new(args, key, json_integer(ms));
	return EDGECTL_OK;
}

static int parse_count(const char *name, const char *text, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v > max) {
		fprintf(stderr, "edgectl anomalies: %s must be an integer 0..%lld, not '%s'\n",
			name, max, text);
		return EDGECTL_EUSAGE;
	}
	*out = v;
	return EDGECTL_OK;
}

/* The filters every query shares, into a new args object (NULL: usage
 * error printed, *rc set). */
static json_t *filter_args(const struct opts *o, int *rc)
{
	json_t *args = json_object();

	*rc = args ? EDGECTL_OK : EDGECTL_EDAEMON;
	if (!args)
		return NULL;
	if (o->device)
		json_object_set_new(args, "device", json_string(o->device));
	if (o->label)
		json_object_set_new(args, "label", json_string(o->label));
	if (o->model)
		json_object_set_new(args, "model", json_string(o->model));
	if ((*rc = put_time(args, "since_ms", o->since)) != EDGECTL_OK ||
	    (*rc = put_time(args, "until_ms", o->until)) != EDGECTL_OK) {
		json_decref(args);
		return NULL;
	}
	return args;
}

/* After a failed query: what the operator can do about a budget refusal. */
static int explain(int rc)
{
	if (rc == EDGECTL_EDAEMON && strcmp(edgectl_last_error_code(), "budget") == 0)
		fprintf(stderr, "edgectl anomalies: the query read more rows (or ran longer) than "
				"edged allows (anomaly.query_max_rows, anomaly.query_max_ms); "
				"narrow it with --since/--until or --device\n");
	return rc;
}

/* ---- formatting */

/* The shortest %g that reads back as the same double. */
static void fmt_real(char *buf, size_t cap, double v)
{
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void fmt_score(char *buf, size_t cap, json_t *v)
{
	if (json_is_number(v))
		snprintf(buf, cap, "%.4g", json_number_value(v));
	else
		snprintf(buf, cap, "-");
}

/* "2026-12-06T12:00:00.123Z" */
static void fmt_iso(char *buf, size_t cap, json_int_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	if (ms < 0 || !gmtime_r(&t, &tm) || !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%s.%03dZ", base, (int)(ms % 1000));
}

/* ---- list */

static int print_list(json_t *r)
{
	static const char *const headers[] = { "TIME (UTC)", "DEVICE", "LABEL",
					       "SCORE/THRESHOLD", "MODEL", "SEVERITY" };
	struct edgectl_table *t = edgectl_table_new(6, headers);
	json_t *ev, *events = json_object_get(r, "events");
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(events, i, ev) {
		char when[32], score[16], thr[16], st[40], sev[16];
		json_t *severity = json_object_get(ev, "severity");

		edgectl_format_time(when, sizeof when,
				    json_integer_value(json_object_get(ev, "ts_ms")), "-");
		fmt_score(score, sizeof score, json_object_get(ev, "score"));
		fmt_score(thr, sizeof thr, json_object_get(ev, "threshold"));
		snprintf(st, sizeof st, "%s/%s", score, thr);
		if (json_is_integer(severity))
			snprintf(sev, sizeof sev, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(severity));
		else
			snprintf(sev, sizeof sev, "-");
		const char *cells[] = { when, edgectl_str_or(ev, "device", "-"), edgectl_str_or(ev, "label", "-"),
					st, edgectl_str_or(ev, "model", "-"), sev };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	printf("%zu event(s)%s\n", json_array_size(events),
	       json_is_true(json_object_get(r, "more"))
		       ? "; more match: narrow the range or raise --limit (--format: all)"
		       : "");
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break; quotes
 * doubled. */
static void csv_field(FILE *out, const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', out);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', out);
			fputc(*s, out);
		}
		fputc('"', out);
	} else {
		fputs(s, out);
	}
	fputc(last ? '\n' : ',', out);
}

static const char *const csv_columns[] = {
	"id", "device", "epoch", "seq", "ts_ms", "time", "received_ms", "time_source", "model",
	"score", "threshold", "label", "severity", "summary",
};
#define CSV_NCOLS (sizeof csv_columns / sizeof csv_columns[0])

static void csv_row(FILE *out, json_t *ev)
{
	for (size_t c = 0; c < CSV_NCOLS; c++) {
		const char *key = csv_columns[c];
		json_t *v = json_object_get(ev, strcmp(key, "time") == 0 ? "ts_ms" : key);
		char buf[48];
		char *dumped = NULL;
		const char *text = "";

		if (strcmp(key, "time") == 0) {
			fmt_iso(buf, sizeof buf, json_integer_value(v));
			text = buf;
		} else if (json_is_string(v)) {
			text = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			text = buf;
		} else if (json_is_real(v)) {
			fmt_real(buf, sizeof buf, json_real_value(v));
			text = buf;
		} else if (v && !json_is_null(v)) {
			/* summary: its JSON text in one (quoted) field; the node sends
			 * 32-bit floats, which 9 digits give exactly. */
			dumped = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(9));
			text = dumped ? dumped : "";
		}
		csv_field(out, text, c + 1 == CSV_NCOLS);
		free(dumped);
	}
}

struct export {
	bool csv, header_done;
	unsigned long long rows;
};

/* Once edged answered: a refused export writes nothing on stdout. */
static void csv_header(struct export *x)
{
	if (!x->csv || x->header_done)
		return;
	for (size_t c = 0; c < CSV_NCOLS; c++)
		csv_field(stdout, csv_columns[c], c + 1 == CSV_NCOLS);
	x->header_done = true;
}

static int export_frame(json_t *result, void *ud)
{
	struct export *x = ud;
	json_t *ev;
	size_t i;

	csv_header(x);
	json_array_foreach(json_object_get(result, "events"), i, ev) {
		if (x->csv)
			csv_row(stdout, ev);
		else if (json_dumpf(ev, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 ||
			 fputc('\n', stdout) == EOF)
			break;
		x->rows++;
	}
	/* A full disk or a closed pipe stops the export now, not at the end. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "edgectl anomalies: cannot write output: %s\n", strerror(errno));
		return EDGECTL_EDAEMON;
	}
	return EDGECTL_OK;
}

/* The nice value of an export (0 = the usual, 19 = the lowest). */
#define EXPORT_NICE 10

static int list_export(json_t *args, bool csv)
{
	struct export x = { .csv = csv };
	json_t *final = NULL;
	int rc;

	json_object_set_new(args, "stream", json_true());
	/* Bulk work on the gateway itself: an export formats rows as fast as
	 * edged sends them, so it yields the board's few cores to edged's
	 * ingest. Best effort: an export at the usual priority is no error. */
	(void)setpriority(PRIO_PROCESS, 0, EXPORT_NICE);
	rc = edgectl_call_stream("anomalies.list", args, false, export_frame, &x, &final);
	if (rc != EDGECTL_OK)
		return explain(rc);
	csv_header(&x); /* an empty export is a header line */
	if ((unsigned long long)json_integer_value(json_object_get(final, "count")) != x.rows) {
		fprintf(stderr, "edgectl anomalies: edged counted %" JSON_INTEGER_FORMAT
				" events, %llu arrived\n",
			json_integer_value(json_object_get(final, "count")), x.rows);
		rc = EDGECTL_EDAEMON;
	} else if (json_is_true(json_object_get(final, "more"))) {
		fprintf(stderr, "edgectl anomalies: stopped at --limit %llu; more events match\n",
			x.rows);
	}
	json_decref(final);
	return rc;
}

static int cmd_list(int argc, char **argv)
{
	struct opts o = { 0 };
	bool done, csv = false, jsonl = false;
	long long limit = -1;
	json_t *args;
	int rc = parse(argc, argv, "device label model since until min-score limit format", &o,
		       &done);

	if (done || rc != EDGECTL_OK)
		return rc;
	if (o.format) {
		csv = strcmp(o.format, "csv") == 0;
		jsonl = strcmp(o.format, "jsonl") == 0;
		if (!csv && !jsonl)
			return usage_error("--format must be csv or jsonl, not ", o.format);
		if (edgectl_globals.json)
			return usage_error("--json and --format exclude each other", NULL);
	}
	if (o.limit && parse_count("--limit", o.limit, o.format ? INT64_MAX : LIST_LIMIT_MAX,
				   &limit) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	if (!o.format && limit == 0)
		return usage_error("--limit 0 (all) needs --format", NULL);
	args = filter_args(&o, &rc);
	if (!args)
		return rc;
	if (o.min_score) {
		char *end;
		double v = strtod(o.min_score, &end);

		if (end == o.min_score || *end || !isfinite(v)) {
			json_decref(args);
			return usage_error("--min-score must be a number, not ", o.min_score);
		}
		json_object_set_new(args, "min_score", json_real(v));
	}
	json_object_set_new(args, "limit",
			    json_integer(limit >= 0 ? limit : o.format ? 0 : LIST_LIMIT_DEFAULT));
	if (o.format)
		rc = list_export(args, csv);
	else
		rc = explain(edgectl_query("anomalies.list", args, print_list));
	json_decref(args);
	return rc;
}

/* ---- stats */

static const char *const spark[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };

static void stat_cells(json_t *s, char cells[6][16])
{
	static const char *const keys[] = { "min", "p50", "p90", "p99", "max" };

	snprintf(cells[0], 16, "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(s, "count")));
	for (int k = 0; k < 5; k++)
		fmt_score(cells[k + 1], 16, json_object_get(s, keys[k]));
}

static int print_stats(json_t *r)
{
	const char *by = json_string_value(json_object_get(r, "by"));
	bool by_time = by && (strcmp(by, "hour") == 0 || strcmp(by, "day") == 0);
	bool by_day = by && strcmp(by, "day") == 0;
	const char *first = by_day ? "DAY (UTC)"
			    : by_time ? "HOUR (UTC)"
			    : by && strcmp(by, "device") == 0 ? "DEVICE"
			    : by && strcmp(by, "model") == 0 ? "MODEL"
							       : "LABEL";
	const char *headers[] = { first, "COUNT", "MIN", "P50", "P90", "P99", "MAX", "" };
	json_t *groups = json_object_get(r, "groups"), *g;
	struct edgectl_table *t;
	json_int_t peak = 0;
	char from[32], to[32], total[6][16];
	size_t i;
	int rc;

	json_array_foreach(groups, i, g)
		if (json_integer_value(json_object_get(g, "count")) > peak)
			peak = json_integer_value(json_object_get(g, "count"));
	t = edgectl_table_new(by_time ? 7 : 8, headers);
	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(groups, i, g) {
		char key[40], c[6][16], bar[BAR_WIDTH * 3 + 1] = "";
		json_int_t n = json_integer_value(json_object_get(g, "count"));

		json_int_t bucket = json_integer_value(json_object_get(g, "bucket_ms"));

		if (by_time)
			edgectl_format_time(key, sizeof key, bucket, "-");
		if (by_day)
			key[strcspn(key, " ")] = '\0'; /* the date alone */
		else if (!by_time)
			snprintf(key, sizeof key, "%s", edgectl_str_or(g, "key", "-"));
		stat_cells(g, c);
		if (!by_time && peak > 0) {
			/* At least one block for any count above 0. */
			json_int_t w = (n * BAR_WIDTH + peak - 1) / peak;

			for (json_int_t b = 0; b < w && b < BAR_WIDTH; b++)
				strcat(bar, "█");
		}
		edgectl_table_add(t, (const char *[]){ key, c[0], c[1], c[2], c[3], c[4], c[5],
						       bar });
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	if (by_time && json_array_size(groups) > 0) {
		/* Counts left to right in time; an empty bucket is a blank. */
		fputs("counts |", stdout);
		json_array_foreach(groups, i, g) {
			json_int_t n = json_integer_value(json_object_get(g, "count"));

			json_int_t level = peak > 1 ? (n - 1) * 7 / (peak - 1) : 7;

			fputs(n <= 0 ? " " : spark[level], stdout);
		}
		printf("| peak %" JSON_INTEGER_FORMAT " per %s\n", peak, by);
	}
	stat_cells(json_object_get(r, "total"), total);
	printf("total %s event(s) in %zu group(s): min %s p50 %s p90 %s p99 %s max %s\n",
	       total[0], json_array_size(groups), total[1], total[2], total[3], total[4],
	       total[5]);
	edgectl_format_time(from, sizeof from, json_integer_value(json_object_get(r, "since_ms")),
			    "the oldest");
	edgectl_format_time(to, sizeof to, json_integer_value(json_object_get(r, "until_ms")),
			    "now");
	printf("source %s, range %s .. %s (UTC)\n", edgectl_str_or(r, "source", "-"), from, to);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static int cmd_stats(int argc, char **argv)
{
	static const char *const bys[] = { "hour", "day", "device", "label", "model" };
	struct opts o = { 0 };
	bool done, known = false;
	long long max_groups = -1;
	json_t *args;
	int rc = parse(argc, argv, "device label model since until by max-groups", &o, &done);

	if (done || rc != EDGECTL_OK)
		return rc;
	if (!o.by)
		o.by = "hour";
	for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++)
		known |= strcmp(o.by, bys[i]) == 0;
	if (!known)
		return usage_error("--by must be hour, day, device, label or model, not ", o.by);
	if (o.max_groups && parse_count("--max-groups", o.max_groups, 100000, &max_groups) !=
				    EDGECTL_OK)
		return EDGECTL_EUSAGE;
	/* Default ranges: a day of hours, a month of days. */
	if (!o.since && strcmp(o.by, "hour") == 0)
		o.since = "24h";
	if (!o.since && strcmp(o.by, "day") == 0)
		o.since = "30d";
	args = filter_args(&o, &rc);
	if (!args)
		return rc;
	json_object_set_new(args, "by", json_string(o.by));
	if (max_groups >= 0)
		json_object_set_new(args, "max_groups", json_integer(max_groups));
	rc = explain(edgectl_query("anomalies.stats", args, print_stats));
	json_decref(args);
	return rc;
}

/* ---- episodes */

static int print_episodes(json_t *r)
{
	static const char *const headers[] = { "ID", "DEVICE", "LABEL", "STATE",
					       "START (UTC)", "END (UTC)", "EVENTS", "PEAK",
					       "MODEL" };
	struct edgectl_table *t = edgectl_table_new(9, headers);
	json_t *ep, *eps = json_object_get(r, "episodes");
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(eps, i, ep) {
		char id[24], start[32], end[32], count[24], peak[16];

		snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(ep, "id")));
		edgectl_format_time(start, sizeof start,
				    json_integer_value(json_object_get(ep, "start_ms")), "-");
		edgectl_format_time(end, sizeof end,
				    json_integer_value(json_object_get(ep, "end_ms")), "-");
		snprintf(count, sizeof count, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(ep, "count")));
		fmt_score(peak, sizeof peak, json_object_get(ep, "peak_score"));
		const char *cells[] = { id, edgectl_str_or(ep, "device", "-"), edgectl_str_or(ep, "label", "-"),
					edgectl_str_or(ep, "state", "-"), start, end, count, peak,
					edgectl_str_or(ep, "model", "-") };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	printf("%zu episode(s)%s\n", json_array_size(eps),
	       json_is_true(json_object_get(r, "more")) ? "; more match: narrow or raise --limit"
							 : "");
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static int cmd_episodes(int argc, char **argv)
{
	struct opts o = { 0 };
	bool done;
	long long limit = LIST_LIMIT_DEFAULT;
	json_t *args;
	int rc = parse(argc, argv, "device label model since until limit open", &o, &done);

	if (done || rc != EDGECTL_OK)
		return rc;
	if (o.limit && parse_count("--limit", o.limit, LIST_LIMIT_MAX, &limit) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	if (limit == 0)
		return usage_error("--limit must be 1 or more", NULL);
	args = filter_args(&o, &rc);
	if (!args)
		return rc;
	if (o.open)
		json_object_set_new(args, "open", json_true());
	json_object_set_new(args, "limit", json_integer(limit));
	rc = explain(edgectl_query("anomalies.episodes", args, print_episodes));
	json_decref(args);
	return rc;
}

/* ---- tail */

static void on_sigint(int sig)
{
	(void)sig;
	edgectl_interrupted = 1;
}

static int tail_frame(json_t *result, void *ud)
{
	json_t *ev;
	size_t i;

	(void)ud;
	if (edgectl_interrupted)
		return EDGECTL_EINTR;
	if (json_is_true(json_object_get(result, "following"))) {
		fputs("edgectl anomalies: following (Ctrl-C to stop)\n", stderr);
		return EDGECTL_OK;
	}
	json_array_foreach(json_object_get(result, "events"), i, ev) {
		if (edgectl_globals.json) {
			if (json_dumpf(ev, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0)
				break;
			fputc('\n', stdout);
		} else {
			char when[32], score[16], thr[16];

			json_int_t ts = json_integer_value(json_object_get(ev, "ts_ms"));

			fmt_iso(when, sizeof when, ts);
			fmt_score(score, sizeof score, json_object_get(ev, "score"));
			fmt_score(thr, sizeof thr, json_object_get(ev, "threshold"));
			printf("%s  %s  %s  %s/%s  %s\n", when, edgectl_str_or(ev, "device", "-"),
			       edgectl_str_or(ev, "label", "-"), score, thr, edgectl_str_or(ev, "model", "-"));
		}
		/* A reader at the other end of a pipe sees each line now. */
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "edgectl anomalies: cannot write output: %s\n",
				strerror(errno));
			return EDGECTL_EDAEMON;
		}
	}
	return EDGECTL_OK;
}

static int cmd_tail(int argc, char **argv)
{
	struct opts o = { 0 };
	struct sigaction sa = { .sa_handler = on_sigint };
	bool done;
	json_t *args, *final = NULL;
	int rc = parse(argc, argv, "device label", &o, &done);

	if (done || rc != EDGECTL_OK)
		return rc;
	args = filter_args(&o, &rc);
	if (!args)
		return rc;
	/* No SA_RESTART: the blocked recv returns and the stream ends quietly. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	rc = edgectl_call_stream("anomalies.tail", args, true, tail_frame, NULL, &final);
	json_decref(args);
	if (rc == EDGECTL_EINTR)
		return EDGECTL_OK;
	if (rc == EDGECTL_EDAEMON && strcmp(edgectl_last_error_code(), "too_slow") == 0)
		fprintf(stderr, "edgectl anomalies: edged dropped this tail: its output was not "
				"read fast enough; filter with --device/--label, or use 'list "
				"--format jsonl' for bulk\n");
	/* edged keeps a dropped follower's answer for a second only: one still
	 * behind then just sees the connection end. */
	if (rc == EDGECTL_EDAEMON && strcmp(edgectl_last_error_code(), "closed") == 0)
		fprintf(stderr, "edgectl anomalies: the tail was cut off: edged drops a tail whose "
				"output is not read fast enough (too_slow), or it stopped\n");
	if (rc == EDGECTL_OK)
		fprintf(stderr, "edgectl anomalies: tail ended (%s)\n",
			edgectl_str_or(final, "ended", "-"));
	json_decref(final);
	return rc;
}

int edgectl_cmd_anomalies(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} verbs[] = {
		{ "list", cmd_list },
		{ "stats", cmd_stats },
		{ "episodes", cmd_episodes },
		{ "tail", cmd_tail },
	};

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(anomalies_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EDGECTL_EUSAGE : EDGECTL_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	return usage_error("unknown subcommand ", argv[1]);
}
