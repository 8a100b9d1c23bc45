/* Ack latency of anomaly reports, measured at the node: from the moment a
 * report carrying new events is handed to the MQTT client until an ack's
 * cumulative `acked` covers them. Per node a small ring of (last seq sent,
 * send time); one fleet-wide log-bucket histogram (about 3 % resolution),
 * so a sample costs a few integer operations. */
#ifndef SIM_ACKLAT_H
#define SIM_ACKLAT_H

#include <stdint.h>

#define SIM_ACKLAT_RING 16
#define SIM_ACKLAT_BUCKETS (64 + 35 * 32)

struct sim_acklat_hist {
	uint64_t n;             /* samples */
	uint64_t max_us;
	uint64_t untracked;     /* sends that found the node's ring full */
	uint32_t bucket[SIM_ACKLAT_BUCKETS];
};

/* One node's batches in flight, oldest first, of one epoch. */
struct sim_acklat_node {
	uint32_t epoch;
	uint32_t tracked_seq;   /* highest seq already in the ring or acked */
	uint32_t seq[SIM_ACKLAT_RING];
	uint64_t t_us[SIM_ACKLAT_RING];
	uint8_t head, n;
};

/* Every seq of epoch up to last_seq has been sent, the newest at now_us. */
void sim_acklat_sent(struct sim_acklat_node *nd, struct sim_acklat_hist *h,
		     uint32_t epoch, uint32_t last_seq, uint64_t now_us);

/* An ack of epoch with this cumulative acked arrived at now_us. */
void sim_acklat_acked(struct sim_acklat_node *nd, struct sim_acklat_hist *h,
		      uint32_t epoch, uint32_t acked, uint64_t now_us);

/* The p-quantile (0..1) in microseconds (a bucket's upper edge); 0 when
 * there is no sample. */
uint64_t sim_acklat_quantile(const struct sim_acklat_hist *h, double p);

#endif
