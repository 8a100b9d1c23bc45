/* offload.* control commands and the offload JSON of status and devices
 * show (offload.h, proto/control-protocol.md "Offload"). Loop thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edge_offload_store.h"
#include "edged.h"
#include "edge_topic.h"
#include "offload_internal.h"
#include "ota_internal.h"
#include "router.h"

static int oom(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "out of memory");
	return EDGE_CTL_E_INTERNAL;
}

static struct edged_offload *service(void *ud, char *msg, size_t msglen)
{
	struct edged *d = ud;

	if (!d->offload || d->offload->stopping || !d->ota || d->ota->stopping) {
		snprintf(msg, msglen, "the offload service is not running (offload.enabled)");
		return NULL;
	}
	return d->offload;
}

static json_t *outcomes_json(const uint64_t *v, unsigned n)
{
	json_t *j = json_object();

	for (unsigned i = 0; j && i < n; i++)
		(void)json_object_set_new(
			j, edge_infer_status_name((enum edge_infer_offload_status)i),
			json_integer((json_int_t)v[i]));
	return j;
}

static json_t *latency_json(const struct edge_offload_latency *l)
{
	return json_pack("{s:I, s:I}", "p50", (json_int_t)l->p50_us, "p99",
			 (json_int_t)l->p99_us);
}

static json_t *model_json(const struct edge_ota_model *cm, const struct off_model *m)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:s?, s:I, s:I, s:I, s:I}", "digest",
			 cm->digest, "name", cm->manifest.name, "version", cm->manifest.version,
			 "sha256", cm->manifest.sha256, "enabled", m != NULL, "offloadable",
			 m && m->in_pool ? json_boolean(m->offloadable) : json_null(), "reason",
			 m && m->reason[0] ? m->reason : NULL, "input_bytes",
			 (json_int_t)(m ? m->input_bytes : 0), "output_bytes",
			 (json_int_t)(m ? m->output_bytes : 0), "interpreter_bytes",
			 (json_int_t)(m ? m->interpreter_bytes : 0), "macs",
			 (json_int_t)(m ? m->macs : 0));
}

int edged_offload_cmd_list(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_offload *o = service(ud, msg, msglen);
	const struct edge_ota_catalog *c;
	json_t *list;

	(void)args;
	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	c = o->ota->catalog;
	list = json_array();
	for (unsigned i = 0; list && i < edge_ota_catalog_count(c); i++) {
		const struct edge_ota_model *cm = edge_ota_catalog_at(c, i);

		(void)json_array_append_new(list, model_json(cm, off_model_by_digest(o, cm->digest)));
	}
	*result = list ? json_pack("{s:o}", "models", list) : NULL;
	return *result ? 0 : oom(msg, msglen);
}

/* args.model as a stored model; NULL with *code and msg. */
static const struct edge_ota_model *model_arg(struct edged_offload *o, json_t *args, int *code,
					      char *msg, size_t msglen)
{
	const char *ref = json_string_value(json_object_get(args, "model"));
	const struct edge_ota_model *m;
	bool ambiguous = false;

	if (!ref || !ref[0]) {
		snprintf(msg, msglen, "missing model reference (args.model)");
		*code = EDGE_CTL_E_BAD_ARGS;
		return NULL;
	}
	m = edge_ota_catalog_find(o->ota->catalog, ref, &ambiguous);
	if (!m) {
		snprintf(msg, msglen, ambiguous ? "'%.80s' matches several models: give more digits"
						: "no stored model '%.80s'",
			 ref);
		*code = ambiguous ? EDGE_CTL_E_AMBIGUOUS : EDGE_CTL_E_NOT_FOUND;
	}
	return m;
}

/* The service and the stored model a command names (args.model): NULL
 * with *code (unavailable, bad_args, not_found, ambiguous) and msg. */
static const struct edge_ota_model *command_model(void *ud, json_t *args,
						  struct edged_offload **svc, int *code,
						  char *msg, size_t msglen)
{
	*svc = service(ud, msg, msglen);
	if (!*svc) {
		*code = EDGE_CTL_E_UNAVAILABLE;
		return NULL;
	}
	return model_arg(*svc, args, code, msg, msglen);
}

struct set_op {
	struct edged_offload *o;
	char digest[EDGE_OFFLOAD_DIGEST_HEX + 1];
	bool enabled;
	int64_t wall_ms;
};

