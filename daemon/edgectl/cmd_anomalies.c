/* edgectl anomalies: the fleet's anomaly history, as edged reads it.
 *
 *   anomalies list [filters] [--min-score X] [--limit N] [--json | --format csv|jsonl]
 *   anomalies stats [--by hour|day|device|label|model] [filters] [--max-groups N]
 *   anomalies episodes [--open] [filters] [--limit N]
 *   anomalies tail [--device ID] [--label L] [--json]
 *
 * An export (--format) and tail are streams: rows are written as their
 * frames arrive and each frame is freed before the next is read, so a
 * million rows need the memory of one frame.
 *
 * --central answers list and episodes from the central PostgreSQL instead
 * (every gateway's forwarded history, docs/central.md): the same filters
 * and output, a gateway column and a --gateway filter, keyset pages over
 * the indexes of the central schema. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libpq-fe.h>

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
	"       edgectl anomalies list|stats|episodes ... --central [--gateway ID]\n"
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
	"          --central: exact percentiles of the raw rows; --by gateway, and\n"
	"          --by device groups GATEWAY/DEVICE.\n"
	"episodes  runs of events of one device and label; --open: not closed.\n"
	"tail      prints events as edged stores them, until Ctrl-C.\n"
	"\n"
	"--central list, stats and episodes of every gateway from the central\n"
	"          PostgreSQL (edged need not run), with a GATEWAY column. With it:\n"
	"          --gateway ID     one gateway's rows\n"
	"          --conninfo STR   the database (default: central.conninfo of\n"
	"          --config FILE    FILE, else of the installed edged.conf)\n"
	"          --cursor JSON    list, episodes: the page after the \"cursor\"\n"
	"                           of a --json answer\n"
	"          --explain        PostgreSQL's plan of the query instead of rows\n"
	"\n"
	"Exit codes: 0 done, 1 edged refused or failed (budget: the query read more\n"
	"rows than anomaly.query_max_rows or ran too long; too_slow: tail could not\n"
	"keep up), 2 bad usage, 3 edged not running (--central: the database cannot\n"
	"be reached), 4 not authorised.\n";

/* ---- options */

struct opts {
	const char *device, *label, *model, *since, *until, *min_score, *limit, *format, *by,
		*max_groups;
	bool open;
	/* --central and what only it takes */
	bool central, explain;
	const char *gateway, *conninfo, *config, *cursor;
};

/* --central (defined at the end): list or export events, list episodes
 * from the central database; args holds the parsed filters and limit as
 * for edged. */
