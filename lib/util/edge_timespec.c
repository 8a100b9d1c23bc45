/* Operator time parsing (edge_timespec.h). Hand-written, not strptime: that
 * one depends on the locale and has no offsets in C99. */
#include "edge_timespec.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define MS_PER_S 1000
#define MS_PER_DAY (86400LL * MS_PER_S)
/* 10000-01-01T00:00:00Z: the first instant no longer accepted. */
#define MS_YEAR_10000 (2932897LL * MS_PER_DAY)

static int fail(const char **why, int rc, const char *reason)
{
	if (why)
		*why = reason;
	return rc;
}

/* Exactly n decimal digits at *p, advancing it; -1 if not. */
static int digits(const char **p, unsigned n)
{
	int v = 0;

	for (unsigned i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

/* Howard Hinnant's days_from_civil. */
int64_t edge_timespec_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(int y, unsigned m)
{
	static const unsigned char dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

static int parse_relative(const char *s, int64_t now_ms, int64_t *out, const char **why)
{
	int64_t n = 0, unit;
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return fail(why, -EINVAL, "not a date, a duration (24h, 7d) or now");
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - 9) / 10)
			return fail(why, -ERANGE, "duration too long");
		n = n * 10 + (*p - '0');
	}
	switch (*p) {
	case 's': unit = MS_PER_S; break;
	case 'm': unit = 60LL * MS_PER_S; break;
	case 'h': unit = 3600LL * MS_PER_S; break;
	case 'd': unit = MS_PER_DAY; break;
	case 'w': unit = 7 * MS_PER_DAY; break;
	case '\0': return fail(why, -EINVAL, "duration without a unit (s, m, h, d, w)");
	default: return fail(why, -EINVAL, "unknown duration unit (s, m, h, d, w)");
	}
	if (p[1] != '\0')
		return fail(why, -EINVAL, "text after the duration");
	if (n > now_ms / unit)
		return fail(why, -ERANGE, "duration reaches before 1970");
	*out = now_ms - n * unit;
	return fail(why, 0, "");
}

/* Z, +HH, +HH:MM, +HHMM (or -): *off_ms is what to subtract from the local
 * time to get UTC. */
static int parse_offset(const char *p, int64_t *off_ms, const char **why)
{
	int sign, h, m = 0;

	*off_ms = 0;
	if (*p == '\0')
		return 0;
	if (p[0] == 'Z' && p[1] == '\0')
		return 0;
	if (*p != '+' && *p != '-')
		return fail(why, -EINVAL, "text after the time (want Z or +HH:MM)");
	sign = *p++ == '-' ? -1 : 1;
	if ((h = digits(&p, 2)) < 0)
		return fail(why, -EINVAL, "bad UTC offset (want +HH:MM)");
	if (*p == ':')
		p++;
	if (*p != '\0' && (m = digits(&p, 2)) < 0)
		return fail(why, -EINVAL, "bad UTC offset (want +HH:MM)");
	if (*p != '\0')
		return fail(why, -EINVAL, "text after the UTC offset");
	if (h > 23 || m > 59)
		return fail(why, -EINVAL, "UTC offset out of range");
	*off_ms = sign * ((int64_t)h * 3600 + m * 60) * MS_PER_S;
	return 0;
}

static int parse_iso(const char *s, int64_t *out, const char **why)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, rc;
	int64_t off, t;

	if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		return fail(why, -EINVAL, "bad date (want YYYY-MM-DD)");
	if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo))
		return fail(why, -EINVAL, "no such date");
	if (y < 1970)
		return fail(why, -ERANGE, "date before 1970");
	if (*p == 'T' || *p == ' ') {
		p++;
		if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0)
			return fail(why, -EINVAL, "bad time of day (want HH:MM[:SS])");
		if (*p == ':') {
			p++;
			if ((sec = digits(&p, 2)) < 0)
				return fail(why, -EINVAL, "bad seconds (want HH:MM:SS)");
			if (*p == '.') {
				unsigned n = 0;

				/* Milliseconds; finer digits are dropped. */
				for (p++; *p >= '0' && *p <= '9'; p++, n++)
					if (n < 3)
						ms = ms * 10 + (*p - '0');
				if (n == 0)
					return fail(why, -EINVAL, "no digits after the point");
				for (; n < 3; n++)
					ms *= 10;
			}
		}
		/* 24:00 is not accepted, nor leap seconds. */
		if (h > 23 || mi > 59 || sec > 59)
			return fail(why, -EINVAL, "no such time of day");
	}
	rc = parse_offset(p, &off, why);
	if (rc < 0)
		return rc;
	t = edge_timespec_days_from_civil(y, (unsigned)mo, (unsigned)d) * MS_PER_DAY +
	    ((int64_t)h * 3600 + mi * 60 + sec) * MS_PER_S + ms - off;
	if (t < 0)
		return fail(why, -ERANGE, "time before 1970");
	if (t >= MS_YEAR_10000)
		return fail(why, -ERANGE, "time after 9999");
	*out = t;
	return fail(why, 0, "");
}

int edge_timespec_parse(const char *text, int64_t now_ms, int64_t *out_ms, const char **why)
{
	size_t n;

	if (!text || text[0] == '\0')
		return fail(why, -EINVAL, "empty time");
	if (strcmp(text, "now") == 0) {
		*out_ms = now_ms;
		return fail(why, 0, "");
	}
	n = strspn(text, "0123456789");
	/* Four digits then '-' is a date; anything else numeric a duration. */
	if (n == 4 && text[4] == '-')
		return parse_iso(text, out_ms, why);
	return parse_relative(text, now_ms, out_ms, why);
}
