/* Suite 'ota': keys, packing and verification of signed model packages
 * with real Ed25519/P-256 keys in a scratch directory and real models from
 * tests/data; each refusal is produced by one specific tampering. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "edge_infer.h"
#include "edge_ota_keys.h"
#include "edge_ota_pack.h"
#include "edge_ota_verify.h"
#include "test_data.h"
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

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A key saved as tmp/NAME.{key,pub}; its .pub joins trust when not NULL. */
static struct edge_ota_key *new_key(int alg, const char *name)
{
	struct edge_ota_key *k = NULL;
	ck_assert_int_eq(edge_ota_key_generate(alg, &k, err, sizeof(err)), 0);
	if (name) {
		char base[PATH_MAX];
		test_tmpdir_path(&tmp, name, base, sizeof(base));
		ck_assert_msg(edge_ota_key_save(k, base, err, sizeof(err)) == 0, "%s", err);
	}
	return k;
}

static const struct edge_ota_pack_args args = {
	.name = "hello", .version = "1.0.0", .counter = 7, .expires_ms = 0, .seed = 0,
};

static uint8_t *pack(const char *model, const struct edge_ota_pack_args *a,
		     struct edge_ota_key *const *keys, unsigned n, size_t *len)
{
	size_t ml;
	uint8_t *m = test_data_model(model, &ml);
	uint8_t *pkg = NULL;
	int rc = edge_ota_pack(m, ml, a, keys, n, &pkg, len, NULL, err, sizeof(err));
	ck_assert_msg(rc == 0, "pack: %d %s", rc, err);
	free(m);
	return pkg;
}

static enum edge_ota_verdict verify(const uint8_t *pkg, size_t len, unsigned threshold,
				    struct edge_ota_verify_result *r)
{
	struct edge_ota_trust t;
	edge_ota_trust_init(&t);
	ck_assert_msg(edge_ota_trust_load_dir(&t, tmp.dir, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(edge_ota_verify(pkg, len, &t, threshold, now_ms(), r), 0);
	edge_ota_trust_clear(&t);
	return r->verdict;
}

START_TEST(keys_save_load)
{
	static const int algs[] = { EDGE_OTA_SIG_ED25519, EDGE_OTA_SIG_ECDSA_P256 };
	for (unsigned i = 0; i < 2; i++) {
		char base[PATH_MAX], p[PATH_MAX + 8];
		test_tmpdir_path(&tmp, i ? "p" : "e", base, sizeof(base));
		struct edge_ota_key *k = new_key(algs[i], i ? "p" : "e");
		struct stat st;
		snprintf(p, sizeof(p), "%s.key", base);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0600);
		struct edge_ota_key *priv = NULL, *pub = NULL;
		ck_assert_int_eq(edge_ota_key_load_private(p, &priv, err, sizeof(err)), 0);
		snprintf(p, sizeof(p), "%s.pub", base);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0644);
		ck_assert_int_eq(edge_ota_key_load_public(p, &pub, err, sizeof(err)), 0);
		ck_assert(!edge_ota_key_has_private(pub));
		ck_assert_int_eq(edge_ota_key_alg(pub), algs[i]);
		ck_assert_mem_eq(edge_ota_key_id(pub), edge_ota_key_id(k), EDGE_OTA_KEY_ID_LEN);
		ck_assert_mem_eq(edge_ota_key_id(priv), edge_ota_key_id(k), EDGE_OTA_KEY_ID_LEN);
		/* never overwrites */
		ck_assert_int_eq(edge_ota_key_save(k, base, err, sizeof(err)), -EEXIST);

		uint8_t sig[EDGE_OTA_SIG_MAX];
		size_t sl = 0;
		ck_assert_int_eq(edge_ota_key_sign(priv, "abc", 3, sig, &sl, err, sizeof(err)), 0);
		ck_assert(edge_ota_key_verify(pub, algs[i], "abc", 3, sig, sl));
		ck_assert(!edge_ota_key_verify(pub, algs[i], "abd", 3, sig, sl));
		ck_assert(!edge_ota_key_verify(pub, algs[1 - i], "abc", 3, sig, sl));
		ck_assert_int_eq(edge_ota_key_sign(pub, "abc", 3, sig, &sl, err, sizeof(err)), -EINVAL);
		edge_ota_key_free(k);
		edge_ota_key_free(priv);
		edge_ota_key_free(pub);
	}
}
END_TEST

START_TEST(pack_verify_each_alg)
{
	static const int algs[] = { EDGE_OTA_SIG_ED25519, EDGE_OTA_SIG_ECDSA_P256 };
	struct edge_ota_key *k = new_key(algs[_i], "k");
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	struct edge_ota_verify_result r;
	ck_assert_msg(verify(pkg, len, 1, &r) == EDGE_OTA_OK, "%s: %s",
		      edge_ota_verdict_name(r.verdict), r.detail);
	ck_assert_uint_eq(r.n_valid, 1);
	ck_assert(r.sigs[0].trusted && r.sigs[0].valid);
	ck_assert_int_eq(r.sigs[0].alg, algs[_i]);
	ck_assert_str_eq(r.manifest.name, "hello");
	ck_assert_str_eq(r.manifest.runtime, "tflm");
	ck_assert_uint_eq(r.manifest.counter, 7);
	ck_assert_uint_ne(r.manifest.selftest_seed, 0);
	ck_assert_uint_ge(r.manifest.n_ops, 1);
	ck_assert_uint_eq(r.manifest.n_inputs, 1);
	ck_assert_str_eq(r.manifest.inputs[0].type, "int8");
	ck_assert_uint_gt(r.manifest.arena_bytes, 0);
	free(pkg);
	edge_ota_key_free(k);
}
END_TEST

