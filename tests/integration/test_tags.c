/* Device tags end to end: `edgectl devices tag/untag`, the tags kept across
 * a restart of edged, `devices --tag`, `models fit --tag`, and
 * `ota send --to tag:T` delivering to the tagged nodes only. The real
 * broker, edged, edgectl and the simulator. Run one case with
 * `test-tags CASE`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test_run.h"

static void assert_refused(json_t *r, const char *code)
{
	const char *got = h_ctl_error(r);

	ck_assert_msg(got && strcmp(got, code) == 0, "error %s, expected %s", got ? got : "(none)",
		      code);
	json_decref(r);
}

/* A JSON array of strings as "a,b,c" (static buffer). */
static const char *joined(json_t *arr)
{
	static char buf[1024];
	size_t used = 0, i;
	json_t *v;

	buf[0] = '\0';
	ck_assert(json_is_array(arr));
	json_array_foreach(arr, i, v) {
		ck_assert(json_is_string(v));
		used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "",
					 json_string_value(v));
		ck_assert(used < sizeof buf);
	}
	return buf;
}

static const char *device_tags(struct h_env *e, unsigned i)
{
	json_t *d = h_edgectl_json(e, "devices", "show", h_node_id(i), NULL);
	const char *t = joined(json_object_get(d, "tags"));

	json_decref(d);
	return t;
}

/* The ids `edgectl devices [--tag T]` lists, joined. */
static const char *listed(struct h_env *e, const char *tag)
{
	json_t *r = tag ? h_edgectl_json(e, "devices", "--tag", tag, NULL)
			: h_edgectl_json(e, "devices", NULL);
	json_t *ids = json_array(), *dev;
	const char *out;
	size_t i;

	json_array_foreach(json_object_get(r, "devices"), i, dev)
		json_array_append(ids, json_object_get(dev, "id"));
	ck_assert_int_eq(h_json_int(r, "count"), (long long)json_array_size(ids));
	out = joined(ids);
	json_decref(ids);
	json_decref(r);
	return out;
}

static char *expect(const char *a, const char *b, const char *c)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%s%s%s%s%s", a, b ? "," : "", b ? b : "", c ? "," : "",
		 c ? c : "");
	return buf;
}

/* tag/untag through edgectl, the answers, the filters, the refusals, and a
 * restart of edged that keeps every tag. */
