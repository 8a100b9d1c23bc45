/* edgectl ota: deliver a stored model to nodes and follow the transfers.
 *
 *   ota send REF --to ID[,ID...]|all|tag:TAG [--no-campaign] [--chunk-size N]
 *            [--window N] [--wait]
 *   ota status [ID] [--transfer N]
 *   ota cancel N [--device ID]
 *
 * edged does the work (proto/ota/transfer.md); this is its view. --wait
 * polls ota.status: edged keeps every open transfer and the last 32
 * finished ones in memory, so polling costs it no database read. */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "edge_ota_transfer.h"
#include "edge_topic.h"
#include "edgectl.h"
#include "table.h"

#define BAR_WIDTH 20
#define WAIT_POLL_MS 500
#define MAX_ARGS 64

static const char ota_usage[] =
	"Usage: edgectl ota send REF --to ID[,ID...]|all|tag:TAG [--no-campaign]\n"
	"                        [--chunk-size N] [--window N] [--wait] [--json]\n"
	"       edgectl ota status [ID] [--transfer N] [--json]\n"
	"       edgectl ota cancel N [--device ID] [--json]\n"
	"\n"
	"Send a model stored by edged ('edgectl models') to nodes over MQTT, and\n"
	"follow or stop the transfer.\n"
	"\n"
	"send    offers model REF (see 'edgectl models --help') to the listed nodes,\n"
	"        to every registered node with --to all, or to every node tagged TAG\n"
	"        ('edgectl devices tag') with --to tag:TAG. Nodes that are unknown,\n"
	"        revoked, already in another transfer, or that cannot run the model\n"
	"        ('edgectl models fit REF') are skipped with the reason; offline ones\n"
	"        are kept and served when they come back. More than one node: each\n"
	"        chunk is published once for all (campaign) unless --no-campaign.\n"
	"        --chunk-size 64..16384 and --window 1..256 override ota.chunk_size\n"
	"        and ota.window. --wait follows the transfer (every 0.5 s) until\n"
	"        every node ended; exit 0 only if every node activated the model.\n"
	"        With --json, --wait prints the final ota.status answer after the\n"
	"        send answer. Ctrl-C stops waiting, not the transfer (exit 130).\n"
	"status  the open transfers and the last 32 finished ones, newest first: per\n"
	"        node its state, progress, bytes held, rate, retransmissions and\n"
	"        the reason of its last stall, refusal or end. ID: only the rows of\n"
	"        that node; --transfer N: only transfer N.\n"
	"cancel  stops transfer N on every node still in it, or on node ID only.\n"
	"\n"
	"Node states: offered, receiving, verifying (every chunk held, waiting for\n"
	"the node's self-test), stalled (offline or silent; offered again later),\n"
	"then activated, reverted (self-test failed: the previous model runs),\n"
	"failed, denied or cancelled.\n"
	"\n"
	"Exit codes: 0 done (--wait: every node activated), 1 refused or failed\n"
	"(no_target, busy, not_found, no_trust, ...; --wait: a node did not\n"
	"activate), 2 bad usage, 3 edged not running, 4 not authorised (send and\n"
	"cancel need the admin role), 130 --wait interrupted.\n";

__attribute__((format(printf, 2, 3))) static int usage_error(const char *verb,
								 const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgectl ota %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EDGECTL_EUSAGE;
}

