/* Model-aware health of a soak (rollout_internal.h; the tests and their
 * false-alarm rate: lib/rollout/edge_rollout_health.h).
 *
 * A soak of soak_s seconds has rollout.health_looks looks, the k-th at
 * soak_s * k / looks after it began, the last at its end. A look compares,
 * in anomaly events or episodes (rollout.health_count) per node-hour:
 *   new    the stage's activated nodes, new model, since the soak began;
 *   own    the same nodes, any other model, in the rollout.health_baseline_s
 *          before their stage started, from when each had been running
 *          then (its boot by its heartbeat's uptime, or when first seen);
 *   peers  the rollout's nodes of later stages (not yet updated) online
 *          now, any other model, since the soak began or their boot;
 * and the new model's scores with the own baseline's (Kolmogorov-Smirnov).
 * A baseline's exposure counts the time each node has been running, so a
 * node that was off does not dilute the old rate (which would make the new
 * one look worse); the new side counts nodes x window, so a new node that
 * was off only lowers the new rate (never a false halt).
 *
 * The reads run on libuv's pool through one read-only connection of the
 * service's (edge_anomaly_query.h), one look at a time, within the
 * anomaly.query_* budget; a look that cannot read the history counts as
 * insufficient data, never as a pass of the data it did not see. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_log.h"
#include "edge_score_sketch.h"
#include "edge_time.h"
#include "edged.h"
#include "ota_internal.h"
#include "rollout_internal.h"

#define SKETCH_BINS (2 * EDGE_SCORE_SKETCH_MAX_BINS + 1)

struct look_job {
	uv_work_t work;
	struct edged_rollout *s;
	edge_anomaly_reader *reader;     /* the service's, lent for the look */
	char db_path[EDGE_CONFIG_PATH_MAX];
	uint32_t rollout, stage;
	unsigned look, looks;
	char model[2 * EDGE_ROLLOUT_NAME_MAX + 2]; /* name@version, as reports name it */
	bool episodes;
	uint64_t max_rows;
	unsigned time_ms;
	struct edge_health_config cfg;
	int64_t from_ms, to_ms;          /* the soak so far */
	int64_t own_to_ms;
	unsigned n_new, n_peers;
	char (*ids)[EDGE_ROLLOUT_ID_MAX + 1]; /* n_new, then n_peers */
	int64_t *since_ms;               /* per id: own window's start, a peer's window's start */
	double hours_new, hours_own, hours_peers;
	/* out */
	int rc;
	uint64_t read_ms;                /* the look's time on the pool */
	struct edge_health_report rep;
};

static void job_free(struct look_job *j)
{
	free(j->ids);
	free(j->since_ms);
	free(j);
}

/* The sketch as the KS test's bins; *out malloc'd (NULL with 0 bins). */
static int sketch_bins(const struct edge_score_sketch *sk, struct edge_health_bin **out,
		       size_t *n)
{
	double *v = malloc(SKETCH_BINS * sizeof *v);
	uint64_t *c = malloc(SKETCH_BINS * sizeof *c);
	struct edge_health_bin *b = NULL;
	size_t k;

	*out = NULL;
	*n = 0;
	if (!v || !c)
		goto oom;
	k = edge_score_sketch_bins_out(sk, v, c, SKETCH_BINS);
	assert(k <= SKETCH_BINS);
	if (k) {
		b = malloc(k * sizeof *b);
		if (!b)
			goto oom;
		for (size_t i = 0; i < k; i++)
			b[i] = (struct edge_health_bin){ .value = v[i], .count = c[i] };
	}
	free(v);
	free(c);
	*out = b;
	*n = k;
	return 0;
oom:
	free(v);
	free(c);
	return -ENOMEM;
}

static uint64_t counted(const struct look_job *j, const struct edge_anomaly_window *w)
{
	return j->episodes ? w->episodes : w->events;
}

