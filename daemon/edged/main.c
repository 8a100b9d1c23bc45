/* edged: start-up in a fixed order, one loop, and one teardown path that
 * undoes the start-up in reverse. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly.h"
#include "anomaly_query.h"
#include "anomaly_tail.h"
#include "commands.h"
#include "control.h"
#include "edge_build_config.h"
#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edge_time.h"
#include "edged.h"
#include "identity.h"
#include "log.h"
#include "mqtt.h"
#include "notify.h"
#include "ota.h"
#include "offload.h"
#include "central.h"
#include "upstream.h"
#include "rollout.h"
#include "router.h"
#include "signals.h"

/* Exit codes (also in --help). */
#define EXIT_USAGE 2
#define EXIT_CONFIG 78   /* EX_CONFIG: the unit does not restart on it */
#define EXIT_STARTUP 1

#define DEFAULT_CONFIG EDGE_SYSCONFDIR "/edged/edged.conf"
/* Longest wait at shutdown for the store's queue to drain. */
#define SHUTDOWN_DRAIN_MS 5000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: edged [-c FILE]\n"
		"       edged --check-config FILE\n"
		"       edged [-c FILE] --dump-config\n"
		"\n"
		"Gateway daemon for fleets of TinyML nodes (MQTT v5, SQLite registry).\n"
		"\n"
		"  -c, --config FILE      configuration file (default %s;\n"
		"                         built-in defaults when that file does not exist)\n"
		"      --check-config FILE  validate FILE; errors go to stderr\n"
		"      --dump-config      print the effective configuration (secrets hidden)\n"
		"      --version          print the version\n"
		"  -h, --help             this text\n"
		"\n"
		"Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop.\n"
		"Exit codes: 0 ok, 1 start-up failed (--check-config: invalid file),\n"
		"            2 bad usage, 78 invalid configuration at start-up.\n",
		DEFAULT_CONFIG);
}

