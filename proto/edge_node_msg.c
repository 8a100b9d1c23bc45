/* Node messages of protocol v1: strict parsers and validating encoders. */
#include "edge_node_msg.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "edge_json.h"
#include "edge_msg_internal.h"

/* ------------------------------------------------------- character sets */

enum charset {
	CS_VERSION, /* [A-Za-z0-9._+-] */
	CS_TOKEN,   /* [A-Za-z0-9._-] */
	CS_OP,      /* [A-Z0-9_] */
	CS_LOWER,   /* [a-z0-9_] */
	CS_DETAIL,  /* printable ASCII, may be empty */
};

static int in_charset(char c, enum charset cs)
{
	switch (cs) {
	case CS_VERSION:
		return edge_msg_version_char(c);
	case CS_TOKEN:
		return edge_msg_name_char(c);
	case CS_OP:
		return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
	case CS_LOWER:
		return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
	case CS_DETAIL:
		return c >= 0x20 && c <= 0x7e;
	}
	return 0;
}

/* Length of s if it fits cap (with NUL), else cap (too long). */
static size_t bounded_len(const char *s, size_t cap)
{
	size_t n = 0;

	while (n < cap && s[n])
		n++;
	return n;
}

/* 0 if ok, else the reject reason. */
static enum edge_msg_reject check_text(const char *s, size_t cap, enum charset cs)
{
	size_t n = bounded_len(s, cap), i;

	if (n >= cap)
		return EDGE_MSG_STRING_TOO_LONG;
	if (n == 0 && cs != CS_DETAIL)
		return EDGE_MSG_BAD_STRING;
	for (i = 0; i < n; i++)
		if (!in_charset(s[i], cs))
			return EDGE_MSG_BAD_STRING;
	return EDGE_MSG_OK;
}

/* ------------------------------------------------------ enum name tables */

static const char *const state_names[] = {
	[EDGE_MSG_STATE_ONLINE] = "online",
	[EDGE_MSG_STATE_OFFLINE] = "offline",
};

static const char *const status_reason_names[] = {
	[EDGE_MSG_STATUS_NONE] = "",
	[EDGE_MSG_STATUS_BOOT] = "boot",
	[EDGE_MSG_STATUS_RECONNECT] = "reconnect",
	[EDGE_MSG_STATUS_SHUTDOWN] = "shutdown",
	[EDGE_MSG_STATUS_REBOOT] = "reboot",
	[EDGE_MSG_STATUS_OTA] = "ota",
	[EDGE_MSG_STATUS_SLEEP] = "sleep",
	[EDGE_MSG_STATUS_LOST] = "lost",
	[EDGE_MSG_STATUS_OTHER] = "other",
};

static const char *const refusal_names[] = {
	[EDGE_MSG_REFUSE_NONE] = "",
	[EDGE_MSG_REFUSE_DEVICE_LIMIT] = "device_limit",
	[EDGE_MSG_REFUSE_BAD_HELLO] = "bad_hello",
	[EDGE_MSG_REFUSE_UNSUPPORTED_VERSION] = "unsupported_version",
	[EDGE_MSG_REFUSE_NOT_ALLOWED] = "not_allowed",
	[EDGE_MSG_REFUSE_INTERNAL] = "internal",
	[EDGE_MSG_REFUSE_OTHER] = "other",
};

const char *edge_msg_state_name(enum edge_msg_state s)
{
	if ((unsigned)s >= EDGE_N_ELEMS(state_names) || !state_names[s])
		return "unknown";
	return state_names[s];
}

const char *edge_msg_status_reason_name(enum edge_msg_status_reason r)
{
	if ((unsigned)r >= EDGE_N_ELEMS(status_reason_names))
		return "unknown";
	return r == EDGE_MSG_STATUS_NONE ? "none" : status_reason_names[r];
}

const char *edge_msg_refusal_name(enum edge_msg_refusal r)
{
	if ((unsigned)r >= EDGE_N_ELEMS(refusal_names))
		return "unknown";
	return r == EDGE_MSG_REFUSE_NONE ? "none" : refusal_names[r];
}

