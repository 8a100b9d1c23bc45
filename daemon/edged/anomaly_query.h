/* The anomaly history's read side for the control socket: `anomalies.list`,
 * `anomalies.stats`, `anomalies.episodes` and the summary of `device`
 * (proto/control-protocol.md).
 *
 * Every query runs off the loop, on libuv's thread pool, at most
 * QUERY_RUNNING_MAX at once; up to QUERY_QUEUE_MAX more wait their turn,
 * beyond that `busy`. Each running place keeps one read-only reader
 * (edge_anomaly_query.h) on the store's database, opened on first use: the
 * writer is never blocked. Every reader call has the budget of
 * anomaly.query_max_rows and anomaly.query_timeout_ms (reloadable: from the
 * next call); past it the command fails with `budget`.
 *
 * A streamed list (stream: true) is one reader call per page of at most
 * QUERY_PAGE_EVENTS events, each page sent as an intermediate frame
 * {"events": [...]}; the next page is read only once the client has taken
 * the previous one down to QUERY_STREAM_LOW_MARK bytes, so an export of any
 * length holds one page in memory and never a read transaction between
 * pages. Between pages it holds no running place.
 *
 * Stop: queued and waiting calls are answered `unavailable`, running
 * readers are interrupted (their calls are answered `unavailable` when the
 * pool hands them back). Loop thread only. */
#ifndef EDGED_ANOMALY_QUERY_H
#define EDGED_ANOMALY_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "control.h"
#include "edge_config.h"
#include "edge_error.h"

#define QUERY_RUNNING_MAX 2
#define QUERY_QUEUE_MAX 32
#define QUERY_PAGE_EVENTS 500
#define QUERY_LIST_MAX 10000
#define QUERY_STREAM_LOW_MARK (64u * 1024u)

struct edged_anomaly_query;

/* db_path is copied. -ENOMEM, -EINVAL. */
EDGE_WUR int edged_anomaly_query_new(uv_loop_t *loop, const char *db_path,
				     const struct edge_settings *settings,
				     struct edged_anomaly_query **out);

/* anomaly.query_max_rows, anomaly.query_timeout_ms. */
void edged_anomaly_query_apply_settings(struct edged_anomaly_query *q,
					const struct edge_settings *settings);

/* Takes no more queries; see above. NULL-safe, idempotent. */
void edged_anomaly_query_stop(struct edged_anomaly_query *q);

/* Stops; the memory goes once the last running query came back (the loop
 * must run). The readers are closed here (may block: after the loop).
 * NULL-safe. */
void edged_anomaly_query_free(struct edged_anomaly_query *q);

/* The commands (asynchronous; edged_ctl_async_handler's contract). */
int edged_anomaly_query_list(struct edged_anomaly_query *q, json_t *args,
			     struct edged_ctl_call *call, char *msg, size_t msglen);
int edged_anomaly_query_stats(struct edged_anomaly_query *q, json_t *args,
			      struct edged_ctl_call *call, char *msg, size_t msglen);
int edged_anomaly_query_episodes(struct edged_anomaly_query *q, json_t *args,
				 struct edged_ctl_call *call, char *msg, size_t msglen);

/* `device`: answers detail (stolen) with "anomalies" added: {"events",
 * "gaps", "events_24h", "last_ts_ms", "last_label", "last_score",
 * "episodes", "episodes_open", "episodes_confirmed"}, or null when the
 * summary could not be read (budget, store error, stopping). Always
 * answers (returns 0). */
int edged_anomaly_query_device(struct edged_anomaly_query *q, const char *id, json_t *detail,
			       struct edged_ctl_call *call);

struct edged_anomaly_query_stats {
	unsigned running;
	unsigned queued;
	uint64_t done;            /* reader calls completed (a streamed page is one) */
	uint64_t budget_exceeded;
	uint64_t failed;          /* store errors */
	uint64_t refused_busy;
};
void edged_anomaly_query_get_stats(const struct edged_anomaly_query *q,
				   struct edged_anomaly_query_stats *out);

#endif
