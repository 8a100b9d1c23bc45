/* rollout.* control commands and their JSON shapes (rollout.h,
 * proto/control-protocol.md "Rollouts"). Loop thread. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edged.h"
#include "ota_internal.h"
#include "rollout_internal.h"
#include "targets.h"

static int oom(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "out of memory");
	return EDGE_CTL_E_INTERNAL;
}

static struct edged_rollout *service(void *ud, char *msg, size_t msglen)
{
	struct edged *d = ud;

	if (!d->rollout || d->rollout->stopping || !d->ota || d->ota->stopping) {
		snprintf(msg, msglen, "the rollout service is not running");
		return NULL;
	}
	return d->rollout;
}

/* ---- JSON shapes ---- */

struct live_ctx {
	const struct rollout *r;
	unsigned by_state[EDGE_OTA_N_STATE_COUNT];
};

static int live_node(const struct edge_ota_node_status *st, void *ud)
{
	struct live_ctx *c = ud;

	if (st->state < EDGE_OTA_N_STATE_COUNT)
		c->by_state[st->state]++;
	return 0;
}

static json_t *stage_json(const struct rollout *r, uint32_t k)
{
	struct edge_rollout_counts c = { 0 };
	unsigned pending = 0, activated = 0, success = 0, failure = 0, reverted = 0;
	json_t *outcomes = json_object(), *j;
	char name[16];

	if (!outcomes)
		return NULL;
	for (unsigned i = 0; i < r->n_nodes; i++) {
		const struct ro_node *n = &r->nodes[i];

		if (n->stage != k)
			continue;
		c.nodes++;
		if (n->outcome == EDGE_ROLLOUT_NODE_PENDING) {
			/* activated: waiting to see it online with the model */
			n->activated_ms ? activated++ : pending++;
			continue;
		}
		if (n->outcome == EDGE_ROLLOUT_NODE_REVERTED) {
			reverted++;
			continue;
		}
		n->outcome == EDGE_ROLLOUT_NODE_SUCCESS ? success++ : failure++;
		if (n->why < EDGE_ROLLOUT_OUTCOME_COUNT)
			c.outcome[n->why]++;
	}
	for (unsigned o = 1; o < EDGE_ROLLOUT_OUTCOME_COUNT; o++)
		if (c.outcome[o])
			(void)json_object_set_new(
				outcomes, edge_rollout_outcome_name((enum edge_rollout_outcome)o),
				json_integer(c.outcome[o]));
	ro_stage_name(r, k, name, sizeof name);
	j = json_pack("{s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:o, s:o}", "stage", (int)k,
		      "name", name, "nodes", (int)c.nodes, "pending", (int)pending, "activated",
		      (int)activated, "success", (int)success, "failure", (int)failure,
		      "reverted", (int)reverted, "bytes", (json_int_t)ro_stage_bytes(r, k),
		      "failures", outcomes, "health", ro_health_json(&r->health_of[k]));
	/* The running stage: where its pending nodes are in the transfer. */
	if (j && k == r->row.stage && r->row.transfer && !edge_rollout_state_final(r->row.state)) {
		struct ota_xfer *x = ota_xfer_find(r->svc->ota, r->row.transfer);
		struct live_ctx lc = { .r = r };

		if (x) {
			edge_ota_sender_foreach(x->sender, live_node, &lc);
			(void)json_object_set_new(
				j, "transfer",
				json_pack("{s:I, s:i, s:i, s:i, s:i}", "id",
					  (json_int_t)r->row.transfer, "offered",
					  (int)lc.by_state[EDGE_OTA_N_OFFERED], "receiving",
					  (int)lc.by_state[EDGE_OTA_N_RECEIVING], "verifying",
					  (int)lc.by_state[EDGE_OTA_N_VERIFYING], "stalled",
					  (int)lc.by_state[EDGE_OTA_N_STALLED]));
		}
	}
	return j;
}

