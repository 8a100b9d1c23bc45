/* The report parser: the gateway's side of node-protocol.md §5.5. It
 * reads score, threshold and summary numbers with strtod/strtof, which in
 * newlib pull in its allocator, so it lives apart from the codec a node
 * links (edge_report.c): gateway-only, like its 26 KB token array. */
#include "edge_report.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "edge_json.h"
#include "edge_msg_internal.h"
#include "edge_report_internal.h"

/* Number token t, finite with |x| <= EDGE_REPORT_VALUE_MAX. The token is a
 * valid JSON number inside an object, so a delimiter follows it within the
 * buffer and strtod stops exactly at its end. */
static int read_value(struct edge_msg_ctx *c, int t,
		      const struct edge_msg_path *p, double *out)
{
	const struct edge_json_tok *tok;
	const char *s;
	char *end;
	double v;

	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_NUMBER)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, p, t);
	tok = &c->doc.toks[t];
	s = c->doc.buf + tok->start;
	v = strtod(s, &end);
	if (end != c->doc.buf + tok->end)
		return edge_msg_reject_path(c, EDGE_MSG_BAD_NUMBER, p, t);
	if (!edge_report_value_ok(v))
		return edge_msg_reject_path(c, EDGE_MSG_OUT_OF_RANGE, p, t);
	*out = v;
	return 0;
}

/* The same number, as the float nearest to its decimal text (not the double
 * rounded again, which could differ). */
static float value_as_float(struct edge_msg_ctx *c, int t)
{
	return strtof(c->doc.buf + c->doc.toks[t].start, NULL);
}

/* ----------------------------------------------------------------- report */

/* Path of member key of event i. */
static struct edge_msg_path event_path(long i, const char *key)
{
	struct edge_msg_path p = { "events", i, key, -1 };

	return p;
}

/* "name@version": both parts checked against their classes. */
static int read_model(struct edge_msg_ctx *c, int t, long i,
		      struct edge_report_event *ev)
{
	char text[EDGE_MSG_TOKEN_CAP + EDGE_MSG_VERSION_CAP];
	struct edge_msg_path p = event_path(i, "model");
	enum edge_msg_reject r;
	const char *at;
	size_t n, nn;

	if (edge_msg_read_string(c, t, &p, text, sizeof text, &n) < 0)
		return -EPROTO;
	at = memchr(text, '@', n);
	if (!at)
		return edge_msg_reject_path(c, EDGE_MSG_BAD_STRING, &p, t);
	nn = (size_t)(at - text);
	r = edge_msg_check_class(text, nn, EDGE_MSG_TOKEN_CAP - 1,
				 edge_msg_name_char);
	if (r == EDGE_MSG_OK)
		r = edge_msg_check_class(at + 1, n - nn - 1,
					 EDGE_MSG_VERSION_CAP - 1,
					 edge_msg_version_char);
	if (r != EDGE_MSG_OK)
		return edge_msg_reject_path(c, r, &p, t);
	memcpy(ev->model_name, text, nn);
	ev->model_name[nn] = '\0';
	memcpy(ev->model_version, at + 1, n - nn); /* with the NUL */
	return 0;
}

/* Token of event member key, or -ENOENT. */
static int member(struct edge_msg_ctx *c, int obj, const char *key)
{
	int t = edge_json_obj_get(&c->doc, obj, key);

	return t >= 0 ? t : -ENOENT;
}

/* Exactly one of key_a and key_b: the token found, with *is_b telling
 * which; missing_field names key_a, inconsistent names key_b. */
static int one_of(struct edge_msg_ctx *c, int obj, long i, const char *key_a,
		  const char *key_b, int *is_b)
{
	int a = member(c, obj, key_a), b = member(c, obj, key_b);
	struct edge_msg_path p;

	if (a >= 0 && b >= 0) {
		p = event_path(i, key_b);
		return edge_msg_reject_path(c, EDGE_MSG_INCONSISTENT, &p, b);
	}
	if (a < 0 && b < 0) {
		p = event_path(i, key_a);
		return edge_msg_reject_path(c, EDGE_MSG_MISSING_FIELD, &p, -1);
	}
	*is_b = b >= 0;
	return a >= 0 ? a : b;
}

static int read_summary(struct edge_msg_ctx *c, int t, long i,
			struct edge_report_event *ev)
{
	struct edge_msg_path p = event_path(i, "summary");
	double v;
	int e;

	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_ARRAY)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, &p, t);
	if (c->doc.toks[t].size > EDGE_REPORT_SUMMARY_MAX)
		return edge_msg_reject_path(c, EDGE_MSG_TOO_MANY_ITEMS, &p, t);
	ev->n_summary = 0;
	for (e = edge_json_first(&c->doc, t); e >= 0; e = edge_json_next(&c->doc, e)) {
		p.index2 = ev->n_summary;
		if (read_value(c, e, &p, &v) < 0)
			return -EPROTO;
		ev->summary[ev->n_summary++] = value_as_float(c, e);
	}
	return 0;
}

