import { FIXED_FIELDS, FIXED_SIZE, type HttpRecord, TAIL_FIELDS } from "./record.ts";
import { clientIp } from "./client_ip.ts";

/** Why a message was not turned into a record; each is a `qts_input_dropped_total` reason. */
export type RejectReason =
  | "short_body"
  | "bad_length"
  | "bad_utf8"
  | "trailing_bytes"
  | "oversized"
  | "bad_remote_addr";

/** The outcome of decoding: a record, or a rejection that says why and at which byte. */
export type DecodeResult =
  | { ok: true; record: HttpRecord }
  | { ok: false; reason: RejectReason; detail: string };

/** Options of {@linkcode decodeRecord}. */
export interface DecodeOptions {
  /** Bodies longer than this are rejected as `oversized` before any parsing. Default 1 MiB. */
  maxBytes?: number;
}

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/** Every string field in wire order: the char[N] ones, the tail ones, then remote_addr. */
const STRING_FIELDS: readonly string[] = [
  ...FIXED_FIELDS.filter(([, kind]) => kind === "char").map(([name]) => name),
  ...TAIL_FIELDS.filter(([, kind]) => kind === "str").map(([name]) => name),
  "remote_addr",
];
const REMOTE_ADDR = STRING_FIELDS.length - 1;
/** The char[N] fields come first in STRING_FIELDS. */
const CHAR_FIELDS = FIXED_FIELDS.filter(([, kind]) => kind === "char").length;
const CHAR_WIDTHS = FIXED_FIELDS.filter(([, kind]) => kind === "char").map(([, , size]) => size);
/** Byte offset of each char[N] field in the fixed part. */
const CHAR_OFFSETS: readonly number[] = (() => {
  const out: number[] = [];
  let offset = 0;
  for (const [, kind, size] of FIXED_FIELDS) {
    if (kind === "char") out.push(offset);
    offset += size;
  }
  return out;
})();
const TAIL_IS_U32: readonly boolean[] = TAIL_FIELDS.map(([, kind]) => kind === "u32");
const TAIL_NAMES: readonly string[] = TAIL_FIELDS.map(([name]) => name);

function validUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  try {
    fatal.decode(bytes.subarray(start, end));
    return true;
  } catch {
    return false;
  }
}

/**
 * For a char[N] value that fills its field: the end without an incomplete last character, when
 * that incompleteness is its only fault; -1 otherwise.
 */
function cutCharacter(bytes: Uint8Array, start: number, end: number): number {
  for (let k = 1; k <= 3 && end - k > start; k++) {
    const lead = bytes[end - k]!;
    if (lead < 0xc0) continue; // a continuation byte: the lead is further back
    const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    return needed > k && validUtf8(bytes, start, end - k) ? end - k : -1;
  }
  return -1;
}
const TAIL_U32 = TAIL_FIELDS.filter(([, kind]) => kind === "u32").map(([name]) => name);

/**
 * A decoded record that keeps its bytes and turns a string field into a JS string only when a
 * filter reads it (then caches it). Per-field TextDecoder calls cost ~0.3 µs each, and the chain
 * reads a handful of the 36 string fields, so eager decoding would halve the sensor's
 * throughput. Validation (lengths, UTF-8) is complete at decode time, so reads never fail.
 */
class WireRecord {
  _bytes: Uint8Array;
  /** Made on the first read of a fixed number field (most records never need one). */
  _dataView: DataView | undefined;
  /**
   * start,end of each string field (STRING_FIELDS order); -1 for an absent remote_addr. A plain
   * array: a typed array this size would get its own off-heap buffer for every record.
   */
  _spans: number[];
  _strings: (string | undefined)[];
  _u32: number[];

  constructor(bytes: Uint8Array, spans: number[], u32: number[]) {
    this._bytes = bytes;
    this._dataView = undefined;
    this._spans = spans;
    this._strings = new Array(STRING_FIELDS.length);
    this._u32 = u32;
  }