static json_t *summary_json(const struct rollout *r)
{
	unsigned done = 0;
	json_t *spec = json_loads(r->row.spec, 0, NULL);

	for (unsigned i = 0; i < r->n_nodes; i++)
		done += r->nodes[i].outcome != EDGE_ROLLOUT_NODE_PENDING;
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:s?, s:I, s:I, "
			 "s:o}",
			 "id", (json_int_t)r->row.id, "model_name", r->row.name, "model_version",
			 r->row.version, "digest", r->row.digest, "state",
			 edge_rollout_state_name(r->row.state), "stage", (int)r->row.stage,
			 "stages", (int)r->n_stages, "transfer", (json_int_t)r->row.transfer,
			 "nodes", (int)r->n_nodes, "decided", (int)done, "reason",
			 r->row.reason[0] ? r->row.reason : NULL, "created_ms",
			 (json_int_t)r->row.created_ms, "updated_ms", (json_int_t)r->row.updated_ms,
			 "spec", spec ? spec : json_object());
}

static json_t *status_json(const struct rollout *r)
{
	json_t *j = summary_json(r), *stages = json_array(), *nodes = json_array(),
	       *events = json_array();
	bool ok = j && stages && nodes && events;

	for (uint32_t k = 0; ok && k < r->n_stages; k++)
		ok = json_array_append_new(stages, stage_json(r, k)) == 0;
	for (unsigned i = 0; ok && i < r->n_nodes; i++) {
		const struct ro_node *n = &r->nodes[i];

		ok = json_array_append_new(
			     nodes, json_pack("{s:s, s:i, s:s, s:s?}", "id", n->id, "stage",
					      (int)n->stage, "outcome",
					      edge_rollout_node_outcome_name(n->outcome), "reason",
					      n->reason[0] ? n->reason : NULL)) == 0;
	}
	/* newest first */
	for (unsigned i = r->ev_n; ok && i-- > 0;) {
		const struct ro_event *e = &r->ev[(r->ev_head + i) % ROLLOUT_EVENTS_KEEP];

		ok = json_array_append_new(events, json_pack("{s:I, s:s}", "ts_ms",
							     (json_int_t)e->ts_ms, "text",
							     e->text)) == 0;
	}
	if (ok)
		ok = json_object_set_new(j, "stage_list", stages) == 0 &&
		     json_object_set_new(j, "node_list", nodes) == 0 &&
		     json_object_set_new(j, "events", events) == 0;
	else {
		json_decref(stages);
		json_decref(nodes);
		json_decref(events);
	}
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- rollout.start ---- */

/* One unfinished rollout per model name: `busy`, naming the one. */
static int name_busy(const struct rollout *other, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "rollout %u of %s is %s: one rollout per model name", other->row.id,
		 other->row.name, edge_rollout_state_name(other->row.state));
	return EDGE_CTL_E_BUSY;
}

static int bool_arg(json_t *args, const char *key, bool dflt, bool *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v)) {
		snprintf(msg, msglen, "args.%s must be true or false", key);
		return EDGE_CTL_E_BAD_ARGS;
	}
	*out = json_is_true(v);
	return 0;
}

static int str_arg(json_t *args, const char *key, const char *dflt, const char **out, char *msg,
		   size_t msglen)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(msg, msglen, "args.%s must be a string", key);
		return EDGE_CTL_E_BAD_ARGS;
	}
	*out = json_string_value(v);
	return 0;
}

static int spec_error(char *msg, size_t msglen, const char *key, const char *value,
		      enum edge_rollout_spec_error e)
{
	snprintf(msg, msglen, "args.%s '%.60s': %s", key, value, edge_rollout_spec_strerror(e));
	return EDGE_CTL_E_BAD_ARGS;
}

static int exclude(json_t *excluded, const char *id, const char *reason, const char *detail)
{
	return json_array_append_new(excluded, json_pack("{s:s, s:s, s:s}", "id", id, "reason",
							 reason, "detail", detail ? detail : ""));
}

struct start_ctx {
	char (*ids)[EDGE_ROLLOUT_ID_MAX + 1];
	const char **ptrs;
	unsigned n;
	uint32_t *order;
	uint32_t *stage_of;
	char (*sorted)[EDGE_ROLLOUT_ID_MAX + 1];
	json_t *excluded;
};

static void start_ctx_free(struct start_ctx *c)
{
	free(c->ids);
	free(c->ptrs);
	free(c->order);
	free(c->stage_of);
	free(c->sorted);
	json_decref(c->excluded);
}

