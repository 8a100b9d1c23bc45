#include "anomaly.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "anomaly_tail.h"
#include "edge_anomaly.h"
#include "edge_anomaly_query.h"
#include "edge_log.h"
#include "edge_time.h"
#include "edge_topic.h"

#define NO_SLOT UINT32_MAX
/* The store's queue depth and disk state are read at most this often:
 * edge_store_get_stats also stat()s the database files. Reports in between
 * are bounded by the pending slots anyway. */
#define ANOMALY_STORE_CHECK_MS 100
/* Failure lines: at most one per this interval. */
#define ANOMALY_LOG_INTERVAL_MS 10000
/* The episode close sweep: at most one per this interval. */
#define ANOMALY_SWEEP_INTERVAL_MS 10000

struct anomaly_slot {
	struct edged_anomaly *a;
	uint32_t idx;                /* in slots[] */
	uint32_t next_free;          /* while free: the next free slot; NO_SLOT: end */
	char id[EDGE_ID_MAX_LEN + 1];
	int64_t received_ms;
	struct edge_anomaly_episode_settings ep; /* copied: settings may reload meanwhile */
	struct edge_msg_report report;
	struct edge_anomaly_result result; /* written by the writer thread */
	/* For the tail: the rows newly stored, read back in the op (rows set
	 * on the loop before submit, when somebody follows). */
	struct edge_anomaly_row *rows;
	unsigned n_rows;
};

struct edged_anomaly {
	edge_store *store;
	struct edged_mqtt *mqtt;     /* NULL once detached */
	bool stopped;                /* new reports are deferred */
	char prefix[EDGE_CONFIG_NAME_MAX];
	unsigned max_pending;        /* anomaly.max_pending_reports */
	unsigned store_high_water;
	struct edge_anomaly_episode_settings ep;
	/* The sweep's op: its fields are written on the loop before submit and
	 * read back on the loop in its completion. */
	bool sweep_running;
	uint64_t sweep_last_ms;      /* monotonic, when the last one was submitted */
	int64_t sweep_now_ms;        /* wall */
	int64_t sweep_quiet_ms;
	uint32_t sweep_closed;
	/* The retention step's op, as the sweep's. */
	bool ret_running;
	bool ret_more;               /* the last step left rows: step again at once */
	uint64_t ret_last_ms;        /* monotonic, submitted */
	int64_t ret_now_ms;          /* wall */
	struct edge_anomaly_retention ret;
	struct edge_anomaly_retention_result ret_result;
	int64_t max_age_ms;          /* settings */
	uint64_t max_db_bytes;
	bool central;                /* central.conninfo set: count unforwarded deletions */
	void (*on_stored)(void *ud); /* new events committed (central forwarding) */
	void *on_stored_ud;
	bool size_deleting;          /* the last step deleted for size */
	uint64_t size_log_ms;        /* monotonic, the last size line; 0: none */
	struct edged_anomaly_tail *tail;
	/* Slots are allocated on first use and kept: a report is about 13 KB. */
	struct anomaly_slot **slots;
	uint32_t n_slots;            /* allocated entries of slots[] */
	uint32_t slots_cap;          /* length of slots[] */
	uint32_t free_head;          /* first free allocated slot; UINT32_MAX: none */
	uint64_t store_checked_ms;   /* monotonic; 0: never */
	bool store_busy;             /* over the high water, or the disk is full */
	bool store_full;             /* the store's last write failed for lack of space */
	uint64_t last_log_ms;
	bool logged;
	uint64_t log_suppressed;
	struct edged_anomaly_stats stats;
};

int edged_anomaly_new(edge_store *store, struct edged_mqtt *mqtt, const struct edge_settings *s,
		      struct edged_anomaly **out)
{
	struct edged_anomaly *a;

	if (!store || !mqtt || !s || !out)
		return -EINVAL;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->store = store;
	a->mqtt = mqtt;
	a->free_head = NO_SLOT;
	snprintf(a->prefix, sizeof a->prefix, "%s", s->mqtt.topic_prefix);
	edged_anomaly_apply_settings(a, s);
	*out = a;
	return 0;
}

