import assert from "node:assert/strict";
import { analyzeCapture } from "../../src/analyze/mod.ts";
import type { Flow } from "../../src/flows/mod.ts";

/** Why the comparison cannot run here, or "" when tcpdump, tshark and curl are usable. */
async function missingTools(): Promise<string> {
  if (Deno.build.os !== "linux") return "needs Linux loopback capture";
  for (const tool of ["tcpdump", "tshark", "curl"]) {
    try {
      await new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
    } catch {
      return `${tool} is not installed (apt-get install tcpdump tshark curl)`;
    }
  }
  const uid = Deno.uid();
  if (uid !== 0) return "capturing on lo needs root";
  return "";
}

const missing = await missingTools();
if (missing) console.warn(`tshark comparison skipped: ${missing}`);

const HELPER = new URL("./_loopback_traffic.ts", import.meta.url).pathname;

interface Totals {
  ab: number;
  ba: number;
  bytes: number;
}

/** Parses `tshark -q -z conv,tcp -z conv,udp` (frames per direction; bytes as displayed). */
function parseConversations(text: string): Map<string, Totals & { shownBytes: string }> {
  const out = new Map<string, Totals & { shownBytes: string }>();
  let proto = "";
  const size = String.raw`(\d+ (?:bytes|kB|MB|GB))`;
  const row = new RegExp(
    String.raw`^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) ${size}\s+(\d+) ${size}\s+(\d+) ${size}`,
  );
  for (const line of text.split("\n")) {
    if (line.startsWith("TCP Conversations")) proto = "tcp";
    else if (line.startsWith("UDP Conversations")) proto = "udp";
    const m = row.exec(line);
    if (!m) continue;
    const [, a, pa, b, pb, ba, , ab, , total, shown] = m;
    const key = convKey(proto, `${a}:${pa}`, `${b}:${pb}`);
    // "<-" is B→A, "->" is A→B; store as seen from the lexically smaller endpoint.
    const aFirst = `${a}:${pa}` <= `${b}:${pb}`;
    assert.equal(Number(ab) + Number(ba), Number(total));
    out.set(key, {
      ab: aFirst ? Number(ab) : Number(ba),
      ba: aFirst ? Number(ba) : Number(ab),
      bytes: 0,
      shownBytes: shown!,
    });
  }
  return out;
}

function convKey(proto: string, x: string, y: string): string {
  return x <= y ? `${proto} ${x} ${y}` : `${proto} ${y} ${x}`;
}

/** Value range a tshark size string stands for (it truncates to whole kB/MB). */
function sizeRange(shown: string): [number, number] {
  const [n, unit] = shown.split(" ") as [string, string];
  const mult = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[unit]!;
  return mult === 1 ? [Number(n), Number(n)] : [Number(n) * mult, (Number(n) + 1) * mult];
}

const SENTINEL = new TextEncoder().encode("QTS-END-OF-TRAFFIC");

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Resolves `p`, or rejects after `ms` with `what`. */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Captures the helper's traffic with tcpdump. tcpdump writes the pcap to stdout, which we copy to
 * `file` while watching for the helper's last datagram, so we stop tcpdump only once every packet
 * is on disk (no sleeps).
 */
