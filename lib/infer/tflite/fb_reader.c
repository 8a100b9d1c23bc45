/* Bounds-checked FlatBuffers reader (see fb_reader.h). Positions are file
 * offsets (size_t); every computed position is range-checked in 64-bit
 * arithmetic before use. */
#include "fb_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int edge__fb_fail(edge__fb *fb, int code, const char *fmt, ...)
{
	if (fb->err && fb->err->code == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(fb->err->msg, sizeof fb->err->msg, fmt, ap);
		va_end(ap);
		fb->err->code = code;
	}
	return code;
}

uint16_t edge__fb_u16(const edge__fb *fb, size_t pos)
{
	const uint8_t *p = fb->base + pos;
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

uint32_t edge__fb_u32(const edge__fb *fb, size_t pos)
{
	const uint8_t *p = fb->base + pos;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t edge__fb_u64(const edge__fb *fb, size_t pos)
{
	return (uint64_t)edge__fb_u32(fb, pos) | (uint64_t)edge__fb_u32(fb, pos + 4) << 32;
}

/* [pos, pos + n) inside the file, in overflow-free arithmetic. */
static int in_file(const edge__fb *fb, uint64_t pos, uint64_t n)
{
	return pos <= fb->len && n <= fb->len - pos;
}

int edge__fb_table_at(edge__fb *fb, size_t pos, const char *what, edge__fb_table *t)
{
	if (pos % 4 != 0)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: table at offset %zu is misaligned", what, pos);
	if (!in_file(fb, pos, 4))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: table offset %zu outside the file (%zu bytes)",
				     what, pos, fb->len);
	int64_t vt = (int64_t)pos - (int32_t)edge__fb_u32(fb, pos);
	if (vt < 0 || vt % 2 != 0 || !in_file(fb, (uint64_t)vt, 4))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: vtable of table at %zu is outside the file or misaligned",
				     what, pos);
	uint32_t vt_len = edge__fb_u16(fb, (size_t)vt);
	uint32_t obj_len = edge__fb_u16(fb, (size_t)vt + 2);
	if (vt_len < 4 || vt_len % 2 != 0 || !in_file(fb, (uint64_t)vt, vt_len))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: vtable at %lld has invalid size %u", what,
				     (long long)vt, vt_len);
	if (obj_len < 4 || !in_file(fb, pos, obj_len))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: table at %zu has invalid size %u", what, pos, obj_len);
	t->pos = pos;
	t->vt = (size_t)vt;
	t->vt_len = vt_len;
	t->obj_len = obj_len;
	return 0;
}

int edge__fb_root(edge__fb *fb, const char *ident, edge__fb_table *root)
{
	if (fb->len < 8)
		return edge__fb_fail(fb, EDGE_INFER_ETRUNCATED,
				     "file of %zu bytes is too short for a flatbuffer", fb->len);
	if (fb->len > UINT32_MAX)
		return edge__fb_fail(fb, EDGE_INFER_ELIMIT,
				     "file of %zu bytes exceeds the 4 GiB flatbuffer range", fb->len);
	/* The identifier is optional in the format: refuse only another
	 * printable identifier, accept its absence. */
	const uint8_t *id = fb->base + 4;
	if (memcmp(id, ident, 4) != 0) {
		int printable = 1;
		for (int i = 0; i < 4; i++)
			if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ||
			      (id[i] >= 'a' && id[i] <= 'z')))
				printable = 0;
		if (printable)
			return edge__fb_fail(fb, EDGE_INFER_EIDENT,
					     "file identifier \"%.4s\" is not \"%s\"", (const char *)id,
					     ident);
	}
	uint32_t off = edge__fb_u32(fb, 0);
	if (off >= fb->len)
		return edge__fb_fail(fb, EDGE_INFER_ETRUNCATED,
				     "root table offset %u beyond the end of the file (%zu bytes)",
				     off, fb->len);
	return edge__fb_table_at(fb, off, "model root", root);
}

/* Position of field id inside table t, or 0 when absent. Checks that a
 * field of `size` bytes fits the inline table and is aligned. */
static int field_pos(edge__fb *fb, const edge__fb_table *t, int id, uint32_t size,
		     const char *what, size_t *pos)
{
	*pos = 0;
	uint32_t slot = 4 + 2 * (uint32_t)id;
	if (slot + 2 > t->vt_len)
		return 0;
	uint32_t off = edge__fb_u16(fb, t->vt + slot);
	if (off == 0)
		return 0;
	if (off < 4 || (uint64_t)off + size > t->obj_len)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: field outside its table (offset %u, table size %u)",
				     what, off, t->obj_len);
	size_t p = t->pos + off;
	if (p % size != 0)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT, "%s: field misaligned at %zu",
				     what, p);
	*pos = p;
	return 0;
}

int edge__fb_has(const edge__fb *fb, const edge__fb_table *t, int id)
{
	uint32_t slot = 4 + 2 * (uint32_t)id;
	return slot + 2 <= t->vt_len && edge__fb_u16(fb, t->vt + slot) != 0;
}

int edge__fb_u8(edge__fb *fb, const edge__fb_table *t, int id, uint8_t dflt,
		const char *what, uint8_t *out)
{
	size_t p;
	int rc = field_pos(fb, t, id, 1, what, &p);
	if (rc)
		return rc;
	*out = p ? fb->base[p] : dflt;
	return 0;
}

