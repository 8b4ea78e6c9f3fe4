import type { DomainConfig } from "../shared/config/components.ts";
import { ConfigStore } from "../shared/config/config_store.ts";
import {
  formatProblem,
  loadSettings,
  parseEndpoint,
  type Settings,
  SettingsError,
} from "../shared/config/settings.ts";
import { createLogger, type Logger } from "../shared/log/logger.ts";
import { parseUdpEndpoint } from "../sensor/syslog/syslog_input.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";
import { netAllowed } from "../shared/net/net_allowed.ts";
import { netRefusalHint } from "../shared/build_info.ts";
import { parseProxySettings } from "../sensor/proxy/proxy_settings.ts";
import { proxyEndpoints } from "./_proxy_endpoints.ts";

const HELP = `Usage: qts serve [--config <settings.ini>]

Runs the sensor: reads request records from ZeroMQ ([tsng] input), runs the filter chain,
publishes ban commands ([tsng:qpc] outbound) and serves the REST API. Without --config, the
embedded defaults serve everything on loopback.

Network access: --allow-net must name every listener and peer of the configuration (input,
outbound, telemetry outbound, API, syslog_input, memcached servers); "deno task start" computes
that list. A missing one stops the start with one error naming it (exit 2).

  -c, --config <file>   main settings (INI); see config/qts.ini
  --clock record        take event time from the records (msec/timestamp) instead of the wall
                        clock: for replaying recorded traffic and for tests
  -h, --help            this text
`;

/** A `host:port` that `qts serve` binds or connects to, and the setting that names it. */
export interface NetEndpoint {
  /** As --allow-net spells it: `127.0.0.1:4100`, `[::1]:4180`, `0.0.0.0:4100` for `tcp://*:4100`. */
  host: string;
  /** Where the configuration names it: `[tsng] input`, `limit_req_mc.servers (domain 8984)`. */
  setting: string;
}

/** `host:port` as --allow-net and Deno's permission messages spell it (IPv6 in brackets). */
function netHost(hostname: string, port: number): string {
  const host = hostname === "*" ? "0.0.0.0" : hostname.replace(/^\[(.*)\]$/, "$1");
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Every listener and peer a sensor with these settings binds or connects to, each once, in a
 * fixed order: input, outbound, telemetry outbound, API, syslog_input, then the memcached
 * servers of `limit_req_mc` and `response_status` (backend memcached) in the global components
 * and in each domain file. `deno task start` grants exactly these (scripts/start.ts) and
 * `qts serve` checks them before it binds anything. Reads the component and domain files.
 */
export async function serveEndpoints(settings: Settings): Promise<NetEndpoint[]> {
  const out: NetEndpoint[] = [];
  const add = (host: string, setting: string) => {
    if (!out.some((e) => e.host === host)) out.push({ host, setting });
  };
  add(netHost(settings.input.host, settings.input.port), "[tsng] input");
  add(netHost(settings.qpc_outbound.host, settings.qpc_outbound.port), "[tsng:qpc] outbound");
  if (settings.telemetry_outbound !== "") {
    const { host, port } = parseEndpoint(settings.telemetry_outbound);
    add(netHost(host, port), "[tsng:telemetry] outbound");
  }
  add(
    netHost(settings.api_server_host, settings.api_server_port),
    "[tsng] api_server_host, api_server_port",
  );
  if (settings.syslog_input !== "") {
    const { host, port } = parseUdpEndpoint(settings.syslog_input);
    add(netHost(host, port), "[tsng] syslog_input");
  }
  const proxy = parseProxySettings(settings, "settings").settings;
  if (proxy?.enabled) {
    for (const e of proxyEndpoints(proxy)) add(e.host, e.setting);
  }
  const store = new ConfigStore(settings);
  await store.load();
  const layers: [string, DomainConfig][] = [
    ["components", store.global],
    ...store.domains().map((
      id,
    ): [string, DomainConfig] => [`domain ${id}`, store.domainConfig(id)]),
  ];
  for (const [where, config] of layers) {
    for (const component of ["limit_req_mc", "response_status"] as const) {
      const { backend, servers } = config[component];
      if (backend !== "memcached") continue;
      for (const server of servers) add(server, `${component}.servers (${where})`);
    }
  }
  return out;
}

/**
 * The one line for endpoints Deno refuses: what, where configured, and the flag to add (under
 * `deno run`) or the rebuild that grants it (a compiled binary's permissions are fixed).
 */
function logDenied(log: Logger, denied: NetEndpoint[]): void {
  const hosts = denied.map((e) => e.host).join(",");
  const named = denied.map((e) => `${e.host} (${e.setting})`).join(", ");
  log.log(
    "error",
    `network access to ${named} is not allowed: ${netRefusalHint(denied.map((e) => e.host))}`,
    {
      endpoint: denied[0]!.host,
      setting: denied[0]!.setting,
      ...(denied.length > 1 ? { endpoints: denied.map((e) => e.host) } : {}),
      flag: `--allow-net=…,${hosts}`,
    },
  );
}

/**
 * Settings from `--config` (or the embedded defaults); each problem logged as one line, and
 * undefined then. Shared with scripts/start.ts, so both report a bad file alike.
 */
export async function readSettings(
  path: string | undefined,
  log: Logger,
): Promise<Settings | undefined> {
  let text = "";
  try {
    if (path !== undefined) text = await Deno.readTextFile(path);
  } catch (error) {
    log.log("error", `cannot read settings ${path}: ${(error as Error).message}`, { file: path });
    return undefined;
  }
  try {
    return loadSettings(text, path ?? "(embedded defaults)");
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    for (const p of error.problems.filter((p) => p.severity === "error")) {
      log.log("error", `invalid settings: ${formatProblem(p)}`, {
        file: p.file,
        key: p.key,
      });
    }
    return undefined;
  }
}

/**
 * Turns a start failure into its one log line and exit code: a permission Deno refused (2),
 * with the endpoint and the flag when it is network access, or anything else (1).
 */
function startFailure(error: unknown, endpoints: NetEndpoint[], log: Logger): number {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof Deno.errors.NotCapable) {
    const net = /net access to "([^"]+)"/.exec(message);
    if (net) {
      const host = net[1]!;
      const setting = endpoints.find((e) => e.host === host)?.setting ?? "the configuration";
      logDenied(log, [{ host, setting }]);
    } else log.log("error", `permission denied: ${message}`);
    return 2;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    // The operating system's refusal (EACCES), e.g. a port below 1024 without the capability.
    log.log("error", `cannot start: ${message}`, {
      hint: "ports below 1024 need root or CAP_NET_BIND_SERVICE",
    });
    return 2;
  }
  log.log("error", "cannot start", { error: message });
  return 1;
}

