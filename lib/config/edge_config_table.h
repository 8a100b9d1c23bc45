/* Internal: the settings table and the per-type value codec. */
#ifndef EDGE_CONFIG_TABLE_H
#define EDGE_CONFIG_TABLE_H

#include <stddef.h>

#include "edge_config.h"

enum edge__cfg_type {
	EDGE__CFG_INT,
	EDGE__CFG_BOOL,
	EDGE__CFG_STRING,
	EDGE__CFG_PATH,
	EDGE__CFG_ENUM,
	EDGE__CFG_DURATION_S,
	EDGE__CFG_DURATION_MS,
	EDGE__CFG_SIZE,
	EDGE__CFG_MODE,
};

/* Internal flag beyond the public EDGE_CONFIG_* ones. */
#define EDGE__CFG_ABSOLUTE 0x100u /* a path that must start with '/' */

struct edge__cfg_enum_value {
	const char *name;
	int value;
};

struct edge__cfg_key;

/* Extra per-key rule on a parsed value; returns NULL or what is wrong
 * ("must not contain ..."). */
typedef const char *(*edge__cfg_rule_fn)(const struct edge__cfg_key *k,
					 const void *field);

struct edge__cfg_key {
	const char *section;
	const char *key;
	const char *name; /* "section.key" */
	enum edge__cfg_type type;
	size_t offset;    /* into struct edge_settings */
	size_t size;      /* of the field */
	const char *def;  /* default in file form, parsed like any value */
	long long min, max; /* numbers: value range; strings: length range */
	const struct edge__cfg_enum_value *enums; /* NULL-terminated */
	edge__cfg_rule_fn rule;
	unsigned flags;
	const char *doc;
};

struct edge__cfg_section {
	const char *name;
	const char *doc;
};

#define EDGE__CFG_MAX_KEYS 128

extern const struct edge__cfg_key edge__cfg_keys[];
extern const size_t edge__cfg_nkeys;
extern const struct edge__cfg_section edge__cfg_sections[];
extern const size_t edge__cfg_nsections;

const struct edge__cfg_key *edge__cfg_find(const char *section,
					   const char *key);
const struct edge__cfg_key *edge__cfg_find_name(const char *name);
const struct edge__cfg_section *edge__cfg_find_section(const char *name);

/* Parse text into the key's field of s. On error returns EDGE_ECONFIG and
 * writes what is wrong into why ("must be an integer in 1..65535"). */
int edge__cfg_parse_value(const struct edge__cfg_key *k, const char *text,
			  struct edge_settings *s, char *why, size_t whylen);

/* The key's value in s, in file form. Truncated to len; returns the length
 * it needed (like snprintf). */
int edge__cfg_format_value(const struct edge__cfg_key *k,
			   const struct edge_settings *s, char *buf, size_t len);

/* What the key accepts: "an integer in 1..65535". */
void edge__cfg_describe(const struct edge__cfg_key *k, char *buf, size_t len);
/* Compact form for listings: "1..65535", "err|warning|...". */
void edge__cfg_allowed(const struct edge__cfg_key *k, char *buf, size_t len);
const char *edge__cfg_type_name(enum edge__cfg_type t);

/* Cross-key checks on s and recomputation of its derived paths. file and
 * lines (per key index, 0 = unknown) locate the error when known. */
int edge__cfg_check(struct edge_settings *s, const char *file,
		    const unsigned *lines, char *err, size_t errlen);

/* Parse an INI buffer into s (a scratch copy), recording in lines[] where
 * each key was set. */
int edge__cfg_parse_buffer(struct edge_settings *s, unsigned *lines,
			   const char *name, const char *buf, size_t len,
			   char *err, size_t errlen);

/* Printable copy of a value for error messages: control characters as
 * '?', at most EDGE__CFG_ECHO_MAX characters then "...", and "<hidden>" for
 * secrets. Returns buf (len >= EDGE__CFG_ECHO_MAX + 4) or a literal. */
#define EDGE__CFG_ECHO_MAX 64
const char *edge__cfg_echo(const struct edge__cfg_key *k, const char *value,
			   char *buf, size_t len);

/* snprintf into err if err != NULL; returns EDGE_ECONFIG. */
int edge__cfg_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
