/** The first frame of a record message: `http:<domain_id>:` (trailing colon optional). */
const PREFIX = [0x68, 0x74, 0x74, 0x70, 0x3a]; // "http:"
const COLON = 0x3a;
const utf8 = new TextEncoder();

/**
 * Domain id from a header frame (`http:` then 1 to 10 decimal digits, then an optional `:`),
 * or undefined when the frame is not a valid header. Read byte by byte: it runs for every
 * message, and a TextDecoder call plus a regex cost more than the rest of the routing.
 */
export function decodeHeader(frame: Uint8Array): number | undefined {
  let end = frame.length;
  if (end > 0 && frame[end - 1] === COLON) end--;
  const digits = end - PREFIX.length;
  if (digits < 1 || digits > 10) return undefined;
  for (let i = 0; i < PREFIX.length; i++) if (frame[i] !== PREFIX[i]) return undefined;
  let id = 0;
  for (let i = PREFIX.length; i < end; i++) {
    const digit = frame[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    id = id * 10 + digit;
  }
  return id <= 0xffffffff ? id : undefined;
}

/** The header frame for a domain. */
export function encodeHeader(domainId: number): Uint8Array {
  return utf8.encode(`http:${domainId}:`);
}
