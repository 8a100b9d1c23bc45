/* edgectl broker-config: the mosquitto.conf edged is meant to run with.
 * Offline (no daemon): the one generator the scripts, the tests and an
 * operator use, so the broker's limits match the node protocol and the
 * fleet. The output is a table of sections of directives, each with the
 * reason for its value. Access control is mosquitto's password_file and
 * acl_file with pattern ACLs (docs/broker-security.md says why), and
 * --clientid-plugin loads broker/edged_clientid.c to refuse a client id
 * other than the username;
 * --print-acl prints that ACL file from the table of the node protocol's
 * topics below. --bridge-address adds a bridge of the node topics operators
 * need to an upstream MQTT cluster (docs/upstream.md). */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_build_config.h"
#include "edge_node_msg.h"
#include "edge_ota_transfer.h"
#include "edge_pki_acl.h"
#include "edgectl.h"

/* mosquitto's hard limit for max_packet_size (the MQTT remaining length). */
/* offload.max_payload_bytes' default; must stay >= EDGE_OTA_FRAME_MAX. */
#define BROKER_DEFAULT_MESSAGE_LIMIT 65536ull
_Static_assert(BROKER_DEFAULT_MESSAGE_LIMIT >= EDGE_OTA_FRAME_MAX, "an OTA frame must fit");
#define BROKER_PACKET_MAX 268435455ULL
/* Room for the fixed header, topic and properties of a node message on top
 * of its payload: topics are <prefix>/<id up to 64>/<kind>. */
#define BROKER_PACKET_OVERHEAD 1024ULL

/* The bridge: at most this many cluster nodes in its `address` line. */
#define BRIDGE_ADDR_MAX 8
/* mosquitto's default max_queued_messages, which drops a burst's rest: the
 * bridge's queue must be above it. */
#define BRIDGE_QUEUE_MIN 1000ULL
#define BRIDGE_QUEUE_DEFAULT 100000ULL
#define BRIDGE_ID_MAX 64
#define BRIDGE_PASSWORD_MAX 256
/* Node topic prefix (--prefix) and remote prefix, in bytes. */
#define BRIDGE_PREFIX_MAX 128

struct broker_opts {
	unsigned long port;
	const char *bind;
	unsigned long long max_nodes;
	const char *persistence_dir;
	unsigned long long message_size_limit;
	/* Access control: both set or both NULL. */
	const char *password_file;
	const char *acl_file;
	/* TLS listener: tls_port 0 = none; then the three files are set. */
	unsigned long tls_port;
	const char *tls_bind; /* NULL = every address */
	const char *cafile, *certfile, *keyfile, *crlfile;
	bool require_certificate;
	const char *pid_file; /* NULL = none */
	const char *unix_socket; /* NULL = no Unix socket listener */
	const char *clientid_plugin; /* NULL = client ids are renamed, not refused */
	/* Bridge upstream: naddr 0 = none; then gateway_id, name, the prefixes
	 * and topics are set. */
	const char *bridge_addr[BRIDGE_ADDR_MAX];
	size_t bridge_naddr;
	const char *bridge_gateway_id;
	const char *bridge_name;
	const char *node_prefix;     /* edged's mqtt.topic_prefix, no trailing '/' */
	char bridge_prefix[BRIDGE_PREFIX_MAX + BRIDGE_ID_MAX + 8]; /* ends in '/' */
	unsigned bridge_topics;      /* bit (1u << enum edge_topic_type) */
	const char *bridge_user;     /* NULL = no credentials upstream */
	char bridge_password[BRIDGE_PASSWORD_MAX + 1];
	const char *bridge_cafile, *bridge_certfile, *bridge_keyfile; /* NULL = plain */
	unsigned long long bridge_queue;
};

/* One directive: its value is printed by value() into buf, and comment says
 * why it has that value. */
struct broker_line {
	const char *directive;
	void (*value)(const struct broker_opts *o, char *buf, size_t cap);
	const char *comment;
	/* Printed only when this says so; NULL = always. */
	bool (*when)(const struct broker_opts *o);
};

/* A directive given several times (the bridge's topic lines): count()
 * lines under one comment, the i-th printed by value(). */
struct broker_repeat {
	const char *directive;
	size_t (*count)(const struct broker_opts *o);
	void (*value)(const struct broker_opts *o, size_t i, char *buf, size_t cap);
	const char *comment;
};

struct broker_section {
	const char *title;
	const struct broker_line *lines;
	size_t nlines;
	bool (*when)(const struct broker_opts *o); /* NULL = always */
	const struct broker_repeat *repeat;        /* after the lines; NULL = none */
};

static bool w_auth(const struct broker_opts *o)
{
	return o->password_file != NULL;
}

static bool w_anonymous(const struct broker_opts *o)
{
	return o->password_file == NULL;
}

static bool w_tls(const struct broker_opts *o)
{
	return o->tls_port != 0;
}

static bool w_mutual(const struct broker_opts *o)
{
	return o->require_certificate;
}

static bool w_crl(const struct broker_opts *o)
{
	return o->crlfile != NULL;
}

static bool w_pid(const struct broker_opts *o)
{
	return o->pid_file != NULL;
}

static bool w_unix(const struct broker_opts *o)
{
	return o->unix_socket != NULL;
}

/* use_username_as_clientid where no plugin checks the id: every password
 * listener without --clientid-plugin (it would hide a mismatch from the
 * plugin, which runs after the rename), and the mutual-TLS listener, where
 * mosquitto runs no plugin at all for a certificate login. */
static bool w_rename(const struct broker_opts *o)
{
	return o->password_file != NULL && o->clientid_plugin == NULL;
}

static bool w_rename_tls(const struct broker_opts *o)
{
	return w_rename(o) || (o->password_file != NULL && o->require_certificate);
}

static bool w_plugin(const struct broker_opts *o)
{
	return o->clientid_plugin != NULL;
}

static bool w_bridge(const struct broker_opts *o)
{
	return o->bridge_naddr > 0;
}

static bool w_no_bridge(const struct broker_opts *o)
{
	return o->bridge_naddr == 0;
}

static bool w_bridge_auth(const struct broker_opts *o)
{
	return o->bridge_user != NULL;
}

static bool w_bridge_tls(const struct broker_opts *o)
{
	return o->bridge_cafile != NULL;
}

static bool w_bridge_cert(const struct broker_opts *o)
{
	return o->bridge_certfile != NULL;
}

static void v_plugin(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->clientid_plugin);
}

static void v_unix_listener(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "0 %s", o->unix_socket);
}

static void v_pid_file(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->pid_file);
}

static void v_listener(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lu %s", o->port, o->bind);
}

static void v_tls_listener(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lu%s%s", o->tls_port, o->tls_bind ? " " : "",
		 o->tls_bind ? o->tls_bind : "");
}

