/* Sending a rollout's nodes back to their previous model (rollout_internal.h;
 * the revert frame: proto/ota/transfer.md).
 *
 * A node that activated the rollout's model holds the model it ran before
 * in its other slot (the OTA device history names it: previous_*). It gets
 * a revert frame naming that model's SHA-256: it switches slots, runs the
 * self-test and answers with a result; no model byte is sent. The frame is
 * sent again every ROLLOUT_REVERT_RESEND_MS while the node is online and
 * the answer is missing (the node answers a repeat of a revert it already
 * made as a success), until rollout.node_timeout_s.
 *
 * A node that answers not_held (its other slot was overwritten) gets the
 * previous model's bytes instead, when the store still has that package:
 * one ordinary OTA transfer per previous model, one after the other. Its
 * anti-rollback rule still applies on the node (a previous model with a
 * lower counter is denied). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_log.h"
#include "edge_time.h"
#include "edged.h"
#include "ota_internal.h"
#include "rollout_internal.h"

static bool node_online(const struct rollout *r, const char *id)
{
	struct edge_node_info info;

	return edge_registry_get(r->svc->ota->registry, id, &info) == 0 &&
	       info.state == EDGE_NODE_ONLINE;
}

/* The node went back (how: "slot" or "bytes"). */
static void reverted(struct rollout *r, struct ro_node *n, const char *how)
{
	n->outcome = EDGE_ROLLOUT_NODE_REVERTED;
	n->revert = RO_REVERT_ENDED;
	snprintf(n->reason, sizeof n->reason, "%s", how);
	r->svc->stats.nodes_reverted++;
	ro_save_nodes(r, (unsigned)(n - r->nodes), 1);
}

/* It could not go back: it keeps its outcome (it still runs the new
 * model), the reason says why. */
static void not_reverted(struct rollout *r, struct ro_node *n, const char *why)
{
	n->revert = RO_REVERT_ENDED;
	snprintf(n->reason, sizeof n->reason, "revert failed: %.32s", why);
	ro_save_nodes(r, (unsigned)(n - r->nodes), 1);
}

static bool runs_rollout_model(const struct rollout *r, const struct edge_ota_device_row *dev)
{
	return strcmp(dev->active_name, r->row.name) == 0 &&
	       strcmp(dev->active_version, r->row.version) == 0;
}

static void send_frame(struct rollout *r, struct ro_node *n, const char *sha, uint64_t now)
{
	n->revert_sent_ms = now;
	if (ota_revert_send(r->svc->ota, n->id, n->revert_id, sha) < 0)
		n->revert_sent_ms = 0; /* offline or back-pressure: the next step tries */
}

/* Starts (or, after a restart, restarts) the revert of r's activated nodes
 * of stage (UINT32_MAX: all). */
static void revert_nodes(struct rollout *r, uint32_t stage, unsigned *sent, unsigned *unknown)
{
	struct edged_ota *o = r->svc->ota;
	uint64_t now = edge_time_monotonic_ms();

	*sent = *unknown = 0;
	r->revert_started_ms = (int64_t)ota_wall_ms();
	r->revert_open = true;
	/* kept, so a restart in the middle sends the frames again */
	r->row.revert_stage = stage == UINT32_MAX ? EDGE_ROLLOUT_REVERT_ALL : (int32_t)stage;
	ro_save_row(r);
	for (unsigned i = 0; i < r->n_nodes; i++) {
		struct ro_node *n = &r->nodes[i];
		const struct edge_ota_device_row *dev;

		if (stage != UINT32_MAX && n->stage != stage)
			continue;
		if (n->outcome == EDGE_ROLLOUT_NODE_PENDING && n->activated_ms) {
			/* activated, not yet seen online with it: it runs it */
			n->outcome = EDGE_ROLLOUT_NODE_SUCCESS;
			n->why = EDGE_ROLLOUT_SUCCESS;
			snprintf(n->reason, sizeof n->reason, "%s",
				 edge_rollout_outcome_name(EDGE_ROLLOUT_SUCCESS));
			ro_save_nodes(r, i, 1);
		}
		if (n->outcome != EDGE_ROLLOUT_NODE_SUCCESS || n->revert == RO_REVERT_ENDED)
			continue;
		dev = ota_dev_find(o, n->id);
		if (!dev || !runs_rollout_model(r, dev) || !dev->previous_sha256[0]) {
			not_reverted(r, n, !dev || dev->previous_sha256[0] ? "no longer runs the model"
									     : "no previous model known");
			(*unknown)++;
			continue;
		}
		n->revert = RO_REVERT_SLOT;
		n->revert_id = ota_take_id(o);
		send_frame(r, n, dev->previous_sha256, now);
		(*sent)++;
	}
	ro_kick(r->svc);
}

