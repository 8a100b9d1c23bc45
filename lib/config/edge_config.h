/* edged configuration: one table drives parsing, validation, defaults,
 * --check-config, --dump-config, the reference documentation (the comments
 * of config/edged.conf) and reload.
 *
 * File format (INI, like the shipped edged.conf):
 *   [section]            sections: log, paths, mqtt, registry, store, control,
 *                        anomaly, broker, ota
 *                        (a section may be reopened; a key may not repeat)
 *   key = value          value runs to the end of the line, surrounding
 *                        blanks trimmed; no quoting, no inline comments
 *                        (so passwords may contain '#' and ';')
 *   # comment / ; comment   whole lines only
 * Lines are at most 2047 characters; CRLF line ends and a UTF-8 BOM are
 * accepted. Booleans: true|false|yes|no|on|off|1|0; sizes take a k (KiB) or
 * M (MiB) suffix; modes are octal.
 * Unknown sections and keys, duplicate keys and out-of-range values are
 * errors. Error messages name FILE:LINE, the key, what is wrong and what is
 * allowed, e.g.
 *   /etc/edged/edged.conf:12: mqtt.port = 70000: must be an integer in 1..65535
 *
 * Typical use:
 *   edge_config *c = edge_config_new();
 *   if (!c) ...ENOMEM...
 *   rc = edge_config_load_file(c, path, err, sizeof err);   // + cross-key checks
 *   rc = edge_config_set(c, "mqtt.port", "1884", err, sizeof err); // overrides
 *   rc = edge_config_check(c, err, sizeof err);  // after the last set()
 *   const struct edge_settings *s = edge_config_settings(c);
 *   ... s->mqtt.port ...
 *
 * Reload: build a new edge_config the same way, then
 *   n = edge_config_reload_check(cur, next, msg, sizeof msg); // changed keys needing restart
 *   edge_config_keep_restart_only(next, cur);  // keep the old values of those
 * and swap. Not thread-safe; the settings are read-only between loads. */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "edge_error.h"

/* Buffer sizes (including the terminating NUL) of the string settings. */
#define EDGE_CONFIG_PATH_MAX 1024
#define EDGE_CONFIG_NAME_MAX 256
#define EDGE_CONFIG_SOCKET_PATH_MAX 108 /* sizeof sun_path */

/* All settings, plain data. Durations are integers in the unit their name
 * says (_s seconds, _ms milliseconds); sizes are bytes. Empty strings mean
 * "not set" where a key allows it. */
