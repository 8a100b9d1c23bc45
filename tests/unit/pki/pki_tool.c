/* Test helper: lib/pki's writers from the command line, for the broker test
 * (test_pki_broker.sh). Files go into DIR under fixed names.
 *
 *   pki-tool ca DIR NAME                 DIR/ca.key, DIR/ca.crt
 *   pki-tool server DIR [NAME...]        DIR/server.key, DIR/server.crt
 *   pki-tool node DIR ID                 DIR/ID.key, DIR/ID.crt; prints the serial
 *   pki-tool crl DIR [SERIAL...]         DIR/ca.crl
 *   pki-tool password                    prints a new password
 *   pki-tool passwd FILE [USER PASSWORD]...
 *   pki-tool acl FILE GATEWAY_USER [PREFIX]
 *   pki-tool fleet-passwd FILE CREDS PREFIX COUNT [USER PASSWORD]...
 *       COUNT nodes PREFIX-00000.. with a new password each: one hash each
 *       in the password file FILE (with the extra users), and CREDS with
 *       their `id:password` lines (mode 0600) for the simulator
 *   pki-tool fleet-certs DIR PREFIX COUNT
 *       DIR/PREFIX-NNNNN.key and .crt for COUNT nodes, signed by DIR's CA
 * Exit 0 on success, 1 with the reason on stderr. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "edge_pki.h"
#include "edge_pki_acl.h"
#include "edge_pki_file.h"
#include "edge_pki_passwd.h"

static char err[512];

static int die(int rc, const char *what)
{
	fprintf(stderr, "pki-tool: %s: %s (%s)\n", what, err[0] ? err : "failed",
		edge_strerror(rc));
	return 1;
}

static int load(const char *dir, edge_pki_ca **ca)
{
	char key[PATH_MAX], crt[PATH_MAX];

	snprintf(key, sizeof(key), "%s/ca.key", dir);
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	return edge_pki_ca_load(key, crt, ca, err, sizeof(err));
}

static int save_issued(const char *dir, const char *name, const struct edge_pki_issued *is)
{
	char key[PATH_MAX], crt[PATH_MAX];
	int rc;

	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	rc = edge_pki_write_file(key, is->key_pem, is->key_len, 0600, err, sizeof(err));
	if (rc == 0)
		rc = edge_pki_write_file(crt, is->cert_pem, is->cert_len, 0644, err, sizeof(err));
	return rc;
}

static int fleet_count(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out < 1 || *out > 100000) {
		snprintf(err, sizeof(err), "COUNT %s: must be 1..100000", s);
		return -EINVAL;
	}
	return 0;
}

/* Hashes every password (the cost a provisioning batch pays) and writes the
 * password file once, then the simulator's credentials. */
