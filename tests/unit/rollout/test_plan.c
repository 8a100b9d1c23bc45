/* Suite 'rollout-plan': the CLI forms of --canary, --waves and
 * --max-failures with their specific errors; stages from the eligible
 * nodes: every node in exactly one stage, sizes for 1, 3 and 1000 nodes,
 * clamping, the order reproducible per rollout id yet spread over nodes and
 * independent of the input order, and refused inputs. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_rollout_plan.h"
#include "test_run.h"

#define MAX_TEST_NODES 1000

static char id_buf[MAX_TEST_NODES][16];
static const char *ids[MAX_TEST_NODES];

/* ids[i] = "node-%04u", in alphabetical order. */
static void make_ids(unsigned n)
{
	ck_assert_uint_le(n, MAX_TEST_NODES);
	for (unsigned i = 0; i < n; i++) {
		snprintf(id_buf[i], sizeof id_buf[i], "node-%04u", i);
		ids[i] = id_buf[i];
	}
}

static struct edge_rollout_spec spec_of(const char *canary, const char *waves)
{
	struct edge_rollout_spec s;
	enum edge_rollout_spec_error e;

	memset(&s, 0, sizeof s);
	ck_assert_int_eq(edge_rollout_parse_canary(canary, &s.canary, &e), 0);
	ck_assert_int_eq(edge_rollout_parse_waves(waves, &s, &e, NULL), 0);
	return s;
}

/* order[] is a permutation of 0..n-1 and the stages tile it. */
static void check_tiling(const struct edge_rollout_plan *p, const uint32_t *order, unsigned n)
{
	static unsigned char seen[MAX_TEST_NODES];
	uint32_t next = 0;

	memset(seen, 0, sizeof seen);
	ck_assert_uint_eq(p->n_nodes, n);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_lt(order[i], n);
		ck_assert_msg(!seen[order[i]], "node %u twice", order[i]);
		seen[order[i]] = 1;
	}
	for (uint32_t k = 0; k < p->n_stages; k++) {
		ck_assert_uint_eq(p->stages[k].first, next);
		next += p->stages[k].count;
		ck_assert_uint_eq(p->stages[k].cumulative, next);
		if (p->stages[k].count)
			ck_assert_uint_eq(edge_rollout_plan_stage_at(p, p->stages[k].first), k);
	}
	ck_assert_uint_eq(next, n);
}

/* ---- parsing ---- */

static void expect_canary_err(const char *s, enum edge_rollout_spec_error want)
{
	struct edge_rollout_canary c;
	enum edge_rollout_spec_error e = EDGE_ROLLOUT_SPEC_OK;

	ck_assert_msg(edge_rollout_parse_canary(s, &c, &e) == -EINVAL, "'%s' accepted", s);
	ck_assert_msg(e == want, "'%s': error %d (%s), want %d", s, e,
		      edge_rollout_spec_strerror(e), want);
}

