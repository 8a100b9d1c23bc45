/* Staged rollout planning: parsing the CLI forms and splitting the nodes. */
#include "edge_rollout_plan.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *edge_rollout_spec_strerror(enum edge_rollout_spec_error e)
{
	switch (e) {
	case EDGE_ROLLOUT_SPEC_OK: return "ok";
	case EDGE_ROLLOUT_SPEC_EMPTY: return "empty value";
	case EDGE_ROLLOUT_SPEC_SYNTAX: return "expected a number or a percentage such as 5 or 12.5%";
	case EDGE_ROLLOUT_SPEC_DECIMALS: return "at most two decimals, and only on a percentage";
	case EDGE_ROLLOUT_SPEC_ZERO: return "must be above zero";
	case EDGE_ROLLOUT_SPEC_RANGE: return "out of range (a share is at most 100%)";
	case EDGE_ROLLOUT_SPEC_NOT_PERCENT: return "waves are percentages (e.g. 10%,50%,100%)";
	case EDGE_ROLLOUT_SPEC_NOT_INCREASING: return "wave percentages must strictly increase";
	case EDGE_ROLLOUT_SPEC_NOT_ALL: return "the last wave must be 100%";
	case EDGE_ROLLOUT_SPEC_TOO_MANY: return "too many waves";
	case EDGE_ROLLOUT_SPEC_TOO_LONG: return "value too long";
	}
	return "unknown spec error";
}

static int spec_fail(enum edge_rollout_spec_error *err, enum edge_rollout_spec_error e)
{
	if (err)
		*err = e;
	return -EINVAL;
}

/* One item s[0..len): digits[.d[d]][%]. *is_pct tells which; *value is a
 * count, or basis points for a percentage. Counts are capped at max_count. */
static enum edge_rollout_spec_error parse_item(const char *s, size_t len, uint32_t max_count,
					       bool *is_pct, uint32_t *value)
{
	uint64_t whole = 0, frac = 0;
	unsigned n_int = 0, n_frac = 0;
	size_t i = 0;

	if (len == 0)
		return EDGE_ROLLOUT_SPEC_EMPTY;
	*is_pct = s[len - 1] == '%';
	if (*is_pct)
		len--;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, n_int++) {
		whole = whole * 10 + (uint64_t)(s[i] - '0');
		if (whole > EDGE_ROLLOUT_MAX_CANARY)
			whole = (uint64_t)EDGE_ROLLOUT_MAX_CANARY + 1; /* saturate: range error below */
	}
	if (n_int == 0)
		return len == 0 ? EDGE_ROLLOUT_SPEC_EMPTY : EDGE_ROLLOUT_SPEC_SYNTAX;
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n_frac++)
			if (n_frac < 2)
				frac = frac * 10 + (uint64_t)(s[i] - '0');
		if (n_frac == 0)
			return EDGE_ROLLOUT_SPEC_SYNTAX;
	}
	if (i != len)
		return EDGE_ROLLOUT_SPEC_SYNTAX;
	if (n_frac > 0 && (!*is_pct || n_frac > 2))
		return EDGE_ROLLOUT_SPEC_DECIMALS;
	if (*is_pct) {
		uint64_t bp = whole * 100 + (n_frac == 1 ? frac * 10 : frac);

		if (bp > EDGE_ROLLOUT_BP_ALL)
			return EDGE_ROLLOUT_SPEC_RANGE;
		*value = (uint32_t)bp;
	} else {
		if (whole > max_count)
			return EDGE_ROLLOUT_SPEC_RANGE;
		*value = (uint32_t)whole;
	}
	return *value == 0 ? EDGE_ROLLOUT_SPEC_ZERO : EDGE_ROLLOUT_SPEC_OK;
}

static enum edge_rollout_spec_error check_len(const char *s)
{
	if (!s || !*s)
		return EDGE_ROLLOUT_SPEC_EMPTY;
	return strnlen(s, EDGE_ROLLOUT_SPEC_MAX + 1) > EDGE_ROLLOUT_SPEC_MAX ?
		       EDGE_ROLLOUT_SPEC_TOO_LONG : EDGE_ROLLOUT_SPEC_OK;
}

int edge_rollout_parse_percent(const char *s, int allow_zero, uint32_t *bp,
			       enum edge_rollout_spec_error *err)
{
	enum edge_rollout_spec_error e = check_len(s);
	bool is_pct = false;
	uint32_t v = 0;

	assert(bp);
	if (e == EDGE_ROLLOUT_SPEC_OK)
		e = parse_item(s, strlen(s), EDGE_ROLLOUT_MAX_CANARY, &is_pct, &v);
	if (e == EDGE_ROLLOUT_SPEC_ZERO && is_pct && allow_zero)
		e = EDGE_ROLLOUT_SPEC_OK;
	if (e == EDGE_ROLLOUT_SPEC_OK && !is_pct)
		e = EDGE_ROLLOUT_SPEC_NOT_PERCENT;
	if (e != EDGE_ROLLOUT_SPEC_OK)
		return spec_fail(err, e);
	*bp = v;
	if (err)
		*err = EDGE_ROLLOUT_SPEC_OK;
	return 0;
}

