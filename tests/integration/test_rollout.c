/* Staged rollouts end to end (issue 10): real keys, packed models stored
 * by edged, the real broker and simulated nodes running the SDK's OTA
 * receiver and reporting anomalies through the SDK's report queue. A clean
 * rollout runs canary, waves and soaks to done; a canary that fails its
 * self-test halts the rollout before wave 1 and `resume` after the fix goes
 * on; kill -9 of edged mid-stage and mid-soak continues where it was;
 * 1,000 nodes with 5 % of chunk frames lost complete; a node offline in its
 * wave is retried when it comes back, one that never does fails
 * not_online; a model that raises the anomaly rate is halted by the
 * canary's health look and reverted from the nodes' other slot (no model
 * byte sent); an unchanged one passes every look, and `rollout revert`
 * sends every node back (from the slot, or by bytes where the slot was
 * overwritten). Run one case with `test-rollout CASE`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test_run.h"

static const char *const ota_cfg[] = {
	"ota.offer_timeout_ms", "2000",
	"ota.stall_timeout_ms", "3000",
	"ota.retry_interval_ms", "2000",
	"ota.result_timeout_ms", "30000",
	"ota.campaign_gather_ms", "500",
	"ota.rto_min_ms", "100",
	NULL,
};

struct ro {
	struct h_env *e;
	char node_trust[400];
	char key[440];                 /* the signing key, PEM */
};

/* Packs tests/data/models/<file> as hw@version (counter) with the test's
 * key and adds it to edged's store. */
static void add_version(struct ro *o, const char *file, const char *version, const char *counter)
{
	char model[512], pkg[512];
	json_t *r = NULL;

	snprintf(model, sizeof model, "%s/models/%s", getenv("EDGE_TEST_DATA"), file);
	snprintf(pkg, sizeof pkg, "%s/hw-%s.pkg", o->e->dir, version);
	ck_assert_int_eq(h_edgectl(o->e, NULL, "model", "pack", model, "--name", "hw", "--version",
				   version, "--counter", counter, "--key", o->key, "--out", pkg,
				   NULL), 0);
	ck_assert_int_eq(h_edgectl(o->e, &r, "models", "add", pkg, NULL), 0);
	json_decref(r);
}

/* A key trusted by edged and the nodes; edged started; hello_world packed
 * as hw@1.0 and stored. extra: configuration pairs. */
static void env_with_model(struct ro *o, const char *const *extra)
{
	char keys[400], trust[400], key[420], pub[440], to[520];
	const char *data = getenv("EDGE_TEST_DATA");

	ck_assert_msg(data != NULL, "EDGE_TEST_DATA not set (run through meson test)");
	memset(o, 0, sizeof *o);
	o->e = h_env_new();
	snprintf(keys, sizeof keys, "%s/keys", o->e->dir);
	snprintf(trust, sizeof trust, "%s/trust", o->e->dir);
	snprintf(o->node_trust, sizeof o->node_trust, "%s/node-trust", o->e->dir);
	ck_assert_int_eq(mkdir(keys, 0700), 0);
	ck_assert_int_eq(mkdir(trust, 0755), 0);
	ck_assert_int_eq(mkdir(o->node_trust, 0755), 0);
	snprintf(key, sizeof key, "%s/k1", keys);
	ck_assert_int_eq(h_edgectl(o->e, NULL, "keys", "generate", "--type", "ed25519", "--out",
				   key, NULL), 0);
	snprintf(pub, sizeof pub, "%s.pub", key);
	snprintf(to, sizeof to, "%s/k1.pub", trust);
	h_copy_file(pub, to);
	snprintf(to, sizeof to, "%s/k1.pub", o->node_trust);
	h_copy_file(pub, to);
	h_broker_start(o->e);
	h_cfg_set(o->e, "ota.trust_dir", trust);
	for (const char *const *c = ota_cfg; *c; c += 2)
		h_cfg_set(o->e, c[0], c[1]);
	for (const char *const *c = extra; c && *c; c += 2)
		h_cfg_set(o->e, c[0], c[1]);
	h_edged_start(o->e);
	snprintf(o->key, sizeof o->key, "%s.key", key);
	add_version(o, "hello_world_int8.tflite", "1.0", "1");
}

static void sim_ota(struct ro *o, const char *count, const char *a1, const char *a2)
{
	char want[64];
	long from = h_sim_log_offset(o->e);

	h_sim_start(o->e, "--count", count, "--heartbeat-s", "5", "--ota-trust", o->node_trust,
		    a1, a2, NULL);
	snprintf(want, sizeof want, "sim: registered all %s", count);
	h_sim_wait_after(o->e, from, want, 60000);
}

