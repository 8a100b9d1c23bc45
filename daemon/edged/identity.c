/* The node identity service (see identity.h): a queue of operations driven
 * through worker → store → loop → worker → loop.
 *
 * Lifetimes: an operation owns its control call until it answers it. The
 * service is freed at teardown, possibly while an operation is in a worker
 * or in the store's queue; then `freed` is set, the stage that returns
 * answers `unavailable`, releases the operation and, being the last, the
 * service, and touches nothing else (registry, router and store are gone or
 * going). */
#include "identity.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "edge_ctl_frame.h"
#include "edge_identity.h"
#include "edge_identity_batch.h"
#include "edge_identity_render.h"
#include "edge_identity_sql.h"
#include "edge_log.h"
#include "edge_pki_file.h"
#include "edge_topic.h"
#include "edged.h"
#include "router.h"

#define LOG_GROUP "identity"
/* Largest CA certificate read for bundles. */
#define CA_PEM_MAX (64 * 1024)
/* Requests of up to this many nodes log one audit line per node. */
#define AUDIT_PER_NODE_MAX 16

enum op_kind { OP_SYNC, OP_PROVISION, OP_REVOKE };

/* What an operation needs of the configuration, copied when it starts so
 * that workers never read the (reloadable) config. */
struct op_conf {
	char identity_dir[EDGE_CONFIG_PATH_MAX];
	char pki_path[EDGE_CONFIG_PATH_MAX];
	char pid_file[EDGE_CONFIG_PATH_MAX];
	char gateway_user[EDGE_CONFIG_NAME_MAX];
	char gateway_password[EDGE_CONFIG_NAME_MAX]; /* secret: wiped with the op */
	char prefix[EDGE_CONFIG_NAME_MAX];
	unsigned file_mode;
	unsigned cert_days;
};

struct op {
	struct op *next;
	struct edged_identity *svc;
	enum op_kind kind;
	struct edged_ctl_call *call; /* NULL for OP_SYNC */
	uid_t uid;
	uv_work_t work;
	struct op_conf conf;
	char own_hash[EDGE_PKI_PWHASH_MAX];
	int64_t now_ms;

	/* provision */
	bool tls_cert, rotate;
	size_t n;
	char (*ids)[EDGE_IDENTITY_ID_MAX + 1];
	struct edge_identity_grant *grants;
	struct edge_identity *recs;
	char (*replaced)[EDGE_PKI_SERIAL_HEX_MAX];
	bool *rotated, *reinstate;
	char *ca_pem;
	char ca_fp[EDGE_PKI_FINGERPRINT_LEN];

	/* revoke */
	struct edge_identity rec;
	bool already;
	bool store_skipped;

	/* files */
	char *passwd, *acl;
	size_t passwd_len, acl_len;
	char (*serials)[EDGE_PKI_SERIAL_HEX_MAX];
	size_t nserials;
	uint64_t reload_seq;
	unsigned written;
	bool reload_tried, reloaded;
	char reload_error[EDGE_CONFIG_PATH_MAX + 256];
	char file_error[EDGE_CONFIG_PATH_MAX + 512];
	/* The CA exists but cannot be used: no CRL, no certificates. */
	char ca_error[EDGE_CONFIG_PATH_MAX + 512];

	/* outcome of a stage: EDGE_CTL_E_* (0 = go on) */
	int code;
	char msg[EDGE_CONFIG_PATH_MAX + 512];
};

struct edged_identity {
	struct edged *d;
	edge_identity_table *table;
	struct op *running;
	struct op *head, *tail;
	unsigned waiting;
	bool stopping;
	bool freed;
	/* Worker side only (one operation at a time): the gateway CA. */
	edge_pki_ca *ca;
	char own_hash[EDGE_PKI_PWHASH_MAX];
	uint64_t reload_seq;

	bool files_in_sync;
	char last_error[EDGE_CONFIG_PATH_MAX + 512];
	uint64_t provisioned, rotated, revocations, broker_reloads, reload_failures;
	uint64_t refused_busy; /* requests beyond IDENTITY_QUEUE_MAX */
};

static void op_next(struct edged_identity *svc);

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct edge_settings *settings(const struct edged_identity *svc)
{
	return edge_config_settings(svc->d->config);
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	edge_identity_grants_clear(op->grants, op->n);
	free(op->grants);
	free(op->ids);
	free(op->recs);
	free(op->replaced);
	free(op->rotated);
	free(op->reinstate);
	free(op->ca_pem);
	free(op->passwd);
	free(op->acl);
	free(op->serials);
	OPENSSL_cleanse(&op->conf, sizeof op->conf);
	free(op);
}

static void svc_release(struct edged_identity *svc)
{
	edge_identity_table_free(svc->table);
	edge_pki_ca_free(svc->ca);
	OPENSSL_cleanse(svc->own_hash, sizeof svc->own_hash);
	free(svc);
}

/* Answers the operation's call (if any) and releases it. */
static void op_finish(struct op *op, int code, json_t *result, const char *msg)
{
	if (op->call)
		edged_ctl_call_finish(op->call, code, result, msg);
	else
		json_decref(result);
	op->call = NULL;
	op_free(op);
}

/* The running operation is done (answered): start the next, or release the
 * service if it was freed meanwhile. */
static void op_done(struct op *op, int code, json_t *result, const char *msg)
{
	struct edged_identity *svc = op->svc;

	assert(svc->running == op);
	svc->running = NULL;
	op_finish(op, code, result, msg);
	if (svc->freed) {
		if (!svc->running && !svc->head)
			svc_release(svc);
		return;
	}
	op_next(svc);
}

