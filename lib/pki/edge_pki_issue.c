/* Leaf certificates signed by the gateway CA: the broker's server
 * certificate and the nodes' client certificates (see edge_pki.h). */
#include "edge_pki.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "edge_pki_internal.h"
#include "edge_topic.h"

/* Longest subjectAltName value we build: the fixed entries plus up to this
 * many caller names. */
#define SAN_NAMES_MAX 32
#define SAN_MAX (SAN_NAMES_MAX * 260 + 64)

void edge_pki_issued_clear(struct edge_pki_issued *is)
{
	if (!is)
		return;
	if (is->key_pem)
		OPENSSL_cleanse(is->key_pem, is->key_len);
	free(is->key_pem);
	free(is->cert_pem);
	memset(is, 0, sizeof(*is));
}

static bool dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n < 1 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* Append ",IP:x" or ",DNS:x" for one caller name; -EINVAL if neither. The
 * validation is also what keeps a name from adding entries of its own to
 * the comma-separated value. */
static int san_append(char *san, size_t cap, const char *name)
{
	unsigned char addr[16];
	size_t used = strlen(san);
	const char *kind;

	if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
		kind = "IP";
	else if (dns_name_valid(name))
		kind = "DNS";
	else
		return -EINVAL;
	int n = snprintf(san + used, cap - used, ",%s:%s", kind, name);
	return n > 0 && (size_t)n < cap - used ? 0 : -EINVAL;
}

/* Build, sign and export one leaf. `cn` is its subject; `eku` its extended
 * key usage; `san` its subjectAltName or NULL. */
static int issue(const edge_pki_ca *ca, const char *cn, const char *eku, const char *san,
		 unsigned days, struct edge_pki_issued *out, char *err, size_t errlen)
{
	struct edge_pki_issued is = { 0 };
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	int rc;

	if (days == 0 || days > EDGE_PKI_MAX_DAYS)
		return edge__pki_failf(err, errlen, -EINVAL,
				       "validity must be 1..%d days", EDGE_PKI_MAX_DAYS);
	key = edge__pki_keygen();
	if (!key) {
		rc = edge__pki_fail(err, errlen, -EIO, "generate a key");
		goto out;
	}
	x = X509_new();
	if (!x) {
		rc = edge__pki_fail(err, errlen, -ENOMEM, "allocate a certificate");
		goto out;
	}
	if (X509_set_version(x, X509_VERSION_3) != 1 || edge__pki_set_serial(x) != 0 ||
	    edge__pki_set_validity(x, days) != 0 ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_set_pubkey(x, key) != 1) {
		rc = edge__pki_fail(err, errlen, -EIO, "fill the certificate");
		goto out;
	}
	if (edge__pki_add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    edge__pki_add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") != 0 ||
	    edge__pki_add_ext(x, ca->cert, NID_ext_key_usage, eku) != 0 ||
	    edge__pki_add_ext(x, ca->cert, NID_subject_key_identifier, "hash") != 0 ||
	    edge__pki_add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") != 0 ||
	    (san && edge__pki_add_ext(x, ca->cert, NID_subject_alt_name, san) != 0)) {
		rc = edge__pki_fail(err, errlen, -EIO, "add the certificate's extensions");
		goto out;
	}
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0) {
		rc = edge__pki_fail(err, errlen, -EIO, "sign the certificate");
		goto out;
	}

	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	BN_free(bn);
	if (!hex || strlen(hex) >= sizeof(is.serial)) {
		OPENSSL_free(hex);
		rc = edge__pki_fail(err, errlen, -EIO, "read the serial");
		goto out;
	}
	snprintf(is.serial, sizeof(is.serial), "%s", hex);
	OPENSSL_free(hex);
	if (edge__pki_fingerprint(x, is.fingerprint) != 0) {
		rc = edge__pki_fail(err, errlen, -EIO, "digest the certificate");
		goto out;
	}

	b = BIO_new(BIO_s_mem());
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	if (PEM_write_bio_X509(b, x) != 1) {
		rc = edge__pki_fail(err, errlen, -EIO, "encode the certificate");
		goto out;
	}
	rc = edge__pki_bio_take(b, &is.cert_pem, &is.cert_len);
	if (rc != 0)
		goto out;
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	if (PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) {
		rc = edge__pki_fail(err, errlen, -EIO, "encode the key");
		goto out;
	}
	rc = edge__pki_bio_take(b, &is.key_pem, &is.key_len);
	if (rc != 0)
		goto out;
	*out = is;
	memset(&is, 0, sizeof(is));
out:
	edge_pki_issued_clear(&is);
	BIO_free(b); /* a memory BIO wipes its buffer when freed */
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int edge_pki_issue_server(const edge_pki_ca *ca, const char *const *names, size_t n,
			  unsigned days, struct edge_pki_issued *out,
			  char *err, size_t errlen)
{
	char *san;
	int rc;

	assert(ca && out && (names || n == 0));
	if (n > SAN_NAMES_MAX)
		return edge__pki_failf(err, errlen, -EINVAL, "at most %d names", SAN_NAMES_MAX);
	san = malloc(SAN_MAX);
	if (!san)
		return -ENOMEM;
	snprintf(san, SAN_MAX, "IP:127.0.0.1,IP:::1,DNS:localhost");
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || san_append(san, SAN_MAX, names[i]) != 0) {
			rc = edge__pki_failf(err, errlen, -EINVAL,
					     "'%s' is neither an IP address nor a DNS name",
					     names[i] ? names[i] : "(null)");
			free(san);
			return rc;
		}
	}
	rc = issue(ca, "edged broker", "serverAuth", san, days, out, err, errlen);
	free(san);
	return rc;
}

int edge_pki_issue_node(const edge_pki_ca *ca, const char *node_id, unsigned days,
			struct edge_pki_issued *out, char *err, size_t errlen)
{
	assert(ca && out);
	if (!edge_id_valid_str(node_id))
		return edge__pki_failf(err, errlen, -EINVAL,
				       "node id must match [A-Za-z0-9_-]{1,64}");
	return issue(ca, node_id, "clientAuth", NULL, days, out, err, errlen);
}
