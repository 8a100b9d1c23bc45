#include "anomaly_query.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly_json.h"
#include "edge_anomaly_query.h"
#include "edge_ctl_frame.h"
#include "edge_log.h"

/* max_groups of anomalies.stats: default and bound. */
#define QUERY_GROUPS_DEFAULT 1000
#define QUERY_GROUPS_MAX 20000
#define QUERY_LIMIT_DEFAULT 100

enum job_kind { JOB_LIST, JOB_STATS, JOB_EPISODES, JOB_DEVICE };

enum job_state {
	JOB_QUEUED,  /* waiting for a running place */
	JOB_RUNNING, /* on the pool */
	JOB_DRAIN,   /* a stream between pages: waits for its client to read */
};

/* A running place: its reader is opened on first use (on the pool) and
 * kept; the lock guards it against an interrupt from the loop. */
struct query_slot {
	uv_mutex_t lock;
	edge_anomaly_reader *reader;
	bool interrupted;          /* stopping: calls from now on are not run */
	struct query_job *job;     /* running on it; NULL: free */
};

struct query_job {
	struct edged_anomaly_query *q;
	struct query_job *prev, *next;   /* q->jobs */
	struct query_job *queue_next;
	enum job_kind kind;
	enum job_state state;
	struct edged_ctl_call *call;
	struct query_slot *slot;
	uv_work_t work;
	/* Arguments. */
	char device[EDGE_ID_MAX_LEN + 1];
	char label[EDGE_MSG_TOKEN_CAP];
	char model[EDGE_MSG_SHA256_HEX + 1];
	struct edge_anomaly_filter f;
	struct edge_anomaly_cursor cursor;
	unsigned limit;            /* this call's rows (a page's for a stream) */
	bool stream;
	uint64_t stream_left;      /* rows still wanted; 0 with stream_all */
	bool stream_all;
	uint64_t count;            /* rows streamed so far */
	enum edge_anomaly_by by;
	unsigned max_groups;
	int64_t now_ms;
	json_t *detail;            /* device: the registry's fields */
	bool hung_up;
	/* Budget copied at submit, used on the pool. */
	uint64_t max_rows;
	unsigned time_ms;
	/* Written on the pool, read on the loop after it. */
	int rc;
	json_t *items;
	char *frame;               /* a streamed page, serialised on the pool */
	size_t frame_len, frame_rows;
	bool more;
	struct edge_anomaly_stats_info info;
	struct edge_anomaly_device_summary sum;
};

struct edged_anomaly_query {
	uv_loop_t *loop;
	char *db_path;
	uint64_t max_rows;
	unsigned time_ms;
	struct query_slot slot[QUERY_RUNNING_MAX];
	struct query_job *jobs;              /* every job alive */
	struct query_job *queue_head, *queue_tail;
	bool stopped;
	bool freeing;
	struct edged_anomaly_query_stats stats;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int edged_anomaly_query_new(uv_loop_t *loop, const char *db_path, const struct edge_settings *s,
			    struct edged_anomaly_query **out)
{
	struct edged_anomaly_query *q;
	size_t i;

