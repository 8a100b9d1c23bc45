/* Offloaded inference: the gateway's worker pool (issue 11).
 *
 * Nodes send an input tensor for a model the gateway holds (by SHA-256);
 * worker threads run it on lib/infer and hand the output back. The daemon
 * owns the network; this room owns the models, the queue, the workers and
 * the numbers.
 *
 * Threads. One owner thread (the daemon's loop) calls every function here.
 * Submit never blocks on inference. Workers (options.workers, default one per
 * online core) take requests, run them and put the result on a done list,
 * then call options.notify (from the worker thread: it must be cheap and
 * thread-safe, e.g. uv_async_send); the owner collects results with
 * edge_offload_pool_drain() on its own thread.
 *
 * Models. Registered by SHA-256 with their .tflite bytes (the pool keeps one
 * reference-counted copy; the caller vouches for the hash, the model store
 * has checked it). Registering verifies the model once with lib/infer: one
 * that edge_infer refuses, that has other than exactly 1 input and 1 output
 * tensor, or whose interpreter alone exceeds the memory budget stays
 * registered as not offloadable with the reason, and its requests are
 * answered EDGE_OFFLOAD_NOT_OFFLOADABLE. Each worker has its own interpreter
 * per model (a loaded edge_infer_model, a context and its arena), loaded
 * lazily on first use. An interpreter costs model bytes + arena + persistent
 * bytes (the model bytes are counted per interpreter: conservative). The sum
 * over all workers stays within options.memory_budget: the least recently
 * used idle (worker, model) interpreter is unloaded first; when only running
 * interpreters stand in the way the worker waits for one to finish.
 * Removing a model answers its queued requests not offloadable at once and
 * unloads it when no worker runs it any more.
 *
 * Admission and fairness (the policy). Every request is decided at submit:
 *  - unknown model: EDGE_OFFLOAD_UNKNOWN_MODEL; not offloadable (see above);
 *    wrong input size: EDGE_OFFLOAD_BAD_INPUT with the expected byte count;
 *    deadline already passed: EDGE_OFFLOAD_DEADLINE_EXCEEDED.
 *  - busy (EDGE_OFFLOAD_BUSY) when the pool queue holds options.queue_max
 *    requests, when the node already has options.node_queue_max queued, when
 *    the node table is full of nodes with queued work, or when the request
 *    cannot finish before its deadline: estimate = (position / workers + 1) x
 *    the model's mean run time (EWMA, weight 1/8 per run; 0 before the first
 *    run, so the first requests of a model are always admitted), where
 *    position is the number of queued requests that round-robin serves before
 *    this one: for every other node min(its queue, this node's queue + 1),
 *    plus this node's own queue.
 *  - otherwise queued (EDGE_OFFLOAD_OK): exactly one result follows.
 * Each node has its own FIFO; nodes with queued work form a ring and workers
 * serve it round-robin, one request per node per turn, so a node that floods
 * waits behind its own requests only and cannot starve the others, and the
 * per-node cap bounds what a flood holds of the shared queue. A request whose
 * deadline passed while queued completes EDGE_OFFLOAD_DEADLINE_EXCEEDED
 * without running (a request that started in time completes ok even if it
 * ends after its deadline: the caller may drop it).
 *
 * Stats. Per model and per node: requests, outcomes by status, queue and run
 * latency p50/p99 from a log-bucket histogram (4 buckets per power of two:
 * a percentile is the upper bound of its bucket, at most 25 % above the
 * true value, exact below 4 us). Nodes tracked: at most options.max_nodes;
 * the least recently seen node without queued work is evicted (counted).
 *
 * Memory: bounded by the queue bounds, the node and model caps, and the
 * budget for interpreters. Results hold a copy of the output. */
#ifndef EDGE_OFFLOAD_POOL_H
#define EDGE_OFFLOAD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

/* The outcomes of a request. The numbers are the wire protocol's (proto's
 * infer/ response status): keep them equal, the daemon maps one to the other. */
enum edge_offload_status {
	EDGE_OFFLOAD_OK = 0,
	EDGE_OFFLOAD_UNKNOWN_MODEL = 1,
	EDGE_OFFLOAD_NOT_OFFLOADABLE = 2,
	EDGE_OFFLOAD_BAD_INPUT = 3,
	EDGE_OFFLOAD_BUSY = 4,
	EDGE_OFFLOAD_DEADLINE_EXCEEDED = 5,
	EDGE_OFFLOAD_INTERNAL = 6,
	EDGE_OFFLOAD_STATUS_COUNT = 7,
};

