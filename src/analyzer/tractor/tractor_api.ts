/**
 * TrActor REST API v1 (seed "Программный интерфейс управления версии v1 системы Tractor"), served
 * at the root and again under `/v1`, plus the single page at `/`. Field names, types and units are
 * the seed's: times in unix seconds, `size` in kB, `state` new | in_progress | finished | failed,
 * errors `{"status":404,"code":404,"message":"Not found"}` (also 400, 413, 500 in that shape).
 * What we add carries its unit in its name (`size_bytes`, `duration_ms`, `start_unix_ms`; counts
 * are named by what they count: `flows`, `packets`, `bytes`, `requests`, `responses`): per-client
 * totals with their HTTP values (`/clients`), flows by client (`/flows`), a timeline, and
 * `GET /metrics` (Prometheus text; behind the same token as the rest).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import type { GeoIp } from "../../shared/geo/geoip.ts";
import type { CaptureFile, CaptureRepository } from "./capture_repository.ts";
import type { LabelGroup } from "../classify/signatures/label_config.ts";
import {
  CLIENT_SORT,
  type ClientDetails,
  type ClientSort,
  type CountItem,
  type FlowRow,
  type JobRow,
  type TractorStore,
} from "./tractor_store.ts";
import { tractorPage } from "./tractor_page.ts";
import { normalizeIp } from "../../shared/net/ip.ts";
import { requestGuard } from "./_request_guard.ts";
import { TractorMetrics } from "./tractor_metrics.ts";

/** What the API reads and drives. */
export interface TractorApiDeps {
  store: TractorStore;
  repository: CaptureRepository;
  /** Queues processing (the {@linkcode JobRunner}'s `submit`). */
  submit(file: CaptureFile, force: boolean): Promise<JobRow>;
  /** Country/city lookups (`noGeoIp()` when no database is configured). */
  geo: GeoIp;
  labelGroups: readonly LabelGroup[];
  /** First-packet time of a capture no job has read yet (unix s). */
  peekStart?(file: CaptureFile): Promise<number | undefined>;
  /** Largest accepted request body in bytes. Default 64 KiB. */
  maxBody?: number;
  /** Logs unexpected errors (500). */
  log?(line: string): void;
  /** Bearer token every request must carry (the page takes `/?token=`); default "" = none. */
  token?: string;
  /** The address served on, once listening: the `Host` it answers to. */
  listen?(): { hostname: string; port: number } | undefined;
  /** More `Host` names it answers to (`name` any port, `name:port`). */
  allowedHosts?: readonly string[];
  /** The counters `GET /metrics` renders (the runner's and the store's); default: its own. */
  metrics?: TractorMetrics;
}

/** The seed's FileStatus. */
export interface FileStatus {
  state: JobRow["state"];
  started_at?: number;
  finished_at?: number;
  job_id?: number;
  /** Ours: percent of the capture read, while in_progress. */
  progress?: number;
  /** Ours: why a job failed, or what was wrong with a capture read only in part. */
  message?: string;
}

/** The seed's File. */
export interface FileInfo {
  name: string;
  extension: string;
  time_start: number;
  time_end: number;
  status: FileStatus;
  /** kB, rounded up (the seed's). */
  size: number;
  /** Ours: the exact size. */
  size_bytes: number;
  flows_count?: number;
}

class HttpError extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404 | 413 | 415 | 421 | 500, message: string) {
    super(message);
  }
}

const notFound = () => new HttpError(404, "Not found");
const badRequest = (detail: string) => new HttpError(400, `Bad request: ${detail}`);

function errorBody(status: number, message: string) {
  return { status, code: status, message };
}

/** A size in kB as the seed's `size` (rounded up, so a non-empty file is never 0). */
function kilobytes(bytes: number): number {
  return Math.ceil(bytes / 1024);
}

/** FileStatus of a job (state `new` when there is none). */
export function fileStatus(job: JobRow | undefined): FileStatus {
  if (!job) return { state: "new" };
  const s: FileStatus = { state: job.state };
  if (job.startedAt !== null && job.state !== "new") s.started_at = job.startedAt;
  if (job.finishedAt !== null && (job.state === "finished" || job.state === "failed")) {
    s.finished_at = job.finishedAt;
  }
  s.job_id = job.id;
  if (job.state === "in_progress") {
    s.progress = job.sizeBytes > 0
      ? Math.min(99, Math.floor((job.bytesDone / job.sizeBytes) * 100))
      : 0;
  }
  if (job.error !== null && (job.state === "failed" || job.state === "finished")) {
    s.message = job.error;
  }
  return s;
}

const MAX_QUERY = 1024;

