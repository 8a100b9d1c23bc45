/* edgectl broker-config: the mosquitto.conf edged is meant to run with.
 * Offline (no daemon): the one generator the scripts, the tests and an
 * operator use, so the broker's limits match the node protocol and the
 * fleet. The output is a table of sections of directives, each with the
 * reason for its value. Access control is mosquitto's password_file and
 * acl_file with pattern ACLs (docs/broker-security.md says why), and
 * --clientid-plugin loads broker/edged_clientid.c to refuse a client id
 * other than the username;
 * --print-acl prints that ACL file from the table of the node protocol's
 * topics below. */
#include <arpa/inet.h>
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

struct broker_section {
	const char *title;
	const struct broker_line *lines;
	size_t nlines;
	bool (*when)(const struct broker_opts *o); /* NULL = always */
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

static void v_tls_version(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "tlsv1.2");
}

static void v_true(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "true");
}

static void v_false(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "false");
}

static void v_persistence_dir(const struct broker_opts *o, char *buf, size_t cap)
{
	size_t n = strlen(o->persistence_dir);

	/* mosquitto appends the file name to this string as is. */
	snprintf(buf, cap, "%s%s", o->persistence_dir,
		 n > 0 && o->persistence_dir[n - 1] == '/' ? "" : "/");
}

static void v_autosave(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "300");
}

static void v_client_expiration(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "1d");
}

static void v_max_queued(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%llu", 2 * o->max_nodes + 1000);
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

static void v_unlimited(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "-1");
}

static void v_log_dest(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "stderr");
}

static void v_log_error(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "error");
}

static void v_log_warning(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "warning");
}

static void v_log_notice(const struct broker_opts *o, char *buf, size_t cap)
{
	(void)o;
	snprintf(buf, cap, "notice");
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
	  "# of the broker loses at most this much; shorter means more flash wear.", NULL },
	{ "persistent_client_expiration", v_client_expiration,
	  "Forget sessions of MQTT 3.1.1 clients gone for a day (MQTT v5 clients,\n"
	  "# edged included, state their own Session Expiry Interval).", NULL },
};

static const struct broker_line limit_lines[] = {
	{ "max_queued_messages", v_max_queued,
	  "Per client: when edged (re)subscribes the broker replays one retained\n"
	  "# status per node and queues what nodes sent while edged was away; 2 x\n"
	  "# the fleet + 1000 holds both (the default of 1000 drops the rest).", NULL },
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

#define SECTION(t, l, w) { t, l, sizeof l / sizeof l[0], w }
static const struct broker_section broker_sections[] = {
	SECTION("Listener", listener_lines, NULL),
	SECTION("Unix socket listener", unix_lines, w_unix),
	SECTION("TLS listener", tls_lines, w_tls),
	SECTION("Access", access_lines, NULL),
	SECTION("Persistence", persistence_lines, NULL),
	SECTION("Limits", limit_lines, NULL),
	SECTION("Logging", log_lines, NULL),
	SECTION("Process", process_lines, w_pid),
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
	char value[PATH_MAX + 64]; /* a path, or a listener line */

	printf("# mosquitto.conf generated by edgectl broker-config\n"
	       "# (port %lu, bind %s, up to %llu nodes, payloads up to %llu bytes)\n",
	       o->port, o->bind, o->max_nodes, o->message_size_limit);
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
	rc = edgectl_parse_args(argc, argv, broker_usage, opts, (int)(sizeof opts / sizeof opts[0]),
				NULL, 0, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (print_acl) {
		if (port || bind || nodes || dir || size || pwfile || aclfile || tls_port ||
		    tls_bind || cafile || certfile || keyfile || crlfile || require_cert ||
		    allow_plain || id_dir || pid_file || unix_socket || clientid_plugin) {
			fprintf(stderr, "edgectl broker-config: --print-acl takes only --prefix "
					"and --gateway-user\n");
			return EDGECTL_EUSAGE;
		}
		return broker_acl_mode(prefix, gw_user);
	}
	if (prefix || gw_user) {
		fprintf(stderr, "edgectl broker-config: --prefix and --gateway-user go with "
				"--print-acl\n");
		return EDGECTL_EUSAGE;
	}
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
