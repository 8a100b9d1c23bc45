/* Anomaly reports in, stored exactly once, acknowledged after the commit.
 *
 * The router hands over each parsed report of a registered node. It is
 * copied into one of anomaly.max_pending_reports slots and stored by one
 * store operation (edge_anomaly_ingest on the writer thread); once that
 * operation committed, its ack (node protocol §5.6) is published on
 * <prefix>/<id>/ack, QoS 1, not retained. Nothing waits on the loop.
 *
 * A report that cannot be taken now is not acknowledged and counted
 * deferred: the node sends it again later (its queue keeps it). That is
 * the case with every slot in use, while the store's queue is deeper than
 * anomaly.store_high_water, and while the store reports a full disk (both
 * read at most every 100 ms), and once stopping. A
 * report whose operation fails is not acknowledged either (counted failed;
 * a log line at most every 10 s, with the number held back).
 *
 * Events are grouped into episodes inside the same operation
 * (edge_anomaly.h; anomaly.episode_min_events, anomaly.episode_quiet_s).
 * Episodes quiet for longer than episode_quiet_s are closed by a sweep, one
 * store operation at most every 10 s and never two at once, started from
 * edged_anomaly_tick and from edged_anomaly_submit.
 *
 * Retention (anomaly.retention_days, anomaly.max_db_bytes): a store op of
 * edge_anomaly_retention_step (at most ANOMALY_RETENTION_BATCH rows of each
 * kind) at most once per ANOMALY_RETENTION_INTERVAL_MS from the tick, and
 * again as soon as one is done while the step says more is left; never two
 * at once. The first deletion for size after a pause logs a line (at most
 * one per ANOMALY_RETENTION_LOG_MS).
 *
 * Tail: while anomalies.tail has followers, each report's op also reads
 * back the rows it newly stored (a point read each) and hands them to the
 * tail after the commit.
 *
 * Loop thread only. */
#ifndef EDGED_ANOMALY_H
#define EDGED_ANOMALY_H

#include <stdint.h>

#include "edge_config.h"
#include "edge_error.h"
#include "edge_report.h"
#include "edge_store.h"
#include "mqtt.h"

struct edged_anomaly;

struct edged_anomaly_stats {
	uint64_t reports;          /* reports handed over by the router */
	uint64_t events_stored;    /* new rows committed */
	uint64_t duplicates;       /* events received again, already stored */
	uint64_t acks_sent;        /* acks handed to the MQTT client */
	uint64_t deferred;         /* reports not taken now (not acked) */
	uint64_t failed;           /* reports whose store operation failed (not acked) */
	uint64_t implausible_time; /* events whose ts_ms lay outside the window */
	uint64_t gaps;             /* seqs nodes gave up before they were stored */
	unsigned pending;          /* reports being stored now */
	uint64_t episodes_opened;
	uint64_t episodes_confirmed;
	uint64_t episodes_closed;  /* by a later event, a model change or the sweep */
	uint64_t episode_late;     /* events too old for their current episode: in none */
	uint64_t sweeps;           /* close sweeps committed */
	uint64_t sweeps_failed;
	uint64_t events_deleted_age;  /* retention: older than retention_days */
	uint64_t events_deleted_size; /* retention: over max_db_bytes */
	uint64_t episodes_deleted;
	uint64_t rollup_rows_deleted;
	uint64_t db_used_bytes;       /* after the last retention step; 0: none yet */
	uint64_t retention_steps;     /* committed */
	uint64_t retention_failed;
	uint64_t rollup_caught_up;    /* catch-up steps at start */
};

#define ANOMALY_RETENTION_INTERVAL_MS 60000
#define ANOMALY_RETENTION_BATCH 500
#define ANOMALY_RETENTION_LOG_MS (600 * 1000)
/* Events rolled up per catch-up step at start. */
#define ANOMALY_CATCH_UP_ROWS 50000

/* store and mqtt are borrowed and must outlive the service (mqtt: until
 * edged_anomaly_detach). settings are read now and on apply_settings; the
 * topic prefix is copied. Errors: -ENOMEM, -EINVAL. */
EDGE_WUR int edged_anomaly_new(edge_store *store, struct edged_mqtt *mqtt,
			       const struct edge_settings *settings, struct edged_anomaly **out);

struct edged_anomaly_tail;

/* Newly stored events go to tail (borrowed; NULL: nobody). */
/* Called on the loop after a report's new events were committed (the
 * central forwarder's kick). fn NULL: none. */
void edged_anomaly_set_stored_hook(struct edged_anomaly *a, void (*fn)(void *ud), void *ud);
void edged_anomaly_set_tail(struct edged_anomaly *a, struct edged_anomaly_tail *tail);

/* At start-up, before the loop runs (blocks): fills the rollups of events
 * stored before them (edge_anomaly_rollup_catch_up until done). 0 or a
 * store error (logged; edged runs on, statistics miss those events). */
int edged_anomaly_catch_up(struct edged_anomaly *a);

/* Graceful stop: new reports are deferred from now on; those being stored
 * are still acked. NULL-safe, idempotent. */
void edged_anomaly_stop(struct edged_anomaly *a);

/* Stop publishing acks (before the MQTT client goes): reports whose
 * operation completes later are stored but not acked, and are acked when
 * the node sends them again. Also stops taking reports. NULL-safe,
 * idempotent. */
void edged_anomaly_detach(struct edged_anomaly *a);

/* Only after the store was closed (its completions point into the slots).
 * NULL-safe. */
void edged_anomaly_free(struct edged_anomaly *a);

/* Reloadable: anomaly.max_pending_reports (a lower bound applies to new
 * reports only), anomaly.store_high_water, anomaly.episode_min_events and
 * anomaly.episode_quiet_s (for reports and sweeps submitted from now on),
 * anomaly.retention_days and anomaly.max_db_bytes (from the next step). */
void edged_anomaly_apply_settings(struct edged_anomaly *a, const struct edge_settings *settings);

/* Take the report of node `id` (a valid id of a registered, allowed node),
 * received at wall-clock received_ms. Returns 0 (being stored), or
 * EDGE_ELIMIT: deferred (counted; no ack will come, nothing else to do). */
int edged_anomaly_submit(struct edged_anomaly *a, const char *id,
			 const struct edge_msg_report *report, int64_t received_ms);

/* Periodic work (call it about every second): submits the episode close
 * sweep when 10 s passed since the last one and none is running, and the
 * retention step when due. Not once stopped. */
void edged_anomaly_tick(struct edged_anomaly *a);

void edged_anomaly_get_stats(const struct edged_anomaly *a, struct edged_anomaly_stats *out);

#endif