/* A decimal integer in [min, max], all of text. */
static bool parse_uint(const char *text, unsigned long long min, unsigned long long max,
		       unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (text[0] < '0' || text[0] > '9')
		return false; /* strtoull would take "-1" and " 1" */
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_transfer(const char *verb, const char *text, json_int_t *out)
{
	unsigned long long v;

	if (!parse_uint(text, 1, UINT32_MAX, &v))
		return usage_error(verb, "a transfer is a number 1..4294967295, not '%s'", text);
	*out = (json_int_t)v;
	return EDGECTL_OK;
}

/* Takes the flags out of argv (the common parser knows options with a
 * value only): rest gets the other arguments, rest[0] named for messages. */
static int split_flags(int argc, char **argv, const char *const *flags, bool *set, char **rest,
		       int *nrest, char *name, size_t name_cap)
{
	if (argc >= MAX_ARGS) {
		fprintf(stderr, "edgectl ota: too many arguments\n");
		return EDGECTL_EUSAGE;
	}
	snprintf(name, name_cap, "ota %s", argv[0]);
	*nrest = 0;
	rest[(*nrest)++] = name;
	for (int i = 1; i < argc; i++) {
		bool flag = false;

		for (int f = 0; flags && flags[f]; f++)
			if (strcmp(argv[i], flags[f]) == 0)
				flag = set[f] = true;
		if (!flag)
			rest[(*nrest)++] = argv[i];
	}
	return EDGECTL_OK;
}

/* ---- the status view */

static void format_bar(char *buf, size_t cap, json_int_t held, json_int_t n)
{
	char bar[BAR_WIDTH + 1];
	json_int_t fill, pct;

	if (n <= 0) {
		snprintf(buf, cap, "-");
		return;
	}
	if (held < 0)
		held = 0;
	if (held > n)
		held = n;
	/* Floor: 100% and a full bar only when every chunk is held. */
	fill = held * BAR_WIDTH / n;
	pct = held * 100 / n;
	assert(fill >= 0 && fill <= BAR_WIDTH && pct <= 100);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '-', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = '\0';
	snprintf(buf, cap, "[%s] %3d%%", bar, (int)pct);
}

static void format_reason(char *buf, size_t cap, json_t *node)
{
	const char *reason = edgectl_str_or(node, "reason", NULL);
	const char *detail = edgectl_str_or(node, "detail", NULL);

	if (reason && strcmp(reason, "ok") == 0)
		reason = NULL;
	if (reason && detail)
		snprintf(buf, cap, "%s: %s", reason, detail);
	else
		snprintf(buf, cap, "%s", reason ? reason : detail ? detail : "-");
}

static int print_nodes(FILE *out, json_t *nodes)
{
	static const char *const headers[] = { "ID",   "STATE", "PROGRESS", "BYTES",
					       "RATE", "RETX",  "REASON" };
	struct edgectl_table *t = edgectl_table_new(7, headers);
	json_t *n;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(nodes, i, n) {
		char bar[BAR_WIDTH + 16], bytes[32], rate[40], retx[24], reason[200];
		json_int_t bps = edgectl_int(n, "rate_bps");

		format_bar(bar, sizeof bar, edgectl_int(n, "chunks_held"), edgectl_int(n, "n_chunks"));
		edgectl_format_bytes(bytes, sizeof bytes, edgectl_int(n, "bytes_held"));
		if (bps > 0) {
			edgectl_format_bytes(rate, sizeof rate - 2, bps);
			strcat(rate, "/s");
		} else {
			snprintf(rate, sizeof rate, "-");
		}
		snprintf(retx, sizeof retx, "%" JSON_INTEGER_FORMAT, edgectl_int(n, "retransmits"));
		format_reason(reason, sizeof reason, n);
		const char *cells[] = { edgectl_str_or(n, "id", "?"), edgectl_str_or(n, "state", "?"), bar, bytes,
					rate, retx, reason };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, out);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* One transfer: a header line, its counts and traffic, a table of nodes. */
static int print_transfer(FILE *out, json_t *tr)
{
	json_t *m = json_object_get(tr, "model"), *counts = json_object_get(tr, "counts");
	const char *state, *key;
	json_t *v;
	char when[32], chunk[32], cb[32], ub[32];
	bool first = true;

	state = edgectl_str_or(tr, "state", "?");
	edgectl_format_bytes(chunk, sizeof chunk, edgectl_int(tr, "chunk_size"));
	fprintf(out,
		"transfer %" JSON_INTEGER_FORMAT ": %s@%s %s, %" JSON_INTEGER_FORMAT
		" chunks of %s%s",
		edgectl_int(tr, "transfer"), edgectl_str_or(m, "name", "?"), edgectl_str_or(m, "version", "?"), state,
		edgectl_int(tr, "n_chunks"), chunk,
		json_is_true(json_object_get(tr, "campaign")) ? ", campaign" : "");
	edgectl_format_time(when, sizeof when, edgectl_int(tr, "created_ms"), "-");
	fprintf(out, ", created %s", when);
	if (edgectl_int(tr, "finished_ms") > 0) {
		edgectl_format_time(when, sizeof when, edgectl_int(tr, "finished_ms"), "-");
		fprintf(out, ", ended %s", when);
	}
	fputs(" UTC\n  nodes:", out);
	json_object_foreach(counts, key, v) {
		if (json_integer_value(v) <= 0)
			continue;
		fprintf(out, "%s %" JSON_INTEGER_FORMAT " %s", first ? "" : ",",
			json_integer_value(v), key);
		first = false;
	}
	if (first)
		fputs(" none", out);
	json_t *s = json_object_get(tr, "stats");

	edgectl_format_bytes(cb, sizeof cb, edgectl_int(s, "campaign_bytes"));
	edgectl_format_bytes(ub, sizeof ub, edgectl_int(s, "unicast_bytes"));
	fprintf(out,
		"; sent %" JSON_INTEGER_FORMAT " campaign chunks (%s), %" JSON_INTEGER_FORMAT
		" unicast (%s), %" JSON_INTEGER_FORMAT " retransmitted, %" JSON_INTEGER_FORMAT
		" offers\n",
		edgectl_int(s, "campaign_chunks"), cb, edgectl_int(s, "unicast_chunks"), ub,
		edgectl_int(s, "retransmits"), edgectl_int(s, "offers"));
	return print_nodes(out, json_object_get(tr, "nodes"));
}

static int print_status(json_t *r)
{
	json_t *tr, *list = json_object_get(r, "transfers");
	size_t i;

	if (json_array_size(list) == 0) {
		puts("no transfers");
		return EDGECTL_OK;
	}
	json_array_foreach(list, i, tr) {
		if (i > 0)
			putchar('\n');
		if (print_transfer(stdout, tr) != EDGECTL_OK)
			return EDGECTL_EDAEMON;
	}
	return EDGECTL_OK;
}

/* ---- send --wait */

static void on_sigint(int sig)
{
	(void)sig;
	edgectl_interrupted = 1;
}

/* Sleeps ms unless a SIGINT arrives: false then. */
static bool pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (!edgectl_interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return !edgectl_interrupted;
}

static json_t *find_transfer(json_t *status, json_int_t id)
{
	json_t *tr;
	size_t i;

	json_array_foreach(json_object_get(status, "transfers"), i, tr)
		if (edgectl_int(tr, "transfer") == id)
			return tr;
	return NULL;
}

/* Not a terminal: one line per node state change, so a log shows the
 * course of the transfer. seen maps id → last state printed. */
static void log_changes(json_t *tr, json_t *seen)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(tr, "nodes"), i, n) {
		const char *id = edgectl_str_or(n, "id", NULL), *state = edgectl_str_or(n, "state", "?");
		const char *before = json_string_value(json_object_get(seen, id ? id : ""));
		char reason[200];

		if (!id || (before && strcmp(before, state) == 0))
			continue;
		format_reason(reason, sizeof reason, n);
		printf("%s %s%s%s\n", id, state, strcmp(reason, "-") ? " " : "",
		       strcmp(reason, "-") ? reason : "");
		json_object_set_new(seen, id, json_string(state));
	}
	fflush(stdout);
}

