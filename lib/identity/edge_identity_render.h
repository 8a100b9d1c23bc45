/* The broker's identity files rendered from the identity table, and their
 * replacement on disk only when the content differs (so a restart of an
 * unchanged fleet writes nothing).
 *
 *   passwd  the gateway's own user first, then every ACTIVE password
 *           identity, sorted by id: `name:hash` lines (mosquitto_passwd).
 *   acl     edge_pki_acl_render()'s text, then for every REVOKED certificate
 *           identity, sorted by id, a `user <id>` / `topic deny
 *           <prefix>/<id>/#` pair: a certificate stays valid for a live TLS
 *           session after the CRL lists it (mosquitto checks the CRL only at
 *           the handshake), and the deny takes the session's rights.
 *   ca.crl  every revoked serial, signed by the gateway CA.
 *
 * Threading: the render functions read the table (its owner's thread); the
 * sync functions touch only files (any thread, e.g. a worker). */
#ifndef EDGE_IDENTITY_RENDER_H
#define EDGE_IDENTITY_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "edge_identity.h"

/* The passwd text in a new buffer (caller frees; NUL-terminated, *len its
 * length). gateway_user/gateway_hash: edged's own line, required. Errors:
 * -EINVAL (user outside the id class, hash not $7$, the gateway user is
 * also a node id), -ENOMEM. */
EDGE_WUR int edge_identity_render_passwd(const edge_identity_table *t, const char *gateway_user,
					 const char *gateway_hash, char **out, size_t *len);

/* The acl text in a new buffer (caller frees). prefix NULL = "edge/v1".
 * Errors: -EINVAL (prefix, user; reason in err), -ENOMEM. */
EDGE_WUR int edge_identity_render_acl(const edge_identity_table *t, const char *prefix,
				      const char *gateway_user, char **out, size_t *len,
				      char *err, size_t errlen);

/* The revoked serials sorted, as a new array of n copies (caller frees with
 * free(); an empty list gives a valid non-NULL array). -ENOMEM. */
EDGE_WUR int edge_identity_crl_serials(const edge_identity_table *t,
				       char (**out)[EDGE_PKI_SERIAL_HEX_MAX], size_t *n);

/* Makes `path` hold data[0..len) with `mode`: returns 0 when it already
 * does (nothing written), 1 after replacing it (edge_pki_write_file:
 * atomic, fsync'ed), or -errno with the step and path in err. */
EDGE_WUR int edge_identity_file_sync(const char *path, const void *data, size_t len,
				     mode_t mode, char *err, size_t errlen);

/* Makes `path` a CRL signed by ca listing exactly serials[0..n): 0 when the
 * file already is one (same issuer key, same set of serials, next update
 * more than 30 days away), 1 after writing a new one (next update in `days`,
 * CRL number = seconds since the epoch), or a negative code from
 * edge_pki_crl_write with the reason in err. */
EDGE_WUR int edge_identity_crl_sync(const edge_pki_ca *ca, const char *path,
				    const char *const *serials, size_t n, unsigned days,
				    char *err, size_t errlen);

/* The hash of `user` in the passwd text buf[0..len), copied to out, if its
 * line is there. Returns true when found. */
bool edge_identity_passwd_lookup(const char *buf, size_t len, const char *user,
				 char out[EDGE_PKI_PWHASH_MAX]);

#endif
