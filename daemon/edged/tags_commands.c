/* devices.tag / devices.untag (tags_commands.h). */
#include "tags_commands.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edged.h"
#include "targets.h"

struct tags_op {
	struct edged *d;
	struct edged_ctl_call *call;
	bool add;
	char id[EDGE_REGISTRY_ID_MAX + 1];
	unsigned n;
	char tags[EDGE_REGISTRY_TAGS_MAX][EDGE_REGISTRY_TAG_MAX + 1];
	const char *ptrs[EDGE_REGISTRY_TAGS_MAX];
	/* the stored set after the op (writer thread → completion) */
	char stored[EDGE_REGISTRY_TAGS_TEXT_MAX];
	unsigned n_stored;
};

/* Writer thread. */
static int tags_op_run(edge_store_conn *conn, void *ud)
{
	struct tags_op *op = ud;

	if (op->add)
		return edge_registry_tags_op_add(conn, op->id, op->ptrs, op->n, op->stored,
						 sizeof op->stored, &op->n_stored);
	return edge_registry_tags_op_remove(conn, op->id, op->ptrs, op->n, op->stored,
					    sizeof op->stored, &op->n_stored);
}

static void too_many(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "a node has at most %d tags", EDGE_REGISTRY_TAGS_MAX);
}

static void tags_op_done(int result, void *ud)
{
	struct tags_op *op = ud;
	struct edged *d = op->d;
	const char *parts[EDGE_REGISTRY_TAGS_MAX];
	struct edge_node_info node;
	char msg[256];
	unsigned k;
	int rc;

	if (result == -E2BIG) {
		/* another tag command got there first: the op rolled back */
		too_many(msg, sizeof msg);
		edged_ctl_call_finish(op->call, EDGE_CTL_E_BAD_ARGS, NULL, msg);
		goto out;
	}
	if (result < 0) {
		snprintf(msg, sizeof msg, "tags not stored: %s", edge_strerror(result));
		edged_ctl_call_finish(op->call, EDGE_CTL_E_INTERNAL, NULL, msg);
		goto out;
	}
	if (!d->registry) {
		/* shutting down: the rows are committed, the next start loads them */
		edged_ctl_call_finish(op->call, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
		goto out;
	}
	k = edge_registry_tags_split(op->stored, parts, EDGE_REGISTRY_TAGS_MAX);
	rc = edge_registry_set_tags(d->registry, op->id, parts, k);
	if (rc == EDGE_ENOTFOUND) {
		/* removed meanwhile: its forget (queued after this op) deletes the rows */
		snprintf(msg, sizeof msg, "device '%s' was removed meanwhile", op->id);
		edged_ctl_call_finish(op->call, EDGE_CTL_E_NOT_FOUND, NULL, msg);
		goto out;
	}
	if (rc < 0 || edge_registry_get(d->registry, op->id, &node) < 0) {
		/* only rows this build wrote are read back: cannot happen */
		snprintf(msg, sizeof msg, "tags not applied: %s", edge_strerror(rc));
		edged_ctl_call_finish(op->call, EDGE_CTL_E_INTERNAL, NULL, msg);
		goto out;
	}
	edge_log(EDGE_LOG_INFO, "control", "device %s tags: %s", op->id,
		 node.tags[0] ? node.tags : "(none)");
	edged_ctl_call_finish(op->call, 0,
			      json_pack("{s:s, s:o*}", "id", op->id, "tags", edged_tags_json(&node)),
			      NULL);
out:
	free(op);
}

/* Parses {"id": ID, "tags": [T, ...]} into op (tags checked, duplicates
 * kept once). 0 or an edge_ctl_error code with msg. */
static int parse_args(struct edged *d, json_t *args, struct tags_op *op, char *msg,
		      size_t msglen)
{
	json_t *jid = json_object_get(args, "id"), *jtags = json_object_get(args, "tags"), *v;
	struct edge_node_info node;
	size_t i;

	if (!json_is_string(jid)) {
		snprintf(msg, msglen, "missing device id (args.id)");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if (!json_is_array(jtags) || json_array_size(jtags) == 0) {
		snprintf(msg, msglen, "args.tags must be a non-empty array of tags");
		return EDGE_CTL_E_BAD_ARGS;
	}
	json_array_foreach(jtags, i, v) {
		const char *t = json_string_value(v);
		bool dup = false;

		if (!t || !edge_registry_tag_valid(t)) {
			snprintf(msg, msglen, "invalid tag args.tags[%zu] (letters, digits, _ . -; "
				 "1..%d characters)", i, EDGE_REGISTRY_TAG_MAX);
			return EDGE_CTL_E_BAD_ARGS;
		}
		for (unsigned j = 0; j < op->n && !dup; j++)
			dup = strcmp(op->tags[j], t) == 0;
		if (dup)
			continue;
		if (op->n == EDGE_REGISTRY_TAGS_MAX) {
			too_many(msg, msglen);
			return EDGE_CTL_E_BAD_ARGS;
		}
		snprintf(op->tags[op->n], sizeof op->tags[0], "%s", t);
		op->ptrs[op->n] = op->tags[op->n];
		op->n++;
	}
	if (!d->registry || edge_registry_get(d->registry, json_string_value(jid), &node) < 0) {
		snprintf(msg, msglen, "no device '%.64s'", json_string_value(jid));
		return EDGE_CTL_E_NOT_FOUND;
	}
	snprintf(op->id, sizeof op->id, "%s", node.id);
	if (op->add) {
		/* the common case refused at once; the store checks again */
		unsigned total = node.n_tags;

		for (unsigned j = 0; j < op->n; j++)
			total += !edge_registry_has_tag(&node, op->tags[j]);
		if (total > EDGE_REGISTRY_TAGS_MAX) {
			too_many(msg, msglen);
			return EDGE_CTL_E_BAD_ARGS;
		}
	}
	return 0;
}

static int start(void *ud, bool add, json_t *args, struct edged_ctl_call *call, char *msg,
		 size_t msglen)
{
	struct edged *d = ud;
	struct tags_op *op;
	int code, rc;

	if (!d->store) {
		snprintf(msg, msglen, "the database is not open");
		return EDGE_CTL_E_UNAVAILABLE;
	}
	op = calloc(1, sizeof *op);
	if (!op) {
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	op->d = d;
	op->call = call;
	op->add = add;
	code = parse_args(d, args, op, msg, msglen);
	if (code) {
		free(op);
		return code;
	}
	rc = edge_store_submit(d->store, tags_op_run, tags_op_done, op);
	if (rc < 0) {
		free(op);
		snprintf(msg, msglen, "%s", rc == EDGE_ELIMIT ? "the database queue is full; try again"
							      : edge_strerror(rc));
		return rc == EDGE_ELIMIT ? EDGE_CTL_E_BUSY : EDGE_CTL_E_INTERNAL;
	}
	return 0;
}

int edged_cmd_devices_tag(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			  size_t msglen)
{
	return start(ud, true, args, call, msg, msglen);
}

int edged_cmd_devices_untag(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			    size_t msglen)
{
	return start(ud, false, args, call, msg, msglen);
}
