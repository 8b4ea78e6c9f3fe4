/**
 * TrActor's jobs and results behind one SQL text for two engines (see `sql_driver.ts`): SQLite
 * (`node:sqlite`, WAL, a file in the state directory; one host) or PostgreSQL (`postgres://…`;
 * several `qts tractor` hosts sharing one queue and one result set). Tables: jobs, their flows,
 * and per-job aggregates (flows per label, per client IP, per-IP user agent and domain name).
 *
 * Jobs are claimed, never handed out: {@linkcode TractorStore.claimJob} takes the oldest queued
 * job (or one whose holder's lease expired) with `SELECT … FOR UPDATE SKIP LOCKED` in a
 * transaction, so two hosts never take the same job. A claim is (job id, `claimed_by`,
 * `attempts`); every later write of the job (progress, finish, failure, requeue) checks it, so a
 * host that lost its lease (it hung past `lease_until`) can no longer touch the job's results.
 */
import { AGGREGATE_TABLES, migrate, RESULT_TABLES } from "./_store_schema.ts";
import { sqliteDriver } from "./_sqlite_driver.ts";
import { postgresDriver } from "./_postgres_driver.ts";
import { isPostgresUrl, redactUrl, type SqlDriver, type SqlExecutor } from "./sql_driver.ts";
import { observedDriver, type StoreOperation } from "./_observed_driver.ts";
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
  type JobState,
  type JobSummary,
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

/**
 * The labels a query can match: text holding NUL is never stored (PostgreSQL's text cannot hold
 * it, and no label has it), and sending it would be an error there rather than "no match".
 */
function storable(labels: readonly string[]): string[] {
  return labels.filter((l) => !l.includes("\0"));
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}

/** Who holds a running job: the claim every later write of it must show. */
export interface JobClaim {
  jobId: number;
  /** `host:pid` of the claiming process. */
  by: string;
  /** The job's `attempts` after this claim (each claim counts one). */
  attempt: number;
}

/** What {@linkcode TractorStore.claimJob} did. */
export interface ClaimResult {
  /** The job now held, in_progress; undefined when none was waiting. */
  job: JobRow | undefined;
  claim: JobClaim | undefined;
  /** Set when the job was taken over from a holder whose lease had expired. */
  takenOverFrom: string | undefined;
  /** Jobs failed on the way: abandoned (lease expired) `maxAttempts` times. */
  failed: number[];
}

export type { StoreOperation } from "./_observed_driver.ts";

/** A store error as counted: the claim was lost (another host holds the job), or anything else. */
export type StoreErrorKind = "lost_claim" | "database";

/** Options of {@linkcode TractorStore.open}. */
export interface TractorStoreOptions {
  /** PostgreSQL pool size (default 4). */
  connections?: number;
  /** Sees every failed call of the store once (for `/metrics`); the caller still gets it. */
  onError?: (operation: StoreOperation, kind: StoreErrorKind, error: unknown) => void;
}

const CLAIMED = "id = ? AND state = 'in_progress' AND claimed_by = ? AND attempts = ?";
const claimParams = (c: JobClaim) => [c.jobId, c.by, c.attempt];

/** Thrown when a write needs a claim the job no longer carries (another host took it over). */
export class LostClaimError extends Error {
  constructor(claim: JobClaim, what: string) {
    super(
      `Cannot ${what} job ${claim.jobId}: no longer held by ${claim.by} (attempt ${claim.attempt})`,
    );
    this.name = "LostClaimError";
  }
}

/** TrActor's database: jobs, claims, results and the queries the API makes. */
export class TractorStore {
  /** The driver, for the store's own SQL and for tests that read the tables. */
  readonly sql: SqlDriver;
  /** The file path or the `postgres://` URL it was opened with (workers open the same). */
  readonly location: string;
  /** True when several hosts may share it (PostgreSQL): jobs must be claimed with leases. */
  readonly shared: boolean;

  private constructor(sql: SqlDriver, location: string) {
    this.sql = sql;
    this.location = location;
    this.shared = sql.dialect === "postgres";
  }

