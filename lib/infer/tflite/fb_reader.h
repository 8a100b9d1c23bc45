/* A bounds-checked reader for FlatBuffers (little-endian, as TensorFlow
 * Lite writes them). Every access verifies before it reads: offsets and
 * vtables inside the file and aligned (relative to the file start), vtable
 * and table sizes sane, vector length × element size inside the file,
 * strings NUL-terminated inside the file. Nothing is read through a host
 * pointer cast, so the caller's buffer needs no particular alignment.
 *
 * Errors: EDGE_INFER_ETRUNCATED / EDGE_INFER_EFORMAT, with a message naming
 * the field (`what`) written into the reader's error. */
#ifndef EDGE_INFER_FB_READER_H
#define EDGE_INFER_FB_READER_H

#include <stddef.h>
#include <stdint.h>

#include "edge_infer.h"

typedef struct edge__fb {
	const uint8_t *base;             /* borrowed file bytes */
	size_t len;
	struct edge_infer_error *err;    /* where failures are described */
} edge__fb;

typedef struct edge__fb_table {
	size_t pos;        /* table start (its soffset to the vtable) */
	size_t vt;         /* vtable start */
	uint32_t vt_len;   /* vtable bytes */
	uint32_t obj_len;  /* inline table bytes */
} edge__fb_table;

typedef struct edge__fb_vec {
	size_t pos;        /* first element */
	uint32_t n;        /* element count */
	uint32_t elem;     /* element size in bytes */
} edge__fb_vec;

/* Record a failure (printf-style message) and return code. */
int edge__fb_fail(edge__fb *fb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Little-endian loads at a position already known to be in range. */
uint16_t edge__fb_u16(const edge__fb *fb, size_t pos);
uint32_t edge__fb_u32(const edge__fb *fb, size_t pos);
uint64_t edge__fb_u64(const edge__fb *fb, size_t pos);

/* Root table; checks the optional "TFL3" identifier when present. */
EDGE_INFER_WUR int edge__fb_root(edge__fb *fb, const char *ident, edge__fb_table *root);
/* Verify the table at pos (its vtable and inline size). */
EDGE_INFER_WUR int edge__fb_table_at(edge__fb *fb, size_t pos, const char *what,
				     edge__fb_table *t);

/* Whether field `id` is present in t. */
int edge__fb_has(const edge__fb *fb, const edge__fb_table *t, int id);

/* Scalar fields: *out = value, or dflt when the field is absent. */
EDGE_INFER_WUR int edge__fb_u8(edge__fb *fb, const edge__fb_table *t, int id,
			       uint8_t dflt, const char *what, uint8_t *out);
EDGE_INFER_WUR int edge__fb_i32(edge__fb *fb, const edge__fb_table *t, int id,
				int32_t dflt, const char *what, int32_t *out);
EDGE_INFER_WUR int edge__fb_u32f(edge__fb *fb, const edge__fb_table *t, int id,
				 uint32_t dflt, const char *what, uint32_t *out);
EDGE_INFER_WUR int edge__fb_u64f(edge__fb *fb, const edge__fb_table *t, int id,
				 uint64_t dflt, const char *what, uint64_t *out);
EDGE_INFER_WUR int edge__fb_f32(edge__fb *fb, const edge__fb_table *t, int id,
				float dflt, const char *what, float *out);

/* Offset fields. *present = 0 and an empty result when absent. */
EDGE_INFER_WUR int edge__fb_sub(edge__fb *fb, const edge__fb_table *t, int id,
				const char *what, edge__fb_table *out, int *present);
EDGE_INFER_WUR int edge__fb_vector(edge__fb *fb, const edge__fb_table *t, int id,
				   uint32_t elem, const char *what, edge__fb_vec *out);
/* String field: *s points into the file (NUL-terminated), "" when absent. */
EDGE_INFER_WUR int edge__fb_string(edge__fb *fb, const edge__fb_table *t, int id,
				   const char *what, const char **s);

/* Elements of a verified vector (i < v->n). */
int32_t edge__fb_vec_i32(const edge__fb *fb, const edge__fb_vec *v, uint32_t i);
int64_t edge__fb_vec_i64(const edge__fb *fb, const edge__fb_vec *v, uint32_t i);
float edge__fb_vec_f32(const edge__fb *fb, const edge__fb_vec *v, uint32_t i);
/* Table element of a vector of tables. */
EDGE_INFER_WUR int edge__fb_vec_table(edge__fb *fb, const edge__fb_vec *v, uint32_t i,
				      const char *what, edge__fb_table *out);

#endif
