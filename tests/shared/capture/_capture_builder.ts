/**
 * Builds captures byte by byte for tests, independently of the reader: IPv4/IPv6 packets with
 * TCP/UDP/ICMP, link headers (Ethernet + VLAN, SLL, SLL2, null), pcap files (µs/ns, both byte
 * orders) and pcapng files (several interfaces, if_tsresol, EPB/SPB/OPB, unknown blocks).
 */

export interface PacketSpec {
  src: string;
  dst: string;
  proto: "tcp" | "udp" | "icmp";
  sport?: number;
  dport?: number;
  /** TCP flags byte. */
  flags?: number;
  seq?: number;
  ack?: number;
  /** Payload bytes, or a length filled with a pattern. */
  payload?: Uint8Array | number;
  ipId?: number;
  /** IPv4 fragment field (flags << 13 | offset/8). */
  frag?: number;
  /** IPv6 extension headers to insert before the transport header: [type, ...]. */
  ext?: number[];
  icmpType?: number;
  icmpId?: number;
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function ipv4Bytes(s: string): number[] {
  return s.split(".").map(Number);
}

function ipv6Bytes(s: string): number[] {
  const [head, tail] = s.includes("::") ? s.split("::") as [string, string] : [s, undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 255];
  });
}

function payloadOf(spec: PacketSpec): Uint8Array {
  const p = spec.payload ?? 0;
  if (p instanceof Uint8Array) return p;
  return Uint8Array.from({ length: p }, (_, i) => (i * 7 + 3) & 255);
}

function transport(spec: PacketSpec, v6: boolean): { proto: number; bytes: Uint8Array } {
  const payload = payloadOf(spec);
  if (spec.proto === "tcp") {
    const h = new Uint8Array(20);
    const dv = new DataView(h.buffer);
    dv.setUint16(0, spec.sport ?? 0);
    dv.setUint16(2, spec.dport ?? 0);
    dv.setUint32(4, spec.seq ?? 0);
    dv.setUint32(8, spec.ack ?? 0);
    h[12] = 5 << 4;
    h[13] = spec.flags ?? TCP.ACK;
    dv.setUint16(14, 65535);
    dv.setUint16(16, (payload.length * 31 + (spec.seq ?? 0)) & 0xffff);
    return { proto: 6, bytes: concat([h, payload]) };
  }
  if (spec.proto === "udp") {
    const h = new Uint8Array(8);
    const dv = new DataView(h.buffer);
    dv.setUint16(0, spec.sport ?? 0);
    dv.setUint16(2, spec.dport ?? 0);
    dv.setUint16(4, 8 + payload.length);
    dv.setUint16(6, (payload.length * 17 + 1) & 0xffff);
    return { proto: 17, bytes: concat([h, payload]) };
  }
  const h = new Uint8Array(8);
  h[0] = spec.icmpType ?? (v6 ? 128 : 8);
  new DataView(h.buffer).setUint16(4, spec.icmpId ?? 0);
  return { proto: v6 ? 58 : 1, bytes: concat([h, payload]) };
}

/** An IPv4 or IPv6 packet (chosen by the address syntax). */
export function ipPacket(spec: PacketSpec): Uint8Array {
  const v6 = spec.src.includes(":");
  const l4 = transport(spec, v6);
  if (!v6) {
    const h = new Uint8Array(20);
    const dv = new DataView(h.buffer);
    h[0] = 0x45;
    dv.setUint16(2, 20 + l4.bytes.length);
    dv.setUint16(4, spec.ipId ?? 0);
    dv.setUint16(6, spec.frag ?? 0x4000);
    h[8] = 64;
    h[9] = l4.proto;
    h.set(ipv4Bytes(spec.src), 12);
    h.set(ipv4Bytes(spec.dst), 16);
    return concat([h, l4.bytes]);
  }
  const exts: Uint8Array[] = [];
  const types = spec.ext ?? [];
  for (let i = 0; i < types.length; i++) {
    const next = i + 1 < types.length ? types[i + 1]! : l4.proto;
    const e = new Uint8Array(8);
    e[0] = next;
    e[1] = 0; // (0 + 1) * 8 bytes; a fragment header is always 8 bytes too
    exts.push(e);
  }
  const body = concat([...exts, l4.bytes]);
  const h = new Uint8Array(40);
  const dv = new DataView(h.buffer);
  h[0] = 0x60;
  dv.setUint16(4, body.length);
  h[6] = types.length > 0 ? types[0]! : l4.proto;
  h[7] = 64;
  h.set(ipv6Bytes(spec.src), 8);
  h.set(ipv6Bytes(spec.dst), 24);
  return concat([h, body]);
}

/** Ethernet frame, optionally with VLAN tags (outer first; 0x88a8 for the outer of two). */
export function ethernet(ip: Uint8Array, vlans: number[] = []): Uint8Array {
  const h: number[] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
  vlans.forEach((id, i) => {
    const tpid = vlans.length > 1 && i === 0 ? 0x88a8 : 0x8100;
    h.push(tpid >> 8, tpid & 255, (id >> 8) & 0x0f, id & 255);
  });
  const et = (ip[0]! >> 4) === 6 ? 0x86dd : 0x0800;
  h.push(et >> 8, et & 255);
  return concat([Uint8Array.from(h), ip]);
}

/** Linux cooked capture v1 (16-byte header). */
export function sll(ip: Uint8Array): Uint8Array {
  const h = new Uint8Array(16);
  const et = (ip[0]! >> 4) === 6 ? 0x86dd : 0x0800;
  h[1] = 0; // packet type: to us
  h[3] = 1; // ARPHRD_ETHER
  h[5] = 6;
  h[14] = et >> 8;
  h[15] = et & 255;
  return concat([h, ip]);
}