static const char *target_desc(json_t *to, char *buf, size_t cap)
{
	if (json_is_string(to))
		snprintf(buf, cap, "%.100s", json_string_value(to));
	else
		snprintf(buf, cap, "%zu ids", json_array_size(to));
	return buf;
}

int edged_rollout_cmd_start(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s = service(ud, msg, msglen);
	struct edged_ota *o = s ? s->ota : NULL;
	const char *canary_s, *waves_s, *maxf_s, *ref;
	json_t *to = json_object_get(args, "to"), *jsoak = json_object_get(args, "soak_s"),
	       *stages = NULL, *spec_j;
	struct edge_rollout_spec spec = { 0 };
	enum edge_rollout_spec_error se;
	struct edge_rollout_plan plan;
	struct edged_targets targets;
	struct start_ctx c = { 0 };
	const struct edge_ota_model *m;
	uint32_t maxf_bp = 0, soak_s = 0;
	char rid[16], desc[128], *spec_text = NULL;
	struct rollout *other, *r;
	const struct edge_settings *cfg = s ? ro_settings(s) : NULL;
	bool dry, ambiguous = false, health = false, auto_revert = false;
	int code, rc;

	if (!s)
		return EDGE_CTL_E_UNAVAILABLE;
	if (!o->trust) {
		snprintf(msg, msglen, "no trusted model-signing key (ota.trust_dir)");
		return EDGE_CTL_E_NO_TRUST;
	}
	if ((code = str_arg(args, "model", NULL, &ref, msg, msglen)) ||
	    (code = str_arg(args, "canary", "1", &canary_s, msg, msglen)) ||
	    (code = str_arg(args, "waves", "10%,50%,100%", &waves_s, msg, msglen)) ||
	    (code = str_arg(args, "max_failures", "10%", &maxf_s, msg, msglen)))
		return code;
	if (!ref || !ref[0]) {
		snprintf(msg, msglen, "missing model reference (args.model)");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if ((code = bool_arg(args, "dry_run", false, &dry, msg, msglen)))
		return code;
	if ((code = bool_arg(args, "health", cfg->rollout.health, &health, msg, msglen)) ||
	    (code = bool_arg(args, "auto_revert", cfg->rollout.auto_revert, &auto_revert, msg,
			     msglen)))
		return code;
	if (jsoak && (!json_is_integer(jsoak) || json_integer_value(jsoak) < 0 ||
		      json_integer_value(jsoak) > ROLLOUT_SOAK_MAX_S)) {
		snprintf(msg, msglen, "args.soak_s must be seconds in 0..%u", ROLLOUT_SOAK_MAX_S);
		return EDGE_CTL_E_BAD_ARGS;
	}
	soak_s = jsoak ? (uint32_t)json_integer_value(jsoak) : 0;
	if (edge_rollout_parse_canary(canary_s, &spec.canary, &se) < 0)
		return spec_error(msg, msglen, "canary", canary_s, se);
	if (edge_rollout_parse_waves(waves_s, &spec, &se, NULL) < 0)
		return spec_error(msg, msglen, "waves", waves_s, se);
	if (edge_rollout_parse_percent(maxf_s, 1, &maxf_bp, &se) < 0)
		return spec_error(msg, msglen, "max_failures", maxf_s, se);
	m = edge_ota_catalog_find(o->catalog, ref, &ambiguous);
	if (!m) {
		snprintf(msg, msglen, ambiguous ? "'%.80s' matches several models: give more digits"
						: "no stored model '%.80s'",
			 ref);
		return ambiguous ? EDGE_CTL_E_AMBIGUOUS : EDGE_CTL_E_NOT_FOUND;
	}
	other = ro_of_name(s, m->manifest.name);
	if (other && !dry)
		return name_busy(other, msg, msglen);
	code = edged_targets_resolve(o->registry, to, &targets, msg, msglen);
	if (code) {
		edged_targets_release(&targets);
		return code;
	}
	c.excluded = json_incref(targets.problems);
	c.ids = calloc(targets.n ? targets.n : 1, sizeof *c.ids);
	c.ptrs = calloc(targets.n ? targets.n : 1, sizeof *c.ptrs);
	if (!c.excluded || !c.ids || !c.ptrs) {
		edged_targets_release(&targets);
		start_ctx_free(&c);
		return oom(msg, msglen);
	}
	rc = 0;
	for (unsigned i = 0; i < targets.n && rc == 0; i++) {
		const char *id = targets.ids[i];
		struct edge_node_info node;
		struct ota_xfer *busy;
		struct rollout *in;
		char detail[256] = "";
		enum edge_ota_reason fr;

		if (edge_registry_get(o->registry, id, &node) < 0) {
			rc = exclude(c.excluded, id, "unknown_node", "not registered");
			continue;
		}
		if ((in = ro_of_node(s, id))) {
			snprintf(detail, sizeof detail, "in rollout %u", in->row.id);
			rc = exclude(c.excluded, id, "busy", detail);
			continue;
		}
		if ((busy = ota_xfer_of_node(o, id))) {
			snprintf(detail, sizeof detail, "in transfer %u", busy->row.id);
			rc = exclude(c.excluded, id, "busy", detail);
			continue;
		}
		fr = edge_ota_fit(&m->manifest, &node, detail, sizeof detail);
		if (fr != EDGE_OTA_R_OK) {
			rc = exclude(c.excluded, id, edge_ota_reason_name(fr), detail);
			continue;
		}
		snprintf(c.ids[c.n], sizeof c.ids[0], "%s", id);
		c.ptrs[c.n] = c.ids[c.n];
		c.n++;
	}
	edged_targets_release(&targets);
	if (rc != 0) {
		start_ctx_free(&c);
		return oom(msg, msglen);
	}
	if (c.n == 0 && dry) {
		/* A dry run shows why nobody is eligible. */
		*result = json_pack("{s:b, s:I, s:s, s:s, s:[], s:O, s:i}", "dry_run", 1, "id",
				    (json_int_t)s->next_id, "model_name", m->manifest.name,
				    "model_version", m->manifest.version, "stages", "excluded",
				    c.excluded, "flags", 0);
		start_ctx_free(&c);
		return *result ? 0 : oom(msg, msglen);
	}
	if (c.n == 0) {
		/* An error answer carries no result: the first exclusion says
		 * why ('rollout start --dry-run' lists them all). */
		json_t *first = json_array_get(c.excluded, 0);

		snprintf(msg, msglen, "no eligible node: %zu excluded%s%.64s%s%.40s%s",
			 json_array_size(c.excluded), first ? " (first: " : "",
			 first ? json_string_value(json_object_get(first, "id")) : "",
			 first ? " " : "",
			 first ? json_string_value(json_object_get(first, "reason")) : "",
			 first ? ")" : "");
		start_ctx_free(&c);
		return EDGE_CTL_E_NO_TARGET;
	}
	/* The plan hashes the id the rollout will get: a dry run now shows
	 * the stages a start right after it makes. */
	snprintf(rid, sizeof rid, "%u", s->next_id);
	c.order = calloc(c.n, sizeof *c.order);
	c.stage_of = calloc(c.n, sizeof *c.stage_of);
	c.sorted = calloc(c.n, sizeof *c.sorted);
	if (!c.order || !c.stage_of || !c.sorted) {
		start_ctx_free(&c);
		return oom(msg, msglen);
	}
	rc = edge_rollout_plan_make(&spec, rid, c.ptrs, c.n, c.order, &plan);
	if (rc < 0) {
		start_ctx_free(&c);
		snprintf(msg, msglen, "cannot plan: %s", edge_strerror(rc));
		return rc == -ENOMEM ? EDGE_CTL_E_INTERNAL : EDGE_CTL_E_BAD_ARGS;
	}
	stages = json_array();
	for (uint32_t k = 0; stages && k < plan.n_stages; k++) {
		const struct edge_rollout_stage *st = &plan.stages[k];
		json_t *ids = json_array();
		char line[160];

		(void)edge_rollout_plan_describe(&plan, k, line, sizeof line);
		for (uint32_t p = st->first; ids && p < st->first + st->count; p++) {
			snprintf(c.sorted[p], sizeof c.sorted[0], "%s", c.ids[c.order[p]]);
			c.stage_of[p] = k;
			(void)json_array_append_new(ids, json_string(c.ids[c.order[p]]));
		}
		(void)json_array_append_new(
			stages, json_pack("{s:i, s:s, s:i, s:s, s:o}", "stage", (int)k, "kind",
					  st->kind == EDGE_ROLLOUT_STAGE_CANARY ? "canary" : "wave",
					  "wave", (int)st->wave, "describe", line, "nodes",
					  ids ? ids : json_array()));
	}
	if (!stages) {
		start_ctx_free(&c);
		return oom(msg, msglen);
	}
	if (dry) {
		*result = json_pack("{s:b, s:I, s:s, s:s, s:o, s:O, s:i, s:s?}", "dry_run", 1, "id",
				    (json_int_t)s->next_id, "model_name", m->manifest.name,
				    "model_version", m->manifest.version, "stages", stages,
				    "excluded", c.excluded, "flags", (int)plan.flags, "conflict",
				    other ? "another rollout of this model name is unfinished" : NULL);
		start_ctx_free(&c);
		return *result ? 0 : oom(msg, msglen);
	}
	spec_j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:b}", "to",
			   target_desc(to, desc, sizeof desc), "canary", canary_s, "waves", waves_s,
			   "max_failures", maxf_s, "soak_s", (int)soak_s, "health", health,
			   "auto_revert", auto_revert);
	spec_text = spec_j ? json_dumps(spec_j, JSON_COMPACT) : NULL;
	json_decref(spec_j);
	if (!spec_text || strlen(spec_text) >= EDGE_ROLLOUT_SPEC_JSON_MAX) {
		json_decref(stages);
		start_ctx_free(&c);
		free(spec_text);
		if (!spec_text)
			return oom(msg, msglen);
		snprintf(msg, msglen, "the rollout's settings are too long to keep");
		return EDGE_CTL_E_BAD_ARGS;
	}
	rc = ro_create(s, m, spec_text, &spec, maxf_bp, soak_s, c.sorted, c.stage_of, c.n, &r);
	free(spec_text);
	if (rc < 0) {
		json_decref(stages);
		start_ctx_free(&c);
		return oom(msg, msglen);
	}
	ro_event(r, "started to %s: %u node%s in %u stages (canary %s, waves %s, max failures %s, "
		    "soak %u s, health %s%s), %zu excluded",
		 desc, c.n, c.n == 1 ? "" : "s", plan.n_stages, canary_s, waves_s, maxf_s, soak_s,
		 health ? "on" : "off", auto_revert ? ", auto-revert" : "",
		 json_array_size(c.excluded));
	ro_kick(s);
	*result = json_pack("{s:I, s:o, s:O}", "id", (json_int_t)r->row.id, "stages", stages,
			    "excluded", c.excluded);
	start_ctx_free(&c);
	return *result ? 0 : oom(msg, msglen);
}

