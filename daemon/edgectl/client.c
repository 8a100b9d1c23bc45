/* edgectl's side of the control protocol: one request, then one response
 * (or a stream of frames ending with one), over a blocking AF_UNIX socket
 * with a receive timeout. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "edge_ctl_frame.h"
#include "edge_ctl_json.h"
#include "edgectl.h"

#define CLIENT_TIMEOUT_S 30

static int client_connect(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "edgectl: socket path too long: %s\n", path);
		return EDGECTL_EUSAGE;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "edgectl: socket: %s\n", strerror(errno));
		return EDGECTL_EDAEMON;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
			fprintf(stderr, "edgectl: edged is not running (%s: %s)\n", path, strerror(e));
			return EDGECTL_ENOTRUNNING;
		}
		if (e == EACCES || e == EPERM) {
			fprintf(stderr, "edgectl: permission denied on %s (are you in edged's group?)\n",
				path);
			return EDGECTL_EPERM;
		}
		fprintf(stderr, "edgectl: cannot connect to %s: %s\n", path, strerror(e));
		return EDGECTL_EDAEMON;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	*out = fd;
	return EDGECTL_OK;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A connection's incoming frames: bytes received past one frame stay in
 * chunk for the next (a stream's frames may share a segment). One body
 * buffer per connection, reused for every frame. */
struct reader {
	int fd;
	struct edge_ctl_decoder dec;
	uint8_t *buf;
	uint8_t chunk[8192];
	size_t off, len;
};

volatile sig_atomic_t edgectl_interrupted;

static int reader_init(struct reader *r, int fd)
{
	r->fd = fd;
	r->off = r->len = 0;
	r->buf = malloc(EDGE_CTL_RESPONSE_MAX);
	if (!r->buf)
		return -ENOMEM;
	edge_ctl_decoder_init(&r->dec, r->buf, EDGE_CTL_RESPONSE_MAX);
	return 0;
}

/* The next frame as JSON (a new reference), or a negative errno: -EINTR
 * once edgectl_interrupted is set, -ECONNRESET at EOF, -ETIMEDOUT. */
static int reader_next(struct reader *r, json_t **resp, json_error_t *jerr)
{
	for (;;) {
		while (r->off < r->len) {
			const uint8_t *b;
			size_t used = 0, blen = 0;
			int rc = edge_ctl_decoder_feed(&r->dec, r->chunk + r->off, r->len - r->off,
						       &used, &b, &blen);

			r->off += used;
			if (rc == 1) {
				/* b stays valid until the next feed: parsed now. */
				*resp = json_loadb((const char *)b, blen, JSON_REJECT_DUPLICATES,
						   jerr);
				return 0;
			}
			if (rc < 0)
				return rc;
			if (used == 0)
				break;
		}
		ssize_t n = recv(r->fd, r->chunk, sizeof r->chunk, 0);

		if (n < 0 && errno == EINTR) {
			if (edgectl_interrupted)
				return -EINTR;
			continue;
		}
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		r->off = 0;
		r->len = (size_t)n;
	}
}

static char last_error_code[32];
static json_t *last_error; /* the error object of the last failed call */

const char *edgectl_last_error_code(void)
{
	return last_error_code;
}

json_t *edgectl_last_error(void)
{
	return last_error;
}

/* Connects and sends the request; *fd is the connection on EDGECTL_OK. */
static int send_request(const char *cmd, json_t *args, int *fd)
{
	json_t *req;
	char *frame = NULL;
	size_t frame_len = 0;
	int rc;

	last_error_code[0] = '\0';
	json_decref(last_error);
	last_error = NULL;
	req = json_pack("{s:s, s:O?}", "cmd", cmd, "args", args);
	rc = req ? edge_ctl_json_frame(req, EDGE_CTL_REQUEST_MAX, &frame, &frame_len) : -ENOMEM;
	json_decref(req);
	if (rc == -EMSGSIZE) {
		fprintf(stderr, "edgectl: request too large\n");
		return EDGECTL_EUSAGE;
	}
	if (rc < 0) {
		fprintf(stderr, "edgectl: out of memory\n");
		return EDGECTL_EDAEMON;
	}
	rc = client_connect(edgectl_globals.socket_path, fd);
	if (rc != EDGECTL_OK) {
		free(frame);
		return rc;
	}
	/* A refusing daemon answers and hangs up even if the write failed. */
	(void)write_all(*fd, frame, frame_len);
	free(frame);
	return EDGECTL_OK;
}

