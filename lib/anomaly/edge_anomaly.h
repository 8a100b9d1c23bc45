/* Anomaly history: the gateway's side of report/ack (node-protocol.md
 * §5.5–5.7). A report's events are stored exactly once, keyed by (device,
 * epoch, seq), and the ack the node gets is computed from what is committed.
 *
 * Tables (schema 4, edge_store_schema.c): `anomaly_event`, one row per
 * stored event, UNIQUE (device, epoch, seq); `anomaly_stream`, one row per
 * device and epoch holding what the ack says (acked, the highest oldest
 * received, the gaps counted so far, the events stored).
 *
 * The ack rule: `acked` is the highest A such that every seq 1..A of the
 * epoch is stored or below the highest `oldest` received for that device and
 * epoch; sack bit i is set when seq acked + 1 + i is stored. Seqs below
 * `oldest` that were never stored are the node's gaps (events it dropped):
 * each is counted once, when acked moves past it. A duplicate (an event
 * already stored) is stored once and acked again.
 *
 * Cost: one INSERT OR IGNORE per event, one point read and one write of the
 * stream row, and one walk of the unique index from the old acked: over the
 * rows acked moves past, plus at most 64 rows for the sack; per new event,
 * one point read of its (device, label) current episode (a partial unique
 * index) and one or two episode writes. Rollups (schema 6,
 * edge_anomaly_rollup.c): one read of the mark and of max(id) per report,
 * then one read and one write per (hour, label, model) and per (device, day,
 * label, model) among its new events, and one write of the mark. Nothing
 * scans a device's history. Statements are prepared once per connection
 * (the store's statement cache).
 *
 * Time placement (received_ms: wall-clock ms when the gateway got the
 * report): age_ms given → ts_ms = received_ms − age_ms ('age'); ts_ms
 * within [received_ms − 30 days, received_ms + 5 min] → that ts_ms
 * ('clock'); any other ts_ms → received_ms ('received', counted as
 * implausible_time). A duplicate keeps the placement of its first copy.
 *
 * A seq at or below acked that was never stored (a gap) and arrives after
 * all (a node out of line: §5.5 says it is never sent again) is stored and
 * no longer counted in the stream's gaps; acked does not change.
 *
 * Episodes (schema 5, `anomaly_episode`): each NEWLY stored event (never a
 * duplicate) joins the current episode of its (device, label) (at most one is
 * not closed). Times are the events' placed ts_ms. An event opens a new
 * episode, closing the current one at received_ms, when there is none, when
 * the current one's model differs, or when it comes after the current one's
 * end_ms + quiet_ms; otherwise it extends it (count, end_ms, start_ms,
 * peak_score) and the episode is confirmed once count reaches min_events.
 * Events out of order in time: one within quiet_ms before the current
 * episode's start joins it (start_ms moves back); one older than that, or of
 * another model and older than the current start, belongs to a past episode
 * that may be closed: it is stored but joins no episode (counted
 * episode_late). edge_anomaly_episode_sweep closes the episodes quiet for
 * longer than quiet_ms.
 *
 * Threading: the functions taking an edge_store_conn run on the store's
 * writer thread, inside a store op (edge_store_submit's run callback, or
 * edge_store_read); they never begin, commit or roll back a transaction:
 * an op that returns an error is rolled back whole by the store, so a
 * failed ingest leaves no part of its report behind. */
#ifndef EDGE_ANOMALY_H
#define EDGE_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_report.h" /* struct edge_msg_report, struct edge_msg_ack */
#include "edge_store.h"

/* The plausibility window of an event's own ts_ms around received_ms. */
#define EDGE_ANOMALY_TS_PAST_MS (30LL * 24 * 3600 * 1000)
#define EDGE_ANOMALY_TS_FUTURE_MS (5LL * 60 * 1000)