	if (!loop || !db_path || !s || !out)
		return -EINVAL;
	q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->db_path = strdup(db_path);
	if (!q->db_path) {
		free(q);
		return -ENOMEM;
	}
	for (i = 0; i < QUERY_RUNNING_MAX; i++) {
		if (uv_mutex_init(&q->slot[i].lock) < 0) {
			while (i-- > 0)
				uv_mutex_destroy(&q->slot[i].lock);
			free(q->db_path);
			free(q);
			return -ENOMEM;
		}
	}
	q->loop = loop;
	edged_anomaly_query_apply_settings(q, s);
	*out = q;
	return 0;
}

void edged_anomaly_query_apply_settings(struct edged_anomaly_query *q,
					const struct edge_settings *s)
{
	q->max_rows = s->anomaly.query_max_rows > 0 ? (uint64_t)s->anomaly.query_max_rows : 0;
	q->time_ms = s->anomaly.query_timeout_ms > 0 ? (unsigned)s->anomaly.query_timeout_ms : 0;
}

void edged_anomaly_query_get_stats(const struct edged_anomaly_query *q,
				   struct edged_anomaly_query_stats *out)
{
	if (q)
		*out = q->stats;
	else
		memset(out, 0, sizeof *out);
}

/* ---- jobs ---- */

static void query_maybe_free(struct edged_anomaly_query *q)
{
	if (!q->freeing || q->stats.running > 0)
		return;
	assert(!q->jobs);
	for (size_t i = 0; i < QUERY_RUNNING_MAX; i++) {
		edge_anomaly_reader_close(q->slot[i].reader);
		uv_mutex_destroy(&q->slot[i].lock);
	}
	free(q->db_path);
	free(q);
}

static struct query_job *job_new(struct edged_anomaly_query *q, enum job_kind kind,
				 struct edged_ctl_call *call)
{
	struct query_job *j = calloc(1, sizeof *j);

