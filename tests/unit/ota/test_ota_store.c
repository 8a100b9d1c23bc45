/* Suite 'ota-store': the gateway's model store over a real database file
 * and the store's writer thread: schema 7, the catalog and every REF form,
 * the add checks in memory and against the tables (a stale catalog cannot
 * let a rollback in), counters that outlive their models, transfers and
 * node statuses across a restart, each device's model history, and the
 * content-addressed package files. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_ota_keys.h"
#include "edge_ota_store.h"
#include "edge_store.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define WALL0 1767225600000LL /* an arbitrary wall-clock origin, ms */

/* ---- models ---- */

struct fixture_model {
	struct edge_ota_model m;
	char manifest[EDGE_OTA_MANIFEST_MAX];
	size_t manifest_len;
};

static void hex_of(const char *text, char out[EDGE_OTA_DIGEST_HEX + 1])
{
	uint8_t sum[32];

	ck_assert_int_eq(edge_ota_sha256(text, strlen(text), sum), 0);
	edge_ota_hex(sum, sizeof sum, out);
}

/* A model whose digest starts with digest_prefix (may be "": a hash of
 * name and version alone), its manifest encoded as a package carries it. */
static struct fixture_model *model(const char *name, const char *version, uint64_t counter,
				   const char *digest_prefix)
{
	struct fixture_model *f = calloc(1, sizeof(*f));
	struct edge_ota_manifest *mf;
	char text[128];
	int n;

	ck_assert_ptr_nonnull(f);
	mf = &f->m.manifest;
	snprintf(mf->name, sizeof mf->name, "%s", name);
	snprintf(mf->version, sizeof mf->version, "%s", version);
	mf->counter = counter;
	mf->size = 4096;
	snprintf(text, sizeof text, "model %s %s", name, version);
	hex_of(text, mf->sha256);
	snprintf(mf->runtime, sizeof mf->runtime, "tflm");
	mf->n_ops = 2;
	snprintf(mf->ops[0], sizeof mf->ops[0], "CONV_2D");
	snprintf(mf->ops[1], sizeof mf->ops[1], "SOFTMAX");
	mf->arena_bytes = 20480;
	mf->n_inputs = mf->n_outputs = 1;
	snprintf(mf->inputs[0].type, sizeof mf->inputs[0].type, "int8");
	mf->inputs[0].rank = 2;
	mf->inputs[0].shape[0] = 1;
	mf->inputs[0].shape[1] = 16;
	mf->inputs[0].scale = 0.5;
	mf->outputs[0] = mf->inputs[0];
	mf->selftest_seed = 42;
	hex_of("selftest", mf->selftest_output_sha256);
	n = edge_ota_manifest_encode(f->manifest, sizeof f->manifest, mf);
	ck_assert_int_gt(n, 0);
	f->manifest_len = (size_t)n;

	snprintf(text, sizeof text, "package %s %s", name, version);
	hex_of(text, f->m.digest);
	memcpy(f->m.digest, digest_prefix, strlen(digest_prefix));
	f->m.pkg_size = mf->size + 32 + f->manifest_len + 100;
	f->m.added_ms = WALL0 + (int64_t)counter;
	f->m.n_signers = 2;
	memset(f->m.signers[0], 0x11, EDGE_OTA_KEY_ID_LEN);
	memset(f->m.signers[1], 0x22, EDGE_OTA_KEY_ID_LEN);
	return f;
}

/* ---- store ops through the writer thread ---- */

static edge_store *open_store(void)
{
	edge_store *st = NULL;

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	return st;
}

struct op_call {
	int (*fn)(edge_store_conn *conn, struct op_call *c);
	const struct fixture_model *model;
	const char *digest;
	const struct edge_ota_transfer_row *transfer;
	uint32_t transfer_id;
	const struct edge_ota_node_status *nodes;
	unsigned n_nodes;
	const char *device;
	enum edge_ota_node_state state;
	uint8_t reason;
	int result;
	bool done;
};

static int op_run(edge_store_conn *conn, void *ud)
{
	struct op_call *c = ud;

	return c->fn(conn, c);
}

static void op_done(int result, void *ud)
{
	struct op_call *c = ud;

	c->result = result;
	c->done = true;
}

/* Submit one op, wait for its commit, deliver its completion. */
static int submit(edge_store *st, struct op_call *c)
{
	c->done = false;
	ck_assert_int_eq(edge_store_submit(st, op_run, op_done, c), 0);
	edge_store_flush(st);
	ck_assert_uint_eq(edge_store_run_completions(st), 1);
	ck_assert(c->done);
	return c->result;
}

static int add_fn(edge_store_conn *conn, struct op_call *c)
{
	return edge_ota_store_add_op(conn, &c->model->m, c->model->manifest, c->model->manifest_len);
}

static int add(edge_store *st, const struct fixture_model *f)
{
	struct op_call c = { .fn = add_fn, .model = f };

	return submit(st, &c);
}

