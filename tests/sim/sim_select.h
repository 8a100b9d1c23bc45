/* Node selections for behaviours and control commands:
 *   "all"           every node
 *   "none"          no node
 *   "12.5%"         a deterministic pseudo-random fraction (salted per use)
 *   "3,7,10-19"     indices and inclusive ranges */
#ifndef SIM_SELECT_H
#define SIM_SELECT_H

#include <stdbool.h>

struct sim_select {
	bool all;
	double fraction; /* 0..1; used when > 0 */
	unsigned salt;
	unsigned n_ranges;
	struct { unsigned lo, hi; } ranges[64];
};

/* Parse text; 0 or -EINVAL (syntax, more than 64 ranges, fraction outside
 * 0..100%). */
int sim_select_parse(struct sim_select *s, const char *text, unsigned salt);
bool sim_select_has(const struct sim_select *s, unsigned idx);

#endif
