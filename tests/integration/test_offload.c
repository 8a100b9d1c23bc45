/* Offloaded inference end to end (issue 11): the real broker, a real
 * edged with packed and stored models enabled for offload, and a probe
 * node (libmosquitto, MQTT v5) that registers like a node and sends binary
 * requests with a Response Topic and Correlation Data. Every model of
 * tests/data that the engine runs answers exactly the bytes `edgectl model
 * run` computes for the same input; every refusal comes back with its
 * status (or, without a response topic, not at all); a node flooding the
 * gateway does not stop another's requests. Run one case with
 * `test-offload CASE`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_infer_msg.h"
#include "harness.h"
#include "test_run.h"

#define PROBE_RESP_MAX 512

/* ---- a probe node ---- */

struct resp {
	uint32_t corr;
	bool has_corr;
	uint8_t *payload;
	size_t len;
};

struct probe {
	struct mosquitto *mosq;
	char id[64];
	char topic_req[160], topic_resp[160];
	bool registered;
	struct resp r[PROBE_RESP_MAX];
	unsigned n;
};

static void probe_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
			     const mosquitto_property *props)
{
	struct probe *p = ud;
	void *corr = NULL;
	uint16_t corr_len = 0;

	(void)m;
	if (strstr(msg->topic, "/registered")) {
		p->registered = strstr((const char *)msg->payload, "\"accepted\":true") != NULL;
		return;
	}
	if (p->n == PROBE_RESP_MAX)
		return;
	p->r[p->n].payload = malloc((size_t)msg->payloadlen + 1);
	ck_assert_ptr_nonnull(p->r[p->n].payload);
	memcpy(p->r[p->n].payload, msg->payload, (size_t)msg->payloadlen);
	p->r[p->n].len = (size_t)msg->payloadlen;
	if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					   false) && corr_len == 4) {
		memcpy(&p->r[p->n].corr, corr, 4);
		p->r[p->n].has_corr = true;
	}
	free(corr);
	p->n++;
}

static void probe_pump(struct probe *p, unsigned ms)
{
	for (uint64_t end = h_now_ms() + ms; h_now_ms() < end;)
		ck_assert_int_eq(mosquitto_loop(p->mosq, 20, 1), MOSQ_ERR_SUCCESS);
}

/* Connects as node id, says hello and waits to be registered. */
static void probe_open(struct h_env *e, struct probe *p, const char *id)
{
	char topic[160], hello[512];

	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", id);
	snprintf(p->topic_req, sizeof p->topic_req, "edge/v1/%s/infer/req", id);
	snprintf(p->topic_resp, sizeof p->topic_resp, "edge/v1/%s/infer/resp", id);
	p->mosq = mosquitto_new(id, true, p);
	ck_assert_ptr_nonnull(p->mosq);
	mosquitto_int_option(p->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_message_v5_callback_set(p->mosq, probe_on_message);
	ck_assert_int_eq(mosquitto_connect(p->mosq, "127.0.0.1", e->broker_port, 30),
			 MOSQ_ERR_SUCCESS);
	snprintf(topic, sizeof topic, "edge/v1/%s/registered", id);
	ck_assert_int_eq(mosquitto_subscribe(p->mosq, NULL, topic, 1), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_subscribe(p->mosq, NULL, p->topic_resp, 1), MOSQ_ERR_SUCCESS);
	probe_pump(p, 200);
	snprintf(hello, sizeof hello,
		 "{\"proto\":1,\"id\":\"%s\",\"fw\":\"1.0\",\"runtime\":{\"name\":\"tflm\","
		 "\"version\":\"2.14.0\"},\"ops\":[\"FULLY_CONNECTED\"],\"ram_bytes\":262144,"
		 "\"flash_bytes\":1048576,\"arena_bytes\":131072,\"sensor\":\"probe\","
		 "\"heartbeat_s\":60}",
		 id);
	snprintf(topic, sizeof topic, "edge/v1/%s/hello", id);
	ck_assert_int_eq(mosquitto_publish(p->mosq, NULL, topic, (int)strlen(hello), hello, 1,
					   false),
			 MOSQ_ERR_SUCCESS);
	for (uint64_t end = h_now_ms() + 10000; !p->registered; ) {
		ck_assert_msg(h_now_ms() < end, "probe %s not registered", id);
		probe_pump(p, 50);
	}
}

static void probe_close(struct probe *p)
{
	for (unsigned i = 0; i < p->n; i++)
		free(p->r[i].payload);
	mosquitto_disconnect(p->mosq);
	mosquitto_loop(p->mosq, 100, 1);
	mosquitto_destroy(p->mosq);
}

/* Publishes raw payload as a request (with the response topic when
 * resp_topic, and correlation corr). */
static void probe_send_raw(struct probe *p, const void *payload, size_t len, uint32_t corr,
			   bool resp_topic)
{
	mosquitto_property *props = NULL;

	if (resp_topic)
		ck_assert_int_eq(mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC,
							       p->topic_resp),
				 MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, &corr,
						       4),
			 MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(mosquitto_publish_v5(p->mosq, NULL, p->topic_req, (int)len, payload, 0,
					      false, props),
			 MOSQ_ERR_SUCCESS);
	mosquitto_property_free_all(&props);
}

