/* Suite 'offload': the inference worker pool with real models from
 * tests/data/models. Outputs are bit-exact with edge_infer run directly
 * (reference kernels); every refusal is answered with its status (bad_input
 * with the expected size, unknown_model, not_offloadable with the reason,
 * busy from admission / the per-node cap / a full queue, deadline_exceeded
 * for a request that waited past its deadline); a flooding node does not
 * starve another; interpreters are unloaded least recently used first under a
 * small budget; disabling a model answers its queued requests; shutdown with
 * queued work answers or frees everything (ASan build: no leak).
 *
 * No sleeps: results are awaited on the pool's notify (a condvar here) with a
 * bound; deadlines use an injected clock; queues are built while the pool is
 * paused, so what waits behind what is exact. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge_infer.h"
#include "edge_offload_pool.h"
#include "test_data.h"
#include "test_run.h"

/* ---- the injected clock */

static _Atomic uint64_t fake_ms = 1000000;

static uint64_t fake_now(void *ud)
{
	(void)ud;
	return atomic_load(&fake_ms);
}

/* ---- notify + collected results */

struct rec {
	enum edge_offload_status status;
	uint64_t tag;
	char node[EDGE_OFFLOAD_NODE_ID_MAX + 1];
	uint8_t sha[EDGE_OFFLOAD_SHA256_LEN];
	uint8_t *out;
	size_t out_len;
	int top;
	uint32_t queued_us, run_us;
	char reason[96];
};

static pthread_mutex_t nmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ncv = PTHREAD_COND_INITIALIZER;
static unsigned notified;
static struct rec *recs;
static size_t n_recs, cap_recs;

static void on_notify(void *ud)
{
	(void)ud;
	pthread_mutex_lock(&nmu);
	notified++;
	pthread_cond_broadcast(&ncv);
	pthread_mutex_unlock(&nmu);
}

static void collect(const struct edge_offload_result *r, void *ud)
{
	struct rec *c;

	(void)ud;
	if (n_recs == cap_recs) {
		cap_recs = cap_recs ? 2 * cap_recs : 64;
		recs = realloc(recs, cap_recs * sizeof *recs);
		ck_assert_ptr_nonnull(recs);
	}
	c = &recs[n_recs++];
	memset(c, 0, sizeof *c);
	c->status = r->status;
	c->tag = r->tag;
	snprintf(c->node, sizeof c->node, "%s", r->node_id);
	memcpy(c->sha, r->model_sha256, sizeof c->sha);
	c->top = r->top_class;
	c->queued_us = r->queued_us;
	c->run_us = r->run_us;
	snprintf(c->reason, sizeof c->reason, "%s", r->reason);
	if (r->output) {
		c->out = malloc(r->output_len);
		ck_assert_ptr_nonnull(c->out);
		memcpy(c->out, r->output, r->output_len);
		c->out_len = r->output_len;
	}
}

static void recs_reset(void)
{
	size_t i;

	for (i = 0; i < n_recs; i++)
		free(recs[i].out);
	n_recs = 0;
}

/* Drains until `want` results in all were collected; waits on the notify,
 * at most 60 s in all. */
static void await_results(edge_offload_pool *pool, size_t want)
{
	struct timespec until;
	unsigned seen;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&nmu);
	seen = notified;
	pthread_mutex_unlock(&nmu);
	edge_offload_pool_drain(pool, collect, NULL);
	while (n_recs < want) {
		int rc = 0;

		pthread_mutex_lock(&nmu);
		while (notified == seen && rc == 0)
			rc = pthread_cond_timedwait(&ncv, &nmu, &until);
		seen = notified;
		pthread_mutex_unlock(&nmu);
		ck_assert_msg(rc == 0, "timed out with %zu of %zu results", n_recs, want);
		edge_offload_pool_drain(pool, collect, NULL);
	}
	ck_assert_uint_eq(n_recs, want);
}

/* ---- helpers */

static void fake_sha(unsigned i, char hex[65], uint8_t raw[32])
{
	snprintf(hex, 65, "%064x", i + 0xab00u);
	ck_assert_int_eq(edge_offload_sha256_parse(hex, raw), 0);
}

static edge_offload_pool *pool_with(unsigned workers, size_t budget, unsigned queue_max,
				    unsigned node_max, unsigned max_nodes)
{
	struct edge_offload_options o;
	edge_offload_pool *pool = NULL;

	edge_offload_options_init(&o);
	o.workers = workers;
	if (budget)
		o.memory_budget = budget;
	if (queue_max)
		o.queue_max = queue_max;
	if (node_max)
		o.node_queue_max = node_max;
	if (max_nodes)
		o.max_nodes = max_nodes;
	o.notify = on_notify;
	o.now_ms = fake_now;
	ck_assert_int_eq(edge_offload_pool_new(&o, &pool), 0);
	recs_reset();
	return pool;
}

struct model {
	char hex[65];
	uint8_t sha[32];
	uint8_t *bytes;
	size_t len;
	struct edge_offload_model_info info;
};

