/* The JSON side of the control protocol (proto/control-protocol.md), shared
 * by edged and edgectl so that both put messages on the wire the same way:
 * compact, ASCII-only JSON in one frame of proto's edge_ctl_frame codec. */
#ifndef EDGE_CTL_JSON_H
#define EDGE_CTL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "edge_proto.h"

/* Serialises msg (borrowed) as one frame: the 4-byte length header and the
 * body, in one malloc'd buffer that the caller owns (*frame, free()).
 * limit is EDGE_CTL_REQUEST_MAX or EDGE_CTL_RESPONSE_MAX. Returns 0,
 * -EMSGSIZE (body above limit) or -ENOMEM; on error *frame is untouched. */
EDGE_PROTO_WUR int edge_ctl_json_frame(const json_t *msg, size_t limit, char **frame,
				       size_t *frame_len);

#endif
