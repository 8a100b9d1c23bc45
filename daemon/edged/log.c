#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "edge_log.h"

/* One write(2) per line so that lines from the store's writer thread and the
 * loop never interleave; newlines inside a message would split a journal
 * entry, so they become spaces. */
static void edged_log_hook(int level, const char *group, const char *msg, void *userdata)
{
	char line[1200];
	int n = snprintf(line, sizeof line, "<%d>%s: %s", level, group ? group : "edged", msg);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, line + off, (size_t)(n - off));
		if (w <= 0)
			return;
		off += w;
	}
}

void edged_log_init(int max_level)
{
	edge_log_set_level(max_level);
	edge_log_set_hook(edged_log_hook, NULL);
}

void edged_log_shutdown(void)
{
	edge_log_set_hook(NULL, NULL);
}
