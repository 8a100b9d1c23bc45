/* Node bundles: see sim_bundle.h. */
#include "sim_bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define SIM_BUNDLE_FORMAT "edged-node-bundle/1"

struct sim_ca {
	char *pem;
	char *path;
};

struct sim_bundles {
	char *dir;
	char tmp[PATH_MAX]; /* "" until the first PEM is written */
	struct sim_ca *cas;
	size_t n_cas;
	unsigned n_files;
};

struct sim_bundles *sim_bundles_new(const char *dir)
{
	struct sim_bundles *set = calloc(1, sizeof(*set));
	if (!set)
		return NULL;
	set->dir = strdup(dir);
	if (!set->dir) {
		free(set);
		return NULL;
	}
	return set;
}

void sim_bundles_free(struct sim_bundles *set)
{
	if (!set)
		return;
	if (set->tmp[0]) {
		/* Only our own files are in it: the directory is 0700 and new. */
		DIR *d = opendir(set->tmp);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			(void)unlinkat(dirfd(d), de->d_name, 0);
		}
		if (d)
			closedir(d);
		(void)rmdir(set->tmp);
	}
	for (size_t i = 0; i < set->n_cas; i++) {
		free(set->cas[i].pem);
		free(set->cas[i].path);
	}
	free(set->cas);
	free(set->dir);
	free(set);
}

void sim_bundle_clear(struct sim_bundle *b)
{
	if (!b)
		return;
	free(b->username);
	if (b->password) /* a secret: do not leave it in freed memory */
		memset(b->password, 0, strlen(b->password));
	free(b->password);
	free(b->host);
	free(b->certfile);
	free(b->keyfile);
	memset(b, 0, sizeof(*b));
}

static int make_tmp(struct sim_bundles *set)
{
	if (set->tmp[0])
		return 0;
	const char *base = getenv("TMPDIR");
	snprintf(set->tmp, sizeof(set->tmp), "%s/edge-sim-tls.XXXXXX",
		 base && base[0] ? base : "/tmp");
	if (!mkdtemp(set->tmp)) { /* mkdtemp makes it 0700 */
		set->tmp[0] = '\0';
		return -errno;
	}
	return 0;
}

/* Write text to a new 0600 file in the private directory; *path gets its
 * name (malloc'd). 0 or -errno. */
static int write_pem(struct sim_bundles *set, const char *stem, const char *ext,
		     const char *text, char **path)
{
	int rc = make_tmp(set);
	if (rc)
		return rc;
	char p[PATH_MAX];
	int n = snprintf(p, sizeof(p), "%s/%s.%u.%s", set->tmp, stem, set->n_files++, ext);
	if (n < 0 || (size_t)n >= sizeof(p))
		return -ENAMETOOLONG;
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0) {
		*path = strdup(p);
		if (!*path)
			rc = -ENOMEM;
	}
	if (rc)
		(void)unlink(p);
	return rc;
}

