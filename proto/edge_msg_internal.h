/* Internal to proto/ (not part of the SDK's API): what every message
 * parser of edge_node_msg.c, edge_report.c and edge_report_parse.c shares,
 * so the envelope of node-protocol.md §4 and the error paths are written
 * once. edge_msg_common.c implements it.
 *
 * A parser keeps a struct edge_msg_ctx on its stack: the parsed document
 * (tokens in the parser's own array) and the caller's error struct (may be
 * NULL). Every reject helper fills that error (reason, field path, byte
 * offset of the token) and returns -EPROTO, so a parser writes
 * `return edge_msg_reject_path(...)`. */
#ifndef EDGE_MSG_INTERNAL_H
#define EDGE_MSG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "edge_json.h"
#include "edge_msg_reject.h"
#include "edge_node_msg.h"

#define EDGE_N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct edge_msg_ctx {
	struct edge_json_doc doc;
	struct edge_msg_error *err; /* may be NULL */
};

/* A field path: key, then [index] if index >= 0, then .key2 if key2, then
 * [index2] if index2 >= 0: "events[3].summary[2]", "model.sha256",
 * "ops[3]". A NULL or empty key is "" (the whole message). */
struct edge_msg_path {
	const char *key;
	long index;
	const char *key2;
	long index2;
};

/* Reject with the path and the offset of token tok (-1: offset 0). */
int edge_msg_reject_path(struct edge_msg_ctx *c, enum edge_msg_reject reason,
			 const struct edge_msg_path *p, int tok);
/* Reject a top-level field (or "" for the message). */
int edge_msg_reject_key(struct edge_msg_ctx *c, enum edge_msg_reject reason,
			const char *key, int tok);
/* Reject with an explicit offset, without a document (err may be NULL). */
/* The reject reason of a JSON reader error. */
enum edge_msg_reject edge_msg_json_reason(enum edge_json_error_code code);

/* A JSON text writer into buf[0..cap): appends while it fits and counts
 * every byte (buf NULL: counts only), so one pass tells the length needed.
 * Strings are written as given: callers write only text validated against
 * a class that needs no escaping. */
struct edge_msg_out {
	char *buf;
	size_t cap;
	size_t len;
};
void edge_msg_out_n(struct edge_msg_out *o, const char *s, size_t n);
void edge_msg_out_str(struct edge_msg_out *o, const char *s);
void edge_msg_out_uint(struct edge_msg_out *o, uint64_t v);
/* NUL-terminates: the length, or -ENOSPC (buf[0] = '\0' when cap > 0). */
int edge_msg_out_finish(struct edge_msg_out *o);

int edge_msg_reject_offset(struct edge_msg_error *err,
			   enum edge_msg_reject reason, const char *field,
			   size_t offset);

/* Parse buf[0..len) into c->doc with toks[ntoks] and check the envelope
 * every message shares (§4): size, JSON, a top-level object, "proto" 1
 * checked before any other field. Clears *c->err first. 0 or -EPROTO. */
int edge_msg_open(struct edge_msg_ctx *c, const char *buf, size_t len,
		  struct edge_json_tok *toks, unsigned ntoks, unsigned max_depth);

/* A message's fields after the envelope; msg is the parser's struct. */
typedef int (*edge_msg_body_fn)(struct edge_msg_ctx *c, void *msg);

/* The frame of every parser: clear msg[0..size), open the envelope with
 * toks[ntoks] (the caller's: its size is the message's token limit), then
 * let body read the fields. 0 or -EPROTO with *err filled. */
int edge_msg_parse(const char *buf, size_t len, struct edge_msg_error *err,
		   void *msg, size_t size, struct edge_json_tok *toks,
		   unsigned ntoks, unsigned max_depth, edge_msg_body_fn body);

/* Number token t holding an integer (wrong_type, not_integer). */
int edge_msg_check_integer(struct edge_msg_ctx *c, int t,
			   const struct edge_msg_path *p);
/* Integer token t in min..max (also out_of_range) into *out. */
int edge_msg_read_uint(struct edge_msg_ctx *c, int t,
		       const struct edge_msg_path *p, uint64_t min,
		       uint64_t max, uint64_t *out);
/* Required top-level integer field key in min..max (also missing_field)
 * into *out: its token, or -EPROTO. */
int edge_msg_get_uint(struct edge_msg_ctx *c, const char *key, uint64_t min,
		      uint64_t max, uint64_t *out);
/* String token t into out[cap], NUL-terminated, *n its length (n may be
 * NULL): wrong_type, string_too_long, bad_string (U+0000 inside). No class
 * is checked. */
int edge_msg_read_string(struct edge_msg_ctx *c, int t,
			 const struct edge_msg_path *p, char *out, size_t cap,
			 size_t *n);

/* String classes of §4. */
int edge_msg_name_char(char c);    /* name: [A-Za-z0-9._-] */
int edge_msg_version_char(char c); /* version: name and '+' */
int edge_msg_lower_hex(char c);    /* [0-9a-f] */
/* EDGE_MSG_OK if s[0..n) is 1..max characters of the class, else
 * string_too_long or bad_string. */
enum edge_msg_reject edge_msg_check_class(const char *s, size_t n, size_t max,
					  int (*ok)(char));
/* s is exactly EDGE_MSG_SHA256_HEX lowercase hex digits, NUL-terminated. */
int edge_msg_sha256_ok(const char *s);

#endif
