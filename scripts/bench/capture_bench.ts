/**
 * `deno task bench capture`: packets/s and peak RSS of the capture analyzer on a generated
 * capture (300 MB by default, `QTS_BENCH_CAPTURE_MB` for another size): read + decode (the
 * ceiling) and read + flows + features + CSV rows, each `QTS_BENCH_RUNS` times (3) in its own
 * process, with the ratio of each pair of runs and the targets of issue 19 (≥ 1.5M packets/s,
 * peak RSS < 200 MiB); then `tshark -z conv,tcp -z conv,udp` and `ndpiReader` on the same file.
 * The capture is generated once in /tmp and reused. Peak RSS is the child's VmHWM.
 */
import { CaptureReader } from "../../src/shared/capture/capture_reader.ts";
import { decodePacket } from "../../src/shared/capture/decode_packet.ts";
import { analyzeCapture } from "../../src/analyzer/analyze/analyze_capture.ts";
import { seedCsvRow } from "../../src/analyzer/analyze/feature_table.ts";
import { flowFeatures } from "../../src/analyzer/flows/flow_features.ts";

const HERE = new URL(import.meta.url).pathname;

interface Session {
  v6: boolean;
  proto: number;
  c: number;
  s: number;
  cPort: number;
  sPort: number;
  /** Packets still to send: [fromClient, tcpFlags, payload] triples. */
  script: number[];
  pos: number;
  seq: [number, number];
}