/* ---- list, status, pause, resume, abort ---- */

int edged_rollout_cmd_list(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s = service(ud, msg, msglen);
	json_t *list;

	(void)args;
	if (!s)
		return EDGE_CTL_E_UNAVAILABLE;
	list = json_array();
	for (struct rollout *r = s->list; list && r; r = r->next)
		if (json_array_append_new(list, summary_json(r)) < 0) {
			json_decref(list);
			list = NULL;
		}
	*result = list ? json_pack("{s:o}", "rollouts", list) : NULL;
	return *result ? 0 : oom(msg, msglen);
}

static struct rollout *rollout_arg(struct edged_rollout *s, json_t *args, int *code, char *msg,
				   size_t msglen)
{
	json_t *jid = json_object_get(args, "id");
	struct rollout *r;

	if (!json_is_integer(jid) || json_integer_value(jid) < 1 ||
	    json_integer_value(jid) > UINT32_MAX) {
		snprintf(msg, msglen, "args.id must be a rollout id");
		*code = EDGE_CTL_E_BAD_ARGS;
		return NULL;
	}
	r = ro_find(s, (uint32_t)json_integer_value(jid));
	if (!r) {
		snprintf(msg, msglen, "no rollout %lld", (long long)json_integer_value(jid));
		*code = EDGE_CTL_E_NOT_FOUND;
	}
	return r;
}

