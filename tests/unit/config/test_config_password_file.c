/* mqtt.password_file: the rules around it, reading the file (first line,
 * limits, file types), the $CREDENTIALS_DIRECTORY lookup of a relative
 * name, the permission warning, secrecy and reload. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_log.h"
#include "test_config.h"

static char dir[] = "/tmp/edge-config-pwfile-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void teardown(void)
{
	char cmd[64];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(dir + sizeof dir - 7, "XXXXXX", 6);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* Writes len bytes into dir/name with the mode; returns the full path in
 * a static buffer. */
static const char *put(const char *name, const char *data, size_t len, mode_t mode)
{
	static char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Loads "[mqtt] username = gw, password_file = FILE" plus extra lines. */
static int load_with(const char *file, const char *extra, char *err, size_t errlen,
		     edge_config **out)
{
	char text[1024];

	snprintf(text, sizeof text, "[mqtt]\nusername = gw\npassword_file = %s\n%s",
		 file, extra ? extra : "");
	return load_text(text, err, errlen, out);
}

static void expect_file_error(const char *file, const char *why)
{
	char err[1024], expected[1024];

	ck_assert_int_eq(load_with(file, NULL, err, sizeof err, NULL), EDGE_ECONFIG);
	snprintf(expected, sizeof expected, "t.conf:3: mqtt.password_file = %s: %s", file,
		 why);
	ck_assert_str_eq(err, expected);
}

START_TEST(rules_around_the_key)
{
	char err[512];

	ck_assert_int_eq(load_text("[mqtt]\nusername = gw\npassword = pw\n"
				   "password_file = /etc/edged/pw\n",
				   err, sizeof err, NULL),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "t.conf:4: mqtt.password and mqtt.password_file are "
			      "both set; keep one");
	ck_assert_int_eq(load_text("[mqtt]\npassword_file = /etc/edged/pw\n", err,
				   sizeof err, NULL),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "t.conf:2: mqtt.password_file needs mqtt.username");
	/* Through edge_config_set: no FILE:LINE, the same rule. */
	edge_config *c = edge_config_new();
	ck_assert_int_eq(edge_config_set(c, "mqtt.password_file", "/x", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_check(c, err, sizeof err), EDGE_ECONFIG);
	ck_assert_str_eq(err, "mqtt.password_file needs mqtt.username");
	edge_config_free(c);
}
END_TEST

START_TEST(reads_the_first_line)
{
	char err[512];
	edge_config *c;

	const char *p = put("pw", "s3cr#t; x\nsecond line\n", 22, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password_from_file, "s3cr#t; x");
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password, "");
	edge_config_free(c);

	/* No newline at all, and a CRLF line end. */
	p = put("pw", "abc", 3, 0400);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password_from_file, "abc");
	edge_config_free(c);
	p = put("pw", "abc\r\n", 5, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password_from_file, "abc");
	edge_config_free(c);

	/* 255 bytes is the limit, with or without the newline after it. */
	char big[300];
	memset(big, 'x', sizeof big);
	big[255] = '\n';
	p = put("pw", big, 256, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_uint_eq(strlen(edge_config_settings(c)->mqtt.password_from_file), 255);
	edge_config_free(c);
	p = put("pw", big, 255, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_uint_eq(strlen(edge_config_settings(c)->mqtt.password_from_file), 255);
	edge_config_free(c);
}
END_TEST

START_TEST(file_errors)
{
	char path[256], why[512];

	snprintf(path, sizeof path, "%s/missing", dir);
	snprintf(why, sizeof why, "cannot open %s: No such file or directory", path);
	expect_file_error(path, why);

	snprintf(why, sizeof why, "%s is not a regular file", dir);
	expect_file_error(dir, why);
	/* A FIFO is refused, not waited on. */
	snprintf(path, sizeof path, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(why, sizeof why, "%s is not a regular file", path);
	expect_file_error(path, why);

	const char *p = put("empty", "", 0, 0600);
	snprintf(path, sizeof path, "%s", p);
	snprintf(why, sizeof why, "%s is empty; its first line must be the password", path);
	expect_file_error(path, why);
	p = put("empty", "\nsecond\n", 8, 0600);
	expect_file_error(path, why);

	char big[300];
	memset(big, 'x', sizeof big);
	p = put("long", big, 256, 0600);
	snprintf(path, sizeof path, "%s", p);
	snprintf(why, sizeof why, "the password in %s is longer than 255 bytes", path);
	expect_file_error(path, why);
	big[256] = '\n';
	p = put("long", big, 257, 0600);
	expect_file_error(path, why);

	p = put("nul", "ab\0cd\n", 6, 0600);
	snprintf(path, sizeof path, "%s", p);
	snprintf(why, sizeof why, "%s holds a NUL byte in its first line", path);
	expect_file_error(path, why);

	/* Unreadable (mode 0): only when not running as root. */
	if (geteuid() != 0) {
		p = put("locked", "pw\n", 3, 0);
		snprintf(path, sizeof path, "%s", p);
		snprintf(why, sizeof why, "cannot open %s: Permission denied", path);
		expect_file_error(path, why);
	}
}
END_TEST

START_TEST(relative_name_is_a_systemd_credential)
{
	char err[512];
	edge_config *c;

	ck_assert_int_eq(load_with("mqtt-password", NULL, err, sizeof err, NULL),
			 EDGE_ECONFIG);
	ck_assert_str_eq(err, "t.conf:3: mqtt.password_file = mqtt-password: relative "
			      "mqtt.password_file needs $CREDENTIALS_DIRECTORY (systemd "
			      "LoadCredential=)");
	ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", "", 1), 0);
	ck_assert_int_eq(load_with("mqtt-password", NULL, err, sizeof err, NULL),
			 EDGE_ECONFIG);

	put("mqtt-password", "from-credential\n", 16, 0400);
	ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
	ck_assert_int_eq(load_with("mqtt-password", NULL, err, sizeof err, &c), 0);
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password_from_file,
			 "from-credential");
	/* The key keeps the name as written. */
	ck_assert_str_eq(value_of(c, "mqtt.password_file"), "mqtt-password");
	edge_config_free(c);

	/* A credential that systemd did not pass. */
	char why[512];
	snprintf(why, sizeof why, "cannot open %s/other: No such file or directory", dir);
	expect_file_error("other", why);

	/* An absolute name ignores $CREDENTIALS_DIRECTORY. */
	const char *p = put("abs", "absolute\n", 9, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password_from_file, "absolute");
	edge_config_free(c);
}
END_TEST

static int warnings;
static char last_warning[512];

static void capture(int level, const char *group, const char *msg, void *ud)
{
	(void)ud;
	if (level == EDGE_LOG_WARNING && strcmp(group, "config") == 0) {
		warnings++;
		snprintf(last_warning, sizeof last_warning, "%s", msg);
	}
}

START_TEST(readable_by_others_warns)
{
	char conf[300], text[512], err[512], expected[600];
	edge_config *c = edge_config_new();
	const char *p = put("pw", "pw\n", 3, 0600);
	char pw[256];

	snprintf(pw, sizeof pw, "%s", p);
	snprintf(text, sizeof text, "[mqtt]\nusername = gw\npassword_file = %s\n", pw);
	put("edged.conf", text, strlen(text), 0644);
	snprintf(conf, sizeof conf, "%s/edged.conf", dir);
	warnings = 0;
	edge_log_set_hook(capture, NULL);
	edge_log_set_level(EDGE_LOG_DEBUG);

	ck_assert_int_eq(edge_config_load_file(c, conf, err, sizeof err), 0);
	ck_assert_int_eq(warnings, 0); /* a readable config file is fine here */
	ck_assert_int_eq(chmod(pw, 0640), 0);
	ck_assert_int_eq(edge_config_load_file(c, conf, err, sizeof err), 0);
	ck_assert_int_eq(warnings, 1);
	snprintf(expected, sizeof expected,
		 "mqtt.password_file %s is readable by its group; make it readable by "
		 "edged only (chmod 0600, or a systemd credential)",
		 pw);
	ck_assert_str_eq(last_warning, expected);
	ck_assert_int_eq(chmod(pw, 0604), 0);
	ck_assert_int_eq(edge_config_load_file(c, conf, err, sizeof err), 0);
	ck_assert_int_eq(warnings, 2);
	ck_assert_ptr_nonnull(strstr(last_warning, "is readable by everyone;"));
	ck_assert_ptr_null(strstr(last_warning, "pw\n"));

	/* A systemd credential: the directory is the unit's alone, and its
	 * copies may show group bits (an ACL for the unit's user). */
	ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
	snprintf(text, sizeof text, "[mqtt]\nusername = gw\npassword_file = pw\n");
	put("edged.conf", text, strlen(text), 0600);
	ck_assert_int_eq(edge_config_load_file(c, conf, err, sizeof err), 0);
	ck_assert_str_eq(edge_config_settings(c)->mqtt.password_from_file, "pw");
	ck_assert_int_eq(warnings, 2);

	edge_log_set_hook(NULL, NULL);
	edge_config_free(c);
}
END_TEST

static int find_secret(const struct edge_config_key_info *info, void *ud)
{
	return strstr(info->value, (const char *)ud) != NULL;
}

START_TEST(password_is_never_shown)
{
	char err[512];
	edge_config *c;
	const char *p = put("pw", "Hunter2-topsecret\n", 18, 0600);

	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &c), 0);
	ck_assert_int_eq(edge_config_foreach(c, find_secret, "Hunter2"), 0);
	for (int secrets = 0; secrets < 2; secrets++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(edge_config_dump(c, f, secrets), 0);
		fclose(f);
		ck_assert_ptr_null(strstr(text, "Hunter2"));
		ck_assert_ptr_nonnull(strstr(text, "password_file = "));
		free(text);
	}
	/* Errors about the key show the name, not the content. */
	p = put("pw", "Hunter2\0x\n", 10, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, NULL), EDGE_ECONFIG);
	ck_assert_ptr_null(strstr(err, "Hunter2"));
	edge_config_free(c);
}
END_TEST