static int remove_fn(edge_store_conn *conn, struct op_call *c)
{
	return edge_ota_store_remove_op(conn, c->digest);
}

static int remove_model(edge_store *st, const char *digest)
{
	struct op_call c = { .fn = remove_fn, .digest = digest };

	return submit(st, &c);
}

static int transfer_fn(edge_store_conn *conn, struct op_call *c)
{
	return edge_ota_store_transfer_op(conn, c->transfer);
}

static int put_transfer(edge_store *st, const struct edge_ota_transfer_row *t)
{
	struct op_call c = { .fn = transfer_fn, .transfer = t };

	return submit(st, &c);
}

static int nodes_fn(edge_store_conn *conn, struct op_call *c)
{
	return edge_ota_store_nodes_op(conn, c->transfer_id, c->nodes, c->n_nodes);
}

static int put_nodes(edge_store *st, uint32_t transfer, const struct edge_ota_node_status *s,
		     unsigned n)
{
	struct op_call c = { .fn = nodes_fn, .transfer_id = transfer, .nodes = s, .n_nodes = n };

	return submit(st, &c);
}

static int device_fn(edge_store_conn *conn, struct op_call *c)
{
	return edge_ota_store_device_op(conn, c->device, c->transfer_id, &c->model->m.manifest,
					c->state, c->reason, WALL0 + c->transfer_id);
}

static int put_device(edge_store *st, const char *device, uint32_t transfer,
		      const struct fixture_model *f, enum edge_ota_node_state state,
		      enum edge_ota_reason reason)
{
	struct op_call c = { .fn = device_fn, .device = device, .transfer_id = transfer,
			     .model = f, .state = state, .reason = (uint8_t)reason };

	return submit(st, &c);
}

/* A reader's own connection, as edged's start and the pool use. */
static sqlite3 *reader(void)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	return db;
}

static struct edge_ota_catalog *load_catalog(void)
{
	struct edge_ota_catalog *c = NULL;
	sqlite3 *db = reader();
	char err[256] = "";

	ck_assert_int_eq(edge_ota_catalog_new(&c), 0);
	ck_assert_msg(edge_ota_catalog_load(c, db, err, sizeof err) == 0, "%s", err);
	sqlite3_close(db);
	return c;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The plan's detail lines joined, for index assertions. */
static void plan(sqlite3 *db, const char *sql, char *out, size_t cap)
{
	char q[1024];
	sqlite3_stmt *st = NULL;
	size_t used = 0;

	snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW && used < cap)
		used += (size_t)snprintf(out + used, cap - used, "%s|",
					 (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
}

/* ---- schema ---- */

START_TEST(schema_7_tables_and_indexes)
{
	edge_store *st = open_store();
	sqlite3 *db;
	char p[1024];

	edge_store_close(st);
	db = reader();
	ck_assert_int_eq(q_int(db, "PRAGMA user_version"), EDGE_STORE_SCHEMA_VERSION);
	ck_assert_int_ge(EDGE_STORE_SCHEMA_VERSION, 7);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
				   " name IN ('ota_model', 'ota_counter', 'ota_transfer',"
				   " 'ota_node', 'ota_device')"),
			 5);
	/* The restart's query and a device's history are index lookups. */
	plan(db, "SELECT id FROM ota_transfer WHERE finished_ms = 0 ORDER BY id", p, sizeof p);
	ck_assert_msg(strstr(p, "ota_transfer_finished") != NULL, "%s", p);
	plan(db, "SELECT transfer FROM ota_node WHERE device = 'n1' ORDER BY transfer DESC", p,
	     sizeof p);
	ck_assert_msg(strstr(p, "ota_node_device") != NULL, "%s", p);
	ck_assert_msg(strstr(p, "TEMP B-TREE") == NULL, "%s", p);
	sqlite3_close(db);
}
END_TEST

/* ---- catalog ---- */