async function capture(file: string): Promise<void> {
  const tcpdump = new Deno.Command("tcpdump", {
    args: ["-i", "lo", "-n", "-U", "--immediate-mode", "-w", "-", "host", "127.77.0.1"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let log = "";
  let listening!: () => void;
  let sawSentinel!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const done = new Promise<void>((resolve) => (sawSentinel = resolve));
  const logDrained = (async () => {
    for await (const chunk of tcpdump.stderr) {
      log += decoder.decode(chunk);
      if (log.includes("listening on")) listening();
    }
  })();
  const out = await Deno.open(file, { write: true, create: true, truncate: true });
  const copied = (async () => {
    let tail = new Uint8Array(0);
    for await (const chunk of tcpdump.stdout) {
      for (let o = 0; o < chunk.length;) o += await out.write(chunk.subarray(o));
      const window = new Uint8Array(tail.length + chunk.length);
      window.set(tail);
      window.set(chunk, tail.length);
      if (contains(window, SENTINEL)) sawSentinel();
      tail = window.slice(Math.max(0, window.length - SENTINEL.length));
    }
  })();
  try {
    await within(ready, 10_000, () => `tcpdump did not start within 10 s: ${log}`);
    const traffic = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.77.0.1", "--allow-run=curl", HELPER],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(90_000),
    }).output();
    assert.ok(traffic.success, `traffic helper failed: ${decoder.decode(traffic.stderr)}`);
    await within(done, 10_000, () => `tcpdump did not record the final datagram: ${log}`);
  } finally {
    tcpdump.kill("SIGINT");
    await tcpdump.status;
    await copied;
    await logDrained;
    out.close();
  }
}

Deno.test({
  name:
    "analyzeCapture() agrees with tshark conv,tcp/conv,udp on a real loopback capture (HTTP, UDP, FTP)",
  ignore: missing !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-tshark-" });
    try {
      const file = `${dir}/lo.pcap`;
      await capture(file);

      const conv = await new Deno.Command("tshark", {
        args: ["-r", file, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
        stdout: "piped",
        stderr: "null",
      }).output();
      assert.ok(conv.success);
      const theirs = parseConversations(new TextDecoder().decode(conv.stdout));

      // Exact per-conversation frame bytes from tshark's own dissection.
      const fields = await new Deno.Command("tshark", {
        args: [
          "-r",
          file,
          "-Y",
          "(tcp or udp) and not icmp",
          "-T",
          "fields",
          "-E",
          "separator=,",
          "-e",
          "ip.src",
          "-e",
          "ip.dst",
          "-e",
          "tcp.srcport",
          "-e",
          "tcp.dstport",
          "-e",
          "udp.srcport",
          "-e",
          "udp.dstport",
          "-e",
          "frame.len",
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      for (const line of new TextDecoder().decode(fields.stdout).trim().split("\n")) {
        const [src, dst, ts, td, us, ud, len] = line.split(",");
        const proto = ts ? "tcp" : "udp";
        const key = convKey(proto, `${src}:${ts || us}`, `${dst}:${td || ud}`);
        const t = theirs.get(key);
        assert.ok(t, `tshark fields list ${key} but its conversation table does not`);
        t.bytes += Number(len);
      }

      const ours = new Map<string, Totals>();
      const flows: Flow[] = [];
      const summary = await analyzeCapture(file, {}, (f) => flows.push(f));
      assert.equal(summary.error, undefined);
      for (const f of flows) {
        const proto = f.protocol === 6 ? "tcp" : f.protocol === 17 ? "udp" : "";
        if (!proto) continue;
        const src = `${f.srcAddress}:${f.srcPort}`;
        const dst = `${f.dstAddress}:${f.dstPort}`;
        const key = convKey(proto, src, dst);
        const t = ours.get(key) ?? { ab: 0, ba: 0, bytes: 0 };
        const srcFirst = src <= dst;
        t.ab += srcFirst ? f.packets[0] : f.packets[1];
        t.ba += srcFirst ? f.packets[1] : f.packets[0];
        t.bytes += f.frameBytes[0] + f.frameBytes[1];
        ours.set(key, t);
      }

      const count = (p: string) => [...theirs.keys()].filter((k) => k.startsWith(p)).length;
      assert.ok(count("tcp") >= 7, "3 HTTP + 2 FTP control + 2 FTP data connections expected");
      assert.ok(count("udp") >= 5, "4 DNS-like exchanges and the final datagram expected");
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
      for (const [key, t] of theirs) {
        const o = ours.get(key)!;
        assert.deepEqual([o.ab, o.ba], [t.ab, t.ba], `frames per direction of ${key}`);
        assert.equal(o.bytes, t.bytes, `bytes of ${key}`);
        const [lo, hi] = sizeRange(t.shownBytes);
        assert.ok(
          o.bytes >= lo && o.bytes <= hi,
          `${key}: ${o.bytes} vs tshark's "${t.shownBytes}"`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