  /**
   * Opens (creating or migrating) the store at `location`: a SQLite file path, or a
   * `postgres://user[:password]@host:port/db` URL.
   */
  static async open(location: string, options: TractorStoreOptions = {}): Promise<TractorStore> {
    const raw = isPostgresUrl(location)
      ? await postgresDriver(location, { max: options.connections ?? 4 })
      : sqliteDriver(location);
    const onError = options.onError;
    const sql = onError
      ? observedDriver(
        raw,
        (operation, error) =>
          onError(operation, error instanceof LostClaimError ? "lost_claim" : "database", error),
      )
      : raw;
    let store: TractorStore;
    try {
      const from = await migrate(sql, redactUrl(location));
      store = new TractorStore(sql, location);
      if (from > 0 && from < 2) {
        // Version 1 had no per-client totals or timeline: build them from the flows kept.
        for (const r of await sql.all("SELECT * FROM jobs WHERE state = 'finished'")) {
          const job = jobRow(r);
          await sql.transaction((tx) =>
            store.#aggregate(tx, job.id, (job.timeStart ?? 0) * 1000, (job.timeEnd ?? 0) * 1000)
          );
        }
      }
    } catch (error) {
      await sql.close();
      throw error;
    }
    return store;
  }

  /** Where it is, with a PostgreSQL password hidden: for logs. */
  get where(): string {
    return redactUrl(this.location);
  }

  /** Closes the connection(s). */
  close(): Promise<void> {
    return this.sql.close();
  }

  // ---- jobs ----

  /** Creates a job in state `new` for a capture. */
  async createJob(
    file: { name: string; extension: string; sizeBytes: number; mtimeMs: number },
    now: number,
  ): Promise<JobRow> {
    const r = await this.sql.get(
      `INSERT INTO jobs(file_name, extension, size_bytes, mtime_ms, state, created_at)
       VALUES (?, ?, ?, ?, 'new', ?) RETURNING *`,
      [file.name, file.extension, file.sizeBytes, Math.round(file.mtimeMs), now],
    );
    return jobRow(r!);
  }

  /** The job with this id. */
  async job(id: number): Promise<JobRow | undefined> {
    const r = await this.sql.get("SELECT * FROM jobs WHERE id = ?", [id]);
    return r ? jobRow(r) : undefined;
  }

  /** The newest job of each file name. */
  async latestJobs(): Promise<Map<string, JobRow>> {
    const rows = await this.sql.all(
      `SELECT * FROM jobs WHERE id IN (SELECT max(id) FROM jobs GROUP BY file_name)`,
    );
    return new Map(rows.map((r) => [String(r.file_name), jobRow(r)]));
  }

  /** The newest job of a file. */
  async latestJob(fileName: string): Promise<JobRow | undefined> {
    const r = await this.sql.get(
      "SELECT * FROM jobs WHERE file_name = ? ORDER BY id DESC LIMIT 1",
      [fileName],
    );
    return r ? jobRow(r) : undefined;
  }

  /** How many jobs are in each state (every state present, 0 when none). */
  async jobCounts(): Promise<Record<JobState, number>> {
    const out: Record<JobState, number> = { new: 0, in_progress: 0, finished: 0, failed: 0 };
    for (const r of await this.sql.all("SELECT state, count(*) AS n FROM jobs GROUP BY state")) {
      if (String(r.state) in out) out[r.state as JobState] = Number(r.n);
    }
    return out;
  }

  /** Ids of jobs waiting to run, oldest first. */
  async queuedJobs(): Promise<number[]> {
    return (await this.sql.all("SELECT id FROM jobs WHERE state = 'new' ORDER BY id"))
      .map((r) => Number(r.id));
  }

