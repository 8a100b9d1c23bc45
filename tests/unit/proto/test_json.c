/* The strict JSON reader: grammar, limits, navigation and typed reads. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_json.h"
#include "test_proto.h"

#define NTOK 64

struct parsed {
	struct edge_json_tok toks[NTOK];
	struct edge_json_doc doc;
	struct edge_json_error err;
	int rc;
};

/* Parse from a heap copy of exactly the text's length, so ASan catches any
 * read past len and nothing can rely on a NUL terminator. */
static void parse_n(struct parsed *p, const char *text, size_t len, unsigned depth)
{
	char *copy = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, len);
	memset(p, 0, sizeof *p);
	p->rc = edge_json_parse(copy, len, p->toks, NTOK, depth, &p->doc, &p->err);
	free(copy);
	p->doc.buf = NULL; /* the copy is gone; tests below re-parse to read */
}

static enum edge_json_error_code parse_code(const char *text)
{
	struct parsed p;

	parse_n(&p, text, strlen(text), 8);
	if (p.rc >= 0)
		return EDGE_JSON_E_NONE;
	return p.err.code;
}

START_TEST(accepts_valid_documents)
{
	static const char *const ok[] = {
		"{}", "[]", "0", "-0", "1.5e-3", "-12E+2", "true", "false", "null",
		"\"\"", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
		"\"K\xc3\xbchl \xe2\x9c\x93 \xf0\x9d\x84\x9e\"",
		"{\"a\":{\"b\":[{},[],\"\"]},\"c\":null}",
		"[1,[2,[3]],4]",
		"\"\xef\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\"", "\"\xed\x9f\xbf\"",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		ck_assert_msg(parse_code(ok[i]) == EDGE_JSON_E_NONE,
			      "rejected valid #%zu: %s", i, ok[i]);
}
END_TEST

START_TEST(rejects_with_specific_reason)
{
	static const struct {
		const char *text;
		enum edge_json_error_code code;
	} bad[] = {
		{ "", EDGE_JSON_E_EMPTY },
		{ "  \n", EDGE_JSON_E_EMPTY },
		{ "{", EDGE_JSON_E_SYNTAX },
		{ "{\"a\"", EDGE_JSON_E_SYNTAX },
		{ "{\"a\":", EDGE_JSON_E_SYNTAX },
		{ "{\"a\":1,}", EDGE_JSON_E_SYNTAX },
		{ "[1,]", EDGE_JSON_E_SYNTAX },
		{ "[1 2]", EDGE_JSON_E_SYNTAX },
		{ "{1:2}", EDGE_JSON_E_SYNTAX },
		{ "{'a':1}", EDGE_JSON_E_SYNTAX },
		{ "tru", EDGE_JSON_E_SYNTAX },
		{ "nul", EDGE_JSON_E_SYNTAX },
		{ "\"abc", EDGE_JSON_E_SYNTAX },
		{ "\xef\xbb\xbf{}", EDGE_JSON_E_SYNTAX },
		{ "{} {}", EDGE_JSON_E_TRAILING },
		{ "1 2", EDGE_JSON_E_TRAILING },
		{ "truex", EDGE_JSON_E_TRAILING },
		{ "01", EDGE_JSON_E_NUMBER },
		{ "-", EDGE_JSON_E_NUMBER },
		{ "1.", EDGE_JSON_E_NUMBER },
		{ ".5", EDGE_JSON_E_NUMBER },
		{ "+1", EDGE_JSON_E_NUMBER },
		{ "1e", EDGE_JSON_E_NUMBER },
		{ "1e+", EDGE_JSON_E_NUMBER },
		{ "-01", EDGE_JSON_E_NUMBER },
		{ "\"a\\x\"", EDGE_JSON_E_ESCAPE },
		{ "\"\\u12g4\"", EDGE_JSON_E_ESCAPE },
		{ "\"\\ud800\"", EDGE_JSON_E_ESCAPE },
		{ "\"\\ud800\\u0041\"", EDGE_JSON_E_ESCAPE },
		{ "\"\\udc00\"", EDGE_JSON_E_ESCAPE },
		{ "\"\\u00\"", EDGE_JSON_E_ESCAPE },
		{ "\"a\tb\"", EDGE_JSON_E_CONTROL },
		{ "\"\x1f\"", EDGE_JSON_E_CONTROL },
		{ "\"\xff\"", EDGE_JSON_E_UTF8 },
		{ "\"\x80\"", EDGE_JSON_E_UTF8 },
		{ "\"\xc0\xaf\"", EDGE_JSON_E_UTF8 },
		{ "\"\xc1\xbf\"", EDGE_JSON_E_UTF8 },
		{ "\"\xe0\x9f\xbf\"", EDGE_JSON_E_UTF8 },
		{ "\"\xed\xa0\x80\"", EDGE_JSON_E_UTF8 },
		{ "\"\xf0\x8f\xbf\xbf\"", EDGE_JSON_E_UTF8 },
		{ "\"\xf4\x90\x80\x80\"", EDGE_JSON_E_UTF8 },
		{ "\"\xf5\x80\x80\x80\"", EDGE_JSON_E_UTF8 },
		{ "\"\xe2\x82\"", EDGE_JSON_E_UTF8 },
		{ "{\"a\":1,\"a\":2}", EDGE_JSON_E_DUPKEY },
		{ "{\"a\":1,\"b\":{\"a\":1},\"\\u0061\":2}", EDGE_JSON_E_DUPKEY },
		{ "{\"\\n\":1,\"\\u000a\":2}", EDGE_JSON_E_DUPKEY },
		{ "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", EDGE_JSON_E_DUPKEY },
		{ "[[[[[[[[[1]]]]]]]]]", EDGE_JSON_E_DEPTH },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum edge_json_error_code got = parse_code(bad[i].text);

		ck_assert_msg(got == bad[i].code, "#%zu %s: expected %s, got %s", i,
			      bad[i].text, edge_json_error_name(bad[i].code),
			      edge_json_error_name(got));
	}
}
END_TEST

START_TEST(same_key_in_sibling_objects_is_fine)
{
	ck_assert_int_eq(parse_code("{\"a\":{\"x\":1},\"b\":{\"x\":1},\"c\":[{\"x\":1},{\"x\":2}]}"),
			 EDGE_JSON_E_NONE);
}
END_TEST

START_TEST(depth_limit_is_exact)
{
	struct parsed p;

	parse_n(&p, "[[[1]]]", 7, 4);
	ck_assert_int_eq(p.rc, 4);
	parse_n(&p, "[[[1]]]", 7, 3);
	ck_assert_int_eq(p.rc, -EPROTO);
	ck_assert_int_eq(p.err.code, EDGE_JSON_E_DEPTH);
	parse_n(&p, "{\"a\":{\"b\":1}}", 13, 3);
	ck_assert_int_ge(p.rc, 0);
	parse_n(&p, "{\"a\":{\"b\":1}}", 13, 2);
	ck_assert_int_eq(p.err.code, EDGE_JSON_E_DEPTH);
}
END_TEST

START_TEST(token_cap_reports_enospc)
{
	struct edge_json_tok toks[4];
	struct edge_json_error err;
	int rc = edge_json_parse("[1,2,3]", 7, toks, 4, 8, NULL, &err);

	ck_assert_int_eq(rc, 4);
	rc = edge_json_parse("[1,2,3,4]", 9, toks, 4, 8, NULL, &err);
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_int_eq(err.code, EDGE_JSON_E_TOKENS);
}
END_TEST

/* The limit node-protocol.md states: every value and every object key is
 * one token, the top-level object included. */
START_TEST(token_cap_counts_keys)
{
	struct edge_json_tok toks[5];
	struct edge_json_error err;
	int rc = edge_json_parse("{\"a\":1,\"b\":2}", 13, toks, 5, 8, NULL, &err);

	ck_assert_int_eq(rc, 5);
	rc = edge_json_parse("{\"a\":1,\"b\":2,\"c\":3}", 19, toks, 5, 8, NULL, &err);
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_int_eq(err.code, EDGE_JSON_E_TOKENS);
	rc = edge_json_parse("{\"a\":{},\"b\":[]}", 15, toks, 5, 8, NULL, &err);
	ck_assert_int_eq(rc, 5);
}
END_TEST

START_TEST(never_reads_past_len)
{
	/* A valid prefix followed by bytes that must not be seen. */
	const char *text = "{\"a\":12}garbage";
	struct edge_json_tok toks[8];
	struct edge_json_doc doc;
	int rc = edge_json_parse(text, 8, toks, 8, 8, &doc, NULL);

	ck_assert_int_eq(rc, 3);
	rc = edge_json_parse("123456", 3, toks, 8, 8, &doc, NULL);
	ck_assert_int_eq(rc, 1);
	uint64_t v;
	ck_assert_int_eq(edge_json_get_uint(&doc, 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 123);
	/* Truncating in the middle of every prefix of a document fails cleanly. */
	const char *doc_text = "{\"k\":[true,null,\"\\u00e9\\ud83d\\ude00\",-1.5e3]}";
	size_t n = strlen(doc_text);
	for (size_t i = 0; i < n; i++) {
		char *copy = malloc(i ? i : 1);
		memcpy(copy, doc_text, i);
		rc = edge_json_parse(copy, i, toks, 8, 8, &doc, NULL);
		free(copy);
		ck_assert_msg(rc < 0, "prefix of %zu bytes accepted", i);
	}
}
END_TEST

START_TEST(navigation_and_lookup)
{
	const char *text = "{\"a\":[1,{\"x\":2},3],\"b\":\"s\",\"c\":{},\"d\\u0021\":true}";
	struct edge_json_tok toks[NTOK];
	struct edge_json_doc doc;
	int rc = edge_json_parse(text, strlen(text), toks, NTOK, 8, &doc, NULL);

	ck_assert_int_gt(rc, 0);
	ck_assert_int_eq(edge_json_type_of(&doc, 0), EDGE_JSON_OBJECT);
	ck_assert_uint_eq(toks[0].size, 4);

	int a = edge_json_obj_get(&doc, 0, "a");
	ck_assert_int_eq(edge_json_type_of(&doc, a), EDGE_JSON_ARRAY);
	ck_assert_uint_eq(toks[a].size, 3);
	int e = edge_json_first(&doc, a);
	int count = 0;
	for (; e >= 0; e = edge_json_next(&doc, e))
		count++;
	ck_assert_int_eq(count, 3);

	int b = edge_json_obj_get(&doc, 0, "b");
	ck_assert_int_eq(edge_json_type_of(&doc, b), EDGE_JSON_STRING);
	ck_assert(edge_json_str_eq(&doc, b, "s"));
	ck_assert(!edge_json_str_eq(&doc, b, "ss"));
	ck_assert(!edge_json_str_eq(&doc, b, ""));

	int c = edge_json_obj_get(&doc, 0, "c");
	ck_assert_int_eq(edge_json_first(&doc, c), -ENOENT);
	ck_assert_int_ge(edge_json_obj_get(&doc, 0, "d!"), 0);
	ck_assert_int_eq(edge_json_obj_get(&doc, 0, "x"), -ENOENT); /* not at top */
	ck_assert_int_eq(edge_json_obj_get(&doc, a, "x"), -EINVAL); /* not an object */
	ck_assert_int_eq(edge_json_obj_get(&doc, 999, "x"), -EINVAL);
	ck_assert_int_eq(edge_json_type_of(&doc, -1), 0);
	ck_assert_int_eq(edge_json_next(&doc, 0), -ENOENT);
}
END_TEST

START_TEST(typed_reads)
{
	const char *text = "{\"s\":\"a\\u00e9\\n\",\"z\":\"a\\u0000b\",\"i\":-42,\"u\":18446744073709551615,"
			   "\"big\":18446744073709551616,\"f\":1.5,\"e\":1e2,\"t\":true,\"n\":null,"
			   "\"min\":-9223372036854775808,\"arr\":[\"x\",\"yy\"],\"bad\":[\"x\",1]}";
	struct edge_json_tok toks[NTOK];
	struct edge_json_doc doc;
	char s[8], rows[2][4];
	size_t len, count, bad;
	uint64_t u;
	int64_t i;
	int bv;

	ck_assert_int_gt(edge_json_parse(text, strlen(text), toks, NTOK, 8, &doc, NULL), 0);
	int t = edge_json_obj_get(&doc, 0, "s");
	ck_assert_int_eq(edge_json_get_str(&doc, t, s, sizeof s, &len), 0);
	ck_assert_str_eq(s, "a\xc3\xa9\n");
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(edge_json_get_str(&doc, t, s, 4, NULL), -ENOSPC);
	ck_assert_int_eq(edge_json_get_str(&doc, t, s, 5, NULL), 0);
	ck_assert_int_eq(edge_json_get_str(&doc, edge_json_obj_get(&doc, 0, "z"), s, sizeof s, NULL),
			 -EILSEQ);
	ck_assert_int_eq(edge_json_get_str(&doc, edge_json_obj_get(&doc, 0, "i"), s, sizeof s, NULL),
			 -EINVAL);

	t = edge_json_obj_get(&doc, 0, "i");
	ck_assert_int_eq(edge_json_get_int(&doc, t, -100, 100, &i), 0);
	ck_assert_int_eq(i, -42);
	ck_assert_int_eq(edge_json_get_int(&doc, t, -41, 100, &i), -ERANGE);
	ck_assert_int_eq(edge_json_get_uint(&doc, t, UINT64_MAX, &u), -ERANGE);
	t = edge_json_obj_get(&doc, 0, "u");
	ck_assert_int_eq(edge_json_get_uint(&doc, t, UINT64_MAX, &u), 0);
	ck_assert(u == UINT64_MAX);
	ck_assert_int_eq(edge_json_get_int(&doc, t, INT64_MIN, INT64_MAX, &i), -ERANGE);
	t = edge_json_obj_get(&doc, 0, "big");
	ck_assert_int_eq(edge_json_get_uint(&doc, t, UINT64_MAX, &u), -ERANGE);
	t = edge_json_obj_get(&doc, 0, "min");
	ck_assert_int_eq(edge_json_get_int(&doc, t, INT64_MIN, INT64_MAX, &i), 0);
	ck_assert(i == INT64_MIN);
	t = edge_json_obj_get(&doc, 0, "f");
	ck_assert(!edge_json_is_integer(&doc, t));
	ck_assert_int_eq(edge_json_get_uint(&doc, t, 10, &u), -ERANGE);
	t = edge_json_obj_get(&doc, 0, "e");
	ck_assert_int_eq(edge_json_get_int(&doc, t, 0, 1000, &i), -ERANGE);
	t = edge_json_obj_get(&doc, 0, "t");
	ck_assert_int_eq(edge_json_get_bool(&doc, t, &bv), 0);
	ck_assert_int_eq(bv, 1);
	t = edge_json_obj_get(&doc, 0, "n");
	ck_assert_int_eq(edge_json_get_bool(&doc, t, &bv), -EINVAL);
	ck_assert_int_eq(edge_json_get_uint(&doc, t, 1, &u), -EINVAL);

	t = edge_json_obj_get(&doc, 0, "arr");
	ck_assert_int_eq(edge_json_get_str_array(&doc, t, &rows[0][0], 4, 2, &count, &bad), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(rows[0], "x");
	ck_assert_str_eq(rows[1], "yy");
	ck_assert_int_eq(edge_json_get_str_array(&doc, t, &rows[0][0], 4, 1, &count, &bad), -E2BIG);
	ck_assert_int_eq(edge_json_get_str_array(&doc, t, &rows[0][0], 2, 2, &count, &bad), -ENOSPC);
	ck_assert_uint_eq(bad, 1);
	t = edge_json_obj_get(&doc, 0, "bad");
	ck_assert_int_eq(edge_json_get_str_array(&doc, t, &rows[0][0], 4, 2, &count, &bad), -EINVAL);
	ck_assert_uint_eq(bad, 1);
}
END_TEST

TCase *test_json_tcase(void)
{
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, accepts_valid_documents);
	tcase_add_test(tc, rejects_with_specific_reason);
	tcase_add_test(tc, same_key_in_sibling_objects_is_fine);
	tcase_add_test(tc, depth_limit_is_exact);
	tcase_add_test(tc, token_cap_reports_enospc);
	tcase_add_test(tc, token_cap_counts_keys);
	tcase_add_test(tc, never_reads_past_len);
	tcase_add_test(tc, navigation_and_lookup);
	tcase_add_test(tc, typed_reads);
	return tc;
}

/* ------------------------------------------------------------ writer */

START_TEST(writer_builds_documents)
{
	char buf[128];
	struct edge_json_writer w;

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_obj_begin(&w);
	edge_json_key(&w, "a");
	edge_json_arr_begin(&w);
	edge_json_int(&w, -5);
	edge_json_uint(&w, 18446744073709551615ull);
	edge_json_bool(&w, 1);
	edge_json_null(&w);
	edge_json_arr_end(&w);
	edge_json_key(&w, "q\"");
	edge_json_str(&w, "line\n\x01\xc3\xa9");
	edge_json_key(&w, "o");
	edge_json_obj_begin(&w);
	edge_json_obj_end(&w);
	edge_json_key(&w, "m");
	edge_json_int(&w, INT64_MIN);
	edge_json_obj_end(&w);
	int n = edge_json_writer_finish(&w);
	const char *want = "{\"a\":[-5,18446744073709551615,true,null],\"q\\\"\":\"line\\n\\u0001\xc3\xa9\","
			   "\"o\":{},\"m\":-9223372036854775808}";
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_str_eq(buf, want);

	/* What it writes, the reader accepts. */
	struct edge_json_tok toks[16];
	ck_assert_int_gt(edge_json_parse(buf, (size_t)n, toks, 16, 4, NULL, NULL), 0);
}
END_TEST

START_TEST(writer_reports_misuse_and_overflow)
{
	char buf[16];
	struct edge_json_writer w;

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_obj_begin(&w);
	edge_json_int(&w, 1); /* value without key */
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL);

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_arr_begin(&w);
	edge_json_key(&w, "k"); /* key in array */
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL);

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_arr_begin(&w);
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL); /* unclosed */

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_arr_begin(&w);
	edge_json_obj_end(&w); /* mismatched */
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL);

	edge_json_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL); /* nothing */

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_int(&w, 1);
	edge_json_int(&w, 2); /* two top-level values */
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL);

	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_str(&w, "\xff");
	ck_assert_int_eq(edge_json_writer_finish(&w), -EINVAL);

	/* 15 bytes + NUL fit exactly; one more does not. */
	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_str(&w, "0123456789abc");
	ck_assert_int_eq(edge_json_writer_finish(&w), 15);
	ck_assert_str_eq(buf, "\"0123456789abc\"");
	edge_json_writer_init(&w, buf, sizeof buf);
	edge_json_str(&w, "0123456789abcd");
	ck_assert_int_eq(edge_json_writer_finish(&w), -ENOSPC);
	ck_assert_uint_lt(strlen(buf), sizeof buf);

	edge_json_writer_init(&w, NULL, 0);
	edge_json_null(&w);
	ck_assert_int_eq(edge_json_writer_finish(&w), -ENOSPC);
}
END_TEST

START_TEST(escape_helper)
{
	char out[16];

	ck_assert_int_eq(edge_json_escape(out, sizeof out, "a\"b\\c\t", 6), 9);
	ck_assert_str_eq(out, "a\\\"b\\\\c\\t");
	ck_assert_int_eq(edge_json_escape(out, 9, "a\"b\\c\t", 6), -ENOSPC);
	ck_assert_int_eq(edge_json_escape(out, 10, "a\"b\\c\t", 6), 9);
	ck_assert_int_eq(edge_json_escape(out, sizeof out, "\xc3", 1), -EINVAL);
	ck_assert_int_eq(edge_json_escape(out, sizeof out, "", 0), 0);
	ck_assert_str_eq(out, "");
	/* Embedded NUL becomes \u0000. */
	ck_assert_int_eq(edge_json_escape(out, sizeof out, "a\0b", 3), 8);
	ck_assert_str_eq(out, "a\\u0000b");
}
END_TEST

TCase *test_json_writer_tcase(void)
{
	TCase *tc = tcase_create("json_writer");

	tcase_add_test(tc, writer_builds_documents);
	tcase_add_test(tc, writer_reports_misuse_and_overflow);
	tcase_add_test(tc, escape_helper);
	return tc;
}
