/* edgectl broker-init: the gateway CA and the broker's identity files,
 * once, before the broker and edged first start (offline: no daemon).
 *
 * Writes, with lib/pki only (OpenSSL EVP, no openssl command line):
 *   PKI_DIR/ca.key, ca.crt          the CA (edged signs node certificates)
 *   DIR/ca.crt, broker.crt/.key     what the broker's TLS listener needs
 *   DIR/ca.crl                      empty CRL (a crlfile must exist at start)
 *   DIR/passwd                      the gateway user only
 *   DIR/acl                         the node protocol's rules
 *   SECRET                          edged's broker password (one line)
 * edged is the single writer of DIR afterwards (passwd, acl, ca.crl); it
 * renders them again from its database at every start.
 *
 * It never overwrites: an existing CA or identity file is refused with
 * the way to start over, since replacing the CA invalidates every node
 * certificate and replacing passwd every node password. An existing
 * SECRET is reused (it may be edged's credential already). On failure the
 * files written so far are removed again. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge_pki.h"
#include "edge_pki_acl.h"
#include "edge_pki_file.h"
#include "edge_pki_passwd.h"
#include "edgectl.h"

#define INIT_DEFAULT_PKI_DIR "/var/lib/edged/pki"
#define INIT_DEFAULT_USER "edged"
/* The CA outlives the node certificates it signs (broker.cert_days 3650). */
#define INIT_CA_DAYS 7300
#define INIT_BROKER_DAYS 3650
/* edged rewrites the CRL at each revocation; until then it must not expire
 * (a TLS listener with an expired CRL refuses every client). */
#define INIT_CRL_DAYS 3650
/* Modes: edged (owner) writes, the broker (group) reads. The identity dir
 * is set-group-ID: a file edged writes there later (a new file, renamed
 * over the old one) gets the broker's group, not edged's own. */
#define INIT_MODE_IDENTITY_DIR 02750
#define INIT_MODE_PKI_DIR 0700
#define INIT_MODE_SHARED 0640  /* passwd, acl, broker.key: broker.file_mode */
#define INIT_MODE_PUBLIC 0644  /* certificates and the CRL */
#define INIT_MODE_SECRET 0600
#define INIT_MAX_SANS 16
/* Files broker-init creates (the CA's two, seven in DIR and the secret). */
#define INIT_MAX_FILES 12
/* mqtt.password_file's bound. */
#define INIT_SECRET_MAX 255

static const char init_usage[] =
	"Usage: edgectl broker-init --dir IDENTITY_DIR [--pki-dir DIR] [--name NAME]\n"
	"                           [--san NAME|IP]... [--gateway-user USER]\n"
	"                           [--gateway-secret FILE] [--owner USER]\n"
	"                           [--broker-group GROUP]\n"
	"\n"
	"Create the gateway CA and the broker's identity files, once, before the\n"
	"broker and edged first start (offline: no daemon needed).\n"
	"\n"
	"  --dir DIR             the broker's identity directory (edged's\n"
	"                        broker.identity_dir): ca.crt, broker.crt, broker.key,\n"
	"                        ca.crl (empty), passwd (the gateway user), acl\n"
	"  --pki-dir DIR         the CA: ca.key (0600) and ca.crt (edged's\n"
	"                        broker.pki_dir; default " INIT_DEFAULT_PKI_DIR ")\n"
	"  --name NAME           CA name, [A-Za-z0-9._-]{1,64} (default: host name)\n"
	"  --san NAME|IP         extra name of the broker's certificate, repeatable\n"
	"                        (127.0.0.1, ::1 and localhost are always in it)\n"
	"  --gateway-user USER   edged's MQTT user (default " INIT_DEFAULT_USER ")\n"
	"  --gateway-secret FILE its password, one line, mode 0600 (default\n"
	"                        PKI_DIR/mqtt-password); an existing file is reused\n"
	"  --owner USER          owner of every file (edged's user; root only)\n"
	"  --broker-group GROUP  group of DIR and its files (the broker's group)\n"
	"\n"
	"Paths are absolute. An existing CA or identity file is never overwritten.\n"
	"Without root, --owner and --broker-group must be the current user and one\n"
	"of its groups.\n";