	if (!j)
		return NULL;
	j->q = q;
	j->kind = kind;
	j->call = call;
	j->next = q->jobs;
	if (q->jobs)
		q->jobs->prev = j;
	q->jobs = j;
	return j;
}

static void job_free(struct query_job *j)
{
	struct edged_anomaly_query *q = j->q;

	if (j->prev)
		j->prev->next = j->next;
	else
		q->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	json_decref(j->items);
	json_decref(j->detail);
	free(j->frame);
	free(j);
}

/* Answers the call and forgets the job. */
static void job_finish(struct query_job *j, int code, json_t *result, const char *msg)
{
	struct edged_ctl_call *call = j->call;

	job_free(j);
	edged_ctl_call_finish(call, code, result, msg);
}

static void job_unqueue(struct query_job *j)
{
	struct edged_anomaly_query *q = j->q;
	struct query_job **pp = &q->queue_head, *prev = NULL;

	while (*pp != j) {
		prev = *pp;
		pp = &(*pp)->queue_next;
	}
	*pp = j->queue_next;
	if (q->queue_tail == j)
		q->queue_tail = prev;
	j->queue_next = NULL;
	q->stats.queued--;
}

/* ---- on the pool ---- */

static int emit_event(void *ud, const struct edge_anomaly_row *row)
{
	struct query_job *j = ud;

	return json_array_append_new(j->items, edged_anomaly_event_json(row)) < 0 ? -ENOMEM : 0;
}

static int emit_episode(void *ud, const struct edge_anomaly_episode_row *row)
{
	struct query_job *j = ud;

	return json_array_append_new(j->items, edged_anomaly_episode_json(row)) < 0 ? -ENOMEM
										    : 0;
}

static int emit_stat(void *ud, const struct edge_anomaly_stat *st)
{
	struct query_job *j = ud;
	bool by_time = j->by == EDGE_ANOMALY_BY_HOUR || j->by == EDGE_ANOMALY_BY_DAY;

	return json_array_append_new(j->items, edged_anomaly_stat_json(st, by_time)) < 0 ? -ENOMEM
											 : 0;
}

static int job_query(struct query_job *j, edge_anomaly_reader *r)
{
	edge_anomaly_reader_set_budget(r, j->max_rows, j->time_ms);
	switch (j->kind) {
	case JOB_LIST:
		return edge_anomaly_list(r, &j->f, &j->cursor, j->limit, emit_event, j, &j->more);
	case JOB_EPISODES:
		return edge_anomaly_episodes(r, &j->f, &j->cursor, j->limit, emit_episode, j,
					     &j->more);
	case JOB_STATS:
		return edge_anomaly_stats(r, &j->f, j->by, j->max_groups, emit_stat, j, &j->info);
	case JOB_DEVICE:
		return edge_anomaly_device_summary(r, j->device, j->now_ms, &j->sum);
	}
	return -EINVAL;
}

static void job_work(uv_work_t *w)
{
	struct query_job *j = w->data;
	struct query_slot *slot = j->slot;
	edge_anomaly_reader *r;
	int rc = 0;

	uv_mutex_lock(&slot->lock);
	if (slot->interrupted)
		rc = -ECANCELED;
	else if (!slot->reader)
		rc = edge_anomaly_reader_open(j->q->db_path, &slot->reader);
	r = slot->reader;
	uv_mutex_unlock(&slot->lock);
	if (rc == 0 && j->kind != JOB_DEVICE && !(j->items = json_array()))
		rc = -ENOMEM;
	/* An interrupt between the unlock and the call is lost: the budget's
	 * time bound still ends it. */
	j->rc = rc < 0 ? rc : job_query(j, r);
	/* A page of an export is serialised here, not on the loop: at tens of
	 * thousands of rows a second that is the export's main cost. */
	if (j->stream && j->rc == 0 && json_array_size(j->items) > 0) {
		j->frame_rows = json_array_size(j->items);
		j->rc = edged_ctl_frame_more(json_pack("{s:o}", "events", j->items), &j->frame,
					     &j->frame_len);
		j->items = NULL;
	}
}

/* ---- on the loop ---- */

static void job_done(uv_work_t *w, int status);

static void job_run(struct query_job *j, struct query_slot *slot)
{
	struct edged_anomaly_query *q = j->q;

	j->state = JOB_RUNNING;
	j->slot = slot;
	slot->job = j;
	j->max_rows = q->max_rows;
	j->time_ms = q->time_ms;
	j->rc = 0;
	json_decref(j->items);
	j->items = NULL;
	free(j->frame);
	j->frame = NULL;
	j->more = false;
	j->work.data = j;
	q->stats.running++;
	if (uv_queue_work(q->loop, &j->work, job_work, job_done) < 0) {
		/* Reported as the job's failure when it is done. */
		j->rc = -ENOMEM;
		job_done(&j->work, 0);
	}
}

static struct query_slot *slot_free(struct edged_anomaly_query *q)
{
	for (size_t i = 0; i < QUERY_RUNNING_MAX; i++)
		if (!q->slot[i].job)
			return &q->slot[i];
	return NULL;
}

static void queue_pump(struct edged_anomaly_query *q)
{
	struct query_slot *slot;

	while (q->queue_head && !q->stopped && (slot = slot_free(q))) {
		struct query_job *j = q->queue_head;

		job_unqueue(j);
		job_run(j, slot);
	}
}

/* Runs j now if there is room, else queues it (a stream's next page
 * always: its call was admitted already). */
static void job_submit(struct query_job *j)
{
	struct edged_anomaly_query *q = j->q;
	struct query_slot *slot = slot_free(q);

	if (slot && !q->queue_head) {
		job_run(j, slot);
		return;
	}
	j->state = JOB_QUEUED;
	if (q->queue_tail)
		q->queue_tail->queue_next = j;
	else
		q->queue_head = j;
	q->queue_tail = j;
	q->stats.queued++;
}

static void job_fail(struct query_job *j, int rc)
{
	struct edged_anomaly_query *q = j->q;
	char msg[256];

	if (rc == EDGE_ELIMIT) {
		q->stats.budget_exceeded++;
		snprintf(msg, sizeof msg, "query examined more than %llu rows or ran over %u ms; "
			 "narrow --since/--device", (unsigned long long)j->max_rows, j->time_ms);
		job_finish(j, EDGE_CTL_E_BUDGET, NULL, msg);
		return;
	}
	if (rc == -ECANCELED || q->stopped) {
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
		return;
	}
	if (rc == -EINVAL) {
		job_finish(j, EDGE_CTL_E_BAD_ARGS, NULL, "the query's arguments were refused");
		return;
	}
	q->stats.failed++;
	edge_log(EDGE_LOG_WARNING, "anomaly", "query failed: %s", edge_strerror(rc));
	snprintf(msg, sizeof msg, "reading the anomaly history failed: %s", edge_strerror(rc));
	job_finish(j, EDGE_CTL_E_INTERNAL, NULL, msg);
}

static json_t *device_json(const struct edge_anomaly_device_summary *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:s, s:f, s:I, s:I, s:I}", "events",
			 (json_int_t)s->events, "gaps", (json_int_t)s->gaps, "events_24h",
			 (json_int_t)s->events_24h, "last_ts_ms", (json_int_t)s->last_ts_ms,
			 "last_label", s->last_label, "last_score", s->last_score, "episodes",
			 (json_int_t)s->episodes, "episodes_open", (json_int_t)s->episodes_open,
			 "episodes_confirmed", (json_int_t)s->episodes_confirmed);
}

