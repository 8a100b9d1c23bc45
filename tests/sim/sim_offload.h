/* A simulated node's side of inference offload (proto/infer/offload.md):
 * requests with an input tensor on <p>/<id>/infer/req, the gateway's
 * responses matched by MQTT v5 Correlation Data, and shadow verification
 * (its own inferences, a sampled share sent on infer/verify).
 *
 * The models are real .tflite files run on lib/infer: a node knows their
 * SHA-256 and tensor sizes, and with --offload-check it runs the same input
 * itself and compares the gateway's output byte for byte.
 *
 * Inputs are deterministic: bytes of a counter-mode generator keyed by the
 * node's seed and the request counter (or its own-inference counter), so a
 * response is checked by regenerating its input instead of keeping it.
 *
 * Memory per node is bounded: SIM_OFFLOAD_INFLIGHT pending requests (a
 * ring by correlation counter; a request still unanswered when its slot is
 * reused is counted abandoned) and a fixed latency histogram. The fleet owns
 * the models, one interpreter each, and one encode buffer: one loop thread,
 * no locks.
 *
 * The transport is the host's (edge-sim: MQTT; the Check test: a capture). */
#ifndef SIM_OFFLOAD_H
#define SIM_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "edge_infer.h"
#include "edge_infer_msg.h"

#define SIM_OFFLOAD_MODELS_MAX 4
#define SIM_OFFLOAD_INFLIGHT 64   /* pending requests per node */
#define SIM_OFFLOAD_HIST 256      /* latency buckets, see sim_offload_hist_bucket */
#define SIM_OFFLOAD_CORR_LEN 4    /* Correlation Data: u32 request counter, LE */

/* --offload-bad: what is wrong with every request of the node. */
enum sim_offload_bad {
	SIM_OFFLOAD_GOOD = 0,
	SIM_OFFLOAD_BAD_INPUT,      /* "bad_input": input one byte longer than the model's */
	SIM_OFFLOAD_UNKNOWN_MODEL,  /* "unknown_model": a SHA-256 no model has */
	SIM_OFFLOAD_TRUNCATED,      /* "truncated": the last input byte missing */
	SIM_OFFLOAD_BAD_MAGIC,      /* "bad_magic": first byte flipped */
	SIM_OFFLOAD_NO_TOPIC,       /* "no_response_topic": never answered */
	SIM_OFFLOAD_BAD_COUNT
};
/* "bad_input", ... or NULL for GOOD / out of range; -1 if unknown. */
const char *sim_offload_bad_name(enum sim_offload_bad b);
int sim_offload_bad_from_name(const char *s);

struct sim_offload_model {
	uint8_t *bytes;             /* the .tflite, owned */
	size_t len;
	edge_infer_model *model;
	edge_infer_ctx *ctx;        /* shared by every node (one thread) */
	uint8_t sha[EDGE_INFER_SHA256_LEN];
	uint32_t in_bytes, out_bytes;
};

/* What every node of a run shares. */
struct sim_offload_fleet {
	struct sim_offload_model models[SIM_OFFLOAD_MODELS_MAX];
	unsigned n_models;
	char name_ref[EDGE_INFER_REF_MAX + 1]; /* --offload-by-name, "" = by SHA-256 */
	uint32_t deadline_ms;       /* --offload-deadline-ms */
	enum sim_offload_bad bad;   /* --offload-bad */
	bool check;                 /* --offload-check */
	bool force_permille;        /* --verify-permille given */
	uint32_t permille;          /* its value */
	uint8_t *buf;               /* the encode buffer: the largest message */
	size_t buf_cap;
};

/* Zero the fleet (deadline 1000 ms). */
void sim_offload_fleet_init(struct sim_offload_fleet *f);
/* Load one more model file: read, verified by lib/infer, its SHA-256 and
 * the sizes of tensor 0 in and out. 0, or -1 with err (too many models, an
 * unreadable file, a model lib/infer refuses). */
int sim_offload_fleet_add(struct sim_offload_fleet *f, const char *path, char *err,
			  size_t errlen);
/* The same from bytes (taken over, freed by the fleet even on failure). */
int sim_offload_fleet_add_bytes(struct sim_offload_fleet *f, uint8_t *bytes, size_t len,
				char *err, size_t errlen);
/* --offload-by-name NAME@VERSION: 0 or -1 (not a valid model ref). */
int sim_offload_fleet_by_name(struct sim_offload_fleet *f, const char *ref);
void sim_offload_fleet_free(struct sim_offload_fleet *f);

