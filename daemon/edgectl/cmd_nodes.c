/* edgectl nodes: the nodes' broker identities, kept by edged.
 *
 *   nodes [list] [--state active|revoked]
 *   nodes provision ID... [--ids-from FILE] [--tls-cert] [--rotate] [--out PATH]
 *   nodes revoke ID
 *
 * A node's secret exists only in the answer to its provisioning (edged keeps
 * a hash, or the certificate's serial): edgectl turns it into the bundle a
 * firmware engineer flashes (bundle.c) and prints or writes it. Where the
 * bundles go is checked before edged is asked, so a secret is never created
 * with nowhere to put it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "edgectl.h"
#include "table.h"

/* Ids per nodes.provision request: edged's limit (a request of 256 ids
 * stays far below the control socket's 64 KiB). */
#define PROVISION_BATCH 256
/* Most ids one command takes (the registry's ceiling). */
#define PROVISION_MAX 1000000

static const char nodes_usage[] =
	"Usage: edgectl nodes [list] [--state active|revoked] [--json]\n"
	"       edgectl nodes provision ID... [--ids-from FILE] [--tls-cert] [--rotate]\n"
	"                               [--out PATH] [--json]\n"
	"       edgectl nodes revoke ID [--json]\n"
	"\n"
	"The nodes' identities on the broker, which edged keeps (broker.identity_dir).\n"
	"\n"
	"provision  creates each node's broker identity: a password, or with\n"
	"           --tls-cert a client certificate (CN = id) signed by the gateway\n"
	"           CA, for mutual TLS. Prints the bundle to flash (broker address,\n"
	"           CA certificate, credentials, node id) or writes it with --out:\n"
	"           a directory gets ID.json (mode 0600) per node, and for\n"
	"           certificate nodes ID.crt, ID.key (0600) and ca.crt; a file\n"
	"           (one node) gets the bundle. The secret is shown only now: edged\n"
	"           keeps a hash. An id that has an identity is refused unless\n"
	"           --rotate, which replaces its secret (the old one stops working)\n"
	"           and reinstates a revoked node. --ids-from FILE reads ids, one\n"
	"           per line ('-' = stdin).\n"
	"revoke     the node can no longer connect (its live session is ended), its\n"
	"           retained messages are cleared, and the registry keeps it marked\n"
	"           revoked. Logged with your uid.\n"
	"\n"
	"Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 edged not running,\n"
	"4 not authorised (provision and revoke need the admin role).\n";

/* null (never rotated, not revoked) reads "-". */
static void format_time(char *buf, size_t cap, json_t *ms)
{
	edgectl_format_time(buf, cap, json_integer_value(ms), "-");
}

static const char *text_or_dash(json_t *v)
{
	const char *s = json_string_value(v);

	return s && s[0] ? s : "-";
}

