/* The node registry: hash table by id, the per-node state machine, write
 * coalescing, the summary line, queries. */
#include "edge_registry_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_log.h"
#include "edge_ratelimit.h"
#include "edge_topic.h"

#define SUMMARY_REASONS 8 /* distinct offline reasons per summary line; more → "other" */
#define REVOKED_REASON "revoked" /* status_reason of a revoked node */

/* Transitions since the last summary line. */
struct summary {
	unsigned registered, reconnected, online, stale, forgotten, revoked, reinstated;
	unsigned offline_total;
	unsigned n_reasons;
	struct {
		char reason[EDGE_REGISTRY_TOKEN_MAX];
		unsigned count;
	} offline[SUMMARY_REASONS + 1]; /* the last slot: "other" */
};

struct edge_registry {
	edge_store *store; /* borrowed; NULL = memory only */
	struct edge__registry_link *link;
	struct edge_registry_options opt;
	struct edge__reg_node **buckets;
	size_t n_buckets;  /* power of two */
	unsigned count;
	unsigned by_state[EDGE_NODE_STATE_COUNT];
	struct edge__pending *pending;
	bool clock_seen;           /* the intervals below start at the first clock seen */
	uint64_t now_ms;           /* latest caller clock seen (for completions) */
	uint64_t last_persist_ms;  /* last interval batch */
	uint64_t last_summary_ms;
	struct summary sum;
	edge_ratelimit *fail_log;  /* one store-failure line per interval */
	edge_registry_admit_fn admit; /* NULL: every id is admitted */
	void *admit_ud;
	edge_registry_saved_fn saved; /* NULL: nobody waits for commits */
	void *saved_ud;
	struct edge_registry_stats stats;
};

static const char *const state_names[EDGE_NODE_STATE_COUNT] = {
	[EDGE_NODE_OFFLINE] = "offline",
	[EDGE_NODE_ONLINE] = "online",
	[EDGE_NODE_STALE] = "stale",
	[EDGE_NODE_REVOKED] = "revoked",
};

const char *edge_node_state_name(enum edge_node_state state)
{
	return (unsigned)state < EDGE_NODE_STATE_COUNT ? state_names[state] : "unknown";
}

int edge_node_state_from_name(const char *name)
{
	for (int i = 0; name && i < EDGE_NODE_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

const char *edge_registry_event_name(enum edge_registry_event ev)
{
	switch (ev) {
	case EDGE_REGISTRY_REGISTERED: return "registered";
	case EDGE_REGISTRY_UPDATED: return "updated";
	case EDGE_REGISTRY_RECONNECTED: return "reconnected";
	case EDGE_REGISTRY_ONLINE: return "online";
	case EDGE_REGISTRY_STALE: return "stale";
	case EDGE_REGISTRY_OFFLINE: return "offline";
	case EDGE_REGISTRY_FORGOTTEN: return "forgotten";
	case EDGE_REGISTRY_REVOKED: return "revoked";
	case EDGE_REGISTRY_REINSTATED: return "reinstated";
	}
	return "unknown";
}

void edge_registry_options_init(struct edge_registry_options *opt)
{
	*opt = (struct edge_registry_options){
		.max_devices = 1024,
		.stale_after_missed_heartbeats = 3,
		.default_heartbeat_interval_ms = 30000,
		.persist_interval_ms = 60000,
		.summary_interval_ms = 10000,
	};
}

/* ---- hash table ---- */

static uint64_t hash_id(const char *id)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ull;
	}
	return h;
}

static struct edge__reg_node **bucket_of(const edge_registry *reg, const char *id)
{
	return &reg->buckets[hash_id(id) & (reg->n_buckets - 1)];
}

static struct edge__reg_node *find(const edge_registry *reg, const char *id)
{
	for (struct edge__reg_node *n = *bucket_of(reg, id); n; n = n->hash_next)
		if (strcmp(n->info.id, id) == 0)
			return n;
	return NULL;
}

static struct edge__reg_node *insert(edge_registry *reg, const char *id,
				     enum edge_node_state state)
{
	struct edge__reg_node *n = calloc(1, sizeof *n);
	struct edge__reg_node **b;

	assert((unsigned)state < EDGE_NODE_STATE_COUNT);
	assert(!find(reg, id)); /* one entry per id */
	if (!n)
		return NULL;
	snprintf(n->info.id, sizeof n->info.id, "%s", id);
	n->info.state = state;
	b = bucket_of(reg, id);
	n->hash_next = *b;
	*b = n;
	reg->count++;
	reg->by_state[state]++;
	return n;
}


/* by_state always partitions the nodes. */
static void assert_counts(const edge_registry *reg)
{
#ifndef NDEBUG
	unsigned sum = 0;

	for (int i = 0; i < EDGE_NODE_STATE_COUNT; i++)
		sum += reg->by_state[i];
	assert(sum == reg->count);
	assert(reg->count <= reg->opt.max_devices);
#else
	(void)reg;
#endif
}

