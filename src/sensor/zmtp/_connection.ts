/**
 * One ZMTP 3.x connection over a Deno TCP connection: greeting, NULL or CURVE handshake,
 * framing, and the read and write loops. Socket types sit on top through {@linkcode ConnectionHost}.
 * @module
 */

import {
  checkGreeting,
  COMPATIBLE,
  encodeCommand,
  encodeGreeting,
  encodeReady,
  FLAG_COMMAND,
  FLAG_LONG,
  FLAG_MORE,
  FLAG_RESERVED,
  GREETING_SIZE,
  headerSize,
  latin1,
  parseProperties,
  type SocketType,
  writeHeader,
} from "./_protocol.ts";
import { Deque } from "./_deque.ts";
import {
  CURVE_COMMAND,
  CURVE_MORE,
  type CurveKeys,
  CurveSession,
  MESSAGE_OVERHEAD,
} from "./_curve.ts";
import type { DisconnectReason, ZmtpStats } from "./types.ts";

/** Options after defaults. */
export interface ResolvedOptions {
  maxFrame: number;
  maxMessage: number;
  maxFrames: number;
  hwm: number;
  reconnect: number;
  reconnectMax: number;
  handshakeTimeout: number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  linger: number;
  /** CURVE keys, or undefined for the NULL mechanism. */
  curve: CurveKeys | undefined;
}

/** What a connection needs from the socket that owns it. */
export interface ConnectionHost {
  readonly type: SocketType;
  readonly opts: ResolvedOptions;
  readonly stats: ZmtpStats;
  log(event: string, fields: Record<string, unknown>): void;
  /** Greeting and READY done: the peer may now get and send messages. */
  onReady(c: Connection): void;
  /** A whole message arrived; `frames` are views into a receive buffer that is never reused. */
  onMessage(c: Connection, frames: Uint8Array[]): void;
  /** SUBSCRIBE or CANCEL arrived (other commands are handled here). */
  onCommand(c: Connection, name: string, data: Uint8Array): void;
  /** A write batch finished; the out queue may have dropped below the high-water mark. */
  onWritable(c: Connection): void;
  /** The connection ended (called once). */
  onClosed(c: Connection, reason: DisconnectReason): void;
}

/** Receive buffers are this big unless a frame needs more. */
const CHUNK = 256 * 1024;
/** Start a fresh buffer when less than this is free, so reads never become tiny. */
const MIN_READ = 16 * 1024;
/** Outgoing frames are batched into a buffer of this size; bigger frames are written as is. */
const WRITE_CHUNK = 64 * 1024;
/** Frames above this size are written from the caller's buffer instead of being copied. */
const DIRECT_WRITE = 16 * 1024;
/** Commands (READY, SUBSCRIBE…) may always be this big, whatever `maxFrame` says. */
const MIN_COMMAND = 8 * 1024;
/** Skipped frame bytes are read into a scratch buffer of this size, never kept. */
const SKIP_CHUNK = 64 * 1024;
/** A frame length beyond 2^53 cannot be skipped honestly: the peer is disconnected. */
const ABSURD = Number.MAX_SAFE_INTEGER;

const GREETING = encodeGreeting();

/** Which limit a dropped frame of `bytes`, after `frames` kept parts, crossed (for the log). */
function limitHit(opts: ResolvedOptions, bytes: number, frames: number): string {
  if (bytes > opts.maxFrame) return "maxFrame";
  return frames >= opts.maxFrames ? "maxFrames" : "maxMessage";
}
const PHASE_GREETING = 0;
const PHASE_READY = 1;
const PHASE_TRAFFIC = 2;

/** An encrypted (CURVE) message: raw bytes that still count against the high-water mark. */
class Sealed {
  constructor(readonly bytes: Uint8Array) {}
}

/** True when `body` starts with the MESSAGE command name (CURVE traffic). */
function isMessage(body: Uint8Array): boolean {
  return body[0] === 7 && body[1] === 0x4d && body[2] === 0x45 && body[3] === 0x53 &&
    body[4] === 0x53 && body[5] === 0x41 && body[6] === 0x47 && body[7] === 0x45;
}

