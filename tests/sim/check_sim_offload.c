/* The simulator's offload client (sim_offload.c) without a broker: real
 * models on lib/infer, requests captured and parsed back with proto's
 * codec (with their MQTT v5 properties), responses built with proto's
 * encoder as the gateway sends them. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_infer_msg.h"
#include "edge_ota_keys.h"
#include "sim_offload.h"
#include "test_data.h"
#include "test_run.h"

#define MAX_MSGS 64
#define MSG_CAP 4096

/* What the node published, with the properties as MQTT would carry them. */
static struct capture {
	unsigned n_req, n_verify;
	struct {
		uint8_t buf[MSG_CAP];
		size_t len;
		uint8_t corr[EDGE_INFER_CORR_MAX];
		int corr_len;
		char resp_topic[128];
	} req[MAX_MSGS];
	struct {
		uint8_t buf[MSG_CAP];
		size_t len;
	} verify[MAX_MSGS];
	int fail; /* next sends fail with this */
} cap;

static const char *const RESP_TOPIC = "edge/v1/node-01/infer/resp";

static int cap_request(void *ud, const void *buf, size_t len, const uint8_t *corr,
		       size_t corr_len, bool resp_topic)
{
	mosquitto_property *props = NULL;
	char *topic = NULL;
	(void)ud;
	if (cap.fail)
		return cap.fail;
	ck_assert_uint_lt(cap.n_req, MAX_MSGS);
	ck_assert_uint_le(len, MSG_CAP);
	memcpy(cap.req[cap.n_req].buf, buf, len);
	cap.req[cap.n_req].len = len;
	/* through the property list edge-sim publishes with */
	ck_assert_int_eq(sim_offload_props(&props, resp_topic ? RESP_TOPIC : NULL, corr,
					   corr_len), 0);
	cap.req[cap.n_req].corr_len = sim_offload_corr(props, cap.req[cap.n_req].corr,
						       sizeof(cap.req[cap.n_req].corr));
	cap.req[cap.n_req].resp_topic[0] = '\0';
	if (mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &topic, false)) {
		snprintf(cap.req[cap.n_req].resp_topic, sizeof(cap.req[0].resp_topic), "%s",
			 topic);
		free(topic);
	}
	mosquitto_property_free_all(&props);
	cap.n_req++;
	return 0;
}

static int cap_verify(void *ud, const void *buf, size_t len)
{
	(void)ud;
	if (cap.fail)
		return cap.fail;
	ck_assert_uint_lt(cap.n_verify, MAX_MSGS);
	ck_assert_uint_le(len, MSG_CAP);
	memcpy(cap.verify[cap.n_verify].buf, buf, len);
	cap.verify[cap.n_verify].len = len;
	cap.n_verify++;
	return 0;
}

static const struct sim_offload_host host = {
	.ud = NULL, .request = cap_request, .verify = cap_verify,
};

static struct sim_offload_fleet fleet;
static char err[512];

/* hello_world (1 int8 in, 1 out) and ad01 (larger tensors) */
static void setup(void)
{
	size_t len;
	uint8_t *m;

	memset(&cap, 0, sizeof(cap));
	sim_offload_fleet_init(&fleet);
	m = test_data_model("hello_world_int8.tflite", &len);
	ck_assert_msg(sim_offload_fleet_add_bytes(&fleet, m, len, err, sizeof(err)) == 0, "%s",
		      err);
	m = test_data_model("ad01_int8.tflite", &len);
	ck_assert_msg(sim_offload_fleet_add_bytes(&fleet, m, len, err, sizeof(err)) == 0, "%s",
		      err);
}

static void teardown(void)
{
	sim_offload_fleet_free(&fleet);
}

/* The gateway's answer to captured request i: the output lib/infer
 * computes for its input (or `flip` applied to byte 0). */