  /**
   * Claims the oldest job that is queued, or running under a lease that expired before `now`
   * (its host died or hung): in_progress, held by `by` until `now + leaseSeconds`, one more
   * attempt, partial results of earlier tries dropped. A job abandoned that way `maxAttempts`
   * times is failed instead (a capture that kills its process must not loop forever).
   * `SKIP LOCKED`: a row another host is claiming right now is passed over, never waited for.
   */
  async claimJob(
    by: string,
    now: number,
    options: { leaseSeconds: number; maxAttempts: number },
  ): Promise<ClaimResult> {
    const failed: number[] = [];
    for (;;) {
      const out = await this.sql.transaction(async (tx): Promise<ClaimResult | "again"> => {
        const r = await tx.get(
          `SELECT * FROM jobs
           WHERE state = 'new' OR (state = 'in_progress' AND lease_until < ?)
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [now],
        );
        if (!r) return { job: undefined, claim: undefined, takenOverFrom: undefined, failed };
        const job = jobRow(r);
        const takenOverFrom = job.state === "in_progress" ? job.claimedBy ?? "?" : undefined;
        await this.#clearResults(tx, job.id);
        if (takenOverFrom !== undefined && job.attempts >= options.maxAttempts) {
          await tx.run(
            `UPDATE jobs SET state = 'failed', finished_at = ?, lease_until = NULL, error = ?
             WHERE id = ?`,
            [now, `abandoned ${job.attempts} times (last by ${takenOverFrom}); given up`, job.id],
          );
          failed.push(job.id);
          return "again";
        }
        const claimed = await tx.get(
          `UPDATE jobs SET state = 'in_progress', started_at = ?, finished_at = NULL,
           attempts = attempts + 1, bytes_done = 0, error = NULL, claimed_by = ?, claimed_at = ?,
           lease_until = ? WHERE id = ? RETURNING *`,
          [now, by, now, now + options.leaseSeconds, job.id],
        );
        const row = jobRow(claimed!);
        return {
          job: row,
          claim: { jobId: row.id, by, attempt: row.attempts },
          takenOverFrom,
          failed,
        };
      });
      if (out !== "again") return out;
    }
  }

  /** Extends a claim's lease to `now + leaseSeconds`; false when the claim was lost. */
  async renewLease(claim: JobClaim, now: number, leaseSeconds: number): Promise<boolean> {
    return await this.sql.run(
      `UPDATE jobs SET lease_until = ? WHERE ${CLAIMED}`,
      [now + leaseSeconds, ...claimParams(claim)],
    ) === 1;
  }

  /**
   * Marks a job failed and drops its partial results. With `claim`, only while the claim holds
   * (false otherwise); without, whatever its state (the job could not even be started).
   */
  async failJob(id: number, now: number, message: string, claim?: JobClaim): Promise<boolean> {
    return await this.sql.transaction(async (tx) => {
      const changed = await tx.run(
        `UPDATE jobs SET state = 'failed', finished_at = ?, lease_until = NULL, error = ?
         WHERE ${claim ? CLAIMED : "id = ?"}`,
        [now, message.slice(0, 1000), ...(claim ? claimParams(claim) : [id])],
      );
      if (changed === 1) await this.#clearResults(tx, id);
      return changed === 1;
    });
  }

  /** Puts a held job back in the queue (its partial results are dropped when next claimed). */
  async requeueJob(claim: JobClaim): Promise<boolean> {
    return await this.sql.run(
      `UPDATE jobs SET state = 'new', bytes_done = 0, lease_until = NULL WHERE ${CLAIMED}`,
      claimParams(claim),
    ) === 1;
  }

  /**
   * After a restart of the only process using this store (SQLite; its state directory is
   * locked): every job left in_progress is queued again, or failed once it has been started
   * `maxAttempts` times. A shared store never does this: its hosts' jobs expire by lease.
   */
  async recoverInterrupted(
    now: number,
    maxAttempts: number,
  ): Promise<{ resumed: number[]; failed: number[] }> {
    const rows = await this.sql.all("SELECT id, attempts FROM jobs WHERE state = 'in_progress'");
    const resumed: number[] = [], failed: number[] = [];
    for (const r of rows) {
      const id = Number(r.id);
      if (Number(r.attempts) >= maxAttempts) {
        await this.failJob(
          id,
          now,
          `interrupted ${Number(r.attempts)} times by a restart; given up`,
        );
        failed.push(id);
      } else {
        await this.sql.run(
          "UPDATE jobs SET state = 'new', bytes_done = 0, lease_until = NULL WHERE id = ?",
          [id],
        );
        resumed.push(id);
      }
    }
    return { resumed, failed };
  }

  async #clearResults(tx: SqlExecutor, id: number): Promise<void> {
    for (const table of RESULT_TABLES) {
      await tx.run(`DELETE FROM ${table} WHERE job_id = ?`, [id]);
    }
  }

  // ---- results (written by a job worker, under its claim) ----

  /**
   * Appends flows of a held job and records how far it has read, in one transaction; throws
   * {@linkcode LostClaimError} (writing nothing) when the claim no longer holds.
   */
  async writeFlows(claim: JobClaim, flows: readonly FlowRow[], bytesDone: number): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const held = await tx.run(
        `UPDATE jobs SET bytes_done = ? WHERE ${CLAIMED}`,
        [bytesDone, ...claimParams(claim)],
      );
      if (held !== 1) throw new LostClaimError(claim, "write flows of");
      await tx.insertMany(
        `INSERT INTO flows(job_id, flow_id, client_ip, client_port, server_ip, server_port,
         protocol, time_start, time_end, first_ms, last_ms, packets, bytes, label, comment,
         user_agent, domain_name, requests)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        flows.map((f) => [
          claim.jobId,
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
        ]),
      );
      await tx.insertMany(
        "INSERT INTO flow_http(job_id, flow_id, kind, value, count) VALUES (?, ?, ?, ?, ?)",
        flows.flatMap((f) => f.http.map((v) => [claim.jobId, f.flowId, v.kind, v.value, v.count])),
      );
    });
  }

  /**
   * Completes a held job: aggregates, counts and times, state finished; then drops older jobs
   * of the same file, so processing a file again replaces its results (one set per file).
   */
  async finishJob(claim: JobClaim, summary: JobSummary, now: number): Promise<void> {
    const id = claim.jobId;
    await this.sql.transaction(async (tx) => {
      const r = await tx.get(`SELECT * FROM jobs WHERE id = ? FOR UPDATE`, [id]);
      const job = r ? jobRow(r) : undefined;
      if (
        !job || job.state !== "in_progress" || job.claimedBy !== claim.by ||
        job.attempts !== claim.attempt
      ) {
        throw new LostClaimError(claim, `finish (it is ${job ? job.state : "missing"})`);
      }
      await this.#aggregate(
        tx,
        id,
        summary.firstUs < 0 ? 0 : Math.floor(summary.firstUs / 1000),
        summary.lastUs < 0 ? 0 : Math.floor(summary.lastUs / 1000),
      );
      const n = Number(
        (await tx.get("SELECT count(*) AS n FROM flows WHERE job_id = ?", [id]))!.n,
      );
      const start = summary.firstUs < 0 ? null : Math.floor(summary.firstUs / 1e6);
      const end = summary.lastUs < 0 ? null : Math.floor(summary.lastUs / 1e6);
      await tx.run(
        `UPDATE jobs SET state = 'finished', finished_at = ?, time_start = ?, time_end = ?,
         flows_count = ?, bytes_done = size_bytes, error = ?, lease_until = NULL WHERE id = ?`,
        [now, start, end, n, summary.warning ?? null, id],
      );
      const older = await tx.all("SELECT id FROM jobs WHERE file_name = ? AND id < ?", [
        job.fileName,
        id,
      ]);
      for (const o of older) {
        await this.#clearResults(tx, Number(o.id));
        await tx.run("DELETE FROM jobs WHERE id = ?", [Number(o.id)]);
      }
    });
  }

