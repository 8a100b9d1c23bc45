/* The gateway's certificate authority: one P-256 ECDSA key and a
 * self-signed CA certificate, the broker's server certificate and the
 * nodes' client certificates it signs, and the CRL of revoked node
 * certificates. Every cryptographic operation is OpenSSL's (EVP / X509).
 *
 * Certificates (all X.509 v3, SHA-256 ECDSA signatures, random positive
 * 127-bit serials, notBefore five minutes in the past for clock skew):
 * - CA: subject CN "edged gateway CA <name>", basicConstraints critical
 *   CA:TRUE, keyUsage critical keyCertSign,cRLSign.
 * - broker server: CN "edged broker", subjectAltName IP 127.0.0.1, IP ::1,
 *   DNS localhost and the caller's names, EKU serverAuth.
 * - node client: CN = node id ([A-Za-z0-9_-]{1,64}, which mosquitto's
 *   use_identity_as_username turns into the MQTT username), EKU clientAuth.
 * Each leaf gets its own new P-256 key, returned with it as PEM.
 *
 * Ownership: an edge_pki_ca is owned by its creator and released with
 * edge_pki_ca_free; struct edge_pki_issued buffers are the caller's,
 * released with edge_pki_issued_clear (which wipes the key).
 *
 * Threading: no global state; one edge_pki_ca is used by one thread at a
 * time, distinct objects in parallel.
 *
 * Errors: 0 or a negative code; a human-readable reason (with OpenSSL's
 * own when it failed) goes to err[0..errlen) when err is not NULL.
 * -EINVAL bad argument (name, node id, validity, serial), -ENOMEM,
 * -errno of a file operation (-ENOENT, -EACCES, ...), -EBADMSG a file is
 * not the PEM it should be, -EKEYREJECTED the key does not belong to the
 * certificate or the certificate is not a CA, -EIO OpenSSL failed
 * otherwise. */
#ifndef EDGE_PKI_H
#define EDGE_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_error.h"

typedef struct edge_pki_ca edge_pki_ca;

/* Longest CA name: [A-Za-z0-9._-]{1,64}. */
#define EDGE_PKI_NAME_MAX 64
/* Validity bound for every certificate and the CRL (100 years). */
#define EDGE_PKI_MAX_DAYS 36500
/* Serial as uppercase hex without leading zeros: at most 32 digits + NUL. */
#define EDGE_PKI_SERIAL_HEX_MAX 41
/* SHA-256 fingerprint as 64 lowercase hex digits + NUL. */
#define EDGE_PKI_FINGERPRINT_LEN 65

/* Create a new CA in memory (nothing is written). Errors: -EINVAL (name not
 * [A-Za-z0-9._-]{1,64}, days 0 or > EDGE_PKI_MAX_DAYS), -ENOMEM, -EIO. */
int edge_pki_ca_create(const char *name, unsigned days, edge_pki_ca **out,
		       char *err, size_t errlen) EDGE_WUR;

/* Write the CA's key (PEM PKCS#8, mode 0600) and certificate (PEM, mode
 * 0644), each atomically (edge_pki_write_file). The key is written first:
 * a failure between the two leaves a new key beside the old certificate,
 * which edge_pki_ca_load refuses (-EKEYREJECTED) rather than using. */
int edge_pki_ca_save(const edge_pki_ca *ca, const char *key_path, const char *cert_path,
		     char *err, size_t errlen) EDGE_WUR;

/* Load a CA written by edge_pki_ca_save. Errors: -errno opening a file,
 * -EBADMSG, -EKEYREJECTED (key and certificate differ, or the certificate
 * is not a CA), -ENOMEM. */
int edge_pki_ca_load(const char *key_path, const char *cert_path, edge_pki_ca **out,
		     char *err, size_t errlen) EDGE_WUR;

/* NULL is a no-op. */
void edge_pki_ca_free(edge_pki_ca *ca);

/* The CA certificate as PEM, NUL-terminated, in a new buffer the caller
 * frees; *len (may be NULL) gets its length. -ENOMEM, -EIO. */
int edge_pki_ca_cert_pem(const edge_pki_ca *ca, char **pem, size_t *len) EDGE_WUR;

/* The CA certificate's SHA-256 fingerprint (lowercase hex). */
void edge_pki_ca_fingerprint(const edge_pki_ca *ca, char out[EDGE_PKI_FINGERPRINT_LEN]);

/* A certificate issued with its new private key. */
struct edge_pki_issued {
	char *cert_pem;    /* PEM certificate, NUL-terminated, owned */
	size_t cert_len;
	char *key_pem;     /* PEM PKCS#8 private key, NUL-terminated, owned */
	size_t key_len;
	char serial[EDGE_PKI_SERIAL_HEX_MAX];           /* uppercase hex */
	char fingerprint[EDGE_PKI_FINGERPRINT_LEN];     /* SHA-256, lowercase hex */
};

/* Wipe the key and free both buffers; the struct may be reused. */
void edge_pki_issued_clear(struct edge_pki_issued *is);

/* The broker's server certificate. names[0..n) are extra subjectAltNames:
 * an IPv4/IPv6 literal becomes an IP entry, anything else must be a DNS
 * name ([A-Za-z0-9.-], labels of 1–63, at most 253). On error *out is
 * untouched. Errors: -EINVAL, -ENOMEM, -EIO. */
int edge_pki_issue_server(const edge_pki_ca *ca, const char *const *names, size_t n,
			  unsigned days, struct edge_pki_issued *out,
			  char *err, size_t errlen) EDGE_WUR;

/* A node's client certificate, CN = node_id. Errors: -EINVAL (node_id not
 * [A-Za-z0-9_-]{1,64}, days), -ENOMEM, -EIO. */
int edge_pki_issue_node(const edge_pki_ca *ca, const char *node_id, unsigned days,
			struct edge_pki_issued *out, char *err, size_t errlen) EDGE_WUR;

/* Write a CRL signed by the CA listing serials[0..n) (hex as in
 * edge_pki_issued.serial, case-insensitive), revoked now, next update in
 * `days`, CRL number `number`; PEM, mode 0644, atomically. n may be 0 (an
 * empty CRL: a TLS listener with crlfile needs one from the start).
 * Errors: -EINVAL (bad serial, days), -ENOMEM, -EIO, -errno writing. */
int edge_pki_crl_write(const edge_pki_ca *ca, const char *const *serials, size_t n,
		       unsigned days, unsigned long number, const char *path,
		       char *err, size_t errlen) EDGE_WUR;

#endif
