/* Schema migrations, keyed on PRAGMA user_version.
 *
 * Step i (1-based) brings the schema from version i-1 to i and runs in its own
 * transaction together with the user_version bump, so a crash leaves the
 * database at a whole version. Steps are append-only: never edit a released
 * step, add a new one (and bump EDGE_STORE_SCHEMA_VERSION). */
#include "edge_store_internal.h"

#include <stdio.h>

#include "edge_log.h"

static const char *const migrations[] = {
	/* 1: node registry. State is the last one recorded; on start every node
	 * is treated as offline until it speaks again. Times are wall-clock ms
	 * since the epoch. */
	"CREATE TABLE nodes ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'offline'"
	"  CHECK (state IN ('online', 'stale', 'offline')),"
	" fw_version TEXT NOT NULL DEFAULT '',"
	" runtime_name TEXT NOT NULL DEFAULT '',"
	" runtime_version TEXT NOT NULL DEFAULT '',"
	" ops TEXT NOT NULL DEFAULT '',"          /* comma-separated op names */
	" ram_bytes INTEGER NOT NULL DEFAULT 0,"
	" flash_bytes INTEGER NOT NULL DEFAULT 0,"
	" arena_bytes INTEGER NOT NULL DEFAULT 0,"
	" sensor TEXT NOT NULL DEFAULT '',"
	" model_name TEXT,"                       /* NULL: no model running */
	" model_version TEXT,"
	" model_sha256 TEXT,"
	" heartbeat_interval_ms INTEGER NOT NULL DEFAULT 0,"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL,"
	" reconnect_count INTEGER NOT NULL DEFAULT 0,"
	" status_reason TEXT NOT NULL DEFAULT '',"
	" hb_seq INTEGER NOT NULL DEFAULT 0,"
	" hb_uptime_s INTEGER NOT NULL DEFAULT 0,"
	" hb_inferences INTEGER NOT NULL DEFAULT 0,"
	" hb_anomalies INTEGER NOT NULL DEFAULT 0,"
	" hb_mqtt_reconnects INTEGER NOT NULL DEFAULT 0,"
	" hb_free_heap_bytes INTEGER NOT NULL DEFAULT 0,"
	" hb_min_free_heap_bytes INTEGER,"        /* NULL: not reported */
	" hb_rssi_dbm INTEGER"                     /* NULL: not reported */
	");",

	/* 2: presence in a narrow table of its own, so the frequent writes
	 * (state, last seen, heartbeat counters) rewrite about 70 bytes, not
	 * the wide capabilities row. Its columns win over the same ones in
	 * `nodes`, which keep what version 1 stored; existing rows are copied. */
	"CREATE TABLE node_presence ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('online', 'stale', 'offline')),"
	" status_reason TEXT NOT NULL DEFAULT '',"
	" reconnect_count INTEGER NOT NULL DEFAULT 0,"
	" last_seen_ms INTEGER NOT NULL,"
	" hb_seq INTEGER NOT NULL DEFAULT 0,"
	" hb_uptime_s INTEGER NOT NULL DEFAULT 0,"
	" hb_inferences INTEGER NOT NULL DEFAULT 0,"
	" hb_anomalies INTEGER NOT NULL DEFAULT 0,"
	" hb_mqtt_reconnects INTEGER NOT NULL DEFAULT 0,"
	" hb_free_heap_bytes INTEGER NOT NULL DEFAULT 0,"
	" hb_min_free_heap_bytes INTEGER,"        /* NULL: not reported */
	" hb_rssi_dbm INTEGER"                     /* NULL: not reported */
	") WITHOUT ROWID;"
	"INSERT INTO node_presence SELECT id, state, status_reason, reconnect_count,"
	" last_seen_ms, hb_seq, hb_uptime_s, hb_inferences, hb_anomalies, hb_mqtt_reconnects,"
	" hb_free_heap_bytes, hb_min_free_heap_bytes, hb_rssi_dbm FROM nodes;",
	/* 3: node identities on the broker (edgectl nodes provision/revoke).
	 * A revoked identity is kept for the record; its certificate serials
	 * stay in the CRL. Only hashes of passwords are stored. A node the
	 * operator revoked keeps its registry row, marked by revoked_ms. */
	"ALTER TABLE nodes ADD COLUMN revoked_ms INTEGER;" /* NULL: not revoked */
	"CREATE TABLE node_identity ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" kind TEXT NOT NULL CHECK (kind IN ('password', 'certificate')),"
	" state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),"
	" password_hash TEXT,"                 /* mosquitto $7$ hash, password kind */
	" cert_serial TEXT,"                   /* uppercase hex, certificate kind */
	" cert_fingerprint TEXT,"              /* SHA-256, lowercase hex */
	" cert_not_after_ms INTEGER,"
	" created_ms INTEGER NOT NULL,"
	" rotated_ms INTEGER,"                 /* NULL: never rotated */
	" revoked_ms INTEGER,"                 /* NULL: active */
	" generation INTEGER NOT NULL DEFAULT 1," /* +1 per rotation */
	" CHECK ((kind = 'password') = (password_hash IS NOT NULL)),"
	" CHECK ((kind = 'certificate') = (cert_serial IS NOT NULL)),"
	" CHECK ((state = 'revoked') = (revoked_ms IS NOT NULL))"
	") WITHOUT ROWID;"
	/* Every node certificate ever revoked or replaced: the CRL. */
	"CREATE TABLE revoked_certificate ("
	" serial TEXT PRIMARY KEY NOT NULL,"
	" id TEXT NOT NULL,"
	" revoked_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 4: anomaly history (lib/anomaly). Each event once per (device,
	 * epoch, seq); ts_ms is when it happened as the gateway places it
	 * (wall ms) and time_source says how. anomaly_stream holds, per device
	 * and epoch, what the ack says: acked, the highest oldest received, the
	 * gaps counted and the events stored. */
	"CREATE TABLE anomaly_event ("
	" id INTEGER PRIMARY KEY,"
	" device TEXT NOT NULL,"
	" epoch INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts_ms INTEGER NOT NULL,"
	" received_ms INTEGER NOT NULL,"
	" time_source TEXT NOT NULL CHECK (time_source IN ('age', 'clock', 'received')),"
	" model TEXT NOT NULL,"                  /* 'name@version' or the sha256 hex */
	" score REAL NOT NULL,"
	" threshold REAL NOT NULL,"
	" label TEXT NOT NULL,"
	" severity INTEGER,"                     /* NULL: not given */
	" summary TEXT,"                         /* JSON array text (float32 blob from
						  * version 6), NULL: not given */
	" UNIQUE (device, epoch, seq)"
	");"
	"CREATE INDEX anomaly_event_device_ts ON anomaly_event (device, ts_ms);"
	"CREATE INDEX anomaly_event_ts ON anomaly_event (ts_ms);"
	"CREATE TABLE anomaly_stream ("
	" device TEXT NOT NULL,"
	" epoch INTEGER NOT NULL,"
	" acked INTEGER NOT NULL,"
	" oldest INTEGER NOT NULL,"
	" gaps INTEGER NOT NULL DEFAULT 0,"
	" events INTEGER NOT NULL DEFAULT 0,"
	" updated_ms INTEGER NOT NULL,"
	" PRIMARY KEY (device, epoch)"
	") WITHOUT ROWID;",
	/* 5: anomaly episodes (lib/anomaly): consecutive events of one device
	 * and label under one model. At most one episode per (device, label)
	 * is not closed (the partial unique index); start_ms and end_ms are
	 * the first and last event's ts_ms; confirmed_ms and closed_ms are
	 * gateway wall ms, NULL until then. */
	"CREATE TABLE anomaly_episode ("
	" id INTEGER PRIMARY KEY,"
	" device TEXT NOT NULL,"
	" label TEXT NOT NULL,"
	" model TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('open', 'confirmed', 'closed')),"
	" start_ms INTEGER NOT NULL,"
	" end_ms INTEGER NOT NULL,"
	" count INTEGER NOT NULL,"
	" peak_score REAL NOT NULL,"
	" confirmed_ms INTEGER,"
	" closed_ms INTEGER,"
	" CHECK ((state = 'closed') = (closed_ms IS NOT NULL))"
	");"
	"CREATE UNIQUE INDEX anomaly_episode_current ON anomaly_episode (device, label)"
	" WHERE state <> 'closed';"
	"CREATE INDEX anomaly_episode_current_end ON anomaly_episode (end_ms)"
	" WHERE state <> 'closed';"
	"CREATE INDEX anomaly_episode_device_start ON anomaly_episode (device, start_ms);"
	"CREATE INDEX anomaly_episode_start ON anomaly_episode (start_ms);",
	/* 6: anomaly rollups (lib/anomaly), kept by the ingest so statistics
	 * never scan raw rows: per UTC hour, label and model fleet-wide, and per
	 * device, UTC day, label and model. score_sum/min/max are exact; sketch
	 * is an edge_score_sketch blob for percentiles. anomaly_meta's
	 * 'rollup_through_id' is the highest event id the rollups include:
	 * 0 here, so edge_anomaly_rollup_catch_up fills in a history stored
	 * under version 5. From this version on, anomaly_event.summary is
	 * written as a BLOB of little-endian float32 values (4 bytes each);
	 * rows written before stay JSON text, and readers take both. */
	"CREATE TABLE anomaly_rollup_hour ("
	" hour_ms INTEGER NOT NULL,"
	" label TEXT NOT NULL,"
	" model TEXT NOT NULL,"
	" count INTEGER NOT NULL,"
	" score_sum REAL NOT NULL,"
	" score_min REAL NOT NULL,"
	" score_max REAL NOT NULL,"
	" sketch BLOB NOT NULL,"
	" PRIMARY KEY (hour_ms, label, model)"
	") WITHOUT ROWID;"
	"CREATE TABLE anomaly_rollup_day ("
	" day_ms INTEGER NOT NULL,"
	" device TEXT NOT NULL,"
	" label TEXT NOT NULL,"
	" model TEXT NOT NULL,"
	" count INTEGER NOT NULL,"
	" score_sum REAL NOT NULL,"
	" score_min REAL NOT NULL,"
	" score_max REAL NOT NULL,"
	" sketch BLOB NOT NULL,"
	" PRIMARY KEY (device, day_ms, label, model)"
	") WITHOUT ROWID;"
	/* Fleet-wide day ranges and retention, without a per-device walk. */
	"CREATE INDEX anomaly_rollup_day_day ON anomaly_rollup_day (day_ms);"
	"CREATE TABLE anomaly_meta ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO anomaly_meta (key, value) VALUES ('rollup_through_id', 0);",
	/* 7: signed OTA delivery (lib/ota/edge_ota_store.h). ota_model: one row
	 * per verified package, keyed by the SHA-256 of the whole file (its
	 * name under models_dir); manifest holds the signed manifest bytes
	 * exactly, signers the key ids of its signature entries, 32 bytes each.
	 * ota_counter: the highest counter ever accepted per name, never
	 * lowered and kept when the model goes, so a removal cannot re-open a
	 * rollback. ota_transfer: finished_ms 0 while open (the restart loads
	 * those through the index). It names its model by digest without a
	 * foreign key: a model may be removed once no open transfer uses it,
	 * and the history stays. ota_node: each node's status per transfer,
	 * state and reason as their stable names, output_sha256 NULL until an
	 * activation reports it. ota_device: per device the model OTA made
	 * active and the one before it (NULL: none known), and the end of its
	 * latest transfer. Times are wall-clock ms. */
	"CREATE TABLE ota_model ("
	" digest TEXT PRIMARY KEY NOT NULL CHECK (length(digest) = 64),"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" counter INTEGER NOT NULL CHECK (counter >= 1),"
	" model_sha256 TEXT NOT NULL CHECK (length(model_sha256) = 64),"
	" model_size INTEGER NOT NULL CHECK (model_size >= 1),"
	" pkg_size INTEGER NOT NULL CHECK (pkg_size > model_size),"
	" manifest BLOB NOT NULL,"
	" signers BLOB NOT NULL CHECK (length(signers) % 32 = 0),"
	" added_ms INTEGER NOT NULL,"
	" UNIQUE (name, version)"
	") WITHOUT ROWID;"
	"CREATE TABLE ota_counter ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" counter INTEGER NOT NULL CHECK (counter >= 1)"
	") WITHOUT ROWID;"
	"CREATE TABLE ota_transfer ("
	" id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295),"
	" digest TEXT NOT NULL CHECK (length(digest) = 64),"
	" chunk_size INTEGER NOT NULL CHECK (chunk_size >= 1),"
	" campaign INTEGER NOT NULL CHECK (campaign IN (0, 1)),"
	" created_ms INTEGER NOT NULL,"
	" finished_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX ota_transfer_finished ON ota_transfer (finished_ms);"
	"CREATE TABLE ota_node ("
	" transfer INTEGER NOT NULL REFERENCES ota_transfer (id) ON DELETE CASCADE,"
	" device TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" reason TEXT NOT NULL,"
	" chunks_held INTEGER NOT NULL DEFAULT 0,"
	" n_chunks INTEGER NOT NULL,"
	" unicast_chunks INTEGER NOT NULL DEFAULT 0,"
	" retransmits INTEGER NOT NULL DEFAULT 0,"
	" offers INTEGER NOT NULL DEFAULT 0,"
	" started_ms INTEGER NOT NULL DEFAULT 0,"
	" updated_ms INTEGER NOT NULL DEFAULT 0,"
	" finished_ms INTEGER NOT NULL DEFAULT 0,"
	" output_sha256 TEXT,"
	" detail TEXT NOT NULL DEFAULT '',"
	" CHECK (chunks_held <= n_chunks),"
	" PRIMARY KEY (transfer, device)"
	") WITHOUT ROWID;"
	/* A device's transfers, newest first, without a scan. */
	"CREATE INDEX ota_node_device ON ota_node (device, transfer);"
	"CREATE TABLE ota_device ("
	" device TEXT PRIMARY KEY NOT NULL,"
	" active_name TEXT,"
	" active_version TEXT,"
	" active_sha256 TEXT,"
	" previous_name TEXT,"
	" previous_version TEXT,"
	" previous_sha256 TEXT,"
	" last_transfer INTEGER NOT NULL,"
	" last_outcome TEXT NOT NULL,"
	" last_reason TEXT NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" CHECK ((active_sha256 IS NULL) = (active_name IS NULL)),"
	" CHECK ((previous_sha256 IS NULL) = (previous_name IS NULL))"
	") WITHOUT ROWID;",

	/* 8: device tags (operator-set groups). A set per node, looked up both
	 * ways: a node's tags (primary key) and a tag's nodes (the index). No
	 * foreign key: the registry deletes a forgotten node's tags with it. */
	"CREATE TABLE node_tag ("
	" device TEXT NOT NULL,"
	" tag TEXT NOT NULL,"
	" PRIMARY KEY (device, tag)"
	") WITHOUT ROWID;"
	"CREATE INDEX node_tag_tag ON node_tag (tag, device);",

	/* 9: staged rollouts (lib/rollout/edge_rollout_store.h). transfer is
	 * the open OTA transfer of the current stage (0: none), so a restart
	 * finds the stage again; accepted: the operator resumed the current
	 * stage after a halt (the judge does not halt it again). Events are an append-only history. No
	 * foreign keys to ota_model: the history outlives a removed model. */
	"CREATE TABLE rollout ("
	" id INTEGER PRIMARY KEY NOT NULL,"
	" digest TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" spec TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" stage INTEGER NOT NULL,"
	" transfer INTEGER NOT NULL DEFAULT 0,"
	" accepted INTEGER NOT NULL DEFAULT 0,"  /* the stage is taken over the threshold */
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" CHECK (state IN ('running', 'soaking', 'paused', 'halted', 'done', 'aborted'))"
	");"
	"CREATE TABLE rollout_node ("
	" rollout INTEGER NOT NULL,"
	" device TEXT NOT NULL,"
	" stage INTEGER NOT NULL,"
	" outcome TEXT NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" CHECK (outcome IN ('pending', 'success', 'failure')),"
	" PRIMARY KEY (rollout, device)"
	") WITHOUT ROWID;"
	"CREATE TABLE rollout_event ("
	" rollout INTEGER NOT NULL,"
	" ts_ms INTEGER NOT NULL,"
	" text TEXT NOT NULL"
	");"
	"CREATE INDEX rollout_event_rollout ON rollout_event (rollout, ts_ms);",
	/* 10: rollout health and revert. stage_started_ms / soak_started_ms:
	 * wall ms when the current stage's transfer and its soak began (0: not
	 * yet), the windows of the health check and the node timeout, kept
	 * across a restart; revert_stage: what a revert in progress sends back;
	 * rollout_node.baseline_from_ms: since when the node had been running
	 * when its stage started (the start of its own history's window). New states reverting/reverted and the node outcome
	 * reverted: SQLite cannot change a CHECK, so both tables are rebuilt. */
	"CREATE TABLE rollout_v10 ("
	" id INTEGER PRIMARY KEY NOT NULL,"
	" digest TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" spec TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" stage INTEGER NOT NULL,"
	" transfer INTEGER NOT NULL DEFAULT 0,"
	" accepted INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" stage_started_ms INTEGER NOT NULL DEFAULT 0,"
	" soak_started_ms INTEGER NOT NULL DEFAULT 0,"
	" revert_stage INTEGER NOT NULL DEFAULT -1,"  /* -1 none, -2 every stage, else the stage */
	" CHECK (state IN ('running', 'soaking', 'paused', 'halted', 'done', 'aborted',"
	" 'reverting', 'reverted'))"
	");"
	"INSERT INTO rollout_v10 (id, digest, name, version, spec, state, stage, transfer,"
	" accepted, created_ms, updated_ms, reason)"
	" SELECT id, digest, name, version, spec, state, stage, transfer, accepted, created_ms,"
	" updated_ms, reason FROM rollout;"
	"DROP TABLE rollout;"
	"ALTER TABLE rollout_v10 RENAME TO rollout;"
	"CREATE TABLE rollout_node_v10 ("
	" rollout INTEGER NOT NULL,"
	" device TEXT NOT NULL,"
	" stage INTEGER NOT NULL,"
	" outcome TEXT NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" baseline_from_ms INTEGER NOT NULL DEFAULT 0,"  /* its own history starts here */
	" CHECK (outcome IN ('pending', 'success', 'failure', 'reverted')),"
	" PRIMARY KEY (rollout, device)"
	") WITHOUT ROWID;"
	"INSERT INTO rollout_node_v10 (rollout, device, stage, outcome, reason)"
	" SELECT rollout, device, stage, outcome, reason FROM rollout_node;"
	"DROP TABLE rollout_node;"
	"ALTER TABLE rollout_node_v10 RENAME TO rollout_node;",
	/* 11: offloaded inference (lib/offload/edge_offload_store.h): the
	 * stored models an operator enabled for offload, by package digest
	 * (ota_model's key; no foreign key: removing a model disables it),
	 * and the shadow-sampling shares set per node or tag. */
	"CREATE TABLE offload_model ("
	" digest TEXT PRIMARY KEY NOT NULL,"
	" enabled_ms INTEGER NOT NULL"
	") WITHOUT ROWID;"
	/* Shadow-sampling shares set per node ('id:<id>') or tag ('tag:<t>'),
	 * over offload.verify_permille. */
	"CREATE TABLE offload_verify ("
	" target TEXT PRIMARY KEY NOT NULL,"
	" permille INTEGER NOT NULL CHECK (permille BETWEEN 0 AND 1000)"
	") WITHOUT ROWID;"
	/* Shadow-verification mismatches: the evidence, newest kept (a node
	 * with a row is flagged until `offload clear`). */
	"CREATE TABLE offload_mismatch ("
	" id INTEGER PRIMARY KEY,"
	" ts_ms INTEGER NOT NULL,"
	" node TEXT NOT NULL,"
	" model TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" first_diff INTEGER NOT NULL,"
	" length INTEGER NOT NULL,"
	" node_length INTEGER NOT NULL,"
	" node_bytes TEXT NOT NULL,"
	" gateway_bytes TEXT NOT NULL,"
	" input_sha256 TEXT NOT NULL"
	");"
	"CREATE INDEX offload_mismatch_node ON offload_mismatch (node);",
	/* 12: forwarding to the central history (lib/central/edge_central_local.h).
	 * anomaly_episode.rev: a change counter (anomaly_meta 'episode_rev')
	 * the triggers bump on every insert and every change of an episode, so
	 * the forwarder finds what changed since its cursor through one index;
	 * episodes stored before are numbered by id. anomaly_meta 'store_uid':
	 * this database's own random id (episode ids are only unique within
	 * one database). central_cursor: per stream ('event': anomaly_event.id,
	 * 'episode': rev, 'summary': central_summary.id), the highest one the
	 * central database committed. central_summary: the periodic fleet
	 * summaries waiting to be forwarded (AUTOINCREMENT: an id is never
	 * reused, so a cursor never skips a new row). anomaly_meta
	 * 'central_dropped_events' / 'central_dropped_episodes': rows retention
	 * deleted before they were forwarded. */
	"ALTER TABLE anomaly_episode ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;"
	"UPDATE anomaly_episode SET rev = id;"
	"CREATE INDEX anomaly_episode_rev ON anomaly_episode (rev);"
	"INSERT INTO anomaly_meta (key, value) VALUES"
	" ('episode_rev', (SELECT coalesce(max(id), 0) FROM anomaly_episode)),"
	" ('store_uid', abs(random() >> 1) + 1),"
	" ('central_dropped_events', 0), ('central_dropped_episodes', 0);"
	"CREATE TRIGGER anomaly_episode_rev_insert AFTER INSERT ON anomaly_episode BEGIN"
	" UPDATE anomaly_meta SET value = value + 1 WHERE key = 'episode_rev';"
	" UPDATE anomaly_episode SET rev = (SELECT value FROM anomaly_meta"
	" WHERE key = 'episode_rev') WHERE id = NEW.id;"
	" END;"
	/* Every column but rev: the trigger's own update of rev fires nothing. */
	"CREATE TRIGGER anomaly_episode_rev_update AFTER UPDATE OF device, label, model,"
	" state, start_ms, end_ms, count, peak_score, confirmed_ms, closed_ms"
	" ON anomaly_episode BEGIN"
	" UPDATE anomaly_meta SET value = value + 1 WHERE key = 'episode_rev';"
	" UPDATE anomaly_episode SET rev = (SELECT value FROM anomaly_meta"
	" WHERE key = 'episode_rev') WHERE id = NEW.id;"
	" END;"
	"CREATE TABLE central_cursor ("
	" stream TEXT PRIMARY KEY NOT NULL CHECK (stream IN ('event', 'episode', 'summary')),"
	" through INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE central_summary ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ts_ms INTEGER NOT NULL,"
	" nodes_total INTEGER NOT NULL,"
	" nodes_online INTEGER NOT NULL,"
	" nodes_stale INTEGER NOT NULL,"
	" nodes_offline INTEGER NOT NULL,"
	" nodes_revoked INTEGER NOT NULL,"
	" day_ms INTEGER NOT NULL,"
	" inferences_day INTEGER NOT NULL,"
	" anomalies_day INTEGER NOT NULL,"
	" episodes_open INTEGER NOT NULL"
	");",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == EDGE_STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