function query(c: Context, name: string): string {
  const values = c.req.queries(name);
  if (values === undefined || values.length === 0 || values[0] === "") {
    throw badRequest(`missing query parameter "${name}"`);
  }
  if (values.length > 1) throw badRequest(`query parameter "${name}" given more than once`);
  const v = values[0]!;
  if (v.length > MAX_QUERY) throw badRequest(`query parameter "${name}" is too long`);
  return v;
}

function optionalQuery(c: Context, name: string): string | undefined {
  return c.req.query(name) === undefined ? undefined : query(c, name);
}

/** One of `allowed`, or `fallback` when absent; anything else is a 400 naming the choices. */
function choice<T extends string>(
  c: Context,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = optionalQuery(c, name);
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw badRequest(`query parameter "${name}" must be one of ${allowed.join(", ")}`);
  }
  return v as T;
}

/** Count items as `[{<key>: label, <unit>: count}]`. */
function named(items: CountItem[], key: string, unit: string): Record<string, unknown>[] {
  return items.map((i) => ({ [key]: i.label, [unit]: i.count }));
}

/** A client's HTTP values as the API names them (status codes as numbers; 0 = "(other)"). */
function httpFields(d: ClientDetails["http"]) {
  return {
    user_agents: named(d.user_agent, "user_agent", "requests"),
    hosts: named(d.host, "host", "requests"),
    urls: named(d.url, "url", "requests"),
    status_codes: d.status.map((i) => ({ status: Number(i.label), responses: i.count })),
  };
}

/** A flow as `/flows` lists it. */
function flowItem(f: FlowRow) {
  return {
    flow_id: f.flowId,
    client_ip: f.clientIp,
    client_port: f.clientPort,
    server_ip: f.serverIp,
    server_port: f.serverPort,
    protocol: f.protocol,
    label: f.label,
    start_unix_ms: f.firstMs,
    end_unix_ms: f.lastMs,
    duration_ms: f.lastMs - f.firstMs,
    packets: f.packets,
    bytes: f.bytes,
    requests: f.requests,
    user_agent: f.userAgent,
    domain_name: f.domainName,
    comment: f.comment,
  };
}

function optionalInt(c: Context, name: string, fallback: number, max: number): number {
  const v = c.req.query(name);
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v) || Number(v) > max) {
    throw badRequest(`query parameter "${name}" must be an integer from 0 to ${max}`);
  }
  return Number(v);
}

/**
 * Builds the TrActor Hono app. Tested in memory with `app.request()`.
 *
 * @example
 * ```ts
 * const app = createTractorApi({ store, repository, submit, geo: noGeoIp(), labelGroups });
 * Deno.serve({ hostname: "127.0.0.1", port: 4280 }, app.fetch);
 * ```
 */
