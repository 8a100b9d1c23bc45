/* Can a node take a model? Checked from the node's latest hello before
 * anything is sent (an offer is never made to a node that does not fit),
 * and by `edgectl models fit`. The node checks the same again on the offer.
 *
 * Order of the checks, the first failure is the answer: already_have (its
 * running model has the manifest's SHA-256), incompatible (runtime name
 * differs), missing_ops (detail lists them, comma-separated),
 * insufficient_arena (manifest arena_bytes > node's arena budget),
 * insufficient_flash (model size > node's flash for models).
 *
 * Threading: pure function. */
#ifndef EDGE_OTA_FIT_H
#define EDGE_OTA_FIT_H

#include <stddef.h>

#include "edge_ota_package.h"
#include "edge_ota_transfer.h"
#include "edge_registry.h"

/* EDGE_OTA_R_OK or the reason; detail (may be NULL) gets one line. */
enum edge_ota_reason edge_ota_fit(const struct edge_ota_manifest *m,
				  const struct edge_node_info *node, char *detail,
				  size_t detail_len);

#endif
