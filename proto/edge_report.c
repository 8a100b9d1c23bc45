/* Anomaly reports (report, ack): the node's side of the codec. The ack
 * parser, validating encoders and a shortest round-trip number writer that
 * needs no libc formatting; the report parser, the gateway's, is in
 * edge_report_parse.c. */
#include "edge_report.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "edge_json.h"
#include "edge_msg_internal.h"
#include "edge_report_internal.h"

/* NUL-terminated s within cap (NUL included) and of its class. */
static int text_ok(const char *s, size_t cap, int (*ok)(char))
{
	size_t n = 0;

	while (n < cap && s[n])
		n++;
	return n < cap && edge_msg_check_class(s, n, cap - 1, ok) == EDGE_MSG_OK;
}

/* ---------------------------------------------------------- event table */

/* The members of an event (edge_report_internal.h). */
const struct edge_report_member edge_report_members[EDGE_REPORT_N_MEMBERS] = {
	{ "seq", NULL, EDGE_REPORT_SEQ, true, 0 },
	{ "model", "model_sha256", EDGE_REPORT_MODEL, true, 0 },
	{ "score", NULL, EDGE_REPORT_VALUE, true,
	  offsetof(struct edge_report_event, score) },
	{ "threshold", NULL, EDGE_REPORT_VALUE, true,
	  offsetof(struct edge_report_event, threshold) },
	{ "label", NULL, EDGE_REPORT_LABEL, true, 0 },
	{ "severity", NULL, EDGE_REPORT_SEVERITY, false, 0 },
	{ "summary", NULL, EDGE_REPORT_SUMMARY, false, 0 },
	{ "age_ms", "ts_ms", EDGE_REPORT_TIME, true, 0 },
};

static double value_member(const struct edge_report_member *m,
			   const struct edge_report_event *ev)
{
	double v;

	memcpy(&v, (const char *)ev + m->offset, sizeof v);
	return v;
}

/* Whether the event has optional member m, or uses m's alternative key. */
static bool has_member(const struct edge_report_member *m,
		       const struct edge_report_event *ev)
{
	switch (m->kind) {
	case EDGE_REPORT_SEVERITY: return ev->has_severity;
	case EDGE_REPORT_SUMMARY: return ev->n_summary > 0;
	default: return true;
	}
}

static bool uses_alt(const struct edge_report_member *m,
		     const struct edge_report_event *ev)
{
	return (m->kind == EDGE_REPORT_MODEL && ev->has_sha256) ||
	       (m->kind == EDGE_REPORT_TIME && ev->has_ts);
}

/* -------------------------------------------------------------------- ack */

/* Seqs past UINT32_MAX do not exist: sack bits for them are contradictory. */
static int sack_fits(uint32_t acked, uint64_t sack)
{
	uint64_t room = (uint64_t)UINT32_MAX - acked; /* seqs after acked */

	return room >= 64 || (sack >> room) == 0;
}