static json_t *status(struct ro *o, long long id)
{
	char ids[24];

	snprintf(ids, sizeof ids, "%lld", id);
	return h_edgectl_json(o->e, "rollout", "status", ids, NULL);
}

/* Polls rollout.status until its state is `state`; returns it. */
static json_t *wait_state(struct ro *o, long long id, const char *state, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		json_t *s = status(o, id);
		const char *st = h_json_str(s, "state");

		if (st && strcmp(st, state) == 0)
			return s;
		if (h_now_ms() > end) {
			char *dump = json_dumps(s, JSON_COMPACT);

			ck_abort_msg("rollout %lld not %s after %u ms: %.2000s", id, state,
				     timeout_ms, dump);
		}
		json_decref(s);
		h_sleep_ms(200);
	}
}

static json_t *stage(json_t *s, unsigned k)
{
	json_t *st = json_array_get(json_object_get(s, "stage_list"), k);

	ck_assert_msg(st != NULL, "no stage %u", k);
	return st;
}

/* An event whose text contains needle. */
static bool has_event(json_t *s, const char *needle)
{
	json_t *ev;
	size_t i;

	json_array_foreach(json_object_get(s, "events"), i, ev)
		if (strstr(json_string_value(json_object_get(ev, "text")), needle))
			return true;
	return false;
}

static long long start(struct ro *o, const char *canary, const char *waves, const char *maxf,
		       const char *soak, json_t **answer)
{
	json_t *r = NULL;
	long long id;
	int rc = h_edgectl(o->e, &r, "rollout", "start", "hw", "--to", "all", "--canary", canary,
			   "--waves", waves, "--max-failures", maxf, "--soak", soak, NULL);

	if (rc != 0 || !r) {
		const char *argv[] = { "rollout", "start", "hw", "--to", "all", "--canary", canary,
				       "--waves", waves, "--max-failures", maxf, "--soak", soak,
				       NULL };
		char *err = NULL;

		(void)h_edgectl_capture(o->e, 10000, NULL, &err, argv);
		ck_abort_msg("rollout start: exit %d: %s", rc, err ? err : "");
	}
	id = h_json_int(r, "id");
	ck_assert_int_gt(id, 0);
	if (answer)
		*answer = r;
	else
		json_decref(r);
	return id;
}

/* 20 nodes, canary 2, waves 50 % and 100 %, soak 1 s: the dry run shows
 * the stages the start then uses; every stage passes after its soak and
 * every node activated. */
