/* Every way a config file can be wrong, with the exact message shape:
 * FILE:LINE, the key, what is wrong and what is allowed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_config.h"

static void expect_error(const char *text, const char *message)
{
	char err[1024];

	ck_assert_int_eq(load_text(text, err, sizeof err, NULL), EDGE_ECONFIG);
	ck_assert_str_eq(err, message);
}

START_TEST(unknown_key)
{
	expect_error("[mqtt]\nhost = broker\nprt = 1883\n",
		     "t.conf:3: unknown key 'prt' in section [mqtt]");
	/* A key of another section is unknown here. */
	expect_error("[log]\nport = 1883\n",
		     "t.conf:2: unknown key 'port' in section [log]");
}
END_TEST

START_TEST(unknown_section)
{
	expect_error("# hello\n[mqt]\n",
		     "t.conf:2: unknown section [mqt]; sections are [log] [paths] "
		     "[mqtt] [registry] [store] [control] [anomaly] [broker] [ota] [offload] [rollout] [central]");
}
END_TEST

START_TEST(bad_section_header)
{
	expect_error("[mqtt\n", "t.conf:1: expected ']' to end the section name");
	expect_error("[mqtt] port = 1\n", "t.conf:1: unexpected text after ']'");
}
END_TEST

START_TEST(missing_equals)
{
	expect_error("[mqtt]\n\nport 1883\n",
		     "t.conf:3: expected 'key = value', '[section]' or a comment");
	expect_error("[mqtt]\n= 1883\n", "t.conf:2: missing key before '='");
}
END_TEST

START_TEST(key_outside_a_section)
{
	expect_error("port = 1883\n", "t.conf:1: key 'port' before any [section]");
}
END_TEST

START_TEST(empty_value_where_not_allowed)
{
	expect_error("[mqtt]\nport =\n",
		     "t.conf:2: mqtt.port: empty value; must be an integer in 1..65535");
	expect_error("[mqtt]\nhost =   \n",
		     "t.conf:2: mqtt.host: empty value; must be a string of 1..255 characters");
	expect_error("[paths]\nstate_dir =\n",
		     "t.conf:2: paths.state_dir: empty value; must be an absolute path of 1..1023 characters");
}
END_TEST

START_TEST(bad_integer)
{
	expect_error("[mqtt]\nport = abc\n",
		     "t.conf:2: mqtt.port = abc: must be an integer in 1..65535");
	expect_error("[mqtt]\nport = 0x50\n",
		     "t.conf:2: mqtt.port = 0x50: must be an integer in 1..65535");
	expect_error("[mqtt]\nport = +80\n",
		     "t.conf:2: mqtt.port = +80: must be an integer in 1..65535");
	expect_error("[mqtt]\nport = 1.5\n",
		     "t.conf:2: mqtt.port = 1.5: must be an integer in 1..65535");
}
END_TEST

START_TEST(trailing_junk)
{
	expect_error("[mqtt]\nport = 1883x\n",
		     "t.conf:2: mqtt.port = 1883x: must be an integer in 1..65535");
	/* No trailing comments: the value runs to the end of the line. */
	expect_error("[mqtt]\nport = 1883 # broker\n",
		     "t.conf:2: mqtt.port = 1883 # broker: must be an integer in 1..65535");
	expect_error("[mqtt]\nkeepalive_s = 30s\n",
		     "t.conf:2: mqtt.keepalive_s = 30s: must be a duration in seconds, "
		     "an integer in 5..65535");
}
END_TEST

