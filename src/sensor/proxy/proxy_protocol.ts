import {
  formatAddress,
  formatIPv4,
  formatIPv6Hex,
  ipKey,
  parseIPv4,
  parseIPv6Hex,
} from "../../shared/net/ip.ts";
import type { ConnIo } from "./conn_io.ts";

/** The addresses a PROXY protocol header carries; undefined fields for `UNKNOWN`/`LOCAL`. */
export interface ProxiedAddress {
  source?: string;
  sourcePort?: number;
  destination?: string;
  destinationPort?: number;
}

/** A PROXY protocol header that could not be read. */
export class ProxyProtocolError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "ProxyProtocolError";
  }
}

const V2_SIGNATURE = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
const V1_PREFIX = "PROXY ";
const latin1 = new TextDecoder("latin1");
const ascii = new TextEncoder();

async function need(io: ConnIo, n: number): Promise<void> {
  while (io.buffered < n) {
    if (!(await io.fill())) throw new ProxyProtocolError("stream ended inside the PROXY header");
  }
}

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new ProxyProtocolError(`PROXY v1 port "${text}" is invalid`);
  }
  return Number(text);
}

function v4Text(text: string): string | undefined {
  const n = parseIPv4(text);
  return n === undefined ? undefined : formatIPv4(n);
}

function v6TextOf(text: string): string | undefined {
  const hex = text.includes(":") && !text.includes("%") ? parseIPv6Hex(text) : undefined;
  return hex === undefined ? undefined : formatIPv6Hex(hex);
}

async function readV1(io: ConnIo): Promise<ProxiedAddress> {
  // v1 lines are at most 107 bytes with CRLF.
  for (;;) {
    const view = io.buf.subarray(io.start, Math.min(io.end, io.start + 107));
    const lf = view.indexOf(10);
    if (lf >= 0) {
      if (lf === 0 || view[lf - 1] !== 13) {
        throw new ProxyProtocolError("PROXY v1 line has no CRLF");
      }
      const line = latin1.decode(view.subarray(0, lf - 1));
      io.take(lf + 1);
      const parts = line.split(" ");
      if (parts[1] === "UNKNOWN") return {};
      if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
        throw new ProxyProtocolError(`PROXY v1 line "${line.slice(0, 60)}" is malformed`);
      }
      // TCP4 carries dotted IPv4, TCP6 IPv6 text (an IPv4-mapped one included); each address
      // is returned in its one canonical spelling, as v2 gives it.
      const text = parts[1] === "TCP4" ? v4Text : v6TextOf;
      const source = text(parts[2]!);
      const destination = text(parts[3]!);
      if (source === undefined || destination === undefined) {
        throw new ProxyProtocolError(`PROXY v1 addresses in "${line.slice(0, 60)}" are invalid`);
      }
      return {
        source,
        destination,
        sourcePort: port(parts[4]!),
        destinationPort: port(parts[5]!),
      };
    }
    if (io.buffered >= 107) throw new ProxyProtocolError("PROXY v1 line is longer than 107 bytes");
    if (!(await io.fill())) throw new ProxyProtocolError("stream ended inside the PROXY header");
  }
}

function v6Text(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return formatAddress([0, 4, 8, 12].map((i) => view.getUint32(i)), 6);
}

async function readV2(io: ConnIo): Promise<ProxiedAddress> {
  await need(io, 16);
  const b = io.buf.subarray(io.start, io.start + 16);
  const verCmd = b[12]!;
  const fam = b[13]!;
  const len = (b[14]! << 8) | b[15]!;
  if (verCmd >> 4 !== 2) throw new ProxyProtocolError("PROXY v2 version is not 2");
  await need(io, 16 + len);
  const body = io.buf.slice(io.start + 16, io.start + 16 + len);
  io.take(16 + len);
  const command = verCmd & 0x0f;
  if (command === 0) return {}; // LOCAL: the proxy's own health check
  if (command !== 1) throw new ProxyProtocolError(`PROXY v2 command ${command} is unknown`);
  const view = new DataView(body.buffer);
  if (fam === 0x11 || fam === 0x12) {
    if (len < 12) throw new ProxyProtocolError("PROXY v2 IPv4 block is short");
    return {
      source: body.subarray(0, 4).join("."),
      destination: body.subarray(4, 8).join("."),
      sourcePort: view.getUint16(8),
      destinationPort: view.getUint16(10),
    };
  }
  if (fam === 0x21 || fam === 0x22) {
    if (len < 36) throw new ProxyProtocolError("PROXY v2 IPv6 block is short");
    return {
      source: v6Text(body.subarray(0, 16)),
      destination: v6Text(body.subarray(16, 32)),
      sourcePort: view.getUint16(32),
      destinationPort: view.getUint16(34),
    };
  }
  return {}; // UNSPEC or unix sockets: no address to use
}

