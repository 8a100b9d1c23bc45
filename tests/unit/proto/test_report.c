/* report and ack: encode → parse round trips (doubles and floats exactly),
 * the canonical text, edge_msg_report_fit packing under 4096 bytes, and
 * encoders refusing what the parsers would reject. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "edge_report.h"
#include "test_proto.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static struct edge_report_event base_event(uint32_t seq)
{
	struct edge_report_event ev;

	memset(&ev, 0, sizeof ev);
	ev.seq = seq;
	strcpy(ev.model_name, "vib-ae");
	strcpy(ev.model_version, "2.1.0");
	ev.score = 0.8731;
	ev.threshold = 0.65;
	strcpy(ev.label, "vibration");
	ev.age_ms = 1200;
	return ev;
}

/* Deterministic xorshift64: the same values on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A double in the report's range with a random bit pattern, spread over
 * every magnitude (including subnormals). */
static double random_value(void)
{
	for (;;) {
		uint64_t bits = rng();
		double d;

		memcpy(&d, &bits, sizeof d);
		if (d >= -EDGE_REPORT_VALUE_MAX && d <= EDGE_REPORT_VALUE_MAX)
			return d;
	}
}

static float random_float(void)
{
	for (;;) {
		uint32_t bits = (uint32_t)rng();
		float f;

		memcpy(&f, &bits, sizeof f);
		if (f >= -1e9f && f <= 1e9f)
			return f;
	}
}

static void assert_same_event(const struct edge_report_event *a,
			      const struct edge_report_event *b)
{
	ck_assert_uint_eq(a->seq, b->seq);
	ck_assert_int_eq(a->has_sha256, b->has_sha256);
	if (a->has_sha256) {
		ck_assert_str_eq(a->model_sha256, b->model_sha256);
	} else {
		ck_assert_str_eq(a->model_name, b->model_name);
		ck_assert_str_eq(a->model_version, b->model_version);
	}
	/* Bit for bit: -0 stays -0. */
	ck_assert(memcmp(&a->score, &b->score, sizeof a->score) == 0);
	ck_assert(memcmp(&a->threshold, &b->threshold, sizeof a->threshold) == 0);
	ck_assert_str_eq(a->label, b->label);
	ck_assert_int_eq(a->has_severity, b->has_severity);
	if (a->has_severity)
		ck_assert_uint_eq(a->severity, b->severity);
	ck_assert_uint_eq(a->n_summary, b->n_summary);
	for (int i = 0; i < a->n_summary; i++)
		ck_assert_msg(memcmp(&a->summary[i], &b->summary[i], sizeof(float)) == 0,
			      "summary[%d]: %.9g != %.9g", i, (double)a->summary[i],
			      (double)b->summary[i]);
	ck_assert_int_eq(a->has_ts, b->has_ts);
	if (a->has_ts)
		ck_assert_uint_eq(a->ts_ms, b->ts_ms);
	else
		ck_assert_uint_eq(a->age_ms, b->age_ms);
}

static struct edge_msg_report parsed;
static char text[2 * EDGE_MSG_MAX_PAYLOAD];

static void round_trip(uint32_t epoch, uint32_t oldest,
		       const struct edge_report_event *ev, size_t n)
{
	struct edge_msg_error err;
	int len = edge_msg_encode_report(text, sizeof text, epoch, oldest, ev, n);

	ck_assert_int_gt(len, 0);
	ck_assert_uint_eq(strlen(text), (size_t)len);
	ck_assert_msg(edge_msg_parse_report(text, (size_t)len, &parsed, &err) == 0,
		      "%s at %s, offset %zu: %.80s", edge_msg_reject_name(err.reason),
		      err.field, err.offset, text + (err.offset > 40 ? err.offset - 40 : 0));
	ck_assert_uint_eq(parsed.epoch, epoch);
	ck_assert_uint_eq(parsed.oldest, oldest);
	ck_assert_uint_eq(parsed.n_events, n);
	for (size_t i = 0; i < n; i++)
		assert_same_event(&ev[i], &parsed.events[i]);
}

