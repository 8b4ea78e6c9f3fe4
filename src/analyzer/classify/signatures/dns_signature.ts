import { formatAddress } from "../../../shared/net/ip.ts";
import { u16, u32 } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

/** The header and first question of a DNS message. */
export interface DnsMessage {
  id: number;
  response: boolean;
  /** Query name, lower case, without the final dot ("" for the root). */
  name: string;
  qtype: number;
  /** IPv4/IPv6 addresses (RFC 5952 text) of A/AAAA answers, when the message is a response. */
  addresses: string[];
}

const OPCODES = new Set([0, 2, 4, 5]); // QUERY, STATUS, NOTIFY, UPDATE

/** Reads a name at `p` (no compression: a question comes first); returns [name, next] or undefined. */
function readQuestionName(buf: Uint8Array, p: number): [string, number] | undefined {
  let name = "";
  for (let labels = 0; labels < 128; labels++) {
    if (p >= buf.length) return undefined;
    const len = buf[p]!;
    if (len === 0) return [name, p + 1];
    if (len > 63 || p + 1 + len > buf.length) return undefined;
    if (name.length + len + 1 > 254) return undefined;
    let label = "";
    for (let i = p + 1; i <= p + len; i++) {
      const c = buf[i]!;
      // Host names in practice: letters, digits, '-', '_' (and '*' in wildcard queries).
      const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
        c === 45 || c === 95 || c === 42;
      if (!ok) return undefined;
      label += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
    }
    name += name === "" ? label : `.${label}`;
    p += 1 + len;
  }
  return undefined;
}

/** Skips a possibly compressed name in a resource record; returns the next offset or -1. */
function skipName(buf: Uint8Array, p: number): number {
  for (let n = 0; n < 128; n++) {
    if (p >= buf.length) return -1;
    const len = buf[p]!;
    if (len === 0) return p + 1;
    if ((len & 0xc0) === 0xc0) return p + 2 <= buf.length ? p + 2 : -1;
    if (len > 63) return -1;
    p += 1 + len;
  }
  return -1;
}

/**
 * Parses the header and first question of a DNS message at `offset` (a UDP payload, or after
 * the 2-byte length of DNS over TCP), strictly enough that other binary protocols fail: known
 * opcode, 1 question, sane section counts, a plain host name, known class. Response answers of
 * type A/AAAA are collected as far as the bytes go.
 */
export function parseDnsMessage(buf: Uint8Array, offset = 0): DnsMessage | undefined {
  const m = buf.subarray(offset);
  if (m.length < 17) return undefined;
  const flags = u16(m, 2);
  const response = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 15;
  const rcode = flags & 15;
  const qd = u16(m, 4);
  const an = u16(m, 6);
  const ns = u16(m, 8);
  const ar = u16(m, 10);
  if (!OPCODES.has(opcode) || qd !== 1 || rcode > 10) return undefined;
  if (!response && (an > 0 && opcode === 0 || ns > 16 || ar > 16 || rcode !== 0)) {
    return undefined;
  }
  if (response && (an > 256 || ns > 256 || ar > 256)) return undefined;
  const q = readQuestionName(m, 12);
  if (q === undefined) return undefined;
  let [name, p] = q;
  if (p + 4 > m.length) return undefined;
  const qtype = u16(m, p);
  const qclass = u16(m, p + 2) & 0x7fff; // mDNS puts the unicast-response bit on top
  if (
    qtype === 0 ||
    !(qclass === 1 || qclass === 3 || qclass === 4 || qclass === 254 || qclass === 255)
  ) {
    return undefined;
  }
  p += 4;
  const addresses: string[] = [];
  for (let i = 0; response && i < an && i < 64; i++) {
    p = skipName(m, p);
    if (p < 0 || p + 10 > m.length) break;
    const type = u16(m, p);
    const rdlen = u16(m, p + 8);
    const rd = p + 10;
    if (rd + rdlen > m.length) break;
    if (type === 1 && rdlen === 4) {
      addresses.push(`${m[rd]}.${m[rd + 1]}.${m[rd + 2]}.${m[rd + 3]}`);
    } else if (type === 28 && rdlen === 16) {
      // The same text as flow addresses (RFC 5952), so answers and flows can be matched.
      addresses.push(formatAddress([0, 4, 8, 12].map((w) => u32(m, rd + w)), 6));
    }
    p = rd + rdlen;
  }
  if (name.endsWith(".")) name = name.slice(0, -1);
  return { id: u16(m, 0), response, name, qtype, addresses };
}

/** Parses DNS over TCP: a 2-byte length that fits the message, then the message. */
function parseTcp(buf: Uint8Array): DnsMessage | undefined {
  if (buf.length < 2) return undefined;
  const len = u16(buf, 0);
  if (len < 17) return undefined;
  return parseDnsMessage(buf, 2);
}

/**
 * DNS over UDP or TCP: a query from the initiator (answered, when there is an answer, by a
 * response with the same id), or a lone response. The query name is the domain.
 */
export function dnsSignature(input: SignatureInput): SignatureMatch | undefined {
  const parse = input.protocol === 17 ? parseDnsMessage : input.protocol === 6 ? parseTcp : null;
  if (parse === null) return undefined;
  const query = parse(input.fwd);
  const answer = input.bwd.length > 0 ? parse(input.bwd) : undefined;
  if (query !== undefined && !query.response) {
    if (input.bwd.length > 0 && (answer === undefined || answer.id !== query.id)) {
      return undefined;
    }
    return { protocol: "dns", domain: query.name, detail: "query" };
  }
  // A response alone (the query was before the capture), or an mDNS-style announcement.
  if (query === undefined && input.fwd.length === 0 && answer?.response === true) {
    return { protocol: "dns", domain: answer.name, detail: "response" };
  }
  if (query?.response === true && input.bwd.length === 0) {
    return { protocol: "dns", domain: query.name, detail: "response" };
  }
  return undefined;
}