  /** Rebuilds a job's aggregates from its flow rows; `firstMs`…`lastMs` spans the timeline. */
  async #aggregate(tx: SqlExecutor, id: number, firstMs: number, lastMs: number): Promise<void> {
    for (const table of AGGREGATE_TABLES) {
      await tx.run(`DELETE FROM ${table} WHERE job_id = ?`, [id]);
    }
    await tx.run(
      `INSERT INTO label_counts(job_id, label, count)
       SELECT job_id, label, count(*) FROM flows WHERE job_id = ? GROUP BY job_id, label`,
      [id],
    );
    await tx.run(
      `INSERT INTO client_counts(job_id, ip, count)
       SELECT job_id, client_ip, count(*) FROM flows WHERE job_id = ? GROUP BY job_id, client_ip`,
      [id],
    );
    await tx.run(
      `INSERT INTO label_client_counts(job_id, label, ip, count)
       SELECT job_id, label, client_ip, count(*) FROM flows WHERE job_id = ?
       GROUP BY job_id, label, client_ip`,
      [id],
    );
    await this.#aggregateIpDetails(tx, id);
    await tx.run(
      `INSERT INTO client_totals(job_id, ip, flows, packets, bytes, requests, first_ms, last_ms)
       SELECT job_id, client_ip, count(*), sum(packets), sum(bytes), sum(requests),
       min(first_ms), max(last_ms) FROM flows WHERE job_id = ? GROUP BY job_id, client_ip`,
      [id],
    );
    await tx.run(
      `INSERT INTO client_http(job_id, ip, kind, value, count)
       SELECT f.job_id, f.client_ip, h.kind, h.value, sum(h.count)
       FROM flow_http h JOIN flows f ON f.job_id = h.job_id AND f.flow_id = h.flow_id
       WHERE h.job_id = ? GROUP BY f.job_id, f.client_ip, h.kind, h.value`,
      [id],
    );
    // "(other)" stands for values past the per-flow bound: not one more distinct agent.
    await tx.run(
      `UPDATE client_totals SET user_agents = (SELECT count(*) FROM client_http h
       WHERE h.job_id = client_totals.job_id AND h.ip = client_totals.ip
       AND h.kind = 'user_agent' AND h.value <> '(other)') WHERE job_id = ?`,
      [id],
    );
    const width = bucketWidth(lastMs - firstMs);
    const origin = Math.floor(firstMs / width) * width;
    // Integer literals, not parameters: a bound JS number is a REAL in SQLite, and integer
    // division is what cuts the buckets. Both are integers computed here, never request text.
    if (!Number.isSafeInteger(origin) || !Number.isSafeInteger(width)) {
      throw new RangeError(`Cannot build the timeline of job ${id}: span ${firstMs}…${lastMs}`);
    }
    await tx.run(
      `INSERT INTO label_timeline(job_id, start_ms, bucket_ms, label, flows, bytes)
       SELECT job_id, ${origin} + bucket * ${width}, ${width}, label, count(*), sum(bytes) FROM
       (SELECT job_id, (first_ms - ${origin}) / ${width} AS bucket, label, bytes FROM flows
       WHERE job_id = ?) b
       GROUP BY job_id, bucket, label`,
      [id],
    );
  }

  // The most frequent user agent of an IP's client flows, and the most frequent domain name of
  // its client flows, else of the flows it served (what clients called it). Ties: smallest text.
  async #aggregateIpDetails(tx: SqlExecutor, id: number): Promise<void> {
    const best = async (sql: string): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      for (const r of await tx.all(sql, [id])) {
        const ip = String(r.ip);
        if (!out.has(ip)) out.set(ip, String(r.value));
      }
      return out;
    };
    const ua = await best(
      `SELECT client_ip AS ip, user_agent AS value, count(*) AS n FROM flows
       WHERE job_id = ? AND user_agent IS NOT NULL GROUP BY client_ip, user_agent
       ORDER BY client_ip, n DESC, user_agent`,
    );
    const asClient = await best(
      `SELECT client_ip AS ip, domain_name AS value, count(*) AS n FROM flows
       WHERE job_id = ? AND domain_name IS NOT NULL GROUP BY client_ip, domain_name
       ORDER BY client_ip, n DESC, domain_name`,
    );
    const asServer = await best(
      `SELECT server_ip AS ip, domain_name AS value, count(*) AS n FROM flows
       WHERE job_id = ? AND domain_name IS NOT NULL GROUP BY server_ip, domain_name
       ORDER BY server_ip, n DESC, domain_name`,
    );
    const ips = new Set([...ua.keys(), ...asClient.keys(), ...asServer.keys()]);
    await tx.insertMany(
      "INSERT INTO ip_details(job_id, ip, user_agent, domain_name) VALUES (?, ?, ?, ?)",
      [...ips].map((
        ip,
      ) => [id, ip, ua.get(ip) ?? null, asClient.get(ip) ?? asServer.get(ip) ?? null]),
    );
  }

  // ---- queries ----

  /** Flow counts per label (count desc, label asc); only `labels` when given. */
  async labelCounts(jobId: number, wanted?: readonly string[]): Promise<CountItem[]> {
    const labels = wanted && storable(wanted);
    if (labels === undefined) {
      return counts(
        await this.sql.all(
          "SELECT label, count FROM label_counts WHERE job_id = ? ORDER BY count DESC, label",
          [jobId],
        ),
      );
    }
    if (labels.length === 0) return [];
    return counts(
      await this.sql.all(
        `SELECT label, count FROM label_counts WHERE job_id = ? AND label IN
         (${placeholders(labels.length)}) ORDER BY count DESC, label`,
        [jobId, ...labels],
      ),
    );
  }

  /** Flow counts per client IP (count desc, ip asc); only flows with `labels` when given. */
  async clientCounts(jobId: number, wanted?: readonly string[]): Promise<CountItem[]> {
    const labels = wanted && storable(wanted);
    if (labels === undefined) {
      return counts(
        await this.sql.all(
          "SELECT ip AS label, count FROM client_counts WHERE job_id = ? ORDER BY count DESC, ip",
          [jobId],
        ),
      );
    }
    if (labels.length === 0) return [];
    return counts(
      await this.sql.all(
        `SELECT ip AS label, sum(count) AS count FROM label_client_counts WHERE job_id = ? AND
         label IN (${placeholders(labels.length)}) GROUP BY ip ORDER BY count DESC, ip`,
        [jobId, ...labels],
      ),
    );
  }

  /** Flows with one of `labels`, by start time then flow id. */
  async flowsByLabel(
    jobId: number,
    wanted: readonly string[],
    limit: number,
    offset: number,
  ): Promise<{ total: number; flows: FlowRow[] }> {
    const labels = storable(wanted);
    if (labels.length === 0) return { total: 0, flows: [] };
    const where = `job_id = ? AND label IN (${placeholders(labels.length)})`;
    const total = Number(
      (await this.sql.get(
        `SELECT count(*) AS n FROM flows INDEXED BY flows_by_label WHERE ${where}`,
        [jobId, ...labels],
      ))!.n,
    );
    const rows = await this.sql.all(
      `SELECT * FROM flows INDEXED BY flows_by_label WHERE ${where}
       ORDER BY time_start, flow_id LIMIT ? OFFSET ?`,
      [jobId, ...labels, limit, offset],
    );
    return { total, flows: rows.map(flowRow) };
  }

  /** Flows of a job, optionally of one client IP and/or one label, by start time then id. */
  async flows(jobId: number, q: FlowQuery): Promise<{ total: number; flows: FlowRow[] }> {
    const where = ["job_id = ?"];
    const args: (string | number)[] = [jobId];
    if (q.clientIp !== undefined) {
      where.push("client_ip = ?");
      args.push(q.clientIp);
    }
    if (q.label !== undefined) {
      if (storable([q.label]).length === 0) return { total: 0, flows: [] };
      where.push("label = ?");
      args.push(q.label);
    }
    const cond = where.join(" AND ");
    const total = Number(
      (await this.sql.get(`SELECT count(*) AS n FROM flows WHERE ${cond}`, args))!.n,
    );
    const rows = await this.sql.all(
      `SELECT * FROM flows WHERE ${cond} ORDER BY first_ms, flow_id LIMIT ? OFFSET ?`,
      [...args, q.limit, q.offset],
    );
    return { total, flows: rows.map(flowRow) };
  }

  /** A page of a job's clients (as flow initiators), sorted by a whitelisted column. */
  async clients(jobId: number, q: ClientQuery): Promise<{ total: number; clients: ClientRow[] }> {
    const total = Number(
      (await this.sql.get("SELECT count(*) AS n FROM client_totals WHERE job_id = ?", [jobId]))!
        .n,
    );
    const dir = q.descending ? "DESC" : "ASC";
    const rows = await this.sql.all(
      `SELECT * FROM client_totals WHERE job_id = ?
       ORDER BY ${CLIENT_SORT[q.sort]} ${dir}, bytes DESC, ip LIMIT ? OFFSET ?`,
      [jobId, q.limit, q.offset],
    );
    return { total, clients: rows.map(clientRow) };
  }

  /**
   * Labels and HTTP values of some clients of a job, at most `perKind` of each kind (by count
   * desc, then value; 0 = all).
   */
  async clientDetails(
    jobId: number,
    clients: readonly ClientRow[],
    perKind: number,
  ): Promise<ClientDetails[]> {
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
    const labels = await this.sql.all(
      `SELECT ip, label, count FROM label_client_counts WHERE job_id = ? AND ip IN (${list})
       ORDER BY ip, count DESC, label`,
      [jobId, ...ips],
    );
    for (const r of labels) {
      out.get(String(r.ip))!.labels.push({ label: String(r.label), count: Number(r.count) });
    }
    const values = await this.sql.all(
      `SELECT ip, kind, value, count FROM client_http WHERE job_id = ? AND ip IN (${list})
       ORDER BY ip, kind, count DESC, value`,
      [jobId, ...ips],
    );
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
  async client(jobId: number, ip: string): Promise<ClientRow | undefined> {
    const r = await this.sql.get("SELECT * FROM client_totals WHERE job_id = ? AND ip = ?", [
      jobId,
      ip,
    ]);
    return r ? clientRow(r) : undefined;
  }

  /** Flows and bytes per label and time bucket, by bucket then label. */
  async timeline(jobId: number): Promise<TimelineRow[]> {
    return (await this.sql.all(
      `SELECT start_ms, bucket_ms, label, flows, bytes FROM label_timeline WHERE job_id = ?
       ORDER BY start_ms, label`,
      [jobId],
    )).map((r) => ({
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
  async ipStatistics(jobId: number, ip: string): Promise<
    {
      protocols: CountItem[];
      clients: CountItem[];
      userAgent: string | null;
      domainName: string | null;
    } | undefined
  > {
    // Two index lookups (as client, as server) instead of an OR that would scan the job; named
    // indexes because without statistics SQLite's planner prefers the primary key's job_id prefix.
    const involved = `SELECT label, client_ip FROM flows INDEXED BY flows_by_client
      WHERE job_id = ?1 AND client_ip = ?2
      UNION ALL SELECT label, client_ip FROM flows INDEXED BY flows_by_server
      WHERE job_id = ?1 AND server_ip = ?2 AND client_ip <> ?2`;
    const protocols = counts(
      await this.sql.all(
        `SELECT label, count(*) AS count FROM (${involved}) AS involved GROUP BY label
         ORDER BY count DESC, label`,
        [jobId, ip],
      ),
    );
    if (protocols.length === 0) return undefined;
    const clients = counts(
      await this.sql.all(
        `SELECT client_ip AS label, count(*) AS count FROM (${involved}) AS involved
         GROUP BY client_ip ORDER BY count DESC, client_ip`,
        [jobId, ip],
      ),
    );
    const d = await this.sql.get(
      "SELECT user_agent, domain_name FROM ip_details WHERE job_id = ? AND ip = ?",
      [jobId, ip],
    );
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
  async seenLabels(): Promise<string[]> {
    return (await this.sql.all(
      `SELECT DISTINCT label FROM label_counts WHERE job_id IN
       (SELECT id FROM jobs WHERE state = 'finished') ORDER BY label`,
    )).map((r) => String(r.label));
  }

  // ---- first-packet cache for files not processed yet ----

  /** Cached first-packet time of a file, when size and mtime still match. */
  async peekedStart(name: string, sizeBytes: number, mtimeMs: number): Promise<number | undefined> {
    const r = await this.sql.get(
      "SELECT time_start FROM file_peek WHERE name = ? AND size_bytes = ? AND mtime_ms = ?",
      [name, sizeBytes, Math.round(mtimeMs)],
    );
    return r ? Number(r.time_start) : undefined;
  }

  /** Remembers the first-packet time of a file. */
  async setPeekedStart(
    name: string,
    sizeBytes: number,
    mtimeMs: number,
    timeStart: number,
  ): Promise<void> {
    await this.sql.run(
      `INSERT INTO file_peek(name, size_bytes, mtime_ms, time_start) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET size_bytes = excluded.size_bytes,
       mtime_ms = excluded.mtime_ms, time_start = excluded.time_start`,
      [name, sizeBytes, Math.round(mtimeMs), timeStart],
    );
  }
}
