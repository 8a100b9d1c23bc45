/* Staged rollout planning: which eligible node goes in which stage.
 *
 * A rollout runs a canary stage, then waves. The canary is a count of nodes
 * ("5") or a share of the eligible nodes ("1%", "0.5%"); the waves are
 * cumulative shares of all eligible nodes ("10%,50%,100%": wave 1 brings the
 * updated share to 10 %, wave 2 to 50 %, wave 3 to all). Percentages have at
 * most two decimals and are kept in basis points (1 % = 100 bp).
 *
 * Order: nodes are sorted by a 64-bit hash of (rollout id, node id) (FNV-1a
 * then a splitmix64 finaliser so that ids differing in one trailing character
 * spread over the whole range), ties by node id. The plan is therefore
 * reproducible for a given rollout id (a restarted daemon or a dry run gets
 * the same stages), yet the canary differs between rollouts and is not the
 * first ids alphabetically. Not a security property: anyone knowing the ids
 * can predict it.
 *
 * Sizes: stage k ends at a cumulative count c_k: the canary's count (a
 * share rounds up, at least 1), a wave's ceil(share * n). Each stage then
 * gets at least one node and leaves at least one for every later stage (so a
 * large canary or close waves are clamped, flagged in the plan), and the
 * last stage ends at n: every node is in exactly one stage. With fewer nodes
 * than stages the first n stages get one node each and the rest are empty
 * (EDGE_ROLLOUT_PLAN_SHORT).
 *
 * Pure: no I/O, no global state; plan_make allocates one temporary array
 * (24 bytes a node, freed before it returns). Tests: tests/unit/rollout. */
#ifndef EDGE_ROLLOUT_PLAN_H
#define EDGE_ROLLOUT_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

#define EDGE_ROLLOUT_BP_ALL 10000u        /* 100 % in basis points */
#define EDGE_ROLLOUT_MAX_WAVES 16
#define EDGE_ROLLOUT_MAX_STAGES (1 + EDGE_ROLLOUT_MAX_WAVES)
#define EDGE_ROLLOUT_MAX_NODES 1000000u   /* bound on one plan */
#define EDGE_ROLLOUT_MAX_CANARY 1000000u  /* bound on a canary count */
#define EDGE_ROLLOUT_SPEC_MAX 256         /* longest accepted spec string */

/* Why a spec string was refused (the functions return -EINVAL with it). */
enum edge_rollout_spec_error {
	EDGE_ROLLOUT_SPEC_OK = 0,
	EDGE_ROLLOUT_SPEC_EMPTY,          /* empty string or an empty list item */
	EDGE_ROLLOUT_SPEC_SYNTAX,         /* not digits[.dd][%] */
	EDGE_ROLLOUT_SPEC_DECIMALS,       /* more than two decimals, or decimals on a count */
	EDGE_ROLLOUT_SPEC_ZERO,           /* 0 or 0 % */
	EDGE_ROLLOUT_SPEC_RANGE,          /* a share above 100 %, a count above the bound */
	EDGE_ROLLOUT_SPEC_NOT_PERCENT,    /* a wave given as a count */
	EDGE_ROLLOUT_SPEC_NOT_INCREASING, /* wave shares must strictly increase */
	EDGE_ROLLOUT_SPEC_NOT_ALL,        /* the last wave must be 100 % */
	EDGE_ROLLOUT_SPEC_TOO_MANY,       /* more than EDGE_ROLLOUT_MAX_WAVES waves */
	EDGE_ROLLOUT_SPEC_TOO_LONG,       /* longer than EDGE_ROLLOUT_SPEC_MAX */
};

/* A short static description of e, for an error line; never NULL. */
const char *edge_rollout_spec_strerror(enum edge_rollout_spec_error e);

/* The canary's size: a node count, or a share in basis points. */
struct edge_rollout_canary {
	enum { EDGE_ROLLOUT_CANARY_COUNT, EDGE_ROLLOUT_CANARY_SHARE } kind;
	uint32_t value; /* nodes (1..EDGE_ROLLOUT_MAX_CANARY) or bp (1..10000) */
};

