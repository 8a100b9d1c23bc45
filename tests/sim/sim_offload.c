/* A simulated node's offload client and shadow verification (sim_offload.h). */
#include "sim_offload.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_keys.h"

static const char *const bad_names[SIM_OFFLOAD_BAD_COUNT] = {
	[SIM_OFFLOAD_BAD_INPUT] = "bad_input",
	[SIM_OFFLOAD_UNKNOWN_MODEL] = "unknown_model",
	[SIM_OFFLOAD_TRUNCATED] = "truncated",
	[SIM_OFFLOAD_BAD_MAGIC] = "bad_magic",
	[SIM_OFFLOAD_NO_TOPIC] = "no_response_topic",
};

const char *sim_offload_bad_name(enum sim_offload_bad b)
{
	return (unsigned)b < SIM_OFFLOAD_BAD_COUNT ? bad_names[b] : NULL;
}

int sim_offload_bad_from_name(const char *s)
{
	for (int i = 1; i < SIM_OFFLOAD_BAD_COUNT; i++)
		if (strcmp(s, bad_names[i]) == 0)
			return i;
	return -1;
}

/* ---- deterministic bytes: splitmix64 in counter mode */

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sim_offload_input(uint8_t *dst, size_t len, uint32_t seed, uint32_t counter, bool own)
{
	/* own inferences and requests draw from separate streams */
	uint64_t key = ((uint64_t)seed << 32 | counter) ^ (own ? 0x6f776e0000000000ull : 0);
	uint64_t block = mix64(key);

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			block = mix64(key ^ mix64(i / 8 + 1));
		dst[i] = (uint8_t)(block >> (8 * (i % 8)));
	}
}

/* ---- fleet */

void sim_offload_fleet_init(struct sim_offload_fleet *f)
{
	memset(f, 0, sizeof(*f));
	f->deadline_ms = 1000;
}

int sim_offload_fleet_add_bytes(struct sim_offload_fleet *f, uint8_t *bytes, size_t len,
				char *err, size_t errlen)
{
	struct edge_infer_error ie;
	size_t in = 0, out = 0;

	if (f->n_models >= SIM_OFFLOAD_MODELS_MAX) {
		snprintf(err, errlen, "more than %d models", SIM_OFFLOAD_MODELS_MAX);
		free(bytes);
		return -1;
	}
	struct sim_offload_model *m = &f->models[f->n_models];
	memset(m, 0, sizeof(*m));
	m->bytes = bytes;
	m->len = len;
	if (edge_infer_model_load(bytes, len, NULL, &m->model, &ie) != 0) {
		snprintf(err, errlen, "lib/infer refuses the model: %s", ie.msg);
		goto fail;
	}
	if (edge_infer_ctx_new(m->model, NULL, 0, &m->ctx) != 0) {
		snprintf(err, errlen, "no interpreter for the model");
		goto fail;
	}
	if (!edge_infer_input(m->ctx, 0, &in) || !edge_infer_output(m->ctx, 0, &out) ||
	    in == 0 || out == 0 || in >= UINT32_MAX || out >= UINT32_MAX) {
		snprintf(err, errlen, "the model has no usable input or output tensor 0");
		goto fail;
	}
	if (edge_ota_sha256(bytes, len, m->sha) != 0) {
		snprintf(err, errlen, "SHA-256 failed");
		goto fail;
	}
	m->in_bytes = (uint32_t)in;
	m->out_bytes = (uint32_t)out;

	/* The encode buffer holds the largest message of any model: a verify
	 * (or a bad_input request, one byte more than the input). */
	uint64_t need = EDGE_INFER_VERIFY_LEN(EDGE_INFER_REF_MAX, in + 1, out);
	if (need > f->buf_cap) {
		uint8_t *b = realloc(f->buf, (size_t)need);
		if (!b) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		f->buf = b;
		f->buf_cap = (size_t)need;
	}
	f->n_models++;
	return 0;
fail:
	edge_infer_ctx_free(m->ctx);
	edge_infer_model_free(m->model);
	free(m->bytes);
	memset(m, 0, sizeof(*m));
	return -1;
}