/* What was written, for the summary and for removal on failure. */
struct init_file {
	char path[PATH_MAX];
	mode_t mode;
	bool in_identity_dir; /* group = broker group, else owner's */
	const char *what;
};

struct init_state {
	const char *dir, *pki_dir, *name, *user, *secret;
	const char *sans[INIT_MAX_SANS];
	size_t nsans;
	uid_t uid;          /* owner of every file */
	gid_t owner_gid;    /* group of the pki dir and the secret */
	gid_t broker_gid;   /* group of DIR and its files */
	bool chown_needed;
	bool secret_reused;
	bool bad_usage;     /* lib/pki refused --name or a --san */
	char created_dirs[16][PATH_MAX];
	size_t ndirs;
	struct init_file files[INIT_MAX_FILES];
	size_t nfiles;
	char err[512];
};

static bool check_abs(const char *opt, const char *p)
{
	if (p[0] != '/' || strpbrk(p, "\r\n \t") || strlen(p) > PATH_MAX - 32) {
		fprintf(stderr, "edgectl broker-init: %s must be an absolute path "
				"without blanks\n", opt);
		return false;
	}
	return true;
}

static bool id_class(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789_-") == n;
}

/* The host name reduced to the CA name class; "edged" if nothing is left. */
static void default_name(char out[EDGE_PKI_NAME_MAX + 1])
{
	char host[256] = "";
	size_t n = 0;

	if (gethostname(host, sizeof host - 1) != 0)
		host[0] = '\0';
	for (const char *c = host; *c && n < EDGE_PKI_NAME_MAX; c++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
			   *c))
			out[n++] = *c;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, EDGE_PKI_NAME_MAX + 1, "edged");
}

/* Takes every --san out of argv (edgectl_parse_args keeps one value per
 * option); returns the new argc, or -1 on bad usage. */
static int take_sans(int argc, char **argv, struct init_state *st)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		const char *v = NULL;

		if (i > 0 && strcmp(argv[i], "--san") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "edgectl broker-init: --san needs a value\n");
				return -1;
			}
			v = argv[++i];
		} else if (i > 0 && strncmp(argv[i], "--san=", 6) == 0) {
			v = argv[i] + 6;
		} else {
			argv[n++] = argv[i];
			continue;
		}
		if (st->nsans == INIT_MAX_SANS) {
			fprintf(stderr, "edgectl broker-init: at most %d --san\n", INIT_MAX_SANS);
			return -1;
		}
		st->sans[st->nsans++] = v;
	}
	return n;
}