static int set_run(edge_store_conn *conn, void *ud)
{
	struct set_op *op = ud;

	return edge_offload_store_set_op(conn, op->digest, op->enabled, op->wall_ms);
}

static void set_done(int result, void *ud)
{
	struct set_op *op = ud;

	if (result < 0)
		edge_log(EDGE_LOG_WARNING, "offload", "model %.16s: %s not stored: %s", op->digest,
			 op->enabled ? "enabled" : "disabled", edge_strerror(result));
	free(op);
}

static void persist(struct edged_offload *o, const char *digest, bool enabled)
{
	struct set_op *op = calloc(1, sizeof *op);

	if (!op) {
		edge_log(EDGE_LOG_WARNING, "offload", "model %.16s: not stored: out of memory", digest);
		return;
	}
	op->o = o;
	snprintf(op->digest, sizeof op->digest, "%s", digest);
	op->enabled = enabled;
	op->wall_ms = (int64_t)ota_wall_ms();
	if (edge_store_submit(o->store, set_run, set_done, op) < 0) {
		edge_log(EDGE_LOG_WARNING, "offload", "model %.16s: not stored: the store refused",
			 digest);
		free(op);
	}
}

int edged_offload_cmd_enable(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_offload *o;
	const struct edge_ota_model *cm;
	struct off_model *m;
	int code = 0;

	cm = command_model(ud, args, &o, &code, msg, msglen);
	if (!cm)
		return code;
	m = off_model_by_digest(o, cm->digest);
	if (!m) {
		m = off_model_add(o, cm->digest, (int64_t)ota_wall_ms());
		if (!m)
			return oom(msg, msglen);
		persist(o, cm->digest, true);
		edge_log(EDGE_LOG_NOTICE, "offload", "model %s@%s enabled for offload",
			 cm->manifest.name, cm->manifest.version);
	}
	off_model_load(o, m);
	*result = model_json(cm, m);
	return *result ? 0 : oom(msg, msglen);
}

int edged_offload_cmd_disable(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_offload *o;
	const struct edge_ota_model *cm;
	struct off_model *m;
	int code = 0;

	cm = command_model(ud, args, &o, &code, msg, msglen);
	if (!cm)
		return code;
	m = off_model_by_digest(o, cm->digest);
	if (!m) {
		snprintf(msg, msglen, "%s@%s is not enabled for offload", cm->manifest.name,
			 cm->manifest.version);
		return EDGE_CTL_E_NOT_FOUND;
	}
	/* Its queued requests are answered not_offloadable at once. */
	off_model_remove(o, m);
	persist(o, cm->digest, false);
	edge_log(EDGE_LOG_NOTICE, "offload", "model %s@%s disabled for offload", cm->manifest.name,
		 cm->manifest.version);
	*result = model_json(cm, NULL);
	return *result ? 0 : oom(msg, msglen);
}

/* The counters every view shares. */
static json_t *totals_json(const struct edged_offload *o, const struct edge_offload_stats *st)
{
	const struct off_stats *s = &o->stats;

	return json_pack(
		"{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I}, "
		"s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:i}",
		"workers", (int)st->workers, "queued", (int)st->queued, "queue_max",
		(int)st->queue_max, "node_queue_max", (int)st->node_queue_max, "memory_bytes",
		(json_int_t)st->memory_bytes, "memory_budget", (json_int_t)st->memory_budget,
		"requests", (json_int_t)s->requests, "outcomes",
		outcomes_json(s->outcomes, EDGE_INFER_S_COUNT), "busy", "queue_full",
		(json_int_t)st->busy_queue_full, "node_cap", (json_int_t)st->busy_node_cap,
		"deadline", (json_int_t)st->busy_deadline, "node_table",
		(json_int_t)st->busy_node_table, "dropped", "no_response_topic",
		(json_int_t)s->no_response_topic, "reply_failed", (json_int_t)s->reply_failed,
		"verify", "received", (json_int_t)s->verify_received, "matches",
		(json_int_t)s->verify_matches, "mismatches", (json_int_t)s->verify_mismatches,
		"not_held", (json_int_t)s->verify_not_held, "busy", (json_int_t)s->verify_busy,
		"malformed", (json_int_t)s->verify_malformed, "models_enabled", (int)o->n_models);
}