static void v_password_file(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->password_file);
}

static void v_acl_file(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->acl_file);
}

static void v_cafile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->cafile);
}

static void v_certfile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->certfile);
}

static void v_keyfile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->keyfile);
}

static void v_crlfile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->crlfile);
}

/* A directive whose value never changes. */
#define FIXED_VALUE(name, text)                                                    \
	static void name(const struct broker_opts *o, char *buf, size_t cap)         \
	{                                                                            \
		(void)o;                                                             \
		snprintf(buf, cap, "%s", text);                                      \
	}

FIXED_VALUE(v_tls_version, "tlsv1.2")
FIXED_VALUE(v_true, "true")
FIXED_VALUE(v_false, "false")
FIXED_VALUE(v_autosave, "300")
FIXED_VALUE(v_bridge_autosave, "60")
FIXED_VALUE(v_client_expiration, "1d")
FIXED_VALUE(v_unlimited, "-1")
FIXED_VALUE(v_log_dest, "stderr")
FIXED_VALUE(v_log_error, "error")
FIXED_VALUE(v_log_warning, "warning")
FIXED_VALUE(v_log_notice, "notice")
FIXED_VALUE(v_mqttv311, "mqttv311")
FIXED_VALUE(v_keepalive, "30")
FIXED_VALUE(v_restart_timeout, "2 30")
FIXED_VALUE(v_automatic, "automatic")

static void v_persistence_dir(const struct broker_opts *o, char *buf, size_t cap)
{
	size_t n = strlen(o->persistence_dir);

	/* mosquitto appends the file name to this string as is. */
	snprintf(buf, cap, "%s%s", o->persistence_dir,
		 n > 0 && o->persistence_dir[n - 1] == '/' ? "" : "/");
}

static void v_max_queued(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%llu", 2 * o->max_nodes + 1000);
}

/* The fleet's need or the bridge's queue, whichever is larger: mosquitto 2
 * has one per-client limit for both. */
static void v_bridge_max_queued(const struct broker_opts *o, char *buf, size_t cap)
{
	unsigned long long fleet = 2 * o->max_nodes + 1000;

	snprintf(buf, cap, "%llu", fleet > o->bridge_queue ? fleet : o->bridge_queue);
}

static void v_max_inflight(const struct broker_opts *o, char *buf, size_t cap)
{
	unsigned long long n = o->max_nodes / 50;

	snprintf(buf, cap, "%llu", n < 20 ? 20 : n > 1000 ? 1000 : n);
}

static void v_message_size(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%llu", o->message_size_limit);
}

static void v_packet_size(const struct broker_opts *o, char *buf, size_t cap)
{
	unsigned long long n = o->message_size_limit + BROKER_PACKET_OVERHEAD;

	snprintf(buf, cap, "%llu", n > BROKER_PACKET_MAX ? BROKER_PACKET_MAX : n);
}

static void v_bridge_connection(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->bridge_name);
}

static void v_bridge_address(const struct broker_opts *o, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->bridge_naddr && n < cap; i++) {
		int w = snprintf(buf + n, cap - n, "%s%s", i ? " " : "", o->bridge_addr[i]);

		assert(w > 0 && (size_t)w < cap - n); /* sized by broker_print */
		n += (size_t)w;
	}
}

static void v_remote_clientid(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "edged-%s", o->bridge_gateway_id);
}

static void v_local_clientid(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "edged-bridge-%s", o->bridge_name);
}

static void v_remote_username(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->bridge_user);
}

static void v_remote_password(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->bridge_password);
}

static void v_notification_topic(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "$SYS/broker/connection/%s/state", o->bridge_name);
}

static void v_bridge_cafile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->bridge_cafile);
}

static void v_bridge_certfile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->bridge_certfile);
}

static void v_bridge_keyfile(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", o->bridge_keyfile);
}

/* The node message types a bridge may send upstream, in topic-line order:
 * node→gateway types and edged's registered answer; never ack, OTA or
 * offload traffic (per node, large, and meaningless away from the site). */
static const enum edge_topic_type bridge_types[] = {
	EDGE_TOPIC_HELLO, EDGE_TOPIC_STATUS, EDGE_TOPIC_REPORT, EDGE_TOPIC_HEARTBEAT,
	EDGE_TOPIC_REGISTERED,
};
#define BRIDGE_TOPICS_DEFAULT \
	((1u << EDGE_TOPIC_REPORT) | (1u << EDGE_TOPIC_STATUS) | (1u << EDGE_TOPIC_HELLO))

static size_t c_bridge_topics(const struct broker_opts *o)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof bridge_types / sizeof bridge_types[0]; i++)
		n += (o->bridge_topics >> bridge_types[i]) & 1u;
	return n;
}

/* The i-th selected type: `+/<type> out 1 <node prefix>/ <remote prefix><node
 * prefix>/`, so edge/v1/<id>/report goes up as
 * site/<gateway-id>/edge/v1/<id>/report (the protocol version stays in it). */
static void v_bridge_topic(const struct broker_opts *o, size_t i, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t t = 0; t < sizeof bridge_types / sizeof bridge_types[0]; t++) {
		if (!((o->bridge_topics >> bridge_types[t]) & 1u))
			continue;
		if (i-- == 0) {
			snprintf(buf, cap, "+/%s out 1 %s/ %s%s/", edge_topic_type_name(bridge_types[t]),
				 o->node_prefix, o->bridge_prefix, o->node_prefix);
			return;
		}
	}
	assert(!"topic line out of range");
}

/* The client-id rule, after every listener (mosquitto keeps it per listener). */
#define CLIENTID_RULE_WHEN(when) \
	{ "use_username_as_clientid", v_true, \
	  "The client id is replaced by the username (the node id): a client holding\n" \
	  "# node A's credentials that asks for id B is renamed A, so it can never\n" \
	  "# take over or end B's session (mosquitto 2.0 renames, it cannot refuse;\n" \
	  "# --clientid-plugin refuses on password logins).", \
	  when }
#define CLIENTID_RULE CLIENTID_RULE_WHEN(w_rename)

static const struct broker_line listener_lines[] = {
	{ "listener", v_listener,
	  "Plain MQTT (v5) for edged and local nodes: loopback unless --bind and\n"
	  "# --allow-plain-network say otherwise (passwords cross it in clear).", NULL },
	CLIENTID_RULE,
	{ "set_tcp_nodelay", v_true,
	  "Small packets go out at once: without it every TLS connect stalls ~46 ms.", NULL },
	{ "max_connections", v_unlimited,
	  "No cap here: edged's registry.max_devices bounds the fleet.", NULL },
};

