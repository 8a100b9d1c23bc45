/* Fuzz target for the anomaly report codec: the input is one payload, fed
 * to the report and the ack parser.
 *
 * Beyond "no crash, no overread", it checks invariants: whatever parses
 * re-encodes, the encoding parses back to the same values (doubles and
 * floats bit for bit) and re-encodes to the same bytes; edge_msg_report_fit
 * agrees with the encoder's length; a rejection carries a known reason and
 * a terminated field path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_report.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct edge_msg_report rep_a, rep_b;
/* A canonical report may be longer than the one received ("1e9"). */
static char enc1[2 * EDGE_MSG_MAX_PAYLOAD], enc2[2 * EDGE_MSG_MAX_PAYLOAD];

static void check_report(const char *payload, size_t len)
{
	struct edge_msg_error err;
	int n1, n2;

	if (edge_msg_parse_report(payload, len, &rep_a, &err) != 0) {
		check_error(&err);
		return;
	}
	CHECK(rep_a.n_events >= 1 && rep_a.n_events <= EDGE_REPORT_MAX_EVENTS);
	CHECK(rep_a.oldest >= 1 && rep_a.oldest <= rep_a.events[0].seq);
	for (unsigned i = 0; i < rep_a.n_events; i++) {
		CHECK(edge_report_event_valid(&rep_a.events[i]));
		CHECK(i == 0 || rep_a.events[i].seq > rep_a.events[i - 1].seq);
	}
	n1 = edge_msg_encode_report(enc1, sizeof enc1, rep_a.epoch, rep_a.oldest,
				    rep_a.events, rep_a.n_events);
	CHECK(n1 > 0);
	CHECK(edge_msg_report_fit(rep_a.epoch, rep_a.oldest, rep_a.events,
				  rep_a.n_events, (size_t)n1 + 1) == rep_a.n_events);
	CHECK(edge_msg_report_fit(rep_a.epoch, rep_a.oldest, rep_a.events,
				  rep_a.n_events, (size_t)n1) < rep_a.n_events);
	if (n1 > EDGE_MSG_MAX_PAYLOAD)
		return; /* valid, but its canonical form is over the limit */
	CHECK(edge_msg_parse_report(enc1, (size_t)n1, &rep_b, NULL) == 0);
	/* Parsers clear the whole struct first, so memcmp is exact. */
	CHECK(memcmp(&rep_a, &rep_b, sizeof rep_a) == 0);
	n2 = edge_msg_encode_report(enc2, sizeof enc2, rep_b.epoch, rep_b.oldest,
				    rep_b.events, rep_b.n_events);
	CHECK(n1 == n2 && memcmp(enc1, enc2, (size_t)n1) == 0);
}

static void check_ack(const char *payload, size_t len)
{
	struct edge_msg_ack a, b;
	struct edge_msg_error err;
	char buf[128];
	int n;

	if (edge_msg_parse_ack(payload, len, &a, &err) != 0) {
		check_error(&err);
		return;
	}
	n = edge_msg_encode_ack(buf, sizeof buf, &a);
	CHECK(n > 0);
	CHECK(edge_msg_parse_ack(buf, (size_t)n, &b, NULL) == 0);
	CHECK(a.epoch == b.epoch && a.acked == b.acked && a.sack == b.sack);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_report((const char *)data, size);
	check_ack((const char *)data, size);
	return 0;
}