START_TEST(canonical_text)
{
	struct edge_report_event ev[2];
	int len;

	ev[0] = base_event(41);
	ev[0].has_severity = true;
	ev[0].severity = 4;
	ev[0].n_summary = 3;
	ev[0].summary[0] = 0.12f;
	ev[0].summary[1] = 1.5f;
	ev[0].summary[2] = 0.98f;
	ev[1] = base_event(42);
	ev[1].has_sha256 = true;
	strcpy(ev[1].model_sha256, SHA);
	ev[1].score = 12.5;
	ev[1].threshold = 10;
	strcpy(ev[1].label, "keyword.stop");
	ev[1].has_ts = true;
	ev[1].ts_ms = 1767225600000ull;

	len = edge_msg_encode_report(text, sizeof text, 17, 38, ev, 2);
	ck_assert_str_eq(text,
		"{\"proto\":1,\"epoch\":17,\"oldest\":38,\"events\":["
		"{\"seq\":41,\"model\":\"vib-ae@2.1.0\",\"score\":0.8731,\"threshold\":0.65,"
		"\"label\":\"vibration\",\"severity\":4,\"summary\":[0.12,1.5,0.98],"
		"\"age_ms\":1200},"
		"{\"seq\":42,\"model_sha256\":\"" SHA "\",\"score\":12.5,\"threshold\":10,"
		"\"label\":\"keyword.stop\",\"ts_ms\":1767225600000}]}");
	ck_assert_int_eq(len, (int)strlen(text));
	round_trip(17, 38, ev, 2);
}
END_TEST

/* Values whose shortest form is known, and the edges of the format. */
START_TEST(numbers_shortest_and_exact)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{ 0.1, "0.1" },
		{ 0.3, "0.3" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ 2.0 / 3.0, "0.6666666666666666" },
		{ 1e9, "1000000000" },
		{ -1e9, "-1000000000" },
		{ 0.0, "0" },
		{ -0.0, "-0" },
		{ 123.456, "123.456" },
		{ 1e-7, "1e-7" },
		{ 0.000001, "0.000001" },
		{ 5e-324, "5e-324" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
		{ 999999999.9999999, "999999999.9999999" },
	};
	struct edge_report_event ev = base_event(1);
	char want[96];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ev.score = cases[i].v;
		ck_assert_int_gt(edge_msg_encode_report(text, sizeof text, 1, 1, &ev, 1), 0);
		snprintf(want, sizeof want, "\"score\":%s,", cases[i].text);
		ck_assert_msg(strstr(text, want) != NULL, "%.17g: %s", cases[i].v, text);
		round_trip(1, 1, &ev, 1);
	}

	/* Floats get float digits, not the double's. */
	ev.score = 0;
	ev.n_summary = 4;
	ev.summary[0] = 0.1f;
	ev.summary[1] = 1e-45f; /* smallest subnormal */
	ev.summary[2] = 16777216.0f;
	ev.summary[3] = -3.4028235e8f;
	ck_assert_int_gt(edge_msg_encode_report(text, sizeof text, 1, 1, &ev, 1), 0);
	ck_assert_msg(strstr(text, "\"summary\":[0.1,1e-45,16777216,-") != NULL,
		      "%s", text);
	round_trip(1, 1, &ev, 1);
}
END_TEST

START_TEST(random_values_round_trip)
{
	struct edge_report_event ev[EDGE_REPORT_MAX_EVENTS];

	for (int round = 0; round < 400; round++) {
		for (uint32_t i = 0; i < EDGE_REPORT_MAX_EVENTS; i++) {
			ev[i] = base_event(i + 1 + (uint32_t)round * 100);
			ev[i].score = random_value();
			ev[i].threshold = (rng() & 1) ? random_value()
						      : (double)(int64_t)(rng() % 2000) / 1000.0;
			ev[i].n_summary = (uint8_t)(rng() % (EDGE_REPORT_SUMMARY_MAX + 1));
			for (int k = 0; k < ev[i].n_summary; k++)
				ev[i].summary[k] = (rng() & 1) ? random_float()
							       : (float)random_value();
			ev[i].has_severity = rng() & 1;
			ev[i].severity = (uint8_t)(rng() % 8);
			ev[i].has_ts = rng() & 1;
			ev[i].ts_ms = rng() % (EDGE_MSG_UINT_MAX + 1);
			ev[i].age_ms = (uint32_t)(rng() % (EDGE_REPORT_AGE_MAX_MS + 1ull));
		}
		/* Sent as the queue would: as many as fit in 4096 bytes. */
		uint32_t epoch = (uint32_t)rng();

		for (size_t first = 0, k; first < EDGE_REPORT_MAX_EVENTS; first += k) {
			uint32_t oldest = (uint32_t)(1 + rng() % ev[first].seq);

			k = edge_msg_report_fit(epoch, oldest, ev + first,
						EDGE_REPORT_MAX_EVENTS - first,
						EDGE_MSG_MAX_PAYLOAD + 1);
			ck_assert_uint_ge(k, 1);
			round_trip(epoch, oldest, ev + first, k);
		}
	}
}
END_TEST

