/* Signed model delivery end to end: real keys (OpenSSL, through edgectl),
 * packages packed from real models in tests/data, the real broker, edged
 * and simulated nodes running the device SDK's receiver against simulated
 * flash. Each attack of the update-attack list is refused with its own
 * reason at the gateway's import; transfers survive corruption, loss,
 * disconnects, node reboots, stalls and kill -9 of edged; a failed
 * self-test reverts the node. Run one case with `test-ota CASE`. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_ota_pack.h"
#include "edge_ota_package.h"
#include "harness.h"
#include "test_run.h"

/* Timeouts short enough for tests, long enough for a loaded CI machine. */
static const char *const ota_cfg[] = {
	"ota.offer_timeout_ms", "2000",
	"ota.stall_timeout_ms", "3000",
	"ota.retry_interval_ms", "2000",
	"ota.result_timeout_ms", "30000",
	"ota.campaign_gather_ms", "500",
	"ota.rto_min_ms", "100",
	NULL,
};

struct ota {
	struct h_env *e;
	char keys[400], trust[400], node_trust[400];
	char key1[420], key2[420], rogue[420];
};

static const char *data_dir(void)
{
	const char *d = getenv("EDGE_TEST_DATA");
	ck_assert_msg(d != NULL, "EDGE_TEST_DATA not set (run through meson test)");
	return d;
}

static void model_path(char *buf, size_t cap, const char *file)
{
	snprintf(buf, cap, "%s/models/%s", data_dir(), file);
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "write %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void keygen(struct ota *o, const char *base, const char *type)
{
	ck_assert_int_eq(h_edgectl(o->e, NULL, "keys", "generate", "--type", type, "--out", base,
				   NULL), 0);
}

/* Keys: key1 and key2 trusted by the gateway and the nodes, rogue by no
 * one. extra: configuration pairs after ota_cfg. */
static void ota_env(struct ota *o, const char *const *extra)
{
	char pub[440], to[520];

	memset(o, 0, sizeof(*o));
	o->e = h_env_new();
	snprintf(o->keys, sizeof o->keys, "%s/keys", o->e->dir);
	snprintf(o->trust, sizeof o->trust, "%s/trust", o->e->dir);
	snprintf(o->node_trust, sizeof o->node_trust, "%s/node-trust", o->e->dir);
	ck_assert_int_eq(mkdir(o->keys, 0700), 0);
	ck_assert_int_eq(mkdir(o->trust, 0755), 0);
	ck_assert_int_eq(mkdir(o->node_trust, 0755), 0);
	snprintf(o->key1, sizeof o->key1, "%s/k1", o->keys);
	snprintf(o->key2, sizeof o->key2, "%s/k2", o->keys);
	snprintf(o->rogue, sizeof o->rogue, "%s/rogue", o->keys);
	keygen(o, o->key1, "ed25519");
	keygen(o, o->key2, "p256");
	keygen(o, o->rogue, "ed25519");
	for (const char *k = "k1"; k; k = strcmp(k, "k1") == 0 ? "k2" : NULL) {
		snprintf(pub, sizeof pub, "%s/%s.pub", o->keys, k);
		snprintf(to, sizeof to, "%s/%s.pub", o->trust, k);
		h_copy_file(pub, to);
		snprintf(to, sizeof to, "%s/%s.pub", o->node_trust, k);
		h_copy_file(pub, to);
	}
	h_broker_start(o->e);
	h_cfg_set(o->e, "ota.trust_dir", o->trust);
	for (const char *const *c = ota_cfg; *c; c += 2)
		h_cfg_set(o->e, c[0], c[1]);
	for (const char *const *c = extra; c && *c; c += 2)
		h_cfg_set(o->e, c[0], c[1]);
	h_edged_start(o->e);
}

/* Pack tests/data/models/<file> into dir/<out> signed by key (and key2 if
 * not NULL). */
static void pack(struct ota *o, const char *file, const char *name, const char *version,
		 const char *counter, const char *key, const char *key2, const char *extra1,
		 const char *extra2, char *out, size_t cap, const char *out_name)
{
	char model[512], k1[440], k2[440];

	model_path(model, sizeof model, file);
	snprintf(out, cap, "%s/%s", o->e->dir, out_name);
	snprintf(k1, sizeof k1, "%s.key", key);
	if (key2)
		snprintf(k2, sizeof k2, "%s.key", key2);
	if (key2 && extra1)
		ck_assert_int_eq(h_edgectl(o->e, NULL, "model", "pack", model, "--name", name,
					   "--version", version, "--counter", counter, "--key", k1,
					   "--key", k2, extra1, extra2, "--out", out, NULL), 0);
	else if (key2)
		ck_assert_int_eq(h_edgectl(o->e, NULL, "model", "pack", model, "--name", name,
					   "--version", version, "--counter", counter, "--key", k1,
					   "--key", k2, "--out", out, NULL), 0);
	else if (extra1)
		ck_assert_int_eq(h_edgectl(o->e, NULL, "model", "pack", model, "--name", name,
					   "--version", version, "--counter", counter, "--key", k1,
					   extra1, extra2, "--out", out, NULL), 0);
	else
		ck_assert_int_eq(h_edgectl(o->e, NULL, "model", "pack", model, "--name", name,
					   "--version", version, "--counter", counter, "--key", k1,
					   "--out", out, NULL), 0);
}

/* models add: 0 and the model, or the error code (and reason) refused. */
static void add_ok(struct ota *o, const char *pkg)
{
	json_t *r = NULL;
	int rc = h_edgectl(o->e, &r, "models", "add", pkg, NULL);

	ck_assert_msg(rc == 0, "models add %s: exit %d", pkg, rc);
	ck_assert_ptr_nonnull(json_object_get(r, "model"));
	json_decref(r);
}

static void add_refused(struct ota *o, const char *pkg, const char *code, const char *reason)
{
	json_t *r = h_ctl_call(o->e, "models.add", "{\"path\":\"%s\"}", pkg);
	const char *got = h_ctl_error(r);

	ck_assert_msg(got && strcmp(got, code) == 0, "models add %s: error %s, expected %s", pkg,
		      got ? got : "(none: accepted)", code);
	if (reason) {
		json_t *err = json_object_get(r, "error");
		const char *why = json_string_value(json_object_get(err, "reason"));
		if (!why)
			why = json_string_value(json_object_get(r, "reason"));
		ck_assert_msg(why && strcmp(why, reason) == 0,
			      "models add %s: reason %s, expected %s", pkg, why ? why : "(none)",
			      reason);
	}
	json_decref(r);
}

/* ota_env, then tests/data/models/<file> packed as name 1.0 (counter 1,
 * key1) and added to edged's store. */
static void env_with_model(struct ota *o, const char *const *extra, const char *file,
			   const char *name)
{
	char pkg[512], out[64];

	ota_env(o, extra);
	snprintf(out, sizeof out, "%s.pkg", name);
	pack(o, file, name, "1.0", "1", o->key1, NULL, NULL, NULL, pkg, sizeof pkg, out);
	add_ok(o, pkg);
}

/* The simulator with OTA on: nodes trust node_trust. */
static void sim_ota(struct ota *o, const char *count, const char *a1, const char *a2,
		    const char *a3, const char *a4)
{
	h_sim_start(o->e, "--count", count, "--heartbeat-s", "5", "--ota-trust", o->node_trust,
		    a1, a2, a3, a4, NULL);
	{
		char want[64];

		snprintf(want, sizeof want, "sim: registered all %s", count);
		h_sim_wait(o->e, want, 60000);
	}
}

/* ota send; returns the transfer id. */
static long long send_to(struct ota *o, const char *ref, const char *to, const char *opt)
{
	json_t *r = NULL;
	long long t;
	int rc = opt ? h_edgectl(o->e, &r, "ota", "send", ref, "--to", to, opt, NULL)
		     : h_edgectl(o->e, &r, "ota", "send", ref, "--to", to, NULL);

	ck_assert_msg(rc == 0 && r, "ota send %s --to %s: exit %d", ref, to, rc);
	t = h_json_int(r, "transfer");
	ck_assert_int_gt(t, 0);
	json_decref(r);
	return t;
}

/* The transfer's entry of `ota status --transfer T` (new reference). */
static json_t *transfer_status(struct ota *o, long long t)
{
	char ts[24];
	json_t *r, *arr, *x, *found = NULL;
	size_t i;

	snprintf(ts, sizeof ts, "%lld", t);
	r = h_edgectl_json(o->e, "ota", "status", "--transfer", ts, NULL);
	arr = json_object_get(r, "transfers");
	json_array_foreach(arr, i, x)
		if (json_integer_value(json_object_get(x, "transfer")) == t)
			found = json_incref(x);
	json_decref(r);
	ck_assert_msg(found != NULL, "ota status has no transfer %lld", t);
	return found;
}

static json_t *node_of(json_t *transfer, const char *id)
{
	json_t *nodes = json_object_get(transfer, "nodes"), *n;
	size_t i;

	json_array_foreach(nodes, i, n)
		if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
			return n;
	ck_abort_msg("transfer has no node %s", id);
	return NULL;
}

/* Wait until transfer t is no longer running; returns its status. */
static json_t *wait_finished(struct ota *o, long long t, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		json_t *x = transfer_status(o, t);
		const char *st = json_string_value(json_object_get(x, "state"));
		if (st && strcmp(st, "running") != 0)
			return x;
		if (h_now_ms() > end) {
			char *dump = json_dumps(x, JSON_COMPACT);
			ck_abort_msg("transfer %lld still running after %u ms: %.1500s", t,
				     timeout_ms, dump);
		}
		json_decref(x);
		h_sleep_ms(200);
	}
}

