/* Node identities end to end, through the product only: the broker's files
 * made by `edgectl broker-init`, mosquitto configured by `edgectl
 * broker-config --identity-dir`, edged managing that directory (SIGHUP to
 * the broker after each change, admission of provisioned nodes only), nodes
 * provisioned with `edgectl nodes provision --out DIR`, and the simulator
 * connecting with those bundles (`edge-sim --bundle-dir DIR`).
 *
 * Nodes are named as the simulator names them: n-00000, n-00001, ...
 * Every wait is bounded and waits for an observable event: a simulator line
 * ("lost", "connack-refused", "connect-failed", "registered all"), a device
 * state, a status counter. Run one case with `test-identity CASE`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_run.h"

#define PREFIX "edge/v1"

/* ---- the world */

struct idw {
	struct h_env *e;
	char idir[400];    /* broker.identity_dir */
	char pki[400];     /* broker.pki_dir: ca.key, ca.crt */
	char secret[400];  /* edged's broker password (broker-init writes it) */
	char pidfile[400]; /* broker.pid_file */
	char extra_pw[400];/* admission case: the broker's own password file */
	char tls_port_s[16];
	int tls_port;
	const char *args[16];
};

struct world_opts {
	bool mutual_tls;       /* a TLS listener that requires client certificates;
				  the bundles point there */
	const char *extra_user; /* a broker user edged does not know (admission) */
	const char *extra_pass;
};

/* n-00042, in one of 8 rotating buffers. */
static const char *nid(unsigned i)
{
	static char buf[8][32];
	static unsigned slot;
	char *b = buf[slot++ % 8];

	snprintf(b, sizeof buf[0], "n-%05u", i);
	return b;
}

