/* The offload worker pool: models, per-node queues served round-robin,
 * lazily loaded interpreters within a memory budget, results on a done list.
 * The policy is in edge_offload_pool.h.
 *
 * Locking: one mutex guards everything shared (models, nodes, queue, the
 * interpreter list and its accounting, the done list, stats). Workers hold
 * it only to take a request, to reserve/unload interpreters and to complete;
 * loading a model and invoking it run outside it, on objects the worker owns
 * exclusively at that moment (an interpreter marked in_use, the request it
 * took). */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edge_infer.h"
#include "edge_log.h"
#include "edge_offload_pool.h"
#include "edge_time.h"
#include "edge_topic.h"

_Static_assert(EDGE_OFFLOAD_NODE_ID_MAX == EDGE_ID_MAX_LEN, "node ids are the protocol's");

#define OFF_WORKERS_MAX 256u
#define OFF_ARENA_ALIGN 16u
#define OFF_TYPE_UINT8 3
#define OFF_TYPE_INT8 9

/* ---- latency histogram: 4 buckets per power of two over uint32 us */

#define OFF_HIST_BUCKETS 124u

struct off_hist {
	uint32_t b[OFF_HIST_BUCKETS];
	uint64_t n;
};

static unsigned hist_bucket(uint32_t v)
{
	unsigned oct;

	if (v < 4)
		return v;
	oct = 31u - (unsigned)__builtin_clz(v); /* >= 2 */
	return 4u * (oct - 1u) + ((v >> (oct - 2u)) & 3u);
}

static uint32_t hist_upper(unsigned b)
{
	unsigned oct, sub;
	uint64_t lower, upper;

	if (b < 4)
		return b;
	oct = b / 4u + 1u;
	sub = b % 4u;
	lower = (uint64_t)(4u + sub) << (oct - 2u);
	upper = lower + ((uint64_t)1 << (oct - 2u)) - 1u;
	return upper > UINT32_MAX ? UINT32_MAX : (uint32_t)upper;
}

static void hist_add(struct off_hist *h, uint32_t v)
{
	unsigned b = hist_bucket(v);

	assert(b < OFF_HIST_BUCKETS);
	if (h->b[b] < UINT32_MAX)
		h->b[b]++;
	h->n++;
}

static uint32_t hist_quantile(const struct off_hist *h, unsigned per_mille)
{
	uint64_t total = 0, want, seen = 0;
	unsigned i;

	for (i = 0; i < OFF_HIST_BUCKETS; i++)
		total += h->b[i];
	if (total == 0)
		return 0;
	want = (total * per_mille + 999u) / 1000u;
	if (want == 0)
		want = 1;
	for (i = 0; i < OFF_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return hist_upper(i);
	}
	return hist_upper(OFF_HIST_BUCKETS - 1);
}

