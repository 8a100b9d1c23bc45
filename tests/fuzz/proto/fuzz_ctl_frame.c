/* Fuzz target for the control-frame decoder. The first input byte picks a
 * split pattern; the rest is the byte stream. The decoder (limit 64 bytes,
 * so oversized frames are common) must report the same sequence of frames
 * and refusals whether the stream arrives whole, byte by byte, or in
 * pieces, and must never consume more than it was given. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ctl_frame.h"
#include "edge_json.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT 64

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

/* Feed the stream in pieces of piece(i) bytes; return a digest of events. */
static uint64_t run(const uint8_t *s, size_t n, unsigned pattern)
{
	uint8_t body[LIMIT];
	struct edge_ctl_decoder d;
	uint64_t h = 1469598103934665603ull;
	size_t pos = 0, round = 0;

	edge_ctl_decoder_init(&d, body, sizeof body);
	while (pos < n) {
		size_t piece = pattern == 0 ? n - pos
			     : pattern == 1 ? 1
					    : 1 + (round * 7 + pattern) % 13;
		if (piece > n - pos)
			piece = n - pos;
		round++;
		size_t off = 0;
		while (off < piece) {
			const uint8_t *b;
			size_t blen, used;
			int rc = edge_ctl_decoder_feed(&d, s + pos + off, piece - off,
						       &used, &b, &blen);

			CHECK(used <= piece - off);
			off += used;
			if (rc == 1) {
				CHECK(blen <= LIMIT);
				h = mix(h, 1);
				h = mix(h, blen);
				for (size_t i = 0; i < blen; i++)
					h = mix(h, b[i]);
				struct edge_json_tok toks[32];
				int jrc = edge_json_parse((const char *)b, blen, toks, 32, 8,
							  NULL, NULL);
				CHECK(jrc > 0 || jrc == -EPROTO || jrc == -ENOSPC);
			} else if (rc == -EMSGSIZE) {
				CHECK(blen > LIMIT);
				h = mix(h, 2);
				h = mix(h, blen);
			} else {
				CHECK(rc == 0 && off == piece);
			}
		}
		pos += piece;
	}
	return mix(h, (uint64_t)edge_ctl_decoder_idle(&d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned pattern = 2 + data[0] % 16;
	uint64_t whole = run(data + 1, size - 1, 0);

	CHECK(run(data + 1, size - 1, 1) == whole);
	CHECK(run(data + 1, size - 1, pattern) == whole);
	return 0;
}
