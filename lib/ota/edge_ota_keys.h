/* Signing keys of model packages (Ed25519 or ECDSA P-256), OpenSSL's EVP
 * for every operation. A key is named by its key id: the SHA-256 of its
 * DER SubjectPublicKeyInfo, the id a package's signature entry carries.
 *
 * Files: NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (SubjectPublicKeyInfo
 * PEM, 0644); saving never replaces an existing file.
 *
 * Threading: a key is immutable after creation; any thread may sign or
 * verify with it concurrently. */
#ifndef EDGE_OTA_KEYS_H
#define EDGE_OTA_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_ota_package.h"

struct edge_ota_key;

/* "ed25519" / "p256" and back (0 for an unknown name). */
const char *edge_ota_alg_name(int alg);
int edge_ota_alg_from_name(const char *name);

/* New key of alg (enum edge_ota_sig_alg). 0, -EINVAL, -EIO (OpenSSL). */
int edge_ota_key_generate(int alg, struct edge_ota_key **out, char *err, size_t errlen) EDGE_WUR;

/* Write base.key (0600) and base.pub (0644). -EEXIST when either exists
 * (nothing written), else 0 or -errno; on failure neither file is left. */
int edge_ota_key_save(const struct edge_ota_key *k, const char *base, char *err,
		      size_t errlen) EDGE_WUR;

/* Load a PEM file: a private key (signing) or, for _public, a public key
 * or a private one (its public half is used). -ENOENT, -EIO (not PEM),
 * -ENOTSUP (neither Ed25519 nor P-256). */
int edge_ota_key_load_private(const char *path, struct edge_ota_key **out, char *err,
			      size_t errlen) EDGE_WUR;
int edge_ota_key_load_public(const char *path, struct edge_ota_key **out, char *err,
			     size_t errlen) EDGE_WUR;

void edge_ota_key_free(struct edge_ota_key *k); /* NULL-safe */

int edge_ota_key_alg(const struct edge_ota_key *k);
bool edge_ota_key_has_private(const struct edge_ota_key *k);
const uint8_t *edge_ota_key_id(const struct edge_ota_key *k); /* EDGE_OTA_KEY_ID_LEN bytes */

/* Lowercase hex of a key id or digest: 2 * n + 1 bytes. */
void edge_ota_hex(const uint8_t *b, size_t n, char *out);

/* Sign msg[0..len): Ed25519 (pure) or ECDSA P-256 with SHA-256 (DER).
 * sig has EDGE_OTA_SIG_MAX bytes; *sig_len gets the length. 0, -EINVAL
 * (public key only), -EIO. */
int edge_ota_key_sign(const struct edge_ota_key *k, const void *msg, size_t len,
		      uint8_t sig[EDGE_OTA_SIG_MAX], size_t *sig_len, char *err,
		      size_t errlen) EDGE_WUR;

/* true only when sig is a valid signature of msg by k with alg. */
bool edge_ota_key_verify(const struct edge_ota_key *k, int alg, const void *msg, size_t len,
			 const uint8_t *sig, size_t sig_len);

/* SHA-256 through EVP. 0 or -EIO. */
int edge_ota_sha256(const void *buf, size_t len, uint8_t out[32]) EDGE_WUR;

#endif
