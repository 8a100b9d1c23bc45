/* The model catalog: the loop thread's copy of ota_model and ota_counter
 * (edge_ota_store.h). Models are kept sorted by (name, counter, version),
 * the order models.list shows; counters sorted by name. Both are bounded
 * (EDGE_OTA_CATALOG_MAX, EDGE_OTA_COUNTERS_MAX) and the store's add op
 * enforces the same bounds, so memory and tables never disagree. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ota_store.h"
#include "edge_ota_store_internal.h"

struct counter {
	char name[EDGE_MSG_TOKEN_CAP];
	uint64_t counter;
};

struct edge_ota_catalog {
	struct edge_ota_model *models;
	unsigned n, cap;
	struct counter *counters;
	unsigned n_counters, cap_counters;
};

bool edge__ota_digest_valid(const char *s, size_t n)
{
	if (!s || n != EDGE_OTA_DIGEST_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool edge__ota_hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 8 || n > EDGE_OTA_DIGEST_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

int edge_ota_catalog_new(struct edge_ota_catalog **out)
{
	struct edge_ota_catalog *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	*out = c;
	return 0;
}

void edge_ota_catalog_free(struct edge_ota_catalog *c)
{
	if (!c)
		return;
	free(c->models);
	free(c->counters);
	free(c);
}

unsigned edge_ota_catalog_count(const struct edge_ota_catalog *c)
{
	return c->n;
}

const struct edge_ota_model *edge_ota_catalog_at(const struct edge_ota_catalog *c, unsigned i)
{
	return i < c->n ? &c->models[i] : NULL;
}

/* Index of name in the counters, or where it would go (*found false). */
static unsigned counter_pos(const struct edge_ota_catalog *c, const char *name, bool *found)
{
	unsigned lo = 0, hi = c->n_counters;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int d = strcmp(c->counters[mid].name, name);

		if (d == 0) {
			*found = true;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

uint64_t edge_ota_catalog_counter(const struct edge_ota_catalog *c, const char *name)
{
	bool found;
	unsigned i = counter_pos(c, name, &found);

	return found ? c->counters[i].counter : 0;
}

/* Never lowers a counter: it only remembers the highest accepted. */
static int counter_raise(struct edge_ota_catalog *c, const char *name, uint64_t counter)
{
	bool found;
	unsigned i = counter_pos(c, name, &found);

	if (found) {
		if (counter > c->counters[i].counter)
			c->counters[i].counter = counter;
		return 0;
	}
	if (strlen(name) >= EDGE_MSG_TOKEN_CAP)
		return -EINVAL;
	if (c->n_counters == EDGE_OTA_COUNTERS_MAX)
		return EDGE_ELIMIT;
	if (c->n_counters == c->cap_counters) {
		unsigned cap = c->cap_counters ? c->cap_counters * 2 : 16;
		struct counter *p;

		if (cap > EDGE_OTA_COUNTERS_MAX)
			cap = EDGE_OTA_COUNTERS_MAX;
		p = realloc(c->counters, (size_t)cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->counters = p;
		c->cap_counters = cap;
	}
	memmove(&c->counters[i + 1], &c->counters[i],
		(size_t)(c->n_counters - i) * sizeof(c->counters[0]));
	memset(&c->counters[i], 0, sizeof(c->counters[i]));
	strcpy(c->counters[i].name, name);
	c->counters[i].counter = counter;
	c->n_counters++;
	return 0;
}

static int model_cmp(const struct edge_ota_model *a, const struct edge_ota_model *b)
{
	int d = strcmp(a->manifest.name, b->manifest.name);

	if (d)
		return d;
	if (a->manifest.counter != b->manifest.counter)
		return a->manifest.counter < b->manifest.counter ? -1 : 1;
	return strcmp(a->manifest.version, b->manifest.version);
}

static const struct edge_ota_model *by_digest(const struct edge_ota_catalog *c,
					      const char *digest)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->models[i].digest, digest) == 0)
			return &c->models[i];
	return NULL;
}

int edge_ota_catalog_check_add(const struct edge_ota_catalog *c, const struct edge_ota_model *m)
{
	bool known_name;

	if (by_digest(c, m->digest))
		return -EEXIST;
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->models[i].manifest.name, m->manifest.name) == 0 &&
		    strcmp(c->models[i].manifest.version, m->manifest.version) == 0)
			return -EEXIST;
	if (m->manifest.counter < edge_ota_catalog_counter(c, m->manifest.name))
		return EDGE_OTA_EROLLBACK;
	(void)counter_pos(c, m->manifest.name, &known_name);
	if (c->n == EDGE_OTA_CATALOG_MAX || (!known_name && c->n_counters == EDGE_OTA_COUNTERS_MAX))
		return EDGE_ELIMIT;
	return 0;
}

