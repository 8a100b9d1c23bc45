/* The gateway's model store: verified packages, content-addressed files
 * under <state_dir>/models/<digest>.pkg (digest = SHA-256 of the whole
 * package file), their metadata and the anti-rollback counters in SQLite
 * (schema 7, lib/store's migration), and the transfers' persisted state.
 *
 * Three parts:
 * - the catalog: an in-memory copy of the model table, loaded at start and
 *   kept in step by the daemon (reads never touch SQLite on the loop);
 * - writer-thread operations (edge_ota_store_*_op): run inside an
 *   edge_store op, each one statement group, prepared statements;
 * - file helpers: import a package file atomically, read it back.
 *
 * Tables (schema 7):
 *   ota_model    (digest PK, name, version, counter, model_sha256, model_size,
 *                 pkg_size, manifest BLOB (the signed bytes, exactly), signers
 *                 BLOB (key ids, 32 bytes each), added_ms); UNIQUE (name,
 *                 version); name, version, counter and model_sha256 must be
 *                 the manifest's (catalog_load refuses a row that differs)
 *   ota_counter  (name PK, counter): highest counter ever accepted per name;
 *                 kept when a model is removed, so removing never re-opens a
 *                 rollback
 *   ota_transfer (id PK, digest, chunk_size, campaign, created_ms, finished_ms);
 *                 index on finished_ms (0: open); no foreign key to ota_model:
 *                 the history outlives a removed model
 *   ota_node     (transfer, device, state, reason, chunks_held, n_chunks,
 *                 unicast_chunks, retransmits, offers, started_ms, updated_ms,
 *                 finished_ms, output_sha256, detail; PK (transfer, device));
 *                 state and reason by their stable names; index (device,
 *                 transfer); srtt/rto and bytes_sent are not kept (measured
 *                 again after a restart)
 *   ota_device   (device PK, active/previous name, version, sha256,
 *                 last_transfer, last_outcome, last_reason, updated_ms)
 *
 * Threading: the catalog is loop-thread only; *_op functions run on the
 * store's writer thread; the file helpers are for libuv's pool. */
#ifndef EDGE_OTA_STORE_H
#define EDGE_OTA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_error.h"
#include "edge_ota_package.h"
#include "edge_ota_sender.h"
#include "edge_store.h"

struct sqlite3;

#define EDGE_OTA_DIGEST_HEX 64

/* One stored package. */
struct edge_ota_model {
	char digest[EDGE_OTA_DIGEST_HEX + 1];    /* SHA-256 of the package file */
	struct edge_ota_manifest manifest;       /* parsed from manifest_bytes */
	uint64_t pkg_size;
	int64_t added_ms;
	unsigned n_signers;                      /* signature entries */
	uint8_t signers[EDGE_OTA_SIGS_MAX][EDGE_OTA_KEY_ID_LEN];
};

/* ---- the catalog (in memory) ---- */

/* Bounds of the catalog and the tables (the add op checks the same):
 * models stored at once, and names ever accepted (counters stay). */
#define EDGE_OTA_CATALOG_MAX 1024
#define EDGE_OTA_COUNTERS_MAX 4096

struct edge_ota_catalog;

EDGE_WUR int edge_ota_catalog_new(struct edge_ota_catalog **out);
void edge_ota_catalog_free(struct edge_ota_catalog *c);

/* Load every model and counter from db (at start, before the loop runs).
 * 0 or an EDGE_E* code with err. */
EDGE_WUR int edge_ota_catalog_load(struct edge_ota_catalog *c, struct sqlite3 *db, char *err,
				   size_t errlen);

unsigned edge_ota_catalog_count(const struct edge_ota_catalog *c);
const struct edge_ota_model *edge_ota_catalog_at(const struct edge_ota_catalog *c, unsigned i);

/* Find by reference: a digest or model SHA-256 prefix (>= 8 hex digits,
 * either case), "name@version", or "name" (the highest counter of that
 * name; of equal counters the latest added). A hex-looking ref that
 * prefixes nothing is tried as a name. NULL and *ambiguous (may be NULL)
 * set when a prefix matches several models. */
const struct edge_ota_model *edge_ota_catalog_find(const struct edge_ota_catalog *c,
						   const char *ref, bool *ambiguous);

/* Highest counter accepted for name (0: none). */
uint64_t edge_ota_catalog_counter(const struct edge_ota_catalog *c, const char *name);

/* Would adding m be refused? 0, -EEXIST (same digest, or same name and
 * version), EDGE_OTA_EROLLBACK (counter below the name's), EDGE_ELIMIT (a
 * bound above is reached). Checked in that order. */
#define EDGE_OTA_EROLLBACK (-4001)
int edge_ota_catalog_check_add(const struct edge_ota_catalog *c, const struct edge_ota_model *m);

/* After the store op committed. add copies m: 0, -EEXIST (digest
 * present), EDGE_ELIMIT, -ENOMEM. */
EDGE_WUR int edge_ota_catalog_add(struct edge_ota_catalog *c, const struct edge_ota_model *m);
void edge_ota_catalog_remove(struct edge_ota_catalog *c, const char *digest);

