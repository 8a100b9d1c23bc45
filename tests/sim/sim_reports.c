#include "sim_reports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static double rand01(uint32_t *x)
{
	return (double)next_rand(x) / 4294967296.0;
}

/* The node's epoch store: read, increment, persist, use. */
static uint32_t next_epoch(void *ud)
{
	struct sim_reports *r = ud;

	return ++r->nv_epoch;
}

static int start_queue(struct sim_reports *r)
{
	struct edge_report_queue_config cfg = {
		.next_epoch = next_epoch,
		.ud = r,
		.seed = next_rand(&r->rng),
		.rto_base_ms = r->rto_base_ms,
		.rto_max_ms = r->rto_max_ms,
	};

	return edge_report_queue_init(&r->q, r->ev, r->st, r->n_slots, &cfg);
}

/* mean · U[0.5, 1.5): jittered, same average. */
static uint64_t gap_ms(struct sim_reports *r)
{
	double ms = r->mean_gap_ms * (0.5 + rand01(&r->rng));

	return ms < 1 ? 1 : (uint64_t)ms;
}

int sim_reports_init(struct sim_reports *r, size_t n_slots, double rate_per_s,
		     uint32_t seed, uint64_t now_ms)
{
	memset(r, 0, sizeof(*r));
	if (n_slots == 0 || !(rate_per_s > 0))
		return -EINVAL;
	r->ev = calloc(n_slots, sizeof(*r->ev));
	r->st = calloc(n_slots, sizeof(*r->st));
	if (!r->ev || !r->st) {
		sim_reports_free(r);
		return -ENOMEM;
	}
	r->n_slots = n_slots;
	r->rng = seed ? seed : 1;
	/* Epochs of different nodes start apart, as after years of reboots. */
	r->nv_epoch = next_rand(&r->rng) % 100000;
	r->mean_gap_ms = r->base_gap_ms = 1000.0 / rate_per_s;
	strcpy(r->model_name, "vib-ae");
	strcpy(r->model_version, "2.1.0");
	r->next_event_ms = now_ms + gap_ms(r);
	return start_queue(r);
}

int sim_reports_set_model(struct sim_reports *r, const char *name, const char *version,
			  double factor, uint64_t now_ms)
{
	if (!(factor > 0) || strlen(name) >= sizeof(r->model_name) ||
	    strlen(version) >= sizeof(r->model_version))
		return -EINVAL;
	strcpy(r->model_name, name);
	strcpy(r->model_version, version);
	r->mean_gap_ms = r->base_gap_ms / factor;
	/* The new rate from now on (a calmed node stays calm). */
	if (r->next_event_ms != UINT64_MAX)
		r->next_event_ms = now_ms + gap_ms(r);
	return 0;
}

int sim_reports_set_rto(struct sim_reports *r, uint32_t base_ms, uint32_t max_ms)
{
	r->rto_base_ms = base_ms;
	r->rto_max_ms = max_ms;
	return start_queue(r);
}

void sim_reports_calm(struct sim_reports *r)
{
	r->next_event_ms = UINT64_MAX;
}

void sim_reports_free(struct sim_reports *r)
{
	free(r->ev);
	free(r->st);
	r->ev = NULL;
	r->st = NULL;
}

void sim_reports_reboot(struct sim_reports *r, uint64_t now_ms)
{
	const struct edge_report_queue_stats *q = edge_report_queue_stats(&r->q);

	r->lost_at_reboot += edge_report_queue_count(&r->q);
	r->detected_since_boot = 0;
	r->last_seq = 0;
	r->earlier.pushed += q->pushed;
	r->earlier.sent += q->sent;
	r->earlier.resent += q->resent;
	r->earlier.batches += q->batches;
	r->earlier.acked += q->acked;
	r->earlier.dropped += q->dropped;
	r->earlier.foreign_acks += q->foreign_acks;
	r->earlier.lost += q->lost;
	if (start_queue(r) != 0)
		abort(); /* the arguments were accepted at init */
	r->next_event_ms = now_ms + gap_ms(r);
}

static const char *const labels[] = { "vibration", "temperature", "current" };

static void fill_event(struct sim_reports *r, struct edge_report_event *e,
		       uint64_t age_ms)
{
	unsigned i;

	memset(e, 0, sizeof(*e));
	strcpy(e->model_name, r->model_name);
	strcpy(e->model_version, r->model_version);
	e->threshold = 0.65;
	e->score = e->threshold + 0.5 * rand01(&r->rng);
	strcpy(e->label, labels[next_rand(&r->rng) % 3]);
	e->has_severity = true;
	e->severity = (uint8_t)((e->score - e->threshold) * 14.0);
	if (e->severity > EDGE_REPORT_SEVERITY_MAX)
		e->severity = EDGE_REPORT_SEVERITY_MAX;
	e->n_summary = 3; /* per-axis RMS */
	for (i = 0; i < e->n_summary; i++)
		e->summary[i] = (float)(0.1 + 2.0 * rand01(&r->rng));
	e->age_ms = age_ms > EDGE_REPORT_AGE_MAX_MS ? EDGE_REPORT_AGE_MAX_MS
						   : (uint32_t)age_ms;
}

unsigned sim_reports_detect(struct sim_reports *r, uint64_t now_ms)
{
	struct edge_report_event e;
	unsigned n = 0;

	while (r->next_event_ms <= now_ms) {
		fill_event(r, &e, now_ms - r->next_event_ms);
		r->last_seq = edge_report_queue_push(&r->q, &e, now_ms);
		if (r->last_seq == 0)
			abort(); /* fill_event makes valid events */
		n++;
		r->detected_since_boot++;
		r->next_event_ms += gap_ms(r);
	}
	return n;
}

uint64_t sim_reports_next_wakeup(const struct sim_reports *r, int connected)
{
	uint64_t t = r->next_event_ms, d;

	if (connected) {
		d = edge_report_queue_next_deadline(&r->q);
		if (d < t)
			t = d;
	}
	return t;
}
