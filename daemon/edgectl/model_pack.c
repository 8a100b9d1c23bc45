/* `edgectl model pack`: a signed model package from a .tflite the engine
 * loads (lib/ota builds the manifest, runs the self-test and signs). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "edge_ota_pack.h"
#include "edge_pki_file.h"
#include "model_tool.h"

#define PACK_USAGE \
	"usage: edgectl model pack MODEL.tflite --name N --version V --counter C\n" \
	"       [--expires DATE] --key K [--key K2 ...] --out PKG\n" \
	"       DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); K: K or K.key\n"

/* UTC date to wall ms; 0 on a malformed date. */
static uint64_t parse_date_ms(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!end || *end)
		return 0;
	time_t t = timegm(&tm);
	return t > 0 ? (uint64_t)t * 1000u : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !end || *end || s[0] == '-' || !s[0])
		return -EINVAL;
	*out = v;
	return 0;
}

static int load_signing_key(const char *k, struct edge_ota_key **out)
{
	char path[4096], err[512] = "";
	struct stat st;
	snprintf(path, sizeof(path), "%s", k);
	if (stat(path, &st) != 0)
		snprintf(path, sizeof(path), "%s.key", k);
	int rc = edge_ota_key_load_private(path, out, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "edgectl model pack: %s\n", err[0] ? err : strerror(-rc));
	return rc;
}

int model_cmd_pack(int argc, char **argv)
{
	const char *model = NULL, *out = NULL, *counter_s = NULL, *expires = NULL;
	struct edge_ota_pack_args a;
	memset(&a, 0, sizeof(a));
	const char *key_names[EDGE_OTA_SIGS_MAX];
	unsigned n_keys = 0;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--name") == 0 && v) {
			a.name = v;
		} else if (strcmp(o, "--version") == 0 && v) {
			a.version = v;
		} else if (strcmp(o, "--counter") == 0 && v) {
			counter_s = v;
		} else if (strcmp(o, "--expires") == 0 && v) {
			expires = v;
		} else if (strcmp(o, "--out") == 0 && v) {
			out = v;
		} else if (strcmp(o, "--key") == 0 && v) {
			if (n_keys == EDGE_OTA_SIGS_MAX) {
				fprintf(stderr, "edgectl model pack: at most %d keys\n", EDGE_OTA_SIGS_MAX);
				return MODEL_EXIT_USAGE;
			}
			key_names[n_keys++] = v;
		} else if (o[0] != '-' && !model) {
			model = o;
			continue;
		} else {
			fputs(PACK_USAGE, stderr);
			return MODEL_EXIT_USAGE;
		}
		i++;
	}
	if (!model || !out || !a.name || !a.version || !counter_s || n_keys == 0 ||
	    parse_u64(counter_s, &a.counter) < 0 || a.counter == 0) {
		fputs(PACK_USAGE, stderr);
		return MODEL_EXIT_USAGE;
	}
	if (expires && (a.expires_ms = parse_date_ms(expires)) == 0) {
		fprintf(stderr, "edgectl model pack: --expires %s: not YYYY-MM-DD[THH:MM:SSZ]\n",
			expires);
		return MODEL_EXIT_USAGE;
	}

	struct edge_ota_key *keys[EDGE_OTA_SIGS_MAX] = { 0 };
	uint8_t *bytes = NULL, *pkg = NULL;
	size_t len = 0, pkg_len = 0;
	int ret = MODEL_EXIT_FAIL;
	for (unsigned i = 0; i < n_keys; i++)
		if (load_signing_key(key_names[i], &keys[i]) < 0)
			goto out;
	int rc = model_read_file(model, EDGE_OTA_MODEL_MAX, &bytes, &len);
	if (rc < 0) {
		fprintf(stderr, "edgectl model pack: %s: %s\n", model, strerror(-rc));
		goto out;
	}
	char err[512] = "";
	struct edge_ota_manifest m;
	rc = edge_ota_pack(bytes, len, &a, keys, n_keys, &pkg, &pkg_len, &m, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "edgectl model pack: %s: %s\n", model, err[0] ? err : "failed");
		goto out;
	}
	rc = edge_pki_write_file(out, pkg, pkg_len, 0644, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "edgectl model pack: %s\n", err);
		goto out;
	}
	printf("%s: %s %s counter %" PRIu64 ", %zu model bytes, sha256 %s, %u signature(s), "
	       "self-test seed %" PRIu32 "\n",
	       out, m.name, m.version, m.counter, len, m.sha256, n_keys, m.selftest_seed);
	ret = MODEL_EXIT_OK;
out:
	for (unsigned i = 0; i < n_keys; i++)
		edge_ota_key_free(keys[i]);
	free(bytes);
	free(pkg);
	return ret;
}
