import { asciiAt, u32 } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

const DHT_QUERIES = new Set([
  "ping",
  "find_node",
  "get_peers",
  "announce_peer",
  "get",
  "put",
  "sample_infohashes",
  "vote",
]);

/** Bencoded value, as far as the DHT check needs it. */
type Bencoded = number | Uint8Array | Bencoded[] | Map<string, Bencoded>;

/** Decodes one bencoded value at `p` with depth and item limits; [value, next] or undefined. */
function decode(buf: Uint8Array, p: number, depth: number): [Bencoded, number] | undefined {
  const c = buf[p];
  if (c === undefined || depth > 8) return undefined;
  if (c === 0x69) { // i<digits>e
    let q = p + 1;
    if (buf[q] === 0x2d) q++;
    const start = q;
    while (q < buf.length && buf[q]! >= 48 && buf[q]! <= 57) q++;
    if (q === start || q - start > 19 || buf[q] !== 0x65) return undefined;
    return [Number(new TextDecoder().decode(buf.subarray(p + 1, q))), q + 1];
  }
  if (c >= 48 && c <= 57) { // <len>:<bytes>
    let q = p;
    let len = 0;
    while (q < buf.length && buf[q]! >= 48 && buf[q]! <= 57 && q - p < 6) {
      len = len * 10 + buf[q++]! - 48;
    }
    if (buf[q] !== 0x3a || q + 1 + len > buf.length) return undefined;
    return [buf.subarray(q + 1, q + 1 + len), q + 1 + len];
  }
  if (c === 0x6c) { // l…e
    const list: Bencoded[] = [];
    let q = p + 1;
    while (buf[q] !== 0x65) {
      if (list.length > 256) return undefined;
      const item = decode(buf, q, depth + 1);
      if (item === undefined) return undefined;
      list.push(item[0]);
      q = item[1];
    }
    return [list, q + 1];
  }
  if (c === 0x64) { // d…e, keys are byte strings in sorted order
    const dict = new Map<string, Bencoded>();
    let q = p + 1;
    let last = "";
    while (buf[q] !== 0x65) {
      if (dict.size > 64) return undefined;
      const key = decode(buf, q, depth + 1);
      if (key === undefined || !(key[0] instanceof Uint8Array)) return undefined;
      const k = String.fromCharCode(...key[0]);
      if (k < last) return undefined;
      last = k;
      const value = decode(buf, key[1], depth + 1);
      if (value === undefined) return undefined;
      dict.set(k, value[0]);
      q = value[1];
    }
    return [dict, q + 1];
  }
  return undefined;
}

function text(v: Bencoded | undefined): string | undefined {
  return v instanceof Uint8Array ? String.fromCharCode(...v) : undefined;
}

/** A BitTorrent DHT (BEP 5) KRPC message: a bencoded dict with `t`, `y` and its body. */
export function isDhtMessage(buf: Uint8Array): boolean {
  if (buf[0] !== 0x64) return false;
  const decoded = decode(buf, 0, 0);
  if (decoded === undefined) {
    // Cut by the snap length: the fixed prefix of a query or reply with a 20-byte node id.
    return (asciiAt(buf, 0, "d1:ad2:id20:") || asciiAt(buf, 0, "d1:rd2:id20:")) &&
      buf.length >= 32;
  }
  const msg = decoded[0];
  if (!(msg instanceof Map) || !(msg.get("t") instanceof Uint8Array)) return false;
  const y = text(msg.get("y"));
  if (y === "q") {
    const id = msg.get("a") as Map<string, Bencoded> | undefined;
    return DHT_QUERIES.has(text(msg.get("q")) ?? "") && id instanceof Map &&
      (id.get("id") as Uint8Array | undefined)?.length === 20;
  }
  if (y === "r") {
    const r = msg.get("r");
    return r instanceof Map && (r.get("id") as Uint8Array | undefined)?.length === 20;
  }
  if (y === "e") return Array.isArray(msg.get("e"));
  return false;
}

/** The peer wire handshake: `\x13BitTorrent protocol`, 8 reserved bytes, info hash, peer id. */
export function isPeerHandshake(buf: Uint8Array): boolean {
  return buf[0] === 19 && asciiAt(buf, 1, "BitTorrent protocol");
}

/** UDP tracker (BEP 15) connect request: protocol id 0x41727101980, action 0. */
function udpTrackerConnect(buf: Uint8Array): boolean {
  return buf.length >= 16 && u32(buf, 0) === 0x417 && u32(buf, 4) === 0x27101980 &&
    u32(buf, 8) === 0;
}

/**
 * A uTP (BEP 29) connection: the initiator's ST_SYN (type 4, version 1, 20-byte header) answered
 * by an ST_STATE (type 2) on the same connection id, both with a known extension byte.
 */
function utpConnection(syn: Uint8Array, state: Uint8Array): boolean {
  if (syn.length < 20 || syn[0] !== 0x41 || syn[1]! > 2) return false;
  if (state.length < 20 || state[0] !== 0x21 || state[1]! > 2) return false;
  // The SYN carries recv_id; the answer uses it as its connection id, and acks the SYN's seq_nr.
  return syn[2] === state[2] && syn[3] === state[3] && syn[16] === state[18] &&
    syn[17] === state[19];
}

/**
 * BitTorrent: the peer wire handshake in either direction (TCP), a DHT KRPC message, a UDP
 * tracker connect or a uTP connection set-up (UDP). Tracker announces over HTTP are matched by the HTTP signature.
 * Encrypted peer connections (MSE) have no plain-text prefix and are left to the classifier.
 */
export function bittorrentSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol === 6) {
    return isPeerHandshake(input.fwd) || isPeerHandshake(input.bwd)
      ? { protocol: "bittorrent", detail: "handshake" }
      : undefined;
  }
  if (input.protocol !== 17) return undefined;
  if (isDhtMessage(input.fwd) && (input.bwd.length === 0 || isDhtMessage(input.bwd))) {
    return { protocol: "bittorrent", detail: "dht" };
  }
  if (udpTrackerConnect(input.fwd)) return { protocol: "bittorrent", detail: "udp_tracker" };
  if (utpConnection(input.fwd, input.bwd)) return { protocol: "bittorrent", detail: "utp" };
  return undefined;
}