/* Loads the configuration; prints the reason to stderr on failure. */
static int load_config(const char *path, edge_config **out)
{
	char err[512] = "";
	edge_config *c = edge_config_new();
	int rc;

	if (!c) {
		fprintf(stderr, "edged: out of memory\n");
		return -ENOMEM;
	}
	if (path) {
		rc = edge_config_load_file(c, path, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "edged: %s\n", err[0] ? err : edge_strerror(rc));
			edge_config_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

static void print_advice(const char *msg, void *ud)
{
	fprintf(stderr, "edged: %s: warning: %s\n", (const char *)ud, msg);
}

/* ---- start-up steps ---- */

static int make_dir(const char *what, const char *path)
{
	struct stat st;

	if (mkdir(path, 0750) == 0) {
		edge_log(EDGE_LOG_INFO, "edged", "created %s %s", what, path);
		return 0;
	}
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		errno = ENOTDIR;
	edge_log(EDGE_LOG_ERR, "edged", "cannot create %s %s: %s", what, path, strerror(errno));
	return -errno;
}

/* One edged per runtime directory: a second one would share the database
 * and take over the broker session under the same client id. */
static int take_instance_lock(struct edged *d, const char *runtime_dir)
{
	char path[EDGE_CONFIG_PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof path, "%s/edged.lock", runtime_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		edge_log(EDGE_LOG_ERR, "edged", "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK) {
			edge_log(EDGE_LOG_ERR, "edged", "another edged is running (%s is locked)",
				 path);
			return -EBUSY;
		}
		edge_log(EDGE_LOG_ERR, "edged", "cannot lock %s: %s", path, strerror(e));
		return -e;
	}
	d->lock_fd = fd;
	return 0;
}

static void on_store_wake(uv_async_t *h)
{
	struct edged *d = h->data;

	if (d->store)
		edge_store_run_completions(d->store);
}

/* Runs on the store's writer thread: uv_async_send is the one libuv call
 * that is safe there. */
static void store_wake(void *ud)
{
	uv_async_send(ud);
}

static int start_store(struct edged *d, const struct edge_settings *s)
{
	struct edge_store_options opt;
	char err[256] = "";
	int rc;

	rc = uv_async_init(d->loop, &d->store_wake, on_store_wake);
	if (rc < 0)
		return rc;
	d->store_wake.data = d;
	d->store_wake_open = true;
	edge_store_options_init(&opt);
	opt.queue_max_ops = (unsigned)s->store.queue_max_ops;
	opt.group_commit_max_ops = (unsigned)s->store.group_commit_max_ops;
	opt.group_commit_max_delay_ms = (unsigned)s->store.group_commit_max_delay_ms;
	opt.busy_timeout_ms = (unsigned)s->store.busy_timeout_ms;
	opt.quick_check = s->store.quick_check_on_start;
	opt.wal_max_bytes = s->store.wal_max_bytes;
	opt.wake = store_wake;
	opt.wake_ud = &d->store_wake;
	opt.errbuf = err;
	opt.errbuf_len = sizeof err;
	rc = edge_store_open(s->paths.database_file, &opt, &d->store);
	if (rc < 0)
		edge_log(EDGE_LOG_ERR, "edged", "cannot open database %s: %s", s->paths.database_file,
			 err[0] ? err : edge_strerror(rc));
	return rc;
}

static void on_registry_change(const struct edge_node_info *node, enum edge_node_state old_state,
			       enum edge_registry_event ev, void *ud)
{
	/* Lifecycle entries with a stable event name first, for grepping; per
	 * node at debug level: the registry logs one summary line of counts per
	 * registry.summary_interval_s at NOTICE. */
	edge_log(EDGE_LOG_DEBUG, "registry", "node_%s id=%s state=%s old_state=%s fw=%s model=%s%s%s",
		 edge_registry_event_name(ev), node->id, edge_node_state_name(node->state),
		 edge_node_state_name(old_state), node->fw_version,
		 node->has_model ? node->model_name : "none", node->has_model ? "@" : "",
		 node->has_model ? node->model_version : "");
	/* Transfers pause and resume with their nodes' presence; rollouts
	 * see activated nodes come back with their new model. */
	edged_ota_node_event(((struct edged *)ud)->ota, node->id, ev);
	edged_rollout_node_event(((struct edged *)ud)->rollout, ev);
}

static int start_registry(struct edged *d, const struct edge_settings *s)
{
	struct edge_registry_options opt;
	int rc;

	edge_registry_options_init(&opt);
	opt.max_devices = (unsigned)s->registry.max_devices;
	opt.stale_after_missed_heartbeats = (unsigned)s->registry.stale_after_missed_heartbeats;
	opt.default_heartbeat_interval_ms = (uint32_t)s->registry.default_heartbeat_interval_s * 1000;
	opt.persist_interval_ms = (uint32_t)s->registry.persist_interval_s * 1000;
	opt.summary_interval_ms = (uint32_t)s->registry.summary_interval_s * 1000;
	opt.on_change = on_registry_change;
	opt.on_change_ud = d;
	rc = edge_registry_new(d->store, &opt, &d->registry);
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "edged", "registry: %s", edge_strerror(rc));
		return rc;
	}
	rc = edge_registry_load(d->registry);
	if (rc == EDGE_ELIMIT) {
		edge_log(EDGE_LOG_WARNING, "edged",
			 "more stored nodes than registry.max_devices; the rest were not loaded");
		rc = 0;
	}
	if (rc < 0)
		edge_log(EDGE_LOG_ERR, "edged", "cannot load the registry: %s", edge_strerror(rc));
	return rc;
}

static void on_mqtt_message(void *ud, const struct edged_mqtt_message *msg)
{
	struct edged *d = ud;

	if (edged_upstream_on_message(d->upstream, msg))
		return;
	if (d->router)
		edged_router_on_message(d->router, msg);
}

