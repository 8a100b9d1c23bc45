/* The upstream bridges' state, as the local broker reports it
 * (docs/upstream.md): `edgectl broker-config --bridge-...` turns on the
 * bridge's notifications, local only, on $SYS/broker/connection/<name>/state
 * ("1" connected, "0" not; retained). edged subscribes to them and shows
 * each bridge in status: whether the site reaches the upstream cluster, since
 * when, and how often the link went down. edged never talks to the upstream
 * itself: the broker's bridge carries the node topics.
 *
 * Bounds: at most UPSTREAM_BRIDGES_MAX bridges are tracked (further names
 * are counted and ignored); a payload other than "0" or "1" is counted.
 *
 * Threading: the loop. */
#ifndef EDGED_UPSTREAM_H
#define EDGED_UPSTREAM_H

#include <jansson.h>
#include <stdbool.h>

#include "edge_error.h"
#include "mqtt.h"

struct edged_upstream;

/* The subscription filter (for edged_mqtt_subscribe). */
#define EDGED_UPSTREAM_FILTER "$SYS/broker/connection/+/state"

EDGE_WUR int edged_upstream_new(struct edged_upstream **out);
void edged_upstream_free(struct edged_upstream *u); /* NULL-safe */

/* True when the message is a bridge notification (and was taken). */
bool edged_upstream_on_message(struct edged_upstream *u, const struct edged_mqtt_message *in);

/* The "upstream" block of status: {"bridges": [{name, connected, since_ms,
 * downs}], "ignored": n}. */
json_t *edged_upstream_status_json(const struct edged_upstream *u);

#endif
