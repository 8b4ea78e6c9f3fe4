import { headEnd, HeadError } from "./http_head.ts";

/** A read or write that took longer than its limit; `kind` names the limit. */
export class IoTimeout extends Error {
  constructor(readonly kind: string) {
    super(`${kind} timeout`);
    this.name = "IoTimeout";
  }
}

/** The socket operations the proxy uses: TCP, TLS and test doubles alike. */
export type Socket = Pick<Deno.Conn, "read" | "write" | "close">;

// Per side of a connection, read buffer and write queue each: 10k idle keep-alive clients cost
// 10k × 2 × 16 KiB, not a quarter GiB per side at 64 KiB. The read buffer grows for a larger
// head (up to the head limit); a write larger than the queue goes out without a copy.
const BUFFER = 16 * 1024;
// Time limits are checked by one sweep for every socket, not a timer per read, and armed
// against the sweep's clock, not a clock read: arming one is a field write on the hot path.
// That clock is up to SWEEP_MS old, so a limit is due SWEEP_MS after the time asked: it never
// fires early, and up to 2 × SWEEP_MS late.
const SWEEP_MS = 100;
const armed = new Set<ConnIo>();
let sweeper: ReturnType<typeof setInterval> | undefined;
/** Date.now() at the last sweep (or when the sweeper started). */
let clock = 0;

