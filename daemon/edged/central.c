/* Forwarding to the central history (central.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "central.h"
#include "edge_central_forward.h"
#include "edge_central_local.h"
#include "edge_log.h"
#include "edged.h"

struct edged_central {
	struct edged *d;
	edge_central_forward *fwd;
	uv_async_t wake;          /* forwarder → loop: cursors committed */
	uv_timer_t summary;       /* central.summary_interval_s */
	uv_timer_t save_timer;    /* the next cursor save, SAVE_EVERY_MS after the last */
	uint64_t saved_ms;        /* monotonic, when the last save was submitted */
	int open_handles;
	bool stopped;
	bool freeing;             /* freed by the last close callback */

	/* the one cursor save in flight; the newest waiting one */
	bool saving, save_waiting;
	struct edge_central_cursors saving_c, waiting_c;
	int64_t save_now_ms;
	uint64_t save_failures;

	/* the one summary in flight */
	bool summarising;
	struct edge_central_summary sum;
	uint64_t summaries, summary_failures;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- cursors ---- */

#define SAVE_EVERY_MS 1000

static void save_next(struct edged_central *c);

static int save_run(edge_store_conn *conn, void *ud)
{
	struct edged_central *c = ud;

	return edge_central_cursors_save(conn, &c->saving_c, c->save_now_ms);
}

static void save_done(int result, void *ud)
{
	struct edged_central *c = ud;

	c->saving = false;
	if (result < 0) {
		/* The next save carries a position at least as far. */
		c->save_failures++;
		edge_log(EDGE_LOG_WARNING, "central", "forwarding position not saved: %s",
			 edge_strerror(result));
	}
	if (c->save_waiting)
		save_next(c);
}

static void on_save_timer(uv_timer_t *t)
{
	save_next(t->data);
}

static void save_next(struct edged_central *c)
{
	const uint64_t now = uv_now(c->d->loop);

	if (c->saving || !c->save_waiting || !c->d->store)
		return;
	/* At most one cursor write a second (each is a page of WAL on the
	 * card); after a crash at most that much is sent again. The last one
	 * at stop goes at once. */
	if (!c->stopped && c->saved_ms && now < c->saved_ms + SAVE_EVERY_MS) {
		if (!uv_is_active((uv_handle_t *)&c->save_timer))
			uv_timer_start(&c->save_timer, on_save_timer,
				       c->saved_ms + SAVE_EVERY_MS - now, 0);
		return;
	}
	c->saved_ms = now;
	c->saving_c = c->waiting_c;
	c->save_waiting = false;
	c->save_now_ms = wall_ms();
	if (edge_store_submit(c->d->store, save_run, save_done, c) == 0)
		c->saving = true;
	else
		c->save_waiting = true; /* queue full: the next wake tries again */
}

static void on_wake(uv_async_t *h)
{
	struct edged_central *c = h->data;
	struct edge_central_cursors cur;

	if (edge_central_forward_take_cursors(c->fwd, &cur)) {
		c->waiting_c = cur;
		c->save_waiting = true;
	}
	save_next(c);
}

static void forward_wake(void *ud)
{
	struct edged_central *c = ud;

	uv_async_send(&c->wake);
}

/* ---- fleet summaries ---- */

static int summary_run(edge_store_conn *conn, void *ud)
{
	struct edged_central *c = ud;

	return edge_central_summary_add(conn, &c->sum);
}

static void summary_done(int result, void *ud)
{
	struct edged_central *c = ud;

	c->summarising = false;
	if (result < 0) {
		c->summary_failures++;
		edge_log(EDGE_LOG_WARNING, "central", "fleet summary not stored: %s",
			 edge_strerror(result));
		return;
	}
	c->summaries++;
	edge_central_forward_kick(c->fwd);
}

static void on_summary(uv_timer_t *t)
{
	struct edged_central *c = t->data;
	struct edge_registry_counts rc;
	struct edge_registry_stats rs;
	const int64_t now = wall_ms();

	if (c->summarising || c->stopped || !c->d->registry)
		return;
	edge_registry_counts(c->d->registry, &rc);
	edge_registry_get_stats(c->d->registry, &rs);
	memset(&c->sum, 0, sizeof c->sum);
	c->sum.ts_ms = now;
	c->sum.day_ms = edge_central_day_ms(now);
	c->sum.nodes_total = rc.total;
	c->sum.nodes_online = rc.by_state[EDGE_NODE_ONLINE];
	c->sum.nodes_stale = rc.by_state[EDGE_NODE_STALE];
	c->sum.nodes_offline = rc.by_state[EDGE_NODE_OFFLINE];
	c->sum.nodes_revoked = rc.by_state[EDGE_NODE_REVOKED];
	c->sum.inferences_day = rs.inferences_day_ms == c->sum.day_ms ? rs.inferences_day : 0;
	if (edge_store_submit(c->d->store, summary_run, summary_done, c) == 0)
		c->summarising = true;
	else
		c->summary_failures++;
}

/* ---- life cycle ---- */

