/* config/edged.conf stays in step with the settings table: it is exactly
 * what the table generates, it loads as the defaults, and uncommenting
 * every key still gives exactly the defaults. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_config.h"

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	*len = 0;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = (*len + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		size_t n = fread(buf + *len, 1, 4096, f);
		*len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static char *shipped_path(void)
{
	static char path[4096];

	snprintf(path, sizeof path, "%s/config/edged.conf", getenv("EDGE_SOURCE_ROOT"));
	return path;
}

START_TEST(shipped_file_is_the_generated_reference)
{
	size_t len, glen = 0;
	char *shipped = read_all(shipped_path(), &len);
	char *generated = NULL;
	FILE *f = open_memstream(&generated, &glen);

	ck_assert_int_eq(edge_config_write_reference(f), 0);
	fclose(f);
	if (len != glen || memcmp(shipped, generated, len) != 0) {
		size_t line = 1, i = 0;
		while (i < len && i < glen && shipped[i] == generated[i])
			line += shipped[i++] == '\n';
		ck_abort_msg("%s differs from the settings table from line %zu on; "
			     "regenerate it with: <build>/tests/unit/config/"
			     "edge-config-reference > config/edged.conf",
			     shipped_path(), line);
	}
	free(shipped);
	free(generated);
}
END_TEST

START_TEST(shipped_file_loads_as_the_defaults)
{
	edge_config *c = edge_config_new(), *d = edge_config_new();
	char err[512], value[EDGE_CONFIG_PATH_MAX];

	ck_assert_msg(edge_config_load_file(c, shipped_path(), err, sizeof err) == 0,
		      "%s", err);
	/* compare through the dumps: same text = same values */
	char *a = NULL, *b = NULL;
	size_t al, bl;
	FILE *fa = open_memstream(&a, &al), *fb = open_memstream(&b, &bl);
	ck_assert_int_eq(edge_config_dump(c, fa, true), 0);
	ck_assert_int_eq(edge_config_dump(d, fb, true), 0);
	fclose(fa);
	fclose(fb);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(edge_config_get(c, "mqtt.port", value, sizeof value), 0);
	free(a);
	free(b);
	edge_config_free(c);
	edge_config_free(d);
}
END_TEST

struct defaults_check {
	const edge_config *loaded;
	const char *text;
	int keys;
};

static int check_key(const struct edge_config_key_info *info, void *ud)
{
	struct defaults_check *dc = ud;
	char needle[128], value[EDGE_CONFIG_PATH_MAX];

	/* Present in its section, uncommented. */
	snprintf(needle, sizeof needle, "\n%s =", info->key);
	const char *section = strstr(dc->text, info->section);
	char header[64];
	snprintf(header, sizeof header, "\n[%s]\n", info->section);
	section = strstr(dc->text, header);
	ck_assert_msg(section != NULL, "section [%s] missing", info->section);
	const char *next = strstr(section + 1, "\n[");
	const char *at = strstr(section, needle);
	ck_assert_msg(at != NULL && (!next || at < next),
		      "%s missing from its section in config/edged.conf", info->name);

	/* Loaded value == the table's default. */
	ck_assert_int_eq(edge_config_get(dc->loaded, info->name, value, sizeof value), 0);
	ck_assert_msg(strcmp(value, info->default_value) == 0,
		      "%s: file gives '%s', default is '%s'", info->name, value,
		      info->default_value);
	dc->keys++;
	return 0;
}

START_TEST(uncommented_keys_are_exactly_the_defaults)
{
	size_t len;
	char *text = read_all(shipped_path(), &len);
	char *out = malloc(len + 2);
	size_t o = 0;
	int uncommented = 0;

	ck_assert_ptr_nonnull(out);
	/* Uncomment "#key = value" lines (not prose comments, which have a
	 * blank after '#'). */
	out[o++] = '\n';
	for (size_t i = 0; i < len; i++) {
		bool line_start = i == 0 || text[i - 1] == '\n';
		if (line_start && text[i] == '#' && i + 1 < len &&
		    text[i + 1] >= 'a' && text[i + 1] <= 'z') {
			uncommented++;
			continue;
		}
		out[o++] = text[i];
	}
	out[o] = '\0';

	edge_config *c = edge_config_new();
	char err[512];
	ck_assert_msg(edge_config_load_buffer(c, "uncommented edged.conf", out, o,
					      err, sizeof err) == 0,
		      "%s", err);

	struct defaults_check dc = { c, out, 0 };
	ck_assert_int_eq(edge_config_foreach(c, check_key, &dc), 0);
	/* Each key once (a repeat would have failed to load). */
	ck_assert_int_eq(uncommented, dc.keys);
	edge_config_free(c);
	free(out);
	free(text);
}
END_TEST

TCase *test_config_reference_tcase(void)
{
	TCase *tc = tcase_create("reference");

	tcase_add_test(tc, shipped_file_is_the_generated_reference);
	tcase_add_test(tc, shipped_file_loads_as_the_defaults);
	tcase_add_test(tc, uncommented_keys_are_exactly_the_defaults);
	return tc;
}
