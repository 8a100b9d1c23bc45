/* Verifying a signed model package against a set of trusted public keys:
 * the container and manifest parse, at least `threshold` distinct trusted
 * keys signed the exact manifest bytes, the model's size and SHA-256 are
 * the manifest's, and it has not expired. edgectl's `model verify` and
 * the gateway's model store use exactly this.
 *
 * Threading: a trust set is immutable after loading; edge_ota_verify is
 * reentrant (CPU work: a SHA-256 of the model and one signature check per
 * entry; keep it off the libuv loop thread for large models). */
#ifndef EDGE_OTA_VERIFY_H
#define EDGE_OTA_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_ota_keys.h"
#include "edge_ota_package.h"

#define EDGE_OTA_TRUST_MAX 64

struct edge_ota_trust {
	unsigned n;
	struct edge_ota_key *keys[EDGE_OTA_TRUST_MAX];
};

void edge_ota_trust_init(struct edge_ota_trust *t);
void edge_ota_trust_clear(struct edge_ota_trust *t); /* frees the keys */

/* Add k (ownership taken, also on failure). A key already present is
 * freed and 0 returned. -ENOSPC beyond EDGE_OTA_TRUST_MAX. */
int edge_ota_trust_add(struct edge_ota_trust *t, struct edge_ota_key *k) EDGE_WUR;

/* Add every *.pub of dir. 0 (even with no key), -errno for the directory,
 * or the first key file's error (its path in err). */
int edge_ota_trust_load_dir(struct edge_ota_trust *t, const char *dir, char *err,
			    size_t errlen) EDGE_WUR;

const struct edge_ota_key *edge_ota_trust_find(const struct edge_ota_trust *t,
					       const uint8_t id[EDGE_OTA_KEY_ID_LEN]);

/* Why a package is refused; the names are stable (logs, CLI, metrics). */
enum edge_ota_verdict {
	EDGE_OTA_OK = 0,
	EDGE_OTA_MALFORMED,          /* container or manifest does not parse */
	EDGE_OTA_UNSIGNED,           /* no signature entry */
	EDGE_OTA_BAD_SIGNATURE,      /* a trusted key's signature does not verify */
	EDGE_OTA_UNKNOWN_KEY,        /* signed, but by no trusted key */
	EDGE_OTA_THRESHOLD_NOT_MET,  /* fewer valid distinct trusted keys than required */
	EDGE_OTA_EXPIRED,
	EDGE_OTA_SIZE_MISMATCH,      /* model size is not the manifest's */
	EDGE_OTA_HASH_MISMATCH,      /* model SHA-256 is not the manifest's */
};

/* "ok", "malformed", "unsigned", ... */
const char *edge_ota_verdict_name(enum edge_ota_verdict v);

struct edge_ota_verify_result {
	enum edge_ota_verdict verdict;
	char detail[192];                /* one line for a human */
	bool manifest_ok;                /* manifest parsed (shown even when refused) */
	struct edge_ota_manifest manifest;
	unsigned n_sigs;
	unsigned n_valid;                /* distinct trusted keys that verified */
	struct edge_ota_sig_check {
		uint8_t alg;
		uint8_t key_id[EDGE_OTA_KEY_ID_LEN];
		bool trusted;
		bool valid;              /* only when trusted */
	} sigs[EDGE_OTA_SIGS_MAX];
};

/* Verify pkg[0..len). trust may be NULL (every key unknown: inspection).
 * threshold 0 counts as 1. now_ms: wall clock ms for the expiry. The
 * verdict is in res (the first failure in the order: malformed, unsigned,
 * signatures, malformed manifest, size, hash, expiry). Returns 0, or
 * -ENOMEM/-EIO when the check itself could not run. */
int edge_ota_verify(const void *pkg, size_t len, const struct edge_ota_trust *trust,
		    unsigned threshold, uint64_t now_ms, struct edge_ota_verify_result *res) EDGE_WUR;

#endif
