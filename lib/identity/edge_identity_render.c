/* The broker's identity files from the table (see edge_identity_render.h). */
#include "edge_identity_render.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "edge_pki_acl.h"
#include "edge_pki_file.h"
#include "edge_topic.h"

/* Days before the CRL's next update at which it is signed again. */
#define CRL_RENEW_DAYS 30
/* Largest file compared: above it, the file is rewritten. */
#define SYNC_READ_MAX (64u << 20)

static int cmp_rec(const void *a, const void *b)
{
	return strcmp((*(const struct edge_identity *const *)a)->id,
		      (*(const struct edge_identity *const *)b)->id);
}

/* The records that pass keep(), sorted by id, in a new array. */
static int sorted(const edge_identity_table *t, bool (*keep)(const struct edge_identity *),
		  const struct edge_identity ***out, size_t *n)
{
	size_t total = edge_identity_table_size(t), k = 0;
	const struct edge_identity **v = malloc((total ? total : 1) * sizeof *v);

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		const struct edge_identity *r = edge_identity_table_at(t, i);

		if (keep(r))
			v[k++] = r;
	}
	qsort(v, k, sizeof *v, cmp_rec);
	*out = v;
	*n = k;
	return 0;
}

static bool active_password(const struct edge_identity *r)
{
	return r->state == EDGE_IDENTITY_ACTIVE && r->kind == EDGE_IDENTITY_PASSWORD;
}

static bool revoked_certificate(const struct edge_identity *r)
{
	return r->state == EDGE_IDENTITY_REVOKED && r->kind == EDGE_IDENTITY_CERTIFICATE;
}

int edge_identity_render_passwd(const edge_identity_table *t, const char *gateway_user,
				const char *gateway_hash, char **out, size_t *len)
{
	const struct edge_identity **v;
	size_t n, cap, used = 0;
	char *buf;
	int rc;

	assert(t && out);
	if (!edge_id_valid_str(gateway_user) || !gateway_hash ||
	    strncmp(gateway_hash, "$7$", 3) != 0 || strchr(gateway_hash, '\n') ||
	    edge_identity_table_get(t, gateway_user))
		return -EINVAL;
	if ((rc = sorted(t, active_password, &v, &n)) < 0)
		return rc;
	cap = strlen(gateway_user) + strlen(gateway_hash) + 3;
	for (size_t i = 0; i < n; i++)
		cap += strlen(v[i]->id) + strlen(v[i]->password_hash) + 2;
	buf = malloc(cap);
	if (!buf) {
		free(v);
		return -ENOMEM;
	}
	used += (size_t)snprintf(buf, cap, "%s:%s\n", gateway_user, gateway_hash);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s:%s\n", v[i]->id,
					 v[i]->password_hash);
	free(v);
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

int edge_identity_render_acl(const edge_identity_table *t, const char *prefix,
			     const char *gateway_user, char **out, size_t *len, char *err,
			     size_t errlen)
{
	struct edge_pki_acl_options o = { .prefix = prefix, .gateway_user = gateway_user };
	const struct edge_identity **v;
	size_t base_len, n, cap, used;
	char *base, *buf;
	int rc;

	assert(t && out);
	if (!prefix)
		prefix = EDGE_PKI_ACL_PREFIX_DEFAULT;
	if ((rc = edge_pki_acl_render(&o, &base, &base_len, err, errlen)) < 0)
		return rc;
	if ((rc = sorted(t, revoked_certificate, &v, &n)) < 0) {
		free(base);
		return rc;
	}
	cap = base_len + 128;
	for (size_t i = 0; i < n; i++)
		cap += 2 * strlen(v[i]->id) + strlen(prefix) + 32;
	buf = realloc(base, cap);
	if (!buf) {
		free(base);
		free(v);
		return -ENOMEM;
	}
	used = base_len;
	if (n)
		used += (size_t)snprintf(buf + used, cap - used,
					 "\n# Revoked certificates: valid in a live TLS session"
					 " until it ends.\n");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, cap - used, "user %s\ntopic deny %s/%s/#\n",
					 v[i]->id, prefix, v[i]->id);
	free(v);
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

static int cmp_serial(const void *a, const void *b)
{
	return strcmp(a, b);
}

int edge_identity_crl_serials(const edge_identity_table *t,
			      char (**out)[EDGE_PKI_SERIAL_HEX_MAX], size_t *n)
{
	size_t k = edge_identity_table_revoked_count(t);
	char (*s)[EDGE_PKI_SERIAL_HEX_MAX] = malloc((k ? k : 1) * sizeof *s);

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		memcpy(s[i], edge_identity_table_revoked_at(t, i), EDGE_PKI_SERIAL_HEX_MAX);
	qsort(s, k, sizeof *s, cmp_serial);
	*out = s;
	*n = k;
	return 0;
}