static int read_member(struct edge_msg_ctx *c, int t, long i,
		       const struct edge_report_member *m,
		       bool alt, uint32_t prev_seq, struct edge_report_event *ev)
{
	struct edge_msg_path p = event_path(i, alt ? m->alt : m->key);
	uint64_t v;
	double d;

	switch (m->kind) {
	case EDGE_REPORT_SEQ:
		if (edge_msg_read_uint(c, t, &p, 0, UINT32_MAX, &v) < 0)
			return -EPROTO;
		if (v == 0 || v <= prev_seq)
			return edge_msg_reject_path(c, EDGE_MSG_BAD_SEQUENCE, &p, t);
		ev->seq = (uint32_t)v;
		return 0;
	case EDGE_REPORT_MODEL:
		ev->has_sha256 = alt;
		if (!alt)
			return read_model(c, t, i, ev);
		if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
			return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, &p, t);
		if (edge_json_get_str(&c->doc, t, ev->model_sha256,
				      sizeof ev->model_sha256, NULL) < 0 ||
		    !edge_msg_sha256_ok(ev->model_sha256))
			return edge_msg_reject_path(c, EDGE_MSG_BAD_HASH, &p, t);
		return 0;
	case EDGE_REPORT_VALUE:
		if (read_value(c, t, &p, &d) < 0)
			return -EPROTO;
		memcpy((char *)ev + m->offset, &d, sizeof d);
		return 0;
	case EDGE_REPORT_LABEL:
		if (edge_msg_read_string(c, t, &p, ev->label, sizeof ev->label, NULL) < 0)
			return -EPROTO;
		if (edge_msg_check_class(ev->label, strlen(ev->label),
					 EDGE_MSG_TOKEN_CAP - 1,
					 edge_msg_name_char) != EDGE_MSG_OK)
			return edge_msg_reject_path(c, EDGE_MSG_BAD_STRING, &p, t);
		return 0;
	case EDGE_REPORT_SEVERITY:
		if (edge_msg_read_uint(c, t, &p, 0, EDGE_REPORT_SEVERITY_MAX, &v) < 0)
			return -EPROTO;
		ev->has_severity = true;
		ev->severity = (uint8_t)v;
		return 0;
	case EDGE_REPORT_SUMMARY:
		return read_summary(c, t, i, ev);
	case EDGE_REPORT_TIME:
		if (edge_msg_read_uint(c, t, &p, 0,
			      alt ? EDGE_MSG_UINT_MAX : EDGE_REPORT_AGE_MAX_MS, &v) < 0)
			return -EPROTO;
		ev->has_ts = alt;
		if (alt)
			ev->ts_ms = v;
		else
			ev->age_ms = (uint32_t)v;
		return 0;
	}
	return -EPROTO;
}

static int read_event(struct edge_msg_ctx *c, int obj, long i, uint32_t prev_seq,
		      struct edge_report_event *ev)
{
	struct edge_msg_path p = event_path(i, NULL);
	size_t k;

	if (edge_json_type_of(&c->doc, obj) != EDGE_JSON_OBJECT)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, &p, obj);
	for (k = 0; k < EDGE_REPORT_N_MEMBERS; k++) {
		const struct edge_report_member *m = &edge_report_members[k];
		int alt = 0, t;

		if (m->alt)
			t = one_of(c, obj, i, m->key, m->alt, &alt);
		else
			t = member(c, obj, m->key);
		if (t == -EPROTO)
			return t;
		if (t < 0 && m->required) {
			p = event_path(i, m->key);
			return edge_msg_reject_path(c, EDGE_MSG_MISSING_FIELD, &p, -1);
		}
		if (t >= 0 && read_member(c, t, i, m, alt, prev_seq, ev) < 0)
			return -EPROTO;
	}
	return 0;
}

static int parse_report_fields(struct edge_msg_ctx *c, void *msg)
{
	struct edge_msg_report *out = msg;
	uint32_t prev = 0;
	uint64_t v;
	int t, e, oldest_tok;

	if (edge_msg_get_uint(c, "epoch", 0, UINT32_MAX, &v) < 0)
		return -EPROTO;
	out->epoch = (uint32_t)v;
	oldest_tok = edge_msg_get_uint(c, "oldest", 1, UINT32_MAX, &v);
	if (oldest_tok < 0)
		return -EPROTO;
	out->oldest = (uint32_t)v;

	t = edge_json_obj_get(&c->doc, 0, "events");
	if (t < 0)
		return edge_msg_reject_key(c, EDGE_MSG_MISSING_FIELD, "events", -1);
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_ARRAY)
		return edge_msg_reject_key(c, EDGE_MSG_WRONG_TYPE, "events", t);
	/* An empty report carries nothing: its one event is missing. */
	if (c->doc.toks[t].size == 0)
		return edge_msg_reject_key(c, EDGE_MSG_MISSING_FIELD, "events", t);
	if (c->doc.toks[t].size > EDGE_REPORT_MAX_EVENTS)
		return edge_msg_reject_key(c, EDGE_MSG_TOO_MANY_ITEMS, "events", t);
	for (e = edge_json_first(&c->doc, t); e >= 0; e = edge_json_next(&c->doc, e)) {
		struct edge_report_event *ev = &out->events[out->n_events];

		if (read_event(c, e, (long)out->n_events, prev, ev) < 0)
			return -EPROTO;
		prev = ev->seq;
		out->n_events++;
	}
	/* The node gave up nothing it still sends (§5.5). */
	if (out->oldest > out->events[0].seq)
		return edge_msg_reject_key(c, EDGE_MSG_INCONSISTENT, "oldest",
					   oldest_tok);
	return 0;
}

int edge_msg_parse_report(const char *buf, size_t len,
			  struct edge_msg_report *out, struct edge_msg_error *err)
{
	struct edge_json_tok toks[EDGE_REPORT_MAX_TOKENS];

	return edge_msg_parse(buf, len, err, out, sizeof *out, toks,
			      EDGE_REPORT_MAX_TOKENS, EDGE_REPORT_MAX_DEPTH,
			      parse_report_fields);
}

