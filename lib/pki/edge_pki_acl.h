/* mosquitto's ACL file for the node protocol, generated from one table.
 *
 * The table (edge_pki_acl.c) lists, per topic type of proto's edge_topic.h,
 * whether a node may publish it (node→gateway types) or receive it
 * (gateway→node types) under <prefix>/%u/, %u being the MQTT username,
 * which is the node id (its password-file name, or its certificate's CN
 * with use_identity_as_username). The rules are mosquitto `pattern` lines,
 * so one file serves every node; a client without a username matches none
 * of them. The gateway's own user reads and writes <prefix>/#.
 * Type names come from edge_topic_type_name() and every rule's direction is
 * checked against edge_topic_direction(), so the file follows the protocol.
 *
 * The rules assume the broker ties the client id to the username: every
 * listener needs `use_username_as_clientid true` (mosquitto 2.0 has no
 * check that refuses a differing client id; without it another node's
 * credentials with a node's client id end that node's session and fire its
 * will), `allow_anonymous false`, and on a mutual-TLS listener
 * `require_certificate true` with `use_identity_as_username true`.
 *
 * Threading: reentrant, no shared state. */
#ifndef EDGE_PKI_ACL_H
#define EDGE_PKI_ACL_H

#include <stddef.h>
#include <sys/types.h>

#include "edge_error.h"
#include "edge_topic.h"

#define EDGE_PKI_ACL_PREFIX_DEFAULT "edge/v1"
#define EDGE_PKI_ACL_PREFIX_MAX 128

enum edge_pki_acl_access {
	EDGE_PKI_ACL_WRITE = 1, /* the node publishes (node→gateway) */
	EDGE_PKI_ACL_READ = 2,  /* the node subscribes and receives (gateway→node) */
};

/* One row: type, sub-levels after the type ("" for leaf types; may end in
 * "#"), access. */
struct edge_pki_acl_rule {
	enum edge_topic_type type;
	const char *sub;
	enum edge_pki_acl_access access;
};

/* The table (static, n rows). */
const struct edge_pki_acl_rule *edge_pki_acl_rules(size_t *n);

struct edge_pki_acl_options {
	/* Topic prefix before the node id: NULL = EDGE_PKI_ACL_PREFIX_DEFAULT.
	 * Levels of [A-Za-z0-9_-], separated by single '/', at most
	 * EDGE_PKI_ACL_PREFIX_MAX bytes. */
	const char *prefix;
	/* The gateway's own MQTT user ([A-Za-z0-9_-]{1,64}), required. */
	const char *gateway_user;
};

/* The ACL file's text, NUL-terminated, in a new buffer the caller frees;
 * *len (may be NULL) gets its length. Errors: -EINVAL (prefix, user; reason
 * in err), -ENOMEM. */
int edge_pki_acl_render(const struct edge_pki_acl_options *o, char **out, size_t *len,
			char *err, size_t errlen) EDGE_WUR;

/* Render and write atomically (edge_pki_write_file) with `mode`. */
int edge_pki_acl_write(const char *path, const struct edge_pki_acl_options *o, mode_t mode,
		       char *err, size_t errlen) EDGE_WUR;

#endif