START_TEST(out_of_range_on_both_sides)
{
	expect_error("[mqtt]\nport = 0\n",
		     "t.conf:2: mqtt.port = 0: must be an integer in 1..65535");
	expect_error("[mqtt]\nport = 70000\n",
		     "t.conf:2: mqtt.port = 70000: must be an integer in 1..65535");
	expect_error("[mqtt]\nport = -1\n",
		     "t.conf:2: mqtt.port = -1: must be an integer in 1..65535");
	expect_error("[mqtt]\nport = 99999999999999999999999\n",
		     "t.conf:2: mqtt.port = 99999999999999999999999: must be an integer in 1..65535");
	expect_error("[mqtt]\nreconnect_min_ms = 0\n",
		     "t.conf:2: mqtt.reconnect_min_ms = 0: must be a duration in "
		     "milliseconds, an integer in 1..3600000");
	expect_error("[store]\nbusy_timeout_ms = 600001\n",
		     "t.conf:2: store.busy_timeout_ms = 600001: must be a duration in "
		     "milliseconds, an integer in 0..600000");
	expect_error("[mqtt]\nmax_payload_bytes = 63\n",
		     "t.conf:2: mqtt.max_payload_bytes = 63: must be a size in bytes in "
		     "64..4096 (suffix k or M for KiB, MiB)");
	expect_error("[mqtt]\nmax_payload_bytes = 5k\n",
		     "t.conf:2: mqtt.max_payload_bytes = 5k: must be a size in bytes in "
		     "64..4096 (suffix k or M for KiB, MiB)");
	expect_error("[control]\nmax_request_bytes = 1M\n",
		     "t.conf:2: control.max_request_bytes = 1M: must be a size in bytes in "
		     "1024..65536 (suffix k or M for KiB, MiB)");
	expect_error("[mqtt]\nmax_payload_bytes = 99999999999999999999k\n",
		     "t.conf:2: mqtt.max_payload_bytes = 99999999999999999999k: must be "
		     "a size in bytes in 64..4096 (suffix k or M for KiB, MiB)");
	expect_error("[mqtt]\nmax_payload_bytes = 9007199254740993M\n",
		     "t.conf:2: mqtt.max_payload_bytes = 9007199254740993M: must be "
		     "a size in bytes in 64..4096 (suffix k or M for KiB, MiB)");
	expect_error("[control]\nsocket_mode = 1777\n",
		     "t.conf:2: control.socket_mode = 1777: must be an octal file mode "
		     "in 0000..0777");
	expect_error("[control]\nsocket_mode = 0680\n",
		     "t.conf:2: control.socket_mode = 0680: must be an octal file mode "
		     "in 0000..0777");
}
END_TEST

START_TEST(bad_boolean)
{
	expect_error("[store]\nquick_check_on_start = maybe\n",
		     "t.conf:2: store.quick_check_on_start = maybe: must be a boolean: "
		     "true|false|yes|no|on|off|1|0");
	expect_error("[store]\nquick_check_on_start = 2\n",
		     "t.conf:2: store.quick_check_on_start = 2: must be a boolean: "
		     "true|false|yes|no|on|off|1|0");
}
END_TEST

START_TEST(bad_enum)
{
	expect_error("[log]\nlevel = verbose\n",
		     "t.conf:2: log.level = verbose: must be one of "
		     "err|warning|notice|info|debug");
	expect_error("[log]\nlevel = 7\n",
		     "t.conf:2: log.level = 7: must be one of "
		     "err|warning|notice|info|debug");
}
END_TEST

START_TEST(string_too_long)
{
	char text[512], expected[512];

	snprintf(text, sizeof text, "[mqtt]\nhost = %0256d\n", 0);
	snprintf(expected, sizeof expected,
		 "t.conf:2: mqtt.host = %064d...: must be a string of 1..255 characters",
		 0);
	expect_error(text, expected);
	/* 255 is fine. */
	snprintf(text, sizeof text, "[mqtt]\nhost = %0255d\n", 0);
	char err[256];
	ck_assert_int_eq(load_text(text, err, sizeof err, NULL), 0);
}
END_TEST

START_TEST(string_rules)
{
	expect_error("[mqtt]\ntopic_prefix = edge/+/v1\n",
		     "t.conf:2: mqtt.topic_prefix = edge/+/v1: must not contain the "
		     "MQTT wildcards '+' or '#'");
	expect_error("[mqtt]\ntopic_prefix = edge/v1/\n",
		     "t.conf:2: mqtt.topic_prefix = edge/v1/: must not start or end "
		     "with '/'");
	expect_error("[mqtt]\ntopic_prefix = edge//v1\n",
		     "t.conf:2: mqtt.topic_prefix = edge//v1: must not contain an empty "
		     "level ('//')");
	expect_error("[mqtt]\nclient_id = ed ged\n",
		     "t.conf:2: mqtt.client_id = ed ged: must not contain blanks");
	expect_error("[mqtt]\nhost = a\x1b[2Jb\n",
		     "t.conf:2: mqtt.host = a?[2Jb: must not contain control characters");
	expect_error("[paths]\nstate_dir = var/lib/edged\n",
		     "t.conf:2: paths.state_dir = var/lib/edged: must be an absolute "
		     "path of 1..1023 characters");
	expect_error("[mqtt]\ntls_ca_file = ca.pem\n",
		     "t.conf:2: mqtt.tls_ca_file = ca.pem: must be an absolute path of "
		     "at most 1023 characters (empty = not set)");
}
END_TEST

START_TEST(secrets_are_never_echoed)
{
	expect_error("[mqtt]\nusername = u\npassword = s3\x01cret\n",
		     "t.conf:3: mqtt.password = <hidden>: must not contain control "
		     "characters");
}
END_TEST

