/* The simulated node's OTA platform around proto's receiver (sim_ota.h). */
#include "sim_ota.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "edge_ota_pack.h"
#include "edge_ota_transfer.h"
#include "infer_op.h"

#define SIM_OTA_ARENA_DEFAULT (96u * 1024u)
#define SIM_OTA_FLASH_DEFAULT (1024u * 1024u)

__attribute__((format(printf, 3, 4)))
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- fleet */

static bool op_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n >= EDGE_MSG_OP_CAP)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int sim_ota_fleet_ops(struct sim_ota_fleet *f, const char *ops_list, char *err, size_t errlen)
{
	f->n_ops = 0;
	free(f->ops_text);
	f->ops_text = NULL;
	if (!ops_list) {
		/* Every builtin the engine runs: a real model then fits. */
		for (int b = 0; b < 256 && f->n_ops < EDGE_MSG_MAX_OPS; b++) {
			const edge_op_kernel *k = edge_op_kernel_find(b);
			if (k)
				f->ops[f->n_ops++] = k->name;
		}
		assert(f->n_ops > 0);
		return 0;
	}
	f->ops_text = strdup(ops_list);
	if (!f->ops_text)
		return errf(err, errlen, "--ops: out of memory");
	for (char *save = NULL, *t = strtok_r(f->ops_text, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!op_name_valid(t))
			return errf(err, errlen, "--ops: '%s' is not an op name ([A-Z0-9_]{1,31})",
				    t);
		if (f->n_ops == EDGE_MSG_MAX_OPS)
			return errf(err, errlen, "--ops: more than 64 ops");
		f->ops[f->n_ops++] = t;
	}
	/* An empty list is allowed: a node that runs nothing fits no model. */
	return 0;
}

#define SIM_OTA_MEMO_MAX 8

struct sim_ota_memo {
	unsigned n, next;
	struct {
		uint8_t sha[32];
		uint32_t seed;
		uint8_t out[32];
	} e[SIM_OTA_MEMO_MAX];
};

int sim_ota_fleet_init(struct sim_ota_fleet *f, const char *trust_dir, unsigned threshold,
		       const char *ops_list, uint32_t arena_bytes, uint32_t flash_bytes,
		       char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	edge_ota_trust_init(&f->trust);
	f->threshold = threshold ? threshold : 1;
	f->arena_bytes = arena_bytes ? arena_bytes : SIM_OTA_ARENA_DEFAULT;
	f->flash_bytes = flash_bytes ? flash_bytes : SIM_OTA_FLASH_DEFAULT;
	if (sim_ota_fleet_ops(f, ops_list, err, errlen) != 0)
		return -1;
	if (!trust_dir)
		return 0;
	char why[512] = "";
	if (edge_ota_trust_load_dir(&f->trust, trust_dir, why, sizeof(why)) != 0)
		return errf(err, errlen, "--ota-trust %s: %s", trust_dir, why);
	if (f->trust.n == 0)
		return errf(err, errlen, "--ota-trust %s: no *.pub key", trust_dir);
	if (f->trust.n > EDGE_OTA_RX_TRUST_MAX)
		return errf(err, errlen, "--ota-trust %s: more than 4 keys (a node holds 4)",
			    trust_dir);
	if (f->threshold > f->trust.n)
		return errf(err, errlen, "--ota-threshold: above the number of keys in %s",
			    trust_dir);
	f->memo = calloc(1, sizeof(*f->memo));
	if (!f->memo)
		return errf(err, errlen, "out of memory");
	return 0;
}

void sim_ota_fleet_free(struct sim_ota_fleet *f)
{
	free(f->memo);
	f->memo = NULL;
	edge_ota_trust_clear(&f->trust);
	free(f->ops_text);
	f->ops_text = NULL;
	f->n_ops = 0;
}

/* ---- the platform: flash */

/* A model a slot holds whole, as far as a revert needs it. */
struct sim_ota_held {
	struct edge_ota_manifest m;
	bool tested;                     /* out is its self-test's output */
	uint8_t out[32];
};

static void forget_other(struct sim_ota_node *n)
{
	free(n->other_m);
	n->other_m = NULL;
}