static bool in_my_groups(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (gid == getegid())
		return true;
	n = getgroups((int)(sizeof groups / sizeof groups[0]), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* --owner / --broker-group into ids; without root only the caller's own. */
static int resolve_ownership(struct init_state *st, const char *owner, const char *group)
{
	bool root = geteuid() == 0;

	st->uid = geteuid();
	st->owner_gid = getegid();
	if (owner) {
		struct passwd *pw = getpwnam(owner);

		if (!pw) {
			fprintf(stderr, "edgectl broker-init: --owner %s: no such user\n", owner);
			return EDGECTL_EUSAGE;
		}
		if (!root && pw->pw_uid != geteuid()) {
			fprintf(stderr, "edgectl broker-init: --owner %s: only root can give "
					"the files to another user\n", owner);
			return EDGECTL_EUSAGE;
		}
		st->uid = pw->pw_uid;
		st->owner_gid = pw->pw_gid;
	}
	st->broker_gid = st->owner_gid;
	if (group) {
		struct group *gr = getgrnam(group);

		if (!gr) {
			fprintf(stderr, "edgectl broker-init: --broker-group %s: no such group\n",
				group);
			return EDGECTL_EUSAGE;
		}
		if (!root && !in_my_groups(gr->gr_gid)) {
			fprintf(stderr, "edgectl broker-init: --broker-group %s: not a group of "
					"the current user (only root can give files to it)\n", group);
			return EDGECTL_EUSAGE;
		}
		st->broker_gid = gr->gr_gid;
	}
	st->chown_needed = owner || group;
	return EDGECTL_OK;
}

static void join(char *out, const char *dir, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 || errno != ENOENT;
}

/* Every file broker-init would create must be absent. */
static int refuse_existing(const struct init_state *st)
{
	static const char *const in_dir[] = { "ca.crt", "broker.crt", "broker.key", "ca.crl",
					      "passwd", "acl" };
	char p[PATH_MAX], found[1024] = "";
	bool ca = false;

	join(p, st->pki_dir, "ca.key");
	ca = exists(p);
	join(p, st->pki_dir, "ca.crt");
	ca = ca || exists(p);
	if (ca) {
		fprintf(stderr,
			"edgectl broker-init: a gateway CA exists in %s: broker-init creates a "
			"new one only.\n"
			"To start over (every node certificate and password becomes invalid): "
			"stop edged and the broker, remove %s/ca.key, %s/ca.crt and the files in "
			"%s, then run broker-init again and provision every node again.\n",
			st->pki_dir, st->pki_dir, st->pki_dir, st->dir);
		return EDGECTL_EDAEMON;
	}
	for (size_t i = 0; i < sizeof in_dir / sizeof in_dir[0]; i++) {
		join(p, st->dir, in_dir[i]);
		if (exists(p)) {
			size_t n = strlen(found);

			snprintf(found + n, sizeof found - n, "%s%s", n ? ", " : "", in_dir[i]);
		}
	}
	if (found[0]) {
		fprintf(stderr,
			"edgectl broker-init: %s already holds %s: broker-init does not "
			"overwrite a broker's identity files (edged keeps them up to date).\n"
			"To start over: stop edged and the broker, remove these files, then run "
			"broker-init again.\n",
			st->dir, found);
		return EDGECTL_EDAEMON;
	}
	return EDGECTL_OK;
}

/* mkdir -p; the last component gets `mode` when it is created. Created
 * directories are remembered for removal on failure. */
static int make_dir(struct init_state *st, const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1;; s++) {
		bool last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(buf, last ? mode : 0755) == 0) {
			if (st->ndirs < sizeof st->created_dirs / sizeof st->created_dirs[0])
				snprintf(st->created_dirs[st->ndirs++], PATH_MAX, "%s", buf);
		} else if (errno != EEXIST) {
			int e = errno;

			snprintf(st->err, sizeof st->err, "create directory %.400s: %s", buf,
				 strerror(e));
			return -e;
		}
		if (last)
			break;
		*s = '/';
	}
	return 0;
}

static struct init_file *note_file(struct init_state *st, const char *path, mode_t mode,
				   bool in_identity_dir, const char *what)
{
	struct init_file *f = &st->files[st->nfiles++];

	snprintf(f->path, sizeof f->path, "%s", path);
	f->mode = mode;
	f->in_identity_dir = in_identity_dir;
	f->what = what;
	return f;
}

static int write_file(struct init_state *st, const char *dir, const char *name,
		      const void *data, size_t len, mode_t mode, const char *what)
{
	char p[PATH_MAX];
	int rc;

	join(p, dir, name);
	rc = edge_pki_write_file(p, data, len, mode, st->err, sizeof st->err);
	if (rc == 0)
		note_file(st, p, mode, dir == st->dir, what);
	return rc;
}

/* The existing secret's first line, or a new password. */
static int gateway_password(struct init_state *st, char *pw, size_t cap)
{
	FILE *f = fopen(st->secret, "re");
	size_t n;

	if (!f) {
		if (errno != ENOENT) {
			int e = errno;

			snprintf(st->err, sizeof st->err, "open %.400s: %s", st->secret,
				 strerror(e));
			return -e;
		}
		char gen[EDGE_PKI_PASSWORD_LEN + 1];
		int rc = edge_pki_password_generate(gen);

		if (rc < 0) {
			snprintf(st->err, sizeof st->err, "generate a password");
			return rc;
		}
		snprintf(pw, cap, "%s", gen);
		return 0;
	}
	if (!fgets(pw, (int)cap, f))
		pw[0] = '\0';
	fclose(f);
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (n == 0 || n > INIT_SECRET_MAX) {
		snprintf(st->err, sizeof st->err, "%.400s exists but its first line is not a "
			 "password of 1..%d bytes", st->secret, INIT_SECRET_MAX);
		return -EINVAL;
	}
	st->secret_reused = true;
	return 0;
}

