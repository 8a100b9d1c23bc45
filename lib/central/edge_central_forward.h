/* The central forwarder: moves the local anomaly history (events, episodes)
 * and the fleet summaries into the central PostgreSQL, exactly once, through
 * outages of any length (docs/central.md).
 *
 * One thread of its own, so neither the event loop nor the store's writer
 * ever waits on the network. It reads the local database through a
 * read-only connection of its own (WAL: it never blocks the writer), sends
 * batches of rows above its cursors as ONE statement (a single implicit
 * transaction: data-modifying CTEs over unnest() arrays, a prepared
 * statement), and moves its cursors only once that statement's result came
 * back. The central keys make a batch sent twice (a crash or a lost answer
 * after the commit) harmless: events are keyed (gateway, device, epoch, seq)
 * with ON CONFLICT DO NOTHING, episodes (gateway, store_uid, id) and replaced
 * only by a newer rev, summaries (gateway, ts_ms).
 *
 * libpq runs non-blocking: every connect and statement is bounded by
 * timeout_s with the forwarder's own poll(), so a black-holed WAN (no RST,
 * no FIN) costs one timeout, and stop interrupts any wait at once.
 * After a failure it waits (full-jitter backoff, retry_min_ms doubling to
 * retry_max_ms), reconnects and resends from its cursors.
 *
 * The committed cursors are handed to the owner (take_cursors, announced by
 * the wake hook) which persists them through the store's writer
 * (edge_central_cursors_save): the local record of what is forwarded, which
 * retention reads to count what it deletes unforwarded. */
#ifndef EDGE_CENTRAL_FORWARD_H
#define EDGE_CENTRAL_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_central_local.h"
#include "edge_error.h"

typedef struct edge_central_forward edge_central_forward;

struct edge_central_forward_options {
	const char *conninfo;     /* libpq connection string (copied) */
	const char *db_path;      /* the local database (copied) */
	const char *gateway_id;   /* [A-Za-z0-9_-]{1,64} (copied) */
	unsigned batch_rows;      /* rows of each stream per batch, 1..10000 */
	unsigned retry_min_ms, retry_max_ms;
	unsigned timeout_s;       /* bound on a connect and on each statement */
	unsigned idle_poll_ms;    /* while nothing is left, look again this often
				   * (0: 500); kick wakes it sooner */
	/* Called on the forwarder thread when new cursors were committed
	 * centrally (take them with edge_central_forward_take_cursors). Must be
	 * cheap and thread-safe (uv_async_send). May be NULL. */
	void (*wake)(void *ud);
	void *wake_ud;
};

struct edge_central_forward_stats {
	bool connected;                 /* a connection with the right schema is open */
	uint64_t forwarded[EDGE_CENTRAL_STREAMS]; /* rows sent in committed batches */
	uint64_t duplicates;            /* events the central database already held */
	uint64_t batches;               /* committed batches */
	uint64_t errors;                /* failed connects and batches */
	uint64_t backlog[EDGE_CENTRAL_STREAMS]; /* rows above the cursors at the last look */
	int64_t last_success_ms;        /* wall ms of the last committed batch (0: none) */
	int64_t lag_ms;                 /* now - received_ms of the oldest event not
					 * forwarded (0: none) */
	uint64_t dropped_events;        /* deleted by retention before being forwarded */
	uint64_t dropped_episodes;      /* (anomaly_meta, kept across restarts) */
	uint64_t dropped_summaries;
	int64_t last_error_ms;          /* wall ms of the last error (0: none) */
	char last_error[256];           /* "" when none */
	double rows_per_s;              /* of the last committed batch */
};

/* Copies the options and starts the thread; it connects in the background.
 * -EINVAL (a bad option), -ENOMEM, -errno of thread creation. */
EDGE_WUR int edge_central_forward_start(const struct edge_central_forward_options *o,
					edge_central_forward **out);

/* Something new was stored: look now instead of at the next idle poll.
 * Any thread; cheap. */
void edge_central_forward_kick(edge_central_forward *f);

/* The cursors committed centrally since the last call: true and *out set
 * when they moved. Any thread. */
bool edge_central_forward_take_cursors(edge_central_forward *f, struct edge_central_cursors *out);

/* A copy of the statistics. Any thread. */
void edge_central_forward_get_stats(edge_central_forward *f, struct edge_central_forward_stats *out);

/* Stops the thread (interrupting any wait) and frees f. When last is not
 * NULL and the cursors moved since the last take, they are written there
 * and true is returned (so the owner saves what the final batches
 * committed). NULL-safe. */
bool edge_central_forward_stop(edge_central_forward *f, struct edge_central_cursors *last);

#endif