static const struct broker_line unix_lines[] = {
	{ "listener", v_unix_listener,
	  "Unix socket for edged (mqtt.host = this path): the shipped edged.service\n"
	  "# has no network. mosquitto creates it mode 0770 as its own user; the\n"
	  "# directory's group (setgid) lets edged's group in.", NULL },
	CLIENTID_RULE,
};

static const struct broker_line tls_lines[] = {
	{ "listener", v_tls_listener,
	  "TLS for nodes on the network (every address unless --tls-bind).", NULL },
	{ "cafile", v_cafile,
	  "The gateway CA: nodes verify the broker with it, and with\n"
	  "# require_certificate it is the only issuer of node certificates.", NULL },
	{ "certfile", v_certfile,
	  "The broker's certificate, signed by the gateway CA (reloaded on SIGHUP).", NULL },
	{ "keyfile", v_keyfile, "Its private key, readable by the broker's user only.", NULL },
	{ "tls_version", v_tls_version, "TLS 1.2 or later.", NULL },
	{ "require_certificate", v_true,
	  "Mutual TLS: a client without a certificate from cafile is refused\n"
	  "# during the handshake.", w_mutual },
	{ "use_identity_as_username", v_true,
	  "The certificate's CN (the node id) is the username: the same ACL\n"
	  "# patterns apply, and the password file is not consulted here.", w_mutual },
	{ "crlfile", v_crlfile,
	  "Revoked node certificates: the only way to shut out a node of this\n"
	  "# listener, since its password entry is not consulted.", w_crl },
	CLIENTID_RULE_WHEN(w_rename_tls),
	{ "max_connections", v_unlimited, NULL, NULL },
};

static const struct broker_line access_lines[] = {
	{ "allow_anonymous", v_true,
	  "Anonymous clients are accepted: no per-node credentials or ACL; keep\n"
	  "# the listener on a local or trusted address.", w_anonymous },
	{ "per_listener_settings", v_false,
	  "One password file and ACL for every listener: a node's rights do not\n"
	  "# depend on how it connects.", w_auth },
	{ "allow_anonymous", v_false,
	  "Every client authenticates: a password, or a certificate on the\n"
	  "# mutual-TLS listener.", w_auth },
	{ "password_file", v_password_file,
	  "user:hash lines (mosquitto_passwd's format); re-read on SIGHUP, which\n"
	  "# also ends the live session of a user no longer in it.", w_auth },
	{ "acl_file", v_acl_file,
	  "Each node (username = node id) only under its own subtree, in the\n"
	  "# direction of each type; edged's user everywhere. See --print-acl.\n"
	  "# Re-read on SIGHUP.", w_auth },
	{ "plugin", v_plugin,
	  "edged_clientid: a password login whose client id is not its username\n"
	  "# (the node id) is refused with CONNACK 0x87 (MQTT 3.1.1: 5); the password\n"
	  "# file decides the rest. Not reloaded: restart the broker to change it.", w_plugin },
	{ "check_retain_source", v_true,
	  "A retained message is delivered only while its publisher still has\n"
	  "# write access to its topic.", w_auth },
};

static const struct broker_line persistence_lines[] = {
	{ "persistence", v_true,
	  "Keep sessions and retained messages across a broker restart: edged's\n"
	  "# session (with what was queued for it) and every node's retained status.", NULL },
	{ "persistence_location", v_persistence_dir,
	  "Directory of mosquitto.db; must exist and be writable by the broker.", NULL },
	{ "autosave_interval", v_autosave,
	  "Seconds between saves while running (a clean stop always saves): a crash\n"
	  "# of the broker loses at most this much; shorter means more flash wear.",
	  w_no_bridge },
	{ "autosave_interval", v_bridge_autosave,
	  "Seconds between saves while running. A clean stop or restart always\n"
	  "# saves, so the bridge's queue (what nodes sent while the upstream was\n"
	  "# away) survives it; a kill -9 or power loss loses what arrived since the\n"
	  "# last save, at most this much. Shorter means more flash wear: each save\n"
	  "# rewrites the whole queue.", w_bridge },
	{ "autosave_on_changes", v_false,
	  "autosave_interval counts seconds, not messages: a save every N messages\n"
	  "# would rewrite a 100,000-message backlog again and again in an outage.",
	  w_bridge },
	{ "persistent_client_expiration", v_client_expiration,
	  "Forget sessions of MQTT 3.1.1 clients gone for a day (MQTT v5 clients,\n"
	  "# edged included, state their own Session Expiry Interval).", NULL },
};

static const struct broker_line limit_lines[] = {
	{ "max_queued_messages", v_max_queued,
	  "Per client: when edged (re)subscribes the broker replays one retained\n"
	  "# status per node and queues what nodes sent while edged was away; 2 x\n"
	  "# the fleet + 1000 holds both (the default of 1000 drops the rest).",
	  w_no_bridge },
	{ "max_queued_messages", v_bridge_max_queued,
	  "Per client, and in mosquitto 2 also the bridge's queue (there is no\n"
	  "# per-bridge limit): what nodes send while the upstream is away waits\n"
	  "# there. --bridge-queue or 2 x the fleet + 1000 (edged's replay after its\n"
	  "# own reconnect), whichever is larger; the default of 1000 silently\n"
	  "# dropped 10,820 of a 20,000-message burst. Memory: up to this many\n"
	  "# messages (each within message_size_limit) per client that falls behind.",
	  w_bridge },
	{ "max_inflight_messages", v_max_inflight,
	  "QoS 1 messages a client may have unacknowledged towards the broker (and\n"
	  "# towards MQTT 3.1.1 clients; v5 clients such as edged state their own\n"
	  "# Receive Maximum): sized from the fleet, 20 to 1000.", NULL },
	{ "message_size_limit", v_message_size,
	  "Largest payload accepted: the node protocol's limit unless overridden\n"
	  "# (exact, where max_packet_size also counts topic and properties; mosquitto\n"
	  "# notes at start that it prefers the latter: both are meant).", NULL },
	{ "max_packet_size", v_packet_size,
	  "Largest packet accepted: the payload limit plus room for topic and\n"
	  "# properties. edged declares its own Maximum Packet Size when it connects.", NULL },
};

static const struct broker_line log_lines[] = {
	{ "log_dest", v_log_dest, "To the journal when run by systemd.", NULL },
	{ "log_type", v_log_error, NULL, NULL },
	{ "log_type", v_log_warning, NULL, NULL },
	{ "log_type", v_log_notice, NULL, NULL },
	{ "connection_messages", v_false,
	  "One line per connect of 10,000 nodes is noise; edged logs presence.", NULL },
};

static const struct broker_line process_lines[] = {
	{ "pid_file", v_pid_file,
	  "edged's broker.pid_file: edged sends this pid SIGHUP after it rewrote\n"
	  "# the password file, ACL or CRL.", NULL },
};

/* The bridge to the upstream cluster (docs/upstream.md): last in the file,
 * since every directive after `connection` belongs to that bridge. */
