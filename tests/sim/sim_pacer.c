/* Paced launcher: see sim_pacer.h. */
#include "sim_pacer.h"

#include <errno.h>
#include <stdlib.h>

struct sim_pacer {
	uv_timer_t timer;
	unsigned *queue; /* ring buffer of indices */
	unsigned capacity, head, count;
	unsigned pending, max_pending;
	double interval_ms; /* mean gap between starts */
	double next_ms;     /* hrtime of the next allowed start */
	sim_pacer_start_fn start;
	void *ud;
};

static double now_ms(void)
{
	return (double)uv_hrtime() / 1e6;
}

/* Uniform in [0.5, 1.5) gaps: mean interval, jittered. */
static double jittered(const struct sim_pacer *p)
{
	return p->interval_ms * (0.5 + (double)rand() / ((double)RAND_MAX + 1.0));
}

static void run(struct sim_pacer *p);

static void on_timer(uv_timer_t *t)
{
	run(t->data);
}

static void arm(struct sim_pacer *p)
{
	if (p->count == 0 || (p->max_pending && p->pending >= p->max_pending)) {
		uv_timer_stop(&p->timer);
		return; /* sim_pacer_push / sim_pacer_done re-arm */
	}
	double wait = p->next_ms - now_ms();
	uint64_t ms = wait <= 0 ? 0 : (uint64_t)wait + 1;
	uv_timer_start(&p->timer, on_timer, ms, 0);
}

static void run(struct sim_pacer *p)
{
	double now = now_ms();
	/* After an idle spell, do not burst to catch up. */
	if (p->next_ms < now - p->interval_ms)
		p->next_ms = now - p->interval_ms;
	while (p->count && p->next_ms <= now &&
	       !(p->max_pending && p->pending >= p->max_pending)) {
		unsigned idx = p->queue[p->head];
		p->head = (p->head + 1) % p->capacity;
		p->count--;
		p->pending++;
		p->next_ms += jittered(p);
		p->start(idx, p->ud);
	}
	arm(p);
}

struct sim_pacer *sim_pacer_new(uv_loop_t *loop, unsigned capacity, double rate,
				unsigned max_pending, sim_pacer_start_fn start,
				void *ud)
{
	if (capacity == 0 || !(rate > 0))
		return NULL;
	struct sim_pacer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->queue = calloc(capacity, sizeof(*p->queue));
	if (!p->queue) {
		free(p);
		return NULL;
	}
	p->capacity = capacity;
	p->max_pending = max_pending;
	p->interval_ms = 1000.0 / rate;
	p->next_ms = now_ms();
	p->start = start;
	p->ud = ud;
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	return p;
}

static void pacer_closed(uv_handle_t *h)
{
	struct sim_pacer *p = h->data;
	free(p->queue);
	free(p);
}

void sim_pacer_free(struct sim_pacer *p)
{
	if (!p)
		return;
	uv_close((uv_handle_t *)&p->timer, pacer_closed);
}

int sim_pacer_push(struct sim_pacer *p, unsigned idx)
{
	if (p->count == p->capacity)
		return -ENOSPC;
	p->queue[(p->head + p->count) % p->capacity] = idx;
	p->count++;
	if (p->count == 1)
		arm(p);
	return 0;
}

void sim_pacer_done(struct sim_pacer *p)
{
	if (p->pending == 0)
		return;
	p->pending--;
	if (p->count && !uv_is_active((uv_handle_t *)&p->timer))
		arm(p);
}