/* Index of text in names[1..n-2] (the known values), or `other`. */
static int lookup_name(const char *const *names, size_t n, const char *text,
		       int other)
{
	size_t i;

	for (i = 1; i + 1 < n; i++)
		if (strcmp(names[i], text) == 0)
			return (int)i;
	return other;
}

/* --------------------------------------------------------- parse context */

/* Field path of the node messages: parent "." key, or parent (else key)
 * "[" index "]" when index >= 0. */
static struct edge_msg_path node_path(const char *parent, const char *key,
				      long index)
{
	struct edge_msg_path p = { NULL, -1, NULL, -1 };

	if (parent && key) {
		p.key = parent;
		p.key2 = key;
	} else {
		p.key = parent ? parent : key;
		p.index = index;
	}
	return p;
}

/* Record a rejection; tok locates the offset (-1: none). */
static int reject_at(struct edge_msg_ctx *c, enum edge_msg_reject reason,
		     const char *parent, const char *key, long index, int tok)
{
	struct edge_msg_path p = node_path(parent, key, index);

	return edge_msg_reject_path(c, reason, &p, tok);
}

/* A number token holding an integer, else the rejection for its field. */
static int check_integer(struct edge_msg_ctx *c, int t, const char *parent,
			 const char *key)
{
	struct edge_msg_path p = node_path(parent, key, -1);

	return edge_msg_check_integer(c, t, &p);
}

/* Token of obj.key: >= 0 found, -ENOENT absent (and not required), or
 * -EPROTO (missing but required). parent names obj in error paths. */
static int field(struct edge_msg_ctx *c, int obj, const char *parent,
		 const char *key, int required)
{
	int t = edge_json_obj_get(&c->doc, obj, key);

	if (t >= 0)
		return t;
	if (required)
		return reject_at(c, EDGE_MSG_MISSING_FIELD, parent, key, -1, -1);
	return -ENOENT;
}

static int read_uint(struct edge_msg_ctx *c, int t, const char *parent,
		     const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	struct edge_msg_path p = node_path(parent, key, -1);

	return edge_msg_read_uint(c, t, &p, min, max, out);
}

static int get_uint(struct edge_msg_ctx *c, int obj, const char *parent,
		    const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	int t = field(c, obj, parent, key, 1);

	if (t < 0)
		return t;
	return read_uint(c, t, parent, key, min, max, out);
}


/* String token t into out[cap] with charset cs; index >= 0 for arrays. */
static int read_text(struct edge_msg_ctx *c, int t, const char *parent,
		     const char *key, long index, char *out, size_t cap,
		     enum charset cs)
{
	struct edge_msg_path p = node_path(parent, key, index);
	enum edge_msg_reject r;

	if (edge_msg_read_string(c, t, &p, out, cap, NULL) < 0)
		return -EPROTO;
	r = check_text(out, cap, cs);
	if (r != EDGE_MSG_OK)
		return edge_msg_reject_path(c, r, &p, t);
	return 0;
}

static int get_text(struct edge_msg_ctx *c, int obj, const char *parent,
		    const char *key, int required, char *out, size_t cap,
		    enum charset cs)
{
	int t = field(c, obj, parent, key, required);

	out[0] = '\0';
	if (t < 0)
		return t;
	return read_text(c, t, parent, key, -1, out, cap, cs);
}

static int get_object(struct edge_msg_ctx *c, int obj, const char *key,
		      int required, int allow_null)
{
	int t = field(c, obj, NULL, key, required);

	if (t < 0)
		return t;
	if (allow_null && edge_json_type_of(&c->doc, t) == EDGE_JSON_NULL)
		return -ENOENT;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_OBJECT)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, NULL, key, -1, t);
	return t;
}

/* ------------------------------------------------------------ field tables */

/* A required unsigned integer member: wire key (the member's name), place
 * in the message struct, width and accepted range. One table serves the
 * parser, the encoder's validation and the encoder's output. */
struct uint_field {
	const char *key;
	size_t offset;
	int is_u64;
	uint64_t min, max;
};

