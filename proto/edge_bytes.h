/* Internal to proto/ (not part of the SDK's API): little-endian integers
 * and hex digits, the byte-level pieces the binary formats (package
 * container, OTA frames, the receiver's resume record) and the hex fields
 * share. Header-only, C99. */
#ifndef EDGE_BYTES_H
#define EDGE_BYTES_H

#include <stdint.h>

static inline uint32_t edge__le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t edge__le32(const uint8_t *p)
{
	return edge__le16(p) | edge__le16(p + 2) << 16;
}

static inline uint64_t edge__le64(const uint8_t *p)
{
	return (uint64_t)edge__le32(p) | (uint64_t)edge__le32(p + 4) << 32;
}

static inline void edge__put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xffu);
	p[1] = (uint8_t)(v >> 8 & 0xffu);
}

static inline void edge__put_le32(uint8_t *p, uint32_t v)
{
	edge__put_le16(p, v & 0xffffu);
	edge__put_le16(p + 2, v >> 16);
}

static inline void edge__put_le64(uint8_t *p, uint64_t v)
{
	edge__put_le32(p, (uint32_t)(v & 0xffffffffu));
	edge__put_le32(p + 4, (uint32_t)(v >> 32));
}

/* The value of one hex digit (either case), -1 if c is not one. */
static inline int edge__hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
