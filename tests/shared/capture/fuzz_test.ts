import assert from "node:assert/strict";
import { CaptureError, CaptureReader, decodePacket } from "../../../src/shared/capture/mod.ts";
import { flowFeatures, FlowTable } from "../../../src/analyzer/flows/mod.ts";
import { ethernet, type Frame, ipPacket, pcap, pcapng, sll2, TCP } from "./_capture_builder.ts";

const T0 = 1_700_000_000_000_000;

function baseFrames(wrap: (ip: Uint8Array) => Uint8Array): Frame[] {
  const out: Frame[] = [];
  const specs = [
    {
      src: "10.0.0.1",
      dst: "10.0.0.2",
      proto: "tcp" as const,
      sport: 1234,
      dport: 80,
      flags: TCP.SYN,
    },
    {
      src: "10.0.0.2",
      dst: "10.0.0.1",
      proto: "tcp" as const,
      sport: 80,
      dport: 1234,
      flags: TCP.SYN | TCP.ACK,
    },
    {
      src: "10.0.0.1",
      dst: "10.0.0.2",
      proto: "tcp" as const,
      sport: 1234,
      dport: 80,
      payload: 40,
    },
    {
      src: "2001:db8::1",
      dst: "2001:db8::2",
      proto: "udp" as const,
      sport: 5,
      dport: 6,
      payload: 20,
      ext: [0, 44],
    },
    {
      src: "10.0.0.3",
      dst: "10.0.0.4",
      proto: "icmp" as const,
      icmpType: 8,
      icmpId: 9,
      payload: 8,
    },
    {
      src: "10.0.0.1",
      dst: "10.0.0.2",
      proto: "udp" as const,
      sport: 53,
      dport: 53,
      frag: 0x2000 | 3,
    },
    {
      src: "10.0.0.2",
      dst: "10.0.0.1",
      proto: "tcp" as const,
      sport: 80,
      dport: 1234,
      flags: TCP.RST,
    },
  ];
  specs.forEach((s, i) => out.push({ tsUs: T0 + i * 700_000, data: wrap(ipPacket(s)) }));
  return out;
}

/** Deterministic xorshift32 so a failure names a reproducible iteration. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function mutate(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    const kind = next() % 7;
    const at = b.length === 0 ? 0 : next() % b.length;
    if (kind <= 1) {
      b[at] = next() & 255; // random byte
    } else if (kind === 2) {
      b[at] = b[at]! ^ (1 << (next() % 8)); // bit flip
    } else if (kind === 3) {
      b = b.subarray(0, at); // truncate
    } else if (kind === 4 && b.length >= 4) {
      // Extreme 32-bit value at an aligned spot (lengths, interface ids, timestamps).
      const v = [0, 1, 0xffffffff, 0x7fffffff, 0x10000, 12, 16][next() % 7]!;
      const o = at & ~3;
      if (o + 4 <= b.length) {
        new DataView(b.buffer, b.byteOffset).setUint32(o, v, (next() & 1) === 0);
      }
    } else if (kind === 5) {
      const len = next() % 64;
      const ins = Uint8Array.from({ length: len }, () => next() & 255);
      const c = new Uint8Array(b.length + len);
      c.set(b.subarray(0, at));
      c.set(ins, at);
      c.set(b.subarray(at), at + len);
      b = c;
    } else {
      const from = next() % Math.max(1, b.length);
      const len = Math.min(next() % 128, b.length - from);
      b = Uint8Array.from([
        ...b.subarray(0, at),
        ...b.subarray(from, from + len),
        ...b.subarray(at),
      ]);
    }
  }
  return b;
}

async function analyze(bytes: Uint8Array, streamed: boolean, readAhead = false): Promise<void> {
  let source: Uint8Array | { read(p: Uint8Array): Promise<number | null> } = bytes;
  if (streamed) {
    let at = 0;
    source = {
      read(p: Uint8Array) {
        if (at >= bytes.length) return Promise.resolve(null);
        const n = Math.min(p.length, bytes.length - at, 37);
        p.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      },
    };
  }
  const reader = new CaptureReader(source, { bufferBytes: 64, maxRecordBytes: 1 << 20, readAhead });
  const table = new FlowTable({ payloadBytes: 16, inspector: { inspect() {} } }, (f) => {
    flowFeatures(f);
  });
  await reader.forEach((v) => {
    if (decodePacket(v) === 0) table.add(v);
  });
  table.flush();
  const err = reader.error;
  if (err !== undefined) {
    assert.ok(err instanceof CaptureError);
    assert.ok(
      err.offset >= 0 && err.offset <= bytes.length,
      `offset ${err.offset} of ${bytes.length}`,
    );
  }
  assert.ok(reader.packets <= bytes.length / 12);
}

Deno.test("CaptureReader, decodePacket() and FlowTable survive 100k random mutations", async () => {
  const bases = [
    pcap(baseFrames((ip) => ethernet(ip, [7]))),
    pcap(baseFrames(sll2), { linkType: 276, nanos: true, bigEndian: true }),
    pcapng(
      [{ linkType: 1 }, { linkType: 101, tsresol: 9 }],
      baseFrames((ip) => ip).map((f, i) => ({
        iface: 1,
        ...f,
        ...(i === 2 ? { kind: "spb" as const, iface: 0, data: ethernet(f.data) } : {}),
      })),
    ),
  ];
  const next = rng(0x5eed);
  const iterations = 100_000;
  for (let i = 0; i < iterations; i++) {
    const base = bases[i % bases.length]!;
    const bytes = mutate(base, next);
    try {
      await analyze(bytes, i % 50 === 0, i % 100 === 0);
    } catch (error) {
      throw new Error(`Mutation ${i} (base ${i % bases.length}) crashed the analyzer`, {
        cause: error,
      });
    }
  }
});
