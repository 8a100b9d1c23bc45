/* Suite 'anomaly-powerloss': every acknowledged event survives a power loss.
 *
 * A SQLite VFS over the default one models a disk that loses power: it keeps,
 * per file (database, WAL, rollback journal), the content as of that file's
 * last xSync; a file never synced does not exist after the loss. The real
 * store and the real ingest (edge_anomaly_ingest through edge_store_submit)
 * take a run of reports; an event is acknowledged when its op's completion
 * ran with success. At a chosen point (the N-th write or sync after the store
 * opened) the power goes: that write or sync and everything after it is lost.
 * The files are then reset to what was durable, the database is opened again
 * with SQLite's own VFS and every acknowledged event must be there, once; a
 * retransmit of every report then completes the stream. The crash point goes
 * over every sync of the run, the event right after each sync and the first
 * write of each report: a loss at any other write leaves the same files and
 * the same acks as one of these (worth_a_run); EDGE_TEST_POWERLOSS_ALL=1
 * takes every write too (about 1,500 runs instead of about 300). A file's
 * first sync also stands for its directory's (SQLite's unix VFS syncs the
 * directory of a new WAL or journal then); a file deleted before the loss is
 * gone. The -shm file is shared memory, rebuilt from the WAL afterwards.
 *
 * The negative control: the same run with synchronous=NORMAL (a WAL commit
 * is not synced) must lose an acknowledged event at some crash point, which
 * shows the check can fail. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_anomaly.h"
#include "edge_store.h"
#include "report_fixture.h"
#include "test_db_fixture.h"
#include "test_run.h"

#define RECV0 1767225600000LL /* an arbitrary wall-clock origin, ms */
#define DEVICE "node-pl"
#define N_REPORTS 50
#define EVENTS_PER_REPORT 3
#define N_EVENTS (N_REPORTS * EVENTS_PER_REPORT)
/* A duplicate of the previous report after every DUP_EVERY reports. */
#define DUP_EVERY 10
#define N_OPS (N_REPORTS + N_REPORTS / DUP_EVERY)

/* ---- the power-loss VFS ---- */

#define PL_VFS_NAME "edge-test-powerloss"
#define PL_MAX_FILES 8
#define PL_MAX_EVENTS 20000
#define PL_EV_SYNC 1u      /* the event is a sync */
#define PL_EV_NEW_OP 2u    /* the first event of an op (earlier ops all acked) */

/* What one file holds after a power loss. */
struct pl_track {
	bool used;
	bool durable;          /* exists after a loss: synced, or non-empty when first opened */
	char path[PATH_MAX + 64];
	unsigned char *img;    /* content as of the last sync */
	size_t len;
};

static struct {
	pthread_mutex_t mu;
	sqlite3_vfs *base;
	sqlite3_vfs vfs;
	bool registered;
	struct pl_track files[PL_MAX_FILES];
	bool armed;            /* count writes and syncs */
	unsigned long events;  /* writes + syncs since armed */
	unsigned long crash_at; /* the event that loses power; 0: none */
	atomic_bool crashed;
	/* What each event was (PL_EV_*), indexed by event number, and the op
	 * the test is running (bumped before each submit). */
	unsigned char kind[PL_MAX_EVENTS + 1];
	unsigned op;
	unsigned kind_op;      /* op of the last event recorded */
} pl = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct pl_file {
	sqlite3_file base;
	struct pl_track *t;    /* NULL: not tracked (temp files) */
	sqlite3_file *real;    /* the default VFS's file, right behind this struct */
};

#define REAL(f) (((struct pl_file *)(f))->real)

/* Called under pl.mu for a write or sync of a tracked file: counts it and
 * returns true when the power is (now) off. */
static bool pl_event(bool sync)
{
	if (atomic_load(&pl.crashed))
		return true;
	if (!pl.armed)
		return false;
	pl.events++;
	if (pl.events <= PL_MAX_EVENTS) {
		pl.kind[pl.events] = (unsigned char)((sync ? PL_EV_SYNC : 0) |
						     (pl.op != pl.kind_op ? PL_EV_NEW_OP : 0));
		pl.kind_op = pl.op;
	}
	if (pl.crash_at != 0 && pl.events == pl.crash_at)
		atomic_store(&pl.crashed, true);
	return atomic_load(&pl.crashed);
}

