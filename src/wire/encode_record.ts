import { FIXED_FIELDS, FIXED_SIZE, type HttpRecord, TAIL_FIELDS } from "./record.ts";

const utf8 = new TextEncoder();

/**
 * Encodes a record into the wire body. char[N] values longer than N bytes are cut at N (what a
 * proxy would send); `remote_addr` is appended as the extension field only when set.
 */
export function encodeRecord(record: HttpRecord): Uint8Array {
  const tails: Uint8Array[] = [];
  let size = FIXED_SIZE;
  for (const [name, kind] of TAIL_FIELDS) {
    if (kind === "str") {
      const bytes = utf8.encode(record[name]);
      tails.push(bytes);
      size += 4 + bytes.length;
    } else {
      size += 4;
    }
  }
  const extension = record.remote_addr ? utf8.encode(record.remote_addr) : undefined;
  if (extension) size += 4 + extension.length;

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
      case "char": {
        const bytes = utf8.encode(value as string);
        out.set(bytes.subarray(0, width), pos);
        break;
      }
    }
    pos += width;
  }
  let next = 0;
  for (const [name, kind] of TAIL_FIELDS) {
    if (kind === "str") {
      const bytes = tails[next++]!;
      view.setUint32(pos, bytes.length, true);
      out.set(bytes, pos + 4);
      pos += 4 + bytes.length;
    } else {
      view.setUint32(pos, record[name], true);
      pos += 4;
    }
  }
  if (extension) {
    view.setUint32(pos, extension.length, true);
    out.set(extension, pos + 4);
  }
  return out;
}
