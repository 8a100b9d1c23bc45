/* Malformed node messages: see sim_malformed.h. */
#include "sim_malformed.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "edge_node_msg.h"
#include "sim_msgs.h"

/* A string value replaced by raw JSON text after dumping, for the breakages
 * jansson refuses to produce (bad numbers, bad UTF-8, duplicate keys...). */
#define RAW_MARKER "@sim-raw@"

static int set_payload(struct sim_malformed_msg *out, const char *data,
		       size_t len)
{
	out->payload = malloc(len ? len : 1);
	if (!out->payload)
		return -ENOMEM;
	memcpy(out->payload, data, len);
	out->len = len;
	return 0;
}

static int topic_of(struct sim_malformed_msg *out, const char *id,
		    enum edge_topic_type type)
{
	int n = sim_msgs_topic(out->topic, sizeof(out->topic), id, type);
	return n < 0 ? n : 0;
}

__attribute__((format(printf, 2, 3)))
static int topic_fmt(struct sim_malformed_msg *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out->topic, sizeof(out->topic), fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof(out->topic) ? -EINVAL : 0;
}


static json_t *valid_hello(const char *id, uint32_t heartbeat_s)
{
	char buf[EDGE_MSG_MAX_PAYLOAD + 1];
	int n = sim_msgs_encode_hello(buf, sizeof(buf), id, heartbeat_s);
	if (n < 0)
		return NULL;
	return json_loadb(buf, (size_t)n, 0, NULL);
}

/* Dump obj (consumed) into out->payload, splicing `raw` in place of the
 * RAW_MARKER string value when raw != NULL. */
static int dump_json(json_t *obj, const char *raw, struct sim_malformed_msg *out)
{
	if (!obj)
		return -ENOMEM;
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!text)
		return -ENOMEM;
	int rc;
	const char *mark = raw ? strstr(text, "\"" RAW_MARKER "\"") : NULL;
	if (raw && !mark) {
		rc = -EINVAL;
	} else if (!raw) {
		rc = set_payload(out, text, strlen(text));
	} else {
		size_t pre = (size_t)(mark - text);
		size_t mlen = strlen("\"" RAW_MARKER "\"");
		size_t rlen = strlen(raw), post = strlen(mark + mlen);
		char *buf = malloc(pre + rlen + post + 1);
		if (!buf) {
			rc = -ENOMEM;
		} else {
			memcpy(buf, text, pre);
			memcpy(buf + pre, raw, rlen);
			memcpy(buf + pre + rlen, mark + mlen, post + 1);
			rc = set_payload(out, buf, pre + rlen + post);
			free(buf);
		}
	}
	free(text);
	return rc;
}

/* A valid hello on the node's own topic with one key set to v (consumed;
 * NULL deletes the key) and an optional raw splice. */
static int hello_with(const char *id, uint32_t hb, const char *key, json_t *v,
		      const char *raw, struct sim_malformed_msg *out)
{
	int rc = topic_of(out, id, EDGE_TOPIC_HELLO);
	if (rc) {
		json_decref(v);
		return rc;
	}
	json_t *o = valid_hello(id, hb);
	if (!o) {
		json_decref(v);
		return -ENOMEM;
	}
	if (v)
		json_object_set_new(o, key, v);
	else
		json_object_del(o, key);
	return dump_json(o, raw, out);
}

static int hello_raw(const char *id, uint32_t hb, const char *key,
		     const char *raw, struct sim_malformed_msg *out)
{
	return hello_with(id, hb, key, json_string(RAW_MARKER), raw, out);
}

static int hello_text(const char *id, const char *text,
		      struct sim_malformed_msg *out)
{
	int rc = topic_of(out, id, EDGE_TOPIC_HELLO);
	return rc ? rc : set_payload(out, text, strlen(text));
}

/* ---- the kinds */