/* 1 when path holds exactly data[0..len) with mode, 0 otherwise. */
static int same_content(const char *path, const void *data, size_t len, mode_t mode)
{
	struct stat st;
	char *buf;
	ssize_t got;
	size_t off = 0;
	int fd, same;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len ||
	    (st.st_mode & 07777) != (mode & 07777) || len > SYNC_READ_MAX) {
		close(fd);
		return 0;
	}
	buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return 0;
	}
	while (off < len && (got = read(fd, buf + off, len - off)) > 0)
		off += (size_t)got;
	same = off == len && memcmp(buf, data, len) == 0;
	free(buf);
	close(fd);
	return same;
}

int edge_identity_file_sync(const char *path, const void *data, size_t len, mode_t mode,
			    char *err, size_t errlen)
{
	int rc;

	assert(path && (data || len == 0));
	if (same_content(path, data, len, mode))
		return 0;
	rc = edge_pki_write_file(path, data, len, mode, err, errlen);
	return rc < 0 ? rc : 1;
}

/* Hex digits without leading zeros ("0A" and "A" are one serial). */
static const char *skip_zeros(const char *h)
{
	while (h[0] == '0' && h[1])
		h++;
	return h;
}

/* The CRL at path is current: signed by ca, lists exactly serials[0..n)
 * (sorted, uppercase), and its next update is not near. */
static bool crl_current(const edge_pki_ca *ca, const char *path, const char *const *serials,
			size_t n)
{
	char *pem = NULL;
	BIO *b = NULL;
	X509 *cacert = NULL;
	X509_CRL *crl = NULL;
	FILE *f = NULL;
	EVP_PKEY *pub;
	bool ok = false;
	size_t pemlen;

	if (edge_pki_ca_cert_pem(ca, &pem, &pemlen) < 0)
		return false;
	b = BIO_new_mem_buf(pem, (int)pemlen);
	cacert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	f = fopen(path, "re");
	crl = f ? PEM_read_X509_CRL(f, NULL, NULL, NULL) : NULL;
	if (!cacert || !crl || !(pub = X509_get0_pubkey(cacert)) || X509_CRL_verify(crl, pub) != 1)
		goto out;
	{
		time_t soon = time(NULL) + (time_t)CRL_RENEW_DAYS * 86400;
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

		if (!next || X509_cmp_time(next, &soon) <= 0)
			goto out;
	}
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	size_t have = rev ? (size_t)sk_X509_REVOKED_num(rev) : 0;
	if (have != n)
		goto out;
	for (size_t i = 0; i < have; i++) {
		const ASN1_INTEGER *ai = X509_REVOKED_get0_serialNumber(
			sk_X509_REVOKED_value(rev, (int)i));
		BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		bool found = false;

		BN_free(bn);
		if (!hex)
			goto out;
		for (size_t j = 0; j < n && !found; j++)
			found = strcasecmp(skip_zeros(hex), skip_zeros(serials[j])) == 0;
		OPENSSL_free(hex);
		if (!found)
			goto out;
	}
	ok = true;
out:
	X509_CRL_free(crl);
	if (f)
		fclose(f);
	X509_free(cacert);
	BIO_free(b);
	free(pem);
	return ok;
}

int edge_identity_crl_sync(const edge_pki_ca *ca, const char *path, const char *const *serials,
			   size_t n, unsigned days, char *err, size_t errlen)
{
	int rc;

	assert(ca && path && (serials || n == 0));
	if (crl_current(ca, path, serials, n))
		return 0;
	rc = edge_pki_crl_write(ca, serials, n, days, (unsigned long)time(NULL), path, err,
				errlen);
	return rc < 0 ? rc : 1;
}

bool edge_identity_passwd_lookup(const char *buf, size_t len, const char *user,
				 char out[EDGE_PKI_PWHASH_MAX])
{
	size_t ulen = strlen(user), pos = 0;

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;

		if (llen > ulen + 1 && memcmp(line, user, ulen) == 0 && line[ulen] == ':' &&
		    llen - ulen - 1 < EDGE_PKI_PWHASH_MAX) {
			memcpy(out, line + ulen + 1, llen - ulen - 1);
			out[llen - ulen - 1] = '\0';
			return true;
		}
		pos += llen + 1;
	}
	return false;
}
