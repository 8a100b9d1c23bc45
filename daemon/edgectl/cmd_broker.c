/* edgectl broker-config: the mosquitto.conf edged is meant to run with.
 * Offline (no daemon): the one generator the scripts, the tests and an
 * operator use, so the broker's limits match the node protocol and the
 * fleet. The output is a table of sections of directives, each with the
 * reason for its value; access control is a later section of the same
 * table. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_node_msg.h"
#include "edgectl.h"

/* mosquitto's hard limit for max_packet_size (the MQTT remaining length). */
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
};

/* One directive: its value is printed by value() into buf, and comment says
 * why it has that value. */
struct broker_line {
	const char *directive;
	void (*value)(const struct broker_opts *o, char *buf, size_t cap);
	const char *comment;
};

struct broker_section {
	const char *title;
	const struct broker_line *lines;
	size_t nlines;
};

static void v_listener(const struct broker_opts *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lu %s", o->port, o->bind);
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

static const struct broker_line listener_lines[] = {
	{ "listener", v_listener,
	  "Where nodes and edged connect (MQTT v5; TLS is configured per listener)." },
	{ "set_tcp_nodelay", v_true,
	  "Small packets go out at once: without it every TLS connect stalls ~46 ms." },
	{ "max_connections", v_unlimited,
	  "No cap here: edged's registry.max_devices bounds the fleet." },
};

static const struct broker_line access_lines[] = {
	{ "allow_anonymous", v_true,
	  "Anonymous clients are accepted: no per-node credentials or ACL yet, so\n"
	  "# keep the listener on a local or trusted address." },
};

static const struct broker_line persistence_lines[] = {
	{ "persistence", v_true,
	  "Keep sessions and retained messages across a broker restart: edged's\n"
	  "# session (with what was queued for it) and every node's retained status." },
	{ "persistence_location", v_persistence_dir,
	  "Directory of mosquitto.db; must exist and be writable by the broker." },
	{ "autosave_interval", v_autosave,
	  "Seconds between saves while running (a clean stop always saves): a crash\n"
	  "# of the broker loses at most this much; shorter means more flash wear." },
	{ "persistent_client_expiration", v_client_expiration,
	  "Forget sessions of MQTT 3.1.1 clients gone for a day (MQTT v5 clients,\n"
	  "# edged included, state their own Session Expiry Interval)." },
};

static const struct broker_line limit_lines[] = {
	{ "max_queued_messages", v_max_queued,
	  "Per client: when edged (re)subscribes the broker replays one retained\n"
	  "# status per node and queues what nodes sent while edged was away; 2 x\n"
	  "# the fleet + 1000 holds both (the default of 1000 drops the rest)." },
	{ "max_inflight_messages", v_max_inflight,
	  "QoS 1 messages a client may have unacknowledged towards the broker (and\n"
	  "# towards MQTT 3.1.1 clients; v5 clients such as edged state their own\n"
	  "# Receive Maximum): sized from the fleet, 20 to 1000." },
	{ "message_size_limit", v_message_size,
	  "Largest payload accepted: the node protocol's limit unless overridden\n"
	  "# (exact, where max_packet_size also counts topic and properties; mosquitto\n"
	  "# notes at start that it prefers the latter: both are meant)." },
	{ "max_packet_size", v_packet_size,
	  "Largest packet accepted: the payload limit plus room for topic and\n"
	  "# properties. edged declares its own Maximum Packet Size when it connects." },
};

static const struct broker_line log_lines[] = {
	{ "log_dest", v_log_dest, "To the journal when run by systemd." },
	{ "log_type", v_log_error, NULL },
	{ "log_type", v_log_warning, NULL },
	{ "log_type", v_log_notice, NULL },
	{ "connection_messages", v_false,
	  "One line per connect of 10,000 nodes is noise; edged logs presence." },
};

#define SECTION(t, l) { t, l, sizeof l / sizeof l[0] }
static const struct broker_section broker_sections[] = {
	SECTION("Listener", listener_lines),
	SECTION("Access", access_lines),
	SECTION("Persistence", persistence_lines),
	SECTION("Limits", limit_lines),
	SECTION("Logging", log_lines),
};

static const char broker_usage[] =
	"Usage: edgectl broker-config [--port P] [--bind ADDR] [--max-nodes N]\n"
	"                             [--persistence-dir DIR] [--message-size-limit BYTES]\n"
	"\n"
	"Print a mosquitto.conf for the broker edged and its nodes use (offline: no\n"
	"daemon needed). Defaults: --port 1883, --bind 127.0.0.1, --max-nodes 10000,\n"
	"--persistence-dir /var/lib/mosquitto, --message-size-limit 4096 (the node\n"
	"protocol's payload limit). --max-nodes should match registry.max_devices.\n"
	"\n"
	"The output is a whole file for `mosquitto -c FILE`, not a conf.d snippet\n"
	"(Debian's own mosquitto.conf already sets the persistence options).\n";

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
	char value[512];

	printf("# mosquitto.conf generated by edgectl broker-config\n"
	       "# (port %lu, bind %s, up to %llu nodes, payloads up to %llu bytes)\n",
	       o->port, o->bind, o->max_nodes, o->message_size_limit);
	for (size_t s = 0; s < sizeof broker_sections / sizeof broker_sections[0]; s++) {
		const struct broker_section *sec = &broker_sections[s];

		printf("\n# ---- %s\n", sec->title);
		for (size_t i = 0; i < sec->nlines; i++) {
			const struct broker_line *l = &sec->lines[i];

			l->value(o, value, sizeof value);
			if (l->comment)
				printf("# %s\n", l->comment);
			printf("%s %s\n", l->directive, value);
		}
	}
	return EDGECTL_OK;
}

int edgectl_cmd_broker_config(int argc, char **argv)
{
	const char *port = NULL, *bind = NULL, *nodes = NULL, *dir = NULL, *size = NULL;
	const struct edgectl_opt opts[] = {
		{ "--port", &port },
		{ "--bind", &bind },
		{ "--max-nodes", &nodes },
		{ "--persistence-dir", &dir },
		{ "--message-size-limit", &size },
	};
	struct broker_opts o = {
		.port = 1883,
		.bind = "127.0.0.1",
		.max_nodes = 10000,
		.persistence_dir = "/var/lib/mosquitto",
		.message_size_limit = EDGE_MSG_MAX_PAYLOAD,
	};
	unsigned long long v;
	int npos;
	int rc = edgectl_parse_args(argc, argv, broker_usage, opts,
				    (int)(sizeof opts / sizeof opts[0]), NULL, 0, &npos);

	if (rc < 0)
		return edgectl_parse_exit(rc);
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
	/* One token each in the file: a blank or a newline would change its
	 * meaning. */
	if (bind) {
		if (!bind[0] || strpbrk(bind, " \t\r\n#")) {
			fprintf(stderr, "edgectl broker-config: --bind must be one address\n");
			return EDGECTL_EUSAGE;
		}
		o.bind = bind;
	}
	if (dir) {
		if (!dir[0] || strpbrk(dir, "\r\n") || dir[0] == ' ' ||
		    strlen(dir) > PATH_MAX - 16) {
			fprintf(stderr, "edgectl broker-config: --persistence-dir must be a path\n");
			return EDGECTL_EUSAGE;
		}
		o.persistence_dir = dir;
	}
	return broker_print(&o);
}
