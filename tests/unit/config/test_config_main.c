/* The 'config' suite, reported as TAP. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_config.h"
#include "test_run.h"

int load_text(const char *text, char *err, size_t errlen, edge_config **out)
{
	edge_config *c = edge_config_new();

	ck_assert_ptr_nonnull(c);
	err[0] = '\0';
	int rc = edge_config_load_buffer(c, "t.conf", text, strlen(text), err,
					 errlen);
	if (out)
		*out = c;
	else
		edge_config_free(c);
	return rc;
}

const char *value_of(const edge_config *c, const char *name)
{
	static char buf[EDGE_CONFIG_PATH_MAX];

	ck_assert_int_eq(edge_config_get(c, name, buf, sizeof buf), 0);
	return buf;
}

int main(void)
{
	Suite *s = suite_create("config");

	suite_add_tcase(s, test_config_errors_tcase());
	suite_add_tcase(s, test_config_values_tcase());
	suite_add_tcase(s, test_config_robustness_tcase());
	suite_add_tcase(s, test_config_password_file_tcase());
	if (getenv("EDGE_SOURCE_ROOT"))
		suite_add_tcase(s, test_config_reference_tcase());
	else
		printf("# EDGE_SOURCE_ROOT not set: config/edged.conf not checked\n");

	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
