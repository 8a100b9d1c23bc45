/* A simulated node's side of OTA: the device SDK's receiver
 * (proto/edge_ota_receiver.h, unchanged) on a simulated platform, plus the
 * misbehaviours the gateway must survive.
 *
 * The platform models a node's flash in the node struct, so it survives a
 * simulated reboot: the inactive slot (allocated at erase to the model's
 * size, freed after the result), the receiver's resume state, the
 * anti-rollback counters, and what the two slots hold whole for a revert
 * frame: the manifest and self-test output of the running model and of the
 * one that ran before it (no model bytes: the stored output serves a
 * revert's self-test; an erase for a new transfer forgets the other slot's). Signatures and SHA-256 go through lib/ota
 * (OpenSSL EVP); the self-test runs the slot's bytes on lib/infer
 * (edge_ota_selftest_run, the code that computed the golden hash).
 *
 * The receiver lives in "RAM": created at the node's first frame, dropped
 * by a reboot and created again from the saved resume state.
 *
 * The transport is the host's (edge-sim: MQTT; the Check test: a capture):
 * answers and campaign (un)subscriptions go through struct sim_ota_host.
 * What the host must do afterwards (hello again, drop the connection) is
 * reported as events (sim_ota_take_events), never by calling back into the
 * host from inside a frame's processing.
 *
 * Threading: one loop thread; no locks. */
#ifndef SIM_OTA_H
#define SIM_OTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_node_msg.h"
#include "edge_ota_keys.h"
#include "edge_ota_receiver.h"
#include "edge_ota_verify.h"

#define SIM_OTA_COUNTERS_MAX 8 /* model names with an anti-rollback counter */
#define SIM_OTA_CORRUPT_FRAMES 3

/* What every node of a run shares: trust anchors, announced capabilities,
 * behaviour parameters. */
struct sim_ota_fleet {
	struct edge_ota_trust trust;       /* at most EDGE_OTA_RX_TRUST_MAX keys */
	unsigned threshold;
	const char *ops[EDGE_MSG_MAX_OPS]; /* into ops_text or lib/infer's table */
	unsigned n_ops;
	char *ops_text;                    /* --ops, split in place */
	uint32_t arena_bytes;              /* tensor arena budget */
	uint32_t flash_bytes;              /* the inactive slot's size */
	uint64_t stall_ms;                 /* --ota-stall: how long a node freezes */
	double drop;                       /* --ota-drop: fraction of chunk frames lost */
	/* Self-test results by the slot's SHA-256 and the seed. A thousand
	 * simulated nodes share one process and take the same bytes: the
	 * first runs the model, the others (whose slot hashed the same)
	 * reuse its output hash, so the fleet's time is its transfer's, not
	 * a thousand serial inferences (each real node runs its own). */
	struct sim_ota_memo *memo;
};

/* Misbehaviours, one bit each (a node may have several). */
enum sim_ota_behave {
	SIM_OTA_DENY = 1u << 0,          /* deny every offer, reason busy */
	SIM_OTA_STALL = 1u << 1,         /* at half the chunks: freeze stall_ms */
	SIM_OTA_REBOOT = 1u << 2,        /* once at half: reboot (receiver from saved state) */
	SIM_OTA_DISCONNECT = 1u << 3,    /* once at half: lose the connection */
	SIM_OTA_CORRUPT = 1u << 4,       /* flip a byte in the first 3 chunk frames */
	SIM_OTA_FAIL_SELFTEST = 1u << 5, /* the self-test hash comes out wrong */
	SIM_OTA_FORGET_PREVIOUS = 1u << 6, /* the other slot was erased: reverts are not_held */
};

/* Events for the host (sim_ota_take_events). */
enum sim_ota_event {
	SIM_OTA_EV_MODEL = 1u << 0,      /* a model activated or a revert ran: say hello with it */
	SIM_OTA_EV_FINAL = 1u << 1,      /* the node's first final result went out */
	SIM_OTA_EV_REBOOT = 1u << 2,     /* drop the connection without DISCONNECT, boot again */
	SIM_OTA_EV_DISCONNECT = 1u << 3, /* drop the connection, reconnect */
};

struct sim_ota_host {
	void *ud;
	/* Publish on <p>/<id>/ota/req/answer: QoS 0 when is_ack, else 1. */
	int (*send)(void *ud, const char *json, size_t len, bool is_ack);
	/* (Un)subscribe the campaign topic of transfer. */
	int (*campaign)(void *ud, uint32_t transfer, bool on);
};

