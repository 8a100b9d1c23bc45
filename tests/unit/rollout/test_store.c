/* Suite 'rollout': the rollouts' tables (schemas 9, 10) over a real database
 * file and the store's writer thread: rows upserted by id, node outcomes by
 * (rollout, device), events appended; the start-up load returns the
 * unfinished rollouts and the newest finished ones with their nodes in
 * stage order and their newest events oldest first; invalid rows are
 * refused before anything is written, unreadable ones skipped and
 * counted; schema 10's fields round-trip and its migration keeps what
 * version 9 stored. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_rollout_store.h"
#include "edge_store.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define DIGEST "ca3c8f81921043599eb8e0204b76f9436d632a0fec6b650ed87298ab5684e8a8"

struct op {
	int (*fn)(edge_store_conn *conn, struct op *o);
	const struct edge_rollout_row *row;
	uint32_t rollout;
	const struct edge_rollout_node_row *nodes;
	unsigned n;
	int64_t ts;
	const char *text;
	int result;
};

static int op_run(edge_store_conn *conn, void *ud)
{
	struct op *o = ud;

	return o->fn(conn, o);
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

static int row_fn(edge_store_conn *conn, struct op *o)
{
	return edge_rollout_store_rollout_op(conn, o->row);
}

static int nodes_fn(edge_store_conn *conn, struct op *o)
{
	return edge_rollout_store_nodes_op(conn, o->rollout, o->nodes, o->n);
}

static int event_fn(edge_store_conn *conn, struct op *o)
{
	return edge_rollout_store_event_op(conn, o->rollout, o->ts, o->text);
}

static int put_row(edge_store *st, const struct edge_rollout_row *r)
{
	struct op o = { .fn = row_fn, .row = r };

	return submit(st, &o);
}

static int put_nodes(edge_store *st, uint32_t id, const struct edge_rollout_node_row *v,
		     unsigned n)
{
	struct op o = { .fn = nodes_fn, .rollout = id, .nodes = v, .n = n };

	return submit(st, &o);
}

static int put_event(edge_store *st, uint32_t id, int64_t ts, const char *text)
{
	struct op o = { .fn = event_fn, .rollout = id, .ts = ts, .text = text };

	return submit(st, &o);
}

static struct edge_rollout_row row(uint32_t id, enum edge_rollout_state state)
{
	struct edge_rollout_row r = { .id = id, .state = state, .created_ms = 1000,
				      .updated_ms = 2000, .revert_stage = EDGE_ROLLOUT_REVERT_NONE };

	snprintf(r.digest, sizeof r.digest, "%s", DIGEST);
	snprintf(r.name, sizeof r.name, "hw");
	snprintf(r.version, sizeof r.version, "1.%u", id);
	snprintf(r.spec, sizeof r.spec, "{\"canary\":\"1\"}");
	return r;
}

static struct edge_rollout_node_row node(const char *id, uint32_t stage,
					 enum edge_rollout_node_outcome o, const char *reason)
{
	struct edge_rollout_node_row n = { .stage = stage, .outcome = o };

	snprintf(n.device, sizeof n.device, "%s", id);
	snprintf(n.reason, sizeof n.reason, "%s", reason);
	return n;
}

/* What the load handed over. */
struct seen {
	unsigned n;
	struct edge_rollout_row rows[64];
	unsigned n_nodes[64], n_events[64];
	struct edge_rollout_node_row first_node[64];
	struct edge_rollout_event_row first_event[64], last_event[64];
	int stop_at; /* return non-zero at this call (-1: never) */
};

static int load_fn(const struct edge_rollout_row *r, const struct edge_rollout_node_row *nv,
		   unsigned n, const struct edge_rollout_event_row *ev, unsigned n_ev, void *ud)
{
	struct seen *s = ud;

	ck_assert_uint_lt(s->n, 64);
	if (s->stop_at >= 0 && (int)s->n == s->stop_at)
		return -ECANCELED;
	s->rows[s->n] = *r;
	s->n_nodes[s->n] = n;
	s->n_events[s->n] = n_ev;
	if (n)
		s->first_node[s->n] = nv[0];
	if (n_ev) {
		s->first_event[s->n] = ev[0];
		s->last_event[s->n] = ev[n_ev - 1];
	}
	s->n++;
	return 0;
}

