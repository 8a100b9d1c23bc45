/* Packing: lib/infer reads the model, the self-test runs on our engine,
 * OpenSSL signs the manifest bytes. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "edge_infer.h"
#include "edge_ota_pack.h"

static int errf(char *err, size_t errlen, int code, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return code;
}

static int tensor_spec(const edge_infer_model *mdl, int index, struct edge_ota_tensor *t,
		       char *err, size_t errlen)
{
	struct edge_infer_tensor_info ti;
	if (index < 0 || edge_infer_model_tensor(mdl, index, &ti) != 0)
		return errf(err, errlen, -EINVAL, "graph input/output tensor unreadable");
	memset(t, 0, sizeof(*t));
	const char *tn = edge_infer_type_name(ti.type);
	size_t i = 0;
	for (; tn[i] && i + 1 < sizeof(t->type); i++)
		t->type[i] = (char)tolower((unsigned char)tn[i]);
	t->type[i] = '\0';
	if (ti.rank < 0 || ti.rank > EDGE_OTA_RANK_MAX)
		return errf(err, errlen, -ENOTSUP, "tensor rank above what a manifest carries");
	t->rank = (unsigned)ti.rank;
	memcpy(t->shape, ti.dims, sizeof(int32_t) * t->rank);
	if (ti.n_quant > 1)
		return errf(err, errlen, -ENOTSUP, "per-channel quantised graph input/output");
	if (ti.n_quant == 1 && ti.scale && ti.zero_point) {
		t->scale = (double)ti.scale[0];
		t->zero_point = ti.zero_point[0];
	}
	return 0;
}

/* Run the golden self-test on a loaded model: SHA-256 of output 0. */
static int selftest(const edge_infer_model *mdl, uint32_t seed, uint8_t d[32], char *err,
		    size_t errlen)
{
	edge_infer_ctx *ctx = NULL;
	int rc = edge_infer_ctx_new(mdl, NULL, 0, &ctx);
	if (rc != 0)
		return errf(err, errlen, rc, "self-test: cannot create an inference context");
	for (int i = 0; i < edge_infer_model_input_count(mdl); i++) {
		size_t n = 0;
		uint8_t *in = edge_infer_input(ctx, i, &n);
		if (!in)
			continue;
		if (i == 0)
			edge_ota_selftest_input(seed, in, n);
		else
			memset(in, 0, n);
	}
	rc = edge_infer_invoke(ctx, EDGE_INFER_KERNELS_REFERENCE);
	size_t n = 0;
	const void *o = rc == 0 ? edge_infer_output(ctx, 0, &n) : NULL;
	if (!o) {
		edge_infer_ctx_free(ctx);
		return errf(err, errlen, rc ? rc : -EINVAL, "self-test: invoke failed");
	}
	rc = edge_ota_sha256(o, n, d);
	edge_infer_ctx_free(ctx);
	if (rc < 0)
		return errf(err, errlen, rc, "self-test: SHA-256 failed");
	return 0;
}

/* The engine's verifying loader; its refusal as one line in err. */
static int load_model(const void *model, size_t len, edge_infer_model **out, char *err,
		      size_t errlen)
{
	struct edge_infer_error ie;
	memset(&ie, 0, sizeof(ie));
	int rc = edge_infer_model_load(model, len, NULL, out, &ie);
	if (rc != 0 && err && errlen)
		snprintf(err, errlen, "model refused by the engine: %s: %s", edge_infer_errname(rc),
			 ie.msg[0] ? ie.msg : edge_infer_strerror(rc));
	return rc;
}

int edge_ota_selftest_run(const void *model, size_t len, uint32_t seed, uint8_t out[32],
			  char *err, size_t errlen)
{
	edge_infer_model *mdl = NULL;
	int rc = load_model(model, len, &mdl, err, errlen);
	if (rc != 0)
		return rc;
	rc = selftest(mdl, seed, out, err, errlen);
	edge_infer_model_free(mdl);
	return rc;
}

