/* The WAL's size and checkpoints, and the writer's write accounting.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses its
 * threshold and is never told to shrink the file, so edged used to leave a
 * WAL of a few MB that a full disk could not checkpoint. Here the commit hook
 * only counts frames (installing it switches the automatic checkpoint off,
 * see sqlite3_wal_hook), and the writer decides when to checkpoint. */
#include "edge_store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WAL_HEADER_BYTES 32
#define WAL_FRAME_HEADER_BYTES 24

/* Runs in every commit, on the committing thread, with the frame count of
 * the log after it. A count below the previous one, or any count after a
 * full backfill, means SQLite started the log over. */
static int wal_hook(void *ud, sqlite3 *db, const char *schema, int n_frame)
{
	struct edge__store_wal *w = ud;
	uint64_t n = n_frame > 0 ? (uint64_t)n_frame : 0;

	(void)db;
	if (strcmp(schema, "main") != 0)
		return SQLITE_OK;
	if (w->restart_pending || n < w->log_frames) {
		w->frames_appended += n;
		w->backfilled = 0;
	} else {
		w->frames_appended += n - w->log_frames;
	}
	w->restart_pending = false;
	w->log_frames = n;
	return SQLITE_OK;
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int edge__store_wal_init(struct edge__store_wal *w, sqlite3 *db, uint64_t max_bytes,
			 char *errbuf, size_t errbuf_len)
{
	char sql[64];
	int64_t page = 0, limit = 0;
	int n_log = -1, n_ckpt = -1;
	int rc;

	*w = (struct edge__store_wal){ .db = db, .max_bytes = max_bytes };
	rc = pragma_int(db, "PRAGMA page_size", &page);
	if (rc == SQLITE_OK) {
		/* PRAGMA takes no bound parameters; the value is our own integer. */
		snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %" PRIu64, max_bytes);
		rc = pragma_int(db, sql, &limit);
	}
	if (rc != SQLITE_OK) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "%s", sqlite3_errmsg(db));
		return edge__store_db_error(db, rc) ?: EDGE_ESTORE;
	}
	w->frame_bytes = (uint64_t)(page > 0 ? page : 4096) + WAL_FRAME_HEADER_BYTES;
	/* Start from an empty WAL (the migration's frames, or what a crash left),
	 * so that the hook counts from zero. On a full disk this may fail; the
	 * writer's first checkpoint catches up. */
	if (sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, &n_log, &n_ckpt) !=
	    SQLITE_OK && n_log > 0)
		w->log_frames = (uint64_t)n_log;
	sqlite3_wal_hook(db, wal_hook, w);
	return 0;
}

uint64_t edge__store_wal_log_bytes(const struct edge__store_wal *w)
{
	return w->log_frames ? WAL_HEADER_BYTES + w->log_frames * w->frame_bytes : 0;
}

int edge__store_wal_due(const struct edge__store_wal *w, bool idle)
{
	uint64_t bytes = edge__store_wal_log_bytes(w);

	if (bytes > w->max_bytes)
		return SQLITE_CHECKPOINT_TRUNCATE;
	if (idle && bytes > w->max_bytes / 2 && !w->restart_pending && w->backfilled < w->log_frames)
		return SQLITE_CHECKPOINT_PASSIVE;
	return -1;
}

int edge__store_wal_checkpoint(struct edge__store_wal *w, int mode)
{
	int n_log = -1, n_ckpt = -1;
	int rc = sqlite3_wal_checkpoint_v2(w->db, "main", mode, &n_log, &n_ckpt);

	if (rc != SQLITE_OK) {
		w->checkpoint_failures++;
		w->last_error = edge__store_db_error(w->db, rc) ?: EDGE_ESTORE;
		return w->last_error;
	}
	w->checkpoints++;
	w->last_error = 0;
	if (mode == SQLITE_CHECKPOINT_TRUNCATE) {
		/* the log is empty and the file cut to 0 bytes */
		w->checkpoints_truncate++;
		w->log_frames = w->backfilled = 0;
		w->restart_pending = false;
		return 0;
	}
	if (n_log >= 0)
		w->log_frames = (uint64_t)n_log;
	w->backfilled = n_ckpt > 0 ? (uint64_t)n_ckpt : 0;
	if (w->log_frames && w->backfilled >= w->log_frames)
		w->restart_pending = true;
	return 0;
}

int edge__store_io_open(void)
{
	char path[64];
	int fd = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	/* kernels before 3.17 lack thread-self */
	snprintf(path, sizeof path, "/proc/self/task/%ld/io", (long)syscall(SYS_gettid));
	return open(path, O_RDONLY | O_CLOEXEC);
}

bool edge__store_io_write_bytes(int fd, uint64_t *out)
{
	char buf[512];
	const char *p;
	ssize_t n;

	if (fd < 0)
		return false;
	/* a proc file regenerates its text on every read from offset 0 */
	n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "\nwrite_bytes:");
	if (!p || sscanf(p + 1, "write_bytes: %" SCNu64, out) != 1)
		return false;
	return true;
}