static void add(edge_offload_pool *pool, struct model *m, unsigned i, const char *file)
{
	fake_sha(i, m->hex, m->sha);
	m->bytes = test_data_model(file, &m->len);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, m->hex, m->bytes, m->len, &m->info), 0);
}

static enum edge_offload_status submit(edge_offload_pool *pool, const char *node,
				       const struct model *m, const void *in, size_t len,
				       uint64_t deadline_in_ms, uint64_t tag,
				       struct edge_offload_verdict *vout)
{
	struct edge_offload_request rq = {
		.node_id = node, .input = in, .input_len = len,
		.deadline_ms = atomic_load(&fake_ms) + deadline_in_ms, .tag = tag,
	};
	struct edge_offload_verdict v;

	memcpy(rq.model_sha256, m->sha, 32);
	ck_assert_int_eq(edge_offload_pool_submit(pool, &rq, &v), 0);
	if (vout)
		*vout = v;
	return v.status;
}

/* The reference: edge_infer directly, reference kernels. */
static uint8_t *direct_run(const struct model *m, const void *in, size_t len, size_t *out_len)
{
	edge_infer_model *im = NULL;
	edge_infer_ctx *ctx = NULL;
	size_t n = 0;
	void *dst;
	const void *out;
	uint8_t *copy;

	ck_assert_int_eq(edge_infer_model_load(m->bytes, m->len, NULL, &im, NULL), 0);
	ck_assert_int_eq(edge_infer_ctx_new(im, NULL, 0, &ctx), 0);
	dst = edge_infer_input(ctx, 0, &n);
	ck_assert_uint_eq(n, len);
	memcpy(dst, in, len);
	ck_assert_int_eq(edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE), 0);
	out = edge_infer_output(ctx, 0, out_len);
	copy = malloc(*out_len);
	memcpy(copy, out, *out_len);
	edge_infer_ctx_free(ctx);
	edge_infer_model_free(im);
	return copy;
}

static int argmax_i8(const uint8_t *p, size_t n)
{
	size_t i, best = 0;

	for (i = 1; i < n; i++)
		if ((int8_t)p[i] > (int8_t)p[best])
			best = i;
	return n < 2 ? -1 : (int)best;
}

static struct edge_offload_model_stats model_stats(edge_offload_pool *pool, const char *hex)
{
	struct edge_offload_stats st;
	struct edge_offload_model_stats ms;
	size_t i;
	bool found = false;

	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	memset(&ms, 0, sizeof ms);
	for (i = 0; i < st.n_models; i++)
		if (strcmp(st.models[i].sha256_hex, hex) == 0) {
			ms = st.models[i];
			found = true;
		}
	edge_offload_stats_free(&st);
	ck_assert_msg(found, "model %s not in stats", hex);
	return ms;
}

/* ---- tests */

START_TEST(names_and_hex)
{
	uint8_t raw[32];
	char hex[65];

	ck_assert_int_eq(EDGE_OFFLOAD_OK, 0);
	ck_assert_int_eq(EDGE_OFFLOAD_UNKNOWN_MODEL, 1);
	ck_assert_int_eq(EDGE_OFFLOAD_NOT_OFFLOADABLE, 2);
	ck_assert_int_eq(EDGE_OFFLOAD_BAD_INPUT, 3);
	ck_assert_int_eq(EDGE_OFFLOAD_BUSY, 4);
	ck_assert_int_eq(EDGE_OFFLOAD_DEADLINE_EXCEEDED, 5);
	ck_assert_int_eq(EDGE_OFFLOAD_INTERNAL, 6);
	ck_assert_str_eq(edge_offload_status_name(EDGE_OFFLOAD_DEADLINE_EXCEEDED),
			 "deadline_exceeded");
	ck_assert_str_eq(edge_offload_status_name(7), "unknown");
	ck_assert_int_eq(edge_offload_sha256_parse(
		"00FF00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00fe", raw), 0);
	ck_assert_uint_eq(raw[1], 0xff);
	edge_offload_sha256_format(raw, hex);
	ck_assert_str_eq(hex, "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00fe");
	ck_assert_int_eq(edge_offload_sha256_parse("00ff", raw), -EINVAL);
	ck_assert_int_eq(edge_offload_sha256_parse(
		"g0ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00fe", raw), -EINVAL);
}
END_TEST

static const struct {
	const char *model, *input;
} cases[] = {
	{ "hello_world_int8.tflite", "hello_world_int8.x1p57.input.bin" },
	{ "kws_ref_model.tflite", "kws_ref_model.sample0.input.bin" },
	{ "micro_speech.tflite", "micro_speech.yes.input.bin" },
	{ "person_detect.tflite", "person_detect.person.input.bin" },
	{ "vww_96_int8.tflite", "vww_96_int8.sample0.input.bin" },
	{ "ic_resnet8_int8.tflite", "ic_resnet8_int8.sample0.input.bin" },
};
#define N_CASES (sizeof cases / sizeof cases[0])

