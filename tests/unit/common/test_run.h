/* Runs a Check suite and turns its result into the process exit status;
 * shared by every suite's main(). Header-only: include it from one file. */
#ifndef EDGE_TEST_RUN_H
#define EDGE_TEST_RUN_H

#include <check.h>
#include <stdlib.h>

enum test_report {
	TEST_REPORT_TAP,  /* TAP on stdout (meson protocol 'tap') */
	TEST_REPORT_TEXT, /* Check's own report (meson protocol 'exitcode') */
};

/* Takes ownership of s. fork: CK_FORK_GETENV (Check's default: the CK_FORK
 * environment variable decides) or CK_NOFORK so that a fixture's teardown
 * also runs after a failure. */
static inline int test_run_suite(Suite *s, enum test_report report,
				 enum fork_status fork)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_fork_status(sr, fork);
	if (report == TEST_REPORT_TAP)
		srunner_set_tap(sr, "-");
	srunner_run_all(sr, report == TEST_REPORT_TAP ? CK_SILENT : CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