/* ---- writer-thread operations ---- */

/* Insert the model and raise its name's counter, after the same checks as
 * edge_ota_catalog_check_add against the tables (the truth). manifest
 * bytes are stored exactly and must parse to m's name, version, counter
 * and SHA-256 (else -EINVAL). 0, -EEXIST, EDGE_OTA_EROLLBACK, EDGE_ELIMIT,
 * -EINVAL, store errors. */
int edge_ota_store_add_op(edge_store_conn *conn, const struct edge_ota_model *m,
			  const void *manifest, size_t manifest_len);
/* Delete the model row (the counter stays). 0 or EDGE_ENOTFOUND. */
int edge_ota_store_remove_op(edge_store_conn *conn, const char *digest);

struct edge_ota_transfer_row {
	uint32_t id;
	char digest[EDGE_OTA_DIGEST_HEX + 1];
	uint32_t chunk_size;
	bool campaign;
	int64_t created_ms, finished_ms;         /* finished 0: open */
};
int edge_ota_store_transfer_op(edge_store_conn *conn, const struct edge_ota_transfer_row *t);
/* Upsert node statuses of a transfer (a coalesced batch; the transfer's
 * row must exist). One invalid status (id, state, reason, chunks_held >
 * n_chunks) refuses the whole batch with -EINVAL before anything is
 * written. */
int edge_ota_store_nodes_op(edge_store_conn *conn, uint32_t transfer,
			    const struct edge_ota_node_status *st, unsigned n);

/* A node's model history: on `activated` the active model becomes the
 * previous one; every final state records the last outcome. */
struct edge_ota_device_row {
	char device[EDGE_OTA_NODE_ID_MAX + 1];
	char active_name[EDGE_MSG_TOKEN_CAP], active_version[EDGE_MSG_TOKEN_CAP];
	char active_sha256[EDGE_MSG_SHA256_HEX + 1];
	char previous_name[EDGE_MSG_TOKEN_CAP], previous_version[EDGE_MSG_TOKEN_CAP];
	char previous_sha256[EDGE_MSG_SHA256_HEX + 1];
	uint32_t last_transfer;
	char last_outcome[16];                   /* node state name: activated, failed, ... */
	char last_reason[32];
	int64_t updated_ms;
};
/* Record the end of a node's transfer of model m (state final, else
 * -EINVAL). activated: m becomes active and the active one previous
 * (unless m already was the active one); any other end keeps both (a
 * revert runs the active model again). Empty strings in a row: none known. */
int edge_ota_store_device_op(edge_store_conn *conn, const char *device, uint32_t transfer,
			     const struct edge_ota_manifest *m, enum edge_ota_node_state state,
			     uint8_t reason, int64_t wall_ms);

/* ---- reads (any connection; at start, or on libuv's pool) ---- */

/* Next transfer id (max + 1, at least 1; ids are never reused).
 * EDGE_ELIMIT once 2^32 - 1 is taken. */
EDGE_WUR int edge_ota_store_next_transfer(struct sqlite3 *db, uint32_t *out);
/* Open transfers (finished_ms 0) by id, each followed by its nodes (by
 * device id), for the restart. A callback's non-zero stops the walk and is
 * returned. EDGE_ECORRUPT for a state or reason name this build does not
 * know, or a value out of range. */
EDGE_WUR int edge_ota_store_load_open(struct sqlite3 *db,
				      int (*transfer)(const struct edge_ota_transfer_row *t, void *ud),
				      int (*node)(uint32_t transfer,
						  const struct edge_ota_node_status *st, void *ud),
				      void *ud);
/* The device's row. 0 or EDGE_ENOTFOUND. */
EDGE_WUR int edge_ota_store_device_get(struct sqlite3 *db, const char *device,
				       struct edge_ota_device_row *out);

/* ---- files (libuv's pool) ---- */

/* Write pkg into dir/<digest>.pkg (0640) atomically (temp file, fsync,
 * rename, fsync of dir); an existing file of that name and size is kept
 * (same content by construction; another size is damage and is replaced).
 * Creates dir (0750, one level) when missing. pkg's SHA-256 is checked to
 * be digest first (EDGE_ECORRUPT). A digest of any form other than 64
 * lowercase hex digits: -EINVAL (this and every file helper). 0 or -errno
 * with err. */
EDGE_WUR int edge_ota_store_write_file(const char *dir, const char *digest, const void *pkg,
				       size_t len, char *err, size_t errlen);
/* Read dir/<digest>.pkg (at most max bytes) into a new malloc'd buffer and
 * check its SHA-256 is digest. 0, -ENOENT, -EFBIG, EDGE_ECORRUPT. */
EDGE_WUR int edge_ota_store_read_file(const char *dir, const char *digest, size_t max,
				      uint8_t **out, size_t *len, char *err, size_t errlen);
/* Remove dir/<digest>.pkg (missing is fine). */
int edge_ota_store_unlink_file(const char *dir, const char *digest);

#endif
