#include "sim_acklat.h"

#include <string.h>

/* Values below 64 us exactly; above, 32 sub-buckets per power of two. */
static unsigned bucket_of(uint64_t us)
{
	unsigned e;

	if (us < 64)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us); /* >= 6 */
	if (e > 40)
		return SIM_ACKLAT_BUCKETS - 1;
	return 64 + (e - 6) * 32 + (unsigned)((us >> (e - 5)) & 31);
}

static uint64_t bucket_top(unsigned b)
{
	unsigned e, sub;

	if (b < 64)
		return b;
	e = (b - 64) / 32 + 6;
	sub = (b - 64) % 32;
	return ((uint64_t)(32 + sub + 1) << (e - 5)) - 1;
}

static void record(struct sim_acklat_hist *h, uint64_t us)
{
	h->bucket[bucket_of(us)]++;
	h->n++;
	if (us > h->max_us)
		h->max_us = us;
}

void sim_acklat_sent(struct sim_acklat_node *nd, struct sim_acklat_hist *h,
		     uint32_t epoch, uint32_t last_seq, uint64_t now_us)
{
	if (nd->epoch != epoch) { /* a reboot: what was in flight is gone */
		memset(nd, 0, sizeof(*nd));
		nd->epoch = epoch;
	}
	if (last_seq <= nd->tracked_seq)
		return; /* retransmissions only: nothing new to time */
	nd->tracked_seq = last_seq;
	if (nd->n == SIM_ACKLAT_RING) {
		h->untracked++;
		return;
	}
	nd->seq[(nd->head + nd->n) % SIM_ACKLAT_RING] = last_seq;
	nd->t_us[(nd->head + nd->n) % SIM_ACKLAT_RING] = now_us;
	nd->n++;
}

void sim_acklat_acked(struct sim_acklat_node *nd, struct sim_acklat_hist *h,
		      uint32_t epoch, uint32_t acked, uint64_t now_us)
{
	if (nd->epoch != epoch)
		return;
	while (nd->n > 0 && nd->seq[nd->head] <= acked) {
		uint64_t t = nd->t_us[nd->head];

		record(h, now_us > t ? now_us - t : 0);
		nd->head = (uint8_t)((nd->head + 1) % SIM_ACKLAT_RING);
		nd->n--;
	}
}

uint64_t sim_acklat_quantile(const struct sim_acklat_hist *h, double p)
{
	uint64_t want, seen = 0;
	unsigned b;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(p * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (b = 0; b < SIM_ACKLAT_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen > want)
			return bucket_top(b) < h->max_us ? bucket_top(b) : h->max_us;
	}
	return h->max_us;
}
