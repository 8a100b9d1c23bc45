/* A real 3-node NATS cluster with JetStream and its MQTT listener, on
 * 127.0.0.1 ports of its own, for the multi-site tests: the upstream the
 * gateways' mosquitto bridges to (docs/upstream.md).
 *
 *   struct h_nats n;
 *   h_nats_start(&n, NULL, true, "gw1:pw1,gw2:pw2,central:pw3");
 *   ... bridge to 127.0.0.1:n.mqtt_port[0..2], TLS with n.ca_file ...
 *   h_nats_kill(&n, 0);                  // SIGKILL node 0
 *   h_nats_restart(&n, 0);               // again, with its store
 *   h_nats_free(&n);
 *
 * Each node: server_name n<i>, JetStream with its store under <dir>/n<i>,
 * <dir> being <parent>/edged-nats-XXXXXX (parent NULL: /tmp),
 * a cluster route to the two others, an MQTT listener (TLS with a server
 * certificate for 127.0.0.1 signed by a CA made here, when tls), the users
 * given, and a monitoring port whose /healthz says when JetStream is
 * ready. Starts and restarts wait for that, bounded; nothing sleeps a fixed
 * time. The servers are children of the test process (PR_SET_PDEATHSIG)
 * and h_teardown stops a cluster not freed yet, printing its logs. The
 * binary is EDGE_NATS_SERVER, else /usr/sbin/nats-server or
 * /usr/bin/nats-server. Functions that can fail end the test. */
#ifndef EDGE_HARNESS_NATS_H
#define EDGE_HARNESS_NATS_H

#include <stdbool.h>

#include "harness.h"

#define H_NATS_NODES 3

struct h_nats {
	char dir[320];     /* its files: n<i>/ (conf, log, JetStream store), tls/ */
	char bin[256];
	bool tls;
	char ca_file[400]; /* the CA of the MQTT listeners' certificate (tls) */
	int client_port[H_NATS_NODES], cluster_port[H_NATS_NODES];
	int mqtt_port[H_NATS_NODES], http_port[H_NATS_NODES];
	struct h_proc proc[H_NATS_NODES];
	char conf[H_NATS_NODES][360];
};

/* Exit 77 (skip) from main() when no nats-server binary is found. */
void h_nats_require(void);

/* Make <parent>/edged-nats-XXXXXX, write the configs there (users:
 * "name:password,..." of [A-Za-z0-9_-] each), start the three nodes and
 * wait until every one reports JetStream healthy. */
void h_nats_start(struct h_nats *n, const char *parent, bool tls, const char *users);
/* Until every running node's /healthz is 200 (JetStream has its meta
 * leader and is current), bounded by timeout_ms. */
void h_nats_wait_healthy(struct h_nats *n, unsigned timeout_ms);
/* SIGKILL node i and reap it. */
void h_nats_kill(struct h_nats *n, int i);
/* Start node i again with its configuration and store; waits until it is
 * healthy. */
void h_nats_restart(struct h_nats *n, int i);
/* SIGTERM every node (bounded, then SIGKILL): the WAN cut. */
void h_nats_stop_all(struct h_nats *n);
/* Start every stopped node and wait until the cluster is healthy. */
void h_nats_start_all(struct h_nats *n);
bool h_nats_running(struct h_nats *n, int i);
/* Whether node i serves an MQTT client with this client id now (its
 * monitoring port's /connz). */
bool h_nats_has_mqtt_client(struct h_nats *n, int i, const char *client_id);
/* Stop every node and remove its dir. */
void h_nats_free(struct h_nats *n);

#endif