static int p_slot_erase(void *ud, uint32_t len)
{
	struct sim_ota_node *n = ud;
	if (len == 0 || len > n->fleet->flash_bytes)
		return -ENOSPC;
	forget_other(n); /* the inactive slot held it */
	if (len != n->slot_len) {
		uint8_t *b = realloc(n->slot, len);
		if (!b)
			return -ENOMEM;
		n->slot = b;
		n->slot_len = len;
	}
	memset(n->slot, 0xff, len); /* erased NOR flash */
	return 0;
}

static int p_slot_write(void *ud, uint32_t off, const void *buf, uint32_t len)
{
	struct sim_ota_node *n = ud;
	if (!n->slot || off > n->slot_len || len > n->slot_len - off)
		return -EFAULT;
	memcpy(n->slot + off, buf, len);
	return 0;
}

static int p_slot_read(void *ud, uint32_t off, void *buf, uint32_t len)
{
	struct sim_ota_node *n = ud;
	if (!n->slot || off > n->slot_len || len > n->slot_len - off)
		return -EFAULT;
	memcpy(buf, n->slot + off, len);
	return 0;
}

static int p_state_save(void *ud, const void *buf, size_t len)
{
	struct sim_ota_node *n = ud;
	if (len > EDGE_OTA_RX_STATE_MAX)
		return -E2BIG;
	if (!n->state && !(n->state = malloc(EDGE_OTA_RX_STATE_MAX)))
		return -ENOMEM;
	memcpy(n->state, buf, len);
	n->state_len = len;
	return 0;
}

static int p_state_load(void *ud, void *buf, size_t cap)
{
	struct sim_ota_node *n = ud;
	if (!n->state || n->state_len == 0)
		return 0;
	if (n->state_len > cap)
		return -ENOSPC;
	memcpy(buf, n->state, n->state_len);
	return (int)n->state_len;
}

static uint64_t p_counter_get(void *ud, const char *name)
{
	struct sim_ota_node *n = ud;
	for (unsigned i = 0; i < n->n_counters; i++)
		if (strcmp(n->counters[i].name, name) == 0)
			return n->counters[i].counter;
	return 0;
}

static int p_counter_set(void *ud, const char *name, uint64_t counter)
{
	struct sim_ota_node *n = ud;
	unsigned i = 0;
	while (i < n->n_counters && strcmp(n->counters[i].name, name) != 0)
		i++;
	if (i == n->n_counters) {
		if (i == SIM_OTA_COUNTERS_MAX || strlen(name) >= sizeof(n->counters[i].name))
			return -ENOSPC;
		snprintf(n->counters[i].name, sizeof(n->counters[i].name), "%s", name);
		n->counters[i].counter = 0;
		n->n_counters++;
	}
	/* Only ever raised: that is what makes it anti-rollback. */
	if (counter > n->counters[i].counter)
		n->counters[i].counter = counter;
	return 0;
}

/* ---- the platform: crypto through lib/ota's OpenSSL */