START_TEST(catalog_find_every_ref_form)
{
	edge_store *st = open_store();
	struct fixture_model *a = model("kws", "1.0", 1, "aaaaaaaa1");
	struct fixture_model *b = model("kws", "1.1", 2, "aaaaaaaa2");
	struct fixture_model *c = model("vib", "2.0", 5, "");
	struct fixture_model *h = model("cafef00d", "1", 1, "");
	struct edge_ota_catalog *cat;
	const struct edge_ota_model *m;
	char ref[80];
	bool amb = true;

	ck_assert_int_eq(add(st, h), 0);
	ck_assert_int_eq(add(st, c), 0);
	ck_assert_int_eq(add(st, a), 0);
	ck_assert_int_eq(add(st, b), 0);
	cat = load_catalog();

	/* Loaded whole, in list order: name, then counter. */
	ck_assert_uint_eq(edge_ota_catalog_count(cat), 4);
	ck_assert_str_eq(edge_ota_catalog_at(cat, 0)->manifest.name, "cafef00d");
	ck_assert_str_eq(edge_ota_catalog_at(cat, 1)->digest, a->m.digest);
	ck_assert_str_eq(edge_ota_catalog_at(cat, 2)->digest, b->m.digest);
	ck_assert_str_eq(edge_ota_catalog_at(cat, 3)->digest, c->m.digest);
	ck_assert_ptr_null(edge_ota_catalog_at(cat, 4));
	m = edge_ota_catalog_at(cat, 1);
	ck_assert_uint_eq(m->pkg_size, a->m.pkg_size);
	ck_assert_int_eq(m->added_ms, a->m.added_ms);
	ck_assert_uint_eq(m->n_signers, 2);
	ck_assert_mem_eq(m->signers[1], b->m.signers[1], EDGE_OTA_KEY_ID_LEN);
	ck_assert_str_eq(m->manifest.ops[1], "SOFTMAX");
	ck_assert_uint_eq(edge_ota_catalog_counter(cat, "kws"), 2);
	ck_assert_uint_eq(edge_ota_catalog_counter(cat, "vib"), 5);
	ck_assert_uint_eq(edge_ota_catalog_counter(cat, "none"), 0);

	/* Whole digest, digest prefix (either case), model SHA-256 prefix. */
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, a->m.digest, &amb), edge_ota_catalog_at(cat, 1));
	ck_assert(!amb);
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, "aaaaaaaa2", NULL), edge_ota_catalog_at(cat, 2));
	snprintf(ref, sizeof ref, "%.10s", c->m.digest);
	for (char *p = ref; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, ref, NULL), edge_ota_catalog_at(cat, 3));
	snprintf(ref, sizeof ref, "%.8s", b->m.manifest.sha256);
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, ref, NULL), edge_ota_catalog_at(cat, 2));
	/* A prefix of two digests: ambiguous, nothing returned. */
	ck_assert_ptr_null(edge_ota_catalog_find(cat, "aaaaaaaa", &amb));
	ck_assert(amb);
	/* name@version, and name alone: the highest counter. */
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, "kws@1.0", &amb), edge_ota_catalog_at(cat, 1));
	ck_assert(!amb);
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, "kws", NULL), edge_ota_catalog_at(cat, 2));
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, "vib", NULL), edge_ota_catalog_at(cat, 3));
	/* A name that looks like hex is found as a name when no digest has it. */
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, "cafef00d", NULL), edge_ota_catalog_at(cat, 0));
	/* Misses: unknown name, unknown version, a prefix shorter than 8. */
	ck_assert_ptr_null(edge_ota_catalog_find(cat, "nope", &amb));
	ck_assert(!amb);
	ck_assert_ptr_null(edge_ota_catalog_find(cat, "kws@9", NULL));
	ck_assert_ptr_null(edge_ota_catalog_find(cat, "@1.0", NULL));
	ck_assert_ptr_null(edge_ota_catalog_find(cat, "aaaaaaa", NULL));
	ck_assert_ptr_null(edge_ota_catalog_find(cat, "", NULL));

	/* Removal from memory keeps the order and the counter. */
	edge_ota_catalog_remove(cat, b->m.digest);
	ck_assert_uint_eq(edge_ota_catalog_count(cat), 3);
	ck_assert_ptr_eq(edge_ota_catalog_find(cat, "kws", NULL), edge_ota_catalog_at(cat, 1));
	ck_assert_uint_eq(edge_ota_catalog_counter(cat, "kws"), 2);

	edge_ota_catalog_free(cat);
	edge_store_close(st);
	free(a);
	free(b);
	free(c);
	free(h);
}
END_TEST

START_TEST(catalog_check_add)
{
	struct edge_ota_catalog *cat = NULL;
	struct fixture_model *a = model("kws", "1.0", 3, "");
	struct fixture_model *same_version = model("kws", "1.0", 4, "");
	struct fixture_model *older = model("kws", "0.9", 2, "");
	struct fixture_model *equal = model("kws", "1.0-hotfix", 3, "");
	struct fixture_model *other = model("vib", "1", 1, "");

	ck_assert_int_eq(edge_ota_catalog_new(&cat), 0);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &a->m), 0);
	ck_assert_int_eq(edge_ota_catalog_add(cat, &a->m), 0);
	/* The same package, or the same name and version in another one. */
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &a->m), -EEXIST);
	ck_assert_int_eq(edge_ota_catalog_add(cat, &a->m), -EEXIST);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &same_version->m), -EEXIST);
	/* A lower counter is a rollback; an equal one is not. */
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &older->m), EDGE_OTA_EROLLBACK);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &equal->m), 0);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &other->m), 0);
	/* Exists is told before rollback. */
	same_version->m.manifest.counter = 1;
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &same_version->m), -EEXIST);
	/* Removing the model does not re-open the rollback. */
	edge_ota_catalog_remove(cat, a->m.digest);
	ck_assert_uint_eq(edge_ota_catalog_count(cat), 0);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &older->m), EDGE_OTA_EROLLBACK);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &a->m), 0);
	edge_ota_catalog_free(cat);
	free(a);
	free(same_version);
	free(older);
	free(equal);
	free(other);
}
END_TEST