START_TEST(canary_forms)
{
	struct edge_rollout_canary c;
	enum edge_rollout_spec_error e;

	ck_assert_int_eq(edge_rollout_parse_canary("5", &c, &e), 0);
	ck_assert_int_eq(c.kind, EDGE_ROLLOUT_CANARY_COUNT);
	ck_assert_uint_eq(c.value, 5);
	ck_assert_int_eq(e, EDGE_ROLLOUT_SPEC_OK);
	ck_assert_int_eq(edge_rollout_parse_canary("1%", &c, NULL), 0);
	ck_assert_int_eq(c.kind, EDGE_ROLLOUT_CANARY_SHARE);
	ck_assert_uint_eq(c.value, 100);
	ck_assert_int_eq(edge_rollout_parse_canary("0.5%", &c, NULL), 0);
	ck_assert_uint_eq(c.value, 50);
	ck_assert_int_eq(edge_rollout_parse_canary("12.25%", &c, NULL), 0);
	ck_assert_uint_eq(c.value, 1225);
	ck_assert_int_eq(edge_rollout_parse_canary("100%", &c, NULL), 0);
	ck_assert_uint_eq(c.value, 10000);
	ck_assert_int_eq(edge_rollout_parse_canary("0.01%", &c, NULL), 0);
	ck_assert_uint_eq(c.value, 1);

	expect_canary_err("", EDGE_ROLLOUT_SPEC_EMPTY);
	expect_canary_err(NULL, EDGE_ROLLOUT_SPEC_EMPTY);
	expect_canary_err("%", EDGE_ROLLOUT_SPEC_EMPTY);
	expect_canary_err("abc", EDGE_ROLLOUT_SPEC_SYNTAX);
	expect_canary_err("-5", EDGE_ROLLOUT_SPEC_SYNTAX);
	expect_canary_err("5 ", EDGE_ROLLOUT_SPEC_SYNTAX);
	expect_canary_err("1.%", EDGE_ROLLOUT_SPEC_SYNTAX);
	expect_canary_err("5%%", EDGE_ROLLOUT_SPEC_SYNTAX);
	expect_canary_err("5.5", EDGE_ROLLOUT_SPEC_DECIMALS);
	expect_canary_err("1.234%", EDGE_ROLLOUT_SPEC_DECIMALS);
	expect_canary_err("0", EDGE_ROLLOUT_SPEC_ZERO);
	expect_canary_err("0%", EDGE_ROLLOUT_SPEC_ZERO);
	expect_canary_err("0.00%", EDGE_ROLLOUT_SPEC_ZERO);
	expect_canary_err("100.01%", EDGE_ROLLOUT_SPEC_RANGE);
	expect_canary_err("101%", EDGE_ROLLOUT_SPEC_RANGE);
	expect_canary_err("1000001", EDGE_ROLLOUT_SPEC_RANGE);
	expect_canary_err("99999999999999999999999", EDGE_ROLLOUT_SPEC_RANGE);
	{
		char longs[EDGE_ROLLOUT_SPEC_MAX + 2];

		memset(longs, '1', sizeof longs - 1);
		longs[sizeof longs - 1] = '\0';
		expect_canary_err(longs, EDGE_ROLLOUT_SPEC_TOO_LONG);
	}
}
END_TEST

static void expect_waves_err(const char *s, enum edge_rollout_spec_error want, uint32_t item)
{
	struct edge_rollout_spec spec;
	enum edge_rollout_spec_error e = EDGE_ROLLOUT_SPEC_OK;
	uint32_t bad = 99;

	memset(&spec, 0, sizeof spec);
	ck_assert_msg(edge_rollout_parse_waves(s, &spec, &e, &bad) == -EINVAL, "'%s' accepted", s);
	ck_assert_msg(e == want, "'%s': error %d (%s), want %d", s, e,
		      edge_rollout_spec_strerror(e), want);
	ck_assert_msg(bad == item, "'%s': item %u, want %u", s, bad, item);
	ck_assert_uint_eq(spec.n_waves, 0); /* untouched on error */
}

START_TEST(waves_forms)
{
	struct edge_rollout_spec spec;
	enum edge_rollout_spec_error e;
	char many[256] = "";

	memset(&spec, 0, sizeof spec);
	ck_assert_int_eq(edge_rollout_parse_waves("10%,50%,100%", &spec, &e, NULL), 0);
	ck_assert_uint_eq(spec.n_waves, 3);
	ck_assert_uint_eq(spec.wave_bp[0], 1000);
	ck_assert_uint_eq(spec.wave_bp[1], 5000);
	ck_assert_uint_eq(spec.wave_bp[2], 10000);
	ck_assert_int_eq(edge_rollout_parse_waves("100%", &spec, &e, NULL), 0);
	ck_assert_uint_eq(spec.n_waves, 1);

	expect_waves_err("10%,50%", EDGE_ROLLOUT_SPEC_NOT_ALL, 1); /* the last item */
	expect_waves_err("50%,10%,100%", EDGE_ROLLOUT_SPEC_NOT_INCREASING, 1);
	expect_waves_err("50%,50%,100%", EDGE_ROLLOUT_SPEC_NOT_INCREASING, 1);
	expect_waves_err("10%,,100%", EDGE_ROLLOUT_SPEC_EMPTY, 1);
	expect_waves_err("10%,100%,", EDGE_ROLLOUT_SPEC_EMPTY, 2);
	expect_waves_err(",100%", EDGE_ROLLOUT_SPEC_EMPTY, 0);
	expect_waves_err("10,100%", EDGE_ROLLOUT_SPEC_NOT_PERCENT, 0);
	expect_waves_err("10%,x%,100%", EDGE_ROLLOUT_SPEC_SYNTAX, 1);
	expect_waves_err("10%, 50%,100%", EDGE_ROLLOUT_SPEC_SYNTAX, 1);
	expect_waves_err("10%,150%", EDGE_ROLLOUT_SPEC_RANGE, 1);
	expect_waves_err("0%,100%", EDGE_ROLLOUT_SPEC_ZERO, 0);
	expect_waves_err("", EDGE_ROLLOUT_SPEC_EMPTY, 0);
	/* 16 waves are the bound; a 17th is refused as such. */
	for (int i = 1; i <= 16; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d%%", i > 1 ? "," : "",
			 i * 6);
	ck_assert_int_eq(edge_rollout_parse_waves(strcat(many, ",100%"), &spec, &e, NULL),
			 -EINVAL);
	ck_assert_int_eq(e, EDGE_ROLLOUT_SPEC_TOO_MANY);
}
END_TEST

