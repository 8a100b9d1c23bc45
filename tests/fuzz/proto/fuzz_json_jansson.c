/* Differential fuzz target: the strict JSON reader must accept exactly the
 * documents jansson accepts with duplicate keys rejected, apart from the
 * documented differences: our depth and token caps, and jansson's limits
 * on number magnitude. Inputs with a NUL byte are skipped because jansson
 * stops reading at one (for us it is a syntax or control-character error). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOKENS 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct edge_json_tok toks[MAX_TOKENS];
	struct edge_json_error err;
	json_error_t jerr;
	json_t *j;
	int ours, theirs;

	if (memchr(data, 0, size))
		return 0;
	ours = edge_json_parse((const char *)data, size, toks, MAX_TOKENS,
			       EDGE_JSON_DEPTH_LIMIT, NULL, &err);
	j = json_loadb((const char *)data, size,
		       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	theirs = j != NULL;
	json_decref(j);
	if (ours < 0 && (err.code == EDGE_JSON_E_DEPTH || err.code == EDGE_JSON_E_TOKENS))
		return 0;
	if (!theirs && (strstr(jerr.text, "too big") || strstr(jerr.text, "overflow")))
		return 0;
	if ((ours >= 0) != theirs)
		abort();
	return 0;
}