START_TEST(staged_rollout_completes)
{
	struct ro o;
	json_t *dry = NULL, *real = NULL, *s;
	char *out = NULL;
	long long id;
	int rc;

	env_with_model(&o, NULL);
	sim_ota(&o, "20", NULL, NULL);
	rc = h_edgectl(o.e, &dry, "rollout", "start", "hw", "--to", "all", "--canary", "2",
		       "--waves", "50%,100%", "--soak", "1s", "--dry-run", NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert(json_is_true(json_object_get(dry, "dry_run")));
	ck_assert_int_eq((long long)json_array_size(json_object_get(dry, "stages")), 3);
	{
		const char *argv[] = { "rollout", "start", "hw", "--to", "all", "--canary", "2",
				       "--waves", "50%,100%", "--dry-run", NULL };

		ck_assert_int_eq(h_edgectl_capture(o.e, 10000, &out, NULL, argv), 0);
		ck_assert_ptr_nonnull(strstr(out, "dry run: hw@1.0 would be rollout 1\n"));
		ck_assert_ptr_nonnull(strstr(out, "canary: 2 nodes"));
		ck_assert_ptr_nonnull(strstr(out, "wave 2: 10 nodes"));
		free(out);
		out = NULL;
	}
	/* a dry run changes nothing */
	s = h_edgectl_json(o.e, "rollout", "list", NULL);
	ck_assert_int_eq((long long)json_array_size(json_object_get(s, "rollouts")), 0);
	json_decref(s);

	id = start(&o, "2", "50%,100%", "10%", "1s", &real);
	ck_assert_int_eq(id, h_json_int(dry, "id"));
	{
		/* the same plan: the dry run told the truth */
		json_t *a = json_object_get(json_array_get(json_object_get(dry, "stages"), 0), "nodes");
		json_t *b = json_object_get(json_array_get(json_object_get(real, "stages"), 0), "nodes");

		ck_assert_int_eq((long long)json_array_size(a), 2);
		ck_assert(json_equal(a, b));
	}
	json_decref(dry);
	json_decref(real);

	s = wait_state(&o, id, "done", 150000);
	ck_assert_int_eq(h_json_int(s, "nodes"), 20);
	ck_assert_int_eq(h_json_int(s, "decided"), 20);
	ck_assert_int_eq(h_json_int(stage(s, 0), "nodes"), 2);
	ck_assert_int_eq(h_json_int(stage(s, 1), "nodes"), 8);
	ck_assert_int_eq(h_json_int(stage(s, 2), "nodes"), 10);
	for (unsigned k = 0; k < 3; k++) {
		ck_assert_int_eq(h_json_int(stage(s, k), "success"), h_json_int(stage(s, k), "nodes"));
		ck_assert_int_eq(h_json_int(stage(s, k), "failure"), 0);
	}
	ck_assert(has_event(s, "canary: soaking 1 s"));
	ck_assert(has_event(s, "wave 1: soaking 1 s"));
	ck_assert(has_event(s, "wave 2 started: 10 nodes"));
	ck_assert(has_event(s, "done: every stage passed"));
	/* every stage's transfer sent the model's bytes at least once */
	for (unsigned k = 0; k < 3; k++)
		ck_assert_int_ge(h_json_int(stage(s, k), "bytes"), 2704);
	ck_assert(has_event(s, "model bytes sent"));
	json_decref(s);
	{
		json_t *d = h_edgectl_json(o.e, "devices", "show", h_node_id(17), NULL);

		ck_assert_str_eq(h_json_str(d, "ota.active.name"), "hw");
		json_decref(d);
	}
	/* the human view: a full bar per stage */
	{
		char ids[24];
		const char *argv[] = { "rollout", "status", ids, NULL };

		snprintf(ids, sizeof ids, "%lld", id);
		ck_assert_int_eq(h_edgectl_capture(o.e, 10000, &out, NULL, argv), 0);
		ck_assert_ptr_nonnull(strstr(out, "done"));
		ck_assert_ptr_nonnull(strstr(out, "[####################] 100%"));
		free(out);
	}
	/* A done rollout does not block the model name; every node runs hw
	 * now, so a second one finds nobody to update. */
	{
		const char *argv[] = { "rollout", "start", "hw", "--to", "all", NULL };
		char *err = NULL;

		ck_assert_int_eq(h_edgectl_capture(o.e, 10000, NULL, &err, argv), 1);
		ck_assert_ptr_nonnull(strstr(err, "no eligible node"));
		ck_assert_ptr_nonnull(strstr(err, "already_have"));
		free(err);
	}
	h_env_free(o.e);
}
END_TEST

/* 4 nodes failing the self-test, canary 1, max failures 0 %: the canary
 * halts the rollout before wave 1; after the fix (the simulator restarted
 * without the fault) `resume` goes on with wave 1 and ends done. */
START_TEST(failing_canary_halts_and_resume_continues)
{
	struct ro o;
	json_t *s, *r = NULL;
	long long id;
	char ids[24];

	env_with_model(&o, NULL);
	sim_ota(&o, "4", "--ota-fail-selftest", "all");
	id = start(&o, "1", "50%,100%", "0%", "0", NULL);
	snprintf(ids, sizeof ids, "%lld", id);

	/* one rollout per model name */
	ck_assert_int_ne(h_edgectl(o.e, NULL, "rollout", "start", "hw", "--to", "all", NULL), 0);

	s = wait_state(&o, id, "halted", 90000);
	ck_assert_int_eq(h_json_int(s, "stage"), 0);
	ck_assert_ptr_nonnull(strstr(h_json_str(s, "reason"), "canary"));
	ck_assert_int_eq(h_json_int(stage(s, 0), "failure"), 1);
	ck_assert_int_eq(h_json_int(json_object_get(stage(s, 0), "failures"), "selftest_mismatch"),
			 1);
	/* nothing offered beyond the canary */
	ck_assert_int_eq(h_json_int(stage(s, 1), "pending"), h_json_int(stage(s, 1), "nodes"));
	ck_assert_int_eq(h_json_int(stage(s, 2), "pending"), h_json_int(stage(s, 2), "nodes"));
	ck_assert(!has_event(s, "wave 1 started"));
	ck_assert(has_event(s, "halted: canary"));
	json_decref(s);
	h_sleep_ms(1500); /* a halted rollout stays halted (no timer moves it on) */
	s = status(&o, id);
	ck_assert_str_eq(h_json_str(s, "state"), "halted");
	json_decref(s);
	ck_assert_int_eq(h_sim_stat(o.e, "ota_offers"), 1);

	/* the fix */
	ck_assert_int_eq(h_sim_stop(o.e), 0);
	sim_ota(&o, "4", NULL, NULL);
	ck_assert_int_eq(h_edgectl(o.e, &r, "rollout", "resume", ids, NULL), 0);
	ck_assert_str_eq(h_json_str(r, "state"), "running");
	json_decref(r);
	s = wait_state(&o, id, "done", 90000);
	ck_assert_int_eq(h_json_int(stage(s, 0), "failure"), 1);
	ck_assert_int_eq(h_json_int(stage(s, 1), "success"), h_json_int(stage(s, 1), "nodes"));
	ck_assert_int_eq(h_json_int(stage(s, 2), "success"), h_json_int(stage(s, 2), "nodes"));
	ck_assert(has_event(s, "accepted by resume"));
	json_decref(s);
	/* resume of a done rollout is refused */
	ck_assert_int_ne(h_edgectl(o.e, NULL, "rollout", "resume", ids, NULL), 0);
	h_env_free(o.e);
}
END_TEST

/* kill -9 of edged while a wave runs: after the restart the rollout goes
 * on from its stage (the transfer resumes) and ends done. */
START_TEST(kill9_mid_rollout_continues)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "2048", NULL };
	struct ro o;
	json_t *s;
	long long id;

	env_with_model(&o, cfg);
	sim_ota(&o, "6", NULL, NULL);
	id = start(&o, "1", "100%", "10%", "0", NULL);
	/* wait for wave 1 to run */
	for (uint64_t end = h_now_ms() + 60000;;) {
		s = status(&o, id);
		if (h_json_int(s, "stage") == 1) {
			json_decref(s);
			break;
		}
		ck_assert_msg(h_now_ms() < end, "wave 1 never started");
		json_decref(s);
		h_sleep_ms(100);
	}
	h_proc_signal(&o.e->edged, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&o.e->edged) && h_now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&o.e->edged));
	h_edged_start(o.e);
	s = wait_state(&o, id, "done", 120000);
	ck_assert_int_eq(h_json_int(stage(s, 0), "success"), 1);
	ck_assert_int_eq(h_json_int(stage(s, 1), "success"), 5);
	/* the stage's transfer was still open: the OTA service resumed it */
	ck_assert(has_event(s, "still open"));
	ck_assert(has_event(s, "done: every stage passed"));
	json_decref(s);
	h_env_free(o.e);
}
END_TEST

