/* Control framing: header encoding, incremental decoding in any split,
 * oversized frames refused from the header without buffering. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ctl_frame.h"
#include "test_proto.h"

/* A stream of frames with bodies "", "a", "hello" and 300 bytes. */
static size_t make_stream(uint8_t *out, size_t cap)
{
	static const size_t lens[] = { 0, 1, 5, 300 };
	size_t n = 0;

	for (size_t f = 0; f < 4; f++) {
		ck_assert_uint_le(n + 4 + lens[f], cap);
		ck_assert_int_eq(edge_ctl_frame_header(out + n, lens[f], EDGE_CTL_REQUEST_MAX), 0);
		n += 4;
		for (size_t i = 0; i < lens[f]; i++)
			out[n++] = (uint8_t)('a' + (f * 7 + i) % 26);
	}
	return n;
}

static void check_frame(size_t index, const uint8_t *body, size_t len)
{
	static const size_t lens[] = { 0, 1, 5, 300 };

	ck_assert_uint_lt(index, 4);
	ck_assert_uint_eq(len, lens[index]);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(body[i], 'a' + (index * 7 + i) % 26);
}

/* Feed the stream in pieces given by the split function; returns frames. */
static size_t feed_in_pieces(const uint8_t *stream, size_t n, unsigned seed, int byte_by_byte)
{
	uint8_t body[512];
	struct edge_ctl_decoder d;
	size_t pos = 0, frames = 0;

	edge_ctl_decoder_init(&d, body, sizeof body);
	srand(seed);
	while (pos < n) {
		size_t piece = byte_by_byte ? 1 : 1 + (size_t)rand() % 64;

		if (piece > n - pos)
			piece = n - pos;
		/* A private heap copy: ASan flags any read outside the piece. */
		uint8_t *chunk = malloc(piece);
		memcpy(chunk, stream + pos, piece);
		size_t off = 0;
		while (off < piece) {
			const uint8_t *b;
			size_t blen, used;
			int rc = edge_ctl_decoder_feed(&d, chunk + off, piece - off, &used, &b, &blen);

			ck_assert_int_ge(rc, 0);
			ck_assert_uint_le(used, piece - off);
			off += used;
			if (rc == 1)
				check_frame(frames++, b, blen);
			else
				ck_assert_uint_eq(off, piece);
		}
		free(chunk);
		pos += piece;
	}
	ck_assert(edge_ctl_decoder_idle(&d));
	return frames;
}

START_TEST(header_encoding)
{
	uint8_t h[4];

	ck_assert_int_eq(edge_ctl_frame_header(h, 0x01020304, EDGE_CTL_RESPONSE_MAX), -EMSGSIZE);
	ck_assert_int_eq(edge_ctl_frame_header(h, 0x00020304, EDGE_CTL_RESPONSE_MAX), 0);
	ck_assert(h[0] == 0 && h[1] == 2 && h[2] == 3 && h[3] == 4);
	ck_assert_int_eq(edge_ctl_frame_header(h, EDGE_CTL_REQUEST_MAX, EDGE_CTL_REQUEST_MAX), 0);
	ck_assert_int_eq(edge_ctl_frame_header(h, EDGE_CTL_REQUEST_MAX + 1, EDGE_CTL_REQUEST_MAX),
			 -EMSGSIZE);
}
END_TEST

START_TEST(decodes_whole_stream)
{
	uint8_t stream[1024];
	size_t n = make_stream(stream, sizeof stream);

	ck_assert_uint_eq(feed_in_pieces(stream, n, 0, 0), 4);
}
END_TEST

START_TEST(decodes_byte_by_byte)
{
	uint8_t stream[1024];
	size_t n = make_stream(stream, sizeof stream);

	ck_assert_uint_eq(feed_in_pieces(stream, n, 0, 1), 4);
}
END_TEST

START_TEST(decodes_random_splits)
{
	uint8_t stream[1024];
	size_t n = make_stream(stream, sizeof stream);

	for (unsigned seed = 1; seed <= 200; seed++)
		ck_assert_uint_eq(feed_in_pieces(stream, n, seed, 0), 4);
}
END_TEST

