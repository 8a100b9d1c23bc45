/* Logging hook for lib/ modules.
 *
 * lib/ never prints: it calls edge_log(), which forwards to the hook the
 * program installed (edged writes `<N>`-prefixed lines to stderr for
 * journald). Levels are syslog priorities. With no hook, messages are
 * dropped. Thread-safe as long as the hook is. */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

#include <stdarg.h>

enum edge_log_level {
	EDGE_LOG_ERR = 3,
	EDGE_LOG_WARNING = 4,
	EDGE_LOG_NOTICE = 5,
	EDGE_LOG_INFO = 6,
	EDGE_LOG_DEBUG = 7,
};

/* group: short subsystem name ("store", "registry", "mqtt", ...). */
typedef void (*edge_log_hook)(int level, const char *group, const char *msg,
			      void *userdata);

/* Install the hook (NULL removes it) and the most verbose level passed on. */
void edge_log_set_hook(edge_log_hook hook, void *userdata);
void edge_log_set_level(int max_level);
int edge_log_get_level(void);

void edge_log(int level, const char *group, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void edge_vlog(int level, const char *group, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Parse "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int edge_log_level_from_name(const char *name);
const char *edge_log_level_name(int level);

#endif