START_TEST(limits_round_trip)
{
	struct edge_report_event ev[2];

	ev[0] = base_event(UINT32_MAX - 1);
	memset(ev[0].model_name, 'n', EDGE_MSG_TOKEN_CAP - 1);
	ev[0].model_name[EDGE_MSG_TOKEN_CAP - 1] = '\0';
	memset(ev[0].model_version, '+', EDGE_MSG_VERSION_CAP - 1);
	ev[0].model_version[EDGE_MSG_VERSION_CAP - 1] = '\0';
	memset(ev[0].label, 'l', EDGE_MSG_TOKEN_CAP - 1);
	ev[0].label[EDGE_MSG_TOKEN_CAP - 1] = '\0';
	ev[0].age_ms = EDGE_REPORT_AGE_MAX_MS;
	ev[0].has_severity = true;
	ev[0].severity = EDGE_REPORT_SEVERITY_MAX;
	ev[0].n_summary = EDGE_REPORT_SUMMARY_MAX;
	for (int i = 0; i < EDGE_REPORT_SUMMARY_MAX; i++)
		ev[0].summary[i] = i % 2 ? -1e9f : 1e9f;
	ev[1] = base_event(UINT32_MAX);
	ev[1].has_ts = true;
	ev[1].ts_ms = EDGE_MSG_UINT_MAX;
	ev[1].score = -EDGE_REPORT_VALUE_MAX;
	ev[1].threshold = EDGE_REPORT_VALUE_MAX;
	round_trip(UINT32_MAX, UINT32_MAX - 1, ev, 2);
	round_trip(0, 1, ev, 1);
	round_trip(5, UINT32_MAX, &ev[1], 1);
}
END_TEST

static bool rejected(const struct edge_report_event *ev)
{
	char buf[EDGE_MSG_MAX_PAYLOAD + 1];

	return !edge_report_event_valid(ev) &&
	       edge_msg_encode_report(buf, sizeof buf, 1, 1, ev, 1) == -EINVAL &&
	       edge_msg_report_fit(1, 1, ev, 1, sizeof buf) == 0;
}