struct load_call {
	struct seen *seen;
	unsigned skipped;
	uint32_t max_id;
};

static int load_run(edge_store_conn *conn, void *ud)
{
	struct load_call *c = ud;
	int rc = edge_rollout_store_load(conn, load_fn, c->seen, &c->skipped);

	if (rc == 0)
		rc = edge_rollout_store_max_id(conn, &c->max_id);
	return rc;
}

static int load(edge_store *st, struct seen *s, struct load_call *c)
{
	memset(s, 0, sizeof *s);
	s->stop_at = -1;
	memset(c, 0, sizeof *c);
	c->seen = s;
	return edge_store_read(st, load_run, c);
}

START_TEST(names_round_trip)
{
	enum edge_rollout_state s;
	enum edge_rollout_node_outcome o;

	for (unsigned i = 0; i < EDGE_ROLLOUT_STATE_COUNT; i++) {
		ck_assert_int_eq(edge_rollout_state_parse(
					 edge_rollout_state_name((enum edge_rollout_state)i), &s),
				 0);
		ck_assert_uint_eq(s, i);
	}
	for (unsigned i = 0; i < EDGE_ROLLOUT_NODE_OUTCOME_COUNT; i++) {
		ck_assert_int_eq(edge_rollout_node_outcome_parse(
					 edge_rollout_node_outcome_name(
						 (enum edge_rollout_node_outcome)i),
					 &o),
				 0);
		ck_assert_uint_eq(o, i);
	}
	ck_assert_int_eq(edge_rollout_state_parse("stopped", &s), -EINVAL);
	ck_assert_int_eq(edge_rollout_node_outcome_parse(NULL, &o), -EINVAL);
	ck_assert_str_eq(edge_rollout_state_name(EDGE_ROLLOUT_STATE_COUNT), "?");
	ck_assert(edge_rollout_state_final(EDGE_ROLLOUT_DONE));
	ck_assert(!edge_rollout_state_final(EDGE_ROLLOUT_HALTED));
}
END_TEST

START_TEST(rows_nodes_events_survive_a_reopen)
{
	edge_store *st = NULL;
	struct edge_rollout_row r = row(7, EDGE_ROLLOUT_RUNNING);
	struct edge_rollout_node_row nv[3] = {
		node("node-b", 1, EDGE_ROLLOUT_NODE_PENDING, ""),
		node("node-a", 0, EDGE_ROLLOUT_NODE_FAILURE, "selftest_mismatch"),
		node("node-c", 1, EDGE_ROLLOUT_NODE_PENDING, ""),
	};
	struct seen *s = calloc(1, sizeof *s);
	struct load_call c;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ck_assert_int_eq(put_row(st, &r), 0);
	ck_assert_int_eq(put_nodes(st, 7, nv, 3), 0);
	ck_assert_int_eq(put_event(st, 7, 100, "started"), 0);
	ck_assert_int_eq(put_event(st, 7, 200, "canary started"), 0);
	/* progress: state, stage, transfer and reason change; the rest stays */
	r.state = EDGE_ROLLOUT_HALTED;
	r.stage = 1;
	r.transfer = 12;
	r.accepted = true;
	snprintf(r.reason, sizeof r.reason, "canary: 1 of 1 failed");
	snprintf(r.version, sizeof r.version, "9.9");
	ck_assert_int_eq(put_row(st, &r), 0);
	nv[0].outcome = EDGE_ROLLOUT_NODE_SUCCESS;
	snprintf(nv[0].reason, sizeof nv[0].reason, "success");
	ck_assert_int_eq(put_nodes(st, 7, nv, 1), 0);
	edge_store_close(st);

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ck_assert_int_eq(load(st, s, &c), 0);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_uint_eq(c.skipped, 0);
	ck_assert_uint_eq(c.max_id, 7);
	ck_assert_uint_eq(s->rows[0].id, 7);
	ck_assert_int_eq(s->rows[0].state, EDGE_ROLLOUT_HALTED);
	ck_assert_uint_eq(s->rows[0].stage, 1);
	ck_assert_uint_eq(s->rows[0].transfer, 12);
	ck_assert(s->rows[0].accepted);
	ck_assert_str_eq(s->rows[0].reason, "canary: 1 of 1 failed");
	ck_assert_str_eq(s->rows[0].version, "1.7"); /* what a rollout is never changes */
	ck_assert_str_eq(s->rows[0].digest, DIGEST);
	ck_assert_str_eq(s->rows[0].spec, "{\"canary\":\"1\"}");
	ck_assert_uint_eq(s->n_nodes[0], 3);
	/* by stage, then device */
	ck_assert_str_eq(s->first_node[0].device, "node-a");
	ck_assert_int_eq(s->first_node[0].outcome, EDGE_ROLLOUT_NODE_FAILURE);
	ck_assert_str_eq(s->first_node[0].reason, "selftest_mismatch");
	ck_assert_uint_eq(s->n_events[0], 2);
	ck_assert_str_eq(s->first_event[0].text, "started");
	ck_assert_str_eq(s->last_event[0].text, "canary started");
	ck_assert_int_eq(s->last_event[0].ts_ms, 200);
	edge_store_close(st);
	free(s);
}
END_TEST

