/* The control commands of edged (status, devices, device, config, reload),
 * as a table for the control server. Handlers take the struct edged as
 * userdata and tolerate components that are not running (NULL). */
#ifndef EDGED_COMMANDS_H
#define EDGED_COMMANDS_H

#include <stddef.h>

#include "control.h"

extern const struct edged_ctl_command edged_commands[];
extern const size_t edged_commands_count;

#endif
