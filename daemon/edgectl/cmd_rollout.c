/* edgectl rollout: staged rollouts of a stored model (edged's rollout.*
 * commands, proto/control-protocol.md "Rollouts").
 *
 *   rollout start REF --to ID[,ID...]|all|tag:TAG [--canary N|P%]
 *                 [--waves P%,...,100%] [--max-failures P%] [--soak DURATION]
 *                 [--health on|off] [--auto-revert on|off] [--dry-run]
 *   rollout list
 *   rollout status ID [--watch]
 *   rollout pause|resume|abort|revert ID */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edge_topic.h"
#include "edgectl.h"

#define BAR_WIDTH 20
#define WATCH_POLL_MS 1000
#define MAX_ARGS 64
#define SOAK_MAX_S (7ull * 24 * 3600)

static const char rollout_usage[] =
	"Usage: edgectl rollout start REF --to ID[,ID...]|all|tag:TAG [--canary N|P%]\n"
	"                     [--waves P%,...,100%] [--max-failures P%]\n"
	"                     [--soak DURATION] [--health on|off]\n"
	"                     [--auto-revert on|off] [--dry-run] [--json]\n"
	"       edgectl rollout list [--json]\n"
	"       edgectl rollout status ID [--watch] [--json]\n"
	"       edgectl rollout pause|resume|abort|revert ID [--json]\n"
	"\n"
	"Send a stored model to nodes in stages: a canary (N nodes or P% of the\n"
	"eligible ones, default 1), then waves given as cumulative shares (default\n"
	"10%,50%,100%). Each stage is one transfer; a stage whose failure rate\n"
	"exceeds --max-failures (default 10%) halts the rollout at once. A stage\n"
	"that passed soaks for --soak (seconds, or with s, m, h; default 0) before\n"
	"the next one starts. Incompatible, busy and unknown nodes are excluded\n"
	"with the reason. --dry-run shows the stages and changes nothing.\n"
	"\n"
	"--health (default: edged's rollout.health, on) checks each soak: the\n"
	"stage's anomaly rate and scores under the new model against the same\n"
	"nodes' history under the old one and against the nodes not yet updated;\n"
	"a significant rise halts the rollout (docs/rollouts.md). --auto-revert on\n"
	"(default: rollout.auto_revert) then sends that stage back at once.\n"
	"\n"
	"list    rollouts, newest first.\n"
	"status  per stage its nodes: success, failure, pending, with a progress\n"
	"        bar; the events, newest first. --watch refreshes every second\n"
	"        until the rollout is done, aborted or halted (Ctrl-C stops).\n"
	"pause   no new stage starts (the running transfer runs to its end).\n"
	"resume  a paused or halted rollout; after a halt the halted stage is\n"
	"        accepted and the next one follows.\n"
	"abort   ends the rollout and cancels its open transfer.\n"
	"revert  cancels its open transfer and sends every node that activated the\n"
	"        model back to its previous one: from the node's other slot (no\n"
	"        model bytes), else as a transfer of the stored previous model.\n"
	"\n"
	"Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 edged not\n"
	"running, 4 not authorised (start, pause, resume, abort and revert need\n"
	"admin).\n";

__attribute__((format(printf, 2, 3))) static int usage_error(const char *verb,
								 const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgectl rollout %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EDGECTL_EUSAGE;
}

static bool parse_uint(const char *text, unsigned long long max, unsigned long long *out,
		       char **end_out)
{
	char *end;
	unsigned long long v;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || v > max || (!end_out && *end))
		return false;
	if (end_out)
		*end_out = end;
	*out = v;
	return true;
}

/* "90", "90s", "5m", "2h" into seconds. */
static bool parse_duration(const char *text, unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!parse_uint(text, SOAK_MAX_S, &v, &end))
		return false;
	if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (*end && strcmp(end, "s") != 0)
		return false;
	if (v * mul > SOAK_MAX_S)
		return false;
	*out = v * mul;
	return true;
}

