/* Package verification: trust set, signatures, threshold, model digest,
 * expiry. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_verify.h"

void edge_ota_trust_init(struct edge_ota_trust *t)
{
	memset(t, 0, sizeof(*t));
}

void edge_ota_trust_clear(struct edge_ota_trust *t)
{
	for (unsigned i = 0; i < t->n; i++)
		edge_ota_key_free(t->keys[i]);
	t->n = 0;
}

const struct edge_ota_key *edge_ota_trust_find(const struct edge_ota_trust *t,
					       const uint8_t id[EDGE_OTA_KEY_ID_LEN])
{
	for (unsigned i = 0; t && i < t->n; i++)
		if (memcmp(edge_ota_key_id(t->keys[i]), id, EDGE_OTA_KEY_ID_LEN) == 0)
			return t->keys[i];
	return NULL;
}

int edge_ota_trust_add(struct edge_ota_trust *t, struct edge_ota_key *k)
{
	if (edge_ota_trust_find(t, edge_ota_key_id(k))) {
		edge_ota_key_free(k);
		return 0;
	}
	if (t->n == EDGE_OTA_TRUST_MAX) {
		edge_ota_key_free(k);
		return -ENOSPC;
	}
	t->keys[t->n++] = k;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int edge_ota_trust_load_dir(struct edge_ota_trust *t, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", dir, strerror(-e));
		return e;
	}
	/* Sorted, so which file fails first does not depend on the directory. */
	char *names[EDGE_OTA_TRUST_MAX + 1];
	unsigned n = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 5 || strcmp(de->d_name + l - 4, ".pub") != 0)
			continue;
		if (n == EDGE_OTA_TRUST_MAX + 1) {
			rc = -ENOSPC;
			if (err && errlen)
				snprintf(err, errlen, "%s: more than %d keys", dir, EDGE_OTA_TRUST_MAX);
			break;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0)
		qsort(names, n, sizeof(names[0]), by_name);
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		char path[4096];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
			rc = -ENAMETOOLONG;
			break;
		}
		struct edge_ota_key *k = NULL;
		rc = edge_ota_key_load_public(path, &k, err, errlen);
		if (rc == 0)
			rc = edge_ota_trust_add(t, k);
		if (rc == -ENOSPC && err && errlen)
			snprintf(err, errlen, "%s: more than %d keys", dir, EDGE_OTA_TRUST_MAX);
	}
	for (unsigned i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

const char *edge_ota_verdict_name(enum edge_ota_verdict v)
{
	switch (v) {
	case EDGE_OTA_OK:
		return "ok";
	case EDGE_OTA_MALFORMED:
		return "malformed";
	case EDGE_OTA_UNSIGNED:
		return "unsigned";
	case EDGE_OTA_BAD_SIGNATURE:
		return "bad_signature";
	case EDGE_OTA_UNKNOWN_KEY:
		return "unknown_key";
	case EDGE_OTA_THRESHOLD_NOT_MET:
		return "threshold_not_met";
	case EDGE_OTA_EXPIRED:
		return "expired";
	case EDGE_OTA_SIZE_MISMATCH:
		return "size_mismatch";
	case EDGE_OTA_HASH_MISMATCH:
		return "hash_mismatch";
	}
	return "unknown";
}

static int verdict(struct edge_ota_verify_result *r, enum edge_ota_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int verdict(struct edge_ota_verify_result *r, enum edge_ota_verdict v, const char *fmt, ...)
{
	va_list ap;
	r->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return 0;
}

/* The container refused only because its signature block holds no entry? */
static bool no_signature_entry(const uint8_t *b, size_t len)
{
	if (len < EDGE_OTA_HEADER_SIZE || memcmp(b, EDGE_OTA_MAGIC, 8) != 0)
		return false;
	uint32_t m = (uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 |
		     (uint32_t)b[15] << 24;
	if (m > EDGE_OTA_MANIFEST_MAX || EDGE_OTA_HEADER_SIZE + (size_t)m >= len)
		return false;
	return b[EDGE_OTA_HEADER_SIZE + m] == 0;
}

int edge_ota_verify(const void *pkg, size_t len, const struct edge_ota_trust *trust,
		    unsigned threshold, uint64_t now_ms, struct edge_ota_verify_result *r)
{
	memset(r, 0, sizeof(*r));
	if (threshold == 0)
		threshold = 1;
	struct edge_ota_container c;
	struct edge_msg_error pe;
	memset(&pe, 0, sizeof(pe));
	if (edge_ota_container_parse(pkg, len, &c, &pe) != 0) {
		if (no_signature_entry(pkg, len))
			return verdict(r, EDGE_OTA_UNSIGNED, "no signature");
		return verdict(r, EDGE_OTA_MALFORMED, "container: %s (%s, byte %zu)",
			       edge_msg_reject_name(pe.reason), pe.field, pe.offset);
	}
	/* Shown even when refused; authenticity is decided by the signatures. */
	memset(&pe, 0, sizeof(pe));
	r->manifest_ok = edge_ota_manifest_parse(c.manifest, c.manifest_len, &r->manifest, &pe) == 0;
	r->n_sigs = c.n_sigs;
	if (c.n_sigs == 0)
		return verdict(r, EDGE_OTA_UNSIGNED, "no signature");

	unsigned bad = 0, unknown = 0;
	for (unsigned i = 0; i < c.n_sigs; i++) {
		struct edge_ota_sig_check *s = &r->sigs[i];
		s->alg = c.sigs[i].alg;
		memcpy(s->key_id, c.sigs[i].key_id, EDGE_OTA_KEY_ID_LEN);
		const struct edge_ota_key *k = edge_ota_trust_find(trust, s->key_id);
		s->trusted = k != NULL;
		if (!k) {
			unknown++;
			continue;
		}
		s->valid = edge_ota_key_verify(k, s->alg, c.manifest, c.manifest_len, c.sigs[i].sig,
					       c.sigs[i].sig_len);
		if (!s->valid) {
			bad++;
			continue;
		}
		/* Distinct keys: a key signing twice counts once. */
		bool seen = false;
		for (unsigned j = 0; j < i; j++)
			if (r->sigs[j].valid &&
			    memcmp(r->sigs[j].key_id, s->key_id, EDGE_OTA_KEY_ID_LEN) == 0)
				seen = true;
		if (!seen)
			r->n_valid++;
	}
	if (r->n_valid < threshold) {
		if (bad)
			return verdict(r, EDGE_OTA_BAD_SIGNATURE,
				       "%u signature(s) of trusted keys do not verify (%u valid)",
				       bad, r->n_valid);
		if (r->n_valid == 0)
			return verdict(r, EDGE_OTA_UNKNOWN_KEY,
				       "%u signature(s), none by a trusted key", unknown);
		return verdict(r, EDGE_OTA_THRESHOLD_NOT_MET,
			       "%u distinct trusted key(s) signed, %u required",
			       r->n_valid, threshold);
	}
	if (!r->manifest_ok)
		return verdict(r, EDGE_OTA_MALFORMED, "manifest: %s (%s, byte %zu)",
			       edge_msg_reject_name(pe.reason), pe.field, pe.offset);
	const struct edge_ota_manifest *m = &r->manifest;
	if (!c.model || c.model_len != m->size)
		return verdict(r, EDGE_OTA_SIZE_MISMATCH, "model is %llu bytes, manifest says %llu",
			       (unsigned long long)c.model_len, (unsigned long long)m->size);
	uint8_t d[32];
	char hex[65];
	if (edge_ota_sha256(c.model, (size_t)c.model_len, d) < 0)
		return -EIO;
	edge_ota_hex(d, 32, hex);
	if (strcmp(hex, m->sha256) != 0)
		return verdict(r, EDGE_OTA_HASH_MISMATCH, "model SHA-256 %s is not the manifest's",
			       hex);
	if (m->expires_ms && now_ms >= m->expires_ms)
		return verdict(r, EDGE_OTA_EXPIRED, "expired at %llu ms (now %llu)",
			       (unsigned long long)m->expires_ms, (unsigned long long)now_ms);
	return verdict(r, EDGE_OTA_OK, "%u of %u signature(s) valid", r->n_valid,
		       c.n_sigs);
}
