import type { SqlRow } from "./sql_driver.ts";

/** One result row (either engine). */
export type Row = SqlRow;

/** Job states, as the seed names them. */
export type JobState = "new" | "in_progress" | "finished" | "failed";

/** One job row. Times are unix seconds. */
export interface JobRow {
  id: number;
  fileName: string;
  extension: string;
  sizeBytes: number;
  mtimeMs: number;
  state: JobState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  attempts: number;
  bytesDone: number;
  timeStart: number | null;
  timeEnd: number | null;
  flowsCount: number | null;
  error: string | null;
  /** Who runs (or last ran) it: `host:pid`; null before its first start. */
  claimedBy: string | null;
  /** When that claim was made, and until when it holds unless renewed (unix s). */
  claimedAt: number | null;
  leaseUntil: number | null;
}

/** One flow as stored (the seed's DetailsLabelItem plus what aggregates need). */
export interface FlowRow {
  flowId: number;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  protocol: string;
  /** Unix seconds (first packet floored, last packet floored). */
  timeStart: number;
  timeEnd: number;
  /** First and last packet, unix ms. */
  firstMs: number;
  lastMs: number;
  packets: number;
  bytes: number;
  label: string;
  comment: string;
  userAgent: string | null;
  domainName: string | null;
  /** HTTP requests the flow carried (0 for other protocols). */
  requests: number;
  /** Its HTTP values with their request (status: response) counts. */
  http: readonly HttpCount[];
}

/** What an HTTP value counts: requests per User-Agent, Host and URL, responses per status. */
export type HttpKind = "user_agent" | "host" | "url" | "status";

/** One HTTP value of a flow or client and how many requests (responses) carried it. */
export interface HttpCount {
  kind: HttpKind;
  value: string;
  count: number;
}

/** One client IP of a job: its flows' totals (as the flows' initiator). */
export interface ClientRow {
  ip: string;
  flows: number;
  packets: number;
  bytes: number;
  requests: number;
  /** First and last packet of its flows, unix ms. */
  firstMs: number;
  lastMs: number;
  /** Distinct User-Agents its requests carried. */
  userAgents: number;
}

/** A client with its labels and HTTP values (each kind by count desc, then value). */
export interface ClientDetails extends ClientRow {
  labels: CountItem[];
  http: Record<HttpKind, CountItem[]>;
}

/** Flows and bytes of one label in one time bucket (flows counted in their start's bucket). */
export interface TimelineRow {
  startMs: number;
  bucketMs: number;
  label: string;
  flows: number;
  bytes: number;
}

/** A `{label, count}` item of a statistic. */
export interface CountItem {
  label: string;
  count: number;
}

/** What a worker reports at the end of a capture. */
export interface JobSummary {
  /** First and last packet time in µs, -1 when the capture had no packets. */
  firstUs: number;
  lastUs: number;
  /** Set when the capture was truncated or corrupt; the flows before the damage are kept. */
  warning?: string;
}

/** A job row from its columns. */
export function jobRow(r: Row): JobRow {
  return {
    id: Number(r.id),
    fileName: String(r.file_name),
    extension: String(r.extension),
    sizeBytes: Number(r.size_bytes),
    mtimeMs: Number(r.mtime_ms),
    state: String(r.state) as JobState,
    createdAt: Number(r.created_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    attempts: Number(r.attempts),
    bytesDone: Number(r.bytes_done),
    timeStart: r.time_start === null ? null : Number(r.time_start),
    timeEnd: r.time_end === null ? null : Number(r.time_end),
    flowsCount: r.flows_count === null ? null : Number(r.flows_count),
    error: r.error === null ? null : String(r.error),
    claimedBy: r.claimed_by === null || r.claimed_by === undefined ? null : String(r.claimed_by),
    claimedAt: r.claimed_at === null || r.claimed_at === undefined ? null : Number(r.claimed_at),
    leaseUntil: r.lease_until === null || r.lease_until === undefined
      ? null
      : Number(r.lease_until),
  };
}

/** A flow row from its columns (HTTP values are not read back: see the client aggregates). */
export function flowRow(r: Row): FlowRow {
  return {
    flowId: Number(r.flow_id),
    clientIp: String(r.client_ip),
    clientPort: Number(r.client_port),
    serverIp: String(r.server_ip),
    serverPort: Number(r.server_port),
    protocol: String(r.protocol),
    timeStart: Number(r.time_start),
    timeEnd: Number(r.time_end),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    packets: Number(r.packets),
    bytes: Number(r.bytes),
    label: String(r.label),
    comment: String(r.comment),
    userAgent: r.user_agent === null ? null : String(r.user_agent),
    domainName: r.domain_name === null ? null : String(r.domain_name),
    requests: Number(r.requests),
    http: [],
  };
}

/** A client row from its `client_totals` columns. */
export function clientRow(r: Row): ClientRow {
  return {
    ip: String(r.ip),
    flows: Number(r.flows),
    packets: Number(r.packets),
    bytes: Number(r.bytes),
    requests: Number(r.requests),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    userAgents: Number(r.user_agents),
  };
}

/** Count rows (`label`, `count`) as items. */
export function counts(rows: Row[]): CountItem[] {
  return rows.map((r) => ({ label: String(r.label), count: Number(r.count) }));
}
