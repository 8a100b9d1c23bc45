/* Suite 'identity': the identity table, the broker files rendered from it
 * (passwd, acl with the deny pair of revoked certificates, the CRL), batch
 * preparation of secrets (hashes that verify, certificates with CN = id
 * signed by the CA), rotation, and the rows through a real store file. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/pem.h>
#include <sqlite3.h>
#include <openssl/x509.h>

#include "edge_identity.h"
#include "edge_identity_batch.h"
#include "edge_identity_render.h"
#include "edge_identity_sql.h"
#include "edge_pki_passwd.h"
#include "edge_store.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define NOW 1800000000000LL
/* A valid $7$ hash of "secret" (any $7$ string passes the table). */
static char gw_hash[EDGE_PKI_PWHASH_MAX];

static struct edge_identity pw_rec(const char *id, enum edge_identity_state state)
{
	struct edge_identity r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	r.kind = EDGE_IDENTITY_PASSWORD;
	r.state = state;
	snprintf(r.password_hash, sizeof r.password_hash, "$7$101$c2FsdA==$%s", id);
	r.created_ms = NOW;
	r.revoked_ms = state == EDGE_IDENTITY_REVOKED ? NOW + 1 : 0;
	r.generation = 1;
	return r;
}

static struct edge_identity cert_rec(const char *id, const char *serial,
				     enum edge_identity_state state)
{
	struct edge_identity r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	r.kind = EDGE_IDENTITY_CERTIFICATE;
	r.state = state;
	snprintf(r.cert_serial, sizeof r.cert_serial, "%s", serial);
	memset(r.cert_fingerprint, 'a', 64);
	r.cert_not_after_ms = NOW + 86400000;
	r.created_ms = NOW;
	r.revoked_ms = state == EDGE_IDENTITY_REVOKED ? NOW + 2 : 0;
	r.generation = 1;
	return r;
}

static void setup(void)
{
	test_db_setup();
	if (!gw_hash[0])
		ck_assert_int_eq(edge_pki_password_hash("secret", gw_hash, sizeof gw_hash), 0);
}

static void teardown(void)
{
	test_db_teardown();
}

START_TEST(table_put_get_counts)
{
	edge_identity_table *t = edge_identity_table_new();
	struct edge_identity a = pw_rec("a", EDGE_IDENTITY_ACTIVE);
	struct edge_identity b = cert_rec("b", "1F", EDGE_IDENTITY_REVOKED);
	struct edge_identity_counts c;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(edge_identity_table_put(t, &a), 0);
	ck_assert_int_eq(edge_identity_table_put(t, &b), 0);
	ck_assert_ptr_null(edge_identity_table_get(t, "c"));
	ck_assert_str_eq(edge_identity_table_get(t, "b")->cert_serial, "1F");
	edge_identity_table_counts(t, &c);
	ck_assert_uint_eq(c.active, 1);
	ck_assert_uint_eq(c.revoked, 1);
	ck_assert_uint_eq(c.password, 1);
	ck_assert_uint_eq(c.certificate, 1);

	/* Replacing keeps one record and moves the counts. */
	a.state = EDGE_IDENTITY_REVOKED;
	a.revoked_ms = NOW + 5;
	ck_assert_int_eq(edge_identity_table_put(t, &a), 0);
	ck_assert_uint_eq(edge_identity_table_size(t), 2);
	edge_identity_table_counts(t, &c);
	ck_assert_uint_eq(c.active, 0);
	ck_assert_uint_eq(c.revoked, 2);
	ck_assert_str_eq(edge_identity_table_at(t, 0)->id, "a");
	edge_identity_table_free(t);
}
END_TEST

