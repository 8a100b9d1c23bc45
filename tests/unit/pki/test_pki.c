/* Suite 'pki': the gateway CA, issued certificates, the CRL, password hashes
 * and the broker's password and ACL files, with real OpenSSL and real files
 * in a scratch directory. The broker's view of the same files is
 * test_pki_broker.sh. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "edge_pki.h"
#include "edge_pki_acl.h"
#include "edge_pki_file.h"
#include "edge_pki_passwd.h"
#include "test_run.h"
#include "test_tmpdir.h"

static struct test_tmpdir tmp;
static char err[512];

static void setup(void)
{
	test_tmpdir_make(&tmp);
	err[0] = '\0';
}

static void teardown(void)
{
	test_tmpdir_remove(&tmp);
}

static void path(const char *name, char out[PATH_MAX])
{
	test_tmpdir_path(&tmp, name, out, PATH_MAX);
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "re");
	ck_assert_msg(f != NULL, "open %s: %s", p, strerror(errno));
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static mode_t file_mode(const char *p)
{
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_mode & 07777;
}

/* Number of directory entries whose name contains ".tmp.". */
static int temp_files(void)
{
	DIR *d = opendir(tmp.dir);
	struct dirent *e;
	int n = 0;

	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static X509 *cert_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert(x != NULL);
	return x;
}

static X509 *cert_from_file(const char *p)
{
	return cert_from_pem(slurp(p));
}

/* X509_verify_cert of leaf against the CA in ca_pem for `purpose`, with the
 * CRL when not NULL; returns the verify error (X509_V_OK on success). */
static int verify(const char *ca_pem, const char *leaf_pem, int purpose, X509_CRL *crl,
		  const char *host, const char *ip)
{
	X509 *ca = cert_from_pem(ca_pem), *leaf = cert_from_pem(leaf_pem);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();

	ck_assert(store && ctx);
	ck_assert_int_eq(X509_STORE_add_cert(store, ca), 1);
	if (crl) {
		ck_assert_int_eq(X509_STORE_add_crl(store, crl), 1);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	if (host)
		ck_assert_int_eq(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
	if (ip)
		ck_assert_int_eq(X509_VERIFY_PARAM_set1_ip_asc(param, ip), 1);
	int ok = X509_verify_cert(ctx);
	int e = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(leaf);
	X509_free(ca);
	ERR_clear_error();
	return e;
}

static edge_pki_ca *new_ca(const char *name)
{
	edge_pki_ca *ca = NULL;
	int rc = edge_pki_ca_create(name, 3650, &ca, err, sizeof(err));
	ck_assert_msg(rc == 0, "ca_create: %d %s", rc, err);
	return ca;
}

static char *ca_pem(const edge_pki_ca *ca)
{
	char *pem = NULL;
	ck_assert_int_eq(edge_pki_ca_cert_pem(ca, &pem, NULL), 0);
	return pem;
}

/* ---- CA */

START_TEST(ca_round_trip)
{
	char key[PATH_MAX], crt[PATH_MAX];
	edge_pki_ca *ca = new_ca("gw-1"), *back = NULL;

	path("ca.key", key);
	path("ca.crt", crt);
	mode_t old = umask(0); /* the modes must not depend on the umask */
	ck_assert_int_eq(edge_pki_ca_save(ca, key, crt, err, sizeof(err)), 0);
	umask(old);
	ck_assert_uint_eq(file_mode(key), 0600);
	ck_assert_uint_eq(file_mode(crt), 0644);
	ck_assert_int_eq(temp_files(), 0);
	ck_assert_ptr_nonnull(strstr(slurp(key), "-----BEGIN PRIVATE KEY-----"));

	ck_assert_int_eq(edge_pki_ca_load(key, crt, &back, err, sizeof(err)), 0);
	char f1[EDGE_PKI_FINGERPRINT_LEN], f2[EDGE_PKI_FINGERPRINT_LEN];
	edge_pki_ca_fingerprint(ca, f1);
	edge_pki_ca_fingerprint(back, f2);
	ck_assert_uint_eq(strlen(f1), 64);
	ck_assert_str_eq(f1, f2);

	/* The certificate as specified. */
	X509 *x = cert_from_file(crt);
	char cn[128];
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
						   cn, sizeof(cn)), 0);
	ck_assert_str_eq(cn, "edged gateway CA gw-1");
	ck_assert_int_eq(X509_check_ca(x), 1);
	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	int crit = -1;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	ck_assert(bc && bc->ca && crit == 1);
	BASIC_CONSTRAINTS_free(bc);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_int_eq(X509_check_issued(x, x), X509_V_OK);
	EVP_PKEY *pub = X509_get0_pubkey(x);
	ck_assert_int_eq(EVP_PKEY_get_bits(pub), 256);
	ck_assert(EVP_PKEY_is_a(pub, "EC"));
	ck_assert_int_eq(X509_verify(x, pub), 1);
	/* 127-bit random serial: two CAs differ. */
	edge_pki_ca *other = new_ca("gw-1");
	char *p1 = ca_pem(ca), *p2 = ca_pem(other);
	X509 *y = cert_from_pem(p2);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(y)), 0);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	ck_assert_int_gt(BN_num_bits(bn), 64);
	BN_free(bn);
	free(p1);
	free(p2);
	X509_free(y);
	X509_free(x);
	edge_pki_ca_free(other);
	edge_pki_ca_free(back);
	edge_pki_ca_free(ca);
}
END_TEST