/* A stage came back after edged_identity_free. */
static bool op_orphaned(struct op *op)
{
	if (!op->svc->freed)
		return false;
	op_done(op, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
	return true;
}

static void conf_snapshot(const struct edge_settings *s, struct op_conf *c)
{
	snprintf(c->identity_dir, sizeof c->identity_dir, "%s", s->broker.identity_dir);
	snprintf(c->pki_path, sizeof c->pki_path, "%s", s->broker.pki_path);
	snprintf(c->pid_file, sizeof c->pid_file, "%s", s->broker.pid_file);
	snprintf(c->gateway_user, sizeof c->gateway_user, "%s", s->mqtt.username);
	snprintf(c->gateway_password, sizeof c->gateway_password, "%s",
		 s->mqtt.password_file[0] ? s->mqtt.password_from_file : s->mqtt.password);
	snprintf(c->prefix, sizeof c->prefix, "%s", s->mqtt.topic_prefix);
	c->file_mode = (unsigned)s->broker.file_mode;
	c->cert_days = (unsigned)s->broker.cert_days;
}

static const char *gateway_password(const struct edge_settings *s)
{
	return s->mqtt.password_file[0] ? s->mqtt.password_from_file : s->mqtt.password;
}

/* Why identities cannot be managed with this configuration, or NULL. */
static const char *not_configured(const struct edge_settings *s)
{
	if (!s->broker.identity_dir[0])
		return "node identities are not managed: broker.identity_dir is not set";
	if (!s->mqtt.username[0])
		return "mqtt.username is not set: the broker would lock edged out of its own "
		       "password file";
	if (!gateway_password(s)[0])
		return "edged has no broker password (mqtt.password or mqtt.password_file)";
	return NULL;
}

/* ---- stage 1: worker ---- */

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Reads a whole small file into a new NUL-terminated buffer. */
static int read_small(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* edged's own passwd line: the hash already in use if it still verifies
 * (an unchanged gateway rewrites nothing), else a new one. */
static int own_hash(struct op *op)
{
	const char *pw = op->conf.gateway_password;
	char path[EDGE_CONFIG_PATH_MAX + 16], *buf;
	size_t len;

	if (op->own_hash[0] && edge_pki_password_verify(pw, op->own_hash) == 0)
		return 0;
	if (path_join(path, sizeof path, op->conf.identity_dir, "passwd") == 0 &&
	    read_small(path, 64u << 20, &buf, &len) == 0) {
		bool found = edge_identity_passwd_lookup(buf, len, op->conf.gateway_user,
							 op->own_hash);
		free(buf);
		if (found && edge_pki_password_verify(pw, op->own_hash) == 0)
			return 0;
	}
	return edge_pki_password_hash(pw, op->own_hash, sizeof op->own_hash);
}

/* The gateway CA, loaded once it exists (edgectl broker-init may create it
 * after edged started). 0 with svc->ca set, -ENOENT when there is none. */
static int load_ca(struct op *op, char *err, size_t errlen)
{
	struct edged_identity *svc = op->svc;
	char key[EDGE_CONFIG_PATH_MAX + 16], crt[EDGE_CONFIG_PATH_MAX + 16];

	if (svc->ca)
		return 0;
	if (path_join(key, sizeof key, op->conf.pki_path, "ca.key") < 0 ||
	    path_join(crt, sizeof crt, op->conf.pki_path, "ca.crt") < 0)
		return -ENAMETOOLONG;
	if (access(key, F_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	return edge_pki_ca_load(key, crt, &svc->ca, err, errlen);
}

/* The CA certificate nodes get in their bundle: identity_dir/ca.crt (what
 * the broker's listener presents), else the CA's own; none is fine. */
static void bundle_ca(struct op *op)
{
	char path[EDGE_CONFIG_PATH_MAX + 16];
	size_t len;

	if (path_join(path, sizeof path, op->conf.identity_dir, "ca.crt") == 0 &&
	    read_small(path, CA_PEM_MAX, &op->ca_pem, &len) == 0) {
		if (edge_identity_cert_info(op->ca_pem, len, NULL, op->ca_fp) == 0)
			return;
		free(op->ca_pem);
		op->ca_pem = NULL;
	}
	if (op->svc->ca && edge_pki_ca_cert_pem(op->svc->ca, &op->ca_pem, &len) == 0)
		edge_pki_ca_fingerprint(op->svc->ca, op->ca_fp);
}

static void w_prepare(uv_work_t *w)
{
	struct op *op = w->data;
	char err[256] = "";
	int rc;

	rc = own_hash(op);
	if (rc < 0) {
		op->code = EDGE_CTL_E_INTERNAL;
		snprintf(op->msg, sizeof op->msg, "hashing edged's own password: %s",
			 edge_strerror(rc));
		return;
	}
	rc = load_ca(op, err, sizeof err);
	if (rc < 0 && rc != -ENOENT)
		snprintf(op->ca_error, sizeof op->ca_error, "gateway CA in %s: %s",
			 op->conf.pki_path, err[0] ? err : edge_strerror(rc));
	if (op->kind != OP_PROVISION)
		return;
	if (op->tls_cert && !op->svc->ca) {
		op->code = rc == -ENOENT ? EDGE_CTL_E_NOT_CONFIGURED : EDGE_CTL_E_INTERNAL;
		if (rc == -ENOENT)
			snprintf(op->msg, sizeof op->msg,
				 "no gateway CA in %s: create it with edgectl broker-init",
				 op->conf.pki_path);
		else
			snprintf(op->msg, sizeof op->msg, "%s", op->ca_error);
		return;
	}
	rc = edge_identity_prepare(op->grants, op->n, op->svc->ca, op->conf.cert_days, err,
				   sizeof err);
	if (rc < 0) {
		op->code = EDGE_CTL_E_INTERNAL;
		snprintf(op->msg, sizeof op->msg, "%s", err);
		return;
	}
	bundle_ca(op);
}

/* ---- stage 2: store ---- */

static int s_write(edge_store_conn *conn, void *ud)
{
	struct op *op = ud;
	int rc;

	if (op->kind == OP_REVOKE) {
		rc = edge_identity_sql_put(conn, &op->rec);
		if (rc == 0 && op->rec.kind == EDGE_IDENTITY_CERTIFICATE)
			rc = edge_identity_sql_revoke_serial(conn, op->rec.cert_serial, op->rec.id,
							     op->now_ms);
		return rc;
	}
	for (size_t i = 0; i < op->n; i++) {
		rc = edge_identity_sql_put(conn, &op->recs[i]);
		if (rc == 0 && op->replaced[i][0])
			rc = edge_identity_sql_revoke_serial(conn, op->replaced[i], op->recs[i].id,
							     op->now_ms);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- stage 4: worker ---- */

static void file_failed(struct op *op, const char *name, int rc, const char *err)
{
	if (op->file_error[0])
		return; /* the first failure is the one to fix */
	snprintf(op->file_error, sizeof op->file_error, "%s/%s: %s", op->conf.identity_dir, name,
		 err[0] ? err : edge_strerror(rc));
}

static void sync_one(struct op *op, const char *name, const void *data, size_t len,
		     mode_t mode)
{
	char path[EDGE_CONFIG_PATH_MAX + 16], err[384] = "";
	int rc = path_join(path, sizeof path, op->conf.identity_dir, name);

	if (rc == 0)
		rc = edge_identity_file_sync(path, data, len, mode, err, sizeof err);
	if (rc < 0)
		file_failed(op, name, rc, err);
	else
		op->written += (unsigned)rc;
}

/* SIGHUP to the broker of broker.pid_file. */
static int signal_broker(struct op *op)
{
	char *buf, *end;
	size_t len;
	long pid;
	bool bad;
	int rc = read_small(op->conf.pid_file, 64, &buf, &len);

	if (rc < 0) {
		snprintf(op->reload_error, sizeof op->reload_error, "cannot read %s: %s",
			 op->conf.pid_file, strerror(-rc));
		return rc;
	}
	errno = 0;
	pid = strtol(buf, &end, 10);
	bad = errno || end == buf || pid <= 1 || (*end && *end != '\n');
	free(buf);
	if (bad) {
		snprintf(op->reload_error, sizeof op->reload_error, "%s holds no pid",
			 op->conf.pid_file);
		return -EINVAL;
	}
	if (kill((pid_t)pid, SIGHUP) < 0) {
		rc = -errno;
		snprintf(op->reload_error, sizeof op->reload_error, "SIGHUP to broker pid %ld: %s",
			 pid, strerror(errno));
		return rc;
	}
	return 0;
}

static void w_files(uv_work_t *w)
{
	struct op *op = w->data;
	mode_t mode = (mode_t)op->conf.file_mode;
	char line[64];

	sync_one(op, "passwd", op->passwd, op->passwd_len, mode);
	sync_one(op, "acl", op->acl, op->acl_len, mode);
	if (op->svc->ca) {
		char path[EDGE_CONFIG_PATH_MAX + 16], err[384] = "";
		const char **serials = malloc((op->nserials ? op->nserials : 1) * sizeof *serials);
		int rc = serials ? path_join(path, sizeof path, op->conf.identity_dir, "ca.crl")
				 : -ENOMEM;

		for (size_t i = 0; serials && i < op->nserials; i++)
			serials[i] = op->serials[i];
		if (rc == 0)
			rc = edge_identity_crl_sync(op->svc->ca, path, serials, op->nserials,
						    op->conf.cert_days, err, sizeof err);
		free(serials);
		if (rc < 0)
			file_failed(op, "ca.crl", rc, err);
		else
			op->written += (unsigned)rc;
	}
	if (!op->written)
		return;
	/* Last: the path unit reloads the broker when this file changes. */
	op->reload_tried = true;
	snprintf(line, sizeof line, "%lld %llu\n", (long long)op->now_ms,
		 (unsigned long long)op->reload_seq);
	{
		char path[EDGE_CONFIG_PATH_MAX + 16], err[384] = "";
		int rc = path_join(path, sizeof path, op->conf.identity_dir, "reload");

		if (rc == 0)
			rc = edge_pki_write_file(path, line, strlen(line), mode, err, sizeof err);
		if (rc < 0) {
			file_failed(op, "reload", rc, err);
			snprintf(op->reload_error, sizeof op->reload_error, "%.*s",
				 (int)sizeof op->reload_error - 1, op->file_error);
			return;
		}
	}
	if (op->conf.pid_file[0])
		op->reloaded = signal_broker(op) == 0;
	else
		op->reloaded = true; /* handed to edged-broker-reload.path */
}

/* ---- stage 5: loop ---- */

static const char *reload_kind(const struct op *op)
{
	return op->conf.pid_file[0] ? "signal" : "path-unit";
}

static json_t *ms_or_null(int64_t ms)
{
	return ms ? json_integer((json_int_t)ms) : json_null();
}

static json_t *provision_result(struct op *op)
{
	const struct edge_settings *s = settings(op->svc);
	char url[EDGE_CONFIG_NAME_MAX + 32];
	json_t *nodes = json_array(), *res;

	/* The config check requires node_url when mqtt.host is a socket path:
	 * nodes cannot use edged's socket. */
	assert(s->broker.node_url[0] || s->mqtt.host[0] != '/');
	if (s->broker.node_url[0])
		snprintf(url, sizeof url, "%s", s->broker.node_url);
	else
		snprintf(url, sizeof url, "mqtt://%s:%d", s->mqtt.host, s->mqtt.port);
	if (!nodes)
		return NULL;
	for (size_t i = 0; i < op->n; i++) {
		const struct edge_identity_grant *g = &op->grants[i];
		json_t *e;

		if (g->kind == EDGE_IDENTITY_PASSWORD)
			e = json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", g->id, "kind", "password",
				      "username", g->id, "password", g->password, "rotated",
				      op->rotated[i]);
		else
			e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id", g->id,
				      "kind", "certificate", "username", g->id, "cert_pem",
				      g->cert.cert_pem, "key_pem", g->cert.key_pem, "serial",
				      g->cert.serial, "fingerprint", g->cert.fingerprint,
				      "not_after", (json_int_t)g->cert_not_after_ms, "rotated",
				      op->rotated[i]);
		if (!e || json_array_append_new(nodes, e) < 0) {
			json_decref(nodes);
			return NULL;
		}
	}
	res = json_pack("{s:s, s:s, s:o, s:o, s:b, s:s, s:o}", "broker_url", url, "topic_prefix",
			s->mqtt.topic_prefix, "ca_pem",
			op->ca_pem ? json_string(op->ca_pem) : json_null(), "ca_fingerprint",
			op->ca_pem ? json_string(op->ca_fp) : json_null(), "broker_reloaded",
			op->reloaded, "reload", reload_kind(op), "nodes", nodes);
	return res;
}

static void finish_provision(struct op *op)
{
	struct edged_identity *svc = op->svc;
	json_t *res;

	/* The audit trail: one NOTICE line per node for a small request; a
	 * large one (a fleet, 256 ids a request) gets one NOTICE line and the
	 * per-node lines at debug, so the journal's rate limit does not eat
	 * them (each node's times stay in the database: edgectl nodes). */
	int per_node = op->n <= AUDIT_PER_NODE_MAX ? EDGE_LOG_NOTICE : EDGE_LOG_DEBUG;
	size_t n_rotated = 0;

	for (size_t i = 0; i < op->n; i++)
		n_rotated += op->rotated[i] ? 1 : 0;
	if (op->n > AUDIT_PER_NODE_MAX)
		edge_log(EDGE_LOG_NOTICE, LOG_GROUP, "%zu nodes provisioned by control client uid "
			 "%u (%zu new, %zu rotated; %s ... %s)", op->n, (unsigned)op->uid,
			 op->n - n_rotated, n_rotated, op->recs[0].id, op->recs[op->n - 1].id);
	for (size_t i = 0; i < op->n; i++) {
		const struct edge_identity *r = &op->recs[i];

		if (op->rotated[i])
			svc->rotated++;
		else
			svc->provisioned++;
		if (op->reinstate[i] && svc->d->registry) {
			int rc = edge_registry_reinstate(svc->d->registry, r->id);

			if (rc < 0 && rc != EDGE_ENOTFOUND)
				edge_log(EDGE_LOG_WARNING, LOG_GROUP, "node %s: registry mark not "
					 "lifted: %s", r->id, edge_strerror(rc));
		}
		if (r->kind == EDGE_IDENTITY_CERTIFICATE)
			edge_log(per_node, LOG_GROUP, "node %s %s by control client uid %u "
				 "(certificate %s%s%s)", r->id, op->rotated[i] ? "rotated" :
				 "provisioned", (unsigned)op->uid, r->cert_serial,
				 op->replaced[i][0] ? ", replaces " : "", op->replaced[i]);
		else
			edge_log(per_node, LOG_GROUP, "node %s %s by control client uid %u "
				 "(password%s%s)", r->id,
				 op->rotated[i] ? "rotated" : "provisioned",
				 (unsigned)op->uid, op->replaced[i][0] ? ", replaces certificate " :
				 "", op->replaced[i]);
	}
	if (op->file_error[0]) {
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, op->file_error);
		return;
	}
	res = provision_result(op);
	if (!res)
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, "out of memory");
	else
		op_done(op, 0, res, NULL);
}

static void finish_revoke(struct op *op)
{
	struct edged_identity *svc = op->svc;
	struct edged *d = svc->d;
	const struct edge_identity *r = &op->rec;
	const char *registry = NULL;
	int cleared = 0, rc;
	json_t *res;

	if (d->registry) {
		rc = edge_registry_revoke(d->registry, r->id, r->revoked_ms);
		if (rc == 0)
			registry = "revoked";
		else if (rc != EDGE_ENOTFOUND)
			edge_log(EDGE_LOG_WARNING, LOG_GROUP, "node %s: registry mark: %s", r->id,
				 edge_strerror(rc));
	}
	if (d->router) {
		cleared = edged_router_clear_retained(d->router, r->id);
		if (cleared < 0) {
			edge_log(EDGE_LOG_WARNING, LOG_GROUP,
				 "node %s: retained topics not cleared: %s", r->id,
				 edge_strerror(cleared));
			cleared = 0;
		}
	}
	if (!op->already) {
		svc->revocations++;
		edge_log(EDGE_LOG_NOTICE, LOG_GROUP, "node %s revoked by control client uid %u "
			 "(%s%s%s); broker %s (%s), %d retained topics cleared", r->id,
			 (unsigned)op->uid, edge_identity_kind_name(r->kind),
			 r->kind == EDGE_IDENTITY_CERTIFICATE ? " " : "",
			 r->kind == EDGE_IDENTITY_CERTIFICATE ? r->cert_serial : "",
			 op->reloaded ? "reloaded" : "not reloaded", reload_kind(op), cleared);
	}
	if (op->file_error[0]) {
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, op->file_error);
		return;
	}
	res = json_pack("{s:s, s:s, s:b, s:b, s:o, s:i, s:b, s:s}", "id", r->id, "kind",
			edge_identity_kind_name(r->kind), "revoked", 1, "already", op->already,
			"registry", registry ? json_string(registry) : json_null(),
			"retained_cleared", cleared, "broker_reloaded", op->reloaded, "reload",
			reload_kind(op));
	if (res && r->kind == EDGE_IDENTITY_CERTIFICATE)
		json_object_set_new(res, "serial", json_string(r->cert_serial));
	if (!res)
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, "out of memory");
	else
		op_done(op, 0, res, NULL);
}