static void look_work(uv_work_t *w)
{
	struct look_job *j = w->data;
	struct edge_anomaly_window *win = calloc(3, sizeof *win);
	struct edge_health_bin *b_new = NULL, *b_own = NULL;
	struct edge_health_input in = { 0 };
	size_t nb_new = 0, nb_own = 0;
	uint64_t t0 = edge_time_monotonic_ms();
	int rc = 0;

	if (!win) {
		j->rc = -ENOMEM;
		return;
	}
	if (!j->reader)
		rc = edge_anomaly_reader_open(j->db_path, &j->reader);
	if (rc == 0)
		edge_anomaly_reader_set_budget(j->reader, j->max_rows, j->time_ms);
	for (unsigned i = 0; i < 3; i++)
		edge_anomaly_window_init(&win[i]);
	for (unsigned i = 0; rc == 0 && i < j->n_new; i++) {
		rc = edge_anomaly_window_add(j->reader, j->ids[i], j->from_ms, j->to_ms, j->model,
					     true, &win[0]);
		if (rc == 0 && j->since_ms[i] < j->own_to_ms)
			rc = edge_anomaly_window_add(j->reader, j->ids[i], j->since_ms[i],
						     j->own_to_ms, j->model, false, &win[1]);
	}
	for (unsigned i = j->n_new; rc == 0 && i < j->n_new + j->n_peers; i++)
		rc = edge_anomaly_window_add(j->reader, j->ids[i], j->since_ms[i], j->to_ms,
					     j->model, false, &win[2]);
	if (rc == 0)
		rc = sketch_bins(&win[0].scores, &b_new, &nb_new);
	if (rc == 0)
		rc = sketch_bins(&win[1].scores, &b_own, &nb_own);
	if (rc == 0) {
		in.events_new = counted(j, &win[0]);
		in.hours_new = j->hours_new;
		in.events_own = counted(j, &win[1]);
		in.hours_own = j->hours_own;
		in.events_peers = counted(j, &win[2]);
		in.hours_peers = j->hours_peers;
		in.scores_new = b_new;
		in.n_scores_new = nb_new;
		in.scores_base = b_own;
		in.n_scores_base = nb_own;
		rc = edge_health_evaluate(&j->cfg, &in, &j->rep);
	}
	j->rc = rc;
	j->read_ms = edge_time_monotonic_ms() - t0;
	free(b_new);
	free(b_own);
	free(win);
}

static void look_act(struct rollout *r, struct look_job *j)
{
	struct ro_health *h = &r->health_of[j->stage];
	char name[16], why[EDGE_ROLLOUT_REASON_MAX];

	ro_stage_name(r, j->stage, name, sizeof name);
	h->has = true;
	h->look = j->look;
	h->looks = j->looks;
	h->ts_ms = (int64_t)ota_wall_ms();
	h->nodes_new = j->n_new;
	h->nodes_peers = j->n_peers;
	h->rep = j->rep;
	r->looks_done = j->look;
	if (j->rc < 0) {
		h->rep.verdict = EDGE_HEALTH_INSUFFICIENT;
		snprintf(h->rep.reason, sizeof h->rep.reason, "the anomaly history was not read: %s",
			 edge_strerror(j->rc));
		r->svc->stats.health_unread++;
	}
	r->svc->stats.health_looks++;
	if (h->rep.verdict != EDGE_HEALTH_HALT) {
		ro_event(r, "%s: health look %u/%u (%u+%u nodes read in %llu ms): %s: %s", name,
			 j->look, j->looks, j->n_new, j->n_peers, (unsigned long long)j->read_ms,
			 edge_health_verdict_name(h->rep.verdict), h->rep.reason);
		return;
	}
	r->svc->stats.health_halts++;
	snprintf(why, sizeof why, "%s: health: %.170s", name, h->rep.reason);
	ro_set_state(r, EDGE_ROLLOUT_HALTED, why);
	ro_event(r, "halted at health look %u/%u: %s", j->look, j->looks, why);
	if (r->auto_revert)
		ro_revert_start(r, j->stage);
}

static void look_after(uv_work_t *w, int status)
{
	struct look_job *j = w->data;
	struct edged_rollout *s = j->s;
	struct rollout *r = s->freeing ? NULL : ro_find(s, j->rollout);

	s->looking = false;
	s->reader = j->reader;
	if (r)
		r->looking = false;
	if (r && status == 0 && !s->stopping && r->row.state == EDGE_ROLLOUT_SOAKING &&
	    r->row.stage == j->stage)
		look_act(r, j);
	job_free(j);
	if (!ro_job_end(s))
		ro_kick(s);
}

