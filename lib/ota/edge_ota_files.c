/* Content-addressed package files: <dir>/<digest>.pkg, digest = SHA-256
 * of the file (edge_ota_store.h). Only names of exactly 64 lowercase hex
 * digits are ever built, so no reference can reach outside dir. Writes go
 * through a temporary file in dir, fsync, rename and an fsync of dir: a
 * crash leaves either no file or the whole one (at worst a temporary
 * ".<digest>.pkg.XXXXXX" beside it). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_ota_keys.h"
#include "edge_ota_store.h"
#include "edge_ota_store_internal.h"

#define PKG_SUFFIX ".pkg"

static int fail(int rc, char *err, size_t errlen, const char *what, const char *path)
{
	if (err && errlen)
		snprintf(err, errlen, "%s %s: %s", what, path,
			 rc == EDGE_ECORRUPT ? "content does not match its digest" : strerror(-rc));
	return rc;
}

/* dir/<digest>.pkg into out; -EINVAL for a digest of any other form,
 * -ENAMETOOLONG. */
static int pkg_path(const char *dir, const char *digest, char *out, size_t cap)
{
	int n;

	if (!dir || !*dir || !digest || !edge__ota_digest_valid(digest, strlen(digest)))
		return -EINVAL;
	n = snprintf(out, cap, "%s/%s" PKG_SUFFIX, dir, digest);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A rename or unlink is durable only once the directory is synced. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int edge_ota_store_write_file(const char *dir, const char *digest, const void *pkg, size_t len,
			      char *err, size_t errlen)
{
	char path[4096], tmp[4096 + 16];
	uint8_t sum[32];
	char hex[EDGE_OTA_DIGEST_HEX + 1];
	struct stat st;
	int n, fd, rc = pkg_path(dir, digest, path, sizeof(path));

	if (rc < 0)
		return fail(rc, err, errlen, "package file for", dir ? dir : "(null)");
	if (!pkg || len == 0)
		return fail(-EINVAL, err, errlen, "empty package for", path);
	/* The name must be the content's: check it before it is trusted. */
	rc = edge_ota_sha256(pkg, len, sum);
	if (rc < 0)
		return fail(rc, err, errlen, "cannot hash", path);
	edge_ota_hex(sum, sizeof(sum), hex);
	if (strcmp(hex, digest) != 0)
		return fail(EDGE_ECORRUPT, err, errlen, "refusing to write", path);

	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return fail(-errno, err, errlen, "cannot create", dir);
	/* Same name, same size: the same content (a leftover of another size
	 * can only be damage, and is replaced). */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len)
		return 0;

	/* Fits: dir passed pkg_path's bound, the rest is of fixed length. */
	n = snprintf(tmp, sizeof(tmp), "%s/.%s" PKG_SUFFIX ".XXXXXX", dir, digest);
	assert(n > 0 && (size_t)n < sizeof(tmp));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, err, errlen, "cannot create a file in", dir);
	rc = write_all(fd, pkg, len);
	if (rc == 0 && fchmod(fd, 0640) != 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(tmp);
		return fail(rc, err, errlen, "cannot write", path);
	}
	rc = sync_dir(dir);
	if (rc < 0)
		return fail(rc, err, errlen, "cannot sync", dir);
	return 0;
}

int edge_ota_store_read_file(const char *dir, const char *digest, size_t max, uint8_t **out,
			     size_t *len, char *err, size_t errlen)
{
	char path[4096], hex[EDGE_OTA_DIGEST_HEX + 1];
	uint8_t sum[32], *buf;
	struct stat st;
	size_t got = 0;
	int fd, rc = pkg_path(dir, digest, path, sizeof(path));

	if (rc < 0)
		return fail(rc, err, errlen, "package file for", dir ? dir : "(null)");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, err, errlen, "cannot open", path);
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return fail(rc, err, errlen, "cannot stat", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(-EINVAL, err, errlen, "not a regular file:", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return fail(-EFBIG, err, errlen, "too large:", path);
	}
	/* One byte more than the size says, to see a file that grew. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return fail(-ENOMEM, err, errlen, "no memory to read", path);
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			rc = EDGE_ECORRUPT; /* changed under us: not the file it names */
			break;
		}
	}
	close(fd);
	if (rc == 0) {
		rc = edge_ota_sha256(buf, got, sum);
		if (rc == 0) {
			edge_ota_hex(sum, sizeof(sum), hex);
			if (strcmp(hex, digest) != 0)
				rc = EDGE_ECORRUPT;
		}
	}
	if (rc < 0) {
		free(buf);
		return fail(rc, err, errlen, "cannot read", path);
	}
	*out = buf;
	*len = got;
	return 0;
}

int edge_ota_store_unlink_file(const char *dir, const char *digest)
{
	char path[4096];
	int rc = pkg_path(dir, digest, path, sizeof(path));

	if (rc < 0)
		return rc;
	if (unlink(path) != 0)
		return errno == ENOENT ? 0 : -errno;
	return sync_dir(dir);
}
