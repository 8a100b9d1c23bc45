/* The simulator's reading of node bundles (sim_bundle.h): what each field
 * gives, every refusal naming the file, and the private TLS files (0700
 * directory, 0600 files, one file per distinct CA) gone after
 * sim_bundles_free(). */
#include <check.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim_bundle.h"
#include "test_run.h"

#define CA "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check-sim-bundle-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *id, const char *json)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(json, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Load id and expect a refusal whose message names the file and has `why`. */
static void refused(struct sim_bundles *set, const char *id, const char *why)
{
	struct sim_bundle b;
	char err[512], file[128];
	ck_assert_int_eq(sim_bundle_load(set, id, &b, err, sizeof(err)), -1);
	snprintf(file, sizeof(file), "%s/%s.json", dir, id);
	ck_assert_msg(strstr(err, file) && strstr(err, why), "'%s': want '%s' and '%s'", err,
		      file, why);
	ck_assert_ptr_null(b.username);
}

START_TEST(password_bundle)
{
	struct sim_bundles *set = sim_bundles_new(dir);
	struct sim_bundle b;
	char err[256];
	put("n-00001", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00001\","
		       "\"broker\":{\"url\":\"mqtt://127.0.0.1:1883\",\"host\":\"127.0.0.1\","
		       "\"port\":1883,\"tls\":false},\"topic_prefix\":\"edge/v1\","
		       "\"username\":\"n-00001\",\"password\":\"s3cret\"}");
	ck_assert_int_eq(sim_bundle_load(set, "n-00001", &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.username, "n-00001");
	ck_assert_str_eq(b.password, "s3cret");
	ck_assert_str_eq(b.host, "127.0.0.1");
	ck_assert_int_eq(b.port, 1883);
	ck_assert(!b.tls);
	ck_assert_ptr_null(b.cafile);
	ck_assert_ptr_null(b.certfile);
	sim_bundle_clear(&b);
	sim_bundles_free(set);
}
END_TEST

/* Only the url: host and port from it, mqtts = TLS, [v6] unbracketed. */
START_TEST(address_from_url)
{
	struct sim_bundles *set = sim_bundles_new(dir);
	struct sim_bundle b;
	char err[256];
	put("n-00002", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00002\","
		       "\"broker\":{\"url\":\"mqtts://[::1]:8883\"},\"password\":\"p\","
		       "\"ca_pem\":\"" "CA" "\"}");
	ck_assert_int_eq(sim_bundle_load(set, "n-00002", &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.host, "::1");
	ck_assert_int_eq(b.port, 8883);
	ck_assert(b.tls);
	ck_assert_ptr_nonnull(b.cafile);
	ck_assert_str_eq(b.username, "n-00002"); /* no username: the id */
	sim_bundle_clear(&b);
	sim_bundles_free(set);
}
END_TEST

START_TEST(certificate_bundles_share_the_ca_file)
{
	struct sim_bundles *set = sim_bundles_new(dir);
	struct sim_bundle a, b;
	char err[256], tmp[PATH_MAX];
	struct stat st;
	static const char fmt[] =
		"{\"format\":\"edged-node-bundle/1\",\"node_id\":\"%s\",\"broker\":{\"url\":"
		"\"mqtts://127.0.0.1:8883\",\"host\":\"127.0.0.1\",\"port\":8883,\"tls\":true},"
		"\"username\":\"%s\",\"ca_pem\":\"%s\",\"cert_pem\":\"C-%s\",\"key_pem\":\"K-%s\"}";
	char json[1024];
	const char *ca = "-----BEGIN CERTIFICATE-----\\nCA\\n-----END CERTIFICATE-----\\n";

	snprintf(json, sizeof(json), fmt, "n-00003", "n-00003", ca, "3", "3");
	put("n-00003", json);
	snprintf(json, sizeof(json), fmt, "n-00004", "n-00004", ca, "4", "4");
	put("n-00004", json);
	ck_assert_int_eq(sim_bundle_load(set, "n-00003", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(sim_bundle_load(set, "n-00004", &b, err, sizeof(err)), 0);
	ck_assert_ptr_null(a.password);
	ck_assert_ptr_eq(a.cafile, b.cafile); /* one file per distinct CA */
	ck_assert_str_ne(a.certfile, b.certfile);

	/* the CA text as written, the key private, the directory 0700 */
	FILE *f = fopen(a.cafile, "r");
	char text[256] = "";
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	ck_assert_str_eq(text, CA);
	ck_assert_int_eq(stat(a.keyfile, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s", a.keyfile);
	ck_assert_int_eq(stat(dirname(tmp), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);

	/* gone with the set */
	snprintf(tmp, sizeof(tmp), "%s", a.keyfile);
	sim_bundle_clear(&a);
	sim_bundle_clear(&b);
	sim_bundles_free(set);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	ck_assert_int_ne(access(dirname(tmp), F_OK), 0);
}
END_TEST

START_TEST(refusals_name_the_file)
{
	struct sim_bundles *set = sim_bundles_new(dir);

	refused(set, "n-00009", "no bundle for node n-00009");
	put("n-00010", "{not json");
	refused(set, "n-00010", "not a bundle");
	put("n-00011", "{\"format\":\"edged-node-bundle/2\",\"node_id\":\"n-00011\"}");
	refused(set, "n-00011", "format is not");
	put("n-00012", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00099\","
		       "\"broker\":{\"url\":\"mqtt://127.0.0.1:1\"},\"password\":\"p\"}");
	refused(set, "n-00012", "the bundle of node n-00099");
	put("n-00013", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00013\","
		       "\"broker\":{\"url\":\"http://127.0.0.1:1\"},\"password\":\"p\"}");
	refused(set, "n-00013", "no broker address");
	put("n-00014", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00014\","
		       "\"broker\":{\"url\":\"mqtt://127.0.0.1:1\"}}");
	refused(set, "n-00014", "neither a password nor a certificate");
	put("n-00015", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00015\","
		       "\"broker\":{\"url\":\"mqtts://127.0.0.1:1\"},\"cert_pem\":\"c\"}");
	refused(set, "n-00015", "go together");
	put("n-00016", "{\"format\":\"edged-node-bundle/1\",\"node_id\":\"n-00016\","
		       "\"broker\":{\"url\":\"mqtt://127.0.0.1:1\"},\"cert_pem\":\"c\","
		       "\"key_pem\":\"k\"}");
	refused(set, "n-00016", "needs an mqtts:// broker");
	sim_bundles_free(set);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sim-bundle");
	TCase *tc = tcase_create("bundle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, password_bundle);
	tcase_add_test(tc, address_from_url);
	tcase_add_test(tc, certificate_bundles_share_the_ca_file);
	tcase_add_test(tc, refusals_name_the_file);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
