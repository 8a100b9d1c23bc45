/* Strict, allocation-free JSON reader and writer (see edge_json.h). */
#include "edge_json.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "edge_bytes.h"

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is invalid/truncated. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

/* Four hex digits at s (caller checked there are four bytes); -1 if not hex. */
static long hex4(const char *s)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int h = edge__hex_val(s[i]);

		if (h < 0)
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

static size_t utf8_encode(unsigned long cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---------------------------------------------------------------- parser */

struct parser {
	const char *buf;
	size_t len;
	size_t pos;
	struct edge_json_tok *toks;
	unsigned cap;
	unsigned n;
	unsigned max_depth;
	enum edge_json_error_code code;
	size_t err_pos;
};

static int fail(struct parser *p, enum edge_json_error_code code, size_t at)
{
	p->code = code;
	p->err_pos = at;
	return -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->buf[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int new_tok(struct parser *p, enum edge_json_type type, unsigned depth)
{
	struct edge_json_tok *t;

	if (depth > p->max_depth)
		return fail(p, EDGE_JSON_E_DEPTH, p->pos);
	if (p->n >= p->cap)
		return fail(p, EDGE_JSON_E_TOKENS, p->pos);
	t = &p->toks[p->n];
	memset(t, 0, sizeof *t);
	t->type = (uint8_t)type;
	t->depth = (uint16_t)depth;
	t->start = (uint32_t)p->pos;
	t->next = p->n + 1;
	return (int)p->n++;
}

/* String starting at the opening quote at p->pos. */
static int parse_string(struct parser *p, unsigned depth)
{
	int t = new_tok(p, EDGE_JSON_STRING, depth);
	uint8_t flags = 0;

	if (t < 0)
		return -1;
	p->pos++; /* opening quote */
	p->toks[t].start = (uint32_t)p->pos;
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len)
			return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
		c = (unsigned char)p->buf[p->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, EDGE_JSON_E_CONTROL, p->pos);
		if (c == '\\') {
			char e;

			flags |= EDGE_JSON_F_ESCAPED;
			if (p->pos + 1 >= p->len)
				return fail(p, EDGE_JSON_E_SYNTAX, p->len);
			e = p->buf[p->pos + 1];
			if (e == 'u') {
				long cp;

				if (p->len - p->pos < 6 ||
				    (cp = hex4(p->buf + p->pos + 2)) < 0)
					return fail(p, EDGE_JSON_E_ESCAPE, p->pos);
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(p, EDGE_JSON_E_ESCAPE, p->pos);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					long lo;

					if (p->len - p->pos < 12 ||
					    p->buf[p->pos + 6] != '\\' ||
					    p->buf[p->pos + 7] != 'u' ||
					    (lo = hex4(p->buf + p->pos + 8)) < 0xdc00 ||
					    lo > 0xdfff)
						return fail(p, EDGE_JSON_E_ESCAPE, p->pos);
					p->pos += 12;
				} else {
					p->pos += 6;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == '\0')
				return fail(p, EDGE_JSON_E_ESCAPE, p->pos);
			p->pos += 2;
			continue;
		}
		if (c < 0x80) {
			p->pos++;
		} else {
			size_t n = utf8_seq_len((const unsigned char *)p->buf + p->pos,
						p->len - p->pos);
			if (!n)
				return fail(p, EDGE_JSON_E_UTF8, p->pos);
			p->pos += n;
		}
	}
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].flags = flags;
	p->pos++; /* closing quote */
	return t;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p, unsigned depth)
{
	size_t s = p->pos;
	uint8_t flags = EDGE_JSON_F_INTEGER;
	int t;

	if (p->pos < p->len && p->buf[p->pos] == '-') {
		flags |= EDGE_JSON_F_NEGATIVE;
		p->pos++;
	}
	if (p->pos >= p->len || !is_digit(p->buf[p->pos]))
		return fail(p, EDGE_JSON_E_NUMBER, s);
	if (p->buf[p->pos] == '0') {
		p->pos++;
		if (p->pos < p->len && is_digit(p->buf[p->pos]))
			return fail(p, EDGE_JSON_E_NUMBER, s); /* leading zero */
	} else {
		while (p->pos < p->len && is_digit(p->buf[p->pos]))
			p->pos++;
	}
	if (p->pos < p->len && p->buf[p->pos] == '.') {
		flags &= (uint8_t)~EDGE_JSON_F_INTEGER;
		p->pos++;
		if (p->pos >= p->len || !is_digit(p->buf[p->pos]))
			return fail(p, EDGE_JSON_E_NUMBER, s);
		while (p->pos < p->len && is_digit(p->buf[p->pos]))
			p->pos++;
	}
	if (p->pos < p->len && (p->buf[p->pos] == 'e' || p->buf[p->pos] == 'E')) {
		flags &= (uint8_t)~EDGE_JSON_F_INTEGER;
		p->pos++;
		if (p->pos < p->len && (p->buf[p->pos] == '+' || p->buf[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || !is_digit(p->buf[p->pos]))
			return fail(p, EDGE_JSON_E_NUMBER, s);
		while (p->pos < p->len && is_digit(p->buf[p->pos]))
			p->pos++;
	}
	t = new_tok(p, EDGE_JSON_NUMBER, depth);
	if (t < 0)
		return -1;
	p->toks[t].start = (uint32_t)s;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].flags = flags;
	return t;
}

static int parse_literal(struct parser *p, unsigned depth, const char *word,
			 enum edge_json_type type)
{
	size_t n = strlen(word);
	int t;

	if (p->len - p->pos < n || memcmp(p->buf + p->pos, word, n) != 0)
		return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
	t = new_tok(p, type, depth);
	if (t < 0)
		return -1;
	p->pos += n;
	p->toks[t].end = (uint32_t)p->pos;
	return t;
}

/* Byte-wise reader of an escaped string token's decoded value. The token
 * was validated by the parser, so escapes here are well-formed. */
struct str_cursor {
	const char *p;
	const char *end;
	unsigned char pend[4];
	unsigned npend;
	unsigned ipend;
};

static void cursor_init(struct str_cursor *c, const struct edge_json_doc *doc,
			const struct edge_json_tok *t)
{
	c->p = doc->buf + t->start;
	c->end = doc->buf + t->end;
	c->npend = c->ipend = 0;
}

/* Next decoded byte, or -1 at the end. */
static int cursor_next(struct str_cursor *c)
{
	static const char esc_in[] = "\"\\/bfnrt";
	static const char esc_out[] = "\"\\/\b\f\n\r\t";

	if (c->ipend < c->npend)
		return c->pend[c->ipend++];
	if (c->p >= c->end)
		return -1;
	if (*c->p != '\\')
		return (unsigned char)*c->p++;
	if (c->p[1] == 'u' && c->end - c->p >= 6) {
		unsigned long cp = (unsigned long)hex4(c->p + 2);

		c->p += 6;
		if (cp >= 0xd800 && cp <= 0xdbff && c->end - c->p >= 6) {
			unsigned long lo = (unsigned long)hex4(c->p + 2);

			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			c->p += 6;
		}
		c->npend = (unsigned)utf8_encode(cp, c->pend);
		c->ipend = 1;
		return c->pend[0];
	} else {
		const char *e = strchr(esc_in, c->p[1]);

		c->p += 2;
		return e ? (unsigned char)esc_out[e - esc_in] : '?';
	}
}

static int keys_equal(const struct edge_json_doc *doc,
		      const struct edge_json_tok *a, const struct edge_json_tok *b)
{
	struct str_cursor ca, cb;
	int x, y;

	if (!(a->flags & EDGE_JSON_F_ESCAPED) && !(b->flags & EDGE_JSON_F_ESCAPED))
		return a->end - a->start == b->end - b->start &&
		       memcmp(doc->buf + a->start, doc->buf + b->start,
			      a->end - a->start) == 0;
	cursor_init(&ca, doc, a);
	cursor_init(&cb, doc, b);
	do {
		x = cursor_next(&ca);
		y = cursor_next(&cb);
		if (x != y)
			return 0;
	} while (x >= 0);
	return 1;
}

/* Is key token k a repeat of an earlier key of object obj? */
static int key_is_duplicate(struct parser *p, unsigned obj, unsigned k)
{
	struct edge_json_doc doc;
	unsigned i = obj + 1;

	doc.buf = p->buf;
	doc.len = p->len;
	doc.toks = p->toks;
	doc.ntoks = p->n;
	while (i < k) {
		if (keys_equal(&doc, &p->toks[i], &p->toks[k]))
			return 1;
		i = p->toks[i + 1].next; /* skip the value's subtree */
	}
	return 0;
}

static int run_parser(struct parser *p)
{
	unsigned stack[EDGE_JSON_DEPTH_LIMIT];
	unsigned sp = 0;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, EDGE_JSON_E_EMPTY, p->pos);

	for (;;) {
		/* A value is expected at p->pos. */
		unsigned depth = sp + 1;
		int t;
		char c;

		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
		c = p->buf[p->pos];
		if (c == '{' || c == '[') {
			t = new_tok(p, c == '{' ? EDGE_JSON_OBJECT : EDGE_JSON_ARRAY,
				    depth);
			if (t < 0)
				return -1;
			p->pos++;
			stack[sp++] = (unsigned)t;
			skip_ws(p);
			if (p->pos < p->len && p->buf[p->pos] == (c == '{' ? '}' : ']'))
				goto close_container;
			if (c == '[')
				continue;
			goto expect_key;
		} else if (c == '"') {
			t = parse_string(p, depth);
		} else if (c == '-' || is_digit(c)) {
			t = parse_number(p, depth);
		} else if (c == 't') {
			t = parse_literal(p, depth, "true", EDGE_JSON_TRUE);
		} else if (c == 'f') {
			t = parse_literal(p, depth, "false", EDGE_JSON_FALSE);
		} else if (c == 'n') {
			t = parse_literal(p, depth, "null", EDGE_JSON_NULL);
		} else if (c == '+' || c == '.') {
			return fail(p, EDGE_JSON_E_NUMBER, p->pos);
		} else {
			return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
		}
		if (t < 0)
			return -1;

	after_value:
		/* A value (scalar or closed container) just ended. */
		if (sp == 0) {
			skip_ws(p);
			if (p->pos < p->len)
				return fail(p, EDGE_JSON_E_TRAILING, p->pos);
			return 0;
		}
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
		{
			struct edge_json_tok *top = &p->toks[stack[sp - 1]];
			char close = top->type == EDGE_JSON_OBJECT ? '}' : ']';

			top->size++;
			c = p->buf[p->pos];
			if (c == close)
				goto close_container;
			if (c != ',')
				return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
			p->pos++;
			if (top->type == EDGE_JSON_ARRAY)
				continue;
		}

	expect_key:
		skip_ws(p);
		if (p->pos >= p->len || p->buf[p->pos] != '"')
			return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
		{
			size_t key_pos = p->pos;

			t = parse_string(p, sp + 1);
			if (t < 0)
				return -1;
			if (key_is_duplicate(p, stack[sp - 1], (unsigned)t))
				return fail(p, EDGE_JSON_E_DUPKEY, key_pos);
		}
		skip_ws(p);
		if (p->pos >= p->len || p->buf[p->pos] != ':')
			return fail(p, EDGE_JSON_E_SYNTAX, p->pos);
		p->pos++;
		/* A key is not a value of its own: its next is its value's. */
		continue;

	close_container:
		p->pos++;
		{
			struct edge_json_tok *top = &p->toks[stack[--sp]];

			top->end = (uint32_t)p->pos;
			top->next = p->n;
		}
		goto after_value;
	}
}