/** Linux cooked capture v2 (20-byte header, protocol first). */
export function sll2(ip: Uint8Array): Uint8Array {
  const h = new Uint8Array(20);
  const et = (ip[0]! >> 4) === 6 ? 0x86dd : 0x0800;
  h[0] = et >> 8;
  h[1] = et & 255;
  h[7] = 3; // ifindex
  h[9] = 1; // ARPHRD_ETHER
  h[10] = 4; // outgoing
  h[11] = 6;
  return concat([h, ip]);
}

/** BSD null/loopback header: address family in little-endian host order. */
export function nullLoop(ip: Uint8Array): Uint8Array {
  const af = (ip[0]! >> 4) === 6 ? 30 : 2;
  return concat([Uint8Array.of(af, 0, 0, 0), ip]);
}

export interface Frame {
  tsUs: number;
  data: Uint8Array;
  /** On-the-wire length (default = data length). */
  origLen?: number;
}

/** A pcap file. */
export function pcap(
  frames: Frame[],
  opts: { linkType?: number; nanos?: boolean; bigEndian?: boolean; snaplen?: number } = {},
): Uint8Array {
  const le = !opts.bigEndian;
  const parts: Uint8Array[] = [];
  const gh = new Uint8Array(24);
  const g = new DataView(gh.buffer);
  g.setUint32(0, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  g.setUint16(4, 2, le);
  g.setUint16(6, 4, le);
  g.setUint32(16, opts.snaplen ?? 262144, le);
  g.setUint32(20, opts.linkType ?? 1, le);
  parts.push(gh);
  for (const f of frames) {
    const rh = new Uint8Array(16);
    const r = new DataView(rh.buffer);
    const sec = Math.floor(f.tsUs / 1e6);
    const us = f.tsUs - sec * 1e6;
    r.setUint32(0, sec, le);
    r.setUint32(4, opts.nanos ? us * 1000 + 999 : us, le);
    r.setUint32(8, f.data.length, le);
    r.setUint32(12, f.origLen ?? f.data.length, le);
    parts.push(rh, f.data);
  }
  return concat(parts);
}

function block(type: number, body: Uint8Array, le: boolean): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, le);
  dv.setUint32(4, len, le);
  b.set(body, 8);
  dv.setUint32(len - 4, len, le);
  return b;
}

export interface NgInterface {
  linkType: number;
  /** if_tsresol byte (6 = µs, 9 = ns, 0x80|n = 2^-n); omitted = no option (µs). */
  tsresol?: number;
}

export interface NgPacket {
  iface: number;
  tsUs: number;
  data: Uint8Array;
  kind?: "epb" | "spb" | "opb";
}

/** A pcapng file: one section, the given interfaces, an unknown block, then the packets. */
export function pcapng(
  ifaces: NgInterface[],
  packets: NgPacket[],
  opts: { bigEndian?: boolean } = {},
): Uint8Array {
  const le = !opts.bigEndian;
  const parts: Uint8Array[] = [];
  const shb = new Uint8Array(16);
  const s = new DataView(shb.buffer);
  s.setUint32(0, 0x1a2b3c4d, le);
  s.setUint16(4, 1, le);
  s.setInt32(8, -1, le);
  s.setInt32(12, -1, le);
  parts.push(block(0x0a0d0d0a, shb, le));
  for (const i of ifaces) {
    const opt: number[] = [];
    if (i.tsresol !== undefined) {
      const o = new Uint8Array(8);
      const dv = new DataView(o.buffer);
      dv.setUint16(0, 9, le);
      dv.setUint16(2, 1, le);
      o[4] = i.tsresol;
      opt.push(...o);
    }
    opt.push(0, 0, 0, 0); // opt_endofopt
    const body = new Uint8Array(8 + opt.length);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, i.linkType, le);
    dv.setUint32(4, 262144, le);
    body.set(opt, 8);
    parts.push(block(1, body, le));
  }
  // An unknown custom block that the reader must skip.
  parts.push(block(0x40000bad, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), le));
  for (const p of packets) {
    const iface = ifaces[p.iface]!;
    const r = iface.tsresol ?? 6;
    // Exact integer units: µs × 10^(k−6) or µs × 2^n / 10^6 (exact for the values tests use).
    const units = r & 0x80
      ? BigInt(p.tsUs) * (1n << BigInt(r & 0x7f)) / 1_000_000n
      : BigInt(p.tsUs) * 10n ** BigInt(r) / 1_000_000n;
    const kind = p.kind ?? "epb";
    if (kind === "spb") {
      const body = new Uint8Array(4 + p.data.length);
      new DataView(body.buffer).setUint32(0, p.data.length, le);
      body.set(p.data, 4);
      parts.push(block(3, body, le));
      continue;
    }
    const body = new Uint8Array(20 + p.data.length);
    const dv = new DataView(body.buffer);
    if (kind === "epb") dv.setUint32(0, p.iface, le);
    else dv.setUint16(0, p.iface, le);
    dv.setUint32(4, Number(units >> 32n), le);
    dv.setUint32(8, Number(units & 0xffffffffn), le);
    dv.setUint32(12, p.data.length, le);
    dv.setUint32(16, p.data.length, le);
    body.set(p.data, 20);
    parts.push(block(kind === "epb" ? 6 : 2, body, le));
  }
  return concat(parts);
}
