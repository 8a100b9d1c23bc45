/* Common definitions of the wire-format library (proto/).
 *
 * proto/ is the device SDK as well as the gateway's codec: C99, libc only,
 * no allocation, no OS calls. Firmware may vendor the directory as is.
 * Fallible functions return 0 (or a length) on success and a negative errno
 * value from <errno.h> on failure; the specific reason for rejecting a
 * message is reported separately (see edge_msg_reject.h). */
#ifndef EDGE_PROTO_H
#define EDGE_PROTO_H

/* The node protocol revision this library speaks (`v1` in topics and the
 * "proto" field of every message). */
#define EDGE_PROTO_VERSION 1

#if defined(__GNUC__) || defined(__clang__)
#define EDGE_PROTO_WUR __attribute__((warn_unused_result))
#else
#define EDGE_PROTO_WUR
#endif

#endif