static void a_files(uv_work_t *w, int status)
{
	struct op *op = w->data;
	struct edged_identity *svc = op->svc;

	if (op_orphaned(op))
		return;
	if (status < 0 && !op->file_error[0])
		snprintf(op->file_error, sizeof op->file_error, "file stage: %s",
			 uv_strerror(status));
	svc->files_in_sync = !op->file_error[0];
	snprintf(svc->last_error, sizeof svc->last_error, "%s",
		 op->file_error[0] ? op->file_error : op->ca_error);
	if (op->ca_error[0])
		edge_log(EDGE_LOG_WARNING, LOG_GROUP, "%s: the CRL is not kept", op->ca_error);
	if (op->reloaded)
		svc->broker_reloads++;
	else if (op->reload_tried)
		svc->reload_failures++;
	if (op->file_error[0])
		edge_log(EDGE_LOG_ERR, LOG_GROUP, "broker identity files not in step with the "
			 "database: %s", op->file_error);
	if (op->reload_error[0])
		edge_log(EDGE_LOG_WARNING, LOG_GROUP, "broker not reloaded: %s", op->reload_error);
	switch (op->kind) {
	case OP_SYNC:
		if (op->written)
			edge_log(EDGE_LOG_NOTICE, LOG_GROUP,
				 "broker identity files brought in step (%u rewritten; broker %s)",
				 op->written,
				 op->reloaded ? "reloaded" : "not reloaded");
		op_done(op, 0, NULL, NULL);
		break;
	case OP_PROVISION:
		finish_provision(op);
		break;
	case OP_REVOKE:
		finish_revoke(op);
		break;
	}
}