json_t *edged_offload_status_json(const struct edged_offload *o)
{
	struct edge_offload_stats st;
	json_t *j;

	if (!o)
		return json_null();
	if (edge_offload_pool_stats(o->pool, &st) < 0)
		return NULL;
	j = totals_json(o, &st);
	edge_offload_stats_free(&st);
	return j;
}

static int off_default_permille(const struct edged_offload *o)
{
	return edge_config_settings(o->d->config)->offload.verify_permille;
}

static const struct off_node *node_find(const struct edged_offload *o, const char *id)
{
	for (unsigned i = 0; i < o->n_nodes; i++)
		if (strcmp(o->nodes[i].id, id) == 0)
			return &o->nodes[i];
	return NULL;
}

int edged_offload_cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_offload *o = service(ud, msg, msglen);
	struct edge_offload_stats st;
	json_t *j, *models, *nodes;

	(void)args;
	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (edge_offload_pool_stats(o->pool, &st) < 0)
		return oom(msg, msglen);
	j = totals_json(o, &st);
	models = json_array();
	nodes = json_array();
	for (size_t i = 0; models && i < st.n_models; i++) {
		const struct edge_offload_model_stats *ms = &st.models[i];
		const struct off_model *m = NULL;

		for (unsigned k = 0; k < o->n_models && !m; k++)
			if (strcmp(o->models[k].sha, ms->sha256_hex) == 0)
				m = &o->models[k];
		if (!m)
			continue; /* disabled: its numbers go with it */
		(void)json_array_append_new(
			models,
			json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:i, s:i, s:I, s:I, s:I}",
				  "name", m->name, "version", m->version, "sha256", m->sha,
				  "requests", (json_int_t)ms->requests, "outcomes",
				  outcomes_json(ms->outcomes, EDGE_OFFLOAD_STATUS_COUNT), "queue_us",
				  latency_json(&ms->queue), "run_us", latency_json(&ms->run),
				  "queued", (int)ms->queued, "loaded", (int)ms->loaded,
				  "memory_bytes", (json_int_t)ms->memory_bytes, "matches",
				  (json_int_t)m->matches, "mismatches", (json_int_t)m->mismatches));
	}
	for (size_t i = 0; nodes && i < st.n_nodes; i++) {
		const struct edge_offload_node_stats *ns = &st.nodes[i];
		const struct off_node *n = node_find(o, ns->node_id);

		(void)json_array_append_new(
			nodes,
			json_pack("{s:s, s:I, s:o, s:o, s:o, s:i, s:I, s:I, s:b}", "id", ns->node_id,
				  "requests", (json_int_t)ns->requests, "outcomes",
				  outcomes_json(ns->outcomes, EDGE_OFFLOAD_STATUS_COUNT), "queue_us",
				  latency_json(&ns->queue), "run_us", latency_json(&ns->run),
				  "queued", (int)ns->queued, "matches",
				  (json_int_t)(n ? n->matches : 0), "mismatches",
				  (json_int_t)(n ? n->mismatches : 0), "flagged", n && n->flagged));
	}
	/* nodes seen only through verify */
	for (unsigned i = 0; nodes && i < o->n_nodes; i++) {
		bool listed = false;

		for (size_t k = 0; k < st.n_nodes && !listed; k++)
			listed = strcmp(st.nodes[k].node_id, o->nodes[i].id) == 0;
		if (!listed)
			(void)json_array_append_new(
				nodes, json_pack("{s:s, s:I, s:I, s:I, s:b}", "id", o->nodes[i].id,
						 "requests", (json_int_t)0, "matches",
						 (json_int_t)o->nodes[i].matches, "mismatches",
						 (json_int_t)o->nodes[i].mismatches, "flagged",
						 o->nodes[i].flagged));
	}
	edge_offload_stats_free(&st);
	{
		json_t *rules = json_array();

		for (unsigned i = 0; rules && i < o->n_rules; i++)
			(void)json_array_append_new(rules, json_pack("{s:s, s:i}", "target",
								     o->rules[i].target, "permille",
								     o->rules[i].permille));
		if (j && rules)
			(void)json_object_set_new(j, "verify_rules", rules);
		else
			json_decref(rules);
		if (j)
			(void)json_object_set_new(
				j, "verify_default",
				json_integer(off_default_permille(o)));
	}
	if (!j || !models || !nodes || json_object_set_new(j, "models", models) < 0 ||
	    json_object_set_new(j, "nodes", nodes) < 0) {
		json_decref(j);
		return oom(msg, msglen);
	}
	*result = j;
	return 0;
}

