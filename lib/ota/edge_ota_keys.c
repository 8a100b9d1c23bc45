/* Ed25519 / P-256 keys for model packages: OpenSSL EVP only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "edge_ota_keys.h"

struct edge_ota_key {
	EVP_PKEY *pkey;
	int alg;
	bool priv;
	uint8_t id[EDGE_OTA_KEY_ID_LEN];
};

static int fail(char *err, size_t errlen, int code, const char *what)
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

const char *edge_ota_alg_name(int alg)
{
	switch (alg) {
	case EDGE_OTA_SIG_ED25519:
		return "ed25519";
	case EDGE_OTA_SIG_ECDSA_P256:
		return "p256";
	default:
		return "unknown";
	}
}

int edge_ota_alg_from_name(const char *name)
{
	if (strcmp(name, "ed25519") == 0)
		return EDGE_OTA_SIG_ED25519;
	if (strcmp(name, "p256") == 0)
		return EDGE_OTA_SIG_ECDSA_P256;
	return 0;
}

void edge_ota_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int edge_ota_sha256(const void *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 0;
	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

/* Wrap pkey (taken) after checking it is one of our two algorithms. */
static int wrap(EVP_PKEY *pkey, bool priv, struct edge_ota_key **out, char *err, size_t errlen)
{
	int alg = 0;
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		alg = EDGE_OTA_SIG_ED25519;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[32] = "";
		if (EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof(group), NULL) == 1 &&
		    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
			alg = EDGE_OTA_SIG_ECDSA_P256;
	}
	if (!alg) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		if (err && errlen)
			snprintf(err, errlen, "key is neither Ed25519 nor ECDSA P-256");
		return -ENOTSUP;
	}
	struct edge_ota_key *k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->pkey = pkey;
	k->alg = alg;
	k->priv = priv;
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	int rc = n > 0 ? edge_ota_sha256(der, (size_t)n, k->id) : -EIO;
	OPENSSL_free(der);
	if (rc < 0) {
		edge_ota_key_free(k);
		return fail(err, errlen, -EIO, "key id");
	}
	*out = k;
	return 0;
}

int edge_ota_key_generate(int alg, struct edge_ota_key **out, char *err, size_t errlen)
{
	*out = NULL;
	EVP_PKEY *pkey;
	if (alg == EDGE_OTA_SIG_ED25519)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (alg == EDGE_OTA_SIG_ECDSA_P256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		return -EINVAL;
	if (!pkey)
		return fail(err, errlen, -EIO, "key generation");
	return wrap(pkey, true, out, err, errlen);
}

void edge_ota_key_free(struct edge_ota_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int edge_ota_key_alg(const struct edge_ota_key *k)
{
	return k->alg;
}

bool edge_ota_key_has_private(const struct edge_ota_key *k)
{
	return k->priv;
}

const uint8_t *edge_ota_key_id(const struct edge_ota_key *k)
{
	return k->id;
}

/* Create path exclusively with mode, write, fsync; removed on failure. */
static int write_new(const char *path, const char *data, size_t len, mode_t mode, char *err,
		     size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	int rc = 0;
	/* The umask must not narrow (or the caller widen) the final mode. */
	if (fchmod(fd, mode) != 0)
		rc = -errno;
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlink(path);
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	}
	return rc;
}

static int pem_of(const struct edge_ota_key *k, bool priv, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	int ok = priv ? PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL)
		      : PEM_write_bio_PUBKEY(b, k->pkey);
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	if (ok != 1 || n <= 0) {
		BIO_free(b);
		return -EIO;
	}
	*out = malloc((size_t)n);
	if (!*out) {
		BIO_free(b);
		return -ENOMEM;
	}
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return 0;
}

int edge_ota_key_save(const struct edge_ota_key *k, const char *base, char *err, size_t errlen)
{
	if (!k->priv)
		return -EINVAL;
	char kpath[4096], ppath[4096];
	if ((size_t)snprintf(kpath, sizeof(kpath), "%s.key", base) >= sizeof(kpath) ||
	    (size_t)snprintf(ppath, sizeof(ppath), "%s.pub", base) >= sizeof(ppath))
		return -ENAMETOOLONG;
	struct stat st;
	if (stat(kpath, &st) == 0 || stat(ppath, &st) == 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s.key or %s.pub already exists", base, base);
		return -EEXIST;
	}
	char *kp = NULL, *pp = NULL;
	size_t kl = 0, pl = 0;
	int rc = pem_of(k, true, &kp, &kl);
	if (rc == 0)
		rc = pem_of(k, false, &pp, &pl);
	if (rc < 0) {
		free(kp);
		free(pp);
		return fail(err, errlen, rc, "PEM encoding");
	}
	rc = write_new(kpath, kp, kl, 0600, err, errlen);
	if (rc == 0) {
		rc = write_new(ppath, pp, pl, 0644, err, errlen);
		if (rc < 0)
			unlink(kpath);
	}
	OPENSSL_cleanse(kp, kl);
	free(kp);
	free(pp);
	return rc;
}

static int load(const char *path, bool want_priv, struct edge_ota_key **out, char *err,
		size_t errlen)
{
	*out = NULL;
	BIO *b = BIO_new_file(path, "r");
	if (!b) {
		ERR_clear_error();
		int e = errno ? -errno : -ENOENT;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	bool priv = pkey != NULL;
	if (!pkey && !want_priv) {
		ERR_clear_error();
		(void)BIO_reset(b);
		pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	if (!pkey) {
		char what[4200];
		snprintf(what, sizeof(what), "%s: no %s key in PEM", path,
			 want_priv ? "private" : "public or private");
		return fail(err, errlen, -EIO, what);
	}
	return wrap(pkey, want_priv && priv, out, err, errlen);
}

int edge_ota_key_load_private(const char *path, struct edge_ota_key **out, char *err,
			      size_t errlen)
{
	return load(path, true, out, err, errlen);
}

int edge_ota_key_load_public(const char *path, struct edge_ota_key **out, char *err,
			     size_t errlen)
{
	return load(path, false, out, err, errlen);
}

static const EVP_MD *md_of(int alg)
{
	return alg == EDGE_OTA_SIG_ECDSA_P256 ? EVP_sha256() : NULL;
}

int edge_ota_key_sign(const struct edge_ota_key *k, const void *msg, size_t len,
		      uint8_t sig[EDGE_OTA_SIG_MAX], size_t *sig_len, char *err, size_t errlen)
{
	if (!k->priv)
		return -EINVAL;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	size_t n = 0;
	int rc = -EIO;
	if (EVP_DigestSignInit(c, NULL, md_of(k->alg), NULL, k->pkey) == 1 &&
	    EVP_DigestSign(c, NULL, &n, msg, len) == 1 && n <= EDGE_OTA_SIG_MAX &&
	    EVP_DigestSign(c, sig, &n, msg, len) == 1)
		rc = 0;
	EVP_MD_CTX_free(c);
	if (rc < 0)
		return fail(err, errlen, rc, "sign");
	*sig_len = n;
	return 0;
}

bool edge_ota_key_verify(const struct edge_ota_key *k, int alg, const void *msg, size_t len,
			 const uint8_t *sig, size_t sig_len)
{
	if (alg != k->alg)
		return false;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		return false;
	bool ok = EVP_DigestVerifyInit(c, NULL, md_of(k->alg), NULL, k->pkey) == 1 &&
		  EVP_DigestVerify(c, sig, sig_len, msg, len) == 1;
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok;
}
