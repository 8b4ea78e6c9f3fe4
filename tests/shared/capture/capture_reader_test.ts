import assert from "node:assert/strict";
import {
  CaptureError,
  CaptureReader,
  decodePacket,
  formatAddress,
} from "../../../src/shared/capture/mod.ts";
import type { PacketView } from "../../../src/shared/capture/mod.ts";
import {
  ethernet,
  type Frame,
  ipPacket,
  nullLoop,
  pcap,
  pcapng,
  sll,
  sll2,
  TCP,
} from "./_capture_builder.ts";

interface Seen {
  fileOffset?: number;
  tsUs: number;
  capLen: number;
  origLen: number;
  linkType: number;
  interfaceId: number;
  skip: number;
  src: string;
  dst: string;
  protocol: number;
  sport: number;
  dport: number;
  flags: number;
  ipTotalLen: number;
  payloadLength: number;
  vlanTags: number;
}

function snapshot(v: PacketView): Seen {
  decodePacket(v);
  return {
    tsUs: v.tsUs,
    capLen: v.capLen,
    origLen: v.origLen,
    linkType: v.linkType,
    interfaceId: v.interfaceId,
    skip: v.skip,
    src: formatAddress(v.src, v.ipVersion),
    dst: formatAddress(v.dst, v.ipVersion),
    protocol: v.protocol,
    sport: v.srcPort,
    dport: v.dstPort,
    flags: v.tcpFlags,
    ipTotalLen: v.ipTotalLen,
    payloadLength: v.payloadLength,
    vlanTags: v.vlanTags,
  };
}

async function readAll(
  source: Uint8Array | { read(p: Uint8Array): Promise<number | null> },
  opts: { bufferBytes?: number; readAhead?: boolean } = {},
): Promise<{ seen: Seen[]; reader: CaptureReader }> {
  const reader = new CaptureReader(source, opts);
  const seen: Seen[] = [];
  await reader.forEach((v) => seen.push({ ...snapshot(v), fileOffset: v.fileOffset }));
  return { seen, reader };
}