static void stream_next(struct query_job *j);

/* A streamed page is back: send it, then the next page or the end. */
static void stream_page(struct query_job *j)
{
	size_t n = j->frame ? j->frame_rows : 0;
	char msg[96];
	int rc;

	json_decref(j->items); /* an empty page's */
	j->items = NULL;
	j->count += n;
	if (!j->stream_all)
		j->stream_left -= n < j->stream_left ? n : j->stream_left;
	rc = j->frame ? edged_ctl_call_send_frame(j->call, j->frame, j->frame_len) : 0;
	j->frame = NULL;
	if (rc == -EPIPE) {
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone"); /* dropped */
		return;
	}
	if (rc < 0) {
		snprintf(msg, sizeof msg, "page not sent: %s", edge_strerror(rc));
		job_finish(j, EDGE_CTL_E_INTERNAL, NULL, msg);
		return;
	}
	/* An empty page that claims more would spin: it ends the export. */
	if (!j->more || n == 0 || (!j->stream_all && j->stream_left == 0)) {
		job_finish(j, 0, json_pack("{s:I, s:b}", "count", (json_int_t)j->count, "more",
					   j->more), NULL);
		return;
	}
	j->state = JOB_DRAIN;
	if (!edged_ctl_call_want_drain(j->call, QUERY_STREAM_LOW_MARK))
		stream_next(j);
}

static void stream_next(struct query_job *j)
{
	assert(j->state == JOB_DRAIN);
	if (j->hung_up) {
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone");
		return;
	}
	if (j->q->stopped) {
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
		return;
	}
	j->limit = j->stream_all || j->stream_left > QUERY_PAGE_EVENTS ? QUERY_PAGE_EVENTS
								       : (unsigned)j->stream_left;
	job_submit(j);
}

static void on_drained(struct edged_ctl_call *call, void *ud)
{
	struct query_job *j = ud;

	(void)call;
	if (j->state == JOB_DRAIN)
		stream_next(j);
}

static void on_hangup(struct edged_ctl_call *call, void *ud)
{
	struct query_job *j = ud;

	(void)call;
	j->hung_up = true;
	if (j->state == JOB_QUEUED) {
		job_unqueue(j);
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone");
	} else if (j->state == JOB_DRAIN) {
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone");
	}
	/* Running: answered (and dropped) when it is back. */
}