static int print_list(json_t *r)
{
	static const char *const headers[] = { "ID",      "KIND",          "STATE",
					       "CREATED (UTC)", "ROTATED (UTC)", "REVOKED (UTC)",
					       "CERT SERIAL" };
	struct edgectl_table *t = edgectl_table_new(7, headers);
	json_t *n;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	json_array_foreach(json_object_get(r, "nodes"), i, n) {
		char created[32], rotated[32], revoked[32];

		format_time(created, sizeof created, json_object_get(n, "created"));
		format_time(rotated, sizeof rotated, json_object_get(n, "rotated"));
		format_time(revoked, sizeof revoked, json_object_get(n, "revoked"));
		const char *cells[] = {
			text_or_dash(json_object_get(n, "id")),
			text_or_dash(json_object_get(n, "kind")),
			text_or_dash(json_object_get(n, "state")),
			created,
			rotated,
			revoked,
			text_or_dash(json_object_get(n, "serial")),
		};
		edgectl_table_add(t, cells);
	}
	rc = edgectl_table_print(t, stdout);
	printf("%" JSON_INTEGER_FORMAT " active, %" JSON_INTEGER_FORMAT " revoked\n",
	       json_integer_value(json_object_get(r, "active")),
	       json_integer_value(json_object_get(r, "revoked")));
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

static int nodes_list(int argc, char **argv)
{
	const char *state = NULL, *pos[1];
	const struct edgectl_opt opts[] = { { "--state", &state } };
	json_t *args;
	int npos, rc = edgectl_parse_args(argc, argv, nodes_usage, opts, 1, pos, 1, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if ((npos == 1 && strcmp(pos[0], "list") != 0) ||
	    (state && strcmp(state, "active") != 0 && strcmp(state, "revoked") != 0)) {
		fputs(nodes_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	args = state ? json_pack("{s:s}", "state", state) : json_object();
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query("nodes", args, print_list);
	json_decref(args);
	return rc;
}

/* ---- revoke ---- */

static int print_revoked(json_t *r)
{
	const char *id = json_string_value(json_object_get(r, "id"));

	if (json_is_true(json_object_get(r, "already"))) {
		printf("%s was already revoked\n", id);
		return EDGECTL_OK;
	}
	printf("revoked %s (%s%s%s); %" JSON_INTEGER_FORMAT " retained topic(s) cleared; "
	       "registry: %s; broker %s\n",
	       id, text_or_dash(json_object_get(r, "kind")),
	       json_is_string(json_object_get(r, "serial")) ? ", certificate serial " : "",
	       json_is_string(json_object_get(r, "serial"))
		       ? json_string_value(json_object_get(r, "serial"))
		       : "",
	       json_integer_value(json_object_get(r, "retained_cleared")),
	       json_is_string(json_object_get(r, "registry"))
		       ? json_string_value(json_object_get(r, "registry"))
		       : "no entry",
	       json_is_true(json_object_get(r, "broker_reloaded"))
		       ? "reloaded"
		       : "reload requested (edged-broker-reload.path)");
	return EDGECTL_OK;
}

static int nodes_revoke(int argc, char **argv)
{
	const char *pos[2];
	json_t *args;
	int npos, rc = edgectl_parse_args(argc, argv, nodes_usage, NULL, 0, pos, 2, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (npos != 2) {
		fputs(nodes_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	args = json_pack("{s:s}", "id", pos[1]);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_query("nodes.revoke", args, print_revoked);
	json_decref(args);
	return rc;
}

/* ---- provision ---- */

struct provision {
	json_t *ids;         /* every id asked for, in order */
	bool tls_cert, rotate;
	const char *out;     /* NULL: stdout */
	bool out_is_dir;
	json_t *merged;      /* the answers as one result (--json) */
	size_t written;      /* bundles written or printed */
};

static int add_ids_from(struct provision *p, const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char line[256];
	int rc = EDGECTL_OK;

	if (!f) {
		fprintf(stderr, "edgectl nodes provision: %s: %s\n", file, strerror(errno));
		return EDGECTL_EUSAGE;
	}
	while (fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, "\r\n");

		if (line[n] == '\0' && !feof(f)) {
			fprintf(stderr, "edgectl nodes provision: %s: line too long\n", file);
			rc = EDGECTL_EUSAGE;
			break;
		}
		line[n] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (json_array_append_new(p->ids, json_string(line)) < 0) {
			rc = EDGECTL_EDAEMON;
			break;
		}
	}
	if (rc == EDGECTL_OK && ferror(f)) {
		fprintf(stderr, "edgectl nodes provision: %s: read error\n", file);
		rc = EDGECTL_EUSAGE;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Where the bundles go must be usable before any secret exists. */
static int check_out(struct provision *p)
{
	struct stat st;

	if (!p->out)
		return EDGECTL_OK;
	if (stat(p->out, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (access(p->out, W_OK | X_OK) != 0) {
			fprintf(stderr, "edgectl nodes provision: cannot write into %s: %s\n",
				p->out, strerror(errno));
			return EDGECTL_EUSAGE;
		}
		p->out_is_dir = true;
		return EDGECTL_OK;
	}
	if (json_array_size(p->ids) != 1) {
		fprintf(stderr, "edgectl nodes provision: --out %s must be an existing directory "
				"for several nodes\n", p->out);
		return EDGECTL_EUSAGE;
	}
	return EDGECTL_OK;
}

static int emit_node(struct provision *p, json_t *answer, json_t *node)
{
	json_t *bundle = edgectl_bundle_new(answer, node);
	int rc;

	if (!bundle) {
		fprintf(stderr, "edgectl nodes provision: edged's answer for %s is incomplete\n",
			text_or_dash(json_object_get(node, "id")));
		return EDGECTL_EDAEMON;
	}
	if (!p->out) {
		size_t flags = json_array_size(p->ids) == 1 ? JSON_INDENT(2) : JSON_COMPACT;

		rc = json_dumpf(bundle, stdout, flags | JSON_PRESERVE_ORDER) == 0 &&
				     fputc('\n', stdout) != EOF
			     ? EDGECTL_OK
			     : EDGECTL_EDAEMON;
	} else {
		rc = p->out_is_dir ? edgectl_bundle_write_dir(bundle, p->out)
				   : edgectl_bundle_write_file(bundle, p->out);
	}
	json_decref(bundle);
	if (rc == EDGECTL_OK)
		p->written++;
	return rc;
}

static int merge(struct provision *p, json_t *answer)
{
	json_t *nodes = json_object_get(answer, "nodes");

	if (!p->merged) {
		p->merged = json_deep_copy(answer);
		return p->merged ? EDGECTL_OK : EDGECTL_EDAEMON;
	}
	if (json_array_extend(json_object_get(p->merged, "nodes"), nodes) < 0)
		return EDGECTL_EDAEMON;
	/* The reload state of the last request is the current one. */
	json_object_set(p->merged, "broker_reloaded", json_object_get(answer, "broker_reloaded"));
	return EDGECTL_OK;
}

static int provision_batch(struct provision *p, size_t from, size_t n)
{
	json_t *ids = json_array(), *args, *answer = NULL, *node;
	size_t i;
	int rc;

	if (!ids)
		return EDGECTL_EDAEMON;
	for (i = from; i < from + n; i++)
		json_array_append(ids, json_array_get(p->ids, i));
	args = json_pack("{s:o, s:b, s:b}", "ids", ids, "tls_cert", p->tls_cert, "rotate",
			 p->rotate);
	if (!args)
		return EDGECTL_EDAEMON;
	rc = edgectl_call("nodes.provision", args, &answer);
	json_decref(args);
	if (rc != EDGECTL_OK)
		return rc;
	if (edgectl_globals.json && !p->out) {
		rc = merge(p, answer);
	} else {
		json_array_foreach(json_object_get(answer, "nodes"), i, node) {
			rc = emit_node(p, answer, node);
			if (rc != EDGECTL_OK) {
				fprintf(stderr, "edgectl nodes provision: %s is provisioned but its "
						"bundle was not written; its secret is lost: provision "
						"it again with --rotate\n",
					text_or_dash(json_object_get(node, "id")));
				break;
			}
		}
	}
	json_decref(answer);
	return rc;
}

static int nodes_provision(int argc, char **argv)
{
	struct provision p = { .ids = json_array() };
	bool verb_seen = false;
	int rc = EDGECTL_OK;
	size_t total;

	if (!p.ids)
		return EDGECTL_EDAEMON;
	/* Flags and many positional ids: parsed here, not by the common
	 * parser (which takes a bounded number of positionals). */
	for (int i = 1; i < argc && rc == EDGECTL_OK; i++) {
		const char *a = argv[i];

		if (!verb_seen && strcmp(a, "provision") == 0) {
			verb_seen = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(nodes_usage, stdout);
			json_decref(p.ids);
			return EDGECTL_OK;
		} else if (strcmp(a, "--json") == 0) {
			edgectl_globals.json = true;
		} else if (strcmp(a, "--tls-cert") == 0) {
			p.tls_cert = true;
		} else if (strcmp(a, "--rotate") == 0) {
			p.rotate = true;
		} else if (strcmp(a, "--out") == 0 || strcmp(a, "--ids-from") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "edgectl nodes provision: %s needs a value\n", a);
				rc = EDGECTL_EUSAGE;
			} else if (strcmp(a, "--out") == 0) {
				p.out = argv[++i];
			} else {
				rc = add_ids_from(&p, argv[++i]);
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "edgectl nodes provision: unknown option %s\n", a);
			rc = EDGECTL_EUSAGE;
		} else if (json_array_append_new(p.ids, json_string(a)) < 0) {
			rc = EDGECTL_EDAEMON;
		}
	}
	total = json_array_size(p.ids);
	if (rc == EDGECTL_OK && (total == 0 || total > PROVISION_MAX)) {
		fprintf(stderr, "edgectl nodes provision: give 1..%d node ids\n", PROVISION_MAX);
		rc = EDGECTL_EUSAGE;
	}
	if (rc == EDGECTL_EUSAGE)
		fputs(nodes_usage, stderr);
	if (rc == EDGECTL_OK)
		rc = check_out(&p);
	/* Batches in order: a refusal (e.g. an id that exists) stops at the
	 * batch it is in; the batches before it are provisioned and said so. */
	for (size_t from = 0; rc == EDGECTL_OK && from < total; from += PROVISION_BATCH) {
		size_t n = total - from < PROVISION_BATCH ? total - from : PROVISION_BATCH;

		rc = provision_batch(&p, from, n);
		if (rc != EDGECTL_OK && from > 0)
			fprintf(stderr, "edgectl nodes provision: the first %zu node(s) were "
					"provisioned before the failure\n", from);
	}
	if (rc == EDGECTL_OK && p.out_is_dir && edgectl_bundle_sync(p.out) < 0) {
		fprintf(stderr, "edgectl nodes provision: cannot flush %s: %s\n", p.out,
			strerror(errno));
		rc = EDGECTL_EDAEMON;
	}
	if (rc == EDGECTL_OK && p.merged)
		rc = edgectl_print_json(p.merged);
	else if (rc == EDGECTL_OK && p.out)
		printf("provisioned %zu node(s)%s; bundles in %s\n", p.written,
		       p.rotate ? " (secrets rotated where they existed)" : "", p.out);
	json_decref(p.merged);
	json_decref(p.ids);
	return rc;
}

int edgectl_cmd_nodes(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "provision") == 0)
			return nodes_provision(argc, argv);
		if (strcmp(argv[i], "revoke") == 0)
			return nodes_revoke(argc, argv);
		break;
	}
	return nodes_list(argc, argv);
}