/* Wait until node id of transfer t is in state. */
static void wait_node_state(struct ota *o, long long t, const char *id, const char *state,
			    unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		json_t *x = transfer_status(o, t);
		const char *st = json_string_value(json_object_get(node_of(x, id), "state"));
		bool hit = st && strcmp(st, state) == 0;
		json_decref(x);
		if (hit)
			return;
		ck_assert_msg(h_now_ms() < end, "node %s of transfer %lld never %s", id, t, state);
		h_sleep_ms(100);
	}
}

/* Wait until node id holds at least `want` chunks of transfer t. */
static void wait_chunks(struct ota *o, long long t, const char *id, long long want,
			unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		json_t *x = transfer_status(o, t);
		long long held = json_integer_value(json_object_get(node_of(x, id), "chunks_held"));
		json_decref(x);
		if (held >= want)
			return;
		ck_assert_msg(h_now_ms() < end, "node %s of transfer %lld holds %lld < %lld chunks",
			      id, t, held, want);
		h_sleep_ms(50);
	}
}

static long long node_int(json_t *transfer, const char *id, const char *key)
{
	return json_integer_value(json_object_get(node_of(transfer, id), key));
}

static const char *node_str(json_t *transfer, const char *id, const char *key)
{
	return json_string_value(json_object_get(node_of(transfer, id), key));
}

/* The manifest's self-test hash of a stored model. */
static char *selftest_hash(struct ota *o, const char *ref)
{
	json_t *r = h_edgectl_json(o->e, "models", "show", ref, NULL);
	const char *h = h_json_str(r, "model.manifest.selftest.output_sha256");
	char *copy;

	ck_assert_msg(h != NULL, "models show %s: no selftest hash", ref);
	copy = strdup(h);
	json_decref(r);
	return copy;
}

