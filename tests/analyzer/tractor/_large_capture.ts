/**
 * Writes a large pcap for restart tests and the bench: `copies` repetitions of the committed
 * loopback capture, each shifted by one second and with its two addresses (127.0.0.1,
 * 127.77.0.1) renumbered into 10.1.x.y / 10.2.x.y, so every copy makes new flows and clients.
 */

const SOURCE = new URL("../../fixtures/captures/loopback-sll2.pcap", import.meta.url);
const SLL2_HEADER = 20;

interface Rec {
  sec: number;
  usec: number;
  data: Uint8Array;
  orig: number;
}

function readRecords(bytes: Uint8Array): { header: Uint8Array; records: Rec[] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== 0xa1b2c3d4) throw new TypeError("expected a little-endian µs pcap");
  const records: Rec[] = [];
  let o = 24;
  while (o + 16 <= bytes.length) {
    const incl = dv.getUint32(o + 8, true);
    records.push({
      sec: dv.getUint32(o, true),
      usec: dv.getUint32(o + 4, true),
      orig: dv.getUint32(o + 12, true),
      data: bytes.slice(o + 16, o + 16 + incl),
    });
    o += 16 + incl;
  }
  return { header: bytes.slice(0, 24), records };
}

function renumber(data: Uint8Array, copy: number): Uint8Array {
  const out = data.slice();
  const ip = SLL2_HEADER;
  if (out.length < ip + 20 || out[ip]! >> 4 !== 4) return out;
  for (const at of [ip + 12, ip + 16]) {
    if (out[at] !== 127) continue;
    const net = out[at + 1] === 77 ? 2 : 1;
    out[at] = 10;
    out[at + 1] = net;
    out[at + 2] = (copy >> 8) & 255;
    out[at + 3] = copy & 255;
  }
  return out;
}

/** Writes the capture to `path`; returns its size in bytes. */
export async function writeLargeCapture(path: string, copies: number): Promise<number> {
  const { header, records } = readRecords(await Deno.readFile(SOURCE));
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let size = 0;
  try {
    await file.write(header);
    size += header.length;
    for (let k = 0; k < copies; k++) {
      const parts: Uint8Array[] = [];
      let n = 0;
      for (const r of records) {
        const rh = new Uint8Array(16);
        const dv = new DataView(rh.buffer);
        dv.setUint32(0, r.sec + k, true);
        dv.setUint32(4, r.usec, true);
        dv.setUint32(8, r.data.length, true);
        dv.setUint32(12, r.orig, true);
        const data = renumber(r.data, k);
        parts.push(rh, data);
        n += 16 + data.length;
      }
      const buf = new Uint8Array(n);
      let o = 0;
      for (const p of parts) {
        buf.set(p, o);
        o += p.length;
      }
      let written = 0;
      while (written < buf.length) written += await file.write(buf.subarray(written));
      size += n;
    }
  } finally {
    file.close();
  }
  return size;
}