/* The rollout a command names (args.id), from edged's service: NULL with
 * *code (unavailable, bad_args, not_found) and msg when there is none. */
static struct rollout *command_rollout(void *ud, json_t *args, struct edged_rollout **svc,
				       int *code, char *msg, size_t msglen)
{
	struct edged_rollout *s = service(ud, msg, msglen);

	*svc = s;
	if (!s) {
		*code = EDGE_CTL_E_UNAVAILABLE;
		return NULL;
	}
	return rollout_arg(s, args, code, msg, msglen);
}

int edged_rollout_cmd_status(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s;
	struct rollout *r;
	int code = 0;

	r = command_rollout(ud, args, &s, &code, msg, msglen);
	if (!r)
		return code;
	*result = status_json(r);
	return *result ? 0 : oom(msg, msglen);
}

static int refuse_state(struct rollout *r, const char *what, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "rollout %u is %s: cannot %s it", r->row.id,
		 edge_rollout_state_name(r->row.state), what);
	return EDGE_CTL_E_BAD_ARGS;
}

static int answer_state(struct rollout *r, json_t **result, char *msg, size_t msglen)
{
	*result = json_pack("{s:I, s:s}", "id", (json_int_t)r->row.id, "state",
			    edge_rollout_state_name(r->row.state));
	return *result ? 0 : oom(msg, msglen);
}