static void latency_of(const struct off_hist *h, struct edge_offload_latency *out)
{
	out->p50_us = hist_quantile(h, 500);
	out->p99_us = hist_quantile(h, 990);
	out->samples = h->n;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t clamp_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* ---- objects */

struct off_model {
	uint8_t sha[EDGE_OFFLOAD_SHA256_LEN];
	char hex[65];
	uint8_t *bytes;            /* NULL when not offloadable */
	size_t len;
	unsigned refs;             /* registry + interpreters + requests holding it */
	bool registered;
	bool offloadable;
	char reason[EDGE_OFFLOAD_REASON_MAX];
	size_t in_bytes, out_bytes, interp_bytes;
	int out_type;
	uint64_t macs;
	uint32_t ewma_us;
	bool have_ewma;
	unsigned queued, loaded;
	size_t mem;
	uint64_t requests, outcomes[EDGE_OFFLOAD_STATUS_COUNT], loads, unloads;
	struct off_hist hq, hr;
};

struct off_node;

struct off_req {
	struct off_req *next;
	struct off_node *node;     /* pinned while queued or running */
	struct off_model *model;   /* a reference while queued or running */
	uint8_t *input;
	size_t input_len;
	uint64_t deadline_ms, tag, submit_us;
	/* the result */
	enum edge_offload_status status;
	char node_id[EDGE_OFFLOAD_NODE_ID_MAX + 1];
	uint8_t sha[EDGE_OFFLOAD_SHA256_LEN];
	uint8_t *output;
	size_t output_len;
	int top_class;
	uint32_t queued_us, run_us;
	const char *reason;        /* static */
};

struct off_node {
	char id[EDGE_OFFLOAD_NODE_ID_MAX + 1];
	uint32_t hash;
	struct off_node *hnext;            /* hash chain */
	struct off_node *lru_prev, *lru_next; /* most recently seen at pool->lru_head */
	struct off_node *rprev, *rnext;    /* the round-robin ring, when queued > 0 */
	struct off_req *qhead, *qtail;
	unsigned queued, running;
	uint64_t requests, outcomes[EDGE_OFFLOAD_STATUS_COUNT];
	struct off_hist hq, hr;
};

struct off_interp {
	struct off_interp *next;
	struct off_model *model;   /* a reference */
	unsigned worker;
	edge_infer_model *im;      /* NULL while its worker loads it */
	edge_infer_ctx *ctx;
	void *arena;
	size_t cost;
	uint64_t last_used;
	bool in_use;
};

struct off_worker {
	edge_offload_pool *pool;
	unsigned index;
	pthread_t thread;
};

struct edge_offload_pool {
	struct edge_offload_options opt;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;    /* work queued, paused changed, stopping */
	pthread_cond_t mem_cv;     /* an interpreter became idle */
	struct off_worker *workers;
	unsigned n_workers;
	bool paused, closing, stopping, shut;

	struct off_model **models; /* registered, registration order */
	unsigned n_models;

	struct off_node **buckets;
	unsigned n_buckets;        /* power of two */
	struct off_node *lru_head, *lru_tail;
	unsigned n_nodes;
	struct off_node *ring;     /* next node to serve */

	struct off_interp *interps;
	size_t mem_used;
	uint64_t lru_clock;

	struct off_req *done_head, *done_tail;

	unsigned queued;
	uint64_t requests, outcomes[EDGE_OFFLOAD_STATUS_COUNT];
	uint64_t busy_queue_full, busy_node_cap, busy_deadline, busy_node_table;
	uint64_t nodes_evicted, results_dropped, memory_waits;
};

static const char *const status_names[EDGE_OFFLOAD_STATUS_COUNT] = {
	"ok", "unknown_model", "not_offloadable", "bad_input", "busy",
	"deadline_exceeded", "internal",
};

const char *edge_offload_status_name(int status)
{
	if (status < 0 || status >= EDGE_OFFLOAD_STATUS_COUNT)
		return "unknown";
	return status_names[status];
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int edge_offload_sha256_parse(const char *hex, uint8_t out[EDGE_OFFLOAD_SHA256_LEN])
{
	unsigned i;

	if (!hex || !out || strnlen(hex, 65) != 64)
		return -EINVAL;
	for (i = 0; i < EDGE_OFFLOAD_SHA256_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void edge_offload_sha256_format(const uint8_t sha[EDGE_OFFLOAD_SHA256_LEN], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < EDGE_OFFLOAD_SHA256_LEN; i++) {
		out[2 * i] = digits[sha[i] >> 4];
		out[2 * i + 1] = digits[sha[i] & 15];
	}
	out[64] = '\0';
}

void edge_offload_options_init(struct edge_offload_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->queue_max = 1024;
	opt->node_queue_max = 64;
	opt->memory_budget = (size_t)256 << 20;
	opt->max_models = 64;
	opt->max_nodes = 1024;
}

static uint64_t pool_now_ms(const edge_offload_pool *pool)
{
	return pool->opt.now_ms ? pool->opt.now_ms(pool->opt.now_ud) : edge_time_monotonic_ms();
}

/* ---- models (under mu unless said otherwise) */

static void model_unref(struct off_model *m)
{
	assert(m->refs > 0);
	if (--m->refs > 0)
		return;
	assert(!m->registered && m->queued == 0 && m->loaded == 0);
	free(m->bytes);
	free(m);
}

static struct off_model *model_find(const edge_offload_pool *pool, const uint8_t *sha)
{
	unsigned i;

	for (i = 0; i < pool->n_models; i++)
		if (memcmp(pool->models[i]->sha, sha, EDGE_OFFLOAD_SHA256_LEN) == 0)
			return pool->models[i];
	return NULL;
}

/* Verifies the model and fills its facts; not under mu (the model is not yet
 * shared). Returns false with m->reason when it cannot be offloaded. */
static bool model_examine(struct off_model *m, size_t budget)
{
	struct edge_infer_error err;
	struct edge_infer_tensor_info ti;
	edge_infer_model *im = NULL;
	int rc, n_in, n_out;
	bool ok = false;

	rc = edge_infer_model_load(m->bytes, m->len, NULL, &im, &err);
	if (rc != 0) {
		snprintf(m->reason, sizeof m->reason, "engine refuses the model: %s: %s",
			 edge_infer_errname(rc), err.msg);
		return false;
	}
	n_in = edge_infer_model_input_count(im);
	n_out = edge_infer_model_output_count(im);
	if (n_in != 1 || n_out != 1) {
		snprintf(m->reason, sizeof m->reason,
			 "model has %d input and %d output tensors (offload takes 1 and 1)",
			 n_in, n_out);
		goto out;
	}
	if (edge_infer_model_tensor(im, edge_infer_model_input_tensor(im, 0), &ti) != 0) {
		snprintf(m->reason, sizeof m->reason, "input tensor unreadable");
		goto out;
	}
	m->in_bytes = ti.bytes;
	if (edge_infer_model_tensor(im, edge_infer_model_output_tensor(im, 0), &ti) != 0) {
		snprintf(m->reason, sizeof m->reason, "output tensor unreadable");
		goto out;
	}
	m->out_bytes = ti.bytes;
	m->out_type = ti.type;
	m->macs = edge_infer_model_macs(im);
	m->interp_bytes = m->len + edge_infer_model_arena_bytes(im) +
			  edge_infer_model_persistent_bytes(im);
	if (m->interp_bytes > budget) {
		snprintf(m->reason, sizeof m->reason,
			 "an interpreter needs %zu bytes, over the memory budget of %zu",
			 m->interp_bytes, budget);
		goto out;
	}
	ok = true;
out:
	edge_infer_model_free(im);
	return ok;
}

/* ---- nodes (under mu) */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void lru_unlink(edge_offload_pool *pool, struct off_node *n)
{
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		pool->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		pool->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
}

static void lru_push_front(edge_offload_pool *pool, struct off_node *n)
{
	n->lru_prev = NULL;
	n->lru_next = pool->lru_head;
	if (pool->lru_head)
		pool->lru_head->lru_prev = n;
	else
		pool->lru_tail = n;
	pool->lru_head = n;
}

static void node_destroy(edge_offload_pool *pool, struct off_node *n)
{
	struct off_node **pp = &pool->buckets[n->hash & (pool->n_buckets - 1)];

	assert(n->queued == 0 && n->running == 0);
	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	lru_unlink(pool, n);
	pool->n_nodes--;
	free(n);
}

/* The node's entry, made (evicting the least recently seen idle one when the
 * table is full) and marked most recently seen. NULL: no room (every
 * tracked node has work) or no memory. */
static struct off_node *node_get(edge_offload_pool *pool, const char *id)
{
	uint32_t h = fnv1a(id);
	struct off_node *n;

	for (n = pool->buckets[h & (pool->n_buckets - 1)]; n; n = n->hnext) {
		if (n->hash == h && strcmp(n->id, id) == 0) {
			lru_unlink(pool, n);
			lru_push_front(pool, n);
			return n;
		}
	}
	if (pool->n_nodes >= pool->opt.max_nodes) {
		struct off_node *victim = pool->lru_tail;

		while (victim && (victim->queued > 0 || victim->running > 0))
			victim = victim->lru_prev;
		if (!victim)
			return NULL;
		node_destroy(pool, victim);
		pool->nodes_evicted++;
	}
	n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	memcpy(n->id, id, strlen(id) + 1);
	n->hash = h;
	n->hnext = pool->buckets[h & (pool->n_buckets - 1)];
	pool->buckets[h & (pool->n_buckets - 1)] = n;
	lru_push_front(pool, n);
	pool->n_nodes++;
	return n;
}

/* The ring of nodes with queued requests: circular, pool->ring served next;
 * a node joining goes last (just before pool->ring). */
static void ring_insert(edge_offload_pool *pool, struct off_node *n)
{
	assert(!n->rnext && !n->rprev);
	if (!pool->ring) {
		n->rnext = n->rprev = n;
		pool->ring = n;
		return;
	}
	n->rnext = pool->ring;
	n->rprev = pool->ring->rprev;
	n->rprev->rnext = n;
	pool->ring->rprev = n;
}

static void ring_remove(edge_offload_pool *pool, struct off_node *n)
{
	assert(n->rnext && n->rprev);
	if (n->rnext == n) {
		pool->ring = NULL;
	} else {
		n->rprev->rnext = n->rnext;
		n->rnext->rprev = n->rprev;
		if (pool->ring == n)
			pool->ring = n->rnext;
	}
	n->rnext = n->rprev = NULL;
}

/* ---- outcomes (under mu) */

static void count_outcome(edge_offload_pool *pool, struct off_node *n, struct off_model *m,
			  enum edge_offload_status st)
{
	assert((unsigned)st < EDGE_OFFLOAD_STATUS_COUNT);
	pool->outcomes[st]++;
	if (n)
		n->outcomes[st]++;
	if (m)
		m->outcomes[st]++;
}

/* Finishes a request that was queued: counts it, releases its node and model
 * and puts it on the done list. The caller notifies after unlocking. */
static void complete(edge_offload_pool *pool, struct off_req *r, enum edge_offload_status st,
		     const char *reason, bool ran)
{
	struct off_node *n = r->node;
	struct off_model *m = r->model;

	r->status = st;
	r->reason = reason ? reason : "";
	count_outcome(pool, n, m, st);
	hist_add(&n->hq, r->queued_us);
	hist_add(&m->hq, r->queued_us);
	if (ran) {
		hist_add(&n->hr, r->run_us);
		hist_add(&m->hr, r->run_us);
	}
	free(r->input);
	r->input = NULL;
	r->node = NULL;
	r->model = NULL;
	model_unref(m);
	r->next = NULL;
	if (pool->done_tail)
		pool->done_tail->next = r;
	else
		pool->done_head = r;
	pool->done_tail = r;
}

/* A queued request taken out of its node's queue: queued_us up to now. */
static void dequeued(edge_offload_pool *pool, struct off_req *r)
{
	uint64_t now = mono_us();

	r->queued_us = clamp_u32(now > r->submit_us ? now - r->submit_us : 0);
	assert(pool->queued > 0 && r->model->queued > 0);
	pool->queued--;
	r->model->queued--;
}

static void notify(edge_offload_pool *pool)
{
	if (pool->opt.notify)
		pool->opt.notify(pool->opt.notify_ud);
}

/* ---- interpreters */

static void interp_free(edge_offload_pool *pool, struct off_interp *it)
{
	edge_infer_ctx_free(it->ctx);
	edge_infer_model_free(it->im);
	free(it->arena);
	free(it);
	(void)pool;
}

/* Unlinks an idle interpreter and releases its budget; under mu. */
static void interp_unload(edge_offload_pool *pool, struct off_interp *it)
{
	struct off_interp **pp = &pool->interps;

	assert(!it->in_use);
	while (*pp != it)
		pp = &(*pp)->next;
	*pp = it->next;
	assert(pool->mem_used >= it->cost && it->model->mem >= it->cost);
	pool->mem_used -= it->cost;
	it->model->mem -= it->cost;
	it->model->loaded--;
	it->model->unloads++;
	model_unref(it->model);
	it->model = NULL;
	interp_free(pool, it);
}

static struct off_interp *interp_lru_idle(edge_offload_pool *pool)
{
	struct off_interp *it, *best = NULL;

	for (it = pool->interps; it; it = it->next)
		if (!it->in_use && (!best || it->last_used < best->last_used))
			best = it;
	return best;
}

/* Outside mu: the interpreter is this worker's (in_use). */
static int interp_load(struct off_interp *it)
{
	struct off_model *m = it->model;
	size_t arena_len;
	int rc;

	rc = edge_infer_model_load(m->bytes, m->len, NULL, &it->im, NULL);
	if (rc != 0)
		return rc;
	arena_len = edge_infer_model_arena_bytes(it->im);
	arena_len = (arena_len + OFF_ARENA_ALIGN - 1) / OFF_ARENA_ALIGN * OFF_ARENA_ALIGN;
	if (arena_len == 0)
		arena_len = OFF_ARENA_ALIGN;
	it->arena = aligned_alloc(OFF_ARENA_ALIGN, arena_len);
	if (!it->arena)
		return -ENOMEM;
	return edge_infer_ctx_new(it->im, it->arena, arena_len, &it->ctx);
}

/* The worker's interpreter for m, loaded if needed within the budget
 * (unloading idle ones, least recently used first, or waiting for a running
 * one to finish). Called and returns with mu held, the interpreter in_use.
 * NULL when loading failed (*rc says why). */
static struct off_interp *interp_acquire(edge_offload_pool *pool, unsigned w,
					 struct off_model *m, int *rc)
{
	struct off_interp *it;

	for (it = pool->interps; it; it = it->next) {
		if (it->worker == w && it->model == m) {
			assert(!it->in_use && it->im);
			it->in_use = true;
			return it;
		}
	}
	assert(m->interp_bytes <= pool->opt.memory_budget);
	while (pool->mem_used + m->interp_bytes > pool->opt.memory_budget) {
		struct off_interp *victim = interp_lru_idle(pool);

		if (victim) {
			interp_unload(pool, victim);
			continue;
		}
		/* Only running interpreters hold the budget: they finish. */
		pool->memory_waits++;
		pthread_cond_wait(&pool->mem_cv, &pool->mu);
	}
	it = calloc(1, sizeof *it);
	if (!it) {
		*rc = -ENOMEM;
		return NULL;
	}
	it->model = m;
	m->refs++;
	it->worker = w;
	it->cost = m->interp_bytes;
	it->in_use = true;
	it->next = pool->interps;
	pool->interps = it;
	pool->mem_used += it->cost;
	m->mem += it->cost;
	m->loaded++;
	m->loads++;

	pthread_mutex_unlock(&pool->mu);
	*rc = interp_load(it);
	pthread_mutex_lock(&pool->mu);
	if (*rc != 0) {
		edge_log(EDGE_LOG_ERR, "offload", "model %s: interpreter load failed: %s",
			 m->hex, *rc == -ENOMEM ? "out of memory" : edge_infer_errname(*rc));
		it->in_use = false;
		interp_unload(pool, it);
		pthread_cond_broadcast(&pool->mem_cv);
		return NULL;
	}
	return it;
}

/* ---- the worker */

static int top_class_of(const struct off_model *m, const uint8_t *out, size_t len)
{
	size_t i, best = 0;

	if (len < 2 || (m->out_type != OFF_TYPE_INT8 && m->out_type != OFF_TYPE_UINT8))
		return -1;
	for (i = 1; i < len; i++) {
		bool greater = m->out_type == OFF_TYPE_INT8 ? (int8_t)out[i] > (int8_t)out[best]
							    : out[i] > out[best];
		if (greater)
			best = i;
	}
	return best > (size_t)INT32_MAX ? -1 : (int)best;
}

/* Runs r on the interpreter; outside mu. Returns the status and the reason. */
static enum edge_offload_status run_request(struct off_interp *it, struct off_req *r,
					    const char **reason)
{
	size_t in_len = 0, out_len = 0;
	void *in = edge_infer_input(it->ctx, 0, &in_len);
	const void *out;
	uint64_t t0, t1;
	int rc;

	if (!in || in_len != r->input_len) {
		*reason = "input tensor mismatch";
		return EDGE_OFFLOAD_INTERNAL;
	}
	memcpy(in, r->input, in_len);
	/* Variable tensors must not carry state from another node's request. */
	edge_infer_ctx_reset(it->ctx);
	t0 = mono_us();
	rc = edge_infer_invoke(it->ctx, EDGE_INFER_KERNELS_OPTIMISED);
	t1 = mono_us();
	r->run_us = clamp_u32(t1 - t0);
	if (rc != 0) {
		*reason = "invoke failed";
		return EDGE_OFFLOAD_INTERNAL;
	}
	out = edge_infer_output(it->ctx, 0, &out_len);
	r->output = malloc(out_len ? out_len : 1);
	if (!out || !r->output) {
		*reason = !out ? "output tensor missing" : "out of memory";
		return EDGE_OFFLOAD_INTERNAL;
	}
	memcpy(r->output, out, out_len);
	r->output_len = out_len;
	r->top_class = top_class_of(it->model, r->output, out_len);
	*reason = "";
	return EDGE_OFFLOAD_OK;
}

static struct off_req *take_request(edge_offload_pool *pool)
{
	struct off_node *n = pool->ring;
	struct off_req *r;

	assert(n && n->qhead && n->queued > 0);
	r = n->qhead;
	n->qhead = r->next;
	if (!n->qhead)
		n->qtail = NULL;
	r->next = NULL;
	n->queued--;
	n->running++;
	/* One request per node per turn. */
	if (n->queued == 0)
		ring_remove(pool, n);
	else
		pool->ring = n->rnext;
	dequeued(pool, r);
	return r;
}

static void *worker_main(void *arg)
{
	struct off_worker *wk = arg;
	edge_offload_pool *pool = wk->pool;

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		struct off_req *r;
		struct off_model *m;
		struct off_interp *it;
		enum edge_offload_status st;
		const char *reason = "";
		int rc = 0;

		while (!pool->stopping && (pool->paused || !pool->ring))
			pthread_cond_wait(&pool->work_cv, &pool->mu);
		if (pool->stopping && (pool->paused || !pool->ring))
			break;
		r = take_request(pool);
		m = r->model;
		assert(m->registered && m->offloadable);
		if (pool_now_ms(pool) >= r->deadline_ms) {
			r->node->running--;
			complete(pool, r, EDGE_OFFLOAD_DEADLINE_EXCEEDED,
				 "deadline passed while queued", false);
			goto done;
		}
		it = interp_acquire(pool, wk->index, m, &rc);
		if (!it) {
			r->node->running--;
			complete(pool, r, EDGE_OFFLOAD_INTERNAL, "interpreter load failed", false);
			goto done;
		}
		pthread_mutex_unlock(&pool->mu);
		st = run_request(it, r, &reason);
		pthread_mutex_lock(&pool->mu);

		it->in_use = false;
		it->last_used = ++pool->lru_clock;
		if (st == EDGE_OFFLOAD_OK) {
			int64_t d = (int64_t)r->run_us - (int64_t)m->ewma_us;

			m->ewma_us = m->have_ewma ? (uint32_t)((int64_t)m->ewma_us + d / 8) : r->run_us;
			m->have_ewma = true;
		}
		if (!m->registered)
			interp_unload(pool, it); /* removed while it ran */
		pthread_cond_broadcast(&pool->mem_cv);
		r->node->running--;
		complete(pool, r, st, reason, true);
done:
		pthread_mutex_unlock(&pool->mu);
		notify(pool);
		pthread_mutex_lock(&pool->mu);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

/* ---- lifetime */

static void pool_free_mem(edge_offload_pool *pool)
{
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->work_cv);
	pthread_cond_destroy(&pool->mem_cv);
	free(pool->workers);
	free(pool->models);
	free(pool->buckets);
	free(pool);
}

int edge_offload_pool_new(const struct edge_offload_options *opt, edge_offload_pool **out)
{
	struct edge_offload_options o;
	edge_offload_pool *pool;
	unsigned i;

	if (!out)
		return -EINVAL;
	if (opt)
		o = *opt;
	else
		edge_offload_options_init(&o);
	if (o.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o.workers = n < 1 ? 1u : n > (long)OFF_WORKERS_MAX ? OFF_WORKERS_MAX : (unsigned)n;
	}
	if (o.workers > OFF_WORKERS_MAX || o.queue_max == 0 || o.node_queue_max == 0 ||
	    o.memory_budget == 0 || o.max_models == 0 || o.max_nodes == 0 ||
	    o.max_nodes > (1u << 24))
		return -EINVAL;
	pool = calloc(1, sizeof *pool);
	if (!pool)
		return -ENOMEM;
	pool->opt = o;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->work_cv, NULL);
	pthread_cond_init(&pool->mem_cv, NULL);
	pool->n_buckets = 16;
	while (pool->n_buckets < 2 * o.max_nodes)
		pool->n_buckets *= 2;
	pool->buckets = calloc(pool->n_buckets, sizeof *pool->buckets);
	pool->models = calloc(o.max_models, sizeof *pool->models);
	pool->workers = calloc(o.workers, sizeof *pool->workers);
	if (!pool->buckets || !pool->models || !pool->workers) {
		pool_free_mem(pool);
		return -ENOMEM;
	}
	for (i = 0; i < o.workers; i++) {
		int rc;

		pool->workers[i].pool = pool;
		pool->workers[i].index = i;
		rc = pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]);
		if (rc != 0) {
			pthread_mutex_lock(&pool->mu);
			pool->stopping = true;
			pthread_cond_broadcast(&pool->work_cv);
			pthread_mutex_unlock(&pool->mu);
			while (i-- > 0)
				pthread_join(pool->workers[i].thread, NULL);
			pool_free_mem(pool);
			return -rc;
		}
		pool->n_workers++;
	}
	*out = pool;
	return 0;
}