static char *slurp(const char *path)
{
	char *text = h_read_file(path, NULL);

	ck_assert_msg(text != NULL, "read %s: %s", path, strerror(errno));
	return text;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_msg(fd >= 0, "write %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(close(fd), 0);
	chmod(path, mode);
}

static void copy_file(const char *from, const char *to)
{
	char *text = slurp(from);

	write_text(to, text, 0600);
	free(text);
}

static void make_dir(const char *path)
{
	ck_assert_msg(mkdir(path, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", path,
		      strerror(errno));
}

/* The admission case's broker password file: everything edged wrote into
 * identity_dir/passwd plus one user edged has never provisioned. */
static void write_extra_passwd(struct idw *w, const struct world_opts *o)
{
	char tmp[440], path[440], *ours, *extra, *all;

	snprintf(tmp, sizeof tmp, "%s/extra-user", w->e->dir);
	const char *argv[] = { h_pki_tool(), "passwd", tmp, o->extra_user, o->extra_pass, NULL };
	h_run(NULL, argv);
	snprintf(path, sizeof path, "%s/passwd", w->idir);
	ours = slurp(path);
	extra = slurp(tmp);
	all = malloc(strlen(ours) + strlen(extra) + 2);
	ck_assert_ptr_nonnull(all);
	sprintf(all, "%s%s%s", ours, ours[0] && ours[strlen(ours) - 1] != '\n' ? "\n" : "",
		extra);
	write_text(w->extra_pw, all, 0644);
	free(ours);
	free(extra);
	free(all);
}

/* Extra edged settings for the next world() ("section.key", "value", ...,
 * NULL). */
static const char *const *world_cfg_extra;

static void world(struct idw *w, const struct world_opts *o)
{
	char pid[32];
	int n = 0;

	memset(w, 0, sizeof *w);
	w->e = h_env_new();
	snprintf(w->idir, sizeof w->idir, "%s/identity", w->e->dir);
	snprintf(w->pki, sizeof w->pki, "%s/pki", w->e->state_dir);
	snprintf(w->secret, sizeof w->secret, "%s/gateway-secret", w->e->dir);
	snprintf(w->pidfile, sizeof w->pidfile, "%s/mosquitto.pid", w->e->dir);
	snprintf(w->extra_pw, sizeof w->extra_pw, "%s/broker-passwd", w->e->dir);
	ck_assert_msg(mkdir(w->e->state_dir, 0750) == 0, "mkdir %s: %s", w->e->state_dir,
		      strerror(errno));

	/* The broker's files and the gateway CA, as an operator makes them. */
	const char *init[] = { w->e->edgectl_bin, "broker-init", "--dir", w->idir, "--pki-dir",
			       w->pki, "--name", "edged-test-ca", "--san", "127.0.0.1",
			       "--gateway-user", "edged", "--gateway-secret", w->secret, NULL };
	h_run(NULL, init);
	h_make_readable(w->idir);

	w->args[n++] = "--identity-dir";
	w->args[n++] = w->idir;
	if (o->mutual_tls) {
		w->tls_port = h_free_port();
		snprintf(w->tls_port_s, sizeof w->tls_port_s, "%d", w->tls_port);
		w->args[n++] = "--tls-listener";
		w->args[n++] = w->tls_port_s;
		w->args[n++] = "--tls-bind";
		w->args[n++] = "127.0.0.1";
		w->args[n++] = "--require-certificate";
	}
	if (o->extra_user) {
		write_extra_passwd(w, o);
		w->args[n++] = "--password-file";
		w->args[n++] = w->extra_pw;
	}
	w->args[n] = NULL;
	h_broker_config_args(w->args);
	h_broker_start(w->e);
	h_broker_config_args(NULL);
	snprintf(pid, sizeof pid, "%d\n", (int)w->e->broker.pid);
	write_text(w->pidfile, pid, 0644);

	h_cfg_set(w->e, "mqtt.username", "edged");
	h_cfg_set(w->e, "mqtt.password_file", w->secret);
	h_cfg_set(w->e, "registry.admission", "provisioned");
	h_cfg_set(w->e, "broker.identity_dir", w->idir);
	h_cfg_set(w->e, "broker.pki_dir", w->pki);
	h_cfg_set(w->e, "broker.pid_file", w->pidfile);
	h_cfg_set(w->e, "broker.file_mode", "0644");
	if (o->mutual_tls) {
		char url[64];

		snprintf(url, sizeof url, "mqtts://127.0.0.1:%d", w->tls_port);
		h_cfg_set(w->e, "broker.node_url", url);
	}
	for (const char *const *c = world_cfg_extra; c && c[0]; c += 2)
		h_cfg_set(w->e, c[0], c[1]);
	h_edged_start(w->e);
}

/* `edgectl nodes provision ARGS...`; returns the exit code, *err (may be
 * NULL) gets stderr. */
static int provision(struct idw *w, char **err, unsigned timeout_ms, const char *const *args)
{
	const char *argv[40];
	size_t n = 0;

	argv[n++] = "nodes";
	argv[n++] = "provision";
	for (; *args; args++) {
		ck_assert_uint_lt(n, sizeof argv / sizeof argv[0] - 1);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	return h_edgectl_capture(w->e, timeout_ms, NULL, err, argv);
}

static void provision_ok(struct idw *w, const char *const *args)
{
	char *err = NULL;
	int rc = provision(w, &err, 60000, args);

	ck_assert_msg(rc == 0, "edgectl nodes provision: exit %d: %s", rc, err);
	free(err);
}

static json_t *revoke_node(struct idw *w, const char *id)
{
	json_t *r = NULL;
	int rc = h_edgectl(w->e, &r, "nodes", "revoke", id, NULL);

	ck_assert_msg(rc == 0 && r, "edgectl nodes revoke %s: exit %d", id, rc);
	return r;
}

/* The entry of id in `edgectl nodes --json` (a new reference) and the
 * list's counts. */
static json_t *node_entry(struct idw *w, const char *id, long long *active, long long *revoked)
{
	json_t *list = h_edgectl_json(w->e, "nodes", NULL), *n, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(list, "nodes"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			found = json_incref(n);
	if (active)
		*active = h_json_int(list, "active");
	if (revoked)
		*revoked = h_json_int(list, "revoked");
	json_decref(list);
	ck_assert_msg(found != NULL, "edgectl nodes does not list %s", id);
	return found;
}

static void sim_start_bundles(struct idw *w, const char *dir, unsigned count, bool tls)
{
	char n[16];

	snprintf(n, sizeof n, "%u", count);
	/* The broker's address comes from the bundles; --port overrides the
	 * harness's plain port with the TLS one for certificate nodes. */
	if (tls)
		h_sim_start(w->e, "--port", w->tls_port_s, "--id-prefix", "n", "--count", n,
			    "--bundle-dir", dir, "--reconnect-s", "0.2", "--reconnect-max-s",
			    "0.5", NULL);
	else
		h_sim_start(w->e, "--id-prefix", "n", "--count", n, "--bundle-dir", dir,
			    "--reconnect-s", "0.2", "--reconnect-max-s", "0.5", NULL);
}

/* Wait for a simulator line after `from` containing one of two needles. */
static void sim_wait_either(struct idw *w, long from, const char *a, const char *b,
			   unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		char *text = h_sim_output(w->e);
		size_t len = strlen(text);
		const char *tail = (size_t)from <= len ? text + from : text + len;
		bool seen = strstr(tail, a) || strstr(tail, b);

		free(text);
		if (seen)
			return;
		ck_assert_msg(h_now_ms() < end, "no '%s' or '%s' from edge-sim within %u ms (see %s)",
			      a, b, timeout_ms, w->e->sim.log_path);
		h_sleep_ms(50);
	}
}

/* Poll the simulator's stats until key == value. */
static void wait_sim_stat(struct idw *w, const char *key, long long value, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	long long v;

	while ((v = h_sim_stat(w->e, key)) != value) {
		ck_assert_msg(h_now_ms() < end, "edge-sim %s stayed %lld, expected %lld", key, v,
			      value);
		h_sleep_ms(50);
	}
}

static void world_free(struct idw *w)
{
	h_env_free(w->e);
}

/* ---- a fresh subscriber's view of the retained messages */

struct probe {
	int connack, subacks;
	bool lost, witness_seen;
	char victim_filter[128], witness_topic[128];
	int victim_retained;  /* retained, non-empty messages under the victim */
	int control_retained; /* same under the control node */
	char control_filter[128];
};

static void probe_on_connect(struct mosquitto *m, void *ud, int rc, int flags,
			     const mosquitto_property *p)
{
	((struct probe *)ud)->connack = rc;
}

static void probe_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *q,
			       const mosquitto_property *p)
{
	((struct probe *)ud)->subacks++;
}

static void probe_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
			     const mosquitto_property *p)
{
	struct probe *pr = ud;
	bool match = false;

	if (strcmp(msg->topic, pr->witness_topic) == 0) {
		pr->witness_seen = true;
		return;
	}
	if (!msg->retain || msg->payloadlen == 0)
		return;
	mosquitto_topic_matches_sub(pr->victim_filter, msg->topic, &match);
	if (match)
		pr->victim_retained++;
	mosquitto_topic_matches_sub(pr->control_filter, msg->topic, &match);
	if (match)
		pr->control_retained++;
}

static void probe_loop_until(struct mosquitto *m, struct probe *pr, bool (*done)(struct probe *),
			     const char *what)
{
	uint64_t end = h_now_ms() + 10000;

	while (!done(pr) && !pr->lost && h_now_ms() < end)
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			pr->lost = true;
	ck_assert_msg(done(pr), "retained probe: no %s within 10 s%s", what,
		      pr->lost ? " (connection lost)" : "");
}

static bool probe_connacked(struct probe *pr) { return pr->connack >= 0; }
static bool probe_first_suback(struct probe *pr) { return pr->subacks >= 2; }
static bool probe_witnessed(struct probe *pr) { return pr->witness_seen; }

/* Connects as the gateway user (edged must be stopped: the broker ties the
 * client id to the username) and counts the retained messages under
 * victim's and control's topics. The broker queues a subscription's
 * retained messages when it handles the SUBSCRIBE, in order, so once the
 * witness's retained status (asked for by a later SUBSCRIBE) arrives, every
 * retained message of the first two subscriptions has arrived before it. */
static void probe_retained(struct idw *w, const char *victim, const char *control,
			   const char *witness, struct probe *pr)
{
	char *pass = slurp(w->secret);
	struct mosquitto *m;

	pass[strcspn(pass, "\r\n")] = '\0';
	memset(pr, 0, sizeof *pr);
	pr->connack = -1;
	snprintf(pr->victim_filter, sizeof pr->victim_filter, PREFIX "/%s/#", victim);
	snprintf(pr->control_filter, sizeof pr->control_filter, PREFIX "/%s/#", control);
	snprintf(pr->witness_topic, sizeof pr->witness_topic, PREFIX "/%s/status", witness);
	m = mosquitto_new("edged", true, pr);
	ck_assert_ptr_nonnull(m);
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(m, probe_on_connect);
	mosquitto_subscribe_v5_callback_set(m, probe_on_subscribe);
	mosquitto_message_v5_callback_set(m, probe_on_message);
	ck_assert_int_eq(mosquitto_username_pw_set(m, "edged", pass), MOSQ_ERR_SUCCESS);
	free(pass);
	ck_assert_int_eq(mosquitto_connect_bind_v5(m, "127.0.0.1", w->e->broker_port, 30, NULL,
						   NULL), MOSQ_ERR_SUCCESS);
	probe_loop_until(m, pr, probe_connacked, "CONNACK");
	ck_assert_int_eq(pr->connack, 0);
	ck_assert_int_eq(mosquitto_subscribe_v5(m, NULL, pr->victim_filter, 0, 0, NULL),
			 MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_subscribe_v5(m, NULL, pr->control_filter, 0, 0, NULL),
			 MOSQ_ERR_SUCCESS);
	probe_loop_until(m, pr, probe_first_suback, "SUBACK");
	ck_assert_int_eq(mosquitto_subscribe_v5(m, NULL, pr->witness_topic, 0, 0, NULL),
			 MOSQ_ERR_SUCCESS);
	probe_loop_until(m, pr, probe_witnessed, "retained status of the witness node");
	mosquitto_disconnect(m);
	mosquitto_loop(m, 100, 1);
	mosquitto_destroy(m);
}

/* ---- cases */

/* Ten nodes provisioned with one edgectl call register with their bundles
 * under admission=provisioned; an id that has an identity is refused
 * `exists` unless --rotate. */
START_TEST(provisioned_nodes_register_and_exists_is_refused)
{
	struct idw w;
	struct world_opts o = { 0 };
	char dir[440], path[480], *err = NULL;
	struct stat st;
	json_t *n, *status;
	long long active = -1;

	world(&w, &o);
	snprintf(dir, sizeof dir, "%s/bundles", w.e->dir);
	make_dir(dir);
	const char *args[] = { "--out", dir, nid(0), nid(1), nid(2), nid(3), nid(4), nid(5),
			       nid(6), nid(7), NULL };
	provision_ok(&w, args);
	const char *more[] = { "--out", dir, nid(8), nid(9), NULL };
	provision_ok(&w, more);
	/* a bundle holds a secret: private */
	snprintf(path, sizeof path, "%s/%s.json", dir, nid(9));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	sim_start_bundles(&w, dir, 10, false);
	h_sim_wait(w.e, "sim: registered all 10 ", 60000);
	h_wait_status(w.e, "nodes.online", "==", 10, 10000);
	status = h_edgectl_json(w.e, "status", NULL);
	ck_assert_int_eq(h_json_int(status, "identities.active"), 10);
	ck_assert(json_is_true(json_object_get(json_object_get(status, "identities"), "managed")));
	json_decref(status);

	n = node_entry(&w, nid(3), &active, NULL);
	ck_assert_int_eq(active, 10);
	ck_assert_str_eq(json_string_value(json_object_get(n, "kind")), "password");
	ck_assert_str_eq(json_string_value(json_object_get(n, "state")), "active");
	json_decref(n);

	/* An existing id: refused as a whole, nothing new written. */
	char dir2[440];
	snprintf(dir2, sizeof dir2, "%s/again", w.e->dir);
	make_dir(dir2);
	const char *again[] = { "--out", dir2, "n-00010", nid(3), NULL };
	int rc = provision(&w, &err, 30000, again);
	ck_assert_msg(rc == 1, "provisioning an existing id: exit %d (%s)", rc, err);
	ck_assert_msg(strstr(err, "exists") && strstr(err, nid(3)),
		      "the refusal does not say exists and name %s: %s", nid(3), err);
	free(err);
	snprintf(path, sizeof path, "%s/n-00010.json", dir2);
	ck_assert_int_ne(access(path, F_OK), 0);
	n = node_entry(&w, nid(3), &active, NULL);
	ck_assert_int_eq(active, 10);
	json_decref(n);

	/* With --rotate it is done. */
	const char *rot[] = { "--rotate", "--out", dir2, nid(3), NULL };
	provision_ok(&w, rot);
	n = node_entry(&w, nid(3), NULL, NULL);
	ck_assert(json_is_integer(json_object_get(n, "rotated")));
	json_decref(n);
	h_sim_stop(w.e);
	world_free(&w);
}
END_TEST

/* After --rotate the node's old password is refused by the broker (CONNACK
 * 0x87) and the new bundle connects and registers. */
START_TEST(rotated_password_old_refused_new_registers)
{
	struct idw w;
	struct world_opts o = { 0 };
	char a[440], b[440];
	long off;

	world(&w, &o);
	snprintf(a, sizeof a, "%s/first", w.e->dir);
	snprintf(b, sizeof b, "%s/rotated", w.e->dir);
	make_dir(a);
	make_dir(b);
	const char *first[] = { "--out", a, nid(0), NULL };
	provision_ok(&w, first);
	sim_start_bundles(&w, a, 1, false);
	h_sim_wait(w.e, "sim: registered all 1 ", 30000);

	off = h_sim_log_offset(w.e);
	const char *rot[] = { "--rotate", "--out", b, nid(0), NULL };
	provision_ok(&w, rot);
	/* The old password at the next connect (the broker may also have cut
	 * the live session at its reload: the first refusal is the line). */
	h_sim_cmd(w.e, "kill 0");
	h_sim_cmd(w.e, "connect 0");
	h_sim_wait_after(w.e, off, "sim: connack-refused node=n-00000 reason=0x87", 10000);
	ck_assert_int_eq(h_sim_stat(w.e, "registered"), 0);
	h_sim_stop(w.e);

	off = h_sim_log_offset(w.e);
	sim_start_bundles(&w, b, 1, false);
	h_sim_wait_after(w.e, off, "sim: registered all 1 ", 30000);
	json_decref(h_wait_device_state(w.e, nid(0), "online", 10000));
	h_sim_stop(w.e);
	world_free(&w);
}
END_TEST

/* Revoking a connected password node: edgectl returns once the broker was
 * told; the node's live session ends within a bound, its reconnects are
 * refused, the registry keeps it as revoked, its retained status is gone
 * for a fresh subscriber, the log has the audit line. The other nodes stay
 * registered. */
START_TEST(revoked_password_node_is_cut_off)
{
	struct idw w;
	struct world_opts o = { 0 };
	char dir[440], needle[160];
	json_t *r, *dev, *n;
	long off;
	long long active = -1, revoked = -1;
	uint64_t t0, t_cmd, t_lost;
	struct probe pr;
	char *log;

	world(&w, &o);
	snprintf(dir, sizeof dir, "%s/bundles", w.e->dir);
	make_dir(dir);
	const char *args[] = { "--out", dir, nid(0), nid(1), nid(2), NULL };
	provision_ok(&w, args);
	sim_start_bundles(&w, dir, 3, false);
	h_sim_wait(w.e, "sim: registered all 3 ", 30000);
	h_wait_status(w.e, "nodes.online", "==", 3, 10000);

	off = h_sim_log_offset(w.e);
	t0 = h_now_ms();
	r = revoke_node(&w, nid(1));
	t_cmd = h_now_ms();
	ck_assert(json_is_true(json_object_get(r, "revoked")));
	ck_assert(json_is_false(json_object_get(r, "already")));
	ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "password");
	ck_assert_str_eq(json_string_value(json_object_get(r, "registry")), "revoked");
	ck_assert(json_is_true(json_object_get(r, "broker_reloaded")));
	ck_assert_str_eq(json_string_value(json_object_get(r, "reload")), "signal");
	ck_assert_int_ge(h_json_int(r, "retained_cleared"), 1);
	json_decref(r);

	/* the live session ends, and every reconnect is refused */
	h_sim_wait_after(w.e, off, "sim: lost node=n-00001 ", 10000);
	t_lost = h_now_ms();
	fprintf(stderr, "# revoke: edgectl returned after %llu ms, session cut after %llu ms\n",
		(unsigned long long)(t_cmd - t0), (unsigned long long)(t_lost - t0));
	h_sim_wait_after(w.e, off, "sim: connack-refused node=n-00001 reason=0x87", 10000);

	dev = h_wait_device_state(w.e, nid(1), "revoked", 5000);
	json_decref(dev);
	ck_assert_int_eq(h_sim_stat(w.e, "registered"), 2);

	/* the list says so; a second revoke is "already" */
	n = node_entry(&w, nid(1), &active, &revoked);
	ck_assert_str_eq(json_string_value(json_object_get(n, "state")), "revoked");
	ck_assert(json_is_integer(json_object_get(n, "revoked")));
	ck_assert_int_eq(active, 2);
	ck_assert_int_eq(revoked, 1);
	json_decref(n);
	r = revoke_node(&w, nid(1));
	ck_assert(json_is_true(json_object_get(r, "already")));
	json_decref(r);
	{
		json_t *only = h_edgectl_json(w.e, "nodes", "--state", "revoked", NULL);

		ck_assert_int_eq(json_array_size(json_object_get(only, "nodes")), 1);
		ck_assert_str_eq(h_json_str(json_array_get(json_object_get(only, "nodes"), 0),
					    "id"), nid(1));
		json_decref(only);
	}

	/* the service's counters */
	{
		json_t *st = h_edgectl_json(w.e, "status", NULL);

		ck_assert_int_eq(h_json_int(st, "identities.active"), 2);
		ck_assert_int_eq(h_json_int(st, "identities.revoked"), 1);
		ck_assert_int_eq(h_json_int(st, "identities.revocations"), 1);
		ck_assert_int_eq(h_json_int(st, "identities.provisioned"), 3);
		ck_assert_int_ge(h_json_int(st, "identities.broker_reloads"), 2);
		ck_assert_int_eq(h_json_int(st, "identities.reload_failures"), 0);
		ck_assert(json_is_true(json_object_get(json_object_get(st, "identities"),
						       "files_in_sync")));
		json_decref(st);
	}

	/* the audit line */
	log = h_edged_log(w.e);
	snprintf(needle, sizeof needle, "node %s revoked by control client uid %u", nid(1),
		 (unsigned)getuid());
	ck_assert_msg(strstr(log, needle), "edged's log has no '%s'", needle);
	free(log);

	/* Retained: none left under the revoked node; the others' stay. The
	 * simulator stops abruptly (no offline status of its own), then edged
	 * (the probe uses its broker user). */
	h_sim_cmd(w.e, "kill all");
	h_sim_stop(w.e);
	ck_assert_int_eq(h_edged_stop(w.e), 0);
	probe_retained(&w, nid(1), nid(2), nid(0), &pr);
	ck_assert_msg(pr.control_retained >= 1, "the control node has no retained message: "
		      "the probe sees nothing");
	ck_assert_msg(pr.victim_retained == 0, "%d retained message(s) of the revoked node "
		      "remain", pr.victim_retained);
	world_free(&w);
}
END_TEST

