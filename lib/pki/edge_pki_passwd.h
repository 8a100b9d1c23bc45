/* mosquitto's password file: random passwords, their hashes in the format
 * mosquitto_passwd 2.0 writes, verification, and the file itself.
 *
 * Hash format (mosquitto 2.0 apps/mosquitto_passwd, src/password_mosq.c):
 *   $7$<iterations>$<base64 salt>$<base64 hash>
 * $7$ = PBKDF2-HMAC-SHA512, 101 iterations, a 12-byte random salt, a
 * 64-byte derived key, standard base64 with padding. A file line is
 * `user:hash`.
 *
 * Threading: reentrant, no shared state. */
#ifndef EDGE_PKI_PASSWD_H
#define EDGE_PKI_PASSWD_H

#include <stddef.h>
#include <sys/types.h>

#include "edge_error.h"

/* A generated password: 24 base64url characters (18 random bytes). */
#define EDGE_PKI_PASSWORD_LEN 24
/* "$7$101$" + 16 + "$" + 88 + NUL, with room for other iteration counts. */
#define EDGE_PKI_PWHASH_MAX 128
/* Iterations mosquitto_passwd 2.0 uses by default. */
#define EDGE_PKI_PWHASH_ITERATIONS 101

/* Fill out with a new random password from RAND_bytes. 0 or -EIO. */
int edge_pki_password_generate(char out[EDGE_PKI_PASSWORD_LEN + 1]) EDGE_WUR;

/* Hash `password` (NUL-terminated, 1..65535 bytes as MQTT allows) with a new
 * salt into out[0..cap). 0, -EINVAL (empty or too long password), -ENOSPC
 * (cap < EDGE_PKI_PWHASH_MAX), -EIO. */
int edge_pki_password_hash(const char *password, char *out, size_t cap) EDGE_WUR;

/* 0 if `password` matches `hash` (constant-time comparison), EDGE_EAUTH if
 * not, -EINVAL if hash is not a $7$ hash (malformed, or iterations outside
 * 1..1000000), -EIO. */
int edge_pki_password_verify(const char *password, const char *hash) EDGE_WUR;

struct edge_pki_user {
	const char *name;  /* [A-Za-z0-9_-]{1,64}: a node id or edged's own user */
	const char *hash;  /* from edge_pki_password_hash */
};

/* Write mosquitto's password file, one `name:hash` line per user in the
 * given order, atomically with `mode` (the broker must be able to read it:
 * e.g. 0640 with group mosquitto, set by the caller's directory policy).
 * Errors: -EINVAL (a name outside the id class, a duplicate name, a hash
 * that is not $7$), -ENOMEM, -errno writing; reason in err. */
int edge_pki_passwd_write(const char *path, const struct edge_pki_user *users, size_t n,
			  mode_t mode, char *err, size_t errlen) EDGE_WUR;

#endif
