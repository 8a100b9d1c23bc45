/* Integration harness: a private world per test — a temp dir, the real
 * mosquitto on a free 127.0.0.1 port, the built edged with a generated
 * config, the simulator, and edgectl — with every wait bounded.
 *
 * Usage in a Check test (fork mode):
 *   struct h_env *e = h_env_new();          // fails the test if impossible
 *   h_broker_start(e);
 *   h_cfg_set(e, "registry.max_devices", "5");
 *   h_edged_start(e);                       // waits for edgectl status
 *   h_sim_start(e, "--count", "20", NULL);
 *   h_sim_wait(e, "sim: registered all", 30000);
 *   json_t *st = h_edgectl_json(e, "status", NULL);
 *   ...
 *   h_env_free(e);                          // stops everything by PID
 *
 * All h_* functions that can fail end the test with a clear message
 * (ck_abort_msg) instead of returning an error: a failed step has no
 * meaningful continuation. Tests run in Check's no-fork mode with
 * h_teardown as checked teardown: if a test fails (or the process exits
 * early: atexit, or its deadline passes: SIGALRM), the tail of every log is
 * printed, every process it started is stopped (SIGTERM, bounded wait,
 * SIGKILL) and the temp dir is kept for inspection. Spawned processes also
 * get PR_SET_PDEATHSIG, so none outlives the test. */
#ifndef EDGE_HARNESS_H
#define EDGE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>
#include <jansson.h>

struct h_proc {
	pid_t pid;          /* 0 = not running */
	char name[32];
	char log_path[512]; /* stdout+stderr */
	int stdin_fd;       /* write end of its stdin pipe, or -1 */
	int status;         /* waitpid status once reaped */
	bool reaped;
};

struct h_env {
	char dir[256];           /* the temp dir */
	char state_dir[320], runtime_dir[320], sock_path[400];
	char edged_conf[320], broker_conf[320];
	char edged_bin[512], edgectl_bin[512], sim_bin[512], mosquitto_bin[512];
	int broker_port;
	struct h_proc broker, edged, sim;
	unsigned n_cfg;
	struct { char name[64]; char value[256]; } cfg[64];
};

/* Checked teardown for Check's no-fork mode (where a failed assertion
 * returns here): if the test did not reach h_env_free, print the logs, stop
 * every process and keep the temp dir. */
void h_teardown(void);
/* Also run fn from h_teardown (after every case, at the deadline, at exit),
 * before the env's own cleanup: a companion harness stops what it started
 * and has not freed yet. Idempotent per fn; at most 8. */
void h_teardown_hook(void (*fn)(void));
/* After `seconds`, print the logs, stop everything and exit 1: the last word
 * before an outer timeout would kill the test silently. */
void h_set_deadline(unsigned seconds);

/* Exit 77 (skip) from main() when the integration prerequisites are missing
 * (no mosquitto binary, no EDGE_BUILD_ROOT); prints why. */
void h_require_prerequisites(void);

/* One integration case: a Check test and its deadline. */
struct h_case {
	const char *name;
	const TTest *test;
	unsigned timeout_s;
};
/* The main() of an integration program: `PROG [CASE]` runs one case (as
 * meson does, one process per case, bounded by its deadline) or all of
 * them, in Check's no-fork mode with h_teardown as checked teardown, and
 * reports TAP. Returns the exit status (2: usage or unknown case). */
int h_run_cases(int argc, char **argv, const char *suite_name, const struct h_case *cases,
		size_t n_cases);

/* Up to 4 envs may live at once (a multi-site test has one per gateway);
 * h_teardown stops every one not freed. */
struct h_env *h_env_new(void);
/* A new env with the broker and edged started; cfg: NULL, or pairs of
 * "section.key", "value" ending with NULL. */
struct h_env *h_world(const char *const *cfg);
/* The simulator's id of node i ("sim-00042"), in one of 4 rotating static
 * buffers (so a few may be used in one expression). */
const char *h_node_id(unsigned i);
/* Stops everything, removes the temp dir, marks the test as passed. */
void h_env_free(struct h_env *e);

/* Bounded sleep in milliseconds (for paced polling). */
void h_sleep_ms(unsigned ms);

