import { FIXED_FIELDS, FIXED_SIZE, type HttpRecord, TAIL_FIELDS } from "./record.ts";

const utf8 = new TextEncoder();

// The field tables as flat arrays: the encoder loops over indexes, with no tuple unpacking
// and no string switch per field (replay encodes every record it sends).
const FIXED_NAMES: readonly string[] = FIXED_FIELDS.map(([name]) => name);
const FIXED_KINDS: readonly number[] = FIXED_FIELDS.map(([, kind]) =>
  ["u32", "u32be", "u16", "u64", "i8", "char"].indexOf(kind)
);
const FIXED_WIDTHS: readonly number[] = FIXED_FIELDS.map(([, , width]) => width);
const TAIL_NAMES: readonly string[] = TAIL_FIELDS.map(([name]) => name);
const TAIL_STRING: readonly boolean[] = TAIL_FIELDS.map(([, kind]) => kind === "str");
/** The tail values of the record being encoded (this module is not re-entered meanwhile). */
const tails: (string | Uint8Array)[] = new Array(TAIL_NAMES.length);

/** The string as UTF-8 bytes, or the string itself when it is ASCII (written without copying). */
function bytesOf(value: string): string | Uint8Array {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) >= 0x80) return utf8.encode(value);
  }
  return value;
}

function put(out: Uint8Array, at: number, value: string | Uint8Array, limit: number): void {
  if (typeof value !== "string") {
    out.set(value.length > limit ? value.subarray(0, limit) : value, at);
    return;
  }
  const n = Math.min(value.length, limit);
  for (let i = 0; i < n; i++) out[at + i] = value.charCodeAt(i);
}

function putU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
}

/**
 * Encodes a record into the wire body. char[N] values longer than N bytes are cut at N (what a
 * proxy would send); `remote_addr` is appended as the extension field only when set. ASCII
 * values (nearly all) are written byte by byte: a TextEncoder call per field would dominate
 * replay, which encodes every record it sends.
 */
export function encodeRecord(record: HttpRecord): Uint8Array {
  const out = new Uint8Array(encodedSize(record));
  writeBody(record, out, 0);
  return out;
}

/**
 * Encodes a record into `out` at `offset` (a batch of bodies in one buffer, without an
 * allocation per record) and returns the offset after it, or -1 when it does not fit (nothing
 * is written then). The bytes are those of {@linkcode encodeRecord}.
 */
export function encodeRecordInto(record: HttpRecord, out: Uint8Array, offset: number): number {
  const size = encodedSize(record);
  if (offset + size > out.length) return -1;
  writeBody(record, out, offset);
  return offset + size;
}

/** The body's size; leaves the tail strings (as bytes when not ASCII) in `tails`. */
function encodedSize(record: HttpRecord): number {
  const fields = record as unknown as Record<string, unknown>;
  let size = FIXED_SIZE;
  for (let f = 0; f < TAIL_NAMES.length; f++) {
    size += 4;
    if (!TAIL_STRING[f]) continue;
    const value = fields[TAIL_NAMES[f]!] as string;
    const bytes = value.length === 0 ? value : bytesOf(value);
    tails[f] = bytes;
    size += bytes.length;
  }
  if (record.remote_addr) size += 4 + bytesOf(record.remote_addr).length;
  return size;
}

/** Writes the body sized by the encodedSize() call just before. */
function writeBody(record: HttpRecord, out: Uint8Array, offset: number): void {
  const fields = record as unknown as Record<string, unknown>;
  // char[N] fields are NUL-padded: the fixed part starts from zeros even in a reused buffer.
  out.fill(0, offset, offset + FIXED_SIZE);
  let pos = offset;
  for (let f = 0; f < FIXED_NAMES.length; f++) {
    const value = fields[FIXED_NAMES[f]!];
    switch (FIXED_KINDS[f]) {
      case 0: // u32
        putU32(out, pos, value as number);
        break;
      case 1: { // u32be
        const n = value as number;
        out[pos] = n >>> 24;
        out[pos + 1] = n >>> 16;
        out[pos + 2] = n >>> 8;
        out[pos + 3] = n;
        break;
      }
      case 2: // u16
        out[pos] = value as number;
        out[pos + 1] = (value as number) >>> 8;
        break;
      case 3: // u64
        if (value !== 0n) {
          new DataView(out.buffer, out.byteOffset).setBigUint64(pos, value as bigint, true);
        }
        break;
      case 4: // i8
        out[pos] = value as number;
        break;
      case 5: // char
        if ((value as string).length > 0) put(out, pos, bytesOf(value as string), FIXED_WIDTHS[f]!);
        break;
    }
    pos += FIXED_WIDTHS[f]!;
  }
  for (let f = 0; f < TAIL_NAMES.length; f++) {
    if (!TAIL_STRING[f]) {
      putU32(out, pos, fields[TAIL_NAMES[f]!] as number);
      pos += 4;
      continue;
    }
    const bytes = tails[f]!;
    putU32(out, pos, bytes.length);
    put(out, pos + 4, bytes, bytes.length);
    pos += 4 + bytes.length;
  }
  if (record.remote_addr) {
    const extension = bytesOf(record.remote_addr);
    putU32(out, pos, extension.length);
    put(out, pos + 4, extension, extension.length);
  }
}
