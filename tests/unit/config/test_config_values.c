/* Defaults, overrides, queries, dump round trip and reload. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "edge_log.h"
#include "test_config.h"

START_TEST(defaults)
{
	edge_config *c = edge_config_new();
	const struct edge_settings *s = edge_config_settings(c);

	ck_assert_int_eq(s->log.level, EDGE_LOG_INFO);
	ck_assert_int_eq(s->log.bad_input_interval_s, 60);
	ck_assert_int_eq(s->log.bad_input_burst, 5);
	ck_assert_int_eq(s->log.bad_input_total_burst, 100);
	ck_assert_str_eq(s->paths.state_dir, "/var/lib/edged");
	ck_assert_str_eq(s->paths.runtime_dir, "/run/edged");
	ck_assert_str_eq(s->paths.database, "edged.db");
	ck_assert_str_eq(s->paths.control_socket, "edged.sock");
	ck_assert_str_eq(s->paths.database_file, "/var/lib/edged/edged.db");
	ck_assert_str_eq(s->paths.control_socket_path, "/run/edged/edged.sock");
	ck_assert_str_eq(s->mqtt.host, "/run/mosquitto-edged/mqtt.sock");
	ck_assert_int_eq(s->mqtt.port, 1883);
	ck_assert_str_eq(s->mqtt.client_id, "edged");
	ck_assert_str_eq(s->mqtt.username, "");
	ck_assert_str_eq(s->mqtt.password, "");
	ck_assert_str_eq(s->mqtt.tls_ca_file, "");
	ck_assert_str_eq(s->mqtt.tls_cert_file, "");
	ck_assert_str_eq(s->mqtt.tls_key_file, "");
	ck_assert_int_eq(s->mqtt.keepalive_s, 30);
	ck_assert_int_eq(s->mqtt.reconnect_min_ms, 200);
	ck_assert_int_eq(s->mqtt.reconnect_max_ms, 30000);
	ck_assert_int_eq(s->mqtt.outbox_max_messages, 1000);
	ck_assert_str_eq(s->mqtt.topic_prefix, "edge/v1");
	ck_assert_uint_eq(s->mqtt.max_payload_bytes, 4096);
	ck_assert_int_eq(s->registry.max_devices, 10000);
	ck_assert_int_eq(s->registry.stale_after_missed_heartbeats, 3);
	ck_assert_int_eq(s->registry.default_heartbeat_interval_s, 10);
	ck_assert_int_eq(s->store.busy_timeout_ms, 5000);
	ck_assert_int_eq(s->store.group_commit_max_ops, 256);
	ck_assert_int_eq(s->store.group_commit_max_delay_ms, 20);
	ck_assert_int_eq(s->store.queue_max_ops, 100000);
	ck_assert(s->store.quick_check_on_start);
	ck_assert_int_eq(s->control.socket_mode, 0660);
	ck_assert_str_eq(s->control.socket_group, "");
	ck_assert_int_eq(s->control.max_clients, 16);
	ck_assert_uint_eq(s->control.max_request_bytes, 65536);
	ck_assert_int_eq(s->control.client_timeout_ms, 30000);
	edge_config_free(c);
	edge_config_free(NULL);
}
END_TEST

START_TEST(file_syntax_variants)
{
	/* BOM, CRLF, ';' comments, blanks around everything, case-insensitive
	 * enums and booleans, size suffixes, octal modes without a leading 0,
	 * '#' and ';' inside values, a reopened section. */
	static const char text[] =
		"\xef\xbb\xbf; edged\r\n"
		"[ mqtt ]\r\n"
		"\t port\t=\t1884 \r\n"
		"  # indented comment\n"
		"username = user\n"
		"password = p#ss;word with spaces\n"
		"max_payload_bytes = 2k\n"
		"[log]\n"
		"level = DEBUG\n"
		"[store]\n"
		"quick_check_on_start = Off\n"
		"[control]\n"
		"socket_mode = 600\n"
		"max_request_bytes = 32K\n"
		"[mqtt]\n"
		"host = broker.local";
	char err[256];
	edge_config *c;

	ck_assert_int_eq(load_text(text, err, sizeof err, &c), 0);
	const struct edge_settings *s = edge_config_settings(c);
	ck_assert_int_eq(s->mqtt.port, 1884);
	ck_assert_str_eq(s->mqtt.password, "p#ss;word with spaces");
	ck_assert_uint_eq(s->mqtt.max_payload_bytes, 2048);
	ck_assert_int_eq(s->log.level, EDGE_LOG_DEBUG);
	ck_assert(!s->store.quick_check_on_start);
	ck_assert_int_eq(s->control.socket_mode, 0600);
	ck_assert_uint_eq(s->control.max_request_bytes, 32768);
	ck_assert_str_eq(s->mqtt.host, "broker.local");
	edge_config_free(c);

	ck_assert_int_eq(load_text("", err, sizeof err, NULL), 0);
	ck_assert_int_eq(load_text("\n\n# only comments\n[log]\n", err, sizeof err,
				   NULL),
			 0);
}
END_TEST

