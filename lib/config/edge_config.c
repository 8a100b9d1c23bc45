/* The config object: defaults, loading, overrides, queries and reload. */
#include "edge_config_table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_log.h"

/* A config file is a few KiB; refuse anything absurdly large. */
#define FILE_MAX_BYTES (1024 * 1024)

struct edge_config {
	struct edge_settings s;
};

static int apply_defaults(struct edge_settings *s)
{
	char why[384];

	for (size_t i = 0; i < edge__cfg_nkeys; i++)
		if (edge__cfg_parse_value(&edge__cfg_keys[i], edge__cfg_keys[i].def,
					  s, why, sizeof why) < 0)
			return EDGE_ECONFIG; /* table bug; the unit test catches it */
	return edge__cfg_check(s, NULL, NULL, NULL, 0);
}

edge_config *edge_config_new(void)
{
	edge_config *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	if (apply_defaults(&c->s) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

void edge_config_free(edge_config *c)
{
	if (!c)
		return;
	/* The password lives in here. */
	explicit_bzero(c, sizeof *c);
	free(c);
}

edge_config *edge_config_dup(const edge_config *c)
{
	edge_config *d = malloc(sizeof *d);

	if (d)
		memcpy(d, c, sizeof *d);
	return d;
}

const struct edge_settings *edge_config_settings(const edge_config *c)
{
	return &c->s;
}

int edge_config_load_buffer(edge_config *c, const char *name, const char *buf,
			    size_t len, char *err, size_t errlen)
{
	unsigned lines[EDGE__CFG_MAX_KEYS] = { 0 };
	struct edge_settings *tmp = malloc(sizeof *tmp);
	int rc;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, &c->s, sizeof *tmp);
	rc = edge__cfg_parse_buffer(tmp, lines, name, buf, len, err, errlen);
	if (rc == 0)
		rc = edge__cfg_check(tmp, name, lines, err, errlen);
	if (rc == 0)
		memcpy(&c->s, tmp, sizeof *tmp);
	explicit_bzero(tmp, sizeof *tmp);
	free(tmp);
	return rc;
}

static int read_file(const char *path, char **out, size_t *outlen,
		     mode_t *mode, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto fail;
	}
	buf = malloc(FILE_MAX_BYTES + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, FILE_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > FILE_MAX_BYTES) {
			free(buf);
			close(fd);
			edge__cfg_error(err, errlen, "%s: larger than %d bytes", path,
					FILE_MAX_BYTES);
			return EDGE_ETOOBIG;
		}
	}
	close(fd);
	*out = buf;
	*outlen = len;
	*mode = st.st_mode;
	return 0;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	edge__cfg_error(err, errlen, "%s: cannot read: %s", path, edge_strerror(rc));
	return rc;
}

int edge_config_load_file(edge_config *c, const char *path, char *err,
			  size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int rc = read_file(path, &buf, &len, &mode, err, errlen);

	if (rc < 0)
		return rc;
	rc = edge_config_load_buffer(c, path, buf, len, err, errlen);
	explicit_bzero(buf, len);
	free(buf);
	if (rc == 0 && c->s.mqtt.password[0] && (mode & S_IROTH))
		edge_log(EDGE_LOG_WARNING, "config",
			 "%s holds mqtt.password and is readable by everyone; "
			 "consider chmod o-r", path);
	if (rc == 0 && (c->s.mqtt.password_file_mode & (S_IRGRP | S_IROTH)))
		edge_log(EDGE_LOG_WARNING, "config",
			 "mqtt.password_file %s is readable by %s; "
			 "make it readable by edged only (chmod 0600, or a systemd credential)",
			 c->s.mqtt.password_file,
			 (c->s.mqtt.password_file_mode & S_IROTH) ? "everyone" : "its group");
	return rc;
}

static int set_trimmed(edge_config *c, const struct edge__cfg_key *k,
		       const char *value, char *err, size_t errlen)
{
	char why[384], shown[96];

	if (*value == '\0' && !(k->flags & EDGE_CONFIG_EMPTY_OK)) {
		edge__cfg_describe(k, why, sizeof why);
		return edge__cfg_error(err, errlen, "%s: empty value; must be %s",
				       k->name, why);
	}
	/* Parse into a scratch copy so a failure leaves c unchanged. */
	struct edge_settings *tmp = malloc(sizeof *tmp);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, &c->s, sizeof *tmp);
	int rc = edge__cfg_parse_value(k, value, tmp, why, sizeof why);
	if (rc == 0)
		memcpy((char *)&c->s + k->offset, (char *)tmp + k->offset, k->size);
	else
		edge__cfg_error(err, errlen, "%s = %s: %s", k->name,
				edge__cfg_echo(k, value, shown, sizeof shown), why);
	explicit_bzero(tmp, sizeof *tmp);
	free(tmp);
	return rc;
}

