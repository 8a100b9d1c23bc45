/* Node bundles (`edgectl nodes provision --out DIR`): DIR/<id>.json, format
 * "edged-node-bundle/1", read into what one simulated node needs to connect:
 * the broker's address, a username and password, and for TLS the CA and
 * (mutual TLS) the node's certificate and key.
 *
 * libmosquitto takes the TLS material as file names, so the PEM texts of the
 * bundles are written to a private directory (mode 0700, files 0600) made on
 * first need and removed, with its files, by sim_bundles_free(). Identical
 * CA texts share one file. Single-threaded. */
#ifndef SIM_BUNDLE_H
#define SIM_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>

struct sim_bundles;

/* What one node's bundle says. Strings are owned by the bundle (freed by
 * sim_bundle_clear); cafile points into the set and lives until
 * sim_bundles_free(). */
struct sim_bundle {
	char *username;
	char *password;   /* NULL: none (a certificate node) */
	char *host;
	int port;
	bool tls;
	const char *cafile;          /* NULL without TLS */
	char *certfile, *keyfile;    /* NULL without a client certificate */
};

/* A set reading bundles from dir (copied). NULL on allocation failure. */
struct sim_bundles *sim_bundles_new(const char *dir);
/* Removes the private directory and its files; NULL-safe. */
void sim_bundles_free(struct sim_bundles *set);

/* Read dir/<id>.json into *out (zeroed first). 0, or -1 with a message
 * naming the file in err (a missing or unreadable file, a bundle of another
 * format or node, no broker address, no credential, a certificate without
 * its key or without TLS, a temp file that cannot be written). A TLS
 * bundle without ca_pem loads with cafile NULL: the caller supplies one. */
int sim_bundle_load(struct sim_bundles *set, const char *id, struct sim_bundle *out,
		    char *err, size_t errlen);
/* Frees what sim_bundle_load allocated (the files stay until
 * sim_bundles_free). NULL-safe. */
void sim_bundle_clear(struct sim_bundle *b);

#endif