/* Polls until the rollout's current stage is k. */
static void wait_stage(struct ro *o, long long id, long long k, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		json_t *s = status(o, id);
		long long at = h_json_int(s, "stage");

		json_decref(s);
		if (at == k)
			return;
		ck_assert_msg(h_now_ms() < end, "rollout %lld never reached stage %lld", id, k);
		h_sleep_ms(100);
	}
}

/* pause: the canary's transfer runs to its end but wave 1 does not start;
 * resume starts it; abort cancels its open transfer, its nodes count as
 * failed and nothing moves any more. */
START_TEST(pause_holds_the_next_stage_and_abort_cancels)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "1024", NULL };
	struct ro o;
	json_t *s, *r = NULL;
	long long id;
	char ids[24];

	env_with_model(&o, cfg);
	sim_ota(&o, "3", NULL, NULL);
	id = start(&o, "1", "100%", "0%", "0", NULL);
	snprintf(ids, sizeof ids, "%lld", id);
	ck_assert_int_eq(h_edgectl(o.e, &r, "rollout", "pause", ids, NULL), 0);
	ck_assert_str_eq(h_json_str(r, "state"), "paused");
	json_decref(r);
	/* a paused rollout cannot be paused again */
	ck_assert_int_ne(h_edgectl(o.e, NULL, "rollout", "pause", ids, NULL), 0);
	for (uint64_t end = h_now_ms() + 60000;;) {
		s = status(&o, id);
		/* decided: neither pending nor activated-but-not-yet-seen */
		if (h_json_int(stage(s, 0), "pending") == 0 &&
		    h_json_int(stage(s, 0), "activated") == 0)
			break;
		ck_assert_msg(h_now_ms() < end, "the canary never ended");
		json_decref(s);
		h_sleep_ms(100);
	}
	ck_assert_int_eq(h_json_int(stage(s, 0), "success"), 1);
	json_decref(s);
	h_sleep_ms(1000);
	s = status(&o, id);
	ck_assert_str_eq(h_json_str(s, "state"), "paused");
	ck_assert_int_eq(h_json_int(s, "stage"), 0);
	ck_assert(!has_event(s, "wave 1 started"));
	json_decref(s);

	ck_assert_int_eq(h_edgectl(o.e, NULL, "rollout", "resume", ids, NULL), 0);
	wait_stage(&o, id, 1, 30000);
	ck_assert_int_eq(h_edgectl(o.e, &r, "rollout", "abort", ids, NULL), 0);
	ck_assert_str_eq(h_json_str(r, "state"), "aborted");
	json_decref(r);
	s = status(&o, id);
	ck_assert_str_eq(h_json_str(s, "state"), "aborted");
	ck_assert_int_eq(h_json_int(stage(s, 1), "failure"), 2);
	ck_assert_int_eq(h_json_int(json_object_get(stage(s, 1), "failures"), "transfer_failed"), 2);
	ck_assert(has_event(s, "aborted by the operator (its open transfer cancelled)"));
	json_decref(s);
	ck_assert_int_ne(h_edgectl(o.e, NULL, "rollout", "resume", ids, NULL), 0);
	/* aborted: the model name is free again */
	s = h_edgectl_json(o.e, "rollout", "list", NULL);
	ck_assert_str_eq(h_json_str(json_array_get(json_object_get(s, "rollouts"), 0), "state"),
			 "aborted");
	json_decref(s);
	h_env_free(o.e);
}
END_TEST

