import type { SignatureInput } from "../../../../src/analyzer/classify/signatures/signature_match.ts";

/** Bytes from parts: strings as Latin-1, number arrays as bytes. */
export function bytes(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") {
      for (let i = 0; i < p.length; i++) out.push(p.charCodeAt(i) & 255);
    } else out.push(...p);
  }
  return Uint8Array.from(out);
}

/** A signature input (TCP from port 40000 to `dstPort` unless told). */
export function input(
  fwd: Uint8Array | string,
  bwd: Uint8Array | string = new Uint8Array(0),
  options: { protocol?: number; srcPort?: number; dstPort?: number } = {},
): SignatureInput {
  return {
    protocol: options.protocol ?? 6,
    fwd: typeof fwd === "string" ? bytes(fwd) : fwd,
    bwd: typeof bwd === "string" ? bytes(bwd) : bwd,
    srcPort: options.srcPort ?? 40000,
    dstPort: options.dstPort ?? 8080,
  };
}

/** Big-endian u16 bytes. */
export function be16(n: number): number[] {
  return [(n >> 8) & 255, n & 255];
}

/** A TLS ClientHello record with optional SNI and ALPN (and padding extensions before them). */
export function clientHello(
  options: { sni?: string; alpn?: string[]; padBefore?: number; sessionId?: number } = {},
): Uint8Array {
  const ext: number[] = [];
  if (options.padBefore) {
    ext.push(0, 21, ...be16(options.padBefore), ...new Array(options.padBefore).fill(0));
  }
  if (options.sni !== undefined) {
    const name = [...bytes(options.sni)];
    ext.push(
      0,
      0,
      ...be16(name.length + 5),
      ...be16(name.length + 3),
      0,
      ...be16(name.length),
      ...name,
    );
  }
  if (options.alpn) {
    const list = options.alpn.flatMap((a) => [a.length, ...bytes(a)]);
    ext.push(0, 16, ...be16(list.length + 2), ...be16(list.length), ...list);
  }
  const sid = options.sessionId ?? 32;
  const body = [
    3,
    3,
    ...new Array(32).fill(7),
    sid,
    ...new Array(Math.min(sid, 40)).fill(9),
    ...be16(4),
    0x13,
    0x01,
    0x13,
    0x02,
    1,
    0,
    ...be16(ext.length),
    ...ext,
  ];
  const hs = [1, 0, ...be16(body.length), ...body];
  return Uint8Array.from([0x16, 3, 1, ...be16(hs.length), ...hs]);
}

/** A DNS message: header, one question, optional A answers (name compressed to the question). */
export function dnsMessage(
  options: {
    id?: number;
    response?: boolean;
    name?: string;
    qtype?: number;
    qclass?: number;
    qdcount?: number;
    answers?: string[];
  } = {},
): Uint8Array {
  const name = (options.name ?? "www.example.com").split(".").filter((l) => l !== "");
  const qname = [...name.flatMap((l) => [l.length, ...bytes(l)]), 0];
  const answers = options.answers ?? [];
  const out = [
    ...be16(options.id ?? 0x1234),
    options.response ? 0x81 : 0x01,
    options.response ? 0x80 : 0x00,
    ...be16(options.qdcount ?? 1),
    ...be16(answers.length),
    0,
    0,
    0,
    0,
    ...qname,
    ...be16(options.qtype ?? 1),
    ...be16(options.qclass ?? 1),
  ];
  for (const a of answers) {
    out.push(0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...a.split(".").map(Number));
  }
  return Uint8Array.from(out);
}