/* Every node of a finished transfer activated with the manifest's hash. */
static void assert_all_activated(json_t *x, const char *want_hash, long long n)
{
	json_t *nodes = json_object_get(x, "nodes"), *nd;
	size_t i;

	ck_assert_int_eq((long long)json_array_size(nodes), n);
	json_array_foreach(nodes, i, nd) {
		const char *st = json_string_value(json_object_get(nd, "state"));
		const char *h = json_string_value(json_object_get(nd, "output_sha256"));
		ck_assert_msg(st && strcmp(st, "activated") == 0, "node %s: %s (%s)",
			      json_string_value(json_object_get(nd, "id")), st,
			      json_string_value(json_object_get(nd, "reason")));
		ck_assert_msg(h && strcmp(h, want_hash) == 0, "node %s: output %s, manifest %s",
			      json_string_value(json_object_get(nd, "id")), h, want_hash);
	}
}

/* ---- the gateway's import: every attack refused with its reason ---- */

static void splice_mix(const char *a_path, const char *b_path, const char *out)
{
	size_t a_len, b_len, head, b_head;
	uint8_t *a = (uint8_t *)h_read_file(a_path, &a_len);
	uint8_t *b = (uint8_t *)h_read_file(b_path, &b_len);
	struct edge_ota_container ca, cb;
	struct edge_msg_error err;
	uint8_t *mix;
	uint64_t n;
	uint32_t crc;

	ck_assert_int_eq(edge_ota_container_parse(a, a_len, &ca, &err), 0);
	ck_assert_int_eq(edge_ota_container_parse(b, b_len, &cb, &err), 0);
	head = EDGE_OTA_HEADER_SIZE + ca.manifest_len + ca.sig_block_len;
	b_head = EDGE_OTA_HEADER_SIZE + cb.manifest_len + cb.sig_block_len;
	/* a's signed manifest and signatures, b's model bytes; the container
	 * header made consistent, so only the manifest can tell. */
	mix = malloc(head + (b_len - b_head));
	ck_assert_ptr_nonnull(mix);
	memcpy(mix, a, head);
	memcpy(mix + head, b + b_head, b_len - b_head);
	n = b_len - b_head;
	for (int i = 0; i < 8; i++)
		mix[20 + i] = (uint8_t)(n >> (8 * i));
	crc = edge_ota_crc32c(0, mix, 28);
	for (int i = 0; i < 4; i++)
		mix[28 + i] = (uint8_t)(crc >> (8 * i));
	write_bytes(out, mix, head + n);
	free(mix);
	free(a);
	free(b);
}

START_TEST(import_refuses_every_attack)
{
	static const char *const cfg[] = { "ota.threshold", "1", NULL };
	struct ota o;
	char good[512], other[512], rogue[512], old[512], expired[512], mix[512], endless[512];
	char unsigned_pkg[560];
	size_t len;
	char *bytes;
	json_t *r;

	ota_env(&o, cfg);
	pack(&o, "hello_world_int8.tflite", "hw", "2.0", "5", o.key1, NULL, NULL, NULL, good,
	     sizeof good, "good.pkg");
	pack(&o, "simple_add.tflite", "add", "1.0", "1", o.key1, NULL, NULL, NULL, other,
	     sizeof other, "other.pkg");
	pack(&o, "hello_world_int8.tflite", "hw", "1.0", "4", o.key1, NULL, NULL, NULL, old,
	     sizeof old, "old.pkg");
	pack(&o, "hello_world_int8.tflite", "rw", "1.0", "1", o.rogue, NULL, NULL, NULL, rogue,
	     sizeof rogue, "rogue.pkg");
	pack(&o, "hello_world_int8.tflite", "ex", "1.0", "1", o.key1, NULL, "--expires",
	     "2001-01-01", expired, sizeof expired, "expired.pkg");

	/* bad signature: one byte of the signed manifest changed */
	bytes = h_read_file(good, &len);
	{
		char bad[560];
		char *copy = malloc(len);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, bytes, len);
		char *v = memmem(copy, len, "\"2.0\"", 5);
		ck_assert_ptr_nonnull(v);
		v[1] = '3';
		snprintf(bad, sizeof bad, "%s/badsig.pkg", o.e->dir);
		write_bytes(bad, copy, len);
		add_refused(&o, bad, "refused", "bad_signature");
		/* endless data: more bytes than the header and manifest say */
		memcpy(copy, bytes, len);
		snprintf(endless, sizeof endless, "%s/endless.pkg", o.e->dir);
		{
			char *longer = malloc(len + 4096);
			ck_assert_ptr_nonnull(longer);
			memcpy(longer, bytes, len);
			memset(longer + len, 0xA5, 4096);
			write_bytes(endless, longer, len + 4096);
			free(longer);
		}
		add_refused(&o, endless, "refused", "malformed");
		free(copy);
	}
	/* unsigned: the same manifest and model with no signature entry */
	{
		struct edge_ota_container c;
		struct edge_msg_error err;
		uint8_t *u = NULL;
		size_t u_len = 0;

		ck_assert_int_eq(edge_ota_container_parse(bytes, len, &c, &err), 0);
		ck_assert_int_eq(edge_ota_assemble(c.manifest, c.manifest_len, NULL, 0, c.model,
						   (size_t)c.model_len, &u, &u_len), 0);
		snprintf(unsigned_pkg, sizeof unsigned_pkg, "%s/unsigned.pkg", o.e->dir);
		write_bytes(unsigned_pkg, u, u_len);
		free(u);
	}
	free(bytes);
	add_refused(&o, unsigned_pkg, "refused", "unsigned");
	add_refused(&o, rogue, "refused", "unknown_key");
	add_refused(&o, expired, "refused", "expired");
	snprintf(mix, sizeof mix, "%s/mix.pkg", o.e->dir);
	splice_mix(good, other, mix);
	add_refused(&o, mix, "refused", "size_mismatch");

	add_ok(&o, good);
	add_refused(&o, good, "exists", NULL);
	add_refused(&o, old, "rollback", NULL);

	/* The counter stays after the model is removed: still a rollback. */
	ck_assert_int_eq(h_edgectl(o.e, NULL, "models", "remove", "hw@2.0", NULL), 0);
	add_refused(&o, old, "rollback", NULL);

	r = h_edgectl_json(o.e, "models", "list", NULL);
	ck_assert_int_eq((long long)json_array_size(json_object_get(r, "models")), 0);
	json_decref(r);
	/* Neither the refused packages nor the removed one left a file. */
	{
		char dir[400];
		DIR *d;
		struct dirent *de;
		unsigned files = 0;

		snprintf(dir, sizeof dir, "%s/models", o.e->state_dir);
		d = opendir(dir);
		ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
		while ((de = readdir(d)) != NULL)
			files += de->d_name[0] != '.';
		closedir(d);
		ck_assert_uint_eq(files, 0);
	}
	h_env_free(o.e);
}
END_TEST