static int parse_id(const char *verb, const char *text, json_int_t *out)
{
	unsigned long long v;

	if (!parse_uint(text, UINT32_MAX, &v, NULL) || v == 0)
		return usage_error(verb, "a rollout id is a number 1..4294967295, not '%s'", text);
	*out = (json_int_t)v;
	return EDGECTL_OK;
}

/* --to: all, tag:TAG or a comma-separated list of node ids. */
static json_t *parse_to(const char *to)
{
	json_t *ids;
	const char *p = to;

	if (strcmp(to, "all") == 0)
		return json_string("all");
	if (strncmp(to, "tag:", 4) == 0) {
		if (!edgectl_tag_valid(to + 4)) {
			usage_error("start", "--to tag:TAG: bad tag '%.40s'", to + 4);
			return NULL;
		}
		return json_string(to);
	}
	ids = json_array();
	while (ids) {
		size_t len = strcspn(p, ",");
		char id[EDGE_ID_MAX_LEN + 1];

		if (len == 0 || len > EDGE_ID_MAX_LEN || !edge_id_valid(p, len)) {
			usage_error("start", "--to: bad node id '%.*s' (comma-separated ids, all "
					     "or tag:TAG)", (int)(len > 80 ? 80 : len), p);
			json_decref(ids);
			return NULL;
		}
		memcpy(id, p, len);
		id[len] = '\0';
		if (json_array_append_new(ids, json_string(id)) < 0) {
			json_decref(ids);
			return NULL;
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return ids;
}

static void format_bar(char *buf, size_t cap, json_int_t done, json_int_t n)
{
	char bar[BAR_WIDTH + 1];
	json_int_t fill;

	if (n <= 0) {
		snprintf(buf, cap, "[%*s]    -", BAR_WIDTH, "");
		return;
	}
	if (done > n)
		done = n;
	fill = done * BAR_WIDTH / n;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '-', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = '\0';
	snprintf(buf, cap, "[%s] %3d%%", bar, (int)(done * 100 / n));
}

/* ---- start ---- */

static int print_plan(json_t *r)
{
	json_t *stages = json_object_get(r, "stages"), *st;
	size_t i;

	if (json_is_true(json_object_get(r, "dry_run")))
		printf("dry run: %s@%s would be rollout %" JSON_INTEGER_FORMAT "%s\n",
		       edgectl_str_or(r, "model_name", "?"), edgectl_str_or(r, "model_version", "?"),
		       edgectl_int(r, "id"),
		       json_is_string(json_object_get(r, "conflict")) ? " (refused now: another rollout of this "
							 "model name is unfinished)"
						      : "");
	else
		printf("rollout %" JSON_INTEGER_FORMAT " started\n", edgectl_int(r, "id"));
	json_array_foreach(stages, i, st) {
		char title[200];

		snprintf(title, sizeof title, "  %s", edgectl_str_or(st, "describe", "?"));
		edgectl_print_id_list(title, json_object_get(st, "nodes"));
	}
	return edgectl_print_unfit(stdout, "excluded", json_object_get(r, "excluded"));
}

static int rollout_start(int argc, char **argv)
{
	const char *to = NULL, *canary = NULL, *waves = NULL, *maxf = NULL, *soak = NULL,
		   *health = NULL, *revert = NULL, *pos[1];
	const struct edgectl_opt opts[] = { { "--to", &to },
					    { "--canary", &canary },
					    { "--waves", &waves },
					    { "--max-failures", &maxf },
					    { "--soak", &soak },
					    { "--health", &health },
					    { "--auto-revert", &revert } };
	char *rest[MAX_ARGS];
	bool dry = false;
	unsigned long long soak_s = 0;
	json_t *args, *jto, *result = NULL;
	int n = 0, npos, rc;

	if (argc >= MAX_ARGS)
		return usage_error("start", "too many arguments");
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--dry-run") == 0)
			dry = true;
		else
			rest[n++] = argv[i];
	}
	rc = edgectl_parse_args(n, rest, rollout_usage, opts, 7, pos, 1, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error("start", "which model? (rollout start REF --to ...)");
	if (edgectl_check_model_ref("rollout start", pos[0]) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	if (!to)
		return usage_error("start", "--to is required: node ids, all or tag:TAG");
	if (soak && !parse_duration(soak, &soak_s))
		return usage_error("start", "--soak: a duration (90, 90s, 5m, 2h; at most 7 days), "
				   "not '%s'", soak);
	if (health && strcmp(health, "on") != 0 && strcmp(health, "off") != 0)
		return usage_error("start", "--health: on or off, not '%s'", health);
	if (revert && strcmp(revert, "on") != 0 && strcmp(revert, "off") != 0)
		return usage_error("start", "--auto-revert: on or off, not '%s'", revert);
	jto = parse_to(to);
	if (!jto)
		return EDGECTL_EUSAGE;
	args = json_pack("{s:s, s:o, s:I, s:b}", "model", pos[0], "to", jto, "soak_s",
			 (json_int_t)soak_s, "dry_run", dry);
	if (!args)
		return EDGECTL_EDAEMON;
	if (canary)
		json_object_set_new(args, "canary", json_string(canary));
	if (waves)
		json_object_set_new(args, "waves", json_string(waves));
	if (maxf)
		json_object_set_new(args, "max_failures", json_string(maxf));
	if (health)
		json_object_set_new(args, "health", json_boolean(strcmp(health, "on") == 0));
	if (revert)
		json_object_set_new(args, "auto_revert", json_boolean(strcmp(revert, "on") == 0));
	rc = edgectl_call("rollout.start", args, &result);
	json_decref(args);
	if (rc != EDGECTL_OK)
		return rc; /* no_target: --dry-run lists every exclusion */
	rc = edgectl_globals.json ? edgectl_print_json(result) : print_plan(result);
	json_decref(result);
	return rc;
}

/* ---- list, status ---- */

static int print_list(json_t *r)
{
	json_t *list = json_object_get(r, "rollouts"), *ro;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no rollouts\n");
		return EDGECTL_OK;
	}
	printf("%-6s %-28s %-8s %-7s %-7s %s\n", "ID", "MODEL", "STATE", "STAGE", "NODES",
	       "DECIDED");
	json_array_foreach(list, i, ro) {
		char model[80], stage[16];

		snprintf(model, sizeof model, "%s@%s", edgectl_str_or(ro, "model_name", "?"),
			 edgectl_str_or(ro, "model_version", "?"));
		snprintf(stage, sizeof stage, "%d/%d", (int)edgectl_int(ro, "stage") + 1,
			 (int)edgectl_int(ro, "stages"));
		printf("%-6" JSON_INTEGER_FORMAT " %-28s %-8s %-7s %-7" JSON_INTEGER_FORMAT
		       " %" JSON_INTEGER_FORMAT "\n",
		       edgectl_int(ro, "id"), model, edgectl_str_or(ro, "state", "?"), stage,
		       edgectl_int(ro, "nodes"), edgectl_int(ro, "decided"));
	}
	return EDGECTL_OK;
}

static void print_rate(const char *what, json_t *t)
{
	const char *v = edgectl_str_or(t, "verdict", "?");

	if (strcmp(v, "insufficient_data") == 0 && edgectl_real(t, "node_hours_base") <= 0) {
		printf("           %-9s no baseline\n", what);
		return;
	}
	printf("           %-9s %.3g vs %.3g per node-hour (%" JSON_INTEGER_FORMAT
	       " in %.2f h vs %" JSON_INTEGER_FORMAT " in %.2f h), ratio %.2f, p %.2g: %s\n",
	       what, edgectl_real(t, "rate_new"), edgectl_real(t, "rate_base"),
	       edgectl_int(t, "count_new"), edgectl_real(t, "node_hours_new"),
	       edgectl_int(t, "count_base"), edgectl_real(t, "node_hours_base"),
	       edgectl_real(t, "ratio"), edgectl_real(t, "p_value"), v);
}

/* A stage's last health look: the comparison behind its verdict. */
static void print_health(json_t *h)
{
	json_t *ks = json_object_get(h, "scores");

	if (!json_is_object(h))
		return;
	printf("           health look %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT ": %s\n",
	       edgectl_int(h, "look"), edgectl_int(h, "looks"), edgectl_str_or(h, "verdict", "?"));
	print_rate("own past", json_object_get(h, "vs_own"));
	print_rate("peers", json_object_get(h, "vs_peers"));
	printf("           %-9s KS D %.3f (critical %.3f) over %" JSON_INTEGER_FORMAT " vs %"
	       JSON_INTEGER_FORMAT " scores: %s\n",
	       "scores", edgectl_real(ks, "d"), edgectl_real(ks, "d_crit"),
	       edgectl_int(ks, "n_new"), edgectl_int(ks, "n_base"),
	       edgectl_str_or(ks, "verdict", "?"));
}

static int print_status(json_t *r)
{
	json_t *stages = json_object_get(r, "stage_list"), *events = json_object_get(r, "events"),
	       *st, *ev;
	size_t i;

	printf("rollout %" JSON_INTEGER_FORMAT ": %s@%s  %s  stage %d of %d\n",
	       edgectl_int(r, "id"), edgectl_str_or(r, "model_name", "?"),
	       edgectl_str_or(r, "model_version", "?"), edgectl_str_or(r, "state", "?"),
	       (int)edgectl_int(r, "stage") + 1, (int)edgectl_int(r, "stages"));
	if (edgectl_str_or(r, "reason", NULL))
		printf("reason: %s\n", edgectl_str_or(r, "reason", ""));
	json_array_foreach(stages, i, st) {
		json_int_t nodes = edgectl_int(st, "nodes"), pending = edgectl_int(st, "pending");
		json_t *x = json_object_get(st, "transfer");
		char bar[64], bytes[32];

		format_bar(bar, sizeof bar, nodes - pending, nodes);
		edgectl_format_bytes(bytes, sizeof bytes, edgectl_int(st, "bytes"));
		printf("  %-8s %5" JSON_INTEGER_FORMAT " nodes %s  ok %" JSON_INTEGER_FORMAT
		       "  failed %" JSON_INTEGER_FORMAT "  pending %" JSON_INTEGER_FORMAT "  %s sent",
		       edgectl_str_or(st, "name", "?"), nodes, bar, edgectl_int(st, "success"),
		       edgectl_int(st, "failure"), pending, bytes);
		if (edgectl_int(st, "activated"))
			printf("  activated, not yet back online %" JSON_INTEGER_FORMAT,
			       edgectl_int(st, "activated"));
		if (edgectl_int(st, "reverted"))
			printf("  reverted %" JSON_INTEGER_FORMAT, edgectl_int(st, "reverted"));
		if (x)
			printf("  (transfer %" JSON_INTEGER_FORMAT ": %" JSON_INTEGER_FORMAT
			       " receiving, %" JSON_INTEGER_FORMAT " verifying, %" JSON_INTEGER_FORMAT
			       " stalled)",
			       edgectl_int(x, "id"), edgectl_int(x, "receiving"),
			       edgectl_int(x, "verifying"), edgectl_int(x, "stalled"));
		putchar('\n');
		print_health(json_object_get(st, "health"));
	}
	printf("events (newest first):\n");
	json_array_foreach(events, i, ev) {
		time_t t = (time_t)(edgectl_int(ev, "ts_ms") / 1000);
		struct tm tm;
		char when[32] = "?";

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
		printf("  %s  %s\n", when, edgectl_str_or(ev, "text", ""));
	}
	return EDGECTL_OK;
}

static void on_sigint(int sig)
{
	(void)sig;
	edgectl_interrupted = 1;
}

static int watch(json_int_t id)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	json_t *args = json_pack("{s:I}", "id", id), *result;
	int rc;

	if (!args)
		return EDGECTL_EDAEMON;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	for (;;) {
		const char *state;
		struct timespec ts = { .tv_sec = WATCH_POLL_MS / 1000,
				       .tv_nsec = (WATCH_POLL_MS % 1000) * 1000000L };
		bool end;

		result = NULL;
		rc = edgectl_call("rollout.status", args, &result);
		if (rc != EDGECTL_OK)
			break;
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		rc = edgectl_globals.json ? edgectl_print_json(result) : print_status(result);
		state = edgectl_str_or(result, "state", "");
		end = strcmp(state, "done") == 0 || strcmp(state, "aborted") == 0 ||
		      strcmp(state, "halted") == 0 || strcmp(state, "reverted") == 0;
		json_decref(result);
		if (rc != EDGECTL_OK || end || fflush(stdout) != 0)
			break;
		while (!edgectl_interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (edgectl_interrupted) {
			rc = EDGECTL_EINTR;
			break;
		}
	}
	json_decref(args);
	return rc;
}

static int rollout_list(int argc, char **argv)
{
	return edgectl_run_plain(argc, argv, rollout_usage, "rollout.list", print_list);
}

static int rollout_status(int argc, char **argv)
{
	char *rest[MAX_ARGS];
	const char *pos[1];
	bool follow = false;
	json_int_t id;
	json_t *args;
	int n = 0, npos, rc;

	if (argc >= MAX_ARGS)
		return usage_error("status", "too many arguments");
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--watch") == 0)
			follow = true;
		else
			rest[n++] = argv[i];
	}
	rc = edgectl_parse_args(n, rest, rollout_usage, NULL, 0, pos, 1, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error("status", "which rollout? (rollout status ID)");
	if (parse_id("status", pos[0], &id) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	if (follow)
		return watch(id);
	args = json_pack("{s:I}", "id", id);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query("rollout.status", args, print_status);
	json_decref(args);
	return rc;
}

static int print_state(json_t *r)
{
	printf("rollout %" JSON_INTEGER_FORMAT ": %s\n", edgectl_int(r, "id"),
	       edgectl_str_or(r, "state", "?"));
	return EDGECTL_OK;
}

/* pause, resume, abort, revert: rollout.<verb> {"id"}. */
static int rollout_verb(int argc, char **argv)
{
	const char *pos[1];
	char cmd[32];
	json_int_t id;
	json_t *args;
	int npos, rc = edgectl_parse_args(argc, argv, rollout_usage, NULL, 0, pos, 1, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0)
		return usage_error(argv[0], "which rollout? (rollout %s ID)", argv[0]);
	if (parse_id(argv[0], pos[0], &id) != EDGECTL_OK)
		return EDGECTL_EUSAGE;
	args = json_pack("{s:I}", "id", id);
	if (!args)
		return EDGECTL_EDAEMON;
	snprintf(cmd, sizeof cmd, "rollout.%s", argv[0]);
	rc = edgectl_query(cmd, args, print_state);
	json_decref(args);
	return rc;
}

int edgectl_cmd_rollout(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} verbs[] = {
		{ "start", rollout_start }, { "list", rollout_list },
		{ "status", rollout_status }, { "pause", rollout_verb },
		{ "resume", rollout_verb }, { "abort", rollout_verb },
		{ "revert", rollout_verb },
	};

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(rollout_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EDGECTL_EUSAGE : EDGECTL_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "edgectl rollout: unknown subcommand '%s'\n", argv[1]);
	fputs(rollout_usage, stderr);
	return EDGECTL_EUSAGE;
}
