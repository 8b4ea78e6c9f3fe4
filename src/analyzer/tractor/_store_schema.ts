import type { DatabaseSync } from "node:sqlite";
import type { Row } from "./store_rows.ts";

/** Schema version written to `PRAGMA user_version`. */
export const SCHEMA_VERSION = 2;

/** Version 1: jobs, flows and the seed's aggregates (also the base every later version alters). */
export const SCHEMA_V1 = `
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file_name TEXT NOT NULL,
  extension TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('new', 'in_progress', 'finished', 'failed')),
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  bytes_done INTEGER NOT NULL DEFAULT 0,
  time_start INTEGER,
  time_end INTEGER,
  flows_count INTEGER,
  error TEXT
);
CREATE INDEX jobs_by_file ON jobs(file_name, id);
CREATE TABLE flows(
  job_id INTEGER NOT NULL,
  flow_id INTEGER NOT NULL,
  client_ip TEXT NOT NULL,
  client_port INTEGER NOT NULL,
  server_ip TEXT NOT NULL,
  server_port INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  time_start INTEGER NOT NULL,
  time_end INTEGER NOT NULL,
  packets INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  label TEXT NOT NULL,
  comment TEXT NOT NULL,
  user_agent TEXT,
  domain_name TEXT,
  PRIMARY KEY (job_id, flow_id)
) WITHOUT ROWID;
CREATE INDEX flows_by_label ON flows(job_id, label, time_start);
CREATE INDEX flows_by_client ON flows(job_id, client_ip);
CREATE INDEX flows_by_server ON flows(job_id, server_ip);
CREATE TABLE label_counts(
  job_id INTEGER NOT NULL, label TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (job_id, label)
) WITHOUT ROWID;
CREATE TABLE client_counts(
  job_id INTEGER NOT NULL, ip TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (job_id, ip)
) WITHOUT ROWID;
CREATE TABLE label_client_counts(
  job_id INTEGER NOT NULL, label TEXT NOT NULL, ip TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (job_id, label, ip)
) WITHOUT ROWID;
CREATE TABLE ip_details(
  job_id INTEGER NOT NULL, ip TEXT NOT NULL, user_agent TEXT, domain_name TEXT,
  PRIMARY KEY (job_id, ip)
) WITHOUT ROWID;
CREATE TABLE file_peek(
  name TEXT PRIMARY KEY, size_bytes INTEGER NOT NULL, mtime_ms INTEGER NOT NULL,
  time_start INTEGER NOT NULL
);
`;

// Version 2: first/last packet time in ms and HTTP requests per flow; per flow and per client the
// HTTP values (kind user_agent | host | url | status) with their request or response counts;
// per client totals; flows and bytes per label and time bucket (by flow start).
const SCHEMA_V2 = `
ALTER TABLE flows ADD COLUMN first_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE flows ADD COLUMN last_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE flows ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;
UPDATE flows SET first_ms = time_start * 1000, last_ms = time_end * 1000;
CREATE INDEX label_client_counts_by_ip ON label_client_counts(job_id, ip);
CREATE TABLE flow_http(
  job_id INTEGER NOT NULL, flow_id INTEGER NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (job_id, flow_id, kind, value)
) WITHOUT ROWID;
CREATE TABLE client_totals(
  job_id INTEGER NOT NULL, ip TEXT NOT NULL, flows INTEGER NOT NULL, packets INTEGER NOT NULL,
  bytes INTEGER NOT NULL, requests INTEGER NOT NULL, first_ms INTEGER NOT NULL,
  last_ms INTEGER NOT NULL, user_agents INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, ip)
) WITHOUT ROWID;
CREATE TABLE client_http(
  job_id INTEGER NOT NULL, ip TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (job_id, ip, kind, value)
) WITHOUT ROWID;
CREATE TABLE label_timeline(
  job_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, bucket_ms INTEGER NOT NULL,
  label TEXT NOT NULL, flows INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (job_id, start_ms, label)
) WITHOUT ROWID;
`;

/** Tables holding a job's results, flows first (then the per-flow rows the aggregates read). */
export const RESULT_TABLES = [
  "flows",
  "flow_http",
  "label_counts",
  "client_counts",
  "label_client_counts",
  "ip_details",
  "client_totals",
  "client_http",
  "label_timeline",
] as const;

/** Result tables {@linkcode TractorStore.finishJob} rebuilds from the flow rows. */
export const AGGREGATE_TABLES = RESULT_TABLES.slice(2);

/**
 * Creates the schema in an empty database, brings an older one up to date, or refuses a newer
 * one (never guessed at). `path` only names the file in the error. Returns the version found
 * (0: empty), so the store can rebuild aggregates an older version did not have.
 */
export function migrate(db: DatabaseSync, path: string): number {
  const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
  if (version > SCHEMA_VERSION) {
    throw new RangeError(
      `Cannot open TrActor state "${path}": schema version ${version} is newer than this ` +
        `program's ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return version;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (version < 1) db.exec(SCHEMA_V1);
    db.exec(SCHEMA_V2);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
  return version;
}