  get _view(): DataView {
    const bytes = this._bytes;
    return this._dataView ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  _string(index: number): string {
    const cached = this._strings[index];
    if (cached !== undefined) return cached;
    const start = this._spans[index * 2]!;
    const end = this._spans[index * 2 + 1]!;
    const bytes = this._bytes;
    let text: string | undefined;
    if (end - start <= 32) {
      // Short ASCII values: a loop beats a TextDecoder call by 5-10×.
      text = "";
      for (let i = start; i < end; i++) {
        const b = bytes[i]!;
        if (b >= 0x80) {
          text = undefined;
          break;
        }
        text += String.fromCharCode(b);
      }
    }
    text ??= lenient.decode(bytes.subarray(start, end));
    this._strings[index] = text;
    return text;
  }

  /** JSON view (telemetry): u64 `failed_servers` as a number while exact, else a string. */
  toJSON(): Record<string, unknown> {
    const plain = toPlainRecord(this as unknown as HttpRecord) as unknown as Record<
      string,
      unknown
    >;
    const u64 = plain.failed_servers as bigint;
    plain.failed_servers = u64 <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(u64) : u64.toString();
    return plain;
  }
}

{
  const proto = WireRecord.prototype;
  let offset = 0;
  for (const [name, kind, size] of FIXED_FIELDS) {
    const at = offset;
    offset += size;
    let get: (this: WireRecord) => unknown;
    switch (kind) {
      case "u32":
        get = function () {
          return this._view.getUint32(at, true);
        };
        break;
      case "u32be":
        get = function () {
          return this._view.getUint32(at, false);
        };
        break;
      case "u16":
        get = function () {
          return this._view.getUint16(at, true);
        };
        break;
      case "u64":
        get = function () {
          return this._view.getBigUint64(at, true);
        };
        break;
      case "i8":
        get = function () {
          return this._view.getInt8(at);
        };
        break;
      case "char": {
        const index = STRING_FIELDS.indexOf(name);
        get = function () {
          return this._string(index);
        };
        break;
      }
    }
    Object.defineProperty(proto, name, { get, enumerable: true });
  }
  for (const [name, kind] of TAIL_FIELDS) {
    if (kind !== "str") continue;
    const index = STRING_FIELDS.indexOf(name);
    Object.defineProperty(proto, name, {
      get(this: WireRecord) {
        return this._string(index);
      },
      enumerable: true,
    });
  }
  TAIL_U32.forEach((name, i) => {
    Object.defineProperty(proto, name, {
      get(this: WireRecord) {
        return this._u32[i];
      },
      enumerable: true,
    });
  });
  Object.defineProperty(proto, "remote_addr", {
    get(this: WireRecord) {
      return this._spans[REMOTE_ADDR * 2]! < 0 ? undefined : this._string(REMOTE_ADDR);
    },
    enumerable: true,
  });
}

/** A plain-object copy of a record (every field read once); for JSON, tests and storage. */
export function toPlainRecord(record: HttpRecord): HttpRecord {
  const out: Record<string, unknown> = {};
  for (const [name] of FIXED_FIELDS) out[name] = record[name];
  for (const [name] of TAIL_FIELDS) out[name] = record[name];
  if (record.remote_addr !== undefined) out.remote_addr = record.remote_addr;
  return out as unknown as HttpRecord;
}

/** A hostile value for a log line: JSON-quoted (control characters escaped), cut to 64. */
function describe(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** A little-endian u32 at `at` (the caller checked that 4 bytes remain). */
function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | bytes[at + 1]! << 8 | bytes[at + 2]! << 16 | bytes[at + 3]! << 24) >>> 0;
}

