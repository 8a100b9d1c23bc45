/* The settings table: the single source of truth for every key. The
 * reference config (config/edged.conf) is generated from it, and a unit
 * test keeps the two in step. */
#include "edge_config_table.h"

#include <ctype.h>
#include <string.h>

#include "edge_ctl_frame.h"
#include "edge_log.h"
#include "edge_node_msg.h"

#define FIELD_OF(sec, key) (((struct edge_settings *)0)->sec.key)

/* _Generic makes a mismatch between a key's type and its field's C type a
 * compile error. */
#define NUM(sec, key_, type_, ctype, def_, lo, hi, flags_, doc_) \
	{ .section = #sec, .key = #key_, .name = #sec "." #key_, .type = type_, \
	  .offset = offsetof(struct edge_settings, sec.key_) + \
		    _Generic(FIELD_OF(sec, key_), ctype: 0), \
	  .size = sizeof FIELD_OF(sec, key_), .def = def_, .min = lo, \
	  .max = hi, .flags = flags_, .doc = doc_ }

#define INT(sec, key, def, lo, hi, flags, doc) \
	NUM(sec, key, EDGE__CFG_INT, int, def, lo, hi, flags, doc)
#define SECONDS(sec, key, def, lo, hi, flags, doc) \
	NUM(sec, key, EDGE__CFG_DURATION_S, int, def, lo, hi, flags, doc)
#define MILLIS(sec, key, def, lo, hi, flags, doc) \
	NUM(sec, key, EDGE__CFG_DURATION_MS, int, def, lo, hi, flags, doc)
#define SIZE(sec, key, def, lo, hi, flags, doc) \
	NUM(sec, key, EDGE__CFG_SIZE, size_t, def, lo, hi, flags, doc)
#define MODE(sec, key, def, flags, doc) \
	NUM(sec, key, EDGE__CFG_MODE, int, def, 0, 0777, flags, doc)
#define BOOL(sec, key, def, flags, doc) \
	NUM(sec, key, EDGE__CFG_BOOL, bool, def, 0, 1, flags, doc)

#define ENUM(sec, key_, def_, values, flags_, doc_) \
	{ .section = #sec, .key = #key_, .name = #sec "." #key_, \
	  .type = EDGE__CFG_ENUM, \
	  .offset = offsetof(struct edge_settings, sec.key_) + \
		    _Generic(FIELD_OF(sec, key_), int: 0), \
	  .size = sizeof FIELD_OF(sec, key_), .def = def_, .enums = values, \
	  .flags = flags_, .doc = doc_ }

/* Strings: length range 1..size-1, or 0..size-1 with EDGE_CONFIG_EMPTY_OK. */
#define TEXT(sec, key_, type_, def_, rule_, flags_, doc_) \
	{ .section = #sec, .key = #key_, .name = #sec "." #key_, .type = type_, \
	  .offset = offsetof(struct edge_settings, sec.key_) + \
		    _Generic(FIELD_OF(sec, key_), char *: 0), \
	  .size = sizeof FIELD_OF(sec, key_), .def = def_, \
	  .min = ((flags_) & EDGE_CONFIG_EMPTY_OK) ? 0 : 1, \
	  .max = (long long)sizeof FIELD_OF(sec, key_) - 1, .rule = rule_, \
	  .flags = flags_, .doc = doc_ }
#define STRING(sec, key, def, rule, flags, doc) \
	TEXT(sec, key, EDGE__CFG_STRING, def, rule, flags, doc)
#define PATH(sec, key, def, flags, doc) \
	TEXT(sec, key, EDGE__CFG_PATH, def, NULL, flags, doc)

#define R EDGE_CONFIG_RELOADABLE
#define SECRET EDGE_CONFIG_SECRET
#define EMPTY EDGE_CONFIG_EMPTY_OK
#define ABS EDGE__CFG_ABSOLUTE

static const struct edge__cfg_enum_value admissions[] = {
	{ "open", EDGE_CONFIG_ADMIT_OPEN },
	{ "provisioned", EDGE_CONFIG_ADMIT_PROVISIONED },
	{ NULL, 0 },
};