START_TEST(bit_exact_with_the_engine)
{
	edge_offload_pool *pool = pool_with(2, 0, 0, 0, 0);
	struct model m[N_CASES];
	uint8_t *in[N_CASES], *want[N_CASES];
	size_t in_len[N_CASES], want_len[N_CASES], i, k;
	const unsigned reps = 3;

	for (i = 0; i < N_CASES; i++) {
		add(pool, &m[i], (unsigned)i, cases[i].model);
		ck_assert_msg(m[i].info.offloadable, "%s: %s", cases[i].model, m[i].info.reason);
		in[i] = test_data_model(cases[i].input, &in_len[i]);
		ck_assert_uint_eq(m[i].info.input_bytes, in_len[i]);
		want[i] = direct_run(&m[i], in[i], in_len[i], &want_len[i]);
		ck_assert_uint_eq(m[i].info.output_bytes, want_len[i]);
	}
	/* Several of each, from several nodes, interleaved over two workers. */
	for (k = 0; k < reps; k++)
		for (i = 0; i < N_CASES; i++) {
			char node[16];

			snprintf(node, sizeof node, "node-%zu", k);
			ck_assert_int_eq(submit(pool, node, &m[i], in[i], in_len[i], 600000,
						k * 100 + i, NULL), EDGE_OFFLOAD_OK);
		}
	await_results(pool, reps * N_CASES);
	for (k = 0; k < n_recs; k++) {
		struct rec *r = &recs[k];

		i = r->tag % 100;
		ck_assert_int_eq(r->status, EDGE_OFFLOAD_OK);
		ck_assert_str_eq(r->reason, "");
		ck_assert_mem_eq(r->sha, m[i].sha, 32);
		ck_assert_uint_eq(r->out_len, want_len[i]);
		ck_assert_msg(memcmp(r->out, want[i], want_len[i]) == 0, "%s: output differs",
			      cases[i].model);
		ck_assert_int_eq(r->top, argmax_i8(want[i], want_len[i]));
		if (i != 0) /* hello_world runs in under 1 us */
			ck_assert_uint_gt(r->run_us, 0);
	}
	/* hello_world's one output is no class; person_detect's 2 are. */
	for (k = 0; k < n_recs; k++) {
		if (recs[k].tag % 100 == 0)
			ck_assert_int_eq(recs[k].top, -1);
		if (recs[k].tag % 100 == 3)
			ck_assert_int_ge(recs[k].top, 0);
	}
	{
		struct edge_offload_model_stats ms = model_stats(pool, m[3].hex);

		ck_assert_uint_eq(ms.requests, reps);
		ck_assert_uint_eq(ms.outcomes[EDGE_OFFLOAD_OK], reps);
		ck_assert_uint_eq(ms.run.samples, reps);
		ck_assert_uint_gt(ms.run.p50_us, 0);
		ck_assert_uint_ge(ms.run.p99_us, ms.run.p50_us);
		ck_assert_uint_gt(ms.run_ewma_us, 0);
		ck_assert_uint_ge(ms.loaded, 1);
		ck_assert_uint_le(ms.loaded, 2);
		ck_assert_uint_eq(ms.memory_bytes, ms.loaded * m[3].info.interpreter_bytes);
	}
	edge_offload_pool_free(pool);
	recs_reset();
	for (i = 0; i < N_CASES; i++) {
		free(m[i].bytes);
		free(in[i]);
		free(want[i]);
	}
}
END_TEST

START_TEST(bad_input_and_unknown_model)
{
	edge_offload_pool *pool = pool_with(1, 0, 0, 0, 0);
	struct model kws, ghost;
	struct edge_offload_verdict v;
	struct edge_offload_stats st;
	uint8_t buf[600] = { 0 };
	struct edge_offload_request rq = { .node_id = "", .input = buf, .input_len = 1 };

	add(pool, &kws, 1, "kws_ref_model.tflite");
	ck_assert_int_eq(submit(pool, "n1", &kws, buf, 489, 1000, 1, &v), EDGE_OFFLOAD_BAD_INPUT);
	ck_assert_uint_eq(v.expected_bytes, 490);
	ck_assert_int_eq(submit(pool, "n1", &kws, buf, 491, 1000, 2, &v), EDGE_OFFLOAD_BAD_INPUT);
	ck_assert_uint_eq(v.expected_bytes, 490);
	fake_sha(99, ghost.hex, ghost.sha);
	ck_assert_int_eq(submit(pool, "n1", &ghost, buf, 490, 1000, 3, &v),
			 EDGE_OFFLOAD_UNKNOWN_MODEL);
	/* A deadline already passed is refused without queueing. */
	ck_assert_int_eq(submit(pool, "n1", &kws, buf, 490, 0, 4, &v),
			 EDGE_OFFLOAD_DEADLINE_EXCEEDED);
	/* API misuse: an error, not a verdict, and nothing counted. */
	ck_assert_int_eq(edge_offload_pool_submit(pool, &rq, &v), -EINVAL);
	rq.node_id = "0123456789012345678901234567890123456789012345678901234567890123456789";
	ck_assert_int_eq(edge_offload_pool_submit(pool, &rq, &v), -EINVAL);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, kws.hex, kws.bytes, kws.len, NULL),
			 -EEXIST);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, "xyz", kws.bytes, kws.len, NULL),
			 -EINVAL);
	ck_assert_int_eq(edge_offload_pool_remove_model(pool, ghost.hex), EDGE_ENOTFOUND);

	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.requests, 4);
	ck_assert_uint_eq(st.outcomes[EDGE_OFFLOAD_BAD_INPUT], 2);
	ck_assert_uint_eq(st.outcomes[EDGE_OFFLOAD_UNKNOWN_MODEL], 1);
	ck_assert_uint_eq(st.outcomes[EDGE_OFFLOAD_DEADLINE_EXCEEDED], 1);
	ck_assert_uint_eq(st.n_nodes, 1);
	ck_assert_str_eq(st.nodes[0].node_id, "n1");
	ck_assert_uint_eq(st.nodes[0].requests, 4);
	ck_assert_uint_eq(st.n_models, 1);
	ck_assert_uint_eq(st.models[0].requests, 3);
	ck_assert_uint_eq(st.models[0].outcomes[EDGE_OFFLOAD_BAD_INPUT], 2);
	edge_offload_stats_free(&st);
	ck_assert_uint_eq(edge_offload_pool_drain(pool, collect, NULL), 0);
	edge_offload_pool_free(pool);
	free(kws.bytes);
}
END_TEST

