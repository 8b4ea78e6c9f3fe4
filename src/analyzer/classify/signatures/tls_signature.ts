import { u16 } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

/** What the first bytes of a TLS ClientHello tell. */
export interface ClientHelloInfo {
  /** Server name (SNI host_name), lower case, when the extension was within the bytes. */
  serverName?: string;
  /** ALPN protocol names offered, when within the bytes. */
  alpn?: string[];
}

/** True when `buf` starts with a TLS record header of content type `type` (SSL 3.0 … TLS 1.3). */
function recordHeader(buf: Uint8Array, type: number): boolean {
  if (buf.length < 6 || buf[0] !== type || buf[1] !== 3 || buf[2]! > 4) return false;
  const len = u16(buf, 3);
  return len >= 4 && len <= 16384 + 2048;
}

/**
 * Parses a TLS ClientHello from the first bytes of a connection, as far as they go: record and
 * handshake headers, version, random, session id, cipher suites, compression and the extensions
 * (server_name, ALPN). Undefined when the bytes are no ClientHello.
 */
export function parseClientHello(buf: Uint8Array): ClientHelloInfo | undefined {
  if (!recordHeader(buf, 0x16) || buf[5] !== 1) return undefined;
  const info: ClientHelloInfo = {};
  if (buf.length < 11) return info;
  const hsLen = (buf[6]! << 16) | (buf[7]! << 8) | buf[8]!;
  if (hsLen < 38 || buf[9] !== 3 || buf[10]! > 4) return undefined;
  // Parsing stops quietly at the end of the bytes we have (the hello may be longer).
  const end = Math.min(buf.length, 9 + hsLen);
  let p = 11 + 32;
  if (p >= end) return info;
  const sid = buf[p]!;
  if (sid > 32) return undefined;
  p += 1 + sid;
  if (p + 2 > end) return info;
  const suites = u16(buf, p);
  if (suites < 2 || suites % 2 !== 0) return undefined;
  p += 2 + suites;
  if (p >= end) return info;
  const comp = buf[p]!;
  if (comp < 1) return undefined;
  p += 1 + comp;
  if (p + 2 > end) return info;
  const extEnd = p + 2 + u16(buf, p);
  p += 2;
  while (p + 4 <= Math.min(end, extEnd)) {
    const type = u16(buf, p);
    const len = u16(buf, p + 2);
    const body = p + 4;
    if (body + len > end) break;
    if (type === 0 && len >= 5) {
      // server_name_list: u16 length, then entries of (type u8, u16 length, name).
      let q = body + 2;
      while (q + 3 <= body + len) {
        const nameType = buf[q]!;
        const nameLen = u16(buf, q + 1);
        if (q + 3 + nameLen > body + len) break;
        if (nameType === 0) {
          let name = "";
          for (let i = q + 3; i < q + 3 + nameLen; i++) name += String.fromCharCode(buf[i]!);
          info.serverName = name.toLowerCase().replace(/\.$/, "");
          break;
        }
        q += 3 + nameLen;
      }
    } else if (type === 16 && len >= 3) {
      const alpn: string[] = [];
      let q = body + 2;
      while (q < body + len) {
        const n = buf[q]!;
        if (n === 0 || q + 1 + n > body + len) break;
        let s = "";
        for (let i = q + 1; i <= q + n; i++) s += String.fromCharCode(buf[i]!);
        alpn.push(s);
        q += 1 + n;
      }
      info.alpn = alpn;
    }
    p = body + len;
  }
  return info;
}

/** True when `buf` starts with a TLS ServerHello (or an alert answering a hello). */
function serverHello(buf: Uint8Array): boolean {
  if (recordHeader(buf, 0x16)) return buf[5] === 2;
  return false;
}

/**
 * TLS: a ClientHello from the initiator (its SNI is the domain), or a ServerHello from the
 * responder when the capture missed the hello.
 */
export function tlsSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6) return undefined;
  const hello = parseClientHello(input.fwd);
  if (hello !== undefined) {
    const match: SignatureMatch = { protocol: "tls", detail: "client_hello" };
    if (hello.serverName !== undefined && hello.serverName !== "") {
      match.domain = hello.serverName;
    }
    return match;
  }
  if (serverHello(input.bwd)) return { protocol: "tls", detail: "server_hello" };
  return undefined;
}