struct edge_settings {
	struct {
		int level;                      /* EDGE_LOG_ERR..EDGE_LOG_DEBUG */
		int bad_input_interval_s;       /* rate-limit window per device */
		int bad_input_burst;            /* lines per device per window */
		int bad_input_total_burst;      /* lines per window, all devices; 0 = no cap */
	} log;
	struct {
		char state_dir[EDGE_CONFIG_PATH_MAX];
		char runtime_dir[EDGE_CONFIG_PATH_MAX];
		char database[EDGE_CONFIG_PATH_MAX];       /* as configured */
		char control_socket[EDGE_CONFIG_PATH_MAX]; /* as configured */
		/* Derived by load/check (not keys): relative names resolved
		 * against state_dir / runtime_dir. */
		char database_file[EDGE_CONFIG_PATH_MAX];
		char control_socket_path[EDGE_CONFIG_SOCKET_PATH_MAX];
	} paths;
	struct {
		char host[EDGE_CONFIG_NAME_MAX];
		int port;
		char client_id[EDGE_CONFIG_NAME_MAX];
		char username[EDGE_CONFIG_NAME_MAX];   /* "" = anonymous */
		char password[EDGE_CONFIG_NAME_MAX];   /* secret */
		char password_file[EDGE_CONFIG_PATH_MAX]; /* "" = none */
		char tls_ca_file[EDGE_CONFIG_PATH_MAX]; /* "" = no TLS */
		char tls_cert_file[EDGE_CONFIG_PATH_MAX];
		char tls_key_file[EDGE_CONFIG_PATH_MAX];
		int keepalive_s;
		int reconnect_min_ms;
		int reconnect_max_ms;
		int outbox_max_messages;
		char topic_prefix[EDGE_CONFIG_NAME_MAX];
		size_t max_payload_bytes;
		size_t max_packet_bytes;       /* MQTT v5 Maximum Packet Size on CONNECT */
		int session_expiry_s;          /* 0 = clean session */
		/* Derived by load/check (not keys): the first line of
		 * password_file (secret; "" when password_file is unset),
		 * and that file's mode, for the permission warning. */
		char password_from_file[EDGE_CONFIG_NAME_MAX];
		unsigned password_file_mode;
	} mqtt;
	struct {
		int max_devices;
		int stale_after_missed_heartbeats;
		int default_heartbeat_interval_s;
		int persist_interval_s;        /* coalesced counter/last-seen writes */
		int summary_interval_s;        /* fleet-wide transition log lines */
		int admission;                 /* enum edge_config_admission */
	} registry;
	struct {
		int busy_timeout_ms;
		int group_commit_max_ops;
		int group_commit_max_delay_ms;
		int queue_max_ops;
		bool quick_check_on_start;
		size_t wal_max_bytes;          /* WAL checkpoint/size limit */
	} store;
	struct {
		int socket_mode;                        /* e.g. 0660 */
		char socket_group[EDGE_CONFIG_NAME_MAX]; /* "" = the daemon's group */
		char read_group[EDGE_CONFIG_NAME_MAX];   /* "" = none */
		char admin_group[EDGE_CONFIG_NAME_MAX];  /* "" = socket_group's members */
		int max_clients;
		size_t max_request_bytes;
		int client_timeout_ms;
		int request_timeout_ms;        /* whole request from its first byte */
	} control;
	struct {
		int max_pending_reports;       /* reports being stored at once */
		int store_high_water;          /* store queue depth that defers reports */
		int episode_min_events;        /* events that confirm an episode */
		int episode_quiet_s;           /* event-time silence that closes it */
		int retention_days;            /* events older than this are deleted */
		size_t max_db_bytes;           /* 0 = no size bound */
		int query_timeout_ms;          /* per query step */
		int query_max_rows;            /* rows examined per query step */
	} anomaly;
	struct {
		char identity_dir[EDGE_CONFIG_PATH_MAX]; /* "" = edged manages no identities */
		char pki_dir[EDGE_CONFIG_PATH_MAX];      /* as configured */
		int file_mode;                           /* passwd, acl, crl */
		char pid_file[EDGE_CONFIG_PATH_MAX];     /* "" = reload by the path unit */
		char node_url[EDGE_CONFIG_NAME_MAX];     /* "" = mqtt://mqtt.host:mqtt.port */
		int cert_days;
		/* Derived by check: pki_dir within paths.state_dir. */
		char pki_path[EDGE_CONFIG_PATH_MAX];
	} broker;
	struct {
		char trust_dir[EDGE_CONFIG_PATH_MAX];  /* "" = no trusted key */
		int threshold;                 /* distinct trusted signatures */
		char models_dir[EDGE_CONFIG_PATH_MAX]; /* as configured */
		int chunk_size;
		int window;
		size_t rate_bytes_per_s;       /* 0 = unlimited */
		bool campaign;
		int campaign_gather_ms;
		int max_transfers;             /* active at once */
		int offer_timeout_ms;
		int offer_tries;
		int stall_timeout_ms;
		int result_timeout_ms;
		int retry_interval_ms;
		int give_up_s;
		int rto_min_ms;
		int rto_max_ms;
		/* Derived by check: trust_dir and models_dir within
		 * paths.state_dir ("" when trust_dir is empty). */
		char trust_path[EDGE_CONFIG_PATH_MAX];
		char models_path[EDGE_CONFIG_PATH_MAX];
	} ota;
	struct {
		bool enabled;
		int workers;                   /* 0 = one per core */
		int queue_max;
		int node_queue_max;
		size_t memory_budget;
		size_t max_payload_bytes;
		int verify_permille;
		int mismatches_keep;
	} offload;
	struct {
		int node_timeout_s;
		int online_timeout_s;
		bool health;                   /* default of rollout start --health */
		bool auto_revert;
		int health_count;              /* enum edge_config_health_count */
		int health_alpha_ppm;
		int health_looks;
		int health_min_rate_percent;
		int health_min_ks_percent;
		int health_min_scores;
		int health_min_exposure_s;
		int health_baseline_s;
	} rollout;
	struct {
		char conninfo[EDGE_CONFIG_PATH_MAX];  /* libpq; "" = no forwarding */
		char gateway_id[EDGE_CONFIG_NAME_MAX];
		int batch_rows;
		int retry_min_ms;
		int retry_max_ms;
		int summary_interval_s;
		int timeout_s;
	} central;
};

/* rollout.health_count */
enum edge_config_health_count {
	EDGE_CONFIG_HEALTH_EPISODES,
	EDGE_CONFIG_HEALTH_EVENTS,
};

/* registry.admission */
enum edge_config_admission {
	EDGE_CONFIG_ADMIT_OPEN,        /* any id the broker lets in may register */
	EDGE_CONFIG_ADMIT_PROVISIONED, /* only ids provisioned with edgectl nodes provision */
};

typedef struct edge_config edge_config;

/* A config holding the defaults (already checked); the caller frees it.
 * NULL on ENOMEM. */
edge_config *edge_config_new(void);
void edge_config_free(edge_config *c); /* NULL-safe */

/* An independent copy of c; the caller frees it. NULL on ENOMEM. */
edge_config *edge_config_dup(const edge_config *c);

/* Borrowed; valid until c is freed or changed. */
const struct edge_settings *edge_config_settings(const edge_config *c);

/* Apply the file on top of the current values, then run the cross-key
 * checks (edge_config_check). All or nothing: on error c is unchanged and
 * err (may be NULL) holds one line without trailing newline.
 * Returns 0, EDGE_ECONFIG (bad content), -errno (file unreadable),
 * EDGE_ETOOBIG (over 1 MiB) or -ENOMEM. Logs a warning (group "config")
 * when the file holds mqtt.password and is world-readable, or when
 * mqtt.password_file is readable by its group or others. */
