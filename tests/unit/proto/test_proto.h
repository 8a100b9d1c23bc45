/* The proto suite's test cases, one file each. */
#ifndef TEST_PROTO_H
#define TEST_PROTO_H

#include <check.h>

TCase *test_json_tcase(void);
TCase *test_json_writer_tcase(void);
TCase *test_topic_tcase(void);
TCase *test_node_msg_tcase(void);
TCase *test_vectors_tcase(void);
TCase *test_report_tcase(void);
TCase *test_ctl_frame_tcase(void);
TCase *test_report_queue_tcase(void);
TCase *test_ota_package_tcase(void);

#endif
