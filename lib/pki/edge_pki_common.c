/* OpenSSL helpers shared by the CA, issuing and CRL code. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "edge_pki_internal.h"

int edge__pki_fail(char *err, size_t errlen, int code, const char *what)
{
	unsigned long e = ERR_peek_error();
	char reason[256] = "failed";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, reason);
	ERR_clear_error();
	return code;
}

int edge__pki_failf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	ERR_clear_error();
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

EVP_PKEY *edge__pki_keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int edge__pki_set_serial(X509 *x)
{
	unsigned char raw[16];
	int rc = -EIO;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	/* Positive and never zero: RFC 5280 §4.1.2.2. */
	raw[0] &= 0x7f;
	raw[0] |= 0x01;
	BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (ai && X509_set_serialNumber(x, ai) == 1)
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

int edge__pki_set_validity(X509 *x, unsigned days)
{
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -300))
		return -EIO;
	if (!X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL))
		return -EIO;
	return 0;
}

int edge__pki_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -EIO;
}

int edge__pki_fingerprint(const X509 *x, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return -EIO;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int edge__pki_bio_take(BIO *b, char **out, size_t *len)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	assert(n >= 0);
	char *copy = malloc((size_t)n + 1);
	if (!copy)
		return -ENOMEM;
	if (n > 0)
		memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*out = copy;
	if (len)
		*len = (size_t)n;
	return 0;
}