/* rollout start REF with extra options (NULL-terminated pairs or flags). */
static long long start_with(struct ro *o, const char *ref, ...)
{
	const char *argv[32] = { "rollout", "start", ref, "--to", "all" };
	unsigned n = 5;
	json_t *r = NULL;
	long long id;
	char *out = NULL, *err = NULL;
	va_list ap;
	int rc;

	va_start(ap, ref);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 29;)
		argv[n++] = a;
	va_end(ap);
	argv[n++] = "--json";
	argv[n] = NULL;
	rc = h_edgectl_capture(o->e, 10000, &out, &err, argv);
	ck_assert_msg(rc == 0, "rollout start %s: exit %d: %s", ref, rc, err ? err : "");
	r = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(r);
	id = h_json_int(r, "id");
	ck_assert_int_gt(id, 0);
	json_decref(r);
	free(out);
	free(err);
	return id;
}

/* The stage a node is in, from rollout.status. */
static long long stage_of(json_t *s, const char *id)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(s, "node_list"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			return json_integer_value(json_object_get(n, "stage"));
	ck_abort_msg("node %s not in the rollout", id);
	return -1;
}

static json_t *node_of(json_t *s, const char *id)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(s, "node_list"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			return n;
	ck_abort_msg("node %s not in the rollout", id);
	return NULL;
}

/* 1,000 nodes (100 under ASan), 5 % of chunk frames dropped: canary 1 %,
 * waves 10/50/100 %, no soak: every stage passes, every node activated. */
START_TEST(thousand_node_rollout_with_loss)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "4194304",
					   "ota.result_timeout_ms", "120000",
					   "ota.stall_timeout_ms", "20000",
					   "ota.campaign_gather_ms", "2000", NULL };
#ifdef H_ASAN
	const char *count = "100";
#else
	const char *count = "1000";
#endif
	struct ro o;
	json_t *s;
	long long id, n = atoll(count), sum = 0;
	char line[64];

	h_set_deadline(280);
	env_with_model(&o, cfg);
	h_sim_start(o.e, "--count", count, "--heartbeat-s", "60", "--ota-trust", o.node_trust,
		    "--ota-drop", "5", "--seed", "11", NULL);
	snprintf(line, sizeof line, "sim: registered all %s", count);
	h_sim_wait(o.e, line, 120000);
	id = start_with(&o, "hw", "--canary", "1%", "--waves", "10%,50%,100%", "--soak", "0",
			NULL);
	s = wait_state(&o, id, "done", 240000);
	ck_assert_int_eq(h_json_int(s, "nodes"), n);
	ck_assert_int_eq(h_json_int(stage(s, 0), "nodes"), n / 100);
	for (unsigned k = 0; k < 4; k++) {
		ck_assert_int_eq(h_json_int(stage(s, k), "success"), h_json_int(stage(s, k), "nodes"));
		sum += h_json_int(stage(s, k), "nodes");
	}
	ck_assert_int_eq(sum, n);
	ck_assert_int_gt(h_sim_stat(o.e, "ota_dropped"), 0);
	ck_assert(has_event(s, "done: every stage passed"));
	json_decref(s);
	h_env_free(o.e);
}
END_TEST

