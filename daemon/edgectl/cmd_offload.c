/* edgectl offload: inference offloaded by nodes to the gateway and the
 * shadow checks of the nodes' own results (edged's offload.* commands).
 *
 *   offload list | enable REF | disable REF | status | mismatches [--limit N]
 *
 * Every verb prints edged's answer as JSON with --json, else a human view. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgectl.h"
#include "table.h"

#define MAX_ARGS 16
/* Rows of the per-node table beyond the flagged nodes (--json has all). */
#define NODES_SHOWN 20
/* --limit of mismatches: edged keeps a bounded evidence log; this only
 * rejects nonsense before asking. */
#define MISMATCH_LIMIT_MAX 100000

static const char offload_usage[] =
	"Usage: edgectl offload list [--json]\n"
	"       edgectl offload enable REF [--json]\n"
	"       edgectl offload disable REF [--json]\n"
	"       edgectl offload status [--json]\n"
	"       edgectl offload mismatches [--limit N] [--json]\n"
	"       edgectl offload verify ID|tag:TAG PERMILLE|default [--json]\n"
	"       edgectl offload clear ID [--json]\n"
	"\n"
	"Nodes send an input tensor on infer/req and edged answers with the output\n"
	"computed by its own engine, on deadline; nodes told to sample their own\n"
	"inferences send input and output on infer/verify, and edged re-runs them\n"
	"bit-exactly and compares (proto/infer/offload.md).\n"
	"\n"
	"list        every stored model: whether offload is enabled for it, whether\n"
	"            the engine can run it (or why not; '-' until enabled), its input\n"
	"            and output tensor bytes and its interpreter's memory.\n"
	"enable      let nodes offload REF (a stored model: 'edgectl models list').\n"
	"disable     stop offloading REF; its queued requests are answered\n"
	"            not_offloadable.\n"
	"status      workers, queue, memory, requests by outcome, the causes of busy\n"
	"            answers and the shadow checks; then per model and per node (the\n"
	"            20 with most requests, and every flagged node) the requests and\n"
	"            the p50/p99 of queue and run time in ms.\n"
	"mismatches  the shadow checks that disagreed, newest first (default 50):\n"
	"            node, model, the node's sequence number, the first differing\n"
	"            byte and up to 16 bytes from there, the node's and edged's.\n"
	"verify      the share (per thousand) of its own inferences a node, or every\n"
	"            node with a tag, sends for a shadow check (0 = none; default =\n"
	"            back to offload.verify_permille); online nodes are told at once.\n"
	"            A node's own setting wins over its tags' (the largest of those).\n"
	"clear       unflag a node and drop its mismatch evidence (after a fix).\n"
	"\n"
	"REF: a digest or model SHA-256 prefix (8 hex digits or more), NAME@VERSION,\n"
	"or NAME (the highest counter of that name).\n"
	"\n"
	"Exit codes: 0 done, 1 refused or failed (not_found, ambiguous, bad_args,\n"
	"unavailable), 2 bad usage, 3 edged not running, 4 not authorised (enable,\n"
	"disable, verify and clear need the admin role).\n";

/* The statuses of a response (proto/infer/offload.md), in its order, and
 * "malformed" (a request too broken to answer). */
static const char *const outcome_keys[] = { "ok",		 "unknown_model", "not_offloadable",
					    "bad_input",	 "busy",	  "deadline_exceeded",
					    "internal",		 "malformed",	  NULL };
static const char *const busy_keys[] = { "queue_full", "node_cap", "deadline", "node_table",
					 NULL };
static const char *const dropped_keys[] = { "no_response_topic", "reply_failed", NULL };

__attribute__((format(printf, 2, 3))) static int usage_error(const char *verb,
								 const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgectl offload %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EDGECTL_EUSAGE;
}

