/* The node protocol's ACL table and mosquitto's ACL file (see
 * edge_pki_acl.h). */
#include "edge_pki_acl.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_pki_file.h"
#include "edge_pki_internal.h"

/* node-protocol.md §3 and §9. ota and infer carry both directions; their
 * sub-levels are reserved: a node writes requests (ota/req/..., infer/req,
 * infer/verify) and reads what the gateway sends (ota/..., infer/resp). A new type or
 * sub-level is one row here. */
static const struct edge_pki_acl_rule rules[] = {
	{ EDGE_TOPIC_HELLO, "", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_STATUS, "", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_HEARTBEAT, "", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_REPORT, "", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_OTA, "req/#", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_INFER, "req", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_INFER, "verify", EDGE_PKI_ACL_WRITE },
	{ EDGE_TOPIC_REGISTERED, "", EDGE_PKI_ACL_READ },
	{ EDGE_TOPIC_ACK, "", EDGE_PKI_ACL_READ },
	{ EDGE_TOPIC_OTA, "#", EDGE_PKI_ACL_READ },
	{ EDGE_TOPIC_INFER, "resp", EDGE_PKI_ACL_READ },
};

const struct edge_pki_acl_rule *edge_pki_acl_rules(size_t *n)
{
	*n = sizeof(rules) / sizeof(rules[0]);
	return rules;
}

static bool prefix_valid(const char *p)
{
	size_t n = strlen(p), level = 0;

	if (n < 1 || n > EDGE_PKI_ACL_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '/') {
			if (level == 0)
				return false;
			level = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
		level++;
	}
	return level > 0;
}

int edge_pki_acl_render(const struct edge_pki_acl_options *o, char **out, size_t *len,
			char *err, size_t errlen)
{
	assert(o && out);
	const char *prefix = o->prefix ? o->prefix : EDGE_PKI_ACL_PREFIX_DEFAULT;
	if (!prefix_valid(prefix))
		return edge__pki_failf(err, errlen, -EINVAL,
				       "topic prefix must be levels of [A-Za-z0-9_-]");
	if (!edge_id_valid_str(o->gateway_user))
		return edge__pki_failf(err, errlen, -EINVAL,
				       "gateway user must match [A-Za-z0-9_-]{1,64}");

	size_t nrules = sizeof(rules) / sizeof(rules[0]);
	size_t cap = 1024 + (nrules + 1) * (EDGE_PKI_ACL_PREFIX_MAX + 64) + EDGE_PKI_ACL_PREFIX_MAX;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t used = 0;
	used += (size_t)snprintf(buf + used, cap - used,
		"# mosquitto ACL for edged, generated from edged's topic table: do not edit.\n"
		"# A node's MQTT username is its node id (%%u); it may publish only its\n"
		"# node->gateway types and receive only its gateway->node types.\n"
		"\n# The broker's own upstream bridges (docs/upstream.md) have no user\n"
		"# name: this line, before any user, is theirs (anonymous clients are\n"
		"# refused). They publish their link state here, retained; with\n"
		"# check_retain_source the broker shows it only while they may write it.\n"
		"topic write $SYS/broker/connection/+/state\n\n");
	for (size_t i = 0; i < nrules; i++) {
		const struct edge_pki_acl_rule *r = &rules[i];
		/* A rule that lets a node write a gateway→node type (or read a
		 * node→gateway one) contradicts the protocol. */
		unsigned dir = edge_topic_direction(r->type);
		assert(dir & (r->access == EDGE_PKI_ACL_WRITE ? EDGE_TOPIC_TO_GATEWAY
							      : EDGE_TOPIC_TO_NODE));
		(void)dir;
		used += (size_t)snprintf(buf + used, cap - used, "pattern %s %s/%%u/%s%s%s\n",
					 r->access == EDGE_PKI_ACL_WRITE ? "write" : "read",
					 prefix, edge_topic_type_name(r->type),
					 r->sub[0] ? "/" : "", r->sub);
	}
	/* One publish of each chunk reaches every node of a campaign: the
	 * level is outside every node's subtree and reserved as an id. */
	used += (size_t)snprintf(buf + used, cap - used,
				 "\n# OTA campaign frames (proto/ota/transfer.md): published once for\n"
				 "# every node, outside every node's subtree (\"%s\" is no node id);\n"
				 "# every node may read them, none may write them.\n"
				 "pattern read %s/%s/#\n",
				 EDGE_TOPIC_CAMPAIGN_ID, prefix, EDGE_TOPIC_CAMPAIGN_ID);
	used += (size_t)snprintf(buf + used, cap - used,
				 "\n# The gateway's own identity; it also reads the state of the\n"
				 "# broker's upstream bridges (docs/upstream.md).\n"
				 "user %s\ntopic readwrite %s/#\ntopic read $SYS/broker/connection/#\n",
				 o->gateway_user, prefix);
	assert(used < cap);
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

int edge_pki_acl_write(const char *path, const struct edge_pki_acl_options *o, mode_t mode,
		       char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;

	assert(path);
	int rc = edge_pki_acl_render(o, &text, &len, err, errlen);
	if (rc == 0)
		rc = edge_pki_write_file(path, text, len, mode, err, errlen);
	free(text);
	return rc;
}