static int central_list(const struct opts *o, json_t *args, const char *format);
static int central_episodes(const struct opts *o, json_t *args);
static int central_stats(const struct opts *o, json_t *args);

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
		{ "--gateway", &o->gateway }, { "--conninfo", &o->conninfo },
		{ "--config", &o->config }, { "--cursor", &o->cursor },
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
		else if (strcmp(argv[i], "--central") == 0 && strstr(allowed, "central"))
			o->central = true;
		else if (strcmp(argv[i], "--explain") == 0 && strstr(allowed, "explain"))
			o->explain = true;
		else
			rest[n++] = argv[i];
	}
	rc = edgectl_parse_args(n, rest, anomalies_usage, opts, nopts, pos, 0, &npos);
	if (rc < 0) {
		*done = true;
		return edgectl_parse_exit(rc);
	}
	if (!o->central && (o->gateway || o->conninfo || o->config || o->cursor || o->explain)) {
		*done = true;
		return usage_error("--gateway, --conninfo, --config, --cursor and --explain "
				   "need --central", NULL);
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

/* The rows come from the central database: a GATEWAY column first. */
static bool central_rows;

static int print_list(json_t *r)
{
	static const char *const headers[] = { "GATEWAY", "TIME (UTC)", "DEVICE", "LABEL",
					       "SCORE/THRESHOLD", "MODEL", "SEVERITY" };
	int skip = central_rows ? 0 : 1;
	struct edgectl_table *t = edgectl_table_new(7 - skip, headers + skip);
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
		const char *cells[] = { edgectl_str_or(ev, "gateway", "-"), when,
					edgectl_str_or(ev, "device", "-"), edgectl_str_or(ev, "label", "-"),
					st, edgectl_str_or(ev, "model", "-"), sev };
		edgectl_table_add(t, cells + skip);
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
/* --central: the central key instead of the local row id. */
static const char *const csv_central_columns[] = {
	"gateway", "device", "epoch", "seq", "ts_ms", "time", "received_ms", "time_source", "model",
	"score", "threshold", "label", "severity", "summary", "forwarded_ms",
};
#define CSV_CENTRAL_NCOLS (sizeof csv_central_columns / sizeof csv_central_columns[0])

static void csv_row(FILE *out, json_t *ev, const char *const *cols, size_t ncols)
{
	for (size_t c = 0; c < ncols; c++) {
		const char *key = cols[c];
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
		csv_field(out, text, c + 1 == ncols);
		free(dumped);
	}
}

struct export {
	bool csv, header_done;
	unsigned long long rows;
	const char *const *cols; /* CSV columns */
	size_t ncols;
};

/* Once edged answered: a refused export writes nothing on stdout. */
static void csv_header(struct export *x)
{
	if (!x->csv || x->header_done)
		return;
	for (size_t c = 0; c < x->ncols; c++)
		csv_field(stdout, x->cols[c], c + 1 == x->ncols);
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
			csv_row(stdout, ev, x->cols, x->ncols);
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
	struct export x = { .csv = csv, .cols = csv_columns, .ncols = CSV_NCOLS };
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
	int rc = parse(argc, argv,
		       "device label model since until min-score limit format "
		       "central gateway conninfo config cursor explain",
		       &o, &done);

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
	if (o.central)
		rc = central_list(&o, args, o.format);
	else if (o.format)
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
			    : by && strcmp(by, "gateway") == 0 ? "GATEWAY"
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
		char key[160], c[6][16], bar[BAR_WIDTH * 3 + 1] = "";
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
	int rc = parse(argc, argv,
		       "device label model since until by max-groups "
		       "central gateway conninfo config explain",
		       &o, &done);

	if (done || rc != EDGECTL_OK)
		return rc;
	if (o.cursor)
		return usage_error("stats takes no --cursor", NULL);
	if (!o.by)
		o.by = "hour";
	for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++)
		known |= strcmp(o.by, bys[i]) == 0;
	/* Only the central database has more than one gateway. */
	known |= o.central && strcmp(o.by, "gateway") == 0;
	if (!known)
		return usage_error("--by must be hour, day, device, label or model (--central: "
				   "or gateway), not ",
				   o.by);
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
	if (o.central)
		rc = central_stats(&o, args);
	else
		rc = explain(edgectl_query("anomalies.stats", args, print_stats));
	json_decref(args);
	return rc;
}

/* ---- episodes */

static int print_episodes(json_t *r)
{
	static const char *const headers[] = { "GATEWAY", "ID", "DEVICE", "LABEL", "STATE",
					       "START (UTC)", "END (UTC)", "EVENTS", "PEAK",
					       "MODEL" };
	int skip = central_rows ? 0 : 1;
	struct edgectl_table *t = edgectl_table_new(10 - skip, headers + skip);
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
		const char *cells[] = { edgectl_str_or(ep, "gateway", "-"), id,
					edgectl_str_or(ep, "device", "-"), edgectl_str_or(ep, "label", "-"),
					edgectl_str_or(ep, "state", "-"), start, end, count, peak,
					edgectl_str_or(ep, "model", "-") };
		edgectl_table_add(t, cells + skip);
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
	int rc = parse(argc, argv,
		       "device label model since until limit open "
		       "central gateway conninfo config cursor explain",
		       &o, &done);

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
	if (o.central)
		rc = central_episodes(&o, args);
	else
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

/* ---- --central: the same questions to the central PostgreSQL */

/* Rows per page of a central export: one page in memory at a time. */
#define CENTRAL_PAGE_ROWS 1000
#define CENTRAL_MAX_PARAMS 16

/* One parameterised statement: the text and its $n values (text format;
 * the SQL casts each). Strings are borrowed, numbers formatted in own. */
struct central_query {
	char sql[2048];
	size_t len;
	bool where, overflow;
	int n;
	const char *values[CENTRAL_MAX_PARAMS];
	char own[CENTRAL_MAX_PARAMS][64];
};

static void cq_add(struct central_query *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void cq_add(struct central_query *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (q->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(q->sql + q->len, sizeof q->sql - q->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof q->sql - q->len)
		q->overflow = true;
	else
		q->len += (size_t)n;
}

/* A parameter: its number for $n. */
static int cq_param(struct central_query *q, const char *text)
{
	if (q->n == CENTRAL_MAX_PARAMS) {
		q->overflow = true;
		return 1;
	}
	q->values[q->n] = text;
	return ++q->n;
}

static int cq_param_int(struct central_query *q, long long v)
{
	if (q->n == CENTRAL_MAX_PARAMS) {
		q->overflow = true;
		return 1;
	}
	snprintf(q->own[q->n], sizeof q->own[0], "%lld", v);
	return cq_param(q, q->own[q->n]);
}

static int cq_param_real(struct central_query *q, double v)
{
	if (q->n == CENTRAL_MAX_PARAMS) {
		q->overflow = true;
		return 1;
	}
	snprintf(q->own[q->n], sizeof q->own[0], "%.17g", v);
	return cq_param(q, q->own[q->n]);
}

/* " WHERE cond" the first time, " AND cond" after. */
static void cq_cond(struct central_query *q)
{
	cq_add(q, q->where ? " AND " : " WHERE ");
	q->where = true;
}

/* The filters both lists share: gateway, device, label, model, and the time
 * range on time_col (since inclusive, until exclusive). */
static void cq_filters(struct central_query *q, const struct opts *o, json_t *args,
		       const char *time_col)
{
	json_t *since = json_object_get(args, "since_ms"), *until = json_object_get(args, "until_ms");

	if (o->gateway) {
		cq_cond(q);
		cq_add(q, "gateway = $%d::text", cq_param(q, o->gateway));
	}
	if (o->device) {
		cq_cond(q);
		cq_add(q, "device = $%d::text", cq_param(q, o->device));
	}
	if (o->label) {
		cq_cond(q);
		cq_add(q, "label = $%d::text", cq_param(q, o->label));
	}
	if (o->model) {
		cq_cond(q);
		cq_add(q, "model = $%d::text", cq_param(q, o->model));
	}
	if (json_is_integer(since)) {
		cq_cond(q);
		cq_add(q, "%s >= $%d::bigint", time_col, cq_param_int(q, json_integer_value(since)));
	}
	if (json_is_integer(until)) {
		cq_cond(q);
		cq_add(q, "%s < $%d::bigint", time_col, cq_param_int(q, json_integer_value(until)));
	}
}

/* Keyset paging: rows strictly after the cursor in the list's order
 * (newest first). keys[0] is the time column (bigint), then the tie
 * breakers with their casts; the cursor is a JSON object of them, as the
 * last page's "cursor" gave it. The redundant `time <= $t` keeps the time
 * index usable whatever the planner makes of the row comparison. */
struct cursor_key {
	const char *name;
	bool integer;
};

static void cq_after(struct central_query *q, json_t *cursor, const struct cursor_key *keys,
		     size_t nkeys)
{
	int p[8];

	assert(nkeys > 0 && nkeys <= sizeof p / sizeof p[0] && keys[0].integer);
	if (!cursor || json_is_null(cursor))
		return;
	for (size_t k = 0; k < nkeys; k++) {
		json_t *v = json_object_get(cursor, keys[k].name);
		p[k] = keys[k].integer ? cq_param_int(q, json_integer_value(v))
				       : cq_param(q, json_string_value(v));
	}
	cq_cond(q);
	cq_add(q, "%s <= $%d::bigint AND (", keys[0].name, p[0]);
	for (size_t k = 0; k < nkeys; k++)
		cq_add(q, "%s%s", k ? ", " : "", keys[k].name);
	cq_add(q, ") < (");
	for (size_t k = 0; k < nkeys; k++)
		cq_add(q, "%s$%d::%s", k ? ", " : "", p[k], keys[k].integer ? "bigint" : "text");
	cq_add(q, ")");
}

/* ORDER BY every key descending, and LIMIT. */
static void cq_order(struct central_query *q, const struct cursor_key *keys, size_t nkeys,
		     long long limit)
{
	cq_add(q, " ORDER BY ");
	for (size_t k = 0; k < nkeys; k++)
		cq_add(q, "%s%s DESC", k ? ", " : "", keys[k].name);
	cq_add(q, " LIMIT $%d::bigint", cq_param_int(q, limit));
}

/* The --cursor text: a JSON object with every key of the list's order. */
static int parse_cursor(const char *text, const struct cursor_key *keys, size_t nkeys,
			json_t **out)
{
	json_t *c = json_loads(text, 0, NULL);

	*out = NULL;
	for (size_t k = 0; c && k < nkeys; k++) {
		json_t *v = json_object_get(c, keys[k].name);
		if (keys[k].integer ? !json_is_integer(v) : !json_is_string(v)) {
			json_decref(c);
			c = NULL;
		}
	}
	if (!json_is_object(c)) {
		json_decref(c);
		fprintf(stderr, "edgectl anomalies: --cursor must be the \"cursor\" object of a "
				"--central --json answer of the same command, not '%s'\n", text);
		return EDGECTL_EUSAGE;
	}
	*out = c;
	return EDGECTL_OK;
}

static json_t *cursor_of(json_t *row, const struct cursor_key *keys, size_t nkeys)
{
	json_t *c = json_object();

	for (size_t k = 0; c && k < nkeys; k++)
		if (json_object_set(c, keys[k].name, json_object_get(row, keys[k].name)) < 0) {
			json_decref(c);
			c = NULL;
		}
	return c;
}

/* ---- columns to JSON */

static bool put_col(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

static json_t *col_text(PGresult *r, int row, int col)
{
	return json_string(PQgetvalue(r, row, col));
}

static json_t *col_int(PGresult *r, int row, int col)
{
	return json_integer(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

/* A double; PostgreSQL's NaN and infinities (no JSON for them) are null. */
static json_t *col_real(PGresult *r, int row, int col)
{
	double v = strtod(PQgetvalue(r, row, col), NULL);

	return isfinite(v) ? json_real(v) : json_null();
}

/* real[] in PostgreSQL's text form ("{0.5,-1.25,NaN}") as a JSON array;
 * NULL and non-finite elements are null. */
static json_t *col_real_array(const char *text)
{
	json_t *a = json_array();
	const char *p = text;

	if (!a || *p++ != '{')
		goto bad;
	while (*p && *p != '}') {
		char *end;
		json_t *v;

		if (strncmp(p, "NULL", 4) == 0) {
			v = json_null();
			end = (char *)p + 4;
		} else {
			double d = strtod(p, &end);
			if (end == p)
				goto bad;
			v = isfinite(d) ? json_real(d) : json_null();
		}
		if (json_array_append_new(a, v) < 0)
			goto bad;
		p = end;
		if (*p == ',')
			p++;
		else if (*p != '}')
			goto bad;
	}
	if (*p != '}')
		goto bad;
	return a;
bad:
	json_decref(a);
	return NULL;
}

static const char event_columns_sql[] =
	"SELECT gateway, device, epoch, seq, ts_ms, received_ms, time_source, model, score,"
	" threshold, label, severity, summary, forwarded_ms FROM anomaly_event";
enum {
	EV_GATEWAY, EV_DEVICE, EV_EPOCH, EV_SEQ, EV_TS, EV_RECEIVED, EV_SOURCE, EV_MODEL, EV_SCORE,
	EV_THRESHOLD, EV_LABEL, EV_SEVERITY, EV_SUMMARY, EV_FORWARDED, EV_NCOLS
};
static const struct cursor_key event_keys[] = {
	{ "ts_ms", true }, { "gateway", false }, { "device", false },
	{ "epoch", true }, { "seq", true },
};
#define EVENT_NKEYS (sizeof event_keys / sizeof event_keys[0])

/* The local list's event fields, with gateway and forwarded_ms for id. */
static json_t *event_json(PGresult *r, int i)
{
	json_t *o = json_object();
	bool ok = o && put_col(o, "gateway", col_text(r, i, EV_GATEWAY)) &&
		  put_col(o, "device", col_text(r, i, EV_DEVICE)) &&
		  put_col(o, "epoch", col_int(r, i, EV_EPOCH)) &&
		  put_col(o, "seq", col_int(r, i, EV_SEQ)) &&
		  put_col(o, "ts_ms", col_int(r, i, EV_TS)) &&
		  put_col(o, "received_ms", col_int(r, i, EV_RECEIVED)) &&
		  put_col(o, "time_source", col_text(r, i, EV_SOURCE)) &&
		  put_col(o, "model", col_text(r, i, EV_MODEL)) &&
		  put_col(o, "score", col_real(r, i, EV_SCORE)) &&
		  put_col(o, "threshold", col_real(r, i, EV_THRESHOLD)) &&
		  put_col(o, "label", col_text(r, i, EV_LABEL));

	if (ok && !PQgetisnull(r, i, EV_SEVERITY))
		ok = put_col(o, "severity", col_int(r, i, EV_SEVERITY));
	if (ok && !PQgetisnull(r, i, EV_SUMMARY)) {
		/* A summary that does not parse is left out, as edged does. */
		json_t *s = col_real_array(PQgetvalue(r, i, EV_SUMMARY));
		if (s)
			ok = put_col(o, "summary", s);
	}
	if (ok)
		ok = put_col(o, "forwarded_ms", col_int(r, i, EV_FORWARDED));
	if (ok)
		return o;
	json_decref(o);
	return NULL;
}

static const char episode_columns_sql[] =
	"SELECT gateway, store_uid, id, device, label, model, state, start_ms, end_ms, count,"
	" peak_score, confirmed_ms, closed_ms, rev FROM anomaly_episode";
enum {
	EP_GATEWAY, EP_STORE, EP_ID, EP_DEVICE, EP_LABEL, EP_MODEL, EP_STATE, EP_START, EP_END,
	EP_COUNT, EP_PEAK, EP_CONFIRMED, EP_CLOSED, EP_REV, EP_NCOLS
};
static const struct cursor_key episode_keys[] = {
	{ "start_ms", true }, { "gateway", false }, { "store_uid", false }, { "id", true },
};
#define EPISODE_NKEYS (sizeof episode_keys / sizeof episode_keys[0])

static json_t *episode_json(PGresult *r, int i)
{
	json_t *o = json_object();
	bool ok = o && put_col(o, "gateway", col_text(r, i, EP_GATEWAY)) &&
		  put_col(o, "store_uid", col_text(r, i, EP_STORE)) &&
		  put_col(o, "id", col_int(r, i, EP_ID)) &&
		  put_col(o, "device", col_text(r, i, EP_DEVICE)) &&
		  put_col(o, "label", col_text(r, i, EP_LABEL)) &&
		  put_col(o, "model", col_text(r, i, EP_MODEL)) &&
		  put_col(o, "state", col_text(r, i, EP_STATE)) &&
		  put_col(o, "start_ms", col_int(r, i, EP_START)) &&
		  put_col(o, "end_ms", col_int(r, i, EP_END)) &&
		  put_col(o, "count", col_int(r, i, EP_COUNT)) &&
		  put_col(o, "peak_score", col_real(r, i, EP_PEAK)) &&
		  put_col(o, "confirmed_ms", PQgetisnull(r, i, EP_CONFIRMED)
						     ? json_null()
						     : col_int(r, i, EP_CONFIRMED)) &&
		  put_col(o, "closed_ms", PQgetisnull(r, i, EP_CLOSED) ? json_null()
									: col_int(r, i, EP_CLOSED)) &&
		  put_col(o, "rev", col_int(r, i, EP_REV));

	if (ok)
		return o;
	json_decref(o);
	return NULL;
}

/* ---- running them */

static int central_fail(PGconn *pg, const char *what)
{
	char msg[512];

	snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
	msg[strcspn(msg, "\n")] = '\0';
	fprintf(stderr, "edgectl anomalies: %s: %s\n", what, msg);
	return EDGECTL_EDAEMON;
}

static PGresult *central_exec(PGconn *pg, const struct central_query *q, int ncols)
{
	PGresult *r;

	/* Our own text, bounded by the options: never near the buffer. */
	assert(!q->overflow);
	r = PQexecParams(pg, q->sql, q->n, NULL, q->values, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQnfields(r) == ncols)
		return r;
	central_fail(pg, "central query");
	PQclear(r);
	return NULL;
}

/* --explain: PostgreSQL's plan of the query, one line each. */
static int central_explain(PGconn *pg, const struct central_query *q)
{
	struct central_query e = *q;
	PGresult *r;

	int n = snprintf(e.sql, sizeof e.sql, "EXPLAIN %s", q->sql);
	assert(n > 0 && (size_t)n < sizeof e.sql);
	/* Numbers point into q->own: e uses its own copy of them. */
	for (int i = 0; i < e.n; i++)
		if (q->values[i] == q->own[i])
			e.values[i] = e.own[i];
	r = PQexecParams(pg, e.sql, e.n, NULL, e.values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		int rc = central_fail(pg, "EXPLAIN");
		PQclear(r);
		return rc;
	}
	for (int i = 0; i < PQntuples(r); i++)
		printf("%s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	return EDGECTL_OK;
}

/* The events query of one page: up to `rows` + 1 rows after cursor (the
 * one beyond tells whether more match). */
static void events_query(struct central_query *q, const struct opts *o, json_t *args,
			 json_t *cursor, long long rows)
{
	json_t *min = json_object_get(args, "min_score");

	memset(q, 0, sizeof *q);
	cq_add(q, "%s", event_columns_sql);
	cq_filters(q, o, args, "ts_ms");
	if (json_is_number(min)) {
		cq_cond(q);
		cq_add(q, "score >= $%d::float8", cq_param_real(q, json_number_value(min)));
	}
	cq_after(q, cursor, event_keys, EVENT_NKEYS);
	cq_order(q, event_keys, EVENT_NKEYS, rows + 1);
}

static void episodes_query(struct central_query *q, const struct opts *o, json_t *args,
			   json_t *cursor, long long rows)
{
	memset(q, 0, sizeof *q);
	cq_add(q, "%s", episode_columns_sql);
	cq_filters(q, o, args, "start_ms");
	if (json_is_true(json_object_get(args, "open"))) {
		cq_cond(q);
		cq_add(q, "state <> 'closed'");
	}
	cq_after(q, cursor, episode_keys, EPISODE_NKEYS);
	cq_order(q, episode_keys, EPISODE_NKEYS, rows + 1);
}

/* One page as the local answer's shape: {"events"|"episodes": [...],
 * "count", "more", "cursor"} (cursor: the last row's keys, null when
 * empty). NULL on ENOMEM. */
static json_t *central_page(PGresult *r, long long rows, const char *what,
			    json_t *(*to_json)(PGresult *, int), const struct cursor_key *keys,
			    size_t nkeys)
{
	json_t *page = json_object(), *arr = json_array(), *last = NULL;
	int n = PQntuples(r) > rows ? (int)rows : PQntuples(r);
	bool ok = page && arr;

	for (int i = 0; ok && i < n; i++) {
		json_t *row = to_json(r, i);
		ok = row && json_array_append_new(arr, row) == 0;
		last = row;
	}
	json_t *cursor = ok && last ? cursor_of(last, keys, nkeys) : json_null();
	if (ok && cursor && json_object_set_new(page, what, arr) == 0) {
		arr = NULL;
		ok = json_object_set_new(page, "count", json_integer(n)) == 0 &&
		     json_object_set_new(page, "more", json_boolean(PQntuples(r) > rows)) == 0 &&
		     json_object_set_new(page, "cursor", cursor) == 0;
		cursor = NULL;
		if (ok)
			return page;
	}
	json_decref(cursor);
	json_decref(arr);
	json_decref(page);
	return NULL;
}

static int central_print(json_t *page, int (*print)(json_t *))
{
	if (edgectl_globals.json)
		return edgectl_print_json(page);
	central_rows = true;
	return print(page);
}

/* Rows per query of an export: a page, or what --limit leaves. */
static long long export_page_rows(long long limit, unsigned long long done)
{
	if (limit > 0 && limit - (long long)done < CENTRAL_PAGE_ROWS)
		return limit - (long long)done;
	return CENTRAL_PAGE_ROWS;
}

/* --format: every matching event (up to --limit, 0 = all) after cursor
 * (NULL: from the newest; the reference is taken) in pages of
 * CENTRAL_PAGE_ROWS, each freed before the next is read. */
static int central_export(PGconn *pg, const struct opts *o, json_t *args, json_t *cursor,
			  bool csv)
{
	struct export x = { .csv = csv, .cols = csv_central_columns, .ncols = CSV_CENTRAL_NCOLS };
	long long limit = json_integer_value(json_object_get(args, "limit"));
	bool more = true;
	int rc = EDGECTL_OK;

	(void)setpriority(PRIO_PROCESS, 0, EXPORT_NICE);
	/* Each page moves the cursor strictly back in the list's order or
	 * ends the loop: at most (matching rows / page) + 1 rounds. */
	while (more && rc == EDGECTL_OK && (limit == 0 || (long long)x.rows < limit)) {
		long long rows = export_page_rows(limit, x.rows);
		struct central_query q;
		PGresult *r;
		json_t *page;

		events_query(&q, o, args, cursor, rows);
		r = central_exec(pg, &q, EV_NCOLS);
		if (!r) {
			rc = EDGECTL_EDAEMON;
			break;
		}
		page = central_page(r, rows, "events", event_json, event_keys, EVENT_NKEYS);
		PQclear(r);
		if (!page) {
			rc = EDGECTL_EDAEMON;
			break;
		}
		more = json_is_true(json_object_get(page, "more"));
		json_decref(cursor);
		cursor = json_incref(json_object_get(page, "cursor"));
		rc = export_frame(page, &x);
		json_decref(page);
	}
	json_decref(cursor);
	if (rc != EDGECTL_OK)
		return rc;
	csv_header(&x); /* an empty export is a header line */
	if (more)
		fprintf(stderr, "edgectl anomalies: stopped at --limit %llu; more events match\n",
			x.rows);
	return EDGECTL_OK;
}

/* The start of a paged --central command: --cursor read against keys
 * (*cursor NULL without one), then the connection. EDGECTL_OK, or the
 * status to exit with (nothing left open). */
static int central_begin(const struct opts *o, const struct cursor_key *keys, size_t nkeys,
			 json_t **cursor, PGconn **pg)
{
	int rc;

	*cursor = NULL;
	if (o->cursor && (rc = parse_cursor(o->cursor, keys, nkeys, cursor)) != EDGECTL_OK)
		return rc;
	rc = edgectl_central_connect(o->conninfo, o->config, true, pg);
	if (rc != EDGECTL_OK) {
		json_decref(*cursor);
		*cursor = NULL;
	}
	return rc;
}

/* Runs q and prints its rows as one keyset page named what. */
static int central_page_print(PGconn *pg, const struct central_query *q, int ncols,
			      long long limit, const char *what,
			      json_t *(*to_json)(PGresult *, int), const struct cursor_key *keys,
			      size_t nkeys, int (*print)(json_t *))
{
	PGresult *r = central_exec(pg, q, ncols);
	json_t *page = r ? central_page(r, limit, what, to_json, keys, nkeys) : NULL;
	int rc;

	PQclear(r);
	rc = page ? central_print(page, print) : EDGECTL_EDAEMON;
	json_decref(page);
	return rc;
}

static int central_list(const struct opts *o, json_t *args, const char *format)
{
	long long limit = json_integer_value(json_object_get(args, "limit"));
	struct central_query q;
	json_t *cursor;
	PGconn *pg;
	int rc;

	rc = central_begin(o, event_keys, EVENT_NKEYS, &cursor, &pg);
	if (rc != EDGECTL_OK)
		return rc;
	if (o->explain) {
		events_query(&q, o, args, cursor, format ? export_page_rows(limit, 0) : limit);
		rc = central_explain(pg, &q);
	} else if (format) {
		rc = central_export(pg, o, args, cursor, strcmp(format, "csv") == 0);
		cursor = NULL;
	} else {
		events_query(&q, o, args, cursor, limit);
		rc = central_page_print(pg, &q, EV_NCOLS, limit, "events", event_json, event_keys,
					EVENT_NKEYS, print_list);
	}
	json_decref(cursor);
	PQfinish(pg);
	return rc;
}

static int central_episodes(const struct opts *o, json_t *args)
{
	long long limit = json_integer_value(json_object_get(args, "limit"));
	struct central_query q;
	json_t *cursor;
	PGconn *pg;
	int rc;

	rc = central_begin(o, episode_keys, EPISODE_NKEYS, &cursor, &pg);
	if (rc != EDGECTL_OK)
		return rc;
	episodes_query(&q, o, args, cursor, limit);
	if (o->explain)
		rc = central_explain(pg, &q);
	else
		rc = central_page_print(pg, &q, EP_NCOLS, limit, "episodes", episode_json,
					episode_keys, EPISODE_NKEYS, print_episodes);
	json_decref(cursor);
	PQfinish(pg);
	return rc;
}

/* ---- stats --central: exact, from the raw rows */

#define STATS_GROUPS_DEFAULT 1000
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

enum { ST_KEY, ST_COUNT, ST_MIN, ST_MAX, ST_MEAN, ST_P50, ST_P90, ST_P99, ST_NCOLS };

/* The aggregates after the key column, in ST_ order. */
static const char stats_aggregates_sql[] =
	"count(*), min(score), max(score), avg(score),"
	" percentile_cont(0.5) WITHIN GROUP (ORDER BY score),"
	" percentile_cont(0.9) WITHIN GROUP (ORDER BY score),"
	" percentile_cont(0.99) WITHIN GROUP (ORDER BY score) FROM anomaly_event";

/* One group as edged answers it: bucket_ms (by time) or key, count, and the
 * score statistics when count > 0. */
static json_t *stat_json(PGresult *r, int i, bool by_time, long long bucket)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	long long n = r ? strtoll(PQgetvalue(r, i, ST_COUNT), NULL, 10) : 0;

	if (ok && by_time)
		ok = put_col(o, "bucket_ms", json_integer(bucket));
	else if (ok)
		ok = put_col(o, "key", r ? col_text(r, i, ST_KEY) : json_string(""));
	if (ok)
		ok = put_col(o, "count", json_integer(n));
	if (ok && n > 0)
		ok = put_col(o, "min", col_real(r, i, ST_MIN)) &&
		     put_col(o, "max", col_real(r, i, ST_MAX)) &&
		     put_col(o, "mean", col_real(r, i, ST_MEAN)) &&
		     put_col(o, "p50", col_real(r, i, ST_P50)) &&
		     put_col(o, "p90", col_real(r, i, ST_P90)) &&
		     put_col(o, "p99", col_real(r, i, ST_P99));
	if (ok)
		return o;
	json_decref(o);
	return NULL;
}

static int central_stats(const struct opts *o, json_t *args)
{
	const char *by = json_string_value(json_object_get(args, "by"));
	json_t *mg = json_object_get(args, "max_groups");
	long long max_groups = json_is_integer(mg) ? json_integer_value(mg) : STATS_GROUPS_DEFAULT;
	bool by_hour = strcmp(by, "hour") == 0, by_day = strcmp(by, "day") == 0;
	bool by_time = by_hour || by_day;
	long long step = by_day ? DAY_MS : HOUR_MS;
	struct central_query q, total;
	char key[64];
	PGconn *pg;
	int rc;

	/* Device ids are unique within a gateway only: a device's group is
	 * GATEWAY/DEVICE. Time buckets are UTC hours and days (ts_ms >= 0). */
	if (by_time)
		snprintf(key, sizeof key, "(ts_ms / %lld) * %lld", step, step);
	else
		snprintf(key, sizeof key, "%s",
			 strcmp(by, "device") == 0 ? "gateway || '/' || device" : by);
	memset(&q, 0, sizeof q);
	cq_add(&q, "SELECT %s, %s", key, stats_aggregates_sql);
	cq_filters(&q, o, args, "ts_ms");
	cq_add(&q, " GROUP BY 1 ORDER BY %s LIMIT $%d::bigint", by_time ? "1" : "2 DESC, 1",
	       cq_param_int(&q, max_groups));
	memset(&total, 0, sizeof total);
	cq_add(&total, "SELECT '', %s", stats_aggregates_sql);
	cq_filters(&total, o, args, "ts_ms");

	rc = edgectl_central_connect(o->conninfo, o->config, true, &pg);
	if (rc != EDGECTL_OK)
		return rc;
	if (o->explain) {
		rc = central_explain(pg, &q);
		PQfinish(pg);
		return rc;
	}
	PGresult *groups = central_exec(pg, &q, ST_NCOLS);
	PGresult *sum = groups ? central_exec(pg, &total, ST_NCOLS) : NULL;
	json_t *res = json_object(), *arr = json_array(), *t = NULL;
	bool ok = groups && sum && res && arr;

	/* Time buckets in order with the empty ones between (count 0), as
	 * edged answers; bounded by max_groups entries in all. */
	long long next = 0;
	for (int i = 0; ok && i < PQntuples(groups); i++) {
		long long bucket = by_time ? strtoll(PQgetvalue(groups, i, ST_KEY), NULL, 10) : 0;
		for (; ok && by_time && i > 0 && next < bucket &&
		       (long long)json_array_size(arr) < max_groups;
		     next += step)
			ok = json_array_append_new(arr, stat_json(NULL, 0, true, next)) == 0;
		if (ok && (long long)json_array_size(arr) < max_groups)
			ok = json_array_append_new(arr, stat_json(groups, i, by_time, bucket)) == 0;
		next = bucket + step;
	}
	if (ok)
		t = stat_json(sum, 0, false, 0);
	json_t *since = json_object_get(args, "since_ms"), *until = json_object_get(args, "until_ms");
	ok = ok && t && json_object_set_new(res, "by", json_string(by)) == 0 &&
	     json_object_set_new(res, "source", json_string("central")) == 0 &&
	     json_object_set_new(res, "since_ms",
				 json_integer(json_is_integer(since) ? json_integer_value(since)
								      : 0)) == 0 &&
	     json_object_set_new(res, "until_ms",
				 json_integer(json_is_integer(until) ? json_integer_value(until)
								      : 0)) == 0 &&
	     json_object_set_new(res, "groups", arr) == 0;
	if (ok) {
		arr = NULL;
		ok = json_object_set_new(res, "total", t) == 0;
		t = NULL;
	}
	rc = !ok ? EDGECTL_EDAEMON : edgectl_globals.json ? edgectl_print_json(res) : print_stats(res);
	json_decref(t);
	json_decref(arr);
	json_decref(res);
	PQclear(groups);
	PQclear(sum);
	PQfinish(pg);
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