START_TEST(load_keeps_unfinished_and_newest_finished)
{
	edge_store *st = NULL;
	struct seen *s = calloc(1, sizeof *s);
	struct load_call c;
	const unsigned finished = EDGE_ROLLOUT_LOAD_FINISHED + 5;
	char text[32];

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	/* id 1 unfinished and oldest; then many finished ones */
	{
		struct edge_rollout_row r = row(1, EDGE_ROLLOUT_PAUSED);

		ck_assert_int_eq(put_row(st, &r), 0);
	}
	for (unsigned i = 0; i < finished; i++) {
		struct edge_rollout_row r = row(2 + i, i % 2 ? EDGE_ROLLOUT_DONE : EDGE_ROLLOUT_ABORTED);

		ck_assert_int_eq(put_row(st, &r), 0);
	}
	/* more events than a load keeps: the newest ones come, oldest first */
	for (unsigned i = 0; i < EDGE_ROLLOUT_LOAD_EVENTS + 10; i++) {
		snprintf(text, sizeof text, "event %u", i);
		ck_assert_int_eq(put_event(st, 1, 1000 + i, text), 0);
	}
	ck_assert_int_eq(load(st, s, &c), 0);
	ck_assert_uint_eq(s->n, 1 + EDGE_ROLLOUT_LOAD_FINISHED);
	ck_assert_uint_eq(s->rows[0].id, 1);
	ck_assert_uint_eq(s->rows[1].id, 2 + finished - EDGE_ROLLOUT_LOAD_FINISHED);
	ck_assert_uint_eq(s->rows[s->n - 1].id, 1 + finished);
	ck_assert_uint_eq(c.max_id, 1 + finished);
	ck_assert_uint_eq(s->n_events[0], EDGE_ROLLOUT_LOAD_EVENTS);
	ck_assert_str_eq(s->first_event[0].text, "event 10");
	snprintf(text, sizeof text, "event %u", EDGE_ROLLOUT_LOAD_EVENTS + 9);
	ck_assert_str_eq(s->last_event[0].text, text);
	/* the callback's code stops the load */
	memset(s, 0, sizeof *s);
	s->stop_at = 1;
	memset(&c, 0, sizeof c);
	c.seen = s;
	ck_assert_int_eq(edge_store_read(st, load_run, &c), -ECANCELED);
	ck_assert_uint_eq(s->n, 1);
	edge_store_close(st);
	free(s);
}
END_TEST