static int apply_step(sqlite3 *db, int to_version, char *errbuf, size_t errbuf_len)
{
	char bump[64];
	int rc;

	/* PRAGMA takes no bound parameters; the value is our own integer. */
	snprintf(bump, sizeof bump, "PRAGMA user_version = %d", to_version);
	rc = edge__store_exec(db, "BEGIN IMMEDIATE", errbuf, errbuf_len);
	if (rc < 0)
		return rc;
	rc = edge__store_exec(db, migrations[to_version - 1], errbuf, errbuf_len);
	if (rc == 0)
		rc = edge__store_exec(db, bump, errbuf, errbuf_len);
	if (rc == 0)
		rc = edge__store_exec(db, "COMMIT", errbuf, errbuf_len);
	if (rc < 0) {
		(void)edge__store_exec(db, "ROLLBACK", NULL, 0);
		return rc;
	}
	edge_log(EDGE_LOG_INFO, "store", "database schema migrated to version %d", to_version);
	return 0;
}

int edge__store_migrate(sqlite3 *db, char *errbuf, size_t errbuf_len)
{
	int version = 0;
	int rc = edge__store_user_version(db, &version);

	if (rc < 0) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "cannot read schema version: %s",
				 sqlite3_errmsg(db));
		return rc;
	}
	if (version > EDGE_STORE_SCHEMA_VERSION) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len,
				 "database schema version %d is newer than this build (%d); refusing to downgrade",
				 version, EDGE_STORE_SCHEMA_VERSION);
		return EDGE_ESCHEMA;
	}
	if (version < 0) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "invalid database schema version %d", version);
		return EDGE_ESCHEMA;
	}
	for (int v = version + 1; v <= EDGE_STORE_SCHEMA_VERSION; v++) {
		rc = apply_step(db, v, errbuf, errbuf_len);
		if (rc < 0)
			return rc;
	}
	return 0;
}
