/* Writers driven by the table: the effective config (--dump-config) and
 * the documented reference config (config/edged.conf). */
#include "edge_config_table.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define WRAP_COLUMN 78

static int stream_result(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

int edge_config_dump(const edge_config *c, FILE *out, bool include_secrets)
{
	const struct edge_settings *s = edge_config_settings(c);
	char value[EDGE_CONFIG_PATH_MAX];
	const char *section = NULL;

	fprintf(out, "# edged effective configuration\n");
	for (size_t i = 0; i < edge__cfg_nkeys; i++) {
		const struct edge__cfg_key *k = &edge__cfg_keys[i];

		if (!section || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "\n[%s]\n", section);
		}
		edge__cfg_format_value(k, s, value, sizeof value);
		if ((k->flags & EDGE_CONFIG_SECRET) && value[0] && !include_secrets)
			fprintf(out, "# %s = <hidden>\n", k->key);
		else
			fprintf(out, "%s =%s%s\n", k->key, value[0] ? " " : "", value);
		explicit_bzero(value, sizeof value);
	}
	return stream_result(out);
}

/* Word-wrapped "# " comment lines. */
static void comment(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t width = WRAP_COLUMN - 2, n = strlen(p);

		if (n > width) {
			n = width;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0) /* one long word: cut at the next blank */
				n = strcspn(p, " ");
		}
		fprintf(out, "# %.*s\n", (int)n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
}

static const char reference_header[] =
	"edged configuration file.\n"
	"\n"
	"Every key is listed below, commented out at its default value. To change "
	"a setting, remove the leading '#' and edit the value.\n"
	"\n"
	"Syntax: '[section]' starts a section; 'key = value' sets a key, the value "
	"running to the end of the line (no quotes, no trailing comments); lines "
	"starting with '#' or ';' are comments. Unknown sections or keys, repeated "
	"keys and values out of range are errors that name the line: check a file "
	"with 'edged --check-config FILE'.\n"
	"\n"
	"Keys marked 'reloadable' take effect on 'systemctl reload edged' "
	"(SIGHUP); changes to the others wait for a restart.";

int edge_config_write_reference(FILE *out)
{
	char what[384], line[512];
	const char *section = NULL;

	/* The header is a paragraph per line, wrapped like everything else. */
	for (const char *p = reference_header; *p;) {
		size_t n = strcspn(p, "\n");
		snprintf(line, sizeof line, "%.*s", (int)n, p);
		if (n == 0)
			fprintf(out, "#\n");
		else
			comment(out, line);
		p += n + (p[n] == '\n');
	}

	for (size_t i = 0; i < edge__cfg_nkeys; i++) {
		const struct edge__cfg_key *k = &edge__cfg_keys[i];

		if (!section || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "\n[%s]\n", section);
			comment(out, edge__cfg_find_section(section)->doc);
		}
		edge__cfg_describe(k, what, sizeof what);
		what[0] = (char)toupper((unsigned char)what[0]);
		fprintf(out, "\n");
		comment(out, k->doc);
		snprintf(line, sizeof line, "%s. %s.", what,
			 (k->flags & EDGE_CONFIG_RELOADABLE) ? "Reloadable"
							     : "Needs a restart");
		comment(out, line);
		fprintf(out, "#%s =%s%s\n", k->key, k->def[0] ? " " : "", k->def);
	}
	return stream_result(out);
}
