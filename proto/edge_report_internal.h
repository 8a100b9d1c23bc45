/* Internal to proto/ (not part of the SDK's API): the members of a report
 * event, in wire and check order (the table of node-protocol.md §5.5). This
 * one table, defined in edge_report.c, drives the parser
 * (edge_report_parse.c), the validator and the encoder (edge_report.c). A
 * member with an alternative key is one of two: exactly one must be
 * present, and the struct says which (has_sha256, has_ts). */
#ifndef EDGE_REPORT_INTERNAL_H
#define EDGE_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_report.h"

enum edge_report_kind {
	EDGE_REPORT_SEQ,      /* 1..UINT32_MAX, above the previous event's */
	EDGE_REPORT_MODEL,    /* "name@version"; alt: 64 hex digits */
	EDGE_REPORT_VALUE,    /* finite double at offset, |x| <= 1e9 */
	EDGE_REPORT_LABEL,    /* name class */
	EDGE_REPORT_SEVERITY, /* optional, 0..7 */
	EDGE_REPORT_SUMMARY,  /* optional array of floats */
	EDGE_REPORT_TIME,     /* age_ms; alt: ts_ms */
};

struct edge_report_member {
	const char *key;
	const char *alt;
	enum edge_report_kind kind;
	bool required;
	size_t offset; /* EDGE_REPORT_VALUE only: the double in the event */
};

#define EDGE_REPORT_N_MEMBERS 8
extern const struct edge_report_member edge_report_members[EDGE_REPORT_N_MEMBERS];

/* Every per-event rule of §5.5 but seq's (edge_report_event_valid without
 * the seq): for a sender that numbers the event itself. */
bool edge_report_event_fields_valid(const struct edge_report_event *ev);

/* Finite and |x| <= EDGE_REPORT_VALUE_MAX (false for NaN too). */
static inline bool edge_report_value_ok(double x)
{
	return x >= -EDGE_REPORT_VALUE_MAX && x <= EDGE_REPORT_VALUE_MAX;
}

#endif