/* The file of this CA text, written once per distinct text. */
static int ca_file(struct sim_bundles *set, const char *pem, const char **path)
{
	for (size_t i = 0; i < set->n_cas; i++)
		if (strcmp(set->cas[i].pem, pem) == 0) {
			*path = set->cas[i].path;
			return 0;
		}
	struct sim_ca *more = realloc(set->cas, (set->n_cas + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	set->cas = more;
	struct sim_ca *ca = &set->cas[set->n_cas];
	ca->pem = strdup(pem);
	if (!ca->pem)
		return -ENOMEM;
	int rc = write_pem(set, "ca", "crt", pem, &ca->path);
	if (rc) {
		free(ca->pem);
		return rc;
	}
	set->n_cas++;
	*path = ca->path;
	return 0;
}

static const char *str_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* mqtt://H:P or mqtts://H:P (H may be [v6]); for a bundle without the
 * broker's host/port fields. 0 or -1. */
static int parse_url(const char *url, struct sim_bundle *b)
{
	const char *rest;
	if (strncmp(url, "mqtts://", 8) == 0) {
		b->tls = true;
		rest = url + 8;
	} else if (strncmp(url, "mqtt://", 7) == 0) {
		rest = url + 7;
	} else {
		return -1;
	}
	const char *colon = strrchr(rest, ':');
	if (!colon || colon == rest)
		return -1;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	const char *h = rest;
	size_t hl = (size_t)(colon - rest);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	b->host = strndup(h, hl);
	b->port = (int)port;
	return b->host ? 0 : -1;
}

__attribute__((format(printf, 4, 5)))
static int fail(struct sim_bundle *b, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	sim_bundle_clear(b);
	return -1;
}

int sim_bundle_load(struct sim_bundles *set, const char *id, struct sim_bundle *out,
		    char *err, size_t errlen)
{
	char path[PATH_MAX];
	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%s.json", set->dir, id);
	if (access(path, R_OK) != 0)
		return fail(out, err, errlen, "%s: %s (no bundle for node %s)", path,
			    strerror(errno), id);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j)
		return fail(out, err, errlen, "%s: not a bundle: %s (line %d)", path,
			    jerr.text, jerr.line);
	int rc = -1;
	const char *format = str_field(j, "format");
	const char *node = str_field(j, "node_id");
	const char *user = str_field(j, "username");
	const char *pass = str_field(j, "password");
	const char *ca = str_field(j, "ca_pem");
	const char *crt = str_field(j, "cert_pem");
	const char *key = str_field(j, "key_pem");
	json_t *broker = json_object_get(j, "broker");
	json_t *host = json_object_get(broker, "host");
	json_t *port = json_object_get(broker, "port");
	json_t *tls = json_object_get(broker, "tls");
	const char *url = str_field(broker, "url");

	if (!format || strcmp(format, SIM_BUNDLE_FORMAT) != 0) {
		fail(out, err, errlen, "%s: format is not \"%s\"", path, SIM_BUNDLE_FORMAT);
		goto done;
	}
	if (!node || strcmp(node, id) != 0) {
		fail(out, err, errlen, "%s: the bundle of node %s, not %s", path,
		     node ? node : "(none)", id);
		goto done;
	}
	if (json_is_string(host) && json_is_integer(port)) {
		json_int_t p = json_integer_value(port);
		out->host = strdup(json_string_value(host));
		out->port = p >= 1 && p <= 65535 ? (int)p : 0;
		out->tls = json_is_true(tls) || (url && strncmp(url, "mqtts://", 8) == 0);
	} else if (url) {
		(void)parse_url(url, out);
	}
	if (!out->host || out->port == 0) {
		fail(out, err, errlen, "%s: no broker address (broker.host and "
		     "broker.port, or broker.url mqtt[s]://HOST:PORT)", path);
		goto done;
	}
	if (!pass && !crt) {
		fail(out, err, errlen, "%s: neither a password nor a certificate", path);
		goto done;
	}
	if (!crt != !key) {
		fail(out, err, errlen, "%s: cert_pem and key_pem go together", path);
		goto done;
	}
	if (crt && !out->tls) {
		fail(out, err, errlen, "%s: a client certificate needs an mqtts:// broker",
		     path);
		goto done;
	}
	out->username = strdup(user ? user : id);
	out->password = pass ? strdup(pass) : NULL;
	if (!out->username || (pass && !out->password)) {
		fail(out, err, errlen, "%s: out of memory", path);
		goto done;
	}
	int wrc = 0;
	if (out->tls && ca)
		wrc = ca_file(set, ca, &out->cafile);
	if (wrc == 0 && crt)
		wrc = write_pem(set, id, "crt", crt, &out->certfile);
	if (wrc == 0 && key)
		wrc = write_pem(set, id, "key", key, &out->keyfile);
	if (wrc) {
		fail(out, err, errlen, "%s: cannot write its TLS files under %s: %s", path,
		     set->tmp[0] ? set->tmp : "TMPDIR", strerror(-wrc));
		goto done;
	}
	rc = 0;
done:
	json_decref(j);
	return rc;
}
