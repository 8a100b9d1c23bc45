/* Private to the rollout service (rollout.c: the service, its stages and
 * their persistence; rollout_health.c: the model-aware health looks of a
 * soak; rollout_revert.c: sending nodes back to their previous model;
 * rollout_commands.c: control commands, JSON shapes). */
#ifndef EDGED_ROLLOUT_INTERNAL_H
#define EDGED_ROLLOUT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "edge_anomaly_query.h"
#include "edge_config.h"
#include "edge_ota_sender.h"
#include "edge_ota_transfer.h"
#include "edge_registry.h"
#include "edge_rollout_health.h"
#include "edge_rollout_judge.h"
#include "edge_rollout_plan.h"
#include "edge_rollout_store.h"
#include "edge_store.h"
#include "rollout.h"

#define ROLLOUT_EVENTS_KEEP EDGE_ROLLOUT_LOAD_EVENTS
/* Finished rollouts kept in memory for rollout.list / rollout.status. */
#define ROLLOUT_FINISHED_KEEP EDGE_ROLLOUT_LOAD_FINISHED
/* Retry of a stage start that found ota.max_transfers reached. */
#define ROLLOUT_RETRY_MS 1000
#define ROLLOUT_SOAK_MAX_S (7u * 24 * 3600)
/* While nodes wait to be seen online with the new model, or to answer a
 * revert: how often the service looks again. */
#define ROLLOUT_POLL_MS 1000
/* An unanswered revert frame is sent again after this long (while the
 * node is online), until rollout.node_timeout_s. */
#define ROLLOUT_REVERT_RESEND_MS 5000

struct edge_settings;

struct edged_ota;

struct ro_node {
	char id[EDGE_ROLLOUT_ID_MAX + 1];
	uint32_t stage;
	enum edge_rollout_node_outcome outcome;
	enum edge_rollout_outcome why; /* with outcome failure/success */
	char reason[48];               /* stored: the edge_rollout_outcome name */
	/* wall ms its activation was reported; success once the registry
	 * shows it online with the new model (0: no report yet) */
	int64_t activated_ms;
	int64_t baseline_from_ms;      /* wall: running since, when its stage started (0: unknown) */
	uint8_t revert;                /* enum ro_revert */
	uint32_t revert_id;            /* the revert frame's transfer id */
	uint64_t revert_sent_ms;       /* monotonic, last revert frame */
};

enum ro_revert {
	RO_REVERT_NONE = 0,
	RO_REVERT_SLOT,    /* a revert frame is out: waiting for the result */
	RO_REVERT_BYTES,   /* not held in its other slot: the previous model's bytes are sent */
	RO_REVERT_ENDED,   /* reverted, or it could not be (reason says why) */
};

/* The last health look of a stage's soak. */
struct ro_health {
	bool has;
	unsigned look, looks;
	int64_t ts_ms;
	uint32_t nodes_new, nodes_peers;
	struct edge_health_report rep;
};

struct ro_event {
	int64_t ts_ms;
	char text[EDGE_ROLLOUT_EVENT_MAX];
};

struct rollout {
	struct rollout *next;          /* newest first */
	struct edged_rollout *svc;
	struct edge_rollout_row row;
	struct edge_rollout_spec spec;
	uint32_t max_failures_bp;
	uint32_t soak_s;
	uint32_t n_stages;
	struct ro_node *nodes;         /* by stage, in plan order */
	unsigned n_nodes;
	struct ro_event ev[ROLLOUT_EVENTS_KEEP]; /* ring */
	unsigned ev_head, ev_n;
	bool reading;                  /* the package read is on the pool */
	uint64_t soak_until_ms;        /* monotonic, while soaking */
	uint64_t retry_at_ms;          /* monotonic: stage start retry (0: none) */
	bool health;                   /* spec "health": looks during each soak */
	bool auto_revert;              /* spec "auto_revert": a health halt reverts the stage */
	unsigned looks_done;           /* of the current soak */
	unsigned soak_looks;           /* looks of the current soak, fixed at its start (0: not yet) */
	bool looking;                  /* a health look is on the pool */
	struct ro_health *health_of;   /* per stage, n_stages */
	uint64_t *stage_bytes;         /* per stage: model bytes its transfer published (not kept
					  across a restart; the "passed" event says it) */
	uint32_t revert_xfer;          /* the fallback transfer of a revert, 0: none */
	int64_t revert_started_ms;     /* wall: the revert frames' deadline counts from here */
	bool revert_open;              /* a revert runs: its end is still to be told */
};

struct edged_rollout {
	struct edged *d;
	uv_loop_t *loop;
	edge_store *store;
	struct edged_ota *ota;
	struct rollout *list;          /* newest first */
	uint32_t next_id;
	uv_timer_t *timer;             /* own allocation: freed by its close */
	bool stopping;
	bool freeing;
	unsigned jobs;                 /* package reads and health looks on the pool */
	char db_path[EDGE_CONFIG_PATH_MAX];
	edge_anomaly_reader *reader;   /* health looks' read-only connection, opened on first use */
	bool looking;                  /* one look at a time uses the reader */
	struct edged_rollout_stats stats;
};