#define U32_FIELD(type, member, lo, hi) \
	{ #member, offsetof(type, member), 0, (lo), (hi) }
#define U64_FIELD(type, member, lo, hi) \
	{ #member, offsetof(type, member), 1, (lo), (hi) }

static uint64_t uint_member(const struct uint_field *f, const void *msg)
{
	const char *p = (const char *)msg + f->offset;
	uint64_t v64;
	uint32_t v32;

	if (f->is_u64) {
		memcpy(&v64, p, sizeof v64);
		return v64;
	}
	memcpy(&v32, p, sizeof v32);
	return v32;
}

static void set_uint_member(const struct uint_field *f, void *msg, uint64_t v)
{
	char *p = (char *)msg + f->offset;
	uint32_t v32 = (uint32_t)v;

	if (f->is_u64)
		memcpy(p, &v, sizeof v);
	else
		memcpy(p, &v32, sizeof v32);
}

static int parse_uints(struct edge_msg_ctx *c, const struct uint_field *f,
		       size_t n, void *msg)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < n; i++) {
		if (get_uint(c, 0, NULL, f[i].key, f[i].min, f[i].max, &v) < 0)
			return -EPROTO;
		set_uint_member(&f[i], msg, v);
	}
	return 0;
}

static int uints_valid(const struct uint_field *f, size_t n, const void *msg)
{
	size_t i;
	uint64_t v;

	for (i = 0; i < n; i++) {
		v = uint_member(&f[i], msg);
		if (v < f[i].min || v > f[i].max)
			return 0;
	}
	return 1;
}

static void encode_uints(struct edge_json_writer *w, const struct uint_field *f,
			 size_t n, const void *msg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		edge_json_key(w, f[i].key);
		edge_json_uint(w, uint_member(&f[i], msg));
	}
}

/* A required text member of a nested object ("runtime", "model"). */
struct text_field {
	const char *key;
	size_t offset;
	size_t cap;
	enum charset cs;
};

static int parse_texts(struct edge_msg_ctx *c, int obj, const char *parent,
		       const struct text_field *f, size_t n, void *msg)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (get_text(c, obj, parent, f[i].key, 1,
			     (char *)msg + f[i].offset, f[i].cap, f[i].cs) < 0)
			return -EPROTO;
	return 0;
}

static int texts_valid(const struct text_field *f, size_t n, const void *msg)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (check_text((const char *)msg + f[i].offset, f[i].cap,
			       f[i].cs) != EDGE_MSG_OK)
			return 0;
	return 1;
}

static void encode_texts(struct edge_json_writer *w, const struct text_field *f,
			 size_t n, const void *msg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		edge_json_key(w, f[i].key);
		edge_json_str(w, (const char *)msg + f[i].offset);
	}
}

static const struct uint_field hello_sizes[] = {
	U32_FIELD(struct edge_msg_hello, ram_bytes, 1, UINT32_MAX),
	U32_FIELD(struct edge_msg_hello, flash_bytes, 1, UINT32_MAX),
	U32_FIELD(struct edge_msg_hello, arena_bytes, 0, UINT32_MAX),
};

static const struct uint_field hello_heartbeat[] = {
	U32_FIELD(struct edge_msg_hello, heartbeat_s, EDGE_MSG_HEARTBEAT_MIN_S,
		  EDGE_MSG_HEARTBEAT_MAX_S),
};

static const struct text_field hello_runtime[] = {
	{ "name", offsetof(struct edge_msg_hello, runtime_name),
	  EDGE_MSG_TOKEN_CAP, CS_TOKEN },
	{ "version", offsetof(struct edge_msg_hello, runtime_version),
	  EDGE_MSG_VERSION_CAP, CS_VERSION },
};

static const struct text_field hello_model[] = {
	{ "name", offsetof(struct edge_msg_model, name), EDGE_MSG_TOKEN_CAP,
	  CS_TOKEN },
	{ "version", offsetof(struct edge_msg_model, version),
	  EDGE_MSG_VERSION_CAP, CS_VERSION },
};

static const struct uint_field heartbeat_counters[] = {
	U32_FIELD(struct edge_msg_heartbeat, seq, 0, UINT32_MAX),
	U64_FIELD(struct edge_msg_heartbeat, uptime_s, 0, EDGE_MSG_UINT_MAX),
	U64_FIELD(struct edge_msg_heartbeat, inferences, 0, EDGE_MSG_UINT_MAX),
	U64_FIELD(struct edge_msg_heartbeat, anomalies, 0, EDGE_MSG_UINT_MAX),
	U32_FIELD(struct edge_msg_heartbeat, mqtt_reconnects, 0, UINT32_MAX),
	U32_FIELD(struct edge_msg_heartbeat, free_heap_bytes, 0, UINT32_MAX),
};

