/* Internals shared by the model store's sources (edge_ota_catalog.c,
 * edge_ota_store.c, edge_ota_files.c); not for callers. */
#ifndef EDGE_OTA_STORE_INTERNAL_H
#define EDGE_OTA_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* s[0..n) is exactly EDGE_OTA_DIGEST_HEX lowercase hex digits: the only
 * form a digest takes in the tables and in file names. */
bool edge__ota_digest_valid(const char *s, size_t n);

/* s is a hex prefix: 8 .. EDGE_OTA_DIGEST_HEX hex digits (either case). */
bool edge__ota_hex_prefix(const char *s);

#endif