static int parse_ack_fields(struct edge_msg_ctx *c, void *msg)
{
	struct edge_msg_ack *out = msg;
	struct edge_msg_path p = { "sack", -1, NULL, -1 };
	char hex[EDGE_ACK_SACK_HEX + 1];
	uint64_t v, sack = 0;
	size_t n, i;
	int t;

	if (edge_msg_get_uint(c, "epoch", 0, UINT32_MAX, &v) < 0)
		return -EPROTO;
	out->epoch = (uint32_t)v;
	if (edge_msg_get_uint(c, "acked", 0, UINT32_MAX, &v) < 0)
		return -EPROTO;
	out->acked = (uint32_t)v;

	t = edge_json_obj_get(&c->doc, 0, "sack");
	if (t < 0)
		return edge_msg_reject_key(c, EDGE_MSG_MISSING_FIELD, "sack", -1);
	if (edge_msg_read_string(c, t, &p, hex, sizeof hex, &n) < 0)
		return -EPROTO;
	if (n != EDGE_ACK_SACK_HEX)
		return edge_msg_reject_key(c, EDGE_MSG_BAD_STRING, "sack", t);
	for (i = 0; i < n; i++) {
		if (!edge_msg_lower_hex(hex[i]))
			return edge_msg_reject_key(c, EDGE_MSG_BAD_STRING, "sack", t);
		sack = sack << 4 |
		       (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	}
	if (!sack_fits(out->acked, sack))
		return edge_msg_reject_key(c, EDGE_MSG_INCONSISTENT, "sack", t);
	out->sack = sack;
	return 0;
}

int edge_msg_parse_ack(const char *buf, size_t len, struct edge_msg_ack *out,
		       struct edge_msg_error *err)
{
	/* A node's parser: only what an ack may hold (§4), not 256 tokens. */
	struct edge_json_tok toks[EDGE_ACK_MAX_TOKENS];

	return edge_msg_parse(buf, len, err, out, sizeof *out, toks,
			      EDGE_ACK_MAX_TOKENS, EDGE_MSG_MAX_DEPTH,
			      parse_ack_fields);
}

/* ------------------------------------------------------- number writer */

/* Shortest-digits formatting after Loitsch's Grisu2 ("Printing
 * floating-point numbers quickly and accurately with integers", 2010): the
 * digits lie strictly inside the rounding interval of the value, so a
 * correctly rounding reader (strtod, strtof) gives the same value back. The
 * interval is taken at the precision of the type, so a float gets float
 * digits ("0.1", not "0.10000000149011612"). */

struct diy_fp {
	uint64_t f;
	int e;
};

/* 10^k for k = -348, -340, ..., 340, normalized (top bit set), rounded. */
static const struct diy_fp cached_pow10[] = {
	{ 0xfa8fd5a0081c0288ull, -1220 }, /* 1e-348 */
	{ 0xbaaee17fa23ebf76ull, -1193 }, /* 1e-340 */
	{ 0x8b16fb203055ac76ull, -1166 }, /* 1e-332 */
	{ 0xcf42894a5dce35eaull, -1140 }, /* 1e-324 */
	{ 0x9a6bb0aa55653b2dull, -1113 }, /* 1e-316 */
	{ 0xe61acf033d1a45dfull, -1087 }, /* 1e-308 */
	{ 0xab70fe17c79ac6caull, -1060 }, /* 1e-300 */
	{ 0xff77b1fcbebcdc4full, -1034 }, /* 1e-292 */
	{ 0xbe5691ef416bd60cull, -1007 }, /* 1e-284 */
	{ 0x8dd01fad907ffc3cull, -980 }, /* 1e-276 */
	{ 0xd3515c2831559a83ull, -954 }, /* 1e-268 */
	{ 0x9d71ac8fada6c9b5ull, -927 }, /* 1e-260 */
	{ 0xea9c227723ee8bcbull, -901 }, /* 1e-252 */
	{ 0xaecc49914078536dull, -874 }, /* 1e-244 */
	{ 0x823c12795db6ce57ull, -847 }, /* 1e-236 */
	{ 0xc21094364dfb5637ull, -821 }, /* 1e-228 */
	{ 0x9096ea6f3848984full, -794 }, /* 1e-220 */
	{ 0xd77485cb25823ac7ull, -768 }, /* 1e-212 */
	{ 0xa086cfcd97bf97f4ull, -741 }, /* 1e-204 */
	{ 0xef340a98172aace5ull, -715 }, /* 1e-196 */
	{ 0xb23867fb2a35b28eull, -688 }, /* 1e-188 */
	{ 0x84c8d4dfd2c63f3bull, -661 }, /* 1e-180 */
	{ 0xc5dd44271ad3cdbaull, -635 }, /* 1e-172 */
	{ 0x936b9fcebb25c996ull, -608 }, /* 1e-164 */
	{ 0xdbac6c247d62a584ull, -582 }, /* 1e-156 */
	{ 0xa3ab66580d5fdaf6ull, -555 }, /* 1e-148 */
	{ 0xf3e2f893dec3f126ull, -529 }, /* 1e-140 */
	{ 0xb5b5ada8aaff80b8ull, -502 }, /* 1e-132 */
	{ 0x87625f056c7c4a8bull, -475 }, /* 1e-124 */
	{ 0xc9bcff6034c13053ull, -449 }, /* 1e-116 */
	{ 0x964e858c91ba2655ull, -422 }, /* 1e-108 */
	{ 0xdff9772470297ebdull, -396 }, /* 1e-100 */
	{ 0xa6dfbd9fb8e5b88full, -369 }, /* 1e-92 */
	{ 0xf8a95fcf88747d94ull, -343 }, /* 1e-84 */
	{ 0xb94470938fa89bcfull, -316 }, /* 1e-76 */
	{ 0x8a08f0f8bf0f156bull, -289 }, /* 1e-68 */
	{ 0xcdb02555653131b6ull, -263 }, /* 1e-60 */
	{ 0x993fe2c6d07b7facull, -236 }, /* 1e-52 */
	{ 0xe45c10c42a2b3b06ull, -210 }, /* 1e-44 */
	{ 0xaa242499697392d3ull, -183 }, /* 1e-36 */
	{ 0xfd87b5f28300ca0eull, -157 }, /* 1e-28 */
	{ 0xbce5086492111aebull, -130 }, /* 1e-20 */
	{ 0x8cbccc096f5088ccull, -103 }, /* 1e-12 */
	{ 0xd1b71758e219652cull, -77 }, /* 1e-4 */
	{ 0x9c40000000000000ull, -50 }, /* 1e4 */
	{ 0xe8d4a51000000000ull, -24 }, /* 1e12 */
	{ 0xad78ebc5ac620000ull, 3 }, /* 1e20 */
	{ 0x813f3978f8940984ull, 30 }, /* 1e28 */
	{ 0xc097ce7bc90715b3ull, 56 }, /* 1e36 */
	{ 0x8f7e32ce7bea5c70ull, 83 }, /* 1e44 */
	{ 0xd5d238a4abe98068ull, 109 }, /* 1e52 */
	{ 0x9f4f2726179a2245ull, 136 }, /* 1e60 */
	{ 0xed63a231d4c4fb27ull, 162 }, /* 1e68 */
	{ 0xb0de65388cc8ada8ull, 189 }, /* 1e76 */
	{ 0x83c7088e1aab65dbull, 216 }, /* 1e84 */
	{ 0xc45d1df942711d9aull, 242 }, /* 1e92 */
	{ 0x924d692ca61be758ull, 269 }, /* 1e100 */
	{ 0xda01ee641a708deaull, 295 }, /* 1e108 */
	{ 0xa26da3999aef774aull, 322 }, /* 1e116 */
	{ 0xf209787bb47d6b85ull, 348 }, /* 1e124 */
	{ 0xb454e4a179dd1877ull, 375 }, /* 1e132 */
	{ 0x865b86925b9bc5c2ull, 402 }, /* 1e140 */
	{ 0xc83553c5c8965d3dull, 428 }, /* 1e148 */
	{ 0x952ab45cfa97a0b3ull, 455 }, /* 1e156 */
	{ 0xde469fbd99a05fe3ull, 481 }, /* 1e164 */
	{ 0xa59bc234db398c25ull, 508 }, /* 1e172 */
	{ 0xf6c69a72a3989f5cull, 534 }, /* 1e180 */
	{ 0xb7dcbf5354e9beceull, 561 }, /* 1e188 */
	{ 0x88fcf317f22241e2ull, 588 }, /* 1e196 */
	{ 0xcc20ce9bd35c78a5ull, 614 }, /* 1e204 */
	{ 0x98165af37b2153dfull, 641 }, /* 1e212 */
	{ 0xe2a0b5dc971f303aull, 667 }, /* 1e220 */
	{ 0xa8d9d1535ce3b396ull, 694 }, /* 1e228 */
	{ 0xfb9b7cd9a4a7443cull, 720 }, /* 1e236 */
	{ 0xbb764c4ca7a44410ull, 747 }, /* 1e244 */
	{ 0x8bab8eefb6409c1aull, 774 }, /* 1e252 */
	{ 0xd01fef10a657842cull, 800 }, /* 1e260 */
	{ 0x9b10a4e5e9913129ull, 827 }, /* 1e268 */
	{ 0xe7109bfba19c0c9dull, 853 }, /* 1e276 */
	{ 0xac2820d9623bf429ull, 880 }, /* 1e284 */
	{ 0x80444b5e7aa7cf85ull, 907 }, /* 1e292 */
	{ 0xbf21e44003acdd2dull, 933 }, /* 1e300 */
	{ 0x8e679c2f5e44ff8full, 960 }, /* 1e308 */
	{ 0xd433179d9c8cb841ull, 986 }, /* 1e316 */
	{ 0x9e19db92b4e31ba9ull, 1013 }, /* 1e324 */
	{ 0xeb96bf6ebadf77d9ull, 1039 }, /* 1e332 */
	{ 0xaf87023b9bf0ee6bull, 1066 }, /* 1e340 */
};
#define CACHED_POW10_FIRST (-348)
#define CACHED_POW10_STEP 8

static struct diy_fp fp_mul(struct diy_fp x, struct diy_fp y)
{
	const uint64_t m32 = 0xffffffffu;
	uint64_t a = x.f >> 32, b = x.f & m32, c = y.f >> 32, d = y.f & m32;
	uint64_t ac = a * c, bc = b * c, ad = a * d, bd = b * d;
	uint64_t mid = (bd >> 32) + (ad & m32) + (bc & m32) + (1u << 31);
	struct diy_fp r;

	r.f = ac + (ad >> 32) + (bc >> 32) + (mid >> 32);
	r.e = x.e + y.e + 64;
	return r;
}

static struct diy_fp fp_normalize(struct diy_fp x)
{
	while (!(x.f & (UINT64_C(1) << 63))) {
		x.f <<= 1;
		x.e--;
	}
	return x;
}

/* The value f * 2^e (f > 0) and whether its lower neighbour is closer
 * (f is a power of two at the bottom of a binade). */
struct fp_value {
	uint64_t f;
	int e;
	int lower_closer;
};

static uint64_t pow10_u64(int k)
{
	uint64_t p = 1;

	while (k-- > 0)
		p *= 10;
	return p;
}

static void grisu_round(char *buf, int len, uint64_t delta, uint64_t rest,
			uint64_t ten_kappa, uint64_t wp_w)
{
	while (rest < wp_w && delta - rest >= ten_kappa &&
	       (rest + ten_kappa < wp_w ||
		wp_w - rest > rest + ten_kappa - wp_w)) {
		buf[len - 1]--;
		rest += ten_kappa;
	}
}

/* Digits of v into buf (at most 18), value = digits * 10^*k. */
static int grisu2(struct fp_value v, char *buf, int *k)
{
	struct diy_fp w = { v.f, v.e }, mp, mm, c, W, Wp, Wm, one;
	uint64_t delta, p2, wp_w;
	uint32_t p1;
	int kappa, len = 0;
	uint64_t idx;
	size_t i;

	w = fp_normalize(w);
	mp.f = (v.f << 1) + 1;
	mp.e = v.e - 1;
	mp = fp_normalize(mp);
	if (v.lower_closer) {
		mm.f = (v.f << 2) - 1;
		mm.e = v.e - 2;
	} else {
		mm.f = (v.f << 1) - 1;
		mm.e = v.e - 1;
	}
	mm.f <<= mm.e - mp.e;
	mm.e = mp.e;

	/* A power of ten that brings mp's exponent into [-60, -32]. */
	c = cached_pow10[0];
	for (i = 0; i < EDGE_N_ELEMS(cached_pow10); i++) {
		c = cached_pow10[i];
		if (mp.e + c.e + 64 >= -60)
			break;
	}
	*k = -(CACHED_POW10_FIRST + (int)i * CACHED_POW10_STEP);

	W = fp_mul(w, c);
	Wp = fp_mul(mp, c);
	Wm = fp_mul(mm, c);
	Wm.f++;
	Wp.f--;
	delta = Wp.f - Wm.f;

	one.e = Wp.e;
	one.f = UINT64_C(1) << -one.e;
	wp_w = Wp.f - W.f;
	p1 = (uint32_t)(Wp.f >> -one.e);
	p2 = Wp.f & (one.f - 1);
	for (kappa = 1, idx = 10; kappa < 10 && p1 >= idx; kappa++)
		idx *= 10;

	while (kappa > 0) {
		uint32_t div = (uint32_t)pow10_u64(kappa - 1), d = p1 / div;
		uint64_t rest;

		p1 %= div;
		if (d || len)
			buf[len++] = (char)('0' + d);
		kappa--;
		rest = ((uint64_t)p1 << -one.e) + p2;
		if (rest <= delta) {
			*k += kappa;
			grisu_round(buf, len, delta, rest,
				    pow10_u64(kappa) << -one.e, wp_w);
			return len;
		}
	}
	for (;;) {
		char d;

		p2 *= 10;
		delta *= 10;
		d = (char)(p2 >> -one.e);
		if (d || len)
			buf[len++] = (char)('0' + d);
		p2 &= one.f - 1;
		kappa--;
		if (p2 < delta) {
			*k += kappa;
			grisu_round(buf, len, delta, p2, one.f,
				    -kappa < 20 ? wp_w * pow10_u64(-kappa) : 0);
			return len;
		}
	}
}

/* JSON text of digits * 10^k (len digits), at most 26 bytes + NUL. */
static size_t format_decimal(char *out, int neg, const char *digits, int len, int k)
{
	int point = len + k; /* position of the decimal point */
	size_t n = 0;
	int i, e;

	if (neg)
		out[n++] = '-';
	if (point > 0 && point <= 21) {
		for (i = 0; i < point; i++)
			out[n++] = i < len ? digits[i] : '0';
		if (len > point) {
			out[n++] = '.';
			for (i = point; i < len; i++)
				out[n++] = digits[i];
		}
	} else if (point <= 0 && point > -6) {
		out[n++] = '0';
		out[n++] = '.';
		for (i = point; i < 0; i++)
			out[n++] = '0';
		for (i = 0; i < len; i++)
			out[n++] = digits[i];
	} else {
		out[n++] = digits[0];
		if (len > 1) {
			out[n++] = '.';
			for (i = 1; i < len; i++)
				out[n++] = digits[i];
		}
		out[n++] = 'e';
		e = point - 1;
		if (e < 0) {
			out[n++] = '-';
			e = -e;
		}
		if (e >= 100)
			out[n++] = (char)('0' + e / 100);
		if (e >= 10)
			out[n++] = (char)('0' + e / 10 % 10);
		out[n++] = (char)('0' + e % 10);
	}
	out[n] = '\0';
	return n;
}

#define NUMBER_CAP 32

static size_t format_fp(char *out, int neg, struct fp_value v)
{
	char digits[24];
	int k, len;

	if (v.f == 0) {
		return format_decimal(out, neg, "0", 1, 0);
	}
	len = grisu2(v, digits, &k);
	return format_decimal(out, neg, digits, len, k);
}

static size_t format_double(char *out, double x)
{
	uint64_t bits, frac;
	struct fp_value v;
	int be;

	memcpy(&bits, &x, sizeof bits);
	frac = bits & ((UINT64_C(1) << 52) - 1);
	be = (int)(bits >> 52 & 0x7ff);
	v.f = be ? frac | UINT64_C(1) << 52 : frac;
	v.e = be ? be - 1075 : -1074;
	v.lower_closer = frac == 0 && be > 1;
	return format_fp(out, (int)(bits >> 63), v);
}

static size_t format_float(char *out, float x)
{
	uint32_t bits, frac;
	struct fp_value v;
	int be;

	memcpy(&bits, &x, sizeof bits);
	frac = bits & ((UINT32_C(1) << 23) - 1);
	be = (int)(bits >> 23 & 0xff);
	v.f = be ? frac | UINT32_C(1) << 23 : frac;
	v.e = be ? be - 150 : -149;
	v.lower_closer = frac == 0 && be > 1;
	return format_fp(out, (int)(bits >> 31), v);
}

/* --------------------------------------------------------------- encoders */

/* The writer is edge_msg_out (edge_msg_internal.h); buf NULL only counts
 * (edge_msg_report_fit). */

static void put_double(struct edge_msg_out *o, double x)
{
	char num[NUMBER_CAP];

	edge_msg_out_n(o, num, format_double(num, x));
}

static void put_float(struct edge_msg_out *o, float x)
{
	char num[NUMBER_CAP];

	edge_msg_out_n(o, num, format_float(num, x));
}

/* "key": */
static void put_key(struct edge_msg_out *o, const char *key, int first)
{
	edge_msg_out_str(o, first ? "\"" : ",\"");
	edge_msg_out_str(o, key);
	edge_msg_out_str(o, "\":");
}

static void put_str(struct edge_msg_out *o, const char *s)
{
	edge_msg_out_str(o, "\"");
	edge_msg_out_str(o, s);
	edge_msg_out_str(o, "\"");
}

static bool member_valid(const struct edge_report_member *m,
			 const struct edge_report_event *ev)
{
	uint8_t i;

	switch (m->kind) {
	case EDGE_REPORT_SEQ:
		return ev->seq != 0;
	case EDGE_REPORT_MODEL:
		if (ev->has_sha256)
			return edge_msg_sha256_ok(ev->model_sha256);
		return text_ok(ev->model_name, sizeof ev->model_name,
			       edge_msg_name_char) &&
		       text_ok(ev->model_version, sizeof ev->model_version,
			       edge_msg_version_char);
	case EDGE_REPORT_VALUE:
		return edge_report_value_ok(value_member(m, ev));
	case EDGE_REPORT_LABEL:
		return text_ok(ev->label, sizeof ev->label, edge_msg_name_char);
	case EDGE_REPORT_SEVERITY:
		return !ev->has_severity || ev->severity <= EDGE_REPORT_SEVERITY_MAX;
	case EDGE_REPORT_SUMMARY:
		if (ev->n_summary > EDGE_REPORT_SUMMARY_MAX)
			return false;
		for (i = 0; i < ev->n_summary; i++)
			if (!edge_report_value_ok((double)ev->summary[i]))
				return false;
		return true;
	case EDGE_REPORT_TIME:
		return ev->has_ts ? ev->ts_ms <= EDGE_MSG_UINT_MAX
				  : ev->age_ms <= EDGE_REPORT_AGE_MAX_MS;
	}
	return false;
}

bool edge_report_event_fields_valid(const struct edge_report_event *ev)
{
	size_t k;

	for (k = 0; k < EDGE_REPORT_N_MEMBERS; k++)
		if (edge_report_members[k].kind != EDGE_REPORT_SEQ &&
		    !member_valid(&edge_report_members[k], ev))
			return false;
	return true;
}

bool edge_report_event_valid(const struct edge_report_event *ev)
{
	return ev && ev->seq != 0 && edge_report_event_fields_valid(ev);
}

static void put_member(struct edge_msg_out *o, const struct edge_report_member *m,
		       const struct edge_report_event *ev, int first)
{
	uint8_t i;

	put_key(o, uses_alt(m, ev) ? m->alt : m->key, first);
	switch (m->kind) {
	case EDGE_REPORT_SEQ:
		edge_msg_out_uint(o, ev->seq);
		break;
	case EDGE_REPORT_MODEL:
		edge_msg_out_str(o, "\"");
		if (ev->has_sha256) {
			edge_msg_out_str(o, ev->model_sha256);
		} else {
			edge_msg_out_str(o, ev->model_name);
			edge_msg_out_str(o, "@");
			edge_msg_out_str(o, ev->model_version);
		}
		edge_msg_out_str(o, "\"");
		break;
	case EDGE_REPORT_VALUE:
		put_double(o, value_member(m, ev));
		break;
	case EDGE_REPORT_LABEL:
		put_str(o, ev->label);
		break;
	case EDGE_REPORT_SEVERITY:
		edge_msg_out_uint(o, ev->severity);
		break;
	case EDGE_REPORT_SUMMARY:
		edge_msg_out_str(o, "[");
		for (i = 0; i < ev->n_summary; i++) {
			if (i)
				edge_msg_out_str(o, ",");
			put_float(o, ev->summary[i]);
		}
		edge_msg_out_str(o, "]");
		break;
	case EDGE_REPORT_TIME:
		edge_msg_out_uint(o, ev->has_ts ? ev->ts_ms : ev->age_ms);
		break;
	}
}

static void put_event(struct edge_msg_out *o, const struct edge_report_event *ev)
{
	size_t k;

	edge_msg_out_str(o, "{");
	for (k = 0; k < EDGE_REPORT_N_MEMBERS; k++)
		if (has_member(&edge_report_members[k], ev))
			put_member(o, &edge_report_members[k], ev, k == 0);
	edge_msg_out_str(o, "}");
}

static void put_report_head(struct edge_msg_out *o, uint32_t epoch, uint32_t oldest)
{
	edge_msg_out_str(o, "{");
	put_key(o, "proto", 1);
	edge_msg_out_uint(o, EDGE_PROTO_VERSION);
	put_key(o, "epoch", 0);
	edge_msg_out_uint(o, epoch);
	put_key(o, "oldest", 0);
	edge_msg_out_uint(o, oldest);
	put_key(o, "events", 0);
	edge_msg_out_str(o, "[");
}

#define REPORT_TAIL "]}"

/* 1 <= oldest <= the first event's seq. */
static bool oldest_ok(uint32_t oldest, const struct edge_report_event *first)
{
	return oldest != 0 && oldest <= first->seq;
}

int edge_msg_encode_report(char *buf, size_t cap, uint32_t epoch,
			   uint32_t oldest,
			   const struct edge_report_event *events, size_t n)
{
	struct edge_msg_out o = { buf, cap, 0 };
	size_t i;

	if (!events || n == 0 || n > EDGE_REPORT_MAX_EVENTS || (!buf && cap) ||
	    !oldest_ok(oldest, &events[0]))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!edge_report_event_valid(&events[i]) ||
		    (i > 0 && events[i].seq <= events[i - 1].seq))
			return -EINVAL;
	if (!buf)
		return -ENOSPC;

	put_report_head(&o, epoch, oldest);
	for (i = 0; i < n; i++) {
		if (i)
			edge_msg_out_str(&o, ",");
		put_event(&o, &events[i]);
	}
	edge_msg_out_str(&o, REPORT_TAIL);
	return edge_msg_out_finish(&o);
}