static const struct uint_field registered_timing[] = {
	U32_FIELD(struct edge_msg_registered, heartbeat_s,
		  EDGE_MSG_HEARTBEAT_MIN_S, EDGE_MSG_HEARTBEAT_MAX_S),
	U32_FIELD(struct edge_msg_registered, stale_after, 1,
		  EDGE_MSG_STALE_AFTER_MAX),
};

/* ------------------------------------------------------- message frame */

/* edge_msg_parse, then the version into msg's proto (only 1 parses). */
static int parse_message(const char *buf, size_t len,
			 struct edge_msg_error *err, void *msg, size_t size,
			 uint32_t *proto, edge_msg_body_fn body,
			 struct edge_json_tok *toks, unsigned ntoks)
{
	if (edge_msg_parse(buf, len, err, msg, size, toks, ntoks,
			   EDGE_MSG_MAX_DEPTH, body) < 0)
		return -EPROTO;
	*proto = EDGE_PROTO_VERSION;
	return 0;
}

/* hello, status and heartbeat: the general token limit. */
static int parse_node_message(const char *buf, size_t len,
			      struct edge_msg_error *err, void *msg,
			      size_t size, uint32_t *proto, edge_msg_body_fn body)
{
	struct edge_json_tok toks[EDGE_MSG_MAX_TOKENS];

	return parse_message(buf, len, err, msg, size, proto, body, toks,
			     EDGE_MSG_MAX_TOKENS);
}

/* Every encoded message opens with the version. */
static void begin_message(struct edge_json_writer *w, char *buf, size_t cap)
{
	edge_json_writer_init(w, buf, cap);
	edge_json_obj_begin(w);
	edge_json_key(w, "proto");
	edge_json_uint(w, EDGE_PROTO_VERSION);
}

/* The message was validated first, so only lack of room can fail here. */
static int end_message(struct edge_json_writer *w)
{
	edge_json_obj_end(w);
	return edge_json_writer_finish(w);
}

/* ------------------------------------------------------------------ hello */

static int parse_hello_fields(struct edge_msg_ctx *c, void *msg)
{
	struct edge_msg_hello *m = msg;
	int t, e;
	size_t i;
	char id[EDGE_ID_MAX_LEN + 2];

	t = field(c, 0, NULL, "id", 1);
	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, "id", NULL, -1, t);
	if (edge_json_get_str(&c->doc, t, id, sizeof id, &i) < 0 ||
	    !edge_id_valid(id, i))
		return reject_at(c, EDGE_MSG_BAD_ID, "id", NULL, -1, t);
	memcpy(m->id, id, i + 1);

	if (get_text(c, 0, NULL, "fw", 1, m->fw, sizeof m->fw, CS_VERSION) < 0)
		return -EPROTO;

	t = get_object(c, 0, "runtime", 1, 0);
	if (t < 0 || parse_texts(c, t, "runtime", hello_runtime,
				 EDGE_N_ELEMS(hello_runtime), m) < 0)
		return -EPROTO;

	t = field(c, 0, NULL, "ops", 1);
	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_ARRAY)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, "ops", NULL, -1, t);
	if (c->doc.toks[t].size > EDGE_MSG_MAX_OPS)
		return reject_at(c, EDGE_MSG_TOO_MANY_ITEMS, "ops", NULL, -1, t);
	m->n_ops = 0;
	for (e = edge_json_first(&c->doc, t); e >= 0; e = edge_json_next(&c->doc, e)) {
		if (read_text(c, e, NULL, "ops", (long)m->n_ops, m->ops[m->n_ops],
			      EDGE_MSG_OP_CAP, CS_OP) < 0)
			return -EPROTO;
		m->n_ops++;
	}

	if (parse_uints(c, hello_sizes, EDGE_N_ELEMS(hello_sizes), m) < 0)
		return -EPROTO;
	if (m->arena_bytes > m->ram_bytes)
		return reject_at(c, EDGE_MSG_INCONSISTENT, "arena_bytes", NULL, -1,
				 edge_json_obj_get(&c->doc, 0, "arena_bytes"));

	if (get_text(c, 0, NULL, "sensor", 1, m->sensor, sizeof m->sensor,
		     CS_TOKEN) < 0)
		return -EPROTO;

	t = get_object(c, 0, "model", 0, 1);
	if (t == -EPROTO)
		return t;
	m->has_model = t >= 0;
	if (m->has_model) {
		int h;

		if (parse_texts(c, t, "model", hello_model, EDGE_N_ELEMS(hello_model),
				&m->model) < 0)
			return -EPROTO;
		h = field(c, t, "model", "sha256", 1);
		if (h < 0)
			return h;
		if (edge_json_type_of(&c->doc, h) != EDGE_JSON_STRING)
			return reject_at(c, EDGE_MSG_WRONG_TYPE, "model", "sha256", -1, h);
		if (edge_json_get_str(&c->doc, h, m->model.sha256,
				      sizeof m->model.sha256, NULL) < 0 ||
		    !edge_msg_sha256_ok(m->model.sha256))
			return reject_at(c, EDGE_MSG_BAD_HASH, "model", "sha256", -1, h);
	}

	return parse_uints(c, hello_heartbeat, EDGE_N_ELEMS(hello_heartbeat), m);
}

