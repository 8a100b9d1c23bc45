/* Fuzz target for OTA transfer frames (proto/ota/transfer.md): the input is
 * one frame as a node receives it, fed to the frame reader and, when that
 * accepts an offer or a revert, to the offer or the revert reader.
 *
 * Invariants beyond "no crash, no overread": an accepted frame's payload is
 * the input after the header and of the length the header states, within
 * its type's bounds, its CRC verifies, and the codec re-encodes it byte for
 * byte (flags aside: the encoder writes 0, the reader keeps what came); an
 * accepted offer's head is the rest of the payload, its chunk size is in
 * range and its chunk count covers the head's model size exactly; a
 * rejection carries a known reason and a terminated field path. Each input
 * is tried as it is and with its CRC made right. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_transfer.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t enc[EDGE_OTA_FRAME_MAX];

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* data with its flags cleared equals enc[0..n) except for the CRC, which
 * covers the flags and so differs unless they were 0. */
static void check_same_frame(const uint8_t *data, size_t size, int n, uint16_t flags)
{
	CHECK(n > 0 && (size_t)n == size);
	if (flags == 0) {
		CHECK(memcmp(enc, data, size) == 0);
		return;
	}
	CHECK(memcmp(enc, data, 6) == 0);
	CHECK(enc[6] == 0 && enc[7] == 0);
	CHECK(memcmp(enc + 8, data + 8, 12) == 0);
	CHECK(memcmp(enc + EDGE_OTA_FRAME_HDR, data + EDGE_OTA_FRAME_HDR,
		     size - EDGE_OTA_FRAME_HDR) == 0);
}

static void check_offer(const uint8_t *data, size_t size, const struct edge_ota_frame *f)
{
	struct edge_ota_offer o, known;
	struct edge_msg_error err;
	uint64_t model;
	int n;

	if (edge_ota_offer_parse(f, &o, &err) != 0) {
		check_error(&err);
		CHECK(o.head == NULL);
		return;
	}
	CHECK(err.reason == EDGE_MSG_OK);
	CHECK(o.head == f->payload + EDGE_OTA_OFFER_FIXED);
	CHECK(o.head_len == f->length - EDGE_OTA_OFFER_FIXED);
	CHECK(o.head_len >= EDGE_OTA_HEADER_SIZE);
	CHECK(o.chunk_size >= EDGE_OTA_CHUNK_MIN && o.chunk_size <= EDGE_OTA_CHUNK_MAX);
	model = le64(o.head + 20);
	CHECK(model >= 1 && model <= EDGE_OTA_MODEL_MAX);
	CHECK(o.n_chunks >= 1);
	CHECK((uint64_t)(o.n_chunks - 1) * o.chunk_size < model);
	CHECK((uint64_t)o.n_chunks * o.chunk_size >= model);
	/* The encoder writes only the flags it knows. */
	known = o;
	known.flags &= EDGE_OTA_OFFER_CAMPAIGN;
	n = edge_ota_offer_encode(enc, sizeof enc, f->transfer, &known);
	if (known.flags == o.flags) {
		check_same_frame(data, size, n, f->flags);
	} else {
		CHECK(n > 0 && (size_t)n == size);
		CHECK(edge_ota_offer_encode(enc, sizeof enc, f->transfer, &o) == -EINVAL);
	}
}

/* An accepted revert is index 0 and the 32 bytes of the target's SHA-256,
 * which the revert reader returns and its encoder writes back. */
static void check_revert(const uint8_t *data, size_t size, const struct edge_ota_frame *f)
{
	struct edge_msg_error err;
	uint8_t sha[32];
	int n;

	CHECK(f->index == 0 && f->length == EDGE_OTA_REVERT_PAYLOAD);
	CHECK(edge_ota_revert_parse(f, sha, &err) == 0 && err.reason == EDGE_MSG_OK);
	CHECK(memcmp(sha, f->payload, sizeof sha) == 0);
	n = edge_ota_revert_encode(enc, sizeof enc, f->transfer, sha);
	check_same_frame(data, size, n, f->flags);
}

static void check_frame(const uint8_t *data, size_t size)
{
	struct edge_ota_frame f;
	struct edge_msg_error err;
	uint32_t crc;
	int n;

	if (edge_ota_frame_parse(data, size, &f, &err) != 0) {
		check_error(&err);
		CHECK(f.payload == NULL);
		return;
	}
	CHECK(err.reason == EDGE_MSG_OK);
	CHECK(size >= EDGE_OTA_FRAME_HDR && size <= EDGE_OTA_FRAME_MAX);
	CHECK(f.payload == data + EDGE_OTA_FRAME_HDR);
	CHECK(f.length == size - EDGE_OTA_FRAME_HDR);
	CHECK(f.transfer != 0);
	crc = edge_ota_crc32c(edge_ota_crc32c(0, data, 20), f.payload, f.length);
	CHECK(data[20] == (uint8_t)crc && data[21] == (uint8_t)(crc >> 8) &&
	      data[22] == (uint8_t)(crc >> 16) && data[23] == (uint8_t)(crc >> 24));
	switch (f.type) {
	case EDGE_OTA_FRAME_OFFER:
		CHECK(f.index == 0 && f.length > EDGE_OTA_OFFER_FIXED);
		check_offer(data, size, &f);
		return;
	case EDGE_OTA_FRAME_CHUNK:
		CHECK(f.length >= 1 && f.length <= EDGE_OTA_CHUNK_MAX);
		break;
	case EDGE_OTA_FRAME_CANCEL:
		CHECK(f.index == 0 && f.length == 1);
		break;
	case EDGE_OTA_FRAME_REVERT:
		check_revert(data, size, &f);
		return;
	default:
		CHECK(0);
	}
	n = edge_ota_frame_encode(enc, sizeof enc, f.type, f.transfer, f.index, f.payload,
				  f.length);
	check_same_frame(data, size, n, f.flags);
}

static uint8_t sealed[EDGE_OTA_FRAME_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pl;
	uint32_t crc, length;

	check_frame(data, size);
	/* A random CRC almost never matches: the same input with its CRC made
	 * right reaches the checks behind it. */
	if (size < EDGE_OTA_FRAME_HDR || size > sizeof sealed)
		return 0;
	memcpy(sealed, data, size);
	length = (uint32_t)sealed[16] | (uint32_t)sealed[17] << 8 | (uint32_t)sealed[18] << 16 |
		 (uint32_t)sealed[19] << 24;
	pl = size - EDGE_OTA_FRAME_HDR;
	if (length < pl)
		pl = length;
	crc = edge_ota_crc32c(edge_ota_crc32c(0, sealed, 20), sealed + EDGE_OTA_FRAME_HDR, pl);
	sealed[20] = (uint8_t)crc;
	sealed[21] = (uint8_t)(crc >> 8);
	sealed[22] = (uint8_t)(crc >> 16);
	sealed[23] = (uint8_t)(crc >> 24);
	check_frame(sealed, size);
	return 0;
}