/* Certificate nodes over mutual TLS: a revoked certificate (CRL + ACL deny)
 * and a rotated one's old certificate are refused at the next connect; the
 * rotated node's new bundle registers; the untouched node carries on. */
START_TEST(certificate_nodes_revoked_and_rotated)
{
	struct idw w;
	struct world_opts o = { .mutual_tls = true };
	char a[440], b[440], c[440], from[500], to[500];
	json_t *r, *dev, *n;
	long off;

	world(&w, &o);
	snprintf(a, sizeof a, "%s/first", w.e->dir);
	snprintf(b, sizeof b, "%s/rotated", w.e->dir);
	snprintf(c, sizeof c, "%s/mixed", w.e->dir);
	make_dir(a);
	make_dir(b);
	make_dir(c);
	const char *args[] = { "--tls-cert", "--out", a, nid(0), nid(1), nid(2), NULL };
	provision_ok(&w, args);
	/* what the --cert-dir way needs is there too */
	snprintf(from, sizeof from, "%s/%s.key", a, nid(1));
	ck_assert_int_eq(access(from, R_OK), 0);
	snprintf(from, sizeof from, "%s/ca.crt", a);
	ck_assert_int_eq(access(from, R_OK), 0);

	sim_start_bundles(&w, a, 3, true);
	h_sim_wait(w.e, "sim: registered all 3 ", 60000);
	h_wait_status(w.e, "nodes.online", "==", 3, 10000);

	off = h_sim_log_offset(w.e);
	r = revoke_node(&w, nid(1));
	ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "certificate");
	ck_assert(json_is_string(json_object_get(r, "serial")));
	ck_assert(json_is_true(json_object_get(r, "broker_reloaded")));
	json_decref(r);
	const char *rot[] = { "--tls-cert", "--rotate", "--out", b, nid(2), NULL };
	provision_ok(&w, rot);
	n = node_entry(&w, nid(2), NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(n, "state")), "active");
	ck_assert(json_is_integer(json_object_get(n, "rotated")));
	json_decref(n);

	/* Next connects with the old certificates: the TLS handshake fails on
	 * the CRL (or, at worst, the broker refuses the CONNECT). */
	/* The revoked node's live mutual-TLS session outlives the CRL (the
	 * broker checks certificates at the handshake), but the ACL's deny
	 * makes it harmless: its hello never reaches edged. Proof by marker:
	 * two hello round trips of n-00000 after it, each answered. */
	{
		json_t *st = h_edgectl_json(w.e, "status", NULL);
		long long hellos = h_json_int(st, "messages.hello");
		long long not_allowed = h_json_int(st, "rejects.not_allowed");
		long long acks = h_sim_stat(w.e, "registered_acks");

		json_decref(st);
		h_sim_cmd(w.e, "hello 1");
		for (int round = 1; round <= 2; round++) {
			h_sim_cmd(w.e, "hello 0");
			wait_sim_stat(&w, "registered_acks", acks + round, 10000);
		}
		st = h_edgectl_json(w.e, "status", NULL);
		ck_assert_int_eq(h_json_int(st, "messages.hello"), hellos + 2);
		ck_assert_int_eq(h_json_int(st, "rejects.not_allowed"), not_allowed);
		json_decref(st);
	}
	h_sim_cmd(w.e, "kill 1,2");
	dev = h_wait_device_state(w.e, nid(2), "offline", 10000);
	json_decref(dev);
	h_sim_cmd(w.e, "connect 1,2");
	sim_wait_either(&w, off, "sim: connect-failed node=n-00001",
			"sim: connack-refused node=n-00001", 10000);
	sim_wait_either(&w, off, "sim: connect-failed node=n-00002",
			"sim: connack-refused node=n-00002", 10000);
	dev = h_wait_device_state(w.e, nid(1), "revoked", 5000);
	json_decref(dev);
	ck_assert_int_eq(h_sim_stat(w.e, "registered"), 1);
	h_sim_stop(w.e);

	/* n-00002's new bundle registers; the revoked n-00001 still cannot. */
	for (unsigned i = 0; i < 3; i++) {
		snprintf(from, sizeof from, "%s/%s.json", i == 2 ? b : a, nid(i));
		snprintf(to, sizeof to, "%s/%s.json", c, nid(i));
		copy_file(from, to);
	}
	off = h_sim_log_offset(w.e);
	sim_start_bundles(&w, c, 3, true);
	dev = h_wait_device_state(w.e, nid(2), "online", 30000);
	json_decref(dev);
	sim_wait_either(&w, off, "sim: connect-failed node=n-00001",
			"sim: connack-refused node=n-00001", 10000);
	dev = h_wait_device_state(w.e, nid(1), "revoked", 5000);
	json_decref(dev);
	h_sim_stop(w.e);
	world_free(&w);
}
END_TEST