/* rollout.c */
struct rollout *ro_find(const struct edged_rollout *s, uint32_t id);
/* The unfinished rollout holding node id (NULL: none). */
struct rollout *ro_of_node(const struct edged_rollout *s, const char *id);
struct rollout *ro_of_name(const struct edged_rollout *s, const char *name);
/* Creates, persists and starts a rollout of the planned nodes (ids in
 * stage order, stage_of[i] each). 0 with *out or -ENOMEM. */
int ro_create(struct edged_rollout *s, const struct edge_ota_model *m, const char *spec_json,
	      const struct edge_rollout_spec *spec, uint32_t max_failures_bp, uint32_t soak_s,
	      char (*ids)[EDGE_ROLLOUT_ID_MAX + 1], const uint32_t *stage_of, unsigned n,
	      struct rollout **out);
/* Drops the oldest finished rollouts beyond ROLLOUT_FINISHED_KEEP. */
void ro_trim(struct edged_rollout *s);
void ro_set_state(struct rollout *r, enum edge_rollout_state st, const char *reason);
void ro_event(struct rollout *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Cancels the open transfer of r's current stage (if any). */
void ro_cancel_transfer(struct rollout *r);
/* Re-evaluates every rollout soon (from a timer, never inside a callback). */
void ro_kick(struct edged_rollout *s);
/* The stage name: "canary" or "wave N". */
void ro_stage_name(const struct rollout *r, uint32_t k, char *buf, size_t cap);
/* Since when node info has been running as far as edged knows (wall ms):
 * its boot (its last heartbeat's uptime) or when it was first seen,
 * whichever is later; 0 when it is not online. */
int64_t ro_running_since(const struct edge_node_info *info);
/* Model bytes stage k's transfer published so far (its open transfer's
 * count, else what was counted when it ended). */
uint64_t ro_stage_bytes(const struct rollout *r, uint32_t k);
/* Nodes of stage k: [*first, *first + *n). */
void ro_stage_range(const struct rollout *r, uint32_t k, unsigned *first, unsigned *n);
/* Persists nodes [first, first + n) of r. */
void ro_save_nodes(struct rollout *r, unsigned first, unsigned n);
void ro_save_row(struct rollout *r);
/* Arms the service's timer in delay_ms (sooner wins). */
void ro_arm(struct edged_rollout *s, uint64_t delay_ms);
const struct edge_settings *ro_settings(const struct edged_rollout *s);
/* The service may be freed once its last pool job came back: true when
 * it was (the caller must not touch it). */
bool ro_job_end(struct edged_rollout *s);

/* launch(r, pkg, NULL) with a package in memory; launch(r, NULL, why)
 * when it cannot be read; launch(r, NULL, NULL) when memory ran out (try
 * again later). Never called while the service stops. */
struct ota_pkg;
typedef void (*ro_pkg_fn)(struct rollout *r, struct ota_pkg *pkg, const char *err);
/* m's package: at once when in memory, else after a read on the pool
 * (r->reading meanwhile). 0, or -ENOMEM when nothing was started. */
int ro_with_package(struct rollout *r, const struct edge_ota_model *m, ro_pkg_fn launch);

/* rollout_health.c */
/* The soak of r's current stage: starts a look when one is due (on the
 * pool; its end acts: halt, auto-revert, or the soak goes on). Returns
 * true while the soak must wait for looks. *next_ms: when to step again. */
bool ro_health_step(struct rollout *r, uint64_t now_ms, uint64_t *next_ms);
/* Looks already due when a soak resumes after a restart are skipped
 * (each look spends its share of the false-alarm rate). */
void ro_health_resume(struct rollout *r, int64_t now_wall);
json_t *ro_health_json(const struct ro_health *h);
void ro_health_close(struct edged_rollout *s);

/* rollout_revert.c */
/* Sends r's nodes back to their previous model: every node of stage
 * `stage` that activated, or of every stage with stage UINT32_MAX. Nodes
 * whose previous model is in their other slot get a revert frame (no model
 * bytes); the others the previous model's package, when stored. */
void ro_revert_start(struct rollout *r, uint32_t stage);
/* Resends, timeouts, the fallback transfer, the end of a revert. */
void ro_revert_step(struct rollout *r, uint64_t now_ms, uint64_t *next_ms);
/* A result answer to a revert frame (the OTA service's hook): 0, or
 * EDGE_ENOTFOUND when no revert waits for it. */
int ro_revert_on_answer(void *ud, const char *id, const struct edge_ota_answer *a);
/* A final node state of the fallback transfer. */
void ro_revert_on_final(struct rollout *r, const struct edge_ota_node_status *st);
/* After a restart: a reverting rollout sends its frames again. */
void ro_revert_resume(struct rollout *r);
bool ro_reverting(const struct rollout *r);

#endif