/* The file's current content becomes its durable image (under pl.mu). */
static int pl_snapshot(struct pl_track *t, sqlite3_file *real)
{
	sqlite3_int64 size = 0;
	int rc = real->pMethods->xFileSize(real, &size);

	if (rc != SQLITE_OK)
		return rc;
	free(t->img);
	t->img = NULL;
	t->len = 0;
	if (size > 0) {
		t->img = malloc((size_t)size);
		if (!t->img)
			return SQLITE_NOMEM;
		rc = real->pMethods->xRead(real, t->img, (int)size, 0);
		if (rc != SQLITE_OK)
			return rc;
		t->len = (size_t)size;
	}
	t->durable = true;
	return SQLITE_OK;
}

static struct pl_track *pl_find(const char *path)
{
	for (unsigned i = 0; i < PL_MAX_FILES; i++)
		if (pl.files[i].used && strcmp(pl.files[i].path, path) == 0)
			return &pl.files[i];
	return NULL;
}

static struct pl_track *pl_track_open(const char *path, sqlite3_file *real)
{
	struct pl_track *t;
	sqlite3_int64 size = 0;

	pthread_mutex_lock(&pl.mu);
	t = pl_find(path);
	if (!t) {
		for (unsigned i = 0; i < PL_MAX_FILES && !t; i++)
			if (!pl.files[i].used)
				t = &pl.files[i];
		ck_assert_ptr_nonnull(t);
		memset(t, 0, sizeof *t);
		t->used = true;
		snprintf(t->path, sizeof t->path, "%s", path);
		/* what is there before the run counts as durable */
		if (real->pMethods->xFileSize(real, &size) == SQLITE_OK && size > 0)
			ck_assert_int_eq(pl_snapshot(t, real), SQLITE_OK);
	}
	pthread_mutex_unlock(&pl.mu);
	return t;
}

static int pl_close(sqlite3_file *f)
{
	sqlite3_file *real = REAL(f);

	return real->pMethods->xClose(real);
}

static int pl_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int pl_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct pl_file *p = (struct pl_file *)f;

	if (p->t) {
		pthread_mutex_lock(&pl.mu);
		(void)pl_event(false); /* after the loss the write goes nowhere durable */
		pthread_mutex_unlock(&pl.mu);
	}
	return p->real->pMethods->xWrite(p->real, buf, n, off);
}

static int pl_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

/* The model is the durability: a tracked file is not fsync'd for real (the
 * run stays fast); its content is copied as the durable image instead. */
static int pl_sync(sqlite3_file *f, int flags)
{
	struct pl_file *p = (struct pl_file *)f;
	int rc = SQLITE_OK;

	if (!p->t)
		return p->real->pMethods->xSync(p->real, flags);
	pthread_mutex_lock(&pl.mu);
	if (!pl_event(true))
		rc = pl_snapshot(p->t, p->real);
	pthread_mutex_unlock(&pl.mu);
	return rc;
}

static int pl_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int pl_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int pl_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int pl_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int pl_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int pl_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int pl_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* The -shm file is shared memory, rebuilt from the WAL after a loss: the
 * calls go straight through. */
static int pl_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int pl_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void pl_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int pl_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int pl_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int pl_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods pl_io = {
	.iVersion = 3,
	.xClose = pl_close,
	.xRead = pl_read,
	.xWrite = pl_write,
	.xTruncate = pl_truncate,
	.xSync = pl_sync,
	.xFileSize = pl_file_size,
	.xLock = pl_lock,
	.xUnlock = pl_unlock,
	.xCheckReservedLock = pl_check_reserved,
	.xFileControl = pl_file_control,
	.xSectorSize = pl_sector_size,
	.xDeviceCharacteristics = pl_device_chars,
	.xShmMap = pl_shm_map,
	.xShmLock = pl_shm_lock,
	.xShmBarrier = pl_shm_barrier,
	.xShmUnmap = pl_shm_unmap,
	.xFetch = pl_fetch,
	.xUnfetch = pl_unfetch,
};