/** A source handing out `file` in reads of varying odd sizes (at most `cap` bytes each). */
function oddReads(file: Uint8Array, cap = 13): { read(p: Uint8Array): Promise<number | null> } {
  let at = 0;
  let step = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= file.length) return Promise.resolve(null);
      const n = Math.min(p.length, file.length - at, 1 + (step++ * 7) % cap);
      p.set(file.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

const T0 = 1_700_000_000_000_000;
const syn = ipPacket({
  src: "10.0.0.1",
  dst: "10.0.0.2",
  proto: "tcp",
  sport: 40000,
  dport: 80,
  flags: TCP.SYN,
});
const synAck = ipPacket({
  src: "10.0.0.2",
  dst: "10.0.0.1",
  proto: "tcp",
  sport: 80,
  dport: 40000,
  flags: TCP.SYN | TCP.ACK,
});
const udp = ipPacket({
  src: "192.168.1.5",
  dst: "8.8.8.8",
  proto: "udp",
  sport: 5353,
  dport: 53,
  payload: 30,
});
const v6 = ipPacket({
  src: "2001:db8::1",
  dst: "2001:db8::2",
  proto: "udp",
  sport: 1000,
  dport: 2000,
  payload: 12,
  ext: [0, 60],
});

const frames: Frame[] = [
  { tsUs: T0, data: ethernet(syn) },
  { tsUs: T0 + 1500, data: ethernet(synAck) },
  { tsUs: T0 + 2_000_001, data: ethernet(udp) },
  { tsUs: T0 + 3_000_000, data: ethernet(v6) },
];

function checkCommon(seen: Seen[]): void {
  assert.equal(seen.length, 4);
  assert.deepEqual(seen.map((s) => s.tsUs), [T0, T0 + 1500, T0 + 2_000_001, T0 + 3_000_000]);
  assert.deepEqual(
    seen.map((s) => [s.src, s.sport, s.dst, s.dport, s.protocol]),
    [
      ["10.0.0.1", 40000, "10.0.0.2", 80, 6],
      ["10.0.0.2", 80, "10.0.0.1", 40000, 6],
      ["192.168.1.5", 5353, "8.8.8.8", 53, 17],
      ["2001:db8::1", 1000, "2001:db8::2", 2000, 17],
    ],
  );
  assert.equal(seen[0]!.flags, TCP.SYN);
  assert.equal(seen[1]!.flags, TCP.SYN | TCP.ACK);
  assert.equal(seen[2]!.ipTotalLen, 20 + 8 + 30);
  assert.equal(seen[2]!.payloadLength, 30);
  // IPv6: 40-byte header + two 8-byte extension headers + UDP 8 + 12 payload.
  assert.equal(seen[3]!.ipTotalLen, 40 + 16 + 8 + 12);
  assert.equal(seen[3]!.payloadLength, 12);
  assert.ok(seen.every((s) => s.skip === 0));
}

Deno.test("CaptureReader reads a little-endian microsecond pcap", async () => {
  const { seen, reader } = await readAll(pcap(frames));
  assert.equal(reader.format, "pcap");
  assert.equal(reader.error, undefined);
  checkCommon(seen);
  assert.equal(seen[0]!.capLen, 14 + 40);
});

Deno.test("CaptureReader reads nanosecond and big-endian pcaps to the same microseconds", async () => {
  checkCommon((await readAll(pcap(frames, { nanos: true }))).seen);
  checkCommon((await readAll(pcap(frames, { bigEndian: true }))).seen);
  checkCommon((await readAll(pcap(frames, { bigEndian: true, nanos: true }))).seen);
});

Deno.test("CaptureReader reads pcapng with two interfaces of different tsresol, SPB and OPB", async () => {
  const raw = (p: Uint8Array) => p;
  const file = pcapng(
    [{ linkType: 1 }, { linkType: 101, tsresol: 9 }],
    [
      { iface: 0, tsUs: T0, data: ethernet(syn) },
      { iface: 1, tsUs: T0 + 1500, data: raw(synAck) },
      { iface: 1, tsUs: T0 + 2_000_001, data: raw(udp), kind: "opb" },
      { iface: 0, tsUs: T0 + 3_000_000, data: ethernet(v6) },
      { iface: 0, tsUs: 0, data: ethernet(udp), kind: "spb" },
    ],
  );
  const { seen, reader } = await readAll(file);
  assert.equal(reader.format, "pcapng");
  assert.equal(reader.error, undefined);
  assert.equal(reader.skippedBlocks, 1);
  checkCommon(seen.slice(0, 4));
  assert.deepEqual(seen.map((s) => s.interfaceId), [0, 1, 1, 0, 0]);
  assert.deepEqual(seen.map((s) => s.linkType), [1, 101, 101, 1, 1]);
  // A simple packet block has no timestamp: it inherits the previous one.
  assert.equal(seen[4]!.tsUs, T0 + 3_000_000);
  assert.equal(seen[4]!.src, "192.168.1.5");
});

Deno.test("CaptureReader reads big-endian pcapng with binary if_tsresol", async () => {
  // 2^-20 s units; timestamps that are multiples of 15625 µs convert exactly.
  const file = pcapng([{ linkType: 1, tsresol: 0x80 | 20 }], [
    { iface: 0, tsUs: 1_600_000_000_015_625, data: ethernet(udp) },
    { iface: 0, tsUs: 1_600_000_001_000_000, data: ethernet(udp) },
  ], { bigEndian: true });
  const { seen, reader } = await readAll(file);
  assert.equal(reader.error, undefined);
  assert.deepEqual(seen.map((s) => s.tsUs), [1_600_000_000_015_625, 1_600_000_001_000_000]);
});

Deno.test("decodePacket() handles SLL, SLL2, null loopback, raw IPv4/IPv6 and QinQ", async () => {
  const cases: [number, Uint8Array, number][] = [
    [113, sll(udp), 0],
    [276, sll2(udp), 0],
    [276, sll2(v6), 0],
    [0, nullLoop(v6), 0],
    [228, udp, 0],
    [229, v6, 0],
    [1, ethernet(udp, [10]), 1],
    [1, ethernet(v6, [100, 200]), 2],
  ];
  for (const [linkType, data, vlans] of cases) {
    const { seen } = await readAll(pcap([{ tsUs: T0, data }], { linkType }));
    assert.equal(seen.length, 1, `link ${linkType}`);
    const s = seen[0]!;
    assert.equal(s.skip, 0, `link ${linkType}`);
    assert.equal(s.vlanTags, vlans);
    assert.equal(s.dport, data === udp || s.protocol === 17 && s.src.includes(".") ? 53 : 2000);
  }
});

Deno.test("decodePacket() skips non-IP frames and later fragments with a reason", async () => {
  const arp = Uint8Array.from([...new Array(12).fill(1), 0x08, 0x06, ...new Array(28).fill(0)]);
  const laterFragment = ipPacket({
    src: "1.1.1.1",
    dst: "2.2.2.2",
    proto: "udp",
    sport: 1,
    dport: 2,
    frag: 0x2000 | 185,
  });
  const firstFragment = ipPacket({
    src: "1.1.1.1",
    dst: "2.2.2.2",
    proto: "udp",
    sport: 1,
    dport: 2,
    frag: 0x2000,
  });
  const { seen } = await readAll(pcap([
    { tsUs: T0, data: arp },
    { tsUs: T0, data: ethernet(laterFragment) },
    { tsUs: T0, data: ethernet(firstFragment) },
    { tsUs: T0, data: ethernet(udp).subarray(0, 30) },
  ]));
  assert.deepEqual(seen.map((s) => s.skip), [1, 5, 0, 3]);
  assert.equal(seen[2]!.dport, 2);
});

Deno.test("CaptureReader reports a truncated pcap with the record's byte offset", async () => {
  const full = pcap(frames);
  const cut = full.subarray(0, full.length - 10);
  const { seen, reader } = await readAll(cut);
  assert.equal(seen.length, 3);
  assert.ok(reader.error instanceof CaptureError);
  const lastRecord = 24 + 3 * 16 + frames.slice(0, 3).reduce((n, f) => n + f.data.length, 0);
  assert.equal(reader.error.offset, lastRecord);
  assert.match(
    reader.error.message,
    new RegExp(`Truncated pcap capture: .* at byte ${lastRecord}`),
  );
});

Deno.test("CaptureReader rejects unknown magic and a bad pcapng trailer with offsets", async () => {
  const junk = await readAll(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
  assert.equal(junk.seen.length, 0);
  assert.match(junk.reader.error!.message, /unknown file magic 0x47455420 at byte 0/);
  const file = pcapng(
    [{ linkType: 1 }],
    frames.map((f) => ({ iface: 0, tsUs: f.tsUs, data: f.data })),
  );
  // Corrupt the trailing length of the last block.
  const bad = file.slice();
  bad[bad.length - 4] = bad[bad.length - 4]! ^ 0xff;
  const r = await readAll(bad);
  assert.equal(r.seen.length, 3);
  assert.match(r.reader.error!.message, /trailing length/);
  assert.equal(
    r.reader.error!.offset,
    file.length - (12 + 20 + ((frames[3]!.data.length + 3) & ~3)),
  );
  const empty = await readAll(new Uint8Array(0));
  assert.match(empty.reader.error!.message, /empty/);
});

Deno.test("CaptureReader streams through a tiny buffer with odd read sizes identically", async () => {
  const files = [pcap(frames), pcapng([{ linkType: 1 }], frames.map((f) => ({ iface: 0, ...f })))];
  for (const file of files) {
    const expected = (await readAll(file)).seen;
    const { seen, reader } = await readAll(oddReads(file), { bufferBytes: 16 });
    assert.equal(reader.error, undefined);
    assert.deepEqual(seen, expected);
  }
});

Deno.test("CaptureReader reading ahead gives the same packets, offsets and errors", async () => {
  // A frame longer than the read-ahead reserve of the smaller buffers takes the copying path.
  const big = ethernet(
    ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: "udp", sport: 1, dport: 2, payload: 3000 }),
  );
  const many: Frame[] = [];
  for (let i = 0; i < 200; i++) {
    many.push(frames[i % 4]!, {
      tsUs: T0 + 5_000_000 + i,
      data: i % 17 === 0 ? big : frames[2]!.data,
    });
  }
  const files = [
    pcap(many),
    pcapng([{ linkType: 1 }], many.map((f) => ({ iface: 0, ...f }))),
  ];
  files.push(files[0]!.slice(0, files[0]!.length - 50)); // truncated mid-record
  for (const file of files) {
    const expected = await readAll(file);
    for (const bufferBytes of [16, 64, 256, 4096]) {
      for (const cap of [13, 1000, 1 << 20]) {
        const what = `${file.length} bytes, buffer ${bufferBytes}, reads ≤ ${cap}`;
        const { seen, reader } = await readAll(oddReads(file, cap), {
          bufferBytes,
          readAhead: true,
        });
        assert.deepEqual(seen, expected.seen, what);
        assert.equal(reader.error?.message, expected.reader.error?.message, what);
        assert.equal(reader.error?.offset, expected.reader.error?.offset, what);
        assert.equal(reader.bytesConsumed, expected.reader.bytesConsumed, what);
      }
    }
  }
});

