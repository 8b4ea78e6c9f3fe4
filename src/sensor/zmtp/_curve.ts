/**
 * The CURVE security mechanism (rfc.zeromq.org 26/CurveZMQ over 25/ZMTP-CURVE), as libzmq
 * speaks it: HELLO → WELCOME → INITIATE → READY, then every frame as an encrypted MESSAGE
 * command. The handshake's crypto_box (Curve25519 + XSalsa20-Poly1305) comes from tweetnacl;
 * MESSAGE frames go through `_curve_message_box.ts`, an in-place XSalsa20-Poly1305 with the
 * session key and nonce prefix set up once. Pure bytes, no I/O: `_connection.ts` drives it.
 * @module
 */

import nacl from "tweetnacl";
import { CurveMessageBox } from "./_curve_message_box.ts";
import {
  encodeCommand,
  encodeProperties,
  headerSize,
  parseProperties,
  type SocketType,
  writeHeader,
} from "./_protocol.ts";
import type { CurveOptions } from "./types.ts";
import { decodeZ85, encodeZ85 } from "./z85.ts";

/** Keys after validation. */
export interface CurveKeys {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Set: we are the CURVE client of this server. Unset: we are a CURVE server. */
  serverKey: Uint8Array | undefined;
  /** Server: Z85 public keys of the clients we accept. */
  authorized: ReadonlySet<string>;
}

/** Validates CURVE options into keys; throws TypeError naming the bad key. */
export function resolveCurve(options: CurveOptions): CurveKeys {
  const secretKey = key(options.secretKey, "secretKey");
  const publicKey = key(options.publicKey, "publicKey");
  if (!equal(nacl.scalarMult.base(secretKey), publicKey)) {
    throw new TypeError("Cannot use CURVE keys: publicKey does not belong to secretKey");
  }
  const serverKey = options.serverKey === undefined
    ? undefined
    : key(options.serverKey, "serverKey");
  const authorized = new Set<string>();
  if (serverKey === undefined) {
    if (options.authorizedKeys === undefined) {
      throw new TypeError(
        "Cannot use CURVE as a server without authorizedKeys (the client keys to accept)",
      );
    }
    for (const k of options.authorizedKeys) {
      authorized.add(encodeZ85(key(k.trim(), "authorizedKeys")));
    }
  }
  return { publicKey, secretKey, serverKey, authorized };
}

