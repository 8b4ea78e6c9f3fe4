/**
 * Wires TrActor together: the store (SQLite in `stateDir`, or a shared PostgreSQL), the capture
 * repository, GeoIP, label groups, the job runner and the Hono app, optionally listening on a
 * socket. `qts tractor` and the tests start it the same way.
 */
import { join } from "node:path";
import type { Hono } from "hono";
import { type GeoIp, noGeoIp, openGeoIp } from "../../shared/geo/geoip.ts";
import { CaptureRepository } from "./capture_repository.ts";
import { JobRunner } from "./job_runner.ts";
import { loadLabelConfig } from "./flow_labeler.ts";
import { peekFirstPacket } from "./_peek_first_packet.ts";
import { createTractorApi } from "./tractor_api.ts";
import { isLoopback } from "../../shared/config/settings.ts";
import { TractorStore } from "./tractor_store.ts";
import { TractorMetrics } from "./tractor_metrics.ts";
import { isPostgresUrl, redactUrl } from "./sql_driver.ts";

/** Options of {@linkcode startTractor}. */
export interface StartTractorOptions {
  /**
   * The capture repository. With a shared store every host must see the same files under the
   * same names (one shared directory, e.g. NFS): a job queued on one host runs on any.
   */
  capturesDir: string;
  /** State directory: the SQLite database and its lock. Needed unless `store` is PostgreSQL. */
  stateDir?: string;
  /**
   * `postgres://user[:password]@host:port/db`: jobs and results in PostgreSQL, shared by every
   * TrActor given the same URL (and the same captures). Omitted: SQLite in `stateDir`.
   */
  store?: string;
  /** Claim lease (s) and queue polling (ms) of a shared store; see {@linkcode JobRunner}. */
  leaseSeconds?: number;
  pollMs?: number;
  /** This process in `claimed_by` (default `<hostname>:<pid>`). */
  claimant?: string;
  /** Socket to serve on; omitted = no socket (use `app.request()`). Port 0 picks a free one. */
  listen?: { hostname: string; port: number };
  /** MaxMind-format city (or country) database for `statistics/ip`. */
  geoipPath?: string;
  /** Labels file (YAML, the shape of config/labels.yaml); default: the embedded one. */
  labelsPath?: string;
  workers?: number;
  flowTimeoutSeconds?: number;
  log?: (line: string) => void;
  /** Bearer token of the API; "" or omitted = none (refused off loopback). */
  token?: string;
  /** More `Host` names the API answers to besides the listen address (reverse proxy). */
  allowedHosts?: readonly string[];
}

/** A running TrActor. */
export interface Tractor {
  app: Hono;
  store: TractorStore;
  runner: JobRunner;
  /** What `GET /metrics` renders. */
  metrics: TractorMetrics;
  /** Base URL when listening, e.g. `http://127.0.0.1:4280/`. */
  url: string | undefined;
  /** Stops serving and the workers (a running job resumes at the next start). */
  close(): Promise<void>;
}

/** Database file name inside the state directory. */
export const DATABASE_FILE = "tractor.sqlite";

/** Mode of the state directory and of the files in it: results are the owner's alone. */
const STATE_DIR_MODE = 0o700;
const STATE_FILE_MODE = 0o600;

/** Sets `path`'s mode (a file made 0644 by an older version is closed to others). */
async function ownerOnly(path: string, mode: number): Promise<void> {
  if (Deno.build.os === "windows") return;
  await Deno.chmod(path, mode);
}

/**
 * Creates the database file (and its WAL companions, which SQLite makes with the database's
 * mode) owner-only before SQLite opens it, so they are never readable by others.
 */
async function prepareDatabase(path: string): Promise<void> {
  const file = await Deno.open(path, { create: true, write: true, mode: STATE_FILE_MODE });
  file.close();
  for (const suffix of ["", "-wal", "-shm"]) {
    await ownerOnly(path + suffix, STATE_FILE_MODE).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/**
 * Holds an exclusive lock on `<state>/tractor.lock` for the life of the process: a second TrActor
 * on the same state would otherwise take the first one's running jobs for interrupted ones.
 */
async function lockStateDir(stateDir: string): Promise<Deno.FsFile> {
  const path = join(stateDir, "tractor.lock");
  const file = await Deno.open(path, { create: true, write: true, mode: STATE_FILE_MODE });
  await ownerOnly(path, STATE_FILE_MODE);
  // Deno has no try-lock: wait briefly for the lock, then give up with a clear message.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const locked = await Promise.race([
    file.lock(true).then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 2000)),
  ]);
  clearTimeout(timer);
  if (!locked) {
    throw new Error(
      `Cannot use state directory "${stateDir}": another qts tractor is using it (tractor.lock)`,
    );
  }
  return file;
}

