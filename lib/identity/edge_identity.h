/* Node identities: what the broker knows each node by (a password or a
 * client certificate), in memory, as the gateway's single source for the
 * broker's password file, ACL and CRL.
 *
 * The table maps a node id ([A-Za-z0-9_-]{1,64}) to its record. Records are
 * never removed: a revoked identity stays (state REVOKED) so that the ACL
 * keeps denying its certificate and the id cannot be provisioned again by
 * mistake (only on purpose, by rotation). Beside the records the table keeps
 * the serials of every node certificate revoked or replaced: the CRL.
 *
 * The database is the truth (tables node_identity and revoked_certificate,
 * edge_identity_sql.h); the table is its copy in memory, changed only after
 * the database committed.
 *
 * Ownership: the table is its creator's (edge_identity_table_free). Record
 * pointers returned by lookups are borrowed and valid until the table is
 * next changed.
 *
 * Threading: no shared state; one table is used by one thread at a time (in
 * edged: the loop). */
#ifndef EDGE_IDENTITY_H
#define EDGE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_pki.h"
#include "edge_pki_passwd.h"

#define EDGE_IDENTITY_ID_MAX 64

enum edge_identity_kind {
	EDGE_IDENTITY_PASSWORD = 0,    /* "password": username + password */
	EDGE_IDENTITY_CERTIFICATE = 1, /* "certificate": client certificate, CN = id */
};

enum edge_identity_state {
	EDGE_IDENTITY_ACTIVE = 0,  /* "active" */
	EDGE_IDENTITY_REVOKED = 1, /* "revoked" */
};

/* Names as stored and as the control protocol shows them (static); the
 * parsers return -1 for an unknown name. */
const char *edge_identity_kind_name(enum edge_identity_kind kind);
int edge_identity_kind_from_name(const char *name);
const char *edge_identity_state_name(enum edge_identity_state state);
int edge_identity_state_from_name(const char *name);

/* One node's identity. Times are wall clock, ms since the epoch; 0 = none. */
struct edge_identity {
	char id[EDGE_IDENTITY_ID_MAX + 1];
	enum edge_identity_kind kind;
	enum edge_identity_state state;
	char password_hash[EDGE_PKI_PWHASH_MAX];        /* password kind, else "" */
	char cert_serial[EDGE_PKI_SERIAL_HEX_MAX];      /* certificate kind, else "" */
	char cert_fingerprint[EDGE_PKI_FINGERPRINT_LEN]; /* certificate kind, else "" */
	int64_t cert_not_after_ms;
	int64_t created_ms;
	int64_t rotated_ms;  /* 0: never rotated */
	int64_t revoked_ms;  /* 0: active */
	uint32_t generation; /* 1, +1 per rotation */
};

typedef struct edge_identity_table edge_identity_table;

/* NULL on ENOMEM. */
edge_identity_table *edge_identity_table_new(void);
void edge_identity_table_free(edge_identity_table *t); /* NULL-safe */

/* The record of `id`, or NULL. */
const struct edge_identity *edge_identity_table_get(const edge_identity_table *t,
						     const char *id);

/* Inserts or replaces the record of rec->id (copied). Errors: -EINVAL (id
 * outside the class, a kind without its secret: password hash or serial;
 * state and revoked_ms disagree), -ENOMEM. */
EDGE_WUR int edge_identity_table_put(edge_identity_table *t, const struct edge_identity *rec);

/* Records in insertion order: i in 0..size-1. */
size_t edge_identity_table_size(const edge_identity_table *t);
const struct edge_identity *edge_identity_table_at(const edge_identity_table *t, size_t i);

struct edge_identity_counts {
	unsigned active;
	unsigned revoked;
	unsigned password;    /* active and revoked alike */
	unsigned certificate;
};
void edge_identity_table_counts(const edge_identity_table *t, struct edge_identity_counts *out);

/* Adds a revoked certificate serial (uppercase hex; a serial already there
 * is no error). Errors: -EINVAL (not 1..40 hex digits), -ENOMEM. */
EDGE_WUR int edge_identity_table_add_revoked_serial(edge_identity_table *t, const char *serial);
size_t edge_identity_table_revoked_count(const edge_identity_table *t);
/* Serial i (0..count-1), in insertion order. */
const char *edge_identity_table_revoked_at(const edge_identity_table *t, size_t i);

/* A new secret for one node, prepared by edge_identity_prepare
 * (edge_identity_batch.h), applied to the node's record: *out becomes the
 * record after provisioning (old == NULL: a new identity, generation 1) or
 * after rotation (old given: generation + 1, rotated_ms = now_ms, created_ms
 * kept, state active again). The certificate serial the rotation replaces,
 * if any, goes to replaced_serial (else ""): it belongs in the CRL. */
struct edge_identity_grant;
void edge_identity_from_grant(const struct edge_identity *old,
			      const struct edge_identity_grant *g, int64_t now_ms,
			      struct edge_identity *out,
			      char replaced_serial[EDGE_PKI_SERIAL_HEX_MAX]);

#endif