/** Deterministic PRNG (xorshift32): the same capture for the same size. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function newSession(r: () => number, id: number): Session {
  const roll = r();
  const script: number[] = [];
  if (roll < 0.8) {
    // TCP: handshake, a few request/response exchanges, FIN both ways, last ACK.
    script.push(1, 0x02, 0, 0, 0x12, 0, 1, 0x10, 0);
    const exchanges = 1 + Math.floor(r() * 4);
    for (let e = 0; e < exchanges; e++) {
      script.push(1, 0x18, 100 + Math.floor(r() * 500));
      const segments = Math.floor(r() ** 2 * 40);
      for (let k = 0; k < segments; k++) {
        script.push(0, 0x10, k === segments - 1 ? Math.floor(r() * 1448) : 1448);
        if (k % 2 === 1) script.push(1, 0x10, 0);
      }
    }
    script.push(1, 0x11, 0, 0, 0x11, 0, 1, 0x10, 0);
  } else {
    // UDP: a DNS-like exchange or a short QUIC-like burst.
    const n = roll < 0.95 ? 1 : 2 + Math.floor(r() * 20);
    for (let k = 0; k < n; k++) {
      script.push(1, 0, 40 + Math.floor(r() * 60), 0, 0, 100 + Math.floor(r() * 1100));
    }
  }
  return {
    v6: r() < 0.1,
    proto: roll < 0.8 ? 6 : 17,
    c: 0x0a000000 + Math.floor(r() * 65536),
    s: 0xac100000 + Math.floor(r() * 4096),
    cPort: 1024 + ((id * 7919) % 64000),
    sPort: roll < 0.8 ? (r() < 0.7 ? 443 : 80) : (roll < 0.95 ? 53 : 443),
    script,
    pos: 0,
    seq: [Math.floor(r() * 2 ** 32), Math.floor(r() * 2 ** 32)],
  };
}

/** Writes a synthetic Ethernet pcap of about `targetBytes` with interleaved TCP/UDP flows. */
export async function generateCapture(path: string, targetBytes: number): Promise<void> {
  const tmp = `${path}.partial`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(4 << 20);
  const dv = new DataView(chunk.buffer);
  let o = 0;
  let written = 0;
  const flush = async () => {
    for (let w = 0; w < o;) w += await file.write(chunk.subarray(w, o));
    written += o;
    o = 0;
  };
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, 1, true);
  o = 24;
  const r = rng(0xc0ffee);
  const pool: Session[] = [];
  let ids = 0;
  for (let i = 0; i < 3000; i++) pool.push(newSession(r, ids++));
  let ts = 1_700_000_000_000_000;
  while (written + o < targetBytes) {
    const i = Math.floor(r() * pool.length);
    const s = pool[i]!;
    const fromClient = s.script[s.pos]!;
    const flags = s.script[s.pos + 1]!;
    const payload = s.script[s.pos + 2]!;
    s.pos += 3;
    ts += 1 + Math.floor(r() * 40);
    const l4 = s.proto === 6 ? 20 : 8;
    const ipLen = (s.v6 ? 40 : 20) + l4 + payload;
    const frame = 14 + ipLen;
    if (o + 16 + frame > chunk.length) await flush();
    dv.setUint32(o, Math.floor(ts / 1e6), true);
    dv.setUint32(o + 4, ts % 1e6, true);
    dv.setUint32(o + 8, frame, true);
    dv.setUint32(o + 12, frame, true);
    let p = o + 16;
    dv.setUint32(p, 0x02000000, false);
    dv.setUint32(p + 4, 0x01020000, false);
    dv.setUint32(p + 8, 0x00000002, false);
    dv.setUint16(p + 12, s.v6 ? 0x86dd : 0x0800, false);
    p += 14;
    const src = fromClient ? s.c : s.s;
    const dst = fromClient ? s.s : s.c;
    if (s.v6) {
      dv.setUint32(p, 0x60000000, false);
      dv.setUint16(p + 4, l4 + payload, false);
      chunk[p + 6] = s.proto;
      chunk[p + 7] = 64;
      dv.setUint32(p + 8, 0x20010db8, false);
      dv.setUint32(p + 12, 0, false);
      dv.setUint32(p + 16, 0, false);
      dv.setUint32(p + 20, src, false);
      dv.setUint32(p + 24, 0x20010db8, false);
      dv.setUint32(p + 28, 0, false);
      dv.setUint32(p + 32, 0, false);
      dv.setUint32(p + 36, dst, false);
      p += 40;
    } else {
      dv.setUint16(p, 0x4500, false);
      dv.setUint16(p + 2, ipLen, false);
      dv.setUint32(p + 4, ((ids & 0xffff) << 16) | 0x4000, false);
      chunk[p + 8] = 64;
      chunk[p + 9] = s.proto;
      dv.setUint16(p + 10, 0, false);
      dv.setUint32(p + 12, src, false);
      dv.setUint32(p + 16, dst, false);
      p += 20;
    }
    dv.setUint16(p, fromClient ? s.cPort : s.sPort, false);
    dv.setUint16(p + 2, fromClient ? s.sPort : s.cPort, false);
    if (s.proto === 6) {
      const d = fromClient ? 0 : 1;
      dv.setUint32(p + 4, s.seq[d], false);
      dv.setUint32(p + 8, s.seq[1 - d]!, false);
      s.seq[d] = (s.seq[d] + payload + ((flags & 0x03) !== 0 ? 1 : 0)) >>> 0;
      chunk[p + 12] = 0x50;
      chunk[p + 13] = flags;
      dv.setUint32(p + 14, (0xffff << 16) | (ts & 0xffff), false);
      dv.setUint16(p + 18, 0, false);
    } else {
      dv.setUint16(p + 4, 8 + payload, false);
      dv.setUint16(p + 6, ts & 0xffff, false);
    }
    // Payload bytes are whatever the chunk held: realistic enough, and cheap.
    o = p + l4 + payload;
    if (s.pos >= s.script.length) pool[i] = newSession(r, ids++);
  }
  await flush();
  file.close();
  await Deno.rename(tmp, path);
}