int sim_offload_fleet_add(struct sim_offload_fleet *f, const char *path, char *err,
			  size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *bytes = NULL;
	long n;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) <= 0 || fseek(fp, 0, SEEK_SET) != 0 ||
	    !(bytes = malloc((size_t)n)) || fread(bytes, 1, (size_t)n, fp) != (size_t)n) {
		snprintf(err, errlen, "%s: cannot read", path);
		free(bytes);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	char why[300];
	if (sim_offload_fleet_add_bytes(f, bytes, (size_t)n, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

int sim_offload_fleet_by_name(struct sim_offload_fleet *f, const char *ref)
{
	size_t len = strlen(ref);

	if (len > EDGE_INFER_REF_MAX ||
	    !edge_infer_ref_valid(EDGE_INFER_REF_NAME, (const uint8_t *)ref, len))
		return -1;
	memcpy(f->name_ref, ref, len + 1);
	return 0;
}

void sim_offload_fleet_free(struct sim_offload_fleet *f)
{
	for (unsigned i = 0; i < f->n_models; i++) {
		edge_infer_ctx_free(f->models[i].ctx);
		edge_infer_model_free(f->models[i].model);
		free(f->models[i].bytes);
	}
	free(f->buf);
	sim_offload_fleet_init(f);
}

/* ---- node */

void sim_offload_node_init(struct sim_offload_node *n, const struct sim_offload_fleet *f,
			   const struct sim_offload_host *h, uint32_t seed, bool corrupt)
{
	memset(n, 0, sizeof(*n));
	n->fleet = f;
	n->host = *h;
	n->seed = seed;
	n->corrupt = corrupt;
	n->permille = f->force_permille ? f->permille : 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void model_ref(const struct sim_offload_node *n, const struct sim_offload_model *m,
		      struct edge_infer_ref *ref)
{
	const struct sim_offload_fleet *f = n->fleet;

	if (f->name_ref[0]) {
		ref->kind = EDGE_INFER_REF_NAME;
		ref->length = (uint8_t)strlen(f->name_ref);
		ref->ref = (const uint8_t *)f->name_ref;
	} else {
		ref->kind = EDGE_INFER_REF_SHA256;
		ref->length = EDGE_INFER_SHA256_LEN;
		ref->ref = m->sha;
	}
}

int sim_offload_request(struct sim_offload_node *n, uint64_t now_us)
{
	const struct sim_offload_fleet *f = n->fleet;
	uint8_t corr[SIM_OFFLOAD_CORR_LEN], sha[EDGE_INFER_SHA256_LEN];
	struct edge_infer_req r;
	int len;

	assert(f->n_models > 0 && f->buf);
	uint32_t c = n->next_corr++;
	const struct sim_offload_model *m = &f->models[c % f->n_models];

	memset(&r, 0, sizeof(r));
	model_ref(n, m, &r.model);
	if (f->bad == SIM_OFFLOAD_UNKNOWN_MODEL) {
		/* kind 1 always: a SHA-256 that no model has */
		memcpy(sha, m->sha, sizeof(sha));
		sha[0] ^= 0xff;
		r.model.kind = EDGE_INFER_REF_SHA256;
		r.model.length = EDGE_INFER_SHA256_LEN;
		r.model.ref = sha;
	}
	r.deadline_ms = f->deadline_ms;
	r.input_length = m->in_bytes + (f->bad == SIM_OFFLOAD_BAD_INPUT ? 1 : 0);
	/* Fill the input at its place: the encoder leaves it there. */
	uint8_t *in = f->buf + EDGE_INFER_REQ_HDR + r.model.length;
	assert(EDGE_INFER_REQ_LEN(r.model.length, r.input_length) <= f->buf_cap);
	sim_offload_input(in, r.input_length, n->seed, c, false);
	r.input = in;
	len = edge_infer_req_encode(f->buf, f->buf_cap, &r);
	assert(len > 0);
	if (len <= 0) {
		n->st.send_errors++;
		return -EINVAL;
	}
	if (f->bad == SIM_OFFLOAD_TRUNCATED)
		len--;
	else if (f->bad == SIM_OFFLOAD_BAD_MAGIC)
		f->buf[0] ^= 0xff;

	put_u32(corr, c);
	int rc = n->host.request(n->host.ud, f->buf, (size_t)len, corr, sizeof(corr),
				 f->bad != SIM_OFFLOAD_NO_TOPIC);
	if (rc < 0) {
		n->st.send_errors++;
		return rc;
	}
	n->st.sent++;
	unsigned slot = c % SIM_OFFLOAD_INFLIGHT;
	if (n->pend[slot].used)
		n->st.abandoned++;
	n->pend[slot].corr = c;
	n->pend[slot].sent_us = now_us;
	n->pend[slot].used = true;
	return 0;
}

/* Run model m on input[0..in_bytes); the output, or NULL (counted). */
static const uint8_t *run_model(struct sim_offload_node *n, const struct sim_offload_model *m,
				const uint8_t *input)
{
	size_t in_len = 0, out_len = 0;
	uint8_t *dst = edge_infer_input(m->ctx, 0, &in_len);
	const uint8_t *out;

	assert(dst && in_len == m->in_bytes);
	memcpy(dst, input, in_len);
	if (edge_infer_invoke(m->ctx, EDGE_INFER_KERNELS_OPTIMISED) != 0) {
		n->st.infer_errors++;
		return NULL;
	}
	out = edge_infer_output(m->ctx, 0, &out_len);
	assert(out && out_len == m->out_bytes);
	return out;
}

/* --offload-check: the node's own run of request c's input against out. */
static void check_output(struct sim_offload_node *n, uint32_t c, const struct edge_infer_resp *r)
{
	const struct sim_offload_fleet *f = n->fleet;
	const struct sim_offload_model *m = &f->models[c % f->n_models];
	uint8_t *input = f->buf; /* free between messages */
	const uint8_t *mine;

	assert(f->buf_cap >= m->in_bytes);
	sim_offload_input(input, m->in_bytes, n->seed, c, false);
	mine = run_model(n, m, input);
	if (!mine)
		return;
	n->st.checked++;
	if (r->output_length != m->out_bytes || memcmp(r->output, mine, m->out_bytes) != 0)
		n->st.wrong++;
}

void sim_offload_on_response(struct sim_offload_node *n, const void *buf, size_t len,
			     const uint8_t *corr, size_t corr_len, uint64_t now_us)
{
	struct edge_infer_resp r;

	if (edge_infer_resp_parse(buf, len, &r, NULL) != 0) {
		n->st.unparsed++;
		return;
	}
	if (!corr || corr_len != SIM_OFFLOAD_CORR_LEN) {
		n->st.stray++;
		return;
	}
	uint32_t c = (uint32_t)corr[0] | (uint32_t)corr[1] << 8 | (uint32_t)corr[2] << 16 |
		     (uint32_t)corr[3] << 24;
	unsigned slot = c % SIM_OFFLOAD_INFLIGHT;
	if (!n->pend[slot].used || n->pend[slot].corr != c) {
		n->st.stray++;
		return;
	}
	n->pend[slot].used = false;
	assert(r.status < EDGE_INFER_S_COUNT); /* the parser refuses others */
	n->st.status[r.status]++;
	uint64_t sent = n->pend[slot].sent_us;
	n->st.lat[sim_offload_hist_bucket(now_us > sent ? now_us - sent : 0)]++;
	if (r.status == EDGE_INFER_S_OK && n->fleet->check && n->fleet->bad == SIM_OFFLOAD_GOOD)
		check_output(n, c, &r);
}

/* ---- shadow verification */

void sim_offload_set_permille(struct sim_offload_node *n, uint32_t permille)
{
	if (!n->fleet->force_permille)
		n->permille = permille > 1000 ? 1000 : permille;
}

bool sim_offload_shadow_on(const struct sim_offload_node *n)
{
	return n->fleet->n_models > 0 && n->permille > 0;
}

bool sim_offload_sampled(const struct sim_offload_node *n, uint32_t k)
{
	if (n->permille == 0)
		return false;
	return mix64((uint64_t)n->seed << 32 ^ k ^ 0x73616d70ull) % 1000 < n->permille;
}

int sim_offload_own(struct sim_offload_node *n)
{
	const struct sim_offload_fleet *f = n->fleet;
	const struct sim_offload_model *m = &f->models[0];
	struct edge_infer_verify v;

	assert(f->n_models > 0 && f->buf);
	uint32_t k = ++n->own_count;
	n->st.own++;
	/* Lay the message out in place: ref (SHA-256, what a node SHOULD
	 * send), input, output; the encoder leaves each where it is. */
	uint8_t *in = f->buf + EDGE_INFER_VERIFY_HDR + EDGE_INFER_SHA256_LEN;
	uint8_t *out = in + m->in_bytes;
	assert(EDGE_INFER_VERIFY_LEN(EDGE_INFER_SHA256_LEN, m->in_bytes, m->out_bytes) <=
	       f->buf_cap);
	sim_offload_input(in, m->in_bytes, n->seed, k, true);
	const uint8_t *res = run_model(n, m, in);
	if (!res)
		return -EIO;
	if (!sim_offload_sampled(n, k))
		return 0;
	memcpy(out, res, m->out_bytes);
	if (n->corrupt && !n->corrupt_done) {
		/* one byte, once: the gateway must flag exactly this verify */
		out[mix64(n->seed ^ 0x636f72ull) % m->out_bytes] ^= 0xff;
		n->corrupt_done = true;
		n->st.verify_corrupted++;
	}
	memset(&v, 0, sizeof(v));
	v.seq = n->verify_seq;
	v.model.kind = EDGE_INFER_REF_SHA256;
	v.model.length = EDGE_INFER_SHA256_LEN;
	v.model.ref = m->sha;
	v.input_length = m->in_bytes;
	v.input = in;
	v.output_length = m->out_bytes;
	v.output = out;
	int len = edge_infer_verify_encode(f->buf, f->buf_cap, &v);
	assert(len > 0);
	int rc = len > 0 ? n->host.verify(n->host.ud, f->buf, (size_t)len) : -EINVAL;
	if (rc < 0) {
		n->st.send_errors++;
		return rc;
	}
	n->verify_seq++;
	n->st.verify_sent++;
	return 1;
}

/* ---- latency histogram: 16 exact buckets below 16 us, then 8 per octave */

unsigned sim_offload_hist_bucket(uint64_t us)
{
	if (us < 16)
		return (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll(us); /* >= 4 */
	unsigned b = 16 + (e - 4) * 8 + (unsigned)((us >> (e - 3)) & 7);
	return b < SIM_OFFLOAD_HIST ? b : SIM_OFFLOAD_HIST - 1;
}

uint64_t sim_offload_hist_upper(unsigned bucket)
{
	if (bucket < 16)
		return bucket;
	unsigned e = (bucket - 16) / 8 + 4, m = (bucket - 16) % 8;
	if (e >= 63)
		return UINT64_MAX;
	return ((uint64_t)(8 + m + 1) << (e - 3)) - 1;
}

uint64_t sim_offload_hist_pct(const uint32_t *hist, double p)
{
	uint64_t total = 0, seen = 0;

	for (unsigned i = 0; i < SIM_OFFLOAD_HIST; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	uint64_t rank = (uint64_t)((double)total * p / 100.0 + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < SIM_OFFLOAD_HIST; i++) {
		seen += hist[i];
		if (seen >= rank)
			return sim_offload_hist_upper(i);
	}
	return sim_offload_hist_upper(SIM_OFFLOAD_HIST - 1);
}

void sim_offload_stats_add(struct sim_offload_stats *sum, const struct sim_offload_stats *st)
{
	sum->sent += st->sent;
	for (unsigned i = 0; i < EDGE_INFER_S_COUNT; i++)
		sum->status[i] += st->status[i];
	sum->unparsed += st->unparsed;
	sum->stray += st->stray;
	sum->abandoned += st->abandoned;
	sum->checked += st->checked;
	sum->wrong += st->wrong;
	sum->send_errors += st->send_errors;
	sum->own += st->own;
	sum->verify_sent += st->verify_sent;
	sum->verify_corrupted += st->verify_corrupted;
	sum->infer_errors += st->infer_errors;
	for (unsigned i = 0; i < SIM_OFFLOAD_HIST; i++)
		sum->lat[i] += st->lat[i];
}

int sim_offload_stats_format(char *buf, size_t cap, const struct sim_offload_stats *st)
{
	size_t off = 0;
	int n;

#define EMIT(...)                                                                  \
	do {                                                                       \
		n = snprintf(buf + (off < cap ? off : cap), off < cap ? cap - off : 0, \
			     __VA_ARGS__);                                         \
		if (n < 0)                                                         \
			return n;                                                  \
		off += (size_t)n;                                                  \
	} while (0)

	EMIT(" offload_sent=%lu", st->sent);
	for (unsigned i = 0; i < EDGE_INFER_S_COUNT; i++)
		EMIT(" offload_%s=%lu", edge_infer_status_name((enum edge_infer_offload_status)i),
		     st->status[i]);
	EMIT(" offload_unparsed=%lu offload_stray=%lu offload_abandoned=%lu "
	     "offload_checked=%lu offload_wrong=%lu offload_send_errors=%lu "
	     "offload_p50_ms=%.3f offload_p99_ms=%.3f offload_p50_us=%llu offload_p99_us=%llu "
	     "own_inferences=%lu infer_errors=%lu "
	     "verify_sent=%lu verify_corrupted=%lu",
	     st->unparsed, st->stray, st->abandoned, st->checked, st->wrong, st->send_errors,
	     (double)sim_offload_hist_pct(st->lat, 50) / 1000.0,
	     (double)sim_offload_hist_pct(st->lat, 99) / 1000.0,
	     (unsigned long long)sim_offload_hist_pct(st->lat, 50),
	     (unsigned long long)sim_offload_hist_pct(st->lat, 99), st->own, st->infer_errors,
	     st->verify_sent, st->verify_corrupted);
#undef EMIT
	return (int)off;
}

/* ---- MQTT v5 properties */

int sim_offload_props(mosquitto_property **props, const char *resp_topic, const uint8_t *corr,
		      size_t corr_len)
{
	*props = NULL;
	if (resp_topic &&
	    mosquitto_property_add_string(props, MQTT_PROP_RESPONSE_TOPIC, resp_topic) != 0)
		goto fail;
	if (corr_len &&
	    mosquitto_property_add_binary(props, MQTT_PROP_CORRELATION_DATA, corr,
					  (uint16_t)corr_len) != 0)
		goto fail;
	return 0;
fail:
	mosquitto_property_free_all(props);
	return -ENOMEM;
}

int sim_offload_corr(const mosquitto_property *props, uint8_t *out, size_t cap)
{
	void *val = NULL;
	uint16_t len = 0;

	if (!mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &val, &len, false))
		return 0;
	if (len > cap) {
		free(val);
		return -E2BIG;
	}
	memcpy(out, val, len);
	free(val);
	return (int)len;
}
