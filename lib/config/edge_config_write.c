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

/* ---- edged.conf(5) ---- */

/* Text as roff: a backslash printed as such, and no line that starts with a
 * control character. Everything else passes (the docs are plain ASCII). */
static void roff_text(FILE *out, const char *text)
{
	if (text[0] == '.' || text[0] == '\'')
		fputs("\\&", out);
	for (const char *p = text; *p; p++) {
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-' && (p == text || p[-1] == ' '))
			fputs("\\-", out); /* an option or a negative number, not a hyphen */
		else
			fputc(*p, out);
	}
}

static const char manpage_head[] =
	".\\\" Generated from the settings table (lib/config/edge_config_table.c)\n"
	".\\\" by edge_config_write_manpage(); do not edit. Regenerate with\n"
	".\\\" <build>/tests/unit/config/edge-config-reference --man > man/edged.conf.5\n"
	".TH EDGED.CONF 5 \"\" \"edged\" \"File Formats Manual\"\n"
	".SH NAME\n"
	"edged.conf \\- configuration file of the edged gateway daemon\n"
	".SH SYNOPSIS\n"
	".I /etc/edged/edged.conf\n"
	".SH DESCRIPTION\n"
	".BR edged (8)\n"
	"reads one INI file at start-up, by default\n"
	".IR /etc/edged/edged.conf ,\n"
	"or the file given with\n"
	".BR \\-c .\n"
	"Without a file it runs on the built-in defaults listed below.\n"
	"The file installed with edged lists every key, documented and commented\n"
	"out at its default; the two are generated from one table, like this page.\n"
	".SS Syntax\n"
	".IP \\(bu 2\n"
	"\\fB[\\fIsection\\fB]\\fR starts a section.\n"
	"A section may be opened again further down; a key may not be repeated.\n"
	".IP \\(bu 2\n"
	"\\fIkey\\fB = \\fIvalue\\fR sets a key.\n"
	"The value runs to the end of the line, with the blanks around it trimmed:\n"
	"there is no quoting and no comment after a value, so a password may contain\n"
	"\\(oq#\\(cq and \\(oq;\\(cq.\n"
	".IP \\(bu 2\n"
	"Lines starting with \\(oq#\\(cq or \\(oq;\\(cq are comments.\n"
	"Lines are at most 2047 characters; CRLF line ends and a UTF\\-8 byte order\n"
	"mark are accepted.\n"
	".IP \\(bu 2\n"
	"Booleans are\n"
	".BR true | false | yes | no | on | off | 1 | 0 .\n"
	"Sizes are in bytes and take a\n"
	".B k\n"
	"(KiB) or\n"
	".B M\n"
	"(MiB) suffix.\n"
	"Durations are integers in the unit their name ends with\n"
	"(\\fB_s\\fR seconds, \\fB_ms\\fR milliseconds).\n"
	"Modes are octal.\n"
	".PP\n"
	"Unknown sections and keys, repeated keys and values out of range are errors.\n"
	"An error names the file, the line, the key, what is wrong and what is\n"
	"allowed, for example\n"
	".PP\n"
	".in +4n\n"
	".EX\n"
	"/etc/edged/edged.conf:12: mqtt.port = 70000: must be an integer in 1..65535\n"
	".EE\n"
	".in\n"
	".PP\n"
	".B edged \\-\\-check\\-config\n"
	".I FILE\n"
	"checks a file without starting the daemon (the systemd unit runs it before\n"
	"every start), and\n"
	".B edged \\-\\-dump\\-config\n"
	"prints the configuration in effect.\n"
	".SS Reload\n"
	"On\n"
	".BR \"systemctl reload edged\" ,\n"
	".B edgectl reload\n"
	"or SIGHUP edged reads the file again.\n"
	"Keys marked\n"
	".I Reloadable\n"
	"below take effect at once; changes to the others are reported and wait for\n"
	"a restart.\n"
	"A file with an error is refused as a whole and the running configuration\n"
	"stays in force.\n"
	".SH SETTINGS\n"
	"Each key is shown as it is written in its section, with its default.\n";

static const char manpage_tail[] =
	".SH FILES\n"
	".TP\n"
	".I /etc/edged/edged.conf\n"
	"The configuration file (its directory follows the build's\n"
	".IR sysconfdir ).\n"
	".TP\n"
	".I /var/lib/edged/edged.db\n"
	"The registry database\n"
	"(\\fBpaths.state_dir\\fR and \\fBpaths.database\\fR).\n"
	".TP\n"
	".I /run/edged/edged.sock\n"
	"The control socket\n"
	"(\\fBpaths.runtime_dir\\fR and \\fBpaths.control_socket\\fR).\n"
	".SH SEE ALSO\n"
	".BR edged (8),\n"
	".BR edgectl (1),\n"
	".BR mosquitto.conf (5)\n";

int edge_config_write_manpage(FILE *out)
{
	char what[384];
	const char *section = NULL;

	fputs(manpage_head, out);
	for (size_t i = 0; i < edge__cfg_nkeys; i++) {
		const struct edge__cfg_key *k = &edge__cfg_keys[i];

		if (!section || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, ".SS \"[%s]\"\n", section);
			roff_text(out, edge__cfg_find_section(section)->doc);
			fputc('\n', out);
		}
		edge__cfg_describe(k, what, sizeof what);
		what[0] = (char)toupper((unsigned char)what[0]);
		fprintf(out, ".TP\n\\fB%s\\fR =", k->key);
		if (k->def[0]) {
			fputs(" \\fI", out);
			roff_text(out, k->def);
			fputs("\\fR", out);
		}
		fputc('\n', out);
		roff_text(out, k->doc);
		fputc('\n', out);
		roff_text(out, what);
		fprintf(out, ".\n%s\n", (k->flags & EDGE_CONFIG_RELOADABLE) ? "Reloadable."
									  : "Needs a restart.");
	}
	fputs(manpage_tail, out);
	return stream_result(out);
}