/* Threshold 2: one trusted signature is not enough, two distinct are. */
START_TEST(import_threshold)
{
	static const char *const cfg[] = { "ota.threshold", "2", NULL };
	struct ota o;
	char one[512], two[512];

	ota_env(&o, cfg);
	pack(&o, "hello_world_int8.tflite", "hw", "1.0", "1", o.key1, NULL, NULL, NULL, one,
	     sizeof one, "one.pkg");
	pack(&o, "hello_world_int8.tflite", "hw", "1.1", "2", o.key1, o.key2, NULL, NULL, two,
	     sizeof two, "two.pkg");
	add_refused(&o, one, "refused", "threshold_not_met");
	add_ok(&o, two);
	h_env_free(o.e);
}
END_TEST

/* No trusted key configured: nothing is imported, never "unverified". */
START_TEST(no_trust_refuses_import)
{
	struct h_env *e = h_env_new();
	char keybase[400], pkg[400], model[512], key[420];
	json_t *r = NULL;

	h_broker_start(e);
	h_edged_start(e);
	snprintf(keybase, sizeof keybase, "%s/k", e->dir);
	ck_assert_int_eq(h_edgectl(e, NULL, "keys", "generate", "--type", "ed25519", "--out",
				   keybase, NULL), 0);
	snprintf(key, sizeof key, "%s.key", keybase);
	model_path(model, sizeof model, "hello_world_int8.tflite");
	snprintf(pkg, sizeof pkg, "%s/hw.pkg", e->dir);
	ck_assert_int_eq(h_edgectl(e, NULL, "model", "pack", model, "--name", "hw", "--version",
				   "1", "--counter", "1", "--key", key, "--out", pkg, NULL), 0);
	{
		struct ota o = { .e = e };
		r = h_ctl_call(o.e, "models.add", "{\"path\":\"%s\"}", pkg);
		ck_assert_str_eq(h_ctl_error(r), "no_trust");
		json_decref(r);
	}
	h_env_free(e);
}
END_TEST

/* ---- delivery ---- */

/* One node: offer, chunks, verify, activate, self-test: the node's output
 * hash is the manifest's; devices show has the model and the outcome. */
START_TEST(delivers_to_one_node)
{
	struct ota o;
	json_t *x, *d;
	char *want;
	long long t;

	env_with_model(&o, NULL, "hello_world_int8.tflite", "hw");
	want = selftest_hash(&o, "hw");
	sim_ota(&o, "1", NULL, NULL, NULL, NULL);
	t = send_to(&o, "hw", h_node_id(0), NULL);
	x = wait_finished(&o, t, 60000);
	assert_all_activated(x, want, 1);
	ck_assert_int_eq(node_int(x, h_node_id(0), "chunks_held"),
			 node_int(x, h_node_id(0), "n_chunks"));
	json_decref(x);

	d = h_edgectl_json(o.e, "devices", "show", h_node_id(0), NULL);
	ck_assert_str_eq(h_json_str(d, "ota.last_outcome"), "activated");
	ck_assert_str_eq(h_json_str(d, "ota.active.name"), "hw");
	ck_assert_int_eq(h_json_int(d, "ota.last_transfer"), t);
	json_decref(d);
	/* The node says hello with its new model: the registry shows it. */
	for (uint64_t end = h_now_ms() + 20000;; h_sleep_ms(100)) {
		d = h_edgectl_json(o.e, "devices", "show", h_node_id(0), NULL);
		const char *name = h_json_str(d, "model.name");
		bool hit = name && strcmp(name, "hw") == 0;
		json_decref(d);
		if (hit)
			break;
		ck_assert_msg(h_now_ms() < end, "registry never showed the new model");
	}
	/* Offered again: the node already has it, nothing is sent. */
	{
		json_t *r = h_ctl_call(o.e, "ota.send", "{\"model\":\"hw\",\"to\":[\"%s\"]}",
				h_node_id(0));
		ck_assert_str_eq(h_ctl_error(r), "no_target");
		json_decref(r);
	}
	free(want);
	h_env_free(o.e);
}
END_TEST

/* A list of nodes through the campaign topic: each chunk published once,
 * every node activates; the node left out gets nothing. */
