/* The target resolver and the tag filter (targets.h). */
#include "targets.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ctl_frame.h"

#define TAG_PREFIX "tag:"

static int internal(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "out of memory");
	return EDGE_CTL_E_INTERNAL;
}

static int problem(struct edged_targets *t, const char *id, const char *reason,
		   const char *detail)
{
	json_t *p = json_pack("{s:s%, s:s, s:s}", "id", id, strnlen(id, EDGE_REGISTRY_ID_MAX),
			      "reason", reason, "detail", detail);

	return p && json_array_append_new(t->problems, p) == 0 ? 0 : -ENOMEM;
}

static bool listed(const struct edged_targets *t, const char *id)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->ids[i], id) == 0)
			return true;
	return false;
}

static int add_id(struct edged_targets *t, const char *id)
{
	assert(strlen(id) <= EDGE_REGISTRY_ID_MAX);
	if (t->n == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 16;
		void *p = realloc(t->ids, cap * sizeof t->ids[0]);

		if (!p)
			return -ENOMEM;
		t->ids = p;
		t->cap = cap;
	}
	snprintf(t->ids[t->n++], sizeof t->ids[0], "%s", id);
	return 0;
}

/* One named node (from the array, or a tagged node). */
static int consider(struct edged_targets *t, const struct edge_node_info *node)
{
	if (listed(t, node->id))
		return 0; /* named twice */
	if (node->state == EDGE_NODE_REVOKED)
		return problem(t, node->id, "not_allowed", "revoked");
	return add_id(t, node->id);
}

static int add_all(const struct edge_node_info *node, void *ud)
{
	return add_id(ud, node->id) < 0 ? -ENOMEM : 0;
}

struct tag_walk {
	struct edged_targets *t;
	const char *tag;
};

static int add_tagged(const struct edge_node_info *node, void *ud)
{
	struct tag_walk *w = ud;

	if (!edge_registry_has_tag(node, w->tag))
		return 0;
	return consider(w->t, node) < 0 ? -ENOMEM : 0;
}

static int add_named(struct edged_targets *t, edge_registry *reg, const char *id)
{
	struct edge_node_info node;

	if (strlen(id) > EDGE_REGISTRY_ID_MAX || edge_registry_get(reg, id, &node) < 0) {
		/* reported once, however often it was named */
		for (size_t i = 0; i < json_array_size(t->problems); i++) {
			json_t *pid = json_object_get(json_array_get(t->problems, i), "id");

			if (strncmp(json_string_value(pid), id, EDGE_REGISTRY_ID_MAX) == 0)
				return 0;
		}
		return problem(t, id, "unknown_node", "not registered");
	}
	return consider(t, &node);
}

int edged_targets_resolve(edge_registry *reg, json_t *to, struct edged_targets *out, char *msg,
			  size_t msglen)
{
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->problems = json_array();
	if (!out->problems)
		return internal(msg, msglen);
	if (json_is_string(to)) {
		const char *s = json_string_value(to);

		if (strcmp(s, "all") == 0) {
			rc = reg ? edge_registry_foreach(reg, EDGE_NODE_MASK_ALL &
							 ~EDGE_NODE_MASK(EDGE_NODE_REVOKED),
							 add_all, out) : 0;
		} else if (strncmp(s, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
			struct tag_walk w = { .t = out, .tag = s + strlen(TAG_PREFIX) };

			if (!edge_registry_tag_valid(w.tag)) {
				snprintf(msg, msglen, "invalid tag '%.40s' (letters, digits, _ . -; "
					 "1..%d characters)", w.tag, EDGE_REGISTRY_TAG_MAX);
				return EDGE_CTL_E_BAD_ARGS;
			}
			rc = reg ? edge_registry_foreach(reg, EDGE_NODE_MASK_ALL, add_tagged, &w)
				 : 0;
		} else {
			goto bad;
		}
	} else if (json_is_array(to) && json_array_size(to) > 0) {
		size_t i;
		json_t *v;

		json_array_foreach(to, i, v) {
			if (!json_is_string(v)) {
				snprintf(msg, msglen, "args.to[%zu] must be a node id", i);
				return EDGE_CTL_E_BAD_ARGS;
			}
			if (!reg)
				rc = problem(out, json_string_value(v), "unknown_node",
					     "not registered");
			else
				rc = add_named(out, reg, json_string_value(v));
			if (rc < 0)
				break;
		}
	} else {
		goto bad;
	}
	return rc == 0 ? 0 : internal(msg, msglen);
bad:
	snprintf(msg, msglen, "args.to must be \"all\", \"tag:T\" or a non-empty array of node ids");
	return EDGE_CTL_E_BAD_ARGS;
}

void edged_targets_release(struct edged_targets *t)
{
	if (!t)
		return;
	free(t->ids);
	json_decref(t->problems);
	memset(t, 0, sizeof *t);
}

int edged_tag_filter_arg(json_t *args, const char **tag, char *msg, size_t msglen)
{
	json_t *j = json_object_get(args, "tag");

	*tag = NULL;
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_string(j) || !edge_registry_tag_valid(json_string_value(j))) {
		snprintf(msg, msglen, "args.tag must be a tag (letters, digits, _ . -; 1..%d "
			 "characters)", EDGE_REGISTRY_TAG_MAX);
		return EDGE_CTL_E_BAD_ARGS;
	}
	*tag = json_string_value(j);
	return 0;
}

json_t *edged_tags_json(const struct edge_node_info *node)
{
	json_t *a = json_array();
	const char *p = node->tags;

	if (!a)
		return NULL;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (json_array_append_new(a, json_stringn(p, len)) < 0) {
			json_decref(a);
			return NULL;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return a;
}