static int pl_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
		   int *out_flags)
{
	struct pl_file *p = (struct pl_file *)f;
	int rc;

	(void)vfs;
	p->t = NULL;
	p->real = (sqlite3_file *)(p + 1);
	f->pMethods = NULL;
	rc = pl.base->xOpen(pl.base, name, p->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc;
	ck_assert_int_eq(p->real->pMethods->iVersion, 3);
	if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)))
		p->t = pl_track_open(name, p->real);
	f->pMethods = &pl_io;
	return SQLITE_OK;
}

/* A file deleted before the loss is gone (as if its directory was synced:
 * SQLite deletes the WAL or a journal only once their content is no longer
 * needed). */
static int pl_delete(sqlite3_vfs *vfs, const char *path, int dir_sync)
{
	struct pl_track *t;

	(void)vfs;
	pthread_mutex_lock(&pl.mu);
	t = pl_find(path);
	if (t && !atomic_load(&pl.crashed)) {
		t->durable = false;
		free(t->img);
		t->img = NULL;
		t->len = 0;
	}
	pthread_mutex_unlock(&pl.mu);
	return pl.base->xDelete(pl.base, path, dir_sync);
}

static void pl_register(void)
{
	if (pl.registered)
		return;
	pl.base = sqlite3_vfs_find(NULL);
	ck_assert_ptr_nonnull(pl.base);
	/* the rest (access, full path, randomness, time) is the default VFS's */
	pl.vfs = *pl.base;
	pl.vfs.pNext = NULL;
	pl.vfs.zName = PL_VFS_NAME;
	pl.vfs.szOsFile = (int)sizeof(struct pl_file) + pl.base->szOsFile;
	pl.vfs.xOpen = pl_open;
	pl.vfs.xDelete = pl_delete;
	ck_assert_int_eq(sqlite3_vfs_register(&pl.vfs, 0), SQLITE_OK);
	pl.registered = true;
}

/* Forgets every file, arms the counter for a loss at event crash_at. */
static void pl_reset(unsigned long crash_at)
{
	pthread_mutex_lock(&pl.mu);
	for (unsigned i = 0; i < PL_MAX_FILES; i++) {
		free(pl.files[i].img);
		memset(&pl.files[i], 0, sizeof pl.files[i]);
	}
	pl.armed = false;
	pl.events = 0;
	pl.crash_at = crash_at;
	atomic_store(&pl.crashed, false);
	pthread_mutex_unlock(&pl.mu);
}

static void pl_arm(bool on)
{
	pthread_mutex_lock(&pl.mu);
	pl.armed = on;
	pthread_mutex_unlock(&pl.mu);
}

static void write_file(const char *path, const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off = 0;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		ck_assert_msg(n > 0, "write %s: %s", path, strerror(errno));
		off += (size_t)n;
	}
	ck_assert_int_eq(close(fd), 0);
}

/* After the loss (every handle closed): each file back to its durable image;
 * the shared memory is gone. */
static void pl_restore(const char *db_path)
{
	char shm[PATH_MAX + 80];

	pthread_mutex_lock(&pl.mu);
	for (unsigned i = 0; i < PL_MAX_FILES; i++) {
		struct pl_track *t = &pl.files[i];

		if (!t->used)
			continue;
		if (t->durable)
			write_file(t->path, t->img, t->len);
		else
			ck_assert(unlink(t->path) == 0 || errno == ENOENT);
	}
	pthread_mutex_unlock(&pl.mu);
	snprintf(shm, sizeof shm, "%s-shm", db_path);
	ck_assert(unlink(shm) == 0 || errno == ENOENT);
}

/* ---- the run ---- */

/* Report i (0-based): seqs 3i+1..3i+3 of epoch 1. */
static void make_report(unsigned i, struct edge_msg_report *r)
{
	memset(r, 0, sizeof *r);
	r->epoch = 1;
	r->oldest = 1;
	r->n_events = EVENTS_PER_REPORT;
	for (unsigned k = 0; k < EVENTS_PER_REPORT; k++)
		r->events[k] = fixture_event(i * EVENTS_PER_REPORT + k + 1);
}

struct pl_op {
	struct edge_msg_report r;
	struct edge_anomaly_result res;
	bool done;
	bool acked; /* completed with success before the power went */
};