/* A terminal: the view redrawn in place (cursor up over the last one).
 * *lines: rows drawn last time; -1 (nothing drawn) when the view is taller
 * than the terminal: the caller logs changes instead. */
static int redraw(json_t *tr, int *lines)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct winsize ws;
	bool known = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0;
	size_t cols = known && ws.ws_col > 0 ? ws.ws_col : 80;
	int rows = known && ws.ws_row > 0 ? ws.ws_row : 24, rc, n = 0;

	if (!mem)
		return EDGECTL_EDAEMON;
	rc = print_transfer(mem, tr);
	if (fclose(mem) != 0 || rc != EDGECTL_OK) {
		free(buf);
		return EDGECTL_EDAEMON;
	}
	/* Rows on screen: a line wider than the terminal wraps (the view is
	 * ASCII but for node ids, which are too). */
	for (size_t i = 0, col = 0; i < len; i++) {
		if (buf[i] != '\n') {
			col++;
			continue;
		}
		n += col > cols ? (int)((col + cols - 1) / cols) : 1;
		col = 0;
	}
	if (*lines > 0)
		printf("\033[%dA\033[J", *lines);
	if (n >= rows) {
		/* Taller than the screen: the cursor cannot go back over it. */
		free(buf);
		*lines = -1;
		return EDGECTL_OK;
	}
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
	free(buf);
	*lines = n;
	return EDGECTL_OK;
}