static const struct broker_line bridge_lines[] = {
	{ "connection", v_bridge_connection,
	  "One bridge to the upstream cluster; its name is in the state topic below.",
	  NULL },
	{ "address", v_bridge_address,
	  "The cluster's nodes: when the one in use fails, the bridge connects to\n"
	  "# the next. Measured after a NATS node was killed: 2.5 to 17 s (longer\n"
	  "# when its streams had to elect new leaders first), nothing lost.", NULL },
	{ "round_robin", v_false,
	  "The first address is this gateway's own node (spread the gateways by\n"
	  "# ordering the list); after a failover mosquitto returns to it once it\n"
	  "# answers again.", NULL },
	{ "bridge_protocol_version", v_mqttv311,
	  "NATS and RabbitMQ speak MQTT 3.1.1 only.", NULL },
	{ "try_private", v_false,
	  "Upstream brokers other than mosquitto refuse the private bridge flag\n"
	  "# (bit 0x80 of the protocol version) that mosquitto sets by default.", NULL },
	{ "cleansession", v_false,
	  "A persistent session at both ends: the local broker keeps the bridge's\n"
	  "# queue across reconnects (and, with persistence, restarts), and the\n"
	  "# upstream keeps the session across a failover.", NULL },
	{ "remote_clientid", v_remote_clientid,
	  "Unique per gateway: two gateways with one id would end each other's\n"
	  "# session upstream over and over.", NULL },
	{ "local_clientid", v_local_clientid,
	  "The bridge's own session in the local broker, where its queue lives.", NULL },
	{ "remote_username", v_remote_username,
	  "This gateway's own upstream credentials: a site compromised is one user\n"
	  "# to revoke upstream, not every site.", w_bridge_auth },
	{ "remote_password", v_remote_password,
	  "From --bridge-password-file: this mosquitto.conf now holds a secret, so\n"
	  "# it must be mode 0600 (or 0640 with mosquitto's group).",
	  w_bridge_auth },
	{ "keepalive_interval", v_keepalive,
	  "A silent path (a WAN cut, no TCP reset) is noticed within 1.5 x this; a\n"
	  "# killed node resets the connection at once.", NULL },
	{ "restart_timeout", v_restart_timeout,
	  "Reconnect after a random wait from 2 s, backing off to 30 s: many\n"
	  "# gateways do not hit a recovering cluster all at once.", NULL },
	{ "start_type", v_automatic,
	  "Connected at start and reconnected after any loss.", NULL },
	{ "notifications", v_true,
	  "The bridge publishes its state: \"1\" connected, \"0\" not (retained).", NULL },
	{ "notifications_local_only", v_true,
	  "To the local broker only: upstream, every gateway's bridge would publish\n"
	  "# (and leave a will) on the same $SYS topic.", NULL },
	{ "notification_topic", v_notification_topic,
	  "edged reads the bridge's state here: keep this exact topic.", NULL },
	{ "bridge_cafile", v_bridge_cafile,
	  "TLS to the upstream, verified against this CA and the address's name.",
	  w_bridge_tls },
	{ "bridge_insecure", v_false,
	  "Never skip the name check: it is what stops a man in the middle.", w_bridge_tls },
	{ "bridge_tls_version", v_tls_version, "TLS 1.2 or later.", w_bridge_tls },
	{ "bridge_certfile", v_bridge_certfile,
	  "The gateway's client certificate, for an upstream that wants one.",
	  w_bridge_cert },
	{ "bridge_keyfile", v_bridge_keyfile,
	  "Its private key, readable by the broker's user only.", w_bridge_cert },
};

static const struct broker_repeat bridge_topic_lines = {
	"topic", c_bridge_topics, v_bridge_topic,
	"Node messages operators need, QoS 1 out (NATS has no QoS 2), under the\n"
	"# gateway's prefix upstream. Heartbeats stay local unless asked for: one\n"
	"# per node every few seconds is most of the volume, and edged's presence\n"
	"# already turns them into online/stale/offline.",
};

#define SECTION(t, l, w) { t, l, sizeof l / sizeof l[0], w, NULL }
#define SECTION_REPEAT(t, l, w, r) { t, l, sizeof l / sizeof l[0], w, r }
static const struct broker_section broker_sections[] = {
	SECTION("Listener", listener_lines, NULL),
	SECTION("Unix socket listener", unix_lines, w_unix),
	SECTION("TLS listener", tls_lines, w_tls),
	SECTION("Access", access_lines, NULL),
	SECTION("Persistence", persistence_lines, NULL),
	SECTION("Limits", limit_lines, NULL),
	SECTION("Logging", log_lines, NULL),
	SECTION("Process", process_lines, w_pid),
	SECTION_REPEAT("Bridge upstream", bridge_lines, w_bridge, &bridge_topic_lines),
};