static void probe_send(struct probe *p, const uint8_t sha[32], const void *input, size_t len,
		       uint32_t deadline_ms, uint32_t corr)
{
	struct edge_infer_req r = { 0 };
	size_t cap = EDGE_INFER_REQ_HDR + 32 + len;
	uint8_t *buf = malloc(cap);
	int n;

	ck_assert_ptr_nonnull(buf);
	r.deadline_ms = deadline_ms;
	r.model.kind = EDGE_INFER_REF_SHA256;
	r.model.length = 32;
	r.model.ref = sha;
	r.input_length = (uint32_t)len;
	r.input = input;
	n = edge_infer_req_encode(buf, cap, &r);
	ck_assert_int_gt(n, 0);
	probe_send_raw(p, buf, (size_t)n, corr, true);
	free(buf);
}

/* The response to corr (parsed into *out, borrowing the probe's copy),
 * waiting at most ms. */
static bool probe_wait(struct probe *p, uint32_t corr, unsigned ms, struct edge_infer_resp *out)
{
	for (uint64_t end = h_now_ms() + ms;;) {
		for (unsigned i = 0; i < p->n; i++)
			if (p->r[i].has_corr && p->r[i].corr == corr) {
				struct edge_msg_error err = { 0 };

				ck_assert_int_eq(edge_infer_resp_parse(p->r[i].payload, p->r[i].len,
								       out, &err),
						 0);
				return true;
			}
		if (h_now_ms() >= end)
			return false;
		probe_pump(p, 20);
	}
}

/* ---- models ---- */

static char *data_path(const char *file)
{
	static char buf[4][512];
	static unsigned k;
	char *b = buf[k++ % 4];

	snprintf(b, sizeof buf[0], "%s/models/%s", getenv("EDGE_TEST_DATA"), file);
	return b;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	uint8_t *b = (uint8_t *)h_read_file(path, len);

	ck_assert_msg(b != NULL, "cannot read %s", path);
	return b;
}

