/* The provisioning bundle (bundle.h). */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edgectl.h"

#define BUNDLE_FORMAT "edged-node-bundle/1"

/* mqtt://HOST:PORT or mqtts://HOST:PORT, HOST possibly [IPv6]. Adds host,
 * port and tls to broker; a URL of another shape keeps only "url". */
static void add_address(json_t *broker, const char *url)
{
	const char *rest, *colon;
	char host[256];
	bool tls;
	long port;
	char *end;

	if (strncmp(url, "mqtts://", 8) == 0) {
		tls = true;
		rest = url + 8;
	} else if (strncmp(url, "mqtt://", 7) == 0) {
		tls = false;
		rest = url + 7;
	} else {
		return;
	}
	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':')
			return;
		colon = close + 1;
		rest++;
		if ((size_t)(close - rest) >= sizeof host)
			return;
		memcpy(host, rest, (size_t)(close - rest));
		host[close - rest] = '\0';
	} else {
		colon = strrchr(rest, ':');
		if (!colon || (size_t)(colon - rest) >= sizeof host || colon == rest)
			return;
		memcpy(host, rest, (size_t)(colon - rest));
		host[colon - rest] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end != '\0' || port < 1 || port > 65535)
		return;
	json_object_set_new(broker, "host", json_string(host));
	json_object_set_new(broker, "port", json_integer(port));
	json_object_set_new(broker, "tls", json_boolean(tls));
}

json_t *edgectl_bundle_new(json_t *answer, json_t *node)
{
	const char *id = json_string_value(json_object_get(node, "id"));
	const char *kind = json_string_value(json_object_get(node, "kind"));
	const char *url = json_string_value(json_object_get(answer, "broker_url"));
	json_t *b, *broker;

	if (!id || !kind || !url)
		return NULL;
	broker = json_pack("{s:s}", "url", url);
	if (!broker)
		return NULL;
	add_address(broker, url);
	b = json_pack("{s:s, s:s, s:o, s:O?, s:O?}", "format", BUNDLE_FORMAT, "node_id", id,
		      "broker", broker, "topic_prefix", json_object_get(answer, "topic_prefix"),
		      "username", json_object_get(node, "username"));
	if (!b)
		return NULL;
	if (strcmp(kind, "password") == 0) {
		if (!json_is_string(json_object_get(node, "password")))
			goto incomplete;
		json_object_set(b, "password", json_object_get(node, "password"));
	} else if (strcmp(kind, "certificate") == 0) {
		if (!json_is_string(json_object_get(node, "cert_pem")) ||
		    !json_is_string(json_object_get(node, "key_pem")))
			goto incomplete;
		json_object_set(b, "cert_pem", json_object_get(node, "cert_pem"));
		json_object_set(b, "key_pem", json_object_get(node, "key_pem"));
	} else {
		goto incomplete;
	}
	if (json_is_string(json_object_get(answer, "ca_pem")))
		json_object_set(b, "ca_pem", json_object_get(answer, "ca_pem"));
	return b;
incomplete:
	json_decref(b);
	return NULL;
}

/* data to path with mode, through a temporary file renamed over it (a
 * reader never sees half a key). */
static int write_private(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	size_t off = 0;

	if (n < 0 || (size_t)n >= sizeof tmp) {
		fprintf(stderr, "edgectl: path too long: %s\n", path);
		return EDGECTL_EUSAGE;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	if (fchmod(fd, mode) < 0)
		goto fail_fd;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail_fd;
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0)
		goto fail;
	return EDGECTL_OK;
fail_fd:
	close(fd);
fail:
	fprintf(stderr, "edgectl: cannot write %s: %s\n", path, strerror(errno));
	unlink(tmp);
	return EDGECTL_EDAEMON;
}

int edgectl_bundle_write_file(json_t *bundle, const char *path)
{
	char *text = json_dumps(bundle, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc;

	if (!text)
		return EDGECTL_EDAEMON;
	rc = write_private(path, text, strlen(text), 0600);
	free(text);
	return rc;
}

static int write_member(const char *dir, const char *name, const char *suffix,
			const char *data, mode_t mode)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);

	if (n < 0 || (size_t)n >= sizeof path) {
		fprintf(stderr, "edgectl: path too long in %s\n", dir);
		return EDGECTL_EUSAGE;
	}
	return write_private(path, data, strlen(data), mode);
}

int edgectl_bundle_write_dir(json_t *bundle, const char *dir)
{
	const char *id = json_string_value(json_object_get(bundle, "node_id"));
	const char *cert = json_string_value(json_object_get(bundle, "cert_pem"));
	const char *key = json_string_value(json_object_get(bundle, "key_pem"));
	const char *ca = json_string_value(json_object_get(bundle, "ca_pem"));
	char *text = json_dumps(bundle, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc;

	if (!text || !id) {
		free(text);
		return EDGECTL_EDAEMON;
	}
	rc = write_member(dir, id, ".json", text, 0600);
	free(text);
	if (rc == EDGECTL_OK && cert)
		rc = write_member(dir, id, ".crt", cert, 0644);
	if (rc == EDGECTL_OK && key)
		rc = write_member(dir, id, ".key", key, 0600);
	if (rc == EDGECTL_OK && cert && ca)
		rc = write_member(dir, "ca", ".crt", ca, 0644);
	return rc;
}

int edgectl_bundle_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = syncfs(fd);
	close(fd);
	return rc;
}
