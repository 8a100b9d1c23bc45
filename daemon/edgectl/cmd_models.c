/* edgectl models: the signed model packages edged keeps (ota.models_dir).
 *
 *   models add PKG | models list | models show REF | models remove REF |
 *   models fit REF [--tag TAG]
 *
 * Not to be confused with `edgectl model ...` (cmd_model.c), the offline
 * tools on a local file. edged reads a package to add from its own file
 * system, so PKG is sent as an absolute path; nothing is uploaded. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "edge_node_msg.h"
#include "edgectl.h"
#include "table.h"

static const char models_usage[] =
	"Usage: edgectl models add PKG [--json]\n"
	"       edgectl models list [--json]\n"
	"       edgectl models show REF [--json]\n"
	"       edgectl models remove REF [--json]\n"
	"       edgectl models fit REF [--tag TAG] [--json]\n"
	"\n"
	"The signed model packages stored by edged (ota.models_dir), which\n"
	"'edgectl ota send' delivers to nodes. For the offline tools on a local\n"
	"file (inspect, pack, verify) see 'edgectl model' (singular).\n"
	"\n"
	"add     edged reads PKG itself (sent as an absolute path: edged's user must\n"
	"        be able to read it), verifies its signatures with the keys of\n"
	"        ota.trust_dir (ota.threshold distinct signers), refuses a security\n"
	"        counter below the one accepted for that name, and keeps a copy\n"
	"        named by its digest (SHA-256 of the package file).\n"
	"list    every stored model, by name, then counter.\n"
	"show    one model: its manifest, signers (trusted or not), open transfers.\n"
	"remove  forget a model no open transfer uses. The name's counter stays:\n"
	"        removing a model never allows an older one back.\n"
	"fit     which registered nodes could run the model, and why the others\n"
	"        cannot (missing_ops, insufficient_arena, already_have, ...).\n"
	"        --tag: only the nodes with that tag ('edgectl devices tag').\n"
	"\n"
	"REF: a digest or model SHA-256 prefix (8 hex digits or more), NAME@VERSION,\n"
	"or NAME (the highest counter of that name).\n"
	"\n"
	"Exit codes: 0 done, 1 refused or failed (no_trust, refused, rollback,\n"
	"exists, in_use, not_found, ambiguous, io, too_large), 2 bad usage, 3 edged\n"
	"not running, 4 not authorised (add and remove need the admin role).\n";

/* ---- helpers shared with cmd_ota.c and cmd_devices.c (edgectl.h) */

void edgectl_format_bytes(char *buf, size_t cap, long long n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, cap, "%lld B", n < 0 ? 0 : n);
		return;
	}
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	assert(u >= 0 && u < 4);
	snprintf(buf, cap, "%.1f %s", v, units[u]);
}

/* [A-Za-z0-9._-]{1,31}: a manifest's name or version. */
static bool token_ok(const char *s, size_t len)
{
	if (len == 0 || len >= EDGE_MSG_TOKEN_CAP)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    s[i]) || s[i] == '\0')
			return false;
	return true;
}

static bool hex_ok(const char *s, size_t len)
{
	if (len < 8 || len > EDGE_MSG_SHA256_HEX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0')
			return false;
	return true;
}

int edgectl_check_model_ref(const char *what, const char *ref)
{
	const char *at = strchr(ref, '@');
	size_t len = strlen(ref);

	if (at ? token_ok(ref, (size_t)(at - ref)) && token_ok(at + 1, strlen(at + 1))
	       : token_ok(ref, len) || hex_ok(ref, len))
		return EDGECTL_OK;
	fprintf(stderr,
		"edgectl %s: bad model reference '%s': expected a digest or SHA-256 prefix\n"
		"(8 to 64 hex digits), NAME@VERSION or NAME (names and versions are 1 to 31\n"
		"of A-Z a-z 0-9 . _ -)\n",
		what, ref);
	return EDGECTL_EUSAGE;
}

/* What to do about the refusals an operator can act on. */
static int explain(int rc)
{
	const char *code = edgectl_last_error_code();

	if (rc != EDGECTL_EDAEMON)
		return rc;
	if (strcmp(code, "refused") == 0 &&
	    json_is_string(json_object_get(edgectl_last_error(), "reason")))
		fprintf(stderr, "edgectl models: verdict %s ('edgectl model verify PKG --trust DIR' "
				"tells the same offline)\n",
			json_string_value(json_object_get(edgectl_last_error(), "reason")));
	else if (strcmp(code, "no_trust") == 0)
		fputs("edgectl models: edged trusts no signing key: put the signers' *.pub files in\n"
		      "ota.trust_dir (see edged.conf(5)) and run 'edgectl reload'\n",
		      stderr);
	else if (strcmp(code, "ambiguous") == 0)
		fputs("edgectl models: the prefix matches several models: give more digits or\n"
		      "NAME@VERSION ('edgectl models list')\n",
		      stderr);
	else if (strcmp(code, "in_use") == 0)
		fputs("edgectl models: an open transfer sends it: 'edgectl ota status', then\n"
		      "'edgectl ota cancel N' or wait for it to finish\n",
		      stderr);
	return rc;
}

/* ---- add */

static int print_added(json_t *r)
{
	json_t *m = json_object_get(r, "model");
	char size[32];

	edgectl_format_bytes(size, sizeof size, edgectl_int(m, "pkg_size"));
	printf("added %s@%s (counter %" JSON_INTEGER_FORMAT ", %s, %" JSON_INTEGER_FORMAT
	       " signature(s))\ndigest %s\n",
	       edgectl_str_or(m, "name", "?"), edgectl_str_or(m, "version", "?"), edgectl_int(m, "counter"), size,
	       edgectl_int(m, "signers"), edgectl_str_or(m, "digest", "-"));
	return EDGECTL_OK;
}

static int models_add(const char *path)
{
	char abs[PATH_MAX];
	struct stat st;
	json_t *args;
	int rc;

	/* edged runs elsewhere (its own cwd): it gets the file's real path. */
	if (!realpath(path, abs) || stat(abs, &st) < 0) {
		fprintf(stderr, "edgectl models add: %s: %s\n", path, strerror(errno));
		return EDGECTL_EDAEMON;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "edgectl models add: %s: not a regular file\n", path);
		return EDGECTL_EDAEMON;
	}
	args = json_pack("{s:s}", "path", abs);
	if (!args) {
		/* JSON carries UTF-8 only (or memory ran out). */
		fprintf(stderr, "edgectl models add: %s: the path is not valid UTF-8\n", path);
		return EDGECTL_EDAEMON;
	}
	rc = explain(edgectl_query("models.add", args, print_added));
	json_decref(args);
	return rc;
}