static void on_mqtt_state(void *ud, enum edged_mqtt_state state)
{
	edged_update_status(ud);
}

static int start_mqtt(struct edged *d, const struct edge_settings *s)
{
	struct edged_mqtt_callbacks cb = {
		.on_message = on_mqtt_message,
		.on_state = on_mqtt_state,
		.ud = d,
	};
	int rc;

	rc = edged_mqtt_new(d->loop, s, &cb, &d->mqtt);
	if (rc == 0)
		rc = edged_router_new(d->mqtt, d->registry, s, &d->router);
	if (rc == 0)
		rc = edged_anomaly_new(d->store, d->mqtt, s, &d->anomaly);
	/* The upstream bridges' notifications (QoS 0: a state is retained). */
	if (rc == 0)
		rc = edged_upstream_new(&d->upstream);
	if (rc == 0)
		rc = edged_mqtt_subscribe(d->mqtt, EDGED_UPSTREAM_FILTER, 0);
	if (rc == 0) {
		edged_router_set_anomaly(d->router, d->anomaly);
		rc = edged_mqtt_start(d->mqtt);
	}
	if (rc < 0)
		edge_log(EDGE_LOG_ERR, "edged", "MQTT client: %s", edge_strerror(rc));
	return rc;
}

/* The history's read side: the tail fed by the ingest, the query service on
 * read-only connections, and rollups of a history stored before them
 * (blocking: the loop does not run yet). */
static int start_anomaly_reads(struct edged *d, const struct edge_settings *s)
{
	int rc = edged_anomaly_tail_new(d->loop, &d->tail);

	if (rc == 0)
		rc = edged_anomaly_query_new(d->loop, edge_store_path(d->store), s, &d->query);
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "edged", "anomaly queries: %s", edge_strerror(rc));
		return rc;
	}
	edged_anomaly_set_tail(d->anomaly, d->tail);
	(void)edged_anomaly_catch_up(d->anomaly); /* logged; statistics only */
	return 0;
}

/* A control.* group by name, resolved once at start-up. */
static int control_group(const char *key, const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);

	if (!g) {
		edge_log(EDGE_LOG_ERR, "edged", "control.%s: no group '%s'", key, name);
		return EDGE_ECONFIG;
	}
	*gid = g->gr_gid;
	return 0;
}

static int start_control(struct edged *d, const struct edge_settings *s)
{
	struct edged_control_options opt = {
		.path = s->paths.control_socket_path,
		.mode = (unsigned)s->control.socket_mode,
		.group = (gid_t)-1,
		.max_clients = (unsigned)s->control.max_clients,
		.max_request_bytes = s->control.max_request_bytes,
		.idle_timeout_ms = (unsigned)s->control.client_timeout_ms,
		.request_timeout_ms = (unsigned)s->control.request_timeout_ms,
		.commands = edged_commands,
		.ncommands = edged_commands_count,
		.ud = d,
	};
	char own_group[64];
	struct group *g;
	int rc;

	if (s->control.socket_group[0]) {
		if ((rc = control_group("socket_group", s->control.socket_group, &opt.group)) < 0)
			return rc;
		opt.group_name = s->control.socket_group;
	} else if ((g = getgrgid(getegid())) && strlen(g->gr_name) < sizeof own_group) {
		strcpy(own_group, g->gr_name); /* only named in refusals */
		opt.group_name = own_group;
	}
	if (s->control.read_group[0]) {
		if ((rc = control_group("read_group", s->control.read_group, &opt.read_group)) < 0)
			return rc;
		opt.read_group_name = s->control.read_group;
	}
	if (s->control.admin_group[0]) {
		rc = control_group("admin_group", s->control.admin_group, &opt.admin_group);
		if (rc < 0)
			return rc;
		opt.admin_group_name = s->control.admin_group;
	}
	if (opt.max_request_bytes > EDGE_CTL_REQUEST_MAX) {
		edge_log(EDGE_LOG_WARNING, "edged",
			 "control.max_request_bytes capped at the protocol limit of %u",
			 EDGE_CTL_REQUEST_MAX);
		opt.max_request_bytes = EDGE_CTL_REQUEST_MAX;
	}
	rc = edged_control_new(d->loop, &opt, &d->control);
	if (rc == -EEXIST)
		edge_log(EDGE_LOG_ERR, "edged", "control socket %s: a file that is not a socket "
			 "is in the way; not removing it", opt.path);
	else if (rc == -EADDRINUSE)
		edge_log(EDGE_LOG_ERR, "edged", "control socket %s: another process listens on it",
			 opt.path);
	else if (rc < 0)
		edge_log(EDGE_LOG_ERR, "edged", "control socket %s: %s", opt.path, edge_strerror(rc));
	else
		edge_log(EDGE_LOG_INFO, "edged", "control socket %s", opt.path);
	return rc;
}

