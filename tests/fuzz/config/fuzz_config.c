/* Fuzz target: the configuration reader. A config file is operator input,
 * but it reaches edged through tooling and copy-paste, so the reader must
 * refuse anything malformed with a located message and never crash. A
 * refused load must leave the settings exactly as they were. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	edge_config *c = edge_config_new();
	if (!c)
		return 0;
	struct edge_settings before = *edge_config_settings(c);
	int rc = edge_config_load_buffer(c, "fuzz.conf", (const char *)data,
					 size, err, sizeof err);
	if (rc != 0) {
		/* All-or-nothing: the scalar settings are untouched. */
		if (edge_config_settings(c)->mqtt.port != before.mqtt.port ||
		    edge_config_settings(c)->registry.max_devices !=
			    before.registry.max_devices)
			abort();
		if (err[0] == '\0')
			abort(); /* every refusal says why */
	}
	edge_config_free(c);
	return 0;
}
