/* The envelope, error paths, field readers and string classes shared by
 * every message parser (edge_msg_internal.h). */
#include "edge_msg_internal.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------ error paths */

static size_t put_text(char *dst, size_t n, size_t cap, const char *s)
{
	while (s && *s && n + 1 < cap)
		dst[n++] = *s++;
	return n;
}

static size_t put_index(char *dst, size_t n, size_t cap, long index)
{
	char digits[24];
	size_t nd = 0;

	if (index < 0)
		return n;
	do {
		digits[nd++] = (char)('0' + index % 10);
		index /= 10;
	} while (index && nd < sizeof digits);
	if (n + 1 < cap)
		dst[n++] = '[';
	while (nd && n + 1 < cap)
		dst[n++] = digits[--nd];
	if (n + 1 < cap)
		dst[n++] = ']';
	return n;
}

static void set_path(struct edge_msg_error *err, const struct edge_msg_path *p)
{
	size_t cap = sizeof err->field, n = 0;

	n = put_text(err->field, n, cap, p->key);
	n = put_index(err->field, n, cap, p->index);
	if (p->key2) {
		if (n + 1 < cap)
			err->field[n++] = '.';
		n = put_text(err->field, n, cap, p->key2);
		n = put_index(err->field, n, cap, p->index2);
	}
	err->field[n] = '\0';
}

int edge_msg_reject_path(struct edge_msg_ctx *c, enum edge_msg_reject reason,
			 const struct edge_msg_path *p, int tok)
{
	if (c->err) {
		c->err->reason = reason;
		set_path(c->err, p);
		c->err->offset = 0;
		if (tok >= 0 && (unsigned)tok < c->doc.ntoks)
			c->err->offset = c->doc.toks[tok].start;
	}
	return -EPROTO;
}

int edge_msg_reject_key(struct edge_msg_ctx *c, enum edge_msg_reject reason,
			const char *key, int tok)
{
	struct edge_msg_path p = { key, -1, NULL, -1 };

	return edge_msg_reject_path(c, reason, &p, tok);
}

int edge_msg_reject_offset(struct edge_msg_error *err,
			   enum edge_msg_reject reason, const char *field,
			   size_t offset)
{
	struct edge_msg_path p = { field, -1, NULL, -1 };

	if (err) {
		err->reason = reason;
		set_path(err, &p);
		err->offset = offset;
	}
	return -EPROTO;
}

/* --------------------------------------------------------------- envelope */

enum edge_msg_reject edge_msg_json_reason(enum edge_json_error_code code)
{
	switch (code) {
	case EDGE_JSON_E_UTF8: return EDGE_MSG_BAD_UTF8;
	case EDGE_JSON_E_ESCAPE: return EDGE_MSG_BAD_ESCAPE;
	case EDGE_JSON_E_NUMBER: return EDGE_MSG_BAD_NUMBER;
	case EDGE_JSON_E_CONTROL: return EDGE_MSG_CONTROL_CHAR;
	case EDGE_JSON_E_TRAILING: return EDGE_MSG_TRAILING_DATA;
	case EDGE_JSON_E_DEPTH: return EDGE_MSG_TOO_DEEP;
	case EDGE_JSON_E_TOKENS: return EDGE_MSG_TOO_MANY_TOKENS;
	case EDGE_JSON_E_DUPKEY: return EDGE_MSG_DUPLICATE_KEY;
	case EDGE_JSON_E_EMPTY: return EDGE_MSG_EMPTY;
	case EDGE_JSON_E_TOO_LARGE: return EDGE_MSG_TOO_LARGE;
	case EDGE_JSON_E_NONE:
	case EDGE_JSON_E_SYNTAX:
		break;
	}
	return EDGE_MSG_BAD_JSON;
}

int edge_msg_open(struct edge_msg_ctx *c, const char *buf, size_t len,
		  struct edge_json_tok *toks, unsigned ntoks, unsigned max_depth)
{
	static const struct edge_msg_path proto = { "proto", -1, NULL, -1 };
	struct edge_json_error jerr;
	uint64_t v;
	int t;

	/* Until a document exists no token offset is looked up. */
	c->doc.ntoks = 0;
	if (c->err) {
		c->err->reason = EDGE_MSG_OK;
		c->err->field[0] = '\0';
		c->err->offset = 0;
	}
	if (len == 0 || !buf)
		return edge_msg_reject_offset(c->err, EDGE_MSG_EMPTY, "", 0);
	if (len > EDGE_MSG_MAX_PAYLOAD)
		return edge_msg_reject_offset(c->err, EDGE_MSG_TOO_LARGE, "",
					      EDGE_MSG_MAX_PAYLOAD);
	if (edge_json_parse(buf, len, toks, ntoks, max_depth, &c->doc, &jerr) < 0) {
		c->doc.ntoks = 0;
		return edge_msg_reject_offset(c->err, edge_msg_json_reason(jerr.code), "",
					      jerr.offset);
	}
	if (edge_json_type_of(&c->doc, 0) != EDGE_JSON_OBJECT)
		return edge_msg_reject_key(c, EDGE_MSG_NOT_OBJECT, "", 0);