START_TEST(delivers_to_a_list_by_campaign)
{
	struct ota o;
	char to[256];
	json_t *x;
	char *want;
	long long t;

	env_with_model(&o, NULL, "micro_speech.tflite", "ms");
	want = selftest_hash(&o, "ms@1.0");
	sim_ota(&o, "5", NULL, NULL, NULL, NULL);
	snprintf(to, sizeof to, "%s,%s,%s,%s", h_node_id(0), h_node_id(1), h_node_id(2),
		 h_node_id(3));
	t = send_to(&o, "ms", to, NULL);
	x = wait_finished(&o, t, 90000);
	assert_all_activated(x, want, 4);
	ck_assert(json_is_true(json_object_get(x, "campaign")));
	ck_assert_int_ge(h_json_int(x, "stats.campaign_chunks"), h_json_int(x, "n_chunks"));
	/* Without loss, the pass is all: repairs only for what was lost. */
	ck_assert_int_le(h_json_int(x, "stats.campaign_chunks"), h_json_int(x, "n_chunks"));
	json_decref(x);
	{
		json_t *d = h_edgectl_json(o.e, "devices", "show", h_node_id(4), NULL);
		json_t *active = json_object_get(json_object_get(d, "ota"), "active");
		ck_assert(active == NULL || json_is_null(active));
		json_decref(d);
	}
	free(want);
	h_env_free(o.e);
}
END_TEST

/* Wrong target: a node without an op the model needs is refused before
 * any chunk is sent; models fit says why. */
START_TEST(wrong_target_refused_before_any_chunk)
{
	struct ota o;
	json_t *r = NULL, *unfit;
	long long chunks;

	env_with_model(&o, NULL, "hello_world_int8.tflite", "hw");
	sim_ota(&o, "1", "--ops", "CONV_2D,SOFTMAX", NULL, NULL);
	r = h_edgectl_json(o.e, "models", "fit", "hw", NULL);
	ck_assert_int_eq((long long)json_array_size(json_object_get(r, "fit")), 0);
	unfit = json_array_get(json_object_get(r, "unfit"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(unfit, "reason")), "missing_ops");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(unfit, "detail")),
				     "FULLY_CONNECTED"));
	json_decref(r);
	r = h_ctl_call(o.e, "ota.send", "{\"model\":\"hw\",\"to\":[\"%s\"]}", h_node_id(0));
	ck_assert_str_eq(h_ctl_error(r), "no_target");
	json_decref(r);
	chunks = h_sim_stat(o.e, "ota_chunks");
	ck_assert_int_eq(chunks, 0);
	ck_assert_int_eq(h_sim_stat(o.e, "ota_offers"), 0);
	h_env_free(o.e);
}
END_TEST

/* A node that denies: final, with its reason, counted. */
START_TEST(denied_offer_is_final_and_counted)
{
	struct ota o;
	json_t *x, *st;
	long long t;

	env_with_model(&o, NULL, "hello_world_int8.tflite", "hw");
	sim_ota(&o, "1", "--ota-deny", "all", NULL, NULL);
	t = send_to(&o, "hw", h_node_id(0), NULL);
	x = wait_finished(&o, t, 30000);
	ck_assert_str_eq(node_str(x, h_node_id(0), "state"), "denied");
	ck_assert_str_eq(node_str(x, h_node_id(0), "reason"), "busy");
	json_decref(x);
	st = h_edgectl_json(o.e, "status", NULL);
	ck_assert_int_ge(h_json_int(st, "ota.reasons.busy"), 1);
	json_decref(st);
	h_env_free(o.e);
}
END_TEST

/* The node trusts other keys than the gateway: it verifies with its own
 * anchors and denies unknown_key; nothing is written. */
START_TEST(node_verifies_with_its_own_anchors)
{
	struct ota o;
	char pkg[512], k2[520], stale[520];
	json_t *x;
	long long t;

	ota_env(&o, NULL);
	/* the nodes trust k2 only */
	snprintf(stale, sizeof stale, "%s/k1.pub", o.node_trust);
	ck_assert_int_eq(unlink(stale), 0);
	(void)k2;
	pack(&o, "hello_world_int8.tflite", "hw", "1.0", "1", o.key1, NULL, NULL, NULL, pkg,
	     sizeof pkg, "hw.pkg");
	add_ok(&o, pkg);
	sim_ota(&o, "1", NULL, NULL, NULL, NULL);
	t = send_to(&o, "hw", h_node_id(0), NULL);
	x = wait_finished(&o, t, 30000);
	ck_assert_str_eq(node_str(x, h_node_id(0), "state"), "denied");
	ck_assert_str_eq(node_str(x, h_node_id(0), "reason"), "unknown_key");
	json_decref(x);
	ck_assert_int_eq(h_sim_stat(o.e, "ota_chunks"), 0);
	h_env_free(o.e);
}
END_TEST

/* Corrupted chunks fail their CRC at the node and are sent again. */
START_TEST(corrupted_chunks_are_resent)
{
	struct ota o;
	json_t *x;
	char *want;
	long long t;

	env_with_model(&o, NULL, "micro_speech.tflite", "ms");
	want = selftest_hash(&o, "ms");
	sim_ota(&o, "1", "--ota-corrupt", "all", NULL, NULL);
	t = send_to(&o, "ms", h_node_id(0), NULL);
	x = wait_finished(&o, t, 60000);
	assert_all_activated(x, want, 1);
	ck_assert_int_ge(node_int(x, h_node_id(0), "retransmits"), 3);
	json_decref(x);
	ck_assert_int_ge(h_sim_stat(o.e, "ota_bad"), 3);
	free(want);
	h_env_free(o.e);
}
END_TEST

/* A node that disconnects, or reboots, half-way resumes: it is offered
 * again, accepts with what it holds, and at most one window of chunks it
 * had is sent again. */
static void resume_case(const char *flag)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "20480", "ota.window", "8",
					   NULL };
	struct ota o;
	json_t *x;
	char *want;
	long long t, n, sent;

	env_with_model(&o, cfg, "kws_ref_model.tflite", "kws");
	want = selftest_hash(&o, "kws");
	sim_ota(&o, "1", flag, "all", NULL, NULL);
	t = send_to(&o, "kws", h_node_id(0), NULL);
	x = wait_finished(&o, t, 120000);
	assert_all_activated(x, want, 1);
	n = node_int(x, h_node_id(0), "n_chunks");
	sent = node_int(x, h_node_id(0), "unicast_chunks");
	ck_assert_int_ge(node_int(x, h_node_id(0), "offers"), 2);
	ck_assert_msg(sent <= n + 8, "%lld chunks sent for %lld: more than one window again",
		      sent, n);
	json_decref(x);
	free(want);
	h_env_free(o.e);
}