/* The identity files' modification times (ns), to see which a restart
 * rewrote. */
struct file_times {
	long long passwd, acl, crl, reload;
};

static long long mtime_ns(const char *dir, const char *name)
{
	char path[480];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static void file_times(struct idw *w, struct file_times *t)
{
	t->passwd = mtime_ns(w->idir, "passwd");
	t->acl = mtime_ns(w->idir, "acl");
	t->crl = mtime_ns(w->idir, "ca.crl");
	t->reload = mtime_ns(w->idir, "reload");
}

/* A revocation outlives an edged restart, which rewrites none of the
 * broker's files (nothing changed); provisioning the revoked id again with
 * --rotate reinstates it: its new bundle registers. */
START_TEST(revocation_survives_restart_and_rotate_reinstates)
{
	struct idw w;
	struct world_opts o = { 0 };
	char a[440], b[440], c[440], from[500], to[500];
	struct file_times before, after;
	json_t *n, *dev, *st;
	long off;

	world(&w, &o);
	snprintf(a, sizeof a, "%s/first", w.e->dir);
	snprintf(b, sizeof b, "%s/again", w.e->dir);
	snprintf(c, sizeof c, "%s/mixed", w.e->dir);
	make_dir(a);
	make_dir(b);
	make_dir(c);
	const char *args[] = { "--out", a, nid(0), nid(1), NULL };
	provision_ok(&w, args);
	sim_start_bundles(&w, a, 2, false);
	h_sim_wait(w.e, "sim: registered all 2 ", 30000);
	off = h_sim_log_offset(w.e);
	json_decref(revoke_node(&w, nid(1)));
	h_sim_wait_after(w.e, off, "sim: lost node=n-00001 ", 10000);
	h_sim_stop(w.e);

	/* restart: the same files, untouched */
	file_times(&w, &before);
	ck_assert_int_eq(h_edged_stop(w.e), 0);
	h_edged_start(w.e);
	file_times(&w, &after);
	ck_assert_msg(after.passwd == before.passwd, "passwd rewritten at start");
	ck_assert_msg(after.acl == before.acl, "acl rewritten at start");
	ck_assert_msg(after.crl == before.crl, "ca.crl rewritten at start");
	ck_assert_msg(after.reload == before.reload, "reload touched at start");
	st = h_edgectl_json(w.e, "status", NULL);
	ck_assert(json_is_true(json_object_get(json_object_get(st, "identities"),
					       "files_in_sync")));
	ck_assert_int_eq(h_json_int(st, "identities.revoked"), 1);
	json_decref(st);
	n = node_entry(&w, nid(1), NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(n, "state")), "revoked");
	json_decref(n);
	dev = h_wait_device_state(w.e, nid(1), "revoked", 5000);
	json_decref(dev);

	/* still refused by the broker; the other node registers */
	off = h_sim_log_offset(w.e);
	sim_start_bundles(&w, a, 2, false);
	h_sim_wait_after(w.e, off, "sim: connack-refused node=n-00001 reason=0x87", 10000);
	dev = h_wait_device_state(w.e, nid(0), "online", 10000);
	json_decref(dev);
	h_sim_stop(w.e);

	/* --rotate reinstates: active again, the registry mark lifted, and
	 * the new bundle registers */
	const char *rot[] = { "--rotate", "--out", b, nid(1), NULL };
	provision_ok(&w, rot);
	n = node_entry(&w, nid(1), NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(n, "state")), "active");
	json_decref(n);
	dev = h_wait_device_state(w.e, nid(1), "offline", 5000);
	json_decref(dev);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(from, sizeof from, "%s/%s.json", i == 1 ? b : a, nid(i));
		snprintf(to, sizeof to, "%s/%s.json", c, nid(i));
		copy_file(from, to);
	}
	off = h_sim_log_offset(w.e);
	sim_start_bundles(&w, c, 2, false);
	h_sim_wait_after(w.e, off, "sim: registered all 2 ", 30000);
	dev = h_wait_device_state(w.e, nid(1), "online", 10000);
	json_decref(dev);
	st = h_edgectl_json(w.e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "identities.revoked"), 0);
	ck_assert_int_eq(h_json_int(st, "identities.active"), 2);
	json_decref(st);
	h_sim_stop(w.e);
	world_free(&w);
}
END_TEST

