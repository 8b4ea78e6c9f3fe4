import { compileRegex } from "../shared/config/regex.ts";
import {
  checkClassifier,
  type CheckContext,
  checkDefaultConfig,
  checkGeoIp,
  checkLua,
  checkRe2,
  checkReplay,
  checkSettings,
  checkTractorStore,
  checkWorker,
  type SelftestCheck,
  type SelftestDeps,
  type Skip,
} from "./_selftest_checks.ts";
import { printable } from "./_table.ts";
import { parseCommandLine } from "./parse_command_line.ts";

export type { CheckContext, SelftestCheck, SelftestDeps, Skip } from "./_selftest_checks.ts";

/** The checks, in the order they run. */
export const SELFTEST_CHECKS = [
  "default-config",
  "settings",
  "lua",
  "re2",
  "worker",
  "replay",
  "classifier",
  "tractor-store",
  "geoip",
] as const;

/** A check's name. */
export type SelftestCheckName = typeof SELFTEST_CHECKS[number];

const BUILT_IN: Record<SelftestCheckName, SelftestCheck> = {
  "default-config": checkDefaultConfig,
  settings: checkSettings,
  lua: checkLua,
  re2: checkRe2,
  worker: checkWorker,
  replay: checkReplay,
  classifier: checkClassifier,
  "tractor-store": checkTractorStore,
  geoip: checkGeoIp,
};

/** How one check ended. */
export interface SelftestResult {
  name: SelftestCheckName;
  result: "ok" | "FAIL" | "skip";
  /** Wall time it took, ms. */
  ms: number;
  /** What it saw; on failure the error message; on a skip the reason. */
  detail: string;
}

/** What {@linkcode selftest} found. */
export interface SelftestReport {
  /** True when no check failed (skips allowed). */
  ok: boolean;
  checks: SelftestResult[];
}

/** Options of {@linkcode selftest}. */
export interface SelftestOptions {
  /** Main settings (INI) to check, with the GeoIP database they name. */
  settingsFile?: string;
  /** Longest a check may take before it fails as hung (ms). Default 20 000. */
  timeoutMs?: number;
  /** Replacements for the program's parts a check uses (tests break one on purpose). */
  deps?: Partial<SelftestDeps>;
  /** Replacements for whole checks (tests). */
  checks?: Partial<Record<SelftestCheckName, SelftestCheck>>;
  /** Called as each check ends, before the next starts (a hang shows where it is). */
  onResult?: (result: SelftestResult) => void;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * Runs every check one after another, each within its time limit, inside whatever form the
 * program has (`deno run` or the compiled binary): operators run it on the target host.
 *
 * @example
 * ```ts
 * const report = await selftest({ onResult: (r) => console.log(r.name, r.result) });
 * if (!report.ok) Deno.exit(1);
 * ```
 */
export async function selftest(options: SelftestOptions = {}): Promise<SelftestReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deps: SelftestDeps = { compileRegex, ...options.deps };
  // What one check finds that a later one needs (the settings for the GeoIP check).
  let settings: CheckContext["settings"];
  const checks: SelftestResult[] = [];
  for (const name of SELFTEST_CHECKS) {
    const check = options.checks?.[name] ?? BUILT_IN[name];
    const controller = new AbortController();
    const ctx: CheckContext = {
      deps,
      settingsFile: options.settingsFile,
      settings,
      signal: controller.signal,
    };
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`timed out after ${formatMs(timeoutMs)}`);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    let result: SelftestResult;
    try {
      const outcome: string | Skip = await Promise.race([
        Promise.resolve().then(() => check(ctx)),
        timeout,
      ]);
      const ms = performance.now() - started;
      result = typeof outcome === "string"
        ? { name, result: "ok", ms, detail: outcome }
        : { name, result: "skip", ms, detail: outcome.skip };
    } catch (error) {
      result = { name, result: "FAIL", ms: performance.now() - started, detail: message(error) };
    } finally {
      clearTimeout(timer);
    }
    settings = ctx.settings;
    checks.push(result);
    options.onResult?.(result);
  }
  return { ok: checks.every((c) => c.result !== "FAIL"), checks };
}

/** An error as one line (the project's errors name what failed and why; causes add noise). */
function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const name = error.name === "Error" ? "" : `${error.name}: `;
  return `${name}${error.message}`.replace(/\s*\n\s*/g, "; ");
}

/** `850 ms`, `1.3 s`. */
function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const HELP = `Usage: qts selftest [--config <qts.ini>] [--json]

Checks that this copy of qts works on this host, the way serve, replay, analyze and tractor use
it: the embedded default.conf parses; the Lua sandbox loads and runs default.lua; RE2 compiles;
a filter chain runs in a Web Worker; a built-in scenario replays through the real pipeline
(ZeroMQ sockets on loopback) with the expected ban command; the classifier labels a built-in
capture; the TrActor store opens in a temporary directory; and with --config, the settings load
and the GeoIP database they name opens. Each check has ${formatMs(DEFAULT_TIMEOUT_MS)}.

Prints one line per check (CHECK RESULT TIME DETAIL) as it ends. Exit 0 when every check passes
(skips allowed), 1 when any fails.

  -c, --config <file>   main settings (INI) to load, with their geoip_db
  --json                the report as JSON on stdout instead of the table
  -h, --help            this text
`;

/** `qts selftest`: runs every check and prints a table; exit 0 when none failed, else 1. */
export async function selftestCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("selftest", HELP, args, {
    config: { type: "string", short: "c" },
    json: { type: "boolean" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const width = Math.max(...SELFTEST_CHECKS.map((n) => n.length), "CHECK".length);
  const line = (check: string, result: string, time: string, detail: string) =>
    `${check.padEnd(width)}  ${result.padEnd(6)}  ${time.padStart(8)}  ${printable(detail)}`
      .trimEnd();
  if (!values.json) console.log(line("CHECK", "RESULT", "TIME", "DETAIL"));
  const report = await selftest({
    ...(values.config !== undefined ? { settingsFile: values.config } : {}),
    onResult: (r) => {
      if (!values.json) console.log(line(r.name, r.result, formatMs(r.ms), r.detail));
    },
  });
  if (values.json) {
    console.log(JSON.stringify(
      {
        ok: report.ok,
        checks: report.checks.map((c) => ({ ...c, ms: Math.round(c.ms) })),
      },
      null,
      2,
    ));
  } else {
    const count = (r: SelftestResult["result"]) =>
      report.checks.filter((c) => c.result === r).length;
    const failed = report.checks.filter((c) => c.result === "FAIL").map((c) => c.name);
    console.log(
      `\n${count("ok")} ok, ${count("skip")} skipped, ${failed.length} failed` +
        (failed.length > 0 ? ` (${failed.join(", ")})` : ""),
    );
  }
  return report.ok ? 0 : 1;
}
