#include "anomaly_tail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly_json.h"
#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edge_time.h"

/* Drop lines: at most one per this interval (a peer may reconnect and
 * fall behind again and again). */
#define TAIL_LOG_INTERVAL_MS 10000

struct follower {
	struct edged_anomaly_tail *t;
	struct edged_ctl_call *call; /* NULL: a free place */
	char device[EDGE_ID_MAX_LEN + 1]; /* "": any */
	char label[EDGE_MSG_TOKEN_CAP];
	json_t *batch;               /* events of this loop turn; NULL: none */
};

struct edged_anomaly_tail {
	uv_check_t check;            /* sends the batches at the end of a loop turn */
	bool check_active;
	bool stopped;
	struct follower f[TAIL_FOLLOWERS_MAX];
	uint64_t last_log_ms;
	uint64_t log_suppressed;
	struct edged_anomaly_tail_stats stats;
};

int edged_anomaly_tail_new(uv_loop_t *loop, struct edged_anomaly_tail **out)
{
	struct edged_anomaly_tail *t = calloc(1, sizeof *t);
	int rc;

	if (!t)
		return -ENOMEM;
	rc = uv_check_init(loop, &t->check);
	if (rc < 0) {
		free(t);
		return rc;
	}
	t->check.data = t;
	for (size_t i = 0; i < TAIL_FOLLOWERS_MAX; i++)
		t->f[i].t = t;
	*out = t;
	return 0;
}

/* Releases the place first: finishing may call back into us (never for
 * this call any more). */
static void follower_end(struct follower *f, int code, json_t *result, const char *msg)
{
	struct edged_ctl_call *call = f->call;

	f->call = NULL;
	json_decref(f->batch);
	f->batch = NULL;
	f->t->stats.followers--;
	edged_ctl_call_finish(call, code, result, msg);
}