/** Starts TrActor; rejects with a message naming the path when a directory or file is unusable. */
export async function startTractor(options: StartTractorOptions): Promise<Tractor> {
  if (options.listen && !isLoopback(options.listen.hostname) && !options.token) {
    throw new Error(
      `A token is required to listen on ${options.listen.hostname}, which is not a loopback ` +
        "address (--token-file, or $QTS_TRACTOR_TOKEN)",
    );
  }
  if (options.store !== undefined && !isPostgresUrl(options.store)) {
    throw new RangeError(
      `Invalid store "${redactUrl(options.store)}": expected postgres://user@host:port/db ` +
        "(SQLite, the default, lives in the state directory)",
    );
  }
  if (options.store === undefined && options.stateDir === undefined) {
    throw new RangeError("A state directory is required for the SQLite store");
  }
  const info = await Deno.stat(options.capturesDir).catch((cause) => {
    throw new Error(`Cannot use captures directory "${options.capturesDir}": ${cause.message}`, {
      cause,
    });
  });
  if (!info.isDirectory) {
    throw new Error(`Cannot use captures directory "${options.capturesDir}": not a directory`);
  }
  let lock: Deno.FsFile | undefined;
  if (options.stateDir !== undefined && options.store === undefined) {
    await Deno.mkdir(options.stateDir, { recursive: true, mode: STATE_DIR_MODE });
    lock = await lockStateDir(options.stateDir);
  }
  try {
    return await startOn(options, lock);
  } catch (error) {
    lock?.close();
    throw error;
  }
}

async function startOn(
  options: StartTractorOptions,
  lock: Deno.FsFile | undefined,
): Promise<Tractor> {
  const log = options.log ?? (() => {});
  let labels: { text: string; source: string } | undefined;
  if (options.labelsPath !== undefined) {
    const text = await Deno.readTextFile(options.labelsPath).catch((cause) => {
      throw new Error(`Cannot read labels "${options.labelsPath}": ${cause.message}`, { cause });
    });
    labels = { text, source: options.labelsPath };
  }
  // Parsed here as well as in the workers, so a bad file stops the start with its message.
  const labelGroups = loadLabelConfig(labels).groups;
  const geo: GeoIp = options.geoipPath === undefined
    ? noGeoIp()
    : await openGeoIp(options.geoipPath);
  let location = options.store;
  if (location === undefined) {
    location = join(options.stateDir!, DATABASE_FILE);
    await prepareDatabase(location);
  }
  const metrics = new TractorMetrics();
  const store = await TractorStore.open(location, {
    connections: 8,
    onError: (operation, kind) => metrics.storeError(operation, kind),
  }).catch((error) => {
    geo.close();
    throw error;
  });
  const repository = new CaptureRepository(options.capturesDir);
  const runner = new JobRunner({
    store,
    repository,
    log,
    metrics,
    ...(labels ? { labels } : {}),
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.flowTimeoutSeconds !== undefined
      ? { flowTimeoutSeconds: options.flowTimeoutSeconds }
      : {}),
    ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.claimant !== undefined ? { claimant: options.claimant } : {}),
  });
  let bound: { hostname: string; port: number } | undefined;
  const app = createTractorApi({
    store,
    repository,
    geo,
    labelGroups,
    submit: (file, force) => runner.submit(file, force),
    peekStart: (file) => peekFirstPacket(file.path),
    log,
    token: options.token ?? "",
    listen: () => bound,
    allowedHosts: options.allowedHosts ?? [],
    metrics,
  });
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let url: string | undefined;
  try {
    await runner.start();
    if (options.listen) {
      const listening = Promise.withResolvers<Deno.NetAddr>();
      server = Deno.serve({
        hostname: options.listen.hostname,
        port: options.listen.port,
        onListen: (addr) => listening.resolve(addr),
      }, app.fetch);
      const addr = await listening.promise;
      // The configured name (`localhost`), with the port the socket got (port 0 picks one).
      bound = { hostname: options.listen.hostname, port: addr.port };
      const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
      url = `http://${host}:${addr.port}/`;
    }
  } catch (error) {
    await runner.close();
    geo.close();
    await store.close();
    throw error;
  }
  log(`store: ${store.where}${store.shared ? ` (shared; claims as ${runner.claimant})` : ""}`);
  return {
    app,
    store,
    runner,
    metrics,
    url,
    async close() {
      await runner.close();
      await server?.shutdown();
      geo.close();
      await store.close();
      lock?.close();
    },
  };
}
