/* Rules that involve more than one key, and the derived paths.
 *
 * The keys of one rule must all be reloadable or all need a restart:
 * edge_config_keep_restart_only() combines the running values of the
 * restart-only keys with the new reloadable ones without checking again. */
#include "edge_config_table.h"

#include <stdio.h>
#include <string.h>

/* "FILE:LINE: " when the key was set in the file, "FILE: " when only the
 * file is known, "" for settings made through edge_config_set(). */
static const char *where(char *buf, size_t len, const char *file,
			 const unsigned *lines, const char *name)
{
	const struct edge__cfg_key *k = edge__cfg_find_name(name);
	unsigned line = (lines && k) ? lines[k - edge__cfg_keys] : 0;

	if (!file)
		snprintf(buf, len, "%s", "");
	else if (line)
		snprintf(buf, len, "%s:%u: ", file, line);
	else
		snprintf(buf, len, "%s: ", file);
	return buf;
}

/* The first of two keys that the file set, for locating an error. */
static const char *either(const unsigned *lines, const char *a, const char *b)
{
	const struct edge__cfg_key *ka = edge__cfg_find_name(a);

	if (lines && ka && lines[ka - edge__cfg_keys])
		return a;
	return b;
}

/* Two settings out of order: "<where>a = x exceeds b = y", located at
 * whichever of them the file set. */
static int order_error(char *err, size_t errlen, const char *file,
		       const unsigned *lines, const char *a, int va,
		       const char *b, int vb)
{
	char at[EDGE_CONFIG_PATH_MAX + 32];

	return edge__cfg_error(err, errlen, "%s%s = %d exceeds %s = %d",
			       where(at, sizeof at, file, lines, either(lines, a, b)),
			       a, va, b, vb);
}

static int join(char *out, size_t len, const char *dir, const char *name)
{
	size_t dl = strlen(dir);
	int n;

	if (name[0] == '/')
		n = snprintf(out, len, "%s", name);
	else
		n = snprintf(out, len, "%s%s%s", dir,
			     dl && dir[dl - 1] == '/' ? "" : "/", name);
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

int edge__cfg_check(struct edge_settings *s, const char *file,
		    const unsigned *lines, char *err, size_t errlen)
{
	char at[EDGE_CONFIG_PATH_MAX + 32];
	const char *k;

	if (s->mqtt.reconnect_min_ms > s->mqtt.reconnect_max_ms)
		return order_error(err, errlen, file, lines,
				   "mqtt.reconnect_min_ms", s->mqtt.reconnect_min_ms,
				   "mqtt.reconnect_max_ms", s->mqtt.reconnect_max_ms);
	if (!s->mqtt.tls_cert_file[0] != !s->mqtt.tls_key_file[0]) {
		k = either(lines, "mqtt.tls_cert_file", "mqtt.tls_key_file");
		return edge__cfg_error(err, errlen,
				       "%smqtt.tls_cert_file and mqtt.tls_key_file must be set together",
				       where(at, sizeof at, file, lines, k));
	}
	if (s->mqtt.tls_cert_file[0] && !s->mqtt.tls_ca_file[0])
		return edge__cfg_error(err, errlen,
				       "%smqtt.tls_cert_file needs mqtt.tls_ca_file (TLS to the broker)",
				       where(at, sizeof at, file, lines,
					     "mqtt.tls_cert_file"));
	if (s->mqtt.password[0] && !s->mqtt.username[0])
		return edge__cfg_error(err, errlen,
				       "%smqtt.password needs mqtt.username",
				       where(at, sizeof at, file, lines,
					     "mqtt.password"));
	/* A node message is its payload plus topic (<= 256 bytes) and the
	 * fixed header and properties: 512 bytes of headroom covers them. */
	if (s->mqtt.max_packet_bytes < s->mqtt.max_payload_bytes + 512)
		return edge__cfg_error(err, errlen,
				       "%smqtt.max_packet_bytes (%zu) must be at least mqtt.max_payload_bytes + 512 (%zu)",
				       where(at, sizeof at, file, lines,
					     either(lines, "mqtt.max_packet_bytes", "mqtt.max_payload_bytes")),
				       s->mqtt.max_packet_bytes, s->mqtt.max_payload_bytes + 512);
	if (s->store.group_commit_max_ops > s->store.queue_max_ops)
		return order_error(err, errlen, file, lines,
				   "store.group_commit_max_ops", s->store.group_commit_max_ops,
				   "store.queue_max_ops", s->store.queue_max_ops);

	if (join(s->paths.database_file, sizeof s->paths.database_file,
		 s->paths.state_dir, s->paths.database) < 0) {
		k = either(lines, "paths.database", "paths.state_dir");
		return edge__cfg_error(err, errlen,
				       "%spaths.database: the path within paths.state_dir is longer than %d characters",
				       where(at, sizeof at, file, lines, k),
				       EDGE_CONFIG_PATH_MAX - 1);
	}
	if (join(s->paths.control_socket_path, sizeof s->paths.control_socket_path,
		 s->paths.runtime_dir, s->paths.control_socket) < 0) {
		k = either(lines, "paths.control_socket", "paths.runtime_dir");
		return edge__cfg_error(err, errlen,
				       "%spaths.control_socket: the socket path within paths.runtime_dir is longer than %d characters",
				       where(at, sizeof at, file, lines, k),
				       EDGE_CONFIG_SOCKET_PATH_MAX - 1);
	}
	return 0;
}