static void on_hangup(struct edged_ctl_call *call, void *ud)
{
	struct follower *f = ud;

	if (f->call == call)
		follower_end(f, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone"); /* dropped */
}

static void log_drop(struct edged_anomaly_tail *t, size_t queued)
{
	uint64_t now = edge_time_monotonic_ms();

	if (t->last_log_ms && now - t->last_log_ms < TAIL_LOG_INTERVAL_MS) {
		t->log_suppressed++;
		return;
	}
	edge_log(EDGE_LOG_NOTICE, "anomaly", "tail follower dropped: %zu bytes unread "
		 "(%llu similar lines suppressed)", queued, (unsigned long long)t->log_suppressed);
	t->last_log_ms = now;
	t->log_suppressed = 0;
}

static void follower_flush(struct follower *f)
{
	struct edged_anomaly_tail *t = f->t;
	size_t queued = edged_ctl_call_queued(f->call), n;
	json_t *batch = f->batch;
	char msg[128];
	int rc;

	if (!batch)
		return;
	f->batch = NULL;
	if (queued > EDGED_CTL_STREAM_MAX_QUEUED) {
		json_decref(batch);
		t->stats.followers_dropped++;
		log_drop(t, queued);
		snprintf(msg, sizeof msg, "follower fell behind: %zu bytes unread (limit %u)",
			 queued, EDGED_CTL_STREAM_MAX_QUEUED);
		follower_end(f, EDGE_CTL_E_TOO_SLOW, NULL, msg);
		return;
	}
	n = json_array_size(batch);
	rc = edged_ctl_call_send(f->call, json_pack("{s:o}", "events", batch));
	if (rc == -EPIPE) {
		follower_end(f, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone");
		return;
	}
	if (rc < 0) {
		snprintf(msg, sizeof msg, "events not sent: %s", edge_strerror(rc));
		follower_end(f, EDGE_CTL_E_INTERNAL, NULL, msg);
		return;
	}
	t->stats.events_sent += n;
}

static void on_check(uv_check_t *h)
{
	struct edged_anomaly_tail *t = h->data;

	for (size_t i = 0; i < TAIL_FOLLOWERS_MAX; i++)
		if (t->f[i].call)
			follower_flush(&t->f[i]);
	uv_check_stop(h);
	t->check_active = false;
}

void edged_anomaly_tail_stop(struct edged_anomaly_tail *t)
{
	if (!t || t->stopped)
		return;
	t->stopped = true;
	for (size_t i = 0; i < TAIL_FOLLOWERS_MAX; i++)
		if (t->f[i].call)
			follower_end(&t->f[i], 0, json_pack("{s:s}", "ended", "shutdown"), NULL);
	uv_check_stop(&t->check);
	t->check_active = false;
}

static void tail_closed(uv_handle_t *h)
{
	free(h->data);
}

void edged_anomaly_tail_free(struct edged_anomaly_tail *t)
{
	if (!t)
		return;
	edged_anomaly_tail_stop(t);
	uv_close((uv_handle_t *)&t->check, tail_closed);
}

/* An optional string argument into buf; false with msg when it is not a
 * string or does not fit. */
static bool arg_string(json_t *args, const char *name, char *buf, size_t cap, char *msg,
		       size_t msglen)
{
	json_t *v = json_object_get(args, name);

	buf[0] = '\0';
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap) {
		snprintf(msg, msglen, "%s must be a string of 1 to %zu characters", name, cap - 1);
		return false;
	}
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return true;
}

int edged_anomaly_tail_start(struct edged_anomaly_tail *t, json_t *args,
			     struct edged_ctl_call *call, char *msg, size_t msglen)
{
	struct follower *f = NULL;

	if (!t || t->stopped) {
		snprintf(msg, msglen, "edged is stopping");
		return EDGE_CTL_E_UNAVAILABLE;
	}
	for (size_t i = 0; i < TAIL_FOLLOWERS_MAX && !f; i++)
		if (!t->f[i].call)
			f = &t->f[i];
	if (!f) {
		snprintf(msg, msglen, "%d tail followers already", TAIL_FOLLOWERS_MAX);
		return EDGE_CTL_E_BUSY;
	}
	if (!arg_string(args, "device", f->device, sizeof f->device, msg, msglen) ||
	    !arg_string(args, "label", f->label, sizeof f->label, msg, msglen))
		return EDGE_CTL_E_BAD_ARGS;
	f->call = call;
	f->batch = NULL;
	t->stats.followers++;
	t->stats.followers_total++;
	edged_ctl_call_stream(call, NULL, on_hangup, f);
	if (edged_ctl_call_send(call, json_pack("{s:b}", "following", 1)) < 0)
		follower_end(f, EDGE_CTL_E_UNAVAILABLE, NULL, "peer gone");
	return 0;
}

bool edged_anomaly_tail_active(const struct edged_anomaly_tail *t)
{
	return t && t->stats.followers > 0;
}

void edged_anomaly_tail_event(struct edged_anomaly_tail *t, const struct edge_anomaly_row *row)
{
	if (!t || t->stopped)
		return;
	for (size_t i = 0; i < TAIL_FOLLOWERS_MAX; i++) {
		struct follower *f = &t->f[i];
		json_t *ev;

		if (!f->call || (f->device[0] && strcmp(f->device, row->device) != 0) ||
		    (f->label[0] && strcmp(f->label, row->ev.label) != 0))
			continue;
		if (!f->batch && !(f->batch = json_array()))
			continue; /* out of memory: this follower misses it */
		ev = edged_anomaly_event_json(row);
		if (ev)
			json_array_append_new(f->batch, ev);
		if (json_array_size(f->batch) >= TAIL_FRAME_EVENTS)
			follower_flush(f);
	}
	if (!t->check_active && uv_check_start(&t->check, on_check) == 0)
		t->check_active = true;
}

void edged_anomaly_tail_get_stats(const struct edged_anomaly_tail *t,
				  struct edged_anomaly_tail_stats *out)
{
	if (t)
		*out = t->stats;
	else
		memset(out, 0, sizeof *out);
}
