#include "bench_anomaly_common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const bench_labels[3] = { "vibration", "temperature", "current" };

int64_t bench_wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

double bench_mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

uint64_t bench_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

uint32_t bench_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static double rand01(uint32_t *x)
{
	return (double)bench_rand(x) / 4294967296.0;
}

void bench_fill_event(struct edge_report_event *e, uint32_t *rng, uint32_t seq, uint32_t age_ms)
{
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	strcpy(e->model_name, BENCH_MODEL_NAME);
	strcpy(e->model_version, BENCH_MODEL_VERSION);
	e->threshold = 0.65;
	e->score = e->threshold + 0.5 * rand01(rng);
	strcpy(e->label, bench_labels[bench_rand(rng) % 3]);
	e->has_severity = true;
	e->severity = (uint8_t)((e->score - e->threshold) * 14.0);
	e->n_summary = 3;
	for (unsigned i = 0; i < 3; i++)
		e->summary[i] = (float)(0.1 + 2.0 * rand01(rng));
	e->age_ms = age_ms;
}

void bench_device_id(char *buf, size_t cap, unsigned i)
{
	snprintf(buf, cap, "sim-%05u", i);
}