int edged_offload_cmd_mismatches(void *ud, json_t *args, json_t **result, char *msg,
				 size_t msglen)
{
	struct edged_offload *o = service(ud, msg, msglen);
	json_t *jl = json_object_get(args, "limit"), *list;
	json_int_t limit = 50;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (jl && (!json_is_integer(jl) || json_integer_value(jl) < 1 ||
		   json_integer_value(jl) > 100000)) {
		snprintf(msg, msglen, "args.limit must be an integer in 1..100000");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (jl)
		limit = json_integer_value(jl);
	list = json_array();
	/* newest first */
	for (unsigned i = o->mm_n; list && i-- > 0 && (json_int_t)json_array_size(list) < limit;) {
		const struct off_mismatch *e = &o->mm[(o->mm_head + i) % o->mm_cap];

		(void)json_array_append_new(
			list, json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s}",
					"ts_ms", (json_int_t)e->ts_ms, "node", e->node, "model",
					e->model, "sha256", e->sha256, "seq", (json_int_t)e->seq,
					"first_diff", (json_int_t)e->first_diff, "length",
					(json_int_t)e->length, "node_length",
					(json_int_t)e->node_length, "node_bytes", e->node_bytes,
					"gateway_bytes", e->gateway_bytes, "input_sha256",
					e->input_sha256));
	}
	*result = list ? json_pack("{s:o}", "mismatches", list) : NULL;
	return *result ? 0 : oom(msg, msglen);
}

json_t *edged_offload_device_json(const struct edged_offload *o, const char *id)
{
	struct edge_offload_stats st;
	const struct off_node *n;
	uint64_t requests = 0;

	if (!o)
		return json_null();
	n = node_find(o, id);
	if (edge_offload_pool_stats(o->pool, &st) == 0) {
		for (size_t i = 0; i < st.n_nodes; i++)
			if (strcmp(st.nodes[i].node_id, id) == 0)
				requests = st.nodes[i].requests;
		edge_offload_stats_free(&st);
	}
	if (!n && requests == 0)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:b}", "requests", (json_int_t)requests, "matches",
			 (json_int_t)(n ? n->matches : 0), "mismatches",
			 (json_int_t)(n ? n->mismatches : 0), "flagged", n && n->flagged);
}

struct verify_op {
	char target[EDGE_OFFLOAD_TARGET_MAX + 1];
	int permille;
};

static int verify_run(edge_store_conn *conn, void *ud)
{
	struct verify_op *op = ud;

	return edge_offload_store_verify_op(conn, op->target, op->permille);
}

static void verify_done(int result, void *ud)
{
	struct verify_op *op = ud;

	if (result < 0)
		edge_log(EDGE_LOG_WARNING, "offload", "shadow sampling of %s not stored: %s",
			 op->target, edge_strerror(result));
	free(op);
}

struct tell_ctx {
	struct edged *d;
	const char *target;
	unsigned told;
};

/* Online nodes the rule applies to get registered again: the new share
 * reaches them at once. */
static int tell_node(const struct edge_node_info *n, void *ud)
{
	struct tell_ctx *c = ud;
	bool hit = strncmp(c->target, "id:", 3) == 0 ? strcmp(n->id, c->target + 3) == 0
						      : edge_registry_has_tag(n, c->target + 4);

	if (hit && edged_router_send_registered(c->d->router, n->id) == 0)
		c->told++;
	return 0;
}

