/* A simulated node's anomaly events: detected at a mean rate (jittered
 * gaps), kept and sent through the device SDK's report queue
 * (proto/edge_report_queue.h), exactly as firmware would. No loop, no
 * sockets: the caller publishes the batches and feeds the acks. */
#ifndef SIM_REPORTS_H
#define SIM_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "edge_report.h"
#include "edge_report_queue.h"

struct sim_reports {
	struct edge_report_queue q;
	struct edge_report_event *ev;
	struct edge_report_slot_state *st;
	size_t n_slots;
	uint32_t nv_epoch;      /* the node's stored epoch (its flash) */
	uint32_t rng;           /* event contents and gaps */
	double mean_gap_ms;
	double base_gap_ms;     /* at the node's --anomaly-rate, before a model factor */
	char model_name[EDGE_MSG_TOKEN_CAP], model_version[EDGE_MSG_VERSION_CAP]; /* in events */
	uint64_t next_event_ms; /* when the next anomaly is detected */
	unsigned long detected_since_boot; /* the heartbeat's anomalies */
	uint32_t last_seq;      /* seq of the last event of this epoch; 0: none */
	uint32_t rto_base_ms, rto_max_ms; /* the queue's; 0: its defaults */
	unsigned long lost_at_reboot; /* unacked events a reboot discarded */
	struct edge_report_queue_stats earlier; /* the queue's, previous boots */
};

/* Slots of the queue, events per second (> 0), a per-node seed (nonzero
 * spreads the fleet), the clock now. The first event comes one jittered gap
 * after now. 0, -EINVAL or -ENOMEM. */
int sim_reports_init(struct sim_reports *r, size_t n_slots, double rate_per_s,
		     uint32_t seed, uint64_t now_ms);
void sim_reports_free(struct sim_reports *r);

/* Retransmission timing of the queue (0: the SDK's defaults), right after
 * init, before any event: the queue starts again, taking the next epoch.
 * 0 or -EINVAL (max below base). */
int sim_reports_set_rto(struct sim_reports *r, uint32_t base_ms, uint32_t max_ms);

/* The model the node runs now: its events carry name@version, and are
 * detected at factor times the node's rate (a model that raises, or
 * lowers, the anomaly rate). 0 or -EINVAL (a name too long, factor <= 0). */
int sim_reports_set_model(struct sim_reports *r, const char *name, const char *version,
			  double factor, uint64_t now_ms);

/* Detect nothing more (the held events are still sent until acked). */
void sim_reports_calm(struct sim_reports *r);

/* Power cycle: the held events are gone, a new epoch is taken. */
void sim_reports_reboot(struct sim_reports *r, uint64_t now_ms);

/* Push the events detected up to now_ms; returns how many. */
unsigned sim_reports_detect(struct sim_reports *r, uint64_t now_ms);

/* When something next needs doing: the next detection, and, if connected,
 * the queue's next (re)transmission. */
uint64_t sim_reports_next_wakeup(const struct sim_reports *r, int connected);

#endif