START_TEST(table_refuses_bad_records)
{
	edge_identity_table *t = edge_identity_table_new();
	struct edge_identity r = pw_rec("ok", EDGE_IDENTITY_ACTIVE);

	snprintf(r.id, sizeof r.id, "bad/id");
	ck_assert_int_eq(edge_identity_table_put(t, &r), -EINVAL);
	r = pw_rec("ok", EDGE_IDENTITY_ACTIVE);
	r.password_hash[0] = '\0';
	ck_assert_int_eq(edge_identity_table_put(t, &r), -EINVAL);
	r = pw_rec("ok", EDGE_IDENTITY_ACTIVE);
	r.revoked_ms = NOW; /* active with a revocation time */
	ck_assert_int_eq(edge_identity_table_put(t, &r), -EINVAL);
	r = cert_rec("ok", "XYZ", EDGE_IDENTITY_ACTIVE);
	ck_assert_int_eq(edge_identity_table_put(t, &r), -EINVAL);
	ck_assert_uint_eq(edge_identity_table_size(t), 0);
	ck_assert_int_eq(edge_identity_table_add_revoked_serial(t, "G1"), -EINVAL);
	ck_assert_int_eq(edge_identity_table_add_revoked_serial(t, ""), -EINVAL);
	edge_identity_table_free(t);
}
END_TEST

START_TEST(table_grows)
{
	edge_identity_table *t = edge_identity_table_new();
	char id[32], serial[16];

	for (int i = 0; i < 5000; i++) {
		struct edge_identity r;

		snprintf(id, sizeof id, "node-%05d", i);
		r = pw_rec(id, EDGE_IDENTITY_ACTIVE);
		ck_assert_int_eq(edge_identity_table_put(t, &r), 0);
		snprintf(serial, sizeof serial, "%X", i + 1);
		ck_assert_int_eq(edge_identity_table_add_revoked_serial(t, serial), 0);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "node-%05d", i);
		ck_assert_ptr_nonnull(edge_identity_table_get(t, id));
	}
	ck_assert_uint_eq(edge_identity_table_size(t), 5000);
	/* A serial is kept once, whatever its case. */
	ck_assert_int_eq(edge_identity_table_add_revoked_serial(t, "abc"), 0);
	ck_assert_int_eq(edge_identity_table_add_revoked_serial(t, "ABC"), 0);
	ck_assert_uint_eq(edge_identity_table_revoked_count(t), 5000);
	edge_identity_table_free(t);
}
END_TEST

START_TEST(render_passwd)
{
	edge_identity_table *t = edge_identity_table_new();
	struct edge_identity r[] = {
		pw_rec("zeta", EDGE_IDENTITY_ACTIVE),
		pw_rec("alpha", EDGE_IDENTITY_ACTIVE),
		pw_rec("gone", EDGE_IDENTITY_REVOKED),
		cert_rec("tls", "AB", EDGE_IDENTITY_ACTIVE),
	};
	char *out, want[2048], found[EDGE_PKI_PWHASH_MAX];
	size_t len;

	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(edge_identity_table_put(t, &r[i]), 0);
	ck_assert_int_eq(edge_identity_render_passwd(t, "edged", gw_hash, &out, &len), 0);
	/* Gateway first, then active password nodes by id. */
	snprintf(want, sizeof want, "edged:%s\nalpha:%s\nzeta:%s\n", gw_hash, r[1].password_hash,
		 r[0].password_hash);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(edge_identity_passwd_lookup(out, len, "zeta", found));
	ck_assert_str_eq(found, r[0].password_hash);
	ck_assert(!edge_identity_passwd_lookup(out, len, "gone", found));
	ck_assert(!edge_identity_passwd_lookup(out, len, "zet", found));
	free(out);
	/* edged's user may not also be a node's. */
	ck_assert_int_eq(edge_identity_render_passwd(t, "alpha", gw_hash, &out, &len), -EINVAL);
	ck_assert_int_eq(edge_identity_render_passwd(t, "edged", "plain", &out, &len), -EINVAL);
	edge_identity_table_free(t);
}
END_TEST

