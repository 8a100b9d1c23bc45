#include "edge_ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* A key is looked for in PROBE consecutive slots from its hash. Slots are
 * only ever filled or overwritten, never emptied, so an empty slot ends the
 * search; a full group evicts its oldest entry. This bounds both memory and
 * the work per call. */
#define PROBE 8
#define CAPACITY_MAX ((size_t)1 << 24)

struct slot {
	uint64_t hash;
	uint64_t window_start; /* ms; the window opened with this line */
	uint64_t suppressed;   /* since the last allowed line */
	uint32_t count;        /* lines allowed in the current window */
	uint8_t used;
	uint8_t key_len;
	char key[EDGE_RATELIMIT_KEY_MAX];
};

struct edge_ratelimit {
	struct slot *slots;
	size_t mask;
	size_t probe;
	size_t keys;
	uint64_t seed;
	uint64_t interval_ms;
	uint32_t burst;
	uint32_t total_burst;       /* 0 = no total limit */
	uint32_t total_count;       /* lines allowed in the total window */
	uint64_t total_window_start;
	uint64_t allowed;
	uint64_t suppressed;
	uint64_t evictions;
	uint64_t lost_suppressed;
	uint64_t total_suppressed;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t hash_key(uint64_t seed, const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	return mix64(h ^ len);
}

edge_ratelimit *edge_ratelimit_new(size_t capacity, uint64_t interval_ms,
				   uint32_t burst)
{
	if (capacity == 0 || capacity > CAPACITY_MAX || burst == 0)
		return NULL;
	size_t n = 1;
	while (n < capacity)
		n <<= 1;

	edge_ratelimit *rl = calloc(1, sizeof *rl);
	if (!rl)
		return NULL;
	rl->slots = calloc(n, sizeof *rl->slots);
	if (!rl->slots) {
		free(rl);
		return NULL;
	}
	rl->mask = n - 1;
	rl->probe = n < PROBE ? n : PROBE;
	rl->interval_ms = interval_ms;
	rl->burst = burst;
	if (getrandom(&rl->seed, sizeof rl->seed, GRND_NONBLOCK) !=
	    (ssize_t)sizeof rl->seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rl->seed = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)rl);
	}
	return rl;
}

void edge_ratelimit_free(edge_ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	free(rl);
}

int edge_ratelimit_set_limits(edge_ratelimit *rl, uint64_t interval_ms,
			      uint32_t burst)
{
	if (burst == 0)
		return -EINVAL;
	rl->interval_ms = interval_ms;
	rl->burst = burst;
	return 0;
}

void edge_ratelimit_set_total(edge_ratelimit *rl, uint32_t total_burst)
{
	rl->total_burst = total_burst;
}

/* Take one line from the total budget, if there is one. */
static bool total_take(edge_ratelimit *rl, uint64_t now_ms)
{
	if (rl->total_burst == 0)
		return true;
	if (rl->total_count == 0 ||
	    (now_ms >= rl->total_window_start &&
	     now_ms - rl->total_window_start >= rl->interval_ms)) {
		rl->total_window_start = now_ms;
		rl->total_count = 0;
	}
	if (rl->total_count >= rl->total_burst)
		return false;
	rl->total_count++;
	return true;
}

static struct slot *find_or_claim(edge_ratelimit *rl, const char *key,
				  size_t len)
{
	uint64_t h = hash_key(rl->seed, key, len);
	struct slot *victim = NULL;

	for (size_t i = 0; i < rl->probe; i++) {
		struct slot *s = &rl->slots[(h + i) & rl->mask];

		if (!s->used) {
			victim = s;
			rl->keys++;
			goto claim;
		}
		if (s->hash == h && s->key_len == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
		if (!victim || s->window_start < victim->window_start)
			victim = s;
	}
	rl->evictions++;
	rl->lost_suppressed += victim->suppressed;
claim:
	victim->used = 1;
	victim->hash = h;
	victim->key_len = (uint8_t)len;
	memcpy(victim->key, key, len);
	victim->count = 0;
	victim->suppressed = 0;
	victim->window_start = 0;
	return victim;
}

bool edge_ratelimit_allow(edge_ratelimit *rl, const char *key,
			  uint64_t now_ms, uint64_t *suppressed)
{
	if (suppressed)
		*suppressed = 0;
	if (rl->interval_ms == 0) {
		rl->allowed++;
		return true;
	}

	size_t len = strnlen(key, EDGE_RATELIMIT_KEY_MAX);
	struct slot *s = find_or_claim(rl, key, len);

	/* A fresh entry has count 0 and opens its window here. A clock that
	 * went backwards keeps the current window. */
	if (s->count == 0 || (now_ms >= s->window_start &&
			      now_ms - s->window_start >= rl->interval_ms)) {
		s->window_start = now_ms;
		s->count = 0;
	}
	if (s->count < rl->burst) {
		if (!total_take(rl, now_ms)) {
			s->suppressed++;
			rl->suppressed++;
			rl->total_suppressed++;
			return false;
		}
		s->count++;
		if (suppressed)
			*suppressed = s->suppressed;
		s->suppressed = 0;
		rl->allowed++;
		return true;
	}
	s->suppressed++;
	rl->suppressed++;
	return false;
}

void edge_ratelimit_stats(const edge_ratelimit *rl,
			  struct edge_ratelimit_stats *out)
{
	out->capacity = rl->mask + 1;
	out->keys = rl->keys;
	out->memory_bytes = sizeof *rl + (rl->mask + 1) * sizeof *rl->slots;
	out->allowed = rl->allowed;
	out->suppressed = rl->suppressed;
	out->evictions = rl->evictions;
	out->lost_suppressed = rl->lost_suppressed;
	out->total_suppressed = rl->total_suppressed;
}
