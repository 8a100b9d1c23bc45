/* The 'util' suite, reported as TAP. */
#include <check.h>
#include <stdlib.h>

#include "test_util.h"

int main(void)
{
	Suite *s = suite_create("util");

	suite_add_tcase(s, test_error_tcase());
	suite_add_tcase(s, test_log_tcase());
	suite_add_tcase(s, test_backoff_tcase());
	suite_add_tcase(s, test_ratelimit_tcase());
	suite_add_tcase(s, test_outbox_tcase());

	SRunner *sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