int edge_msg_parse_hello(const char *buf, size_t len, struct edge_msg_hello *out,
			 struct edge_msg_error *err)
{
	return parse_node_message(buf, len, err, out, sizeof *out, &out->proto,
				  parse_hello_fields);
}

/* ----------------------------------------------------------------- status */

static int status_reason_fits(enum edge_msg_state s, enum edge_msg_status_reason r)
{
	if (r == EDGE_MSG_STATUS_NONE || r == EDGE_MSG_STATUS_OTHER)
		return 1;
	if (s == EDGE_MSG_STATE_ONLINE)
		return r == EDGE_MSG_STATUS_BOOT || r == EDGE_MSG_STATUS_RECONNECT;
	return r != EDGE_MSG_STATUS_BOOT && r != EDGE_MSG_STATUS_RECONNECT;
}

static int parse_status_fields(struct edge_msg_ctx *c, void *msg)
{
	struct edge_msg_status *out = msg;
	int t;

	t = field(c, 0, NULL, "state", 1);
	if (t < 0)
		return -EPROTO;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, "state", NULL, -1, t);
	if (edge_json_str_eq(&c->doc, t, "online"))
		out->state = EDGE_MSG_STATE_ONLINE;
	else if (edge_json_str_eq(&c->doc, t, "offline"))
		out->state = EDGE_MSG_STATE_OFFLINE;
	else
		return reject_at(c, EDGE_MSG_BAD_ENUM, "state", NULL, -1, t);

	t = get_text(c, 0, NULL, "reason", 0, out->reason_text,
		     sizeof out->reason_text, CS_LOWER);
	if (t == -EPROTO)
		return t;
	if (t == -ENOENT)
		out->reason = EDGE_MSG_STATUS_NONE;
	else
		out->reason = (enum edge_msg_status_reason)lookup_name(
			status_reason_names, EDGE_N_ELEMS(status_reason_names),
			out->reason_text, EDGE_MSG_STATUS_OTHER);
	if (!status_reason_fits(out->state, out->reason))
		return reject_at(c, EDGE_MSG_INCONSISTENT, "reason", NULL, -1,
				 edge_json_obj_get(&c->doc, 0, "reason"));
	return 0;
}

int edge_msg_parse_status(const char *buf, size_t len,
			  struct edge_msg_status *out, struct edge_msg_error *err)
{
	return parse_node_message(buf, len, err, out, sizeof *out, &out->proto,
				  parse_status_fields);
}

/* -------------------------------------------------------------- heartbeat */

