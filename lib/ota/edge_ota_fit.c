/* Can a node take a model (edge_ota_fit.h): the node's latest hello
 * against the manifest, first failure wins. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "edge_ota_fit.h"

/* name is one of the comma-separated names of ops (names never hold ','). */
static bool has_op(const char *ops, const char *name)
{
	size_t n = strlen(name);
	const char *p = ops;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, name, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* Missing ops comma-separated into detail; names that do not fit are
 * summarised as ",+N more" so the line stays whole. */
static void missing_list(const struct edge_ota_manifest *m, const char *ops, char *detail,
			 size_t cap, unsigned *missing)
{
	size_t used = 0;
	unsigned dropped = 0;

	*missing = 0;
	if (detail && cap)
		detail[0] = '\0';
	for (unsigned i = 0; i < m->n_ops; i++) {
		if (has_op(ops, m->ops[i]))
			continue;
		(*missing)++;
		if (!detail || cap == 0)
			continue;
		size_t need = strlen(m->ops[i]) + (used ? 1 : 0);
		/* Keep room for the longest ",+NN more" summary. */
		if (dropped == 0 && used + need + 12 < cap) {
			snprintf(detail + used, cap - used, "%s%s", used ? "," : "", m->ops[i]);
			used += need;
		} else {
			dropped++;
		}
	}
	if (dropped && detail && cap > used)
		snprintf(detail + used, cap - used, "%s+%u more", used ? "," : "", dropped);
}

enum edge_ota_reason edge_ota_fit(const struct edge_ota_manifest *m,
				  const struct edge_node_info *node, char *detail,
				  size_t detail_len)
{
	unsigned missing;

	assert(m && node);
	if (detail && detail_len)
		detail[0] = '\0';

	if (node->has_model && strcmp(node->model_sha256, m->sha256) == 0) {
		if (detail && detail_len)
			snprintf(detail, detail_len, "runs %s@%s", node->model_name,
				 node->model_version);
		return EDGE_OTA_R_ALREADY_HAVE;
	}
	if (strcmp(node->runtime_name, m->runtime) != 0) {
		if (detail && detail_len)
			snprintf(detail, detail_len, "model needs runtime %s, node has %s",
				 m->runtime, node->runtime_name[0] ? node->runtime_name : "none");
		return EDGE_OTA_R_INCOMPATIBLE;
	}
	missing_list(m, node->ops, detail, detail_len, &missing);
	if (missing)
		return EDGE_OTA_R_MISSING_OPS;
	if (m->arena_bytes > node->arena_bytes) {
		if (detail && detail_len)
			snprintf(detail, detail_len,
				 "model needs %" PRIu64 " arena bytes, node has %" PRIu32,
				 m->arena_bytes, node->arena_bytes);
		return EDGE_OTA_R_INSUFFICIENT_ARENA;
	}
	if (m->size > node->flash_bytes) {
		if (detail && detail_len)
			snprintf(detail, detail_len, "model is %" PRIu64 " bytes, node has %" PRIu32
				 " for models", m->size, node->flash_bytes);
		return EDGE_OTA_R_INSUFFICIENT_FLASH;
	}
	return EDGE_OTA_R_OK;
}
