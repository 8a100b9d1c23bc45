/* Node messages of protocol v1: strict parsers and validating encoders. */
#include "edge_node_msg.h"

#include <errno.h>
#include <string.h>

#include "edge_json.h"

/* ------------------------------------------------------- character sets */

enum charset {
	CS_VERSION, /* [A-Za-z0-9._+-] */
	CS_TOKEN,   /* [A-Za-z0-9._-] */
	CS_OP,      /* [A-Z0-9_] */
	CS_LOWER,   /* [a-z0-9_] */
	CS_DETAIL,  /* printable ASCII, may be empty */
};

static int is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

static int in_charset(char c, enum charset cs)
{
	switch (cs) {
	case CS_VERSION:
		return is_alnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
	case CS_TOKEN:
		return is_alnum(c) || c == '.' || c == '_' || c == '-';
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

static int check_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < EDGE_MSG_SHA256_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[EDGE_MSG_SHA256_HEX] == '\0';
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

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *edge_msg_state_name(enum edge_msg_state s)
{
	if ((unsigned)s >= N_ELEMS(state_names) || !state_names[s])
		return "unknown";
	return state_names[s];
}

const char *edge_msg_status_reason_name(enum edge_msg_status_reason r)
{
	if ((unsigned)r >= N_ELEMS(status_reason_names))
		return "unknown";
	return r == EDGE_MSG_STATUS_NONE ? "none" : status_reason_names[r];
}

const char *edge_msg_refusal_name(enum edge_msg_refusal r)
{
	if ((unsigned)r >= N_ELEMS(refusal_names))
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

struct ctx {
	struct edge_json_doc doc;
	struct edge_msg_error *err;
};

static void set_field(struct edge_msg_error *err, const char *a, const char *b,
		      long index)
{
	size_t cap = sizeof err->field, n = 0;
	char digits[24];
	size_t nd = 0;

	err->field[0] = '\0';
	while (a && *a && n + 1 < cap)
		err->field[n++] = *a++;
	if (b) {
		if (n + 1 < cap)
			err->field[n++] = '.';
		while (*b && n + 1 < cap)
			err->field[n++] = *b++;
	}
	if (index >= 0) {
		do {
			digits[nd++] = (char)('0' + index % 10);
			index /= 10;
		} while (index && nd < sizeof digits);
		if (n + 1 < cap)
			err->field[n++] = '[';
		while (nd && n + 1 < cap)
			err->field[n++] = digits[--nd];
		if (n + 1 < cap)
			err->field[n++] = ']';
	}
	err->field[n] = '\0';
}

/* Record a rejection. Field path: parent "." key, or parent "[" index "]"
 * when index >= 0; tok locates the offset (-1: none). */
static int reject_at(struct ctx *c, enum edge_msg_reject reason,
		     const char *parent, const char *key, long index, int tok)
{
	if (c->err) {
		c->err->reason = reason;
		if (parent && key)
			set_field(c->err, parent, key, -1);
		else
			set_field(c->err, parent ? parent : key, NULL, index);
		c->err->offset = 0;
		if (tok >= 0 && (unsigned)tok < c->doc.ntoks)
			c->err->offset = c->doc.toks[tok].start;
	}
	return -EPROTO;
}

static int reject_msg(struct edge_msg_error *err, enum edge_msg_reject reason,
		      const char *field, size_t offset)
{
	if (err) {
		err->reason = reason;
		set_field(err, field, NULL, -1);
		err->offset = offset;
	}
	return -EPROTO;
}

static enum edge_msg_reject json_reason(enum edge_json_error_code code)
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

/* Parse the payload into c->doc and check the common envelope: an object
 * whose "proto" is 1 (checked first, so a newer message reports
 * unsupported_version rather than whatever else changed). */
static int open_message(struct ctx *c, const char *buf, size_t len,
			struct edge_json_tok *toks, unsigned ntoks)
{
	struct edge_json_error jerr;
	uint64_t proto;
	int t;

	if (c->err) {
		c->err->reason = EDGE_MSG_OK;
		c->err->field[0] = '\0';
		c->err->offset = 0;
	}
	if (len == 0 || !buf)
		return reject_msg(c->err, EDGE_MSG_EMPTY, "", 0);
	if (len > EDGE_MSG_MAX_PAYLOAD)
		return reject_msg(c->err, EDGE_MSG_TOO_LARGE, "", EDGE_MSG_MAX_PAYLOAD);
	if (edge_json_parse(buf, len, toks, ntoks, EDGE_MSG_MAX_DEPTH, &c->doc,
			    &jerr) < 0)
		return reject_msg(c->err, json_reason(jerr.code), "", jerr.offset);
	if (edge_json_type_of(&c->doc, 0) != EDGE_JSON_OBJECT)
		return reject_at(c, EDGE_MSG_NOT_OBJECT, "", NULL, -1, 0);

	t = edge_json_obj_get(&c->doc, 0, "proto");
	if (t < 0)
		return reject_at(c, EDGE_MSG_MISSING_FIELD, "proto", NULL, -1, -1);
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_NUMBER)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, "proto", NULL, -1, t);
	if (!edge_json_is_integer(&c->doc, t))
		return reject_at(c, EDGE_MSG_NOT_INTEGER, "proto", NULL, -1, t);
	if (edge_json_get_uint(&c->doc, t, UINT64_MAX, &proto) < 0 ||
	    proto != EDGE_PROTO_VERSION)
		return reject_at(c, EDGE_MSG_UNSUPPORTED_VERSION, "proto", NULL, -1, t);
	return 0;
}

/* Token of obj.key: >= 0 found, -ENOENT absent (and not required), or
 * -EPROTO (missing but required). parent names obj in error paths. */
static int field(struct ctx *c, int obj, const char *parent, const char *key,
		 int required)
{
	int t = edge_json_obj_get(&c->doc, obj, key);

	if (t >= 0)
		return t;
	if (required)
		return reject_at(c, EDGE_MSG_MISSING_FIELD, parent, key, -1, -1);
	return -ENOENT;
}

static int read_uint(struct ctx *c, int t, const char *parent, const char *key,
		     uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_NUMBER)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, parent, key, -1, t);
	if (!edge_json_is_integer(&c->doc, t))
		return reject_at(c, EDGE_MSG_NOT_INTEGER, parent, key, -1, t);
	if (edge_json_get_uint(&c->doc, t, max, &v) < 0 || v < min)
		return reject_at(c, EDGE_MSG_OUT_OF_RANGE, parent, key, -1, t);
	*out = v;
	return 0;
}

