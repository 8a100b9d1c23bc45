/* Suite 'offload': the offload tables (schema 11) over a real database
 * file through the store's writer thread: enabled models, sampling rules,
 * and the mismatch evidence, bounded to the newest rows, cleared per
 * node, loaded oldest first. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_offload_store.h"
#include "edge_store.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define DIGEST "ca3c8f81921043599eb8e0204b76f9436d632a0fec6b650ed87298ab5684e8a8"

struct op {
	int (*fn)(edge_store_conn *conn, struct op *o);
	struct edge_offload_mismatch_row row;
	const char *text;
	int n;
	int result;
};

static int op_run(edge_store_conn *conn, void *ud)
{
	return ((struct op *)ud)->fn(conn, ud);
}

static void op_done(int result, void *ud)
{
	((struct op *)ud)->result = result;
}

static int submit(edge_store *st, struct op *o)
{
	o->result = 1;
	ck_assert_int_eq(edge_store_submit(st, op_run, op_done, o), 0);
	edge_store_flush(st);
	ck_assert_uint_eq(edge_store_run_completions(st), 1);
	ck_assert_int_ne(o->result, 1);
	return o->result;
}

static int mm_fn(edge_store_conn *conn, struct op *o)
{
	return edge_offload_store_mismatch_op(conn, &o->row, (unsigned)o->n);
}

static int clear_fn(edge_store_conn *conn, struct op *o)
{
	return edge_offload_store_clear_op(conn, o->text);
}

static int enable_fn(edge_store_conn *conn, struct op *o)
{
	return edge_offload_store_set_op(conn, o->text, o->n != 0, 5);
}

static int rule_fn(edge_store_conn *conn, struct op *o)
{
	return edge_offload_store_verify_op(conn, o->text, o->n);
}

struct seen {
	char nodes[16][65];
	uint32_t seqs[16];
	unsigned n;
	char digests[4][65];
	unsigned n_digests;
	char targets[4][81];
	int permille[4];
	unsigned n_rules;
};

static int seen_mm(const struct edge_offload_mismatch_row *r, void *ud)
{
	struct seen *s = ud;

	ck_assert_uint_lt(s->n, 16);
	snprintf(s->nodes[s->n], sizeof s->nodes[0], "%s", r->node);
	s->seqs[s->n++] = r->seq;
	return 0;
}

static int seen_digest(const char *d, int64_t ms, void *ud)
{
	struct seen *s = ud;

	(void)ms;
	snprintf(s->digests[s->n_digests++], sizeof s->digests[0], "%s", d);
	return 0;
}

static int seen_rule(const char *t, int p, void *ud)
{
	struct seen *s = ud;

	snprintf(s->targets[s->n_rules], sizeof s->targets[0], "%s", t);
	s->permille[s->n_rules++] = p;
	return 0;
}

static int load_run(edge_store_conn *conn, void *ud)
{
	int rc = edge_offload_store_mismatch_load(conn, 10, seen_mm, ud);

	if (rc == 0)
		rc = edge_offload_store_load(conn, seen_digest, ud, NULL);
	if (rc == 0)
		rc = edge_offload_store_verify_load(conn, seen_rule, ud, NULL);
	return rc;
}

static void put_mm(edge_store *st, const char *node, uint32_t seq, unsigned keep)
{
	struct op o = { .fn = mm_fn, .n = (int)keep };

	snprintf(o.row.node, sizeof o.row.node, "%s", node);
	snprintf(o.row.model, sizeof o.row.model, "kws@1.0");
	o.row.seq = seq;
	o.row.first_diff = 3;
	o.row.length = 12;
	ck_assert_int_eq(submit(st, &o), 0);
}

START_TEST(evidence_bounded_cleared_and_loaded)
{
	edge_store *st = NULL;
	struct seen *s = calloc(1, sizeof *s);
	struct op o = { .fn = clear_fn, .text = "n-2" };

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	for (uint32_t i = 0; i < 6; i++)
		put_mm(st, i % 2 ? "n-2" : "n-1", i, 4); /* the newest 4 stay */
	ck_assert_int_eq(submit(st, &o), 0);     /* n-2's go */
	{
		struct op e = { .fn = enable_fn, .text = DIGEST, .n = 1 };
		struct op r = { .fn = rule_fn, .text = "tag:canary", .n = 250 };
		struct op bad = { .fn = rule_fn, .text = "canary", .n = 5 };
		struct op bad2 = { .fn = rule_fn, .text = "id:x", .n = 1001 };
		struct op empty = { .fn = mm_fn, .n = 4 };

		ck_assert_int_eq(submit(st, &e), 0);
		ck_assert_int_eq(submit(st, &r), 0);
		ck_assert_int_eq(submit(st, &bad), -EINVAL);
		ck_assert_int_eq(submit(st, &bad2), -EINVAL);
		ck_assert_int_eq(submit(st, &empty), -EINVAL);
	}
	edge_store_close(st);

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ck_assert_int_eq(edge_store_read(st, load_run, s), 0);
	/* rows 2..5 were kept; n-2's (3, 5) cleared: n-1's 2 and 4, oldest first */
	ck_assert_uint_eq(s->n, 2);
	ck_assert_str_eq(s->nodes[0], "n-1");
	ck_assert_uint_eq(s->seqs[0], 2);
	ck_assert_uint_eq(s->seqs[1], 4);
	ck_assert_uint_eq(s->n_digests, 1);
	ck_assert_str_eq(s->digests[0], DIGEST);
	ck_assert_uint_eq(s->n_rules, 1);
	ck_assert_str_eq(s->targets[0], "tag:canary");
	ck_assert_int_eq(s->permille[0], 250);
	edge_store_close(st);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offload-store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_add_test(tc, evidence_bounded_cleared_and_loaded);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TEXT, CK_FORK_GETENV);
}
