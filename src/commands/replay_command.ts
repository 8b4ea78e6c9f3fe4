import { join, relative } from "node:path";
import { formatCommand } from "../sensor/lm/command.ts";
import { replayLogs } from "../sensor/replay/replay_logs.ts";
import { ReplaySession } from "../sensor/replay/replay_session.ts";
import { runFixture } from "../sensor/replay/run_fixture.ts";
import { DEFAULT_DOMAIN } from "../sensor/replay/fixture.ts";
import { parseCommandLine } from "./parse_command_line.ts";

const HELP = `Usage: qts replay <fixture.yaml|dir>… [--update]
       qts replay --log <access.log> [--log …] [--config <qts.ini>] [--domain <id>]

Replays traffic through the real pipeline (a sensor on loopback ZeroMQ sockets, event time taken
from the records, so a 30-minute attack replays in seconds) and checks or prints the commands.

Fixtures: a directory is searched for files named fixture.yaml. One line per fixture; on a
failure the expected (-) and actual (+) commands. Exit 0 only when every fixture holds.

  -u, --update          write the actual commands into each fixture as its expectation
                        (review the change before committing it)

Logs: nginx access logs in the combined format or the JSON log_format of config/nginx/qts.conf,
times from the lines. Prints every command as JSON on stdout and a summary on stderr (lines,
records/s, bans per rule). The lines are read and parsed on a second thread while the sensor
filters the previous ones; records enter the sensor's ingest step directly (same decoder,
pipeline and chain as ZeroMQ input).

  -l, --log <file>      an access log; repeatable (replayed one after another)
  -c, --config <file>   main settings (INI) whose filters and components to use; default: the
                        embedded defaults
  --domain <id>         domain of lines that do not name one (default ${DEFAULT_DOMAIN})
  --format <f>          auto (default: per line), combined or json
  --via <input>         direct (default) or socket: send records through loopback ZeroMQ as a
                        proxy would (slower; the same commands)
  -q, --quiet           no command lines, only the summary
  -h, --help            this text
`;

async function fixtureFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (info.isFile) return [path];
  const found: string[] = [];
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory) await walk(full);
      else if (entry.name === "fixture.yaml") found.push(full);
    }
  };
  await walk(path);
  return found;
}

async function replayFixtures(paths: string[], update: boolean): Promise<number> {
  const files: string[] = [];
  for (const path of paths) {
    try {
      const found = await fixtureFiles(path);
      if (found.length === 0) {
        console.error(`qts replay: ${path}: no fixture.yaml found`);
        return 2;
      }
      files.push(...found);
    } catch (error) {
      console.error(`qts replay: ${path}: ${(error as Error).message}`);
      return 2;
    }
  }
  let failed = 0;
  const total = performance.now();
  for (const file of files) {
    const name = relative(Deno.cwd(), file) || file;
    try {
      const r = await runFixture(file, { update });
      const figures = `${r.records} records, ${r.commands.length} commands, ` +
        `${formatSpan(r.virtualSeconds)} of traffic in ${(r.wallMs / 1000).toFixed(2)} s`;
      if (r.updated) {
        console.log(`${r.ok ? "updated" : "UPDATED WITH ERRORS"} ${name} (${figures})`);
      } else console.log(`${r.ok ? "ok  " : "FAIL"} ${name} (${figures})`);
      for (const line of r.report) console.log(line);
      if (!r.ok) failed++;
    } catch (error) {
      failed++;
      console.log(`FAIL ${name}\n  ${(error as Error).message}`);
    }
  }
  const seconds = (performance.now() - total) / 1000;
  console.log(
    `${files.length - failed} of ${files.length} fixtures ${update ? "updated" : "passed"} ` +
      `in ${seconds.toFixed(2)} s`,
  );
  return failed === 0 ? 0 : 1;
}

function formatSpan(seconds: number): string {
  if (seconds >= 120) return `${(seconds / 60).toFixed(1)} min`;
  return `${seconds.toFixed(1)} s`;
}

