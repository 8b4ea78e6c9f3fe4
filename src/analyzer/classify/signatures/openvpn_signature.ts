import { u16 } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

const HARD_RESET_CLIENT_V2 = 7;
const HARD_RESET_SERVER_V2 = 8;
const HARD_RESET_CLIENT_V3 = 10;

/** The OpenVPN packet in a payload: after a 2-byte length over TCP, the whole datagram over UDP. */
function packet(buf: Uint8Array, tcp: boolean): Uint8Array | undefined {
  if (!tcp) return buf;
  if (buf.length < 2) return undefined;
  const len = u16(buf, 0);
  if (len < 14 || len > 1600) return undefined;
  return buf.subarray(2, 2 + len);
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  outer: for (let i = from; i + needle.length <= Math.min(hay.length, to); i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * OpenVPN (TLS mode) over UDP or TCP: the client's first packet is P_CONTROL_HARD_RESET_CLIENT
 * (opcode 7 or 10, key id 0) with an 8-byte session id; the server answers with
 * P_CONTROL_HARD_RESET_SERVER_V2 (opcode 8) that acknowledges it, carrying the client's session id
 * back (after the tls-auth HMAC when there is one). Without an answer: a bare reset (no
 * tls-auth) whose TCP length prefix is exactly its 14 bytes, or one on port 1194.
 * Static-key mode has no handshake and is left to the classifier.
 */
export function openvpnSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6 && input.protocol !== 17) return undefined;
  const tcp = input.protocol === 6;
  const c = packet(input.fwd, tcp);
  if (c === undefined || c.length < 14) return undefined;
  const op = c[0]! >> 3;
  if ((op !== HARD_RESET_CLIENT_V2 && op !== HARD_RESET_CLIENT_V3) || (c[0]! & 7) !== 0) {
    return undefined;
  }
  const session = c.subarray(1, 9);
  if (input.bwd.length === 0) {
    // Plain reset (no tls-auth): ack array length 0, then message packet id 0.
    const plain = c.length >= 14 && c[9] === 0 && c[10] === 0 && c[11] === 0 && c[12] === 0 &&
      c[13] === 0;
    // Over TCP the length prefix must equal the bare reset's 14 bytes: strong enough alone.
    return plain && (c.length === 14 && tcp || input.dstPort === 1194 || input.srcPort === 1194)
      ? { protocol: "openvpn", detail: "hard_reset" }
      : undefined;
  }
  const s = packet(input.bwd, tcp);
  if (s === undefined || s.length < 26 || s[0] !== (HARD_RESET_SERVER_V2 << 3)) return undefined;
  // The acknowledged remote session id: right after the ack array in a plain reset, further on
  // behind an HMAC (tls-auth) — search the first bytes of the reply for it.
  if (indexOf(s, session, 9, 128) < 0) return undefined;
  return { protocol: "openvpn", detail: "hard_reset" };
}