void edge_offload_pool_shutdown(edge_offload_pool *pool)
{
	unsigned i, cancelled = 0;

	if (!pool || pool->shut)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->closing = true;
	while (pool->ring) {
		struct off_node *n = pool->ring;
		struct off_req *r;

		while ((r = n->qhead) != NULL) {
			n->qhead = r->next;
			n->queued--;
			dequeued(pool, r);
			complete(pool, r, EDGE_OFFLOAD_INTERNAL, "shutting down", false);
			cancelled++;
		}
		n->qtail = NULL;
		ring_remove(pool, n);
	}
	assert(pool->queued == 0);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->work_cv);
	pthread_cond_broadcast(&pool->mem_cv);
	pthread_mutex_unlock(&pool->mu);
	if (cancelled)
		notify(pool);
	for (i = 0; i < pool->n_workers; i++)
		pthread_join(pool->workers[i].thread, NULL);
	pool->shut = true;
}

void edge_offload_pool_free(edge_offload_pool *pool)
{
	struct off_req *r;
	unsigned i;

	if (!pool)
		return;
	edge_offload_pool_shutdown(pool);
	while ((r = pool->done_head) != NULL) {
		pool->done_head = r->next;
		free(r->output);
		free(r);
		pool->results_dropped++;
	}
	if (pool->results_dropped)
		edge_log(EDGE_LOG_INFO, "offload", "%llu undrained results dropped at free",
			 (unsigned long long)pool->results_dropped);
	while (pool->interps)
		interp_unload(pool, pool->interps);
	for (i = 0; i < pool->n_models; i++) {
		pool->models[i]->registered = false;
		model_unref(pool->models[i]);
	}
	while (pool->lru_head)
		node_destroy(pool, pool->lru_head);
	pool_free_mem(pool);
}