START_TEST(invalid_rows_are_refused_and_unreadable_ones_skipped)
{
	edge_store *st = NULL;
	struct edge_rollout_row r = row(3, EDGE_ROLLOUT_RUNNING);
	struct edge_rollout_node_row nv[2] = {
		node("node-a", 0, EDGE_ROLLOUT_NODE_PENDING, ""),
		node("", 0, EDGE_ROLLOUT_NODE_PENDING, ""),
	};
	struct seen *s = calloc(1, sizeof *s);
	struct load_call c;
	sqlite3 *db;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	r.id = 0;
	ck_assert_int_eq(put_row(st, &r), -EINVAL);
	r = row(3, EDGE_ROLLOUT_STATE_COUNT);
	ck_assert_int_eq(put_row(st, &r), -EINVAL);
	r = row(3, EDGE_ROLLOUT_RUNNING);
	r.digest[10] = '\0';
	ck_assert_int_eq(put_row(st, &r), -EINVAL);
	r = row(3, EDGE_ROLLOUT_RUNNING);
	snprintf(r.spec, sizeof r.spec, "not json");
	ck_assert_int_eq(put_row(st, &r), -EINVAL);
	r = row(3, EDGE_ROLLOUT_RUNNING);
	ck_assert_int_eq(put_row(st, &r), 0);
	/* the batch with an empty device writes none of it */
	ck_assert_int_eq(put_nodes(st, 3, nv, 2), -EINVAL);
	ck_assert_int_eq(put_nodes(st, 0, nv, 1), -EINVAL);
	ck_assert_int_eq(put_event(st, 3, 1, ""), -EINVAL);
	ck_assert_int_eq(put_event(st, 0, 1, "x"), -EINVAL);
	edge_store_close(st);

	/* a row and a node with a stage out of range (written behind the
	 * store's back) */
	ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "INSERT INTO rollout_node (rollout, device, stage, outcome,"
				      " reason) VALUES (3, 'node-z', 0, 'pending', '');"
				      "INSERT INTO rollout_node (rollout, device, stage, outcome,"
				      " reason) VALUES (3, 'node-y', -1, 'pending', '');"
				      "INSERT INTO rollout (id, digest, name, version, spec, state,"
				      " stage, created_ms, updated_ms) VALUES (4, '" DIGEST "', 'hw',"
				      " '2', '{}', 'running', -2, 1, 1);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ck_assert_int_eq(load(st, s, &c), 0);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_uint_eq(s->rows[0].id, 3);
	ck_assert_uint_eq(s->n_nodes[0], 1);
	ck_assert_str_eq(s->first_node[0].device, "node-z");
	ck_assert_uint_eq(c.skipped, 2);
	ck_assert_uint_eq(c.max_id, 4); /* an unreadable row still holds its id */
	edge_store_close(st);
	free(s);
}
END_TEST

/* Schema 10: stage and soak starts, the revert in progress, the states
 * reverting/reverted and the outcome reverted round-trip; a database of
 * version 9 (its rollout tables as they were) migrates keeping every row. */