START_TEST(catalog_bounded)
{
	struct edge_ota_catalog *cat = NULL;
	struct fixture_model *f = model("m", "1", 1, "");
	char digest[EDGE_OTA_DIGEST_HEX + 1];

	ck_assert_int_eq(edge_ota_catalog_new(&cat), 0);
	memcpy(digest, f->m.digest, sizeof digest);
	for (unsigned i = 0; i < EDGE_OTA_CATALOG_MAX; i++) {
		snprintf(f->m.digest, sizeof f->m.digest, "%08x%.56s", i, digest + 8);
		snprintf(f->m.manifest.version, sizeof f->m.manifest.version, "v%u", i);
		ck_assert_int_eq(edge_ota_catalog_add(cat, &f->m), 0);
	}
	snprintf(f->m.digest, sizeof f->m.digest, "ffffffff%.56s", digest + 8);
	snprintf(f->m.manifest.version, sizeof f->m.manifest.version, "last");
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &f->m), EDGE_ELIMIT);
	ck_assert_int_eq(edge_ota_catalog_add(cat, &f->m), EDGE_ELIMIT);
	ck_assert_uint_eq(edge_ota_catalog_count(cat), EDGE_OTA_CATALOG_MAX);
	edge_ota_catalog_free(cat);
	free(f);
}
END_TEST

START_TEST(catalog_load_refuses_a_corrupt_row)
{
	edge_store *st = open_store();
	struct fixture_model *a = model("kws", "1.0", 1, "");
	struct edge_ota_catalog *cat = NULL;
	sqlite3 *db;
	char err[256] = "";

	ck_assert_int_eq(add(st, a), 0);
	edge_store_close(st);
	ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
	/* The column says another version than the signed manifest bytes. */
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE ota_model SET version = '9.9'", NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(edge_ota_catalog_new(&cat), 0);
	ck_assert_int_eq(edge_ota_catalog_load(cat, db, err, sizeof err), EDGE_ECORRUPT);
	ck_assert_msg(strstr(err, a->m.digest) != NULL, "%s", err);
	ck_assert_uint_eq(edge_ota_catalog_count(cat), 0);
	sqlite3_close(db);
	edge_ota_catalog_free(cat);
	free(a);
}
END_TEST

/* ---- the add op against the tables ---- */

START_TEST(add_op_refuses_rollback_with_a_stale_catalog)
{
	edge_store *st = open_store();
	struct fixture_model *a = model("kws", "1.0", 1, "");
	struct fixture_model *b = model("kws", "1.1", 2, "");
	struct fixture_model *older = model("kws", "0.9", 1, "");
	struct fixture_model *dup = model("kws", "1.1", 3, "");
	struct fixture_model *bad = model("kws", "2.0", 3, "");
	struct edge_ota_catalog *cat;
	sqlite3 *db;

	ck_assert_int_eq(add(st, a), 0);
	cat = load_catalog(); /* knows a only */
	ck_assert_int_eq(add(st, b), 0);

	/* The catalog would let these in; the tables do not. */
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &older->m), 0);
	ck_assert_int_eq(add(st, older), EDGE_OTA_EROLLBACK);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &dup->m), 0);
	ck_assert_int_eq(add(st, dup), -EEXIST);
	ck_assert_int_eq(add(st, b), -EEXIST);
	/* Manifest bytes that say something else than the row: refused. */
	bad->m.manifest.counter = 4;
	ck_assert_int_eq(add(st, bad), -EINVAL);

	db = reader();
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM ota_model"), 2);
	ck_assert_int_eq(q_int(db, "SELECT counter FROM ota_counter WHERE name = 'kws'"), 2);
	ck_assert_int_eq(q_int(db, "SELECT length(signers) FROM ota_model WHERE version = '1.1'"),
			 2 * EDGE_OTA_KEY_ID_LEN);
	sqlite3_close(db);
	edge_ota_catalog_free(cat);
	edge_store_close(st);
	free(a);
	free(b);
	free(older);
	free(dup);
	free(bad);
}
END_TEST

START_TEST(counter_survives_remove)
{
	edge_store *st = open_store();
	struct fixture_model *a = model("kws", "1.0", 5, "");
	struct fixture_model *older = model("kws", "0.1", 4, "");
	struct fixture_model *again = model("kws", "1.0", 5, "");
	struct edge_ota_catalog *cat;

	ck_assert_int_eq(add(st, a), 0);
	ck_assert_int_eq(remove_model(st, a->m.digest), 0);
	ck_assert_int_eq(remove_model(st, a->m.digest), EDGE_ENOTFOUND);
	ck_assert_int_eq(remove_model(st, "not-a-digest"), EDGE_ENOTFOUND);
	ck_assert_int_eq(add(st, older), EDGE_OTA_EROLLBACK);

	/* After a restart too. */
	edge_store_close(st);
	st = open_store();
	cat = load_catalog();
	ck_assert_uint_eq(edge_ota_catalog_count(cat), 0);
	ck_assert_uint_eq(edge_ota_catalog_counter(cat, "kws"), 5);
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &older->m), EDGE_OTA_EROLLBACK);
	ck_assert_int_eq(add(st, older), EDGE_OTA_EROLLBACK);
	/* The same counter may come back (the same package, re-added). */
	ck_assert_int_eq(edge_ota_catalog_check_add(cat, &again->m), 0);
	ck_assert_int_eq(add(st, again), 0);
	edge_ota_catalog_free(cat);
	edge_store_close(st);
	free(a);
	free(older);
	free(again);
}
END_TEST

