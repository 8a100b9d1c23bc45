/* Forwarding to the central history (lib/central, docs/central.md): the
 * daemon's wiring of the forwarder thread.
 *
 * - The forwarder (edge_central_forward.h) runs on its own thread with its
 *   own read-only connection; it never touches the loop nor the writer.
 * - Its committed cursors come back through a uv_async and are saved by one
 *   store op at a time (edge_central_cursors_save): what retention reads to
 *   count rows it deletes before they were forwarded.
 * - Every central.summary_interval_s the loop takes the registry's counts
 *   and the day's inferences and stores a fleet summary for forwarding
 *   (edge_central_summary_add, on the writer).
 * - A report's commit kicks the forwarder, so an event usually leaves
 *   within a batch's time of its ack.
 *
 * Threading: the loop. */
#ifndef EDGED_CENTRAL_H
#define EDGED_CENTRAL_H

#include <jansson.h>

#include "edge_error.h"

struct edged;
struct edged_central;

/* Starts the forwarder. NULL *out (and 0) when central.conninfo is empty.
 * Needs d->store, d->registry, d->config. -ENOMEM, uv errors. */
EDGE_WUR int edged_central_new(struct edged *d, struct edged_central **out);
/* New rows were committed: forward them soon. NULL-safe. */
void edged_central_kick(struct edged_central *c);
/* Stops the timer and the thread (its wait is interrupted; a batch in
 * flight is sent again after the restart). NULL-safe. */
void edged_central_stop(struct edged_central *c);
/* After the loop ran the close callbacks' turn and after the store closed
 * (a cursor save may still complete into it). NULL-safe. */
void edged_central_free(struct edged_central *c);

/* The "central" block of status ({"enabled": false} when off). */
json_t *edged_central_status_json(const struct edged_central *c);

#endif