function reject(reason: RejectReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

/**
 * Decodes a message body into a record. Never throws: every malformed input becomes a
 * rejection with a reason and the byte offset where it went wrong. The record reads its string
 * fields lazily from `bytes`, which the caller must not modify afterwards.
 */
export function decodeRecord(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = options.maxBytes ?? 1 << 20;
  const length = bytes.length;
  if (length > maxBytes) {
    return reject("oversized", `body of ${length} bytes exceeds the limit of ${maxBytes}`);
  }
  if (length < FIXED_SIZE) {
    return reject(
      "short_body",
      `body of ${length} bytes is shorter than the fixed part (${FIXED_SIZE})`,
    );
  }
  const spans: number[] = new Array(STRING_FIELDS.length * 2);
  let field = 0;
  for (; field < CHAR_FIELDS; field++) {
    const start = CHAR_OFFSETS[field]!;
    const limit = start + CHAR_WIDTHS[field]!;
    let end = start;
    while (end < limit && bytes[end] !== 0) end++;
    spans[field * 2] = start;
    spans[field * 2 + 1] = end;
  }
  let pos = FIXED_SIZE;
  const u32: number[] = [];
  for (let t = 0; t < TAIL_NAMES.length; t++) {
    if (pos + 4 > length) {
      return reject(
        "short_body",
        `body ends at byte ${length} before field "${TAIL_NAMES[t]}" at byte ${pos}`,
      );
    }
    const value = readU32(bytes, pos);
    pos += 4;
    if (TAIL_IS_U32[t]) {
      u32.push(value);
      continue;
    }
    const name = TAIL_NAMES[t];
    if (value > length - pos) {
      return reject(
        "bad_length",
        `field "${name}" at byte ${pos - 4} claims ${value} bytes, only ${length - pos} remain`,
      );
    }
    spans[field * 2] = pos;
    spans[field * 2 + 1] = pos + value;
    field++;
    pos += value;
  }
  spans[REMOTE_ADDR * 2] = -1;
  if (pos < length) {
    if (length - pos < 4) {
      return reject("trailing_bytes", `${length - pos} bytes after the last field at byte ${pos}`);
    }
    const value = readU32(bytes, pos);
    pos += 4;
    if (value > length - pos) {
      return reject(
        "bad_length",
        `field "remote_addr" at byte ${pos - 4} claims ${value} bytes, only ${length - pos} remain`,
      );
    }
    if (value > 0) {
      spans[REMOTE_ADDR * 2] = pos;
      spans[REMOTE_ADDR * 2 + 1] = pos + value;
    }
    pos += value;
    if (pos < length) {
      return reject("trailing_bytes", `${length - pos} bytes after the last field at byte ${pos}`);
    }
  }
  // UTF-8 is checked here, once, so lazy reads never fail: an ASCII scan, and the strict
  // decoder only for fields that carry non-ASCII bytes.
  for (let f = 0; f < STRING_FIELDS.length; f++) {
    const start = spans[f * 2]!;
    if (start < 0) continue;
    const end = spans[f * 2 + 1]!;
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) continue;
    if (validUtf8(bytes, start, end)) continue;
    // A proxy that copies a long value into char[N] cuts it at N bytes, possibly inside a
    // character: that is "what arrived", not garbage, so the cut character is dropped.
    const full = f < CHAR_FIELDS && end - start === CHAR_WIDTHS[f];
    const cut = full ? cutCharacter(bytes, start, end) : -1;
    if (cut >= 0) {
      spans[f * 2 + 1] = cut;
      continue;
    }
    return reject("bad_utf8", `field "${STRING_FIELDS[f]}" at byte ${start} is not valid UTF-8`);
  }
  const wire = new WireRecord(bytes, spans, u32);
  if (spans[REMOTE_ADDR * 2]! >= 0) {
    // The client address becomes ban keys and nft set elements: it must be an address, in
    // its one canonical spelling (the lazy read then returns the normalised text).
    const text = wire._string(REMOTE_ADDR);
    const ip = clientIp(text);
    if (ip === undefined) {
      return reject(
        "bad_remote_addr",
        `field "remote_addr" ${describe(text)} is not an IP address`,
      );
    }
    wire._strings[REMOTE_ADDR] = ip;
  }
  return { ok: true, record: wire as unknown as HttpRecord };
}
