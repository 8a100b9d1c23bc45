/* `edgectl model verify PKG --trust DIR` and the package view of `model
 * inspect`: both are lib/ota's edge_ota_verify, the check the gateway's
 * model store makes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge_ota_verify.h"
#include "edgectl.h"
#include "model_tool.h"

#define VERIFY_USAGE "usage: edgectl model verify PKG --trust DIR [--threshold K] [--json]\n"
#define PKG_MAX ((size_t)EDGE_OTA_HEADER_SIZE + EDGE_OTA_MANIFEST_MAX + EDGE_OTA_SIG_BLOCK_MAX + \
		 EDGE_OTA_MODEL_MAX)

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool model_is_package(const char *path)
{
	char magic[8];
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	bool yes = fread(magic, 1, 8, f) == 8 && memcmp(magic, EDGE_OTA_MAGIC, 8) == 0;
	fclose(f);
	return yes;
}

static json_t *tensors_json(const struct edge_ota_tensor *t, unsigned n)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++) {
		json_t *s = json_array();
		for (unsigned d = 0; d < t[i].rank; d++)
			json_array_append_new(s, json_integer(t[i].shape[d]));
		json_array_append_new(a, json_pack("{s:s, s:o, s:f, s:I}", "type", t[i].type,
						   "shape", s, "scale", t[i].scale, "zero_point",
						   (json_int_t)t[i].zero_point));
	}
	return a;
}

static json_t *result_json(const char *path, const struct edge_ota_verify_result *r, bool trust)
{
	json_t *o = json_object();
	json_object_set_new(o, "file", json_string(path));
	if (trust) {
		json_object_set_new(o, "verdict", json_string(edge_ota_verdict_name(r->verdict)));
		json_object_set_new(o, "detail", json_string(r->detail));
	}
	if (r->manifest_ok) {
		const struct edge_ota_manifest *m = &r->manifest;
		json_t *ops = json_array();
		for (unsigned i = 0; i < m->n_ops; i++)
			json_array_append_new(ops, json_string(m->ops[i]));
		json_object_set_new(o, "manifest", json_pack(
			"{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:I, s:o, s:o, s:I, s:{s:I, s:s}}",
			"name", m->name, "version", m->version, "counter", (json_int_t)m->counter,
			"size", (json_int_t)m->size, "sha256", m->sha256, "runtime", m->runtime,
			"ops", ops, "arena_bytes", (json_int_t)m->arena_bytes,
			"inputs", tensors_json(m->inputs, m->n_inputs),
			"outputs", tensors_json(m->outputs, m->n_outputs),
			"expires_ms", (json_int_t)m->expires_ms,
			"selftest", "seed", (json_int_t)m->selftest_seed,
			"output_sha256", m->selftest_output_sha256));
	} else {
		json_object_set_new(o, "manifest", json_null());
	}
	json_t *sigs = json_array();
	for (unsigned i = 0; i < r->n_sigs; i++) {
		char id[2 * EDGE_OTA_KEY_ID_LEN + 1];
		edge_ota_hex(r->sigs[i].key_id, EDGE_OTA_KEY_ID_LEN, id);
		json_t *s = json_pack("{s:s, s:s}", "algorithm", edge_ota_alg_name(r->sigs[i].alg),
				      "key_id", id);
		if (trust) {
			json_object_set_new(s, "trusted", json_boolean(r->sigs[i].trusted));
			json_object_set_new(s, "valid", json_boolean(r->sigs[i].valid));
		}
		json_array_append_new(sigs, s);
	}
	json_object_set_new(o, "signatures", sigs);
	return o;
}

static void print_tensors(const char *what, const struct edge_ota_tensor *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char shape[128];
		int32_t dims[EDGE_OTA_RANK_MAX];
		memcpy(dims, t[i].shape, sizeof(dims));
		printf("%-12s %s %s scale %.9g zp %" PRId64 "\n", i ? "" : what, t[i].type,
		       model_shape_str(dims, (int)t[i].rank, shape, sizeof(shape)), t[i].scale,
		       t[i].zero_point);
	}
}

static void result_text(const char *path, const struct edge_ota_verify_result *r, bool trust)
{
	printf("package:     %s\n", path);
	if (r->manifest_ok) {
		const struct edge_ota_manifest *m = &r->manifest;
		printf("name:        %s\nversion:     %s\ncounter:     %" PRIu64 "\n", m->name,
		       m->version, m->counter);
		printf("size:        %" PRIu64 " bytes\nsha256:      %s\nruntime:     %s\n", m->size,
		       m->sha256, m->runtime);
		printf("ops:        ");
		for (unsigned i = 0; i < m->n_ops; i++)
			printf(" %s", m->ops[i]);
		printf("\narena:       %" PRIu64 " bytes\n", m->arena_bytes);
		print_tensors("inputs:", m->inputs, m->n_inputs);
		print_tensors("outputs:", m->outputs, m->n_outputs);
		if (m->expires_ms) {
			time_t t = (time_t)(m->expires_ms / 1000u);
			struct tm tm;
			char when[32] = "?";
			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("expires:     %s (%" PRIu64 " ms)\n", when, m->expires_ms);
		} else
			printf("expires:     never\n");
		printf("self-test:   seed %" PRIu32 " output sha256 %s\n", m->selftest_seed,
		       m->selftest_output_sha256);
	} else {
		printf("manifest:    unreadable\n");
	}
	printf("signatures (%u):\n", r->n_sigs);
	for (unsigned i = 0; i < r->n_sigs; i++) {
		char id[2 * EDGE_OTA_KEY_ID_LEN + 1];
		edge_ota_hex(r->sigs[i].key_id, EDGE_OTA_KEY_ID_LEN, id);
		printf("  %-8s %s", edge_ota_alg_name(r->sigs[i].alg), id);
		if (trust)
			printf("  %s", !r->sigs[i].trusted ? "unknown key"
				       : r->sigs[i].valid   ? "valid"
							    : "INVALID");
		printf("\n");
	}
	if (trust)
		printf("verdict:     %s (%s)\n", edge_ota_verdict_name(r->verdict), r->detail);
}

/* Read, load the trust set, verify. 0, or an exit code after a message. */
static int run_verify(const char *cmd, const char *path, const char *trust_dir,
		      unsigned threshold, struct edge_ota_verify_result *r)
{
	uint8_t *pkg = NULL;
	size_t len = 0;
	int rc = model_read_file(path, PKG_MAX, &pkg, &len);
	if (rc < 0) {
		fprintf(stderr, "edgectl model %s: %s: %s\n", cmd, path, strerror(-rc));
		return MODEL_EXIT_FAIL;
	}
	struct edge_ota_trust t;
	edge_ota_trust_init(&t);
	char err[512] = "";
	if (trust_dir && (rc = edge_ota_trust_load_dir(&t, trust_dir, err, sizeof(err))) < 0) {
		fprintf(stderr, "edgectl model %s: trust: %s\n", cmd, err[0] ? err : strerror(-rc));
		free(pkg);
		return MODEL_EXIT_FAIL;
	}
	rc = edge_ota_verify(pkg, len, trust_dir ? &t : NULL, threshold, now_ms(), r);
	edge_ota_trust_clear(&t);
	free(pkg);
	if (rc < 0) {
		fprintf(stderr, "edgectl model %s: %s: %s\n", cmd, path, strerror(-rc));
		return MODEL_EXIT_FAIL;
	}
	return 0;
}

