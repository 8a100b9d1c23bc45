/* What the proto fuzz targets check beyond "no crash": an invariant that
 * fails aborts (the fuzzer's finding), and a rejection must carry a known
 * reason and a terminated field path. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "edge_msg_reject.h"
#include "edge_node_msg.h"

#define CHECK(cond)             \
	do {                    \
		if (!(cond))    \
			abort(); \
	} while (0)

static inline void check_error(const struct edge_msg_error *err)
{
	CHECK(err->reason > EDGE_MSG_OK && err->reason < EDGE_MSG_REJECT_COUNT);
	CHECK(memchr(err->field, '\0', sizeof err->field) != NULL);
}

#endif
