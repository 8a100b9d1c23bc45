/* `anomalies.tail`: followers of the events being stored.
 *
 * A follower is a streaming control call (control.h) with optional device
 * and label filters. Its first frame is {"following": true}; then every
 * event newly stored (after its commit; the anomaly service hands them
 * over, edged_anomaly_tail_event) that matches goes out in frames
 * {"events": [EVENT...]}, at most TAIL_FRAME_EVENTS each, batched per loop
 * turn. It never ends by itself: the peer hangs up, or at shutdown it is
 * finished with {"ended": "shutdown"}.
 *
 * edged never waits for a follower: one whose unwritten output is above
 * EDGED_CTL_STREAM_MAX_QUEUED when a batch is due is dropped with
 * `too_slow` (counted). At most TAIL_FOLLOWERS_MAX followers; one more
 * gets `busy`. Loop thread only. */
#ifndef EDGED_ANOMALY_TAIL_H
#define EDGED_ANOMALY_TAIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "control.h"
#include "edge_anomaly_query.h"
#include "edge_error.h"

#define TAIL_FOLLOWERS_MAX 8
#define TAIL_FRAME_EVENTS 500

struct edged_anomaly_tail;

EDGE_WUR int edged_anomaly_tail_new(uv_loop_t *loop, struct edged_anomaly_tail **out);

/* Finishes every follower with {"ended": "shutdown"} and takes no more.
 * NULL-safe, idempotent. */
void edged_anomaly_tail_stop(struct edged_anomaly_tail *t);

/* Stops too; the memory goes once the loop ran the handle's close
 * callback. NULL-safe. */
void edged_anomaly_tail_free(struct edged_anomaly_tail *t);

/* The command: args device, label (optional strings). */
int edged_anomaly_tail_start(struct edged_anomaly_tail *t, json_t *args,
			     struct edged_ctl_call *call, char *msg, size_t msglen);

/* Anyone following? (The store op fetches the rows only then.) NULL-safe. */
bool edged_anomaly_tail_active(const struct edged_anomaly_tail *t);

/* An event committed just now; borrowed. NULL-safe. */
void edged_anomaly_tail_event(struct edged_anomaly_tail *t, const struct edge_anomaly_row *row);

struct edged_anomaly_tail_stats {
	unsigned followers;
	uint64_t followers_total;
	uint64_t followers_dropped; /* too_slow */
	uint64_t events_sent;
};
void edged_anomaly_tail_get_stats(const struct edged_anomaly_tail *t,
				  struct edged_anomaly_tail_stats *out);

#endif