void edge_offload_pool_pause(edge_offload_pool *pool, bool paused)
{
	assert(pool);
	pthread_mutex_lock(&pool->mu);
	pool->paused = paused;
	pthread_cond_broadcast(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
}

/* ---- models: the owner's side */

int edge_offload_pool_add_model(edge_offload_pool *pool, const char *sha256_hex,
				const void *bytes, size_t len,
				struct edge_offload_model_info *info)
{
	struct off_model *m;
	uint8_t sha[EDGE_OFFLOAD_SHA256_LEN];
	int rc;

	if (!pool || !bytes || len == 0 || edge_offload_sha256_parse(sha256_hex, sha) != 0)
		return -EINVAL;
	pthread_mutex_lock(&pool->mu);
	rc = pool->closing ? EDGE_ECLOSED : model_find(pool, sha) ? -EEXIST
		: pool->n_models >= pool->opt.max_models ? EDGE_ELIMIT : 0;
	pthread_mutex_unlock(&pool->mu);
	if (rc != 0)
		return rc;

	m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->bytes = malloc(len);
	if (!m->bytes) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->bytes, bytes, len);
	m->len = len;
	memcpy(m->sha, sha, sizeof sha);
	edge_offload_sha256_format(sha, m->hex);
	m->offloadable = model_examine(m, pool->opt.memory_budget);
	if (!m->offloadable) {
		/* Never run: its bytes are not needed. */
		free(m->bytes);
		m->bytes = NULL;
		edge_log(EDGE_LOG_NOTICE, "offload", "model %s not offloadable: %s", m->hex,
			 m->reason);
	}
	if (info) {
		memset(info, 0, sizeof *info);
		info->offloadable = m->offloadable;
		memcpy(info->reason, m->reason, sizeof info->reason);
		info->input_bytes = m->in_bytes;
		info->output_bytes = m->out_bytes;
		info->interpreter_bytes = m->interp_bytes;
		info->macs = m->macs;
	}

	pthread_mutex_lock(&pool->mu);
	/* Checked again: the owner is the only caller, but stay exact. */
	rc = pool->closing ? EDGE_ECLOSED : model_find(pool, sha) ? -EEXIST
		: pool->n_models >= pool->opt.max_models ? EDGE_ELIMIT : 0;
	if (rc == 0) {
		m->registered = true;
		m->refs = 1;
		pool->models[pool->n_models++] = m;
	}
	pthread_mutex_unlock(&pool->mu);
	if (rc != 0) {
		free(m->bytes);
		free(m);
	}
	return rc;
}

