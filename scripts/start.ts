/**
 * `deno task start [serve options…]`: runs `qts serve` with the permissions its configuration
 * needs and no more. Reads the settings (`--config`, else the embedded defaults) and the component
 * and domain files with the sensor's own parser, then runs
 * `deno run --allow-net=<every listener and peer they name> … main.ts serve <options>` with this
 * process's stdin, stdout and stderr, forwards SIGINT and SIGTERM to it and exits with its code.
 * `--print` prints that command as one JSON object instead of running it.
 *
 * Itself it needs `--allow-read` (settings, component and domain files), the environment variables
 * the YAML parser reads (`LOG_TOKENS`, `LOG_STREAM`) and `--allow-run`. Not `--allow-run=deno`:
 * Deno resolves that name on PATH and compares paths without following links, so under
 * `npx deno` (`node_modules/.bin/deno`, a link) it refuses `Deno.execPath()`; and a process that
 * may run deno may run anything anyway. The sensor itself gets no run permission.
 * @module
 */
import { normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type NetEndpoint, readSettings, serveEndpoints } from "../src/commands/serve_command.ts";
import type { Settings } from "../src/shared/config/settings.ts";
import { createLogger } from "../src/shared/log/logger.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What the sensor reads from the environment (the yaml package's debug switches). */
const ENV = ["LOG_TOKENS", "LOG_STREAM"];

/** The command that runs `qts serve`: the deno binary and its arguments. */
export interface StartCommand {
  command: string;
  args: string[];
}

/**
 * Where the sensor writes: the state directory (bans, telemetry samples) and the first
 * filters_config_dir (`rewrite=1`), each once, a directory inside the other left out.
 */
function writableDirs(settings: Settings): string[] {
  const key = (d: string) => normalize(d).replace(/\/+$/, "");
  const dirs: string[] = [];
  for (const dir of [settings.state_dir, settings.filters_config_dir[0] ?? ""]) {
    if (dir !== "" && !dirs.some((d) => key(d) === key(dir))) dirs.push(dir);
  }
  return dirs.filter((dir) => !dirs.some((d) => d !== dir && key(dir).startsWith(`${key(d)}/`)));
}

/**
 * The `deno run` command for `qts serve <serveArgs>` under these settings: --allow-net lists
 * exactly `endpoints`, --allow-write the state directory and the first filters_config_dir
 * (where `rewrite=1` writes), --allow-read, the logger's environment variables and the hostname.
 */
export function startCommand(
  settings: Settings,
  endpoints: NetEndpoint[],
  serveArgs: string[],
): StartCommand {
  const write = writableDirs(settings);
  return {
    command: Deno.execPath(),
    args: [
      "run",
      // Deno's own progress lines ("Download", "Initialize") are not JSON; errors still print.
      "--quiet",
      `--allow-net=${endpoints.map((e) => e.host).join(",")}`,
      "--allow-read",
      ...(write.length > 0 ? [`--allow-write=${write.join(",")}`] : []),
      `--allow-env=${ENV.join(",")}`,
      "--allow-sys=hostname",
      MAIN,
      "serve",
      ...serveArgs,
    ],
  };
}

/** Runs the launcher with `args` (deno task start's extra arguments); returns the exit code. */
export async function start(args: string[]): Promise<number> {
  const print = args.includes("--print");
  const serveArgs = args.filter((a) => a !== "--print");
  const log = createLogger();
  // Only --config matters here; `qts serve` itself checks every option it is given.
  const { values } = parseArgs({
    args: serveArgs,
    options: { config: { type: "string", short: "c" } },
    strict: false,
    allowPositionals: true,
  });
  const config = typeof values.config === "string" ? values.config : undefined;
  // The same lines and exit code as `qts serve` for settings it cannot use.
  const settings = await readSettings(config, log);
  if (settings === undefined) return 2;
  let endpoints: NetEndpoint[];
  try {
    endpoints = await serveEndpoints(settings);
  } catch (error) {
    log.log("error", "cannot start", { error: (error as Error).message });
    return 2;
  }
  const run = startCommand(settings, endpoints, serveArgs);
  if (print) {
    console.log(JSON.stringify(run));
    return 0;
  }
  const runnable = { name: "run", command: run.command } as const;
  if (Deno.permissions.querySync(runnable).state !== "granted") {
    log.log("error", `deno task start: not allowed to run ${run.command}`, {
      flag: `--allow-run=${run.command}`,
    });
    return 2;
  }
  const child = new Deno.Command(run.command, {
    args: run.args,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // The sensor stops cleanly on SIGINT/SIGTERM; this process waits for that and exits with its
  // code. (A terminal's Ctrl-C reaches both; the sensor takes the repeat in its stride.)
  const forward: [Deno.Signal, () => void][] = (["SIGINT", "SIGTERM"] as const).map((signal) => [
    signal,
    () => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  ]);
  for (const [signal, handler] of forward) Deno.addSignalListener(signal, handler);
  try {
    return (await child.status).code;
  } finally {
    for (const [signal, handler] of forward) Deno.removeSignalListener(signal, handler);
  }
}

if (import.meta.main) {
  Deno.exit(await start(Deno.args));
}