int edged_offload_cmd_verify(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged *d = ud;
	struct edged_offload *o = service(ud, msg, msglen);
	const char *to = json_string_value(json_object_get(args, "to"));
	json_t *jp = json_object_get(args, "permille");
	char target[EDGE_OFFLOAD_TARGET_MAX + 1];
	struct tell_ctx c = { .d = d, .target = target };
	struct verify_op *op;
	int permille;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (!to || !to[0]) {
		snprintf(msg, msglen, "args.to must be a node id or tag:TAG");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (strncmp(to, "tag:", 4) == 0 ? !edge_registry_tag_valid(to + 4) : !edge_id_valid_str(to)) {
		snprintf(msg, msglen, "args.to '%.80s': not a node id or tag:TAG", to);
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (!jp || json_is_null(jp))
		permille = -1; /* back to the default */
	else if (json_is_integer(jp) && json_integer_value(jp) >= 0 &&
		 json_integer_value(jp) <= 1000)
		permille = (int)json_integer_value(jp);
	else {
		snprintf(msg, msglen, "args.permille must be 0..1000, or null for the default");
		return EDGE_CTL_E_BAD_ARGS;
	}
	snprintf(target, sizeof target, "%s%s", strncmp(to, "tag:", 4) == 0 ? "" : "id:", to);
	if (off_rule_set(o, target, permille) < 0)
		return oom(msg, msglen);
	op = calloc(1, sizeof *op);
	if (op) {
		snprintf(op->target, sizeof op->target, "%s", target);
		op->permille = permille;
		if (edge_store_submit(o->store, verify_run, verify_done, op) < 0) {
			free(op);
			op = NULL;
		}
	}
	if (!op)
		edge_log(EDGE_LOG_WARNING, "offload", "shadow sampling of %s not stored", target);
	(void)edge_registry_foreach(d->registry, EDGE_NODE_MASK(EDGE_NODE_ONLINE), tell_node, &c);
	edge_log(EDGE_LOG_NOTICE, "offload", "shadow sampling of %s: %s (%u online node%s told)",
		 target, permille < 0 ? "default" : "set", c.told, c.told == 1 ? "" : "s");
	*result = json_pack("{s:s, s:o, s:i}", "target", target, "permille",
			    permille < 0 ? json_null() : json_integer(permille), "told", (int)c.told);
	return *result ? 0 : oom(msg, msglen);
}

struct clear_op {
	char node[EDGE_OFFLOAD_NODE_ID_MAX + 1];
};

static int clear_run(edge_store_conn *conn, void *ud)
{
	return edge_offload_store_clear_op(conn, ((struct clear_op *)ud)->node);
}

static void clear_done(int result, void *ud)
{
	if (result < 0)
		edge_log(EDGE_LOG_WARNING, "offload", "clearing %s's evidence not stored: %s",
			 ((struct clear_op *)ud)->node, edge_strerror(result));
	free(ud);
}

int edged_offload_cmd_clear(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_offload *o = service(ud, msg, msglen);
	const char *id = json_string_value(json_object_get(args, "id"));
	struct off_node *n = NULL;
	struct clear_op *op;
	unsigned kept = 0, dropped = 0;

	if (!o)
		return EDGE_CTL_E_UNAVAILABLE;
	if (!id || !edge_id_valid_str(id)) {
		snprintf(msg, msglen, "args.id must be a node id");
		return EDGE_CTL_E_BAD_ARGS;
	}
	for (unsigned i = 0; i < o->n_nodes; i++)
		if (strcmp(o->nodes[i].id, id) == 0)
			n = &o->nodes[i];
	if (!n || !n->flagged) {
		snprintf(msg, msglen, "node %.64s is not flagged", id);
		return EDGE_CTL_E_NOT_FOUND;
	}
	/* Its evidence leaves the ring (the others keep their order). */
	for (unsigned i = 0; i < o->mm_n; i++) {
		struct off_mismatch *e = &o->mm[(o->mm_head + i) % o->mm_cap];

		if (strcmp(e->node, id) == 0) {
			dropped++;
			continue;
		}
		if (kept != i)
			o->mm[(o->mm_head + kept) % o->mm_cap] = *e;
		kept++;
	}
	o->mm_n = kept;
	n->flagged = false;
	op = calloc(1, sizeof *op);
	if (op) {
		snprintf(op->node, sizeof op->node, "%s", id);
		if (edge_store_submit(o->store, clear_run, clear_done, op) < 0) {
			free(op);
			op = NULL;
		}
	}
	if (!op)
		edge_log(EDGE_LOG_WARNING, "offload", "clearing %s's evidence not stored", id);
	edge_log(EDGE_LOG_NOTICE, "offload", "node %s cleared: %u mismatch record%s dropped", id,
		 dropped, dropped == 1 ? "" : "s");
	*result = json_pack("{s:s, s:i}", "id", id, "dropped", (int)dropped);
	return *result ? 0 : oom(msg, msglen);
}
