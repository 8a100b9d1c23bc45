/* Judging a rollout stage by its nodes' outcomes. */
#include "edge_rollout_judge.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edge_rollout_plan.h" /* EDGE_ROLLOUT_BP_ALL */

const char *edge_rollout_outcome_name(enum edge_rollout_outcome o)
{
	switch (o) {
	case EDGE_ROLLOUT_SUCCESS: return "success";
	case EDGE_ROLLOUT_DENIED: return "denied";
	case EDGE_ROLLOUT_TRANSFER_FAILED: return "transfer_failed";
	case EDGE_ROLLOUT_REVERTED: return "reverted";
	case EDGE_ROLLOUT_SELFTEST_MISMATCH: return "selftest_mismatch";
	case EDGE_ROLLOUT_NOT_ONLINE: return "not_online";
	case EDGE_ROLLOUT_OUTCOME_COUNT: break;
	}
	return "unknown";
}

static uint64_t decided(const struct edge_rollout_counts *c)
{
	uint64_t sum = 0;

	for (int i = 0; i < EDGE_ROLLOUT_OUTCOME_COUNT; i++)
		sum += c->outcome[i];
	return sum;
}

int edge_rollout_counts_add(struct edge_rollout_counts *c, enum edge_rollout_outcome o)
{
	assert(c);
	if ((unsigned)o >= EDGE_ROLLOUT_OUTCOME_COUNT)
		return -EINVAL;
	if (decided(c) >= c->nodes)
		return EDGE_ELIMIT;
	c->outcome[o]++;
	return 0;
}

/* "denied 2, reverted 1" into buf: the failures by reason, in outcome
 * order. */
static void failure_breakdown(const struct edge_rollout_counts *c, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = EDGE_ROLLOUT_SUCCESS + 1; i < EDGE_ROLLOUT_OUTCOME_COUNT && used < cap; i++) {
		int w;

		if (!c->outcome[i])
			continue;
		w = snprintf(buf + used, cap - used, "%s%s %u", used ? ", " : "",
			     edge_rollout_outcome_name((enum edge_rollout_outcome)i), c->outcome[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int edge_rollout_judge(const struct edge_rollout_counts *c, uint32_t max_failures_bp,
		       struct edge_rollout_decision *d)
{
	uint64_t done;
	uint32_t worst_n = 0;
	char why[96];

	assert(c && d);
	memset(d, 0, sizeof *d);
	done = decided(c);
	if (done > c->nodes || max_failures_bp > EDGE_ROLLOUT_BP_ALL)
		return -EINVAL;
	d->nodes = c->nodes;
	d->succeeded = c->outcome[EDGE_ROLLOUT_SUCCESS];
	d->failed = (uint32_t)done - d->succeeded;
	d->pending = c->nodes - (uint32_t)done;
	d->max_failures_bp = max_failures_bp;
	/* Integer arithmetic: 10 % of 20 is exactly 2, not 1.9999. */
	d->allowed = (uint32_t)((uint64_t)c->nodes * max_failures_bp / EDGE_ROLLOUT_BP_ALL);
	d->failure_rate = c->nodes ? (double)d->failed / c->nodes : 0;
	d->worst = EDGE_ROLLOUT_SUCCESS;
	for (int i = EDGE_ROLLOUT_SUCCESS + 1; i < EDGE_ROLLOUT_OUTCOME_COUNT; i++) {
		if (c->outcome[i] > worst_n) {
			worst_n = c->outcome[i];
			d->worst = (enum edge_rollout_outcome)i;
		}
	}
	failure_breakdown(c, why, sizeof why);

	if (d->failed > d->allowed) {
		d->kind = EDGE_ROLLOUT_HALT;
		snprintf(d->reason, sizeof d->reason,
			 "halt: %u of %u nodes failed (%.1f%% > max %u.%02u%%, %u allowed%s): %s",
			 d->failed, d->nodes, 100.0 * d->failure_rate, max_failures_bp / 100,
			 max_failures_bp % 100, d->allowed,
			 d->pending ? ", before the rest finished" : "", why);
	} else if (d->pending) {
		d->kind = EDGE_ROLLOUT_CONTINUE;
		snprintf(d->reason, sizeof d->reason,
			 "continue: %u of %u nodes pending, %u failed of %u allowed", d->pending,
			 d->nodes, d->failed, d->allowed);
	} else {
		d->kind = EDGE_ROLLOUT_PASS;
		snprintf(d->reason, sizeof d->reason,
			 "pass: %u of %u nodes succeeded, %u failed of %u allowed%s%s", d->succeeded,
			 d->nodes, d->failed, d->allowed, d->failed ? ": " : "", why);
	}
	return 0;
}
