/* One descriptor per simulated client instead of three.
 *
 * libmosquitto 2.0.11 opens a socket pair in every client (at creation and
 * at each connect) only to wake its own select() loop, which the simulator
 * never runs: it drives each client from libuv and asks for writability
 * itself. With the pair, 10,000 nodes need 30,000 descriptors, above the
 * usual hard limit of 20,000 that an unprivileged (or container) process
 * cannot raise. The simulator therefore overrides socketpair(): while
 * refusing is switched on (around the libmosquitto calls that open the pair)
 * it fails with EMFILE, which libmosquitto handles by logging a warning and
 * going on without the pair; at all other times it makes the real system
 * call. Newer libmosquitto has MOSQ_OPT_DISABLE_SOCKETPAIR for this. */
#ifndef SIM_SOCKETPAIR_H
#define SIM_SOCKETPAIR_H

#include <stdbool.h>

void sim_socketpair_refuse(bool on);

#endif
