import assert from "node:assert/strict";
import { analyzeCapture } from "../../../src/analyzer/analyze/mod.ts";
import type { Flow } from "../../../src/analyzer/flows/mod.ts";
import {
  addFieldBytes,
  assertSameConversations,
  conversationsOf,
  parseConversations,
} from "./_tshark.ts";

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
      addFieldBytes(theirs, new TextDecoder().decode(fields.stdout));

      const flows: Flow[] = [];
      const summary = await analyzeCapture(file, {}, (f) => flows.push(f));
      assert.equal(summary.error, undefined);
      const ours = conversationsOf(flows);

      const count = (p: string) => [...theirs.keys()].filter((k) => k.startsWith(p)).length;
      assert.ok(count("tcp") >= 7, "3 HTTP + 2 FTP control + 2 FTP data connections expected");
      assert.ok(count("udp") >= 5, "4 DNS-like exchanges and the final datagram expected");
      assertSameConversations(ours, theirs);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