static int set_owner(struct init_state *st, const char *path, gid_t gid)
{
	if (!st->chown_needed)
		return 0;
	if (chown(path, st->uid, gid) != 0) {
		int e = errno;

		snprintf(st->err, sizeof st->err, "chown %.400s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* Undo: the files written, then the directories created (deepest first). */
static void remove_created(struct init_state *st)
{
	while (st->nfiles > 0)
		(void)unlink(st->files[--st->nfiles].path);
	while (st->ndirs > 0)
		(void)rmdir(st->created_dirs[--st->ndirs]);
}

static int write_all(struct init_state *st, const char *password, edge_pki_ca **ca_out)
{
	char p[PATH_MAX], k[PATH_MAX], secret_dir[PATH_MAX], hash[EDGE_PKI_PWHASH_MAX];
	struct edge_pki_issued server = { 0 };
	struct edge_pki_acl_options acl = { .gateway_user = st->user };
	struct edge_pki_user users[1] = { { st->user, hash } };
	char *ca_pem = NULL, *acl_text = NULL;
	size_t ca_len = 0, acl_len = 0;
	edge_pki_ca *ca = NULL;
	int rc;

	/* The secret's directory, if missing, is private like the pki dir. */
	snprintf(secret_dir, sizeof secret_dir, "%s", st->secret);
	*strrchr(secret_dir, '/') = '\0';
	rc = make_dir(st, st->pki_dir, INIT_MODE_PKI_DIR);
	if (rc == 0)
		rc = make_dir(st, st->dir, INIT_MODE_IDENTITY_DIR);
	if (rc == 0 && secret_dir[0])
		rc = make_dir(st, secret_dir, INIT_MODE_PKI_DIR);
	if (rc < 0)
		return rc;
	/* An existing directory gets the modes too: they are the access policy. */
	if (chmod(st->pki_dir, INIT_MODE_PKI_DIR) != 0 ||
	    chmod(st->dir, INIT_MODE_IDENTITY_DIR) != 0) {
		int e = errno;

		snprintf(st->err, sizeof st->err, "chmod a directory: %s", strerror(e));
		return -e;
	}
	rc = edge_pki_ca_create(st->name, INIT_CA_DAYS, &ca, st->err, sizeof st->err);
	st->bad_usage = rc == -EINVAL;
	if (rc < 0)
		return rc;
	*ca_out = ca;
	join(k, st->pki_dir, "ca.key");
	join(p, st->pki_dir, "ca.crt");
	rc = edge_pki_ca_save(ca, k, p, st->err, sizeof st->err);
	/* ca_save writes the key first: note both, so a half save is undone. */
	note_file(st, k, INIT_MODE_SECRET, false, "the CA's private key");
	note_file(st, p, INIT_MODE_PUBLIC, false, "the CA certificate");
	if (rc < 0)
		return rc;
	rc = edge_pki_ca_cert_pem(ca, &ca_pem, &ca_len);
	if (rc == 0)
		rc = write_file(st, st->dir, "ca.crt", ca_pem, ca_len, INIT_MODE_PUBLIC,
				"the CA certificate (broker cafile, node bundles)");
	free(ca_pem);
	if (rc < 0)
		return rc;
	rc = edge_pki_issue_server(ca, st->sans, st->nsans, INIT_BROKER_DAYS, &server, st->err,
				   sizeof st->err);
	st->bad_usage = rc == -EINVAL;
	if (rc < 0)
		return rc;
	rc = write_file(st, st->dir, "broker.key", server.key_pem, server.key_len,
			INIT_MODE_SHARED, "the broker's TLS key (keyfile)");
	if (rc == 0)
		rc = write_file(st, st->dir, "broker.crt", server.cert_pem, server.cert_len,
				INIT_MODE_PUBLIC, "the broker's TLS certificate (certfile)");
	edge_pki_issued_clear(&server);
	if (rc < 0)
		return rc;
	join(p, st->dir, "ca.crl");
	rc = edge_pki_crl_write(ca, NULL, 0, INIT_CRL_DAYS, 1, p, st->err, sizeof st->err);
	if (rc < 0)
		return rc;
	note_file(st, p, INIT_MODE_PUBLIC, true, "revoked node certificates (crlfile), empty");
	rc = edge_pki_password_hash(password, hash, sizeof hash);
	if (rc < 0) {
		snprintf(st->err, sizeof st->err, "hash the gateway password");
		return rc;
	}
	join(p, st->dir, "passwd");
	rc = edge_pki_passwd_write(p, users, 1, INIT_MODE_SHARED, st->err, sizeof st->err);
	if (rc < 0)
		return rc;
	note_file(st, p, INIT_MODE_SHARED, true, "password file: the gateway user only");
	rc = edge_pki_acl_render(&acl, &acl_text, &acl_len, st->err, sizeof st->err);
	if (rc == 0)
		rc = write_file(st, st->dir, "acl", acl_text, acl_len, INIT_MODE_SHARED,
				"the topic rules (acl_file)");
	free(acl_text);
	if (rc < 0)
		return rc;
	if (!st->secret_reused) {
		char line[INIT_SECRET_MAX + 2];
		size_t n = (size_t)snprintf(line, sizeof line, "%s\n", password);

		rc = edge_pki_write_file(st->secret, line, n, INIT_MODE_SECRET, st->err,
					 sizeof st->err);
		explicit_bzero(line, sizeof line);
		if (rc < 0)
			return rc;
		note_file(st, st->secret, INIT_MODE_SECRET, false, "edged's broker password");
	}
	/* Ownership last: every file exists with its final mode already. */
	rc = set_owner(st, st->pki_dir, st->owner_gid);
	if (rc == 0)
		rc = set_owner(st, st->dir, st->broker_gid);
	for (size_t i = 0; rc == 0 && i < st->nfiles; i++)
		rc = set_owner(st, st->files[i].path,
			       st->files[i].in_identity_dir ? st->broker_gid : st->owner_gid);
	/* Again after chown, which may drop the set-group-ID bit. */
	if (rc == 0 && chmod(st->dir, INIT_MODE_IDENTITY_DIR) != 0) {
		int e = errno;

		snprintf(st->err, sizeof st->err, "chmod %.400s: %s", st->dir, strerror(e));
		return -e;
	}
	return rc;
}

static const char *user_name(uid_t uid, char *buf, size_t cap)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, cap, "%s", pw->pw_name);
	else
		snprintf(buf, cap, "%u", (unsigned)uid);
	return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t cap)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, cap, "%s", gr->gr_name);
	else
		snprintf(buf, cap, "%u", (unsigned)gid);
	return buf;
}

