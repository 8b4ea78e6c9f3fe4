/**
 * The real sensor objects behind the REST API, in memory: settings in a temp directory,
 * ConfigStore, Pipeline with the built-in filter builders, ListManager on a manual clock whose
 * commands are collected, and the Hono app. Tests drive it with `app.request()`.
 * @module
 */
import { join } from "node:path";
import type { Hono } from "hono";
import { createApi } from "../../../src/sensor/api/create_api.ts";
import { ConfigActions } from "../../../src/sensor/api/config_actions.ts";
import { ConfigStore } from "../../../src/shared/config/config_store.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import type { FilterEnv } from "../../../src/sensor/ingest/chain_builders.ts";
import { HttpStats, renderPrometheus } from "../../../src/sensor/filters/statstore_http_stats.ts";
import type { ChainRunner } from "../../../src/sensor/ingest/chain_runner.ts";
import { LocalRunner } from "../../../src/sensor/ingest/local_runner.ts";
import { Pipeline } from "../../../src/sensor/ingest/pipeline.ts";
import { type BanCommand, ListManager } from "../../../src/sensor/lm/mod.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import { parseIPv4 } from "../../../src/shared/net/ip.ts";
import { emptyRecord, type HttpRecord } from "../../../src/sensor/wire/mod.ts";

/** The domain every fixture configures from a file. */
export const DOMAIN = 8984;
/** Start of test time (ms). */
export const T0 = 1_700_000_000_000;

/**
 * A domain object with two fixed black lists, a white list and one enabled projection per black
 * list (`bad` → tsng.fixed, `scan` → tsng.scan). Filters with outside dependencies are off.
 */
export function domainObject(scanState: "enabled" | "disabled" = "enabled") {
  return {
    fixed_lists: {
      lists: [
        { name: "bad", type: "black", entries: ["198.51.100.0/24"] },
        { name: "good", type: "white", entries: ["198.51.100.7"] },
        { name: "scan", type: "black", entries: ["203.0.113.0/24"] },
      ],
    },
    limit_req_mc: { enabled: false },
    lua: { enabled: false },
    many_uas: { max_uas: 3, skip_if: ["whitelisted"], min_new_share: 0 },
    lm: {
      use_component_projections: false,
      projections: [
        {
          name: "bad",
          events: "^fixed_bad$",
          rule_name: "tsng.fixed",
          state: "enabled",
          timeout: 86400,
          skip_if: ["whitelisted"],
        },
        {
          name: "scan",
          events: "^fixed_scan$",
          rule_name: "tsng.scan",
          state: scanState,
          timeout: 3600,
        },
        {
          name: "uas",
          events: "^many_uas$",
          rule_name: "tsng.many_uas",
          state: "enabled",
          timeout: 600,
        },
      ],
    },
  };
}

/** A clock tests move by hand. */
export class ManualClock {
  t = T0;
  now(): number {
    return this.t;
  }
}

/** Options of {@linkcode apiFixture}. */
export interface ApiFixtureOptions {
  /** Extra `[tsng]` INI lines. */
  ini?: string;
  /** Domain files written to the first filters dir before loading; default `{8984: domainObject()}`. */
  domains?: Record<number, unknown>;
  /** Global component files (name → text) in components_config_dir. */
  components?: Record<string, string>;
  token?: string;
  /** Wraps the chain runner (e.g. to hold a reconfiguration). */
  runner?: (runner: ChainRunner) => ChainRunner;
}

/** A response as tests look at it. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** The wired objects and helpers. */
export interface ApiFixture {
  dir: string;
  filtersDir: string;
  moreDir: string;
  componentsDir: string;
  store: ConfigStore;
  pipeline: Pipeline;
  lm: ListManager;
  metrics: Metrics;
  clock: ManualClock;
  actions: ConfigActions;
  app: Hono;
  /** Every command the list manager emitted, in order. */
  sent: BanCommand[];
  /** `method rule ip` of each command since index `from`. */
  commands(from?: number): string[];
  /** Calls the app and parses its JSON answer; a body goes as `application/json` unless `headers` say otherwise. */
  call(method: string, path: string, body?: unknown, headers?: HeadersInit): Promise<Answer>;
  /** A GET request record from `ip` (its UA varies with `ua`). */
  record(ip: string, over?: Partial<HttpRecord>): HttpRecord;
  /** Runs one record through the pipeline, one ms after the previous. */
  feed(ip: string, over?: Partial<HttpRecord>, domain?: number): Promise<void>;
  close(): Promise<void>;
}