const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** `qts serve`: runs the sensor until SIGINT/SIGTERM. */
export async function serveCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("serve", HELP, args, {
    config: { type: "string", short: "c" },
    clock: { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const startLog = createLogger();
  if (values.clock !== undefined && values.clock !== "record" && values.clock !== "wall") {
    startLog.log("error", `--clock must be "record" or "wall", not "${values.clock}"`);
    return 2;
  }
  const settings = await readSettings(values.config, startLog);
  if (settings === undefined) return 2;
  const log = createLogger({ level: settings.log_level });
  const proxyParsed = parseProxySettings(settings, values.config ?? "(embedded defaults)");
  for (const p of proxyParsed.problems) {
    log.log(p.severity === "error" ? "error" : "warn", `invalid settings: ${formatProblem(p)}`, {
      file: p.file,
      key: p.key,
    });
  }
  if (!proxyParsed.settings) return 2;
  // Every listener and peer is checked before anything binds: one clear line instead of a
  // failure halfway through the start (or, for node:dgram, an uncaught exception).
  let endpoints: NetEndpoint[];
  try {
    endpoints = await serveEndpoints(settings);
  } catch (error) {
    log.log("error", "cannot start", { error: (error as Error).message });
    return 2;
  }
  const denied = endpoints.filter((e) => !netAllowed(e.host));
  if (denied.length > 0) {
    logDenied(log, denied);
    return 2;
  }
  // Loaded here, not at the top: scripts/start.ts imports serveEndpoints without the sensor.
  const { Sensor } = await import("../sensor/sensor.ts");
  const { RecordClock } = await import("../sensor/ingest/record_clock.ts");
  let sensor: InstanceType<typeof Sensor> | undefined;
  // Listening for stop signals before start() logs "qts serving": a SIGTERM right after that
  // line must stop the sensor cleanly, not kill it (main exits the process on any return).
  const stopping = waitForStopSignal();
  try {
    sensor = new Sensor({
      settings,
      log,
      proxy: proxyParsed.settings,
      ...(values.clock === "record" ? { clock: new RecordClock() } : {}),
    });
    await sensor.start();
  } catch (error) {
    await sensor?.close().catch(() => {});
    return startFailure(error, endpoints, log);
  }
  // Stop signals stay handled until close() returns: Ctrl-C reaches this process and its
  // launcher (which forwards it again), and a second one must not kill the sensor while it
  // saves the bans.
  const ignore = () => {};
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, ignore);
  try {
    const signal = await stopping;
    log.log("info", "stopping", { signal });
    await sensor.close();
    log.log("info", "stopped");
  } finally {
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, ignore);
  }
  return 0;
}
