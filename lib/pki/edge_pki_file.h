/* Atomic replacement of a small file: the gateway's keys, certificates, CRL
 * and the broker's password and ACL files.
 *
 * A reader (mosquitto reloading on SIGHUP, a later edged start) sees either
 * the old file whole or the new file whole, also across a crash: the data
 * goes to a temporary file in the same directory (created with the final
 * mode, never wider), is fsync'ed, renamed over the target, and the
 * directory is fsync'ed so the rename itself is durable.
 *
 * Threading: reentrant; two writers of the same path race (the last rename
 * wins, each file is still whole). The caller is the path's single writer. */
#ifndef EDGE_PKI_FILE_H
#define EDGE_PKI_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "edge_error.h"

/* Replace `path` with data[0..len) and `mode` (e.g. 0600 for a private key;
 * the umask does not apply). On failure the target is unchanged and no
 * temporary file is left behind. Returns 0, or -errno of the step that
 * failed (-ENOENT no such directory, -EACCES, -ENOSPC, -EFBIG, -EISDIR
 * when path is a directory, -ENAMETOOLONG, ...); the step and path go to
 * err[0..errlen) when err is not NULL. */
int edge_pki_write_file(const char *path, const void *data, size_t len, mode_t mode,
			char *err, size_t errlen) EDGE_WUR;

#endif
