/* A strict JSON reader and a small writer, without allocation.
 *
 * Reader: edge_json_parse() validates a whole document (RFC 8259 grammar,
 * UTF-8, escapes, numbers, no trailing bytes, depth cap, no duplicate keys
 * within an object) and fills a caller-provided token array. It reads at
 * most `len` bytes and never needs NUL termination. Tokens reference the
 * caller's buffer, which must outlive the document (borrowed).
 *
 * Token order is document order (pre-order). An object's children are
 * key, value, key, value...; every token records where its subtree ends, so
 * walking siblings never recurses.
 *
 * Writer: struct edge_json_writer appends to a caller-provided buffer and
 * remembers the first error, so a message is written without checking each
 * call; edge_json_writer_finish() reports the result. */
#ifndef EDGE_JSON_H
#define EDGE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum edge_json_type {
	EDGE_JSON_OBJECT = 1,
	EDGE_JSON_ARRAY,
	EDGE_JSON_STRING,
	EDGE_JSON_NUMBER,
	EDGE_JSON_TRUE,
	EDGE_JSON_FALSE,
	EDGE_JSON_NULL,
};

/* Token flags. */
#define EDGE_JSON_F_ESCAPED 0x1u /* string contains backslash escapes */
#define EDGE_JSON_F_INTEGER 0x2u /* number has no fraction and no exponent */
#define EDGE_JSON_F_NEGATIVE 0x4u /* number starts with '-' */

/* One JSON value or object key. Public so callers can place arrays of them
 * on the stack; read it, never write it. */
struct edge_json_tok {
	uint8_t type;    /* enum edge_json_type */
	uint8_t flags;   /* EDGE_JSON_F_* */
	uint16_t depth;  /* 1 for the top-level value */
	uint32_t start;  /* byte offset; strings: first byte after the quote */
	uint32_t end;    /* byte offset past the value; strings: the closing quote */
	uint32_t size;   /* objects: members; arrays: elements; else 0 */
	uint32_t next;   /* index of the first token after this subtree */
};

/* Why the parser refused a document (stable values). */
enum edge_json_error_code {
	EDGE_JSON_E_NONE = 0,
	EDGE_JSON_E_SYNTAX,      /* unexpected byte or end of input */
	EDGE_JSON_E_UTF8,        /* invalid UTF-8 sequence */
	EDGE_JSON_E_ESCAPE,      /* bad escape or unpaired surrogate */
	EDGE_JSON_E_NUMBER,      /* malformed number */
	EDGE_JSON_E_CONTROL,     /* raw control byte (< 0x20) inside a string */
	EDGE_JSON_E_TRAILING,    /* non-whitespace after the top-level value */
	EDGE_JSON_E_DEPTH,       /* nesting deeper than max_depth */
	EDGE_JSON_E_TOKENS,      /* more tokens (values, keys) than the array holds */
	EDGE_JSON_E_DUPKEY,      /* key repeated within one object */
	EDGE_JSON_E_EMPTY,       /* no value at all (empty or only whitespace) */
	EDGE_JSON_E_TOO_LARGE,   /* input longer than EDGE_JSON_MAX_INPUT */
};

struct edge_json_error {
	enum edge_json_error_code code;
	size_t offset; /* byte offset where the problem was found */
};

/* Offsets are 32-bit; inputs are far smaller in practice. */
#define EDGE_JSON_MAX_INPUT 0x7fffffffu
/* Hard ceiling on max_depth (also bounds the parser's own stack use). */
#define EDGE_JSON_DEPTH_LIMIT 64

/* A parsed document: the text and its tokens (both borrowed). */
struct edge_json_doc {
	const char *buf;
	size_t len;
	const struct edge_json_tok *toks;
	unsigned ntoks;
};

/* Parse buf[0..len) into toks[0..cap). max_depth counts the top-level value
 * as depth 1 and is clamped to EDGE_JSON_DEPTH_LIMIT. On success fills *doc
 * (token 0 is the top-level value) and returns the token count (>= 1). On
 * failure returns -EPROTO (-ENOSPC for EDGE_JSON_E_TOKENS, -EMSGSIZE for
 * EDGE_JSON_E_TOO_LARGE) and, if err is not NULL, says why and where. */
EDGE_PROTO_WUR int edge_json_parse(const char *buf, size_t len,
				   struct edge_json_tok *toks, unsigned cap,
				   unsigned max_depth, struct edge_json_doc *doc,
				   struct edge_json_error *err);

/* Stable name of a parser error ("syntax", "utf8", ...). Never NULL. */
const char *edge_json_error_name(enum edge_json_error_code code);

/* ---- Navigation. Token indexes are ints; a negative value is an error. */

