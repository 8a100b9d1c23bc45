/* Error contract shared by every lib/ module.
 *
 * Fallible functions return 0 on success or a negative code: either a
 * negated errno value (-ENOMEM, -EINVAL, ...) or one of the EDGE_E* codes
 * below, which live beyond the errno range. edge_strerror() names both.
 * A function that returns an error never calls its callback. */
#ifndef EDGE_ERROR_H
#define EDGE_ERROR_H

#include <errno.h>

#define EDGE_WUR __attribute__((warn_unused_result))

enum edge_error {
	EDGE_EBASE = 10000,
	EDGE_ECONFIG = -(EDGE_EBASE + 1),    /* configuration invalid */
	EDGE_ESTORE = -(EDGE_EBASE + 2),     /* SQLite failed */
	EDGE_ESCHEMA = -(EDGE_EBASE + 3),    /* database schema newer than this build */
	EDGE_ECORRUPT = -(EDGE_EBASE + 4),   /* database failed its integrity check */
	EDGE_ELIMIT = -(EDGE_EBASE + 5),     /* a configured bound was reached */
	EDGE_EPROTO = -(EDGE_EBASE + 6),     /* malformed message */
	EDGE_ENOTFOUND = -(EDGE_EBASE + 7),  /* no such object */
	EDGE_ESTATE = -(EDGE_EBASE + 8),     /* not allowed in the current state */
	EDGE_ECLOSED = -(EDGE_EBASE + 9),    /* the object is shutting down */
	EDGE_ETOOBIG = -(EDGE_EBASE + 10),   /* input exceeds its size limit */
	EDGE_EAUTH = -(EDGE_EBASE + 11),     /* peer not authorised */
	EDGE_ELAST = -(EDGE_EBASE + 12),
};

/* Static string for any return code (0, -errno or EDGE_E*); never NULL. */
const char *edge_strerror(int code);

/* Cleanup helpers for owned resources: `edge_autofree char *p = ...;` */
static inline void edge__freep(void *p)
{
	extern void free(void *);
	free(*(void **)p);
}
#define edge_autofree __attribute__((cleanup(edge__freep)))

#endif