int edge_registry_new(edge_store *store, const struct edge_registry_options *opt,
		      edge_registry **out)
{
	struct edge_registry_options defaults;
	edge_registry *reg;
	size_t nb = 16;

	if (!opt) {
		edge_registry_options_init(&defaults);
		opt = &defaults;
	}
	if (!out || opt->max_devices == 0 || opt->stale_after_missed_heartbeats == 0 ||
	    opt->default_heartbeat_interval_ms == 0 || opt->persist_interval_ms == 0 ||
	    opt->summary_interval_ms == 0)
		return -EINVAL;
	reg = calloc(1, sizeof *reg);
	if (!reg)
		return -ENOMEM;
	while (nb < opt->max_devices && nb < ((size_t)1 << 24))
		nb <<= 1;
	reg->buckets = calloc(nb, sizeof *reg->buckets);
	reg->link = calloc(1, sizeof *reg->link);
	reg->pending = edge__pending_new();
	reg->fail_log = edge_ratelimit_new(1, EDGE_REGISTRY_FAIL_LOG_MS, 1);
	if (!reg->buckets || !reg->link || !reg->pending || !reg->fail_log) {
		free(reg->buckets);
		free(reg->link);
		edge__pending_free(reg->pending);
		edge_ratelimit_free(reg->fail_log);
		free(reg);
		return -ENOMEM;
	}
	reg->link->refs = 1;
	reg->link->reg = reg;
	reg->n_buckets = nb;
	reg->store = store;
	reg->opt = *opt;
	*out = reg;
	return 0;
}

void edge_registry_free(edge_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n_buckets; i++) {
		struct edge__reg_node *n = reg->buckets[i];

		while (n) {
			struct edge__reg_node *next = n->hash_next;

			free(n);
			n = next;
		}
	}
	free(reg->buckets);
	edge__pending_free(reg->pending);
	edge_ratelimit_free(reg->fail_log);
	reg->link->reg = NULL;
	edge__registry_link_put(reg->link);
	free(reg);
}

/* ---- writes ---- */

static void see_clock(edge_registry *reg, uint64_t now_ms)
{
	if (!reg->clock_seen) {
		reg->clock_seen = true;
		reg->last_persist_ms = reg->last_summary_ms = now_ms;
	}
	reg->now_ms = now_ms;
}

static struct edge__reg_write *write_new(edge_registry *reg, size_t n_rows)
{
	struct edge__reg_write *w = calloc(1, sizeof *w + n_rows * sizeof w->rows[0]);

	if (w)
		w->link = reg->link;
	return w;
}

static void write_failed(edge_registry *reg, int rc, size_t rows)
{
	uint64_t suppressed = 0;

	reg->stats.write_failures++;
	if (!edge_ratelimit_allow(reg->fail_log, "store", reg->now_ms, &suppressed))
		return;
	if (suppressed)
		edge_log(EDGE_LOG_ERR, "registry",
			 "%zu node rows not stored: %s; retried with the next interval "
			 "(%llu similar failures not logged)", rows, edge_strerror(rc),
			 (unsigned long long)suppressed);
	else
		edge_log(EDGE_LOG_ERR, "registry",
			 "%zu node rows not stored: %s; retried with the next interval", rows,
			 edge_strerror(rc));
}

static int submit(edge_registry *reg, struct edge__reg_write *w)
{
	size_t rows = w->n_rows;
	int rc = edge__registry_submit(reg->store, w); /* frees w on error */

	if (rc < 0) {
		/* the nodes stay dirty: the next interval or sync retries */
		if (rc != EDGE_ELIMIT)
			write_failed(reg, rc, rows);
		else
			reg->stats.write_failures++;
		return rc;
	}
	reg->stats.writes++;
	reg->stats.rows_written += rows;
	return 0;
}

static void tell_saved(edge_registry *reg, const char *id, const enum edge_registry_event *ev,
		       int result)
{
	if (ev && reg->saved)
		reg->saved(reg->saved_ud, id, *ev, result);
}

/* This node's changes, now: its presence row, with its capabilities when
 * they are unwritten. On a refusal the node stays dirty. ev: the event
 * this write is for (its outcome goes to the saved hook), or NULL. */
static void write_now(edge_registry *reg, struct edge__reg_node *n,
		      const enum edge_registry_event *ev)
{
	struct edge__reg_write *w;
	int rc;

	if (!reg->store) {
		n->dirty = n->caps_dirty = false;
		tell_saved(reg, n->info.id, ev, 0);
		return;
	}
	w = write_new(reg, 1);
	if (!w) {
		n->dirty = true;
		tell_saved(reg, n->info.id, ev, -ENOMEM);
		return;
	}
	w->n_rows = 1;
	edge__presence_from_info(&w->rows[0], &n->info);
	if (n->caps_dirty) {
		w->has_caps = true;
		w->caps = n->info;
	}
	if (ev) {
		w->notify = true;
		w->event = *ev;
	}
	rc = submit(reg, w);
	if (rc < 0) {
		n->dirty = true;
		tell_saved(reg, n->info.id, ev, rc);
		return;
	}
	n->dirty = n->caps_dirty = false;
	n->in_flight++;
}

