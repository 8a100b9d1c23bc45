/* The anomaly history as the control protocol shows it: one builder per
 * kind of row (proto/control-protocol.md, "anomalies.*"), shared by the
 * query commands and the tail. Any thread (each object is its own). */
#ifndef EDGED_ANOMALY_JSON_H
#define EDGED_ANOMALY_JSON_H

#include <jansson.h>

#include "edge_anomaly_query.h"

/* EVENT: {"id", "device", "epoch", "seq", "ts_ms", "received_ms",
 * "time_source", "model", "score", "threshold", "label", "severity" (if
 * given), "summary" (if given)}. NULL: out of memory. */
json_t *edged_anomaly_event_json(const struct edge_anomaly_row *row);

/* EP: {"id", "device", "label", "model", "state", "start_ms", "end_ms",
 * "count", "peak_score", "confirmed_ms" (if), "closed_ms" (if)}. */
json_t *edged_anomaly_episode_json(const struct edge_anomaly_episode_row *row);

/* STAT: {"key" (by device, label or model), "bucket_ms" (by time),
 * "count", and when count > 0 "min", "max", "mean", "p50", "p90", "p99"}. */
json_t *edged_anomaly_stat_json(const struct edge_anomaly_stat *st, bool by_time);

/* {"ts_ms", "id"} of a keyset cursor. */
json_t *edged_anomaly_cursor_json(const struct edge_anomaly_cursor *c);

#endif
