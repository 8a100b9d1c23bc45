/* The util suite's test cases, one file each. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <check.h>

TCase *test_backoff_tcase(void);
TCase *test_ratelimit_tcase(void);
TCase *test_error_tcase(void);
TCase *test_log_tcase(void);
TCase *test_outbox_tcase(void);
TCase *test_timespec_tcase(void);

#endif