int edge_offload_pool_remove_model(edge_offload_pool *pool, const char *sha256_hex)
{
	uint8_t sha[EDGE_OFFLOAD_SHA256_LEN];
	struct off_model *m;
	struct off_interp *it, *next;
	struct off_node *n;
	unsigned i, cancelled = 0;

	if (!pool || edge_offload_sha256_parse(sha256_hex, sha) != 0)
		return -EINVAL;
	pthread_mutex_lock(&pool->mu);
	m = model_find(pool, sha);
	if (!m) {
		pthread_mutex_unlock(&pool->mu);
		return EDGE_ENOTFOUND;
	}
	for (i = 0; pool->models[i] != m; i++)
		;
	memmove(&pool->models[i], &pool->models[i + 1],
		(pool->n_models - i - 1) * sizeof *pool->models);
	pool->n_models--;
	m->registered = false;

	/* Its queued requests, from every node's queue (all nodes: bounded by
	 * max_nodes, and simpler than walking a ring that changes under us). */
	for (n = pool->lru_head; n && m->queued > 0; n = n->lru_next) {
		struct off_req **pp = &n->qhead, *r;

		if (n->queued == 0)
			continue;
		n->qtail = NULL;
		while ((r = *pp) != NULL) {
			if (r->model != m) {
				n->qtail = r;
				pp = &r->next;
				continue;
			}
			*pp = r->next;
			n->queued--;
			dequeued(pool, r);
			complete(pool, r, EDGE_OFFLOAD_NOT_OFFLOADABLE, "model disabled", false);
			cancelled++;
		}
		if (n->queued == 0)
			ring_remove(pool, n);
	}
	assert(m->queued == 0);
	for (it = pool->interps; it; it = next) {
		next = it->next;
		if (it->model == m && !it->in_use)
			interp_unload(pool, it);
	}
	pthread_cond_broadcast(&pool->mem_cv);
	model_unref(m); /* the registry's reference */
	pthread_mutex_unlock(&pool->mu);
	if (cancelled)
		notify(pool);
	return 0;
}