START_TEST(not_offloadable_with_reason)
{
	/* Budget: fits kws but not person_detect's interpreter. */
	edge_offload_pool *pool = pool_with(1, 200 * 1024, 0, 0, 0);
	struct model add2, lstm, pd, kws;
	struct edge_offload_verdict v;
	uint8_t buf[32768] = { 0 };

	add(pool, &add2, 1, "simple_add.tflite");
	ck_assert(!add2.info.offloadable);
	ck_assert_str_eq(add2.info.reason,
			 "model has 2 input and 1 output tensors (offload takes 1 and 1)");
	add(pool, &lstm, 2, "mnist_lstm_int8.tflite");
	ck_assert(!lstm.info.offloadable);
	ck_assert_ptr_nonnull(strstr(lstm.info.reason, "EDGE_INFER_EUNSUPPORTED"));
	ck_assert_ptr_nonnull(strstr(lstm.info.reason, "UNIDIRECTIONAL_SEQUENCE_LSTM"));
	add(pool, &pd, 3, "person_detect.tflite");
	ck_assert(!pd.info.offloadable);
	ck_assert_uint_gt(pd.info.interpreter_bytes, 200 * 1024);
	ck_assert_ptr_nonnull(strstr(pd.info.reason, "over the memory budget of 204800"));
	add(pool, &kws, 4, "kws_ref_model.tflite");
	ck_assert(kws.info.offloadable);
	ck_assert_uint_le(kws.info.interpreter_bytes, 200 * 1024);

	ck_assert_int_eq(submit(pool, "n", &add2, buf, 16384, 1000, 1, &v),
			 EDGE_OFFLOAD_NOT_OFFLOADABLE);
	ck_assert_str_eq(v.reason, add2.info.reason);
	ck_assert_int_eq(submit(pool, "n", &lstm, buf, 784, 1000, 2, &v),
			 EDGE_OFFLOAD_NOT_OFFLOADABLE);
	ck_assert_int_eq(submit(pool, "n", &pd, buf, 9216, 1000, 3, &v),
			 EDGE_OFFLOAD_NOT_OFFLOADABLE);
	ck_assert_ptr_nonnull(strstr(v.reason, "memory budget"));
	ck_assert_int_eq(model_stats(pool, pd.hex).outcomes[EDGE_OFFLOAD_NOT_OFFLOADABLE], 1);
	ck_assert(!model_stats(pool, pd.hex).offloadable);
	edge_offload_pool_free(pool);
	free(add2.bytes);
	free(lstm.bytes);
	free(pd.bytes);
	free(kws.bytes);
}
END_TEST

START_TEST(deadline_passed_while_queued)
{
	edge_offload_pool *pool = pool_with(1, 0, 0, 0, 0);
	struct model pd, hw;
	uint8_t *pin, hin = 0x40;
	size_t plen;
	size_t i;

	add(pool, &pd, 1, "person_detect.tflite");
	add(pool, &hw, 2, "hello_world_int8.tflite");
	pin = test_data_model("person_detect.person.input.bin", &plen);
	edge_offload_pool_pause(pool, true);
	/* Slow work first, then a short deadline behind it, then a long one. */
	ck_assert_int_eq(submit(pool, "a", &pd, pin, plen, 600000, 1, NULL), EDGE_OFFLOAD_OK);
	ck_assert_int_eq(submit(pool, "b", &hw, &hin, 1, 5, 2, NULL), EDGE_OFFLOAD_OK);
	ck_assert_int_eq(submit(pool, "b", &hw, &hin, 1, 600000, 3, NULL), EDGE_OFFLOAD_OK);
	atomic_fetch_add(&fake_ms, 10); /* the queue held them past 5 ms */
	edge_offload_pool_pause(pool, false);
	await_results(pool, 3);
	for (i = 0; i < n_recs; i++) {
		if (recs[i].tag == 2) {
			ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_DEADLINE_EXCEEDED);
			ck_assert_str_eq(recs[i].reason, "deadline passed while queued");
			ck_assert_uint_eq(recs[i].run_us, 0);
			ck_assert_ptr_null(recs[i].out);
			ck_assert_int_eq(recs[i].top, -1);
		} else {
			ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_OK);
		}
	}
	ck_assert_uint_eq(model_stats(pool, hw.hex).outcomes[EDGE_OFFLOAD_DEADLINE_EXCEEDED], 1);
	ck_assert_uint_eq(model_stats(pool, hw.hex).run.samples, 1);
	edge_offload_pool_free(pool);
	recs_reset();
	free(pd.bytes);
	free(hw.bytes);
	free(pin);
}
END_TEST

