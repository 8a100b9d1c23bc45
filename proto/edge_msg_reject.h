/* Why a node message (topic or payload) was rejected.
 *
 * The values and their names are stable: the gateway keeps one counter per
 * reason and exposes the names to operators, so never renumber or rename;
 * only append before EDGE_MSG_REJECT_COUNT. */
#ifndef EDGE_MSG_REJECT_H
#define EDGE_MSG_REJECT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum edge_msg_reject {
	EDGE_MSG_OK = 0,              /* "ok": not rejected */
	EDGE_MSG_TOO_LARGE,           /* payload above EDGE_MSG_MAX_PAYLOAD */
	EDGE_MSG_EMPTY,               /* zero-length payload */
	EDGE_MSG_BAD_JSON,            /* JSON syntax error or truncated text */
	EDGE_MSG_BAD_UTF8,            /* invalid UTF-8 (overlong, surrogate, ...) */
	EDGE_MSG_BAD_ESCAPE,          /* invalid string escape or lone surrogate */
	EDGE_MSG_BAD_NUMBER,          /* number not in RFC 8259 form */
	EDGE_MSG_CONTROL_CHAR,        /* raw control character inside a string */
	EDGE_MSG_TRAILING_DATA,       /* bytes after the top-level value */
	EDGE_MSG_TOO_DEEP,            /* nesting above EDGE_MSG_MAX_DEPTH */
	EDGE_MSG_TOO_MANY_TOKENS,     /* more JSON tokens (values and keys) than allowed */
	EDGE_MSG_DUPLICATE_KEY,       /* same key twice in one object */
	EDGE_MSG_NOT_OBJECT,          /* top-level value (or a sub-object) is not an object */
	EDGE_MSG_MISSING_FIELD,       /* required field absent */
	EDGE_MSG_WRONG_TYPE,          /* field has another JSON type */
	EDGE_MSG_NOT_INTEGER,         /* integer field has a fraction or exponent */
	EDGE_MSG_OUT_OF_RANGE,        /* number outside the field's bounds */
	EDGE_MSG_STRING_TOO_LONG,     /* string longer than the field allows */
	EDGE_MSG_BAD_STRING,          /* string has characters the field forbids, or is empty */
	EDGE_MSG_TOO_MANY_ITEMS,      /* array longer than the field allows */
	EDGE_MSG_BAD_ENUM,            /* string not one of the field's values */
	EDGE_MSG_BAD_HASH,            /* sha256 not 64 lowercase hex digits */
	EDGE_MSG_BAD_ID,              /* node id not [A-Za-z0-9_-]{1,64} */
	EDGE_MSG_ID_MISMATCH,         /* "id" differs from the topic's id */
	EDGE_MSG_UNSUPPORTED_VERSION, /* "proto" field or topic version not 1 */
	EDGE_MSG_BAD_TOPIC,           /* topic not in the edge/v1/<id>/... tree */
	EDGE_MSG_UNKNOWN_TYPE,        /* topic names no known message type */
	EDGE_MSG_WRONG_DIRECTION,     /* gateway→node type received from a node */
	EDGE_MSG_UNHANDLED_TYPE,      /* valid type this revision does not parse */
	EDGE_MSG_INCONSISTENT,        /* fields contradict each other */
	EDGE_MSG_BAD_SEQUENCE,        /* report seq 0 or not strictly increasing */
	/* Signed model packages (proto/ota/package.md). */
	EDGE_MSG_BAD_MAGIC,           /* package does not start with "EDGEPKG1" */
	EDGE_MSG_BAD_HEADER,          /* package header size, CRC or a size field wrong */
	EDGE_MSG_TRUNCATED,           /* package ends inside a part the header declares */
	EDGE_MSG_BAD_SIGNATURE_BLOCK, /* signature count, entry or block extent wrong */
	EDGE_MSG_TRAILING_BYTES,      /* package longer than its header says */
	EDGE_MSG_REJECT_COUNT
};

/* The reasons from here on are the package reader's: no node message is
 * refused for them, so edged's counters of node messages stop before. */
#define EDGE_MSG_PACKAGE_FIRST EDGE_MSG_BAD_MAGIC

/* Stable lower-case name ("too_large", "bad_json", ...); "unknown" for
 * values out of range. Never NULL. */
const char *edge_msg_reject_name(enum edge_msg_reject reason);

/* Reverse lookup (for tests and tools); -1 if the name is unknown. */
int edge_msg_reject_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
