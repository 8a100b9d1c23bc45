/* Configuration reload (SIGHUP and the control command "reload"): one path,
 * so both log the same lines (NOTICE when applied, WARNING with the file:line
 * reason when refused) and count in the same status figures. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "anomaly.h"
#include "anomaly_query.h"
#include "control.h"
#include "edge_log.h"
#include "edged.h"
#include "identity.h"
#include "mqtt.h"
#include "ota.h"
#include "router.h"

/* A refused reload: counted, kept for status, logged. The running
 * configuration stays in force. */
static int reload_failed(struct edged *d, int rc, char *err)
{
	snprintf(d->last_reload_error, sizeof d->last_reload_error, "%s", err);
	d->reload_failures++;
	edge_log(EDGE_LOG_WARNING, "edged", "reload failed, keeping the running configuration: %s",
		 err);
	return rc;
}

int edged_reload(struct edged *d, char *needs_restart, size_t nr_len, char *err, size_t errlen)
{
	const struct edge_settings *s;
	edge_config *next, *old;
	int rc, n;

	assert(err && errlen > 0 && needs_restart && nr_len > 0);
	needs_restart[0] = '\0';
	err[0] = '\0';
	if (!d->config_path) {
		snprintf(err, errlen, "edged runs on built-in defaults (no configuration file)");
		return reload_failed(d, -ENOENT, err);
	}
	next = edge_config_new();
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return reload_failed(d, -ENOMEM, err);
	}
	rc = edge_config_load_file(next, d->config_path, err, errlen);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", d->config_path, edge_strerror(rc));
		edge_config_free(next);
		return reload_failed(d, rc, err);
	}
	n = edge_config_reload_check(d->config, next, needs_restart, nr_len);
	edge_config_keep_restart_only(next, d->config);
	old = d->config;
	d->config = next;
	s = edge_config_settings(next);

	/* Everyone who keeps a settings pointer switches before the old
	 * config goes away. */
	edge_log_set_level(s->log.level);
	if (d->mqtt)
		edged_mqtt_apply_settings(d->mqtt, s);
	if (d->router)
		edged_router_apply_settings(d->router, s);
	if (d->anomaly)
		edged_anomaly_apply_settings(d->anomaly, s);
	if (d->query)
		edged_anomaly_query_apply_settings(d->query, s);
	if (d->registry &&
	    edge_registry_set_stale_after(d->registry,
					  (unsigned)s->registry.stale_after_missed_heartbeats) < 0)
		edge_log(EDGE_LOG_WARNING, "edged", "registry.stale_after_missed_heartbeats not applied");
	if (d->registry &&
	    (edge_registry_set_persist_interval(d->registry,
						(uint32_t)s->registry.persist_interval_s * 1000) < 0 ||
	     edge_registry_set_summary_interval(d->registry,
						(uint32_t)s->registry.summary_interval_s * 1000) < 0))
		edge_log(EDGE_LOG_WARNING, "edged",
			 "registry.persist_interval_s or summary_interval_s not applied");
	edged_identity_apply_settings(d->identity, s);
	edged_ota_apply_settings(d->ota, s);
	if (d->control)
		edged_control_set_limits(d->control, (unsigned)s->control.max_clients,
					 (unsigned)s->control.client_timeout_ms,
					 (unsigned)s->control.request_timeout_ms);
	edge_config_free(old);

	d->reloads++;
	d->last_reload_error[0] = '\0';
	if (n > 0)
		edge_log(EDGE_LOG_WARNING, "edged",
			 "configuration reloaded; changed keys that need a restart: %s",
			 needs_restart);
	else
		edge_log(EDGE_LOG_NOTICE, "edged", "configuration reloaded");
	return 0;
}
