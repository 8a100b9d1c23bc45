/* Anomaly reports across outages: the broker killed and started again, edged
 * stopped for a minute, and a full disk under edged's state directory. Each
 * case ends as test-anomaly's do: the SQLite file, read after edged stopped,
 * compared seq by seq with the events each simulated node generated (the
 * simulator's `sim: events` lines): nothing lost, nothing stored twice.
 * A real mosquitto, the built edged and edgectl, and the simulator. Run one
 * case with `test-anomaly-outage CASE`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly_check.h"
#include "harness.h"
#include "test_run.h"


/* Retransmissions quick enough for a test, enough slots that no node drops
 * an event during the outage, reconnections quick after a broker restart. */
#define SIM_OUTAGE_ARGS "--report-slots", "4096", "--report-rto-ms", "1000", \
	"--report-rto-max-ms", "3000", "--reconnect-s", "0.5", "--reconnect-max-s", "2", \
	"--hello-retry-s", "2"

static long long status_int(struct h_env *e, const char *path)
{
	json_t *st = h_edgectl_json(e, "status", NULL);
	long long v = h_json_int(st, path);

	json_decref(st);
	return v;
}

/* The broker is killed (SIGKILL, by PID) while 20 nodes send, and started
 * again on the same port with the same persistence: once everyone has
 * reconnected and retransmitted, every event is stored exactly once. */
START_TEST(broker_restart_loses_and_duplicates_nothing)
{
	struct h_env *e = h_world(NULL);
	unsigned long total;
	long long generated;

	h_sim_start(e, "--count", "20", "--heartbeat-s", "30", "--anomaly-rate", "20",
		    SIM_OUTAGE_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 20", 30000);
	h_wait_status(e, "anomalies.acks_sent", ">=", 20, 20000);
	h_proc_signal(&e->broker, SIGKILL);
	for (uint64_t end = h_now_ms() + 5000; h_proc_alive(&e->broker) && h_now_ms() < end;)
		h_sleep_ms(10);
	ck_assert(!h_proc_alive(&e->broker));
	/* The nodes keep generating while the broker is away. */
	generated = h_sim_stat(e, "events");
	h_wait_sim_events(e, generated + 200, 20000);
	h_broker_start(e);
	h_wait_status(e, "broker.connects", ">=", 2, 20000);
	/* Acks flow again (this instance's counter keeps growing). */
	h_wait_status(e, "anomalies.acks_sent", ">=", status_int(e, "anomalies.acks_sent") + 20,
		      30000);
	h_wait_sim_events(e, h_sim_stat(e, "events") + 200, 20000);
	total = anomaly_finish_and_compare(e, 20, 60000);
	printf("# broker restart: %lu events of 20 nodes, 0 lost, 0 duplicated\n", total);
	h_env_free(e);
}
END_TEST

/* edged is stopped (SIGTERM) for a minute (10 s under ASan) while 20 nodes
 * keep generating; started again, it takes the backlog from the broker and
 * the nodes' retransmissions: every event stored exactly once. */
START_TEST(edged_down_loses_and_duplicates_nothing)
{
#ifdef H_ASAN
	const unsigned down_ms = 10000;
#else
	const unsigned down_ms = 60000;
#endif
	struct h_env *e = h_world(NULL);
	unsigned long total;
	long long before, during;

	h_sim_start(e, "--count", "20", "--heartbeat-s", "30", "--anomaly-rate", "5",
		    SIM_OUTAGE_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 20", 30000);
	h_wait_status(e, "anomalies.acks_sent", ">=", 20, 20000);
	ck_assert_int_eq(h_edged_stop(e), 0);
	before = h_sim_stat(e, "events");
	/* The outage itself lasts down_ms: the sim's counters are watched
	 * meanwhile, the nodes must keep generating and hold what they made. */
	for (uint64_t end = h_now_ms() + down_ms; h_now_ms() < end;) {
		ck_assert(h_proc_alive(&e->sim));
		h_sleep_ms(500);
	}
	during = h_sim_stat(e, "events") - before;
	ck_assert_int_gt(during, 0);
	ck_assert_int_gt(h_sim_stat(e, "events_held"), 0);
	ck_assert_int_eq(h_sim_stat(e, "events_dropped"), 0);
	h_edged_start(e);
	h_wait_status(e, "anomalies.acks_sent", ">=", 20, 30000);
	total = anomaly_finish_and_compare(e, 20, 90000);
	ck_assert_uint_ge(total, (unsigned long)(before + during));
	printf("# edged down %u s: %lld events generated meanwhile, %lu in all, 0 lost, "
	       "0 duplicated\n", down_ms / 1000, during, total);
	h_env_free(e);
}
END_TEST

static void write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A mount namespace of our own, so the tmpfs below is nobody else's (and
 * goes with this process); as a non-root user, inside a user namespace
 * where we are root. edged and the others inherit it. */
static void enter_private_mount_ns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (uid == 0) {
		ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s",
			      strerror(errno));
	} else {
		ck_assert_msg(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0,
			      "unshare(CLONE_NEWUSER|CLONE_NEWNS) as uid %u: %s (user namespaces "
			      "disabled? run as root)", (unsigned)uid, strerror(errno));
		snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
		write_proc("/proc/self/uid_map", map);
		write_proc("/proc/self/setgroups", "deny");
		snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
		write_proc("/proc/self/gid_map", map);
	}
	ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		      "make / private: %s", strerror(errno));
}