START_TEST(disconnect_mid_transfer_resumes)
{
	resume_case("--ota-disconnect");
}
END_TEST

START_TEST(reboot_mid_transfer_resumes)
{
	resume_case("--ota-reboot");
}
END_TEST

/* Slow retrieval: a node that stops taking chunks times out (stalled,
 * reason timeout) and later resumes to the end. */
START_TEST(stalled_transfer_times_out_then_resumes)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "20480", NULL };
	struct ota o;
	json_t *x;
	long long t;

	env_with_model(&o, cfg, "micro_speech.tflite", "ms");
	sim_ota(&o, "1", "--ota-stall", "all", "--ota-stall-s", "8");
	t = send_to(&o, "ms", h_node_id(0), NULL);
	wait_node_state(&o, t, h_node_id(0), "stalled", 30000);
	x = transfer_status(&o, t);
	ck_assert_str_eq(node_str(x, h_node_id(0), "reason"), "timeout");
	json_decref(x);
	x = wait_finished(&o, t, 90000);
	ck_assert_str_eq(node_str(x, h_node_id(0), "state"), "activated");
	json_decref(x);
	h_env_free(o.e);
}
END_TEST

/* kill -9 of edged mid-transfer: the restarted edged rebuilds the transfer
 * from SQLite and the node resumes from what it holds. */
START_TEST(kill9_mid_transfer_resumes)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "20480", "ota.window", "8",
					   NULL };
	struct ota o;
	json_t *x;
	char *want;
	long long t, n;

	env_with_model(&o, cfg, "kws_ref_model.tflite", "kws");
	want = selftest_hash(&o, "kws");
	sim_ota(&o, "1", NULL, NULL, NULL, NULL);
	t = send_to(&o, "kws", h_node_id(0), NULL);
	x = transfer_status(&o, t);
	n = node_int(x, h_node_id(0), "n_chunks");
	json_decref(x);
	wait_chunks(&o, t, h_node_id(0), n / 3, 60000);
	h_proc_signal(&o.e->edged, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&o.e->edged) && h_now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&o.e->edged));
	h_edged_start(o.e);
	x = wait_finished(&o, t, 120000);
	assert_all_activated(x, want, 1);
	/* The restarted sender sent only what the node did not hold. */
	ck_assert_int_le(node_int(x, h_node_id(0), "unicast_chunks"), n - n / 3 + 8);
	json_decref(x);
	free(want);
	h_env_free(o.e);
}
END_TEST

/* A transfer whose package file is gone when edged restarts cannot go on:
 * it is closed and its node in progress fails (internal) in the database,
 * instead of staying open forever. */
START_TEST(transfer_without_its_package_is_closed_at_restart)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "4096", NULL };
	struct ota o;
	char path[700];
	long long t;
	sqlite3 *db;
	sqlite3_stmt *st;

	env_with_model(&o, cfg, "kws_ref_model.tflite", "kws");
	sim_ota(&o, "1", NULL, NULL, NULL, NULL);
	t = send_to(&o, "kws", h_node_id(0), NULL);
	wait_chunks(&o, t, h_node_id(0), 1, 30000);
	ck_assert_int_eq(h_edged_stop(o.e), 0);
	/* the package's file, content-addressed under state_dir/models */
	{
		DIR *d;
		struct dirent *de;
		char dir[340];

		snprintf(dir, sizeof dir, "%s/models", o.e->state_dir);
		d = opendir(dir);
		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)) != NULL)
			if (strstr(de->d_name, ".pkg")) {
				snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
				ck_assert_int_eq(unlink(path), 0);
			}
		closedir(d);
	}
	h_edged_start(o.e);
	/* Closed: not among the open transfers. */
	{
		json_t *r = h_edgectl_json(o.e, "status", NULL);
		ck_assert_int_eq(h_json_int(r, "ota.transfers_open"), 0);
		ck_assert_int_ge(h_json_int(r, "ota.reasons.internal"), 1);
		json_decref(r);
	}
	snprintf(path, sizeof path, "%s/edged.db", o.e->state_dir);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT n.state, n.reason, t.finished_ms FROM ota_node n"
					    " JOIN ota_transfer t ON t.id = n.transfer"
					    " WHERE n.transfer = ?1 AND n.device = ?2",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_text(st, 2, h_node_id(0), -1, SQLITE_STATIC);
	for (uint64_t end = h_now_ms() + 10000;; h_sleep_ms(100)) {
		int rc = sqlite3_step(st);
		bool done = rc == SQLITE_ROW &&
			    strcmp((const char *)sqlite3_column_text(st, 0), "failed") == 0 &&
			    sqlite3_column_int64(st, 2) > 0;
		if (done) {
			ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "internal");
			break;
		}
		sqlite3_reset(st);
		ck_assert_msg(h_now_ms() < end, "node of transfer %lld never failed in the database",
			      t);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	h_env_free(o.e);
}
END_TEST

/* Events per device from the rollups (`anomalies stats --by device`). */
static long long device_events(struct ota *o, const char *id)
{
	json_t *r = h_edgectl_json(o->e, "anomalies", "stats", "--by", "device", "--since", "1d",
				   NULL);
	json_t *groups = json_object_get(r, "groups"), *g;
	long long n = 0;
	size_t i;

	json_array_foreach(groups, i, g)
		if (strcmp(json_string_value(json_object_get(g, "key")), id) == 0)
			n = json_integer_value(json_object_get(g, "count"));
	json_decref(r);
	return n;
}