void ro_revert_start(struct rollout *r, uint32_t stage)
{
	char name[16];
	unsigned sent, unknown;

	r->svc->stats.reverts++;
	if (stage == UINT32_MAX) {
		ro_cancel_transfer(r);
		ro_set_state(r, EDGE_ROLLOUT_REVERTING, "reverted by the operator");
	}
	revert_nodes(r, stage, &sent, &unknown);
	if (stage == UINT32_MAX)
		snprintf(name, sizeof name, "every stage");
	else
		ro_stage_name(r, stage, name, sizeof name);
	ro_event(r, "revert of %s started: %u node%s sent back to their previous model from "
		    "their other slot, %u cannot be (no previous model known, or another runs)",
		 name, sent, sent == 1 ? "" : "s", unknown);
}

void ro_revert_resume(struct rollout *r)
{
	unsigned sent, unknown;
	uint32_t stage = r->row.revert_stage < 0 ? UINT32_MAX : (uint32_t)r->row.revert_stage;

	revert_nodes(r, stage, &sent, &unknown);
	ro_event(r, "resumed after a restart: revert frames sent again to %u node%s", sent,
		 sent == 1 ? "" : "s");
}

bool ro_reverting(const struct rollout *r)
{
	return r->revert_open || r->row.state == EDGE_ROLLOUT_REVERTING;
}

static struct ro_node *revert_node(struct edged_rollout *s, const char *id, uint32_t rid,
				   struct rollout **rout)
{
	for (struct rollout *r = s->list; r; r = r->next) {
		if (edge_rollout_state_final(r->row.state))
			continue;
		for (unsigned i = 0; i < r->n_nodes; i++) {
			struct ro_node *n = &r->nodes[i];

			if (n->revert == RO_REVERT_SLOT && n->revert_id == rid &&
			    strcmp(n->id, id) == 0) {
				*rout = r;
				return n;
			}
		}
	}
	return NULL;
}

int ro_revert_on_answer(void *ud, const char *id, const struct edge_ota_answer *a)
{
	struct edged_rollout *s = ud;
	struct rollout *r;
	struct ro_node *n = revert_node(s, id, a->transfer, &r);

	if (!n)
		return EDGE_ENOTFOUND;
	if (a->type != EDGE_OTA_MSG_RESULT)
		return 0; /* only a result answers a revert frame */
	if (a->outcome == EDGE_OTA_OUTCOME_ACTIVATED) {
		ota_record_revert(s->ota, id, a->transfer);
		reverted(r, n, "slot");
	} else if (a->reason == EDGE_OTA_R_NOT_HELD) {
		n->revert = RO_REVERT_BYTES;
	} else if (a->reason == EDGE_OTA_R_BUSY) {
		n->revert_sent_ms = edge_time_monotonic_ms(); /* sent again later */
	} else {
		not_reverted(r, n, edge_ota_reason_name((enum edge_ota_reason)a->reason));
	}
	ro_kick(s);
	return 0;
}

void ro_revert_on_final(struct rollout *r, const struct edge_ota_node_status *st)
{
	struct ota_xfer *x = ota_xfer_find(r->svc->ota, r->revert_xfer);
	bool open = false;

	for (unsigned i = 0; i < r->n_nodes; i++) {
		struct ro_node *n = &r->nodes[i];

		if (n->revert != RO_REVERT_BYTES)
			continue;
		if (strcmp(n->id, st->id) != 0) {
			open |= x && ota_xfer_has_node(x, n->id);
			continue;
		}
		if (st->state == EDGE_OTA_N_ACTIVATED)
			reverted(r, n, "bytes");
		else
			not_reverted(r, n, edge_ota_reason_name((enum edge_ota_reason)st->reason));
	}
	/* its last node decided: the next previous model's nodes may go
	 * (the transfer itself closes on its own) */
	if (!open)
		r->revert_xfer = 0;
}

/* The stored model whose model SHA-256 is sha (NULL: none). */
static const struct edge_ota_model *model_of_sha(const struct edged_ota *o, const char *sha)
{
	for (unsigned i = 0; i < edge_ota_catalog_count(o->catalog); i++) {
		const struct edge_ota_model *m = edge_ota_catalog_at(o->catalog, i);

		if (strcmp(m->manifest.sha256, sha) == 0)
			return m;
	}
	return NULL;
}

static const char *previous_sha(const struct rollout *r, const struct ro_node *n)
{
	const struct edge_ota_device_row *dev = ota_dev_find(r->svc->ota, n->id);

	return dev ? dev->previous_sha256 : "";
}

/* The fallback transfer: the nodes waiting for bytes of the same previous
 * model as the first of them. */
