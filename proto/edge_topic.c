/* Topic tree edge/v1/<id>/<type>[/<sub>]: parse, build, validate ids. */
#include "edge_topic.h"

#include <errno.h>
#include <string.h>

static const char topic_prefix[] = "edge/v1/";

static const struct {
	const char *name;
	enum edge_topic_dir dir;
	int has_sub; /* ota/..., infer/... carry further levels */
} topic_types[EDGE_TOPIC_TYPE_COUNT] = {
	[EDGE_TOPIC_NONE] = { "none", (enum edge_topic_dir)0, 0 },
	[EDGE_TOPIC_HELLO] = { "hello", EDGE_TOPIC_TO_GATEWAY, 0 },
	[EDGE_TOPIC_STATUS] = { "status", EDGE_TOPIC_TO_GATEWAY, 0 },
	[EDGE_TOPIC_HEARTBEAT] = { "heartbeat", EDGE_TOPIC_TO_GATEWAY, 0 },
	[EDGE_TOPIC_REGISTERED] = { "registered", EDGE_TOPIC_TO_NODE, 0 },
	[EDGE_TOPIC_REPORT] = { "report", EDGE_TOPIC_TO_GATEWAY, 0 },
	[EDGE_TOPIC_ACK] = { "ack", EDGE_TOPIC_TO_NODE, 0 },
	[EDGE_TOPIC_OTA] = { "ota", EDGE_TOPIC_BOTH, 1 },
	[EDGE_TOPIC_INFER] = { "infer", EDGE_TOPIC_BOTH, 1 },
};

static int id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int edge_id_valid(const char *id, size_t len)
{
	size_t i;

	if (!id || len == 0 || len > EDGE_ID_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!id_char(id[i]))
			return 0;
	/* Campaign frames live under this level, outside every node's subtree:
	 * a node of that id would share (and could be granted) their topic. */
	if (len == sizeof EDGE_TOPIC_CAMPAIGN_ID - 1 &&
	    memcmp(id, EDGE_TOPIC_CAMPAIGN_ID, len) == 0)
		return 0;
	return 1;
}

int edge_id_valid_str(const char *id)
{
	size_t n;

	if (!id)
		return 0;
	/* Bounded scan: a longer id is invalid anyway. */
	for (n = 0; n <= EDGE_ID_MAX_LEN && id[n]; n++)
		;
	return n <= EDGE_ID_MAX_LEN && edge_id_valid(id, n);
}

/* Sub-levels below ota/ or infer/: non-empty levels of [A-Za-z0-9_-]. */
static int sub_valid(const char *s, size_t len)
{
	size_t i, level = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '/') {
			if (level == 0)
				return 0;
			level = 0;
			continue;
		}
		if (!id_char(s[i]))
			return 0;
		level++;
	}
	return level > 0;
}

static int reject(enum edge_msg_reject *why, enum edge_msg_reject r)
{
	if (why)
		*why = r;
	return -EPROTO;
}

static const char *find_slash(const char *s, const char *end)
{
	const void *p = memchr(s, '/', (size_t)(end - s));

	return p ? (const char *)p : end;
}

int edge_topic_parse(const char *topic, size_t len, struct edge_topic *out,
		     enum edge_msg_reject *why)
{
	const char *end, *p, *lvl_end;
	size_t i, n;
	int t;

	if (why)
		*why = EDGE_MSG_OK;
	if (!topic || len == 0 || len > EDGE_TOPIC_MAX_LEN)
		return reject(why, EDGE_MSG_BAD_TOPIC);
	end = topic + len;
	for (i = 0; i < len; i++) {
		char c = topic[i];

		/* Wildcards, NUL and empty levels never appear in our tree. */
		if (c == '+' || c == '#' || c == '\0')
			return reject(why, EDGE_MSG_BAD_TOPIC);
		if (c == '/' && (i == 0 || i + 1 == len || topic[i + 1] == '/'))
			return reject(why, EDGE_MSG_BAD_TOPIC);
	}
	if (len < 5 || memcmp(topic, "edge/", 5) != 0)
		return reject(why, EDGE_MSG_BAD_TOPIC);