START_TEST(encoder_refuses_invalid_events)
{
	struct edge_report_event ev, two[2];
	char buf[EDGE_MSG_MAX_PAYLOAD + 1];

	ev = base_event(1);
	ck_assert(edge_report_event_valid(&ev));
#define REFUSED(change)                          \
	do {                                     \
		ev = base_event(1);              \
		change;                          \
		ck_assert_msg(rejected(&ev), #change); \
	} while (0)
	REFUSED(ev.seq = 0);
	REFUSED(ev.model_name[0] = '\0');
	REFUSED(strcpy(ev.model_name, "a b"));
	REFUSED(strcpy(ev.model_name, "a+b"));
	REFUSED(strcpy(ev.model_name, "a@b"));
	REFUSED(memset(ev.model_name, 'n', sizeof ev.model_name)); /* no NUL */
	REFUSED(ev.model_version[0] = '\0');
	REFUSED(strcpy(ev.model_version, "1@2"));
	REFUSED((ev.has_sha256 = true, ev.model_sha256[0] = '\0'));
	REFUSED((ev.has_sha256 = true, strcpy(ev.model_sha256, SHA), ev.model_sha256[3] = 'F'));
	REFUSED((ev.has_sha256 = true, strcpy(ev.model_sha256, SHA), ev.model_sha256[63] = '\0'));
	REFUSED(ev.score = NAN);
	REFUSED(ev.score = INFINITY);
	REFUSED(ev.threshold = -INFINITY);
	REFUSED(ev.score = 1000000000.001);
	REFUSED(ev.threshold = -1e10);
	REFUSED(ev.label[0] = '\0');
	REFUSED(strcpy(ev.label, "vibración"));
	REFUSED((ev.has_severity = true, ev.severity = 8));
	REFUSED(ev.n_summary = EDGE_REPORT_SUMMARY_MAX + 1);
	REFUSED((ev.n_summary = 2, ev.summary[1] = NAN));
	REFUSED((ev.n_summary = 1, ev.summary[0] = 2e9f));
	REFUSED(ev.age_ms = EDGE_REPORT_AGE_MAX_MS + 1);
	REFUSED((ev.has_ts = true, ev.ts_ms = EDGE_MSG_UINT_MAX + 1));
#undef REFUSED

	/* A field of the other alternative is not looked at. */
	ev = base_event(1);
	ev.model_sha256[0] = 'X';
	ev.ts_ms = UINT64_MAX;
	ck_assert(edge_report_event_valid(&ev));

	/* Whole-report rules. */
	two[0] = base_event(5);
	two[1] = base_event(5);
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 1, two, 2), -EINVAL);
	two[1].seq = 4;
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 1, two, 2), -EINVAL);
	ck_assert_uint_eq(edge_msg_report_fit(1, 1, two, 2, sizeof buf), 1);
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 1, two, 0), -EINVAL);
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 1, NULL, 1), -EINVAL);
	ck_assert_int_eq(edge_msg_encode_report(NULL, 10, 1, 1, two, 1), -EINVAL);
	ck_assert_uint_eq(edge_msg_report_fit(1, 1, NULL, 1, sizeof buf), 0);

	/* oldest: 1..events[0].seq. */
	two[1].seq = 6;
	ck_assert_int_gt(edge_msg_encode_report(buf, sizeof buf, 1, 5, two, 2), 0);
	ck_assert_uint_eq(edge_msg_report_fit(1, 5, two, 2, sizeof buf), 2);
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 0, two, 2), -EINVAL);
	ck_assert_uint_eq(edge_msg_report_fit(1, 0, two, 2, sizeof buf), 0);
	/* Above the first event even if not above a later one. */
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 6, two, 2), -EINVAL);
	ck_assert_uint_eq(edge_msg_report_fit(1, 6, two, 2, sizeof buf), 0);
}
END_TEST

START_TEST(encoder_refuses_more_than_32_events)
{
	static struct edge_report_event ev[EDGE_REPORT_MAX_EVENTS + 1];
	static char buf[4 * EDGE_MSG_MAX_PAYLOAD];

	for (uint32_t i = 0; i <= EDGE_REPORT_MAX_EVENTS; i++) {
		ev[i] = base_event(i + 1);
		ev[i].score = 1;
		ev[i].threshold = 1;
	}
	ck_assert_int_eq(edge_msg_encode_report(buf, sizeof buf, 1, 1, ev,
						EDGE_REPORT_MAX_EVENTS + 1), -EINVAL);
	ck_assert_int_gt(edge_msg_encode_report(buf, sizeof buf, 1, 1, ev,
						EDGE_REPORT_MAX_EVENTS), 0);
	ck_assert_uint_eq(edge_msg_report_fit(1, 1, ev, EDGE_REPORT_MAX_EVENTS + 1, sizeof buf),
			  EDGE_REPORT_MAX_EVENTS);
}
END_TEST