int model_package_inspect(const char *path, const char *trust_dir, int as_json)
{
	struct edge_ota_verify_result *r = malloc(sizeof(*r));
	if (!r)
		return MODEL_EXIT_FAIL;
	int rc = run_verify("inspect", path, trust_dir, 1, r);
	if (rc == 0) {
		if (as_json) {
			json_t *o = result_json(path, r, trust_dir != NULL);
			edgectl_print_json(o);
			json_decref(o);
		} else {
			result_text(path, r, trust_dir != NULL);
		}
		/* Inspection shows a package; without --trust that is success. */
		if (!r->manifest_ok || (trust_dir && r->verdict != EDGE_OTA_OK))
			rc = MODEL_EXIT_FAIL;
	}
	free(r);
	return rc;
}

int model_cmd_verify(int argc, char **argv)
{
	const char *path = NULL, *trust = NULL;
	unsigned long threshold = 1;
	int as_json = edgectl_globals.json;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strcmp(argv[i], "--trust") == 0 && i + 1 < argc) {
			trust = argv[++i];
		} else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) {
			char *end = NULL;
			threshold = strtoul(argv[++i], &end, 10);
			if (!end || *end || threshold < 1 || threshold > EDGE_OTA_SIGS_MAX) {
				fprintf(stderr, "edgectl model verify: --threshold: 1 .. %d\n",
					EDGE_OTA_SIGS_MAX);
				return MODEL_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' || path) {
			fputs(VERIFY_USAGE, stderr);
			return MODEL_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path || !trust) {
		fputs(VERIFY_USAGE, stderr);
		return MODEL_EXIT_USAGE;
	}
	struct edge_ota_verify_result *r = malloc(sizeof(*r));
	if (!r)
		return MODEL_EXIT_FAIL;
	int rc = run_verify("verify", path, trust, (unsigned)threshold, r);
	if (rc == 0) {
		if (as_json) {
			json_t *o = result_json(path, r, true);
			edgectl_print_json(o);
			json_decref(o);
		} else if (r->verdict == EDGE_OTA_OK) {
			printf("%s: ok: %s %s counter %" PRIu64 " (%s)\n", path, r->manifest.name,
			       r->manifest.version, r->manifest.counter, r->detail);
		}
		if (r->verdict != EDGE_OTA_OK) {
			fprintf(stderr, "edgectl model verify: %s: %s: %s\n", path,
				edge_ota_verdict_name(r->verdict), r->detail);
			rc = MODEL_EXIT_FAIL;
		}
	}
	free(r);
	return rc;
}