int edge_rollout_parse_canary(const char *s, struct edge_rollout_canary *out,
			      enum edge_rollout_spec_error *err)
{
	enum edge_rollout_spec_error e = check_len(s);
	bool is_pct = false;
	uint32_t v = 0;

	assert(out);
	if (e == EDGE_ROLLOUT_SPEC_OK)
		e = parse_item(s, strlen(s), EDGE_ROLLOUT_MAX_CANARY, &is_pct, &v);
	if (e != EDGE_ROLLOUT_SPEC_OK)
		return spec_fail(err, e);
	out->kind = is_pct ? EDGE_ROLLOUT_CANARY_SHARE : EDGE_ROLLOUT_CANARY_COUNT;
	out->value = v;
	if (err)
		*err = EDGE_ROLLOUT_SPEC_OK;
	return 0;
}

int edge_rollout_parse_waves(const char *s, struct edge_rollout_spec *spec,
			     enum edge_rollout_spec_error *err, uint32_t *bad_item)
{
	enum edge_rollout_spec_error e = check_len(s);
	uint32_t waves[EDGE_ROLLOUT_MAX_WAVES];
	uint32_t n = 0;

	assert(spec);
	if (bad_item)
		*bad_item = 0;
	if (e != EDGE_ROLLOUT_SPEC_OK)
		return spec_fail(err, e);
	for (const char *p = s;; n++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		bool is_pct = false;
		uint32_t v = 0;

		if (bad_item)
			*bad_item = n;
		if (n == EDGE_ROLLOUT_MAX_WAVES)
			return spec_fail(err, EDGE_ROLLOUT_SPEC_TOO_MANY);
		e = parse_item(p, len, EDGE_ROLLOUT_MAX_CANARY, &is_pct, &v);
		if (e == EDGE_ROLLOUT_SPEC_OK && !is_pct)
			e = EDGE_ROLLOUT_SPEC_NOT_PERCENT;
		if (e == EDGE_ROLLOUT_SPEC_OK && n > 0 && v <= waves[n - 1])
			e = EDGE_ROLLOUT_SPEC_NOT_INCREASING;
		if (e != EDGE_ROLLOUT_SPEC_OK)
			return spec_fail(err, e);
		waves[n] = v;
		if (!comma)
			break;
		p = comma + 1;
	}
	n++;
	if (waves[n - 1] != EDGE_ROLLOUT_BP_ALL)
		return spec_fail(err, EDGE_ROLLOUT_SPEC_NOT_ALL);
	spec->n_waves = n;
	memcpy(spec->wave_bp, waves, n * sizeof waves[0]);
	if (bad_item)
		*bad_item = 0;
	if (err)
		*err = EDGE_ROLLOUT_SPEC_OK;
	return 0;
}