/* Filled by the ingest (writer thread), read on the loop after commit. */
struct edge_anomaly_result {
	struct edge_msg_ack ack;   /* what to send: epoch, acked, sack */
	unsigned stored;           /* new rows */
	unsigned duplicates;       /* events already stored */
	unsigned implausible_time; /* of the new rows: ts_ms outside the window */
	uint32_t new_gaps;         /* seqs below oldest that were never stored, newly counted */
	unsigned episodes_opened;
	unsigned episodes_confirmed;
	unsigned episodes_closed;  /* by a later event or a model change */
	unsigned episode_late;     /* new events too old for the current episode: in none */
	/* Bit i set: report event i was newly stored (not a duplicate); what
	 * `anomalies tail` shows. */
	uint32_t stored_mask;
};

#define EDGE_ANOMALY_EPISODE_MIN_EVENTS 3
#define EDGE_ANOMALY_EPISODE_QUIET_MS (300LL * 1000)

/* How events are grouped into episodes (anomaly.episode_min_events,
 * anomaly.episode_quiet_s). */
struct edge_anomaly_episode_settings {
	uint32_t min_events; /* >= 1: count at which an episode is confirmed */
	int64_t quiet_ms;    /* >= 0: event-time silence that ends an episode */
};

/* Runs inside a store operation (writer thread, inside the batch's
 * transaction): inserts the report's events (INSERT OR IGNORE on the unique
 * key), updates anomaly_stream and computes the ack per the rule above, and
 * groups the new events into episodes per ep (NULL: the defaults above).
 * device, report and ep are borrowed. *out is written on success (unspecified on
 * failure). Returns 0 or a negative error; the caller returns it from its
 * run callback and the store rolls the op back:
 * -EINVAL (NULL argument, empty device, a report that breaks §5.5's rules:
 * n_events not 1..32, oldest 0 or above events[0].seq, seqs not strictly
 * increasing), mapped SQLite errors (-ENOSPC, -EIO, -ENOMEM, EDGE_ESTORE, ...). */
EDGE_WUR int edge_anomaly_ingest(edge_store_conn *conn, const char *device,
				 const struct edge_msg_report *report, int64_t received_ms,
				 const struct edge_anomaly_episode_settings *ep,
				 struct edge_anomaly_result *out);

/* Writer thread, inside a store op: closes (at now_ms) every episode whose
 * end_ms + quiet_ms < now_ms (wall ms). Reads only the not-closed episodes'
 * partial index. *closed: how many. -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_episode_sweep(edge_store_conn *conn, int64_t now_ms,
					int64_t quiet_ms, uint32_t *closed);

/* Retention (anomaly.retention_days, anomaly.max_db_bytes), one small
 * step at a time so the writer never holds a long transaction. */
struct edge_anomaly_retention {
	int64_t max_age_ms;        /* > 0: events, closed episodes and rollup
				    * buckets that ended before now - max_age_ms go */
	uint64_t max_db_bytes;     /* 0: no size bound; else the oldest events go
				    * while (page_count - freelist_count) * page_size
				    * is above it. Rollups stay. */
	unsigned batch_rows;       /* rows deleted per step at most, e.g. 500 */
	/* Forwarding to the central history is on: count the rows deleted
	 * above its cursors (central_cursor) into anomaly_meta's
	 * 'central_dropped_events' / 'central_dropped_episodes'. */
	bool central;
};
struct edge_anomaly_retention_result {
	uint64_t events_by_age;    /* deleted this step */
	uint64_t events_by_size;
	uint64_t episodes;         /* closed episodes deleted */
	uint64_t rollup_rows;      /* rollup rows deleted */
	uint64_t unforwarded_events;   /* of the deleted: not yet forwarded centrally */
	uint64_t unforwarded_episodes;
	uint64_t db_used_bytes;    /* after the step */
	bool more;                 /* something is left to delete: step again soon */
};

