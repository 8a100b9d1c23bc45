/* Internals shared by the lib/anomaly sources (not for callers). */
#ifndef EDGE_ANOMALY_INTERNAL_H
#define EDGE_ANOMALY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_store.h"

struct sqlite3_stmt;

#define EDGE__HOUR_MS 3600000LL
#define EDGE__DAY_MS 86400000LL

/* Start of the UTC bucket of width w holding t (floor, negatives too). */
static inline int64_t edge__bucket(int64_t t, int64_t w)
{
	int64_t r = t % w;

	return r < 0 ? t - r - w : t - r;
}

/* One newly stored event, as the rollups see it (strings borrowed). */
struct edge__rollup_item {
	int64_t ts_ms;
	double score;
	const char *device, *label, *model;
};

/* The rollups' high-water mark: EDGE__ROLLUP_COMPLETE when every stored
 * event is rolled up (*max_id then not read: 0), else the highest id the
 * rollups include and *max_id the highest event id stored (0 when none).
 * Setting EDGE__ROLLUP_COMPLETE stores -1. Writer thread, inside a store
 * op. */
#define EDGE__ROLLUP_COMPLETE INT64_MAX
int edge__rollup_mark_get(edge_store_conn *conn, int64_t *mark, int64_t *max_id);
int edge__rollup_mark_set(edge_store_conn *conn, int64_t mark);

/* Adds items[0..n) to both rollup tables: one read and one write per
 * (hour, label, model) and per (device, day, label, model) group. Reorders
 * items. Writer thread, inside a store op. */
int edge__rollup_apply(edge_store_conn *conn, struct edge__rollup_item *items, size_t n);

/* The summary column of a row as JSON array text into buf (cap >=
 * EDGE_REPORT_SUMMARY_MAX * 16 + 3): the float32 blob schema 6 stores, or
 * the text schemas 4 and 5 stored. false (buf "") when there is none or
 * the blob is not one this build writes. */
bool edge__anomaly_summary_column(struct sqlite3_stmt *st, int col, char *buf, size_t cap);
/* v[0..n) as a JSON array, each with the fewest digits that read back. */
void edge__anomaly_summary_format(const float *v, unsigned n, char *buf, size_t cap);

/* The SQL of a list page (edge_anomaly_query.c), for the tests' EXPLAIN
 * QUERY PLAN. */
const char *edge__anomaly_list_sql(bool episodes, bool device);

#endif
