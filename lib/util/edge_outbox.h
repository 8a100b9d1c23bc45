/* Bounded FIFO of messages to publish later (edged keeps what it publishes
 * while the broker is unreachable here). When full, the oldest message is
 * dropped and counted: the newest state matters most to the nodes waiting
 * for it. Memory: at most `capacity` messages, each a copy of its topic and
 * payload.
 *
 * Not thread-safe; use from one thread (the event loop). */
#ifndef EDGE_OUTBOX_H
#define EDGE_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

typedef struct edge_outbox edge_outbox;

/* One queued message; owned by the outbox until popped, then by the caller
 * (release with edge_outbox_msg_free, or hand back with edge_outbox_unpop). */
struct edge_outbox_msg {
	char *topic;
	void *payload;
	size_t len;
	int qos;
	bool retain;
};

/* capacity 0 keeps nothing (every push counts as dropped). NULL on ENOMEM. */
edge_outbox *edge_outbox_new(size_t capacity);
void edge_outbox_free(edge_outbox *ob); /* NULL-safe; drops queued messages */

/* Copies topic and payload (len bytes; payload may be NULL if len is 0).
 * Returns 0 (a full outbox drops its oldest message to make room) or -ENOMEM
 * (nothing queued, nothing dropped). */
EDGE_WUR int edge_outbox_push(edge_outbox *ob, const char *topic, const void *payload,
			      size_t len, int qos, bool retain);

/* Oldest message, or NULL if empty; ownership passes to the caller. */
struct edge_outbox_msg *edge_outbox_pop(edge_outbox *ob);

/* Puts a popped message back at the head (its publish failed); takes
 * ownership. Right after a pop there is always room; otherwise the message is
 * dropped and counted. */
void edge_outbox_unpop(edge_outbox *ob, struct edge_outbox_msg *msg);

void edge_outbox_msg_free(struct edge_outbox_msg *msg); /* NULL-safe */

/* New capacity (config reload); shrinking drops the oldest. -ENOMEM leaves
 * the outbox as it was. */
EDGE_WUR int edge_outbox_set_capacity(edge_outbox *ob, size_t capacity);

size_t edge_outbox_depth(const edge_outbox *ob);
size_t edge_outbox_capacity(const edge_outbox *ob);
uint64_t edge_outbox_dropped(const edge_outbox *ob); /* since creation */

#endif