static int b_too_large(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	/* Valid JSON padded past the limit: only the size is wrong. */
	size_t n = EDGE_MSG_MAX_PAYLOAD + 512;
	char *pad = malloc(n + 1);
	if (!pad)
		return -ENOMEM;
	memset(pad, 'x', n);
	pad[n] = '\0';
	int rc = hello_with(id, hb, "padding", json_string(pad), NULL, out);
	free(pad);
	return rc;
}

static int b_empty(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_text(id, "", out);
}

static int b_truncated(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	int rc = hello_with(id, hb, "fw", json_string("1.4.2"), NULL, out);
	if (rc == 0)
		out->len /= 2; /* cut mid-message, as a dropped frame would */
	return rc;
}

static int b_bad_json(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_text(id, "{\"proto\":1,\"id\" \"x\"}", out);
}

static int b_bad_utf8(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	/* An overlong encoding of '/'. */
	return hello_raw(id, hb, "sensor", "\"accel\xc0\xaf\"", out);
}

static int b_bad_escape(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_raw(id, hb, "sensor", "\"accel\\q\"", out);
}

static int b_bad_number(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_raw(id, hb, "ram_bytes", "0262144", out);
}

static int b_control_char(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_raw(id, hb, "sensor", "\"accel\x01\"", out);
}

static int b_trailing_data(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	int rc = hello_with(id, hb, "fw", json_string("1.4.2"), NULL, out);
	if (rc)
		return rc;
	char *p = realloc(out->payload, out->len + 3);
	if (!p)
		return -ENOMEM;
	memcpy(p + out->len, " {}", 3);
	out->payload = p;
	out->len += 3;
	return 0;
}

static int b_too_deep(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_raw(id, hb, "extra", "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}", out);
}

static int b_too_many_tokens(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	char raw[2 * 400 + 3];
	size_t n = 0;
	raw[n++] = '[';
	for (int i = 0; i < 400; i++) {
		raw[n++] = '0';
		raw[n++] = i == 399 ? ']' : ',';
	}
	raw[n] = '\0';
	return hello_raw(id, hb, "extra", raw, out);
}

static int b_duplicate_key(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_raw(id, hb, "sensor", "\"accel-3axis\",\"sensor\":\"mic\"", out);
}

static int b_not_object(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_text(id, "[1,2,3]", out);
}

static int b_missing_field(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_with(id, hb, "fw", NULL, NULL, out);
}

static int b_wrong_type(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_with(id, hb, "ram_bytes", json_string("lots"), NULL, out);
}

static int b_not_integer(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_raw(id, hb, "ram_bytes", "262144.5", out);
}

static int b_out_of_range(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_with(id, hb, "heartbeat_s",
			  json_integer(EDGE_MSG_HEARTBEAT_MAX_S + 1), NULL, out);
}

static int b_string_too_long(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	char fw[EDGE_MSG_VERSION_CAP + 9];
	memset(fw, '1', sizeof(fw) - 1);
	fw[sizeof(fw) - 1] = '\0';
	return hello_with(id, hb, "fw", json_string(fw), NULL, out);
}

static int b_bad_string(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	return hello_with(id, hb, "fw", json_string("1.4 beta"), NULL, out);
}

static int b_too_many_items(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	json_t *ops = json_array();
	for (int i = 0; ops && i < EDGE_MSG_MAX_OPS + 1; i++)
		json_array_append_new(ops, json_string("ADD"));
	return ops ? hello_with(id, hb, "ops", ops, NULL, out) : -ENOMEM;
}

static int b_bad_enum(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	int rc = topic_of(out, id, EDGE_TOPIC_STATUS);
	if (rc)
		return rc;
	/* Not retained: a broken retained status would outlive the test. */
	static const char text[] = "{\"proto\":1,\"state\":\"dancing\"}";
	return set_payload(out, text, sizeof(text) - 1);
}

static int b_bad_hash(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	json_t *m = json_pack("{s:s,s:s,s:s}", "name", "kws", "version", "1.0.0",
			      "sha256", "XYZ");
	return m ? hello_with(id, hb, "model", m, NULL, out) : -ENOMEM;
}