START_TEST(render_acl_denies_revoked_certificates)
{
	edge_identity_table *t = edge_identity_table_new();
	struct edge_identity r[] = {
		cert_rec("live", "A1", EDGE_IDENTITY_ACTIVE),
		cert_rec("dead-2", "A2", EDGE_IDENTITY_REVOKED),
		cert_rec("dead-1", "A3", EDGE_IDENTITY_REVOKED),
		pw_rec("pw-gone", EDGE_IDENTITY_REVOKED),
	};
	char *out, *p1, *p2, e[256];
	size_t len;

	ck_assert_int_eq(edge_identity_render_acl(t, NULL, "edged", &out, &len, e, sizeof e), 0);
	ck_assert_ptr_null(strstr(out, "topic deny"));
	ck_assert_ptr_nonnull(strstr(out, "pattern write edge/v1/%u/hello"));
	free(out);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(edge_identity_table_put(t, &r[i]), 0);
	ck_assert_int_eq(edge_identity_render_acl(t, "site/v1", "edged", &out, &len, e, sizeof e),
			 0);
	ck_assert_uint_eq(len, strlen(out));
	p1 = strstr(out, "user dead-1\ntopic deny site/v1/dead-1/#\n");
	p2 = strstr(out, "user dead-2\ntopic deny site/v1/dead-2/#\n");
	ck_assert_ptr_nonnull(p1);
	ck_assert_ptr_nonnull(p2);
	ck_assert(p1 < p2); /* sorted by id */
	/* After the gateway's own section; nothing for the live certificate or
	 * for a password node (it is out of the password file). */
	ck_assert(strstr(out, "user edged\n") < p1);
	ck_assert_ptr_null(strstr(out, "user live"));
	ck_assert_ptr_null(strstr(out, "user pw-gone"));
	free(out);
	ck_assert_int_eq(edge_identity_render_acl(t, "bad prefix", "edged", &out, &len, e,
						  sizeof e), -EINVAL);
	edge_identity_table_free(t);
}
END_TEST

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	ck_assert_ptr_nonnull(x);
	return x;
}

START_TEST(prepare_passwords_and_certificates)
{
	struct edge_identity_grant g[3];
	edge_pki_ca *ca;
	char *ca_pem, cn[80], fp[EDGE_PKI_FINGERPRINT_LEN], e[256];
	X509 *cax, *x;
	int64_t now = (int64_t)time(NULL) * 1000;

	memset(g, 0, sizeof g);
	snprintf(g[0].id, sizeof g[0].id, "pw-1");
	g[0].kind = EDGE_IDENTITY_PASSWORD;
	snprintf(g[1].id, sizeof g[1].id, "pw-2");
	g[1].kind = EDGE_IDENTITY_PASSWORD;
	snprintf(g[2].id, sizeof g[2].id, "cert-1");
	g[2].kind = EDGE_IDENTITY_CERTIFICATE;
	/* A certificate without a CA: nothing prepared. */
	ck_assert_int_eq(edge_identity_prepare(g, 3, NULL, 30, e, sizeof e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e, "cert-1"));
	ck_assert_str_eq(g[0].password, "");

	ck_assert_int_eq(edge_pki_ca_create("test", 365, &ca, NULL, 0), 0);
	ck_assert_int_eq(edge_identity_prepare(g, 3, ca, 30, e, sizeof e), 0);
	ck_assert_uint_eq(strlen(g[0].password), EDGE_PKI_PASSWORD_LEN);
	ck_assert_str_ne(g[0].password, g[1].password);
	ck_assert_int_eq(edge_pki_password_verify(g[0].password, g[0].password_hash), 0);
	ck_assert_int_eq(edge_pki_password_verify(g[1].password, g[1].password_hash), 0);
	ck_assert_int_eq(edge_pki_password_verify(g[1].password, g[0].password_hash), EDGE_EAUTH);

	ck_assert_int_eq(edge_pki_ca_cert_pem(ca, &ca_pem, NULL), 0);
	cax = pem_cert(ca_pem);
	x = pem_cert(g[2].cert.cert_pem);
	ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(cax)), 1);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
						   sizeof cn), 0);
	ck_assert_str_eq(cn, "cert-1");
	ck_assert_ptr_nonnull(strstr(g[2].cert.key_pem, "PRIVATE KEY"));
	/* notAfter: 30 days from now (give or take the test's own time). */
	ck_assert(g[2].cert_not_after_ms > now + 30LL * 86400000 - 120000);
	ck_assert(g[2].cert_not_after_ms < now + 30LL * 86400000 + 120000);
	ck_assert_int_eq(edge_identity_cert_info(g[2].cert.cert_pem, g[2].cert.cert_len, NULL, fp),
			 0);
	ck_assert_str_eq(fp, g[2].cert.fingerprint);
	ck_assert_int_eq(edge_identity_cert_info("junk", 4, NULL, fp), -EBADMSG);

	edge_identity_grants_clear(g, 3);
	ck_assert_str_eq(g[0].password, "");
	ck_assert_ptr_null(g[2].cert.key_pem);
	X509_free(x);
	X509_free(cax);
	free(ca_pem);
	edge_pki_ca_free(ca);
}
END_TEST