/* Fills j's node lists and exposures from r on the loop. */
static int look_plan(struct rollout *r, struct look_job *j, int64_t now_wall)
{
	const struct edge_settings *cfg = ro_settings(r->svc);
	int64_t baseline_ms = (int64_t)cfg->rollout.health_baseline_s * 1000;
	unsigned first, n, k = 0;

	ro_stage_range(r, j->stage, &first, &n);
	j->ids = calloc(r->n_nodes ? r->n_nodes : 1, sizeof *j->ids);
	j->since_ms = calloc(r->n_nodes ? r->n_nodes : 1, sizeof *j->since_ms);
	if (!j->ids || !j->since_ms)
		return -ENOMEM;
	j->from_ms = r->row.soak_started_ms;
	j->to_ms = now_wall > j->from_ms ? now_wall : j->from_ms + 1;
	j->own_to_ms = r->row.stage_started_ms ? r->row.stage_started_ms : j->from_ms;
	for (unsigned i = first; i < first + n; i++) {
		const struct ro_node *nd = &r->nodes[i];
		struct edge_node_info info;
		int64_t from = j->own_to_ms - baseline_ms, since = nd->baseline_from_ms;

		if (nd->outcome != EDGE_ROLLOUT_NODE_SUCCESS)
			continue;
		/* a stage started before schema 10 kept no start: first seen */
		if (since == 0 && edge_registry_get(r->svc->ota->registry, nd->id, &info) == 0)
			since = info.first_seen_ms;
		if (since > from)
			from = since;
		snprintf(j->ids[k], sizeof j->ids[0], "%s", nd->id);
		j->since_ms[k] = from;
		if (from < j->own_to_ms)
			j->hours_own += (double)(j->own_to_ms - from) / 3.6e6;
		k++;
	}
	j->n_new = k;
	for (unsigned i = first + n; i < r->n_nodes; i++) {
		struct edge_node_info info;
		int64_t since;

		if (r->nodes[i].outcome != EDGE_ROLLOUT_NODE_PENDING ||
		    edge_registry_get(r->svc->ota->registry, r->nodes[i].id, &info) < 0)
			continue;
		since = ro_running_since(&info);
		if (since == 0)
			continue; /* not online: not a peer of this look */
		if (since < j->from_ms)
			since = j->from_ms;
		if (since >= j->to_ms)
			continue;
		snprintf(j->ids[k], sizeof j->ids[0], "%s", r->nodes[i].id);
		j->since_ms[k++] = since;
		j->n_peers++;
		j->hours_peers += (double)(j->to_ms - since) / 3.6e6;
	}
	j->hours_new = (double)j->n_new * (double)(j->to_ms - j->from_ms) / 3.6e6;
	return 0;
}

static void look_start(struct rollout *r, int64_t now_wall)
{
	struct edged_rollout *s = r->svc;
	const struct edge_settings *cfg = ro_settings(s);
	struct look_job *j = calloc(1, sizeof *j);

	if (!j || (j->work.data = j, j->s = s, j->stage = r->row.stage,
		   look_plan(r, j, now_wall)) < 0) {
		if (j)
			job_free(j);
		edge_log(EDGE_LOG_WARNING, "rollout", "rollout %u: health look: out of memory",
			 r->row.id);
		ro_arm(s, ROLLOUT_RETRY_MS);
		return;
	}
	j->reader = s->reader;
	snprintf(j->db_path, sizeof j->db_path, "%s", s->db_path);
	j->rollout = r->row.id;
	j->look = r->looks_done + 1;
	j->looks = r->soak_looks;
	snprintf(j->model, sizeof j->model, "%s@%s", r->row.name, r->row.version);
	j->episodes = cfg->rollout.health_count == EDGE_CONFIG_HEALTH_EPISODES;
	j->max_rows = (uint64_t)cfg->anomaly.query_max_rows;
	j->time_ms = (unsigned)cfg->anomaly.query_timeout_ms;
	edge_health_config_default(&j->cfg);
	j->cfg.alpha = cfg->rollout.health_alpha_ppm / 1e6;
	j->cfg.looks = r->soak_looks;
	j->cfg.min_rate_ratio = cfg->rollout.health_min_rate_percent / 100.0;
	j->cfg.min_ks_d = cfg->rollout.health_min_ks_percent / 100.0;
	j->cfg.min_scores = (uint64_t)cfg->rollout.health_min_scores;
	j->cfg.min_node_hours = cfg->rollout.health_min_exposure_s / 3600.0;
	if (uv_queue_work(s->loop, &j->work, look_work, look_after) < 0) {
		job_free(j);
		ro_arm(s, ROLLOUT_RETRY_MS);
		return;
	}
	s->jobs++;
	ota_job_begin(s->ota);
	s->looking = r->looking = true;
}