void edged_anomaly_stop(struct edged_anomaly *a)
{
	if (a)
		a->stopped = true;
}

void edged_anomaly_detach(struct edged_anomaly *a)
{
	if (!a)
		return;
	a->stopped = true;
	a->mqtt = NULL;
}

void edged_anomaly_free(struct edged_anomaly *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; i < a->n_slots; i++) {
		free(a->slots[i]->rows);
		free(a->slots[i]);
	}
	free(a->slots);
	free(a);
}

void edged_anomaly_apply_settings(struct edged_anomaly *a, const struct edge_settings *s)
{
	a->max_pending = (unsigned)s->anomaly.max_pending_reports;
	a->store_high_water = (unsigned)s->anomaly.store_high_water;
	a->ep.min_events = (uint32_t)s->anomaly.episode_min_events;
	a->ep.quiet_ms = (int64_t)s->anomaly.episode_quiet_s * 1000;
	a->max_age_ms = (int64_t)s->anomaly.retention_days * 24 * 3600 * 1000;
	a->max_db_bytes = (uint64_t)s->anomaly.max_db_bytes;
	a->central = s->central.conninfo[0] != '\0';
}

void edged_anomaly_set_stored_hook(struct edged_anomaly *a, void (*fn)(void *ud), void *ud)
{
	a->on_stored = fn;
	a->on_stored_ud = ud;
}

void edged_anomaly_set_tail(struct edged_anomaly *a, struct edged_anomaly_tail *tail)
{
	a->tail = tail;
}

void edged_anomaly_get_stats(const struct edged_anomaly *a, struct edged_anomaly_stats *out)
{
	*out = a->stats;
}

/* A free slot, allocating one while fewer than max_pending exist; NULL when
 * the bound is reached (or memory is short: the report is deferred too). */
static struct anomaly_slot *slot_get(struct edged_anomaly *a)
{
	struct anomaly_slot *slot;

	if (a->stats.pending >= a->max_pending)
		return NULL;
	if (a->free_head != NO_SLOT) {
		slot = a->slots[a->free_head];
		a->free_head = slot->next_free;
		return slot;
	}
	if (a->n_slots == a->slots_cap) {
		uint32_t cap = a->slots_cap ? a->slots_cap * 2 : 16;
		struct anomaly_slot **grown = realloc(a->slots, cap * sizeof *grown);

		if (!grown)
			return NULL;
		a->slots = grown;
		a->slots_cap = cap;
	}
	slot = malloc(sizeof *slot);
	if (!slot)
		return NULL;
	slot->a = a;
	slot->rows = NULL;
	slot->idx = a->n_slots;
	a->slots[a->n_slots++] = slot;
	return slot;
}

static void slot_put(struct edged_anomaly *a, struct anomaly_slot *slot)
{
	free(slot->rows);
	slot->rows = NULL;
	slot->n_rows = 0;
	assert(slot->idx < a->n_slots && a->slots[slot->idx] == slot);
	slot->next_free = a->free_head;
	a->free_head = slot->idx;
}

/* Writer thread: the row of (device, epoch, seq) as the tail shows it. */
static int row_read(edge_store_conn *conn, const char *device, uint32_t epoch, uint32_t seq,
		    struct edge_anomaly_row *row)
{
	snprintf(row->device, sizeof row->device, "%s", device);
	return edge_anomaly_event_get(conn, device, epoch, seq, &row->id, &row->ev);
}

/* Writer thread, inside the batch's transaction. */
static int slot_run(edge_store_conn *conn, void *ud)
{
	struct anomaly_slot *slot = ud;
	int rc = edge_anomaly_ingest(conn, slot->id, &slot->report, slot->received_ms, &slot->ep,
				     &slot->result);

	if (rc < 0 || !slot->rows)
		return rc;
	/* Best effort: a row not read back only misses the tail. */
	for (unsigned i = 0; i < slot->report.n_events && i < 32; i++)
		if ((slot->result.stored_mask >> i & 1u) &&
		    row_read(conn, slot->id, slot->report.epoch, slot->report.events[i].seq,
			     &slot->rows[slot->n_rows]) == 0)
			slot->n_rows++;
	return 0;
}

