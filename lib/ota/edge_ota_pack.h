/* Building a signed model package (proto/edge_ota_package.h): the manifest
 * is filled from what our verifying loader (lib/infer) reads in the model,
 * the golden self-test is run on our engine, the manifest bytes are signed
 * with every key and the container is assembled.
 *
 * Threading: reentrant; runs the model once (offline tool, not the loop). */
#ifndef EDGE_OTA_PACK_H
#define EDGE_OTA_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_ota_keys.h"
#include "edge_ota_package.h"

struct edge_ota_pack_args {
	const char *name;      /* token */
	const char *version;   /* token */
	uint64_t counter;      /* 1 .. 2^53-1 */
	uint64_t expires_ms;   /* 0: never */
	uint32_t seed;         /* self-test seed; 0: random */
};

/* Fill m from the model: size, SHA-256, runtime "tflm", op names (each
 * once, first use order), arena bytes, input/output specs, and the
 * self-test (seed, SHA-256 of output 0 on edge_ota_selftest_input in
 * input 0, other inputs zero, reference kernels). Returns 0, -EINVAL (an
 * argument breaks a manifest rule), EDGE_INFER_E* when the engine refuses
 * the model (message in err), -ENOTSUP (more ops/tensors/rank than a
 * manifest carries, or per-channel quantised graph input/output). */
int edge_ota_manifest_from_model(const void *model, size_t len,
				 const struct edge_ota_pack_args *a,
				 struct edge_ota_manifest *m, char *err, size_t errlen) EDGE_WUR;

/* The golden self-test on the model bytes model[0..len): load with lib/infer,
 * input 0 from edge_ota_selftest_input(seed), other inputs zero, one invoke
 * with the reference kernels, SHA-256 of output 0's bytes into out. Packing
 * and the simulated nodes both run this, so their hashes cannot differ.
 * 0, EDGE_INFER_E* (the engine refused or failed; message in err), -EIO. */
int edge_ota_selftest_run(const void *model, size_t len, uint32_t seed, uint8_t out[32],
			  char *err, size_t errlen) EDGE_WUR;

/* One signature to place in a container. */
struct edge_ota_sig_in {
	uint8_t alg;
	uint8_t key_id[EDGE_OTA_KEY_ID_LEN];
	uint8_t sig[EDGE_OTA_SIG_MAX];
	size_t sig_len;
};

/* Container of the given parts (n_sigs may be 0 only to build refusal
 * tests: such a package is "unsigned"). New malloc'd buffer in *out.
 * 0, -EINVAL (a size outside the format's bounds), -ENOMEM. */
int edge_ota_assemble(const void *manifest, size_t manifest_len,
		      const struct edge_ota_sig_in *sigs, unsigned n_sigs,
		      const void *model, size_t model_len, uint8_t **out, size_t *out_len) EDGE_WUR;

/* The whole packing: manifest_from_model, encode, sign with each of keys
 * (1 .. EDGE_OTA_SIGS_MAX private keys, distinct), assemble. m (may be
 * NULL) gets the manifest. 0 or an error as above (message in err). */
int edge_ota_pack(const void *model, size_t len, const struct edge_ota_pack_args *a,
		  struct edge_ota_key *const *keys, unsigned n_keys, uint8_t **out,
		  size_t *out_len, struct edge_ota_manifest *m, char *err, size_t errlen) EDGE_WUR;

#endif