static int by_row_id(const void *a, const void *b)
{
	return strcmp(((const struct edge__presence_row *)a)->id,
		      ((const struct edge__presence_row *)b)->id);
}

/* Every dirty node: capabilities one op per node (rare: only after a
 * refused hello write), presence rows all in ONE op (one transaction, each
 * page written once), sorted by id (the b-tree's order). */
static int write_dirty(edge_registry *reg)
{
	struct edge__reg_write *w;
	size_t n_rows = 0, i = 0;
	int first = 0, rc;

	if (!reg->store)
		return 0;
	for (size_t b = 0; b < reg->n_buckets; b++) {
		for (struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next) {
			if (n->caps_dirty)
				write_now(reg, n, NULL);
			if (n->caps_dirty && first == 0)
				first = EDGE_ELIMIT;
			n_rows += n->dirty && !n->caps_dirty;
		}
	}
	if (n_rows == 0)
		return first;
	w = write_new(reg, n_rows);
	if (!w)
		return -ENOMEM;
	for (size_t b = 0; b < reg->n_buckets; b++)
		for (struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next)
			if (n->dirty && !n->caps_dirty)
				edge__presence_from_info(&w->rows[i++], &n->info);
	assert(i == n_rows);
	w->n_rows = n_rows;
	qsort(w->rows, n_rows, sizeof w->rows[0], by_row_id);
	rc = submit(reg, w);
	if (rc < 0)
		return rc;
	for (size_t b = 0; b < reg->n_buckets; b++) {
		for (struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next) {
			if (n->dirty && !n->caps_dirty) {
				n->dirty = false;
				n->in_flight++;
			}
		}
	}
	return first;
}

void edge__registry_write_done(edge_registry *reg, const struct edge__reg_write *w, int result)
{
	if (w->is_delete) {
		if (result < 0)
			write_failed(reg, result, 1);
		tell_saved(reg, w->delete_id, w->notify ? &w->event : NULL, result);
		return;
	}
	if (result < 0)
		write_failed(reg, result, w->n_rows);
	for (size_t i = 0; i < w->n_rows; i++) {
		struct edge__reg_node *n = find(reg, w->rows[i].id);

		if (!n)
			continue; /* forgotten meanwhile */
		if (n->in_flight)
			n->in_flight--;
		if (result < 0) {
			n->dirty = true;
			n->caps_dirty |= w->has_caps;
		}
	}
	/* After the node's marks: the hook may query it. */
	if (w->notify && w->n_rows == 1)
		tell_saved(reg, w->rows[0].id, &w->event, result);
}

/* ---- transitions, the hook, the summary ---- */

static void count_offline(struct summary *sum, const char *reason)
{
	unsigned i;

	sum->offline_total++;
	for (i = 0; i < sum->n_reasons; i++)
		if (strcmp(sum->offline[i].reason, reason) == 0)
			break;
	if (i == sum->n_reasons) {
		if (sum->n_reasons == SUMMARY_REASONS) {
			i = SUMMARY_REASONS;
			snprintf(sum->offline[i].reason, sizeof sum->offline[i].reason, "other");
		} else {
			snprintf(sum->offline[i].reason, sizeof sum->offline[i].reason, "%s", reason);
			sum->n_reasons++;
		}
	}
	sum->offline[i].count++;
}

static void record_event(edge_registry *reg, const struct edge__reg_node *n,
			 enum edge_node_state old, enum edge_registry_event ev)
{
	struct summary *sum = &reg->sum;

	switch (ev) {
	case EDGE_REGISTRY_REGISTERED: sum->registered++; reg->stats.registered++; break;
	case EDGE_REGISTRY_RECONNECTED: sum->reconnected++; reg->stats.reconnects++; break;
	case EDGE_REGISTRY_STALE: sum->stale++; break;
	case EDGE_REGISTRY_OFFLINE:
		count_offline(sum, n->info.status_reason[0] ? n->info.status_reason : "none");
		break;
	case EDGE_REGISTRY_FORGOTTEN: sum->forgotten++; reg->stats.forgotten++; break;
	case EDGE_REGISTRY_REVOKED: sum->revoked++; reg->stats.revocations++; break;
	case EDGE_REGISTRY_REINSTATED: sum->reinstated++; reg->stats.reinstated++; break;
	case EDGE_REGISTRY_ONLINE:
	case EDGE_REGISTRY_UPDATED:
		break;
	}
	if (n->info.state == EDGE_NODE_ONLINE && old != EDGE_NODE_ONLINE &&
	    ev != EDGE_REGISTRY_REGISTERED)
		sum->online++;
	/* per-node lines are the hook's (at debug level) */
	if (reg->opt.on_change)
		reg->opt.on_change(&n->info, old, ev, reg->opt.on_change_ud);
}