/* ---- transfers ---- */

struct loaded {
	unsigned n_transfers, n_nodes;
	struct edge_ota_transfer_row t[4];
	uint32_t node_transfer[8];
	struct edge_ota_node_status s[8];
	int stop_after; /* nodes; 0: never */
};

static int on_transfer(const struct edge_ota_transfer_row *t, void *ud)
{
	struct loaded *l = ud;

	ck_assert_uint_lt(l->n_transfers, 4);
	l->t[l->n_transfers++] = *t;
	return 0;
}

static int on_node(uint32_t transfer, const struct edge_ota_node_status *s, void *ud)
{
	struct loaded *l = ud;

	ck_assert_uint_lt(l->n_nodes, 8);
	l->node_transfer[l->n_nodes] = transfer;
	l->s[l->n_nodes++] = *s;
	return l->stop_after && (int)l->n_nodes == l->stop_after ? 77 : 0;
}

static struct edge_ota_node_status node_status(const char *id, enum edge_ota_node_state state,
					       uint32_t held)
{
	struct edge_ota_node_status s;

	memset(&s, 0, sizeof s);
	snprintf(s.id, sizeof s.id, "%s", id);
	s.state = (uint8_t)state;
	s.reason = EDGE_OTA_R_OK;
	s.chunks_held = held;
	s.n_chunks = 40;
	s.unicast_chunks = held;
	s.retransmits = 1;
	s.offers = 1;
	s.srtt_ms = 50; /* not persisted: measured again after a restart */
	s.started_ms = WALL0 + 10;
	s.updated_ms = WALL0 + 20;
	return s;
}