int edged_central_new(struct edged *d, struct edged_central **out)
{
	const struct edge_settings *s = edge_config_settings(d->config);
	struct edge_central_forward_options o = { 0 };
	struct edged_central *c;
	uint64_t every_ms;
	int rc;

	*out = NULL;
	if (!s->central.conninfo[0])
		return 0;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->d = d;
	rc = uv_async_init(d->loop, &c->wake, on_wake);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->wake.data = c;
	c->open_handles++;
	rc = uv_timer_init(d->loop, &c->summary);
	if (rc < 0)
		goto fail;
	c->summary.data = c;
	c->open_handles++;
	rc = uv_timer_init(d->loop, &c->save_timer);
	if (rc < 0)
		goto fail;
	c->save_timer.data = c;
	c->open_handles++;
	o.conninfo = s->central.conninfo;
	o.db_path = s->paths.database_file;
	o.gateway_id = s->central.gateway_id;
	o.batch_rows = (unsigned)s->central.batch_rows;
	o.retry_min_ms = (unsigned)s->central.retry_min_ms;
	o.retry_max_ms = (unsigned)s->central.retry_max_ms;
	o.timeout_s = (unsigned)s->central.timeout_s;
	o.wake = forward_wake;
	o.wake_ud = c;
	rc = edge_central_forward_start(&o, &c->fwd);
	if (rc < 0)
		goto fail;
	/* The first summary soon after start, so a dashboard sees a new
	 * gateway without waiting a whole interval. */
	every_ms = (uint64_t)s->central.summary_interval_s * 1000;
	uv_timer_start(&c->summary, on_summary, every_ms < 5000 ? every_ms : 5000, every_ms);
	edge_log(EDGE_LOG_INFO, "central", "forwarding to the central database as gateway %s",
		 s->central.gateway_id);
	*out = c;
	return 0;
fail:
	edged_central_stop(c);
	edged_central_free(c);
	return rc;
}

void edged_central_kick(struct edged_central *c)
{
	if (c)
		edge_central_forward_kick(c->fwd);
}

static void handle_closed(uv_handle_t *h)
{
	struct edged_central *c = h->data;

	assert(c->open_handles > 0);
	if (--c->open_handles == 0 && c->freeing)
		free(c);
}

void edged_central_stop(struct edged_central *c)
{
	if (!c || c->stopped)
		return;
	c->stopped = true;
	/* What the last batches committed, saved before the store drains. */
	if (edge_central_forward_stop(c->fwd, &c->waiting_c))
		c->save_waiting = true;
	c->fwd = NULL;
	save_next(c);
	if (!uv_is_closing((uv_handle_t *)&c->summary))
		uv_close((uv_handle_t *)&c->summary, handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->save_timer))
		uv_close((uv_handle_t *)&c->save_timer, handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->wake))
		uv_close((uv_handle_t *)&c->wake, handle_closed);
}

void edged_central_free(struct edged_central *c)
{
	if (!c)
		return;
	assert(c->stopped);
	c->freeing = true;
	if (c->open_handles == 0)
		free(c);
}

json_t *edged_central_status_json(const struct edged_central *c)
{
	struct edge_central_forward_stats st;

	if (!c)
		return json_pack("{s:b}", "enabled", 0);
	memset(&st, 0, sizeof st);
	edge_central_forward_get_stats(c->fwd, &st);
	return json_pack("{s:b, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:f, s:I, s:I}",
			 "enabled", 1,
			 "gateway_id", edge_config_settings(c->d->config)->central.gateway_id,
			 "connected", st.connected,
			 "backlog_events", (json_int_t)st.backlog[EDGE_CENTRAL_EVENT],
			 "backlog_episodes", (json_int_t)st.backlog[EDGE_CENTRAL_EPISODE],
			 "backlog_summaries", (json_int_t)st.backlog[EDGE_CENTRAL_SUMMARY],
			 "last_success_ms", (json_int_t)st.last_success_ms,
			 "lag_ms", (json_int_t)st.lag_ms,
			 "forwarded_events", (json_int_t)st.forwarded[EDGE_CENTRAL_EVENT],
			 "forwarded_episodes", (json_int_t)st.forwarded[EDGE_CENTRAL_EPISODE],
			 "forwarded_summaries", (json_int_t)st.forwarded[EDGE_CENTRAL_SUMMARY],
			 "duplicates", (json_int_t)st.duplicates,
			 "batches", (json_int_t)st.batches,
			 "errors", (json_int_t)st.errors,
			 "dropped_unforwarded_events", (json_int_t)st.dropped_events,
			 "dropped_unforwarded_episodes", (json_int_t)st.dropped_episodes,
			 "dropped_unforwarded_summaries", (json_int_t)st.dropped_summaries,
			 "last_error_ms", (json_int_t)st.last_error_ms,
			 "last_error", st.last_error,
			 "summaries_stored", (json_int_t)c->summaries,
			 "last_batch_rows_per_s", st.rows_per_s,
			 "summary_failures", (json_int_t)c->summary_failures,
			 "cursor_save_failures", (json_int_t)c->save_failures);
}