static void set_state(edge_registry *reg, struct edge__reg_node *n, enum edge_node_state s,
		      const char *reason)
{
	assert((unsigned)s < EDGE_NODE_STATE_COUNT);
	assert((unsigned)n->info.state < EDGE_NODE_STATE_COUNT);
	assert(reg->by_state[n->info.state] > 0);
	reg->by_state[n->info.state]--;
	reg->by_state[s]++;
	n->info.state = s;
	snprintf(n->info.status_reason, sizeof n->info.status_reason, "%s", reason ? reason : "");
	assert_counts(reg);
}

/* An event the hook sees: recorded, then the node written at once. */
static void event(edge_registry *reg, struct edge__reg_node *n, enum edge_node_state old,
		  enum edge_registry_event ev)
{
	record_event(reg, n, old, ev);
	write_now(reg, n, &ev);
}

static void summary_line(edge_registry *reg, uint64_t now_ms)
{
	struct summary *sum = &reg->sum;
	char line[768], reasons[384] = "";
	size_t used = 0, rused = 0;

#define ADD(fmt, ...)                                                                   \
	do {                                                                            \
		int w_ = snprintf(line + used, sizeof line - used, "%s" fmt,            \
				  used ? ", " : "", __VA_ARGS__);                       \
		if (w_ > 0 && (size_t)w_ < sizeof line - used)                          \
			used += (size_t)w_;                                             \
	} while (0)

	if (sum->registered)
		ADD("%u registered", sum->registered);
	if (sum->reconnected)
		ADD("%u reconnected", sum->reconnected);
	if (sum->online)
		ADD("%u online", sum->online);
	if (sum->stale)
		ADD("%u stale", sum->stale);
	if (sum->offline_total) {
		for (unsigned i = 0; i <= SUMMARY_REASONS; i++) {
			int w;

			if (!sum->offline[i].count)
				continue;
			w = snprintf(reasons + rused, sizeof reasons - rused, "%s%u %s",
				     rused ? ", " : "", sum->offline[i].count, sum->offline[i].reason);
			if (w > 0 && (size_t)w < sizeof reasons - rused)
				rused += (size_t)w;
		}
		ADD("%u offline (%s)", sum->offline_total, reasons);
	}
	if (sum->forgotten)
		ADD("%u removed", sum->forgotten);
	if (sum->revoked)
		ADD("%u revoked", sum->revoked);
	if (sum->reinstated)
		ADD("%u reinstated", sum->reinstated);
#undef ADD
	if (used)
		edge_log(EDGE_LOG_NOTICE, "registry", "presence: %s in the last %llu s", line,
			 (unsigned long long)((now_ms - reg->last_summary_ms + 500) / 1000));
	memset(sum, 0, sizeof *sum);
	reg->last_summary_ms = now_ms;
}

/* ---- load ---- */

struct load_state {
	edge_registry *reg;
	unsigned skipped;
	int error;
};

static int load_row(const struct edge_node_info *row, void *ud)
{
	struct load_state *ls = ud;
	edge_registry *reg = ls->reg;
	struct edge__reg_node *n;

	if (!edge_id_valid_str(row->id)) {
		edge_log(EDGE_LOG_WARNING, "registry", "stored node with invalid id skipped");
		return 0;
	}
	if (find(reg, row->id))
		return 0; /* already known in memory: that copy is newer */
	if (reg->count >= reg->opt.max_devices) {
		ls->skipped++;
		return 0;
	}
	n = insert(reg, row->id, EDGE_NODE_OFFLINE);
	if (!n)
		return -ENOMEM;
	n->info = *row;
	n->info.state = EDGE_NODE_OFFLINE; /* as inserted: by_state counts it there */
	if (n->info.heartbeat_interval_ms == 0)
		n->info.heartbeat_interval_ms = reg->opt.default_heartbeat_interval_ms;
	if (row->revoked_ms != 0) {
		/* stored as offline + the mark: revoked again, nothing to write */
		set_state(reg, n, EDGE_NODE_REVOKED, REVOKED_REASON);
		n->dirty = row->state != EDGE_NODE_OFFLINE ||
			   strcmp(row->status_reason, REVOKED_REASON) != 0;
		return 0;
	}
	n->info.status_reason[0] = '\0'; /* offline because the gateway started */
	/* record that it is now considered offline */
	n->dirty = row->state != EDGE_NODE_OFFLINE || row->status_reason[0];
	return 0;
}

int edge_registry_load(edge_registry *reg)
{
	struct load_state ls = { .reg = reg };
	int rc;

	if (!reg)
		return -EINVAL;
	if (!reg->store)
		return 0;
	rc = edge__registry_load_rows(reg->store, load_row, &ls);
	if (rc < 0)
		return rc;
	assert_counts(reg);
	(void)write_dirty(reg); /* the OFFLINE states; refused ones go with the next interval */
	edge_log(EDGE_LOG_INFO, "registry", "loaded %u known nodes", reg->count);
	if (ls.skipped) {
		edge_log(EDGE_LOG_WARNING, "registry",
			 "%u stored nodes not loaded: max_devices (%u) reached", ls.skipped,
			 reg->opt.max_devices);
		return EDGE_ELIMIT;
	}
	return 0;
}

/* ---- tags ---- */