static int b_bad_id(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	/* '.' is outside [A-Za-z0-9_-]; the payload's id says the same. */
	char bad[EDGE_ID_MAX_LEN + 8];
	snprintf(bad, sizeof(bad), "%.40s.bad", id);
	json_t *o = valid_hello(id, hb);
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "id", json_string(bad));
	int rc = topic_fmt(out, "edge/v1/%s/hello", bad);
	if (rc) {
		json_decref(o);
		return rc;
	}
	return dump_json(o, NULL, out);
}

static int b_id_mismatch(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	char other[EDGE_ID_MAX_LEN + 1];
	snprintf(other, sizeof(other), "%.56s-other", id);
	return hello_with(id, hb, "id", json_string(other), NULL, out);
}

static int b_unsupported_version(const char *id, uint32_t hb,
				 struct sim_malformed_msg *out)
{
	return hello_with(id, hb, "proto", json_integer(EDGE_PROTO_VERSION + 1),
			  NULL, out);
}

static int b_bad_topic(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	/* An empty id level: still matches the gateway's edge/v1/+/hello. */
	int rc = topic_fmt(out, "edge/v1//hello");
	if (rc)
		return rc;
	json_t *o = valid_hello(id, hb);
	return o ? dump_json(o, NULL, out) : -ENOMEM;
}

static int b_unknown_type(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	int rc = topic_fmt(out, "edge/v1/%s/selfie", id);
	return rc ? rc : set_payload(out, "{\"proto\":1}", 11);
}

static int b_wrong_direction(const char *id, uint32_t hb,
			     struct sim_malformed_msg *out)
{
	struct edge_msg_registered r = {
		.proto = EDGE_PROTO_VERSION, .accepted = 1,
		.heartbeat_s = 30, .stale_after = 3,
	};
	char buf[EDGE_MSG_MAX_PAYLOAD + 1];
	int n = edge_msg_encode_registered(buf, sizeof(buf), &r);
	if (n < 0)
		return n;
	int rc = topic_of(out, id, EDGE_TOPIC_REGISTERED);
	return rc ? rc : set_payload(out, buf, (size_t)n);
}

static int b_unhandled_type(const char *id, uint32_t hb,
			    struct sim_malformed_msg *out)
{
	/* ota/ is a type of a later revision: valid, not parsed yet. */
	int rc = topic_fmt(out, "edge/v1/%s/ota/status", id);
	return rc ? rc : set_payload(out, "{\"proto\":1}", 11);
}

static int b_inconsistent(const char *id, uint32_t hb, struct sim_malformed_msg *out)
{
	/* A tensor arena larger than the node's RAM. */
	return hello_with(id, hb, "arena_bytes", json_integer(512 * 1024), NULL, out);
}

static int b_heartbeat_wrong_type(const char *id, uint32_t hb,
				  struct sim_malformed_msg *out)
{
	char buf[EDGE_MSG_MAX_PAYLOAD + 1];
	int n = sim_msgs_encode_heartbeat(buf, sizeof(buf), 1, 10, 0);
	if (n < 0)
		return n;
	json_t *o = json_loadb(buf, (size_t)n, 0, NULL);
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "seq", json_string("one"));
	int rc = topic_of(out, id, EDGE_TOPIC_HEARTBEAT);
	if (rc) {
		json_decref(o);
		return rc;
	}
	return dump_json(o, NULL, out);
}