static const char broker_usage[] =
	"Usage: edgectl broker-config [--port P] [--bind ADDR] [--allow-plain-network]\n"
	"                             [--max-nodes N] [--persistence-dir DIR]\n"
	"                             [--message-size-limit BYTES]\n"
	"                             [--identity-dir DIR] [--pid-file FILE]\n"
	"                             [--unix-socket PATH]\n"
	"                             [--password-file FILE --acl-file FILE]\n"
	"                             [--clientid-plugin FILE]\n"
	"                             [--tls-listener PORT [--tls-bind ADDR] --cafile FILE\n"
	"                              --certfile FILE --keyfile FILE\n"
	"                              [--require-certificate [--crlfile FILE]]]\n"
	"                             [--bridge-address HOST:PORT ... --bridge-gateway-id ID\n"
	"                              [--bridge-name NAME] [--bridge-prefix PREFIX]\n"
	"                              [--prefix P] [--bridge-topics LIST]\n"
	"                              [--bridge-user USER --bridge-password-file FILE]\n"
	"                              [--bridge-cafile FILE [--bridge-certfile FILE\n"
	"                               --bridge-keyfile FILE]] [--bridge-allow-plain]\n"
	"                              [--bridge-queue N]]\n"
	"       edgectl broker-config --print-acl [--prefix P] [--gateway-user USER]\n"
	"\n"
	"Print a mosquitto.conf for the broker edged and its nodes use (offline: no\n"
	"daemon needed). Defaults: --port 1883, --bind 127.0.0.1, --max-nodes 10000,\n"
	"--persistence-dir /var/lib/mosquitto, --message-size-limit 65536 (edged's\n"
	"default offload.max_payload_bytes, the largest offload request; an OTA\n"
	"frame is at most 16408 bytes and node JSON messages stay within 4096, which\n"
	"edged enforces). --max-nodes should match registry.max_devices.\n"
	"\n"
	"The output is a whole file for `mosquitto -c FILE`, not a conf.d snippet\n"
	"(Debian's own mosquitto.conf already sets the persistence options).\n"
	"\n"
	"--password-file and --acl-file (together, absolute paths) turn on access\n"
	"control: no anonymous clients, client id = username. --tls-listener adds a\n"
	"TLS listener (needs access control); --require-certificate makes it mutual\n"
	"TLS with the certificate's CN as the username. The plain listener binds a\n"
	"non-loopback address only with --allow-plain-network.\n"
	"--identity-dir DIR (the directory of `edgectl broker-init`, edged's\n"
	"broker.identity_dir) stands for --password-file DIR/passwd --acl-file DIR/acl\n"
	"and, with --tls-listener, --cafile DIR/ca.crt --certfile DIR/broker.crt\n"
	"--keyfile DIR/broker.key (and --crlfile DIR/ca.crl with\n"
	"--require-certificate); an explicit option wins. --pid-file makes the broker\n"
	"write its pid there (edged's broker.pid_file).\n"
	"--unix-socket PATH adds a listener on that Unix socket (edged's mqtt.host;\n"
	"an absolute path of at most 107 bytes, no blanks).\n"
	"--clientid-plugin FILE (needs access control) loads edged's broker plugin:\n"
	"a password login whose client id is not its username is refused, not\n"
	"renamed (the mutual-TLS listener still renames: mosquitto runs no plugin\n"
	"for a certificate login). It is installed as\n"
	"  " EDGE_PLUGINDIR "/edged_clientid.so\n"
	"--bridge-address HOST:PORT (1 to 8 times: the upstream cluster's nodes)\n"
	"adds a bridge to an upstream MQTT cluster (docs/upstream.md): the node\n"
	"topics of --bridge-topics (default report,status,hello; also heartbeat,\n"
	"registered) under the node prefix --prefix (edged's mqtt.topic_prefix,\n"
	"default edge/v1) go up with QoS 1 under --bridge-prefix (default\n"
	"site/<gateway-id>/). --bridge-gateway-id (required; [A-Za-z0-9_-], 1 to 64)\n"
	"makes the upstream client id edged-<ID>. --bridge-name names the connection\n"
	"(default upstream; its state is on $SYS/broker/connection/NAME/state).\n"
	"--bridge-user and --bridge-password-file (its first line goes into the\n"
	"output: keep that file 0600) are the gateway's upstream credentials.\n"
	"--bridge-cafile turns on TLS to the upstream (with --bridge-certfile and\n"
	"--bridge-keyfile for a client certificate); without it the upstream must\n"
	"be a loopback address unless --bridge-allow-plain. --bridge-queue N (above\n"
	"1000, default 100000) is how many messages wait while the upstream is away;\n"
	"it raises mosquitto's per-client max_queued_messages for every client.\n"
	"--print-acl prints the ACL file for the node protocol instead (defaults:\n"
	"--prefix edge/v1, --gateway-user edged).\n";

/* Decimal in [min, max]; prints the reason and returns false otherwise. */
static bool parse_ull(const char *opt, const char *s, unsigned long long min,
		      unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max) {
		fprintf(stderr, "edgectl broker-config: %s must be an integer in %llu..%llu\n", opt,
			min, max);
		return false;
	}
	*out = v;
	return true;
}

static int broker_print(const struct broker_opts *o)
{
	/* a path, a listener line, or the bridge's addresses (each at most
	 * 255 + 1 + 5 bytes and a blank: check_bridge_address) */
	char value[PATH_MAX + BRIDGE_ADDR_MAX * 264];

	printf("# mosquitto.conf generated by edgectl broker-config\n"
	       "# (port %lu, bind %s, up to %llu nodes, payloads up to %llu bytes)\n",
	       o->port, o->bind, o->max_nodes, o->message_size_limit);
	if (o->bridge_naddr)
		printf("# (bridge %s of gateway %s to %zu upstream node%s)\n", o->bridge_name,
		       o->bridge_gateway_id, o->bridge_naddr, o->bridge_naddr == 1 ? "" : "s");
	for (size_t s = 0; s < sizeof broker_sections / sizeof broker_sections[0]; s++) {
		const struct broker_section *sec = &broker_sections[s];

		if (sec->when && !sec->when(o))
			continue;
		printf("\n# ---- %s\n", sec->title);
		for (size_t i = 0; i < sec->nlines; i++) {
			const struct broker_line *l = &sec->lines[i];

			if (l->when && !l->when(o))
				continue;
			l->value(o, value, sizeof value);
			if (l->comment)
				printf("# %s\n", l->comment);
			printf("%s %s\n", l->directive, value);
		}
		if (sec->repeat) {
			const struct broker_repeat *r = sec->repeat;
			size_t n = r->count(o);

			if (r->comment && n > 0)
				printf("# %s\n", r->comment);
			for (size_t k = 0; k < n; k++) {
				r->value(o, k, value, sizeof value);
				printf("%s %s\n", r->directive, value);
			}
		}
	}
	return EDGECTL_OK;
}

/* A file directive's value: one absolute path on one line. */
static bool check_path(const char *opt, const char *p)
{
	if (p[0] != '/' || strpbrk(p, "\r\n") || strlen(p) > PATH_MAX - 1) {
		fprintf(stderr, "edgectl broker-config: %s must be an absolute path\n", opt);
		return false;
	}
	return true;
}

/* One token in the file: a blank or a newline would change its meaning. */
static bool check_token(const char *opt, const char *v)
{
	if (!v[0] || strpbrk(v, " \t\r\n#")) {
		fprintf(stderr, "edgectl broker-config: %s must be one address\n", opt);
		return false;
	}
	return true;
}

/* 127.0.0.0/8 or ::1 as a literal; a name is not known to be loopback. */
static bool is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Takes the value-less flags out of argv (edgectl_parse_args knows only
 * options with a value); returns the new argc. */
static int take_flags(int argc, char **argv, bool *require_cert, bool *allow_plain,
		      bool *print_acl)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--require-certificate") == 0)
			*require_cert = true;
		else if (i > 0 && strcmp(argv[i], "--allow-plain-network") == 0)
			*allow_plain = true;
		else if (i > 0 && strcmp(argv[i], "--print-acl") == 0)
			*print_acl = true;
		else
			argv[n++] = argv[i];
	}
	return n;
}

/* Takes every --bridge-address (repeatable, which edgectl_parse_args is
 * not) and --bridge-allow-plain out of argv; returns the new argc, or -1
 * after printing why. */
