#include "sim_nofile.h"

#include <errno.h>
#include <sys/resource.h>

int sim_raise_nofile(unsigned long need, unsigned long *have)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	struct rlimit want = rl;
	want.rlim_cur = need;
	if (rl.rlim_max < need)
		want.rlim_max = need; /* only works with CAP_SYS_RESOURCE */
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		return 0;
	/* Unprivileged: take whatever the hard limit allows. */
	want.rlim_cur = rl.rlim_max;
	want.rlim_max = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		rl.rlim_cur = rl.rlim_max;
	if (have)
		*have = rl.rlim_cur;
	return rl.rlim_cur >= need ? 0 : -EMFILE;
}