static uint64_t store_progress(void *ud)
{
	struct edged *d = ud;

	return d->store ? edge_store_progress(d->store) : 0;
}

static void on_tick(uv_timer_t *t)
{
	struct edged *d = t->data;

	if (d->registry)
		edge_registry_tick(d->registry, edge_time_monotonic_ms());
	/* Episodes of a fleet gone quiet still close. */
	edged_anomaly_tick(d->anomaly);
	edged_update_status(d);
}

void edged_update_status(struct edged *d)
{
	struct edge_registry_counts rc = { 0 };
	const char *broker = "broker not started";

	if (!d->notify)
		return;
	if (d->registry)
		edge_registry_counts(d->registry, &rc);
	if (d->stopping)
		broker = "stopping";
	else if (d->mqtt) {
		struct edged_mqtt_stats ms;

		/* Attempts and waits alternate while the broker is away; one line
		 * for both keeps STATUS= from flapping. */
		edged_mqtt_get_stats(d->mqtt, &ms);
		if (ms.state == EDGED_MQTT_CONNECTED)
			broker = "connected to broker";
		else if (ms.last_error[0])
			broker = "broker unreachable, retrying";
		else
			broker = "connecting to broker";
	}
	edged_notify_status(d->notify, "%s, %u devices online, %u stale, %u offline, %u revoked",
			    broker, rc.by_state[EDGE_NODE_ONLINE], rc.by_state[EDGE_NODE_STALE],
			    rc.by_state[EDGE_NODE_OFFLINE], rc.by_state[EDGE_NODE_REVOKED]);
}

static void central_kick(void *ud)
{
	struct edged *d = ud;

	edged_central_kick(d->central);
}

