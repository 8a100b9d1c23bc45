/* Advice on a valid configuration: settings the parser accepts but that are
 * likely not what the operator meant. Printed by edged --check-config; never
 * an error, so a start is not refused over them. */
#include "edge_config_table.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* What IPAddressAllow=localhost (the TCP drop-in of docs/production.md)
 * lets through: 127.0.0.0/8 and ::1 (an IPv4-mapped 127.x.y.z is the same
 * packets), plus the name "localhost" (with or without the root dot), which
 * resolves to them. */
bool edge_config_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

int edge_config_advice(const edge_config *c, edge_config_advice_fn cb, void *userdata)
{
	const struct edge_settings *s = edge_config_settings(c);
	char msg[EDGE_CONFIG_NAME_MAX + 256];
	int n = 0;

	/* A socket path is what the shipped unit expects. A loopback address
	 * is the development setup; the unit reaches it with the TCP drop-in. */
	if (s->mqtt.host[0] != '/' && !edge_config_host_is_loopback(s->mqtt.host)) {
		snprintf(msg, sizeof msg,
			 "mqtt.host = %s is not a loopback address: the edged service reaches "
			 "the broker over a Unix socket only (PrivateNetwork=yes, "
			 "IPAddressDeny=any); a broker on another host needs the TCP "
			 "drop-in of docs/production.md with IPAddressAllow=ADDRESS",
			 s->mqtt.host);
		cb(msg, userdata);
		n++;
	}
	/* A broker with edged's client-id plugin refuses a login whose client
	 * id is not its username (docs/broker-security.md). */
	if (s->mqtt.username[0] && strcmp(s->mqtt.client_id, s->mqtt.username) != 0) {
		snprintf(msg, sizeof msg,
			 "mqtt.client_id (%.100s) differs from mqtt.username (%.100s): a broker "
			 "with edged's client-id plugin refuses the connection, and one with "
			 "use_username_as_clientid keeps edged's session under the username",
			 s->mqtt.client_id, s->mqtt.username);
		cb(msg, userdata);
		n++;
	}
	/* The shipped unit has no network at all: forwarding to a central
	 * database needs its drop-in, whatever the database's address. */
	if (s->central.conninfo[0]) {
		snprintf(msg, sizeof msg,
			 "central.conninfo is set: the edged service has no network "
			 "(PrivateNetwork=yes, IPAddressDeny=any); forwarding to the central "
			 "database needs the drop-in of docs/production.md (\"Forwarding to a "
			 "central database\") with IPAddressAllow=ADDRESS of the database");
		cb(msg, userdata);
		n++;
	}
	return n;
}
