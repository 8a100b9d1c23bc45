/* Suite 'ota-fit': can a node take a model. A node that fails every check
 * is fixed one check at a time, so each reason shows up in the documented
 * order with its detail; op names match whole, never as substrings. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "edge_ota_fit.h"
#include "test_run.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct edge_ota_manifest manifest(void)
{
	struct edge_ota_manifest m;

	memset(&m, 0, sizeof m);
	snprintf(m.name, sizeof m.name, "kws");
	snprintf(m.version, sizeof m.version, "1.0");
	m.counter = 1;
	m.size = 50000;
	snprintf(m.sha256, sizeof m.sha256, SHA_A);
	snprintf(m.runtime, sizeof m.runtime, "tflm");
	m.n_ops = 3;
	snprintf(m.ops[0], sizeof m.ops[0], "CONV_2D");
	snprintf(m.ops[1], sizeof m.ops[1], "SOFTMAX");
	snprintf(m.ops[2], sizeof m.ops[2], "FULLY_CONNECTED");
	m.arena_bytes = 20000;
	return m;
}

/* Fails every check: runs the model already, other runtime, one op,
 * little arena and flash. */
static struct edge_node_info node(void)
{
	struct edge_node_info n;

	memset(&n, 0, sizeof n);
	snprintf(n.id, sizeof n.id, "n1");
	snprintf(n.runtime_name, sizeof n.runtime_name, "onnx");
	n.n_ops = 1;
	snprintf(n.ops, sizeof n.ops, "CONV_2D");
	n.arena_bytes = 100;
	n.flash_bytes = 100;
	n.has_model = true;
	snprintf(n.model_name, sizeof n.model_name, "kws");
	snprintf(n.model_version, sizeof n.model_version, "1.0");
	snprintf(n.model_sha256, sizeof n.model_sha256, SHA_A);
	return n;
}

START_TEST(reasons_in_order)
{
	struct edge_ota_manifest m = manifest();
	struct edge_node_info n = node();
	char d[128];

	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_ALREADY_HAVE);
	ck_assert_str_eq(d, "runs kws@1.0");

	snprintf(n.model_sha256, sizeof n.model_sha256, SHA_B);
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_INCOMPATIBLE);
	ck_assert_str_eq(d, "model needs runtime tflm, node has onnx");

	snprintf(n.runtime_name, sizeof n.runtime_name, "tflm");
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_MISSING_OPS);
	ck_assert_str_eq(d, "SOFTMAX,FULLY_CONNECTED"); /* the manifest's order */

	snprintf(n.ops, sizeof n.ops, "FULLY_CONNECTED,CONV_2D,SOFTMAX");
	n.n_ops = 3;
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_INSUFFICIENT_ARENA);
	ck_assert_str_eq(d, "model needs 20000 arena bytes, node has 100");

	n.arena_bytes = 20000; /* exactly enough */
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_INSUFFICIENT_FLASH);
	ck_assert_str_eq(d, "model is 50000 bytes, node has 100 for models");

	n.flash_bytes = 50000;
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_OK);
	ck_assert_str_eq(d, "");
	/* detail is optional. */
	ck_assert_int_eq(edge_ota_fit(&m, &n, NULL, 0), EDGE_OTA_R_OK);
	n.flash_bytes = 1;
	ck_assert_int_eq(edge_ota_fit(&m, &n, NULL, 0), EDGE_OTA_R_INSUFFICIENT_FLASH);
}
END_TEST

START_TEST(no_model_or_other_model_is_not_already_have)
{
	struct edge_ota_manifest m = manifest();
	struct edge_node_info n = node();

	snprintf(n.runtime_name, sizeof n.runtime_name, "tflm");
	snprintf(n.ops, sizeof n.ops, "CONV_2D,SOFTMAX,FULLY_CONNECTED");
	n.arena_bytes = n.flash_bytes = 1u << 20;
	/* A stale hash field without a running model does not count. */
	n.has_model = false;
	ck_assert_int_eq(edge_ota_fit(&m, &n, NULL, 0), EDGE_OTA_R_OK);
	/* Same name and version but other bytes: not the same model. */
	n.has_model = true;
	snprintf(n.model_sha256, sizeof n.model_sha256, SHA_B);
	ck_assert_int_eq(edge_ota_fit(&m, &n, NULL, 0), EDGE_OTA_R_OK);
}
END_TEST

START_TEST(ops_match_whole_names)
{
	struct edge_ota_manifest m = manifest();
	struct edge_node_info n = node();
	char d[128];

	n.has_model = false;
	snprintf(n.runtime_name, sizeof n.runtime_name, "tflm");
	/* Prefixes, suffixes and case variants of the needed names. */
	snprintf(n.ops, sizeof n.ops, "CONV_2D_X,XSOFTMAX,fully_connected,CONV_2");
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_MISSING_OPS);
	ck_assert_str_eq(d, "CONV_2D,SOFTMAX,FULLY_CONNECTED");
	/* A node with no ops at all. */
	n.ops[0] = '\0';
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_MISSING_OPS);
	ck_assert_str_eq(d, "CONV_2D,SOFTMAX,FULLY_CONNECTED");
	/* The last name of the list matches too. */
	snprintf(n.ops, sizeof n.ops, "SOFTMAX,FULLY_CONNECTED,CONV_2D");
	n.arena_bytes = n.flash_bytes = 1u << 20;
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_OK);
}
END_TEST

START_TEST(missing_ops_detail_is_bounded)
{
	struct edge_ota_manifest m = manifest();
	struct edge_node_info n = node();
	char d[40];

	n.has_model = false;
	snprintf(n.runtime_name, sizeof n.runtime_name, "tflm");
	n.ops[0] = '\0';
	m.n_ops = EDGE_OTA_OPS_MAX;
	for (unsigned i = 0; i < m.n_ops; i++)
		snprintf(m.ops[i], sizeof m.ops[i], "OP_%02u", i);
	ck_assert_int_eq(edge_ota_fit(&m, &n, d, sizeof d), EDGE_OTA_R_MISSING_OPS);
	/* Whole names only, then how many more: never a cut name. */
	ck_assert_str_eq(d, "OP_00,OP_01,OP_02,OP_03,+60 more");
	ck_assert_uint_lt(strlen(d), sizeof d);
}
END_TEST

static Suite *fit_suite(void)
{
	Suite *s = suite_create("ota-fit");
	TCase *tc = tcase_create("fit");

	tcase_add_test(tc, reasons_in_order);
	tcase_add_test(tc, no_model_or_other_model_is_not_already_have);
	tcase_add_test(tc, ops_match_whole_names);
	tcase_add_test(tc, missing_ops_detail_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(fit_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