/* Writer thread, inside a store op: deletes at most r->batch_rows rows of
 * each kind that the bounds put out, oldest first (by ts_ms through its
 * index: no table scan), keeping the rollups exact for the events they
 * summarise (deleting raw rows never changes a rollup). Stream rows of
 * epochs whose events are all gone and that were not updated for max_age_ms
 * go too. -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_retention_step(edge_store_conn *conn, int64_t now_ms,
					 const struct edge_anomaly_retention *r,
					 struct edge_anomaly_retention_result *out);

/* Writer thread, inside a store op (or edge_store_read at start-up):
 * (re)computes the rollups of every stored event whose id is above the
 * rollups' high-water mark (anomaly_meta 'rollup_through_id'), at most
 * max_rows events per call; *more: call again. The migration to schema 6
 * leaves the mark at 0 when events exist, so edged fills the rollups of a
 * history stored before them at start; bulk loaders (the benchmark's
 * generator) insert raw rows into a database no report was ingested into
 * yet and call this. Once every event is rolled up the mark says so (-1,
 * "complete"): the ingest then rolls up its own events and raw rows
 * inserted behind its back are not counted. -EINVAL; mapped SQLite
 * errors. */
EDGE_WUR int edge_anomaly_rollup_catch_up(edge_store_conn *conn, uint64_t max_rows,
					  bool *more);

/* Writer thread: the event ids the catch-up has still to roll up,
 * [*first_id, *last_id]; both 0 when none. -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_rollup_pending(edge_store_conn *conn, int64_t *first_id,
					 int64_t *last_id);

/* ---- read-only helpers (writer thread: a store op or edge_store_read) ---- */

/* One anomaly_stream row. */
struct edge_anomaly_stream {
	uint32_t epoch;
	uint32_t acked;      /* the ack's acked */
	uint32_t oldest;     /* highest oldest received */
	uint64_t gaps;       /* seqs given up by the node, never stored */
	uint64_t events;     /* events stored in this epoch */
	int64_t updated_ms;  /* received_ms of the last report */
};

/* The stream of (device, epoch). EDGE_ENOTFOUND: no report of it yet;
 * -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_stream_get(edge_store_conn *conn, const char *device,
				     uint32_t epoch, struct edge_anomaly_stream *out);

/* The ack a node would get for (device, epoch) now, computed as the ingest
 * does (epoch, acked, sack; all zero but epoch when nothing is stored).
 * -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_ack_get(edge_store_conn *conn, const char *device,
				  uint32_t epoch, struct edge_msg_ack *out);

/* Number of stored events of device (NULL: of every device). Counts the
 * unique index's entries for the device: proportional to its history, for
 * tests and the control socket, not for the ingest path.
 * -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_count(edge_store_conn *conn, const char *device, uint64_t *out);

/* One stored event, as read back. */
struct edge_anomaly_event {
	uint32_t epoch;
	uint32_t seq;
	int64_t ts_ms;
	int64_t received_ms;
	char time_source[12];            /* "age", "clock" or "received" */
	char model[EDGE_MSG_SHA256_HEX + 1]; /* name@version (<= 63) or sha256 */
	double score, threshold;
	char label[EDGE_MSG_TOKEN_CAP];
	bool has_severity;
	uint8_t severity;
	bool has_summary;
	char summary[EDGE_REPORT_SUMMARY_MAX * 16 + 3]; /* JSON array text */
};

/* The event (device, epoch, seq) and its row id (id may be NULL): one
 * point read through the unique index. EDGE_ENOTFOUND when not stored;
 * -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_event_get(edge_store_conn *conn, const char *device,
				    uint32_t epoch, uint32_t seq, int64_t *id,
				    struct edge_anomaly_event *out);

/* One anomaly_episode row. */
struct edge_anomaly_episode {
	int64_t id;
	char state[12];                      /* "open", "confirmed" or "closed" */
	char model[EDGE_MSG_SHA256_HEX + 1];
	int64_t start_ms, end_ms;            /* first and last event's ts_ms */
	uint64_t count;
	double peak_score;
	int64_t confirmed_ms;                /* 0: never confirmed */
	int64_t closed_ms;                   /* 0: not closed */
};

/* The latest episode (highest id) of (device, label): reads the device's
 * episodes, for tests and queries, not the ingest path. EDGE_ENOTFOUND: none;
 * -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_episode_last(edge_store_conn *conn, const char *device,
				       const char *label, struct edge_anomaly_episode *out);

/* Number of episodes of device (NULL: every device). For tests and the
 * control socket. -EINVAL; mapped SQLite errors. */
EDGE_WUR int edge_anomaly_episode_count(edge_store_conn *conn, const char *device,
					uint64_t *out);

#endif