struct edge_rollout_spec {
	struct edge_rollout_canary canary;
	uint32_t n_waves;                          /* 1..EDGE_ROLLOUT_MAX_WAVES */
	uint32_t wave_bp[EDGE_ROLLOUT_MAX_WAVES]; /* cumulative, increasing, last 10000 */
};

/* "12.5%" -> 1250 into *bp (0 < bp <= 10000). Also for --max-failures,
 * where 0 % is allowed when allow_zero. -EINVAL with *err set otherwise
 * (err may be NULL). */
EDGE_WUR int edge_rollout_parse_percent(const char *s, int allow_zero, uint32_t *bp,
					enum edge_rollout_spec_error *err);

/* --canary: "N" or "P%". -EINVAL with *err. */
EDGE_WUR int edge_rollout_parse_canary(const char *s, struct edge_rollout_canary *out,
				       enum edge_rollout_spec_error *err);

/* --waves: "P%,P%,...,100%". -EINVAL with *err; *bad_item (may be NULL) is
 * the 0-based index of the offending item. */
EDGE_WUR int edge_rollout_parse_waves(const char *s, struct edge_rollout_spec *spec,
				      enum edge_rollout_spec_error *err, uint32_t *bad_item);

enum edge_rollout_stage_kind { EDGE_ROLLOUT_STAGE_CANARY, EDGE_ROLLOUT_STAGE_WAVE };

struct edge_rollout_stage {
	enum edge_rollout_stage_kind kind;
	uint32_t wave;       /* 1-based wave number; 0 for the canary */
	uint32_t first;      /* index into the plan's order[] */
	uint32_t count;      /* nodes in this stage (0 only with EDGE_ROLLOUT_PLAN_SHORT) */
	uint32_t cumulative; /* nodes updated once this stage is done */
	uint32_t asked;      /* the cumulative count the spec asked for, before clamping */
};

/* Plan flags: what the dry run should point out. */
#define EDGE_ROLLOUT_PLAN_SHORT 0x1u          /* fewer nodes than stages: empty stages */
#define EDGE_ROLLOUT_PLAN_CANARY_CLAMPED 0x2u /* canary cut to leave nodes for the waves */
#define EDGE_ROLLOUT_PLAN_WAVE_CLAMPED 0x4u   /* a wave moved to stay non-empty */

/* The result of planning, also what a dry run shows: order[] (the caller's
 * array) holds indexes into the node id array, stage by stage. */
struct edge_rollout_plan {
	uint32_t n_nodes;
	uint32_t n_stages; /* 1 + spec's n_waves */
	uint32_t flags;
	struct edge_rollout_stage stages[EDGE_ROLLOUT_MAX_STAGES];
};

/* The hash that orders nodes (exposed for tests and for the dry run's
 * explanation). */
uint64_t edge_rollout_node_hash(const char *rollout_id, const char *node_id);

/* Plans a rollout of node_ids[0..n) (eligible nodes, any order) into
 * *plan and order[0..n). Errors: -EINVAL (invalid spec, NULL or empty
 * rollout/node id, a node id given twice), EDGE_ENOTFOUND (n == 0: no
 * eligible node), EDGE_ELIMIT (n > EDGE_ROLLOUT_MAX_NODES), -ENOMEM. On
 * error *plan is zeroed. */
EDGE_WUR int edge_rollout_plan_make(const struct edge_rollout_spec *spec, const char *rollout_id,
				    const char *const *node_ids, size_t n, uint32_t *order,
				    struct edge_rollout_plan *plan);

/* The stage (0 = canary) holding position pos of order[]; pos < n_nodes. */
uint32_t edge_rollout_plan_stage_at(const struct edge_rollout_plan *plan, uint32_t pos);

/* One line describing stage k for a dry run or a log, e.g.
 * "wave 2: 400 nodes (50.00% asked, 500 of 1000 updated after it)";
 * returns snprintf's result (truncates to cap). */
int edge_rollout_plan_describe(const struct edge_rollout_plan *plan, uint32_t k, char *buf,
			       size_t cap);

#endif