int edge_json_parse(const char *buf, size_t len, struct edge_json_tok *toks,
		    unsigned cap, unsigned max_depth, struct edge_json_doc *doc,
		    struct edge_json_error *err)
{
	struct parser p;
	int rc;

	memset(&p, 0, sizeof p);
	p.buf = buf;
	p.len = len;
	p.toks = toks;
	p.cap = cap;
	p.max_depth = max_depth > EDGE_JSON_DEPTH_LIMIT ? EDGE_JSON_DEPTH_LIMIT
							 : max_depth;
	if (len > EDGE_JSON_MAX_INPUT) {
		rc = fail(&p, EDGE_JSON_E_TOO_LARGE, 0);
	} else if (!buf && len) {
		rc = fail(&p, EDGE_JSON_E_SYNTAX, 0);
	} else {
		if (!buf)
			p.buf = "";
		rc = run_parser(&p);
	}
	if (err) {
		err->code = rc < 0 ? p.code : EDGE_JSON_E_NONE;
		err->offset = rc < 0 ? p.err_pos : 0;
	}
	if (rc < 0) {
		if (p.code == EDGE_JSON_E_TOKENS)
			return -ENOSPC;
		if (p.code == EDGE_JSON_E_TOO_LARGE)
			return -EMSGSIZE;
		return -EPROTO;
	}
	if (doc) {
		doc->buf = p.buf;
		doc->len = len;
		doc->toks = toks;
		doc->ntoks = p.n;
	}
	return (int)p.n;
}