static void print_summary(const struct init_state *st, const edge_pki_ca *ca)
{
	char fp[EDGE_PKI_FINGERPRINT_LEN], u[64], g[64];
	int width = 0;

	edge_pki_ca_fingerprint(ca, fp);
	for (size_t i = 0; i < st->nfiles; i++)
		if ((int)strlen(st->files[i].path) > width)
			width = (int)strlen(st->files[i].path);
	printf("Gateway CA \"edged gateway CA %s\" created.\n"
	       "CA fingerprint (SHA-256): %s\n"
	       "Broker certificate names: 127.0.0.1, ::1, localhost",
	       st->name, fp);
	for (size_t i = 0; i < st->nsans; i++)
		printf(", %s", st->sans[i]);
	printf("\n\nWritten:\n");
	for (size_t i = 0; i < st->nfiles; i++) {
		const struct init_file *f = &st->files[i];

		printf("  %-*s %04o %s:%s  %s\n", width, f->path, (unsigned)f->mode,
		       user_name(st->uid, u, sizeof u),
		       group_name(f->in_identity_dir ? st->broker_gid : st->owner_gid, g,
				  sizeof g),
		       f->what);
	}
	/* The shipped unit loads /etc/credstore/edged-mqtt-password as the
	 * credential mqtt-password: edged.conf then names the credential. */
	bool credstore = strcmp(st->secret, "/etc/credstore/edged-mqtt-password") == 0;

	if (st->secret_reused)
		printf("  %s (kept: its password is the gateway user's)\n", st->secret);
	printf("\nNext:\n"
	       "  1. The broker's configuration (add --tls-listener PORT for nodes on the\n"
	       "     network, with --require-certificate for certificate nodes):\n"
	       "       edgectl broker-config --identity-dir %s > mosquitto.conf\n"
	       "  2. In edged.conf:\n"
	       "       [mqtt]\n"
	       "       username = %s\n"
	       "       password_file = %s\n"
	       "       [broker]\n"
	       "       identity_dir = %s\n"
	       "       pki_dir = %s\n"
	       "  3. Start the broker and edged, then give every node its identity:\n"
	       "       edgectl nodes provision ID... [--tls-cert] --out DIR\n",
	       st->dir, st->user,
	       credstore ? "mqtt-password   # the unit's LoadCredential" : st->secret, st->dir,
	       st->pki_dir);
	if (geteuid() == 0 && !st->chown_needed)
		printf("\nNote: run as root without --owner: every file belongs to root; edged "
		       "must be able to write %s and read %s.\n", st->dir, st->pki_dir);
}