START_TEST(reload_keeps_the_running_password)
{
	char err[512], msg[256];
	edge_config *cur, *next;
	const char *p = put("pw", "old\n", 4, 0600);
	char path[256];

	snprintf(path, sizeof path, "%s", p);
	ck_assert_int_eq(load_with(path, NULL, err, sizeof err, &cur), 0);
	/* New content, same key: nothing to report, the old password stays
	 * until a restart (the broker session is not reopened on reload). */
	put("pw", "new\n", 4, 0600);
	ck_assert_int_eq(load_with(path, "[control]\nmax_clients = 9\n", err, sizeof err,
				   &next),
			 0);
	ck_assert_str_eq(edge_config_settings(next)->mqtt.password_from_file, "new");
	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 0);
	edge_config_keep_restart_only(next, cur);
	ck_assert_str_eq(edge_config_settings(next)->mqtt.password_from_file, "old");
	ck_assert_int_eq(edge_config_settings(next)->control.max_clients, 9);
	edge_config_free(next);

	/* Another file: a restart-only change. */
	p = put("pw2", "other\n", 6, 0600);
	ck_assert_int_eq(load_with(p, NULL, err, sizeof err, &next), 0);
	ck_assert_int_eq(edge_config_reload_check(cur, next, msg, sizeof msg), 1);
	ck_assert_str_eq(msg, "mqtt.password_file");
	edge_config_free(next);

	/* Dropping password_file clears the derived password. */
	ck_assert_int_eq(edge_config_set(cur, "mqtt.password_file", "", err, sizeof err), 0);
	ck_assert_int_eq(edge_config_check(cur, err, sizeof err), 0);
	ck_assert_str_eq(edge_config_settings(cur)->mqtt.password_from_file, "");
	edge_config_free(cur);
}
END_TEST

TCase *test_config_password_file_tcase(void)
{
	TCase *tc = tcase_create("password_file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rules_around_the_key);
	tcase_add_test(tc, reads_the_first_line);
	tcase_add_test(tc, file_errors);
	tcase_add_test(tc, relative_name_is_a_systemd_credential);
	tcase_add_test(tc, readable_by_others_warns);
	tcase_add_test(tc, password_is_never_shown);
	tcase_add_test(tc, reload_keeps_the_running_password);
	return tc;
}
