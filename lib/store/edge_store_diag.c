/* Why a database could not be opened, in the operator's words.
 *
 * SQLite reports a directory it may not write, a missing directory and a
 * read-only file system alike as "unable to open database file" (and, with
 * its read-only fallback, often with errno ENOENT), so edged once said "No
 * such file or directory" for a state directory it could not write. Here we
 * look at the path ourselves, with the effective ids the daemon runs as. */
#include "edge_store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Can the daemon write `what` (an existing file or directory)? */
static int check_writable(const char *what, int mode)
{
	return faccessat(AT_FDCWD, what, mode, AT_EACCESS) == 0 ? 0 : -errno;
}

static bool fs_full(const char *dir)
{
	struct statvfs vfs;

	if (statvfs(dir, &vfs) != 0)
		return false;
	/* root may use the reserved blocks */
	return (geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) == 0;
}

int edge__store_diagnose_open(const char *path, sqlite3 *db, int sqlite_rc, char *msg,
			      size_t msg_len)
{
	char dir[PATH_MAX], wal[PATH_MAX + 8];
	unsigned uid = (unsigned)geteuid();
	struct stat st;
	bool exists;
	int rc;

	dir_of(path, dir, sizeof dir);
	if (stat(dir, &st) != 0) {
		rc = -errno;
		if (rc == -ENOENT)
			snprintf(msg, msg_len, "cannot create %s: directory %s does not exist", path, dir);
		else if (rc == -EACCES)
			snprintf(msg, msg_len, "permission denied: cannot reach directory %s (uid %u)",
				 dir, uid);
		else if (rc == -ENOTDIR)
			snprintf(msg, msg_len, "cannot create %s: a component of %s is not a directory",
				 path, dir);
		else
			snprintf(msg, msg_len, "cannot create %s: %s: %s", path, dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, msg_len, "cannot create %s: %s is not a directory", path, dir);
		return -ENOTDIR;
	}
	exists = stat(path, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		snprintf(msg, msg_len, "cannot open %s: it is a directory", path);
		return -EISDIR;
	}
	if (exists && (rc = check_writable(path, R_OK | W_OK)) < 0) {
		if (rc == -EROFS)
			snprintf(msg, msg_len, "read-only file system: cannot write %s", path);
		else if (rc == -EACCES)
			snprintf(msg, msg_len, "permission denied: cannot write %s (file not writable by uid %u)",
				 path, uid);
		else
			snprintf(msg, msg_len, "cannot write %s: %s", path, strerror(-rc));
		return rc;
	}
	/* The -wal and -shm files are created beside the database, so the
	 * directory must be writable even when the file exists. */
	snprintf(wal, sizeof wal, "%s-wal", path);
	if ((rc = check_writable(dir, W_OK | X_OK)) < 0) {
		const char *file = exists ? wal : path;

		if (rc == -EROFS)
			snprintf(msg, msg_len, "read-only file system: cannot create %s", file);
		else if (rc == -EACCES)
			snprintf(msg, msg_len, "permission denied: cannot create %s (directory %s not writable by uid %u)",
				 file, dir, uid);
		else
			snprintf(msg, msg_len, "cannot create %s: %s", file, strerror(-rc));
		return rc;
	}
	if (fs_full(dir) || (db && edge__store_db_error(db, sqlite_rc) == -ENOSPC)) {
		snprintf(msg, msg_len, "no space left on device: cannot write %s", path);
		return -ENOSPC;
	}
	return 0;
}