/**
 * Reads the PROXY protocol header (v1 text or v2 binary, told apart by their first bytes) at
 * the start of `io`, consuming exactly its bytes. Throws {@linkcode ProxyProtocolError} for
 * anything else: a listener with `proxy_protocol = true` accepts no connection without one.
 */
export async function readProxyHeader(io: ConnIo): Promise<ProxiedAddress> {
  await need(io, 6);
  const b = io.buf.subarray(io.start, io.end);
  if (b[0] === 0x0d) {
    await need(io, 12);
    const sig = io.buf.subarray(io.start, io.start + 12);
    if (!sig.every((v, i) => v === V2_SIGNATURE[i])) {
      throw new ProxyProtocolError("no PROXY header (bad v2 signature)");
    }
    return await readV2(io);
  }
  if (latin1.decode(b.subarray(0, 6)) !== V1_PREFIX) {
    throw new ProxyProtocolError("no PROXY header at the start of the connection");
  }
  return await readV1(io);
}

/**
 * The PROXY header that tells an upstream who the client is: version 1 (text) or 2 (binary).
 * Addresses of different families (a v6 client to a v4 listener) map the IPv4 one into IPv6.
 */
export function encodeProxyHeader(
  version: 1 | 2,
  from: { ip: string; port: number },
  to: { ip: string; port: number },
): Uint8Array {
  const src = ipKey(from.ip);
  const dst = ipKey(to.ip);
  if (!src || !dst) {
    return version === 1
      ? ascii.encode("PROXY UNKNOWN\r\n")
      : v2Header(0x20, 0x00, new Uint8Array());
  }
  const v6 = src.v === 6 || dst.v === 6;
  const hex = (k: typeof src) =>
    k.v === 6 ? k.hex : `00000000000000000000ffff${k.n.toString(16).padStart(8, "0")}`;
  if (version === 1) {
    // Canonical text of the line's family: dotted for TCP4 (even if given as ::ffff:a.b.c.d).
    const text = (k: typeof src) => v6 ? formatIPv6Hex(hex(k)) : formatIPv4((k as { n: number }).n);
    return ascii.encode(
      `PROXY ${v6 ? "TCP6" : "TCP4"} ${text(src)} ${text(dst)} ${from.port} ${to.port}\r\n`,
    );
  }
  const body = new Uint8Array(v6 ? 36 : 12);
  const view = new DataView(body.buffer);
  if (v6) {
    for (const [k, at] of [[src, 0], [dst, 16]] as const) {
      const full = hex(k);
      for (let i = 0; i < 16; i++) body[at + i] = parseInt(full.slice(i * 2, i * 2 + 2), 16);
    }
    view.setUint16(32, from.port);
    view.setUint16(34, to.port);
  } else {
    view.setUint32(0, (src as { n: number }).n);
    view.setUint32(4, (dst as { n: number }).n);
    view.setUint16(8, from.port);
    view.setUint16(10, to.port);
  }
  return v2Header(0x21, v6 ? 0x21 : 0x11, body);
}

function v2Header(verCmd: number, fam: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + body.length);
  out.set(V2_SIGNATURE);
  out[12] = verCmd;
  out[13] = fam;
  out[14] = body.length >> 8;
  out[15] = body.length & 0xff;
  out.set(body, 16);
  return out;
}
