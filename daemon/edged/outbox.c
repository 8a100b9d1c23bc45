#include "outbox.h"

#include <stdlib.h>
#include <string.h>

/* Ring buffer of message pointers. */
struct edged_outbox {
	struct edged_outbox_msg **ring;
	size_t capacity;
	size_t head;  /* index of the oldest message */
	size_t count;
	uint64_t dropped;
};

struct edged_outbox *edged_outbox_new(size_t capacity)
{
	struct edged_outbox *ob;

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

void edged_outbox_msg_free(struct edged_outbox_msg *msg)
{
	if (!msg)
		return;
	free(msg->topic);
	free(msg->payload);
	free(msg);
}

void edged_outbox_free(struct edged_outbox *ob)
{
	struct edged_outbox_msg *msg;

	if (!ob)
		return;
	while ((msg = edged_outbox_pop(ob)))
		edged_outbox_msg_free(msg);
	free(ob->ring);
	free(ob);
}

int edged_outbox_push(struct edged_outbox *ob, const char *topic, const void *payload, size_t len,
		      int qos, bool retain)
{
	struct edged_outbox_msg *msg;

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
		edged_outbox_msg_free(msg);
		return -ENOMEM;
	}
	if (len)
		memcpy(msg->payload, payload, len);
	msg->len = len;
	msg->qos = qos;
	msg->retain = retain;
	if (ob->count == ob->capacity) {
		edged_outbox_msg_free(edged_outbox_pop(ob));
		ob->dropped++;
	}
	ob->ring[(ob->head + ob->count) % ob->capacity] = msg;
	ob->count++;
	return 0;
}

struct edged_outbox_msg *edged_outbox_pop(struct edged_outbox *ob)
{
	struct edged_outbox_msg *msg;

	if (!ob->count)
		return NULL;
	msg = ob->ring[ob->head];
	ob->ring[ob->head] = NULL;
	ob->head = (ob->head + 1) % ob->capacity;
	ob->count--;
	return msg;
}

void edged_outbox_unpop(struct edged_outbox *ob, struct edged_outbox_msg *msg)
{
	if (ob->count == ob->capacity || ob->capacity == 0) {
		/* Cannot happen right after a pop; keep the invariant anyway. */
		edged_outbox_msg_free(msg);
		ob->dropped++;
		return;
	}
	ob->head = (ob->head + ob->capacity - 1) % ob->capacity;
	ob->ring[ob->head] = msg;
	ob->count++;
}

int edged_outbox_set_capacity(struct edged_outbox *ob, size_t capacity)
{
	struct edged_outbox_msg **ring;
	size_t n = 0;

	if (capacity == ob->capacity)
		return 0;
	ring = calloc(capacity ? capacity : 1, sizeof *ring);
	if (!ring)
		return -ENOMEM;
	while (ob->count > capacity) {
		edged_outbox_msg_free(edged_outbox_pop(ob));
		ob->dropped++;
	}
	while (ob->count)
		ring[n++] = edged_outbox_pop(ob);
	free(ob->ring);
	ob->ring = ring;
	ob->capacity = capacity;
	ob->head = 0;
	ob->count = n;
	return 0;
}

size_t edged_outbox_depth(const struct edged_outbox *ob) { return ob->count; }
size_t edged_outbox_capacity(const struct edged_outbox *ob) { return ob->capacity; }
uint64_t edged_outbox_dropped(const struct edged_outbox *ob) { return ob->dropped; }