/* what: "not stored" or "stored, ack not sent". */
static void log_failure(struct edged_anomaly *a, const char *id, const char *what, int rc)
{
	uint64_t now = edge_time_monotonic_ms();

	if (a->logged && now - a->last_log_ms < ANOMALY_LOG_INTERVAL_MS) {
		a->log_suppressed++;
		return;
	}
	if (a->log_suppressed)
		edge_log(EDGE_LOG_WARNING, "anomaly",
			 "report of %s %s (the node sends it again): %s "
			 "(%llu similar lines suppressed)", id, what, edge_strerror(rc),
			 (unsigned long long)a->log_suppressed);
	else
		edge_log(EDGE_LOG_WARNING, "anomaly", "report of %s %s (the node sends it again): %s",
			 id, what, edge_strerror(rc));
	a->logged = true;
	a->last_log_ms = now;
	a->log_suppressed = 0;
}

static void slot_publish_ack(struct edged_anomaly *a, struct anomaly_slot *slot)
{
	char topic[EDGE_CONFIG_NAME_MAX + EDGE_ID_MAX_LEN + 8];
	char payload[128];
	int n, rc;

	if (!a->mqtt)
		return;
	n = edge_msg_encode_ack(payload, sizeof payload, &slot->result.ack);
	if (n < 0) {
		edge_log(EDGE_LOG_ERR, "anomaly", "cannot encode the ack to %s: %s", slot->id,
			 edge_strerror(n));
		return;
	}
	snprintf(topic, sizeof topic, "%s/%s/ack", a->prefix, slot->id);
	rc = edged_mqtt_publish(a->mqtt, topic, payload, (size_t)n, 1, false);
	if (rc < 0) {
		log_failure(a, slot->id, "stored, ack not sent", rc);
		return;
	}
	a->stats.acks_sent++;
}