static const struct edge__cfg_enum_value health_counts[] = {
	{ "episodes", EDGE_CONFIG_HEALTH_EPISODES },
	{ "events", EDGE_CONFIG_HEALTH_EVENTS },
	{ NULL, 0 },
};

static const struct edge__cfg_enum_value log_levels[] = {
	{ "err", EDGE_LOG_ERR },
	{ "warning", EDGE_LOG_WARNING },
	{ "notice", EDGE_LOG_NOTICE },
	{ "info", EDGE_LOG_INFO },
	{ "debug", EDGE_LOG_DEBUG },
	{ NULL, 0 },
};

/* Nodes subscribe below the prefix, so it must be a plain topic: no
 * wildcards, no empty levels at either end. */
static const char *topic_prefix_rule(const struct edge__cfg_key *k,
				     const void *field)
{
	const char *v = field;
	size_t n = strlen(v);

	if (n == 0)
		return NULL; /* the length rule reports it */
	if (strpbrk(v, "+#"))
		return "must not contain the MQTT wildcards '+' or '#'";
	if (v[0] == '/' || v[n - 1] == '/')
		return "must not start or end with '/'";
	if (strstr(v, "//"))
		return "must not contain an empty level ('//')";
	return NULL;
}

/* central.gateway_id names the gateway in the central database and in the
 * upstream topics (site/<id>/...): one topic level, one identifier. */
static const char *gateway_id_rule(const struct edge__cfg_key *k, const void *field)
{
	const char *v = field;
	size_t n = strlen(v);

	if (n > 64)
		return "must be at most 64 characters";
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '_' && *v != '-')
			return "must consist of [A-Za-z0-9_-]";
	return NULL;
}

static const char *no_blank_rule(const struct edge__cfg_key *k,
				 const void *field)
{
	const char *v = field;

	for (; *v; v++)
		if (*v == ' ' || *v == '\t')
			return "must not contain blanks";
	return NULL;
}

const struct edge__cfg_section edge__cfg_sections[] = {
	{ "log", "Logging to the journal (stderr with <N> priority prefixes)." },
	{ "paths", "Where edged keeps its state and its control socket." },
	{ "mqtt", "Connection to the local MQTT broker (MQTT v5)." },
	{ "registry", "The registry of nodes." },
	{ "store", "The SQLite database and its writer thread." },
	{ "control", "The control socket used by edgectl." },
	{ "anomaly", "Anomaly reports from nodes: stored once, then acknowledged." },
	{ "broker", "The broker's node identities edged manages: passwords, access rules, node certificates (docs/broker-security.md)." },
	{ "ota", "Signed model updates: the trusted signing keys, the model store and the transfers to nodes (proto/ota/package.md, proto/ota/transfer.md)." },
	{ "offload", "Offloaded inference (proto/infer/offload.md): the worker pool that runs stored models for nodes, its queue and memory bounds, and shadow verification of the nodes' own results. Which models may be offloaded: 'edgectl offload enable'." },
	{ "rollout", "Staged rollouts (docs/rollouts.md): how long a stage waits for its nodes, and the model-aware health check of each soak. 'edgectl rollout start' may override health and auto_revert per rollout." },
	{ "central", "Forwarding the anomaly history, episodes and a periodic fleet summary into a central PostgreSQL shared by many gateways (docs/central.md), from the local database, exactly once, through outages of any length. The central schema: 'edgectl central init'." },
};
const size_t edge__cfg_nsections =
	sizeof edge__cfg_sections / sizeof edge__cfg_sections[0];