/* Two nodes are down when the rollout starts. One comes back while its
 * stage runs: it is offered the model then and activates. The other never
 * does: rollout.node_timeout_s after its stage started it fails with
 * not_online, and the rollout goes on. */
START_TEST(offline_node_is_retried_then_fails)
{
	static const char *const cfg[] = { "rollout.node_timeout_s", "8", NULL };
	struct ro o;
	json_t *s;
	long long id, back_stage;
	char back[80], gone[80];

	env_with_model(&o, cfg);
	sim_ota(&o, "6", NULL, NULL);
	snprintf(back, sizeof back, "%s", h_node_id(4));
	snprintf(gone, sizeof gone, "%s", h_node_id(5));
	h_sim_cmd(o.e, "kill 4,5");
	json_decref(h_wait_device_state(o.e, back, "offline", 30000));
	json_decref(h_wait_device_state(o.e, gone, "offline", 30000));
	id = start_with(&o, "hw", "--canary", "1", "--waves", "100%", "--max-failures", "100%",
			"--soak", "0", NULL);
	s = status(&o, id);
	back_stage = stage_of(s, back);
	json_decref(s);
	/* its stage runs without it for a while, then it comes back */
	wait_stage(&o, id, back_stage, 60000);
	h_sleep_ms(1500);
	s = status(&o, id);
	ck_assert_str_eq(h_json_str(node_of(s, back), "outcome"), "pending");
	json_decref(s);
	h_sim_cmd(o.e, "connect 4");
	s = wait_state(&o, id, "done", 90000);
	ck_assert_str_eq(h_json_str(node_of(s, back), "outcome"), "success");
	ck_assert_str_eq(h_json_str(node_of(s, gone), "outcome"), "failure");
	ck_assert_str_eq(h_json_str(node_of(s, gone), "reason"), "not_online");
	ck_assert_int_eq(h_json_int(json_object_get(stage(s, stage_of(s, gone)), "failures"),
				    "not_online"), 1);
	ck_assert(has_event(s, "not decided 8 s after the stage started: failed"));
	json_decref(s);
	h_env_free(o.e);
}
END_TEST

static const char *const health_cfg[] = {
	"rollout.health_count", "events",
	"rollout.health_looks", "2",
	"rollout.health_min_exposure_s", "1",
	"rollout.health_min_scores", "20",
	"rollout.health_baseline_s", "60",
	NULL,
};

/* Every node runs hw@1.0 (delivered by OTA, so its other slot holds the
 * model before), anomalies at `rate` per node and second; hw@2.0 (another
 * model under the same name and security counter) is stored. */
static void fleet_on_v1(struct ro *o, const char *count, const char *rate, const char *a1,
			const char *a2)
{
	char line[64];
	long from = h_sim_log_offset(o->e);
	json_t *r = NULL;

	/* other bytes: a node running 1.0 does not already have it */
	add_version(o, "micro_speech.tflite", "2.0", "1");
	h_sim_start(o->e, "--count", count, "--heartbeat-s", "5", "--ota-trust", o->node_trust,
		    "--anomaly-rate", rate, a1, a2, NULL);
	snprintf(line, sizeof line, "sim: registered all %s", count);
	h_sim_wait_after(o->e, from, line, 60000);
	ck_assert_int_eq(h_edgectl(o->e, &r, "ota", "send", "hw@1.0", "--to", "all", "--wait",
				   NULL), 0);
	json_decref(r);
	h_wait_status(o->e, "ota.nodes_activated", ">=", atoll(count), 30000);
	/* history under the old model: its anomaly rate before any update */
	h_wait_status(o->e, "anomalies.events_stored", ">=", 20 * atoll(count), 60000);
}

/* hw@2.0 makes the canary's nodes detect 8 times as many anomalies: the
 * first health look halts the rollout before wave 1, says why with the
 * numbers, and (auto-revert) sends the canary back to hw@1.0 from its other
 * slot: no offer, no chunk, no transfer. */