START_TEST(schema_10_fields_and_migration_from_9)
{
	edge_store *st = NULL;
	struct edge_rollout_row r = row(5, EDGE_ROLLOUT_REVERTING);
	struct edge_rollout_node_row nv[1] = { node("node-a", 0, EDGE_ROLLOUT_NODE_REVERTED, "slot") };
	struct seen *s = calloc(1, sizeof *s);
	struct load_call c;
	sqlite3 *db;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	nv[0].baseline_from_ms = 99;
	r.stage_started_ms = 111;
	r.soak_started_ms = 222;
	r.revert_stage = EDGE_ROLLOUT_REVERT_ALL;
	ck_assert_int_eq(put_row(st, &r), 0);
	ck_assert_int_eq(put_nodes(st, 5, nv, 1), 0);
	r.revert_stage = -3; /* neither a stage nor a marker */
	ck_assert_int_eq(put_row(st, &r), -EINVAL);
	edge_store_close(st);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ck_assert_int_eq(load(st, s, &c), 0);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_int_eq(s->rows[0].state, EDGE_ROLLOUT_REVERTING);
	ck_assert_int_eq(s->rows[0].stage_started_ms, 111);
	ck_assert_int_eq(s->rows[0].soak_started_ms, 222);
	ck_assert_int_eq(s->rows[0].revert_stage, EDGE_ROLLOUT_REVERT_ALL);
	ck_assert_int_eq(s->first_node[0].outcome, EDGE_ROLLOUT_NODE_REVERTED);
	ck_assert_str_eq(s->first_node[0].reason, "slot");
	ck_assert_int_eq(s->first_node[0].baseline_from_ms, 99);
	edge_store_close(st);

	/* back to version 9's tables, with a row of each */
	ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
	ck_assert_int_eq(
		sqlite3_exec(db,
			     "DROP TABLE rollout; DROP TABLE rollout_node; DROP TABLE offload_model;"
			     " DROP TABLE offload_verify; DROP TABLE offload_mismatch;"
			     " DROP TABLE central_cursor; DROP TABLE central_summary;"
			     " DROP TRIGGER anomaly_episode_rev_insert;"
			     " DROP TRIGGER anomaly_episode_rev_update;"
			     " DROP INDEX anomaly_episode_rev;"
			     " ALTER TABLE anomaly_episode DROP COLUMN rev;"
			     " DELETE FROM anomaly_meta WHERE key <> 'rollup_through_id';"
			     "CREATE TABLE rollout (id INTEGER PRIMARY KEY NOT NULL,"
			     " digest TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,"
			     " spec TEXT NOT NULL, state TEXT NOT NULL, stage INTEGER NOT NULL,"
			     " transfer INTEGER NOT NULL DEFAULT 0,"
			     " accepted INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
			     " updated_ms INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
			     " CHECK (state IN ('running', 'soaking', 'paused', 'halted', 'done',"
			     " 'aborted')));"
			     "CREATE TABLE rollout_node (rollout INTEGER NOT NULL,"
			     " device TEXT NOT NULL, stage INTEGER NOT NULL, outcome TEXT NOT NULL,"
			     " reason TEXT NOT NULL DEFAULT '',"
			     " CHECK (outcome IN ('pending', 'success', 'failure')),"
			     " PRIMARY KEY (rollout, device)) WITHOUT ROWID;"
			     "INSERT INTO rollout (id, digest, name, version, spec, state, stage,"
			     " transfer, accepted, created_ms, updated_ms, reason) VALUES (9, '" DIGEST
			     "', 'hw', '1.9', '{\"canary\":\"1\"}', 'soaking', 1, 4, 1, 10, 20,"
			     " 'x');"
			     "INSERT INTO rollout_node VALUES (9, 'node-q', 1, 'success', 'success');"
			     "PRAGMA user_version = 9;",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	ck_assert_int_eq(load(st, s, &c), 0);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_uint_eq(s->rows[0].id, 9);
	ck_assert_int_eq(s->rows[0].state, EDGE_ROLLOUT_SOAKING);
	ck_assert_uint_eq(s->rows[0].stage, 1);
	ck_assert_uint_eq(s->rows[0].transfer, 4);
	ck_assert(s->rows[0].accepted);
	ck_assert_str_eq(s->rows[0].reason, "x");
	ck_assert_int_eq(s->rows[0].stage_started_ms, 0);
	ck_assert_int_eq(s->rows[0].soak_started_ms, 0);
	ck_assert_int_eq(s->rows[0].revert_stage, EDGE_ROLLOUT_REVERT_NONE);
	ck_assert_str_eq(s->first_node[0].device, "node-q");
	ck_assert_int_eq(s->first_node[0].outcome, EDGE_ROLLOUT_NODE_SUCCESS);
	ck_assert_int_eq(s->first_node[0].baseline_from_ms, 0);
	/* the new checks hold in the rebuilt tables */
	nv[0] = node("node-q", 1, EDGE_ROLLOUT_NODE_REVERTED, "bytes");
	ck_assert_int_eq(put_nodes(st, 9, nv, 1), 0);
	edge_store_close(st);
	free(s);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("rollout-store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, rows_nodes_events_survive_a_reopen);
	tcase_add_test(tc, load_keeps_unfinished_and_newest_finished);
	tcase_add_test(tc, invalid_rows_are_refused_and_unreadable_ones_skipped);
	tcase_add_test(tc, schema_10_fields_and_migration_from_9);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(store_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
