/* The 'util' suite, reported as TAP. */
#include <check.h>
#include <stdlib.h>

#include "test_util.h"
#include "test_run.h"

int main(void)
{
	Suite *s = suite_create("util");

	suite_add_tcase(s, test_error_tcase());
	suite_add_tcase(s, test_log_tcase());
	suite_add_tcase(s, test_backoff_tcase());
	suite_add_tcase(s, test_ratelimit_tcase());
	suite_add_tcase(s, test_outbox_tcase());
	suite_add_tcase(s, test_timespec_tcase());

	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
