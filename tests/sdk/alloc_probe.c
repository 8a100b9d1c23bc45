/* Linked into the test firmware by check_sdk_alloc.sh only: code that
 * allocates without calling malloc itself, as firmware code easily does
 * (newlib's strtod allocates its big integers). A constructor, so that
 * --gc-sections keeps it although main never calls it. scripts/sdk-size.sh
 * must refuse the firmware and name this object. */
#include <stdlib.h>

double edge_sdk_alloc_probe_value;

__attribute__((constructor)) static void alloc_probe(void)
{
	static const char *volatile text = "0.1";

	edge_sdk_alloc_probe_value = strtod(text, NULL);
}