struct sim_offload_host {
	void *ud;
	/* Publish buf on <p>/<id>/infer/req at QoS 0 with the Correlation Data
	 * corr[0..corr_len) and, when resp_topic, the Response Topic
	 * <p>/<id>/infer/resp. 0 or a negative errno. */
	int (*request)(void *ud, const void *buf, size_t len, const uint8_t *corr,
		       size_t corr_len, bool resp_topic);
	/* Publish buf on <p>/<id>/infer/verify at QoS 0. */
	int (*verify)(void *ud, const void *buf, size_t len);
};

/* Counters of one node (or a fleet's sum). */
struct sim_offload_stats {
	unsigned long sent;              /* requests published */
	unsigned long status[EDGE_INFER_S_COUNT]; /* responses by status */
	unsigned long unparsed;          /* responses that did not parse */
	unsigned long stray;             /* responses matching no pending request */
	unsigned long abandoned;         /* pending requests whose slot was reused */
	unsigned long checked, wrong;    /* --offload-check: ok outputs compared, differing */
	unsigned long send_errors;
	unsigned long own;               /* own inferences run */
	unsigned long verify_sent, verify_corrupted;
	unsigned long infer_errors;      /* lib/infer failed on an own run or a check */
	uint32_t lat[SIM_OFFLOAD_HIST];  /* request → response, by sim_offload_hist_bucket */
};

struct sim_offload_node {
	const struct sim_offload_fleet *fleet;
	struct sim_offload_host host;
	uint32_t seed;
	uint32_t next_corr;              /* the next request's counter */
	struct {
		uint32_t corr;
		uint64_t sent_us;
		bool used;
	} pend[SIM_OFFLOAD_INFLIGHT];    /* slot corr % SIM_OFFLOAD_INFLIGHT */
	uint32_t permille;               /* shadow sampling in force, 0: none */
	bool corrupt;                    /* --verify-corrupt: flip a byte of the first verify */
	bool corrupt_done;
	uint32_t own_count;              /* own inferences run */
	uint32_t verify_seq;             /* verify messages sent */
	struct sim_offload_stats st;
};

void sim_offload_node_init(struct sim_offload_node *n, const struct sim_offload_fleet *f,
			   const struct sim_offload_host *h, uint32_t seed, bool corrupt);

/* Send one request (model counter % n_models). 0 or a negative errno
 * (counted in send_errors). */
int sim_offload_request(struct sim_offload_node *n, uint64_t now_us);
/* A message on <p>/<id>/infer/resp with its Correlation Data (NULL, 0:
 * none). Counted by status, stray or unparsed. */
void sim_offload_on_response(struct sim_offload_node *n, const void *buf, size_t len,
			     const uint8_t *corr, size_t corr_len, uint64_t now_us);

/* registered's verify_permille (unless the fleet forces its own). */
void sim_offload_set_permille(struct sim_offload_node *n, uint32_t permille);
/* Whether own inferences should run (a model, and sampling in force). */
bool sim_offload_shadow_on(const struct sim_offload_node *n);
/* Whether own inference number k (1-based) of this node is sampled:
 * deterministic in (seed, k). */
bool sim_offload_sampled(const struct sim_offload_node *n, uint32_t k);
/* Run one own inference of model 0 on a fresh input; if sampled, send its
 * verify. 1 sent, 0 not sampled, negative errno on failure. */
int sim_offload_own(struct sim_offload_node *n);

/* The input of request (or own inference) `counter` of a node: len bytes. */
void sim_offload_input(uint8_t *dst, size_t len, uint32_t seed, uint32_t counter, bool own);

/* Latency histogram: bucket of a value in microseconds, and the bucket's
 * upper bound. */
unsigned sim_offload_hist_bucket(uint64_t us);
uint64_t sim_offload_hist_upper(unsigned bucket);
/* Percentile p (0..100] of hist in microseconds, 0 when empty. */
uint64_t sim_offload_hist_pct(const uint32_t *hist, double p);

void sim_offload_stats_add(struct sim_offload_stats *sum, const struct sim_offload_stats *st);
/* " offload_sent=N offload_<status>=N ... verify_corrupted=N" into buf (with the
 * leading space): the stats line's keys; latency percentiles as offload_p50_ms
 * (fraction) and offload_p50_us (integer, for h_sim_stat). Length as snprintf. */
int sim_offload_stats_format(char *buf, size_t cap, const struct sim_offload_stats *st);

/* MQTT v5 properties of a request: Response Topic (when resp_topic is not
 * NULL) and Correlation Data. 0 or -ENOMEM; free with
 * mosquitto_property_free_all. */
int sim_offload_props(mosquitto_property **props, const char *resp_topic, const uint8_t *corr,
		      size_t corr_len);
/* Correlation Data of a received message into out[0..cap): its length, 0
 * when absent, -E2BIG when longer than cap. */
int sim_offload_corr(const mosquitto_property *props, uint8_t *out, size_t cap);

#endif