START_TEST(paths_resolve_against_their_directories)
{
	char err[256];
	edge_config *c;

	ck_assert_int_eq(load_text("[paths]\nstate_dir = /srv/edge/\n"
				   "runtime_dir = /tmp/rt\ndatabase = db/x.db\n"
				   "control_socket = /run/other.sock\n",
				   err, sizeof err, &c),
			 0);
	const struct edge_settings *s = edge_config_settings(c);
	ck_assert_str_eq(s->paths.database_file, "/srv/edge/db/x.db");
	ck_assert_str_eq(s->paths.control_socket_path, "/run/other.sock");
	edge_config_free(c);
}
END_TEST

START_TEST(set_get_and_check)
{
	edge_config *c = edge_config_new();
	char err[256], buf[64];

	ck_assert_int_eq(edge_config_set(c, "mqtt.port", "1884", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_settings(c)->mqtt.port, 1884);
	ck_assert_str_eq(value_of(c, "mqtt.port"), "1884");
	ck_assert_str_eq(value_of(c, "control.socket_mode"), "0660");
	ck_assert_str_eq(value_of(c, "store.quick_check_on_start"), "true");
	ck_assert_str_eq(value_of(c, "log.level"), "info");

	ck_assert_int_eq(edge_config_set(c, "mqtt.port", "0", err, sizeof err),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "mqtt.port = 0: must be an integer in 1..65535");
	ck_assert_int_eq(edge_config_settings(c)->mqtt.port, 1884);
	ck_assert_int_eq(edge_config_set(c, "mqtt.nope", "1", err, sizeof err),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "unknown key 'mqtt.nope'");
	ck_assert_int_eq(edge_config_set(c, "mqtt.host", "", err, sizeof err),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "mqtt.host: empty value; must be a string of 1..255 characters");
	ck_assert_int_eq(edge_config_set(c, "mqtt.password", "\x02", err, sizeof err),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "mqtt.password = <hidden>: must not contain control characters");

	/* Cross-key rules wait for edge_config_check. */
	ck_assert_int_eq(edge_config_set(c, "mqtt.reconnect_min_ms", "5000", err,
					 sizeof err),
			 0);
	ck_assert_int_eq(edge_config_set(c, "mqtt.reconnect_max_ms", "100", err,
					 sizeof err),
			 0);
	ck_assert_int_eq(edge_config_check(c, err, sizeof err), EDGE_ECONFIG);
	ck_assert_str_eq(err, "mqtt.reconnect_min_ms = 5000 exceeds mqtt.reconnect_max_ms = 100");
	ck_assert_int_eq(edge_config_set(c, "mqtt.reconnect_max_ms", "60000", err,
					 sizeof err),
			 0);
	ck_assert_int_eq(edge_config_check(c, err, sizeof err), 0);

	ck_assert_int_eq(edge_config_set(c, "paths.runtime_dir", "/x", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_check(c, err, sizeof err), 0);
	ck_assert_str_eq(edge_config_settings(c)->paths.control_socket_path, "/x/edged.sock");

	ck_assert_int_eq(edge_config_get(c, "mqtt.nope", buf, sizeof buf), EDGE_ENOTFOUND);
	ck_assert_int_eq(edge_config_get(c, "paths.state_dir", buf, 4), EDGE_ETOOBIG);
	edge_config_free(c);
}
END_TEST

struct collected {
	int count;
	int stop_at;
	char names[104][64];
	char values[104][64];
	unsigned flags[104];
	char allowed[104][64];
	char types[104][16];
};

static int collect(const struct edge_config_key_info *info, void *ud)
{
	struct collected *c = ud;
	int i = c->count++;

	ck_assert_int_lt(i, 104);
	ck_assert_ptr_nonnull(info->description);
	ck_assert_ptr_nonnull(info->default_value);
	snprintf(c->names[i], sizeof c->names[i], "%s.%s", info->section, info->key);
	ck_assert_str_eq(c->names[i], info->name);
	snprintf(c->values[i], sizeof c->values[i], "%s", info->value);
	snprintf(c->allowed[i], sizeof c->allowed[i], "%s", info->allowed);
	snprintf(c->types[i], sizeof c->types[i], "%s", info->type);
	c->flags[i] = info->flags;
	return c->count == c->stop_at ? 42 : 0;
}

static int find(const struct collected *c, const char *name)
{
	for (int i = 0; i < c->count; i++)
		if (strcmp(c->names[i], name) == 0)
			return i;
	ck_abort_msg("key %s not listed", name);
	return -1;
}

START_TEST(foreach_lists_every_key_and_hides_secrets)
{
	edge_config *c = edge_config_new();
	struct collected *got = calloc(1, sizeof *got);
	char err[256];

	ck_assert_int_eq(edge_config_foreach(c, collect, got), 0);
	ck_assert_int_eq(got->count, 103);
	int pw = find(got, "mqtt.password");
	ck_assert_str_eq(got->values[pw], ""); /* unset: nothing to hide */
	ck_assert_uint_eq(got->flags[pw], EDGE_CONFIG_SECRET | EDGE_CONFIG_EMPTY_OK);
	int lvl = find(got, "log.level");
	ck_assert_uint_eq(got->flags[lvl], EDGE_CONFIG_RELOADABLE);
	ck_assert_str_eq(got->allowed[lvl], "err|warning|notice|info|debug");
	ck_assert_str_eq(got->types[lvl], "enum");
	int port = find(got, "mqtt.port");
	ck_assert_str_eq(got->allowed[port], "1..65535");
	ck_assert_str_eq(got->types[port], "integer");
	ck_assert_uint_eq(got->flags[port], 0);
	ck_assert_str_eq(got->types[find(got, "mqtt.keepalive_s")], "duration_s");
	ck_assert_str_eq(got->allowed[find(got, "control.socket_mode")], "0000..0777");

	ck_assert_int_eq(edge_config_set(c, "mqtt.username", "u", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_set(c, "mqtt.password", "topsecret", err, sizeof err), 0);
	memset(got, 0, sizeof *got);
	ck_assert_int_eq(edge_config_foreach(c, collect, got), 0);
	ck_assert_str_eq(got->values[find(got, "mqtt.password")], "<hidden>");
	ck_assert_str_eq(got->values[find(got, "mqtt.username")], "u");

	memset(got, 0, sizeof *got);
	got->stop_at = 3;
	ck_assert_int_eq(edge_config_foreach(c, collect, got), 42);
	ck_assert_int_eq(got->count, 3);
	free(got);
	edge_config_free(c);
}
END_TEST

static char *dump_to_string(const edge_config *c, bool secrets)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(edge_config_dump(c, f, secrets), 0);
	fclose(f);
	return buf;
}

/* Every key's value in c equals the one in d. */
static void assert_same_values(const edge_config *c, const edge_config *d)
{
	struct collected *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	char va[EDGE_CONFIG_PATH_MAX], vb[EDGE_CONFIG_PATH_MAX];

	ck_assert_int_eq(edge_config_foreach(c, collect, a), 0);
	for (int i = 0; i < a->count; i++) {
		ck_assert_int_eq(edge_config_get(c, a->names[i], va, sizeof va), 0);
		ck_assert_int_eq(edge_config_get(d, a->names[i], vb, sizeof vb), 0);
		ck_assert_msg(strcmp(va, vb) == 0, "%s: '%s' != '%s'", a->names[i], va, vb);
	}
	free(a);
	free(b);
}

START_TEST(dump_then_load_round_trips)
{
	static const char *const changes[][2] = {
		{ "log.level", "debug" },
		{ "log.bad_input_burst", "9" },
		{ "paths.state_dir", "/srv/state dir" },
		{ "paths.database", "/data/e.db" },
		{ "mqtt.host", "broker.example" },
		{ "mqtt.port", "8883" },
		{ "mqtt.username", "gw" },
		{ "mqtt.password", " p#ss;w=rd " },
		{ "mqtt.tls_ca_file", "/etc/ssl/ca.pem" },
		{ "mqtt.tls_cert_file", "/etc/ssl/c.pem" },
		{ "mqtt.tls_key_file", "/etc/ssl/k.pem" },
		{ "mqtt.max_payload_bytes", "1k" },
		{ "store.quick_check_on_start", "no" },
		{ "control.socket_mode", "0600" },
		{ "control.socket_group", "edgeops" },
	};
	edge_config *c = edge_config_new();
	char err[256];

	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++)
		ck_assert_msg(edge_config_set(c, changes[i][0], changes[i][1], err,
					      sizeof err) == 0,
			      "%s", err);
	ck_assert_int_eq(edge_config_check(c, err, sizeof err), 0);

	char *text = dump_to_string(c, true);
	edge_config *d = edge_config_new();
	ck_assert_msg(edge_config_load_buffer(d, "dump", text, strlen(text), err,
					      sizeof err) == 0,
		      "%s", err);
	assert_same_values(c, d);
	/* Values keep inner blanks; surrounding blanks are never part of a
	 * value, in a file or through set. */
	ck_assert_str_eq(edge_config_settings(d)->mqtt.password, "p#ss;w=rd");
	ck_assert_str_eq(edge_config_settings(d)->paths.state_dir, "/srv/state dir");
	ck_assert_str_eq(edge_config_settings(d)->paths.database_file, "/data/e.db");
	free(text);
	edge_config_free(d);

	/* Without secrets: the password is a comment and never appears. */
	text = dump_to_string(c, false);
	ck_assert_ptr_null(strstr(text, "p#ss"));
	ck_assert_ptr_nonnull(strstr(text, "\n# password = <hidden>\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n[mqtt]\nhost = broker.example\nport = 8883\n"));
	d = edge_config_new();
	ck_assert_int_eq(edge_config_load_buffer(d, "dump", text, strlen(text), err,
						 sizeof err),
			 0);
	ck_assert_str_eq(edge_config_settings(d)->mqtt.password, "");
	free(text);
	edge_config_free(d);

	/* Defaults round-trip too. */
	edge_config *e = edge_config_new();
	text = dump_to_string(e, false);
	d = edge_config_new();
	ck_assert_int_eq(edge_config_load_buffer(d, "dump", text, strlen(text), err,
						 sizeof err),
			 0);
	assert_same_values(e, d);
	free(text);
	edge_config_free(d);
	edge_config_free(e);
	edge_config_free(c);
}
END_TEST

START_TEST(dup_is_independent)
{
	edge_config *c = edge_config_new();
	char err[256];
	edge_config *d = edge_config_dup(c);

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(edge_config_set(d, "mqtt.port", "2000", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_settings(c)->mqtt.port, 1883);
	ck_assert_int_eq(edge_config_settings(d)->mqtt.port, 2000);
	edge_config_free(d);
	edge_config_free(c);
}
END_TEST

START_TEST(reload_lists_keys_that_need_a_restart)
{
	edge_config *cur = edge_config_new();
	edge_config *next = edge_config_new();
	char err[256], msg[256];

	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 0);
	ck_assert_str_eq(msg, "");

	/* Reloadable changes only. */
	ck_assert_int_eq(edge_config_load_buffer(next, "n",
						 "[log]\nlevel = debug\nbad_input_burst = 2\n"
						 "[mqtt]\nmax_payload_bytes = 1024\n"
						 "[registry]\nstale_after_missed_heartbeats = 5\n",
						 strlen("[log]\nlevel = debug\nbad_input_burst = 2\n"
							"[mqtt]\nmax_payload_bytes = 1024\n"
							"[registry]\nstale_after_missed_heartbeats = 5\n"),
						 err, sizeof err),
			 0);
	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 0);
	ck_assert_str_eq(msg, "");

	/* Plus restart-only ones. */
	ck_assert_int_eq(edge_config_set(next, "mqtt.port", "1999", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_set(next, "mqtt.host", "other", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_set(next, "paths.runtime_dir", "/run/x", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_check(next, err, sizeof err), 0);
	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 3);
	ck_assert_str_eq(msg, "paths.runtime_dir, mqtt.host, mqtt.port");
	ck_assert_int_eq(edge_config_reload_check(cur, next, NULL, 0), 3);

	char small[16];
	ck_assert_int_eq(edge_config_reload_check(cur, next, small, sizeof small), 3);
	ck_assert_str_eq(small, "paths.runtim...");

	/* Keep the running values of those; the reloadable ones apply. */
	edge_config_keep_restart_only(next, cur);
	const struct edge_settings *s = edge_config_settings(next);
	ck_assert_int_eq(s->mqtt.port, 1883);
	ck_assert_str_eq(s->mqtt.host, "/run/mosquitto-edged/mqtt.sock");
	ck_assert_str_eq(s->paths.runtime_dir, "/run/edged");
	ck_assert_str_eq(s->paths.control_socket_path, "/run/edged/edged.sock");
	ck_assert_int_eq(s->log.level, EDGE_LOG_DEBUG);
	ck_assert_uint_eq(s->mqtt.max_payload_bytes, 1024);
	ck_assert_int_eq(s->registry.stale_after_missed_heartbeats, 5);
	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 0);

	/* Secrets are compared too, and listed by name only. */
	ck_assert_int_eq(edge_config_set(next, "mqtt.username", "u", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_set(next, "mqtt.password", "pw", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 2);
	ck_assert_str_eq(msg, "mqtt.username, mqtt.password");
	edge_config_free(next);
	edge_config_free(cur);
}
END_TEST

/* Keys tied by a cross-key rule must share their reload behaviour, since
 * edge_config_keep_restart_only() does not check the mix again. */
START_TEST(table_is_consistent)
{
	static const char *const tied[][3] = {
		{ "mqtt.reconnect_min_ms", "mqtt.reconnect_max_ms", NULL },
		{ "mqtt.tls_cert_file", "mqtt.tls_key_file", "mqtt.tls_ca_file" },
		{ "mqtt.username", "mqtt.password", "mqtt.password_file" },
		{ "store.group_commit_max_ops", "store.queue_max_ops", NULL },
		{ "paths.state_dir", "paths.database", NULL },
		{ "paths.runtime_dir", "paths.control_socket", NULL },
	};
	edge_config *c = edge_config_new();
	struct collected *got = calloc(1, sizeof *got);

	ck_assert_int_eq(edge_config_foreach(c, collect, got), 0);
	for (int i = 0; i < got->count; i++)
		for (int j = i + 1; j < got->count; j++)
			ck_assert_str_ne(got->names[i], got->names[j]);
	for (size_t t = 0; t < sizeof tied / sizeof tied[0]; t++) {
		unsigned r = got->flags[find(got, tied[t][0])] & EDGE_CONFIG_RELOADABLE;
		for (int k = 1; k < 3 && tied[t][k]; k++)
			ck_assert_msg((got->flags[find(got, tied[t][k])] &
				       EDGE_CONFIG_RELOADABLE) == r,
				      "%s and %s differ in reloadability", tied[t][0],
				      tied[t][k]);
	}
	free(got);
	edge_config_free(c);
}
END_TEST

static int warnings;
static char last_warning[512];

static void capture(int level, const char *group, const char *msg, void *ud)
{
	if (level == EDGE_LOG_WARNING && strcmp(group, "config") == 0) {
		warnings++;
		snprintf(last_warning, sizeof last_warning, "%s", msg);
	}
}

START_TEST(password_in_a_world_readable_file_warns)
{
	char path[] = "/tmp/edge-config-test-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "[mqtt]\nusername = u\npassword = pw\n";
	char err[256], expected[600];
	edge_config *c = edge_config_new();

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)sizeof text - 1);
	close(fd);
	edge_log_set_hook(capture, NULL);
	edge_log_set_level(EDGE_LOG_DEBUG);

	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(edge_config_load_file(c, path, err, sizeof err), 0);
	ck_assert_int_eq(warnings, 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(edge_config_load_file(c, path, err, sizeof err), 0);
	ck_assert_int_eq(warnings, 1);
	snprintf(expected, sizeof expected,
		 "%s holds mqtt.password and is readable by everyone; consider chmod o-r",
		 path);
	ck_assert_str_eq(last_warning, expected);

	edge_log_set_hook(NULL, NULL);
	edge_config_free(c);
	unlink(path);
}
END_TEST

TCase *test_config_values_tcase(void)
{
	TCase *tc = tcase_create("values");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, table_is_consistent);
	tcase_add_test(tc, file_syntax_variants);
	tcase_add_test(tc, paths_resolve_against_their_directories);
	tcase_add_test(tc, set_get_and_check);
	tcase_add_test(tc, foreach_lists_every_key_and_hides_secrets);
	tcase_add_test(tc, dump_then_load_round_trips);
	tcase_add_test(tc, dup_is_independent);
	tcase_add_test(tc, reload_lists_keys_that_need_a_restart);
	tcase_add_test(tc, password_in_a_world_readable_file_warns);
	return tc;
}
