/* Rules that involve more than one key, and the derived paths.
 *
 * The keys of one rule must all be reloadable or all need a restart:
 * edge_config_keep_restart_only() combines the running values of the
 * restart-only keys with the new reloadable ones without checking again. */
#include "edge_config_table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* out = name resolved in the directory of dir_key (value dir); an
 * overlong result is the error of key name_key, at the line of whichever
 * of the two the file set. */
static int join_checked(char *out, size_t len, const char *dir, const char *name,
			const char *name_key, const char *dir_key, const char *file,
			const unsigned *lines, char *err, size_t errlen)
{
	char at[EDGE_CONFIG_PATH_MAX + 32];

	if (join(out, len, dir, name) == 0)
		return 0;
	return edge__cfg_error(err, errlen, "%s%s: the path within %s is longer than %zu characters",
			       where(at, sizeof at, file, lines, either(lines, name_key, dir_key)),
			       name_key, dir_key, len - 1);
}

/* Reads the first line of mqtt.password_file (resolved in dir when
 * relative) into s->mqtt.password_from_file. On error returns EDGE_ECONFIG
 * with what is wrong in why. */
static int read_password_file(struct edge_settings *s, const char *dir,
			      char *why, size_t whylen)
{
	char path[EDGE_CONFIG_PATH_MAX];
	char buf[EDGE_CONFIG_NAME_MAX + 1]; /* one more: detects a long line */
	struct stat st;
	size_t len = 0;
	int rc = EDGE_ECONFIG;

	if (join(path, sizeof path, dir, s->mqtt.password_file) < 0) {
		snprintf(why, whylen, "the path within $CREDENTIALS_DIRECTORY is longer than %d characters",
			 EDGE_CONFIG_PATH_MAX - 1);
		return EDGE_ECONFIG;
	}
	/* O_NONBLOCK: a FIFO must not hang the load; it is refused below. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return EDGE_ECONFIG;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		goto out;
	}
	while (len < sizeof buf) {
		ssize_t n = read(fd, buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	char *nl = memchr(buf, '\n', len);
	size_t line = nl ? (size_t)(nl - buf) : len;
	if (line > EDGE_CONFIG_NAME_MAX - 1) {
		snprintf(why, whylen, "the password in %s is longer than %d bytes", path,
			 EDGE_CONFIG_NAME_MAX - 1);
		goto out;
	}
	if (line > 0 && buf[line - 1] == '\r')
		line--; /* a file written on Windows */
	if (line == 0) {
		snprintf(why, whylen, "%s is empty; its first line must be the password", path);
		goto out;
	}
	if (memchr(buf, '\0', line)) {
		snprintf(why, whylen, "%s holds a NUL byte in its first line", path);
		goto out;
	}
	memcpy(s->mqtt.password_from_file, buf, line);
	memset(s->mqtt.password_from_file + line, 0,
	       sizeof s->mqtt.password_from_file - line);
	/* systemd's credentials directory is the unit's alone, whatever the
	 * mode bits of a copy (an ACL for the unit's user shows as group
	 * bits): only a file of the operator's choosing is worth a warning. */
	s->mqtt.password_file_mode = dir[0] ? 0 : (unsigned)st.st_mode;
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return rc;
}

/* The mqtt.password_file rules, then the file itself. */
static int check_password_file(struct edge_settings *s, const char *file,
			       const unsigned *lines, char *err, size_t errlen)
{
	char at[EDGE_CONFIG_PATH_MAX + 32], why[EDGE_CONFIG_PATH_MAX + 128];
	const char *dir = "";

	explicit_bzero(s->mqtt.password_from_file, sizeof s->mqtt.password_from_file);
	s->mqtt.password_file_mode = 0;
	if (!s->mqtt.password_file[0])
		return 0;
	if (s->mqtt.password[0])
		return edge__cfg_error(err, errlen,
				       "%smqtt.password and mqtt.password_file are both set; keep one",
				       where(at, sizeof at, file, lines,
					     either(lines, "mqtt.password_file", "mqtt.password")));
	where(at, sizeof at, file, lines, "mqtt.password_file");
	if (!s->mqtt.username[0])
		return edge__cfg_error(err, errlen, "%smqtt.password_file needs mqtt.username", at);
	if (s->mqtt.password_file[0] != '/') {
		dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || !dir[0])
			return edge__cfg_error(err, errlen,
					       "%smqtt.password_file = %s: relative mqtt.password_file needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)",
					       at, s->mqtt.password_file);
	}
	if (read_password_file(s, dir, why, sizeof why) < 0)
		return edge__cfg_error(err, errlen, "%smqtt.password_file = %s: %s", at,
				       s->mqtt.password_file, why);
	return 0;
}

/* mqtt.host beginning with '/' is the broker's Unix socket: it must fit in
 * sun_path, and it is no address for nodes, so bundles need broker.node_url. */
