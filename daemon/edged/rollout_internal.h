/* Private to the rollout service (rollout.c: the service, its stages and
 * their persistence; rollout_commands.c: control commands, JSON shapes). */
#ifndef EDGED_ROLLOUT_INTERNAL_H
#define EDGED_ROLLOUT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

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

struct edged_ota;

struct ro_node {
	char id[EDGE_ROLLOUT_ID_MAX + 1];
	uint32_t stage;
	enum edge_rollout_node_outcome outcome;
	enum edge_rollout_outcome why; /* with outcome failure/success */
	char reason[48];               /* stored: the edge_rollout_outcome name */
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
	unsigned jobs;                 /* package reads on the pool */
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

#endif
