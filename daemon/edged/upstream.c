/* The upstream bridges' state (upstream.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge_log.h"
#include "upstream.h"

#define UPSTREAM_BRIDGES_MAX 8
#define UPSTREAM_NAME_MAX 64
#define PREFIX "$SYS/broker/connection/"
#define SUFFIX "/state"

struct bridge {
	char name[UPSTREAM_NAME_MAX + 1];
	bool connected;
	int64_t since_ms;   /* wall ms of the last change edged saw */
	uint64_t downs;     /* connected → not connected, seen by edged */
};

struct edged_upstream {
	struct bridge b[UPSTREAM_BRIDGES_MAX];
	unsigned n;
	uint64_t ignored;   /* too many bridges, or a payload not "0"/"1" */
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int edged_upstream_new(struct edged_upstream **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void edged_upstream_free(struct edged_upstream *u)
{
	free(u);
}

bool edged_upstream_on_message(struct edged_upstream *u, const struct edged_mqtt_message *in)
{
	const size_t pl = sizeof PREFIX - 1, sl = sizeof SUFFIX - 1;
	size_t tl = strlen(in->topic), nl;
	const char *name;
	struct bridge *b = NULL;
	bool up;

	if (!u || tl <= pl + sl || strncmp(in->topic, PREFIX, pl) != 0 ||
	    strcmp(in->topic + tl - sl, SUFFIX) != 0)
		return false;
	name = in->topic + pl;
	nl = tl - pl - sl;
	if (nl > UPSTREAM_NAME_MAX || memchr(name, '/', nl) || in->len != 1 ||
	    (((const char *)in->payload)[0] != '0' && ((const char *)in->payload)[0] != '1')) {
		u->ignored++;
		return true;
	}
	up = ((const char *)in->payload)[0] == '1';
	for (unsigned i = 0; i < u->n && !b; i++)
		if (strlen(u->b[i].name) == nl && memcmp(u->b[i].name, name, nl) == 0)
			b = &u->b[i];
	if (!b) {
		if (u->n == UPSTREAM_BRIDGES_MAX) {
			u->ignored++;
			return true;
		}
		b = &u->b[u->n++];
		memcpy(b->name, name, nl);
		b->name[nl] = '\0';
		b->connected = !up; /* so the first message counts as a change */
	}
	if (b->connected != up) {
		if (b->connected)
			b->downs++;
		b->connected = up;
		b->since_ms = wall_ms();
		edge_log(up ? EDGE_LOG_INFO : EDGE_LOG_NOTICE, "upstream", "bridge %s %s", b->name,
			 up ? "connected to the upstream" : "not connected to the upstream");
	}
	return true;
}

json_t *edged_upstream_status_json(const struct edged_upstream *u)
{
	json_t *arr = json_array();

	for (unsigned i = 0; u && arr && i < u->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:b, s:I, s:I}", "name", u->b[i].name,
						     "connected", u->b[i].connected, "since_ms",
						     (json_int_t)u->b[i].since_ms, "downs",
						     (json_int_t)u->b[i].downs));
	return json_pack("{s:o*, s:I}", "bridges", arr, "ignored",
			 (json_int_t)(u ? u->ignored : 0));
}