static int parse_heartbeat_fields(struct edge_msg_ctx *c, void *msg)
{
	struct edge_msg_heartbeat *out = msg;
	uint64_t v;
	int64_t rssi;
	int t;

	if (parse_uints(c, heartbeat_counters, EDGE_N_ELEMS(heartbeat_counters),
			out) < 0)
		return -EPROTO;

	t = field(c, 0, NULL, "min_free_heap_bytes", 0);
	if (t >= 0) {
		if (read_uint(c, t, "min_free_heap_bytes", NULL, 0, UINT32_MAX, &v) < 0)
			return -EPROTO;
		if (v > out->free_heap_bytes)
			return reject_at(c, EDGE_MSG_INCONSISTENT,
					 "min_free_heap_bytes", NULL, -1, t);
		out->has_min_free_heap = 1;
		out->min_free_heap_bytes = (uint32_t)v;
	}

	t = field(c, 0, NULL, "rssi_dbm", 0);
	if (t >= 0) {
		if (check_integer(c, t, "rssi_dbm", NULL) < 0)
			return -EPROTO;
		if (edge_json_get_int(&c->doc, t, -127, 0, &rssi) < 0)
			return reject_at(c, EDGE_MSG_OUT_OF_RANGE, "rssi_dbm", NULL, -1, t);
		out->has_rssi = 1;
		out->rssi_dbm = (int32_t)rssi;
	}

	t = field(c, 0, NULL, "reports_dropped", 0);
	if (t >= 0) {
		if (read_uint(c, t, "reports_dropped", NULL, 0, EDGE_MSG_UINT_MAX,
			      &v) < 0)
			return -EPROTO;
		out->has_reports_dropped = 1;
		out->reports_dropped = v;
	}
	return 0;
}

int edge_msg_parse_heartbeat(const char *buf, size_t len,
			     struct edge_msg_heartbeat *out,
			     struct edge_msg_error *err)
{
	return parse_node_message(buf, len, err, out, sizeof *out, &out->proto,
				  parse_heartbeat_fields);
}

/* ------------------------------------------------------------- registered */

static int parse_registered_fields(struct edge_msg_ctx *c, void *msg)
{
	struct edge_msg_registered *out = msg;
	int t;

	t = field(c, 0, NULL, "accepted", 1);
	if (t < 0)
		return -EPROTO;
	if (edge_json_get_bool(&c->doc, t, &out->accepted) < 0)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, "accepted", NULL, -1, t);

	if (out->accepted) {
		uint64_t v;

		if (parse_uints(c, registered_timing, EDGE_N_ELEMS(registered_timing),
				out) < 0)
			return -EPROTO;
		/* Optional: absent means the node samples nothing. */
		out->verify_permille = 0;
		t = field(c, 0, NULL, "verify_permille", 0);
		if (t >= 0) {
			if (read_uint(c, t, NULL, "verify_permille", 0,
				      EDGE_MSG_VERIFY_PERMILLE_MAX, &v) < 0)
				return -EPROTO;
			out->verify_permille = (uint32_t)v;
		}
		out->refusal = EDGE_MSG_REFUSE_NONE;
		return 0;
	}
	if (get_text(c, 0, NULL, "reason", 1, out->refusal_text,
		     sizeof out->refusal_text, CS_LOWER) < 0)
		return -EPROTO;
	/* A newer gateway may refuse for a reason v1 does not know: still a
	 * refusal. */
	out->refusal = (enum edge_msg_refusal)lookup_name(
		refusal_names, EDGE_N_ELEMS(refusal_names), out->refusal_text,
		EDGE_MSG_REFUSE_OTHER);
	t = get_text(c, 0, NULL, "detail", 0, out->detail, sizeof out->detail,
		     CS_DETAIL);
	return t == -EPROTO ? -EPROTO : 0;
}

int edge_msg_parse_registered(const char *buf, size_t len,
			      struct edge_msg_registered *out,
			      struct edge_msg_error *err)
{
	/* A node's parser: its own small array (§4), not 256 tokens. */
	struct edge_json_tok toks[EDGE_MSG_REGISTERED_MAX_TOKENS];

	return parse_message(buf, len, err, out, sizeof *out, &out->proto,
			     parse_registered_fields, toks,
			     EDGE_MSG_REGISTERED_MAX_TOKENS);
}

/* ------------------------------------------------------ node dispatcher */

int edge_msg_parse_node(const char *topic, size_t topic_len,
			const char *payload, size_t payload_len,
			struct edge_node_msg *out, struct edge_msg_error *err)
{
	struct edge_topic tp;
	enum edge_msg_reject why;
	int rc;

