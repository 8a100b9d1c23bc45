/* Which nodes a command is about: the one resolver of "to" targets
 * (ota.send and whatever else takes targets), and the {"tag": T} filter of
 * listing commands (devices, models.fit).
 *
 * Targets (proto/control-protocol.md, "Targets"):
 * - "all": every registered node that is not revoked;
 * - "tag:T": every registered node tagged T (a revoked one is a problem,
 *   not_allowed);
 * - an array of node ids: each one, in the order given, duplicates once;
 *   an unregistered id is a problem (unknown_node), so is a revoked node
 *   (not_allowed).
 * Loop thread (reads the registry). */
#ifndef EDGED_TARGETS_H
#define EDGED_TARGETS_H

#include <jansson.h>
#include <stddef.h>

#include "edge_registry.h"

struct edged_targets {
	char (*ids)[EDGE_REGISTRY_ID_MAX + 1]; /* registered nodes, at most the registry's count */
	unsigned n, cap;
	/* [{"id", "reason" (unknown_node | not_allowed), "detail"}], in the
	 * order met: the caller's "skipped" list starts with it. */
	json_t *problems;
};

/* Resolves `to` into out (zeroed by the call; release it with
 * edged_targets_release, also after an error). 0, or an enum
 * edge_ctl_error code with a one-line reason in msg: EDGE_CTL_E_BAD_ARGS
 * (to is none of the forms above, an invalid tag, an array that is empty or
 * holds a non-string), EDGE_CTL_E_INTERNAL (out of memory). No node found is
 * no error: out->n is then 0. */
int edged_targets_resolve(edge_registry *reg, json_t *to, struct edged_targets *out, char *msg,
			  size_t msglen);
void edged_targets_release(struct edged_targets *t);

/* The optional filter args.tag: 0 with *tag (NULL when absent or null), or
 * EDGE_CTL_E_BAD_ARGS with the reason in msg (not a string, not a valid
 * tag). */
int edged_tag_filter_arg(json_t *args, const char **tag, char *msg, size_t msglen);

/* A node's tags as a JSON array of strings (sorted); NULL when out of
 * memory. */
json_t *edged_tags_json(const struct edge_node_info *node);

#endif
