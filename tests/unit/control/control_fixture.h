/* Helpers shared by the control server suites: a blocking client on the
 * control socket, run in a scenario's client thread (the calls on an fd,
 * but for ctlfx_read, allocate nothing: fine in a forked child too), and
 * the scenario runner, which runs the server's uv loop on the test's thread
 * until the client thread is done or a deadline passes. */
#ifndef EDGE_TEST_CONTROL_FIXTURE_H
#define EDGE_TEST_CONTROL_FIXTURE_H

#include <jansson.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* SO_RCVTIMEO/SO_SNDTIMEO of every client socket. */
#define CTLFX_CLIENT_TIMEOUT_S 10
/* A scenario that takes longer fails the test. */
#define CTLFX_SCENARIO_DEADLINE_MS 20000

/* A connected socket (blocking, bounded by CTLFX_CLIENT_TIMEOUT_S), or a
 * negative errno. */
int ctlfx_connect(const char *sock);

/* All of buf, or as much as the peer takes before it fails. */
void ctlfx_write(int fd, const void *buf, size_t len);

/* Frames for every body, in one write when they fit 4 KiB (the server reads
 * them together), else frame by frame. */
void ctlfx_send_frames(int fd, const char *const *bodies, size_t n);
void ctlfx_send_frame(int fd, const char *body);

/* Exactly len bytes, or false on end of stream or error. */
bool ctlfx_recv_exact(int fd, void *buf, size_t len);

/* One response frame (body into buf, NUL-terminated), or false if the
 * server closed first or the body does not fit cap. */
bool ctlfx_read_raw(int fd, char *buf, size_t cap, size_t *len);

/* One response frame as JSON (up to 1 MiB), or NULL if the server closed
 * first. Reads exactly one frame, so pipelined answers stay in the socket.
 * Not reentrant: one client thread at a time. */
json_t *ctlfx_read(int fd);

/* A request on a fresh connection: its answer, or NULL. */
json_t *ctlfx_request(const char *sock, const char *body);

/* The server closed: end of stream, or a reset when it closed with our
 * request still unread (AF_UNIX reports that as ECONNRESET). */
bool ctlfx_sees_eof(int fd);

/* Nothing to read within ms (no answer, no close). */
bool ctlfx_quiet(int fd, int ms);

/* child() in a forked process (system calls only there): its exit status,
 * or -1 when it could not run or did not exit. */
int ctlfx_run_child(int (*child)(void));

/* The result of reply r (number i, for the message), which must be there
 * and be ok. */
json_t *ctlfx_ok_result(json_t *r, int i);

/* sem posted within seconds. */
bool ctlfx_wait_sem(sem_t *sem, int seconds);

/* The scenario runner: its handles live on the server's loop. */
struct ctlfx_runner {
	uv_async_t done;        /* the client thread finished */
	uv_timer_t deadline;
	bool timed_out;
};

/* Handles on loop (asserts on failure). */
void ctlfx_runner_init(struct ctlfx_runner *r, uv_loop_t *loop);
/* Closes the handles: the loop must run once more before uv_loop_close. */
void ctlfx_runner_close(struct ctlfx_runner *r);
/* fn in a client thread while the loop runs; fails the test when the
 * scenario outlasts CTLFX_SCENARIO_DEADLINE_MS. */
void ctlfx_run_client(struct ctlfx_runner *r, uv_loop_t *loop, void (*fn)(void));

#endif
