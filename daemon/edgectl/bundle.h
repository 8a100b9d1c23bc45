/* The provisioning bundle: what a firmware engineer flashes into a node.
 *
 * One JSON object per node, made from edged's nodes.provision answer:
 *   {"format": "edged-node-bundle/1", "node_id": ID,
 *    "broker": {"url": URL, "host": H, "port": P, "tls": bool},
 *    "topic_prefix": "edge/v1", "username": ID,
 *    "password": ...            (password nodes)
 *    "ca_pem": ...              (when the gateway has a CA: the broker's TLS)
 *    "cert_pem": ..., "key_pem": ...   (certificate nodes, mutual TLS)}
 * The format is specified in proto/node-protocol.md ("Provisioning"). */
#ifndef EDGECTL_BUNDLE_H
#define EDGECTL_BUNDLE_H

#include <jansson.h>

/* The bundle of `node` (an element of answer.nodes), or NULL when the
 * answer lacks what a bundle needs. New reference. */
json_t *edgectl_bundle_new(json_t *answer, json_t *node);

/* Write the bundle to `path` (mode 0600), replacing it by rename. Returns an
 * edgectl exit code; the reason is printed. */
int edgectl_bundle_write_file(json_t *bundle, const char *path);

/* Write DIR/ID.json (0600), and for a certificate node DIR/ID.crt (0644),
 * DIR/ID.key (0600) and DIR/ca.crt (0644): the files TLS libraries take.
 * Nothing is fsync'ed one by one: edgectl_bundle_sync(dir) once at the end. */
int edgectl_bundle_write_dir(json_t *bundle, const char *dir);

/* Flush the file system holding dir (syncfs). 0 or -1 with errno. */
int edgectl_bundle_sync(const char *dir);

#endif
