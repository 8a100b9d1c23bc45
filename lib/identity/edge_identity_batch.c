/* Batch preparation of node secrets (see edge_identity_batch.h). */
#include "edge_identity_batch.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "edge_topic.h"

int edge_identity_cert_info(const char *pem, size_t len, int64_t *not_after_ms,
			    char fp[EDGE_PKI_FINGERPRINT_LEN])
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int rc = 0;

	BIO_free(b);
	if (!x)
		return -EBADMSG;
	if (not_after_ms) {
		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
			rc = -EIO;
		else
			*not_after_ms = (int64_t)timegm(&tm) * 1000;
	}
	if (rc == 0 && fp) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;

		if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
			rc = -EIO;
		for (unsigned i = 0; rc == 0 && i < n; i++)
			snprintf(fp + 2 * i, 3, "%02x", md[i]);
	}
	X509_free(x);
	return rc;
}

void edge_identity_grants_clear(struct edge_identity_grant *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++) {
		OPENSSL_cleanse(g[i].password, sizeof g[i].password);
		edge_pki_issued_clear(&g[i].cert);
	}
}

static int prepare_one(struct edge_identity_grant *g, const edge_pki_ca *ca, unsigned days,
		       char *err, size_t errlen)
{
	char why[256] = "";
	int rc;

	if (!edge_id_valid_str(g->id)) {
		snprintf(err, errlen, "node id must match [A-Za-z0-9_-]{1,64}");
		return -EINVAL;
	}
	if (g->kind == EDGE_IDENTITY_PASSWORD) {
		rc = edge_pki_password_generate(g->password);
		if (rc == 0)
			rc = edge_pki_password_hash(g->password, g->password_hash,
						    sizeof g->password_hash);
		if (rc < 0)
			snprintf(err, errlen, "%s: password: %s", g->id, edge_strerror(rc));
		return rc;
	}
	if (g->kind != EDGE_IDENTITY_CERTIFICATE || !ca) {
		snprintf(err, errlen, "%s: a certificate needs the gateway CA", g->id);
		return -EINVAL;
	}
	rc = edge_pki_issue_node(ca, g->id, days, &g->cert, why, sizeof why);
	if (rc == 0)
		rc = edge_identity_cert_info(g->cert.cert_pem, g->cert.cert_len,
					     &g->cert_not_after_ms, NULL);
	if (rc < 0)
		snprintf(err, errlen, "%s: certificate: %s", g->id,
			 why[0] ? why : edge_strerror(rc));
	return rc;
}

int edge_identity_prepare(struct edge_identity_grant *g, size_t n, const edge_pki_ca *ca,
			  unsigned days, char *err, size_t errlen)
{
	char dummy[1];

	assert(g || n == 0);
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = prepare_one(&g[i], ca, days, err, errlen);

		if (rc < 0) {
			edge_identity_grants_clear(g, n);
			return rc;
		}
	}
	return 0;
}
