/* Suite 'rollout-judge': the --max-failures rule. The allowance is
 * floor(nodes * max) in exact integers; the stage halts as soon as the
 * failures pass it, even with nodes pending; it passes only once every node
 * is decided; 0 % halts on the first failure, 100 % never; counting refuses
 * a node decided twice and unknown outcomes; the reason line carries the
 * numbers and the failures by reason. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "edge_rollout_judge.h"
#include "test_run.h"

static struct edge_rollout_counts counts(uint32_t nodes, uint32_t ok, uint32_t denied,
					 uint32_t selftest)
{
	struct edge_rollout_counts c;

	memset(&c, 0, sizeof c);
	c.nodes = nodes;
	c.outcome[EDGE_ROLLOUT_SUCCESS] = ok;
	c.outcome[EDGE_ROLLOUT_DENIED] = denied;
	c.outcome[EDGE_ROLLOUT_SELFTEST_MISMATCH] = selftest;
	return c;
}

static struct edge_rollout_decision judge(struct edge_rollout_counts c, uint32_t bp)
{
	struct edge_rollout_decision d;

	ck_assert_int_eq(edge_rollout_judge(&c, bp, &d), 0);
	return d;
}

START_TEST(ten_percent_of_twenty)
{
	struct edge_rollout_decision d;

	/* 10 % of 20 = exactly 2 allowed (no 1.999 rounding down to 1). */
	d = judge(counts(20, 18, 1, 1), 1000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_PASS);
	ck_assert_uint_eq(d.allowed, 2);
	ck_assert_uint_eq(d.failed, 2);
	ck_assert_uint_eq(d.succeeded, 18);
	ck_assert_uint_eq(d.pending, 0);
	ck_assert_double_eq_tol(d.failure_rate, 0.1, 1e-12);
	ck_assert_str_eq(d.reason, "pass: 18 of 20 nodes succeeded, 2 failed of 2 allowed: "
				   "denied 1, selftest_mismatch 1");

	/* 2 failures with 10 pending: still reachable, continue. */
	d = judge(counts(20, 8, 0, 2), 1000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_CONTINUE);
	ck_assert_uint_eq(d.pending, 10);

	/* The 3rd failure halts at once, 10 nodes still pending. */
	d = judge(counts(20, 7, 1, 2), 1000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_HALT);
	ck_assert_uint_eq(d.pending, 10);
	ck_assert_int_eq(d.worst, EDGE_ROLLOUT_SELFTEST_MISMATCH);
	ck_assert_str_eq(d.reason, "halt: 3 of 20 nodes failed (15.0% > max 10.00%, 2 allowed, "
				   "before the rest finished): denied 1, selftest_mismatch 2");
	/* Early halt at the very first decided nodes. */
	d = judge(counts(20, 0, 3, 0), 1000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_HALT);
	ck_assert_uint_eq(d.pending, 17);
}
END_TEST

START_TEST(boundaries)
{
	struct edge_rollout_decision d;

	/* 0 %: the first failure halts. */
	ck_assert_int_eq(judge(counts(100, 0, 0, 0), 0).kind, EDGE_ROLLOUT_CONTINUE);
	ck_assert_int_eq(judge(counts(100, 99, 0, 0), 0).kind, EDGE_ROLLOUT_CONTINUE);
	ck_assert_int_eq(judge(counts(100, 100, 0, 0), 0).kind, EDGE_ROLLOUT_PASS);
	ck_assert_int_eq(judge(counts(100, 0, 1, 0), 0).kind, EDGE_ROLLOUT_HALT);
	/* 100 %: never halts, even when everything failed. */
	d = judge(counts(5, 0, 3, 2), 10000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_PASS);
	ck_assert_uint_eq(d.allowed, 5);
	/* A single-node canary with 10 %: no failure is allowed. */
	d = judge(counts(1, 0, 1, 0), 1000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_HALT);
	ck_assert_uint_eq(d.allowed, 0);
	/* 30 % of 7 = 2.1: 2 allowed, the 3rd halts. */
	ck_assert_int_eq(judge(counts(7, 2, 2, 0), 3000).kind, EDGE_ROLLOUT_CONTINUE);
	ck_assert_int_eq(judge(counts(7, 2, 3, 0), 3000).kind, EDGE_ROLLOUT_HALT);
	/* 12.5 % of 8 = exactly 1. */
	ck_assert_int_eq(judge(counts(8, 7, 1, 0), 1250).kind, EDGE_ROLLOUT_PASS);
	ck_assert_int_eq(judge(counts(8, 0, 2, 0), 1250).kind, EDGE_ROLLOUT_HALT);
	/* An empty stage (fewer nodes than stages) passes at once. */
	d = judge(counts(0, 0, 0, 0), 1000);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_PASS);
	ck_assert_double_eq(d.failure_rate, 0);
}
END_TEST

START_TEST(every_reason_counted)
{
	struct edge_rollout_counts c;
	struct edge_rollout_decision d;

	memset(&c, 0, sizeof c);
	c.nodes = 6;
	for (int o = 0; o < EDGE_ROLLOUT_OUTCOME_COUNT; o++)
		ck_assert_int_eq(edge_rollout_counts_add(&c, (enum edge_rollout_outcome)o), 0);
	/* A 7th report for a 6-node stage is a node reported twice. */
	ck_assert_int_eq(edge_rollout_counts_add(&c, EDGE_ROLLOUT_SUCCESS), EDGE_ELIMIT);
	ck_assert_int_eq(edge_rollout_counts_add(&c, EDGE_ROLLOUT_OUTCOME_COUNT), -EINVAL);
	ck_assert_int_eq(edge_rollout_counts_add(&c, (enum edge_rollout_outcome)-1), -EINVAL);
	ck_assert_int_eq(edge_rollout_judge(&c, 5000, &d), 0);
	ck_assert_int_eq(d.kind, EDGE_ROLLOUT_HALT); /* 5 of 6 > 3 */
	ck_assert_int_eq(d.worst, EDGE_ROLLOUT_DENIED); /* all tied: the first */
	ck_assert_ptr_nonnull(strstr(d.reason, "denied 1, transfer_failed 1, reverted 1, "
					       "selftest_mismatch 1, not_online 1"));
	ck_assert_str_eq(edge_rollout_outcome_name(EDGE_ROLLOUT_NOT_ONLINE), "not_online");
	ck_assert_str_eq(edge_rollout_outcome_name(EDGE_ROLLOUT_OUTCOME_COUNT), "unknown");
}
END_TEST

START_TEST(refused)
{
	struct edge_rollout_counts c = counts(3, 3, 1, 0); /* 4 outcomes for 3 nodes */
	struct edge_rollout_decision d;

	ck_assert_int_eq(edge_rollout_judge(&c, 1000, &d), -EINVAL);
	ck_assert_uint_eq(d.nodes, 0);
	c = counts(3, 1, 0, 0);
	ck_assert_int_eq(edge_rollout_judge(&c, 10001, &d), -EINVAL);
}
END_TEST

static Suite *judge_suite(void)
{
	Suite *s = suite_create("rollout-judge");
	TCase *tc = tcase_create("judge");

	tcase_add_test(tc, ten_percent_of_twenty);
	tcase_add_test(tc, boundaries);
	tcase_add_test(tc, every_reason_counted);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(judge_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