Deno.test("CaptureReader reads a file ahead by default and leaves no read behind when stopped", async () => {
  const file = pcap(Array.from({ length: 3000 }, (_, i) => frames[i % 4]!));
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeFile(path, file);
    const expected = await readAll(file);
    using f = await Deno.open(path);
    const { seen, reader } = await readAll(f, { bufferBytes: 4096 });
    assert.deepEqual(seen, expected.seen);
    assert.equal(reader.error, undefined);
    // Stopped after the first chunk: forEach returns only once the read ahead has landed (the
    // test sanitizer fails a test that leaks an async op).
    using g = await Deno.open(path);
    const stopped = new CaptureReader(g, { bufferBytes: 4096 });
    let n = 0;
    await stopped.forEach(() => {
      if (++n === 10) stopped.stop();
    });
    assert.equal(n, 10);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("CaptureReader async iteration yields the same reused view", async () => {
  const reader = new CaptureReader(pcap(frames));
  const views = new Set<PacketView>();
  let n = 0;
  for await (const v of reader) {
    views.add(v);
    n++;
  }
  assert.equal(n, 4);
  assert.equal(views.size, 1);
});

Deno.test("CaptureReader reads concatenated pcapng sections of opposite byte order", async () => {
  const first = pcapng([{ linkType: 1 }], [{ iface: 0, tsUs: T0, data: ethernet(syn) }]);
  const second = pcapng([{ linkType: 101, tsresol: 9 }], [{ iface: 0, tsUs: T0 + 5, data: udp }], {
    bigEndian: true,
  });
  const both = new Uint8Array(first.length + second.length);
  both.set(first);
  both.set(second, first.length);
  const { seen, reader } = await readAll(both);
  assert.equal(reader.error, undefined);
  assert.deepEqual(seen.map((s) => [s.linkType, s.tsUs, s.dport]), [[1, T0, 80], [
    101,
    T0 + 5,
    53,
  ]]);
});

Deno.test("decodePacket() skips a later IPv6 fragment and decodes the first one", async () => {
  const firstFrag = ipPacket({
    src: "2001:db8::1",
    dst: "2001:db8::2",
    proto: "udp",
    sport: 7,
    dport: 9,
    ext: [44],
  });
  const later = firstFrag.slice();
  later[40 + 3] = 0x08; // fragment offset 1 (× 8 bytes)
  const { seen } = await readAll(
    pcap([{ tsUs: T0, data: firstFrag }, { tsUs: T0, data: later }], { linkType: 229 }),
  );
  assert.deepEqual(seen.map((s) => [s.skip, s.dport]), [[0, 9], [5, 0]]);
});