static int take_bridge_args(int argc, char **argv, const char **addr, size_t *naddr,
			    bool *allow_plain)
{
	static const char opt[] = "--bridge-address";
	const size_t ol = sizeof opt - 1;
	int n = 0;

	for (int i = 0; i < argc; i++) {
		const char *v = NULL;

		if (i > 0 && strcmp(argv[i], "--bridge-allow-plain") == 0) {
			*allow_plain = true;
			continue;
		}
		if (i == 0 || strncmp(argv[i], opt, ol) != 0 ||
		    (argv[i][ol] != '\0' && argv[i][ol] != '=')) {
			argv[n++] = argv[i];
			continue;
		}
		if (argv[i][ol] == '=')
			v = argv[i] + ol + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		if (!v) {
			fprintf(stderr, "edgectl broker-config: %s needs a value\n", opt);
			return -1;
		}
		if (*naddr == BRIDGE_ADDR_MAX) {
			fprintf(stderr, "edgectl broker-config: at most %d --bridge-address\n",
				BRIDGE_ADDR_MAX);
			return -1;
		}
		addr[(*naddr)++] = v;
	}
	return n;
}

/* [A-Za-z0-9_-]{1,max}: a gateway id or a connection name, which become
 * client ids and topic levels (upstream also NATS subject tokens). */
static bool check_name(const char *opt, const char *s, size_t max)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	if (n == 0 || s[n] || n > max) {
		fprintf(stderr, "edgectl broker-config: %s must be 1 to %zu of A-Z a-z 0-9 _ -\n",
			opt, max);
		return false;
	}
	return true;
}

/* Topic levels of [A-Za-z0-9_-] joined by single '/', with (slash) or
 * without a trailing '/': no wildcard, no '.' (a NATS subject separator),
 * no blank (mosquitto splits the topic line at blanks). */
static bool check_levels(const char *opt, const char *s, bool slash)
{
	size_t len = strlen(s), level = 0;
	bool ok = len > 0 && len <= BRIDGE_PREFIX_MAX && s[0] != '/' &&
		  (s[len - 1] == '/') == slash;

	for (size_t i = 0; ok && i < len; i++) {
		char c = s[i];

		if (c == '/') {
			ok = level > 0;
			level = 0;
		} else {
			ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '_' || c == '-';
			level++;
		}
	}
	if (!ok)
		fprintf(stderr, "edgectl broker-config: %s must be topic levels of A-Z a-z 0-9 _ - "
				"joined by '/'%s, at most %d bytes\n", opt,
			slash ? ", ending in '/'" : ", not ending in '/'", BRIDGE_PREFIX_MAX);
	return ok;
}

/* HOST:PORT as mosquitto's `address` takes it: a host without ':' (an IPv4
 * literal or a name; its parser has no IPv6 literal form) and a port. A
 * plain bridge is refused to a host not known to be loopback. */
static bool check_bridge_address(const char *a, bool tls, bool allow_plain)
{
	const char *colon = strchr(a, ':');
	char host[256];
	unsigned long long port;

	if (!colon || colon == a || strchr(colon + 1, ':') || (size_t)(colon - a) >= sizeof host ||
	    strlen(colon + 1) > 5 || strpbrk(a, " \t\r\n#")) {
		fprintf(stderr, "edgectl broker-config: --bridge-address %s must be HOST:PORT "
				"(an IPv4 address or a name)\n", a);
		return false;
	}
	if (!parse_ull("--bridge-address's port", colon + 1, 1, 65535, &port))
		return false;
	memcpy(host, a, (size_t)(colon - a));
	host[colon - a] = '\0';
	if (!tls && !allow_plain && !is_loopback(host)) {
		fprintf(stderr, "edgectl broker-config: --bridge-address %s is not a loopback "
				"address: the bridge would carry its credentials and the site's "
				"messages in clear; give --bridge-cafile for TLS, or "
				"--bridge-allow-plain\n", a);
		return false;
	}
	return true;
}

/* A comma list of type names of bridge_types into a bit set. */
static bool parse_bridge_topics(const char *list, unsigned *out)
{
	const char *p = list;

	*out = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (size_t t = 0; t < sizeof bridge_types / sizeof bridge_types[0]; t++) {
			const char *name = edge_topic_type_name(bridge_types[t]);

			if (strlen(name) == n && strncmp(p, name, n) == 0) {
				*out |= 1u << bridge_types[t];
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "edgectl broker-config: --bridge-topics: unknown type '%.*s' "
					"(allowed: hello, status, report, heartbeat, registered)\n",
				(int)n, p);
			return false;
		}
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* The password file's first line (without its newline): 1 to
 * BRIDGE_PASSWORD_MAX bytes, no control character, no blank at either end
 * (mosquitto takes the rest of the line and would keep or trim them). */
static bool read_bridge_password(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;
	bool ok = true;

	assert(cap == BRIDGE_PASSWORD_MAX + 1);
	if (!f) {
		fprintf(stderr, "edgectl broker-config: --bridge-password-file %s: %s\n", path,
			strerror(errno));
		return false;
	}
	if (!fgets(out, (int)cap, f))
		out[0] = '\0';
	n = strcspn(out, "\n");
	if (out[n] != '\n' && !feof(f) && n == cap - 1)
		ok = false; /* longer than the limit */
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	fclose(f);
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)out[i] >= 0x20 && out[i] != 0x7f;
	if (!ok || n == 0 || out[0] == ' ' || out[n - 1] == ' ') {
		fprintf(stderr, "edgectl broker-config: --bridge-password-file %s: the first line "
				"must be the password, 1 to %d printable bytes without a blank at "
				"either end\n", path, BRIDGE_PASSWORD_MAX);
		memset(out, 0, cap);
		return false;
	}
	return true;
}