/* ---- stage 3: loop ---- */

static void render(struct op *op)
{
	struct edged_identity *svc = op->svc;
	char err[256] = "";
	int rc;

	op->work.data = op;
	rc = edge_identity_render_passwd(svc->table, op->conf.gateway_user, op->own_hash,
					 &op->passwd, &op->passwd_len);
	if (rc == 0)
		rc = edge_identity_render_acl(svc->table, op->conf.prefix, op->conf.gateway_user,
					      &op->acl, &op->acl_len, err, sizeof err);
	if (rc == 0)
		rc = edge_identity_crl_serials(svc->table, &op->serials, &op->nserials);
	if (rc < 0) {
		snprintf(op->file_error, sizeof op->file_error, "rendering the broker files: %s",
			 err[0] ? err : edge_strerror(rc));
		a_files(&op->work, 0);
		return;
	}
	op->reload_seq = ++svc->reload_seq;
	op->work.data = op;
	rc = uv_queue_work(svc->d->loop, &op->work, w_files, a_files);
	if (rc < 0) {
		snprintf(op->file_error, sizeof op->file_error, "file stage: %s", uv_strerror(rc));
		a_files(&op->work, 0);
	}
}

static void s_done(int result, void *ud)
{
	struct op *op = ud;
	struct edged_identity *svc = op->svc;
	int rc = 0;

	if (op_orphaned(op))
		return;
	if (result < 0) {
		snprintf(op->msg, sizeof op->msg, "database: %s", edge_strerror(result));
		edge_log(EDGE_LOG_ERR, LOG_GROUP, "%s", op->msg);
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, op->msg);
		return;
	}
	/* Committed: memory follows. */
	if (op->kind == OP_REVOKE) {
		rc = edge_identity_table_put(svc->table, &op->rec);
		if (rc == 0 && op->rec.kind == EDGE_IDENTITY_CERTIFICATE)
			rc = edge_identity_table_add_revoked_serial(svc->table,
								    op->rec.cert_serial);
	} else {
		for (size_t i = 0; rc == 0 && i < op->n; i++) {
			rc = edge_identity_table_put(svc->table, &op->recs[i]);
			if (rc == 0 && op->replaced[i][0])
				rc = edge_identity_table_add_revoked_serial(svc->table,
									    op->replaced[i]);
		}
	}
	if (rc < 0) {
		/* Only ENOMEM: the next start loads what the database holds. */
		snprintf(op->msg, sizeof op->msg, "identity table: %s", edge_strerror(rc));
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, op->msg);
		return;
	}
	render(op);
}

