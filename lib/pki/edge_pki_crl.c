/* The CRL of revoked node certificates (see edge_pki.h). */
#include "edge_pki.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "edge_pki_file.h"
#include "edge_pki_internal.h"

/* Hex serial → ASN1_INTEGER, NULL if not 1..40 hex digits. */
static ASN1_INTEGER *serial_from_hex(const char *hex)
{
	size_t n = hex ? strlen(hex) : 0;

	if (n < 1 || n > 40 || strspn(hex, "0123456789abcdefABCDEF") != n)
		return NULL;
	BIGNUM *bn = NULL;
	if (BN_hex2bn(&bn, hex) != (int)n) {
		BN_free(bn);
		return NULL;
	}
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}

/* Build and sign the CRL; NULL with *rc set on failure. */
static X509_CRL *build(const edge_pki_ca *ca, const char *const *serials, size_t n,
		       unsigned days, unsigned long number, int *rc, char *err, size_t errlen)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_new(), *next = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509_REVOKED *r = NULL;

	if (!crl || !now || !next || !num) {
		*rc = edge__pki_fail(err, errlen, -ENOMEM, "allocate the CRL");
		goto fail;
	}
	if (!X509_gmtime_adj(now, 0) || !X509_time_adj_ex(next, (int)days, 0, NULL) ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, now) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1 ||
	    ASN1_INTEGER_set_uint64(num, number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1) {
		*rc = edge__pki_fail(err, errlen, -EIO, "fill the CRL");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		ASN1_INTEGER *serial = serial_from_hex(serials[i]);
		if (!serial) {
			*rc = edge__pki_failf(err, errlen, -EINVAL, "bad serial '%s'",
					      serials[i] ? serials[i] : "(null)");
			goto fail;
		}
		r = X509_REVOKED_new();
		int ok = r && X509_REVOKED_set_serialNumber(r, serial) == 1 &&
			 X509_REVOKED_set_revocationDate(r, now) == 1;
		ASN1_INTEGER_free(serial);
		if (!ok || X509_CRL_add0_revoked(crl, r) != 1) {
			*rc = edge__pki_fail(err, errlen, -EIO, "add a revoked serial");
			goto fail;
		}
		r = NULL; /* owned by the CRL now */
	}
	if (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0) {
		*rc = edge__pki_fail(err, errlen, -EIO, "sign the CRL");
		goto fail;
	}
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(next);
	ASN1_TIME_free(now);
	return crl;
fail:
	X509_REVOKED_free(r);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(next);
	ASN1_TIME_free(now);
	X509_CRL_free(crl);
	return NULL;
}

int edge_pki_crl_write(const edge_pki_ca *ca, const char *const *serials, size_t n,
		       unsigned days, unsigned long number, const char *path,
		       char *err, size_t errlen)
{
	char *pem = NULL;
	size_t len = 0;
	int rc = 0;

	assert(ca && path && (serials || n == 0));
	if (days == 0 || days > EDGE_PKI_MAX_DAYS)
		return edge__pki_failf(err, errlen, -EINVAL,
				       "validity must be 1..%d days", EDGE_PKI_MAX_DAYS);
	X509_CRL *crl = build(ca, serials, n, days, number, &rc, err, errlen);
	if (!crl)
		return rc;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		rc = -ENOMEM;
	else if (PEM_write_bio_X509_CRL(b, crl) != 1)
		rc = edge__pki_fail(err, errlen, -EIO, "encode the CRL");
	else
		rc = edge__pki_bio_take(b, &pem, &len);
	BIO_free(b);
	X509_CRL_free(crl);
	if (rc == 0)
		rc = edge_pki_write_file(path, pem, len, 0644, err, errlen);
	free(pem);
	return rc;
}