static int wait_transfer(json_int_t id)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	bool tty = !edgectl_globals.json && isatty(STDOUT_FILENO);
	json_t *args = json_pack("{s:I}", "transfer", id), *seen = json_object(), *last = NULL;
	int rc = EDGECTL_OK, lines = 0;

	if (!args || !seen) {
		json_decref(args);
		json_decref(seen);
		return EDGECTL_EDAEMON;
	}
	/* No SA_RESTART: the sleep or a blocked recv returns at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	for (;;) {
		json_t *status = NULL, *tr;

		rc = edgectl_call("ota.status", args, &status);
		if (rc != EDGECTL_OK)
			break;
		tr = find_transfer(status, id);
		if (!tr) {
			fprintf(stderr, "edgectl ota: edged no longer lists transfer %" JSON_INTEGER_FORMAT
					" (restarted, or 32 newer transfers ended)\n",
				id);
			json_decref(status);
			rc = EDGECTL_EDAEMON;
			break;
		}
		if (tty)
			rc = redraw(tr, &lines);
		if (tty && lines < 0)
			tty = false;
		if (!tty && !edgectl_globals.json)
			log_changes(tr, seen);
		json_decref(last);
		last = status;
		if (rc != EDGECTL_OK || strcmp(edgectl_str_or(tr, "state", "running"), "running") != 0)
			break;
		if (!pause_ms(WAIT_POLL_MS)) {
			rc = EDGECTL_EINTR;
			break;
		}
	}
	if (rc == EDGECTL_EINTR) {
		fprintf(stderr, "edgectl ota: stopped waiting; transfer %" JSON_INTEGER_FORMAT
				" goes on in edged ('edgectl ota status --transfer %" JSON_INTEGER_FORMAT
				"', 'edgectl ota cancel %" JSON_INTEGER_FORMAT "')\n",
			id, id, id);
	} else if (rc == EDGECTL_OK) {
		json_t *tr = find_transfer(last, id), *n;
		size_t i, total = json_array_size(json_object_get(tr, "nodes")), ok = 0;

		json_array_foreach(json_object_get(tr, "nodes"), i, n)
			ok += strcmp(edgectl_str_or(n, "state", ""), "activated") == 0;
		if (edgectl_globals.json)
			rc = edgectl_print_json(last);
		else if (!tty)
			rc = print_transfer(stdout, tr);
		if (rc == EDGECTL_OK && (ok < total || total == 0)) {
			fprintf(stderr, "edgectl ota: transfer %" JSON_INTEGER_FORMAT " %s: %zu of %zu "
					"node(s) activated the model\n",
				id, edgectl_str_or(tr, "state", "?"), ok, total);
			rc = EDGECTL_EDAEMON;
		}
	}
	json_decref(last);
	json_decref(seen);
	json_decref(args);
	return rc;
}

/* ---- send */

static int print_sent(json_t *r)
{
	printf("transfer %" JSON_INTEGER_FORMAT " started\n", edgectl_int(r, "transfer"));
	edgectl_print_id_list("offered to", json_object_get(r, "nodes"));
	return edgectl_print_unfit(stdout, "skipped", json_object_get(r, "skipped"));
}