/* ---- submit */

/* Requests that round-robin serves before one appended to n's queue. */
static uint64_t position_of(const edge_offload_pool *pool, const struct off_node *n)
{
	const struct off_node *o = pool->ring;
	uint64_t pos = n->queued;

	if (!o)
		return pos;
	do {
		if (o != n)
			pos += o->queued < n->queued + 1 ? o->queued : n->queued + 1;
		o = o->rnext;
	} while (o != pool->ring);
	return pos;
}

static void refuse(edge_offload_pool *pool, struct off_node *n, struct off_model *m,
		   struct edge_offload_verdict *v, enum edge_offload_status st,
		   const char *reason)
{
	v->status = st;
	v->reason = reason;
	count_outcome(pool, n, m, st);
}

int edge_offload_pool_submit(edge_offload_pool *pool, const struct edge_offload_request *req,
			     struct edge_offload_verdict *v)
{
	struct off_node *n;
	struct off_model *m;
	struct off_req *r;
	uint64_t now, pos, remaining_us;
	size_t idlen;

	if (!pool || !req || !v || !req->node_id || (!req->input && req->input_len > 0))
		return -EINVAL;
	idlen = strnlen(req->node_id, EDGE_OFFLOAD_NODE_ID_MAX + 1);
	if (idlen == 0 || idlen > EDGE_OFFLOAD_NODE_ID_MAX)
		return -EINVAL;
	memset(v, 0, sizeof *v);
	v->reason = "";
	/* Allocated before the lock; freed again when refused. */
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->input = malloc(req->input_len ? req->input_len : 1);
	if (!r->input) {
		free(r);
		return -ENOMEM;
	}

