#include "edge_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static edge_log_hook log_hook;
static void *log_userdata;
static atomic_int log_level = EDGE_LOG_INFO;

static const char *const level_names[] = {
	[EDGE_LOG_ERR] = "err",
	[EDGE_LOG_WARNING] = "warning",
	[EDGE_LOG_NOTICE] = "notice",
	[EDGE_LOG_INFO] = "info",
	[EDGE_LOG_DEBUG] = "debug",
};

void edge_log_set_hook(edge_log_hook hook, void *userdata)
{
	log_hook = hook;
	log_userdata = userdata;
}

void edge_log_set_level(int max_level) { atomic_store(&log_level, max_level); }
int edge_log_get_level(void) { return atomic_load(&log_level); }

void edge_vlog(int level, const char *group, const char *fmt, va_list ap)
{
	char msg[1024];

	if (!log_hook || level > atomic_load(&log_level))
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_hook(level, group, msg, log_userdata);
}

void edge_log(int level, const char *group, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	edge_vlog(level, group, fmt, ap);
	va_end(ap);
}

int edge_log_level_from_name(const char *name)
{
	for (int i = EDGE_LOG_ERR; i <= EDGE_LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *edge_log_level_name(int level)
{
	if (level < EDGE_LOG_ERR || level > EDGE_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}