static int edged_start(struct edged *d)
{
	const struct edge_settings *s = edge_config_settings(d->config);
	int rc;

	if ((rc = make_dir("state directory", s->paths.state_dir)) < 0 ||
	    (rc = make_dir("runtime directory", s->paths.runtime_dir)) < 0 ||
	    (rc = take_instance_lock(d, s->paths.runtime_dir)) < 0)
		return rc;
	if ((rc = start_store(d, s)) < 0)
		return rc;
	if ((rc = start_registry(d, s)) < 0)
		return rc;
	if ((rc = edged_identity_new(d, &d->identity)) < 0)
		return rc;
	if ((rc = start_mqtt(d, s)) < 0)
		return rc;
	if ((rc = start_anomaly_reads(d, s)) < 0)
		return rc;
	/* Reads the model store and resumes open transfers (blocking: the
	 * loop does not run yet). */
	if ((rc = edged_ota_new(d, &d->ota)) < 0)
		return rc;
	edged_router_set_ota(d->router, d->ota);
	/* After the OTA service: a rollout's running stage is one of its
	 * resumed transfers. */
	if ((rc = edged_rollout_new(d, &d->rollout)) < 0)
		return rc;
	/* After the OTA service: the enabled models are stored packages. */
	if ((rc = edged_offload_new(d, &d->offload)) < 0)
		return rc;
	edged_router_set_offload(d->router, d->offload);
	if ((rc = edged_central_new(d, &d->central)) < 0)
		return rc;
	edged_anomaly_set_stored_hook(d->anomaly, central_kick, d);
	if ((rc = start_control(d, s)) < 0)
		return rc;
	if ((rc = edged_notify_new(d->loop, &d->notify)) < 0 ||
	    (rc = edged_signals_new(d, &d->signals)) < 0)
		return rc;
	rc = uv_timer_init(d->loop, &d->tick);
	if (rc < 0)
		return rc;
	d->tick.data = d;
	d->tick_open = true;
	rc = uv_timer_init(d->loop, &d->drain);
	if (rc < 0)
		return rc;
	d->drain.data = d;
	d->drain_open = true;
	uv_timer_start(&d->tick, on_tick, 1000, 1000);
	/* Broker attempt started, store open, control socket listening. */
	edged_notify_ready(d->notify);
	edged_update_status(d);
	rc = edged_notify_start_watchdog(d->notify, store_progress, d);
	if (rc < 0)
		return rc;
	edge_log(EDGE_LOG_NOTICE, "edged", "edged %s ready", EDGE_VERSION);
	return 0;
}

/* ---- stop ---- */

static void on_mqtt_stopped(void *ud)
{
	struct edged *d = ud;

	uv_stop(d->loop);
}

/* Shutdown step 2: once everything submitted is committed and its
 * completions ran (they may publish acknowledgements), leave the broker. */
static void on_drain(uv_timer_t *t)
{
	struct edged *d = t->data;
	struct edge_store_stats ss = { 0 };
	unsigned unsaved = 0;

	/* A running identity operation finishes first, so that the database
	 * and the broker's files stay in step and its client gets the answer
	 * (new secrets are in it); the control socket closes after it. */
	if (!edged_identity_idle(d->identity) &&
	    edge_time_monotonic_ms() < d->drain_deadline_ms) {
		if (d->store)
			edge_store_run_completions(d->store);
		return;
	}
	edged_control_free(d->control);
	d->control = NULL;
	if (d->store) {
		edge_store_run_completions(d->store);
		/* Writes the store refused or failed are submitted again. */
		if (d->registry && (unsaved = edge_registry_unsaved(d->registry)) > 0 &&
		    edge_registry_sync(d->registry) < 0)
			edge_log(EDGE_LOG_DEBUG, "edged", "registry writes deferred while draining");
		edge_store_get_stats(d->store, &ss);
	}
	if ((ss.queue_depth || ss.completions_pending || unsaved) &&
	    edge_time_monotonic_ms() < d->drain_deadline_ms)
		return;
	if (ss.queue_depth || ss.completions_pending || unsaved)
		edge_log(EDGE_LOG_WARNING, "edged",
			 "store not drained in time (%u queued, %u nodes unsaved)", ss.queue_depth,
			 unsaved);
	uv_timer_stop(t);
	if (d->mqtt)
		edged_mqtt_stop(d->mqtt, on_mqtt_stopped, d);
	else
		uv_stop(d->loop);
}