/* After an activation a node's anomaly reports name the model it runs,
 * and the simulator can make a model raise the node's anomaly rate
 * (--anomaly-factor): the ground the rollouts' model-aware health stands
 * on. Node 0 runs ms@1.0 at 5 times the rate of node 1. */
START_TEST(activated_model_names_the_reports)
{
	struct ota o;
	json_t *x, *r, *g;
	long long t, a0, b0, a1, b1;
	bool seen = false;
	size_t i;

	env_with_model(&o, NULL, "micro_speech.tflite", "ms");
	sim_ota(&o, "2", "--anomaly-rate", "4", "--anomaly-factor", "ms@1.0=5");
	t = send_to(&o, "ms", h_node_id(0), NULL);
	x = wait_finished(&o, t, 60000);
	ck_assert_str_eq(node_str(x, h_node_id(0), "state"), "activated");
	json_decref(x);
	/* counts from a point after the activation, over the same time */
	for (uint64_t end = h_now_ms() + 20000; device_events(&o, h_node_id(0)) < 20;
	     h_sleep_ms(200))
		ck_assert_msg(h_now_ms() < end, "no events from node 0");
	a0 = device_events(&o, h_node_id(0));
	b0 = device_events(&o, h_node_id(1));
	for (uint64_t end = h_now_ms() + 60000; device_events(&o, h_node_id(0)) < a0 + 150;
	     h_sleep_ms(200))
		ck_assert_msg(h_now_ms() < end, "node 0's events did not grow");
	a1 = device_events(&o, h_node_id(0));
	b1 = device_events(&o, h_node_id(1));
	/* 5x expected; Poisson noise on ~30 events of node 1 keeps it far from 2x */
	ck_assert_msg((a1 - a0) > 2 * (b1 - b0), "node 0 +%lld events, node 1 +%lld", a1 - a0,
		      b1 - b0);
	r = h_edgectl_json(o.e, "anomalies", "stats", "--by", "model", "--since", "1d", NULL);
	json_array_foreach(json_object_get(r, "groups"), i, g)
		seen |= strcmp(json_string_value(json_object_get(g, "key")), "ms@1.0") == 0;
	json_decref(r);
	ck_assert_msg(seen, "no events under ms@1.0");
	h_env_free(o.e);
}
END_TEST

/* A failed self-test reverts the node; the outcome is reported and kept. */
START_TEST(failed_selftest_reverts)
{
	struct ota o;
	json_t *x, *d;
	long long t;

	env_with_model(&o, NULL, "hello_world_int8.tflite", "hw");
	sim_ota(&o, "1", "--ota-fail-selftest", "all", NULL, NULL);
	t = send_to(&o, "hw", h_node_id(0), NULL);
	x = wait_finished(&o, t, 60000);
	ck_assert_str_eq(node_str(x, h_node_id(0), "state"), "reverted");
	ck_assert_str_eq(node_str(x, h_node_id(0), "reason"), "selftest_mismatch");
	json_decref(x);
	d = h_edgectl_json(o.e, "devices", "show", h_node_id(0), NULL);
	ck_assert_str_eq(h_json_str(d, "ota.last_outcome"), "reverted");
	{
		json_t *active = json_object_get(json_object_get(d, "ota"), "active");
		ck_assert(active == NULL || json_is_null(active));
	}
	json_decref(d);
	/* models remove is refused while a transfer uses it: none now. */
	ck_assert_int_eq(h_edgectl(o.e, NULL, "models", "remove", "hw", NULL), 0);
	h_env_free(o.e);
}
END_TEST

/* models remove refused while a transfer uses the package; cancel ends it. */
START_TEST(remove_refused_while_in_use_and_cancel)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "4096", NULL };
	struct ota o;
	json_t *r = NULL, *x;
	long long t;

	env_with_model(&o, cfg, "kws_ref_model.tflite", "kws");
	sim_ota(&o, "1", NULL, NULL, NULL, NULL);
	t = send_to(&o, "kws", h_node_id(0), NULL);
	wait_chunks(&o, t, h_node_id(0), 1, 30000);
	r = h_ctl_call(o.e, "models.remove", "{\"model\":\"kws\"}");
	ck_assert_str_eq(h_ctl_error(r), "in_use");
	json_decref(r);
	{
		char ts[24];
		snprintf(ts, sizeof ts, "%lld", t);
		ck_assert_int_eq(h_edgectl(o.e, NULL, "ota", "cancel", ts, NULL), 0);
	}
	x = wait_finished(&o, t, 20000);
	ck_assert_str_eq(node_str(x, h_node_id(0), "state"), "cancelled");
	json_decref(x);
	ck_assert_int_eq(h_edgectl(o.e, NULL, "models", "remove", "kws", NULL), 0);
	h_env_free(o.e);
}
END_TEST

/* The product's access control: the broker admits provisioned nodes only,
 * with the ACL edged renders (a node reads its own subtree and the
 * campaign topics, writes only its own requests). A campaign to four
 * nodes goes through it: every chunk once on the campaign topic, every
 * node activates. */