/* "ok", "unknown_model", ... ("unknown" beyond the table). */
const char *edge_offload_status_name(int status);

/* Node ids are the protocol's (proto/edge_topic.h EDGE_ID_MAX_LEN). */
#define EDGE_OFFLOAD_NODE_ID_MAX 64
#define EDGE_OFFLOAD_SHA256_LEN 32
#define EDGE_OFFLOAD_REASON_MAX 320

/* Parse 64 hex digits (either case) into 32 bytes: 0 or -EINVAL. */
EDGE_WUR int edge_offload_sha256_parse(const char *hex, uint8_t out[EDGE_OFFLOAD_SHA256_LEN]);
/* 64 lowercase hex digits and a NUL into out[65]. */
void edge_offload_sha256_format(const uint8_t sha[EDGE_OFFLOAD_SHA256_LEN], char out[65]);

typedef struct edge_offload_pool edge_offload_pool;

struct edge_offload_options {
	unsigned workers;          /* 0: one per online core; at most 256 */
	unsigned queue_max;        /* queued requests, all nodes; default 1024 */
	unsigned node_queue_max;   /* queued requests of one node; default 64 */
	size_t memory_budget;      /* bytes of interpreters, all workers; default 256 MiB */
	unsigned max_models;       /* registered models; default 64 */
	unsigned max_nodes;        /* nodes with stats; default 1024 (>= 1) */
	/* Called when results are ready, from a worker thread (or from the owner
	 * inside remove_model / shutdown). May be NULL (then drain on a timer). */
	void (*notify)(void *ud);
	void *notify_ud;
	/* Monotonic milliseconds, the base of deadlines (NULL:
	 * edge_time_monotonic_ms). Called from every thread. Tests inject one.
	 * The latencies in results and stats are measured on CLOCK_MONOTONIC. */
	uint64_t (*now_ms)(void *ud);
	void *now_ud;
};

/* Fills *opt with the defaults above. */
void edge_offload_options_init(struct edge_offload_options *opt);

/* Starts the workers. opt NULL: defaults. Errors: -EINVAL (a bound out of
 * range), -ENOMEM, -errno of pthread_create (nothing left running). */
EDGE_WUR int edge_offload_pool_new(const struct edge_offload_options *opt,
				   edge_offload_pool **out);

/* Stops accepting (submit: EDGE_ECLOSED), completes every queued request
 * EDGE_OFFLOAD_INTERNAL ("shutting down"), lets running requests finish and
 * joins the workers. Results stay for a last drain. Idempotent. */
void edge_offload_pool_shutdown(edge_offload_pool *pool);
/* Shutdown if needed, then frees everything, undrained results included.
 * NULL-safe. */
void edge_offload_pool_free(edge_offload_pool *pool);

/* Workers take no new request while paused (the running ones finish);
 * submit still queues. For maintenance and tests. */
void edge_offload_pool_pause(edge_offload_pool *pool, bool paused);

/* What registration found. */
struct edge_offload_model_info {
	bool offloadable;
	char reason[EDGE_OFFLOAD_REASON_MAX]; /* why not, "" when offloadable */
	size_t input_bytes, output_bytes;
	size_t interpreter_bytes;             /* model bytes + arena + persistent */
	uint64_t macs;
};

/* Registers a model: copies bytes (len > 0). info may be NULL. A model that
 * is not offloadable is still registered (its requests are answered so).
 * Verifies and loads the model once on the calling thread (milliseconds for
 * the models in tests/data). Errors: -EINVAL (bad hex, len 0), -EEXIST (that
 * SHA is registered), EDGE_ELIMIT (max_models), EDGE_ECLOSED, -ENOMEM. */
EDGE_WUR int edge_offload_pool_add_model(edge_offload_pool *pool, const char *sha256_hex,
					 const void *bytes, size_t len,
					 struct edge_offload_model_info *info);
/* Disables a model: its queued requests complete EDGE_OFFLOAD_NOT_OFFLOADABLE
 * ("model disabled") at once, new ones are answered unknown_model, its
 * interpreters are unloaded as soon as no worker runs them. Errors: -EINVAL,
 * EDGE_ENOTFOUND. */
EDGE_WUR int edge_offload_pool_remove_model(edge_offload_pool *pool, const char *sha256_hex);