START_TEST(transfers_nodes_and_restart)
{
	edge_store *st = open_store();
	struct fixture_model *a = model("kws", "1.0", 1, "");
	struct edge_ota_transfer_row t1 = { .id = 1, .chunk_size = 1024, .campaign = true,
					    .created_ms = WALL0 };
	struct edge_ota_transfer_row t2 = { .id = 2, .chunk_size = 512, .created_ms = WALL0 + 1 };
	struct edge_ota_node_status s[2] = { node_status("n2", EDGE_OTA_N_RECEIVING, 3),
					     node_status("n1", EDGE_OTA_N_OFFERED, 0) };
	struct loaded l;
	uint32_t next = 0;
	sqlite3 *db;

	memcpy(t1.digest, a->m.digest, sizeof t1.digest);
	memcpy(t2.digest, a->m.digest, sizeof t2.digest);
	db = reader();
	ck_assert_int_eq(edge_ota_store_next_transfer(db, &next), 0);
	ck_assert_uint_eq(next, 1);
	sqlite3_close(db);

	t1.id = 0; /* never a transfer id */
	ck_assert_int_eq(put_transfer(st, &t1), -EINVAL);
	t1.id = 1;
	ck_assert_int_eq(put_transfer(st, &t1), 0);
	ck_assert_int_eq(put_transfer(st, &t2), 0);
	ck_assert_int_eq(put_nodes(st, 1, s, 2), 0);
	ck_assert_int_eq(put_nodes(st, 2, s, 1), 0);
	/* The batch of a later tick: n2 moved on, the rest unchanged. */
	s[0].state = EDGE_OTA_N_ACTIVATED;
	s[0].chunks_held = 40;
	s[0].finished_ms = WALL0 + 99;
	snprintf(s[0].output_sha256, sizeof s[0].output_sha256, "%s", a->m.manifest.sha256);
	snprintf(s[0].detail, sizeof s[0].detail, "self-test ok");
	ck_assert_int_eq(put_nodes(st, 1, s, 1), 0);
	s[1].state = EDGE_OTA_N_DENIED;
	s[1].reason = EDGE_OTA_R_MISSING_OPS;
	ck_assert_int_eq(put_nodes(st, 1, &s[1], 1), 0);
	/* A bad status refuses the whole batch: nothing of it is written. */
	s[1].chunks_held = 41;
	ck_assert_int_eq(put_nodes(st, 1, s, 2), -EINVAL);
	s[1].chunks_held = 0;
	/* Nodes of a transfer that was never written: the foreign key. */
	ck_assert_int_lt(put_nodes(st, 9, s, 1), 0);
	/* Transfer 2 finishes; a second write of t1 changes nothing else. */
	t2.finished_ms = WALL0 + 500;
	ck_assert_int_eq(put_transfer(st, &t2), 0);
	t1.chunk_size = 4096;
	ck_assert_int_eq(put_transfer(st, &t1), 0);
	t1.chunk_size = 1024;
	edge_store_close(st);

	/* The restart: only transfer 1 is open, its nodes as last written. */
	db = reader();
	ck_assert_int_eq(edge_ota_store_next_transfer(db, &next), 0);
	ck_assert_uint_eq(next, 3);
	memset(&l, 0, sizeof l);
	ck_assert_int_eq(edge_ota_store_load_open(db, on_transfer, on_node, &l), 0);
	ck_assert_uint_eq(l.n_transfers, 1);
	ck_assert_uint_eq(l.t[0].id, 1);
	ck_assert_str_eq(l.t[0].digest, a->m.digest);
	ck_assert_uint_eq(l.t[0].chunk_size, 1024);
	ck_assert(l.t[0].campaign);
	ck_assert_int_eq(l.t[0].created_ms, WALL0);
	ck_assert_int_eq(l.t[0].finished_ms, 0);
	ck_assert_uint_eq(l.n_nodes, 2);
	ck_assert_uint_eq(l.node_transfer[0], 1);
	ck_assert_str_eq(l.s[0].id, "n1");
	ck_assert_uint_eq(l.s[0].state, EDGE_OTA_N_DENIED);
	ck_assert_uint_eq(l.s[0].reason, EDGE_OTA_R_MISSING_OPS);
	ck_assert_str_eq(l.s[0].output_sha256, "");
	ck_assert_str_eq(l.s[1].id, "n2");
	ck_assert_uint_eq(l.s[1].state, EDGE_OTA_N_ACTIVATED);
	ck_assert_uint_eq(l.s[1].chunks_held, 40);
	ck_assert_uint_eq(l.s[1].n_chunks, 40);
	ck_assert_uint_eq(l.s[1].unicast_chunks, 3);
	ck_assert_uint_eq(l.s[1].retransmits, 1);
	ck_assert_uint_eq(l.s[1].offers, 1);
	ck_assert_uint_eq(l.s[1].started_ms, WALL0 + 10);
	ck_assert_uint_eq(l.s[1].updated_ms, WALL0 + 20);
	ck_assert_uint_eq(l.s[1].finished_ms, WALL0 + 99);
	ck_assert_str_eq(l.s[1].output_sha256, a->m.manifest.sha256);
	ck_assert_str_eq(l.s[1].detail, "self-test ok");
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM ota_node"), 3);
	/* A callback's non-zero stops the walk and is the result. */
	memset(&l, 0, sizeof l);
	l.stop_after = 1;
	ck_assert_int_eq(edge_ota_store_load_open(db, on_transfer, on_node, &l), 77);
	ck_assert_uint_eq(l.n_nodes, 1);
	sqlite3_close(db);

	/* A state name this build does not know is corruption, not a guess. */
	ck_assert_int_eq(sqlite3_open(test_db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE ota_node SET state = 'dancing' WHERE device = 'n2'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	memset(&l, 0, sizeof l);
	ck_assert_int_eq(edge_ota_store_load_open(db, on_transfer, on_node, &l), EDGE_ECORRUPT);
	sqlite3_close(db);
	free(a);
}
END_TEST

/* ---- device history ---- */

START_TEST(device_history)
{
	edge_store *st = open_store();
	struct fixture_model *m1 = model("kws", "1.0", 1, "");
	struct fixture_model *m2 = model("kws", "1.1", 2, "");
	struct fixture_model *m3 = model("kws", "1.2", 3, "");
	struct edge_ota_device_row r;
	sqlite3 *db;

	db = reader();
	ck_assert_int_eq(edge_ota_store_device_get(db, "n1", &r), EDGE_ENOTFOUND);
	sqlite3_close(db);

	/* Only a final state ends a transfer; a device id is required. */
	ck_assert_int_eq(put_device(st, "n1", 1, m1, EDGE_OTA_N_RECEIVING, EDGE_OTA_R_OK), -EINVAL);
	ck_assert_int_eq(put_device(st, "", 1, m1, EDGE_OTA_N_FAILED, EDGE_OTA_R_OK), -EINVAL);
	/* Failed first: no model known to run, the outcome recorded. */
	ck_assert_int_eq(put_device(st, "n1", 1, m1, EDGE_OTA_N_FAILED, EDGE_OTA_R_FLASH_ERROR), 0);
	db = reader();
	ck_assert_int_eq(edge_ota_store_device_get(db, "n1", &r), 0);
	ck_assert_str_eq(r.device, "n1");
	ck_assert_str_eq(r.active_name, "");
	ck_assert_str_eq(r.previous_sha256, "");
	ck_assert_uint_eq(r.last_transfer, 1);
	ck_assert_str_eq(r.last_outcome, "failed");
	ck_assert_str_eq(r.last_reason, "flash_error");
	sqlite3_close(db);

	ck_assert_int_eq(put_device(st, "n1", 2, m1, EDGE_OTA_N_ACTIVATED, EDGE_OTA_R_OK), 0);
	ck_assert_int_eq(put_device(st, "n1", 3, m2, EDGE_OTA_N_ACTIVATED, EDGE_OTA_R_OK), 0);
	db = reader();
	ck_assert_int_eq(edge_ota_store_device_get(db, "n1", &r), 0);
	ck_assert_str_eq(r.active_name, "kws");
	ck_assert_str_eq(r.active_version, "1.1");
	ck_assert_str_eq(r.active_sha256, m2->m.manifest.sha256);
	ck_assert_str_eq(r.previous_version, "1.0");
	ck_assert_str_eq(r.previous_sha256, m1->m.manifest.sha256);
	ck_assert_uint_eq(r.last_transfer, 3);
	ck_assert_str_eq(r.last_outcome, "activated");
	ck_assert_str_eq(r.last_reason, "ok");
	ck_assert_int_eq(r.updated_ms, WALL0 + 3);
	sqlite3_close(db);

	/* A failure and a revert keep what runs. */
	ck_assert_int_eq(put_device(st, "n1", 4, m3, EDGE_OTA_N_FAILED,
				    EDGE_OTA_R_HASH_MISMATCH), 0);
	db = reader();
	ck_assert_int_eq(edge_ota_store_device_get(db, "n1", &r), 0);
	ck_assert_str_eq(r.active_version, "1.1");
	ck_assert_str_eq(r.previous_version, "1.0");
	ck_assert_uint_eq(r.last_transfer, 4);
	ck_assert_str_eq(r.last_outcome, "failed");
	ck_assert_str_eq(r.last_reason, "hash_mismatch");
	sqlite3_close(db);
	ck_assert_int_eq(put_device(st, "n1", 5, m3, EDGE_OTA_N_REVERTED,
				    EDGE_OTA_R_SELFTEST_MISMATCH), 0);
	/* Activating what already runs does not lose the previous one. */
	ck_assert_int_eq(put_device(st, "n1", 6, m2, EDGE_OTA_N_ACTIVATED, EDGE_OTA_R_OK), 0);
	/* Devices are independent. */
	ck_assert_int_eq(put_device(st, "n2", 7, m3, EDGE_OTA_N_ACTIVATED, EDGE_OTA_R_OK), 0);
	db = reader();
	ck_assert_int_eq(edge_ota_store_device_get(db, "n1", &r), 0);
	ck_assert_str_eq(r.active_version, "1.1");
	ck_assert_str_eq(r.previous_version, "1.0");
	ck_assert_uint_eq(r.last_transfer, 6);
	ck_assert_int_eq(edge_ota_store_device_get(db, "n2", &r), 0);
	ck_assert_str_eq(r.active_version, "1.2");
	ck_assert_str_eq(r.previous_name, "");
	sqlite3_close(db);
	edge_store_close(st);
	free(m1);
	free(m2);
	free(m3);
}
END_TEST

/* ---- files ---- */

static unsigned dir_entries(const char *dir, char names[][NAME_MAX + 1], unsigned max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n < max)
			memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
		n++;
	}
	closedir(d);
	return n;
}