const struct sim_malformed_kind sim_malformed_kinds[] = {
	{"too_large", EDGE_MSG_TOO_LARGE, "hello padded past the payload limit", b_too_large},
	{"empty", EDGE_MSG_EMPTY, "zero-length hello", b_empty},
	{"truncated", EDGE_MSG_BAD_JSON, "hello cut in half", b_truncated},
	{"bad_json", EDGE_MSG_BAD_JSON, "JSON syntax error", b_bad_json},
	{"bad_utf8", EDGE_MSG_BAD_UTF8, "overlong UTF-8 in a string", b_bad_utf8},
	{"bad_escape", EDGE_MSG_BAD_ESCAPE, "invalid \\q escape", b_bad_escape},
	{"bad_number", EDGE_MSG_BAD_NUMBER, "number with a leading zero", b_bad_number},
	{"control_char", EDGE_MSG_CONTROL_CHAR, "raw control byte in a string", b_control_char},
	{"trailing_data", EDGE_MSG_TRAILING_DATA, "bytes after the object", b_trailing_data},
	{"too_deep", EDGE_MSG_TOO_DEEP, "nesting 5 levels deep", b_too_deep},
	{"too_many_tokens", EDGE_MSG_TOO_MANY_TOKENS, "array of 400 numbers", b_too_many_tokens},
	{"duplicate_key", EDGE_MSG_DUPLICATE_KEY, "\"sensor\" twice", b_duplicate_key},
	{"not_object", EDGE_MSG_NOT_OBJECT, "top-level array", b_not_object},
	{"missing_field", EDGE_MSG_MISSING_FIELD, "hello without \"fw\"", b_missing_field},
	{"wrong_type", EDGE_MSG_WRONG_TYPE, "\"ram_bytes\" as a string", b_wrong_type},
	{"not_integer", EDGE_MSG_NOT_INTEGER, "\"ram_bytes\" with a fraction", b_not_integer},
	{"out_of_range", EDGE_MSG_OUT_OF_RANGE, "\"heartbeat_s\" above the maximum", b_out_of_range},
	{"string_too_long", EDGE_MSG_STRING_TOO_LONG, "40-character \"fw\"", b_string_too_long},
	{"bad_string", EDGE_MSG_BAD_STRING, "\"fw\" with a space", b_bad_string},
	{"too_many_items", EDGE_MSG_TOO_MANY_ITEMS, "65 ops", b_too_many_items},
	{"bad_enum", EDGE_MSG_BAD_ENUM, "status with state \"dancing\"", b_bad_enum},
	{"bad_hash", EDGE_MSG_BAD_HASH, "model sha256 \"XYZ\"", b_bad_hash},
	{"bad_id", EDGE_MSG_BAD_ID, "'.' in the topic's node id", b_bad_id},
	{"id_mismatch", EDGE_MSG_ID_MISMATCH, "payload id differs from the topic's", b_id_mismatch},
	{"unsupported_version", EDGE_MSG_UNSUPPORTED_VERSION, "\"proto\": 2", b_unsupported_version},
	{"bad_topic", EDGE_MSG_BAD_TOPIC, "empty id level in the topic", b_bad_topic},
	{"unknown_type", EDGE_MSG_UNKNOWN_TYPE, "topic type \"selfie\"", b_unknown_type},
	{"wrong_direction", EDGE_MSG_WRONG_DIRECTION, "a node publishing \"registered\"", b_wrong_direction},
	{"unhandled_type", EDGE_MSG_UNHANDLED_TYPE, "\"ota/status\" (later revision)", b_unhandled_type},
	{"inconsistent", EDGE_MSG_INCONSISTENT, "arena larger than RAM", b_inconsistent},
	{"heartbeat_wrong_type", EDGE_MSG_WRONG_TYPE, "heartbeat \"seq\" as a string", b_heartbeat_wrong_type},
};
const size_t sim_malformed_count =
	sizeof(sim_malformed_kinds) / sizeof(sim_malformed_kinds[0]);

const struct sim_malformed_kind *sim_malformed_find(const char *name)
{
	for (size_t i = 0; i < sim_malformed_count; i++)
		if (strcmp(sim_malformed_kinds[i].name, name) == 0)
			return &sim_malformed_kinds[i];
	return NULL;
}

int sim_malformed_build(const struct sim_malformed_kind *k, const char *id,
			uint32_t heartbeat_s, struct sim_malformed_msg *out)
{
	memset(out, 0, sizeof(*out));
	int rc = k->build(id, heartbeat_s, out);
	if (rc) {
		free(out->payload);
		out->payload = NULL;
	}
	return rc;
}