const char *edge_json_error_name(enum edge_json_error_code code)
{
	switch (code) {
	case EDGE_JSON_E_NONE: return "none";
	case EDGE_JSON_E_SYNTAX: return "syntax";
	case EDGE_JSON_E_UTF8: return "utf8";
	case EDGE_JSON_E_ESCAPE: return "escape";
	case EDGE_JSON_E_NUMBER: return "number";
	case EDGE_JSON_E_CONTROL: return "control";
	case EDGE_JSON_E_TRAILING: return "trailing";
	case EDGE_JSON_E_DEPTH: return "depth";
	case EDGE_JSON_E_TOKENS: return "tokens";
	case EDGE_JSON_E_DUPKEY: return "duplicate_key";
	case EDGE_JSON_E_EMPTY: return "empty";
	case EDGE_JSON_E_TOO_LARGE: return "too_large";
	}
	return "unknown";
}

/* ------------------------------------------------------------ navigation */

static const struct edge_json_tok *tok_at(const struct edge_json_doc *doc, int t)
{
	if (!doc || !doc->toks || t < 0 || (unsigned)t >= doc->ntoks)
		return NULL;
	return &doc->toks[t];
}

enum edge_json_type edge_json_type_of(const struct edge_json_doc *doc, int t)
{
	const struct edge_json_tok *tok = tok_at(doc, t);

