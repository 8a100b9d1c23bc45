/* The edged log hook: one `<N>group: message` line per entry on stderr,
 * where <N> is the syslog priority journald reads from the prefix. */
#ifndef EDGED_LOG_H
#define EDGED_LOG_H

/* Install the hook; max_level is an EDGE_LOG_* level. */
void edged_log_init(int max_level);

/* Remove the hook (messages after this are dropped). */
void edged_log_shutdown(void);

#endif