START_TEST(max_failures_form)
{
	uint32_t bp = 1;
	enum edge_rollout_spec_error e;

	ck_assert_int_eq(edge_rollout_parse_percent("0%", 1, &bp, &e), 0);
	ck_assert_uint_eq(bp, 0);
	ck_assert_int_eq(edge_rollout_parse_percent("2.5%", 1, &bp, &e), 0);
	ck_assert_uint_eq(bp, 250);
	ck_assert_int_eq(edge_rollout_parse_percent("0%", 0, &bp, &e), -EINVAL);
	ck_assert_int_eq(e, EDGE_ROLLOUT_SPEC_ZERO);
	ck_assert_int_eq(edge_rollout_parse_percent("5", 1, &bp, &e), -EINVAL);
	ck_assert_int_eq(e, EDGE_ROLLOUT_SPEC_NOT_PERCENT);
	ck_assert_int_eq(edge_rollout_parse_percent("", 1, &bp, &e), -EINVAL);
	ck_assert_int_eq(e, EDGE_ROLLOUT_SPEC_EMPTY);
	ck_assert_str_ne(edge_rollout_spec_strerror(EDGE_ROLLOUT_SPEC_NOT_ALL), "");
}
END_TEST

/* ---- planning ---- */

START_TEST(one_node)
{
	struct edge_rollout_spec spec = spec_of("1%", "10%,50%,100%");
	struct edge_rollout_plan p;
	uint32_t order[1];
	char line[128];

	make_ids(1);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r1", ids, 1, order, &p), 0);
	check_tiling(&p, order, 1);
	ck_assert_uint_eq(p.n_stages, 4);
	ck_assert_uint_eq(p.flags, EDGE_ROLLOUT_PLAN_SHORT);
	ck_assert_uint_eq(p.stages[0].count, 1); /* the one node is the canary */
	ck_assert_int_eq(p.stages[0].kind, EDGE_ROLLOUT_STAGE_CANARY);
	for (int k = 1; k < 4; k++)
		ck_assert_uint_eq(p.stages[k].count, 0);
	edge_rollout_plan_describe(&p, 2, line, sizeof line);
	ck_assert_str_eq(line, "wave 2: no nodes (only 1 nodes for 4 stages)");
	edge_rollout_plan_describe(&p, 0, line, sizeof line);
	ck_assert_str_eq(line, "canary: 1 node (1 of 1 updated after it)");
}
END_TEST

START_TEST(three_nodes_four_stages)
{
	struct edge_rollout_spec spec = spec_of("5", "10%,50%,100%");
	struct edge_rollout_plan p;
	uint32_t order[3];

	make_ids(3);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r1", ids, 3, order, &p), 0);
	check_tiling(&p, order, 3);
	ck_assert(p.flags & EDGE_ROLLOUT_PLAN_SHORT);
	ck_assert_uint_eq(p.stages[0].count, 1);
	ck_assert_uint_eq(p.stages[1].count, 1);
	ck_assert_uint_eq(p.stages[2].count, 1);
	ck_assert_uint_eq(p.stages[3].count, 0);
}
END_TEST

