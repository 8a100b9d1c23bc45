#include "anomaly_json.h"

#include <stdbool.h>

/* json_object_set_new that reports allocation failure through *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		*ok = false;
}

static json_t *done(json_t *o, bool ok)
{
	if (ok)
		return o;
	json_decref(o);
	return NULL;
}

json_t *edged_anomaly_event_json(const struct edge_anomaly_row *row)
{
	const struct edge_anomaly_event *ev = &row->ev;
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	put(o, "id", json_integer((json_int_t)row->id), &ok);
	put(o, "device", json_string(row->device), &ok);
	put(o, "epoch", json_integer((json_int_t)ev->epoch), &ok);
	put(o, "seq", json_integer((json_int_t)ev->seq), &ok);
	put(o, "ts_ms", json_integer((json_int_t)ev->ts_ms), &ok);
	put(o, "received_ms", json_integer((json_int_t)ev->received_ms), &ok);
	put(o, "time_source", json_string(ev->time_source), &ok);
	put(o, "model", json_string(ev->model), &ok);
	put(o, "score", json_real(ev->score), &ok);
	put(o, "threshold", json_real(ev->threshold), &ok);
	put(o, "label", json_string(ev->label), &ok);
	if (ev->has_severity)
		put(o, "severity", json_integer(ev->severity), &ok);
	if (ev->has_summary) {
		/* Stored as the JSON array text the node sent; a row that does
		 * not parse shows no summary rather than failing the page. */
		json_t *s = json_loads(ev->summary, JSON_DECODE_ANY, NULL);

		if (json_is_array(s))
			put(o, "summary", s, &ok);
		else
			json_decref(s);
	}
	return done(o, ok);
}

json_t *edged_anomaly_episode_json(const struct edge_anomaly_episode_row *row)
{
	const struct edge_anomaly_episode *ep = &row->ep;
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	put(o, "id", json_integer((json_int_t)ep->id), &ok);
	put(o, "device", json_string(row->device), &ok);
	put(o, "label", json_string(row->label), &ok);
	put(o, "model", json_string(ep->model), &ok);
	put(o, "state", json_string(ep->state), &ok);
	put(o, "start_ms", json_integer((json_int_t)ep->start_ms), &ok);
	put(o, "end_ms", json_integer((json_int_t)ep->end_ms), &ok);
	put(o, "count", json_integer((json_int_t)ep->count), &ok);
	put(o, "peak_score", json_real(ep->peak_score), &ok);
	if (ep->confirmed_ms)
		put(o, "confirmed_ms", json_integer((json_int_t)ep->confirmed_ms), &ok);
	if (ep->closed_ms)
		put(o, "closed_ms", json_integer((json_int_t)ep->closed_ms), &ok);
	return done(o, ok);
}

json_t *edged_anomaly_stat_json(const struct edge_anomaly_stat *st, bool by_time)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	if (by_time)
		put(o, "bucket_ms", json_integer((json_int_t)st->bucket_ms), &ok);
	else
		put(o, "key", json_string(st->key), &ok);
	put(o, "count", json_integer((json_int_t)st->count), &ok);
	if (st->count > 0) {
		put(o, "min", json_real(st->score_min), &ok);
		put(o, "max", json_real(st->score_max), &ok);
		put(o, "mean", json_real(st->score_mean), &ok);
		put(o, "p50", json_real(st->p50), &ok);
		put(o, "p90", json_real(st->p90), &ok);
		put(o, "p99", json_real(st->p99), &ok);
	}
	return done(o, ok);
}

json_t *edged_anomaly_cursor_json(const struct edge_anomaly_cursor *c)
{
	return json_pack("{s:I, s:I}", "ts_ms", (json_int_t)c->ts_ms, "id", (json_int_t)c->id);
}