/* Loop thread (edge_store_run_completions), also from edge_store_close. */
static void slot_done(int result, void *ud)
{
	struct anomaly_slot *slot = ud;
	struct edged_anomaly *a = slot->a;

	assert(a->stats.pending > 0);
	a->stats.pending--;
	if (result < 0) {
		a->stats.failed++;
		log_failure(a, slot->id, "not stored, not acked", result);
	} else {
		a->stats.events_stored += slot->result.stored;
		a->stats.duplicates += slot->result.duplicates;
		a->stats.implausible_time += slot->result.implausible_time;
		a->stats.gaps += slot->result.new_gaps;
		a->stats.episodes_opened += slot->result.episodes_opened;
		a->stats.episodes_confirmed += slot->result.episodes_confirmed;
		a->stats.episodes_closed += slot->result.episodes_closed;
		a->stats.episode_late += slot->result.episode_late;
		slot_publish_ack(a, slot);
		if (slot->result.stored && a->on_stored)
			a->on_stored(a->on_stored_ud);
		for (unsigned i = 0; i < slot->n_rows; i++)
			edged_anomaly_tail_event(a->tail, &slot->rows[i]);
	}
	slot_put(a, slot);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writer thread. */
static int sweep_run(edge_store_conn *conn, void *ud)
{
	struct edged_anomaly *a = ud;

	return edge_anomaly_episode_sweep(conn, a->sweep_now_ms, a->sweep_quiet_ms,
					  &a->sweep_closed);
}

/* Loop thread, also from edge_store_close. */
static void sweep_done(int result, void *ud)
{
	struct edged_anomaly *a = ud;

	assert(a->sweep_running);
	a->sweep_running = false;
	if (result < 0) {
		a->stats.sweeps_failed++;
		/* At most one line per sweep interval. */
		edge_log(EDGE_LOG_WARNING, "anomaly", "closing quiet episodes failed (tried again): %s",
			 edge_strerror(result));
		return;
	}
	a->stats.sweeps++;
	a->stats.episodes_closed += a->sweep_closed;
}

static void sweep_maybe(struct edged_anomaly *a, uint64_t now)
{
	if (a->stopped || a->sweep_running ||
	    (a->sweep_last_ms && now - a->sweep_last_ms < ANOMALY_SWEEP_INTERVAL_MS))
		return;
	a->sweep_last_ms = now;
	a->sweep_now_ms = wall_ms();
	a->sweep_quiet_ms = a->ep.quiet_ms;
	a->sweep_closed = 0;
	/* Refused (store stopping or full): tried again at the next interval. */
	if (edge_store_submit(a->store, sweep_run, sweep_done, a) == 0)
		a->sweep_running = true;
}

/* ---- retention ---- */

static void retention_maybe(struct edged_anomaly *a, uint64_t now);

/* Writer thread. */
static int retention_run(edge_store_conn *conn, void *ud)
{
	struct edged_anomaly *a = ud;

	return edge_anomaly_retention_step(conn, a->ret_now_ms, &a->ret, &a->ret_result);
}

/* Loop thread, also from edge_store_close. */
static void retention_done(int result, void *ud)
{
	struct edged_anomaly *a = ud;
	const struct edge_anomaly_retention_result *r = &a->ret_result;
	uint64_t now = edge_time_monotonic_ms();

	assert(a->ret_running);
	a->ret_running = false;
	if (result < 0) {
		a->stats.retention_failed++;
		a->ret_more = false; /* at the next interval: at most one line per minute */
		edge_log(EDGE_LOG_WARNING, "anomaly", "deleting old anomaly history failed "
			 "(tried again): %s", edge_strerror(result));
		return;
	}
	a->stats.retention_steps++;
	a->stats.events_deleted_age += r->events_by_age;
	a->stats.events_deleted_size += r->events_by_size;
	a->stats.episodes_deleted += r->episodes;
	a->stats.rollup_rows_deleted += r->rollup_rows;
	a->stats.db_used_bytes = r->db_used_bytes;
	if (r->events_by_size > 0 && !a->size_deleting &&
	    (!a->size_log_ms || now - a->size_log_ms >= ANOMALY_RETENTION_LOG_MS)) {
		edge_log(EDGE_LOG_NOTICE, "anomaly", "database above anomaly.max_db_bytes "
			 "(%llu used, bound %llu): deleting the oldest events",
			 (unsigned long long)r->db_used_bytes, (unsigned long long)a->max_db_bytes);
		a->size_log_ms = now;
	}
	a->size_deleting = r->events_by_size > 0;
	a->ret_more = r->more;
	if (a->ret_more)
		retention_maybe(a, now);
}

static void retention_maybe(struct edged_anomaly *a, uint64_t now)
{
	if (a->stopped || a->ret_running ||
	    (!a->ret_more && a->ret_last_ms &&
	     now - a->ret_last_ms < ANOMALY_RETENTION_INTERVAL_MS))
		return;
	a->ret_last_ms = now;
	a->ret_now_ms = wall_ms();
	a->ret.max_age_ms = a->max_age_ms;
	a->ret.max_db_bytes = a->max_db_bytes;
	a->ret.batch_rows = ANOMALY_RETENTION_BATCH;
	a->ret.central = a->central;
	memset(&a->ret_result, 0, sizeof a->ret_result);
	/* Refused (store stopping, full or its queue full): at the next
	 * interval, or the next tick while more is left. */
	if (edge_store_submit(a->store, retention_run, retention_done, a) == 0)
		a->ret_running = true;
}

void edged_anomaly_tick(struct edged_anomaly *a)
{
	uint64_t now;

	if (!a)
		return;
	now = edge_time_monotonic_ms();
	sweep_maybe(a, now);
	retention_maybe(a, now);
}

/* ---- rollup catch-up at start ---- */

struct catch_up {
	bool more;
	int64_t first_id, last_id; /* what was pending at start */
};

static int catch_up_run(edge_store_conn *conn, void *ud)
{
	struct catch_up *cu = ud;

	return edge_anomaly_rollup_catch_up(conn, ANOMALY_CATCH_UP_ROWS, &cu->more);
}

static int catch_up_pending(edge_store_conn *conn, void *ud)
{
	struct catch_up *cu = ud;

	return edge_anomaly_rollup_pending(conn, &cu->first_id, &cu->last_id);
}

int edged_anomaly_catch_up(struct edged_anomaly *a)
{
	struct catch_up cu = { .more = true };
	uint64_t start = edge_time_monotonic_ms(), steps = 0;
	int rc = edge_store_read(a->store, catch_up_pending, &cu);

	while (rc == 0 && cu.more && cu.last_id) {
		cu.more = false;
		rc = edge_store_read(a->store, catch_up_run, &cu);
		if (rc == 0)
			steps++;
	}
	a->stats.rollup_caught_up = steps;
	if (rc < 0)
		edge_log(EDGE_LOG_ERR, "anomaly", "filling the anomaly rollups failed after %llu "
			 "steps: %s (statistics miss older events)", (unsigned long long)steps,
			 edge_strerror(rc));
	else if (steps)
		edge_log(EDGE_LOG_NOTICE, "anomaly", "rollups filled for the stored events with ids "
			 "%lld to %lld: %llu steps, %llu ms", (long long)cu.first_id,
			 (long long)cu.last_id, (unsigned long long)steps,
			 (unsigned long long)(edge_time_monotonic_ms() - start));
	return rc;
}

int edged_anomaly_submit(struct edged_anomaly *a, const char *id,
			 const struct edge_msg_report *report, int64_t received_ms)
{
	struct anomaly_slot *slot;
	uint64_t now = edge_time_monotonic_ms();
	size_t n;
	int rc;

	assert(report->n_events >= 1 && report->n_events <= EDGE_REPORT_MAX_EVENTS);
	a->stats.reports++;
	sweep_maybe(a, now);
	if (a->store_checked_ms == 0 || now - a->store_checked_ms >= ANOMALY_STORE_CHECK_MS) {
		struct edge_store_stats st;

		edge_store_get_stats(a->store, &st);
		a->store_busy = st.disk_full || st.queue_depth > a->store_high_water;
		a->store_full = st.disk_full && st.queue_depth <= a->store_high_water;
		a->store_checked_ms = now;
	}
	/* Only a write that commits shows the disk has room again: with none of
	 * ours in flight, one report goes through as the probe (failing, it is
	 * not acked and the node sends it again). */
	if (a->stopped || (a->store_busy && !(a->store_full && a->stats.pending == 0 &&
					      !a->sweep_running))) {
		a->stats.deferred++;
		return EDGE_ELIMIT;
	}
	slot = slot_get(a);
	if (!slot) {
		a->stats.deferred++;
		return EDGE_ELIMIT;
	}
	snprintf(slot->id, sizeof slot->id, "%s", id);
	slot->received_ms = received_ms;
	slot->ep = a->ep;
	/* Only the events the report holds: most reports carry a few. */
	n = offsetof(struct edge_msg_report, events) +
	    (size_t)report->n_events * sizeof report->events[0];
	memcpy(&slot->report, report, n);
	memset(&slot->result, 0, sizeof slot->result);
	slot->n_rows = 0;
	/* Out of memory here only costs the tail these events. */
	slot->rows = edged_anomaly_tail_active(a->tail)
			     ? calloc(report->n_events, sizeof *slot->rows)
			     : NULL;
	rc = edge_store_submit(a->store, slot_run, slot_done, slot);
	if (rc < 0) {
		slot_put(a, slot);
		a->stats.deferred++;
		return EDGE_ELIMIT;
	}
	a->stats.pending++;
	return 0;
}
