/* Statuses of ids the registry does not know yet: a conforming new node
 * publishes its "online" status before its hello, so the status is kept
 * until the hello registers it. Fixed memory: EDGE_REGISTRY_PENDING_MAX
 * slots used as a ring (a new id takes the oldest slot, live or not) plus a
 * chained hash index, so a flood of made-up ids costs O(1) per message and
 * can only evict entries. */
#include "edge_registry_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SLOTS EDGE_REGISTRY_PENDING_MAX
#define N_BUCKETS (2 * N_SLOTS) /* power of two */
#define NONE (-1)

struct pending_slot {
	bool used;
	int next;                  /* hash chain, slot index or NONE */
	uint64_t at_ms;
	enum edge_msg_state state;
	char id[EDGE_REGISTRY_ID_MAX + 1];
	char reason[EDGE_REGISTRY_TOKEN_MAX];
};

struct edge__pending {
	struct pending_slot slots[N_SLOTS];
	int buckets[N_BUCKETS];
	unsigned ring;             /* next slot to take: the oldest */
	unsigned count;
	uint64_t seed;
};

_Static_assert((N_BUCKETS & (N_BUCKETS - 1)) == 0, "bucket count must be a power of two");

static unsigned bucket(const struct edge__pending *p, const char *id)
{
	uint64_t h = 14695981039346656037ull ^ p->seed; /* FNV-1a, seeded */

	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ull;
	}
	return (unsigned)(h & (N_BUCKETS - 1));
}

struct edge__pending *edge__pending_new(void)
{
	struct edge__pending *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	for (int i = 0; i < N_BUCKETS; i++)
		p->buckets[i] = NONE;
	p->seed = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
	return p;
}

void edge__pending_free(struct edge__pending *p)
{
	free(p);
}

static int find_slot(const struct edge__pending *p, const char *id)
{
	for (int i = p->buckets[bucket(p, id)]; i != NONE; i = p->slots[i].next)
		if (strcmp(p->slots[i].id, id) == 0)
			return i;
	return NONE;
}

static void unlink_slot(struct edge__pending *p, int i)
{
	int *link = &p->buckets[bucket(p, p->slots[i].id)];

	assert(p->slots[i].used);
	while (*link != i) {
		assert(*link != NONE); /* a used slot is always in its bucket */
		link = &p->slots[*link].next;
	}
	*link = p->slots[i].next;
	p->slots[i].used = false;
	p->slots[i].next = NONE;
	assert(p->count > 0);
	p->count--;
}

int edge__pending_put(struct edge__pending *p, const char *id, enum edge_msg_state state,
		      const char *reason, uint64_t now_ms)
{
	int i = find_slot(p, id), evicted = 0;
	unsigned b;

	if (i != NONE) {
		unlink_slot(p, i); /* re-added as the newest */
	}
	i = (int)p->ring;
	p->ring = (p->ring + 1) % N_SLOTS;
	if (p->slots[i].used) {
		unlink_slot(p, i);
		evicted = 1;
	}
	snprintf(p->slots[i].id, sizeof p->slots[i].id, "%s", id);
	snprintf(p->slots[i].reason, sizeof p->slots[i].reason, "%s", reason ? reason : "");
	p->slots[i].state = state;
	p->slots[i].at_ms = now_ms;
	p->slots[i].used = true;
	b = bucket(p, id);
	p->slots[i].next = p->buckets[b];
	p->buckets[b] = i;
	p->count++;
	assert(p->count <= N_SLOTS);
	return evicted;
}

static bool expired(const struct pending_slot *s, uint64_t now_ms)
{
	return now_ms >= s->at_ms && now_ms - s->at_ms >= EDGE_REGISTRY_PENDING_TTL_MS;
}

bool edge__pending_take(struct edge__pending *p, const char *id, uint64_t now_ms,
			enum edge_msg_state *state, char *reason, size_t reason_cap)
{
	int i = find_slot(p, id);
	bool fresh;

	if (i == NONE)
		return false;
	fresh = !expired(&p->slots[i], now_ms);
	if (fresh) {
		*state = p->slots[i].state;
		snprintf(reason, reason_cap, "%s", p->slots[i].reason);
	}
	unlink_slot(p, i);
	return fresh;
}

void edge__pending_remove(struct edge__pending *p, const char *id)
{
	int i = find_slot(p, id);

	if (i != NONE)
		unlink_slot(p, i);
}

unsigned edge__pending_expire(struct edge__pending *p, uint64_t now_ms)
{
	unsigned n = 0;

	if (p->count == 0)
		return 0;
	for (int i = 0; i < N_SLOTS; i++) {
		if (p->slots[i].used && expired(&p->slots[i], now_ms)) {
			unlink_slot(p, i);
			n++;
		}
	}
	return n;
}

unsigned edge__pending_count(const struct edge__pending *p)
{
	return p->count;
}
