/**
 * A TrActor over a temporary capture repository and state directory, for the API tests; on
 * SQLite by default, or on a fresh database of a throwaway PostgreSQL cluster after
 * `useStore("postgres")` (one cluster per test module, stopped when the module unloads), so one
 * API suite runs against both stores.
 */
import { join } from "node:path";
import { startTractor, type Tractor } from "../../../src/analyzer/tractor/start_tractor.ts";
import { type PostgresCluster, startPostgres } from "../../_support/postgres_cluster.ts";

let storeKind: "sqlite" | "postgres" = "sqlite";
let cluster: Promise<PostgresCluster> | undefined;
let databases = 0;

/** Makes every later {@linkcode tractorFixture} of this test module use this store. */
export function useStore(kind: "sqlite" | "postgres"): void {
  storeKind = kind;
}

/** The store fixtures use in this test module. */
export function fixtureStore(): "sqlite" | "postgres" {
  return storeKind;
}

/** A new empty database in this module's PostgreSQL cluster (started on first use). */
export async function freshPostgresDatabase(): Promise<string> {
  cluster ??= startPostgres().then((c) => {
    globalThis.addEventListener("unload", () => c.stopSync());
    return c;
  });
  return await (await cluster).createDatabase(`tractor_${++databases}`);
}

export const FIXTURES = new URL("../../fixtures/", import.meta.url);
export const CLIENTS_PCAP = new URL("tractor/clients.pcap", FIXTURES);
export const LOOPBACK_PCAP = new URL("captures/loopback-sll2.pcap", FIXTURES);
export const LOOPBACK_PCAPNG = new URL("captures/loopback-sll2.pcapng", FIXTURES);
/** Real curl → nginx HTTP from four clients (scripts/make-http-clients-capture.sh). */
export const HTTP_CLIENTS_PCAP = new URL("captures/http-clients.pcap.gz", FIXTURES);
/** Its client addresses, by what each does. */
export const HTTP_CLIENTS = {
  crawler: "127.78.0.2", // 200 requests on one keep-alive connection
  browser: "127.78.0.3", // 4 connections, one request each, one 404
  rotator: "127.78.0.4", // 30 connections, 10 User-Agents × 3
  legacy: "127.78.0.5", // 3 requests on one connection: 301, 200, 405
} as const;
export const CITY_DB = new URL("geo/test-city.mmdb", FIXTURES).pathname;

export interface TractorFixture {
  tractor: Tractor;
  root: string;
  captures: string;
  state: string;
  /** Calls the app in memory; returns status, parsed JSON body and headers. */
  call(
    path: string,
    init?: RequestInit,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

/** Starts TrActor over a fresh temp dir holding copies of the committed captures. */
export async function tractorFixture(
  options: { listen?: boolean; copies?: Record<string, URL>; labelsYaml?: string } = {},
): Promise<TractorFixture> {
  const root = await Deno.makeTempDir({ prefix: "qts-tractor-" });
  const captures = join(root, "captures");
  const state = join(root, "state");
  await Deno.mkdir(captures);
  const copies = options.copies ??
    { "clients.pcap": CLIENTS_PCAP, "loopback.pcapng": LOOPBACK_PCAPNG };
  for (const [name, url] of Object.entries(copies)) {
    await Deno.copyFile(url, join(captures, name));
  }
  let labelsPath: string | undefined;
  if (options.labelsYaml !== undefined) {
    labelsPath = join(root, "labels.yaml");
    await Deno.writeTextFile(labelsPath, options.labelsYaml);
  }
  let tractor: Tractor;
  try {
    const store = storeKind === "postgres" ? await freshPostgresDatabase() : undefined;
    tractor = await startTractor({
      ...(store !== undefined ? { store, pollMs: 100 } : {}),
      ...(labelsPath !== undefined ? { labelsPath } : {}),
      capturesDir: captures,
      stateDir: state,
      geoipPath: CITY_DB,
      ...(options.listen ? { listen: { hostname: "127.0.0.1", port: 0 } } : {}),
    });
  } catch (error) {
    await Deno.remove(root, { recursive: true });
    throw error;
  }
  return {
    tractor,
    root,
    captures,
    state,
    async call(path, init) {
      const res = await tractor.app.request(path, init);
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text (the page)
      }
      return { status: res.status, body, headers: res.headers };
    },
    async close() {
      await tractor.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** POSTs `/files/process` for `name` and waits for the job to end; returns the job id. */
export async function processFile(fx: TractorFixture, name: string): Promise<number> {
  const { status, body } = await fx.call("/files/process", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ file_name: name }),
  });
  if (status !== 200) {
    throw new Error(`POST /files/process ${name}: ${status} ${JSON.stringify(body)}`);
  }
  const id = (body as { job_id: number }).job_id;
  await withTimeout(fx.tractor.runner.waitFor(id), 60_000, `job ${id} for ${name}`);
  return id;
}

/** Rejects when `promise` has not settled within `ms` (a bound, not a synchronisation). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