const struct edge__cfg_key edge__cfg_keys[] = {
	ENUM(log, level, "info", log_levels, R,
	     "Most verbose priority written to the journal."),
	SECONDS(log, bad_input_interval_s, "60", 1, 86400, R,
		"Window of the per-node limit on log lines about bad input."),
	INT(log, bad_input_burst, "5", 1, 1000, R,
	    "Log lines about bad input allowed per node and window; the rest are counted and reported as suppressed."),
	INT(log, bad_input_total_burst, "100", 0, 1000000, R,
	    "Log lines about bad input allowed per window across all nodes, against floods of made-up ids; 0 = no total limit."),

	PATH(paths, state_dir, "/var/lib/edged", ABS,
	     "Directory of the persistent state (the database)."),
	PATH(paths, runtime_dir, "/run/edged", ABS,
	     "Directory of runtime files (the control socket)."),
	PATH(paths, database, "edged.db", 0,
	     "SQLite database file; relative to state_dir unless absolute."),
	PATH(paths, control_socket, "edged.sock", 0,
	     "Control socket for edgectl; relative to runtime_dir unless absolute. The full path must fit in 107 bytes. The unit's ExecReload runs edgectl on the default /run/edged/edged.sock: another path needs a drop-in that overrides ExecReload."),

	STRING(mqtt, host, "/run/mosquitto-edged/mqtt.sock", no_blank_rule, 0,
	       "Broker host name or address, or the path of the broker's Unix socket when it begins with '/' (at most 107 bytes; mosquitto's 'listener 0 PATH'; leave mqtt.tls_* empty then). The shipped edged.service has no network (PrivateNetwork=yes, RestrictAddressFamilies=AF_UNIX), so it reaches the broker only over this socket; the mosquitto drop-in that edged ships gives edged's group access to the default path. A TCP broker (for development, or on another host) needs the drop-in of docs/production.md; edged --check-config warns when this is not a socket path, 127.0.0.0/8, ::1 or localhost."),
	INT(mqtt, port, "1883", 1, 65535, 0, "Broker TCP port; ignored with a Unix socket."),
	STRING(mqtt, client_id, "edged", no_blank_rule, 0,
	       "MQTT client identifier of edged (no blanks); must be unique on the broker."),
	STRING(mqtt, username, "", NULL, EMPTY,
	       "User name for the broker; empty = anonymous."),
	STRING(mqtt, password, "", NULL, EMPTY | SECRET,
	       "Password for the broker (needs username); never shown by edgectl or --dump-config."),
	PATH(mqtt, password_file, "", EMPTY,
	     "File whose first line is the broker password (needs username; not with password), read at start-up: a regular file, at most 255 bytes, best readable by edged only. A relative name is a systemd credential, looked up in $CREDENTIALS_DIRECTORY, and an error without it: the shipped edged.service passes /etc/credstore/edged-mqtt-password (root, mode 0600) as credential mqtt-password, so set password_file = mqtt-password. A changed file takes a restart."),
	PATH(mqtt, tls_ca_file, "", EMPTY | ABS,
	     "CA certificate file (PEM); setting it enables TLS to the broker."),
	PATH(mqtt, tls_cert_file, "", EMPTY | ABS,
	     "Client certificate file (PEM) for TLS client authentication; needs tls_key_file and tls_ca_file."),
	PATH(mqtt, tls_key_file, "", EMPTY | ABS,
	     "Private key file (PEM) of tls_cert_file."),
	SECONDS(mqtt, keepalive_s, "30", 5, 65535, 0,
		"MQTT keepalive interval."),
	MILLIS(mqtt, reconnect_min_ms, "200", 1, 3600000, R,
	       "Base of the full-jitter exponential reconnect backoff."),
	MILLIS(mqtt, reconnect_max_ms, "30000", 1, 3600000, R,
	       "Cap of the reconnect backoff; at least reconnect_min_ms."),
	INT(mqtt, outbox_max_messages, "1000", 0, 1000000, R,
	    "Publishes kept while disconnected; when full the oldest is dropped."),
	STRING(mqtt, topic_prefix, "edge/v1", topic_prefix_rule, 0,
	       "Topic prefix of the node subtrees (<prefix>/<id>/...): no wildcards, no '/' at either end."),
	SIZE(mqtt, max_payload_bytes, "4096", 64, EDGE_MSG_MAX_PAYLOAD, R,
	     "Largest node message accepted; bigger ones are rejected before parsing. The node protocol allows at most 4096."),
	SIZE(mqtt, max_packet_bytes, "69632", 1024, 268435455, 0,
	     "MQTT v5 Maximum Packet Size edged declares when it connects: the broker discards a larger packet for edged instead of sending it, so an oversized publish never reaches edged's memory. Must exceed max_payload_bytes plus topic and headers, and offload.max_payload_bytes plus 768 while offload is enabled."),
	SECONDS(mqtt, session_expiry_s, "600", 0, 86400, 0,
		"Session Expiry Interval of edged's own MQTT session: while edged restarts or reconnects within it, the broker queues what nodes publish for it (QoS 1). 0 = a clean session on every connect."),

	INT(registry, max_devices, "10000", 1, 1000000, 0,
	    "Most nodes in the registry; hellos from further nodes are refused."),
	INT(registry, stale_after_missed_heartbeats, "3", 1, 1000, R,
	    "A node turns stale after this many heartbeat intervals without news."),
	SECONDS(registry, default_heartbeat_interval_s, "10", 1, 86400, 0,
		"Heartbeat interval assumed for a node whose hello does not state one."),
	SECONDS(registry, persist_interval_s, "60", 1, 3600, R,
		"Heartbeat counters and last-seen times are kept in memory and written at most this often (state changes and capabilities at once, everything at shutdown); after a crash the stored registry is at most this old."),
	SECONDS(registry, summary_interval_s, "10", 1, 3600, R,
		"Fleet-wide presence changes are logged as one line of counts per interval; per-node lines are at debug level."),
	ENUM(registry, admission, "open", admissions, R,
	     "Which ids may register. open: any node the broker lets in. provisioned: only ids with an active identity from 'edgectl nodes provision'; a hello from any other id is refused not_allowed. A revoked node is refused either way."),

	MILLIS(store, busy_timeout_ms, "5000", 0, 600000, 0,
	       "SQLite busy timeout."),
	INT(store, group_commit_max_ops, "256", 1, 100000, 0,
	    "Most operations committed in one transaction."),
	MILLIS(store, group_commit_max_delay_ms, "20", 0, 10000, 0,
	       "Longest wait for more operations before a commit."),
	INT(store, queue_max_ops, "100000", 1, 10000000, 0,
	    "Most operations queued for the writer; beyond it submissions fail."),
	BOOL(store, quick_check_on_start, "true", 0,
	     "Run PRAGMA quick_check when opening the database."),
	SIZE(store, wal_max_bytes, "4194304", 65536, 1073741824, 0,
	     "Size the write-ahead log is held to: edged checkpoints it in the background once it passes half of this, truncates it when it passes all of it, and SQLite trims it back to this size after checkpoints."),

	MODE(control, socket_mode, "0660", 0,
	     "Permissions of the control socket (octal)."),
	STRING(control, socket_group, "", no_blank_rule, EMPTY,
	       "Group of the control socket file; its members may use the socket (besides root and edged's user): with the admin role while admin_group is empty, with the read role once it is set. Empty = edged's own group."),
	STRING(control, read_group, "", no_blank_rule, EMPTY,
	       "Group whose members get the read role on the control socket: status, devices, config, help. Empty = none. The socket file must let them connect (socket_group, socket_mode)."),
	STRING(control, admin_group, "", no_blank_rule, EMPTY,
	       "Group whose members get the admin role on the control socket: every command, including reload and devices remove. Empty = the socket group's members are admins. Root and edged's own user are always admins."),
	INT(control, max_clients, "16", 1, 1024, R,
	    "Most simultaneous edgectl connections. Root and edged's own user may open 2 more, so they get through even when every slot is taken."),
	SIZE(control, max_request_bytes, "65536", 1024, EDGE_CTL_REQUEST_MAX, 0,
	     "Largest control request accepted; the control protocol allows at most 65536."),
	MILLIS(control, client_timeout_ms, "30000", 100, 3600000, R,
	       "Idle control connections are closed after this time."),
	MILLIS(control, request_timeout_ms, "5000", 100, 600000, R,
	       "A request must arrive whole within this time of its first byte; a slower client is answered 'timeout' and closed."),

	INT(anomaly, max_pending_reports, "1024", 1, 65536, R,
	    "Most reports being stored at once (a slot is about 13 KB, allocated on first use): enough for two group commits in flight at a few thousand reports a second. A report beyond it is not acknowledged (the node sends it again) and counted deferred."),
	INT(anomaly, store_high_water, "2048", 1, 10000000, R,
	    "Reports are deferred (not acknowledged, sent again by the node) while more than this many operations wait for the database writer."),
	INT(anomaly, episode_min_events, "3", 1, 1000000, R,
	    "Events of one device and label an episode needs to be confirmed; 1 = every episode is confirmed at its first event."),
	SECONDS(anomaly, episode_quiet_s, "300", 1, 2592000, R,
		"An episode closes once its device reported no event of its label for this long (event time); a later event opens a new one."),
	INT(anomaly, retention_days, "365", 1, 36500, R,
	    "Events, episodes and hourly rollups older than this many days (event time) are deleted, a small batch at a time."),
	SIZE(anomaly, max_db_bytes, "2147483648", 0, 1099511627776LL, R,
	     "Bound on the database's used size: beyond it the oldest events are deleted, a small batch at a time, until it fits (rollups stay, so long-range statistics remain). 0 = no size bound; the age bound still applies."),
	MILLIS(anomaly, query_timeout_ms, "10000", 100, 600000, R,
	       "Longest time one anomaly query (one page of a list or an export, a statistic) may run on its read-only connection; beyond it the query stops with 'budget'."),
	INT(anomaly, query_max_rows, "2000000", 1000, 1000000000, R,
	    "Most database rows one anomaly query (one page of a list or an export, a statistic) may examine; beyond it the query stops with 'budget'. Narrow the filter or the time range."),

	PATH(broker, identity_dir, "", EMPTY | ABS,
	     "Directory of the broker's identity files that edged writes: passwd (node passwords, mosquitto_passwd format), acl (the topic rules), ca.crl (revoked node certificates), and reload (touched after every change). Created with 'edgectl broker-init'. Empty = edged manages no node identities, and 'edgectl nodes provision' is refused."),
	PATH(broker, pki_dir, "pki", 0,
	     "Directory of the gateway CA (ca.key, ca.crt) that signs node certificates; relative to paths.state_dir. The key never leaves it."),
	MODE(broker, file_mode, "0640", 0,
	     "Permissions of the files edged writes into broker.identity_dir (octal); the broker must be able to read them (group mosquitto on the directory, see docs/broker-security.md)."),
	PATH(broker, pid_file, "", EMPTY | ABS,
	     "The broker's pid file: after each change edged sends the broker SIGHUP to reload its files (edged must be allowed to signal it: same user, as in scripts/run.sh). Empty = edged only touches broker.identity_dir/reload and the shipped edged-broker-reload.path unit reloads mosquitto."),
	STRING(broker, node_url, "", no_blank_rule, EMPTY,
	       "Where nodes reach the broker, written into every provisioning bundle: mqtt://HOST:PORT or mqtts://HOST:PORT (TLS). Empty = mqtt://mqtt.host:mqtt.port, which needs a network mqtt.host: with a Unix socket (the shipped setup) and identity_dir set, this must be set."),
	INT(broker, cert_days, "3650", 1, 36500, R,
	    "Validity of the node certificates 'edgectl nodes provision --tls-cert' issues, in days."),

	PATH(ota, trust_dir, "", EMPTY | R,
	     "Directory of the trusted model-signing public keys: every *.pub file in it (PEM, from 'edgectl keys generate'). Relative to paths.state_dir unless absolute. Empty, missing or without a key = no trusted key: models.add and ota.send are refused with no_trust, never accepted unverified. Re-read on reload."),
	INT(ota, threshold, "1", 1, 8, R,
	    "Distinct trusted keys whose signatures a package needs."),
	PATH(ota, models_dir, "models", 0,
	     "Directory of the stored packages (<digest>.pkg, content-addressed); relative to paths.state_dir unless absolute."),
	INT(ota, chunk_size, "1024", 64, 16384, R,
	    "Model bytes per chunk frame of a new transfer (ota.send may override it); a node that takes less says so in its accept."),
	INT(ota, window, "16", 1, 256, R,
	    "Most chunks in flight to one node of a new transfer (capped by the node's own window)."),
	SIZE(ota, rate_bytes_per_s, "1048576", 0, 1000000000, R,
	     "Bound on all OTA bytes edged publishes per second, over every transfer (a campaign chunk counts once): 0 = unlimited, else at least 1024."),
	BOOL(ota, campaign, "true", R,
	     "A transfer to more than one node publishes each chunk once on the transfer's campaign topic and repairs gaps by unicast."),
	MILLIS(ota, campaign_gather_ms, "2000", 0, 60000, R,
	       "How long a campaign waits for the offered nodes to accept before its pass starts."),
	INT(ota, max_transfers, "8", 1, 64, R,
	    "Most transfers running at once; ota.send beyond it is refused busy."),
	MILLIS(ota, offer_timeout_ms, "5000", 100, 600000, R,
	       "An unanswered offer is sent again after this time."),
	INT(ota, offer_tries, "3", 1, 100, R,
	    "Offers without an answer before a node counts as stalled."),
	MILLIS(ota, stall_timeout_ms, "30000", 100, 3600000, R,
	       "A node whose acks make no progress for this long is stalled (offered again later)."),
	MILLIS(ota, result_timeout_ms, "60000", 100, 3600000, R,
	       "Longest wait for a node's result once it holds every chunk."),
	MILLIS(ota, retry_interval_ms, "60000", 100, 86400000, R,
	       "A stalled node is offered again (resuming) after this time, or at once when it comes back online."),
	SECONDS(ota, give_up_s, "86400", 1, 2592000, R,
		"A node that makes no progress this long (offline, no answer to offers, stalled) fails with reason timeout, so a node that never comes back does not hold its transfer open."),
	MILLIS(ota, rto_min_ms, "200", 10, 60000, R,
	       "Lower bound of the per-node retransmission timeout."),
	MILLIS(ota, rto_max_ms, "10000", 100, 600000, R,
	       "Upper bound of the per-node retransmission timeout; at least rto_min_ms."),

	BOOL(offload, enabled, "true", 0,
	     "Run the offload service: requests on <prefix>/<id>/infer/req for enabled models are answered, verify messages checked. false = such messages are counted and dropped."),
	INT(offload, workers, "0", 0, 256, 0,
	    "Inference worker threads; 0 = one per online core."),
	INT(offload, queue_max, "1024", 1, 1000000, 0,
	    "Requests queued at once, all nodes; beyond it a request is answered busy."),
	INT(offload, node_queue_max, "64", 1, 1000000, 0,
	    "Requests of one node queued at once; beyond it that node's requests are answered busy, so a flooding node cannot hold the queue."),
	SIZE(offload, memory_budget, "268435456", 65536, 68719476736LL, 0,
	     "Bytes of loaded interpreters over all workers (model, arena, persistent buffers); the least recently used idle one is unloaded first."),
	SIZE(offload, max_payload_bytes, "65536", 1024, 16777216, 0,
	     "Largest offload request or verify message accepted (binary, separate from mqtt.max_payload_bytes): a 96x96x3 image is 27648 bytes. mqtt.max_packet_bytes must exceed it by 768."),
	INT(offload, verify_permille, "0", 0, 1000, R,
	    "Share of their own inferences (per thousand) every node is asked, in its registered message, to send as infer/verify for a bit-exact check; 0 = shadow verification off."),
	INT(offload, mismatches_keep, "256", 1, 100000, R,
	    "Shadow-verification mismatches kept as evidence for 'edgectl offload mismatches' (in memory, newest first)."),

	SECONDS(rollout, node_timeout_s, "3600", 1, 2592000, R,
		"A node of a stage not decided this long after its stage started (offline, retried whenever it comes back, or stalled) fails the stage with not_online (or transfer_failed when it is online), so one absent node does not hold a rollout."),
	SECONDS(rollout, online_timeout_s, "300", 1, 86400, R,
		"After a node reports its new model activated, it must be online saying hello with that model within this time, else it fails with not_online."),
	BOOL(rollout, health, "true", R,
	     "Model-aware health check during each soak: the stage's anomaly rate and scores under the new model against the same nodes' history and the nodes not yet updated (docs/rollouts.md). Default of 'rollout start --health'."),
	BOOL(rollout, auto_revert, "false", R,
	     "When a stage's health check halts a rollout, send that stage's nodes back to their previous model at once (as 'rollout revert'). Default of 'rollout start --auto-revert'."),
	ENUM(rollout, health_count, "episodes", health_counts, R,
	     "What the rate test counts: episodes (anomaly.episode_* group a burst into one; bursts would otherwise overdisperse the counts and raise false alarms) or events."),
	INT(rollout, health_alpha_ppm, "1000", 1, 500000, R,
	    "False-alarm probability of one stage's soak, in parts per million (1000 = 0.1 %), split by Bonferroni over its tests and looks."),
	INT(rollout, health_looks, "4", 1, 100, R,
	    "Health evaluations per soak, evenly spaced, the last at its end; the first one that halts stops the soak."),
	INT(rollout, health_min_rate_percent, "150", 100, 100000, R,
	    "Halt on the rate only when the new model's rate is at least this percent of the baseline's (and the test is significant): a large fleet makes tiny harmless differences significant."),
	INT(rollout, health_min_ks_percent, "10", 0, 99, R,
	    "Halt on the scores only when the Kolmogorov-Smirnov distance exceeds this percent (and the test is significant)."),
	INT(rollout, health_min_scores, "50", 1, 1000000000, R,
	    "Scores each side needs before the score test runs."),
	SECONDS(rollout, health_min_exposure_s, "3600", 1, 31536000, R,
		"Node-seconds of observation each side needs before the rate test runs (3600 = one node-hour)."),
	SECONDS(rollout, health_baseline_s, "86400", 60, 31536000, R,
		"How far back before its stage started a node's own history under the old model is read."),

	STRING(central, conninfo, "", NULL, EMPTY,
	       "libpq connection string of the central database, e.g. 'host=central.example port=5432 dbname=edged user=site17 sslmode=verify-full sslrootcert=/etc/edged/central-ca.crt passfile=/etc/edged/pgpass' (keep the password in a passfile, not here). Empty = no forwarding. Needs gateway_id."),
	STRING(central, gateway_id, "", gateway_id_rule, EMPTY,
	       "This gateway's name in the central database and the upstream topics (site/<gateway_id>/...): [A-Za-z0-9_-], at most 64, unique among the gateways sharing the database."),
	INT(central, batch_rows, "500", 1, 10000, 0,
	    "Rows of each kind (events, episodes, summaries) per forwarded batch; one batch is one central transaction."),
	MILLIS(central, retry_min_ms, "1000", 100, 3600000, 0,
	       "First wait after a failed connection or batch; doubled after each further failure."),
	MILLIS(central, retry_max_ms, "60000", 100, 3600000, 0,
	       "Longest wait between retries; at least retry_min_ms."),
	SECONDS(central, summary_interval_s, "300", 1, 86400, 0,
		"A fleet summary (nodes by state, inferences and anomalies of the day, open episodes) is stored for forwarding this often."),
	SECONDS(central, timeout_s, "30", 1, 3600, 0,
		"Bound on connecting to the central database and on each of its statements; beyond it the batch fails and is retried."),
};
const size_t edge__cfg_nkeys = sizeof edge__cfg_keys / sizeof edge__cfg_keys[0];

_Static_assert(sizeof edge__cfg_keys / sizeof edge__cfg_keys[0] <=
	       EDGE__CFG_MAX_KEYS, "raise EDGE__CFG_MAX_KEYS");

const struct edge__cfg_key *edge__cfg_find(const char *section, const char *key)
{
	for (size_t i = 0; i < edge__cfg_nkeys; i++)
		if (strcmp(edge__cfg_keys[i].section, section) == 0 &&
		    strcmp(edge__cfg_keys[i].key, key) == 0)
			return &edge__cfg_keys[i];
	return NULL;
}

const struct edge__cfg_key *edge__cfg_find_name(const char *name)
{
	for (size_t i = 0; i < edge__cfg_nkeys; i++)
		if (strcmp(edge__cfg_keys[i].name, name) == 0)
			return &edge__cfg_keys[i];
	return NULL;
}

const struct edge__cfg_section *edge__cfg_find_section(const char *name)
{
	for (size_t i = 0; i < edge__cfg_nsections; i++)
		if (strcmp(edge__cfg_sections[i].name, name) == 0)
			return &edge__cfg_sections[i];
	return NULL;
}
