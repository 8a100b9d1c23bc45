/* Prints what the settings table generates, or checks a shipped copy:
 *   edge-config-reference > config/edged.conf
 *   edge-config-reference --man > man/edged.conf.5
 *   edge-config-reference [--man] --check FILE   (exit 1 if FILE differs) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_config.h"

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s > config/edged.conf\n"
		"       %s --man > man/edged.conf.5\n"
		"       %s [--man] --check FILE\n",
		prog, prog, prog);
	return 2;
}

/* The whole file, or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	do {
		if (*len + 4096 > cap) {
			char *bigger = realloc(buf, cap = (*len + 4096) * 2);

			if (!bigger) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = bigger;
		}
		n = fread(buf + *len, 1, 4096, f);
		*len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	return buf;
}

/* 0 when path holds exactly what the table generates; else names the first
 * line that differs and how to regenerate it. */
static int check(const char *prog, const char *path, bool man, const char *generated,
		 size_t glen)
{
	size_t len, i = 0, line = 1;
	char *shipped = read_file(path, &len);

	if (!shipped) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	if (len == glen && memcmp(shipped, generated, len) == 0) {
		free(shipped);
		printf("%s is in step with the settings table\n", path);
		return 0;
	}
	while (i < len && i < glen && shipped[i] == generated[i])
		line += shipped[i++] == '\n';
	fprintf(stderr,
		"%s differs from what the settings table generates from line %zu on;\n"
		"regenerate it with: <build>/tests/unit/config/edge-config-reference%s > %s\n",
		path, line, man ? " --man" : "", man ? "man/edged.conf.5" : "config/edged.conf");
	free(shipped);
	return 1;
}

int main(int argc, char **argv)
{
	const char *check_path = NULL;
	bool man = false;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--man") == 0)
			man = true;
		else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc)
			check_path = argv[++i];
		else
			return usage(argv[0]);
	}
	out = open_memstream(&text, &len);
	if (!out) {
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	rc = man ? edge_config_write_manpage(out) : edge_config_write_reference(out);
	if (fclose(out) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], strerror(-rc));
		free(text);
		return 1;
	}
	if (check_path)
		rc = check(argv[0], check_path, man, text, len);
	else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
		rc = 1;
	free(text);
	return rc;
}