	memset(out, 0, sizeof *out);
	if (edge_topic_parse(topic, topic_len, &tp, &why) < 0)
		return edge_msg_reject_offset(err, why, "", 0);
	out->type = tp.type;
	memcpy(out->id, tp.id, sizeof out->id);
	switch (tp.type) {
	case EDGE_TOPIC_HELLO:
		rc = edge_msg_parse_hello(payload, payload_len, &out->u.hello, err);
		if (rc == 0 && strcmp(out->u.hello.id, tp.id) != 0)
			return edge_msg_reject_offset(err, EDGE_MSG_ID_MISMATCH, "id", 0);
		return rc;
	case EDGE_TOPIC_STATUS:
		return edge_msg_parse_status(payload, payload_len, &out->u.status, err);
	case EDGE_TOPIC_HEARTBEAT:
		return edge_msg_parse_heartbeat(payload, payload_len,
						&out->u.heartbeat, err);
	default:
		break;
	}
	if (!(edge_topic_direction(tp.type) & EDGE_TOPIC_TO_GATEWAY))
		return edge_msg_reject_offset(err, EDGE_MSG_WRONG_DIRECTION, "", 0);
	return edge_msg_reject_offset(err, EDGE_MSG_UNHANDLED_TYPE, "", 0);
}

/* --------------------------------------------------------------- encoders */

static int text_ok(const char *s, size_t cap, enum charset cs)
{
	return check_text(s, cap, cs) == EDGE_MSG_OK;
}

int edge_msg_encode_hello(char *buf, size_t cap, const struct edge_msg_hello *m)
{
	struct edge_json_writer w;
	uint32_t i;

	if (!m || !edge_id_valid_str(m->id) ||
	    !text_ok(m->fw, sizeof m->fw, CS_VERSION) ||
	    !texts_valid(hello_runtime, EDGE_N_ELEMS(hello_runtime), m) ||
	    m->n_ops > EDGE_MSG_MAX_OPS ||
	    !uints_valid(hello_sizes, EDGE_N_ELEMS(hello_sizes), m) ||
	    m->arena_bytes > m->ram_bytes ||
	    !text_ok(m->sensor, sizeof m->sensor, CS_TOKEN) ||
	    !uints_valid(hello_heartbeat, EDGE_N_ELEMS(hello_heartbeat), m))
		return -EINVAL;
	for (i = 0; i < m->n_ops; i++)
		if (!text_ok(m->ops[i], EDGE_MSG_OP_CAP, CS_OP))
			return -EINVAL;
	if (m->has_model &&
	    (!texts_valid(hello_model, EDGE_N_ELEMS(hello_model), &m->model) ||
	     !edge_msg_sha256_ok(m->model.sha256)))
		return -EINVAL;

	begin_message(&w, buf, cap);
	edge_json_key(&w, "id");
	edge_json_str(&w, m->id);
	edge_json_key(&w, "fw");
	edge_json_str(&w, m->fw);
	edge_json_key(&w, "runtime");
	edge_json_obj_begin(&w);
	encode_texts(&w, hello_runtime, EDGE_N_ELEMS(hello_runtime), m);
	edge_json_obj_end(&w);
	edge_json_key(&w, "ops");
	edge_json_arr_begin(&w);
	for (i = 0; i < m->n_ops; i++)
		edge_json_str(&w, m->ops[i]);
	edge_json_arr_end(&w);
	encode_uints(&w, hello_sizes, EDGE_N_ELEMS(hello_sizes), m);
	edge_json_key(&w, "sensor");
	edge_json_str(&w, m->sensor);
	edge_json_key(&w, "model");
	if (m->has_model) {
		edge_json_obj_begin(&w);
		encode_texts(&w, hello_model, EDGE_N_ELEMS(hello_model), &m->model);
		edge_json_key(&w, "sha256");
		edge_json_str(&w, m->model.sha256);
		edge_json_obj_end(&w);
	} else {
		edge_json_null(&w);
	}
	encode_uints(&w, hello_heartbeat, EDGE_N_ELEMS(hello_heartbeat), m);
	return end_message(&w);
}

/* The wire name of a known enum value, or for OTHER the text as sent, which
 * must be well-formed and must not hide a known value. NULL: invalid. */
