import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

/**
 * WireGuard (UDP): the initiator's handshake initiation is message type 1 with three zero bytes
 * and exactly 148 bytes; the responder's handshake response is type 2, 92 bytes, whose receiver
 * index equals the initiator's sender index. Without a response, the initiation must be the
 * flow's only forward datagram so far (its length then is the payload length).
 */
export function wireguardSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 17) return undefined;
  const i = input.fwd;
  if (i.length !== 148 || i[0] !== 1 || i[1] !== 0 || i[2] !== 0 || i[3] !== 0) return undefined;
  const r = input.bwd;
  if (r.length === 0) {
    return input.dstPort === 51820 ? { protocol: "wireguard", detail: "initiation" } : undefined;
  }
  if (r.length !== 92 || r[0] !== 2 || r[1] !== 0 || r[2] !== 0 || r[3] !== 0) return undefined;
  for (let k = 0; k < 4; k++) if (r[8 + k] !== i[4 + k]) return undefined;
  return { protocol: "wireguard", detail: "handshake" };
}