/** One peer connection; created by a socket for each accepted or connected TCP stream. */
export class Connection {
  /** `host:port` of the peer, for logs. */
  readonly peer: string;
  /** True once greeting and READY completed. */
  ready = false;
  closed = false;
  /** Peer's minor version when it speaks 3.x (0 means 3.0: subscriptions as data frames). */
  peerMinor = 0;
  /** Peer's announced Socket-Type. */
  peerType = "";
  /** Last time (performance.now) any bytes arrived. */
  lastRecv = performance.now();
  /** Messages received and not yet taken by the socket (PULL/SUB fair queue). */
  readonly inbox: Deque<Uint8Array[]> = new Deque();
  /** Queued outgoing messages (not commands); compared against the high-water mark. */
  queued = 0;
  /** Resolves when both loops have ended and the TCP stream is closed. */
  readonly done: Promise<void>;

  readonly #host: ConnectionHost;
  readonly #conn: Deno.Conn;
  /** Outgoing items: a message (frames), an encoded command frame, or a CURVE message. */
  readonly #out = new Deque<Uint8Array[] | Uint8Array | Sealed>();
  #wakeWriter: (() => void) | undefined;
  #resumeReader: (() => void) | undefined;
  #drainWaiters: (() => void)[] = [];
  #closeAfterFlush: DisconnectReason | undefined;
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #writing = false;
  readonly #server: boolean;
  readonly #curve: CurveSession | undefined;