/* The bridge's options into o (o->bridge_addr/naddr already taken). */
static bool bridge_setup(struct broker_opts *o, const char *gw_id, const char *name,
			 const char *rprefix, const char *prefix, const char *topics,
			 const char *user, const char *pwfile, const char *cafile,
			 const char *certfile, const char *keyfile, const char *queue,
			 bool allow_plain)
{
	if (!gw_id) {
		fprintf(stderr, "edgectl broker-config: --bridge-address needs "
				"--bridge-gateway-id\n");
		return false;
	}
	if (!check_name("--bridge-gateway-id", gw_id, BRIDGE_ID_MAX))
		return false;
	o->bridge_gateway_id = gw_id;
	o->bridge_name = name ? name : "upstream";
	if (!check_name("--bridge-name", o->bridge_name, BRIDGE_ID_MAX))
		return false;
	o->node_prefix = prefix ? prefix : EDGE_PKI_ACL_PREFIX_DEFAULT;
	if (!check_levels("--prefix", o->node_prefix, false))
		return false;
	if (rprefix) {
		if (!check_levels("--bridge-prefix", rprefix, true))
			return false;
		snprintf(o->bridge_prefix, sizeof o->bridge_prefix, "%s", rprefix);
	} else {
		snprintf(o->bridge_prefix, sizeof o->bridge_prefix, "site/%s/", gw_id);
	}
	o->bridge_topics = BRIDGE_TOPICS_DEFAULT;
	if (topics && !parse_bridge_topics(topics, &o->bridge_topics))
		return false;
	assert(o->bridge_topics != 0);
	if (!user != !pwfile) {
		fprintf(stderr, "edgectl broker-config: --bridge-user and --bridge-password-file "
				"go together\n");
		return false;
	}
	if (user) {
		if (!check_token("--bridge-user", user) || !check_path("--bridge-password-file", pwfile) ||
		    !read_bridge_password(pwfile, o->bridge_password, sizeof o->bridge_password))
			return false;
		o->bridge_user = user;
	}
	if ((certfile || keyfile) && !cafile) {
		fprintf(stderr, "edgectl broker-config: --bridge-certfile and --bridge-keyfile "
				"need --bridge-cafile\n");
		return false;
	}
	if (!certfile != !keyfile) {
		fprintf(stderr, "edgectl broker-config: --bridge-certfile and --bridge-keyfile "
				"go together\n");
		return false;
	}
	if ((cafile && !check_path("--bridge-cafile", cafile)) ||
	    (certfile && !check_path("--bridge-certfile", certfile)) ||
	    (keyfile && !check_path("--bridge-keyfile", keyfile)))
		return false;
	o->bridge_cafile = cafile;
	o->bridge_certfile = certfile;
	o->bridge_keyfile = keyfile;
	for (size_t i = 0; i < o->bridge_naddr; i++)
		if (!check_bridge_address(o->bridge_addr[i], cafile != NULL, allow_plain))
			return false;
	o->bridge_queue = BRIDGE_QUEUE_DEFAULT;
	if (queue && !parse_ull("--bridge-queue", queue, BRIDGE_QUEUE_MIN + 1, 100000000,
				&o->bridge_queue))
		return false;
	return true;
}

/* The ACL file comes from lib/pki's table of the node protocol's topics:
 * the same text edged will write when it manages the broker's files. */
static int broker_acl_mode(const char *prefix, const char *user)
{
	struct edge_pki_acl_options o = { .prefix = prefix, .gateway_user = user ? user : "edged" };
	char err[256] = "", *text = NULL;
	size_t len = 0;
	int rc = edge_pki_acl_render(&o, &text, &len, err, sizeof err);

	if (rc == -EINVAL) {
		fprintf(stderr, "edgectl broker-config: %s\n", err);
		return EDGECTL_EUSAGE;
	}
	if (rc < 0) {
		fprintf(stderr, "edgectl broker-config: %s\n", edge_strerror(rc));
		return EDGECTL_EDAEMON;
	}
	rc = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? EDGECTL_OK
									 : EDGECTL_EDAEMON;
	free(text);
	return rc;
}