static void remove_dir(const char *dir)
{
	char names[8][NAME_MAX + 1], p[2 * PATH_MAX];
	unsigned n = dir_entries(dir, names, 8);

	for (unsigned i = 0; i < n && i < 8; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

START_TEST(files_content_addressed)
{
	char dir[PATH_MAX], path[PATH_MAX + 96], digest[EDGE_OTA_DIGEST_HEX + 1], err[512];
	char names[8][NAME_MAX + 1];
	uint8_t pkg[5000], sum[32], *back = NULL;
	size_t len = 0;
	struct stat sb;
	int fd;

	for (size_t i = 0; i < sizeof pkg; i++)
		pkg[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(edge_ota_sha256(pkg, sizeof pkg, sum), 0);
	edge_ota_hex(sum, sizeof sum, digest);
	test_tmpdir_path(&test_db_dir, "models", dir, sizeof dir);
	snprintf(path, sizeof path, "%s/%s.pkg", dir, digest);

	/* The directory is created; the file is whole, under its digest. */
	ck_assert_msg(edge_ota_store_write_file(dir, digest, pkg, sizeof pkg, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0750);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, (off_t)sizeof pkg);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	/* No temporary file is left beside it; writing again keeps it. */
	ck_assert_int_eq(edge_ota_store_write_file(dir, digest, pkg, sizeof pkg, err, sizeof err), 0);
	ck_assert_uint_eq(dir_entries(dir, names, 8), 1);
	snprintf(path, sizeof path, "%s.pkg", digest);
	ck_assert_str_eq(names[0], path);
	snprintf(path, sizeof path, "%s/%s.pkg", dir, digest);

	ck_assert_int_eq(edge_ota_store_read_file(dir, digest, sizeof pkg, &back, &len, err,
						  sizeof err),
			 0);
	ck_assert_uint_eq(len, sizeof pkg);
	ck_assert_mem_eq(back, pkg, sizeof pkg);
	free(back);
	back = NULL;
	/* The size bound, one byte short. */
	ck_assert_int_eq(edge_ota_store_read_file(dir, digest, sizeof pkg - 1, &back, &len, err,
						  sizeof err),
			 -EFBIG);
	ck_assert_ptr_null(back);

	/* One flipped byte on disk: the content is not its name. */
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\xff", 1, 4000), 1);
	close(fd);
	ck_assert_int_eq(edge_ota_store_read_file(dir, digest, sizeof pkg, &back, &len, err,
						  sizeof err),
			 EDGE_ECORRUPT);
	ck_assert_ptr_null(back);
	ck_assert_msg(strstr(err, digest) != NULL, "%s", err);

	/* A name that is not its content's digest is never written. */
	pkg[0] ^= 1;
	ck_assert_int_eq(edge_ota_store_write_file(dir, digest, pkg, sizeof pkg, err, sizeof err),
			 EDGE_ECORRUPT);
	pkg[0] ^= 1;
	/* A file of another size under the name is damage: replaced. */
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(edge_ota_store_write_file(dir, digest, pkg, sizeof pkg, err, sizeof err), 0);
	ck_assert_int_eq(edge_ota_store_read_file(dir, digest, sizeof pkg, &back, &len, err,
						  sizeof err),
			 0);
	free(back);
	back = NULL;

	ck_assert_int_eq(edge_ota_store_unlink_file(dir, digest), 0);
	ck_assert_int_eq(edge_ota_store_unlink_file(dir, digest), 0);
	ck_assert_int_eq(edge_ota_store_read_file(dir, digest, sizeof pkg, &back, &len, err,
						  sizeof err),
			 -ENOENT);
	remove_dir(dir);
}
END_TEST

/* A write that fails half-way (the file size limit, EFBIG) leaves
 * neither the file nor its temporary behind. */
START_TEST(files_failed_write_leaves_nothing)
{
	char dir[PATH_MAX], digest[EDGE_OTA_DIGEST_HEX + 1], err[512];
	char names[8][NAME_MAX + 1];
	static uint8_t pkg[256 * 1024];
	uint8_t sum[32];
	struct rlimit old, lim;

	for (size_t i = 0; i < sizeof pkg; i++)
		pkg[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(edge_ota_sha256(pkg, sizeof pkg, sum), 0);
	edge_ota_hex(sum, sizeof sum, digest);
	test_tmpdir_path(&test_db_dir, "models", dir, sizeof dir);

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 64 * 1024;
	signal(SIGXFSZ, SIG_IGN); /* a write past the limit then fails with EFBIG */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(edge_ota_store_write_file(dir, digest, pkg, sizeof pkg, err, sizeof err),
			 -EFBIG);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_msg(strstr(err, digest) != NULL, "%s", err);
	ck_assert_uint_eq(dir_entries(dir, names, 8), 0);

	ck_assert_int_eq(edge_ota_store_write_file(dir, digest, pkg, sizeof pkg, err, sizeof err), 0);
	ck_assert_uint_eq(dir_entries(dir, names, 8), 1);
	ck_assert_int_eq(edge_ota_store_unlink_file(dir, digest), 0);
	remove_dir(dir);
}
END_TEST

START_TEST(files_refuse_other_names)
{
	static const char *const bad[] = {
		"../../../../etc/passwd",
		"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", /* upper */
		"abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678",  /* 63 */
		"abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567890", /* 65 */
		"abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678g",
		"",
	};
	char err[512];
	uint8_t *back = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(edge_ota_store_write_file(test_db_dir.dir, bad[i], "x", 1, err,
							   sizeof err),
				 -EINVAL);
		ck_assert_int_eq(edge_ota_store_read_file(test_db_dir.dir, bad[i], 100, &back, &len,
							  err, sizeof err),
				 -EINVAL);
		ck_assert_int_eq(edge_ota_store_unlink_file(test_db_dir.dir, bad[i]), -EINVAL);
	}
	ck_assert_ptr_null(back);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("ota-store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, schema_7_tables_and_indexes);
	tcase_add_test(tc, catalog_find_every_ref_form);
	tcase_add_test(tc, catalog_check_add);
	tcase_add_test(tc, catalog_bounded);
	tcase_add_test(tc, catalog_load_refuses_a_corrupt_row);
	tcase_add_test(tc, add_op_refuses_rollback_with_a_stale_catalog);
	tcase_add_test(tc, counter_survives_remove);
	tcase_add_test(tc, transfers_nodes_and_restart);
	tcase_add_test(tc, device_history);
	tcase_add_test(tc, files_content_addressed);
	tcase_add_test(tc, files_failed_write_leaves_nothing);
	tcase_add_test(tc, files_refuse_other_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(store_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