START_TEST(health_halts_a_worse_model_and_reverts)
{
	struct ro o;
	json_t *s, *h, *st;
	long long id, offers, chunks, transfers;
	char ids[24];
	char *out = NULL;

	env_with_model(&o, health_cfg);
	fleet_on_v1(&o, "10", "4", "--anomaly-factor", "hw@2.0=8");
	offers = h_sim_stat(o.e, "ota_offers");
	id = start_with(&o, "hw@2.0", "--canary", "3", "--waves", "100%", "--soak", "6s",
			"--health", "on", "--auto-revert", "on", NULL);
	snprintf(ids, sizeof ids, "%lld", id);
	s = wait_state(&o, id, "halted", 90000);
	ck_assert_ptr_nonnull(strstr(h_json_str(s, "reason"), "canary: health"));
	h = json_object_get(stage(s, 0), "health");
	ck_assert_str_eq(h_json_str(h, "verdict"), "halt");
	ck_assert_str_eq(h_json_str(h, "vs_own.verdict"), "halt");
	ck_assert(json_real_value(json_object_get(json_object_get(h, "vs_own"), "ratio")) > 3.0);
	ck_assert(json_real_value(json_object_get(json_object_get(h, "vs_own"), "p_value")) <
		  1e-6);
	ck_assert_int_eq(h_json_int(stage(s, 1), "pending"), 7); /* wave 1 never started */
	ck_assert(!has_event(s, "wave 1 started"));
	json_decref(s);
	/* the human view shows the comparison; --watch ends by itself once
	 * the rollout is halted */
	{
		const char *argv[] = { "rollout", "status", ids, NULL };
		const char *watch[] = { "rollout", "status", ids, "--watch", NULL };

		ck_assert_int_eq(h_edgectl_capture(o.e, 10000, &out, NULL, argv), 0);
		ck_assert_ptr_nonnull(strstr(out, "health look 1/2: halt"));
		ck_assert_ptr_nonnull(strstr(out, "own past"));
		free(out);
		ck_assert_int_eq(h_edgectl_capture(o.e, 10000, &out, NULL, watch), 0);
		ck_assert_ptr_nonnull(strstr(out, "halted"));
		free(out);
	}
	/* auto-revert: the canary runs hw@1.0 again, from its other slot */
	chunks = h_sim_stat(o.e, "ota_chunks");
	s = h_edgectl_json(o.e, "status", NULL);
	transfers = h_json_int(s, "ota.transfers_total");
	json_decref(s);
	for (uint64_t end = h_now_ms() + 30000;;) {
		s = status(&o, id);
		if (h_json_int(stage(s, 0), "reverted") == 3)
			break;
		ck_assert_msg(h_now_ms() < end, "the canary was not reverted");
		json_decref(s);
		h_sleep_ms(200);
	}
	ck_assert(has_event(s, "revert of canary started: 3 nodes"));
	st = json_array_get(json_object_get(s, "node_list"), 0);
	ck_assert_str_eq(h_json_str(st, "outcome"), "reverted");
	ck_assert_str_eq(h_json_str(st, "reason"), "slot");
	{
		json_t *d = h_edgectl_json(o.e, "devices", "show", h_json_str(st, "id"), NULL);

		ck_assert_str_eq(h_json_str(d, "ota.active.version"), "1.0");
		ck_assert_str_eq(h_json_str(d, "ota.previous.version"), "2.0");
		json_decref(d);
	}
	json_decref(s);
	/* no model byte moved: 3 offers of hw@2.0 (the canary) only */
	ck_assert_int_eq(h_sim_stat(o.e, "ota_offers"), offers + 3);
	ck_assert_int_eq(h_sim_stat(o.e, "ota_chunks"), chunks);
	ck_assert_int_eq(h_sim_stat(o.e, "ota_reverts"), 3);
	s = h_edgectl_json(o.e, "status", NULL);
	ck_assert_int_eq(h_json_int(s, "ota.transfers_total"), transfers);
	ck_assert_int_eq(h_json_int(s, "ota.reverts_sent"), 3);
	ck_assert_int_eq(h_json_int(s, "rollouts.health_halts"), 1);
	json_decref(s);
	h_env_free(o.e);
}
END_TEST

/* hw@2.0 behaves as hw@1.0: every look of both soaks passes (or lacks
 * data), the rollout is done. Then `rollout revert` sends every node back:
 * from the other slot, except one whose slot was overwritten, which gets
 * hw@1.0's bytes. */