	/* proto first: a newer message reports its version rather than
	 * whatever else changed. */
	t = edge_json_obj_get(&c->doc, 0, "proto");
	if (t < 0)
		return edge_msg_reject_key(c, EDGE_MSG_MISSING_FIELD, "proto", -1);
	if (edge_msg_check_integer(c, t, &proto) < 0)
		return -EPROTO;
	if (edge_json_get_uint(&c->doc, t, UINT64_MAX, &v) < 0 ||
	    v != EDGE_PROTO_VERSION)
		return edge_msg_reject_key(c, EDGE_MSG_UNSUPPORTED_VERSION, "proto", t);
	return 0;
}

int edge_msg_parse(const char *buf, size_t len, struct edge_msg_error *err,
		   void *msg, size_t size, struct edge_json_tok *toks,
		   unsigned ntoks, unsigned max_depth, edge_msg_body_fn body)
{
	struct edge_msg_ctx c;

	c.err = err;
	memset(msg, 0, size);
	if (edge_msg_open(&c, buf, len, toks, ntoks, max_depth) < 0)
		return -EPROTO;
	return body(&c, msg) < 0 ? -EPROTO : 0;
}

/* ----------------------------------------------------------------- fields */

int edge_msg_check_integer(struct edge_msg_ctx *c, int t,
			   const struct edge_msg_path *p)
{
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_NUMBER)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, p, t);
	if (!edge_json_is_integer(&c->doc, t))
		return edge_msg_reject_path(c, EDGE_MSG_NOT_INTEGER, p, t);
	return 0;
}

int edge_msg_read_uint(struct edge_msg_ctx *c, int t,
		       const struct edge_msg_path *p, uint64_t min,
		       uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (edge_msg_check_integer(c, t, p) < 0)
		return -EPROTO;
	if (edge_json_get_uint(&c->doc, t, max, &v) < 0 || v < min)
		return edge_msg_reject_path(c, EDGE_MSG_OUT_OF_RANGE, p, t);
	*out = v;
	return 0;
}

int edge_msg_get_uint(struct edge_msg_ctx *c, const char *key, uint64_t min,
		      uint64_t max, uint64_t *out)
{
	struct edge_msg_path p = { key, -1, NULL, -1 };
	int t = edge_json_obj_get(&c->doc, 0, key);

	if (t < 0)
		return edge_msg_reject_path(c, EDGE_MSG_MISSING_FIELD, &p, -1);
	if (edge_msg_read_uint(c, t, &p, min, max, out) < 0)
		return -EPROTO;
	return t;
}

int edge_msg_read_string(struct edge_msg_ctx *c, int t,
			 const struct edge_msg_path *p, char *out, size_t cap,
			 size_t *n)
{
	int rc;

	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, p, t);
	rc = edge_json_get_str(&c->doc, t, out, cap, n);
	if (rc == -ENOSPC)
		return edge_msg_reject_path(c, EDGE_MSG_STRING_TOO_LONG, p, t);
	if (rc < 0)
		return edge_msg_reject_path(c, EDGE_MSG_BAD_STRING, p, t);
	return 0;
}

/* ---------------------------------------------------------- string classes */

static int is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

int edge_msg_name_char(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '-';
}

int edge_msg_version_char(char c)
{
	return edge_msg_name_char(c) || c == '+';
}

int edge_msg_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

enum edge_msg_reject edge_msg_check_class(const char *s, size_t n, size_t max,
					  int (*ok)(char))
{
	size_t i;

	if (n > max)
		return EDGE_MSG_STRING_TOO_LONG;
	if (n == 0)
		return EDGE_MSG_BAD_STRING;
	for (i = 0; i < n; i++)
		if (!ok(s[i]))
			return EDGE_MSG_BAD_STRING;
	return EDGE_MSG_OK;
}

int edge_msg_sha256_ok(const char *s)
{
	size_t i;

	for (i = 0; i < EDGE_MSG_SHA256_HEX; i++)
		if (!edge_msg_lower_hex(s[i]))
			return 0;
	return s[EDGE_MSG_SHA256_HEX] == '\0';
}

/* ----------------------------------------------------------------- writer */

void edge_msg_out_n(struct edge_msg_out *o, const char *s, size_t n)
{
	if (o->buf && o->len + n < o->cap)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void edge_msg_out_str(struct edge_msg_out *o, const char *s)
{
	edge_msg_out_n(o, s, strlen(s));
}

void edge_msg_out_uint(struct edge_msg_out *o, uint64_t v)
{
	char digits[24];
	size_t n = sizeof digits;

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	edge_msg_out_n(o, digits + n, sizeof digits - n);
}

int edge_msg_out_finish(struct edge_msg_out *o)
{
	if (o->len >= o->cap || o->len > (size_t)INT32_MAX) {
		if (o->buf && o->cap)
			o->buf[0] = '\0';
		return -ENOSPC;
	}
	o->buf[o->len] = '\0';
	return (int)o->len;
}
