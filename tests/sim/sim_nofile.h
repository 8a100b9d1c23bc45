/* Raise RLIMIT_NOFILE for a process that holds one socket per simulated node. */
#ifndef SIM_NOFILE_H
#define SIM_NOFILE_H

/* Raise the soft limit (and the hard one when privileged) to at least
 * `need` descriptors. 0, or -errno when the limit stays below `need`
 * (the current soft limit is then stored in *have when have != NULL). */
int sim_raise_nofile(unsigned long need, unsigned long *have);

#endif
