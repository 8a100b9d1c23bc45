/* Atomic file replacement: temp file in the target's directory, fsync,
 * rename, fsync of the directory (see edge_pki_file.h). */
#include "edge_pki_file.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_pki_internal.h"

static int fail(char *err, size_t errlen, int code, const char *step, const char *path)
{
	if (err && errlen)
		snprintf(err, errlen, "%s %s: %s", step, path, strerror(-code));
	return code;
}

/* Open the directory holding `path` (the part before the last '/'). */
static int open_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int edge_pki_write_file(const char *path, const void *data, size_t len, mode_t mode,
			char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int rc;

	assert(path && (data || len == 0));
	if (!*path || path[strlen(path) - 1] == '/')
		return fail(err, errlen, -EINVAL, "write", path);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return fail(err, errlen, -ENAMETOOLONG, "write", path);

	/* mkstemp creates 0600; fchmod before any byte goes in, so a secret
	 * is never readable more widely than `mode`. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "create a temporary file for", path);
	if (fchmod(fd, mode & 07777) != 0) {
		rc = fail(err, errlen, -errno, "chmod", tmp);
		goto out_unlink;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = fail(err, errlen, -errno, "write", tmp);
			goto out_unlink;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = fail(err, errlen, -errno, "fsync", tmp);
		goto out_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = fail(err, errlen, -errno, "close", tmp);
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = fail(err, errlen, -errno, "rename to", path);
		goto out_unlink;
	}

	/* The rename is durable only once the directory is. */
	int dfd = open_parent(path);
	if (dfd < 0)
		return fail(err, errlen, -errno, "open the directory of", path);
	rc = fsync(dfd) == 0 ? 0 : -errno;
	close(dfd);
	return rc == 0 ? 0 : fail(err, errlen, rc, "fsync the directory of", path);

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}
