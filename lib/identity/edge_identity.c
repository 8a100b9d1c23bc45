/* The identity table: records in an array (insertion order), found through
 * an open-addressing index of array positions; the same for the revoked
 * serials. Nothing is ever removed, so the index needs no tombstones. */
#include "edge_identity.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_identity_batch.h"
#include "edge_topic.h"

#define INDEX_EMPTY UINT32_MAX

/* Positions of keys in an array; capacity a power of two, at most half full. */
struct strindex {
	uint32_t *slot;
	size_t cap;
};

struct edge_identity_table {
	struct edge_identity *rec;
	size_t n, cap;
	struct strindex by_id;
	struct edge_identity_counts counts;
	char (*serial)[EDGE_PKI_SERIAL_HEX_MAX];
	size_t nserial, capserial;
	struct strindex by_serial;
};

typedef const char *(*key_at_fn)(const edge_identity_table *t, size_t i);

static const char *rec_key(const edge_identity_table *t, size_t i)
{
	return t->rec[i].id;
}

static const char *serial_key(const edge_identity_table *t, size_t i)
{
	return t->serial[i];
}

/* FNV-1a */
static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t index_slot(const edge_identity_table *t, const struct strindex *x, key_at_fn key,
			 const char *k)
{
	size_t mask = x->cap - 1, i = hash_str(k) & mask;

	while (x->slot[i] != INDEX_EMPTY && strcmp(key(t, x->slot[i]), k) != 0)
		i = (i + 1) & mask;
	return i;
}

static long index_find(const edge_identity_table *t, const struct strindex *x, key_at_fn key,
		       const char *k)
{
	if (!x->cap)
		return -1;
	size_t i = index_slot(t, x, key, k);
	return x->slot[i] == INDEX_EMPTY ? -1 : (long)x->slot[i];
}

/* Room for n + 1 keys (n already in), rebuilding from key(0..n). */
static int index_reserve(const edge_identity_table *t, struct strindex *x, key_at_fn key,
			 size_t n)
{
	if ((n + 1) * 2 <= x->cap)
		return 0;
	size_t cap = x->cap ? x->cap * 2 : 64;
	while ((n + 1) * 2 > cap)
		cap *= 2;
	if (cap >= INDEX_EMPTY)
		return -ENOMEM;
	uint32_t *slot = malloc(cap * sizeof *slot);
	if (!slot)
		return -ENOMEM;
	memset(slot, 0xff, cap * sizeof *slot);
	free(x->slot);
	x->slot = slot;
	x->cap = cap;
	for (size_t i = 0; i < n; i++)
		x->slot[index_slot(t, x, key, key(t, i))] = (uint32_t)i;
	return 0;
}

static const char *const kind_names[] = { "password", "certificate" };
static const char *const state_names[] = { "active", "revoked" };

const char *edge_identity_kind_name(enum edge_identity_kind kind)
{
	return (unsigned)kind < 2 ? kind_names[kind] : "unknown";
}

