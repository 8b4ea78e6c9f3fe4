import { FIXED_FIELDS, FIXED_SIZE, type HttpRecord, TAIL_FIELDS } from "./record.ts";

/** Why a message was not turned into a record; each is a `qts_input_dropped_total` reason. */
export type RejectReason =
  | "short_body"
  | "bad_length"
  | "bad_utf8"
  | "trailing_bytes"
  | "oversized";

/** The outcome of decoding: a record, or a rejection that says why and at which byte. */
export type DecodeResult =
  | { ok: true; record: HttpRecord }
  | { ok: false; reason: RejectReason; detail: string };

/** Options of {@linkcode decodeRecord}. */
export interface DecodeOptions {
  /** Bodies longer than this are rejected as `oversized` before any parsing. Default 1 MiB. */
  maxBytes?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Reject {
  constructor(readonly reason: RejectReason, readonly detail: string) {}
}

function text(bytes: Uint8Array, start: number, end: number, field: string): string {
  // ASCII fast path: most fields are ASCII, and TextDecoder costs more than a short loop.
  if (end - start <= 24) {
    let s = "";
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) return slowText(bytes, start, end, field);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return slowText(bytes, start, end, field);
}

function slowText(bytes: Uint8Array, start: number, end: number, field: string): string {
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    throw new Reject("bad_utf8", `field "${field}" at byte ${start} is not valid UTF-8`);
  }
}

/**
 * Decodes a message body into a record. Never throws: every malformed input becomes a
 * rejection with a reason and the byte offset where it went wrong.
 */
export function decodeRecord(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = options.maxBytes ?? 1 << 20;
  if (bytes.length > maxBytes) {
    return {
      ok: false,
      reason: "oversized",
      detail: `body of ${bytes.length} bytes exceeds the limit of ${maxBytes}`,
    };
  }
  if (bytes.length < FIXED_SIZE) {
    return {
      ok: false,
      reason: "short_body",
      detail: `body of ${bytes.length} bytes is shorter than the fixed part (${FIXED_SIZE})`,
    };
  }
  try {
    return { ok: true, record: parse(bytes) };
  } catch (error) {
    if (error instanceof Reject) return { ok: false, reason: error.reason, detail: error.detail };
    throw error;
  }
}

function parse(bytes: Uint8Array): HttpRecord {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, unknown> = {};
  let pos = 0;
  for (const [name, kind, size] of FIXED_FIELDS) {
    switch (kind) {
      case "u32":
        out[name] = view.getUint32(pos, true);
        break;
      case "u32be":
        out[name] = view.getUint32(pos, false);
        break;
      case "u16":
        out[name] = view.getUint16(pos, true);
        break;
      case "u64":
        out[name] = view.getBigUint64(pos, true);
        break;
      case "i8":
        out[name] = view.getInt8(pos);
        break;
      case "char": {
        let end = pos;
        const limit = pos + size;
        while (end < limit && bytes[end] !== 0) end++;
        out[name] = text(bytes, pos, end, name);
        break;
      }
    }
    pos += size;
  }
  for (const [name, kind] of TAIL_FIELDS) {
    if (pos + 4 > bytes.length) {
      throw new Reject(
        "short_body",
        `body ends at byte ${bytes.length} before field "${name}" at byte ${pos}`,
      );
    }
    const value = view.getUint32(pos, true);
    pos += 4;
    if (kind === "u32") {
      out[name] = value;
      continue;
    }
    if (value > bytes.length - pos) {
      throw new Reject(
        "bad_length",
        `field "${name}" at byte ${pos - 4} claims ${value} bytes, only ${
          bytes.length - pos
        } remain`,
      );
    }
    out[name] = text(bytes, pos, pos + value, name);
    pos += value;
  }
  if (pos < bytes.length) {
    if (bytes.length - pos < 4) {
      throw new Reject(
        "trailing_bytes",
        `${bytes.length - pos} bytes after the last field at byte ${pos}`,
      );
    }
    const value = view.getUint32(pos, true);
    pos += 4;
    if (value > bytes.length - pos) {
      throw new Reject(
        "bad_length",
        `field "remote_addr" at byte ${pos - 4} claims ${value} bytes, only ${
          bytes.length - pos
        } remain`,
      );
    }
    if (value > 0) out.remote_addr = text(bytes, pos, pos + value, "remote_addr");
    pos += value;
    if (pos < bytes.length) {
      throw new Reject(
        "trailing_bytes",
        `${bytes.length - pos} bytes after the last field at byte ${pos}`,
      );
    }
  }
  return out as unknown as HttpRecord;
}
