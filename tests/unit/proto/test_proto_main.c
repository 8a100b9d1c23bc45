/* The 'proto' suite, reported as TAP. */
#include <check.h>
#include <stdlib.h>

#include "test_proto.h"

int main(void)
{
	Suite *s = suite_create("proto");

	suite_add_tcase(s, test_json_tcase());
	suite_add_tcase(s, test_json_writer_tcase());
	suite_add_tcase(s, test_topic_tcase());
	suite_add_tcase(s, test_node_msg_tcase());
	suite_add_tcase(s, test_vectors_tcase());
	suite_add_tcase(s, test_ctl_frame_tcase());

	SRunner *sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