START_TEST(encoder_reports_enospc)
{
	struct edge_report_event ev = base_event(1);
	struct edge_msg_ack ack = { 1, 2, 3 };
	char buf[256];
	int len = edge_msg_encode_report(buf, sizeof buf, 1, 1, &ev, 1);

	ck_assert_int_gt(len, 0);
	/* Exactly the length plus the NUL fits; one byte less does not. */
	ck_assert_int_eq(edge_msg_encode_report(buf, (size_t)len + 1, 1, 1, &ev, 1), len);
	ck_assert_int_eq(edge_msg_encode_report(buf, (size_t)len, 1, 1, &ev, 1), -ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(edge_msg_encode_report(buf, 1, 1, 1, &ev, 1), -ENOSPC);
	ck_assert_int_eq(edge_msg_encode_report(NULL, 0, 1, 1, &ev, 1), -ENOSPC);

	len = edge_msg_encode_ack(buf, sizeof buf, &ack);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(edge_msg_encode_ack(buf, (size_t)len, &ack), -ENOSPC);
	ck_assert_int_eq(edge_msg_encode_ack(NULL, 0, &ack), -ENOSPC);
}
END_TEST

/* Long events: names at their limits and 16 summary values with many
 * digits, about 480 bytes each. */
static void long_events(struct edge_report_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ev[i] = base_event((uint32_t)(3 * i + 7));
		memset(ev[i].model_name, 'm', EDGE_MSG_TOKEN_CAP - 1);
		ev[i].model_name[EDGE_MSG_TOKEN_CAP - 1] = '\0';
		memset(ev[i].model_version, 'v', EDGE_MSG_VERSION_CAP - 1);
		ev[i].model_version[EDGE_MSG_VERSION_CAP - 1] = '\0';
		ev[i].score = 1.0 / 3.0 + (double)i;
		ev[i].threshold = -2.0 / 3.0;
		ev[i].n_summary = EDGE_REPORT_SUMMARY_MAX;
		for (int k = 0; k < EDGE_REPORT_SUMMARY_MAX; k++)
			ev[i].summary[k] = -1.0f / (float)(k + 3) - (float)i;
		ev[i].has_severity = true;
		ev[i].severity = (uint8_t)(i % 8);
	}
}

START_TEST(fit_packs_the_most_under_4096)
{
	static struct edge_report_event ev[EDGE_REPORT_MAX_EVENTS];
	static char buf[8 * EDGE_MSG_MAX_PAYLOAD];
	const size_t cap = EDGE_MSG_MAX_PAYLOAD + 1; /* 4096 bytes + NUL */
	size_t fit;
	int len;

	long_events(ev, EDGE_REPORT_MAX_EVENTS);
	fit = edge_msg_report_fit(9, 1, ev, EDGE_REPORT_MAX_EVENTS, cap);
	ck_assert_uint_gt(fit, 1);
	ck_assert_uint_lt(fit, EDGE_REPORT_MAX_EVENTS);
	len = edge_msg_encode_report(buf, cap, 9, 1, ev, fit);
	ck_assert_int_gt(len, 0);
	ck_assert_int_le(len, EDGE_MSG_MAX_PAYLOAD);
	/* One more would not fit: fit is the most, not merely safe. */
	ck_assert_int_eq(edge_msg_encode_report(buf, cap, 9, 1, ev, fit + 1), -ENOSPC);
	len = edge_msg_encode_report(buf, sizeof buf, 9, 1, ev, fit + 1);
	ck_assert_int_gt(len, EDGE_MSG_MAX_PAYLOAD);
	/* What fits also parses (tokens and depth within the report's limits). */
	len = edge_msg_encode_report(buf, cap, 9, 1, ev, fit);
	ck_assert_int_eq(edge_msg_parse_report(buf, (size_t)len, &parsed, NULL), 0);
	ck_assert_uint_eq(parsed.n_events, fit);

	/* For every cap, fit agrees exactly with the encoder. */
	for (size_t c = 0; c <= 3 * 600; c += 7) {
		size_t k = edge_msg_report_fit(9, 1, ev, 4, c);

		if (k > 0)
			ck_assert_int_gt(edge_msg_encode_report(buf, c, 9, 1, ev, k), 0);
		if (k < 4)
			ck_assert_int_eq(edge_msg_encode_report(buf, c, 9, 1, ev, k + 1),
					 -ENOSPC);
	}
	ck_assert_uint_eq(edge_msg_report_fit(9, 1, ev, 1, 10), 0);

	/* Short events: all 32 fit. */
	for (uint32_t i = 0; i < EDGE_REPORT_MAX_EVENTS; i++)
		ev[i] = base_event(i + 1);
	ck_assert_uint_eq(edge_msg_report_fit(9, 1, ev, EDGE_REPORT_MAX_EVENTS, cap),
			  EDGE_REPORT_MAX_EVENTS);
}
END_TEST