int edgectl_cmd_broker_init(int argc, char **argv)
{
	const char *dir = NULL, *pki_dir = NULL, *name = NULL, *user = NULL, *secret = NULL;
	const char *owner = NULL, *group = NULL;
	const struct edgectl_opt opts[] = {
		{ "--dir", &dir },
		{ "--pki-dir", &pki_dir },
		{ "--name", &name },
		{ "--gateway-user", &user },
		{ "--gateway-secret", &secret },
		{ "--owner", &owner },
		{ "--broker-group", &group },
	};
	static struct init_state st; /* large; one per process */
	char name_buf[EDGE_PKI_NAME_MAX + 1], secret_buf[PATH_MAX];
	char password[INIT_SECRET_MAX + 2];
	edge_pki_ca *ca = NULL;
	int npos, rc;

	memset(&st, 0, sizeof st);
	argc = take_sans(argc, argv, &st);
	if (argc < 0) {
		fputs(init_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	rc = edgectl_parse_args(argc, argv, init_usage, opts, (int)(sizeof opts / sizeof opts[0]),
				NULL, 0, &npos);
	if (rc < 0)
		return edgectl_parse_exit(rc);
	if (!dir) {
		fprintf(stderr, "edgectl broker-init: --dir is required\n");
		fputs(init_usage, stderr);
		return EDGECTL_EUSAGE;
	}
	st.dir = dir;
	st.pki_dir = pki_dir ? pki_dir : INIT_DEFAULT_PKI_DIR;
	st.user = user ? user : INIT_DEFAULT_USER;
	if (!check_abs("--dir", st.dir) || !check_abs("--pki-dir", st.pki_dir) ||
	    (secret && !check_abs("--gateway-secret", secret)))
		return EDGECTL_EUSAGE;
	if (strcmp(st.dir, st.pki_dir) == 0) {
		fprintf(stderr, "edgectl broker-init: --pki-dir must differ from --dir: the "
				"broker reads --dir, the CA key must stay out of its reach\n");
		return EDGECTL_EUSAGE;
	}
	if (!id_class(st.user, 64)) {
		fprintf(stderr, "edgectl broker-init: --gateway-user must be "
				"[A-Za-z0-9_-]{1,64}\n");
		return EDGECTL_EUSAGE;
	}
	if (name) {
		st.name = name;
	} else {
		default_name(name_buf);
		st.name = name_buf;
	}
	if (secret) {
		st.secret = secret;
	} else {
		join(secret_buf, st.pki_dir, "mqtt-password");
		st.secret = secret_buf;
	}
	/* The broker reads everything in DIR. */
	if (strncmp(st.secret, st.dir, strlen(st.dir)) == 0 &&
	    st.secret[strlen(st.dir)] == '/' && !strchr(st.secret + strlen(st.dir) + 1, '/')) {
		fprintf(stderr, "edgectl broker-init: --gateway-secret must not be in --dir, "
				"which the broker reads\n");
		return EDGECTL_EUSAGE;
	}
	rc = resolve_ownership(&st, owner, group);
	if (rc != EDGECTL_OK)
		return rc;
	rc = refuse_existing(&st);
	if (rc != EDGECTL_OK)
		return rc;
	rc = gateway_password(&st, password, sizeof password);
	if (rc == 0)
		rc = write_all(&st, password, &ca);
	explicit_bzero(password, sizeof password);
	if (rc < 0) {
		remove_created(&st);
		edge_pki_ca_free(ca);
		fprintf(stderr, "edgectl broker-init: %s (%s); nothing was kept\n",
			st.err[0] ? st.err : "failed", edge_strerror(rc));
		return st.bad_usage ? EDGECTL_EUSAGE : EDGECTL_EDAEMON;
	}
	print_summary(&st, ca);
	edge_pki_ca_free(ca);
	return EDGECTL_OK;
}
