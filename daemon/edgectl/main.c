/* edgectl: subcommand table and global options (wireguard-tools style). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_build_config.h"
#include "edgectl.h"

#define EDGECTL_DEFAULT_SOCKET "/run/edged/edged.sock"

struct edgectl_globals edgectl_globals;

struct edgectl_subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct edgectl_subcommand subcommands[] = {
	{ "status", edgectl_cmd_status, "daemon, broker, node and store summary" },
	{ "devices", edgectl_cmd_devices, "list nodes [--state S]; 'devices show ID' for one; 'devices remove ID [--force]'" },
	{ "nodes", edgectl_cmd_nodes,
	  "node broker identities: list; 'nodes provision ID... [--tls-cert] [--rotate] [--out PATH]'; 'nodes revoke ID'" },
	{ "anomalies", edgectl_cmd_anomalies,
	  "anomaly history: list [--format csv|jsonl], stats, episodes, tail" },
	{ "config", edgectl_cmd_config, "effective configuration of the daemon (secrets hidden)" },
	{ "reload", edgectl_cmd_reload, "make edged re-read its configuration file" },
	{ "models", edgectl_cmd_models,
	  "model packages stored by edged: add PKG, list, show/remove/fit REF" },
	{ "ota", edgectl_cmd_ota,
	  "send a stored model to nodes: send REF --to IDS|all [--wait]; status; cancel N" },
	{ "rollout", edgectl_cmd_rollout,
	  "staged rollouts: start REF --to T [--canary] [--waves] [--dry-run]; list; status ID; pause|resume|abort ID" },
	{ "offload", edgectl_cmd_offload,
	  "inference offloaded by nodes: list; enable|disable REF; status; mismatches [--limit N]" },
	{ "model", edgectl_cmd_model,
	  "offline model tools on a local file: inspect, run, bench, pack, verify" },
	{ "keys", edgectl_cmd_keys,
	  "model-signing keys: generate --type ed25519|p256 --out NAME; show NAME (offline)" },
	{ "broker-config", edgectl_cmd_broker_config,
	  "print the mosquitto.conf for edged's broker (offline, no daemon)" },
	{ "broker-init", edgectl_cmd_broker_init,
	  "create the gateway CA and the broker's identity files (offline, once)" },
	{ "central", edgectl_cmd_central,
	  "the central PostgreSQL of many gateways: init, status (offline, no daemon)" },
};
#define NSUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: edgectl [-s SOCKET] [--json] COMMAND [ARGS...]\n"
		"       edgectl COMMAND --help\n"
		"\n"
		"Control edged, the gateway daemon of a TinyML node fleet.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		fprintf(out, "  %-13s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -s, --socket PATH  control socket (default $EDGECTL_SOCKET, else %s)\n"
		"      --json         print the daemon's answer as JSON (every read command)\n"
		"  -h, --help         this text\n"
		"      --version      print the version\n"
		"\n"
		"Exit codes:\n"
		"  0  success\n"
		"  1  error reported by edged (or lost connection)\n"
		"  2  bad usage\n"
		"  3  edged is not running (socket missing or connection refused)\n"
		"  4  permission denied (socket access or not authorised by edged)\n"
		"  130  'ota send --wait' interrupted (the transfer goes on)\n",
		EDGECTL_DEFAULT_SOCKET);
}

/* Output that could not be written (disk full, closed pipe) is a failure,
 * not a silent success. */
static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "edgectl: cannot write output: %s\n", strerror(errno));
		if (rc == EDGECTL_OK)
			rc = EDGECTL_EDAEMON;
	}
	return rc;
}

int main(int argc, char **argv)
{
	const char *env = getenv("EDGECTL_SOCKET");
	int i;

	edgectl_globals.socket_path = env && env[0] ? env : EDGECTL_DEFAULT_SOCKET;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EDGECTL_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("edgectl %s\n", EDGE_VERSION);
			return EDGECTL_OK;
		} else if (strcmp(a, "--json") == 0) {
			edgectl_globals.json = true;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
			if (++i == argc) {
				fprintf(stderr, "edgectl: %s needs a path\n", a);
				return EDGECTL_EUSAGE;
			}
			edgectl_globals.socket_path = argv[i];
		} else if (strncmp(a, "--socket=", 9) == 0) {
			edgectl_globals.socket_path = a + 9;
		} else {
			fprintf(stderr, "edgectl: unknown option %s\n", a);
			usage(stderr);
			return EDGECTL_EUSAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EDGECTL_EUSAGE;
	}
	for (size_t c = 0; c < NSUBCOMMANDS; c++)
		if (strcmp(argv[i], subcommands[c].name) == 0)
			return finish(subcommands[c].run(argc - i, argv + i));
	fprintf(stderr, "edgectl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EDGECTL_EUSAGE;
}