static void submit_rows(struct op *op)
{
	int rc = edge_store_submit(op->svc->d->store, s_write, s_done, op);

	if (rc == EDGE_ELIMIT)
		op_done(op, EDGE_CTL_E_BUSY, NULL, "the database queue is full; try again");
	else if (rc < 0)
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, edge_strerror(rc));
}

static void a_prepare(uv_work_t *w, int status)
{
	struct op *op = w->data;
	struct edged_identity *svc = op->svc;

	if (op_orphaned(op))
		return;
	if (status < 0 && !op->code) {
		op->code = EDGE_CTL_E_INTERNAL;
		snprintf(op->msg, sizeof op->msg, "worker: %s", uv_strerror(status));
	}
	if (op->code) {
		op_done(op, op->code, NULL, op->msg);
		return;
	}
	snprintf(svc->own_hash, sizeof svc->own_hash, "%s", op->own_hash);
	op->now_ms = wall_ms();
	switch (op->kind) {
	case OP_SYNC:
		render(op);
		return;
	case OP_REVOKE:
		if (op->store_skipped) {
			render(op);
			return;
		}
		op->rec.state = EDGE_IDENTITY_REVOKED;
		op->rec.revoked_ms = op->now_ms;
		submit_rows(op);
		return;
	case OP_PROVISION:
		for (size_t i = 0; i < op->n; i++) {
			const struct edge_identity *old =
				edge_identity_table_get(svc->table, op->grants[i].id);

			op->rotated[i] = old != NULL;
			op->reinstate[i] = old && old->state == EDGE_IDENTITY_REVOKED;
			edge_identity_from_grant(old, &op->grants[i], op->now_ms, &op->recs[i],
						 op->replaced[i]);
		}
		submit_rows(op);
		return;
	}
}

