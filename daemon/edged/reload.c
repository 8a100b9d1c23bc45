/* Configuration reload (SIGHUP and the control command "reload"). */
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "edge_log.h"
#include "edged.h"
#include "mqtt.h"
#include "router.h"

int edged_reload(struct edged *d, char *needs_restart, size_t nr_len, char *err, size_t errlen)
{
	const struct edge_settings *s;
	edge_config *next, *old;
	int rc, n;

	needs_restart[0] = '\0';
	if (!d->config_path) {
		snprintf(err, errlen, "edged runs on built-in defaults (no configuration file)");
		d->reload_failures++;
		return -ENOENT;
	}
	next = edge_config_new();
	if (!next) {
		snprintf(err, errlen, "out of memory");
		d->reload_failures++;
		return -ENOMEM;
	}
	rc = edge_config_load_file(next, d->config_path, err, errlen);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", d->config_path, edge_strerror(rc));
		snprintf(d->last_reload_error, sizeof d->last_reload_error, "%s", err);
		edge_config_free(next);
		d->reload_failures++;
		return rc;
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
	if (d->registry &&
	    edge_registry_set_stale_after(d->registry,
					  (unsigned)s->registry.stale_after_missed_heartbeats) < 0)
		edge_log(EDGE_LOG_WARNING, "edged", "registry.stale_after_missed_heartbeats not applied");
	if (d->control)
		edged_control_set_limits(d->control, (unsigned)s->control.max_clients,
					 (unsigned)s->control.client_timeout_ms);
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
