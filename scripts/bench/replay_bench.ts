/**
 * `deno task bench replay`: an nginx `combined` access log through `qts replay --log`'s path —
 * parse only (the ceiling), then the whole sensor (embedded defaults, chains on the ingest
 * thread) fed directly and, for comparison, through real ZeroMQ on loopback — in lines/s.
 * QTS_BENCH_LINES sets the log size (default 1,000,000, the issue's figure). The log is
 * generated, so runs are comparable.
 * @module
 */
import { join } from "node:path";
import { readAccessLog } from "../../src/sensor/replay/read_access_log.ts";
import { ReplaySession } from "../../src/sensor/replay/replay_session.ts";
import { readLogBatches } from "../../src/sensor/replay/read_log_batches.ts";
import { replayLogs } from "../../src/sensor/replay/replay_logs.ts";
import { fmt } from "./_measure.ts";
import { COMPONENT_NAMES } from "../../src/shared/config/components.ts";
import { processCpuSeconds, threadCpuSeconds } from "./_thread_cpu.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const UAS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];

function timeLocal(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Writes a log of `lines` lines: 5000 visitors, a flooder, a UA-rotating scraper. */
export async function writeLog(path: string, lines: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = file.writable.getWriter();
  const encoder = new TextEncoder();
  let seed = 42;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const start = 1_700_000_000;
  // About 100 lines per second of log time: 1M lines span close to 3 hours.
  const step = 0.01;
  let chunk: string[] = [];
  for (let i = 0; i < lines; i++) {
    const t = Math.floor(start + i * step);
    const r = rnd();
    let ip: string, url: string, ua: string;
    if (r < 0.3) {
      ip = "203.0.113.66"; // a flooder: ~30 requests/s, past limit_req's 10r/s
      url = "/search?q=" + (i % 50);
      ua = UAS[0]!;
    } else if (r < 0.32) {
      ip = "198.51.100.23"; // rotates User-Agents
      url = `/product/${i}`;
      ua = `Mozilla/5.0 scraper build ${i % 40}`;
    } else {
      const v = Math.floor(rnd() * 5000);
      ip = `10.${(v >> 8) & 255}.${v & 255}.${1 + (v % 200)}`;
      url = rnd() < 0.4 ? `/static/app.${v % 30}.js` : `/page/${Math.floor(rnd() * 1000)}`;
      ua = UAS[v % UAS.length]!;
    }
    chunk.push(
      `${ip} - - [${timeLocal(t)}] "GET ${url} HTTP/1.1" 200 ${500 + (i % 4000)} "-" "${ua}"`,
    );
    if (chunk.length === 10_000) {
      await writer.write(encoder.encode(chunk.join("\n") + "\n"));
      chunk = [];
    }
  }
  if (chunk.length > 0) await writer.write(encoder.encode(chunk.join("\n") + "\n"));
  await writer.close();
}

/** One replay's figures: wall seconds, CPU seconds of this thread and of the process. */
interface Timed {
  seconds: number;
  thread: number;
  process: number;
  commands: Map<string, number>;
}

async function timed(fn: () => Promise<unknown>): Promise<Omit<Timed, "commands">> {
  const thread = threadCpuSeconds();
  const proc = processCpuSeconds();
  const t0 = performance.now();
  await fn();
  return {
    seconds: (performance.now() - t0) / 1000,
    thread: threadCpuSeconds() - thread,
    process: processCpuSeconds() - proc,
  };
}

/** `qts replay --log`'s path (readLogBatches → the session's input) on one configuration. */
async function replayOnce(
  path: string,
  input: "direct" | "socket",
  components: Record<string, unknown> = {},
): Promise<Timed> {
  const commands = new Map<string, number>();
  const session = await ReplaySession.start({
    input,
    config: { settings: {}, components, domains: new Map(), files: {} },
    onCommand: (cmd) => commands.set(cmd.rule_name, (commands.get(cmd.rule_name) ?? 0) + 1),
  });
  try {
    const figures = await timed(() => replayLogs(session, [path], { domain: 8984 }));
    return { ...figures, commands };
  } finally {
    await session.close();
  }
}

const OFF = { enabled: false };

/**
 * Prints lines/s of a generated combined log: parse only (the ceiling), the log reader thread
 * alone (read + parse + encode), then `qts replay --log` (direct input) with the default chain,
 * without Lua and without any filter, and the old path through loopback ZeroMQ. Each line
 * gives wall lines/s, its ratio to parse only, and CPU µs per line of the ingest thread (the
 * one core the chain runs on) and of the whole process (the reader thread parses beside it).
 */
export async function run(): Promise<void> {
  const lines = Number(Deno.env.get("QTS_BENCH_LINES") ?? 1_000_000);
  const dir = await Deno.makeTempDir({ prefix: "qts-replay-bench-" });
  const path = join(dir, "access.log");
  try {
    await writeLog(path, lines);
    const size = (await Deno.stat(path)).size;
    console.log(
      `log: ${fmt(lines)} lines, ${(size / 1e6).toFixed(1)} MB (QTS_BENCH_LINES to change); ` +
        `${navigator.hardwareConcurrency} cores; wall rates under the machine's load, ` +
        `ratios within this run`,
    );
    console.log(
      `${"".padEnd(44)} ${"lines/s".padStart(9)} ${"÷ parse".padStart(8)} ` +
        `${"µs CPU/line: ingest".padStart(20)} ${"process".padStart(8)}`,
    );
    let parseRate = 0;
    const row = (name: string, t: Omit<Timed, "commands">, extra = "") => {
      const rate = lines / t.seconds;
      if (parseRate === 0) parseRate = rate;
      console.log(
        `${name.padEnd(44)} ${fmt(rate).padStart(9)} ${
          (rate / parseRate).toFixed(2).padStart(7)
        }× ` +
          `${(t.thread * 1e6 / lines).toFixed(2).padStart(20)} ` +
          `${(t.process * 1e6 / lines).toFixed(2).padStart(8)}${extra}`,
      );
    };
    let parsed = 0;
    const parse = await timed(async () => {
      for await (const _ of readAccessLog(path, { domain: 8984 })) parsed++;
    });
    row("parse only (this thread)", parse);
    row(
      "read + parse + encode (reader thread)",
      await timed(async () => {
        for await (const _ of readLogBatches([path], { domain: 8984 })) { /* drain */ }
      }),
    );
    const rules = (c: Map<string, number>) =>
      `  [${[...c].map(([rule, n]) => `${rule} ${n}`).join(", ") || "no commands"}]`;
    const full = await replayOnce(path, "direct");
    row("replay --log, default chain", full, rules(full.commands));
    const noLua = await replayOnce(path, "direct", { lua: OFF });
    row("replay --log, default chain without Lua", noLua, rules(noLua.commands));
    const bare = await replayOnce(path, "direct", Object.fromEntries(FILTERS.map((f) => [f, OFF])));
    row("replay --log, no filter (decode, pipeline, lm)", bare);
    const socket = await replayOnce(path, "socket");
    row("replay through loopback ZeroMQ, default chain", socket, rules(socket.commands));
    // CPU rates do not move with the machine's load as wall rates do.
    console.log(
      `  one ingest core (its CPU time only), default chain: ${fmt(lines / full.thread)} ` +
        `lines/s, ${(parse.thread / full.thread).toFixed(2)}× parse only by CPU ` +
        `(${fmt(lines / parse.thread)} lines/s); through ZeroMQ ${fmt(lines / socket.thread)}\n` +
        `  direct ÷ socket, wall: ${(socket.seconds / full.seconds).toFixed(2)}×`,
    );
    if (parsed !== lines) console.log(`  (parsed ${parsed} of ${lines} lines)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every filter component (the "no filter" row turns them all off): all but lm and qpc. */
const FILTERS = COMPONENT_NAMES.filter((name) => name !== "lm" && name !== "qpc");

if (import.meta.main) await run();