	return tok ? (enum edge_json_type)tok->type : (enum edge_json_type)0;
}

int edge_json_first(const struct edge_json_doc *doc, int t)
{
	const struct edge_json_tok *tok = tok_at(doc, t);

	if (!tok)
		return -EINVAL;
	if (tok->type != EDGE_JSON_OBJECT && tok->type != EDGE_JSON_ARRAY)
		return -EINVAL;
	return tok->size ? t + 1 : -ENOENT;
}

int edge_json_next(const struct edge_json_doc *doc, int t)
{
	const struct edge_json_tok *tok = tok_at(doc, t);
	unsigned next;

	if (!tok)
		return -EINVAL;
	next = tok->next;
	/* A sibling has the same depth; anything else means the parent ended.
	 * Keys share their value's depth, so this also steps value → key. */
	if (next >= doc->ntoks || doc->toks[next].depth != tok->depth)
		return -ENOENT;
	return (int)next;
}

int edge_json_str_eq(const struct edge_json_doc *doc, int t, const char *s)
{
	const struct edge_json_tok *tok = tok_at(doc, t);
	struct str_cursor c;
	int b;

	if (!tok || tok->type != EDGE_JSON_STRING || !s)
		return 0;
	if (!(tok->flags & EDGE_JSON_F_ESCAPED)) {
		size_t n = tok->end - tok->start;

		return strlen(s) == n && memcmp(doc->buf + tok->start, s, n) == 0;
	}
	cursor_init(&c, doc, tok);
	while ((b = cursor_next(&c)) >= 0) {
		if (*s == '\0' || (unsigned char)*s != b)
			return 0;
		s++;
	}
	return *s == '\0';
}

int edge_json_obj_get(const struct edge_json_doc *doc, int obj, const char *key)
{
	const struct edge_json_tok *tok = tok_at(doc, obj);
	int k;

	if (!tok || tok->type != EDGE_JSON_OBJECT || !key)
		return -EINVAL;
	for (k = edge_json_first(doc, obj); k >= 0; k = edge_json_next(doc, k + 1))
		if (edge_json_str_eq(doc, k, key))
			return k + 1;
	return -ENOENT;
}

/* ---------------------------------------------------------- typed reads */

int edge_json_get_str(const struct edge_json_doc *doc, int t, char *out,
		      size_t cap, size_t *out_len)
{
	const struct edge_json_tok *tok = tok_at(doc, t);
	struct str_cursor c;
	size_t n = 0;
	int b;

	if (!tok || tok->type != EDGE_JSON_STRING)
		return -EINVAL;
	cursor_init(&c, doc, tok);
	while ((b = cursor_next(&c)) >= 0) {
		if (b == 0)
			return -EILSEQ;
		if (n + 1 >= cap)
			return -ENOSPC;
		out[n++] = (char)b;
	}
	if (cap == 0)
		return -ENOSPC;
	out[n] = '\0';
	if (out_len)
		*out_len = n;
	return 0;
}

int edge_json_is_integer(const struct edge_json_doc *doc, int t)
{
	const struct edge_json_tok *tok = tok_at(doc, t);

	return tok && tok->type == EDGE_JSON_NUMBER &&
	       (tok->flags & EDGE_JSON_F_INTEGER);
}

