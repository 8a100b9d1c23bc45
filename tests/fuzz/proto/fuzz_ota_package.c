/* Fuzz target for signed model packages: the input is fed to the container
 * reader and, whole, to the manifest parser (a package's own manifest is
 * parsed too when the container is accepted).
 *
 * Invariants beyond "no crash, no overread": an accepted container's parts
 * lie inside the input, back to back, and the input ends after the head or
 * after the model; an accepted manifest re-encodes, the encoding parses
 * back to the same struct (doubles bit for bit) and re-encodes to the same
 * bytes; a rejection carries a known reason and a terminated field path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_package.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct edge_ota_manifest man_a, man_b;
/* A canonical manifest may be longer than the one received ("5e-324"). */
static char enc1[2 * EDGE_OTA_MANIFEST_MAX], enc2[2 * EDGE_OTA_MANIFEST_MAX];

static void check_manifest(const void *buf, size_t len)
{
	struct edge_msg_error err;
	int n1, n2;

	if (edge_ota_manifest_parse(buf, len, &man_a, &err) != 0) {
		check_error(&err);
		return;
	}
	CHECK(err.reason == EDGE_MSG_OK);
	CHECK(man_a.n_inputs >= 1 && man_a.n_outputs >= 1 && man_a.selftest_seed != 0);
	n1 = edge_ota_manifest_encode(enc1, sizeof enc1, &man_a);
	CHECK(n1 > 0);
	CHECK(edge_ota_manifest_encode(enc2, (size_t)n1, &man_a) < 0);
	if (n1 > EDGE_OTA_MANIFEST_MAX)
		return; /* valid, but its canonical form is over the limit */
	CHECK(edge_ota_manifest_parse(enc1, (size_t)n1, &man_b, NULL) == 0);
	/* The parser clears the whole struct first, so memcmp is exact. */
	CHECK(memcmp(&man_a, &man_b, sizeof man_a) == 0);
	n2 = edge_ota_manifest_encode(enc2, sizeof enc2, &man_b);
	CHECK(n1 == n2 && memcmp(enc1, enc2, (size_t)n1) == 0);
}

static void check_container(const uint8_t *data, size_t size)
{
	struct edge_ota_container c;
	struct edge_msg_error err;
	size_t head, at;

	if (edge_ota_container_parse(data, size, &c, &err) != 0) {
		check_error(&err);
		return;
	}
	CHECK(c.manifest == data + EDGE_OTA_HEADER_SIZE);
	CHECK(c.manifest_len >= 1 && c.manifest_len <= EDGE_OTA_MANIFEST_MAX);
	CHECK(c.sig_block == c.manifest + c.manifest_len);
	CHECK(c.sig_block_len >= 4 && c.sig_block_len <= EDGE_OTA_SIG_BLOCK_MAX);
	head = EDGE_OTA_HEADER_SIZE + c.manifest_len + c.sig_block_len;
	CHECK(c.model_len >= 1 && c.model_len <= EDGE_OTA_MODEL_MAX);
	if (c.model)
		CHECK(c.model == data + head && size == head + c.model_len);
	else
		CHECK(size == head);
	CHECK(c.n_sigs >= 1 && c.n_sigs <= EDGE_OTA_SIGS_MAX);
	at = 4;
	for (unsigned i = 0; i < c.n_sigs; i++) {
		at += 4 + EDGE_OTA_KEY_ID_LEN;
		CHECK(c.sigs[i].sig == c.sig_block + at);
		CHECK(c.sigs[i].sig_len >= 1 && c.sigs[i].sig_len <= EDGE_OTA_SIG_MAX);
		at += c.sigs[i].sig_len;
	}
	CHECK(at == c.sig_block_len);
	check_manifest(c.manifest, c.manifest_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_container(data, size);
	check_manifest(data, size);
	return 0;
}