static void p_sha_begin(void *ud)
{
	struct sim_ota_node *n = ud;
	if (!n->md)
		n->md = EVP_MD_CTX_new();
	if (n->md && EVP_DigestInit_ex(n->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(n->md);
		n->md = NULL;
	}
}

static void p_sha_update(void *ud, const void *buf, size_t len)
{
	struct sim_ota_node *n = ud;
	if (n->md && EVP_DigestUpdate(n->md, buf, len) != 1) {
		EVP_MD_CTX_free(n->md);
		n->md = NULL;
	}
}

static void p_sha_end(void *ud, uint8_t out[32])
{
	struct sim_ota_node *n = ud;
	unsigned int ol = 0;
	/* A failed hash gives zeros: the receiver reports a mismatch, never
	 * a false match. */
	if (!n->md || EVP_DigestFinal_ex(n->md, out, &ol) != 1 || ol != 32)
		memset(out, 0, 32);
	memcpy(n->slot_sha, out, 32);
	EVP_MD_CTX_free(n->md);
	n->md = NULL;
}

static bool p_verify(void *ud, uint8_t alg, const uint8_t key_id[EDGE_OTA_KEY_ID_LEN],
		     const void *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
	struct sim_ota_node *n = ud;
	const struct edge_ota_key *k = edge_ota_trust_find(&n->fleet->trust, key_id);
	return k && edge_ota_key_verify(k, alg, msg, len, sig, sig_len);
}

/* ---- the platform: the model */

static void model_of(struct edge_msg_model *mm, const struct edge_ota_manifest *m)
{
	memset(mm, 0, sizeof(*mm));
	snprintf(mm->name, sizeof(mm->name), "%s", m->name);
	snprintf(mm->version, sizeof(mm->version), "%s", m->version);
	snprintf(mm->sha256, sizeof(mm->sha256), "%s", m->sha256);
}

static int p_activate(void *ud, const struct edge_ota_manifest *m)
{
	struct sim_ota_node *n = ud;
	struct sim_ota_held *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->m = *m;
	/* The model that ran is now the other slot's. */
	forget_other(n);
	n->other_m = n->run_m;
	n->run_m = h;
	n->had_model = n->has_model;
	n->previous = n->model;
	model_of(&n->model, m);
	n->has_model = true;
	return 0;
}

static int p_selftest(void *ud, const struct edge_ota_manifest *m, uint8_t out[32])
{
	struct sim_ota_node *n = ud;
	struct sim_ota_held *run = n->run_m;
	char err[256];
	bool same = run && strcmp(run->m.sha256, m->sha256) == 0;
	if (same && run->tested) {
		/* After a revert or again: the output its first run stored. */
		memcpy(out, run->out, 32);
		if (n->behave & SIM_OTA_FAIL_SELFTEST)
			out[0] ^= 0x5a;
		return 0;
	}
	if (!n->slot || m->size > n->slot_len)
		return -EIO;
	struct sim_ota_memo *memo = n->fleet->memo;
	unsigned i;
	/* The receiver hashed the slot (and found the manifest's SHA-256)
	 * right before it activated: the same bytes as a memo entry's. */
	for (i = 0; memo && i < memo->n; i++)
		if (memo->e[i].seed == m->selftest_seed &&
		    memcmp(memo->e[i].sha, n->slot_sha, 32) == 0)
			break;
	if (memo && i < memo->n) {
		memcpy(out, memo->e[i].out, 32);
	} else {
		int rc = edge_ota_selftest_run(n->slot, (size_t)m->size, m->selftest_seed, out,
					       err, sizeof(err));
		if (rc != 0)
			return rc < 0 ? rc : -EIO;
		if (memo) {
			unsigned k = memo->next++ % SIM_OTA_MEMO_MAX;
			memcpy(memo->e[k].sha, n->slot_sha, 32);
			memo->e[k].seed = m->selftest_seed;
			memcpy(memo->e[k].out, out, 32);
			if (memo->n < SIM_OTA_MEMO_MAX)
				memo->n++;
		}
	}
	if (same) {
		memcpy(run->out, out, 32);
		run->tested = true;
	}
	if (n->behave & SIM_OTA_FAIL_SELFTEST)
		out[0] ^= 0x5a; /* a model that runs but computes something else */
	return 0;
}

/* A/B: the other slot's model runs, the running one becomes the other's. */
static int p_revert(void *ud, const struct edge_ota_manifest *m)
{
	struct sim_ota_node *n = ud;
	(void)m;
	bool had = n->had_model;
	struct edge_msg_model prev = n->previous;
	struct sim_ota_held *h = n->other_m;
	n->had_model = n->has_model;
	n->previous = n->model;
	n->has_model = had;
	n->model = prev;
	n->other_m = n->run_m;
	n->run_m = h;
	return 0;
}

static int p_slot_manifest(void *ud, struct edge_ota_manifest *m)
{
	struct sim_ota_node *n = ud;
	if ((n->behave & SIM_OTA_FORGET_PREVIOUS) || !n->other_m)
		return -ENOENT;
	*m = n->other_m->m;
	return 0;
}

static uint64_t p_wall_ms(void *ud)
{
	(void)ud;
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the platform: transport */

static void count_answer(struct sim_ota_node *n, const char *json, size_t len)
{
	struct edge_ota_answer a;
	struct edge_msg_error e;
	if (edge_ota_answer_parse(json, len, &a, &e) != 0)
		return; /* the receiver's own encoding: cannot happen */
	switch (a.type) {
	case EDGE_OTA_MSG_ACCEPT: n->st.accepted++; break;
	case EDGE_OTA_MSG_DENY: n->st.denied++; break;
	case EDGE_OTA_MSG_RESULT:
		/* A revert's answer: no transfer ended, the slot stays. */
		if (n->reverting) {
			if (a.outcome == EDGE_OTA_OUTCOME_ACTIVATED) {
				n->st.reverts++;
				n->events |= SIM_OTA_EV_MODEL;
			} else {
				n->st.revert_failures++;
			}
			break;
		}
		if (a.outcome == EDGE_OTA_OUTCOME_ACTIVATED) {
			n->st.activated++;
			n->events |= SIM_OTA_EV_MODEL;
		} else if (a.outcome == EDGE_OTA_OUTCOME_REVERTED) {
			n->st.reverted++;
		} else {
			n->st.failed++;
		}
		if (!n->reported) {
			n->reported = true;
			n->events |= SIM_OTA_EV_FINAL;
		}
		n->result_sent = true;
		break;
	default: break;
	}
}

static int p_send(void *ud, const char *json, size_t len, bool is_ack)
{
	struct sim_ota_node *n = ud;
	count_answer(n, json, len);
	int rc = n->host.send(n->host.ud, json, len, is_ack);
	if (rc < 0)
		n->st.send_errors++;
	return rc;
}

static int p_campaign(void *ud, uint32_t transfer, bool on)
{
	struct sim_ota_node *n = ud;
	if (on)
		n->campaign = transfer;
	else if (n->campaign == transfer)
		n->campaign = 0;
	return n->host.campaign(n->host.ud, transfer, on);
}

/* ---- node */

void sim_ota_node_init(struct sim_ota_node *n, const struct sim_ota_fleet *f,
		       const struct sim_ota_host *h, unsigned behave, uint32_t seed)
{
	memset(n, 0, sizeof(*n));
	n->fleet = f;
	n->host = *h;
	n->behave = behave;
	n->rng = seed ? seed : 0x9e3779b9u;
}

static void fold_rx_stats(struct sim_ota_stats *st, const struct edge_ota_rx *rx)
{
	const struct edge_ota_rx_stats *r = edge_ota_rx_stats(rx);
	st->chunks += r->chunks;
	st->dups += r->duplicates;
	/* bad frames and strays are counted by the sim, which can tell them
	 * apart (the receiver's bad_frames has both) */
	st->bad += r->out_of_range;
}

static void free_ram(struct sim_ota_node *n)
{
	if (n->rx) {
		fold_rx_stats(&n->st, n->rx);
		free(n->rx);
		n->rx = NULL;
	}
	EVP_MD_CTX_free(n->md);
	n->md = NULL;
	n->transfer = n->n_chunks = n->seen = 0;
	n->campaign = 0;
	n->stall_until = 0;
}

void sim_ota_node_free(struct sim_ota_node *n)
{
	free_ram(n);
	free(n->slot);
	n->slot = NULL;
	n->slot_len = 0;
	free(n->state);
	n->state = NULL;
	n->state_len = 0;
	free(n->run_m);
	n->run_m = NULL;
	forget_other(n);
}

void sim_ota_reboot(struct sim_ota_node *n)
{
	free_ram(n);
	n->st.reboots++;
	n->offline = true;
}

void sim_ota_online(struct sim_ota_node *n)
{
	n->offline = false;
}

unsigned sim_ota_take_events(struct sim_ota_node *n)
{
	unsigned e = n->events;
	n->events = 0;
	return e;
}

const struct edge_msg_model *sim_ota_model(const struct sim_ota_node *n)
{
	return n->has_model ? &n->model : NULL;
}

void sim_ota_stats_add(struct sim_ota_stats *sum, const struct sim_ota_node *n)
{
	struct sim_ota_stats s = n->st;
	if (n->rx)
		fold_rx_stats(&s, n->rx);
	sum->offers += s.offers;
	sum->accepted += s.accepted;
	sum->denied += s.denied;
	sum->chunks += s.chunks;
	sum->dups += s.dups;
	sum->bad += s.bad;
	sum->stray += s.stray;
	sum->activated += s.activated;
	sum->reverted += s.reverted;
	sum->failed += s.failed;
	sum->dropped += s.dropped;
	sum->corrupted += s.corrupted;
	sum->stalled += s.stalled;
	sum->ignored += s.ignored;
	sum->reboots += s.reboots;
	sum->disconnects += s.disconnects;
	sum->send_errors += s.send_errors;
	sum->reverts += s.reverts;
	sum->revert_failures += s.revert_failures;
}

/* The receiver, created from the saved resume state ("boot"). */
static int ensure_rx(struct sim_ota_node *n)
{
	if (n->rx)
		return 0;
	const struct sim_ota_fleet *f = n->fleet;
	struct edge_ota_platform p = {
		.ud = n,
		.slot_size = f->flash_bytes,
		.slot_erase = p_slot_erase,
		.slot_write = p_slot_write,
		.slot_read = p_slot_read,
		.state_save = p_state_save,
		.state_load = p_state_load,
		.counter_get = p_counter_get,
		.counter_set = p_counter_set,
		.sha256_begin = p_sha_begin,
		.sha256_update = p_sha_update,
		.sha256_end = p_sha_end,
		.verify = p_verify,
		.activate = p_activate,
		.selftest = p_selftest,
		.revert = p_revert,
		.wall_ms = p_wall_ms,
		.send = p_send,
		.campaign = p_campaign,
		.slot_manifest = p_slot_manifest,
	};
	struct edge_ota_rx_config cfg = {
		.runtime = "tflm",
		.ops = f->ops,
		.n_ops = f->n_ops,
		.arena_bytes = f->arena_bytes,
		.active_sha256 = n->has_model ? n->model.sha256 : NULL,
		.n_trusted = f->trust.n,
		.threshold = f->threshold,
	};
	assert(f->trust.n >= 1 && f->trust.n <= EDGE_OTA_RX_TRUST_MAX);
	for (unsigned i = 0; i < f->trust.n; i++)
		memcpy(cfg.trusted[i], edge_ota_key_id(f->trust.keys[i]), EDGE_OTA_KEY_ID_LEN);
	n->rx = malloc(sizeof(*n->rx));
	if (!n->rx)
		return -ENOMEM;
	int rc = edge_ota_rx_init(n->rx, &p, &cfg);
	if (rc != 0) {
		free(n->rx);
		n->rx = NULL;
		return rc;
	}
	return 0;
}

static uint32_t xorshift32(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* --ota-deny: answer the offer ourselves, as a node busy with something
 * else would. 0 when denied, -1 to let the receiver judge the offer. */
static int deny_offer(struct sim_ota_node *n, const struct edge_ota_frame *fr)
{
	struct edge_ota_offer o;
	struct edge_ota_container c;
	struct edge_ota_manifest m;
	struct edge_msg_error e;
	if (edge_ota_offer_parse(fr, &o, &e) != 0 ||
	    edge_ota_container_parse(o.head, o.head_len, &c, &e) != 0 ||
	    edge_ota_manifest_parse(c.manifest, c.manifest_len, &m, &e) != 0)
		return -1; /* malformed: the receiver counts it */
	struct edge_ota_answer a;
	memset(&a, 0, sizeof(a));
	a.type = EDGE_OTA_MSG_DENY;
	a.transfer = fr->transfer;
	snprintf(a.sha256, sizeof(a.sha256), "%s", m.sha256);
	a.reason = EDGE_OTA_R_BUSY;
	snprintf(a.detail, sizeof(a.detail), "simulated: busy with something else");
	char json[EDGE_OTA_ANSWER_MAX];
	int len = edge_ota_answer_encode(json, sizeof(json), &a);
	assert(len > 0);
	(void)p_send(n, json, (size_t)len, false);
	return 0;
}

/* Half the chunks of the offer fed: the once-per-node misbehaviours. */
static void at_half(struct sim_ota_node *n, uint64_t now_ms)
{
	if ((n->behave & SIM_OTA_STALL) && !n->stall_done) {
		n->stall_done = true;
		n->stall_until = now_ms + n->fleet->stall_ms;
		n->st.stalled++;
	}
	if ((n->behave & SIM_OTA_REBOOT) && !n->reboot_done) {
		n->reboot_done = true;
		sim_ota_reboot(n); /* RAM gone now; frames until the drop are lost */
		n->events |= SIM_OTA_EV_REBOOT;
		return;
	}
	if ((n->behave & SIM_OTA_DISCONNECT) && !n->disconnect_done) {
		n->disconnect_done = true;
		n->offline = true;
		n->st.disconnects++;
		n->events |= SIM_OTA_EV_DISCONNECT;
	}
}

/* After the receiver ran: a result frees the slot and names the model. */
static void after_rx(struct sim_ota_node *n)
{
	if (!n->result_sent)
		return;
	n->result_sent = false;
	free(n->slot);
	n->slot = NULL;
	n->slot_len = 0;
	if (n->rx)
		edge_ota_rx_set_active(n->rx, n->has_model ? n->model.sha256 : NULL);
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The header's fields without the CRC (the receiver checks that): the
 * misbehaviours only need to know what a frame is, and the CRC is bitwise,
 * the largest cost per chunk. false when it is no frame at all. */
static bool peek(const uint8_t *b, size_t len, struct edge_ota_frame *f)
{
	if (len < EDGE_OTA_FRAME_HDR || le32(b) != EDGE_OTA_FRAME_MAGIC ||
	    b[4] != EDGE_OTA_FRAME_VERSION)
		return false;
	memset(f, 0, sizeof(*f));
	f->type = b[5];
	f->transfer = le32(b + 8);
	f->index = le32(b + 12);
	f->length = le32(b + 16);
	f->payload = b + EDGE_OTA_FRAME_HDR;
	return f->length == len - EDGE_OTA_FRAME_HDR;
}

int sim_ota_on_frame(struct sim_ota_node *n, const void *buf, size_t len, uint64_t now_ms)
{
	if (n->offline || now_ms < n->stall_until) {
		n->st.ignored++;
		return 0;
	}
	struct edge_ota_frame fr;
	struct edge_msg_error e;
	bool known = peek(buf, len, &fr);
	if (known && fr.type == EDGE_OTA_FRAME_OFFER) {
		n->st.offers++;
		/* An offer is rare: parsed in full, CRC and all. */
		if (edge_ota_frame_parse(buf, len, &fr, &e) == 0) {
			if ((n->behave & SIM_OTA_DENY) && deny_offer(n, &fr) == 0)
				return 0;
			struct edge_ota_offer o;
			if (edge_ota_offer_parse(&fr, &o, &e) == 0) {
				n->transfer = fr.transfer;
				n->n_chunks = o.n_chunks;
				n->seen = 0;
			}
		}
	}
	bool chunk = known && fr.type == EDGE_OTA_FRAME_CHUNK;
	uint8_t copy[EDGE_OTA_FRAME_HDR + EDGE_OTA_CHUNK_MAX];
	const void *feed = buf;
	if (chunk && n->fleet->drop > 0 &&
	    (double)xorshift32(&n->rng) / 4294967296.0 < n->fleet->drop) {
		n->st.dropped++;
		return 0;
	}
	if (chunk && (n->behave & SIM_OTA_CORRUPT) && n->corrupted < SIM_OTA_CORRUPT_FRAMES &&
	    len <= sizeof(copy) && fr.length > 0) {
		/* One payload bit changed: only the frame's CRC can tell. */
		memcpy(copy, buf, len);
		copy[EDGE_OTA_FRAME_HDR + fr.length / 2] ^= 0x10;
		feed = copy;
		n->corrupted++;
		n->st.corrupted++;
	}
	int rc = ensure_rx(n);
	if (rc != 0) {
		n->st.bad++;
		return rc;
	}
	bool ours = chunk && edge_ota_rx_busy(n->rx) && fr.transfer == n->transfer;
	uint32_t bad_before = edge_ota_rx_stats(n->rx)->bad_frames;
	n->reverting = known && fr.type == EDGE_OTA_FRAME_REVERT;
	(void)edge_ota_rx_on_frame(n->rx, feed, len, now_ms);
	n->reverting = false;
	/* The receiver's bad_frames has both refused frames and late chunks
	 * of a transfer that ended; tell them apart. */
	if (edge_ota_rx_stats(n->rx)->bad_frames != bad_before) {
		if (chunk && !ours && feed == buf)
			n->st.stray++;
		else
			n->st.bad++;
	}
	after_rx(n);
	if (ours && feed == buf) {
		n->seen++;
		if (n->n_chunks >= 2 && 2 * (uint64_t)n->seen >= n->n_chunks &&
		    edge_ota_rx_busy(n->rx))
			at_half(n, now_ms);
	}
	return 0;
}

void sim_ota_tick(struct sim_ota_node *n, uint64_t now_ms)
{
	if (!n->rx || n->offline || now_ms < n->stall_until || !edge_ota_rx_busy(n->rx))
		return;
	edge_ota_rx_tick(n->rx, now_ms);
	after_rx(n);
}
