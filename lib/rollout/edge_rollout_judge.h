/* Judging a rollout stage by its nodes' outcomes (the --max-failures rule).
 *
 * A node ends a stage as a success (activated, self-test hash matches) or a
 * failure for one reason: denied, transfer failed, reverted, self-test
 * mismatch, not back online in time. Until then it is pending.
 *
 * Rule: the stage fails when its failure rate, failures / nodes in the
 * stage, exceeds max_failures (strictly: 10 % of 20 nodes allows 2
 * failures, the 3rd halts). The stage has at most
 * floor(nodes * max_failures) allowed failures, and the judge halts as soon
 * as the failures already counted pass that, even with nodes still pending:
 * no outcome of the pending ones could bring the rate back under, so waiting
 * only sends the bad model to more nodes. It passes when no node is pending
 * and the failures stayed within the allowance; otherwise it says continue.
 * max_failures 0 halts on the first failure; 100 % never halts.
 *
 * Pure and allocation-free. Tests: tests/unit/rollout (test_judge.c). */
#ifndef EDGE_ROLLOUT_JUDGE_H
#define EDGE_ROLLOUT_JUDGE_H

#include <stdint.h>

#include "edge_error.h"

enum edge_rollout_outcome {
	EDGE_ROLLOUT_SUCCESS = 0,
	EDGE_ROLLOUT_DENIED,            /* the node refused the package */
	EDGE_ROLLOUT_TRANSFER_FAILED,   /* bytes never arrived whole */
	EDGE_ROLLOUT_REVERTED,          /* activated, then went back to the old slot */
	EDGE_ROLLOUT_SELFTEST_MISMATCH, /* self-test hash differs from the package's */
	EDGE_ROLLOUT_NOT_ONLINE,        /* not back online within the timeout */
	EDGE_ROLLOUT_OUTCOME_COUNT,
};

/* Static lower-case name ("selftest_mismatch"), never NULL. */
const char *edge_rollout_outcome_name(enum edge_rollout_outcome o);

struct edge_rollout_counts {
	uint32_t nodes;                                /* in the stage */
	uint32_t outcome[EDGE_ROLLOUT_OUTCOME_COUNT]; /* decided nodes by outcome */
};

/* Counts one decided node. -EINVAL for an unknown outcome, EDGE_ELIMIT when
 * every node of the stage is decided already (a node reported twice). */
EDGE_WUR int edge_rollout_counts_add(struct edge_rollout_counts *c, enum edge_rollout_outcome o);

enum edge_rollout_decision_kind {
	EDGE_ROLLOUT_CONTINUE, /* nodes pending, threshold still reachable */
	EDGE_ROLLOUT_PASS,     /* every node decided, failures within the allowance */
	EDGE_ROLLOUT_HALT,     /* failures beyond the allowance */
};

struct edge_rollout_decision {
	enum edge_rollout_decision_kind kind;
	uint32_t nodes, succeeded, failed, pending;
	uint32_t allowed;               /* floor(nodes * max_failures) */
	uint32_t max_failures_bp;
	double failure_rate;            /* failed / nodes (the worst case's lower bound) */
	enum edge_rollout_outcome worst; /* the most frequent failure (SUCCESS if none) */
	char reason[160];               /* one line, for the log and the event history */
};

/* Judges c against max_failures_bp (0..10000). -EINVAL when the outcomes
 * add up to more than c->nodes or max_failures_bp > 10000; *d is then
 * zeroed. */
EDGE_WUR int edge_rollout_judge(const struct edge_rollout_counts *c, uint32_t max_failures_bp,
				struct edge_rollout_decision *d);

#endif
