/* The node identity service: provisioning, rotation and revocation of the
 * nodes' broker identities, and the broker's files in broker.identity_dir
 * (passwd, acl, ca.crl, reload) kept in step with the database.
 *
 * Operations run one at a time, in the order they were asked for; at most
 * IDENTITY_QUEUE_MAX wait behind the running one (more: `busy`). Each goes
 * through the same stages, none of which blocks the loop:
 *   1. worker (uv_queue_work): edged's own password hash, the gateway CA,
 *      new passwords and hashes, new certificates;
 *   2. store writer: the rows (node_identity, revoked_certificate), one
 *      transaction;
 *   3. loop: the table in memory follows the commit; passwd, acl and the
 *      CRL's serial list are rendered from it;
 *   4. worker: files that differ are replaced (atomically, fsync'ed), the
 *      CRL is signed, `reload` is rewritten last, the broker gets SIGHUP
 *      (broker.pid_file);
 *   5. loop: registry mark and retained topics (revocation), audit line,
 *      the answer.
 * The database commits first: after a crash between 2 and 4, the next start
 * renders the files again (the start-up operation, which writes only files
 * whose content differs). A file that cannot be written fails the call with
 * `internal` naming the file; status shows files_in_sync false and the next
 * operation tries again.
 *
 * Secrets: a new password or private key exists only in the operation's
 * memory until it is put in the answer, and is wiped after; only hashes,
 * serials and fingerprints are stored; nothing secret is logged.
 *
 * Threading: every function here runs on the loop. */
#ifndef EDGED_IDENTITY_H
#define EDGED_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "control.h"
#include "edge_config.h"
#include "edge_error.h"

struct edged;
struct edged_identity;

/* Operations that may wait behind the running one. */
#define IDENTITY_QUEUE_MAX 8
/* Ids in one nodes.provision request. */
#define IDENTITY_BATCH_MAX 256

/* Loads the identity table (blocking: before the loop runs, after the store
 * and registry exist) and, when broker.identity_dir is set, queues the
 * start-up operation that brings the files in step. d is borrowed and
 * outlives the service; its registry and router are used when present.
 * Errors: store errors loading, -ENOMEM. */
EDGE_WUR int edged_identity_new(struct edged *d, struct edged_identity **out);

/* Shutdown, step 1: no new operations (`unavailable`), the waiting ones are
 * answered `unavailable`; the running one goes on. NULL-safe. */
void edged_identity_stop(struct edged_identity *svc);

/* Nothing running or waiting. NULL: true. */
bool edged_identity_idle(const struct edged_identity *svc);

/* Stops and releases; when an operation is still running its memory goes
 * when its stage returns (its call is then answered `unavailable`), without
 * touching the registry, router or store any more. NULL-safe. */
void edged_identity_free(struct edged_identity *svc);

/* registry.admission: provisioned → the registry admits only ids with an
 * active identity; open → everyone. At start and on reload. */
void edged_identity_apply_settings(struct edged_identity *svc, const struct edge_settings *s);

/* The control commands (control.h handler shapes, svc as ud). */
int edged_identity_cmd_list(struct edged_identity *svc, json_t *args, json_t **result,
			    char *msg, size_t msglen);
int edged_identity_cmd_provision(struct edged_identity *svc, json_t *args,
				 struct edged_ctl_call *call, char *msg, size_t msglen);
int edged_identity_cmd_revoke(struct edged_identity *svc, json_t *args,
			      struct edged_ctl_call *call, char *msg, size_t msglen);

/* The "identities" object of `status` (new reference; NULL on ENOMEM).
 * svc NULL: {"managed": false}. */
json_t *edged_identity_status(const struct edged_identity *svc);

#endif
