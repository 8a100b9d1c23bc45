/* Shared by the anomaly benchmark programs (raw-insert, ingest-writer,
 * anomaly-gen): the clocks, the kernel's write count, and events that look
 * like the simulator's (tests/sim/sim_reports.c: model vib-ae@2.1.0, three
 * labels, a score above its threshold, three summary values). */
#ifndef BENCH_ANOMALY_COMMON_H
#define BENCH_ANOMALY_COMMON_H

#include <stdint.h>

#include "edge_report.h"

#define BENCH_MODEL_NAME "vib-ae"
#define BENCH_MODEL_VERSION "2.1.0"

extern const char *const bench_labels[3];

int64_t bench_wall_ms(void);
double bench_mono_s(void);
/* write_bytes of /proc/self/io (every thread of the process), 0 if absent. */
uint64_t bench_write_bytes(void);
uint32_t bench_rand(uint32_t *x);
/* A simulator-like event with seq and age_ms. */
void bench_fill_event(struct edge_report_event *e, uint32_t *rng, uint32_t seq, uint32_t age_ms);
/* The device id of index i: sim-00042, as edge-sim names its nodes. */
void bench_device_id(char *buf, size_t cap, unsigned i);

#endif