size_t edge_msg_report_fit(uint32_t epoch, uint32_t oldest,
			   const struct edge_report_event *events, size_t n,
			   size_t cap)
{
	struct edge_msg_out o = { NULL, 0, 0 };
	size_t i, tail = sizeof REPORT_TAIL - 1;

	if (!events || n == 0 || !oldest_ok(oldest, &events[0]))
		return 0;
	if (n > EDGE_REPORT_MAX_EVENTS)
		n = EDGE_REPORT_MAX_EVENTS;
	put_report_head(&o, epoch, oldest);
	for (i = 0; i < n; i++) {
		if (!edge_report_event_valid(&events[i]) ||
		    (i > 0 && events[i].seq <= events[i - 1].seq))
			break;
		if (i)
			edge_msg_out_str(&o, ",");
		put_event(&o, &events[i]);
		/* The text plus its tail and NUL must fit in cap. */
		if (o.len + tail >= cap)
			break;
	}
	return i;
}

int edge_msg_encode_ack(char *buf, size_t cap, const struct edge_msg_ack *ack)
{
	static const char hex[] = "0123456789abcdef";
	struct edge_msg_out o = { buf, cap, 0 };
	char sack[EDGE_ACK_SACK_HEX];
	int i;

	if (!ack || !sack_fits(ack->acked, ack->sack))
		return -EINVAL;
	if (!buf)
		return -ENOSPC;
	for (i = 0; i < EDGE_ACK_SACK_HEX; i++)
		sack[i] = hex[ack->sack >> (4 * (EDGE_ACK_SACK_HEX - 1 - i)) & 0xf];

	edge_msg_out_str(&o, "{");
	put_key(&o, "proto", 1);
	edge_msg_out_uint(&o, EDGE_PROTO_VERSION);
	put_key(&o, "epoch", 0);
	edge_msg_out_uint(&o, ack->epoch);
	put_key(&o, "acked", 0);
	edge_msg_out_uint(&o, ack->acked);
	put_key(&o, "sack", 0);
	edge_msg_out_str(&o, "\"");
	edge_msg_out_n(&o, sack, sizeof sack);
	edge_msg_out_str(&o, "\"}");
	return edge_msg_out_finish(&o);
}