static int fill(const edge_infer_model *mdl, struct edge_ota_manifest *m, char *err,
		size_t errlen)
{
	for (int i = 0; i < edge_infer_model_op_count(mdl); i++) {
		struct edge_infer_op_info op;
		if (edge_infer_model_op(mdl, i, &op) != 0)
			return errf(err, errlen, -EINVAL, "operator unreadable");
		unsigned k = 0;
		while (k < m->n_ops && strcmp(m->ops[k], op.name) != 0)
			k++;
		if (k < m->n_ops)
			continue;
		if (m->n_ops == EDGE_OTA_OPS_MAX || strlen(op.name) >= sizeof(m->ops[0]))
			return errf(err, errlen, -ENOTSUP, "operator list too long for a manifest");
		snprintf(m->ops[m->n_ops++], sizeof(m->ops[0]), "%s", op.name);
	}
	m->arena_bytes = edge_infer_model_arena_bytes(mdl);
	int ni = edge_infer_model_input_count(mdl), no = edge_infer_model_output_count(mdl);
	if (ni < 1 || no < 1 || ni > EDGE_OTA_TENSORS_MAX || no > EDGE_OTA_TENSORS_MAX)
		return errf(err, errlen, -ENOTSUP, "input/output count outside what a manifest carries");
	m->n_inputs = (unsigned)ni;
	m->n_outputs = (unsigned)no;
	for (int i = 0; i < ni; i++) {
		int rc = tensor_spec(mdl, edge_infer_model_input_tensor(mdl, i), &m->inputs[i], err,
				     errlen);
		if (rc < 0)
			return rc;
	}
	for (int i = 0; i < no; i++) {
		int rc = tensor_spec(mdl, edge_infer_model_output_tensor(mdl, i), &m->outputs[i], err,
				     errlen);
		if (rc < 0)
			return rc;
	}
	uint8_t d[32];
	int rc = selftest(mdl, m->selftest_seed, d, err, errlen);
	if (rc == 0)
		edge_ota_hex(d, 32, m->selftest_output_sha256);
	return rc;
}