bool ro_health_step(struct rollout *r, uint64_t now_ms, uint64_t *next_ms)
{
	struct edged_rollout *s = r->svc;
	int64_t now_wall = (int64_t)ota_wall_ms(), due;

	(void)now_ms;
	if (!r->health || r->row.accepted)
		return false;
	if (r->soak_looks == 0)
		r->soak_looks = (unsigned)ro_settings(s)->rollout.health_looks;
	if (r->looking)
		return true;
	if (r->looks_done >= r->soak_looks)
		return false;
	due = r->row.soak_started_ms +
	      (int64_t)r->soak_s * 1000 * (int64_t)(r->looks_done + 1) / (int64_t)r->soak_looks;
	if (now_wall < due) {
		if ((uint64_t)(due - now_wall) < *next_ms)
			*next_ms = (uint64_t)(due - now_wall);
		return true;
	}
	if (s->looking) {
		/* another rollout's look holds the reader */
		if (ROLLOUT_POLL_MS < *next_ms)
			*next_ms = ROLLOUT_POLL_MS;
		return true;
	}
	look_start(r, now_wall);
	return true;
}

void ro_health_resume(struct rollout *r, int64_t now_wall)
{
	int64_t soak_ms = (int64_t)r->soak_s * 1000, elapsed = now_wall - r->row.soak_started_ms;
	unsigned looks = (unsigned)ro_settings(r->svc)->rollout.health_looks;

	r->soak_looks = looks;
	/* Looks whose time passed while edged was down are not made up
	 * (never more than `looks` in one soak); the last always runs. */
	if (soak_ms <= 0 || elapsed <= 0)
		r->looks_done = 0;
	else if (elapsed >= soak_ms)
		r->looks_done = looks - 1;
	else
		r->looks_done = (unsigned)(elapsed * (int64_t)looks / soak_ms);
	if (r->looks_done >= looks)
		r->looks_done = looks - 1;
}

static json_t *real(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *rate_json(const struct edge_health_rate *t)
{
	return json_pack("{s:s, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "verdict",
			 edge_health_verdict_name(t->verdict), "count_new", (json_int_t)t->k_new,
			 "node_hours_new", real(t->t_new), "count_base", (json_int_t)t->k_base,
			 "node_hours_base", real(t->t_base), "rate_new", real(t->rate_new),
			 "rate_base", real(t->rate_base), "ratio", real(t->ratio), "p_value",
			 real(t->p_value), "alpha", real(t->alpha));
}

json_t *ro_health_json(const struct ro_health *h)
{
	const struct edge_health_ks *ks = &h->rep.scores;

	if (!h->has)
		return json_null();
	return json_pack("{s:i, s:i, s:I, s:s, s:s, s:i, s:i, s:o, s:o, s:{s:s, s:I, s:I, s:o, "
			 "s:o, s:o, s:o}}",
			 "look", (int)h->look, "looks", (int)h->looks, "ts_ms", (json_int_t)h->ts_ms,
			 "verdict", edge_health_verdict_name(h->rep.verdict), "reason",
			 h->rep.reason, "nodes", (int)h->nodes_new, "peers", (int)h->nodes_peers,
			 "vs_own", rate_json(&h->rep.vs_own), "vs_peers",
			 rate_json(&h->rep.vs_peers), "scores", "verdict",
			 edge_health_verdict_name(ks->verdict), "n_new", (json_int_t)ks->n_new,
			 "n_base", (json_int_t)ks->n_base, "d", real(ks->d), "d_crit",
			 real(ks->d_crit), "p_value", real(ks->p_value), "alpha", real(ks->alpha));
}

void ro_health_close(struct edged_rollout *s)
{
	assert(!s->looking);
	edge_anomaly_reader_close(s->reader);
	s->reader = NULL;
}