function key(text: string, what: string): Uint8Array {
  if (typeof text !== "string" || text.length !== 40) {
    throw new TypeError(`Cannot use CURVE key "${what}": expected 40 Z85 characters`);
  }
  try {
    return decodeZ85(text);
  } catch (error) {
    throw new TypeError(`Cannot use CURVE key "${what}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const ascii = (s: string) => new TextEncoder().encode(s);
const P_HELLO = ascii("CurveZMQHELLO---");
const P_WELCOME = ascii("WELCOME-");
const P_COOKIE = ascii("COOKIE--");
const P_INITIATE = ascii("CurveZMQINITIATE");
const P_VOUCH = ascii("VOUCH---");
const P_READY = ascii("CurveZMQREADY---");
const P_MESSAGE_C = ascii("CurveZMQMESSAGEC");
const P_MESSAGE_S = ascii("CurveZMQMESSAGES");
const MESSAGE_NAME = ascii("\x07MESSAGE");

/** MESSAGE command bytes around a frame's payload: name 8, short nonce 8, MAC 16, flags 1. */
export const MESSAGE_OVERHEAD = 8 + 8 + 16 + 1;
/** Inner flags of a MESSAGE (26/CurveZMQ): MORE and COMMAND. */
export const CURVE_MORE = 0x01;
export const CURVE_COMMAND = 0x02;

function nonce(prefix: Uint8Array, tail: Uint8Array): Uint8Array {
  const n = new Uint8Array(24);
  n.set(prefix);
  n.set(tail, prefix.length);
  return n;
}

/** Writes a short nonce (64-bit big-endian) without BigInt or a DataView. */
function writeShort(out: Uint8Array, at: number, value: number): void {
  const hi = Math.floor(value / 0x1_0000_0000);
  const lo = value >>> 0;
  out[at] = hi >>> 24;
  out[at + 1] = hi >>> 16;
  out[at + 2] = hi >>> 8;
  out[at + 3] = hi;
  out[at + 4] = lo >>> 24;
  out[at + 5] = lo >>> 16;
  out[at + 6] = lo >>> 8;
  out[at + 7] = lo;
}

function short(value: number): Uint8Array {
  const out = new Uint8Array(8);
  writeShort(out, 0, value);
  return out;
}

function readShort(bytes: Uint8Array, at: number): number {
  const hi = (bytes[at]! << 24 | bytes[at + 1]! << 16 | bytes[at + 2]! << 8 | bytes[at + 3]!) >>> 0;
  const lo =
    (bytes[at + 4]! << 24 | bytes[at + 5]! << 16 | bytes[at + 6]! << 8 | bytes[at + 7]!) >>>
    0;
  return hi * 0x1_0000_0000 + lo;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** What one handshake command led to. */
export type CurveStep =
  /** Send this (plain) command frame and wait for the next one. */
  | { kind: "send"; frame: Uint8Array }
  /**
   * The peer is authenticated and announced `props`. A server still has to send
   * {@linkcode CurveSession.ready} once the socket type is checked.
   */
  | { kind: "peer"; props: Map<string, Uint8Array>; clientKey?: string }
  /** Refuse: `error` (if set) goes out as an ERROR command, then the connection closes. */
  | { kind: "fail"; reason: "auth_failed" | "protocol_error"; detail: string; error?: string };

/** One connection's CURVE state: handshake, then MESSAGE encryption with per-direction nonces. */
export class CurveSession {
  readonly asServer: boolean;
  readonly #keys: CurveKeys;
  readonly #type: SocketType;
  /** Our transient key pair. */
  readonly #transient = nacl.box.keyPair();
  /** Peer's transient public key. */
  #peerTransient: Uint8Array | undefined;
  /** Precomputed crypto_box key of the two transient keys, for INITIATE/READY/MESSAGE. */
  #shared: Uint8Array | undefined;
  /** MESSAGE boxes under #shared, one per direction (set with #shared). */
  #sendBox: CurveMessageBox | undefined;
  #recvBox: CurveMessageBox | undefined;
  #cookieKey: Uint8Array | undefined;
  #state: "hello" | "welcome" | "initiate" | "ready" | "done";
  /** Next short nonce we send (libzmq starts at 1). */
  #nonce = 1;
  /** Last short nonce the peer sent; each must be higher. */
  #peerNonce = 0;
  readonly #sendPrefix: Uint8Array;
  readonly #recvPrefix: Uint8Array;

  constructor(keys: CurveKeys, type: SocketType) {
    this.#keys = keys;
    this.#type = type;
    this.asServer = keys.serverKey === undefined;
    this.#state = this.asServer ? "hello" : "welcome";
    this.#sendPrefix = this.asServer ? P_MESSAGE_S : P_MESSAGE_C;
    this.#recvPrefix = this.asServer ? P_MESSAGE_C : P_MESSAGE_S;
  }

  /** The client's HELLO, sent right after the greeting; undefined for a server. */
  hello(): Uint8Array | undefined {
    if (this.asServer) return undefined;
    const n = short(this.#nonce++);
    const box = nacl.box(
      new Uint8Array(64),
      nonce(P_HELLO, n),
      this.#keys.serverKey!,
      this.#transient.secretKey,
    );
    const data = new Uint8Array(2 + 72 + 32 + 8 + 80);
    data[0] = 1;
    data.set(this.#transient.publicKey, 74);
    data.set(n, 106);
    data.set(box, 114);
    return encodeCommand("HELLO", data);
  }

  /** Handles one handshake command (ERROR is the connection's business). */
  handshake(name: string, data: Uint8Array): CurveStep {
    try {
      if (this.#state === "hello" && name === "HELLO") return this.#onHello(data);
      if (this.#state === "welcome" && name === "WELCOME") return this.#onWelcome(data);
      if (this.#state === "initiate" && name === "INITIATE") return this.#onInitiate(data);
      if (this.#state === "ready" && name === "READY") return this.#onReady(data);
    } catch (error) {
      // parseProperties: malformed metadata inside a box that opened.
      return { kind: "fail", reason: "protocol_error", detail: (error as Error).message };
    }
    return { kind: "fail", reason: "protocol_error", detail: `unexpected ${name} (CURVE)` };
  }

  /** Server: READY with our metadata, once the client's socket type is accepted. */
  ready(): Uint8Array {
    const n = short(this.#nonce++);
    const box = nacl.box.after(encodeProperties(this.#type), nonce(P_READY, n), this.#shared!);
    this.#state = "done";
    return encodeCommand("READY", concat(n, box));
  }

  #onHello(data: Uint8Array): CurveStep {
    if (data.length !== 194 || data[0] !== 1 || data[1] !== 0) {
      return { kind: "fail", reason: "protocol_error", detail: "malformed HELLO" };
    }
    const clientTransient = data.slice(74, 106);
    const n = data.subarray(106, 114);
    const opened = nacl.box.open(
      data.subarray(114, 194),
      nonce(P_HELLO, n),
      clientTransient,
      this.#keys.secretKey,
    );
    if (opened === null) {
      return {
        kind: "fail",
        reason: "auth_failed",
        detail: "HELLO does not open: the client uses another server key",
      };
    }
    this.#peerTransient = clientTransient;
    this.#peerNonce = readShort(n, 0);
    // Cookie = Box[C' + s'](K): we keep the state anyway, but answer as the spec says.
    this.#cookieKey = nacl.randomBytes(32);
    const cookieNonce = nacl.randomBytes(16);
    const cookieBox = nacl.secretbox(
      concat(clientTransient, this.#transient.secretKey),
      nonce(P_COOKIE, cookieNonce),
      this.#cookieKey,
    );
    const welcomeNonce = nacl.randomBytes(16);
    const welcomeBox = nacl.box(
      concat(this.#transient.publicKey, cookieNonce, cookieBox),
      nonce(P_WELCOME, welcomeNonce),
      clientTransient,
      this.#keys.secretKey,
    );
    this.#state = "initiate";
    return { kind: "send", frame: encodeCommand("WELCOME", concat(welcomeNonce, welcomeBox)) };
  }

  #onWelcome(data: Uint8Array): CurveStep {
    if (data.length !== 160) {
      return { kind: "fail", reason: "protocol_error", detail: "malformed WELCOME" };
    }
    const opened = nacl.box.open(
      data.subarray(16),
      nonce(P_WELCOME, data.subarray(0, 16)),
      this.#keys.serverKey!,
      this.#transient.secretKey,
    );
    if (opened === null) {
      return {
        kind: "fail",
        reason: "auth_failed",
        detail: "WELCOME does not open: the server is not the one serverKey names",
      };
    }
    const serverTransient = opened.slice(0, 32);
    const cookie = opened.subarray(32, 128);
    this.#peerTransient = serverTransient;
    this.#setShared(nacl.box.before(serverTransient, this.#transient.secretKey));
    const vouchNonce = nacl.randomBytes(16);
    const vouch = nacl.box(
      concat(this.#transient.publicKey, this.#keys.serverKey!),
      nonce(P_VOUCH, vouchNonce),
      serverTransient,
      this.#keys.secretKey,
    );
    const n = short(this.#nonce++);
    const box = nacl.box.after(
      concat(this.#keys.publicKey, vouchNonce, vouch, encodeProperties(this.#type)),
      nonce(P_INITIATE, n),
      this.#shared!,
    );
    this.#state = "ready";
    return { kind: "send", frame: encodeCommand("INITIATE", concat(cookie, n, box)) };
  }

  #onInitiate(data: Uint8Array): CurveStep {
    if (data.length < 96 + 8 + 16 + 128) {
      return { kind: "fail", reason: "protocol_error", detail: "malformed INITIATE" };
    }
    const cookie = nacl.secretbox.open(
      data.subarray(16, 96),
      nonce(P_COOKIE, data.subarray(0, 16)),
      this.#cookieKey!,
    );
    const clientTransient = this.#peerTransient!;
    if (
      cookie === null || !equal(cookie.subarray(0, 32), clientTransient) ||
      !equal(cookie.subarray(32, 64), this.#transient.secretKey)
    ) {
      return { kind: "fail", reason: "auth_failed", detail: "INITIATE cookie is not ours" };
    }
    const n = data.subarray(96, 104);
    const sequence = readShort(n, 0);
    if (sequence <= this.#peerNonce) {
      return { kind: "fail", reason: "protocol_error", detail: "INITIATE nonce is not increasing" };
    }
    this.#setShared(nacl.box.before(clientTransient, this.#transient.secretKey));
    const plain = nacl.box.open.after(data.subarray(104), nonce(P_INITIATE, n), this.#shared!);
    if (plain === null) {
      return { kind: "fail", reason: "auth_failed", detail: "INITIATE does not open" };
    }
    this.#peerNonce = sequence;
    const clientKey = plain.subarray(0, 32);
    const vouch = nacl.box.open(
      plain.subarray(48, 128),
      nonce(P_VOUCH, plain.subarray(32, 48)),
      clientKey,
      this.#transient.secretKey,
    );
    if (
      vouch === null || !equal(vouch.subarray(0, 32), clientTransient) ||
      !equal(vouch.subarray(32, 64), this.#keys.publicKey)
    ) {
      return { kind: "fail", reason: "auth_failed", detail: "INITIATE vouch is not valid" };
    }
    const z85 = encodeZ85(clientKey);
    if (!this.#keys.authorized.has(z85)) {
      // libzmq's ZAP would answer 400; its clients read the status from the ERROR reason.
      return {
        kind: "fail",
        reason: "auth_failed",
        detail: `client key ${z85} is not authorised`,
        error: "400",
      };
    }
    const props = parseProperties(plain.subarray(128));
    return { kind: "peer", props, clientKey: z85 };
  }

  #onReady(data: Uint8Array): CurveStep {
    if (data.length < 8 + 16) {
      return { kind: "fail", reason: "protocol_error", detail: "malformed READY" };
    }
    const n = data.subarray(0, 8);
    const sequence = readShort(n, 0);
    const plain = nacl.box.open.after(data.subarray(8), nonce(P_READY, n), this.#shared!);
    if (plain === null) {
      return { kind: "fail", reason: "auth_failed", detail: "READY does not open" };
    }
    this.#peerNonce = sequence;
    this.#state = "done";
    return { kind: "peer", props: parseProperties(plain) };
  }

  #setShared(shared: Uint8Array): void {
    this.#shared = shared;
    this.#sendBox = new CurveMessageBox(shared, this.#sendPrefix);
    this.#recvBox = new CurveMessageBox(shared, this.#recvPrefix);
  }

  /** Encrypts one frame as a whole MESSAGE frame (header included): one allocation, in place. */
  encrypt(flags: number, payload: Uint8Array): Uint8Array {
    const size = MESSAGE_OVERHEAD + payload.length;
    const hdr = headerSize(size);
    const out = new Uint8Array(hdr + size);
    // A data frame with no flags, as libzmq sends it (it ORs the outer flags into the inner).
    writeHeader(out, 0, 0, size);
    out.set(MESSAGE_NAME, hdr);
    writeShort(out, hdr + 8, this.#nonce++);
    out[hdr + 32] = flags;
    out.set(payload, hdr + 33);
    this.#sendBox!.seal(out, hdr + 8);
    return out;
  }

  /**
   * Opens a MESSAGE command's data (after the name): returns the inner flags and payload, or
   * a string saying why not.
   */
  decrypt(data: Uint8Array): { flags: number; payload: Uint8Array } | string {
    if (data.length < 8 + 16 + 1) return "malformed MESSAGE";
    const sequence = readShort(data, 0);
    if (sequence <= this.#peerNonce) return "MESSAGE nonce is not increasing";
    const plain = this.#recvBox!.open(data);
    if (plain === undefined) return "MESSAGE does not open";
    this.#peerNonce = sequence;
    return { flags: plain[0]!, payload: plain.subarray(1) };
  }

  /**
   * The inner flags of a MESSAGE too big to buffer, from its first 25 data bytes (short nonce,
   * MAC, first cipher byte). Unauthenticated: used only to find where a dropped message ends.
   */
  peekFlags(head: Uint8Array): number {
    return this.#recvBox!.peek(head);
  }
}