struct edge_offload_request {
	const char *node_id;       /* 1..EDGE_OFFLOAD_NODE_ID_MAX chars, copied */
	uint8_t model_sha256[EDGE_OFFLOAD_SHA256_LEN];
	const void *input;         /* copied when queued */
	size_t input_len;
	uint64_t deadline_ms;      /* absolute, on options.now_ms's clock */
	uint64_t tag;              /* the caller's, returned in the result */
};

/* The decision of submit. */
struct edge_offload_verdict {
	enum edge_offload_status status; /* OK: queued, one result follows */
	size_t expected_bytes;     /* BAD_INPUT: the model's input size */
	uint64_t estimate_us;      /* the admission estimate (queued or busy) */
	/* Why refused, "" when queued: static text, or the model's reason
	 * (not offloadable), valid until the model is removed. */
	const char *reason;
};

/* Decides one request (see the policy above) and queues it when admitted.
 * Returns 0 with *v filled: v->status OK means queued, anything else is the
 * answer and no result follows (refusals are counted in the stats). Errors,
 * nothing queued or counted: -EINVAL (NULL, empty or long node id, input
 * NULL with len > 0), EDGE_ECLOSED (shutting down), -ENOMEM. Never blocks on
 * inference. */
EDGE_WUR int edge_offload_pool_submit(edge_offload_pool *pool,
				      const struct edge_offload_request *req,
				      struct edge_offload_verdict *v);

/* One finished request, borrowed during the drain callback. */
struct edge_offload_result {
	enum edge_offload_status status;
	const char *node_id;
	uint8_t model_sha256[EDGE_OFFLOAD_SHA256_LEN];
	uint64_t tag;
	const uint8_t *output;     /* OK: the output tensor's bytes; else NULL */
	size_t output_len;
	/* OK, INT8/UINT8 output of 2+ elements: index of the largest value
	 * (first on ties); else -1. */
	int top_class;
	uint32_t queued_us;        /* submit to start (or to the decision not to run) */
	uint32_t run_us;           /* load (when lazily loaded) excluded: invoke only */
	const char *reason;        /* "" when OK */
};

typedef void (*edge_offload_result_fn)(const struct edge_offload_result *r, void *ud);

/* Calls fn for every finished request, in completion order, on the calling
 * thread, outside the pool's lock (fn may submit). Returns how many. */
unsigned edge_offload_pool_drain(edge_offload_pool *pool, edge_offload_result_fn fn, void *ud);

/* ---- Stats (plain data) */

struct edge_offload_latency {
	uint32_t p50_us, p99_us;   /* 0 when there are no samples */
	uint64_t samples;
};

struct edge_offload_model_stats {
	char sha256_hex[65];
	bool offloadable;
	uint64_t requests;                   /* submitted (decided), refusals included */
	uint64_t outcomes[EDGE_OFFLOAD_STATUS_COUNT];
	struct edge_offload_latency queue, run;
	uint32_t run_ewma_us;
	unsigned queued;                     /* now */
	unsigned loaded;                     /* interpreters loaded now */
	size_t memory_bytes;                 /* of those interpreters */
	uint64_t loads, unloads;             /* interpreters loaded / unloaded, ever */
};

struct edge_offload_node_stats {
	char node_id[EDGE_OFFLOAD_NODE_ID_MAX + 1];
	uint64_t requests;
	uint64_t outcomes[EDGE_OFFLOAD_STATUS_COUNT];
	struct edge_offload_latency queue, run;
	unsigned queued;
};

struct edge_offload_stats {
	unsigned workers;
	unsigned queued, queue_max, node_queue_max;
	size_t memory_bytes, memory_budget;
	uint64_t requests;
	uint64_t outcomes[EDGE_OFFLOAD_STATUS_COUNT];
	uint64_t busy_queue_full, busy_node_cap, busy_deadline, busy_node_table;
	uint64_t nodes_evicted;       /* stats entries dropped for max_nodes */
	uint64_t results_dropped;     /* undrained results freed by edge_offload_pool_free */
	uint64_t memory_waits;        /* a worker waited for a running interpreter to free budget */
	size_t n_models, n_nodes;
	struct edge_offload_model_stats *models;  /* registration order */
	struct edge_offload_node_stats *nodes;    /* most recently seen first */
};

/* A consistent snapshot (taken under the lock). Owner thread.
 * Errors: -ENOMEM. Free with edge_offload_stats_free. */
EDGE_WUR int edge_offload_pool_stats(edge_offload_pool *pool, struct edge_offload_stats *out);
void edge_offload_stats_free(struct edge_offload_stats *st); /* NULL-safe, frees arrays */

#endif