uint64_t edge_rollout_node_hash(const char *rollout_id, const char *node_id)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */

	assert(rollout_id && node_id);
	for (const unsigned char *p = (const unsigned char *)rollout_id; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL; /* separator no id byte can be: ("a","bc") != ("ab","c") */
	for (const unsigned char *p = (const unsigned char *)node_id; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	/* splitmix64 finaliser: FNV-1a's last byte only reaches the high bits
	 * through one multiply; this spreads it over all of them. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

struct keyed {
	uint64_t hash;
	const char *id;
	uint32_t index;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return strcmp(x->id, y->id);
}

static bool spec_valid(const struct edge_rollout_spec *spec)
{
	const struct edge_rollout_canary *c = &spec->canary;

	if (c->kind == EDGE_ROLLOUT_CANARY_COUNT) {
		if (c->value == 0 || c->value > EDGE_ROLLOUT_MAX_CANARY)
			return false;
	} else if (c->kind != EDGE_ROLLOUT_CANARY_SHARE || c->value == 0 ||
		   c->value > EDGE_ROLLOUT_BP_ALL) {
		return false;
	}
	if (spec->n_waves == 0 || spec->n_waves > EDGE_ROLLOUT_MAX_WAVES)
		return false;
	for (uint32_t i = 0; i < spec->n_waves; i++)
		if (spec->wave_bp[i] == 0 || (i > 0 && spec->wave_bp[i] <= spec->wave_bp[i - 1]))
			return false;
	return spec->wave_bp[spec->n_waves - 1] == EDGE_ROLLOUT_BP_ALL;
}

/* ceil(n * bp / 10000), at least 1. */
static uint32_t share_of(uint32_t n, uint32_t bp)
{
	uint64_t c = ((uint64_t)n * bp + EDGE_ROLLOUT_BP_ALL - 1) / EDGE_ROLLOUT_BP_ALL;

	return c ? (uint32_t)c : 1;
}

/* The cumulative counts: asked, then clamped so that every stage gets a
 * node while nodes last. */
static void size_stages(const struct edge_rollout_spec *spec, uint32_t n,
			struct edge_rollout_plan *plan)
{
	uint32_t s = plan->n_stages, prev = 0;

	if (n < s)
		plan->flags |= EDGE_ROLLOUT_PLAN_SHORT;
	for (uint32_t k = 0; k < s; k++) {
		struct edge_rollout_stage *st = &plan->stages[k];
		uint32_t asked, lo, hi, c;

		if (k == 0) {
			asked = spec->canary.kind == EDGE_ROLLOUT_CANARY_COUNT ?
					spec->canary.value : share_of(n, spec->canary.value);
			if (asked > n)
				asked = n;
		} else {
			asked = share_of(n, spec->wave_bp[k - 1]);
		}
		/* At least one more than before, and one left for each later
		 * stage; with n < s both bounds give prev + 1 until n runs out. */
		lo = prev < n ? prev + 1 : n;
		hi = n - (s - 1 - k < n ? s - 1 - k : n);
		if (hi < lo)
			hi = lo;
		if (k == s - 1)
			lo = hi = n; /* the last stage takes the rest */
		c = asked < lo ? lo : asked > hi ? hi : asked;
		if (c != asked && !(plan->flags & EDGE_ROLLOUT_PLAN_SHORT))
			plan->flags |= k == 0 ? EDGE_ROLLOUT_PLAN_CANARY_CLAMPED :
						EDGE_ROLLOUT_PLAN_WAVE_CLAMPED;
		st->kind = k == 0 ? EDGE_ROLLOUT_STAGE_CANARY : EDGE_ROLLOUT_STAGE_WAVE;
		st->wave = k;
		st->first = prev;
		st->count = c - prev;
		st->cumulative = c;
		st->asked = asked;
		assert(c >= prev && c <= n);
		assert(st->count > 0 || (plan->flags & EDGE_ROLLOUT_PLAN_SHORT));
		prev = c;
	}
	assert(prev == n);
}

int edge_rollout_plan_make(const struct edge_rollout_spec *spec, const char *rollout_id,
			   const char *const *node_ids, size_t n, uint32_t *order,
			   struct edge_rollout_plan *plan)
{
	struct keyed *keys;

	assert(plan);
	memset(plan, 0, sizeof *plan);
	if (!spec || !spec_valid(spec) || !rollout_id || !*rollout_id || (n && (!node_ids || !order)))
		return -EINVAL;
	if (n == 0)
		return EDGE_ENOTFOUND;
	if (n > EDGE_ROLLOUT_MAX_NODES)
		return EDGE_ELIMIT;
	for (size_t i = 0; i < n; i++)
		if (!node_ids[i] || !*node_ids[i])
			return -EINVAL;
	keys = malloc(n * sizeof *keys);
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		keys[i].hash = edge_rollout_node_hash(rollout_id, node_ids[i]);
		keys[i].id = node_ids[i];
		keys[i].index = (uint32_t)i;
	}
	qsort(keys, n, sizeof *keys, cmp_keyed);
	/* Equal ids hash equal, so a duplicate sorts next to its twin. */
	for (size_t i = 1; i < n; i++) {
		if (keys[i].hash == keys[i - 1].hash && strcmp(keys[i].id, keys[i - 1].id) == 0) {
			free(keys);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++)
		order[i] = keys[i].index;
	free(keys);
	plan->n_nodes = (uint32_t)n;
	plan->n_stages = 1 + spec->n_waves;
	size_stages(spec, (uint32_t)n, plan);
	return 0;
}

uint32_t edge_rollout_plan_stage_at(const struct edge_rollout_plan *plan, uint32_t pos)
{
	assert(pos < plan->n_nodes);
	for (uint32_t k = 0; k < plan->n_stages; k++)
		if (pos < plan->stages[k].cumulative)
			return k;
	assert(!"position beyond the last stage");
	return plan->n_stages - 1;
}

int edge_rollout_plan_describe(const struct edge_rollout_plan *plan, uint32_t k, char *buf,
			       size_t cap)
{
	const struct edge_rollout_stage *st;
	char name[24];

	assert(k < plan->n_stages);
	st = &plan->stages[k];
	if (st->kind == EDGE_ROLLOUT_STAGE_CANARY)
		snprintf(name, sizeof name, "canary");
	else
		snprintf(name, sizeof name, "wave %u", st->wave);
	if (st->count == 0)
		return snprintf(buf, cap, "%s: no nodes (only %u nodes for %u stages)", name,
				plan->n_nodes, plan->n_stages);
	return snprintf(buf, cap, "%s: %u node%s (%u of %u updated after it%s)", name, st->count,
			st->count == 1 ? "" : "s", st->cumulative, plan->n_nodes,
			st->cumulative != st->asked ? ", clamped" : "");
}
