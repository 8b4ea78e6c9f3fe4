/**
 * TrActor's results in SQLite (`node:sqlite`, WAL): jobs, their flows, and per-job aggregates
 * (flows per label, per client IP, and per-IP user agent and domain name). The schema version is
 * `PRAGMA user_version`; a newer version on disk is refused rather than guessed at. The server
 * thread and the job workers each open their own connection to the same file.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { migrate, RESULT_TABLES } from "./_store_schema.ts";
import {
  type CountItem,
  counts,
  type FlowRow,
  type JobRow,
  jobRow,
  type JobSummary,
  type Row,
} from "./store_rows.ts";

export { SCHEMA_VERSION } from "./_store_schema.ts";
export type { CountItem, FlowRow, JobRow, JobState, JobSummary } from "./store_rows.ts";

function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}

/** Opens (creating or migrating) the TrActor database at `path`. */
export class TractorStore {
  readonly db: DatabaseSync;
  readonly path: string;
  readonly #stmts = new Map<string, StatementSync>();

  constructor(path: string) {
    this.path = path;
    this.db = new DatabaseSync(path);
    this.db.exec("PRAGMA busy_timeout = 10000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA foreign_keys = OFF");
    migrate(this.db, path);
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /** Runs `fn` in one IMMEDIATE transaction (rolled back when it throws). */
  transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Closes the connection. */
  close(): void {
    this.db.close();
  }

  // ---- jobs ----

  /** Creates a job in state `new` for a capture. */
  createJob(
    file: { name: string; extension: string; sizeBytes: number; mtimeMs: number },
    now: number,
  ): JobRow {
    const r = this.#stmt(
      `INSERT INTO jobs(file_name, extension, size_bytes, mtime_ms, state, created_at)
       VALUES (?, ?, ?, ?, 'new', ?) RETURNING *`,
    ).get(file.name, file.extension, file.sizeBytes, Math.round(file.mtimeMs), now) as Row;
    return jobRow(r);
  }

  /** The job with this id. */
  job(id: number): JobRow | undefined {
    const r = this.#stmt("SELECT * FROM jobs WHERE id = ?").get(id) as Row | undefined;
    return r ? jobRow(r) : undefined;
  }

