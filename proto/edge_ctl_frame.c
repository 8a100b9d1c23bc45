/* Length-prefixed control frames: header encoder and incremental decoder. */
#include "edge_ctl_frame.h"

#include <errno.h>
#include <string.h>

int edge_ctl_frame_header(uint8_t hdr[EDGE_CTL_HEADER_LEN], size_t body_len,
			  size_t limit)
{
	if (body_len > limit || body_len > 0xffffffffu)
		return -EMSGSIZE;
	hdr[0] = (uint8_t)(body_len >> 24);
	hdr[1] = (uint8_t)(body_len >> 16);
	hdr[2] = (uint8_t)(body_len >> 8);
	hdr[3] = (uint8_t)body_len;
	return 0;
}

void edge_ctl_decoder_init(struct edge_ctl_decoder *d, uint8_t *buf, size_t cap)
{
	memset(d, 0, sizeof *d);
	d->buf = buf;
	d->cap = buf ? cap : 0;
}

static void start_next_frame(struct edge_ctl_decoder *d)
{
	d->hdr_have = 0;
	d->skipping = 0;
	d->ready = 0;
	d->body_len = 0;
	d->body_have = 0;
}

int edge_ctl_decoder_feed(struct edge_ctl_decoder *d, const uint8_t *data,
			  size_t len, size_t *consumed, const uint8_t **body,
			  size_t *body_len)
{
	size_t used = 0;

	if (d->ready)
		start_next_frame(d);
	*body = NULL;
	*body_len = 0;

	while (used < len || (d->hdr_have == EDGE_CTL_HEADER_LEN &&
			      d->body_have == d->body_len)) {
		if (d->hdr_have < EDGE_CTL_HEADER_LEN) {
			d->hdr[d->hdr_have++] = data[used++];
			if (d->hdr_have < EDGE_CTL_HEADER_LEN)
				continue;
			d->body_len = ((size_t)d->hdr[0] << 24) |
				      ((size_t)d->hdr[1] << 16) |
				      ((size_t)d->hdr[2] << 8) | d->hdr[3];
			d->body_have = 0;
			if (d->body_len > d->cap) {
				/* Refuse from the header: the body is dropped
				 * as it arrives, never stored. */
				d->skipping = 1;
				*consumed = used;
				*body_len = d->body_len;
				return -EMSGSIZE;
			}
			continue;
		}
		if (d->body_have < d->body_len) {
			size_t want = d->body_len - d->body_have;
			size_t n = len - used < want ? len - used : want;

			if (!d->skipping)
				memcpy(d->buf + d->body_have, data + used, n);
			d->body_have += n;
			used += n;
			continue;
		}
		/* Header and body complete. */
		if (d->skipping) {
			start_next_frame(d);
			continue;
		}
		d->ready = 1;
		*consumed = used;
		*body = d->buf ? d->buf : (const uint8_t *)"";
		*body_len = d->body_len;
		return 1;
	}
	*consumed = used;
	return 0;
}

int edge_ctl_decoder_idle(const struct edge_ctl_decoder *d)
{
	return d->ready || d->hdr_have == 0;
}

static const char *const ctl_error_names[EDGE_CTL_E_COUNT] = {
	[EDGE_CTL_E_BAD_REQUEST] = "bad_request",
	[EDGE_CTL_E_UNKNOWN_COMMAND] = "unknown_command",
	[EDGE_CTL_E_BAD_ARGS] = "bad_args",
	[EDGE_CTL_E_TOO_LARGE] = "too_large",
	[EDGE_CTL_E_NOT_FOUND] = "not_found",
	[EDGE_CTL_E_BUSY] = "busy",
	[EDGE_CTL_E_UNAVAILABLE] = "unavailable",
	[EDGE_CTL_E_INTERNAL] = "internal",
	[EDGE_CTL_E_NOT_AUTHORISED] = "not_authorised",
	[EDGE_CTL_E_TIMEOUT] = "timeout",
	[EDGE_CTL_E_BAD_CONFIG] = "bad_config",
	[EDGE_CTL_E_EXISTS] = "exists",
	[EDGE_CTL_E_NOT_CONFIGURED] = "not_configured",
	[EDGE_CTL_E_TOO_SLOW] = "too_slow",
	[EDGE_CTL_E_BUDGET] = "budget",
	[EDGE_CTL_E_NO_TRUST] = "no_trust",
	[EDGE_CTL_E_REFUSED] = "refused",
	[EDGE_CTL_E_ROLLBACK] = "rollback",
	[EDGE_CTL_E_IN_USE] = "in_use",
	[EDGE_CTL_E_AMBIGUOUS] = "ambiguous",
	[EDGE_CTL_E_IO] = "io",
	[EDGE_CTL_E_NO_TARGET] = "no_target",
};

const char *edge_ctl_error_name(enum edge_ctl_error code)
{
	if ((unsigned)code >= EDGE_CTL_E_COUNT || !ctl_error_names[code])
		return "internal";
	return ctl_error_names[code];
}

enum edge_ctl_error edge_ctl_error_from_name(const char *name)
{
	int i;

	if (!name)
		return (enum edge_ctl_error)0;
	for (i = 1; i < EDGE_CTL_E_COUNT; i++)
		if (strcmp(ctl_error_names[i], name) == 0)
			return (enum edge_ctl_error)i;
	return (enum edge_ctl_error)0;
}
