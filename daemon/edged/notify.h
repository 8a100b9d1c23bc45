/* Service manager notification (sd_notify protocol): READY/STATUS/STOPPING
 * and watchdog pings. All calls are no-ops when edged does not run under a
 * service manager (no NOTIFY_SOCKET). */
#ifndef EDGED_NOTIFY_H
#define EDGED_NOTIFY_H

#include <stdint.h>
#include <uv.h>

#include "edge_error.h"

struct edged_notify;

/* Returns the monotonically growing progress counter of the component that
 * must be alive for the watchdog to be fed (the store's writer thread). */
typedef uint64_t (*edged_notify_progress_fn)(void *userdata);

/* Creates the notifier on `loop` (borrowed). *out is owned by the caller;
 * free with edged_notify_free. */
EDGE_WUR int edged_notify_new(uv_loop_t *loop, struct edged_notify **out);

/* Closes the watchdog timer; the memory goes once the loop has run the close
 * callback. NULL-safe. */
void edged_notify_free(struct edged_notify *n);

void edged_notify_ready(struct edged_notify *n);
void edged_notify_stopping(struct edged_notify *n);
void edged_notify_reloading(struct edged_notify *n);
/* STATUS= line; repeated identical lines are not resent. */
void edged_notify_status(struct edged_notify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* If the service manager asked for a watchdog (WATCHDOG_USEC), ping it from
 * a loop timer at half the interval, but only while progress() keeps moving
 * (changed within the last 3 s): a stuck writer thread, like a stuck loop,
 * lets the watchdog fire. Returns 0 also when no watchdog is configured. */
EDGE_WUR int edged_notify_start_watchdog(struct edged_notify *n, edged_notify_progress_fn progress,
					 void *userdata);

/* Watchdog interval in microseconds, 0 if none. */
uint64_t edged_notify_watchdog_usec(const struct edged_notify *n);

#endif