  /** The newest job of each file name. */
  latestJobs(): Map<string, JobRow> {
    const rows = this.#stmt(
      `SELECT * FROM jobs WHERE id IN (SELECT max(id) FROM jobs GROUP BY file_name)`,
    ).all() as Row[];
    return new Map(rows.map((r) => [String(r.file_name), jobRow(r)]));
  }

  /** The newest job of a file. */
  latestJob(fileName: string): JobRow | undefined {
    const r = this.#stmt("SELECT * FROM jobs WHERE file_name = ? ORDER BY id DESC LIMIT 1")
      .get(fileName) as Row | undefined;
    return r ? jobRow(r) : undefined;
  }

  /** Ids of jobs waiting to run, oldest first. */
  queuedJobs(): number[] {
    return (this.#stmt("SELECT id FROM jobs WHERE state = 'new' ORDER BY id").all() as Row[])
      .map((r) => Number(r.id));
  }

  /** Marks a job in_progress (one more attempt) and clears partial results of earlier tries. */
  startJob(id: number, now: number): void {
    this.transaction(() => {
      this.#clearResults(id);
      this.#stmt(
        `UPDATE jobs SET state = 'in_progress', started_at = ?, finished_at = NULL,
         attempts = attempts + 1, bytes_done = 0, error = NULL WHERE id = ?`,
      ).run(now, id);
    });
  }

  /** Marks a job failed and drops its partial results. */
  failJob(id: number, now: number, message: string): void {
    this.transaction(() => {
      this.#clearResults(id);
      this.#stmt(
        `UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE id = ?`,
      ).run(now, message.slice(0, 1000), id);
    });
  }

  /** Puts an interrupted job back in the queue (its partial results are dropped on start). */
  requeueJob(id: number): void {
    this.#stmt(`UPDATE jobs SET state = 'new', bytes_done = 0 WHERE id = ?`).run(id);
  }

  /**
   * After a restart: every job left in_progress is queued again, or failed once it has been
   * started `maxAttempts` times (a capture that kills the process must not loop forever).
   */
  recoverInterrupted(now: number, maxAttempts: number): { resumed: number[]; failed: number[] } {
    const rows = this.#stmt("SELECT id, attempts FROM jobs WHERE state = 'in_progress'")
      .all() as Row[];
    const resumed: number[] = [], failed: number[] = [];
    for (const r of rows) {
      const id = Number(r.id);
      if (Number(r.attempts) >= maxAttempts) {
        this.failJob(id, now, `interrupted ${Number(r.attempts)} times by a restart; given up`);
        failed.push(id);
      } else {
        this.requeueJob(id);
        resumed.push(id);
      }
    }
    return { resumed, failed };
  }

  /** Records how far a running job has read. */
  setProgress(id: number, bytesDone: number): void {
    this.#stmt("UPDATE jobs SET bytes_done = ? WHERE id = ? AND state = 'in_progress'")
      .run(bytesDone, id);
  }

  #clearResults(id: number): void {
    for (const table of RESULT_TABLES) {
      this.#stmt(`DELETE FROM ${table} WHERE job_id = ?`).run(id);
    }
  }

  // ---- results (written by a job worker) ----

  /** Appends flows of a running job (call inside {@linkcode transaction} for speed). */
  insertFlows(jobId: number, flows: readonly FlowRow[]): void {
    const s = this.#stmt(
      `INSERT OR REPLACE INTO flows(job_id, flow_id, client_ip, client_port, server_ip, server_port,
       protocol, time_start, time_end, packets, bytes, label, comment, user_agent, domain_name)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const f of flows) {
      s.run(
        jobId,
        f.flowId,
        f.clientIp,
        f.clientPort,
        f.serverIp,
        f.serverPort,
        f.protocol,
        f.timeStart,
        f.timeEnd,
        f.packets,
        f.bytes,
        f.label,
        f.comment,
        f.userAgent,
        f.domainName,
      );
    }
  }

  /**
   * Completes a job: aggregates, counts and times, state finished; then drops older jobs of the
   * same file, so processing a file again replaces its results (one set per file).
   */
  finishJob(id: number, summary: JobSummary, now: number): void {
    this.transaction(() => {
      const job = this.job(id);
      if (!job || job.state !== "in_progress") {
        throw new RangeError(`Cannot finish job ${id}: it is ${job ? job.state : "missing"}`);
      }
      for (const table of RESULT_TABLES.slice(1)) {
        this.#stmt(`DELETE FROM ${table} WHERE job_id = ?`).run(id);
      }
      this.#stmt(
        `INSERT INTO label_counts(job_id, label, count)
         SELECT job_id, label, count(*) FROM flows WHERE job_id = ? GROUP BY label`,
      ).run(id);
      this.#stmt(
        `INSERT INTO client_counts(job_id, ip, count)
         SELECT job_id, client_ip, count(*) FROM flows WHERE job_id = ? GROUP BY client_ip`,
      ).run(id);
      this.#stmt(
        `INSERT INTO label_client_counts(job_id, label, ip, count)
         SELECT job_id, label, client_ip, count(*) FROM flows WHERE job_id = ?
         GROUP BY label, client_ip`,
      ).run(id);
      this.#aggregateIpDetails(id);
      const n = Number(
        (this.#stmt("SELECT count(*) AS n FROM flows WHERE job_id = ?").get(id) as Row).n,
      );
      const start = summary.firstUs < 0 ? null : Math.floor(summary.firstUs / 1e6);
      const end = summary.lastUs < 0 ? null : Math.floor(summary.lastUs / 1e6);
      this.#stmt(
        `UPDATE jobs SET state = 'finished', finished_at = ?, time_start = ?, time_end = ?,
         flows_count = ?, bytes_done = size_bytes, error = ? WHERE id = ?`,
      ).run(now, start, end, n, summary.warning ?? null, id);
      const older = this.#stmt("SELECT id FROM jobs WHERE file_name = ? AND id < ?")
        .all(job.fileName, id) as Row[];
      for (const r of older) {
        this.#clearResults(Number(r.id));
        this.#stmt("DELETE FROM jobs WHERE id = ?").run(Number(r.id));
      }
    });
  }

  // The most frequent user agent of an IP's client flows, and the most frequent domain name of
  // its client flows, else of the flows it served (what clients called it). Ties: smallest text.
  #aggregateIpDetails(id: number): void {
    const best = (sql: string): Map<string, string> => {
      const out = new Map<string, string>();
      for (const r of this.#stmt(sql).all(id) as Row[]) {
        const ip = String(r.ip);
        if (!out.has(ip)) out.set(ip, String(r.value));
      }
      return out;
    };
    const ua = best(
      `SELECT client_ip AS ip, user_agent AS value, count(*) AS n FROM flows
       WHERE job_id = ? AND user_agent IS NOT NULL GROUP BY client_ip, user_agent
       ORDER BY client_ip, n DESC, user_agent`,
    );
    const asClient = best(
      `SELECT client_ip AS ip, domain_name AS value, count(*) AS n FROM flows
       WHERE job_id = ? AND domain_name IS NOT NULL GROUP BY client_ip, domain_name
       ORDER BY client_ip, n DESC, domain_name`,
    );
    const asServer = best(
      `SELECT server_ip AS ip, domain_name AS value, count(*) AS n FROM flows
       WHERE job_id = ? AND domain_name IS NOT NULL GROUP BY server_ip, domain_name
       ORDER BY server_ip, n DESC, domain_name`,
    );
    const ips = new Set([...ua.keys(), ...asClient.keys(), ...asServer.keys()]);
    const s = this.#stmt(
      "INSERT INTO ip_details(job_id, ip, user_agent, domain_name) VALUES (?, ?, ?, ?)",
    );
    for (const ip of ips) {
      s.run(id, ip, ua.get(ip) ?? null, asClient.get(ip) ?? asServer.get(ip) ?? null);
    }
  }

  // ---- queries ----

  /** Flow counts per label (count desc, label asc); only `labels` when given. */
  labelCounts(jobId: number, labels?: readonly string[]): CountItem[] {
    if (labels === undefined) {
      return counts(
        this.#stmt(
          "SELECT label, count FROM label_counts WHERE job_id = ? ORDER BY count DESC, label",
        ).all(jobId) as Row[],
      );
    }
    if (labels.length === 0) return [];
    return counts(
      this.db.prepare(
        `SELECT label, count FROM label_counts WHERE job_id = ? AND label IN
         (${placeholders(labels.length)}) ORDER BY count DESC, label`,
      ).all(jobId, ...labels) as Row[],
    );
  }

  /** Flow counts per client IP (count desc, ip asc); only flows with `labels` when given. */
  clientCounts(jobId: number, labels?: readonly string[]): CountItem[] {
    if (labels === undefined) {
      return counts(
        this.#stmt(
          "SELECT ip AS label, count FROM client_counts WHERE job_id = ? ORDER BY count DESC, ip",
        ).all(jobId) as Row[],
      );
    }
    if (labels.length === 0) return [];
    return counts(
      this.db.prepare(
        `SELECT ip AS label, sum(count) AS count FROM label_client_counts WHERE job_id = ? AND
         label IN (${placeholders(labels.length)}) GROUP BY ip ORDER BY count DESC, ip`,
      ).all(jobId, ...labels) as Row[],
    );
  }

  /** Flows with one of `labels`, by start time then flow id. */
  flowsByLabel(jobId: number, labels: readonly string[], limit: number, offset: number): {
    total: number;
    flows: FlowRow[];
  } {
    if (labels.length === 0) return { total: 0, flows: [] };
    const where = `job_id = ? AND label IN (${placeholders(labels.length)})`;
    const total = Number(
      (this.db.prepare(`SELECT count(*) AS n FROM flows INDEXED BY flows_by_label WHERE ${where}`)
        .get(
          jobId,
          ...labels,
        ) as Row).n,
    );
    const rows = this.db.prepare(
      `SELECT * FROM flows INDEXED BY flows_by_label WHERE ${where}
       ORDER BY time_start, flow_id LIMIT ? OFFSET ?`,
    ).all(jobId, ...labels, limit, offset) as Row[];
    return {
      total,
      flows: rows.map((r) => ({
        flowId: Number(r.flow_id),
        clientIp: String(r.client_ip),
        clientPort: Number(r.client_port),
        serverIp: String(r.server_ip),
        serverPort: Number(r.server_port),
        protocol: String(r.protocol),
        timeStart: Number(r.time_start),
        timeEnd: Number(r.time_end),
        packets: Number(r.packets),
        bytes: Number(r.bytes),
        label: String(r.label),
        comment: String(r.comment),
        userAgent: r.user_agent === null ? null : String(r.user_agent),
        domainName: r.domain_name === null ? null : String(r.domain_name),
      })),
    };
  }

  /**
   * An IP's part of a job: flows it took part in (as client or server) per label and per client
   * IP, with its user agent and domain name; undefined when the IP is not in the job's flows.
   */
  ipStatistics(jobId: number, ip: string): {
    protocols: CountItem[];
    clients: CountItem[];
    userAgent: string | null;
    domainName: string | null;
  } | undefined {
    // Two index lookups (as client, as server) instead of an OR that would scan the job; named
    // indexes because without statistics the planner prefers the primary key's job_id prefix.
    const involved = `SELECT label, client_ip FROM flows INDEXED BY flows_by_client
      WHERE job_id = ?1 AND client_ip = ?2
      UNION ALL SELECT label, client_ip FROM flows INDEXED BY flows_by_server
      WHERE job_id = ?1 AND server_ip = ?2 AND client_ip <> ?2`;
    const protocols = counts(
      this.#stmt(
        `SELECT label, count(*) AS count FROM (${involved}) GROUP BY label
         ORDER BY count DESC, label`,
      ).all(jobId, ip) as Row[],
    );
    if (protocols.length === 0) return undefined;
    const clients = counts(
      this.#stmt(
        `SELECT client_ip AS label, count(*) AS count FROM (${involved}) GROUP BY client_ip
         ORDER BY count DESC, client_ip`,
      ).all(jobId, ip) as Row[],
    );
    const d = this.#stmt(
      "SELECT user_agent, domain_name FROM ip_details WHERE job_id = ? AND ip = ?",
    )
      .get(jobId, ip) as Row | undefined;
    return {
      protocols,
      clients,
      userAgent: d?.user_agent === undefined || d.user_agent === null ? null : String(d.user_agent),
      domainName: d?.domain_name === undefined || d.domain_name === null
        ? null
        : String(d.domain_name),
    };
  }

  /** Every label seen in any finished job. */
  seenLabels(): string[] {
    return (this.#stmt(
      `SELECT DISTINCT label FROM label_counts WHERE job_id IN
       (SELECT id FROM jobs WHERE state = 'finished') ORDER BY label`,
    ).all() as Row[]).map((r) => String(r.label));
  }

  // ---- first-packet cache for files not processed yet ----

  /** Cached first-packet time of a file, when size and mtime still match. */
  peekedStart(name: string, sizeBytes: number, mtimeMs: number): number | undefined {
    const r = this.#stmt(
      "SELECT time_start FROM file_peek WHERE name = ? AND size_bytes = ? AND mtime_ms = ?",
    ).get(name, sizeBytes, Math.round(mtimeMs)) as Row | undefined;
    return r ? Number(r.time_start) : undefined;
  }

  /** Remembers the first-packet time of a file. */
  setPeekedStart(name: string, sizeBytes: number, mtimeMs: number, timeStart: number): void {
    this.#stmt(
      "INSERT OR REPLACE INTO file_peek(name, size_bytes, mtime_ms, time_start) VALUES (?, ?, ?, ?)",
    ).run(name, sizeBytes, Math.round(mtimeMs), timeStart);
  }
}
