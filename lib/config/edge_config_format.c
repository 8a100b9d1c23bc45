/* Per-type value codec: text <-> typed field, and the words that describe
 * what a key accepts (shared by error messages and the reference). */
#include "edge_config_table.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int edge__cfg_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return EDGE_ECONFIG;
}

static void *field_of(struct edge_settings *s, const struct edge__cfg_key *k)
{
	return (char *)s + k->offset;
}

static const void *cfield_of(const struct edge_settings *s,
			     const struct edge__cfg_key *k)
{
	return (const char *)s + k->offset;
}

const char *edge__cfg_type_name(enum edge__cfg_type t)
{
	switch (t) {
	case EDGE__CFG_INT: return "integer";
	case EDGE__CFG_BOOL: return "boolean";
	case EDGE__CFG_STRING: return "string";
	case EDGE__CFG_PATH: return "path";
	case EDGE__CFG_ENUM: return "enum";
	case EDGE__CFG_DURATION_S: return "duration_s";
	case EDGE__CFG_DURATION_MS: return "duration_ms";
	case EDGE__CFG_SIZE: return "size";
	case EDGE__CFG_MODE: return "mode";
	}
	return "unknown";
}

static void enum_list(const struct edge__cfg_key *k, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct edge__cfg_enum_value *e = k->enums; e->name; e++) {
		int n = snprintf(buf + used, len - used, "%s%s",
				 e == k->enums ? "" : "|", e->name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

void edge__cfg_allowed(const struct edge__cfg_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case EDGE__CFG_INT:
	case EDGE__CFG_DURATION_S:
	case EDGE__CFG_DURATION_MS:
	case EDGE__CFG_SIZE:
		snprintf(buf, len, "%lld..%lld", k->min, k->max);
		break;
	case EDGE__CFG_MODE:
		snprintf(buf, len, "%04llo..%04llo", k->min, k->max);
		break;
	case EDGE__CFG_BOOL:
		snprintf(buf, len, "true|false");
		break;
	case EDGE__CFG_ENUM:
		enum_list(k, buf, len);
		break;
	case EDGE__CFG_STRING:
	case EDGE__CFG_PATH:
		snprintf(buf, len, "%lld..%lld characters", k->min, k->max);
		break;
	}
}

void edge__cfg_describe(const struct edge__cfg_key *k, char *buf, size_t len)
{
	char list[256];

	switch (k->type) {
	case EDGE__CFG_INT:
		snprintf(buf, len, "an integer in %lld..%lld", k->min, k->max);
		break;
	case EDGE__CFG_DURATION_S:
		snprintf(buf, len, "a duration in seconds, an integer in %lld..%lld",
			 k->min, k->max);
		break;
	case EDGE__CFG_DURATION_MS:
		snprintf(buf, len,
			 "a duration in milliseconds, an integer in %lld..%lld",
			 k->min, k->max);
		break;
	case EDGE__CFG_SIZE:
		snprintf(buf, len,
			 "a size in bytes in %lld..%lld (suffix k or M for KiB, MiB)",
			 k->min, k->max);
		break;
	case EDGE__CFG_MODE:
		snprintf(buf, len, "an octal file mode in %04llo..%04llo",
			 k->min, k->max);
		break;
	case EDGE__CFG_BOOL:
		snprintf(buf, len, "a boolean: true|false|yes|no|on|off|1|0");
		break;
	case EDGE__CFG_ENUM:
		enum_list(k, list, sizeof list);
		snprintf(buf, len, "one of %s", list);
		break;
	case EDGE__CFG_STRING:
		if (k->min > 0)
			snprintf(buf, len, "a string of %lld..%lld characters",
				 k->min, k->max);
		else
			snprintf(buf, len, "a string of at most %lld characters",
				 k->max);
		break;
	case EDGE__CFG_PATH:
		snprintf(buf, len, "%s path of %s%lld characters%s",
			 (k->flags & EDGE__CFG_ABSOLUTE) ? "an absolute" : "a",
			 k->min > 0 ? "1.." : "at most ", k->max,
			 k->min > 0 ? "" : " (empty = not set)");
		break;
	}
}

static int must_be(const struct edge__cfg_key *k, char *why, size_t whylen)
{
	char what[320];

	edge__cfg_describe(k, what, sizeof what);
	return edge__cfg_error(why, whylen, "must be %s", what);
}

/* Decimal integer with nothing after it; ERANGE when it does not fit. */
static int parse_decimal(const char *text, long long *out)
{
	char *end;

	if (!isdigit((unsigned char)text[0]) &&
	    !(text[0] == '-' && isdigit((unsigned char)text[1])))
		return -EINVAL;
	errno = 0;
	*out = strtoll(text, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	return 0;
}

static int parse_size(const char *text, long long *out)
{
	char *end;
	unsigned long long v, mult = 1;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'M')
		mult = 1024 * 1024, end++;
	if (*end != '\0')
		return -EINVAL;
	if (v > (unsigned long long)LLONG_MAX / mult)
		return -ERANGE;
	*out = (long long)(v * mult);
	return 0;
}

static int parse_mode(const char *text, long long *out)
{
	size_t n = strlen(text);
	long long v = 0;

	if (n == 0 || n > 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '7')
			return -EINVAL;
		v = v * 8 + (text[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_number(const struct edge__cfg_key *k, const char *text,
			struct edge_settings *s, char *why, size_t whylen)
{
	long long v;
	int rc;

	if (k->type == EDGE__CFG_SIZE)
		rc = parse_size(text, &v);
	else if (k->type == EDGE__CFG_MODE)
		rc = parse_mode(text, &v);
	else
		rc = parse_decimal(text, &v);
	if (rc < 0 || v < k->min || v > k->max)
		return must_be(k, why, whylen);
	if (k->type == EDGE__CFG_SIZE)
		*(size_t *)field_of(s, k) = (size_t)v;
	else
		*(int *)field_of(s, k) = (int)v;
	return 0;
}

static int parse_text(const struct edge__cfg_key *k, const char *text,
		      struct edge_settings *s, char *why, size_t whylen)
{
	size_t n = strlen(text);

	if ((long long)n < k->min || (long long)n > k->max)
		return must_be(k, why, whylen);
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return edge__cfg_error(why, whylen,
					       "must not contain control characters");
	if (k->type == EDGE__CFG_PATH && n > 0 &&
	    (k->flags & EDGE__CFG_ABSOLUTE) && text[0] != '/')
		return must_be(k, why, whylen);
	if (k->rule) {
		const char *bad = k->rule(k, text);
		if (bad)
			return edge__cfg_error(why, whylen, "%s", bad);
	}
	memcpy(field_of(s, k), text, n + 1);
	return 0;
}

int edge__cfg_parse_value(const struct edge__cfg_key *k, const char *text,
			  struct edge_settings *s, char *why, size_t whylen)
{
	switch (k->type) {
	case EDGE__CFG_INT:
	case EDGE__CFG_DURATION_S:
	case EDGE__CFG_DURATION_MS:
	case EDGE__CFG_SIZE:
	case EDGE__CFG_MODE:
		return parse_number(k, text, s, why, whylen);
	case EDGE__CFG_BOOL: {
		bool b;
		if (parse_bool(text, &b) < 0)
			return must_be(k, why, whylen);
		*(bool *)field_of(s, k) = b;
		return 0;
	}
	case EDGE__CFG_ENUM:
		for (const struct edge__cfg_enum_value *e = k->enums; e->name; e++)
			if (strcasecmp(text, e->name) == 0) {
				*(int *)field_of(s, k) = e->value;
				return 0;
			}
		return must_be(k, why, whylen);
	case EDGE__CFG_STRING:
	case EDGE__CFG_PATH:
		return parse_text(k, text, s, why, whylen);
	}
	return must_be(k, why, whylen);
}

int edge__cfg_format_value(const struct edge__cfg_key *k,
			   const struct edge_settings *s, char *buf, size_t len)
{
	const void *f = cfield_of(s, k);

	switch (k->type) {
	case EDGE__CFG_INT:
	case EDGE__CFG_DURATION_S:
	case EDGE__CFG_DURATION_MS:
		return snprintf(buf, len, "%d", *(const int *)f);
	case EDGE__CFG_SIZE:
		return snprintf(buf, len, "%zu", *(const size_t *)f);
	case EDGE__CFG_MODE:
		return snprintf(buf, len, "%04o", (unsigned)*(const int *)f);
	case EDGE__CFG_BOOL:
		return snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
	case EDGE__CFG_ENUM:
		for (const struct edge__cfg_enum_value *e = k->enums; e->name; e++)
			if (e->value == *(const int *)f)
				return snprintf(buf, len, "%s", e->name);
		return snprintf(buf, len, "%d", *(const int *)f);
	case EDGE__CFG_STRING:
	case EDGE__CFG_PATH:
		return snprintf(buf, len, "%s", (const char *)f);
	}
	return snprintf(buf, len, "?");
}