/* An error response: printed, remembered, turned into an exit code. */
static int response_error(json_t *resp)
{
	json_t *err = json_object_get(resp, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *message = json_string_value(json_object_get(err, "message"));

	snprintf(last_error_code, sizeof last_error_code, "%s", code ? code : "internal");
	last_error = json_is_object(err) ? json_incref(err) : NULL;
	fprintf(stderr, "edgectl: %s (%s)\n", message ? message : "request failed",
		code ? code : "internal");
	return code && edge_ctl_error_from_name(code) == EDGE_CTL_E_NOT_AUTHORISED ? EDGECTL_EPERM
										  : EDGECTL_EDAEMON;
}

int edgectl_call_stream(const char *cmd, json_t *args, bool no_timeout,
			int (*on_more)(json_t *result, void *ud), void *ud, json_t **result)
{
	struct reader r;
	int fd, rc;

	*result = NULL;
	rc = send_request(cmd, args, &fd);
	if (rc != EDGECTL_OK)
		return rc;
	if (no_timeout) {
		struct timeval none = { 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	}
	if (reader_init(&r, fd) < 0) {
		close(fd);
		fprintf(stderr, "edgectl: out of memory\n");
		return EDGECTL_EDAEMON;
	}
	for (;;) {
		json_t *resp = NULL;
		json_error_t jerr;

		rc = reader_next(&r, &resp, &jerr);
		if (rc == -EINTR) {
			rc = EDGECTL_EINTR;
			break;
		}
		if (rc < 0) {
			if (rc == -ECONNRESET)
				snprintf(last_error_code, sizeof last_error_code, "closed");
			fprintf(stderr, "edgectl: no answer from edged: %s\n",
				rc == -ECONNRESET ? "connection closed" : strerror(-rc));
			rc = EDGECTL_EDAEMON;
			break;
		}
		if (!json_is_object(resp)) {
			fprintf(stderr, "edgectl: malformed answer from edged: %s\n", jerr.text);
			json_decref(resp);
			rc = EDGECTL_EDAEMON;
			break;
		}
		if (!json_is_true(json_object_get(resp, "ok"))) {
			rc = response_error(resp);
			json_decref(resp);
			break;
		}
		json_t *res = json_object_get(resp, "result");

		if (!res) {
			fprintf(stderr, "edgectl: answer without a result\n");
			json_decref(resp);
			rc = EDGECTL_EDAEMON;
			break;
		}
		if (!json_is_true(json_object_get(resp, "more"))) {
			*result = json_incref(res);
			json_decref(resp);
			rc = EDGECTL_OK;
			break;
		}
		/* An intermediate frame: handed on, then freed (memory per frame). */
		rc = on_more ? on_more(res, ud) : EDGECTL_OK;
		json_decref(resp);
		if (rc != EDGECTL_OK)
			break;
	}
	free(r.buf);
	close(fd);
	return rc;
}

int edgectl_call(const char *cmd, json_t *args, json_t **result)
{
	return edgectl_call_stream(cmd, args, false, NULL, NULL, result);
}

int edgectl_print_json(json_t *result)
{
	if (json_dumpf(result, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) < 0 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "edgectl: cannot write output\n");
		return EDGECTL_EDAEMON;
	}
	return EDGECTL_OK;
}

int edgectl_query(const char *cmd, json_t *args, int (*print)(json_t *result))
{
	json_t *result;
	int rc = edgectl_call(cmd, args, &result);

	if (rc != EDGECTL_OK)
		return rc;
	rc = edgectl_globals.json ? edgectl_print_json(result) : print(result);
	json_decref(result);
	return rc;
}

int edgectl_parse_exit(int parse_rc)
{
	return parse_rc == -1 ? EDGECTL_OK : EDGECTL_EUSAGE;
}

int edgectl_run_plain(int argc, char **argv, const char *usage, const char *cmd,
		      int (*print)(json_t *result))
{
	int npos, rc = edgectl_parse_args(argc, argv, usage, NULL, 0, NULL, 0, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
	return edgectl_query(cmd, NULL, print);
}

int edgectl_parse_args(int argc, char **argv, const char *usage, const struct edgectl_opt *opts,
		       int nopts, const char **positional, int max_positional, int *npositional)
{
	*npositional = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool matched = false;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return -1;
		}
		if (strcmp(a, "--json") == 0) {
			edgectl_globals.json = true;
			continue;
		}
		for (int o = 0; o < nopts; o++) {
			size_t n = strlen(opts[o].name);

			if (strncmp(a, opts[o].name, n) != 0)
				continue;
			if (a[n] == '=') {
				*opts[o].value = a + n + 1;
			} else if (a[n] == '\0' && i + 1 < argc) {
				*opts[o].value = argv[++i];
			} else if (a[n] == '\0') {
				fprintf(stderr, "edgectl %s: %s needs a value\n", argv[0], a);
				fputs(usage, stderr);
				return -2;
			} else {
				continue;
			}
			matched = true;
			break;
		}
		if (matched)
			continue;
		if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "edgectl %s: unknown option %s\n", argv[0], a);
			fputs(usage, stderr);
			return -2;
		}
		if (*npositional == max_positional) {
			fprintf(stderr, "edgectl %s: unexpected argument '%s'\n", argv[0], a);
			fputs(usage, stderr);
			return -2;
		}
		positional[(*npositional)++] = a;
	}
	return argc;
}