START_TEST(busy_from_admission_and_caps)
{
	edge_offload_pool *pool = pool_with(1, 0, 300, 250, 0);
	struct model pd;
	struct edge_offload_verdict v;
	struct edge_offload_stats st;
	uint8_t *pin;
	size_t plen;
	unsigned i, queued = 0;
	uint32_t ewma;

	add(pool, &pd, 1, "person_detect.tflite");
	pin = test_data_model("person_detect.person.input.bin", &plen);
	/* The mean run time is learnt from real runs. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(submit(pool, "warm", &pd, pin, plen, 600000, i, NULL),
				 EDGE_OFFLOAD_OK);
	await_results(pool, 3);
	ewma = model_stats(pool, pd.hex).run_ewma_us;
	ck_assert_uint_gt(ewma, 0);

	edge_offload_pool_pause(pool, true);
	/* 200 queued from one node with a long deadline... */
	for (i = 0; i < 200; i++, queued++)
		ck_assert_int_eq(submit(pool, "deep", &pd, pin, plen, 3600000, 100 + i, NULL),
				 EDGE_OFFLOAD_OK);
	/* ...a request of the same node cannot finish in 1 ms behind them. */
	ck_assert_int_eq(submit(pool, "deep", &pd, pin, plen, 1, 999, &v), EDGE_OFFLOAD_BUSY);
	ck_assert_uint_eq(v.estimate_us, 201ull * ewma);
	ck_assert_str_eq(v.reason, "cannot finish before the deadline at this queue depth");
	/* Another node is served round-robin: one ahead of it, not 200. */
	ck_assert_int_eq(submit(pool, "other", &pd, pin, plen, 3600000, 998, &v),
			 EDGE_OFFLOAD_OK);
	queued++;
	ck_assert_uint_eq(v.estimate_us, 2ull * ewma);

	/* Per-node cap: 250 for "deep". */
	for (i = 0; i < 50; i++, queued++)
		ck_assert_int_eq(submit(pool, "deep", &pd, pin, plen, 3600000, 300 + i, NULL),
				 EDGE_OFFLOAD_OK);
	ck_assert_int_eq(submit(pool, "deep", &pd, pin, plen, 3600000, 997, &v),
			 EDGE_OFFLOAD_BUSY);
	ck_assert_str_eq(v.reason, "node queue full");
	/* Queue cap: 300 in all. */
	for (i = 0; queued < 300; i++, queued++)
		ck_assert_int_eq(submit(pool, "third", &pd, pin, plen, 3600000, 400 + i, NULL),
				 EDGE_OFFLOAD_OK);
	ck_assert_int_eq(submit(pool, "fourth", &pd, pin, plen, 3600000, 996, &v),
			 EDGE_OFFLOAD_BUSY);
	ck_assert_str_eq(v.reason, "queue full");

	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.queued, 300);
	ck_assert_uint_eq(st.busy_deadline, 1);
	ck_assert_uint_eq(st.busy_node_cap, 1);
	ck_assert_uint_eq(st.busy_queue_full, 1);
	ck_assert_uint_eq(st.outcomes[EDGE_OFFLOAD_BUSY], 3);
	edge_offload_stats_free(&st);
	/* Not run: shutdown answers the queue (internal). */
	edge_offload_pool_shutdown(pool);
	await_results(pool, 3 + 300);
	for (i = 3; i < n_recs; i++) {
		ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_INTERNAL);
		ck_assert_str_eq(recs[i].reason, "shutting down");
	}
	edge_offload_pool_free(pool);
	recs_reset();
	free(pd.bytes);
	free(pin);
}
END_TEST

/* One flooding node against a calm one, on `workers` workers. */
static void flood(unsigned workers, size_t *a_before_last_b)
{
	edge_offload_pool *pool = pool_with(workers, 0, 2000, 1000, 0);
	struct model hw;
	uint8_t in = 0x10;
	size_t i, b_seen = 0, a_seen = 0;

	add(pool, &hw, 1, "hello_world_int8.tflite");
	edge_offload_pool_pause(pool, true);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(submit(pool, "flood-a", &hw, &in, 1, 600000, i, NULL),
				 EDGE_OFFLOAD_OK);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(submit(pool, "calm-b", &hw, &in, 1, 600000, 10000 + i, NULL),
				 EDGE_OFFLOAD_OK);
	ck_assert_int_eq(submit(pool, "flood-a", &hw, &in, 1, 600000, 5000, NULL),
			 EDGE_OFFLOAD_BUSY); /* its cap */
	edge_offload_pool_pause(pool, false);
	await_results(pool, 1010);
	for (i = 0; i < n_recs; i++) {
		ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_OK);
		if (strcmp(recs[i].node, "calm-b") == 0) {
			b_seen++;
			*a_before_last_b = a_seen;
		} else {
			a_seen++;
		}
	}
	ck_assert_uint_eq(b_seen, 10);
	ck_assert_uint_eq(a_seen, 1000);
	edge_offload_pool_free(pool);
	recs_reset();
	free(hw.bytes);
}

