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
 * Exit 0 on success, 1 with the reason on stderr. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	} else {
		goto usage;
	}
	edge_pki_issued_clear(&is);
	edge_pki_ca_free(ca);
	return rc == 0 ? 0 : die(rc, cmd);
usage:
	fprintf(stderr, "usage: pki-tool ca|server|node|crl|password|passwd|acl ...\n");
	return 2;
}
