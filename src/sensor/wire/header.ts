/** The first frame of a record message: `http:<domain_id>:` (trailing colon optional). */
const HEADER_RE = /^http:(\d{1,10}):?$/;

const latin1 = new TextDecoder("latin1");
const utf8 = new TextEncoder();

/** Domain id from a header frame, or undefined when the frame is not a valid header. */
export function decodeHeader(frame: Uint8Array): number | undefined {
  if (frame.length > 20) return undefined;
  const match = HEADER_RE.exec(latin1.decode(frame));
  if (!match) return undefined;
  const id = Number(match[1]);
  return id <= 0xffffffff ? id : undefined;
}

/** The header frame for a domain. */
export function encodeHeader(domainId: number): Uint8Array {
  return utf8.encode(`http:${domainId}:`);
}