START_TEST(thousand_nodes)
{
	struct edge_rollout_spec spec = spec_of("1%", "10%,50%,100%");
	struct edge_rollout_plan p;
	static uint32_t order[1000];
	char line[128];
	unsigned first_ten = 0;

	make_ids(1000);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "rollout-7", ids, 1000, order, &p), 0);
	check_tiling(&p, order, 1000);
	ck_assert_uint_eq(p.flags, 0);
	ck_assert_uint_eq(p.stages[0].count, 10);
	ck_assert_uint_eq(p.stages[1].count, 90);
	ck_assert_uint_eq(p.stages[2].count, 400);
	ck_assert_uint_eq(p.stages[3].count, 500);
	ck_assert_uint_eq(p.stages[3].wave, 3);
	/* Not the alphabetically first ids: at most a couple by chance. */
	for (int i = 0; i < 10; i++)
		first_ten += order[i] < 10;
	ck_assert_uint_le(first_ten, 2);
	edge_rollout_plan_describe(&p, 2, line, sizeof line);
	ck_assert_str_eq(line, "wave 2: 400 nodes (500 of 1000 updated after it)");
}
END_TEST

START_TEST(rounding_up)
{
	/* 7 nodes: canary 1% -> ceil(0.07) = 1, waves 10% -> 1 -> clamped to
	 * 2, 50% -> 4, 100% -> 7. */
	struct edge_rollout_spec spec = spec_of("1%", "10%,50%,100%");
	struct edge_rollout_plan p;
	uint32_t order[7];

	make_ids(7);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", ids, 7, order, &p), 0);
	check_tiling(&p, order, 7);
	ck_assert_uint_eq(p.stages[0].cumulative, 1);
	ck_assert_uint_eq(p.stages[1].cumulative, 2);
	ck_assert_uint_eq(p.stages[1].asked, 1);
	ck_assert_uint_eq(p.stages[2].cumulative, 4);
	ck_assert_uint_eq(p.stages[3].cumulative, 7);
	ck_assert_uint_eq(p.flags, EDGE_ROLLOUT_PLAN_WAVE_CLAMPED);
}
END_TEST

START_TEST(clamping)
{
	struct edge_rollout_spec spec = spec_of("20", "50%,100%");
	struct edge_rollout_plan p;
	uint32_t order[10];

	make_ids(10);
	/* A canary larger than the fleet leaves one node for each wave. */
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", ids, 10, order, &p), 0);
	check_tiling(&p, order, 10);
	ck_assert_uint_eq(p.stages[0].count, 8);
	ck_assert_uint_eq(p.stages[1].count, 1);
	ck_assert_uint_eq(p.stages[2].count, 1);
	ck_assert(p.flags & EDGE_ROLLOUT_PLAN_CANARY_CLAMPED);
	ck_assert(p.flags & EDGE_ROLLOUT_PLAN_WAVE_CLAMPED); /* 50% < the canary's 8 */
	ck_assert(!(p.flags & EDGE_ROLLOUT_PLAN_SHORT));
}
END_TEST

/* The set of node ids in stage k, sorted, joined: for comparisons. */
static void stage_set(const struct edge_rollout_plan *p, const uint32_t *order,
		      const char *const *names, uint32_t k, char *out, size_t cap)
{
	const char *set[MAX_TEST_NODES];
	uint32_t n = p->stages[k].count;

	for (uint32_t i = 0; i < n; i++)
		set[i] = names[order[p->stages[k].first + i]];
	for (uint32_t i = 1; i < n; i++) /* insertion sort: small sets */
		for (uint32_t j = i; j > 0 && strcmp(set[j - 1], set[j]) > 0; j--) {
			const char *t = set[j];

			set[j] = set[j - 1];
			set[j - 1] = t;
		}
	out[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		strncat(out, set[i], cap - strlen(out) - 1);
		strncat(out, ",", cap - strlen(out) - 1);
	}
}