static int fleet_passwd(const char *file, const char *creds, const char *prefix,
			const char *count_s, const char *const *extra, size_t n_extra)
{
	unsigned long count;
	int rc = fleet_count(count_s, &count);

	if (rc)
		return rc;
	size_t n = count + n_extra;
	struct edge_pki_user *u = calloc(n, sizeof(*u));
	char (*h)[EDGE_PKI_PWHASH_MAX] = calloc(n, sizeof(*h));
	char (*names)[EDGE_PKI_NAME_MAX + 8] = calloc(count, sizeof(*names));
	char (*pw)[EDGE_PKI_PASSWORD_LEN + 1] = calloc(count, sizeof(*pw));
	FILE *f = NULL;

	rc = u && h && names && pw ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *pass;
		if (i < count) {
			snprintf(names[i], sizeof(names[i]), "%s-%05zu", prefix, i);
			rc = edge_pki_password_generate(pw[i]);
			u[i].name = names[i];
			pass = pw[i];
		} else {
			u[i].name = extra[2 * (i - count)];
			pass = extra[2 * (i - count) + 1];
		}
		u[i].hash = h[i];
		if (rc == 0)
			rc = edge_pki_password_hash(pass, h[i], sizeof(h[i]));
	}
	if (rc == 0)
		rc = edge_pki_passwd_write(file, u, n, 0600, err, sizeof(err));
	if (rc == 0) {
		int fd = open(creds, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			rc = -errno;
			snprintf(err, sizeof(err), "%s: %s", creds, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	for (size_t i = 0; f && i < count; i++)
		fprintf(f, "%s:%s\n", names[i], pw[i]);
	if (f && fclose(f) != 0 && rc == 0) {
		rc = -EIO;
		snprintf(err, sizeof(err), "%s: write failed", creds);
	}
	free(u);
	free(h);
	free(names);
	free(pw);
	return rc;
}

int main(int argc, char **argv)
{
	edge_pki_ca *ca = NULL;
	struct edge_pki_issued is = { 0 };
	int rc;

	if (argc < 2)
		goto usage;
	const char *cmd = argv[1];
	if (strcmp(cmd, "ca") == 0 && argc == 4) {
		char key[PATH_MAX], crt[PATH_MAX];
		snprintf(key, sizeof(key), "%s/ca.key", argv[2]);
		snprintf(crt, sizeof(crt), "%s/ca.crt", argv[2]);
		rc = edge_pki_ca_create(argv[3], 3650, &ca, err, sizeof(err));
		if (rc == 0)
			rc = edge_pki_ca_save(ca, key, crt, err, sizeof(err));
	} else if (strcmp(cmd, "server") == 0 && argc >= 3) {
		rc = load(argv[2], &ca);
		if (rc == 0)
			rc = edge_pki_issue_server(ca, (const char *const *)argv + 3,
						   (size_t)(argc - 3), 825, &is, err, sizeof(err));
		if (rc == 0)
			rc = save_issued(argv[2], "server", &is);
	} else if (strcmp(cmd, "node") == 0 && argc == 4) {
		rc = load(argv[2], &ca);
		if (rc == 0)
			rc = edge_pki_issue_node(ca, argv[3], 365, &is, err, sizeof(err));
		if (rc == 0)
			rc = save_issued(argv[2], argv[3], &is);
		if (rc == 0)
			printf("%s\n", is.serial);
	} else if (strcmp(cmd, "crl") == 0 && argc >= 3) {
		char crl[PATH_MAX];
		snprintf(crl, sizeof(crl), "%s/ca.crl", argv[2]);
		rc = load(argv[2], &ca);
		if (rc == 0)
			rc = edge_pki_crl_write(ca, (const char *const *)argv + 3, (size_t)(argc - 3),
						30, 1, crl, err, sizeof(err));
	} else if (strcmp(cmd, "password") == 0 && argc == 2) {
		char pw[EDGE_PKI_PASSWORD_LEN + 1];
		rc = edge_pki_password_generate(pw);
		if (rc == 0)
			printf("%s\n", pw);
	} else if (strcmp(cmd, "passwd") == 0 && argc >= 3 && argc % 2 == 1) {
		size_t n = (size_t)(argc - 3) / 2;
		struct edge_pki_user *u = calloc(n ? n : 1, sizeof(*u));
		char (*h)[EDGE_PKI_PWHASH_MAX] = calloc(n ? n : 1, sizeof(*h));
		rc = u && h ? 0 : -ENOMEM;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			u[i].name = argv[3 + 2 * i];
			u[i].hash = h[i];
			rc = edge_pki_password_hash(argv[4 + 2 * i], h[i], sizeof(h[i]));
		}
		if (rc == 0)
			rc = edge_pki_passwd_write(argv[2], u, n, 0600, err, sizeof(err));
		free(u);
		free(h);
	} else if (strcmp(cmd, "acl") == 0 && (argc == 4 || argc == 5)) {
		struct edge_pki_acl_options o = { .gateway_user = argv[3],
						  .prefix = argc == 5 ? argv[4] : NULL };
		rc = edge_pki_acl_write(argv[2], &o, 0644, err, sizeof(err));
	} else if (strcmp(cmd, "fleet-passwd") == 0 && argc >= 6 && argc % 2 == 0) {
		rc = fleet_passwd(argv[2], argv[3], argv[4], argv[5],
				  (const char *const *)argv + 6, (size_t)(argc - 6) / 2);
	} else if (strcmp(cmd, "fleet-certs") == 0 && argc == 5) {
		unsigned long count;
		rc = fleet_count(argv[4], &count);
		if (rc == 0)
			rc = load(argv[2], &ca);
		for (unsigned long i = 0; rc == 0 && i < count; i++) {
			char id[EDGE_PKI_NAME_MAX + 8];
			snprintf(id, sizeof(id), "%s-%05lu", argv[3], i);
			rc = edge_pki_issue_node(ca, id, 365, &is, err, sizeof(err));
			if (rc == 0)
				rc = save_issued(argv[2], id, &is);
			edge_pki_issued_clear(&is);
		}
	} else {
		goto usage;
	}
	edge_pki_issued_clear(&is);
	edge_pki_ca_free(ca);
	return rc == 0 ? 0 : die(rc, cmd);
usage:
	fprintf(stderr, "usage: pki-tool ca|server|node|crl|password|passwd|acl|fleet-passwd|"
		"fleet-certs ...\n");
	return 2;
}
