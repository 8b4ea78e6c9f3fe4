/**
 * TrActor's results in SQLite (`node:sqlite`, WAL): jobs, their flows, and per-job aggregates
 * (flows per label, per client IP, and per-IP user agent and domain name). The schema version is
 * `PRAGMA user_version`; a newer version on disk is refused rather than guessed at. The server
 * thread and the job workers each open their own connection to the same file.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AGGREGATE_TABLES, migrate, RESULT_TABLES } from "./_store_schema.ts";
import {
  type ClientDetails,
  type ClientRow,
  clientRow,
  type CountItem,
  counts,
  type FlowRow,
  flowRow,
  type HttpKind,
  type JobRow,
  jobRow,
  type JobSummary,
  type Row,
  type TimelineRow,
} from "./store_rows.ts";

export { SCHEMA_VERSION } from "./_store_schema.ts";
export type {
  ClientDetails,
  ClientRow,
  CountItem,
  FlowRow,
  HttpCount,
  HttpKind,
  JobRow,
  JobState,
  JobSummary,
  TimelineRow,
} from "./store_rows.ts";

/** Columns clients can be sorted by: API name → SQL expression (never user text in SQL). */
export const CLIENT_SORT = {
  ip: "ip",
  flows: "flows",
  packets: "packets",
  bytes: "bytes",
  requests: "requests",
  duration_ms: "last_ms - first_ms",
  user_agents: "user_agents",
  first_ms: "first_ms",
} as const;

/** A column of {@linkcode CLIENT_SORT}. */
export type ClientSort = keyof typeof CLIENT_SORT;

/** Which clients of a job {@linkcode TractorStore.clients} returns, in what order. */
export interface ClientQuery {
  sort: ClientSort;
  descending: boolean;
  limit: number;
  offset: number;
}

/** Which flows of a job {@linkcode TractorStore.flows} returns (all filters optional). */
export interface FlowQuery {
  clientIp?: string;
  label?: string;
  limit: number;
  offset: number;
}

/** Timeline bucket widths (ms): the smallest giving at most {@linkcode TIMELINE_BUCKETS} wins. */
const BUCKET_WIDTHS = [
  100,
  200,
  500,
  1e3,
  2e3,
  5e3,
  1e4,
  15e3,
  3e4,
  6e4,
  12e4,
  3e5,
  6e5,
  9e5,
  18e5,
  36e5,
  72e5,
  108e5,
  216e5,
  432e5,
  864e5,
];
const TIMELINE_BUCKETS = 60;