/* registry.admission=provisioned: a node the broker lets in (its own line
 * in the broker's password file, which the operator wrote by hand) but
 * edged never provisioned is refused not_allowed; a provisioned node
 * registers; after a reload with admission=open the same hello registers. */
START_TEST(admission_refuses_unprovisioned_ids)
{
	struct idw w;
	struct world_opts o = { .extra_user = "x-00000", .extra_pass = "x-secret" };
	char dir[440], creds[440];
	json_t *dev;
	long off;

	world(&w, &o);
	snprintf(dir, sizeof dir, "%s/bundles", w.e->dir);
	make_dir(dir);
	const char *args[] = { "--out", dir, nid(0), NULL };
	provision_ok(&w, args);
	/* the broker's file: edged's (now with n-00000) + the extra user */
	write_extra_passwd(&w, &o);
	h_proc_signal(&w.e->broker, SIGHUP);

	/* the provisioned node (retries until the broker re-read its file) */
	sim_start_bundles(&w, dir, 1, false);
	h_sim_wait(w.e, "sim: registered all 1 ", 30000);
	h_sim_stop(w.e);

	snprintf(creds, sizeof creds, "%s/x-credentials", w.e->dir);
	write_text(creds, "x-00000:x-secret\n", 0600);
	off = h_sim_log_offset(w.e);
	h_sim_start(w.e, "--id-prefix", "x", "--count", "1", "--credentials", creds, NULL);
	h_sim_wait_after(w.e, off, "sim: refused node=x-00000 reason=not_allowed", 30000);
	dev = NULL;
	ck_assert_int_ne(h_edgectl(w.e, &dev, "devices", "show", "x-00000", NULL), 0);
	json_decref(dev);

	/* Open admission, by reload: the same node's next hello registers. */
	h_cfg_set(w.e, "registry.admission", "open");
	h_edged_write_config(w.e);
	json_decref(h_edgectl_json(w.e, "reload", NULL));
	h_sim_cmd(w.e, "hello 0");
	h_sim_wait_after(w.e, off, "sim: registered all 1 ", 30000);
	dev = h_wait_device_state(w.e, "x-00000", "online", 10000);
	json_decref(dev);
	h_sim_stop(w.e);
	world_free(&w);
}
END_TEST