int edge_config_load_file(edge_config *c, const char *path, char *err,
			  size_t errlen) EDGE_WUR;

/* Same on a buffer; `name` (borrowed) stands for the file in messages.
 * The buffer need not be NUL-terminated; a NUL byte inside is an error. */
int edge_config_load_buffer(edge_config *c, const char *name, const char *buf,
			    size_t len, char *err, size_t errlen) EDGE_WUR;

/* Set one key by full name ("mqtt.port") from its textual form, with the
 * same per-key validation as the file (blanks around value trimmed). No cross-key checks: call
 * edge_config_check() after the last set. On error c is unchanged.
 * Returns 0 or EDGE_ECONFIG. */
int edge_config_set(edge_config *c, const char *name, const char *value,
		    char *err, size_t errlen) EDGE_WUR;

/* Cross-key checks (reconnect_min_ms <= reconnect_max_ms, TLS cert and key
 * together, the socket path fits sun_path, ...) and recomputation of the
 * derived paths. It also reads mqtt.password_file (a regular file; its
 * first line, at most 255 bytes, is the password; a relative name is taken
 * in $CREDENTIALS_DIRECTORY, systemd's LoadCredential=), so every load,
 * reload and edge_config_check() reads it again. Returns 0 or EDGE_ECONFIG. */
int edge_config_check(edge_config *c, char *err, size_t errlen) EDGE_WUR;

/* Current value of one key in its file form (secrets included: for
 * in-process use only). Returns 0, EDGE_ENOTFOUND or EDGE_ETOOBIG. */
int edge_config_get(const edge_config *c, const char *name, char *buf,
		    size_t len) EDGE_WUR;

/* Key flags. */
#define EDGE_CONFIG_RELOADABLE 0x1u /* applied on reload without restart */
#define EDGE_CONFIG_SECRET     0x2u /* never shown by dumps for edgectl */
#define EDGE_CONFIG_EMPTY_OK   0x4u /* empty value allowed ("not set") */

struct edge_config_key_info {
	const char *name;          /* "mqtt.port" */
	const char *section;       /* "mqtt" */
	const char *key;           /* "port" */
	const char *value;         /* current value in file form; a secret
				    * that is set reads "<hidden>" */
	const char *default_value; /* file form */
	const char *type;          /* "integer", "boolean", "string", "path",
				    * "enum", "duration_s", "duration_ms",
				    * "size", "mode" */
	const char *allowed;       /* "1..65535", "err|warning|...", ... */
	unsigned flags;            /* EDGE_CONFIG_* */
	const char *description;   /* one line */
};

/* Calls cb for every key in table order (all strings borrowed, valid during
 * the call). A nonzero return from cb stops and is returned; else 0. */
typedef int (*edge_config_foreach_fn)(const struct edge_config_key_info *info,
				      void *userdata);
int edge_config_foreach(const edge_config *c, edge_config_foreach_fn cb,
			void *userdata);

/* Write the config in the format it reads (loadable again). Without
 * include_secrets a secret that is set is written as a comment
 * "# password = <hidden>". Returns 0 or -errno from the stream. */
int edge_config_dump(const edge_config *c, FILE *out, bool include_secrets)
	EDGE_WUR;

/* Write the reference config (config/edged.conf): every key documented and
 * commented out at its default. Returns 0 or -errno. */
int edge_config_write_reference(FILE *out) EDGE_WUR;

/* Write the edged.conf(5) manual page (man/edged.conf.5, roff) from the same
 * table. Returns 0 or -errno. */
int edge_config_write_manpage(FILE *out) EDGE_WUR;

/* Advice on a configuration that loaded fine: settings that are valid but
 * likely not what was meant (e.g. a broker on another host, which the
 * shipped unit cannot reach without the TCP drop-in of docs/production.md,
 * or a client id other than the username). Calls cb once per item
 * with a one-line message (borrowed, valid during the call) and returns how
 * many there were. Never an error: edged --check-config prints them as
 * warnings and still exits 0. */
typedef void (*edge_config_advice_fn)(const char *msg, void *userdata);
int edge_config_advice(const edge_config *c, edge_config_advice_fn cb,
		       void *userdata);

/* True if host is what the TCP drop-in's IPAddressAllow=localhost admits: an address in
 * 127.0.0.0/8 (also IPv4-mapped), ::1, or the name "localhost". */
bool edge_config_host_is_loopback(const char *host);

/* Changed keys that are not reloadable, between the running config and a
 * freshly loaded one. Returns how many (0 = everything can be applied) and
 * lists their names, comma-separated, in msg (may be NULL; truncated with
 * "..." if short). */
int edge_config_reload_check(const edge_config *cur, const edge_config *next,
			     char *msg, size_t msglen);

/* Copy the values of the non-reloadable keys from cur into next (and
 * recompute the derived paths), so next can replace cur at once while
 * those keys wait for a restart. */
void edge_config_keep_restart_only(edge_config *next, const edge_config *cur);

#endif