/* --to ID[,ID...] into a JSON array: each a valid node id, none twice. */
static json_t *parse_targets(const char *list)
{
	json_t *ids = json_array(), *set = json_object();
	const char *p = list;

	if (!ids || !set)
		goto oom;
	for (;;) {
		size_t len = strcspn(p, ",");
		char id[EDGE_ID_MAX_LEN + 1];

		if (len == 0 || len > EDGE_ID_MAX_LEN || !edge_id_valid(p, len)) {
			fprintf(stderr, "edgectl ota send: --to: bad node id '%.*s' (1 to %d of "
					"A-Z a-z 0-9 _ -, comma-separated, all or tag:TAG)\n",
				(int)(len > 80 ? 80 : len), p, EDGE_ID_MAX_LEN);
			goto bad;
		}
		memcpy(id, p, len);
		id[len] = '\0';
		if (json_object_get(set, id)) {
			fprintf(stderr, "edgectl ota send: --to: node '%s' listed twice\n", id);
			goto bad;
		}
		if (json_object_set_new(set, id, json_true()) < 0 ||
		    json_array_append_new(ids, json_string(id)) < 0)
			goto oom;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	json_decref(set);
	return ids;
oom:
	fprintf(stderr, "edgectl ota send: out of memory\n");
bad:
	json_decref(ids);
	json_decref(set);
	return NULL;
}

static int ota_send(int argc, char **argv)
{
	static const char *const flags[] = { "--no-campaign", "--wait", NULL };
	bool set[2] = { false, false };
	const char *to = NULL, *chunk = NULL, *window = NULL, *pos[1];
	const struct edgectl_opt opts[] = {
		{ "--to", &to }, { "--chunk-size", &chunk }, { "--window", &window }
	};
	char *rest[MAX_ARGS], name[32];
	unsigned long long v;
	json_t *args, *result = NULL;
	json_int_t id;
	int n, npos, rc;

	rc = split_flags(argc, argv, flags, set, rest, &n, name, sizeof name);
	if (rc != EDGECTL_OK)
		return rc;
	rc = edgectl_parse_args(n, rest, ota_usage, opts, 3, pos, 1, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error("send", "which model? (ota send REF --to ...)");
	if (edgectl_check_model_ref("ota send", pos[0]) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	if (!to)
		return usage_error("send", "--to is required: node ids, comma-separated, all or "
				   "tag:TAG");
	args = json_pack("{s:s}", "model", pos[0]);
	if (!args)
		return EDGECTL_EDAEMON;
	if (strcmp(to, "all") == 0) {
		json_object_set_new(args, "to", json_string("all"));
	} else if (strncmp(to, "tag:", 4) == 0) {
		if (!edgectl_tag_valid(to + 4)) {
			json_decref(args);
			return usage_error("send", "--to tag:TAG: bad tag '%.40s' (1 to 32 of A-Z a-z "
					   "0-9 _ . -)", to + 4);
		}
		json_object_set_new(args, "to", json_string(to));
	} else {
		json_t *ids = parse_targets(to);

		if (!ids) {
			json_decref(args);
			return EDGECTL_EUSAGE;
		}
		json_object_set_new(args, "to", ids);
	}
	if (set[0])
		json_object_set_new(args, "campaign", json_false());
	if (chunk) {
		if (!parse_uint(chunk, EDGE_OTA_CHUNK_MIN, EDGE_OTA_CHUNK_MAX, &v)) {
			json_decref(args);
			return usage_error("send", "--chunk-size must be an integer 64..16384, not '%s'",
					   chunk);
		}
		json_object_set_new(args, "chunk_size", json_integer((json_int_t)v));
	}
	if (window) {
		if (!parse_uint(window, 1, EDGE_OTA_WINDOW_MAX, &v)) {
			json_decref(args);
			return usage_error("send", "--window must be an integer 1..256, not '%s'",
					   window);
		}
		json_object_set_new(args, "window", json_integer((json_int_t)v));
	}
	rc = edgectl_call("ota.send", args, &result);
	json_decref(args);
	if (rc != EDGECTL_OK) {
		if (strcmp(edgectl_last_error_code(), "no_target") == 0 && !edgectl_globals.json)
			(void)edgectl_print_unfit(stderr, "skipped",
						  json_object_get(edgectl_last_error(), "skipped"));
		return rc;
	}
	id = edgectl_int(result, "transfer");
	rc = edgectl_globals.json ? edgectl_print_json(result) : print_sent(result);
	json_decref(result);
	if (rc != EDGECTL_OK || !set[1])
		return rc;
	if (fflush(stdout) != 0)
		return EDGECTL_EDAEMON;
	return wait_transfer(id);
}

/* ---- status, cancel */

static int ota_status(int argc, char **argv)
{
	const char *transfer = NULL, *pos[1];
	const struct edgectl_opt opts[] = { { "--transfer", &transfer } };
	json_t *args;
	json_int_t id = 0;
	int npos, rc = edgectl_parse_args(argc, argv, ota_usage, opts, 1, pos, 1, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 1 && !edge_id_valid_str(pos[0]))
		return usage_error("status", "bad node id '%s'", pos[0]);
	if (transfer && parse_transfer("status", transfer, &id) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	args = json_object();
	if (!args)
		return EDGECTL_EDAEMON;
	if (transfer)
		json_object_set_new(args, "transfer", json_integer(id));
	if (npos == 1)
		json_object_set_new(args, "device", json_string(pos[0]));
	rc = edgectl_query("ota.status", args, print_status);
	json_decref(args);
	return rc;
}

static int print_cancelled(json_t *r)
{
	printf("cancelled on %" JSON_INTEGER_FORMAT " node(s)\n", edgectl_int(r, "cancelled"));
	return EDGECTL_OK;
}

static int ota_cancel(int argc, char **argv)
{
	const char *device = NULL, *pos[1];
	const struct edgectl_opt opts[] = { { "--device", &device } };
	json_t *args;
	json_int_t id = 0;
	int npos, rc = edgectl_parse_args(argc, argv, ota_usage, opts, 1, pos, 1, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error("cancel", "which transfer? (ota cancel N)");
	if (parse_transfer("cancel", pos[0], &id) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	if (device && !edge_id_valid_str(device))
		return usage_error("cancel", "--device: bad node id '%s'", device);
	args = json_pack("{s:I}", "transfer", id);
	if (!args)
		return EDGECTL_EDAEMON;
	if (device)
		json_object_set_new(args, "device", json_string(device));
	rc = edgectl_query("ota.cancel", args, print_cancelled);
	json_decref(args);
	return rc;
}

int edgectl_cmd_ota(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} verbs[] = {
		{ "send", ota_send },
		{ "status", ota_status },
		{ "cancel", ota_cancel },
	};

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(ota_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EDGECTL_EUSAGE : EDGECTL_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "edgectl ota: unknown subcommand '%s'\n", argv[1]);
	fputs(ota_usage, stderr);
	return EDGECTL_EUSAGE;
}