static struct pl_op ops[N_OPS];

static int op_run(edge_store_conn *conn, void *ud)
{
	struct pl_op *o = ud;

	return edge_anomaly_ingest(conn, DEVICE, &o->r, RECV0, NULL, &o->res);
}

static void op_done(int result, void *ud)
{
	struct pl_op *o = ud;

	o->done = true;
	o->acked = result == 0 && !atomic_load(&pl.crashed);
}

/* The database every run starts from: migrated, empty. */
static unsigned char *template_db;
static size_t template_len;

static void make_template(void)
{
	edge_store *st = NULL;
	FILE *fp;
	long len;

	ck_assert_int_eq(edge_store_open(test_db_path, NULL, &st), 0);
	edge_store_close(st);
	fp = fopen(test_db_path, "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	ck_assert_int_gt(len, 0);
	rewind(fp);
	free(template_db);
	template_db = malloc((size_t)len);
	ck_assert_ptr_nonnull(template_db);
	ck_assert_uint_eq(fread(template_db, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	template_len = (size_t)len;
}

static void fresh_db(void)
{
	char p[PATH_MAX + 80];

	snprintf(p, sizeof p, "%s-wal", test_db_path);
	ck_assert(unlink(p) == 0 || errno == ENOENT);
	snprintf(p, sizeof p, "%s-shm", test_db_path);
	ck_assert(unlink(p) == 0 || errno == ENOENT);
	write_file(test_db_path, template_db, template_len);
}

struct run_result {
	unsigned long events; /* writes + syncs the run made (up to the loss) */
	bool crashed;
	unsigned acked;       /* events acknowledged before the loss */
	unsigned lost;        /* of those, not in the database after it */
	unsigned extra;       /* rows for (device, epoch, seq) beyond one */
};

/* Retransmits every report in one transaction: the stream must then be whole. */
static int retransmit_all(edge_store_conn *conn, void *ud)
{
	struct edge_anomaly_result *last = ud;
	struct edge_msg_report r;
	int rc;

	for (unsigned i = 0; i < N_REPORTS; i++) {
		make_report(i, &r);
		rc = edge_anomaly_ingest(conn, DEVICE, &r, RECV0, NULL, last);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int count_fn(edge_store_conn *conn, void *ud)
{
	return edge_anomaly_count(conn, DEVICE, ud);
}

/* Checks the database after the loss with SQLite's own VFS. */
static void check_after(struct run_result *res)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct edge_store_options opt;
	edge_store *store = NULL;
	struct edge_anomaly_result last;
	uint64_t n = 0;

	ck_assert_int_eq(sqlite3_open_v2(test_db_path, &db, SQLITE_OPEN_READWRITE, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM anomaly_event"
					    " WHERE device = ?1 AND epoch = ?2 AND seq = ?3",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (unsigned i = 0; i < N_OPS; i++) {
		if (!ops[i].acked)
			continue;
		for (unsigned k = 0; k < ops[i].r.n_events; k++) {
			int c;

			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, DEVICE, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, ops[i].r.epoch);
			sqlite3_bind_int64(st, 3, ops[i].r.events[k].seq);
			ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
			c = sqlite3_column_int(st, 0);
			res->acked++;
			if (c == 0)
				res->lost++;
			else if (c > 1)
				res->extra += (unsigned)c - 1;
		}
	}
	sqlite3_finalize(st);
	/* no (device, epoch, seq) stored twice, acked or not */
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT count(*) - count(DISTINCT epoch || ':' || seq)"
					    " FROM anomaly_event WHERE device = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, DEVICE, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	res->extra += (unsigned)sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);

	/* the store opens it again, and the node's retransmits complete it (on
	 * the model: no power loss now, and no real fsync to wait for) */
	pl_reset(0);
	edge_store_options_init(&opt);
	opt.vfs_name = PL_VFS_NAME;
	opt.quick_check = false; /* integrity_check ran above */
	ck_assert_int_eq(edge_store_open(test_db_path, &opt, &store), 0);
	ck_assert_int_eq(edge_store_read(store, retransmit_all, &last), 0);
	ck_assert_uint_eq(last.ack.epoch, 1);
	ck_assert_uint_eq(last.ack.acked, N_EVENTS);
	ck_assert_int_eq(edge_store_read(store, count_fn, &n), 0);
	ck_assert_uint_eq(n, N_EVENTS);
	edge_store_close(store);
}

/* The store's WAL limit in the runs: the smallest makes the writer
 * checkpoint (and sync the database) during the run. */
static size_t run_wal_max_bytes = 64 * 1024;

/* One run of the reports, losing power at event crash_at (0: never); the
 * reports go to the store `batch` at a time (a group commit may take them
 * together), each group acknowledged before the next. */
static struct run_result run_once(bool sync_normal, unsigned batch, unsigned long crash_at)
{
	struct edge_store_options opt;
	struct run_result res;
	edge_store *st = NULL;
	unsigned n = 0;

	memset(&res, 0, sizeof res);
	fresh_db();
	pl_reset(crash_at);
	for (unsigned i = 0; i < N_REPORTS; i++) {
		make_report(i, &ops[n].r);
		n++;
		if ((i + 1) % DUP_EVERY == 0) {
			make_report(i, &ops[n].r); /* a retransmit: a duplicate */
			n++;
		}
	}
	ck_assert_uint_eq(n, N_OPS);
	for (unsigned i = 0; i < N_OPS; i++) {
		ops[i].done = false;
		ops[i].acked = false;
	}

	edge_store_options_init(&opt);
	opt.vfs_name = PL_VFS_NAME;
	opt.synchronous_normal = sync_normal;
	opt.wal_max_bytes = run_wal_max_bytes;
	opt.group_commit_max_delay_ms = 0;
	opt.quick_check = false; /* the run starts from the template */
	ck_assert_int_eq(edge_store_open(test_db_path, &opt, &st), 0);
	pthread_mutex_lock(&pl.mu);
	pl.op = 0;
	pl.kind_op = 0;
	memset(pl.kind, 0, sizeof pl.kind);
	pthread_mutex_unlock(&pl.mu);
	pl_arm(true);
	for (unsigned i = 0; i < N_OPS && !atomic_load(&pl.crashed); i += batch) {
		unsigned end = i + batch < N_OPS ? i + batch : N_OPS;

		pthread_mutex_lock(&pl.mu);
		pl.op = i + 1;
		pthread_mutex_unlock(&pl.mu);
		for (unsigned k = i; k < end; k++)
			ck_assert_int_eq(edge_store_submit(st, op_run, op_done, &ops[k]), 0);
		edge_store_flush(st);
		(void)edge_store_run_completions(st);
		for (unsigned k = i; k < end; k++)
			ck_assert(ops[k].done);
	}
	/* what happens after the loss (the closing checkpoint) never reaches the disk */
	edge_store_close(st);
	pl_arm(false);
	pthread_mutex_lock(&pl.mu);
	res.events = pl.events;
	pthread_mutex_unlock(&pl.mu);
	res.crashed = atomic_load(&pl.crashed);
	if (res.crashed)
		pl_restore(test_db_path);
	check_after(&res);
	return res;
}

/* Whether a loss at event `at` of the dry run is worth a run of its own.
 * Between two of these points nothing becomes durable and no op completes, so
 * a loss anywhere in between leaves the same files and the same acks: the
 * points are every sync, the event after it, and the first event of each op
 * (all earlier ops acked). EDGE_TEST_POWERLOSS_ALL=1 runs every event. */
static bool worth_a_run(unsigned long at, bool all)
{
	if (all || at == 1 || at > PL_MAX_EVENTS)
		return true;
	return (pl.kind[at] & (PL_EV_SYNC | PL_EV_NEW_OP)) || (pl.kind[at - 1] & PL_EV_SYNC);
}

/* Every crash point of the run; returns how many lost an acknowledged event.
 * *late: runs that lost power after half the events were acknowledged. */
static unsigned every_crash_point(bool sync_normal, unsigned batch, unsigned *late)
{
	struct run_result dry = run_once(sync_normal, batch, 0);
	static unsigned char kind[PL_MAX_EVENTS + 1];
	const char *all_env = getenv("EDGE_TEST_POWERLOSS_ALL");
	bool all = all_env && strcmp(all_env, "1") == 0;
	unsigned long runs = 0, crashed = 0;
	unsigned losing = 0;

	/* without a loss, everything is acknowledged and stored once */
	ck_assert(!dry.crashed);
	ck_assert_uint_eq(dry.acked, N_OPS * EVENTS_PER_REPORT);
	ck_assert_uint_eq(dry.lost, 0);
	ck_assert_uint_eq(dry.extra, 0);
	ck_assert_uint_gt(dry.events, N_OPS);
	if (getenv("EDGE_TEST_VERBOSE"))
		fprintf(stderr, "powerloss: %s: %lu crash points\n",
			sync_normal ? "NORMAL" : "FULL", dry.events);
	*late = 0;
	memcpy(kind, pl.kind, sizeof kind); /* each run rewrites pl.kind */
	for (unsigned long at = 1; at <= dry.events; at++) {
		struct run_result r;

		memcpy(pl.kind, kind, sizeof kind);
		if (!worth_a_run(at, all))
			continue;
		runs++;
		r = run_once(sync_normal, batch, at);

		/* the run may make fewer writes (the writer's checkpoints run when
		 * it is idle), never a duplicate */
		ck_assert_uint_eq(r.extra, 0);
		if (r.crashed)
			crashed++;
		if (r.lost > 0)
			losing++;
		if (r.crashed && r.acked >= N_EVENTS / 2)
			(*late)++;
	}
	if (getenv("EDGE_TEST_VERBOSE"))
		fprintf(stderr,
			"powerloss: %s, %u per group, WAL %zu: %lu runs, %lu lost power,"
			" %u lost an acked event\n",
			sync_normal ? "NORMAL" : "FULL", batch, run_wal_max_bytes, runs, crashed,
			losing);
	/* the power did go out in (nearly) every run: the check had work */
	ck_assert_uint_gt(crashed, runs / 2);
	return losing;
}

START_TEST(full_sync_keeps_every_acked_event_at_every_crash_point)
{
	unsigned late = 0;
	unsigned losing;

	pl_register();
	make_template();
	losing = every_crash_point(false, 1, &late);
	ck_assert_uint_eq(losing, 0);
	/* losses also came after most of the run was acknowledged (the number of
	 * writes varies from run to run with the writer's idle checkpoints) */
	ck_assert_uint_gt(late, 0);
	/* and the same with room in the WAL: no checkpoint during the run */
	run_wal_max_bytes = 4u * 1024 * 1024;
	losing = every_crash_point(false, 1, &late);
	run_wal_max_bytes = 64 * 1024;
	ck_assert_uint_eq(losing, 0);
	ck_assert_uint_gt(late, 0);
}
END_TEST

START_TEST(full_sync_keeps_every_acked_event_with_group_commits)
{
	unsigned late = 0;

	pl_register();
	make_template();
	ck_assert_uint_eq(every_crash_point(false, 5, &late), 0);
	ck_assert_uint_gt(late, 0);
}
END_TEST

START_TEST(normal_sync_loses_an_acked_event_and_the_test_sees_it)
{
	unsigned late = 0;
	unsigned losing;

	pl_register();
	make_template();
	/* Room in the WAL: no checkpoint during the run, so each commit stays
	 * unsynced (with a small WAL the idle checkpoint after nearly every
	 * commit syncs it, and only a loss in the short window before that one
	 * shows). */
	run_wal_max_bytes = 4u * 1024 * 1024;
	losing = every_crash_point(true, 1, &late);
	run_wal_max_bytes = 64 * 1024;
	ck_assert_uint_gt(losing, 0);
}
END_TEST

static Suite *powerloss_suite(void)
{
	Suite *s = suite_create("anomaly-powerloss");
	TCase *tc = tcase_create("powerloss");

	tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, full_sync_keeps_every_acked_event_at_every_crash_point);
	tcase_add_test(tc, full_sync_keeps_every_acked_event_with_group_commits);
	tcase_add_test(tc, normal_sync_loses_an_acked_event_and_the_test_sees_it);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(powerloss_suite(), TEST_REPORT_TEXT, CK_FORK_GETENV);
}