int edgectl_cmd_broker_config(int argc, char **argv)
{
	const char *port = NULL, *bind = NULL, *nodes = NULL, *dir = NULL, *size = NULL;
	const char *pwfile = NULL, *aclfile = NULL, *tls_port = NULL, *tls_bind = NULL;
	const char *cafile = NULL, *certfile = NULL, *keyfile = NULL, *crlfile = NULL;
	const char *prefix = NULL, *gw_user = NULL, *id_dir = NULL, *pid_file = NULL;
	const char *unix_socket = NULL, *clientid_plugin = NULL;
	const char *br_id = NULL, *br_name = NULL, *br_prefix = NULL, *br_topics = NULL;
	const char *br_user = NULL, *br_pwfile = NULL, *br_cafile = NULL, *br_certfile = NULL;
	const char *br_keyfile = NULL, *br_queue = NULL;
	bool br_allow_plain = false;
	char id_paths[6][PATH_MAX];
	bool require_cert = false, allow_plain = false, print_acl = false;
	const struct edgectl_opt opts[] = {
		{ "--port", &port },
		{ "--bind", &bind },
		{ "--max-nodes", &nodes },
		{ "--persistence-dir", &dir },
		{ "--message-size-limit", &size },
		{ "--password-file", &pwfile },
		{ "--acl-file", &aclfile },
		{ "--tls-listener", &tls_port },
		{ "--tls-bind", &tls_bind },
		{ "--cafile", &cafile },
		{ "--certfile", &certfile },
		{ "--keyfile", &keyfile },
		{ "--crlfile", &crlfile },
		{ "--prefix", &prefix },
		{ "--gateway-user", &gw_user },
		{ "--identity-dir", &id_dir },
		{ "--pid-file", &pid_file },
		{ "--unix-socket", &unix_socket },
		{ "--clientid-plugin", &clientid_plugin },
		{ "--bridge-gateway-id", &br_id },
		{ "--bridge-name", &br_name },
		{ "--bridge-prefix", &br_prefix },
		{ "--bridge-topics", &br_topics },
		{ "--bridge-user", &br_user },
		{ "--bridge-password-file", &br_pwfile },
		{ "--bridge-cafile", &br_cafile },
		{ "--bridge-certfile", &br_certfile },
		{ "--bridge-keyfile", &br_keyfile },
		{ "--bridge-queue", &br_queue },
	};
	struct broker_opts o = {
		.port = 1883,
		.bind = "127.0.0.1",
		.max_nodes = 10000,
		.persistence_dir = "/var/lib/mosquitto",
		/* The largest publish: an offload request at edged's default
		 * offload.max_payload_bytes (65536), above an OTA frame of
		 * edged's (node JSON messages are refused above
		 * EDGE_MSG_MAX_PAYLOAD by edged itself). */
		.message_size_limit = BROKER_DEFAULT_MESSAGE_LIMIT,
	};
	unsigned long long v;
	int npos;
	int rc;

	argc = take_flags(argc, argv, &require_cert, &allow_plain, &print_acl);
	argc = take_bridge_args(argc, argv, o.bridge_addr, &o.bridge_naddr, &br_allow_plain);
	if (argc < 0)
		return EDGECTL_EUSAGE;
	rc = edgectl_parse_args(argc, argv, broker_usage, opts, (int)(sizeof opts / sizeof opts[0]),
				NULL, 0, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (print_acl) {
		if (port || bind || nodes || dir || size || pwfile || aclfile || tls_port ||
		    tls_bind || cafile || certfile || keyfile || crlfile || require_cert ||
		    allow_plain || id_dir || pid_file || unix_socket || clientid_plugin ||
		    o.bridge_naddr || br_allow_plain || br_id || br_name || br_prefix ||
		    br_topics || br_user || br_pwfile || br_cafile || br_certfile || br_keyfile ||
		    br_queue) {
			fprintf(stderr, "edgectl broker-config: --print-acl takes only --prefix "
					"and --gateway-user\n");
			return EDGECTL_EUSAGE;
		}
		return broker_acl_mode(prefix, gw_user);
	}
	/* --prefix is the node topic prefix, which the bridge's topics need too. */
	if (gw_user || (prefix && !o.bridge_naddr)) {
		fprintf(stderr, "edgectl broker-config: --gateway-user goes with --print-acl, "
				"--prefix with --print-acl or --bridge-address\n");
		return EDGECTL_EUSAGE;
	}
	if (!o.bridge_naddr && (br_allow_plain || br_id || br_name || br_prefix || br_topics ||
				br_user || br_pwfile || br_cafile || br_certfile || br_keyfile ||
				br_queue)) {
		fprintf(stderr, "edgectl broker-config: the --bridge-* options need at least one "
				"--bridge-address\n");
		return EDGECTL_EUSAGE;
	}
	if (o.bridge_naddr &&
	    !bridge_setup(&o, br_id, br_name, br_prefix, prefix, br_topics, br_user, br_pwfile,
			  br_cafile, br_certfile, br_keyfile, br_queue, br_allow_plain))
		return EDGECTL_EUSAGE;
	if (port) {
		if (!parse_ull("--port", port, 1, 65535, &v))
			return EDGECTL_EUSAGE;
		o.port = (unsigned long)v;
	}
	if (nodes && !parse_ull("--max-nodes", nodes, 1, 10000000, &o.max_nodes))
		return EDGECTL_EUSAGE;
	if (size && !parse_ull("--message-size-limit", size, 1,
			       BROKER_PACKET_MAX - BROKER_PACKET_OVERHEAD, &o.message_size_limit))
		return EDGECTL_EUSAGE;
	if (bind) {
		if (!check_token("--bind", bind))
			return EDGECTL_EUSAGE;
		o.bind = bind;
	}
	/* Passwords cross the plain listener in clear. */
	if (!is_loopback(o.bind) && !allow_plain) {
		fprintf(stderr, "edgectl broker-config: --bind %s is not a loopback address: the "
				"plain listener would carry credentials in clear; use "
				"--tls-listener for the network, or --allow-plain-network\n", o.bind);
		return EDGECTL_EUSAGE;
	}
	if (dir) {
		if (!dir[0] || strpbrk(dir, "\r\n") || dir[0] == ' ' ||
		    strlen(dir) > PATH_MAX - 16) {
			fprintf(stderr, "edgectl broker-config: --persistence-dir must be a path\n");
			return EDGECTL_EUSAGE;
		}
		o.persistence_dir = dir;
	}
	if (pid_file) {
		if (!check_path("--pid-file", pid_file))
			return EDGECTL_EUSAGE;
		o.pid_file = pid_file;
	}
	/* sun_path holds 107 bytes; mosquitto's parser splits at blanks. */
	if (unix_socket) {
		if (unix_socket[0] != '/' || strlen(unix_socket) > 107 ||
		    strpbrk(unix_socket, " \t\r\n#")) {
			fprintf(stderr, "edgectl broker-config: --unix-socket must be an absolute "
					"path of at most 107 bytes without blanks\n");
			return EDGECTL_EUSAGE;
		}
		o.unix_socket = unix_socket;
	}
	/* broker-init's file names; an explicit option wins. */
	if (id_dir) {
		static const char *const names[] = { "passwd", "acl", "ca.crt", "broker.crt",
						     "broker.key", "ca.crl" };
		const char **slots[] = { &pwfile, &aclfile, &cafile, &certfile, &keyfile,
					 &crlfile };
		size_t n = strlen(id_dir);

		if (!check_path("--identity-dir", id_dir))
			return EDGECTL_EUSAGE;
		while (n > 1 && id_dir[n - 1] == '/')
			n--;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			/* The TLS files only for a TLS listener, the CRL for mutual TLS. */
			if ((i >= 2 && !tls_port) || (i == 5 && !require_cert) || *slots[i])
				continue;
			if (snprintf(id_paths[i], PATH_MAX, "%.*s/%s", (int)n, id_dir, names[i]) >=
			    PATH_MAX) {
				fprintf(stderr, "edgectl broker-config: --identity-dir is too long\n");
				return EDGECTL_EUSAGE;
			}
			*slots[i] = id_paths[i];
		}
	}
	if (!pwfile != !aclfile) {
		fprintf(stderr, "edgectl broker-config: --password-file and --acl-file go "
				"together\n");
		return EDGECTL_EUSAGE;
	}
	if (pwfile) {
		if (!check_path("--password-file", pwfile) || !check_path("--acl-file", aclfile))
			return EDGECTL_EUSAGE;
		o.password_file = pwfile;
		o.acl_file = aclfile;
	}
	/* Without a password file there is no username to compare with. */
	if (clientid_plugin) {
		if (!o.password_file) {
			fprintf(stderr, "edgectl broker-config: --clientid-plugin needs "
					"--password-file and --acl-file\n");
			return EDGECTL_EUSAGE;
		}
		if (!check_path("--clientid-plugin", clientid_plugin))
			return EDGECTL_EUSAGE;
		o.clientid_plugin = clientid_plugin;
	}
	if (tls_port) {
		if (!parse_ull("--tls-listener", tls_port, 1, 65535, &v))
			return EDGECTL_EUSAGE;
		o.tls_port = (unsigned long)v;
		if (o.tls_port == o.port) {
			fprintf(stderr, "edgectl broker-config: --tls-listener needs its own port\n");
			return EDGECTL_EUSAGE;
		}
		if (!o.password_file) {
			fprintf(stderr, "edgectl broker-config: --tls-listener needs "
					"--password-file and --acl-file\n");
			return EDGECTL_EUSAGE;
		}
		if (!cafile || !certfile || !keyfile) {
			fprintf(stderr, "edgectl broker-config: --tls-listener needs --cafile, "
					"--certfile and --keyfile\n");
			return EDGECTL_EUSAGE;
		}
		if (!check_path("--cafile", cafile) || !check_path("--certfile", certfile) ||
		    !check_path("--keyfile", keyfile) ||
		    (crlfile && !check_path("--crlfile", crlfile)) ||
		    (tls_bind && !check_token("--tls-bind", tls_bind)))
			return EDGECTL_EUSAGE;
		o.tls_bind = tls_bind;
		o.cafile = cafile;
		o.certfile = certfile;
		o.keyfile = keyfile;
		o.crlfile = crlfile;
		o.require_certificate = require_cert;
	} else if (tls_bind || cafile || certfile || keyfile || crlfile || require_cert) {
		fprintf(stderr, "edgectl broker-config: TLS options need --tls-listener\n");
		return EDGECTL_EUSAGE;
	}
	if (crlfile && !require_cert) {
		fprintf(stderr, "edgectl broker-config: --crlfile goes with "
				"--require-certificate\n");
		return EDGECTL_EUSAGE;
	}
	return broker_print(&o);
}
