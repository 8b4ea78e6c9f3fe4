import { join } from "node:path";
/**
 * Runs `qts serve` as a child process, the way an operator runs it, for end-to-end tests:
 * waits for its "qts serving" log line, exposes the API base URL, collects its log lines.
 * @module
 */
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** A free TCP port on loopback (bound and released) for a child process to listen on. */
export function freePort(): number {
  // Below Linux's ephemeral range (32768-60999): a port the kernel hands out for port 0 or an
  // outgoing connection (a sensor's memcached client) could be taken between this check and
  // the process that binds it. Never the same port twice in one test process.
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue;
    }
    handedOut.add(port);
    return port;
  }
  throw new Error("no free port in 20000-31999 on 127.0.0.1");
}
const handedOut = new Set<number>();

/** `deno run` arguments for `qts serve --config <ini>` with the permissions an operator grants. */
export function serveArgs(ini: string, args: string[] = []): string[] {
  return [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=hostname",
    MAIN,
    "serve",
    "--config",
    ini,
    ...args,
  ];
}

/** A running sensor child process. */
export interface SensorProcess {
  readonly api: string;
  readonly logs: Record<string, unknown>[];
  /** Sends SIGTERM and waits for exit; returns the exit code. */
  stop(): Promise<number>;
}

/** Starts `qts serve --config <ini> [args]` and waits until it serves (bounded). */
export async function startSensor(
  ini: string,
  args: string[] = [],
  timeoutMs = 30_000,
): Promise<SensorProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: serveArgs(ini, args),
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logs: Record<string, unknown>[] = [];
  let api = "";
  const serving = Promise.withResolvers<void>();
  const reader = (async () => {
    const decoder = new TextDecoderStream();
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(decoder)) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === "qts serving") {
            api = String(entry.api);
            serving.resolve();
          }
        } catch {
          logs.push({ raw: line });
        }
      }
    }
    serving.reject(new Error(`sensor exited before serving: ${JSON.stringify(logs.slice(-5))}`));
  })();
  const timer = setTimeout(
    () => serving.reject(new Error(`sensor did not start within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await serving.promise;
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await reader;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    api,
    logs,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await child.status;
      await reader;
      return status.code;
    },
  };
}

/** Polls `check` every 50 ms until it returns a value other than undefined (bounded). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The value of a metric series in Prometheus text, or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Waits until the sensor at `api` reports a subscriber on its outbound PUB (bounded). */
export function outboundSubscribed(api: string): Promise<true> {
  return waitFor("a subscription to reach the sensor's outbound PUB", async () => {
    const text = await (await fetch(`${api}/metrics`)).text();
    return (metricValue(text, "qts_outbound_subscribers") ?? 0) >= 1 ? true : undefined;
  });
}

/**
 * Writes a sensor's settings and one domain file (8984) under `dir/name`: its own ports, no
 * components dir, workers 0, no autodiscover. For e2e tests that run several sensors.
 */
export async function sensorIni(
  dir: string,
  name: string,
  domain: Record<string, unknown>,
): Promise<{ ini: string; input: number; outbound: number; api: number }> {
  const [input, outbound, api] = [freePort(), freePort(), freePort()];
  await Deno.mkdir(join(dir, name, "filters"), { recursive: true });
  await Deno.writeTextFile(join(dir, name, "filters", "8984.json"), JSON.stringify(domain));
  const ini = join(dir, name, "qts.ini");
  await Deno.writeTextFile(
    ini,
    `[tsng]\ninput = tcp://127.0.0.1:${input}\nforce_domains = 8984\napi_server_port = ${api}\n` +
      `filters_config_dir = ${join(dir, name, "filters")}\nstate_dir = ${
        join(dir, name, "state")
      }\n` +
      `components_config_dir =\nautodiscover = false\nworkers = 0\nhostname = ${name}\n` +
      `[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
  );
  return { ini, input, outbound, api };
}
