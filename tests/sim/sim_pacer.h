/* Paced launcher for connect storms.
 *
 * Debian 12's mosquitto listens with a backlog of 100: a burst of SYNs beyond
 * it is dropped and each dropped client waits a full second for the SYN retry.
 * The pacer starts queued items at a mean rate with uniform jitter and keeps
 * at most max_pending of them unfinished (started but not yet reported done),
 * all driven by one libuv timer. */
#ifndef SIM_PACER_H
#define SIM_PACER_H

#include <stdbool.h>

#include <uv.h>

struct sim_pacer;

/* start(idx, ud) is called on the loop for each queued index; the caller
 * reports its outcome with sim_pacer_done(). */
typedef void (*sim_pacer_start_fn)(unsigned idx, void *ud);

/* rate: starts per second (> 0); max_pending: 0 = unbounded. NULL on ENOMEM. */
struct sim_pacer *sim_pacer_new(uv_loop_t *loop, unsigned capacity, double rate,
				unsigned max_pending, sim_pacer_start_fn start,
				void *ud);
/* Closes the timer; the memory is released by the loop's close callback. NULL-safe. */
void sim_pacer_free(struct sim_pacer *p);

/* Queue idx for a start (FIFO). 0, or -ENOSPC when capacity items are queued. */
int sim_pacer_push(struct sim_pacer *p, unsigned idx);
/* One started item finished (connected, refused or failed). */
void sim_pacer_done(struct sim_pacer *p);

#endif
