/* Prints the reference config generated from the settings table:
 *   edge-config-reference > config/edged.conf */
#include <stdio.h>
#include <string.h>

#include "edge_config.h"

int main(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usage: %s > config/edged.conf\n", argv[0]);
		return 2;
	}
	int rc = edge_config_write_reference(stdout);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], strerror(-rc));
		return 1;
	}
	return 0;
}