static void job_complete(struct query_job *j)
{
	json_t *res = NULL;

	if (j->kind == JOB_DEVICE) {
		json_t *detail = j->detail;

		j->detail = NULL;
		if (j->rc < 0)
			edge_log(EDGE_LOG_INFO, "anomaly", "anomaly summary of %s not read: %s",
				 j->device, edge_strerror(j->rc));
		json_object_set_new(detail, "anomalies",
				    j->rc < 0 ? json_null() : device_json(&j->sum));
		job_finish(j, 0, detail, NULL);
		return;
	}
	if (j->hung_up) {
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone");
		return;
	}
	if (j->rc < 0 || (j->q->stopped && j->stream)) {
		job_fail(j, j->rc < 0 ? j->rc : -ECANCELED);
		return;
	}
	if (j->rc > 0) { /* an emit's failure: out of memory */
		job_fail(j, -ENOMEM);
		return;
	}
	if (j->stream) {
		stream_page(j);
		return;
	}
	switch (j->kind) {
	case JOB_LIST:
	case JOB_EPISODES:
		res = json_pack("{s:O, s:b}", j->kind == JOB_LIST ? "events" : "episodes", j->items,
				"more", j->more);
		if (res && json_array_size(j->items) > 0)
			json_object_set_new(res, "cursor", edged_anomaly_cursor_json(&j->cursor));
		break;
	case JOB_STATS: {
		json_t *total = edged_anomaly_stat_json(&j->info.total, false);

		json_object_del(total, "key"); /* the total has none */
		res = json_pack("{s:s, s:s, s:I, s:I, s:O, s:o}", "by", edge_anomaly_by_name(j->by),
				"source", j->info.source ? j->info.source : "",
				"since_ms", (json_int_t)j->info.since_ms, "until_ms",
				(json_int_t)j->info.until_ms, "groups", j->items, "total", total);
		break;
	}
	case JOB_DEVICE:
		break;
	}
	if (!res) {
		job_fail(j, -ENOMEM);
		return;
	}
	job_finish(j, 0, res, NULL);
}

static void job_done(uv_work_t *w, int status)
{
	struct query_job *j = w->data;
	struct edged_anomaly_query *q = j->q;

	assert(j->state == JOB_RUNNING && q->stats.running > 0);
	q->stats.running--;
	j->slot->job = NULL;
	j->slot = NULL;
	q->stats.done++;
	if (status < 0 && j->rc == 0)
		j->rc = -ECANCELED;
	job_complete(j);
	if (q->freeing)
		query_maybe_free(q);
	else
		queue_pump(q);
}

/* ---- stop ---- */

void edged_anomaly_query_stop(struct edged_anomaly_query *q)
{
	if (!q || q->stopped)
		return;
	q->stopped = true;
	for (size_t i = 0; i < QUERY_RUNNING_MAX; i++) {
		struct query_slot *slot = &q->slot[i];

		uv_mutex_lock(&slot->lock);
		slot->interrupted = true;
		if (slot->reader && slot->job)
			edge_anomaly_reader_interrupt(slot->reader);
		uv_mutex_unlock(&slot->lock);
	}
	for (struct query_job *j = q->jobs, *next; j; j = next) {
		next = j->next;
		if (j->state == JOB_QUEUED)
			job_unqueue(j);
		if (j->state == JOB_RUNNING)
			continue;
		if (j->kind == JOB_DEVICE) {
			j->rc = -ECANCELED;
			job_complete(j); /* answered without its summary */
			continue;
		}
		job_finish(j, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
	}
}

void edged_anomaly_query_free(struct edged_anomaly_query *q)
{
	if (!q)
		return;
	edged_anomaly_query_stop(q);
	q->freeing = true;
	query_maybe_free(q);
}

/* ---- arguments ---- */

static int bad_arg(char *msg, size_t msglen, const char *name, const char *what)
{
	snprintf(msg, msglen, "%s %s", name, what);
	return EDGE_CTL_E_BAD_ARGS;
}

/* An optional string into buf (NULL in *out when absent). */
static int arg_string(json_t *args, const char *name, char *buf, size_t cap, const char **out,
		      char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, name);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap) {
		snprintf(msg, msglen, "%s must be a string of 1 to %zu characters", name, cap - 1);
		return EDGE_CTL_E_BAD_ARGS;
	}
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	*out = buf;
	return 0;
}

/* An optional integer in [min, max]; *out keeps its default when absent. */
static int arg_int(json_t *args, const char *name, json_int_t min, json_int_t max,
		   json_int_t *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(msg, msglen, "%s must be an integer from %lld to %lld", name,
			 (long long)min, (long long)max);
		return EDGE_CTL_E_BAD_ARGS;
	}
	*out = json_integer_value(v);
	return 0;
}

