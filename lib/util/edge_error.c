#include "edge_error.h"

#include <string.h>

const char *edge_strerror(int code)
{
	switch (code) {
	case 0: return "success";
	case EDGE_ECONFIG: return "invalid configuration";
	case EDGE_ESTORE: return "database error";
	case EDGE_ESCHEMA: return "database schema is newer than this edged";
	case EDGE_ECORRUPT: return "database failed its integrity check";
	case EDGE_ELIMIT: return "configured limit reached";
	case EDGE_EPROTO: return "malformed message";
	case EDGE_ENOTFOUND: return "not found";
	case EDGE_ESTATE: return "not allowed in the current state";
	case EDGE_ECLOSED: return "shutting down";
	case EDGE_ETOOBIG: return "too large";
	case EDGE_EAUTH: return "not authorised";
	default: break;
	}
	if (code < 0 && code > -EDGE_EBASE)
		return strerror(-code); /* glibc: static strings for known errno */
	return "unknown error";
}