/* ---- the queue ---- */

/* Ids that have an identity (to refuse without rotate): "a, b, c (and N
 * more)". Returns how many. */
static size_t existing_ids(const struct edged_identity *svc, const struct op *op, char *msg,
			   size_t msglen)
{
	size_t k = 0, used;

	used = (size_t)snprintf(msg, msglen, "identity exists for");
	for (size_t i = 0; i < op->n; i++) {
		if (!edge_identity_table_get(svc->table, op->ids[i]))
			continue;
		if (k < 5 && used < msglen)
			used += (size_t)snprintf(msg + used, msglen - used, "%s %s", k ? "," : "",
						 op->ids[i]);
		k++;
	}
	if (k > 5 && used < msglen)
		snprintf(msg + used, msglen - used, " (and %zu more)", k - 5);
	if (k && used < msglen)
		snprintf(msg + strlen(msg), msglen - strlen(msg), "; rotate to replace %s",
			 k == 1 ? "its secret" : "their secrets");
	return k;
}

/* Refusals that depend on the table (checked when asked and again when the
 * operation starts: another may have run in between). 0 or EDGE_CTL_E_*. */
static int provision_check(const struct edged_identity *svc, const struct op *op, char *msg,
			   size_t msglen)
{
	struct edge_identity_counts c;
	unsigned more = 0, max;

	if (!op->rotate && existing_ids(svc, op, msg, msglen) > 0)
		return EDGE_CTL_E_EXISTS;
	edge_identity_table_counts(svc->table, &c);
	for (size_t i = 0; i < op->n; i++) {
		const struct edge_identity *r = edge_identity_table_get(svc->table, op->ids[i]);

		if (!r || r->state != EDGE_IDENTITY_ACTIVE)
			more++;
	}
	max = (unsigned)settings(svc)->registry.max_devices;
	if (c.active + more > max) {
		snprintf(msg, msglen, "%u active identities and %u more would exceed "
			 "registry.max_devices (%u)", c.active, more, max);
		return EDGE_CTL_E_BAD_ARGS;
	}
	return 0;
}

static void op_start(struct op *op)
{
	struct edged_identity *svc = op->svc;
	const struct edge_settings *s = settings(svc);
	const char *why;
	int code, rc;

	conf_snapshot(s, &op->conf);
	snprintf(op->own_hash, sizeof op->own_hash, "%s", svc->own_hash);
	if (op->kind != OP_SYNC && (why = not_configured(s)) != NULL) {
		op_done(op, EDGE_CTL_E_NOT_CONFIGURED, NULL, why);
		return;
	}
	if (op->kind == OP_PROVISION &&
	    (code = provision_check(svc, op, op->msg, sizeof op->msg)) != 0) {
		op_done(op, code, NULL, op->msg);
		return;
	}
	if (op->kind == OP_REVOKE) {
		const struct edge_identity *r = edge_identity_table_get(svc->table, op->rec.id);

		if (!r) {
			snprintf(op->msg, sizeof op->msg, "no identity for node '%s'", op->rec.id);
			op_done(op, EDGE_CTL_E_NOT_FOUND, NULL, op->msg);
			return;
		}
		op->rec = *r;
		op->already = r->state == EDGE_IDENTITY_REVOKED;
		op->store_skipped = op->already;
		if (op->already && svc->files_in_sync) {
			finish_revoke(op);
			return;
		}
	}
	op->work.data = op;
	rc = uv_queue_work(svc->d->loop, &op->work, w_prepare, a_prepare);
	if (rc < 0)
		op_done(op, EDGE_CTL_E_INTERNAL, NULL, uv_strerror(rc));
}

static void op_next(struct edged_identity *svc)
{
	struct op *op;

	while (!svc->running && svc->head) {
		op = svc->head;
		svc->head = op->next;
		if (!svc->head)
			svc->tail = NULL;
		svc->waiting--;
		op->next = NULL;
		svc->running = op;
		op_start(op); /* may finish at once, and start the next itself */
	}
}

static void op_enqueue(struct edged_identity *svc, struct op *op)
{
	op->svc = svc;
	if (svc->tail)
		svc->tail->next = op;
	else
		svc->head = op;
	svc->tail = op;
	svc->waiting++;
	op_next(svc);
}

/* ---- lifecycle ---- */

static int load_table(edge_store_conn *conn, void *ud)
{
	return edge_identity_sql_load(conn, ud);
}

