/**
 * The checks of `qts selftest`, one function each, in the order they run. Each exercises one part
 * of the program the way the running program does (embedded assets, Web Workers, loopback
 * sockets, SQLite, WebAssembly) and returns a line saying what it saw, or throws saying what went
 * wrong, or returns a {@linkcode Skip}.
 * @module
 */
import { join } from "node:path";
import type { FlowLabelInfo } from "../analyzer/classify/label_flows.ts";
import { labelFlows } from "../analyzer/classify/label_flows.ts";
import { builtinModels } from "../analyzer/classify/model/classify_flow.ts";
import { analyzeCapture } from "../analyzer/analyze/mod.ts";
import type { Flow } from "../analyzer/flows/flow.ts";
import { TractorStore } from "../analyzer/tractor/tractor_store.ts";
import {
  completeComponents,
  componentsFromObject,
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../shared/config/load_components.ts";
import type { DomainConfig } from "../shared/config/components.ts";
import type { Matcher } from "../shared/config/regex.ts";
import { loadSettings, type Settings } from "../shared/config/settings.ts";
import { openGeoIp } from "../shared/geo/geoip.ts";
import { lua } from "../sensor/filters/lua.ts";
import type { RequestContext } from "../sensor/filters/types.ts";
import type { Decision } from "../sensor/ingest/chain_runner.ts";
import { WorkerRunner } from "../sensor/ingest/worker_runner.ts";
import { baseRecord, setClient, setTime } from "../sensor/replay/expand_requests.ts";
import { ReplaySession } from "../sensor/replay/replay_session.ts";
import { encodeRecord } from "../sensor/wire/mod.ts";
import {
  SELFTEST_HTTP,
  SELFTEST_HTTP_PORT,
  SELFTEST_OPAQUE_PORT,
  selftestCapture,
} from "./_selftest_capture.ts";

/** A check that does not apply here (no GeoIP database configured, say), with the reason. */
export interface Skip {
  skip: string;
}

/** The parts of the program a check reaches through; tests replace one to break it on purpose. */
export interface SelftestDeps {
  /** Reads a Lua script by file name; default: the script embedded in the program. */
  readLuaScript?: (file: string) => Promise<string>;
  /** Compiles an RE2 pattern (`compileRegex`). */
  compileRegex: (pattern: string) => Matcher;
}

/** What a check gets: the dependencies, what earlier checks found, and its deadline. */
export interface CheckContext {
  deps: SelftestDeps;
  /** The `--config` file, when given. */
  settingsFile: string | undefined;
  /** Set by the `settings` check when the `--config` file loaded. */
  settings: Settings | undefined;
  /** Aborted when the check's time is up: a check stops waiting and cleans up. */
  signal: AbortSignal;
}

/** One check: a line about what it saw, or a {@linkcode Skip}; throws on failure. */
export type SelftestCheck = (ctx: CheckContext) => Promise<string | Skip>;

/** Domain of the built-in scenarios (the seed's example domain). */
const DOMAIN = 8984;
/** The black-listed address of the built-in scenarios, and one that is listed nowhere. */
const LISTED_IP = "203.0.113.66";
const OTHER_IP = "192.0.2.77";
const RULE = "tsng.selftest";
/** A domain's own components: a black list and a projection banning on its first event. */
const SCENARIO_DOMAIN = {
  fixed_lists: { lists: [{ name: "selftest", type: "black", entries: ["203.0.113.64/28"] }] },
  lm: {
    use_component_projections: false,
    projections: [{
      name: "selftest",
      events: "^fixed_",
      rule_name: RULE,
      state: "enabled",
      timeout: 600,
    }],
  },
} as const;
const EVENT = "fixed_selftest";

let defaults: DomainConfig | undefined;

/** The embedded default.conf, parsed once (the checks below build on it). */
function defaultConfig(): DomainConfig {
  defaults ??= parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf (embedded)");
  return defaults;
}

/** The embedded default.conf and default settings parse and validate. */
export function checkDefaultConfig(): Promise<string> {
  defaults = undefined;
  const config = defaultConfig();
  const settings = loadSettings("", "default settings (embedded)");
  const projections = config.lm.projections.length;
  return Promise.resolve(
    `default.conf: ${Object.keys(config).length} components, ${projections} projections; ` +
      `default settings: input ${settings.input.text}`,
  );
}

/** The `--config` settings file loads (skipped without one). */
export async function checkSettings(ctx: CheckContext): Promise<string | Skip> {
  if (ctx.settingsFile === undefined) return { skip: "no --config given" };
  let text: string;
  try {
    text = await Deno.readTextFile(ctx.settingsFile);
  } catch (error) {
    throw new Error(`cannot read ${ctx.settingsFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  ctx.settings = loadSettings(text, ctx.settingsFile);
  const geo = ctx.settings.geoip_db === "" ? "no geoip_db" : `geoip_db ${ctx.settings.geoip_db}`;
  return `${ctx.settingsFile}: valid, ${ctx.settings.workers} workers, ${geo}`;
}

/** default.lua loads into the sandbox and its rules run: one allows, one denies. */
export async function checkLua(ctx: CheckContext): Promise<string> {
  const config = defaultConfig().lua;
  const read = ctx.deps.readLuaScript;
  const filters = await lua(config, read ? { readFile: read } : {});
  try {
    const run = (method: string, url: string, ip: string, step: "allow" | "deny") => {
      const record = { ...baseRecord(), method, url };
      setClient(record, ip);
      const context: RequestContext = {
        domainId: DOMAIN,
        ip,
        now: 1_700_000_000_000,
        phase: "first",
        flags: new Map(),
        events: [],
      };
      filters[step].run(record, context);
      return context;
    };
    const probe = run("GET", "/healthz", "127.0.0.1", "allow");
    if (probe.flags.get("whitelisted") !== true) {
      throw new Error("allow_health_check did not whitelist GET /healthz from 127.0.0.1");
    }
    const scanner = run("TRACE", "/", OTHER_IP, "deny");
    if (!scanner.events.includes("lua_bad_method")) {
      throw new Error(
        `deny_bad_method did not flag TRACE (events: ${JSON.stringify(scanner.events)})`,
      );
    }
    const counters = filters.counters();
    const failures = counters.budget + counters.memory + counters.error;
    if (failures > 0) throw new Error(`functions stopped: ${JSON.stringify(counters)}`);
    const names = filters.functions().map((f) => f.name);
    return `${config.scripts.map((s) => s.file).join(", ")}: ${names.length} functions ` +
      `(${names.join(", ")}); health probe whitelisted, TRACE → lua_bad_method`;
  } finally {
    filters.allow.close?.();
  }
}

/** RE2 (WebAssembly) compiles, matches, and refuses what it must refuse. */
export function checkRe2(ctx: CheckContext): Promise<string> {
  const compile = ctx.deps.compileRegex;
  // (?i) and a nested quantifier: both run on RE2 itself, not on V8's engine.
  const cases: [string, string, boolean][] = [
    ["(?i)^/WP-(admin|login)", "/wp-login.php", true],
    ["^(a+)+$", "a".repeat(64) + "!", false],
    ["^(a+)+$", "aaaa", true],
  ];
  for (const [pattern, input, expected] of cases) {
    const got = compile(pattern).test(input);
    if (got !== expected) {
      throw new Error(`${JSON.stringify(pattern)} on ${JSON.stringify(input)} gave ${got}`);
    }
  }
  let refused = false;
  try {
    compile("(?<=x)y"); // lookbehind: not RE2
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    refused = true;
  }
  if (!refused) throw new Error('accepted "(?<=x)y", which RE2 must refuse');
  return Promise.resolve(`${cases.length} patterns matched as expected, a lookbehind refused`);
}

function scenarioConfig(): DomainConfig {
  return completeComponents(componentsFromObject(SCENARIO_DOMAIN, "selftest"), defaultConfig());
}

/** A domain's chain runs in a Web Worker and sends its decision back. */
export async function checkWorker(ctx: CheckContext): Promise<string> {
  const decisions: Decision[] = [];
  const decided = Promise.withResolvers<void>();
  const settings = loadSettings("[tsng]\ncomponents_config_dir =\nstate_dir =\n", "selftest");
  const runner = new WorkerRunner({
    workers: 1,
    settings,
    global: defaultConfig(),
    logLevel: "error",
    sinks: {
      decide: (d) => {
        decisions.push(d);
        decided.resolve();
      },
      drop: () => {},
    },
  });
  // A worker that cannot start (its module missing from a binary, say) is only logged by the
  // runner, and every wait on it would last until the time limit: catch that line instead.
  const crashed = Promise.withResolvers<never>();
  crashed.promise.catch(() => {});
  const error = console.error;
  console.error = (...args: unknown[]) => {
    const line = workerError(args[0]);
    if (line === undefined) error(...args);
    else crashed.reject(new Error(`the chain worker failed: ${line}`));
  };
  let answered = false;
  try {
    const skipped = await Promise.race([
      runner.configure(DOMAIN, scenarioConfig()),
      crashed.promise,
    ]);
    answered = true;
    if (skipped.length > 0) throw new Error(`components left out: ${skipped.join("; ")}`);
    const record = baseRecord();
    setClient(record, LISTED_IP);
    setTime(record, 1_700_000_000);
    await runner.submit(DOMAIN, record, encodeRecord(record), 1_700_000_000_000);
    runner.flush();
    await Promise.race([decided.promise, crashed.promise]);
    const d = decisions[0]!;
    if (d.ip !== LISTED_IP || !d.events.includes(EVENT)) {
      throw new Error(`unexpected decision ${JSON.stringify({ ip: d.ip, events: d.events })}`);
    }
    return `worker ${d.worker} ran ${runner.steps(DOMAIN)?.length ?? 0} steps, ` +
      `${LISTED_IP} → ${d.events.join(", ")}`;
  } finally {
    console.error = error;
    // A worker that never answered would make close() wait for ever: leave it to the exit.
    if (answered && !ctx.signal.aborted) await runner.close();
  }
}

/** The error of a `chain worker error` line the runner logs, else undefined. */
function workerError(first: unknown): string | undefined {
  if (typeof first !== "string" || !first.includes('"chain worker error"')) return undefined;
  try {
    const line = JSON.parse(first) as { msg?: unknown; error?: unknown };
    return line.msg === "chain worker error" ? String(line.error) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The built-in scenario through the real pipeline: a sensor on loopback ZeroMQ sockets, record
 * time; one black-listed client and one other, exactly one `add` expected.
 */
export async function checkReplay(ctx: CheckContext): Promise<string> {
  const session = await ReplaySession.start({
    config: {
      settings: {},
      components: {},
      files: {},
      domains: new Map([[DOMAIN, SCENARIO_DOMAIN as unknown as Record<string, unknown>]]),
    },
    drainTimeoutMs: 15_000,
  });
  const started = Date.now();
  try {
    const t0 = 1_700_000_000;
    for (let i = 0; i < 6; i++) {
      const record = baseRecord();
      setClient(record, i % 2 === 0 ? LISTED_IP : OTHER_IP);
      setTime(record, t0 + i);
      record.url = `/selftest/${i}`;
      await session.send(DOMAIN, record);
    }
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const commands = await session.drain();
    const expected = { method: "add", ip_addr: LISTED_IP, rule_name: RULE, comment: EVENT };
    const got = commands.map((c) => ({
      method: c.method,
      ip_addr: c.ip_addr,
      rule_name: c.rule_name,
      comment: c.comment,
    }));
    if (JSON.stringify(got) !== JSON.stringify([expected])) {
      throw new Error(
        `expected exactly ${JSON.stringify(expected)}, got ${JSON.stringify(got)}` +
          (session.logs.length > 0 ? `; sensor said: ${session.logs[0]!.msg}` : ""),
      );
    }
    const c = commands[0]!;
    return `${session.sent} records → 1 command: add ${c.ip_addr} ${c.rule_name} ${c.comment} ` +
      `timeout ${c.timeout} (sensor on ${session.sensor.bound.input}, ${Date.now() - started} ms)`;
  } finally {
    await session.close();
  }
}

/** The built-in capture is read and labelled: one flow by signature, one by the model. */
export async function checkClassifier(): Promise<string> {
  const flows: Flow[] = [];
  const summary = await analyzeCapture(selftestCapture(), { labeler: labelFlows() }, (flow) => {
    flows.push(flow);
  });
  if (summary.error !== undefined) throw summary.error;
  const info = (f: Flow) => f.annotations?.labels as FlowLabelInfo | undefined;
  const byPort = (port: number) => flows.find((f) => f.srcPort === port || f.dstPort === port);
  const http = byPort(SELFTEST_HTTP_PORT);
  const opaque = byPort(SELFTEST_OPAQUE_PORT);
  if (flows.length !== 2 || http === undefined || opaque === undefined) {
    throw new Error(`expected 2 flows from ${summary.packets} packets, got ${flows.length}`);
  }
  const h = info(http);
  if (h?.source !== "signature" || h.protocol !== "http" || h.domain !== SELFTEST_HTTP.host) {
    throw new Error(`the HTTP flow was labelled ${JSON.stringify(h)}`);
  }
  const o = info(opaque);
  const classes = new Set(builtinModels().models.flatMap((m) => [...m.classes]));
  // The model may name a class or, when its calibrated confidence is low, say "unknown"; either
  // way it must have been asked and have a top class.
  if (
    o?.source !== "classifier" || !classes.has(o.guess ?? "") ||
    !(classes.has(o.label) || o.label === "unknown") || !(o.confidence > 0)
  ) {
    throw new Error(`the unknown flow was labelled ${JSON.stringify(o)}`);
  }
  const why = o.unknownReason === undefined ? "" : `, ${o.unknownReason}; best guess ${o.guess}`;
  return `${summary.packets} packets, 2 flows: "${http.label}" by signature (${h.domain}), ` +
    `"${o.label}" by the model (p=${o.confidence.toFixed(2)}${why})`;
}

/** The TrActor SQLite store opens in a temporary directory and keeps a job with its flows. */
export async function checkTractorStore(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qts-selftest-" });
  try {
    const path = join(dir, "tractor.sqlite");
    let store = await TractorStore.open(path);
    try {
      const now = Math.floor(Date.now() / 1000);
      const job = await store.createJob(
        { name: "selftest.pcap", extension: "pcap", sizeBytes: 1, mtimeMs: Date.now() },
        now,
      );
      const { claim } = await store.claimJob("selftest", now, { leaseSeconds: 60, maxAttempts: 1 });
      if (claim?.jobId !== job.id) throw new Error(`job ${job.id} was not claimed`);
      await store.writeFlows(claim, [{
        flowId: 1,
        clientIp: OTHER_IP,
        clientPort: SELFTEST_HTTP_PORT,
        serverIp: LISTED_IP,
        serverPort: 80,
        protocol: "TCP",
        timeStart: now,
        timeEnd: now,
        firstMs: now * 1000,
        lastMs: now * 1000,
        packets: 7,
        bytes: 500,
        label: "http",
        comment: "",
        userAgent: SELFTEST_HTTP.userAgent,
        domainName: SELFTEST_HTTP.host,
        requests: 1,
        http: [{ kind: "user_agent", value: SELFTEST_HTTP.userAgent, count: 1 }],
      }], 1);
      await store.finishJob(claim, { firstUs: now * 1e6, lastUs: now * 1e6 }, now);
      await store.close();
      // Reopened, as the server and the job workers each open their own connection.
      store = await TractorStore.open(path);
      const counts = await store.labelCounts(job.id);
      const state = (await store.job(job.id))?.state;
      if (state !== "finished" || counts.length !== 1 || counts[0]?.count !== 1) {
        throw new Error(`job ${job.id} read back as ${state}, ${JSON.stringify(counts)}`);
      }
      return `created, wrote and reread job ${job.id} (${state}, 1 flow) in a temporary directory`;
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The GeoIP database of the `--config` settings opens and answers (skipped without one). */
export async function checkGeoIp(ctx: CheckContext): Promise<string | Skip> {
  if (ctx.settingsFile === undefined) return { skip: "no --config given" };
  if (ctx.settings === undefined) return { skip: "the settings did not load" };
  const path = ctx.settings.geoip_db;
  if (path === "") return { skip: `no geoip_db in ${ctx.settingsFile}` };
  const geo = await openGeoIp(path);
  try {
    const probes = ["8.8.8.8", "2001:4860:4860::8888", "198.51.100.7"];
    const answers = probes.map((ip) => `${ip} → ${JSON.stringify(geo.country(ip))}`);
    return `${path}: ${answers.join(", ")}`;
  } finally {
    geo.close();
  }
}
