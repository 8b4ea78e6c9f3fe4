/**
 * `deno task bench replay`: an nginx `combined` access log through `qts replay --log`'s path —
 * parse only, then the whole sensor (embedded defaults, chains on the ingest thread, real
 * ZeroMQ on loopback) — in lines/s on one core. QTS_BENCH_LINES sets the log size (default
 * 200000; the issue's figure is for 1000000). The log is generated, so runs are comparable.
 * @module
 */
import { join } from "node:path";
import { readAccessLog } from "../../src/sensor/replay/read_access_log.ts";
import { ReplaySession } from "../../src/sensor/replay/replay_session.ts";

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
async function writeLog(path: string, lines: number): Promise<void> {
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

/** Prints parse and full-pipeline throughput of a generated combined log. */
export async function run(): Promise<void> {
  const lines = Number(Deno.env.get("QTS_BENCH_LINES") ?? 200_000);
  const dir = await Deno.makeTempDir({ prefix: "qts-replay-bench-" });
  const path = join(dir, "access.log");
  try {
    await writeLog(path, lines);
    const size = (await Deno.stat(path)).size;
    console.log(`log: ${lines} lines, ${(size / 1e6).toFixed(1)} MB (QTS_BENCH_LINES to change)`);

    let t0 = performance.now();
    let parsed = 0;
    for await (const _ of readAccessLog(path, { domain: 8984 })) parsed++;
    const parseS = (performance.now() - t0) / 1000;
    console.log(
      `parse only:     ${Math.round(parsed / parseS)} lines/s (${parseS.toFixed(2)} s)`,
    );

    const rules = new Map<string, number>();
    const session = await ReplaySession.start({
      onCommand: (cmd) => rules.set(cmd.rule_name, (rules.get(cmd.rule_name) ?? 0) + 1),
    });
    t0 = performance.now();
    let first = Infinity;
    let last = -Infinity;
    try {
      for await (const item of readAccessLog(path, { domain: 8984 })) {
        await session.send(item.domain, item.record);
        if (item.t < first) first = item.t;
        last = item.t;
      }
      await session.drain();
    } finally {
      await session.close();
    }
    const fullS = (performance.now() - t0) / 1000;
    console.log(
      `full replay:    ${Math.round(parsed / fullS)} lines/s (${fullS.toFixed(2)} s for ` +
        `${((last - first) / 3600).toFixed(2)} h of traffic; ` +
        `${((last - first) / fullS).toFixed(0)}× real time)`,
    );
    console.log(`parse share:    ${(parseS / fullS * 100).toFixed(0)} % of the full replay`);
    console.log(
      `commands:       ${
        [...rules].map(([rule, n]) => `${rule} ${n}`).join(", ") || "none"
      } (embedded default configuration)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