/* ---- roles: provisioning and revocation need the admin role */

struct as_nobody {
	const char *edgectl, *sock;
	const char *const *args; /* after "-s SOCK" */
};

/* In the child, already uid nobody: run edgectl, return its exit code. */
static int edgectl_as_nobody(void *ud)
{
	const struct as_nobody *a = ud;
	const char *argv[16];
	size_t n = 0;
	int st = 0;
	pid_t pid;

	argv[n++] = a->edgectl;
	argv[n++] = "-s";
	argv[n++] = a->sock;
	for (const char *const *p = a->args; *p && n < 15; p++)
		argv[n++] = *p;
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return 120;
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDWR);

		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		dup2(null_fd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 121;
	return WEXITSTATUS(st);
}

/* A peer with the read role (control.read_group) may list the identities
 * but `nodes provision` and `nodes revoke` are refused: edgectl exits 4
 * (not authorised) and nothing changes. */
START_TEST(provision_and_revoke_need_the_admin_role)
{
	struct idw w;
	struct world_opts o = { 0 };
	char dir[440];
	long long active = -1;
	json_t *n;

	if (getuid() != 0) {
		/* the roles are then covered by the control unit tests only */
		fprintf(stderr, "# not root: no second uid to try\n");
		return;
	}
	/* world() with the read role for nobody's group */
	world_cfg_extra = (const char *const[]){ "control.socket_mode", "0666",
						 "control.read_group", "nogroup", NULL };
	world(&w, &o);
	world_cfg_extra = NULL;
	snprintf(dir, sizeof dir, "%s/bundles", w.e->dir);
	make_dir(dir);
	const char *args[] = { "--out", dir, nid(0), NULL };
	provision_ok(&w, args);

	const char *list[] = { "nodes", NULL };
	const char *prov[] = { "nodes", "provision", nid(1), NULL };
	const char *rot[] = { "nodes", "provision", "--rotate", nid(0), NULL };
	const char *rev[] = { "nodes", "revoke", nid(0), NULL };
	struct as_nobody a = { w.e->edgectl_bin, w.e->sock_path, list };

	ck_assert_int_eq(h_run_as_nobody(edgectl_as_nobody, &a, 15000), 0);
	a.args = prov;
	ck_assert_int_eq(h_run_as_nobody(edgectl_as_nobody, &a, 15000), 4);
	a.args = rot;
	ck_assert_int_eq(h_run_as_nobody(edgectl_as_nobody, &a, 15000), 4);
	a.args = rev;
	ck_assert_int_eq(h_run_as_nobody(edgectl_as_nobody, &a, 15000), 4);
	n = node_entry(&w, nid(0), &active, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(n, "state")), "active");
	ck_assert(json_is_null(json_object_get(n, "rotated")) ||
		  !json_object_get(n, "rotated"));
	ck_assert_int_eq(active, 1);
	json_decref(n);
	world_free(&w);
}
END_TEST

