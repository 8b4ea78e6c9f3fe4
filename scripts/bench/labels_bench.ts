/**
 * `deno task bench labels`: flows per second labelled by `labelFlows()` (signatures, sessions,
 * classifier fallback) over a generated capture of mixed applications and over the committed
 * application captures, next to the same analysis without labels; the size of the model and
 * label configuration the binary embeds. Figures only, no pass/fail on timing.
 */
import { analyzeCapture } from "../../src/analyzer/analyze/analyze_capture.ts";
import { labelFlows } from "../../src/analyzer/classify/label_flows.ts";
import { builtinModels } from "../../src/analyzer/classify/model/classify_flow.ts";
import { matchSignatures } from "../../src/analyzer/classify/signatures/match_signatures.ts";
import { fmt, ratio, report } from "./_measure.ts";

const enc = new TextEncoder();

function ipv4(a: number): number[] {
  return [10, 200, (a >> 8) & 255, a & 255];
}

/** Ethernet + IPv4 + TCP/UDP frame. */
function frame(
  proto: 6 | 17,
  src: number,
  dst: number,
  sport: number,
  dport: number,
  payload: Uint8Array,
  flags = 0x18,
  seq = 0,
): Uint8Array {
  const l4 = proto === 6 ? 20 : 8;
  const total = 20 + l4 + payload.length;
  const b = new Uint8Array(14 + total);
  b[12] = 0x08;
  b.set([0x45, 0, total >> 8, total & 255, 0, 0, 0x40, 0, 64, proto], 14);
  b.set(ipv4(src), 26);
  b.set(ipv4(dst), 30);
  const o = 34;
  b.set([sport >> 8, sport & 255, dport >> 8, dport & 255], o);
  if (proto === 6) {
    new DataView(b.buffer).setUint32(o + 4, seq);
    b[o + 12] = 5 << 4;
    b[o + 13] = flags;
    b[o + 14] = 0xff;
  } else {
    b[o + 4] = (8 + payload.length) >> 8;
    b[o + 5] = (8 + payload.length) & 255;
  }
  b.set(payload, o + l4);
  return b;
}

function pcapOf(frames: { ts: number; data: Uint8Array }[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 65535, true);
  dv.setUint32(20, 1, true);
  let p = 24;
  for (const f of frames) {
    dv.setUint32(p, Math.floor(f.ts / 1e6), true);
    dv.setUint32(p + 4, f.ts % 1e6, true);
    dv.setUint32(p + 8, f.data.length, true);
    dv.setUint32(p + 12, f.data.length, true);
    out.set(f.data, p + 16);
    p += 16 + f.data.length;
  }
  return out;
}

/** `flows` flows in rotation: HTTP, TLS with SNI, DNS, SSH, FTP control, unknown binary. */
function mixedCapture(flows: number): Uint8Array {
  const frames: { ts: number; data: Uint8Array }[] = [];
  const host = (i: number) => `h${i % 97}.vk.com`;
  let ts = 1_700_000_000_000_000;
  for (let i = 0; i < flows; i++) {
    const c = 1 + (i % 4000);
    const s = 60000 + (i % 50);
    const sport = 1024 + (i % 60000);
    const kind = i % 6;
    ts += 50;
    if (kind === 2) {
      const q = Uint8Array.from([
        i >> 8 & 255,
        i & 255,
        1,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        2,
        118,
        107,
        3,
        99,
        111,
        109,
        0,
        0,
        1,
        0,
        1,
      ]);
      const r = q.slice();
      r[2] = 0x81;
      r[3] = 0x80;
      frames.push({ ts, data: frame(17, c, s, sport, 53, q) });
      frames.push({ ts: ts + 300, data: frame(17, s, c, 53, sport, r) });
      continue;
    }
    const [dport, fwd, bwd] = kind === 0
      ? [
        80,
        enc.encode(`GET /p${i} HTTP/1.1\r\nHost: ${host(i)}\r\nUser-Agent: bench\r\n\r\n`),
        enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      ]
      : kind === 1
      ? [443, tlsHello(host(i)), Uint8Array.from([0x16, 3, 3, 0, 60, 2, 0, 0, 56, 3, 3])]
      : kind === 3
      ? [22, enc.encode("SSH-2.0-OpenSSH_9.2p1\r\n"), enc.encode("SSH-2.0-OpenSSH_9.2p1\r\n")]
      : kind === 4
      ? [21, enc.encode("USER anonymous\r\n"), enc.encode("220 (vsFTPd 3.0.3)\r\n")]
      : [
        9000 + (i % 100),
        Uint8Array.from({ length: 200 }, (_, k) => (k * 31 + i) & 255),
        Uint8Array.from({ length: 300 }, (_, k) => (k * 7 + i) & 255),
      ];
    const t = (d: number) => ts + d;
    frames.push({ ts: t(0), data: frame(6, c, s, sport, dport, new Uint8Array(0), 0x02, 100) });
    frames.push({ ts: t(100), data: frame(6, s, c, dport, sport, new Uint8Array(0), 0x12, 500) });
    if (kind === 4) {
      frames.push({ ts: t(200), data: frame(6, s, c, dport, sport, bwd, 0x18, 501) });
      frames.push({ ts: t(300), data: frame(6, c, s, sport, dport, fwd, 0x18, 101) });
    } else {
      frames.push({ ts: t(200), data: frame(6, c, s, sport, dport, fwd, 0x18, 101) });
      frames.push({ ts: t(300), data: frame(6, s, c, dport, sport, bwd, 0x18, 501) });
    }
    frames.push({
      ts: t(400),
      data: frame(6, c, s, sport, dport, new Uint8Array(0), 0x11, 101 + fwd.length),
    });
    frames.push({
      ts: t(500),
      data: frame(6, s, c, dport, sport, new Uint8Array(0), 0x11, 501 + bwd.length),
    });
  }
  frames.sort((a, b) => a.ts - b.ts);
  return pcapOf(frames);
}

