/* socketpair() override for the simulator: see sim_socketpair.h. */
#include "sim_socketpair.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The simulator is single-threaded: a plain flag is enough. */
static bool refusing;

void sim_socketpair_refuse(bool on)
{
	refusing = on;
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
	if (refusing) {
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_socketpair, domain, type, protocol, sv);
}