START_TEST(oversized_frame_is_skipped_not_buffered)
{
	uint8_t body[8];
	uint8_t stream[64];
	struct edge_ctl_decoder d;
	const uint8_t *b;
	size_t blen, used, n = 0;

	/* 9-byte body (over the 8-byte limit), then a valid 2-byte frame. */
	ck_assert_int_eq(edge_ctl_frame_header(stream, 9, 100), 0);
	n = 4;
	memset(stream + n, 'X', 9);
	n += 9;
	ck_assert_int_eq(edge_ctl_frame_header(stream + n, 2, 100), 0);
	n += 4;
	stream[n++] = 'o';
	stream[n++] = 'k';

	memset(body, 0, sizeof body);
	edge_ctl_decoder_init(&d, body, sizeof body);
	int rc = edge_ctl_decoder_feed(&d, stream, n, &used, &b, &blen);
	ck_assert_int_eq(rc, -EMSGSIZE);
	ck_assert_uint_eq(used, 4); /* only the header was taken */
	ck_assert_uint_eq(blen, 9);
	ck_assert(!edge_ctl_decoder_idle(&d));
	rc = edge_ctl_decoder_feed(&d, stream + used, n - used, &used, &b, &blen);
	ck_assert_int_eq(rc, 1);
	ck_assert_uint_eq(blen, 2);
	ck_assert(memcmp(b, "ok", 2) == 0);
	/* The oversized body never reached the buffer. */
	ck_assert(memchr(body, 'X', sizeof body) == NULL);
	ck_assert(edge_ctl_decoder_idle(&d));
}
END_TEST

START_TEST(huge_declared_length)
{
	uint8_t body[16];
	const uint8_t hdr[4] = { 0xff, 0xff, 0xff, 0xff };
	struct edge_ctl_decoder d;
	const uint8_t *b;
	size_t blen, used;

	edge_ctl_decoder_init(&d, body, sizeof body);
	/* Header split across calls. */
	ck_assert_int_eq(edge_ctl_decoder_feed(&d, hdr, 3, &used, &b, &blen), 0);
	ck_assert_uint_eq(used, 3);
	ck_assert_int_eq(edge_ctl_decoder_feed(&d, hdr + 3, 1, &used, &b, &blen), -EMSGSIZE);
	ck_assert_uint_eq(blen, 0xffffffffu);
}
END_TEST

START_TEST(limit_is_inclusive_and_empty_input_is_harmless)
{
	uint8_t body[4];
	uint8_t stream[8] = { 0, 0, 0, 4, 'a', 'b', 'c', 'd' };
	struct edge_ctl_decoder d;
	const uint8_t *b;
	size_t blen, used;

	edge_ctl_decoder_init(&d, body, sizeof body);
	ck_assert_int_eq(edge_ctl_decoder_feed(&d, stream, 0, &used, &b, &blen), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(edge_ctl_decoder_feed(&d, stream, 8, &used, &b, &blen), 1);
	ck_assert_uint_eq(blen, 4);
	ck_assert_uint_eq(used, 8);
	ck_assert(edge_ctl_decoder_idle(&d));

	/* No buffer at all: only empty bodies pass. */
	edge_ctl_decoder_init(&d, NULL, 0);
	ck_assert_int_eq(edge_ctl_decoder_feed(&d, (const uint8_t *)"\0\0\0\0", 4, &used, &b, &blen), 1);
	ck_assert_uint_eq(blen, 0);
	ck_assert_int_eq(edge_ctl_decoder_feed(&d, stream, 8, &used, &b, &blen), -EMSGSIZE);
}
END_TEST

START_TEST(error_names)
{
	for (int i = 1; i < EDGE_CTL_E_COUNT; i++)
		ck_assert_int_eq(edge_ctl_error_from_name(edge_ctl_error_name((enum edge_ctl_error)i)), i);
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_UNKNOWN_COMMAND), "unknown_command");
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_TIMEOUT), "timeout");
	ck_assert_int_eq(edge_ctl_error_from_name("timeout"), EDGE_CTL_E_TIMEOUT);
	ck_assert_str_eq(edge_ctl_error_name(EDGE_CTL_E_BAD_CONFIG), "bad_config");
	ck_assert_int_eq(edge_ctl_error_from_name("bad_config"), EDGE_CTL_E_BAD_CONFIG);
	ck_assert_str_eq(edge_ctl_error_name((enum edge_ctl_error)0), "internal");
	ck_assert_int_eq(edge_ctl_error_from_name("nope"), 0);
	ck_assert_int_eq(edge_ctl_error_from_name(NULL), 0);
}
END_TEST

TCase *test_ctl_frame_tcase(void)
{
	TCase *tc = tcase_create("ctl_frame");

	tcase_add_test(tc, header_encoding);
	tcase_add_test(tc, decodes_whole_stream);
	tcase_add_test(tc, decodes_byte_by_byte);
	tcase_add_test(tc, decodes_random_splits);
	tcase_add_test(tc, oversized_frame_is_skipped_not_buffered);
	tcase_add_test(tc, huge_declared_length);
	tcase_add_test(tc, limit_is_inclusive_and_empty_input_is_harmless);
	tcase_add_test(tc, error_names);
	return tc;
}
