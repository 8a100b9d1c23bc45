/* Signed model packages (proto/ota/package.md is the normative text): the
 * container, the manifest and the golden self-test's input, shared by the
 * gateway (lib/ota, edgectl) and the node (the device SDK). C99, libc only,
 * no allocation: every output is a caller-provided struct or buffer.
 *
 * A package is one file (all integers little-endian):
 *
 *   offset size
 *   0      8    magic "EDGEPKG1"
 *   8      2    format version (1)
 *   10     2    header size (EDGE_OTA_HEADER_SIZE = 32)
 *   12     4    manifest size M (1 .. EDGE_OTA_MANIFEST_MAX)
 *   16     4    signature block size S (4 .. EDGE_OTA_SIG_BLOCK_MAX)
 *   20     8    model size N (1 .. EDGE_OTA_MODEL_MAX)
 *   28     4    CRC-32C of bytes 0..27 (the whole header before it)
 *   32     M    manifest: UTF-8 JSON (below); these exact bytes are signed
 *   32+M   S    signature block: u8 count (1 .. EDGE_OTA_SIGS_MAX), 3 bytes 0,
 *               then per signature: u8 algorithm (1 Ed25519, 2 ECDSA P-256
 *               with SHA-256, DER), u8 0, u16 signature length, 32-byte key
 *               id (SHA-256 of the DER SubjectPublicKeyInfo), the signature
 *   32+M+S N    the model (.tflite); its size and SHA-256 are in the manifest
 *
 * The manifest (JSON object; unknown keys are ignored, duplicates refused):
 *   "format": 1, "name": token, "version": token, "counter": 1 .. 2^53-1
 *   (security counter: anti-rollback per name), "size": N, "sha256": hex,
 *   "runtime": token (e.g. "tflm"), "ops": [op names], "arena_bytes",
 *   "inputs"/"outputs": [{"type": "int8", "shape": [dims], "scale": number,
 *   "zero_point": integer}], "expires_ms": wall ms (0 or absent: never),
 *   "selftest": {"seed": 1 .. 2^32-1, "output_sha256": hex}.
 * The self-test input is not carried: both sides generate it from the seed
 * (edge_ota_selftest_input), so a manifest stays small enough for a node to
 * parse; the node runs the model on it and hashes output 0's bytes. */
#ifndef EDGE_OTA_PACKAGE_H
#define EDGE_OTA_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_msg_reject.h"
#include "edge_node_msg.h"
#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_OTA_MAGIC "EDGEPKG1"
#define EDGE_OTA_FORMAT 1
#define EDGE_OTA_HEADER_SIZE 32
#define EDGE_OTA_MANIFEST_MAX 4096
#define EDGE_OTA_SIGS_MAX 8
#define EDGE_OTA_SIG_MAX 72          /* DER ECDSA P-256 at most; Ed25519: 64 */
#define EDGE_OTA_SIG_BLOCK_MAX (4 + EDGE_OTA_SIGS_MAX * (4 + 32 + EDGE_OTA_SIG_MAX))
#define EDGE_OTA_MODEL_MAX (64u * 1024u * 1024u)
#define EDGE_OTA_OPS_MAX 64
#define EDGE_OTA_TENSORS_MAX 4
#define EDGE_OTA_RANK_MAX 6
#define EDGE_OTA_KEY_ID_LEN 32

enum edge_ota_sig_alg {
	EDGE_OTA_SIG_ED25519 = 1,
	EDGE_OTA_SIG_ECDSA_P256 = 2,
};

/* Where the parts of a package are; pointers into the caller's buffer. */
struct edge_ota_container {
	const uint8_t *manifest;
	size_t manifest_len;
	const uint8_t *sig_block;
	size_t sig_block_len;
	const uint8_t *model;        /* NULL when only the head was given */
	uint64_t model_len;
	unsigned n_sigs;
	struct edge_ota_sig {
		uint8_t alg;             /* enum edge_ota_sig_alg */
		uint8_t key_id[EDGE_OTA_KEY_ID_LEN];
		const uint8_t *sig;
		size_t sig_len;
	} sigs[EDGE_OTA_SIGS_MAX];
};

/* Reads buf[0..len): the header, the manifest's and the signature block's
 * extent, the signature entries. len may end before the model (a node
 * that has the head only: model is then NULL); more bytes than the header
 * says is refused. 0 or -EPROTO with *err (reason, field) as edge_node_msg.h.
 * Reasons: bad_magic, unsupported_version, bad_header (sizes, CRC),
 * truncated, too_large, bad_signature_block, trailing_bytes. */
int edge_ota_container_parse(const void *buf, size_t len, struct edge_ota_container *out,
			     struct edge_msg_error *err);

struct edge_ota_tensor {
	char type[EDGE_MSG_TOKEN_CAP];   /* "int8", "uint8", "int16", "float32" */
	unsigned rank;
	int32_t shape[EDGE_OTA_RANK_MAX];
	double scale;
	int64_t zero_point;
};

struct edge_ota_manifest {
	char name[EDGE_MSG_TOKEN_CAP];
	char version[EDGE_MSG_TOKEN_CAP];
	uint64_t counter;
	uint64_t size;
	char sha256[EDGE_MSG_SHA256_HEX + 1];
	char runtime[EDGE_MSG_TOKEN_CAP];
	unsigned n_ops;
	char ops[EDGE_OTA_OPS_MAX][EDGE_MSG_TOKEN_CAP];
	uint64_t arena_bytes;
	unsigned n_inputs, n_outputs;
	struct edge_ota_tensor inputs[EDGE_OTA_TENSORS_MAX], outputs[EDGE_OTA_TENSORS_MAX];
	uint64_t expires_ms;             /* 0: never */
	uint32_t selftest_seed;
	char selftest_output_sha256[EDGE_MSG_SHA256_HEX + 1];
};

/* Strict parse of manifest bytes (proto's JSON reader). 0 or -EPROTO. */
int edge_ota_manifest_parse(const void *buf, size_t len, struct edge_ota_manifest *out,
			    struct edge_msg_error *err);

/* Compact JSON in a fixed key order, NUL-terminated: the length, -EINVAL
 * (a field breaks a rule), -ENOSPC. parse(encode(m)) == m. */
int edge_ota_manifest_encode(char *buf, size_t cap, const struct edge_ota_manifest *m);

/* The self-test input: n bytes from seed (xorshift32, the low byte of each
 * step, documented in package.md so any implementation reproduces it). */
void edge_ota_selftest_input(uint32_t seed, uint8_t *out, size_t n);

/* Little-endian helpers of the container and the CRC-32C it uses
 * (Castagnoli, reflected, init and xorout 0xFFFFFFFF). */
uint32_t edge_ota_crc32c(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