/* What to do about the refusals an operator can act on. */
static int explain(int rc)
{
	const char *code = edgectl_last_error_code();

	if (rc != EDGECTL_EDAEMON)
		return rc;
	if (strcmp(code, "not_found") == 0)
		fputs("edgectl offload: no such stored model, or (disable) it is not enabled:\n"
		      "'edgectl offload list'\n",
		      stderr);
	else if (strcmp(code, "ambiguous") == 0)
		fputs("edgectl offload: the prefix matches several models: give more digits or\n"
		      "NAME@VERSION ('edgectl offload list')\n",
		      stderr);
	else if (strcmp(code, "unavailable") == 0)
		fputs("edgectl offload: edged runs no offload service now (see edged.conf(5))\n",
		      stderr);
	return rc;
}

/* "name@version" of an answer's model, "?" for a missing part. */
static void format_model(char *buf, size_t cap, json_t *m)
{
	snprintf(buf, cap, "%s@%s", edgectl_str_or(m, "name", "?"),
		 edgectl_str_or(m, "version", "?"));
}

/* A latency in microseconds as milliseconds with 2 decimals; "-" when edged
 * has no sample (null). */
static void format_ms(char *buf, size_t cap, json_t *pct, const char *key)
{
	double us = edgectl_real(pct, key);

	if (isnan(us) || us < 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", us / 1000.0);
}

static bool in_keys(const char *const *keys, const char *key)
{
	for (; *keys; keys++)
		if (strcmp(*keys, key) == 0)
			return true;
	return false;
}

/* "title: a 1, b 2" on out: the known keys in their order (zeros skipped
 * when skip_zero, except the first), then any key a newer edged added.
 * "none" when nothing was printed. */
static void print_counts(const char *title, json_t *counts, const char *const *keys,
			 bool skip_zero)
{
	const char *key;
	json_t *v;
	int n = 0;

	printf("%s:", title);
	for (size_t i = 0; keys[i]; i++) {
		json_int_t c = edgectl_int(counts, keys[i]);

		if (skip_zero && c == 0 && i > 0)
			continue;
		printf("%s %s %" JSON_INTEGER_FORMAT, n++ ? "," : "", keys[i], c);
	}
	json_object_foreach(counts, key, v) {
		if (in_keys(keys, key) || !json_is_integer(v) ||
		    (skip_zero && json_integer_value(v) == 0))
			continue;
		printf("%s %s %" JSON_INTEGER_FORMAT, n++ ? "," : "", key, json_integer_value(v));
	}
	if (n == 0)
		fputs(" none", stdout);
	putchar('\n');
}

/* Requests answered neither ok nor busy (deadline, bad input, ...). */
static json_int_t other_outcomes(json_t *outcomes)
{
	const char *key;
	json_t *v;
	json_int_t n = 0;

	json_object_foreach(outcomes, key, v)
		if (strcmp(key, "ok") != 0 && strcmp(key, "busy") != 0)
			n += json_integer_value(v);
	return n;
}

/* ---- list */

static int print_list(json_t *r)
{
	static const char *const headers[] = { "MODEL",	 "ENABLED", "INPUT (B)", "OUTPUT (B)",
					       "MEMORY", "DIGEST",  "OFFLOADABLE" };
	struct edgectl_table *t;
	json_t *models = json_object_get(r, "models"), *m;
	size_t i, enabled = 0;
	int rc;

	if (json_array_size(models) == 0) {
		printf("no stored models ('edgectl models add PKG')\n");
		return EDGECTL_OK;
	}
	t = edgectl_table_new(7, headers);
	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(models, i, m) {
		json_t *off = json_object_get(m, "offloadable");
		char model[80], in[24], out[24], mem[32], digest[17], verdict[160];
		bool on = json_is_true(json_object_get(m, "enabled"));

		enabled += on;
		format_model(model, sizeof model, m);
		snprintf(in, sizeof in, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "input_bytes"));
		snprintf(out, sizeof out, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "output_bytes"));
		edgectl_format_bytes(mem, sizeof mem, edgectl_int(m, "interpreter_bytes"));
		/* 16 digits name it well beyond any fleet's catalogue. */
		snprintf(digest, sizeof digest, "%s", edgectl_str_or(m, "digest", "-"));
		/* null: not checked yet (the check loads it, on enable). */
		if (json_is_true(off))
			snprintf(verdict, sizeof verdict, "yes");
		else if (json_is_false(off))
			snprintf(verdict, sizeof verdict, "no: %s",
				 edgectl_str_or(m, "reason", "unknown reason"));
		else
			snprintf(verdict, sizeof verdict, "-");
		const char *cells[] = { model, on ? "yes" : "no", in, out, mem, digest, verdict };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	printf("%zu model(s), %zu enabled\n", json_array_size(models), enabled);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* ---- enable, disable */

static int print_enabled(json_t *r)
{
	char model[80], sha[17];
	json_t *off = json_object_get(r, "offloadable");

	format_model(model, sizeof model, r);
	snprintf(sha, sizeof sha, "%s", edgectl_str_or(r, "sha256", "-"));
	printf("enabled %s (sha256 %s): input %" JSON_INTEGER_FORMAT " B, output %"
	       JSON_INTEGER_FORMAT " B\n",
	       model, sha, edgectl_int(r, "input_bytes"), edgectl_int(r, "output_bytes"));
	/* Enabled all the same: the operator sees why nodes get not_offloadable. */
	if (json_is_false(off))
		fprintf(stderr,
			"edgectl offload enable: %s is not offloadable: %s\n"
			"(its requests are answered not_offloadable)\n",
			model, edgectl_str_or(r, "reason", "unknown reason"));
	return EDGECTL_OK;
}

static int print_disabled(json_t *r)
{
	char model[80];

	format_model(model, sizeof model, r);
	printf("disabled %s\n", model);
	return EDGECTL_OK;
}

/* ---- status */

static int by_requests(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t rx = edgectl_int(x, "requests"), ry = edgectl_int(y, "requests");

	if (rx != ry)
		return rx > ry ? -1 : 1;
	return strcmp(edgectl_str_or(x, "id", ""), edgectl_str_or(y, "id", ""));
}

/* The latency cells of a model or node: queue p50, p99, run p50, p99. */
static void latency_cells(json_t *o, char cells[4][24])
{
	json_t *q = json_object_get(o, "queue_us"), *run = json_object_get(o, "run_us");

	format_ms(cells[0], sizeof cells[0], q, "p50");
	format_ms(cells[1], sizeof cells[1], q, "p99");
	format_ms(cells[2], sizeof cells[2], run, "p50");
	format_ms(cells[3], sizeof cells[3], run, "p99");
}

static int print_models_table(json_t *models)
{
	static const char *const headers[] = { "MODEL",	  "REQUESTS", "OK",	"BUSY",
					       "OTHER",	  "QUEUE P50", "P99",	"RUN P50",
					       "P99",	  "QUEUED",   "MATCH", "MISMATCH" };
	struct edgectl_table *t = edgectl_table_new(12, headers);
	json_t *m;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(models, i, m) {
		json_t *out = json_object_get(m, "outcomes");
		char model[80], req[24], ok[24], busy[24], other[24], lat[4][24], queued[24],
			match[24], mis[24];

		format_model(model, sizeof model, m);
		snprintf(req, sizeof req, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "requests"));
		snprintf(ok, sizeof ok, "%" JSON_INTEGER_FORMAT, edgectl_int(out, "ok"));
		snprintf(busy, sizeof busy, "%" JSON_INTEGER_FORMAT, edgectl_int(out, "busy"));
		snprintf(other, sizeof other, "%" JSON_INTEGER_FORMAT, other_outcomes(out));
		latency_cells(m, lat);
		snprintf(queued, sizeof queued, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "queued"));
		snprintf(match, sizeof match, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "matches"));
		snprintf(mis, sizeof mis, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "mismatches"));
		const char *cells[] = { model,	req,	ok,	busy,  other, lat[0],
					lat[1], lat[2], lat[3], queued, match, mis };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* The NODES_SHOWN nodes with most requests, and every flagged node (a
 * mismatch matters whatever the node's traffic). */
static int print_nodes_table(json_t *nodes)
{
	static const char *const headers[] = { "NODE",	   "REQUESTS", "OK",	  "BUSY",
					       "OTHER",	   "QUEUE P50", "P99",	  "RUN P50",
					       "P99",	   "MATCH",    "MISMATCH", "FLAGGED" };
	size_t n = json_array_size(nodes), shown = 0, i;
	struct edgectl_table *t;
	json_t **sorted;
	int rc;

	if (n == 0)
		return EDGECTL_OK;
	sorted = malloc(n * sizeof *sorted);
	t = edgectl_table_new(12, headers);
	if (!sorted || !t) {
		free(sorted);
		edgectl_table_free(t);
		fprintf(stderr, "edgectl: out of memory\n");
		return EDGECTL_EDAEMON;
	}
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(nodes, i);
	qsort(sorted, n, sizeof *sorted, by_requests);
	for (i = 0; i < n; i++) {
		json_t *o = sorted[i], *out = json_object_get(o, "outcomes");
		bool flagged = json_is_true(json_object_get(o, "flagged"));
		char req[24], ok[24], busy[24], other[24], lat[4][24], match[24], mis[24];

		if (i >= NODES_SHOWN && !flagged)
			continue;
		snprintf(req, sizeof req, "%" JSON_INTEGER_FORMAT, edgectl_int(o, "requests"));
		snprintf(ok, sizeof ok, "%" JSON_INTEGER_FORMAT, edgectl_int(out, "ok"));
		snprintf(busy, sizeof busy, "%" JSON_INTEGER_FORMAT, edgectl_int(out, "busy"));
		snprintf(other, sizeof other, "%" JSON_INTEGER_FORMAT, other_outcomes(out));
		latency_cells(o, lat);
		snprintf(match, sizeof match, "%" JSON_INTEGER_FORMAT, edgectl_int(o, "matches"));
		snprintf(mis, sizeof mis, "%" JSON_INTEGER_FORMAT, edgectl_int(o, "mismatches"));
		const char *cells[] = { edgectl_str_or(o, "id", "?"), req, ok, busy, other, lat[0],
					lat[1], lat[2], lat[3], match, mis,
					flagged ? "FLAGGED" : "" };
		edgectl_table_add(t, cells);
		shown++;
	}
	assert(shown <= n);
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	free(sorted);
	if (shown < n)
		printf("(%zu more node(s) with fewer requests: --json lists them)\n", n - shown);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static int print_status(json_t *r)
{
	json_t *verify = json_object_get(r, "verify"), *models = json_object_get(r, "models"),
	       *nodes = json_object_get(r, "nodes"), *o;
	char used[32], budget[32];
	size_t i, flagged = 0;
	int rc;

	edgectl_format_bytes(used, sizeof used, edgectl_int(r, "memory_bytes"));
	edgectl_format_bytes(budget, sizeof budget, edgectl_int(r, "memory_budget"));
	json_array_foreach(nodes, i, o)
		flagged += json_is_true(json_object_get(o, "flagged"));
	printf("workers %" JSON_INTEGER_FORMAT ", queue %" JSON_INTEGER_FORMAT "/%"
	       JSON_INTEGER_FORMAT " (at most %" JSON_INTEGER_FORMAT " per node), memory %s of %s\n",
	       edgectl_int(r, "workers"), edgectl_int(r, "queued"), edgectl_int(r, "queue_max"),
	       edgectl_int(r, "node_queue_max"), used, budget);
	{
		char title[48];

		snprintf(title, sizeof title, "requests %" JSON_INTEGER_FORMAT,
			 edgectl_int(r, "requests"));
		print_counts(title, json_object_get(r, "outcomes"), outcome_keys, true);
	}
	print_counts("busy causes", json_object_get(r, "busy"), busy_keys, false);
	print_counts("answers dropped", json_object_get(r, "dropped"), dropped_keys, false);
	printf("verify: %" JSON_INTEGER_FORMAT " received, %" JSON_INTEGER_FORMAT
	       " matches, %" JSON_INTEGER_FORMAT " mismatches, %" JSON_INTEGER_FORMAT
	       " model not held, %" JSON_INTEGER_FORMAT " busy; %zu node(s) flagged\n",
	       edgectl_int(verify, "received"), edgectl_int(verify, "matches"),
	       edgectl_int(verify, "mismatches"), edgectl_int(verify, "not_held"),
	       edgectl_int(verify, "busy"), flagged);
	printf("\nmodels (times in ms):\n");
	if (json_array_size(models) == 0) {
		printf("  none enabled ('edgectl offload enable REF')\n");
	} else {
		rc = print_models_table(models);
		if (rc != EDGECTL_OK)
			return rc;
	}
	printf("\nnodes (times in ms):\n");
	if (json_array_size(nodes) == 0) {
		printf("  none yet\n");
		return EDGECTL_OK;
	}
	return print_nodes_table(nodes);
}

/* ---- mismatches */

static int print_mismatches(json_t *r)
{
	static const char *const headers[] = { "TIME (UTC)", "NODE",	     "MODEL",
					       "SEQ",	     "FIRST DIFF",   "NODE BYTES",
					       "GATEWAY BYTES" };
	json_t *list = json_object_get(r, "mismatches"), *x;
	struct edgectl_table *t;
	size_t i;
	int rc;

	if (json_array_size(list) == 0) {
		printf("no mismatches\n");
		return EDGECTL_OK;
	}
	t = edgectl_table_new(7, headers);
	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(list, i, x) {
		char when[32], seq[24], diff[48];

		edgectl_format_time(when, sizeof when, edgectl_int(x, "ts_ms"), "-");
		snprintf(seq, sizeof seq, "%" JSON_INTEGER_FORMAT, edgectl_int(x, "seq"));
		snprintf(diff, sizeof diff, "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT,
			 edgectl_int(x, "first_diff"), edgectl_int(x, "length"));
		const char *cells[] = { when, edgectl_str_or(x, "node", "?"),
					edgectl_str_or(x, "model", "?"), seq, diff,
					edgectl_str_or(x, "node_bytes", "-"),
					edgectl_str_or(x, "gateway_bytes", "-") };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	printf("%zu mismatch(es), newest first (bytes in hex from the first differing one)\n",
	       json_array_size(list));
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* ---- verbs */

/* argv with its verb renamed "offload VERB", so that the parser's messages
 * name the command as typed. */
static int parse_verb(int argc, char **argv, const struct edgectl_opt *opts, int nopts,
		      const char **pos, int max_pos, int *npos)
{
	char name[32], *args[MAX_ARGS];

	if (argc > MAX_ARGS) {
		usage_error(argv[0], "too many arguments");
		return -2;
	}
	snprintf(name, sizeof name, "offload %s", argv[0]);
	args[0] = name;
	for (int i = 1; i < argc; i++)
		args[i] = argv[i];
	return edgectl_parse_args(argc, args, offload_usage, opts, nopts, pos, max_pos, npos);
}

static int offload_plain(int argc, char **argv, const char *cmd, int (*print)(json_t *r))
{
	int npos, rc = parse_verb(argc, argv, NULL, 0, NULL, 0, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	return explain(edgectl_query(cmd, NULL, print));
}

static int offload_list(int argc, char **argv)
{
	return offload_plain(argc, argv, "offload.list", print_list);
}

static int offload_status(int argc, char **argv)
{
	return offload_plain(argc, argv, "offload.status", print_status);
}

/* enable, disable: offload.<verb> {"model": REF}. */
static int offload_toggle(int argc, char **argv)
{
	bool enable = strcmp(argv[0], "enable") == 0;
	const char *pos[1];
	char what[32], cmd[32];
	json_t *args;
	int npos, rc = parse_verb(argc, argv, NULL, 0, pos, 1, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error(argv[0], "which model? (offload %s REF)", argv[0]);
	snprintf(what, sizeof what, "offload %s", argv[0]);
	if (edgectl_check_model_ref(what, pos[0]) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	args = json_pack("{s:s}", "model", pos[0]);
	if (!args)
		return EDGECTL_EDAEMON;
	snprintf(cmd, sizeof cmd, "offload.%s", argv[0]);
	rc = explain(edgectl_query(cmd, args, enable ? print_enabled : print_disabled));
	json_decref(args);
	return rc;
}

static int offload_mismatches(int argc, char **argv)
{
	const char *limit = NULL;
	const struct edgectl_opt opts[] = { { "--limit", &limit } };
	json_t *args;
	int npos, rc = parse_verb(argc, argv, opts, 1, NULL, 0, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	args = json_object();
	if (!args)
		return EDGECTL_EDAEMON;
	if (limit) {
		unsigned long long v;
		char *end;

		errno = 0;
		v = limit[0] >= '0' && limit[0] <= '9' ? strtoull(limit, &end, 10) : 0;
		if (v == 0 || errno || *end || v > MISMATCH_LIMIT_MAX) {
			json_decref(args);
			return usage_error("mismatches", "--limit must be an integer 1..%d, not '%s'",
					   MISMATCH_LIMIT_MAX, limit);
		}
		if (json_object_set_new(args, "limit", json_integer((json_int_t)v)) < 0) {
			json_decref(args);
			return EDGECTL_EDAEMON;
		}
	}
	rc = explain(edgectl_query("offload.mismatches", args, print_mismatches));
	json_decref(args);
	return rc;
}

static int print_verify(json_t *r)
{
	json_t *p = json_object_get(r, "permille");

	if (json_is_integer(p))
		printf("%s: %" JSON_INTEGER_FORMAT " per thousand of its own inferences checked; "
		       "%" JSON_INTEGER_FORMAT " online node(s) told\n",
		       edgectl_str_or(r, "target", "?"), json_integer_value(p), edgectl_int(r, "told"));
	else
		printf("%s: back to offload.verify_permille; %" JSON_INTEGER_FORMAT
		       " online node(s) told\n",
		       edgectl_str_or(r, "target", "?"), edgectl_int(r, "told"));
	return EDGECTL_OK;
}

/* verify TARGET PERMILLE|default: offload.verify {"to", "permille"}. */
static int offload_verify(int argc, char **argv)
{
	const char *pos[2];
	unsigned long long v = 0;
	json_t *args;
	char *end = NULL;
	int npos, rc = parse_verb(argc, argv, NULL, 0, pos, 2, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos < 2)
		return usage_error("verify", "which node or tag, and how many per thousand? "
				   "(offload verify ID|tag:TAG PERMILLE|default)");
	if (strcmp(pos[1], "default") != 0) {
		errno = 0;
		v = pos[1][0] >= '0' && pos[1][0] <= '9' ? strtoull(pos[1], &end, 10) : 1001;
		if (errno || (end && *end) || v > 1000)
			return usage_error("verify", "PERMILLE must be 0..1000 or default, not '%s'",
					   pos[1]);
	}
	args = strcmp(pos[1], "default") == 0
		       ? json_pack("{s:s, s:n}", "to", pos[0], "permille")
		       : json_pack("{s:s, s:I}", "to", pos[0], "permille", (json_int_t)v);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = explain(edgectl_query("offload.verify", args, print_verify));
	json_decref(args);
	return rc;
}

static int print_cleared(json_t *r)
{
	printf("%s: unflagged, %" JSON_INTEGER_FORMAT " mismatch record(s) dropped\n",
	       edgectl_str_or(r, "id", "?"), edgectl_int(r, "dropped"));
	return EDGECTL_OK;
}

/* clear ID: offload.clear {"id"}. */
static int offload_clear(int argc, char **argv)
{
	const char *pos[1];
	json_t *args;
	int npos, rc = parse_verb(argc, argv, NULL, 0, pos, 1, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error("clear", "which node? (offload clear ID)");
	args = json_pack("{s:s}", "id", pos[0]);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = explain(edgectl_query("offload.clear", args, print_cleared));
	json_decref(args);
	return rc;
}

int edgectl_cmd_offload(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} verbs[] = {
		{ "list", offload_list },     { "enable", offload_toggle },
		{ "disable", offload_toggle }, { "status", offload_status },
		{ "mismatches", offload_mismatches }, { "verify", offload_verify },
		{ "clear", offload_clear },
	};

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(offload_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EDGECTL_EUSAGE : EDGECTL_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "edgectl offload: unknown subcommand '%s'\n", argv[1]);
	fputs(offload_usage, stderr);
	return EDGECTL_EUSAGE;
}