function bucketWidth(spanMs: number): number {
  const want = Math.max(1, spanMs) / TIMELINE_BUCKETS;
  return BUCKET_WIDTHS.find((w) => w >= want) ?? Math.ceil(want / 864e5) * 864e5;
}

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
    const from = migrate(this.db, path);
    if (from > 0 && from < 2) {
      // Version 1 had no per-client totals or timeline: build them from the flows kept.
      for (const r of this.#stmt("SELECT * FROM jobs WHERE state = 'finished'").all() as Row[]) {
        const job = jobRow(r);
        this.transaction(() =>
          this.#aggregate(job.id, (job.timeStart ?? 0) * 1000, (job.timeEnd ?? 0) * 1000)
        );
      }
    }
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
      `INSERT INTO flows(job_id, flow_id, client_ip, client_port, server_ip, server_port,
       protocol, time_start, time_end, first_ms, last_ms, packets, bytes, label, comment,
       user_agent, domain_name, requests)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const h = this.#stmt(
      "INSERT INTO flow_http(job_id, flow_id, kind, value, count) VALUES (?, ?, ?, ?, ?)",
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
        f.firstMs,
        f.lastMs,
        f.packets,
        f.bytes,
        f.label,
        f.comment,
        f.userAgent,
        f.domainName,
        f.requests,
      );
      for (const v of f.http) h.run(jobId, f.flowId, v.kind, v.value, v.count);
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
      this.#aggregate(
        id,
        summary.firstUs < 0 ? 0 : Math.floor(summary.firstUs / 1000),
        summary.lastUs < 0 ? 0 : Math.floor(summary.lastUs / 1000),
      );
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

  /** Rebuilds a job's aggregates from its flow rows; `firstMs`…`lastMs` spans the timeline. */
  #aggregate(id: number, firstMs: number, lastMs: number): void {
    for (const table of AGGREGATE_TABLES) {
      this.#stmt(`DELETE FROM ${table} WHERE job_id = ?`).run(id);
    }
    this.#stmt(
      `INSERT INTO label_counts(job_id, label, count)
       SELECT job_id, label, count(*) FROM flows WHERE job_id = ? GROUP BY job_id, label`,
    ).run(id);
    this.#stmt(
      `INSERT INTO client_counts(job_id, ip, count)
       SELECT job_id, client_ip, count(*) FROM flows WHERE job_id = ? GROUP BY job_id, client_ip`,
    ).run(id);
    this.#stmt(
      `INSERT INTO label_client_counts(job_id, label, ip, count)
       SELECT job_id, label, client_ip, count(*) FROM flows WHERE job_id = ?
       GROUP BY job_id, label, client_ip`,
    ).run(id);
    this.#aggregateIpDetails(id);
    this.#stmt(
      `INSERT INTO client_totals(job_id, ip, flows, packets, bytes, requests, first_ms, last_ms)
       SELECT job_id, client_ip, count(*), sum(packets), sum(bytes), sum(requests),
       min(first_ms), max(last_ms) FROM flows WHERE job_id = ? GROUP BY job_id, client_ip`,
    ).run(id);
    this.#stmt(
      `INSERT INTO client_http(job_id, ip, kind, value, count)
       SELECT f.job_id, f.client_ip, h.kind, h.value, sum(h.count)
       FROM flow_http h JOIN flows f ON f.job_id = h.job_id AND f.flow_id = h.flow_id
       WHERE h.job_id = ? GROUP BY f.job_id, f.client_ip, h.kind, h.value`,
    ).run(id);
    // "(other)" stands for values past the per-flow bound: not one more distinct agent.
    this.#stmt(
      `UPDATE client_totals SET user_agents = (SELECT count(*) FROM client_http h
       WHERE h.job_id = client_totals.job_id AND h.ip = client_totals.ip
       AND h.kind = 'user_agent' AND h.value <> '(other)') WHERE job_id = ?`,
    ).run(id);
    const width = bucketWidth(lastMs - firstMs);
    const origin = Math.floor(firstMs / width) * width;
    // Integer literals, not parameters: a bound JS number is a REAL in SQLite, and integer
    // division is what cuts the buckets. Both are integers computed here, never request text.
    if (!Number.isSafeInteger(origin) || !Number.isSafeInteger(width)) {
      throw new RangeError(`Cannot build the timeline of job ${id}: span ${firstMs}…${lastMs}`);
    }
    this.db.prepare(
      `INSERT INTO label_timeline(job_id, start_ms, bucket_ms, label, flows, bytes)
       SELECT job_id, ${origin} + bucket * ${width}, ${width}, label, count(*), sum(bytes) FROM
       (SELECT job_id, (first_ms - ${origin}) / ${width} AS bucket, label, bytes FROM flows
       WHERE job_id = ?) b
       GROUP BY job_id, bucket, label`,
    ).run(id);
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
    return { total, flows: rows.map(flowRow) };
  }

  /** Flows of a job, optionally of one client IP and/or one label, by start time then id. */
  flows(jobId: number, q: FlowQuery): { total: number; flows: FlowRow[] } {
    const where = ["job_id = ?"];
    const args: (string | number)[] = [jobId];
    if (q.clientIp !== undefined) {
      where.push("client_ip = ?");
      args.push(q.clientIp);
    }
    if (q.label !== undefined) {
      where.push("label = ?");
      args.push(q.label);
    }
    const cond = where.join(" AND ");
    const total = Number(
      (this.#stmt(`SELECT count(*) AS n FROM flows WHERE ${cond}`).get(...args) as Row).n,
    );
    const rows = this.#stmt(
      `SELECT * FROM flows WHERE ${cond} ORDER BY first_ms, flow_id LIMIT ? OFFSET ?`,
    ).all(...args, q.limit, q.offset) as Row[];
    return { total, flows: rows.map(flowRow) };
  }

  /** A page of a job's clients (as flow initiators), sorted by a whitelisted column. */
  clients(jobId: number, q: ClientQuery): { total: number; clients: ClientRow[] } {
    const total = Number(
      (this.#stmt("SELECT count(*) AS n FROM client_totals WHERE job_id = ?").get(jobId) as Row)
        .n,
    );
    const dir = q.descending ? "DESC" : "ASC";
    const rows = this.#stmt(
      `SELECT * FROM client_totals WHERE job_id = ?
       ORDER BY ${CLIENT_SORT[q.sort]} ${dir}, bytes DESC, ip LIMIT ? OFFSET ?`,
    ).all(jobId, q.limit, q.offset) as Row[];
    return { total, clients: rows.map(clientRow) };
  }

  /**
   * Labels and HTTP values of some clients of a job, at most `perKind` of each kind (by count
   * desc, then value; 0 = all).
   */
  clientDetails(
    jobId: number,
    clients: readonly ClientRow[],
    perKind: number,
  ): ClientDetails[] {
    if (clients.length === 0) return [];
    const ips = clients.map((c) => c.ip);
    const list = placeholders(ips.length);
    const out = new Map<string, ClientDetails>(
      clients.map((c) => [c.ip, {
        ...c,
        labels: [],
        http: { user_agent: [], host: [], url: [], status: [] },
      }]),
    );
    const labels = this.db.prepare(
      `SELECT ip, label, count FROM label_client_counts WHERE job_id = ? AND ip IN (${list})
       ORDER BY ip, count DESC, label`,
    ).all(jobId, ...ips) as Row[];
    for (const r of labels) {
      out.get(String(r.ip))!.labels.push({ label: String(r.label), count: Number(r.count) });
    }
    const values = this.db.prepare(
      `SELECT ip, kind, value, count FROM client_http WHERE job_id = ? AND ip IN (${list})
       ORDER BY ip, kind, count DESC, value`,
    ).all(jobId, ...ips) as Row[];
    for (const r of values) {
      const kind = String(r.kind) as HttpKind;
      const into = out.get(String(r.ip))!.http[kind];
      if (into !== undefined && (perKind === 0 || into.length < perKind)) {
        into.push({ label: String(r.value), count: Number(r.count) });
      }
    }
    return [...out.values()];
  }

  /** One client's totals, or undefined when it started no flow in the job. */
  client(jobId: number, ip: string): ClientRow | undefined {
    const r = this.#stmt("SELECT * FROM client_totals WHERE job_id = ? AND ip = ?")
      .get(jobId, ip) as Row | undefined;
    return r ? clientRow(r) : undefined;
  }

  /** Flows and bytes per label and time bucket, by bucket then label. */
  timeline(jobId: number): TimelineRow[] {
    return (this.#stmt(
      `SELECT start_ms, bucket_ms, label, flows, bytes FROM label_timeline WHERE job_id = ?
       ORDER BY start_ms, label`,
    ).all(jobId) as Row[]).map((r) => ({
      startMs: Number(r.start_ms),
      bucketMs: Number(r.bucket_ms),
      label: String(r.label),
      flows: Number(r.flows),
      bytes: Number(r.bytes),
    }));
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