function tlsHello(sni: string): Uint8Array {
  const name = [...enc.encode(sni)];
  const ext = [0, 0, 0, name.length + 5, 0, name.length + 3, 0, 0, name.length, ...name];
  const body = [
    3,
    3,
    ...new Array(32).fill(1),
    0,
    0,
    4,
    0x13,
    1,
    0x13,
    2,
    1,
    0,
    0,
    ext.length,
    ...ext,
  ];
  const hs = [1, 0, body.length >> 8, body.length & 255, ...body];
  return Uint8Array.from([0x16, 3, 1, hs.length >> 8, hs.length & 255, ...hs]);
}

async function flowsPerSecond(
  capture: Uint8Array,
  label: "off" | "signatures" | "full",
  minMs = 1500,
): Promise<[number, number]> {
  let flows = 0;
  let labelled = 0;
  const run = async () => {
    const labeler = label === "off" ? undefined : labelFlows({ classify: label === "full" });
    await analyzeCapture(capture, labeler ? { labeler } : {}, (f) => {
      flows++;
      if (f.label !== "") labelled++;
    });
  };
  await run(); // warm-up
  flows = labelled = 0;
  const start = performance.now();
  let passes = 0;
  while (performance.now() - start < minMs || passes < 2) {
    await run();
    passes++;
  }
  const seconds = (performance.now() - start) / 1000;
  return [flows / seconds, labelled / Math.max(1, flows)];
}

/** Prints labelling throughput and the embedded model's size. */
export async function run(): Promise<void> {
  const modelBytes =
    (await Deno.stat(new URL("../../src/analyzer/classify/model/iscx_model.json", import.meta.url)))
      .size;
  const labelsBytes = (await Deno.stat(new URL("../../config/labels.yaml", import.meta.url))).size;
  const models = builtinModels();
  const trees = models.models.reduce((n, m) => n + m.booster.trees.length, 0);
  report(
    "embedded classifier model (JSON)",
    modelBytes / 1024,
    `KiB, ${models.models.length} models, ${trees} trees`,
  );
  report("embedded config/labels.yaml", labelsBytes, "bytes");
  report("payload kept per flow direction (max)", labelFlows().payloadBytes, "bytes");

  const mixed = mixedCapture(20_000);
  console.log(
    `\ngenerated capture: 20,000 flows (HTTP, TLS+SNI, DNS, SSH, FTP, unknown), ${
      fmt(mixed.length / 1024)
    } KiB`,
  );
  const [off] = await flowsPerSecond(mixed, "off");
  const [sig, sigShare] = await flowsPerSecond(mixed, "signatures");
  const [full, fullShare] = await flowsPerSecond(mixed, "full");
  report("analyze, no labels", off, "flows/s");
  report(
    "analyze + signatures + sessions",
    sig,
    `flows/s (${(sigShare * 100).toFixed(1)} % labelled)`,
  );
  report(
    "analyze + signatures + classifier fallback",
    full,
    `flows/s (${(fullShare * 100).toFixed(1)} % labelled)`,
  );
  ratio("signatures cost (no labels / signatures)", off / sig);
  ratio("classifier fallback cost (signatures / full)", sig / full);

  // The committed application captures, decompressed once.
  const dir = new URL("../../tests/fixtures/captures/apps/", import.meta.url);
  const parts: Uint8Array[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".pcap.gz")) continue;
    const gz = await Deno.readFile(new URL(e.name, dir));
    parts.push(
      new Uint8Array(
        await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")))
          .arrayBuffer(),
      ),
    );
  }
  if (parts.length > 0) {
    let flows = 0;
    const start = performance.now();
    let passes = 0;
    while (performance.now() - start < 1000 || passes < 2) {
      for (const p of parts) await analyzeCapture(p, { labeler: labelFlows() }, () => flows++);
      passes++;
    }
    report(
      `committed app captures (${parts.length} files, ${flows / passes} flows)`,
      flows / ((performance.now() - start) / 1000),
      "flows/s",
    );
  }

  // Signature matching alone, per flow.
  const inputs = [
    {
      protocol: 6,
      fwd: enc.encode("GET / HTTP/1.1\r\nHost: vk.com\r\nUser-Agent: x\r\n\r\n"),
      bwd: new Uint8Array(0),
      srcPort: 40000,
      dstPort: 80,
    },
    {
      protocol: 6,
      fwd: tlsHello("www.facebook.com"),
      bwd: new Uint8Array(0),
      srcPort: 40000,
      dstPort: 443,
    },
    {
      protocol: 6,
      fwd: Uint8Array.from({ length: 1024 }, (_, k) => (k * 31) & 255),
      bwd: Uint8Array.from({ length: 1024 }, (_, k) => (k * 7) & 255),
      srcPort: 40000,
      dstPort: 9000,
    },
  ];
  for (
    const [name, input] of [["HTTP", inputs[0]!], ["TLS", inputs[1]!], [
      "unknown 2×1 KiB (all signatures fail)",
      inputs[2]!,
    ]] as const
  ) {
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) matchSignatures(input);
    const t = performance.now();
    for (let i = 0; i < n; i++) matchSignatures(input);
    report(`matchSignatures, ${name}`, n / ((performance.now() - t) / 1000), "flows/s");
  }
}