async function replayLogFiles(
  logs: string[],
  options: {
    config?: string;
    domain: number;
    format: "auto" | "combined" | "json";
    quiet: boolean;
    via: "direct" | "socket";
  },
): Promise<number> {
  let ini: { text: string; file: string } | undefined;
  if (options.config !== undefined) {
    try {
      ini = { text: await Deno.readTextFile(options.config), file: options.config };
    } catch (error) {
      console.error(`qts replay: cannot read ${options.config}: ${(error as Error).message}`);
      return 2;
    }
  }
  const encoder = new TextEncoder();
  const byRule = new Map<string, { add: number; del: number }>();
  let session: ReplaySession;
  try {
    session = await ReplaySession.start({
      ini,
      input: options.via,
      onLog: (line) => {
        if (line.level === "error") {
          console.error(`sensor: ${line.msg} ${JSON.stringify(line.fields)}`);
        }
      },
      onCommand: (cmd) => {
        const counts = byRule.get(cmd.rule_name) ?? { add: 0, del: 0 };
        counts[cmd.method]++;
        byRule.set(cmd.rule_name, counts);
        if (!options.quiet) Deno.stdout.writeSync(encoder.encode(formatCommand(cmd) + "\n"));
      },
    });
  } catch (error) {
    console.error(`qts replay: cannot start the sensor: ${(error as Error).message}`);
    return 2;
  }
  const counts = { lines: 0, bad: 0 };
  const started = performance.now();
  let progressAt = started + 5000;
  let sent: { records: number; first: number; last: number };
  try {
    sent = await replayLogs(session, logs, {
      domain: options.domain,
      format: options.format,
      counts,
      onBad: (log, n, line) =>
        console.error(`${log}:${n}: not an access log line: ${line.slice(0, 100)}`),
      // A long log shows it is moving: one line on stderr every 5 s of wall time.
      onProgress: (log, records) => {
        if (performance.now() < progressAt) return;
        const elapsed = (performance.now() - started) / 1000;
        console.error(
          `${log}: ${counts.lines} lines, ${Math.round(records / elapsed)} records/s so far`,
        );
        progressAt = performance.now() + 5000;
      },
    });
  } catch (error) {
    console.error(`qts replay: ${(error as Error).message}`);
    await session.close();
    return 2;
  }
  const { records, first, last } = sent;
  const seconds = (performance.now() - started) / 1000;
  const metrics = session.sensor.metrics;
  // bad_frame_count is the replay's own barrier message, not the log's.
  const dropped = ["unknown_domain", "bad_utf8", "oversized", "duplicate", "config_error"]
    .map((reason) => [reason, metrics.get("qts_input_dropped_total", { reason })] as const)
    .filter(([, n]) => n > 0);
  await session.close();
  const span = records > 0 ? last - first : 0;
  console.error(
    `lines: ${counts.lines} (${counts.bad} unreadable), records: ${records}, ` +
      `${formatSpan(span)} of traffic in ${seconds.toFixed(2)} s, ` +
      `${Math.round(records / Math.max(seconds, 1e-9))} records/s`,
  );
  if (dropped.length > 0) {
    console.error(`dropped by the sensor: ${dropped.map(([r, n]) => `${r} ${n}`).join(", ")}`);
  }
  const rules = [...byRule].sort(([a], [b]) => a.localeCompare(b));
  if (rules.length === 0) console.error("commands: none");
  for (const [rule, c] of rules) console.error(`  ${rule}: ${c.add} add, ${c.del} del`);
  return 0;
}

/** `qts replay`: fixtures against their expectations, or access logs through the sensor. */
export async function replayCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("replay", HELP, args, {
    update: { type: "boolean", short: "u" },
    log: { type: "string", short: "l", multiple: true },
    config: { type: "string", short: "c" },
    domain: { type: "string" },
    format: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    via: { type: "string" },
  }, { positionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const logs = values.log ?? [];
  if (logs.length > 0) {
    if (positionals.length > 0 || values.update) {
      console.error("qts replay: give either fixtures or --log, not both");
      return 2;
    }
    const domain = Number(values.domain ?? DEFAULT_DOMAIN);
    if (!/^\d{1,10}$/.test(values.domain ?? String(DEFAULT_DOMAIN))) {
      console.error(`qts replay: --domain must be a decimal domain id, not "${values.domain}"`);
      return 2;
    }
    const format = values.format ?? "auto";
    if (format !== "auto" && format !== "combined" && format !== "json") {
      console.error(`qts replay: --format must be auto, combined or json, not "${format}"`);
      return 2;
    }
    const via = values.via ?? "direct";
    if (via !== "direct" && via !== "socket") {
      console.error(`qts replay: --via must be direct or socket, not "${via}"`);
      return 2;
    }
    return await replayLogFiles(logs, {
      ...(values.config !== undefined ? { config: values.config } : {}),
      domain,
      format,
      quiet: values.quiet ?? false,
      via,
    });
  }
  if (positionals.length === 0) {
    console.error(`qts replay: give fixture files or directories, or --log\n\n${HELP}`);
    return 2;
  }
  if (
    values.config !== undefined || values.domain !== undefined || values.format !== undefined ||
    values.via !== undefined
  ) {
    console.error(
      "qts replay: --config, --domain, --format and --via go with --log; a fixture states its own",
    );
    return 2;
  }
  return await replayFixtures(positionals, values.update ?? false);
}