START_TEST(tags_set_listed_and_kept_across_restart)
{
	struct h_env *e = h_world(NULL);
	json_t *r = NULL;
	char *out = NULL, *err = NULL;
	int rc;

	h_sim_start(e, "--count", "3", NULL);
	h_sim_wait(e, "sim: registered all 3", 30000);

	/* tag answers with the node's whole set, sorted */
	rc = h_edgectl(e, &r, "devices", "tag", h_node_id(0), "lab", "floor-2", "lab", NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(h_json_str(r, "id"), h_node_id(0));
	ck_assert_str_eq(joined(json_object_get(r, "tags")), "floor-2,lab");
	json_decref(r);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "tag", h_node_id(2), "lab", NULL), 0);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "tag", h_node_id(1), "v1.2_beta", NULL), 0);
	ck_assert_str_eq(listed(e, "lab"), expect(h_node_id(0), h_node_id(2), NULL));
	ck_assert_str_eq(listed(e, "v1.2_beta"), h_node_id(1));
	ck_assert_str_eq(listed(e, "nobody"), "");
	ck_assert_str_eq(listed(e, NULL), expect(h_node_id(0), h_node_id(1), h_node_id(2)));

	/* untag: absent tags are no error */
	rc = h_edgectl(e, &r, "devices", "untag", h_node_id(0), "floor-2", "never", NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(joined(json_object_get(r, "tags")), "lab");
	json_decref(r);
	ck_assert_str_eq(device_tags(e, 0), "lab");

	/* refusals: bad tag (edgectl's own check, then edged's), too many,
	 * unknown node; nothing changes */
	{
		const char *const args[] = { "devices", "tag", h_node_id(0), "no:colon", NULL };

		ck_assert_int_eq(h_edgectl_capture(e, 10000, NULL, &err, args), 2);
		ck_assert_ptr_nonnull(strstr(err, "bad tag"));
		free(err);
		err = NULL;
	}
	assert_refused(h_ctl_call(e, "devices.tag", "{\"id\":\"%s\",\"tags\":[\"ok\",\"has space\"]}",
			   h_node_id(0)), "bad_args");
	assert_refused(h_ctl_call(e, "devices.tag", "{\"id\":\"%s\",\"tags\":[]}", h_node_id(0)),
		       "bad_args");
	assert_refused(h_ctl_call(e, "devices.tag", "{\"id\":\"%s\",\"tags\":[\"a,b\"]}", h_node_id(0)),
		       "bad_args");
	assert_refused(h_ctl_call(e, "devices.tag",
			   "{\"id\":\"%s\",\"tags\":[\"t1\",\"t2\",\"t3\",\"t4\",\"t5\",\"t6\","
			   "\"t7\",\"t8\",\"t9\",\"t10\",\"t11\",\"t12\",\"t13\",\"t14\",\"t15\","
			   "\"t16\"]}", h_node_id(0)), "bad_args"); /* 17 with "lab" */
	assert_refused(h_ctl_call(e, "devices.tag", "{\"id\":\"nosuch\",\"tags\":[\"lab\"]}"),
		       "not_found");
	assert_refused(h_ctl_call(e, "devices", "{\"tag\":\"bad tag\"}"), "bad_args");
	ck_assert_str_eq(device_tags(e, 0), "lab");

	/* the table shows them */
	{
		const char *const args[] = { "devices", "--tag", "lab", NULL };

		ck_assert_int_eq(h_edgectl_capture(e, 10000, &out, NULL, args), 0);
		ck_assert_ptr_nonnull(strstr(out, "TAGS"));
		ck_assert_ptr_nonnull(strstr(out, h_node_id(2)));
		ck_assert_ptr_null(strstr(out, h_node_id(1)));
		free(out);
		out = NULL;
	}

	/* stored: a restart of edged keeps them */
	ck_assert_int_eq(h_edged_stop(e), 0);
	h_edged_start(e);
	ck_assert_str_eq(device_tags(e, 0), "lab");
	ck_assert_str_eq(device_tags(e, 1), "v1.2_beta");
	ck_assert_str_eq(device_tags(e, 2), "lab");
	ck_assert_str_eq(listed(e, "lab"), expect(h_node_id(0), h_node_id(2), NULL));
	{
		const char *const args[] = { "devices", "show", h_node_id(1), NULL };

		ck_assert_int_eq(h_edgectl_capture(e, 10000, &out, NULL, args), 0);
		ck_assert_ptr_nonnull(strstr(out, "v1.2_beta"));
		free(out);
	}
	h_env_free(e);
}
END_TEST

/* ---- ota send --to tag:T ---- */

/* The transfer's entry of `ota status --transfer T` once it is no longer
 * running (new reference). */
static json_t *wait_finished(struct h_env *e, long long t, unsigned timeout_ms)
{
	uint64_t end = h_now_ms() + timeout_ms;
	char ts[24];

	snprintf(ts, sizeof ts, "%lld", t);
	for (;;) {
		json_t *r = h_edgectl_json(e, "ota", "status", "--transfer", ts, NULL);
		json_t *x = json_array_get(json_object_get(r, "transfers"), 0);
		const char *st = json_string_value(json_object_get(x, "state"));

		ck_assert_msg(x != NULL, "ota status has no transfer %lld", t);
		if (st && strcmp(st, "running") != 0) {
			json_incref(x);
			json_decref(r);
			return x;
		}
		json_decref(r);
		ck_assert_msg(h_now_ms() < end, "transfer %lld still running", t);
		h_sleep_ms(200);
	}
}

