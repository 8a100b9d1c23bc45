/* Suite 'control', test 'targets': edged's one target resolver
 * (daemon/edged/targets.h) over a registry in memory: "all", "tag:T", lists
 * of ids with unknown, revoked and repeated ones, and every malformed "to";
 * the tag filter argument and the tags array. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "edge_ctl_frame.h"
#include "targets.h"
#include "test_run.h"

static edge_registry *reg;

static void hello(const char *id)
{
	struct edge_msg_hello h;

	memset(&h, 0, sizeof h);
	h.proto = EDGE_PROTO_VERSION;
	snprintf(h.id, sizeof h.id, "%s", id);
	snprintf(h.fw, sizeof h.fw, "1.0.0");
	ck_assert_int_eq(edge_registry_on_hello(reg, &h, 0, 1700000000000LL), 0);
}

static void tag(const char *id, const char *t)
{
	const char *tags[] = { t };

	ck_assert_int_eq(edge_registry_set_tags(reg, id, tags, 1), 0);
}

/* n1..n4; n2 and n4 tagged "lab", n4 revoked. */
static void setup(void)
{
	ck_assert_int_eq(edge_registry_new(NULL, NULL, &reg), 0);
	hello("n1");
	hello("n2");
	hello("n3");
	hello("n4");
	tag("n2", "lab");
	tag("n4", "lab");
	ck_assert_int_eq(edge_registry_revoke(reg, "n4", 1700000001000LL), 0);
}

static void teardown(void)
{
	edge_registry_free(reg);
	reg = NULL;
}

/* Resolves the JSON text `to`; returns the code, ids joined in *ids_out. */
static int resolve(const char *to_text, char *ids, size_t cap, json_t **problems)
{
	json_t *to = json_loads(to_text, JSON_DECODE_ANY, NULL);
	struct edged_targets t;
	char msg[256] = "";
	size_t used = 0;
	int code;

	ck_assert_ptr_nonnull(to);
	code = edged_targets_resolve(reg, to, &t, msg, sizeof msg);
	ck_assert(code == 0 || msg[0]);
	ids[0] = '\0';
	for (unsigned i = 0; i < t.n; i++)
		used += (size_t)snprintf(ids + used, cap - used, "%s%s", i ? "," : "", t.ids[i]);
	if (problems)
		*problems = json_incref(t.problems);
	edged_targets_release(&t);
	json_decref(to);
	return code;
}

static const char *problem(json_t *p, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(p, i), key));
}

START_TEST(all_skips_revoked_nodes)
{
	char ids[256];
	json_t *p;

	ck_assert_int_eq(resolve("\"all\"", ids, sizeof ids, &p), 0);
	ck_assert_str_eq(ids, "n1,n2,n3");
	ck_assert_uint_eq(json_array_size(p), 0);
	json_decref(p);
}
END_TEST

START_TEST(tag_selects_tagged_nodes)
{
	char ids[256];
	json_t *p;

	ck_assert_int_eq(resolve("\"tag:lab\"", ids, sizeof ids, &p), 0);
	ck_assert_str_eq(ids, "n2");
	/* the revoked one is named: not_allowed */
	ck_assert_uint_eq(json_array_size(p), 1);
	ck_assert_str_eq(problem(p, 0, "id"), "n4");
	ck_assert_str_eq(problem(p, 0, "reason"), "not_allowed");
	json_decref(p);
	ck_assert_int_eq(resolve("\"tag:nobody\"", ids, sizeof ids, NULL), 0);
	ck_assert_str_eq(ids, "");
}
END_TEST

START_TEST(list_in_order_once_with_problems)
{
	char ids[256];
	json_t *p;

	ck_assert_int_eq(resolve("[\"n3\", \"ghost\", \"n1\", \"n3\", \"n4\", \"ghost\"]", ids,
				 sizeof ids, &p), 0);
	ck_assert_str_eq(ids, "n3,n1");
	ck_assert_uint_eq(json_array_size(p), 2);
	ck_assert_str_eq(problem(p, 0, "id"), "ghost");
	ck_assert_str_eq(problem(p, 0, "reason"), "unknown_node");
	ck_assert_str_eq(problem(p, 1, "id"), "n4");
	ck_assert_str_eq(problem(p, 1, "reason"), "not_allowed");
	json_decref(p);
}
END_TEST

START_TEST(malformed_targets_are_bad_args)
{
	static const char *const bad[] = {
		"\"every\"", "\"tag:\"", "\"tag:a b\"", "\"tag:a,b\"", "[]", "[\"n1\", 7]", "7",
		"null", "{}", "\"tag:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", /* 33 */
	};
	char ids[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(resolve(bad[i], ids, sizeof ids, NULL) == EDGE_CTL_E_BAD_ARGS,
			      "%s accepted", bad[i]);
}
END_TEST

START_TEST(tag_filter_and_tags_json)
{
	json_t *args = json_pack("{s:s}", "tag", "lab"), *a;
	struct edge_node_info n;
	const char *t = NULL;
	char msg[128];

	ck_assert_int_eq(edged_tag_filter_arg(args, &t, msg, sizeof msg), 0);
	ck_assert_str_eq(t, "lab");
	json_object_set_new(args, "tag", json_null());
	ck_assert_int_eq(edged_tag_filter_arg(args, &t, msg, sizeof msg), 0);
	ck_assert_ptr_null(t);
	json_object_set_new(args, "tag", json_integer(3));
	ck_assert_int_eq(edged_tag_filter_arg(args, &t, msg, sizeof msg), EDGE_CTL_E_BAD_ARGS);
	json_object_set_new(args, "tag", json_string("x:y"));
	ck_assert_int_eq(edged_tag_filter_arg(args, &t, msg, sizeof msg), EDGE_CTL_E_BAD_ARGS);
	json_decref(args);

	{
		const char *tags[] = { "b", "a" };

		ck_assert_int_eq(edge_registry_set_tags(reg, "n1", tags, 2), 0);
	}
	ck_assert_int_eq(edge_registry_get(reg, "n1", &n), 0);
	a = edged_tags_json(&n);
	ck_assert_uint_eq(json_array_size(a), 2);
	ck_assert_str_eq(json_string_value(json_array_get(a, 0)), "a");
	ck_assert_str_eq(json_string_value(json_array_get(a, 1)), "b");
	json_decref(a);
	ck_assert_int_eq(edge_registry_get(reg, "n3", &n), 0);
	a = edged_tags_json(&n);
	ck_assert_uint_eq(json_array_size(a), 0);
	json_decref(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("targets");
	TCase *tc = tcase_create("resolve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_skips_revoked_nodes);
	tcase_add_test(tc, tag_selects_tagged_nodes);
	tcase_add_test(tc, list_in_order_once_with_problems);
	tcase_add_test(tc, malformed_targets_are_bad_args);
	tcase_add_test(tc, tag_filter_and_tags_json);
	suite_add_tcase(s, tc);
	return test_run_suite(s, TEST_REPORT_TEXT, CK_FORK_GETENV);
}