  /**
   * `server` for accepted connections, `client` for ones we made: with NULL the client sends
   * READY at once and the server only after validating the client's READY (37/ZMTP).
   */
  constructor(host: ConnectionHost, conn: Deno.Conn, role: "client" | "server") {
    this.#host = host;
    this.#conn = conn;
    this.#server = role === "server";
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.peer = addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // Not fatal: only latency suffers.
    }
    // The whole greeting goes out at once (37/ZMTP allows it; we never downgrade). A client's
    // READY follows at once; a server answers only a valid READY, so a client of the wrong
    // type learns nothing and we (not it) get to count the incompatible socket.
    const keys = host.opts.curve;
    if (keys !== undefined) {
      // CURVE: the roles come from the keys, not from who connected (as in libzmq).
      const curve = new CurveSession(keys, host.type);
      this.#curve = curve;
      this.#out.push(encodeGreeting("CURVE", curve.asServer));
      const hello = curve.hello();
      if (hello !== undefined) this.#out.push(hello);
    } else {
      this.#out.push(GREETING);
      if (!this.#server) this.#out.push(encodeReady(host.type));
    }
    this.#handshakeTimer = setTimeout(() => {
      this.#handshakeTimer = undefined;
      this.close("handshake_timeout");
    }, host.opts.handshakeTimeout);
    this.done = Promise.all([this.#readLoop(), this.#writeLoop()]).then(() => {});
  }

  /** Queues a message for this peer. The caller checks `queued` against the hwm first. */
  send(frames: Uint8Array[]): void {
    const curve = this.#curve;
    if (curve !== undefined) {
      // Encrypted now, in queue order, so short nonces go out strictly increasing.
      const last = frames.length - 1;
      const boxes = frames.map((f, i) => curve.encrypt(i < last ? CURVE_MORE : 0, f));
      this.#out.push(new Sealed(boxes.length === 1 ? boxes[0]! : joinBytes(boxes)));
    } else {
      this.#out.push(frames);
    }
    this.queued++;
    this.#wake();
  }

  /**
   * Queues an encoded command frame (SUBSCRIBE, PING…); commands bypass the hwm. After a CURVE
   * handshake the frame travels inside a MESSAGE (COMMAND flag for commands).
   */
  sendCommand(frame: Uint8Array): void {
    if (this.#curve !== undefined && this.ready) {
      const hdr = frame[0]! & FLAG_LONG ? 9 : 2;
      const flags = frame[0]! & FLAG_COMMAND ? CURVE_COMMAND : 0;
      frame = this.#curve.encrypt(flags, frame.subarray(hdr));
    }
    this.#out.push(frame);
    this.#wake();
  }

  /** Lets a paused reader go on once the socket has taken messages from `inbox`. */
  resume(): void {
    const resume = this.#resumeReader;
    if (resume) {
      this.#resumeReader = undefined;
      resume();
    }
  }

  /** Resolves when everything queued has been written (or the connection closed). */
  drained(): Promise<void> {
    if ((this.#out.length === 0 && !this.#writing) || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Ends the connection once; counts and reports `reason`. */
  close(reason: DisconnectReason, detail?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
    this.#out.clear();
    this.queued = 0;
    this.#wake();
    this.resume();
    this.#notifyDrained();
    this.#host.stats.disconnected[reason]++;
    const fields: Record<string, unknown> = { peer: this.peer, reason };
    if (detail !== undefined) {
      fields.detail = detail instanceof Error ? detail.message : String(detail);
    }
    this.#host.log("disconnect", fields);
    this.#host.onClosed(this, reason);
  }

  #wake(): void {
    const wake = this.#wakeWriter;
    if (wake) {
      this.#wakeWriter = undefined;
      wake();
    }
  }

  #notifyDrained(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Refuses the peer during the handshake: an ERROR command, then close (37/ZMTP). */
  #refuse(reason: DisconnectReason, text: string, error = text): void {
    this.#host.log("refuse", { peer: this.peer, reason, detail: text });
    this.#closeAfterFlush = reason;
    this.sendCommand(encodeCommand("ERROR", errorReason(error)));
  }

  /** A received message is dropped for a limit; the connection goes on. */
  #oversized(bytes: number, limit: string): void {
    this.#host.stats.oversized++;
    this.#host.log("oversized", { peer: this.peer, bytes, limit });
  }

  async #readLoop(): Promise<void> {
    const opts = this.#host.opts;
    const curve = this.#curve;
    // Under CURVE every frame after the handshake is a MESSAGE command around a data frame.
    const commandLimit = Math.max(opts.maxFrame, MIN_COMMAND) + (curve ? MESSAGE_OVERHEAD : 0);
    let buf = new Uint8Array(CHUNK);
    let start = 0;
    let end = 0;
    // Set once a data frame view of `buf` has been handed out: from then on `buf` is never
    // written below `end` again, which is what makes zero-copy frames safe.
    let shared = false;
    let need = GREETING_SIZE;
    let phase = PHASE_GREETING;
    let parts: Uint8Array[] = [];
    let partsBytes = 0;
    // A message over a limit is dropped whole: its frames are skipped as they stream in
    // (`skip` bytes of the current one still to come) until its last frame has passed.
    let dropping = false;
    let skip = 0;
    /** What `dropping` becomes once the skipped frame is through (false: it ended its message). */
    let dropAfterSkip = false;
    let scratch: Uint8Array | undefined;
    try {
      while (!this.closed && this.#closeAfterFlush === undefined) {
        if (skip > 0 && start === end) {
          // Nothing of the skipped frame is worth keeping: read it into scratch and forget it.
          scratch ??= new Uint8Array(SKIP_CHUNK);
          const n = await this.#conn.read(scratch.subarray(0, Math.min(SKIP_CHUNK, skip)));
          if (n === null) {
            this.close("peer_closed");
            return;
          }
          if (this.closed) return;
          this.lastRecv = performance.now();
          skip -= n;
          if (skip === 0) dropping = dropAfterSkip;
          continue;
        }
        if (start === end && !shared) start = end = 0;
        if (buf.length - end < MIN_READ || buf.length - start < need) {
          const have = end - start;
          const next = new Uint8Array(Math.max(CHUNK, need + MIN_READ, have + MIN_READ));
          next.set(buf.subarray(start, end));
          buf = next;
          start = 0;
          end = have;
          shared = false;
        }
        const n = await this.#conn.read(buf.subarray(end));
        if (n === null) {
          this.close("peer_closed");
          return;
        }
        if (this.closed) return;
        end += n;
        this.lastRecv = performance.now();

        if (phase === PHASE_GREETING) {
          const problem = checkGreeting(
            buf.subarray(start, end),
            end - start,
            curve ? "CURVE" : "NULL",
          );
          if (problem) {
            this.close(problem);
            return;
          }
          if (end - start < GREETING_SIZE) continue;
          const major = buf[start + 10]!;
          this.peerMinor = major > 3 ? 255 : buf[start + 11]!;
          start += GREETING_SIZE;
          phase = PHASE_READY;
        }

        for (;;) {
          if (skip > 0) {
            const k = Math.min(skip, end - start);
            start += k;
            skip -= k;
            if (skip > 0) break;
            dropping = dropAfterSkip;
            need = 2;
          }
          const avail = end - start;
          if (avail < 2) {
            need = 2;
            break;
          }
          const flags = buf[start]!;
          if (flags & FLAG_RESERVED) {
            this.close("protocol_error", `reserved flag bits set: 0x${flags.toString(16)}`);
            return;
          }
          let size: number;
          let hdr: number;
          if (flags & FLAG_LONG) {
            if (avail < 9) {
              need = 9;
              break;
            }
            const hi = u32(buf, start + 1);
            const lo = u32(buf, start + 5);
            // Anything past 2^53 is beyond any limit anyway; keep the arithmetic exact.
            size = hi > 0x1f_ffff ? ABSURD : hi * 0x1_0000_0000 + lo;
            hdr = 9;
          } else {
            size = buf[start + 1]!;
            hdr = 2;
          }
          const isCommand = (flags & FLAG_COMMAND) !== 0;
          // libzmq sends CURVE MESSAGEs as data frames (flags 0); 25/ZMTP-CURVE calls them commands.
          const carriesData = phase === PHASE_TRAFFIC && (curve !== undefined || !isCommand);
          if (
            size >= ABSURD || (!carriesData && size > (isCommand ? commandLimit : opts.maxFrame))
          ) {
            this.close("frame_too_large", `${size} bytes, limit ${opts.maxFrame}`);
            return;
          }
          if (carriesData) {
            // Decide from the header alone whether this frame's message is dropped, so an
            // oversized frame streams through `skip` and is never buffered whole.
            let more: boolean;
            let drop: boolean;
            let innerCommand = false;
            if (curve) {
              if (size <= commandLimit) {
                more = false;
                drop = false;
              } else {
                // The MORE flag is inside the box: read it from the first cipher byte.
                if (avail < hdr + 1 + MESSAGE_OVERHEAD) {
                  need = hdr + 1 + MESSAGE_OVERHEAD;
                  break;
                }
                if (!isMessage(buf.subarray(start + hdr, start + hdr + 8))) {
                  this.close("frame_too_large", `${size} bytes, limit ${commandLimit}`);
                  return;
                }
                const inner = curve.peekFlags(buf.subarray(start + hdr + 8, start + hdr + 33));
                more = (inner & CURVE_MORE) !== 0;
                innerCommand = (inner & CURVE_COMMAND) !== 0;
                drop = true;
              }
            } else {
              more = (flags & FLAG_MORE) !== 0;
              drop = dropping || size > opts.maxFrame || partsBytes + size > opts.maxMessage ||
                parts.length >= opts.maxFrames;
            }
            if (drop) {
              if (innerCommand) {
                // An oversized command (SUBSCRIBE…) inside a MESSAGE: skip it, keep the message state.
                dropAfterSkip = dropping;
              } else {
                if (!dropping) {
                  this.#oversized(size, limitHit(opts, size, parts.length));
                  parts = [];
                  partsBytes = 0;
                }
                dropping = true;
                dropAfterSkip = more;
              }
              skip = hdr + size;
              need = 2;
              continue;
            }
          }
          if (avail < hdr + size) {
            need = hdr + size;
            break;
          }
          const body = buf.subarray(start + hdr, start + hdr + size);
          start += hdr + size;

          let payload: Uint8Array = body;
          let more = (flags & FLAG_MORE) !== 0;
          if (curve !== undefined && phase === PHASE_TRAFFIC) {
            // CURVE traffic: only MESSAGE (or a plain ERROR) may come now.
            if (!isMessage(body)) {
              const name = isCommand ? latin1(body.subarray(1, 1 + (body[0] ?? 0))) : "";
              if (name === "ERROR") this.#command(phase, body);
              else this.close("protocol_error", `${name || "plain data"} after CURVE handshake`);
              return;
            }
            const opened = curve.decrypt(body.subarray(8));
            if (typeof opened === "string") {
              this.close("protocol_error", opened);
              return;
            }
            if (opened.flags & CURVE_COMMAND) {
              phase = this.#command(phase, opened.payload);
              if (phase < 0 || this.closed || this.#closeAfterFlush !== undefined) return;
              continue;
            }
            payload = opened.payload;
            more = (opened.flags & CURVE_MORE) !== 0;
          } else if (isCommand) {
            if (flags & FLAG_MORE) {
              this.close("protocol_error", "command frame with MORE flag");
              return;
            }
            phase = this.#command(phase, body);
            if (phase < 0 || this.closed || this.#closeAfterFlush !== undefined) return;
            continue;
          } else if (phase !== PHASE_TRAFFIC) {
            this.close("protocol_error", "message before READY");
            return;
          } else {
            shared = true;
          }
          if (dropping) {
            dropping = more;
            continue;
          }
          const bytes = payload.length;
          if (
            bytes > opts.maxFrame || partsBytes + bytes > opts.maxMessage ||
            parts.length >= opts.maxFrames
          ) {
            // Only CURVE gets here: a MESSAGE that fit its limit but whose frame does not.
            this.#oversized(bytes, limitHit(opts, bytes, parts.length));
            parts = [];
            partsBytes = 0;
            dropping = more;
            continue;
          }
          parts.push(payload);
          partsBytes += bytes;
          if (more) continue;
          const message = parts;
          parts = [];
          partsBytes = 0;
          this.#host.onMessage(this, message);
          if (this.closed) return;
        }
        // Back-pressure: stop reading while the socket's queue for this peer is full. The
        // peer's kernel buffers then fill and its own high-water mark takes over.
        if (this.inbox.length >= opts.hwm) {
          this.#host.log("pause", { peer: this.peer, queued: this.inbox.length });
        }
        while (this.inbox.length >= opts.hwm && !this.closed) {
          await new Promise<void>((resolve) => this.#resumeReader = resolve);
        }
      }
    } catch (error) {
      if (!this.closed) this.close("io_error", error);
    }
  }

  /** Handles one command frame; returns the next phase, or -1 when the connection ended. */
  #command(phase: number, body: Uint8Array): number {
    const nameLength = body[0] ?? 0;
    if (nameLength === 0 || 1 + nameLength > body.length) {
      this.close("protocol_error", "malformed command name");
      return -1;
    }
    const name = latin1(body.subarray(1, 1 + nameLength));
    const data = body.subarray(1 + nameLength);
    if (name === "ERROR") {
      this.close("peer_error", latin1(data.subarray(1, 1 + (data[0] ?? 0))));
      return -1;
    }
    if (phase === PHASE_READY) {
      let props: Map<string, Uint8Array>;
      const curve = this.#curve;
      if (curve !== undefined) {
        const step = curve.handshake(name, data);
        if (step.kind === "send") {
          this.sendCommand(step.frame);
          return phase;
        }
        if (step.kind === "fail") {
          if (step.error !== undefined) this.#refuse(step.reason, step.detail, step.error);
          else this.close(step.reason, step.detail);
          return -1;
        }
        props = step.props;
        if (step.clientKey !== undefined) {
          this.#host.log("authorized", { peer: this.peer, key: step.clientKey });
        }
      } else {
        if (name !== "READY") {
          this.close("protocol_error", `expected READY, got ${name}`);
          return -1;
        }
        try {
          props = parseProperties(data);
        } catch (error) {
          this.close("protocol_error", error);
          return -1;
        }
      }
      const peerType = latin1(props.get("socket-type") ?? new Uint8Array(0));
      if (!COMPATIBLE[this.#host.type].includes(peerType)) {
        this.peerType = peerType;
        this.#refuse(
          "incompatible_socket",
          `Socket-Type ${peerType || "(none)"} cannot talk to ${this.#host.type}`,
        );
        return -1;
      }
      this.peerType = peerType;
      if (curve !== undefined) {
        if (curve.asServer) this.sendCommand(curve.ready());
      } else if (this.#server) this.sendCommand(encodeReady(this.#host.type));
      this.ready = true;
      if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = undefined;
      this.#host.stats.handshakes++;
      this.#host.log("ready", {
        peer: this.peer,
        socketType: peerType,
        version: `3.${this.peerMinor}`,
      });
      this.#host.onReady(this);
      return PHASE_TRAFFIC;
    }
    if (name === "PING") {
      // PONG echoes the context (at most 16 bytes after the 2-byte TTL).
      this.sendCommand(encodeCommand("PONG", data.subarray(2, 18)));
      this.#host.log("ping", { peer: this.peer });
    } else if (name === "PONG") {
      this.#host.log("pong", { peer: this.peer });
    } else if (name === "SUBSCRIBE" || name === "CANCEL") {
      this.#host.onCommand(this, name, data);
    }
    // Unknown commands are ignored; any traffic already counts as a sign of life.
    return phase;
  }

  async #writeLoop(): Promise<void> {
    const buf = new Uint8Array(WRITE_CHUNK);
    try {
      for (;;) {
        if (this.#out.length === 0) {
          this.#writing = false;
          this.#notifyDrained();
          if (this.#closeAfterFlush !== undefined && !this.closed) {
            this.close(this.#closeAfterFlush);
          }
          if (this.closed) return;
          await new Promise<void>((resolve) => this.#wakeWriter = resolve);
          continue;
        }
        if (this.closed) return;
        this.#writing = true;
        let n = 0;
        for (let item = this.#out.peek(); item !== undefined; item = this.#out.peek()) {
          if (!Array.isArray(item)) {
            const bytes = item instanceof Sealed ? item.bytes : item;
            if (n + bytes.length > buf.length) {
              if (n > 0) break;
              await this.#writeAll(bytes);
              if (this.closed) return;
            } else {
              buf.set(bytes, n);
              n += bytes.length;
            }
            this.#out.shift();
            if (item instanceof Sealed) this.queued--;
            continue;
          }
          let size = 0;
          for (const frame of item) size += headerSize(frame.length) + frame.length;
          if (n + size <= buf.length) {
            const last = item.length - 1;
            for (let i = 0; i <= last; i++) {
              const frame = item[i]!;
              n = writeHeader(buf, n, i < last ? FLAG_MORE : 0, frame.length);
              buf.set(frame, n);
              n += frame.length;
            }
          } else {
            if (n > 0) break;
            n = await this.#writeLarge(buf, item);
            if (this.closed) return;
          }
          this.#out.shift();
          this.queued--;
        }
        if (n > 0) await this.#writeAll(buf.subarray(0, n));
        if (this.closed) return;
        this.#host.onWritable(this);
      }
    } catch (error) {
      this.#writing = false;
      if (!this.closed) this.close("io_error", error);
    }
  }

  /** Writes a message too big for one batch; large frames go out without a copy. */
  async #writeLarge(buf: Uint8Array, frames: Uint8Array[]): Promise<number> {
    let n = 0;
    const last = frames.length - 1;
    for (let i = 0; i <= last; i++) {
      const frame = frames[i]!;
      if (n + 9 + Math.min(frame.length, DIRECT_WRITE) > buf.length) {
        await this.#writeAll(buf.subarray(0, n));
        n = 0;
      }
      n = writeHeader(buf, n, i < last ? FLAG_MORE : 0, frame.length);
      if (frame.length > DIRECT_WRITE) {
        await this.#writeAll(buf.subarray(0, n));
        n = 0;
        await this.#writeAll(frame);
      } else {
        buf.set(frame, n);
        n += frame.length;
      }
    }
    return n;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }
}

function u32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

function joinBytes(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function errorReason(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text).subarray(0, 255);
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}
