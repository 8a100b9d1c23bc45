/* The daemon's components and their owner. One struct edged per process; the
 * control commands and signal handlers reach the components through it. */
#ifndef EDGED_H
#define EDGED_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "edge_config.h"
#include "edge_registry.h"
#include "edge_store.h"

struct edged_identity;
struct edged_mqtt;
struct edged_router;
struct edged_anomaly;
struct edged_anomaly_query;
struct edged_anomaly_tail;
struct edged_control;
struct edged_notify;
struct edged_signals;
struct edged_ota;
struct edged_rollout;
struct edged_central;
struct edged_upstream;

struct edged {
	uv_loop_t *loop;
	const char *config_path;      /* borrowed (argv); NULL: built-in defaults */
	edge_config *config;          /* owned; replaced on reload */
	uint64_t start_ms;            /* monotonic, for uptime */
	int lock_fd;                  /* single-instance lock in runtime_dir; -1 if none */

	edge_store *store;            /* owned */
	uv_async_t store_wake;        /* writer thread → run completions */
	bool store_wake_open;
	edge_registry *registry;      /* owned */
	struct edged_identity *identity; /* owned: node identities (identity.h) */
	struct edged_mqtt *mqtt;      /* owned */
	struct edged_router *router;  /* owned */
	struct edged_anomaly *anomaly; /* owned: reports stored and acked (anomaly.h) */
	struct edged_anomaly_query *query; /* owned: history queries (anomaly_query.h) */
	struct edged_anomaly_tail *tail; /* owned: anomalies.tail followers (anomaly_tail.h) */
	struct edged_ota *ota;        /* owned: model store and transfers (ota.h) */
	struct edged_rollout *rollout; /* owned: staged rollouts (rollout.h) */
	struct edged_offload *offload; /* owned: offloaded inference (offload.h); NULL when off */
	struct edged_central *central; /* owned: forwarding to the central history (central.h); NULL when off */
	struct edged_upstream *upstream; /* owned: the broker's upstream bridges' state (upstream.h) */
	struct edged_control *control; /* owned */
	struct edged_notify *notify;  /* owned */
	struct edged_signals *signals; /* owned */
	uv_timer_t tick;              /* 1 s: registry staleness, status line */
	bool tick_open;
	uv_timer_t drain;             /* shutdown: waits for the store to drain */
	bool drain_open;
	uint64_t drain_deadline_ms;

	bool stopping;
	uint64_t reloads;
	uint64_t reload_failures;
	char last_reload_error[256];
};

/* Re-read the config file and apply what can change at run time. Returns 0
 * (also when some changed keys need a restart: they are listed in
 * needs_restart, comma-separated) or a negative code with the reason in err;
 * the running config is then unchanged. */
EDGE_WUR int edged_reload(struct edged *d, char *needs_restart, size_t nr_len, char *err,
			  size_t errlen);

/* Begin the graceful stop (idempotent). */
void edged_shutdown(struct edged *d);

/* Refresh the service manager's STATUS= line. */
void edged_update_status(struct edged *d);

#endif