void edged_shutdown(struct edged *d)
{
	int rc;

	if (d->stopping)
		return;
	d->stopping = true;
	if (d->notify)
		edged_notify_stopping(d->notify);
	/* Step 1: no new operator requests (the socket stays open until a
	 * running identity operation has answered, see on_drain); every
	 * unwritten node change is
	 * submitted to the store (never blocking: the loop keeps running, and
	 * on_drain resubmits what the store refused until everything is
	 * committed or the drain deadline passes). */
	edged_identity_stop(d->identity); /* waiting calls: `unavailable` */
	/* Queries: `unavailable`, running ones interrupted; followers:
	 * {"ended": "shutdown"}. */
	edged_anomaly_query_stop(d->query);
	edged_anomaly_tail_stop(d->tail);
	if (edged_identity_idle(d->identity)) {
		edged_control_free(d->control);
		d->control = NULL;
	}
	/* Reports arriving while draining are deferred (the nodes send them
	 * again); those being stored are still acked. */
	edged_anomaly_stop(d->anomaly);
	/* Queued offload requests are answered `internal` while MQTT is up. */
	edged_offload_stop(d->offload);
	/* The forwarder's last position goes to the store before it drains. */
	edged_central_stop(d->central);
	/* Node statuses of open transfers go to the store before it drains. */
	edged_rollout_stop(d->rollout);
	edged_ota_stop(d->ota);
	if (d->registry) {
		rc = edge_registry_sync(d->registry);
		if (rc < 0 && rc != EDGE_ELIMIT)
			edge_log(EDGE_LOG_WARNING, "edged", "registry not saved: %s", edge_strerror(rc));
	}
	d->drain_deadline_ms = edge_time_monotonic_ms() + SHUTDOWN_DRAIN_MS;
	if (d->drain_open)
		uv_timer_start(&d->drain, on_drain, 0, 20);
	else
		uv_stop(d->loop);
}

static void async_closed(uv_handle_t *h)
{
}

/* The one cleanup path, for a normal stop and for a failed start-up alike:
 * everything that exists is released, in the reverse order of start-up. */
static void edged_teardown(struct edged *d)
{
	int rc;

	edged_signals_free(d->signals);
	d->signals = NULL;
	if (d->tick_open)
		uv_close((uv_handle_t *)&d->tick, NULL);
	d->tick_open = false;
	if (d->drain_open)
		uv_close((uv_handle_t *)&d->drain, NULL);
	d->drain_open = false;
	edged_notify_free(d->notify);
	d->notify = NULL;
	/* Their calls are answered before the socket goes; a query still on
	 * the pool frees its memory when it is back (the last uv_run). */
	edged_anomaly_query_free(d->query);
	d->query = NULL;
	edged_anomaly_tail_free(d->tail);
	edged_control_free(d->control);
	d->control = NULL;
	/* Before the components it uses: an operation still running is
	 * answered `unavailable` and touches nothing else. */
	edged_identity_free(d->identity);
	d->identity = NULL;
	edged_router_free(d->router);
	d->router = NULL;
	edged_anomaly_detach(d->anomaly);
	edged_offload_stop(d->offload);
	edged_central_stop(d->central);
	edged_rollout_stop(d->rollout);
	edged_ota_stop(d->ota);
	edged_ota_detach(d->ota);
	edged_mqtt_free(d->mqtt);
	d->mqtt = NULL;
	edged_upstream_free(d->upstream);
	d->upstream = NULL;
	if (d->registry) {
		/* What changed while draining (messages keep arriving until the
		 * broker connection is closed), or everything after a failed
		 * start-up. The loop no longer runs: blocking is fine here. */
		rc = edge_registry_save(d->registry);
		if (rc < 0)
			edge_log(EDGE_LOG_WARNING, "edged", "registry not fully saved: %s",
				 edge_strerror(rc));
	}
	/* Remaining completions run inside close, after the registry is gone:
	 * its ops keep no pointer into it. */
	edge_registry_free(d->registry);
	d->registry = NULL;
	edge_store_close(d->store);
	d->store = NULL;
	/* After the store: its last completions point into the slots. */
	edged_anomaly_free(d->anomaly);
	d->anomaly = NULL;
	/* After the store (its completions count into it), before the OTA
	 * service (it unhooks itself from it). */
	edged_rollout_free(d->rollout);
	d->rollout = NULL;
	/* After the store: a cursor save's completion points into it. */
	edged_central_free(d->central);
	d->central = NULL;
	/* Before the OTA service: its package reads hold the service's dir. */
	edged_offload_free(d->offload);
	d->offload = NULL;
	edged_ota_free(d->ota); /* after the store: its completions use it */
	d->ota = NULL;
	d->tail = NULL; /* freed with its handle: store completions found it stopped */
	if (d->store_wake_open)
		uv_close((uv_handle_t *)&d->store_wake, async_closed);
	d->store_wake_open = false;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}