	pthread_mutex_lock(&pool->mu);
	if (pool->closing) {
		pthread_mutex_unlock(&pool->mu);
		free(r->input);
		free(r);
		return EDGE_ECLOSED;
	}
	pool->requests++;
	n = node_get(pool, req->node_id);
	m = model_find(pool, req->model_sha256);
	if (m)
		m->requests++;
	if (n)
		n->requests++;
	now = pool_now_ms(pool);
	if (!n) {
		pool->busy_node_table++;
		refuse(pool, NULL, m, v, EDGE_OFFLOAD_BUSY, "node table full");
	} else if (!m) {
		refuse(pool, n, NULL, v, EDGE_OFFLOAD_UNKNOWN_MODEL, "model not registered");
	} else if (!m->offloadable) {
		refuse(pool, n, m, v, EDGE_OFFLOAD_NOT_OFFLOADABLE, m->reason);
	} else if (req->input_len != m->in_bytes) {
		v->expected_bytes = m->in_bytes;
		refuse(pool, n, m, v, EDGE_OFFLOAD_BAD_INPUT, "input size differs from the model's");
	} else if (req->deadline_ms <= now) {
		refuse(pool, n, m, v, EDGE_OFFLOAD_DEADLINE_EXCEEDED, "deadline already passed");
	} else if (pool->queued >= pool->opt.queue_max) {
		pool->busy_queue_full++;
		refuse(pool, n, m, v, EDGE_OFFLOAD_BUSY, "queue full");
	} else if (n->queued >= pool->opt.node_queue_max) {
		pool->busy_node_cap++;
		refuse(pool, n, m, v, EDGE_OFFLOAD_BUSY, "node queue full");
	} else {
		pos = position_of(pool, n);
		v->estimate_us = (pos / pool->n_workers + 1) * (uint64_t)m->ewma_us;
		remaining_us = (req->deadline_ms - now) * 1000u;
		if (v->estimate_us > remaining_us) {
			pool->busy_deadline++;
			refuse(pool, n, m, v, EDGE_OFFLOAD_BUSY,
			       "cannot finish before the deadline at this queue depth");
		}
	}
	if (v->status != EDGE_OFFLOAD_OK) {
		pthread_mutex_unlock(&pool->mu);
		free(r->input);
		free(r);
		return 0;
	}

