/* edged_clientid: a mosquitto 2.0 broker plugin (plugin API v5) that
 * refuses a password login whose MQTT client id is not its username.
 *
 * A node's username is its node id, and edged trusts the client id to be
 * the same name: a client holding node A's password that asks for client id
 * B would otherwise take over (end) B's session. mosquitto 2.0 can only
 * rename such a client (use_username_as_clientid); this refuses it.
 *
 * How it sits in mosquitto 2.0.11 (src/handle_connect.c, src/security.c):
 * - MOSQ_EVT_BASIC_AUTH runs once per CONNECT, on the broker's only thread,
 *   after the client id is final: the one the client sent, or the one the
 *   broker assigned to an empty id ("auto-..."; never equal to a username,
 *   so refused). use_username_as_clientid replaces the id BEFORE this event,
 *   so a listener using it must not be counted on here (edgectl
 *   broker-config leaves it out where this plugin is loaded).
 * - Plugin callbacks run before the password file's own, which mosquitto
 *   registers after the plugins (and again after each reload). Returning
 *   MOSQ_ERR_PLUGIN_DEFER hands the login on: the password file still
 *   decides every matching login. MOSQ_ERR_AUTH ends it with CONNACK 0x87
 *   Not authorized (MQTT 3.1.1: 5), the same answer as a bad password.
 * - A login without a username is deferred (allow_anonymous decides).
 * - A certificate login (use_identity_as_username) never reaches this event:
 *   on the mutual-TLS listener the id stays forced to the CN by
 *   use_username_as_clientid.
 *
 * Options: none (a plugin_opt_* line is a configuration error). No
 * allocation: the hot path is one string compare; a refusal logs one
 * NOTICE line. Built as edged_clientid.so, loaded with
 * `plugin /usr/lib/<triplet>/edged/edged_clientid.so`. */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

/* Longest id or username quoted in a refusal line (MQTT allows 65535). */
#define CLIENTID_LOG_MAX 128

static int clientid_basic_auth(int event, void *event_data, void *userdata)
{
	const struct mosquitto_evt_basic_auth *ed = event_data;
	const char *id = mosquitto_client_id(ed->client);

	(void)event;
	(void)userdata;
	if (!ed->username)
		return MOSQ_ERR_PLUGIN_DEFER;
	if (id && strcmp(id, ed->username) == 0)
		return MOSQ_ERR_PLUGIN_DEFER;
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			     "edged_clientid: refused client id '%.*s' for username '%.*s' "
			     "(they must be equal)",
			     CLIENTID_LOG_MAX, id ? id : "", CLIENTID_LOG_MAX, ed->username);
	return MOSQ_ERR_AUTH;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
			  struct mosquitto_opt *options, int option_count)
{
	int rc;

	if (option_count > 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "edged_clientid: takes no options (got "
				     "plugin_opt_%s)", options[0].key ? options[0].key : "");
		return MOSQ_ERR_INVAL;
	}
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, clientid_basic_auth,
					 NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "edged_clientid: cannot register: %s",
				     mosquitto_strerror(rc));
		return rc;
	}
	/* The identifier is all cleanup needs: one instance per load (also with
	 * per_listener_settings, where each listener gets its own). */
	*userdata = identifier;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)options;
	(void)option_count;
	if (userdata)
		mosquitto_callback_unregister(userdata, MOSQ_EVT_BASIC_AUTH, clientid_basic_auth,
					      NULL);
	return MOSQ_ERR_SUCCESS;
}