START_TEST(two_keys_threshold_two)
{
	struct edge_ota_key *k[2] = { new_key(EDGE_OTA_SIG_ED25519, "a"),
				      new_key(EDGE_OTA_SIG_ECDSA_P256, "b") };
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, k, 2, &len);
	struct edge_ota_verify_result r;
	ck_assert_msg(verify(pkg, len, 2, &r) == EDGE_OTA_OK, "%s", r.detail);
	ck_assert_uint_eq(r.n_valid, 2);
	ck_assert_int_eq(verify(pkg, len, 3, &r), EDGE_OTA_THRESHOLD_NOT_MET);
	free(pkg);
	edge_ota_key_free(k[0]);
	edge_ota_key_free(k[1]);
}
END_TEST

START_TEST(selftest_reproducible)
{
	size_t ml;
	uint8_t *m = test_data_model("hello_world_int8.tflite", &ml);
	struct edge_ota_pack_args a = args;
	a.seed = 12345;
	struct edge_ota_manifest m1, m2;
	ck_assert_int_eq(edge_ota_manifest_from_model(m, ml, &a, &m1, err, sizeof(err)), 0);
	ck_assert_int_eq(edge_ota_manifest_from_model(m, ml, &a, &m2, err, sizeof(err)), 0);
	ck_assert_str_eq(m1.selftest_output_sha256, m2.selftest_output_sha256);
	a.seed = 54321;
	ck_assert_int_eq(edge_ota_manifest_from_model(m, ml, &a, &m2, err, sizeof(err)), 0);
	ck_assert_str_ne(m1.selftest_output_sha256, m2.selftest_output_sha256);
	free(m);
}
END_TEST

START_TEST(refuses_unloadable_model)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, NULL);
	size_t ml, len = 0;
	uint8_t *m = test_data_model("mnist_lstm_int8.tflite", &ml), *pkg = NULL;
	int rc = edge_ota_pack(m, ml, &args, &k, 1, &pkg, &len, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, EDGE_INFER_EUNSUPPORTED);
	ck_assert_ptr_null(pkg);
	ck_assert_ptr_nonnull(strstr(err, "EDGE_INFER_EUNSUPPORTED"));
	free(m);
	edge_ota_key_free(k);
}
END_TEST

START_TEST(flipped_manifest_byte)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, "k");
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	/* "1.0.0" -> "1.0.1": still a valid manifest, no longer the signed one */
	uint8_t *v = memmem(pkg, len, "\"1.0.0\"", 7);
	ck_assert_ptr_nonnull(v);
	v[5] = '1';
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(pkg, len, 1, &r), EDGE_OTA_BAD_SIGNATURE);
	ck_assert(r.sigs[0].trusted && !r.sigs[0].valid);
	ck_assert(r.manifest_ok);
	free(pkg);
	edge_ota_key_free(k);
}
END_TEST

START_TEST(flipped_model_byte)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ECDSA_P256, "k");
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	pkg[len - 100] ^= 0x01;
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(pkg, len, 1, &r), EDGE_OTA_HASH_MISMATCH);
	free(pkg);
	edge_ota_key_free(k);
}
END_TEST

START_TEST(mix_and_match)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, "k");
	size_t la, lb;
	uint8_t *a = pack("hello_world_int8.tflite", &args, &k, 1, &la);
	uint8_t *b = pack("simple_add.tflite", &args, &k, 1, &lb);
	struct edge_ota_container ca, cb;
	struct edge_msg_error pe;
	ck_assert_int_eq(edge_ota_container_parse(a, la, &ca, &pe), 0);
	ck_assert_int_eq(edge_ota_container_parse(b, lb, &cb, &pe), 0);
	/* B's signed manifest (and signatures) with A's model */
	struct edge_ota_sig_in s = { .alg = cb.sigs[0].alg, .sig_len = cb.sigs[0].sig_len };
	memcpy(s.key_id, cb.sigs[0].key_id, EDGE_OTA_KEY_ID_LEN);
	memcpy(s.sig, cb.sigs[0].sig, s.sig_len);
	uint8_t *mix = NULL;
	size_t lm = 0;
	ck_assert_int_eq(edge_ota_assemble(cb.manifest, cb.manifest_len, &s, 1, ca.model,
					   (size_t)ca.model_len, &mix, &lm), 0);
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(mix, lm, 1, &r), EDGE_OTA_SIZE_MISMATCH);
	free(mix);
	free(a);
	free(b);
	edge_ota_key_free(k);
}
END_TEST

