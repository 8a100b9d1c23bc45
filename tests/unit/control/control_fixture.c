/* Helpers shared by the control server suites (see control_fixture.h). */
#include "control_fixture.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "edge_ctl_frame.h"

int ctlfx_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTLFX_CLIENT_TIMEOUT_S };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

void ctlfx_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

void ctlfx_send_frames(int fd, const char *const *bodies, size_t n)
{
	char buf[4096];
	size_t len = 0, total = 0;

	for (size_t i = 0; i < n; i++)
		total += EDGE_CTL_HEADER_LEN + strlen(bodies[i]);
	if (total > sizeof buf) {
		/* Too large for one write: header and body of each frame. */
		for (size_t i = 0; i < n; i++) {
			uint8_t hdr[EDGE_CTL_HEADER_LEN];
			size_t blen = strlen(bodies[i]);

			if (edge_ctl_frame_header(hdr, blen, EDGE_CTL_REQUEST_MAX) < 0)
				return;
			ctlfx_write(fd, hdr, sizeof hdr);
			ctlfx_write(fd, bodies[i], blen);
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t blen = strlen(bodies[i]);

		if (edge_ctl_frame_header((uint8_t *)buf + len, blen, EDGE_CTL_REQUEST_MAX) < 0)
			return;
		memcpy(buf + len + EDGE_CTL_HEADER_LEN, bodies[i], blen);
		len += EDGE_CTL_HEADER_LEN + blen;
	}
	ctlfx_write(fd, buf, len);
}

void ctlfx_send_frame(int fd, const char *body)
{
	ctlfx_send_frames(fd, &body, 1);
}

bool ctlfx_recv_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool ctlfx_read_raw(int fd, char *buf, size_t cap, size_t *len)
{
	uint8_t hdr[EDGE_CTL_HEADER_LEN];
	size_t n;

	if (!ctlfx_recv_exact(fd, hdr, sizeof hdr))
		return false;
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (n >= cap || !ctlfx_recv_exact(fd, buf, n))
		return false;
	buf[n] = '\0';
	*len = n;
	return true;
}

json_t *ctlfx_read(int fd)
{
	static char body[(1 << 20) + 1];
	size_t len;

	return ctlfx_read_raw(fd, body, sizeof body, &len) ? json_loadb(body, len, 0, NULL)
							   : NULL;
}

json_t *ctlfx_request(const char *sock, const char *body)
{
	int fd = ctlfx_connect(sock);
	json_t *r;

	if (fd < 0)
		return NULL;
	ctlfx_send_frame(fd, body);
	r = ctlfx_read(fd);
	close(fd);
	return r;
}

bool ctlfx_sees_eof(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

bool ctlfx_quiet(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

int ctlfx_run_child(int (*child)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

json_t *ctlfx_ok_result(json_t *r, int i)
{
	ck_assert_msg(r != NULL, "no reply %d", i);
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "reply %d not ok: %s", i,
		      json_string_value(json_object_get(json_object_get(r, "error"), "message")));
	return json_object_get(r, "result");
}

bool ctlfx_wait_sem(sem_t *sem, int seconds)
{
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	while ((r = sem_timedwait(sem, &ts)) < 0 && errno == EINTR)
		;
	return r == 0;
}

/* ---- the scenario runner ---- */

struct script {
	struct ctlfx_runner *r;
	void (*fn)(void);
};

static void *client_thread(void *arg)
{
	struct script *s = arg;

	s->fn();
	uv_async_send(&s->r->done);
	return NULL;
}

static void on_done(uv_async_t *h)
{
	uv_stop(h->loop);
}

static void on_deadline(uv_timer_t *t)
{
	struct ctlfx_runner *r = t->data;

	r->timed_out = true;
	uv_stop(t->loop);
}

void ctlfx_runner_init(struct ctlfx_runner *r, uv_loop_t *loop)
{
	r->timed_out = false;
	ck_assert_int_eq(uv_async_init(loop, &r->done, on_done), 0);
	ck_assert_int_eq(uv_timer_init(loop, &r->deadline), 0);
	r->deadline.data = r;
}

void ctlfx_runner_close(struct ctlfx_runner *r)
{
	uv_close((uv_handle_t *)&r->done, NULL);
	uv_close((uv_handle_t *)&r->deadline, NULL);
}

void ctlfx_run_client(struct ctlfx_runner *r, uv_loop_t *loop, void (*fn)(void))
{
	struct script s = { r, fn };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, client_thread, &s), 0);
	uv_timer_start(&r->deadline, on_deadline, CTLFX_SCENARIO_DEADLINE_MS, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_timer_stop(&r->deadline);
	if (r->timed_out)
		ck_abort_msg("client scenario did not finish within %d ms",
			     CTLFX_SCENARIO_DEADLINE_MS);
	pthread_join(th, NULL);
}