START_TEST(flooding_node_does_not_starve_others)
{
	size_t a_before = 0;

	/* One worker: completion order is service order, which is exact
	 * round-robin: A, B, A, B, ... so B's 10th comes after A's 10th, with
	 * 990 of A's still queued. */
	flood(1, &a_before);
	ck_assert_uint_eq(a_before, 10);
	/* Two workers: everything completes (the order of completions then
	 * also depends on the scheduler, so it is not asserted). */
	flood(2, &a_before);
}
END_TEST

static void run_one(edge_offload_pool *pool, const struct model *m, const void *in, size_t len,
		    uint64_t tag)
{
	size_t before = n_recs;

	ck_assert_int_eq(submit(pool, "lru", m, in, len, 600000, tag, NULL), EDGE_OFFLOAD_OK);
	await_results(pool, before + 1);
	ck_assert_int_eq(recs[before].status, EDGE_OFFLOAD_OK);
}

START_TEST(lru_unload_under_a_small_budget)
{
	struct model kws, ms, kws2, ms2;
	uint8_t *kin, *min;
	size_t klen, mlen, budget;
	struct edge_offload_model_stats a, b;
	struct edge_offload_stats st;
	edge_offload_pool *probe = pool_with(1, 0, 0, 0, 0), *pool;

	/* Learn the interpreter sizes, then a budget for one of them only. */
	add(probe, &kws, 1, "kws_ref_model.tflite");
	add(probe, &ms, 2, "micro_speech.tflite");
	budget = (kws.info.interpreter_bytes > ms.info.interpreter_bytes
		  ? kws.info.interpreter_bytes : ms.info.interpreter_bytes) + 64;
	ck_assert_uint_lt(budget, kws.info.interpreter_bytes + ms.info.interpreter_bytes);
	edge_offload_pool_free(probe);

	pool = pool_with(1, budget, 0, 0, 0);
	add(pool, &kws2, 1, "kws_ref_model.tflite");
	add(pool, &ms2, 2, "micro_speech.tflite");
	kin = test_data_model("kws_ref_model.sample0.input.bin", &klen);
	min = test_data_model("micro_speech.yes.input.bin", &mlen);
	run_one(pool, &kws2, kin, klen, 1);  /* kws loaded */
	run_one(pool, &kws2, kin, klen, 2);  /* reused */
	run_one(pool, &ms2, min, mlen, 3);   /* kws unloaded, speech loaded */
	run_one(pool, &kws2, kin, klen, 4);  /* speech unloaded, kws loaded */
	run_one(pool, &ms2, min, mlen, 5);   /* kws unloaded, speech loaded */
	a = model_stats(pool, kws2.hex);
	b = model_stats(pool, ms2.hex);
	ck_assert_uint_eq(a.loads, 2);
	ck_assert_uint_eq(a.unloads, 2);
	ck_assert_uint_eq(a.loaded, 0);
	ck_assert_uint_eq(a.memory_bytes, 0);
	ck_assert_uint_eq(b.loads, 2);
	ck_assert_uint_eq(b.unloads, 1);
	ck_assert_uint_eq(b.loaded, 1);
	ck_assert_uint_eq(b.memory_bytes, ms2.info.interpreter_bytes);
	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.memory_bytes, ms2.info.interpreter_bytes);
	ck_assert_uint_le(st.memory_bytes, st.memory_budget);
	edge_offload_stats_free(&st);
	edge_offload_pool_free(pool);
	recs_reset();

	/* With room for both nothing is unloaded. */
	pool = pool_with(1, 0, 0, 0, 0);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, kws.hex, kws.bytes, kws.len, NULL), 0);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, ms.hex, ms.bytes, ms.len, NULL), 0);
	run_one(pool, &kws, kin, klen, 1);
	run_one(pool, &ms, min, mlen, 2);
	run_one(pool, &kws, kin, klen, 3);
	ck_assert_uint_eq(model_stats(pool, kws.hex).loads, 1);
	ck_assert_uint_eq(model_stats(pool, kws.hex).unloads, 0);
	ck_assert_uint_eq(model_stats(pool, ms.hex).loaded, 1);
	edge_offload_pool_free(pool);
	recs_reset();
	free(kws.bytes);
	free(ms.bytes);
	free(kws2.bytes);
	free(ms2.bytes);
	free(kin);
	free(min);
}
END_TEST