/* Counters of one node, summed over its receivers' lives. */
struct sim_ota_stats {
	unsigned long offers, accepted, denied, chunks, dups;
	unsigned long bad;               /* frames refused: CRC, malformed */
	unsigned long stray;             /* chunks of no transfer in progress */
	unsigned long activated, reverted, failed;
	unsigned long dropped, corrupted, stalled, ignored, reboots, disconnects;
	unsigned long send_errors;
	unsigned long reverts, revert_failures; /* revert frames answered activated / failed */
};

struct sim_ota_node {
	const struct sim_ota_fleet *fleet;
	struct sim_ota_host host;
	unsigned behave;                 /* enum sim_ota_behave */
	uint32_t rng;                    /* xorshift32 state for --ota-drop */

	/* "flash": survives reboots */
	uint8_t *slot;                   /* the inactive slot, NULL between transfers */
	uint32_t slot_len;
	uint8_t *state;                  /* resume state, EDGE_OTA_RX_STATE_MAX bytes once saved */
	size_t state_len;
	unsigned n_counters;
	struct {
		char name[EDGE_MSG_TOKEN_CAP];
		uint64_t counter;
	} counters[SIM_OTA_COUNTERS_MAX];
	bool has_model, had_model;       /* running model; the one in the other slot */
	struct edge_msg_model model, previous;
	/* Their manifests and self-test outputs, NULL when unknown (the
	 * initial model has none; an erase forgets other_m). */
	struct sim_ota_held *run_m, *other_m;
	bool reboot_done, disconnect_done, stall_done, reported;
	unsigned corrupted;

	/* "RAM": lost at a reboot */
	struct edge_ota_rx *rx;
	void *md;                        /* EVP_MD_CTX of the hash in progress */
	uint8_t slot_sha[32];            /* the last hash the receiver took (of the slot) */
	bool offline;                    /* between a drop and the next connect */
	uint64_t stall_until;
	uint32_t transfer, n_chunks, seen; /* the offer being received, chunks fed */
	uint32_t campaign;               /* campaign transfer subscribed, 0: none */
	unsigned events;                 /* enum sim_ota_event, not yet taken */
	bool result_sent;                /* a transfer's result went out in this call */
	bool reverting;                  /* a revert frame is with the receiver */
	struct sim_ota_stats st;         /* with the counters of receivers gone */
};

/* Load trust (every DIR/ *.pub, 1 .. EDGE_OTA_RX_TRUST_MAX of them;
 * trust_dir NULL: none, the fleet only describes hellos), ops (ops_list
 * comma-separated, NULL: every op lib/infer runs), budgets (0: the
 * defaults, 96 KiB arena, 1 MiB flash). 0 or -1 with err; free either way. */
int sim_ota_fleet_init(struct sim_ota_fleet *f, const char *trust_dir, unsigned threshold,
		       const char *ops_list, uint32_t arena_bytes, uint32_t flash_bytes,
		       char *err, size_t errlen);
/* Replace the ops alone (as sim_ota_fleet_init reads ops_list). */
int sim_ota_fleet_ops(struct sim_ota_fleet *f, const char *ops_list, char *err, size_t errlen);
void sim_ota_fleet_free(struct sim_ota_fleet *f);

void sim_ota_node_init(struct sim_ota_node *n, const struct sim_ota_fleet *f,
		       const struct sim_ota_host *h, unsigned behave, uint32_t seed);
void sim_ota_node_free(struct sim_ota_node *n); /* flash and RAM */

/* A message on <p>/<id>/ota/frame or a campaign topic. 0, or a negative
 * errno when the receiver could not be set up (counted). */
int sim_ota_on_frame(struct sim_ota_node *n, const void *buf, size_t len, uint64_t now_ms);
/* Drive the receiver's timers; cheap when idle. Call every 50 ms. */
void sim_ota_tick(struct sim_ota_node *n, uint64_t now_ms);

/* Power cycle: the receiver and everything in RAM is gone; flash stays.
 * The next frame creates the receiver from the saved state. */
void sim_ota_reboot(struct sim_ota_node *n);
/* Connected again: frames count again. */
void sim_ota_online(struct sim_ota_node *n);

unsigned sim_ota_take_events(struct sim_ota_node *n);
/* The running model, NULL for none. */
const struct edge_msg_model *sim_ota_model(const struct sim_ota_node *n);
/* Counters including the live receiver's. */
void sim_ota_stats_add(struct sim_ota_stats *sum, const struct sim_ota_node *n);

#endif
