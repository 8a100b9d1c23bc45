/* `edgectl keys generate|show`: model-signing keys (offline, no daemon).
 * The key id is the SHA-256 of the DER SubjectPublicKeyInfo, as a signed
 * package's signature entries carry it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "edge_ota_keys.h"
#include "edgectl.h"
#include "model_tool.h"

static const char keys_usage_text[] =
	"usage: edgectl keys generate --type ed25519|p256 --out NAME\n"
	"       edgectl keys show NAME|FILE [--json]\n"
	"\n"
	"generate  write NAME.key (private, mode 0600) and NAME.pub (public); never overwrites\n"
	"show      algorithm and key id (SHA-256 of the DER public key) of NAME.pub, NAME.key or FILE\n";

static int keys_generate(int argc, char **argv)
{
	const char *type = NULL, *out = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
			type = argv[++i];
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else {
			fputs(keys_usage_text, stderr);
			return MODEL_EXIT_USAGE;
		}
	}
	int alg = type ? edge_ota_alg_from_name(type) : 0;
	if (!alg || !out || !*out) {
		fputs(keys_usage_text, stderr);
		return MODEL_EXIT_USAGE;
	}
	struct edge_ota_key *k = NULL;
	char err[512] = "";
	int rc = edge_ota_key_generate(alg, &k, err, sizeof(err));
	if (rc == 0)
		rc = edge_ota_key_save(k, out, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "edgectl keys: %s\n", err[0] ? err : strerror(-rc));
		edge_ota_key_free(k);
		return MODEL_EXIT_FAIL;
	}
	char id[2 * EDGE_OTA_KEY_ID_LEN + 1];
	edge_ota_hex(edge_ota_key_id(k), EDGE_OTA_KEY_ID_LEN, id);
	printf("%s.key %s.pub %s %s\n", out, out, edge_ota_alg_name(alg), id);
	edge_ota_key_free(k);
	return MODEL_EXIT_OK;
}

static int keys_show(int argc, char **argv)
{
	const char *name = NULL;
	int as_json = edgectl_globals.json;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (argv[i][0] == '-' || name) {
			fputs(keys_usage_text, stderr);
			return MODEL_EXIT_USAGE;
		} else {
			name = argv[i];
		}
	}
	if (!name) {
		fputs(keys_usage_text, stderr);
		return MODEL_EXIT_USAGE;
	}
	/* NAME means NAME.pub, else NAME.key; an existing FILE is taken as is. */
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s", name);
	if (stat(path, &st) != 0) {
		snprintf(path, sizeof(path), "%s.pub", name);
		if (stat(path, &st) != 0)
			snprintf(path, sizeof(path), "%s.key", name);
	}
	struct edge_ota_key *k = NULL;
	char err[512] = "";
	int rc = edge_ota_key_load_private(path, &k, err, sizeof(err));
	if (rc < 0)
		rc = edge_ota_key_load_public(path, &k, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "edgectl keys: %s\n", err[0] ? err : strerror(-rc));
		return MODEL_EXIT_FAIL;
	}
	char id[2 * EDGE_OTA_KEY_ID_LEN + 1];
	edge_ota_hex(edge_ota_key_id(k), EDGE_OTA_KEY_ID_LEN, id);
	const char *alg = edge_ota_alg_name(edge_ota_key_alg(k));
	if (as_json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "file", path, "type", alg, "key_id", id,
				      "private", edge_ota_key_has_private(k));
		edgectl_print_json(o);
		json_decref(o);
	} else {
		printf("file:    %s\ntype:    %s\nkey id:  %s\nprivate: %s\n", path, alg, id,
		       edge_ota_key_has_private(k) ? "yes" : "no");
	}
	edge_ota_key_free(k);
	return MODEL_EXIT_OK;
}

int edgectl_cmd_keys(int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "keys") == 0) {
		argc--;
		argv++;
	}
	if (argc < 1) {
		fputs(keys_usage_text, stderr);
		return MODEL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "generate") == 0)
		return keys_generate(argc - 1, argv + 1);
	if (strcmp(argv[0], "show") == 0)
		return keys_show(argc - 1, argv + 1);
	if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		fputs(keys_usage_text, stdout);
		return MODEL_EXIT_OK;
	}
	fprintf(stderr, "edgectl keys: unknown subcommand '%s'\n", argv[0]);
	fputs(keys_usage_text, stderr);
	return MODEL_EXIT_USAGE;
}