	memcpy(r->input, req->input, req->input_len);
	r->input_len = req->input_len;
	r->node = n;
	r->model = m;
	m->refs++;
	r->deadline_ms = req->deadline_ms;
	r->tag = req->tag;
	r->submit_us = mono_us();
	r->top_class = -1;
	memcpy(r->node_id, req->node_id, idlen + 1);
	memcpy(r->sha, m->sha, sizeof r->sha);
	if (n->qtail)
		n->qtail->next = r;
	else
		n->qhead = r;
	n->qtail = r;
	if (n->queued++ == 0)
		ring_insert(pool, n);
	pool->queued++;
	m->queued++;
	pthread_cond_signal(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
	return 0;
}

unsigned edge_offload_pool_drain(edge_offload_pool *pool, edge_offload_result_fn fn, void *ud)
{
	struct off_req *list, *r;
	unsigned count = 0;

	if (!pool)
		return 0;
	pthread_mutex_lock(&pool->mu);
	list = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	pthread_mutex_unlock(&pool->mu);
	while ((r = list) != NULL) {
		struct edge_offload_result res;

		list = r->next;
		memset(&res, 0, sizeof res);
		res.status = r->status;
		res.node_id = r->node_id;
		memcpy(res.model_sha256, r->sha, sizeof res.model_sha256);
		res.tag = r->tag;
		if (r->status == EDGE_OFFLOAD_OK) {
			res.output = r->output;
			res.output_len = r->output_len;
			res.top_class = r->top_class;
		} else {
			res.top_class = -1;
		}
		res.queued_us = r->queued_us;
		res.run_us = r->run_us;
		res.reason = r->reason;
		if (fn)
			fn(&res, ud);
		free(r->output);
		free(r);
		count++;
	}
	return count;
}

/* ---- stats */

int edge_offload_pool_stats(edge_offload_pool *pool, struct edge_offload_stats *out)
{
	struct off_node *n;
	unsigned i;

	if (!pool || !out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&pool->mu);
	out->models = calloc(pool->n_models ? pool->n_models : 1, sizeof *out->models);
	out->nodes = calloc(pool->n_nodes ? pool->n_nodes : 1, sizeof *out->nodes);
	if (!out->models || !out->nodes) {
		pthread_mutex_unlock(&pool->mu);
		edge_offload_stats_free(out);
		return -ENOMEM;
	}
	out->workers = pool->n_workers;
	out->queued = pool->queued;
	out->queue_max = pool->opt.queue_max;
	out->node_queue_max = pool->opt.node_queue_max;
	out->memory_bytes = pool->mem_used;
	out->memory_budget = pool->opt.memory_budget;
	out->requests = pool->requests;
	memcpy(out->outcomes, pool->outcomes, sizeof out->outcomes);
	out->busy_queue_full = pool->busy_queue_full;
	out->busy_node_cap = pool->busy_node_cap;
	out->busy_deadline = pool->busy_deadline;
	out->busy_node_table = pool->busy_node_table;
	out->nodes_evicted = pool->nodes_evicted;
	out->results_dropped = pool->results_dropped;
	out->memory_waits = pool->memory_waits;
	for (i = 0; i < pool->n_models; i++) {
		const struct off_model *m = pool->models[i];
		struct edge_offload_model_stats *s = &out->models[i];

		memcpy(s->sha256_hex, m->hex, sizeof s->sha256_hex);
		s->offloadable = m->offloadable;
		s->requests = m->requests;
		memcpy(s->outcomes, m->outcomes, sizeof s->outcomes);
		latency_of(&m->hq, &s->queue);
		latency_of(&m->hr, &s->run);
		s->run_ewma_us = m->ewma_us;
		s->queued = m->queued;
		s->loaded = m->loaded;
		s->memory_bytes = m->mem;
		s->loads = m->loads;
		s->unloads = m->unloads;
	}
	out->n_models = pool->n_models;
	for (n = pool->lru_head, i = 0; n; n = n->lru_next, i++) {
		struct edge_offload_node_stats *s = &out->nodes[i];

		assert(i < pool->n_nodes);
		memcpy(s->node_id, n->id, sizeof s->node_id);
		s->requests = n->requests;
		memcpy(s->outcomes, n->outcomes, sizeof s->outcomes);
		latency_of(&n->hq, &s->queue);
		latency_of(&n->hr, &s->run);
		s->queued = n->queued;
	}
	out->n_nodes = i;
	pthread_mutex_unlock(&pool->mu);
	return 0;
}

void edge_offload_stats_free(struct edge_offload_stats *st)
{
	if (!st)
		return;
	free(st->models);
	free(st->nodes);
	st->models = NULL;
	st->nodes = NULL;
	st->n_models = st->n_nodes = 0;
}
