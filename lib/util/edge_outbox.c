#include "edge_outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Ring buffer of message pointers. */
struct edge_outbox {
	struct edge_outbox_msg **ring;
	size_t capacity;
	size_t head;  /* index of the oldest message */
	size_t count;
	uint64_t dropped;
};

edge_outbox *edge_outbox_new(size_t capacity)
{
	edge_outbox *ob;

	ob = calloc(1, sizeof *ob);
	if (!ob)
		return NULL;
	ob->ring = calloc(capacity ? capacity : 1, sizeof *ob->ring);
	if (!ob->ring) {
		free(ob);
		return NULL;
	}
	ob->capacity = capacity;
	return ob;
}

void edge_outbox_msg_free(struct edge_outbox_msg *msg)
{
	if (!msg)
		return;
	free(msg->topic);
	free(msg->payload);
	free(msg);
}

void edge_outbox_free(edge_outbox *ob)
{
	struct edge_outbox_msg *msg;

	if (!ob)
		return;
	while ((msg = edge_outbox_pop(ob)))
		edge_outbox_msg_free(msg);
	free(ob->ring);
	free(ob);
}

int edge_outbox_push(edge_outbox *ob, const char *topic, const void *payload, size_t len,
		     int qos, bool retain)
{
	struct edge_outbox_msg *msg;

	if (ob->capacity == 0) {
		ob->dropped++;
		return 0;
	}
	msg = calloc(1, sizeof *msg);
	if (!msg)
		return -ENOMEM;
	msg->topic = strdup(topic);
	msg->payload = malloc(len ? len : 1);
	if (!msg->topic || !msg->payload) {
		edge_outbox_msg_free(msg);
		return -ENOMEM;
	}
	if (len)
		memcpy(msg->payload, payload, len);
	msg->len = len;
	msg->qos = qos;
	msg->retain = retain;
	if (ob->count == ob->capacity) {
		edge_outbox_msg_free(edge_outbox_pop(ob));
		ob->dropped++;
	}
	ob->ring[(ob->head + ob->count) % ob->capacity] = msg;
	ob->count++;
	return 0;
}

struct edge_outbox_msg *edge_outbox_pop(edge_outbox *ob)
{
	struct edge_outbox_msg *msg;

	if (!ob->count)
		return NULL;
	msg = ob->ring[ob->head];
	ob->ring[ob->head] = NULL;
	ob->head = (ob->head + 1) % ob->capacity;
	ob->count--;
	return msg;
}

void edge_outbox_unpop(edge_outbox *ob, struct edge_outbox_msg *msg)
{
	if (ob->count == ob->capacity || ob->capacity == 0) {
		/* Cannot happen right after a pop; keep the invariant anyway. */
		edge_outbox_msg_free(msg);
		ob->dropped++;
		return;
	}
	ob->head = (ob->head + ob->capacity - 1) % ob->capacity;
	ob->ring[ob->head] = msg;
	ob->count++;
}

int edge_outbox_set_capacity(edge_outbox *ob, size_t capacity)
{
	struct edge_outbox_msg **ring;
	size_t n = 0;

	if (capacity == ob->capacity)
		return 0;
	ring = calloc(capacity ? capacity : 1, sizeof *ring);
	if (!ring)
		return -ENOMEM;
	while (ob->count > capacity) {
		edge_outbox_msg_free(edge_outbox_pop(ob));
		ob->dropped++;
	}
	while (ob->count)
		ring[n++] = edge_outbox_pop(ob);
	free(ob->ring);
	ob->ring = ring;
	ob->capacity = capacity;
	ob->head = 0;
	ob->count = n;
	return 0;
}

size_t edge_outbox_depth(const edge_outbox *ob) { return ob->count; }
size_t edge_outbox_capacity(const edge_outbox *ob) { return ob->capacity; }
uint64_t edge_outbox_dropped(const edge_outbox *ob) { return ob->dropped; }
