import type { PacketView } from "../../../shared/capture/packet_view.ts";

/** How the body after a head is delimited. */
export type BodyFraming =
  | { length: number } // Content-Length (0: none)
  | "chunked"
  | "close"; // until the connection closes (or a protocol switch): nothing more to read

/** Longest message head kept (request line + headers); a longer one resynchronises. */
const MAX_HEAD = 16 * 1024;
/** Longest chunk-size or trailer line. */
const MAX_LINE = 1024;

type Mode = "head" | "body" | "chunk-size" | "chunk-data" | "chunk-end" | "trailer" | "done";

/**
 * Splits one direction of an HTTP/1.x connection into message heads, skipping bodies by their
 * framing (Content-Length, chunked) without copying them: only head bytes are kept, at most
 * {@linkcode MAX_HEAD}. TCP packets come in capture order; a retransmission is trimmed to its new
 * part, and after a gap (lost segment, snap length) the stream waits for a packet that starts a
 * message (`startsMessage`) instead of guessing where it is.
 */
export class HttpStream {
  #mode: Mode = "head";
  #head = new Uint8Array(512);
  #headLength = 0;
  /** Head scan state: the current line has no byte other than CR yet. */
  #lineEmpty = true;
  #line = "";
  #remaining = 0;
  #nextSeq = -1;
  #resync = false;
  readonly #onHead: (head: Uint8Array) => BodyFraming | undefined;
  readonly #startsMessage: (buf: Uint8Array, offset: number, end: number) => boolean;

  /**
   * `onHead` gets each complete head (request or status line to the blank line) and says how
   * its body is framed, or undefined when the bytes are no HTTP head (the stream resynchronises).
   */
  constructor(
    onHead: (head: Uint8Array) => BodyFraming | undefined,
    startsMessage: (buf: Uint8Array, offset: number, end: number) => boolean,
  ) {
    this.#onHead = onHead;
    this.#startsMessage = startsMessage;
  }

  /** Feeds bytes already in order (the first payload the flow table collected). */
  feed(bytes: Uint8Array): void {
    this.#bytes(bytes, 0, bytes.length);
  }

  /**
   * Feeds one later TCP packet. `truncated` first bytes (the first payload was cut by the
   * collector's budget) are treated as a gap.
   */
  feedPacket(view: PacketView): void {
    if (this.#mode === "done") return;
    const seq = view.tcpSeq >>> 0;
    const expected = this.#nextSeq;
    let skip = 0;
    if (expected >= 0 && seq !== expected) {
      const behind = (expected - seq) >>> 0;
      if (behind < 0x80000000) {
        if (behind >= view.payloadLength) return; // all old data
        skip = behind;
      } else this.#lose();
    }
    this.#nextSeq = (seq + view.payloadLength) >>> 0;
    const start = view.payloadOffset + skip;
    const end = view.payloadOffset + view.payloadCaptured;
    if (this.#resync) {
      if (skip > 0 || !this.#startsMessage(view.buf, start, end)) return;
      this.#resync = false;
      this.#startHead();
    }
    this.#bytes(view.buf, start, end);
    if (view.payloadCaptured < view.payloadLength) this.#lose();
  }

  /** Marks lost bytes: wait for a packet that starts a message. */
  lose(): void {
    this.#lose();
  }

  /** Times the stream lost its place (gap, cut packet, unparseable or oversized head). */
  lost = 0;

  #lose(): void {
    if (this.#mode === "done" || this.#resync) return;
    this.#resync = true;
    this.lost++;
  }

  #startHead(): void {
    this.#mode = "head";
    this.#headLength = 0;
    this.#lineEmpty = true;
  }

  #bytes(buf: Uint8Array, i: number, end: number): void {
    while (i < end && !this.#resync && this.#mode !== "done") {
      switch (this.#mode) {
        case "body":
        case "chunk-data": {
          const n = Math.min(this.#remaining, end - i);
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            if (this.#mode === "body") this.#startHead();
            else this.#lineMode("chunk-end");
          }
          break;
        }
        case "head":
          i = this.#headBytes(buf, i, end);
          break;
        default:
          i = this.#lineBytes(buf, i, end);
      }
    }
  }

  /** Collects head bytes up to the blank line; leading blank lines between messages are skipped. */
  #headBytes(buf: Uint8Array, i: number, end: number): number {
    for (; i < end; i++) {
      const c = buf[i]!;
      if (this.#headLength === 0 && (c === 10 || c === 13)) continue;
      if (this.#headLength === this.#head.length) {
        if (this.#headLength >= MAX_HEAD) {
          this.#lose();
          return i;
        }
        const bigger = new Uint8Array(this.#head.length * 2);
        bigger.set(this.#head);
        this.#head = bigger;
      }
      this.#head[this.#headLength++] = c;
      if (c === 10) {
        if (this.#lineEmpty) return this.#endHead(i + 1);
        this.#lineEmpty = true;
      } else if (c !== 13) this.#lineEmpty = false;
    }
    return i;
  }

  #endHead(next: number): number {
    const framing = this.#onHead(this.#head.subarray(0, this.#headLength));
    if (framing === undefined) {
      this.#lose();
    } else if (framing === "close") {
      this.#mode = "done";
    } else if (framing === "chunked") {
      this.#lineMode("chunk-size");
    } else if (framing.length > 0) {
      this.#mode = "body";
      this.#remaining = framing.length;
    } else {
      this.#startHead();
    }
    return next;
  }

  #lineMode(mode: Mode): void {
    this.#mode = mode;
    this.#line = "";
  }

  /** Chunk-size lines, the CRLF after chunk data, and trailer lines. */
  #lineBytes(buf: Uint8Array, i: number, end: number): number {
    let lf = i;
    while (lf < end && buf[lf] !== 10) lf++;
    if (this.#line.length + (lf - i) > MAX_LINE) {
      this.#lose();
      return end;
    }
    for (let k = i; k < lf; k++) if (buf[k] !== 13) this.#line += String.fromCharCode(buf[k]!);
    if (lf === end) return end;
    const line = this.#line;
    this.#line = "";
    if (this.#mode === "chunk-size") {
      const size = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(line);
      if (size === null) this.#lose();
      else if (size[1]!.replace(/^0+/, "") === "") this.#mode = "trailer";
      else {
        this.#mode = "chunk-data";
        this.#remaining = parseInt(size[1]!, 16);
      }
    } else if (this.#mode === "chunk-end") {
      if (line === "") this.#mode = "chunk-size";
      else this.#lose();
    } else if (line === "") this.#startHead(); // trailer ends with a blank line
    return lf + 1;
  }
}