/** Builds the fixture; see the module doc. */
export async function apiFixture(options: ApiFixtureOptions = {}): Promise<ApiFixture> {
  const dir = await Deno.makeTempDir({ prefix: "qts-api-" });
  const filtersDir = join(dir, "filters");
  const moreDir = join(dir, "more");
  const componentsDir = join(dir, "components");
  await Deno.mkdir(filtersDir);
  await Deno.mkdir(componentsDir);
  for (const [id, object] of Object.entries(options.domains ?? { [DOMAIN]: domainObject() })) {
    await Deno.writeTextFile(join(filtersDir, `${id}.json`), JSON.stringify(object));
  }
  for (const [name, text] of Object.entries(options.components ?? {})) {
    await Deno.writeTextFile(join(componentsDir, name), text);
  }
  const settings = loadSettings(
    `[tsng]\nforce_domains = ${DOMAIN}, 8985\nfilters_config_dir = ${filtersDir}, ${moreDir}\n` +
      `components_config_dir = ${componentsDir}\nstate_dir =\n` +
      `api_token = ${options.token ?? ""}\n${options.ini ?? ""}`,
    "test.ini",
  );
  const store = new ConfigStore(settings);
  await store.load();
  const clock = new ManualClock();
  const sent: BanCommand[] = [];
  const lm = new ListManager({ emit: (cmd) => sent.push(cmd), hostname: "test", clock });
  const metrics = new Metrics();
  const env: FilterEnv = {
    settings,
    global: () => store.global,
    log: silentLogger,
    stats: new HttpStats(),
  };
  const local = new LocalRunner(env, {
    decide: (decision) => pipeline.decide(decision),
    drop: (reason, domainId) => pipeline.dropped(reason, domainId),
  });
  const pipeline: Pipeline = new Pipeline({
    store,
    lm,
    metrics,
    log: silentLogger,
    clock,
    runner: options.runner ? options.runner(local) : local,
    env,
  });
  await pipeline.start();
  // As the Sensor does: the statstore counters and the filters' own counters in /metrics.
  metrics.append(() => renderPrometheus(local.stats()));
  const actions = new ConfigActions({ store, pipeline, metrics, log: silentLogger });
  const app = createApi({
    store,
    pipeline,
    lm,
    metrics,
    log: silentLogger,
    token: options.token ?? "",
    uptime: () => 42,
    actions,
  });
  const record = (ip: string, over: Partial<HttpRecord> = {}): HttpRecord => ({
    ...emptyRecord(),
    timestamp: Math.floor(clock.t / 1000),
    remote_ip: parseIPv4(ip) ?? 0,
    ...(parseIPv4(ip) === undefined ? { remote_addr: ip } : {}),
    method: "GET",
    url: "/",
    host: "example.com",
    http_user_agent: "Mozilla/5.0",
    ...over,
  });
  return {
    dir,
    filtersDir,
    moreDir,
    componentsDir,
    store,
    pipeline,
    lm,
    metrics,
    clock,
    actions,
    app,
    sent,
    commands: (from = 0) => sent.slice(from).map((c) => `${c.method} ${c.rule_name} ${c.ip_addr}`),
    async call(method, path, body, headers) {
      const init: RequestInit = { method };
      const sent = new Headers(headers);
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        // As a client of the API sends a body; a test that means otherwise says so.
        if (!sent.has("content-type")) sent.set("content-type", "application/json");
      }
      init.headers = sent;
      const response = await app.request(path, init);
      const text = await response.text();
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { text };
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    record,
    async feed(ip, over = {}, domain = DOMAIN) {
      clock.t += 1;
      await pipeline.handleRecord(domain, record(ip, over));
    },
    async close() {
      await pipeline.close();
      await lm.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