START_TEST(deterministic_and_input_order_free)
{
	struct edge_rollout_spec spec = spec_of("5", "30%,100%");
	struct edge_rollout_plan p1, p2;
	uint32_t o1[100], o2[100];
	const char *rev[100];
	char a[2048], b[2048];

	make_ids(100);
	for (int i = 0; i < 100; i++)
		rev[i] = ids[99 - i];
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "abc", ids, 100, o1, &p1), 0);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "abc", rev, 100, o2, &p2), 0);
	for (uint32_t k = 0; k < p1.n_stages; k++) {
		stage_set(&p1, o1, ids, k, a, sizeof a);
		stage_set(&p2, o2, rev, k, b, sizeof b);
		ck_assert_str_eq(a, b);
	}
	/* Another rollout id: another canary. */
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "abd", ids, 100, o2, &p2), 0);
	stage_set(&p1, o1, ids, 0, a, sizeof a);
	stage_set(&p2, o2, ids, 0, b, sizeof b);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(canary_spread)
{
	/* Over 200 rollout ids, a 10% canary of 100 nodes picks each node
	 * Binomial(200, 0.1) times: mean 20, sd 4.2. Every node within
	 * [5, 40] means no node is favoured or never picked (a bias towards
	 * low ids or a stuck hash fails this). */
	struct edge_rollout_spec spec = spec_of("10%", "100%");
	struct edge_rollout_plan p;
	uint32_t order[100];
	unsigned hits[100] = { 0 };

	make_ids(100);
	for (int r = 0; r < 200; r++) {
		char rid[16];

		snprintf(rid, sizeof rid, "r%d", r);
		ck_assert_int_eq(edge_rollout_plan_make(&spec, rid, ids, 100, order, &p), 0);
		ck_assert_uint_eq(p.stages[0].count, 10);
		for (int i = 0; i < 10; i++)
			hits[order[i]]++;
	}
	for (int i = 0; i < 100; i++)
		ck_assert_msg(hits[i] >= 5 && hits[i] <= 40, "node %d in %u canaries", i, hits[i]);
}
END_TEST

START_TEST(hash_values)
{
	/* Expected values from a Python transcription of FNV-1a 64 with the
	 * 0xff separator and the splitmix64 finaliser. */
	ck_assert_uint_eq(edge_rollout_node_hash("r1", "node-1"), 0xc4c96e2bfd4ac381ULL);
	ck_assert_uint_eq(edge_rollout_node_hash("", ""), 0x4f2db50f124040cdULL);
	ck_assert_uint_ne(edge_rollout_node_hash("a", "bc"), edge_rollout_node_hash("ab", "c"));
}
END_TEST

START_TEST(refused_inputs)
{
	struct edge_rollout_spec spec = spec_of("1", "100%");
	struct edge_rollout_spec bad = spec;
	struct edge_rollout_plan p;
	uint32_t order[4];
	const char *dup[] = { "a", "b", "a" };
	const char *empty[] = { "a", "" };
	const char *null_id[] = { "a", NULL };

	make_ids(4);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", dup, 3, order, &p), -EINVAL);
	ck_assert_uint_eq(p.n_nodes, 0);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", empty, 2, order, &p), -EINVAL);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", null_id, 2, order, &p), -EINVAL);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "", ids, 4, order, &p), -EINVAL);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, NULL, ids, 4, order, &p), -EINVAL);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", ids, 0, order, &p), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_rollout_plan_make(&spec, "r", ids, (size_t)EDGE_ROLLOUT_MAX_NODES + 1,
						order, &p),
			 EDGE_ELIMIT);
	bad.wave_bp[0] = 9000; /* the last wave must reach everyone */
	ck_assert_int_eq(edge_rollout_plan_make(&bad, "r", ids, 4, order, &p), -EINVAL);
	bad = spec;
	bad.canary.value = 0;
	ck_assert_int_eq(edge_rollout_plan_make(&bad, "r", ids, 4, order, &p), -EINVAL);
	bad = spec;
	bad.n_waves = 0;
	ck_assert_int_eq(edge_rollout_plan_make(&bad, "r", ids, 4, order, &p), -EINVAL);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("rollout-plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, canary_forms);
	tcase_add_test(tc, waves_forms);
	tcase_add_test(tc, max_failures_form);
	tcase_add_test(tc, one_node);
	tcase_add_test(tc, three_nodes_four_stages);
	tcase_add_test(tc, thousand_nodes);
	tcase_add_test(tc, rounding_up);
	tcase_add_test(tc, clamping);
	tcase_add_test(tc, deterministic_and_input_order_free);
	tcase_add_test(tc, canary_spread);
	tcase_add_test(tc, hash_values);
	tcase_add_test(tc, refused_inputs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(plan_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
