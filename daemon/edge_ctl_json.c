#include "edge_ctl_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_ctl_frame.h"

int edge_ctl_json_frame(const json_t *msg, size_t limit, char **frame, size_t *frame_len)
{
	/* ASCII-only: the peer never has to deal with raw UTF-8. */
	size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII;
	size_t body_len = json_dumpb(msg, NULL, 0, flags);
	char *buf;

	if (body_len == 0)
		return -ENOMEM; /* jansson's only failure for a valid json_t */
	if (body_len > limit)
		return -EMSGSIZE;
	buf = malloc(EDGE_CTL_HEADER_LEN + body_len);
	if (!buf)
		return -ENOMEM;
	if (json_dumpb(msg, buf + EDGE_CTL_HEADER_LEN, body_len, flags) != body_len ||
	    edge_ctl_frame_header((uint8_t *)buf, body_len, limit) < 0) {
		free(buf);
		return -ENOMEM;
	}
	*frame = buf;
	*frame_len = EDGE_CTL_HEADER_LEN + body_len;
	return 0;
}