function sweep(): void {
  const now = clock = Date.now();
  for (const io of armed) io.expire(now);
  if (armed.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** Watches `io` and returns when a limit of `ms` armed now is due. */
function watch(io: ConnIo, ms: number): number {
  armed.add(io);
  if (sweeper === undefined) {
    clock = Date.now();
    sweeper = setInterval(sweep, SWEEP_MS);
  }
  return clock + ms + SWEEP_MS;
}

/**
 * One side of a proxied connection: a socket with a read buffer, an output buffer, and time
 * limits on each read and write (a limit closes the socket, so the pending operation fails
 * and is reported as {@linkcode IoTimeout}). Bytes written are gathered and sent at `flush()`
 * or before the next read blocks, so a small response goes out in one write.
 */
export class ConnIo {
  readonly socket: Socket;
  buf = new Uint8Array(BUFFER);
  /** Unread bytes are buf[start, end). */
  start = 0;
  end = 0;
  /** Bytes read and written over the socket's life. */
  bytesIn = 0;
  bytesOut = 0;
  /** Read limit (ms) and its name; 0 = none. */
  readTimeout = 0;
  readKind = "idle";
  writeTimeout = 0;
  #out = new Uint8Array(BUFFER);
  #outLen = 0;
  /** The last head read, copied out of `buf` so it outlives the reads after it. */
  #head = new Uint8Array(1024);
  /** When the current read or write must end (ms), and its limit's name; 0 = none. */
  #opAt = 0;
  #opKind = "";
  /** When the deadline set by setDeadline expires (ms); 0 = none. */
  #deadlineAt = 0;
  #deadlineKind = "";
  #expired: string | undefined;
  #closed = false;
  /** Called once when the socket closes (registry bookkeeping). */
  onClose?: () => void;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Unread buffered bytes. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Closes the socket once; later operations fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#opAt = this.#deadlineAt = 0;
    armed.delete(this);
    try {
      this.socket.close();
    } catch { /* already closed by the peer's side */ }
    this.onClose?.();
  }

  #arm(ms: number, kind: string): void {
    if (ms <= 0) return;
    this.#opAt = watch(this, ms);
    this.#opKind = kind;
  }

  /** Closes the socket when a limit has passed at `now` (the sweep calls it). */
  expire(now: number): void {
    if (this.#closed) {
      armed.delete(this);
      return;
    }
    if (this.#opAt !== 0 && now >= this.#opAt) {
      this.#expired = this.#opKind;
      this.close();
    } else if (this.#deadlineAt !== 0 && now >= this.#deadlineAt) {
      this.#expired = this.#deadlineKind;
      this.close();
    } else if (this.#opAt === 0 && this.#deadlineAt === 0) armed.delete(this);
  }

  /** Closes the socket unless {@linkcode ConnIo.clearDeadline} comes within `ms` (0 = none). */
  setDeadline(ms: number, kind: string): void {
    this.#deadlineAt = ms > 0 ? watch(this, ms) : 0;
    this.#deadlineKind = kind;
  }

  clearDeadline(): void {
    this.#deadlineAt = 0;
  }

  #disarm(): void {
    this.#opAt = 0;
  }

  #fail(error: unknown): never {
    if (this.#expired !== undefined) throw new IoTimeout(this.#expired);
    throw error;
  }

  /** Reads more bytes into the buffer (flushing output first); false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#outLen > 0) await this.flush();
    if (this.start === this.end) {
      this.start = this.end = 0;
    } else if (this.end === this.buf.length) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf);
        this.buf = bigger;
      }
    }
    this.#arm(this.readTimeout, this.readKind);
    let n: number | null;
    try {
      n = await this.socket.read(this.buf.subarray(this.end));
    } catch (error) {
      if (this.#closed && this.#expired === undefined) return false;
      this.#fail(error);
    } finally {
      this.#disarm();
    }
    if (this.#expired !== undefined) throw new IoTimeout(this.#expired);
    if (n === null) return false;
    this.end += n;
    this.bytesIn += n;
    return true;
  }

  /**
   * The next head (through CRLFCRLF), consumed from the buffer; null at a clean end of stream
   * before any byte of it. The bytes stay valid until the next `readHead` on this connection
   * (one buffer, reused: a head costs no allocation). Throws HeadError 431 past `max` bytes and 400 on a stream that ends
   * inside a head.
   */
  async readHead(max: number): Promise<Uint8Array | null> {
    // Bytes after `start` already scanned (headEnd looks back across the boundary itself).
    let scanned = 0;
    for (;;) {
      const head = this.#headAt(headEnd(this.buf, this.end, this.start + scanned, this.start), max);
      if (head) return head;
      scanned = this.end - this.start;
      if (!(await this.fill())) {
        if (scanned === 0) return null;
        throw new HeadError("stream ended inside a head", 400, "truncated_head");
      }
    }
  }

  /**
   * {@linkcode ConnIo.readHead} when the head is buffered already (no promise), else
   * undefined.
   */
  takeHead(max: number): Uint8Array | undefined {
    return this.#headAt(headEnd(this.buf, this.end, this.start, this.start), max);
  }

  /** The head ending at `at` (-1: not buffered yet), consumed; 431 when it passes `max`. */
  #headAt(at: number, max: number): Uint8Array | undefined {
    const n = at < 0 ? this.end - this.start : at - this.start;
    if (n > max) throw new HeadError(`head is larger than ${max} bytes`, 431, "header_too_large");
    if (at < 0) return undefined;
    if (n > this.#head.length) this.#head = new Uint8Array(Math.max(n, this.#head.length * 2));
    this.#head.set(this.buf.subarray(this.start, at));
    this.start = at;
    return this.#head.subarray(0, n);
  }

  /** Takes up to `n` buffered bytes (a view valid until the next read). */
  take(n: number): Uint8Array {
    const len = Math.min(n, this.end - this.start);
    const out = this.buf.subarray(this.start, this.start + len);
    this.start += len;
    return out;
  }

  /**
   * Queues bytes for the peer (copied: the caller may reuse its buffer). Returns a promise only
   * when the queue had to be sent first, so the common case costs no promise.
   */
  write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#outLen + bytes.length <= this.#out.length) {
      this.#out.set(bytes, this.#outLen);
      this.#outLen += bytes.length;
      return;
    }
    return this.#writeLater(bytes);
  }

  async #writeLater(bytes: Uint8Array): Promise<void> {
    await this.flush();
    if (bytes.length > this.#out.length) await this.#send(bytes);
    else {
      this.#out.set(bytes, 0);
      this.#outLen = bytes.length;
    }
  }

  /**
   * Makes room in the queue for `n` bytes that {@linkcode ConnIo.put} and
   * {@linkcode ConnIo.putText} then add (a head being built); a promise only when the queue
   * had to be sent first. The queue grows for a head larger than it.
   */
  reserve(n: number): Promise<void> | undefined {
    if (this.#outLen + n <= this.#out.length) return;
    return this.#reserveLater(n);
  }

  async #reserveLater(n: number): Promise<void> {
    await this.flush();
    if (n > this.#out.length) this.#out = new Uint8Array(Math.max(n, this.#out.length * 2));
  }

  /** Adds bytes to the queue, in room made by {@linkcode ConnIo.reserve}. */
  put(bytes: Uint8Array): void {
    this.#out.set(bytes, this.#outLen);
    this.#outLen += bytes.length;
  }

  /**
   * Adds text to the queue, one byte a character (ISO-8859-1: heads are parsed that way), in
   * room made by {@linkcode ConnIo.reserve}.
   */
  putText(text: string): void {
    const out = this.#out;
    let at = this.#outLen;
    for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
    this.#outLen = at;
  }

  /**
   * Sends `bytes` now, after anything queued, without copying them (tunnels: the read buffer
   * goes straight out, one write a chunk). `bytes` must not change until this resolves.
   */
  async send(bytes: Uint8Array): Promise<void> {
    if (this.#outLen > 0) await this.flush();
    await this.#send(bytes);
  }

  /** Sends every queued byte (a promise only when there were some). */
  flush(): Promise<void> | undefined {
    if (this.#outLen === 0) return;
    const n = this.#outLen;
    this.#outLen = 0;
    return this.#send(this.#out.subarray(0, n));
  }

  async #send(bytes: Uint8Array): Promise<void> {
    this.#arm(this.writeTimeout, "send");
    try {
      let off = await this.socket.write(bytes);
      while (off < bytes.length) off += await this.socket.write(bytes.subarray(off));
      this.bytesOut += bytes.length;
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#disarm();
    }
  }
}
