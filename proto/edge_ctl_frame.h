/* Control-socket framing between edgectl and edged (control-protocol.md):
 * every message is a 4-byte big-endian body length followed by that many
 * bytes of UTF-8 JSON. Requests are at most EDGE_CTL_REQUEST_MAX bytes,
 * responses at most EDGE_CTL_RESPONSE_MAX.
 *
 * The decoder is incremental for non-blocking sockets: feed whatever bytes
 * arrived, in pieces of any size, and collect complete frames. The body is
 * assembled in a caller-provided buffer (borrowed); a frame that declares
 * a length above the decoder's limit is refused from its header alone and
 * its body is skipped, never buffered. */
#ifndef EDGE_CTL_FRAME_H
#define EDGE_CTL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "edge_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_CTL_HEADER_LEN 4
#define EDGE_CTL_REQUEST_MAX (64u * 1024u)
#define EDGE_CTL_RESPONSE_MAX (8u * 1024u * 1024u)

/* Write the header for a body of body_len bytes. Returns 0, or -EMSGSIZE
 * if body_len exceeds limit (pass EDGE_CTL_REQUEST_MAX or _RESPONSE_MAX). */
EDGE_PROTO_WUR int edge_ctl_frame_header(uint8_t hdr[EDGE_CTL_HEADER_LEN],
					 size_t body_len, size_t limit);

/* Decoder state; fields are private (public only for stack allocation). */
struct edge_ctl_decoder {
	uint8_t *buf;       /* borrowed body buffer */
	size_t cap;         /* its size = the largest body accepted */
	uint8_t hdr[EDGE_CTL_HEADER_LEN];
	uint8_t hdr_have;
	uint8_t skipping;   /* discarding an oversized body */
	uint8_t ready;      /* a frame was returned; restart on next feed */
	size_t body_len;
	size_t body_have;
};

/* buf[0..cap) holds one body at a time; cap is the size limit (e.g.
 * EDGE_CTL_REQUEST_MAX on the server). cap may be 0 with buf NULL (only
 * empty bodies accepted). */
void edge_ctl_decoder_init(struct edge_ctl_decoder *d, uint8_t *buf,
			   size_t cap);

/* Consume bytes from data[0..len) until one frame is complete or the input
 * is used up; *consumed gets how many were taken (call again with the rest).
 * Returns:
 *   1          a frame is complete: *body and *body_len give it, in the buffer
 *              and stay valid until the next call
 *   0          all input consumed, no complete frame yet
 *   -EMSGSIZE  a header declared more than cap bytes; *body_len gets the
 *              declared length. The decoder then skips that body (feeding
 *              continues to work), so the caller may answer "too_large" and
 *              go on, or close the connection.
 * An empty body (length 0) is returned as a frame like any other. */
EDGE_PROTO_WUR int edge_ctl_decoder_feed(struct edge_ctl_decoder *d,
					 const uint8_t *data, size_t len,
					 size_t *consumed, const uint8_t **body,
					 size_t *body_len);

/* 1 if no partial frame is pending (a clean place to close), else 0. */
int edge_ctl_decoder_idle(const struct edge_ctl_decoder *d);

/* ---- Error codes of {"ok": false, "error": {"code": ...}} responses.
 * Stable: only append before EDGE_CTL_E_COUNT. */

enum edge_ctl_error {
	EDGE_CTL_E_BAD_REQUEST = 1, /* "bad_request": not valid JSON / shape */
	EDGE_CTL_E_UNKNOWN_COMMAND, /* "unknown_command" */
	EDGE_CTL_E_BAD_ARGS,        /* "bad_args": args missing/wrong type/range */
	EDGE_CTL_E_TOO_LARGE,       /* "too_large": request above the limit */
	EDGE_CTL_E_NOT_FOUND,       /* "not_found": no such object */
	EDGE_CTL_E_BUSY,            /* "busy": too many connections/requests */
	EDGE_CTL_E_UNAVAILABLE,     /* "unavailable": shutting down / not ready */
	EDGE_CTL_E_INTERNAL,        /* "internal": unexpected failure */
	EDGE_CTL_E_NOT_AUTHORISED,  /* "not_authorised": peer may not control */
	EDGE_CTL_E_TIMEOUT,         /* "timeout": request not whole in time */
	EDGE_CTL_E_BAD_CONFIG,      /* "bad_config": reload refused the file */
	EDGE_CTL_E_EXISTS,          /* "exists": the object exists already */
	EDGE_CTL_E_NOT_CONFIGURED,  /* "not_configured": the feature is not set up
				     * in the configuration */
	EDGE_CTL_E_TOO_SLOW,        /* "too_slow": a streaming reader (a tail
				     * follower) fell behind and was dropped */
	EDGE_CTL_E_BUDGET,          /* "budget": a query examined more rows or
				     * ran longer than its budget */
	EDGE_CTL_E_NO_TRUST,        /* "no_trust": no trusted model-signing key */
	EDGE_CTL_E_REFUSED,         /* "refused": a package failed verification */
	EDGE_CTL_E_ROLLBACK,        /* "rollback": counter below the accepted one */
	EDGE_CTL_E_IN_USE,          /* "in_use": an open transfer uses it */
	EDGE_CTL_E_AMBIGUOUS,       /* "ambiguous": a reference matches several */
	EDGE_CTL_E_IO,              /* "io": a file could not be read or written */
	EDGE_CTL_E_NO_TARGET,       /* "no_target": nothing left to send to */
	EDGE_CTL_E_COUNT
};

/* Stable name; "internal" for unknown values. Never NULL. */
const char *edge_ctl_error_name(enum edge_ctl_error code);
/* Reverse lookup; 0 if unknown (a client treats it like "internal"). */
enum edge_ctl_error edge_ctl_error_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