static void write_all(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void hex_to_bytes(const char *hex, uint8_t out[32])
{
	for (unsigned i = 0; i < 32; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

struct env {
	struct h_env *e;
	char key[440];
};

/* Offload requests are bigger than node messages: the broker takes what
 * edged's offload.max_payload_bytes does (65536 unless the test raises
 * both). */
static const char *const broker_64k[] = { "--message-size-limit", "65536", NULL };

static void env_new(struct env *v, const char *const *extra)
{
	char keys[400], trust[400], key[420], pub[440], to[520];

	memset(v, 0, sizeof *v);
	v->e = h_env_new();
	snprintf(keys, sizeof keys, "%s/keys", v->e->dir);
	snprintf(trust, sizeof trust, "%s/trust", v->e->dir);
	ck_assert_int_eq(mkdir(keys, 0700), 0);
	ck_assert_int_eq(mkdir(trust, 0755), 0);
	snprintf(key, sizeof key, "%s/k1", keys);
	ck_assert_int_eq(h_edgectl(v->e, NULL, "keys", "generate", "--type", "ed25519", "--out",
				   key, NULL), 0);
	snprintf(pub, sizeof pub, "%s.pub", key);
	snprintf(to, sizeof to, "%s/k1.pub", trust);
	h_copy_file(pub, to);
	snprintf(v->key, sizeof v->key, "%s.key", key);
	h_broker_start(v->e);
	h_broker_config_args(NULL);
	h_cfg_set(v->e, "ota.trust_dir", trust);
	for (const char *const *c = extra; c && *c; c += 2)
		h_cfg_set(v->e, c[0], c[1]);
	h_edged_start(v->e);
}

/* Packs and stores tests/data/models/<file> as NAME@1.0; returns the
 * .tflite's SHA-256 (the offload model ref). */
static void add_model(struct env *v, const char *file, const char *name, uint8_t sha[32])
{
	char pkg[512];
	json_t *r = NULL;

	snprintf(pkg, sizeof pkg, "%s/%s.pkg", v->e->dir, name);
	ck_assert_int_eq(h_edgectl(v->e, NULL, "model", "pack", data_path(file), "--name", name,
				   "--version", "1.0", "--counter", "1", "--key", v->key, "--out",
				   pkg, NULL), 0);
	ck_assert_int_eq(h_edgectl(v->e, &r, "models", "add", pkg, NULL), 0);
	json_decref(r);
	r = h_edgectl_json(v->e, "models", "show", name, NULL);
	ck_assert_ptr_nonnull(h_json_str(r, "model.sha256"));
	hex_to_bytes(h_json_str(r, "model.sha256"), sha);
	json_decref(r);
}

/* offload enable NAME, then the list until the pool checked it; returns
 * whether it is offloadable. */
static bool enable(struct env *v, const char *name)
{
	ck_assert_int_eq(h_edgectl(v->e, NULL, "offload", "enable", name, NULL), 0);
	for (uint64_t end = h_now_ms() + 20000;;) {
		json_t *l = h_edgectl_json(v->e, "offload", "list", NULL), *m;
		size_t i;

		json_array_foreach(json_object_get(l, "models"), i, m) {
			json_t *off = json_object_get(m, "offloadable");

			if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0 &&
			    !json_is_null(off)) {
				bool yes = json_is_true(off);

				json_decref(l);
				return yes;
			}
		}
		json_decref(l);
		ck_assert_msg(h_now_ms() < end, "%s never checked by the pool", name);
		h_sleep_ms(100);
	}
}

/* ---- cases ---- */

static const struct {
	const char *file, *input;
	size_t input_bytes; /* 0: the whole file */
} models[] = {
	{ "hello_world_int8.tflite", "hello_world_int8.x1p57.input.bin", 0 },
	{ "kws_ref_model.tflite", "kws_ref_model.sample0.input.bin", 0 },
	{ "micro_speech.tflite", "micro_speech.yes.input.bin", 0 },
	{ "person_detect.tflite", "person_detect.person.input.bin", 0 },
	{ "vww_96_int8.tflite", "vww_96_int8.sample0.input.bin", 0 },
	{ "ic_resnet8_int8.tflite", "ic_resnet8_int8.sample0.input.bin", 0 },
	{ "str_ww_ref_model.tflite", "str_ww_ref_model.class0.input.bin", 0 },
	/* several windows stacked: the first is one inference's input */
	{ "ad01_int8.tflite", "ad01_int8.normal_id_01_00000000.input.bin", 640 },
};

/* Every model of tests/data the engine runs: the gateway's output is
 * exactly `edgectl model run`'s for the same input, with the top class. */
START_TEST(offload_is_bit_exact_with_model_run)
{
	static const char *const cfg[] = { "offload.max_payload_bytes", "131072",
					   "mqtt.max_packet_bytes", "135168", NULL };
	static const char *const broker[] = { "--message-size-limit", "131072", NULL };
	struct env v;
	struct probe p;

	h_broker_config_args(broker);
	env_new(&v, cfg);
	probe_open(v.e, &p, "probe-1");
	for (unsigned i = 0; i < sizeof models / sizeof models[0]; i++) {
		char name[16], in_path[512], out_path[512];
		struct edge_infer_resp r;
		uint8_t sha[32], *input, *want;
		size_t in_len, want_len;

		snprintf(name, sizeof name, "m%u", i);
		add_model(&v, models[i].file, name, sha);
		ck_assert_msg(enable(&v, name), "%s not offloadable", models[i].file);
		input = read_all(data_path(models[i].input), &in_len);
		if (models[i].input_bytes)
			in_len = models[i].input_bytes;
		snprintf(in_path, sizeof in_path, "%s/%s.in", v.e->dir, name);
		snprintf(out_path, sizeof out_path, "%s/%s.out", v.e->dir, name);
		write_all(in_path, input, in_len);
		ck_assert_int_eq(h_edgectl(v.e, NULL, "model", "run", data_path(models[i].file),
					   "--input", in_path, "--output", out_path, NULL), 0);
		want = read_all(out_path, &want_len);
		probe_send(&p, sha, input, in_len, 30000, 100 + i);
		ck_assert_msg(probe_wait(&p, 100 + i, 30000, &r), "no answer for %s",
			      models[i].file);
		ck_assert_msg(r.status == EDGE_INFER_S_OK, "%s: %s", models[i].file,
			      edge_infer_status_name(r.status));
		ck_assert_uint_eq(r.output_length, want_len);
		ck_assert_msg(memcmp(r.output, want, want_len) == 0, "%s: output differs",
			      models[i].file);
		if (want_len >= 2)
			ck_assert_uint_eq(r.top_class,
					  edge_infer_top_class(want, want_len, true));
		ck_assert_uint_gt(r.run_us, 0);
		free(input);
		free(want);
	}
	{
		json_t *s = h_edgectl_json(v.e, "offload", "status", NULL);

		ck_assert_int_eq(h_json_int(s, "outcomes.ok"),
				 (long long)(sizeof models / sizeof models[0]));
		json_decref(s);
	}
	probe_close(&p);
	h_env_free(v.e);
}
END_TEST

/* Each refusal with its status, and nothing stored or running is hurt:
 * bad input (with the expected size), unknown model, a stored model not
 * enabled, an engine that refuses the model, malformed payloads (truncated,
 * bad magic), no response topic (never answered, counted), busy under a
 * flood, and disable with requests queued. */
START_TEST(refusals_are_answered_with_their_status)
{
	static const char *const cfg[] = { "offload.workers", "1", "offload.node_queue_max", "8",
					   NULL };
	struct env v;
	struct probe p, q;
	struct edge_infer_resp r;
	static uint8_t big_in[27648];
	uint8_t kws[32], pd[32], vww[32], off[32], unknown[32], input[9216] = { 0 }, buf[64];
	uint32_t c = 1;
	unsigned busy = 0, ok = 0, gone = 0;

	h_broker_config_args(broker_64k);
	env_new(&v, cfg);
	add_model(&v, "kws_ref_model.tflite", "kws", kws);
	add_model(&v, "person_detect.tflite", "pd", pd);
	add_model(&v, "micro_speech.tflite", "ms", off); /* stored, never enabled */
	add_model(&v, "vww_96_int8.tflite", "vww", vww);
	ck_assert(enable(&v, "kws"));
	ck_assert(enable(&v, "pd"));
	ck_assert(enable(&v, "vww"));
	add_model(&v, "simple_add.tflite", "two", unknown); /* 2 inputs */
	ck_assert(!enable(&v, "two"));
	probe_open(v.e, &p, "probe-1");

	probe_send(&p, kws, input, 489, 5000, c);
	ck_assert(probe_wait(&p, c, 10000, &r));
	ck_assert_int_eq(r.status, EDGE_INFER_S_BAD_INPUT);
	ck_assert_uint_eq(r.expected_input_bytes, 490);
	c++;
	probe_send(&p, off, input, 1960, 5000, c);
	ck_assert(probe_wait(&p, c, 10000, &r));
	ck_assert_int_eq(r.status, EDGE_INFER_S_NOT_OFFLOADABLE);
	c++;
	probe_send(&p, unknown, input, 1, 5000, c);
	ck_assert(probe_wait(&p, c, 10000, &r));
	ck_assert_int_eq(r.status, EDGE_INFER_S_NOT_OFFLOADABLE);
	c++;
	memset(unknown, 0xab, sizeof unknown);
	probe_send(&p, unknown, input, 490, 5000, c);
	ck_assert(probe_wait(&p, c, 10000, &r));
	ck_assert_int_eq(r.status, EDGE_INFER_S_UNKNOWN_MODEL);
	c++;
	/* truncated: a header only */
	{
		struct edge_infer_req rq = { .deadline_ms = 1000, .input_length = 490 };
		uint8_t big[EDGE_INFER_REQ_HDR + 32 + 490];
		int n;

		rq.model.kind = EDGE_INFER_REF_SHA256;
		rq.model.length = 32;
		rq.model.ref = kws;
		rq.input = input;
		n = edge_infer_req_encode(big, sizeof big, &rq);
		ck_assert_int_gt(n, 0);
		probe_send_raw(&p, big, (size_t)n - 1, c, true);
		ck_assert(probe_wait(&p, c, 10000, &r));
		ck_assert_int_eq(r.status, EDGE_INFER_S_MALFORMED);
		c++;
		memcpy(buf, big, sizeof buf);
		buf[0] ^= 0xff;
		probe_send_raw(&p, buf, sizeof buf, c, true);
		ck_assert(probe_wait(&p, c, 10000, &r));
		ck_assert_int_eq(r.status, EDGE_INFER_S_MALFORMED);
		c++;
		/* no response topic: never answered, counted */
		probe_send_raw(&p, big, (size_t)n, c, false);
		h_wait_status(v.e, "offload.dropped.no_response_topic", "==", 1, 10000);
		ck_assert(!probe_wait(&p, c, 300, &r));
		c++;
	}

	/* One worker; node p floods person_detect beyond its cap of 8: the
	 * rest is busy at once; node q's request still runs. */
	probe_open(v.e, &q, "probe-2");
	for (unsigned i = 0; i < 40; i++)
		probe_send(&p, pd, input, sizeof input, 60000, 1000 + i);
	probe_send(&q, kws, input, 490, 60000, 7);
	ck_assert_msg(probe_wait(&q, 7, 60000, &r), "the other node got no answer");
	ck_assert_int_eq(r.status, EDGE_INFER_S_OK);
	for (unsigned i = 0; i < 40; i++) {
		ck_assert_msg(probe_wait(&p, 1000 + i, 60000, &r), "flood request %u unanswered", i);
		busy += r.status == EDGE_INFER_S_BUSY;
		ok += r.status == EDGE_INFER_S_OK;
	}
	/* at most 8 queued at a time (the worker drains meanwhile, so a few
	 * more get in): most of the 40 are refused at once */
	ck_assert_uint_ge(busy, 20);
	ck_assert_uint_ge(ok, 8);
	ck_assert_uint_eq(busy + ok, 40);

	/* Disable while requests are queued (16 of the biggest model behind
	 * one worker): the queued ones are answered not_offloadable at once,
	 * none runs on a model that is gone. */
	for (unsigned i = 0; i < 8; i++) {
		probe_send(&p, vww, big_in, sizeof big_in, 60000, 2000 + i);
		probe_send(&q, vww, big_in, sizeof big_in, 60000, 2000 + i);
	}
	/* straight on the control socket: edgectl's start-up would let the
	 * worker drain the queue first */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(mosquitto_loop(p.mosq, 0, 1), MOSQ_ERR_SUCCESS);
		ck_assert_int_eq(mosquitto_loop(q.mosq, 0, 1), MOSQ_ERR_SUCCESS);
	}
	{
		json_t *a = h_ctl_call(v.e, "offload.disable", "{\"model\": \"%s\"}", "vww");

		ck_assert_msg(!h_ctl_error(a), "disable: %s", h_ctl_error(a));
		json_decref(a);
	}
	for (unsigned i = 0; i < 8; i++) {
		ck_assert(probe_wait(&p, 2000 + i, 60000, &r));
		ck_assert(r.status == EDGE_INFER_S_OK || r.status == EDGE_INFER_S_NOT_OFFLOADABLE);
		gone += r.status == EDGE_INFER_S_NOT_OFFLOADABLE;
		ck_assert(probe_wait(&q, 2000 + i, 60000, &r));
		ck_assert(r.status == EDGE_INFER_S_OK || r.status == EDGE_INFER_S_NOT_OFFLOADABLE);
		gone += r.status == EDGE_INFER_S_NOT_OFFLOADABLE;
	}
	ck_assert_uint_ge(gone, 1);
	probe_send(&p, vww, big_in, sizeof big_in, 5000, 3000);
	ck_assert(probe_wait(&p, 3000, 10000, &r));
	ck_assert_int_eq(r.status, EDGE_INFER_S_NOT_OFFLOADABLE);
	/* A deadline (1 ms) shorter than the queue ahead of it (its own 6
	 * requests, at the run time the pool measured in the flood): refused
	 * busy at once, or expired while queued; never run. */
	for (unsigned i = 0; i < 6; i++)
		probe_send(&p, pd, input, sizeof input, 60000, 4000 + i);
	probe_send(&p, pd, input, sizeof input, 1, 5000);
	ck_assert(probe_wait(&p, 5000, 60000, &r));
	ck_assert_msg(r.status == EDGE_INFER_S_BUSY || r.status == EDGE_INFER_S_DEADLINE_EXCEEDED,
		      "%s", edge_infer_status_name(r.status));
	for (unsigned i = 0; i < 6; i++)
		ck_assert(probe_wait(&p, 4000 + i, 60000, &r));

	{
		json_t *s = h_edgectl_json(v.e, "offload", "status", NULL);

		ck_assert_int_ge(h_json_int(s, "outcomes.malformed"), 2);
		ck_assert_int_ge(h_json_int(s, "outcomes.bad_input"), 1);
		ck_assert_int_ge(h_json_int(s, "outcomes.unknown_model"), 1);
		ck_assert_int_ge(h_json_int(s, "busy.node_cap"), 1);
		ck_assert_int_ge(h_json_int(s, "busy.deadline") +
					 h_json_int(s, "outcomes.deadline_exceeded"),
				 1);
		json_decref(s);
	}
	probe_close(&q);
	probe_close(&p);
	h_env_free(v.e);
}
END_TEST

/* The simulated fleet through the product: 8 nodes (the device SDK's
 * codec) send kws requests and check every answer against their own
 * engine run (no difference). Shadow sampling is off by default; nodes 0-3
 * get the tag `check` and `offload verify tag:check 1000`: they are told
 * at once (registered again) and send every own inference as a verify,
 * the others none. Node 2 corrupts one byte of its first verify: it alone
 * is flagged, with the evidence, which a restart keeps and `offload clear`
 * drops. */
START_TEST(fleet_offloads_and_a_corrupt_node_is_flagged)
{
	struct env v;
	uint8_t sha[32];
	json_t *s, *n;
	size_t i;
	unsigned flagged = 0;

	h_broker_config_args(broker_64k);
	env_new(&v, NULL);
	add_model(&v, "kws_ref_model.tflite", "kws", sha);
	ck_assert(enable(&v, "kws"));
	h_sim_start(v.e, "--count", "8", "--heartbeat-s", "30", "--offload-model",
		    data_path("kws_ref_model.tflite"), "--offload-rate", "10", "--offload-check",
		    "--own-rate", "5", "--verify-corrupt", "2", NULL);
	h_sim_wait(v.e, "sim: registered all 8", 30000);
	for (unsigned k = 0; k < 4; k++)
		ck_assert_int_eq(h_edgectl(v.e, NULL, "devices", "tag", h_node_id(k), "check",
					   NULL), 0);
	{
		json_t *a = NULL;

		ck_assert_int_eq(h_edgectl(v.e, &a, "offload", "verify", "tag:check", "1000",
					   NULL), 0);
		ck_assert_int_eq(h_json_int(a, "told"), 4);
		json_decref(a);
	}
	h_wait_status(v.e, "offload.outcomes.ok", ">=", 100, 60000);
	h_wait_status(v.e, "offload.verify.matches", ">=", 40, 60000);
	h_wait_status(v.e, "offload.verify.mismatches", "==", 1, 30000);
	ck_assert_int_eq(h_sim_stat(v.e, "offload_wrong"), 0);
	ck_assert_int_gt(h_sim_stat(v.e, "offload_ok"), 0);
	ck_assert_int_eq(h_sim_stat(v.e, "verify_corrupted"), 1);

	s = h_edgectl_json(v.e, "devices", NULL);
	json_array_foreach(json_object_get(s, "devices"), i, n) {
		bool f = json_is_true(json_object_get(n, "flagged"));

		flagged += f;
		ck_assert_msg(f == (strcmp(json_string_value(json_object_get(n, "id")),
					   h_node_id(2)) == 0),
			      "%s flagged: %d", json_string_value(json_object_get(n, "id")), f);
	}
	json_decref(s);
	ck_assert_uint_eq(flagged, 1);
	/* only the tagged nodes were asked to sample */
	s = h_edgectl_json(v.e, "offload", "status", NULL);
	json_array_foreach(json_object_get(s, "nodes"), i, n) {
		const char *id = json_string_value(json_object_get(n, "id"));
		bool tagged = false;

		for (unsigned k = 0; k < 4; k++)
			tagged |= strcmp(id, h_node_id(k)) == 0;
		if (!tagged)
			ck_assert_msg(h_json_int(n, "matches") + h_json_int(n, "mismatches") == 0,
				      "%s sent verifies", id);
	}
	ck_assert_str_eq(h_json_str(json_array_get(json_object_get(s, "verify_rules"), 0),
				    "target"),
			 "tag:check");
	json_decref(s);
	s = h_edgectl_json(v.e, "devices", "show", h_node_id(2), NULL);
	ck_assert(json_is_true(json_object_get(json_object_get(s, "offload"), "flagged")));
	ck_assert_int_eq(h_json_int(s, "offload.mismatches"), 1);
	json_decref(s);
	s = h_edgectl_json(v.e, "offload", "mismatches", NULL);
	n = json_array_get(json_object_get(s, "mismatches"), 0);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(h_json_str(n, "node"), h_node_id(2));
	ck_assert_str_eq(h_json_str(n, "model"), "kws@1.0");
	ck_assert_int_lt(h_json_int(n, "first_diff"), h_json_int(n, "length"));
	ck_assert_str_ne(h_json_str(n, "node_bytes"), h_json_str(n, "gateway_bytes"));
	json_decref(s);
	/* the human views */
	{
		const char *argv[] = { "offload", "status", NULL };
		char *out = NULL;

		ck_assert_int_eq(h_edgectl_capture(v.e, 10000, &out, NULL, argv), 0);
		ck_assert_ptr_nonnull(strstr(out, "kws@1.0"));
		ck_assert_ptr_nonnull(strstr(out, "FLAGGED"));
		free(out);
	}
	/* A restart keeps the evidence and the flag; clear drops both. */
	ck_assert_int_eq(h_sim_stop(v.e), 0);
	ck_assert_int_eq(h_edged_stop(v.e), 0);
	h_edged_start(v.e);
	s = h_edgectl_json(v.e, "devices", "show", h_node_id(2), NULL);
	ck_assert(json_is_true(json_object_get(json_object_get(s, "offload"), "flagged")));
	json_decref(s);
	s = h_edgectl_json(v.e, "offload", "mismatches", NULL);
	ck_assert_int_eq((long long)json_array_size(json_object_get(s, "mismatches")), 1);
	ck_assert_str_eq(h_json_str(json_array_get(json_object_get(s, "mismatches"), 0), "node"),
			 h_node_id(2));
	json_decref(s);
	ck_assert_int_eq(h_edgectl(v.e, NULL, "offload", "clear", h_node_id(2), NULL), 0);
	s = h_edgectl_json(v.e, "offload", "mismatches", NULL);
	ck_assert_int_eq((long long)json_array_size(json_object_get(s, "mismatches")), 0);
	json_decref(s);
	ck_assert_int_ne(h_edgectl(v.e, NULL, "offload", "clear", h_node_id(2), NULL), 0);
	ck_assert_int_eq(h_edged_stop(v.e), 0);
	h_edged_start(v.e);
	s = h_edgectl_json(v.e, "offload", "mismatches", NULL);
	ck_assert_int_eq((long long)json_array_size(json_object_get(s, "mismatches")), 0);
	json_decref(s);
	h_env_free(v.e);
}
END_TEST

/* The same through the product's access control: a broker with the
 * identity files edged writes (passwords, the generated ACL), provisioned
 * nodes. Requests are answered and shadow verifies arrive (the ACL lets a
 * node write its infer/req and infer/verify, read its infer/resp). */
START_TEST(offload_through_the_product_acl)
{
	static const char *const cfg[] = { "offload.verify_permille", "1000", NULL };
	struct env v;
	struct h_secured sec;
	const char *broker_args[] = { "--message-size-limit", "65536", NULL };
	char bundles[400];
	uint8_t sha[32];

	memset(&v, 0, sizeof v);
	v.e = h_env_new();
	snprintf(bundles, sizeof bundles, "%s/bundles", v.e->dir);
	ck_assert_int_eq(mkdir(bundles, 0700), 0);
	h_broker_start_secured(v.e, broker_args, &sec);
	{
		char keys[400], trust[400], key[420], pub[440], to[520];

		snprintf(keys, sizeof keys, "%s/keys", v.e->dir);
		snprintf(trust, sizeof trust, "%s/trust", v.e->dir);
		ck_assert_int_eq(mkdir(keys, 0700), 0);
		ck_assert_int_eq(mkdir(trust, 0755), 0);
		snprintf(key, sizeof key, "%s/k1", keys);
		ck_assert_int_eq(h_edgectl(v.e, NULL, "keys", "generate", "--type", "ed25519",
					   "--out", key, NULL), 0);
		snprintf(pub, sizeof pub, "%s.pub", key);
		snprintf(to, sizeof to, "%s/k1.pub", trust);
		h_copy_file(pub, to);
		snprintf(v.key, sizeof v.key, "%s.key", key);
		h_cfg_set(v.e, "ota.trust_dir", trust);
	}
	for (const char *const *c = cfg; *c; c += 2)
		h_cfg_set(v.e, c[0], c[1]);
	h_edged_start(v.e);
	{
		const char *argv[] = { "nodes", "provision", "n-00000", "n-00001", "n-00002",
				       "n-00003", "--out", bundles, NULL };
		char *err = NULL;
		int rc = h_edgectl_capture(v.e, 60000, NULL, &err, argv);

		ck_assert_msg(rc == 0, "nodes provision: exit %d: %s", rc, err);
		free(err);
	}
	add_model(&v, "kws_ref_model.tflite", "kws", sha);
	ck_assert(enable(&v, "kws"));
	h_sim_start(v.e, "--id-prefix", "n", "--count", "4", "--bundle-dir", bundles,
		    "--heartbeat-s", "30", "--offload-model", data_path("kws_ref_model.tflite"),
		    "--offload-rate", "10", "--offload-check", "--own-rate", "5", "--verify-corrupt",
		    "1", NULL);
	h_sim_wait(v.e, "sim: registered all 4", 60000);
	h_wait_status(v.e, "offload.outcomes.ok", ">=", 40, 60000);
	h_wait_status(v.e, "offload.verify.matches", ">=", 20, 60000);
	h_wait_status(v.e, "offload.verify.mismatches", "==", 1, 30000);
	ck_assert_int_eq(h_sim_stat(v.e, "offload_wrong"), 0);
	h_env_free(v.e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "offload_is_bit_exact_with_model_run", offload_is_bit_exact_with_model_run, 200 },
		{ "refusals_are_answered_with_their_status", refusals_are_answered_with_their_status,
		  200 },
		{ "fleet_offloads_and_a_corrupt_node_is_flagged",
		  fleet_offloads_and_a_corrupt_node_is_flagged, 200 },
		{ "offload_through_the_product_acl", offload_through_the_product_acl, 200 },
	};

	mosquitto_lib_init();
	return h_run_cases(argc, argv, "offload", cases, sizeof cases / sizeof cases[0]);
}