static int arg_bool(json_t *args, const char *name, bool *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad_arg(msg, msglen, name, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int arg_cursor(json_t *args, struct edge_anomaly_cursor *c, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, "cursor"), *ts, *id;

	memset(c, 0, sizeof *c);
	if (!v || json_is_null(v))
		return 0;
	ts = json_object_get(v, "ts_ms");
	id = json_object_get(v, "id");
	if (!json_is_object(v) || !json_is_integer(ts) || !json_is_integer(id))
		return bad_arg(msg, msglen, "cursor",
			       "must be {\"ts_ms\": integer, \"id\": integer}");
	c->valid = true;
	c->ts_ms = json_integer_value(ts);
	c->id = json_integer_value(id);
	return 0;
}

/* device, label, model, since_ms, until_ms: every command's filters. */
static int arg_filter(json_t *args, struct query_job *j, char *msg, size_t msglen)
{
	json_int_t since = 0, until = 0;
	int code;

	if ((code = arg_string(args, "device", j->device, sizeof j->device, &j->f.device, msg,
			       msglen)) ||
	    (code = arg_string(args, "label", j->label, sizeof j->label, &j->f.label, msg,
			       msglen)) ||
	    (code = arg_string(args, "model", j->model, sizeof j->model, &j->f.model, msg,
			       msglen)) ||
	    (code = arg_int(args, "since_ms", 0, INT64_MAX, &since, msg, msglen)) ||
	    (code = arg_int(args, "until_ms", 0, INT64_MAX, &until, msg, msglen)))
		return code;
	if (since && until && until <= since)
		return bad_arg(msg, msglen, "until_ms", "must be after since_ms");
	j->f.since_ms = since;
	j->f.until_ms = until;
	return 0;
}

static int refuse(struct query_job *j, int code)
{
	job_free(j);
	return code;
}

/* A parsed job: run, queued or refused busy. */
static int job_admit(struct query_job *j, char *msg, size_t msglen)
{
	struct edged_anomaly_query *q = j->q;

	if (!slot_free(q) && q->stats.queued >= QUERY_QUEUE_MAX) {
		q->stats.refused_busy++;
		snprintf(msg, msglen, "%d queries running and %d waiting; try again later",
			 QUERY_RUNNING_MAX, QUERY_QUEUE_MAX);
		return refuse(j, EDGE_CTL_E_BUSY);
	}
	j->now_ms = wall_ms();
	job_submit(j);
	return 0;
}

static int stopped(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "edged is stopping");
	return EDGE_CTL_E_UNAVAILABLE;
}

static struct query_job *job_for(struct edged_anomaly_query *q, enum job_kind kind,
				 struct edged_ctl_call *call, char *msg, size_t msglen)
{
	struct query_job *j = job_new(q, kind, call);

	if (!j)
		snprintf(msg, msglen, "out of memory");
	return j;
}

int edged_anomaly_query_list(struct edged_anomaly_query *q, json_t *args,
			     struct edged_ctl_call *call, char *msg, size_t msglen)
{
	struct query_job *j;
	json_int_t limit = -1;
	json_t *min;
	int code;