int edge_identity_kind_from_name(const char *name)
{
	for (int i = 0; name && i < 2; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *edge_identity_state_name(enum edge_identity_state state)
{
	return (unsigned)state < 2 ? state_names[state] : "unknown";
}

int edge_identity_state_from_name(const char *name)
{
	for (int i = 0; name && i < 2; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

edge_identity_table *edge_identity_table_new(void)
{
	return calloc(1, sizeof(edge_identity_table));
}

void edge_identity_table_free(edge_identity_table *t)
{
	if (!t)
		return;
	free(t->rec);
	free(t->by_id.slot);
	free(t->serial);
	free(t->by_serial.slot);
	free(t);
}

const struct edge_identity *edge_identity_table_get(const edge_identity_table *t, const char *id)
{
	long i;

	assert(t);
	if (!id)
		return NULL;
	i = index_find(t, &t->by_id, rec_key, id);
	return i < 0 ? NULL : &t->rec[i];
}

static bool serial_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 40 && strspn(s, "0123456789ABCDEFabcdef") == n;
}

static bool record_valid(const struct edge_identity *r)
{
	if (!edge_id_valid_str(r->id) || (unsigned)r->kind > 1 || (unsigned)r->state > 1)
		return false;
	if (r->kind == EDGE_IDENTITY_PASSWORD &&
	    (!r->password_hash[0] || strnlen(r->password_hash, sizeof r->password_hash) ==
	     sizeof r->password_hash))
		return false;
	if (r->kind == EDGE_IDENTITY_CERTIFICATE &&
	    (strnlen(r->cert_serial, sizeof r->cert_serial) == sizeof r->cert_serial ||
	     !serial_valid(r->cert_serial)))
		return false;
	return (r->state == EDGE_IDENTITY_REVOKED) == (r->revoked_ms != 0);
}

static void count(struct edge_identity_counts *c, const struct edge_identity *r, int d)
{
	if (r->state == EDGE_IDENTITY_ACTIVE)
		c->active += (unsigned)d;
	else
		c->revoked += (unsigned)d;
	if (r->kind == EDGE_IDENTITY_PASSWORD)
		c->password += (unsigned)d;
	else
		c->certificate += (unsigned)d;
}

int edge_identity_table_put(edge_identity_table *t, const struct edge_identity *rec)
{
	long i;
	int rc;

	assert(t && rec);
	if (!record_valid(rec))
		return -EINVAL;
	i = index_find(t, &t->by_id, rec_key, rec->id);
	if (i >= 0) {
		count(&t->counts, &t->rec[i], -1);
		t->rec[i] = *rec;
		count(&t->counts, rec, 1);
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct edge_identity *r = realloc(t->rec, cap * sizeof *r);

		if (!r)
			return -ENOMEM;
		t->rec = r;
		t->cap = cap;
	}
	if ((rc = index_reserve(t, &t->by_id, rec_key, t->n)) < 0)
		return rc;
	t->rec[t->n] = *rec;
	t->by_id.slot[index_slot(t, &t->by_id, rec_key, rec->id)] = (uint32_t)t->n;
	t->n++;
	count(&t->counts, rec, 1);
	return 0;
}

size_t edge_identity_table_size(const edge_identity_table *t)
{
	return t->n;
}

const struct edge_identity *edge_identity_table_at(const edge_identity_table *t, size_t i)
{
	assert(i < t->n);
	return &t->rec[i];
}

void edge_identity_table_counts(const edge_identity_table *t, struct edge_identity_counts *out)
{
	*out = t->counts;
}

int edge_identity_table_add_revoked_serial(edge_identity_table *t, const char *serial)
{
	char up[EDGE_PKI_SERIAL_HEX_MAX];
	int rc;

	assert(t);
	if (!serial_valid(serial))
		return -EINVAL;
	/* One spelling, so that a serial is found whatever case it came in. */
	for (size_t i = 0; i <= strlen(serial); i++)
		up[i] = (char)(serial[i] >= 'a' && serial[i] <= 'f' ? serial[i] - 32 : serial[i]);
	if (index_find(t, &t->by_serial, serial_key, up) >= 0)
		return 0;
	if (t->nserial == t->capserial) {
		size_t cap = t->capserial ? t->capserial * 2 : 64;
		char (*s)[EDGE_PKI_SERIAL_HEX_MAX] = realloc(t->serial, cap * sizeof *s);

		if (!s)
			return -ENOMEM;
		t->serial = s;
		t->capserial = cap;
	}
	if ((rc = index_reserve(t, &t->by_serial, serial_key, t->nserial)) < 0)
		return rc;
	memcpy(t->serial[t->nserial], up, sizeof up);
	t->by_serial.slot[index_slot(t, &t->by_serial, serial_key, up)] = (uint32_t)t->nserial;
	t->nserial++;
	return 0;
}

size_t edge_identity_table_revoked_count(const edge_identity_table *t)
{
	return t->nserial;
}

const char *edge_identity_table_revoked_at(const edge_identity_table *t, size_t i)
{
	assert(i < t->nserial);
	return t->serial[i];
}

void edge_identity_from_grant(const struct edge_identity *old,
			      const struct edge_identity_grant *g, int64_t now_ms,
			      struct edge_identity *out,
			      char replaced_serial[EDGE_PKI_SERIAL_HEX_MAX])
{
	assert(g && out && replaced_serial);
	memset(out, 0, sizeof *out);
	replaced_serial[0] = '\0';
	snprintf(out->id, sizeof out->id, "%s", g->id);
	out->kind = g->kind;
	out->state = EDGE_IDENTITY_ACTIVE;
	if (g->kind == EDGE_IDENTITY_PASSWORD) {
		snprintf(out->password_hash, sizeof out->password_hash, "%s", g->password_hash);
	} else {
		snprintf(out->cert_serial, sizeof out->cert_serial, "%s", g->cert.serial);
		snprintf(out->cert_fingerprint, sizeof out->cert_fingerprint, "%s",
			 g->cert.fingerprint);
		out->cert_not_after_ms = g->cert_not_after_ms;
	}
	if (!old) {
		out->created_ms = now_ms;
		out->generation = 1;
		return;
	}
	out->created_ms = old->created_ms;
	out->rotated_ms = now_ms;
	out->generation = old->generation + 1;
	if (old->kind == EDGE_IDENTITY_CERTIFICATE)
		snprintf(replaced_serial, EDGE_PKI_SERIAL_HEX_MAX, "%s", old->cert_serial);
}