static size_t respond_ok(unsigned i, uint8_t *out, size_t cap_len, bool flip)
{
	struct edge_infer_req r;
	ck_assert_int_eq(edge_infer_req_parse(cap.req[i].buf, cap.req[i].len, &r, NULL), 0);
	const struct sim_offload_model *m = NULL;
	for (unsigned k = 0; k < fleet.n_models; k++)
		if (memcmp(fleet.models[k].sha, r.model.ref, 32) == 0)
			m = &fleet.models[k];
	ck_assert_ptr_nonnull(m);
	size_t in_len;
	uint8_t *in = edge_infer_input(m->ctx, 0, &in_len);
	ck_assert_uint_eq(in_len, r.input_length);
	memcpy(in, r.input, in_len);
	ck_assert_int_eq(edge_infer_invoke(m->ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
	size_t o_len;
	const uint8_t *o = edge_infer_output(m->ctx, 0, &o_len);
	uint8_t tmp[MSG_CAP];
	ck_assert_uint_le(o_len, sizeof(tmp));
	memcpy(tmp, o, o_len);
	if (flip)
		tmp[0] ^= 1;
	struct edge_infer_resp resp = {
		.status = EDGE_INFER_S_OK, .top_class = EDGE_INFER_TOP_NONE, .queued_us = 10,
		.run_us = 20, .output_length = (uint32_t)o_len, .output = tmp,
	};
	int n = edge_infer_resp_encode(out, cap_len, &resp);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

START_TEST(fleet_loads_models)
{
	uint8_t sha[32];
	ck_assert_uint_eq(fleet.n_models, 2);
	ck_assert_uint_eq(fleet.models[0].in_bytes, 1);
	ck_assert_uint_eq(fleet.models[0].out_bytes, 1);
	ck_assert_int_eq(edge_ota_sha256(fleet.models[0].bytes, fleet.models[0].len, sha), 0);
	ck_assert(memcmp(sha, fleet.models[0].sha, 32) == 0);
	/* garbage is refused with a reason, and the fleet stays as it was */
	uint8_t *junk = calloc(1, 64);
	ck_assert_int_eq(sim_offload_fleet_add_bytes(&fleet, junk, 64, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "lib/infer"));
	ck_assert_uint_eq(fleet.n_models, 2);
	ck_assert_int_eq(sim_offload_fleet_add(&fleet, "/nonexistent.tflite", err, sizeof(err)),
			 -1);
}
END_TEST

START_TEST(request_encoding_and_props)
{
	struct sim_offload_node n;
	struct edge_infer_req r;
	uint8_t expect[MSG_CAP];

	fleet.deadline_ms = 250;
	sim_offload_node_init(&n, &fleet, &host, 1234, false);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(sim_offload_request(&n, 1000 + i), 0);
	ck_assert_uint_eq(cap.n_req, 4);
	ck_assert_uint_eq(n.st.sent, 4);
	for (unsigned i = 0; i < 4; i++) {
		const struct sim_offload_model *m = &fleet.models[i % 2];
		ck_assert_int_eq(edge_infer_req_parse(cap.req[i].buf, cap.req[i].len, &r, NULL), 0);
		ck_assert_uint_eq(r.deadline_ms, 250);
		ck_assert_uint_eq(r.model.kind, EDGE_INFER_REF_SHA256);
		ck_assert(memcmp(r.model.ref, m->sha, 32) == 0);
		ck_assert_uint_eq(r.input_length, m->in_bytes);
		/* the input is the deterministic one of (seed, counter) */
		sim_offload_input(expect, m->in_bytes, 1234, i, false);
		ck_assert(memcmp(r.input, expect, m->in_bytes) == 0);
		/* Correlation Data: the u32 counter, little-endian */
		ck_assert_int_eq(cap.req[i].corr_len, 4);
		ck_assert_uint_eq(cap.req[i].corr[0], i);
		ck_assert_uint_eq(cap.req[i].corr[1] | cap.req[i].corr[2] | cap.req[i].corr[3], 0);
		ck_assert_str_eq(cap.req[i].resp_topic, RESP_TOPIC);
	}
	/* another seed, other inputs (ad01's input is large enough to differ) */
	sim_offload_input(expect, fleet.models[1].in_bytes, 1235, 1, false);
	ck_assert_int_eq(edge_infer_req_parse(cap.req[1].buf, cap.req[1].len, &r, NULL), 0);
	ck_assert(memcmp(r.input, expect, r.input_length) != 0);

	/* by name: kind 2 */
	ck_assert_int_eq(sim_offload_fleet_by_name(&fleet, "kws@1.0.3"), 0);
	ck_assert_int_eq(sim_offload_fleet_by_name(&fleet, "no-at-sign"), -1);
	ck_assert_int_eq(sim_offload_request(&n, 2000), 0);
	ck_assert_int_eq(edge_infer_req_parse(cap.req[4].buf, cap.req[4].len, &r, NULL), 0);
	ck_assert_uint_eq(r.model.kind, EDGE_INFER_REF_NAME);
	ck_assert_uint_eq(r.model.length, 9);
	ck_assert(memcmp(r.model.ref, "kws@1.0.3", 9) == 0);

	/* a failed publish is an error, not a pending request */
	cap.fail = -ENOTCONN;
	ck_assert_int_eq(sim_offload_request(&n, 3000), -ENOTCONN);
	ck_assert_uint_eq(n.st.send_errors, 1);
	ck_assert_uint_eq(n.st.sent, 5);
}
END_TEST

START_TEST(bad_requests)
{
	struct sim_offload_node n;
	struct edge_infer_req r;
	struct edge_msg_error e;

	sim_offload_node_init(&n, &fleet, &host, 7, false);
	fleet.bad = SIM_OFFLOAD_BAD_INPUT;
	ck_assert_int_eq(sim_offload_request(&n, 0), 0);
	ck_assert_int_eq(edge_infer_req_parse(cap.req[0].buf, cap.req[0].len, &r, NULL), 0);
	ck_assert_uint_eq(r.input_length, fleet.models[0].in_bytes + 1);

	fleet.bad = SIM_OFFLOAD_UNKNOWN_MODEL;
	ck_assert_int_eq(sim_offload_request(&n, 0), 0);
	ck_assert_int_eq(edge_infer_req_parse(cap.req[1].buf, cap.req[1].len, &r, NULL), 0);
	ck_assert_uint_eq(r.model.kind, EDGE_INFER_REF_SHA256);
	for (unsigned k = 0; k < fleet.n_models; k++)
		ck_assert(memcmp(r.model.ref, fleet.models[k].sha, 32) != 0);

	fleet.bad = SIM_OFFLOAD_TRUNCATED;
	ck_assert_int_eq(sim_offload_request(&n, 0), 0);
	ck_assert_int_eq(edge_infer_req_parse(cap.req[2].buf, cap.req[2].len, &r, &e), -EPROTO);
	ck_assert_int_eq(e.reason, EDGE_MSG_TRUNCATED);
	ck_assert_str_eq(e.field, "input");

	fleet.bad = SIM_OFFLOAD_BAD_MAGIC;
	ck_assert_int_eq(sim_offload_request(&n, 0), 0);
	ck_assert_int_eq(edge_infer_req_parse(cap.req[3].buf, cap.req[3].len, &r, &e), -EPROTO);
	ck_assert_int_eq(e.reason, EDGE_MSG_BAD_MAGIC);

	fleet.bad = SIM_OFFLOAD_NO_TOPIC;
	ck_assert_int_eq(sim_offload_request(&n, 0), 0);
	ck_assert_str_eq(cap.req[4].resp_topic, "");
	ck_assert_int_eq(cap.req[4].corr_len, 4);

	ck_assert_str_eq(sim_offload_bad_name(SIM_OFFLOAD_TRUNCATED), "truncated");
	ck_assert_int_eq(sim_offload_bad_from_name("no_response_topic"), SIM_OFFLOAD_NO_TOPIC);
	ck_assert_int_eq(sim_offload_bad_from_name("nonsense"), -1);
}
END_TEST

START_TEST(responses_matched_and_checked)
{
	struct sim_offload_node n;
	uint8_t resp[MSG_CAP];
	size_t len;

	fleet.check = true;
	sim_offload_node_init(&n, &fleet, &host, 99, false);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(sim_offload_request(&n, 1000), 0);

	/* request 1 answered right, after 2.5 ms */
	len = respond_ok(1, resp, sizeof(resp), false);
	sim_offload_on_response(&n, resp, len, cap.req[1].corr, 4, 3500);
	ck_assert_uint_eq(n.st.status[EDGE_INFER_S_OK], 1);
	ck_assert_uint_eq(n.st.checked, 1);
	ck_assert_uint_eq(n.st.wrong, 0);
	ck_assert_uint_eq(n.st.lat[sim_offload_hist_bucket(2500)], 1);
	/* the same again: no longer pending */
	sim_offload_on_response(&n, resp, len, cap.req[1].corr, 4, 3600);
	ck_assert_uint_eq(n.st.stray, 1);
	ck_assert_uint_eq(n.st.status[EDGE_INFER_S_OK], 1);

	/* request 0 answered with one byte off: wrong */
	len = respond_ok(0, resp, sizeof(resp), true);
	sim_offload_on_response(&n, resp, len, cap.req[0].corr, 4, 4000);
	ck_assert_uint_eq(n.st.checked, 2);
	ck_assert_uint_eq(n.st.wrong, 1);

	/* request 2: busy, counted by status */
	struct edge_infer_resp busy = { .status = EDGE_INFER_S_BUSY,
					.top_class = EDGE_INFER_TOP_NONE };
	int bl = edge_infer_resp_encode(resp, sizeof(resp), &busy);
	ck_assert_int_gt(bl, 0);
	sim_offload_on_response(&n, resp, (size_t)bl, cap.req[2].corr, 4, 5000);
	ck_assert_uint_eq(n.st.status[EDGE_INFER_S_BUSY], 1);

	/* unknown correlation, none, wrong length; an unparsable payload */
	const uint8_t other[4] = { 77, 0, 0, 0 };
	sim_offload_on_response(&n, resp, (size_t)bl, other, 4, 5000);
	sim_offload_on_response(&n, resp, (size_t)bl, NULL, 0, 5000);
	sim_offload_on_response(&n, resp, (size_t)bl, other, 3, 5000);
	ck_assert_uint_eq(n.st.stray, 4);
	sim_offload_on_response(&n, "junk", 4, cap.req[2].corr, 4, 5000);
	ck_assert_uint_eq(n.st.unparsed, 1);

	/* a slot reused before its answer: the old request is abandoned */
	for (unsigned i = 0; i < SIM_OFFLOAD_INFLIGHT; i++) {
		cap.n_req = 0;
		ck_assert_int_eq(sim_offload_request(&n, 6000), 0);
	}
	ck_assert_uint_eq(n.st.abandoned, 0); /* all earlier ones were answered */
	cap.n_req = 0;
	ck_assert_int_eq(sim_offload_request(&n, 6000), 0);
	ck_assert_uint_eq(n.st.abandoned, 1);

	/* the stats line's keys */
	char line[1024];
	ck_assert_int_gt(sim_offload_stats_format(line, sizeof(line), &n.st), 0);
	ck_assert_ptr_nonnull(strstr(line, " offload_ok=2 "));
	ck_assert_ptr_nonnull(strstr(line, " offload_busy=1 "));
	ck_assert_ptr_nonnull(strstr(line, " offload_wrong=1 "));
	ck_assert_ptr_nonnull(strstr(line, " offload_stray=4 "));
	ck_assert_ptr_nonnull(strstr(line, " offload_p50_ms="));
	ck_assert_ptr_nonnull(strstr(line, " verify_corrupted=0"));
}
END_TEST

START_TEST(histogram_percentiles)
{
	static uint32_t h[SIM_OFFLOAD_HIST];
	memset(h, 0, sizeof(h));
	ck_assert_uint_eq(sim_offload_hist_pct(h, 50), 0);
	for (uint64_t us = 0; us < 100000000; us = us * 3 + 1) {
		unsigned b = sim_offload_hist_bucket(us);
		ck_assert_uint_ge(sim_offload_hist_upper(b), us);
		/* within 1/8 of the value above 16 us */
		if (us >= 16)
			ck_assert_uint_le(sim_offload_hist_upper(b) - us, us / 8 + 1);
	}
	for (unsigned i = 0; i < 98; i++)
		h[sim_offload_hist_bucket(1000)]++;
	h[sim_offload_hist_bucket(50000)] += 2;
	uint64_t p50 = sim_offload_hist_pct(h, 50), p99 = sim_offload_hist_pct(h, 99);
	ck_assert_uint_ge(p50, 1000);
	ck_assert_uint_le(p50, 1130);
	ck_assert_uint_ge(p99, 50000);
	ck_assert_uint_le(p99, 56300);
}
END_TEST

/* Sampling is a function of (seed, inference number): the same twice,
 * and near the share over many. */
START_TEST(verify_sampling_deterministic)
{
	struct sim_offload_node a, b;
	unsigned hits = 0;

	sim_offload_node_init(&a, &fleet, &host, 42, false);
	sim_offload_node_init(&b, &fleet, &host, 42, false);
	ck_assert(!sim_offload_shadow_on(&a));
	ck_assert(!sim_offload_sampled(&a, 1));
	sim_offload_set_permille(&a, 100);
	sim_offload_set_permille(&b, 100);
	ck_assert(sim_offload_shadow_on(&a));
	for (uint32_t k = 1; k <= 20000; k++) {
		bool s = sim_offload_sampled(&a, k);
		ck_assert(s == sim_offload_sampled(&b, k));
		hits += s;
	}
	ck_assert_uint_ge(hits, 1700);
	ck_assert_uint_le(hits, 2300);
	sim_offload_set_permille(&a, 1000);
	for (uint32_t k = 1; k <= 100; k++)
		ck_assert(sim_offload_sampled(&a, k));

	/* the fleet's --verify-permille overrides registered */
	fleet.force_permille = true;
	fleet.permille = 0;
	sim_offload_node_init(&a, &fleet, &host, 42, false);
	sim_offload_set_permille(&a, 500);
	ck_assert(!sim_offload_shadow_on(&a));

	/* sampled own inferences become verify messages with the node's
	 * input and lib/infer's output, seq counting up */
	fleet.permille = 1000;
	sim_offload_node_init(&a, &fleet, &host, 42, false);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(sim_offload_own(&a), 1);
	ck_assert_uint_eq(cap.n_verify, 3);
	ck_assert_uint_eq(a.st.verify_sent, 3);
	ck_assert_uint_eq(a.st.own, 3);
	for (unsigned i = 0; i < 3; i++) {
		struct edge_infer_verify v;
		const struct sim_offload_model *m = &fleet.models[0];
		uint8_t in[8];
		ck_assert_int_eq(edge_infer_verify_parse(cap.verify[i].buf, cap.verify[i].len, &v,
							 NULL), 0);
		ck_assert_uint_eq(v.seq, i);
		ck_assert_uint_eq(v.model.kind, EDGE_INFER_REF_SHA256);
		ck_assert(memcmp(v.model.ref, m->sha, 32) == 0);
		ck_assert_uint_eq(v.input_length, m->in_bytes);
		sim_offload_input(in, m->in_bytes, 42, i + 1, true);
		ck_assert(memcmp(v.input, in, m->in_bytes) == 0);
		memcpy(edge_infer_input(m->ctx, 0, NULL), in, m->in_bytes);
		ck_assert_int_eq(edge_infer_invoke(m->ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
		ck_assert(memcmp(v.output, edge_infer_output(m->ctx, 0, NULL), m->out_bytes) == 0);
	}
}
END_TEST

/* --verify-corrupt: exactly one byte of the first sampled verify, once. */
START_TEST(corruption_flips_one_byte_once)
{
	struct sim_offload_node n;
	struct edge_infer_verify v;

	/* ad01 as model 0: an output of several bytes */
	sim_offload_fleet_free(&fleet);
	size_t len;
	uint8_t *m = test_data_model("ad01_int8.tflite", &len);
	ck_assert_int_eq(sim_offload_fleet_add_bytes(&fleet, m, len, err, sizeof(err)), 0);
	const struct sim_offload_model *mod = &fleet.models[0];
	ck_assert_uint_gt(mod->out_bytes, 1);

	fleet.force_permille = true;
	fleet.permille = 1000;
	sim_offload_node_init(&n, &fleet, &host, 5, true);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(sim_offload_own(&n), 1);
	ck_assert_uint_eq(n.st.verify_corrupted, 1);
	ck_assert_uint_eq(n.st.verify_sent, 4);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(edge_infer_verify_parse(cap.verify[i].buf, cap.verify[i].len, &v,
							 NULL), 0);
		uint8_t *in = edge_infer_input(mod->ctx, 0, NULL);
		memcpy(in, v.input, v.input_length);
		ck_assert_int_eq(edge_infer_invoke(mod->ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
		const uint8_t *good = edge_infer_output(mod->ctx, 0, NULL);
		unsigned diff = 0;
		for (uint32_t k = 0; k < v.output_length; k++)
			diff += v.output[k] != good[k];
		ck_assert_uint_eq(diff, i == 0 ? 1 : 0);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sim_offload");
	TCase *tc = tcase_create("offload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fleet_loads_models);
	tcase_add_test(tc, request_encoding_and_props);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, responses_matched_and_checked);
	tcase_add_test(tc, histogram_percentiles);
	tcase_add_test(tc, verify_sampling_deterministic);
	tcase_add_test(tc, corruption_flips_one_byte_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite(), TEST_REPORT_TAP, CK_FORK_GETENV);
}