	if (!q || q->stopped)
		return stopped(msg, msglen);
	if (!(j = job_for(q, JOB_LIST, call, msg, msglen)))
		return EDGE_CTL_E_INTERNAL;
	if ((code = arg_filter(args, j, msg, msglen)) ||
	    (code = arg_bool(args, "stream", &j->stream, msg, msglen)) ||
	    (code = arg_cursor(args, &j->cursor, msg, msglen)) ||
	    (code = arg_int(args, "limit", j->stream ? 0 : 1,
			    j->stream ? INT64_MAX : QUERY_LIST_MAX, &limit, msg, msglen)))
		return refuse(j, code);
	min = json_object_get(args, "min_score");
	if (min && !json_is_null(min)) {
		if (!json_is_number(min))
			return refuse(j, bad_arg(msg, msglen, "min_score", "must be a number"));
		j->f.has_min_score = true;
		j->f.min_score = json_number_value(min);
	}
	if (j->stream) {
		edged_ctl_call_stream(call, on_drained, on_hangup, j);
		j->stream_all = limit <= 0;
		j->stream_left = limit > 0 ? (uint64_t)limit : 0;
		j->limit = j->stream_all || j->stream_left > QUERY_PAGE_EVENTS
				   ? QUERY_PAGE_EVENTS
				   : (unsigned)j->stream_left;
	} else {
		j->limit = limit < 0 ? QUERY_LIMIT_DEFAULT : (unsigned)limit;
	}
	return job_admit(j, msg, msglen);
}

int edged_anomaly_query_stats(struct edged_anomaly_query *q, json_t *args,
			      struct edged_ctl_call *call, char *msg, size_t msglen)
{
	struct query_job *j;
	json_int_t groups = QUERY_GROUPS_DEFAULT;
	json_t *by;
	int code;

	if (!q || q->stopped)
		return stopped(msg, msglen);
	if (!(j = job_for(q, JOB_STATS, call, msg, msglen)))
		return EDGE_CTL_E_INTERNAL;
	j->by = EDGE_ANOMALY_BY_HOUR;
	by = json_object_get(args, "by");
	if (by && !json_is_null(by) &&
	    (!json_is_string(by) || edge_anomaly_by_parse(json_string_value(by), &j->by) < 0))
		return refuse(j, bad_arg(msg, msglen, "by",
					 "must be hour, day, device, label or model"));
	if ((code = arg_filter(args, j, msg, msglen)) ||
	    (code = arg_int(args, "max_groups", 1, QUERY_GROUPS_MAX, &groups, msg, msglen)))
		return refuse(j, code);
	if (json_object_get(args, "min_score") && !json_is_null(json_object_get(args, "min_score")))
		return refuse(j, bad_arg(msg, msglen, "min_score",
					 "is not supported by stats (the rollups do not keep it)"));
	j->max_groups = (unsigned)groups;
	return job_admit(j, msg, msglen);
}

int edged_anomaly_query_episodes(struct edged_anomaly_query *q, json_t *args,
				 struct edged_ctl_call *call, char *msg, size_t msglen)
{
	struct query_job *j;
	json_int_t limit = QUERY_LIMIT_DEFAULT;
	int code;

	if (!q || q->stopped)
		return stopped(msg, msglen);
	if (!(j = job_for(q, JOB_EPISODES, call, msg, msglen)))
		return EDGE_CTL_E_INTERNAL;
	if ((code = arg_filter(args, j, msg, msglen)) ||
	    (code = arg_bool(args, "open", &j->f.open_only, msg, msglen)) ||
	    (code = arg_cursor(args, &j->cursor, msg, msglen)) ||
	    (code = arg_int(args, "limit", 1, QUERY_LIST_MAX, &limit, msg, msglen)))
		return refuse(j, code);
	j->limit = (unsigned)limit;
	return job_admit(j, msg, msglen);
}

int edged_anomaly_query_device(struct edged_anomaly_query *q, const char *id, json_t *detail,
			       struct edged_ctl_call *call)
{
	struct query_job *j = NULL;
	char msg[128];

	/* Busy or stopping: the registry's fields still answer. */
	if (q && !q->stopped && (slot_free(q) || q->stats.queued < QUERY_QUEUE_MAX))
		j = job_new(q, JOB_DEVICE, call);
	if (!j) {
		json_object_set_new(detail, "anomalies", json_null());
		edged_ctl_call_finish(call, 0, detail, NULL);
		return 0;
	}
	snprintf(j->device, sizeof j->device, "%s", id);
	j->detail = detail;
	(void)job_admit(j, msg, sizeof msg); /* room was checked */
	return 0;
}