int edge_ota_manifest_from_model(const void *model, size_t len,
				 const struct edge_ota_pack_args *a,
				 struct edge_ota_manifest *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (!a->name || !a->version || strlen(a->name) >= sizeof(m->name) ||
	    strlen(a->version) >= sizeof(m->version))
		return errf(err, errlen, -EINVAL, "name and version: tokens of at most 31 characters");
	if (len == 0 || len > EDGE_OTA_MODEL_MAX)
		return errf(err, errlen, -EINVAL, "model size outside 1 .. 64 MiB");
	snprintf(m->name, sizeof(m->name), "%s", a->name);
	snprintf(m->version, sizeof(m->version), "%s", a->version);
	snprintf(m->runtime, sizeof(m->runtime), "tflm");
	m->counter = a->counter;
	m->size = len;
	m->expires_ms = a->expires_ms;
	uint8_t d[32];
	if (edge_ota_sha256(model, len, d) < 0)
		return errf(err, errlen, -EIO, "SHA-256 failed");
	edge_ota_hex(d, 32, m->sha256);
	m->selftest_seed = a->seed;
	while (m->selftest_seed == 0) {
		if (RAND_bytes((unsigned char *)&m->selftest_seed, sizeof(m->selftest_seed)) != 1)
			return errf(err, errlen, -EIO, "no randomness for the self-test seed");
	}

	edge_infer_model *mdl = NULL;
	int rc = load_model(model, len, &mdl, err, errlen);
	if (rc != 0)
		return rc;
	rc = fill(mdl, m, err, errlen);
	edge_infer_model_free(mdl);
	return rc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int edge_ota_assemble(const void *manifest, size_t manifest_len,
		      const struct edge_ota_sig_in *sigs, unsigned n_sigs,
		      const void *model, size_t model_len, uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (manifest_len < 1 || manifest_len > EDGE_OTA_MANIFEST_MAX || n_sigs > EDGE_OTA_SIGS_MAX ||
	    model_len < 1 || model_len > EDGE_OTA_MODEL_MAX)
		return -EINVAL;
	size_t s = 4;
	for (unsigned i = 0; i < n_sigs; i++) {
		if (sigs[i].sig_len < 1 || sigs[i].sig_len > EDGE_OTA_SIG_MAX)
			return -EINVAL;
		s += 4 + EDGE_OTA_KEY_ID_LEN + sigs[i].sig_len;
	}
	size_t total = EDGE_OTA_HEADER_SIZE + manifest_len + s + model_len;
	uint8_t *b = calloc(1, total);
	if (!b)
		return -ENOMEM;
	memcpy(b, EDGE_OTA_MAGIC, 8);
	put16(b + 8, EDGE_OTA_FORMAT);
	put16(b + 10, EDGE_OTA_HEADER_SIZE);
	put32(b + 12, (uint32_t)manifest_len);
	put32(b + 16, (uint32_t)s);
	put64(b + 20, model_len);
	put32(b + 28, edge_ota_crc32c(0, b, 28));
	uint8_t *p = b + EDGE_OTA_HEADER_SIZE;
	memcpy(p, manifest, manifest_len);
	p += manifest_len;
	p[0] = (uint8_t)n_sigs;
	p += 4;
	for (unsigned i = 0; i < n_sigs; i++) {
		p[0] = sigs[i].alg;
		p[1] = 0;
		put16(p + 2, (uint16_t)sigs[i].sig_len);
		memcpy(p + 4, sigs[i].key_id, EDGE_OTA_KEY_ID_LEN);
		memcpy(p + 4 + EDGE_OTA_KEY_ID_LEN, sigs[i].sig, sigs[i].sig_len);
		p += 4 + EDGE_OTA_KEY_ID_LEN + sigs[i].sig_len;
	}
	memcpy(p, model, model_len);
	*out = b;
	*out_len = total;
	return 0;
}

int edge_ota_pack(const void *model, size_t len, const struct edge_ota_pack_args *a,
		  struct edge_ota_key *const *keys, unsigned n_keys, uint8_t **out,
		  size_t *out_len, struct edge_ota_manifest *m_out, char *err, size_t errlen)
{
	*out = NULL;
	*out_len = 0;
	if (n_keys < 1 || n_keys > EDGE_OTA_SIGS_MAX)
		return errf(err, errlen, -EINVAL, "between 1 and 8 signing keys");
	for (unsigned i = 0; i < n_keys; i++) {
		if (!edge_ota_key_has_private(keys[i]))
			return errf(err, errlen, -EINVAL, "a signing key is a public key");
		for (unsigned j = 0; j < i; j++)
			if (memcmp(edge_ota_key_id(keys[i]), edge_ota_key_id(keys[j]),
				   EDGE_OTA_KEY_ID_LEN) == 0)
				return errf(err, errlen, -EINVAL, "the same key given twice");
	}
	struct edge_ota_manifest *m = malloc(sizeof(*m));
	char *mj = malloc(EDGE_OTA_MANIFEST_MAX + 1);
	struct edge_ota_sig_in *sigs = calloc(n_keys, sizeof(*sigs));
	int rc = (m && mj && sigs) ? 0 : -ENOMEM;
	if (rc == 0)
		rc = edge_ota_manifest_from_model(model, len, a, m, err, errlen);
	int ml = 0;
	if (rc == 0) {
		ml = edge_ota_manifest_encode(mj, EDGE_OTA_MANIFEST_MAX + 1, m);
		if (ml < 0)
			rc = errf(err, errlen, ml,
				  ml == -ENOSPC ? "manifest longer than 4096 bytes"
						: "a manifest field breaks the format's rules");
	}
	for (unsigned i = 0; rc == 0 && i < n_keys; i++) {
		sigs[i].alg = (uint8_t)edge_ota_key_alg(keys[i]);
		memcpy(sigs[i].key_id, edge_ota_key_id(keys[i]), EDGE_OTA_KEY_ID_LEN);
		rc = edge_ota_key_sign(keys[i], mj, (size_t)ml, sigs[i].sig, &sigs[i].sig_len, err,
				       errlen);
	}
	if (rc == 0) {
		rc = edge_ota_assemble(mj, (size_t)ml, sigs, n_keys, model, len, out, out_len);
		if (rc < 0)
			errf(err, errlen, rc, "container assembly failed");
	}
	if (rc == 0 && m_out)
		*m_out = *m;
	free(m);
	free(mj);
	free(sigs);
	return rc;
}
