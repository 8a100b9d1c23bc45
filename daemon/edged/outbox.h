/* Bounded FIFO of publishes made while the broker is unreachable. When full,
 * the oldest message is dropped (and counted): the newest state matters most
 * to nodes that are waiting for it. */
#ifndef EDGED_OUTBOX_H
#define EDGED_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"

struct edged_outbox;

/* One queued publish; owned by the outbox until popped, then by the caller
 * (release with edged_outbox_msg_free). */
struct edged_outbox_msg {
	char *topic;
	void *payload;
	size_t len;
	int qos;
	bool retain;
};

/* capacity 0 keeps nothing (every push counts as dropped). NULL on ENOMEM. */
struct edged_outbox *edged_outbox_new(size_t capacity);
void edged_outbox_free(struct edged_outbox *ob); /* NULL-safe; drops queued messages */

/* Copies topic and payload. Returns 0 (a full outbox drops its oldest
 * message to make room) or -ENOMEM. */
EDGE_WUR int edged_outbox_push(struct edged_outbox *ob, const char *topic, const void *payload,
			       size_t len, int qos, bool retain);

/* Oldest message, or NULL if empty; ownership passes to the caller. */
struct edged_outbox_msg *edged_outbox_pop(struct edged_outbox *ob);

/* Put a popped message back at the head (publish failed). Takes ownership. */
void edged_outbox_unpop(struct edged_outbox *ob, struct edged_outbox_msg *msg);

void edged_outbox_msg_free(struct edged_outbox_msg *msg); /* NULL-safe */

/* New capacity (config reload); shrinking drops the oldest. -ENOMEM. */
EDGE_WUR int edged_outbox_set_capacity(struct edged_outbox *ob, size_t capacity);

size_t edged_outbox_depth(const struct edged_outbox *ob);
size_t edged_outbox_capacity(const struct edged_outbox *ob);
uint64_t edged_outbox_dropped(const struct edged_outbox *ob);

#endif
