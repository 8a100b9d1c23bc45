/* Helpers shared by the lib/pki sources; not part of the contract. */
#ifndef EDGE_PKI_INTERNAL_H
#define EDGE_PKI_INTERNAL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct edge_pki_ca {
	EVP_PKEY *key;
	X509 *cert;
};

/* Format "what: <first OpenSSL error or 'failed'>" into err, clear OpenSSL's
 * error queue of this thread, return code. */
int edge__pki_fail(char *err, size_t errlen, int code, const char *what);

/* Same with a plain message (no OpenSSL reason), queue still cleared. */
int edge__pki_failf(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* New P-256 key or NULL (OpenSSL error queued). */
EVP_PKEY *edge__pki_keygen(void);

/* Random positive 127-bit serial set on x. 0 or -EIO. */
int edge__pki_set_serial(X509 *x);

/* Validity: notBefore now - 5 min, notAfter now + days. 0 or -EIO. */
int edge__pki_set_validity(X509 *x, unsigned days);

/* Add the extension `value` (openssl.cnf syntax) with issuer/subject for
 * key identifiers. 0 or -EIO. */
int edge__pki_add_ext(X509 *x, X509 *issuer, int nid, const char *value);

/* SHA-256 of the DER certificate as lowercase hex (65 bytes). 0 or -EIO. */
int edge__pki_fingerprint(const X509 *x, char out[65]);

/* Contents of a memory BIO as a new NUL-terminated buffer. 0 or -ENOMEM. */
int edge__pki_bio_take(BIO *b, char **out, size_t *len);

#endif
