/* The INI reader: sections, `key = value` lines, whole-line comments. */
#include "edge_config_table.h"

#include <string.h>

/* Longest accepted line, without its line break. Paths are at most
 * EDGE_CONFIG_PATH_MAX - 1 bytes, so this leaves room for key and blanks. */
#define LINE_MAX_CHARS 2047

static char *trim(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	return p;
}

const char *edge__cfg_echo(const struct edge__cfg_key *k, const char *value,
			   char *buf, size_t len)
{
	size_t n = 0;

	if (k->flags & EDGE_CONFIG_SECRET)
		return "<hidden>";
	for (; *value && n + 4 < len && n < EDGE__CFG_ECHO_MAX; value++)
		buf[n++] = ((unsigned char)*value < 0x20 || *value == 0x7f) ? '?' : *value;
	if (*value) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static void section_list(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < edge__cfg_nsections && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s[%s]", i ? " " : "",
				 edge__cfg_sections[i].name);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}

int edge__cfg_parse_buffer(struct edge_settings *s, unsigned *lines,
			   const char *name, const char *buf, size_t len,
			   char *err, size_t errlen)
{
	const struct edge__cfg_section *section = NULL;
	char line[LINE_MAX_CHARS + 2];
	unsigned lineno = 0;
	size_t pos = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* UTF-8 byte order mark */
	while (pos < len) {
		const char *start = buf + pos;
		const char *eol = memchr(start, '\n', len - pos);
		size_t n = eol ? (size_t)(eol - start) : len - pos;

		lineno++;
		pos += n + (eol ? 1 : 0);
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > LINE_MAX_CHARS)
			return edge__cfg_error(err, errlen,
					       "%s:%u: line longer than %d characters",
					       name, lineno, LINE_MAX_CHARS);
		if (memchr(start, '\0', n))
			return edge__cfg_error(err, errlen, "%s:%u: NUL byte in line",
					       name, lineno);
		memcpy(line, start, n);
		line[n] = '\0';

		char *p = trim(line);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;

		if (*p == '[') {
			char *close = strchr(p, ']');
			if (!close)
				return edge__cfg_error(err, errlen,
						       "%s:%u: expected ']' to end the section name",
						       name, lineno);
			if (*trim(close + 1) != '\0')
				return edge__cfg_error(err, errlen,
						       "%s:%u: unexpected text after ']'",
						       name, lineno);
			*close = '\0';
			char *sec = trim(p + 1);
			section = edge__cfg_find_section(sec);
			if (!section) {
				char known[256];
				section_list(known, sizeof known);
				return edge__cfg_error(err, errlen,
						       "%s:%u: unknown section [%.64s]; sections are %s",
						       name, lineno, sec, known);
			}
			continue;
		}

		char *eq = strchr(p, '=');
		if (!eq)
			return edge__cfg_error(err, errlen,
					       "%s:%u: expected 'key = value', '[section]' or a comment",
					       name, lineno);
		*eq = '\0';
		char *key = trim(p);
		char *value = trim(eq + 1);
		if (*key == '\0')
			return edge__cfg_error(err, errlen, "%s:%u: missing key before '='",
					       name, lineno);
		if (!section)
			return edge__cfg_error(err, errlen,
					       "%s:%u: key '%.64s' before any [section]",
					       name, lineno, key);

		const struct edge__cfg_key *k = edge__cfg_find(section->name, key);
		if (!k)
			return edge__cfg_error(err, errlen,
					       "%s:%u: unknown key '%.64s' in section [%s]",
					       name, lineno, key, section->name);
		size_t idx = (size_t)(k - edge__cfg_keys);
		if (lines[idx])
			return edge__cfg_error(err, errlen,
					       "%s:%u: %s: duplicate key (first set on line %u)",
					       name, lineno, k->name, lines[idx]);

		char why[384], shown[96];
		if (*value == '\0' && !(k->flags & EDGE_CONFIG_EMPTY_OK)) {
			edge__cfg_describe(k, why, sizeof why);
			return edge__cfg_error(err, errlen,
					       "%s:%u: %s: empty value; must be %s",
					       name, lineno, k->name, why);
		}
		if (edge__cfg_parse_value(k, value, s, why, sizeof why) < 0)
			return edge__cfg_error(err, errlen, "%s:%u: %s = %s: %s", name,
					       lineno, k->name,
					       edge__cfg_echo(k, value, shown, sizeof shown), why);
		lines[idx] = lineno;
	}
	return 0;
}