export function createTractorApi(deps: TractorApiDeps): Hono {
  const { store, repository, geo } = deps;
  const maxBody = deps.maxBody ?? 64 * 1024;
  const metrics = deps.metrics ?? new TractorMetrics();
  const app = new Hono();
  // Counted first, so refused requests are counted too; by the route that matched (as
  // registered, e.g. `/v1/file/:job_id/status`), never the raw path.
  app.use("*", async function countRequests(c, next) {
    await next();
    const route = matchedRoutes(c).findLast((r) => r.path !== "*" && r.path !== "/*")?.path;
    metrics.request(route ?? "(unmatched)", c.req.method, c.res.status);
  });
  app.use(
    "*",
    requestGuard({
      token: deps.token ?? "",
      listen: deps.listen ?? (() => undefined),
      allowedHosts: deps.allowedHosts ?? [],
      refuse: (c, status, message) => c.json(errorBody(status, message), status),
    }),
  );

  const groupLabels = (label: string): string[] => {
    const group = deps.labelGroups.find((g) => g.group_name === label);
    return group ? [...new Set([label, ...group.labels])] : [label];
  };

  const finishedJob = async (c: Context): Promise<JobRow> => {
    const job = await jobOf(c);
    if (job.state !== "finished") throw notFound();
    return job;
  };

  const jobOf = async (c: Context): Promise<JobRow> => {
    const text = c.req.param("job_id") ?? "";
    if (!/^[1-9]\d{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) throw notFound();
    const job = await store.job(Number(text));
    if (!job) throw notFound();
    return job;
  };

  const fileInfo = async (file: CaptureFile, job: JobRow | undefined): Promise<FileInfo> => {
    let start: number | undefined, end: number | undefined;
    if (job?.state === "finished" && job.timeStart !== null && job.timeEnd !== null) {
      start = job.timeStart;
      end = job.timeEnd;
    } else {
      start = await store.peekedStart(file.name, file.sizeBytes, file.mtimeMs);
      if (start === undefined && deps.peekStart) {
        start = await deps.peekStart(file);
        if (start !== undefined) {
          await store.setPeekedStart(file.name, file.sizeBytes, file.mtimeMs, start);
        }
      }
      // Until a job has read the capture its end is estimated by the file's modification time
      // (a capture is written as packets arrive), never before its start.
      start ??= 0;
      end = Math.max(start, Math.floor(file.mtimeMs / 1000));
    }
    const info: FileInfo = {
      name: file.name,
      extension: file.extension,
      time_start: start,
      time_end: end,
      status: fileStatus(job),
      size: kilobytes(file.sizeBytes),
      size_bytes: file.sizeBytes,
    };
    if (job?.state === "finished" && job.flowsCount !== null) info.flows_count = job.flowsCount;
    return info;
  };

  const jobFileInfo = async (job: JobRow): Promise<FileInfo> => {
    // Before the job has read the capture: the first-packet time /files/list peeked, if any.
    const start = job.timeStart ??
      await store.peekedStart(job.fileName, job.sizeBytes, job.mtimeMs) ?? 0;
    const info: FileInfo = {
      name: job.fileName,
      extension: job.extension,
      time_start: start,
      time_end: job.timeEnd ?? Math.max(start, Math.floor(job.mtimeMs / 1000)),
      status: fileStatus(job),
      size: kilobytes(job.sizeBytes),
      size_bytes: job.sizeBytes,
    };
    if (job.state === "finished" && job.flowsCount !== null) info.flows_count = job.flowsCount;
    return info;
  };

  const statistics = (protocols: CountItem[], clients: CountItem[]) => [
    { title: "protocols", content: protocols },
    { title: "clients", content: clients },
  ];

  const api = new Hono();

  api.get("/files/list", async (c) => {
    const files = await repository.list();
    const latest = await store.latestJobs();
    const out: FileInfo[] = [];
    for (const f of files) out.push(await fileInfo(f, latest.get(f.name)));
    return c.json(out);
  });

  api.post("/files/process", async (c) => {
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > maxBody) throw new HttpError(413, "Payload too large");
    const raw = await readBody(c.req.raw, maxBody);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw badRequest("body is not JSON");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw badRequest('body must be an object {"file_name": …}');
    }
    const { file_name: name, force } = body as { file_name?: unknown; force?: unknown };
    if (typeof name !== "string" || name === "") {
      throw badRequest('"file_name" must be a non-empty string');
    }
    if (force !== undefined && typeof force !== "boolean") {
      throw badRequest('"force" must be true or false');
    }
    const file = await repository.resolve(name);
    if (!file) throw notFound();
    return c.json(fileStatus(await deps.submit(file, force === true)));
  });

  api.get("/file/:job_id/status", async (c) => c.json(fileStatus(await jobOf(c))));

  api.get("/file/:job_id/details", async (c) => c.json(await jobFileInfo(await jobOf(c))));

  api.get("/file/:job_id/statistics", async (c) => {
    const job = await finishedJob(c);
    return c.json(
      statistics(await store.labelCounts(job.id), await store.clientCounts(job.id)),
    );
  });

  api.get("/file/:job_id/statistics/labels", async (c) => {
    const job = await finishedJob(c);
    const labels = groupLabels(query(c, "label"));
    return c.json(
      statistics(
        await store.labelCounts(job.id, labels),
        await store.clientCounts(job.id, labels),
      ),
    );
  });

  const canonicalIp = (ip: string): string => {
    // The same canonical text the flows are stored with (RFC 5952 for IPv6).
    const canonical = ip.length <= 64 ? normalizeIp(ip) : undefined;
    if (canonical === undefined) throw badRequest(`"${ip.slice(0, 64)}" is not an IP address`);
    return canonical;
  };

  const clientItem = (d: ClientDetails) => {
    const where = geo.city(d.ip);
    return {
      ip: d.ip,
      country: where.country,
      city: where.city,
      flows: d.flows,
      packets: d.packets,
      bytes: d.bytes,
      requests: d.requests,
      duration_ms: d.lastMs - d.firstMs,
      first_unix_ms: d.firstMs,
      last_unix_ms: d.lastMs,
      user_agents_distinct: d.userAgents,
      labels: named(d.labels, "label", "flows"),
      ...httpFields(d.http),
    };
  };

  api.get("/file/:job_id/clients", async (c) => {
    const job = await finishedJob(c);
    const sort = choice(c, "sort", Object.keys(CLIENT_SORT) as ClientSort[], "requests");
    const order = choice(c, "order", ["asc", "desc"], sort === "ip" ? "asc" : "desc");
    const limit = optionalInt(c, "limit", 100, 1000);
    const offset = optionalInt(c, "offset", 0, 1e9);
    const top = optionalInt(c, "top", 5, 1000);
    const { total, clients } = await store.clients(job.id, {
      sort,
      descending: order === "desc",
      limit,
      offset,
    });
    c.header("X-Total-Count", String(total));
    return c.json((await store.clientDetails(job.id, clients, top)).map(clientItem));
  });

  api.get("/file/:job_id/flows", async (c) => {
    const job = await finishedJob(c);
    const ip = optionalQuery(c, "client_ip");
    const label = optionalQuery(c, "label");
    const { total, flows } = await store.flows(job.id, {
      ...(ip !== undefined ? { clientIp: canonicalIp(ip) } : {}),
      ...(label !== undefined ? { label } : {}),
      limit: optionalInt(c, "limit", 100, 10_000),
      offset: optionalInt(c, "offset", 0, 1e9),
    });
    c.header("X-Total-Count", String(total));
    return c.json(flows.map(flowItem));
  });

  api.get("/file/:job_id/timeline", async (c) => {
    const job = await finishedJob(c);
    const rows = await store.timeline(job.id);
    return c.json({
      bucket_ms: rows[0]?.bucketMs ?? 0,
      buckets: rows.map((r) => ({
        start_unix_ms: r.startMs,
        label: r.label,
        flows: r.flows,
        bytes: r.bytes,
      })),
    });
  });

  api.get("/file/:job_id/statistics/ip", async (c) => {
    const job = await finishedJob(c);
    const ip = query(c, "ip");
    const canonical = canonicalIp(ip);
    const s = await store.ipStatistics(job.id, canonical);
    if (!s) throw notFound();
    const where = geo.city(ip);
    // Ours, when the IP started flows: its totals and every HTTP value with its count.
    const client = await store.client(job.id, canonical);
    const details = client ? (await store.clientDetails(job.id, [client], 0))[0] : undefined;
    return c.json({
      country: where.country,
      city: where.city,
      ...(s.userAgent !== null ? { user_agent: s.userAgent } : {}),
      ...(s.domainName !== null ? { domain_name: s.domainName } : {}),
      statistics: statistics(s.protocols, s.clients),
      ...(details
        ? {
          client: {
            flows: details.flows,
            packets: details.packets,
            bytes: details.bytes,
            requests: details.requests,
            duration_ms: details.lastMs - details.firstMs,
            user_agents_distinct: details.userAgents,
          },
          ...httpFields(details.http),
        }
        : {}),
    });
  });

  api.get("/file/:job_id/flows/labels", async (c) => {
    const job = await finishedJob(c);
    const labels = groupLabels(query(c, "label"));
    const limit = optionalInt(c, "limit", 10_000, 100_000);
    const offset = optionalInt(c, "offset", 0, 1e9);
    const { total, flows } = await store.flowsByLabel(job.id, labels, limit, offset);
    c.header("X-Total-Count", String(total));
    return c.json(flows.map((f) => ({
      client_ip: f.clientIp,
      client_port: f.clientPort,
      server_ip: f.serverIp,
      server_port: f.serverPort,
      time_start: f.timeStart,
      time_end: f.timeEnd,
      comment: f.comment,
    })));
  });

  api.get("/labels/list", async (c) => {
    const groups = deps.labelGroups.map((g) => ({
      group_name: g.group_name,
      labels: [...g.labels],
    }));
    // Labels that jobs produced but no group names still get listed, under "other", so every
    // label in a statistic can be chosen.
    const grouped = new Set(groups.flatMap((g) => g.labels));
    const extra = (await store.seenLabels()).filter((l) => !grouped.has(l));
    if (extra.length > 0) {
      let other = groups.find((g) => g.group_name === "other");
      if (!other) groups.push(other = { group_name: "other", labels: [] });
      other.labels.push(...extra);
    }
    return c.json(groups);
  });

  app.onError((error, c) => {
    if (error instanceof HttpError) {
      return c.json(errorBody(error.status, error.message), error.status);
    }
    deps.log?.(`tractor API: ${c.req.method} ${c.req.path}: ${error.stack ?? error.message}`);
    return c.json(errorBody(500, "Internal server error"), 500);
  });
  app.notFound((c) => c.json(errorBody(404, "Not found"), 404));

  app.get("/", (c) => c.html(tractorPage));
  app.get("/metrics", async (c) => {
    try {
      metrics.jobStates(await store.jobCounts());
    } catch (error) {
      // Counted as a store error; the rest still renders.
      deps.log?.(`tractor API: /metrics: cannot count jobs: ${(error as Error).message}`);
    }
    return c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" });
  });
  app.route("/v1", api);
  app.route("/", api);
  return app;
}

/** Reads a request body as text, refusing more than `max` bytes whatever the headers claim. */
async function readBody(request: Request, max: number): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new HttpError(413, "Payload too large");
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let o = 0;
  for (const ch of chunks) {
    all.set(ch, o);
    o += ch.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw badRequest("body is not UTF-8");
  }
}