static int get_uint(struct ctx *c, int obj, const char *parent, const char *key,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	int t = field(c, obj, parent, key, 1);

	if (t < 0)
		return t;
	return read_uint(c, t, parent, key, min, max, out);
}

static int get_u32(struct ctx *c, int obj, const char *key, uint64_t min,
		   uint64_t max, uint32_t *out)
{
	uint64_t v;
	int rc = get_uint(c, obj, NULL, key, min, max, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

/* String token t into out[cap] with charset cs; index >= 0 for arrays. */
static int read_text(struct ctx *c, int t, const char *parent, const char *key,
		     long index, char *out, size_t cap, enum charset cs)
{
	enum edge_msg_reject r;
	int rc;

	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return reject_at(c, EDGE_MSG_WRONG_TYPE, parent, key, index, t);
	rc = edge_json_get_str(&c->doc, t, out, cap, NULL);
	if (rc == -ENOSPC)
		return reject_at(c, EDGE_MSG_STRING_TOO_LONG, parent, key, index, t);
	if (rc < 0)
		return reject_at(c, EDGE_MSG_BAD_STRING, parent, key, index, t);
	r = check_text(out, cap, cs);
	if (r != EDGE_MSG_OK)
		return reject_at(c, r, parent, key, index, t);
	return 0;
}

static int get_text(struct ctx *c, int obj, const char *parent, const char *key,
		    int required, char *out, size_t cap, enum charset cs)
{
	int t = field(c, obj, parent, key, required);

	out[0] = '\0';
	if (t < 0)
		return t;
	return read_text(c, t, parent, key, -1, out, cap, cs);
}

static int get_object(struct ctx *c, int obj, const char *key, int required,
		      int allow_null)
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

/* ------------------------------------------------------------------ hello */

static int parse_hello_fields(struct ctx *c, struct edge_msg_hello *m)
{
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
	if (t < 0)
		return -EPROTO;
	if (get_text(c, t, "runtime", "name", 1, m->runtime_name,
		     sizeof m->runtime_name, CS_TOKEN) < 0 ||
	    get_text(c, t, "runtime", "version", 1, m->runtime_version,
		     sizeof m->runtime_version, CS_VERSION) < 0)
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

	if (get_u32(c, 0, "ram_bytes", 1, UINT32_MAX, &m->ram_bytes) < 0 ||
	    get_u32(c, 0, "flash_bytes", 1, UINT32_MAX, &m->flash_bytes) < 0 ||
	    get_u32(c, 0, "arena_bytes", 0, UINT32_MAX, &m->arena_bytes) < 0)
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

		if (get_text(c, t, "model", "name", 1, m->model.name,
			     sizeof m->model.name, CS_TOKEN) < 0 ||
		    get_text(c, t, "model", "version", 1, m->model.version,
			     sizeof m->model.version, CS_VERSION) < 0)
			return -EPROTO;
		h = field(c, t, "model", "sha256", 1);
		if (h < 0)
			return h;
		if (edge_json_type_of(&c->doc, h) != EDGE_JSON_STRING)
			return reject_at(c, EDGE_MSG_WRONG_TYPE, "model", "sha256", -1, h);
		if (edge_json_get_str(&c->doc, h, m->model.sha256,
				      sizeof m->model.sha256, NULL) < 0 ||
		    !check_sha256(m->model.sha256))
			return reject_at(c, EDGE_MSG_BAD_HASH, "model", "sha256", -1, h);
	}

	return get_u32(c, 0, "heartbeat_s", EDGE_MSG_HEARTBEAT_MIN_S,
		       EDGE_MSG_HEARTBEAT_MAX_S, &m->heartbeat_s);
}

int edge_msg_parse_hello(const char *buf, size_t len, struct edge_msg_hello *out,
			 struct edge_msg_error *err)
{
	struct edge_json_tok toks[EDGE_MSG_MAX_TOKENS];
	struct ctx c;

	c.err = err;
	memset(out, 0, sizeof *out);
	if (open_message(&c, buf, len, toks, EDGE_MSG_MAX_TOKENS) < 0)
		return -EPROTO;
	out->proto = EDGE_PROTO_VERSION;
	return parse_hello_fields(&c, out) < 0 ? -EPROTO : 0;
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

int edge_msg_parse_status(const char *buf, size_t len,
			  struct edge_msg_status *out, struct edge_msg_error *err)
{
	struct edge_json_tok toks[EDGE_MSG_MAX_TOKENS];
	struct ctx c;
	int t;

	c.err = err;
	memset(out, 0, sizeof *out);
	if (open_message(&c, buf, len, toks, EDGE_MSG_MAX_TOKENS) < 0)
		return -EPROTO;
	out->proto = EDGE_PROTO_VERSION;

	t = field(&c, 0, NULL, "state", 1);
	if (t < 0)
		return -EPROTO;
	if (edge_json_type_of(&c.doc, t) != EDGE_JSON_STRING)
		return reject_at(&c, EDGE_MSG_WRONG_TYPE, "state", NULL, -1, t);
	if (edge_json_str_eq(&c.doc, t, "online"))
		out->state = EDGE_MSG_STATE_ONLINE;
	else if (edge_json_str_eq(&c.doc, t, "offline"))
		out->state = EDGE_MSG_STATE_OFFLINE;
	else
		return reject_at(&c, EDGE_MSG_BAD_ENUM, "state", NULL, -1, t);

	t = get_text(&c, 0, NULL, "reason", 0, out->reason_text,
		     sizeof out->reason_text, CS_LOWER);
	if (t == -EPROTO)
		return t;
	if (t == -ENOENT)
		out->reason = EDGE_MSG_STATUS_NONE;
	else
		out->reason = (enum edge_msg_status_reason)lookup_name(
			status_reason_names, N_ELEMS(status_reason_names),
			out->reason_text, EDGE_MSG_STATUS_OTHER);
	if (!status_reason_fits(out->state, out->reason))
		return reject_at(&c, EDGE_MSG_INCONSISTENT, "reason", NULL, -1,
				 edge_json_obj_get(&c.doc, 0, "reason"));
	return 0;
}

/* -------------------------------------------------------------- heartbeat */

int edge_msg_parse_heartbeat(const char *buf, size_t len,
			     struct edge_msg_heartbeat *out,
			     struct edge_msg_error *err)
{
	struct edge_json_tok toks[EDGE_MSG_MAX_TOKENS];
	struct ctx c;
	uint64_t v;
	int64_t rssi;
	int t;

	c.err = err;
	memset(out, 0, sizeof *out);
	if (open_message(&c, buf, len, toks, EDGE_MSG_MAX_TOKENS) < 0)
		return -EPROTO;
	out->proto = EDGE_PROTO_VERSION;

	if (get_u32(&c, 0, "seq", 0, UINT32_MAX, &out->seq) < 0 ||
	    get_uint(&c, 0, NULL, "uptime_s", 0, EDGE_MSG_UINT_MAX, &out->uptime_s) < 0 ||
	    get_uint(&c, 0, NULL, "inferences", 0, EDGE_MSG_UINT_MAX, &out->inferences) < 0 ||
	    get_uint(&c, 0, NULL, "anomalies", 0, EDGE_MSG_UINT_MAX, &out->anomalies) < 0 ||
	    get_u32(&c, 0, "mqtt_reconnects", 0, UINT32_MAX, &out->mqtt_reconnects) < 0 ||
	    get_u32(&c, 0, "free_heap_bytes", 0, UINT32_MAX, &out->free_heap_bytes) < 0)
		return -EPROTO;

	t = field(&c, 0, NULL, "min_free_heap_bytes", 0);
	if (t >= 0) {
		if (read_uint(&c, t, "min_free_heap_bytes", NULL, 0, UINT32_MAX, &v) < 0)
			return -EPROTO;
		if (v > out->free_heap_bytes)
			return reject_at(&c, EDGE_MSG_INCONSISTENT,
					 "min_free_heap_bytes", NULL, -1, t);
		out->has_min_free_heap = 1;
		out->min_free_heap_bytes = (uint32_t)v;
	}

	t = field(&c, 0, NULL, "rssi_dbm", 0);
	if (t >= 0) {
		if (edge_json_type_of(&c.doc, t) != EDGE_JSON_NUMBER)
			return reject_at(&c, EDGE_MSG_WRONG_TYPE, "rssi_dbm", NULL, -1, t);
		if (!edge_json_is_integer(&c.doc, t))
			return reject_at(&c, EDGE_MSG_NOT_INTEGER, "rssi_dbm", NULL, -1, t);
		if (edge_json_get_int(&c.doc, t, -127, 0, &rssi) < 0)
			return reject_at(&c, EDGE_MSG_OUT_OF_RANGE, "rssi_dbm", NULL, -1, t);
		out->has_rssi = 1;
		out->rssi_dbm = (int32_t)rssi;
	}
	return 0;
}

/* ------------------------------------------------------------- registered */

int edge_msg_parse_registered(const char *buf, size_t len,
			      struct edge_msg_registered *out,
			      struct edge_msg_error *err)
{
	struct edge_json_tok toks[EDGE_MSG_MAX_TOKENS];
	struct ctx c;
	int t;

	c.err = err;
	memset(out, 0, sizeof *out);
	if (open_message(&c, buf, len, toks, EDGE_MSG_MAX_TOKENS) < 0)
		return -EPROTO;
	out->proto = EDGE_PROTO_VERSION;

	t = field(&c, 0, NULL, "accepted", 1);
	if (t < 0)
		return -EPROTO;
	if (edge_json_get_bool(&c.doc, t, &out->accepted) < 0)
		return reject_at(&c, EDGE_MSG_WRONG_TYPE, "accepted", NULL, -1, t);

	if (out->accepted) {
		if (get_u32(&c, 0, "heartbeat_s", EDGE_MSG_HEARTBEAT_MIN_S,
			    EDGE_MSG_HEARTBEAT_MAX_S, &out->heartbeat_s) < 0 ||
		    get_u32(&c, 0, "stale_after", 1, EDGE_MSG_STALE_AFTER_MAX,
			    &out->stale_after) < 0)
			return -EPROTO;
		out->refusal = EDGE_MSG_REFUSE_NONE;
		return 0;
	}
	if (get_text(&c, 0, NULL, "reason", 1, out->refusal_text,
		     sizeof out->refusal_text, CS_LOWER) < 0)
		return -EPROTO;
	/* A newer gateway may refuse for a reason v1 does not know: still a
	 * refusal. */
	out->refusal = (enum edge_msg_refusal)lookup_name(
		refusal_names, N_ELEMS(refusal_names), out->refusal_text,
		EDGE_MSG_REFUSE_OTHER);
	t = get_text(&c, 0, NULL, "detail", 0, out->detail, sizeof out->detail,
		     CS_DETAIL);
	return t == -EPROTO ? -EPROTO : 0;
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
		return reject_msg(err, why, "", 0);
	out->type = tp.type;
	memcpy(out->id, tp.id, sizeof out->id);
	switch (tp.type) {
	case EDGE_TOPIC_HELLO:
		rc = edge_msg_parse_hello(payload, payload_len, &out->u.hello, err);
		if (rc == 0 && strcmp(out->u.hello.id, tp.id) != 0)
			return reject_msg(err, EDGE_MSG_ID_MISMATCH, "id", 0);
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
		return reject_msg(err, EDGE_MSG_WRONG_DIRECTION, "", 0);
	return reject_msg(err, EDGE_MSG_UNHANDLED_TYPE, "", 0);
}

/* --------------------------------------------------------------- encoders */

static int text_ok(const char *s, size_t cap, enum charset cs)
{
	return check_text(s, cap, cs) == EDGE_MSG_OK;
}

/* The message was validated first, so only lack of room can fail here. */
static int finish(const struct edge_json_writer *w)
{
	return edge_json_writer_finish(w);
}

int edge_msg_encode_hello(char *buf, size_t cap, const struct edge_msg_hello *m)
{
	struct edge_json_writer w;
	uint32_t i;

	if (!m || !edge_id_valid_str(m->id) ||
	    !text_ok(m->fw, sizeof m->fw, CS_VERSION) ||
	    !text_ok(m->runtime_name, sizeof m->runtime_name, CS_TOKEN) ||
	    !text_ok(m->runtime_version, sizeof m->runtime_version, CS_VERSION) ||
	    m->n_ops > EDGE_MSG_MAX_OPS || m->ram_bytes == 0 ||
	    m->flash_bytes == 0 || m->arena_bytes > m->ram_bytes ||
	    !text_ok(m->sensor, sizeof m->sensor, CS_TOKEN) ||
	    m->heartbeat_s < EDGE_MSG_HEARTBEAT_MIN_S ||
	    m->heartbeat_s > EDGE_MSG_HEARTBEAT_MAX_S)
		return -EINVAL;
	for (i = 0; i < m->n_ops; i++)
		if (!text_ok(m->ops[i], EDGE_MSG_OP_CAP, CS_OP))
			return -EINVAL;
	if (m->has_model &&
	    (!text_ok(m->model.name, sizeof m->model.name, CS_TOKEN) ||
	     !text_ok(m->model.version, sizeof m->model.version, CS_VERSION) ||
	     !check_sha256(m->model.sha256)))
		return -EINVAL;

	edge_json_writer_init(&w, buf, cap);
	edge_json_obj_begin(&w);
	edge_json_key(&w, "proto");
	edge_json_uint(&w, EDGE_PROTO_VERSION);
	edge_json_key(&w, "id");
	edge_json_str(&w, m->id);
	edge_json_key(&w, "fw");
	edge_json_str(&w, m->fw);
	edge_json_key(&w, "runtime");
	edge_json_obj_begin(&w);
	edge_json_key(&w, "name");
	edge_json_str(&w, m->runtime_name);
	edge_json_key(&w, "version");
	edge_json_str(&w, m->runtime_version);
	edge_json_obj_end(&w);
	edge_json_key(&w, "ops");
	edge_json_arr_begin(&w);
	for (i = 0; i < m->n_ops; i++)
		edge_json_str(&w, m->ops[i]);
	edge_json_arr_end(&w);
	edge_json_key(&w, "ram_bytes");
	edge_json_uint(&w, m->ram_bytes);
	edge_json_key(&w, "flash_bytes");
	edge_json_uint(&w, m->flash_bytes);
	edge_json_key(&w, "arena_bytes");
	edge_json_uint(&w, m->arena_bytes);
	edge_json_key(&w, "sensor");
	edge_json_str(&w, m->sensor);
	edge_json_key(&w, "model");
	if (m->has_model) {
		edge_json_obj_begin(&w);
		edge_json_key(&w, "name");
		edge_json_str(&w, m->model.name);
		edge_json_key(&w, "version");
		edge_json_str(&w, m->model.version);
		edge_json_key(&w, "sha256");
		edge_json_str(&w, m->model.sha256);
		edge_json_obj_end(&w);
	} else {
		edge_json_null(&w);
	}
	edge_json_key(&w, "heartbeat_s");
	edge_json_uint(&w, m->heartbeat_s);
	edge_json_obj_end(&w);
	return finish(&w);
}

int edge_msg_encode_status(char *buf, size_t cap, const struct edge_msg_status *m)
{
	struct edge_json_writer w;
	const char *reason = NULL;

	if (!m || (m->state != EDGE_MSG_STATE_ONLINE &&
		   m->state != EDGE_MSG_STATE_OFFLINE) ||
	    (unsigned)m->reason >= N_ELEMS(status_reason_names) ||
	    !status_reason_fits(m->state, m->reason))
		return -EINVAL;
	if (m->reason == EDGE_MSG_STATUS_OTHER) {
		if (!text_ok(m->reason_text, sizeof m->reason_text, CS_LOWER) ||
		    lookup_name(status_reason_names, N_ELEMS(status_reason_names),
				m->reason_text, -1) >= 0)
			return -EINVAL; /* OTHER must not hide a known value */
		reason = m->reason_text;
	} else if (m->reason != EDGE_MSG_STATUS_NONE) {
		reason = status_reason_names[m->reason];
	}

	edge_json_writer_init(&w, buf, cap);
	edge_json_obj_begin(&w);
	edge_json_key(&w, "proto");
	edge_json_uint(&w, EDGE_PROTO_VERSION);
	edge_json_key(&w, "state");
	edge_json_str(&w, state_names[m->state]);
	if (reason) {
		edge_json_key(&w, "reason");
		edge_json_str(&w, reason);
	}
	edge_json_obj_end(&w);
	return finish(&w);
}

int edge_msg_encode_heartbeat(char *buf, size_t cap,
			      const struct edge_msg_heartbeat *m)
{
	struct edge_json_writer w;

	if (!m || m->uptime_s > EDGE_MSG_UINT_MAX ||
	    m->inferences > EDGE_MSG_UINT_MAX || m->anomalies > EDGE_MSG_UINT_MAX ||
	    (m->has_min_free_heap && m->min_free_heap_bytes > m->free_heap_bytes) ||
	    (m->has_rssi && (m->rssi_dbm < -127 || m->rssi_dbm > 0)))
		return -EINVAL;

	edge_json_writer_init(&w, buf, cap);
	edge_json_obj_begin(&w);
	edge_json_key(&w, "proto");
	edge_json_uint(&w, EDGE_PROTO_VERSION);
	edge_json_key(&w, "seq");
	edge_json_uint(&w, m->seq);
	edge_json_key(&w, "uptime_s");
	edge_json_uint(&w, m->uptime_s);
	edge_json_key(&w, "inferences");
	edge_json_uint(&w, m->inferences);
	edge_json_key(&w, "anomalies");
	edge_json_uint(&w, m->anomalies);
	edge_json_key(&w, "mqtt_reconnects");
	edge_json_uint(&w, m->mqtt_reconnects);
	edge_json_key(&w, "free_heap_bytes");
	edge_json_uint(&w, m->free_heap_bytes);
	if (m->has_min_free_heap) {
		edge_json_key(&w, "min_free_heap_bytes");
		edge_json_uint(&w, m->min_free_heap_bytes);
	}
	if (m->has_rssi) {
		edge_json_key(&w, "rssi_dbm");
		edge_json_int(&w, m->rssi_dbm);
	}
	edge_json_obj_end(&w);
	return finish(&w);
}

int edge_msg_encode_registered(char *buf, size_t cap,
			       const struct edge_msg_registered *m)
{
	struct edge_json_writer w;
	const char *reason = NULL;

	if (!m)
		return -EINVAL;
	if (m->accepted) {
		if (m->heartbeat_s < EDGE_MSG_HEARTBEAT_MIN_S ||
		    m->heartbeat_s > EDGE_MSG_HEARTBEAT_MAX_S ||
		    m->stale_after < 1 || m->stale_after > EDGE_MSG_STALE_AFTER_MAX)
			return -EINVAL;
	} else {
		if (m->refusal == EDGE_MSG_REFUSE_NONE ||
		    (unsigned)m->refusal >= N_ELEMS(refusal_names) ||
		    !text_ok(m->detail, sizeof m->detail, CS_DETAIL))
			return -EINVAL;
		if (m->refusal == EDGE_MSG_REFUSE_OTHER) {
			if (!text_ok(m->refusal_text, sizeof m->refusal_text, CS_LOWER) ||
			    lookup_name(refusal_names, N_ELEMS(refusal_names),
					m->refusal_text, -1) >= 0)
				return -EINVAL;
			reason = m->refusal_text;
		} else {
			reason = refusal_names[m->refusal];
		}
	}

	edge_json_writer_init(&w, buf, cap);
	edge_json_obj_begin(&w);
	edge_json_key(&w, "proto");
	edge_json_uint(&w, EDGE_PROTO_VERSION);
	edge_json_key(&w, "accepted");
	edge_json_bool(&w, m->accepted);
	if (m->accepted) {
		edge_json_key(&w, "heartbeat_s");
		edge_json_uint(&w, m->heartbeat_s);
		edge_json_key(&w, "stale_after");
		edge_json_uint(&w, m->stale_after);
	} else {
		edge_json_key(&w, "reason");
		edge_json_str(&w, reason);
		if (m->detail[0]) {
			edge_json_key(&w, "detail");
			edge_json_str(&w, m->detail);
		}
	}
	edge_json_obj_end(&w);
	return finish(&w);
}