/* Append to fd until the file system refuses: everything the store just
 * freed (its write-ahead log, truncated before each retry after a full
 * disk) is taken again. */
static void fill_up(int fd)
{
	static char block[4096];
	ssize_t n;

	memset(block, 0x5a, sizeof block);
	while ((n = write(fd, block, sizeof block)) > 0)
		;
	ck_assert_msg(n < 0 && errno == ENOSPC, "filling the tmpfs ended with %s",
		      n < 0 ? strerror(errno) : "a short write");
}

/* From freeing the space to the first events stored again. */
#define RECOVERY_MS 5000

struct degraded {
	long long disk_full, deferred, acks, stored;
};

static struct degraded degraded_now(struct h_env *e)
{
	json_t *st = h_edgectl_json(e, "status", NULL);
	struct degraded d = {
		.disk_full = h_json_int(st, "store.disk_full"),
		.deferred = h_json_int(st, "anomalies.deferred"),
		.acks = h_json_int(st, "anomalies.acks_sent"),
		.stored = h_json_int(st, "anomalies.events_stored"),
	};

	json_decref(st);
	return d;
}

/* edged's state directory on a small tmpfs, filled up while 10 nodes send:
 * the store reports disk_full, reports are deferred and none is acked; once
 * the space is freed, ingest resumes within 5 s and nothing is lost. */
START_TEST(disk_full_defers_then_recovers)
{
	struct h_env *e = h_env_new();
	char filler[400];
	struct degraded d0, d;
	uint64_t end, freed;
	bool steady = false;
	int fd;

	enter_private_mount_ns();
	ck_assert_int_eq(mkdir(e->state_dir, 0750), 0);
	ck_assert_msg(mount("tmpfs", e->state_dir, "tmpfs", 0, "size=4m,mode=0750") == 0,
		      "mount tmpfs on %s: %s", e->state_dir, strerror(errno));
	snprintf(filler, sizeof filler, "%s/filler", e->state_dir);
	h_broker_start(e);
	h_edged_start(e);
	h_sim_start(e, "--count", "10", "--heartbeat-s", "30", "--anomaly-rate", "20",
		    SIM_OUTAGE_ARGS, NULL);
	h_sim_wait(e, "sim: registered all 10", 30000);
	h_wait_status(e, "anomalies.acks_sent", ">=", 10, 20000);

	fd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "open %s: %s", filler, strerror(errno));
	/* Full, and kept full: until a whole window between two looks at the
	 * status saw the disk full, reports deferred and no ack sent. */
	fill_up(fd);
	d0 = degraded_now(e);
	for (end = h_now_ms() + 30000; !steady && h_now_ms() < end; d0 = d) {
		h_sleep_ms(200);
		fill_up(fd);
		d = degraded_now(e);
		steady = d0.disk_full == 1 && d.disk_full == 1 && d.acks == d0.acks &&
			 d.deferred >= d0.deferred + 10;
	}
	ck_assert_msg(steady, "no degraded window: disk_full=%lld deferred=%lld acks=%lld",
		      d.disk_full, d.deferred, d.acks);
	/* Degraded: deferrals keep growing, nothing more is stored or acked. */
	d0 = d;
	for (end = h_now_ms() + 30000; h_now_ms() < end; h_sleep_ms(100)) {
		fill_up(fd);
		d = degraded_now(e);
		ck_assert_int_eq(d.acks, d0.acks);
		ck_assert_int_eq(d.stored, d0.stored);
		if (d.deferred >= d0.deferred + 50)
			break;
	}
	ck_assert_int_ge(d.deferred, d0.deferred + 50);

	close(fd);
	ck_assert_int_eq(unlink(filler), 0);
	freed = h_now_ms();
	/* The store sees the end of a full disk only when a write commits: the
	 * anomaly service lets one report through as the probe while the disk
	 * is full and nothing of its own is in flight. */
	h_wait_status(e, "store.disk_full", "==", 0, RECOVERY_MS);
	h_wait_status(e, "anomalies.events_stored", ">=", d.stored + 1, RECOVERY_MS);
	printf("# ingest resumed %llu ms after the space was freed (%lld reports deferred)\n",
	       (unsigned long long)(h_now_ms() - freed), d.deferred);
	anomaly_finish_and_compare(e, 10, 60000);
	ck_assert_int_eq(umount2(e->state_dir, MNT_DETACH), 0);
	h_env_free(e);
}
END_TEST

int main(int argc, char **argv)
{
	const struct h_case cases[] = {
		{ "broker_restart_loses_and_duplicates_nothing",
		  broker_restart_loses_and_duplicates_nothing, 180 },
		{ "edged_down_loses_and_duplicates_nothing",
		  edged_down_loses_and_duplicates_nothing, 240 },
		{ "disk_full_defers_then_recovers", disk_full_defers_then_recovers, 180 },
	};

	return h_run_cases(argc, argv, "anomaly_outage", cases, sizeof cases / sizeof cases[0]);
}
