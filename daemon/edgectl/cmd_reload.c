/* edgectl reload */
#include <stdio.h>

#include "edgectl.h"

static const char reload_usage[] =
	"Usage: edgectl reload [--json]\n"
	"\n"
	"Make edged re-read its configuration file (like systemctl reload edged).\n"
	"An invalid file is refused and edged keeps running with its current\n"
	"configuration; changed keys that only apply at start are listed.\n";

static int print_reload(json_t *result)
{
	json_t *list = json_object_get(result, "needs_restart"), *k;
	size_t i;

	printf("configuration reloaded\n");
	if (json_array_size(list) > 0) {
		printf("changed keys that need a restart:");
		json_array_foreach(list, i, k)
			printf(" %s", json_string_value(k));
		printf("\n");
	}
	return EDGECTL_OK;
}

int edgectl_cmd_reload(int argc, char **argv)
{
	return edgectl_run_plain(argc, argv, reload_usage, "reload", print_reload);
}