START_TEST(ack_round_trip)
{
	static const struct edge_msg_ack acks[] = {
		{ 17, 40, 0x2 },
		{ 0, 0, 0 },
		{ UINT32_MAX, UINT32_MAX, 0 },
		{ 1, UINT32_MAX - 64, UINT64_MAX },
		{ 5, 100, 0x8000000000000001ull },
	};
	struct edge_msg_ack out;
	struct edge_msg_error err;
	char buf[128];
	int len;

	len = edge_msg_encode_ack(buf, sizeof buf, &acks[0]);
	ck_assert_str_eq(buf, "{\"proto\":1,\"epoch\":17,\"acked\":40,\"sack\":\"0000000000000002\"}");
	ck_assert_int_eq(len, (int)strlen(buf));
	for (size_t i = 0; i < sizeof acks / sizeof acks[0]; i++) {
		len = edge_msg_encode_ack(buf, sizeof buf, &acks[i]);
		ck_assert_int_gt(len, 0);
		ck_assert_int_eq(edge_msg_parse_ack(buf, (size_t)len, &out, &err), 0);
		ck_assert_uint_eq(out.epoch, acks[i].epoch);
		ck_assert_uint_eq(out.acked, acks[i].acked);
		ck_assert(out.sack == acks[i].sack);
	}
	len = edge_msg_encode_ack(buf, sizeof buf, &acks[3]);
	ck_assert(strstr(buf, "\"sack\":\"ffffffffffffffff\"") != NULL);
}
END_TEST

START_TEST(ack_encoder_refuses_bits_past_the_last_seq)
{
	struct edge_msg_ack ack = { 1, UINT32_MAX, 1 };
	char buf[128];

	ck_assert_int_eq(edge_msg_encode_ack(buf, sizeof buf, &ack), -EINVAL);
	ack.acked = UINT32_MAX - 63;
	ack.sack = UINT64_MAX;
	ck_assert_int_eq(edge_msg_encode_ack(buf, sizeof buf, &ack), -EINVAL);
	ack.sack = UINT64_MAX >> 1;
	ck_assert_int_gt(edge_msg_encode_ack(buf, sizeof buf, &ack), 0);
	ck_assert_int_eq(edge_msg_encode_ack(buf, sizeof buf, NULL), -EINVAL);
}
END_TEST

/* The gateway's entry point still treats report as a type it does not
 * process, and ack as one a node never sends. */
START_TEST(node_dispatch_leaves_report_unhandled)
{
	static struct edge_node_msg node;
	struct edge_report_event ev = base_event(1);
	struct edge_msg_error err;
	static const char report_topic[] = "edge/v1/node-01/report";
	static const char ack_topic[] = "edge/v1/node-01/ack";
	char buf[512];
	int len = edge_msg_encode_report(buf, sizeof buf, 3, 1, &ev, 1);

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(edge_msg_parse_node(report_topic, strlen(report_topic), buf,
					     (size_t)len, &node, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_UNHANDLED_TYPE);
	ck_assert_int_eq(edge_msg_parse_node(ack_topic, strlen(ack_topic), buf,
					     (size_t)len, &node, &err), -EPROTO);
	ck_assert_int_eq(err.reason, EDGE_MSG_WRONG_DIRECTION);
}
END_TEST

START_TEST(bad_sequence_name_is_stable)
{
	ck_assert_str_eq(edge_msg_reject_name(EDGE_MSG_BAD_SEQUENCE), "bad_sequence");
	ck_assert_int_eq(edge_msg_reject_from_name("bad_sequence"), EDGE_MSG_BAD_SEQUENCE);
	/* Appended after every earlier reason. */
	ck_assert_int_eq(EDGE_MSG_BAD_SEQUENCE, EDGE_MSG_INCONSISTENT + 1);
}
END_TEST

TCase *test_report_tcase(void)
{
	TCase *tc = tcase_create("report");

	tcase_add_test(tc, canonical_text);
	tcase_add_test(tc, numbers_shortest_and_exact);
	tcase_add_test(tc, random_values_round_trip);
	tcase_add_test(tc, limits_round_trip);
	tcase_add_test(tc, encoder_refuses_invalid_events);
	tcase_add_test(tc, encoder_refuses_more_than_32_events);
	tcase_add_test(tc, encoder_reports_enospc);
	tcase_add_test(tc, fit_packs_the_most_under_4096);
	tcase_add_test(tc, ack_round_trip);
	tcase_add_test(tc, ack_encoder_refuses_bits_past_the_last_seq);
	tcase_add_test(tc, node_dispatch_leaves_report_unhandled);
	tcase_add_test(tc, bad_sequence_name_is_stable);
	return tc;
}
