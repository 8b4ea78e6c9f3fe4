/**
 * Minimal payload reading for TrActor's per-IP details until the signature stage lands: HTTP
 * request Host and User-Agent, TLS ClientHello SNI, DNS query name, SSH/FTP banners. Only what
 * `statistics/ip` (user_agent, domain_name) and a basic label need; never throws on bad bytes.
 */
import type { Flow, FlowDirection } from "../flows/flow.ts";

/** What the first payload bytes of a flow revealed. */
export interface PayloadHints {
  /** Application protocol recognised from the payload ("http", "tls", "dns", "ssh", "ftp"). */
  app?: string;
  host?: string;
  userAgent?: string;
  sni?: string;
  dnsName?: string;
}

const latin1 = new TextDecoder("latin1");
const HTTP_METHOD =
  /^(GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP\/1\.[01]\r?\n/;
const PRINTABLE = /^[\x20-\x7e]*$/;

function clean(s: string, max = 512): string | undefined {
  const t = s.trim();
  if (t === "" || !PRINTABLE.test(t)) return undefined;
  return t.slice(0, max);
}

function httpRequest(payload: Uint8Array, hints: PayloadHints): boolean {
  const text = latin1.decode(payload.subarray(0, Math.min(payload.length, 4096)));
  if (!HTTP_METHOD.test(text)) return false;
  hints.app = "http";
  const lines = text.split(/\r?\n/);
  // The last line may be cut by the snap length or the inspection window: not a header value.
  lines.pop();
  for (const line of lines.slice(1)) {
    if (line === "") break;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = clean(line.slice(colon + 1));
    if (value === undefined) continue;
    // A Host header may carry a port; the domain name is what the client asked for.
    if (name === "host") hints.host = value.replace(/:\d+$/, "").toLowerCase();
    else if (name === "user-agent") hints.userAgent = value;
  }
  return true;
}

function tlsSni(p: Uint8Array, hints: PayloadHints): boolean {
  // record: type 22, version 3.x; handshake: type 1 (ClientHello)
  if (p.length < 9 || p[0] !== 0x16 || p[1] !== 3 || p[5] !== 1) return false;
  hints.app = "tls";
  let o = 9 + 2 + 32; // handshake header, client version, random
  if (o >= p.length) return true;
  o += 1 + p[o]!; // session id
  if (o + 2 > p.length) return true;
  o += 2 + ((p[o]! << 8) | p[o + 1]!); // cipher suites
  if (o >= p.length) return true;
  o += 1 + p[o]!; // compression methods
  if (o + 2 > p.length) return true;
  const end = Math.min(p.length, o + 2 + ((p[o]! << 8) | p[o + 1]!));
  o += 2;
  while (o + 4 <= end) {
    const type = (p[o]! << 8) | p[o + 1]!;
    const len = (p[o + 2]! << 8) | p[o + 3]!;
    o += 4;
    if (type === 0 && o + 5 <= end) {
      const nameLen = (p[o + 3]! << 8) | p[o + 4]!;
      if (p[o + 2] === 0 && o + 5 + nameLen <= end) {
        const name = clean(latin1.decode(p.subarray(o + 5, o + 5 + nameLen)), 253);
        if (name !== undefined) hints.sni = name.toLowerCase();
      }
      return true;
    }
    o += len;
  }
  return true;
}

function dnsQuery(p: Uint8Array, hints: PayloadHints): boolean {
  if (p.length < 17) return false;
  const qd = (p[4]! << 8) | p[5]!;
  if (qd !== 1) return false;
  const labels: string[] = [];
  let o = 12;
  while (o < p.length) {
    const len = p[o]!;
    if (len === 0) break;
    if (len > 63 || o + 1 + len > p.length) return false;
    labels.push(latin1.decode(p.subarray(o + 1, o + 1 + len)));
    o += 1 + len;
  }
  if (o >= p.length || labels.length === 0) return false;
  const name = clean(labels.join("."), 253);
  if (name === undefined) return false;
  hints.app = "dns";
  hints.dnsName = name.toLowerCase();
  return true;
}

/** Reads hints from the first payload bytes of one direction into `hints` (kept per flow). */
export function payloadHints(
  flow: Flow,
  direction: FlowDirection,
  payload: Uint8Array,
  hints: PayloadHints,
): void {
  if (payload.length === 0) return;
  if (flow.protocol === 17) {
    if (flow.srcPort === 53 || flow.dstPort === 53 || flow.dstPort === 5353) {
      if (hints.dnsName === undefined) dnsQuery(payload, hints);
    }
    return;
  }
  if (flow.protocol !== 6) return;
  if (direction === 0) {
    if (httpRequest(payload, hints) || tlsSni(payload, hints)) return;
  }
  const head = latin1.decode(payload.subarray(0, 8));
  if (head.startsWith("SSH-")) hints.app = "ssh";
  else if (
    direction === 1 && head.startsWith("220") && (flow.dstPort === 21 || /ftp/i.test(
      latin1.decode(payload.subarray(0, 128)),
    ))
  ) {
    hints.app ??= "ftp";
  }
}
