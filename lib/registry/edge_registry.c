/* The node registry: hash table by id, the per-node state machine, queries. */
#include "edge_registry_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_log.h"
#include "edge_topic.h"

struct edge_registry {
	edge_store *store; /* borrowed; NULL = memory only */
	struct edge__registry_link *link;
	struct edge_registry_options opt;
	struct edge__reg_node **buckets;
	size_t n_buckets;  /* power of two */
	unsigned count;
	unsigned by_state[EDGE_NODE_STATE_COUNT];
};

static const char *const state_names[EDGE_NODE_STATE_COUNT] = {
	[EDGE_NODE_OFFLINE] = "offline",
	[EDGE_NODE_ONLINE] = "online",
	[EDGE_NODE_STALE] = "stale",
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
	}
	return "unknown";
}

void edge_registry_options_init(struct edge_registry_options *opt)
{
	*opt = (struct edge_registry_options){
		.max_devices = 1024,
		.stale_after_missed_heartbeats = 3,
		.default_heartbeat_interval_ms = 30000,
		.persist_interval_ms = 5000,
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
	    opt->default_heartbeat_interval_ms == 0)
		return -EINVAL;
	reg = calloc(1, sizeof *reg);
	if (!reg)
		return -ENOMEM;
	while (nb < opt->max_devices && nb < ((size_t)1 << 24))
		nb <<= 1;
	reg->buckets = calloc(nb, sizeof *reg->buckets);
	reg->link = calloc(1, sizeof *reg->link);
	if (!reg->buckets || !reg->link) {
		free(reg->buckets);
		free(reg->link);
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
	reg->link->reg = NULL;
	edge__registry_link_put(reg->link);
	free(reg);
}

/* ---- persistence and hooks ---- */

static int persist(edge_registry *reg, struct edge__reg_node *n, uint64_t now_ms)
{
	int rc;

	n->dirty = true;
	if (!reg->store) {
		n->dirty = false;
		return 0;
	}
	rc = edge__registry_persist_node(reg->store, reg->link, n);
	if (rc < 0) {
		/* stays dirty: the next tick or sync retries */
		edge_log(EDGE_LOG_DEBUG, "registry", "node %s: write deferred: %s", n->info.id,
			 edge_strerror(rc));
		return rc;
	}
	n->dirty = false;
	n->last_persist_ms = now_ms;
	return 0;
}

void edge__registry_write_failed(edge_registry *reg, const char *id)
{
	struct edge__reg_node *n = find(reg, id);

	if (n)
		n->dirty = true; /* the tick retries after persist_interval_ms */
}

/* Heartbeat-only changes: written when the node's last write is old enough. */
static void persist_coalesced(edge_registry *reg, struct edge__reg_node *n, uint64_t now_ms)
{
	n->dirty = true;
	if (now_ms - n->last_persist_ms >= reg->opt.persist_interval_ms || now_ms < n->last_persist_ms)
		(void)persist(reg, n, now_ms);
}

static void set_state(edge_registry *reg, struct edge__reg_node *n, enum edge_node_state s)
{
	reg->by_state[n->info.state]--;
	reg->by_state[s]++;
	n->info.state = s;
}

static void notify(edge_registry *reg, struct edge__reg_node *n, enum edge_node_state old,
		   enum edge_registry_event ev)
{
	if (reg->opt.on_change)
		reg->opt.on_change(&n->info, old, ev, reg->opt.on_change_ud);
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
	n->info.state = EDGE_NODE_OFFLINE;
	if (n->info.heartbeat_interval_ms == 0)
		n->info.heartbeat_interval_ms = reg->opt.default_heartbeat_interval_ms;
	/* record that it is now considered offline */
	n->dirty = row->state != EDGE_NODE_OFFLINE;
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
	edge_log(EDGE_LOG_INFO, "registry", "loaded %u known nodes", reg->count);
	if (ls.skipped) {
		edge_log(EDGE_LOG_WARNING, "registry",
			 "%u stored nodes not loaded: max_devices (%u) reached", ls.skipped,
			 reg->opt.max_devices);
		return EDGE_ELIMIT;
	}
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
	n = find(reg, hello->id);
	if (!n) {
		if (reg->count >= reg->opt.max_devices)
			return EDGE_ELIMIT;
		n = insert(reg, hello->id, EDGE_NODE_ONLINE);
		if (!n)
			return -ENOMEM;
		n->info.first_seen_ms = wall_ms;
		old = EDGE_NODE_OFFLINE;
		ev = EDGE_REGISTRY_REGISTERED;
	} else {
		old = n->info.state;
		if (old == EDGE_NODE_ONLINE) {
			ev = EDGE_REGISTRY_UPDATED;
		} else {
			ev = EDGE_REGISTRY_RECONNECTED;
			n->info.reconnect_count++;
			set_state(reg, n, EDGE_NODE_ONLINE);
		}
	}
	copy_capabilities(reg, &n->info, hello);
	n->info.last_seen_ms = wall_ms;
	n->last_heard_ms = now_ms;
	(void)persist(reg, n, now_ms);
	notify(reg, n, old, ev);
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

/* An online status or a heartbeat: the node is alive. Already online, only
 * a coalesced write; otherwise it is back online. */
static void heard_alive(edge_registry *reg, struct edge__reg_node *n,
			uint64_t now_ms, int64_t wall_ms)
{
	enum edge_node_state old = n->info.state;

	n->info.last_seen_ms = wall_ms;
	n->last_heard_ms = now_ms;
	if (old == EDGE_NODE_ONLINE) {
		persist_coalesced(reg, n, now_ms);
		return;
	}
	set_state(reg, n, EDGE_NODE_ONLINE);
	(void)persist(reg, n, now_ms);
	notify(reg, n, old, EDGE_REGISTRY_ONLINE);
}

int edge_registry_on_status(edge_registry *reg, const char *id,
			    const struct edge_msg_status *st, uint64_t now_ms, int64_t wall_ms)
{
	struct edge__reg_node *n;
	enum edge_node_state old;
	int rc;

	if (!reg || !st)
		return -EINVAL;
	if (st->state != EDGE_MSG_STATE_ONLINE && st->state != EDGE_MSG_STATE_OFFLINE)
		return EDGE_EPROTO;
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	old = n->info.state;
	copy_text(n->info.status_reason, sizeof n->info.status_reason, st->reason_text);
	if (st->state == EDGE_MSG_STATE_ONLINE) {
		heard_alive(reg, n, now_ms, wall_ms);
		return 0;
	}
	/* offline (a clean goodbye or the broker's last will) */
	if (old == EDGE_NODE_OFFLINE) {
		(void)persist(reg, n, now_ms); /* the reason changed */
		return 0;
	}
	set_state(reg, n, EDGE_NODE_OFFLINE);
	(void)persist(reg, n, now_ms);
	notify(reg, n, old, EDGE_REGISTRY_OFFLINE);
	return 0;
}

int edge_registry_on_heartbeat(edge_registry *reg, const char *id,
			       const struct edge_msg_heartbeat *hb, uint64_t now_ms, int64_t wall_ms)
{
	struct edge__reg_node *n;
	struct edge_node_info *i;
	int rc;

	if (!reg || !hb)
		return -EINVAL;
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	i = &n->info;
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
	heard_alive(reg, n, now_ms, wall_ms);
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
	rc = find_sender(reg, id, &n);
	if (rc < 0)
		return rc;
	old = n->info.state;
	copy_text(n->info.status_reason, sizeof n->info.status_reason, reason ? reason : "lost");
	if (old != EDGE_NODE_OFFLINE)
		set_state(reg, n, EDGE_NODE_OFFLINE);
	(void)persist(reg, n, now_ms);
	if (old != EDGE_NODE_OFFLINE)
		notify(reg, n, old, EDGE_REGISTRY_OFFLINE);
	return 0;
}

int edge_registry_forget(edge_registry *reg, const char *id)
{
	struct edge__reg_node **link, *n;
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
	if (reg->store) {
		rc = edge__registry_delete_node(reg->store, id);
		if (rc < 0)
			return rc;
	}
	notify(reg, n, n->info.state, EDGE_REGISTRY_FORGOTTEN);
	*link = n->hash_next;
	reg->count--;
	reg->by_state[n->info.state]--;
	free(n);
	return 0;
}

int edge_registry_set_stale_after(edge_registry *reg, unsigned missed)
{
	if (!reg || missed == 0)
		return -EINVAL;
	reg->opt.stale_after_missed_heartbeats = missed;
	return 0;
}

void edge_registry_tick(edge_registry *reg, uint64_t now_ms)
{
	if (!reg)
		return;
	for (size_t b = 0; b < reg->n_buckets; b++) {
		for (struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next) {
			uint64_t limit = (uint64_t)n->info.heartbeat_interval_ms *
					 reg->opt.stale_after_missed_heartbeats;

			if (n->info.state == EDGE_NODE_ONLINE && now_ms >= n->last_heard_ms &&
			    now_ms - n->last_heard_ms >= limit) {
				set_state(reg, n, EDGE_NODE_STALE);
				(void)persist(reg, n, now_ms);
				notify(reg, n, EDGE_NODE_ONLINE, EDGE_REGISTRY_STALE);
			} else if (n->dirty) {
				persist_coalesced(reg, n, now_ms);
			}
		}
	}
}

int edge_registry_sync(edge_registry *reg)
{
	int first = 0;

	if (!reg)
		return -EINVAL;
	for (size_t b = 0; b < reg->n_buckets; b++) {
		for (struct edge__reg_node *n = reg->buckets[b]; n; n = n->hash_next) {
			int rc;

			if (!n->dirty)
				continue;
			rc = persist(reg, n, n->last_persist_ms);
			if (rc < 0 && first == 0)
				first = rc;
		}
	}
	return first;
}

int edge_registry_save(edge_registry *reg)
{
	int rc;

	if (!reg)
		return -EINVAL;
	if (!reg->store)
		return 0;
	/* Each round submits at least one write (or fails for good), so the
	 * number of rounds is bounded by the number of nodes. */
	for (unsigned round = 0; round <= reg->count; round++) {
		rc = edge_registry_sync(reg);
		edge_store_flush(reg->store);
		(void)edge_store_run_completions(reg->store);
		if (rc != EDGE_ELIMIT)
			return rc;
	}
	return EDGE_ELIMIT;
}

/* ---- queries ---- */

void edge_registry_counts(const edge_registry *reg, struct edge_registry_counts *out)
{
	memset(out, 0, sizeof *out);
	if (!reg)
		return;
	out->total = reg->count;
	memcpy(out->by_state, reg->by_state, sizeof out->by_state);
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
	qsort(list, n, sizeof *list, by_id);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fn(&list[i]->info, ud);
	free(list);
	return rc;
}