START_TEST(grant_rotation)
{
	struct edge_identity_grant g;
	struct edge_identity rec, rot;
	char replaced[EDGE_PKI_SERIAL_HEX_MAX];
	struct edge_identity old = cert_rec("n", "C0FFEE", EDGE_IDENTITY_REVOKED);

	memset(&g, 0, sizeof g);
	snprintf(g.id, sizeof g.id, "n");
	g.kind = EDGE_IDENTITY_PASSWORD;
	snprintf(g.password_hash, sizeof g.password_hash, "%s", gw_hash);
	edge_identity_from_grant(NULL, &g, NOW, &rec, replaced);
	ck_assert_int_eq(rec.generation, 1);
	ck_assert_int_eq(rec.created_ms, NOW);
	ck_assert_int_eq(rec.rotated_ms, 0);
	ck_assert_str_eq(replaced, "");
	/* A revoked certificate node rotated to a password: active again, its
	 * old serial for the CRL. */
	old.generation = 4;
	edge_identity_from_grant(&old, &g, NOW + 10, &rot, replaced);
	ck_assert_int_eq(rot.state, EDGE_IDENTITY_ACTIVE);
	ck_assert_int_eq(rot.kind, EDGE_IDENTITY_PASSWORD);
	ck_assert_int_eq(rot.revoked_ms, 0);
	ck_assert_int_eq(rot.generation, 5);
	ck_assert_int_eq(rot.created_ms, NOW);
	ck_assert_int_eq(rot.rotated_ms, NOW + 10);
	ck_assert_str_eq(rot.cert_serial, "");
	ck_assert_str_eq(replaced, "C0FFEE");
}
END_TEST

START_TEST(file_sync_writes_only_changes)
{
	char path[PATH_MAX + 64], e[256];
	struct stat st;

	test_tmpdir_path(&test_db_dir, "passwd", path, sizeof path);
	ck_assert_int_eq(edge_identity_file_sync(path, "a\n", 2, 0640, e, sizeof e), 1);
	ck_assert_int_eq(edge_identity_file_sync(path, "a\n", 2, 0640, e, sizeof e), 0);
	ck_assert_int_eq(edge_identity_file_sync(path, "b\n", 2, 0640, e, sizeof e), 1);
	/* Same content, other mode: rewritten with the mode asked for. */
	ck_assert_int_eq(edge_identity_file_sync(path, "b\n", 2, 0600, e, sizeof e), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	test_tmpdir_path(&test_db_dir, "missing/passwd", path, sizeof path);
	ck_assert_int_eq(edge_identity_file_sync(path, "b\n", 2, 0600, e, sizeof e), -ENOENT);
	ck_assert_ptr_nonnull(strstr(e, "missing"));
}
END_TEST

/* The serials in a CRL file, as one sorted comma-joined string. */
static void crl_list(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	X509_CRL *crl;
	STACK_OF(X509_REVOKED) *rev;

	ck_assert_ptr_nonnull(f);
	crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(crl);
	out[0] = '\0';
	rev = X509_CRL_get_REVOKED(crl);
	for (int i = 0; rev && i < sk_X509_REVOKED_num(rev); i++) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(
			X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, i)), NULL);
		char *hex = BN_bn2hex(bn);

		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", hex);
		OPENSSL_free(hex);
		BN_free(bn);
	}
	X509_CRL_free(crl);
}