/* Magnitude of an integer token; -ERANGE above UINT64_MAX. */
static int int_magnitude(const struct edge_json_doc *doc,
			 const struct edge_json_tok *tok, uint64_t *mag)
{
	const char *s = doc->buf + tok->start;
	const char *e = doc->buf + tok->end;
	uint64_t v = 0;

	if (*s == '-')
		s++;
	for (; s < e; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*mag = v;
	return 0;
}

int edge_json_get_uint(const struct edge_json_doc *doc, int t, uint64_t max,
		       uint64_t *out)
{
	const struct edge_json_tok *tok = tok_at(doc, t);
	uint64_t v;

	if (!tok || tok->type != EDGE_JSON_NUMBER)
		return -EINVAL;
	if (!(tok->flags & EDGE_JSON_F_INTEGER))
		return -ERANGE;
	if (int_magnitude(doc, tok, &v) < 0 || v > max)
		return -ERANGE;
	if ((tok->flags & EDGE_JSON_F_NEGATIVE) && v != 0)
		return -ERANGE;
	*out = v;
	return 0;
}

int edge_json_get_int(const struct edge_json_doc *doc, int t, int64_t min,
		      int64_t max, int64_t *out)
{
	const struct edge_json_tok *tok = tok_at(doc, t);
	uint64_t mag;
	int64_t v;

	if (!tok || tok->type != EDGE_JSON_NUMBER)
		return -EINVAL;
	if (!(tok->flags & EDGE_JSON_F_INTEGER))
		return -ERANGE;
	if (int_magnitude(doc, tok, &mag) < 0)
		return -ERANGE;
	if (tok->flags & EDGE_JSON_F_NEGATIVE) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return -ERANGE;
		v = (int64_t)mag;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int edge_json_get_bool(const struct edge_json_doc *doc, int t, int *out)
{
	const struct edge_json_tok *tok = tok_at(doc, t);

	if (!tok || (tok->type != EDGE_JSON_TRUE && tok->type != EDGE_JSON_FALSE))
		return -EINVAL;
	*out = tok->type == EDGE_JSON_TRUE;
	return 0;
}

int edge_json_get_str_array(const struct edge_json_doc *doc, int t, char *out,
			    size_t item_cap, size_t max_items, size_t *count,
			    size_t *bad_index)
{
	const struct edge_json_tok *tok = tok_at(doc, t);
	size_t i = 0;
	int e;

	if (bad_index)
		*bad_index = 0;
	if (!tok || tok->type != EDGE_JSON_ARRAY)
		return -EINVAL;
	if (tok->size > max_items)
		return -E2BIG;
	for (e = edge_json_first(doc, t); e >= 0; e = edge_json_next(doc, e), i++) {
		int rc = edge_json_get_str(doc, e, out + i * item_cap, item_cap, NULL);

		if (rc < 0) {
			if (bad_index)
				*bad_index = i;
			return rc;
		}
	}
	if (count)
		*count = i;
	return 0;
}

/* ---------------------------------------------------------------- writer */

#define LEVEL_HAS_ITEMS 0x1u
#define LEVEL_IS_OBJECT 0x2u

void edge_json_writer_init(struct edge_json_writer *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof *w);
	w->buf = buf;
	w->cap = buf ? cap : 0;
	if (w->cap)
		w->buf[0] = '\0';
}

static void put(struct edge_json_writer *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->cap == 0 || n >= w->cap - w->len) { /* keep room for the NUL */
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Separator and state checks before a value (not a key). */
static void before_value(struct edge_json_writer *w)
{
	uint8_t *lvl = &w->has_items[w->depth];

	if (w->err)
		return;
	if (w->depth == 0) {
		if (*lvl & LEVEL_HAS_ITEMS)
			w->err = -EINVAL; /* a second top-level value */
		*lvl |= LEVEL_HAS_ITEMS;
		return;
	}
	if (*lvl & LEVEL_IS_OBJECT) {
		if (!w->after_key)
			w->err = -EINVAL;
		w->after_key = 0;
		return;
	}
	if (*lvl & LEVEL_HAS_ITEMS)
		put(w, ",", 1);
	*lvl |= LEVEL_HAS_ITEMS;
}

static void open_container(struct edge_json_writer *w, int object)
{
	before_value(w);
	if (w->err)
		return;
	if (w->depth + 1 >= EDGE_JSON_WRITER_MAX_DEPTH) {
		w->err = -EINVAL;
		return;
	}
	put(w, object ? "{" : "[", 1);
	w->has_items[++w->depth] = object ? LEVEL_IS_OBJECT : 0;
}

static void close_container(struct edge_json_writer *w, int object)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->after_key ||
	    !!(w->has_items[w->depth] & LEVEL_IS_OBJECT) != !!object) {
		w->err = -EINVAL;
		return;
	}
	w->depth--;
	put(w, object ? "}" : "]", 1);
}