int edged_identity_new(struct edged *d, struct edged_identity **out)
{
	struct edged_identity *svc = calloc(1, sizeof *svc);
	const struct edge_settings *s = edge_config_settings(d->config);
	struct edge_identity_counts c;
	int rc;

	if (!svc || !(svc->table = edge_identity_table_new())) {
		free(svc);
		return -ENOMEM;
	}
	svc->d = d;
	svc->files_in_sync = true;
	rc = d->store ? edge_store_read(d->store, load_table, svc->table) : 0;
	if (rc < 0) {
		edge_log(EDGE_LOG_ERR, LOG_GROUP, "cannot load the node identities: %s",
			 edge_strerror(rc));
		svc_release(svc);
		return rc;
	}
	edge_identity_table_counts(svc->table, &c);
	if (s->broker.identity_dir[0]) {
		const char *why = not_configured(s);

		if (why) {
			/* The files would lock edged out: leave them alone. */
			svc->files_in_sync = false;
			snprintf(svc->last_error, sizeof svc->last_error, "%s", why);
			edge_log(EDGE_LOG_WARNING, LOG_GROUP, "broker.identity_dir is set but %s",
				 why);
		} else {
			struct op *op = calloc(1, sizeof *op);

			if (!op) {
				svc_release(svc);
				return -ENOMEM;
			}
			op->kind = OP_SYNC;
			op_enqueue(svc, op);
		}
		edge_log(EDGE_LOG_INFO, LOG_GROUP, "%u active and %u revoked node identities; "
			 "broker files in %s", c.active, c.revoked, s->broker.identity_dir);
	} else if (c.active || c.revoked) {
		edge_log(EDGE_LOG_WARNING, LOG_GROUP, "%u node identities in the database, but "
			 "broker.identity_dir is not set: edged does not manage them",
			 c.active + c.revoked);
	}
	if (s->registry.admission == EDGE_CONFIG_ADMIT_PROVISIONED && !s->broker.identity_dir[0])
		edge_log(EDGE_LOG_WARNING, LOG_GROUP, "registry.admission = provisioned without "
			 "broker.identity_dir: only ids provisioned earlier may register");
	edged_identity_apply_settings(svc, s);
	*out = svc;
	return 0;
}

void edged_identity_stop(struct edged_identity *svc)
{
	struct op *op;

	if (!svc || svc->stopping)
		return;
	svc->stopping = true;
	while ((op = svc->head) != NULL) {
		svc->head = op->next;
		svc->waiting--;
		op_finish(op, EDGE_CTL_E_UNAVAILABLE, NULL, "edged is stopping");
	}
	svc->tail = NULL;
}

bool edged_identity_idle(const struct edged_identity *svc)
{
	return !svc || (!svc->running && !svc->head);
}

void edged_identity_free(struct edged_identity *svc)
{
	if (!svc)
		return;
	edged_identity_stop(svc);
	svc->freed = true;
	if (svc->running)
		return; /* released by the running operation's last stage */
	svc_release(svc);
}

static bool admit(void *ud, const char *id)
{
	const struct edged_identity *svc = ud;
	const struct edge_identity *r = edge_identity_table_get(svc->table, id);

	return r && r->state == EDGE_IDENTITY_ACTIVE;
}

void edged_identity_apply_settings(struct edged_identity *svc, const struct edge_settings *s)
{
	if (!svc || !svc->d->registry)
		return;
	if (s->registry.admission == EDGE_CONFIG_ADMIT_PROVISIONED)
		edge_registry_set_admission(svc->d->registry, admit, svc);
	else
		edge_registry_set_admission(svc->d->registry, NULL, NULL);
}

/* ---- commands ---- */

static int refuse_new(struct edged_identity *svc, char *msg, size_t msglen)
{
	const char *why = not_configured(settings(svc));

	if (svc->stopping) {
		snprintf(msg, msglen, "edged is stopping");
		return EDGE_CTL_E_UNAVAILABLE;
	}
	if (why) {
		snprintf(msg, msglen, "%s", why);
		return EDGE_CTL_E_NOT_CONFIGURED;
	}
	if (svc->waiting >= IDENTITY_QUEUE_MAX) {
		svc->refused_busy++;
		snprintf(msg, msglen, "%u identity operations are waiting; try again",
			 svc->waiting);
		return EDGE_CTL_E_BUSY;
	}
	return 0;
}

static int opt_bool(json_t *args, const char *key, bool *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, key);

	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(msg, msglen, "args.%s must be true or false", key);
		return EDGE_CTL_E_BAD_ARGS;
	}
	*out = json_is_true(v);
	return 0;
}

/* args.ids into op: 1..IDENTITY_BATCH_MAX valid, distinct ids, none of them
 * edged's own user. */
static int parse_ids(const struct edged_identity *svc, json_t *args, struct op *op, char *msg,
		     size_t msglen)
{
	json_t *ids = json_object_get(args, "ids");
	const char *user = settings(svc)->mqtt.username;
	size_t n = json_array_size(ids);

	if (!json_is_array(ids) || n < 1 || n > IDENTITY_BATCH_MAX) {
		snprintf(msg, msglen, "args.ids must be an array of 1..%d node ids",
			 IDENTITY_BATCH_MAX);
		return EDGE_CTL_E_BAD_ARGS;
	}
	op->ids = calloc(n, sizeof *op->ids);
	op->grants = calloc(n, sizeof *op->grants);
	op->recs = calloc(n, sizeof *op->recs);
	op->replaced = calloc(n, sizeof *op->replaced);
	op->rotated = calloc(n, sizeof *op->rotated);
	op->reinstate = calloc(n, sizeof *op->reinstate);
	if (!op->ids || !op->grants || !op->recs || !op->replaced || !op->rotated ||
	    !op->reinstate) {
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	op->n = n;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_string_value(json_array_get(ids, i));

		if (!id || !edge_id_valid_str(id)) {
			snprintf(msg, msglen,
				 "args.ids[%zu]: a node id matches [A-Za-z0-9_-]{1,64}", i);
			return EDGE_CTL_E_BAD_ARGS;
		}
		if (strcmp(id, user) == 0) {
			snprintf(msg, msglen, "args.ids[%zu]: '%s' is edged's own broker user", i,
				 id);
			return EDGE_CTL_E_BAD_ARGS;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(op->ids[j], id) == 0) {
				snprintf(msg, msglen, "args.ids: '%s' is listed twice", id);
				return EDGE_CTL_E_BAD_ARGS;
			}
		snprintf(op->ids[i], sizeof op->ids[i], "%s", id);
		snprintf(op->grants[i].id, sizeof op->grants[i].id, "%s", id);
		op->grants[i].kind = op->tls_cert ? EDGE_IDENTITY_CERTIFICATE
						  : EDGE_IDENTITY_PASSWORD;
	}
	return 0;
}