START_TEST(health_passes_an_unchanged_model_then_revert)
{
	struct ro o;
	json_t *s, *ev;
	long long id, chunks;
	char ids[24];
	size_t i;

	env_with_model(&o, health_cfg);
	fleet_on_v1(&o, "8", "4", "--ota-forget-previous", "7");
	id = start_with(&o, "hw@2.0", "--canary", "2", "--waves", "100%", "--soak", "4s",
			"--health", "on", NULL);
	snprintf(ids, sizeof ids, "%lld", id);
	s = wait_state(&o, id, "done", 90000);
	ck_assert(!has_event(s, "halted"));
	json_array_foreach(json_object_get(s, "events"), i, ev) {
		const char *t = json_string_value(json_object_get(ev, "text"));

		ck_assert_msg(!strstr(t, "health look") || strstr(t, ": pass: ") ||
				      strstr(t, ": insufficient_data: "),
			      "%s", t);
	}
	ck_assert(has_event(s, "canary: health look 2/2 (2+6 nodes read in "));
	ck_assert_str_eq(h_json_str(json_object_get(stage(s, 0), "health"), "verdict"), "pass");
	json_decref(s);

	chunks = h_sim_stat(o.e, "ota_chunks");
	ck_assert_int_eq(h_edgectl(o.e, NULL, "rollout", "revert", ids, NULL), 0);
	s = wait_state(&o, id, "reverted", 90000);
	ck_assert_int_eq(h_json_int(stage(s, 0), "reverted") + h_json_int(stage(s, 1), "reverted"),
			 8);
	ck_assert_str_eq(h_json_str(node_of(s, h_node_id(7)), "reason"), "bytes");
	ck_assert_str_eq(h_json_str(node_of(s, h_node_id(0)), "reason"), "slot");
	ck_assert(has_event(s, "reverted: 8 nodes back on their previous model, 0 could not"));
	json_decref(s);
	/* 7 nodes from the slot (no chunk); one transfer of hw@1.0's chunks to
	 * the node that no longer held it */
	ck_assert_int_eq(h_sim_stat(o.e, "ota_reverts"), 7);
	ck_assert_int_gt(h_sim_stat(o.e, "ota_chunks"), chunks);
	s = h_edgectl_json(o.e, "devices", "show", h_node_id(3), NULL);
	ck_assert_str_eq(h_json_str(s, "ota.active.version"), "1.0");
	json_decref(s);
	/* a reverted rollout cannot be reverted again, nor resumed */
	ck_assert_int_ne(h_edgectl(o.e, NULL, "rollout", "revert", ids, NULL), 0);
	ck_assert_int_ne(h_edgectl(o.e, NULL, "rollout", "resume", ids, NULL), 0);
	h_env_free(o.e);
}
END_TEST

/* kill -9 of edged while the canary soaks: after the restart the soak goes
 * on where it was (not from the start), its remaining looks run, and the
 * rollout ends done. */
START_TEST(kill9_mid_soak_goes_on)
{
	struct ro o;
	json_t *s;
	long long id;

	env_with_model(&o, health_cfg);
	sim_ota(&o, "4", "--anomaly-rate", "2");
	id = start_with(&o, "hw", "--canary", "1", "--waves", "100%", "--soak", "8s", NULL);
	json_decref(wait_state(&o, id, "soaking", 60000));
	h_proc_signal(&o.e->edged, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&o.e->edged) && h_now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&o.e->edged));
	h_edged_start(o.e);
	s = wait_state(&o, id, "done", 90000);
	ck_assert(has_event(s, "resumed after a restart: the soak goes on"));
	ck_assert(has_event(s, "canary: soak of 8 s over"));
	ck_assert(has_event(s, "canary: health look 2/2"));
	ck_assert(!has_event(s, "halted"));
	json_decref(s);
	h_env_free(o.e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "staged_rollout_completes", staged_rollout_completes, 200 },
		{ "failing_canary_halts_and_resume_continues",
		  failing_canary_halts_and_resume_continues, 200 },
		{ "kill9_mid_rollout_continues", kill9_mid_rollout_continues, 200 },
		{ "pause_holds_the_next_stage_and_abort_cancels",
		  pause_holds_the_next_stage_and_abort_cancels, 200 },
		{ "thousand_node_rollout_with_loss", thousand_node_rollout_with_loss, 290 },
		{ "offline_node_is_retried_then_fails", offline_node_is_retried_then_fails, 200 },
		{ "health_halts_a_worse_model_and_reverts", health_halts_a_worse_model_and_reverts,
		  200 },
		{ "health_passes_an_unchanged_model_then_revert",
		  health_passes_an_unchanged_model_then_revert, 200 },
		{ "kill9_mid_soak_goes_on", kill9_mid_soak_goes_on, 200 },
	};
	return h_run_cases(argc, argv, "rollout", cases, sizeof cases / sizeof cases[0]);
}
