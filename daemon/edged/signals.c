#include "signals.h"

#include <signal.h>
#include <stdlib.h>

#include "edge_log.h"
#include "notify.h"

struct edged_signals {
	struct edged *d;
	uv_signal_t hup;
	uv_signal_t term;
	uv_signal_t intr;
	int open_handles;
};

static void signals_on_hup(uv_signal_t *h, int signum)
{
	struct edged_signals *s = h->data;
	char restart[512] = "", err[256] = "";
	int rc;

	edge_log(EDGE_LOG_NOTICE, "edged", "SIGHUP: reloading configuration");
	edged_notify_reloading(s->d->notify);
	/* edged_reload logs the outcome itself, for SIGHUP and edgectl alike. */
	rc = edged_reload(s->d, restart, sizeof restart, err, sizeof err);
	(void)rc;
	edged_notify_ready(s->d->notify);
}

static void signals_on_stop(uv_signal_t *h, int signum)
{
	struct edged_signals *s = h->data;

	edge_log(EDGE_LOG_NOTICE, "edged", "%s: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	edged_shutdown(s->d);
}

int edged_signals_new(struct edged *d, struct edged_signals **out)
{
	struct edged_signals *s = calloc(1, sizeof *s);
	int r;

	if (!s)
		return -ENOMEM;
	s->d = d;
	uv_signal_init(d->loop, &s->hup);
	uv_signal_init(d->loop, &s->term);
	uv_signal_init(d->loop, &s->intr);
	s->hup.data = s->term.data = s->intr.data = s;
	s->open_handles = 3;
	r = uv_signal_start(&s->hup, signals_on_hup, SIGHUP);
	if (r == 0)
		r = uv_signal_start(&s->term, signals_on_stop, SIGTERM);
	if (r == 0)
		r = uv_signal_start(&s->intr, signals_on_stop, SIGINT);
	if (r < 0) {
		edged_signals_free(s);
		return r;
	}
	*out = s;
	return 0;
}

static void signals_closed(uv_handle_t *h)
{
	struct edged_signals *s = h->data;

	if (--s->open_handles == 0)
		free(s);
}

void edged_signals_free(struct edged_signals *s)
{
	if (!s)
		return;
	uv_close((uv_handle_t *)&s->hup, signals_closed);
	uv_close((uv_handle_t *)&s->term, signals_closed);
	uv_close((uv_handle_t *)&s->intr, signals_closed);
}
