/* mosquitto password hashes and the password file (see edge_pki_passwd.h). */
#include "edge_pki_passwd.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "edge_pki_file.h"
#include "edge_pki_internal.h"
#include "edge_topic.h"

#define SALT_LEN 12
#define KEY_LEN 64 /* SHA-512 output, as mosquitto derives */
#define ITER_MAX 1000000
#define PASSWORD_MAX 65535

int edge_pki_password_generate(char out[EDGE_PKI_PASSWORD_LEN + 1])
{
	unsigned char raw[EDGE_PKI_PASSWORD_LEN * 3 / 4];
	char b64[EDGE_PKI_PASSWORD_LEN + 4];

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	int n = EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	assert(n == EDGE_PKI_PASSWORD_LEN);
	/* base64url: nothing a shell or a config line would need quoted. */
	for (int i = 0; i < n; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	out[n] = '\0';
	OPENSSL_cleanse(b64, sizeof(b64));
	return 0;
}

static int derive(const char *password, const unsigned char *salt, size_t salt_len,
		  int iterations, unsigned char key[KEY_LEN])
{
	int ok = PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
				   iterations, EVP_sha512(), KEY_LEN, key);
	if (ok != 1) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int edge_pki_password_hash(const char *password, char *out, size_t cap)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char salt64[4 * ((SALT_LEN + 2) / 3) + 1], key64[4 * ((KEY_LEN + 2) / 3) + 1];

	assert(password && out);
	size_t plen = strlen(password);
	if (plen < 1 || plen > PASSWORD_MAX)
		return -EINVAL;
	if (cap < EDGE_PKI_PWHASH_MAX)
		return -ENOSPC;
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	int rc = derive(password, salt, sizeof(salt), EDGE_PKI_PWHASH_ITERATIONS, key);
	if (rc != 0)
		return rc;
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)key64, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	snprintf(out, cap, "$7$%d$%s$%s", EDGE_PKI_PWHASH_ITERATIONS, salt64, key64);
	return 0;
}

/* Decode standard base64 with padding; the length excludes padding.
 * -1 if malformed or larger than cap. */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
	unsigned char buf[128];

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf))
		return -1;
	int n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes. */
	if (s[len - 1] == '=')
		n--;
	if (s[len - 2] == '=')
		n--;
	if ((size_t)n > cap) {
		ERR_clear_error();
		return -1;
	}
	memcpy(out, buf, (size_t)n);
	return n;
}

/* Parse "$7$<iter>$<salt>$<key>"; 0 or -EINVAL. */
static int parse(const char *hash, int *iterations, unsigned char salt[64], int *salt_len,
		 unsigned char key[KEY_LEN])
{
	if (!hash || strncmp(hash, "$7$", 3) != 0)
		return -EINVAL;
	const char *p = hash + 3;
	char *end;
	if (*p < '0' || *p > '9') /* strtol would take a sign or spaces */
		return -EINVAL;
	errno = 0;
	long it = strtol(p, &end, 10);
	if (*end != '$' || errno || it < 1 || it > ITER_MAX)
		return -EINVAL;
	*iterations = (int)it;
	const char *salt64 = end + 1, *d = strchr(salt64, '$');
	if (!d)
		return -EINVAL;
	const char *key64 = d + 1;
	size_t key64_len = strlen(key64);
	if (strspn(key64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
	    key64_len)
		return -EINVAL;
	*salt_len = b64_decode(salt64, (size_t)(d - salt64), salt, 64);
	if (*salt_len < 1)
		return -EINVAL;
	if (b64_decode(key64, key64_len, key, KEY_LEN) != KEY_LEN)
		return -EINVAL;
	return 0;
}

int edge_pki_password_verify(const char *password, const char *hash)
{
	unsigned char salt[64], want[KEY_LEN], got[KEY_LEN];
	int iterations = 0, salt_len = 0;

	assert(password);
	if (parse(hash, &iterations, salt, &salt_len, want) != 0)
		return -EINVAL;
	int rc = derive(password, salt, (size_t)salt_len, iterations, got);
	if (rc == 0)
		rc = CRYPTO_memcmp(want, got, KEY_LEN) == 0 ? 0 : EDGE_EAUTH;
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int edge_pki_passwd_write(const char *path, const struct edge_pki_user *users, size_t n,
			  mode_t mode, char *err, size_t errlen)
{
	unsigned char salt[64], key[KEY_LEN];
	int it, salt_len;

	assert(path && (users || n == 0));
	size_t cap = 1, used = 0;
	for (size_t i = 0; i < n; i++) {
		if (!edge_id_valid_str(users[i].name))
			return edge__pki_failf(err, errlen, -EINVAL,
					       "user %zu: name must match [A-Za-z0-9_-]{1,64}", i);
		if (!users[i].hash || strlen(users[i].hash) >= EDGE_PKI_PWHASH_MAX ||
		    parse(users[i].hash, &it, salt, &salt_len, key) != 0)
			return edge__pki_failf(err, errlen, -EINVAL,
					       "user %s: not a $7$ hash", users[i].name);
		cap += strlen(users[i].name) + strlen(users[i].hash) + 2;
	}
	/* mosquitto keeps the first of two lines for a user; refuse instead of
	 * letting an old credential win silently. */
	const char **names = malloc((n ? n : 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = users[i].name;
	qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			int rc = edge__pki_failf(err, errlen, -EINVAL, "user %s listed twice",
						 names[i]);
			free(names);
			return rc;
		}
	free(names);
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s:%s\n", users[i].name,
					 users[i].hash);
	int rc = edge_pki_write_file(path, buf, used, mode, err, errlen);
	free(buf);
	return rc;
}
