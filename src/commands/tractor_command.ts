import { startTractor } from "../analyzer/tractor/start_tractor.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";

const HELP = `Usage: qts tractor --captures <dir> --state <dir> [options]

Serves the TrActor REST API v1 (and a page at /) over the captures in <dir>: list them, process
them in background jobs (flows, labels, per-IP statistics), read the results. Jobs and results
live in SQLite in the state directory; a job interrupted by a restart is resumed.

  --captures <dir>        capture repository: *.pcap, *.pcapng, *.cap (also .gz) directly inside
  --state <dir>           state directory (tractor.sqlite), created when missing
  --listen <host:port>    address to serve on (default 127.0.0.1:4280; [::1]:4280 for IPv6)
  --geoip <file.mmdb>     MaxMind-format city database for country/city in statistics/ip
  --labels <file.yaml>    labels: groups for /labels/list, domain -> application, protocol
                          labels (shape of config/labels.yaml; default: the embedded copy)
  --workers <n>           captures processed in parallel, one Worker each (default 1)
  --flow-timeout <s>      flow timeout of the analyzer (default 120)
  -h, --help              this text

Permissions: --allow-net=<host:port> --allow-read --allow-write=<state dir>
             --allow-env=LOG_TOKENS,LOG_STREAM (read by the YAML parser of the labels)

The API has no authentication: keep it on loopback or behind an authenticating proxy.
`;

function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new RangeError(`Invalid --listen "${text}": expected host:port or [ipv6]:port`);
  }
  return { hostname: m[1] ?? m[2]!, port };
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!/^\d+$/.test(text) || !(v >= 1)) {
    throw new RangeError(`Invalid --${name} "${text}": expected a positive integer`);
  }
  return v;
}

/** `qts tractor`: serves until SIGINT/SIGTERM; returns the exit code. */
export async function tractorCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("tractor", HELP, args, {
    captures: { type: "string" },
    state: { type: "string" },
    listen: { type: "string" },
    geoip: { type: "string" },
    labels: { type: "string" },
    workers: { type: "string" },
    "flow-timeout": { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  if (values.captures === undefined || values.state === undefined) {
    console.error(`qts tractor: --captures and --state are required\n\n${HELP}`);
    return 2;
  }
  let listen, workers, flowTimeout;
  try {
    listen = parseListen(values.listen ?? "127.0.0.1:4280");
    workers = positiveInt("workers", values.workers, 1);
    flowTimeout = positiveInt("flow-timeout", values["flow-timeout"], 120);
  } catch (error) {
    console.error(`qts tractor: ${(error as Error).message}`);
    return 2;
  }
  const labelsPath = values.labels;
  const log = (line: string) => console.log(`tractor: ${line}`);
  let tractor;
  try {
    tractor = await startTractor({
      capturesDir: values.captures,
      stateDir: values.state,
      listen,
      workers,
      flowTimeoutSeconds: flowTimeout,
      log,
      ...(values.geoip !== undefined ? { geoipPath: values.geoip } : {}),
      ...(labelsPath !== undefined ? { labelsPath } : {}),
    });
  } catch (error) {
    console.error(`qts tractor: ${(error as Error).message}`);
    return 1;
  }
  log(`listening on ${tractor.url}`);
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(listen.hostname)) {
    log(`warning: ${listen.hostname} is not loopback and the API has no authentication`);
  }
  const signal = await waitForStopSignal();
  log(`stopping (${signal})`);
  await tractor.close();
  log("stopped");
  return 0;
}