/* Type of token t, or 0 if t is out of range. */
enum edge_json_type edge_json_type_of(const struct edge_json_doc *doc, int t);

/* Value of `key` in object token obj: its token index, -ENOENT if absent,
 * -EINVAL if obj is not an object. Keys compare after unescaping. */
int edge_json_obj_get(const struct edge_json_doc *doc, int obj, const char *key);

/* Children: first child of an object/array (for objects: the first key),
 * -ENOENT if empty; next sibling of t, -ENOENT after the last one. For an
 * object, the value of key k is k + 1 and the next key is
 * edge_json_next(doc, k + 1). */
int edge_json_first(const struct edge_json_doc *doc, int t);
int edge_json_next(const struct edge_json_doc *doc, int t);

/* True if string token t equals the NUL-terminated s after unescaping. */
int edge_json_str_eq(const struct edge_json_doc *doc, int t, const char *s);

/* ---- Typed reads. All return 0 or:
 *   -EINVAL  token has another JSON type (or t is invalid)
 *   -ERANGE  number outside [min, max], or not written as an integer
 *            (edge_json_is_integer() tells the two apart)
 *   -ENOSPC  decoded string plus its NUL does not fit in cap
 *   -EILSEQ  string contains U+0000, which a C string cannot carry */

/* Unescaped UTF-8 copy, NUL-terminated; *out_len (may be NULL) gets the
 * length without the NUL. */
EDGE_PROTO_WUR int edge_json_get_str(const struct edge_json_doc *doc, int t,
				     char *out, size_t cap, size_t *out_len);
EDGE_PROTO_WUR int edge_json_get_int(const struct edge_json_doc *doc, int t,
				     int64_t min, int64_t max, int64_t *out);
EDGE_PROTO_WUR int edge_json_get_uint(const struct edge_json_doc *doc, int t,
				      uint64_t max, uint64_t *out);
EDGE_PROTO_WUR int edge_json_get_bool(const struct edge_json_doc *doc, int t,
				      int *out);
/* 1 if number token t is written without fraction/exponent, else 0. */
int edge_json_is_integer(const struct edge_json_doc *doc, int t);

/* Array of strings into a flat table of max_items rows of item_cap bytes
 * each (row i at out + i * item_cap). -E2BIG if the array has more than
 * max_items elements; -EINVAL if t is not an array or an element is not a
 * string; other codes as edge_json_get_str. *bad_index (may be NULL) gets
 * the failing element's index. */
EDGE_PROTO_WUR int edge_json_get_str_array(const struct edge_json_doc *doc,
					   int t, char *out, size_t item_cap,
					   size_t max_items, size_t *count,
					   size_t *bad_index);

/* ---- Writer. */

#define EDGE_JSON_WRITER_MAX_DEPTH 16

struct edge_json_writer {
	char *buf;       /* borrowed */
	size_t cap;
	size_t len;
	int err;         /* first error: -ENOSPC, -EINVAL */
	unsigned depth;
	uint8_t has_items[EDGE_JSON_WRITER_MAX_DEPTH]; /* comma needed */
	uint8_t after_key;
};

/* Start writing into buf[0..cap). The output is NUL-terminated whenever
 * room allows. */
void edge_json_writer_init(struct edge_json_writer *w, char *buf, size_t cap);
void edge_json_obj_begin(struct edge_json_writer *w);
void edge_json_obj_end(struct edge_json_writer *w);
void edge_json_arr_begin(struct edge_json_writer *w);
void edge_json_arr_end(struct edge_json_writer *w);
/* Key of the next member (NUL-terminated, escaped as needed). */
void edge_json_key(struct edge_json_writer *w, const char *key);
/* String value: s is NUL-terminated UTF-8; invalid UTF-8 sets -EINVAL. */
void edge_json_str(struct edge_json_writer *w, const char *s);
void edge_json_str_n(struct edge_json_writer *w, const char *s, size_t n);
void edge_json_int(struct edge_json_writer *w, int64_t v);
void edge_json_uint(struct edge_json_writer *w, uint64_t v);
void edge_json_bool(struct edge_json_writer *w, int v);
void edge_json_null(struct edge_json_writer *w);
/* Length written (without NUL) if the document is complete and fitted,
 * else the first error (-ENOSPC, or -EINVAL for misuse/bad UTF-8). */
EDGE_PROTO_WUR int edge_json_writer_finish(const struct edge_json_writer *w);

/* Escape s[0..n) as a JSON string body (no quotes) into out[0..cap),
 * NUL-terminated. Returns the length written, -ENOSPC if it does not fit,
 * -EINVAL if s is not valid UTF-8. */
EDGE_PROTO_WUR int edge_json_escape(char *out, size_t cap, const char *s,
				    size_t n);

#ifdef __cplusplus
}
#endif

#endif