START_TEST(unknown_key)
{
	struct edge_ota_key *trusted = new_key(EDGE_OTA_SIG_ED25519, "trusted");
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, NULL);
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(pkg, len, 1, &r), EDGE_OTA_UNKNOWN_KEY);
	ck_assert(!r.sigs[0].trusted);
	free(pkg);
	edge_ota_key_free(k);
	edge_ota_key_free(trusted);
}
END_TEST

START_TEST(threshold_not_met)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, "a");
	struct edge_ota_key *other = new_key(EDGE_OTA_SIG_ED25519, "b");
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(pkg, len, 2, &r), EDGE_OTA_THRESHOLD_NOT_MET);
	ck_assert_uint_eq(r.n_valid, 1);
	free(pkg);
	edge_ota_key_free(k);
	edge_ota_key_free(other);
}
END_TEST

START_TEST(expired)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, "k");
	struct edge_ota_pack_args a = args;
	a.expires_ms = now_ms() - 1000;
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &a, &k, 1, &len);
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(pkg, len, 1, &r), EDGE_OTA_EXPIRED);
	free(pkg);
	edge_ota_key_free(k);
}
END_TEST

START_TEST(unsigned_and_malformed)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ED25519, "k");
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	struct edge_ota_container c;
	struct edge_msg_error pe;
	ck_assert_int_eq(edge_ota_container_parse(pkg, len, &c, &pe), 0);
	uint8_t *bare = NULL;
	size_t lb = 0;
	ck_assert_int_eq(edge_ota_assemble(c.manifest, c.manifest_len, NULL, 0, c.model,
					   (size_t)c.model_len, &bare, &lb), 0);
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(bare, lb, 1, &r), EDGE_OTA_UNSIGNED);
	ck_assert_int_eq(verify(pkg, 20, 1, &r), EDGE_OTA_MALFORMED);
	pkg[3] ^= 0x20; /* magic */
	ck_assert_int_eq(verify(pkg, len, 1, &r), EDGE_OTA_MALFORMED);
	ck_assert_str_eq(edge_ota_verdict_name(EDGE_OTA_HASH_MISMATCH), "hash_mismatch");
	free(bare);
	free(pkg);
	edge_ota_key_free(k);
}
END_TEST

/* The same key's signature twice counts once; a P-256 signature labelled
 * Ed25519 (not 64 bytes) is refused by the container already. */
START_TEST(duplicate_and_mislabelled_entries)
{
	struct edge_ota_key *k = new_key(EDGE_OTA_SIG_ECDSA_P256, "k");
	size_t len;
	uint8_t *pkg = pack("hello_world_int8.tflite", &args, &k, 1, &len);
	struct edge_ota_container c;
	struct edge_msg_error pe;
	ck_assert_int_eq(edge_ota_container_parse(pkg, len, &c, &pe), 0);
	struct edge_ota_sig_in s[2];
	memset(s, 0, sizeof(s));
	for (unsigned i = 0; i < 2; i++) {
		s[i].alg = c.sigs[0].alg;
		s[i].sig_len = c.sigs[0].sig_len;
		memcpy(s[i].key_id, c.sigs[0].key_id, EDGE_OTA_KEY_ID_LEN);
		memcpy(s[i].sig, c.sigs[0].sig, s[i].sig_len);
	}
	uint8_t *dup = NULL;
	size_t ld = 0;
	ck_assert_int_eq(edge_ota_assemble(c.manifest, c.manifest_len, s, 2, c.model,
					   (size_t)c.model_len, &dup, &ld), 0);
	struct edge_ota_verify_result r;
	ck_assert_int_eq(verify(dup, ld, 1, &r), EDGE_OTA_OK);
	ck_assert_uint_eq(r.n_valid, 1);
	ck_assert_int_eq(verify(dup, ld, 2, &r), EDGE_OTA_THRESHOLD_NOT_MET);
	free(dup);
	s[0].alg = EDGE_OTA_SIG_ED25519;
	ck_assert_int_eq(edge_ota_assemble(c.manifest, c.manifest_len, s, 1, c.model,
					   (size_t)c.model_len, &dup, &ld), 0);
	ck_assert_int_eq(verify(dup, ld, 1, &r), EDGE_OTA_MALFORMED);
	free(dup);
	free(pkg);
	edge_ota_key_free(k);
}
END_TEST

static Suite *ota_suite(void)
{
	Suite *s = suite_create("ota");
	TCase *tc = tcase_create("ota");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, keys_save_load);
	tcase_add_loop_test(tc, pack_verify_each_alg, 0, 2);
	tcase_add_test(tc, two_keys_threshold_two);
	tcase_add_test(tc, selftest_reproducible);
	tcase_add_test(tc, refuses_unloadable_model);
	tcase_add_test(tc, flipped_manifest_byte);
	tcase_add_test(tc, flipped_model_byte);
	tcase_add_test(tc, mix_and_match);
	tcase_add_test(tc, unknown_key);
	tcase_add_test(tc, threshold_not_met);
	tcase_add_test(tc, expired);
	tcase_add_test(tc, unsigned_and_malformed);
	tcase_add_test(tc, duplicate_and_mislabelled_entries);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(ota_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