START_TEST(two_workers_share_a_one_interpreter_budget)
{
	struct model kws;
	uint8_t *kin;
	size_t klen, i;
	edge_offload_pool *probe = pool_with(1, 0, 0, 0, 0), *pool;
	struct edge_offload_stats st;

	add(probe, &kws, 1, "kws_ref_model.tflite");
	edge_offload_pool_free(probe);
	/* Two workers, room for one interpreter: they take turns, never over. */
	pool = pool_with(2, kws.info.interpreter_bytes, 0, 0, 0);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, kws.hex, kws.bytes, kws.len, NULL), 0);
	kin = test_data_model("kws_ref_model.sample0.input.bin", &klen);
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(submit(pool, i % 2 ? "x" : "y", &kws, kin, klen, 600000, i, NULL),
				 EDGE_OFFLOAD_OK);
	await_results(pool, 40);
	for (i = 0; i < n_recs; i++)
		ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_OK);
	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_le(st.memory_bytes, kws.info.interpreter_bytes);
	ck_assert_uint_eq(st.models[0].loaded, 1);
	ck_assert_uint_eq(st.models[0].loads, st.models[0].unloads + 1);
	edge_offload_stats_free(&st);
	edge_offload_pool_free(pool);
	recs_reset();
	free(kws.bytes);
	free(kin);
}
END_TEST

START_TEST(disable_while_queued)
{
	edge_offload_pool *pool = pool_with(2, 0, 0, 0, 0);
	struct model kws, hw;
	struct edge_offload_stats st;
	uint8_t *kin, hin = 3;
	size_t klen, i;

	add(pool, &kws, 1, "kws_ref_model.tflite");
	add(pool, &hw, 2, "hello_world_int8.tflite");
	kin = test_data_model("kws_ref_model.sample0.input.bin", &klen);
	run_one(pool, &kws, kin, klen, 0); /* an interpreter loaded */
	recs_reset();
	edge_offload_pool_pause(pool, true);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(submit(pool, "a", &kws, kin, klen, 600000, i, NULL),
				 EDGE_OFFLOAD_OK);
		ck_assert_int_eq(submit(pool, "b", &hw, &hin, 1, 600000, 100 + i, NULL),
				 EDGE_OFFLOAD_OK);
	}
	ck_assert_int_eq(submit(pool, "c", &kws, kin, klen, 600000, 50, NULL), EDGE_OFFLOAD_OK);
	ck_assert_int_eq(edge_offload_pool_remove_model(pool, kws.hex), 0);
	/* Answered at once, while the workers are still paused. */
	ck_assert_uint_eq(edge_offload_pool_drain(pool, collect, NULL), 6);
	for (i = 0; i < n_recs; i++) {
		ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_NOT_OFFLOADABLE);
		ck_assert_str_eq(recs[i].reason, "model disabled");
		ck_assert_uint_lt(recs[i].tag, 51);
	}
	ck_assert_int_eq(submit(pool, "a", &kws, kin, klen, 600000, 60, NULL),
			 EDGE_OFFLOAD_UNKNOWN_MODEL);
	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.queued, 5);
	ck_assert_uint_eq(st.n_models, 1);
	ck_assert_uint_eq(st.memory_bytes, 0); /* kws unloaded */
	edge_offload_stats_free(&st);
	edge_offload_pool_pause(pool, false);
	await_results(pool, 6 + 5);
	for (i = 6; i < n_recs; i++) {
		ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_OK);
		ck_assert_uint_ge(recs[i].tag, 100);
	}
	/* Registered again under the same SHA: a fresh model. */
	ck_assert_int_eq(edge_offload_pool_add_model(pool, kws.hex, kws.bytes, kws.len, NULL), 0);
	run_one(pool, &kws, kin, klen, 70);
	edge_offload_pool_free(pool);
	recs_reset();
	free(kws.bytes);
	free(hw.bytes);
	free(kin);
}
END_TEST