	/* Version level: "v" + decimal digits; only "v1" is ours. */
	p = topic + 5;
	lvl_end = find_slash(p, end);
	n = (size_t)(lvl_end - p);
	if (n < 2 || p[0] != 'v')
		return reject(why, EDGE_MSG_BAD_TOPIC);
	for (i = 1; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return reject(why, EDGE_MSG_BAD_TOPIC);
	if (n != 2 || p[1] != '1')
		return reject(why, EDGE_MSG_UNSUPPORTED_VERSION);
	if (lvl_end == end)
		return reject(why, EDGE_MSG_BAD_TOPIC);

	/* Node id level. */
	p = lvl_end + 1;
	lvl_end = find_slash(p, end);
	if (!edge_id_valid(p, (size_t)(lvl_end - p)))
		return reject(why, EDGE_MSG_BAD_ID);
	if (lvl_end == end)
		return reject(why, EDGE_MSG_BAD_TOPIC); /* no type level */
	if (out) {
		memcpy(out->id, p, (size_t)(lvl_end - p));
		out->id[lvl_end - p] = '\0';
	}

	/* Type level (and the sub-levels of ota/infer). */
	p = lvl_end + 1;
	lvl_end = find_slash(p, end);
	n = (size_t)(lvl_end - p);
	for (t = 1; t < EDGE_TOPIC_TYPE_COUNT; t++) {
		if (strlen(topic_types[t].name) != n ||
		    memcmp(topic_types[t].name, p, n) != 0)
			continue;
		if (topic_types[t].has_sub) {
			if (lvl_end == end ||
			    !sub_valid(lvl_end + 1, (size_t)(end - lvl_end - 1)))
				return reject(why, EDGE_MSG_UNKNOWN_TYPE);
		} else if (lvl_end != end) {
			return reject(why, EDGE_MSG_UNKNOWN_TYPE);
		}
		if (out) {
			out->type = (enum edge_topic_type)t;
			out->sub = lvl_end == end ? end : lvl_end + 1;
			out->sub_len = (size_t)(end - out->sub);
		}
		return 0;
	}
	return reject(why, EDGE_MSG_UNKNOWN_TYPE);
}

static int append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	if (n >= cap - *len) /* keep room for the NUL */
		return -ENOSPC;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
	return 0;
}

/* "edge/v1/" + level + "/" + type name [+ "/" + sub]. */
static int build(char *buf, size_t cap, const char *level, size_t level_len,
		 enum edge_topic_type type, const char *sub, size_t sub_len)
{
	const char *name;
	size_t len = 0;

	if (!buf || cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	name = topic_types[type].name;
	if (append(buf, cap, &len, topic_prefix, sizeof topic_prefix - 1) < 0 ||
	    append(buf, cap, &len, level, level_len) < 0 ||
	    append(buf, cap, &len, "/", 1) < 0 ||
	    append(buf, cap, &len, name, strlen(name)) < 0)
		return -ENOSPC;
	if (sub && (append(buf, cap, &len, "/", 1) < 0 ||
		    append(buf, cap, &len, sub, sub_len) < 0))
		return -ENOSPC;
	return (int)len;
}

int edge_topic_build(char *buf, size_t cap, const char *id,
		     enum edge_topic_type type, const char *sub)
{
	size_t sub_len = 0;

	if (type <= EDGE_TOPIC_NONE || type >= EDGE_TOPIC_TYPE_COUNT ||
	    !edge_id_valid_str(id))
		return -EINVAL;
	if (topic_types[type].has_sub) {
		if (!sub)
			return -EINVAL;
		/* Bounded: a sub longer than a whole topic is invalid. */
		for (sub_len = 0; sub_len <= EDGE_TOPIC_MAX_LEN && sub[sub_len]; sub_len++)
			;
		if (sub_len > EDGE_TOPIC_MAX_LEN || !sub_valid(sub, sub_len))
			return -EINVAL;
	} else if (sub) {
		return -EINVAL;
	}
	return build(buf, cap, id, strlen(id), type, sub, sub_len);
}

int edge_topic_filter(char *buf, size_t cap, enum edge_topic_type type)
{
	if (type <= EDGE_TOPIC_NONE || type >= EDGE_TOPIC_TYPE_COUNT)
		return -EINVAL;
	return build(buf, cap, "+", 1, type, topic_types[type].has_sub ? "#" : NULL,
		     1);
}

const char *edge_topic_type_name(enum edge_topic_type type)
{
	if ((unsigned)type >= EDGE_TOPIC_TYPE_COUNT)
		return "none";
	return topic_types[type].name;
}

enum edge_topic_dir edge_topic_direction(enum edge_topic_type type)
{
	if ((unsigned)type >= EDGE_TOPIC_TYPE_COUNT)
		return (enum edge_topic_dir)0;
	return topic_types[type].dir;
}