static int check_socket_host(const struct edge_settings *s, const char *file,
			     const unsigned *lines, char *err, size_t errlen)
{
	char at[EDGE_CONFIG_PATH_MAX + 32];

	if (s->mqtt.host[0] != '/')
		return 0;
	if (strlen(s->mqtt.host) > EDGE_CONFIG_SOCKET_PATH_MAX - 1)
		return edge__cfg_error(err, errlen,
				       "%smqtt.host: a Unix socket path must fit in %d bytes",
				       where(at, sizeof at, file, lines, "mqtt.host"),
				       EDGE_CONFIG_SOCKET_PATH_MAX - 1);
	if (s->broker.identity_dir[0] && !s->broker.node_url[0])
		return edge__cfg_error(err, errlen,
				       "%sbroker.node_url is needed: mqtt.host = %s is a Unix socket, which nodes cannot reach; set where they connect (mqtt://HOST:PORT or mqtts://HOST:PORT)",
				       where(at, sizeof at, file, lines,
					     either(lines, "broker.identity_dir", "mqtt.host")),
				       s->mqtt.host);
	return 0;
}

int edge__cfg_check(struct edge_settings *s, const char *file,
		    const unsigned *lines, char *err, size_t errlen)
{
	char at[EDGE_CONFIG_PATH_MAX + 32];
	const char *k;
	int rc;

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
	if (check_password_file(s, file, lines, err, errlen) < 0)
		return EDGE_ECONFIG;
	if (check_socket_host(s, file, lines, err, errlen) < 0)
		return EDGE_ECONFIG;
	/* A node message is its payload plus topic (<= 256 bytes) and the
	 * fixed header and properties: 512 bytes of headroom covers them. */
	if (s->mqtt.max_packet_bytes < s->mqtt.max_payload_bytes + 512)
		return edge__cfg_error(err, errlen,
				       "%smqtt.max_packet_bytes (%zu) must be at least mqtt.max_payload_bytes + 512 (%zu)",
				       where(at, sizeof at, file, lines,
					     either(lines, "mqtt.max_packet_bytes", "mqtt.max_payload_bytes")),
				       s->mqtt.max_packet_bytes, s->mqtt.max_payload_bytes + 512);
	/* An offload request is its payload plus topic, Response Topic and
	 * Correlation Data: the same headroom plus the response topic. */
	if (s->offload.enabled && s->mqtt.max_packet_bytes < s->offload.max_payload_bytes + 768)
		return edge__cfg_error(err, errlen,
				       "%smqtt.max_packet_bytes (%zu) must be at least offload.max_payload_bytes + 768 (%zu), or set offload.enabled = false",
				       where(at, sizeof at, file, lines,
					     either(lines, "mqtt.max_packet_bytes", "offload.max_payload_bytes")),
				       s->mqtt.max_packet_bytes, s->offload.max_payload_bytes + 768);
	if (s->central.conninfo[0] && !s->central.gateway_id[0])
		return edge__cfg_error(err, errlen, "%scentral.conninfo needs central.gateway_id",
				       where(at, sizeof at, file, lines, "central.conninfo"));
	if (s->central.retry_min_ms > s->central.retry_max_ms)
		return order_error(err, errlen, file, lines, "central.retry_min_ms",
				   s->central.retry_min_ms, "central.retry_max_ms",
				   s->central.retry_max_ms);
	if (s->store.group_commit_max_ops > s->store.queue_max_ops)
		return order_error(err, errlen, file, lines,
				   "store.group_commit_max_ops", s->store.group_commit_max_ops,
				   "store.queue_max_ops", s->store.queue_max_ops);

	if ((rc = join_checked(s->paths.database_file, sizeof s->paths.database_file, s->paths.state_dir, s->paths.database,
				 "paths.database", "paths.state_dir", file, lines, err, errlen)) < 0)
		return rc;
	if ((rc = join_checked(s->broker.pki_path, sizeof s->broker.pki_path, s->paths.state_dir, s->broker.pki_dir,
				 "broker.pki_dir", "paths.state_dir", file, lines, err, errlen)) < 0)
		return rc;
	if (s->ota.rate_bytes_per_s != 0 && s->ota.rate_bytes_per_s < 1024)
		return edge__cfg_error(err, errlen,
				       "%sota.rate_bytes_per_s = %zu: must be 0 (unlimited) or at least 1024",
				       where(at, sizeof at, file, lines, "ota.rate_bytes_per_s"),
				       s->ota.rate_bytes_per_s);
	if (s->ota.rto_min_ms > s->ota.rto_max_ms)
		return order_error(err, errlen, file, lines, "ota.rto_min_ms", s->ota.rto_min_ms,
				   "ota.rto_max_ms", s->ota.rto_max_ms);
	if (!s->ota.trust_dir[0])
		s->ota.trust_path[0] = '\0';
	else if ((rc = join_checked(s->ota.trust_path, sizeof s->ota.trust_path,
				    s->paths.state_dir, s->ota.trust_dir, "ota.trust_dir",
				    "paths.state_dir", file, lines, err, errlen)) < 0)
		return rc;
	if ((rc = join_checked(s->ota.models_path, sizeof s->ota.models_path, s->paths.state_dir, s->ota.models_dir,
				 "ota.models_dir", "paths.state_dir", file, lines, err, errlen)) < 0)
		return rc;
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