/* ---- broker */
void h_broker_start(struct h_env *e); /* waits until the port accepts */
void h_broker_stop(struct h_env *e);  /* SIGTERM, bounded wait, SIGKILL */

/* ---- edged: config by key ("section.key"), then start */
void h_cfg_set(struct h_env *e, const char *name, const char *value);
void h_edged_write_config(struct h_env *e);
/* Write config, start, wait until `edgectl status` answers and the broker
 * connection is up (when a broker runs). */
void h_edged_start(struct h_env *e);
/* SIGTERM and bounded wait; returns the exit status (WEXITSTATUS) or -1. */
int h_edged_stop(struct h_env *e);
bool h_proc_alive(struct h_proc *p);
void h_proc_signal(struct h_proc *p, int sig);

/* ---- edgectl: argv is NULL-terminated after `cmd`; "-s SOCK" and "--json"
 * are added. Returns the exit code; *out gets the parsed JSON of stdout
 * (the "result" object when edgectl prints the whole response) or NULL. */
int h_edgectl(struct h_env *e, json_t **out, const char *cmd, ...)
	__attribute__((sentinel));
/* Same, but the command must succeed with JSON: returns it (caller decrefs). */
json_t *h_edgectl_json(struct h_env *e, const char *cmd, ...)
	__attribute__((sentinel));
/* Run edgectl against an explicit socket path; returns the exit code. */
int h_edgectl_at(struct h_env *e, const char *sock, const char *cmd);

/* Integer at a dotted path ("nodes.online"); -1 if absent or not a number. */
long long h_json_int(json_t *j, const char *path);
const char *h_json_str(json_t *j, const char *path);

/* A whole file, NUL-terminated (a new buffer); NULL if it cannot be read.
 * len_out (may be NULL) gets its length. */
char *h_read_file(const char *path, size_t *len_out);

/* Poll `edgectl status --json` (every 100 ms, at most timeout_ms) until the
 * integer at path satisfies `op` ("==", ">=", "<=") value. Fails the test
 * with the last value seen otherwise. */
void h_wait_status(struct h_env *e, const char *path, const char *op,
		   long long value, unsigned timeout_ms);
/* Poll `edgectl devices show ID --json` until "state" equals state; returns
 * the final device JSON (caller decrefs). */
json_t *h_wait_device_state(struct h_env *e, const char *id, const char *state,
			    unsigned timeout_ms);

/* ---- simulator: extra args NULL-terminated; --host/--port/--duration-s added */
void h_sim_start(struct h_env *e, ...) __attribute__((sentinel));
/* Wait for a line containing `needle` in the sim's output (from the start
 * of its log); returns that line (static buffer). */
const char *h_sim_wait(struct h_env *e, const char *needle, unsigned timeout_ms);
/* Send one control command and wait for its "cmd-ok" acknowledgement. */
void h_sim_cmd(struct h_env *e, const char *line);
/* Ask for "stats" and return the value of key in that line. */
long long h_sim_stat(struct h_env *e, const char *key);
/* Copy of the sim's log (caller frees). */
char *h_sim_output(struct h_env *e);

/* ---- raw control-socket client */
/* Send `len` bytes to the socket at path, then read one framed response
 * (bounded by timeout_ms). Returns 0 and *resp (parsed body), or -errno
 * (connect failure, EOF before a response: -ECONNRESET). */
int h_ctl_raw(const char *path, const void *data, size_t len, json_t **resp,
	      unsigned timeout_ms);
/* Frame and send {"cmd": cmd} as h_ctl_raw. */
int h_ctl_request(const char *path, const char *cmd, json_t **resp,
		  unsigned timeout_ms);

/* Run fn in a forked child under uid/gid `nobody` (no supplementary
 * groups); returns the child's exit code (or -1 on a signal/timeout). */
int h_run_as_nobody(int (*fn)(void *ud), void *ud, unsigned timeout_ms);

/* Copy of edged's log (stdout+stderr, "<level>group: message" lines) so
 * far, across restarts (caller frees). */
char *h_edged_log(struct h_env *e);

/* ---- access control and TLS */
/* Extra `edgectl broker-config` arguments for every later broker start in
 * this process (NULL-terminated, borrowed until then; NULL = none), e.g.
 * --password-file F --acl-file F --tls-listener P ... */