START_TEST(disable_while_running)
{
	edge_offload_pool *pool = pool_with(1, 0, 0, 0, 0);
	struct model vww;
	struct edge_offload_stats st;
	uint8_t *in;
	size_t len, i;

	add(pool, &vww, 1, "vww_96_int8.tflite");
	in = test_data_model("vww_96_int8.sample0.input.bin", &len);
	/* Removed while the worker loads or runs the first (either is fine):
	 * whatever ran completes, the rest is answered, and the interpreter is
	 * gone by the time the last result is out. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(submit(pool, "n", &vww, in, len, 600000, i, NULL), EDGE_OFFLOAD_OK);
	ck_assert_int_eq(edge_offload_pool_remove_model(pool, vww.hex), 0);
	await_results(pool, 3);
	for (i = 0; i < n_recs; i++)
		ck_assert(recs[i].status == EDGE_OFFLOAD_OK ||
			  recs[i].status == EDGE_OFFLOAD_NOT_OFFLOADABLE);
	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.memory_bytes, 0);
	ck_assert_uint_eq(st.n_models, 0);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.outcomes[EDGE_OFFLOAD_OK] + st.outcomes[EDGE_OFFLOAD_NOT_OFFLOADABLE], 3);
	edge_offload_stats_free(&st);
	edge_offload_pool_free(pool);
	recs_reset();
	free(vww.bytes);
	free(in);
}
END_TEST

START_TEST(shutdown_with_queued_work)
{
	edge_offload_pool *pool = pool_with(2, 0, 0, 200, 0);
	struct model vww;
	struct edge_offload_verdict v;
	struct edge_offload_request rq = { .node_id = "n" };
	uint8_t *in;
	size_t len, i;

	add(pool, &vww, 1, "vww_96_int8.tflite");
	in = test_data_model("vww_96_int8.sample0.input.bin", &len);
	/* Running and queued work at once; free without draining: nothing leaks
	 * (the ASan build checks). */
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(submit(pool, "n", &vww, in, len, 600000, i, NULL), EDGE_OFFLOAD_OK);
	edge_offload_pool_free(pool);

	pool = pool_with(1, 0, 0, 200, 0);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, vww.hex, vww.bytes, vww.len, NULL), 0);
	edge_offload_pool_pause(pool, true);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(submit(pool, "n", &vww, in, len, 600000, i, NULL), EDGE_OFFLOAD_OK);
	edge_offload_pool_shutdown(pool);
	edge_offload_pool_shutdown(pool); /* idempotent */
	memcpy(rq.model_sha256, vww.sha, 32);
	ck_assert_int_eq(edge_offload_pool_submit(pool, &rq, &v), EDGE_ECLOSED);
	ck_assert_int_eq(edge_offload_pool_add_model(pool, "00000000000000000000000000000000"
						     "000000000000000000000000000000ff",
						     vww.bytes, vww.len, NULL), EDGE_ECLOSED);
	ck_assert_uint_eq(edge_offload_pool_drain(pool, collect, NULL), 20);
	for (i = 0; i < n_recs; i++)
		ck_assert_int_eq(recs[i].status, EDGE_OFFLOAD_INTERNAL);
	ck_assert_uint_eq(model_stats(pool, vww.hex).outcomes[EDGE_OFFLOAD_INTERNAL], 20);
	edge_offload_pool_free(pool);
	recs_reset();
	free(vww.bytes);
	free(in);
}
END_TEST

START_TEST(node_table_is_bounded)
{
	edge_offload_pool *pool = pool_with(1, 0, 0, 0, 2);
	struct model hw;
	struct edge_offload_stats st;
	struct edge_offload_verdict v;
	uint8_t in = 1;

	add(pool, &hw, 1, "hello_world_int8.tflite");
	run_one(pool, &hw, &in, 1, 1); /* node "lru" */
	ck_assert_int_eq(submit(pool, "n2", &hw, &in, 1, 600000, 2, NULL), EDGE_OFFLOAD_OK);
	await_results(pool, 2);
	/* A third node evicts the least recently seen idle one ("lru"). */
	edge_offload_pool_pause(pool, true);
	ck_assert_int_eq(submit(pool, "n3", &hw, &in, 1, 600000, 3, NULL), EDGE_OFFLOAD_OK);
	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.n_nodes, 2);
	ck_assert_uint_eq(st.nodes_evicted, 1);
	ck_assert_str_eq(st.nodes[0].node_id, "n3");
	ck_assert_str_eq(st.nodes[1].node_id, "n2");
	ck_assert_uint_eq(st.nodes[1].outcomes[EDGE_OFFLOAD_OK], 1);
	ck_assert_uint_eq(st.nodes[1].run.samples, 1);
	edge_offload_stats_free(&st);
	/* n2 idle is evicted for n4; with n3 and n4 both queued, n5 is refused. */
	ck_assert_int_eq(submit(pool, "n4", &hw, &in, 1, 600000, 4, NULL), EDGE_OFFLOAD_OK);
	ck_assert_int_eq(submit(pool, "n5", &hw, &in, 1, 600000, 5, &v), EDGE_OFFLOAD_BUSY);
	ck_assert_str_eq(v.reason, "node table full");
	ck_assert_int_eq(edge_offload_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.busy_node_table, 1);
	ck_assert_uint_eq(st.nodes_evicted, 2);
	edge_offload_stats_free(&st);
	edge_offload_pool_pause(pool, false);
	await_results(pool, 4);
	edge_offload_pool_free(pool);
	recs_reset();
	free(hw.bytes);
}
END_TEST

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("pool");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, names_and_hex);
	tcase_add_test(tc, bit_exact_with_the_engine);
	tcase_add_test(tc, bad_input_and_unknown_model);
	tcase_add_test(tc, not_offloadable_with_reason);
	tcase_add_test(tc, deadline_passed_while_queued);
	tcase_add_test(tc, busy_from_admission_and_caps);
	tcase_add_test(tc, flooding_node_does_not_starve_others);
	tcase_add_test(tc, lru_unload_under_a_small_budget);
	tcase_add_test(tc, two_workers_share_a_one_interpreter_budget);
	tcase_add_test(tc, disable_while_queued);
	tcase_add_test(tc, disable_while_running);
	tcase_add_test(tc, shutdown_with_queued_work);
	tcase_add_test(tc, node_table_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc = test_run_suite(offload_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);

	recs_reset();
	free(recs);
	return rc;
}
