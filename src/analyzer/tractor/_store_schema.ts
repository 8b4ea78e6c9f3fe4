import type { DatabaseSync } from "node:sqlite";
import type { Row } from "./store_rows.ts";

/** Schema version written to `PRAGMA user_version`. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
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

/** Tables holding a job's results, flows first. */
export const RESULT_TABLES = [
  "flows",
  "label_counts",
  "client_counts",
  "label_client_counts",
  "ip_details",
] as const;

/**
 * Creates the schema in an empty database, or refuses a newer one (never guessed at). `path`
 * only names the file in the error.
 */
export function migrate(db: DatabaseSync, path: string): void {
  const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
  if (version > SCHEMA_VERSION) {
    throw new RangeError(
      `Cannot open TrActor state "${path}": schema version ${version} is newer than this ` +
        `program's ${SCHEMA_VERSION}`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