int edge_registry_set_tags(edge_registry *reg, const char *id, const char *const *tags,
			   unsigned n)
{
	char joined[EDGE_REGISTRY_TAGS_TEXT_MAX];
	struct edge__reg_node *node;
	unsigned count = 0;
	int rc;

	if (!reg || !id)
		return -EINVAL;
	rc = edge__tags_join(tags, n, joined, sizeof joined, &count);
	if (rc < 0)
		return rc;
	node = find(reg, id);
	if (!node)
		return EDGE_ENOTFOUND;
	/* memory only: the caller wrote the rows (edge_registry_tags_op_*) */
	snprintf(node->info.tags, sizeof node->info.tags, "%s", joined);
	node->info.n_tags = count;
	return 0;
}

/* ---- events ---- */

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static void copy_capabilities(edge_registry *reg, struct edge_node_info *info,
			      const struct edge_msg_hello *h)
{
	size_t used = 0;
	unsigned n_ops = h->n_ops < EDGE_MSG_MAX_OPS ? h->n_ops : EDGE_MSG_MAX_OPS;

	copy_text(info->fw_version, sizeof info->fw_version, h->fw);
	copy_text(info->runtime_name, sizeof info->runtime_name, h->runtime_name);
	copy_text(info->runtime_version, sizeof info->runtime_version, h->runtime_version);
	info->ops[0] = '\0';
	info->n_ops = 0;
	for (unsigned i = 0; i < n_ops; i++) {
		int w = snprintf(info->ops + used, sizeof info->ops - used, "%s%.*s",
				 i ? "," : "", (int)EDGE_MSG_OP_CAP - 1, h->ops[i]);

		if (w < 0 || (size_t)w >= sizeof info->ops - used) {
			info->ops[used] = '\0'; /* cannot happen with protocol limits */
			break;
		}
		used += (size_t)w;
		info->n_ops++;
	}
	info->ram_bytes = h->ram_bytes;
	info->flash_bytes = h->flash_bytes;
	info->arena_bytes = h->arena_bytes;
	copy_text(info->sensor, sizeof info->sensor, h->sensor);
	info->has_model = h->has_model != 0;
	if (info->has_model) {
		copy_text(info->model_name, sizeof info->model_name, h->model.name);
		copy_text(info->model_version, sizeof info->model_version, h->model.version);
		copy_text(info->model_sha256, sizeof info->model_sha256, h->model.sha256);
	} else {
		info->model_name[0] = info->model_version[0] = info->model_sha256[0] = '\0';
	}
	info->heartbeat_interval_ms = h->heartbeat_s ? h->heartbeat_s * 1000u
						     : reg->opt.default_heartbeat_interval_ms;
}

int edge_registry_on_hello(edge_registry *reg, const struct edge_msg_hello *hello,
			   uint64_t now_ms, int64_t wall_ms)
{
	struct edge__reg_node *n;
	enum edge_node_state old;
	enum edge_registry_event ev;

	if (!reg || !hello)
		return -EINVAL;
	if (!edge_id_valid_str(hello->id))
		return EDGE_EPROTO;
	see_clock(reg, now_ms);
	n = find(reg, hello->id);
	/* Refused before anything changes: a revoked node keeps its record as
	 * it was, a refused id leaves none. */
	if (n && n->info.state == EDGE_NODE_REVOKED) {
		reg->stats.refused_revoked++;
		return EDGE_EAUTH;
	}
	if (reg->admit && !reg->admit(reg->admit_ud, hello->id)) {
		reg->stats.refused_admission++;
		return EDGE_EAUTH;
	}
	if (!n) {
		enum edge_msg_state pst;
		char preason[EDGE_REGISTRY_TOKEN_MAX] = "";

		if (reg->count >= reg->opt.max_devices)
			return EDGE_ELIMIT;
		n = insert(reg, hello->id, EDGE_NODE_ONLINE);
		if (!n)
			return -ENOMEM;
		n->info.first_seen_ms = wall_ms;
		/* Its "online" status came first (spec §2.1): its reason stands. */
		if (edge__pending_take(reg->pending, hello->id, now_ms, &pst, preason,
				       sizeof preason)) {
			reg->stats.pending_applied++;
			if (pst == EDGE_MSG_STATE_ONLINE)
				copy_text(n->info.status_reason, sizeof n->info.status_reason,
					  preason);
		}
		old = EDGE_NODE_OFFLINE;
		ev = EDGE_REGISTRY_REGISTERED;
	} else {
		old = n->info.state;
		ev = EDGE_REGISTRY_UPDATED;
		if (old != EDGE_NODE_ONLINE)
			set_state(reg, n, EDGE_NODE_ONLINE, NULL);
	}
	assert_counts(reg);
	copy_capabilities(reg, &n->info, hello);
	n->info.last_seen_ms = wall_ms;
	n->last_heard_ms = now_ms;
	n->caps_dirty = true;
	event(reg, n, old, ev);
	return 0;
}

/* The known node a status, heartbeat or loss is about: 0 with *out, else
 * EDGE_EPROTO (malformed id) or EDGE_ENOTFOUND (not in the registry). */
