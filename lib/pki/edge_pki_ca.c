/* The gateway CA: create, save, load (see edge_pki.h). */
#include "edge_pki.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "edge_pki_file.h"
#include "edge_pki_internal.h"

static bool name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > EDGE_PKI_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int edge_pki_ca_create(const char *name, unsigned days, edge_pki_ca **out,
		       char *err, size_t errlen)
{
	char cn[EDGE_PKI_NAME_MAX + 32];
	int rc = -EIO;

	assert(out);
	if (!name_valid(name))
		return edge__pki_failf(err, errlen, -EINVAL,
				       "CA name must match [A-Za-z0-9._-]{1,64}");
	if (days == 0 || days > EDGE_PKI_MAX_DAYS)
		return edge__pki_failf(err, errlen, -EINVAL,
				       "validity must be 1..%d days", EDGE_PKI_MAX_DAYS);
	snprintf(cn, sizeof(cn), "edged gateway CA %s", name);

	edge_pki_ca *ca = calloc(1, sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	ca->key = edge__pki_keygen();
	if (!ca->key) {
		rc = edge__pki_fail(err, errlen, -EIO, "generate the CA key");
		goto fail;
	}
	ca->cert = X509_new();
	if (!ca->cert) {
		rc = edge__pki_fail(err, errlen, -ENOMEM, "allocate the CA certificate");
		goto fail;
	}
	X509 *x = ca->cert;
	X509_NAME *subj = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 || edge__pki_set_serial(x) != 0 ||
	    edge__pki_set_validity(x, days) != 0 ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, subj) != 1 || X509_set_pubkey(x, ca->key) != 1) {
		rc = edge__pki_fail(err, errlen, -EIO, "fill the CA certificate");
		goto fail;
	}
	if (edge__pki_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    edge__pki_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    edge__pki_add_ext(x, x, NID_subject_key_identifier, "hash") != 0 ||
	    edge__pki_add_ext(x, x, NID_authority_key_identifier, "keyid:always") != 0) {
		rc = edge__pki_fail(err, errlen, -EIO, "add the CA extensions");
		goto fail;
	}
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0) {
		rc = edge__pki_fail(err, errlen, -EIO, "self-sign the CA certificate");
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	edge_pki_ca_free(ca);
	return rc;
}

void edge_pki_ca_free(edge_pki_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int edge_pki_ca_cert_pem(const edge_pki_ca *ca, char **pem, size_t *len)
{
	assert(ca && pem);
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	int rc = PEM_write_bio_X509(b, ca->cert) == 1 ? edge__pki_bio_take(b, pem, len) : -EIO;
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

void edge_pki_ca_fingerprint(const edge_pki_ca *ca, char out[EDGE_PKI_FINGERPRINT_LEN])
{
	assert(ca);
	/* Digest of an in-memory certificate fails only if OpenSSL cannot
	 * allocate; the caller then sees an empty string. */
	if (edge__pki_fingerprint(ca->cert, out) != 0)
		ERR_clear_error();
}

int edge_pki_ca_save(const edge_pki_ca *ca, const char *key_path, const char *cert_path,
		     char *err, size_t errlen)
{
	char *key = NULL, *cert = NULL;
	size_t key_len = 0, cert_len = 0;
	int rc;

	assert(ca && key_path && cert_path);
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	if (PEM_write_bio_PrivateKey(b, ca->key, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		return edge__pki_fail(err, errlen, -EIO, "encode the CA key");
	}
	rc = edge__pki_bio_take(b, &key, &key_len);
	BIO_free(b);
	if (rc != 0)
		return rc;
	rc = edge_pki_ca_cert_pem(ca, &cert, &cert_len);
	if (rc == 0)
		rc = edge_pki_write_file(key_path, key, key_len, 0600, err, errlen);
	if (rc == 0)
		rc = edge_pki_write_file(cert_path, cert, cert_len, 0644, err, errlen);
	OPENSSL_cleanse(key, key_len);
	free(key);
	free(cert);
	return rc;
}

/* Read one PEM object from path with `rd`; NULL with *rc set on failure. */
static void *read_pem(const char *path, void *(*rd)(BIO *), const char *what, int *rc,
		      char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		*rc = edge__pki_failf(err, errlen, -errno, "open %s %s: %s", what, path,
				      strerror(errno));
		return NULL;
	}
	BIO *b = BIO_new_fp(f, BIO_CLOSE);
	if (!b) {
		fclose(f);
		*rc = -ENOMEM;
		return NULL;
	}
	void *obj = rd(b);
	BIO_free(b);
	if (!obj) {
		char why[PATH_MAX + 64];
		snprintf(why, sizeof(why), "%s %s is not PEM", what, path);
		*rc = edge__pki_fail(err, errlen, -EBADMSG, why);
	}
	return obj;
}

static void *rd_key(BIO *b)
{
	return PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
}

static void *rd_cert(BIO *b)
{
	return PEM_read_bio_X509(b, NULL, NULL, NULL);
}

int edge_pki_ca_load(const char *key_path, const char *cert_path, edge_pki_ca **out,
		     char *err, size_t errlen)
{
	int rc = 0;

	assert(key_path && cert_path && out);
	edge_pki_ca *ca = calloc(1, sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	ca->key = read_pem(key_path, rd_key, "CA key", &rc, err, errlen);
	if (!ca->key)
		goto fail;
	ca->cert = read_pem(cert_path, rd_cert, "CA certificate", &rc, err, errlen);
	if (!ca->cert)
		goto fail;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		rc = edge__pki_fail(err, errlen, -EKEYREJECTED,
				    "the CA key does not belong to the CA certificate");
		goto fail;
	}
	/* 1: a CA by basicConstraints with keyCertSign. */
	if (X509_check_ca(ca->cert) != 1) {
		rc = edge__pki_failf(err, errlen, -EKEYREJECTED,
				     "%s is not a CA certificate", cert_path);
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	edge_pki_ca_free(ca);
	return rc;
}