START_TEST(crl_sync)
{
	edge_pki_ca *ca, *other;
	/* Serials as lib/pki gives them: a leading zero digit may stay. */
	const char *one[] = { "01A2B" }, *two[] = { "01A2B", "3C4D" };
	char path[PATH_MAX + 64], e[256], list[256];

	ck_assert_int_eq(edge_pki_ca_create("test", 365, &ca, NULL, 0), 0);
	ck_assert_int_eq(edge_pki_ca_create("other", 365, &other, NULL, 0), 0);
	test_tmpdir_path(&test_db_dir, "ca.crl", path, sizeof path);
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, NULL, 0, 3650, e, sizeof e), 1);
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, NULL, 0, 3650, e, sizeof e), 0);
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, one, 1, 3650, e, sizeof e), 1);
	crl_list(path, list, sizeof list);
	ck_assert_str_eq(list, "1A2B");
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, one, 1, 3650, e, sizeof e), 0);
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, two, 2, 3650, e, sizeof e), 1);
	crl_list(path, list, sizeof list);
	ck_assert_str_eq(list, "1A2B,3C4D");
	/* Another CA's key did not sign it: written again. */
	ck_assert_int_eq(edge_identity_crl_sync(other, path, two, 2, 3650, e, sizeof e), 1);
	/* A next update close at hand: signed again. */
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, two, 2, 10, e, sizeof e), 1);
	ck_assert_int_eq(edge_identity_crl_sync(ca, path, two, 2, 10, e, sizeof e), 1);
	edge_pki_ca_free(other);
	edge_pki_ca_free(ca);
}
END_TEST

/* ---- the rows through a real store ---- */

struct save_ctx {
	const struct edge_identity *recs;
	size_t n;
	const char *serial;
};

static int save_rows(edge_store_conn *conn, void *ud)
{
	struct save_ctx *c = ud;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < c->n; i++)
		rc = edge_identity_sql_put(conn, &c->recs[i]);
	if (rc == 0 && c->serial)
		rc = edge_identity_sql_revoke_serial(conn, c->serial, "x", NOW);
	return rc;
}

static int load_rows(edge_store_conn *conn, void *ud)
{
	return edge_identity_sql_load(conn, ud);
}

static int corrupt_row(edge_store_conn *conn, void *ud)
{
	sqlite3_stmt *st;
	int rc = edge_store_conn_prepare(conn, "UPDATE node_identity SET password_hash = '' "
					 "WHERE id = 'p'", &st);

	(void)ud;
	if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
		rc = -EIO;
	return rc;
}

START_TEST(sql_round_trip)
{
	struct edge_identity recs[] = {
		pw_rec("p", EDGE_IDENTITY_ACTIVE),
		cert_rec("c", "ABCDEF", EDGE_IDENTITY_REVOKED),
	};
	struct save_ctx ctx = { recs, 2, "ABCDEF" };
	edge_identity_table *t;
	edge_store *s;

	recs[0].rotated_ms = NOW + 7;
	recs[0].generation = 3;
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &s), 0);
	ck_assert_int_eq(edge_store_read(s, save_rows, &ctx), 0);
	/* Again: an upsert, and a serial already listed is no error. */
	ck_assert_int_eq(edge_store_read(s, save_rows, &ctx), 0);
	edge_store_close(s);

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &s), 0);
	t = edge_identity_table_new();
	ck_assert_int_eq(edge_store_read(s, load_rows, t), 0);
	ck_assert_uint_eq(edge_identity_table_size(t), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct edge_identity *got = edge_identity_table_get(t, recs[i].id);

		ck_assert_ptr_nonnull(got);
		ck_assert_mem_eq(got, &recs[i], sizeof recs[i]);
	}
	ck_assert_uint_eq(edge_identity_table_revoked_count(t), 1);
	ck_assert_str_eq(edge_identity_table_revoked_at(t, 0), "ABCDEF");
	edge_identity_table_free(t);

	/* A row the table refuses (a password node with an empty hash) fails
	 * the load as corrupt rather than being skipped. */
	ck_assert_int_eq(edge_store_read(s, corrupt_row, NULL), 0);
	t = edge_identity_table_new();
	ck_assert_int_eq(edge_store_read(s, load_rows, t), EDGE_ECORRUPT);
	edge_identity_table_free(t);
	edge_store_close(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, table_put_get_counts);
	tcase_add_test(tc, table_refuses_bad_records);
	tcase_add_test(tc, table_grows);
	tcase_add_test(tc, render_passwd);
	tcase_add_test(tc, render_acl_denies_revoked_certificates);
	tcase_add_test(tc, prepare_passwords_and_certificates);
	tcase_add_test(tc, grant_rotation);
	tcase_add_test(tc, file_sync_writes_only_changes);
	tcase_add_test(tc, crl_sync);
	tcase_add_test(tc, sql_round_trip);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TEXT, CK_NOFORK);
}
