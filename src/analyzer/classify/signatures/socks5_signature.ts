import { isHostName } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

function validMethod(m: number): boolean {
  return m <= 9 || (m >= 0x80 && m <= 0xfe);
}

/** A SOCKS5 request (`05 cmd 00 atyp addr port`) at `p`; its target host name, "" for an
 * address, or undefined when invalid. */
function request(buf: Uint8Array, p: number): string | undefined {
  if (buf[p] !== 5 || buf[p + 2] !== 0) return undefined;
  const cmd = buf[p + 1];
  if (cmd === undefined || cmd < 1 || cmd > 3) return undefined;
  const atyp = buf[p + 3];
  if (atyp === 1 || atyp === 4) return "";
  if (atyp !== 3) return undefined;
  const len = buf[p + 4];
  if (len === undefined || len === 0 || p + 5 + len > buf.length) return undefined;
  let host = "";
  for (let i = p + 5; i < p + 5 + len; i++) host += String.fromCharCode(buf[i]!);
  return isHostName(host) ? host.toLowerCase() : undefined;
}

/**
 * SOCKS5 (RFC 1928): the client's method greeting (`05 n methods…`) answered by `05 method`
 * with a method the client offered (or FF), or followed by a valid request. The CONNECT target's
 * host name, when sent as a name, is the domain.
 */
export function socks5Signature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6) return undefined;
  const c = input.fwd;
  const s = input.bwd;
  const n = c[1];
  if (c[0] !== 5 || n === undefined || n === 0 || n > 32 || c.length < 2 + n) return undefined;
  const methods = c.subarray(2, 2 + n);
  for (const m of methods) if (!validMethod(m)) return undefined;
  let chosen = -1;
  if (s.length >= 2) {
    if (s[0] !== 5 || (s[1] !== 0xff && !methods.includes(s[1]!))) return undefined;
    chosen = s[1]!;
  }
  // After the greeting: an RFC 1929 username/password exchange (01 ulen user plen pass), then
  // the request.
  let p = 2 + n;
  if (chosen === 2 && c[p] === 1) {
    const ulen = c[p + 1] ?? 0;
    const plen = c[p + 2 + ulen] ?? 0;
    p += 3 + ulen + plen;
  }
  const target = p < c.length ? request(c, p) : undefined;
  if (chosen < 0 && target === undefined) return undefined;
  if (p < c.length && target === undefined && c.length - p >= 4) return undefined;
  const match: SignatureMatch = { protocol: "socks5", detail: "greeting" };
  if (target !== undefined && target !== "") match.domain = target;
  return match;
}