int edge__fb_i32(edge__fb *fb, const edge__fb_table *t, int id, int32_t dflt,
		 const char *what, int32_t *out)
{
	size_t p;
	int rc = field_pos(fb, t, id, 4, what, &p);
	if (rc)
		return rc;
	*out = p ? (int32_t)edge__fb_u32(fb, p) : dflt;
	return 0;
}

int edge__fb_u32f(edge__fb *fb, const edge__fb_table *t, int id, uint32_t dflt,
		  const char *what, uint32_t *out)
{
	size_t p;
	int rc = field_pos(fb, t, id, 4, what, &p);
	if (rc)
		return rc;
	*out = p ? edge__fb_u32(fb, p) : dflt;
	return 0;
}

int edge__fb_u64f(edge__fb *fb, const edge__fb_table *t, int id, uint64_t dflt,
		  const char *what, uint64_t *out)
{
	size_t p;
	int rc = field_pos(fb, t, id, 8, what, &p);
	if (rc)
		return rc;
	*out = p ? edge__fb_u64(fb, p) : dflt;
	return 0;
}

int edge__fb_f32(edge__fb *fb, const edge__fb_table *t, int id, float dflt,
		 const char *what, float *out)
{
	size_t p;
	int rc = field_pos(fb, t, id, 4, what, &p);
	if (rc)
		return rc;
	if (!p) {
		*out = dflt;
		return 0;
	}
	uint32_t bits = edge__fb_u32(fb, p);
	memcpy(out, &bits, sizeof *out);
	return 0;
}

/* Follow the uoffset stored at field id; *target = 0 when absent. */
static int follow(edge__fb *fb, const edge__fb_table *t, int id, const char *what,
		  size_t *target)
{
	size_t p;
	*target = 0;
	int rc = field_pos(fb, t, id, 4, what, &p);
	if (rc || !p)
		return rc;
	uint64_t dst = (uint64_t)p + edge__fb_u32(fb, p);
	if (dst >= fb->len)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: offset points outside the file (%llu >= %zu)", what,
				     (unsigned long long)dst, fb->len);
	*target = (size_t)dst;
	return 0;
}

int edge__fb_sub(edge__fb *fb, const edge__fb_table *t, int id, const char *what,
		 edge__fb_table *out, int *present)
{
	size_t dst;
	memset(out, 0, sizeof *out);
	*present = 0;
	int rc = follow(fb, t, id, what, &dst);
	if (rc || !dst)
		return rc;
	*present = 1;
	return edge__fb_table_at(fb, dst, what, out);
}

static int vector_at(edge__fb *fb, size_t dst, uint32_t elem, const char *what,
		     edge__fb_vec *out)
{
	if (dst % 4 != 0 || !in_file(fb, dst, 4))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: vector at %zu misaligned or outside the file", what, dst);
	uint32_t n = edge__fb_u32(fb, dst);
	size_t data = dst + 4;
	if (!in_file(fb, data, (uint64_t)n * elem))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: vector of %u × %u bytes at %zu runs past the end of the file (%zu bytes)",
				     what, n, elem, dst, fb->len);
	if (elem > 4 && data % elem != 0)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: vector data at %zu misaligned for %u-byte elements", what,
				     data, elem);
	out->pos = data;
	out->n = n;
	out->elem = elem;
	return 0;
}

int edge__fb_vector(edge__fb *fb, const edge__fb_table *t, int id, uint32_t elem,
		    const char *what, edge__fb_vec *out)
{
	size_t dst;
	memset(out, 0, sizeof *out);
	out->elem = elem;
	int rc = follow(fb, t, id, what, &dst);
	if (rc || !dst)
		return rc;
	return vector_at(fb, dst, elem, what, out);
}

int edge__fb_string(edge__fb *fb, const edge__fb_table *t, int id, const char *what,
		    const char **s)
{
	size_t dst;
	edge__fb_vec v;
	*s = "";
	int rc = follow(fb, t, id, what, &dst);
	if (rc || !dst)
		return rc;
	rc = vector_at(fb, dst, 1, what, &v);
	if (rc)
		return rc;
	if (!in_file(fb, v.pos, (uint64_t)v.n + 1) || fb->base[v.pos + v.n] != 0)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: string at %zu is not NUL-terminated inside the file",
				     what, dst);
	if (memchr(fb->base + v.pos, 0, v.n))
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: string at %zu contains a NUL byte", what, dst);
	*s = (const char *)fb->base + v.pos;
	return 0;
}

int32_t edge__fb_vec_i32(const edge__fb *fb, const edge__fb_vec *v, uint32_t i)
{
	return (int32_t)edge__fb_u32(fb, v->pos + (size_t)i * 4);
}

int64_t edge__fb_vec_i64(const edge__fb *fb, const edge__fb_vec *v, uint32_t i)
{
	return (int64_t)edge__fb_u64(fb, v->pos + (size_t)i * 8);
}

float edge__fb_vec_f32(const edge__fb *fb, const edge__fb_vec *v, uint32_t i)
{
	uint32_t bits = edge__fb_u32(fb, v->pos + (size_t)i * 4);
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

int edge__fb_vec_table(edge__fb *fb, const edge__fb_vec *v, uint32_t i, const char *what,
		       edge__fb_table *out)
{
	size_t p = v->pos + (size_t)i * 4;
	uint64_t dst = (uint64_t)p + edge__fb_u32(fb, p);
	if (dst >= fb->len)
		return edge__fb_fail(fb, EDGE_INFER_EFORMAT,
				     "%s: offset points outside the file (%llu >= %zu)", what,
				     (unsigned long long)dst, fb->len);
	return edge__fb_table_at(fb, (size_t)dst, what, out);
}
