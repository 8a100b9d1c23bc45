/* The anomaly tests' sample event: one model, label and score, so every
 * test speaks of the same kind of report. */
#ifndef ANOMALY_REPORT_FIXTURE_H
#define ANOMALY_REPORT_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "edge_report.h"

/* Event seq of model vib-ae@2.1.0, label vibration, 1.2 s old. */
static inline struct edge_report_event fixture_event(uint32_t seq)
{
	struct edge_report_event ev;

	memset(&ev, 0, sizeof ev);
	ev.seq = seq;
	snprintf(ev.model_name, sizeof ev.model_name, "vib-ae");
	snprintf(ev.model_version, sizeof ev.model_version, "2.1.0");
	ev.score = 0.8731;
	ev.threshold = 0.65;
	snprintf(ev.label, sizeof ev.label, "vibration");
	ev.age_ms = 1200;
	return ev;
}

#endif
