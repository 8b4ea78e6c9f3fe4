/**
 * The built-in capture of `qts selftest`: a classic pcap file, made in memory, holding two TCP
 * connections between documentation addresses, one that a payload signature names (HTTP) and one
 * of unknown bytes that only the time-feature classifier can label.
 * @module
 */

const CLIENT = [192, 0, 2, 10];
const SERVER = [198, 51, 100, 20];
const SYN = 0x02, FIN = 0x01, PSH = 0x08, ACK = 0x10;

/** Client port of the HTTP connection (to port 80) in {@linkcode selftestCapture}. */
export const SELFTEST_HTTP_PORT = 41_080;
/** Client port of the unknown-protocol connection (to port 9999) in {@linkcode selftestCapture}. */
export const SELFTEST_OPAQUE_PORT = 41_999;

/** Host and User-Agent of the built-in HTTP request. */
export const SELFTEST_HTTP = { host: "selftest.example", userAgent: "qts-selftest/1" } as const;

interface Frame {
  tsUs: number;
  data: Uint8Array;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Ethernet + IPv4 + TCP around `payload`. */
function frame(
  fromClient: boolean,
  ports: [number, number],
  flags: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const [src, dst] = fromClient ? [CLIENT, SERVER] : [SERVER, CLIENT];
  const [sport, dport] = fromClient ? ports : [ports[1], ports[0]];
  const tcp = new Uint8Array(20);
  const t = new DataView(tcp.buffer);
  t.setUint16(0, sport);
  t.setUint16(2, dport);
  t.setUint32(4, seq);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  t.setUint16(14, 65_535);
  const ip = new Uint8Array(20);
  const i = new DataView(ip.buffer);
  ip[0] = 0x45;
  i.setUint16(2, 40 + payload.length);
  i.setUint16(6, 0x4000); // don't fragment
  ip[8] = 64;
  ip[9] = 6;
  ip.set(src, 12);
  ip.set(dst, 16);
  const ethernet = Uint8Array.of(2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00);
  return concat([ethernet, ip, tcp, payload]);
}

/** A whole connection: handshake, `talk` (client or server segments), FIN both ways. */
function connection(
  startUs: number,
  stepUs: number,
  ports: [number, number],
  talk: readonly [fromClient: boolean, payload: Uint8Array][],
): Frame[] {
  const frames: Frame[] = [];
  const seq = { client: 1000, server: 5000 };
  let ts = startUs;
  const add = (fromClient: boolean, flags: number, payload: Uint8Array = new Uint8Array(0)) => {
    const side = fromClient ? "client" : "server";
    frames.push({ tsUs: ts, data: frame(fromClient, ports, flags, seq[side], payload) });
    ts += stepUs;
    seq[side] += payload.length + ((flags & (SYN | FIN)) !== 0 ? 1 : 0);
  };
  add(true, SYN);
  add(false, SYN | ACK);
  add(true, ACK);
  for (const [fromClient, payload] of talk) add(fromClient, ACK | PSH, payload);
  add(true, FIN | ACK);
  add(false, FIN | ACK);
  return frames;
}

/** The pcap bytes (microsecond timestamps, little-endian, Ethernet link). */
export function selftestCapture(): Uint8Array {
  const text = (s: string) => new TextEncoder().encode(s);
  const t0 = 1_700_000_000_000_000;
  const frames = [
    ...connection(t0, 1_000, [SELFTEST_HTTP_PORT, 80], [
      [
        true,
        text(
          `GET /index.html HTTP/1.1\r\nHost: ${SELFTEST_HTTP.host}\r\n` +
            `User-Agent: ${SELFTEST_HTTP.userAgent}\r\nAccept: */*\r\n\r\n`,
        ),
      ],
      [false, text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
    ]),
    ...connection(t0 + 2_000_000, 40_000, [SELFTEST_OPAQUE_PORT, 9999], [
      [true, Uint8Array.of(0x01, 0x02, 0x7f, 0x00, 0x10, 0x42, 0x99, 0xfe)],
      [false, Uint8Array.of(0x03, 0x6f, 0x6b)],
      [true, Uint8Array.of(0x05, 0x00, 0x00, 0x01)],
    ]),
  ];
  const header = new Uint8Array(24);
  const h = new DataView(header.buffer);
  h.setUint32(0, 0xa1b2c3d4, true);
  h.setUint16(4, 2, true);
  h.setUint16(6, 4, true);
  h.setUint32(16, 262_144, true);
  h.setUint32(20, 1, true);
  const parts: Uint8Array[] = [header];
  for (const f of frames) {
    const record = new Uint8Array(16);
    const r = new DataView(record.buffer);
    const sec = Math.floor(f.tsUs / 1e6);
    r.setUint32(0, sec, true);
    r.setUint32(4, f.tsUs - sec * 1e6, true);
    r.setUint32(8, f.data.length, true);
    r.setUint32(12, f.data.length, true);
    parts.push(record, f.data);
  }
  return concat(parts);
}