/* ---- list */

static int print_list(json_t *r)
{
	static const char *const headers[] = { "NAME",    "VERSION", "COUNTER",    "SIZE",
					       "RUNTIME", "ARENA",   "OPS",        "SIGS",
					       "EXPIRES (UTC)", "ADDED (UTC)", "DIGEST" };
	struct edgectl_table *t = edgectl_table_new(11, headers);
	json_t *m, *models = json_object_get(r, "models");
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(models, i, m) {
		char counter[24], size[32], arena[32], ops[16], sigs[16], expires[32], added[32],
			digest[17];

		snprintf(counter, sizeof counter, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "counter"));
		edgectl_format_bytes(size, sizeof size, edgectl_int(m, "size"));
		edgectl_format_bytes(arena, sizeof arena, edgectl_int(m, "arena_bytes"));
		snprintf(ops, sizeof ops, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "n_ops"));
		snprintf(sigs, sizeof sigs, "%" JSON_INTEGER_FORMAT, edgectl_int(m, "signers"));
		edgectl_format_time(expires, sizeof expires, edgectl_int(m, "expires_ms"), "never");
		edgectl_format_time(added, sizeof added, edgectl_int(m, "added_ms"), "-");
		/* 16 digits name it well beyond any fleet's catalogue. */
		snprintf(digest, sizeof digest, "%s", edgectl_str_or(m, "digest", "-"));
		const char *cells[] = { edgectl_str_or(m, "name", "-"), edgectl_str_or(m, "version", "-"), counter,
					size, edgectl_str_or(m, "runtime", "-"), arena, ops, sigs,
					expires, added, digest };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	printf("%zu model(s)\n", json_array_size(models));
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* ---- show */

/* In a model and its manifest, every *_ms field is a time. */
static const char *model_time_field(const char *key)
{
	size_t n = strlen(key);

	if (n <= 3 || strcmp(key + n - 3, "_ms") != 0)
		return NULL;
	return strcmp(key, "expires_ms") == 0 ? "never" : "-";
}

