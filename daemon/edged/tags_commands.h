/* devices.tag and devices.untag (proto/control-protocol.md): the node_tag
 * rows first (a store op), then the registry's memory; answered with the
 * node's whole set once the rows are committed. ud is struct edged. */
#ifndef EDGED_TAGS_COMMANDS_H
#define EDGED_TAGS_COMMANDS_H

#include <jansson.h>
#include <stddef.h>

#include "control.h"

int edged_cmd_devices_tag(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			  size_t msglen);
int edged_cmd_devices_untag(void *ud, json_t *args, struct edged_ctl_call *call, char *msg,
			    size_t msglen);

#endif