START_TEST(ca_load_refuses)
{
	char k1[PATH_MAX], c1[PATH_MAX], k2[PATH_MAX], c2[PATH_MAX], junk[PATH_MAX], nope[PATH_MAX];
	edge_pki_ca *a = new_ca("a"), *b = new_ca("b"), *out = NULL;

	path("a.key", k1);
	path("a.crt", c1);
	path("b.key", k2);
	path("b.crt", c2);
	path("junk", junk);
	path("missing", nope);
	ck_assert_int_eq(edge_pki_ca_save(a, k1, c1, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_ca_save(b, k2, c2, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_write_file(junk, "not pem\n", 8, 0600, err, sizeof(err)), 0);

	ck_assert_int_eq(edge_pki_ca_load(k1, c2, &out, err, sizeof(err)), -EKEYREJECTED);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "does not belong"));
	ck_assert_int_eq(edge_pki_ca_load(junk, c1, &out, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(edge_pki_ca_load(k1, junk, &out, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(edge_pki_ca_load(nope, c1, &out, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, nope));
	ck_assert_ptr_null(out);

	/* A leaf certificate with its own key is not a CA. */
	struct edge_pki_issued is = { 0 };
	char lk[PATH_MAX], lc[PATH_MAX];
	path("leaf.key", lk);
	path("leaf.crt", lc);
	ck_assert_int_eq(edge_pki_issue_node(a, "n1", 30, &is, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_write_file(lk, is.key_pem, is.key_len, 0600, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_write_file(lc, is.cert_pem, is.cert_len, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_ca_load(lk, lc, &out, err, sizeof(err)), -EKEYREJECTED);
	edge_pki_issued_clear(&is);
	ck_assert_ptr_null(is.key_pem);
	edge_pki_ca_free(a);
	edge_pki_ca_free(b);
}
END_TEST

/* The key goes first: a save that fails at the certificate leaves a pair
 * that load refuses rather than a CA that silently changed. */
START_TEST(ca_save_half_done)
{
	char key[PATH_MAX], crt[PATH_MAX], bad[PATH_MAX];
	edge_pki_ca *a = new_ca("a"), *b = new_ca("b"), *out = NULL;

	path("ca.key", key);
	path("ca.crt", crt);
	path("none/ca.crt", bad);
	ck_assert_int_eq(edge_pki_ca_save(a, key, crt, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_ca_save(b, key, bad, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, bad));
	ck_assert_int_eq(edge_pki_ca_load(key, crt, &out, err, sizeof(err)), -EKEYREJECTED);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(temp_files(), 0);
	/* And the CRL writer reports its path the same way. */
	ck_assert_int_eq(edge_pki_crl_write(a, NULL, 0, 30, 1, bad, err, sizeof(err)), -ENOENT);
	edge_pki_ca_free(a);
	edge_pki_ca_free(b);
}
END_TEST

START_TEST(ca_create_refuses)
{
	edge_pki_ca *ca = NULL;
	static const char *const bad[] = { "", "a b", "a/b", "x\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */ };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(edge_pki_ca_create(bad[i], 10, &ca, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(edge_pki_ca_create(NULL, 10, &ca, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(edge_pki_ca_create("ok", 0, &ca, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(edge_pki_ca_create("ok", EDGE_PKI_MAX_DAYS + 1, &ca, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(ca);
	ck_assert_int_eq(edge_pki_ca_create("ok", EDGE_PKI_MAX_DAYS, &ca, err, sizeof(err)), 0);
	edge_pki_ca_free(ca);
}
END_TEST

/* ---- atomic writes */

START_TEST(write_failure_leaves_old_file)
{
	char p[PATH_MAX], big[65536];

	path("f", p);
	ck_assert_int_eq(edge_pki_write_file(p, "old\n", 4, 0644, err, sizeof(err)), 0);
	memset(big, 'x', sizeof(big));

	/* A file size limit makes the write fail half-way (EFBIG). */
	struct rlimit saved, lim = { .rlim_cur = 4096, .rlim_max = RLIM_INFINITY };
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	lim.rlim_max = saved.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = edge_pki_write_file(p, big, sizeof(big), 0644, err, sizeof(err));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_int_eq(rc, -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "write"));
	ck_assert_str_eq(slurp(p), "old\n");
	ck_assert_int_eq(temp_files(), 0);

	/* The target is a directory: the rename fails, nothing is left. */
	char d[PATH_MAX];
	path("dir", d);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	rc = edge_pki_write_file(d, "x", 1, 0644, err, sizeof(err));
	ck_assert_int_eq(rc, -EISDIR);
	ck_assert_int_eq(temp_files(), 0);
	ck_assert_int_eq(rmdir(d), 0);

	/* No such directory. */
	char q[PATH_MAX];
	path("none/f", q);
	ck_assert_int_eq(edge_pki_write_file(q, "x", 1, 0644, err, sizeof(err)), -ENOENT);

	/* Replacing changes content and mode in one step. */
	ck_assert_int_eq(edge_pki_write_file(p, "new\n", 4, 0600, err, sizeof(err)), 0);
	ck_assert_str_eq(slurp(p), "new\n");
	ck_assert_uint_eq(file_mode(p), 0600);
}
END_TEST

/* ---- issued certificates */

START_TEST(server_cert_verifies)
{
	edge_pki_ca *ca = new_ca("gw");
	struct edge_pki_issued is = { 0 };
	static const char *const names[] = { "gw.example.net", "10.1.2.3", "fd00::7" };

	ck_assert_int_eq(edge_pki_issue_server(ca, names, 3, 825, &is, err, sizeof(err)), 0);
	char *capem = ca_pem(ca);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, NULL, NULL),
			 X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, "localhost",
				NULL), X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL,
				"gw.example.net", NULL), X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, NULL,
				"127.0.0.1"), X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, NULL, "::1"),
			 X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, NULL,
				"10.1.2.3"), X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, NULL,
				"fd00::7"), X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL,
				"other.example.net", NULL), X509_V_ERR_HOSTNAME_MISMATCH);
	/* serverAuth only: not a client certificate. */
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_CLIENT, NULL, NULL, NULL),
			 X509_V_ERR_INVALID_PURPOSE);
	ck_assert_uint_eq(strlen(is.fingerprint), 64);
	ck_assert_uint_gt(strlen(is.serial), 16);

	/* The key is the certificate's. */
	BIO *b = BIO_new_mem_buf(is.key_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	X509 *x = cert_from_pem(is.cert_pem);
	ck_assert_int_eq(X509_check_private_key(x, k), 1);
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_uint_eq(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	X509_free(x);
	EVP_PKEY_free(k);

	/* A name that would inject SAN entries or is neither IP nor DNS. */
	struct edge_pki_issued none = { 0 };
	static const char *const bad[] = { "a,DNS:evil.example", "a b", "", "-.-..", "x/y" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(edge_pki_issue_server(ca, &bad[i], 1, 825, &none, err,
						       sizeof(err)), -EINVAL);
	ck_assert_ptr_null(none.cert_pem);
	free(capem);
	edge_pki_issued_clear(&is);
	edge_pki_ca_free(ca);
}
END_TEST

START_TEST(node_cert_verifies)
{
	edge_pki_ca *ca = new_ca("gw"), *other = new_ca("gw");
	struct edge_pki_issued is = { 0 }, alien = { 0 };

	ck_assert_int_eq(edge_pki_issue_node(ca, "node-07_A", 365, &is, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_issue_node(other, "node-07_A", 365, &alien, err, sizeof(err)), 0);
	char *capem = ca_pem(ca);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_CLIENT, NULL, NULL, NULL),
			 X509_V_OK);
	ck_assert_int_eq(verify(capem, is.cert_pem, X509_PURPOSE_SSL_SERVER, NULL, NULL, NULL),
			 X509_V_ERR_INVALID_PURPOSE);
	/* Same CN, same CA name, another CA: refused. */
	ck_assert_int_eq(verify(capem, alien.cert_pem, X509_PURPOSE_SSL_CLIENT, NULL, NULL, NULL),
			 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

	X509 *x = cert_from_pem(is.cert_pem);
	char cn[128];
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
						   cn, sizeof(cn)), 0);
	ck_assert_str_eq(cn, "node-07_A");
	ck_assert_uint_eq(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	X509_free(x);

	/* Ids outside [A-Za-z0-9_-]{1,64} are refused before any key is made. */
	struct edge_pki_issued none = { 0 };
	static const char *const bad[] = { "", "a/b", "a+b", "#", "n 1", "%u", "n\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */ };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(edge_pki_issue_node(ca, bad[i], 365, &none, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "node id"));
	}
	ck_assert_int_eq(edge_pki_issue_node(ca, NULL, 365, &none, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(edge_pki_issue_node(ca, "ok", 0, &none, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(none.cert_pem);
	ck_assert_ptr_null(none.key_pem);
	free(capem);
	edge_pki_issued_clear(&is);
	edge_pki_issued_clear(&alien);
	edge_pki_ca_free(other);
	edge_pki_ca_free(ca);
}
END_TEST

/* ---- CRL */

START_TEST(crl_revokes)
{
	edge_pki_ca *ca = new_ca("gw");
	struct edge_pki_issued bad = { 0 }, good = { 0 };
	char p[PATH_MAX];

	path("ca.crl", p);
	ck_assert_int_eq(edge_pki_issue_node(ca, "bad", 365, &bad, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_issue_node(ca, "good", 365, &good, err, sizeof(err)), 0);
	/* Case-insensitive hex; an empty CRL is valid too. */
	char lower[EDGE_PKI_SERIAL_HEX_MAX];
	for (size_t i = 0; i <= strlen(bad.serial); i++)
		lower[i] = (char)tolower((unsigned char)bad.serial[i]);
	const char *serials[] = { lower, "0A" };
	ck_assert_int_eq(edge_pki_crl_write(ca, NULL, 0, 30, 1, p, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_pki_crl_write(ca, serials, 2, 30, 2, p, err, sizeof(err)), 0);
	ck_assert_uint_eq(file_mode(p), 0644);

	BIO *b = BIO_new_mem_buf(slurp(p), -1);
	X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert(crl != NULL);
	ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	X509 *xb = cert_from_pem(bad.cert_pem), *xg = cert_from_pem(good.cert_pem);
	X509_REVOKED *r = NULL;
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &r, xb), 1);
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &r, xg), 0);
	char *capem = ca_pem(ca);
	X509 *cax = cert_from_pem(capem);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(cax)), 1);
	ck_assert_int_eq(verify(capem, bad.cert_pem, X509_PURPOSE_SSL_CLIENT, crl, NULL, NULL),
			 X509_V_ERR_CERT_REVOKED);
	ck_assert_int_eq(verify(capem, good.cert_pem, X509_PURPOSE_SSL_CLIENT, crl, NULL, NULL),
			 X509_V_OK);
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	ck_assert(num && ASN1_INTEGER_get(num) == 2);
	ASN1_INTEGER_free(num);

	/* A bad serial refuses the whole CRL and keeps the old file. */
	const char *junk[] = { "12", "xyz" };
	ck_assert_int_eq(edge_pki_crl_write(ca, junk, 2, 30, 3, p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "xyz"));
	const char *empty[] = { "" };
	ck_assert_int_eq(edge_pki_crl_write(ca, empty, 1, 30, 3, p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(edge_pki_crl_write(ca, NULL, 0, 0, 3, p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(temp_files(), 0);
	X509_free(cax);
	free(capem);
	X509_free(xb);
	X509_free(xg);
	X509_CRL_free(crl);
	edge_pki_issued_clear(&bad);
	edge_pki_issued_clear(&good);
	edge_pki_ca_free(ca);
}
END_TEST

/* ---- passwords */

START_TEST(password_hash_verify)
{
	char pw[EDGE_PKI_PASSWORD_LEN + 1], pw2[EDGE_PKI_PASSWORD_LEN + 1];
	char h[EDGE_PKI_PWHASH_MAX], h2[EDGE_PKI_PWHASH_MAX];

	ck_assert_int_eq(edge_pki_password_generate(pw), 0);
	ck_assert_int_eq(edge_pki_password_generate(pw2), 0);
	ck_assert_uint_eq(strlen(pw), 24);
	ck_assert_uint_eq(strspn(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789-_"), 24);
	ck_assert_str_ne(pw, pw2);

	ck_assert_int_eq(edge_pki_password_hash(pw, h, sizeof(h)), 0);
	ck_assert_int_eq(edge_pki_password_hash(pw, h2, sizeof(h2)), 0);
	ck_assert_str_ne(h, h2); /* new salt each time */
	/* $7$101$<16 base64 = 12 bytes>$<88 base64 = 64 bytes> */
	ck_assert_int_eq(strncmp(h, "$7$101$", 7), 0);
	ck_assert_uint_eq(strlen(h), 7 + 16 + 1 + 88);
	ck_assert_int_eq(h[7 + 16], '$');
	ck_assert_int_eq(edge_pki_password_verify(pw, h), 0);
	ck_assert_int_eq(edge_pki_password_verify(pw, h2), 0);
	ck_assert_int_eq(edge_pki_password_verify(pw2, h), EDGE_EAUTH);
	ck_assert_int_eq(edge_pki_password_verify("", h), EDGE_EAUTH);

	/* Written by Debian's mosquitto_passwd 2.0.11 (`-b file u1 secret`). */
	static const char golden[] = "$7$101$a5GX7mJ8na+4fBlE$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE"
				     "9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==";
	ck_assert_int_eq(edge_pki_password_verify("secret", golden), 0);
	ck_assert_int_eq(edge_pki_password_verify("Secret", golden), EDGE_EAUTH);

	static const char *const malformed[] = {
		"", "$6$abc$def", "$7$", "$7$101$", "$7$0$a5GX7mJ8na+4fBlE$MKJm",
		"$7$101$a5GX7mJ8na+4fBlE$short==",
		"$7$ 101$a5GX7mJ8na+4fBlE$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==",
		"$7$+101$a5GX7mJ8na+4fBlE$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==",
		"$7$1000001$a5GX7mJ8na+4fBlE$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==",
		"$7$-1$a5GX7mJ8na+4fBlE$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==",
		"$7$101$$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==",
		"$7$101$a5GX7mJ8na+4fBlE$MKJmCsj+vNM581zEvSOFAom8oX/CznPKE9Q7ddVnxKYEfsOVgUx/Z196xDvFejFL08Yx++IGpl8ZLZyhlgB4EQ==\n",
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		ck_assert_msg(edge_pki_password_verify("secret", malformed[i]) == -EINVAL,
			      "accepted '%s'", malformed[i]);
	ck_assert_int_eq(edge_pki_password_verify("secret", NULL), -EINVAL);
	ck_assert_int_eq(edge_pki_password_hash("", h, sizeof(h)), -EINVAL);
	ck_assert_int_eq(edge_pki_password_hash(pw, h, 64), -ENOSPC);
}
END_TEST

/* A hash mosquitto_passwd writes now verifies with ours (and the other way
 * round is the broker test). */
START_TEST(password_matches_mosquitto_passwd)
{
	char p[PATH_MAX], cmd[PATH_MAX * 2];

	path("mp", p);
	ck_assert_int_eq(edge_pki_write_file(p, "", 0, 0600, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "mosquitto_passwd -b '%s' node-1 'pa$$ word' >/dev/null 2>&1", p);
	ck_assert_msg(system(cmd) == 0, "mosquitto_passwd failed (package mosquitto)");
	char *line = slurp(p);
	ck_assert_int_eq(strncmp(line, "node-1:$7$101$", 14), 0);
	line[strcspn(line, "\n")] = '\0';
	ck_assert_int_eq(edge_pki_password_verify("pa$$ word", line + 7), 0);
	ck_assert_int_eq(edge_pki_password_verify("pa$$ Word", line + 7), EDGE_EAUTH);
}
END_TEST

START_TEST(passwd_file)
{
	char p[PATH_MAX], h1[EDGE_PKI_PWHASH_MAX], h2[EDGE_PKI_PWHASH_MAX], want[512];

	path("passwd", p);
	ck_assert_int_eq(edge_pki_password_hash("one", h1, sizeof(h1)), 0);
	ck_assert_int_eq(edge_pki_password_hash("two", h2, sizeof(h2)), 0);
	struct edge_pki_user users[] = { { "edged", h1 }, { "node-1", h2 } };
	ck_assert_int_eq(edge_pki_passwd_write(p, users, 2, 0640, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "edged:%s\nnode-1:%s\n", h1, h2);
	ck_assert_str_eq(slurp(p), want);
	ck_assert_uint_eq(file_mode(p), 0640);
	ck_assert_int_eq(edge_pki_passwd_write(p, NULL, 0, 0640, err, sizeof(err)), 0);
	ck_assert_str_eq(slurp(p), "");

	/* Refused whole; the file is unchanged. */
	struct edge_pki_user dup[] = { { "a", h1 }, { "b", h2 }, { "a", h2 } };
	ck_assert_int_eq(edge_pki_passwd_write(p, dup, 3, 0640, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	struct edge_pki_user colon[] = { { "a:b", h1 } };
	ck_assert_int_eq(edge_pki_passwd_write(p, colon, 1, 0640, err, sizeof(err)), -EINVAL);
	struct edge_pki_user plain[] = { { "a", "secret" } };
	ck_assert_int_eq(edge_pki_passwd_write(p, plain, 1, 0640, err, sizeof(err)), -EINVAL);
	struct edge_pki_user nl[] = { { "a", "$7$101$a5GX7mJ8na+4fBlE$x\nb:c" } };
	ck_assert_int_eq(edge_pki_passwd_write(p, nl, 1, 0640, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(slurp(p), "");
}
END_TEST

/* ---- ACL */

START_TEST(acl_table_follows_protocol)
{
	size_t n;
	const struct edge_pki_acl_rule *r = edge_pki_acl_rules(&n);
	unsigned covered[EDGE_TOPIC_TYPE_COUNT] = { 0 };

	for (size_t i = 0; i < n; i++) {
		enum edge_topic_dir dir = edge_topic_direction(r[i].type);
		if (r[i].access == EDGE_PKI_ACL_WRITE)
			ck_assert_msg(dir & EDGE_TOPIC_TO_GATEWAY, "node may write %s",
				      edge_topic_type_name(r[i].type));
		else
			ck_assert_msg(dir & EDGE_TOPIC_TO_NODE, "node may read %s",
				      edge_topic_type_name(r[i].type));
		covered[r[i].type] |= r[i].access;

		/* A concrete topic of the rule parses back to its type. */
		char t[EDGE_TOPIC_MAX_LEN];
		const char *sub = r[i].sub[0] == '\0' ? "" : r[i].sub;
		snprintf(t, sizeof(t), "edge/v1/n1/%s%s%s", edge_topic_type_name(r[i].type),
			 sub[0] ? "/" : "", sub);
		char *hash = strstr(t, "#");
		if (hash)
			memcpy(hash, "x", 2);
		struct edge_topic parsed;
		enum edge_msg_reject why;
		ck_assert_msg(edge_topic_parse(t, strlen(t), &parsed, &why) == 0, "%s", t);
		ck_assert_int_eq(parsed.type, r[i].type);
	}
	/* Every type of the tree has its rule in each of its directions. */
	for (int t = EDGE_TOPIC_NONE + 1; t < EDGE_TOPIC_TYPE_COUNT; t++) {
		unsigned want = 0, dir = edge_topic_direction((enum edge_topic_type)t);
		if (dir & EDGE_TOPIC_TO_GATEWAY)
			want |= EDGE_PKI_ACL_WRITE;
		if (dir & EDGE_TOPIC_TO_NODE)
			want |= EDGE_PKI_ACL_READ;
		ck_assert_msg(covered[t] == want, "type %s: rules %u, protocol %u",
			      edge_topic_type_name((enum edge_topic_type)t), covered[t], want);
	}
}
END_TEST

START_TEST(acl_file)
{
	char p[PATH_MAX];
	struct edge_pki_acl_options o = { .gateway_user = "edged" };

	path("acl", p);
	ck_assert_int_eq(edge_pki_acl_write(p, &o, 0644, err, sizeof(err)), 0);
	ck_assert_uint_eq(file_mode(p), 0644);
	const char *text = slurp(p);
	static const char *const lines[] = {
		"\npattern write edge/v1/%u/hello\n",
		"\npattern write edge/v1/%u/status\n",
		"\npattern write edge/v1/%u/heartbeat\n",
		"\npattern write edge/v1/%u/report\n",
		"\npattern write edge/v1/%u/ota/req/#\n",
		"\npattern write edge/v1/%u/infer/req\n",
		"\npattern write edge/v1/%u/infer/verify\n",
		"\npattern read edge/v1/%u/registered\n",
		"\npattern read edge/v1/%u/ack\n",
		"\npattern read edge/v1/%u/ota/#\n",
		"\npattern read edge/v1/%u/infer/resp\n",
		"\npattern read edge/v1/_campaign/#\n",
		"\nuser edged\ntopic readwrite edge/v1/#\ntopic read $SYS/broker/connection/#\n",
		"\ntopic write $SYS/broker/connection/+/state\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_msg(strstr(text, lines[i]), "missing %s in\n%s", lines[i], text);
	/* Nothing else grants access (comments and blank lines aside). */
	int grants = 0;
	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (*l != '#' && *l != '\n')
			grants++;
		if (!strchr(l, '\n'))
			break;
	}
	ck_assert_int_eq(grants, 16);
	/* Campaign frames: read for every node, written by none. */
	ck_assert_ptr_null(strstr(text, "write edge/v1/_campaign"));

	o.prefix = "site-3/edge/v1";
	o.gateway_user = "gw_1";
	char *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(edge_pki_acl_render(&o, &out, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert_ptr_nonnull(strstr(out, "\npattern write site-3/edge/v1/%u/hello\n"));
	ck_assert_ptr_nonnull(strstr(out, "\npattern read site-3/edge/v1/_campaign/#\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nuser gw_1\ntopic readwrite site-3/edge/v1/#\n"));
	free(out);

	static const char *const bad_prefix[] = { "", "/edge", "edge/", "edge//v1", "edge/#",
		"edge/+", "e dge", "edge\nuser x", "%u" };
	for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		o.prefix = bad_prefix[i];
		ck_assert_msg(edge_pki_acl_render(&o, &out, NULL, err, sizeof(err)) == -EINVAL,
			      "accepted prefix '%s'", bad_prefix[i]);
	}
	o.prefix = NULL;
	o.gateway_user = "a b";
	ck_assert_int_eq(edge_pki_acl_render(&o, &out, NULL, err, sizeof(err)), -EINVAL);
	o.gateway_user = NULL;
	ck_assert_int_eq(edge_pki_acl_write(p, &o, 0644, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(slurp(p), text);
}
END_TEST

static Suite *pki_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc = tcase_create("pki");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ca_round_trip);
	tcase_add_test(tc, ca_load_refuses);
	tcase_add_test(tc, ca_save_half_done);
	tcase_add_test(tc, ca_create_refuses);
	tcase_add_test(tc, write_failure_leaves_old_file);
	tcase_add_test(tc, server_cert_verifies);
	tcase_add_test(tc, node_cert_verifies);
	tcase_add_test(tc, crl_revokes);
	tcase_add_test(tc, password_hash_verify);
	tcase_add_test(tc, password_matches_mosquitto_passwd);
	tcase_add_test(tc, passwd_file);
	tcase_add_test(tc, acl_table_follows_protocol);
	tcase_add_test(tc, acl_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(pki_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
