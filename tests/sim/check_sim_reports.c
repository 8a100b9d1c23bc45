/* A simulated node's anomaly events through the device SDK's report queue:
 * detection at the configured rate, reports the gateway's parser accepts,
 * ages at send time, reboots. No broker needed. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edge_report.h"
#include "sim_reports.h"
#include "test_run.h"

static struct edge_msg_report rep;
static char buf[EDGE_MSG_MAX_PAYLOAD + 1];

START_TEST(detects_at_the_rate)
{
	struct sim_reports r;

	ck_assert_int_eq(sim_reports_init(&r, 512, 10.0, 42, 1000), 0);
	/* Gaps are 100 ms · U[0.5, 1.5). */
	ck_assert_uint_ge(r.next_event_ms, 1050);
	ck_assert_uint_lt(r.next_event_ms, 1150);
	ck_assert_uint_eq(sim_reports_detect(&r, 1000), 0);
	unsigned n = sim_reports_detect(&r, 31000);
	ck_assert_uint_ge(n, 30000 / 150);
	ck_assert_uint_le(n, 30000 / 50);
	ck_assert_uint_eq(edge_report_queue_count(&r.q), n);
	ck_assert_uint_eq(r.detected_since_boot, n);
	ck_assert_uint_gt(r.next_event_ms, 31000);
	/* Not connected: only the next detection matters. */
	ck_assert(sim_reports_next_wakeup(&r, 0) == r.next_event_ms);
	ck_assert(sim_reports_next_wakeup(&r, 1) <= 31000);
	sim_reports_free(&r);
}
END_TEST

START_TEST(reports_parse_with_ages)
{
	struct sim_reports r;
	struct edge_msg_error err;
	size_t len;
	unsigned total = 0, n;
	int k;

	ck_assert_int_eq(sim_reports_init(&r, 128, 5.0, 7, 0), 0);
	n = sim_reports_detect(&r, 10000);
	ck_assert_uint_gt(n, 0);
	while ((k = edge_report_queue_next_batch(&r.q, 12000, buf, sizeof(buf),
						 &len)) > 0) {
		ck_assert_msg(edge_msg_parse_report(buf, len, &rep, &err) == 0,
			      "%s at %s", edge_msg_reject_name(err.reason), err.field);
		ck_assert_uint_eq(rep.epoch, edge_report_queue_epoch(&r.q));
		for (int i = 0; i < k; i++) {
			const struct edge_report_event *e = &rep.events[i];
			ck_assert_uint_eq(e->seq, total + 1);
			ck_assert(!e->has_ts);
			/* Detected in (0, 10000], sent at 12000. */
			ck_assert_uint_ge(e->age_ms, 2000);
			ck_assert_uint_lt(e->age_ms, 12000);
			ck_assert(e->score >= e->threshold);
			ck_assert_str_eq(e->model_name, "vib-ae");
			total++;
		}
	}
	ck_assert_int_eq(k, 0);
	ck_assert_uint_eq(total, n);
	sim_reports_free(&r);
}
END_TEST

START_TEST(reboot_takes_a_new_epoch)
{
	struct sim_reports r;
	uint32_t e0;
	unsigned n;

	ck_assert_int_eq(sim_reports_init(&r, 16, 2.0, 9, 0), 0);
	e0 = edge_report_queue_epoch(&r.q);
	n = sim_reports_detect(&r, 5000);
	ck_assert_uint_gt(n, 0);
	sim_reports_reboot(&r, 5000);
	ck_assert_uint_eq(edge_report_queue_epoch(&r.q), e0 + 1);
	ck_assert_uint_eq(edge_report_queue_count(&r.q), 0);
	ck_assert_uint_eq(r.lost_at_reboot, n);
	ck_assert_uint_eq(r.earlier.pushed, n);
	ck_assert_uint_eq(edge_report_queue_stats(&r.q)->pushed, 0);
	ck_assert_uint_eq(r.detected_since_boot, 0);
	ck_assert_uint_gt(r.next_event_ms, 5000);
	sim_reports_free(&r);
}
END_TEST

START_TEST(rejects_bad_arguments)
{
	struct sim_reports r;

	ck_assert_int_eq(sim_reports_init(&r, 0, 1.0, 1, 0), -EINVAL);
	ck_assert_int_eq(sim_reports_init(&r, 8, 0.0, 1, 0), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sim-reports");
	TCase *tc = tcase_create("reports");

	tcase_add_test(tc, detects_at_the_rate);
	tcase_add_test(tc, reports_parse_with_ages);
	tcase_add_test(tc, reboot_takes_a_new_epoch);
	tcase_add_test(tc, rejects_bad_arguments);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TAP, CK_FORK_GETENV);
}
