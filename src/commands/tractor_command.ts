import { startTractor } from "../analyzer/tractor/start_tractor.ts";
import { isLoopback } from "../shared/config/settings.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";

const HELP = `Usage: qts tractor --captures <dir> (--state <dir> | --store postgres://…) [options]

Serves the TrActor REST API v1 (and a page at /) over the captures in <dir>: list them, process
them in background jobs (flows, labels, per-IP statistics), read the results. Jobs and results
live in SQLite in the state directory, or in PostgreSQL with --store; a job interrupted by a
restart is resumed.

  --captures <dir>        capture repository: *.pcap, *.pcapng, *.cap (also .gz) directly inside
  --state <dir>           state directory (tractor.sqlite), created when missing
  --store <url>           postgres://user[:password]@host:port/db instead of SQLite (default:
                          $QTS_TRACTOR_STORE, which keeps a password out of ps; or give none and
                          set PGPASSWORD). Several qts tractor hosts on one store share one queue
                          and one result set: each claims the next job when a worker is free
                          (SELECT … FOR UPDATE SKIP LOCKED). Their --captures must be the same
                          files under the same names (a shared directory, e.g. NFS)
  --lease <s>             a claimed job is another host's to take over when its holder has not
                          renewed the claim for this long (dead or hung host; default 60)
  --poll <ms>             how often a shared store is asked for jobs queued elsewhere (default
                          1000)
  --listen <host:port>    address to serve on (default 127.0.0.1:4280; [::1]:4280 for IPv6)
  --geoip <file.mmdb>     MaxMind-format city database for country/city in statistics/ip
  --labels <file.yaml>    labels: groups for /labels/list, domain -> application, protocol
                          labels (shape of config/labels.yaml; default: the embedded copy)
  --workers <n>           captures processed in parallel, one Worker each (default 1)
  --flow-timeout <s>      flow timeout of the analyzer (default 120)
  --token <token>         bearer token every API call must carry (default: $QTS_TRACTOR_TOKEN);
                          required off loopback. The page takes it as /?token=<token>
  --token-file <file>     read the token from a file (first line); keeps it out of ps
  --allow-host <name>     another Host the API answers to (a reverse proxy's name); repeatable
                          as a comma-separated list
  -h, --help              this text

Permissions: --allow-net=<host:port>[,<postgres host:port>] --allow-read --allow-write=<state dir>
             --allow-env=LOG_TOKENS,LOG_STREAM,QTS_TRACTOR_TOKEN,QTS_TRACTOR_STORE
             With --store also --allow-env=…,PG* (the client reads libpq's PG* variables:
             PGPASSWORD when the URL has none, PGSSLMODE …) and --allow-sys=hostname (this host
             in claimed_by, else "localhost:<pid>"). The URL's password is never logged.

The API answers only to its listen address (and loopback names, and --allow-host): a web page
cannot reach it through a rebound DNS name. The state directory is created 0700, its files 0600.
`;

/** The token from --token, --token-file or $QTS_TRACTOR_TOKEN; "" = none. */
async function readToken(values: { token?: string; "token-file"?: string }): Promise<string> {
  if (values.token !== undefined && values["token-file"] !== undefined) {
    throw new RangeError("give --token or --token-file, not both");
  }
  if (values["token-file"] !== undefined) {
    const file = values["token-file"];
    const text = await Deno.readTextFile(file).catch((cause) => {
      throw new Error(`Cannot read --token-file "${file}": ${cause.message}`, { cause });
    });
    const token = text.split(/\r?\n/)[0]!.trim();
    if (token === "") throw new RangeError(`--token-file "${file}" is empty`);
    return token;
  }
  if (values.token !== undefined) return values.token;
  try {
    return Deno.env.get("QTS_TRACTOR_TOKEN")?.trim() ?? "";
  } catch {
    return ""; // --allow-env does not cover it
  }
}

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
    token: { type: "string" },
    "token-file": { type: "string" },
    "allow-host": { type: "string" },
    store: { type: "string" },
    lease: { type: "string" },
    poll: { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  let store = values.store;
  if (store === undefined) {
    try {
      store = Deno.env.get("QTS_TRACTOR_STORE")?.trim() || undefined;
    } catch {
      // --allow-env does not cover it
    }
  }
  if (values.captures === undefined || (values.state === undefined && store === undefined)) {
    console.error(`qts tractor: --captures and --state (or --store) are required\n\n${HELP}`);
    return 2;
  }
  let listen, workers, flowTimeout, token, lease, poll;
  try {
    lease = positiveInt("lease", values.lease, 60);
    poll = positiveInt("poll", values.poll, 1000);
    listen = parseListen(values.listen ?? "127.0.0.1:4280");
    workers = positiveInt("workers", values.workers, 1);
    flowTimeout = positiveInt("flow-timeout", values["flow-timeout"], 120);
    token = await readToken(values);
  } catch (error) {
    console.error(`qts tractor: ${(error as Error).message}`);
    return 2;
  }
  if (!isLoopback(listen.hostname) && token === "") {
    console.error(
      `qts tractor: --token (or --token-file, $QTS_TRACTOR_TOKEN) is required when --listen ` +
        `(${listen.hostname}) is not a loopback address`,
    );
    return 2;
  }
  const allowedHosts = (values["allow-host"] ?? "").split(",").map((h) => h.trim())
    .filter((h) => h !== "");
  const labelsPath = values.labels;
  const log = (line: string) => console.log(`tractor: ${line}`);
  let tractor;
  try {
    tractor = await startTractor({
      capturesDir: values.captures,
      ...(values.state !== undefined ? { stateDir: values.state } : {}),
      ...(store !== undefined ? { store } : {}),
      leaseSeconds: lease,
      pollMs: poll,
      listen,
      workers,
      flowTimeoutSeconds: flowTimeout,
      log,
      token,
      allowedHosts,
      ...(values.geoip !== undefined ? { geoipPath: values.geoip } : {}),
      ...(labelsPath !== undefined ? { labelsPath } : {}),
    });
  } catch (error) {
    console.error(`qts tractor: ${(error as Error).message}`);
    return 1;
  }
  log(`listening on ${tractor.url}${token === "" ? "" : " (bearer token required)"}`);
  const signal = await waitForStopSignal();
  log(`stopping (${signal})`);
  await tractor.close();
  log("stopped");
  return 0;
}