interface Measured {
  seconds: number;
  /** User + system CPU seconds (GNU time), NaN without it: steadier than wall time on a busy host. */
  cpuSeconds: number;
  /** Peak resident set in MiB, or NaN when GNU time is missing. */
  rssMiB: number;
  stdout: string;
  ok: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command under GNU time (wall seconds, max RSS). */
async function measure(cmd: string, args: string[]): Promise<Measured> {
  const timeFile = await Deno.makeTempFile({ prefix: "qts-bench-time-" });
  const haveTime = await exists("/usr/bin/time");
  const start = performance.now();
  const out = await new Deno.Command(haveTime ? "/usr/bin/time" : cmd, {
    args: haveTime ? ["-f", "%e %M %U %S", "-o", timeFile, cmd, ...args] : args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - start) / 1000;
  let rssMiB = NaN;
  let cpuSeconds = NaN;
  if (haveTime) {
    const parts = (await Deno.readTextFile(timeFile)).trim().split("\n").pop()!.split(" ");
    rssMiB = Number(parts[1]) / 1024;
    cpuSeconds = Number(parts[2]) + Number(parts[3]);
  }
  await Deno.remove(timeFile);
  return {
    seconds: wall,
    cpuSeconds,
    rssMiB,
    stdout: new TextDecoder().decode(out.stdout),
    ok: out.success,
  };
}

function line(name: string, packets: number, seconds: number, m: Measured, note = ""): void {
  const pps = Math.round(packets / seconds).toLocaleString("en-US");
  const rss = Number.isNaN(m.rssMiB) ? "n/a" : `${m.rssMiB.toFixed(0)} MiB`;
  const cpu = Number.isNaN(m.cpuSeconds) ? "n/a" : `${m.cpuSeconds.toFixed(2)} s`;
  const tail = note ? `  (${note})` : "";
  console.log(
    `${name.padEnd(40)} ${pps.padStart(11)} packets/s ${seconds.toFixed(2).padStart(7)} s` +
      `  process CPU ${cpu.padStart(7)}  peak RSS ${rss.padStart(8)}${tail}`,
  );
}

function ratios(tool: string, theirs: Measured, ours: Measured): void {
  const f = (a: number, b: number) => (a / b).toFixed(1);
  console.log(
    `ratio ${tool} / qts flows: wall ${f(theirs.seconds, ours.seconds)}×, CPU ${
      f(theirs.cpuSeconds, ours.cpuSeconds)
    }×, peak RSS ${f(theirs.rssMiB, ours.rssMiB)}×`,
  );
}

async function whyNoNdpi(): Promise<string> {
  try {
    await new Deno.Command("ndpiReader", { args: ["-h"], stdout: "null", stderr: "null" }).output();
    return "";
  } catch {
    const policy = await new Deno.Command("apt-cache", {
      args: ["policy", "libndpi-bin"],
      stdout: "piped",
    })
      .output().then((o) =>
        new TextDecoder().decode(o.stdout).trim().split("\n").slice(0, 3).join("; ")
      )
      .catch(() => "apt-cache unavailable");
    return `ndpiReader not installed (Debian package libndpi-bin: ${policy})`;
  }
}

/** Benchmark entry point for `deno task bench capture`. */
export async function run(): Promise<void> {
  const mb = Number(Deno.env.get("QTS_BENCH_CAPTURE_MB") ?? "300");
  if (!(mb > 0)) throw new RangeError(`QTS_BENCH_CAPTURE_MB must be a positive number, got ${mb}`);
  const path = `/tmp/qts-bench-capture-${mb}MB.pcap`;
  if (!(await exists(path))) {
    console.log(`generating ${path} (${mb} MB) …`);
    const t = performance.now();
    await generateCapture(path, mb * 1024 * 1024);
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const size = (await Deno.stat(path)).size;
  console.log(`capture: ${path}, ${(size / 1048576).toFixed(0)} MiB`);

  const deno = Deno.execPath();
  const child = (mode: string) => measure(deno, ["run", "--allow-read", HERE, "child", mode, path]);
  const runs = Math.max(1, Number(Deno.env.get("QTS_BENCH_RUNS") ?? "3"));
  const reads: number[] = [], fulls: number[] = [], perRun: number[] = [], rss: number[] = [];
  let packets = 0, flows = 0;
  let full: Measured | undefined;
  for (let i = 0; i < runs; i++) {
    // Alternate the two so load from other processes falls on both alike.
    const read = await child("read");
    const r = JSON.parse(read.stdout) as ChildResult;
    full = await child("flows");
    const f = JSON.parse(full.stdout) as ChildResult;
    packets = r.packets;
    flows = f.flows ?? 0;
    reads.push(r.packets / r.seconds);
    fulls.push(f.packets / f.seconds);
    perRun.push(reads.at(-1)! / fulls.at(-1)!);
    rss.push(f.peakRssMiB);
    line(`run ${i + 1}: read + decode`, r.packets, r.seconds, read, `peak RSS ${r.peakRssMiB} MiB`);
    line(
      `run ${i + 1}: read + flows + features + CSV`,
      f.packets,
      f.seconds,
      full,
      `${flows} flows`,
    );
  }
  console.log(
    `packets: ${packets.toLocaleString("en-US")}, ${
      (size / packets).toFixed(0)
    } bytes/packet on average; ${flows.toLocaleString("en-US")} flows`,
  );
  const range = (v: number[], f: (n: number) => string) =>
    `${f(Math.min(...v))}–${f(Math.max(...v))}`;
  const mpps = (n: number) => `${(n / 1e6).toFixed(2)}M`;
  console.log(`read + decode (ceiling)                  ${range(reads, mpps)} packets/s`);
  console.log(
    `read + flows + features + CSV rows       ${range(fulls, mpps)} packets/s  target ≥ 1.50M: ${
      Math.max(...fulls) >= 1.5e6
        ? (Math.min(...fulls) >= 1.5e6 ? "met" : "met in some runs")
        : "NOT met"
    }`,
  );
  console.log(
    `ratio read / full, per run                ${range(perRun, (n) => `${n.toFixed(2)}×`)}`,
  );
  console.log(
    `peak RSS, read + flows + features        ${
      range(rss, (n) => `${n.toFixed(0)}`)
    } MiB  target < 200 MiB: ${Math.max(...rss) < 200 ? "met" : "NOT met"}`,
  );

  if (Deno.env.get("QTS_BENCH_SKIP_TSHARK")) {
    console.log("tshark: skipped (QTS_BENCH_SKIP_TSHARK set)");
  } else {
    const tshark = await measure("tshark", ["-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp"])
      .catch(() => undefined);
    if (tshark?.ok) {
      line("tshark -q -z conv,tcp -z conv,udp", packets, tshark.seconds, tshark, "process wall");
      ratios("tshark", tshark, full!);
    } else console.log("tshark: skipped (not installed or failed)");
  }
  const noNdpi = await whyNoNdpi();
  if (noNdpi) console.log(`ndpiReader: skipped: ${noNdpi}`);
  else {
    const ndpi = await measure("ndpiReader", ["-i", path, "-q"]);
    if (ndpi.ok) {
      line("ndpiReader -i FILE -q", packets, ndpi.seconds, ndpi, "process wall");
      ratios("ndpiReader", ndpi, full!);
    } else console.log("ndpiReader: failed on the capture");
  }
}

/** What a child process prints (one JSON line). */
interface ChildResult {
  packets: number;
  seconds: number;
  flows?: number;
  /** The child's peak resident set (VmHWM), MiB. */
  peakRssMiB: number;
}

/** Samples `Deno.memoryUsage().rss` every 5 ms (and on demand); `peak()` is the largest, MiB.
 * (/proc/self/status's VmHWM would need --allow-all.) */
function rssSampler(): { sample(): void; peak(): number; stop(): void } {
  let max = 0;
  const sample = () => {
    max = Math.max(max, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, 5);
  return {
    sample,
    peak: () => Math.round(max / 1048576),
    stop: () => clearInterval(timer),
  };
}

async function childMain(mode: string, path: string): Promise<void> {
  const rss = rssSampler();
  const start = performance.now();
  if (mode === "read") {
    const file = await Deno.open(path);
    const reader = new CaptureReader(file, { sizeBytes: (await file.stat()).size });
    let decoded = 0;
    await reader.forEach((v) => {
      if (decodePacket(v) === 0) decoded++;
    });
    file.close();
    const seconds = (performance.now() - start) / 1000;
    rss.sample();
    rss.stop();
    console.log(JSON.stringify({
      packets: reader.packets,
      decoded,
      seconds,
      peakRssMiB: rss.peak(),
      error: reader.error?.message,
    }));
    return;
  }
  let chars = 0;
  const summary = await analyzeCapture(path, {}, (flow) => {
    chars += seedCsvRow(flowFeatures(flow), flow.label).length;
  });
  const seconds = (performance.now() - start) / 1000;
  rss.sample();
  rss.stop();
  console.log(JSON.stringify({
    packets: summary.packets,
    flows: summary.flows,
    seconds,
    chars,
    peakRssMiB: rss.peak(),
  }));
}

if (import.meta.main && Deno.args[0] === "child") {
  await childMain(Deno.args[1]!, Deno.args[2]!);
}
