/* Signals: SIGHUP reloads the configuration, SIGTERM and SIGINT stop edged
 * gracefully. Delivered through the loop (uv_signal_t), never from a signal
 * handler context. */
#ifndef EDGED_SIGNALS_H
#define EDGED_SIGNALS_H

#include "edge_error.h"
#include "edged.h"

/* d is borrowed and must outlive the signal handles. */
EDGE_WUR int edged_signals_new(struct edged *d, struct edged_signals **out);
/* Closes the handles; memory goes after their close callbacks. NULL-safe. */
void edged_signals_free(struct edged_signals *s);

#endif