START_TEST(ota_send_to_tag_reaches_only_tagged_nodes)
{
	struct h_env *e = h_env_new();
	char keys[400], trust[400], node_trust[400], key[420], pub[440], to[440], model[512];
	char pkg[512];
	json_t *r = NULL, *x, *nd;
	long long t;
	size_t i;

	/* one trusted key, for the gateway and the nodes */
	snprintf(keys, sizeof keys, "%s/keys", e->dir);
	snprintf(trust, sizeof trust, "%s/trust", e->dir);
	snprintf(node_trust, sizeof node_trust, "%s/node-trust", e->dir);
	ck_assert_int_eq(mkdir(keys, 0700), 0);
	ck_assert_int_eq(mkdir(trust, 0755), 0);
	ck_assert_int_eq(mkdir(node_trust, 0755), 0);
	snprintf(key, sizeof key, "%s/k1", keys);
	ck_assert_int_eq(h_edgectl(e, NULL, "keys", "generate", "--type", "ed25519", "--out", key,
				   NULL), 0);
	snprintf(pub, sizeof pub, "%s.pub", key);
	snprintf(to, sizeof to, "%s/k1.pub", trust);
	h_copy_file(pub, to);
	snprintf(to, sizeof to, "%s/k1.pub", node_trust);
	h_copy_file(pub, to);
	h_broker_start(e);
	h_cfg_set(e, "ota.trust_dir", trust);
	h_cfg_set(e, "ota.campaign_gather_ms", "500");
	h_edged_start(e);

	snprintf(model, sizeof model, "%s/models/hello_world_int8.tflite",
		 getenv("EDGE_TEST_DATA"));
	snprintf(pkg, sizeof pkg, "%s/hw.pkg", e->dir);
	snprintf(pub, sizeof pub, "%s.key", key);
	ck_assert_int_eq(h_edgectl(e, NULL, "model", "pack", model, "--name", "hw", "--version",
				   "1.0", "--counter", "1", "--key", pub, "--out", pkg, NULL), 0);
	ck_assert_int_eq(h_edgectl(e, NULL, "models", "add", pkg, NULL), 0);

	h_sim_start(e, "--count", "4", "--heartbeat-s", "5", "--ota-trust", node_trust, NULL);
	h_sim_wait(e, "sim: registered all 4", 60000);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "tag", h_node_id(1), "canary", NULL), 0);
	ck_assert_int_eq(h_edgectl(e, NULL, "devices", "tag", h_node_id(3), "canary", "lab",
				   NULL), 0);

	/* models fit --tag: only the tagged nodes are considered */
	r = h_edgectl_json(e, "models", "fit", "hw", "--tag", "canary", NULL);
	ck_assert_str_eq(joined(json_object_get(r, "fit")),
			 expect(h_node_id(1), h_node_id(3), NULL));
	ck_assert_int_eq((long long)json_array_size(json_object_get(r, "unfit")), 0);
	json_decref(r);

	/* a tag nobody has: nothing to send to; a bad one: refused */
	ck_assert_int_eq(h_edgectl(e, NULL, "ota", "send", "hw", "--to", "tag:nobody", NULL), 1);
	assert_refused(h_ctl_call(e, "ota.send", "{\"model\":\"hw\",\"to\":\"tag:no good\"}"),
		       "bad_args");
	assert_refused(h_ctl_call(e, "ota.send", "{\"model\":\"hw\",\"to\":\"every\"}"), "bad_args");

	ck_assert_int_eq(h_edgectl(e, &r, "ota", "send", "hw", "--to", "tag:canary", NULL), 0);
	ck_assert_str_eq(joined(json_object_get(r, "nodes")),
			 expect(h_node_id(1), h_node_id(3), NULL));
	ck_assert_int_eq((long long)json_array_size(json_object_get(r, "skipped")), 0);
	t = h_json_int(r, "transfer");
	ck_assert_int_gt(t, 0);
	json_decref(r);

	x = wait_finished(e, t, 90000);
	ck_assert_int_eq((long long)json_array_size(json_object_get(x, "nodes")), 2);
	json_array_foreach(json_object_get(x, "nodes"), i, nd)
		ck_assert_str_eq(json_string_value(json_object_get(nd, "state")), "activated");
	json_decref(x);
	/* the untagged nodes got nothing */
	for (unsigned k = 0; k < 4; k++) {
		json_t *d = h_edgectl_json(e, "devices", "show", h_node_id(k), NULL);
		const char *name = h_json_str(d, "ota.active.name");

		if (k == 1 || k == 3)
			ck_assert_msg(name && strcmp(name, "hw") == 0, "%s: no hw", h_node_id(k));
		else
			ck_assert_msg(name == NULL, "%s got %s", h_node_id(k), name);
		json_decref(d);
	}
	h_env_free(e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "tags_set_listed_and_kept_across_restart", tags_set_listed_and_kept_across_restart,
		  120 },
		{ "ota_send_to_tag_reaches_only_tagged_nodes",
		  ota_send_to_tag_reaches_only_tagged_nodes, 150 },
	};
	return h_run_cases(argc, argv, "tags", cases, sizeof cases / sizeof cases[0]);
}