START_TEST(duplicate_key)
{
	expect_error("[mqtt]\nport = 1884\n[log]\nlevel = debug\n[mqtt]\nport = 1885\n",
		     "t.conf:6: mqtt.port: duplicate key (first set on line 2)");
}
END_TEST

START_TEST(line_too_long)
{
	char *text = malloc(4096);

	ck_assert_ptr_nonnull(text);
	/* 2047 characters are accepted (a comment), 2048 are not. */
	memset(text, '#', 4096);
	memcpy(text, "[mqtt]\n", 7);
	text[7 + 2047] = '\n';
	text[7 + 2048] = '\0';
	char err[256];
	ck_assert_int_eq(load_text(text, err, sizeof err, NULL), 0);
	memset(text, '#', 4096);
	memcpy(text, "[mqtt]\n", 7);
	text[7 + 2048] = '\0';
	expect_error(text, "t.conf:2: line longer than 2047 characters");
	free(text);
}
END_TEST

START_TEST(nul_byte)
{
	static const char text[] = "[mqtt]\nport = 18\00083\n";
	edge_config *c = edge_config_new();
	char err[256];

	ck_assert_int_eq(edge_config_load_buffer(c, "t.conf", text, sizeof text - 1,
						 err, sizeof err),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "t.conf:2: NUL byte in line");
	edge_config_free(c);
}
END_TEST

START_TEST(unreadable_file)
{
	edge_config *c = edge_config_new();
	char err[512];

	ck_assert_int_eq(edge_config_load_file(c, "/nonexistent/edged.conf", err,
					       sizeof err),
			 -ENOENT);
	ck_assert_str_eq(err,
			 "/nonexistent/edged.conf: cannot read: No such file or directory");
	ck_assert_int_eq(edge_config_load_file(c, "/", err, sizeof err), -EISDIR);
	ck_assert_str_eq(err, "/: cannot read: Is a directory");
	edge_config_free(c);
}
END_TEST

START_TEST(file_errors_name_the_path)
{
	char path[] = "/tmp/edge-config-test-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "[mqtt]\nport = 1884\n\n[mqtt]\nkeepalive_s = 1\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)sizeof text - 1);
	close(fd);

	edge_config *c = edge_config_new();
	char err[512], expected[512];
	ck_assert_int_eq(edge_config_load_file(c, path, err, sizeof err), EDGE_ECONFIG);
	snprintf(expected, sizeof expected,
		 "%s:5: mqtt.keepalive_s = 1: must be a duration in seconds, "
		 "an integer in 5..65535", path);
	ck_assert_str_eq(err, expected);
	/* All or nothing: line 2 was not applied. */
	ck_assert_int_eq(edge_config_settings(c)->mqtt.port, 1883);
	edge_config_free(c);
	unlink(path);
}
END_TEST

START_TEST(cross_key_errors)
{
	expect_error("[mqtt]\nreconnect_max_ms = 1000\nreconnect_min_ms = 5000\n",
		     "t.conf:3: mqtt.reconnect_min_ms = 5000 exceeds "
		     "mqtt.reconnect_max_ms = 1000");
	/* Only one side set in the file: that one is cited. */
	expect_error("[mqtt]\nreconnect_max_ms = 100\n",
		     "t.conf:2: mqtt.reconnect_min_ms = 200 exceeds "
		     "mqtt.reconnect_max_ms = 100");
	expect_error("[mqtt]\ntls_ca_file = /etc/ca.pem\ntls_key_file = /etc/key.pem\n",
		     "t.conf:3: mqtt.tls_cert_file and mqtt.tls_key_file must be set together");
	expect_error("[mqtt]\ntls_cert_file = /etc/cert.pem\n",
		     "t.conf:2: mqtt.tls_cert_file and mqtt.tls_key_file must be set together");
	expect_error("[mqtt]\ntls_cert_file = /etc/cert.pem\ntls_key_file = /etc/key.pem\n",
		     "t.conf:2: mqtt.tls_cert_file needs mqtt.tls_ca_file (TLS to the broker)");
	expect_error("[mqtt]\npassword = secret\n",
		     "t.conf:2: mqtt.password needs mqtt.username");
	expect_error("[store]\nqueue_max_ops = 100\n",
		     "t.conf:2: store.group_commit_max_ops = 256 exceeds "
		     "store.queue_max_ops = 100");

	char text[1400];
	snprintf(text, sizeof text, "[paths]\nruntime_dir = /%0100d\n", 0);
	expect_error(text, "t.conf:2: paths.control_socket: the socket path within "
			   "paths.runtime_dir is longer than 107 characters");
	snprintf(text, sizeof text, "[paths]\n\nstate_dir = /%01000d\ndatabase = %030d\n",
		 0, 0);
	expect_error(text, "t.conf:4: paths.database: the path within "
			   "paths.state_dir is longer than 1023 characters");

	/* Valid combinations pass. */
	char err[256];
	ck_assert_int_eq(load_text("[mqtt]\nusername = u\npassword = p\n"
				   "tls_ca_file = /ca\ntls_cert_file = /c\n"
				   "tls_key_file = /k\nreconnect_min_ms = 500\n"
				   "reconnect_max_ms = 500\n",
				   err, sizeof err, NULL),
			 0);
}
END_TEST