int edge_config_set(edge_config *c, const char *name, const char *value,
		    char *err, size_t errlen)
{
	const struct edge__cfg_key *k = edge__cfg_find_name(name);

	if (!k)
		return edge__cfg_error(err, errlen, "unknown key '%.64s'", name);
	/* Blanks around a value are never part of it, as in the file, so
	 * dumps load back to the same values. */
	while (*value == ' ' || *value == '\t')
		value++;
	size_t vlen = strlen(value);
	while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= EDGE_CONFIG_PATH_MAX * 2)
		vlen = EDGE_CONFIG_PATH_MAX * 2; /* too long anyway */
	char *trimmed = strndup(value, vlen);
	if (!trimmed)
		return -ENOMEM;
	int rc = set_trimmed(c, k, trimmed, err, errlen);
	explicit_bzero(trimmed, vlen);
	free(trimmed);
	return rc;
}

int edge_config_check(edge_config *c, char *err, size_t errlen)
{
	return edge__cfg_check(&c->s, NULL, NULL, err, errlen);
}

int edge_config_get(const edge_config *c, const char *name, char *buf,
		    size_t len)
{
	const struct edge__cfg_key *k = edge__cfg_find_name(name);

	if (!k)
		return EDGE_ENOTFOUND;
	int n = edge__cfg_format_value(k, &c->s, buf, len);
	return n >= 0 && (size_t)n < len ? 0 : EDGE_ETOOBIG;
}

int edge_config_foreach(const edge_config *c, edge_config_foreach_fn cb,
			void *userdata)
{
	char value[EDGE_CONFIG_PATH_MAX], allowed[256];

	for (size_t i = 0; i < edge__cfg_nkeys; i++) {
		const struct edge__cfg_key *k = &edge__cfg_keys[i];

		edge__cfg_format_value(k, &c->s, value, sizeof value);
		if ((k->flags & EDGE_CONFIG_SECRET) && value[0])
			snprintf(value, sizeof value, "<hidden>");
		edge__cfg_allowed(k, allowed, sizeof allowed);

		struct edge_config_key_info info = {
			.name = k->name,
			.section = k->section,
			.key = k->key,
			.value = value,
			.default_value = k->def,
			.type = edge__cfg_type_name(k->type),
			.allowed = allowed,
			.flags = k->flags & (EDGE_CONFIG_RELOADABLE | EDGE_CONFIG_SECRET |
					     EDGE_CONFIG_EMPTY_OK),
			.description = k->doc,
		};
		int rc = cb(&info, userdata);
		explicit_bzero(value, sizeof value);
		if (rc)
			return rc;
	}
	return 0;
}

static bool same_value(const struct edge__cfg_key *k,
		       const struct edge_settings *a,
		       const struct edge_settings *b)
{
	char va[EDGE_CONFIG_PATH_MAX], vb[EDGE_CONFIG_PATH_MAX];

	edge__cfg_format_value(k, a, va, sizeof va);
	edge__cfg_format_value(k, b, vb, sizeof vb);
	bool same = strcmp(va, vb) == 0;
	explicit_bzero(va, sizeof va);
	explicit_bzero(vb, sizeof vb);
	return same;
}

int edge_config_reload_check(const edge_config *cur, const edge_config *next,
			     char *msg, size_t msglen)
{
	size_t used = 0;
	int changed = 0;

	if (msg && msglen)
		msg[0] = '\0';
	for (size_t i = 0; i < edge__cfg_nkeys; i++) {
		const struct edge__cfg_key *k = &edge__cfg_keys[i];

		if ((k->flags & EDGE_CONFIG_RELOADABLE) ||
		    same_value(k, &cur->s, &next->s))
			continue;
		changed++;
		if (!msg || msglen == 0 || used >= msglen)
			continue;
		int n = snprintf(msg + used, msglen - used, "%s%s",
				 changed > 1 ? ", " : "", k->name);
		if (n < 0 || (size_t)n >= msglen - used) {
			/* Mark the cut so the list is not mistaken for complete. */
			if (msglen >= 4)
				memcpy(msg + msglen - 4, "...", 4);
			used = msglen;
		} else {
			used += (size_t)n;
		}
	}
	return changed;
}

void edge_config_keep_restart_only(edge_config *next, const edge_config *cur)
{
	for (size_t i = 0; i < edge__cfg_nkeys; i++) {
		const struct edge__cfg_key *k = &edge__cfg_keys[i];

		if (!(k->flags & EDGE_CONFIG_RELOADABLE))
			memcpy((char *)&next->s + k->offset,
			       (const char *)&cur->s + k->offset, k->size);
	}
	/* cur passed its checks and the kept keys are exactly cur's, so only
	 * the derived paths need refreshing; they fit as they did in cur. */
	memcpy(next->s.paths.database_file, cur->s.paths.database_file,
	       sizeof cur->s.paths.database_file);
	memcpy(next->s.paths.control_socket_path, cur->s.paths.control_socket_path,
	       sizeof cur->s.paths.control_socket_path);
	memcpy(next->s.broker.pki_path, cur->s.broker.pki_path, sizeof cur->s.broker.pki_path);
	/* The broker credentials wait for a restart too, even when only the
	 * content of mqtt.password_file changed. */
	memcpy(next->s.mqtt.password_from_file, cur->s.mqtt.password_from_file,
	       sizeof cur->s.mqtt.password_from_file);
	next->s.mqtt.password_file_mode = cur->s.mqtt.password_file_mode;
}