void h_broker_config_args(const char *const *args);
/* A free 127.0.0.1 TCP port (for a second listener). */
int h_free_port(void);
/* Run argv (argv[0] is a path: no PATH look-up) with stdout to
 * out_path (NULL: discarded), stderr discarded; bounded to 30 s; fails the
 * test unless it exits 0. */
void h_run(const char *out_path, const char *const *argv);

/* ---- simulator restarts (a second run appends to the same log) */
/* SIGTERM and bounded wait; returns the exit status (WEXITSTATUS) or -1. */
int h_sim_stop(struct h_env *e);
/* Bytes in the simulator's log so far: where a later run's lines start. */
long h_sim_log_offset(struct h_env *e);
/* As h_sim_wait, for a line starting at or after byte offset `from`. */
const char *h_sim_wait_after(struct h_env *e, long from, const char *needle,
			     unsigned timeout_ms);

/* ---- edgectl with its own bound and both streams */
/* Run edgectl -s SOCK args... (NULL-terminated; no --json added), bounded by
 * timeout_ms (fails the test beyond it). *out_text / *err_text (either may
 * be NULL) get its stdout / stderr (caller frees). Returns the exit code. */
int h_edgectl_capture(struct h_env *e, unsigned timeout_ms, char **out_text, char **err_text,
		      const char *const *args);

/* ---- small shared pieces */
/* One control request {"cmd": cmd, "args": <args_fmt, ...>} (args a JSON
 * object text, printf-formatted); the parsed answer (never NULL). */
json_t *h_ctl_call(struct h_env *e, const char *cmd, const char *args_fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The error code of a control answer, NULL when it succeeded. */
const char *h_ctl_error(json_t *answer);
/* Copy a file (0644). */
void h_copy_file(const char *from, const char *to);
/* dir 0755 and every entry in it 0644: the broker (another user under
 * systemd, the same in tests) reads the identity files edged wrote. */
void h_make_readable(const char *dir);

/* The product's access control, as an operator sets it up: `edgectl
 * broker-init` writes the gateway CA (state_dir/pki) and the broker's
 * identity files (<dir>/identity: passwords, the generated ACL, ...); the
 * broker starts with --identity-dir and extra (more broker-config
 * arguments, NULL-terminated; NULL: none); edged's settings follow (MQTT
 * user edged with its secret, provisioned admission, broker.identity_dir,
 * pki_dir, pid_file, file_mode). edged is not started. */
struct h_secured {
	char idir[400], pki[400], secret[400], pidfile[400];
};
void h_broker_start_secured(struct h_env *e, const char *const *extra, struct h_secured *out);
/* Reap p within timeout_ms (0: only look); true when it is gone. */
bool h_proc_reap(struct h_proc *p, unsigned timeout_ms);
/* The last lines of a log on stderr, under a title (a failed test's
 * evidence). */
void h_print_log_tail(const char *title, const char *path);
/* rm -r dir (a test's own files). */
void h_remove_tree(const char *dir);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t h_now_ms(void);
/* The test helper over lib/pki (tests/unit/pki/pki_tool.c) in the build
 * tree; fails the test when it is not built. */
const char *h_pki_tool(void);

/* ---- anomaly reports: what each simulated node generated */
/* One `sim: events node=ID epoch=E first=F last=L dropped=D acked=K held=H`
 * line of the simulator. */
struct h_sim_events {
	char id[72];
	unsigned long epoch, first, last, dropped, acked, held;
};
/* The per-node lines after the simulator's final summary (it has stopped);
 * fails the test without a summary or beyond max lines. Returns how many. */
unsigned h_sim_events_parse(struct h_env *e, struct h_sim_events *out, unsigned max);
/* Until the fleet generated at least `want` events in all. */
void h_wait_sim_events(struct h_env *e, long long want, unsigned timeout_ms);
/* Until no event is held unacked (after `calm all`); none may be dropped. */
void h_wait_sim_all_acked(struct h_env *e, unsigned timeout_ms);

/* H_ASAN: defined in a build with AddressSanitizer (__SANITIZE_ADDRESS__, or
 * __has_feature with clang), where edged, edgectl, the simulator and the
 * test are several times slower: the fleet cases size down there. */
#if defined(__SANITIZE_ADDRESS__)
#define H_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H_ASAN 1
#endif
#endif

#endif
