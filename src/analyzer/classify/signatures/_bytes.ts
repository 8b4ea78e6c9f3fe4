/** Byte helpers shared by the signatures: ASCII comparisons and line scanning on raw payload. */

/** True when `buf` holds the ASCII text `text` at `offset`. */
export function asciiAt(buf: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > buf.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (buf[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** Like {@linkcode asciiAt}, ignoring the case of ASCII letters (`text` in lower case). */
export function asciiAtIgnoreCase(buf: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > buf.length) return false;
  for (let i = 0; i < text.length; i++) {
    let c = buf[offset + i]!;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** Index of the first LF at or after `from`, or -1. */
export function indexOfLf(buf: Uint8Array, from = 0, end = buf.length): number {
  for (let i = from; i < end; i++) if (buf[i] === 10) return i;
  return -1;
}

/** Index just past the first blank line (`\r\n\r\n` or `\n\n`) that ends a header block, or -1. */
export function headerEnd(buf: Uint8Array): number {
  for (let i = 1; i < buf.length; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i - 1] === 10) return i + 1;
    if (buf[i - 1] === 13 && i >= 3 && buf[i - 2] === 10) return i + 1;
  }
  return -1;
}

/** Latin-1 text of `buf[start, end)` (header bytes are octets; no UTF-8 decoding surprises). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/** The complete lines (without CR/LF) at the start of `buf`, at most `max` of them. */
export function completeLines(buf: Uint8Array, max = 16): string[] {
  const lines: string[] = [];
  let start = 0;
  while (lines.length < max) {
    const lf = indexOfLf(buf, start);
    if (lf < 0) break;
    const end = lf > start && buf[lf - 1] === 13 ? lf - 1 : lf;
    lines.push(latin1(buf, start, end));
    start = lf + 1;
  }
  return lines;
}

/** True when every byte of `buf[start, end)` is printable ASCII or a tab. */
export function printable(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if ((c < 32 && c !== 9) || c > 126) return false;
  }
  return true;
}

/** Big-endian 16-bit value at `offset` (caller checks bounds). */
export function u16(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

/** Big-endian 32-bit value at `offset` (caller checks bounds). */
export function u32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) |
    buf[offset + 3]!) >>> 0;
}

/** A DNS-style host name check: letters, digits, hyphen, underscore, dots; 1..253 characters. */
export function isHostName(name: string): boolean {
  return name.length > 0 && name.length <= 253 &&
    /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$/.test(name);
}