/* Insert a copy of m at its sorted place (no checks but the bounds). */
static int insert_model(struct edge_ota_catalog *c, const struct edge_ota_model *m)
{
	unsigned i;
	int rc;

	if (c->n == EDGE_OTA_CATALOG_MAX)
		return EDGE_ELIMIT;
	if (c->n == c->cap) {
		unsigned cap = c->cap ? c->cap * 2 : 8;
		struct edge_ota_model *p;

		if (cap > EDGE_OTA_CATALOG_MAX)
			cap = EDGE_OTA_CATALOG_MAX;
		p = realloc(c->models, (size_t)cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->models = p;
		c->cap = cap;
	}
	/* The counter first: a failure there leaves the models untouched. */
	rc = counter_raise(c, m->manifest.name, m->manifest.counter);
	if (rc < 0)
		return rc;
	for (i = c->n; i > 0 && model_cmp(&c->models[i - 1], m) > 0; i--)
		;
	memmove(&c->models[i + 1], &c->models[i], (size_t)(c->n - i) * sizeof(c->models[0]));
	c->models[i] = *m;
	c->n++;
	return 0;
}

int edge_ota_catalog_add(struct edge_ota_catalog *c, const struct edge_ota_model *m)
{
	assert(edge__ota_digest_valid(m->digest, strlen(m->digest)));
	assert(m->n_signers <= EDGE_OTA_SIGS_MAX);
	if (by_digest(c, m->digest))
		return -EEXIST;
	return insert_model(c, m);
}

void edge_ota_catalog_remove(struct edge_ota_catalog *c, const char *digest)
{
	const struct edge_ota_model *m = by_digest(c, digest);
	unsigned i;

	if (!m)
		return;
	i = (unsigned)(m - c->models);
	memmove(&c->models[i], &c->models[i + 1], (size_t)(c->n - i - 1) * sizeof(c->models[0]));
	c->n--;
}

const struct edge_ota_model *edge_ota_catalog_find(const struct edge_ota_catalog *c,
						   const char *ref, bool *ambiguous)
{
	const struct edge_ota_model *best = NULL;
	const char *at;

	if (ambiguous)
		*ambiguous = false;
	if (!ref || !*ref)
		return NULL;
	at = strchr(ref, '@');
	if (at) {
		size_t nl = (size_t)(at - ref);

		for (unsigned i = 0; i < c->n; i++) {
			const struct edge_ota_manifest *mf = &c->models[i].manifest;

			if (strlen(mf->name) == nl && memcmp(mf->name, ref, nl) == 0 &&
			    strcmp(mf->version, at + 1) == 0)
				return &c->models[i];
		}
		return NULL;
	}
	/* A hex prefix names a digest or a model SHA-256; only when it names
	 * nothing is it tried as a model name (names may look like hex). */
	if (edge__ota_hex_prefix(ref)) {
		char p[EDGE_OTA_DIGEST_HEX + 1];
		size_t n = strlen(ref);
		unsigned hits = 0;

		for (size_t k = 0; k < n; k++)
			p[k] = (char)tolower((unsigned char)ref[k]);
		p[n] = '\0';
		for (unsigned i = 0; i < c->n; i++)
			if (strncmp(c->models[i].digest, p, n) == 0 ||
			    strncmp(c->models[i].manifest.sha256, p, n) == 0) {
				best = &c->models[i];
				hits++;
			}
		if (hits > 1) {
			if (ambiguous)
				*ambiguous = true;
			return NULL;
		}
		if (hits == 1)
			return best;
	}
	/* The highest counter of the name; of equal counters the newest. */
	for (unsigned i = 0; i < c->n; i++) {
		const struct edge_ota_model *m = &c->models[i];

		if (strcmp(m->manifest.name, ref) != 0)
			continue;
		if (!best || m->manifest.counter > best->manifest.counter ||
		    (m->manifest.counter == best->manifest.counter && m->added_ms > best->added_ms))
			best = m;
	}
	return best;
}

/* ---- loading ---- */

/* err = "<table> [<key>]: <why>". */
static int load_fail(int rc, char *err, size_t errlen, const char *table, const char *key,
		     const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s: %s", table, key ? " " : "", key ? key : "", why);
	return rc;
}

/* One ota_model row into m: the manifest parsed from its stored bytes and
 * checked against the row's own columns. */
static int load_row(sqlite3_stmt *st, struct edge_ota_model *m, char *err, size_t errlen)
{
	const char *digest = (const char *)sqlite3_column_text(st, 0);
	int digest_len = sqlite3_column_bytes(st, 0);
	const void *manifest = sqlite3_column_blob(st, 1);
	int manifest_len = sqlite3_column_bytes(st, 1);
	const void *signers = sqlite3_column_blob(st, 2);
	int signers_len = sqlite3_column_bytes(st, 2);
	const char *name = (const char *)sqlite3_column_text(st, 5);
	const char *version = (const char *)sqlite3_column_text(st, 6);
	const char *sha = (const char *)sqlite3_column_text(st, 8);
	struct edge_msg_error perr;

	memset(m, 0, sizeof(*m));
	if (!digest || !edge__ota_digest_valid(digest, (size_t)digest_len))
		return load_fail(EDGE_ECORRUPT, err, errlen, "ota_model", NULL, "bad digest");
	memcpy(m->digest, digest, EDGE_OTA_DIGEST_HEX + 1);
	if (!manifest || manifest_len <= 0 ||
	    edge_ota_manifest_parse(manifest, (size_t)manifest_len, &m->manifest, &perr) != 0)
		return load_fail(EDGE_ECORRUPT, err, errlen, "ota_model", m->digest,
				 "stored manifest does not parse");
	if (!name || !version || !sha || strcmp(name, m->manifest.name) != 0 ||
	    strcmp(version, m->manifest.version) != 0 || strcmp(sha, m->manifest.sha256) != 0 ||
	    (uint64_t)sqlite3_column_int64(st, 7) != m->manifest.counter)
		return load_fail(EDGE_ECORRUPT, err, errlen, "ota_model", m->digest,
				 "columns differ from the stored manifest");
	if (signers_len % EDGE_OTA_KEY_ID_LEN != 0 ||
	    signers_len > EDGE_OTA_SIGS_MAX * EDGE_OTA_KEY_ID_LEN)
		return load_fail(EDGE_ECORRUPT, err, errlen, "ota_model", m->digest,
				 "bad signers column");
	m->n_signers = (unsigned)signers_len / EDGE_OTA_KEY_ID_LEN;
	if (signers_len)
		memcpy(m->signers, signers, (size_t)signers_len);
	m->pkg_size = (uint64_t)sqlite3_column_int64(st, 3);
	m->added_ms = sqlite3_column_int64(st, 4);
	return 0;
}

static int load_into(struct edge_ota_catalog *c, sqlite3 *db, char *err, size_t errlen)
{
	static const char models_sql[] =
		"SELECT digest, manifest, signers, pkg_size, added_ms, name, version, counter,"
		" model_sha256 FROM ota_model";
	static const char counters_sql[] = "SELECT name, counter FROM ota_counter";
	sqlite3_stmt *st = NULL;
	struct edge_ota_model *m;
	int rc, src;

	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	src = sqlite3_prepare_v2(db, models_sql, -1, &st, NULL);
	if (src != SQLITE_OK) {
		free(m);
		goto sql_error;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rc = load_row(st, m, err, errlen);
		if (rc == 0)
			rc = insert_model(c, m);
		if (rc == EDGE_ELIMIT)
			(void)load_fail(rc, err, errlen, "ota_model", NULL,
					"more models than the catalog holds");
		if (rc < 0) {
			sqlite3_finalize(st);
			free(m);
			return rc;
		}
	}
	free(m);
	if (src != SQLITE_DONE)
		goto sql_error;
	sqlite3_finalize(st);
	st = NULL;
	src = sqlite3_prepare_v2(db, counters_sql, -1, &st, NULL);
	if (src != SQLITE_OK)
		goto sql_error;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);

		if (!name || v < 1) {
			sqlite3_finalize(st);
			return load_fail(EDGE_ECORRUPT, err, errlen, "ota_counter", NULL,
					 "bad row");
		}
		rc = counter_raise(c, name, (uint64_t)v);
		if (rc < 0) {
			/* name lives in st: the message before the finalize. */
			(void)load_fail(rc, err, errlen, "ota_counter", name,
					rc == EDGE_ELIMIT ? "more names than the catalog holds"
							  : "bad name");
			sqlite3_finalize(st);
			return rc;
		}
	}
	if (src != SQLITE_DONE)
		goto sql_error;
	sqlite3_finalize(st);
	return 0;

sql_error:
	if (err && errlen)
		snprintf(err, errlen, "loading models: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return edge_store_error_from_sqlite(src);
}

int edge_ota_catalog_load(struct edge_ota_catalog *c, sqlite3 *db, char *err, size_t errlen)
{
	struct edge_ota_catalog fresh = { 0 };
	int rc = load_into(&fresh, db, err, errlen);

	if (rc < 0) {
		free(fresh.models);
		free(fresh.counters);
		return rc;
	}
	/* Replace the whole content only once everything loaded. */
	free(c->models);
	free(c->counters);
	*c = fresh;
	return 0;
}