int edged_rollout_cmd_pause(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s;
	struct rollout *r;
	int code = 0;

	r = command_rollout(ud, args, &s, &code, msg, msglen);
	if (!r)
		return code;
	if (r->row.state != EDGE_ROLLOUT_RUNNING && r->row.state != EDGE_ROLLOUT_SOAKING)
		return refuse_state(r, "pause", msg, msglen);
	ro_set_state(r, EDGE_ROLLOUT_PAUSED, "paused by the operator");
	ro_event(r, "paused by the operator (stage %u; its open transfer runs to its end)",
		 r->row.stage);
	return answer_state(r, result, msg, msglen);
}

int edged_rollout_cmd_resume(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s;
	struct rollout *r;
	bool halted;
	int code = 0;

	r = command_rollout(ud, args, &s, &code, msg, msglen);
	if (!r)
		return code;
	if (r->row.state != EDGE_ROLLOUT_PAUSED && r->row.state != EDGE_ROLLOUT_HALTED)
		return refuse_state(r, "resume", msg, msglen);
	halted = r->row.state == EDGE_ROLLOUT_HALTED;
	/* After a halt the operator accepts the stage as it ends: the next
	 * stage follows once its nodes are all decided. */
	if (halted)
		r->row.accepted = true;
	ro_set_state(r, EDGE_ROLLOUT_RUNNING, "");
	ro_event(r, "resumed by the operator%s", halted ? " after a halt: the stage is accepted" : "");
	ro_kick(s);
	return answer_state(r, result, msg, msglen);
}

int edged_rollout_cmd_abort(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s;
	struct rollout *r;
	uint32_t xfer;
	int code = 0;

	r = command_rollout(ud, args, &s, &code, msg, msglen);
	if (!r)
		return code;
	if (edge_rollout_state_final(r->row.state))
		return refuse_state(r, "abort", msg, msglen);
	xfer = r->row.transfer;
	ro_cancel_transfer(r);
	ro_set_state(r, EDGE_ROLLOUT_ABORTED, "aborted by the operator");
	ro_event(r, "aborted by the operator%s", xfer ? " (its open transfer cancelled)" : "");
	return answer_state(r, result, msg, msglen);
}

int edged_rollout_cmd_revert(void *ud, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct edged_rollout *s;
	struct rollout *r, *other;
	int code = 0;

	r = command_rollout(ud, args, &s, &code, msg, msglen);
	if (!r)
		return code;
	if (r->row.state == EDGE_ROLLOUT_REVERTING || r->row.state == EDGE_ROLLOUT_REVERT_ENDED)
		return refuse_state(r, "revert", msg, msglen);
	other = ro_of_name(s, r->row.name);
	if (other && other != r)
		return name_busy(other, msg, msglen);
	ro_revert_start(r, UINT32_MAX);
	return answer_state(r, result, msg, msglen);
}