void edge_json_obj_begin(struct edge_json_writer *w) { open_container(w, 1); }
void edge_json_obj_end(struct edge_json_writer *w) { close_container(w, 1); }
void edge_json_arr_begin(struct edge_json_writer *w) { open_container(w, 0); }
void edge_json_arr_end(struct edge_json_writer *w) { close_container(w, 0); }

/* Escaped string body (no quotes) into the writer; -EINVAL on invalid
 * UTF-8. */
static void put_escaped_body(struct edge_json_writer *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	while (i < n && !w->err) {
		unsigned char c;
		size_t run = i;

		/* Copy runs of bytes that need no escape in one go. */
		while (run < n) {
			unsigned char r = (unsigned char)s[run];
			size_t k;

			if (r < 0x20 || r == '"' || r == '\\')
				break;
			if (r < 0x80) {
				run++;
				continue;
			}
			k = utf8_seq_len((const unsigned char *)s + run, n - run);
			if (!k) {
				w->err = -EINVAL;
				return;
			}
			run += k;
		}
		if (run > i) {
			put(w, s + i, run - i);
			i = run;
			continue;
		}
		c = (unsigned char)s[i++];
		switch (c) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		case '\b': put(w, "\\b", 2); break;
		case '\f': put(w, "\\f", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };

			put(w, u, 6);
		}
		}
	}
}

static void put_escaped(struct edge_json_writer *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	put_escaped_body(w, s, n);
	put(w, "\"", 1);
}

void edge_json_key(struct edge_json_writer *w, const char *key)
{
	uint8_t *lvl;

	if (w->err)
		return;
	lvl = &w->has_items[w->depth];
	if (!key || w->depth == 0 || !(*lvl & LEVEL_IS_OBJECT) || w->after_key) {
		w->err = -EINVAL;
		return;
	}
	if (*lvl & LEVEL_HAS_ITEMS)
		put(w, ",", 1);
	*lvl |= LEVEL_HAS_ITEMS;
	put_escaped(w, key, strlen(key));
	put(w, ":", 1);
	w->after_key = 1;
}

void edge_json_str_n(struct edge_json_writer *w, const char *s, size_t n)
{
	before_value(w);
	if (!s && n) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_escaped(w, s ? s : "", n);
}

void edge_json_str(struct edge_json_writer *w, const char *s)
{
	edge_json_str_n(w, s, s ? strlen(s) : 0);
}

static void put_u64(struct edge_json_writer *w, uint64_t v, int negative)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		tmp[--i] = '-';
	put(w, tmp + i, sizeof tmp - i);
}

void edge_json_int(struct edge_json_writer *w, int64_t v)
{
	before_value(w);
	if (v < 0)
		put_u64(w, (uint64_t)0 - (uint64_t)v, 1);
	else
		put_u64(w, (uint64_t)v, 0);
}

void edge_json_uint(struct edge_json_writer *w, uint64_t v)
{
	before_value(w);
	put_u64(w, v, 0);
}

void edge_json_bool(struct edge_json_writer *w, int v)
{
	before_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void edge_json_null(struct edge_json_writer *w)
{
	before_value(w);
	put(w, "null", 4);
}

int edge_json_writer_finish(const struct edge_json_writer *w)
{
	if (w->err)
		return w->err;
	if (w->depth != 0 || w->after_key || !(w->has_items[0] & LEVEL_HAS_ITEMS))
		return -EINVAL;
	if (w->len > INT_MAX)
		return -ENOSPC;
	return (int)w->len;
}

int edge_json_escape(char *out, size_t cap, const char *s, size_t n)
{
	struct edge_json_writer w;

	if (!s && n)
		return -EINVAL;
	edge_json_writer_init(&w, out, cap);
	if (!w.cap)
		return -ENOSPC;
	put_escaped_body(&w, s ? s : "", n);
	if (w.err)
		return w.err;
	if (w.len > INT_MAX)
		return -ENOSPC;
	return (int)w.len;
}