static const char *enum_wire_name(const char *const *names, size_t n,
				  unsigned value, unsigned other,
				  const char *text, size_t text_cap)
{
	if (value >= n)
		return NULL;
	if (value != other)
		return names[value];
	if (!text_ok(text, text_cap, CS_LOWER) ||
	    lookup_name(names, n, text, -1) >= 0)
		return NULL;
	return text;
}

int edge_msg_encode_status(char *buf, size_t cap, const struct edge_msg_status *m)
{
	struct edge_json_writer w;
	const char *reason;

	if (!m || (m->state != EDGE_MSG_STATE_ONLINE &&
		   m->state != EDGE_MSG_STATE_OFFLINE) ||
	    (unsigned)m->reason >= EDGE_N_ELEMS(status_reason_names) ||
	    !status_reason_fits(m->state, m->reason))
		return -EINVAL;
	reason = enum_wire_name(status_reason_names, EDGE_N_ELEMS(status_reason_names),
				m->reason, EDGE_MSG_STATUS_OTHER, m->reason_text,
				sizeof m->reason_text);
	if (!reason)
		return -EINVAL;

	begin_message(&w, buf, cap);
	edge_json_key(&w, "state");
	edge_json_str(&w, state_names[m->state]);
	if (m->reason != EDGE_MSG_STATUS_NONE) {
		edge_json_key(&w, "reason");
		edge_json_str(&w, reason);
	}
	return end_message(&w);
}

int edge_msg_encode_heartbeat(char *buf, size_t cap,
			      const struct edge_msg_heartbeat *m)
{
	struct edge_json_writer w;

	if (!m || !uints_valid(heartbeat_counters, EDGE_N_ELEMS(heartbeat_counters), m) ||
	    (m->has_min_free_heap && m->min_free_heap_bytes > m->free_heap_bytes) ||
	    (m->has_rssi && (m->rssi_dbm < -127 || m->rssi_dbm > 0)) ||
	    (m->has_reports_dropped && m->reports_dropped > EDGE_MSG_UINT_MAX))
		return -EINVAL;

	begin_message(&w, buf, cap);
	encode_uints(&w, heartbeat_counters, EDGE_N_ELEMS(heartbeat_counters), m);
	if (m->has_min_free_heap) {
		edge_json_key(&w, "min_free_heap_bytes");
		edge_json_uint(&w, m->min_free_heap_bytes);
	}
	if (m->has_rssi) {
		edge_json_key(&w, "rssi_dbm");
		edge_json_int(&w, m->rssi_dbm);
	}
	if (m->has_reports_dropped) {
		edge_json_key(&w, "reports_dropped");
		edge_json_uint(&w, m->reports_dropped);
	}
	return end_message(&w);
}

int edge_msg_encode_registered(char *buf, size_t cap,
			       const struct edge_msg_registered *m)
{
	struct edge_json_writer w;
	const char *reason = NULL;

	if (!m)
		return -EINVAL;
	if (m->accepted) {
		if (!uints_valid(registered_timing, EDGE_N_ELEMS(registered_timing), m) ||
		    m->verify_permille > EDGE_MSG_VERIFY_PERMILLE_MAX)
			return -EINVAL;
	} else {
		if (m->refusal == EDGE_MSG_REFUSE_NONE ||
		    !text_ok(m->detail, sizeof m->detail, CS_DETAIL))
			return -EINVAL;
		reason = enum_wire_name(refusal_names, EDGE_N_ELEMS(refusal_names),
					m->refusal, EDGE_MSG_REFUSE_OTHER,
					m->refusal_text, sizeof m->refusal_text);
		if (!reason)
			return -EINVAL;
	}

	begin_message(&w, buf, cap);
	edge_json_key(&w, "accepted");
	edge_json_bool(&w, m->accepted);
	if (m->accepted) {
		encode_uints(&w, registered_timing, EDGE_N_ELEMS(registered_timing), m);
		if (m->verify_permille) {
			edge_json_key(&w, "verify_permille");
			edge_json_uint(&w, m->verify_permille);
		}
	} else {
		edge_json_key(&w, "reason");
		edge_json_str(&w, reason);
		if (m->detail[0]) {
			edge_json_key(&w, "detail");
			edge_json_str(&w, m->detail);
		}
	}
	return end_message(&w);
}
