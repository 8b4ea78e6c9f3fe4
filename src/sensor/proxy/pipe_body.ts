import type { ConnIo } from "./conn_io.ts";
import type { BodyFraming } from "./http_head.ts";

/** A body that broke its framing: cut short, a malformed chunk line, trailers too large. */
export class BodyError extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
    this.name = "BodyError";
  }
}

// A chunk-size line with its extensions, and the trailer section, may not grow past these.
const MAX_CHUNK_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,15})(?:;[\t\x20-\x7e]*)?$/;

const latin1 = new TextDecoder("latin1");

/** Copies exactly `n` bytes from `from` to `to`. */
async function pipeExact(from: ConnIo, to: ConnIo, n: number): Promise<void> {
  while (n > 0) {
    if (from.buffered === 0 && !(await from.fill())) {
      throw new BodyError(`body ended ${n} bytes early`, "truncated_body");
    }
    const chunk = from.take(n);
    n -= chunk.length;
    await to.write(chunk);
  }
}

/** The next CRLF-terminated line of `from` (CRLF included), consumed; at most `max` bytes. */
async function readLine(from: ConnIo, max: number, what: string): Promise<Uint8Array> {
  let scanned = 0;
  for (;;) {
    const at = from.buf.subarray(from.start + scanned, from.end).indexOf(10);
    if (at >= 0) {
      const end = from.start + scanned + at + 1;
      if (end - from.start < 2 || from.buf[end - 2] !== 13) {
        throw new BodyError(`${what} ends in a bare LF`, "bad_chunk");
      }
      if (end - from.start > max) throw new BodyError(`${what} is too long`, "bad_chunk");
      return from.take(end - from.start);
    }
    scanned = from.buffered;
    if (scanned > max) throw new BodyError(`${what} is too long`, "bad_chunk");
    if (!(await from.fill())) throw new BodyError(`body ended inside ${what}`, "truncated_body");
  }
}

/**
 * Copies a chunked body as it is (sizes, extensions, trailers), checking every line, so the
 * message ends exactly where the last chunk says and no byte of a next message is taken.
 * Returns the payload size.
 */
async function pipeChunked(from: ConnIo, to: ConnIo): Promise<number> {
  let total = 0;
  for (;;) {
    const line = await readLine(from, MAX_CHUNK_LINE, "a chunk-size line");
    const m = CHUNK_SIZE.exec(latin1.decode(line.subarray(0, line.length - 2)));
    if (!m) throw new BodyError("malformed chunk-size line", "bad_chunk");
    const size = parseInt(m[1]!, 16);
    await to.write(line);
    if (size === 0) break;
    await pipeExact(from, to, size);
    total += size;
    const crlf = await readLine(from, 2, "the CRLF after a chunk");
    if (crlf.length !== 2) throw new BodyError("chunk data overruns its size", "bad_chunk");
    await to.write(crlf);
  }
  let trailers = 0;
  for (;;) {
    const line = await readLine(from, MAX_TRAILERS, "the trailer section");
    trailers += line.length;
    if (trailers > MAX_TRAILERS) throw new BodyError("trailers are too large", "bad_chunk");
    await to.write(line);
    if (line.length === 2) return total;
  }
}

/**
 * Copies one message body from `from` to `to` as its framing says, streaming (never more than
 * a buffer held). Returns the payload bytes copied; a plain number when the body was buffered
 * whole (a small response costs no promise). Throws {@linkcode BodyError}, or the sockets'
 * errors and timeouts.
 */
export function pipeBody(
  from: ConnIo,
  to: ConnIo,
  framing: BodyFraming,
): Promise<number> | number {
  if (framing.kind === "none") return 0;
  if (framing.kind === "length" && from.buffered >= framing.length) {
    const n = framing.length;
    const queued = to.write(from.take(n));
    return queued ? queued.then(() => n) : n;
  }
  return pipeStreaming(from, to, framing);
}

async function pipeStreaming(from: ConnIo, to: ConnIo, framing: BodyFraming): Promise<number> {
  switch (framing.kind) {
    case "none":
      return 0;
    case "length":
      await pipeExact(from, to, framing.length);
      return framing.length;
    case "chunked":
      return await pipeChunked(from, to);
    case "close": {
      let total = 0;
      for (;;) {
        if (from.buffered === 0 && !(await from.fill())) return total;
        const chunk = from.take(from.buffered);
        total += chunk.length;
        await to.write(chunk);
      }
    }
  }
}