static int find_sender(const edge_registry *reg, const char *id,
		       struct edge__reg_node **out)
{
	if (!edge_id_valid_str(id))
		return EDGE_EPROTO;
	*out = find(reg, id);
	return *out ? 0 : EDGE_ENOTFOUND;
}

int edge_registry_on_status(edge_registry *reg, const char *id,
			    const struct edge_msg_status *st, bool retained, uint64_t now_ms,
			    int64_t wall_ms)
{
	struct edge__reg_node *n;
	enum edge_node_state old;
	int rc;

	if (!reg || !st)
		return -EINVAL;
	if (st->state != EDGE_MSG_STATE_ONLINE && st->state != EDGE_MSG_STATE_OFFLINE)
		return EDGE_EPROTO;
	see_clock(reg, now_ms);
	rc = find_sender(reg, id, &n);
	if (rc == EDGE_ENOTFOUND && reg->admit && !reg->admit(reg->admit_ud, id)) {
		/* its hello will be refused: keeping the status would only let
		 * made-up ids push out the pending statuses of real nodes */
		reg->stats.refused_admission++;
		return EDGE_EAUTH;
	}
	if (rc == EDGE_ENOTFOUND) {
		/* A new node's status precedes its hello: keep it for the hello. */
		if (edge__pending_put(reg->pending, id, st->state, st->reason_text, now_ms))
			reg->stats.pending_dropped++;
		edge_log(EDGE_LOG_DEBUG, "registry", "status of unknown node %s kept until its hello",
			 id);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (n->info.state == EDGE_NODE_REVOKED) {
		reg->stats.revoked_ignored++;
		return EDGE_EAUTH;
	}
	old = n->info.state;
	if (st->state == EDGE_MSG_STATE_OFFLINE) {
		/* a clean goodbye or the broker's last will */
		if (old == EDGE_NODE_OFFLINE) {
			copy_text(n->info.status_reason, sizeof n->info.status_reason,
				  st->reason_text);
			n->dirty = true; /* only the reason changed */
			return 0;
		}
		set_state(reg, n, EDGE_NODE_OFFLINE, st->reason_text);
		event(reg, n, old, EDGE_REGISTRY_OFFLINE);
		return 0;
	}
	/* online: alive; live → a new session */
	n->info.last_seen_ms = wall_ms;
	n->last_heard_ms = now_ms;
	if (old != EDGE_NODE_ONLINE)
		set_state(reg, n, EDGE_NODE_ONLINE, st->reason_text);
	else
		copy_text(n->info.status_reason, sizeof n->info.status_reason, st->reason_text);
	if (!retained) {
		n->info.reconnect_count++;
		event(reg, n, old, EDGE_REGISTRY_RECONNECTED);
	} else if (old != EDGE_NODE_ONLINE) {
		event(reg, n, old, EDGE_REGISTRY_ONLINE);
	} else {
		n->dirty = true;
	}
	return 0;
}

/* The day's inferences (edge_registry_stats.inferences_day). */
static void count_inferences(edge_registry *reg, const struct edge_node_info *i,
			     const struct edge_msg_heartbeat *hb, int64_t wall_ms)
{
	const int64_t day_len = 24LL * 3600 * 1000;
	const int64_t day = wall_ms - (wall_ms % day_len + day_len) % day_len;
	uint64_t grew;

	if (day != reg->stats.inferences_day_ms) {
		reg->stats.inferences_day_ms = day;
		reg->stats.inferences_day = 0;
	}
	if (i->hb_wall_ms == 0)
		return;
	if (hb->uptime_s >= i->hb_uptime_s && hb->inferences >= i->hb_inferences)
		grew = hb->inferences - i->hb_inferences;
	else
		grew = hb->inferences; /* rebooted: counted from zero again */
	reg->stats.inferences_day += grew;
}

int edge_registry_on_heartbeat(edge_registry *reg, const char *id,
			       const struct edge_msg_heartbeat *hb, uint64_t now_ms, int64_t wall_ms)
{
	struct edge__reg_node *n;
	struct edge_node_info *i;
	enum edge_node_state old;
	int rc;

	if (!reg || !hb)
		return -EINVAL;
	see_clock(reg, now_ms);
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	if (n->info.state == EDGE_NODE_REVOKED) {
		reg->stats.revoked_ignored++;
		return EDGE_EAUTH;
	}
	i = &n->info;
	count_inferences(reg, i, hb, wall_ms);
	i->hb_seq = hb->seq;
	i->hb_uptime_s = hb->uptime_s;
	i->hb_inferences = hb->inferences;
	i->hb_anomalies = hb->anomalies;
	i->hb_mqtt_reconnects = hb->mqtt_reconnects;
	i->hb_free_heap_bytes = hb->free_heap_bytes;
	i->hb_has_min_free_heap = hb->has_min_free_heap != 0;
	i->hb_min_free_heap_bytes = hb->has_min_free_heap ? hb->min_free_heap_bytes : 0;
	i->hb_has_rssi = hb->has_rssi != 0;
	i->hb_rssi_dbm = hb->has_rssi ? hb->rssi_dbm : 0;
	i->hb_wall_ms = wall_ms;
	i->last_seen_ms = wall_ms;
	n->last_heard_ms = now_ms;
	n->dirty = true; /* counters: written with the next interval */
	old = i->state;
	if (old != EDGE_NODE_ONLINE) {
		set_state(reg, n, EDGE_NODE_ONLINE, NULL);
		event(reg, n, old, EDGE_REGISTRY_ONLINE);
	}
	return 0;
}

int edge_registry_on_lost(edge_registry *reg, const char *id, const char *reason,
			  uint64_t now_ms, int64_t wall_ms)
{
	struct edge__reg_node *n;
	enum edge_node_state old;
	int rc;

	(void)wall_ms; /* losing a node is not hearing from it */
	if (!reg)
		return -EINVAL;
	see_clock(reg, now_ms);
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	if (n->info.state == EDGE_NODE_REVOKED)
		return 0; /* only reinstate or forget end it */
	old = n->info.state;
	set_state(reg, n, EDGE_NODE_OFFLINE, reason ? reason : "lost");
	if (old != EDGE_NODE_OFFLINE)
		event(reg, n, old, EDGE_REGISTRY_OFFLINE);
	else
		n->dirty = true;
	return 0;
}

int edge_registry_forget(edge_registry *reg, const char *id, bool force)
{
	const enum edge_registry_event ev = EDGE_REGISTRY_FORGOTTEN;
	struct edge__reg_node **link, *n;
	struct edge__reg_write *w;
	int rc;

	if (!reg)
		return -EINVAL;
	if (!edge_id_valid_str(id))
		return EDGE_EPROTO;
	for (link = bucket_of(reg, id); *link; link = &(*link)->hash_next)
		if (strcmp((*link)->info.id, id) == 0)
			break;
	n = *link;
	if (!n)
		return EDGE_ENOTFOUND;
	if (!force && (n->info.state == EDGE_NODE_ONLINE || n->info.state == EDGE_NODE_STALE))
		return EDGE_ESTATE;
	if (reg->store) {
		w = write_new(reg, 0);
		if (!w)
			return -ENOMEM;
		w->is_delete = true;
		w->notify = true;
		w->event = ev;
		copy_text(w->delete_id, sizeof w->delete_id, id);
		rc = submit(reg, w);
		if (rc < 0)
			return rc;
	}
	record_event(reg, n, n->info.state, ev);
	*link = n->hash_next;
	assert(reg->count > 0 && reg->by_state[n->info.state] > 0);
	reg->count--;
	reg->by_state[n->info.state]--;
	assert(!find(reg, id));
	assert_counts(reg);
	edge__pending_remove(reg->pending, id);
	if (!reg->store)
		tell_saved(reg, n->info.id, &ev, 0); /* already gone, as after a commit */
	free(n);
	return 0;
}

int edge_registry_revoke(edge_registry *reg, const char *id, int64_t wall_ms)
{
	struct edge__reg_node *n;
	enum edge_node_state old;
	int rc;

	if (!reg)
		return -EINVAL;
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	old = n->info.state;
	if (old == EDGE_NODE_REVOKED)
		return 0;
	set_state(reg, n, EDGE_NODE_REVOKED, REVOKED_REASON);
	n->info.revoked_ms = wall_ms;
	/* the mark lives in the wide row: written with it */
	n->caps_dirty = true;
	edge__pending_remove(reg->pending, id);
	event(reg, n, old, EDGE_REGISTRY_REVOKED);
	return 0;
}

int edge_registry_reinstate(edge_registry *reg, const char *id)
{
	struct edge__reg_node *n;
	int rc;

	if (!reg)
		return -EINVAL;
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	if (n->info.state != EDGE_NODE_REVOKED)
		return 0;
	set_state(reg, n, EDGE_NODE_OFFLINE, NULL);
	n->info.revoked_ms = 0;
	n->caps_dirty = true;
	event(reg, n, EDGE_NODE_REVOKED, EDGE_REGISTRY_REINSTATED);
	return 0;
}

void edge_registry_set_admission(edge_registry *reg, edge_registry_admit_fn admit, void *ud)
{
	if (!reg)
		return;
	reg->admit = admit;
	reg->admit_ud = admit ? ud : NULL;
}

void edge_registry_set_saved_hook(edge_registry *reg, edge_registry_saved_fn fn, void *ud)
{
	if (!reg)
		return;
	reg->saved = fn;
	reg->saved_ud = fn ? ud : NULL;
}

int edge_registry_set_stale_after(edge_registry *reg, unsigned missed)
{
	if (!reg || missed == 0)
		return -EINVAL;
	reg->opt.stale_after_missed_heartbeats = missed;
	return 0;
}

int edge_registry_set_persist_interval(edge_registry *reg, uint32_t interval_ms)
{
	if (!reg || interval_ms == 0)
		return -EINVAL;
	reg->opt.persist_interval_ms = interval_ms;
	return 0;
}

int edge_registry_set_summary_interval(edge_registry *reg, uint32_t interval_ms)
{
	if (!reg || interval_ms == 0)
		return -EINVAL;
	reg->opt.summary_interval_ms = interval_ms;
	return 0;
}

/* now - then >= interval, also when the caller's clock went backwards. */
static bool due(uint64_t now_ms, uint64_t then_ms, uint32_t interval_ms)
{
	return now_ms < then_ms || now_ms - then_ms >= interval_ms;
}

void edge_registry_tick(edge_registry *reg, uint64_t now_ms)
{
	unsigned expired;

	if (!reg)
		return;
	see_clock(reg, now_ms);
	for (size_t b = 0; b < reg->n_buckets; b++) {
		for (struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next) {
			uint64_t limit = (uint64_t)n->info.heartbeat_interval_ms *
					 reg->opt.stale_after_missed_heartbeats;

			assert((unsigned)n->info.state < EDGE_NODE_STATE_COUNT);
			if (n->info.state == EDGE_NODE_ONLINE && now_ms >= n->last_heard_ms &&
			    now_ms - n->last_heard_ms >= limit) {
				set_state(reg, n, EDGE_NODE_STALE, NULL);
				event(reg, n, EDGE_NODE_ONLINE, EDGE_REGISTRY_STALE);
			}
		}
	}
	if (due(now_ms, reg->last_persist_ms, reg->opt.persist_interval_ms)) {
		reg->last_persist_ms = now_ms;
		(void)write_dirty(reg);
	}
	expired = edge__pending_expire(reg->pending, now_ms);
	reg->stats.pending_dropped += expired;
	if (due(now_ms, reg->last_summary_ms, reg->opt.summary_interval_ms))
		summary_line(reg, now_ms);
}

int edge_registry_sync(edge_registry *reg)
{
	if (!reg)
		return -EINVAL;
	return write_dirty(reg);
}

unsigned edge_registry_unsaved(const edge_registry *reg)
{
	unsigned n_unsaved = 0;

	if (!reg || !reg->store)
		return 0;
	for (size_t b = 0; b < reg->n_buckets; b++)
		for (const struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next)
			n_unsaved += n->dirty || n->caps_dirty || n->in_flight;
	return n_unsaved;
}

int edge_registry_save(edge_registry *reg)
{
	int rc = 0;

	if (!reg)
		return -EINVAL;
	if (!reg->store)
		return 0;
	/* Rounds go on while they make progress (a full queue takes part of
	 * the writes per round); a store that fails every write (disk full)
	 * ends it at the first round that saved nothing. */
	for (unsigned before = edge_registry_unsaved(reg), after; before > 0; before = after) {
		rc = edge_registry_sync(reg);
		edge_store_flush(reg->store);
		(void)edge_store_run_completions(reg->store);
		after = edge_registry_unsaved(reg);
		if (after >= before)
			return rc < 0 ? rc : EDGE_ESTORE;
	}
	return 0;
}

/* ---- queries ---- */

void edge_registry_counts(const edge_registry *reg, struct edge_registry_counts *out)
{
	memset(out, 0, sizeof *out);
	if (!reg)
		return;
	out->total = reg->count;
	memcpy(out->by_state, reg->by_state, sizeof out->by_state);
	out->pending_status = edge__pending_count(reg->pending);
}

void edge_registry_get_stats(const edge_registry *reg, struct edge_registry_stats *out)
{
	memset(out, 0, sizeof *out);
	if (reg)
		*out = reg->stats;
}

int edge_registry_get(const edge_registry *reg, const char *id, struct edge_node_info *out)
{
	const struct edge__reg_node *n;

	if (!reg || !id || !out)
		return -EINVAL;
	n = find(reg, id);
	if (!n)
		return EDGE_ENOTFOUND;
	*out = n->info;
	return 0;
}

int edge_registry_get_state(const edge_registry *reg, const char *id)
{
	const struct edge__reg_node *n = reg && id ? find(reg, id) : NULL;

	return n ? (int)n->info.state : EDGE_ENOTFOUND;
}

static int by_id(const void *a, const void *b)
{
	const struct edge__reg_node *const *x = a, *const *y = b;

	return strcmp((*x)->info.id, (*y)->info.id);
}

int edge_registry_foreach(const edge_registry *reg, unsigned state_mask,
			  edge_registry_iter_fn fn, void *ud)
{
	struct edge__reg_node **list;
	size_t n = 0;
	int rc = 0;

	if (!reg || !fn)
		return -EINVAL;
	if (reg->count == 0)
		return 0;
	list = malloc(reg->count * sizeof *list);
	if (!list)
		return -ENOMEM;
	for (size_t b = 0; b < reg->n_buckets; b++)
		for (struct edge__reg_node *node = reg->buckets[b]; node; node = node->hash_next)
			if (state_mask & EDGE_NODE_MASK(node->info.state))
				list[n++] = node;
	assert(n <= reg->count);
	qsort(list, n, sizeof *list, by_id);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fn(&list[i]->info, ud);
	free(list);
	return rc;
}