/* Sizes: under ASan (H_ASAN) edged, edgectl and the simulator are several
 * times slower, so that build provisions fewer nodes. */
#ifdef H_ASAN
#define FLEET_NODES 250
#else
#define FLEET_NODES 1000
#endif

/* A fleet provisioned with one edgectl call (ids from a file, bundles into
 * a directory) registers through the enforced configuration. */
START_TEST(provisioned_fleet_registers)
{
	struct idw w;
	struct world_opts o = { 0 };
	char dir[440], ids[440], count[16], needle[64];
	json_t *st;
	FILE *f;
	uint64_t t0;

	world(&w, &o);
	snprintf(dir, sizeof dir, "%s/bundles", w.e->dir);
	snprintf(ids, sizeof ids, "%s/ids", w.e->dir);
	make_dir(dir);
	f = fopen(ids, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < FLEET_NODES; i++)
		fprintf(f, "%s\n", nid(i));
	ck_assert_int_eq(fclose(f), 0);
	t0 = h_now_ms();
	const char *args[] = { "--ids-from", ids, "--out", dir, NULL };
	provision_ok(&w, args);
	fprintf(stderr, "# provisioned %u nodes in %llu ms\n", FLEET_NODES,
		(unsigned long long)(h_now_ms() - t0));

	snprintf(count, sizeof count, "%u", FLEET_NODES);
	h_sim_start(w.e, "--id-prefix", "n", "--count", count, "--bundle-dir", dir,
		    "--connect-rate", "500", "--max-pending", "100", NULL);
	snprintf(needle, sizeof needle, "sim: registered all %u ", FLEET_NODES);
	h_sim_wait(w.e, needle, 150000);
	h_wait_status(w.e, "nodes.online", "==", FLEET_NODES, 30000);
	st = h_edgectl_json(w.e, "status", NULL);
	ck_assert_int_eq(h_json_int(st, "identities.active"), FLEET_NODES);
	ck_assert_int_eq(h_json_int(st, "identities.password"), FLEET_NODES);
	ck_assert(json_is_true(json_object_get(json_object_get(st, "identities"),
					       "files_in_sync")));
	json_decref(st);
	ck_assert_int_eq(h_sim_stat(w.e, "err_connack"), 0);
	h_sim_stop(w.e);
	world_free(&w);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "provisioned_nodes_register_and_exists_is_refused",
		  provisioned_nodes_register_and_exists_is_refused, 120 },
		{ "rotated_password_old_refused_new_registers",
		  rotated_password_old_refused_new_registers, 120 },
		{ "revoked_password_node_is_cut_off", revoked_password_node_is_cut_off, 120 },
		{ "certificate_nodes_revoked_and_rotated", certificate_nodes_revoked_and_rotated,
		  120 },
		{ "revocation_survives_restart_and_rotate_reinstates",
		  revocation_survives_restart_and_rotate_reinstates, 120 },
		{ "admission_refuses_unprovisioned_ids", admission_refuses_unprovisioned_ids, 120 },
		{ "provision_and_revoke_need_the_admin_role",
		  provision_and_revoke_need_the_admin_role, 60 },
		{ "provisioned_fleet_registers", provisioned_fleet_registers, 280 },
	};
	int rc;

	mosquitto_lib_init();
	rc = h_run_cases(argc, argv, "identity", cases, sizeof cases / sizeof cases[0]);
	mosquitto_lib_cleanup();
	return rc;
}
