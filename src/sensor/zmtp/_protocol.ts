/**
 * ZMTP 3.x wire constants and small encoders/decoders (rfc.zeromq.org 23/ZMTP, 37/ZMTP).
 * Pure bytes: no I/O here, so everything is testable without sockets.
 * @module
 */

/** Frame flag bits. */
export const FLAG_MORE = 0x01;
export const FLAG_LONG = 0x02;
export const FLAG_COMMAND = 0x04;
/** Bits 7-3 are reserved and must be zero. */
export const FLAG_RESERVED = 0xf8;

export const GREETING_SIZE = 64;

/** The socket types we speak, plus the ones we only meet as peers. */
export type SocketType = "PUSH" | "PULL" | "PUB" | "SUB";

/** Peer types each of our socket types accepts (37/ZMTP socket-type table). */
export const COMPATIBLE: Readonly<Record<SocketType, readonly string[]>> = {
  PUSH: ["PULL"],
  PULL: ["PUSH"],
  PUB: ["SUB", "XSUB"],
  SUB: ["PUB", "XPUB"],
};

/** Security mechanisms we speak: NULL, and CURVE (rfc.zeromq.org 25/ZMTP-CURVE). */
export type MechanismName = "NULL" | "CURVE";

/**
 * Our 64-byte greeting: signature, version 3.1, mechanism, as-server, filler. We send it whole
 * (37/ZMTP allows this); peers at 3.0 read the same layout.
 */
export function encodeGreeting(mechanism: MechanismName = "NULL", asServer = false): Uint8Array {
  const g = new Uint8Array(GREETING_SIZE);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 1;
  for (let i = 0; i < mechanism.length; i++) g[12 + i] = mechanism.charCodeAt(i);
  g[32] = asServer ? 1 : 0;
  return g;
}

/** Why a greeting was refused, or undefined while it still looks fine. */
export type GreetingProblem = "bad_greeting" | "bad_mechanism";

/**
 * Checks as many greeting bytes as have arrived, so garbage is refused after its first byte
 * instead of waiting for 64 bytes that may never come. `mechanism` is ours: the peer must ask
 * for the same one (37/ZMTP).
 */
export function checkGreeting(
  bytes: Uint8Array,
  length: number,
  mechanism: MechanismName = "NULL",
): GreetingProblem | undefined {
  if (length >= 1 && bytes[0] !== 0xff) return "bad_greeting";
  if (length >= 10 && (bytes[9]! & 0x01) !== 1) return "bad_greeting";
  // Major version below 3 would need a ZMTP 1.0/2.0 downgrade, which we do not implement.
  if (length >= 11 && bytes[10]! < 3) return "bad_greeting";
  if (length >= 32) {
    for (let i = 0; i < 20; i++) {
      const expected = i < mechanism.length ? mechanism.charCodeAt(i) : 0;
      if (bytes[12 + i] !== expected) return "bad_mechanism";
    }
  }
  // The as-server byte is not checked: libzmq 4.3's CURVE server sends 0 there, and the roles
  // show anyway in HELLO/WELCOME.
  return undefined;
}

const ASCII = new TextEncoder();

/** Header size for a frame body of `size` bytes. */
export function headerSize(size: number): number {
  return size > 255 ? 9 : 2;
}

/** Writes a frame header at `offset`; returns the offset after it. */
export function writeHeader(
  out: Uint8Array,
  offset: number,
  flags: number,
  size: number,
): number {
  if (size > 255) {
    out[offset] = flags | FLAG_LONG;
    // Sizes beyond 2^32 never occur in practice (frames are bounded by memory); the high
    // word is still written for correctness up to 2^53.
    const hi = Math.floor(size / 0x1_0000_0000);
    const lo = size >>> 0;
    out[offset + 1] = hi >>> 24;
    out[offset + 2] = (hi >>> 16) & 0xff;
    out[offset + 3] = (hi >>> 8) & 0xff;
    out[offset + 4] = hi & 0xff;
    out[offset + 5] = lo >>> 24;
    out[offset + 6] = (lo >>> 16) & 0xff;
    out[offset + 7] = (lo >>> 8) & 0xff;
    out[offset + 8] = lo & 0xff;
    return offset + 9;
  }
  out[offset] = flags;
  out[offset + 1] = size;
  return offset + 2;
}

/** A whole command frame: name plus data. */
export function encodeCommand(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const nameBytes = ASCII.encode(name);
  const size = 1 + nameBytes.length + data.length;
  const out = new Uint8Array(headerSize(size) + size);
  let o = writeHeader(out, 0, FLAG_COMMAND, size);
  out[o++] = nameBytes.length;
  out.set(nameBytes, o);
  out.set(data, o + nameBytes.length);
  return out;
}

/** The metadata we announce (only Socket-Type: our types carry no identity). */
export function encodeProperties(socketType: SocketType): Uint8Array {
  const name = ASCII.encode("Socket-Type");
  const value = ASCII.encode(socketType);
  const data = new Uint8Array(1 + name.length + 4 + value.length);
  data[0] = name.length;
  data.set(name, 1);
  new DataView(data.buffer).setUint32(1 + name.length, value.length);
  data.set(value, 5 + name.length);
  return data;
}

/** READY with the properties we announce (NULL mechanism). */
export function encodeReady(socketType: SocketType): Uint8Array {
  return encodeCommand("READY", encodeProperties(socketType));
}

/**
 * Parses READY metadata into lower-cased names (names are case-insensitive) and raw values.
 * Throws SyntaxError when a length runs past the end.
 */
export function parseProperties(data: Uint8Array): Map<string, Uint8Array> {
  const props = new Map<string, Uint8Array>();
  let o = 0;
  while (o < data.length) {
    const nameLen = data[o]!;
    if (nameLen === 0 || o + 1 + nameLen + 4 > data.length) {
      throw new SyntaxError(`Cannot parse READY metadata: property name at offset ${o} is invalid`);
    }
    const name = latin1(data.subarray(o + 1, o + 1 + nameLen)).toLowerCase();
    o += 1 + nameLen;
    const valueLen = ((data[o]! << 24) | (data[o + 1]! << 16) | (data[o + 2]! << 8) |
      data[o + 3]!) >>> 0;
    o += 4;
    if (o + valueLen > data.length) {
      throw new SyntaxError(
        `Cannot parse READY metadata: value of "${name}" runs past the end (${valueLen} bytes)`,
      );
    }
    props.set(name, data.subarray(o, o + valueLen));
    o += valueLen;
  }
  return props;
}

/** Bytes to a string, one char per byte (command names, socket types, topics in logs). */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** PING with TTL (deciseconds) and empty context. */
export function encodePing(ttlMs: number): Uint8Array {
  const ttl = Math.min(0xffff, Math.round(ttlMs / 100));
  return encodeCommand("PING", new Uint8Array([ttl >>> 8, ttl & 0xff]));
}

/** Throws TypeError unless `frames` is a non-empty array of Uint8Array. */
export function assertFrames(frames: unknown, where: string): asserts frames is Uint8Array[] {
  if (!Array.isArray(frames) || frames.length === 0) {
    throw new TypeError(`Cannot send on ${where}: a message needs at least one frame`);
  }
  for (let i = 0; i < frames.length; i++) {
    if (!(frames[i] instanceof Uint8Array)) {
      throw new TypeError(`Cannot send on ${where}: frame ${i} is not a Uint8Array`);
    }
  }
}

/** A data frame with no MORE flag, encoded whole (3.0-style subscription messages). */
export function encodeDataFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerSize(body.length) + body.length);
  out.set(body, writeHeader(out, 0, 0, body.length));
  return out;
}
