#include "notify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "edge_build_config.h"
#include "edge_log.h"

#if EDGE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* The store's writer bumps its progress counter at least once a second even
 * when idle; three seconds without a change means it is stuck. */
#define NOTIFY_STALL_MS 3000

struct edged_notify {
	uv_timer_t watchdog;
	bool watchdog_started;
	uint64_t watchdog_usec;
	edged_notify_progress_fn progress;
	void *progress_userdata;
	uint64_t last_progress;
	uint64_t last_change_ms;  /* loop time when progress last moved */
	bool have_last_progress;
	bool stalled;
	char last_status[256];
};

#if EDGE_HAVE_SYSTEMD
static void notify_send(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0)
		edge_log(EDGE_LOG_WARNING, "notify", "sd_notify failed: %s", strerror(-r));
}

static uint64_t notify_watchdog_interval(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}
#else
/* The notify protocol without libsystemd: one datagram to the AF_UNIX socket
 * named by $NOTIFY_SOCKET ('@' = abstract namespace). */
static void notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		edge_log(EDGE_LOG_WARNING, "notify", "notify socket: %s", strerror(errno));
	close(fd);
}

static uint64_t notify_watchdog_interval(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (!usec)
		return 0;
	if (pid && strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	return v;
}
#endif

int edged_notify_new(uv_loop_t *loop, struct edged_notify **out)
{
	struct edged_notify *n = calloc(1, sizeof *n);
	int r;

	if (!n)
		return -ENOMEM;
	r = uv_timer_init(loop, &n->watchdog);
	if (r < 0) {
		free(n);
		return r;
	}
	n->watchdog.data = n;
	n->watchdog_usec = notify_watchdog_interval();
	*out = n;
	return 0;
}

static void notify_closed(uv_handle_t *h)
{
	free(h->data);
}

void edged_notify_free(struct edged_notify *n)
{
	if (!n)
		return;
	uv_close((uv_handle_t *)&n->watchdog, notify_closed);
}

void edged_notify_ready(struct edged_notify *n)
{
	notify_send("READY=1");
}

void edged_notify_stopping(struct edged_notify *n)
{
	notify_send("STOPPING=1");
}

void edged_notify_reloading(struct edged_notify *n)
{
	notify_send("RELOADING=1");
}

void edged_notify_status(struct edged_notify *n, const char *fmt, ...)
{
	char status[sizeof n->last_status];
	char msg[sizeof status + 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof status, fmt, ap);
	va_end(ap);
	if (n && strcmp(status, n->last_status) == 0)
		return;
	if (n)
		memcpy(n->last_status, status, sizeof status);
	snprintf(msg, sizeof msg, "STATUS=%s", status);
	notify_send(msg);
}

static void notify_watchdog_tick(uv_timer_t *t)
{
	struct edged_notify *n = t->data;
	uint64_t progress = n->progress(n->progress_userdata);
	uint64_t now = uv_now(t->loop);

	if (!n->have_last_progress || progress != n->last_progress) {
		n->last_progress = progress;
		n->last_change_ms = now;
		n->have_last_progress = true;
		n->stalled = false;
	}
	if (now - n->last_change_ms > NOTIFY_STALL_MS) {
		if (!n->stalled)
			edge_log(EDGE_LOG_ERR, "notify",
				 "store writer made no progress for %llu ms; watchdog no longer fed",
				 (unsigned long long)(now - n->last_change_ms));
		n->stalled = true;
		return;
	}
	notify_send("WATCHDOG=1");
}

int edged_notify_start_watchdog(struct edged_notify *n, edged_notify_progress_fn progress,
				void *userdata)
{
	uint64_t ms;

	if (!n->watchdog_usec || !progress)
		return 0;
	n->progress = progress;
	n->progress_userdata = userdata;
	ms = n->watchdog_usec / 2000;
	if (ms == 0)
		ms = 1;
	notify_send("WATCHDOG=1");
	return uv_timer_start(&n->watchdog, notify_watchdog_tick, ms, ms);
}

uint64_t edged_notify_watchdog_usec(const struct edged_notify *n)
{
	return n ? n->watchdog_usec : 0;
}
