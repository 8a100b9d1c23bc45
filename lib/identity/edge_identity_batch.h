/* Preparing new node secrets in a batch: random passwords and their
 * mosquitto hashes, or client certificates (CN = node id) signed by the
 * gateway CA. The expensive half of provisioning (PBKDF2, ECDSA key
 * generation and signing), kept apart from the table so that it runs on a
 * worker thread while the table stays with its owner.
 *
 * A grant holds a secret: the plaintext password or the private key. It
 * leaves the process only in the answer to the operator who asked for it;
 * edge_identity_grants_clear wipes it. Only the hash and the certificate's
 * serial and fingerprint are ever stored.
 *
 * Threading: reentrant; a CA is used by one thread at a time (edge_pki.h). */
#ifndef EDGE_IDENTITY_BATCH_H
#define EDGE_IDENTITY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "edge_identity.h"

struct edge_identity_grant {
	/* in */
	char id[EDGE_IDENTITY_ID_MAX + 1];
	enum edge_identity_kind kind;
	/* out, password kind */
	char password[EDGE_PKI_PASSWORD_LEN + 1];       /* plaintext: secret */
	char password_hash[EDGE_PKI_PWHASH_MAX];
	/* out, certificate kind (cert.key_pem is the secret) */
	struct edge_pki_issued cert;
	int64_t cert_not_after_ms;                      /* the certificate's notAfter */
};

/* Fills every grant g[0..n) by its kind (id and kind set by the caller; the
 * rest zero). ca is needed when any grant is a certificate (else may be
 * NULL); days = certificate validity. All or nothing: on error every grant
 * is wiped and the reason (naming the id) is in err. Errors: -EINVAL (bad
 * id, certificate without ca, days), -ENOMEM, -EIO. */
EDGE_WUR int edge_identity_prepare(struct edge_identity_grant *g, size_t n,
				   const edge_pki_ca *ca, unsigned days, char *err,
				   size_t errlen);

/* Wipes the secrets and frees the certificate buffers of g[0..n). */
void edge_identity_grants_clear(struct edge_identity_grant *g, size_t n);

/* A certificate's notAfter (PEM text of len bytes) in ms since the epoch,
 * and its SHA-256 fingerprint (lowercase hex; fp may be NULL). Errors:
 * -EBADMSG (not a PEM certificate), -EIO. */
EDGE_WUR int edge_identity_cert_info(const char *pem, size_t len, int64_t *not_after_ms,
				     char fp[EDGE_PKI_FINGERPRINT_LEN]);

#endif