static void report_open_handle(uv_handle_t *h, void *arg)
{
	edge_log(EDGE_LOG_ERR, "edged", "handle still open at exit: %s%s",
		 uv_handle_type_name(uv_handle_get_type(h)), uv_is_closing(h) ? " (closing)" : "");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "dump-config", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *check_path = NULL;
	bool dump = false;
	struct edged d = { 0 };
	uv_loop_t loop;
	int opt, rc, exit_code = 0;

	while ((opt = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'C': check_path = optarg; break;
		case 'D': dump = true; break;
		case 'V': printf("edged %s\n", EDGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	/* libuv's pool (4 threads by default) serves group look-ups (2 at once),
	 * anomaly queries (2 at once, each up to anomaly.query_timeout_ms), the
	 * identity service (1) and the broker's name look-up (1): 6 threads, so
	 * long queries never hold up an operator's connection. Read once, at
	 * the pool's first use; an operator's own value wins. */
	(void)setenv("UV_THREADPOOL_SIZE", "6", 0);
	if (optind < argc) {
		fprintf(stderr, "edged: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (check_path) {
		/* ExecStartPre: plain 0/1, the reason on stderr. */
		rc = load_config(check_path, &d.config);
		if (rc < 0)
			return 1;
		/* Valid but likely unintended: warned about, never refused. */
		edge_config_advice(d.config, print_advice, (void *)check_path);
		edge_config_free(d.config);
		printf("%s: configuration ok\n", check_path);
		return 0;
	}
	if (!config_path && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = DEFAULT_CONFIG;
	if (load_config(config_path, &d.config) < 0)
		return EXIT_CONFIG;
	if (dump) {
		rc = edge_config_dump(d.config, stdout, false);
		edge_config_free(d.config);
		if (rc < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "edged: cannot write the configuration\n");
			return EXIT_STARTUP;
		}
		return 0;
	}

	/* A control client that hangs up must not kill edged. */
	signal(SIGPIPE, SIG_IGN);
	edged_log_init(edge_config_settings(d.config)->log.level);
	edge_log(EDGE_LOG_INFO, "edged", "edged %s starting (configuration: %s)", EDGE_VERSION,
		 config_path ? config_path : "built-in defaults");
	d.config_path = config_path;
	d.lock_fd = -1;
	d.start_ms = edge_time_monotonic_ms();
	rc = uv_loop_init(&loop);
	if (rc < 0) {
		fprintf(stderr, "edged: event loop: %s\n", uv_strerror(rc));
		edge_config_free(d.config);
		return EXIT_STARTUP;
	}
	d.loop = &loop;
	mosquitto_lib_init();

	rc = edged_start(&d);
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, "edged", "start-up failed: %s", edge_strerror(rc));
		exit_code = rc == EDGE_ECONFIG ? EXIT_CONFIG : EXIT_STARTUP;
	} else {
		uv_run(&loop, UV_RUN_DEFAULT);
	}

	edged_teardown(&d);
	/* Run the close callbacks; nothing else is active any more. */
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc < 0) {
		uv_walk(&loop, report_open_handle, NULL);
		edge_log(EDGE_LOG_ERR, "edged", "event loop not empty at exit: %s", uv_strerror(rc));
		if (!exit_code)
			exit_code = EXIT_STARTUP;
	}
	mosquitto_lib_cleanup();
	edge_log(EDGE_LOG_NOTICE, "edged", "stopped");
	edged_log_shutdown();
	edge_config_free(d.config);
	return exit_code;
}