START_TEST(campaign_through_the_product_acl)
{
	struct ota o;
	struct h_secured sec;
	char bundles[400], pkg[512];
	json_t *x;
	char *want;
	long long t;

	memset(&o, 0, sizeof o);
	o.e = h_env_new();
	snprintf(bundles, sizeof bundles, "%s/bundles", o.e->dir);
	snprintf(o.keys, sizeof o.keys, "%s/keys", o.e->dir);
	snprintf(o.trust, sizeof o.trust, "%s/trust", o.e->dir);
	snprintf(o.key1, sizeof o.key1, "%s/k1", o.keys);
	ck_assert_int_eq(mkdir(o.keys, 0700), 0);
	ck_assert_int_eq(mkdir(o.trust, 0755), 0);
	ck_assert_int_eq(mkdir(bundles, 0700), 0);
	keygen(&o, o.key1, "ed25519");
	{
		char from[440], to[440];
		snprintf(from, sizeof from, "%s.pub", o.key1);
		snprintf(to, sizeof to, "%s/k1.pub", o.trust);
		h_copy_file(from, to);
	}
	h_broker_start_secured(o.e, NULL, &sec);
	h_cfg_set(o.e, "ota.trust_dir", o.trust);
	for (const char *const *c = ota_cfg; *c; c += 2)
		h_cfg_set(o.e, c[0], c[1]);
	h_edged_start(o.e);
	{
		const char *argv[] = { "nodes", "provision", "n-00000", "n-00001", "n-00002",
				       "n-00003", "--out", bundles, NULL };
		char *err = NULL;
		int rc = h_edgectl_capture(o.e, 60000, NULL, &err, argv);
		ck_assert_msg(rc == 0, "nodes provision: exit %d: %s", rc, err);
		free(err);
	}
	pack(&o, "micro_speech.tflite", "ms", "1.0", "1", o.key1, NULL, NULL, NULL, pkg,
	     sizeof pkg, "ms.pkg");
	add_ok(&o, pkg);
	want = selftest_hash(&o, "ms");
	h_sim_start(o.e, "--id-prefix", "n", "--count", "4", "--bundle-dir", bundles,
		    "--heartbeat-s", "5", "--ota-trust", o.trust, NULL);
	h_sim_wait(o.e, "sim: registered all 4", 60000);
	t = send_to(&o, "ms", "all", NULL);
	x = wait_finished(&o, t, 90000);
	assert_all_activated(x, want, 4);
	ck_assert(json_is_true(json_object_get(x, "campaign")));
	ck_assert_int_eq(h_json_int(x, "stats.campaign_chunks"), h_json_int(x, "n_chunks"));
	/* The campaign reached every node: repairs only for what the
	 * nodes' acks showed missing, never a whole second copy. */
	ck_assert_int_lt(h_json_int(x, "stats.unicast_chunks"), h_json_int(x, "n_chunks"));
	json_decref(x);
	free(want);
	h_env_free(o.e);
}
END_TEST

/* The scale test: 1,000 nodes take a 100 KB package with 5 % of
 * the chunk messages dropped at random; all activate with the manifest's
 * self-test hash. Under the sanitizers (several times slower) 100 nodes. */
START_TEST(thousand_nodes_with_loss)
{
	static const char *const cfg[] = { "ota.rate_bytes_per_s", "4194304",
					   "ota.result_timeout_ms", "120000",
					   "ota.stall_timeout_ms", "20000",
					   "ota.campaign_gather_ms", "3000", NULL };
#ifdef H_ASAN
	const char *count = "100";
#else
	const char *count = "1000";
#endif
	struct ota o;
	json_t *x;
	char *want;
	long long t;

	h_set_deadline(280);
	env_with_model(&o, cfg, "ic_resnet8_int8.tflite", "ic");
	want = selftest_hash(&o, "ic");
	h_sim_start(o.e, "--count", count, "--heartbeat-s", "60", "--ota-trust", o.node_trust,
		    "--ota-drop", "5", "--seed", "9", NULL);
	{
		char line[64];
		snprintf(line, sizeof line, "sim: registered all %s", count);
		h_sim_wait(o.e, line, 120000);
	}
	t = send_to(&o, "ic", "all", NULL);
	x = wait_finished(&o, t, 240000);
	assert_all_activated(x, want, atoll(count));
	ck_assert(json_is_true(json_object_get(x, "campaign")));
	/* Each chunk went once on the campaign topic; the rest was repair. */
	ck_assert_int_le(h_json_int(x, "stats.campaign_chunks"), h_json_int(x, "n_chunks"));
	ck_assert_int_gt(h_json_int(x, "stats.unicast_chunks"), 0);
	json_decref(x);
	free(want);
	h_env_free(o.e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "import_refuses_every_attack", import_refuses_every_attack, 120 },
		{ "import_threshold", import_threshold, 120 },
		{ "no_trust_refuses_import", no_trust_refuses_import, 120 },
		{ "delivers_to_one_node", delivers_to_one_node, 120 },
		{ "delivers_to_a_list_by_campaign", delivers_to_a_list_by_campaign, 120 },
		{ "wrong_target_refused_before_any_chunk", wrong_target_refused_before_any_chunk, 120 },
		{ "denied_offer_is_final_and_counted", denied_offer_is_final_and_counted, 120 },
		{ "node_verifies_with_its_own_anchors", node_verifies_with_its_own_anchors, 120 },
		{ "corrupted_chunks_are_resent", corrupted_chunks_are_resent, 120 },
		{ "disconnect_mid_transfer_resumes", disconnect_mid_transfer_resumes, 180 },
		{ "reboot_mid_transfer_resumes", reboot_mid_transfer_resumes, 180 },
		{ "stalled_transfer_times_out_then_resumes", stalled_transfer_times_out_then_resumes, 150 },
		{ "kill9_mid_transfer_resumes", kill9_mid_transfer_resumes, 200 },
		{ "transfer_without_its_package_is_closed_at_restart",
		  transfer_without_its_package_is_closed_at_restart, 120 },
		{ "activated_model_names_the_reports", activated_model_names_the_reports, 150 },
		{ "failed_selftest_reverts", failed_selftest_reverts, 120 },
		{ "remove_refused_while_in_use_and_cancel", remove_refused_while_in_use_and_cancel, 120 },
		{ "campaign_through_the_product_acl", campaign_through_the_product_acl, 120 },
		{ "thousand_nodes_with_loss", thousand_nodes_with_loss, 290 },
	};
	return h_run_cases(argc, argv, "ota", cases, sizeof cases / sizeof cases[0]);
}