static void bytes_launch(struct rollout *r, struct ota_pkg *pkg, const char *err)
{
	struct edged_ota *o = r->svc->ota;
	const struct edge_ota_model *m = NULL;
	char (*ids)[EDGE_OTA_NODE_ID_MAX + 1] = NULL;
	unsigned k = 0;
	struct ota_xfer *x;
	int rc = -ENOMEM;

	for (unsigned i = 0; i < r->n_nodes && !m; i++)
		if (r->nodes[i].revert == RO_REVERT_BYTES)
			m = model_of_sha(o, previous_sha(r, &r->nodes[i]));
	if (!m || r->revert_xfer)
		return; /* gone meanwhile: the next step decides */
	if (pkg)
		ids = calloc(r->n_nodes, sizeof *ids);
	for (unsigned i = 0; i < r->n_nodes; i++) {
		struct ro_node *n = &r->nodes[i];

		if (n->revert != RO_REVERT_BYTES ||
		    strcmp(previous_sha(r, n), m->manifest.sha256) != 0)
			continue;
		if (err)
			not_reverted(r, n, "previous package unreadable");
		else if (ids && !ota_xfer_of_node(o, n->id))
			snprintf(ids[k++], sizeof ids[0], "%s", n->id);
	}
	if (k)
		rc = ota_xfer_start(o, m, pkg, &o->cfg, ids, k, &x);
	free(ids);
	if (k && rc == 0) {
		r->revert_xfer = x->row.id;
		ro_event(r, "revert: %u node%s no longer hold their previous model (%s@%s): its "
			    "bytes go in transfer %u",
			 k, k == 1 ? "" : "s", m->manifest.name, m->manifest.version, x->row.id);
	}
}

void ro_revert_step(struct rollout *r, uint64_t now, uint64_t *next_ms)
{
	struct edged_ota *o = r->svc->ota;
	const struct edge_settings *cfg = ro_settings(r->svc);
	bool late = (int64_t)ota_wall_ms() - r->revert_started_ms >=
		    (int64_t)cfg->rollout.node_timeout_s * 1000;
	unsigned slot = 0, bytes = 0, back = 0, stuck = 0;
	const struct edge_ota_model *m;

	if (r->revert_xfer && !ota_xfer_find(o, r->revert_xfer)) {
		/* the fallback transfer ended: nodes it did not decide failed */
		for (unsigned i = 0; i < r->n_nodes; i++)
			if (r->nodes[i].revert == RO_REVERT_BYTES &&
			    ota_xfer_of_node(o, r->nodes[i].id) == NULL)
				not_reverted(r, &r->nodes[i], "transfer ended");
		r->revert_xfer = 0;
	}
	for (unsigned i = 0; i < r->n_nodes; i++) {
		struct ro_node *n = &r->nodes[i];

		if (n->revert == RO_REVERT_SLOT) {
			if (late) {
				not_reverted(r, n, "timeout");
				continue;
			}
			slot++;
			if (now - n->revert_sent_ms >= ROLLOUT_REVERT_RESEND_MS &&
			    node_online(r, n->id))
				send_frame(r, n, previous_sha(r, n), now);
		} else if (n->revert == RO_REVERT_BYTES) {
			if (late && !(r->revert_xfer && ota_xfer_of_node(o, n->id))) {
				not_reverted(r, n, "timeout");
				continue;
			}
			if (!model_of_sha(o, previous_sha(r, n))) {
				not_reverted(r, n, "not held, package not stored");
				continue;
			}
			bytes++;
		}
		if (n->outcome == EDGE_ROLLOUT_NODE_REVERTED)
			back++;
		else if (n->revert == RO_REVERT_ENDED)
			stuck++;
	}
	/* answers and the fallback's end kick the timer; the poll is the
	 * resend clock and a bound on a missed kick */
	if ((slot || r->revert_xfer) && ROLLOUT_POLL_MS < *next_ms)
		*next_ms = ROLLOUT_POLL_MS;
	if (bytes && !r->revert_xfer && !r->reading) {
		for (unsigned i = 0; i < r->n_nodes; i++)
			if (r->nodes[i].revert == RO_REVERT_BYTES) {
				m = model_of_sha(o, previous_sha(r, &r->nodes[i]));
				if (o->n_open + o->sends_pending >= o->max_transfers ||
				    ro_with_package(r, m, bytes_launch) < 0) {
					if (ROLLOUT_RETRY_MS < *next_ms)
						*next_ms = ROLLOUT_RETRY_MS;
				}
				break;
			}
	}
	if (slot || bytes || r->revert_xfer || r->reading)
		return;
	r->revert_open = false;
	r->row.revert_stage = EDGE_ROLLOUT_REVERT_NONE; /* saved with the state or below */
	if (r->row.state == EDGE_ROLLOUT_REVERTING) {
		char why[EDGE_ROLLOUT_REASON_MAX];

		snprintf(why, sizeof why, "%u node%s back on their previous model, %u could not go back",
			 back, back == 1 ? "" : "s", stuck);
		ro_set_state(r, EDGE_ROLLOUT_REVERT_ENDED, why);
		ro_event(r, "reverted: %s", why);
	} else {
		ro_save_row(r);
		ro_event(r, "revert ended: %u node%s back on their previous model, %u could not go back",
			 back, back == 1 ? "" : "s", stuck);
	}
}
