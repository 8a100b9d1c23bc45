/* edgectl config */
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "table.h"

static const char config_usage[] =
	"Usage: edgectl config [--json]\n"
	"\n"
	"The configuration edged is running with (secrets shown as <hidden>).\n"
	"Keys marked * differ from their default; R marks keys a reload applies.\n";

static int print_config(json_t *result)
{
	static const char *const headers[] = { "KEY", "", "VALUE" };
	struct edgectl_table *t = edgectl_table_new(3, headers);
	json_t *key;
	size_t i;
	int rc;

	if (!t)
		return EDGECTL_EDAEMON;
	if (json_is_string(json_object_get(result, "file")))
		printf("file: %s\n", json_string_value(json_object_get(result, "file")));
	json_array_foreach(json_object_get(result, "keys"), i, key) {
		const char *value = json_string_value(json_object_get(key, "value"));
		const char *def = json_string_value(json_object_get(key, "default"));
		char flags[3] = "  ";

		if (value && def && strcmp(value, def) != 0)
			flags[0] = '*';
		if (json_is_true(json_object_get(key, "reloadable")))
			flags[1] = 'R';
		edgectl_table_add(t, (const char *[]){ json_string_value(json_object_get(key, "name")),
						      flags, value });
	}
	rc = edgectl_table_print(t, stdout);
	edgectl_table_free(t);
	return rc < 0 ? EDGECTL_EDAEMON : EDGECTL_OK;
}

int edgectl_cmd_config(int argc, char **argv)
{
	return edgectl_run_plain(argc, argv, config_usage, "config", print_config);
}