int edged_identity_cmd_provision(struct edged_identity *svc, json_t *args,
				 struct edged_ctl_call *call, char *msg, size_t msglen)
{
	struct op *op;
	int code;

	if ((code = refuse_new(svc, msg, msglen)) != 0)
		return code;
	op = calloc(1, sizeof *op);
	if (!op) {
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	op->svc = svc;
	op->kind = OP_PROVISION;
	if ((code = opt_bool(args, "tls_cert", &op->tls_cert, msg, msglen)) != 0 ||
	    (code = opt_bool(args, "rotate", &op->rotate, msg, msglen)) != 0 ||
	    (code = parse_ids(svc, args, op, msg, msglen)) != 0 ||
	    (code = provision_check(svc, op, msg, msglen)) != 0) {
		op_free(op);
		return code;
	}
	op->call = call;
	op->uid = edged_ctl_call_uid(call);
	op_enqueue(svc, op);
	return 0;
}

int edged_identity_cmd_revoke(struct edged_identity *svc, json_t *args,
			      struct edged_ctl_call *call, char *msg, size_t msglen)
{
	const char *id = json_string_value(json_object_get(args, "id"));
	struct op *op;
	int code;

	if (!id || !edge_id_valid_str(id)) {
		snprintf(msg, msglen, "args.id must be a node id ([A-Za-z0-9_-]{1,64})");
		return EDGE_CTL_E_BAD_ARGS;
	}
	if ((code = refuse_new(svc, msg, msglen)) != 0)
		return code;
	if (!edge_identity_table_get(svc->table, id)) {
		snprintf(msg, msglen, "no identity for node '%s'", id);
		return EDGE_CTL_E_NOT_FOUND;
	}
	op = calloc(1, sizeof *op);
	if (!op) {
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	op->kind = OP_REVOKE;
	snprintf(op->rec.id, sizeof op->rec.id, "%s", id);
	op->call = call;
	op->uid = edged_ctl_call_uid(call);
	op_enqueue(svc, op);
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	return strcmp((*(const struct edge_identity *const *)a)->id,
		      (*(const struct edge_identity *const *)b)->id);
}

static json_t *identity_json(const struct edge_identity *r)
{
	bool cert = r->kind == EDGE_IDENTITY_CERTIFICATE;

	return json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:I}", "id", r->id,
			 "kind", edge_identity_kind_name(r->kind), "state",
			 edge_identity_state_name(r->state), "created", (json_int_t)r->created_ms,
			 "rotated", ms_or_null(r->rotated_ms), "revoked", ms_or_null(r->revoked_ms),
			 "serial", cert ? json_string(r->cert_serial) : json_null(), "fingerprint",
			 cert ? json_string(r->cert_fingerprint) : json_null(), "not_after",
			 cert ? ms_or_null(r->cert_not_after_ms) : json_null(), "generation",
			 (json_int_t)r->generation);
}

int edged_identity_cmd_list(struct edged_identity *svc, json_t *args, json_t **result,
			    char *msg, size_t msglen)
{
	json_t *jstate = json_object_get(args, "state"), *list;
	const struct edge_identity **v;
	struct edge_identity_counts c = { 0 };
	size_t n = 0, total;
	int want = -1;

	if (jstate && !json_is_null(jstate)) {
		want = edge_identity_state_from_name(json_string_value(jstate));
		if (want < 0) {
			snprintf(msg, msglen, "args.state must be active or revoked");
			return EDGE_CTL_E_BAD_ARGS;
		}
	}
	total = svc ? edge_identity_table_size(svc->table) : 0;
	v = malloc((total ? total : 1) * sizeof *v);
	list = json_array();
	if (!v || !list) {
		free(v);
		json_decref(list);
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	for (size_t i = 0; i < total; i++) {
		const struct edge_identity *r = edge_identity_table_at(svc->table, i);

		if (want < 0 || (int)r->state == want)
			v[n++] = r;
	}
	qsort(v, n, sizeof *v, cmp_rec);
	for (size_t i = 0; i < n; i++) {
		json_t *e = identity_json(v[i]);

		if (!e || json_array_append_new(list, e) < 0) {
			free(v);
			json_decref(list);
			snprintf(msg, msglen, "out of memory");
			return EDGE_CTL_E_INTERNAL;
		}
	}
	free(v);
	if (svc)
		edge_identity_table_counts(svc->table, &c);
	*result = json_pack("{s:o, s:i, s:i}", "nodes", list, "active", (int)c.active, "revoked",
			    (int)c.revoked);
	if (!*result) {
		snprintf(msg, msglen, "out of memory");
		return EDGE_CTL_E_INTERNAL;
	}
	return 0;
}

json_t *edged_identity_status(const struct edged_identity *svc)
{
	struct edge_identity_counts c = { 0 };
	bool managed;

	if (!svc)
		return json_pack("{s:b}", "managed", 0);
	managed = settings(svc)->broker.identity_dir[0] != '\0';
	edge_identity_table_counts(svc->table, &c);
	return json_pack("{s:b, s:i, s:i, s:i, s:i, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:b,"
			 " s:I}",
			 "managed", managed, "active", (int)c.active, "revoked", (int)c.revoked,
			 "password", (int)c.password, "certificate", (int)c.certificate,
			 "files_in_sync", managed && svc->files_in_sync, "last_error",
			 svc->last_error, "provisioned", (json_int_t)svc->provisioned, "rotated",
			 (json_int_t)svc->rotated, "revocations", (json_int_t)svc->revocations,
			 "broker_reloads", (json_int_t)svc->broker_reloads, "reload_failures",
			 (json_int_t)svc->reload_failures, "queued", (int)svc->waiting, "running",
			 svc->running != NULL, "refused_busy", (json_int_t)svc->refused_busy);
}
