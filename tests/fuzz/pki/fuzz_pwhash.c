/* Fuzz target: the mosquitto password-hash reader. A password file line is
 * read back when edged verifies or rewrites credentials, and a hand-edited
 * or truncated file must be refused, never crash or read out of bounds.
 * The input is the hash string; the password is fixed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_pki_passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Iteration counts up to the reader's bound cost seconds each; the
	 * length bound keeps inputs to what a password file line holds. */
	if (size > 4 * EDGE_PKI_PWHASH_MAX)
		return 0;
	char *hash = malloc(size + 1);
	if (!hash)
		return 0;
	memcpy(hash, data, size);
	hash[size] = '\0';
	int rc = edge_pki_password_verify("secret", hash);
	if (rc != 0 && rc != EDGE_EAUTH && rc != -EINVAL && rc != -EIO)
		abort();
	/* Only the golden hash of "secret" in the corpus may match. */
	if (rc == 0 && strncmp(hash, "$7$", 3) != 0)
		abort();
	free(hash);
	return 0;
}
