/* The 'proto' suite, reported as TAP. */
#include <check.h>
#include <stdlib.h>

#include "test_proto.h"
#include "test_run.h"

int main(void)
{
	Suite *s = suite_create("proto");

	suite_add_tcase(s, test_json_tcase());
	suite_add_tcase(s, test_json_writer_tcase());
	suite_add_tcase(s, test_topic_tcase());
	suite_add_tcase(s, test_node_msg_tcase());
	suite_add_tcase(s, test_vectors_tcase());
	suite_add_tcase(s, test_report_tcase());
	suite_add_tcase(s, test_ctl_frame_tcase());
	suite_add_tcase(s, test_report_queue_tcase());
	suite_add_tcase(s, test_ota_package_tcase());

	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