START_TEST(short_error_buffers_are_safe)
{
	char err[8];
	edge_config *c = edge_config_new();

	ck_assert_int_eq(load_text("[mqtt]\nport = 0\n", err, sizeof err, NULL),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "t.conf:");
	ck_assert_int_eq(edge_config_load_buffer(c, "x", "[nope]\n", 7, NULL, 0),
			 EDGE_ECONFIG);
	ck_assert_int_eq(edge_config_set(c, "mqtt.port", "0", NULL, 0), EDGE_ECONFIG);
	edge_config_free(c);
}
END_TEST

/* The ota section: the rate is 0 or a usable bound, the RTO bounds are
 * ordered, and the two directories resolve within paths.state_dir. */
START_TEST(ota_keys)
{
	const struct edge_settings *s;
	edge_config *c;
	char err[256];

	expect_error("[ota]\nrate_bytes_per_s = 512\n",
		     "t.conf:2: ota.rate_bytes_per_s = 512: must be 0 (unlimited) or at least 1024");
	expect_error("[ota]\nrto_min_ms = 5000\nrto_max_ms = 1000\n",
		     "t.conf:2: ota.rto_min_ms = 5000 exceeds ota.rto_max_ms = 1000");
	expect_error("[ota]\nthreshold = 9\n",
		     "t.conf:2: ota.threshold = 9: must be an integer in 1..8");
	expect_error("[ota]\nchunk_size = 63\n",
		     "t.conf:2: ota.chunk_size = 63: must be an integer in 64..16384");

	ck_assert_int_eq(load_text("[paths]\nstate_dir = /var/lib/e\n", err, sizeof err, &c), 0);
	s = edge_config_settings(c);
	ck_assert_str_eq(s->ota.trust_path, ""); /* no trusted key by default */
	ck_assert_str_eq(s->ota.models_path, "/var/lib/e/models");
	ck_assert_uint_eq(s->ota.rate_bytes_per_s, 1048576);
	ck_assert(s->ota.campaign);
	edge_config_free(c);

	ck_assert_int_eq(load_text("[paths]\nstate_dir = /var/lib/e\n[ota]\ntrust_dir = keys\n"
				   "models_dir = /srv/models\nrate_bytes_per_s = 0\n",
				   err, sizeof err, &c), 0);
	s = edge_config_settings(c);
	ck_assert_str_eq(s->ota.trust_path, "/var/lib/e/keys");
	ck_assert_str_eq(s->ota.models_path, "/srv/models");
	ck_assert_uint_eq(s->ota.rate_bytes_per_s, 0);
	edge_config_free(c);
}
END_TEST

TCase *test_config_errors_tcase(void)
{
	TCase *tc = tcase_create("errors");

	tcase_add_test(tc, unknown_key);
	tcase_add_test(tc, unknown_section);
	tcase_add_test(tc, bad_section_header);
	tcase_add_test(tc, missing_equals);
	tcase_add_test(tc, key_outside_a_section);
	tcase_add_test(tc, empty_value_where_not_allowed);
	tcase_add_test(tc, bad_integer);
	tcase_add_test(tc, trailing_junk);
	tcase_add_test(tc, out_of_range_on_both_sides);
	tcase_add_test(tc, bad_boolean);
	tcase_add_test(tc, bad_enum);
	tcase_add_test(tc, string_too_long);
	tcase_add_test(tc, string_rules);
	tcase_add_test(tc, secrets_are_never_echoed);
	tcase_add_test(tc, duplicate_key);
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, unreadable_file);
	tcase_add_test(tc, file_errors_name_the_path);
	tcase_add_test(tc, cross_key_errors);
	tcase_add_test(tc, short_error_buffers_are_safe);
	tcase_add_test(tc, ota_keys);
	return tc;
}