static int print_show(json_t *r)
{
	struct edgectl_table *t = edgectl_table_new(2, NULL);
	json_t *m = json_object_get(r, "model"), *s, *tr;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	/* with its "manifest" object, as manifest.* rows */
	edgectl_table_add_fields(t, "", m, model_time_field);
	json_array_foreach(json_object_get(r, "signers"), i, s) {
		char row[32], text[160];

		snprintf(row, sizeof row, "signer[%zu]", i);
		snprintf(text, sizeof text, "%s %s (%s)", edgectl_str_or(s, "alg", "?"),
			 edgectl_str_or(s, "key_id", "?"),
			 json_is_true(json_object_get(s, "trusted")) ? "trusted" : "not trusted");
		edgectl_table_add(t, (const char *[]){ row, text });
	}
	{
		char text[256] = "none";
		size_t used = 0;

		json_array_foreach(json_object_get(r, "transfers"), i, tr) {
			int w = snprintf(text + used, sizeof text - used, "%s%" JSON_INTEGER_FORMAT,
					 i ? ", " : "", json_integer_value(tr));

			if (w < 0 || (size_t)w >= sizeof text - used) {
				memcpy(text + sizeof text - 4, "...", 4);
				break;
			}
			used += (size_t)w;
		}
		edgectl_table_add(t, (const char *[]){ "open transfers", text });
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* ---- remove, fit */

static int print_removed(json_t *r)
{
	printf("removed %s\n", edgectl_str_or(r, "removed", "?"));
	return EDGECTL_OK;
}

/* The "fit" answer; also ota send's "skipped" list (edgectl.h). */
int edgectl_print_unfit(FILE *out, const char *title, json_t *unfit)
{
	static const char *const headers[] = { "ID", "REASON", "DETAIL" };
	struct edgectl_table *t;
	json_t *u;
	size_t i;
	int rc;

	if (json_array_size(unfit) == 0)
		return EDGECTL_OK;
	t = edgectl_table_new(3, headers);
	if (!t)
		return EDGECTL_EDAEMON;
	fprintf(out, "%s (%zu):\n", title, json_array_size(unfit));
	json_array_foreach(unfit, i, u) {
		const char *cells[] = { edgectl_str_or(u, "id", "?"), edgectl_str_or(u, "reason", "?"),
					edgectl_str_or(u, "detail", "-") };
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, out);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

/* "a, b, c" on one line, as many as fit a screen; the rest counted. */
void edgectl_print_id_list(const char *title, json_t *ids)
{
	json_t *id;
	size_t i, col;

	col = (size_t)printf("%s (%zu):", title, json_array_size(ids));
	json_array_foreach(ids, i, id) {
		const char *s = json_string_value(id);

		if (!s)
			continue;
		if (col + strlen(s) + 2 > 78 && i > 0) {
			fputs("\n ", stdout);
			col = 1;
		}
		col += (size_t)printf(" %s%s", s, i + 1 < json_array_size(ids) ? "," : "");
	}
	if (json_array_size(ids) == 0)
		fputs(" none", stdout);
	putchar('\n');
}

static int print_fit(json_t *r)
{
	edgectl_print_id_list("fit", json_object_get(r, "fit"));
	return edgectl_print_unfit(stdout, "unfit", json_object_get(r, "unfit"));
}

int edgectl_cmd_models(int argc, char **argv)
{
	static const struct {
		const char *verb, *cmd;
		int (*print)(json_t *result);
	} verbs[] = {
		{ "show", "models.show", print_show },
		{ "remove", "models.remove", print_removed },
		{ "fit", "models.fit", print_fit },
	};
	const char *pos[2], *tag = NULL;
	const struct edgectl_opt opts[] = { { "--tag", &tag } };
	json_t *args;
	int npos, rc;

	if (argc < 2) {
		fputs(models_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	rc = edgectl_parse_args(argc, argv, models_usage, opts, 1, pos, 2, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos == 0) {
		fputs(models_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	if (tag && strcmp(pos[0], "fit") != 0) {
		fprintf(stderr, "edgectl models %s: --tag is an option of 'models fit'\n", pos[0]);
		return EDGECTL_EUSAGE;
	}
	if (tag && !edgectl_tag_valid(tag)) {
		fprintf(stderr, "edgectl models fit: --tag: bad tag '%.40s' (1 to 32 of A-Z a-z "
			"0-9 _ . -)\n", tag);
		return EDGECTL_EUSAGE;
	}
	if (strcmp(pos[0], "list") == 0) {
		if (npos != 1) {
			fprintf(stderr, "edgectl models list: unexpected argument '%s'\n", pos[1]);
			return EDGECTL_EUSAGE;
		}
		args = json_object();
		rc = args ? explain(edgectl_query("models.list", args, print_list))
			  : EDGECTL_EDAEMON;
		json_decref(args);
		return rc;
	}
	if (strcmp(pos[0], "add") == 0) {
		if (npos != 2) {
			fprintf(stderr, "edgectl models add: which package? (models add PKG)\n");
			return EDGECTL_EUSAGE;
		}
		return models_add(pos[1]);
	}
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		char what[32];

		if (strcmp(pos[0], verbs[i].verb) != 0)
			continue;
		snprintf(what, sizeof what, "models %s", verbs[i].verb);
		if (npos != 2) {
			fprintf(stderr, "edgectl %s: which model? (%s REF)\n", what, what);
			return EDGECTL_EUSAGE;
		}
		if (edgectl_check_model_ref(what, pos[1]) != EDGECTL_OK)
			return EDGECTL_EUSAGE;
		args = json_pack("{s:s, s:s*}", "model", pos[1], "tag", tag);
		if (!args)
			return EDGECTL_EDAEMON;
		rc = explain(edgectl_query(verbs[i].cmd, args, verbs[i].print));
		json_decref(args);
		return rc;
	}
	fprintf(stderr, "edgectl models: unknown subcommand '%s'\n", pos[0]);
	fputs(models_usage, stderr);
	return EDGECTL_EUSAGE;
}
