import { FIXED_FIELDS, FIXED_SIZE, type HttpRecord, TAIL_FIELDS } from "./record.ts";

const utf8 = new TextEncoder();

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

/**
 * Encodes a record into the wire body. char[N] values longer than N bytes are cut at N (what a
 * proxy would send); `remote_addr` is appended as the extension field only when set. ASCII
 * values (nearly all) are written byte by byte: a TextEncoder call per field would dominate
 * replay, which encodes every record it sends.
 */
export function encodeRecord(record: HttpRecord): Uint8Array {
  const tails: (string | Uint8Array)[] = [];
  let size = FIXED_SIZE;
  for (const [name, kind] of TAIL_FIELDS) {
    if (kind === "str") {
      const bytes = bytesOf(record[name]);
      tails.push(bytes);
      size += 4 + bytes.length;
    } else {
      size += 4;
    }
  }
  const extension = record.remote_addr ? bytesOf(record.remote_addr) : undefined;
  if (extension !== undefined) size += 4 + extension.length;

  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const [name, kind, width] of FIXED_FIELDS) {
    const value = record[name];
    switch (kind) {
      case "u32":
        view.setUint32(pos, value as number, true);
        break;
      case "u32be":
        view.setUint32(pos, value as number, false);
        break;
      case "u16":
        view.setUint16(pos, value as number, true);
        break;
      case "u64":
        view.setBigUint64(pos, value as bigint, true);
        break;
      case "i8":
        view.setInt8(pos, value as number);
        break;
      case "char":
        put(out, pos, bytesOf(value as string), width);
        break;
    }
    pos += width;
  }
  let next = 0;
  for (const [name, kind] of TAIL_FIELDS) {
    if (kind === "str") {
      const bytes = tails[next++]!;
      view.setUint32(pos, bytes.length, true);
      put(out, pos + 4, bytes, bytes.length);
      pos += 4 + bytes.length;
    } else {
      view.setUint32(pos, record[name], true);
      pos += 4;
    }
  }
  if (extension !== undefined) {
    view.setUint32(pos, extension.length, true);
    put(out, pos + 4, extension, extension.length);
  }
  return out;
}
