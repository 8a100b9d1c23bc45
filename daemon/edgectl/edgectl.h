/* edgectl: the operator's command line for edged. Every fleet question goes
 * through the daemon's control socket; edgectl never opens the database. */
#ifndef EDGECTL_H
#define EDGECTL_H

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes (documented in `edgectl --help`). */
enum edgectl_exit {
	EDGECTL_OK = 0,
	EDGECTL_EDAEMON = 1,      /* the daemon reported an error (or I/O failed) */
	EDGECTL_EUSAGE = 2,       /* bad usage */
	EDGECTL_ENOTRUNNING = 3,  /* no socket / connection refused */
	EDGECTL_EPERM = 4,        /* permission denied / not authorised */
	/* Not an exit code: a stream stopped by SIGINT (edgectl_interrupted);
	 * the command decides what that means. */
	EDGECTL_EINTR = 130,
};

/* Global options, set before a subcommand runs. */
struct edgectl_globals {
	const char *socket_path;
	bool json;
};
extern struct edgectl_globals edgectl_globals;

/* Sends {"cmd": cmd, "args": args} (args: borrowed, may be NULL) and waits for
 * the answer. On success *result is a new reference to the result object and
 * EDGECTL_OK is returned; otherwise an error was printed to stderr and the
 * exit code is returned. */
int edgectl_call(const char *cmd, json_t *args, json_t **result);

/* As edgectl_call for a command that may stream: each intermediate result
 * ({"more": true} frame) is handed to on_more (borrowed: freed once it
 * returns, so memory is one frame's whatever the stream's length; may be
 * NULL) as it arrives; a return other than EDGECTL_OK stops the stream
 * (the connection is closed) and is returned. The final result goes to
 * *result as with edgectl_call. no_timeout: wait for frames without the
 * receive timeout (a follower that may stay silent for hours). Returns
 * EDGECTL_EINTR, nothing printed, when a signal handler set
 * edgectl_interrupted while waiting (a handler installed without
 * SA_RESTART). */
int edgectl_call_stream(const char *cmd, json_t *args, bool no_timeout,
			int (*on_more)(json_t *result, void *ud), void *ud, json_t **result);
extern volatile sig_atomic_t edgectl_interrupted;

/* The error code ("budget", "too_slow", ...) of the last call that failed
 * with an error answer from edged, "closed" if edged closed the connection
 * before its (final) answer; "" otherwise. */
const char *edgectl_last_error_code(void);
/* The whole error object of that answer (borrowed, valid until the next
 * call; NULL if there was none): the detail fields some codes carry beside
 * code and message ("reason" of refused, "skipped" of no_target). */
json_t *edgectl_last_error(void);

/* Prints a result as indented JSON on stdout (for --json). */
int edgectl_print_json(json_t *result);

/* The shape of every daemon command: edgectl_call, then the result as JSON
 * (--json) or through print (human form). args is borrowed (may be NULL).
 * Returns the exit code. */
int edgectl_query(const char *cmd, json_t *args, int (*print)(json_t *result));

/* Common subcommand option parsing: --json, -h/--help. Positional arguments
 * and unknown options are left for the caller: returns the index of the
 * first unhandled argument in argv (or argc), -1 if help was printed
 * (exit 0), -2 on bad usage (message printed). */
struct edgectl_opt {
	const char *name;   /* "--state" */
	const char **value; /* where to put its argument */
};
int edgectl_parse_args(int argc, char **argv, const char *usage,
		       const struct edgectl_opt *opts, int nopts, const char **positional,
		       int max_positional, int *npositional);
/* Exit code for a negative edgectl_parse_args result. */
int edgectl_parse_exit(int parse_rc);

/* A subcommand with no arguments but --json/--help: parse, then
 * edgectl_query(cmd, no args, print). Returns the exit code. */
int edgectl_run_plain(int argc, char **argv, const char *usage, const char *cmd,
		      int (*print)(json_t *result));

/* A tag's syntax as edged checks it (1 to 32 of A-Z a-z 0-9 _ . -), so
 * that a typo is a usage error (cmd_devices.c). */
bool edgectl_tag_valid(const char *tag);

/* Subcommands: argv[0] is the subcommand name. Return an exit code. */
int edgectl_cmd_status(int argc, char **argv);
int edgectl_cmd_devices(int argc, char **argv);
int edgectl_cmd_nodes(int argc, char **argv);
int edgectl_cmd_config(int argc, char **argv);
int edgectl_cmd_reload(int argc, char **argv);
int edgectl_cmd_anomalies(int argc, char **argv);
/* `edgectl models` (cmd_models.c): the model packages stored by edged. */
int edgectl_cmd_models(int argc, char **argv);
/* `edgectl ota` (cmd_ota.c): send a stored model to nodes, follow, cancel. */
int edgectl_cmd_ota(int argc, char **argv);
/* `edgectl rollout` (cmd_rollout.c): staged rollouts of a stored model. */
int edgectl_cmd_rollout(int argc, char **argv);
/* `edgectl offload` (cmd_offload.c): inference offload and shadow checks. */
int edgectl_cmd_offload(int argc, char **argv);
/* Offline model tools (work on a local file, no daemon). */
int edgectl_cmd_model(int argc, char **argv);
/* `edgectl keys` (cmd_keys.c): model-signing keys, offline. */
int edgectl_cmd_keys(int argc, char **argv);
/* Offline: print the broker configuration (mosquitto.conf). */
int edgectl_cmd_broker_config(int argc, char **argv);
/* Offline: create the gateway CA and the broker's identity files. */
int edgectl_cmd_broker_init(int argc, char **argv);
/* `edgectl central` (cmd_central.c): the central PostgreSQL, offline. */
int edgectl_cmd_central(int argc, char **argv);
/* A connection to the central database (a libpq PGconn) from conninfo,
 * else central.conninfo of the edged.conf at config_path (NULL: the
 * default path); check_schema: refuse a schema this build cannot read.
 * Returns EDGECTL_OK and *out (the caller PQfinish-es it), or the exit code
 * with the reason printed (EDGECTL_ENOTRUNNING: cannot connect). */
struct pg_conn;
int edgectl_central_connect(const char *conninfo, const char *config_path, bool check_schema,
			    struct pg_conn **out);

/* Shared by the OTA commands (defined in cmd_models.c). */
/* A byte count as a table cell: "812 B", "1.5 KiB", "12.0 MiB". */
void edgectl_format_bytes(char *buf, size_t cap, long long n);
/* EDGECTL_OK if ref can name a stored model (a digest or SHA-256 prefix of
 * 8 to 64 hex digits, NAME@VERSION or NAME); else a message naming `what`
 * ("models show") is printed and EDGECTL_EUSAGE returned. */
int edgectl_check_model_ref(const char *what, const char *ref);
/* "title (n): a, b, c" wrapped at 78 columns; "none" for an empty array. */
void edgectl_print_id_list(const char *title, json_t *ids);
/* A table ID REASON DETAIL of [{"id","reason","detail"}] under "title (n):"
 * on out; nothing for an empty array. Returns an exit code. */
int edgectl_print_unfit(FILE *out, const char *title, json_t *unfit);

/* A string member of an answer, or `none` when it is absent or empty. */
static inline const char *edgectl_str_or(json_t *obj, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && s[0] ? s : none;
}

/* An integer member of an answer, 0 when absent. */
static inline json_int_t edgectl_int(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

/* A number member of an answer (integer or real), NAN when absent or null. */
static inline double edgectl_real(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

#endif
