/* ingest-writer: edged's anomaly writer alone, without MQTT. Submits
 * reports to a store (edge_store_submit, edged's group-commit settings:
 * at most 256 ops per transaction, 20 ms delay) whose op is
 * edge_anomaly_ingest, as edged's anomaly service does, keeping
 * --inflight reports in flight (edged's anomaly.max_pending_reports, 1024)
 * and running completions when the writer wakes: the rate edged's storage
 * path reaches when nothing else limits it, next to raw-insert's.
 *
 *   ingest-writer --db PATH [--events N] [--per-report K] [--devices D]
 *                 [--inflight M]
 * Prints `ingest-writer: events=N reports=R seconds=S events_per_s=E
 * reports_per_s=P transactions=T avg_batch_ops=A events_per_tx=X
 * bytes_written=W wal_bytes_appended=B failed=F`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_anomaly_common.h"
#include "edge_anomaly.h"
#include "edge_store.h"

struct op {
	struct bench *b;
	char device[32];
	struct edge_msg_report rep;
	struct edge_anomaly_result res;
	struct op *next_free;
};

struct bench {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool woken;
	struct op *free_ops;
	unsigned long stored, failed, done;
};

static void wake(void *ud)
{
	struct bench *b = ud;

	pthread_mutex_lock(&b->mu);
	b->woken = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static int run(edge_store_conn *conn, void *ud)
{
	struct op *o = ud;

	return edge_anomaly_ingest(conn, o->device, &o->rep, bench_wall_ms(), NULL, &o->res);
}

/* Loop thread (this one): give the op back. */
static void done(int result, void *ud)
{
	struct op *o = ud;
	struct bench *b = o->b;

	if (result == 0)
		b->stored += o->res.stored;
	else
		b->failed++;
	b->done++;
	o->next_free = b->free_ops;
	b->free_ops = o;
}

/* Until the writer says it finished a batch, at most 1 s. */
static void wait_wake(struct bench *b)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&b->mu);
	while (!b->woken && pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0)
		;
	b->woken = false;
	pthread_mutex_unlock(&b->mu);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned long events = 100000, per = 1, devices = 1000, inflight = 1024;
	unsigned long reports, submitted = 0, i;
	struct bench b = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct edge_store_options opt;
	struct edge_store_stats st;
	edge_store *store;
	struct op *ops;
	uint32_t *seq, rng = 777;
	double t0, t1;
	int c, rc;
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "events", required_argument, NULL, 'n' },
		{ "per-report", required_argument, NULL, 'k' },
		{ "devices", required_argument, NULL, 'D' },
		{ "inflight", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "d:n:k:D:m:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': path = optarg; break;
		case 'n': events = strtoul(optarg, NULL, 10); break;
		case 'k': per = strtoul(optarg, NULL, 10); break;
		case 'D': devices = strtoul(optarg, NULL, 10); break;
		case 'm': inflight = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!path || events == 0 || per < 1 || per > EDGE_REPORT_MAX_EVENTS || devices == 0 ||
	    devices > 100000 || inflight < 1 || inflight > 4096) {
		fprintf(stderr, "usage: ingest-writer --db PATH [--events N] [--per-report 1..32]"
				" [--devices D] [--inflight 1..4096]\n");
		return 2;
	}
	reports = (events + per - 1) / per;
	edge_store_options_init(&opt);
	opt.group_commit_max_ops = 256;   /* edged's store.group_commit_max_ops */
	opt.group_commit_max_delay_ms = 20; /* store.group_commit_max_delay_ms */
	opt.wake = wake;
	opt.wake_ud = &b;
	rc = edge_store_open(path, &opt, &store);
	ops = calloc(inflight, sizeof(*ops));
	seq = calloc(devices, sizeof(*seq));
	if (rc != 0 || !ops || !seq) {
		fprintf(stderr, "ingest-writer: cannot open %s (%d)\n", path, rc);
		return 1;
	}
	for (i = 0; i < inflight; i++) {
		ops[i].b = &b;
		ops[i].next_free = b.free_ops;
		b.free_ops = &ops[i];
	}

	t0 = bench_mono_s();
	while (b.done < reports) {
		while (submitted < reports && b.free_ops) {
			struct op *o = b.free_ops;
			unsigned d = (unsigned)(submitted % devices);
			unsigned long left = events - submitted * per;
			unsigned n = (unsigned)(left < per ? left : per);

			b.free_ops = o->next_free;
			bench_device_id(o->device, sizeof(o->device), d);
			memset(&o->rep, 0, sizeof(o->rep));
			o->rep.epoch = 1000 + d;
			o->rep.oldest = seq[d] + 1;
			o->rep.n_events = (uint8_t)n;
			for (unsigned k = 0; k < n; k++)
				bench_fill_event(&o->rep.events[k], &rng, ++seq[d], 5);
			if (edge_store_submit(store, run, done, o) != 0) {
				fprintf(stderr, "ingest-writer: submit refused\n");
				return 1;
			}
			submitted++;
		}
		if (edge_store_run_completions(store) == 0)
			wait_wake(&b);
	}
	t1 = bench_mono_s();
	edge_store_get_stats(store, &st);
	printf("ingest-writer: events=%lu reports=%lu seconds=%.3f events_per_s=%.0f "
	       "reports_per_s=%.0f transactions=%" PRIu64 " avg_batch_ops=%.1f "
	       "events_per_tx=%.1f bytes_written=%" PRIu64 " wal_bytes_appended=%" PRIu64
	       " failed=%lu\n",
	       b.stored, reports, t1 - t0, (double)b.stored / (t1 - t0),
	       (double)reports / (t1 - t0), st.transactions, st.avg_batch_ops,
	       st.transactions ? (double)b.stored / (double)st.transactions : 0.0,
	       st.bytes_written, st.wal_bytes_appended, b.failed);
	edge_store_close(store);
	free(ops);
	free(seq);
	return b.failed ? 1 : 0;
}
