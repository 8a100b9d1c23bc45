#include "sim_select.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char **p, unsigned *out)
{
	char *end;
	if (**p < '0' || **p > '9')
		return -EINVAL;
	unsigned long v = strtoul(*p, &end, 10);
	if (v > 1000000)
		return -EINVAL;
	*out = (unsigned)v;
	*p = end;
	return 0;
}

int sim_select_parse(struct sim_select *s, const char *text, unsigned salt)
{
	memset(s, 0, sizeof(*s));
	s->salt = salt;
	if (strcmp(text, "all") == 0) {
		s->all = true;
		return 0;
	}
	if (strcmp(text, "none") == 0)
		return 0;
	size_t len = strlen(text);
	if (len > 1 && text[len - 1] == '%') {
		char *end;
		double pct = strtod(text, &end);
		if (end != text + len - 1 || !(pct >= 0 && pct <= 100))
			return -EINVAL;
		s->fraction = pct / 100.0;
		s->all = pct >= 100;
		return 0;
	}
	const char *p = text;
	for (;;) {
		unsigned lo, hi;
		if (parse_uint(&p, &lo))
			return -EINVAL;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_uint(&p, &hi) || hi < lo)
				return -EINVAL;
		}
		if (s->n_ranges == sizeof(s->ranges) / sizeof(s->ranges[0]))
			return -EINVAL;
		s->ranges[s->n_ranges].lo = lo;
		s->ranges[s->n_ranges].hi = hi;
		s->n_ranges++;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

/* A fixed integer hash: the same nodes are picked on every run. */
static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

bool sim_select_has(const struct sim_select *s, unsigned idx)
{
	if (s->all)
		return true;
	if (s->fraction > 0)
		return mix(idx * 2654435761U + s->salt) % 1000000U <
		       (uint32_t)(s->fraction * 1000000.0);
	for (unsigned i = 0; i < s->n_ranges; i++)
		if (idx >= s->ranges[i].lo && idx <= s->ranges[i].hi)
			return true;
	return false;
}
