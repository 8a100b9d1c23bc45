/* Stable names of the reject reasons (they label operator-visible counters). */
#include "edge_msg_reject.h"

#include <string.h>

static const char *const reject_names[EDGE_MSG_REJECT_COUNT] = {
	[EDGE_MSG_OK] = "ok",
	[EDGE_MSG_TOO_LARGE] = "too_large",
	[EDGE_MSG_EMPTY] = "empty",
	[EDGE_MSG_BAD_JSON] = "bad_json",
	[EDGE_MSG_BAD_UTF8] = "bad_utf8",
	[EDGE_MSG_BAD_ESCAPE] = "bad_escape",
	[EDGE_MSG_BAD_NUMBER] = "bad_number",
	[EDGE_MSG_CONTROL_CHAR] = "control_char",
	[EDGE_MSG_TRAILING_DATA] = "trailing_data",
	[EDGE_MSG_TOO_DEEP] = "too_deep",
	[EDGE_MSG_TOO_MANY_TOKENS] = "too_many_tokens",
	[EDGE_MSG_DUPLICATE_KEY] = "duplicate_key",
	[EDGE_MSG_NOT_OBJECT] = "not_object",
	[EDGE_MSG_MISSING_FIELD] = "missing_field",
	[EDGE_MSG_WRONG_TYPE] = "wrong_type",
	[EDGE_MSG_NOT_INTEGER] = "not_integer",
	[EDGE_MSG_OUT_OF_RANGE] = "out_of_range",
	[EDGE_MSG_STRING_TOO_LONG] = "string_too_long",
	[EDGE_MSG_BAD_STRING] = "bad_string",
	[EDGE_MSG_TOO_MANY_ITEMS] = "too_many_items",
	[EDGE_MSG_BAD_ENUM] = "bad_enum",
	[EDGE_MSG_BAD_HASH] = "bad_hash",
	[EDGE_MSG_BAD_ID] = "bad_id",
	[EDGE_MSG_ID_MISMATCH] = "id_mismatch",
	[EDGE_MSG_UNSUPPORTED_VERSION] = "unsupported_version",
	[EDGE_MSG_BAD_TOPIC] = "bad_topic",
	[EDGE_MSG_UNKNOWN_TYPE] = "unknown_type",
	[EDGE_MSG_WRONG_DIRECTION] = "wrong_direction",
	[EDGE_MSG_UNHANDLED_TYPE] = "unhandled_type",
	[EDGE_MSG_INCONSISTENT] = "inconsistent",
	[EDGE_MSG_BAD_SEQUENCE] = "bad_sequence",
	[EDGE_MSG_BAD_MAGIC] = "bad_magic",
	[EDGE_MSG_BAD_HEADER] = "bad_header",
	[EDGE_MSG_TRUNCATED] = "truncated",
	[EDGE_MSG_BAD_SIGNATURE_BLOCK] = "bad_signature_block",
	[EDGE_MSG_TRAILING_BYTES] = "trailing_bytes",
};

const char *edge_msg_reject_name(enum edge_msg_reject reason)
{
	if ((unsigned)reason >= EDGE_MSG_REJECT_COUNT || !reject_names[reason])
		return "unknown";
	return reject_names[reason];
}

int edge_msg_reject_from_name(const char *name)
{
	int i;

	if (!name)
		return -1;
	for (i = 0; i < EDGE_MSG_REJECT_COUNT; i++)
		if (reject_names[i] && strcmp(reject_names[i], name) == 0)
			return i;
	return -1;
}
